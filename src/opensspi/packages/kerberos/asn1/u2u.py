"""User-to-user: RFC 4120 §2.9.2 / §3.3.3 and draft-ietf-cat-user2user §2."""

from __future__ import annotations

from dataclasses import dataclass

from ....der import (
    SEQUENCE,
    encode_fields,
    encode_integer,
    get_integer,
    read_fields,
)
from .basic import PrincipalName, _opt_principal
from .codec import _bytes, _check_int, _opt_str, _str, _top
from .numbers import MessageType
from .oids import PVNO
from .tickets import Ticket, _ticket


@dataclass(frozen=True, slots=True, kw_only=True)
class KerbTgtRequest:
    """KERB-TGT-REQUEST (KRB_TGT_REQ), draft-ietf-cat-user2user-02 §2 as MS-KILE uses it::

        KERB-TGT-REQUEST ::= SEQUENCE {
            pvno[0]                         INTEGER,
            msg-type[1]                     INTEGER,
            server-name[2]                  PrincipalName OPTIONAL,
            realm[3]                        Realm OPTIONAL
        }

    msg-type is KRB_TGT_REQ (16). A plain SEQUENCE, without an APPLICATION tag.
    """

    pvno: int = PVNO
    msg_type: int = MessageType.KRB_TGT_REQ
    server_name: PrincipalName | None = None
    realm: str | None = None

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, encode_integer(self.pvno)),
                (1, encode_integer(self.msg_type)),
                (2, None if self.server_name is None else self.server_name.build()),
                (3, _str(self.realm)),
            )
        )

    @classmethod
    def parse(cls, data: bytes) -> KerbTgtRequest:
        """Decode a KERB-TGT-REQUEST (unframed). Raises DecodeError."""
        data = _bytes(data)
        w = "KERB-TGT-REQUEST"
        f = read_fields(data, *_top(data, SEQUENCE, w), 4, w)
        pvno = get_integer(data, f[0], f"{w}.pvno")
        _check_int(pvno, PVNO, f"{w}.pvno")
        msg_type = get_integer(data, f[1], f"{w}.msg-type")
        _check_int(msg_type, MessageType.KRB_TGT_REQ, f"{w}.msg-type")
        return KerbTgtRequest(
            pvno=pvno,
            msg_type=msg_type,
            server_name=_opt_principal(data, f[2], f"{w}.server-name"),
            realm=_opt_str(data, f[3], f"{w}.realm"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class KerbTgtReply:
    """KERB-TGT-REPLY (KRB_TGT_REP), draft-ietf-cat-user2user-02 §2 as MS-KILE uses it::

        KERB-TGT-REPLY ::= SEQUENCE {
            pvno[0]                         INTEGER,
            msg-type[1]                     INTEGER,
            ticket[2]                       Ticket
        }

    msg-type is KRB_TGT_REP (17); the ticket is the server's TGT, forwarded byte for byte.
    """

    pvno: int = PVNO
    msg_type: int = MessageType.KRB_TGT_REP
    ticket: Ticket

    def build(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, encode_integer(self.pvno)),
                (1, encode_integer(self.msg_type)),
                (2, self.ticket.raw),
            )
        )

    @classmethod
    def parse(cls, data: bytes) -> KerbTgtReply:
        """Decode a KERB-TGT-REPLY (unframed). Raises DecodeError."""
        data = _bytes(data)
        w = "KERB-TGT-REPLY"
        f = read_fields(data, *_top(data, SEQUENCE, w), 3, w)
        pvno = get_integer(data, f[0], f"{w}.pvno")
        _check_int(pvno, PVNO, f"{w}.pvno")
        msg_type = get_integer(data, f[1], f"{w}.msg-type")
        _check_int(msg_type, MessageType.KRB_TGT_REP, f"{w}.msg-type")
        return KerbTgtReply(pvno=pvno, msg_type=msg_type, ticket=_ticket(data, f[2], f"{w}.ticket"))
