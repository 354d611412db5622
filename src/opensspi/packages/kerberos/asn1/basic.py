"""Kerberos basic types: RFC 4120 §5.2 (names, times, addresses, authorization data, keys)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from ....der import (
    GENERAL_STRING,
    SEQUENCE,
    Field,
    encode_fields,
    encode_integer,
    encode_kerberos_string,
    encode_kerberos_time,
    encode_octet_string,
    encode_sequence_of,
    get_integer,
    get_kerberos_time,
    get_octet_string,
    read_fields,
    read_sequence_of,
    tag_name,
    unwrap,
)
from ....errors import DecodeError, InvalidParameter
from .codec import _bytes, _int, _items, _no_field0, _seq, _top
from .numbers import NameType

_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "0": "\0"}
_UNESCAPES = {
    "\n": "\\n",
    "\t": "\\t",
    "\b": "\\b",
    "\0": "\\0",
    "\\": "\\\\",
    "/": "\\/",
    "@": "\\@",
}


def parse_principal(text: str, name_type: int | None = None) -> tuple[PrincipalName, str | None]:
    """Parse ``"HTTP/host.example.com@EXAMPLE.COM"`` into a name and a realm (``None`` if absent).

    The text form of RFC 1964 §2.1.1 / MIT ``krb5_parse_name``: ``/`` separates components, the
    first unescaped ``@`` starts the realm, and ``\\`` escapes ``/``, ``@``, ``\\`` and writes
    ``\\n``, ``\\t``, ``\\b``, ``\\0``. Without ``name_type``, one component gives NT-PRINCIPAL
    and more give NT-SRV-INST, as Windows names SPNs.

    Raises:
        InvalidParameter: empty text, a trailing backslash, an empty or second realm.
    """
    if not text:
        raise InvalidParameter("An empty string is not a Kerberos principal name.")
    components: list[str] = []
    current: list[str] = []
    realm: list[str] | None = None
    index = 0
    while index < len(text):
        char = text[index]
        index += 1
        if char == "\\":
            if index == len(text):
                raise InvalidParameter(f"Principal {text!r} ends with a lone backslash.")
            escaped = text[index]
            index += 1
            (current if realm is None else realm).append(_ESCAPES.get(escaped, escaped))
        elif realm is not None:
            if char == "@":
                raise InvalidParameter(f"Principal {text!r} has more than one realm separator.")
            realm.append(char)
        elif char == "/":
            components.append("".join(current))
            current = []
        elif char == "@":
            realm = []
        else:
            current.append(char)
    components.append("".join(current))
    if realm is not None and not realm:
        raise InvalidParameter(f"Principal {text!r} has an empty realm after '@'.")
    if name_type is None:
        name_type = NameType.NT_PRINCIPAL if len(components) == 1 else NameType.NT_SRV_INST
    realm_text = None if realm is None else "".join(realm)
    return PrincipalName(int(name_type), tuple(components)), realm_text


_ESCAPE_TABLE = str.maketrans(_UNESCAPES)


def _escape(component: str) -> str:
    return component.translate(_ESCAPE_TABLE)


# PrincipalName's text, encoding and decoding (by the contents' bytes) remembered: every
# handshake names its client and server again. Short names only, a bounded number of them;
# the values are immutable.
_TEXTS: dict[tuple[tuple[str, ...], str | None], str] = {}
_TEXT_MEMO_SIZE = 1024
_TEXT_MEMO_CHARS = 256
_NAMES_ENCODED: dict[tuple[int, tuple[str, ...]], bytes] = {}
_NAMES_DECODED: dict[bytes, PrincipalName] = {}
_CHECKSUMS_ENCODED: dict[tuple[int, bytes], bytes] = {}
_CHECKSUMS_DECODED: dict[bytes, Checksum] = {}
_T = TypeVar("_T")
_K = TypeVar("_K", bound=Hashable)


def _remember(memo: dict[_K, _T], key: _K, value: _T, size: int) -> None:
    """Keep ``value`` under ``key`` when its encoding (``size`` bytes) is short; the memo
    starts over when full."""
    if size <= _TEXT_MEMO_CHARS:
        if len(memo) >= _TEXT_MEMO_SIZE:
            memo.clear()
        memo[key] = value


# RFC 4121 §4.1.1: the authenticator checksum of GSS-API (flags and bindings hash), the same
# for every context with the same flags; other checksum types are MACs, new every time.
_GSS_CHECKSUM = 0x8003


@dataclass(frozen=True, slots=True)
class PrincipalName:
    """PrincipalName, RFC 4120 §5.2.2: ``{name-type [0] Int32, name-string [1] SEQUENCE OF
    KerberosString}``."""

    name_type: int
    name_string: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str, name_type: int | None = None) -> PrincipalName:
        """The name in ``"HTTP/host"`` or ``"HTTP/host@REALM"``; see :func:`parse_principal`,
        which also returns the realm."""
        return parse_principal(text, name_type)[0]

    def to_text(self, realm: str | None = None) -> str:
        """The escaped text form, ``"HTTP/host@REALM"`` when ``realm`` is given."""
        key = (self.name_string, realm)
        text = _TEXTS.get(key)
        if text is None:
            name = "/".join(_escape(part) for part in self.name_string)
            text = name if realm is None else f"{name}@{_escape(realm)}"
            if len(text) <= _TEXT_MEMO_CHARS:
                if len(_TEXTS) >= _TEXT_MEMO_SIZE:
                    _TEXTS.clear()
                _TEXTS[key] = text
        return text

    def __str__(self) -> str:
        return self.to_text()

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        key = (self.name_type, self.name_string)
        encoded = _NAMES_ENCODED.get(key)
        if encoded is None:
            encoded = encode_fields(
                (
                    (0, encode_integer(self.name_type)),
                    (1, encode_sequence_of(encode_kerberos_string(s) for s in self.name_string)),
                )
            )
            _remember(_NAMES_ENCODED, key, encoded, len(encoded))
        return encoded

    @classmethod
    def parse(cls, data: bytes) -> PrincipalName:
        """Decode a PrincipalName SEQUENCE. Raises DecodeError."""
        data = _bytes(data)
        return _principal_body(data, *_top(data, SEQUENCE, "PrincipalName"))


def _principal_body(data: bytes, start: int, end: int) -> PrincipalName:
    raw = data[start:end]
    found = _NAMES_DECODED.get(raw)
    if found is not None:
        return found
    name = _decode_principal(data, start, end)
    _remember(_NAMES_DECODED, raw, name, len(raw))
    return name


def _decode_principal(data: bytes, start: int, end: int) -> PrincipalName:
    fields = read_fields(data, start, end, 2, "PrincipalName")
    name_type = get_integer(data, fields[0], "PrincipalName.name-type")
    inner, stop = _seq(fields[1], "PrincipalName.name-string")
    names = []
    for tag, head, s, e in read_sequence_of(data, inner, stop, "PrincipalName.name-string"):
        if tag != GENERAL_STRING:
            raise DecodeError(
                f"PrincipalName.name-string: expected GeneralString at offset {head}, found "
                f"{tag_name(tag)}."
            )
        names.append(data[s:e].decode("utf-8", "surrogateescape"))
    return PrincipalName(name_type, tuple(names))


def _principal(data: bytes, field: Field | None, what: str) -> PrincipalName:
    return _principal_body(data, *_seq(field, what))


def _opt_principal(data: bytes, field: Field | None, what: str) -> PrincipalName | None:
    return None if field is None else _principal_body(data, *_seq(field, what))


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    """EncryptionKey, RFC 4120 §5.2.9: ``{keytype [0] Int32, keyvalue [1] OCTET STRING}``.

    ``repr`` shows the key type and length only.
    """

    keytype: int
    keyvalue: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"EncryptionKey(keytype={self.keytype}, keyvalue=<{len(self.keyvalue)} bytes>)"

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((0, encode_integer(self.keytype)), (1, encode_octet_string(self.keyvalue)))
        )

    @classmethod
    def parse(cls, data: bytes) -> EncryptionKey:
        """Decode an EncryptionKey SEQUENCE. Raises DecodeError."""
        data = _bytes(data)
        return _key_body(data, *_top(data, SEQUENCE, "EncryptionKey"))


def _key_body(data: bytes, start: int, end: int) -> EncryptionKey:
    fields = read_fields(data, start, end, 2, "EncryptionKey")
    return EncryptionKey(
        get_integer(data, fields[0], "EncryptionKey.keytype"),
        get_octet_string(data, fields[1], "EncryptionKey.keyvalue"),
    )


def _key(data: bytes, field: Field | None, what: str) -> EncryptionKey:
    return _key_body(data, *_seq(field, what))


def _opt_key(data: bytes, field: Field | None, what: str) -> EncryptionKey | None:
    return None if field is None else _key_body(data, *_seq(field, what))


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedData:
    """EncryptedData, RFC 4120 §5.2.9: ``{etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2]
    OCTET STRING}``."""

    etype: int
    kvno: int | None = None
    cipher: bytes

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, encode_integer(self.etype)),
                (1, _int(self.kvno)),
                (2, encode_octet_string(self.cipher)),
            )
        )

    @classmethod
    def parse(cls, data: bytes) -> EncryptedData:
        """Decode an EncryptedData SEQUENCE. Raises DecodeError."""
        data = _bytes(data)
        return _enc_body(data, *_top(data, SEQUENCE, "EncryptedData"))


def _enc_body(data: bytes, start: int, end: int) -> EncryptedData:
    fields = read_fields(data, start, end, 3, "EncryptedData")
    kvno = fields[1]
    return EncryptedData(
        etype=get_integer(data, fields[0], "EncryptedData.etype"),
        kvno=None if kvno is None else get_integer(data, kvno, "EncryptedData.kvno"),
        cipher=get_octet_string(data, fields[2], "EncryptedData.cipher"),
    )


def _enc(data: bytes, field: Field | None, what: str) -> EncryptedData:
    return _enc_body(data, *_seq(field, what))


@dataclass(frozen=True, slots=True)
class Checksum:
    """Checksum, RFC 4120 §5.2.9: ``{cksumtype [0] Int32, checksum [1] OCTET STRING}``."""

    cksumtype: int
    checksum: bytes

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        key = (self.cksumtype, self.checksum)
        encoded = _CHECKSUMS_ENCODED.get(key)
        if encoded is None:
            encoded = encode_fields(
                ((0, encode_integer(self.cksumtype)), (1, encode_octet_string(self.checksum)))
            )
            if self.cksumtype == _GSS_CHECKSUM:
                _remember(_CHECKSUMS_ENCODED, key, encoded, len(encoded))
        return encoded

    @classmethod
    def parse(cls, data: bytes) -> Checksum:
        """Decode a Checksum SEQUENCE. Raises DecodeError."""
        data = _bytes(data)
        return _checksum_body(data, *_top(data, SEQUENCE, "Checksum"))


def _checksum_body(data: bytes, start: int, end: int) -> Checksum:
    raw = data[start:end]
    found = _CHECKSUMS_DECODED.get(raw)
    if found is not None:
        return found
    fields = read_fields(data, start, end, 2, "Checksum")
    checksum = Checksum(
        get_integer(data, fields[0], "Checksum.cksumtype"),
        get_octet_string(data, fields[1], "Checksum.checksum"),
    )
    if checksum.cksumtype == _GSS_CHECKSUM:
        _remember(_CHECKSUMS_DECODED, raw, checksum, len(raw))
    return checksum


@dataclass(frozen=True, slots=True)
class HostAddress:
    """HostAddress, RFC 4120 §5.2.5: ``{addr-type [0] Int32, address [1] OCTET STRING}``."""

    addr_type: int
    address: bytes

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((0, encode_integer(self.addr_type)), (1, encode_octet_string(self.address)))
        )

    @classmethod
    def parse(cls, data: bytes) -> HostAddress:
        """Decode a HostAddress SEQUENCE. Raises DecodeError."""
        data = _bytes(data)
        return _address_body(data, *_top(data, SEQUENCE, "HostAddress"))


def _address_body(data: bytes, start: int, end: int) -> HostAddress:
    fields = read_fields(data, start, end, 2, "HostAddress")
    return HostAddress(
        get_integer(data, fields[0], "HostAddress.addr-type"),
        get_octet_string(data, fields[1], "HostAddress.address"),
    )


def _addresses(data: bytes, field: Field | None, what: str) -> tuple[HostAddress, ...] | None:
    if field is None:
        return None
    return tuple(_address_body(data, s, e) for _t, _h, s, e in _items(data, field, what))


@dataclass(frozen=True, slots=True)
class AuthorizationDataEntry:
    """One element of AuthorizationData, RFC 4120 §5.2.6: ``{ad-type [0] Int32, ad-data [1]
    OCTET STRING}``. AuthorizationData itself is a ``tuple`` of these."""

    ad_type: int
    ad_data: bytes

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((0, encode_integer(self.ad_type)), (1, encode_octet_string(self.ad_data)))
        )

    @classmethod
    def parse(cls, data: bytes) -> AuthorizationDataEntry:
        """Decode one AuthorizationData element. Raises DecodeError."""
        data = _bytes(data)
        return _ad_body(data, *_top(data, SEQUENCE, "AuthorizationData"))


def _ad_body(data: bytes, start: int, end: int) -> AuthorizationDataEntry:
    fields = read_fields(data, start, end, 2, "AuthorizationData")
    return AuthorizationDataEntry(
        get_integer(data, fields[0], "AuthorizationData.ad-type"),
        get_octet_string(data, fields[1], "AuthorizationData.ad-data"),
    )


def _authz(
    data: bytes, field: Field | None, what: str
) -> tuple[AuthorizationDataEntry, ...] | None:
    if field is None:
        return None
    return tuple(_ad_body(data, s, e) for _t, _h, s, e in _items(data, field, what))


def decode_authorization_data(data: bytes) -> tuple[AuthorizationDataEntry, ...]:
    """Decode AuthorizationData (SEQUENCE OF), e.g. the ad-data of AD-IF-RELEVANT (§5.2.6.1)."""
    data = _bytes(data)
    start, end = unwrap(data, SEQUENCE, "AuthorizationData")
    return _authz(data, (SEQUENCE, 0, start, end), "AuthorizationData") or ()


def encode_authorization_data(entries: Iterable[AuthorizationDataEntry]) -> bytes:
    """Encode AuthorizationData (SEQUENCE OF)."""
    return encode_sequence_of(entry.build() for entry in entries)


@dataclass(frozen=True, slots=True)
class PAData:
    """PA-DATA, RFC 4120 §5.2.7: ``{padata-type [1] Int32, padata-value [2] OCTET STRING}``.

    Note the fields are numbered from 1.
    """

    padata_type: int
    padata_value: bytes

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((1, encode_integer(self.padata_type)), (2, encode_octet_string(self.padata_value)))
        )

    @classmethod
    def parse(cls, data: bytes) -> PAData:
        """Decode a PA-DATA SEQUENCE. Raises DecodeError."""
        data = _bytes(data)
        return _padata_body(data, *_top(data, SEQUENCE, "PA-DATA"))


def _padata_body(data: bytes, start: int, end: int) -> PAData:
    fields = read_fields(data, start, end, 3, "PA-DATA")
    _no_field0(fields, "PA-DATA")
    return PAData(
        get_integer(data, fields[1], "PA-DATA.padata-type"),
        get_octet_string(data, fields[2], "PA-DATA.padata-value"),
    )


def _padata_list(data: bytes, field: Field | None, what: str) -> tuple[PAData, ...] | None:
    if field is None:
        return None
    return tuple(_padata_body(data, s, e) for _t, _h, s, e in _items(data, field, what))


def decode_method_data(data: bytes) -> tuple[PAData, ...]:
    """Decode METHOD-DATA, ``SEQUENCE OF PA-DATA`` (RFC 4120 §5.9.1), e.g. a KRB-ERROR e-data."""
    data = _bytes(data)
    start, end = unwrap(data, SEQUENCE, "METHOD-DATA")
    return _padata_list(data, (SEQUENCE, 0, start, end), "METHOD-DATA") or ()


def encode_method_data(entries: Iterable[PAData]) -> bytes:
    """Encode METHOD-DATA (SEQUENCE OF PA-DATA)."""
    return encode_sequence_of(entry.build() for entry in entries)


@dataclass(frozen=True, slots=True)
class TransitedEncoding:
    """TransitedEncoding, RFC 4120 §5.3: ``{tr-type [0] Int32, contents [1] OCTET STRING}``."""

    tr_type: int
    contents: bytes

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((0, encode_integer(self.tr_type)), (1, encode_octet_string(self.contents)))
        )


def _transited(data: bytes, field: Field | None, what: str) -> TransitedEncoding:
    fields = read_fields(data, *_seq(field, what), 2, what)
    return TransitedEncoding(
        get_integer(data, fields[0], "TransitedEncoding.tr-type"),
        get_octet_string(data, fields[1], "TransitedEncoding.contents"),
    )


@dataclass(frozen=True, slots=True)
class LastReqEntry:
    """One element of LastReq, RFC 4120 §5.4.2: ``{lr-type [0] Int32, lr-value [1]
    KerberosTime}``. LastReq itself is a ``tuple`` of these."""

    lr_type: int
    lr_value: datetime

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((0, encode_integer(self.lr_type)), (1, encode_kerberos_time(self.lr_value)))
        )


def _last_req(data: bytes, field: Field | None, what: str) -> tuple[LastReqEntry, ...]:
    entries = []
    for _t, _h, s, e in _items(data, field, what):
        fields = read_fields(data, s, e, 2, "LastReq")
        entries.append(
            LastReqEntry(
                get_integer(data, fields[0], "LastReq.lr-type"),
                get_kerberos_time(data, fields[1], "LastReq.lr-value"),
            )
        )
    return tuple(entries)
