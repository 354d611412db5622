"""Tickets: RFC 4120 §5.3."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from datetime import datetime

from ....der import (
    Field,
    encode_fields,
    encode_integer,
    encode_kerberos_flags,
    encode_kerberos_string,
    encode_kerberos_time,
    encode_tlv,
    get_integer,
    get_kerberos_flags,
    get_kerberos_string,
    get_kerberos_time,
    read_fields,
    read_sequence_of,
    tag_name,
    unwrap,
)
from ....errors import DecodeError
from .basic import (
    AuthorizationDataEntry,
    EncryptedData,
    EncryptionKey,
    HostAddress,
    PrincipalName,
    TransitedEncoding,
    _addresses,
    _authz,
    _enc,
    _key,
    _principal,
    _transited,
)
from .codec import _app_body, _bytes, _check_int, _opt_time, _seq, _seq_of, _time, _top
from .oids import PVNO

_TICKET = 0x61
_ENC_TICKET_PART = 0x63
_AUTHENTICATOR = 0x62


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    """Ticket, RFC 4120 §5.3: ``[APPLICATION 1] {tkt-vno [0] INTEGER (5), realm [1], sname [2],
    enc-part [3] EncryptedData}``.

    ``raw`` is the exact encoding: as received (pass ``encoded=``), or encoded once when built.
    """

    tkt_vno: int = PVNO
    realm: str
    sname: PrincipalName
    enc_part: EncryptedData
    raw: bytes = field(init=False, repr=False, compare=False)
    encoded: InitVar[bytes | None] = None

    def __post_init__(self, encoded: bytes | None) -> None:
        object.__setattr__(self, "raw", self._encode() if encoded is None else encoded)

    def _encode(self) -> bytes:
        return encode_tlv(
            _TICKET,
            encode_fields(
                (
                    (0, encode_integer(self.tkt_vno)),
                    (1, encode_kerberos_string(self.realm)),
                    (2, self.sname.build()),
                    (3, self.enc_part.build()),
                )
            ),
        )

    def build(self) -> bytes:
        """The ticket's bytes: ``raw``, never re-encoded."""
        return self.raw

    @classmethod
    def parse(cls, data: bytes) -> Ticket:
        """Decode a Ticket ``[APPLICATION 1]``. Raises DecodeError."""
        data = _bytes(data)
        start, end = unwrap(data, _TICKET, "Ticket")
        return _ticket_body(data, 0, start, end)


def _ticket_body(data: bytes, head: int, start: int, end: int) -> Ticket:
    inner, stop = _app_body(data, _TICKET, start, end, "Ticket")
    fields = read_fields(data, inner, stop, 4, "Ticket")
    tkt_vno = get_integer(data, fields[0], "Ticket.tkt-vno")
    _check_int(tkt_vno, PVNO, "Ticket.tkt-vno")
    return Ticket(
        tkt_vno=tkt_vno,
        realm=get_kerberos_string(data, fields[1], "Ticket.realm"),
        sname=_principal(data, fields[2], "Ticket.sname"),
        enc_part=_enc(data, fields[3], "Ticket.enc-part"),
        encoded=data[head:end],
    )


def _ticket(
    data: bytes, field: Field | None, what: str, known: Mapping[bytes, Ticket] | None = None
) -> Ticket:
    """The Ticket in ``field``; from ``known`` (tickets decoded before, by their encoding)
    when it holds these exact bytes: decoding is a pure function of them."""
    if field is None:
        raise DecodeError(f"{what} is missing.")
    if field[0] != _TICKET:
        raise DecodeError(
            f"{what}: expected Ticket [APPLICATION 1] at offset {field[1]}, found "
            f"{tag_name(field[0])}."
        )
    if known is not None:
        found = known.get(data[field[1] : field[3]])
        if found is not None:
            return found
    return _ticket_body(data, field[1], field[2], field[3])


def _tickets(data: bytes, field: Field | None, what: str) -> tuple[Ticket, ...]:
    start, end = _seq(field, what)
    return tuple(_ticket(data, item, what) for item in read_sequence_of(data, start, end, what))


@dataclass(frozen=True, slots=True, kw_only=True)
class EncTicketPart:
    """EncTicketPart, RFC 4120 §5.3 ``[APPLICATION 3]``: the plaintext of Ticket.enc-part
    (key usage 2)."""

    flags: int
    key: EncryptionKey
    crealm: str
    cname: PrincipalName
    transited: TransitedEncoding
    authtime: datetime
    starttime: datetime | None = None
    endtime: datetime
    renew_till: datetime | None = None
    caddr: tuple[HostAddress, ...] | None = None
    authorization_data: tuple[AuthorizationDataEntry, ...] | None = None

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION 3]``)."""
        return encode_tlv(
            _ENC_TICKET_PART,
            encode_fields(
                (
                    (0, encode_kerberos_flags(int(self.flags))),
                    (1, self.key.build()),
                    (2, encode_kerberos_string(self.crealm)),
                    (3, self.cname.build()),
                    (4, self.transited.build()),
                    (5, encode_kerberos_time(self.authtime)),
                    (6, _time(self.starttime)),
                    (7, encode_kerberos_time(self.endtime)),
                    (8, _time(self.renew_till)),
                    (9, _seq_of(self.caddr)),
                    (10, _seq_of(self.authorization_data)),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> EncTicketPart:
        """Decode an EncTicketPart. Raises DecodeError."""
        data = _bytes(data)
        w = "EncTicketPart"
        f = read_fields(data, *_top(data, _ENC_TICKET_PART, w), 11, w)
        return EncTicketPart(
            flags=get_kerberos_flags(data, f[0], "EncTicketPart.flags"),
            key=_key(data, f[1], "EncTicketPart.key"),
            crealm=get_kerberos_string(data, f[2], "EncTicketPart.crealm"),
            cname=_principal(data, f[3], "EncTicketPart.cname"),
            transited=_transited(data, f[4], "EncTicketPart.transited"),
            authtime=get_kerberos_time(data, f[5], "EncTicketPart.authtime"),
            starttime=_opt_time(data, f[6], "EncTicketPart.starttime"),
            endtime=get_kerberos_time(data, f[7], "EncTicketPart.endtime"),
            renew_till=_opt_time(data, f[8], "EncTicketPart.renew-till"),
            caddr=_addresses(data, f[9], "EncTicketPart.caddr"),
            authorization_data=_authz(data, f[10], "EncTicketPart.authorization-data"),
        )
