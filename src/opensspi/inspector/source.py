"""Turn what a user pastes into token bytes: base64, hex, a file, stdin, or an HTTP header.

Accepted forms (surrounding white space ignored):

- a header line ``WWW-Authenticate: ...``, ``Authorization: ...``, ``Proxy-Authenticate: ...``,
  ``Proxy-Authorization: ...`` or ``Authentication-Info: ...``; the header name is dropped;
- a header value ``Negotiate <base64>``, ``NTLM <base64>``, ``Kerberos <base64>``: the scheme
  word is dropped and the rest decoded;
- a Digest value (``Digest realm=...``) or bare directives (``realm="...", nonce="..."``): kept
  as text, for the Digest decoders;
- hex (pairs of hex digits, spaces and colons allowed), else base64 (standard or URL-safe,
  padding optional).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from .model import InspectError

_HEADERS = (
    "www-authenticate",
    "authorization",
    "proxy-authenticate",
    "proxy-authorization",
    "authentication-info",
    "proxy-authentication-info",
)
_BASE64_SCHEMES = ("negotiate", "ntlm", "kerberos")
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2}[\s:]*)+$")
_B64 = re.compile(r"^[A-Za-z0-9+/_\-\s]+={0,2}\s*$")
# name=value (not a base64 string's "=" padding, which ends the input or doubles)
_DIRECTIVE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9_-]*\*?\s*=\s*[^=\s]")


@dataclass(frozen=True, slots=True)
class TokenInput:
    """Decoded input: ``data`` (bytes; Digest text as UTF-8), where it came from, and hints."""

    data: bytes
    header: str | None = None
    scheme: str | None = None
    text: bool = False


def decode_text(text: str) -> TokenInput:
    """Decode a pasted token (see the module docstring).

    Raises:
        InspectError: nothing to decode, or neither hex nor base64.
    """
    value = text.strip()
    header: str | None = None
    name, colon, rest = value.partition(":")
    if colon and name.strip().lower() in _HEADERS:
        header = name.strip().lower()
        value = rest.strip()
    if not value:
        raise InspectError("The input is empty: pass a token (base64 or hex), a header value, "
                           "a file name, or - for stdin.")
    scheme, space, rest = value.partition(" ")
    lowered = scheme.lower().rstrip(",")
    if lowered == "digest":
        return TokenInput(value.encode("utf-8"), header, "Digest", text=True)
    if space and lowered in _BASE64_SCHEMES:
        return TokenInput(_base64(rest.strip()), header, scheme)
    if lowered in _BASE64_SCHEMES:
        raise InspectError(f"The {scheme} header value carries no token after the scheme word.")
    if _DIRECTIVE.match(value):
        return TokenInput(value.encode("utf-8"), header, None, text=True)
    if _HEX.match(value):
        return TokenInput(bytes.fromhex(re.sub(r"[\s:]", "", value)), header)
    return TokenInput(_base64(value), header)


def _base64(value: str) -> bytes:
    if not _B64.match(value):
        raise InspectError("The input is neither hex nor base64 nor a known header value.")
    compact = re.sub(r"\s", "", value)
    compact += "=" * (-len(compact) % 4)
    try:
        if "-" in compact or "_" in compact:
            return base64.urlsafe_b64decode(compact)
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InspectError(f"The input is not valid base64: {exc}.") from None


def decode_bytes(raw: bytes) -> TokenInput:
    """Decode file or stdin contents: text forms as in :func:`decode_text`, else raw bytes."""
    if raw.startswith((b"NTLMSSP\0", b"\x60", b"\xa0", b"\xa1")) or not raw.strip():
        return TokenInput(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return TokenInput(raw)
    if any(ch < " " and ch not in "\r\n\t" for ch in text):
        return TokenInput(raw)
    return decode_text(text)
