"""The Schannel security package: TLS 1.2 and 1.3 through the SSPI functions.

Reference: "Secure Channel" and the Schannel pages of InitializeSecurityContext,
AcceptSecurityContext, EncryptMessage and DecryptMessage in the Windows documentation; RFC 8446,
RFC 5246, RFC 5929, RFC 5705.
"""

from .attributes import (
    ApplicationProtocol,
    CipherInfo,
    ConnectionInfo,
    ContextBindings,
    IssuerListEx,
    KeyingMaterial,
    KeyingMaterialInfo,
    SessionInfo,
)
from .credentials import (
    CRYPTO_SETTINGS,
    SCH_CREDENTIALS,
    SCHANNEL_CRED,
    TLS_PARAMETERS,
    CertContext,
)
from .machine import application_protocols
from .package import SchannelPackage
from .socket import handshake, tls_connect

__all__ = [
    "CRYPTO_SETTINGS",
    "SCHANNEL_CRED",
    "SCH_CREDENTIALS",
    "TLS_PARAMETERS",
    "ApplicationProtocol",
    "CertContext",
    "CipherInfo",
    "ConnectionInfo",
    "ContextBindings",
    "IssuerListEx",
    "KeyingMaterial",
    "KeyingMaterialInfo",
    "SchannelPackage",
    "SessionInfo",
    "application_protocols",
    "handshake",
    "tls_connect",
]
