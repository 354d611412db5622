"""Our initiator against our acceptor: every algorithm, qop, mode and cipher, then messages."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import AscRet, IscReq, IscRet, SecBufferType, SecStatus
from opensspi.errors import SspiError
from opensspi.message import MessageOp
from opensspi.packages.digest.crypto import Algorithm, Cipher, Qop, h
from opensspi.packages.digest.legacy import LEGACY_CIPHERS, STRONG_CIPHERS
from opensspi.packages.digest.machine import ISC_REQ_HTTP, State
from opensspi.packages.digest.messages import HttpResponse, SaslChallenge, SaslResponse
from opensspi.protection import protect
from opensspi.provider import MessagePart, Sizes, StepInput

from .conftest import Digest

ALL_CIPHERS = STRONG_CIPHERS + LEGACY_CIPHERS


def five_buffers(method: bytes, url: bytes, hentity: bytes, size: int = 4000) -> SecBufferDesc:
    """The MakeSignature shape curl uses for a further HTTP request."""
    return SecBufferDesc([
        SecBuffer(SecBufferType.TOKEN, b""),
        SecBuffer(SecBufferType.PKG_PARAMS, method),
        SecBuffer(SecBufferType.PKG_PARAMS, url),
        SecBuffer(SecBufferType.PKG_PARAMS, hentity),
        SecBuffer(SecBufferType.PADDING, size),
    ])


# -- HTTP --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", list(Algorithm), ids=[a.value for a in Algorithm])
@pytest.mark.parametrize("qop", [Qop.AUTH, Qop.AUTH_INT], ids=["auth", "auth-int"])
@pytest.mark.parametrize("http_flag", [IscReq.USE_HTTP_STYLE, ISC_REQ_HTTP],
                         ids=["USE_HTTP_STYLE", "ISC_REQ_HTTP"])
def test_http_pair(digest: Digest, alg: Algorithm, qop: Qop, http_flag: int) -> None:
    req = http_flag | (IscReq.INTEGRITY if qop is Qop.AUTH_INT else 0)
    server_cred = digest.server_cred(algorithms=(alg,))
    server = digest.http_server(cred=server_cred)
    client = digest.package.client_context(
        digest.client_cred(), "/dir/index.html", IscReq(req), digest.env
    )
    body = b'{"order": 66}' if qop is Qop.AUTH_INT else b""
    header = digest.http_login(client, server, b"POST", b"/dir/index.html", body)
    response = HttpResponse.parse(header)
    assert (Algorithm.from_wire(response.algorithm), response.qop, response.nc) == (
        alg, qop.value, 1,
    )
    assert response.uri == "/dir/index.html"
    expected = IscRet.USED_HTTP_STYLE | IscRet.MUTUAL_AUTH
    if qop is Qop.AUTH_INT:
        expected |= IscRet.INTEGRITY
    assert client.flags == expected
    assert server.flags == (AscRet.INTEGRITY if qop is Qop.AUTH_INT else 0)
    assert server.client_name == "Mufasa"

    hentity = h(alg, body).encode()
    desc = five_buffers(b"PUT", b"/dir/other.html", hentity)
    protect(client, MessageOp.SIGN, desc, 0, 0)
    follow = desc[4].buffer
    again = HttpResponse.parse(follow)
    assert (again.nc, again.uri, again.cnonce, again.nonce) == (
        2, "/dir/other.html", response.cnonce, response.nonce,
    )
    info = server.step(StepInput(follow, params=(b"PUT", b"/dir/other.html", hentity)))
    assert info.status is SecStatus.SEC_E_OK
    assert client.step(StepInput(info.token)).status is SecStatus.SEC_E_OK
    assert client.flags & IscRet.MUTUAL_AUTH

    replay = digest.http_server(cred=server_cred)
    with pytest.raises(SspiError) as exc:
        replay.step(StepInput(follow, params=(b"PUT", b"/dir/other.html", hentity)))
    assert exc.value.status == SecStatus.SEC_E_OUT_OF_SEQUENCE
    assert replay.state is State.FAILED


@pytest.mark.parametrize("alg", [Algorithm.MD5, Algorithm.SHA_256, Algorithm.SHA_512_256_SESS])
def test_http_userhash_and_username_star(digest: Digest, alg: Algorithm) -> None:
    user, password = "J\u00e4s\u00f8n Doe", "Secret, or not?"
    for userhash in (True, False):
        server = digest.http_server(
            realm="api@example.org", passwords={user: password}, algorithms=(alg,),
            userhash=userhash,
        )
        client = digest.http_client(user=user, password=password, target="/doe.json")
        header = digest.http_login(client, server, uri=b"/doe.json")
        response = HttpResponse.parse(header)
        assert response.userhash is userhash
        assert response.username_star is not userhash
        assert (b"username*=UTF-8''J%C3%A4s%C3%B8n%20Doe" in header) is not userhash
        assert server.client_name == user


def test_http_client_picks_the_strongest_challenge(digest: Digest) -> None:
    server = digest.http_server(algorithms=(Algorithm.MD5, Algorithm.SHA_512_256,
                                            Algorithm.SHA_256))
    client = digest.http_client()
    header = digest.http_login(client, server)
    assert HttpResponse.parse(header).algorithm == "SHA-512-256"


def test_http_htdigest_acceptor(digest: Digest, tmp_path: Path) -> None:
    realm = "http-auth@example.org"
    md5 = hashlib.md5(f"Mufasa:{realm}:Circle of Life".encode()).hexdigest()
    path = tmp_path / "htdigest"
    path.write_text(f"# apache\nMufasa:{realm}:{md5}\nother:elsewhere:{'0' * 32}\n")
    server = digest.http_server(passwords={}, htdigest=str(path))
    client = digest.http_client()
    header = digest.http_login(client, server)
    assert HttpResponse.parse(header).algorithm == "MD5"


def test_http_stale_nonce_is_a_fresh_nonce_not_a_failure(digest: Digest) -> None:
    server = digest.http_server(nonce_lifetime=60)
    client = digest.http_client()
    digest.http_login(client, server)
    digest.clock.advance(120)
    desc = five_buffers(b"GET", b"", b"")
    protect(client, MessageOp.SIGN, desc, 0, 0)
    stale = server.step(StepInput(desc[4].buffer, params=(b"GET", b"/dir/index.html")))
    assert stale.status is SecStatus.SEC_I_CONTINUE_NEEDED
    assert b"stale=true" in stale.token
    retry = client.step(StepInput(stale.token, params=(b"GET",)))
    assert retry.status is SecStatus.SEC_E_OK
    assert HttpResponse.parse(retry.token).nc == 1
    ok = server.step(StepInput(retry.token, params=(b"GET", b"/dir/index.html")))
    assert ok.status is SecStatus.SEC_E_OK
    assert client.step(StepInput(ok.token)).status is SecStatus.SEC_E_OK


def test_http_stateless_acceptor_accepts_another_contexts_nonce(digest: Digest) -> None:
    cred = digest.server_cred()
    first = digest.http_server(cred=cred)
    client = digest.http_client()
    challenge = first.step(StepInput()).token
    auth = client.step(StepInput(challenge, params=(b"GET",))).token
    other = digest.http_server(cred=cred)
    assert other.step(StepInput(auth, params=(b"GET", b"/dir/index.html"))).status is (
        SecStatus.SEC_E_OK
    )
    stranger = digest.http_server()
    with pytest.raises(SspiError) as exc:
        stranger.step(StepInput(auth, params=(b"GET", b"/dir/index.html")))
    assert exc.value.status == SecStatus.SEC_E_LOGON_DENIED


# -- SASL --------------------------------------------------------------------------------------

SASL_CASES = [
    (Qop.AUTH, None, 0),
    (Qop.AUTH_INT, None, IscReq.INTEGRITY),
    (Qop.AUTH_INT, None, IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT),
    *[(Qop.AUTH_CONF, c, IscReq.CONFIDENTIALITY | IscReq.INTEGRITY) for c in Cipher],
]
SASL_IDS = ["auth", "auth-int", "auth-int-replay"] + [f"auth-conf-{c.value}" for c in Cipher]


@pytest.mark.parametrize(("qop", "cipher", "req"), SASL_CASES, ids=SASL_IDS)
def test_sasl_pair(digest: Digest, qop: Qop, cipher: Cipher | None, req: int) -> None:
    server = digest.sasl_server(ciphers=(cipher,) if cipher else STRONG_CIPHERS)
    client = digest.sasl_client(req, ciphers=ALL_CIPHERS)
    digest.sasl_login(client, server)
    assert (client.qop, server.qop, client.cipher, server.cipher) == (qop, qop, cipher, cipher)
    assert client.session_key == server.session_key and client.session_key is not None
    assert server.client_name == "chris"

    isc = IscRet.MUTUAL_AUTH
    asc = AscRet(0)
    if qop is not Qop.AUTH:
        isc |= IscRet.INTEGRITY | IscRet.REPLAY_DETECT | IscRet.SEQUENCE_DETECT
        asc |= AscRet.INTEGRITY | AscRet.REPLAY_DETECT | AscRet.SEQUENCE_DETECT
    if qop is Qop.AUTH_CONF:
        isc |= IscRet.CONFIDENTIALITY
        asc |= AscRet.CONFIDENTIALITY
    assert client.flags == isc
    assert server.flags == asc

    if qop is Qop.AUTH:
        assert client.sizes() == Sizes(4000, 0, 0, 0)
        with pytest.raises(SspiError) as exc:
            client.make_signature((MessagePart(b"x"),), 0, None)
        assert exc.value.status == SecStatus.SEC_E_QOP_NOT_SUPPORTED
        return

    block = cipher.block_size if cipher else 0
    assert client.sizes() == Sizes(4000, 16, block, 16 + (8 if block == 8 else 0))

    for sender, receiver in ((client, server), (server, client)):
        for msg in (b"", b"hello", bytes(range(256)) * 3):
            sig = sender.make_signature((MessagePart(msg, sealed=False),), 0, None)
            assert len(sig) == 16
            assert receiver.verify_signature((MessagePart(msg, sealed=False),), sig, None) == 0
            assert receiver.unwrap(sender.wrap(msg)) == msg
            if qop is Qop.AUTH_CONF:
                sealed = sender.encrypt((MessagePart(msg),), 0, None)
                assert len(sealed.parts[0]) == len(msg)
                assert len(sealed.token) <= client.sizes().security_trailer
                if msg:
                    assert sealed.parts[0] != msg
                plain = receiver.decrypt(sealed.token, (MessagePart(sealed.parts[0]),), None)
                assert plain.parts == (msg,)
                frame = sender.wrap(msg)
                prefixed = len(frame).to_bytes(4, "big") + frame
                assert receiver.decrypt(b"", (MessagePart(prefixed),), None).parts == (msg,)
                token, data = receiver.split_stream(prefixed)
                frame = sender.wrap(msg)
                token, data = receiver.split_stream(frame)
                assert receiver.decrypt(token, (MessagePart(data),), None).parts == (msg,)
            else:
                frame = sender.wrap(msg)
                assert receiver.unwrap(len(frame).to_bytes(4, "big") + frame) == msg
                token, data = receiver.split_stream(sender.wrap(msg))
                assert receiver.verify_signature((MessagePart(data),), token, None) == 0
                assert data == msg


def test_sasl_decrypt_replay_is_out_of_sequence_and_tamper_is_altered(digest: Digest) -> None:
    server = digest.sasl_server()
    client = digest.sasl_client(IscReq.CONFIDENTIALITY)
    digest.sasl_login(client, server)
    frame = client.wrap(b"transfer 100")
    assert server.unwrap(frame) == b"transfer 100"
    with pytest.raises(SspiError) as exc:
        server.unwrap(frame)
    assert exc.value.status == SecStatus.SEC_E_OUT_OF_SEQUENCE
    assert server.unwrap(client.wrap(b"still fine")) == b"still fine"
    bad = bytearray(client.wrap(b"transfer 999"))
    bad[2] ^= 4
    with pytest.raises(SspiError) as exc:
        server.unwrap(bytes(bad))
    assert exc.value.status == SecStatus.SEC_E_MESSAGE_ALTERED


def test_sasl_client_prefers_the_strongest_common_cipher(digest: Digest) -> None:
    server = digest.sasl_server(ciphers=ALL_CIPHERS)
    client = digest.sasl_client(IscReq.CONFIDENTIALITY, ciphers=ALL_CIPHERS)
    digest.sasl_login(client, server)
    assert client.cipher is Cipher.RC4
    server = digest.sasl_server(ciphers=(Cipher.RC4_40, Cipher.TRIPLE_DES, Cipher.DES))
    client = digest.sasl_client(IscReq.CONFIDENTIALITY)
    digest.sasl_login(client, server)
    assert client.cipher is Cipher.TRIPLE_DES


def test_sasl_maxbuf_is_negotiated(digest: Digest) -> None:
    server = digest.sasl_server(maxbuf=2048)
    client = digest.sasl_client(IscReq.INTEGRITY, maxbuf=4096)
    client.step(StepInput())
    challenge = server.step(StepInput()).token
    assert SaslChallenge.parse(challenge).maxbuf == 2048
    response = client.step(StepInput(challenge)).token
    assert SaslResponse.parse(response).maxbuf == 4096
    client.step(StepInput(server.step(StepInput(response)).token))
    assert client.max_message == 2048 - 16
    assert server.max_message == 4096 - 16
    with pytest.raises(SspiError) as exc:
        client.wrap(bytes(2048))
    assert exc.value.status == SecStatus.SEC_E_INVALID_PARAMETER


def test_sasl_authzid_and_realm_choice(digest: Digest) -> None:
    server = digest.sasl_server()
    client = digest.sasl_client(domain="elwood.innosoft.com", authzid="admin")
    digest.sasl_login(client, server)
    assert server.authzid == "admin" and server.client_name == "chris"


def test_sasl_non_latin1_user_and_latin1_password(digest: Digest) -> None:
    server = digest.sasl_server(passwords={"\u0436\u0443\u043a": "p\u00e4ss"})
    client = digest.sasl_client(user="\u0436\u0443\u043a", password="p\u00e4ss")
    digest.sasl_login(client, server)


def test_sasl_htdigest_acceptor(digest: Digest, tmp_path: Path) -> None:
    md5 = hashlib.md5(b"chris:elwood.innosoft.com:secret").hexdigest()
    path = tmp_path / "users"
    path.write_text(f"chris:elwood.innosoft.com:{md5}\n")
    server = digest.sasl_server(passwords={}, htdigest=str(path))
    client = digest.sasl_client(IscReq.CONFIDENTIALITY)
    digest.sasl_login(client, server)
    assert server.unwrap(client.wrap(b"via stored HA1")) == b"via stored HA1"
