"""A throw-away PKI for the Schannel tests, made once per session."""

from __future__ import annotations

import pytest

from opensspi.packages.schannel import CertContext
from opensspi.testing.tls import Issued, TestPki
from support.require import require_module


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return TestPki()


@pytest.fixture(scope="session")
def server_cert(pki: TestPki) -> Issued:
    return pki.server("localhost")


@pytest.fixture(scope="session")
def server_ctx(server_cert: Issued) -> CertContext:
    return CertContext.load(server_cert.cert_pem, server_cert.key_pem)


@pytest.fixture(scope="session")
def root(pki: TestPki) -> CertContext:
    return CertContext.load(pki.ca.cert_pem)


@pytest.fixture(scope="session")
def client_ctx(pki: TestPki) -> CertContext:
    issued = pki.client("sspi-client")
    return CertContext.load(issued.cert_pem + issued.key_pem)


@pytest.fixture(params=["stdlib", "pyopenssl"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "pyopenssl":
        require_module("OpenSSL", "pip install pyOpenSSL  (or: pip install -e '.[schannel]')")
    return str(request.param)
