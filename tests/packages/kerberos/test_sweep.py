"""Every (state x input) pair of the Kerberos machine, with the in-test KDC.

Each live state is reached by legal moves only, in a real conversation that also yields the right
input for every legal pair. A legal pair is then fed its right input and must end in exactly the
state and status the conversation calls for; an illegal pair is fed a well-formed token of that
kind from another conversation and must give SEC_E_INVALID_TOKEN, leave the context FAILED, and
make every later call SEC_E_CONTEXT_EXPIRED.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from opensspi.constants import AscReq, CredentialUse, IscReq, SecStatus
from opensspi.errors import ContextExpired, SspiError
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos import asn1 as k
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.credentials import acquire_credentials
from opensspi.packages.kerberos.machine import TRANSITIONS, Input, KerberosContext, State
from opensspi.packages.kerberos.names import Principal
from opensspi.packages.kerberos.package import KerberosPackage
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import AuthIdentity, Environment, Step, StepInput
from opensspi.testing.kdc import MiniKdc

REALM, SERVICE = "EXAMPLE.TEST", "HTTP/web.example.test"
PASSWORD, BOB = "Al1ce-s3cret!", "B0b-s3cret!"
T0 = datetime(2031, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
MUTUAL = IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY | IscReq.INTEGRITY
PACKAGE = KerberosPackage()
LIVE = [s for s in State if s not in (State.COMPLETE, State.FAILED)]


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    TicketCache.forget_all()
    ReplayCache.process_wide().clear()
    yield
    TicketCache.forget_all()


@dataclass
class World:
    env: Environment
    kdc: MiniKdc
    keytab: Path
    config: Any

    def client(self, flags: IscReq = MUTUAL, target: str = SERVICE,
               cold: bool = False) -> KerberosContext:
        if cold:  # tickets are shared process-wide per identity; start without any
            TicketCache.forget_all()
        cred = acquire_credentials(None, CredentialUse.OUTBOUND, KerberosAuthData(
            identity=AuthIdentity("alice", REALM, PASSWORD), config=self.config), self.env)
        ctx = PACKAGE.client_context(cred, target, flags, self.env)
        assert isinstance(ctx, KerberosContext)
        return ctx

    def acceptor(self, flags: AscReq = AscReq(0)) -> KerberosContext:  # noqa: B008
        cred = acquire_credentials(None, CredentialUse.INBOUND, KerberosAuthData(
            acceptor_keytab=f"FILE:{self.keytab}", config=self.config), self.env)
        ctx = PACKAGE.server_context(cred, flags, self.env)
        assert isinstance(ctx, KerberosContext)
        return ctx

    def u2u_acceptor(self) -> KerberosContext:
        cred = acquire_credentials(None, CredentialUse.BOTH, KerberosAuthData(
            identity=AuthIdentity("bob", REALM, BOB), config=self.config), self.env)
        ctx = PACKAGE.server_context(cred, AscReq(0), self.env)
        assert isinstance(ctx, KerberosContext)
        return ctx

    def settle(self, ctx: KerberosContext, step: Step) -> Step:
        """Deliver every KDC request ``step`` makes."""
        while step.kdc_request is not None:
            step = ctx.step(StepInput(kdc_reply=self.kdc.handle(step.kdc_request.data)))
        return step


@pytest.fixture
def world(tmp_path: Path) -> World:
    env = Environment(now=lambda: T0, random=random.Random(11).randbytes)
    kdc = MiniKdc(REALM, env=env)
    kdc.add_user("alice", PASSWORD)
    kdc.add_user("bob", BOB)
    kdc.add_service(SERVICE)
    keytab = kdc.write_keytab(tmp_path / "web.keytab", SERVICE)
    config = kdc.krb5_config(kdc="kdc.invalid:88", domain_realm={".example.test": REALM})
    return World(env, kdc, keytab, config)


def krb_error_token() -> bytes:
    """A GSS-framed KRB-ERROR (KRB_AP_ERR_MODIFIED), as an acceptor sends one."""
    error = k.KrbError(stime=T0, susec=0, error_code=41, realm=REALM,
                       sname=Principal.parse(SERVICE, REALM).name)
    return k.gss_wrap_token(k.KRB5_OID, k.TOK_ID_KRB_ERROR, error.to_der())


@dataclass
class Scene:
    """A context in some state, the right input for each legal event, and what must follow."""

    ctx: KerberosContext
    right: dict[Input, StepInput]
    expect: dict[Input, tuple[State, SecStatus | type[SspiError]]]


def _scene(world: World, state: State) -> Scene:
    w = world
    if state is State.CLIENT_INITIAL:
        return Scene(w.client(cold=True), {Input.NO_TOKEN: StepInput()},
                     {Input.NO_TOKEN: (State.AWAIT_KDC, SecStatus.SEC_I_CONTINUE_NEEDED)})
    if state is State.AWAIT_KDC:
        ctx = w.client(cold=True)
        step = ctx.step(StepInput())
        assert step.kdc_request is not None
        reply = w.kdc.handle(step.kdc_request.data)
        return Scene(ctx, {Input.KDC_REPLY: StepInput(kdc_reply=reply)},
                     {Input.KDC_REPLY: (State.AWAIT_KDC, SecStatus.SEC_I_CONTINUE_NEEDED)})
    if state is State.EXPECT_AP_REP:
        ctx, server = w.client(), w.acceptor()
        ap_req = w.settle(ctx, ctx.step(StepInput())).token
        ap_rep = server.step(StepInput(ap_req)).token
        return Scene(ctx, {Input.AP_REP: StepInput(ap_rep),
                           Input.KRB_ERROR: StepInput(krb_error_token())},
                     {Input.AP_REP: (State.COMPLETE, SecStatus.SEC_E_OK),
                      Input.KRB_ERROR: (State.FAILED, SspiError)})
    if state is State.EXPECT_AP_REQ:
        client = w.client()
        ap_req = w.settle(client, client.step(StepInput())).token
        return Scene(w.acceptor(), {Input.AP_REQ: StepInput(ap_req),
                                    Input.TGT_REQ: StepInput(_tgt_req(world))},
                     {Input.AP_REQ: (State.COMPLETE, SecStatus.SEC_E_OK),
                      # a keytab-only acceptor has no TGT to answer user-to-user with
                      Input.TGT_REQ: (State.FAILED, SspiError)})
    if state is State.ACCEPTOR_AWAIT_KDC:
        server = w.u2u_acceptor()
        step = server.step(StepInput(_tgt_req(world)))
        assert step.kdc_request is not None
        reply = w.kdc.handle(step.kdc_request.data)
        return Scene(server, {Input.KDC_REPLY: StepInput(kdc_reply=reply)},
                     {Input.KDC_REPLY: (State.ACCEPTOR_AWAIT_KDC,
                                        SecStatus.SEC_I_CONTINUE_NEEDED)})
    if state is State.EXPECT_TGT_REP:
        ctx = w.client(MUTUAL | IscReq.USE_SESSION_KEY, f"bob@{REALM}")
        tgt_req = ctx.step(StepInput()).token
        server = w.u2u_acceptor()
        tgt_rep = w.settle(server, server.step(StepInput(tgt_req))).token
        return Scene(ctx, {Input.TGT_REP: StepInput(tgt_rep),
                           Input.KRB_ERROR: StepInput(krb_error_token())},
                     {Input.TGT_REP: (State.AWAIT_KDC, SecStatus.SEC_I_CONTINUE_NEEDED),
                      Input.KRB_ERROR: (State.FAILED, SspiError)})
    assert state is State.EXPECT_DCE_AP_REP
    dce = MUTUAL | IscReq.USE_DCE_STYLE
    client, server = w.client(dce), w.acceptor(AscReq.USE_DCE_STYLE)
    ap_req = w.settle(client, client.step(StepInput())).token
    ap_rep = server.step(StepInput(ap_req)).token
    third = client.step(StepInput(ap_rep)).token
    return Scene(server, {Input.AP_REP: StepInput(third)},
                 {Input.AP_REP: (State.COMPLETE, SecStatus.SEC_E_OK)})


def _tgt_req(world: World) -> bytes:
    ctx = world.client(MUTUAL | IscReq.USE_SESSION_KEY, f"bob@{REALM}")
    return ctx.step(StepInput()).token


def _foreign_inputs(world: World) -> dict[Input, StepInput]:
    """A well-formed input of every kind, from conversations of its own."""
    other = MiniKdc(REALM, env=world.env)
    other.add_user("alice", PASSWORD)
    client, server = world.client(), world.acceptor()
    ap_req = world.settle(client, client.step(StepInput())).token
    ap_rep = server.step(StepInput(ap_req)).token
    u2u_client, u2u_server = world.client(MUTUAL | IscReq.USE_SESSION_KEY, f"bob@{REALM}"), \
        world.u2u_acceptor()
    tgt_req = u2u_client.step(StepInput()).token
    tgt_rep = world.settle(u2u_server, u2u_server.step(StepInput(tgt_req))).token
    first = world.client(cold=True).step(StepInput())
    assert first.kdc_request is not None
    return {
        Input.NO_TOKEN: StepInput(),
        Input.KDC_REPLY: StepInput(kdc_reply=world.kdc.handle(first.kdc_request.data)),
        Input.TGT_REQ: StepInput(tgt_req),
        Input.TGT_REP: StepInput(tgt_rep),
        Input.AP_REQ: StepInput(ap_req),
        Input.AP_REP: StepInput(ap_rep),
        Input.KRB_ERROR: StepInput(krb_error_token()),
    }


@pytest.mark.parametrize("state", LIVE, ids=[s.name for s in LIVE])
def test_every_legal_pair_ends_exactly_where_the_conversation_says(world: World,
                                                                 state: State) -> None:
    legal = [e for (s, e) in TRANSITIONS if s is state]
    assert legal, state
    for event in legal:
        TicketCache.forget_all()
        scene = _scene(world, state)
        assert scene.ctx.state is state
        assert set(scene.right) == set(legal), (state, legal)
        want_state, want = scene.expect[event]
        if isinstance(want, type):
            with pytest.raises(want):
                scene.ctx.step(scene.right[event])
        else:
            assert scene.ctx.step(scene.right[event]).status == want
        assert scene.ctx.state is want_state, (state, event, scene.ctx.state)


@pytest.mark.parametrize("state", LIVE, ids=[s.name for s in LIVE])
@pytest.mark.parametrize("event", list(Input), ids=[i.name for i in Input])
def test_every_illegal_pair_fails_the_context(world: World, state: State, event: Input) -> None:
    if (state, event) in TRANSITIONS:
        return
    foreign = _foreign_inputs(world)
    scene = _scene(world, state)
    with pytest.raises(SspiError) as info:
        scene.ctx.step(foreign[event])
    assert info.value.status == SecStatus.SEC_E_INVALID_TOKEN, info.value
    assert scene.ctx.state is State.FAILED
    with pytest.raises(ContextExpired):
        scene.ctx.step(foreign[event])


def test_every_live_state_has_a_way_out_and_the_ends_have_none() -> None:
    def legal(s: State) -> set[Input]:
        return {e for (t, e) in TRANSITIONS if t is s}

    assert all(legal(s) for s in LIVE)
    assert not legal(State.COMPLETE) and not legal(State.FAILED)
