"""ASGI middleware: authenticate clients with Negotiate, NTLM, Kerberos or Digest.

::

    from opensspi.integrations.asgi import SspiMiddleware
    app = SspiMiddleware(app, packages=["Negotiate", "NTLM"])

HTTP requests without valid credentials get ``401`` with one ``WWW-Authenticate`` per package;
authenticated ones reach the application with ``scope["user"]`` set to the client's name,
``scope["auth"]`` to the scheme and ``scope["opensspi.context"]`` to the completed context.
Other scope types (``websocket``, ``lifespan``) pass through untouched.

Connection-based handshakes (NTLM, Negotiate with NTLM inside) are keyed on ``scope["client"]``
(address and port of the TCP connection, as uvicorn and hypercorn report it); a server that
reports no client cannot run them (Kerberos and Digest still work). The same limits as the WSGI
middleware apply otherwise (:mod:`.wsgi`): authentication is per request, pending handshakes
are bounded by ``max_pending``. The acceptor runs in the event loop: NTLM, Kerberos (an acceptor
never calls the KDC) and Digest steps are CPU-only and short.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from .server import HttpAcceptor

__all__ = ["SspiMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SspiMiddleware:
    """ASGI middleware around ``app``; keyword arguments go to :class:`.server.HttpAcceptor`."""

    def __init__(self, app: AsgiApp, packages: Sequence[str] = ("Negotiate",),
                 **options: Any) -> None:
        self.app = app
        self.acceptor = HttpAcceptor(packages, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                authorization = value.decode("latin-1")
                break
        uri = scope.get("raw_path") or scope.get("path", "/").encode("utf-8")
        if isinstance(uri, bytes):
            uri = uri.decode("latin-1")
        if scope.get("query_string"):
            uri += "?" + scope["query_string"].decode("latin-1")
        client = scope.get("client")
        outcome = self.acceptor.authenticate(
            scope.get("method", "GET"), uri, authorization,
            tuple(client) if client else None, https=scope.get("scheme") == "https",
        )
        if outcome.user is None:
            body = b"401 Unauthorized\n"
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in outcome.headers]
            await send({"type": "http.response.start", "status": 401, "headers": [
                *headers, (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        scope["user"] = outcome.user
        scope["auth"] = (authorization or "").split(" ", 1)[0]
        scope["opensspi.context"] = outcome.context
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in outcome.headers]

        async def send_with_headers(message: Message) -> None:
            if message.get("type") == "http.response.start" and extra:
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
