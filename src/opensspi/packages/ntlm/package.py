"""The NTLM provider: credentials and contexts for the sspi layer (MS-NLMP)."""

from __future__ import annotations

from collections.abc import Mapping

from ...constants import AscReq, CredentialUse, IscReq, SecPkgFlag
from ...errors import InvalidParameter, NoCredentials
from ...provider import (
    DEFAULT_ENVIRONMENT,
    AuthIdentity,
    Credential,
    Environment,
    Impersonation,
    PackageInfo,
    SecurityContext,
    SecurityPackage,
)
from .credentials import (
    NtlmAuthData,
    NtlmCredential,
    NtlmSettings,
    UserDatabase,
    default_identity,
    user_database,
)
from .machine import NtlmContext, check_request

INFO = PackageInfo(
    name="NTLM",
    comment="NTLM Security Package",
    capabilities=(
        SecPkgFlag.INTEGRITY | SecPkgFlag.PRIVACY | SecPkgFlag.TOKEN_ONLY
        | SecPkgFlag.CONNECTION | SecPkgFlag.MULTI_REQUIRED | SecPkgFlag.ACCEPT_WIN32_NAME
        | SecPkgFlag.NEGOTIABLE | SecPkgFlag.LOGON
    ),
    version=1,
    rpcid=10,  # RPC_C_AUTHN_WINNT
    max_token=2888,
)


_OUTBOUND = int(CredentialUse.OUTBOUND)
_INBOUND = int(CredentialUse.INBOUND)
_NULL_SESSION = int(IscReq.NULL_SESSION)


class NtlmPackage(SecurityPackage):
    """``NTLM``: MS-NLMP client and server, NTLMv2 by default."""

    info = INFO
    mech_oid = "1.3.6.1.4.1.311.2.2.10"

    def acquire_credentials(
        self, principal: str | None, use: CredentialUse, auth_data: object | None
    ) -> Credential:
        """Accepted ``auth_data``: None, :class:`AuthIdentity`, :class:`NtlmAuthData`,
        :class:`Impersonation`, or (for INBOUND) a ``{"DOMAIN\\\\user": password}`` mapping or
        an NTLM_USER_FILE path.

        OUTBOUND with no identity takes one from ``NTLM_USER_FILE``
        (:func:`.credentials.default_identity`): the ``principal``'s entry when one is named, the
        impersonated client's under :class:`Impersonation`, else ``NTLM_USER``'s or the login
        name's, else the file's first.
        """
        settings = NtlmSettings()
        identity: AuthIdentity | None = None
        users: UserDatabase | Mapping[str, str] | str | None = None
        if isinstance(auth_data, NtlmAuthData):
            identity, users, settings = auth_data.identity, auth_data.users, auth_data.settings
        elif isinstance(auth_data, AuthIdentity):
            identity = auth_data
        elif isinstance(auth_data, Impersonation):
            identity = default_identity(auth_data.client_name)
        elif isinstance(auth_data, (Mapping, str, UserDatabase)):
            users = auth_data
        elif auth_data is not None:
            raise InvalidParameter(
                f"NTLM cannot use pAuthData of type {type(auth_data).__name__}; pass an "
                "AuthIdentity, a (user, domain, password) tuple or NtlmAuthData."
            )
        why_anonymous = ""
        bits = int(use)
        if identity is None and bits & _OUTBOUND:
            if principal:
                identity = default_identity(principal)
            else:
                try:
                    identity = default_identity(None)
                except NoCredentials as exc:
                    # Still a valid handle: ISC_REQ_NULL_SESSION (anonymous) and, for BOTH, the
                    # acceptor side need no identity; a normal client context reports why.
                    why_anonymous = exc.message
        database = user_database(users) if bits & _INBOUND else None
        credential = NtlmCredential(use, identity, database, settings)
        credential.why_anonymous = why_anonymous
        return credential

    def client_context(
        self, credential: Credential, target: str | None, req: IscReq,
        env: Environment = DEFAULT_ENVIRONMENT,
    ) -> SecurityContext:
        bits = int(req)
        check_request(True, bits)
        assert isinstance(credential, NtlmCredential)
        if credential.anonymous and not bits & _NULL_SESSION:
            raise NoCredentials(
                "This NTLM credential has no user name or password; pass pAuthData, or request "
                "ISC_REQ_NULL_SESSION for an anonymous logon."
                + (f" (No default identity: {credential.why_anonymous})"
                   if credential.why_anonymous else "")
            )
        return NtlmContext(INFO, credential, True, bits, target, env)

    def server_context(
        self, credential: Credential, req: AscReq, env: Environment = DEFAULT_ENVIRONMENT
    ) -> SecurityContext:
        check_request(False, int(req))
        assert isinstance(credential, NtlmCredential)
        return NtlmContext(INFO, credential, False, int(req), None, env)
