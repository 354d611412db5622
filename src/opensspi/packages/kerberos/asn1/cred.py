"""KRB-CRED: RFC 4120 §5.8."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ....der import (
    encode_fields,
    encode_integer,
    encode_sequence_of,
    encode_tlv,
    get_integer,
    get_kerberos_flags,
    read_fields,
)
from .basic import (
    EncryptedData,
    EncryptionKey,
    HostAddress,
    PrincipalName,
    _address_body,
    _addresses,
    _enc,
    _key,
    _opt_principal,
)
from .codec import (
    _bytes,
    _check_int,
    _flags,
    _int,
    _items,
    _opt_int,
    _opt_str,
    _opt_time,
    _seq,
    _seq_of,
    _str,
    _time,
    _top,
)
from .numbers import MessageType
from .oids import PVNO
from .tickets import Ticket, _tickets

_KRB_CRED = 0x76
_ENC_KRB_CRED_PART = 0x7D


@dataclass(frozen=True, slots=True, kw_only=True)
class KrbCred:
    """KRB-CRED, RFC 4120 §5.8.1 ``[APPLICATION 22]``; enc-part is key usage 14."""

    pvno: int = PVNO
    msg_type: int = MessageType.KRB_CRED
    tickets: tuple[Ticket, ...]
    enc_part: EncryptedData

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION 22]``)."""
        return encode_tlv(
            _KRB_CRED,
            encode_fields(
                (
                    (0, encode_integer(self.pvno)),
                    (1, encode_integer(self.msg_type)),
                    (2, encode_sequence_of(ticket.raw for ticket in self.tickets)),
                    (3, self.enc_part.build()),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> KrbCred:
        """Decode a KRB-CRED. Raises DecodeError."""
        data = _bytes(data)
        f = read_fields(data, *_top(data, _KRB_CRED, "KRB-CRED"), 4, "KRB-CRED")
        pvno = get_integer(data, f[0], "KRB-CRED.pvno")
        _check_int(pvno, PVNO, "KRB-CRED.pvno")
        msg_type = get_integer(data, f[1], "KRB-CRED.msg-type")
        _check_int(msg_type, MessageType.KRB_CRED, "KRB-CRED.msg-type")
        return KrbCred(
            pvno=pvno,
            msg_type=msg_type,
            tickets=_tickets(data, f[2], "KRB-CRED.tickets"),
            enc_part=_enc(data, f[3], "KRB-CRED.enc-part"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class KrbCredInfo:
    """KrbCredInfo, RFC 4120 §5.8.1: one ticket's key and (optional) copies of its fields."""

    key: EncryptionKey
    prealm: str | None = None
    pname: PrincipalName | None = None
    flags: int | None = None
    authtime: datetime | None = None
    starttime: datetime | None = None
    endtime: datetime | None = None
    renew_till: datetime | None = None
    srealm: str | None = None
    sname: PrincipalName | None = None
    caddr: tuple[HostAddress, ...] | None = None

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, self.key.build()),
                (1, _str(self.prealm)),
                (2, None if self.pname is None else self.pname.build()),
                (3, _flags(self.flags)),
                (4, _time(self.authtime)),
                (5, _time(self.starttime)),
                (6, _time(self.endtime)),
                (7, _time(self.renew_till)),
                (8, _str(self.srealm)),
                (9, None if self.sname is None else self.sname.build()),
                (10, _seq_of(self.caddr)),
            )
        )


def _cred_info(data: bytes, start: int, end: int) -> KrbCredInfo:
    f = read_fields(data, start, end, 11, "KrbCredInfo")
    flags = f[3]
    return KrbCredInfo(
        key=_key(data, f[0], "KrbCredInfo.key"),
        prealm=_opt_str(data, f[1], "KrbCredInfo.prealm"),
        pname=_opt_principal(data, f[2], "KrbCredInfo.pname"),
        flags=None if flags is None else get_kerberos_flags(data, flags, "KrbCredInfo.flags"),
        authtime=_opt_time(data, f[4], "KrbCredInfo.authtime"),
        starttime=_opt_time(data, f[5], "KrbCredInfo.starttime"),
        endtime=_opt_time(data, f[6], "KrbCredInfo.endtime"),
        renew_till=_opt_time(data, f[7], "KrbCredInfo.renew-till"),
        srealm=_opt_str(data, f[8], "KrbCredInfo.srealm"),
        sname=_opt_principal(data, f[9], "KrbCredInfo.sname"),
        caddr=_addresses(data, f[10], "KrbCredInfo.caddr"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EncKrbCredPart:
    """EncKrbCredPart, RFC 4120 §5.8.1 ``[APPLICATION 29]``."""

    ticket_info: tuple[KrbCredInfo, ...]
    nonce: int | None = None
    timestamp: datetime | None = None
    usec: int | None = None
    s_address: HostAddress | None = None
    r_address: HostAddress | None = None

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION 29]``)."""
        return encode_tlv(
            _ENC_KRB_CRED_PART,
            encode_fields(
                (
                    (0, encode_sequence_of(info.build() for info in self.ticket_info)),
                    (1, _int(self.nonce)),
                    (2, _time(self.timestamp)),
                    (3, _int(self.usec)),
                    (4, None if self.s_address is None else self.s_address.build()),
                    (5, None if self.r_address is None else self.r_address.build()),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> EncKrbCredPart:
        """Decode an EncKrbCredPart. Raises DecodeError."""
        data = _bytes(data)
        w = "EncKrbCredPart"
        f = read_fields(data, *_top(data, _ENC_KRB_CRED_PART, w), 6, w)
        s_address, r_address = f[4], f[5]
        return EncKrbCredPart(
            ticket_info=tuple(
                _cred_info(data, s, e)
                for _t, _h, s, e in _items(data, f[0], "EncKrbCredPart.ticket-info")
            ),
            nonce=_opt_int(data, f[1], "EncKrbCredPart.nonce"),
            timestamp=_opt_time(data, f[2], "EncKrbCredPart.timestamp"),
            usec=_opt_int(data, f[3], "EncKrbCredPart.usec"),
            s_address=(
                None
                if s_address is None
                else _address_body(data, *_seq(s_address, "EncKrbCredPart.s-address"))
            ),
            r_address=(
                None
                if r_address is None
                else _address_body(data, *_seq(r_address, "EncKrbCredPart.r-address"))
            ),
        )
