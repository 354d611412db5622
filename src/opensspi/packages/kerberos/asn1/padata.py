"""Pre-authentication data: RFC 4120 §5.2.7, MS-KILE 2.2.3."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ....der import (
    GENERAL_STRING,
    SEQUENCE,
    encode_boolean,
    encode_fields,
    encode_integer,
    encode_kerberos_time,
    encode_sequence_of,
    encode_tlv,
    get_boolean,
    get_integer,
    get_kerberos_time,
    read_fields,
    tag_name,
    unwrap,
)
from ....errors import DecodeError
from .codec import _bytes, _int, _items, _octets, _opt_int, _opt_octets, _top


@dataclass(frozen=True, slots=True)
class PaEncTsEnc:
    """PA-ENC-TS-ENC, RFC 4120 §5.2.7.2: the plaintext of PA-ENC-TIMESTAMP (key usage 1)."""

    patimestamp: datetime
    pausec: int | None = None

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(((0, encode_kerberos_time(self.patimestamp)), (1, _int(self.pausec))))

    @classmethod
    def parse(cls, data: bytes) -> PaEncTsEnc:
        """Decode a PA-ENC-TS-ENC. Raises DecodeError."""
        data = _bytes(data)
        f = read_fields(data, *_top(data, SEQUENCE, "PA-ENC-TS-ENC"), 2, "PA-ENC-TS-ENC")
        return PaEncTsEnc(
            get_kerberos_time(data, f[0], "PA-ENC-TS-ENC.patimestamp"),
            _opt_int(data, f[1], "PA-ENC-TS-ENC.pausec"),
        )


@dataclass(frozen=True, slots=True)
class EtypeInfo2Entry:
    """ETYPE-INFO2-ENTRY, RFC 4120 §5.2.7.5: ``{etype [0], salt [1] KerberosString OPTIONAL,
    s2kparams [2] OCTET STRING OPTIONAL}``.

    ``salt`` is the KerberosString's octets, unchanged: string-to-key takes bytes, and an AD
    salt must be used exactly as sent (B.1: it is case-sensitive).
    """

    etype: int
    salt: bytes | None = None
    s2kparams: bytes | None = None

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, encode_integer(self.etype)),
                (1, None if self.salt is None else encode_tlv(GENERAL_STRING, self.salt)),
                (2, _octets(self.s2kparams)),
            )
        )

    @classmethod
    def parse(cls, data: bytes) -> EtypeInfo2Entry:
        """Decode one ETYPE-INFO2-ENTRY. Raises DecodeError."""
        data = _bytes(data)
        return _etype_info2_body(data, *_top(data, SEQUENCE, "ETYPE-INFO2-ENTRY"))


def _etype_info2_body(data: bytes, start: int, end: int) -> EtypeInfo2Entry:
    f = read_fields(data, start, end, 3, "ETYPE-INFO2-ENTRY")
    salt = f[1]
    if salt is not None and salt[0] != GENERAL_STRING:
        raise DecodeError(
            f"ETYPE-INFO2-ENTRY.salt: expected GeneralString at offset {salt[1]}, found "
            f"{tag_name(salt[0])}."
        )
    return EtypeInfo2Entry(
        get_integer(data, f[0], "ETYPE-INFO2-ENTRY.etype"),
        None if salt is None else data[salt[2] : salt[3]],
        _opt_octets(data, f[2], "ETYPE-INFO2-ENTRY.s2kparams"),
    )


def decode_etype_info2(data: bytes) -> tuple[EtypeInfo2Entry, ...]:
    """Decode ETYPE-INFO2 (the padata-value of PA-ETYPE-INFO2, type 19), RFC 4120 §5.2.7.5.

    Raises:
        DecodeError: malformed, or empty (the ASN.1 says ``SIZE (1..MAX)``).
    """
    data = _bytes(data)
    start, end = unwrap(data, SEQUENCE, "ETYPE-INFO2")
    items = _items(data, (SEQUENCE, 0, start, end), "ETYPE-INFO2")
    if not items:
        raise DecodeError("ETYPE-INFO2 is empty; it must list at least one etype.")
    return tuple(_etype_info2_body(data, s, e) for _t, _h, s, e in items)


def encode_etype_info2(entries: Iterable[EtypeInfo2Entry]) -> bytes:
    """Encode ETYPE-INFO2 (SEQUENCE OF ETYPE-INFO2-ENTRY)."""
    return encode_sequence_of(entry.build() for entry in entries)


@dataclass(frozen=True, slots=True)
class EtypeInfoEntry:
    """ETYPE-INFO-ENTRY, RFC 4120 §5.2.7.4 (legacy; prefer ETYPE-INFO2): ``{etype [0], salt [1]
    OCTET STRING OPTIONAL}``."""

    etype: int
    salt: bytes | None = None

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(((0, encode_integer(self.etype)), (1, _octets(self.salt))))


def decode_etype_info(data: bytes) -> tuple[EtypeInfoEntry, ...]:
    """Decode ETYPE-INFO (PA-ETYPE-INFO, type 11), RFC 4120 §5.2.7.4."""
    data = _bytes(data)
    start, end = unwrap(data, SEQUENCE, "ETYPE-INFO")
    entries = []
    for _t, _h, s, e in _items(data, (SEQUENCE, 0, start, end), "ETYPE-INFO"):
        f = read_fields(data, s, e, 2, "ETYPE-INFO-ENTRY")
        entries.append(
            EtypeInfoEntry(
                get_integer(data, f[0], "ETYPE-INFO-ENTRY.etype"),
                _opt_octets(data, f[1], "ETYPE-INFO-ENTRY.salt"),
            )
        )
    return tuple(entries)


def encode_etype_info(entries: Iterable[EtypeInfoEntry]) -> bytes:
    """Encode ETYPE-INFO (SEQUENCE OF ETYPE-INFO-ENTRY)."""
    return encode_sequence_of(entry.build() for entry in entries)


@dataclass(frozen=True, slots=True)
class PaPacRequest:
    """KERB-PA-PAC-REQUEST, MS-KILE 2.2.3: ``{include-pac [0] BOOLEAN}`` (padata-type 128)."""

    include_pac: bool

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(((0, encode_boolean(self.include_pac)),))

    @classmethod
    def parse(cls, data: bytes) -> PaPacRequest:
        """Decode a KERB-PA-PAC-REQUEST. Raises DecodeError."""
        data = _bytes(data)
        w = "KERB-PA-PAC-REQUEST"
        f = read_fields(data, *_top(data, SEQUENCE, w), 1, w)
        return PaPacRequest(get_boolean(data, f[0], "KERB-PA-PAC-REQUEST.include-pac"))
