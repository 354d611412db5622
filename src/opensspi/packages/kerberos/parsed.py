"""Parsed files, reused while their bytes are the same: krb5.conf, keytabs, ccaches.

pywin32's ``sspi.ClientAuth`` / ``ServerAuth`` (and many SSPI programs) acquire credentials
for every connection, and each acquisition read and parsed krb5.conf, the keytab or the
ccache again: milliseconds per connection, more than the whole Kerberos handshake. The files
are still read every time (so a changed file is seen at once, as before); only the parsing is
skipped when the bytes hash to what was parsed last. The parsed objects are immutable.

Entries are keyed by a SHA-256 of the bytes (the keytab's keys are not kept twice in memory),
at most :data:`LIMIT` per kind, the oldest dropped first. Thread-safe.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

__all__ = ["LIMIT", "clear", "parsed"]

T = TypeVar("T")
LIMIT = 16
_lock = threading.Lock()
_memo: OrderedDict[tuple[str, Hashable], object] = OrderedDict()


def parsed(kind: str, key: Hashable, parse: Callable[[], T]) -> T:
    """``parse()``'s result for ``(kind, key)``, from the memo when the same key was parsed."""
    slot = (kind, key)
    with _lock:
        found = _memo.get(slot)
        if found is not None:
            _memo.move_to_end(slot)
            return found  # type: ignore[return-value]
    value = parse()
    with _lock:
        _memo[slot] = value
        kinds = [k for k in _memo if k[0] == kind]
        for old in kinds[: max(0, len(kinds) - LIMIT)]:
            del _memo[old]
    return value


def digest(data: bytes) -> bytes:
    """The key for a file's bytes."""
    return hashlib.sha256(data).digest()


def clear() -> None:
    """Forget every parsed file (tests)."""
    with _lock:
        _memo.clear()
