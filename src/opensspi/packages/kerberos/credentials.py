"""Kerberos credentials: what ``AcquireCredentialsHandle("Kerberos", ...)`` finds and holds.

Sources, in the SSPI order (reference B.9; RFC 4120 §3.1 for what each makes possible):

OUTBOUND (initiator)
  1. An explicit identity — ``AuthIdentity(user, domain=realm, password)`` as ``pAuthData``, or
     ``KerberosAuthData(identity=...)``. The AS exchange is done in memory when the first ticket
     is needed; the user's ccache is never read or written. A 16-byte NT hash instead of a
     password is an rc4-hmac key and needs ``allow_rc4``.
  2. A credential cache: ``KerberosAuthData(ccache=...)``, else ``KRB5CCNAME``, else krb5.conf
     ``default_ccache_name`` (FILE:, DIR:, KCM:, KEYRING:, MEMORY: in this process). Its TGT and
     service tickets seed the identity's :class:`~.tickets.TicketCache`. For a collection (DIR:,
     KCM:, KEYRING:) that is its primary cache; with ``pszPrincipal`` it is the cache of the
     collection that holds that principal.
  3. A client keytab: ``KerberosAuthData(client_keytab=...)``, else ``KRB5_CLIENT_KTNAME``, else
     ``default_client_keytab_name``: the AS exchange is done with the keytab's key.

INBOUND (acceptor)
  An acceptor keytab: ``KerberosAuthData(acceptor_keytab=...)``, else ``KRB5_KTNAME``, else
  ``default_keytab_name`` (``/etc/krb5.keytab``). ``principal`` restricts which service names
  are accepted.

Enctype policy: krb5.conf ``default_tkt_enctypes``/``default_tgs_enctypes`` (default: 18, 17, 20,
19) restricted to what ``crypto`` implements; rc4-hmac (23) only when ``allow_rc4`` is true in
krb5.conf or in :class:`KerberosAuthData` — never silently: an explicit enctype list naming 23
without ``allow_rc4`` is refused.

File reads (ccache, keytab, krb5.conf) happen here, at acquisition. The one write is opt-in:
``KerberosAuthData(write_ccache="FILE:/tmp/krb5cc_x")`` stores every ticket fetched later, so
``klist`` shows them. KDC discovery for a realm goes through :attr:`KerberosCredential.kdcs`:
krb5.conf first, then DNS SRV (``dns_lookup_kdc``); tests inject ``kdc_locator``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING

from ...constants import CredentialUse
from ...errors import (
    AlgorithmMismatch,
    DecodeError,
    InvalidParameter,
    InvalidToken,
    NoCredentials,
    SspiError,
    TargetUnknown,
    UnsupportedFunction,
)
from ...provider import DEFAULT_ENVIRONMENT, AuthIdentity, Credential, Environment, KdcRequest
from ...transport import KdcAddress
from .asn1 import EncKrbCredPart, KrbCred, NameType, PrincipalName, parse_principal
from .ccache import (
    HEADER_KDC_OFFSET,
    Ccache,
    CcacheHeaderTag,
    collection_caches,
    load_ccache,
    resolve_ccache_name,
    store_ccache,
)
from .config import Krb5Config, _content_key, config_paths
from .crypto import SUPPORTED, Key, enctype_name, parse_enctypes, string_to_key
from .discovery import locate_kdcs
from .keytab import Keytab, load_keytab, resolve_keytab_name
from .names import Principal, parse_target
from .parsed import unchanged
from .tickets import ServiceTicket, TicketCache

if TYPE_CHECKING:
    from .acceptor import OpenedTickets
    from .keytab import KeytabEntry

__all__ = [
    "DEFAULT_ENCTYPES",
    "RC4_HMAC",
    "CredentialSource",
    "KdcLocator",
    "KerberosAuthData",
    "KerberosCredential",
    "acquire_credentials",
    "delegated_credential",
    "enctype_policy",
]

RC4_HMAC = 23
_OUTBOUND = int(CredentialUse.OUTBOUND)
_INBOUND = int(CredentialUse.INBOUND)
DEFAULT_ENCTYPES: tuple[int, ...] = (18, 17, 20, 19)
"""The enctypes asked for when nothing else is configured, strongest first (no rc4)."""

KdcLocator = Callable[[str], Sequence[KdcAddress]]
"""Finds the KDCs of a realm (default: krb5.conf, then DNS SRV; see ``discovery``)."""

_partition_lock = threading.Lock()
_partition_key: bytes | None = None


class CredentialSource(Enum):
    """Where an outbound credential's identity comes from."""

    PASSWORD = "password"
    NT_HASH = "nt-hash"
    CCACHE = "ccache"
    KEYTAB = "keytab"
    DELEGATED = "delegated"


@dataclass(frozen=True, slots=True)
class KerberosAuthData:
    """Kerberos-specific ``pAuthData`` for AcquireCredentialsHandle.

    Attributes:
        identity: explicit user, realm (``domain``) and password (or NT hash).
        ccache: a cache name (``FILE:/tmp/krb5cc_1000``, ``DIR:/run/user/1000/krb5cc``) instead of
            ``KRB5CCNAME``.
        client_keytab: a keytab for the initiator instead of ``KRB5_CLIENT_KTNAME``.
        acceptor_keytab: a keytab for the acceptor instead of ``KRB5_KTNAME``.
        config: krb5.conf settings instead of ``KRB5_CONFIG`` / ``/etc/krb5.conf``.
        write_ccache: opt-in: store every ticket fetched later into this cache (``klist``).
        allow_rc4: overrides krb5.conf ``allow_rc4``.
        enctypes: the enctypes to ask for, in order (overrides krb5.conf).
        kdc_locator: finds the KDCs of a realm (tests, custom discovery).
        environ: the environment to read ``KRB5CCNAME`` and friends from (default os.environ).
        delegate_always: with ISC_REQ_DELEGATE, delegate even to services whose tickets lack
            ``ok-as-delegate`` (MIT's default behaviour; Windows delegates only to those).
    """

    identity: AuthIdentity | None = None
    ccache: str | None = None
    client_keytab: str | None = None
    acceptor_keytab: str | None = None
    config: Krb5Config | None = None
    write_ccache: str | None = None
    allow_rc4: bool | None = None
    enctypes: tuple[int, ...] | None = None
    kdc_locator: KdcLocator | None = field(default=None, compare=False)
    environ: Mapping[str, str] | None = field(default=None, repr=False, compare=False)
    delegate_always: bool = False


def enctype_policy(
    config: Krb5Config, allow_rc4: bool | None = None, enctypes: Sequence[int] | None = None
) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
    """The AS and TGS enctype lists, and whether rc4-hmac is allowed.

    Returns:
        ``(as_enctypes, tgs_enctypes, allow_rc4)``.

    Raises:
        InvalidParameter: an explicit list with an enctype not implemented here, with rc4 while
            ``allow_rc4`` is off, or that is empty after the policy.
    """
    allow = config.allow_rc4 if allow_rc4 is None else bool(allow_rc4)
    if enctypes is not None:
        chosen: list[int] = []
        for number in enctypes:
            if number not in SUPPORTED:
                raise InvalidParameter(
                    f"Enctype {number} ({enctype_name(number)}) is not implemented; use 18, 17, "
                    "20, 19 (and 23 with allow_rc4)."
                )
            if number == RC4_HMAC and not allow:
                raise InvalidParameter(
                    "rc4-hmac (23) is in enctypes but allow_rc4 is off; set allow_rc4=True "
                    "(or allow_rc4 = true in krb5.conf) to use it."
                )
            if number not in chosen:
                chosen.append(number)
        if not chosen:
            raise InvalidParameter("The enctype list is empty.")
        return tuple(chosen), tuple(chosen), allow

    return (_listed(config.default_tkt_enctypes, allow),
            _listed(config.default_tgs_enctypes, allow), allow)


@lru_cache(maxsize=64)
def _listed(names: tuple[str, ...], allow: bool) -> tuple[int, ...]:
    """A krb5.conf enctype list as numbers (a pure function of the words: remembered, since
    every credential acquisition asks it again)."""
    numbers = parse_enctypes(" ".join(names), default=(*DEFAULT_ENCTYPES, RC4_HMAC))
    numbers = tuple(n for n in numbers if allow or n != RC4_HMAC)
    return numbers or DEFAULT_ENCTYPES


_TARGETS: dict[tuple[int, str], tuple[Krb5Config, Principal | str]] = {}
"""``KerberosCredential.target_principal``'s memo: (id(config), target) -> (config, principal,
or the message of the TargetUnknown that ``parse_target`` raised)."""

_OPENED_TICKETS: list[type[OpenedTickets]] = []
"""``acceptor.OpenedTickets``, imported on first use (every new acceptor handle asks)."""

_CCACHE_TICKETS: OrderedDict[
    int, tuple[Ccache, tuple[Principal, tuple[ServiceTicket, ...]]]
] = OrderedDict()
_CCACHE_TICKETS_LOCK = threading.Lock()


def _ccache_tickets(ccache: Ccache) -> tuple[Principal, tuple[ServiceTicket, ...]]:
    """The ccache's default principal and its credentials as ticket records (unreadable ones
    and other clients' skipped), remembered per parsed ccache (immutable, and the same object
    while the file is unchanged: ``parsed``), for the 16 latest: acquiring per connection no
    longer decodes every ticket again."""
    with _CCACHE_TICKETS_LOCK:
        held = _CCACHE_TICKETS.get(id(ccache))
        if held is not None and held[0] is ccache:
            return held[1]
    client = Principal.from_ccache(ccache.default_principal)
    tickets: list[ServiceTicket] = []
    for entry in ccache.credentials:
        try:
            ticket = ServiceTicket.from_ccache(entry)
        except SspiError:
            continue
        if ticket.client == client:
            tickets.append(ticket)
    result = (client, tuple(tickets))
    with _CCACHE_TICKETS_LOCK:
        _CCACHE_TICKETS[id(ccache)] = (ccache, result)  # the reference keeps the id unique
        while len(_CCACHE_TICKETS) > 16:
            _CCACHE_TICKETS.popitem(last=False)
    return result


def _password_partition(secret: bytes, env: Environment) -> bytes:
    """A process-local keyed digest that tells passwords apart without keeping one more copy."""
    global _partition_key
    with _partition_lock:
        if _partition_key is None:
            _partition_key = env.random(32)
        key = _partition_key
    return hmac.new(key, secret, hashlib.sha256).digest()


class KerberosCredential(Credential):
    """The credentials behind a Kerberos ``CredHandle``.

    Outbound: ``client`` (the identity), ``source``, the shared :attr:`cache` of its tickets,
    and what makes new initial tickets (a password, an NT hash or a client keytab). Inbound:
    ``acceptor_keytab`` and the optional ``acceptor_principal`` restriction. Keys and the
    password never appear in ``repr``.
    """

    def __init__(
        self,
        use: CredentialUse,
        config: Krb5Config,
        *,
        enctypes: tuple[int, ...] = DEFAULT_ENCTYPES,
        tgs_enctypes: tuple[int, ...] | None = None,
        allow_rc4: bool = False,
        kdc_locator: KdcLocator | None = None,
        write_ccache: str | None = None,
        environ: Mapping[str, str] | None = None,
        delegate_always: bool = False,
    ) -> None:
        self.use = use
        self.delegate_always = delegate_always
        self.config = config
        self.enctypes = enctypes
        self.tgs_enctypes = tgs_enctypes or enctypes
        self.allow_rc4 = allow_rc4
        self.write_ccache = write_ccache
        self.client: Principal | None = None
        self.source: CredentialSource | None = None
        self.ccache_name: str | None = None
        self.client_keytab: Keytab | None = None
        self.client_keytab_name: str | None = None
        self.acceptor_keytab: Keytab | None = None
        self.acceptor_keytab_name: str | None = None
        self.acceptor_principal: Principal | None = None
        self.cache: TicketCache | None = None
        self.tgt_realm: str | None = None
        """The realm of the TGT the AS exchange got (differs from ``client.realm`` after a
        client referral, RFC 6806 §4)."""
        self._kdc_time_offset: timedelta | None = None
        self._environ = environ
        self._password: str | None = None
        self._nt_hash: bytes | None = None
        self._keys: dict[tuple[int, bytes, bytes | None], Key] = {}
        self._kdcs: dict[str, tuple[KdcAddress, ...]] = {}
        self._locator = kdc_locator
        self._lock = threading.Lock()
        self._opened: OpenedTickets | None = None

    def __repr__(self) -> str:
        source = self.source.value if self.source else None
        return (
            f"KerberosCredential({self.principal_name!r}, use={self.use!r}, source={source!r}, "
            f"enctypes={self.enctypes})"
        )

    # -- Credential -----------------------------------------------------------------------------

    @property
    def principal_name(self) -> str:
        """``user@REALM`` (SECPKG_CRED_ATTR_NAMES); for an acceptor-only handle, its service."""
        if self.client is not None:
            return str(self.client)
        if self.acceptor_principal is not None:
            return str(self.acceptor_principal)
        if self.acceptor_keytab is not None and self.acceptor_keytab.entries:
            return str(self.acceptor_keytab.entries[0].principal)
        return ""

    @property
    def expiry(self) -> datetime | None:
        """The end time of the identity's TGT once one is held; None before."""
        if self.cache is None or self.client is None:
            return None
        return self.cache.tgt_endtime(self.tgt_realm or self.client.realm)

    @property
    def keytab(self) -> Keytab:
        """The acceptor keytab.

        Raises:
            NoCredentials: this handle was acquired for outbound use only.
        """
        if self.acceptor_keytab is None:
            raise NoCredentials(
                f"The Kerberos credential of {self.principal_name or 'this handle'} has no "
                "acceptor keytab; acquire it with SECPKG_CRED_INBOUND to accept contexts."
            )
        return self.acceptor_keytab

    def target_principal(self, target: str) -> Principal:
        """``names.parse_target(target, self.config)``, remembered: a pure function of the
        text and the krb5.conf (immutable, and the same object while the file is unchanged),
        asked again by every context to the same SPN — and, since pywin32's ``ClientAuth``
        acquires a credential per connection, by every new credential too. So the memo is
        process-wide, keyed on the config object; at most 256 names (it starts over when
        full). A target it cannot resolve (no realm for its host in this krb5.conf) is kept as
        the error's message, and raised again as a new TargetUnknown: Negotiate falls back to
        NTLM on it, for every connection of a program that acquires per connection."""
        config = self.config
        held = _TARGETS.get((id(config), target))
        if held is not None and held[0] is config:
            found = held[1]
            if type(found) is str:
                raise TargetUnknown(found)
            return found  # type: ignore[return-value]
        try:
            principal = parse_target(target, config)
        except TargetUnknown as exc:
            if type(exc) is TargetUnknown and exc.status == TargetUnknown.default_status:
                self._remember_target(config, target, exc.message)
            raise
        self._remember_target(config, target, principal)
        return principal

    @staticmethod
    def _remember_target(config: Krb5Config, target: str, found: Principal | str) -> None:
        if len(_TARGETS) >= 256:
            _TARGETS.clear()
        _TARGETS[(id(config), target)] = (config, found)  # the reference keeps the id unique

    @property
    def opened_tickets(self) -> OpenedTickets:
        """The acceptor's cache of keytab keys and opened tickets (``acceptor.OpenedTickets``),
        shared by every context accepted with a handle on the same keytab; found on first
        use."""
        opened = self._opened
        if opened is None:
            shared = _OPENED_TICKETS
            if not shared:
                from .acceptor import OpenedTickets  # acceptor imports this module

                shared.append(OpenedTickets)
            opened = self._opened = shared[0].for_keytab(self.keytab)
        return opened

    # -- what the KDC exchanges need -------------------------------------------------------------

    @property
    def kdc_time_offset(self) -> timedelta | None:
        """KDC clock minus ours: measured from a KRB_AP_ERR_SKEW or an AS-REP, or read from a
        ccache's header; else the one another handle of this identity measured (it is kept with
        the shared tickets too). With krb5.conf ``kdc_timesync`` (on by default) :meth:`now`
        adds it to every time this credential puts on the wire or checks tickets against."""
        if self._kdc_time_offset is not None:
            return self._kdc_time_offset
        return self.cache.kdc_time_offset if self.cache is not None else None

    @kdc_time_offset.setter
    def kdc_time_offset(self, offset: timedelta | None) -> None:
        self._kdc_time_offset = offset
        if self.cache is not None:
            self.cache.kdc_time_offset = offset

    def now(self, env: Environment) -> datetime:
        """Our clock as the KDC sees it: ``env.now()`` plus :attr:`kdc_time_offset`.

        MIT's ``kdc_timesync`` (``KRB5_LIBOPT_SYNC_KDCTIME``, on by default): once the offset
        to the KDC's clock is known, ``krb5_timeofday`` adds it to every timestamp — AS-REQ
        pre-authentication, TGS-REQ and AP-REQ authenticators, ticket validity checks. With
        ``kdc_timesync = false`` the offset is only kept for diagnostics.
        """
        now = env.now()
        offset = self.kdc_time_offset
        if offset is not None and self.config.kdc_timesync:
            return now + offset
        return now

    @property
    def can_get_initial_tickets(self) -> bool:
        """True when an AS exchange is possible (password, NT hash or client keytab)."""
        return self.source in (
            CredentialSource.PASSWORD,
            CredentialSource.NT_HASH,
            CredentialSource.KEYTAB,
        )

    def key_enctypes(self) -> tuple[int, ...]:
        """The enctypes this credential can make a long-term key of, in policy order."""
        if self.source == CredentialSource.PASSWORD:
            return self.enctypes
        if self.source == CredentialSource.NT_HASH:
            return (RC4_HMAC,) if RC4_HMAC in self.enctypes else ()
        if self.source == CredentialSource.KEYTAB and self.client_keytab is not None:
            held = {e.enctype for e in self._keytab_entries()}
            return tuple(e for e in self.enctypes if e in held)
        return ()

    def client_key(self, enctype: int, salt: bytes, s2kparams: bytes | None = None) -> Key:
        """The client's long-term key of ``enctype`` (RFC 4120 §3.1.3), derived once per salt.

        Raises:
            AlgorithmMismatch: the enctype is refused by policy or this source has no such key.
            NoCredentials: the credential has no long-term key at all (ccache only).
        """
        if enctype not in self.enctypes:
            raise AlgorithmMismatch(
                f"The KDC asked for {enctype_name(enctype)} ({enctype}), which this credential's "
                f"policy does not allow (allowed: {', '.join(map(str, self.enctypes))})."
            )
        cache_key = (enctype, bytes(salt), s2kparams)
        with self._lock:
            found = self._keys.get(cache_key)
        if found is not None:
            return found
        if self.source == CredentialSource.PASSWORD and self._password is not None:
            key = string_to_key(enctype, self._password, salt, s2kparams)
        elif self.source == CredentialSource.NT_HASH and self._nt_hash is not None:
            if enctype != RC4_HMAC:
                raise AlgorithmMismatch(
                    "An NT hash is only an rc4-hmac (23) key; the KDC asked for "
                    f"{enctype_name(enctype)}."
                )
            key = Key(RC4_HMAC, self._nt_hash)
        elif self.source == CredentialSource.KEYTAB:
            key = self._keytab_key(enctype)
        else:
            raise NoCredentials(
                f"The credential of {self.client} came from a ticket cache and has no password "
                "or keytab to request new initial tickets with; run kinit again."
            )
        with self._lock:
            self._keys[cache_key] = key
        return key

    def _keytab_entries(self) -> list[KeytabEntry]:
        assert self.client_keytab is not None and self.client is not None
        wanted = self.client.to_ccache()
        return [e for e in self.client_keytab.entries if e.principal.same_name(wanted)]

    def _keytab_key(self, enctype: int) -> Key:
        entries = [e for e in self._keytab_entries() if e.enctype == enctype]
        if not entries:
            raise AlgorithmMismatch(
                f"The client keytab {self.client_keytab_name} has no {enctype_name(enctype)} "
                f"({enctype}) key for {self.client}."
            )
        best = max(entries, key=lambda e: e.kvno)
        try:
            return Key(best.enctype, best.key)
        except InvalidParameter as exc:
            raise NoCredentials(
                f"The {enctype_name(enctype)} key for {self.client} in "
                f"{self.client_keytab_name} is damaged: {exc.message}"
            ) from None

    def kdcs(self, realm: str) -> tuple[KdcAddress, ...]:
        """The KDCs of ``realm``, looked up once per credential.

        Raises:
            NoAuthenticatingAuthority: none is known (the message says where we looked).
        """
        with self._lock:
            found = self._kdcs.get(realm)
        if found is not None:
            return found
        if self._locator is not None:
            located = tuple(self._locator(realm))
        else:
            located = tuple(locate_kdcs(realm, self.config))
        with self._lock:
            self._kdcs[realm] = located
        return located

    def kdc_request(self, realm: str, data: bytes) -> KdcRequest:
        """A :class:`KdcRequest` for the KDCs of ``realm`` with krb5.conf's limits."""
        return KdcRequest(
            realm=realm,
            data=data,
            kdcs=self.kdcs(realm),
            timeout=self.config.kdc_timeout,
            max_retries=self.config.max_retries,
            udp_preference_limit=self.config.udp_preference_limit,
        )

    def remember(self, ticket: ServiceTicket, *, requested: Principal | None = None) -> None:
        """Keep a new ticket in the identity's cache (and in ``write_ccache`` when opted in)."""
        if self.cache is not None:
            self.cache.store(ticket, requested=requested)
        if ticket.is_tgt and ticket.server.realm == ticket.server.tgs_realm:
            self.tgt_realm = ticket.server.realm
        if self.write_ccache is not None:
            self._write(ticket)

    def _write(self, ticket: ServiceTicket) -> None:
        assert self.write_ccache is not None
        with self._lock:
            name = resolve_ccache_name(self.write_ccache, config=self.config, environ=self._environ)
            default = ticket.client.to_ccache()
            try:
                existing: Ccache | None = load_ccache(name, config=self.config)
            except (NoCredentials, DecodeError, OSError):
                existing = None
            new = ticket.to_ccache()
            if existing is not None and existing.default_principal.same_name(default):
                kept = tuple(
                    c for c in existing.entries if c.is_config or not c.server.same_name(new.server)
                )
                tags = self._header_tags(existing.header_tags)
                ccache = Ccache(existing.default_principal, (*kept, new), tags)
            else:
                ccache = Ccache(default, (new,), self._header_tags(()))
            store_ccache(ccache, name, config=self.config)

    def _header_tags(self, tags: tuple[CcacheHeaderTag, ...]) -> tuple[CcacheHeaderTag, ...]:
        """The header with our KDC time offset in tag 1, as MIT's kinit writes it when
        ``kdc_timesync`` corrected the clock (tools reading the cache then correct it too)."""
        offset = self.kdc_time_offset
        if offset is None or not self.config.kdc_timesync:
            return tags
        seconds, micros = divmod(offset // timedelta(microseconds=1), 1_000_000)
        value = struct.pack(">ii", seconds, micros)
        kept = tuple(t for t in tags if t.tag != HEADER_KDC_OFFSET)
        return (CcacheHeaderTag(HEADER_KDC_OFFSET, value), *kept)


def _problem(exc: NoCredentials, missing: str) -> str:
    """``missing`` for an absent file, else the loader's own words (permission denied ...)."""
    return missing if exc.message.startswith("No ") else exc.message.rstrip(".")


def _environ(data: KerberosAuthData) -> Mapping[str, str]:
    return data.environ if data.environ is not None else os.environ


_NO_AUTH_DATA = KerberosAuthData()  # frozen: one serves every acquisition without pAuthData


def _auth_data(auth_data: object | None) -> KerberosAuthData:
    if auth_data is None:
        return _NO_AUTH_DATA
    if isinstance(auth_data, KerberosAuthData):
        return auth_data
    if isinstance(auth_data, AuthIdentity):
        return KerberosAuthData(identity=auth_data)
    raise InvalidParameter(
        f"The Kerberos package takes an AuthIdentity or KerberosAuthData as pAuthData, not "
        f"{type(auth_data).__name__}."
    )


def _realm_of_domain(domain: str, config: Krb5Config) -> str:
    """A Windows domain as a realm: upper case; a NetBIOS name maps to a configured realm."""
    realm = domain.upper()
    if "." not in realm:
        for candidate in (config.default_realm, *config.realms):
            if candidate and candidate.upper().split(".")[0] == realm:
                return candidate
    return realm


_IDENTITIES: dict[tuple[int, str | None, str | None, str | None], tuple[Krb5Config, Principal]] = {}
"""``_identity_principal``'s memo: (id(config), user, domain, principal) -> (config, result)."""


def _identity_principal(
    identity: AuthIdentity, principal: str | None, config: Krb5Config
) -> Principal:
    """The principal of an explicit identity: a pure function of its user and domain, the
    ``pszPrincipal`` and the krb5.conf (immutable, the same object while the file is
    unchanged), remembered for code that acquires a credential per connection (at most 256
    entries; the memo starts over when full). Failures are not kept."""
    key = (id(config), identity.user, identity.domain, principal)
    held = _IDENTITIES.get(key)
    if held is not None and held[0] is config:
        return held[1]
    found = _resolve_identity(identity, principal, config)
    if len(_IDENTITIES) >= 256:
        _IDENTITIES.clear()
    _IDENTITIES[key] = (config, found)  # the reference keeps the id unique
    return found


def _resolve_identity(
    identity: AuthIdentity, principal: str | None, config: Krb5Config
) -> Principal:
    user = identity.user or principal
    if not user:
        raise NoCredentials(
            "The explicit identity has a password but no user name; pass AuthIdentity(user, "
            "domain, password)."
        )
    domain = identity.domain
    if "@" in user and not domain and "\\@" not in user:
        user, _, suffix = user.rpartition("@")
        domain = suffix
    if domain:
        realm = _realm_of_domain(domain, config)
    elif config.default_realm:
        realm = config.default_realm
    else:
        raise NoCredentials(
            f"No realm for user {user!r}: give the domain (AuthIdentity(user, domain=REALM, ...)) "
            "or set default_realm in krb5.conf."
        )
    if "@" in user:
        # user@upn.suffix with an explicit realm: an enterprise name (RFC 6806 §5).
        return Principal(PrincipalName(int(NameType.NT_ENTERPRISE), (user,)), realm)
    try:
        name, _realm = parse_principal(user, int(NameType.NT_PRINCIPAL))
    except InvalidParameter as exc:
        raise NoCredentials(f"The user name {user!r} is not valid: {exc.message}") from None
    return Principal(name, realm)


def _from_identity(
    cred: KerberosCredential, identity: AuthIdentity, principal: str | None, env: Environment
) -> None:
    client = _identity_principal(identity, principal, cred.config)
    if identity.password is not None:
        secret = identity.password.encode("utf-8", "surrogatepass")
        cred.source = CredentialSource.PASSWORD
        cred._password = identity.password
    else:
        assert identity.nt_hash is not None
        if not cred.allow_rc4 or RC4_HMAC not in cred.enctypes:
            raise InvalidParameter(
                "An NT hash can only serve as an rc4-hmac (23) key, and rc4 is off; pass "
                "allow_rc4=True (KerberosAuthData) or give the password instead."
            )
        secret = b"nt-hash:" + identity.nt_hash
        cred.source = CredentialSource.NT_HASH
        cred._nt_hash = identity.nt_hash
    cred.client = client
    partition = _password_partition(str(client).encode("utf-8", "surrogateescape") + b"\0" + secret,
                                    env)
    cred.cache = TicketCache.for_identity(client, partition=partition)


def _ccache_candidates(
    name: str, principal: Principal | None, config: Krb5Config, environ: Mapping[str, str]
) -> list[str]:
    """The caches to look in: the named one (a collection's primary), and when a principal is
    asked for, every cache of the collection after it (MIT's ``krb5_cc_cache_match``)."""
    if principal is None:
        return [name]
    try:
        members = collection_caches(name, config=config, environ=environ)
    except (NoCredentials, DecodeError, UnsupportedFunction):
        return [name]
    return [str(m) for m in members] or [name]


def _from_ccache(
    cred: KerberosCredential,
    data: KerberosAuthData,
    principal: Principal | None,
    env: Environment,
    problems: list[str],
) -> bool:
    environ = _environ(data)
    try:
        name = str(resolve_ccache_name(data.ccache, config=cred.config, environ=environ))
    except (UnsupportedFunction, InvalidParameter) as exc:
        problems.append(exc.message)
        return False
    now = env.now()
    candidates = _ccache_candidates(name, principal, cred.config, environ)
    several = len(candidates) > 1
    for index, candidate in enumerate(candidates):
        try:
            ccache = load_ccache(candidate, config=cred.config, environ=environ)
        except NoCredentials as exc:
            problems.append(_problem(exc, f"no credential cache at {candidate}"))
            if several:
                continue  # another cache of the collection may hold the principal
            return False
        except (DecodeError, OSError) as exc:
            problems.append(f"the credential cache {candidate} cannot be read ({exc})")
            if several:
                continue
            return False
        except UnsupportedFunction as exc:  # e.g. KEYRING: off Linux
            problems.append(exc.message.rstrip("."))
            return False
        client, tickets = _ccache_tickets(ccache)
        if principal is not None and client != principal:
            if index == 0:
                problems.append(f"the credential cache {candidate} holds {client}, not {principal}")
            continue
        skew = timedelta(seconds=cred.config.clockskew)
        if not any(t.valid_at(now, skew) for t in tickets):
            ends = [t.endtime for t in tickets if t.is_tgt]
            when = f" (its TGT expired at {max(ends):%Y-%m-%d %H:%M:%S} UTC)" if ends else ""
            problems.append(f"the credential cache {candidate} has no valid ticket{when}")
            return False
        cred.client = client
        cred.source = CredentialSource.CCACHE
        cred.ccache_name = candidate
        offset = ccache.kdc_offset
        if offset is not None:
            cred.kdc_time_offset = timedelta(seconds=offset[0], microseconds=offset[1])
        cred.cache = TicketCache.for_identity(client)
        cred.cache.store_all(tickets, now)
        return True
    problems.append(f"no credential cache for {principal} in {name}")
    return False


def _from_client_keytab(
    cred: KerberosCredential,
    data: KerberosAuthData,
    principal: Principal | None,
    problems: list[str],
) -> bool:
    environ = _environ(data)
    try:
        name = str(
            resolve_keytab_name(
                data.client_keytab, client=True, config=cred.config, environ=environ
            )
        )
        keytab = load_keytab(name, client=True, config=cred.config, environ=environ)
    except (UnsupportedFunction, InvalidParameter) as exc:
        problems.append(exc.message)
        return False
    except NoCredentials as exc:
        problems.append(_problem(exc, f"no client keytab at {name}"))
        return False
    except (DecodeError, OSError) as exc:
        problems.append(f"the client keytab {name} cannot be read ({exc})")
        return False
    entries = keytab.entries
    if principal is not None:
        entries = tuple(e for e in entries if e.principal.same_name(principal.to_ccache()))
    if not entries:
        who = f" for {principal}" if principal is not None else ""
        problems.append(f"the client keytab {name} has no keys{who}")
        return False
    client = Principal.from_ccache(entries[0].principal)
    cred.client = client
    cred.source = CredentialSource.KEYTAB
    cred.client_keytab = keytab
    cred.client_keytab_name = name
    if not cred.key_enctypes():
        held = sorted({e.enctype for e in entries})
        raise AlgorithmMismatch(
            f"The client keytab {name} holds keys of enctypes {held} for {client}, none of which "
            f"the enctype policy allows ({', '.join(map(str, cred.enctypes))})."
        )
    cred.cache = TicketCache.for_identity(client)
    return True


def _outbound(
    cred: KerberosCredential,
    principal: str | None,
    data: KerberosAuthData,
    env: Environment,
) -> None:
    identity = data.identity
    if identity is not None and (identity.password is not None or identity.nt_hash is not None):
        _from_identity(cred, identity, principal, env)
        return
    wanted: Principal | None = None
    if principal:
        try:
            wanted = Principal.parse(principal, cred.config.default_realm)
        except InvalidParameter as exc:
            raise NoCredentials(f"Cannot use principal {principal!r}: {exc.message}") from None
    if identity is not None and identity.user and wanted is None:
        wanted = _identity_principal(identity, None, cred.config)
    problems: list[str] = []
    if _from_ccache(cred, data, wanted, env, problems):
        return
    if _from_client_keytab(cred, data, wanted, problems):
        return
    who = f" for {wanted}" if wanted is not None else ""
    raise NoCredentials(
        f"No Kerberos credentials{who}: no password was given, "
        + "; ".join(problems)
        + ". Run kinit, pass AuthIdentity(user, realm, password), or set KRB5_CLIENT_KTNAME."
    )


def _inbound(
    cred: KerberosCredential, principal: str | None, data: KerberosAuthData
) -> None:
    environ = _environ(data)
    try:
        name = str(
            resolve_keytab_name(
                data.acceptor_keytab, client=False, config=cred.config, environ=environ
            )
        )
        keytab = load_keytab(name, config=cred.config, environ=environ)
    except NoCredentials as exc:
        raise NoCredentials(
            _problem(exc, f"No acceptor keytab at {name}")
            + "; set KRB5_KTNAME or pass KerberosAuthData(acceptor_keytab=...)."
        ) from None
    except (DecodeError, OSError) as exc:
        raise NoCredentials(f"The acceptor keytab {name} cannot be read ({exc}).") from None
    if not keytab.entries:
        raise NoCredentials(f"The acceptor keytab {name} holds no keys.")
    if principal:
        wanted = parse_target(principal, cred.config)
        if not any(e.principal.same_name(wanted.to_ccache()) for e in keytab.entries):
            held = sorted({str(e.principal) for e in keytab.entries})
            listing = ", ".join(held[:5]) + (", ..." if len(held) > 5 else "")
            raise NoCredentials(
                f"The acceptor keytab {name} has no key for {wanted}; it holds {listing}."
            )
        cred.acceptor_principal = wanted
    cred.acceptor_keytab = keytab
    cred.acceptor_keytab_name = name


def acquire_credentials(
    principal: str | None,
    use: CredentialUse,
    auth_data: object | None,
    env: Environment = DEFAULT_ENVIRONMENT,
    config: Krb5Config | None = None,
) -> KerberosCredential:
    """AcquireCredentialsHandle for Kerberos (see the module docstring for the sources).

    Args:
        principal: ``pszPrincipal``: outbound, which identity to use (a ccache's or a keytab's);
            inbound, the only service name to accept.
        use: ``SECPKG_CRED_OUTBOUND``, ``INBOUND`` or ``BOTH``.
        auth_data: None, an :class:`AuthIdentity` or a :class:`KerberosAuthData`.
        env: the clock and random source (ticket validity, password partition key).
        config: krb5.conf settings when ``auth_data`` gives none (default: ``KRB5_CONFIG``).

    Raises:
        NoCredentials: no source found; the message names every place looked at.
        InvalidParameter: a bad ``use``, ``auth_data`` or enctype option.
        AlgorithmMismatch: a keytab whose keys the enctype policy refuses.
    """
    data = _auth_data(auth_data)
    if data is _NO_AUTH_DATA and config is None:
        bits = int(use)
        if (bits == _OUTBOUND and not principal) or bits == _INBOUND:
            return _default_credential(principal, use, bits, env)
    return _acquire(principal, use, data, env, config)


def _acquire(
    principal: str | None,
    use: CredentialUse,
    data: KerberosAuthData,
    env: Environment,
    config: Krb5Config | None,
) -> KerberosCredential:
    """:func:`acquire_credentials`, reading every source."""
    cfg = data.config or config or Krb5Config.load(environ=_environ(data))
    as_types, tgs_types, allow = enctype_policy(cfg, data.allow_rc4, data.enctypes)
    outbound = bool(int(use) & _OUTBOUND)  # plain ints: IntFlag arithmetic is slow
    inbound = bool(int(use) & _INBOUND)
    if not (outbound or inbound):
        raise InvalidParameter(
            f"Credential use {use!r} is neither SECPKG_CRED_INBOUND nor SECPKG_CRED_OUTBOUND."
        )
    cred = KerberosCredential(
        use,
        cfg,
        enctypes=as_types,
        tgs_enctypes=tgs_types,
        allow_rc4=allow,
        kdc_locator=data.kdc_locator,
        write_ccache=data.write_ccache,
        environ=data.environ,
        delegate_always=data.delegate_always,
    )
    if outbound and inbound:
        failures: list[NoCredentials] = []
        try:
            _outbound(cred, principal, data, env)
        except NoCredentials as exc:
            failures.append(exc)
        try:
            _inbound(cred, principal, data)
        except NoCredentials as exc:
            failures.append(exc)
        if len(failures) == 2:
            raise NoCredentials(
                "No Kerberos credentials for either direction: "
                + " / ".join(f.message for f in failures)
            )
        return cred
    if outbound:
        _outbound(cred, principal, data, env)
    else:
        _inbound(cred, principal, data)
    return cred


def known_unresolvable(target: str, auth_data: object | None) -> str | None:
    """Why a credential acquired with ``auth_data`` could not name ``target``'s principal,
    when this process already found so (:meth:`KerberosCredential.target_principal`) for the
    krb5.conf that acquisition would read; None when that is not known.

    Negotiate asks this before acquiring its deferred Kerberos credential: pywin32 programs
    acquire a new Negotiate credential for every connection, and a target whose host maps to
    no realm would otherwise cost a Kerberos acquisition and context on every one, only to
    fall back to NTLM. The answer is ``"<status name>: <message>"``, as the fallback logs it.
    Never raises: whatever cannot be told here is left to the real acquisition."""
    try:
        data = _auth_data(auth_data)
        config = data.config or Krb5Config.load(environ=_environ(data))
    except (SspiError, OSError, ValueError):
        return None
    held = _TARGETS.get((id(config), target))
    if held is None or held[0] is not config or type(held[1]) is not str:
        return None
    return f"{TargetUnknown.default_status.name}: {held[1]}"


# -- the default sources, remembered while their files are unchanged ---------------------------


@dataclass(frozen=True, slots=True)
class _Defaults:
    """What an acquisition without ``pAuthData`` read from its files: the krb5.conf view and
    its enctype policy, then (outbound) the ccache's client and tickets, or (inbound) the
    acceptor keytab and the principal restriction."""

    config: Krb5Config
    enctypes: tuple[int, ...]
    tgs_enctypes: tuple[int, ...]
    allow_rc4: bool
    ccache_name: str | None = None
    client: Principal | None = None
    tickets: tuple[ServiceTicket, ...] = ()
    kdc_time_offset: timedelta | None = None
    keytab: Keytab | None = None
    keytab_name: str | None = None
    acceptor_principal: Principal | None = None


_DEFAULT_PATHS: OrderedDict[tuple[object, ...], tuple[str, ...]] = OrderedDict()
"""The files each kind of default acquisition read last time (krb5.conf, then the ccache or
the keytab), by :func:`_defaults_key`; at most 16."""
_DEFAULT_PATHS_LOCK = threading.Lock()


_ENV_NAMES = ("KRB5_CONFIG", "KRB5CCNAME", "KRB5_KTNAME", "TMPDIR", "USER")
_ENV_KEYS: tuple[object, ...] | None
try:  # os.environ's own keys (bytes on POSIX): a plain dict lookup, not Mapping.get's
    _ENV_KEYS = tuple(os.environ.encodekey(name) for name in _ENV_NAMES)
except AttributeError:  # pragma: no cover - another os.environ
    _ENV_KEYS = None


def _environ_values() -> tuple[object, ...]:
    """``KRB5_CONFIG``, ``KRB5CCNAME``, ``KRB5_KTNAME``, ``TMPDIR`` and ``USER`` as
    ``os.environ`` holds them now (encoded, on POSIX): what tells one default acquisition's
    files from another's. Read from ``os.environ``'s own dict when it has one, since five
    ``os.environ.get`` calls cost more than the rest of a remembered acquisition."""
    env = os.environ
    data = getattr(env, "_data", None)
    keys = _ENV_KEYS
    if type(data) is dict and keys is not None:
        get = data.get
        k0, k1, k2, k3, k4 = keys
        return (get(k0), get(k1), get(k2), get(k3), get(k4))
    return tuple([env.get(name) for name in _ENV_NAMES])


def _defaults_key(principal: str | None, bits: int) -> tuple[object, ...]:
    """Everything but file contents that decides which files a default acquisition reads
    (``KRB5_CONFIG``, ``KRB5CCNAME``, ``KRB5_KTNAME``, and what ``%{...}`` expands:
    ``TMPDIR``, ``USER``, the user ids)."""
    uids = (os.getuid(), os.geteuid()) if hasattr(os, "geteuid") else (0, 0)
    config, ccache, keytab, tmpdir, user = _environ_values()
    named = ccache if bits == _OUTBOUND else keytab
    return (bits, principal, config, named, tmpdir, user, uids)


def _default_credential(
    principal: str | None, use: CredentialUse, bits: int, env: Environment
) -> KerberosCredential:
    """:func:`acquire_credentials` without ``pAuthData`` or config, for a ccache identity
    (OUTBOUND, no principal) or an acceptor keytab (INBOUND).

    pywin32's ``ClientAuth``/``ServerAuth`` (and SSPI programs) acquire so for every
    connection. While krb5.conf and the ccache or keytab are unchanged (one ``stat`` each, by
    :func:`.parsed.unchanged`, whose rule for files changed moments ago applies) and the
    environment names the same files, what they gave is taken again instead of resolving the
    names and loading each file on its own. What depends on the time — which tickets are still
    valid, putting them in the identity's ticket cache — is done every time. Every other
    source (a client keytab, a cache collection, a krb5.conf with include directives) and every
    failure take the full way, :func:`_acquire`, whose messages say what is missing."""
    key = _defaults_key(principal, bits)
    with _DEFAULT_PATHS_LOCK:
        paths = _DEFAULT_PATHS.get(key)
    if paths is None:
        _found, read, cred = _read_defaults(principal, use, bits, env)
        _remember_paths(key, read)
        return cred
    if not paths:  # this kind of acquisition is not remembered (see _read_defaults)
        return _acquire(principal, use, _NO_AUTH_DATA, env, None)
    expected = paths
    fresh: list[KerberosCredential] = []

    def load() -> tuple[_Defaults | None, bool]:
        again, read, made = _read_defaults(principal, use, bits, env)
        fresh.append(made)
        if read != expected:
            _remember_paths(key, read)  # krb5.conf now names another file
        return again, again is not None and read == expected

    found = unchanged("kerberos-defaults", paths, load, name=key)
    if fresh:  # read the full way just now
        return fresh[0]
    if found is None:
        return _acquire(principal, use, _NO_AUTH_DATA, env, None)
    shared = _SHARED.get(key)
    if shared is not None and shared[0] is found and _still_usable(found, shared[1], env):
        return shared[1]
    made = _from_defaults(found, use, env)
    if made is None:
        return _acquire(principal, use, _NO_AUTH_DATA, env, None)
    with _DEFAULT_PATHS_LOCK:
        _SHARED[key] = (found, made)
        while len(_SHARED) > 16:
            del _SHARED[next(iter(_SHARED))]
    return made


_SHARED: dict[tuple[object, ...], tuple[_Defaults, KerberosCredential]] = {}
"""The credential each kind of default acquisition gave last, with what it was made from.

Windows' default credentials belong to the logon session: every handle acquired without
``pAuthData`` refers to the same credentials, and a ticket one context gets serves the next.
So while the files are unchanged (the :class:`_Defaults` found is the same object) a new
handle gets the same :class:`KerberosCredential`; the tickets were shared already (the
identity's :class:`TicketCache`), and so are the keytab's opened tickets. The time-dependent
check stays per acquisition (:func:`_still_usable`). At most 16, oldest first out."""


def _still_usable(found: _Defaults, cred: KerberosCredential, env: Environment) -> bool:
    """What :func:`_from_defaults` checks against the clock, for a credential made before:
    an identity from the ccache still has a ticket valid now (put back in its ticket cache,
    as a new credential's would be), and that cache is still the identity's (not one
    :meth:`TicketCache.forget_all` dropped)."""
    if found.keytab is not None:
        return True
    cache = cred.cache
    if cache is None or found.client is None \
            or TicketCache.for_identity(found.client) is not cache:
        return False
    now = env.now()
    skew = timedelta(seconds=found.config.clockskew)
    tickets = found.tickets
    if not any(t.valid_at(now, skew) for t in tickets):
        return False
    cache.store_all(tickets, now)
    return True


def _remember_paths(key: tuple[object, ...], paths: tuple[str, ...]) -> None:
    with _DEFAULT_PATHS_LOCK:
        _DEFAULT_PATHS[key] = paths
        _DEFAULT_PATHS.move_to_end(key)
        while len(_DEFAULT_PATHS) > 16:
            _DEFAULT_PATHS.popitem(last=False)


def _read_defaults(
    principal: str | None, use: CredentialUse, bits: int, env: Environment
) -> tuple[_Defaults | None, tuple[str, ...], KerberosCredential]:
    """The default sources read the full way, and the files the result depends on.

    Returns:
        ``(found, paths, credential)``: ``found`` None and ``paths`` empty when such a result
        cannot be remembered (a krb5.conf with include directives or a directory, a cache that
        is not a single file, a client keytab); ``credential`` is the one acquired.

    Raises:
        SspiError: what :func:`_acquire` raises (no credentials...).
    """
    chosen = config_paths()
    cred = _acquire(principal, use, _NO_AUTH_DATA, env, None)
    if _content_key(chosen) is None:
        return None, (), cred
    cfg = cred.config
    if bits == _OUTBOUND:
        cc = resolve_ccache_name(None, config=cfg)
        if (cred.source is not CredentialSource.CCACHE or cc.type != "FILE"
                or cred.ccache_name != str(cc)):
            return None, (), cred
        ccache = load_ccache(cc, config=cfg)
        client, tickets = _ccache_tickets(ccache)
        offset = ccache.kdc_offset
        found = _Defaults(
            cfg, cred.enctypes, cred.tgs_enctypes, cred.allow_rc4,
            ccache_name=cred.ccache_name, client=client, tickets=tickets,
            kdc_time_offset=(None if offset is None
                             else timedelta(seconds=offset[0], microseconds=offset[1])),
        )
        return found, (*chosen, cc.residual), cred
    if cred.acceptor_keytab is None or cred.acceptor_keytab_name is None:
        return None, (), cred
    kt = resolve_keytab_name(cred.acceptor_keytab_name, config=cfg)
    found = _Defaults(
        cfg, cred.enctypes, cred.tgs_enctypes, cred.allow_rc4,
        keytab=cred.acceptor_keytab, keytab_name=cred.acceptor_keytab_name,
        acceptor_principal=cred.acceptor_principal,
    )
    return found, (*chosen, kt.path), cred


def _from_defaults(
    found: _Defaults, use: CredentialUse, env: Environment
) -> KerberosCredential | None:
    """A new credential from what :func:`_read_defaults` found; None when the ccache holds
    no ticket valid now (the full way then says so, or finds a client keytab)."""
    cred = KerberosCredential(
        use, found.config, enctypes=found.enctypes, tgs_enctypes=found.tgs_enctypes,
        allow_rc4=found.allow_rc4,
    )
    if found.keytab is not None:
        cred.acceptor_keytab = found.keytab
        cred.acceptor_keytab_name = found.keytab_name
        cred.acceptor_principal = found.acceptor_principal
        return cred
    client = found.client
    assert client is not None
    now = env.now()
    skew = timedelta(seconds=found.config.clockskew)
    tickets = found.tickets
    if not any(t.valid_at(now, skew) for t in tickets):
        return None
    cred.client = client
    cred.source = CredentialSource.CCACHE
    cred.ccache_name = found.ccache_name
    if found.kdc_time_offset is not None:
        cred.kdc_time_offset = found.kdc_time_offset
    cred.cache = TicketCache.for_identity(client)
    cred.cache.store_all(tickets, now)
    return cred


def delegated_credential(
    krb_cred: KrbCred,
    part: EncKrbCredPart,
    env: Environment = DEFAULT_ENVIRONMENT,
    config: Krb5Config | None = None,
) -> KerberosCredential:
    """An outbound credential made of tickets a client delegated (RFC 4120 §3.6, §5.8).

    ``part`` is the decrypted EncKrbCredPart; its ``ticket-info[i]`` describes
    ``krb_cred.tickets[i]``. The tickets go into a ticket cache of their own (partition
    ``delegated``), apart from any cache this process keeps for the same identity.

    Raises:
        InvalidToken: the KRB-CRED holds no ticket, or ticket-info lacks the client name or end
            time, or a key does not fit its enctype.
    """
    cfg = config or Krb5Config.load()
    if not krb_cred.tickets or len(part.ticket_info) != len(krb_cred.tickets):
        raise InvalidToken(
            f"The delegated KRB-CRED has {len(krb_cred.tickets)} tickets and "
            f"{len(part.ticket_info)} ticket-info entries; they must match and not be empty."
        )
    tickets: list[ServiceTicket] = []
    for ticket, info in zip(krb_cred.tickets, part.ticket_info, strict=True):
        if info.pname is None or info.prealm is None or info.endtime is None:
            raise InvalidToken(
                "The delegated KRB-CRED does not say whose ticket it is or when it ends "
                "(KrbCredInfo pname, prealm, endtime); it cannot be used."
            )
        try:
            key = Key(info.key.keytype, info.key.keyvalue)
        except InvalidParameter as exc:
            raise InvalidToken(f"The delegated ticket has a bad key: {exc.message}") from None
        srealm = info.srealm or ticket.realm
        sname = info.sname or ticket.sname
        tickets.append(
            ServiceTicket(
                client=Principal(info.pname, info.prealm),
                server=Principal(sname, srealm),
                ticket=ticket,
                session_key=key,
                flags=info.flags or 0,
                authtime=info.authtime or info.starttime or env.now(),
                starttime=info.starttime,
                endtime=info.endtime,
                renew_till=info.renew_till,
            )
        )
    as_types, tgs_types, allow = enctype_policy(cfg)
    cred = KerberosCredential(
        CredentialUse.OUTBOUND, cfg, enctypes=as_types, tgs_enctypes=tgs_types, allow_rc4=allow
    )
    client = tickets[0].client
    cred.client = client
    cred.source = CredentialSource.DELEGATED
    cred.cache = TicketCache.for_identity(client, partition=b"delegated")
    cred.cache.store_all(tickets, env.now())
    for held in tickets:
        if held.is_tgt and held.server.realm == held.server.tgs_realm:
            cred.tgt_realm = held.server.realm
    return cred
