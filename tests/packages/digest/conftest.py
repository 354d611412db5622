"""Fixtures for the Digest package tests: a deterministic Environment and a context-pair pump."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from opensspi.constants import AscReq, CredentialUse, IscReq, SecStatus
from opensspi.packages.digest import DigestPackage
from opensspi.packages.digest.credentials import DigestAcceptorConfig, DigestClientOptions
from opensspi.packages.digest.machine import ASC_REQ_HTTP
from opensspi.provider import AuthIdentity, Environment, Step, StepInput

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "digest"


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


class Clock:
    """A settable clock for Environment.now."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)


class Counter:
    """A deterministic random source: SHA-256 in counter mode."""

    def __init__(self, seed: bytes = b"opensspi digest tests") -> None:
        self.seed = seed
        self.n = 0

    def __call__(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            self.n += 1
            out += hashlib.sha256(self.seed + self.n.to_bytes(8, "big")).digest()
        return out[:size]


@dataclass
class Digest:
    """Builds credentials and contexts and pumps them into each other."""

    package: DigestPackage
    clock: Clock
    env: Environment
    log: list[tuple[str, bytes]] = field(default_factory=list)

    def client_cred(
        self, user: str = "Mufasa", password: str = "Circle of Life", domain: str | None = None,
        **options: Any,
    ) -> Any:
        identity = AuthIdentity(user, domain, password)
        data: Any = DigestClientOptions(identity, **options) if options else identity
        return self.package.acquire_credentials(None, CredentialUse.OUTBOUND, data)

    def server_cred(self, **config: Any) -> Any:
        config.setdefault("realm", "http-auth@example.org")
        config.setdefault("passwords", {"Mufasa": "Circle of Life"})
        return self.package.acquire_credentials(
            None, CredentialUse.INBOUND, DigestAcceptorConfig(**config)
        )

    def http_client(self, req: int = 0, target: str = "/dir/index.html", **cred: Any) -> Any:
        cred_obj = cred.pop("cred", None) or self.client_cred(**cred)
        return self.package.client_context(
            cred_obj, target, IscReq(req | IscReq.USE_HTTP_STYLE), self.env
        )

    def http_server(self, req: int = 0, **config: Any) -> Any:
        cred = config.pop("cred", None) or self.server_cred(**config)
        return self.package.server_context(cred, AscReq(req | ASC_REQ_HTTP), self.env)

    def sasl_client(
        self, req: int = 0, target: str = "imap/elwood.innosoft.com", **cred: Any
    ) -> Any:
        cred.setdefault("user", "chris")
        cred.setdefault("password", "secret")
        cred_obj = cred.pop("cred", None) or self.client_cred(**cred)
        return self.package.client_context(cred_obj, target, IscReq(req), self.env)

    def sasl_server(self, req: int = 0, **config: Any) -> Any:
        config.setdefault("realm", "elwood.innosoft.com")
        config.setdefault("passwords", {"chris": "secret"})
        cred = config.pop("cred", None) or self.server_cred(**config)
        return self.package.server_context(cred, AscReq(req), self.env)

    def http_login(
        self, client: Any, server: Any,
        method: bytes = b"GET", uri: bytes = b"/dir/index.html", body: bytes = b"",
    ) -> bytes:
        """Challenge, Authorization, Authentication-Info, rspauth check; returns the header."""
        challenge = server.step(StepInput())
        assert challenge.status is SecStatus.SEC_I_CONTINUE_NEEDED
        self.log.append(("challenge", challenge.token))
        auth: Step = client.step(StepInput(challenge.token, params=(method, body)))
        assert auth.status is SecStatus.SEC_E_OK
        self.log.append(("authorization", auth.token))
        info = server.step(StepInput(auth.token, params=(method, uri, body)))
        assert info.status is SecStatus.SEC_E_OK
        done = client.step(StepInput(info.token))
        assert done.status is SecStatus.SEC_E_OK and done.token == b""
        return auth.token

    def sasl_login(self, client: Any, server: Any) -> None:
        """The three SASL legs, with the optional empty first initiator call."""
        first = client.step(StepInput())
        assert first.status is SecStatus.SEC_I_CONTINUE_NEEDED and first.token == b""
        challenge = server.step(StepInput())
        assert challenge.status is SecStatus.SEC_I_CONTINUE_NEEDED
        response = client.step(StepInput(challenge.token))
        assert response.status is SecStatus.SEC_I_CONTINUE_NEEDED
        rspauth = server.step(StepInput(response.token))
        assert rspauth.status is SecStatus.SEC_E_OK
        assert rspauth.token.startswith(b"rspauth=")
        done = client.step(StepInput(rspauth.token))
        assert done.status is SecStatus.SEC_E_OK and done.token == b""
        assert client.complete and server.complete


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env(clock: Clock) -> Environment:
    return Environment(now=clock, random=Counter())


@pytest.fixture
def digest(clock: Clock, env: Environment) -> Digest:
    return Digest(DigestPackage(), clock, env)


@pytest.fixture
def vectors() -> Any:
    return load_vectors
