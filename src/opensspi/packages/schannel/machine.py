"""The Schannel context: TLS through InitializeSecurityContext / AcceptSecurityContext and the
stream message functions, as one state machine over a TLS engine.

Rules for this file:

- The transitions are the one table ``TRANSITIONS``; only the
  :class:`~opensspi.statemachine.Machine` assigns the state. Handshake legs, DecryptMessage,
  EncryptMessage and the control tokens are all events of that table.
- Record framing is ours (:mod:`.records`): the engine sees whole records only, so MISSING and
  EXTRA are exact and nothing hides inside OpenSSL. ``SEC_E_INCOMPLETE_MESSAGE`` consumes nothing.
- Engine failures become the mapped ``SEC_E_*`` with the alert the engine queued attached as a
  SECBUFFER_ALERT token; the machine is then FAILED (TLS errors are fatal).
- No I/O, no clock except ``Environment.now`` (session-cache expiry).

The contract: "InitializeSecurityContext (Schannel)", "AcceptSecurityContext (Schannel)",
"EncryptMessage (Schannel)", "DecryptMessage (Schannel)", "Shutting Down an Schannel Connection"
and "Recognizing a Request to Renegotiate a Connection" in the Windows documentation; reference
schannel.md §C.2-C.5 and §D.3.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import Enum, auto
from typing import NamedTuple

from ...buffers import SecBuffer
from ...constants import (
    SCHANNEL_ALERT,
    SCHANNEL_RENEGOTIATE,
    SCHANNEL_SESSION,
    SCHANNEL_SHUTDOWN,
    SEC_APPLICATION_PROTOCOL_NEGOTIATION_EXT_ALPN,
    SSL_SESSION_DISABLE_RECONNECTS,
    SSL_SESSION_ENABLE_RECONNECTS,
    SSL_SESSION_RECONNECT,
    AscReq,
    AscRet,
    IscReq,
    IscRet,
    SchCred,
    SecBufferType,
    SecPkgAttr,
    SecStatus,
)
from ...errors import (
    BufferTooSmall,
    DecodeError,
    IncompleteMessage,
    InvalidParameter,
    InvalidToken,
    NoCredentials,
    SspiError,
    UnsupportedFunction,
    error_for,
)
from ...message import (
    Layout,
    MessageOp,
    MessageResult,
    Part,
    PartKind,
    StreamSizes,
    Write,
    first,
)
from ...provider import Environment, PackageInfo, SecurityContext, Step, StepInput
from ...statemachine import Choice, Machine
from . import records
from .attributes import (
    ApplicationProtocol,
    IssuerListEx,
    KeyingMaterial,
    KeyingMaterialInfo,
    SessionInfo,
    Suite,
    bindings,
    endpoint_hash,
)
from .credentials import CertContext, SchannelCredential
from .engine import Engine, EngineError, Progress, StdlibEngine, stdlib_context


class State(Enum):
    """What the context expects next."""

    # Members are singletons compared by identity: hash them the same way, in C, instead of
    # Enum's ``hash(self._name_)`` in Python, since the machine looks (state, event) up on
    # every message call.
    __hash__ = object.__hash__

    CLIENT_START = auto()  # the first ISC call: send a ClientHello
    SERVER_START = auto()  # the first ASC call: a ClientHello
    HANDSHAKE = auto()  # handshake records
    AWAIT_CREDENTIALS = auto()  # paused on a CertificateRequest (SEC_I_INCOMPLETE_CREDENTIALS)
    OPEN = auto()  # the data phase
    PEER_CLOSED = auto()  # the peer's close_notify arrived
    SHUTDOWN_PENDING = auto()  # ApplyControlToken(SCHANNEL_SHUTDOWN): next ISC/ASC sends it
    CLOSED = auto()  # our close_notify went out
    FAILED = auto()


class Input(Enum):
    """The events of the table."""

    __hash__ = object.__hash__  # see State

    START = auto()  # the client's first call
    RECORDS = auto()  # an ISC/ASC call with an input token
    POLL = auto()  # an ISC/ASC call without input on an established context
    DECRYPT = auto()
    UNWRAP = auto()  # the Pythonic fast path: many whole records at once
    ENCRYPT = auto()  # the Pythonic wrap: any length, as many records as it takes
    ENCRYPT_RECORD = auto()  # EncryptMessage: one record, cut into header, body and trailer
    SHUTDOWN = auto()  # the control token


_STREAM_HEADER = int(SecBufferType.STREAM_HEADER)
_STREAM_TRAILER = int(SecBufferType.STREAM_TRAILER)
_DATA = int(SecBufferType.DATA)
_EMPTY = int(SecBufferType.EMPTY)
_MISSING = int(SecBufferType.MISSING)
_EXTRA = int(SecBufferType.EXTRA)
_ENCRYPT = MessageOp.ENCRYPT
_DECRYPT = MessageOp.DECRYPT
_OK = SecStatus.SEC_E_OK
_INCOMPLETE = SecStatus.SEC_E_INCOMPLETE_MESSAGE
_OK_RESULT = MessageResult()
_RESULTS = {status: MessageResult(status) for status in (
    SecStatus.SEC_E_OK, SecStatus.SEC_E_INCOMPLETE_MESSAGE, SecStatus.SEC_I_CONTEXT_EXPIRED,
    SecStatus.SEC_I_RENEGOTIATE)}
_CONTINUE = SecStatus.SEC_I_CONTINUE_NEEDED
_PEER_CLOSED = State.PEER_CLOSED
_OPEN = State.OPEN
_IN_HANDSHAKE = State.HANDSHAKE
_CLIENT_START = State.CLIENT_START
_SERVER_START = State.SERVER_START
_FAILED = State.FAILED
_RECORDS = Input.RECORDS
_DONE = Progress.DONE
_RECORD_TYPES = frozenset(int(t) for t in records.ContentType)
_DATA_PHASE = (State.OPEN, State.PEER_CLOSED, State.SHUTDOWN_PENDING, State.CLOSED)
_U32 = struct.Struct("<I")
_ISC_RET = int(IscRet.REPLAY_DETECT | IscRet.SEQUENCE_DETECT | IscRet.CONFIDENTIALITY
               | IscRet.STREAM)
_ASC_RET = int(AscRet.REPLAY_DETECT | AscRet.SEQUENCE_DETECT | AscRet.CONFIDENTIALITY
               | AscRet.STREAM)
# Plain ints: IntFlag arithmetic builds an enum per operation, on every ISC/ASC call.
_REQ_EXTENDED_ERROR = int(IscReq.EXTENDED_ERROR)
_ASC_REQ_EXTENDED_ERROR = int(AscReq.EXTENDED_ERROR)
_REQ_MANUAL = int(IscReq.MANUAL_CRED_VALIDATION)
_REQ_SUPPLIED = int(IscReq.USE_SUPPLIED_CREDS)
_REQ_UNVERIFIED = int(IscReq.UNVERIFIED_TARGET_NAME)
_ASC_MUTUAL = int(AscReq.MUTUAL_AUTH)
_DISABLE_RECONNECTS = int(SchCred.DISABLE_RECONNECTS)


_SUITES: dict[tuple[str, str, int], tuple[Suite, StreamSizes]] = {}


def _suite_of(name: str, version: str, bits: int) -> tuple[Suite, StreamSizes]:
    """The suite and its STREAM_SIZES, made once per (suite, version, bits): a process sees a
    handful, and every handshake asks (at most 64 remembered)."""
    key = (name, version, bits)
    found = _SUITES.get(key)
    if found is None:
        suite = Suite(name, version, bits)
        found = (suite, suite.stream_sizes())
        if len(_SUITES) >= 64:
            _SUITES.clear()
        _SUITES[key] = found
    return found


class Opened(NamedTuple):
    """One record DecryptMessage handled: the status, the bytes the record took, its plaintext
    and header size, and MISSING when it was not whole. (A NamedTuple: one is made per record,
    and a tuple is built in C where a frozen dataclass sets each field in Python.)"""

    status: SecStatus
    size: int = 0
    plain: bytes = b""
    header: int = 0
    missing: int = 0


def parse_application_protocols(blob: bytes) -> tuple[bytes, ...]:
    """``SEC_APPLICATION_PROTOCOLS`` (sspi.h; reference §C.4): the ALPN ids it lists.

    Each ``SEC_APPLICATION_PROTOCOL_LIST`` is ``u32 ProtoNegoExt, u16 size, u8 list[size]`` with
    the list in ALPN wire form; NPN lists are ignored (OpenSSL's NPN is gone).
    """
    if len(blob) < 4:
        raise DecodeError("SEC_APPLICATION_PROTOCOLS is shorter than its size field")
    total = _U32.unpack_from(blob)[0]
    if 4 + total > len(blob):
        raise DecodeError("SEC_APPLICATION_PROTOCOLS claims more bytes than the buffer holds")
    at, end = 4, 4 + total
    ids: list[bytes] = []
    while at < end:
        if end - at < 6:
            raise DecodeError("truncated SEC_APPLICATION_PROTOCOL_LIST")
        ext = _U32.unpack_from(blob, at)[0]
        size = int.from_bytes(blob[at + 4:at + 6], "little")
        body = blob[at + 6:at + 6 + size]
        if len(body) != size:
            raise DecodeError("truncated SEC_APPLICATION_PROTOCOL_LIST")
        at += 6 + size
        if ext != SEC_APPLICATION_PROTOCOL_NEGOTIATION_EXT_ALPN:
            continue
        i = 0
        while i < len(body):
            n = body[i]
            if n == 0 or i + 1 + n > len(body):
                raise DecodeError("malformed ALPN protocol list")
            ids.append(bytes(body[i + 1:i + 1 + n]))
            i += 1 + n
    return tuple(ids)


def application_protocols(ids: list[str | bytes]) -> bytes:
    """Build ``SEC_APPLICATION_PROTOCOLS`` for ALPN ``ids`` (what a Windows client passes)."""
    wire = b"".join(bytes((len(p),)) + p for p in
                    (i.encode() if isinstance(i, str) else bytes(i) for i in ids))
    lst = _U32.pack(SEC_APPLICATION_PROTOCOL_NEGOTIATION_EXT_ALPN) + \
        len(wire).to_bytes(2, "little") + wire
    return _U32.pack(len(lst)) + lst


class SchannelContext(SecurityContext):
    """One TLS connection, client or server."""

    layouts = frozenset((Layout.RECORD, Layout.DATA_ONLY))
    continues_after_complete = True

    # Every connection starts with these; an instance assigns its own only when one changes
    # (a context is made per connection, and most of these never change).
    _engine: Engine | None = None
    _suite: Suite | None = None
    _sizes: StreamSizes | None = None
    _header = records.HEADER_SIZE  # the record header as STREAM_SIZES gives it
    _pending_out = b""
    _renegotiating = False
    _paused_input = b""
    _paused_used = 0
    _supplied_used = False
    _cache_key: tuple[str, int] | None = None
    _ekm: KeyingMaterialInfo | None = None
    _open_once = False
    _held_plain = b""

    def __init__(self, info: PackageInfo, credential: SchannelCredential, is_client: bool,
                 request: int, target: str | None, env: Environment) -> None:
        self.info = info
        self.is_client = is_client
        self._cred = credential
        policy = self._policy = credential.policy
        self._request = request
        self._target = target
        self._env = env
        self._reconnects = not int(policy.flags) & _DISABLE_RECONNECTS
        self._machine: Machine[State, Input, object] = Machine(
            TRANSITIONS, _CLIENT_START if is_client else _SERVER_START, _FAILED, "TLS record")

    # -- the SecurityContext interface -------------------------------------------------------

    @property
    def state(self) -> State:
        return self._machine.state

    @property
    def complete(self) -> bool:
        # Once established, a context stays "complete" even after a fatal error, so message
        # calls reach the machine and get its SEC_E_CONTEXT_EXPIRED ("failed earlier").
        return self._open_once or self._machine.state in _DATA_PHASE

    @property
    def flags(self) -> int:
        if self.is_client:
            value = _ISC_RET
            if self._request & _REQ_EXTENDED_ERROR:
                value |= _REQ_EXTENDED_ERROR  # ISC_RET_EXTENDED_ERROR: the same bit
            if self._request & _REQ_MANUAL:
                value |= _REQ_MANUAL  # ISC_RET_MANUAL_CRED_VALIDATION: the same bit
            if self._supplied_used:
                value |= int(IscRet.USED_SUPPLIED_CREDS)
            return value
        value = _ASC_RET
        if self._request & _ASC_REQ_EXTENDED_ERROR:
            value |= int(AscRet.EXTENDED_ERROR)
        if self._engine is not None and self.complete and self._engine.peer_certificate():
            value |= AscRet.MUTUAL_AUTH
        return value

    @property
    def server_name(self) -> str | None:
        return self._target

    @property
    def client_name(self) -> str | None:
        if self.is_client:
            cert = self._policy.certificate
            return cert.subject if cert is not None else None
        der = self._engine.peer_certificate() if self._engine is not None else None
        return CertContext(der).subject if der else None

    def step(self, inp: StepInput) -> Step:
        machine = self._machine
        state = machine.state
        if state is _IN_HANDSHAKE or state is _SERVER_START:
            # _classify's answer for a handshake leg, without the classify call.
            if inp.request is not None:
                self._request = inp.request
            result = machine.fire(_RECORDS, self, inp.token or b"", inp)
        else:
            result = machine.run(self._classify, inp)
        assert isinstance(result, Step)
        return result

    def _classify(self, inp: StepInput) -> tuple[Input, tuple[object, ...]]:
        if inp.request is not None:
            self._request = inp.request  # each ISC/ASC call's fContextReq counts
        state = self._machine.state
        if state is State.CLIENT_START:
            return Input.START, (self, inp)
        if state is State.SERVER_START:
            return Input.RECORDS, (self, inp.token or b"", inp)
        if state in _DATA_PHASE and not inp.token:
            return Input.POLL, (self, b"", inp)
        return Input.RECORDS, (self, inp.token or b"", inp)

    # -- engine set-up -----------------------------------------------------------------------

    def _alpn(self, inp: StepInput) -> tuple[bytes, ...]:
        ids: tuple[bytes, ...] = ()
        for kind, data in inp.buffers:
            if kind == SecBufferType.APPLICATION_PROTOCOLS:
                ids += parse_application_protocols(data)
        return ids

    def _make_engine(self, inp: StepInput) -> Engine:
        alpn = self._alpn(inp) if inp.buffers else ()
        if self._policy.engine == "pyopenssl":
            from .engine_pyopenssl import PyOpenSslEngine

            return PyOpenSslEngine.create(self._cred, self.is_client, self._request,
                                          self._target, alpn, self.cached_session)
        if self.is_client:
            manual = self._policy.manual_validation or bool(
                self._request & _REQ_MANUAL)
            check = (self._policy.check_name and self._target is not None
                     and not self._request & _REQ_UNVERIFIED)
            ctx = stdlib_context(self._cred, False, manual=manual, check_name=check,
                                 mutual=False, alpn=alpn)
            return StdlibEngine(ctx, False, self._target or None,
                                self.cached_session(id(ctx)))
        mutual = bool(self._request & _ASC_MUTUAL)
        ctx = stdlib_context(self._cred, True, manual=False, check_name=False, mutual=mutual,
                             alpn=alpn)
        return StdlibEngine(ctx, True, None, None)

    def cached_session(self, ctx_id: int) -> object | None:
        """The session cached for this target and credential (ISC (Schannel): "the target name,
        the credential handle", unexpired), or None."""
        if self._target is None or not self._reconnects:
            return None
        self._cache_key = (self._target, ctx_id)
        found = self._cred.sessions.get(self._cache_key)
        if found is None:
            return None
        session, expiry = found
        if self._env.now().timestamp() >= expiry:
            del self._cred.sessions[self._cache_key]
            return None
        return session

    def _remember_session(self) -> None:
        engine = self._engine
        if engine is None or not self.is_client or self._cache_key is None:
            return
        if not self._reconnects:
            self._cred.sessions.pop(self._cache_key, None)
            return
        session = engine.session()
        if session is not None:
            expiry = (self._env.now() + self._policy.session_lifespan).timestamp()
            self._cred.sessions[self._cache_key] = (session, expiry)

    def _failure(self, exc: EngineError) -> SspiError:
        """The SspiError for an engine failure, carrying the alert the engine queued."""
        err = error_for(exc.status, exc.message)
        alert = self._engine.take() if self._engine is not None else b""
        err.token = alert
        err.token_type = SecBufferType.ALERT
        return err

    # -- handshake handlers ------------------------------------------------------------------

    def _start(self, inp: StepInput) -> Step:
        self._engine = self._make_engine(inp)
        try:
            self._engine.handshake()
        except EngineError as exc:
            raise self._failure(exc) from None
        return Step(SecStatus.SEC_I_CONTINUE_NEEDED, self._engine.take())

    def _handshake(self, data: bytes, inp: StepInput) -> Choice[State, Step]:
        if self._engine is None:
            self._engine = self._make_engine(inp)
        return self._feed_handshake(data)

    def _feed_handshake(self, data: bytes) -> Choice[State, Step]:
        engine = self._engine
        assert engine is not None
        whole, missing = records.span(data)
        if not whole:
            return Choice(Step(_INCOMPLETE, missing=missing), self._machine.state)
        at = 0
        progress = Progress.WANT_READ
        try:
            if engine.reclaims_input:
                # All whole records at once; what OpenSSL left unread (it reads record by
                # record, without read-ahead) comes back out and is the EXTRA.
                engine.feed(data if whole == len(data) else memoryview(data)[:whole])
                progress = engine.handshake()
                at = whole - len(engine.unread())
            else:
                for end in records.frame(data).ends:
                    engine.feed(data[at:end])
                    at = end
                    progress = engine.handshake()
                    if progress is not Progress.WANT_READ:
                        break
        except EngineError as exc:
            raise self._failure(exc) from None
        token = engine.take()
        extra = data[at:]
        if progress is _DONE:
            self._established()
            return Choice(Step(_OK, token, extra), _OPEN)
        if progress is Progress.WANT_CERTIFICATE:
            if self._request & _REQ_SUPPLIED:
                self._supplied_used = True
                return self._resume_with(None, token, data[at:])
            self._paused_input = data
            self._paused_used = at
            return Choice(Step(SecStatus.SEC_I_INCOMPLETE_CREDENTIALS, token, extra=extra),
                          State.AWAIT_CREDENTIALS)
        return Choice(Step(_CONTINUE, token, extra), _IN_HANDSHAKE)

    def _resume(self, data: bytes, inp: StepInput) -> Choice[State, Step]:
        """After SEC_I_INCOMPLETE_CREDENTIALS: curl passes the same input again, others only the
        EXTRA bytes; the prefix already fed is dropped either way."""
        if data.startswith(self._paused_input) and self._paused_input:
            data = data[self._paused_used:]
        cert = self._policy.certificate
        if cert is None and not self._request & _REQ_SUPPLIED:
            raise NoCredentials(
                "The server asked for a client certificate: call InitializeSecurityContext "
                "with a credential whose paCred holds one, or with ISC_REQ_USE_SUPPLIED_CREDS "
                "to go on without."
            )
        self._supplied_used = cert is None
        return self._resume_with(cert, b"", data)

    def _resume_with(self, cert: CertContext | None, token: bytes,
                     data: bytes) -> Choice[State, Step]:
        engine = self._engine
        assert engine is not None
        try:
            engine.supply_certificate(cert)
            progress = engine.handshake()
        except EngineError as exc:
            raise self._failure(exc) from None
        token += engine.take()
        if progress is Progress.DONE and not data:
            self._established()
            return Choice(Step(SecStatus.SEC_E_OK, token), State.OPEN)
        if not data:
            return Choice(Step(SecStatus.SEC_I_CONTINUE_NEEDED, token), State.HANDSHAKE)
        rest = self._feed_handshake(data)
        step = rest.result
        return Choice(Step(step.status, token + step.token, step.extra, step.missing),
                      rest.state)

    def credential_changed(self, credential: object) -> None:
        """ISC after SEC_I_INCOMPLETE_CREDENTIALS may pass a credential that has a certificate
        (ISC (Schannel): "the client can ... acquire new credentials")."""
        if isinstance(credential, SchannelCredential) and \
                self._machine.state is State.AWAIT_CREDENTIALS:
            self._cred = credential
            self._policy = credential.policy

    def _established(self) -> None:
        engine = self._engine
        assert engine is not None
        cipher = engine.cipher()
        if cipher:
            self._suite, sizes = _suite_of(cipher[0], engine.version() or "", cipher[2])
            self._sizes = sizes
            self._header = sizes.header
        else:
            self._suite = self._sizes = None
            self._header = records.HEADER_SIZE
        self._open_once = True
        if self.is_client:
            self._remember_session()

    def _post_handshake(self, data: bytes, inp: StepInput) -> Step:
        """ISC/ASC in the data phase, after DecryptMessage returned SEC_I_RENEGOTIATE: send what
        the engine owes the peer (a KeyUpdate answer, a renegotiation's ClientHello) and, during
        a TLS 1.2 renegotiation, feed the peer's handshake records.

        Outside a renegotiation nothing is fed: the input (the EXTRA of DecryptMessage) is
        application data and goes back as EXTRA, so the engine never holds it.
        """
        engine = self._engine
        assert engine is not None
        try:
            engine.flush()
            token = self._pending_out + engine.take()
            self._pending_out = b""
            if not self._renegotiating:
                self._remember_session()
                return Step(SecStatus.SEC_E_OK, token, extra=data)
            if not data:
                return Step(SecStatus.SEC_I_CONTINUE_NEEDED, token)
            framing = records.frame(data)
            if not framing.ends:
                return Step(SecStatus.SEC_E_INCOMPLETE_MESSAGE, token, missing=framing.missing)
            at = 0
            progress = Progress.WANT_READ
            for end in framing.ends:
                kind = data[at]
                engine.feed(data[at:end])
                at = end
                if kind == records.ContentType.APPLICATION_DATA:
                    # RFC 5246 §7.4.1.1: application data may still arrive before the peer's
                    # ServerHello. It is read now and handed out by the next DecryptMessage.
                    plain = engine.read()
                    self._held_plain += plain or b""
                    continue
                progress = engine.handshake()
                if progress is Progress.DONE:
                    break
        except EngineError as exc:
            raise self._failure(exc) from None
        token += engine.take()
        if progress is Progress.DONE:
            self._renegotiating = False
            self._established()
            return Step(SecStatus.SEC_E_OK, token, extra=data[at:])
        return Step(SecStatus.SEC_I_CONTINUE_NEEDED, token, extra=data[at:])

    def _shutdown(self) -> None:
        """ApplyControlToken(SCHANNEL_SHUTDOWN): remember; the next ISC/ASC sends it."""

    def _close_notify(self, data: bytes, inp: StepInput) -> Step:
        engine = self._engine
        assert engine is not None
        try:
            engine.shutdown()
        except EngineError as exc:
            raise self._failure(exc) from None
        return Step(SecStatus.SEC_E_OK, self._pending_out + engine.take())

    # -- message handlers --------------------------------------------------------------------

    def _decrypt(self, data: bytes) -> Choice[State, Opened]:
        """One record (DecryptMessage (Schannel): "one record per call")."""
        state = self._machine.state
        if self._held_plain:
            # Deviation: data read during a TLS 1.2 renegotiation's ISC calls (Windows' own
            # behaviour there is undocumented) comes out here, consuming no input.
            held, self._held_plain = self._held_plain, b""
            return Choice(Opened(SecStatus.SEC_E_OK, 0, held, 0), state)
        have = len(data)
        size = 0
        if have >= 5:  # records.first_record, inlined for a well-formed header
            length = (data[3] << 8) | data[4]
            if data[1] == 3 and data[0] in _RECORD_TYPES and length <= records.MAX_CIPHERTEXT:
                size = 5 + length
        if not size or size > have:
            size, missing = records.first_record(data)  # the count, or the DecodeError
            if not size:
                return Choice(Opened(_INCOMPLETE, missing=missing), state)
        engine = self._engine
        assert engine is not None
        if state is _PEER_CLOSED:
            return Choice(Opened(SecStatus.SEC_I_CONTEXT_EXPIRED), state)
        try:
            plain = engine.open_record(memoryview(data)[:size] if size < have else data)
        except EngineError as exc:
            raise self._failure(exc) from None
        if plain:
            return Choice(Opened(_OK, size, plain, self._header), state)
        if plain is None:
            # A record with nothing for the application: a post-handshake message (TLS 1.3
            # NewSessionTicket, KeyUpdate; TLS 1.2 HelloRequest). "Your application must call
            # InitializeSecurityContext" — whatever the engine owes the peer waits for that call.
            if data[0] == records.ContentType.HANDSHAKE:
                self._renegotiating = True
            try:
                engine.flush()
            except EngineError as exc:
                raise self._failure(exc) from None
            self._pending_out += engine.take()
            return Choice(Opened(SecStatus.SEC_I_RENEGOTIATE, size), state)
        # b"": the peer's close_notify
        closed = State.CLOSED if state in (State.CLOSED, State.SHUTDOWN_PENDING) \
            else State.PEER_CLOSED
        return Choice(Opened(SecStatus.SEC_I_CONTEXT_EXPIRED, size), closed)

    def _writable_engine(self) -> Engine:
        """The engine, with whatever it already had to send moved to ``_pending_out`` first, so
        that the next output holds only the records of the data written now."""
        engine = self._engine
        assert engine is not None
        waiting = engine.take()
        if waiting:
            self._pending_out += waiting
        return engine

    def _encrypt(self, data: bytes | memoryview) -> bytes:
        engine = self._writable_engine()
        try:
            engine.write(data)
        except EngineError as exc:
            raise self._failure(exc) from None
        return engine.take()

    def _encrypt_record(self, data: bytes, header: int) -> tuple[bytes, bytes, bytes]:
        """EncryptMessage: one record, cut into its STREAM_HEADER, DATA and STREAM_TRAILER."""
        engine = self._writable_engine()
        try:
            return engine.write_record(data, header)
        except EngineError as exc:
            raise self._failure(exc) from None

    # -- the sspi layer's message entry ------------------------------------------------------

    def stream_sizes(self) -> StreamSizes:
        if self._sizes is None:
            raise UnsupportedFunction(
                "SECPKG_ATTR_STREAM_SIZES is known once the handshake has completed."
            )
        return self._sizes

    def stream_message(self, op: MessageOp, bufs: list[SecBuffer]) -> MessageResult | None:
        """The two shapes every stream caller passes, straight onto the record handlers:
        EncryptMessage's ``[STREAM_HEADER, DATA, STREAM_TRAILER, EMPTY]`` and DecryptMessage's
        ``[DATA, EMPTY, EMPTY, EMPTY]``.

        The buffers, statuses and state changes are exactly those of :meth:`protect` through
        :func:`opensspi.protection.protect` (EXTRA in the first EMPTY buffer nothing else took,
        MISSING in the first EMPTY one), without building parts, writes and a result on every
        16 KiB record. Any other shape, and anything the general path has to explain (a buffer
        too small, a message too long), returns None having changed nothing.
        """
        a, b, c, d = bufs
        if op is _DECRYPT:
            if (a.BufferType != _DATA or b.BufferType != _EMPTY or c.BufferType != _EMPTY
                    or d.BufferType != _EMPTY):
                return None
            data = a.buffer
            opened = self._machine.fire(Input.DECRYPT, self, data)
            assert isinstance(opened, Opened)
            status = opened.status
            if status is _INCOMPLETE:
                b.BufferType = _MISSING
                b.set_count(opened.missing)
                return _RESULTS[status]
            size = opened.size
            extra = data[size:] if size < len(data) else b""
            a.BufferType = _STREAM_HEADER
            if status is not _OK:
                a.buffer = data[:size]
                if extra:
                    b.BufferType = _EXTRA
                    b.buffer = extra
                return _RESULTS[status]
            head = opened.header
            plain = opened.plain
            a.buffer = data[:head]
            b.BufferType = _DATA
            b.buffer = plain
            c.BufferType = _STREAM_TRAILER
            c.buffer = data[head + len(plain):size]
            if extra:
                d.BufferType = _EXTRA
                d.buffer = extra
            return _OK_RESULT
        if (op is not _ENCRYPT or a.BufferType != _STREAM_HEADER or b.BufferType != _DATA
                or c.BufferType != _STREAM_TRAILER or d.BufferType != _EMPTY):
            return None
        sizes = self._sizes
        data = b.buffer
        if (sizes is None or len(data) > sizes.max_message or a.cbBuffer < sizes.header
                or c.cbBuffer < sizes.trailer):
            return None
        cut = self._machine.fire(Input.ENCRYPT_RECORD, self, data, sizes.header)
        assert isinstance(cut, tuple)
        head, body, trailer = cut
        a.fill(head, False)
        b.buffer = body
        c.fill(trailer, False)
        return _OK_RESULT

    def protect(self, op: MessageOp, layout: Layout, parts: list[Part], qop: int,
                seq: int | None) -> MessageResult:
        if op is MessageOp.ENCRYPT and layout is Layout.RECORD:
            return self._encrypt_message(parts)
        if op is MessageOp.DECRYPT and layout is Layout.DATA_ONLY:
            return self._decrypt_message(parts)
        raise InvalidToken(
            "Schannel takes EncryptMessage as [STREAM_HEADER, DATA, STREAM_TRAILER, EMPTY] and "
            "DecryptMessage as [DATA, EMPTY, EMPTY, EMPTY]; MakeSignature/VerifySignature are "
            "not supported."
        )

    def _encrypt_message(self, parts: list[Part]) -> MessageResult:
        sizes = self.stream_sizes()
        h = d = t = None
        for index, part in enumerate(parts):
            kind = part.kind
            if kind is PartKind.HEADER and h is None:
                h = index
            elif kind is PartKind.DATA and d is None:
                d = index
            elif kind is PartKind.TRAILER and t is None:
                t = index
        if h is None or d is None or t is None:
            raise InvalidToken("EncryptMessage needs STREAM_HEADER, DATA and STREAM_TRAILER.")
        data = parts[d].data
        if len(data) > sizes.max_message:
            raise InvalidParameter(
                f"EncryptMessage makes one record of at most cbMaximumMessage = "
                f"{sizes.max_message} bytes; split the {len(data)} bytes over several calls."
            )
        for index, need, name in ((h, sizes.header, "STREAM_HEADER"),
                                  (t, sizes.trailer, "STREAM_TRAILER")):
            room = parts[index].room
            if room is not None and room < need:
                raise BufferTooSmall(
                    f"The {name} buffer holds {room} bytes; SECPKG_ATTR_STREAM_SIZES says "
                    f"{need}.")
        cut = self._machine.fire(Input.ENCRYPT_RECORD, self, data, sizes.header)
        assert isinstance(cut, tuple)
        head, body, trailer = cut
        return MessageResult(writes=(Write(h, head), Write(d, body), Write(t, trailer)))

    def _decrypt_message(self, parts: list[Part]) -> MessageResult:
        d = first(parts, PartKind.DATA)
        empties = [i for i, p in enumerate(parts) if p.kind is PartKind.EMPTY]
        if d is None or len(empties) < 3:
            raise InvalidToken(
                "DecryptMessage (Schannel) takes [DATA, EMPTY, EMPTY, EMPTY]: the received "
                "bytes in DATA and three EMPTY buffers for header, trailer and EXTRA."
            )
        data = parts[d].data
        opened = self._machine.fire(Input.DECRYPT, self, data)
        assert isinstance(opened, Opened)
        if opened.status is SecStatus.SEC_E_INCOMPLETE_MESSAGE:
            return MessageResult(opened.status, missing=opened.missing)
        size = opened.size
        extra = data[size:] if size < len(data) else b""
        if opened.status is not SecStatus.SEC_E_OK:
            return MessageResult(opened.status, writes=(
                Write(d, data[:size], buffer_type=SecBufferType.STREAM_HEADER),), extra=extra)
        end = opened.header + len(opened.plain)
        return MessageResult(writes=(
            Write(d, data[:opened.header], buffer_type=_STREAM_HEADER),
            Write(empties[0], opened.plain, buffer_type=_DATA, allocate=True),
            Write(empties[1], data[end:size], buffer_type=_STREAM_TRAILER, allocate=True),
        ), extra=extra)

    # -- the Pythonic fast path --------------------------------------------------------------

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        """``data`` as TLS records: the engine cuts it into 2^14-byte records in one call."""
        if not encrypt:
            raise UnsupportedFunction("TLS has no sign-only records.")
        # bytes or a memoryview: the engine reads it in place (no copy of a large buffer)
        out = self._machine.fire(Input.ENCRYPT, self,
                                 data if isinstance(data, (bytes, memoryview)) else bytes(data))
        assert isinstance(out, bytes)
        return out

    def unwrap(self, message: bytes) -> bytes:
        """The plaintext of whole records, all handed to the engine at once (the fast path;
        DecryptMessage keeps Windows' one record per call). Post-handshake records are absorbed
        (their answer waits in :meth:`pending_output`); a close_notify ends the walk.

        Raises:
            IncompleteMessage: ``message`` ends inside a record (``.missing`` bytes short);
                nothing was consumed.
        """
        opened = self._machine.fire(
            Input.UNWRAP, self,
            message if isinstance(message, (bytes, memoryview)) else bytes(message))
        assert isinstance(opened, Opened)
        if opened.status is SecStatus.SEC_E_INCOMPLETE_MESSAGE:
            err = IncompleteMessage(
                f"The message ends inside a TLS record; {opened.missing} more bytes needed.")
            err.missing = opened.missing  # type: ignore[attr-defined]
            raise err
        return opened.plain

    def _unwrap(self, data: bytes | memoryview) -> Choice[State, Opened]:
        state = self._machine.state
        suite = self._suite
        # One walk over the headers: TLS 1.3 needs only the span (it has no renegotiation),
        # TLS 1.2 also the record starts, to notice a HelloRequest among them.
        tls12 = suite is not None and not suite.tls13
        if tls12:
            framing = records.frame(data)
            whole, missing = framing.whole, framing.missing
        else:
            whole, missing = records.span(data)
        if missing and whole < len(data):
            return Choice(Opened(_INCOMPLETE, missing=missing), state)
        engine = self._engine
        assert engine is not None
        held = self._held_plain
        if held:
            self._held_plain = b""
        engine.feed(data)
        try:
            out, closed = engine.read_all()
            if held:
                out.insert(0, held)
            if tls12 and any(data[at] == records.ContentType.HANDSHAKE
                             for at in (0, *framing.ends[:-1])):
                self._renegotiating = True
            engine.flush()
        except EngineError as exc:
            raise self._failure(exc) from None
        self._pending_out += engine.take()
        if closed:
            state = State.CLOSED if state in (State.CLOSED, State.SHUTDOWN_PENDING) \
                else State.PEER_CLOSED
        status = SecStatus.SEC_I_CONTEXT_EXPIRED if closed else _OK
        return Choice(Opened(status, len(data), out[0] if len(out) == 1 else b"".join(out)),
                      state)

    def pending_output(self) -> bytes:
        """Bytes owed to the peer outside EncryptMessage (a KeyUpdate answer); the Pythonic
        equivalent of the ISC call after SEC_I_RENEGOTIATE. Nothing once a side has closed."""
        if self._machine.state is not State.OPEN:
            return b""
        return self.step(StepInput()).token

    @property
    def peer_closed(self) -> bool:
        return self._machine.state in (State.PEER_CLOSED, State.CLOSED)

    # -- control tokens and attributes -------------------------------------------------------

    def apply_control_token(self, token: bytes) -> None:
        if len(token) < 4:
            raise InvalidToken("A Schannel control token starts with a DWORD token type.")
        kind = _U32.unpack_from(token)[0]
        if kind == SCHANNEL_SHUTDOWN:
            self._machine.fire(Input.SHUTDOWN, self)
            return
        if kind == SCHANNEL_ALERT:
            if len(token) < 12:
                raise InvalidToken("SCHANNEL_ALERT_TOKEN is three DWORDs.")
            number = _U32.unpack_from(token, 8)[0]
            if number != 0:
                raise UnsupportedFunction(
                    f"Sending TLS alert {number} is not possible with OpenSSL's public API; "
                    "only close_notify (0) can be sent (as SCHANNEL_SHUTDOWN)."
                )
            self._machine.fire(Input.SHUTDOWN, self)
            return
        if kind == SCHANNEL_SESSION:
            if len(token) < 8:
                raise InvalidToken("SCHANNEL_SESSION_TOKEN is two DWORDs.")
            flags = _U32.unpack_from(token, 4)[0]
            if flags & SSL_SESSION_DISABLE_RECONNECTS:
                self._reconnects = False
                if self._cache_key is not None:
                    self._cred.sessions.pop(self._cache_key, None)
            elif flags & SSL_SESSION_ENABLE_RECONNECTS:
                self._reconnects = True
            return
        if kind == SCHANNEL_RENEGOTIATE:
            raise UnsupportedFunction(
                "SCHANNEL_RENEGOTIATE (a server asking the client to renegotiate) is not "
                "supported; TLS 1.3 forbids renegotiation.")
        raise InvalidToken(f"Unknown Schannel control token type {kind}.")

    def set_attribute(self, attribute: int, value: object) -> None:
        """SetContextAttributes: SECPKG_ATTR_KEYING_MATERIAL_INFO (label, context, length)."""
        if attribute != SecPkgAttr.KEYING_MATERIAL_INFO:
            raise UnsupportedFunction(f"Schannel cannot set context attribute {attribute}.")
        if not isinstance(value, KeyingMaterialInfo):
            raise InvalidParameter("SECPKG_ATTR_KEYING_MATERIAL_INFO takes KeyingMaterialInfo.")
        self._ekm = value

    def _done_engine(self) -> Engine:
        if self._engine is None or not self.complete:
            raise UnsupportedFunction("This attribute is known once the handshake completed.")
        return self._engine

    def query_extra(self, attribute: int) -> object:
        attr = attribute
        if attr == SecPkgAttr.ISSUER_LIST_EX:
            engine = self._engine
            return IssuerListEx(engine.issuers if engine is not None else ())
        engine = self._done_engine()
        suite = self._suite
        if attr == SecPkgAttr.CONNECTION_INFO and suite is not None:
            return suite.connection_info(self.is_client)
        if attr == SecPkgAttr.CIPHER_INFO and suite is not None:
            return suite.cipher_info(self.is_client, self._certificate_kind())
        if attr in (SecPkgAttr.REMOTE_CERT_CONTEXT, SecPkgAttr.REMOTE_CERT_CHAIN):
            chain = engine.peer_chain()
            if not chain:
                raise NoCredentials("The peer sent no certificate.")
            return CertContext(chain[0], chain[1:])
        if attr == SecPkgAttr.LOCAL_CERT_CONTEXT:
            if self._policy.certificate is None:
                raise NoCredentials("This side sent no certificate.")
            return CertContext(self._policy.certificate.der, self._policy.certificate.chain)
        if attr == SecPkgAttr.APPLICATION_PROTOCOL:
            chosen = engine.selected_alpn()
            return ApplicationProtocol(1 if chosen else 0,
                                       SEC_APPLICATION_PROTOCOL_NEGOTIATION_EXT_ALPN,
                                       chosen or b"")
        if attr == SecPkgAttr.SESSION_INFO:
            return SessionInfo(SSL_SESSION_RECONNECT if engine.session_reused() else 0,
                               engine.session_id())
        if attr == SecPkgAttr.ENDPOINT_BINDINGS:
            server_cert = (engine.peer_certificate() if self.is_client else
                           (self._policy.certificate.der if self._policy.certificate else None))
            if not server_cert:
                raise UnsupportedFunction("No server certificate: no tls-server-end-point.")
            return bindings(b"tls-server-end-point:", endpoint_hash(server_cert))
        if attr == SecPkgAttr.UNIQUE_BINDINGS:
            if suite is not None and suite.tls13:
                raise UnsupportedFunction(
                    "tls-unique is not defined for TLS 1.3 (RFC 9266 §1); use "
                    "SECPKG_ATTR_ENDPOINT_BINDINGS.")
            unique = engine.tls_unique()
            if unique is None:
                raise UnsupportedFunction("The engine has no tls-unique for this connection.")
            return bindings(b"tls-unique:", unique)
        if attr == SecPkgAttr.KEYING_MATERIAL:
            if self._ekm is None:
                raise InvalidParameter(
                    "Set SECPKG_ATTR_KEYING_MATERIAL_INFO (label, context, length) first.")
            return KeyingMaterial(engine.export_keying_material(
                self._ekm.label, self._ekm.length, self._ekm.context))
        return super().query_extra(attribute)

    def _certificate_kind(self) -> str:
        der = self._engine.peer_certificate() if self._engine and self.is_client else (
            self._policy.certificate.der if self._policy.certificate else None)
        if not der:
            return ""
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        key = CertContext(der).certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            return "RSA"
        if isinstance(key, ec.EllipticCurvePublicKey):
            return "ECDSA"
        return type(key).__name__


_Handler = Callable[..., object]
S, E = State, Input
_HANDSHAKE = (S.SERVER_START, S.HANDSHAKE, S.AWAIT_CREDENTIALS, S.OPEN)
C = SchannelContext

#: The one transition table. Handlers are the context's methods, called with the context first.
TRANSITIONS: dict[tuple[State, Input], tuple[_Handler, State | tuple[State, ...]]] = {
    (S.CLIENT_START, E.START): (C._start, S.HANDSHAKE),
    (S.SERVER_START, E.RECORDS): (C._handshake, _HANDSHAKE),
    (S.HANDSHAKE, E.RECORDS): (C._handshake, _HANDSHAKE),
    (S.AWAIT_CREDENTIALS, E.RECORDS): (C._resume, _HANDSHAKE),
    (S.OPEN, E.RECORDS): (C._post_handshake, S.OPEN),
    (S.OPEN, E.POLL): (C._post_handshake, S.OPEN),
    (S.OPEN, E.ENCRYPT): (C._encrypt, S.OPEN),
    (S.PEER_CLOSED, E.ENCRYPT): (C._encrypt, S.PEER_CLOSED),
    (S.OPEN, E.ENCRYPT_RECORD): (C._encrypt_record, S.OPEN),
    (S.PEER_CLOSED, E.ENCRYPT_RECORD): (C._encrypt_record, S.PEER_CLOSED),
    (S.OPEN, E.DECRYPT): (C._decrypt, (S.OPEN, S.PEER_CLOSED)),
    (S.PEER_CLOSED, E.DECRYPT): (C._decrypt, (S.PEER_CLOSED,)),
    (S.SHUTDOWN_PENDING, E.DECRYPT): (C._decrypt, (S.SHUTDOWN_PENDING, S.CLOSED)),
    (S.CLOSED, E.DECRYPT): (C._decrypt, (S.CLOSED,)),
    (S.OPEN, E.UNWRAP): (C._unwrap, (S.OPEN, S.PEER_CLOSED)),
    (S.SHUTDOWN_PENDING, E.UNWRAP): (C._unwrap, (S.SHUTDOWN_PENDING, S.CLOSED)),
    (S.CLOSED, E.UNWRAP): (C._unwrap, (S.CLOSED,)),
    (S.OPEN, E.SHUTDOWN): (C._shutdown, S.SHUTDOWN_PENDING),
    (S.PEER_CLOSED, E.SHUTDOWN): (C._shutdown, S.SHUTDOWN_PENDING),
    (S.SHUTDOWN_PENDING, E.POLL): (C._close_notify, S.CLOSED),
    (S.SHUTDOWN_PENDING, E.RECORDS): (C._close_notify, S.CLOSED),
}
del C, S, E


__all__ = [
    "TRANSITIONS",
    "Input",
    "Opened",
    "SchannelContext",
    "State",
    "application_protocols",
    "parse_application_protocols",
]
