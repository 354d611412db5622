"""GSS-API framing: RFC 2743 §3.1, RFC 4121 §4.1."""

from __future__ import annotations

from ....der import (
    decode_initial_context_token,
    encode_initial_context_token,
)
from ....errors import DecodeError, InvalidParameter
from .codec import _bytes


def gss_wrap_token(oid: str, tok_id: bytes, body: bytes) -> bytes:
    """Frame a context token: ``0x60 len | 06 len OID | TOK_ID (2 bytes) | body``.

    RFC 4121 §4.1: the AP-REQ (TOK_ID ``01 00``), AP-REP (``02 00``) and KRB-ERROR (``03 00``)
    tokens of the Kerberos mechanism carry this framing; ``oid`` is normally :data:`KRB5_OID`.
    """
    if len(tok_id) != 2:
        raise InvalidParameter(f"TOK_ID is 2 bytes, not {len(tok_id)}.")
    return encode_initial_context_token(oid, bytes(tok_id) + bytes(body))


def gss_unwrap_token(
    data: bytes, *, expect_oid: str | None = None, expect_tok_id: bytes | None = None
) -> tuple[str, bytes, bytes]:
    """Split a framed context token into ``(oid, tok_id, body)``.

    Raises:
        DecodeError: not RFC 2743 framed, no room for a TOK_ID, or (when given) another OID
            or TOK_ID than expected.
    """
    oid, inner = decode_initial_context_token(_bytes(data))
    if len(inner) < 2:
        raise DecodeError("GSS token: no room for the 2-byte TOK_ID after the mechanism OID.")
    if expect_oid is not None and oid != expect_oid:
        raise DecodeError(f"GSS token: mechanism {oid}, expected {expect_oid}.")
    tok_id = inner[:2]
    if expect_tok_id is not None and tok_id != expect_tok_id:
        raise DecodeError(f"GSS token: TOK_ID {tok_id.hex()}, expected {expect_tok_id.hex()}.")
    return oid, tok_id, inner[2:]
