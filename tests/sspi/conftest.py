"""Fixtures for the Windows-shaped layer: NTLM credentials and handshakes driven through
``opensspi.sspi`` exactly as a Windows program drives secur32.dll.

Test modules here have no ``__init__.py`` (like the rest of ``tests/``), so they cannot import
helpers from each other; the helpers travel as the ``ntlm`` fixture instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

USER, DOMAIN, PASSWORD = "alice", "CORP", "Passw0rd!"
TARGET = "HTTP/web.corp"
MAX_TOKEN = 2888

DEFAULT_ISC = (
    IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT
)
DEFAULT_ASC = (
    AscReq.CONFIDENTIALITY | AscReq.INTEGRITY | AscReq.REPLAY_DETECT | AscReq.SEQUENCE_DETECT
)


@dataclass
class Handshake:
    """Both ends of one NTLM authentication and what every call returned."""

    client_cred: sspi.CredHandle
    server_cred: sspi.CredHandle
    client: sspi.CtxtHandle = field(default_factory=sspi.CtxtHandle)
    server: sspi.CtxtHandle = field(default_factory=sspi.CtxtHandle)
    client_results: list[sspi.IscResult] = field(default_factory=list)
    server_results: list[sspi.AscResult] = field(default_factory=list)
    tokens: list[bytes] = field(default_factory=list)

    @property
    def client_attrs(self) -> IscRet:
        return self.client_results[-1].context_attr

    @property
    def server_attrs(self) -> AscRet:
        return self.server_results[-1].context_attr


class Ntlm:
    """Helpers bound to the NTLM package, handed to tests as the ``ntlm`` fixture."""

    user, domain, password, target = USER, DOMAIN, PASSWORD, TARGET
    default_isc, default_asc = DEFAULT_ISC, DEFAULT_ASC

    @staticmethod
    def token_in(data: bytes) -> SecBufferDesc:
        return SecBufferDesc([SecBuffer(SecBufferType.TOKEN, data)])

    @staticmethod
    def token_out(size: int = MAX_TOKEN) -> SecBufferDesc:
        return SecBufferDesc([SecBuffer(SecBufferType.TOKEN, size)])

    def client_cred(
        self, user: str = USER, domain: str = DOMAIN, password: str = PASSWORD,
        use: CredentialUse = CredentialUse.OUTBOUND,
    ) -> sspi.CredHandle:
        return sspi.AcquireCredentialsHandle(
            None, "NTLM", use, None, (user, domain, password)
        ).credential

    def server_cred(
        self, users: dict[str, str] | None = None, use: CredentialUse = CredentialUse.INBOUND
    ) -> sspi.CredHandle:
        users = {f"{DOMAIN}\\{USER}": PASSWORD} if users is None else users
        return sspi.AcquireCredentialsHandle(None, "NTLM", use, None, users).credential

    def initialize(
        self, hs: Handshake, token: bytes | None, isc: int = DEFAULT_ISC
    ) -> bytes:
        """One InitializeSecurityContext leg; returns the token to send."""
        out = self.token_out()
        first = not hs.client.is_valid
        result = sspi.InitializeSecurityContext(
            hs.client_cred if first else None, None if first else hs.client, TARGET, isc,
            0, 0, None if token is None else self.token_in(token), 0, hs.client, out,
        )
        hs.client_results.append(result)
        hs.tokens.append(out[0].buffer)
        return out[0].buffer

    def accept(self, hs: Handshake, token: bytes, asc: int = DEFAULT_ASC) -> bytes:
        """One AcceptSecurityContext leg; returns the token to send (may be empty)."""
        out = self.token_out()
        first = not hs.server.is_valid
        result = sspi.AcceptSecurityContext(
            hs.server_cred if first else None, None if first else hs.server,
            self.token_in(token), asc, 0, hs.server, out,
        )
        hs.server_results.append(result)
        hs.tokens.append(out[0].buffer)
        return out[0].buffer

    def handshake(
        self, isc: int = DEFAULT_ISC, asc: int = DEFAULT_ASC,
        client_cred: sspi.CredHandle | None = None, server_cred: sspi.CredHandle | None = None,
    ) -> Handshake:
        """A complete NEGOTIATE / CHALLENGE / AUTHENTICATE exchange."""
        hs = Handshake(client_cred or self.client_cred(), server_cred or self.server_cred())
        token = self.initialize(hs, None, isc)
        while True:
            token = self.accept(hs, token, asc)
            if hs.server_results[-1].status == SecStatus.SEC_E_OK:
                return hs
            token = self.initialize(hs, token, isc)

    def legs(self, isc: int = DEFAULT_ISC, asc: int = DEFAULT_ASC) -> tuple[bytes, bytes, bytes]:
        """The three tokens of a completed handshake (NEGOTIATE, CHALLENGE, AUTHENTICATE)."""
        hs = self.handshake(isc, asc)
        return hs.tokens[0], hs.tokens[1], hs.tokens[2]


@pytest.fixture
def ntlm() -> Ntlm:
    return Ntlm()


@pytest.fixture
def pair(ntlm: Ntlm) -> Handshake:
    """A completed client/server pair with confidentiality, integrity and sequencing."""
    return ntlm.handshake()
