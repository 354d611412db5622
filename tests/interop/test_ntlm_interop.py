"""opensspi's NTLM against independent implementations, both directions.

Peers: gss-ntlmssp (C, through MIT's GSSAPI mechglue, in a subprocess) and pyspnego's pure-Python
NTLM. Each test completes a handshake, checks who the acceptor thinks the client is and that both
sides hold the same session key, then moves messages both ways through the security layer.
"""

from __future__ import annotations

from types import ModuleType

import pytest

import opensspi
from interop.peers.gss import ALICE, JUERGEN, GssNtlmFactory, GssPeerError, NtlmUser
from opensspi import ChannelBindings, IscReq
from opensspi.errors import BadBindings, LogonDenied, MessageAltered

pytestmark = pytest.mark.interop

TARGET_SPN = "host/server.test.local"
USERS = (ALICE, JUERGEN)


def _client(user: NtlmUser, **kw: object) -> opensspi.Context:
    return opensspi.client(
        "NTLM", user=user.user, domain=user.domain, password=user.password,
        target=TARGET_SPN, **kw,  # type: ignore[arg-type]
    )


def _server_users() -> dict[str, str]:
    return {f"{u.domain}\\{u.user}": u.password for u in USERS}


# -- opensspi client -> gss-ntlmssp acceptor ------------------------------------------------


@pytest.mark.parametrize("user", USERS, ids=lambda u: u.user)
def test_our_client_to_gss_ntlmssp(gss_ntlm: GssNtlmFactory, user: NtlmUser) -> None:
    acceptor = gss_ntlm(role="accept")
    client = _client(user)
    token = client.step()
    legs = 0
    while token is not None:
        reply = acceptor.step(token)
        legs += 1
        token = client.step(reply) if reply else None
    assert client.complete and acceptor.complete and legs == 2
    info = acceptor.info()
    assert info["initiator_name"].lower() == f"{user.domain}\\{user.user}".lower()
    if info["session_key"] is not None:
        assert info["session_key"] == client.session_key
    # sealed both ways, several messages to exercise the sequence numbers and RC4 streams
    for i in range(3):
        msg = f"ping {i} {user.user}".encode()
        assert acceptor.unwrap(client.wrap(msg)) == msg
        back = f"pong {i}".encode()
        assert client.unwrap(acceptor.wrap(back, True)) == back
    # detached signatures (GSS MIC) both ways
    acceptor.verify_mic(b"signed by us", client.sign(b"signed by us"))
    client.verify(b"signed by gss", acceptor.get_mic(b"signed by gss"))


def test_our_client_wrong_password_rejected_by_gss(gss_ntlm: GssNtlmFactory) -> None:
    acceptor = gss_ntlm(role="accept")
    client = opensspi.client("NTLM", user="alice", domain="TESTDOM", password="wrong",
                             target=TARGET_SPN)
    challenge = acceptor.step(client.step())
    with pytest.raises(GssPeerError):
        acceptor.step(client.step(challenge))


def test_our_client_channel_bindings_accepted_by_gss(gss_ntlm: GssNtlmFactory) -> None:
    data = b"tls-server-end-point:" + bytes(range(32))
    acceptor = gss_ntlm(role="accept", channel_bindings=data)
    client = _client(ALICE, channel_bindings=data)
    acceptor_token = acceptor.step(client.step())
    assert acceptor.step(client.step(acceptor_token)) is None
    assert acceptor.complete


def test_our_client_wrong_channel_bindings_rejected_by_gss(gss_ntlm: GssNtlmFactory) -> None:
    acceptor = gss_ntlm(role="accept", channel_bindings=b"tls-server-end-point:" + bytes(32))
    client = _client(ALICE, channel_bindings=b"tls-server-end-point:" + b"\x01" * 32)
    challenge = acceptor.step(client.step())
    with pytest.raises(GssPeerError):
        acceptor.step(client.step(challenge))


# -- gss-ntlmssp initiator -> opensspi acceptor ---------------------------------------------


@pytest.mark.parametrize("user", USERS, ids=lambda u: u.user)
def test_gss_ntlmssp_client_to_our_server(gss_ntlm: GssNtlmFactory, user: NtlmUser) -> None:
    initiator = gss_ntlm(role="initiate", user=user.user, domain=user.domain,
                         password=user.password)
    server = opensspi.server("NTLM", users=_server_users())
    token = initiator.step(None)
    while token is not None:
        reply = server.step(token)
        token = initiator.step(reply) if reply is not None else None
    assert server.complete and initiator.complete
    assert server.client_name == f"{user.domain}\\{user.user}"
    info = initiator.info()
    if info["session_key"] is not None:
        assert info["session_key"] == server.session_key
    for i in range(3):
        msg = f"hello {i}".encode()
        assert server.unwrap(initiator.wrap(msg)) == msg
        assert initiator.unwrap(server.wrap(b"reply %d" % i)) == b"reply %d" % i
    server.verify(b"gss mic", initiator.get_mic(b"gss mic"))
    initiator.verify_mic(b"our mic", server.sign(b"our mic"))


def test_gss_ntlmssp_client_wrong_password_gives_logon_denied(gss_ntlm: GssNtlmFactory) -> None:
    initiator = gss_ntlm(role="initiate", user="alice", domain="TESTDOM", password="nope")
    server = opensspi.server("NTLM", users=_server_users())
    challenge = server.step(initiator.step(None))
    authenticate = initiator.step(challenge)
    with pytest.raises(LogonDenied) as info:
        server.step(authenticate)
    assert info.value.status == 0x8009030C
    assert "nope" not in str(info.value)


def test_gss_ntlmssp_channel_bindings_checked_by_our_server(gss_ntlm: GssNtlmFactory) -> None:
    good = b"tls-server-end-point:" + bytes(range(32))
    initiator = gss_ntlm(role="initiate", user="alice", domain="TESTDOM",
                         password="Passw0rd!", channel_bindings=good)
    server = opensspi.server("NTLM", users=_server_users(),
                             channel_bindings=ChannelBindings.from_application_data(good))
    assert server.step(initiator.step(server.step(initiator.step(None)))) is None
    assert server.complete

    liar = gss_ntlm(role="initiate", user="alice", domain="TESTDOM", password="Passw0rd!",
                    channel_bindings=b"tls-server-end-point:" + bytes(32))
    strict = opensspi.server("NTLM", users=_server_users(),
                             channel_bindings=ChannelBindings.from_application_data(good))
    challenge = strict.step(liar.step(None))
    with pytest.raises(BadBindings):
        strict.step(liar.step(challenge))


def test_gss_ntlmssp_tampered_wrap_rejected_by_our_server(gss_ntlm: GssNtlmFactory) -> None:
    initiator = gss_ntlm(role="initiate", user="alice", domain="TESTDOM", password="Passw0rd!")
    server = opensspi.server("NTLM", users=_server_users())
    assert server.step(initiator.step(server.step(initiator.step(None)))) is None
    sealed = bytearray(initiator.wrap(b"important"))
    sealed[-1] ^= 0x01
    with pytest.raises(MessageAltered):
        server.unwrap(bytes(sealed))


# -- pyspnego -------------------------------------------------------------------------------


@pytest.mark.parametrize("user", USERS, ids=lambda u: u.user)
def test_our_client_to_pyspnego_acceptor(
    pyspnego: ModuleType, ntlm_user_file: object, user: NtlmUser
) -> None:
    acceptor = pyspnego.server(protocol="ntlm")
    client = _client(user)
    token = client.step()
    while token is not None:
        reply = acceptor.step(token)
        token = client.step(reply) if reply else None
    assert client.complete and acceptor.complete
    assert acceptor.client_principal.lower() == f"{user.domain}\\{user.user}".lower()
    assert acceptor.session_key == client.session_key
    for i in range(3):
        assert acceptor.unwrap(client.wrap(b"a%d" % i)).data == b"a%d" % i
        assert client.unwrap(acceptor.wrap(b"b%d" % i).data) == b"b%d" % i
    acceptor.verify(b"msg", client.sign(b"msg"))
    client.verify(b"msg2", acceptor.sign(b"msg2"))


@pytest.mark.parametrize("user", USERS, ids=lambda u: u.user)
def test_pyspnego_client_to_our_server(pyspnego: ModuleType, user: NtlmUser) -> None:
    initiator = pyspnego.client(f"{user.domain}\\{user.user}", user.password,
                                hostname="server.test.local", protocol="ntlm")
    server = opensspi.server("NTLM", users=_server_users())
    token = initiator.step()
    while token is not None:
        reply = server.step(token)
        token = initiator.step(reply) if reply is not None else None
    assert server.complete and initiator.complete
    assert server.client_name == f"{user.domain}\\{user.user}"
    assert initiator.session_key == server.session_key
    for i in range(3):
        assert server.unwrap(initiator.wrap(b"c%d" % i).data) == b"c%d" % i
        assert initiator.unwrap(server.wrap(b"d%d" % i)).data == b"d%d" % i
    server.verify(b"m", initiator.sign(b"m"))
    initiator.verify(b"n", server.sign(b"n"))


def test_pyspnego_client_with_channel_bindings(pyspnego: ModuleType) -> None:
    import spnego.channel_bindings as cb

    data = b"tls-unique:" + bytes(range(12))
    initiator = pyspnego.client("TESTDOM\\alice", "Passw0rd!", hostname="server.test.local",
                                protocol="ntlm",
                                channel_bindings=cb.GssChannelBindings(application_data=data))
    server = opensspi.server("NTLM", users=_server_users(), channel_bindings=data)
    assert server.step(initiator.step(server.step(initiator.step()))) is None
    assert server.complete


def test_integrity_only_context_with_pyspnego(pyspnego: ModuleType, ntlm_user_file: object) -> None:
    acceptor = pyspnego.server(protocol="ntlm")
    client = _client(ALICE, flags=IscReq.INTEGRITY)
    acceptor.step(client.step(acceptor.step(client.step())))
    assert not client.flags & opensspi.IscRet.CONFIDENTIALITY
    acceptor.verify(b"x", client.sign(b"x"))
