"""Header values as the Digest package takes them: ``str`` or bytes, one rule for both.

HTTP clients hand header values over as ``str`` (requests and httpx decode them as ISO-8859-1,
RFC 9110 §5.5), servers and sockets as bytes. Every Digest entry point that takes a challenge,
a response or a request parameter accepts either and turns it into the bytes on the wire with
:func:`header_bytes`; every token the package returns is ``bytes``.

Encoding a ``str``: ISO-8859-1 when every character fits — this restores exactly the bytes
requests and httpx decoded, including UTF-8 user names (RFC 7616 §4, ``charset=UTF-8``) that
arrived as mojibake — else UTF-8 (a value typed by a person, such as a URI with non-Latin
characters).
"""

from __future__ import annotations

from ...errors import InvalidParameter

__all__ = ["header_bytes", "header_text"]


def header_bytes(value: str | bytes | bytearray | memoryview, what: str = "header value") -> bytes:
    """``value`` as wire bytes (see the module docstring for the rule on ``str``).

    Raises:
        InvalidParameter: ``value`` is neither text nor bytes-like.
    """
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise InvalidParameter(f"The Digest {what} must be str or bytes, not {type(value).__name__}.")


def header_text(value: str | bytes | bytearray | memoryview, what: str = "header value") -> str:
    """``value`` as text: a ``str`` unchanged, bytes decoded as UTF-8."""
    if isinstance(value, str):
        return value
    try:
        return header_bytes(value, what).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter(f"The Digest {what} is not UTF-8 text.") from None
