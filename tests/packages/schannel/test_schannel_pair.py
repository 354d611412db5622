"""Schannel: our client against our acceptor through the Windows-shaped functions."""

from __future__ import annotations

import contextlib
import ssl
import struct

import pytest

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import (
    SCHANNEL_SHUTDOWN,
    SSL_SESSION_RECONNECT,
    AscReq,
    CredentialUse,
    IscReq,
    IscRet,
    SchCred,
    SecBufferType,
    SecPkgAttr,
    SecStatus,
    SpProt,
)
from opensspi.errors import SspiError
from opensspi.packages.schannel import (
    CRYPTO_SETTINGS,
    SCH_CREDENTIALS,
    SCHANNEL_CRED,
    TLS_PARAMETERS,
    ApplicationProtocol,
    CertContext,
    ConnectionInfo,
    ContextBindings,
    SessionInfo,
    application_protocols,
)
from opensspi.testing.tls import TestPki
from support.require import require_module
from support.tls import ISC_REQ, acquire, asc, decrypt, decrypt_all, encrypt, handshake, isc

T = SecBufferType
OUT, IN = CredentialUse.OUTBOUND, CredentialUse.INBOUND
TLS12 = SpProt.TLS1_2_CLIENT | SpProt.TLS1_2_SERVER
TLS13 = SpProt.TLS1_3_CLIENT | SpProt.TLS1_3_SERVER


def creds(server_ctx: CertContext, root: CertContext, engine: str = "stdlib",
          protocols: int = 0, **client: object) -> tuple[sspi.CredHandle, sspi.CredHandle]:
    scred = acquire(IN, SCHANNEL_CRED(paCred=[server_ctx], engine=engine,
                                      grbitEnabledProtocols=protocols))
    ccred = acquire(OUT, SCHANNEL_CRED(hRootStore=[root], engine=engine,  # type: ignore[arg-type]
                                       grbitEnabledProtocols=protocols, **client))
    return ccred, scred


@pytest.mark.parametrize("protocols,version", [(TLS12, "TLSv1.2"), (TLS13, "TLSv1.3")])
def test_handshake_bytes_one_at_a_time(server_ctx: CertContext, root: CertContext, engine: str,
                                       protocols: int, version: str) -> None:
    """Every ISC/ASC input arrives one byte at a time: SEC_E_INCOMPLETE_MESSAGE with the exact
    SECBUFFER_MISSING count, nothing consumed, until a whole record is there."""
    ccred, scred = creds(server_ctx, root, engine, protocols)
    c, s = sspi.CtxtHandle(), sspi.CtxtHandle()
    leg = isc(ccred, c, "localhost", None)
    assert leg.status == SecStatus.SEC_I_CONTINUE_NEEDED
    wire, to_client = leg.token, True
    side_done = {"client": False, "server": False}
    while wire:
        buf = b""
        record_len = 5 + int.from_bytes(wire[3:5], "big")
        for i, byte in enumerate(wire):
            buf += bytes((byte,))
            leg = asc(scred, s, buf) if to_client else isc(ccred, c, "localhost", buf)
            if leg.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE:
                expected = 5 - len(buf) if len(buf) < 5 else record_len - len(buf)
                assert leg.missing == expected
                assert leg.token == b""
                continue
            assert leg.status in (SecStatus.SEC_I_CONTINUE_NEEDED, SecStatus.SEC_E_OK)
            # a whole record was consumed; EXTRA would name any byte beyond it
            assert leg.extra == b""
            buf = b""
            wire_rest = wire[i + 1:]
            if wire_rest:
                record_len = 5 + int.from_bytes(wire_rest[3:5], "big")
            if leg.token:
                assert not wire_rest
            if leg.status == SecStatus.SEC_E_OK:
                side_done["server" if to_client else "client"] = True
            reply = leg.token
        wire, to_client = reply, not to_client
        if side_done["client"] and side_done["server"]:
            break
    assert side_done == {"client": True, "server": True}
    info = sspi.QueryContextAttributes(c, SecPkgAttr.CONNECTION_INFO)
    assert isinstance(info, ConnectionInfo)
    expected_bit = SpProt.TLS1_3_CLIENT if version == "TLSv1.3" else SpProt.TLS1_2_CLIENT
    assert info.protocol == expected_bit


def test_extra_is_the_bytes_beyond_the_handshake(server_ctx: CertContext,
                                                 root: CertContext) -> None:
    """The server's last flight followed by application data in one read: ISC returns SEC_E_OK
    with SECBUFFER_EXTRA holding exactly the application record."""
    ccred, scred = creds(server_ctx, root, protocols=TLS12)
    c, s = sspi.CtxtHandle(), sspi.CtxtHandle()
    hello = isc(ccred, c, "localhost", None).token
    flight = asc(scred, s, hello).token
    leg = isc(ccred, c, "localhost", flight)
    final = asc(scred, s, leg.token)
    assert final.status == SecStatus.SEC_E_OK
    app = encrypt(s, b"early data after Finished")
    done = isc(ccred, c, "localhost", final.token + app)
    assert done.status == SecStatus.SEC_E_OK
    assert done.extra == app
    assert decrypt(c, done.extra).data == b"early data after Finished"


def test_flags_are_computed(server_ctx: CertContext, root: CertContext) -> None:
    ccred, _scred = creds(server_ctx, root)
    c, _s = sspi.CtxtHandle(), sspi.CtxtHandle()
    leg = isc(ccred, c, "localhost", None, ISC_REQ | IscReq.MANUAL_CRED_VALIDATION)
    assert leg.attrs & IscRet.STREAM and leg.attrs & IscRet.CONFIDENTIALITY
    assert leg.attrs & IscRet.MANUAL_CRED_VALIDATION
    assert leg.attrs & IscRet.ALLOCATED_MEMORY
    assert not leg.attrs & IscRet.USED_SUPPLIED_CREDS


def test_data_phase_records(server_ctx: CertContext, root: CertContext, engine: str) -> None:
    ccred, scred = creds(server_ctx, root, engine)
    c, s, tickets = handshake(ccred, scred)
    plain, statuses = decrypt_all(c, ccred, tickets)
    assert plain == b"" and set(statuses) <= {SecStatus.SEC_I_RENEGOTIATE}
    sizes = sspi.QueryContextAttributes(c, SecPkgAttr.STREAM_SIZES)
    assert (sizes.header, sizes.trailer, sizes.max_message, sizes.buffers) == (5, 17, 16384, 4)
    big = bytes(range(256)) * 64  # 16384 bytes: exactly one record
    record = encrypt(c, big)
    assert len(record) == 16384 + 22
    opened = decrypt(s, record)
    assert opened.status == SecStatus.SEC_E_OK and opened.data == big
    kinds = [b.kind for b in opened.desc]
    assert kinds == [T.STREAM_HEADER, T.DATA, T.STREAM_TRAILER, T.EMPTY]
    with pytest.raises(SspiError) as err:
        encrypt(c, big + b"x")
    assert err.value.status == SecStatus.SEC_E_INVALID_PARAMETER
    two = encrypt(c, b"first") + encrypt(c, b"second")
    first = decrypt(s, two)
    assert first.data == b"first" and first.desc[3].kind == T.EXTRA
    second = decrypt(s, first.extra)
    assert second.data == b"second" and second.extra == b""
    partial = encrypt(c, b"partial")
    for cut in (1, 4, 5, len(partial) - 1):
        opened = decrypt(s, partial[:cut])
        assert opened.status == SecStatus.SEC_E_INCOMPLETE_MESSAGE
        assert opened.missing == (5 - cut if cut < 5 else len(partial) - cut)
    assert decrypt(s, partial).data == b"partial"


def test_tls12_header_and_trailer_sizes(server_ctx: CertContext, root: CertContext) -> None:
    ccred, scred = creds(server_ctx, root, protocols=TLS12)
    c, s, _ = handshake(ccred, scred)
    sizes = sspi.QueryContextAttributes(c, SecPkgAttr.STREAM_SIZES)
    assert (sizes.header, sizes.trailer) == (13, 16)  # AES-GCM: explicit nonce + tag
    record = encrypt(c, b"x" * 100)
    assert len(record) == 129
    opened = decrypt(s, record)
    assert len(opened.desc[0].buffer) == 13 and len(opened.desc[2].buffer) == 16


def test_tampered_record_is_a_decrypt_failure_with_alert(server_ctx: CertContext,
                                                         root: CertContext) -> None:
    ccred, scred = creds(server_ctx, root)
    c, s, _ = handshake(ccred, scred)
    record = bytearray(encrypt(c, b"secret"))
    record[10] ^= 0x01
    with pytest.raises(SspiError) as err:
        decrypt(s, bytes(record))
    assert err.value.status == SecStatus.SEC_E_DECRYPT_FAILURE
    assert err.value.token[:1] == b"\x15" or err.value.token[:1] == b"\x17"  # an alert record
    with pytest.raises(SspiError) as again:
        decrypt(s, encrypt(c, b"more"))
    assert again.value.status == SecStatus.SEC_E_CONTEXT_EXPIRED  # TLS errors are fatal


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\n\r\n", b"\x16\x09\x01\x00\x05abcde",
                                     b"\x17\x03\x03\xff\xff"])
def test_non_tls_bytes_fail_at_once(server_ctx: CertContext, root: CertContext,
                                    garbage: bytes) -> None:
    _ccred, scred = creds(server_ctx, root)
    with pytest.raises(SspiError) as err:
        asc(scred, sspi.CtxtHandle(), garbage)
    assert err.value.status == SecStatus.SEC_E_INVALID_TOKEN


def test_wrong_state_record(server_ctx: CertContext, root: CertContext) -> None:
    """A handshake record where application data belongs, and vice versa."""
    ccred, scred = creds(server_ctx, root, protocols=TLS12)
    c, _s = sspi.CtxtHandle(), sspi.CtxtHandle()
    hello = isc(ccred, c, "localhost", None).token
    with pytest.raises(SspiError) as err:
        isc(ccred, c, "localhost", hello)  # a ClientHello sent to a client
    assert err.value.status in (SecStatus.SEC_E_ILLEGAL_MESSAGE, SecStatus.SEC_E_INVALID_TOKEN)
    assert err.value.token[:1] == b"\x15"  # unexpected_message alert in the ALERT buffer
    _c2, s2, _ = handshake(ccred, scred)
    with pytest.raises(SspiError) as err2:
        decrypt(s2, hello)  # a fresh ClientHello in the data phase
    assert err2.value.status.is_error


def test_untrusted_root_wrong_name_and_expiry(server_ctx: CertContext, root: CertContext,
                                              pki: TestPki) -> None:
    other = TestPki("Another CA")
    ccred, _ = creds(server_ctx, CertContext.load(other.ca.cert_pem))
    _, scred = creds(server_ctx, root)
    out = SecBufferDesc([SecBuffer(T.TOKEN, 0), SecBuffer(T.ALERT, 0)])
    for target, cred, status, alert in (
        ("localhost", ccred, SecStatus.SEC_E_UNTRUSTED_ROOT, 48),  # unknown_ca
        ("www.example.com", creds(server_ctx, root)[0], SecStatus.SEC_E_WRONG_PRINCIPAL, 42),
    ):
        c, s = sspi.CtxtHandle(), sspi.CtxtHandle()
        flight = asc(scred, s, isc(cred, c, target, None).token).token
        inp = SecBufferDesc([SecBuffer(T.TOKEN, flight), SecBuffer(T.EMPTY)])
        with pytest.raises(SspiError) as err:
            sspi.InitializeSecurityContext(cred, c, target, ISC_REQ, 0, 0, inp, 0, c, out)
        assert err.value.status == status
        assert out[1].buffer[0] == 0x15 and out[1].buffer[-1] == alert
    expired = pki.server("localhost", expired=True)
    exp_ctx = CertContext.load(expired.cert_pem, expired.key_pem)
    ccred, scred = creds(exp_ctx, root)
    c, s = sspi.CtxtHandle(), sspi.CtxtHandle()
    flight = asc(scred, s, isc(ccred, c, "localhost", None).token).token
    with pytest.raises(SspiError) as err:
        isc(ccred, c, "localhost", flight)
    assert err.value.status == SecStatus.SEC_E_CERT_EXPIRED


def test_manual_validation_and_remote_cert(server_ctx: CertContext, root: CertContext) -> None:
    other = TestPki("Another CA")
    ccred, scred = creds(server_ctx, CertContext.load(other.ca.cert_pem))
    for req, flags in ((ISC_REQ | IscReq.MANUAL_CRED_VALIDATION, 0),
                       (ISC_REQ, SchCred.MANUAL_CRED_VALIDATION)):
        cc = acquire(OUT, SCHANNEL_CRED(dwFlags=flags)) if flags else ccred
        c, _s, _ = handshake(cc, scred, target="wrong.name", isc_req=req)
        remote = sspi.QueryContextAttributes(c, SecPkgAttr.REMOTE_CERT_CONTEXT)
        assert isinstance(remote, CertContext) and remote.der == server_ctx.der


def test_no_servername_check(server_ctx: CertContext, root: CertContext) -> None:
    ccred = acquire(OUT, SCHANNEL_CRED(hRootStore=[root], dwFlags=SchCred.NO_SERVERNAME_CHECK))
    _, scred = creds(server_ctx, root)
    handshake(ccred, scred, target="not-the-name.example")


def test_alpn(server_ctx: CertContext, root: CertContext, engine: str) -> None:
    ccred, _ = creds(server_ctx, root, engine)
    scred = acquire(IN, SCHANNEL_CRED(paCred=[server_ctx], alpn=["h2", "http/1.1"],
                                      engine=engine))
    offer = SecBuffer(T.APPLICATION_PROTOCOLS, application_protocols(["http/1.1"]))
    c, s, _ = handshake(ccred, scred, client_buffers=(offer,))
    chosen = sspi.QueryContextAttributes(c, SecPkgAttr.APPLICATION_PROTOCOL)
    assert chosen == ApplicationProtocol(1, 2, b"http/1.1")
    assert sspi.QueryContextAttributes(s, SecPkgAttr.APPLICATION_PROTOCOL).protocol_id == \
        b"http/1.1"
    plain_c, _, _ = handshake(ccred, scred)
    assert sspi.QueryContextAttributes(plain_c, SecPkgAttr.APPLICATION_PROTOCOL).status == 0
    only_h2 = acquire(IN, SCHANNEL_CRED(paCred=[server_ctx], alpn=["h2"], engine=engine))
    if engine == "stdlib":
        # Deviation: Python's ssl server declines without alert 120 (its ALPN callback cannot
        # fail the handshake); the handshake goes on without ALPN.
        c, s, _ = handshake(ccred, only_h2, client_buffers=(offer,))
        assert sspi.QueryContextAttributes(c, SecPkgAttr.APPLICATION_PROTOCOL).status == 0
        return
    c, s = sspi.CtxtHandle(), sspi.CtxtHandle()
    hello = isc(ccred, c, "localhost", None, extra_buffers=(offer,)).token
    with pytest.raises(SspiError) as server_err:
        asc(only_h2, s, hello)
    assert server_err.value.status == SecStatus.SEC_E_APPLICATION_PROTOCOL_MISMATCH
    alert = server_err.value.token
    assert alert[:1] == b"\x15" and alert[-1] == 120  # no_application_protocol
    with pytest.raises(SspiError) as client_err:
        isc(ccred, c, "localhost", alert)
    assert client_err.value.status == SecStatus.SEC_E_APPLICATION_PROTOCOL_MISMATCH


def test_session_cache_resumes_per_credential(server_ctx: CertContext, root: CertContext,
                                             engine: str) -> None:
    ccred, scred = creds(server_ctx, root, engine, TLS12)
    c1, _, _ = handshake(ccred, scred)
    assert sspi.QueryContextAttributes(c1, SecPkgAttr.SESSION_INFO).flags == 0
    c2, _, _ = handshake(ccred, scred)
    info = sspi.QueryContextAttributes(c2, SecPkgAttr.SESSION_INFO)
    assert isinstance(info, SessionInfo) and info.flags == SSL_SESSION_RECONNECT
    other_cred, _ = creds(server_ctx, root, engine, TLS12)  # a new handle: no reuse
    c3, _, _ = handshake(other_cred, scred)
    assert sspi.QueryContextAttributes(c3, SecPkgAttr.SESSION_INFO).flags == 0
    c4, _, _ = handshake(ccred, scred, target="127.0.0.1")  # another target: no reuse
    assert sspi.QueryContextAttributes(c4, SecPkgAttr.SESSION_INFO).flags == 0


def test_tls13_resumption_after_ticket(server_ctx: CertContext, root: CertContext) -> None:
    ccred, scred = creds(server_ctx, root, protocols=TLS13)
    c1, _s1, tickets = handshake(ccred, scred)
    _, statuses = decrypt_all(c1, ccred, tickets)  # SEC_I_RENEGOTIATE, then ISC stores it
    assert SecStatus.SEC_I_RENEGOTIATE in statuses
    c2, _, _ = handshake(ccred, scred)
    assert sspi.QueryContextAttributes(c2, SecPkgAttr.SESSION_INFO).flags == \
        SSL_SESSION_RECONNECT
    disabled = acquire(OUT, SCHANNEL_CRED(hRootStore=[root], grbitEnabledProtocols=TLS13,
                                          dwFlags=SchCred.DISABLE_RECONNECTS))
    d1, _, t = handshake(disabled, scred)
    decrypt_all(d1, disabled, t)
    d2, _, _ = handshake(disabled, scred)
    assert sspi.QueryContextAttributes(d2, SecPkgAttr.SESSION_INFO).flags == 0


def test_shutdown_gives_close_notify(server_ctx: CertContext, root: CertContext,
                                     engine: str) -> None:
    ccred, scred = creds(server_ctx, root, engine)
    c, s, tickets = handshake(ccred, scred)
    decrypt_all(c, ccred, tickets)
    token = SecBufferDesc([SecBuffer(T.TOKEN, struct.pack("<I", SCHANNEL_SHUTDOWN))])
    assert sspi.ApplyControlToken(c, token) == SecStatus.SEC_E_OK
    leg = isc(ccred, c, "localhost", None)
    assert leg.status == SecStatus.SEC_E_OK and leg.token
    opened = decrypt(s, leg.token)
    assert opened.status == SecStatus.SEC_I_CONTEXT_EXPIRED
    sspi.ApplyControlToken(s, token)
    reply = asc(scred, s, None)
    assert decrypt(c, reply.token).status == SecStatus.SEC_I_CONTEXT_EXPIRED
    alert = SecBufferDesc([SecBuffer(T.TOKEN, struct.pack("<III", 2, 2, 40))])
    with pytest.raises(SspiError) as err:
        sspi.ApplyControlToken(handshake(ccred, scred)[0], alert)
    assert err.value.status == SecStatus.SEC_E_UNSUPPORTED_FUNCTION


def test_mutual_auth_client_certificate(server_ctx: CertContext, root: CertContext,
                                        client_ctx: CertContext, engine: str) -> None:
    ccred = acquire(OUT, SCHANNEL_CRED(paCred=[client_ctx], hRootStore=[root], engine=engine))
    scred = acquire(IN, SCHANNEL_CRED(paCred=[server_ctx], hRootStore=[root], engine=engine))
    _c, s, _ = handshake(ccred, scred, asc_req=AscReq.MUTUAL_AUTH | AscReq.STREAM
                        | AscReq.ALLOCATE_MEMORY)
    remote = sspi.QueryContextAttributes(s, SecPkgAttr.REMOTE_CERT_CONTEXT)
    assert remote.der == client_ctx.der
    assert sspi.QueryContextAttributes(s, SecPkgAttr.NAMES).user_name == "CN=sspi-client"


def test_incomplete_credentials_then_certificate(server_ctx: CertContext, root: CertContext,
                                                client_ctx: CertContext, pki: TestPki) -> None:
    """pyOpenSSL engine: the server asks for a certificate the credential lacks:
    SEC_I_INCOMPLETE_CREDENTIALS, ISSUER_LIST_EX names the CA, and ISC with a credential that
    has one (the same input passed again, as curl does) finishes with the client verified."""
    require_module("OpenSSL", "pip install pyOpenSSL  (or: pip install -e '.[schannel]')")
    # Python's ssl server cannot list CA names in its CertificateRequest; pyOpenSSL's can.
    scred = acquire(IN, SCHANNEL_CRED(paCred=[server_ctx], hRootStore=[root],
                                      engine="pyopenssl"))
    for protocols in (TLS12, TLS13):
        bare = acquire(OUT, SCHANNEL_CRED(hRootStore=[root], engine="pyopenssl",
                                          grbitEnabledProtocols=protocols))
        with_cert = acquire(OUT, SCHANNEL_CRED(hRootStore=[root], paCred=[client_ctx],
                                               engine="pyopenssl"))
        c, s = sspi.CtxtHandle(), sspi.CtxtHandle()
        sreq = AscReq.MUTUAL_AUTH | AscReq.STREAM | AscReq.ALLOCATE_MEMORY
        flight = asc(scred, s, isc(bare, c, "localhost", None).token, sreq).token
        leg = isc(bare, c, "localhost", flight)
        assert leg.status == SecStatus.SEC_I_INCOMPLETE_CREDENTIALS
        issuers = sspi.QueryContextAttributes(c, SecPkgAttr.ISSUER_LIST_EX)
        assert issuers.issuers == (pki.ca.cert.subject.public_bytes(),)
        done = isc(with_cert, c, "localhost", flight)
        assert done.status in (SecStatus.SEC_E_OK, SecStatus.SEC_I_CONTINUE_NEEDED)
        final = asc(scred, s, done.token, sreq)
        assert final.status == SecStatus.SEC_E_OK
        assert sspi.QueryContextAttributes(s, SecPkgAttr.REMOTE_CERT_CONTEXT).der == \
            client_ctx.der


def test_use_supplied_creds_goes_on_without(server_ctx: CertContext, root: CertContext) -> None:
    require_module("OpenSSL", "pip install pyOpenSSL  (or: pip install -e '.[schannel]')")
    scred = acquire(IN, SCHANNEL_CRED(paCred=[server_ctx], hRootStore=[root]))
    bare = acquire(OUT, SCHANNEL_CRED(hRootStore=[root], engine="pyopenssl",
                                      grbitEnabledProtocols=TLS12))
    c, s = sspi.CtxtHandle(), sspi.CtxtHandle()
    sreq = AscReq.MUTUAL_AUTH | AscReq.STREAM | AscReq.ALLOCATE_MEMORY
    flight = asc(scred, s, isc(bare, c, "localhost", None).token, sreq).token
    leg = isc(bare, c, "localhost", flight, ISC_REQ | IscReq.USE_SUPPLIED_CREDS)
    assert leg.status == SecStatus.SEC_I_CONTINUE_NEEDED
    assert leg.attrs & IscRet.USED_SUPPLIED_CREDS
    assert asc(scred, s, leg.token, sreq).status == SecStatus.SEC_E_OK
    with pytest.raises(SspiError):
        sspi.QueryContextAttributes(s, SecPkgAttr.REMOTE_CERT_CONTEXT)


def test_keying_material_both_sides(server_ctx: CertContext, root: CertContext) -> None:
    require_module("OpenSSL", "pip install pyOpenSSL  (or: pip install -e '.[schannel]')")
    from opensspi.packages.schannel import KeyingMaterialInfo

    ccred, scred = creds(server_ctx, root, "pyopenssl")
    c, s, _ = handshake(ccred, scred)
    info = KeyingMaterialInfo(b"EXPERIMENTAL-sspi", None, 32)
    for ctx in (c, s):
        sspi.SetContextAttributes(ctx, SecPkgAttr.KEYING_MATERIAL_INFO, info)
    a = sspi.QueryContextAttributes(c, SecPkgAttr.KEYING_MATERIAL).keying_material
    b = sspi.QueryContextAttributes(s, SecPkgAttr.KEYING_MATERIAL).keying_material
    assert a == b and len(a) == 32
    sc, ss = creds(server_ctx, root)
    c2, _, _ = handshake(sc, ss)
    sspi.SetContextAttributes(c2, SecPkgAttr.KEYING_MATERIAL_INFO, info)
    with pytest.raises(SspiError) as err:
        sspi.QueryContextAttributes(c2, SecPkgAttr.KEYING_MATERIAL)
    assert err.value.status == SecStatus.SEC_E_UNSUPPORTED_FUNCTION


def test_bindings(server_ctx: CertContext, root: CertContext, engine: str) -> None:
    import hashlib

    ccred, scred = creds(server_ctx, root, engine, TLS12)
    c, s, _ = handshake(ccred, scred)
    for ctx in (c, s):
        end = sspi.QueryContextAttributes(ctx, SecPkgAttr.ENDPOINT_BINDINGS)
        assert isinstance(end, ContextBindings)
        assert end.channel_bindings.application_data == \
            b"tls-server-end-point:" + hashlib.sha256(server_ctx.der).digest()
        assert end.bindings[:32] == struct.pack("<8I", 0, 0, 0, 0, 0, 0, 53, 32)
    uc = sspi.QueryContextAttributes(c, SecPkgAttr.UNIQUE_BINDINGS).channel_bindings
    us = sspi.QueryContextAttributes(s, SecPkgAttr.UNIQUE_BINDINGS).channel_bindings
    assert uc == us and uc.application_data.startswith(b"tls-unique:")
    assert len(uc.application_data) == len(b"tls-unique:") + 12
    c13, _, _ = handshake(*creds(server_ctx, root, engine, TLS13))
    with pytest.raises(SspiError) as err:
        sspi.QueryContextAttributes(c13, SecPkgAttr.UNIQUE_BINDINGS)
    assert err.value.status == SecStatus.SEC_E_UNSUPPORTED_FUNCTION


def test_protocol_and_cipher_policy(server_ctx: CertContext, root: CertContext) -> None:
    sch = SCH_CREDENTIALS(hRootStore=[root], pTlsParameters=[
        TLS_PARAMETERS(grbitDisabledProtocols=int(TLS13))])
    ccred = acquire(OUT, sch)
    _, scred = creds(server_ctx, root)
    c, _, _ = handshake(ccred, scred)
    assert sspi.QueryContextAttributes(c, SecPkgAttr.CONNECTION_INFO).protocol == \
        SpProt.TLS1_2_CLIENT
    with pytest.raises(SspiError) as err:
        acquire(OUT, SCHANNEL_CRED(grbitEnabledProtocols=SpProt.SSL3_CLIENT))
    assert err.value.status == SecStatus.SEC_E_ALGORITHM_MISMATCH
    aes128 = acquire(OUT, SCHANNEL_CRED(hRootStore=[root], grbitEnabledProtocols=TLS12,
                                        palgSupportedAlgs=[0x660E]))
    c, _, _ = handshake(aes128, scred)
    info = sspi.QueryContextAttributes(c, SecPkgAttr.CIPHER_INFO)
    assert "AES128" in info.cipher_suite_name and info.cipher_len == 128
    with pytest.raises(SspiError) as err:
        acquire(IN, SCHANNEL_CRED())
    assert err.value.status == SecStatus.SEC_E_NO_CREDENTIALS


def test_pythonic_api_wrap_unwrap(server_ctx: CertContext, root: CertContext) -> None:
    import opensspi
    from support.pair import ContextPair

    client = opensspi.client("Schannel", target="localhost",
                             auth_data=SCHANNEL_CRED(hRootStore=[root]))
    server = opensspi.server("Default TLS SSP", auth_data=SCHANNEL_CRED(paCred=[server_ctx]))
    ContextPair(client, server).run()
    assert client.complete and server.complete
    data = b"y" * 40000  # three records
    wire = client.wrap(data)
    assert wire.count(b"\x17\x03\x03") >= 3
    assert server.unwrap(wire) == data


def test_stdlib_channel_binding_equals_ours(server_ctx: CertContext, root: CertContext) -> None:
    """tls-unique from our client equals what the stdlib server computes for the connection."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    from opensspi.packages.schannel.credentials import write_private_files

    tmp, cert, key = write_private_files(server_ctx)
    with tmp:
        ctx.load_cert_chain(cert, key)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = ctx.wrap_bio(incoming, outgoing, server_side=True)
    ccred = acquire(OUT, SCHANNEL_CRED(hRootStore=[root]))
    c = sspi.CtxtHandle()
    token = isc(ccred, c, "localhost", None).token
    status = SecStatus.SEC_I_CONTINUE_NEEDED
    while status != SecStatus.SEC_E_OK:
        incoming.write(token)
        with contextlib.suppress(ssl.SSLWantReadError):
            server.do_handshake()
        leg = isc(ccred, c, "localhost", outgoing.read())
        status, token = leg.status, leg.token
    incoming.write(token)
    server.do_handshake()
    ours = sspi.QueryContextAttributes(c, SecPkgAttr.UNIQUE_BINDINGS).channel_bindings
    assert ours.application_data == b"tls-unique:" + server.get_channel_binding("tls-unique")


def test_endpoint_hash_follows_rfc5929(pki: TestPki) -> None:
    """RFC 5929 §4.1: the certificate's signature hash; SHA-1/MD5 become SHA-256; Ed25519 (no
    separate hash) takes SHA-256."""
    import hashlib

    from cryptography.hazmat.primitives import hashes

    from opensspi.packages.schannel.attributes import endpoint_hash

    for algorithm, name in ((hashes.SHA256(), "sha256"), (hashes.SHA384(), "sha384"),
                            (hashes.SHA512(), "sha512")):
        issued = pki.issue("h", hash_algorithm=algorithm)
        assert endpoint_hash(issued.der) == hashlib.new(name, issued.der).digest()
    ed = TestPki("Ed CA", key="ed25519")
    leaf = ed.issue("ed-leaf")
    assert endpoint_hash(leaf.der) == hashlib.sha256(leaf.der).digest()


def test_revocation_with_crls(pki: TestPki, root: CertContext) -> None:
    """SCH_CRED_REVOCATION_CHECK_END_CERT is honoured when CRLs are given; without CRLs it acts
    as IGNORE_NO_REVOCATION_CHECK (OpenSSL fetches none), as documented."""
    revoked = pki.server("localhost")
    revoked_ctx = CertContext.load(revoked.cert_pem, revoked.key_pem)
    _, scred = creds(revoked_ctx, root)
    crl = pki.crl([revoked.cert])
    checking = acquire(OUT, SCHANNEL_CRED(hRootStore=[root], crls=[crl],
                                          dwFlags=SchCred.REVOCATION_CHECK_END_CERT))
    c, s = sspi.CtxtHandle(), sspi.CtxtHandle()
    flight = asc(scred, s, isc(checking, c, "localhost", None).token).token
    with pytest.raises(SspiError) as err:
        isc(checking, c, "localhost", flight)
    assert err.value.status == SecStatus.CRYPT_E_REVOKED
    good = pki.server("localhost")
    _, good_cred = creds(CertContext.load(good.cert_pem, good.key_pem), root)
    handshake(checking, good_cred)  # a CRL that does not list it: accepted
    no_crl = acquire(OUT, SCHANNEL_CRED(hRootStore=[root],
                                        dwFlags=SchCred.REVOCATION_CHECK_END_CERT))
    handshake(no_crl, scred)


def test_pyopenssl_restricts_tls13_suites(server_ctx: CertContext, root: CertContext) -> None:
    require_module("OpenSSL", "pip install pyOpenSSL  (or: pip install -e '.[schannel]')")
    only_chacha = acquire(OUT, SCH_CREDENTIALS(hRootStore=[root], engine="pyopenssl",
                                               pTlsParameters=[TLS_PARAMETERS(pDisabledCrypto=[
                                                   CRYPTO_SETTINGS(strCngAlgId="AES")])]))
    _, scred = creds(server_ctx, root)
    c, _, _ = handshake(only_chacha, scred)
    info = sspi.QueryContextAttributes(c, SecPkgAttr.CIPHER_INFO)
    assert info.cipher_suite == 0x1303 and info.cipher == "CHACHA20_POLY1305"
