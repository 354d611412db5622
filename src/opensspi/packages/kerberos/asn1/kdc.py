"""KDC exchanges (AS and TGS): RFC 4120 §5.4."""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from datetime import datetime

from ....der import (
    INTEGER,
    SEQUENCE,
    encode_fields,
    encode_integer,
    encode_kerberos_flags,
    encode_kerberos_string,
    encode_kerberos_time,
    encode_sequence_of,
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
from ....errors import DecodeError, InvalidParameter
from .basic import (
    EncryptedData,
    EncryptionKey,
    HostAddress,
    LastReqEntry,
    PAData,
    PrincipalName,
    _addresses,
    _enc,
    _key,
    _last_req,
    _opt_principal,
    _padata_list,
    _principal,
)
from .codec import _bytes, _check_int, _no_field0, _opt_time, _seq, _seq_of, _time, _top
from .numbers import MessageType
from .oids import PVNO
from .tickets import Ticket, _ticket, _tickets


@dataclass(frozen=True, slots=True, kw_only=True)
class KdcReqBody:
    """KDC-REQ-BODY, RFC 4120 §5.4.1.

    ``raw`` is the exact encoding (as received, or encoded once when built): the PA-TGS-REQ
    authenticator checksum (key usage 6) and FAST armor cover these bytes.
    """

    kdc_options: int
    cname: PrincipalName | None = None
    realm: str
    sname: PrincipalName | None = None
    from_: datetime | None = None
    till: datetime
    rtime: datetime | None = None
    nonce: int
    etype: tuple[int, ...]
    addresses: tuple[HostAddress, ...] | None = None
    enc_authorization_data: EncryptedData | None = None
    additional_tickets: tuple[Ticket, ...] | None = None
    raw: bytes = field(init=False, repr=False, compare=False)
    encoded: InitVar[bytes | None] = None

    def __post_init__(self, encoded: bytes | None) -> None:
        object.__setattr__(self, "raw", self._encode() if encoded is None else encoded)

    def _encode(self) -> bytes:
        return encode_fields(
            (
                (0, encode_kerberos_flags(int(self.kdc_options))),
                (1, None if self.cname is None else self.cname.build()),
                (2, encode_kerberos_string(self.realm)),
                (3, None if self.sname is None else self.sname.build()),
                (4, _time(self.from_)),
                (5, encode_kerberos_time(self.till)),
                (6, _time(self.rtime)),
                (7, encode_integer(self.nonce)),
                (8, encode_sequence_of(encode_integer(e) for e in self.etype)),
                (9, _seq_of(self.addresses)),
                (
                    10,
                    None
                    if self.enc_authorization_data is None
                    else self.enc_authorization_data.build(),
                ),
                (11, _seq_of(self.additional_tickets)),
            )
        )

    def build(self) -> bytes:
        """The req-body's bytes: ``raw``, never re-encoded."""
        return self.raw

    @classmethod
    def parse(cls, data: bytes) -> KdcReqBody:
        """Decode a KDC-REQ-BODY SEQUENCE. Raises DecodeError."""
        data = _bytes(data)
        start, end = unwrap(data, SEQUENCE, "KDC-REQ-BODY")
        return _req_body(data, 0, start, end)


def _req_body(data: bytes, head: int, start: int, end: int) -> KdcReqBody:
    f = read_fields(data, start, end, 12, "KDC-REQ-BODY")
    etypes = []
    inner, stop = _seq(f[8], "KDC-REQ-BODY.etype")
    for tag, h, s, e in read_sequence_of(data, inner, stop, "KDC-REQ-BODY.etype"):
        if tag != INTEGER:
            raise DecodeError(
                f"KDC-REQ-BODY.etype: expected INTEGER at offset {h}, found {tag_name(tag)}."
            )
        etypes.append(get_integer(data, (tag, h, s, e), "KDC-REQ-BODY.etype"))
    additional = f[11]
    enc_ad = f[10]
    return KdcReqBody(
        kdc_options=get_kerberos_flags(data, f[0], "KDC-REQ-BODY.kdc-options"),
        cname=_opt_principal(data, f[1], "KDC-REQ-BODY.cname"),
        realm=get_kerberos_string(data, f[2], "KDC-REQ-BODY.realm"),
        sname=_opt_principal(data, f[3], "KDC-REQ-BODY.sname"),
        from_=_opt_time(data, f[4], "KDC-REQ-BODY.from"),
        till=get_kerberos_time(data, f[5], "KDC-REQ-BODY.till"),
        rtime=_opt_time(data, f[6], "KDC-REQ-BODY.rtime"),
        nonce=get_integer(data, f[7], "KDC-REQ-BODY.nonce"),
        etype=tuple(etypes),
        addresses=_addresses(data, f[9], "KDC-REQ-BODY.addresses"),
        enc_authorization_data=(
            None if enc_ad is None else _enc(data, enc_ad, "KDC-REQ-BODY.enc-authorization-data")
        ),
        additional_tickets=(
            None
            if additional is None
            else _tickets(data, additional, "KDC-REQ-BODY.additional-tickets")
        ),
        encoded=data[head:end],
    )


_REQ_TYPES = (MessageType.KRB_AS_REQ, MessageType.KRB_TGS_REQ)
_REP_TYPES = (MessageType.KRB_AS_REP, MessageType.KRB_TGS_REP)


def _message_tag(data: bytes, allowed: tuple[int, ...], what: str) -> int:
    if not data:
        raise DecodeError(f"{what}: empty message.")
    tag = data[0]
    if tag & 0xE0 != 0x60 or tag & 0x1F not in allowed:
        names = " or ".join(f"[APPLICATION {n}]" for n in allowed)
        raise DecodeError(f"{what}: expected {names}, found {tag_name(tag)}.")
    return tag


@dataclass(frozen=True, slots=True, kw_only=True)
class KdcReq:
    """KDC-REQ, RFC 4120 §5.4.1: AS-REQ ``[APPLICATION 10]`` or TGS-REQ ``[APPLICATION 12]``
    (chosen by ``msg_type``). Fields are numbered from [1]."""

    pvno: int = PVNO
    msg_type: int
    padata: tuple[PAData, ...] | None = None
    req_body: KdcReqBody

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION msg_type]``)."""
        if self.msg_type not in _REQ_TYPES:
            raise InvalidParameter(f"KDC-REQ msg-type must be 10 or 12, not {self.msg_type}.")
        return encode_tlv(
            0x60 | self.msg_type,
            encode_fields(
                (
                    (1, encode_integer(self.pvno)),
                    (2, encode_integer(self.msg_type)),
                    (3, _seq_of(self.padata)),
                    (4, self.req_body.build()),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> KdcReq:
        """Decode an AS-REQ or TGS-REQ. Raises DecodeError."""
        data = _bytes(data)
        tag = _message_tag(data, _REQ_TYPES, "KDC-REQ")
        f = read_fields(data, *_top(data, tag, "KDC-REQ"), 5, "KDC-REQ")
        _no_field0(f, "KDC-REQ")
        pvno = get_integer(data, f[1], "KDC-REQ.pvno")
        _check_int(pvno, PVNO, "KDC-REQ.pvno")
        msg_type = get_integer(data, f[2], "KDC-REQ.msg-type")
        _check_int(msg_type, tag & 0x1F, "KDC-REQ.msg-type")
        body = f[4]
        if body is None:
            raise DecodeError("KDC-REQ.req-body is missing.")
        if body[0] != SEQUENCE:
            raise DecodeError(f"KDC-REQ.req-body: expected SEQUENCE at offset {body[1]}.")
        return KdcReq(
            pvno=pvno,
            msg_type=msg_type,
            padata=_padata_list(data, f[3], "KDC-REQ.padata"),
            req_body=_req_body(data, body[1], body[2], body[3]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class KdcRep:
    """KDC-REP, RFC 4120 §5.4.2: AS-REP ``[APPLICATION 11]`` or TGS-REP ``[APPLICATION 13]``."""

    pvno: int = PVNO
    msg_type: int
    padata: tuple[PAData, ...] | None = None
    crealm: str
    cname: PrincipalName
    ticket: Ticket
    enc_part: EncryptedData

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION msg_type]``)."""
        if self.msg_type not in _REP_TYPES:
            raise InvalidParameter(f"KDC-REP msg-type must be 11 or 13, not {self.msg_type}.")
        return encode_tlv(
            0x60 | self.msg_type,
            encode_fields(
                (
                    (0, encode_integer(self.pvno)),
                    (1, encode_integer(self.msg_type)),
                    (2, _seq_of(self.padata)),
                    (3, encode_kerberos_string(self.crealm)),
                    (4, self.cname.build()),
                    (5, self.ticket.build()),
                    (6, self.enc_part.build()),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> KdcRep:
        """Decode an AS-REP or TGS-REP. Raises DecodeError."""
        data = _bytes(data)
        tag = _message_tag(data, _REP_TYPES, "KDC-REP")
        f = read_fields(data, *_top(data, tag, "KDC-REP"), 7, "KDC-REP")
        pvno = get_integer(data, f[0], "KDC-REP.pvno")
        _check_int(pvno, PVNO, "KDC-REP.pvno")
        msg_type = get_integer(data, f[1], "KDC-REP.msg-type")
        _check_int(msg_type, tag & 0x1F, "KDC-REP.msg-type")
        return KdcRep(
            pvno=pvno,
            msg_type=msg_type,
            padata=_padata_list(data, f[2], "KDC-REP.padata"),
            crealm=get_kerberos_string(data, f[3], "KDC-REP.crealm"),
            cname=_principal(data, f[4], "KDC-REP.cname"),
            ticket=_ticket(data, f[5], "KDC-REP.ticket"),
            enc_part=_enc(data, f[6], "KDC-REP.enc-part"),
        )


_ENC_AS_REP_PART = 25
_ENC_TGS_REP_PART = 26


@dataclass(frozen=True, slots=True, kw_only=True)
class EncKdcRepPart:
    """EncKDCRepPart, RFC 4120 §5.4.2: the plaintext of KDC-REP.enc-part (key usage 3, 8 or 9).

    ``application_tag`` is 25 (EncASRepPart) or 26 (EncTGSRepPart) as received; §5.4.2 tells a
    client to accept either in either reply (MIT and Windows differ), so it is kept for a
    byte-exact re-encoding. ``encrypted_pa_data`` [12] is RFC 6806 §11's addition.
    """

    key: EncryptionKey
    last_req: tuple[LastReqEntry, ...]
    nonce: int
    key_expiration: datetime | None = None
    flags: int
    authtime: datetime
    starttime: datetime | None = None
    endtime: datetime
    renew_till: datetime | None = None
    srealm: str
    sname: PrincipalName
    caddr: tuple[HostAddress, ...] | None = None
    encrypted_pa_data: tuple[PAData, ...] | None = None
    application_tag: int = _ENC_AS_REP_PART

    def build(self) -> bytes:
        """DER encoding (``[APPLICATION 25]`` or ``[APPLICATION 26]``)."""
        if self.application_tag not in (_ENC_AS_REP_PART, _ENC_TGS_REP_PART):
            raise InvalidParameter(
                f"EncKDCRepPart application_tag must be 25 or 26, not {self.application_tag}."
            )
        return encode_tlv(
            0x60 | self.application_tag,
            encode_fields(
                (
                    (0, self.key.build()),
                    (1, _seq_of(self.last_req)),
                    (2, encode_integer(self.nonce)),
                    (3, _time(self.key_expiration)),
                    (4, encode_kerberos_flags(int(self.flags))),
                    (5, encode_kerberos_time(self.authtime)),
                    (6, _time(self.starttime)),
                    (7, encode_kerberos_time(self.endtime)),
                    (8, _time(self.renew_till)),
                    (9, encode_kerberos_string(self.srealm)),
                    (10, self.sname.build()),
                    (11, _seq_of(self.caddr)),
                    (12, _seq_of(self.encrypted_pa_data)),
                )
            ),
        )

    @classmethod
    def parse(cls, data: bytes) -> EncKdcRepPart:
        """Decode an EncASRepPart or EncTGSRepPart. Raises DecodeError."""
        data = _bytes(data)
        w = "EncKDCRepPart"
        tag = _message_tag(data, (_ENC_AS_REP_PART, _ENC_TGS_REP_PART), w)
        f = read_fields(data, *_top(data, tag, w), 13, w)
        return EncKdcRepPart(
            key=_key(data, f[0], "EncKDCRepPart.key"),
            last_req=_last_req(data, f[1], "EncKDCRepPart.last-req"),
            nonce=get_integer(data, f[2], "EncKDCRepPart.nonce"),
            key_expiration=_opt_time(data, f[3], "EncKDCRepPart.key-expiration"),
            flags=get_kerberos_flags(data, f[4], "EncKDCRepPart.flags"),
            authtime=get_kerberos_time(data, f[5], "EncKDCRepPart.authtime"),
            starttime=_opt_time(data, f[6], "EncKDCRepPart.starttime"),
            endtime=get_kerberos_time(data, f[7], "EncKDCRepPart.endtime"),
            renew_till=_opt_time(data, f[8], "EncKDCRepPart.renew-till"),
            srealm=get_kerberos_string(data, f[9], "EncKDCRepPart.srealm"),
            sname=_principal(data, f[10], "EncKDCRepPart.sname"),
            caddr=_addresses(data, f[11], "EncKDCRepPart.caddr"),
            encrypted_pa_data=_padata_list(data, f[12], "EncKDCRepPart.encrypted-pa-data"),
            application_tag=tag & 0x1F,
        )
