"""WSGI middleware: authenticate clients with Negotiate, NTLM, Kerberos or Digest (PEP 3333).

::

    from opensspi.integrations.wsgi import SspiMiddleware
    app = SspiMiddleware(app, packages=["Negotiate", "NTLM"],
                         auth_data={"NTLM": {"CORP\\\\alice": "..."}})

A request without valid credentials gets ``401`` with one ``WWW-Authenticate`` per package; an
authenticated one reaches the application with ``REMOTE_USER`` set to the client's name,
``AUTH_TYPE`` to the scheme and ``opensspi.context`` to the completed
:class:`~opensspi.Context`. See :class:`~.server.HttpAcceptor` for the options (channel
bindings over HTTPS with ``certificate=``).

Limits of doing connection-based authentication in WSGI (NTLM, and Negotiate when it carries
NTLM): WSGI has no notion of a connection, so the handshake in progress is keyed on the client's
address and port (``REMOTE_ADDR``, ``REMOTE_PORT``; a server may put its own key in
``environ["opensspi.connection"]``). That needs:

- a server that keeps the connection alive between the legs (HTTP/1.1 keep-alive) and reports
  ``REMOTE_PORT`` (gunicorn, uWSGI, waitress and mod_wsgi do; wsgiref's server does not keep
  connections alive at all, so it must be extended as the tests do);
- no proxy in front that multiplexes clients onto its own connections (the port would then be
  the proxy's; terminate NTLM at the proxy instead);
- each handshake in progress costs memory until it completes or ``max_pending`` newer ones
  push it out; the middleware never learns when a connection closes.

Authentication is per request: a later request on the same connection must authenticate again
(the middleware does not remember authenticated connections, since it cannot see them close).
Kerberos (one leg) and Digest (request-based) have none of these limits.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from .server import HttpAcceptor

__all__ = ["SspiMiddleware"]

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class SspiMiddleware:
    """WSGI middleware around ``app``; keyword arguments go to :class:`.server.HttpAcceptor`."""

    def __init__(self, app: WsgiApp, packages: Sequence[str] = ("Negotiate",),
                 **options: Any) -> None:
        self.app = app
        self.acceptor = HttpAcceptor(packages, **options)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        https = environ.get("wsgi.url_scheme") == "https"
        uri = environ.get("REQUEST_URI") or _request_uri(environ)
        outcome = self.acceptor.authenticate(
            environ.get("REQUEST_METHOD", "GET"), uri, environ.get("HTTP_AUTHORIZATION"),
            _connection(environ), https=https,
        )
        if outcome.user is None:
            body = b"401 Unauthorized\n"
            start_response("401 Unauthorized", [
                *outcome.headers, ("Content-Type", "text/plain"),
                ("Content-Length", str(len(body))),
            ])
            return [body]
        environ["REMOTE_USER"] = outcome.user
        environ["AUTH_TYPE"] = (environ.get("HTTP_AUTHORIZATION") or "").split(" ", 1)[0]
        environ["opensspi.context"] = outcome.context
        extra = outcome.headers

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *extra], exc_info)

        return self.app(environ, start)


def _connection(environ: Mapping[str, Any]) -> Hashable | None:
    key = environ.get("opensspi.connection")
    if key is not None:
        return key  # type: ignore[no-any-return]
    port = environ.get("REMOTE_PORT")
    if not port:
        return None
    return (environ.get("REMOTE_ADDR"), str(port))


def _request_uri(environ: Mapping[str, Any]) -> str:
    from urllib.parse import quote

    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/;=,")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else (path or "/")
