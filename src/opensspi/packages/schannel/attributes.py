"""The structures Schannel's QueryContextAttributes returns (schannel.h, sspi.h), and the
pure functions that fill them: cipher-suite facts, stream sizes, channel bindings.

Reference schannel.md §C.6 (attribute ids and layouts), §D.3 items 3 and 10.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ...buffers import ChannelBindings
from ...constants import AlgId, SpProt
from ...message import StreamSizes


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """``SecPkgContext_ConnectionInfo``."""

    protocol: int
    cipher: int
    cipher_strength: int
    hash: int
    hash_strength: int
    exchange: int
    exchange_strength: int


@dataclass(frozen=True, slots=True)
class CipherInfo:
    """``SecPkgContext_CipherInfo`` (dwVersion 1); names are OpenSSL's where Windows has CNG's."""

    protocol: int
    cipher_suite: int
    cipher_suite_name: str
    cipher: str
    cipher_len: int
    cipher_block_len: int
    hash: str
    hash_len: int
    exchange: str
    certificate: str
    version: int = 1


@dataclass(frozen=True, slots=True)
class ApplicationProtocol:
    """``SecPkgContext_ApplicationProtocol``: status (0 none, 1 success), extension (2 ALPN) and
    the protocol id."""

    status: int
    extension: int
    protocol_id: bytes


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """``SecPkgContext_SessionInfo``: flags (SSL_SESSION_RECONNECT when resumed) and the id."""

    flags: int
    session_id: bytes


@dataclass(frozen=True, slots=True)
class IssuerListEx:
    """``SecPkgContext_IssuerListInfoEx``: the DER names from the peer's CertificateRequest
    (compare with ``cryptography``'s ``Name.public_bytes()``)."""

    issuers: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ContextBindings:
    """``SecPkgContext_Bindings``: ``bindings`` is the packed SEC_CHANNEL_BINDINGS (32-byte
    header, then the application data), ready for a SECBUFFER_CHANNEL_BINDINGS buffer."""

    bindings: bytes

    @property
    def BindingsLength(self) -> int:  # noqa: N802 - Windows field name
        return len(self.bindings)

    @property
    def channel_bindings(self) -> ChannelBindings:
        """The same bindings as the object NTLM/Kerberos/Digest take (``channel_bindings=``)."""
        return ChannelBindings.parse(self.bindings)


@dataclass(frozen=True, slots=True)
class KeyingMaterial:
    """``SecPkgContext_KeyingMaterial``: RFC 5705 exporter output (hidden from repr)."""

    keying_material: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeyingMaterialInfo:
    """``SecPkgContext_KeyingMaterialInfo``, given through SetContextAttributes: the label
    (without its NUL), the context value (None: absent) and the length wanted."""

    label: bytes
    context: bytes | None
    length: int


# -- suite facts -----------------------------------------------------------------------------

_IANA = {
    "TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303, "TLS_AES_128_CCM_SHA256": 0x1304,
    "ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B, "ECDHE-ECDSA-AES256-GCM-SHA384": 0xC02C,
    "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F, "ECDHE-RSA-AES256-GCM-SHA384": 0xC030,
    "ECDHE-RSA-CHACHA20-POLY1305": 0xCCA8, "ECDHE-ECDSA-CHACHA20-POLY1305": 0xCCA9,
    "DHE-RSA-CHACHA20-POLY1305": 0xCCAA,
    "DHE-RSA-AES128-GCM-SHA256": 0x9E, "DHE-RSA-AES256-GCM-SHA384": 0x9F,
    "AES128-GCM-SHA256": 0x9C, "AES256-GCM-SHA384": 0x9D,
    "ECDHE-ECDSA-AES128-SHA256": 0xC023, "ECDHE-ECDSA-AES256-SHA384": 0xC024,
    "ECDHE-RSA-AES128-SHA256": 0xC027, "ECDHE-RSA-AES256-SHA384": 0xC028,
    "ECDHE-ECDSA-AES128-SHA": 0xC009, "ECDHE-ECDSA-AES256-SHA": 0xC00A,
    "ECDHE-RSA-AES128-SHA": 0xC013, "ECDHE-RSA-AES256-SHA": 0xC014,
    "AES128-SHA": 0x2F, "AES256-SHA": 0x35, "AES128-SHA256": 0x3C, "AES256-SHA256": 0x3D,
    "DHE-RSA-AES128-SHA": 0x33, "DHE-RSA-AES256-SHA": 0x39,
}
_PROTOCOL = {
    "TLSv1": (SpProt.TLS1_0_CLIENT, SpProt.TLS1_0_SERVER),
    "TLSv1.1": (SpProt.TLS1_1_CLIENT, SpProt.TLS1_1_SERVER),
    "TLSv1.2": (SpProt.TLS1_2_CLIENT, SpProt.TLS1_2_SERVER),
    "TLSv1.3": (SpProt.TLS1_3_CLIENT, SpProt.TLS1_3_SERVER),
}


@dataclass(frozen=True, slots=True)
class Suite:
    """What the engine's (name, protocol, bits) means in Schannel's terms."""

    name: str
    version: str
    bits: int

    @property
    def tls13(self) -> bool:
        return self.version == "TLSv1.3"

    @property
    def aead(self) -> bool:
        return self.tls13 or "GCM" in self.name or "CCM" in self.name or "CHACHA" in self.name

    @property
    def cipher_alg(self) -> tuple[int, str]:
        n = self.name.replace("_", "")
        if "AES128" in n:
            return AlgId.CALG_AES_128, "AES"
        if "AES256" in n:
            return AlgId.CALG_AES_256, "AES"
        if "CHACHA20" in n:
            return 0, "CHACHA20_POLY1305"
        if "3DES" in n or "DES-CBC3" in n:
            return AlgId.CALG_3DES, "3DES"
        return 0, n

    @property
    def hash_alg(self) -> tuple[int, int, str]:
        if self.name.endswith("SHA384"):
            return AlgId.CALG_SHA_384, 384, "SHA384"
        if self.name.endswith("SHA256") or "CHACHA20" in self.name:
            return AlgId.CALG_SHA_256, 256, "SHA256"
        return AlgId.CALG_SHA1, 160, "SHA1"

    @property
    def exchange_alg(self) -> tuple[int, str]:
        if self.tls13 or self.name.startswith("ECDHE"):
            return AlgId.CALG_ECDH_EPHEM, "ECDHE"
        if self.name.startswith("DHE"):
            return AlgId.CALG_DH_EPHEM, "DH"
        return AlgId.CALG_RSA_KEYX, "RSA"

    def protocol(self, client: bool) -> int:
        pair = _PROTOCOL.get(self.version)
        return int(pair[0 if client else 1]) if pair else 0

    def stream_sizes(self) -> StreamSizes:
        """RFC 8446 §5.2 / RFC 5246 §6.2.3: the record overhead of this suite (§D.3 item 10)."""
        if self.tls13:
            return StreamSizes(5, 17, 2**14, 4, 1)
        if "CHACHA20" in self.name:
            return StreamSizes(5, 16, 2**14, 4, 1)
        if self.aead:
            return StreamSizes(13, 16, 2**14, 4, 1)
        mac = self.hash_alg[1] // 8
        iv = 0 if self.version == "TLSv1" else 16
        return StreamSizes(5 + iv, mac + 16, 2**14, 4, 16)

    def connection_info(self, client: bool) -> ConnectionInfo:
        cipher, _ = self.cipher_alg
        hash_id, hash_bits, _ = self.hash_alg
        exch, _ = self.exchange_alg
        return ConnectionInfo(self.protocol(client), int(cipher), self.bits, int(hash_id),
                              hash_bits, int(exch), 256 if exch != AlgId.CALG_RSA_KEYX else 2048)

    def cipher_info(self, client: bool, certificate: str) -> CipherInfo:
        _, cipher = self.cipher_alg
        _, hash_bits, hash_name = self.hash_alg
        _, exchange = self.exchange_alg
        return CipherInfo(
            protocol=self.protocol(client), cipher_suite=_IANA.get(self.name, 0),
            cipher_suite_name=self.name, cipher=cipher, cipher_len=self.bits,
            cipher_block_len=self.stream_sizes().block_size, hash=hash_name,
            hash_len=hash_bits, exchange=exchange, certificate=certificate,
        )


def endpoint_hash(der: bytes) -> bytes:
    """RFC 5929 §4.1 tls-server-end-point: the certificate hashed with its signature's hash,
    except that MD5 and SHA-1 become SHA-256.

    Deviation: RFC 5929 does not cover signatures without a separate hash (Ed25519/Ed448);
    SHA-256 is used, as Wine does.
    """
    cert = x509.load_der_x509_certificate(der)
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
        return hashlib.sha256(der).digest()
    return hashlib.new(algorithm.name, der).digest()


def bindings(prefix: bytes, data: bytes) -> ContextBindings:
    """The SEC_CHANNEL_BINDINGS Schannel returns: every field 0 but cbApplicationDataLength and
    dwApplicationDataOffset (32), then ``prefix`` + data (reference §C.6, as Wine builds it)."""
    app = prefix + data
    return ContextBindings(struct.pack("<8I", 0, 0, 0, 0, 0, 0, len(app), 32) + app)


__all__ = [
    "ApplicationProtocol",
    "CipherInfo",
    "ConnectionInfo",
    "ContextBindings",
    "IssuerListEx",
    "KeyingMaterial",
    "KeyingMaterialInfo",
    "SessionInfo",
    "Suite",
    "bindings",
    "endpoint_hash",
]
