"""Schannel's four-buffer stream path (``SchannelContext.stream_message``) against the general
message path: every status leaves the caller's buffers exactly as the general path does.

The general path is reached with a fifth buffer (an extra EMPTY one), which the stream path
declines; both runs use their own connection, so ciphertexts differ but every buffer's type,
size and plaintext must match.
"""

from __future__ import annotations

import struct

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import SCHANNEL_SHUTDOWN, CredentialUse, SecBufferType, SecStatus
from opensspi.packages.schannel import SCHANNEL_CRED, CertContext
from support.tls import acquire, asc, decrypt_all, handshake, isc, stream_sizes

T = SecBufferType

Shape = list[tuple[int, int, bytes | None]]


def _encrypt(ctx: sspi.CtxtHandle, data: bytes, general: bool) -> tuple[bytes, Shape]:
    sizes = stream_sizes(ctx)
    bufs = [SecBuffer(T.STREAM_HEADER, sizes.header), SecBuffer(T.DATA, data),
            SecBuffer(T.STREAM_TRAILER, sizes.trailer), SecBuffer(T.EMPTY)]
    if general:
        bufs.append(SecBuffer(T.EMPTY))
    desc = SecBufferDesc(bufs)
    assert sspi.EncryptMessage(ctx, 0, desc, 0) == SecStatus.SEC_E_OK
    shape = [(b.BufferType, b.cbBuffer, None) for b in desc.buffers[:4]]
    return desc[0].buffer + desc[1].buffer + desc[2].buffer, shape


def _decrypt(ctx: sspi.CtxtHandle, data: bytes, general: bool) -> tuple[SecStatus, Shape]:
    bufs = [SecBuffer(T.DATA, data), SecBuffer(T.EMPTY), SecBuffer(T.EMPTY), SecBuffer(T.EMPTY)]
    if general:
        bufs.append(SecBuffer(T.EMPTY))
    desc = SecBufferDesc(bufs)
    status = sspi.DecryptMessage(ctx, desc, 0).status
    # Plaintext compared as is; ciphertext (header, trailer, EXTRA) only by size.
    opened = status == SecStatus.SEC_E_OK
    shape = [(b.BufferType, b.cbBuffer, b.buffer if opened and b.kind == T.DATA else None)
             for b in desc.buffers[:4]]
    return status, shape


def _run(server_ctx: CertContext, root: CertContext, general: bool) -> list[object]:
    scred = acquire(CredentialUse.INBOUND, SCHANNEL_CRED(paCred=[server_ctx]))
    ccred = acquire(CredentialUse.OUTBOUND, SCHANNEL_CRED(hRootStore=[root]))
    c, s, tickets = handshake(ccred, scred)
    seen: list[object] = []
    # The server's NewSessionTickets: SEC_I_RENEGOTIATE, the second one as EXTRA.
    status, shape = _decrypt(c, tickets, general)
    seen += [status, shape]
    assert status == SecStatus.SEC_I_RENEGOTIATE
    isc(ccred, c, "localhost", None)
    _, rest = decrypt_all(c, ccred, tickets[len(tickets) - shape[1][1]:])
    assert set(rest) == {SecStatus.SEC_I_RENEGOTIATE}
    record, shape = _encrypt(c, b"first", general)
    seen.append(shape)
    second, _ = _encrypt(c, b"second" * 100, general)
    for data in (record[:3], record[:-1], record + second, second):
        status, shape = _decrypt(s, data, general)
        seen += [status, shape]
    last, _ = _encrypt(s, b"late", general)  # sent, but after the close_notify below
    token = SecBufferDesc([SecBuffer(T.TOKEN, struct.pack("<I", SCHANNEL_SHUTDOWN))])
    sspi.ApplyControlToken(s, token)
    close = asc(scred, s, None).token
    # a record with the close_notify as EXTRA; the close_notify; then a record after the close
    # (SEC_I_CONTEXT_EXPIRED again, all of it EXTRA)
    for data in (last + close, close, close):
        status, shape = _decrypt(c, data, general)
        seen += [status, shape]
    return seen


def test_stream_path_matches_general_path(server_ctx: CertContext, root: CertContext) -> None:
    fast = _run(server_ctx, root, general=False)
    slow = _run(server_ctx, root, general=True)
    assert fast == slow
    statuses = [x for x in fast if isinstance(x, SecStatus)]
    assert statuses == [
        SecStatus.SEC_I_RENEGOTIATE, SecStatus.SEC_E_INCOMPLETE_MESSAGE,
        SecStatus.SEC_E_INCOMPLETE_MESSAGE, SecStatus.SEC_E_OK, SecStatus.SEC_E_OK,
        SecStatus.SEC_E_OK, SecStatus.SEC_I_CONTEXT_EXPIRED, SecStatus.SEC_I_CONTEXT_EXPIRED,
    ]
