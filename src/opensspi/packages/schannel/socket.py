"""Run a Schannel context over a socket: the token loop every Schannel program writes.

The package stays sans-I/O (DESIGN.md); this helper is the thin blocking driver around it, the
same loop curl's schannel.c runs: send the token, read until the context stops answering
SEC_E_INCOMPLETE_MESSAGE, carry SECBUFFER_EXTRA bytes into the next call.
"""

from __future__ import annotations

import contextlib
import socket as _socket
from typing import Protocol

from ...constants import SecStatus
from ...errors import ContextExpired, NoCredentials
from ...provider import SecurityContext, StepInput
from .machine import SchannelContext
from .records import frame

RECV_SIZE = 65536


class _HasContext(Protocol):
    @property
    def context(self) -> SecurityContext: ...


def _context(context: SecurityContext | _HasContext) -> SchannelContext:
    ctx = context if isinstance(context, SecurityContext) else context.context
    if not isinstance(ctx, SchannelContext):
        raise TypeError("handshake() drives a Schannel context.")
    return ctx


def handshake(sock: _socket.socket, context: SecurityContext | _HasContext,
              received: bytes = b"") -> bytes:
    """Complete ``context``'s TLS handshake over ``sock`` (either side).

    ``context`` is an ``opensspi.client("Schannel", ...)`` / ``server(...)`` context or the
    package context itself. Returns the bytes that arrived after the handshake (application
    data for :meth:`unwrap`).

    Raises:
        SspiError: the handshake failed (any alert was sent to the peer first).
    """
    ctx = _context(context)
    buf = received
    if ctx.is_client and not ctx.complete and ctx.state.name == "CLIENT_START":
        sock.sendall(ctx.step(StepInput()).token)
    need_more = not buf
    while True:
        if need_more:
            chunk = sock.recv(RECV_SIZE)
            if not chunk:
                raise ContextExpired("The peer closed the connection during the TLS handshake.")
            buf += chunk
        try:
            step = ctx.step(StepInput(token=buf))
        except Exception as exc:
            alert = getattr(exc, "token", b"")
            if alert:
                with contextlib.suppress(OSError):
                    sock.sendall(alert)
            raise
        if step.token:
            sock.sendall(step.token)
        if step.status is SecStatus.SEC_E_INCOMPLETE_MESSAGE:
            need_more = True
            continue
        if step.status is SecStatus.SEC_I_INCOMPLETE_CREDENTIALS:
            raise NoCredentials(
                "The server asked for a client certificate; put one in the credential's paCred "
                "or request ISC_REQ_USE_SUPPLIED_CREDS.")
        buf = step.extra
        if step.status is SecStatus.SEC_E_OK:
            return buf
        need_more = not buf


class TlsStream:
    """A connected socket with a finished Schannel context: ``sendall``/``recv`` plaintext."""

    def __init__(self, sock: _socket.socket, context: SchannelContext, received: bytes) -> None:
        self.sock = sock
        self.context = context
        self._buf = received

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(self.context.wrap(data))

    def recv(self) -> bytes:
        """The next plaintext bytes; b"" once the peer sent close_notify or hung up."""
        ctx = self.context
        while True:
            if ctx.peer_closed:
                return b""
            framing = frame(self._buf)
            if framing.whole:
                whole, self._buf = self._buf[:framing.whole], self._buf[framing.whole:]
                plain = ctx.unwrap(whole)
                owed = ctx.pending_output()
                if owed:
                    self.sock.sendall(owed)
                if plain or ctx.peer_closed:
                    return plain
                continue
            chunk = self.sock.recv(max(framing.missing, RECV_SIZE))
            if not chunk:
                return b""
            self._buf += chunk

    def close(self) -> None:
        """Send close_notify (ApplyControlToken(SCHANNEL_SHUTDOWN) + ISC) and close."""
        try:
            if self.context.state.name in ("OPEN", "PEER_CLOSED"):
                self.context.apply_control_token((1).to_bytes(4, "little"))
                self.sock.sendall(self.context.step(StepInput()).token)
        finally:
            self.sock.close()


def tls_connect(host: str, port: int, *, target: str | None = None,
                credential: object = None, timeout: float | None = 10.0) -> TlsStream:
    """Connect to ``host:port`` and run a Schannel client handshake for ``target`` (SNI and name
    check; default ``host``) with ``credential`` (SCHANNEL_CRED / SCH_CREDENTIALS / None)."""
    from ...constants import CredentialUse, IscReq
    from .package import INFO, SchannelPackage

    package = SchannelPackage()
    cred = package.acquire_credentials(None, CredentialUse.OUTBOUND, credential)
    ctx = package.client_context(
        cred, target or host, IscReq.CONFIDENTIALITY | IscReq.STREAM)
    assert INFO is ctx.info
    sock = _socket.create_connection((host, port), timeout=timeout)
    try:
        rest = handshake(sock, ctx)
    except BaseException:
        sock.close()
        raise
    assert isinstance(ctx, SchannelContext)
    return TlsStream(sock, ctx, rest)


__all__ = ["TlsStream", "handshake", "tls_connect"]
