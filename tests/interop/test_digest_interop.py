"""opensspi's Digest package (``WDigest``) against real HTTP Digest and SASL DIGEST-MD5 peers.

Peers (see ``interop.peers`` and ``test_harness_digest.py``, which proves each of them with
independent clients first):

* **Apache mod_auth_digest** (MD5, qop=auth, ``Authentication-Info`` with ``rspauth``):
  our HTTP initiator driven as curl drives Windows' Digest SSP, through
  ``InitializeSecurityContext`` with ``ISC_REQ_USE_HTTP_STYLE`` and ``SECBUFFER_PKG_PARAMS``
  (method, H(entity)), then further requests through ``MakeSignature`` in the five-buffer HTTP
  shape and through ``next_authorization``; the ``rspauth`` Apache returns is fed back to the
  context, which only then reports ``ISC_RET_MUTUAL_AUTH``. ``/nccheck/`` checks nonce counts,
  ``/shortnonce/`` answers with ``stale=true`` after 2 s.
* **lighttpd mod_auth** (RFC 7616: SHA-256, MD5, SHA-512-256, several challenges, ``username*``,
  ``userhash``). lighttpd sends no ``Authentication-Info``, so MUTUAL_AUTH must stay unset.
* **requests and curl** (``HTTPDigestAuth``, ``curl --digest``) against *our* HTTP acceptor
  (``ASC_REQ_HTTP``), served from a small ``http.server`` on 127.0.0.1 in this module.
* **Cyrus SASL 2.1.28 DIGEST-MD5** (``sasl-sample-server`` / ``sasl-sample-client``), both
  directions, for every qop and every cipher Cyrus can do, with one security-layer message each
  way (frames carry the 4-byte SASL length on the wire; opensspi's ``wrap`` output does not).

What no peer here speaks, and where it is covered instead (pairs of our own contexts and the
published vectors, ``tests/packages/digest``):

* ``qop=auth-int`` over HTTP: Apache rejects ``AuthDigestQop auth-int`` and lighttpd offers
  ``auth`` only -> ``test_digest_pairs.py::test_http_pair[*-auth-int-*]``,
  ``test_digest_crypto.py::test_auth_int_and_rfc2069_forms``.
* ``MD5-sess`` (and the other ``-sess`` algorithms) over HTTP: Apache rejects
  ``AuthDigestAlgorithm MD5-sess`` and lighttpd offers none ->
  ``test_digest_pairs.py::test_http_pair[*-MD5-sess]`` (and ``SHA-*-sess``),
  ``test_digest_crypto.py::test_sess_ha1_uses_the_hex_inner_hash``.
* SASL ``3des``: Debian 12's Cyrus cannot initialise it ("couldn't init cipher '3des'", on its
  side, in both directions); the cases below are strict xfails, and the cipher is covered by
  ``test_digest_pairs.py::test_sasl_pair[auth-conf-3des]`` and ``test_digest_security.py``.
* A wrong ``rspauth`` cannot be provoked from a real server: see
  ``test_digest_machine.py::test_wrong_sasl_rspauth_is_mutual_auth_failed`` and
  ``::test_wrong_authentication_info_is_mutual_auth_failed``. Here Cyrus rejects our response
  for a wrong password instead.
"""

from __future__ import annotations

import http.client
import http.server
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from email.message import Message

import pytest
import requests
from requests.auth import HTTPDigestAuth

import opensspi
from interop.peers.apache import PROTECTED_BODY, REALM, USERS, ApacheDigestPeer, ServerPeer
from interop.peers.cyrus_sasl import (
    CIPHER_SSF,
    CLIENT_MESSAGE,
    SASL_HOST,
    SASL_SERVICE,
    SASL_USERS,
    SERVER_MESSAGE,
    CyrusAuthError,
    CyrusClient,
    CyrusError,
    CyrusServer,
    add_length_prefix,
    strip_length_prefix,
)
from interop.peers.cyrus_sasl import Cipher as CyrusCipher
from interop.peers.cyrus_sasl import Qop as CyrusQop
from interop.peers.digest_fixtures import missing_peer
from interop.peers.lighttpd import LighttpdDigestPeer
from opensspi import sspi
from opensspi.constants import (
    AscReq,
    AscRet,
    CredentialUse,
    IscReq,
    IscRet,
    SecBufferType,
    SecStatus,
)
from opensspi.errors import SspiError
from opensspi.handles import ctxt_record
from opensspi.packages.digest.credentials import DigestAcceptorConfig, DigestClientOptions
from opensspi.packages.digest.crypto import Algorithm, Cipher, Qop
from opensspi.packages.digest.legacy import LEGACY_CIPHERS, STRONG_CIPHERS
from opensspi.packages.digest.machine import (
    ASC_REQ_HTTP,
    ISC_REQ_HTTP,
    DigestClientContext,
    DigestServerContext,
)
from opensspi.provider import AuthIdentity, StepInput

pytestmark = pytest.mark.interop

PACKAGE = "WDigest"
ALICE = "alice"
JUERGEN = "j\u00fcrgen"
ALL_CIPHERS = STRONG_CIPHERS + LEGACY_CIPHERS
TIMEOUT = 10
MAX_TOKEN = 4000
SASL_TARGET = f"{SASL_SERVICE}/{SASL_HOST}"  # imap/localhost, as the harness' -s/-d/-n


def _ids(user: str) -> str:
    return "juergen" if user == JUERGEN else user


USER_PARAMS = pytest.mark.parametrize("user", [ALICE, JUERGEN], ids=_ids)


# ===================================================================================== HTTP


def _http(
    peer: ServerPeer, path: str, authorization: bytes | None = None
) -> tuple[int, Message, bytes]:
    """GET ``path``; ``authorization`` (our token) goes out as ``Digest <token>``, UTF-8 bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", peer.port, timeout=TIMEOUT)
    try:
        conn.putrequest("GET", path)
        if authorization is not None:
            conn.putheader("Authorization", b"Digest " + authorization)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def _challenge(headers: Message) -> bytes:
    """Every ``WWW-Authenticate: Digest`` value, combined into one field value (RFC 9110 §5.3)."""
    values = [v for v in headers.get_all("WWW-Authenticate", []) if v.lower().startswith("digest")]
    assert values, f"no Digest challenge in {headers.items()}"
    return ", ".join(values).encode("utf-8")


def _directive(token: bytes, name: str) -> str | None:
    m = re.search(rb'(?:^|[\s,])' + re.escape(name.encode()) + rb'=(?:"([^"]*)"|([^,\s]+))', token)
    if m is None:
        return None
    return (m.group(1) if m.group(1) is not None else m.group(2)).decode("utf-8")


class HttpInitiator:
    """Our HTTP Digest client through the Windows functions, shaped as curl's digest_sspi.c."""

    def __init__(
        self, user: str, password: str, target: str, flags: int = IscReq.USE_HTTP_STYLE
    ) -> None:
        self.target = target
        self.flags = flags
        self.cred = sspi.CredHandle()
        sspi.AcquireCredentialsHandle(
            None, PACKAGE, CredentialUse.OUTBOUND, None, AuthIdentity(user, None, password),
            phCredential=self.cred,
        )
        self.handle: sspi.CtxtHandle | None = None
        self.attrs = IscRet(0)

    def isc(self, token: bytes, *params: bytes) -> tuple[SecStatus, bytes]:
        """One InitializeSecurityContext call: TOKEN (+ PKG_PARAMS) in, TOKEN out."""
        inp = sspi.SecBufferDesc([
            sspi.SecBuffer(SecBufferType.TOKEN, token),
            *(sspi.SecBuffer(SecBufferType.PKG_PARAMS, p) for p in params),
        ])
        out = sspi.SecBufferDesc([sspi.SecBuffer(SecBufferType.TOKEN, MAX_TOKEN)])
        new = self.handle or sspi.CtxtHandle()
        result = sspi.InitializeSecurityContext(
            self.cred if self.handle is None else None, self.handle, self.target,
            self.flags, 0, 0, inp, 0, new, out,
        )
        self.handle = new
        self.attrs = result.context_attr
        return result.status, out[0].buffer

    def answer(self, challenge: bytes) -> bytes:
        """The Authorization value for a 401's challenge(s), method GET, no body."""
        status, token = self.isc(challenge, b"GET", b"")
        assert status == SecStatus.SEC_E_OK
        assert self.attrs & IscRet.USED_HTTP_STYLE
        return token

    def check_info(self, info: str) -> None:
        """Feed ``Authentication-Info`` back (rspauth check): OK, empty token, MUTUAL_AUTH."""
        status, token = self.isc(info.encode("utf-8"))
        assert (status, token) == (SecStatus.SEC_E_OK, b"")
        assert self.attrs & IscRet.MUTUAL_AUTH

    def make_signature(self, url: bytes = b"") -> bytes:
        """A further request's Authorization value: MakeSignature with curl's five buffers."""
        assert self.handle is not None
        desc = sspi.SecBufferDesc([
            sspi.SecBuffer(SecBufferType.TOKEN, b""),
            sspi.SecBuffer(SecBufferType.PKG_PARAMS, b"GET"),
            sspi.SecBuffer(SecBufferType.PKG_PARAMS, url),
            sspi.SecBuffer(SecBufferType.PKG_PARAMS, b""),
            sspi.SecBuffer(SecBufferType.PADDING, MAX_TOKEN),
        ])
        assert sspi.MakeSignature(self.handle, 0, desc, 0) == SecStatus.SEC_E_OK
        return desc[4].buffer

    @property
    def context(self) -> DigestClientContext:
        assert self.handle is not None
        ctx = ctxt_record(self.handle).context
        assert isinstance(ctx, DigestClientContext)
        return ctx

    def next_authorization(self) -> bytes:
        """A further request's Authorization value: the Pythonic MakeSignature."""
        return self.context.next_authorization("GET")


def _login(peer: ServerPeer, path: str, user: str) -> tuple[HttpInitiator, bytes, Message]:
    """401 -> our Authorization -> 200; returns the client, the token sent, the 200's headers."""
    status, headers, _ = _http(peer, path)
    assert status == 401
    client = HttpInitiator(user, USERS[user], path)
    token = client.answer(_challenge(headers))
    assert client.attrs == IscRet.USED_HTTP_STYLE  # nothing checked about the server yet
    assert _directive(token, "uri") == path and _directive(token, "nc") == "00000001"
    status, headers, body = _http(peer, path, token)
    assert status == 200, peer.log_text()
    assert body == PROTECTED_BODY
    return client, token, headers


# -------------------------------------------------------------------------- Apache


@pytest.mark.parametrize("path", ["/protected/", "/nccheck/"])
@USER_PARAMS
def test_apache_our_client(apache_digest: ApacheDigestPeer, user: str, path: str) -> None:
    client, token, headers = _login(apache_digest, path, user)
    assert _directive(token, "algorithm") == "MD5" and _directive(token, "qop") == "auth"
    if user == JUERGEN:  # Apache sends no charset: the UTF-8 name goes in the quoted string
        assert 'username="jürgen"'.encode() in token and b"username*" not in token
    client.check_info(headers["Authentication-Info"])

    # Two further requests on the same context and nonce, nc + 1 each, both Windows-shaped
    # (MakeSignature, here naming another URL) and Pythonic; each rspauth checks out too.
    # The context checks rspauth against the last request it authorized: one at a time.
    url = f"{path}index.html"
    makers = [(lambda: client.make_signature(url.encode()), url), (client.next_authorization, path)]
    for n, (make, uri) in enumerate(makers, start=2):
        follow = make()
        assert _directive(follow, "nc") == f"{n:08x}" and _directive(follow, "uri") == uri
        assert _directive(follow, "nonce") == _directive(token, "nonce")
        status, headers, body = _http(apache_digest, uri, follow)
        assert status == 200, apache_digest.log_text()
        assert body == PROTECTED_BODY
        assert f"nc={n:08x}" in headers["Authentication-Info"]
        client.check_info(headers["Authentication-Info"])
    if path == "/nccheck/":  # the peer really checks counts: the last one again is refused
        assert _http(apache_digest, uri, follow)[0] == 401


@pytest.mark.parametrize(
    "flags", [IscReq.USE_HTTP_STYLE, ISC_REQ_HTTP], ids=["USE_HTTP_STYLE", "ISC_REQ_HTTP"]
)
def test_apache_absolute_url_target_with_query(
    apache_digest: ApacheDigestPeer, flags: int
) -> None:
    """Microsoft documents the target as "the target URL": it becomes the origin form that
    Apache compares with the request line. Microsoft's documented ISC_REQ_HTTP works too."""
    path = "/protected/index.html?q=a%20b&x=1"
    status, headers, _ = _http(apache_digest, path)
    assert status == 401
    client = HttpInitiator(ALICE, USERS[ALICE], apache_digest.url(path), flags)
    token = client.answer(_challenge(headers))
    assert _directive(token, "uri") == path
    status, headers, body = _http(apache_digest, path, token)
    assert (status, body) == (200, PROTECTED_BODY), apache_digest.log_text()
    client.check_info(headers["Authentication-Info"])
    assert client.attrs == IscRet.USED_HTTP_STYLE | IscRet.MUTUAL_AUTH


def test_apache_wrong_password(apache_digest: ApacheDigestPeer) -> None:
    status, headers, _ = _http(apache_digest, "/protected/")
    assert status == 401
    client = HttpInitiator(ALICE, "wrong", "/protected/")
    status, headers, _ = _http(apache_digest, "/protected/", client.answer(_challenge(headers)))
    assert status == 401
    assert "AH01794: user alice: password mismatch" in apache_digest.log_text()
    # A second, non-stale challenge means the server refused the credentials.
    with pytest.raises(SspiError) as err:
        client.isc(_challenge(headers), b"GET", b"")
    assert err.value.status == SecStatus.SEC_E_LOGON_DENIED
    assert not client.attrs & IscRet.MUTUAL_AUTH


@pytest.mark.slow
def test_apache_stale_nonce_is_a_fresh_nonce(apache_digest: ApacheDigestPeer) -> None:
    """/shortnonce/ (2 s nonces): nextnonce is taken up, then stale=true is answered, not failed."""
    path = "/shortnonce/"
    client, token, headers = _login(apache_digest, path, ALICE)
    info = headers["Authentication-Info"]
    nextnonce = _directive(info.encode(), "nextnonce")
    assert nextnonce and nextnonce != _directive(token, "nonce")
    client.check_info(info)  # rspauth checked; the context moves to the nextnonce

    follow = client.next_authorization()
    assert (_directive(follow, "nonce"), _directive(follow, "nc")) == (nextnonce, "00000001")
    status, headers, _ = _http(apache_digest, path, follow)
    assert status == 200, apache_digest.log_text()
    client.check_info(headers["Authentication-Info"])

    time.sleep(2.5)  # past AuthDigestNonceLifetime 2
    stale = client.next_authorization()
    status, headers, _ = _http(apache_digest, path, stale)
    assert status == 401
    challenge = _challenge(headers)
    assert _directive(challenge, "stale") == "true"
    retry = client.answer(challenge)  # same context, new nonce, nc starts again
    assert client.attrs == IscRet.USED_HTTP_STYLE  # the new response is not confirmed yet
    assert _directive(retry, "nonce") == _directive(challenge, "nonce")
    assert _directive(retry, "nc") == "00000001"
    status, headers, body = _http(apache_digest, path, retry)
    assert status == 200, apache_digest.log_text()
    assert body == PROTECTED_BODY
    client.check_info(headers["Authentication-Info"])


# -------------------------------------------------------------------------- lighttpd

LIGHTTPD_CASES = [
    ("/protected/", "SHA-256"),
    ("/md5/", "MD5"),
    ("/multi/", "SHA-256"),  # SHA-256 and MD5 offered: the stronger must be chosen
    ("/sha512/", "SHA-512-256"),
    ("/sha512-userhash/", "SHA-512-256"),
]


@pytest.mark.parametrize(("path", "algorithm"), LIGHTTPD_CASES, ids=[p for p, _ in LIGHTTPD_CASES])
@USER_PARAMS
def test_lighttpd_our_client(
    lighttpd_digest: LighttpdDigestPeer, user: str, path: str, algorithm: str
) -> None:
    client, token, headers = _login(lighttpd_digest, path, user)
    assert _directive(token, "algorithm") == algorithm and _directive(token, "qop") == "auth"
    assert b"algorithm=MD5" not in token or algorithm == "MD5"
    assert _directive(token, "realm") == REALM
    if path == "/sha512-userhash/":
        assert _directive(token, "userhash") == "true"
        assert re.fullmatch(r"[0-9a-f]{64}", _directive(token, "username") or "")
    elif user == JUERGEN:  # charset=UTF-8 server: RFC 5987 form for a non-ASCII name
        assert b"username*=UTF-8''j%C3%BCrgen" in token
    else:
        assert _directive(token, "username") == ALICE
    # lighttpd sends no Authentication-Info: nothing vouches for the server.
    assert "Authentication-Info" not in headers
    assert not client.attrs & IscRet.MUTUAL_AUTH

    follow = client.next_authorization()
    assert _directive(follow, "nc") == "00000002"
    status, _, body = _http(lighttpd_digest, path, follow)
    assert (status, body) == (200, PROTECTED_BODY)


@pytest.mark.parametrize("path", ["/multi/", "/sha512-userhash/"])
def test_lighttpd_wrong_password(lighttpd_digest: LighttpdDigestPeer, path: str) -> None:
    # lighttpd holds back each failed-auth 401 for about a second: keep these few.
    status, headers, _ = _http(lighttpd_digest, path)
    assert status == 401
    client = HttpInitiator(ALICE, "wrong", path)
    status, headers, _ = _http(lighttpd_digest, path, client.answer(_challenge(headers)))
    assert status == 401
    assert "digest: auth failed" in lighttpd_digest.log_text()
    with pytest.raises(SspiError) as err:
        client.isc(_challenge(headers), b"GET", b"")
    assert err.value.status == SecStatus.SEC_E_LOGON_DENIED


# -------------------------------------------- requests / curl -> our HTTP acceptor

#: Location -> the one algorithm our acceptor offers there (requests cannot read two challenges).
ACCEPTOR_LOCATIONS = {"/md5/": Algorithm.MD5, "/sha256/": Algorithm.SHA_256}


class OurHttpServer:
    """``http.server`` on 127.0.0.1 answering GET with our Digest acceptor (one context per
    request, one credential per location: the nonces validate themselves across contexts)."""

    def __init__(self) -> None:
        self.creds = {
            loc: opensspi.credentials(
                PACKAGE, use=CredentialUse.INBOUND,
                auth_data=DigestAcceptorConfig(realm=REALM, passwords=USERS, algorithms=(alg,)),
            )
            for loc, alg in ACCEPTOR_LOCATIONS.items()
        }
        self.failures: list[SecStatus] = []  # what our acceptor raised, in order
        self.authenticated: list[str] = []  # client names of the accepted requests
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self, path: str, token: bytes | None) -> tuple[SecStatus, bytes, str | None]:
        loc = next(loc for loc in self.creds if path.startswith(loc))
        params = (b"GET", path.encode("utf-8"))

        def new_context() -> opensspi.Context:
            return opensspi.server(
                PACKAGE, credential=self.creds[loc], flags=AscReq(ASC_REQ_HTTP)
            )

        ctx = new_context()
        try:
            step = ctx.context.step(StepInput(token, params=params))
        except SspiError as exc:  # the context is dead now: challenge from a new one
            self.failures.append(SecStatus(exc.status))
            ctx = new_context()
            step = ctx.context.step(StepInput(None, params=params))
        return SecStatus(step.status), step.token, ctx.client_name

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                value = self.headers.get("Authorization", "")
                # http.server decodes header bytes as latin-1: undo it to get the wire bytes.
                token = value[7:].encode("latin-1") if value[:7].lower() == "digest " else None
                status, out, name = outer._accept(self.path, token)
                if status == SecStatus.SEC_E_OK:
                    assert name is not None
                    outer.authenticated.append(name)
                    body = name.encode("utf-8")
                    self.send_response(200)
                    self.send_header("Authentication-Info", out.decode("utf-8"))
                else:
                    body = b""
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", "Digest " + out.decode("latin-1"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def our_http_server() -> Iterator[OurHttpServer]:
    server = OurHttpServer()
    try:
        yield server
    finally:
        server.close()


def _curl_digest(url: str, user: str, password: str) -> tuple[int, bytes]:
    """(HTTP status, body) from ``curl --digest``; user and password go in as UTF-8 argv."""
    curl = shutil.which("curl")
    if curl is None:
        missing_peer("curl not installed; install with: apt-get install -y curl")
    assert curl is not None
    res = subprocess.run(
        [curl, "-s", "--max-time", str(TIMEOUT), "-w", "\\n%{http_code}", "--digest",
         "-u", f"{user}:{password}", url],
        capture_output=True, timeout=TIMEOUT + 5, check=False,
    )
    body, _, code = res.stdout.rpartition(b"\n")
    return int(code or b"0"), body


@pytest.mark.parametrize("path", list(ACCEPTOR_LOCATIONS))
@pytest.mark.parametrize("tool", ["requests", "curl"])
@USER_PARAMS
def test_independent_clients_to_our_http_acceptor(
    our_http_server: OurHttpServer, user: str, tool: str, path: str
) -> None:
    url = our_http_server.url(f"{path}index.html?q=1")
    before = len(our_http_server.failures)
    if tool == "requests":
        # requests sends the name as latin-1 in the quoted string, but hashes it as UTF-8:
        # the acceptor's latin-1 fallback takes it.
        r = requests.get(url, auth=HTTPDigestAuth(user, USERS[user]), timeout=TIMEOUT)
        status, body = r.status_code, r.content
        assert re.search(r'rspauth="[0-9a-f]+"', r.headers.get("Authentication-Info", ""))
    else:
        status, body = _curl_digest(url, user, USERS[user])
    assert (status, body) == (200, user.encode("utf-8")), our_http_server.failures
    assert our_http_server.failures[before:] == []
    assert our_http_server.authenticated[-1] == user


def test_our_http_acceptor_refuses_wrong_password(our_http_server: OurHttpServer) -> None:
    before = len(our_http_server.failures)
    r = requests.get(
        our_http_server.url("/sha256/"), auth=HTTPDigestAuth(ALICE, "wrong"), timeout=TIMEOUT
    )
    assert r.status_code == 401
    assert our_http_server.failures[before:] == [SecStatus.SEC_E_LOGON_DENIED]


# ===================================================================================== SASL

ServerFactory = Callable[..., CyrusServer]
ClientFactory = Callable[..., CyrusClient]

_3DES_XFAIL = pytest.mark.xfail(
    raises=CyrusError,
    strict=True,
    reason="Cyrus SASL 2.1.28 with OpenSSL 3 (Debian 12) fails to init cipher '3des' on its "
    "own side (create_layer_keys: 'generic failure')",
)
COMBOS = [
    pytest.param("auth", None, id="auth"),
    pytest.param("auth-int", None, id="auth-int"),
    *(
        pytest.param("auth-conf", c, id=f"auth-conf-{c}")
        for c in ("rc4", "rc4-56", "rc4-40", "des")
    ),
    pytest.param("auth-conf", "3des", id="auth-conf-3des", marks=_3DES_XFAIL),
]
NO_ISC_FLAGS = IscReq(0)
NO_ASC_FLAGS = AscReq(0)
SASL_FLAGS = {
    "auth": NO_ISC_FLAGS,
    "auth-int": IscReq.INTEGRITY,
    "auth-conf": IscReq.CONFIDENTIALITY | IscReq.INTEGRITY,
}
_LAYER_ISC = IscRet.INTEGRITY | IscRet.REPLAY_DETECT | IscRet.SEQUENCE_DETECT
_LAYER_ASC = AscRet.INTEGRITY | AscRet.REPLAY_DETECT | AscRet.SEQUENCE_DETECT


def _expected_ssf(qop: str, cipher: str | None) -> int:
    return CIPHER_SSF[cipher] if cipher is not None else {"auth": 0, "auth-int": 1}[qop]


def _sasl_client(
    user: str, password: str | None = None, flags: IscReq = NO_ISC_FLAGS,
    ciphers: tuple[Cipher, ...] = ALL_CIPHERS,
) -> opensspi.Context:
    identity = AuthIdentity(user, None, SASL_USERS[user] if password is None else password)
    return opensspi.client(
        PACKAGE, target=SASL_TARGET, flags=flags,
        auth_data=DigestClientOptions(identity, ciphers=ciphers),
    )


def _sasl_server(flags: AscReq = NO_ASC_FLAGS, **config: object) -> opensspi.Context:
    config.setdefault("ciphers", ALL_CIPHERS)
    return opensspi.server(
        PACKAGE, flags=flags,
        auth_data=DigestAcceptorConfig(
            realm=REALM, passwords=SASL_USERS, service=SASL_SERVICE, hosts=(SASL_HOST,),
            **config,  # type: ignore[arg-type]
        ),
    )


def _expected_isc(qop: str) -> IscRet:
    flags = IscRet.MUTUAL_AUTH
    if qop != "auth":
        flags |= _LAYER_ISC
    if qop == "auth-conf":
        flags |= IscRet.CONFIDENTIALITY
    return flags


def _expected_asc(qop: str) -> AscRet:
    flags = AscRet(0)
    if qop != "auth":
        flags |= _LAYER_ASC
    if qop == "auth-conf":
        flags |= AscRet.CONFIDENTIALITY
    return flags


# ----------------------------------------------------------- our client -> Cyrus server


def _our_client_authenticates(srv: CyrusServer, client: opensspi.Context) -> tuple[bytes, bytes]:
    """The three SASL legs against Cyrus; returns (challenge, our response)."""
    assert client.step() is None  # server-first: the optional empty first call
    assert client.status == SecStatus.SEC_I_CONTINUE_NEEDED
    challenge = srv.challenge()
    response = client.step(challenge)
    assert response is not None and client.status == SecStatus.SEC_I_CONTINUE_NEEDED
    assert not client.complete and not client.flags & IscRet.MUTUAL_AUTH
    rspauth = srv.respond(response)  # CyrusAuthError if Cyrus rejects our response
    assert rspauth is not None and re.fullmatch(rb"rspauth=[0-9a-f]{32}", rspauth)
    assert client.step(rspauth) is None and client.status == SecStatus.SEC_E_OK
    assert client.complete
    assert srv.respond(b"") is None and srv.complete
    return challenge, response


@pytest.mark.parametrize(("qop", "cipher"), COMBOS)
@USER_PARAMS
def test_our_client_to_cyrus_server(
    cyrus_server: ServerFactory, user: str, qop: CyrusQop, cipher: CyrusCipher | None
) -> None:
    srv = cyrus_server(qop, cipher)
    client = _sasl_client(user, flags=SASL_FLAGS[qop])
    challenge, response = _our_client_authenticates(srv, client)
    assert f'qop="{qop}"'.encode() in challenge
    assert f"qop={qop}".encode() in response
    assert f'digest-uri="{SASL_TARGET}"'.encode() in response
    assert (f"cipher={cipher}".encode() in response) is (cipher is not None)
    assert srv.username == f"{user}@{REALM}" and srv.realm == REALM
    assert srv.ssf == _expected_ssf(qop, cipher)

    ctx = client.context
    assert isinstance(ctx, DigestClientContext)
    assert ctx.qop is Qop(qop)
    assert ctx.cipher is (Cipher(cipher) if cipher else None)
    assert client.flags == _expected_isc(qop)

    frame = srv.server_message()
    if qop == "auth":  # no security layer: Cyrus' sasl_encode passes the bytes through
        assert frame == SERVER_MESSAGE
        with pytest.raises(SspiError) as err:
            client.unwrap(frame)
        assert err.value.status == SecStatus.SEC_E_QOP_NOT_SUPPORTED
        ours = CLIENT_MESSAGE
    else:
        assert client.unwrap(frame) == SERVER_MESSAGE  # with its 4-byte length: accepted
        wrapped = client.wrap(CLIENT_MESSAGE)
        assert (wrapped[: len(CLIENT_MESSAGE)] == CLIENT_MESSAGE) is (qop == "auth-int")
        ours = add_length_prefix(wrapped)
    assert srv.send_message(ours) == CLIENT_MESSAGE.rstrip(b"\x00")
    assert srv.wait() == 0, srv.stderr


def test_our_client_default_flags_choose_rc4_from_cyrus_default_offer(
    cyrus_server: ServerFactory,
) -> None:
    """Cyrus offers every qop and all five ciphers; the default request is the strongest."""
    srv = cyrus_server(None)
    client = opensspi.client(PACKAGE, user=ALICE, password=SASL_USERS[ALICE], target=SASL_TARGET)
    challenge, response = _our_client_authenticates(srv, client)
    assert b'cipher="rc4-40,rc4-56,rc4,des,3des"' in challenge
    assert _directive(response, "qop") == "auth-conf" and _directive(response, "cipher") == "rc4"
    assert srv.ssf == 128
    assert client.flags == _expected_isc("auth-conf")
    assert client.unwrap(srv.server_message()) == SERVER_MESSAGE
    assert srv.send_message(add_length_prefix(client.wrap(CLIENT_MESSAGE))) == b"client message 1"
    assert srv.wait() == 0


def test_our_client_refuses_a_legacy_only_cyrus_offer(cyrus_server: ServerFactory) -> None:
    """rc4-40 is used only when listed: without it, confidentiality cannot be had; no downgrade."""
    srv = cyrus_server("auth-conf", "rc4-40")
    client = _sasl_client(ALICE, flags=SASL_FLAGS["auth-conf"], ciphers=STRONG_CIPHERS)
    assert client.step() is None
    with pytest.raises(SspiError) as err:
        client.step(srv.challenge())
    assert err.value.status == SecStatus.SEC_E_QOP_NOT_SUPPORTED
    assert not client.complete


def test_our_client_authzid_accepted_by_cyrus(cyrus_server: ServerFactory) -> None:
    """With an authzid, A1 gains ":authzid" (RFC 2831 §2.1.2.1); Cyrus checks it and allows
    acting as oneself (another identity is refused by its authorization policy, not tested)."""
    srv = cyrus_server("auth-int")
    identity = AuthIdentity(JUERGEN, None, SASL_USERS[JUERGEN])
    client = opensspi.client(
        PACKAGE, target=SASL_TARGET, flags=SASL_FLAGS["auth-int"],
        auth_data=DigestClientOptions(identity, authzid=JUERGEN),
    )
    _challenge_sent, response = _our_client_authenticates(srv, client)
    assert 'authzid="jürgen"'.encode() in response
    assert srv.username == f"{JUERGEN}@{REALM}"
    assert client.unwrap(srv.server_message()) == SERVER_MESSAGE
    assert srv.send_message(add_length_prefix(client.wrap(CLIENT_MESSAGE))) == b"client message 1"
    assert srv.wait() == 0


def test_cyrus_server_rejects_our_wrong_password(cyrus_server: ServerFactory) -> None:
    srv = cyrus_server("auth-int")
    client = _sasl_client(ALICE, "wrong", flags=SASL_FLAGS["auth-int"])
    assert client.step() is None
    response = client.step(srv.challenge())
    assert response is not None
    with pytest.raises(CyrusAuthError) as err:
        srv.respond(response)
    assert "authentication failure" in err.value.stderr or "incorrect" in err.value.stderr
    assert not srv.complete
    assert not client.complete and not client.flags & IscRet.MUTUAL_AUTH


# ----------------------------------------------------------- Cyrus client -> our server


def _cyrus_client_authenticates(
    cli: CyrusClient, server: opensspi.Context
) -> tuple[bytes, bytes]:
    """The three SASL legs, Cyrus' client against our acceptor; returns (challenge, response)."""
    assert cli.initial() == b""
    challenge = server.step()
    assert challenge is not None and server.status == SecStatus.SEC_I_CONTINUE_NEEDED
    response = cli.step(challenge)
    rspauth = server.step(response)
    assert server.status == SecStatus.SEC_E_OK and server.complete
    assert rspauth is not None and re.fullmatch(rb"rspauth=[0-9a-f]{32}", rspauth)
    assert cli.step(rspauth) == b""  # Cyrus checked our rspauth (CyrusAuthError otherwise)
    return challenge, response


@pytest.mark.parametrize(("qop", "cipher"), COMBOS)
@USER_PARAMS
def test_cyrus_client_to_our_server(
    cyrus_client: ClientFactory, user: str, qop: CyrusQop, cipher: CyrusCipher | None
) -> None:
    """Our acceptor offers every qop and cipher; Cyrus' client is pinned to one of them."""
    server = _sasl_server()
    cli = cyrus_client(user, qop=qop, cipher=cipher)
    challenge, response = _cyrus_client_authenticates(cli, server)
    assert b'qop="auth,auth-int,auth-conf"' in challenge
    assert b'cipher="rc4,3des,rc4-56,rc4-40,des"' in challenge
    assert f"qop={qop},".encode() in response

    ctx = server.context
    assert isinstance(ctx, DigestServerContext)
    assert server.client_name == user
    assert ctx.qop is Qop(qop)
    assert ctx.cipher is (Cipher(cipher) if cipher else None)
    assert server.flags == _expected_asc(qop)

    if qop == "auth":
        assert cli.send_message(SERVER_MESSAGE) == SERVER_MESSAGE.rstrip(b"\x00")
        assert cli.client_message() == CLIENT_MESSAGE
    else:
        frame = add_length_prefix(server.wrap(SERVER_MESSAGE))
        assert cli.send_message(frame) == SERVER_MESSAGE.rstrip(b"\x00")
        client_frame = cli.client_message()
        strip_length_prefix(client_frame)  # one well-formed length-prefixed frame
        assert server.unwrap(client_frame) == CLIENT_MESSAGE
    assert cli.wait() == 0, cli.stderr


def test_cyrus_client_default_choice_against_our_default_offer(
    cyrus_client: ClientFactory,
) -> None:
    """Our defaults (strong ciphers only) with default server flags: Cyrus picks auth-conf/rc4."""
    server = opensspi.server(
        PACKAGE, auth_data=DigestAcceptorConfig(realm=REALM, passwords=SASL_USERS)
    )
    cli = cyrus_client(ALICE)
    challenge, response = _cyrus_client_authenticates(cli, server)
    assert b'qop="auth-conf"' in challenge and b'cipher="rc4,3des"' in challenge
    assert _directive(response, "cipher") == "rc4"
    assert server.flags == _expected_asc("auth-conf")
    assert cli.send_message(add_length_prefix(server.wrap(SERVER_MESSAGE))) == b"srv message 1"
    assert server.unwrap(cli.client_message()) == CLIENT_MESSAGE
    assert cli.wait() == 0


def test_cyrus_client_authzid_reaches_our_server(cyrus_client: ClientFactory) -> None:
    """alice authenticates and asks to act as jürgen: the acceptor verifies the A1 that includes
    the authzid and reports it; deciding whether alice may act as jürgen is the application's."""
    server = _sasl_server()
    cli = cyrus_client(ALICE, qop="auth-conf", cipher="rc4", authzid=JUERGEN)
    _challenge_sent, response = _cyrus_client_authenticates(cli, server)
    assert 'authzid="jürgen"'.encode() in response
    ctx = server.context
    assert isinstance(ctx, DigestServerContext)
    assert (server.client_name, ctx.authzid, ctx.cipher) == (ALICE, JUERGEN, Cipher.RC4)
    assert cli.send_message(add_length_prefix(server.wrap(SERVER_MESSAGE))) == b"srv message 1"
    assert server.unwrap(cli.client_message()) == CLIENT_MESSAGE
    assert cli.wait() == 0


def test_our_server_rejects_cyrus_wrong_password(cyrus_client: ClientFactory) -> None:
    server = _sasl_server()
    cli = cyrus_client(ALICE, "wrong", qop="auth-int")
    assert cli.initial() == b""
    response = cli.step(server.step())
    with pytest.raises(SspiError) as err:
        server.step(response)
    assert err.value.status == SecStatus.SEC_E_LOGON_DENIED
    assert not server.complete and server.client_name is None


def test_our_server_rejects_cyrus_client_for_another_service(cyrus_client: ClientFactory) -> None:
    """The acceptor is for ``imap``; a Cyrus client authenticating to ``ldap/localhost`` fails."""
    server = _sasl_server()
    cli = cyrus_client(ALICE, qop="auth", service="ldap")
    assert cli.initial() == b""
    response = cli.step(server.step())
    assert b'digest-uri="ldap/localhost"' in response
    with pytest.raises(SspiError) as err:
        server.step(response)
    assert err.value.status == SecStatus.SEC_E_WRONG_PRINCIPAL
