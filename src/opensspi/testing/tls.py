"""Throw-away X.509 certificates for TLS tests, benchmarks and the demonstration.

A small PKI made with ``cryptography``: a root CA, server certificates (with DNS and IP subject
alternative names), client certificates, an expired one, and a CRL. ECDSA P-256 keys by default
(fast to make); RSA on request. Nothing here is for production use.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, with PEM/DER helpers."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes = field(repr=False)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(_PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        """Write ``name.pem`` and ``name.key`` into ``directory``; returns both paths."""
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
        cert_path.write_bytes(self.cert_pem)
        key_path.write_bytes(self.key_pem)
        key_path.chmod(0o600)
        return cert_path, key_path


def _key(kind: str) -> CertificateIssuerPrivateKeyTypes:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _sign_hash(key: CertificateIssuerPrivateKeyTypes,
               wanted: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None
               ) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """Ed25519 signs without a separate hash (``None``)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return wanted or hashes.SHA256()


class TestPki:
    """A root CA that issues server and client certificates."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str = "opensspi Test Root CA", key: str = "ec") -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self.key_kind = key
        ca_key = _key(key)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "opensspi-test")])
        cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(ca_key, _sign_hash(ca_key, None))
        )
        self.ca = Issued(cert, ca_key)
        self.revoked: list[int] = []

    def issue(self, common_name: str, *, dns: tuple[str, ...] = (), ips: tuple[str, ...] = (),
              client: bool = False, days: int = 30, expired: bool = False,
              hash_algorithm: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
              key: str | None = None) -> Issued:
        """A leaf certificate signed by the CA."""
        now = dt.datetime.now(dt.timezone.utc)
        leaf_key = _key(key or self.key_kind)
        start = now - dt.timedelta(days=10 if expired else 1)
        end = now - dt.timedelta(days=2) if expired else now + dt.timedelta(days=days)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.ca.cert.subject).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
                critical=False)
        )
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.ca.key, _sign_hash(self.ca.key, hash_algorithm))
        return Issued(cert, leaf_key)

    def server(self, name: str = "localhost", **kw: object) -> Issued:
        """A server certificate for ``name`` (also valid for 127.0.0.1)."""
        return self.issue(name, dns=(name,), ips=("127.0.0.1",), **kw)  # type: ignore[arg-type]

    def client(self, name: str = "sspi-client") -> Issued:
        return self.issue(name, client=True)

    def crl(self, revoked: list[x509.Certificate]) -> bytes:
        """A CRL (PEM) signed by the CA that revokes ``revoked``."""
        now = dt.datetime.now(dt.timezone.utc)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.ca.cert.subject)
                   .last_update(now - dt.timedelta(minutes=5))
                   .next_update(now + dt.timedelta(days=1)))
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
                .revocation_date(now - dt.timedelta(minutes=1)).build())
        return builder.sign(self.ca.key, hashes.SHA256()).public_bytes(_PEM)


__all__ = ["Issued", "TestPki"]
