"""Hostile peers against Digest (issue 12): non-ASCII nonces, qop stripping, cross-handle replays.

Each test failed before its fix: a TypeError escaped AcceptSecurityContext, the client answered a
challenge stripped of ``qop`` in the RFC 2069 form, and a response replayed to a second credential
handle with the same nonce secret was accepted.
"""

from __future__ import annotations

import pytest

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import AscReq, CredentialUse, SecBufferType, SecStatus
from opensspi.errors import SspiError
from opensspi.packages.digest.credentials import DigestAcceptorConfig
from opensspi.packages.digest.machine import ASC_REQ_HTTP
from opensspi.packages.digest.messages import HttpResponse
from opensspi.packages.digest.replay import NonceCounts
from opensspi.provider import StepInput

from .conftest import Digest

T = SecBufferType
SECRET = b"k" * 32


def _acceptor_handle(**config: object) -> sspi.CredHandle:
    _, cred, _ = sspi.AcquireCredentialsHandle(
        None, "WDigest", CredentialUse.INBOUND, None,
        DigestAcceptorConfig(realm="example.com", passwords={"alice": "Passw0rd!"},
                             **config))  # type: ignore[arg-type]
    return cred


def _accept(cred: sspi.CredHandle, ctx: sspi.CtxtHandle, token: bytes | None,
            req: int, *params: bytes) -> SecStatus:
    inp = None
    if token is not None:
        inp = SecBufferDesc([SecBuffer(T.TOKEN, token),
                             *(SecBuffer(T.PKG_PARAMS, p) for p in params)])
    out = SecBufferDesc([SecBuffer(T.TOKEN, 4000)])
    result = sspi.AcceptSecurityContext(
        cred, ctx if ctx.is_valid else None, inp, AscReq(req), 0, ctx, out)
    return SecStatus(result.status)


@pytest.mark.parametrize("nonce", ["n\u00f6nce", "\u2603" * 44, "\udcff"])
def test_non_ascii_nonce_sasl(nonce: str) -> None:
    """Defect 2 (SASL): the nonce is compared with the issued one: SEC_E_LOGON_DENIED."""
    cred = _acceptor_handle()
    ctx = sspi.CtxtHandle()
    assert _accept(cred, ctx, None, 0) == SecStatus.SEC_I_CONTINUE_NEEDED
    token = (f'username="alice",realm="example.com",nonce="{nonce}",cnonce="abc",nc=00000001,'
             f'qop=auth,digest-uri="imap/h",response={"0" * 32},charset=utf-8')
    with pytest.raises(SspiError) as exc:
        _accept(cred, ctx, token.encode("utf-8", "surrogateescape"), 0)
    assert exc.value.status in (SecStatus.SEC_E_LOGON_DENIED, SecStatus.SEC_E_INVALID_TOKEN)


@pytest.mark.parametrize("nonce", ["n\u00f6nce", "\u00e9" * 44])
def test_non_ascii_nonce_http(nonce: str) -> None:
    """Defect 2 (HTTP): after a challenge, a non-ASCII nonce is SEC_E_LOGON_DENIED."""
    cred = _acceptor_handle()
    ctx = sspi.CtxtHandle()
    assert _accept(cred, ctx, None, ASC_REQ_HTTP) == SecStatus.SEC_I_CONTINUE_NEEDED
    token = (f'Digest username="alice", realm="example.com", nonce="{nonce}", uri="/", '
             f'response="{"0" * 64}", qop=auth, nc=00000001, cnonce="abc", algorithm=SHA-256')
    with pytest.raises(SspiError) as exc:
        _accept(cred, ctx, token.encode(), ASC_REQ_HTTP, b"GET", b"/")
    assert exc.value.status == SecStatus.SEC_E_LOGON_DENIED


def test_stripped_qop_is_refused(digest: Digest) -> None:
    """Defect 4: a challenge without qop gets no RFC 2069 answer unless allowed."""
    client = digest.http_client()
    with pytest.raises(SspiError) as exc:
        client.step(StepInput(b'realm="r", nonce="abc"', params=(b"GET",)))
    assert exc.value.status == SecStatus.SEC_E_QOP_NOT_SUPPORTED
    assert "allow_rfc2069" in exc.value.message


TWO_CHALLENGES = (b'Digest realm="r", nonce="abc", algorithm=SHA-256, '
                  b'Digest realm="r", nonce="def", qop="auth", algorithm=MD5')


def test_stripped_qop_on_the_stronger_challenge_is_no_md5_downgrade(digest: Digest) -> None:
    """An attacker who strips qop from the server's SHA-256 challenge, leaving its MD5 one,
    gets neither the RFC 2069 form nor an MD5 answer."""
    client = digest.http_client()
    with pytest.raises(SspiError) as exc:
        client.step(StepInput(TWO_CHALLENGES, params=(b"GET",)))
    assert exc.value.status == SecStatus.SEC_E_ALGORITHM_MISMATCH
    assert "allow_weaker_algorithm" in exc.value.message


def test_weaker_algorithm_only_when_allowed(digest: Digest) -> None:
    client = digest.http_client(allow_weaker_algorithm=True)
    token = client.step(StepInput(TWO_CHALLENGES, params=(b"GET",))).token
    response = HttpResponse.parse(token)
    assert (response.nonce, response.qop, response.nc, response.algorithm) == (
        "def", "auth", 1, "MD5")


@pytest.mark.parametrize("order", [0, 1])
def test_sha256_is_chosen_over_md5(digest: Digest, order: int) -> None:
    challenges = [b'Digest realm="r", nonce="m", qop="auth", algorithm=MD5',
                  b'Digest realm="r", nonce="s", qop="auth", algorithm=SHA-256']
    if order:
        challenges.reverse()
    client = digest.http_client()
    token = client.step(StepInput(b", ".join(challenges), params=(b"GET",))).token
    assert HttpResponse.parse(token).algorithm == "SHA-256"


def test_replay_to_another_handle_with_the_same_secret(digest: Digest) -> None:
    """Defect 5: the second handle (pywin32's handle per request) refuses the replay."""
    first = digest.http_server(nonce_secret=SECRET)
    client = digest.http_client()
    auth = digest.http_login(client, first)
    second = digest.http_server(nonce_secret=SECRET)  # a new credential handle
    with pytest.raises(SspiError) as exc:
        second.step(StepInput(auth, params=(b"GET", b"/dir/index.html", b"")))
    assert exc.value.status == SecStatus.SEC_E_OUT_OF_SEQUENCE
    # A fresh nc from the genuine client still passes on a third handle.
    follow = client.next_authorization("GET")
    third = digest.http_server(nonce_secret=SECRET)
    assert third.step(StepInput(follow, params=(b"GET", b"/dir/index.html", b""))
                      ).status is SecStatus.SEC_E_OK


def test_nonce_counts_expire_with_the_nonce_and_stay_bounded() -> None:
    counts = NonceCounts(max_nonces=3, lifetime=300)
    assert counts.accept("a", 1, issued=1000, now=1000)
    assert not counts.accept("a", 1, issued=1000, now=1001)
    for name in "bcd":
        assert counts.accept(name, 1, issued=1001, now=1001)
    assert len(counts) == 3
    # "a" was evicted while fresh: it is refused (and reported stale), not accepted again.
    assert counts.forgotten(1000, 1002)
    assert not counts.accept("a", 1, issued=1000, now=1002)
    # Once every nonce of that age is stale the record forgets them and the floor.
    assert counts.accept("e", 1, issued=1400, now=1400)
    assert len(counts) == 1 and not counts.forgotten(1400, 1400)


def test_forgotten_nonce_gets_a_stale_challenge(digest: Digest) -> None:
    """A nonce whose count the full record evicted is answered with stale=true, never
    accepted again."""
    server = digest.http_server(nonce_secret=b"s" * 32, max_nonces=1)
    client = digest.http_client()
    auth = digest.http_login(client, server)
    other = digest.http_client()
    digest.http_login(other, digest.http_server(nonce_secret=b"s" * 32, max_nonces=1))
    again = digest.http_server(nonce_secret=b"s" * 32, max_nonces=1)
    step = again.step(StepInput(auth, params=(b"GET", b"/dir/index.html", b"")))
    assert step.status is SecStatus.SEC_I_CONTINUE_NEEDED and b"stale=true" in step.token


@pytest.mark.parametrize("maxbuf", ["0\u00b2", "\u0661\u0662", "\uff11"])
def test_non_ascii_digits_in_maxbuf_are_invalid_token(digest: Digest, maxbuf: str) -> None:
    """Fuzz finding (digest_sasl_client): ``maxbuf=0²`` passed str.isdigit() and int() raised
    ValueError out of InitializeSecurityContext. Now SEC_E_INVALID_TOKEN."""
    client = digest.sasl_client()
    client.step(StepInput())
    challenge = f'nonce="a",maxbuf={maxbuf},algorithm=md5-sess'.encode()
    with pytest.raises(SspiError) as exc:
        client.step(StepInput(challenge))
    assert exc.value.status == SecStatus.SEC_E_INVALID_TOKEN


@pytest.mark.parametrize("http", [True, False])
def test_unknown_user_and_wrong_password_look_the_same(digest: Digest, http: bool) -> None:
    """Same status and words; tools/enumeration_timing.py measures the timing (the acceptor
    checks an unknown user against a decoy that costs what a stored password does)."""
    def refusal(user: str, password: str) -> SspiError:
        if http:
            client, server = digest.http_client(user=user, password=password), digest.http_server()
            challenge = server.step(StepInput()).token
            auth = client.step(StepInput(challenge, params=(b"GET", b""))).token
            call = lambda: server.step(StepInput(auth, params=(b"GET", b"/dir/index.html", b"")))  # noqa: E731
        else:
            client, server = digest.sasl_client(user=user, password=password), digest.sasl_server()
            client.step(StepInput())
            response = client.step(StepInput(server.step(StepInput()).token)).token
            call = lambda: server.step(StepInput(response))  # noqa: E731
        with pytest.raises(SspiError) as exc:
            call()
        return exc.value

    known = "Mufasa" if http else "chris"
    unknown, wrong = refusal("nobody", "x"), refusal(known, "not the password")
    assert unknown.status == wrong.status == SecStatus.SEC_E_LOGON_DENIED
    assert unknown.message == wrong.message
