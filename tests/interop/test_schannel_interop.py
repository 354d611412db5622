"""Schannel against real TLS peers on 127.0.0.1: openssl s_server / s_client, Python's ssl
client and server, and an HTTPS server — all driven through the Windows-shaped functions the
way curl's schannel.c drives them."""

from __future__ import annotations

import hashlib
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import opensspi
from interop.peers.openssl_tls import INSTALL_HINT, OPENSSL, HttpsServer, s_client, s_server
from opensspi import sspi
from opensspi.buffers import ChannelBindings, SecBuffer
from opensspi.constants import (
    SCHANNEL_SHUTDOWN,
    SSL_SESSION_RECONNECT,
    AscReq,
    CredentialUse,
    IscReq,
    SecBufferType,
    SecPkgAttr,
    SecStatus,
    SpProt,
)
from opensspi.errors import SspiError
from opensspi.packages.schannel import SCHANNEL_CRED, CertContext, application_protocols
from opensspi.testing.tls import Issued, TestPki
from support.pair import ContextPair
from support.require import require_module, require_peer
from support.tls import ISC_REQ, acquire, asc, decrypt, encrypt, isc

pytestmark = pytest.mark.interop
T = SecBufferType
OUT, IN = CredentialUse.OUTBOUND, CredentialUse.INBOUND
TLS12 = SpProt.TLS1_2_CLIENT | SpProt.TLS1_2_SERVER
TLS13 = SpProt.TLS1_3_CLIENT | SpProt.TLS1_3_SERVER
VERSION_FLAG = {TLS12: "-tls1_2", TLS13: "-tls1_3"}


@dataclass
class Pki:
    pki: TestPki
    server: Issued
    client: Issued
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path
    root: CertContext
    client_ctx: CertContext
    server_ctx: CertContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("tls")
    pki = TestPki()
    server, client = pki.server("localhost"), pki.client("sspi-client")
    ca = d / "ca.pem"
    ca.write_bytes(pki.ca.cert_pem)
    cert, key = server.write(d, "server")
    ccert, ckey = client.write(d, "client")
    return Pki(pki, server, client, ca, cert, key, ccert, ckey, CertContext.load(ca),
               CertContext.load(ccert, ckey), CertContext.load(cert, key))


@pytest.fixture
def openssl() -> None:
    require_peer(OPENSSL is not None, "openssl (the command-line tool)", INSTALL_HINT)


# -- a curl-shaped client over a socket --------------------------------------------------------


class Conn:
    """One Schannel client connection driven through ISC/EncryptMessage/DecryptMessage."""

    def __init__(self, port: int, cred: sspi.CredHandle, target: str = "localhost",
                 req: int = ISC_REQ, buffers: tuple[SecBuffer, ...] = (),
                 recv_size: int = 65536) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.cred, self.target, self.req = cred, target, req
        self.ctx = sspi.CtxtHandle()
        self.recv_size = recv_size
        self.buf = b""
        self.statuses: list[SecStatus] = []
        self.missing_seen: list[int] = []
        leg = isc(cred, self.ctx, target, None, req, buffers)
        self.sock.sendall(leg.token)

    def handshake(self) -> SecStatus:
        """The ISC loop: read, call, send, keep EXTRA; returns SEC_E_OK or
        SEC_I_INCOMPLETE_CREDENTIALS."""
        need = True
        while True:
            if need:
                self._read()
            leg = isc(self.cred, self.ctx, self.target, self.buf, self.req)
            self.statuses.append(leg.status)
            if leg.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                self.missing_seen.append(leg.missing)
                need = True
                continue
            if leg.token:
                self.sock.sendall(leg.token)
            if leg.status == SecStatus.SEC_I_INCOMPLETE_CREDENTIALS:
                return leg.status
            self.buf = leg.extra
            if leg.status == SecStatus.SEC_E_OK:
                return leg.status
            need = not self.buf

    def resume(self, cred: sspi.CredHandle) -> SecStatus:
        """ISC again after SEC_I_INCOMPLETE_CREDENTIALS with the same input (as curl does)."""
        leg = isc(cred, self.ctx, self.target, self.buf, self.req)
        if leg.token:
            self.sock.sendall(leg.token)
        self.buf = leg.extra
        if leg.status == SecStatus.SEC_E_OK:
            return leg.status
        self.cred = cred
        return self.handshake()

    def _read(self) -> None:
        chunk = self.sock.recv(self.recv_size)
        if not chunk:
            raise ConnectionError("peer closed")
        self.buf += chunk

    def send(self, data: bytes) -> None:
        self.sock.sendall(encrypt(self.ctx, data))

    def recv_until(self, wanted: bytes, limit: int = 200) -> bytes:
        """Decrypt records until the plaintext holds ``wanted``; answers SEC_I_RENEGOTIATE with
        an ISC call and records every status."""
        plain = b""
        for _ in range(limit):
            if wanted in plain:
                return plain
            # DecryptMessage first even with nothing buffered: data that arrived during a
            # renegotiation comes out of the context (SEC_E_INCOMPLETE_MESSAGE otherwise).
            opened = decrypt(self.ctx, self.buf)
            self.statuses.append(opened.status)
            if opened.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                self.missing_seen.append(opened.missing)
                self._read()
                continue
            plain += opened.data
            self.buf = opened.extra
            if opened.status == SecStatus.SEC_I_RENEGOTIATE:
                self.renegotiate()
            if opened.status == SecStatus.SEC_I_CONTEXT_EXPIRED:
                return plain
        raise AssertionError(f"{wanted!r} never arrived; got {plain!r}")

    def renegotiate(self) -> None:
        leg = isc(self.cred, self.ctx, self.target, self.buf or None, self.req)
        self.statuses.append(leg.status)
        if leg.token:
            self.sock.sendall(leg.token)
        if leg.status == SecStatus.SEC_I_CONTINUE_NEEDED:
            self.buf = leg.extra
            self.handshake()
        else:
            self.buf = leg.extra

    def drain_tickets(self) -> None:
        """Read what a TLS 1.3 server sends right after the handshake (NewSessionTickets)."""
        self.sock.settimeout(0.5)
        try:
            while True:
                if not self.buf:
                    self._read()
                opened = decrypt(self.ctx, self.buf)
                self.statuses.append(opened.status)
                if opened.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                    self._read()
                    continue
                self.buf = opened.extra
                if opened.status == SecStatus.SEC_I_RENEGOTIATE:
                    self.renegotiate()
        except TimeoutError:
            pass
        finally:
            self.sock.settimeout(10)

    def shutdown(self) -> bytes:
        sspi.ApplyControlToken(self.ctx, sspi.SecBufferDesc(
            [SecBuffer(T.TOKEN, struct.pack("<I", SCHANNEL_SHUTDOWN))]))
        leg = isc(self.cred, self.ctx, self.target, None, self.req)
        assert leg.status == SecStatus.SEC_E_OK
        self.sock.sendall(leg.token)
        return leg.token

    def close(self) -> None:
        self.sock.close()


# -- openssl s_server --------------------------------------------------------------------------


@pytest.mark.parametrize("protocols", [TLS12, TLS13], ids=["tls1.2", "tls1.3"])
def test_s_server_data_and_close(openssl: None, tls: Pki, protocols: int) -> None:
    srv, port = s_server(tls.cert, tls.key, VERSION_FLAG[protocols])
    with srv:
        cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root], grbitEnabledProtocols=protocols))
        conn = Conn(port, cred)
        assert conn.handshake() == SecStatus.SEC_E_OK
        info = sspi.QueryContextAttributes(conn.ctx, SecPkgAttr.CONNECTION_INFO)
        assert info.protocol & protocols
        conn.send(b"hello from opensspi\n")
        srv.wait_for("hello from opensspi")
        srv.send("pong from s_server")
        assert b"pong from s_server" in conn.recv_until(b"pong from s_server")
        if protocols == TLS13:  # the tickets came as SEC_I_RENEGOTIATE, answered by ISC
            assert SecStatus.SEC_I_RENEGOTIATE in conn.statuses
        # ApplyControlToken(SCHANNEL_SHUTDOWN) + ISC: our close_notify; s_server answers with its
        # own, which DecryptMessage reports as SEC_I_CONTEXT_EXPIRED.
        conn.shutdown()
        conn.recv_until(b"\0never")
        assert conn.statuses[-1] == SecStatus.SEC_I_CONTEXT_EXPIRED
        srv.wait_for("DONE")
        conn.close()


def test_s_server_keyupdate(openssl: None, tls: Pki) -> None:
    """``K``: a TLS 1.3 KeyUpdate asking for ours: DecryptMessage -> SEC_I_RENEGOTIATE, ISC gives
    our KeyUpdate as the token, and data flows both ways under the new keys."""
    srv, port = s_server(tls.cert, tls.key, "-tls1_3")
    with srv:
        cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root]))
        conn = Conn(port, cred)
        conn.handshake()
        conn.drain_tickets()
        srv.command("K")
        srv.send("after key update")
        before = len(conn.statuses)
        assert b"after key update" in conn.recv_until(b"after key update")
        assert SecStatus.SEC_I_RENEGOTIATE in conn.statuses[before:]
        conn.send(b"client data after key update\n")
        srv.wait_for("client data after key update")
        conn.close()


def test_s_server_renegotiation(openssl: None, tls: Pki) -> None:
    """``R`` under TLS 1.2: HelloRequest -> SEC_I_RENEGOTIATE -> the ISC loop renegotiates."""
    srv, port = s_server(tls.cert, tls.key, "-tls1_2")
    with srv:
        cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root], grbitEnabledProtocols=TLS12))
        conn = Conn(port, cred)
        conn.handshake()
        srv.command("R")
        srv.send("after renegotiation")
        before = len(conn.statuses)
        assert b"after renegotiation" in conn.recv_until(b"after renegotiation")
        seen = conn.statuses[before:]
        assert SecStatus.SEC_I_RENEGOTIATE in seen
        assert SecStatus.SEC_I_CONTINUE_NEEDED in seen  # a real handshake ran
        conn.send(b"client data after renegotiation\n")
        srv.wait_for("client data after renegotiation")
        conn.close()


@pytest.mark.parametrize("protocols", [TLS12, TLS13], ids=["tls1.2", "tls1.3"])
def test_s_server_verify_with_client_certificate(openssl: None, tls: Pki,
                                                 protocols: int) -> None:
    srv, port = s_server(tls.cert, tls.key, VERSION_FLAG[protocols], "-Verify", "1",
                         "-CAfile", str(tls.ca))
    with srv:
        cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root], paCred=[tls.client_ctx]))
        conn = Conn(port, cred)
        assert conn.handshake() == SecStatus.SEC_E_OK
        conn.send(b"with a client certificate\n")
        srv.wait_for("with a client certificate")
        assert any("sspi-client" in line for line in srv.seen)
        conn.close()


@pytest.mark.parametrize("protocols", [TLS12, TLS13], ids=["tls1.2", "tls1.3"])
def test_s_server_incomplete_credentials(openssl: None, tls: Pki, protocols: int) -> None:
    """pyOpenSSL engine: SEC_I_INCOMPLETE_CREDENTIALS, the server's CA list in ISSUER_LIST_EX,
    then the same input with a credential that has a certificate."""
    require_module("OpenSSL", "pip install pyOpenSSL  (or: pip install -e '.[schannel]')")
    srv, port = s_server(tls.cert, tls.key, VERSION_FLAG[protocols], "-Verify", "1",
                         "-CAfile", str(tls.ca))
    with srv:
        bare = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root], engine="pyopenssl",
                                          grbitEnabledProtocols=protocols))
        conn = Conn(port, bare)
        assert conn.handshake() == SecStatus.SEC_I_INCOMPLETE_CREDENTIALS
        issuers = sspi.QueryContextAttributes(conn.ctx, SecPkgAttr.ISSUER_LIST_EX).issuers
        assert issuers == (tls.pki.ca.cert.subject.public_bytes(),)
        with_cert = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root], paCred=[tls.client_ctx],
                                               engine="pyopenssl"))
        assert conn.resume(with_cert) == SecStatus.SEC_E_OK
        conn.send(b"certificate supplied late\n")
        srv.wait_for("certificate supplied late")
        assert any("sspi-client" in line for line in srv.seen)
        conn.close()


def test_s_server_verify_without_certificate_stdlib(openssl: None, tls: Pki) -> None:
    """The stdlib engine cannot pause: under TLS 1.2 the server's refusal maps to
    SEC_E_CERT_UNKNOWN (it had asked for a certificate); it never fakes INCOMPLETE_CREDENTIALS."""
    srv, port = s_server(tls.cert, tls.key, "-tls1_2", "-Verify", "1", "-CAfile", str(tls.ca))
    with srv:
        cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root], grbitEnabledProtocols=TLS12))
        conn = Conn(port, cred)
        with pytest.raises(SspiError) as err:
            conn.handshake()
        assert err.value.status == SecStatus.SEC_E_CERT_UNKNOWN
        issuers = sspi.QueryContextAttributes(conn.ctx, SecPkgAttr.ISSUER_LIST_EX).issuers
        assert issuers == (tls.pki.ca.cert.subject.public_bytes(),)
        conn.close()


def test_s_server_alpn(openssl: None, tls: Pki) -> None:
    srv, port = s_server(tls.cert, tls.key, "-alpn", "h2")
    with srv:
        cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root]))
        offer = SecBuffer(T.APPLICATION_PROTOCOLS, application_protocols(["http/1.1", "h2"]))
        conn = Conn(port, cred, buffers=(offer,))
        conn.handshake()
        chosen = sspi.QueryContextAttributes(conn.ctx, SecPkgAttr.APPLICATION_PROTOCOL)
        assert (chosen.status, chosen.protocol_id) == (1, b"h2")
        conn.close()
        only = SecBuffer(T.APPLICATION_PROTOCOLS, application_protocols(["http/1.1"]))
        conn = Conn(port, cred, buffers=(only,))
        with pytest.raises(SspiError) as err:
            conn.handshake()
        assert err.value.status == SecStatus.SEC_E_APPLICATION_PROTOCOL_MISMATCH
        conn.close()


@pytest.mark.parametrize("protocols", [TLS12, TLS13], ids=["tls1.2", "tls1.3"])
def test_s_server_resumption(openssl: None, tls: Pki, protocols: int) -> None:
    """``-naccept 2``: the second connection with the same credential handle and target
    resumes, and SESSION_INFO says so."""
    srv, port = s_server(tls.cert, tls.key, VERSION_FLAG[protocols], "-naccept", "2")
    with srv:
        cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root], grbitEnabledProtocols=protocols))
        first = Conn(port, cred)
        first.handshake()
        first.drain_tickets()
        assert sspi.QueryContextAttributes(first.ctx, SecPkgAttr.SESSION_INFO).flags == 0
        first.shutdown()
        first.close()
        second = Conn(port, cred)
        second.handshake()
        info = sspi.QueryContextAttributes(second.ctx, SecPkgAttr.SESSION_INFO)
        assert info.flags == SSL_SESSION_RECONNECT
        srv.wait_for("Reused session-id" if protocols == TLS12 else "Reused")
        second.close()


# -- our acceptor against openssl s_client and Python's ssl ------------------------------------


class Acceptor:
    """Our Schannel server on a listening socket, one connection, in a thread: echoes what it
    decrypts, prefixed, and records the context."""

    def __init__(self, cred: sspi.CredHandle, req: int = int(AscReq.STREAM
                                                              | AscReq.ALLOCATE_MEMORY)) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cred, self.req = cred, req
        self.ctx = sspi.CtxtHandle()
        self.received = b""
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            sock, _ = self.listener.accept()
            sock.settimeout(10)
            with sock:
                buf = b""
                while True:
                    buf += sock.recv(65536)
                    leg = asc(self.cred, self.ctx, buf, self.req)
                    if leg.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                        continue
                    if leg.token:
                        sock.sendall(leg.token)
                    buf = leg.extra
                    if leg.status == SecStatus.SEC_E_OK:
                        break
                while b"\n" not in self.received:
                    if not buf:
                        buf = sock.recv(65536)
                        if not buf:
                            return
                    opened = decrypt(self.ctx, buf)
                    if opened.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                        buf += sock.recv(65536)
                        continue
                    self.received += opened.data
                    buf = opened.extra
                    if opened.status == SecStatus.SEC_I_RENEGOTIATE:
                        leg = asc(self.cred, self.ctx, None, self.req)
                        if leg.token:
                            sock.sendall(leg.token)
                sock.sendall(encrypt(self.ctx, b"echo: " + self.received))
                self.done.wait(10)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.listener.close()

    def join(self) -> None:
        self.done.set()
        self.thread.join(15)
        if self.error is not None:
            raise self.error


@pytest.mark.parametrize("protocols", [TLS12, TLS13], ids=["tls1.2", "tls1.3"])
def test_s_client_against_our_acceptor(openssl: None, tls: Pki, protocols: int) -> None:
    scred = acquire(IN, SCHANNEL_CRED(paCred=[tls.server_ctx], hRootStore=[tls.root]))
    server = Acceptor(scred, int(AscReq.STREAM | AscReq.ALLOCATE_MEMORY | AscReq.MUTUAL_AUTH))
    client = s_client(server.port, VERSION_FLAG[protocols], "-CAfile", str(tls.ca),
                      "-servername", "localhost", "-verify_return_error",
                      "-cert", str(tls.client_cert), "-key", str(tls.client_key))
    with client:
        client.wait_for("Verify return code: 0 (ok)")
        client.send("hello from s_client")
        client.wait_for("echo: hello from s_client")
        server.join()
    assert server.received == b"hello from s_client\n"
    remote = sspi.QueryContextAttributes(server.ctx, SecPkgAttr.REMOTE_CERT_CONTEXT)
    assert remote.der == tls.client.der


def test_python_ssl_client_against_our_acceptor(tls: Pki) -> None:
    """Python's ssl client; its tls-unique equals our acceptor's UNIQUE_BINDINGS, and
    tls-server-end-point equals SHA-256 of the certificate it saw."""
    scred = acquire(IN, SCHANNEL_CRED(paCred=[tls.server_ctx], grbitEnabledProtocols=TLS12))
    server = Acceptor(scred)
    ctx = ssl.create_default_context(cafile=str(tls.ca))
    with socket.create_connection(("127.0.0.1", server.port)) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as client:
        client.sendall(b"hello from python ssl\n")
        assert client.recv(1000) == b"echo: hello from python ssl\n"
        unique = client.get_channel_binding("tls-unique")
        peer = client.getpeercert(binary_form=True)
        server.join()
    ours = sspi.QueryContextAttributes(server.ctx, SecPkgAttr.UNIQUE_BINDINGS).channel_bindings
    assert ours.application_data == b"tls-unique:" + unique
    end = sspi.QueryContextAttributes(server.ctx, SecPkgAttr.ENDPOINT_BINDINGS).channel_bindings
    assert end.application_data == b"tls-server-end-point:" + hashlib.sha256(peer).digest()


# -- HTTPS, channel bindings for NTLM ----------------------------------------------------------


@pytest.fixture
def https(tls: Pki) -> Iterator[HttpsServer]:
    with HttpsServer(tls.cert, tls.key) as server:
        yield server


def test_https_request_byte_at_a_time(tls: Pki, https: HttpsServer) -> None:
    """GET / through EncryptMessage/DecryptMessage with the server's bytes read one at a time:
    every call on a partial record is SEC_E_INCOMPLETE_MESSAGE with the exact MISSING count."""
    cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root]))
    conn = Conn(https.port, cred, recv_size=1)
    assert conn.handshake() == SecStatus.SEC_E_OK
    assert conn.missing_seen[:5] == [4, 3, 2, 1, conn.missing_seen[4]]
    assert all(m > 0 for m in conn.missing_seen)
    conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    reply = conn.recv_until(HttpsServer.BODY, limit=100_000)
    assert reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n")[0]
    # one byte at a time: each record was announced by MISSING counting down to 1
    assert conn.missing_seen.count(1) >= 3
    conn.close()


def test_https_two_records_in_one_read_give_extra(tls: Pki, https: HttpsServer) -> None:
    cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root]))
    conn = Conn(https.port, cred)
    conn.handshake()
    conn.send(b"GET /big HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    plain = b""
    extras = 0
    conn.sock.settimeout(10)
    while HttpsServer.BIG not in plain:
        while True:  # read everything the server sends: several records per buffer
            try:
                chunk = conn.sock.recv(1 << 20)
            except TimeoutError:
                break
            if not chunk:
                break
            conn.buf += chunk
            conn.sock.settimeout(0.3)
        while conn.buf:
            opened = decrypt(conn.ctx, conn.buf)
            if opened.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                break
            if opened.extra and opened.status == SecStatus.SEC_E_OK:
                extras += 1  # [STREAM_HEADER, DATA, STREAM_TRAILER, EXTRA]
                assert [b.kind for b in opened.desc] == [
                    T.STREAM_HEADER, T.DATA, T.STREAM_TRAILER, T.EXTRA]
                assert opened.desc[3].buffer == opened.extra
            plain += opened.data
            conn.buf = opened.extra
            if opened.status == SecStatus.SEC_I_RENEGOTIATE:
                conn.renegotiate()
    assert extras >= 2  # at least three records came in one buffer
    assert plain.endswith(HttpsServer.BIG)
    conn.close()


def test_ntlm_with_our_endpoint_bindings(tls: Pki, https: HttpsServer) -> None:
    """An NTLM client given our ENDPOINT_BINDINGS is accepted by an NTLM server whose bindings
    were computed independently (SHA-256 of the server certificate file); wrong bindings fail."""
    cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root]))
    conn = Conn(https.port, cred)
    conn.handshake()
    ours = sspi.QueryContextAttributes(conn.ctx, SecPkgAttr.ENDPOINT_BINDINGS).channel_bindings
    conn.close()
    independent = ChannelBindings.from_application_data(
        b"tls-server-end-point:" + hashlib.sha256(tls.server.der).digest())
    users = {"CORP\\alice": "Passw0rd!"}

    def ntlm_pair(server_bindings: ChannelBindings) -> ContextPair:
        client = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!",
                                 target="HTTP/localhost", channel_bindings=ours)
        server = opensspi.server("NTLM", users=users, channel_bindings=server_bindings)
        return ContextPair(client, server)

    good = ntlm_pair(independent).run()
    assert good.server.complete and good.server.client_name
    wrong = ChannelBindings.from_application_data(b"tls-server-end-point:" + b"\0" * 32)
    with pytest.raises(SspiError) as err:
        ntlm_pair(wrong).run()
    assert err.value.status == SecStatus.SEC_E_BAD_BINDINGS


def test_tls_unique_against_stdlib_server(tls: Pki) -> None:
    """tls-unique from our client equals what Python's ssl server computes for the connection."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls.cert), str(tls.key))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, bytes | None] = {}

    def serve() -> None:
        sock, _ = listener.accept()
        with ctx.wrap_socket(sock, server_side=True) as tls_sock:
            seen["unique"] = tls_sock.get_channel_binding("tls-unique")
            tls_sock.sendall(b"ready\n")
            tls_sock.recv(100)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root]))
    conn = Conn(listener.getsockname()[1], cred)
    conn.handshake()
    conn.recv_until(b"ready")
    ours = sspi.QueryContextAttributes(conn.ctx, SecPkgAttr.UNIQUE_BINDINGS).channel_bindings
    conn.send(b"bye")
    thread.join(10)
    listener.close()
    conn.close()
    assert seen["unique"] and ours.application_data == b"tls-unique:" + seen["unique"]


def test_tls_connect_helper(tls: Pki, https: HttpsServer) -> None:
    from opensspi.packages.schannel import tls_connect

    stream = tls_connect("127.0.0.1", https.port, target="localhost",
                         credential=SCHANNEL_CRED(hRootStore=[tls.root]))
    stream.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    reply = b""
    while HttpsServer.BODY not in reply:
        chunk = stream.recv()
        if not chunk:
            break
        reply += chunk
    assert HttpsServer.BODY in reply
    stream.close()


def test_manual_validation_isc_flag(tls: Pki, https: HttpsServer) -> None:
    cred = acquire(OUT, SCHANNEL_CRED())  # the system store does not know our CA
    with pytest.raises(SspiError) as err:
        Conn(https.port, cred).handshake()
    assert err.value.status == SecStatus.SEC_E_UNTRUSTED_ROOT
    conn = Conn(https.port, cred, req=ISC_REQ | IscReq.MANUAL_CRED_VALIDATION)
    assert conn.handshake() == SecStatus.SEC_E_OK
    remote = sspi.QueryContextAttributes(conn.ctx, SecPkgAttr.REMOTE_CERT_CONTEXT)
    assert remote.der == tls.server.der
    conn.close()


@pytest.mark.parametrize("protocols", [TLS12, TLS13], ids=["tls1.2", "tls1.3"])
def test_keying_material_equals_s_server(openssl: None, tls: Pki, protocols: int) -> None:
    """SECPKG_ATTR_KEYING_MATERIAL (pyOpenSSL engine) equals ``s_server -keymatexport``."""
    require_module("OpenSSL", "pip install pyOpenSSL  (or: pip install -e '.[schannel]')")
    from opensspi.packages.schannel import KeyingMaterialInfo

    srv, port = s_server(tls.cert, tls.key, VERSION_FLAG[protocols], "-keymatexport",
                         "EXPERIMENTAL-sspi", "-keymatexportlen", "32")
    with srv:
        cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root], engine="pyopenssl",
                                          grbitEnabledProtocols=protocols))
        conn = Conn(port, cred)
        conn.handshake()
        conn.send(b"ping\n")
        srv.wait_for("ping")
        line = next(x for x in srv.seen if "Keying material:" in x)
        sspi.SetContextAttributes(conn.ctx, SecPkgAttr.KEYING_MATERIAL_INFO,
                                  KeyingMaterialInfo(b"EXPERIMENTAL-sspi", None, 32))
        ours = sspi.QueryContextAttributes(conn.ctx, SecPkgAttr.KEYING_MATERIAL)
        assert ours.keying_material.hex().upper() == line.split(":", 1)[1].strip().upper()
        conn.close()


def test_kerberos_with_our_endpoint_bindings(tls: Pki, https: HttpsServer,
                                             tmp_path: Path) -> None:
    """Kerberos (against opensspi's own KDC) with our ENDPOINT_BINDINGS: accepted by an
    acceptor whose bindings were computed independently; other bindings are refused."""
    from opensspi.packages.kerberos import KerberosAuthData
    from opensspi.packages.kerberos.tickets import TicketCache
    from opensspi.provider import AuthIdentity
    from opensspi.testing.kdc import MiniKdc

    cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root]))
    conn = Conn(https.port, cred)
    conn.handshake()
    ours = sspi.QueryContextAttributes(conn.ctx, SecPkgAttr.ENDPOINT_BINDINGS).channel_bindings
    conn.close()
    independent = ChannelBindings.from_application_data(
        b"tls-server-end-point:" + hashlib.sha256(tls.server.der).digest())
    kdc = MiniKdc("EXAMPLE.TEST")
    kdc.add_user("alice", "Passw0rd!")
    service = kdc.add_service("HTTP/localhost")
    TicketCache.forget_all()
    with kdc.serve():
        keytab = kdc.write_keytab(tmp_path / "http.keytab", service)
        config = kdc.krb5_config()

        def krb_pair(server_bindings: ChannelBindings) -> ContextPair:
            client = opensspi.client(
                "Kerberos", target="HTTP/localhost", channel_bindings=ours,
                auth_data=KerberosAuthData(identity=AuthIdentity("alice", "EXAMPLE.TEST",
                                                                 "Passw0rd!"), config=config))
            server = opensspi.server("Kerberos", channel_bindings=server_bindings,
                                     auth_data=KerberosAuthData(acceptor_keytab=str(keytab),
                                                                config=config))
            return ContextPair(client, server)

        good = krb_pair(independent).run()
        assert good.server.complete
        wrong = ChannelBindings.from_application_data(b"tls-server-end-point:" + b"\1" * 32)
        with pytest.raises(SspiError) as err:
            krb_pair(wrong).run()
        assert err.value.status == SecStatus.SEC_E_BAD_BINDINGS


def test_peer_close_notify_and_truncation(openssl: None, tls: Pki) -> None:
    """A peer's close_notify (Python's ssl server, ``unwrap()``) is SEC_I_CONTEXT_EXPIRED; after
    ApplyControlToken(SCHANNEL_SHUTDOWN) our close_notify goes back. s_server's ``Q`` instead
    drops the connection without close_notify (OpenSSL 3.0): the stream ends and
    DecryptMessage never claims an orderly close, so the caller can tell a truncation."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls.cert), str(tls.key))
    listener = socket.create_server(("127.0.0.1", 0))
    got: dict[str, bytes] = {}

    def serve() -> None:
        sock, _ = listener.accept()
        tls_sock = ctx.wrap_socket(sock, server_side=True)
        tls_sock.sendall(b"bye\n")
        raw = tls_sock.unwrap()  # sends close_notify, waits for ours
        got["after"] = raw.recv(100)
        raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    cred = acquire(OUT, SCHANNEL_CRED(hRootStore=[tls.root]))
    conn = Conn(listener.getsockname()[1], cred)
    conn.handshake()
    plain = conn.recv_until(b"\0never")
    assert plain == b"bye\n" and conn.statuses[-1] == SecStatus.SEC_I_CONTEXT_EXPIRED
    conn.shutdown()
    conn.close()
    thread.join(10)
    listener.close()
    assert got["after"] == b""  # unwrap() accepted our close_notify; nothing else followed
    srv, port = s_server(tls.cert, tls.key, "-tls1_2")
    with srv:
        conn = Conn(port, cred)
        conn.handshake()
        srv.command("Q")
        with pytest.raises(ConnectionError):
            conn.recv_until(b"\0never")
        assert SecStatus.SEC_I_CONTEXT_EXPIRED not in conn.statuses
        conn.close()


def test_tls_stream_sees_close_notify(tls: Pki) -> None:
    """The socket helper against Python's ssl server: data, then the server's close_notify
    ends ``recv`` with b"", and ``close`` answers with ours."""
    from opensspi.packages.schannel import tls_connect

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls.cert), str(tls.key))
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, bytes] = {}

    def serve() -> None:
        sock, _ = listener.accept()
        tls_sock = ctx.wrap_socket(sock, server_side=True)
        seen["request"] = tls_sock.recv(100)
        tls_sock.sendall(b"answer")
        raw = tls_sock.unwrap()
        raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    stream = tls_connect("127.0.0.1", listener.getsockname()[1], target="localhost",
                         credential=SCHANNEL_CRED(hRootStore=[tls.root]))
    stream.sendall(b"question")
    data = b""
    while True:
        chunk = stream.recv()
        if not chunk:
            break
        data += chunk
    assert data == b"answer" and stream.context.peer_closed
    stream.close()
    thread.join(10)
    listener.close()
    assert seen["request"] == b"question"
