"""Hostile peers against NTLM (issue 12): a stray token after the handshake.

Decision: a token given to a complete NTLM context (a replayed AUTHENTICATE, a retransmitted
CHALLENGE) is refused with SEC_E_INVALID_TOKEN and changes nothing: the context stays complete
and its message functions keep working, so an attacker who can inject one message cannot
disable an established session.
"""

from __future__ import annotations

import pytest

import opensspi
from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import AscReq, CredentialUse, IscReq, SecBufferType, SecStatus
from opensspi.errors import SspiError
from opensspi.packages.ntlm import NtlmAuthData
from opensspi.provider import AuthIdentity
from support.pair import ContextPair

T = SecBufferType
USERS = {"CORP\\alice": "Passw0rd!"}


def _pair() -> ContextPair:
    client = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!", target="HTTP/web")
    server = opensspi.server("NTLM", users=USERS)
    return ContextPair(client, server).run()


@pytest.mark.parametrize("which", [0, 1, 2])
def test_stray_token_leaves_a_complete_acceptor_usable(which: int) -> None:
    pair = _pair()
    server, client = pair.server, pair.client
    assert server.complete and client.complete
    before = client.wrap(b"first")
    assert server.unwrap(before) == b"first"
    with pytest.raises(SspiError) as exc:
        server.step(pair.tokens[which])  # NEGOTIATE, CHALLENGE or the replayed AUTHENTICATE
    assert exc.value.status == SecStatus.SEC_E_INVALID_TOKEN
    assert server.complete
    assert server.unwrap(client.wrap(b"second")) == b"second"
    assert client.unwrap(server.wrap(b"third")) == b"third"


def test_stray_token_leaves_a_complete_initiator_usable() -> None:
    pair = _pair()
    with pytest.raises(SspiError) as exc:
        pair.client.step(pair.tokens[1])  # the CHALLENGE again
    assert exc.value.status == SecStatus.SEC_E_INVALID_TOKEN
    assert pair.client.complete
    assert pair.server.unwrap(pair.client.wrap(b"still")) == b"still"


def test_replayed_authenticate_through_accept_security_context() -> None:
    """The same through the Windows functions: the handle stays valid and DecryptMessage works."""
    _, ccred, _ = sspi.AcquireCredentialsHandle(
        None, "NTLM", CredentialUse.OUTBOUND, None, AuthIdentity("alice", "CORP", "Passw0rd!"))
    _, scred, _ = sspi.AcquireCredentialsHandle(
        None, "NTLM", CredentialUse.INBOUND, None, NtlmAuthData(users=USERS))
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    req = IscReq.CONFIDENTIALITY | IscReq.INTEGRITY
    token: bytes | None = None
    authenticate = b""
    for _ in range(3):
        inp = SecBufferDesc([SecBuffer(T.TOKEN, token)]) if token is not None else None
        out = SecBufferDesc([SecBuffer(T.TOKEN, 4000)])
        sspi.InitializeSecurityContext(ccred, client if client.is_valid else None, "HTTP/web",
                                       req, 0, 0, inp, 0, client, out)
        if not out[0].buffer:
            break
        authenticate = out[0].buffer
        out2 = SecBufferDesc([SecBuffer(T.TOKEN, 4000)])
        result = sspi.AcceptSecurityContext(
            scred, server if server.is_valid else None,
            SecBufferDesc([SecBuffer(T.TOKEN, authenticate)]), AscReq.CONFIDENTIALITY, 0,
            server, out2)
        if result.status == SecStatus.SEC_E_OK:
            break
        token = out2[0].buffer
    with pytest.raises(SspiError) as exc:
        sspi.AcceptSecurityContext(scred, server, SecBufferDesc([SecBuffer(T.TOKEN, authenticate)]),
                                   AscReq.CONFIDENTIALITY, 0, server,
                                   SecBufferDesc([SecBuffer(T.TOKEN, 4000)]))
    assert exc.value.status == SecStatus.SEC_E_INVALID_TOKEN
    message = SecBufferDesc([SecBuffer(T.TOKEN, 16), SecBuffer(T.DATA, b"after the replay")])
    sspi.EncryptMessage(client, 0, message, 0)
    sspi.DecryptMessage(server, message, 0)
    assert message[1].buffer == b"after the replay"


def _refusal(user: str, password: str) -> SspiError:
    client = opensspi.client("NTLM", user=user, password=password, target="HTTP/web")
    server = opensspi.server("NTLM", users=USERS)
    authenticate = client.step(server.step(client.step()))
    with pytest.raises(SspiError) as exc:
        server.step(authenticate)
    return exc.value


def test_unknown_user_and_wrong_password_look_the_same() -> None:
    """Same status and same words (the timing is measured by tools/enumeration_timing.py: the
    acceptor checks an unknown user against a decoy hash, as much work as a wrong password)."""
    unknown = _refusal("CORP\\nobody", "Passw0rd!")
    wrong = _refusal("CORP\\alice", "not the password")
    assert unknown.status == wrong.status == SecStatus.SEC_E_LOGON_DENIED
    assert unknown.message.replace("nobody", "alice") == wrong.message
