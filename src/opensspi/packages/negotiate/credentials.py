"""Negotiate credentials: one Kerberos and one NTLM credential acquired from the same identity.

Windows' Negotiate acquires the credentials of every package it may pick when the caller
acquires its own; a package whose credentials cannot be had is simply not offered (a password
identity whose realm has no KDC still gives NTLM; a keytab-only acceptor still accepts
Kerberos). Only when neither package has credentials does AcquireCredentialsHandle fail.

The package list (``SEC_WINNT_AUTH_IDENTITY_EX.PackageList``,
https://learn.microsoft.com/windows/win32/api/sspi/ns-sspi-sec_winnt_auth_identity_exw): a comma
separated list of package names; ``!name`` forbids a package, a plain name allows it. With no
plain name every package not forbidden is allowed; with plain names only those are. Names
other than Kerberos, NTLM and Negotiate (NegoEx, PKU2U...) are skipped, as Negotiate does not
offer those mechanisms.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ...constants import CredentialUse
from ...errors import InvalidParameter, NoCredentials, SspiError
from ...provider import AuthIdentity, Credential, SecurityPackage

KERBEROS = "kerberos"
NTLM = "ntlm"
_KNOWN = (KERBEROS, NTLM)


@dataclass(frozen=True, slots=True)
class NegotiateAuthData:
    """Negotiate-specific ``pAuthData``: what to hand each inner package.

    Attributes:
        identity: the identity both packages use (a password gives Kerberos and NTLM).
        kerberos: ``pAuthData`` for the Kerberos package instead (a ``KerberosAuthData``:
            ccache, keytab, krb5.conf...); None means ``identity``.
        ntlm: ``pAuthData`` for the NTLM package instead (``NtlmAuthData``, a user mapping or
            an ``NTLM_USER_FILE`` path for an acceptor); None means ``identity``.
        package_list: as ``AuthIdentity.package_list`` (this one wins when both are given).
    """

    identity: AuthIdentity | None = None
    kerberos: object | None = None
    ntlm: object | None = None
    package_list: str | None = None


def parse_package_list(text: str | None) -> tuple[str, ...]:
    """The inner packages (``"kerberos"``, ``"ntlm"``, in Negotiate's order of preference) a
    package list allows.

    Raises:
        InvalidParameter: an empty entry, or a list that leaves no package at all.
    """
    if text is None:
        return _KNOWN
    allowed: list[str] = []
    forbidden: set[str] = set()
    for raw in text.split(","):
        name = raw.strip().lower()
        negate = name.startswith("!")
        name = name[1:].strip() if negate else name
        if not name:
            raise InvalidParameter(
                f"The package list {text!r} has an empty entry; write names such as "
                "'kerberos', 'ntlm' or '!ntlm', separated by commas."
            )
        if name == "negotiate":
            continue
        if negate:
            forbidden.add(name)
        else:
            allowed.append(name)
    chosen = tuple(
        name for name in _KNOWN
        if name not in forbidden and (not allowed or name in allowed)
    )
    if not chosen:
        raise InvalidParameter(
            f"The package list {text!r} allows neither Kerberos nor NTLM; Negotiate has "
            "nothing to offer."
        )
    return chosen


class NegotiateCredential(Credential):
    """The credential behind a Negotiate ``CredHandle``: the inner packages' credentials.

    ``kerberos``/``ntlm`` are None when that package is not allowed or has no credentials;
    ``problems`` keeps why, for the error a context raises when nothing is left.

    Kerberos credentials are acquired on first use when NTLM already made the handle usable:
    code written for SSPI acquires a credential per connection, and an acceptor whose client
    offers only NTLM (or an initiator whose target is an IP address) never needs the keytab or
    the krb5 configuration. Until then ``expiry`` is None.
    """

    def __init__(
        self,
        use: CredentialUse,
        packages: tuple[str, ...],
        kerberos: Credential | None,
        ntlm: Credential | None,
        problems: dict[str, str],
        deferred: Callable[[], Credential] | None = None,
        probe: Callable[[str], str | None] | None = None,
    ) -> None:
        self.use = use
        self.packages = packages
        self._kerberos = kerberos
        self._deferred = deferred
        self._probe = probe
        self._lock = threading.Lock()
        self.ntlm = ntlm
        self.problems = problems
        self._unresolvable: dict[str, str] | None = None

    def kerberos_unresolvable(self, target: str) -> str | None:
        """Why (status name and message) the Kerberos credential cannot name ``target``'s
        principal, if it said so before (see :meth:`remember_unresolvable`); None otherwise.

        Before the deferred Kerberos credential is acquired, the Kerberos package is asked too
        (``probe``): whether this process already found ``target`` unresolvable under the
        krb5.conf that credential would read. A program that acquires per connection (pywin32's
        ``ClientAuth``) then goes straight to NTLM, as a kept handle does."""
        memo = self._unresolvable
        found = memo.get(target) if memo is not None else None
        if found is None and self._deferred is not None and self._probe is not None:
            found = self._probe(target)
            if found is not None:
                self.remember_unresolvable(target, found)
        return found

    def remember_unresolvable(self, target: str, why: str) -> None:
        """Keep that Kerberos could not resolve ``target`` before any KDC exchange (no realm
        for its host in krb5.conf): a pure function of the target and the krb5.conf this
        handle's Kerberos credential read, so a context of this handle to the same target goes
        to NTLM without building a Kerberos context that must fail the same way. A KDC's answer
        (an SPN it does not know) and missing tickets are never kept: they can change. At most
        64 targets are kept (the memo starts over when full)."""
        memo = self._unresolvable
        if memo is None or len(memo) >= 64:
            memo = self._unresolvable = {}
        memo[target] = why

    @property
    def kerberos(self) -> Credential | None:
        """The Kerberos credential, acquired now if it was deferred (None: not available)."""
        if self._deferred is not None:
            with self._lock:
                deferred, self._deferred = self._deferred, None
                if deferred is not None:
                    try:
                        self._kerberos = deferred()
                    except SspiError as exc:
                        self.problems[KERBEROS] = exc.message
        return self._kerberos

    @property
    def principal_name(self) -> str:
        for cred in (self.kerberos, self.ntlm):
            if cred is not None and cred.principal_name:
                return cred.principal_name
        return ""

    @property
    def expiry(self) -> datetime | None:
        return self._kerberos.expiry if self._kerberos is not None else None

    def __repr__(self) -> str:
        held = [name for name, c in ((KERBEROS, self._kerberos), (NTLM, self.ntlm)) if c]
        if self._deferred is not None:
            held.append("kerberos (on first use)")
        return f"NegotiateCredential({self.principal_name!r}, {self.use!r}, {held})"


def _split(auth_data: object | None) -> tuple[object | None, object | None, str | None]:
    """``(Kerberos pAuthData, NTLM pAuthData, package list)`` from Negotiate's pAuthData."""
    if auth_data is None:
        return None, None, None
    if isinstance(auth_data, NegotiateAuthData):
        ident = auth_data.identity
        packages = auth_data.package_list
        if packages is None and ident is not None:
            packages = ident.package_list
        kerberos = auth_data.kerberos if auth_data.kerberos is not None else ident
        ntlm = auth_data.ntlm if auth_data.ntlm is not None else ident
        return kerberos, ntlm, packages
    if isinstance(auth_data, AuthIdentity):
        return auth_data, auth_data, auth_data.package_list
    if isinstance(auth_data, (Mapping, str)):
        # An acceptor's NTLM users ({"DOMAIN\\user": password} or an NTLM_USER_FILE path);
        # Kerberos keeps its default (KRB5_KTNAME).
        return None, auth_data, None
    # A package's own pAuthData (KerberosAuthData, NtlmAuthData): offered to both inner
    # packages, and the one that does not take it is left out (its refusal is recorded).
    return auth_data, auth_data, None


def acquire(
    kerberos: SecurityPackage, ntlm: SecurityPackage, principal: str | None,
    use: CredentialUse, auth_data: object | None,
) -> NegotiateCredential:
    """AcquireCredentialsHandle for Negotiate: each allowed inner package's credentials.

    Raises:
        NoCredentials: no allowed package has credentials (the message says why for each).
        InvalidParameter: a bad ``pAuthData`` or package list.
    """
    krb_data, ntlm_data, package_list = _split(auth_data)
    packages = parse_package_list(package_list)
    problems: dict[str, str] = {}
    ntlm_cred: Credential | None = None
    if NTLM in packages:
        try:
            cred = ntlm.acquire_credentials(principal, use, ntlm_data)
        except SspiError as exc:
            # A package without credentials is not offered; it is not an error for Negotiate.
            problems[NTLM] = exc.message
        else:
            if use == CredentialUse.OUTBOUND and not cred.principal_name:
                # NTLM has no single sign-on source: without an identity it could only log on
                # anonymously, which Negotiate never offers on its own.
                problems[NTLM] = "no user name and password were given"
            else:
                ntlm_cred = cred
    else:
        problems[NTLM] = "excluded by the package list"

    def kerberos_credential() -> Credential:
        return kerberos.acquire_credentials(principal, use, krb_data)

    known: Callable[[str, object | None], str | None] | None = getattr(
        kerberos, "known_unresolvable", None)

    def probe(target: str) -> str | None:
        return known(target, krb_data) if known is not None else None

    if KERBEROS not in packages:
        problems[KERBEROS] = "excluded by the package list"
        if ntlm_cred is not None:
            return NegotiateCredential(use, packages, None, ntlm_cred, problems)
    elif ntlm_cred is not None:
        return NegotiateCredential(use, packages, None, ntlm_cred, problems, kerberos_credential,
                                   probe)
    else:
        try:
            return NegotiateCredential(use, packages, kerberos_credential(), None, problems)
        except SspiError as exc:
            problems[KERBEROS] = exc.message
    raise NoCredentials(
        "Negotiate has no credentials for any package: "
        + "; ".join(f"{name}: {why}" for name, why in sorted(problems.items()))
    )
