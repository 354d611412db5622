"""opensspi's HTTP integrations against real peers on 127.0.0.1.

Our clients (``opensspi.integrations.requests``/``httpx``) against:
- Apache httpd + mod_auth_gssapi: Kerberos (MIT realm keytab), NTLM through gss-ntlmssp;
- Apache mod_auth_digest: Digest with Authentication-Info checked.

Our WSGI middleware against third-party clients: requests-ntlm and httpx-ntlm (NTLM, and
requests-ntlm's channel bindings over HTTPS), requests-gssapi (Kerberos, MIT's GSSAPI), curl
(``--ntlm``, ``--digest``, ``--negotiate``).

Negotiate cases need the Negotiate package; until it is registered they are expected to fail.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from interop.peers.apache import ApacheDigestPeer
from interop.peers.apache_gssapi import INSTALL_HINT, ApacheGssapiPeer, available
from interop.peers.gss import NTLMSSP_OID, find_gssntlmssp_so
from interop.peers.mit_kdc import MitRealm
from interop.peers.wsgi_server import hello_app, make_certificate, serve_wsgi
from opensspi import AuthIdentity, registry
from opensspi.integrations import httpx as ox
from opensspi.integrations import requests as orq
from opensspi.integrations.wsgi import SspiMiddleware
from opensspi.packages.digest.credentials import DigestAcceptorConfig
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.config import Krb5Config
from support.require import require_module, require_peer

SERVICE = "HTTP/server.test.local"
NTLM_USERS = {"CORP\\alice": "Passw0rd!"}
NEGOTIATE = "negotiate" in {n.lower() for n in registry.names()}
negotiate_pending = pytest.mark.xfail(not NEGOTIATE, strict=False,
                                      reason="Negotiate package not merged yet")


@pytest.fixture
def config(mit_realm: MitRealm) -> Krb5Config:
    return Krb5Config.load([str(mit_realm.krb5_conf)])


def alice(mit_realm: MitRealm, config: Krb5Config) -> KerberosAuthData:
    return KerberosAuthData(
        identity=AuthIdentity("alice", mit_realm.realm, mit_realm.passwords["alice"]),
        config=config)


@pytest.fixture
def apache_gssapi(mit_realm: MitRealm, tmp_path: Path) -> Iterator[ApacheGssapiPeer]:
    require_peer(available(), "Apache httpd with mod_auth_gssapi", INSTALL_HINT)
    so = find_gssntlmssp_so()
    require_peer(so is not None, "gss-ntlmssp", INSTALL_HINT)
    mech = tmp_path / "mech"
    mech.write_text(f"gssntlmssp_v1 {NTLMSSP_OID} {so}\n", encoding="utf-8")
    users = tmp_path / "users"
    users.write_text("TESTDOM:alice:Passw0rd!\n", encoding="utf-8")
    peer = ApacheGssapiPeer(mit_realm.krb5_conf, mit_realm.keytab,
                            ntlm={"mech": str(mech), "users": str(users)},
                            )
    with peer:
        yield peer


# -- our clients -> Apache mod_auth_gssapi --------------------------------------------------


def test_requests_kerberos_to_mod_auth_gssapi(
    apache_gssapi: ApacheGssapiPeer, mit_realm: MitRealm, config: Krb5Config
) -> None:
    auth = orq.SspiAuth(package="Kerberos", target=SERVICE, auth_data=alice(mit_realm, config))
    r = requests.get(apache_gssapi.url("/krb/"), auth=auth)
    assert r.status_code == 200, apache_gssapi.log_text()
    assert r.content == b"opensspi gssapi test: access granted\n"
    assert r.headers["x-remote-user"] == "alice@TEST.LOCAL"
    # mod_auth_gssapi sent the AP-REP and our client verified it (mutual authentication)
    assert r.headers["www-authenticate"].startswith("Negotiate ")


def test_httpx_kerberos_from_a_kinit_ccache_to_mod_auth_gssapi(
    apache_gssapi: ApacheGssapiPeer, mit_realm: MitRealm, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    ccache = mit_realm.kinit("alice", ccache=tmp_path / "cc")
    monkeypatch.setenv("KRB5_CONFIG", str(mit_realm.krb5_conf))
    auth = ox.SspiAuth(package="Kerberos", target=SERVICE, ccache=f"FILE:{ccache}")
    with httpx.Client() as client:
        r = client.get(apache_gssapi.url("/krb/"), auth=auth)
    assert r.status_code == 200, apache_gssapi.log_text()
    assert r.headers["x-remote-user"] == "alice@TEST.LOCAL"


@negotiate_pending
def test_requests_negotiate_to_mod_auth_gssapi(
    apache_gssapi: ApacheGssapiPeer, mit_realm: MitRealm, config: Krb5Config
) -> None:
    auth = orq.SspiAuth(package="Negotiate", target=SERVICE, auth_data=alice(mit_realm, config))
    r = requests.get(apache_gssapi.url("/krb/"), auth=auth)
    assert r.status_code == 200 and r.headers["x-remote-user"] == "alice@TEST.LOCAL"


def test_requests_ntlm_to_mod_auth_gssapi_through_gss_ntlmssp(
    apache_gssapi: ApacheGssapiPeer,
) -> None:
    auth = orq.SspiAuth(package="NTLM", user="TESTDOM\\alice", password="Passw0rd!")
    with requests.Session() as session:
        r = session.get(apache_gssapi.url("/ntlm/"), auth=auth)
    assert r.status_code == 200, apache_gssapi.log_text()
    assert r.headers["x-remote-user"].lower() in ("testdom\\alice", "alice")
    assert [h.status_code for h in r.history] == [401, 401]
    bad = requests.get(apache_gssapi.url("/ntlm/"), auth=orq.SspiAuth(
        package="NTLM", user="TESTDOM\\alice", password="wrong"))
    assert bad.status_code == 401


# -- our clients -> Apache mod_auth_digest --------------------------------------------------


def test_requests_and_httpx_digest_to_mod_auth_digest(apache_digest: ApacheDigestPeer) -> None:
    url = apache_digest.url("/protected/")
    auth = orq.SspiAuth(package="WDigest", user="alice", password=apache_digest.users["alice"])
    with requests.Session() as session:
        r = session.get(url, auth=auth)
        assert (r.status_code, r.content) == (200, apache_digest.body)
        assert "rspauth=" in r.headers["authentication-info"]  # checked by the client
        again = session.get(url, auth=auth)
        assert again.status_code == 200 and again.history == []
    name = "j\u00fcrgen"
    with httpx.Client() as client:
        r2 = client.get(url, auth=ox.SspiAuth(package="Digest", user=name,
                                              password=apache_digest.users[name]))
    assert (r2.status_code, r2.content) == (200, apache_digest.body)
    wrong = requests.get(url, auth=orq.SspiAuth(package="WDigest", user="alice", password="x"))
    assert wrong.status_code == 401


# -- third-party clients -> our WSGI middleware ---------------------------------------------


def ntlm_digest_app(**extra: object) -> SspiMiddleware:
    return SspiMiddleware(hello_app, packages=["NTLM", "WDigest"], auth_data={
        "NTLM": NTLM_USERS,
        "WDigest": DigestAcceptorConfig(realm="opensspi", passwords={"alice": "Passw0rd!"}),
    }, **extra)


def test_requests_ntlm_client_with_channel_bindings(tmp_path: Path) -> None:
    require_module("requests_ntlm", "pip install requests-ntlm")
    from requests_ntlm import HttpNtlmAuth

    tls = make_certificate(tmp_path)
    with serve_wsgi(ntlm_digest_app()) as url:
        r = requests.get(url + "/", auth=HttpNtlmAuth("CORP\\alice", "Passw0rd!"))
        assert (r.status_code, r.text) == (200, "hello CORP\\alice via NTLM")
        assert requests.get(url + "/", auth=HttpNtlmAuth("CORP\\alice", "no")).status_code == 401
    # requests-ntlm hashes the certificate itself (RFC 5929); our acceptor must agree.
    with serve_wsgi(ntlm_digest_app(certificate=tls.der), tls) as url:
        r = requests.get(url + "/", auth=HttpNtlmAuth("CORP\\alice", "Passw0rd!"),
                         verify=str(tls.cert_file))
        assert (r.status_code, r.text) == (200, "hello CORP\\alice via NTLM")


def test_httpx_ntlm_client() -> None:
    require_module("httpx_ntlm", "pip install httpx-ntlm")
    from httpx_ntlm import HttpNtlmAuth

    with serve_wsgi(ntlm_digest_app()) as url, httpx.Client() as client:
        r = client.get(url + "/", auth=HttpNtlmAuth("CORP\\alice", "Passw0rd!"))
        assert (r.status_code, r.text) == (200, "hello CORP\\alice via NTLM")


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    require_peer(shutil.which("curl") is not None, "curl", "apt-get install -y curl")
    return subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args],
                          capture_output=True, text=True, timeout=30)


def test_curl_ntlm_and_digest() -> None:
    with serve_wsgi(ntlm_digest_app()) as url:
        ntlm = curl("--ntlm", "-u", "CORP\\alice:Passw0rd!", url + "/n")
        assert ntlm.stdout.splitlines() == ["hello CORP\\alice via NTLM", "200"], ntlm.stderr
        digest = curl("--digest", "-u", "alice:Passw0rd!", url + "/d?x=1")
        assert digest.stdout.splitlines() == ["hello alice via Digest", "200"], digest.stderr
        bad = curl("--digest", "-u", "alice:nope", url + "/d")
        assert bad.stdout.splitlines()[-1] == "401"


def kerberos_middleware(mit_realm: MitRealm, config: Krb5Config, package: str) -> SspiMiddleware:
    return SspiMiddleware(hello_app, packages=[package], auth_data={
        package: KerberosAuthData(acceptor_keytab=str(mit_realm.keytab), config=config)})


def test_requests_gssapi_client_with_mit_kerberos(
    mit_realm: MitRealm, config: Krb5Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_module("requests_gssapi", "pip install requests-gssapi")
    import gssapi
    from requests_gssapi import HTTPSPNEGOAuth

    ccache = mit_realm.kinit("alice", ccache=tmp_path / "cc")
    for name, value in mit_realm.env(ccache=ccache).items():
        monkeypatch.setenv(name, value)
    krb5 = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
    auth = HTTPSPNEGOAuth(target_name=gssapi.Name(
        "HTTP@server.test.local", gssapi.NameType.hostbased_service), mech=krb5)
    with serve_wsgi(kerberos_middleware(mit_realm, config, "Kerberos")) as url:
        r = requests.get(url + "/", auth=auth)
    assert (r.status_code, r.text) == (200, "hello alice@TEST.LOCAL via Negotiate")


@negotiate_pending
def test_curl_negotiate(mit_realm: MitRealm, config: Krb5Config, tmp_path: Path) -> None:
    ccache = mit_realm.kinit("alice", ccache=tmp_path / "cc")
    with serve_wsgi(kerberos_middleware(mit_realm, config, "Negotiate")) as url:
        port = url.rsplit(":", 1)[1]
        env_args = ["--resolve", f"server.test.local:{port}:127.0.0.1"]
        proc = subprocess.run(
            ["curl", "-sS", "-w", "\n%{http_code}", "--negotiate", "-u", ":", *env_args,
             f"http://server.test.local:{port}/"],
            capture_output=True, text=True, timeout=30, env=mit_realm.env(ccache=ccache))
    assert proc.stdout.splitlines() == ["hello alice@TEST.LOCAL via Negotiate", "200"]



# -- pywin32's fetch_url.py demo, call by call ----------------------------------------------


def fetch_url(host: str, path: str, auth_info: tuple[str, str, str]) -> list[int]:
    """pywin32's ``win32/Demos/security/sspi/fetch_url.py`` ``open_url``, in Python 3: the
    statuses of the initial request, each leg, and a second fetch on the same connection."""
    import base64
    import http.client
    import sys

    from opensspi.compat import pywin32

    saved_path = list(sys.path)
    saved = {name: sys.modules.pop(name) for name in pywin32.MODULES if name in sys.modules}
    pywin32.install()
    try:
        from sspi import ClientAuth  # type: ignore[import-not-found]
    finally:
        sys.path[:] = saved_path
        for name in pywin32.MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)

    statuses: list[int] = []
    h = http.client.HTTPConnection(host)
    h.putrequest("GET", path)
    h.endheaders()
    resp = h.getresponse()
    statuses.append(resp.status)
    resp.read()
    assert resp.status == 401
    ca = ClientAuth("NTLM", auth_info=auth_info)
    auth_scheme = ca.pkg_info["Name"]
    data = None
    while True:
        err, out_buf = ca.authorize(data)
        data = out_buf[0].Buffer
        auth = base64.encodebytes(data).replace(b"\n", b"").decode()
        h.putrequest("GET", path)
        h.putheader("Authorization", auth_scheme + " " + auth)
        h.putheader("Content-Length", "0")
        h.endheaders()
        resp = h.getresponse()
        statuses.append(resp.status)
        if err == 0:
            break
        assert resp.status == 401, resp.status
        assert not resp.will_close, "NTLM is per-connection - must not close"
        schemes = [s.strip() for s in resp.msg.get("WWW-Authenticate", "").split(",")]
        for scheme in schemes:
            if scheme.startswith(auth_scheme):
                data = base64.decodebytes(scheme[len(auth_scheme) + 1:].encode())
                break
        else:
            raise AssertionError(f"no {auth_scheme} in {schemes}")
        resp.read()
    assert not resp.will_close
    resp.read()
    h.putrequest("GET", path)
    h.endheaders()
    second = h.getresponse()
    statuses.append(second.status)
    second.read()
    h.close()
    return statuses


def test_fetch_url_demo_against_mod_auth_gssapi(apache_gssapi: ApacheGssapiPeer) -> None:
    host = f"127.0.0.1:{apache_gssapi.port}"
    statuses = fetch_url(host, "/ntlm/", ("alice", "TESTDOM", "Passw0rd!"))
    # GssapiConnectionBound: the authenticated connection needs no new handshake
    assert statuses == [401, 401, 200, 200], apache_gssapi.log_text()


def test_fetch_url_demo_against_our_middleware() -> None:
    with serve_wsgi(ntlm_digest_app()) as url:
        statuses = fetch_url(url.removeprefix("http://"), "/page", ("alice", "CORP", "Passw0rd!"))
    # our middleware authenticates each request (it cannot see connections close)
    assert statuses == [401, 401, 200, 401]
