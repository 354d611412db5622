"""The Pythonic front door: ``opensspi.client()`` and ``opensspi.server()``.

These drive a package's context directly — the same state machines the Windows-shaped
functions in :mod:`opensspi.sspi` drive — without SecBuffer bookkeeping::

    client = opensspi.client("NTLM", user="alice", domain="CORP", password="...",
                             target="HTTP/web.corp.example")
    server = opensspi.server("NTLM", users={"CORP\\\\alice": "..."})
    token = client.step()
    while token is not None:
        token = server.step(token)
        token = client.step(token) if token is not None else None
    sealed = client.wrap(b"hello")
    assert server.unwrap(sealed) == b"hello"
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime

from . import logs, registry
from .buffers import ChannelBindings
from .constants import AscReq, CredentialUse, IscReq, SecStatus
from .errors import (
    ContextExpired,
    InternalError,
    SspiError,
    UnsupportedFunction,
    boundary_error,
)
from .provider import (
    DEFAULT_ENVIRONMENT,
    AuthIdentity,
    Credential,
    Environment,
    MessagePart,
    SecurityContext,
    SecurityPackage,
    Sizes,
    Step,
    StepInput,
)

DEFAULT_CLIENT_FLAGS = (
    IscReq.INTEGRITY | IscReq.CONFIDENTIALITY | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT
)
DEFAULT_SERVER_FLAGS = (
    AscReq.INTEGRITY | AscReq.CONFIDENTIALITY | AscReq.REPLAY_DETECT | AscReq.SEQUENCE_DETECT
)


class Context:
    """One side of an authentication, stepped with tokens; then a message protector.

    Every method is an error boundary, like the Windows functions: it raises only
    :class:`~opensspi.errors.SspiError` subclasses (a malformed token is ``InvalidToken``; a bug
    is ``InternalError``, after which the context refuses further use).
    """

    def __init__(self, package: SecurityPackage, context: SecurityContext,
                 channel_bindings: ChannelBindings | None) -> None:
        self.package = package
        self._ctx = context
        self._bindings = channel_bindings
        self._lock = threading.Lock()

    # Until a call changes them (class attributes: a context is made per HTTP request, and
    # every attribute stored costs time there):
    _broken = False
    status: SecStatus | None = None

    def _error(self, exc: Exception, what: str) -> Exception:
        """What to raise for ``exc`` at this door (see :func:`opensspi.errors.boundary_error`)."""
        err = boundary_error(exc, f"{self._ctx.info.name} {what}")
        if isinstance(err, InternalError):
            self._broken = True
        return err

    def _usable(self) -> SecurityContext:
        if self._broken:
            raise ContextExpired(
                "An internal error ended this context earlier; start a new one."
            )
        return self._ctx

    def step(
        self, token: bytes | str | None = None, params: Sequence[bytes | str] = ()
    ) -> bytes | None:
        """Feed the peer's token; return the token to send (bytes), or None when there is none.

        ``params`` are the SECBUFFER_PKG_PARAMS values the package documents (HTTP Digest: the
        method, then H(entity) or the body). ``token`` and ``params`` may be ``str`` — an HTTP
        header value as requests and httpx give it — and are then encoded as ISO-8859-1 when
        they fit, else UTF-8 (``opensspi.packages.digest.text``). KDC exchanges happen here,
        blocking.
        """
        lock = self._lock  # acquire/finally release: what "with" does, at half its cost
        lock.acquire()
        try:
            ctx = self._usable() if self._broken else self._ctx
            inp = self._input(token, params)
            # opensspi.sspi.drive, unrolled: one leg, logged as drive logs it, and the KDC
            # round trips only when the leg asks for them.
            try:
                result = ctx.step(inp)
                if result.kdc_request is not None:
                    result = _kdc_exchanges(ctx, result)
            except Exception as exc:
                logs.handshake_exception(ctx, inp, exc)
                raise
            logs.handshake_leg(ctx, inp, result)
            self.status = result.status
            return result.token or None
        except Exception as exc:
            raise self._error(exc, "token")  # noqa: B904 - boundary_error chains exc
        finally:
            lock.release()

    async def step_async(
        self, token: bytes | str | None = None, params: Sequence[bytes | str] = ()
    ) -> bytes | None:
        """:meth:`step` for asyncio: KDC exchanges use the asyncio transport."""
        from .transport import send_to_kdc_async

        ctx = self._usable()
        inp = self._input(token, params)
        try:
            result = ctx.step(inp)
            while result.kdc_request is not None:
                req = result.kdc_request
                wait = getattr(req, "wait_async", None)
                if wait is not None:
                    # Another context is already asking the KDC for this ticket (Kerberos
                    # single flight): wait without blocking the loop, then step with no reply.
                    await wait()
                    result = ctx.step(StepInput(kdc_reply=b""))
                    continue
                try:
                    reply = await send_to_kdc_async(
                        req.data, req.kdcs, timeout=req.timeout, max_retries=req.max_retries,
                        udp_preference_limit=req.udp_preference_limit, realm=req.realm,
                    )
                except SspiError as exc:
                    result = ctx.kdc_failed(exc)
                    continue
                result = ctx.step(StepInput(kdc_reply=reply))
        except Exception as exc:
            err = self._error(exc, "token")
            logs.handshake_exception(ctx, inp, err)
            raise err  # noqa: B904 - boundary_error chains exc
        logs.handshake_leg(ctx, inp, result)
        self.status = result.status
        return result.token or None

    def _input(self, token: bytes | str | None, params: Sequence[bytes | str]) -> StepInput:
        # Bytes passed through as they are, and the StepInput built without its generated
        # __new__: this runs on every step.
        if token is not None and type(token) is not bytes:
            token = _octets(token)
        octets: tuple[bytes, ...] = ()
        if params:
            octets = params if type(params) is tuple else tuple(params)  # type: ignore[arg-type]
            for p in octets:  # a loop, not a comprehension: no frame for one or two params
                if type(p) is not bytes:
                    octets = tuple([_octets(q) for q in octets])
                    break
        return _new_tuple(StepInput, (token, self._bindings, octets) + _INPUT_TAIL)  # noqa: RUF005

    @property
    def complete(self) -> bool:
        return self._ctx.complete

    @property
    def flags(self) -> int:
        """ISC_RET_* (client) or ASC_RET_* (server) flags: what the context provides."""
        return self._ctx.flags

    @property
    def client_name(self) -> str | None:
        return self._ctx.client_name

    @property
    def session_key(self) -> bytes | None:
        return self._ctx.session_key

    @property
    def expiry(self) -> datetime | None:
        return self._ctx.expiry

    @property
    def context(self) -> SecurityContext:
        """The package context, for QueryContextAttributes-style inspection."""
        return self._ctx

    def sizes(self) -> Sizes:
        return self._ctx.sizes()

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        """Protect ``data`` for the peer: token ‖ (sealed) data."""
        lock = self._lock
        lock.acquire()
        try:
            return self._usable().wrap(data, encrypt)
        except Exception as exc:
            raise self._error(exc, "message")  # noqa: B904 - boundary_error chains exc
        finally:
            lock.release()

    def unwrap(self, message: bytes) -> bytes:
        """Verify and unseal a message made by the peer's :meth:`wrap`."""
        lock = self._lock
        lock.acquire()
        try:
            return self._usable().unwrap(message)
        except Exception as exc:
            raise self._error(exc, "message")  # noqa: B904 - boundary_error chains exc
        finally:
            lock.release()

    def sign(self, data: bytes) -> bytes:
        """A detached signature over ``data``."""
        lock = self._lock
        lock.acquire()
        try:
            return self._usable().make_signature(
                (MessagePart(data, sealed=False),), 0, None)
        except Exception as exc:
            raise self._error(exc, "message")  # noqa: B904 - boundary_error chains exc
        finally:
            lock.release()

    def verify(self, data: bytes, signature: bytes) -> None:
        """Raise ``MessageAltered``/``OutOfSequence`` unless ``signature`` signs ``data``."""
        lock = self._lock
        lock.acquire()
        try:
            self._usable().verify_signature(
                (MessagePart(data, sealed=False),), signature, None)
        except Exception as exc:
            raise self._error(exc, "message")  # noqa: B904 - boundary_error chains exc
        finally:
            lock.release()


_INPUT_TAIL = StepInput()[3:]
"""StepInput's fields after token, channel bindings and params, at their defaults."""
_new_tuple = tuple.__new__


def _kdc_exchanges(context: SecurityContext, step: Step) -> Step:
    """:func:`opensspi.sspi.kdc_exchanges`, imported when a leg first asks for a KDC (sspi
    imports this module's neighbours)."""
    from .sspi import kdc_exchanges

    return kdc_exchanges(context, step)


def _octets(value: bytes | str) -> bytes:
    """A token or parameter as bytes; ``str`` is an HTTP header value (ISO-8859-1, else UTF-8)."""
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode("utf-8")
    return bytes(value)


def _bindings(value: ChannelBindings | bytes | None) -> ChannelBindings | None:
    if value is None or isinstance(value, ChannelBindings):
        return value
    return ChannelBindings.from_application_data(value)


def credentials(
    package: str = "NTLM",
    *,
    user: str | None = None,
    domain: str | None = None,
    password: str | None = None,
    nt_hash: bytes | None = None,
    use: CredentialUse = CredentialUse.OUTBOUND,
    auth_data: object | None = None,
) -> Credential:
    """AcquireCredentialsHandle, Pythonic: explicit identity or the package's own data."""
    pkg = registry.get(package)
    if auth_data is None and (user is not None or password is not None or nt_hash is not None):
        if user is not None and domain is None:
            ident = AuthIdentity.parse_user(user, password, nt_hash=nt_hash)
        else:
            ident = AuthIdentity(user, domain, password, nt_hash)
        auth_data = ident
    from .impersonation import default_auth_data

    return pkg.acquire_credentials(user, use, default_auth_data(user, use, auth_data))


def client(
    package: str = "NTLM",
    *,
    user: str | None = None,
    domain: str | None = None,
    password: str | None = None,
    nt_hash: bytes | None = None,
    target: str | None = None,
    flags: IscReq = DEFAULT_CLIENT_FLAGS,
    channel_bindings: ChannelBindings | bytes | None = None,
    credential: Credential | None = None,
    auth_data: object | None = None,
    env: Environment = DEFAULT_ENVIRONMENT,
) -> Context:
    """A client (initiator) context for ``package`` towards ``target`` (an SPN)."""
    pkg = registry.get(package)
    cred = credential or credentials(
        package, user=user, domain=domain, password=password, nt_hash=nt_hash,
        use=CredentialUse.OUTBOUND, auth_data=auth_data,
    )
    req = flags if type(flags) is IscReq else IscReq(flags)  # IscReq(x) costs an Enum call
    return Context(pkg, pkg.client_context(cred, target, req, env),
                   None if channel_bindings is None else _bindings(channel_bindings))


def server(
    package: str = "NTLM",
    *,
    users: Mapping[str, str] | None = None,
    flags: AscReq = DEFAULT_SERVER_FLAGS,
    channel_bindings: ChannelBindings | bytes | None = None,
    credential: Credential | None = None,
    auth_data: object | None = None,
    env: Environment = DEFAULT_ENVIRONMENT,
) -> Context:
    """A server (acceptor) context. ``users`` maps ``DOMAIN\\\\user`` (or ``user``) to passwords.

    Without ``users`` or ``auth_data`` the package uses its default source (for NTLM, the
    file named by ``NTLM_USER_FILE``).
    """
    pkg = registry.get(package)
    if credential is None:
        if users is not None:
            if auth_data is not None:
                raise UnsupportedFunction("Pass either users= or auth_data=, not both.")
            auth_data = dict(users)
        credential = pkg.acquire_credentials(None, CredentialUse.INBOUND, auth_data)
    return Context(pkg, pkg.server_context(credential, AscReq(flags), env),
                   _bindings(channel_bindings))
