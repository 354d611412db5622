"""Schannel: opensspi's TLS package against Python's ``ssl.SSLSocket``, in the same run.

Both sides of each measurement run over a ``socket.socketpair()``, the server in a thread:

- handshakes per second: a full TLS 1.3 handshake (ECDSA P-256, no resumption) — opensspi's
  InitializeSecurityContext / AcceptSecurityContext loop against ``SSLSocket.do_handshake``;
- bulk throughput: 16 MiB sent client -> server — opensspi's EncryptMessage (one 16 KiB record
  per call, four SecBuffers) and DecryptMessage (DATA + three EMPTY, SECBUFFER_EXTRA walked)
  against ``SSLSocket.sendall`` / ``recv``; plus the Pythonic ``wrap``/``unwrap`` fast path.

Goals (issue 10): throughput >= 0.9x, handshakes >= 0.8x. Run: ``python bench/schannel.py``
(``--quick`` for a short run; ``--floor`` adds ``ssl.SSLObject`` driven directly, one record per
call, with no opensspi code: the ceiling for a record-at-a-time caller on the standard library's
engine, since client and server share one GIL). ``run(name, n)`` is the plain "run N times"
helper for profilers.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import AscReq, CredentialUse, IscReq, SecBufferType, SecPkgAttr, SecStatus
from opensspi.packages.schannel import SCHANNEL_CRED, CertContext
from opensspi.testing.tls import TestPki

T = SecBufferType
# The buffer types as plain ints, the way a C program has them as #defines.
EMPTY, DATA, TOKEN, EXTRA = int(T.EMPTY), int(T.DATA), int(T.TOKEN), int(T.EXTRA)
STREAM_HEADER, STREAM_TRAILER = int(T.STREAM_HEADER), int(T.STREAM_TRAILER)
ISC = int(IscReq.CONFIDENTIALITY | IscReq.STREAM | IscReq.ALLOCATE_MEMORY)
ASC = int(AscReq.CONFIDENTIALITY | AscReq.STREAM | AscReq.ALLOCATE_MEMORY)
BULK = bytes(range(256)) * 4096 * 16  # 16 MiB: the handshake in each run is ~5% of it
CHUNK = 16384
#: what each receiver asks the socket for (curl's schannel.c reads up to 16 KiB + overhead)
RECV = 65536
#: what the Pythonic client hands ``wrap`` at a time
SLICE = 1 << 18
RECV_WRAP = 1 << 18

PKI = TestPki()
SERVER = PKI.server("localhost")
_DIR = Path(tempfile.mkdtemp(prefix="opensspi-bench-tls-"))
CA_FILE = _DIR / "ca.pem"
CA_FILE.write_bytes(PKI.ca.cert_pem)
CERT_FILE, KEY_FILE = SERVER.write(_DIR, "server")
ROOT = CertContext.load(PKI.ca.cert_pem)
SERVER_CTX = CertContext.load(SERVER.cert_pem, SERVER.key_pem)


# -- opensspi over a socket pair -------------------------------------------------------------


def _acquire(use: CredentialUse, auth: object) -> sspi.CredHandle:
    return sspi.AcquireCredentialsHandle(None, "Schannel", use, None, auth).credential


CLIENT_CRED = _acquire(CredentialUse.OUTBOUND, SCHANNEL_CRED(
    hRootStore=[ROOT], dwFlags=0x80))  # SCH_CRED_DISABLE_RECONNECTS: full handshakes only
SERVER_CRED = _acquire(CredentialUse.INBOUND, SCHANNEL_CRED(paCred=[SERVER_CTX]))


def _ours_accept(sock: socket.socket) -> tuple[sspi.CtxtHandle, bytes]:
    ctx = sspi.CtxtHandle()
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("client went away")
        buf += chunk
        inp = SecBufferDesc([SecBuffer(TOKEN, buf), SecBuffer(EMPTY)])
        out = SecBufferDesc([SecBuffer(TOKEN, 0)])
        status = sspi.AcceptSecurityContext(
            SERVER_CRED, ctx if ctx.is_valid else None, inp, ASC, 0, ctx, out).status
        if status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
            continue
        if out[0].buffer:
            sock.sendall(out[0].buffer)
        buf = inp[1].buffer if inp[1].kind == EXTRA else b""
        if status == SecStatus.SEC_E_OK:
            return ctx, buf


def _ours_connect(sock: socket.socket) -> tuple[sspi.CtxtHandle, bytes]:
    ctx = sspi.CtxtHandle()
    out = SecBufferDesc([SecBuffer(TOKEN, 0)])
    sspi.InitializeSecurityContext(CLIENT_CRED, None, "localhost", ISC, 0, 0, None, 0, ctx, out)
    sock.sendall(out[0].buffer)
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server went away")
        buf += chunk
        inp = SecBufferDesc([SecBuffer(TOKEN, buf), SecBuffer(EMPTY)])
        out = SecBufferDesc([SecBuffer(TOKEN, 0)])
        status = sspi.InitializeSecurityContext(
            CLIENT_CRED, ctx, "localhost", ISC, 0, 0, inp, 0, ctx, out).status
        if status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
            continue
        if out[0].buffer:
            sock.sendall(out[0].buffer)
        buf = inp[1].buffer if inp[1].kind == EXTRA else b""
        if status == SecStatus.SEC_E_OK:
            return ctx, buf


def _pair(server: Callable[[socket.socket], object],
          client: Callable[[socket.socket], object]) -> None:
    a, b = socket.socketpair()
    with a, b:
        thread = threading.Thread(target=server, args=(b,))
        thread.start()
        client(a)
        thread.join()


def ours_handshake() -> None:
    _pair(_ours_accept, _ours_connect)


def _encrypt(ctx: sspi.CtxtHandle, data: bytes, header: int, trailer: int) -> list[bytes]:
    """One record: its header, body and trailer (contiguous in a C caller's buffer)."""
    desc = SecBufferDesc([SecBuffer(STREAM_HEADER, header), SecBuffer(DATA, data),
                          SecBuffer(STREAM_TRAILER, trailer), SecBuffer(EMPTY)])
    status = sspi.EncryptMessage(ctx, 0, desc, 0)
    if status != SecStatus.SEC_E_OK:
        raise RuntimeError(f"EncryptMessage: {status!r}")
    return [desc[0].buffer, desc[1].buffer, desc[2].buffer]


def _send_parts(sock: socket.socket, parts: list[bytes]) -> None:
    """Send the parts in order with one gathering write (a C caller sends the contiguous
    header + data + trailer in one call), finishing any partial write."""
    sent = sock.sendmsg(parts)
    if sent < len(parts[0]) + len(parts[1]) + len(parts[2]):
        sock.sendall(b"".join(parts)[sent:])


def ours_bulk() -> None:
    def server(sock: socket.socket) -> None:
        ctx, buf = _ours_accept(sock)
        got = 0
        while got < len(BULK):
            desc = SecBufferDesc([SecBuffer(DATA, buf), SecBuffer(EMPTY),
                                  SecBuffer(EMPTY), SecBuffer(EMPTY)])
            status = sspi.DecryptMessage(ctx, desc, 0).status
            if status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                buf += sock.recv(RECV)
                continue
            if status == SecStatus.SEC_E_OK:
                got += len(desc[1].buffer)
            elif status != SecStatus.SEC_I_RENEGOTIATE:
                raise RuntimeError(f"DecryptMessage: {status!r}")
            buf = desc[3].buffer if desc[3].kind == EXTRA else (
                desc[1].buffer if desc[1].kind == EXTRA else b"")
        sock.sendall(b"k")

    def client(sock: socket.socket) -> None:
        ctx, _ = _ours_connect(sock)
        sizes = sspi.QueryContextAttributes(ctx, SecPkgAttr.STREAM_SIZES)
        view = memoryview(BULK)
        for at in range(0, len(BULK), CHUNK):
            _send_parts(sock, _encrypt(ctx, bytes(view[at:at + CHUNK]), sizes.header,
                                       sizes.trailer))
        sock.recv(1)

    _pair(server, client)


def ours_wrap_bulk() -> None:
    """The Pythonic path: ``wrap`` the whole buffer, ``unwrap`` whole records."""
    from opensspi.packages.schannel.records import frame

    def server(sock: socket.socket) -> None:
        ctx, first = _ours_accept(sock)
        context = ctx._record.context  # type: ignore[union-attr]
        # One receive buffer: the socket reads into its free end; whole records are unwrapped
        # and the partial one left over (< one record) moves to the front.
        view = memoryview(bytearray(RECV_WRAP + 2 * (1 << 15)))
        have = len(first)
        view[:have] = first
        got = 0
        while got < len(BULK):
            n = sock.recv_into(view[have:])
            if not n:
                raise ConnectionError("client went away")
            have += n
            whole = frame(view[:have]).whole
            if whole:
                got += len(context.unwrap(view[:whole]))
                view[:have - whole] = view[whole:have]
                have -= whole
        sock.sendall(b"k")

    def client(sock: socket.socket) -> None:
        ctx, _ = _ours_connect(sock)
        context = ctx._record.context  # type: ignore[union-attr]
        view = memoryview(BULK)
        for at in range(0, len(BULK), SLICE):  # like sendall: send while the peer decrypts
            sock.sendall(context.wrap(view[at:at + SLICE]))
        sock.recv(1)

    _pair(server, client)


# -- Python's ssl.SSLSocket ------------------------------------------------------------------

_SSL_SERVER = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
_SSL_SERVER.load_cert_chain(str(CERT_FILE), str(KEY_FILE))
_SSL_SERVER.num_tickets = 2
_SSL_CLIENT = ssl.create_default_context(cafile=str(CA_FILE))


def ssl_handshake() -> None:
    def server(sock: socket.socket) -> None:
        with _SSL_SERVER.wrap_socket(sock, server_side=True):
            pass

    def client(sock: socket.socket) -> None:
        with _SSL_CLIENT.wrap_socket(sock, server_hostname="localhost"):
            pass

    _pair(server, client)


def ssl_bulk() -> None:
    def server(sock: socket.socket) -> None:
        with _SSL_SERVER.wrap_socket(sock, server_side=True) as tls:
            got = 0
            while got < len(BULK):
                got += len(tls.recv(RECV))
            tls.sendall(b"k")

    def client(sock: socket.socket) -> None:
        with _SSL_CLIENT.wrap_socket(sock, server_hostname="localhost") as tls:
            tls.sendall(BULK)
            tls.recv(1)

    _pair(server, client)


# -- the floor: the standard library's engine driven directly ---------------------------------


def _floor_handshake(obj: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                     sock: socket.socket) -> None:
    while True:
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            if outgoing.pending:
                sock.sendall(outgoing.read())
            incoming.write(sock.recv(65536))
            continue
        if outgoing.pending:
            sock.sendall(outgoing.read())
        return


def floor_bulk() -> None:
    """``ssl.SSLObject`` over ``MemoryBIO``s with no opensspi code at all, one 16 KiB record
    per call each way and the receiver framing records itself as an SSPI caller and Schannel
    do: the most any record-at-a-time implementation on the standard library's engine can
    reach from Python (``--floor``)."""

    def server(sock: socket.socket) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = _SSL_SERVER.wrap_bio(incoming, outgoing, server_side=True)
        _floor_handshake(obj, incoming, outgoing, sock)
        buf = bytearray(incoming.read())  # records that came with the client's Finished
        at = got = 0
        while got < len(BULK):
            if len(buf) - at >= 5:
                end = at + 5 + ((buf[at + 3] << 8) | buf[at + 4])
                if end <= len(buf):
                    incoming.write(memoryview(buf)[at:end])
                    at = end
                    got += len(obj.read(17408))
                    continue
            del buf[:at]
            at = 0
            buf += sock.recv(RECV)
        sock.sendall(b"k")

    def client(sock: socket.socket) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = _SSL_CLIENT.wrap_bio(incoming, outgoing, server_hostname="localhost")
        _floor_handshake(obj, incoming, outgoing, sock)
        view = memoryview(BULK)
        for at in range(0, len(BULK), CHUNK):
            obj.write(view[at:at + CHUNK])
            sock.sendall(outgoing.read())
        sock.recv(1)

    _pair(server, client)


# -- the harness -----------------------------------------------------------------------------

CASES: dict[str, Callable[[], None]] = {
    "ours_handshake": ours_handshake, "ssl_handshake": ssl_handshake,
    "ours_bulk": ours_bulk, "ours_wrap_bulk": ours_wrap_bulk, "ssl_bulk": ssl_bulk,
    "floor_bulk": floor_bulk,
}


def best_rate(fn: Callable[[], object], seconds: float, rounds: int) -> float:
    """Calls per second of ``fn``, best of ``rounds``."""
    best = 0.0
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            fn()
            n += 1
        best = max(best, n / elapsed)
    return best


def run(name: str, n: int) -> None:
    """Run one case ``n`` times (for profilers)."""
    for _ in range(n):
        CASES[name]()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--floor", action="store_true",
                        help="also time the standard library's engine driven directly")
    args = parser.parse_args(argv)
    if args.only:
        run(args.only, 20)
        return 0
    seconds, rounds = (0.3, 2) if args.quick else (0.6, 4)
    print(f"Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}; TLS 1.3, ECDSA P-256, "
          "socketpair, server in a thread")
    hs_ours = best_rate(ours_handshake, seconds, rounds)
    hs_ssl = best_rate(ssl_handshake, seconds, rounds)
    print(f"handshakes/s   opensspi {hs_ours:8.0f}   ssl.SSLSocket {hs_ssl:8.0f}   "
          f"ratio {hs_ours / hs_ssl:.2f}x (goal >= 0.8x)")
    mib = len(BULK) / (1 << 20)
    bulk_ours = best_rate(ours_bulk, seconds, rounds) * mib
    bulk_wrap = best_rate(ours_wrap_bulk, seconds, rounds) * mib
    bulk_ssl = best_rate(ssl_bulk, seconds, rounds) * mib
    print(f"bulk MiB/s     opensspi Encrypt/DecryptMessage {bulk_ours:7.0f}   "
          f"wrap/unwrap {bulk_wrap:7.0f}   ssl.SSLSocket {bulk_ssl:7.0f}")
    print(f"               ratio EncryptMessage/DecryptMessage {bulk_ours / bulk_ssl:.2f}x, "
          f"wrap/unwrap {bulk_wrap / bulk_ssl:.2f}x (goal >= 0.9x)")
    if args.floor:
        bulk_floor = best_rate(floor_bulk, seconds, rounds) * mib
        print(f"floor MiB/s    ssl.SSLObject + MemoryBIO, one record per call, no opensspi "
              f"{bulk_floor:7.0f}   ratio {bulk_floor / bulk_ssl:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
