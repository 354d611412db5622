"""GSS-API framing: RFC 2743 §3.1, RFC 4121 §4.1."""

from __future__ import annotations

from ....der import (
    decode_initial_context_token,
    encode_length,
    encode_oid,
)
from ....errors import DecodeError, InvalidParameter
from .codec import _bytes, _exact
from .oids import KRB5_OID, MS_KRB5_OID, U2U_OID

# The mechanism OIDs a Kerberos token carries, by their encoded contents (for the fast path).
_KNOWN_OIDS = {encode_oid(oid)[2:]: oid for oid in (KRB5_OID, MS_KRB5_OID, U2U_OID)}


def gss_wrap_token(oid: str, tok_id: bytes, body: bytes) -> bytes:
    """Frame a context token: ``0x60 len | 06 len OID | TOK_ID (2 bytes) | body``.

    RFC 4121 §4.1: the AP-REQ (TOK_ID ``01 00``), AP-REP (``02 00``) and KRB-ERROR (``03 00``)
    tokens of the Kerberos mechanism carry this framing; ``oid`` is normally :data:`KRB5_OID`.
    """
    if len(tok_id) != 2:
        raise InvalidParameter(f"TOK_ID is 2 bytes, not {len(tok_id)}.")
    mech = encode_oid(oid)
    # encode_initial_context_token's bytes, with one join instead of three copies of the body.
    return b"".join((b"\x60", encode_length(len(mech) + 2 + len(body)), mech, tok_id, body))


def gss_unwrap_token(
    data: bytes, *, expect_oid: str | None = None, expect_tok_id: bytes | None = None
) -> tuple[str, bytes, bytes]:
    """Split a framed context token into ``(oid, tok_id, body)``.

    Raises:
        DecodeError: not RFC 2743 framed, no room for a TOK_ID, or (when given) another OID
            or TOK_ID than expected.
    """
    data = _bytes(data)
    end = len(data)
    found: str | None = None
    # Fast path: a minimal outer length spanning the token and one of the Kerberos OIDs (a
    # known, valid encoding); anything else takes the general decoder, which names the fault.
    if end > 4 and data[0] == 0x60:
        start = _exact(data, 1, end)
        if start > 0 and start + 2 <= end and data[start] == 0x06 and data[start + 1] < 0x80:
            oid_end = start + 2 + data[start + 1]
            if oid_end + 2 <= end:
                found = _KNOWN_OIDS.get(data[start + 2 : oid_end])
    if found is not None:
        oid, tok_id, body = found, data[oid_end : oid_end + 2], data[oid_end + 2 :]
    else:
        oid, inner = decode_initial_context_token(data)
        if len(inner) < 2:
            raise DecodeError("GSS token: no room for the 2-byte TOK_ID after the mechanism OID.")
        tok_id, body = inner[:2], inner[2:]
    if expect_oid is not None and oid != expect_oid:
        raise DecodeError(f"GSS token: mechanism {oid}, expected {expect_oid}.")
    if expect_tok_id is not None and tok_id != expect_tok_id:
        raise DecodeError(f"GSS token: TOK_ID {tok_id.hex()}, expected {expect_tok_id.hex()}.")
    return oid, tok_id, body
