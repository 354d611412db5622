"""User-to-user Kerberos (ISC_REQ_USE_SESSION_KEY) with the in-test KDC.

RFC 4120 §2.9.2 / §3.3.3 (ENC-TKT-IN-SKEY) and §3.2.3 (ap-option use-session-key), with the GSS
framing of the user-to-user mechanism 1.2.840.113554.1.2.2.3 as Windows sends it: KRB_TGT_REQ
(TOK_ID 04 00) -> KRB_TGT_REP (04 01, the acceptor's TGT) -> TGS-REQ with the TGT in
additional-tickets -> AP-REQ (01 00) with use-session-key -> AP-REP. The real-KDC proof is
``tests/interop/test_kerberos_u2u.py``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import (
    AscReq,
    AscRet,
    CredentialUse,
    IscReq,
    IscRet,
    SecBufferType,
    SecStatus,
)
from opensspi.errors import DecodeError, InvalidToken, LogonDenied, NoCredentials, SspiError
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos import asn1 as k
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.credentials import acquire_credentials
from opensspi.packages.kerberos.machine import TRANSITIONS, Input, KerberosContext, State
from opensspi.packages.kerberos.package import KerberosPackage
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import AuthIdentity, Environment, Step, StepInput
from opensspi.statemachine import mermaid
from opensspi.testing.kdc import MiniKdc

REALM = "EXAMPLE.TEST"
PASSWORD = "Al1ce-s3cret!"
BOB_PASSWORD = "B0b-s3cret!"
SERVICE = "HTTP/web.example.test"
T0 = datetime(2031, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
FLAGS = IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.REPLAY_DETECT \
    | IscReq.SEQUENCE_DETECT
PACKAGE = KerberosPackage()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class RecordingKdc(MiniKdc):
    """MiniKdc that keeps every request it answered."""

    def __init__(self, env: Environment) -> None:
        super().__init__(REALM, env=env)
        self.requests: list[bytes] = []

    def handle(self, request: bytes | bytearray | memoryview) -> bytes:
        self.requests.append(bytes(request))
        return super().handle(request)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    TicketCache.forget_all()
    ReplayCache.process_wide().clear()
    yield
    TicketCache.forget_all()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env(clock: Clock) -> Environment:
    return Environment(now=clock, random=random.Random(7).randbytes)


@pytest.fixture
def kdc(env: Environment) -> RecordingKdc:
    kdc = RecordingKdc(env)
    kdc.add_user("alice", PASSWORD)
    kdc.add_user("bob", BOB_PASSWORD)
    kdc.add_user("carol", BOB_PASSWORD)
    kdc.add_service(SERVICE)
    return kdc


@pytest.fixture
def config(kdc: RecordingKdc) -> Krb5Config:
    return kdc.krb5_config(kdc="kdc.invalid:88", domain_realm={".example.test": REALM})


def _data(config: Krb5Config, user: str, password: str, **kw: Any) -> KerberosAuthData:
    return KerberosAuthData(identity=AuthIdentity(user, REALM, password), config=config, **kw)


def _client(env: Environment, config: Krb5Config,
            flags: IscReq = FLAGS | IscReq.USE_SESSION_KEY,
            target: str = f"bob@{REALM}") -> KerberosContext:
    cred = acquire_credentials(None, CredentialUse.OUTBOUND, _data(config, "alice", PASSWORD),
                               env)
    ctx = PACKAGE.client_context(cred, target, flags, env)
    assert isinstance(ctx, KerberosContext)
    return ctx


def _acceptor(env: Environment, config: Krb5Config, user: str = "bob",
              flags: AscReq = AscReq(0), **kw: Any) -> KerberosContext:  # noqa: B008
    cred = acquire_credentials(None, CredentialUse.BOTH,
                               _data(config, user, BOB_PASSWORD, **kw), env)
    ctx = PACKAGE.server_context(cred, flags, env)
    assert isinstance(ctx, KerberosContext)
    return ctx


def _keytab_acceptor(env: Environment, config: Krb5Config, kdc: MiniKdc,
                     tmp_path: Path) -> KerberosContext:
    keytab = kdc.write_keytab(tmp_path / "web.keytab", SERVICE)
    cred = acquire_credentials(None, CredentialUse.INBOUND, KerberosAuthData(
        acceptor_keytab=f"FILE:{keytab}", config=config), env)
    ctx = PACKAGE.server_context(cred, AscReq(0), env)
    assert isinstance(ctx, KerberosContext)
    return ctx


def _step(ctx: KerberosContext, kdc: MiniKdc, token: bytes | None = None) -> Step:
    step = ctx.step(StepInput(token=token))
    while step.kdc_request is not None:
        step = ctx.step(StepInput(kdc_reply=kdc.handle(step.kdc_request.data)))
    return step


def _handshake(client: KerberosContext, server: KerberosContext, kdc: MiniKdc) -> list[bytes]:
    tokens: list[bytes] = []
    step = _step(client, kdc)
    while step.token:
        tokens.append(step.token)
        reply = _step(server, kdc, step.token)
        if not reply.token:
            break
        tokens.append(reply.token)
        step = _step(client, kdc, reply.token)
    return tokens


@pytest.mark.parametrize("flags", [FLAGS, IscReq.CONFIDENTIALITY | IscReq.INTEGRITY],
                         ids=["mutual", "one-leg"])
def test_user_to_user_alice_to_bob(kdc: RecordingKdc, env: Environment, config: Krb5Config,
                                   flags: IscReq) -> None:
    client = _client(env, config, flags | IscReq.USE_SESSION_KEY)
    server = _acceptor(env, config)
    tokens = _handshake(client, server, kdc)
    assert client.complete and server.complete
    mutual = bool(flags & IscReq.MUTUAL_AUTH)
    assert len(tokens) == (4 if mutual else 3)
    # 1. KRB_TGT_REQ, framed with the u2u OID, TOK_ID 04 00, naming the target.
    oid, tok_id, body = k.gss_unwrap_token(tokens[0])
    assert (oid, tok_id) == (k.U2U_OID, k.TOK_ID_TGT_REQ)
    request = k.KerbTgtRequest.parse(body)
    assert request.msg_type == 16 and request.server_name is not None
    assert request.server_name.name_string == ("bob",) and request.realm == REALM
    # 2. KRB_TGT_REP: bob's TGT.
    oid, tok_id, body = k.gss_unwrap_token(tokens[1])
    assert (oid, tok_id) == (k.U2U_OID, k.TOK_ID_TGT_REP)
    tgt = k.KerbTgtReply.parse(body).ticket
    assert tgt.sname.name_string == ("krbtgt", REALM)
    # The client's TGS-REQ: ENC-TKT-IN-SKEY with that very TGT in additional-tickets.
    tgs = [k.KdcReq.parse(r) for r in kdc.requests if r[0] == 0x6C]
    u2u = [t for t in tgs if t.req_body.kdc_options & k.KdcOptions.ENC_TKT_IN_SKEY]
    assert len(u2u) == 1 and u2u[0].req_body.additional_tickets is not None
    assert u2u[0].req_body.additional_tickets[0].raw == tgt.raw
    # 3. AP-REQ with use-session-key, framed with the u2u OID as Windows does.
    oid, tok_id, body = k.gss_unwrap_token(tokens[2])
    assert (oid, tok_id) == (k.U2U_OID, k.TOK_ID_AP_REQ)
    ap_req = k.ApReq.parse(body)
    assert ap_req.ap_options & k.ApOptions.USE_SESSION_KEY
    assert bool(ap_req.ap_options & k.ApOptions.MUTUAL_REQUIRED) == mutual
    assert ap_req.ticket.enc_part.etype == 18  # in bob's TGT session key
    if mutual:  # 4. the AP-REP answers in the same mechanism
        assert k.gss_unwrap_token(tokens[3])[0] == k.U2U_OID
    assert IscRet(client.flags) & IscRet.USE_SESSION_KEY
    assert AscRet(server.flags) & AscRet.USE_SESSION_KEY
    assert bool(client.flags & IscRet.MUTUAL_AUTH) == mutual
    assert server.client_name == f"alice@{REALM}" and client.session_key == server.session_key
    assert server.unwrap(client.wrap(b"to bob")) == b"to bob"
    assert client.unwrap(server.wrap(b"to alice")) == b"to alice"


def test_user_to_user_dce_style(kdc: RecordingKdc, env: Environment,
                                config: Krb5Config) -> None:
    client = _client(env, config, FLAGS | IscReq.USE_SESSION_KEY | IscReq.USE_DCE_STYLE)
    server = _acceptor(env, config)
    tokens = _handshake(client, server, kdc)
    assert tokens[2][0] == 0x6E  # raw AP-REQ (MS-KILE 3.4.5.1)
    assert client.complete and server.complete and len(tokens) == 5
    assert client.flags & IscRet.USED_DCE_STYLE and server.flags & AscRet.USE_SESSION_KEY
    assert server.unwrap(client.wrap(b"dce")) == b"dce"


def test_the_acceptor_gets_its_tgt_once(kdc: RecordingKdc, env: Environment,
                                        config: Krb5Config) -> None:
    bob = acquire_credentials(None, CredentialUse.BOTH, _data(config, "bob", BOB_PASSWORD), env)
    for _ in range(2):
        server = PACKAGE.server_context(bob, AscReq(0), env)
        assert isinstance(server, KerberosContext)
        _handshake(_client(env, config), server, kdc)
        assert server.complete
    as_reqs = [k.KdcReq.parse(r) for r in kdc.requests if r[0] == 0x6A]
    bob_as = [r for r in as_reqs if r.req_body.cname == k.PrincipalName(1, ("bob",))]
    assert len(bob_as) == 2  # PREAUTH_REQUIRED round, then one TGT for both contexts


def test_ordinary_contexts_do_not_claim_use_session_key(
    kdc: RecordingKdc, env: Environment, config: Krb5Config, tmp_path: Path
) -> None:
    server = _keytab_acceptor(env, config, kdc, tmp_path)
    client = _client(env, config, FLAGS, target=SERVICE)
    _handshake(client, server, kdc)
    assert client.complete and server.complete
    assert not client.flags & IscRet.USE_SESSION_KEY and not server.flags & AscRet.USE_SESSION_KEY


def test_acceptor_requiring_user_to_user_refuses_an_ordinary_ap_req(
    kdc: RecordingKdc, env: Environment, config: Krb5Config, tmp_path: Path
) -> None:
    keytab = kdc.write_keytab(tmp_path / "web.keytab", SERVICE)
    server = _acceptor(env, config, flags=AscReq.USE_SESSION_KEY, acceptor_keytab=f"FILE:{keytab}")
    client = _client(env, config, FLAGS, target=SERVICE)
    with pytest.raises(LogonDenied) as info:
        _handshake(client, server, kdc)
    assert info.value.krb_error == k.ErrorCode.KRB_AP_ERR_USER_TO_USER_REQUIRED  # type: ignore[attr-defined]
    assert server.state is State.FAILED


def test_use_session_key_ap_req_needs_the_tgt_it_was_made_for(
    kdc: RecordingKdc, env: Environment, config: Krb5Config, tmp_path: Path
) -> None:
    client, bob = _client(env, config), _acceptor(env, config)
    tgt_rep = _step(bob, kdc, _step(client, kdc).token).token
    ap_req = _step(client, kdc, tgt_rep).token
    with pytest.raises(LogonDenied) as info:  # a keytab-only acceptor holds no TGT at all
        _keytab_acceptor(env, config, kdc, tmp_path).step(StepInput(token=ap_req))
    assert info.value.krb_error == k.ErrorCode.KRB_AP_ERR_NO_TGT  # type: ignore[attr-defined]
    # carol holds a TGT of her own, not bob's: the ticket does not open (BAD_INTEGRITY).
    carol = _acceptor(env, config, "carol")
    _step(carol, kdc, _step(_client(env, config), kdc).token)
    with pytest.raises(LogonDenied) as info:
        carol.step(StepInput(token=ap_req))
    assert info.value.krb_error == k.ErrorCode.KRB_AP_ERR_BAD_INTEGRITY  # type: ignore[attr-defined]
    # bob, who sent that TGT, accepts it.
    assert bob.step(StepInput(token=ap_req)).status == SecStatus.SEC_E_OK


def test_expired_user_to_user_ticket(kdc: RecordingKdc, env: Environment, config: Krb5Config,
                                     clock: Clock) -> None:
    client, bob = _client(env, config), _acceptor(env, config)
    ap_req = _step(client, kdc, _step(bob, kdc, _step(client, kdc).token).token).token
    clock.now += timedelta(hours=11)
    with pytest.raises(SspiError) as info:
        bob.step(StepInput(token=ap_req))
    assert info.value.status == SecStatus.SEC_E_CONTEXT_EXPIRED


def test_tgt_req_to_a_keytab_only_acceptor(kdc: RecordingKdc, env: Environment,
                                           config: Krb5Config, tmp_path: Path) -> None:
    server = _keytab_acceptor(env, config, kdc, tmp_path)
    with pytest.raises(NoCredentials, match="SECPKG_CRED_BOTH"):
        server.step(StepInput(token=_step(_client(env, config), kdc).token))


def test_tgt_rep_must_hold_a_tgt(kdc: RecordingKdc, env: Environment,
                                 config: Krb5Config) -> None:
    client = _client(env, config)
    _step(client, kdc)
    service = k.Ticket(realm=REALM, sname=k.PrincipalName(2, ("HTTP", "web.example.test")),
                       enc_part=k.EncryptedData(etype=18, cipher=bytes(40)))
    reply = k.gss_wrap_token(k.U2U_OID, k.TOK_ID_TGT_REP, k.KerbTgtReply(ticket=service).build())
    with pytest.raises(InvalidToken, match="not a TGT"):
        client.step(StepInput(token=reply))
    assert client.state is State.FAILED


def test_tokens_out_of_order(kdc: RecordingKdc, env: Environment, config: Krb5Config) -> None:
    client = _client(env, config)
    tgt_req = _step(client, kdc).token
    with pytest.raises(SspiError):  # a TGT-REQ is not what a client expects
        client.step(StepInput(token=tgt_req))
    tgt_rep = _step(_acceptor(env, config), kdc, tgt_req).token
    with pytest.raises(SspiError):  # nor a TGT-REP what an acceptor expects
        _acceptor(env, config).step(StepInput(token=tgt_rep))


def test_messages_and_table() -> None:
    request = k.KerbTgtRequest(server_name=k.PrincipalName(1, ("bob",)), realm=REALM)
    assert k.KerbTgtRequest.parse(request.build()) == request
    assert k.KerbTgtRequest.parse(k.KerbTgtRequest().build()) == k.KerbTgtRequest()
    with pytest.raises(DecodeError, match="msg-type"):
        k.KerbTgtRequest.parse(k.KerbTgtRequest(msg_type=17).build())
    ticket = k.Ticket(realm=REALM, sname=k.PrincipalName(2, ("krbtgt", REALM)),
                      enc_part=k.EncryptedData(etype=18, kvno=1, cipher=b"x" * 30))
    reply = k.KerbTgtReply(ticket=ticket)
    assert k.KerbTgtReply.parse(reply.build()) == reply
    with pytest.raises(DecodeError):
        k.KerbTgtReply.parse(reply.build()[:-1])
    diagram = mermaid(TRANSITIONS)
    assert "EXPECT_TGT_REP" in diagram and "ACCEPTOR_AWAIT_KDC" in diagram
    assert (State.EXPECT_AP_REQ, Input.TGT_REQ) in TRANSITIONS
    assert (State.CLIENT_INITIAL, Input.TGT_REP) not in TRANSITIONS


# -- through the Windows functions: the acceptor's AS exchange runs inside AcceptSecurityContext


def test_user_to_user_through_sspi(kdc: RecordingKdc, env: Environment, config: Krb5Config,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("opensspi.sspi.send_to_kdc", lambda data, kdcs, **kw: kdc.handle(data))
    ccred = sspi.AcquireCredentialsHandle(None, "Kerberos", CredentialUse.OUTBOUND, None,
                                          _data(config, "alice", PASSWORD)).credential
    scred = sspi.AcquireCredentialsHandle(None, "Kerberos", CredentialUse.BOTH, None,
                                          _data(config, "bob", BOB_PASSWORD)).credential
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    isc_flags = FLAGS | IscReq.USE_SESSION_KEY
    target = f"bob@{REALM}"

    def out() -> SecBufferDesc:
        return SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48000)])

    def inp(desc: SecBufferDesc) -> SecBufferDesc:
        return SecBufferDesc([desc[0]])

    o1 = out()
    r1 = sspi.InitializeSecurityContext(ccred, None, target, isc_flags, 0, 0, None, 0,
                                        client, o1, env=env)
    assert r1.status == SecStatus.SEC_I_CONTINUE_NEEDED
    o2 = out()
    r2 = sspi.AcceptSecurityContext(scred, None, inp(o1), AscReq.USE_SESSION_KEY, 0, server, o2,
                                    env=env)
    assert r2.status == SecStatus.SEC_I_CONTINUE_NEEDED  # the TGT-REP
    o3 = out()
    r3 = sspi.InitializeSecurityContext(ccred, client, target, isc_flags, 0, 0, inp(o2), 0, None,
                                        o3, env=env)
    assert r3.status == SecStatus.SEC_I_CONTINUE_NEEDED
    o4 = out()
    r4 = sspi.AcceptSecurityContext(None, server, inp(o3), AscReq.USE_SESSION_KEY, 0, None, o4,
                                    env=env)
    assert r4.status == SecStatus.SEC_E_OK and AscRet(r4.context_attr) & AscRet.USE_SESSION_KEY
    r5 = sspi.InitializeSecurityContext(ccred, client, target, isc_flags, 0, 0, inp(o4), 0, None,
                                        out(), env=env)
    assert r5.status == SecStatus.SEC_E_OK and IscRet(r5.context_attr) & IscRet.USE_SESSION_KEY
    as_reqs = [k.KdcReq.parse(r) for r in kdc.requests if r[0] == 0x6A]
    assert {r.req_body.cname.name_string for r in as_reqs  # type: ignore[union-attr]
            } == {("alice",), ("bob",)}
