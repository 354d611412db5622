"""AcceptSecurityContext (Digest): the acceptor context, HTTP (RFC 7616) or SASL (RFC 2831)."""

from __future__ import annotations

from ...constants import (
    AscReq,
    AscRet,
    SecStatus,
)
from ...errors import (
    AlgorithmMismatch,
    InsufficientBuffers,
    InvalidToken,
    LogonDenied,
    NoCredentials,
    QopNotSupported,
    UnsupportedFunction,
)
from ...provider import (
    Environment,
    PackageInfo,
    Step,
    StepInput,
)
from ...statemachine import Machine
from . import crypto
from .context import _DigestContext
from .credentials import Acceptor, DigestCredential, StoredUser
from .crypto import Algorithm, Qop
from .machine import (
    _ASC_CONF_REQ,
    _ASC_INT_REQ,
    _FAILED,
    _HTTP,
    _SASL,
    ASC_REQ_HTTP,
    TRANSITIONS,
    Input,
    Mode,
    State,
)
from .messages import (
    MAX_RESPONSE,
    HttpChallenge,
    HttpResponse,
    SaslChallenge,
    SaslResponse,
    build_http_challenges,
)
from .security import DEFAULT_MAXBUF, SecurityLayer
from .session import _same_text, _text_param, _utf8
from .text import header_bytes

_ASC_NONE = AscRet(0)
_ASC_INTEGRITY = AscRet.INTEGRITY
_ASC_LAYER = AscRet.INTEGRITY | AscRet.REPLAY_DETECT | AscRet.SEQUENCE_DETECT
_ASC_LAYER_CONF = _ASC_LAYER | AscRet.CONFIDENTIALITY


class DigestServerContext(_DigestContext):
    """AcceptSecurityContext (Digest): one acceptor context.

    Args:
        nonce: the nonce of the first challenge (for published vectors); by default a fresh
            self-validating nonce from the Environment's clock and random source.
        opaque: an ``opaque`` directive for HTTP challenges (None: none is sent).
        max_response: the largest client token accepted (RFC 2831: less than 4096 bytes).
    """

    def __init__(
        self, info: PackageInfo, credential: DigestCredential, req: AscReq, env: Environment,
        *, nonce: str | None = None, opaque: str | None = None,
        max_response: int = MAX_RESPONSE,
    ) -> None:
        if credential.acceptor is None:
            raise NoCredentials(
                "This Digest credential has no inbound part; acquire it with "
                "SECPKG_CRED_INBOUND and a DigestAcceptorConfig."
            )
        self.info = info
        self.is_client = False
        self._acceptor: Acceptor = credential.acceptor
        config = self._acceptor.config
        self._req = int(req)  # plain int: Flag arithmetic builds a member per operation
        self._env = env
        self._mode = _HTTP if self._req & ASC_REQ_HTTP else _SASL
        self._max_response = max_response
        self._qops = self._offered_qops()
        self._ciphers = config.ciphers if Qop.AUTH_CONF in self._qops else ()
        self._algorithms = self._acceptor.http_algorithms() if self._mode is Mode.HTTP else ()
        if self._mode is Mode.HTTP and not self._algorithms:
            raise AlgorithmMismatch("The Digest acceptor offers no HTTP algorithm.")
        self._fixed_nonce = nonce
        self._opaque = opaque
        self._issued: tuple[str, int] | None = None
        self._realm = config.realm
        self._qop: Qop | None = None
        self._layer: SecurityLayer | None = None
        self._ha1: bytes | None = None
        self._user: str | None = None
        self.authzid: str | None = None
        initial = State.HTTP_SERVER_START if self._mode is _HTTP else State.SASL_SERVER_START
        self._machine = Machine(TRANSITIONS, initial, _FAILED, "Digest token")

    def __repr__(self) -> str:
        return f"DigestServerContext({self._mode.value}, {self._realm!r}, {self.state.name})"

    def _offered_qops(self) -> tuple[Qop, ...]:
        config = self._acceptor.config
        qops = tuple(q for q in config.qops if self._mode is Mode.SASL or q is not Qop.AUTH_CONF)
        if Qop.AUTH_CONF in qops and not config.ciphers:
            qops = tuple(q for q in qops if q is not Qop.AUTH_CONF)
        if self._req & _ASC_CONF_REQ:
            if self._mode is _HTTP:
                raise UnsupportedFunction(
                    "ASC_REQ_CONFIDENTIALITY cannot be used with HTTP Digest (no auth-conf)."
                )
            qops = tuple(q for q in qops if q is Qop.AUTH_CONF)
        elif self._req & _ASC_INT_REQ:
            qops = tuple(q for q in qops if q is not Qop.AUTH)
        if not qops:
            raise QopNotSupported(
                "The requested protection is not among the qops (and ciphers) the Digest "
                "acceptor is configured to offer."
            )
        return qops

    @property
    def flags(self) -> int:
        """``ASC_RET_*``, as the fixed :class:`AscRet` values (no IntFlag arithmetic per call)."""
        layer = self._layer
        if self._mode is Mode.HTTP and self._qop is Qop.AUTH_INT:
            return _ASC_INTEGRITY
        if layer is not None:
            return _ASC_LAYER_CONF if layer.confidential else _ASC_LAYER
        return _ASC_NONE

    @property
    def client_name(self) -> str | None:
        """The authenticated user name (the plain name, also when userhash was used)."""
        return self._user

    @property
    def server_name(self) -> str | None:
        return self._realm

    def _now(self) -> int:
        return self._env.epoch()

    def _new_nonce(self) -> str:
        now = self._now()
        if self._fixed_nonce is not None and self._issued is None:
            nonce = self._fixed_nonce
        else:
            key = self._acceptor.nonce_key(self._env.random)
            nonce = crypto.make_nonce(key, now, self._env.random(9))
        self._issued = (nonce, now)
        return nonce

    def _nonce_issued(self, nonce: str) -> int | None:
        """When ``nonce`` was issued by this context or any acceptor with the same key."""
        if self._issued is not None and _same_text(self._issued[0], nonce):
            return self._issued[1]
        return crypto.check_nonce(self._acceptor.nonce_key(self._env.random), nonce)

    def _classify(self, token: bytes | str | None) -> tuple[Input, object]:
        if not token:
            return Input.NO_TOKEN, None
        if type(token) is not bytes:
            token = header_bytes(token, "response")
        if self._mode is Mode.SASL:
            return Input.RESPONSE, SaslResponse.parse(token, self._max_response)
        response = HttpResponse.parse(token, self._max_response)
        issued = self._nonce_issued(response.nonce)
        lifetime = self._acceptor.config.nonce_lifetime
        now = self._now()
        if issued is not None and (
            now - issued > lifetime or self._acceptor.forgotten(issued, now)
        ):
            return Input.STALE_RESPONSE, response
        return Input.RESPONSE, response

    def _challenge(self, inp: StepInput, stale: bool) -> Step:
        nonce = self._new_nonce()
        config = self._acceptor.config
        if self._mode is Mode.HTTP:
            self._realm = _text_param(inp.params, 3, "realm") or config.realm
            qop = tuple(q.value for q in self._qops)
            text = build_http_challenges(tuple(
                HttpChallenge(
                    realm=self._realm, nonce=nonce, qop=qop, algorithm=alg.value,
                    opaque=self._opaque, stale=stale, charset_utf8=True,
                    userhash=config.userhash,
                )
                for alg in self._algorithms
            ))
        else:
            text = SaslChallenge(
                nonce=nonce,
                realms=(self._realm,),
                qop=tuple(q.value for q in self._qops),
                ciphers=tuple(c.value for c in self._ciphers),
                maxbuf=config.maxbuf if config.maxbuf != DEFAULT_MAXBUF else None,
                algorithm="md5-sess",
                charset_utf8=True,
            ).build()
        return Step(SecStatus.SEC_I_CONTINUE_NEEDED, text.encode("utf-8"))

    def _lookup_http(self, response: HttpResponse, alg: Algorithm) -> StoredUser | None:
        if response.userhash:
            return self._acceptor.user_by_hash(alg, response.username, self._realm, _utf8)
        return self._acceptor.user(response.username, self._realm)

    def _verify_http(self, response: HttpResponse, inp: StepInput) -> tuple[str, str, Qop, str]:
        """Check an Authorization value; returns (user, HA1, qop, H(entity))."""
        alg = Algorithm.from_wire(response.algorithm)
        if alg is None or alg not in self._algorithms:
            offered = ", ".join(a.value for a in self._algorithms)
            raise AlgorithmMismatch(
                f"The client used algorithm {response.algorithm!r}; this acceptor offers "
                f"{offered}."
            )
        if self._issued is None:
            self._realm = _text_param(inp.params, 3, "realm") or self._acceptor.config.realm
        if response.realm != self._realm:
            raise LogonDenied(
                f"The response is for realm {response.realm!r}, not {self._realm!r}."
            )
        if self._nonce_issued(response.nonce) is None:
            raise LogonDenied(
                "The response's nonce was not issued by this acceptor (or its nonce key "
                "changed); send the client a new challenge."
            )
        if self._opaque is not None and response.opaque != self._opaque:
            raise LogonDenied("The response does not return the challenge's opaque value.")
        if response.qop is None:
            raise InvalidToken(
                "The response has no qop: RFC 2069-style Digest is not accepted (RFC 7616)."
            )
        qop = Qop.from_wire(response.qop)
        if qop is None or qop not in self._qops:
            raise QopNotSupported(
                f"The client used qop {response.qop!r}, which this acceptor did not offer."
            )
        method = _text_param(inp.params, 0, "method")
        if method is None:
            raise InsufficientBuffers(
                "An HTTP Digest acceptor needs the request method in the first "
                "SECBUFFER_PKG_PARAMS buffer."
            )
        uri = _text_param(inp.params, 1, "URL")
        if uri is not None and uri != response.uri:
            raise InvalidToken(
                f"The response's uri {response.uri!r} is not the request's {uri!r} "
                "(RFC 7616 §3.4.6: answer 400 Bad Request)."
            )
        body = inp.params[2] if len(inp.params) > 2 else b""
        hentity = crypto.hentity(alg, body) if qop is Qop.AUTH_INT else ""
        stored = self._lookup_http(response, alg)
        # An unknown user costs what a known one does (timing, issue 12).
        candidate = stored if stored is not None else self._acceptor.decoy(response.username)
        secret = candidate.secret_hex(alg, _utf8, self._realm)
        assert response.cnonce is not None and response.nc is not None
        ha1 = crypto.ha1(alg, secret or "", response.nonce, response.cnonce)
        ha2 = crypto.ha2(alg, method, response.uri, qop, hentity)
        expected = crypto.request_digest(
            alg, ha1, response.nonce, response.nc, response.cnonce, qop, ha2
        )
        if stored is None or secret is None or not _same_text(expected, response.response):
            raise LogonDenied(
                f"Digest authentication failed for realm {self._realm!r}: unknown user or "
                "wrong password."
            )
        return stored.name, ha1, qop, hentity
