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
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from enum import IntEnum, IntFlag
from typing import Protocol

from ...der import (
    GENERAL_STRING,
    INTEGER,
    SEQUENCE,
    Field,
    decode_initial_context_token,
    encode_boolean,
    encode_fields,
    encode_initial_context_token,
    encode_integer,
    encode_kerberos_flags,
    encode_kerberos_string,
    encode_kerberos_time,
    encode_octet_string,
    encode_sequence_of,
    encode_tlv,
    expect,
    get_boolean,
    get_integer,
    get_kerberos_flags,
    get_kerberos_string,
    get_kerberos_time,
    get_octet_string,
    read_fields,
    read_sequence_of,
    tag_name,
    unwrap,
)
from ...errors import DecodeError, InvalidParameter

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

PVNO = 5
"""``pvno``: the protocol version number of every message, RFC 4120 §5.4.1."""

KRB5_OID = "1.2.840.113554.1.2.2"
"""The Kerberos V5 GSS-API mechanism, RFC 4121 §1 (RFC 1964 §1)."""

MS_KRB5_OID = "1.2.840.48018.1.2.2"
"""The Kerberos OID as Windows spells it in SPNEGO (MS-KILE 1.9; MS-SPNG 3.1.5.2)."""

TOK_ID_AP_REQ = b"\x01\x00"
TOK_ID_AP_REP = b"\x02\x00"
TOK_ID_KRB_ERROR = b"\x03\x00"
"""TOK_ID of the RFC 4121 §4.1 context-establishment tokens."""

U2U_OID = "1.2.840.113554.1.2.2.3"
"""The user-to-user Kerberos mechanism (draft-ietf-cat-user2user / draft-swift-win2k-krb-
user2user): Windows frames every token of a user-to-user exchange with it, the AP-REQ and
AP-REP included (MS-KILE; Microsoft's "Kerberos user-to-user" captures)."""

TOK_ID_TGT_REQ = b"\x04\x00"
TOK_ID_TGT_REP = b"\x04\x01"
"""TOK_ID of KERB-TGT-REQUEST and KERB-TGT-REPLY in the user-to-user mechanism (Windows'
``KG_TOK_CTX_TGT_REQ`` 0x0400 / ``KG_TOK_CTX_TGT_REP`` 0x0401)."""


# ---------------------------------------------------------------------------------------------
# Numbers: RFC 4120 §7.5 (assigned numbers), §5.2.8 / §5.3 / §5.4.1 / §5.5.1 (flags)
# ---------------------------------------------------------------------------------------------


class MessageType(IntEnum):
    """``msg-type`` values, RFC 4120 §7.5.7; each is also the message's APPLICATION tag."""

    KRB_AS_REQ = 10
    KRB_AS_REP = 11
    KRB_TGS_REQ = 12
    KRB_TGS_REP = 13
    KRB_AP_REQ = 14
    KRB_AP_REP = 15
    KRB_TGT_REQ = 16  # "Reserved for user-to-user krb_tgt_request" (§7.5.7)
    KRB_TGT_REP = 17  # "Reserved for user-to-user krb_tgt_reply"
    KRB_RESERVED16 = 16  # the names RFC 4120 §7.5.7 prints
    KRB_RESERVED17 = 17
    KRB_SAFE = 20
    KRB_PRIV = 21
    KRB_CRED = 22
    KRB_ERROR = 30


class NameType(IntEnum):
    """``name-type`` values, RFC 4120 §6.2, RFC 6111 and RFC 6806; the negative ones are Windows'
    ``KRB_NT_MS_PRINCIPAL`` family."""

    NT_UNKNOWN = 0
    NT_PRINCIPAL = 1
    NT_SRV_INST = 2
    NT_SRV_HST = 3
    NT_SRV_XHST = 4
    NT_UID = 5
    NT_X500_PRINCIPAL = 6
    NT_SMTP_NAME = 7
    NT_ENTERPRISE = 10
    NT_WELLKNOWN = 11
    NT_SRV_HST_DOMAIN = 12
    NT_MS_PRINCIPAL = -128
    NT_MS_PRINCIPAL_AND_ID = -129
    NT_ENT_PRINCIPAL_AND_ID = -130


class PaDataType(IntEnum):
    """``padata-type`` values, RFC 4120 §7.5.2, RFC 6113, RFC 6806, MS-KILE and MS-SFU."""

    PA_TGS_REQ = 1
    PA_ENC_TIMESTAMP = 2
    PA_PW_SALT = 3
    PA_ENC_UNIX_TIME = 5
    PA_SANDIA_SECUREID = 6
    PA_SESAME = 7
    PA_OSF_DCE = 8
    PA_CYBERSAFE_SECUREID = 9
    PA_AFS3_SALT = 10
    PA_ETYPE_INFO = 11
    PA_SAM_CHALLENGE = 12
    PA_SAM_RESPONSE = 13
    PA_PK_AS_REQ_OLD = 14
    PA_PK_AS_REP_OLD = 15
    PA_PK_AS_REQ = 16
    PA_PK_AS_REP = 17
    PA_ETYPE_INFO2 = 19
    PA_USE_SPECIFIED_KVNO = 20
    PA_SAM_REDIRECT = 21
    PA_GET_FROM_TYPED_DATA = 22
    PA_SAM_ETYPE_INFO = 23
    PA_ALT_PRINC = 24
    PA_SERVER_REFERRAL = 25
    PA_SAM_CHALLENGE2 = 30
    PA_SAM_RESPONSE2 = 31
    PA_EXTRA_TGT = 41
    PA_PAC_REQUEST = 128
    PA_FOR_USER = 129
    PA_FOR_X509_USER = 130
    PA_FOR_CHECK_DUPS = 131
    PA_AS_CHECKSUM = 132
    PA_FX_COOKIE = 133
    PA_AUTHENTICATION_SET = 134
    PA_AUTH_SET_SELECTED = 135
    PA_FX_FAST = 136
    PA_FX_ERROR = 137
    PA_ENCRYPTED_CHALLENGE = 138
    PA_OTP_CHALLENGE = 141
    PA_OTP_REQUEST = 142
    PA_OTP_PIN_CHANGE = 144
    PA_EPAK_AS_REQ = 145
    PA_EPAK_AS_REP = 146
    PA_PKINIT_KX = 147
    PA_PKU2U_NAME = 148
    PA_REQ_ENC_PA_REP = 149
    PA_AS_FRESHNESS = 150
    PA_SPAKE = 151
    PA_KERB_KEY_LIST_REQ = 161
    PA_KERB_KEY_LIST_REP = 162
    PA_SUPPORTED_ETYPES = 165
    PA_EXTENDED_ERROR = 166
    PA_PAC_OPTIONS = 167


class ErrorCode(IntEnum):
    """``error-code`` values of KRB-ERROR, RFC 4120 §7.5.9 (90-93 from RFC 6113 FAST)."""

    KDC_ERR_NONE = 0
    KDC_ERR_NAME_EXP = 1
    KDC_ERR_SERVICE_EXP = 2
    KDC_ERR_BAD_PVNO = 3
    KDC_ERR_C_OLD_MAST_KVNO = 4
    KDC_ERR_S_OLD_MAST_KVNO = 5
    KDC_ERR_C_PRINCIPAL_UNKNOWN = 6
    KDC_ERR_S_PRINCIPAL_UNKNOWN = 7
    KDC_ERR_PRINCIPAL_NOT_UNIQUE = 8
    KDC_ERR_NULL_KEY = 9
    KDC_ERR_CANNOT_POSTDATE = 10
    KDC_ERR_NEVER_VALID = 11
    KDC_ERR_POLICY = 12
    KDC_ERR_BADOPTION = 13
    KDC_ERR_ETYPE_NOSUPP = 14
    KDC_ERR_SUMTYPE_NOSUPP = 15
    KDC_ERR_PADATA_TYPE_NOSUPP = 16
    KDC_ERR_TRTYPE_NOSUPP = 17
    KDC_ERR_CLIENT_REVOKED = 18
    KDC_ERR_SERVICE_REVOKED = 19
    KDC_ERR_TGT_REVOKED = 20
    KDC_ERR_CLIENT_NOTYET = 21
    KDC_ERR_SERVICE_NOTYET = 22
    KDC_ERR_KEY_EXPIRED = 23
    KDC_ERR_PREAUTH_FAILED = 24
    KDC_ERR_PREAUTH_REQUIRED = 25
    KDC_ERR_SERVER_NOMATCH = 26
    KDC_ERR_MUST_USE_USER2USER = 27
    KDC_ERR_PATH_NOT_ACCEPTED = 28
    KDC_ERR_SVC_UNAVAILABLE = 29
    KRB_AP_ERR_BAD_INTEGRITY = 31
    KRB_AP_ERR_TKT_EXPIRED = 32
    KRB_AP_ERR_TKT_NYV = 33
    KRB_AP_ERR_REPEAT = 34
    KRB_AP_ERR_NOT_US = 35
    KRB_AP_ERR_BADMATCH = 36
    KRB_AP_ERR_SKEW = 37
    KRB_AP_ERR_BADADDR = 38
    KRB_AP_ERR_BADVERSION = 39
    KRB_AP_ERR_MSG_TYPE = 40
    KRB_AP_ERR_MODIFIED = 41
    KRB_AP_ERR_BADORDER = 42
    KRB_AP_ERR_BADKEYVER = 44
    KRB_AP_ERR_NOKEY = 45
    KRB_AP_ERR_MUT_FAIL = 46
    KRB_AP_ERR_BADDIRECTION = 47
    KRB_AP_ERR_METHOD = 48
    KRB_AP_ERR_BADSEQ = 49
    KRB_AP_ERR_INAPP_CKSUM = 50
    KRB_AP_PATH_NOT_ACCEPTED = 51
    KRB_ERR_RESPONSE_TOO_BIG = 52
    KRB_ERR_GENERIC = 60
    KRB_ERR_FIELD_TOOLONG = 61
    KDC_ERROR_CLIENT_NOT_TRUSTED = 62
    KDC_ERROR_KDC_NOT_TRUSTED = 63
    KDC_ERROR_INVALID_SIG = 64
    KDC_ERR_KEY_TOO_WEAK = 65
    KDC_ERR_CERTIFICATE_MISMATCH = 66
    KRB_AP_ERR_NO_TGT = 67
    KDC_ERR_WRONG_REALM = 68
    KRB_AP_ERR_USER_TO_USER_REQUIRED = 69
    KDC_ERR_CANT_VERIFY_CERTIFICATE = 70
    KDC_ERR_INVALID_CERTIFICATE = 71
    KDC_ERR_REVOKED_CERTIFICATE = 72
    KDC_ERR_REVOCATION_STATUS_UNKNOWN = 73
    KDC_ERR_REVOCATION_STATUS_UNAVAILABLE = 74
    KDC_ERR_CLIENT_NAME_MISMATCH = 75
    KDC_ERR_KDC_NAME_MISMATCH = 76
    KDC_ERR_PREAUTH_EXPIRED = 90
    KDC_ERR_MORE_PREAUTH_DATA_REQUIRED = 91
    KDC_ERR_PREAUTH_BAD_AUTHENTICATION_SET = 92
    KDC_ERR_UNKNOWN_CRITICAL_FAST_OPTIONS = 93


class EncryptionType(IntEnum):
    """``etype`` numbers, RFC 3961 §8, RFC 3962, RFC 4757, RFC 8009."""

    DES_CBC_CRC = 1
    DES_CBC_MD4 = 2
    DES_CBC_MD5 = 3
    DES3_CBC_SHA1_KD = 16
    AES128_CTS_HMAC_SHA1_96 = 17
    AES256_CTS_HMAC_SHA1_96 = 18
    AES128_CTS_HMAC_SHA256_128 = 19
    AES256_CTS_HMAC_SHA384_192 = 20
    RC4_HMAC = 23
    RC4_HMAC_EXP = 24


class ChecksumType(IntEnum):
    """``cksumtype`` numbers, RFC 3961 §8, RFC 3962, RFC 4757, RFC 8009, RFC 4121 §4.1.1."""

    CRC32 = 1
    RSA_MD4 = 2
    RSA_MD5 = 7
    HMAC_SHA1_DES3_KD = 12
    HMAC_SHA1_96_AES128 = 15
    HMAC_SHA1_96_AES256 = 16
    HMAC_SHA256_128_AES128 = 19
    HMAC_SHA384_192_AES256 = 20
    GSSAPI = 0x8003
    HMAC_MD5 = -138


class AddressType(IntEnum):
    """``addr-type`` values, RFC 4120 §7.5.3."""

    IPV4 = 2
    DIRECTIONAL = 3
    CHAOSNET = 5
    XNS = 6
    ISO = 7
    DECNET_PHASE_IV = 12
    APPLETALK_DDP = 16
    NETBIOS = 20
    IPV6 = 24


class AdType(IntEnum):
    """``ad-type`` values, RFC 4120 §7.5.4 and MS-KILE 2.2.5-2.2.6 / MS-PAC."""

    AD_IF_RELEVANT = 1
    AD_INTENDED_FOR_SERVER = 2
    AD_INTENDED_FOR_APPLICATION_CLASS = 3
    AD_KDC_ISSUED = 4
    AD_AND_OR = 5
    AD_MANDATORY_TICKET_EXTENSIONS = 6
    AD_IN_TICKET_EXTENSIONS = 7
    AD_MANDATORY_FOR_KDC = 8
    AD_WIN2K_PAC = 128
    AD_ETYPE_NEGOTIATION = 129
    KERB_AUTH_DATA_TOKEN_RESTRICTIONS = 141
    KERB_LOCAL = 142
    AD_AUTH_DATA_AP_OPTIONS = 143
    KERB_AUTH_DATA_TARGET_NAME = 144


class KdcOptions(IntFlag):
    """KDCOptions, RFC 4120 §5.4.1 (plus RFC 6806, RFC 6112, MS-SFU); RFC bit n = 1 << (31 - n)."""

    RESERVED = 0x80000000  # bit 0
    FORWARDABLE = 0x40000000  # bit 1
    FORWARDED = 0x20000000  # bit 2
    PROXIABLE = 0x10000000  # bit 3
    PROXY = 0x08000000  # bit 4
    ALLOW_POSTDATE = 0x04000000  # bit 5
    POSTDATED = 0x02000000  # bit 6
    RENEWABLE = 0x00800000  # bit 8
    OPT_HARDWARE_AUTH = 0x00100000  # bit 11
    CONSTRAINED_DELEGATION = 0x00020000  # bit 14, MS-SFU 2.2.4 cname-in-addl-tkt
    CANONICALIZE = 0x00010000  # bit 15, RFC 6806
    REQUEST_ANONYMOUS = 0x00008000  # bit 16, RFC 6112
    DISABLE_TRANSITED_CHECK = 0x00000020  # bit 26
    RENEWABLE_OK = 0x00000010  # bit 27
    ENC_TKT_IN_SKEY = 0x00000008  # bit 28
    RENEW = 0x00000002  # bit 30
    VALIDATE = 0x00000001  # bit 31


class TicketFlags(IntFlag):
    """TicketFlags, RFC 4120 §5.3 (plus RFC 6806 and RFC 6112); RFC bit n = 1 << (31 - n)."""

    RESERVED = 0x80000000  # bit 0
    FORWARDABLE = 0x40000000  # bit 1
    FORWARDED = 0x20000000  # bit 2
    PROXIABLE = 0x10000000  # bit 3
    PROXY = 0x08000000  # bit 4
    MAY_POSTDATE = 0x04000000  # bit 5
    POSTDATED = 0x02000000  # bit 6
    INVALID = 0x01000000  # bit 7
    RENEWABLE = 0x00800000  # bit 8
    INITIAL = 0x00400000  # bit 9
    PRE_AUTHENT = 0x00200000  # bit 10
    HW_AUTHENT = 0x00100000  # bit 11
    TRANSITED_POLICY_CHECKED = 0x00080000  # bit 12
    OK_AS_DELEGATE = 0x00040000  # bit 13
    ENC_PA_REP = 0x00010000  # bit 15, RFC 6806 §11
    ANONYMOUS = 0x00008000  # bit 16, RFC 6112


class ApOptions(IntFlag):
    """APOptions, RFC 4120 §5.5.1; RFC bit n = 1 << (31 - n)."""

    RESERVED = 0x80000000  # bit 0
    USE_SESSION_KEY = 0x40000000  # bit 1
    MUTUAL_REQUIRED = 0x20000000  # bit 2


class KerbErrorDataType(IntEnum):
    """``data-type`` of KERB-ERROR-DATA, MS-KILE 2.2.2."""

    KERB_AP_ERR_TYPE_SKEW_RECOVERY = 2
    KERB_ERR_TYPE_EXTENDED = 3


# ---------------------------------------------------------------------------------------------
# Decoding helpers over opensspi.der
# ---------------------------------------------------------------------------------------------


def _bytes(data: bytes) -> bytes:
    # Accept bytes-like input at the public edge; inside, everything is bytes.
    return data if type(data) is bytes else bytes(data)


def _seq(field: Field | None, what: str) -> tuple[int, int]:
    """The contents range of the SEQUENCE inside an explicit field."""
    if field is None:
        raise DecodeError(f"{what} is missing.")
    if field[0] != SEQUENCE:
        raise DecodeError(
            f"{what}: expected SEQUENCE at offset {field[1]}, found {tag_name(field[0])}."
        )
    return field[2], field[3]


def _app_body(data: bytes, tag: int, start: int, end: int, what: str) -> tuple[int, int]:
    """The contents of the SEQUENCE that must fill an ``[APPLICATION n]`` element exactly."""
    inner, stop = expect(data, start, end, SEQUENCE, what)
    if stop != end:
        raise DecodeError(f"{what}: bytes after the SEQUENCE inside {tag_name(tag)}.")
    return inner, stop


def _app(data: bytes, field: Field | None, tag: int, what: str) -> tuple[int, int]:
    """The SEQUENCE contents of an ``[APPLICATION n]`` element held in an explicit field."""
    if field is None:
        raise DecodeError(f"{what} is missing.")
    if field[0] != tag:
        raise DecodeError(
            f"{what}: expected {tag_name(tag)} at offset {field[1]}, found {tag_name(field[0])}."
        )
    return _app_body(data, tag, field[2], field[3], what)


def _top(data: bytes, tag: int, what: str) -> tuple[int, int]:
    """The SEQUENCE contents of a whole message ``[APPLICATION n] SEQUENCE {...}`` or SEQUENCE."""
    start, end = unwrap(data, tag, what)
    if tag == SEQUENCE:
        return start, end
    return _app_body(data, tag, start, end, what)


def _no_field0(fields: list[Field | None], what: str) -> None:
    # PA-DATA, KDC-REQ and KERB-ERROR-DATA number their fields from [1].
    if fields[0] is not None:
        raise DecodeError(f"{what}: unknown field [0] at offset {fields[0][1]}.")


def _check_int(value: int, expected: int, what: str) -> None:
    if value != expected:
        raise DecodeError(f"{what} is {value}; this message requires {expected}.")


def _opt_int(data: bytes, field: Field | None, what: str) -> int | None:
    return None if field is None else get_integer(data, field, what)


def _opt_str(data: bytes, field: Field | None, what: str) -> str | None:
    return None if field is None else get_kerberos_string(data, field, what)


def _opt_time(data: bytes, field: Field | None, what: str) -> datetime | None:
    return None if field is None else get_kerberos_time(data, field, what)


def _opt_octets(data: bytes, field: Field | None, what: str) -> bytes | None:
    return None if field is None else get_octet_string(data, field, what)


def _items(data: bytes, field: Field | None, what: str) -> list[Field]:
    """The elements of the SEQUENCE OF held in an explicit field, each required to be a SEQUENCE."""
    start, end = _seq(field, what)
    items = read_sequence_of(data, start, end, what)
    for item in items:
        if item[0] != SEQUENCE:
            raise DecodeError(
                f"{what}: expected SEQUENCE at offset {item[1]}, found {tag_name(item[0])}."
            )
    return items


def _int(value: int | None) -> bytes | None:
    return None if value is None else encode_integer(value)


def _str(value: str | None) -> bytes | None:
    return None if value is None else encode_kerberos_string(value)


def _time(value: datetime | None) -> bytes | None:
    return None if value is None else encode_kerberos_time(value)


def _octets(value: bytes | None) -> bytes | None:
    return None if value is None else encode_octet_string(value)


def _flags(value: int | None) -> bytes | None:
    return None if value is None else encode_kerberos_flags(int(value))


class _Encodable(Protocol):
    """Anything with ``to_der()``."""

    def to_der(self) -> bytes: ...


def _seq_of(items: Iterable[_Encodable] | None) -> bytes | None:
    return None if items is None else encode_sequence_of(item.to_der() for item in items)


# ---------------------------------------------------------------------------------------------
# Basic types: RFC 4120 §5.2
# ---------------------------------------------------------------------------------------------


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
        name = "/".join(_escape(part) for part in self.name_string)
        return name if realm is None else f"{name}@{_escape(realm)}"

    def __str__(self) -> str:
        return self.to_text()

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, encode_integer(self.name_type)),
                (1, encode_sequence_of(encode_kerberos_string(s) for s in self.name_string)),
            )
        )

    @classmethod
    def from_der(cls, data: bytes) -> PrincipalName:
        """Decode a PrincipalName SEQUENCE. Raises DecodeError."""
        data = _bytes(data)
        return _principal_body(data, *_top(data, SEQUENCE, "PrincipalName"))


def _principal_body(data: bytes, start: int, end: int) -> PrincipalName:
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

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((0, encode_integer(self.keytype)), (1, encode_octet_string(self.keyvalue)))
        )

    @classmethod
    def from_der(cls, data: bytes) -> EncryptionKey:
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

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, encode_integer(self.etype)),
                (1, _int(self.kvno)),
                (2, encode_octet_string(self.cipher)),
            )
        )

    @classmethod
    def from_der(cls, data: bytes) -> EncryptedData:
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

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((0, encode_integer(self.cksumtype)), (1, encode_octet_string(self.checksum)))
        )

    @classmethod
    def from_der(cls, data: bytes) -> Checksum:
        """Decode a Checksum SEQUENCE. Raises DecodeError."""
        data = _bytes(data)
        return _checksum_body(data, *_top(data, SEQUENCE, "Checksum"))


def _checksum_body(data: bytes, start: int, end: int) -> Checksum:
    fields = read_fields(data, start, end, 2, "Checksum")
    return Checksum(
        get_integer(data, fields[0], "Checksum.cksumtype"),
        get_octet_string(data, fields[1], "Checksum.checksum"),
    )


@dataclass(frozen=True, slots=True)
class HostAddress:
    """HostAddress, RFC 4120 §5.2.5: ``{addr-type [0] Int32, address [1] OCTET STRING}``."""

    addr_type: int
    address: bytes

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((0, encode_integer(self.addr_type)), (1, encode_octet_string(self.address)))
        )

    @classmethod
    def from_der(cls, data: bytes) -> HostAddress:
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

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((0, encode_integer(self.ad_type)), (1, encode_octet_string(self.ad_data)))
        )

    @classmethod
    def from_der(cls, data: bytes) -> AuthorizationDataEntry:
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
    return encode_sequence_of(entry.to_der() for entry in entries)


@dataclass(frozen=True, slots=True)
class PAData:
    """PA-DATA, RFC 4120 §5.2.7: ``{padata-type [1] Int32, padata-value [2] OCTET STRING}``.

    Note the fields are numbered from 1.
    """

    padata_type: int
    padata_value: bytes

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            ((1, encode_integer(self.padata_type)), (2, encode_octet_string(self.padata_value)))
        )

    @classmethod
    def from_der(cls, data: bytes) -> PAData:
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
    return encode_sequence_of(entry.to_der() for entry in entries)


@dataclass(frozen=True, slots=True)
class TransitedEncoding:
    """TransitedEncoding, RFC 4120 §5.3: ``{tr-type [0] Int32, contents [1] OCTET STRING}``."""

    tr_type: int
    contents: bytes

    def to_der(self) -> bytes:
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

    def to_der(self) -> bytes:
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


# ---------------------------------------------------------------------------------------------
# Tickets: RFC 4120 §5.3
# ---------------------------------------------------------------------------------------------

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
                    (2, self.sname.to_der()),
                    (3, self.enc_part.to_der()),
                )
            ),
        )

    def to_der(self) -> bytes:
        """The ticket's bytes: ``raw``, never re-encoded."""
        return self.raw

    @classmethod
    def from_der(cls, data: bytes) -> Ticket:
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


def _ticket(data: bytes, field: Field | None, what: str) -> Ticket:
    if field is None:
        raise DecodeError(f"{what} is missing.")
    if field[0] != _TICKET:
        raise DecodeError(
            f"{what}: expected Ticket [APPLICATION 1] at offset {field[1]}, found "
            f"{tag_name(field[0])}."
        )
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

    def to_der(self) -> bytes:
        """DER encoding (``[APPLICATION 3]``)."""
        return encode_tlv(
            _ENC_TICKET_PART,
            encode_fields(
                (
                    (0, encode_kerberos_flags(int(self.flags))),
                    (1, self.key.to_der()),
                    (2, encode_kerberos_string(self.crealm)),
                    (3, self.cname.to_der()),
                    (4, self.transited.to_der()),
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
    def from_der(cls, data: bytes) -> EncTicketPart:
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


# ---------------------------------------------------------------------------------------------
# KDC exchanges: RFC 4120 §5.4
# ---------------------------------------------------------------------------------------------


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
                (1, None if self.cname is None else self.cname.to_der()),
                (2, encode_kerberos_string(self.realm)),
                (3, None if self.sname is None else self.sname.to_der()),
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
                    else self.enc_authorization_data.to_der(),
                ),
                (11, _seq_of(self.additional_tickets)),
            )
        )

    def to_der(self) -> bytes:
        """The req-body's bytes: ``raw``, never re-encoded."""
        return self.raw

    @classmethod
    def from_der(cls, data: bytes) -> KdcReqBody:
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

    def to_der(self) -> bytes:
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
                    (4, self.req_body.to_der()),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> KdcReq:
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

    def to_der(self) -> bytes:
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
                    (4, self.cname.to_der()),
                    (5, self.ticket.to_der()),
                    (6, self.enc_part.to_der()),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> KdcRep:
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

    def to_der(self) -> bytes:
        """DER encoding (``[APPLICATION 25]`` or ``[APPLICATION 26]``)."""
        if self.application_tag not in (_ENC_AS_REP_PART, _ENC_TGS_REP_PART):
            raise InvalidParameter(
                f"EncKDCRepPart application_tag must be 25 or 26, not {self.application_tag}."
            )
        return encode_tlv(
            0x60 | self.application_tag,
            encode_fields(
                (
                    (0, self.key.to_der()),
                    (1, _seq_of(self.last_req)),
                    (2, encode_integer(self.nonce)),
                    (3, _time(self.key_expiration)),
                    (4, encode_kerberos_flags(int(self.flags))),
                    (5, encode_kerberos_time(self.authtime)),
                    (6, _time(self.starttime)),
                    (7, encode_kerberos_time(self.endtime)),
                    (8, _time(self.renew_till)),
                    (9, encode_kerberos_string(self.srealm)),
                    (10, self.sname.to_der()),
                    (11, _seq_of(self.caddr)),
                    (12, _seq_of(self.encrypted_pa_data)),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> EncKdcRepPart:
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


# ---------------------------------------------------------------------------------------------
# AP exchange: RFC 4120 §5.5
# ---------------------------------------------------------------------------------------------

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

    def to_der(self) -> bytes:
        """DER encoding (``[APPLICATION 14]``)."""
        return encode_tlv(
            _AP_REQ,
            encode_fields(
                (
                    (0, encode_integer(self.pvno)),
                    (1, encode_integer(self.msg_type)),
                    (2, encode_kerberos_flags(int(self.ap_options))),
                    (3, self.ticket.raw),
                    (4, self.authenticator.to_der()),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> ApReq:
        """Decode an AP-REQ (unframed; see :func:`gss_unwrap_token`). Raises DecodeError."""
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
            ticket=_ticket(data, f[3], "AP-REQ.ticket"),
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

    def to_der(self) -> bytes:
        """DER encoding (``[APPLICATION 2]``)."""
        return encode_tlv(
            _AUTHENTICATOR,
            encode_fields(
                (
                    (0, encode_integer(self.authenticator_vno)),
                    (1, encode_kerberos_string(self.crealm)),
                    (2, self.cname.to_der()),
                    (3, None if self.cksum is None else self.cksum.to_der()),
                    (4, encode_integer(self.cusec)),
                    (5, encode_kerberos_time(self.ctime)),
                    (6, None if self.subkey is None else self.subkey.to_der()),
                    (7, _int(self.seq_number)),
                    (8, _seq_of(self.authorization_data)),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> Authenticator:
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

    def to_der(self) -> bytes:
        """DER encoding (``[APPLICATION 15]``)."""
        return encode_tlv(
            _AP_REP,
            encode_fields(
                (
                    (0, encode_integer(self.pvno)),
                    (1, encode_integer(self.msg_type)),
                    (2, self.enc_part.to_der()),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> ApRep:
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

    def to_der(self) -> bytes:
        """DER encoding (``[APPLICATION 27]``)."""
        return encode_tlv(
            _ENC_AP_REP_PART,
            encode_fields(
                (
                    (0, encode_kerberos_time(self.ctime)),
                    (1, encode_integer(self.cusec)),
                    (2, None if self.subkey is None else self.subkey.to_der()),
                    (3, _int(self.seq_number)),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> EncApRepPart:
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


# ---------------------------------------------------------------------------------------------
# User-to-user: RFC 4120 §2.9.2 / §3.3.3 and draft-ietf-cat-user2user §2
# ---------------------------------------------------------------------------------------------


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

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, encode_integer(self.pvno)),
                (1, encode_integer(self.msg_type)),
                (2, None if self.server_name is None else self.server_name.to_der()),
                (3, _str(self.realm)),
            )
        )

    @classmethod
    def from_der(cls, data: bytes) -> KerbTgtRequest:
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

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, encode_integer(self.pvno)),
                (1, encode_integer(self.msg_type)),
                (2, self.ticket.raw),
            )
        )

    @classmethod
    def from_der(cls, data: bytes) -> KerbTgtReply:
        """Decode a KERB-TGT-REPLY (unframed). Raises DecodeError."""
        data = _bytes(data)
        w = "KERB-TGT-REPLY"
        f = read_fields(data, *_top(data, SEQUENCE, w), 3, w)
        pvno = get_integer(data, f[0], f"{w}.pvno")
        _check_int(pvno, PVNO, f"{w}.pvno")
        msg_type = get_integer(data, f[1], f"{w}.msg-type")
        _check_int(msg_type, MessageType.KRB_TGT_REP, f"{w}.msg-type")
        return KerbTgtReply(pvno=pvno, msg_type=msg_type, ticket=_ticket(data, f[2], f"{w}.ticket"))


# ---------------------------------------------------------------------------------------------
# KRB-CRED: RFC 4120 §5.8
# ---------------------------------------------------------------------------------------------

_KRB_CRED = 0x76
_ENC_KRB_CRED_PART = 0x7D


@dataclass(frozen=True, slots=True, kw_only=True)
class KrbCred:
    """KRB-CRED, RFC 4120 §5.8.1 ``[APPLICATION 22]``; enc-part is key usage 14."""

    pvno: int = PVNO
    msg_type: int = MessageType.KRB_CRED
    tickets: tuple[Ticket, ...]
    enc_part: EncryptedData

    def to_der(self) -> bytes:
        """DER encoding (``[APPLICATION 22]``)."""
        return encode_tlv(
            _KRB_CRED,
            encode_fields(
                (
                    (0, encode_integer(self.pvno)),
                    (1, encode_integer(self.msg_type)),
                    (2, encode_sequence_of(ticket.raw for ticket in self.tickets)),
                    (3, self.enc_part.to_der()),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> KrbCred:
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

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, self.key.to_der()),
                (1, _str(self.prealm)),
                (2, None if self.pname is None else self.pname.to_der()),
                (3, _flags(self.flags)),
                (4, _time(self.authtime)),
                (5, _time(self.starttime)),
                (6, _time(self.endtime)),
                (7, _time(self.renew_till)),
                (8, _str(self.srealm)),
                (9, None if self.sname is None else self.sname.to_der()),
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

    def to_der(self) -> bytes:
        """DER encoding (``[APPLICATION 29]``)."""
        return encode_tlv(
            _ENC_KRB_CRED_PART,
            encode_fields(
                (
                    (0, encode_sequence_of(info.to_der() for info in self.ticket_info)),
                    (1, _int(self.nonce)),
                    (2, _time(self.timestamp)),
                    (3, _int(self.usec)),
                    (4, None if self.s_address is None else self.s_address.to_der()),
                    (5, None if self.r_address is None else self.r_address.to_der()),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> EncKrbCredPart:
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


# ---------------------------------------------------------------------------------------------
# Pre-authentication data: RFC 4120 §5.2.7, MS-KILE 2.2.3
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaEncTsEnc:
    """PA-ENC-TS-ENC, RFC 4120 §5.2.7.2: the plaintext of PA-ENC-TIMESTAMP (key usage 1)."""

    patimestamp: datetime
    pausec: int | None = None

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(((0, encode_kerberos_time(self.patimestamp)), (1, _int(self.pausec))))

    @classmethod
    def from_der(cls, data: bytes) -> PaEncTsEnc:
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

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(
            (
                (0, encode_integer(self.etype)),
                (1, None if self.salt is None else encode_tlv(GENERAL_STRING, self.salt)),
                (2, _octets(self.s2kparams)),
            )
        )

    @classmethod
    def from_der(cls, data: bytes) -> EtypeInfo2Entry:
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
    return encode_sequence_of(entry.to_der() for entry in entries)


@dataclass(frozen=True, slots=True)
class EtypeInfoEntry:
    """ETYPE-INFO-ENTRY, RFC 4120 §5.2.7.4 (legacy; prefer ETYPE-INFO2): ``{etype [0], salt [1]
    OCTET STRING OPTIONAL}``."""

    etype: int
    salt: bytes | None = None

    def to_der(self) -> bytes:
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
    return encode_sequence_of(entry.to_der() for entry in entries)


@dataclass(frozen=True, slots=True)
class PaPacRequest:
    """KERB-PA-PAC-REQUEST, MS-KILE 2.2.3: ``{include-pac [0] BOOLEAN}`` (padata-type 128)."""

    include_pac: bool

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(((0, encode_boolean(self.include_pac)),))

    @classmethod
    def from_der(cls, data: bytes) -> PaPacRequest:
        """Decode a KERB-PA-PAC-REQUEST. Raises DecodeError."""
        data = _bytes(data)
        w = "KERB-PA-PAC-REQUEST"
        f = read_fields(data, *_top(data, SEQUENCE, w), 1, w)
        return PaPacRequest(get_boolean(data, f[0], "KERB-PA-PAC-REQUEST.include-pac"))


# ---------------------------------------------------------------------------------------------
# KRB-ERROR: RFC 4120 §5.9.1, MS-KILE 2.2.1-2.2.2
# ---------------------------------------------------------------------------------------------

_KRB_ERROR = 0x7E
_EXT_ERROR = struct.Struct("<III")


@dataclass(frozen=True, slots=True)
class KerbExtError:
    """KERB-EXT-ERROR, MS-KILE 2.2.1: 12 bytes, little-endian ``status`` (an NTSTATUS),
    ``reserved``, ``flags`` (0x00000001 when the status is valid)."""

    status: int
    reserved: int = 0
    flags: int = 1

    def pack(self) -> bytes:
        """The 12 bytes."""
        try:
            return _EXT_ERROR.pack(self.status, self.reserved, self.flags)
        except struct.error as exc:
            raise InvalidParameter("KERB-EXT-ERROR fields must be 32-bit unsigned.") from exc

    @classmethod
    def unpack(cls, data: bytes) -> KerbExtError:
        """Parse the 12 bytes. Raises DecodeError on another size."""
        if len(data) != _EXT_ERROR.size:
            raise DecodeError(f"KERB-EXT-ERROR is 12 bytes, not {len(data)}.")
        return cls(*_EXT_ERROR.unpack(data))


@dataclass(frozen=True, slots=True)
class KerbErrorData:
    """KERB-ERROR-DATA, MS-KILE 2.2.2: ``{data-type [1] INTEGER, data-value [2] OCTET STRING
    OPTIONAL}``, sent in KRB-ERROR e-data."""

    data_type: int
    data_value: bytes | None = None

    def to_der(self) -> bytes:
        """DER encoding (a SEQUENCE)."""
        return encode_fields(((1, encode_integer(self.data_type)), (2, _octets(self.data_value))))

    @classmethod
    def from_der(cls, data: bytes) -> KerbErrorData:
        """Decode a KERB-ERROR-DATA. Raises DecodeError."""
        data = _bytes(data)
        w = "KERB-ERROR-DATA"
        f = read_fields(data, *_top(data, SEQUENCE, w), 3, w)
        _no_field0(f, w)
        return KerbErrorData(
            get_integer(data, f[1], "KERB-ERROR-DATA.data-type"),
            _opt_octets(data, f[2], "KERB-ERROR-DATA.data-value"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class KrbError:
    """KRB-ERROR, RFC 4120 §5.9.1 ``[APPLICATION 30]``.

    ``e_data`` stays bytes; :meth:`method_data`, :meth:`etype_info2`, :meth:`error_data` and
    :meth:`ntstatus` read the forms KDCs put there.
    """

    pvno: int = PVNO
    msg_type: int = MessageType.KRB_ERROR
    ctime: datetime | None = None
    cusec: int | None = None
    stime: datetime
    susec: int
    error_code: int
    crealm: str | None = None
    cname: PrincipalName | None = None
    realm: str
    sname: PrincipalName
    e_text: str | None = None
    e_data: bytes | None = None

    def to_der(self) -> bytes:
        """DER encoding (``[APPLICATION 30]``)."""
        return encode_tlv(
            _KRB_ERROR,
            encode_fields(
                (
                    (0, encode_integer(self.pvno)),
                    (1, encode_integer(self.msg_type)),
                    (2, _time(self.ctime)),
                    (3, _int(self.cusec)),
                    (4, encode_kerberos_time(self.stime)),
                    (5, encode_integer(self.susec)),
                    (6, encode_integer(self.error_code)),
                    (7, _str(self.crealm)),
                    (8, None if self.cname is None else self.cname.to_der()),
                    (9, encode_kerberos_string(self.realm)),
                    (10, self.sname.to_der()),
                    (11, _str(self.e_text)),
                    (12, _octets(self.e_data)),
                )
            ),
        )

    @classmethod
    def from_der(cls, data: bytes) -> KrbError:
        """Decode a KRB-ERROR (unframed). Raises DecodeError."""
        data = _bytes(data)
        f = read_fields(data, *_top(data, _KRB_ERROR, "KRB-ERROR"), 13, "KRB-ERROR")
        pvno = get_integer(data, f[0], "KRB-ERROR.pvno")
        _check_int(pvno, PVNO, "KRB-ERROR.pvno")
        msg_type = get_integer(data, f[1], "KRB-ERROR.msg-type")
        _check_int(msg_type, MessageType.KRB_ERROR, "KRB-ERROR.msg-type")
        return KrbError(
            pvno=pvno,
            msg_type=msg_type,
            ctime=_opt_time(data, f[2], "KRB-ERROR.ctime"),
            cusec=_opt_int(data, f[3], "KRB-ERROR.cusec"),
            stime=get_kerberos_time(data, f[4], "KRB-ERROR.stime"),
            susec=get_integer(data, f[5], "KRB-ERROR.susec"),
            error_code=get_integer(data, f[6], "KRB-ERROR.error-code"),
            crealm=_opt_str(data, f[7], "KRB-ERROR.crealm"),
            cname=_opt_principal(data, f[8], "KRB-ERROR.cname"),
            realm=get_kerberos_string(data, f[9], "KRB-ERROR.realm"),
            sname=_principal(data, f[10], "KRB-ERROR.sname"),
            e_text=_opt_str(data, f[11], "KRB-ERROR.e-text"),
            e_data=_opt_octets(data, f[12], "KRB-ERROR.e-data"),
        )

    def method_data(self) -> tuple[PAData, ...] | None:
        """e-data as METHOD-DATA (RFC 4120 §5.9.1; sent with KDC_ERR_PREAUTH_REQUIRED and
        friends), or ``None`` when there is no e-data or it is not a METHOD-DATA."""
        if self.e_data is None:
            return None
        try:
            return decode_method_data(self.e_data)
        except DecodeError:
            return None

    def etype_info2(self) -> tuple[EtypeInfo2Entry, ...] | None:
        """The ETYPE-INFO2 (PA type 19) in the METHOD-DATA e-data, if there is one.

        Raises:
            DecodeError: a PA-ETYPE-INFO2 is present but malformed.
        """
        for padata in self.method_data() or ():
            if padata.padata_type == PaDataType.PA_ETYPE_INFO2:
                return decode_etype_info2(padata.padata_value)
        return None

    def error_data(self) -> KerbErrorData | None:
        """e-data as MS-KILE 2.2.2 KERB-ERROR-DATA, or ``None`` when it is not one."""
        if self.e_data is None:
            return None
        try:
            return KerbErrorData.from_der(self.e_data)
        except DecodeError:
            return None

    def ntstatus(self) -> int | None:
        """The NTSTATUS of an MS-KILE 2.2.1 KERB-EXT-ERROR in e-data, if any.

        Looked for in KERB-ERROR-DATA with ``KERB_ERR_TYPE_EXTENDED`` (MS-KILE 2.2.2), and in a
        12-byte PA-PW-SALT (type 3) of a METHOD-DATA e-data, where Windows KDCs put it for AS
        errors. Only a structure whose ``flags`` has bit 0x1 set ("status is valid") counts.
        """
        candidates: list[bytes] = []
        error_data = self.error_data()
        if (
            error_data is not None
            and error_data.data_type == KerbErrorDataType.KERB_ERR_TYPE_EXTENDED
            and error_data.data_value is not None
        ):
            candidates.append(error_data.data_value)
        for padata in self.method_data() or ():
            if padata.padata_type == PaDataType.PA_PW_SALT:
                candidates.append(padata.padata_value)
        for raw in candidates:
            if len(raw) == _EXT_ERROR.size:
                ext = KerbExtError.unpack(raw)
                if ext.flags & 1:
                    return ext.status
        return None


# ---------------------------------------------------------------------------------------------
# GSS-API framing: RFC 2743 §3.1, RFC 4121 §4.1
# ---------------------------------------------------------------------------------------------


def gss_wrap_token(oid: str, tok_id: bytes, body: bytes) -> bytes:
    """Frame a context token: ``0x60 len | 06 len OID | TOK_ID (2 bytes) | body``.

    RFC 4121 §4.1: the AP-REQ (TOK_ID ``01 00``), AP-REP (``02 00``) and KRB-ERROR (``03 00``)
    tokens of the Kerberos mechanism carry this framing; ``oid`` is normally :data:`KRB5_OID`.
    """
    if len(tok_id) != 2:
        raise InvalidParameter(f"TOK_ID is 2 bytes, not {len(tok_id)}.")
    return encode_initial_context_token(oid, bytes(tok_id) + bytes(body))


def gss_unwrap_token(
    data: bytes, *, expect_oid: str | None = None, expect_tok_id: bytes | None = None
) -> tuple[str, bytes, bytes]:
    """Split a framed context token into ``(oid, tok_id, body)``.

    Raises:
        DecodeError: not RFC 2743 framed, no room for a TOK_ID, or (when given) another OID
            or TOK_ID than expected.
    """
    oid, inner = decode_initial_context_token(_bytes(data))
    if len(inner) < 2:
        raise DecodeError("GSS token: no room for the 2-byte TOK_ID after the mechanism OID.")
    if expect_oid is not None and oid != expect_oid:
        raise DecodeError(f"GSS token: mechanism {oid}, expected {expect_oid}.")
    tok_id = inner[:2]
    if expect_tok_id is not None and tok_id != expect_tok_id:
        raise DecodeError(f"GSS token: TOK_ID {tok_id.hex()}, expected {expect_tok_id.hex()}.")
    return oid, tok_id, inner[2:]
