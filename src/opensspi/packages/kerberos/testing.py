"""A small Kerberos KDC for tests and demonstrations: opensspi's own peer for the Kerberos package.

RFC 4120 (https://www.rfc-editor.org/rfc/rfc4120): §3.1.2-§3.1.3 (receipt of KRB_AS_REQ and
generation of KRB_AS_REP), §3.3.2-§3.3.3 (receipt of KRB_TGS_REQ, generation of KRB_TGS_REP,
including §3.3.3 user-to-user and forwarding), §5.2.7.2 (PA-ENC-TIMESTAMP), §5.2.7.5
(ETYPE-INFO2), §5.9.1 (KRB-ERROR), §7.2.1-§7.2.2 (UDP and TCP transport), §7.5.1 (key usages);
RFC 6806 §5 and §8 (canonicalization and server referrals,
https://www.rfc-editor.org/rfc/rfc6806).

**Not for production.** Keys are kept in memory, in the clear; there is no PAC, no FAST, no
PKINIT, no password change, no database on disk and no hardening beyond the bounds below.

:class:`MiniKdc` is two things:

- **The core**, :meth:`MiniKdc.handle`: request bytes in, reply bytes out. It reads the clock and
  the random source only through its :class:`~opensspi.provider.Environment`, so a test can make
  every reply deterministic; it never raises on a request, however malformed (a KRB-ERROR
  ``KRB_ERR_GENERIC`` answers what cannot be understood). The realm database (users with
  password keys, services with random keys, cross-realm trusts, aliases, referrals) is filled
  with :meth:`~MiniKdc.add_user`, :meth:`~MiniKdc.add_service` and friends, and service keys are
  exported as keytabs for opensspi's acceptor (or MIT's).
- **A server**, :meth:`MiniKdc.serve`: a context manager that listens on one free port of
  127.0.0.1 for UDP and TCP (4-byte length framing, §7.2.2) in daemon threads and answers every
  request through :meth:`~MiniKdc.handle`. :meth:`~MiniKdc.krb5_config` and
  :meth:`~MiniKdc.krb5_conf_text` then point a client at it.

What the KDC checks (each failure is the KRB-ERROR code RFC 4120 names for it):

- AS (§3.1.2): the client and server principals exist (``KDC_ERR_C_PRINCIPAL_UNKNOWN`` 6,
  ``KDC_ERR_S_PRINCIPAL_UNKNOWN`` 7); pre-authentication is required by default
  (``KDC_ERR_PREAUTH_REQUIRED`` 25 with METHOD-DATA carrying ETYPE-INFO2); a PA-ENC-TIMESTAMP
  must decrypt with the client's key (``KDC_ERR_PREAUTH_FAILED`` 24) and be within the clock
  skew (``KRB_AP_ERR_SKEW`` 37); some requested enctype must be one the client has a key of
  (``KDC_ERR_ETYPE_NOSUPP`` 14).
- TGS (§3.3.2): the PA-TGS-REQ ticket is a TGT for this realm, from this realm or a trusting one
  (``KRB_AP_ERR_NOT_US`` 35), it decrypts (``KRB_AP_ERR_BAD_INTEGRITY`` 31) and has not expired
  (``KRB_AP_ERR_TKT_EXPIRED`` 32); the authenticator decrypts with its session key (31), names
  the ticket's client (``KRB_AP_ERR_BADMATCH`` 36), is within the skew (37), and carries a keyed
  checksum over the exact req-body bytes, key usage 6 (missing: ``KRB_AP_ERR_INAPP_CKSUM`` 50,
  wrong: ``KRB_AP_ERR_MODIFIED`` 41); FORWARDED needs a forwardable TGT (``KDC_ERR_BADOPTION``
  13); ENC-TKT-IN-SKEY needs a TGT of this realm as additional ticket whose client is the server
  asked for (13, ``KDC_ERR_SERVER_NOMATCH`` 26).

What the tickets carry: the nonce echoed; a fresh session key of the first enctype in the
client's list that the server has a key of (else the first one implemented here); INITIAL and
PRE-AUTHENT from the AS exchange (PRE-AUTHENT and FORWARDED carried on by the TGS, §2.6);
FORWARDABLE when asked for, allowed for client and server, and (TGS) present on the TGT;
OK-AS-DELEGATE for services registered with it (§2.8); an end time of at most
:attr:`MiniKdc.max_life` (ten hours, the Windows default) and never past the TGT's.

Deviations (all deliberate simplifications of a test KDC):

- No replay cache for TGS authenticators (§3.3.2 refers to the §3.2.3 checks). Retransmitted
  requests are simply answered again.
- Renewable, postdated, proxy and validate requests are refused with ``KDC_ERR_BADOPTION``;
  RENEWABLE and RENEWABLE-OK are ignored, so no ticket is renewable. Tickets are addressless
  (request addresses are ignored), carry no authorization data of their own
  (``enc-authorization-data`` is ignored) and no PAC (PA-PAC-REQUEST is ignored).
- The transited field of a cross-realm ticket is copied, not extended (§3.3.3.2).
- The AS-REP enc-part is ``[APPLICATION 25]`` EncASRepPart as §5.4.2 defines it; MIT's KDC sends
  ``[APPLICATION 26]`` in both replies and clients accept either.
- Over TCP one request is answered per connection, after which the KDC closes it.

Extension points: tests that need a misbehaving KDC (a wrong nonce, a wrong server name, a
session key of an unasked-for enctype) subclass :class:`MiniKdc` and override
:meth:`~MiniKdc.session_enctype`, :meth:`~MiniKdc.tgs_reply_key`,
:meth:`~MiniKdc.finish_enc_part` or :meth:`~MiniKdc.finish_reply`. The product behaviour is the
default implementation of each.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from os import PathLike, fspath
from pathlib import Path

from ...errors import AlgorithmMismatch, InvalidParameter, MessageAltered, SspiError
from ...provider import DEFAULT_ENVIRONMENT, Environment
from .asn1 import (
    ApReq,
    Authenticator,
    AuthorizationDataEntry,
    EncKdcRepPart,
    EncryptedData,
    EncryptionKey,
    EncTicketPart,
    ErrorCode,
    EtypeInfo2Entry,
    KdcOptions,
    KdcRep,
    KdcReq,
    KdcReqBody,
    KrbError,
    LastReqEntry,
    MessageType,
    PAData,
    PaDataType,
    PaEncTsEnc,
    PrincipalName,
    Ticket,
    TicketFlags,
    TransitedEncoding,
    encode_etype_info2,
    encode_method_data,
)
from .ccache import CcachePrincipal
from .config import Krb5Config
from .crypto import (
    SUPPORTED,
    Key,
    decrypt,
    encrypt,
    profile,
    random_key,
    string_to_key,
    verify_checksum,
)
from .keytab import Keytab, KeytabEntry
from .names import TGS_NAME, Principal

__all__ = [
    "CONNECTION_TIMEOUT",
    "DEFAULT_ENCTYPES",
    "DEFAULT_MAX_LIFE",
    "MAX_CONNECTIONS",
    "MAX_REQUEST",
    "MAX_UDP_REPLY",
    "KdcServer",
    "MiniKdc",
    "PrincipalEntry",
    "ServerStats",
]

DEFAULT_ENCTYPES: tuple[int, ...] = (18, 17)
"""The keys each new principal gets: aes256- and aes128-cts-hmac-sha1-96, MIT's default
``supported_enctypes``."""

DEFAULT_MAX_LIFE = timedelta(hours=10)
"""The longest ticket lifetime: ten hours, Active Directory's default "maximum lifetime for user
ticket" (MIT's ``max_life`` defaults to 24 hours)."""

DEFAULT_SKEW = timedelta(minutes=5)
"""The clock skew tolerated in PA-ENC-TIMESTAMP and TGS authenticators (RFC 4120 §1.6)."""

MAX_REQUEST = 65536
"""The largest request accepted, over UDP or TCP, in bytes."""

MAX_UDP_REPLY = 4096
"""Larger UDP replies become ``KRB_ERR_RESPONSE_TOO_BIG`` (§7.2.1), sending the client to TCP;
MIT's ``kdc_max_dgram_reply_size`` default."""

CONNECTION_TIMEOUT = 5.0
"""Seconds a TCP client has to send its whole request before the connection is closed."""

MAX_CONNECTIONS = 32
"""TCP connections served at once; further ones are closed at once."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LENGTH = struct.Struct(">I")
_RESERVED_LENGTH_BIT = 0x80000000
_UNSUPPORTED_OPTIONS = (
    KdcOptions.PROXY
    | KdcOptions.POSTDATED
    | KdcOptions.CONSTRAINED_DELEGATION
    | KdcOptions.REQUEST_ANONYMOUS
    | KdcOptions.RENEW
    | KdcOptions.VALIDATE
)
_COPIED_FLAGS = TicketFlags.PRE_AUTHENT | TicketFlags.HW_AUTHENT | TicketFlags.FORWARDED
_ENC_AS_REP_PART = 25
_ENC_TGS_REP_PART = 26


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidParameter("The KDC's clock must return timezone-aware datetimes (UTC).")
    return value.astimezone(timezone.utc)


def _check_enctypes(enctypes: Sequence[int]) -> tuple[int, ...]:
    chosen = tuple(dict.fromkeys(int(e) for e in enctypes))
    if not chosen:
        raise InvalidParameter("A principal needs at least one enctype.")
    for etype in chosen:
        if etype not in SUPPORTED:
            raise InvalidParameter(
                f"Enctype {etype} is not implemented; use some of {', '.join(map(str, SUPPORTED))}."
            )
    return chosen


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    """One principal of the realm database: what a KDC looks up in RFC 4120 §3.1.2 and §3.3.2.

    Attributes:
        principal: the name and realm.
        keys: the long-term keys, strongest first; tickets for this principal are encrypted in
            the first. Their bytes never appear in ``repr``.
        kvno: the key version number written into tickets and keytabs.
        salt: the string-to-key salt of password keys (sent in ETYPE-INFO2); ``None`` for
            random keys.
        forwardable: whether tickets to or from this principal may be forwardable (MIT's
            ``allow_forwardable`` principal attribute).
        ok_as_delegate: set OK-AS-DELEGATE in tickets for this service (RFC 4120 §2.8): Windows
            clients delegate only to such services.
    """

    principal: Principal
    keys: tuple[Key, ...]
    kvno: int = 1
    salt: bytes | None = None
    forwardable: bool = True
    ok_as_delegate: bool = False

    def key(self, enctype: int | None = None) -> Key | None:
        """The key of ``enctype`` (default: the strongest), or None."""
        if enctype is None:
            return self.keys[0] if self.keys else None
        return next((k for k in self.keys if k.enctype == enctype), None)


@dataclass(frozen=True, slots=True)
class ServerStats:
    """What a :class:`KdcServer` has done so far."""

    udp: int = 0
    """Datagrams answered."""
    tcp: int = 0
    """TCP requests answered."""
    too_long: int = 0
    """Requests refused with KRB_ERR_FIELD_TOOLONG (oversized, or the reserved length bit)."""
    too_big: int = 0
    """UDP replies replaced by KRB_ERR_RESPONSE_TOO_BIG."""
    timeouts: int = 0
    """TCP connections closed before a whole request arrived (time-out or hang-up)."""
    refused: int = 0
    """TCP connections closed at once because :data:`MAX_CONNECTIONS` were being served."""
    errors: int = 0
    """Requests dropped because of an unexpected exception (a bug: no traceback is printed)."""


class _Refusal(Exception):
    """Internal: answer the request with a KRB-ERROR of ``code``."""

    def __init__(
        self,
        code: int,
        text: str,
        *,
        e_data: bytes | None = None,
        cname: PrincipalName | None = None,
        crealm: str | None = None,
    ) -> None:
        super().__init__(text)
        self.code = int(code)
        self.text = text
        self.e_data = e_data
        self.cname = cname
        self.crealm = crealm


class MiniKdc:
    """An in-memory KDC for one or more realms (see the module docstring).

    Args:
        realm: the first realm, also the ``default_realm`` of :meth:`krb5_conf_text`.
        env: the clock and random source of every reply (keys, nonces' companions, confounders).
        require_preauth: answer AS-REQs without PA-ENC-TIMESTAMP with
            ``KDC_ERR_PREAUTH_REQUIRED`` (the default, as Active Directory does).
        max_life: the longest ticket lifetime.
        skew: the clock skew tolerated.
        enctypes: the keys new principals get (strongest first).

    Thread-safe: one lock serialises :meth:`handle` and the database updates.
    """

    def __init__(
        self,
        realm: str = "EXAMPLE.TEST",
        *,
        env: Environment = DEFAULT_ENVIRONMENT,
        require_preauth: bool = True,
        max_life: timedelta = DEFAULT_MAX_LIFE,
        skew: timedelta = DEFAULT_SKEW,
        enctypes: Sequence[int] = DEFAULT_ENCTYPES,
    ) -> None:
        if max_life <= timedelta(0):
            raise InvalidParameter("max_life must be positive.")
        self.realm = realm
        self.env = env
        self.require_preauth = require_preauth
        self.max_life = max_life
        self.skew = skew
        self.enctypes = _check_enctypes(enctypes)
        self._lock = threading.RLock()
        self._realms: list[str] = []
        self._entries: dict[Principal, PrincipalEntry] = {}
        self._aliases: dict[Principal, Principal] = {}
        self._referrals: dict[Principal, str] = {}
        self._server: KdcServer | None = None
        self.add_realm(realm)

    def __repr__(self) -> str:
        return (
            f"MiniKdc(realms={self.realms!r}, principals={len(self._entries)}, "
            f"serving={self._server.kdc_address if self._server else None!r})"
        )

    # -- the realm database --------------------------------------------------------------------

    @property
    def realms(self) -> tuple[str, ...]:
        """The realms this KDC serves, the first being the default."""
        return tuple(self._realms)

    def principals(self, realm: str | None = None) -> tuple[Principal, ...]:
        """The principals of ``realm`` (default: every realm), in text order."""
        with self._lock:
            found = [p for p in self._entries if realm is None or p.realm == realm]
        return tuple(sorted(found, key=str))

    def _principal(self, name: str | Principal, realm: str | None) -> Principal:
        if isinstance(name, Principal):
            return name
        return Principal.parse(name, realm or self.realm)

    def _served(self, realm: str) -> None:
        if realm not in self._realms:
            raise InvalidParameter(
                f"This KDC does not serve the realm {realm}; call add_realm({realm!r}) first."
            )

    def add_realm(self, name: str) -> Principal:
        """Serve the realm ``name``: create its ``krbtgt/NAME@NAME`` with random keys (§7.3).

        Returns:
            The ticket-granting service principal.
        """
        if not name or name != name.strip() or "@" in name or "/" in name:
            raise InvalidParameter(f"{name!r} is not a usable realm name.")
        with self._lock:
            if name not in self._realms:
                self._realms.append(name)
            tgs = Principal.tgs(name)
            if tgs not in self._entries:
                self._store(tgs, self._random_keys(None), kvno=1)
        return tgs

    def add_user(
        self,
        name: str,
        password: str | bytes,
        *,
        realm: str | None = None,
        enctypes: Sequence[int] | None = None,
        salt: bytes | None = None,
        kvno: int = 1,
        forwardable: bool = True,
    ) -> Principal:
        """Add (or replace) a user whose keys come from ``password`` (RFC 3961 string-to-key).

        Args:
            name: ``alice`` or ``alice@REALM``.
            realm: the realm when ``name`` has none (default: the first realm).
            enctypes: the keys to derive (default: :attr:`enctypes`).
            salt: the salt (default: RFC 4120 §4's realm followed by the name components).
            kvno: the key version.
            forwardable: allow forwardable tickets for this user.

        Returns:
            The principal. The password itself is not kept.
        """
        principal = self._principal(name, realm)
        self._served(principal.realm)
        chosen = self.enctypes if enctypes is None else _check_enctypes(enctypes)
        used_salt = principal.default_salt if salt is None else bytes(salt)
        keys = tuple(string_to_key(e, password, used_salt) for e in chosen)
        with self._lock:
            self._store(principal, keys, kvno=kvno, salt=used_salt, forwardable=forwardable)
        return principal

    def add_service(
        self,
        name: str,
        *,
        realm: str | None = None,
        enctypes: Sequence[int] | None = None,
        kvno: int = 1,
        ok_as_delegate: bool = False,
        forwardable: bool = True,
    ) -> Principal:
        """Add (or replace) a service principal (``HTTP/web.example.test``) with random keys.

        Args:
            ok_as_delegate: mark its tickets OK-AS-DELEGATE (RFC 4120 §2.8), so clients that
                honour the flag (Windows, opensspi by default) delegate to it.

        Returns:
            The principal; :meth:`keytab` or :meth:`write_keytab` export its keys.
        """
        principal = self._principal(name, realm)
        self._served(principal.realm)
        keys = self._random_keys(enctypes)
        with self._lock:
            self._store(
                principal, keys, kvno=kvno, ok_as_delegate=ok_as_delegate, forwardable=forwardable
            )
        return principal

    def add_trust(self, from_realm: str, to_realm: str) -> Principal:
        """Let clients of ``from_realm`` reach ``to_realm``: the cross-realm key
        ``krbtgt/TO@FROM`` (RFC 4120 §1.2, §3.3.3.2). One-way; call twice for both ways.

        ``from_realm`` must be served here; ``to_realm`` may be another KDC's, which then needs
        the same key (``kdc.entry(principal).keys``).
        """
        self._served(from_realm)
        principal = Principal.tgs(to_realm, from_realm)
        keys = self._random_keys(None)
        with self._lock:
            self._store(principal, keys, kvno=1)
        return principal

    def add_alias(self, alias: str, canonical: str, *, realm: str | None = None) -> None:
        """Make ``alias`` another name of ``canonical`` (RFC 6806 §5): tickets for the alias
        are encrypted in the canonical principal's key and, when the client asks for
        canonicalization, name the canonical principal."""
        alias_p = self._principal(alias, realm)
        target = self._principal(canonical, realm)
        with self._lock:
            if target not in self._entries:
                raise InvalidParameter(f"{target} is not in the database; add it first.")
            if alias_p in self._entries:
                raise InvalidParameter(f"{alias_p} is a principal of its own, not an alias.")
            if alias_p.realm != target.realm:
                raise InvalidParameter("An alias and its principal must be in the same realm.")
            self._aliases[alias_p] = target

    def add_referral(self, service: str, to_realm: str, *, realm: str | None = None) -> None:
        """Answer canonicalizing TGS-REQs for ``service`` (unknown in ``realm``) with a referral
        TGT ``krbtgt/TO@REALM`` (RFC 6806 §8); needs :meth:`add_trust` ``(realm, to_realm)``."""
        principal = self._principal(service, realm)
        self._served(principal.realm)
        with self._lock:
            self._referrals[principal] = to_realm

    def entry(self, principal: str | Principal, *, realm: str | None = None) -> PrincipalEntry:
        """The database entry of ``principal`` (``alice``, ``HTTP/web@REALM``).

        Raises:
            InvalidParameter: no such principal.
        """
        wanted = self._principal(principal, realm)
        with self._lock:
            found = self._entries.get(wanted)
        if found is None:
            raise InvalidParameter(f"{wanted} is not in this KDC's database.")
        return found

    def key(
        self, principal: str | Principal, enctype: int | None = None, *, realm: str | None = None
    ) -> Key:
        """The long-term key of ``principal`` of ``enctype`` (default: the strongest).

        Raises:
            InvalidParameter: no such principal, or no key of that enctype.
        """
        entry = self.entry(principal, realm=realm)
        found = entry.key(enctype)
        if found is None:
            raise InvalidParameter(f"{entry.principal} has no key of enctype {enctype}.")
        return found

    def keytab(self, principal: str | Principal, *, realm: str | None = None) -> Keytab:
        """A keytab with every key of ``principal`` (name type 1, as ``kadmin ktadd`` writes).

        Raises:
            InvalidParameter: no such principal.
        """
        entry = self.entry(principal, realm=realm)
        stamp = int(_utc(self.env.now()).timestamp())
        name = CcachePrincipal(1, entry.principal.components, entry.principal.realm)
        return Keytab(
            tuple(KeytabEntry(name, stamp, entry.kvno, k.enctype, k.contents) for k in entry.keys)
        )

    def write_keytab(
        self, path: str | PathLike[str], *principals: str | Principal
    ) -> Path:
        """Write the keys of ``principals`` to a keytab file at ``path`` (mode 0600).

        Returns:
            The path, for ``KerberosAuthData(acceptor_keytab=str(path))`` or ``KRB5_KTNAME``.

        Raises:
            InvalidParameter: no principal named, or one not in the database.
        """
        if not principals:
            raise InvalidParameter("Name at least one principal to write to the keytab.")
        records: list[KeytabEntry] = []
        for principal in principals:
            records.extend(self.keytab(principal).entries)
        Keytab(tuple(records)).save(path)
        return Path(fspath(path))

    def _random_keys(self, enctypes: Sequence[int] | None) -> tuple[Key, ...]:
        chosen = self.enctypes if enctypes is None else _check_enctypes(enctypes)
        with self._lock:
            return tuple(random_key(e, self.env.random) for e in chosen)

    def _store(
        self,
        principal: Principal,
        keys: tuple[Key, ...],
        *,
        kvno: int,
        salt: bytes | None = None,
        forwardable: bool = True,
        ok_as_delegate: bool = False,
    ) -> None:
        if not 0 <= kvno <= 0xFFFFFFFF:
            raise InvalidParameter("kvno must fit in 32 bits.")
        self._aliases.pop(principal, None)
        self._entries[principal] = PrincipalEntry(
            principal, keys, kvno, salt, forwardable, ok_as_delegate
        )

    def _lookup(self, principal: Principal) -> tuple[PrincipalEntry, bool] | None:
        """The entry of ``principal`` and whether it was reached through an alias."""
        entry = self._entries.get(principal)
        if entry is not None:
            return entry, False
        target = self._aliases.get(principal)
        if target is not None and target in self._entries:
            return self._entries[target], True
        return None

    # -- extension points ----------------------------------------------------------------------

    def session_enctype(
        self, requested: Sequence[int], server: PrincipalEntry | None
    ) -> int | None:
        """The session key's enctype (§3.1.3: chosen from the client's list): the first one the
        server has a key of, else the first one implemented here; None when there is none."""
        usable = [e for e in requested if e in SUPPORTED]
        if server is not None:
            for etype in usable:
                if server.key(etype) is not None:
                    return etype
        return usable[0] if usable else None

    def tgs_reply_key(self, session: Key, subkey: Key | None) -> tuple[Key, int]:
        """The key and usage of the TGS-REP enc-part (§3.3.3): the authenticator's subkey
        (usage 9) when there is one, else the TGT session key (usage 8)."""
        if subkey is not None:
            return subkey, 9
        return session, 8

    def finish_enc_part(self, part: EncKdcRepPart) -> EncKdcRepPart:
        """The EncKDCRepPart as it will be encrypted (identity; tests override it)."""
        return part

    def finish_reply(self, rep: KdcRep) -> KdcRep:
        """The KDC-REP as it will be sent (identity; tests override it)."""
        return rep

    # -- the protocol --------------------------------------------------------------------------

    def handle(self, request: bytes | bytearray | memoryview) -> bytes:
        """Answer one KDC request (RFC 4120 §3.1.2 AS-REQ or §3.3.2 TGS-REQ) with the bytes of
        a KDC-REP or a KRB-ERROR (§5.9.1).

        Pure apart from :attr:`env`: no socket, no global state. It does not raise for any
        input: what cannot be parsed is answered with ``KRB_ERR_GENERIC`` and a short e-text.
        """
        data = bytes(request)
        with self._lock:
            try:
                req = KdcReq.from_der(data)
            except (SspiError, ValueError) as exc:
                return self._generic(f"malformed request: {exc}")
            body = req.req_body
            try:
                return self._answer(req)
            except _Refusal as refusal:
                return self._refuse(refusal, body)
            except (SspiError, ValueError, OverflowError) as exc:
                return self._refuse(
                    _Refusal(ErrorCode.KRB_ERR_GENERIC, f"cannot process the request: {exc}"), body
                )

    def krb_error(
        self,
        code: int,
        *,
        realm: str | None = None,
        sname: PrincipalName | None = None,
        cname: PrincipalName | None = None,
        crealm: str | None = None,
        e_text: str | None = None,
        e_data: bytes | None = None,
    ) -> bytes:
        """A KRB-ERROR (RFC 4120 §5.9.1) stamped with this KDC's time.

        Args:
            code: the error-code (§7.5.9).
            realm: the realm of the server (default: the first realm).
            sname: the server (default: ``krbtgt/REALM``).
        """
        now = _utc(self.env.now())
        where = realm or self.realm
        return KrbError(
            stime=now.replace(microsecond=0),
            susec=now.microsecond,
            error_code=int(code),
            crealm=crealm,
            cname=cname,
            realm=where,
            sname=sname or Principal.tgs(where).name,
            e_text=e_text,
            e_data=e_data,
        ).to_der()

    def _generic(self, text: str) -> bytes:
        return self.krb_error(ErrorCode.KRB_ERR_GENERIC, e_text=text[:200])

    def _refuse(self, refusal: _Refusal, body: KdcReqBody) -> bytes:
        """The KRB-ERROR for ``refusal``, naming the request's client and server; a bare one if
        those names cannot be encoded."""
        cname = refusal.cname or body.cname
        try:
            return self.krb_error(
                refusal.code,
                realm=body.realm,
                sname=body.sname,
                cname=cname,
                crealm=refusal.crealm or (body.realm if cname is not None else None),
                e_text=refusal.text[:200],
                e_data=refusal.e_data,
            )
        except (SspiError, ValueError, OverflowError):
            return self.krb_error(refusal.code, e_text="(the request's names cannot be echoed)")

    def _now(self) -> datetime:
        return _utc(self.env.now()).replace(microsecond=0)

    def _answer(self, req: KdcReq) -> bytes:
        body = req.req_body
        if body.realm not in self._realms:
            raise _Refusal(ErrorCode.KDC_ERR_WRONG_REALM, "WRONG_REALM")
        if body.kdc_options & _UNSUPPORTED_OPTIONS:
            raise _Refusal(
                ErrorCode.KDC_ERR_BADOPTION,
                "BADOPTION: proxy, postdate, renew, validate, S4U and anonymous are not supported",
            )
        if req.msg_type == MessageType.KRB_AS_REQ:
            return self._as(req)
        return self._tgs(req)

    def _endtime(self, till: datetime, now: datetime, limit: datetime | None) -> datetime:
        """§3.1.3: min(till, starttime + max_life[, TGT end]); a till of 1970 means "as long as
        allowed" (§5.4.1)."""
        end = now + self.max_life
        if till > _EPOCH:
            end = min(end, till)
        if limit is not None:
            end = min(end, limit)
        if end <= now:
            raise _Refusal(ErrorCode.KDC_ERR_NEVER_VALID, "NEVER_VALID: the ticket would expire")
        return end

    # -- AS: RFC 4120 §3.1.2, §3.1.3 -----------------------------------------------------------

    def _as(self, req: KdcReq) -> bytes:
        body = req.req_body
        now = self._now()
        realm = body.realm
        if body.cname is None:
            raise _Refusal(ErrorCode.KDC_ERR_C_PRINCIPAL_UNKNOWN, "CLIENT_NOT_FOUND: no cname")
        found = self._lookup(Principal(body.cname, realm))
        if found is None:
            raise _Refusal(ErrorCode.KDC_ERR_C_PRINCIPAL_UNKNOWN, "CLIENT_NOT_FOUND")
        client, _ = found
        if body.sname is None:
            raise _Refusal(ErrorCode.KDC_ERR_S_PRINCIPAL_UNKNOWN, "SERVER_NOT_FOUND: no sname")
        found_server = self._lookup(Principal(body.sname, realm))
        if found_server is None:
            raise _Refusal(ErrorCode.KDC_ERR_S_PRINCIPAL_UNKNOWN, "SERVER_NOT_FOUND")
        server, server_alias = found_server
        etypes = [e for e in body.etype if e in SUPPORTED and client.key(e) is not None]
        if not etypes:
            raise _Refusal(
                ErrorCode.KDC_ERR_ETYPE_NOSUPP,
                "BAD_ENCRYPTION_TYPE: the client has no key of a requested enctype",
            )
        method_data = encode_method_data(
            [
                PAData(int(PaDataType.PA_ETYPE_INFO2), self._etype_info2(client, etypes[0])),
                PAData(int(PaDataType.PA_ENC_TIMESTAMP), b""),
            ]
        )
        padata = {p.padata_type: p.padata_value for p in req.padata or ()}
        reply_key = client.key(etypes[0])
        assert reply_key is not None
        flags = TicketFlags.INITIAL
        stamp = padata.get(PaDataType.PA_ENC_TIMESTAMP)
        if stamp is not None:
            reply_key = self._check_timestamp(client, stamp, now, method_data)
            flags |= TicketFlags.PRE_AUTHENT
        elif self.require_preauth:
            # §3.1.2: "the KDC ... MUST return KDC_ERR_PREAUTH_REQUIRED" with METHOD-DATA.
            raise _Refusal(
                ErrorCode.KDC_ERR_PREAUTH_REQUIRED, "NEEDED_PREAUTH", e_data=method_data
            )
        if body.kdc_options & KdcOptions.FORWARDABLE and client.forwardable and server.forwardable:
            flags |= TicketFlags.FORWARDABLE
        if server.ok_as_delegate:
            flags |= TicketFlags.OK_AS_DELEGATE
        canonicalize = bool(body.kdc_options & KdcOptions.CANONICALIZE)
        cname = client.principal.name if canonicalize else body.cname
        sname = server.principal.name if canonicalize or not server_alias else body.sname
        info = PAData(int(PaDataType.PA_ETYPE_INFO2), self._etype_info2(client, reply_key.enctype))
        return self._issue(
            body,
            now,
            msg_type=MessageType.KRB_AS_REP,
            part_tag=_ENC_AS_REP_PART,
            crealm=realm,
            cname=cname,
            sname=sname,
            server=server,
            ticket_key=server.keys[0],
            ticket_kvno=server.kvno,
            flags=int(flags),
            authtime=now,
            endtime=self._endtime(body.till, now, None),
            reply_key=reply_key,
            reply_usage=3,
            reply_kvno=client.kvno,
            padata=(info,),
            transited=TransitedEncoding(1, b""),
            authorization_data=None,
        )

    @staticmethod
    def _etype_info2(entry: PrincipalEntry, etype: int) -> bytes:
        """ETYPE-INFO2 (§5.2.7.5) for the key of ``etype``: no salt for rc4-hmac, whose keys
        are unsalted (RFC 4757)."""
        salt = None if etype == 23 else entry.salt if entry.salt is not None else b""
        return encode_etype_info2([EtypeInfo2Entry(etype, salt)])

    def _check_timestamp(
        self, client: PrincipalEntry, value: bytes, now: datetime, method_data: bytes
    ) -> Key:
        """PA-ENC-TIMESTAMP (§5.2.7.2): decrypt with the client's key (usage 1) and check the
        time. Returns the key, which also encrypts the AS-REP."""
        failed = _Refusal(ErrorCode.KDC_ERR_PREAUTH_FAILED, "PREAUTH_FAILED", e_data=method_data)
        try:
            enc = EncryptedData.from_der(value)
            key = client.key(enc.etype)
            if key is None:
                raise failed
            stamp = PaEncTsEnc.from_der(decrypt(key, 1, enc.cipher))
        except (SspiError, ValueError):
            raise failed from None
        when = stamp.patimestamp + timedelta(microseconds=stamp.pausec or 0)
        if abs(when - now) > self.skew:
            raise _Refusal(ErrorCode.KRB_AP_ERR_SKEW, "CLOCK_SKEW")
        return key

    # -- TGS: RFC 4120 §3.3.2, §3.3.3 ----------------------------------------------------------

    def _tgs(self, req: KdcReq) -> bytes:
        body = req.req_body
        now = self._now()
        realm = body.realm
        raw = next(
            (p.padata_value for p in req.padata or () if p.padata_type == PaDataType.PA_TGS_REQ),
            None,
        )
        if raw is None:
            raise _Refusal(ErrorCode.KDC_ERR_PADATA_TYPE_NOSUPP, "no PA-TGS-REQ")
        ap_req = ApReq.from_der(raw)
        tgt, tgt_entry = self._open_tgt(ap_req.ticket, realm, now)
        try:
            return self._tgs_with(req, ap_req, tgt, tgt_entry, now)
        except _Refusal as refusal:
            # Errors after the TGT is open name its client, as MIT's KDC does.
            if refusal.cname is None:
                refusal.cname, refusal.crealm = tgt.cname, tgt.crealm
            raise

    def _tgs_with(
        self,
        req: KdcReq,
        ap_req: ApReq,
        tgt: EncTicketPart,
        tgt_entry: PrincipalEntry,
        now: datetime,
    ) -> bytes:
        body = req.req_body
        realm = body.realm
        client = Principal(tgt.cname, tgt.crealm)
        session = Key(tgt.key.keytype, tgt.key.keyvalue)
        try:
            auth = Authenticator.from_der(decrypt(session, 7, ap_req.authenticator.cipher))
        except MessageAltered:
            raise _Refusal(
                ErrorCode.KRB_AP_ERR_BAD_INTEGRITY, "the authenticator does not decrypt"
            ) from None
        if Principal(auth.cname, auth.crealm) != client:
            raise _Refusal(ErrorCode.KRB_AP_ERR_BADMATCH, "authenticator client mismatch")
        if abs(auth.ctime - now) > self.skew:
            raise _Refusal(ErrorCode.KRB_AP_ERR_SKEW, "CLOCK_SKEW")
        # §3.3.2: the checksum in the authenticator MUST be keyed and cover the req-body.
        if auth.cksum is None:
            raise _Refusal(ErrorCode.KRB_AP_ERR_INAPP_CKSUM, "no checksum over the req-body")
        try:
            verify_checksum(session, 6, body.raw, auth.cksum.checksum, auth.cksum.cksumtype)
        except AlgorithmMismatch:
            raise _Refusal(ErrorCode.KDC_ERR_SUMTYPE_NOSUPP, "unsupported checksum") from None
        except MessageAltered:
            raise _Refusal(ErrorCode.KRB_AP_ERR_MODIFIED, "req-body checksum mismatch") from None
        subkey = None if auth.subkey is None else Key(auth.subkey.keytype, auth.subkey.keyvalue)
        reply_key, usage = self.tgs_reply_key(session, subkey)
        options = body.kdc_options
        if options & KdcOptions.ENC_TKT_IN_SKEY:
            sname, server, ticket_key, ticket_kvno = self._user_to_user(body, realm, now)
        else:
            sname, server = self._target(body, realm)
            ticket_key, ticket_kvno = server.keys[0], server.kvno
        flags = tgt.flags & _COPIED_FLAGS
        allowed = tgt_entry.forwardable and (server is None or server.forwardable)
        if options & KdcOptions.FORWARDED:
            # §2.6: FORWARDED "MUST be ... only ... if the TGT has FORWARDABLE set".
            if not tgt.flags & TicketFlags.FORWARDABLE or not allowed:
                raise _Refusal(ErrorCode.KDC_ERR_BADOPTION, "the TGT is not forwardable")
            flags |= TicketFlags.FORWARDED
        if options & KdcOptions.FORWARDABLE and tgt.flags & TicketFlags.FORWARDABLE and allowed:
            flags |= TicketFlags.FORWARDABLE
        if server is not None and server.ok_as_delegate:
            flags |= TicketFlags.OK_AS_DELEGATE
        return self._issue(
            body,
            now,
            msg_type=MessageType.KRB_TGS_REP,
            part_tag=_ENC_TGS_REP_PART,
            crealm=tgt.crealm,
            cname=tgt.cname,
            sname=sname,
            server=server,
            ticket_key=ticket_key,
            ticket_kvno=ticket_kvno,
            flags=int(flags),
            authtime=tgt.authtime,
            endtime=self._endtime(body.till, now, tgt.endtime),
            reply_key=reply_key,
            reply_usage=usage,
            reply_kvno=None,
            padata=None,
            transited=tgt.transited,
            authorization_data=tgt.authorization_data,
        )

    def _open_tgt(
        self, ticket: Ticket, realm: str, now: datetime
    ) -> tuple[EncTicketPart, PrincipalEntry]:
        """Decrypt a TGT for ``krbtgt/REALM``, issued here or by a realm with a trust (§3.3.2)."""
        if ticket.sname.name_string != (TGS_NAME, realm):
            raise _Refusal(ErrorCode.KRB_AP_ERR_NOT_US, "the ticket is not a TGT for this realm")
        entry = self._entries.get(Principal(ticket.sname, ticket.realm))
        if entry is None:
            raise _Refusal(ErrorCode.KRB_AP_ERR_NOT_US, f"no trust with realm {ticket.realm}")
        if ticket.enc_part.kvno is not None and ticket.enc_part.kvno != entry.kvno:
            raise _Refusal(ErrorCode.KRB_AP_ERR_BADKEYVER, "the TGT's key version is unknown")
        key = entry.key(ticket.enc_part.etype)
        if key is None:
            raise _Refusal(ErrorCode.KRB_AP_ERR_NOKEY, "no key of the TGT's enctype")
        try:
            part = EncTicketPart.from_der(decrypt(key, 2, ticket.enc_part.cipher))
        except MessageAltered:
            raise _Refusal(ErrorCode.KRB_AP_ERR_BAD_INTEGRITY, "the TGT does not decrypt") from None
        if part.flags & TicketFlags.INVALID or (
            part.starttime is not None and part.starttime > now + self.skew
        ):
            raise _Refusal(ErrorCode.KRB_AP_ERR_TKT_NYV, "the TGT is not yet valid")
        if part.endtime <= now:
            raise _Refusal(
                ErrorCode.KRB_AP_ERR_TKT_EXPIRED, "the TGT has expired",
                cname=part.cname, crealm=part.crealm,
            )
        return part, entry

    def _target(self, body: KdcReqBody, realm: str) -> tuple[PrincipalName, PrincipalEntry]:
        """The server asked for: itself, its canonical name, or a referral TGT (RFC 6806)."""
        if body.sname is None:
            raise _Refusal(ErrorCode.KDC_ERR_S_PRINCIPAL_UNKNOWN, "SERVER_NOT_FOUND: no sname")
        asked = Principal(body.sname, realm)
        canonicalize = bool(body.kdc_options & KdcOptions.CANONICALIZE)
        found = self._lookup(asked)
        if found is not None:
            entry, via_alias = found
            return (entry.principal.name if via_alias and canonicalize else body.sname), entry
        target = self._referrals.get(asked)
        if target is not None and canonicalize:
            referral = self._entries.get(Principal.tgs(target, realm))
            if referral is not None:
                return referral.principal.name, referral
        raise _Refusal(ErrorCode.KDC_ERR_S_PRINCIPAL_UNKNOWN, "LOOKING_UP_SERVER")

    def _user_to_user(
        self, body: KdcReqBody, realm: str, now: datetime
    ) -> tuple[PrincipalName, PrincipalEntry | None, Key, int | None]:
        """§3.3.3 ENC-TKT-IN-SKEY: the ticket is encrypted in the session key of the additional
        ticket, a TGT of this realm whose client must be the server asked for."""
        if not body.additional_tickets:
            raise _Refusal(ErrorCode.KDC_ERR_BADOPTION, "ENC-TKT-IN-SKEY without a ticket")
        second = body.additional_tickets[0]
        if second.realm != realm:
            raise _Refusal(ErrorCode.KDC_ERR_BADOPTION, "the additional ticket is not from here")
        try:
            part, _ = self._open_tgt(second, realm, now)
        except _Refusal as refusal:
            raise _Refusal(refusal.code, f"additional ticket: {refusal.text}") from None
        owner = Principal(part.cname, part.crealm)
        if body.sname is not None and Principal(body.sname, realm) != owner:
            raise _Refusal(
                ErrorCode.KDC_ERR_SERVER_NOMATCH, "the additional ticket is not the server's TGT"
            )
        found = self._lookup(owner)
        entry = found[0] if found is not None else None
        return body.sname or part.cname, entry, Key(part.key.keytype, part.key.keyvalue), None

    def _issue(
        self,
        body: KdcReqBody,
        now: datetime,
        *,
        msg_type: int,
        part_tag: int,
        crealm: str,
        cname: PrincipalName,
        sname: PrincipalName,
        server: PrincipalEntry | None,
        ticket_key: Key,
        ticket_kvno: int | None,
        flags: int,
        authtime: datetime,
        endtime: datetime,
        reply_key: Key,
        reply_usage: int,
        reply_kvno: int | None,
        padata: tuple[PAData, ...] | None,
        transited: TransitedEncoding,
        authorization_data: tuple[AuthorizationDataEntry, ...] | None,
    ) -> bytes:
        """Build the ticket and the KDC-REP (§3.1.3, §3.3.3, §5.3, §5.4.2)."""
        etype = self.session_enctype(body.etype, server)
        if etype is None:
            raise _Refusal(
                ErrorCode.KDC_ERR_ETYPE_NOSUPP, "BAD_ENCRYPTION_TYPE: no session key enctype"
            )
        session = random_key(etype, self.env.random)
        session_key = EncryptionKey(int(session.enctype), session.contents)
        srealm = body.realm
        enc_ticket = EncTicketPart(
            flags=flags,
            key=session_key,
            crealm=crealm,
            cname=cname,
            transited=transited,
            authtime=authtime,
            endtime=endtime,
            authorization_data=authorization_data,
        )
        ticket = Ticket(
            realm=srealm,
            sname=sname,
            enc_part=self._seal(ticket_key, 2, enc_ticket.to_der(), ticket_kvno),
        )
        part = EncKdcRepPart(
            key=session_key,
            last_req=(LastReqEntry(0, authtime),),
            nonce=body.nonce,
            flags=flags,
            authtime=authtime,
            endtime=endtime,
            srealm=srealm,
            sname=sname,
            application_tag=part_tag,
        )
        part = self.finish_enc_part(part)
        rep = KdcRep(
            msg_type=msg_type,
            padata=padata,
            crealm=crealm,
            cname=cname,
            ticket=ticket,
            enc_part=self._seal(reply_key, reply_usage, part.to_der(), reply_kvno),
        )
        return self.finish_reply(rep).to_der()

    def _seal(self, key: Key, usage: int, plaintext: bytes, kvno: int | None) -> EncryptedData:
        confounder = self.env.random(profile(key.enctype).confounder_size)
        return EncryptedData(
            etype=int(key.enctype), kvno=kvno, cipher=encrypt(key, usage, plaintext, confounder)
        )

    # -- serving and configuration -------------------------------------------------------------

    @contextmanager
    def serve(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_request: int = MAX_REQUEST,
        max_udp_reply: int = MAX_UDP_REPLY,
        timeout: float = CONNECTION_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> Iterator[KdcServer]:
        """Listen on ``host`` (UDP and TCP, one port; 0 picks a free one) until the block ends.

        Inside the block :meth:`krb5_config` points at the server. On exit the listeners are
        closed, connections in progress are cut and the threads are joined.

        Yields:
            The running :class:`KdcServer` (its ``port``, ``kdc_address`` and ``stats``).
        """
        server = KdcServer(
            self,
            host=host,
            port=port,
            max_request=max_request,
            max_udp_reply=max_udp_reply,
            timeout=timeout,
            max_connections=max_connections,
        )
        previous = self._server
        self._server = server
        try:
            yield server
        finally:
            self._server = previous
            server.close()

    @property
    def server(self) -> KdcServer | None:
        """The server of the innermost running :meth:`serve`, if any."""
        return self._server

    def krb5_conf_text(
        self,
        *,
        kdc: str | None = None,
        libdefaults: Mapping[str, str | int | bool] | None = None,
        domain_realm: Mapping[str, str] | None = None,
    ) -> str:
        """A krb5.conf (MIT profile syntax) for this KDC: ``default_realm``, no DNS, forwardable
        tickets, and every realm's ``kdc`` at the running server (or ``kdc``, ``host:port``).

        Args:
            kdc: the KDC address when not inside :meth:`serve`.
            libdefaults: more (or overriding) ``[libdefaults]`` relations, e.g.
                ``{"udp_preference_limit": 1}`` to use TCP only.
            domain_realm: ``[domain_realm]`` relations (``".example.test": "EXAMPLE.TEST"``).

        Raises:
            InvalidParameter: not serving and no ``kdc``, or a value with a newline or brace.
        """
        address = kdc or (self._server.kdc_address if self._server is not None else None)
        if address is None:
            raise InvalidParameter(
                "The KDC is not serving: call krb5_config() inside 'with kdc.serve():', or pass "
                "kdc='host:port'."
            )
        settings: dict[str, str | int | bool] = {
            "default_realm": self.realm,
            "dns_lookup_kdc": False,
            "dns_lookup_realm": False,
            "rdns": False,
            "forwardable": True,
            "clockskew": int(self.skew.total_seconds()),
        }
        settings.update(libdefaults or {})
        lines = ["[libdefaults]"]
        lines += [f"    {name} = {_conf_value(value)}" for name, value in settings.items()]
        lines.append("[realms]")
        for realm in self._realms:
            lines += [f"    {realm} = {{", f"        kdc = {_conf_value(address)}", "    }"]
        if domain_realm:
            lines.append("[domain_realm]")
            lines += [
                f"    {_conf_value(d)} = {_conf_value(r)}" for d, r in domain_realm.items()
            ]
        return "\n".join(lines) + "\n"

    def krb5_config(
        self,
        *,
        kdc: str | None = None,
        libdefaults: Mapping[str, str | int | bool] | None = None,
        domain_realm: Mapping[str, str] | None = None,
    ) -> Krb5Config:
        """:meth:`krb5_conf_text`, parsed (``KerberosAuthData(config=kdc.krb5_config())``)."""
        text = self.krb5_conf_text(kdc=kdc, libdefaults=libdefaults, domain_realm=domain_realm)
        return Krb5Config.from_string(text, "<MiniKdc>")


def _conf_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if any(c in text for c in "\n\r{}") or text != text.strip() or not text:
        raise InvalidParameter(f"{text!r} cannot be written as a krb5.conf value.")
    return text


# ---------------------------------------------------------------------------------------------
# The server: RFC 4120 §7.2.1 (UDP) and §7.2.2 (TCP)
# ---------------------------------------------------------------------------------------------


class KdcServer:
    """The listeners of :meth:`MiniKdc.serve`: UDP and TCP on one port.

    UDP (§7.2.1): one datagram, one reply; a reply over ``max_udp_reply`` bytes becomes
    ``KRB_ERR_RESPONSE_TOO_BIG`` so the client retries over TCP. TCP (§7.2.2): a 4-byte
    big-endian length, then the request; the reply is framed the same way and the connection
    closed. A length with the reserved high bit set, or over ``max_request``, is answered with
    ``KRB_ERR_FIELD_TOOLONG`` and the connection closed, as §7.2.2 says ("MUST return a KRB-ERROR
    message with the error KRB_ERR_FIELD_TOOLONG and MUST close the TCP stream"). A client has
    ``timeout`` seconds for its whole request. No exception escapes a thread: unexpected ones are
    counted in :attr:`stats` (``errors``) and the request is dropped.
    """

    def __init__(
        self,
        kdc: MiniKdc,
        *,
        host: str,
        port: int,
        max_request: int,
        max_udp_reply: int,
        timeout: float,
        max_connections: int,
    ) -> None:
        if max_request < 1 or max_udp_reply < 1 or timeout <= 0 or max_connections < 1:
            raise InvalidParameter(
                "max_request, max_udp_reply, timeout and max_connections must be positive."
            )
        self._kdc = kdc
        self.host = host
        self.max_request = max_request
        self.max_udp_reply = max_udp_reply
        self.timeout = timeout
        self.max_connections = max_connections
        self._counts: dict[str, int] = dict.fromkeys(ServerStats.__dataclass_fields__, 0)
        self._count_lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._tcp, self._udp = self._bind(host, port)
        self.port: int = self._tcp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(
            target=self._loop, name=f"MiniKdc:{self.port}", daemon=True
        )
        self._thread.start()

    def __repr__(self) -> str:
        state = "stopped" if self._stopping.is_set() else "running"
        return f"KdcServer({self.kdc_address!r}, {state})"

    @property
    def kdc_address(self) -> str:
        """``host:port`` as krb5.conf writes a ``kdc`` (``[::1]:port`` for IPv6)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def stats(self) -> ServerStats:
        """A snapshot of the counters."""
        with self._count_lock:
            return ServerStats(**self._counts)

    def _count(self, what: str) -> None:
        with self._count_lock:
            self._counts[what] += 1

    @staticmethod
    def _bind(host: str, port: int) -> tuple[socket.socket, socket.socket]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        last: OSError | None = None
        for _ in range(1 if port else 50):
            tcp = socket.socket(family, socket.SOCK_STREAM)
            udp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                tcp.bind((host, port))
                udp.bind((host, tcp.getsockname()[1]))
                tcp.listen(16)
            except OSError as exc:  # the UDP port of this TCP port is taken: try another
                tcp.close()
                udp.close()
                last = exc
                continue
            tcp.setblocking(False)
            udp.setblocking(False)
            return tcp, udp
        raise OSError(f"MiniKdc cannot listen on {host}:{port or '(any)'}: {last}")

    def close(self) -> None:
        """Stop: close the listeners, cut connections in progress, join the threads."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(5)
        with self._count_lock:
            connections = list(self._connections.items())
        for conn, _ in connections:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(self.timeout + 1)
        for sock in (self._tcp, self._udp, self._wake_r, self._wake_w):
            sock.close()

    def _loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._udp, selectors.EVENT_READ, "udp")
            selector.register(self._tcp, selectors.EVENT_READ, "tcp")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stopping.is_set():
                try:
                    events = selector.select(timeout=1.0)
                except OSError:  # the sockets were closed under us: stop
                    return
                for key, _ in events:
                    if key.data == "wake" or self._stopping.is_set():
                        return
                    try:
                        if key.data == "udp":
                            self._datagram()
                        else:
                            self._accept()
                    except Exception:  # a bug must not kill the server; it is counted
                        self._count("errors")

    def _datagram(self) -> None:
        try:
            data, peer = self._udp.recvfrom(self.max_request + 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if not data:
            return
        if len(data) > self.max_request:
            self._count("too_long")
            reply = self._kdc.krb_error(ErrorCode.KRB_ERR_FIELD_TOOLONG, e_text="request too long")
        else:
            reply = self._kdc.handle(data)
            self._count("udp")
            if len(reply) > self.max_udp_reply:
                self._count("too_big")
                reply = self._kdc.krb_error(ErrorCode.KRB_ERR_RESPONSE_TOO_BIG)
        with suppress(OSError):
            self._udp.sendto(reply, peer)

    def _accept(self) -> None:
        try:
            conn, _ = self._tcp.accept()
        except (BlockingIOError, InterruptedError):
            return
        with self._count_lock:
            if len(self._connections) >= self.max_connections or self._stopping.is_set():
                self._counts["refused"] += 1
                conn.close()
                return
            thread = threading.Thread(
                target=self._connection, args=(conn,), name=f"MiniKdc:{self.port}:tcp",
                daemon=True,
            )
            self._connections[conn] = thread
        try:
            thread.start()
        except RuntimeError:  # no more threads: drop this connection, keep serving
            with self._count_lock:
                self._connections.pop(conn, None)
                self._counts["refused"] += 1
            conn.close()

    def _connection(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.setblocking(True)
                deadline = time.monotonic() + self.timeout
                header = _recv_exactly(conn, _LENGTH.size, deadline)
                if header is None:
                    self._count("timeouts")
                    return
                (length,) = _LENGTH.unpack(header)
                if length & _RESERVED_LENGTH_BIT or length > self.max_request:
                    self._count("too_long")
                    error = self._kdc.krb_error(
                        ErrorCode.KRB_ERR_FIELD_TOOLONG, e_text="request too long"
                    )
                    _send_framed(conn, error, deadline)
                    return
                data = _recv_exactly(conn, length, deadline)
                if data is None:
                    self._count("timeouts")
                    return
                reply = self._kdc.handle(data)
                self._count("tcp")
                _send_framed(conn, reply, deadline)
        except Exception:  # a bug must not print a traceback from the thread; it is counted
            self._count("errors")
        finally:
            with self._count_lock:
                self._connections.pop(conn, None)


def _recv_exactly(conn: socket.socket, count: int, deadline: float) -> bytes | None:
    """``count`` bytes before ``deadline``, or None (time-out, hang-up, reset)."""
    chunks = bytearray()
    while len(chunks) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            conn.settimeout(remaining)
            chunk = conn.recv(min(count - len(chunks), 65536))
        except OSError:
            return None
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _send_framed(conn: socket.socket, message: bytes, deadline: float) -> None:
    with suppress(OSError):
        conn.settimeout(max(deadline - time.monotonic(), 1.0))
        conn.sendall(_LENGTH.pack(len(message)) + message)
