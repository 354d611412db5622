"""The client's KDC exchanges, sans-I/O: AS (RFC 4120 §3.1) and TGS (§3.3), with referrals.

RFC 4120 §3.1 "The Authentication Service Exchange", §3.3 "The Ticket-Granting Service (TGS)
Exchange", §5.4 (KDC-REQ / KDC-REP), §5.2.7 (pre-authentication), §7.5.1 (key usages); RFC 6806
(canonicalization and referrals); MS-KILE 2.2.3 (PA-PAC-REQUEST) and 2.2.1 (KERB-EXT-ERROR).
https://www.rfc-editor.org/rfc/rfc4120, https://www.rfc-editor.org/rfc/rfc6806

The protocol with the caller
----------------------------
Every exchange is a **generator** ``Generator[KdcRequest, bytes, T]``. Each ``yield`` hands the
caller a :class:`~opensspi.provider.KdcRequest` (the bytes, the realm, its KDCs and time-outs);
the caller delivers it (``opensspi.transport.send_to_kdc`` or the asyncio variant) and resumes
the generator with ``gen.send(reply_bytes)``. When the exchange is done the generator returns its
result (``StopIteration.value``); on failure it raises an :class:`~opensspi.errors.SspiError`.
A transport failure is the caller's to raise (``NoAuthenticatingAuthority``); the generator
is then simply dropped. :func:`run_exchange` is that loop for a blocking ``send``.

Why generators here and not the transition table of STYLE.md: a KDC exchange is a straight
request/reply sequence (AS-REQ, maybe PREAUTH_REQUIRED and a second AS-REQ, then TGS-REQs along a
referral chain) that runs *inside one state* of the security context (``EXPECT_KDC_REPLY``). The
context's own table keeps owning the handshake states; within that state, the ordinary control
flow of a generator states the exchange far more plainly than a dozen micro-states would, and it
composes (``service_ticket`` = cache, else ``yield from`` AS, then ``yield from`` TGS).

Rules of this module: no socket, clock or random source except through ``Environment``; every
reply is parsed and checked before anything is believed (nonce, names, enctypes, times); a
malformed reply is :class:`~opensspi.errors.InvalidToken`, a KRB-ERROR is mapped by
:func:`krb_error_to_sspi` (reference B.10); messages name principals, realms and codes, never a
key or password. The one exception to "no I/O": KDC discovery by DNS SRV, done through the
credential's (injectable) locator when krb5.conf lists no KDC for a realm.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from datetime import datetime, timedelta
from typing import TypeVar

from ...constants import SecStatus
from ...errors import (
    AlgorithmMismatch,
    ContextExpired,
    DecodeError,
    InvalidToken,
    LogonDenied,
    MessageAltered,
    NoAuthenticatingAuthority,
    NoCredentials,
    OutOfSequence,
    SspiError,
    TargetUnknown,
    TimeSkew,
    UnsupportedFunction,
    WrongPrincipal,
)
from ...provider import Environment, KdcRequest
from .asn1 import (
    ApReq,
    Authenticator,
    Checksum,
    EncKdcRepPart,
    EncryptedData,
    EncryptionKey,
    ErrorCode,
    EtypeInfo2Entry,
    KdcOptions,
    KdcRep,
    KdcReq,
    KdcReqBody,
    KrbError,
    MessageType,
    NameType,
    PAData,
    PaDataType,
    PaEncTsEnc,
    PaPacRequest,
    PrincipalName,
    Ticket,
    TicketFlags,
    decode_etype_info,
    decode_etype_info2,
)
from .credentials import KerberosCredential
from .crypto import Key, decrypt, encrypt, enctype_name, make_checksum, profile, random_key
from .names import Principal
from .tickets import ServiceTicket

__all__ = [
    "MAX_REFERRALS",
    "EtypeNotSupported",
    "KdcExchange",
    "KdcLogonDenied",
    "KdcTargetUnknown",
    "KdcTicketExpired",
    "KdcTimeSkew",
    "KdcUnavailable",
    "KdcWrongPrincipal",
    "KerberosError",
    "NotForwardable",
    "PasswordExpired",
    "ReplayDetected",
    "UserToUserRequired",
    "as_exchange",
    "cached_service_ticket",
    "forwarded_tgt",
    "get_tgt",
    "krb_error_to_sspi",
    "run_exchange",
    "run_exchange_async",
    "service_ticket",
    "tgs_exchange",
    "user_to_user",
]

T = TypeVar("T")
_E = TypeVar("_E", bound="KerberosError")
KdcExchange = Generator[KdcRequest, bytes, T]
"""A KDC exchange: yields requests, receives replies via ``send()``, returns ``T``."""

MAX_REFERRALS = 10
"""RFC 6806 §8 / reference B.3: how many referral hops (client or server) are followed."""

_NONCE_MASK = 0x7FFFFFFF  # MIT and Windows send 31-bit nonces; some KDCs sign-extend more.
_STATUS_ACCOUNT_DISABLED = 0xC0000072
_STATUS_PASSWORD_EXPIRED = 0xC0000071


# ---------------------------------------------------------------------------------------------
# Errors: reference B.10
# ---------------------------------------------------------------------------------------------


class KerberosError(SspiError):
    """An ``SspiError`` caused by a Kerberos protocol error.

    Attributes:
        krb_error: the KRB-ERROR code (RFC 4120 §7.5.9) received or that applies, if any.
        ntstatus: the NTSTATUS a Windows KDC sent in KERB-EXT-ERROR (MS-KILE 2.2.1), if any.
        e_text: the KDC's ``e-text``, if any.
    """

    def __init__(
        self,
        message: str,
        status: SecStatus | None = None,
        *,
        krb_error: int | None = None,
        ntstatus: int | None = None,
        e_text: str | None = None,
    ) -> None:
        super().__init__(message, status)
        self.krb_error = krb_error
        self.ntstatus = ntstatus
        self.e_text = e_text


class KdcLogonDenied(KerberosError, LogonDenied):
    """The KDC refused the client: wrong password, unknown user, disabled account, policy."""


class PasswordExpired(KdcLogonDenied):
    """KDC_ERR_KEY_EXPIRED (23): the password must be changed.

    Windows has no ``SEC_E_*`` code for this (winerror.h stops at the NTSTATUS
    STATUS_PASSWORD_EXPIRED, 0xC0000071); the status is ``SEC_E_LOGON_DENIED`` and ``ntstatus``
    is 0xC0000071, so code that catches ``LogonDenied`` still sees it.
    """


class UserToUserRequired(KdcLogonDenied):
    """KDC_ERR_MUST_USE_USER2USER (27): the service has no key; only user-to-user works."""


class KdcTargetUnknown(KerberosError, TargetUnknown):
    """KDC_ERR_S_PRINCIPAL_UNKNOWN (7): the KDC has no such service principal."""


class KdcTimeSkew(KerberosError, TimeSkew):
    """KRB_AP_ERR_SKEW (37) or a reply whose times are too far from our clock."""


class KdcTicketExpired(KerberosError, ContextExpired):
    """KRB_AP_ERR_TKT_EXPIRED (32): the TGT (or a ticket) has expired."""


class KdcUnavailable(KerberosError, NoAuthenticatingAuthority):
    """The KDC cannot serve the request (KDC_ERR_SVC_UNAVAILABLE, unresolved realm referral)."""


class KdcWrongPrincipal(KerberosError, WrongPrincipal):
    """The reply names another client or server than asked for (RFC 4120 §3.1.5)."""


class EtypeNotSupported(KerberosError, AlgorithmMismatch):
    """KDC_ERR_ETYPE_NOSUPP (14), or a reply in an enctype our policy refuses.

    Status ``SEC_E_KDC_UNKNOWN_ETYPE`` (0x80090342, "The encryption type requested is not
    supported by the KDC"), what Windows returns; a subclass of ``AlgorithmMismatch`` so callers
    that catch that see it too.
    """

    default_status = SecStatus.SEC_E_KDC_UNKNOWN_ETYPE


class NotForwardable(KerberosError, UnsupportedFunction):
    """Delegation was asked for but the TGT is not forwardable."""


class ReplayDetected(KerberosError, OutOfSequence):
    """KRB_AP_ERR_REPEAT (34): an authenticator was seen before (acceptor replay cache)."""


def _describe(err: KrbError) -> str:
    try:
        name = ErrorCode(err.error_code).name
    except ValueError:
        name = "unknown error"
    text = f"{name}, {err.error_code}"
    if err.e_text:
        text += f": {err.e_text!r}"
    return text


def krb_error_to_sspi(
    err: KrbError,
    *,
    client: Principal | str | None = None,
    server: Principal | str | None = None,
    realm: str | None = None,
) -> KerberosError:
    """The SSPI error for a KRB-ERROR from a KDC (reference B.10).

    =========================================  ==========================================
    KRB-ERROR                                  raised (status)
    =========================================  ==========================================
    6 C_PRINCIPAL_UNKNOWN                      KdcLogonDenied (SEC_E_LOGON_DENIED)
    12 POLICY, 18 CLIENT_REVOKED, 24           KdcLogonDenied, ``ntstatus`` from e-data
    PREAUTH_FAILED, 25 PREAUTH_REQUIRED (after
    preauthentication was sent), 31
    BAD_INTEGRITY, 41 MODIFIED
    23 KEY_EXPIRED                             PasswordExpired (SEC_E_LOGON_DENIED, ntstatus
                                               0xC0000071)
    27 MUST_USE_USER2USER                      UserToUserRequired (SEC_E_LOGON_DENIED)
    7 S_PRINCIPAL_UNKNOWN                      KdcTargetUnknown (SEC_E_TARGET_UNKNOWN)
    33 TKT_NYV, 37 SKEW                        KdcTimeSkew (SEC_E_TIME_SKEW)
    32 TKT_EXPIRED                             KdcTicketExpired (SEC_E_CONTEXT_EXPIRED)
    14 ETYPE_NOSUPP                            EtypeNotSupported (SEC_E_KDC_UNKNOWN_ETYPE)
    29 SVC_UNAVAILABLE, 68 WRONG_REALM         KdcUnavailable (SEC_E_NO_AUTHENTICATING_AUTHORITY)
    35 NOT_US, 36 BADMATCH                     KdcWrongPrincipal (SEC_E_WRONG_PRINCIPAL)
    26 SERVER_NOMATCH (user-to-user)           KdcWrongPrincipal (SEC_E_WRONG_PRINCIPAL)
    8 PRINCIPAL_NOT_UNIQUE                     KerberosError (SEC_E_MULTIPLE_ACCOUNTS)
    3 BAD_PVNO, 13 BADOPTION, 16               KerberosError (SEC_E_KDC_INVALID_REQUEST)
    PADATA_TYPE_NOSUPP, 50 INAPP_CKSUM, 60
    GENERIC, 61 FIELD_TOOLONG
    anything else                              KerberosError (SEC_E_INTERNAL_ERROR)
    =========================================  ==========================================

    Args:
        err: the KRB-ERROR.
        client, server, realm: named in the message.
    """
    code = err.error_code
    status_nt = err.ntstatus()
    where = realm or err.realm
    who = str(client) if client else (
        err.cname.to_text(err.crealm or err.realm) if err.cname is not None else "the client"
    )
    what = str(server) if server else err.sname.to_text(err.realm)
    said = f"({_describe(err)})"

    def build(
        cls: type[_E], message: str, status: SecStatus | None = None, ntstatus: int | None = None
    ) -> _E:
        return cls(
            message,
            status,
            krb_error=code,
            ntstatus=status_nt if ntstatus is None else ntstatus,
            e_text=err.e_text,
        )

    if code == ErrorCode.KDC_ERR_C_PRINCIPAL_UNKNOWN:
        return build(
            KdcLogonDenied,
            f"The KDC of realm {where} does not know the user {who} {said}; check the user name "
            "and realm.",
        )
    if code in (ErrorCode.KDC_ERR_PREAUTH_FAILED, ErrorCode.KRB_AP_ERR_BAD_INTEGRITY):
        return build(
            KdcLogonDenied,
            f"The KDC of realm {where} rejected the password (or key) of {who} {said}; check the "
            "password, or re-export the keytab.",
        )
    if code == ErrorCode.KDC_ERR_PREAUTH_REQUIRED:
        return build(
            KdcLogonDenied,
            f"The KDC of realm {where} still asks {who} for pre-authentication {said}: it accepted "
            "none of the encryption types offered, or needs a method not implemented here "
            "(FAST, PKINIT, OTP).",
        )
    if code == ErrorCode.KDC_ERR_KEY_EXPIRED:
        return build(
            PasswordExpired,
            f"The password of {who} has expired (KDC of realm {where}: {_describe(err)}); change "
            "it with kpasswd or on a domain machine, then try again.",
            ntstatus=_STATUS_PASSWORD_EXPIRED,
        )
    if code == ErrorCode.KDC_ERR_CLIENT_REVOKED:
        detail = f" NTSTATUS {status_nt:#010x}." if status_nt is not None else ""
        return build(
            KdcLogonDenied,
            f"The account {who} is disabled, locked or expired (KDC of realm {where}: "
            f"{_describe(err)}).{detail}",
        )
    if code == ErrorCode.KDC_ERR_POLICY:
        return build(
            KdcLogonDenied,
            f"The KDC of realm {where} refused {who} by policy {said} (for {what})."
        )
    if code == ErrorCode.KRB_AP_ERR_MODIFIED:
        return build(
            KdcLogonDenied,
            f"The KDC of realm {where} could not decrypt the ticket of {who} {said}; the ticket "
            "cache may hold tickets from before a key change: run kinit again.",
        )
    if code == ErrorCode.KDC_ERR_MUST_USE_USER2USER:
        return build(
            UserToUserRequired,
            f"The service {what} has no long-term key; only user-to-user authentication can "
            f"reach it {said}.",
        )
    if code == ErrorCode.KDC_ERR_S_PRINCIPAL_UNKNOWN:
        return build(
            KdcTargetUnknown,
            f"The KDC of realm {where} has no service principal {what} {said}; check the target "
            "name (SPN) and that the service is registered.",
        )
    if code in (ErrorCode.KRB_AP_ERR_SKEW, ErrorCode.KRB_AP_ERR_TKT_NYV):
        return build(
            KdcTimeSkew,
            f"Our clock and the clock of the KDC of realm {where} differ too much {said}; "
            f"the KDC's time is {err.stime:%Y-%m-%d %H:%M:%S} UTC. Synchronise the clocks.",
        )
    if code == ErrorCode.KRB_AP_ERR_TKT_EXPIRED:
        return build(
            KdcTicketExpired,
            f"The ticket of {who} presented to the KDC of realm {where} has expired {said}; "
            "run kinit again.",
        )
    if code == ErrorCode.KDC_ERR_ETYPE_NOSUPP:
        return build(
            EtypeNotSupported,
            f"The KDC of realm {where} supports none of the encryption types offered for "
            f"{what} {said}; check the enctypes of the principal and allow_rc4/enctypes here.",
        )
    if code in (ErrorCode.KDC_ERR_SVC_UNAVAILABLE, ErrorCode.KDC_ERR_WRONG_REALM):
        return build(
            KdcUnavailable,
            f"The KDC of realm {where} cannot serve the request for {what} {said}."
        )
    if code in (ErrorCode.KRB_AP_ERR_NOT_US, ErrorCode.KRB_AP_ERR_BADMATCH):
        return build(
            KdcWrongPrincipal,
            f"The KDC of realm {where} says the ticket does not match the request for {what} "
            f"{said}.",
        )
    if code == ErrorCode.KDC_ERR_SERVER_NOMATCH:
        # MIT's check_tgs_u2u: with ENC-TKT-IN-SKEY the server asked for must be the client of
        # the additional TGT (Windows KDCs accept an SPN there).
        return build(
            KdcWrongPrincipal,
            f"The KDC of realm {where} will not issue a user-to-user ticket for {what}: the TGT "
            f"the server sent belongs to another principal {said}. Use the server's own "
            "principal (user@REALM) as the target name.",
        )
    if code == ErrorCode.KDC_ERR_PRINCIPAL_NOT_UNIQUE:
        return build(
            KerberosError,
            f"The KDC of realm {where} has several entries for {who} or {what} {said}.",
            SecStatus.SEC_E_MULTIPLE_ACCOUNTS,
        )
    invalid_request = (
        ErrorCode.KDC_ERR_BAD_PVNO,
        ErrorCode.KDC_ERR_BADOPTION,
        ErrorCode.KDC_ERR_PADATA_TYPE_NOSUPP,
        ErrorCode.KRB_AP_ERR_INAPP_CKSUM,
        ErrorCode.KRB_ERR_GENERIC,
        ErrorCode.KRB_ERR_FIELD_TOOLONG,
    )
    status = (
        SecStatus.SEC_E_KDC_INVALID_REQUEST if code in invalid_request
        else SecStatus.SEC_E_INTERNAL_ERROR
    )
    return build(
        KerberosError,
        f"The KDC of realm {where} refused the request of {who} for {what} {said}.",
        status,
    )


# ---------------------------------------------------------------------------------------------
# Driving an exchange
# ---------------------------------------------------------------------------------------------


def run_exchange(exchange: KdcExchange[T], send: Callable[[KdcRequest], bytes]) -> T:
    """Run ``exchange`` to completion, delivering each request with the blocking ``send``."""
    try:
        request = next(exchange)
        while True:
            request = exchange.send(send(request))
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        exchange.close()


async def run_exchange_async(
    exchange: KdcExchange[T], send: Callable[[KdcRequest], Awaitable[bytes]]
) -> T:
    """:func:`run_exchange` with an asynchronous ``send``."""
    try:
        request = next(exchange)
        while True:
            request = exchange.send(await send(request))
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        exchange.close()


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _now(env: Environment, cred: KerberosCredential | None = None) -> datetime:
    """The time to use: ``env.now()``, plus the credential's KDC offset (``kdc_timesync``)."""
    now = env.now() if cred is None else cred.now(env)
    if now.utcoffset() is None:
        raise InvalidToken("Environment.now() must return a timezone-aware datetime (UTC).")
    return now


def _split(now: datetime) -> tuple[datetime, int]:
    """KerberosTime and microseconds (RFC 4120 §5.2.4: ``ctime``/``cusec``)."""
    return now.replace(microsecond=0), now.microsecond


def _nonce(env: Environment) -> int:
    return int.from_bytes(env.random(4), "big") & _NONCE_MASK


def _seal(env: Environment, key: Key, usage: int, plaintext: bytes) -> EncryptedData:
    """EncryptedData with a confounder from ``env.random`` (RFC 3961 §3)."""
    confounder = env.random(profile(key.enctype).confounder_size)
    return EncryptedData(etype=int(key.enctype), cipher=encrypt(key, usage, plaintext, confounder))


def _client(cred: KerberosCredential) -> Principal:
    if cred.client is None:
        raise NoCredentials(
            "This Kerberos credential handle is for inbound use only; acquire one with "
            "SECPKG_CRED_OUTBOUND to request tickets."
        )
    return cred.client


def _parse_reply(reply: bytes, expected: int, realm: str) -> KdcRep | KrbError:
    """A KDC-REP of type ``expected`` or a KRB-ERROR. Raises InvalidToken otherwise."""
    what = "AS-REP" if expected == MessageType.KRB_AS_REP else "TGS-REP"
    if not isinstance(reply, bytes):
        reply = bytes(reply)
    try:
        if reply[:1] == b"\x7e":
            return KrbError.parse(reply)
        rep = KdcRep.parse(reply)
    except DecodeError as exc:
        raise InvalidToken(
            f"The KDC of realm {realm} sent a reply that is neither an {what} nor a KRB-ERROR: "
            f"{exc}"
        ) from None
    if rep.msg_type != expected:
        raise InvalidToken(
            f"The KDC of realm {realm} answered with a KDC-REP of type {rep.msg_type}, "
            f"expected {int(expected)} ({what})."
        )
    return rep


def _enc_part(plaintext: bytes, realm: str) -> EncKdcRepPart:
    try:
        return EncKdcRepPart.parse(plaintext)
    except DecodeError as exc:
        raise InvalidToken(
            f"The encrypted part of the reply from the KDC of realm {realm} does not parse: {exc}"
        ) from None


def _check_session_key(part: EncKdcRepPart, allowed: tuple[int, ...], server: Principal) -> None:
    etype = part.key.keytype
    if etype not in allowed:
        raise EtypeNotSupported(
            f"The KDC issued the ticket for {server} with a {enctype_name(etype)} ({etype}) "
            f"session key, which this credential's policy does not allow "
            f"({', '.join(map(str, allowed))}); rc4 needs allow_rc4."
        )


def _check_times(part: EncKdcRepPart, now: datetime, skew: timedelta, realm: str) -> None:
    """RFC 4120 §3.1.5: "the client ... SHOULD check that the times are within skew"."""
    start = part.starttime or part.authtime
    if not now - skew <= start <= now + skew:
        raise KdcTimeSkew(
            f"The ticket from the KDC of realm {realm} starts at {start:%Y-%m-%d %H:%M:%S} UTC, "
            f"more than {int(skew.total_seconds())} s from our clock "
            f"({now:%Y-%m-%d %H:%M:%S} UTC). Synchronise the clocks.",
            krb_error=ErrorCode.KRB_AP_ERR_SKEW,
        )
    if part.endtime <= now:
        raise KdcTicketExpired(
            f"The KDC of realm {realm} issued a ticket that has already expired "
            f"({part.endtime:%Y-%m-%d %H:%M:%S} UTC).",
            krb_error=ErrorCode.KRB_AP_ERR_TKT_EXPIRED,
        )


def _check_ticket_matches(rep: KdcRep, part: EncKdcRepPart, realm: str) -> None:
    """The Ticket's sname/realm must be those of the encrypted part (RFC 4120 §3.1.5)."""
    if rep.ticket.realm != part.srealm or rep.ticket.sname.name_string != part.sname.name_string:
        raise KdcWrongPrincipal(
            f"The KDC of realm {realm} returned a ticket for "
            f"{rep.ticket.sname.to_text(rep.ticket.realm)} but says it is for "
            f"{part.sname.to_text(part.srealm)}.",
            krb_error=ErrorCode.KRB_AP_ERR_BADMATCH,
        )


# ---------------------------------------------------------------------------------------------
# AS exchange: RFC 4120 §3.1
# ---------------------------------------------------------------------------------------------


def _as_options(cred: KerberosCredential) -> int:
    options = KdcOptions.RENEWABLE_OK
    if cred.config.forwardable:
        options |= KdcOptions.FORWARDABLE
    if cred.config.proxiable:
        options |= KdcOptions.PROXIABLE
    if cred.config.canonicalize:
        options |= KdcOptions.CANONICALIZE
    if cred.config.renew_lifetime > 0:
        options |= KdcOptions.RENEWABLE
    return int(options)


def _salt_info(
    padata: tuple[PAData, ...] | None, allowed: tuple[int, ...]
) -> list[EtypeInfo2Entry]:
    """The ETYPE-INFO2 (or legacy ETYPE-INFO) entries a KDC sent, in its order (§5.2.7.5)."""
    for pa in padata or ():
        if pa.padata_type == PaDataType.PA_ETYPE_INFO2:
            return [e for e in decode_etype_info2(pa.padata_value) if e.etype in allowed]
    for pa in padata or ():
        if pa.padata_type == PaDataType.PA_ETYPE_INFO:
            return [
                EtypeInfo2Entry(e.etype, e.salt)
                for e in decode_etype_info(pa.padata_value)
                if e.etype in allowed
            ]
    return []


def _choose_preauth(
    cred: KerberosCredential, err: KrbError, client: Principal, realm: str
) -> EtypeInfo2Entry:
    """The etype, salt and s2kparams to pre-authenticate with (RFC 4120 §5.2.7.5).

    Deviation: only PA-ENC-TIMESTAMP is implemented (no FAST, PKINIT, SPAKE or OTP). Without
    ETYPE-INFO2 the first enctype we can make a key of is used with the default salt.
    """
    usable = cred.key_enctypes()
    try:
        entries = _salt_info(err.method_data(), usable)
    except DecodeError as exc:
        raise InvalidToken(
            f"The KDC of realm {realm} sent a malformed ETYPE-INFO2 with PREAUTH_REQUIRED: {exc}"
        ) from None
    if entries:
        entry = entries[0]
        salt = entry.salt if entry.salt is not None else client.default_salt
        return EtypeInfo2Entry(entry.etype, salt, entry.s2kparams)
    offered = [e.etype for e in _salt_info(err.method_data(), (17, 18, 19, 20, 23, 1, 3, 16))]
    if offered:
        raise EtypeNotSupported(
            f"The KDC of realm {realm} wants pre-authentication with enctypes {offered} for "
            f"{client}, none of which this credential can use "
            f"({', '.join(map(str, usable)) or 'none'}).",
            krb_error=ErrorCode.KDC_ERR_ETYPE_NOSUPP,
        )
    if not usable:
        raise EtypeNotSupported(
            f"This credential has no key of an allowed enctype for {client}.",
            krb_error=ErrorCode.KDC_ERR_ETYPE_NOSUPP,
        )
    return EtypeInfo2Entry(usable[0], client.default_salt, None)


def _reply_key(
    cred: KerberosCredential,
    rep: KdcRep,
    used: tuple[Key, EtypeInfo2Entry] | None,
    client: Principal,
    realm: str,
) -> Key:
    """The key the AS-REP enc-part is encrypted in (RFC 4120 §3.1.5: the client's key)."""
    etype = rep.enc_part.etype
    if etype not in cred.enctypes:
        raise EtypeNotSupported(
            f"The KDC of realm {realm} encrypted the AS-REP for {client} with "
            f"{enctype_name(etype)} ({etype}), which this credential's policy does not allow.",
            krb_error=ErrorCode.KDC_ERR_ETYPE_NOSUPP,
        )
    if used is not None and used[0].enctype == etype:
        return used[0]
    try:
        entries = _salt_info(rep.padata, (etype,))
    except DecodeError as exc:
        raise InvalidToken(
            f"The AS-REP from realm {realm} has a malformed ETYPE-INFO2: {exc}"
        ) from None
    for pa in rep.padata or ():
        if pa.padata_type == PaDataType.PA_PW_SALT and not entries:
            entries = [EtypeInfo2Entry(etype, pa.padata_value)]
    if entries:
        entry = entries[0]
        return cred.client_key(etype, entry.salt or client.default_salt, entry.s2kparams)
    if used is not None and used[1].etype == etype:
        return cred.client_key(etype, used[1].salt or client.default_salt, used[1].s2kparams)
    return cred.client_key(etype, client.default_salt)


def as_exchange(
    cred: KerberosCredential, env: Environment, *, options: int | None = None
) -> KdcExchange[ServiceTicket]:
    """Get a TGT with the credential's password, NT hash or client keytab (RFC 4120 §3.1).

    The flow (§3.1.1, §5.2.7): an AS-REQ with PA-PAC-REQUEST (MS-KILE 2.2.3) and no other
    pre-authentication; on ``KDC_ERR_PREAUTH_REQUIRED`` the ETYPE-INFO2 gives the enctype, salt
    and s2kparams, and the second AS-REQ carries PA-ENC-TIMESTAMP (``PA-ENC-TS-ENC`` encrypted
    with the long-term key, key usage 1). A ``KDC_ERR_WRONG_REALM`` client referral (RFC 6806
    §4) moves the request to the realm it names, at most :data:`MAX_REFERRALS` times. The reply
    is checked as §3.1.5 says: enc-part decrypted with the client key (usage 3; ``[APPLICATION
    25]`` or ``26`` accepted), the nonce, the client name (changes allowed only with
    ``canonicalize``), the server ``krbtgt/REALM``, the session key enctype against policy, and
    the times against our clock.

    Returns:
        The TGT, also stored in the identity's ticket cache.

    Raises:
        KdcLogonDenied: wrong password, unknown user, account refused (see
            :func:`krb_error_to_sspi`); PasswordExpired for an expired password.
        KdcTimeSkew, EtypeNotSupported, KdcWrongPrincipal, InvalidToken: see the checks above.
        NoCredentials: the credential cannot make initial tickets (ccache only).
        NoAuthenticatingAuthority: no KDC is known for the realm.
    """
    client = _client(cred)
    if not cred.can_get_initial_tickets:
        raise NoCredentials(
            f"The credential of {client} came from a ticket cache whose TGT is no longer valid, "
            "and it has no password or keytab to get a new one; run kinit again."
        )
    config = cred.config
    kdc_options = _as_options(cred) if options is None else int(options)
    if client.name.name_type == NameType.NT_ENTERPRISE:
        # RFC 6806 §5 / MS-KILE 3.1.5.11: an enterprise name is an alias the KDC must map to
        # the account; Windows always sets canonicalize with one, and accepts the canonical
        # client name the reply carries (so the acceptor sees alice@REALM, not the UPN).
        kdc_options |= KdcOptions.CANONICALIZE
    canonicalize = bool(kdc_options & KdcOptions.CANONICALIZE)
    skew = timedelta(seconds=config.clockskew)
    realm = client.realm
    request_client = client
    preauth: EtypeInfo2Entry | None = None
    referrals = 0
    synced = False
    # MIT's krb5_get_init_creds: the request offers only the enctypes this credential has a
    # long-term key for (an NT hash is rc4-hmac and nothing else; a keytab holds what it
    # holds), so the KDC never asks for pre-authentication in an enctype we cannot make.
    offered = cred.key_enctypes() or cred.enctypes
    while True:
        now = _now(env, cred)
        nonce = _nonce(env)
        rtime = None
        if kdc_options & KdcOptions.RENEWABLE:
            rtime = now + timedelta(seconds=config.renew_lifetime)
        body = KdcReqBody(
            kdc_options=kdc_options,
            cname=request_client.name,
            realm=realm,
            sname=Principal.tgs(realm).name,
            till=now + timedelta(seconds=config.ticket_lifetime),
            rtime=rtime,
            nonce=nonce,
            etype=offered,
        )
        padata: list[PAData] = []
        used: tuple[Key, EtypeInfo2Entry] | None = None
        if preauth is not None:
            assert preauth.salt is not None
            key = cred.client_key(preauth.etype, preauth.salt, preauth.s2kparams)
            used = (key, preauth)
            stamp, usec = _split(now)
            sealed = _seal(env, key, 1, PaEncTsEnc(stamp, usec).build())
            padata.append(PAData(int(PaDataType.PA_ENC_TIMESTAMP), sealed.build()))
        padata.append(PAData(int(PaDataType.PA_PAC_REQUEST), PaPacRequest(True).build()))
        request = KdcReq(msg_type=MessageType.KRB_AS_REQ, padata=tuple(padata), req_body=body)
        reply = yield cred.kdc_request(realm, request.build())
        parsed = _parse_reply(reply, MessageType.KRB_AS_REP, realm)
        if isinstance(parsed, KrbError):
            code = parsed.error_code
            if code == ErrorCode.KDC_ERR_PREAUTH_REQUIRED and preauth is None:
                preauth = _choose_preauth(cred, parsed, request_client, realm)
                continue
            if (
                code == ErrorCode.KDC_ERR_WRONG_REALM
                and parsed.crealm
                and parsed.crealm != realm
                and referrals < MAX_REFERRALS
            ):
                referrals += 1
                realm = parsed.crealm
                request_client = request_client.with_realm(realm)
                preauth = None
                continue
            if code == ErrorCode.KRB_AP_ERR_SKEW:
                # The KDC's time is stime+susec; our (possibly already corrected) clock said
                # ``now``. Keep the difference; with kdc_timesync retry once with it (MIT's
                # init_creds_step_reply does the same on KRB_AP_ERR_SKEW).
                kdc_time = parsed.stime + timedelta(microseconds=parsed.susec or 0)
                cred.kdc_time_offset = (cred.kdc_time_offset or timedelta(0)) + (kdc_time - now)
                if config.kdc_timesync and not synced:
                    synced = True
                    continue
            raise krb_error_to_sspi(
                parsed, client=request_client, server=Principal.tgs(realm), realm=realm
            )
        return _finish_as(
            cred, parsed, body, used, request_client, canonicalize, now, skew, env
        )


def _finish_as(
    cred: KerberosCredential,
    rep: KdcRep,
    body: KdcReqBody,
    used: tuple[Key, EtypeInfo2Entry] | None,
    client: Principal,
    canonicalize: bool,
    now: datetime,
    skew: timedelta,
    env: Environment,
) -> ServiceTicket:
    realm = body.realm
    key = _reply_key(cred, rep, used, client, realm)
    try:
        plaintext = decrypt(key, 3, rep.enc_part.cipher)
    except MessageAltered:
        raise KdcLogonDenied(
            f"The AS-REP from the KDC of realm {realm} cannot be decrypted with the key of "
            f"{client}: the password (or keytab key) is wrong.",
            krb_error=ErrorCode.KRB_AP_ERR_BAD_INTEGRITY,
        ) from None
    except DecodeError as exc:
        raise InvalidToken(
            f"The AS-REP from the KDC of realm {realm} is truncated: {exc}"
        ) from None
    part = _enc_part(plaintext, realm)
    if part.nonce & 0xFFFFFFFF != body.nonce:
        raise InvalidToken(
            f"The AS-REP from the KDC of realm {realm} answers another request (nonce "
            "mismatch); it may be a replay."
        )
    reply_client = Principal(rep.cname, rep.crealm)
    if reply_client != client and not canonicalize:
        raise KdcWrongPrincipal(
            f"The KDC of realm {realm} issued the TGT to {reply_client}, not {client}; set "
            "canonicalize = true to accept a canonical name.",
            krb_error=ErrorCode.KRB_AP_ERR_BADMATCH,
        )
    server = Principal(part.sname, part.srealm)
    expected = Principal.tgs(realm)
    if server != expected and not (
        canonicalize and server.is_tgs and server.tgs_realm == server.realm == rep.crealm
    ):
        raise KdcWrongPrincipal(
            f"The KDC of realm {realm} returned a ticket for {server} instead of {expected}.",
            krb_error=ErrorCode.KRB_AP_ERR_BADMATCH,
        )
    _check_ticket_matches(rep, part, realm)
    _check_session_key(part, cred.enctypes, server)
    if cred.config.kdc_timesync:
        # MIT (KRB5_LIBOPT_SYNC_KDCTIME): an authenticated AS-REP sets our offset to the KDC's
        # clock from its authtime instead of failing the skew check (verify_as_reply skips it).
        # Deviation: only when the difference exceeds clockskew, so a clock in sync is never
        # moved by up to a second towards the KDC's whole-second authtime.
        start = part.starttime or part.authtime
        if abs(start - now) > skew:
            cred.kdc_time_offset = (cred.kdc_time_offset or timedelta(0)) + (start - now)
            now = _now(env, cred)
    _check_times(part, now, skew, realm)
    ticket = ServiceTicket.from_reply(reply_client, rep.ticket, part)
    cred.remember(ticket, requested=expected)
    return ticket


# ---------------------------------------------------------------------------------------------
# TGS exchange: RFC 4120 §3.3
# ---------------------------------------------------------------------------------------------


def _tgs_options(tgt: ServiceTicket) -> int:
    options = KdcOptions.CANONICALIZE
    if tgt.flags & TicketFlags.FORWARDABLE:
        options |= KdcOptions.FORWARDABLE
    return int(options)


def _tgs_request(
    cred: KerberosCredential,
    env: Environment,
    tgt: ServiceTicket,
    sname: PrincipalName,
    realm: str,
    options: int,
    additional: Ticket | None,
) -> tuple[bytes, KdcReqBody, Key]:
    """A TGS-REQ (§3.3.1) and the subkey its reply will be encrypted with.

    PA-TGS-REQ is an AP-REQ with the TGT and an Authenticator (usage 7) whose ``cksum`` is the
    keyed checksum of the session key over the exact req-body bytes (usage 6, §7.5.1): MIT
    rejects anything else with KRB_AP_ERR_INAPP_CKSUM (reference A.6).
    """
    now = _now(env, cred)
    stamp, usec = _split(now)
    session = tgt.session_key
    body = KdcReqBody(
        kdc_options=options,
        realm=realm,
        sname=sname,
        till=tgt.endtime,
        nonce=_nonce(env),
        etype=cred.tgs_enctypes,
        additional_tickets=None if additional is None else (additional,),
    )
    prof = profile(session.enctype)
    cksum = Checksum(int(prof.checksum_type), make_checksum(session, 6, body.raw))
    subkey = random_key(session.enctype, env.random)
    authenticator = Authenticator(
        crealm=tgt.client.realm,
        cname=tgt.client.name,
        cksum=cksum,
        cusec=usec,
        ctime=stamp,
        subkey=EncryptionKey(int(subkey.enctype), subkey.contents),
    )
    ap_req = ApReq(ticket=tgt.ticket, authenticator=_seal(env, session, 7, authenticator.build()))
    request = KdcReq(
        msg_type=MessageType.KRB_TGS_REQ,
        padata=(PAData(int(PaDataType.PA_TGS_REQ), ap_req.build()),),
        req_body=body,
    )
    return request.build(), body, subkey


def _open_tgs_rep(
    rep: KdcRep, subkey: Key, session: Key, realm: str
) -> EncKdcRepPart:
    """Decrypt the TGS-REP enc-part: subkey (usage 9), else session key (usage 8) (§3.3.2)."""
    for key, usage in ((subkey, 9), (session, 8)):
        if key.enctype != rep.enc_part.etype:
            continue
        try:
            return _enc_part(decrypt(key, usage, rep.enc_part.cipher), realm)
        except MessageAltered:
            continue
        except DecodeError as exc:
            raise InvalidToken(f"The TGS-REP from realm {realm} is truncated: {exc}") from None
    raise MessageAltered(
        f"The TGS-REP from the KDC of realm {realm} cannot be decrypted with our session key or "
        "sub-key: it was altered or is not a reply to our request."
    )


def tgs_exchange(
    cred: KerberosCredential,
    server: Principal,
    env: Environment,
    *,
    tgt: ServiceTicket | None = None,
    options: int | None = None,
    additional_ticket: Ticket | None = None,
    store: bool = True,
) -> KdcExchange[ServiceTicket]:
    """Get a ticket for ``server`` with a TGT (RFC 4120 §3.3), following referrals (RFC 6806).

    Each hop is a TGS-REQ to the KDC that issued the current TGT. When ``server`` is in that
    realm, it is asked for directly; the KDC may answer with a referral TGT ``krbtgt/OTHER@THIS``
    (canonicalize is set), after which the request goes to ``OTHER`` with the server's realm
    set to ``OTHER``. When ``server`` names another realm, the KDC is first asked for
    ``krbtgt/THAT@THIS`` (or a referral toward it). Every TGT obtained on the way is cached; at
    most :data:`MAX_REFERRALS` hops, and a realm seen twice is a loop.

    Checks on each reply (§3.3.4): decrypted with the authenticator subkey (usage 9) or the TGT
    session key (usage 8), the nonce, the client name (that of the TGT), the server name (the one
    asked for, a referral TGT, or with canonicalize a canonical alias), the ticket's name against
    the encrypted one, and the session-key enctype against policy.

    Args:
        tgt: the TGT to start from (default: :func:`get_tgt`).
        options: KDCOptions (default: canonicalize, plus forwardable if the TGT is).
        additional_ticket: for user-to-user (with ``ENC_TKT_IN_SKEY``), the server's TGT.
        store: keep the result (and referral TGTs) in the identity's ticket cache.

    Raises:
        KdcTargetUnknown: no such service (KDC_ERR_S_PRINCIPAL_UNKNOWN).
        KerberosError: SEC_E_MAX_REFERRALS_EXCEEDED for a referral loop or too many hops; the
            other mapped KRB-ERRORs (see :func:`krb_error_to_sspi`).
        MessageAltered, InvalidToken, KdcWrongPrincipal, EtypeNotSupported: checks above.
    """
    if tgt is None:
        tgt = yield from get_tgt(cred, env)
    want = server
    current = tgt
    visited = [tgt.server.tgs_realm]
    for _hop in range(MAX_REFERRALS + 1):
        kdc_realm = current.server.tgs_realm
        assert kdc_realm is not None
        direct = want.realm == kdc_realm
        if not direct and cred.cache is not None and store:
            held = cred.cache.tgt(want.realm, _now(env, cred))
            if held is not None and held is not current:
                current = held
                continue
        asked = want if direct else Principal.tgs(want.realm, kdc_realm)
        # Caller options (forwarded, enc-tkt-in-skey) apply to the final hop only.
        hop_options = options if direct and options is not None else _tgs_options(current)
        data, body, subkey = _tgs_request(
            cred, env, current, asked.name, kdc_realm, hop_options,
            additional_ticket if direct else None,
        )
        reply = yield cred.kdc_request(kdc_realm, data)
        parsed = _parse_reply(reply, MessageType.KRB_TGS_REP, kdc_realm)
        if isinstance(parsed, KrbError):
            raise krb_error_to_sspi(parsed, client=current.client, server=asked, realm=kdc_realm)
        part = _open_tgs_rep(parsed, subkey, current.session_key, kdc_realm)
        if part.nonce & 0xFFFFFFFF != body.nonce:
            raise InvalidToken(
                f"The TGS-REP from the KDC of realm {kdc_realm} answers another request (nonce "
                "mismatch); it may be a replay."
            )
        reply_client = Principal(parsed.cname, parsed.crealm)
        if reply_client != current.client:
            raise KdcWrongPrincipal(
                f"The KDC of realm {kdc_realm} issued a ticket to {reply_client} for our request "
                f"as {current.client}.",
                krb_error=ErrorCode.KRB_AP_ERR_BADMATCH,
            )
        _check_ticket_matches(parsed, part, kdc_realm)
        got = Principal(part.sname, part.srealm)
        _check_session_key(part, cred.tgs_enctypes, got)
        ticket = ServiceTicket.from_reply(current.client, parsed.ticket, part)
        referral = got.is_tgs and got != asked and got.tgs_realm != kdc_realm
        if got == asked and not (asked.is_tgs and not direct):
            if store:
                cred.remember(ticket, requested=server)
            return ticket
        if referral or (got == asked and not direct):
            next_realm = got.tgs_realm
            assert next_realm is not None
            if got.realm != kdc_realm:
                raise KdcWrongPrincipal(
                    f"The KDC of realm {kdc_realm} returned a cross-realm ticket {got} that it "
                    "did not issue.",
                    krb_error=ErrorCode.KRB_AP_ERR_BADMATCH,
                )
            if next_realm in visited:
                raise KerberosError(
                    f"Referral loop while looking for {server}: realms "
                    f"{' -> '.join(str(r) for r in (*visited, next_realm))}.",
                    SecStatus.SEC_E_MAX_REFERRALS_EXCEEDED,
                )
            visited.append(next_realm)
            if store:
                cred.remember(ticket)
            if direct:
                # RFC 6806 §8: the service lives in the referred realm; ask there for it.
                want = want.with_realm(next_realm)
            current = ticket
            continue
        if direct and not got.is_tgs and hop_options & KdcOptions.CANONICALIZE:
            # RFC 6806 §5: the KDC canonicalized the service name (an alias); keep both names.
            if store:
                cred.remember(ticket, requested=server)
            return ticket
        raise KdcWrongPrincipal(
            f"The KDC of realm {kdc_realm} returned a ticket for {got} when asked for {asked}.",
            krb_error=ErrorCode.KRB_AP_ERR_BADMATCH,
        )
    raise KerberosError(
        f"Gave up looking for {server} after {MAX_REFERRALS} referrals (realms "
        f"{' -> '.join(str(r) for r in visited)}).",
        SecStatus.SEC_E_MAX_REFERRALS_EXCEEDED,
    )


# ---------------------------------------------------------------------------------------------
# What the security context asks for
# ---------------------------------------------------------------------------------------------


def get_tgt(cred: KerberosCredential, env: Environment) -> KdcExchange[ServiceTicket]:
    """The identity's TGT: from the ticket cache, else by an AS exchange.

    Raises:
        NoCredentials: no valid TGT is cached and the credential cannot get one.
    """
    client = _client(cred)
    now = _now(env, cred)
    if cred.cache is not None:
        skew = timedelta(seconds=cred.config.clockskew)
        held = cred.cache.tgt(cred.tgt_realm or client.realm, now, skew)
        if held is not None:
            return held
    if not cred.can_get_initial_tickets:
        where = f" in {cred.ccache_name}" if cred.ccache_name else ""
        raise NoCredentials(
            f"There is no valid TGT for {client}{where} and no password or keytab to get one; "
            "run kinit again."
        )
    cache = cred.cache
    if cache is None:
        ticket = yield from as_exchange(cred, env)
        return ticket
    from .singleflight import shared_exchange, wait_limit

    # One AS exchange for concurrent contexts of this identity (``singleflight``).
    realm = cred.tgt_realm or client.realm
    skew = timedelta(seconds=cred.config.clockskew)

    def fetch() -> KdcExchange[ServiceTicket]:
        found = cache.tgt(realm, _now(env, cred), skew)
        if found is not None:
            return found
        ticket = yield from as_exchange(cred, env)
        return ticket

    limit = wait_limit(cred.config.kdc_timeout, cred.config.max_retries)
    ticket = yield from shared_exchange(cache, Principal.tgs(realm), fetch, limit)
    if ticket.server.realm == ticket.server.tgs_realm:
        cred.tgt_realm = ticket.server.realm  # as remember() does for the leader's handle
    return ticket


def cached_service_ticket(
    cred: KerberosCredential, server: Principal, env: Environment
) -> ServiceTicket | None:
    """What :func:`service_ticket` returns without a KDC exchange: the cached ticket for
    ``server`` valid now, else None (then run :func:`service_ticket`)."""
    _client(cred)
    cache = cred.cache
    return None if cache is None else cache.get(server, _now(env, cred))


def service_ticket(
    cred: KerberosCredential, server: Principal, env: Environment
) -> KdcExchange[ServiceTicket]:
    """A ticket for ``server``: the cache first (no KDC round trip), else TGT then TGS.

    A cached TGT that the KDC calls expired (clocks differ) is dropped and, when the credential
    can, replaced by a new AS exchange once. Concurrent contexts of one identity that miss the
    cache for the same server share one exchange (``singleflight``).
    """
    from .singleflight import shared_exchange, wait_limit

    _client(cred)
    now = _now(env, cred)
    cache = cred.cache
    if cache is None:
        ticket = yield from _fetch_service_ticket(cred, server, env)
        return ticket
    held = cache.get(server, now)
    if held is not None:
        return held
    limit = wait_limit(cred.config.kdc_timeout, cred.config.max_retries)

    def fetch() -> KdcExchange[ServiceTicket]:
        # The leader (or a follower that stopped waiting) looks again first: a flight may have
        # ended between our miss and now.
        found = cache.get(server, _now(env, cred))
        if found is not None:
            return found
        ticket = yield from _fetch_service_ticket(cred, server, env)
        return ticket

    ticket = yield from shared_exchange(cache, server, fetch, limit)
    return ticket


def _fetch_service_ticket(
    cred: KerberosCredential, server: Principal, env: Environment
) -> KdcExchange[ServiceTicket]:
    """:func:`service_ticket` after a cache miss: TGT (cached or AS), then TGS."""
    tgt = yield from get_tgt(cred, env)
    try:
        ticket = yield from tgs_exchange(cred, server, env, tgt=tgt)
    except KdcTicketExpired:
        if not cred.can_get_initial_tickets or cred.cache is None:
            raise
        cred.cache.discard(tgt.server)
        tgt = yield from as_exchange(cred, env)
        ticket = yield from tgs_exchange(cred, server, env, tgt=tgt)
    return ticket


def forwarded_tgt(cred: KerberosCredential, env: Environment) -> KdcExchange[ServiceTicket]:
    """A forwarded TGT to delegate (RFC 4120 §2.6, §3.3; RFC 4121 §4.1.1.1).

    A TGS-REQ for ``krbtgt/REALM@REALM`` with KDCOptions forwardable and forwarded; the result is
    not cached (it is for the peer, in a KRB-CRED).

    Raises:
        NotForwardable: the TGT does not have the forwardable flag.
    """
    tgt = yield from get_tgt(cred, env)
    if not tgt.flags & TicketFlags.FORWARDABLE:
        raise NotForwardable(
            f"The TGT of {tgt.client} is not forwardable, so it cannot be delegated; get a "
            "forwardable one (forwardable = true in krb5.conf, or kinit -f).",
            krb_error=ErrorCode.KDC_ERR_BADOPTION,
        )
    options = int(KdcOptions.FORWARDABLE | KdcOptions.FORWARDED)
    realm = tgt.server.tgs_realm
    assert realm is not None
    ticket = yield from tgs_exchange(
        cred, Principal.tgs(realm), env, tgt=tgt, options=options, store=False
    )
    return ticket


def user_to_user(
    cred: KerberosCredential, server: Principal, server_tgt: Ticket, env: Environment
) -> KdcExchange[ServiceTicket]:
    """A user-to-user ticket for ``server`` (RFC 4120 §2.9.2, §3.3.3: ENC-TKT-IN-SKEY).

    The ticket is encrypted in the session key of ``server_tgt`` (the server's TGT, which it
    sent us); it is not cached.
    """
    tgt = yield from get_tgt(cred, env)
    options = int(KdcOptions.ENC_TKT_IN_SKEY | KdcOptions.CANONICALIZE)
    ticket = yield from tgs_exchange(
        cred, server, env, tgt=tgt, options=options, additional_ticket=server_tgt, store=False
    )
    return ticket
