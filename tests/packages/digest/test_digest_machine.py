"""The handshake machine: the sweep of states and inputs, computed flags, and every refusal."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensspi.buffers import ChannelBindings, SecBuffer, SecBufferDesc
from opensspi.constants import AscReq, CredentialUse, IscReq, IscRet, SecBufferType, SecStatus
from opensspi.errors import SspiError
from opensspi.message import MessageOp
from opensspi.packages.digest import DigestPackage
from opensspi.packages.digest.client import DigestClientContext
from opensspi.packages.digest.credentials import DigestAcceptorConfig
from opensspi.packages.digest.crypto import Algorithm, Cipher, Qop
from opensspi.packages.digest.legacy import LEGACY_CIPHERS
from opensspi.packages.digest.machine import TRANSITIONS, Input, Mode, State
from opensspi.packages.digest.messages import (
    AuthenticationInfo,
    HttpChallenge,
    HttpResponse,
    ResponseAuth,
    SaslChallenge,
    SaslResponse,
)
from opensspi.packages.digest.server import DigestServerContext
from opensspi.packages.digest.session import NextRequest
from opensspi.protection import protect
from opensspi.provider import AuthIdentity, MessagePart, StepInput
from opensspi.statemachine import mermaid

from .conftest import Digest, load_vectors

INVALID = load_vectors("invalid.json")["cases"]


def raises(status: SecStatus, call: Callable[[], object]) -> SspiError:
    with pytest.raises(SspiError) as exc:
        call()
    assert exc.value.status == status, exc.value
    return exc.value


# -- the sweep ---------------------------------------------------------------------------------

PAYLOADS: dict[Mode, dict[Input, Any]] = {
    Mode.SASL: {
        Input.NO_TOKEN: None,
        Input.CHALLENGE: SaslChallenge("n", ("elwood.innosoft.com",)),
        Input.STALE_CHALLENGE: SaslChallenge("n", stale=True),
        Input.RSPAUTH: ResponseAuth("0" * 32),
        Input.RESPONSE: SaslResponse("chris", "n", "c", 1, "imap/h", "0" * 32, "r"),
        Input.STALE_RESPONSE: SaslResponse("chris", "n", "c", 1, "imap/h", "0" * 32, "r"),
        Input.NEXT_REQUEST: NextRequest("GET", "/", b""),
    },
    Mode.HTTP: {
        Input.NO_TOKEN: None,
        Input.CHALLENGE: (HttpChallenge("http-auth@example.org", "n", ("auth",)),),
        Input.STALE_CHALLENGE: (HttpChallenge("http-auth@example.org", "n", ("auth",),
                                              stale=True),),
        Input.RSPAUTH: AuthenticationInfo("0" * 32, nextnonce="x"),
        Input.RESPONSE: HttpResponse("Mufasa", "http-auth@example.org", "/", "n", "0" * 32,
                                     cnonce="c", nc=9, qop="auth"),
        Input.STALE_RESPONSE: HttpResponse("Mufasa", "http-auth@example.org", "/", "n",
                                           "0" * 32, cnonce="c", nc=9, qop="auth"),
        Input.NEXT_REQUEST: NextRequest("GET", "/", b""),
    },
}


def context_in(digest: Digest, state: State) -> Any:
    """A fresh context driven to ``state`` by real tokens."""
    name = state.name
    if state is State.FAILED:
        ctx = digest.sasl_client()
        with pytest.raises(SspiError):
            ctx.step(StepInput(b"\x00"))
        return ctx
    http = name.startswith("HTTP")
    if "CLIENT" in name or name in ("SASL_EXPECT_CHALLENGE", "SASL_EXPECT_RSPAUTH",
                                    "HTTP_EXPECT_CHALLENGE"):
        client = digest.http_client() if http else digest.sasl_client()
        server = digest.http_server() if http else digest.sasl_server()
        if state in (State.SASL_EXPECT_CHALLENGE, State.HTTP_EXPECT_CHALLENGE):
            client.step(StepInput())
        elif state is State.SASL_EXPECT_RSPAUTH:
            client.step(StepInput(server.step(StepInput()).token))
        elif state is State.SASL_CLIENT_DONE:
            digest.sasl_login(client, server)
        elif state is State.HTTP_CLIENT_DONE:
            digest.http_login(client, server)
        assert client.state is state
        return client
    client = digest.http_client() if http else digest.sasl_client()
    server = digest.http_server() if http else digest.sasl_server()
    if state in (State.SASL_EXPECT_RESPONSE, State.HTTP_EXPECT_RESPONSE):
        server.step(StepInput())
    elif state is State.SASL_SERVER_DONE:
        digest.sasl_login(client, server)
    elif state is State.HTTP_SERVER_DONE:
        digest.http_login(client, server)
    assert server.state is state
    return server


@pytest.mark.parametrize("state", list(State), ids=[s.name for s in State])
@pytest.mark.parametrize("event", list(Input), ids=[i.name for i in Input])
def test_every_state_input_pair_is_legal_or_fails_the_context(
    digest: Digest, state: State, event: Input
) -> None:
    ctx = context_in(digest, state)
    payload = PAYLOADS[ctx.mode][event]
    inp = StepInput(params=(b"GET", b"/", b""))
    try:
        result = ctx._machine.fire(event, ctx, payload, inp)
    except SspiError:
        assert ctx.state is State.FAILED
        later = raises(SecStatus.SEC_E_CONTEXT_EXPIRED, lambda: ctx.step(StepInput()))
        assert "cannot be used" in later.message
        return
    assert (state, event) in TRANSITIONS
    assert ctx.state is TRANSITIONS[(state, event)][1]
    assert result.status in (SecStatus.SEC_E_OK, SecStatus.SEC_I_CONTINUE_NEEDED)


def test_table_shape_and_diagram() -> None:
    assert all(s is not State.FAILED for (s, _) in TRANSITIONS)
    diagram = mermaid(TRANSITIONS)
    assert diagram.startswith("stateDiagram-v2")
    assert "SASL_EXPECT_RSPAUTH --> SASL_CLIENT_DONE: RSPAUTH" in diagram
    assert diagram.count("\n") == len(TRANSITIONS)


# -- malformed tokens at the context boundary --------------------------------------------------


def _context_for(digest: Digest, parser: str) -> Any:
    if parser == "http-challenge":
        return digest.http_client()
    if parser == "sasl-challenge":
        return digest.sasl_client()
    if parser == "rspauth":
        return context_in(digest, State.SASL_EXPECT_RSPAUTH)
    if parser == "http-response":
        return context_in(digest, State.HTTP_EXPECT_RESPONSE)
    return context_in(digest, State.SASL_EXPECT_RESPONSE)


@pytest.mark.parametrize("case", INVALID, ids=[c["source"] for c in INVALID])
def test_invalid_vectors_through_contexts(digest: Digest, case: dict[str, Any]) -> None:
    ctx = _context_for(digest, case["parser"])
    token = case["token"].replace("{pad}", "x" * case.get("pad", 0)).encode("utf-8")
    err = raises(SecStatus[case["status"]], lambda: ctx.step(StepInput(token)))
    assert err.message.startswith("Malformed Digest token")
    assert ctx.state is State.FAILED
    raises(SecStatus.SEC_E_CONTEXT_EXPIRED, lambda: ctx.step(StepInput(token)))


@pytest.mark.parametrize("state", [
    State.SASL_CLIENT_START, State.SASL_EXPECT_RSPAUTH, State.HTTP_CLIENT_START,
    State.HTTP_CLIENT_DONE, State.SASL_EXPECT_RESPONSE, State.HTTP_EXPECT_RESPONSE,
], ids=lambda s: s.name)
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])
@given(token=st.binary(min_size=1, max_size=300))
def test_fuzz_contexts_raise_only_sspi_errors(digest: Digest, state: State, token: bytes) -> None:
    ctx = context_in(digest, state)
    try:
        ctx.step(StepInput(token, params=(b"GET", b"/dir/index.html")))
    except SspiError:
        assert ctx.state is State.FAILED


# -- computed flags and refusals ---------------------------------------------------------------


def test_flags_are_earned_not_echoed(digest: Digest) -> None:
    everything = IscReq.MUTUAL_AUTH | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT
    client = digest.sasl_client(everything | IscReq.CONFIDENTIALITY | IscReq.DELEGATE)
    server = digest.sasl_server()
    client.step(StepInput())
    client.step(StepInput(server.step(StepInput()).token))
    assert client.flags == 0
    http = digest.http_client(IscReq.MUTUAL_AUTH)
    server = digest.http_server()
    token = http.step(StepInput(server.step(StepInput()).token, params=(b"GET",))).token
    assert http.flags == IscRet.USED_HTTP_STYLE
    http.step(StepInput(server.step(StepInput(token, params=(b"GET",))).token))
    assert http.flags == IscRet.USED_HTTP_STYLE | IscRet.MUTUAL_AUTH


def test_wrong_sasl_rspauth_is_mutual_auth_failed(digest: Digest) -> None:
    client = context_in(digest, State.SASL_EXPECT_RSPAUTH)
    err = raises(SecStatus.SEC_E_MUTUAL_AUTH_FAILED,
                 lambda: client.step(StepInput(b"rspauth=" + b"0" * 32)))
    assert "rspauth" in err.message
    assert client.flags & IscRet.MUTUAL_AUTH == 0
    assert client.state is State.FAILED


def test_wrong_authentication_info_is_mutual_auth_failed(digest: Digest) -> None:
    client, server = digest.http_client(), digest.http_server()
    token = client.step(StepInput(server.step(StepInput()).token, params=(b"GET",))).token
    info = server.step(StepInput(token, params=(b"GET",))).token
    forged = info.replace(info[9:13], b"0000")
    raises(SecStatus.SEC_E_MUTUAL_AUTH_FAILED, lambda: client.step(StepInput(forged)))


def test_qop_the_server_lacks_ends_the_handshake(digest: Digest) -> None:
    cases = [
        (digest.sasl_client(IscReq.INTEGRITY), digest.sasl_server(qops=(Qop.AUTH,))),
        (digest.sasl_client(IscReq.CONFIDENTIALITY),
         digest.sasl_server(qops=(Qop.AUTH, Qop.AUTH_INT))),
        (digest.sasl_client(IscReq.CONFIDENTIALITY), digest.sasl_server(ciphers=LEGACY_CIPHERS)),
        (digest.http_client(IscReq.INTEGRITY), digest.http_server(qops=(Qop.AUTH,))),
    ]
    for client, server in cases:
        challenge = server.step(StepInput()).token
        err = raises(SecStatus.SEC_E_QOP_NOT_SUPPORTED,
                     partial(client.step, StepInput(challenge, params=(b"GET",))))
        assert "downgrade" in err.message
        assert client.state is State.FAILED


def test_apache_challenge_with_integrity_request_fails(digest: Digest) -> None:
    apache = (b'Digest realm="http-auth@example.org", nonce="emndds1gBgA=dd21d80afebd9f809",'
              b' algorithm=MD5, domain="/dir/", qop="auth"')
    client = digest.http_client(IscReq.INTEGRITY)
    raises(SecStatus.SEC_E_QOP_NOT_SUPPORTED,
           lambda: client.step(StepInput(apache, params=(b"GET",))))
    plain = digest.http_client()
    token = plain.step(StepInput(apache, params=(b"GET",))).token
    assert HttpResponse.parse(token).uri == "/dir/index.html"


def test_http_confidentiality_is_refused_at_once(digest: Digest) -> None:
    raises(SecStatus.SEC_E_UNSUPPORTED_FUNCTION,
           lambda: digest.http_client(IscReq.CONFIDENTIALITY))
    raises(SecStatus.SEC_E_UNSUPPORTED_FUNCTION,
           lambda: digest.http_server(AscReq.CONFIDENTIALITY))
    raises(SecStatus.SEC_E_QOP_NOT_SUPPORTED,
           lambda: digest.sasl_server(AscReq.CONFIDENTIALITY, qops=(Qop.AUTH,)))


def test_acceptor_demanding_integrity_offers_no_plain_auth(digest: Digest) -> None:
    server = digest.sasl_server(AscReq.INTEGRITY)
    client = digest.sasl_client()
    client.step(StepInput())
    challenge = server.step(StepInput()).token
    assert SaslChallenge.parse(challenge).qop == ("auth-int", "auth-conf")
    response = client.step(StepInput(challenge)).token
    client.step(StepInput(server.step(StepInput(response)).token))
    assert client.qop is Qop.AUTH_INT and server.qop is Qop.AUTH_INT
    assert client.flags & IscRet.INTEGRITY


def test_wrong_password_is_logon_denied(digest: Digest) -> None:
    client, server = digest.sasl_client(password="wrong"), digest.sasl_server()
    client.step(StepInput())
    response = client.step(StepInput(server.step(StepInput()).token)).token
    err = raises(SecStatus.SEC_E_LOGON_DENIED, lambda: server.step(StepInput(response)))
    assert "wrong password" in err.message and "secret" not in err.message
    client, server = digest.http_client(password="nope"), digest.http_server()
    token = client.step(StepInput(server.step(StepInput()).token, params=(b"GET",))).token
    raises(SecStatus.SEC_E_LOGON_DENIED, lambda: server.step(StepInput(token, params=(b"GET",))))
    unknown = digest.http_client(user="Scar")
    server = digest.http_server()
    token = unknown.step(StepInput(server.step(StepInput()).token, params=(b"GET",))).token
    raises(SecStatus.SEC_E_LOGON_DENIED, lambda: server.step(StepInput(token, params=(b"GET",))))


def test_second_challenge_without_stale_is_logon_denied(digest: Digest) -> None:
    client, server = digest.http_client(), digest.http_server()
    challenge = server.step(StepInput()).token
    client.step(StepInput(challenge, params=(b"GET",)))
    err = raises(SecStatus.SEC_E_LOGON_DENIED,
                 lambda: client.step(StepInput(challenge, params=(b"GET",))))
    assert "rejected" in err.message


def _tamper_response(token: bytes, **changes: Any) -> bytes:
    return replace(HttpResponse.parse(token), **changes).build().encode()


def test_acceptor_checks_every_directive(digest: Digest) -> None:
    def fresh() -> tuple[Any, bytes]:
        client, server = digest.http_client(), digest.http_server(algorithms=(Algorithm.MD5,))
        return server, client.step(StepInput(server.step(StepInput()).token,
                                             params=(b"GET",))).token

    checks: list[tuple[dict[str, Any], tuple[bytes, ...], SecStatus]] = [
        ({"qop": "auth-conf"}, (b"GET",), SecStatus.SEC_E_QOP_NOT_SUPPORTED),
        ({"algorithm": "SHA-256"}, (b"GET",), SecStatus.SEC_E_ALGORITHM_MISMATCH),
        ({"algorithm": "SHA-1"}, (b"GET",), SecStatus.SEC_E_ALGORITHM_MISMATCH),
        ({"realm": "elsewhere"}, (b"GET",), SecStatus.SEC_E_LOGON_DENIED),
        ({"nonce": "forged"}, (b"GET",), SecStatus.SEC_E_LOGON_DENIED),
        ({}, (b"GET", b"/other"), SecStatus.SEC_E_INVALID_TOKEN),
        ({}, (), SecStatus.SEC_E_INSUFFICIENT_BUFFERS),
        ({}, (b"POST",), SecStatus.SEC_E_LOGON_DENIED),
        ({"qop": None, "nc": None, "cnonce": None}, (b"GET",), SecStatus.SEC_E_INVALID_TOKEN),
    ]
    for changes, params, expected in checks:
        server, token = fresh()
        bad = _tamper_response(token, **changes) if changes else token
        raises(expected, partial(server.step, StepInput(bad, params=params)))


def test_sasl_acceptor_checks(digest: Digest) -> None:
    def fresh(**config: Any) -> tuple[Any, SaslResponse]:
        client = digest.sasl_client(IscReq.CONFIDENTIALITY)
        server = digest.sasl_server(**config)
        client.step(StepInput())
        return server, SaslResponse.parse(
            client.step(StepInput(server.step(StepInput()).token)).token
        )

    checks: list[tuple[dict[str, Any], dict[str, Any], SecStatus]] = [
        ({"nonce": "other"}, {}, SecStatus.SEC_E_LOGON_DENIED),
        ({"nc": 2}, {}, SecStatus.SEC_E_INVALID_TOKEN),
        ({"realm": None}, {}, SecStatus.SEC_E_LOGON_DENIED),
        ({"cipher": "des"}, {}, SecStatus.SEC_E_ALGORITHM_MISMATCH),
        ({"qop": "auth-bogus"}, {}, SecStatus.SEC_E_QOP_NOT_SUPPORTED),
        ({}, {"service": "ldap"}, SecStatus.SEC_E_WRONG_PRINCIPAL),
        ({}, {"hosts": ("other.example",)}, SecStatus.SEC_E_WRONG_PRINCIPAL),
        ({"authzid": "root"}, {}, SecStatus.SEC_E_LOGON_DENIED),
    ]
    for changes, config, expected in checks:
        server, response = fresh(**config)
        bad = replace(response, **changes).build().encode()
        raises(expected, partial(server.step, StepInput(bad)))
    server, response = fresh(service="IMAP", hosts=("elwood.innosoft.com",))
    assert server.step(StepInput(response.build().encode())).status is SecStatus.SEC_E_OK


def test_sasl_response_replayed_to_a_new_context(digest: Digest) -> None:
    cred = digest.server_cred(realm="elwood.innosoft.com", passwords={"chris": "secret"})
    client = digest.sasl_client()
    server = digest.package.server_context(cred, AscReq(0), digest.env)
    client.step(StepInput())
    response = client.step(StepInput(server.step(StepInput()).token)).token
    assert server.step(StepInput(response)).status is SecStatus.SEC_E_OK
    again = digest.package.server_context(cred, AscReq(0), digest.env)
    again.step(StepInput())
    raises(SecStatus.SEC_E_LOGON_DENIED, lambda: again.step(StepInput(response)))


def test_rfc2069_challenge_without_qop(digest: Digest) -> None:
    client = digest.http_client(allow_rfc2069=True)
    token = client.step(StepInput(b'realm="r", nonce="abc"', params=(b"GET",))).token
    response = HttpResponse.parse(token)
    assert (response.qop, response.nc, response.cnonce) == (None, None, None)
    ha1 = hashlib.md5(b"Mufasa:r:Circle of Life").hexdigest()
    ha2 = hashlib.md5(b"GET:/dir/index.html").hexdigest()
    assert response.response == hashlib.md5(f"{ha1}:abc:{ha2}".encode()).hexdigest()


def test_nextnonce_and_absolute_url_target(digest: Digest) -> None:
    cred = digest.client_cred()
    client: Any = digest.package.client_context(
        cred, "http://example.org/dir/index.html?x=1", IscReq.USE_HTTP_STYLE, digest.env
    )
    server = digest.http_server()
    challenge = server.step(StepInput()).token
    token = client.step(StepInput(challenge, params=(b"GET",),
                                  channel_bindings=ChannelBindings(application_data=b"cb"))).token
    assert HttpResponse.parse(token).uri == "/dir/index.html?x=1"
    assert client.channel_bindings == ChannelBindings(application_data=b"cb")
    client.step(StepInput(b'nextnonce="fresh"'))
    follow = HttpResponse.parse(client.next_authorization("GET"))
    assert (follow.nonce, follow.nc) == ("fresh", 1)


def test_message_functions_refuse_misuse(digest: Digest) -> None:
    client = digest.sasl_client(IscReq.INTEGRITY)
    part = (MessagePart(b"m"),)
    raises(SecStatus.SEC_E_INVALID_TOKEN, lambda: client.make_signature(part, 0, None))
    server = digest.sasl_server()
    digest.sasl_login(client, server)
    raises(SecStatus.SEC_E_QOP_NOT_SUPPORTED, lambda: client.make_signature(part, 1, None))
    # A non-zero MessageSeqNo is ignored (the package keeps its own sequence, as Microsoft
    # documents; pywin32's sspi helper passes 1, 2, 3...): each call still verifies in order.
    for seq in (5, 6, 99):
        server.verify_signature(part, client.make_signature(part, 0, seq), seq + 1)
    raises(SecStatus.SEC_E_QOP_NOT_SUPPORTED, lambda: client.encrypt(part, 0, None))
    raises(SecStatus.SEC_E_QOP_NOT_SUPPORTED, lambda: client.decrypt(b"", part, None))
    assert client.make_signature(part, 0, 0)
    http = digest.http_client()
    raises(SecStatus.SEC_E_UNSUPPORTED_FUNCTION, lambda: http.make_signature(part, 0, None))
    conf_client = digest.sasl_client(IscReq.CONFIDENTIALITY)
    digest.sasl_login(conf_client, digest.sasl_server())
    raises(SecStatus.SEC_E_UNSUPPORTED_FUNCTION,
           lambda: conf_client.encrypt((MessagePart(b"m", sealed=False),), 0, None))
    raises(SecStatus.SEC_E_QOP_NOT_SUPPORTED,
           lambda: conf_client.encrypt(part, 0x80000001, None))
    raises(SecStatus.SEC_E_INVALID_TOKEN, lambda: conf_client.split_stream(b"short"))


@pytest.mark.parametrize("mode", ["sasl", "http"])
def test_a_malformed_token_fails_every_live_state_at_the_boundary(
    digest: Digest, mode: str
) -> None:
    for state in State:
        if state is State.FAILED or not state.name.startswith(mode.upper()):
            continue
        ctx = context_in(digest, state)
        error = raises(SecStatus.SEC_E_INVALID_TOKEN,
                       lambda c=ctx: c.step(StepInput(b"\x00junk")))  # type: ignore[misc]
        assert "Malformed Digest token" in error.message
        assert ctx.state is State.FAILED


def test_sign_buffers_shapes(digest: Digest) -> None:
    sasl = digest.sasl_client()
    raises(SecStatus.SEC_E_INVALID_TOKEN,
           lambda: protect(sasl, MessageOp.SIGN, SecBufferDesc(), 0, 0))
    client, server = digest.http_client(), digest.http_server()
    digest.http_login(client, server)
    raises(SecStatus.SEC_E_INSUFFICIENT_BUFFERS,
           lambda: protect(client, MessageOp.SIGN,
                           SecBufferDesc([SecBuffer(SecBufferType.TOKEN, b"")]), 0, 0))
    small = SecBufferDesc([SecBuffer(SecBufferType.PKG_PARAMS, b"GET\x00"),
                           SecBuffer(SecBufferType.PADDING, 10)])
    raises(SecStatus.SEC_E_BUFFER_TOO_SMALL, lambda: protect(client, MessageOp.SIGN, small, 0, 0))
    allocating = digest.http_client(IscReq.ALLOCATE_MEMORY)
    digest.http_login(allocating, digest.http_server())
    desc = SecBufferDesc([SecBuffer(SecBufferType.PKG_PARAMS, b"GET"),
                          SecBuffer(SecBufferType.PADDING, 0)])
    protect(allocating, MessageOp.SIGN, desc, 0, 0)
    assert desc[1].allocated and HttpResponse.parse(desc[1].buffer).nc == 2


def test_target_and_buffer_misuse(digest: Digest) -> None:
    raises(SecStatus.SEC_E_INVALID_PARAMETER, lambda: digest.sasl_client(target="imap"))
    raises(SecStatus.SEC_E_INVALID_PARAMETER, lambda: digest.sasl_client(target=""))
    raises(SecStatus.SEC_E_INVALID_PARAMETER, lambda: digest.http_client(target="/a\r\nb"))
    client, server = digest.http_client(), digest.http_server()
    challenge = server.step(StepInput()).token
    raises(SecStatus.SEC_E_INSUFFICIENT_BUFFERS, lambda: client.step(StepInput(challenge)))
    client = digest.http_client()
    raises(SecStatus.SEC_E_INVALID_PARAMETER,
           lambda: client.step(StepInput(challenge, params=(b"\xff\xfe",))))


def test_secrets_stay_out_of_reprs_and_messages(digest: Digest) -> None:
    cred = digest.client_cred(password="hunter2-secret")
    client = digest.package.client_context(cred, "imap/h", IscReq(0), digest.env)
    server_cred = digest.server_cred(passwords={"Mufasa": "hunter2-secret"},
                                     nonce_secret=b"nonce-key-secret")
    for obj in (cred, client, server_cred, cred.client, server_cred.acceptor,
                server_cred.acceptor.config):
        assert "hunter2" not in repr(obj) and "nonce-key" not in repr(obj)


def test_package_description() -> None:
    pkg = DigestPackage()
    assert pkg.info.name == "WDigest" and pkg.info.rpcid == 21
    cred = pkg.acquire_credentials(None, CredentialUse.OUTBOUND, AuthIdentity("u", None, "p"))
    assert isinstance(pkg.client_context(cred, "ldap/dc", IscReq(0)), DigestClientContext)
    server = pkg.acquire_credentials(
        None, CredentialUse.INBOUND, DigestAcceptorConfig("r", passwords={"u": "p"})
    )
    assert isinstance(pkg.server_context(server, AscReq(0)), DigestServerContext)
    assert Cipher.RC4 not in LEGACY_CIPHERS
