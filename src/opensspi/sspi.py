"""The Windows SSPI functions, with Windows names, parameter order and meaning.

Reference: "SSPI Functions" in the Windows documentation (learn.microsoft.com,
``/windows/win32/secauthn/authentication-functions``). Differences forced by Python:

- Out parameters that Windows fills through pointers are filled in place when they are
  objects (``phNewContext``, ``pOutput``, ``phCredential``) and *returned* when they are scalars
  (``pfContextAttr``, ``ptsExpiry``, ``pfQOP``): each function returns a small result tuple whose
  first member is the success status (``SEC_E_OK``, ``SEC_I_CONTINUE_NEEDED``...).
- Failures raise :class:`~opensspi.errors.SspiError` with ``.status`` = the ``SEC_E_*`` value.
- ``Reserved1``/``Reserved2``/``TargetDataRep`` are accepted and ignored, as Windows does for
  every package but the DCE ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from . import impersonation, registry
from .attributes import (
    CredentialNames,
    Flags,
    Lifespan,
    Names,
    NativeNames,
    NegotiationInfo,
    SessionKey,
)
from .buffers import ChannelBindings, SecBuffer, SecBufferDesc
from .constants import (
    AscReq,
    AscRet,
    CredentialUse,
    IscReq,
    IscRet,
    SecBufferType,
    SecPkgAttr,
    SecPkgCredAttr,
    SecStatus,
)
from .errors import (
    ContextExpired,
    InvalidParameter,
    InvalidToken,
    NoCredentials,
    NoImpersonation,
    SspiError,
    UnsupportedFunction,
)
from .handles import CredHandle, CredRecord, CtxtHandle, CtxtRecord, cred_record, ctxt_record
from .protection import decrypt_message, encrypt_message, make_signature, verify_signature
from .provider import (
    DEFAULT_ENVIRONMENT,
    Environment,
    Impersonation,
    PackageInfo,
    SecurityContext,
    Step,
    StepInput,
)
from .transport import send_to_kdc

__all__ = [
    "AcceptSecurityContext",
    "AcquireCredentialsHandle",
    "ApplyControlToken",
    "CompleteAuthToken",
    "CredHandle",
    "CtxtHandle",
    "DecryptMessage",
    "DeleteSecurityContext",
    "EncryptMessage",
    "EnumerateSecurityPackages",
    "FreeContextBuffer",
    "FreeCredentialsHandle",
    "ImpersonateSecurityContext",
    "InitializeSecurityContext",
    "MakeSignature",
    "QueryContextAttributes",
    "QueryCredentialsAttributes",
    "QuerySecurityPackageInfo",
    "RevertSecurityContext",
    "SecBuffer",
    "SecBufferDesc",
    "VerifySignature",
]


class AcquireResult(NamedTuple):
    status: SecStatus
    credential: CredHandle
    expiry: datetime | None


class IscResult(NamedTuple):
    status: SecStatus
    context_attr: IscRet
    expiry: datetime | None


class AscResult(NamedTuple):
    status: SecStatus
    context_attr: AscRet
    expiry: datetime | None


class QopResult(NamedTuple):
    status: SecStatus
    qop: int


_HANDSHAKE_STATUSES = frozenset(
    {
        SecStatus.SEC_E_OK,
        SecStatus.SEC_I_CONTINUE_NEEDED,
        SecStatus.SEC_I_COMPLETE_NEEDED,
        SecStatus.SEC_I_COMPLETE_AND_CONTINUE,
        SecStatus.SEC_I_INCOMPLETE_CREDENTIALS,
        SecStatus.SEC_E_INCOMPLETE_MESSAGE,
    }
)


# -- packages -------------------------------------------------------------------------------


def EnumerateSecurityPackages() -> list[PackageInfo]:  # noqa: N802
    """The installed packages' ``SecPkgInfo``, in registration order."""
    return [registry.get(name).info for name in registry.names()]


def QuerySecurityPackageInfo(pszPackageName: str) -> PackageInfo:  # noqa: N802, N803
    """``SecPkgInfo`` of one package; ``SEC_E_SECPKG_NOT_FOUND`` for an unknown name."""
    return registry.get(pszPackageName).info


# -- credentials ----------------------------------------------------------------------------


def AcquireCredentialsHandle(  # noqa: N802
    pszPrincipal: str | None,  # noqa: N803
    pszPackage: str,  # noqa: N803
    fCredentialUse: int,  # noqa: N803
    pvLogonId: object = None,  # noqa: N803
    pAuthData: object = None,  # noqa: N803
    pGetKeyFn: object = None,  # noqa: N803
    pvGetKeyArgument: object = None,  # noqa: N803
    phCredential: CredHandle | None = None,  # noqa: N803
) -> AcquireResult:
    """Acquire credentials of ``pszPackage`` for ``fCredentialUse`` (INBOUND/OUTBOUND/BOTH).

    ``pAuthData`` is an :class:`~opensspi.provider.AuthIdentity`, a ``(user, domain, password)``
    tuple as pywin32 accepts, or a package-specific object; None means the current user's
    default credentials — or, while the calling thread impersonates a client
    (:func:`ImpersonateSecurityContext`), that client's (see :mod:`opensspi.impersonation`).
    """
    if pvLogonId is not None:
        raise UnsupportedFunction(
            "pvLogonId (another logon session) is a Windows-only concept; pass None."
        )
    if pGetKeyFn is not None:
        raise UnsupportedFunction("pGetKeyFn is not supported by any package; pass None.")
    try:
        use = CredentialUse(int(fCredentialUse))
    except ValueError:
        raise InvalidParameter(
            f"fCredentialUse {fCredentialUse!r} is not a SECPKG_CRED_* value."
        ) from None
    if not use & CredentialUse.BOTH:
        raise InvalidParameter(
            "fCredentialUse must include SECPKG_CRED_INBOUND and/or SECPKG_CRED_OUTBOUND."
        )
    package = registry.get(pszPackage)
    data = impersonation.default_auth_data(pszPrincipal, use, _auth_data(pAuthData))
    credential = package.acquire_credentials(pszPrincipal, use, data)
    handle = phCredential if phCredential is not None else CredHandle()
    handle._record = CredRecord(package, credential, use)
    return AcquireResult(SecStatus.SEC_E_OK, handle, credential.expiry)


def _auth_data(data: object) -> object:
    """Turn pywin32's ``(user, domain, password)`` tuple into an AuthIdentity."""
    if isinstance(data, tuple):
        from .provider import AuthIdentity

        if len(data) != 3:
            raise InvalidParameter("pAuthData as a tuple must be (user, domain, password).")
        user, domain, password = data
        return AuthIdentity(user or None, domain or None, password)
    return data


def FreeCredentialsHandle(phCredential: CredHandle) -> SecStatus:  # noqa: N802, N803
    """Release a credential handle; using it afterwards gives ``SEC_E_INVALID_HANDLE``."""
    cred_record(phCredential)
    phCredential._record = None
    return SecStatus.SEC_E_OK


def QueryCredentialsAttributes(  # noqa: N802
    phCredential: CredHandle,  # noqa: N803
    ulAttribute: int,  # noqa: N803
) -> object:
    """Attributes of a credential handle; ``SECPKG_CRED_ATTR_NAMES`` for every package."""
    record = cred_record(phCredential)
    if ulAttribute == SecPkgCredAttr.NAMES:
        return CredentialNames(record.credential.principal_name)
    raise UnsupportedFunction(
        f"Credential attribute {ulAttribute} is not supported by {record.package.info.name}."
    )


# -- contexts -------------------------------------------------------------------------------


def _step_input(pInput: SecBufferDesc | None) -> StepInput:  # noqa: N803
    if pInput is None:
        return StepInput()
    token: bytes | None = None
    bindings: ChannelBindings | None = None
    params: list[bytes] = []
    for buf in pInput:
        kind = buf.kind
        if kind == SecBufferType.TOKEN and token is None:
            token = buf.buffer
        elif kind == SecBufferType.CHANNEL_BINDINGS:
            bindings = ChannelBindings.unpack(buf.buffer)
        elif kind == SecBufferType.PKG_PARAMS:
            params.append(buf.buffer)
    return StepInput(token=token, channel_bindings=bindings, params=tuple(params))


def _deliver(
    step: Step, pInput: SecBufferDesc | None, pOutput: SecBufferDesc | None, allocate: bool  # noqa: N803
) -> None:
    """Put a step's token into the output TOKEN buffer and EXTRA/MISSING into the input."""
    if step.token or (pOutput is not None and pOutput.first(SecBufferType.TOKEN) is not None):
        out = pOutput.first(SecBufferType.TOKEN) if pOutput is not None else None
        if out is None:
            raise InvalidToken(
                "The package produced a token but pOutput has no SECBUFFER_TOKEN buffer to "
                "hold it; pass SecBufferDesc([SecBuffer(SECBUFFER_TOKEN, cbMaxToken)])."
            )
        out.fill(step.token, allocate)
    if pInput is not None and (step.extra or step.missing):
        spare = pInput.first(SecBufferType.EMPTY)
        if spare is not None:
            if step.extra:
                spare.BufferType = SecBufferType.EXTRA
                spare.buffer = b"\0" * step.extra
            else:
                spare.BufferType = SecBufferType.MISSING
                spare.buffer = b"\0" * step.missing


def drive(context: SecurityContext, inp: StepInput) -> Step:
    """Step ``context``, delivering every KDC request it makes with the blocking transport."""
    step = context.step(inp)
    while step.kdc_request is not None:
        req = step.kdc_request
        reply = send_to_kdc(
            req.data, req.kdcs, timeout=req.timeout, max_retries=req.max_retries,
            udp_preference_limit=req.udp_preference_limit, realm=req.realm,
        )
        step = context.step(StepInput(kdc_reply=reply))
    return step


def _run_step(
    record: CtxtRecord, pInput: SecBufferDesc | None, pOutput: SecBufferDesc | None,  # noqa: N803
    allocate: bool,
) -> Step:
    step = drive(record.context, _step_input(pInput))
    if step.status not in _HANDSHAKE_STATUSES:
        raise SspiError(f"The package returned an unexpected status {step.status.name}.")
    try:
        _deliver(step, pInput, pOutput, allocate)
    except SspiError:
        # The package has moved on but its token never reached the caller: the peer can no
        # longer follow, so the context must not look usable (or complete) afterwards.
        record.dead = True
        raise
    return step


def _live(record: CtxtRecord) -> CtxtRecord:
    """``record`` unless an earlier call left it dead (see :func:`_run_step`)."""
    if record.dead:
        raise ContextExpired(
            "An earlier call on this context failed after the handshake had moved on (its "
            "output buffer could not take the token); delete the context and start a new one."
        )
    return record


def InitializeSecurityContext(  # noqa: N802
    phCredential: CredHandle | None,  # noqa: N803
    phContext: CtxtHandle | None,  # noqa: N803
    pszTargetName: str | None,  # noqa: N803
    fContextReq: int,  # noqa: N803
    Reserved1: int = 0,  # noqa: N803
    TargetDataRep: int = 0,  # noqa: N803
    pInput: SecBufferDesc | None = None,  # noqa: N803
    Reserved2: int = 0,  # noqa: N803
    phNewContext: CtxtHandle | None = None,  # noqa: N803
    pOutput: SecBufferDesc | None = None,  # noqa: N803
    env: Environment = DEFAULT_ENVIRONMENT,
) -> IscResult:
    """The client's side of a handshake: call until it no longer returns CONTINUE_NEEDED.

    On the first call ``phContext`` is None and the new context arrives in ``phNewContext``.
    Later calls pass the same handle as ``phContext`` with the server's token in ``pInput``.
    A call on a complete context with no input token starts a re-authentication.
    """
    req = IscReq(int(fContextReq))
    allocate = bool(req & IscReq.ALLOCATE_MEMORY)
    if phContext is None:
        if phCredential is None:
            raise NoCredentials("The first InitializeSecurityContext call needs phCredential.")
        cred = cred_record(phCredential)
        if not cred.use & CredentialUse.OUTBOUND:
            raise NoCredentials(
                "The credential handle was acquired for SECPKG_CRED_INBOUND only; acquire it "
                "with SECPKG_CRED_OUTBOUND (or BOTH) to initiate."
            )
        context = cred.package.client_context(cred.credential, pszTargetName, req, env)
        handle = phNewContext if phNewContext is not None else CtxtHandle()
        record = CtxtRecord(cred, context, pszTargetName, int(req))
        with record.lock:
            step = _run_step(record, pInput, pOutput, allocate)
            handle._record = record
            return IscResult(step.status, _isc_attrs(record, allocate), context.expiry)
    record = ctxt_record(phContext)
    with record.lock:
        _live(record)
        if phNewContext is not None and phNewContext is not phContext:
            phNewContext._record = record
        if record.context.complete and not _has_token(pInput):
            # "a call after completion starts a re-authentication" (ISC docs, phContext).
            record.context = record.cred.package.client_context(
                record.cred.credential, pszTargetName or record.target, req, env
            )
        step = _run_step(record, pInput, pOutput, allocate)
        return IscResult(step.status, _isc_attrs(record, allocate), record.context.expiry)


def _has_token(desc: SecBufferDesc | None) -> bool:
    if desc is None:
        return False
    buf = desc.first(SecBufferType.TOKEN)
    return buf is not None and bool(buf.buffer)


def _isc_attrs(record: CtxtRecord, allocate: bool) -> IscRet:
    attrs = IscRet(record.context.flags)
    return attrs | IscRet.ALLOCATED_MEMORY if allocate else attrs


def AcceptSecurityContext(  # noqa: N802
    phCredential: CredHandle | None,  # noqa: N803
    phContext: CtxtHandle | None,  # noqa: N803
    pInput: SecBufferDesc | None,  # noqa: N803
    fContextReq: int,  # noqa: N803
    TargetDataRep: int = 0,  # noqa: N803
    phNewContext: CtxtHandle | None = None,  # noqa: N803
    pOutput: SecBufferDesc | None = None,  # noqa: N803
    env: Environment = DEFAULT_ENVIRONMENT,
) -> AscResult:
    """The server's side of a handshake: feed each client token until ``SEC_E_OK``."""
    req = AscReq(int(fContextReq))
    allocate = bool(req & AscReq.ALLOCATE_MEMORY)
    if phContext is None:
        if phCredential is None:
            raise NoCredentials("The first AcceptSecurityContext call needs phCredential.")
        cred = cred_record(phCredential)
        if not cred.use & CredentialUse.INBOUND:
            raise NoCredentials(
                "The credential handle was acquired for SECPKG_CRED_OUTBOUND only; acquire it "
                "with SECPKG_CRED_INBOUND (or BOTH) to accept."
            )
        context = cred.package.server_context(cred.credential, req, env)
        handle = phNewContext if phNewContext is not None else CtxtHandle()
        record = CtxtRecord(cred, context, None, int(req))
        with record.lock:
            step = _run_step(record, pInput, pOutput, allocate)
            handle._record = record
            return AscResult(step.status, _asc_attrs(record, allocate), context.expiry)
    record = ctxt_record(phContext)
    with record.lock:
        _live(record)
        if phNewContext is not None and phNewContext is not phContext:
            phNewContext._record = record
        step = _run_step(record, pInput, pOutput, allocate)
        return AscResult(step.status, _asc_attrs(record, allocate), record.context.expiry)


def _asc_attrs(record: CtxtRecord, allocate: bool) -> AscRet:
    attrs = AscRet(record.context.flags)
    return attrs | AscRet.ALLOCATED_MEMORY if allocate else attrs


def CompleteAuthToken(phContext: CtxtHandle, pToken: SecBufferDesc) -> SecStatus:  # noqa: N802, N803
    """Finish a token after ``SEC_I_COMPLETE_NEEDED`` (Digest); other packages need no call."""
    record = ctxt_record(phContext)
    with record.lock:
        _live(record)
        params = tuple(b.buffer for b in pToken if b.kind == SecBufferType.PKG_PARAMS)
        record.context.complete_auth_token(params)
    return SecStatus.SEC_E_OK


def DeleteSecurityContext(phContext: CtxtHandle) -> SecStatus:  # noqa: N802, N803
    """Delete a context; its handle then gives ``SEC_E_INVALID_HANDLE``."""
    record = ctxt_record(phContext)
    with record.lock:
        phContext._record = None
    return SecStatus.SEC_E_OK


def FreeContextBuffer(pvContextBuffer: SecBuffer | SecBufferDesc) -> SecStatus:  # noqa: N802, N803
    """Release memory the package allocated (``*_REQ_ALLOCATE_MEMORY``).

    Python frees memory itself; this empties the buffers so stale tokens are not reused.
    """
    buffers = pvContextBuffer if isinstance(pvContextBuffer, SecBufferDesc) else [pvContextBuffer]
    for buf in buffers:
        if buf.allocated:
            buf.buffer = b""
            buf.allocated = False
    return SecStatus.SEC_E_OK


def ApplyControlToken(phContext: CtxtHandle, pInput: SecBufferDesc) -> SecStatus:  # noqa: N802, N803
    """Give the package a control token (Schannel shutdown, alerts)."""
    record = ctxt_record(phContext)
    buf = pInput.first(SecBufferType.TOKEN)
    if buf is None:
        raise InvalidToken("ApplyControlToken needs a SECBUFFER_TOKEN input buffer.")
    with record.lock:
        _live(record).context.apply_control_token(buf.buffer)
    return SecStatus.SEC_E_OK


def QueryContextAttributes(phContext: CtxtHandle, ulAttribute: int) -> object:  # noqa: N802, N803
    """One attribute of a context, as the ``SecPkgContext_*`` structure Windows returns.

    SIZES, NAMES, NATIVE_NAMES, LIFESPAN, SESSION_KEY, PACKAGE_INFO, NEGOTIATION_INFO and FLAGS
    are answered for every package; others are the package's own.
    """
    record = ctxt_record(phContext)
    with record.lock:
        ctx = _live(record).context
        if ulAttribute == SecPkgAttr.SIZES:
            return ctx.sizes()
        if ulAttribute == SecPkgAttr.PACKAGE_INFO:
            return ctx.info
        if ulAttribute == SecPkgAttr.FLAGS:
            return Flags(ctx.flags)
        if ulAttribute == SecPkgAttr.NEGOTIATION_INFO:
            return NegotiationInfo(ctx.info, ctx.negotiation_state)
        if ulAttribute == SecPkgAttr.LIFESPAN:
            return Lifespan(None, ctx.expiry)
        if ulAttribute in (SecPkgAttr.NAMES, SecPkgAttr.NATIVE_NAMES, SecPkgAttr.SESSION_KEY):
            if not ctx.complete:
                raise UnsupportedFunction(
                    f"{SecPkgAttr(ulAttribute).name} is available only once the handshake has "
                    "completed."
                )
            if ulAttribute == SecPkgAttr.NAMES:
                return Names(ctx.client_name or "")
            if ulAttribute == SecPkgAttr.NATIVE_NAMES:
                return NativeNames(ctx.client_name or "", ctx.server_name or "")
            key = ctx.session_key
            if key is None:
                raise UnsupportedFunction(f"The {ctx.info.name} context has no session key.")
            return SessionKey(key)
        return ctx.query_extra(ulAttribute)


def ImpersonateSecurityContext(phContext: CtxtHandle) -> SecStatus:  # noqa: N802, N803
    """Act as the context's client on the calling thread, until RevertSecurityContext.

    POSIX meaning (see :mod:`opensspi.impersonation` for the limits): OUTBOUND credentials
    acquired on this thread with no principal and no ``pAuthData`` are the client's — its
    delegated Kerberos credential when it delegated one. The process's own identity does not
    change.

    Raises:
        NoImpersonation: ``phContext`` is a client context, or its handshake is not complete.
    """
    record = ctxt_record(phContext)
    with record.lock:
        ctx = _live(record).context
        if ctx.is_client or not ctx.complete or not ctx.client_name:
            raise NoImpersonation(
                "Only a complete server (AcceptSecurityContext) context with an authenticated "
                "client can be impersonated."
            )
        impersonation.impersonate(
            Impersonation(ctx.client_name, ctx.info.name, ctx.delegated_credential)
        )
    return SecStatus.SEC_E_OK


def RevertSecurityContext(phContext: CtxtHandle) -> SecStatus:  # noqa: N802, N803
    """End the calling thread's impersonation (a no-op when it impersonates nobody)."""
    ctxt_record(phContext)
    impersonation.revert()
    return SecStatus.SEC_E_OK


# -- message protection ---------------------------------------------------------------------


def _complete_record(phContext: CtxtHandle) -> CtxtRecord:  # noqa: N803
    record = _live(ctxt_record(phContext))
    if not record.context.complete:
        raise UnsupportedFunction(
            "The handshake has not completed; message functions work only after the last "
            "Initialize/AcceptSecurityContext call returned SEC_E_OK."
        )
    return record


def MakeSignature(  # noqa: N802
    phContext: CtxtHandle, fQOP: int, pMessage: SecBufferDesc, MessageSeqNo: int  # noqa: N803
) -> SecStatus:
    """Sign the DATA buffers of ``pMessage`` into its TOKEN buffer."""
    record = _complete_record(phContext)
    with record.lock:
        make_signature(record.context, fQOP, pMessage, MessageSeqNo)
    return SecStatus.SEC_E_OK


def VerifySignature(  # noqa: N802
    phContext: CtxtHandle, pMessage: SecBufferDesc, MessageSeqNo: int  # noqa: N803
) -> QopResult:
    """Check the signature in ``pMessage``; raises ``SEC_E_MESSAGE_ALTERED`` on mismatch."""
    record = _complete_record(phContext)
    with record.lock:
        qop = verify_signature(record.context, pMessage, MessageSeqNo)
    return QopResult(SecStatus.SEC_E_OK, qop)


def EncryptMessage(  # noqa: N802
    phContext: CtxtHandle, fQOP: int, pMessage: SecBufferDesc, MessageSeqNo: int  # noqa: N803
) -> SecStatus:
    """Seal the DATA buffers in place and write the security token (and padding)."""
    record = _complete_record(phContext)
    with record.lock:
        encrypt_message(record.context, fQOP, pMessage, MessageSeqNo)
    return SecStatus.SEC_E_OK


def DecryptMessage(  # noqa: N802
    phContext: CtxtHandle, pMessage: SecBufferDesc, MessageSeqNo: int  # noqa: N803
) -> QopResult:
    """Unseal in place (TOKEN+DATA or STREAM+DATA); returns the QOP that was applied."""
    record = _complete_record(phContext)
    with record.lock:
        qop = decrypt_message(record.context, pMessage, MessageSeqNo)
    return QopResult(SecStatus.SEC_E_OK, qop)


def package_names() -> Sequence[str]:
    """The installed packages' names."""
    return registry.names()
