"""InitializeSecurityContext (Digest): the initiator context, HTTP (RFC 7616) or SASL (RFC 2831)."""

from __future__ import annotations

import binascii

from ...buffers import ChannelBindings
from ...constants import (
    IscReq,
    IscRet,
)
from ...errors import (
    InsufficientBuffers,
    InvalidParameter,
    NoCredentials,
    UnsupportedFunction,
)
from ...message import (
    MessageResult,
    Part,
    PartKind,
    Write,
    ensure_room,
    first,
)
from ...provider import (
    Environment,
    PackageInfo,
    Step,
)
from ...statemachine import Machine
from .context import _DigestContext
from .credentials import DigestCredential
from .crypto import Qop
from .machine import (
    _ALLOC_REQ,
    _CHALLENGE,
    _CNONCE_BYTES,
    _CONF_REQ,
    _FAILED,
    _HTTP,
    _HTTP_REQ,
    _HTTP_START,
    _INT_REQ,
    _NEXT_REQUEST,
    _SASL,
    _SASL_START,
    _STALE_CHALLENGE,
    TRANSITIONS,
    Input,
    State,
)
from .messages import (
    MAX_CHALLENGE,
    AuthenticationInfo,
    ResponseAuth,
    SaslChallenge,
    parse_http_server_token,
    quotable,
)
from .security import SecurityLayer
from .session import (
    NextRequest,
    _FirstAnswer,
    _HttpSession,
    _request_uri,
    _SaslPending,
    _text_param,
)
from .text import header_bytes, header_text

_RET_HTTP = int(IscRet.USED_HTTP_STYLE)
_RET_MUTUAL = int(IscRet.MUTUAL_AUTH)
_RET_INTEGRITY = int(IscRet.INTEGRITY)
_RET_LAYER = int(IscRet.INTEGRITY | IscRet.REPLAY_DETECT | IscRet.SEQUENCE_DETECT)
_RET_CONFIDENTIALITY = int(IscRet.CONFIDENTIALITY)
_ISC_RET: dict[int, IscRet] = {}
_AUTH_INT = Qop.AUTH_INT
_new_machine = Machine[State, Input, Step].maker(TRANSITIONS, _FAILED, "Digest token")

_HTTP_TARGETS: dict[str, str] = {}
"""Checked HTTP target names and their ``uri`` directive: a client makes a context per request,
mostly to the same few URIs. Bounded: cleared when it reaches :data:`_MAX_TARGETS`."""
_MAX_TARGETS = 256


def _http_target(target: str | None) -> str:
    """The ``uri`` directive for an HTTP target name, after checking it can be quoted;
    remembered in :data:`_HTTP_TARGETS`."""
    if not target or not quotable(target):
        raise InvalidParameter("Digest needs a target name: the request URI.")
    uri = _request_uri(target)
    if len(_HTTP_TARGETS) >= _MAX_TARGETS:
        _HTTP_TARGETS.clear()
    _HTTP_TARGETS[target] = uri
    return uri


class DigestClientContext(_DigestContext):
    """InitializeSecurityContext (Digest): one initiator context.

    Args:
        cnonce: a fixed client nonce (for published vectors); by default 33 bytes from the
            Environment's random source, in base64.
        max_challenge: the largest server token accepted (RFC 2831: less than 2048 bytes).
    """

    def __init__(
        self, info: PackageInfo, credential: DigestCredential, target: str | None,
        req: IscReq, env: Environment, *, cnonce: str | None = None,
        max_challenge: int = MAX_CHALLENGE,
    ) -> None:
        client = credential.client
        if client is None:
            raise NoCredentials(
                "This Digest credential has no outbound part; acquire it with "
                "SECPKG_CRED_OUTBOUND and a user name and password."
            )
        self.info = info
        self._client = client
        self._env = env
        bits = int(req)
        # Only what differs from the class defaults below is stored: a context is made for
        # every request, and each attribute written costs as much as a check.
        if bits & _INT_REQ:
            self._need_integrity = True
        if bits & _ALLOC_REQ:
            self._allocate = True
        if bits & _HTTP_REQ:
            if bits & _CONF_REQ:
                raise UnsupportedFunction(
                    "ISC_REQ_CONFIDENTIALITY cannot be used with HTTP Digest: HTTP has no "
                    "auth-conf. Drop the flag, or use SASL mode."
                )
            uri = _HTTP_TARGETS.get(target) if target else None
            if uri is None:
                uri = _http_target(target)
            self._mode = _HTTP
            self._target = uri
            start = _HTTP_START
        else:
            if bits & _CONF_REQ:
                self._need_confidentiality = True
            if not target or not quotable(target):
                raise InvalidParameter("Digest needs a target name: service/host.")
            if "/" not in target.strip("/"):
                raise InvalidParameter(
                    f"A SASL Digest target is service/host (e.g. ldap/dc.example.com), "
                    f"not {target!r}."
                )
            self._mode = _SASL
            self._target = target
            start = _SASL_START
        if cnonce is not None:
            if not quotable(cnonce):
                raise InvalidParameter("The fixed cnonce may not contain control characters.")
            self._fixed_cnonce = cnonce
        if max_challenge != MAX_CHALLENGE:
            self._max_challenge = max_challenge
        self._machine = _new_machine(start)

    # What the request flags and keyword arguments leave at their defaults:
    _need_integrity = False
    _need_confidentiality = False
    _allocate = False
    _fixed_cnonce: str | None = None
    _max_challenge = MAX_CHALLENGE

    is_client = True
    # Until a handshake leg sets them (class attributes, so a new context stores none of them):
    _qop: Qop | None = None
    _layer: SecurityLayer | None = None
    _ha1: bytes | None = None
    _mutual = False
    _http: _HttpSession | None = None
    _first: _FirstAnswer | None = None
    _header = ""
    _sasl: _SaslPending | None = None
    channel_bindings: ChannelBindings | None = None

    def __repr__(self) -> str:
        return f"DigestClientContext({self._mode.value}, {self._target!r}, {self.state.name})"

    @property
    def flags(self) -> int:
        """``ISC_RET_*``: computed in plain ints (IntFlag's ``|`` is an Enum call each time),
        returned as the :class:`IscRet` value."""
        http = self._mode is _HTTP
        bits = _RET_HTTP if http else 0
        if self._mutual:
            bits |= _RET_MUTUAL
        layer = self._layer
        if http and self._qop is _AUTH_INT:
            bits |= _RET_INTEGRITY
        elif layer is not None:
            bits |= _RET_LAYER
            if layer.confidential:
                bits |= _RET_CONFIDENTIALITY
        known = _ISC_RET.get(bits)
        if known is None:
            known = _ISC_RET[bits] = IscRet(bits)  # a few dozen combinations at most
        return known

    @property
    def client_name(self) -> str | None:
        return self._client.user

    @property
    def server_name(self) -> str | None:
        return self._first[0].realm if self._first is not None else None

    def _session(self) -> _HttpSession:
        """The HTTP session, built from the first answer the first time it is needed."""
        session = self._http
        if session is None:
            assert self._first is not None
            session = self._http = _HttpSession(self._first, self._client)
        return session

    def _cnonce(self) -> str:
        """The client nonce for a new server nonce (``_client_http_respond`` has a copy inline)."""
        if self._fixed_cnonce is not None:
            return self._fixed_cnonce
        return binascii.b2a_base64(self._env.random(_CNONCE_BYTES), newline=False).decode()

    def _classify(self, token: bytes | str | None) -> tuple[Input, object]:
        if not token:
            return Input.NO_TOKEN, None
        if type(token) is not bytes:
            token = header_bytes(token, "challenge")
        if self._mode is _HTTP:
            message = parse_http_server_token(token, self._max_challenge)
            if isinstance(message, AuthenticationInfo):
                return Input.RSPAUTH, message
            for challenge in message:
                if challenge.stale:
                    return _STALE_CHALLENGE, message
            return _CHALLENGE, message
        if token.lstrip()[:7].lower() == b"rspauth":
            return Input.RSPAUTH, ResponseAuth.parse(token, self._max_challenge)
        return Input.CHALLENGE, SaslChallenge.parse(token, self._max_challenge)

    def _authorize(self, parts: list[Part], qop: int) -> MessageResult:
        """MakeSignature (Digest, HTTP): authorize a further request on this context.

        Buffers, as curl and Microsoft's "MakeSignature (Digest)" use them: [0] TOKEN (empty),
        [1] PKG_PARAMS method, [2] PKG_PARAMS URL (empty: the target name), [3] PKG_PARAMS
        H(entity) or body, [4] PADDING, which receives the next Authorization value (nc + 1).
        """
        params = [p.data for p in parts if p.kind is PartKind.PARAM]
        output = first(parts, PartKind.PADDING)
        if not params or output is None:
            raise InsufficientBuffers(
                "HTTP Digest MakeSignature takes TOKEN, PKG_PARAMS (method), PKG_PARAMS (URL), "
                "PKG_PARAMS (H(entity)) and a PADDING buffer for the Authorization value."
            )
        self._check_call(qop, None)
        method = _text_param(params, 0, "method")
        if method is None:
            raise InsufficientBuffers("HTTP Digest MakeSignature needs the method (PKG_PARAMS).")
        url = _text_param(params, 1, "URL")
        body = params[2] if len(params) > 2 else b""
        request = NextRequest(method, _request_uri(url) if url else self._target, body)
        self._machine.fire(_NEXT_REQUEST, self, request, None)
        header = self._header.encode()
        if not self._allocate:
            ensure_room(parts[output], len(header))
        return MessageResult(writes=(Write(output, header, allocate=self._allocate),))

    def next_authorization(
        self, method: str | bytes, uri: str | bytes | None = None, body: str | bytes = b""
    ) -> bytes:
        """The credentials for a further request (the Pythonic MakeSignature), nc + 1.

        Takes ``str`` or bytes (:mod:`.text`); returns bytes, like :meth:`step`'s token: the
        Authorization header value is ``b"Digest " + result``.
        """
        target = _request_uri(header_text(uri, "URI")) if uri else self._target
        if type(method) is not str:
            method = header_text(method, "method")
        if type(body) is not bytes:
            body = header_bytes(body, "body")
        request = NextRequest(method, target, body)
        self._machine.fire(_NEXT_REQUEST, self, request, None)
        return self._header.encode()

    def _finish_token(self, text: str) -> bytes:
        data = text.encode()
        if len(data) > self.info.max_token:
            raise InvalidParameter(
                f"The Digest response would be {len(data)} bytes, more than cbMaxToken "
                f"({self.info.max_token}); shorten the user name or the URI."
            )
        return data
