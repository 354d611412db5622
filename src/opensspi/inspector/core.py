"""Recognise a token and dispatch it to its decoder; SPNEGO and GSS framing live here because
they wrap the others (their inner tokens are inspected recursively).

SPNEGO: RFC 4178 §4.2 and MS-SPNG 2.2.1 (NegTokenInit, NegTokenInit2, NegTokenResp), decoded by
:mod:`opensspi.packages.negotiate.asn1`. GSS framing: RFC 2743 §3.1 (``0x60``, mechanism OID,
then the mechanism's token; for Kerberos a 2-byte TOK_ID first, RFC 4121 §4.1).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..der import decode_initial_context_token
from ..errors import DecodeError, SspiError
from ..packages.negotiate import asn1 as spnego
from .digest import inspect_digest
from .kerberos import (
    KERBEROS_TAGS,
    TOK_IDS,
    KerberosSecrets,
    inspect_kerberos,
    inspect_legacy_per_message,
    inspect_per_message,
)
from .model import Hex, InspectError, Report, flags, named
from .ntlm import NtlmSecrets, inspect_ntlm
from .source import TokenInput
from .tls import inspect_tls, is_tls_record

MECH_NAMES = {
    spnego.SPNEGO_OID: "SPNEGO",
    spnego.KRB5_OID: "Kerberos 5",
    spnego.MS_KRB5_OID: "Kerberos 5 (Microsoft OID)",
    spnego.NTLMSSP_OID: "NTLMSSP",
    spnego.NEGOEX_OID: "NegoEx",
    "1.2.840.113554.1.2.2.3": "Kerberos 5 user-to-user",
    "1.3.6.1.5.2.5": "IAKERB",
}
_KRB_OIDS = (spnego.KRB5_OID, spnego.MS_KRB5_OID, "1.2.840.113554.1.2.2.3")
_MAX_DEPTH = 4


@dataclass(frozen=True, slots=True)
class Secrets:
    """Everything the checks may use; never part of any report."""

    ntlm: NtlmSecrets | None = None
    kerberos: KerberosSecrets | None = None


def mech(oid: str) -> str:
    name = MECH_NAMES.get(oid)
    return f"{oid} ({name})" if name else f"{oid} (unknown)"


def inspect_input(token: TokenInput, secrets: Secrets | None = None) -> Report:
    """Inspect decoded input; every failure becomes :class:`InspectError` with one line."""
    try:
        report = inspect_bytes(token.data, secrets, header=token.header, text=token.text)
    except InspectError:
        raise
    except (DecodeError, SspiError, ValueError, struct.error, UnicodeError) as exc:
        raise InspectError(_one_line(str(exc))) from None
    http: Report = {}
    if token.header:
        http["header"] = token.header
    if token.scheme:
        http["scheme"] = token.scheme
    if http:
        report = {"http": http, **report}
    return report


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "malformed token"


def inspect_bytes(data: bytes, secrets: Secrets | None = None, *, header: str | None = None,
                  text: bool = False, depth: int = 0) -> Report:
    """Recognise ``data`` and decode it. Raises DecodeError (or InspectError) when it is not a
    token the inspector knows or is malformed."""
    if depth > _MAX_DEPTH:
        raise DecodeError("Tokens nested too deeply.")
    if not data:
        raise InspectError("The token is empty.")
    if text:
        return inspect_digest(data, header)
    if data.startswith(b"NTLMSSP\0"):
        return inspect_ntlm(data, secrets.ntlm if secrets else None)
    first = data[0]
    if first == 0x60:
        return _framed(data, secrets, depth)
    if first in (0xA0, 0xA1):
        return _spnego(spnego.decode_token(data), data, secrets, depth, framed=False)
    if first in KERBEROS_TAGS:
        return inspect_kerberos(data, secrets.kerberos if secrets else None)
    if data[:2] in (b"\x04\x04", b"\x05\x04"):
        return inspect_per_message(data)
    if is_tls_record(data):
        return inspect_tls(data)
    if len(data) > 4 and int.from_bytes(data[:4], "big") == len(data) - 4 and (
        data[4] in KERBEROS_TAGS
    ):
        report = inspect_kerberos(data[4:], secrets.kerberos if secrets else None)
        return {"framing": "TCP record marker (RFC 4120 7.2.2)", **report}
    if _looks_like_text(data):
        return inspect_digest(data, header)
    raise InspectError(
        f"Unrecognised token ({len(data)} bytes, starting {data[:8].hex()}): not NTLM, SPNEGO, "
        "Kerberos, a GSS per-message token, Digest or a TLS record.")


def _looks_like_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "=" in text and text.isprintable()


def _framed(data: bytes, secrets: Secrets | None, depth: int) -> Report:
    oid, inner = decode_initial_context_token(data)
    head: Report = {"framing": "GSS InitialContextToken (RFC 2743 3.1)", "length": len(data),
                    "mech": mech(oid)}
    if oid == spnego.SPNEGO_OID:
        token = spnego.decode_token(inner)
        return {**head, **_spnego(token, inner, secrets, depth, framed=True)}
    if oid in _KRB_OIDS:
        if len(inner) < 2:
            raise DecodeError("GSS token: no room for the 2-byte TOK_ID after the mechanism OID.")
        tok_id, body = inner[:2], inner[2:]
        head["tok_id"] = f"{tok_id.hex()} ({TOK_IDS.get(tok_id, 'unknown')})"
        if tok_id in (b"\x01\x01", b"\x02\x01"):
            return {**head, **inspect_legacy_per_message(tok_id, body)}
        if tok_id in (b"\x04\x00", b"\x04\x01"):
            return {**head, "body_length": len(body)}
        return {**head, **inspect_kerberos(body, secrets.kerberos if secrets else None)}
    if oid == spnego.NTLMSSP_OID:
        return {**head, **inspect_ntlm(inner, secrets.ntlm if secrets else None)}
    return {**head, "inner_length": len(inner), "inner": Hex(inner[:64])}


def _inner(token: bytes | None, secrets: Secrets | None, depth: int) -> Report | None:
    if token is None:
        return None
    return inspect_bytes(token, secrets, depth=depth + 1)


def _spnego(token: spnego.NegTokenInit | spnego.NegTokenInit2 | spnego.NegTokenResp,
            raw: bytes, secrets: Secrets | None, depth: int, *, framed: bool) -> Report:
    if isinstance(token, spnego.NegTokenResp):
        return {
            "type": "SPNEGO NegTokenResp (RFC 4178 4.2.2)",
            "neg_state": None if token.neg_state is None else named(token.neg_state,
                                                                     spnego.NegState),
            "supported_mech": None if token.supported_mech is None else mech(
                token.supported_mech),
            "response_token": _inner(token.response_token, secrets, depth),
            "mech_list_mic": None if token.mech_list_mic is None else Hex(token.mech_list_mic),
        }
    report: Report = {
        "type": ("SPNEGO NegTokenInit2 (MS-SPNG 2.2.1)" if isinstance(token, spnego.NegTokenInit2)
                 else "SPNEGO NegTokenInit (RFC 4178 4.2.1)"),
        "mech_types": [mech(oid) for oid in token.mech_types],
        "req_flags": None if token.req_flags is None else flags(token.req_flags,
                                                                 spnego.ContextFlags, 2),
        "mech_token": _inner(token.mech_token, secrets, depth),
    }
    if isinstance(token, spnego.NegTokenInit2) and token.neg_hints is not None:
        report["neg_hints"] = {"hint_name": token.neg_hints.hint_name,
                               "hint_address": None if token.neg_hints.hint_address is None
                               else Hex(token.neg_hints.hint_address)}
    report["mech_list_mic"] = None if token.mech_list_mic is None else Hex(token.mech_list_mic)
    return report


def find_ntlm(data: bytes, depth: int = 0) -> bytes:
    """The NTLM message in ``data``: itself, or the one inside SPNEGO/GSS wrapping.

    Raises:
        DecodeError: there is no NTLM message in it.
    """
    if data.startswith(b"NTLMSSP\0"):
        return data
    if depth < _MAX_DEPTH and data[:1] == b"\x60":
        oid, inner = decode_initial_context_token(data)
        if oid in (spnego.SPNEGO_OID, spnego.NTLMSSP_OID):
            return find_ntlm(inner, depth + 1)
    if depth < _MAX_DEPTH and data[:1] in (b"\xa0", b"\xa1"):
        token = spnego.decode_token(data)
        wrapped = (token.response_token if isinstance(token, spnego.NegTokenResp)
                   else token.mech_token)
        if wrapped is not None:
            return find_ntlm(wrapped, depth + 1)
    raise DecodeError("The token holds no NTLM message.")
