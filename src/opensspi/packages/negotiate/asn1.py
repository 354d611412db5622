"""SPNEGO tokens in ASN.1 DER: RFC 4178 §4.2 and MS-SPNG 2.2.

NegTokenInit (RFC 4178 §4.2.1), NegTokenResp (§4.2.2), the NegotiationToken CHOICE, the RFC 2743
§3.1 framing of the initiator's first token (OID 1.3.6.1.5.5.2), and MS-SPNG 2.2.1's
NegTokenInit2 with ``negHints`` (https://www.rfc-editor.org/rfc/rfc4178#section-4.2,
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-spng/).

Rules of this module:

- Each token is a frozen, slotted dataclass with ``build()`` (the bare NegotiationToken:
  ``a0 ...`` or ``a1 ...``) and ``classmethod parse(data)``; the init tokens also have
  ``to_token()`` / ``from_token()`` for the ``0x60``-framed form the initiator's first token
  (and a server's unsolicited NegTokenInit2) uses. :func:`decode_token` accepts any of them.
- ``mech_types_raw`` is the DER ``MechTypeList`` exactly as received (or as encoded once when
  built): mechListMIC is computed over those bytes (RFC 4178 §5), so they are never re-encoded.
- Parsing raises only :class:`~opensspi.errors.DecodeError`; trailing bytes are an error.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from enum import IntEnum, IntFlag
from typing import Any

from ...der import (
    BIT_STRING,
    OBJECT_IDENTIFIER,
    OCTET_STRING,
    SEQUENCE,
    Field,
    decode_initial_context_token,
    decode_named_bits,
    decode_oid,
    encode_enumerated,
    encode_fields,
    encode_initial_context_token,
    encode_kerberos_string,
    encode_length,
    encode_named_bits,
    encode_octet_string,
    encode_oid,
    encode_sequence_of,
    encode_tlv,
    get_enumerated,
    get_kerberos_string,
    get_octet_string,
    get_oid,
    read_fields,
    read_sequence_of,
    tag_name,
    unwrap,
)
from ...errors import DecodeError

__all__ = [
    "KRB5_OID",
    "MS_KRB5_OID",
    "NEGOEX_OID",
    "NTLMSSP_OID",
    "SPNEGO_OID",
    "ContextFlags",
    "NegHints",
    "NegState",
    "NegTokenInit",
    "NegTokenInit2",
    "NegTokenResp",
    "decode_token",
    "init_token",
    "known_init",
    "remember_init",
]

SPNEGO_OID = "1.3.6.1.5.5.2"
"""The SPNEGO pseudo-mechanism, RFC 4178 §3."""

KRB5_OID = "1.2.840.113554.1.2.2"
MS_KRB5_OID = "1.2.840.48018.1.2.2"
NTLMSSP_OID = "1.3.6.1.4.1.311.2.2.10"
NEGOEX_OID = "1.3.6.1.4.1.311.2.2.30"
"""Mechanism OIDs seen in MechTypeLists (Kerberos, Windows' Kerberos, NTLM, NegoEx)."""

_INIT = 0xA0
_RESP = 0xA1
_FRAMED = 0x60


class NegState(IntEnum):
    """``negState`` of NegTokenResp, RFC 4178 §4.2.2."""

    ACCEPT_COMPLETED = 0
    ACCEPT_INCOMPLETE = 1
    REJECT = 2
    REQUEST_MIC = 3


class ContextFlags(IntFlag):
    """``ContextFlags`` of NegTokenInit, RFC 4178 §4.2.1: named bit ``n`` is ``1 << n``, which
    are also the GSS_C_*_FLAG values of RFC 2744."""

    DELEG_FLAG = 0x01
    MUTUAL_FLAG = 0x02
    REPLAY_FLAG = 0x04
    SEQUENCE_FLAG = 0x08
    ANON_FLAG = 0x10
    CONF_FLAG = 0x20
    INTEG_FLAG = 0x40


def _bytes(data: bytes) -> bytes:
    return data if type(data) is bytes else bytes(data)


_MECH_TYPES_DER: dict[tuple[str, ...], bytes] = {}
_MECH_TYPES_OF: dict[bytes, tuple[str, ...]] = {}
_OID_OF: dict[bytes, str] = {}
"""DER MechTypeLists and OIDs both ways, remembered: a process sends and receives the same
few lists (Kerberos, NTLM, the MS Kerberos OID) on every handshake. Pure functions of their
keys; each memo starts over past 32 entries."""


def _remember(memo: dict[Any, Any], key: object, value: object) -> None:
    if len(memo) >= 32:
        memo.clear()
    memo[key] = value


def _encode_mech_types(mech_types: tuple[str, ...]) -> bytes:
    der = _MECH_TYPES_DER.get(mech_types)
    if der is None:
        der = encode_sequence_of(encode_oid(oid) for oid in mech_types)
        _remember(_MECH_TYPES_DER, tuple(mech_types), der)
    return der


def _mech_types(data: bytes, fld: Field | None, what: str) -> tuple[tuple[str, ...], bytes]:
    if fld is None:
        raise DecodeError(f"{what} is missing.")
    tag, head, start, end = fld
    raw = data[head:end]
    if tag == SEQUENCE:
        known = _MECH_TYPES_OF.get(raw)
        if known is not None:
            return known, raw
    if tag != SEQUENCE:
        raise DecodeError(f"{what}: expected SEQUENCE at offset {head}, found {tag_name(tag)}.")
    oids = []
    for item_tag, item_head, s, e in read_sequence_of(data, start, end, what):
        if item_tag != OBJECT_IDENTIFIER:
            raise DecodeError(
                f"{what}: expected OBJECT IDENTIFIER at offset {item_head}, found "
                f"{tag_name(item_tag)}."
            )
        oids.append(decode_oid(data, s, e, what))
    found = tuple(oids)
    _remember(_MECH_TYPES_OF, raw, found)
    return found, raw


def _req_flags(data: bytes, fld: Field | None, what: str) -> int | None:
    if fld is None:
        return None
    tag, head, start, end = fld
    if tag != BIT_STRING:
        raise DecodeError(f"{what}: expected BIT STRING at offset {head}, found {tag_name(tag)}.")
    return decode_named_bits(data, start, end, what)


def _opt_octets(data: bytes, fld: Field | None, what: str) -> bytes | None:
    return None if fld is None else get_octet_string(data, fld, what)


def _flags(value: int | None) -> bytes | None:
    return None if value is None else encode_named_bits(int(value))


def _octets(value: bytes | None) -> bytes | None:
    return None if value is None else encode_octet_string(value)


@dataclass(frozen=True, slots=True)
class NegHints:
    """NegHints, MS-SPNG 2.2.1: ``{hintName [0] GeneralString OPTIONAL, hintAddress [1] OCTET
    STRING OPTIONAL}``. Windows sends ``not_defined_in_RFC4178@please_ignore``; receivers ignore
    it (MS-SPNG 3.2.5.2)."""

    hint_name: str | None = None
    hint_address: bytes | None = None

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, None if self.hint_name is None else encode_kerberos_string(self.hint_name)),
                (1, _octets(self.hint_address)),
            )
        )


def _neg_hints(data: bytes, fld: Field, what: str) -> NegHints:
    _tag, _head, start, end = fld
    f = read_fields(data, start, end, 2, what)
    return NegHints(
        None if f[0] is None else get_kerberos_string(data, f[0], "NegHints.hintName"),
        _opt_octets(data, f[1], "NegHints.hintAddress"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NegTokenInit:
    """NegTokenInit, RFC 4178 §4.2.1: ``{mechTypes [0], reqFlags [1] OPTIONAL, mechToken [2]
    OPTIONAL, mechListMIC [3] OPTIONAL}``.

    ``mech_types_raw`` is the DER MechTypeList (a SEQUENCE OF OID, without the ``[0]``) that
    the mechListMIC covers: as received, or encoded once at construction.
    """

    mech_types: tuple[str, ...]
    req_flags: int | None = None
    mech_token: bytes | None = None
    mech_list_mic: bytes | None = None
    mech_types_raw: bytes = field(init=False, repr=False, compare=False)
    encoded_mech_types: InitVar[bytes | None] = None

    def __post_init__(self, encoded_mech_types: bytes | None) -> None:
        raw = encoded_mech_types
        object.__setattr__(
            self, "mech_types_raw", _encode_mech_types(self.mech_types) if raw is None else raw
        )

    def build(self) -> bytes:
        """The NegotiationToken ``[0] NegTokenInit`` (``a0 ...``), unframed."""
        return encode_tlv(
            _INIT,
            encode_fields(
                (
                    (0, self.mech_types_raw),
                    (1, _flags(self.req_flags)),
                    (2, _octets(self.mech_token)),
                    (3, _octets(self.mech_list_mic)),
                )
            ),
        )

    def to_token(self) -> bytes:
        """The initiator's first token: RFC 2743 §3.1 framing with the SPNEGO OID."""
        return encode_initial_context_token(SPNEGO_OID, self.build())

    @classmethod
    def parse(cls, data: bytes) -> NegTokenInit:
        """Decode an unframed ``[0] NegTokenInit``. Raises DecodeError (also for a
        NegTokenInit2; use :func:`decode_token` to accept either)."""
        token = _decode_init(_bytes(data))
        if not isinstance(token, NegTokenInit):
            raise DecodeError("NegTokenInit: this is an MS-SPNG NegTokenInit2.")
        return token

    @classmethod
    def from_token(cls, data: bytes) -> NegTokenInit:
        """Decode a framed (``0x60``) NegTokenInit. Raises DecodeError."""
        return cls.parse(_unframe(_bytes(data)))


@dataclass(frozen=True, slots=True, kw_only=True)
class NegTokenInit2:
    """NegTokenInit2, MS-SPNG 2.2.1: NegTokenInit with ``negHints [3]`` and the mechListMIC
    moved to ``[4]``. A server sends it unsolicited (MS-SPNG 3.2.5.2)."""

    mech_types: tuple[str, ...]
    req_flags: int | None = None
    mech_token: bytes | None = None
    neg_hints: NegHints | None = None
    mech_list_mic: bytes | None = None
    mech_types_raw: bytes = field(init=False, repr=False, compare=False)
    encoded_mech_types: InitVar[bytes | None] = None

    def __post_init__(self, encoded_mech_types: bytes | None) -> None:
        raw = encoded_mech_types
        object.__setattr__(
            self, "mech_types_raw", _encode_mech_types(self.mech_types) if raw is None else raw
        )

    def build(self) -> bytes:
        """The NegotiationToken ``[0] NegTokenInit2`` (``a0 ...``), unframed."""
        return encode_tlv(
            _INIT,
            encode_fields(
                (
                    (0, self.mech_types_raw),
                    (1, _flags(self.req_flags)),
                    (2, _octets(self.mech_token)),
                    (3, None if self.neg_hints is None else self.neg_hints.build()),
                    (4, _octets(self.mech_list_mic)),
                )
            ),
        )

    def to_token(self) -> bytes:
        """The RFC 2743 §3.1-framed token, as Windows sends it."""
        return encode_initial_context_token(SPNEGO_OID, self.build())

    @classmethod
    def parse(cls, data: bytes) -> NegTokenInit2:
        """Decode an unframed ``[0] NegTokenInit2`` (a plain NegTokenInit without a
        mechListMIC is accepted too, as its fields are a subset). Raises DecodeError."""
        token = _decode_init(_bytes(data))
        if isinstance(token, NegTokenInit):
            if token.mech_list_mic is not None:
                raise DecodeError("NegTokenInit2: found an RFC 4178 mechListMIC at [3].")
            return NegTokenInit2(
                mech_types=token.mech_types,
                req_flags=token.req_flags,
                mech_token=token.mech_token,
                encoded_mech_types=token.mech_types_raw,
            )
        return token

    @classmethod
    def from_token(cls, data: bytes) -> NegTokenInit2:
        """Decode a framed (``0x60``) NegTokenInit2. Raises DecodeError."""
        return cls.parse(_unframe(_bytes(data)))


_SMALL_TOKEN = 256
"""Initial tokens up to this size are remembered (below): one carrying an NTLM NEGOTIATE_MESSAGE
(about 80 bytes) is the same on every connection of a client, while one carrying a Kerberos
AP-REQ (a kilobyte or more) is new every time and is not kept."""
_INIT_TOKENS: dict[tuple[tuple[str, ...], bytes | None], tuple[bytes, bytes]] = {}
_KNOWN_INITS: dict[bytes, NegTokenInit | NegTokenInit2] = {}


def init_token(mech_types: tuple[str, ...], mech_token: bytes | None) -> tuple[bytes, bytes]:
    """``(NegTokenInit(...).to_token(), its mech_types_raw)`` for an initiator's first token,
    remembered when ``mech_token`` is small (at most 32 kept): a pure function of its inputs."""
    small = mech_token is None or len(mech_token) <= _SMALL_TOKEN
    key = (mech_types, mech_token)
    if small:
        found = _INIT_TOKENS.get(key)
        if found is not None:
            return found
    init = NegTokenInit(mech_types=mech_types, mech_token=mech_token)
    result = (init.to_token(), init.mech_types_raw)
    if small:
        _remember(_INIT_TOKENS, key, result)
    return result


def known_init(token: bytes) -> NegTokenInit | NegTokenInit2 | None:
    """The framed init token with these exact bytes, as :func:`remember_init` kept it after it
    was decoded, or None. Decoding is a pure function and the tokens are immutable, so an
    acceptor need not decode the same client's first token again on every connection."""
    return _KNOWN_INITS.get(token) if type(token) is bytes else None


def remember_init(token: bytes, message: NegTokenInit | NegTokenInit2) -> None:
    """Keep ``message``, decoded from the framed ``token``, when the token is small (at most
    32 kept)."""
    if type(token) is bytes and len(token) <= _SMALL_TOKEN:
        _remember(_KNOWN_INITS, token, message)


def _unframe(data: bytes) -> bytes:
    oid, inner = decode_initial_context_token(data)
    if oid != SPNEGO_OID:
        raise DecodeError(f"SPNEGO token: mechanism {oid}, expected {SPNEGO_OID}.")
    return inner


def _decode_init(data: bytes) -> NegTokenInit | NegTokenInit2:
    """Decode a bare ``[0] NegTokenInit(2)`` that fills ``data`` exactly."""
    return _init_body(data, *_choice(data, _INIT, "NegTokenInit"))


def _init_body(data: bytes, start: int, end: int) -> NegTokenInit | NegTokenInit2:
    what = "NegTokenInit"
    f = read_fields(data, start, end, 5, what)
    mech_types, raw = _mech_types(data, f[0], "NegTokenInit.mechTypes")
    req_flags = _req_flags(data, f[1], "NegTokenInit.reqFlags")
    mech_token = _opt_octets(data, f[2], "NegTokenInit.mechToken")
    third = f[3]
    if f[4] is not None or (third is not None and third[0] == SEQUENCE):
        return NegTokenInit2(
            mech_types=mech_types,
            req_flags=req_flags,
            mech_token=mech_token,
            neg_hints=None if third is None else _neg_hints(data, third, "NegTokenInit2.negHints"),
            mech_list_mic=_opt_octets(data, f[4], "NegTokenInit2.mechListMIC"),
            encoded_mech_types=raw,
        )
    return NegTokenInit(
        mech_types=mech_types,
        req_flags=req_flags,
        mech_token=mech_token,
        mech_list_mic=_opt_octets(data, third, "NegTokenInit.mechListMIC"),
        encoded_mech_types=raw,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NegTokenResp:
    """NegTokenResp, RFC 4178 §4.2.2: ``{negState [0] ENUMERATED OPTIONAL, supportedMech [1]
    OPTIONAL, responseToken [2] OPTIONAL, mechListMIC [3] OPTIONAL}``; never framed."""

    neg_state: NegState | None = None
    supported_mech: str | None = None
    response_token: bytes | None = None
    mech_list_mic: bytes | None = None

    def build(self) -> bytes:
        """The NegotiationToken ``[1] NegTokenResp`` (``a1 ...``).

        Every leg of a Negotiate handshake after the first sends one, so the fields are
        written directly rather than through ``encode_fields``: same DER, fewer calls."""
        parts: list[bytes] = []
        state = self.neg_state
        if state is not None:
            field0 = _NEG_STATE_FIELDS.get(state)
            if field0 is None:
                field0 = encode_tlv(0xA0, encode_enumerated(state))
            parts.append(field0)
        if self.supported_mech is not None:
            parts.append(encode_tlv(0xA1, encode_oid(self.supported_mech)))
        for number, value in ((0xA2, self.response_token), (0xA3, self.mech_list_mic)):
            if value is not None:
                size = len(value)
                if size < 0x7E:
                    parts.append(bytes((number, size + 2, OCTET_STRING, size)))
                else:
                    octets = _header(OCTET_STRING, size)
                    parts.append(_header(number, len(octets) + size) + octets)
                parts.append(value)
        body = b"".join(parts)
        sequence = _header(SEQUENCE, len(body))
        return _header(_RESP, len(sequence) + len(body)) + sequence + body

    @classmethod
    def parse(cls, data: bytes) -> NegTokenResp:
        """Decode a ``[1] NegTokenResp``. Raises DecodeError."""
        data = _bytes(data)
        fast = _fast_resp(data)
        if fast is not None:
            return fast
        start, end = _choice(data, _RESP, "NegTokenResp")
        f = read_fields(data, start, end, 4, "NegTokenResp")
        state = f[0]
        neg_state = None
        if state is not None:
            value = get_enumerated(data, state, "NegTokenResp.negState")
            if not 0 <= value <= 3:
                raise DecodeError(f"NegTokenResp.negState {value} is not one of 0..3.")
            neg_state = NegState(value)
        mech = f[1]
        return NegTokenResp(
            neg_state=neg_state,
            supported_mech=None
            if mech is None
            else get_oid(data, mech, "NegTokenResp.supportedMech"),
            response_token=_opt_octets(data, f[2], "NegTokenResp.responseToken"),
            mech_list_mic=_opt_octets(data, f[3], "NegTokenResp.mechListMIC"),
        )


def _header(tag: int, length: int) -> bytes:
    """Identifier and DER length octets (X.690 §10.1), the one- and two-octet forms inline."""
    if length < 0x80:
        return bytes((tag, length))
    if length < 0x100:
        return bytes((tag, 0x81, length))
    if length < 0x10000:
        return bytes((tag, 0x82, length >> 8, length & 0xFF))
    return bytes((tag,)) + encode_length(length)


_NEG_STATES = tuple(NegState(value) for value in range(4))
_NEG_STATE_FIELDS = {state: bytes((0xA0, 3, 0x0A, 1, int(state))) for state in NegState}
_RESP_INNER_TAGS = (0x0A, OBJECT_IDENTIFIER, OCTET_STRING, OCTET_STRING)


def _short_header(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """``(start, stop)`` of the element at ``pos`` if it has ``tag`` and a minimal length of
    at most two octets that fits before ``end``; ``(-1, -1)`` for anything else."""
    if pos + 2 > end or data[pos] != tag:
        return -1, -1
    length = data[pos + 1]
    start = pos + 2
    if length >= 0x80:
        if length == 0x81 and start < end:
            length = data[start]
            start += 1
            if length < 0x80:
                return -1, -1
        elif length == 0x82 and start + 1 < end:
            length = data[start] << 8 | data[start + 1]
            start += 2
            if length < 0x100:
                return -1, -1
        else:
            return -1, -1
    stop = start + length
    return (start, stop) if stop <= end else (-1, -1)


def _fast_resp(data: bytes) -> NegTokenResp | None:
    """The NegTokenResp ``data`` holds when it has the shape every peer sends (each field once,
    in order, with short DER lengths); None sends anything else, valid or not, to the general
    decoder, which also names what is wrong. Accepts only what that decoder accepts, with the
    same result."""
    size = len(data)
    start, stop = _short_header(data, 0, size, _RESP)
    if stop != size:
        return None
    pos, stop = _short_header(data, start, size, SEQUENCE)
    if stop != size:
        return None
    spans: list[tuple[int, int] | None] = [None, None, None, None]
    last = -1
    while pos < size:
        number = data[pos] - 0xA0
        if not last < number < 4:
            return None
        inner, field_end = _short_header(data, pos, size, 0xA0 + number)
        if inner < 0:
            return None
        value_start, value_end = _short_header(data, inner, field_end, _RESP_INNER_TAGS[number])
        if value_end != field_end:
            return None
        spans[number] = (value_start, value_end)
        last = number
        pos = field_end
    neg_state = mech = None
    span = spans[0]
    if span is not None:
        if span[1] - span[0] != 1 or data[span[0]] > 3:
            return None
        neg_state = _NEG_STATES[data[span[0]]]
    span = spans[1]
    if span is not None:
        raw = data[span[0]:span[1]]
        mech = _OID_OF.get(raw)
        if mech is None:
            try:
                mech = decode_oid(data, span[0], span[1], "NegTokenResp.supportedMech")
            except DecodeError:
                return None
            _remember(_OID_OF, raw, mech)
    token = spans[2]
    mic = spans[3]
    return NegTokenResp(
        neg_state=neg_state,
        supported_mech=mech,
        response_token=None if token is None else data[token[0]:token[1]],
        mech_list_mic=None if mic is None else data[mic[0]:mic[1]],
    )


def _choice(data: bytes, tag: int, what: str) -> tuple[int, int]:
    """The SEQUENCE contents inside a NegotiationToken ``[n]`` that fills ``data``."""
    start, end = unwrap(data, tag, what)
    fields = read_sequence_of(data, start, end, what, 1)
    if len(fields) != 1 or fields[0][0] != SEQUENCE:
        raise DecodeError(f"{what}: {tag_name(tag)} must hold exactly one SEQUENCE.")
    return fields[0][2], fields[0][3]


def decode_token(data: bytes) -> NegTokenInit | NegTokenInit2 | NegTokenResp:
    """Decode any SPNEGO token: framed (``0x60``) or bare init, or a NegTokenResp.

    Raises:
        DecodeError: not a SPNEGO token, or malformed.
    """
    data = _bytes(data)
    if not data:
        raise DecodeError("SPNEGO token is empty.")
    first = data[0]
    if first == _FRAMED:
        data = _unframe(data)
        first = data[0] if data else -1
        if first != _INIT:
            raise DecodeError("SPNEGO initial token: the inner token is not a [0] NegTokenInit.")
    if first == _INIT:
        return _decode_init(data)
    if first == _RESP:
        return NegTokenResp.parse(data)
    raise DecodeError(f"Not a SPNEGO token: it starts with 0x{first:02x}.")
