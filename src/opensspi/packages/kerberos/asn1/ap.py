"""The AP exchange: RFC 4120 §5.5."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ....der import (
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
)
from .basic import (
    AuthorizationDataEntry,
    Checksum,
    EncryptedData,
    EncryptionKey,
    PrincipalName,
    _authz,
    _checksum_body,
    _enc,
    _opt_key,
    _principal,
)
from .codec import _bytes, _check_int, _int, _opt_int, _seq, _seq_of, _top
from .numbers import MessageType
from .oids import PVNO
from .tickets import _AUTHENTICATOR, Ticket, _ticket

_AP_REQ = 0x6E
_AP_REP = 0x6F
_ENC_AP_REP_PART = 0x7B


@dataclass(frozen=True, slots=True, kw_only=True)
class ApReq:
    """KRB_AP_REQ, RFC 4120 §5.5.1 ``[APPLICATION 14]``. The authenticator stays encrypted
    (key usage 11, or 7 inside PA-TGS-REQ)."""

    pvno: int = PVNO
    msg_type: int = MessageType.KRB_AP_REQ
    ap_options: int = 0
    ticket: Ticket
    authenticator: EncryptedData

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION 14]``)."""
        return encode_tlv(
            _AP_REQ,
            encode_fields(
                (
                    (0, encode_integer(self.pvno)),
                    (1, encode_integer(self.msg_type)),
                    (2, encode_kerberos_flags(int(self.ap_options))),
                    (3, self.ticket.raw),
                    (4, self.authenticator.build()),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes, known: Mapping[bytes, Ticket] | None = None) -> ApReq:
        """Decode an AP-REQ (unframed; see :func:`gss_unwrap_token`). Raises DecodeError.

        ``known``: tickets decoded before, by their encoding; a ticket found there is reused
        (an acceptor sees the same ticket on every connection of a client).
        """
        data = _bytes(data)
        f = read_fields(data, *_top(data, _AP_REQ, "AP-REQ"), 5, "AP-REQ")
        pvno = get_integer(data, f[0], "AP-REQ.pvno")
        _check_int(pvno, PVNO, "AP-REQ.pvno")
        msg_type = get_integer(data, f[1], "AP-REQ.msg-type")
        _check_int(msg_type, MessageType.KRB_AP_REQ, "AP-REQ.msg-type")
        return ApReq(
            pvno=pvno,
            msg_type=msg_type,
            ap_options=get_kerberos_flags(data, f[2], "AP-REQ.ap-options"),
            ticket=_ticket(data, f[3], "AP-REQ.ticket", known),
            authenticator=_enc(data, f[4], "AP-REQ.authenticator"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Authenticator:
    """Authenticator, RFC 4120 §5.5.1 ``[APPLICATION 2]``: the plaintext of
    AP-REQ.authenticator."""

    authenticator_vno: int = PVNO
    crealm: str
    cname: PrincipalName
    cksum: Checksum | None = None
    cusec: int
    ctime: datetime
    subkey: EncryptionKey | None = None
    seq_number: int | None = None
    authorization_data: tuple[AuthorizationDataEntry, ...] | None = None

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION 2]``)."""
        return encode_tlv(
            _AUTHENTICATOR,
            encode_fields(
                (
                    (0, encode_integer(self.authenticator_vno)),
                    (1, encode_kerberos_string(self.crealm)),
                    (2, self.cname.build()),
                    (3, None if self.cksum is None else self.cksum.build()),
                    (4, encode_integer(self.cusec)),
                    (5, encode_kerberos_time(self.ctime)),
                    (6, None if self.subkey is None else self.subkey.build()),
                    (7, _int(self.seq_number)),
                    (8, _seq_of(self.authorization_data)),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> Authenticator:
        """Decode an Authenticator. Raises DecodeError."""
        data = _bytes(data)
        w = "Authenticator"
        f = read_fields(data, *_top(data, _AUTHENTICATOR, w), 9, w)
        vno = get_integer(data, f[0], "Authenticator.authenticator-vno")
        _check_int(vno, PVNO, "Authenticator.authenticator-vno")
        cksum = f[3]
        return Authenticator(
            authenticator_vno=vno,
            crealm=get_kerberos_string(data, f[1], "Authenticator.crealm"),
            cname=_principal(data, f[2], "Authenticator.cname"),
            cksum=(
                None if cksum is None else _checksum_body(data, *_seq(cksum, "Authenticator.cksum"))
            ),
            cusec=get_integer(data, f[4], "Authenticator.cusec"),
            ctime=get_kerberos_time(data, f[5], "Authenticator.ctime"),
            subkey=_opt_key(data, f[6], "Authenticator.subkey"),
            seq_number=_opt_int(data, f[7], "Authenticator.seq-number"),
            authorization_data=_authz(data, f[8], "Authenticator.authorization-data"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ApRep:
    """KRB_AP_REP, RFC 4120 §5.5.2 ``[APPLICATION 15]``; enc-part is key usage 12."""

    pvno: int = PVNO
    msg_type: int = MessageType.KRB_AP_REP
    enc_part: EncryptedData

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION 15]``)."""
        return encode_tlv(
            _AP_REP,
            encode_fields(
                (
                    (0, encode_integer(self.pvno)),
                    (1, encode_integer(self.msg_type)),
                    (2, self.enc_part.build()),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> ApRep:
        """Decode an AP-REP (unframed). Raises DecodeError."""
        data = _bytes(data)
        f = read_fields(data, *_top(data, _AP_REP, "AP-REP"), 3, "AP-REP")
        pvno = get_integer(data, f[0], "AP-REP.pvno")
        _check_int(pvno, PVNO, "AP-REP.pvno")
        msg_type = get_integer(data, f[1], "AP-REP.msg-type")
        _check_int(msg_type, MessageType.KRB_AP_REP, "AP-REP.msg-type")
        return ApRep(pvno=pvno, msg_type=msg_type, enc_part=_enc(data, f[2], "AP-REP.enc-part"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EncApRepPart:
    """EncAPRepPart, RFC 4120 §5.5.2 ``[APPLICATION 27]``."""

    ctime: datetime
    cusec: int
    subkey: EncryptionKey | None = None
    seq_number: int | None = None

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION 27]``)."""
        return encode_tlv(
            _ENC_AP_REP_PART,
            encode_fields(
                (
                    (0, encode_kerberos_time(self.ctime)),
                    (1, encode_integer(self.cusec)),
                    (2, None if self.subkey is None else self.subkey.build()),
                    (3, _int(self.seq_number)),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> EncApRepPart:
        """Decode an EncAPRepPart. Raises DecodeError."""
        data = _bytes(data)
        w = "EncAPRepPart"
        f = read_fields(data, *_top(data, _ENC_AP_REP_PART, w), 4, w)
        return EncApRepPart(
            ctime=get_kerberos_time(data, f[0], "EncAPRepPart.ctime"),
            cusec=get_integer(data, f[1], "EncAPRepPart.cusec"),
            subkey=_opt_key(data, f[2], "EncAPRepPart.subkey"),
            seq_number=_opt_int(data, f[3], "EncAPRepPart.seq-number"),
        )
