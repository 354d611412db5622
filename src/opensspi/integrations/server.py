"""The server side of HTTP authentication with opensspi's acceptors (sans-I/O).

:class:`HttpAcceptor` takes a request's method, URI, ``Authorization`` value and a connection
key, and says whether the client is authenticated (and as whom) or which 401 challenge to send.
The WSGI and ASGI middleware (:mod:`.wsgi`, :mod:`.asgi`) are thin shells around it.

State: NTLM and Negotiate are connection-based (MS-NTHT §2; RFC 4559 §4): the context that
answered the first leg must answer the next one, so contexts in progress are kept per connection
key. Kerberos completes in one leg. Digest is request-based: every request is checked on its own
(the acceptor's nonces validate themselves; the credential keeps the replay record).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from .. import registry
from ..api import Context, server
from ..buffers import ChannelBindings
from ..constants import AscReq, CredentialUse, SecStatus
from ..errors import SspiError
from ..provider import Credential
from .http import parse_challenges, tls_server_end_point

__all__ = ["HttpAcceptor", "Outcome"]

_SCHEME_OF = {"negotiate": "Negotiate", "kerberos": "Negotiate", "ntlm": "NTLM",
              "wdigest": "Digest", "digest": "Digest"}
_ASC_REQ_HTTP = 0x10000000
"""Microsoft's ``ASC_REQ_HTTP`` for the Digest acceptor ("Generating the Digest Challenge"); the
same bit as ``ASC_REQ_ALLOW_MISSING_BINDINGS``, which Digest does not otherwise read."""
DEFAULT_FLAGS = AscReq.INTEGRITY | AscReq.CONFIDENTIALITY | AscReq.MUTUAL_AUTH


@dataclass
class Outcome:
    """What to do with a request.

    Attributes:
        user: the authenticated client (``REMOTE_USER``), or None: answer 401.
        headers: headers to add to the response (``WWW-Authenticate`` challenges on a 401; the
            final ``WWW-Authenticate`` token or ``Authentication-Info`` on success).
        context: the completed context (for its session key, flags, delegated credential).
        package: the package that authenticated the client.
        error: why the last token was refused, for logs (never sent to the client).
    """

    user: str | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    context: Context | None = None
    package: str | None = None
    error: SspiError | None = None


class HttpAcceptor:
    """Authenticates HTTP requests with opensspi acceptors.

    Args:
        packages: the packages to offer, each as one ``WWW-Authenticate`` challenge, in order
            (``"Negotiate"``, ``"NTLM"``, ``"Kerberos"``, ``"WDigest"``). ``Kerberos`` is
            offered as ``Negotiate`` and takes raw Kerberos tokens in it.
        auth_data: per package name, the acceptor's ``pAuthData`` (an NTLM user mapping or
            file, a ``KerberosAuthData`` with the keytab, a ``DigestAcceptorConfig``...);
            packages not named use their defaults (``NTLM_USER_FILE``, ``KRB5_KTNAME``).
        flags: ``ASC_REQ_*`` for every context.
        certificate: the server's own TLS certificate (DER). Requests that arrived over HTTPS
            are then accepted only with matching ``tls-server-end-point`` channel bindings
            (RFC 5929), unless ``allow_missing_bindings``.
        max_pending: how many connections may be in the middle of a handshake at once; the
            oldest is forgotten beyond that.
    """

    def __init__(
        self,
        packages: Sequence[str] = ("Negotiate",),
        *,
        auth_data: Mapping[str, object] | None = None,
        flags: int = DEFAULT_FLAGS,
        certificate: bytes | None = None,
        allow_missing_bindings: bool = False,
        max_pending: int = 1024,
    ) -> None:
        if not packages:
            raise ValueError("Offer at least one package.")
        self.packages = tuple(packages)
        for name in self.packages:
            if name.lower() not in _SCHEME_OF:
                raise ValueError(f"{name!r} is not an HTTP package (Negotiate, NTLM, Kerberos, "
                                 "WDigest).")
        self._auth_data = {k.lower(): v for k, v in (auth_data or {}).items()}
        self.flags = AscReq(flags)
        if allow_missing_bindings:
            self.flags |= AscReq.ALLOW_MISSING_BINDINGS
        self._bindings: ChannelBindings | None = (
            tls_server_end_point(certificate) if certificate is not None else None
        )
        self._credentials: dict[str, Credential] = {}
        self._pending: OrderedDict[Hashable, tuple[str, Context]] = OrderedDict()
        self._max_pending = max_pending
        self._lock = threading.Lock()

    # -- credentials and contexts --------------------------------------------------------------

    def _credential(self, package: str) -> Credential:
        with self._lock:
            cred = self._credentials.get(package)
            if cred is None:
                cred = registry.get(package).acquire_credentials(
                    None, CredentialUse.INBOUND, self._auth_data.get(package.lower()))
                self._credentials[package] = cred
            return cred

    def _context(self, package: str, https: bool) -> Context:
        flags = self.flags
        bindings = self._bindings if https else None
        if _SCHEME_OF[package.lower()] == "Digest":
            flags = AscReq(_ASC_REQ_HTTP)  # qop=auth: the middleware does not read bodies
            bindings = None
        return server(package, credential=self._credential(package), flags=flags,
                      channel_bindings=bindings)

    def _package_for(self, scheme: str) -> str | None:
        for name in self.packages:
            if _SCHEME_OF[name.lower()].lower() == scheme.lower():
                return name
        if scheme.lower() == "kerberos":
            return next((n for n in self.packages if n.lower() == "kerberos"), None)
        return None

    # -- requests ---------------------------------------------------------------------------------

    def challenges(self, https: bool = False) -> list[tuple[str, str]]:
        """The ``WWW-Authenticate`` headers of a plain 401 (one per offered package)."""
        headers: list[tuple[str, str]] = []
        for name in self.packages:
            scheme = _SCHEME_OF[name.lower()]
            if scheme == "Digest":
                ctx = self._context(name, https)
                token = ctx.step(None, params=[b"GET", b"/"])
                headers.append(("WWW-Authenticate", "Digest " + (token or b"").decode("latin-1")
                                .removeprefix("Digest ")))
            elif ("WWW-Authenticate", scheme) not in headers:
                headers.append(("WWW-Authenticate", scheme))
        return headers

    def authenticate(
        self,
        method: str,
        uri: str,
        authorization: str | None,
        connection: Hashable | None = None,
        *,
        https: bool = False,
    ) -> Outcome:
        """Check one request.

        Args:
            method, uri: the request line (Digest signs both).
            authorization: the ``Authorization`` header value, or None.
            connection: a key unique to the client's TCP connection while it is open (the
                client address and port). None means the server cannot tell connections apart:
                multi-leg NTLM/Negotiate handshakes then fail (Kerberos and Digest still work).
            https: whether the request came over TLS (channel bindings are checked then).
        """
        if not authorization:
            self._forget(connection)
            return Outcome(None, self.challenges(https))
        pairs = parse_challenges([authorization])
        if not pairs:
            return Outcome(None, self.challenges(https))
        scheme, data = pairs[0]
        package = self._package_for(scheme)
        if package is None:
            return Outcome(None, self.challenges(https))
        if _SCHEME_OF[package.lower()] == "Digest":
            return self._digest(package, method, uri, authorization, https)
        try:
            token = base64.b64decode(data.strip(), validate=True)
        except (binascii.Error, ValueError):
            return Outcome(None, self.challenges(https))
        return self._connection_leg(package, scheme, token, connection, https)

    def _connection_leg(self, package: str, scheme: str, token: bytes,
                        connection: Hashable | None, https: bool) -> Outcome:
        ctx: Context | None = None
        if connection is not None:
            with self._lock:
                pending = self._pending.pop(connection, None)
            if pending is not None and pending[0] == package:
                ctx = pending[1]
        if ctx is None:
            ctx = self._context(package, https)
        try:
            out = ctx.step(token)
        except SspiError as exc:
            return Outcome(None, self.challenges(https), error=exc)
        if ctx.status in (SecStatus.SEC_I_CONTINUE_NEEDED, SecStatus.SEC_I_COMPLETE_AND_CONTINUE):
            if connection is not None:
                with self._lock:
                    self._pending[connection] = (package, ctx)
                    while len(self._pending) > self._max_pending:
                        self._pending.popitem(last=False)
            value = f"{scheme} {base64.b64encode(out or b'').decode('ascii')}"
            return Outcome(None, [("WWW-Authenticate", value)], ctx, package)
        headers = []
        if out:
            headers.append(("WWW-Authenticate",
                            f"{scheme} {base64.b64encode(out).decode('ascii')}"))
        return Outcome(ctx.client_name or "", headers, ctx, package)

    def _digest(self, package: str, method: str, uri: str, authorization: str,
                https: bool) -> Outcome:
        ctx = self._context(package, https)
        try:
            out = ctx.step(authorization, params=[method, uri])
        except SspiError as exc:
            return Outcome(None, self.challenges(https), error=exc)
        if not ctx.complete:
            # a stale nonce: the package answered with a fresh challenge (stale=true)
            value = (out or b"").decode("latin-1").removeprefix("Digest ")
            return Outcome(None, [("WWW-Authenticate", "Digest " + value)], ctx, package)
        headers = []
        if out:
            headers.append(("Authentication-Info", out.decode("latin-1")))
        return Outcome(ctx.client_name or "", headers, ctx, package)

    def _forget(self, connection: Hashable | None) -> None:
        if connection is not None:
            with self._lock:
                self._pending.pop(connection, None)
