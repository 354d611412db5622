"""The token inspector behind ``opensspi inspect`` and ``opensspi klist``.

An integration (the top layer): it reads tokens with the packages' own message parsers and adds
no runtime dependency. It recognises NTLM (MS-NLMP 2.2.1), SPNEGO (RFC 4178, MS-SPNG), Kerberos
(RFC 4120 messages, raw or GSS-framed per RFC 4121 §4.1), GSS MIC/Wrap tokens (RFC 4121 §4.2.6,
RFC 1964/4757), Digest (RFC 7616, RFC 2831) and TLS records, and reports every field by name::

    from opensspi.inspector import decode_text, inspect_input, render_text
    token = decode_text("NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==")
    print(render_text(inspect_input(token)))

Checks (NTLM NTProofStr and MIC, Kerberos ticket decryption with a keytab) take their secrets in
:class:`Secrets`; no key or password ever appears in a report.
"""

from __future__ import annotations

from .core import Secrets, find_ntlm, inspect_bytes, inspect_input
from .kerberos import KerberosSecrets
from .model import Flags, Hex, InspectError, Named, Report, dumps, render_text, to_json
from .ntlm import NtlmSecrets
from .source import TokenInput, decode_bytes, decode_text

__all__ = [
    "Flags",
    "Hex",
    "InspectError",
    "KerberosSecrets",
    "Named",
    "NtlmSecrets",
    "Report",
    "Secrets",
    "TokenInput",
    "decode_bytes",
    "decode_text",
    "dumps",
    "failed_checks",
    "find_ntlm",
    "inspect_bytes",
    "inspect_input",
    "render_text",
    "to_json",
]


def failed_checks(report: object) -> list[str]:
    """The check results in ``report`` that failed (``INVALID ...``, ``decryption failed ...``)."""
    found: list[str] = []
    if isinstance(report, dict):
        for value in report.values():
            found += failed_checks(value)
    elif isinstance(report, list):
        for value in report:
            found += failed_checks(value)
    elif isinstance(report, str) and report.startswith(("INVALID", "decryption failed")):
        found.append(report)
    return found
