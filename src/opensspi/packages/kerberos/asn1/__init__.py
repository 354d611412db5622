"""Kerberos V5 messages in ASN.1 DER: RFC 4120 §5 with the MS-KILE 2.2 additions.

RFC 4120 §5 "Message Specifications" (https://www.rfc-editor.org/rfc/rfc4120#section-5), the
GSS-API token framing of RFC 2743 §3.1 and RFC 4121 §4.1, and MS-KILE 2.2.1-2.2.3
(https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-kile/).

Rules of this module:

- Every message is a frozen, slotted dataclass whose fields are the snake_case RFC names
  (``from`` becomes ``from_``), with ``to_der() -> bytes`` and ``classmethod from_der(data)``;
  ``from_der(m.to_der()) == m``. Classes with optional fields take keyword arguments only.
- Encrypted parts stay encrypted: :class:`EncryptedData` carries the ciphertext, and the
  plaintext classes (:class:`EncTicketPart`, :class:`Authenticator`, ...) are decoded by the
  caller after decryption. Nothing here holds a key schedule or does crypto.
- :class:`Ticket` and :class:`KdcReqBody` keep ``raw``: the exact bytes received (or, when built
  here, encoded once at construction). A ticket is forwarded byte for byte, and the PA-TGS-REQ
  authenticator checksum covers the req-body as sent (RFC 4120 §7.5.1 usage 6), so neither is
  ever re-encoded. ``dataclasses.replace`` re-encodes, as it should.
- Parsing raises only :class:`~opensspi.errors.DecodeError`, naming the field and offset. The
  ASN.1 constraints ``pvno (5)`` and the ``msg-type`` of each message are enforced. Integer
  fields are not range-checked here (RFC 4120 §5.2.4 notes that some senders put negative
  numbers in UInt32 fields such as seq-number); that is the state machine's call.
- Flags are ints with the bit convention of :func:`opensspi.der.decode_kerberos_flags`: RFC bit
  ``n`` is ``1 << (31 - n)`` (``forwardable(1)`` = ``0x40000000``), exactly MIT's ``KDC_OPT_*``
  and ``TKT_FLG_*`` values. They are encoded as 32-bit strings (§5.2.8).
- Keys hide their bytes in ``repr``.

The types live in one module per RFC 4120 section (``basic`` §5.2, ``tickets`` §5.3, ``kdc`` §5.4,
``ap`` §5.5, ``cred`` §5.8, ``padata`` §5.2.7, ``error`` §5.9.1; ``u2u``, ``gss`` and ``oids`` for
the GSS mechanism; ``numbers`` for §7.5; ``codec`` for the shared DER helpers). This package
re-exports every name, so ``from opensspi.packages.kerberos.asn1 import ApReq`` is the import.
"""

from __future__ import annotations

from .ap import (
    _AP_REP as _AP_REP,
)
from .ap import (
    _AP_REQ as _AP_REQ,
)
from .ap import (
    _ENC_AP_REP_PART as _ENC_AP_REP_PART,
)
from .ap import (
    ApRep as ApRep,
)
from .ap import (
    ApReq as ApReq,
)
from .ap import (
    Authenticator as Authenticator,
)
from .ap import (
    EncApRepPart as EncApRepPart,
)
from .basic import (
    _ESCAPE_TABLE as _ESCAPE_TABLE,
)
from .basic import (
    _ESCAPES as _ESCAPES,
)
from .basic import (
    _UNESCAPES as _UNESCAPES,
)
from .basic import (
    AuthorizationDataEntry as AuthorizationDataEntry,
)
from .basic import (
    Checksum as Checksum,
)
from .basic import (
    EncryptedData as EncryptedData,
)
from .basic import (
    EncryptionKey as EncryptionKey,
)
from .basic import (
    HostAddress as HostAddress,
)
from .basic import (
    LastReqEntry as LastReqEntry,
)
from .basic import (
    PAData as PAData,
)
from .basic import (
    PrincipalName as PrincipalName,
)
from .basic import (
    TransitedEncoding as TransitedEncoding,
)
from .basic import (
    _ad_body as _ad_body,
)
from .basic import (
    _address_body as _address_body,
)
from .basic import (
    _addresses as _addresses,
)
from .basic import (
    _authz as _authz,
)
from .basic import (
    _checksum_body as _checksum_body,
)
from .basic import (
    _enc as _enc,
)
from .basic import (
    _enc_body as _enc_body,
)
from .basic import (
    _escape as _escape,
)
from .basic import (
    _key as _key,
)
from .basic import (
    _key_body as _key_body,
)
from .basic import (
    _last_req as _last_req,
)
from .basic import (
    _opt_key as _opt_key,
)
from .basic import (
    _opt_principal as _opt_principal,
)
from .basic import (
    _padata_body as _padata_body,
)
from .basic import (
    _padata_list as _padata_list,
)
from .basic import (
    _principal as _principal,
)
from .basic import (
    _principal_body as _principal_body,
)
from .basic import (
    _transited as _transited,
)
from .basic import (
    decode_authorization_data as decode_authorization_data,
)
from .basic import (
    decode_method_data as decode_method_data,
)
from .basic import (
    encode_authorization_data as encode_authorization_data,
)
from .basic import (
    encode_method_data as encode_method_data,
)
from .basic import (
    parse_principal as parse_principal,
)
from .codec import (
    _app as _app,
)
from .codec import (
    _app_body as _app_body,
)
from .codec import (
    _bytes as _bytes,
)
from .codec import (
    _check_int as _check_int,
)
from .codec import (
    _Encodable as _Encodable,
)
from .codec import (
    _flags as _flags,
)
from .codec import (
    _int as _int,
)
from .codec import (
    _items as _items,
)
from .codec import (
    _no_field0 as _no_field0,
)
from .codec import (
    _octets as _octets,
)
from .codec import (
    _opt_int as _opt_int,
)
from .codec import (
    _opt_octets as _opt_octets,
)
from .codec import (
    _opt_str as _opt_str,
)
from .codec import (
    _opt_time as _opt_time,
)
from .codec import (
    _seq as _seq,
)
from .codec import (
    _seq_of as _seq_of,
)
from .codec import (
    _str as _str,
)
from .codec import (
    _time as _time,
)
from .codec import (
    _top as _top,
)
from .cred import (
    _ENC_KRB_CRED_PART as _ENC_KRB_CRED_PART,
)
from .cred import (
    _KRB_CRED as _KRB_CRED,
)
from .cred import (
    EncKrbCredPart as EncKrbCredPart,
)
from .cred import (
    KrbCred as KrbCred,
)
from .cred import (
    KrbCredInfo as KrbCredInfo,
)
from .cred import (
    _cred_info as _cred_info,
)
from .error import (
    _EXT_ERROR as _EXT_ERROR,
)
from .error import (
    _KRB_ERROR as _KRB_ERROR,
)
from .error import (
    KerbErrorData as KerbErrorData,
)
from .error import (
    KerbExtError as KerbExtError,
)
from .error import (
    KrbError as KrbError,
)
from .gss import (
    gss_unwrap_token as gss_unwrap_token,
)
from .gss import (
    gss_wrap_token as gss_wrap_token,
)
from .kdc import (
    _ENC_AS_REP_PART as _ENC_AS_REP_PART,
)
from .kdc import (
    _ENC_TGS_REP_PART as _ENC_TGS_REP_PART,
)
from .kdc import (
    _REP_TYPES as _REP_TYPES,
)
from .kdc import (
    _REQ_TYPES as _REQ_TYPES,
)
from .kdc import (
    EncKdcRepPart as EncKdcRepPart,
)
from .kdc import (
    KdcRep as KdcRep,
)
from .kdc import (
    KdcReq as KdcReq,
)
from .kdc import (
    KdcReqBody as KdcReqBody,
)
from .kdc import (
    _message_tag as _message_tag,
)
from .kdc import (
    _req_body as _req_body,
)
from .numbers import (
    AddressType as AddressType,
)
from .numbers import (
    AdType as AdType,
)
from .numbers import (
    ApOptions as ApOptions,
)
from .numbers import (
    ChecksumType as ChecksumType,
)
from .numbers import (
    EncryptionType as EncryptionType,
)
from .numbers import (
    ErrorCode as ErrorCode,
)
from .numbers import (
    KdcOptions as KdcOptions,
)
from .numbers import (
    KerbErrorDataType as KerbErrorDataType,
)
from .numbers import (
    MessageType as MessageType,
)
from .numbers import (
    NameType as NameType,
)
from .numbers import (
    PaDataType as PaDataType,
)
from .numbers import (
    TicketFlags as TicketFlags,
)
from .oids import (
    KRB5_OID as KRB5_OID,
)
from .oids import (
    MS_KRB5_OID as MS_KRB5_OID,
)
from .oids import (
    PVNO as PVNO,
)
from .oids import (
    TOK_ID_AP_REP as TOK_ID_AP_REP,
)
from .oids import (
    TOK_ID_AP_REQ as TOK_ID_AP_REQ,
)
from .oids import (
    TOK_ID_KRB_ERROR as TOK_ID_KRB_ERROR,
)
from .oids import (
    TOK_ID_TGT_REP as TOK_ID_TGT_REP,
)
from .oids import (
    TOK_ID_TGT_REQ as TOK_ID_TGT_REQ,
)
from .oids import (
    U2U_OID as U2U_OID,
)
from .padata import (
    EtypeInfo2Entry as EtypeInfo2Entry,
)
from .padata import (
    EtypeInfoEntry as EtypeInfoEntry,
)
from .padata import (
    PaEncTsEnc as PaEncTsEnc,
)
from .padata import (
    PaPacRequest as PaPacRequest,
)
from .padata import (
    _etype_info2_body as _etype_info2_body,
)
from .padata import (
    decode_etype_info as decode_etype_info,
)
from .padata import (
    decode_etype_info2 as decode_etype_info2,
)
from .padata import (
    encode_etype_info as encode_etype_info,
)
from .padata import (
    encode_etype_info2 as encode_etype_info2,
)
from .tickets import (
    _AUTHENTICATOR as _AUTHENTICATOR,
)
from .tickets import (
    _ENC_TICKET_PART as _ENC_TICKET_PART,
)
from .tickets import (
    _TICKET as _TICKET,
)
from .tickets import (
    EncTicketPart as EncTicketPart,
)
from .tickets import (
    Ticket as Ticket,
)
from .tickets import (
    _ticket as _ticket,
)
from .tickets import (
    _ticket_body as _ticket_body,
)
from .tickets import (
    _tickets as _tickets,
)
from .u2u import (
    KerbTgtReply as KerbTgtReply,
)
from .u2u import (
    KerbTgtRequest as KerbTgtRequest,
)

__all__ = [
    "KRB5_OID",
    "MS_KRB5_OID",
    "PVNO",
    "TOK_ID_AP_REP",
    "TOK_ID_AP_REQ",
    "TOK_ID_KRB_ERROR",
    "TOK_ID_TGT_REP",
    "TOK_ID_TGT_REQ",
    "U2U_OID",
    "AdType",
    "AddressType",
    "ApOptions",
    "ApRep",
    "ApReq",
    "Authenticator",
    "AuthorizationDataEntry",
    "Checksum",
    "ChecksumType",
    "EncApRepPart",
    "EncKdcRepPart",
    "EncKrbCredPart",
    "EncTicketPart",
    "EncryptedData",
    "EncryptionKey",
    "EncryptionType",
    "ErrorCode",
    "EtypeInfo2Entry",
    "EtypeInfoEntry",
    "HostAddress",
    "KdcOptions",
    "KdcRep",
    "KdcReq",
    "KdcReqBody",
    "KerbErrorData",
    "KerbErrorDataType",
    "KerbExtError",
    "KerbTgtReply",
    "KerbTgtRequest",
    "KrbCred",
    "KrbCredInfo",
    "KrbError",
    "LastReqEntry",
    "MessageType",
    "NameType",
    "PAData",
    "PaDataType",
    "PaEncTsEnc",
    "PaPacRequest",
    "PrincipalName",
    "Ticket",
    "TicketFlags",
    "TransitedEncoding",
    "decode_authorization_data",
    "decode_etype_info",
    "decode_etype_info2",
    "decode_method_data",
    "encode_authorization_data",
    "encode_etype_info",
    "encode_etype_info2",
    "encode_method_data",
    "gss_unwrap_token",
    "gss_wrap_token",
    "parse_principal",
]
