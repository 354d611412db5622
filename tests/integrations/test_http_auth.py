"""opensspi's HTTP client adapters (requests, httpx sync and async) against opensspi's WSGI and
ASGI middleware, over real sockets on 127.0.0.1 (HTTP and HTTPS with channel bindings).

Real third-party peers (Apache, curl, requests-ntlm, httpx-ntlm, requests-gssapi) are in
tests/interop/test_http_interop.py.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from interop.peers.wsgi_server import Tls, hello_app, make_certificate, serve_wsgi
from opensspi import AuthIdentity
from opensspi.errors import MutualAuthFailed, SspiError
from opensspi.integrations import httpx as ox
from opensspi.integrations import requests as orq
from opensspi.integrations.asgi import SspiMiddleware as AsgiMiddleware
from opensspi.integrations.http import parse_challenges, tls_server_end_point
from opensspi.integrations.wsgi import SspiMiddleware
from opensspi.packages.digest.credentials import DigestAcceptorConfig
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.testing.kdc import MiniKdc

NTLM_USERS = {"CORP\\alice": "Passw0rd!"}
DIGEST = DigestAcceptorConfig(realm="opensspi", passwords={"alice": "Passw0rd!"})
REALM = "EXAMPLE.TEST"


def middleware(**extra: Any) -> SspiMiddleware:
    return SspiMiddleware(hello_app, packages=["NTLM", "WDigest"],
                          auth_data={"NTLM": NTLM_USERS, "WDigest": DIGEST}, **extra)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_certificate(tmp_path_factory.mktemp("tls"))


# -- header parsing and bindings ------------------------------------------------------------


def test_parse_challenges_splits_schemes_and_keeps_digest_params() -> None:
    values = ['Negotiate, NTLM', 'Digest realm="a, b", nonce="n", qop="auth,auth-int"',
              "Negotiate YIIBhg==", 'Basic realm="x"']
    assert parse_challenges(values) == [
        ("Negotiate", ""), ("NTLM", ""),
        ("Digest", 'realm="a, b", nonce="n", qop="auth,auth-int"'),
        ("Negotiate", "YIIBhg=="), ("Basic", 'realm="x"'),
    ]


@pytest.mark.parametrize(("signed_with", "hashed_with"), [
    (hashes.SHA1(), hashes.SHA256()),  # RFC 5929 §4.1: MD5 and SHA-1 become SHA-256
    (hashes.SHA256(), hashes.SHA256()),
    (hashes.SHA384(), hashes.SHA384()),
    (hashes.SHA512(), hashes.SHA512()),
])
def test_tls_server_end_point_hash(tmp_path: Path, signed_with: hashes.HashAlgorithm,
                                   hashed_with: hashes.HashAlgorithm) -> None:
    if isinstance(signed_with, hashes.SHA1):
        der = sha1_certificate(tmp_path)  # cryptography refuses to sign with SHA-1
    else:
        der = make_certificate(tmp_path, signed_with).der
    cert = x509.load_der_x509_certificate(der)
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == signed_with.name
    digest = hashes.Hash(hashed_with)
    digest.update(der)
    bindings = tls_server_end_point(der)
    assert bindings.application_data == b"tls-server-end-point:" + digest.finalize()


def sha1_certificate(directory: Path) -> bytes:
    """An ecdsa-with-SHA1 self-signed certificate, made by the openssl command."""
    import shutil
    import subprocess

    from support.require import require_peer

    require_peer(shutil.which("openssl") is not None, "the openssl command",
                 "apt-get install -y openssl")
    pem, key = directory / "sha1.pem", directory / "sha1.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-sha1", "-subj", "/CN=sha1", "-nodes", "-days",
                    "1", "-keyout", str(key), "-out", str(pem)], check=True, capture_output=True)
    return x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(
        serialization.Encoding.DER)


# -- requests --------------------------------------------------------------------------------


def test_requests_ntlm_pins_the_connection_and_reports_the_user() -> None:
    with serve_wsgi(middleware()) as url, requests.Session() as session:
        auth = orq.SspiAuth(package="NTLM", user="CORP\\alice", password="Passw0rd!")
        r = session.get(url + "/a", auth=auth)
        assert (r.status_code, r.text) == (200, "hello CORP\\alice via NTLM")
        assert [h.status_code for h in r.history] == [401, 401]
        # the NEGOTIATE leg and the AUTHENTICATE leg travelled on one connection
        assert r.history[1].headers["www-authenticate"].startswith("NTLM ")
        bad = session.get(url + "/a", auth=orq.SspiAuth(
            package="NTLM", user="CORP\\alice", password="wrong"))
        assert bad.status_code == 401


def test_requests_ntlm_with_an_nt_hash() -> None:
    from opensspi.packages.ntlm.crypto import ntowfv1

    with serve_wsgi(middleware()) as url:
        auth = orq.SspiAuth(package="NTLM", user="alice", domain="CORP",
                            nt_hash=ntowfv1("Passw0rd!"))
        assert requests.get(url + "/", auth=auth).text == "hello CORP\\alice via NTLM"


def test_requests_digest_checks_rspauth_and_then_authorizes_in_advance() -> None:
    with serve_wsgi(middleware()) as url, requests.Session() as session:
        auth = orq.SspiAuth(package="WDigest", user="alice", password="Passw0rd!")
        r = session.get(url + "/dir/a?x=1", auth=auth)
        assert (r.status_code, r.text) == (200, "hello alice via Digest")
        assert "rspauth=" in r.headers["authentication-info"]
        follow = session.get(url + "/dir/b", auth=auth)
        assert follow.status_code == 200 and follow.history == []  # nc=2, no new challenge
        assert "nc=00000002" in follow.request.headers["authorization"]


def test_requests_https_sends_channel_bindings_and_the_middleware_checks_them(tls: Tls) -> None:
    with serve_wsgi(middleware(certificate=tls.der), tls) as url:
        ok = requests.get(url + "/", verify=str(tls.cert_file), auth=orq.SspiAuth(
            package="NTLM", user="CORP\\alice", password="Passw0rd!"))
        assert ok.status_code == 200
        without = requests.get(url + "/", verify=str(tls.cert_file), auth=orq.SspiAuth(
            package="NTLM", user="CORP\\alice", password="Passw0rd!", channel_bindings=False))
        assert without.status_code == 401
    other = make_certificate(_other_dir(tls))
    # The middleware expects another certificate's bindings: a relayed/intercepted connection.
    with serve_wsgi(middleware(certificate=other.der), tls) as url:
        relayed = requests.get(url + "/", verify=str(tls.cert_file), auth=orq.SspiAuth(
            package="NTLM", user="CORP\\alice", password="Passw0rd!"))
        assert relayed.status_code == 401


def trust(tls: Tls) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls.cert_file))


def _other_dir(tls: Tls) -> Path:
    path = tls.cert_file.parent / "other"
    path.mkdir(exist_ok=True)
    return path


# -- Kerberos (MiniKdc) ---------------------------------------------------------------------


@pytest.fixture
def kerberos(tmp_path: Path) -> Iterator[tuple[KerberosAuthData, KerberosAuthData]]:
    TicketCache.forget_all()
    ReplayCache.shared().clear()
    kdc = MiniKdc(REALM)
    kdc.add_user("alice", "Al1ce-Passw0rd!")
    service = kdc.add_service("HTTP/127.0.0.1")
    with kdc.serve():
        config = kdc.krb5_config()
        keytab = kdc.write_keytab(tmp_path / "http.keytab", service)
        yield (
            KerberosAuthData(identity=AuthIdentity("alice", REALM, "Al1ce-Passw0rd!"),
                             config=config),
            KerberosAuthData(acceptor_keytab=str(keytab), config=config),
        )
    TicketCache.forget_all()
    ReplayCache.shared().clear()


def kerberos_app(acceptor: KerberosAuthData, wrap: Callable[..., Any] | None = None,
                 **extra: Any) -> SspiMiddleware:
    return SspiMiddleware(wrap or hello_app, packages=["Kerberos"],
                          auth_data={"Kerberos": acceptor}, **extra)


def test_requests_kerberos_mutual_and_https_bindings(
    kerberos: tuple[KerberosAuthData, KerberosAuthData], tls: Tls
) -> None:
    client, acceptor = kerberos
    with serve_wsgi(kerberos_app(acceptor, certificate=tls.der), tls) as url:
        auth = orq.SspiAuth(package="Kerberos", auth_data=client)
        r = requests.get(url + "/", auth=auth, verify=str(tls.cert_file))
        assert (r.status_code, r.text) == (200, "hello alice@EXAMPLE.TEST via Negotiate")
        final = r.headers["www-authenticate"]
        assert final.startswith("Negotiate ") and len(final) > 20  # the AP-REP
        no_cb = requests.get(url + "/", verify=str(tls.cert_file), auth=orq.SspiAuth(
            package="Kerberos", auth_data=client, channel_bindings=False))
        assert no_cb.status_code == 401


def tamper_final_token(app: Callable[..., Any]) -> Callable[..., Any]:
    """A WSGI wrapper that flips one byte of the server's final Negotiate token."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            changed = []
            for name, value in headers:
                if name.lower() == "www-authenticate" and status.startswith("200"):
                    raw = bytearray(base64.b64decode(value.split(" ", 1)[1]))
                    raw[-5] ^= 1
                    value = "Negotiate " + base64.b64encode(bytes(raw)).decode()
                changed.append((name, value))
            return start_response(status, changed, exc_info)

        return app(environ, start)

    return wrapped


def test_a_final_token_that_does_not_verify_fails(
    kerberos: tuple[KerberosAuthData, KerberosAuthData]
) -> None:
    client, acceptor = kerberos
    with serve_wsgi(tamper_final_token(kerberos_app(acceptor))) as url, pytest.raises(
        SspiError
    ) as info:
        requests.get(url + "/", auth=orq.SspiAuth(package="Kerberos", auth_data=client))
    # the AP-REP's encrypted part no longer decrypts (RFC 4120 §5.5.2 KRB_AP_REP)
    assert info.value.status.name == "SEC_E_MESSAGE_ALTERED"


def test_a_missing_final_token_fails_unless_mutual_is_off(
    kerberos: tuple[KerberosAuthData, KerberosAuthData]
) -> None:
    client, acceptor = kerberos

    def strip(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [h for h in headers if h[0] != "WWW-Authenticate"
                                            or not status.startswith("200")], exc_info)

        return app(environ, start)

    app = kerberos_app(acceptor)
    with serve_wsgi(strip) as url:
        with pytest.raises(MutualAuthFailed):
            requests.get(url + "/", auth=orq.SspiAuth(package="Kerberos", auth_data=client))
        r = requests.get(url + "/", auth=orq.SspiAuth(package="Kerberos", auth_data=client,
                                                       mutual=False))
        assert r.status_code == 200


# -- httpx -------------------------------------------------------------------------------------


def test_httpx_sync_ntlm_digest_and_https(tls: Tls) -> None:
    with serve_wsgi(middleware(certificate=tls.der), tls) as url, httpx.Client(
        verify=trust(tls)
    ) as client:
        r = client.get(url + "/", auth=ox.SspiAuth(package="NTLM", user="CORP\\alice",
                                                    password="Passw0rd!"))
        assert (r.status_code, r.text) == (200, "hello CORP\\alice via NTLM")
        assert [h.status_code for h in r.history] == [401, 401]
        digest = ox.SspiAuth(package="Digest", user="alice", password="Passw0rd!")
        assert client.get(url + "/d?q=1", auth=digest).text == "hello alice via Digest"
        again = client.get(url + "/e", auth=digest)
        assert again.status_code == 200 and again.history == []
        no_cb = client.get(url + "/", auth=ox.SspiAuth(
            package="NTLM", user="CORP\\alice", password="Passw0rd!", channel_bindings=False))
        assert no_cb.status_code == 401


def test_httpx_async_kerberos_over_https(
    kerberos: tuple[KerberosAuthData, KerberosAuthData], tls: Tls
) -> None:
    client_data, acceptor = kerberos

    async def run(url: str) -> httpx.Response:
        async with httpx.AsyncClient(verify=trust(tls)) as client:
            return await client.get(url + "/", auth=ox.SspiAuth(package="Kerberos",
                                                                 auth_data=client_data))

    with serve_wsgi(kerberos_app(acceptor, certificate=tls.der), tls) as url:
        r = asyncio.run(run(url))
    assert (r.status_code, r.text) == (200, "hello alice@EXAMPLE.TEST via Negotiate")


# -- ASGI --------------------------------------------------------------------------------------


async def asgi_hello(scope: Any, receive: Any, send: Any) -> None:
    body = f"hello {scope.get('user')} via {scope.get('auth')}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def test_asgi_middleware_ntlm_and_digest() -> None:
    app = AsgiMiddleware(asgi_hello, packages=["NTLM", "WDigest"],
                         auth_data={"NTLM": NTLM_USERS, "WDigest": DIGEST})

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50123))
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            plain = await client.get("/")
            ntlm = await client.get("/", auth=ox.SspiAuth(
                package="NTLM", user="CORP\\alice", password="Passw0rd!"))
            digest = await client.get("/x", auth=ox.SspiAuth(
                package="WDigest", user="alice", password="Passw0rd!"))
            return [plain, ntlm, digest]

    plain, ntlm, digest = asyncio.run(run())
    assert plain.status_code == 401
    offered = [s for s, _ in parse_challenges(plain.headers.get_list("www-authenticate"))]
    assert offered == ["NTLM", "Digest", "Digest"]  # Digest: SHA-256 and MD5 challenges
    assert ntlm.text == "hello CORP\\alice via NTLM"
    assert digest.text == "hello alice via Digest"
    assert "rspauth=" in digest.headers["authentication-info"]



def test_ccache_and_keytab_credentials_pass_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    TicketCache.forget_all()
    kdc = MiniKdc(REALM)
    kdc.add_user("alice", "Al1ce-Passw0rd!")
    service = kdc.add_service("HTTP/127.0.0.1")
    with kdc.serve():
        conf = tmp_path / "krb5.conf"
        conf.write_text(kdc.krb5_conf_text(), encoding="utf-8")
        monkeypatch.setenv("KRB5_CONFIG", str(conf))
        acceptor = KerberosAuthData(
            acceptor_keytab=str(kdc.write_keytab(tmp_path / "http.keytab", service)))
        alice_keytab = kdc.write_keytab(tmp_path / "alice.keytab", "alice")
        ccache = f"FILE:{tmp_path / 'cc'}"
        with serve_wsgi(kerberos_app(acceptor)) as url:
            # a client keytab (KRB5_CLIENT_KTNAME's role), which also writes a ccache...
            writer = KerberosAuthData(client_keytab=f"FILE:{alice_keytab}", write_ccache=ccache)
            first = requests.get(url + "/", auth=orq.SspiAuth(
                package="Kerberos", keytab=f"FILE:{alice_keytab}", user="alice@EXAMPLE.TEST"))
            assert first.text == "hello alice@EXAMPLE.TEST via Negotiate"
            TicketCache.forget_all()  # so that the next credential fetches (and writes) tickets
            assert requests.get(url + "/", auth=orq.SspiAuth(
                package="Kerberos", auth_data=writer)).status_code == 200
            TicketCache.forget_all()
            # ...and the ccache alone, as kinit would have left it.
            r = requests.get(url + "/", auth=orq.SspiAuth(package="Kerberos", ccache=ccache))
            assert r.text == "hello alice@EXAMPLE.TEST via Negotiate"
    TicketCache.forget_all()


def test_without_a_connection_key_ntlm_cannot_finish_but_digest_can() -> None:
    inner = middleware()

    def no_port(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ.pop("REMOTE_PORT", None)  # a WSGI server that does not report it
        return inner(environ, start_response)

    with serve_wsgi(no_port) as url:
        ntlm = requests.get(url + "/", auth=orq.SspiAuth(
            package="NTLM", user="CORP\\alice", password="Passw0rd!"))
        assert ntlm.status_code == 401  # the CHALLENGE's context could not be found again
        digest = requests.get(url + "/", auth=orq.SspiAuth(
            package="WDigest", user="alice", password="Passw0rd!"))
        assert digest.status_code == 200


def test_a_digest_rspauth_that_does_not_verify_fails() -> None:
    inner = middleware()

    def tamper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            changed = [(n, v.replace('rspauth="', 'rspauth="0') if n == "Authentication-Info"
                        else v) for n, v in headers]
            return start_response(status, changed, exc_info)

        return inner(environ, start)

    with serve_wsgi(tamper) as url, pytest.raises(MutualAuthFailed):
        requests.get(url + "/", auth=orq.SspiAuth(
            package="WDigest", user="alice", password="Passw0rd!"))
