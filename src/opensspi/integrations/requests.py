"""``SspiAuth`` for requests: Negotiate, NTLM, Kerberos and Digest with opensspi.

::

    import requests
    from opensspi.integrations.requests import SspiAuth

    requests.get("https://intranet.example/", auth=SspiAuth())                  # Negotiate
    requests.get(url, auth=SspiAuth(package="NTLM", user="CORP\\\\alice", password="..."))
    requests.get(url, auth=SspiAuth(package="Kerberos", keytab="FILE:/etc/alice.keytab",
                                    user="alice@EXAMPLE.COM"))
    requests.get(url, auth=SspiAuth(package="WDigest", user="alice", password="..."))

The 401 loop (see :mod:`opensspi.integrations.http` for the schemes, mutual authentication and
channel bindings) runs in a response hook. Connection pinning for NTLM and Negotiate: each leg
drains the previous response's body, which returns its connection to the pool, and is sent with
``response.connection`` — the same adapter and pool — so the kept-alive connection is the one
reused (urllib3's pool hands back the most recently returned connection). A server that closes
the connection between legs (no keep-alive) cannot be authenticated this way, as with every
other client.

Request bodies: a body that is ``bytes``/``str`` is resent as is; a file-like body is rewound
to where it started (``seek``); a generator body cannot be resent, so the first leg of a
connection-based scheme should carry none — send a small request first, as browsers do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar

from .http import ClientState, Conversation

__all__ = ["SspiAuth"]


class SspiAuth(ClientState, AuthBase):
    """requests authentication with an opensspi package.

    Keyword arguments (all optional): ``package`` (``"Negotiate"``, ``"NTLM"``,
    ``"Kerberos"``, ``"WDigest"``/``"Digest"``), ``user``, ``domain``, ``password``,
    ``nt_hash``, ``ccache``, ``keytab``, ``auth_data``, ``target`` (an SPN such as
    ``HTTP/web.example.com``; default ``HTTP/<host>``; for Digest the request URI),
    ``flags`` (``ISC_REQ_*``), ``channel_bindings`` (default True: send them over HTTPS),
    ``mutual`` (default: whether the package authenticates the server), ``max_legs``.
    See :class:`opensspi.integrations.http.ClientOptions`.
    """

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body
        position = None
        if body is not None and hasattr(body, "seek") and hasattr(body, "tell"):
            position = body.tell()
        r.register_hook("response", self._hook(position))
        if self.options.digest:
            self._preempt_digest(r)
        return r

    def _preempt_digest(self, r: requests.PreparedRequest) -> None:
        """Authorize a further request to a server Digest already succeeded with (nc + 1)."""
        origin = _origin(r.url or "")
        with self._lock:
            conversation = self._digest.get(origin)
        if conversation is None or conversation.context is None:
            return
        parts = urlsplit(r.url or "")
        uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        with self._lock:  # one nonce count per request, also across threads
            value = conversation.context.context.next_authorization(  # type: ignore[attr-defined]
                r.method or "GET", uri, _body_bytes(r.body))
        r.headers["Authorization"] = "Digest " + value.decode("latin-1")

    def _hook(self, position: int | None) -> Any:
        def hook(response: requests.Response, **kwargs: Any) -> requests.Response:
            return self._handle(response, position, kwargs)

        return hook

    def _handle(self, response: requests.Response, position: int | None,
                kwargs: dict[str, Any]) -> requests.Response:
        request = response.request
        if response.status_code != 401:
            return response
        conversation = Conversation(
            self.options, self._cred(), request.url or "", request.method or "GET",
            _body_bytes(request.body), lambda: _peer_certificate(response),
        )
        while response.status_code == 401:
            leg = conversation.leg(_header_values(response, "www-authenticate"))
            if leg is None:
                return response
            assert conversation.context is not None
            token = conversation.context.step(leg.token, params=leg.params)
            header = conversation.authorization(token)
            response.content  # noqa: B018 - drain it so the connection goes back to the pool
            response.raw.release_conn()
            prepared = request.copy()
            # cookies the server set on a 401 (a load balancer's affinity cookie) go along
            jar = getattr(prepared, "_cookies", None)
            if jar is not None:
                extract_cookies_to_jar(jar, request, response.raw)
                prepared.prepare_cookies(jar)
            prepared.headers["Authorization"] = header
            _rewind(prepared.body, position)
            follow: requests.Response = response.connection.send(prepared, **kwargs)
            follow.history = [*response.history, response]
            follow.request = prepared
            response = follow
        leg = conversation.final_leg(_header_values(response, "www-authenticate"),
                                     _header_values(response, "authentication-info"))
        if leg is not None:
            assert conversation.context is not None
            conversation.context.step(leg.token, params=leg.params)
        conversation.finish()
        if self.options.digest:
            with self._lock:
                self._digest[_origin(request.url or "")] = conversation
        return response


def _header_values(response: requests.Response, name: str) -> list[str]:
    """Every value of a header; urllib3 keeps repeated headers apart, requests joins them."""
    raw = response.raw
    headers = getattr(raw, "headers", None)
    if headers is not None and hasattr(headers, "getlist"):
        values: list[str] = headers.getlist(name)
        return values
    value = response.headers.get(name)
    return [value] if value else []


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _body_bytes(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return b""


def _rewind(body: object, position: int | None) -> None:
    if position is not None and hasattr(body, "seek"):
        body.seek(position)


def _peer_certificate(response: requests.Response) -> bytes | None:
    """The server's certificate (DER) from the connection the response came on, if TLS."""
    connection = getattr(response.raw, "_connection", None) or getattr(
        response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None or not hasattr(sock, "getpeercert"):
        return None
    der: bytes | None = sock.getpeercert(True)
    return der
