"""Digest (WDigest) handshakes: the states, the inputs, the one transition table, both contexts.

Rules of this file:

- It holds the :class:`State` and :class:`Input` enums, the single table :data:`TRANSITIONS`
  and the handlers the table names. The contexts that drive it are ``client.py`` and
  ``server.py``, on the shared ``context.py``; ``session.py`` holds the HTTP session and the
  SASL exchange state. A context's state is
  changed only by ``Machine.fire`` on this table; a pair missing from it raises and leaves the
  context ``FAILED``.
- It does no parsing, hashing or ciphering of its own: wire formats are in ``messages.py``,
  spec functions in ``crypto.py``, the SASL layer in ``security.py``, users in
  ``credentials.py``. A parser's ``DecodeError`` raised while classifying a token fails the
  context at the machine's error boundary (``SEC_E_INVALID_TOKEN``), as in every package.
- It never reads the clock or the random source except through the context's
  :class:`~opensspi.provider.Environment`, and never does I/O.
- Every flag it reports is computed from what was negotiated and checked, never echoed.

Behaviour follows Microsoft's "Microsoft Digest SSP" pages and digest.md: SASL (RFC 2831) by
default; HTTP (RFC 7616, RFC 2617) when the initiator asks ``ISC_REQ_USE_HTTP_STYLE``
(0x01000000) or the documented ``ISC_REQ_HTTP`` (0x10000000), or the acceptor asks
``ASC_REQ_HTTP`` (0x10000000).

Input buffers (``StepInput.params`` are the SECBUFFER_PKG_PARAMS buffers in order):

- initiator, HTTP: token = the WWW-Authenticate value (with or without ``Digest``, one or
  several challenges) or an Authentication-Info value; params[0] = method, params[1] =
  H(entity-body) in hex or the body itself (auth-int). The request URI is the target name.
- initiator, SASL: token only; the first call may have none. The target is ``service/host``.
- acceptor, HTTP: token = the Authorization value; params[0] = method, params[1] = the request
  URI to check ``uri`` against, params[2] = H(entity-body) or the body, params[3] = the realm.
- acceptor, SASL: token only.

Deviation: Microsoft's AcceptSecurityContext (Digest) page lists the acceptor's second
PKG_PARAMS buffer as "reserved"; here it carries the request URI, which RFC 7616 §3.4.6 says
the server MUST compare with ``uri``. Leave it empty to skip that check.

``ISC_RET_ALLOCATED_MEMORY`` / ``ASC_RET_ALLOCATED_MEMORY`` are for the sspi layer to report:
it is the one that allocates output buffers.
"""

from __future__ import annotations

from binascii import b2a_base64 as _b2a_base64
from collections.abc import Callable
from enum import Enum, auto
from typing import TYPE_CHECKING, Final

from ...constants import (
    AscReq,
    IscReq,
    SecStatus,
)
from ...errors import (
    AlgorithmMismatch,
    InsufficientBuffers,
    InvalidToken,
    LogonDenied,
    MutualAuthFailed,
    OutOfSequence,
    QopNotSupported,
    WrongPrincipal,
)
from ...provider import (
    Step,
    StepInput,
)
from . import crypto
from .crypto import Algorithm, Cipher, Qop, sasl_octets
from .messages import (
    AuthenticationInfo,
    HttpChallenge,
    HttpResponse,
    ResponseAuth,
    SaslChallenge,
    SaslResponse,
)
from .security import DEFAULT_MAXBUF, LayerKeys, SecurityLayer
from .session import NextRequest, _first_authorization, _same_text, _SaslPending, _text_param

if TYPE_CHECKING:  # the contexts drive this table; the handlers only name their types
    from .client import DigestClientContext
    from .server import DigestServerContext


ISC_REQ_HTTP: Final = 0x10000000
"""Microsoft's documented ``ISC_REQ_HTTP``; its value is inferred from ``ASC_REQ_HTTP``."""

ASC_REQ_HTTP: Final = 0x10000000
"""``ASC_REQ_HTTP`` of "Generating the Digest Challenge" (``ASC_REQ_ALLOW_MISSING_BINDINGS`` in
newer headers)."""

_HTTP_REQ: Final = int(IscReq.USE_HTTP_STYLE) | ISC_REQ_HTTP
_INT_REQ: Final = int(IscReq.INTEGRITY | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT)
_CONF_REQ: Final = int(IscReq.CONFIDENTIALITY)
_ALLOC_REQ: Final = int(IscReq.ALLOCATE_MEMORY)
_ASC_INT_REQ: Final = int(AscReq.INTEGRITY | AscReq.REPLAY_DETECT | AscReq.SEQUENCE_DETECT)
_ASC_CONF_REQ: Final = int(AscReq.CONFIDENTIALITY)
_CNONCE_BYTES: Final = 33


class Mode(Enum):
    """Which Digest the context speaks."""

    SASL = "SASL"
    HTTP = "HTTP"


class State(Enum):
    """Where a Digest context is; names say what comes next."""

    __hash__ = object.__hash__  # members are singletons; the table lookup is hot

    SASL_CLIENT_START = auto()
    SASL_EXPECT_CHALLENGE = auto()
    SASL_EXPECT_RSPAUTH = auto()
    SASL_CLIENT_DONE = auto()
    HTTP_CLIENT_START = auto()
    HTTP_EXPECT_CHALLENGE = auto()
    HTTP_CLIENT_DONE = auto()
    SASL_SERVER_START = auto()
    SASL_EXPECT_RESPONSE = auto()
    SASL_SERVER_DONE = auto()
    HTTP_SERVER_START = auto()
    HTTP_EXPECT_RESPONSE = auto()
    HTTP_SERVER_DONE = auto()
    FAILED = auto()


class Input(Enum):
    """What a call brings to the machine."""

    __hash__ = object.__hash__

    NO_TOKEN = auto()
    CHALLENGE = auto()
    STALE_CHALLENGE = auto()
    RSPAUTH = auto()
    RESPONSE = auto()
    STALE_RESPONSE = auto()
    NEXT_REQUEST = auto()


_DONE_STEP: Final = Step(SecStatus.SEC_E_OK)
_STEP_TAIL: Final = _DONE_STEP[2:]
"""A Step's fields after ``status`` and ``token`` at their defaults: ``tuple.__new__(Step,
(status, token) + _STEP_TAIL)`` is ``Step(status, token)`` without the generated ``__new__``'s
frame, for the one Step every HTTP request makes."""
_new_tuple = tuple.__new__

# Members read on every request, as module globals: on CPython 3.11 naming a member through its
# class (``Input.CHALLENGE``) runs EnumType's attribute hook, about 60 ns each time.
_OK: Final = SecStatus.SEC_E_OK
_HTTP: Final = Mode.HTTP
_SASL: Final = Mode.SASL
_HTTP_START: Final = State.HTTP_CLIENT_START
_SASL_START: Final = State.SASL_CLIENT_START
_FAILED: Final = State.FAILED
_CHALLENGE: Final = Input.CHALLENGE
_STALE_CHALLENGE: Final = Input.STALE_CHALLENGE
_NEXT_REQUEST: Final = Input.NEXT_REQUEST
_AUTH: Final = Qop.AUTH
_AUTH_INT: Final = Qop.AUTH_INT
_algorithm_from_wire: Final = Algorithm.from_wire
_EXACT_ALGORITHMS: Final[dict[str | None, Algorithm]] = {None: Algorithm.MD5}
_EXACT_ALGORITHMS.update((a.value, a) for a in Algorithm)
""":meth:`Algorithm.from_wire` of the spellings servers send, without the call (absent: MD5)."""

_DONE = frozenset(
    {State.SASL_CLIENT_DONE, State.HTTP_CLIENT_DONE, State.SASL_SERVER_DONE, State.HTTP_SERVER_DONE}
)


def _client_first_leg(ctx: DigestClientContext, _payload: None, _inp: StepInput) -> Step:
    """First call without a challenge: nothing to send yet (Microsoft: pInput may be NULL)."""
    return Step(SecStatus.SEC_I_CONTINUE_NEEDED)


def _client_sasl_respond(
    ctx: DigestClientContext, challenge: SaslChallenge, _inp: StepInput
) -> Step:
    """Answer a digest-challenge with a digest-response, RFC 2831 §2.1.2."""
    client = ctx._client
    if challenge.algorithm.lower() != "md5-sess":
        raise AlgorithmMismatch(
            f"The DIGEST-MD5 challenge names algorithm {challenge.algorithm!r}, not md5-sess."
        )
    offered = {q for q in map(Qop.from_wire, challenge.qop) if q is not None}
    server_ciphers = {c for c in map(Cipher.from_wire, challenge.ciphers) if c is not None}
    common = [c for c in client.ciphers if c in server_ciphers]
    cipher = max(common, key=lambda c: c.strength) if common else None
    if ctx._need_confidentiality:
        wanted: tuple[Qop, ...] = (Qop.AUTH_CONF,)
    elif ctx._need_integrity:
        wanted = (Qop.AUTH_INT, Qop.AUTH_CONF)
    else:
        wanted = (Qop.AUTH, Qop.AUTH_INT, Qop.AUTH_CONF)
    usable = [q for q in wanted if q in offered and (q is not Qop.AUTH_CONF or cipher)]
    if not usable:
        sent = ",".join(challenge.qop)
        ciphers = ",".join(challenge.ciphers) or "none"
        raise QopNotSupported(
            f"The server offers qop {sent} (ciphers {ciphers}) but this context needs "
            f"{' or '.join(q.value for q in wanted)} with a cipher it allows; it will not "
            "downgrade. Ask for less protection or enable the cipher (DigestClientOptions)."
        )
    qop = usable[0]
    if qop is not Qop.AUTH_CONF:
        cipher = None
    if client.realm is not None and client.realm in challenge.realms:
        realm: str | None = client.realm
    elif challenge.realms:
        realm = challenge.realms[0]
    else:
        realm = client.realm
    cnonce = ctx._cnonce()
    secret = crypto.sasl_secret(
        sasl_octets(client.user), sasl_octets(realm or ""), sasl_octets(client.password)
    )
    authzid = client.authzid.encode("utf-8") if client.authzid is not None else None
    ha1 = crypto.sasl_ha1(secret, challenge.nonce, cnonce, authzid)
    uri = ctx._target
    response = crypto.sasl_response(ha1, challenge.nonce, 1, cnonce, qop, uri, server=False)
    rspauth = crypto.sasl_response(ha1, challenge.nonce, 1, cnonce, qop, uri, server=True)
    peer_maxbuf = challenge.maxbuf or DEFAULT_MAXBUF
    ctx._sasl = _SaslPending(ha1, qop, cipher, peer_maxbuf, rspauth)
    ctx._qop = qop
    text = SaslResponse(
        username=client.user,
        nonce=challenge.nonce,
        cnonce=cnonce,
        nc=1,
        digest_uri=uri,
        response=response,
        realm=realm,
        qop=qop.value,
        maxbuf=client.maxbuf if client.maxbuf != DEFAULT_MAXBUF else None,
        cipher=cipher.value if cipher is not None else None,
        authzid=client.authzid,
        charset_utf8=challenge.charset_utf8,
    ).build()
    return Step(SecStatus.SEC_I_CONTINUE_NEEDED, ctx._finish_token(text))


def _client_sasl_check_rspauth(
    ctx: DigestClientContext, rsp: ResponseAuth, _inp: StepInput
) -> Step:
    """Verify the server's rspauth, RFC 2831 §2.1.3, and start the security layer."""
    pending = ctx._sasl
    assert pending is not None
    if not _same_text(pending.rspauth, rsp.rspauth):
        raise MutualAuthFailed(
            "The server's rspauth is wrong: it does not know the password, or the exchange "
            "was tampered with. Do not trust this connection."
        )
    ctx._mutual = True
    ctx._ha1 = pending.ha1
    if pending.qop is not Qop.AUTH:
        keys = LayerKeys.derive(pending.ha1, True, pending.cipher)
        ctx._layer = SecurityLayer(pending.qop, pending.cipher, keys, pending.peer_maxbuf)
    ctx._sasl = None
    return Step(SecStatus.SEC_E_OK)


def _choose_http(
    ctx: DigestClientContext, challenges: tuple[HttpChallenge, ...]
) -> tuple[HttpChallenge, Algorithm, Qop | None]:
    """Pick the strongest usable challenge; the qop the flags ask for must be offered."""
    need_int = ctx._need_integrity
    if not need_int and len(challenges) == 1:
        # What the loop below decides for the usual single challenge offering qop=auth.
        only = challenges[0]
        if "auth" in only.qop:
            alg = _EXACT_ALGORITHMS.get(only.algorithm) or _algorithm_from_wire(only.algorithm)
            if alg is not None:
                return only, alg, _AUTH
    best: tuple[HttpChallenge, Algorithm, Qop | None] | None = None
    best_strength = offered_strength = 0
    lacking_int = lacking_qop = False
    for challenge in challenges:
        alg = _algorithm_from_wire(challenge.algorithm)
        if alg is None:
            continue
        offered_strength = max(offered_strength, alg.strength)
        offers = challenge.qop  # lower case, as parsed
        auth, auth_int = "auth" in offers, "auth-int" in offers
        if offers and not (auth or auth_int):
            continue
        qop: Qop | None
        if need_int:
            if not auth_int:
                lacking_int = True
                continue
            qop = _AUTH_INT
        elif not offers:
            if not ctx._client.allow_rfc2069:
                lacking_qop = True  # RFC 2069 form only behind an explicit option (issue 12)
                continue
            qop = None
        else:
            qop = _AUTH if auth else _AUTH_INT
        # Strictly stronger only: of equally strong challenges the first one listed wins.
        if alg.strength > best_strength:
            best, best_strength = (challenge, alg, qop), alg.strength
    if best is None:
        if lacking_int:
            raise QopNotSupported(
                "The request asked for integrity (auth-int) but the server offers only qop=auth; "
                "Digest will not downgrade. Drop ISC_REQ_INTEGRITY/REPLAY/SEQUENCE_DETECT."
            )
        if lacking_qop:
            raise QopNotSupported(
                "The server's Digest challenge offers no qop, so the answer would be the RFC "
                "2069 form (no cnonce, no nonce count), which a man in the middle can force by "
                "stripping qop; it is refused. Set DigestClientOptions(allow_rfc2069=True) "
                "only for a server that cannot send qop."
            )
        names = ", ".join(c.algorithm or "MD5" for c in challenges)
        raise AlgorithmMismatch(f"No supported Digest algorithm among: {names}.")
    if best_strength < offered_strength and not ctx._client.allow_weaker_algorithm:
        # The server offered a stronger algorithm in a challenge this context cannot answer
        # (no qop, or no auth-int): a man in the middle can do that to one challenge of
        # several. Falling back to the weaker one is a downgrade (issue 12).
        raise AlgorithmMismatch(
            f"The server offers a stronger algorithm than {best[1].value} in a challenge this "
            "context cannot answer (no qop, or not the protection asked for); it will not fall "
            "back to the weaker one. Set DigestClientOptions(allow_weaker_algorithm=True) to "
            "allow it."
        )
    return best


def _client_http_respond(
    ctx: DigestClientContext, challenges: tuple[HttpChallenge, ...], inp: StepInput
) -> Step:
    """Answer the strongest challenge with an Authorization value, RFC 7616 §3.4.

    A ``stale=true`` challenge after a response is a fresh nonce (nc starts again at 1), not a
    failure (RFC 7616 §3.3).
    """
    challenge, alg, qop = _choose_http(ctx, challenges)
    params = inp.params
    # _text_param's first case inline (printable ASCII, as every method is); else the call.
    data = params[0] if params else b""
    method: str | None
    if not (data.isascii() and (method := data.decode("ascii")).isprintable() and method):
        method = _text_param(params, 0, "method")
    if method is None:
        raise InsufficientBuffers(
            "HTTP Digest needs the request method (e.g. GET) in the first SECBUFFER_PKG_PARAMS "
            "buffer."
        )
    body = params[1] if len(params) > 1 else b""
    ctx.channel_bindings = inp.channel_bindings
    # ctx._cnonce() and ctx._finish_token(value), inline: one frame each less per request.
    cnonce = ctx._fixed_cnonce
    if cnonce is None:
        cnonce = _b2a_base64(ctx._env.random(_CNONCE_BYTES), newline=False).decode()
    value, ctx._first = _first_authorization(
        ctx._client, challenge, alg, qop, cnonce, method, ctx._target, body
    )
    ctx._http = None
    ctx._qop = qop
    ctx._mutual = False
    token = value.encode()
    if len(token) > ctx.info.max_token:
        ctx._finish_token(value)  # raises, saying why
    return _new_tuple(Step, (_OK, token) + _STEP_TAIL)  # noqa: RUF005 - faster than *


def _client_http_rejected(
    ctx: DigestClientContext, challenges: tuple[HttpChallenge, ...], _inp: StepInput
) -> Step:
    """A second challenge without stale=true: the server refused the credentials."""
    raise LogonDenied(
        "The server answered the Digest response with a new challenge that is not stale: it "
        "rejected the user name or password."
    )


def _client_http_check_rspauth(
    ctx: DigestClientContext, info: AuthenticationInfo, _inp: StepInput
) -> Step:
    """Check Authentication-Info: rspauth of the last request (RFC 7616 §3.5); take nextnonce."""
    session = ctx._session()
    _method, uri, hentity, nc = session.last
    if info.rspauth is not None:
        mismatch = (
            (info.cnonce is not None and info.cnonce != session.cnonce)
            or (info.nc is not None and info.nc != nc)
            or (info.qop is not None and Qop.from_wire(info.qop) is not session.qop)
        )
        expected = crypto.response_auth(
            session.algorithm, session.ha1, session.nonce, nc, session.cnonce,
            session.qop, uri, hentity,
        )
        if mismatch or not _same_text(expected, info.rspauth):
            raise MutualAuthFailed(
                "The server's Authentication-Info rspauth does not match the request: the "
                "server does not know the password, or the response was tampered with."
            )
        ctx._mutual = True
    if info.nextnonce is not None:
        session.renonce(info.nextnonce)
    return Step(SecStatus.SEC_E_OK)


def _client_http_next_request(
    ctx: DigestClientContext, request: NextRequest, _inp: None
) -> Step:
    """Authorize a further request with the same nonce and nc + 1 (MakeSignature, HTTP).

    Not a handshake leg: the value goes to the caller's PADDING buffer (or is returned by
    ``next_authorization``), so it is left in the context rather than in the Step's token.
    """
    ctx._header = ctx._session().authorize(request.method, request.uri, request.body)
    return _DONE_STEP


# -- handlers: acceptor --------------------------------------------------------------------------


def _server_challenge(ctx: DigestServerContext, _payload: None, inp: StepInput) -> Step:
    """Issue a challenge with a fresh nonce (RFC 7616 §3.3, RFC 2831 §2.1.1)."""
    return ctx._challenge(inp, stale=False)


def _server_http_verify(ctx: DigestServerContext, response: HttpResponse, inp: StepInput) -> Step:
    """Verify an Authorization value and answer with Authentication-Info (RFC 7616 §3.5)."""
    user, ha1, qop, hentity = ctx._verify_http(response, inp)
    assert response.nc is not None and response.cnonce is not None
    issued = ctx._nonce_issued(response.nonce)
    assert issued is not None  # _verify_http checked it
    if not ctx._acceptor.accept_count(response.nonce, response.nc, issued, ctx._now()):
        raise OutOfSequence(
            f"Nonce count {response.nc:08x} was already used with this nonce: a replayed "
            "request. Reject it."
        )
    alg = Algorithm.from_wire(response.algorithm)
    assert alg is not None
    rspauth = crypto.response_auth(
        alg, ha1, response.nonce, response.nc, response.cnonce, qop, response.uri, hentity
    )
    ctx._user, ctx._qop = user, qop
    info = AuthenticationInfo(rspauth, response.cnonce, response.nc, qop.value)
    return Step(SecStatus.SEC_E_OK, info.build().encode("utf-8"))


def _server_http_stale(ctx: DigestServerContext, response: HttpResponse, inp: StepInput) -> Step:
    """A correct response with an expired nonce: challenge again with stale=true."""
    ctx._verify_http(response, inp)
    return ctx._challenge(inp, stale=True)


def _server_sasl_verify(ctx: DigestServerContext, response: SaslResponse, _inp: StepInput) -> Step:
    """Verify a digest-response and answer with rspauth (RFC 2831 §2.1.2.1, §2.1.3)."""
    config = ctx._acceptor.config
    issued = ctx._issued
    assert issued is not None
    if not _same_text(response.nonce, issued[0]):
        raise LogonDenied("The digest-response does not carry the nonce of this challenge.")
    if response.nc != 1:
        raise InvalidToken(
            f"nc is {response.nc:08x}; the first DIGEST-MD5 response must send 00000001."
        )
    if (response.realm or "") != ctx._realm:
        raise LogonDenied(f"The response is for realm {response.realm!r}, not {ctx._realm!r}.")
    qop = Qop.from_wire(response.qop)
    if qop is None or qop not in ctx._qops:
        raise QopNotSupported(f"The client chose qop {response.qop!r}, which was not offered.")
    cipher: Cipher | None = None
    if qop is Qop.AUTH_CONF:
        cipher = Cipher.from_wire(response.cipher or "")
        if cipher is None or cipher not in ctx._ciphers:
            raise AlgorithmMismatch(
                f"The client chose cipher {response.cipher!r}, which was not offered."
            )
    service, _, rest = response.digest_uri.partition("/")
    host = rest.split("/", 1)[0]
    if (config.service is not None and service.lower() != config.service.lower()) or (
        config.hosts and host.lower() not in {h.lower() for h in config.hosts}
    ):
        raise WrongPrincipal(
            f"The client authenticated to {response.digest_uri!r}, which is not this service."
        )
    stored = ctx._acceptor.user(response.username, ctx._realm)
    # An unknown user costs what a known one does (timing, issue 12).
    candidate = stored if stored is not None else ctx._acceptor.decoy(response.username)
    secret_hex = candidate.secret_hex(Algorithm.MD5, sasl_octets, ctx._realm)
    authzid = response.authzid.encode("utf-8") if response.authzid is not None else None
    ha1 = crypto.sasl_ha1(
        bytes.fromhex(secret_hex or "00" * 16), response.nonce, response.cnonce, authzid
    )
    expected = crypto.sasl_response(
        ha1, response.nonce, 1, response.cnonce, qop, response.digest_uri, server=False
    )
    if stored is None or secret_hex is None or not _same_text(expected, response.response):
        raise LogonDenied(
            f"DIGEST-MD5 authentication failed for realm {ctx._realm!r}: unknown user or "
            "wrong password."
        )
    if not ctx._acceptor.accept_count(response.nonce, response.nc, issued[1], ctx._now()):
        raise OutOfSequence("This digest-response was already accepted once: a replay.")
    ctx._user, ctx._qop, ctx._ha1 = stored.name, qop, ha1
    ctx.authzid = response.authzid
    if qop is not Qop.AUTH:
        keys = LayerKeys.derive(ha1, False, cipher)
        ctx._layer = SecurityLayer(qop, cipher, keys, response.maxbuf or DEFAULT_MAXBUF)
    rspauth = crypto.sasl_response(
        ha1, response.nonce, 1, response.cnonce, qop, response.digest_uri, server=True
    )
    return Step(SecStatus.SEC_E_OK, ResponseAuth(rspauth).build().encode("ascii"))


_S, _I = State, Input

Handler = Callable[..., Step]

TRANSITIONS: Final[dict[tuple[State, Input], tuple[Handler, State]]] = {
    # SASL initiator (RFC 2831 §2.1): [nothing], challenge -> response, rspauth -> done
    (_S.SASL_CLIENT_START, _I.NO_TOKEN): (_client_first_leg, _S.SASL_EXPECT_CHALLENGE),
    (_S.SASL_CLIENT_START, _I.CHALLENGE): (_client_sasl_respond, _S.SASL_EXPECT_RSPAUTH),
    (_S.SASL_EXPECT_CHALLENGE, _I.CHALLENGE): (_client_sasl_respond, _S.SASL_EXPECT_RSPAUTH),
    (_S.SASL_EXPECT_RSPAUTH, _I.RSPAUTH): (_client_sasl_check_rspauth, _S.SASL_CLIENT_DONE),
    # HTTP initiator (RFC 7616 §3.4): challenge -> Authorization; then requests, info, stale
    (_S.HTTP_CLIENT_START, _I.NO_TOKEN): (_client_first_leg, _S.HTTP_EXPECT_CHALLENGE),
    (_S.HTTP_CLIENT_START, _I.CHALLENGE): (_client_http_respond, _S.HTTP_CLIENT_DONE),
    (_S.HTTP_CLIENT_START, _I.STALE_CHALLENGE): (_client_http_respond, _S.HTTP_CLIENT_DONE),
    (_S.HTTP_EXPECT_CHALLENGE, _I.CHALLENGE): (_client_http_respond, _S.HTTP_CLIENT_DONE),
    (_S.HTTP_EXPECT_CHALLENGE, _I.STALE_CHALLENGE): (_client_http_respond, _S.HTTP_CLIENT_DONE),
    (_S.HTTP_CLIENT_DONE, _I.STALE_CHALLENGE): (_client_http_respond, _S.HTTP_CLIENT_DONE),
    (_S.HTTP_CLIENT_DONE, _I.CHALLENGE): (_client_http_rejected, _S.FAILED),
    (_S.HTTP_CLIENT_DONE, _I.RSPAUTH): (_client_http_check_rspauth, _S.HTTP_CLIENT_DONE),
    (_S.HTTP_CLIENT_DONE, _I.NEXT_REQUEST): (_client_http_next_request, _S.HTTP_CLIENT_DONE),
    # SASL acceptor: [nothing] -> challenge, response -> rspauth
    (_S.SASL_SERVER_START, _I.NO_TOKEN): (_server_challenge, _S.SASL_EXPECT_RESPONSE),
    (_S.SASL_EXPECT_RESPONSE, _I.RESPONSE): (_server_sasl_verify, _S.SASL_SERVER_DONE),
    # HTTP acceptor: challenge; verify (also a first call: nonces validate themselves)
    (_S.HTTP_SERVER_START, _I.NO_TOKEN): (_server_challenge, _S.HTTP_EXPECT_RESPONSE),
    (_S.HTTP_SERVER_START, _I.RESPONSE): (_server_http_verify, _S.HTTP_SERVER_DONE),
    (_S.HTTP_SERVER_START, _I.STALE_RESPONSE): (_server_http_stale, _S.HTTP_EXPECT_RESPONSE),
    (_S.HTTP_EXPECT_RESPONSE, _I.NO_TOKEN): (_server_challenge, _S.HTTP_EXPECT_RESPONSE),
    (_S.HTTP_EXPECT_RESPONSE, _I.RESPONSE): (_server_http_verify, _S.HTTP_SERVER_DONE),
    (_S.HTTP_EXPECT_RESPONSE, _I.STALE_RESPONSE): (_server_http_stale, _S.HTTP_EXPECT_RESPONSE),
    (_S.HTTP_SERVER_DONE, _I.NO_TOKEN): (_server_challenge, _S.HTTP_EXPECT_RESPONSE),
    (_S.HTTP_SERVER_DONE, _I.RESPONSE): (_server_http_verify, _S.HTTP_SERVER_DONE),
    (_S.HTTP_SERVER_DONE, _I.STALE_RESPONSE): (_server_http_stale, _S.HTTP_EXPECT_RESPONSE),
}
"""The one transition table: ``(State, Input) -> (handler, next State)``."""
