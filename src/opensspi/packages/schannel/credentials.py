"""Schannel credentials: ``SCHANNEL_CRED``, ``SCH_CREDENTIALS`` (+ ``TLS_PARAMETERS``,
``CRYPTO_SETTINGS``) and ``CertContext``, turned into one internal :class:`TlsPolicy`.

Reference: schannel.h; "SCHANNEL_CRED structure" and "SCH_CREDENTIALS structure" in the Windows
documentation; reference schannel.md §C.1 and §D.3 items 8-9. The structures take the Windows
field names as keyword arguments and are passed as ``pAuthData`` to AcquireCredentialsHandle.
The counts (``cCreds``, ``cSupportedAlgs``...) are accepted and checked against the sequences
when given; Python knows a sequence's length, so they may be left at 0.

What maps onto OpenSSL and what does not (each is a ``Deviation:`` from Windows):

- ``grbitEnabledProtocols`` / ``grbitDisabledProtocols``: TLS 1.2 and 1.3 by default; TLS 1.0 and
  1.1 only when enabled explicitly; SSL 2/3 and PCT cannot be enabled (OpenSSL 3 has none) and
  DTLS is not a stream protocol — both fail with SEC_E_ALGORITHM_MISMATCH, as does an empty set.
- ``palgSupportedAlgs``, ``dwMinimumCipherStrength``/``dwMaximumCipherStrength`` and
  ``pDisabledCrypto`` become an OpenSSL cipher list for TLS ≤ 1.2 and a TLS 1.3 suite list. The
  standard library cannot restrict TLS 1.3 suites: a restriction that removes some but not all of
  them needs the pyOpenSSL engine (``engine="pyopenssl"``), otherwise SEC_E_UNSUPPORTED_FUNCTION.
  Key-exchange restrictions apply to TLS ≤ 1.2 only (TLS 1.3 always uses (EC)DHE).
- ``hRootStore``: a PEM file path, PEM or DER bytes, or a list of :class:`CertContext`; None is
  the system store (OpenSSL's default paths). With ``SCH_CRED_RESTRICTED_ROOTS`` it must be given.
- Revocation (``SCH_CRED_REVOCATION_CHECK_*``): OpenSSL fetches no CRL or OCSP response itself.
  The flags are honoured when CRLs are given (the extra ``crls=`` argument, PEM or DER); without
  CRLs they behave as if ``SCH_CRED_IGNORE_NO_REVOCATION_CHECK`` were set.
- ``aphMappers``/``cMappers`` (certificate mappers) have no meaning off Windows and must be empty.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from ...constants import (
    SCH_CREDENTIALS_VERSION,
    SCHANNEL_CRED_VERSION,
    AlgId,
    CredentialUse,
    SchCred,
    SpProt,
)
from ...errors import (
    AlgorithmMismatch,
    InvalidParameter,
    NoCredentials,
    UnsupportedFunction,
)
from ...provider import Credential

Source: TypeAlias = "bytes | bytearray | memoryview | str | os.PathLike[str]"


# -- certificates ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertContext:
    """``CERT_CONTEXT``: an X.509 certificate (DER), the chain sent with it, and its private key.

    Made by :meth:`load`; the key never appears in ``repr``.
    """

    der: bytes
    chain: tuple[bytes, ...] = ()
    key: PrivateKeyTypes | None = field(default=None, repr=False, compare=False)

    @classmethod
    def load(cls, cert: Source, key: Source | None = None,
             password: bytes | str | None = None) -> CertContext:
        """A certificate (and key) from PEM, DER or PKCS#12 bytes, or a file path.

        A PEM may hold the certificate, its chain and the key together; PKCS#12 holds all three.
        ``password`` decrypts the key or the PKCS#12 file.

        Raises:
            InvalidParameter: the bytes are none of those, or the key does not match.
        """
        secret = password.encode() if isinstance(password, str) else password
        data = _read(cert)
        private: PrivateKeyTypes | None = None
        try:
            if b"-----BEGIN" in data:
                certs = x509.load_pem_x509_certificates(data)
                if b"PRIVATE KEY-----" in data:
                    private = serialization.load_pem_private_key(data, secret)
            elif data[:1] == b"\x30" and _looks_like_pkcs12(data):
                p12 = pkcs12.load_pkcs12(data, secret)
                if p12.cert is None:
                    raise InvalidParameter("The PKCS#12 file holds no certificate.")
                certs = [p12.cert.certificate] + [c.certificate for c in p12.additional_certs]
                private = p12.key
            else:
                certs = [x509.load_der_x509_certificate(data)]
        except (ValueError, TypeError) as exc:
            raise InvalidParameter(
                f"CertContext.load could not read the certificate ({exc}); pass PEM, DER or "
                "PKCS#12 bytes or a path (and the password of an encrypted key or PKCS#12)."
            ) from None
        if key is not None:
            private = _load_key(_read(key), secret)
        if not certs:
            raise InvalidParameter("CertContext.load found no certificate in the data given.")
        ders = [c.public_bytes(serialization.Encoding.DER) for c in certs]
        if private is not None and (
            certs[0].public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            != private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ):
            raise InvalidParameter("The private key does not belong to the certificate.")
        return cls(ders[0], tuple(ders[1:]), private)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    def __repr__(self) -> str:
        key = ", with key" if self.key is not None else ""
        return f"CertContext({self.subject!r}, chain={len(self.chain)}{key})"

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        return self.certificate.issuer.rfc4514_string()

    def pem(self) -> bytes:
        """The certificate then its chain, PEM."""
        return b"".join(ssl.DER_cert_to_PEM_cert(d).encode() for d in (self.der, *self.chain))

    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (for the engines, never logged)."""
        if self.key is None:
            raise NoCredentials(
                f"The certificate {self.subject} has no private key; load it with "
                "CertContext.load(cert, key=...)."
            )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())


def _looks_like_pkcs12(data: bytes) -> bool:
    try:
        x509.load_der_x509_certificate(data)
    except ValueError:
        return True
    return False


def _read(source: Source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise InvalidParameter(f"Cannot read {os.fspath(source)!r}: {exc.strerror}.") from None


def _load_key(data: bytes, password: bytes | None) -> PrivateKeyTypes:
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password)
        return serialization.load_der_private_key(data, password)
    except (ValueError, TypeError) as exc:
        raise InvalidParameter(f"CertContext.load could not read the private key ({exc}).") \
            from None


# -- the Windows structures ------------------------------------------------------------------

RootStore: TypeAlias = "str | os.PathLike[str] | bytes | Sequence[CertContext] | None"


@dataclass(frozen=True)
class CRYPTO_SETTINGS:  # noqa: N801 - Windows' name
    """``CRYPTO_SETTINGS``: one algorithm to disable (usage 0 key exchange, 1 signature,
    2 cipher, 3 digest, 4 certificate signature), optionally only some chaining modes or key
    sizes outside ``[dwMinBitLength, dwMaxBitLength]``."""

    eAlgorithmUsage: int = 2  # noqa: N815
    strCngAlgId: str = ""  # noqa: N815
    cChainingModes: int = 0  # noqa: N815
    rgstrChainingModes: Sequence[str] = ()  # noqa: N815
    dwMinBitLength: int = 0  # noqa: N815
    dwMaxBitLength: int = 0  # noqa: N815


@dataclass(frozen=True)
class TLS_PARAMETERS:  # noqa: N801 - Windows' name
    """``TLS_PARAMETERS``: ALPN ids, a *disabled* protocol mask and disabled algorithms."""

    cAlpnIds: int = 0  # noqa: N815
    rgstrAlpnIds: Sequence[str | bytes] = ()  # noqa: N815
    grbitDisabledProtocols: int = 0  # noqa: N815
    cDisabledCrypto: int = 0  # noqa: N815
    pDisabledCrypto: Sequence[CRYPTO_SETTINGS] = ()  # noqa: N815
    dwFlags: int = 0  # noqa: N815


@dataclass(frozen=True)
class SCHANNEL_CRED:  # noqa: N801 - Windows' name
    """``SCHANNEL_CRED`` (version 4). ``engine``, ``crls`` and ``alpn`` are ours (not Windows
    fields): the TLS engine to run, CRLs for revocation checking, and a default ALPN list."""

    dwVersion: int = SCHANNEL_CRED_VERSION  # noqa: N815
    cCreds: int = 0  # noqa: N815
    paCred: Sequence[CertContext] = ()  # noqa: N815
    hRootStore: RootStore = None  # noqa: N815
    cMappers: int = 0  # noqa: N815
    aphMappers: Sequence[object] = ()  # noqa: N815
    cSupportedAlgs: int = 0  # noqa: N815
    palgSupportedAlgs: Sequence[int] = ()  # noqa: N815
    grbitEnabledProtocols: int = 0  # noqa: N815
    dwMinimumCipherStrength: int = 0  # noqa: N815
    dwMaximumCipherStrength: int = 0  # noqa: N815
    dwSessionLifespan: int = 0  # noqa: N815
    dwFlags: int = 0  # noqa: N815
    dwCredFormat: int = 0  # noqa: N815
    engine: str = "stdlib"
    crls: Sequence[bytes] = ()
    alpn: Sequence[str | bytes] = ()


@dataclass(frozen=True)
class SCH_CREDENTIALS:  # noqa: N801 - Windows' name
    """``SCH_CREDENTIALS`` (version 5): protocols and algorithms come as *disabled* sets in
    ``pTlsParameters``. ``engine`` and ``crls`` as in :class:`SCHANNEL_CRED`."""

    dwVersion: int = SCH_CREDENTIALS_VERSION  # noqa: N815
    dwCredFormat: int = 0  # noqa: N815
    cCreds: int = 0  # noqa: N815
    paCred: Sequence[CertContext] = ()  # noqa: N815
    hRootStore: RootStore = None  # noqa: N815
    cMappers: int = 0  # noqa: N815
    aphMappers: Sequence[object] = ()  # noqa: N815
    dwSessionLifespan: int = 0  # noqa: N815
    dwFlags: int = 0  # noqa: N815
    cTlsParameters: int = 0  # noqa: N815
    pTlsParameters: Sequence[TLS_PARAMETERS] = ()  # noqa: N815
    engine: str = "stdlib"
    crls: Sequence[bytes] = ()


# -- the internal policy ---------------------------------------------------------------------

_VERSIONS = (
    (SpProt.TLS1_0_CLIENT | SpProt.TLS1_0_SERVER, ssl.TLSVersion.TLSv1),
    (SpProt.TLS1_1_CLIENT | SpProt.TLS1_1_SERVER, ssl.TLSVersion.TLSv1_1),
    (SpProt.TLS1_2_CLIENT | SpProt.TLS1_2_SERVER, ssl.TLSVersion.TLSv1_2),
    (SpProt.TLS1_3_CLIENT | SpProt.TLS1_3_SERVER, ssl.TLSVersion.TLSv1_3),
)
_DEFAULT_VERSIONS = frozenset((ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3))
_UNAVAILABLE = int(SpProt.PCT1_CLIENT | SpProt.PCT1_SERVER | SpProt.SSL2_CLIENT
                   | SpProt.SSL2_SERVER | SpProt.SSL3_CLIENT | SpProt.SSL3_SERVER)
_DTLS = int(SpProt.DTLS1_0_CLIENT | SpProt.DTLS1_0_SERVER | SpProt.DTLS1_2_CLIENT
            | SpProt.DTLS1_2_SERVER)


@dataclass(frozen=True, slots=True)
class _Bulk:
    """A bulk cipher: its OpenSSL cipher-string tokens by mode, its strength, its TLS 1.3
    suite (when it has one)."""

    name: str
    bits: int
    modes: dict[str, str]
    tls13: str | None


_BULKS = (
    _Bulk("AES128", 128, {"GCM": "AES128+AESGCM", "CCM": "AES128+AESCCM",
                          "CBC": "AES128+SHA1:AES128+SHA256"}, "TLS_AES_128_GCM_SHA256"),
    _Bulk("AES256", 256, {"GCM": "AES256+AESGCM", "CCM": "AES256+AESCCM",
                          "CBC": "AES256+SHA1:AES256+SHA384:AES256+SHA256"},
          "TLS_AES_256_GCM_SHA384"),
    _Bulk("CHACHA20", 256, {"": "CHACHA20"}, "TLS_CHACHA20_POLY1305_SHA256"),
    _Bulk("3DES", 112, {"CBC": "3DES"}, None),
    _Bulk("RC4", 128, {"": "RC4"}, None),
)
_BULK_OF_ALG = {AlgId.CALG_AES_128: "AES128", AlgId.CALG_AES_256: "AES256",
                AlgId.CALG_3DES: "3DES", AlgId.CALG_RC4: "RC4"}
_KX_OF_ALG = {AlgId.CALG_ECDH_EPHEM: "kECDHE", AlgId.CALG_ECDH: "kECDHE",
              AlgId.CALG_DH_EPHEM: "kDHE", AlgId.CALG_RSA_KEYX: "kRSA"}
_KX_OF_CNG = {"ECDH": "kECDHE", "ECDHE": "kECDHE", "DH": "kDHE", "RSA": "kRSA"}
_BULK_OF_CNG = {"AES": ("AES128", "AES256"), "CHACHA20_POLY1305": ("CHACHA20",),
                "CHACHA20": ("CHACHA20",), "3DES": ("3DES",), "RC4": ("RC4",)}
_MODE_OF_CNG = {"CHAININGMODEGCM": "GCM", "CHAININGMODECCM": "CCM", "CHAININGMODECBC": "CBC"}
_ALL_KX = ("kECDHE", "kDHE", "kRSA")
_DEFAULT_BULKS = ("AES128", "AES256", "CHACHA20")


_MANUAL_CRED_VALIDATION = int(SchCred.MANUAL_CRED_VALIDATION)
_NO_SERVERNAME_CHECK = int(SchCred.NO_SERVERNAME_CHECK)


@dataclass(frozen=True, slots=True)
class TlsPolicy:
    """What both credential structures mean, in engine terms."""

    min_version: ssl.TLSVersion
    max_version: ssl.TLSVersion
    #: OpenSSL cipher string for TLS ≤ 1.2, or None for the engine's default.
    ciphers: str | None
    #: TLS 1.3 suites allowed, or None for all.
    tls13_suites: tuple[str, ...] | None
    certificate: CertContext | None
    roots: RootStore
    flags: SchCred
    crls: tuple[bytes, ...]
    alpn: tuple[bytes, ...]
    session_lifespan: timedelta
    engine: str

    # int() first: IntFlag arithmetic builds a new flag object in Python on every handshake.
    @property
    def manual_validation(self) -> bool:
        return bool(int(self.flags) & _MANUAL_CRED_VALIDATION)

    @property
    def check_name(self) -> bool:
        return not int(self.flags) & _NO_SERVERNAME_CHECK


def _versions(enabled: int, disabled: int) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    if enabled & _DTLS and enabled & ~_DTLS & ~0xC0000000:
        raise AlgorithmMismatch("grbitEnabledProtocols mixes TLS and DTLS bits.")
    if enabled and not enabled & ~(_UNAVAILABLE | _DTLS | 0xC0000000):
        raise AlgorithmMismatch(
            "grbitEnabledProtocols enables only protocols OpenSSL 3 and this stream package do "
            "not offer (SSL 2/3, PCT, DTLS); enable SP_PROT_TLS1_2 and/or SP_PROT_TLS1_3."
        )
    if enabled in (0, 0xFFFFFFFF):
        chosen = set(_DEFAULT_VERSIONS)
    else:
        chosen = {v for bits, v in _VERSIONS if enabled & bits}
    chosen -= {v for bits, v in _VERSIONS if disabled & bits}
    if not chosen:
        raise AlgorithmMismatch(
            "The enabled protocols leave no TLS version (SEC_E_ALGORITHM_MISMATCH); enable "
            "SP_PROT_TLS1_2_CLIENT and/or SP_PROT_TLS1_3_CLIENT."
        )
    ordered = sorted(chosen)
    return ordered[0], ordered[-1]


def _cipher_policy(
    algs: Sequence[int], min_bits: int, max_bits: int, disabled: Sequence[CRYPTO_SETTINGS]
) -> tuple[str | None, tuple[str, ...] | None]:
    """The OpenSSL cipher string (TLS ≤ 1.2) and TLS 1.3 suite list the restrictions leave."""
    if not algs and not min_bits and not max_bits and not disabled:
        return None, None
    bulks = {_BULK_OF_ALG[AlgId(a)] for a in algs if a in _BULK_OF_ALG}
    kxs = {_KX_OF_ALG[AlgId(a)] for a in algs if a in _KX_OF_ALG}
    allowed: dict[str, set[str]] = {
        b.name: set(b.modes) for b in _BULKS if (b.name in bulks if bulks else
                                                   b.name in _DEFAULT_BULKS)
    }
    kx_allowed = set(kxs or _ALL_KX)
    no_sha1 = False
    for setting in disabled:
        alg = setting.strCngAlgId.upper().replace("BCRYPT_", "").replace("_ALGORITHM", "")
        if setting.eAlgorithmUsage == 0 and alg in _KX_OF_CNG:
            kx_allowed.discard(_KX_OF_CNG[alg])
        elif setting.eAlgorithmUsage == 2 and alg in _BULK_OF_CNG:
            modes = {_MODE_OF_CNG.get(m.upper(), m.upper()) for m in setting.rgstrChainingModes}
            for name in _BULK_OF_CNG[alg]:
                bulk = next(b for b in _BULKS if b.name == name)
                lo, hi = setting.dwMinBitLength, setting.dwMaxBitLength
                if (lo or hi) and (lo <= bulk.bits and (not hi or bulk.bits <= hi)):
                    continue  # inside the allowed size range
                if name in allowed:
                    allowed[name] -= modes if modes else set(allowed[name])
        elif setting.eAlgorithmUsage == 3 and alg in ("SHA1", "SHA"):
            no_sha1 = True
    strong = {
        b.name for b in _BULKS
        if (not min_bits or b.bits >= min_bits) and (not max_bits or b.bits <= max_bits)
    }
    parts: list[str] = []
    suites: list[str] = []
    for bulk in _BULKS:
        modes = allowed.get(bulk.name, set())
        if bulk.name not in strong or not modes:
            continue
        if bulk.tls13 is not None and ("GCM" in modes or "" in modes):
            suites.append(bulk.tls13)
        for mode in sorted(modes):
            if no_sha1 and mode == "CBC":
                continue
            for token in bulk.modes[mode].split(":"):
                parts.extend(f"{kx}+{token}" for kx in sorted(kx_allowed))
    cipher = ":".join(parts) + ":!aNULL:!eNULL" if parts else ""
    return cipher, tuple(suites)


def policy_from(auth_data: object, use: CredentialUse) -> TlsPolicy:
    """Turn ``SCHANNEL_CRED`` / ``SCH_CREDENTIALS`` (or None: defaults) into a policy.

    Raises:
        AlgorithmMismatch: the protocol or algorithm restrictions leave nothing.
        InvalidParameter: a field has the wrong type or version.
        NoCredentials: a server credential without a certificate and key.
    """
    if auth_data is None:
        auth_data = SCHANNEL_CRED()
    if isinstance(auth_data, SCHANNEL_CRED):
        if auth_data.dwVersion not in (1, 2, 3, SCHANNEL_CRED_VERSION):
            raise InvalidParameter(f"SCHANNEL_CRED.dwVersion {auth_data.dwVersion} is unknown; "
                                   "use SCHANNEL_CRED_VERSION (4).")
        lo, hi = _versions(auth_data.grbitEnabledProtocols, 0)
        ciphers, suites = _cipher_policy(
            auth_data.palgSupportedAlgs, auth_data.dwMinimumCipherStrength,
            auth_data.dwMaximumCipherStrength, ())
        _count(auth_data.cSupportedAlgs, auth_data.palgSupportedAlgs, "cSupportedAlgs")
        alpn = tuple(_alpn_id(a) for a in auth_data.alpn)
    elif isinstance(auth_data, SCH_CREDENTIALS):
        if auth_data.dwVersion != SCH_CREDENTIALS_VERSION:
            raise InvalidParameter("SCH_CREDENTIALS.dwVersion must be SCH_CREDENTIALS_VERSION.")
        _count(auth_data.cTlsParameters, auth_data.pTlsParameters, "cTlsParameters")
        disabled_protocols = 0
        disabled: list[CRYPTO_SETTINGS] = []
        alpn_ids: list[bytes] = []
        for params in auth_data.pTlsParameters:
            _count(params.cAlpnIds, params.rgstrAlpnIds, "cAlpnIds")
            _count(params.cDisabledCrypto, params.pDisabledCrypto, "cDisabledCrypto")
            disabled_protocols |= params.grbitDisabledProtocols
            disabled.extend(params.pDisabledCrypto)
            alpn_ids.extend(_alpn_id(a) for a in params.rgstrAlpnIds)
        lo, hi = _versions(0, disabled_protocols)
        ciphers, suites = _cipher_policy((), 0, 0, disabled)
        alpn = tuple(alpn_ids)
    else:
        raise InvalidParameter(
            f"Schannel takes pAuthData as SCHANNEL_CRED or SCH_CREDENTIALS, not "
            f"{type(auth_data).__name__}."
        )
    _count(auth_data.cCreds, auth_data.paCred, "cCreds")
    if auth_data.aphMappers or auth_data.cMappers:
        raise UnsupportedFunction("Certificate mappers (aphMappers) exist only on Windows.")
    if auth_data.dwCredFormat:
        raise UnsupportedFunction(
            "dwCredFormat SCH_CRED_FORMAT_CERT_HASH* names certificates in a Windows store; "
            "pass CertContext objects in paCred instead."
        )
    for cert in auth_data.paCred:
        if not isinstance(cert, CertContext):
            raise InvalidParameter("paCred holds CertContext objects (CertContext.load(...)).")
    certificate = auth_data.paCred[0] if auth_data.paCred else None
    if certificate is not None:
        certificate.key_pem()  # fail now, not mid-handshake, when the key is missing
    if use & CredentialUse.INBOUND and certificate is None:
        raise NoCredentials(
            "A Schannel server credential needs its certificate and key: "
            "SCHANNEL_CRED(paCred=[CertContext.load(cert, key)])."
        )
    flags = SchCred(auth_data.dwFlags)
    if flags & SchCred.RESTRICTED_ROOTS and auth_data.hRootStore is None:
        raise InvalidParameter("SCH_CRED_RESTRICTED_ROOTS needs hRootStore.")
    if ciphers == "" and not suites:
        raise AlgorithmMismatch("The cipher restrictions leave no cipher suite.")
    if auth_data.engine not in ("stdlib", "pyopenssl"):
        raise InvalidParameter("engine is 'stdlib' (the default) or 'pyopenssl'.")
    if (auth_data.engine == "stdlib" and suites and len(suites) < 3
            and hi >= ssl.TLSVersion.TLSv1_3):
        raise UnsupportedFunction(
            "The standard library cannot restrict TLS 1.3 cipher suites; acquire the "
            "credential with engine='pyopenssl', or disable TLS 1.3."
        )
    lifespan_ms = auth_data.dwSessionLifespan or 10 * 3600 * 1000
    return TlsPolicy(
        min_version=lo, max_version=hi, ciphers=ciphers, tls13_suites=suites,
        certificate=certificate, roots=auth_data.hRootStore, flags=flags,
        crls=tuple(bytes(c) for c in auth_data.crls), alpn=alpn,
        session_lifespan=timedelta(milliseconds=lifespan_ms), engine=auth_data.engine,
    )


def _count(count: int, items: Sequence[object], name: str) -> None:
    if count and count != len(items):
        raise InvalidParameter(f"{name} is {count} but the array holds {len(items)} entries.")


def _alpn_id(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    if not 0 < len(raw) < 256:
        raise InvalidParameter("An ALPN protocol id is 1 to 255 bytes.")
    return raw


# -- the credential --------------------------------------------------------------------------


class SchannelCredential(Credential):
    """The object behind a Schannel CredHandle: the policy, the engine's configured context per
    direction (made once, so every connection of this handle shares it), and the session cache.

    The cache lives here because Windows reuses a session only for the same credential handle
    and target name (ISC (Schannel) docs); a new handle starts with an empty cache.
    """

    def __init__(self, use: CredentialUse, policy: TlsPolicy) -> None:
        self.use = use
        self.policy = policy
        #: (target name, id of the engine context) -> (engine session, expiry POSIX time)
        self.sessions: dict[tuple[str, int], tuple[object, float]] = {}
        #: engine name + settings -> the engine's configured context (ssl.SSLContext...)
        self.engine_contexts: dict[object, object] = {}

    @property
    def principal_name(self) -> str:
        cert = self.policy.certificate
        return cert.subject if cert is not None else ""


def write_private_files(cert: CertContext) -> tuple[tempfile.TemporaryDirectory[str], str, str]:
    """Write ``cert``'s chain and key to a private temporary directory (0700) for engines that
    load only from files; the caller removes the directory right after loading."""
    tmp = tempfile.TemporaryDirectory(prefix="opensspi-tls-")
    os.chmod(tmp.name, 0o700)
    cert_path = os.path.join(tmp.name, "cert.pem")
    key_path = os.path.join(tmp.name, "key.pem")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(cert.key_pem())
    Path(cert_path).write_bytes(cert.pem())
    return tmp, cert_path, key_path


def root_pem(roots: RootStore) -> tuple[str | None, bytes | None]:
    """``hRootStore`` as (a CA file path, or CA bytes PEM/DER), both None for the system store."""
    if roots is None:
        return None, None
    if isinstance(roots, (str, os.PathLike)):
        return os.fspath(roots), None
    if isinstance(roots, (bytes, bytearray, memoryview)):
        return None, bytes(roots)
    pem = b"".join(c.pem() for c in roots)
    return None, pem


__all__ = [
    "CRYPTO_SETTINGS",
    "SCHANNEL_CRED",
    "SCH_CREDENTIALS",
    "TLS_PARAMETERS",
    "CertContext",
    "SchannelCredential",
    "TlsPolicy",
    "policy_from",
]
