"""The Schannel provider: ``Schannel`` / ``Microsoft Unified Security Protocol Provider`` /
``Default TLS SSP`` — TLS as a security package (reference schannel.md §C)."""

from __future__ import annotations

from ...constants import UNISP_NAME, UNISP_RPC_ID, AscReq, CredentialUse, IscReq, SecPkgFlag
from ...errors import UnsupportedFunction
from ...provider import (
    DEFAULT_ENVIRONMENT,
    Credential,
    Environment,
    PackageInfo,
    SecurityContext,
    SecurityPackage,
)
from .credentials import SchannelCredential, policy_from
from .machine import SchannelContext

INFO = PackageInfo(
    name=UNISP_NAME,
    comment="Schannel Security Package",
    capabilities=(
        SecPkgFlag.INTEGRITY | SecPkgFlag.PRIVACY | SecPkgFlag.CONNECTION
        | SecPkgFlag.MULTI_REQUIRED | SecPkgFlag.EXTENDED_ERROR | SecPkgFlag.IMPERSONATION
        | SecPkgFlag.ACCEPT_WIN32_NAME | SecPkgFlag.STREAM | SecPkgFlag.MUTUAL_AUTH
    ),
    version=1,
    rpcid=UNISP_RPC_ID,
    max_token=24576,
)

_ISC_UNSUPPORTED = int(IscReq.DATAGRAM | IscReq.USE_DCE_STYLE | IscReq.DELEGATE)
_ASC_UNSUPPORTED = int(AscReq.DATAGRAM | AscReq.USE_DCE_STYLE | AscReq.DELEGATE)


class SchannelPackage(SecurityPackage):
    """TLS 1.2/1.3 client and server over the standard library's ``ssl`` (or pyOpenSSL)."""

    info = INFO

    def acquire_credentials(
        self, principal: str | None, use: CredentialUse, auth_data: object | None
    ) -> Credential:
        """``auth_data``: :class:`SCHANNEL_CRED`, :class:`SCH_CREDENTIALS` or None (a client
        with the system roots and no certificate)."""
        return SchannelCredential(use, policy_from(auth_data, use))

    def client_context(
        self, credential: Credential, target: str | None, req: IscReq,
        env: Environment = DEFAULT_ENVIRONMENT,
    ) -> SecurityContext:
        if int(req) & _ISC_UNSUPPORTED:
            raise UnsupportedFunction(
                "Schannel here is TLS over a stream: ISC_REQ_DATAGRAM (DTLS), USE_DCE_STYLE and "
                "DELEGATE are not supported.")
        assert isinstance(credential, SchannelCredential)
        return SchannelContext(INFO, credential, True, int(req), target or None, env)

    def server_context(
        self, credential: Credential, req: AscReq, env: Environment = DEFAULT_ENVIRONMENT
    ) -> SecurityContext:
        if int(req) & _ASC_UNSUPPORTED:
            raise UnsupportedFunction(
                "Schannel here is TLS over a stream: ASC_REQ_DATAGRAM (DTLS), USE_DCE_STYLE and "
                "DELEGATE are not supported.")
        assert isinstance(credential, SchannelCredential)
        return SchannelContext(INFO, credential, False, int(req), None, env)
