"""The Digest security package class: credentials and contexts for both modes and both sides."""

from __future__ import annotations

from ...constants import AscReq, CredentialUse, IscReq, SecPkgFlag
from ...errors import InvalidHandle, NoCredentials
from ...provider import (
    DEFAULT_ENVIRONMENT,
    Credential,
    Environment,
    Impersonation,
    PackageInfo,
    SecurityContext,
    SecurityPackage,
)
from .client import DigestClientContext
from .credentials import DigestCredential, acquire
from .server import DigestServerContext


def _digest_credential(credential: Credential) -> DigestCredential:
    if not isinstance(credential, DigestCredential):
        raise InvalidHandle("The credential handle belongs to another security package.")
    return credential


class DigestPackage(SecurityPackage):
    """The Digest provider: credentials and contexts for both modes and both sides."""

    info = PackageInfo(
        name="WDigest",
        comment="Digest Authentication for Windows",
        capabilities=(
            SecPkgFlag.INTEGRITY | SecPkgFlag.PRIVACY | SecPkgFlag.TOKEN_ONLY
            | SecPkgFlag.CONNECTION | SecPkgFlag.MUTUAL_AUTH
        ),
        version=1,
        rpcid=21,
        max_token=4000,
    )

    def acquire_credentials(
        self, principal: str | None, use: CredentialUse, auth_data: object | None
    ) -> Credential:
        """AcquireCredentialsHandle (Digest); see :func:`.credentials.acquire`."""
        if isinstance(auth_data, Impersonation):
            raise NoCredentials(
                f"Digest cannot act as the impersonated client {auth_data.client_name!r}: a "
                "Digest logon carries no reusable secret; pass explicit credentials."
            )
        return acquire(principal, use, auth_data)

    def client_context(
        self, credential: Credential, target: str | None, req: IscReq,
        env: Environment = DEFAULT_ENVIRONMENT,
    ) -> SecurityContext:
        """InitializeSecurityContext (Digest): a new initiator context."""
        if type(credential) is not DigestCredential:  # the exact class needs no ABC check
            credential = _digest_credential(credential)
        return DigestClientContext(self.info, credential, target, req, env)

    def server_context(
        self, credential: Credential, req: AscReq, env: Environment = DEFAULT_ENVIRONMENT
    ) -> SecurityContext:
        """AcceptSecurityContext (Digest): a new acceptor context."""
        return DigestServerContext(self.info, _digest_credential(credential), req, env)
