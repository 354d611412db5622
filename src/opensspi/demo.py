"""The demonstration: every package authenticates against opensspi's own acceptor.

Each scenario drives the Windows-shaped functions exactly as a Windows program would —
AcquireCredentialsHandle, then InitializeSecurityContext / AcceptSecurityContext in a loop,
then the message functions — and prints a transcript: each token summarised, each status code
and the context attributes by name.

Run: ``python -m opensspi.demo`` (``--package NTLM`` for one package's scenarios).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

from . import registry, sspi
from .attributes import NegotiationInfo
from .buffers import SecBuffer, SecBufferDesc
from .constants import (
    AscReq,
    AscRet,
    CredentialUse,
    IscReq,
    IscRet,
    SecBufferType,
    SecPkgAttr,
    SecStatus,
)
from .errors import DecodeError, SspiError
from .provider import AuthIdentity, Sizes

Out = Callable[[str], None]
_SCHANNEL_NAMES = {"schannel", "default tls ssp", "microsoft unified security protocol provider"}
T = SecBufferType


@dataclass
class Scenario:
    """One demonstration: a package, how to get credentials, and what to ask for."""

    package: str
    title: str
    client_auth: object
    server_auth: object
    target: str
    isc_req: int
    asc_req: int
    client_params: list[bytes] = field(default_factory=list)
    server_params: list[bytes] = field(default_factory=list)
    server_first: bool = False
    protect: Callable[[sspi.CtxtHandle, sspi.CtxtHandle, Out], None] | None = None
    # Starts what the scenario needs (a KDC) and yields the two credentials' pAuthData.
    prepare: Callable[[Out], AbstractContextManager[tuple[object, object]]] | None = None


_MECH_NAMES = {"1.2.840.48018.1.2.2": "MS-KRB5", "1.2.840.113554.1.2.2": "KRB5",
               "1.3.6.1.4.1.311.2.2.10": "NTLM"}


def _spnego_summary(token: bytes) -> str | None:
    """A SPNEGO token in one line (the inner token summarised too), or None if it is not one."""
    from .packages.negotiate import asn1

    try:
        message = asn1.decode_token(token)
    except DecodeError:
        return None
    parts: list[str] = []
    inner: bytes | None
    if isinstance(message, asn1.NegTokenResp):
        if message.neg_state is not None:
            parts.append(f"negState {message.neg_state.name.lower().replace('_', '-')}")
        if message.supported_mech is not None:
            parts.append(f"supportedMech {_MECH_NAMES.get(message.supported_mech, '?')}")
        inner, kind = message.response_token, "NegTokenResp"
    else:
        names = ", ".join(_MECH_NAMES.get(m, m) for m in message.mech_types)
        parts.append(f"mechTypes [{names}]")
        inner, kind = message.mech_token, type(message).__name__
    if message.mech_list_mic is not None:
        parts.append(f"mechListMIC {len(message.mech_list_mic)} bytes")
    text = f"SPNEGO {kind} ({'; '.join(parts)}), {len(token)} bytes"
    if inner:
        text += f"\n           carrying {_summary(inner)}"
    return text


def _summary(token: bytes) -> str:
    if token[:1] in (b"\x60", b"\xa1") and (spnego := _spnego_summary(token)) is not None:
        return spnego
    if token.startswith(b"NTLMSSP\0") and len(token) > 8:
        kind = {1: "NEGOTIATE", 2: "CHALLENGE", 3: "AUTHENTICATE"}.get(token[8], "?")
        return f"NTLMSSP {kind}, {len(token)} bytes: {token[:24].hex()}..."
    krb5 = bytes.fromhex("06092a864886f712010202")
    if token[:1] == b"\x60" and krb5 in token[:16]:
        at = token.index(krb5) + len(krb5)
        kind = {b"\x01\x00": "AP-REQ", b"\x02\x00": "AP-REP", b"\x03\x00": "KRB-ERROR"}.get(
            token[at : at + 2], "token")
        return f"Kerberos {kind} (GSS-framed), {len(token)} bytes: {token[:24].hex()}..."
    text = token[:96].decode("latin-1")
    if text.isprintable():
        return f"{len(token)} bytes: {text}{'...' if len(token) > 96 else ''}"
    return f"{len(token)} bytes: {token[:24].hex()}..."


def _flags(value: int, enum: type[IscRet] | type[AscRet]) -> str:
    names = [m.name for m in enum if m.value & value and m.name]
    return "|".join(names) or "0"


def _sizes(ctx: sspi.CtxtHandle) -> Sizes:
    sizes = sspi.QueryContextAttributes(ctx, SecPkgAttr.SIZES)
    assert isinstance(sizes, Sizes)
    return sizes


def protect_sign_and_seal(client: sspi.CtxtHandle, server: sspi.CtxtHandle, out: Out) -> None:
    """MakeSignature/VerifySignature and EncryptMessage/DecryptMessage in the TOKEN shapes."""
    sizes = _sizes(client)
    message = b"Hello from opensspi"
    signed = SecBufferDesc([SecBuffer(T.DATA, message), SecBuffer(T.TOKEN, sizes.max_signature)])
    sspi.MakeSignature(client, 0, signed, 0)
    out(f"client MakeSignature -> signature {signed[1].buffer.hex()}")
    out(f"server VerifySignature -> {sspi.VerifySignature(server, signed, 0).status.name}")
    sealed = SecBufferDesc([SecBuffer(T.TOKEN, sizes.security_trailer),
                            SecBuffer(T.DATA, message), SecBuffer(T.PADDING, sizes.block_size)])
    sspi.EncryptMessage(client, 0, sealed, 1)
    out(f"client EncryptMessage -> ciphertext {sealed[1].buffer.hex()}")
    result = sspi.DecryptMessage(server, sealed, 1)
    out(f"server DecryptMessage -> {result.status.name}: {sealed[1].buffer!r}")
    second = SecBufferDesc([SecBuffer(T.TOKEN, sizes.security_trailer),
                            SecBuffer(T.DATA, b"second message"),
                            SecBuffer(T.PADDING, sizes.block_size)])
    sspi.EncryptMessage(client, 0, second, 2)
    tampered = bytearray(second[1].buffer)
    tampered[0] ^= 1
    second[1].buffer = bytes(tampered)
    try:
        sspi.DecryptMessage(server, second, 2)
        out("server DecryptMessage of a tampered message -> accepted (unexpected!)")
    except SspiError as exc:
        out(f"server DecryptMessage of a tampered message -> {exc.status.name}")


def protect_digest_sasl(client: sspi.CtxtHandle, server: sspi.CtxtHandle, out: Out) -> None:
    """Digest's own shapes: EncryptMessage DATA + PADDING, DecryptMessage one DATA buffer."""
    sizes = _sizes(client)
    sealed = SecBufferDesc([SecBuffer(T.DATA, b"a1 LOGIN over the SASL layer"),
                            SecBuffer(T.PADDING, sizes.max_signature + sizes.block_size)])
    sspi.EncryptMessage(client, 0, sealed, 0)
    frame = sealed[0].buffer + sealed[1].buffer
    out(f"client EncryptMessage (auth-conf) -> frame {_summary(frame)}")
    desc = SecBufferDesc([SecBuffer(T.DATA, frame)])
    result = sspi.DecryptMessage(server, desc, 0)
    out(f"server DecryptMessage -> {result.status.name}: {desc[0].buffer!r}")
    try:
        sspi.DecryptMessage(server, SecBufferDesc([SecBuffer(T.DATA, frame)]), 0)
        out("server DecryptMessage of the same frame again -> accepted (unexpected!)")
    except SspiError as exc:
        out(f"server DecryptMessage of the same frame again -> {exc.status.name}")


def protect_digest_http(client: sspi.CtxtHandle, server: sspi.CtxtHandle, out: Out) -> None:
    """A follow-on request on the same context: MakeSignature's five-buffer HTTP shape."""
    desc = SecBufferDesc([
        SecBuffer(T.TOKEN, b""), SecBuffer(T.PKG_PARAMS, b"GET"),
        SecBuffer(T.PKG_PARAMS, b"/reports/2026.html"), SecBuffer(T.PKG_PARAMS, b""),
        SecBuffer(T.PADDING, 1024),
    ])
    sspi.MakeSignature(client, 0, desc, 0)
    out(f"client MakeSignature (next request) -> Authorization: Digest {_summary(desc[4].buffer)}")


def scenarios() -> list[Scenario]:
    """The scenarios for every installed package."""
    alice = AuthIdentity("alice", "CORP", "Passw0rd!")
    both_i = IscReq.INTEGRITY | IscReq.CONFIDENTIALITY | IscReq.REPLAY_DETECT
    both_a = AscReq.INTEGRITY | AscReq.CONFIDENTIALITY | AscReq.REPLAY_DETECT
    result = [
        Scenario(
            "NTLM", "NTLM (MS-NLMP): NTLMv2, extended session security, key exchange, MIC",
            alice, {"CORP\\alice": "Passw0rd!"}, "HTTP/web.corp.example",
            both_i | IscReq.SEQUENCE_DETECT, both_a | AscReq.SEQUENCE_DETECT,
            protect=protect_sign_and_seal,
        ),
    ]
    result.append(Scenario(
        "Kerberos", "Kerberos (RFC 4120/4121): AS and TGS against opensspi's own KDC, mutual "
        "authentication, AES256", None, None, "HTTP/web.example.test",
        both_i | IscReq.SEQUENCE_DETECT | IscReq.MUTUAL_AUTH, both_a | AscReq.SEQUENCE_DETECT,
        protect=protect_sign_and_seal, prepare=kerberos_realm,
    ))
    result += [
        Scenario(
            "Negotiate", "Negotiate (SPNEGO, MS-SPNG) chooses Kerberos: the KDC knows the SPN, "
            "so the NegTokenInit carries an optimistic AP-REQ", None, None,
            "HTTP/web.example.test", both_i | IscReq.SEQUENCE_DETECT | IscReq.MUTUAL_AUTH,
            both_a | AscReq.SEQUENCE_DETECT, protect=protect_sign_and_seal,
            prepare=negotiate_realm,
        ),
        Scenario(
            "Negotiate", "Negotiate falls back to NTLM: the KDC does not know "
            "HTTP/intranet.example.test, so only NTLM is offered (mechListMIC both ways)",
            None, None, "HTTP/intranet.example.test", both_i | IscReq.SEQUENCE_DETECT,
            both_a | AscReq.SEQUENCE_DETECT, protect=protect_sign_and_seal,
            prepare=negotiate_realm,
        ),
    ]
    if "wdigest" in {n.lower() for n in registry.names()}:
        from .packages.digest.credentials import DigestAcceptorConfig

        result += [
            Scenario(
                "WDigest", "Digest, HTTP mode (RFC 7616): SHA-256, qop=auth, rspauth checked",
                AuthIdentity("alice", None, "Passw0rd!"),
                DigestAcceptorConfig(realm="api@example.com", passwords={"alice": "Passw0rd!"}),
                "/reports/index.html", IscReq.USE_HTTP_STYLE | IscReq.MUTUAL_AUTH, 0x10000000,
                client_params=[b"GET"], server_params=[b"GET", b"/reports/index.html"],
                server_first=True, protect=protect_digest_http,
            ),
            Scenario(
                "WDigest", "Digest, SASL mode (RFC 2831 DIGEST-MD5): auth-conf with rc4",
                AuthIdentity("alice", None, "Passw0rd!"),
                DigestAcceptorConfig(realm="example.com", passwords={"alice": "Passw0rd!"}),
                "imap/mail.example.com", both_i | IscReq.MUTUAL_AUTH, both_a,
                protect=protect_digest_sasl,
            ),
        ]
    installed = {name.lower() for name in registry.names()}
    return [s for s in result if s.package.lower() in installed]


@contextmanager
def kerberos_realm(out: Out) -> Iterator[tuple[object, object]]:
    """opensspi's built-in KDC (``opensspi.testing.kdc``) on 127.0.0.1 for the demonstration."""
    import tempfile
    from pathlib import Path

    from .packages.kerberos import KerberosAuthData
    from .packages.kerberos.tickets import TicketCache
    from .testing.kdc import MiniKdc

    kdc = MiniKdc("EXAMPLE.TEST")
    kdc.add_user("alice", "Passw0rd!")
    service = kdc.add_service("HTTP/web.example.test", ok_as_delegate=True)
    TicketCache.forget_all()
    with tempfile.TemporaryDirectory() as tmp, kdc.serve() as server:
        keytab = kdc.write_keytab(Path(tmp) / "web.keytab", service)
        config = kdc.krb5_config()
        out(f"MiniKdc: realm EXAMPLE.TEST on 127.0.0.1:{server.port} (UDP and TCP), "
            f"service keytab for {service}")
        yield (
            KerberosAuthData(identity=AuthIdentity("alice", "EXAMPLE.TEST", "Passw0rd!"),
                             config=config),
            KerberosAuthData(acceptor_keytab=str(keytab), config=config),
        )
        out(f"MiniKdc answered {server.stats.udp} UDP and {server.stats.tcp} TCP requests "
            "(AS-REQ twice for preauth, then TGS-REQ)")


@contextmanager
def negotiate_realm(out: Out) -> Iterator[tuple[object, object]]:
    """The same MiniKdc realm for Negotiate: Kerberos and NTLM credentials from one identity,
    an acceptor with a keytab and an NTLM user database."""
    from .packages.kerberos import KerberosAuthData
    from .packages.negotiate import NegotiateAuthData

    with kerberos_realm(out) as (client_krb, server_krb):
        assert isinstance(client_krb, KerberosAuthData)
        yield (
            NegotiateAuthData(identity=client_krb.identity, kerberos=client_krb),
            NegotiateAuthData(kerberos=server_krb,
                              ntlm={"EXAMPLE.TEST\\alice": "Passw0rd!"}),
        )


def _input(token: bytes | None, params: list[bytes]) -> SecBufferDesc | None:
    if token is None and not params:
        return None
    buffers = [SecBuffer(T.TOKEN, token)] if token is not None else []
    return SecBufferDesc(buffers + [SecBuffer(T.PKG_PARAMS, p) for p in params])


def run(scenario: Scenario, out: Out = print) -> None:
    """Authenticate and protect messages with ``scenario``, printing what happened."""
    out(f"\n=== {scenario.title}")
    preparing = scenario.prepare(out) if scenario.prepare else nullcontext(
        (scenario.client_auth, scenario.server_auth))
    with preparing as (client_auth, server_auth):
        _run(scenario, client_auth, server_auth, out)


def _run(scenario: Scenario, client_auth: object, server_auth: object, out: Out) -> None:
    info = sspi.QuerySecurityPackageInfo(scenario.package)
    out(f"QuerySecurityPackageInfo -> {info.name}: {info.comment}, cbMaxToken={info.max_token}")
    _, client_cred, _ = sspi.AcquireCredentialsHandle(
        None, scenario.package, CredentialUse.OUTBOUND, None, client_auth)
    _, server_cred, _ = sspi.AcquireCredentialsHandle(
        None, scenario.package, CredentialUse.INBOUND, None, server_auth)
    out("AcquireCredentialsHandle -> client (OUTBOUND) and server (INBOUND) handles")
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    token: bytes | None = None
    client_done = server_done = False
    clients_turn = not scenario.server_first
    for _ in range(12):
        if clients_turn:
            output = SecBufferDesc([SecBuffer(T.TOKEN, info.max_token)])
            params = scenario.client_params if token is not None else []
            isc = sspi.InitializeSecurityContext(
                client_cred, client if client.is_valid else None, scenario.target,
                scenario.isc_req, 0, 0, _input(token, params), 0, client, output)
            client_done = isc.status == SecStatus.SEC_E_OK
            token = output[0].buffer or None
            out(f"  client InitializeSecurityContext -> {isc.status.name}")
            out(f"         attrs {_flags(isc.context_attr, IscRet)}")
        else:
            output = SecBufferDesc([SecBuffer(T.TOKEN, info.max_token)])
            params = scenario.server_params if token is not None else []
            asc = sspi.AcceptSecurityContext(
                server_cred, server if server.is_valid else None, _input(token, params),
                scenario.asc_req, 0, server, output)
            server_done = asc.status == SecStatus.SEC_E_OK
            token = output[0].buffer or None
            out(f"  server AcceptSecurityContext     -> {asc.status.name}")
            out(f"         attrs {_flags(asc.context_attr, AscRet)}")
        if token is not None:
            out(f"         sends {_summary(token)}")
        clients_turn = not clients_turn
        if client_done and server_done and token is None:
            break
    if scenario.package == "Negotiate":
        for side, handle in (("client", client), ("server", server)):
            nego = sspi.QueryContextAttributes(handle, SecPkgAttr.NEGOTIATION_INFO)
            assert isinstance(nego, NegotiationInfo)
            out(f"{side} QueryContextAttributes(NEGOTIATION_INFO) -> "
                f"{nego.package_info.name}, {nego.negotiation_state.name}")
    out(f"server QueryContextAttributes(NAMES) -> "
        f"{sspi.QueryContextAttributes(server, SecPkgAttr.NAMES)}")
    out(f"client QueryContextAttributes(SIZES) -> {_sizes(client)}")
    if scenario.protect is not None:
        scenario.protect(client, server, out)
    for handle in (client, server):
        sspi.DeleteSecurityContext(handle)
    sspi.FreeCredentialsHandle(client_cred)
    sspi.FreeCredentialsHandle(server_cred)


# -- Schannel: TLS through the same functions ------------------------------------------------

_RECORD_TYPES = {20: "ChangeCipherSpec", 21: "Alert", 22: "Handshake", 23: "ApplicationData"}


def _records(data: bytes) -> str:
    """``data`` as the TLS records it holds: type and length."""
    parts, at = [], 0
    while at + 5 <= len(data):
        size = int.from_bytes(data[at + 3:at + 5], "big")
        parts.append(f"{_RECORD_TYPES.get(data[at], data[at])}({size})")
        at += 5 + size
    return ", ".join(parts) + (f" +{len(data) - at} bytes" if at < len(data) else "")


def _tls_leg(cred: sspi.CredHandle, ctx: sspi.CtxtHandle, data: bytes | None, req: int,
             server: bool) -> tuple[SecStatus, bytes, bytes]:
    """One ISC (``server`` False) or ASC call with [TOKEN, EMPTY] in and [TOKEN, ALERT] out."""
    inp = SecBufferDesc([SecBuffer(T.TOKEN, data), SecBuffer(T.EMPTY)]) \
        if data is not None else None
    out = SecBufferDesc([SecBuffer(T.TOKEN, 0), SecBuffer(T.ALERT, 0)])
    valid = ctx if ctx.is_valid else None
    if server:
        status = sspi.AcceptSecurityContext(cred, valid, inp, req, 0, ctx, out).status
    else:
        status = sspi.InitializeSecurityContext(cred, valid, "localhost", req, 0, 0, inp, 0,
                                                ctx, out).status
    extra = inp[1].buffer if inp is not None and inp[1].kind == T.EXTRA else b""
    return status, out[0].buffer, extra


def tls_demo(out: Out = print) -> None:
    """A TLS handshake against opensspi's own Schannel acceptor, then one HTTPS request to an
    in-process HTTPS server, both through InitializeSecurityContext and the stream functions."""
    import socket
    import ssl
    import tempfile
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from pathlib import Path

    from .packages.schannel import SCHANNEL_CRED, CertContext, ContextBindings
    from .testing.tls import TestPki

    out("\n=== Schannel (TLS 1.3): opensspi's client against opensspi's acceptor")
    pki = TestPki()
    issued = pki.server("localhost")
    root = CertContext.load(pki.ca.cert_pem)
    _, ccred, _ = sspi.AcquireCredentialsHandle(
        None, "Schannel", CredentialUse.OUTBOUND, None, SCHANNEL_CRED(hRootStore=[root]))
    _, scred, _ = sspi.AcquireCredentialsHandle(
        None, "Schannel", CredentialUse.INBOUND, None,
        SCHANNEL_CRED(paCred=[CertContext.load(issued.cert_pem, issued.key_pem)]))
    out("AcquireCredentialsHandle -> client (hRootStore: the test CA), server (its certificate)")
    isc_req = int(IscReq.CONFIDENTIALITY | IscReq.STREAM | IscReq.ALLOCATE_MEMORY
                  | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT)
    asc_req = int(AscReq.CONFIDENTIALITY | AscReq.STREAM | AscReq.ALLOCATE_MEMORY)
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    status, token, _ = _tls_leg(ccred, client, None, isc_req,
                                False)
    out(f"  client InitializeSecurityContext -> {status.name}: {_records(token)}")
    status, token, _ = _tls_leg(scred, server, token, asc_req, True)
    out(f"  server AcceptSecurityContext     -> {status.name}: {_records(token)}")
    status, reply, _ = _tls_leg(ccred, client, token, isc_req,
                                False)
    out(f"  client InitializeSecurityContext -> {status.name}: {_records(reply)}")
    status, tickets, _ = _tls_leg(scred, server, reply, asc_req,
                                  True)
    out(f"  server AcceptSecurityContext     -> {status.name}: {_records(tickets)}")
    for attr in (SecPkgAttr.CONNECTION_INFO, SecPkgAttr.STREAM_SIZES, SecPkgAttr.SESSION_INFO):
        out(f"client QueryContextAttributes({attr.name}) -> "
            f"{sspi.QueryContextAttributes(client, attr)}")
    bindings = sspi.QueryContextAttributes(client, SecPkgAttr.ENDPOINT_BINDINGS)
    assert isinstance(bindings, ContextBindings)
    out(f"client ENDPOINT_BINDINGS (for NTLM/Kerberos) -> "
        f"{bindings.channel_bindings.application_data[:21]!r} + SHA-256 of the certificate")
    record = _tls_encrypt(client, b"Hello over TLS from opensspi")
    out(f"client EncryptMessage -> one record: {_records(record)}")
    status, plain, _ = _tls_decrypt(server, record[:7])
    out(f"server DecryptMessage of 7 bytes -> {status.name} (SECBUFFER_MISSING says "
        f"{len(record) - 7} more)")
    status, plain, _ = _tls_decrypt(server, record)
    out(f"server DecryptMessage -> {status.name}: {plain!r}")

    out("\n=== Schannel: one HTTPS request to an in-process HTTPS server (Python's http.server)")
    body = b"<h1>served over TLS to opensspi</h1>\n"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = issued.write(Path(tmp), "server")
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.load_cert_chain(str(cert_path), str(key_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = tls_ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            https = sspi.CtxtHandle()
            status, token, _ = _tls_leg(ccred, https, None,
                                        isc_req, False)
            sock.sendall(token)
            buf = b""
            legs = 1
            while status != SecStatus.SEC_E_OK:
                buf += sock.recv(65536)
                status, token, extra = _tls_leg(ccred, https,
                                                buf, isc_req, False)
                if status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                    continue
                legs += 1
                sock.sendall(token)
                buf = extra
            out(f"handshake with 127.0.0.1:{port} done in {legs} InitializeSecurityContext "
                "calls")
            sock.sendall(_tls_encrypt(https, b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                                             b"Connection: close\r\n\r\n"))
            out("client EncryptMessage -> GET / sent")
            reply = b""
            while body not in reply:
                if not buf:
                    buf = sock.recv(65536)
                    if not buf:
                        break
                status, plain, extra = _tls_decrypt(https, buf)
                if status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                    buf += sock.recv(65536)
                    continue
                reply += plain
                buf = extra
                if status == SecStatus.SEC_I_RENEGOTIATE:
                    out("client DecryptMessage -> SEC_I_RENEGOTIATE (NewSessionTicket); "
                        "InitializeSecurityContext -> "
                        f"{_tls_leg(ccred, https, None, isc_req, False)[0].name}")
            head, _, content = reply.partition(b"\r\n\r\n")
            out(f"client DecryptMessage -> {head.splitlines()[0].decode()}; body {content!r}")
    finally:
        httpd.shutdown()
        httpd.server_close()


def _tls_encrypt(ctx: sspi.CtxtHandle, data: bytes) -> bytes:
    from .message import StreamSizes

    sizes = sspi.QueryContextAttributes(ctx, SecPkgAttr.STREAM_SIZES)
    assert isinstance(sizes, StreamSizes)
    desc = SecBufferDesc([SecBuffer(T.STREAM_HEADER, sizes.header), SecBuffer(T.DATA, data),
                          SecBuffer(T.STREAM_TRAILER, sizes.trailer), SecBuffer(T.EMPTY)])
    sspi.EncryptMessage(ctx, 0, desc, 0)
    return desc[0].buffer + desc[1].buffer + desc[2].buffer


def _tls_decrypt(ctx: sspi.CtxtHandle, data: bytes) -> tuple[SecStatus, bytes, bytes]:
    desc = SecBufferDesc([SecBuffer(T.DATA, data), SecBuffer(T.EMPTY), SecBuffer(T.EMPTY),
                          SecBuffer(T.EMPTY)])
    status = sspi.DecryptMessage(ctx, desc, 0).status
    plain = b"".join(b.buffer for b in desc if b.kind == T.DATA and status == SecStatus.SEC_E_OK)
    extra = b"".join(b.buffer for b in desc if b.kind == T.EXTRA)
    return status, plain, extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="opensspi demonstration")
    parser.add_argument("--package", help="run only this package's scenarios")
    args = parser.parse_args(argv)
    print("opensspi demonstration: each package against opensspi's own acceptor")
    print("EnumerateSecurityPackages -> "
          + ", ".join(p.name for p in sspi.EnumerateSecurityPackages()))
    chosen = [s for s in scenarios()
              if args.package is None or s.package.lower() == args.package.lower()]
    tls = args.package is None or args.package.lower() in _SCHANNEL_NAMES
    if not chosen and not tls:
        print(f"no scenario for package {args.package!r}", file=sys.stderr)
        return 2
    for scenario in chosen:
        run(scenario)
    if tls:
        tls_demo()
    print("\nall scenarios completed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
