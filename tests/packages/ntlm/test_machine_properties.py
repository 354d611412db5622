"""Properties of the NTLM state machine: every (state x input) pair, fuzzed and tampered tokens."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opensspi
from opensspi import SspiError
from opensspi.errors import ContextExpired
from opensspi.packages.ntlm.machine import TRANSITIONS, Input, NtlmContext, State
from opensspi.statemachine import mermaid

USERS = {"CORP\\alice": "Passw0rd!"}


def _tokens() -> dict[Input, bytes | None]:
    client = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!", target="a/b")
    server = opensspi.server("NTLM", users=USERS)
    negotiate = client.step()
    challenge = server.step(negotiate)
    authenticate = client.step(challenge)
    assert negotiate and challenge and authenticate
    return {Input.NO_TOKEN: None, Input.NEGOTIATE: negotiate, Input.CHALLENGE: challenge,
            Input.AUTHENTICATE: authenticate}


def _context_in(state: State) -> opensspi.Context:
    """A live context whose machine is in ``state``, reached by legal moves only."""
    client_side = state in (State.CLIENT_INITIAL, State.EXPECT_CHALLENGE)
    if client_side:
        ctx = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!", target="a/b")
        if state is State.EXPECT_CHALLENGE:
            ctx.step()
        return ctx
    server = opensspi.server("NTLM", users=USERS)
    if state is State.EXPECT_AUTHENTICATE:
        client = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!")
        server.step(client.step())
    return server


LIVE_STATES = [State.CLIENT_INITIAL, State.EXPECT_CHALLENGE, State.EXPECT_NEGOTIATE,
               State.EXPECT_AUTHENTICATE]


@pytest.mark.parametrize("state", LIVE_STATES, ids=lambda s: s.name)
@pytest.mark.parametrize("event", list(Input), ids=lambda e: e.name)
def test_every_state_input_pair(state: State, event: Input) -> None:
    ctx = _context_in(state)
    inner = ctx.context
    assert isinstance(inner, NtlmContext) and inner.state is state
    token = _tokens()[event]
    if (state, event) in TRANSITIONS:
        # Legal, though the token was made for another conversation: it either completes the
        # step or is rejected with a SEC_E_* error (wrong MIC/response) — never anything else.
        try:
            ctx.step(token)
        except SspiError:
            assert inner.state is State.FAILED
        return
    with pytest.raises(SspiError) as info:
        ctx.step(token)
    assert info.value.status == 0x80090308
    assert inner.state is State.FAILED
    with pytest.raises(ContextExpired):
        ctx.step(token)


def test_diagram_lists_every_transition() -> None:
    diagram = mermaid(TRANSITIONS)
    assert diagram.count("-->") == len(TRANSITIONS)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(LIVE_STATES), st.binary(max_size=600))
def test_random_bytes_only_raise_sspi_errors(state: State, data: bytes) -> None:
    ctx = _context_in(state)
    try:
        ctx.step(data or b"\0")
    except SspiError as exc:
        assert exc.status & 0x80000000


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([Input.NEGOTIATE, Input.CHALLENGE, Input.AUTHENTICATE]),
       st.data())
def test_mutated_genuine_tokens_only_raise_sspi_errors(event: Input, data: st.DataObject) -> None:
    token = bytearray(_tokens()[event] or b"")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(token) - 1))
        token[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(token)))
    state = {Input.NEGOTIATE: State.EXPECT_NEGOTIATE, Input.CHALLENGE: State.EXPECT_CHALLENGE,
             Input.AUTHENTICATE: State.EXPECT_AUTHENTICATE}[event]
    ctx = _context_in(state)
    try:
        ctx.step(bytes(token[:cut]) or b"\0")
    except SspiError as exc:
        assert exc.status & 0x80000000


def test_every_prefix_of_each_token_is_rejected_cleanly() -> None:
    tokens = _tokens()
    for event, state in ((Input.NEGOTIATE, State.EXPECT_NEGOTIATE),
                         (Input.CHALLENGE, State.EXPECT_CHALLENGE),
                         (Input.AUTHENTICATE, State.EXPECT_AUTHENTICATE)):
        token = tokens[event]
        assert token is not None
        for cut in range(1, len(token)):
            with pytest.raises(SspiError):
                _context_in(state).step(token[:cut])


def test_every_single_bit_flip_of_authenticate_is_caught() -> None:
    """A genuine AUTHENTICATE with any one bit flipped must not be accepted (MIC, NTProofStr)."""
    length = len(_tokens()[Input.AUTHENTICATE] or b"")
    accepted = []
    for i in range(length):
        for bit in (0x01, 0x80):
            # replay the same conversation into a fresh server each time
            fresh_client = opensspi.client(
                "NTLM", user="CORP\\alice", password="Passw0rd!", target="a/b")
            fresh_server = opensspi.server("NTLM", users=USERS)
            auth = bytearray(fresh_client.step(fresh_server.step(fresh_client.step())) or b"")
            auth[i] ^= bit
            try:
                fresh_server.step(bytes(auth))
            except SspiError:
                continue
            accepted.append((i, bit))
    # Only bits the MIC does not cover may be flipped silently: none exist, since the MIC covers
    # the whole AUTHENTICATE message except the MIC itself, which is checked.
    assert accepted == []
