"""The gss-ntlmssp harness proves itself, with no opensspi code: real peer against real peer.

If these fail, an opensspi interop failure against gss-ntlmssp says nothing about opensspi.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType

import pytest

from interop.peers.gss import (
    ALICE,
    ALICE_NO_DOMAIN,
    JUERGEN,
    NTLMSSP_OID,
    GssNtlmFactory,
    GssPeer,
    GssPeerError,
    NtlmUser,
    PeerHarnessError,
    handshake,
)

pytestmark = pytest.mark.interop

GSS_S_BAD_SIG = 0x60000  # GSS_S_BAD_SIG, "A token had an invalid Message Integrity Check"
USERS = [
    pytest.param(ALICE, id="TESTDOM-alice"),
    pytest.param(JUERGEN, id="TESTDOM-juergen"),
    pytest.param(ALICE_NO_DOMAIN, id="nodomain-alice"),
]
MECHS = ["ntlmssp", "spnego"]


def _initiator(gss_ntlm: GssNtlmFactory, mech: str, user: NtlmUser, password: str) -> GssPeer:
    return gss_ntlm("initiate", mech, user=user.user, domain=user.domain or None, password=password)


def _display(user: NtlmUser) -> str:
    return f"{user.domain}\\{user.user}" if user.domain else user.user


@pytest.mark.parametrize("mech", MECHS)
@pytest.mark.parametrize("user", USERS)
def test_gss_initiator_to_gss_acceptor(gss_ntlm: GssNtlmFactory, mech: str, user: NtlmUser) -> None:
    acceptor = gss_ntlm("accept", mech)
    initiator = _initiator(gss_ntlm, mech, user, user.password)

    tokens = handshake(initiator.step, acceptor.step)

    assert initiator.complete and acceptor.complete
    if mech == "ntlmssp":
        assert [t[:8] for t in tokens] == [b"NTLMSSP\0"] * 3
        assert [t[8] for t in tokens] == [1, 2, 3]
    a_info, i_info = acceptor.info(), initiator.info()
    assert a_info["initiator_name"] == i_info["initiator_name"] == _display(user)
    assert a_info["mech"] == i_info["mech"] == NTLMSSP_OID
    assert i_info["target_name"] == "host/server.test.local"
    assert a_info["locally_initiated"] is False and i_info["locally_initiated"] is True
    assert a_info["session_key"] is not None and len(a_info["session_key"]) == 16
    assert a_info["session_key"] == i_info["session_key"]

    assert acceptor.unwrap_ex(initiator.wrap(b"ping")) == (b"ping", True)
    assert initiator.unwrap_ex(acceptor.wrap(b"pong")) == (b"pong", True)
    # Quirk: gss-ntlmssp seals even when conf_req_flag is false (the message still round-trips).
    assert acceptor.unwrap(initiator.wrap(b"ping", encrypt=False)) == b"ping"
    assert initiator.unwrap(acceptor.wrap(b"pong", encrypt=False)) == b"pong"
    acceptor.verify_mic(b"signed", initiator.get_mic(b"signed"))
    initiator.verify_mic(b"signed", acceptor.get_mic(b"signed"))


@pytest.mark.parametrize("mech", MECHS)
def test_tampered_mic_and_wrap_rejected(gss_ntlm: GssNtlmFactory, mech: str) -> None:
    acceptor = gss_ntlm("accept", mech)
    initiator = _initiator(gss_ntlm, mech, ALICE, ALICE.password)
    handshake(initiator.step, acceptor.step)

    with pytest.raises(GssPeerError) as err:
        acceptor.verify_mic(b"other data", initiator.get_mic(b"signed"))
    assert err.value.major == GSS_S_BAD_SIG
    sealed = bytearray(initiator.wrap(b"secret message"))
    sealed[-1] ^= 1
    with pytest.raises(GssPeerError):
        acceptor.unwrap(bytes(sealed))
    # The acceptor survives its errors and still answers.
    assert acceptor.info()["complete"] is True


@pytest.mark.parametrize("mech", MECHS)
@pytest.mark.parametrize(
    ("user", "password"),
    [
        pytest.param(ALICE, "wrong", id="alice-wrong-password"),
        pytest.param(JUERGEN, "Passwörd€1", id="juergen-wrong-password"),
        pytest.param(NtlmUser("TESTDOM", "mallory"), "Passw0rd!", id="unknown-user"),
    ],
)
def test_bad_credentials_rejected(
    gss_ntlm: GssNtlmFactory, mech: str, user: NtlmUser, password: str
) -> None:
    acceptor = gss_ntlm("accept", mech)
    initiator = _initiator(gss_ntlm, mech, user, password)
    with pytest.raises(GssPeerError) as err:
        handshake(initiator.step, acceptor.step)
    assert err.value.major != 0
    assert not acceptor.complete


def test_initiator_password_from_user_file(gss_ntlm: GssNtlmFactory) -> None:
    acceptor = gss_ntlm("accept", "ntlmssp")
    initiator = gss_ntlm("initiate", "ntlmssp", user=JUERGEN.user, domain=JUERGEN.domain)
    handshake(initiator.step, acceptor.step)
    assert acceptor.info()["initiator_name"] == _display(JUERGEN)


def test_peer_reports_errors_without_dying(gss_ntlm: GssNtlmFactory) -> None:
    acceptor = gss_ntlm("accept", "ntlmssp")
    with pytest.raises(GssPeerError) as err:
        acceptor.step(b"NTLMSSP\0\x07garbage")
    assert err.value.major != 0
    with pytest.raises(GssPeerError, match="unknown op"):
        acceptor.request("no-such-op")
    with pytest.raises(GssPeerError):
        acceptor.wrap(b"before the context is complete")
    assert acceptor.info() == {"complete": False}


def test_hung_peer_times_out(tmp_path: Path) -> None:
    script = tmp_path / "hang.py"
    script.write_text("import time\ntime.sleep(60)\n", encoding="utf-8")
    peer = GssPeer([], {}, tmp_path, label="hang", timeout=0.5, script=script)
    t0 = time.monotonic()
    try:
        with pytest.raises(PeerHarnessError, match="no answer"):
            peer.step(None)
    finally:
        peer.close()
    assert time.monotonic() - t0 < 5


def test_dead_peer_reported(tmp_path: Path) -> None:
    script = tmp_path / "die.py"
    script.write_text("import sys\nsys.stderr.write('boom')\nsys.exit(3)\n", encoding="utf-8")
    with (
        GssPeer([], {}, tmp_path, label="die", script=script) as peer,
        pytest.raises(PeerHarnessError, match="boom"),
    ):
        peer.step(None)
        peer.step(None)  # if the first request raced the exit


@pytest.mark.parametrize(
    "user", [pytest.param(ALICE, id="alice"), pytest.param(JUERGEN, id="juergen")]
)
def test_pyspnego_ntlm_initiator_to_gss_acceptor(
    gss_ntlm: GssNtlmFactory, pyspnego: ModuleType, user: NtlmUser
) -> None:
    spnego = pyspnego
    client = spnego.client(
        _display(user),
        user.password,
        hostname="server.test.local",
        service="host",
        protocol="ntlm",
        options=spnego.NegotiateOptions.use_ntlm,  # the pure-Python NTLM, not gss-ntlmssp
    )
    acceptor = gss_ntlm("accept", "ntlmssp")

    handshake(client.step, acceptor.step)

    assert client.complete and acceptor.complete
    info = acceptor.info()
    assert info["initiator_name"] == _display(user)
    assert info["session_key"] == client.session_key
    assert acceptor.unwrap(client.wrap(b"ping").data) == b"ping"
    assert client.unwrap(acceptor.wrap(b"pong")).data == b"pong"
    client.verify(b"signed", acceptor.get_mic(b"signed"))
    acceptor.verify_mic(b"signed", client.sign(b"signed"))


def test_pyspnego_wrong_password_rejected(gss_ntlm: GssNtlmFactory, pyspnego: ModuleType) -> None:
    spnego = pyspnego
    client = spnego.client(
        _display(ALICE),
        "wrong",
        hostname="server.test.local",
        protocol="ntlm",
        options=spnego.NegotiateOptions.use_ntlm,
    )
    acceptor = gss_ntlm("accept", "ntlmssp")
    with pytest.raises(GssPeerError):
        handshake(client.step, acceptor.step)


@pytest.mark.parametrize(
    "user", [pytest.param(ALICE, id="alice"), pytest.param(JUERGEN, id="juergen")]
)
def test_gss_initiator_to_pyspnego_acceptor(
    gss_ntlm: GssNtlmFactory, pyspnego: ModuleType, ntlm_user_file: Path, user: NtlmUser
) -> None:
    spnego = pyspnego
    server = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
    initiator = _initiator(gss_ntlm, "ntlmssp", user, user.password)

    handshake(initiator.step, server.step)

    assert initiator.complete and server.complete
    assert server.client_principal == _display(user)
    assert server.session_key == initiator.info()["session_key"]
    assert server.unwrap(initiator.wrap(b"ping")).data == b"ping"
    assert initiator.unwrap(server.wrap(b"pong").data) == b"pong"


def test_channel_bindings_checked(gss_ntlm: GssNtlmFactory) -> None:
    cb = b"tls-server-end-point:" + bytes(32)
    acceptor = gss_ntlm("accept", "ntlmssp", channel_bindings=cb)
    initiator = gss_ntlm(
        "initiate",
        "ntlmssp",
        user="alice",
        domain="TESTDOM",
        password=ALICE.password,
        channel_bindings=cb,
    )
    handshake(initiator.step, acceptor.step)
    assert acceptor.complete

    acceptor = gss_ntlm("accept", "ntlmssp", channel_bindings=cb)
    initiator = gss_ntlm(
        "initiate",
        "ntlmssp",
        user="alice",
        domain="TESTDOM",
        password=ALICE.password,
        channel_bindings=b"tls-server-end-point:" + bytes(31) + b"\x01",
    )
    with pytest.raises(GssPeerError):
        handshake(initiator.step, acceptor.step)
