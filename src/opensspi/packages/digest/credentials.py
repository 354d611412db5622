"""Digest credentials: the initiator's name and password, the acceptor's users and policy.

Initiator (``SECPKG_CRED_OUTBOUND``): an :class:`~opensspi.provider.AuthIdentity` with a user
name and password, or :class:`DigestClientOptions` wrapping one with Digest-only settings
(legacy SASL ciphers, ``authzid``, ``maxbuf``). Digest cannot use an NT hash or a logon session:
the password itself keys every response.

Acceptor (``SECPKG_CRED_INBOUND``): a :class:`DigestAcceptorConfig` naming the realm, where the
users come from (a password dict, an htdigest file, or both) and what may be negotiated. The
htdigest format is Apache's ``user:realm:H(user:realm:password)``, optionally with lighttpd's
fourth field ``H(user:realm)`` for ``userhash``.

The credential object is shared by every context made from it: it holds the acceptor's nonce
key, behind a lock. The replay record of nonce counts belongs to the nonce secret and is shared
by every credential holding it (``replay.py``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ...constants import CredentialUse
from ...errors import InvalidParameter, NoCredentials, UnknownCredentials
from ...provider import AuthIdentity, Credential
from .crypto import Algorithm, Cipher, Qop, http_octets, secret_hash, userhash
from .legacy import STRONG_CIPHERS
from .messages import quotable, username_directive
from .replay import NonceCounts, shared_counts
from .security import DEFAULT_MAXBUF, MAX_MAXBUF

_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_OUTBOUND = int(CredentialUse.OUTBOUND)


def _check_maxbuf(maxbuf: int) -> None:
    if not 16 < maxbuf <= MAX_MAXBUF:
        raise InvalidParameter(f"maxbuf must be from 17 to {MAX_MAXBUF}, not {maxbuf}.")


@dataclass(frozen=True, slots=True)
class DigestClientOptions:
    """Initiator credentials with Digest-specific settings.

    Attributes:
        identity: user name and password (``domain`` is the preferred SASL realm).
        ciphers: SASL ciphers the client may choose, strongest first. The legacy ones
            (``legacy.LEGACY_CIPHERS``) are used only when listed here.
        authzid: the SASL authorization identity to act as (RFC 2831 §2.1.2).
        maxbuf: the largest SASL frame this side accepts (RFC 2831 §2.1.2).
        allow_rfc2069: answer an HTTP challenge that offers no ``qop`` in the RFC 2069 form
            (no ``cnonce``, no ``nc``). Off by default: anyone on the path can strip ``qop``
            from a challenge, and the RFC 2069 form has no client nonce, so the server's nonce
            alone salts the response and it can be replayed for the nonce's lifetime (RFC 7616
            §5.10 and §5.13). Turn it on only for a server that cannot send ``qop``.
        allow_weaker_algorithm: answer a weaker challenge (MD5) when the server also offered a
            stronger one (SHA-256) that this context cannot answer (no ``qop``, or not the
            protection asked for). Off by default: that is what a man in the middle who edits
            one challenge of several produces.
    """

    identity: AuthIdentity
    ciphers: tuple[Cipher, ...] = STRONG_CIPHERS
    authzid: str | None = None
    maxbuf: int = DEFAULT_MAXBUF
    allow_rfc2069: bool = False
    allow_weaker_algorithm: bool = False

    def __post_init__(self) -> None:
        _check_maxbuf(self.maxbuf)


@dataclass(frozen=True, slots=True)
class DigestAcceptorConfig:
    """What an acceptor knows and allows.

    Attributes:
        realm: the realm named in challenges (Windows' realm PKG_PARAMS buffer overrides it
            per context).
        passwords: user name -> password, valid in any realm this acceptor serves.
        htdigest: path of an htdigest file (``user:realm:HA1[:userhash]``).
        htdigest_hash: the hash of the file's 64-hex-digit HA1 values (32 digits are MD5).
        algorithms: HTTP algorithms to offer, one challenge each, strongest first. None offers
            SHA-256 and MD5 when passwords are configured, else the htdigest file's hashes.
        qops: qualities of protection to offer; ``auth-conf`` applies to SASL only.
        ciphers: SASL ciphers to offer; the legacy ones only when listed.
        userhash: ask HTTP clients to hash their user name (RFC 7616 §3.4.4).
        maxbuf: the largest SASL frame this side accepts.
        nonce_lifetime: seconds a nonce stays fresh; after that the client gets stale=true.
        service: when set, a SASL digest-uri must name this service type (``imap``...).
        hosts: when set, a SASL digest-uri must name one of these hosts.
        nonce_secret: key of the self-validating nonces; None draws one from the
            Environment's random source on first use. Share it between processes that must
            accept each other's nonces.
        max_nonces: how many nonces the replay record remembers (the record is shared by every
            credential of the process with the same ``nonce_secret``).
    """

    realm: str
    passwords: Mapping[str, str] = field(default_factory=dict, repr=False)
    htdigest: str | os.PathLike[str] | None = None
    htdigest_hash: Algorithm = Algorithm.SHA_256
    algorithms: tuple[Algorithm, ...] | None = None
    qops: tuple[Qop, ...] = (Qop.AUTH, Qop.AUTH_INT, Qop.AUTH_CONF)
    ciphers: tuple[Cipher, ...] = STRONG_CIPHERS
    userhash: bool = False
    maxbuf: int = DEFAULT_MAXBUF
    nonce_lifetime: int = 300
    service: str | None = None
    hosts: tuple[str, ...] = ()
    nonce_secret: bytes | None = field(default=None, repr=False)
    max_nonces: int = 4096

    def __post_init__(self) -> None:
        _check_maxbuf(self.maxbuf)
        if not quotable(self.realm):
            raise InvalidParameter("The realm may not contain control characters.")
        if not self.qops:
            raise InvalidParameter("Offer at least one qop.")
        if self.htdigest_hash.session or self.htdigest_hash is Algorithm.MD5:
            raise InvalidParameter("htdigest_hash names the hash of 64-digit HA1 values.")


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """The initiator's side of a Digest credential. The password is hidden from ``repr``.

    ``http_user`` and ``http_password`` hold the HTTP octets of the name and password
    (:func:`~.crypto.http_octets`), indexed by the challenge's ``charset=UTF-8``, and
    ``http_username`` the rendered ``username="..."`` directive: none depends on anything else
    in a challenge, so every context made from the credential shares them instead of encoding
    (and NFC-normalizing, and quoting) again.
    """

    user: str
    realm: str | None
    password: str = field(repr=False)
    ciphers: tuple[Cipher, ...] = STRONG_CIPHERS
    authzid: str | None = None
    maxbuf: int = DEFAULT_MAXBUF
    allow_rfc2069: bool = False
    allow_weaker_algorithm: bool = False
    http_user: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)
    http_password: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)
    http_username: str = field(init=False, repr=False, compare=False)
    http_secrets: dict[tuple[object, ...], tuple[str, str]] = field(
        init=False, repr=False, compare=False
    )
    """H(user:realm:password) and the username directive per (algorithm, realm, charset,
    userhash), as :func:`~.session._http_secret` computes them: a credential answering many
    challenges of one realm hashes its password once. At most :data:`MAX_HTTP_SECRETS`."""

    def __post_init__(self) -> None:
        user, password = self.user, self.password
        if user.isascii() and password.isascii():
            # NFC leaves ASCII unchanged, so both charsets give the same octets
            # (pywin32's ClientAuth acquires a credential for every connection).
            name, secret = user.encode(), password.encode()
            object.__setattr__(self, "http_user", (name, name))
            object.__setattr__(self, "http_password", (secret, secret))
        else:
            for field_name, text in (("http_user", user), ("http_password", password)):
                object.__setattr__(
                    self, field_name, (http_octets(text, False), http_octets(text, True))
                )
        object.__setattr__(self, "http_username", username_directive(user, False))
        object.__setattr__(self, "http_secrets", {})


MAX_HTTP_SECRETS = 16
"""How many realms' secrets a :class:`ClientSecret` keeps (it starts over when full)."""


@dataclass(frozen=True, slots=True)
class StoredUser:
    """What the acceptor holds for one user: a password, or the HA1 of one hash family."""

    name: str
    password: str | None = field(default=None, repr=False)
    ha1: str | None = field(default=None, repr=False)
    family: Algorithm | None = None
    hashed_name: str | None = None

    def secret_hex(self, alg: Algorithm, encode: Callable[[str], bytes], realm: str) -> str | None:
        """H(user:realm:password) under ``alg``'s hash, or None if the store cannot give it."""
        if self.password is not None:
            return secret_hash(alg, encode(self.name), encode(realm), encode(self.password))
        if self.ha1 is not None and self.family is alg.base:
            return self.ha1
        return None


def read_htdigest(
    path: str | os.PathLike[str], wide: Algorithm
) -> dict[tuple[str, str], StoredUser]:
    """Load an htdigest file: ``user:realm:HA1`` lines, lighttpd's ``:H(user:realm)`` optional.

    Raises:
        NoCredentials: the file cannot be read.
        UnknownCredentials: a line is malformed (its number is given, never its contents).
    """
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise NoCredentials(
            f"Cannot read the htdigest file {os.fspath(path)!r}: {exc.__class__.__name__}."
        ) from None
    users: dict[tuple[str, str], StoredUser] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(":")
        ok = len(fields) in (3, 4) and all(_HEX_RE.fullmatch(f) for f in fields[2:])
        if not ok or len(fields[2]) not in (32, 64):
            raise UnknownCredentials(
                f"Line {number} of the htdigest file {os.fspath(path)!r} is not "
                "user:realm:HA1 (32 or 64 hex digits)[:userhash]."
            )
        family = Algorithm.MD5 if len(fields[2]) == 32 else wide
        hashed = fields[3].lower() if len(fields) == 4 else None
        users[(fields[0], fields[1])] = StoredUser(
            fields[0], ha1=fields[2].lower(), family=family, hashed_name=hashed
        )
    return users


class Acceptor:
    """The acceptor's user store, nonce key and replay record, shared by its contexts."""

    def __init__(self, config: DigestAcceptorConfig) -> None:
        self.config = config
        self._htdigest: dict[tuple[str, str], StoredUser] = {}
        if config.htdigest is not None:
            self._htdigest = read_htdigest(config.htdigest, config.htdigest_hash)
        if not config.passwords and not self._htdigest:
            raise NoCredentials(
                "The Digest acceptor has no users: give passwords or an htdigest file."
            )
        self._lock = threading.Lock()
        self._secret = config.nonce_secret
        self._nonce_counts: NonceCounts | None = None
        self._hashed: dict[tuple[Algorithm, str], dict[str, StoredUser]] = {}

    def __repr__(self) -> str:
        return f"Acceptor(realm={self.config.realm!r})"

    def http_algorithms(self) -> tuple[Algorithm, ...]:
        """The algorithms to offer to HTTP clients, strongest first."""
        if self.config.algorithms is not None:
            return self.config.algorithms
        if self.config.passwords:
            return (Algorithm.SHA_256, Algorithm.MD5)
        families = {u.family for u in self._htdigest.values() if u.family is not None}
        return tuple(sorted(families, key=lambda a: -a.strength))

    def user(self, name: str, realm: str) -> StoredUser | None:
        """The stored user called ``name`` in ``realm``."""
        stored = self._htdigest.get((name, realm))
        if stored is not None:
            return stored
        password = self.config.passwords.get(name)
        return StoredUser(name, password=password) if password is not None else None

    def decoy(self, name: str) -> StoredUser:
        """A stand-in for an unknown user that costs what a known one does to check.

        Unknown user and wrong password must look the same to the peer (issue 12): same
        status, and no timing difference. A password store hashes the password for every
        check, so the decoy has a password too; an htdigest store hashes nothing, nor does a
        decoy without a secret. The check still refuses the decoy whatever the peer sent.
        """
        if self.config.passwords:
            return StoredUser(name, password="\0 no such user")
        return StoredUser(name)

    def user_by_hash(
        self, alg: Algorithm, hashed: str, realm: str, encode: Callable[[str], bytes]
    ) -> StoredUser | None:
        """The user whose ``H(user:realm)`` is ``hashed`` (RFC 7616 §3.4.4)."""
        key = (alg.base, realm)
        with self._lock:
            table = self._hashed.get(key)
            if table is None:
                table = {}
                for (name, user_realm), stored in self._htdigest.items():
                    if user_realm == realm:
                        digest = stored.hashed_name or userhash(alg, encode(name), encode(realm))
                        table[digest] = stored
                for name, password in self.config.passwords.items():
                    digest = userhash(alg, encode(name), encode(realm))
                    table.setdefault(digest, StoredUser(name, password=password))
                self._hashed[key] = table
        return table.get(hashed.lower())

    def nonce_key(self, draw: Callable[[int], bytes]) -> bytes:
        """The nonce MAC key, drawn once from ``draw`` (the Environment's random source)."""
        with self._lock:
            if self._secret is None:
                self._secret = draw(32)
            return self._secret

    def _counts(self) -> NonceCounts:
        """The replay record of this acceptor's nonce secret (see ``replay.py``): process-wide
        for a configured ``nonce_secret``, private for one drawn at random."""
        counts = self._nonce_counts
        if counts is None:
            config = self.config
            if config.nonce_secret is not None:
                counts = shared_counts(
                    config.nonce_secret, config.max_nonces, config.nonce_lifetime
                )
            else:
                counts = NonceCounts(config.max_nonces, config.nonce_lifetime)
            with self._lock:
                if self._nonce_counts is None:
                    self._nonce_counts = counts
                counts = self._nonce_counts
        return counts

    def accept_count(self, nonce: str, nc: int, issued: int, now: int) -> bool:
        """Record ``nc`` for ``nonce`` (issued at ``issued``); False when it is not above every
        count seen before with that nonce by any handle sharing the nonce secret."""
        return self._counts().accept(nonce, nc, issued, now)

    def forgotten(self, issued: int, now: int) -> bool:
        """Whether the record had to forget nonces this old (treat the nonce as stale)."""
        return self._counts().forgotten(issued, now)


class DigestCredential(Credential):
    """The object behind a Digest ``CredHandle``: an initiator part, an acceptor part, or both."""

    def __init__(
        self, use: CredentialUse, client: ClientSecret | None, acceptor: Acceptor | None
    ) -> None:
        self.use = use
        self.client = client
        self.acceptor = acceptor

    def __repr__(self) -> str:
        return f"DigestCredential({self.principal_name!r}, use={self.use!r})"

    @property
    def principal_name(self) -> str:
        if self.client is not None:
            if self.client.realm:
                return f"{self.client.realm}\\{self.client.user}"
            return self.client.user
        assert self.acceptor is not None
        return self.acceptor.config.realm


def _client_secret(principal: str | None, auth_data: object) -> ClientSecret:
    options = auth_data if isinstance(auth_data, DigestClientOptions) else None
    identity = options.identity if options is not None else auth_data
    if not isinstance(identity, AuthIdentity):
        raise NoCredentials(
            "Digest needs an explicit user name and password: pass an AuthIdentity or "
            "DigestClientOptions as the authentication data."
        )
    user = identity.user or principal
    if not user:
        raise NoCredentials("The Digest identity has no user name; set AuthIdentity.user.")
    if identity.password is None:
        raise UnknownCredentials(
            "Digest needs the password itself; an NT hash or a logon session cannot answer a "
            "Digest challenge."
        )
    if not quotable(user) or (identity.domain is not None and not quotable(identity.domain)):
        raise InvalidParameter("The user name and realm may not contain control characters.")
    if options is None:
        return ClientSecret(user, identity.domain or None, identity.password)
    return ClientSecret(
        user, identity.domain or None, identity.password, options.ciphers, options.authzid,
        options.maxbuf, options.allow_rfc2069, options.allow_weaker_algorithm,
    )


def acquire(
    principal: str | None, use: CredentialUse, auth_data: object | None
) -> DigestCredential:
    """AcquireCredentialsHandle (Digest): build the credential for ``use``.

    Raises:
        NoCredentials: nothing usable for the requested direction was supplied.
        UnknownCredentials: the identity lacks a password, or an htdigest line is malformed.
    """
    client: ClientSecret | None = None
    acceptor: Acceptor | None = None
    if isinstance(auth_data, DigestAcceptorConfig):
        if not use & CredentialUse.INBOUND:
            raise NoCredentials(
                "A DigestAcceptorConfig serves inbound credentials; acquire with "
                "SECPKG_CRED_INBOUND."
            )
        acceptor = Acceptor(auth_data)
    elif int(use) & _OUTBOUND:  # a plain int test: IntFlag's & is an Enum call
        client = _client_secret(principal, auth_data)
    else:
        raise NoCredentials(
            "Inbound Digest credentials need a DigestAcceptorConfig (realm and users)."
        )
    return DigestCredential(use, client, acceptor)
