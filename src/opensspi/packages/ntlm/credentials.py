"""NTLM credentials: the initiator's identity and the acceptor's user database.

Initiator: user + domain + password (or an NT hash). The NT hash (NTOWFv1, MS-NLMP 3.3.1) is
computed once when the credential is acquired, so every context made from the handle reuses it;
the password itself is kept only when a legacy LM setting needs it.

Initiator with no explicit identity (``pAuthData`` None): the ``NTLM_USER_FILE`` convention of
gss-ntlmssp and pyspnego — see :func:`default_identity`.

Acceptor: a mapping of users to NT hashes, from a dict, or from a file in the
``NTLM_USER_FILE`` format that gss-ntlmssp and pyspnego read — one ``DOMAIN:USER:PASSWORD``
per line, the domain may be empty (any domain), ``#`` starts a comment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ...constants import CredentialUse
from ...errors import InvalidParameter, NoCredentials
from ...provider import AuthIdentity, Credential
from .crypto import ntowfv1, ntowfv2

MAX_NETBIOS_NAME = 15


@dataclass(frozen=True, slots=True)
class NtlmSettings:
    """Policy for NTLM contexts made from a credential.

    Attributes:
        lm_compatibility_level: Windows' ``LmCompatibilityLevel`` (0-5), default 3: the client
            sends NTLMv2 only. Levels 0-2 make the client use NTLMv1/LM (the legacy module).
            Deviation: the acceptor refuses NTLMv1/LM unless the level is 2 or lower, although
            Windows' acceptor at level 3 still takes them; legacy protocols stay off by default.
        workstation: the name sent in AUTHENTICATE (NetBIOS, at most 15 characters).
        nb_domain, nb_computer, dns_domain, dns_computer: what an acceptor advertises in its
            CHALLENGE target info.
        max_clock_skew: how far an NTLMv2 response's timestamp may be from the acceptor's clock.
        max_token: the largest token accepted (default Windows' NTLM cbMaxToken, 2888).
    """

    lm_compatibility_level: int = 3
    workstation: str = ""
    nb_domain: str = "WORKGROUP"
    nb_computer: str = "OPENSSPI"
    dns_domain: str = ""
    dns_computer: str = ""
    max_clock_skew: timedelta = timedelta(minutes=5)
    max_token: int = 2888

    def __post_init__(self) -> None:
        if not 0 <= self.lm_compatibility_level <= 5:
            raise InvalidParameter("lm_compatibility_level is 0 to 5 (Windows' scale).")
        if len(self.workstation) > MAX_NETBIOS_NAME:
            raise InvalidParameter(
                f"workstation {self.workstation!r} is longer than a NetBIOS name "
                f"({MAX_NETBIOS_NAME} characters); some servers reject it."
            )


@dataclass(frozen=True, slots=True)
class UserEntry:
    """One acceptor account; the password is kept only for legacy LM checks."""

    user: str
    domain: str
    nt_hash: bytes = field(repr=False)
    password: str | None = field(default=None, repr=False)


class UserDatabase:
    """Accounts an acceptor checks responses against, keyed case-insensitively."""

    def __init__(self, entries: list[UserEntry]) -> None:
        self._by_key: dict[tuple[str, str], UserEntry] = {}
        for entry in entries:
            self._by_key[(entry.domain.upper(), entry.user.upper())] = entry

    @classmethod
    def from_mapping(cls, users: Mapping[str, str]) -> UserDatabase:
        """``{"DOMAIN\\\\user": password}``; a key without a domain matches any domain."""
        entries = []
        for name, password in users.items():
            ident = AuthIdentity.parse_user(name, password)
            entries.append(
                UserEntry(ident.user or "", ident.domain or "", ntowfv1(password), password)
            )
        return cls(entries)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> UserDatabase:
        """Read an ``NTLM_USER_FILE`` (``DOMAIN:USER:PASSWORD`` lines, UTF-8)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise NoCredentials(
                f"Cannot read the NTLM user file {str(path)!r}: {exc.strerror}."
            ) from None
        entries = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(":", 2)
            if len(parts) != 3:
                raise NoCredentials(
                    f"{str(path)!r} line {number} is not DOMAIN:USER:PASSWORD."
                )
            domain, user, password = parts
            entries.append(UserEntry(user, domain, ntowfv1(password), password))
        return cls(entries)

    def entries(self) -> list[UserEntry]:
        """The accounts in file (insertion) order."""
        return list(self._by_key.values())

    def lookup(self, domain: str, user: str) -> UserEntry | None:
        """The account for ``domain\\user``, falling back to a domain-less entry."""
        key_user = user.upper()
        return self._by_key.get((domain.upper(), key_user)) or self._by_key.get(("", key_user))

    def __len__(self) -> int:
        return len(self._by_key)

    def __repr__(self) -> str:
        return f"UserDatabase({len(self._by_key)} users)"


@dataclass(frozen=True, slots=True)
class NtlmAuthData:
    """Package-specific ``pAuthData`` for NTLM: an identity or user database plus settings."""

    identity: AuthIdentity | None = None
    users: UserDatabase | Mapping[str, str] | str | None = None
    settings: NtlmSettings = NtlmSettings()


class NtlmCredential(Credential):
    """Credentials behind an NTLM CredHandle."""

    def __init__(
        self,
        use: CredentialUse,
        identity: AuthIdentity | None,
        users: UserDatabase | None,
        settings: NtlmSettings,
    ) -> None:
        self.use = use
        self.settings = settings
        self.user = (identity.user or "") if identity else ""
        self.domain = (identity.domain or "") if identity else ""
        self.anonymous = identity is None or (not identity.user and not identity.password
                                              and identity.nt_hash is None)
        if identity is not None and identity.nt_hash is not None:
            self.nt_hash = identity.nt_hash
        else:
            self.nt_hash = ntowfv1(identity.password or "") if identity else b""
        # LM needs the password itself; keep it only when a legacy level asks for LM.
        self.password = (
            identity.password if identity and settings.lm_compatibility_level < 2 else None
        )
        self.users = users
        self.why_anonymous = ""
        """Why an OUTBOUND credential acquired without ``pAuthData`` found no default identity."""
        self._response_key_nt: bytes | None = None

    def response_key_nt(self) -> bytes:
        """NTOWFv2 of this identity (MS-NLMP 3.3.2), computed on first use and kept with the
        NT hash it derives from: every context of the handle needs the same key."""
        key = self._response_key_nt
        if key is None:
            key = self._response_key_nt = ntowfv2(self.nt_hash, self.user, self.domain)
        return key

    @property
    def principal_name(self) -> str:
        if self.user:
            return f"{self.domain}\\{self.user}" if self.domain else self.user
        return ""

    def __repr__(self) -> str:
        return f"NtlmCredential({self.principal_name!r}, {self.use!r})"


def default_identity(
    wanted: str | None, environ: Mapping[str, str] | None = None
) -> AuthIdentity:
    """The initiator identity used when ``pAuthData`` is None, from ``NTLM_USER_FILE``.

    ``wanted`` is the principal asked for (``pszPrincipal``, or the client a thread
    impersonates), ``DOMAIN\\user`` or ``user@domain``; when it is given, its entry must exist.
    Without it, the entry for ``NTLM_USER`` from the environment, else for the login name
    (:func:`getpass.getuser`), else the file's first entry — the order pyspnego and
    gss-ntlmssp use, so one file serves all three.

    Deviation: Windows uses the logged-on user's cached secret; POSIX has none, and this file is
    the established stand-in.

    Raises:
        NoCredentials: ``NTLM_USER_FILE`` is unset, unreadable, empty, or lacks ``wanted``.
    """
    env = os.environ if environ is None else environ
    path = env.get("NTLM_USER_FILE")
    if not path:
        raise NoCredentials(
            "NTLM has no default credentials here: pass pAuthData=(user, domain, password), or "
            "set NTLM_USER_FILE to a file of DOMAIN:USER:PASSWORD lines (and NTLM_USER to pick "
            "an entry)."
        )
    database = UserDatabase.from_file(path)
    entry: UserEntry | None = None
    if wanted:
        entry = _find(database, wanted)
        if entry is None:
            raise NoCredentials(
                f"{str(path)!r} (NTLM_USER_FILE) has no entry for {wanted!r}; NTLM carries no "
                "reusable secret for another user, so it cannot act as one without it."
            )
    else:
        name = env.get("NTLM_USER") or _login_name()
        if name:
            entry = _find(database, name)
        if entry is None:
            entries = database.entries()
            if not entries:
                raise NoCredentials(f"{str(path)!r} (NTLM_USER_FILE) holds no entry.")
            entry = entries[0]
    return AuthIdentity(entry.user, entry.domain or None, entry.password, entry.nt_hash)


def _find(database: UserDatabase, name: str) -> UserEntry | None:
    """The entry for ``DOMAIN\\user``/``user@domain``; a bare ``user`` matches any domain."""
    ident = AuthIdentity.parse_user(name)
    if ident.domain:
        return database.lookup(ident.domain, ident.user or "")
    wanted = (ident.user or "").upper()
    return next((e for e in database.entries() if e.user.upper() == wanted), None)


def _login_name() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def user_database(source: UserDatabase | Mapping[str, str] | str | None) -> UserDatabase:
    """Resolve an acceptor's user source; None means the file named by ``NTLM_USER_FILE``."""
    if isinstance(source, UserDatabase):
        return source
    if isinstance(source, str):
        return _user_file(source)
    if source is not None:
        return UserDatabase.from_mapping(source)
    path = os.environ.get("NTLM_USER_FILE")
    if not path:
        raise NoCredentials(
            "An NTLM acceptor needs accounts to check: pass users={...} or set NTLM_USER_FILE "
            "to a file of DOMAIN:USER:PASSWORD lines."
        )
    return _user_file(path)


#: Parsed user files by path, with the (mtime, size, inode) they had when read.
_USER_FILES: dict[str, tuple[tuple[int, int, int], UserDatabase]] = {}


def _user_file(path: str) -> UserDatabase:
    """:meth:`UserDatabase.from_file`, parsed again only when the file changed: servers written
    for SSPI acquire a credential per connection, and hashing every account each time was
    most of that cost."""
    try:
        st = os.stat(path)
    except OSError:
        return UserDatabase.from_file(path)  # raises NoCredentials with the reason
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _USER_FILES.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    database = UserDatabase.from_file(path)
    _USER_FILES[path] = (stamp, database)
    return database
