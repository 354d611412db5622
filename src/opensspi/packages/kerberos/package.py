"""The Kerberos provider: credentials and contexts for the sspi layer (RFC 4120, RFC 4121,
MS-KILE)."""

from __future__ import annotations

from ...constants import AscReq, CredentialUse, IscReq, SecPkgFlag
from ...errors import NoCredentials, UnsupportedFunction
from ...provider import (
    DEFAULT_ENVIRONMENT,
    Credential,
    Environment,
    Impersonation,
    PackageInfo,
    SecurityContext,
    SecurityPackage,
)
from .credentials import KerberosCredential, acquire_credentials, known_unresolvable
from .machine import MAX_TOKEN, KerberosContext

INFO = PackageInfo(
    name="Kerberos",
    comment="Microsoft Kerberos V1.0",
    capabilities=(
        SecPkgFlag.INTEGRITY | SecPkgFlag.PRIVACY | SecPkgFlag.TOKEN_ONLY
        | SecPkgFlag.CONNECTION | SecPkgFlag.MULTI_REQUIRED | SecPkgFlag.EXTENDED_ERROR
        | SecPkgFlag.ACCEPT_WIN32_NAME | SecPkgFlag.NEGOTIABLE | SecPkgFlag.GSS_COMPATIBLE
        | SecPkgFlag.LOGON | SecPkgFlag.MUTUAL_AUTH | SecPkgFlag.DELEGATION
        | SecPkgFlag.READONLY_WITH_CHECKSUM
    ),
    version=1,
    rpcid=16,  # RPC_C_AUTHN_GSS_KERBEROS
    max_token=MAX_TOKEN,
)

# Requests this package cannot honour fail at once instead of being silently dropped.
_ISC_UNSUPPORTED = (
    IscReq.DATAGRAM | IscReq.USE_HTTP_STYLE | IscReq.PROMPT_FOR_CREDS | IscReq.NULL_SESSION
)
_ASC_UNSUPPORTED = AscReq.DATAGRAM
_ISC_UNSUPPORTED_BITS = int(_ISC_UNSUPPORTED)  # plain ints: checked on every new context
_ASC_UNSUPPORTED_BITS = int(_ASC_UNSUPPORTED)


class KerberosPackage(SecurityPackage):
    """``Kerberos``: native AS/TGS exchanges, AP exchange (user-to-user with
    ``ISC_REQ_USE_SESSION_KEY``), RFC 4121 message protection with sign-only buffers."""

    info = INFO
    mech_oid = "1.2.840.113554.1.2.2"

    def acquire_credentials(
        self, principal: str | None, use: CredentialUse, auth_data: object | None
    ) -> Credential:
        """See :mod:`.credentials`. Under :class:`Impersonation` (a thread acting as an
        authenticated client) the credential is the one the client delegated."""
        if isinstance(auth_data, Impersonation):
            delegated = auth_data.delegated
            if isinstance(delegated, KerberosCredential) and use == CredentialUse.OUTBOUND:
                return delegated
            raise NoCredentials(
                f"The impersonated client {auth_data.client_name!r} delegated no Kerberos "
                "credential, so there is nothing to act as it with (the double-hop rule); ask "
                "the client for delegation (ISC_REQ_DELEGATE) or pass explicit credentials."
            )
        return acquire_credentials(principal, use, auth_data, DEFAULT_ENVIRONMENT)

    def known_unresolvable(self, target: str, auth_data: object | None) -> str | None:
        """See :func:`.credentials.known_unresolvable` (Negotiate asks before acquiring)."""
        if isinstance(auth_data, Impersonation):
            return None
        return known_unresolvable(target, auth_data)

    def client_context(
        self, credential: Credential, target: str | None, req: IscReq,
        env: Environment = DEFAULT_ENVIRONMENT,
    ) -> SecurityContext:
        bad = int(req) & _ISC_UNSUPPORTED_BITS
        if bad:
            raise UnsupportedFunction(
                f"Kerberos cannot provide {IscReq(bad)!r} here; remove it from fContextReq."
            )
        return KerberosContext(INFO, credential, True, int(req), target, env)

    def server_context(
        self, credential: Credential, req: AscReq, env: Environment = DEFAULT_ENVIRONMENT
    ) -> SecurityContext:
        bad = int(req) & _ASC_UNSUPPORTED_BITS
        if bad:
            raise UnsupportedFunction(
                f"Kerberos cannot provide {AscReq(bad)!r} here; remove it from fContextReq."
            )
        return KerberosContext(INFO, credential, False, int(req), None, env)
