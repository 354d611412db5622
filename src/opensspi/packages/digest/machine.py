"""Digest (WDigest) handshakes: the states, the inputs, the one transition table, both contexts.

Rules of this file:

- It holds the :class:`State` and :class:`Input` enums, the single table :data:`TABLE`, the
  handlers the table names, and the initiator and acceptor contexts. A context's state is
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

import binascii
import hmac
import re
from collections.abc import Callable, Sequence
from enum import Enum, auto
from typing import Final
from urllib.parse import urlsplit

from ...buffers import ChannelBindings
from ...constants import (
    AscReq,
    AscRet,
    IscReq,
    IscRet,
    SecStatus,
)
from ...errors import (
    AlgorithmMismatch,
    InsufficientBuffers,
    InvalidParameter,
    InvalidToken,
    LogonDenied,
    MutualAuthFailed,
    NoCredentials,
    OutOfSequence,
    QopNotSupported,
    SspiError,
    UnsupportedFunction,
    WrongPrincipal,
)
from ...message import (
    Layout,
    MessageOp,
    MessageResult,
    Part,
    PartKind,
    Write,
    data_indices,
    ensure_room,
    first,
    gss_protect,
    message_parts,
)
from ...provider import (
    Environment,
    MessagePart,
    PackageInfo,
    Sealed,
    SecurityContext,
    Sizes,
    Step,
    StepInput,
    Unsealed,
)
from ...statemachine import Machine
from . import crypto
from .credentials import Acceptor, ClientSecret, DigestCredential, StoredUser
from .crypto import Algorithm, Cipher, Qop, http_octets, sasl_octets
from .messages import (
    MAX_CHALLENGE,
    MAX_RESPONSE,
    AuthenticationInfo,
    AuthorizationPieces,
    HttpChallenge,
    HttpResponse,
    ResponseAuth,
    SaslChallenge,
    SaslResponse,
    authorization_pieces,
    build_http_challenges,
    fill,
    nc_value,
    parse_http_server_token,
    quotable,
    render_authorization,
    username_directive,
)
from .security import DEFAULT_MAXBUF, TRAILER, LayerKeys, SecurityLayer
from .text import header_bytes, header_text

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
_ABSOLUTE_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


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

_DONE = frozenset(
    {State.SASL_CLIENT_DONE, State.HTTP_CLIENT_DONE, State.SASL_SERVER_DONE, State.HTTP_SERVER_DONE}
)


def _same_text(a: str, b: str) -> bool:
    """Compare two peer strings in constant time.

    ``hmac.compare_digest`` raises TypeError on a str with non-ASCII characters, which a peer
    may send in any quoted directive (issue 12): compare the UTF-8 bytes instead
    (``surrogatepass``: a parser may have kept a lone surrogate).
    """
    encoding = "utf-8"
    return hmac.compare_digest(
        a.encode(encoding, "surrogatepass"), b.encode(encoding, "surrogatepass")
    )


def _text_param(params: Sequence[bytes], index: int, what: str) -> str | None:
    """A PKG_PARAMS string (C callers may include the terminating NUL)."""
    if index >= len(params) or not params[index]:
        return None
    data = params[index]
    if data.isascii():
        text = data.decode("ascii")
        if text.isprintable():  # for ASCII: only 0x20-0x7e, the common case
            return text
    try:
        text = data.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter(f"The {what} buffer is not UTF-8 text.") from None
    if not quotable(text):
        raise InvalidParameter(f"The {what} buffer contains control characters.")
    return text or None


def _request_uri(target: str) -> str:
    """The ``uri`` directive for a target name.

    Deviation: Microsoft documents pszTargetName as "the target URL"; an absolute URL is
    reduced to its origin form (path and query), because servers such as Apache compare
    ``uri`` with the request line, which carries the origin form.
    """
    if not target.startswith("/") and _ABSOLUTE_URL.match(target):
        parts = urlsplit(target)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return target


def _utf8(text: str) -> bytes:
    """How the acceptor encodes HTTP names and passwords: it always sends charset=UTF-8."""
    return http_octets(text, True)


def _strip_length(frame: bytes) -> bytes:
    """Drop an RFC 2222 four-byte length prefix if the frame carries a consistent one."""
    if len(frame) >= 4 and int.from_bytes(frame[:4], "big") == len(frame) - 4:
        return frame[4:]
    return frame


class NextRequest:
    """A further HTTP request to authorize on an established context."""

    __slots__ = ("body", "method", "uri")

    def __init__(self, method: str, uri: str, body: bytes) -> None:
        self.method, self.uri, self.body = method, uri, body


def _http_secret(
    client: ClientSecret, challenge: HttpChallenge, algorithm: Algorithm
) -> tuple[str, str]:
    """H(user:realm:password) for ``challenge`` and the username directive to send with it."""
    utf8 = challenge.charset_utf8
    user = client.http_user[utf8]
    realm = http_octets(challenge.realm, True) if utf8 else challenge.realm.encode()
    secret = crypto.secret_hash(algorithm, user, realm, client.http_password[utf8])
    if challenge.userhash:
        return secret, username_directive(crypto.userhash(algorithm, user, realm), False)
    if utf8 and not client.user.isascii():
        # RFC 7616 §3.4: username* "can be used" for names a quoted-string cannot hold.
        # Only servers that announce charset=UTF-8 speak RFC 7616; Apache (no charset)
        # expects the UTF-8 octets in the quoted string, as curl sends them.
        return secret, username_directive(client.user, True)
    return secret, client.http_username


def _http_pieces(
    user: str, challenge: HttpChallenge, nonce: str, cnonce: str, qop: Qop | None
) -> AuthorizationPieces:
    """The fixed parts of the Authorization values answering ``challenge`` under ``nonce``."""
    return authorization_pieces(
        user, challenge.realm, nonce, challenge.algorithm,
        None if qop is None else cnonce, None if qop is None else qop.wire,
        challenge.opaque, challenge.userhash,
    )


def _first_response(
    algorithm: Algorithm, ha1: str, nonce: str, cnonce: str, qop: Qop | None, method: str,
    uri: str, hentity: str,
) -> str:
    """The ``response`` of the first request under a nonce (nc 1), RFC 7616 §3.4.1."""
    ha2 = crypto.ha2(algorithm, method, uri, qop, hentity)
    return crypto.request_digest(algorithm, ha1, nonce, 1, cnonce, qop, ha2)


_FirstAnswer = tuple[HttpChallenge, Algorithm, Qop | None, str, tuple[str, str, str, int]]
"""What an initiator keeps of its first answer: challenge, algorithm, qop, cnonce and the
request (method, uri, H(entity), nc) for the Authentication-Info check."""


def _first_authorization(
    client: ClientSecret, challenge: HttpChallenge, algorithm: Algorithm, qop: Qop | None,
    cnonce: str, method: str, uri: str, body_or_hash: bytes,
) -> tuple[str, _FirstAnswer]:
    """The Authorization value answering ``challenge`` (nc 1), RFC 7616 §3.4, and what an
    :class:`_HttpSession` needs to carry on from it.

    The value is rendered once, without cutting it into :func:`authorization_pieces`: a
    context used for one request, as curl and most clients use them, never needs the pieces.
    """
    secret, user = _http_secret(client, challenge, algorithm)
    nonce = challenge.nonce
    ha1 = crypto.ha1(algorithm, secret, nonce, cnonce)
    hentity = crypto.hentity(algorithm, body_or_hash) if qop is _AUTH_INT else ""
    response = _first_response(algorithm, ha1, nonce, cnonce, qop, method, uri, hentity)
    value = render_authorization(
        user, challenge.realm, uri, challenge.algorithm, nonce,
        None if qop is None else nc_value(1), None if qop is None else cnonce,
        None if qop is None else qop.wire, response, challenge.opaque, challenge.userhash,
    )
    return value, (challenge, algorithm, qop, cnonce, (method, uri, hentity, 1))


class _HttpSession:
    """The initiator's state for one server nonce: algorithm, HA1, cnonce and the count.

    A context that answers one challenge and is then dropped (what curl and the benchmark do:
    one context per request) never builds one: the first answer keeps a :data:`_FirstAnswer`,
    and the session is built from it when the context is used again.
    """

    __slots__ = (
        "algorithm", "challenge", "cnonce", "digester", "ha1", "last", "nc", "nonce",
        "pieces", "qop", "secret", "user",
    )

    def __init__(self, first: _FirstAnswer, client: ClientSecret) -> None:
        challenge, algorithm, qop, cnonce, last = first
        self.challenge, self.algorithm, self.qop, self.cnonce = challenge, algorithm, qop, cnonce
        self.secret, self.user = _http_secret(client, challenge, algorithm)
        self.renonce(challenge.nonce)
        self.nc = last[3]
        self.last: tuple[str, str, str, int] = last

    def renonce(self, nonce: str) -> None:
        """Start over with a new server nonce (a stale challenge or a nextnonce)."""
        self.nonce = nonce
        self.nc = 0
        self.ha1 = crypto.ha1(self.algorithm, self.secret, nonce, self.cnonce)
        self.digester: crypto.RequestDigester | None = None
        self.pieces = _http_pieces(self.user, self.challenge, nonce, self.cnonce, self.qop)

    def authorize(self, method: str, uri: str, body_or_hash: bytes) -> str:
        """The next Authorization value (nc + 1), RFC 7616 §3.4."""
        self.nc = nc = self.nc + 1
        alg, qop = self.algorithm, self.qop
        hentity = crypto.hentity(alg, body_or_hash) if qop is _AUTH_INT else ""
        self.last = (method, uri, hentity, nc)
        if nc == 1:  # after a nextnonce
            response = _first_response(alg, self.ha1, self.nonce, self.cnonce, qop, method, uri,
                                       hentity)
            return fill(self.pieces, uri, "" if qop is None else nc_value(1), response)
        # The digester keeps the joined KD prefix and H(A2) per URI for the requests that follow
        # under this nonce; the nc-value is formatted once for it and for the header.
        digester = self.digester
        if digester is None:
            digester = self.digester = crypto.RequestDigester(
                alg, self.ha1, self.nonce, self.cnonce, qop
            )
        count = "" if qop is None else nc_value(nc)
        return fill(self.pieces, uri, count, digester(method, uri, hentity, count))


class _SaslPending:
    """What the SASL initiator needs to check rspauth and start the security layer."""

    __slots__ = ("cipher", "ha1", "peer_maxbuf", "qop", "rspauth")

    def __init__(
        self, ha1: bytes, qop: Qop, cipher: Cipher | None, peer_maxbuf: int, rspauth: str
    ) -> None:
        self.ha1, self.qop, self.cipher = ha1, qop, cipher
        self.peer_maxbuf, self.rspauth = peer_maxbuf, rspauth


class _DigestContext(SecurityContext):
    """What both sides share: the machine, the mode, and the SASL message functions."""

    _machine: Machine[State, Input, Step]
    _mode: Mode
    _env: Environment
    _layer: SecurityLayer | None
    _qop: Qop | None
    _ha1: bytes | None

    #: GSS's TOKEN + DATA and STREAM + DATA; the SASL frame as DATA + trailer or as one DATA
    #: ("Protecting Messages Using Microsoft Digest"); and HTTP's further-request shape.
    layouts = frozenset((Layout.TOKEN_DATA, Layout.STREAM_DATA, Layout.DATA_TRAILER,
                         Layout.DATA_ONLY, Layout.HTTP_REQUEST))

    def step(self, inp: StepInput) -> Step:
        """One InitializeSecurityContext / AcceptSecurityContext call."""
        return self._machine.run(lambda: self._event(inp))

    def _event(self, inp: StepInput) -> tuple[Input, tuple[object, ...]]:
        event, payload = self._classify(inp.token)
        return event, (self, payload, inp)

    def _classify(self, token: bytes | None) -> tuple[Input, object]:
        raise NotImplementedError

    def protect(
        self, op: MessageOp, layout: Layout, parts: list[Part], qop: int, seq: int | None
    ) -> MessageResult:
        """Digest's message shapes; the GSS ones go to :func:`~opensspi.message.gss_protect`.

        - HTTP: every MakeSignature authorizes a further request (:meth:`_authorize`).
        - SASL EncryptMessage/DecryptMessage: the RFC 2831 frame is the DATA buffer(s) followed
          by a trailer in a PADDING buffer (or a last DATA buffer); DecryptMessage also takes one
          DATA buffer holding the whole frame, which the package splits.
        """
        if self._mode is _HTTP and op is MessageOp.SIGN:
            return self._authorize(parts, qop)
        if layout is Layout.DATA_TRAILER and op in (MessageOp.ENCRYPT, MessageOp.DECRYPT):
            return self._trailer_frame(op, parts, qop, seq)
        if layout is Layout.DATA_ONLY and op is MessageOp.DECRYPT:
            only = data_indices(parts)[0]
            token, ciphertext = self.split_stream(parts[only].data)
            result = self.decrypt(token, (MessagePart(ciphertext),), seq)
            return MessageResult(qop=result.qop, writes=(Write(only, result.parts[0]),))
        return gss_protect(self, op, layout, parts, qop, seq)

    def _trailer_frame(
        self, op: MessageOp, parts: list[Part], qop: int, seq: int | None
    ) -> MessageResult:
        data = data_indices(parts)
        trailer = first(parts, PartKind.PADDING)
        if trailer is None:
            trailer, data = data[-1], data[:-1]
        if op is MessageOp.ENCRYPT:
            sizes = self.sizes()
            ensure_room(parts[trailer], sizes.max_signature + sizes.block_size)
            sealed = self.encrypt(message_parts(parts, data, True), qop, seq)
            writes = [Write(trailer, sealed.token + sealed.padding)]
            out = sealed.parts
        else:
            unsealed = self.decrypt(parts[trailer].data, message_parts(parts, data, True), seq)
            writes, out = [], unsealed.parts
        writes.extend(
            Write(i, b) for i, b in zip(data, out, strict=True) if parts[i].kind is PartKind.DATA
        )
        return MessageResult(writes=tuple(writes))

    def _authorize(self, parts: list[Part], qop: int) -> MessageResult:
        raise UnsupportedFunction(
            "This Digest context authorizes no HTTP requests; only an HTTP initiator does."
        )

    @property
    def state(self) -> State:
        """The machine's current state (read-only)."""
        return self._machine.state

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def complete(self) -> bool:
        return self._machine.state in _DONE

    @property
    def qop(self) -> Qop | None:
        """The negotiated quality of protection, once known."""
        return self._qop

    @property
    def cipher(self) -> Cipher | None:
        """The SASL cipher of an auth-conf context."""
        return self._layer.cipher if self._layer is not None else None

    @property
    def session_key(self) -> bytes | None:
        """SASL: the binary H(A1) every layer key derives from (RFC 2831 §2.3)."""
        return self._ha1 if self.complete else None

    @property
    def max_message(self) -> int:
        """The largest message one SASL frame may carry (the peer's maxbuf minus overhead)."""
        return self._require_layer().max_message

    def sizes(self) -> Sizes:
        """``SECPKG_ATTR_SIZES``: the 16-byte trailer; CBC ciphers add up to 8 bytes of pad."""
        layer = self._layer
        if layer is None:
            return Sizes(self.info.max_token, 0, 0, 0)
        block = layer.cipher.block_size if layer.cipher is not None else 0
        return Sizes(self.info.max_token, TRAILER, block, TRAILER + (block if block > 1 else 0))

    def _require_layer(self) -> SecurityLayer:
        if self._mode is Mode.HTTP:
            raise UnsupportedFunction(
                "Message protection is available in Digest's SASL mode only; an HTTP context "
                "authorizes requests (MakeSignature with the five HTTP buffers) instead."
            )
        if not self.complete:
            raise InvalidToken(
                "The Digest handshake is not complete; finish it before protecting messages."
            )
        if self._layer is None:
            raise QopNotSupported(
                "This context negotiated qop=auth, which has no security layer; request "
                "INTEGRITY (auth-int) or CONFIDENTIALITY (auth-conf) when initializing it."
            )
        return self._layer

    @staticmethod
    def _check_call(qop: int, seq: int | None) -> None:
        if qop:
            raise QopNotSupported(
                f"Digest takes fQOP 0 (got {qop:#x}); the qop was fixed by the handshake."
            )
        # MessageSeqNo is ignored: "the Digest SSP keeps its own sequence numbers" (Microsoft,
        # "MakeSignature (Digest)"); pywin32's sspi helper passes an increasing value.
        del seq

    def make_signature(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> bytes:
        """MakeSignature (Digest, SASL): the 16-byte trailer for the DATA buffers."""
        layer = self._require_layer()
        self._check_call(qop, seq)
        return layer.sign(b"".join(p.data for p in parts if p.signed))

    def verify_signature(
        self, parts: Sequence[MessagePart], signature: bytes, seq: int | None
    ) -> int:
        """VerifySignature (Digest, SASL); the sequence number must be the next expected."""
        layer = self._require_layer()
        self._check_call(0, seq)
        layer.verify(b"".join(p.data for p in parts if p.signed), signature)
        return 0

    def encrypt(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> Sealed:
        """EncryptMessage (Digest, SASL auth-conf): DATA encrypted in place, trailer separate.

        ``Sealed.token`` is the rest of the RFC 2831 frame (encrypted pad and MAC, 0x0001,
        SeqNum); Windows writes it to the SECBUFFER_PADDING (or second DATA) buffer, and on the
        wire it follows the data.
        """
        layer = self._require_layer()
        if not layer.confidential:
            raise QopNotSupported(
                "EncryptMessage needs qop=auth-conf; this context negotiated auth-int. Use "
                "MakeSignature, or request CONFIDENTIALITY."
            )
        self._check_call(qop, seq)
        for part in parts:
            if part.signed and not part.sealed:
                raise UnsupportedFunction(
                    "Digest cannot sign a buffer without encrypting it; pass it as DATA."
                )
        sealed = [i for i, p in enumerate(parts) if p.sealed]
        frame = layer.seal(b"".join(parts[i].data for i in sealed))
        out = [p.data for p in parts]
        offset = 0
        for i in sealed:
            size = len(parts[i].data)
            out[i] = frame[offset : offset + size]
            offset += size
        return Sealed(frame[offset:], tuple(out))

    def decrypt(self, token: bytes, parts: Sequence[MessagePart], seq: int | None) -> Unsealed:
        """DecryptMessage (Digest, SASL auth-conf): the frame is the DATA followed by ``token``.

        With an empty ``token`` the DATA buffer holds the whole frame, optionally with its
        four-byte SASL length prefix. The plaintext is returned in the first DATA part.
        """
        layer = self._require_layer()
        if not layer.confidential:
            raise QopNotSupported("DecryptMessage needs qop=auth-conf; use VerifySignature.")
        self._check_call(0, seq)
        sealed = [i for i, p in enumerate(parts) if p.sealed]
        frame = b"".join(parts[i].data for i in sealed) + token
        message = layer.unseal(frame if token else _strip_length(frame))
        out = [p.data for p in parts]
        for n, i in enumerate(sealed):
            out[i] = message if n == 0 else b""
        return Unsealed(tuple(out), 0)

    def split_stream(self, stream: bytes) -> tuple[bytes, bytes]:
        """Split a received frame into (trailer, data): the last 16 bytes follow the data.

        An RFC 2222 length prefix is removed first. For auth-conf the split is positional only;
        :meth:`decrypt` joins data and token back into the frame.
        """
        self._require_layer()
        frame = _strip_length(stream)
        if len(frame) < TRAILER:
            raise InvalidToken(
                f"A {len(frame)}-byte stream is shorter than the {TRAILER}-byte Digest trailer."
            )
        return frame[-TRAILER:], frame[:-TRAILER]

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        """One RFC 2831 frame for ``data`` (without the SASL length prefix).

        auth-conf contexts seal; auth-int contexts sign (``encrypt`` cannot add secrecy that
        was not negotiated). ``encrypt=False`` on an auth-conf context signs only.
        """
        layer = self._require_layer()
        if layer.confidential and encrypt:
            return layer.seal(data)
        return data + layer.sign(data)

    def unwrap(self, message: bytes) -> bytes:
        """Check (and decrypt) one frame from the peer, with or without its length prefix."""
        layer = self._require_layer()
        if layer.confidential:
            return layer.unseal(_strip_length(message))
        stripped = _strip_length(message)
        candidates = [stripped, message] if stripped is not message else [message]
        first: SspiError | None = None
        for frame in candidates:
            if len(frame) < TRAILER:
                continue
            try:
                layer.verify(frame[:-TRAILER], frame[-TRAILER:])
            except SspiError as exc:
                first = first or exc
                continue
            return frame[:-TRAILER]
        raise first or InvalidToken(
            f"A {len(message)}-byte message is shorter than the {TRAILER}-byte Digest trailer."
        )


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
        bits = int(req)
        http = bits & _HTTP_REQ != 0
        self._need_integrity = bits & _INT_REQ != 0
        self._need_confidentiality = confidential = bits & _CONF_REQ != 0
        self._allocate = bits & _ALLOC_REQ != 0
        self._env = env
        self._mode = _HTTP if http else _SASL
        if http and confidential:
            raise UnsupportedFunction(
                "ISC_REQ_CONFIDENTIALITY cannot be used with HTTP Digest: HTTP has no "
                "auth-conf. Drop the flag, or use SASL mode."
            )
        if not target or not quotable(target):
            what = "the request URI" if http else "service/host"
            raise InvalidParameter(f"Digest needs a target name: {what}.")
        if not http and "/" not in target.strip("/"):
            raise InvalidParameter(
                f"A SASL Digest target is service/host (e.g. ldap/dc.example.com), "
                f"not {target!r}."
            )
        self._target = _request_uri(target) if http else target
        if cnonce is not None and not quotable(cnonce):
            raise InvalidParameter("The fixed cnonce may not contain control characters.")
        self._fixed_cnonce = cnonce
        self._max_challenge = max_challenge
        self._machine = Machine(
            TABLE, _HTTP_START if http else _SASL_START, _FAILED, "Digest token"
        )

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
        flags = IscRet(0)
        if self._mode is Mode.HTTP:
            flags |= IscRet.USED_HTTP_STYLE
        if self._mutual:
            flags |= IscRet.MUTUAL_AUTH
        if self._mode is Mode.HTTP and self._qop is Qop.AUTH_INT:
            flags |= IscRet.INTEGRITY
        elif self._layer is not None:
            flags |= IscRet.INTEGRITY | IscRet.REPLAY_DETECT | IscRet.SEQUENCE_DETECT
            if self._layer.confidential:
                flags |= IscRet.CONFIDENTIALITY
        return flags

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
        if self._fixed_cnonce is not None:
            return self._fixed_cnonce
        return binascii.b2a_base64(self._env.random(_CNONCE_BYTES), newline=False).decode()

    def _classify(self, token: bytes | str | None) -> tuple[Input, object]:
        if not token:
            return Input.NO_TOKEN, None
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
        request = NextRequest(header_text(method, "method"), target, header_bytes(body, "body"))
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
        self._machine = Machine(TABLE, initial, _FAILED, "Digest token")

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
        flags = AscRet(0)
        if self._mode is Mode.HTTP and self._qop is Qop.AUTH_INT:
            flags |= AscRet.INTEGRITY
        elif self._layer is not None:
            flags |= AscRet.INTEGRITY | AscRet.REPLAY_DETECT | AscRet.SEQUENCE_DETECT
            if self._layer.confidential:
                flags |= AscRet.CONFIDENTIALITY
        return flags

    @property
    def client_name(self) -> str | None:
        """The authenticated user name (the plain name, also when userhash was used)."""
        return self._user

    @property
    def server_name(self) -> str | None:
        return self._realm

    def _now(self) -> int:
        return int(self._env.now().timestamp())

    def _new_nonce(self) -> str:
        if self._fixed_nonce is not None and self._issued is None:
            nonce = self._fixed_nonce
        else:
            key = self._acceptor.nonce_key(self._env.random)
            nonce = crypto.make_nonce(key, self._now(), self._env.random(9))
        self._issued = (nonce, self._now())
        return nonce

    def _nonce_issued(self, nonce: str) -> int | None:
        """When ``nonce`` was issued by this context or any acceptor with the same key."""
        if self._issued is not None and _same_text(self._issued[0], nonce):
            return self._issued[1]
        return crypto.check_nonce(self._acceptor.nonce_key(self._env.random), nonce)

    def _classify(self, token: bytes | str | None) -> tuple[Input, object]:
        if not token:
            return Input.NO_TOKEN, None
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


# -- handlers: initiator -------------------------------------------------------------------------


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
    method = _text_param(params, 0, "method")
    if method is None:
        raise InsufficientBuffers(
            "HTTP Digest needs the request method (e.g. GET) in the first SECBUFFER_PKG_PARAMS "
            "buffer."
        )
    body = params[1] if len(params) > 1 else b""
    ctx.channel_bindings = inp.channel_bindings
    value, ctx._first = _first_authorization(
        ctx._client, challenge, alg, qop, ctx._cnonce(), method, ctx._target, body
    )
    ctx._http = None
    ctx._qop = qop
    ctx._mutual = False
    return Step(_OK, ctx._finish_token(value))


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

TABLE: Final[dict[tuple[State, Input], tuple[Handler, State]]] = {
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
