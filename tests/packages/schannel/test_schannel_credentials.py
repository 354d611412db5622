"""Schannel credentials: CertContext.load's inputs, and SCHANNEL_CRED / SCH_CREDENTIALS turned
into the engine's policy."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from opensspi.constants import CredentialUse, SchCred, SecStatus, SpProt
from opensspi.errors import SspiError
from opensspi.packages.schannel import (
    CRYPTO_SETTINGS,
    SCH_CREDENTIALS,
    SCHANNEL_CRED,
    TLS_PARAMETERS,
    CertContext,
)
from opensspi.packages.schannel.credentials import policy_from
from opensspi.testing.tls import TestPki

OUT = CredentialUse.OUTBOUND


def test_load_pem_der_pkcs12_and_paths(pki: TestPki, tmp_path: Path) -> None:
    issued = pki.client("loader")
    pem = CertContext.load(issued.cert_pem + issued.key_pem)
    der = CertContext.load(issued.der, issued.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    p12 = pkcs12.serialize_key_and_certificates(
        b"loader", issued.key, issued.cert, [pki.ca.cert],  # type: ignore[arg-type]
        serialization.BestAvailableEncryption(b"s3cret"))
    from_p12 = CertContext.load(p12, password="s3cret")
    cert_path, key_path = issued.write(tmp_path, "loader")
    from_files = CertContext.load(cert_path, key=key_path)
    for ctx in (pem, der, from_p12, from_files):
        assert ctx.der == issued.der and ctx.key is not None
        assert ctx.subject == "CN=loader"
    assert from_p12.chain == (pki.ca.der,)
    assert "s3cret" not in repr(from_p12) and "PRIVATE" not in repr(from_p12)
    other = pki.client("other")
    with pytest.raises(SspiError) as err:
        CertContext.load(issued.cert_pem, other.key_pem)
    assert err.value.status == SecStatus.SEC_E_INVALID_PARAMETER
    with pytest.raises(SspiError):
        CertContext.load(b"not a certificate")


def test_protocol_masks() -> None:
    both = policy_from(SCHANNEL_CRED(), OUT)
    assert (both.min_version, both.max_version) == (ssl.TLSVersion.TLSv1_2,
                                                    ssl.TLSVersion.TLSv1_3)
    only13 = policy_from(SCHANNEL_CRED(grbitEnabledProtocols=SpProt.TLS1_3_CLIENT), OUT)
    assert only13.min_version == only13.max_version == ssl.TLSVersion.TLSv1_3
    old = policy_from(SCHANNEL_CRED(grbitEnabledProtocols=SpProt.TLS1_1_CLIENT
                                    | SpProt.TLS1_2_CLIENT), OUT)
    assert old.min_version == ssl.TLSVersion.TLSv1_1
    sch = policy_from(SCH_CREDENTIALS(pTlsParameters=[
        TLS_PARAMETERS(grbitDisabledProtocols=SpProt.TLS1_2_CLIENT)]), OUT)
    assert sch.min_version == ssl.TLSVersion.TLSv1_3
    for bad in (SpProt.SSL3_CLIENT, SpProt.DTLS1_2_CLIENT | SpProt.TLS1_2_CLIENT):
        with pytest.raises(SspiError) as err:
            policy_from(SCHANNEL_CRED(grbitEnabledProtocols=bad), OUT)
        assert err.value.status == SecStatus.SEC_E_ALGORITHM_MISMATCH


def test_cipher_restrictions() -> None:
    aes256 = policy_from(SCHANNEL_CRED(palgSupportedAlgs=[0x6610, 0xAE06],
                                       grbitEnabledProtocols=SpProt.TLS1_2_CLIENT), OUT)
    assert aes256.ciphers is not None and "AES128" not in aes256.ciphers
    assert "kECDHE+AES256" in aes256.ciphers and "kRSA" not in aes256.ciphers
    strong = policy_from(SCHANNEL_CRED(dwMinimumCipherStrength=256, engine="pyopenssl"), OUT)
    assert strong.tls13_suites == ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
    no_cbc = policy_from(SCH_CREDENTIALS(pTlsParameters=[TLS_PARAMETERS(pDisabledCrypto=[
        CRYPTO_SETTINGS(eAlgorithmUsage=2, strCngAlgId="AES",
                        rgstrChainingModes=["ChainingModeCBC"])])]), OUT)
    assert no_cbc.ciphers is not None and "SHA1" not in no_cbc.ciphers
    assert "AESGCM" in no_cbc.ciphers
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers(no_cbc.ciphers)  # a cipher string OpenSSL accepts
    assert all("CBC" not in c["name"] and c["name"][-3:] != "SHA"
               for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2")
    with pytest.raises(SspiError) as err:  # the stdlib cannot restrict TLS 1.3 suites
        policy_from(SCHANNEL_CRED(dwMinimumCipherStrength=256, engine="stdlib"), OUT)
    assert err.value.status == SecStatus.SEC_E_UNSUPPORTED_FUNCTION


def test_refusals(pki: TestPki) -> None:
    with pytest.raises(SspiError) as err:
        policy_from(SCHANNEL_CRED(dwFlags=SchCred.RESTRICTED_ROOTS), OUT)
    assert err.value.status == SecStatus.SEC_E_INVALID_PARAMETER
    with pytest.raises(SspiError) as err:
        policy_from(SCHANNEL_CRED(aphMappers=[object()]), OUT)
    assert err.value.status == SecStatus.SEC_E_UNSUPPORTED_FUNCTION
    cert_only = CertContext.load(pki.client("nokey").cert_pem)
    with pytest.raises(SspiError) as err:
        policy_from(SCHANNEL_CRED(paCred=[cert_only]), OUT)
    assert err.value.status == SecStatus.SEC_E_NO_CREDENTIALS
    with pytest.raises(SspiError) as err:
        policy_from("not a structure", OUT)
    assert err.value.status == SecStatus.SEC_E_INVALID_PARAMETER
