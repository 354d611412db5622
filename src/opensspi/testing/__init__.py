"""Helpers for tests and demonstrations: opensspi's own peers, run in-process on 127.0.0.1.

Nothing here is for production. :mod:`opensspi.testing.kdc` is a small Kerberos KDC whose realm
database lives in memory (keys included); it lets opensspi's Kerberos client and acceptor — or
MIT's ``kinit`` — authenticate without a real domain, the way the demonstration uses opensspi's
own NTLM and Digest acceptors.
"""

from __future__ import annotations

__all__: list[str] = []
