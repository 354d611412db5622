"""ImpersonateSecurityContext's POSIX meaning and the default NTLM identity, through the
Windows-shaped functions and the Pythonic API (the pywin32 door is in tests/compat)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import opensspi
from opensspi import impersonation, sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import CredentialUse, IscReq, SecBufferType, SecPkgCredAttr
from opensspi.errors import NoCredentials, NoImpersonation
from opensspi.provider import Impersonation


@pytest.fixture(autouse=True)
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "ntlm_user_file"
    path.write_text("# accounts\nCORP:bob:B0b-Passw0rd!\n\nCORP:alice:Passw0rd!\n",
                    encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(path))
    monkeypatch.delenv("NTLM_USER", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "nobody-in-the-file")
    yield path
    impersonation.revert()


def names(cred: sspi.CredHandle) -> str:
    value = sspi.QueryCredentialsAttributes(cred, SecPkgCredAttr.NAMES)
    return str(value.user_name)


def handshake(client_cred: sspi.CredHandle) -> sspi.CtxtHandle:
    server_cred = sspi.AcquireCredentialsHandle(None, "NTLM", CredentialUse.INBOUND).credential
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    token: bytes | None = None
    first = True
    for _ in range(3):
        out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 4096)])
        inp = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, token)]) if token else None
        sspi.InitializeSecurityContext(client_cred, None if first else client, "HTTP/web", 0, 0,
                                       0, inp, 0, client, out)
        first_server = first
        first = False
        sout = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 4096)])
        result = sspi.AcceptSecurityContext(
            server_cred, None if first_server else server,
            SecBufferDesc([SecBuffer(SecBufferType.TOKEN, out[0].buffer)]), 0, 0, server, sout)
        if result.status == 0:
            return server
        token = sout[0].buffer
    raise AssertionError("no SEC_E_OK")


def test_default_identity_in_every_door() -> None:
    cred = sspi.AcquireCredentialsHandle(None, "NTLM", CredentialUse.OUTBOUND).credential
    assert names(cred) == "CORP\\bob"  # neither NTLM_USER nor the login name: the first entry
    assert opensspi.credentials("NTLM").principal_name == "CORP\\bob"
    # a named principal must be in the file
    named = sspi.AcquireCredentialsHandle("CORP\\alice", "NTLM", CredentialUse.OUTBOUND)
    assert names(named.credential) == "CORP\\alice"
    with pytest.raises(NoCredentials):
        sspi.AcquireCredentialsHandle("CORP\\carol", "NTLM", CredentialUse.OUTBOUND)
    # the Pythonic client authenticates with it
    client = opensspi.client("NTLM", target="HTTP/web")
    server = opensspi.server("NTLM")
    token = client.step()
    while token is not None:
        token = server.step(token)
        token = client.step(token) if token is not None else None
    assert server.client_name == "CORP\\bob"


def test_impersonation_is_per_thread_and_reverts() -> None:
    alice = sspi.AcquireCredentialsHandle(None, "NTLM", CredentialUse.OUTBOUND, None,
                                          ("alice", "CORP", "Passw0rd!")).credential
    server = handshake(alice)
    with pytest.raises(NoImpersonation):
        _impersonate_incomplete()
    sspi.ImpersonateSecurityContext(server)
    assert impersonation.current() == Impersonation("CORP\\alice", "NTLM", None)
    inner = sspi.AcquireCredentialsHandle(None, "NTLM", CredentialUse.OUTBOUND).credential
    assert names(inner) == "CORP\\alice"
    assert opensspi.credentials("NTLM").principal_name == "CORP\\alice"
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.append(impersonation.current()))
    worker.start()
    worker.join()
    assert seen == [None]
    sspi.RevertSecurityContext(server)
    assert impersonation.current() is None
    assert names(sspi.AcquireCredentialsHandle(None, "NTLM",
                                               CredentialUse.OUTBOUND).credential) == "CORP\\bob"


def _impersonate_incomplete() -> None:
    cred = sspi.AcquireCredentialsHandle(None, "NTLM", CredentialUse.INBOUND).credential
    ctx = sspi.CtxtHandle()
    client = opensspi.client("NTLM", user="CORP\\alice", password="Passw0rd!",
                             flags=IscReq.INTEGRITY)
    negotiate = client.step()
    assert negotiate is not None
    sspi.AcceptSecurityContext(cred, None, SecBufferDesc([SecBuffer(SecBufferType.TOKEN,
                                                                    negotiate)]),
                               0, 0, ctx, SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 4096)]))
    sspi.ImpersonateSecurityContext(ctx)  # the handshake is not complete
