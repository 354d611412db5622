"""HTTP authentication with opensspi, independent of any HTTP library (sans-I/O).

The requests and httpx adapters (:mod:`.requests`, :mod:`.httpx`) and the server middleware
(:mod:`.wsgi`, :mod:`.asgi`) share what is here: header parsing, the per-scheme client
conversation, channel bindings and credential options.

Schemes (``WWW-Authenticate`` / ``Authorization``):

- ``Negotiate`` (RFC 4559): SPNEGO tokens, base64. The package ``Kerberos`` also speaks it,
  with raw Kerberos GSS-API tokens inside (what MIT's acceptor and mod_auth_gssapi take); a
  server offering ``Kerberos`` as a scheme name is answered the same way.
- ``NTLM`` (MS-NTHT): NTLM messages, base64. Connection-based: every leg must travel on the
  same TCP connection; the adapters pin it.
- ``Digest`` (RFC 7616): request-based. After the first success, further requests to the same
  server are authorized in advance with the same nonce and ``nc`` + 1. Limit: the
  ``Authentication-Info`` of those later responses is not checked — one Digest context serves
  every request to the server, and under concurrency it cannot tell which request a response
  answers; the first response of each challenge is checked.

Mutual authentication (RFC 4559 §5; RFC 7616 §3.5): the server's final
``WWW-Authenticate: Negotiate <token>`` (or ``Authentication-Info`` for Digest) is fed to the
context; a token that does not verify raises an :class:`~opensspi.errors.SspiError`
(``SEC_E_MUTUAL_AUTH_FAILED`` or the package's own status). When the client asked for mutual
authentication (Kerberos and Negotiate do by default) and the server sent no final token, the
response is refused with ``MutualAuthFailed`` too; pass ``mutual=False`` for servers that omit it.

Channel bindings (RFC 5929 §4, ``tls-server-end-point``): over HTTPS the server's certificate
is hashed — with its signature's hash algorithm, SHA-256 when that is MD5 or SHA-1 (or when the
certificate has none, as Ed25519 certificates; RFC 5929 leaves that case open) — and the
bindings go into the NTLM (MsvAvChannelBindings) and Kerberos (GSS checksum) tokens. Opt out
with ``channel_bindings=False``.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import registry
from ..api import Context, client
from ..buffers import ChannelBindings
from ..constants import CredentialUse, IscReq
from ..errors import InvalidParameter, InvalidToken, MutualAuthFailed
from ..provider import AuthIdentity, Credential

__all__ = [
    "ClientOptions",
    "Conversation",
    "Leg",
    "parse_challenges",
    "scheme_for",
    "tls_server_end_point",
]

_SCHEMES = {"negotiate": "Negotiate", "ntlm": "NTLM", "kerberos": "Negotiate",
            "wdigest": "Digest", "digest": "Digest"}
_ANSWERS = {"negotiate": ("negotiate",), "ntlm": ("ntlm",), "kerberos": ("negotiate", "kerberos"),
            "wdigest": ("digest",), "digest": ("digest",)}
DEFAULT_FLAGS = IscReq.MUTUAL_AUTH | IscReq.INTEGRITY | IscReq.CONFIDENTIALITY
"""What an HTTP client asks for by default (the tokens only authenticate; integrity and
confidentiality make Kerberos and NTLM produce full-strength session keys, as browsers do)."""


def scheme_for(package: str) -> str:
    """The ``Authorization`` scheme a package speaks (``Kerberos`` speaks ``Negotiate``)."""
    try:
        return _SCHEMES[package.lower()]
    except KeyError:
        raise InvalidParameter(
            f"No HTTP scheme for package {package!r}; use Negotiate, NTLM, Kerberos or WDigest."
        ) from None


def parse_challenges(values: Iterable[str]) -> list[tuple[str, str]]:
    """Split ``WWW-Authenticate`` values into ``(scheme, data)`` pairs (RFC 9110 §11.6.1).

    One header may carry several challenges separated by commas, and a Digest challenge's
    parameters contain commas too (inside quoted strings or between parameters). A piece that
    starts with ``scheme SP`` or is a bare token starts a new challenge; a ``name=value`` piece
    continues the current one. ``data`` is the token68 or the parameter list, as sent.
    """
    result: list[tuple[str, str]] = []
    for value in values:
        for piece in _split_commas(value):
            text = piece.strip()
            if not text:
                continue
            head, _, rest = text.partition(" ")
            if "=" in head and not _is_token68(head):
                if result:  # auth-param of the current challenge
                    scheme, data = result[-1]
                    result[-1] = (scheme, f"{data}, {text}" if data else text)
                continue
            result.append((head, rest.strip()))
    return result


def _is_token68(text: str) -> bool:
    body = text.rstrip("=")
    return bool(body) and "=" not in body


def _split_commas(value: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(ch)
    pieces.append("".join(current))
    return pieces


def tls_server_end_point(certificate_der: bytes) -> ChannelBindings:
    """RFC 5929 §4.1 ``tls-server-end-point`` bindings for a server certificate (DER).

    "if the certificate's signatureAlgorithm uses a single hash function and that hash function
    is either MD5 or SHA-1, then use SHA-256; if the certificate's signatureAlgorithm uses a
    single hash function and that hash function neither MD5 nor SHA-1, then use the hash
    function associated with the certificate's signatureAlgorithm"

    Deviation: a certificate without a single hash (Ed25519, Ed448) is hashed with SHA-256, as
    Windows, MIT and curl do; RFC 5929 leaves it undefined.
    """
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes

    try:
        cert = x509.load_der_x509_certificate(certificate_der)
    except ValueError:
        raise InvalidToken("The server certificate is not valid DER.") from None
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    if algorithm is None or isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate_der)
    return ChannelBindings.from_application_data(b"tls-server-end-point:" + digest.finalize())


@dataclass(frozen=True)
class ClientOptions:
    """What an HTTP client adapter was configured with (see :class:`Conversation`).

    Credentials: ``password`` or ``nt_hash`` (with ``user``/``domain``) make an explicit
    identity; ``ccache`` and ``keytab`` name a Kerberos credential cache or client keytab
    (Kerberos and Negotiate); ``auth_data`` is passed to the package unchanged; with none of
    these the package's default credentials are used (Kerberos: ``KRB5CCNAME`` and friends;
    NTLM: ``NTLM_USER_FILE``).
    """

    package: str = "Negotiate"
    user: str | None = None
    domain: str | None = None
    password: str | None = field(default=None, repr=False)
    nt_hash: bytes | None = field(default=None, repr=False)
    ccache: str | None = None
    keytab: str | None = None
    auth_data: object | None = field(default=None, repr=False)
    target: str | None = None
    flags: int | None = None
    channel_bindings: bool = True
    mutual: bool | None = None
    max_legs: int = 8

    def __post_init__(self) -> None:
        scheme_for(self.package)
        if self.max_legs < 1:
            raise InvalidParameter("max_legs must be at least 1.")

    @property
    def scheme(self) -> str:
        return scheme_for(self.package)

    @property
    def digest(self) -> bool:
        return self.scheme == "Digest"

    @property
    def request_flags(self) -> IscReq:
        if self.flags is not None:
            flags = IscReq(self.flags)
        else:
            flags = DEFAULT_FLAGS
            if self.package.lower() == "ntlm" or self.digest or self.mutual is False:
                flags &= ~IscReq.MUTUAL_AUTH
        if self.digest:
            if self.flags is None:
                flags = IscReq(0)  # qop=auth; Authentication-Info is still checked when sent
            flags |= IscReq.USE_HTTP_STYLE
        return flags

    @property
    def wants_mutual(self) -> bool:
        if self.mutual is not None:
            return self.mutual
        return bool(self.request_flags & IscReq.MUTUAL_AUTH)

    def acquire(self) -> Credential:
        """The OUTBOUND credential these options describe."""
        package = registry.get(self.package)
        return package.acquire_credentials(self._principal(), CredentialUse.OUTBOUND,
                                           self._auth_data())

    def _identity(self) -> AuthIdentity | None:
        if self.password is None and self.nt_hash is None:
            return None
        if self.user is not None and self.domain is None:
            return AuthIdentity.parse_user(self.user, self.password, nt_hash=self.nt_hash)
        return AuthIdentity(self.user, self.domain, self.password, self.nt_hash)

    def _principal(self) -> str | None:
        if self._identity() is not None or self.user is None or self.digest:
            return None
        if self.domain and "@" not in self.user and "\\" not in self.user:
            if self.package.lower() == "ntlm":
                return f"{self.domain}\\{self.user}"
            return f"{self.user}@{self.domain}"
        return self.user

    def _auth_data(self) -> object | None:
        if self.auth_data is not None:
            return self.auth_data
        identity = self._identity()
        if self.ccache is not None or self.keytab is not None:
            if self.package.lower() in ("ntlm", "wdigest", "digest"):
                raise InvalidParameter(f"{self.package} has no use for a ccache or keytab.")
            from ..packages.kerberos import KerberosAuthData

            return KerberosAuthData(identity=identity, ccache=self.ccache,
                                    client_keytab=self.keytab)
        return identity


class ClientState:
    """What an HTTP client's auth object (the requests and httpx integrations) keeps across
    requests: its :class:`ClientOptions`, one credential handle acquired on first use, the
    Digest conversations by origin (for preemptive Authorization), and the lock over them."""

    def __init__(self, **options: Any) -> None:
        self.options = ClientOptions(**options)
        self._credential: Credential | None = None
        self._digest: dict[str, Conversation] = {}
        self._lock = threading.Lock()

    def _cred(self) -> Credential:
        with self._lock:
            if self._credential is None:
                self._credential = self.options.acquire()
            return self._credential


@dataclass(frozen=True)
class Leg:
    """One token for the caller to step the context with (``step``/``step_async``)."""

    token: bytes | str | None
    params: tuple[str | bytes, ...] = ()


class Conversation:
    """The client side of one HTTP authentication with one server (sans-I/O).

    An adapter calls :meth:`leg` with each 401's ``WWW-Authenticate`` values, steps
    :attr:`context` with the :class:`Leg` it gets (blocking or async), turns the output into a
    header with :meth:`authorization`, and finally calls :meth:`final_leg` and :meth:`finish`
    with the last response's headers to check mutual authentication.
    """

    def __init__(self, options: ClientOptions, credential: Credential, url: str, method: str,
                 body: bytes, certificate: Callable[[], bytes | None]) -> None:
        self.options = options
        self._credential = credential
        self._url = url
        self._method = method
        self._body = body
        self._certificate = certificate
        self.context: Context | None = None
        self.legs = 0
        self.sent = False

    def _new_context(self) -> Context:
        parts = urlsplit(self._url)
        bindings = None
        if self.options.channel_bindings and parts.scheme == "https":
            der = self._certificate()
            if der:
                bindings = tls_server_end_point(der)
        if self.options.digest:
            target = self.options.target or (parts.path or "/") + (
                f"?{parts.query}" if parts.query else "")
        else:
            target = self.options.target or f"HTTP/{parts.hostname or ''}"
        return client(self.options.package, credential=self._credential, target=target,
                      flags=self.options.request_flags, channel_bindings=bindings)

    def _offered(self, www_authenticate: Sequence[str]) -> tuple[str, str] | None:
        names = _ANSWERS[self.options.package.lower()]
        for scheme, data in parse_challenges(www_authenticate):
            if scheme.lower() in names:
                return scheme, data
        return None

    def leg(self, www_authenticate: Sequence[str]) -> Leg | None:
        """The next leg after a 401, or None when there is nothing more to try (the server did
        not offer our scheme, rejected the last leg, or :attr:`ClientOptions.max_legs` legs
        were sent)."""
        offered = self._offered(www_authenticate)
        if offered is None or self.legs >= self.options.max_legs:
            return None
        _scheme, data = offered
        if self.options.digest:
            if self.context is not None and "stale=true" not in data.lower().replace(" ", ""):
                return None  # a fresh, non-stale challenge after our answer: rejected
            if self.context is None:
                self.context = self._new_context()
            self.legs += 1
            every = ", ".join(
                f"Digest {d}" for s, d in parse_challenges(www_authenticate)
                if s.lower() == "digest"
            )
            return Leg(every, (self._method, *([self._body] if self._body else [])))
        if self.context is None:
            if data:
                return None  # a token without a conversation: not ours to answer
            self.context = self._new_context()
            self.legs += 1
            return Leg(None)
        if not data or self.context.complete:
            return None  # the server refused the last leg
        self.legs += 1
        return Leg(_b64decode(data))

    def authorization(self, token: bytes | None) -> str:
        """The ``Authorization`` value carrying ``token``."""
        if token is None:
            raise InvalidToken(f"The {self.options.package} package produced no token to send.")
        self.sent = True
        if self.options.digest:
            return "Digest " + token.decode("latin-1")
        return f"{self.options.scheme} {base64.b64encode(token).decode('ascii')}"

    def final_leg(self, www_authenticate: Sequence[str],
                  authentication_info: Sequence[str]) -> Leg | None:
        """The server's last token (mutual authentication) to step, or None."""
        if self.context is None or not self.sent:
            return None
        if self.options.digest:
            if authentication_info:
                return Leg(authentication_info[0])
            return None
        offered = self._offered(www_authenticate)
        if offered is None or not offered[1]:
            return None
        if self.context.complete:
            # Nothing is left to verify (a one-leg Kerberos exchange without mutual
            # authentication); the token proves nothing more, and accepting the response does
            # not depend on it.
            return None
        return Leg(_b64decode(offered[1]))

    def finish(self) -> None:
        """Raise unless the conversation ended authenticated as :class:`ClientOptions` asked.

        Raises:
            MutualAuthFailed: mutual authentication was asked for and the server did not prove
                itself (no final token, or the context is still incomplete).
        """
        if self.context is None or not self.sent:
            return
        if not self.context.complete:
            raise MutualAuthFailed(
                f"The server accepted the request without its final {self.options.scheme} "
                "token, so it did not prove its identity; pass mutual=False to accept that."
            )
        # Negotiate that settled on NTLM cannot authenticate the server (NTLM has no mutual
        # authentication, and Windows reports none), just as package="NTLM" asks for none; the
        # acceptor's mechListMIC, which the package verified, protected the negotiation.
        ntlm = self.context.context.negotiated_info.name == "NTLM"
        if self.options.wants_mutual and not self.options.digest and not ntlm and not (
            self.context.flags & IscReq.MUTUAL_AUTH
        ):
            raise MutualAuthFailed(
                f"The {self.options.package} context completed without mutual authentication."
            )


def _b64decode(data: str) -> bytes:
    try:
        return base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidToken("The server's authentication token is not valid base64.") from None
