"""Stream-shaped steps and messages through the core, with a test-only record package.

The core must carry what Schannel needs without knowing Schannel: a handshake leg that consumes
one record of several and reports the rest as SECBUFFER_EXTRA (the real bytes), a partial record
as ``SEC_E_INCOMPLETE_MESSAGE`` *returned* with SECBUFFER_MISSING filled in place, a failure that
still owes the peer an ALERT, and DecryptMessage on DATA + EMPTY buffers that returns a status and
fills EXTRA/MISSING. ``Frames`` is the smallest package with that contract: a record is a 2-byte
big-endian length then the payload; the handshake is one record each way.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from enum import Enum, auto

import pytest

import opensspi
from opensspi import registry, sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import AscReq, CredentialUse, IscReq, SecBufferType, SecStatus
from opensspi.errors import DecodeError, InvalidToken, SspiError
from opensspi.message import Layout, MessageOp, MessageResult, Part, PartKind, Write
from opensspi.provider import (
    DEFAULT_ENVIRONMENT,
    Credential,
    Environment,
    PackageInfo,
    SecurityContext,
    SecurityPackage,
    Step,
    StepInput,
    StreamSizes,
)
from opensspi.statemachine import Machine

T = SecBufferType
S = SecStatus
INFO = PackageInfo("Frames", "test-only record package", 0, 1, 0xFFFF, 1000)  # type: ignore[arg-type]
ALERT = b"\x15\x03\x03\x00\x02\x02\x28"


def record(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


def split(data: bytes) -> tuple[bytes, bytes] | int:
    """(payload, rest) of the first record, or how many bytes are missing."""
    if len(data) < 2:
        return 2 - len(data)
    (size,) = struct.unpack_from(">H", data)
    if len(data) < 2 + size:
        return 2 + size - len(data)
    return data[2 : 2 + size], data[2 + size :]


class FramesCredential(Credential):
    def __init__(self, use: CredentialUse) -> None:
        self.use = use

    @property
    def principal_name(self) -> str:
        return "frames"


class St(Enum):
    START = auto()
    EXPECT_RECORD = auto()
    DONE = auto()
    FAILED = auto()


class In(Enum):
    NOTHING = auto()
    RECORD = auto()
    PARTIAL = auto()


class FramesContext(SecurityContext):
    info = INFO
    layouts = frozenset((Layout.RECORD, Layout.DATA_ONLY))

    def __init__(self, is_client: bool) -> None:
        self.is_client = is_client
        self._machine: Machine[St, In, Step] = Machine(
            TABLE, St.START if is_client else St.EXPECT_RECORD, St.FAILED, "Frames record")

    def step(self, inp: StepInput) -> Step:
        return self._machine.run(lambda: self._classify(inp.token or b""))

    def _classify(self, data: bytes) -> tuple[In, tuple[object, ...]]:
        if not data:
            return In.NOTHING, (self, b"", b"")
        found = split(data)
        if isinstance(found, int):
            return In.PARTIAL, (self, b"", found)
        payload, rest = found
        if payload == b"DIE":
            raise InvalidToken("the peer asked for an alert", token=ALERT, token_type=T.ALERT)
        if not payload.startswith(b"HELLO"):
            raise DecodeError("not a greeting")
        return In.RECORD, (self, payload, rest)

    def _hello(self, _payload: bytes, _rest: bytes) -> Step:
        return Step(S.SEC_I_CONTINUE_NEEDED, record(b"HELLO from the client"))

    def _partial(self, _payload: bytes, missing: int) -> Step:
        return Step(S.SEC_E_INCOMPLETE_MESSAGE, missing=missing)

    def _greeted(self, _payload: bytes, rest: bytes) -> Step:
        token = b"" if self.is_client else record(b"HELLO from the server")
        return Step(S.SEC_E_OK, token, extra=rest)

    @property
    def complete(self) -> bool:
        return self._machine.state is St.DONE

    @property
    def flags(self) -> int:
        return 0

    def stream_sizes(self) -> StreamSizes:
        return StreamSizes(2, 0, 1000, 4, 1)

    def protect(self, op: MessageOp, layout: Layout, parts: list[Part], qop: int,
                seq: int | None) -> MessageResult:
        if op is MessageOp.ENCRYPT:
            header = next(i for i, p in enumerate(parts) if p.kind is PartKind.HEADER)
            data = next(i for i, p in enumerate(parts) if p.kind is PartKind.DATA)
            trailer = next(i for i, p in enumerate(parts) if p.kind is PartKind.TRAILER)
            body = parts[data].data
            return MessageResult(writes=(Write(header, struct.pack(">H", len(body))),
                                         Write(data, body), Write(trailer, b"")))
        data = next(i for i, p in enumerate(parts) if p.kind is PartKind.DATA)
        found = split(parts[data].data)
        if isinstance(found, int):
            return MessageResult(S.SEC_E_INCOMPLETE_MESSAGE, missing=found)
        payload, rest = found
        if payload == b"CLOSE":
            return MessageResult(S.SEC_I_CONTEXT_EXPIRED, writes=(Write(data, b""),), extra=rest)
        # As Windows' Schannel: the DATA buffer becomes the header, the next two EMPTY
        # buffers the plaintext and the trailer; a further EMPTY one receives EXTRA.
        empties = [i for i, p in enumerate(parts) if p.kind is PartKind.EMPTY]
        writes = [Write(data, parts[data].data[:2], T.STREAM_HEADER),
                  Write(empties[0], payload, T.DATA),
                  Write(empties[1], b"", T.STREAM_TRAILER)]
        return MessageResult(writes=tuple(writes), extra=rest)


TABLE = {
    (St.START, In.NOTHING): (FramesContext._hello, St.EXPECT_RECORD),
    (St.EXPECT_RECORD, In.PARTIAL): (FramesContext._partial, St.EXPECT_RECORD),
    (St.EXPECT_RECORD, In.RECORD): (FramesContext._greeted, St.DONE),
}


class FramesPackage(SecurityPackage):
    info = INFO

    def acquire_credentials(self, principal: str | None, use: CredentialUse,
                            auth_data: object | None) -> Credential:
        return FramesCredential(use)

    def client_context(self, credential: Credential, target: str | None, req: IscReq,
                       env: Environment = DEFAULT_ENVIRONMENT) -> SecurityContext:
        return FramesContext(True)

    def server_context(self, credential: Credential, req: AscReq,
                       env: Environment = DEFAULT_ENVIRONMENT) -> SecurityContext:
        return FramesContext(False)


@pytest.fixture(autouse=True)
def frames() -> Iterator[None]:
    registry.register("Frames", FramesPackage)
    yield
    registry.unregister("Frames")


def _server() -> tuple[sspi.CredHandle, sspi.CtxtHandle]:
    cred = sspi.AcquireCredentialsHandle(None, "Frames", CredentialUse.INBOUND).credential
    return cred, sspi.CtxtHandle()


def _accept(cred: sspi.CredHandle, ctx: sspi.CtxtHandle, data: bytes,
            out: SecBufferDesc | None = None) -> tuple[sspi.AscResult, SecBufferDesc,
                                                       SecBufferDesc]:
    inp = SecBufferDesc([SecBuffer(T.TOKEN, data), SecBuffer(T.EMPTY)])
    out = out if out is not None else SecBufferDesc([SecBuffer(T.TOKEN, 1000)])
    result = sspi.AcceptSecurityContext(cred, ctx if ctx.is_valid else None, inp, 0, 0, ctx, out)
    return result, inp, out


def test_a_record_arriving_one_byte_at_a_time_reports_exact_missing_counts() -> None:
    cred, ctx = _server()
    hello = record(b"HELLO from the client")
    for n in range(1, len(hello)):
        result, inp, _ = _accept(cred, ctx, hello[:n])
        assert result.status == S.SEC_E_INCOMPLETE_MESSAGE
        missing = inp[1]
        assert missing.BufferType == T.MISSING
        assert missing.cbBuffer == (2 - n if n < 2 else len(hello) - n)
        assert missing.buffer == b""
    result, inp, out = _accept(cred, ctx, hello)
    assert result.status == S.SEC_E_OK
    assert out[0].buffer == record(b"HELLO from the server")
    assert inp[1].BufferType == T.EMPTY


def test_bytes_beyond_the_record_come_back_as_real_extra_bytes() -> None:
    cred, ctx = _server()
    trailing = record(b"application data") + b"\x00\x09par"
    result, inp, _ = _accept(cred, ctx, record(b"HELLO!") + trailing)
    assert result.status == S.SEC_E_OK
    assert inp[1].BufferType == T.EXTRA
    assert inp[1].buffer == trailing and inp[1].cbBuffer == len(trailing)


def test_a_failure_still_delivers_its_alert_and_kills_the_context() -> None:
    cred, ctx = _server()
    assert _accept(cred, ctx, b"\x00")[0].status == S.SEC_E_INCOMPLETE_MESSAGE
    out = SecBufferDesc([SecBuffer(T.TOKEN, 1000), SecBuffer(T.ALERT, 100)])
    with pytest.raises(SspiError) as err:
        _accept(cred, ctx, record(b"DIE"), out)
    assert err.value.status == S.SEC_E_INVALID_TOKEN and err.value.token == ALERT
    assert out[1].buffer == ALERT
    with pytest.raises(SspiError) as later:
        _accept(cred, ctx, record(b"HELLO"))
    assert later.value.status in (S.SEC_E_CONTEXT_EXPIRED, S.SEC_E_INVALID_HANDLE)


def test_a_parser_failure_in_a_classifier_is_invalid_token_through_every_door() -> None:
    cred, ctx = _server()
    with pytest.raises(SspiError) as err:
        _accept(cred, ctx, record(b"GOODBYE"))
    assert err.value.status == S.SEC_E_INVALID_TOKEN
    assert "Malformed Frames record: not a greeting" in err.value.message
    server = opensspi.server("Frames")
    with pytest.raises(SspiError) as err2:
        server.step(record(b"GOODBYE"))
    assert err2.value.status == S.SEC_E_INVALID_TOKEN


def _decrypt(ctx: sspi.CtxtHandle, data: bytes) -> tuple[sspi.QopResult, SecBufferDesc]:
    desc = SecBufferDesc([SecBuffer(T.DATA, data), SecBuffer(T.EMPTY), SecBuffer(T.EMPTY),
                          SecBuffer(T.EMPTY)])
    return sspi.DecryptMessage(ctx, desc, 0), desc


def test_decrypt_message_walks_a_multi_record_stream_with_extra_and_missing() -> None:
    cred, ctx = _server()
    _accept(cred, ctx, record(b"HELLO"))
    payloads = [b"first", b"", b"third record " * 20, b"fourth"]
    stream = b"".join(record(p) for p in payloads) + record(b"CLOSE")
    # Whole: one record per call, the rest handed back as EXTRA each time.
    pending, seen = stream, []
    while True:
        result, desc = _decrypt(ctx, pending)
        if result.status == S.SEC_I_CONTEXT_EXPIRED:
            assert all(b.kind != T.EXTRA for b in desc)  # CLOSE was the last record
            break
        assert result.status == S.SEC_E_OK
        kinds = [b.kind for b in desc]
        assert kinds[:3] == [T.STREAM_HEADER, T.DATA, T.STREAM_TRAILER]
        seen.append(desc[1].buffer)
        extra = [b for b in desc if b.kind == T.EXTRA]
        assert len(extra) == 1
        assert stream.endswith(extra[0].buffer)
        pending = extra[0].buffer
    assert seen == payloads
    # One byte at a time: every short read says exactly how much is missing.
    buffered, seen, done = b"", [], False
    for byte in stream:
        buffered += bytes([byte])
        while buffered and not done:
            result, desc = _decrypt(ctx, buffered)
            if result.status == S.SEC_E_INCOMPLETE_MESSAGE:
                missing = next(b for b in desc if b.kind == T.MISSING)
                found = split(buffered)
                assert isinstance(found, int) and missing.cbBuffer == found
                break
            if result.status == S.SEC_I_CONTEXT_EXPIRED:
                done = True
                break
            seen.append(desc[1].buffer)
            extra = [b for b in desc if b.kind == T.EXTRA]
            buffered = extra[0].buffer if extra else b""
    assert done and seen == payloads


def test_encrypt_message_fills_a_record_layout() -> None:
    cred, ctx = _server()
    _accept(cred, ctx, record(b"HELLO"))
    sizes = sspi.QueryContextAttributes(ctx, 4)  # SECPKG_ATTR_STREAM_SIZES
    assert sizes == StreamSizes(2, 0, 1000, 4, 1)
    desc = SecBufferDesc([SecBuffer(T.STREAM_HEADER, 2), SecBuffer(T.DATA, b"payload"),
                          SecBuffer(T.STREAM_TRAILER, 0), SecBuffer(T.EMPTY)])
    assert sspi.EncryptMessage(ctx, 0, desc, 0) == S.SEC_E_OK
    assert desc[0].buffer + desc[1].buffer + desc[2].buffer == record(b"payload")
    small = SecBufferDesc([SecBuffer(T.STREAM_HEADER, 1), SecBuffer(T.DATA, b"payload"),
                           SecBuffer(T.STREAM_TRAILER, 0)])
    with pytest.raises(SspiError) as err:
        sspi.EncryptMessage(ctx, 0, small, 0)
    assert err.value.status == S.SEC_E_BUFFER_TOO_SMALL


def test_a_layout_the_package_does_not_take_is_refused_by_name() -> None:
    cred, ctx = _server()
    _accept(cred, ctx, record(b"HELLO"))
    desc = SecBufferDesc([SecBuffer(T.TOKEN, 16), SecBuffer(T.DATA, b"x")])
    with pytest.raises(SspiError) as err:
        sspi.EncryptMessage(ctx, 0, desc, 0)
    assert err.value.status == S.SEC_E_INVALID_TOKEN
    assert "TOKEN_DATA" in err.value.message and "Frames" in err.value.message


