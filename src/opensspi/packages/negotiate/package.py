"""The Negotiate provider: credentials and contexts for the sspi layer (RFC 4178, MS-SPNG).

Negotiate composes the Kerberos and NTLM packages it finds in the registry (``attach``), through
the same provider interface the sspi layer uses; it never imports them.
"""

from __future__ import annotations

from ...constants import AscReq, CredentialUse, IscReq, SecPkgFlag
from ...errors import InternalError, InvalidParameter
from ...provider import (
    DEFAULT_ENVIRONMENT,
    Credential,
    Environment,
    PackageInfo,
    PackageLookup,
    SecurityContext,
    SecurityPackage,
)
from .credentials import NegotiateCredential, acquire
from .machine import NegotiateContext

# What Windows reports for Negotiate (EnumerateSecurityPackages): fCapabilities 0x00083BB3,
# wVersion 1, wRPCID 9 (RPC_C_AUTHN_GSS_NEGOTIATE), cbMaxToken = Kerberos' cbMaxToken + 256
# (48256 with the default 48000; 65791 where MaxTokenSize is 65535). Deviation: Windows 8 and
# later add SECPKG_FLAG_APPCONTAINER_CHECKS (0x800000), left out here: there are no
# AppContainers off Windows.
INFO = PackageInfo(
    name="Negotiate",
    comment="Microsoft Package Negotiator",
    capabilities=(
        SecPkgFlag.INTEGRITY | SecPkgFlag.PRIVACY | SecPkgFlag.CONNECTION
        | SecPkgFlag.MULTI_REQUIRED | SecPkgFlag.EXTENDED_ERROR | SecPkgFlag.IMPERSONATION
        | SecPkgFlag.ACCEPT_WIN32_NAME | SecPkgFlag.NEGOTIABLE | SecPkgFlag.GSS_COMPATIBLE
        | SecPkgFlag.LOGON | SecPkgFlag.RESTRICTED_TOKENS
    ),
    version=1,
    rpcid=9,  # RPC_C_AUTHN_GSS_NEGOTIATE
    max_token=48256,
)


class NegotiatePackage(SecurityPackage):
    """``Negotiate``: SPNEGO choosing Kerberos when it can and NTLM when it must."""

    info = INFO
    mech_oid = "1.3.6.1.5.5.2"

    def __init__(self) -> None:
        self._lookup: PackageLookup | None = None

    def attach(self, lookup: PackageLookup) -> None:
        self._lookup = lookup

    def _package(self, name: str) -> SecurityPackage:
        if self._lookup is None:
            raise InternalError("The Negotiate package was not attached to a registry.")
        return self._lookup(name)

    def acquire_credentials(
        self, principal: str | None, use: CredentialUse, auth_data: object | None
    ) -> Credential:
        """Accepted ``auth_data``: None (the Kerberos ccache or keytab, and for an acceptor
        ``NTLM_USER_FILE``), an :class:`~opensspi.provider.AuthIdentity` (its password serves
        Kerberos and NTLM; its ``package_list`` restricts them) or :class:`NegotiateAuthData`."""
        return acquire(self._package("Kerberos"), self._package("NTLM"), principal, use,
                       auth_data)

    def client_context(
        self, credential: Credential, target: str | None, req: IscReq,
        env: Environment = DEFAULT_ENVIRONMENT,
    ) -> SecurityContext:
        cred = _negotiate_credential(credential, CredentialUse.OUTBOUND)
        return NegotiateContext(INFO, cred, True, int(req), target, env, self._package)

    def server_context(
        self, credential: Credential, req: AscReq, env: Environment = DEFAULT_ENVIRONMENT
    ) -> SecurityContext:
        cred = _negotiate_credential(credential, CredentialUse.INBOUND)
        return NegotiateContext(INFO, cred, False, int(req), None, env, self._package)


def _negotiate_credential(credential: Credential, use: CredentialUse) -> NegotiateCredential:
    if not isinstance(credential, NegotiateCredential):
        raise InvalidParameter(
            f"A Negotiate context needs a Negotiate credential, not {type(credential).__name__}."
        )
    if not int(credential.use) & int(use):  # plain ints: IntFlag's & builds an enum
        raise InvalidParameter(
            f"This credential was acquired for {credential.use!r}, not {use!r}."
        )
    return credential
