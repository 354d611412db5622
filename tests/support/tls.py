"""Drive Schannel through the Windows-shaped functions, as a Windows program would: the token
loop with SECBUFFER_EXTRA / SECBUFFER_MISSING, EncryptMessage with the four stream buffers and
DecryptMessage on DATA + three EMPTY buffers."""

from __future__ import annotations

from dataclasses import dataclass

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import AscReq, CredentialUse, IscReq, SecBufferType, SecPkgAttr, SecStatus
from opensspi.message import StreamSizes

T = SecBufferType
ISC_REQ = (IscReq.SEQUENCE_DETECT | IscReq.REPLAY_DETECT | IscReq.CONFIDENTIALITY
           | IscReq.ALLOCATE_MEMORY | IscReq.STREAM | IscReq.EXTENDED_ERROR)
ASC_REQ = (AscReq.SEQUENCE_DETECT | AscReq.REPLAY_DETECT | AscReq.CONFIDENTIALITY
           | AscReq.ALLOCATE_MEMORY | AscReq.STREAM | AscReq.EXTENDED_ERROR)


def acquire(use: CredentialUse, auth: object, package: str = "Schannel") -> sspi.CredHandle:
    return sspi.AcquireCredentialsHandle(None, package, use, None, auth).credential


@dataclass
class Leg:
    """One ISC/ASC call: its status, the token to send, and what the input buffers became."""

    status: SecStatus
    token: bytes
    extra: bytes
    missing: int
    attrs: int
    alert: bytes = b""


def _leg(status: SecStatus, attrs: int, inp: SecBufferDesc | None,
         out: SecBufferDesc, data: bytes) -> Leg:
    extra, missing = b"", 0
    if inp is not None and len(inp) > 1:
        second = inp[1]
        if second.kind == T.EXTRA:
            extra = data[len(data) - second.cbBuffer:]
            assert second.buffer == extra  # our EXTRA holds the real trailing bytes
        elif second.kind == T.MISSING:
            missing = second.cbBuffer
    alert = out[1].buffer if len(out) > 1 else b""
    return Leg(status, out[0].buffer, extra, missing, attrs, alert)


def isc(cred: sspi.CredHandle, ctx: sspi.CtxtHandle, target: str | None, data: bytes | None,
        req: int = ISC_REQ, extra_buffers: tuple[SecBuffer, ...] = ()) -> Leg:
    inp: SecBufferDesc | None = None
    if data is not None:
        inp = SecBufferDesc([SecBuffer(T.TOKEN, data), SecBuffer(T.EMPTY), *extra_buffers])
    elif extra_buffers:
        inp = SecBufferDesc(list(extra_buffers))
    out = SecBufferDesc([SecBuffer(T.TOKEN, 0), SecBuffer(T.ALERT, 0), SecBuffer(T.EMPTY, 0)])
    result = sspi.InitializeSecurityContext(
        cred, ctx if ctx.is_valid else None, target, req, 0, 0, inp, 0, ctx, out)
    return _leg(result.status, int(result.context_attr), inp, out, data or b"")


def asc(cred: sspi.CredHandle, ctx: sspi.CtxtHandle, data: bytes | None,
        req: int = ASC_REQ, extra_buffers: tuple[SecBuffer, ...] = ()) -> Leg:
    inp = SecBufferDesc([SecBuffer(T.TOKEN, data or b""), SecBuffer(T.EMPTY), *extra_buffers]) \
        if data is not None else None
    out = SecBufferDesc([SecBuffer(T.TOKEN, 0), SecBuffer(T.ALERT, 0), SecBuffer(T.EMPTY, 0)])
    result = sspi.AcceptSecurityContext(
        cred, ctx if ctx.is_valid else None, inp, req, 0, ctx, out)
    return _leg(result.status, int(result.context_attr), inp, out, data or b"")


def handshake(ccred: sspi.CredHandle, scred: sspi.CredHandle, target: str | None = "localhost",
              isc_req: int = ISC_REQ, asc_req: int = ASC_REQ,
              client_buffers: tuple[SecBuffer, ...] = (),
              server_buffers: tuple[SecBuffer, ...] = ()
              ) -> tuple[sspi.CtxtHandle, sspi.CtxtHandle, bytes]:
    """Our client against our acceptor, whole flights at a time. Returns both contexts and the
    bytes the server sent after its last handshake leg (TLS 1.3 tickets) for the client."""
    c, s = sspi.CtxtHandle(), sspi.CtxtHandle()
    leg = isc(ccred, c, target, None, isc_req, client_buffers)
    assert leg.status == SecStatus.SEC_I_CONTINUE_NEEDED
    to_server = leg.token
    client_done = server_done = False
    after = b""
    for _ in range(6):
        sleg = asc(scred, s, to_server, asc_req, server_buffers)
        assert sleg.status in (SecStatus.SEC_I_CONTINUE_NEEDED, SecStatus.SEC_E_OK), sleg
        server_done = sleg.status == SecStatus.SEC_E_OK
        if client_done:
            after = sleg.token
            break
        cleg = isc(ccred, c, target, sleg.token, isc_req)
        assert cleg.status in (SecStatus.SEC_I_CONTINUE_NEEDED, SecStatus.SEC_E_OK), cleg
        client_done = cleg.status == SecStatus.SEC_E_OK
        to_server = cleg.token
        if client_done and server_done:
            break
        if client_done and not cleg.token:
            break
    assert client_done and server_done
    return c, s, after


def stream_sizes(ctx: sspi.CtxtHandle) -> StreamSizes:
    sizes = sspi.QueryContextAttributes(ctx, SecPkgAttr.STREAM_SIZES)
    assert isinstance(sizes, StreamSizes)
    return sizes


def encrypt(ctx: sspi.CtxtHandle, data: bytes) -> bytes:
    """EncryptMessage with [STREAM_HEADER, DATA, STREAM_TRAILER, EMPTY]: one record."""
    sizes = stream_sizes(ctx)
    desc = SecBufferDesc([SecBuffer(T.STREAM_HEADER, sizes.header), SecBuffer(T.DATA, data),
                          SecBuffer(T.STREAM_TRAILER, sizes.trailer), SecBuffer(T.EMPTY)])
    assert sspi.EncryptMessage(ctx, 0, desc, 0) == SecStatus.SEC_E_OK
    return desc[0].buffer + desc[1].buffer + desc[2].buffer


@dataclass
class Opened:
    status: SecStatus
    data: bytes
    extra: bytes
    missing: int
    desc: SecBufferDesc


def decrypt(ctx: sspi.CtxtHandle, data: bytes) -> Opened:
    """DecryptMessage with [DATA, EMPTY, EMPTY, EMPTY]: at most one record."""
    desc = SecBufferDesc([SecBuffer(T.DATA, data), SecBuffer(T.EMPTY), SecBuffer(T.EMPTY),
                          SecBuffer(T.EMPTY)])
    status = sspi.DecryptMessage(ctx, desc, 0).status
    plain = b"".join(b.buffer for b in desc if b.kind == T.DATA)
    extra = b"".join(b.buffer for b in desc if b.kind == T.EXTRA)
    missing = sum(b.cbBuffer for b in desc if b.kind == T.MISSING)
    return Opened(status, plain, extra, missing, desc)


def decrypt_all(ctx: sspi.CtxtHandle, cred: sspi.CredHandle, data: bytes,
                server: bool = False) -> tuple[bytes, list[SecStatus]]:
    """Decrypt every whole record in ``data`` (the curl loop), answering SEC_I_RENEGOTIATE with
    an ISC/ASC call. Returns the plaintext and the statuses seen."""
    plain = b""
    statuses = []
    while data:
        opened = decrypt(ctx, data)
        statuses.append(opened.status)
        if opened.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
            break
        plain += opened.data
        data = opened.extra
        if opened.status == SecStatus.SEC_I_RENEGOTIATE:
            leg = asc(cred, ctx, None) if server else isc(cred, ctx, None, None)
            assert leg.status == SecStatus.SEC_E_OK
        if opened.status == SecStatus.SEC_I_CONTEXT_EXPIRED:
            break
    return plain, statuses
