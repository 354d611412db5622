"""``SspiAuth`` for httpx (``Client`` and ``AsyncClient``): Negotiate, NTLM, Kerberos, Digest.

::

    import httpx
    from opensspi.integrations.httpx import SspiAuth

    httpx.get("https://intranet.example/", auth=SspiAuth())                  # Negotiate
    async with httpx.AsyncClient(auth=SspiAuth(package="NTLM", user="CORP\\\\alice",
                                               password="...")) as client:
        await client.get(url)

The 401 loop is an httpx auth flow (see :mod:`opensspi.integrations.http` for the schemes,
mutual authentication and channel bindings). httpx reads each response before sending the next
request of a flow, so the kept-alive connection goes back to the pool and is the one the next
leg takes: NTLM and Negotiate legs share a connection as long as the server keeps it alive and
no other request of the same client takes it meanwhile (use one client per concurrent
conversation, or limit the pool, for NTLM under concurrency). With ``AsyncClient`` the KDC
exchanges of Kerberos use opensspi's asyncio transport, so they do not block the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from .http import ClientState, Conversation

__all__ = ["SspiAuth"]


class _Last:
    """The latest response of a flow (its connection carries the server certificate)."""

    response: httpx.Response | None = None


class SspiAuth(ClientState, httpx.Auth):
    """httpx authentication with an opensspi package; the keyword arguments are those of
    :class:`opensspi.integrations.http.ClientOptions` (``package``, ``user``, ``domain``,
    ``password``, ``nt_hash``, ``ccache``, ``keytab``, ``auth_data``, ``target``, ``flags``,
    ``channel_bindings``, ``mutual``, ``max_legs``)."""

    requires_response_body = True

    def _start(self, request: httpx.Request) -> tuple[Conversation, _Last]:
        if self.options.digest:
            self._preempt_digest(request)
        last = _Last()
        conversation = Conversation(
            self.options, self._cred(), str(request.url), request.method, _body(request),
            lambda: _peer_certificate(last.response),
        )
        return conversation, last

    def _preempt_digest(self, request: httpx.Request) -> None:
        with self._lock:
            conversation = self._digest.get(_origin(request.url))
        if conversation is None or conversation.context is None:
            return
        raw = request.url.raw_path.decode("ascii")
        with self._lock:  # one nonce count per request, also across tasks and threads
            value = conversation.context.context.next_authorization(  # type: ignore[attr-defined]
                request.method, raw, _body(request))
        _set_authorization(request, b"Digest " + value)

    def _done(self, request: httpx.Request, conversation: Conversation) -> None:
        conversation.finish()
        if self.options.digest and conversation.context is not None and conversation.sent:
            with self._lock:
                self._digest[_origin(request.url)] = conversation

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        conversation, last = self._start(request)
        response = yield request
        while response.status_code == 401:
            last.response = response
            leg = conversation.leg(response.headers.get_list("www-authenticate"))
            if leg is None:
                return
            assert conversation.context is not None
            token = conversation.context.step(leg.token, params=leg.params)
            _set_authorization(request, conversation.authorization(token).encode("latin-1"))
            response = yield request
        leg = conversation.final_leg(response.headers.get_list("www-authenticate"),
                                     response.headers.get_list("authentication-info"))
        if leg is not None:
            assert conversation.context is not None
            conversation.context.step(leg.token, params=leg.params)
        self._done(request, conversation)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        conversation, last = self._start(request)
        response = yield request
        while response.status_code == 401:
            last.response = response
            leg = conversation.leg(response.headers.get_list("www-authenticate"))
            if leg is None:
                return
            assert conversation.context is not None
            token = await conversation.context.step_async(leg.token, params=leg.params)
            _set_authorization(request, conversation.authorization(token).encode("latin-1"))
            response = yield request
        leg = conversation.final_leg(response.headers.get_list("www-authenticate"),
                                     response.headers.get_list("authentication-info"))
        if leg is not None:
            assert conversation.context is not None
            await conversation.context.step_async(leg.token, params=leg.params)
        self._done(request, conversation)


def _set_authorization(request: httpx.Request, value: bytes) -> None:
    """Set ``Authorization`` to exactly these bytes (a Digest user name may be UTF-8, which
    httpx's str headers would refuse to encode as ASCII)."""
    raw = [(k, v) for k, v in request.headers.raw if k.lower() != b"authorization"]
    request.headers = httpx.Headers([*raw, (b"Authorization", value)])


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}".lower()


def _body(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:
        return b""


def _peer_certificate(response: httpx.Response | None) -> bytes | None:
    """The server's certificate (DER), from the connection the 401 came on."""
    if response is None:
        return None
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    ssl_object = stream.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der: bytes | None = ssl_object.getpeercert(True)
    return der

