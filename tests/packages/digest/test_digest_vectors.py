"""Published vectors, byte for byte: RFC 2617 §3.5, RFC 7616 §3.9 (erratum 4897), RFC 2831 §4."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from opensspi.constants import AscReq, CredentialUse, IscReq, IscRet, SecStatus
from opensspi.packages.digest import DigestPackage
from opensspi.packages.digest import crypto as c
from opensspi.packages.digest.client import DigestClientContext
from opensspi.packages.digest.credentials import DigestAcceptorConfig, DigestCredential
from opensspi.packages.digest.crypto import Algorithm, Cipher, Qop
from opensspi.packages.digest.machine import ASC_REQ_HTTP
from opensspi.packages.digest.messages import (
    HttpResponse,
    parse_http_challenges,
)
from opensspi.packages.digest.security import LayerKeys, SecurityLayer
from opensspi.packages.digest.server import DigestServerContext
from opensspi.provider import AuthIdentity, Environment, StepInput

from .conftest import load_vectors

GENERATE = load_vectors("generate.json")
VERIFY = load_vectors("verify.json")
PKG = DigestPackage()


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [e["source"] for e in entries]


def _env_for(cnonce: str) -> Environment | None:
    """An Environment whose random source yields ``cnonce``, when it is base64 of 33 bytes."""
    try:
        raw = base64.b64decode(cnonce, validate=True)
    except ValueError:
        return None
    if len(raw) != 33 or base64.b64encode(raw).decode() != cnonce:
        return None
    return Environment(random=lambda n: raw if n == 33 else bytes(n))


@pytest.mark.parametrize("v", GENERATE["http"], ids=_ids(GENERATE["http"]))
def test_http_client_generates_published_response(v: dict[str, Any]) -> None:
    cred = PKG.acquire_credentials(
        None, CredentialUse.OUTBOUND, AuthIdentity(v["user"], None, v["password"])
    )
    env = _env_for(v["cnonce"])
    if env is not None:
        ctx = PKG.client_context(cred, v["uri"], IscReq.USE_HTTP_STYLE, env)
    else:
        assert isinstance(cred, DigestCredential)
        ctx = DigestClientContext(
            PKG.info, cred, v["uri"], IscReq.USE_HTTP_STYLE, Environment(), cnonce=v["cnonce"]
        )
    step = ctx.step(StepInput(v["challenge"].encode(), params=(v["method"].encode(),)))
    assert step.status is SecStatus.SEC_E_OK
    assert ctx.flags == IscRet.USED_HTTP_STYLE
    token = step.token.decode("utf-8")
    if v["authorization"] is not None:
        assert token == v["authorization"]
    else:
        assert HttpResponse.parse(step.token) == HttpResponse.parse(
            v["authorization_as_printed"].encode()
        )
    response = HttpResponse.parse(step.token)
    assert response.response == v["response"]
    for wrong in v.get("wrong_as_first_printed", ()):
        assert wrong not in token


@pytest.mark.parametrize("v", GENERATE["http"], ids=_ids(GENERATE["http"]))
def test_http_spec_functions_match_published_intermediates(v: dict[str, Any]) -> None:
    alg = Algorithm.from_wire(v["algorithm"])
    assert alg is not None
    challenge = max(parse_http_challenges(v["challenge"].encode()), key=lambda ch: len(ch.nonce))
    utf8 = challenge.charset_utf8
    user, realm = c.http_octets(v["user"], utf8), c.http_octets(challenge.realm, utf8)
    secret = c.secret_hash(alg, user, realm, c.http_octets(v["password"], utf8))
    if "ha1" in v:
        assert c.ha1(alg, secret, challenge.nonce, v["cnonce"]) == v["ha1"]
    ha2 = c.ha2(alg, v["method"], v["uri"], Qop.AUTH, "")
    if "ha2" in v:
        assert ha2 == v["ha2"]
    digest = c.request_digest(alg, secret, challenge.nonce, 1, v["cnonce"], Qop.AUTH, ha2)
    assert digest == v["response"]
    if "userhash" in v:
        assert c.userhash(alg, user, realm) == v["userhash"]


@pytest.mark.parametrize("v", GENERATE["sasl"], ids=_ids(GENERATE["sasl"]))
def test_sasl_client_generates_published_response(v: dict[str, Any]) -> None:
    cred = PKG.acquire_credentials(
        None, CredentialUse.OUTBOUND, AuthIdentity(v["user"], None, v["password"])
    )
    assert isinstance(cred, DigestCredential)
    ctx = DigestClientContext(PKG.info, cred, v["target"], IscReq(0), Environment(),
                              cnonce=v["cnonce"])
    assert ctx.step(StepInput()).status is SecStatus.SEC_I_CONTINUE_NEEDED
    step = ctx.step(StepInput(v["challenge"].encode()))
    assert step.status is SecStatus.SEC_I_CONTINUE_NEEDED
    assert step.token.decode() == v["response_token"]
    done = ctx.step(StepInput(v["rspauth_token"].encode()))
    assert done.status is SecStatus.SEC_E_OK and done.token == b""
    assert ctx.flags == IscRet.MUTUAL_AUTH
    if "ha1" in v:
        assert ctx.session_key == bytes.fromhex(v["ha1"])


def test_sasl_layer_keys_match_vectors() -> None:
    v = GENERATE["layer"]
    ha1 = bytes.fromhex(v["ha1"])
    assert c.kic(ha1).hex() == v["keys"]["kic"]
    assert c.kis(ha1).hex() == v["keys"]["kis"]
    for n, expected in v["keys"]["kcc"].items():
        assert c.kcc(ha1, int(n)).hex() == expected
    for n, expected in v["keys"]["kcs"].items():
        assert c.kcs(ha1, int(n)).hex() == expected


@pytest.mark.parametrize("name", list(GENERATE["layer"]["frames"]))
def test_sasl_layer_frames_match_vectors(name: str) -> None:
    v = GENERATE["layer"]
    ha1 = bytes.fromhex(v["ha1"])
    cipher = Cipher.from_wire(name)
    qop = Qop.AUTH_INT if cipher is None else Qop.AUTH_CONF
    sender = SecurityLayer(qop, cipher, LayerKeys.derive(ha1, True, cipher), 65536)
    receiver = SecurityLayer(qop, cipher, LayerKeys.derive(ha1, False, cipher), 65536)
    msg = v["message"].encode()
    for expected in v["frames"][name]:
        frame = sender.seal(msg) if cipher else msg + sender.sign(msg)
        assert (len(frame).to_bytes(4, "big") + frame).hex() == expected
        wire = bytes.fromhex(expected)[4:]
        if cipher:
            assert receiver.unseal(wire) == msg
        else:
            receiver.verify(wire[:-16], wire[-16:])


def _acceptor(v: dict[str, Any], mode_http: bool) -> tuple[Any, Any]:
    config = DigestAcceptorConfig(
        realm=v["realm"],
        passwords={v["user"]: v["password"]},
        algorithms=tuple(Algorithm(a) for a in v.get("algorithms", ("MD5",))),
        qops=tuple(Qop(q) for q in v["qops"]),
        userhash=v.get("userhash", False),
    )
    cred = PKG.acquire_credentials(None, CredentialUse.INBOUND, config)
    req = AscReq(ASC_REQ_HTTP) if mode_http else AscReq(0)
    return cred, req


@pytest.mark.parametrize("v", VERIFY["http"], ids=_ids(VERIFY["http"]))
def test_http_acceptor_verifies_published_authorization(v: dict[str, Any]) -> None:
    cred, req = _acceptor(v, True)
    ctx = DigestServerContext(PKG.info, cred, req, Environment(), nonce=v["nonce"],
                              opaque=v["opaque"])
    challenge = ctx.step(StepInput(params=(b"GET", b"", b"", v["realm"].encode())))
    assert challenge.status is SecStatus.SEC_I_CONTINUE_NEEDED
    ours = parse_http_challenges(challenge.token)
    published = parse_http_challenges(v["challenge"].encode())
    for theirs in published:
        match = [o for o in ours if Algorithm.from_wire(o.algorithm)
                 is Algorithm.from_wire(theirs.algorithm)]
        assert match, "the acceptor offers the published algorithm"
        assert (match[0].realm, match[0].nonce, match[0].opaque, match[0].qop) == (
            theirs.realm, theirs.nonce, theirs.opaque, theirs.qop,
        )
        assert match[0].userhash == theirs.userhash
    step = ctx.step(StepInput(
        v["authorization"].encode(), params=(v["method"].encode(), v["uri"].encode())
    ))
    assert step.status is SecStatus.SEC_E_OK
    assert ctx.client_name == v["user"]
    assert step.token.startswith(b'rspauth="')


@pytest.mark.parametrize("v", VERIFY["sasl"], ids=_ids(VERIFY["sasl"]))
def test_sasl_acceptor_verifies_published_response(v: dict[str, Any]) -> None:
    cred, req = _acceptor(v, False)
    ctx = DigestServerContext(PKG.info, cred, req, Environment(), nonce=v["nonce"])
    challenge = ctx.step(StepInput())
    assert challenge.token.decode() == v["challenge_token"]
    step = ctx.step(StepInput(v["response_token"].encode()))
    assert step.status is SecStatus.SEC_E_OK
    assert step.token.decode() == v["rspauth_token"]
    assert ctx.client_name == v["user"]
