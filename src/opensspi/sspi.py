"""The Windows SSPI functions, with Windows names, parameter order and meaning.

Reference: "SSPI Functions" in the Windows documentation (learn.microsoft.com,
``/windows/win32/secauthn/authentication-functions``). Differences forced by Python:

- Out parameters that Windows fills through pointers are filled in place when they are
  objects (``phNewContext``, ``pOutput``, ``phCredential``) and *returned* when they are scalars
  (``pfContextAttr``, ``ptsExpiry``, ``pfQOP``): each function returns a small result tuple whose
  first member is the success status (``SEC_E_OK``, ``SEC_I_CONTINUE_NEEDED``...).
- Failures raise :class:`~opensspi.errors.SspiError` with ``.status`` = the ``SEC_E_*`` value —
  and nothing else: every function here is an error boundary (a parser failure becomes
  ``SEC_E_INVALID_TOKEN``, a bug ``SEC_E_INTERNAL_ERROR`` with the original chained). The one
  status below zero that is *returned* is ``SEC_E_INCOMPLETE_MESSAGE``, after SECBUFFER_MISSING was
  filled in place, because Windows' stream loops read more bytes on it rather than fail.
- When a failing call still owes the peer a token (a TLS alert, a KRB-ERROR, an SPNEGO reject),
  the token is written to the output buffer before the error is raised, as Windows does with
  ``ISC_REQ_EXTENDED_ERROR``; the error's ``.token`` carries it too.
- ``Reserved1``/``Reserved2``/``TargetDataRep`` are accepted and ignored, as Windows does for
  every package but the DCE ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from . import impersonation, logs, registry
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
    flag_memo,
)
from .errors import (
    ContextExpired,
    InternalError,
    InvalidParameter,
    InvalidToken,
    NoCredentials,
    NoImpersonation,
    SspiError,
    UnsupportedFunction,
    boundary_error,
)
from .handles import CredHandle, CredRecord, CtxtHandle, CtxtRecord, cred_record, ctxt_record
from .message import MessageOp
from .protection import door_for, fill_extra_missing, protect
from .provider import (
    DEFAULT_ENVIRONMENT,
    AuthIdentity,
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
    "SetContextAttributes",
    "VerifySignature",
]


_new_tuple = tuple.__new__
"""Builds a NamedTuple from a complete tuple without its generated ``__new__`` (a Python
frame with keyword handling): the entry points make one per call."""


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


# Plain ints and memos for the handshake entry points: IntFlag arithmetic builds an enum per
# operation, and callers pass the same few request values on every call.
_BOTH = int(CredentialUse.BOTH)
_OUTBOUND = int(CredentialUse.OUTBOUND)
_USE_OUTBOUND = CredentialUse.OUTBOUND
_USE_INBOUND = CredentialUse.INBOUND
_CREDENTIAL_USES: dict[int, CredentialUse] = {int(u): u for u in CredentialUse}
_ISC_ALLOCATE = int(IscReq.ALLOCATE_MEMORY)
_ASC_ALLOCATE = int(AscReq.ALLOCATE_MEMORY)
_ISC_RET_ALLOCATED = int(IscRet.ALLOCATED_MEMORY)
_ASC_RET_ALLOCATED = int(AscRet.ALLOCATED_MEMORY)
_isc_req = flag_memo(IscReq)
_asc_req = flag_memo(AscReq)
_isc_ret = flag_memo(IscRet)
_asc_ret = flag_memo(AscRet)


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
    use = _CREDENTIAL_USES.get(fCredentialUse)
    if use is None:
        try:
            use = CredentialUse(int(fCredentialUse))
        except ValueError:
            raise InvalidParameter(
                f"fCredentialUse {fCredentialUse!r} is not a SECPKG_CRED_* value."
            ) from None
    bits = int(use)  # plain ints: IntFlag arithmetic builds an enum per operation
    if not bits & _BOTH:
        raise InvalidParameter(
            "fCredentialUse must include SECPKG_CRED_INBOUND and/or SECPKG_CRED_OUTBOUND."
        )
    package = registry.get(pszPackage)
    data = _auth_data(pAuthData)
    if data is None and pszPrincipal is None and bits & _OUTBOUND:
        # impersonation.default_auth_data: the impersonated client is the default identity
        client = impersonation.current()
        if client is not None:
            data = client
    credential = package.acquire_credentials(pszPrincipal, use, data)
    handle = phCredential if phCredential is not None else CredHandle()
    handle._record = CredRecord(package, credential, use)
    return _new_tuple(AcquireResult, (_SEC_E_OK, handle, credential.expiry))


def _auth_data(data: object) -> object:
    """Turn pywin32's ``(user, domain, password)`` tuple into an AuthIdentity."""
    if isinstance(data, tuple):
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


_TOKEN = int(SecBufferType.TOKEN)
_EMPTY = int(SecBufferType.EMPTY)
_CHANNEL_BINDINGS = int(SecBufferType.CHANNEL_BINDINGS)
_PKG_PARAMS = int(SecBufferType.PKG_PARAMS)


def _step_input(pInput: SecBufferDesc | None, request: int | None = None) -> StepInput:  # noqa: N803
    if pInput is None:
        return _new_tuple(StepInput, (None, None, (), None, (), request))
    count = len(pInput)
    if (count == 2 and pInput[1].BufferType == _EMPTY and pInput[0].BufferType == _TOKEN) or (
            count == 1 and pInput[0].BufferType == _TOKEN):
        # The shapes of nearly every call: the peer's token, with an EMPTY for EXTRA/MISSING
        # or alone (pywin32's helpers pass the other side's output descriptor as it is).
        return _new_tuple(StepInput, (pInput[0].buffer, None, (), None, (), request))
    token: bytes | None = None
    bindings: ChannelBindings | None = None
    params: list[bytes] = []
    others: list[tuple[int, bytes]] = []
    for buf in pInput:
        kind = buf.kind
        if kind == _TOKEN and token is None:
            token = buf.buffer
        elif kind == _CHANNEL_BINDINGS:
            bindings = ChannelBindings.parse(buf.buffer)
        elif kind == _PKG_PARAMS:
            params.append(buf.buffer)
        elif kind != _EMPTY and kind != _TOKEN:
            others.append((kind, buf.buffer))
    return StepInput(token=token, channel_bindings=bindings, params=tuple(params),
                     buffers=tuple(others), request=request)


def _deliver(
    step: Step, pInput: SecBufferDesc | None, pOutput: SecBufferDesc | None, allocate: bool  # noqa: N803
) -> None:
    """Put a step's token (and further outputs, e.g. an ALERT) into the output buffers, and
    EXTRA (the real trailing bytes) or MISSING (the count) into an EMPTY input buffer."""
    if pOutput is None:
        out = None
    elif len(pOutput) == 1 and pOutput[0].BufferType == _TOKEN:
        out = pOutput[0]  # the usual single TOKEN buffer, without a search
    else:
        out = pOutput.first(_TOKEN)
    if out is not None:
        out.fill(step.token, allocate)
    elif step.token:
        _put(pOutput, _TOKEN, step.token, allocate)  # raises: nowhere to put it
    if step.outputs:
        for buffer_type, data in step.outputs:
            _put(pOutput, buffer_type, data, allocate)
    if pInput is not None and (step.extra or step.missing):
        fill_extra_missing(pInput, step.extra, step.missing)


def _put(pOutput: SecBufferDesc | None, buffer_type: int, data: bytes, allocate: bool) -> None:  # noqa: N803
    out = pOutput.first(buffer_type) if pOutput is not None else None
    if out is None:
        name = SecBufferType(buffer_type).name
        raise InvalidToken(
            f"The package produced a {name} buffer but pOutput has no SECBUFFER_{name} buffer "
            f"to hold it; add SecBuffer(SECBUFFER_{name}, size) to pOutput."
        )
    out.fill(data, allocate)


def _deliver_failure(err: SspiError, pOutput: SecBufferDesc | None, allocate: bool) -> None:  # noqa: N803
    """Hand the caller the token a failing call still owes the peer, where it has room."""
    if not err.token or pOutput is None:
        return
    out = pOutput.first(err.token_type) or pOutput.first(SecBufferType.TOKEN)
    if out is not None and (allocate or out.capacity >= len(err.token)):
        out.fill(err.token, allocate)


@logs.handshake_logged
def drive(context: SecurityContext, inp: StepInput) -> Step:
    """Step ``context``, delivering every KDC request it makes with the blocking transport."""
    step = context.step(inp)
    return step if step.kdc_request is None else kdc_exchanges(context, step)


def kdc_exchanges(context: SecurityContext, step: Step) -> Step:
    """Deliver the KDC request ``step`` makes, and those of the legs after it, blocking, until
    a leg makes none (the Pythonic ``Context.step`` calls this too, only when a leg asks)."""
    while step.kdc_request is not None:
        req = step.kdc_request
        try:
            reply = send_to_kdc(
                req.data, req.kdcs, timeout=req.timeout, max_retries=req.max_retries,
                udp_preference_limit=req.udp_preference_limit, realm=req.realm,
            )
        except SspiError as exc:
            # No KDC answered: the context decides (Kerberos fails, Negotiate offers NTLM).
            step = context.kdc_failed(exc)
            continue
        step = context.step(StepInput(kdc_reply=reply))
    return step


def _run_step(
    record: CtxtRecord, pInput: SecBufferDesc | None, pOutput: SecBufferDesc | None,  # noqa: N803
    allocate: bool, request: int | None = None,
) -> Step:
    context = record.context
    try:
        step = drive(context, _step_input(pInput, request))
    except Exception as exc:
        err = _fail(record, exc, f"{context.info.name} token")
        _deliver_failure(err, pOutput, allocate)
        raise err  # noqa: B904 - boundary_error chains exc
    if step.status not in _HANDSHAKE_STATUSES:
        raise SspiError(f"The package returned an unexpected status {step.status.name}.")
    try:
        if (pOutput is not None and len(pOutput) == 1 and pOutput[0].BufferType == _TOKEN
                and not step.outputs):
            # _deliver for the usual single TOKEN output buffer.
            pOutput[0].fill(step.token, allocate)
            if pInput is not None and (step.extra or step.missing):
                fill_extra_missing(pInput, step.extra, step.missing)
        else:
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


def _fail(record: CtxtRecord | None, exc: Exception, what: str) -> SspiError:
    """What a door raises for ``exc`` (see :func:`opensspi.errors.boundary_error`); an internal
    error leaves the context dead, since its state can no longer be trusted."""
    err = boundary_error(exc, what)
    if record is not None and isinstance(err, InternalError):
        record.dead = True
    return err


def _start(
    cred: CredRecord, client: bool, target: str | None, req: IscReq | AscReq, env: Environment,
) -> SecurityContext:
    """A new context of ``cred``'s package: the client's for ``target``, or the server's."""
    if client:
        return cred.package.client_context(cred.credential, target, req, env)  # type: ignore[arg-type]
    return cred.package.server_context(cred.credential, req, env)  # type: ignore[arg-type]


def _handshake(
    call: str, use: CredentialUse, phCredential: CredHandle | None,  # noqa: N803
    phContext: CtxtHandle | None, phNewContext: CtxtHandle | None,  # noqa: N803
    pInput: SecBufferDesc | None, pOutput: SecBufferDesc | None, allocate: bool,  # noqa: N803
    client: bool, target: str | None, req: IscReq | AscReq, env: Environment,
) -> tuple[Step, CtxtRecord]:
    """One Initialize/AcceptSecurityContext call: a new context from ``phCredential`` when
    ``phContext`` is None (the handle is filled only when the call succeeds), else the next leg
    of ``phContext`` — or, on the ``client`` side, a re-authentication on a completed one."""
    if phContext is None:
        if phCredential is None:
            raise NoCredentials(f"The first {call} call needs phCredential.")
        cred = cred_record(phCredential)
        if not int(cred.use) & int(use):
            need = "OUTBOUND" if use is CredentialUse.OUTBOUND else "INBOUND"
            raise NoCredentials(
                f"The credential handle was not acquired for SECPKG_CRED_{need}; acquire it "
                f"with SECPKG_CRED_{need} (or BOTH) to call {call}."
            )
        try:
            context = _start(cred, client, target, req, env)
        except Exception as exc:
            raise _fail(None, exc, f"{cred.package.info.name} {call}")  # noqa: B904
        handle = phNewContext if phNewContext is not None else CtxtHandle()
        record = CtxtRecord(cred, context, None)
        with record.lock:
            step = _run_step(record, pInput, pOutput, allocate, int(req))
            handle._record = record
            return step, record
    found = phContext._record if type(phContext) is CtxtHandle else None
    record = found if found is not None else ctxt_record(phContext)  # raises for a bad handle
    with record.lock:
        if record.dead:
            _live(record)  # raises
        record.door = None  # the context may move on: the message fast path looks again
        if phNewContext is not None and phNewContext is not phContext:
            phNewContext._record = record
        if phCredential is not None and phCredential._record is not None \
                and phCredential._record is not record.cred:
            record.context.credential_changed(cred_record(phCredential).credential)
        if (client and not record.context.continues_after_complete and record.context.complete
                and not _has_token(pInput)):
            # "a call after completion starts a re-authentication" (ISC docs, phContext); a
            # stream package's context goes on instead (renegotiation, shutdown).
            try:
                record.context = _start(record.cred, client, target, req, env)
            except Exception as exc:
                raise _fail(record, exc, f"{record.cred.package.info.name} {call}")  # noqa: B904
        return _run_step(record, pInput, pOutput, allocate, int(req)), record


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
    req = _isc_req(fContextReq)
    allocate = bool(int(fContextReq) & _ISC_ALLOCATE)
    target = pszTargetName
    if phContext is not None and target is None:
        target = ctxt_record(phContext).target
    step, record = _handshake(
        "InitializeSecurityContext", _USE_OUTBOUND, phCredential, phContext,
        phNewContext, pInput, pOutput, allocate, True, target, req, env)
    record.target = target
    context = record.context
    flags = context.flags
    if allocate:
        flags |= _ISC_RET_ALLOCATED
    attrs = _isc_ret(flags)
    return _new_tuple(IscResult, (step.status, attrs, context.expiry))


def _has_token(desc: SecBufferDesc | None) -> bool:
    if desc is None:
        return False
    buf = desc.first(SecBufferType.TOKEN)
    return buf is not None and bool(buf.buffer)


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
    req = _asc_req(fContextReq)
    allocate = bool(int(fContextReq) & _ASC_ALLOCATE)
    step, record = _handshake(
        "AcceptSecurityContext", _USE_INBOUND, phCredential, phContext, phNewContext,
        pInput, pOutput, allocate, False, None, req, env)
    context = record.context
    flags = context.flags
    if allocate:
        flags |= _ASC_RET_ALLOCATED
    attrs = _asc_ret(flags)
    return _new_tuple(AscResult, (step.status, attrs, context.expiry))


def CompleteAuthToken(phContext: CtxtHandle, pToken: SecBufferDesc) -> SecStatus:  # noqa: N802, N803
    """Finish a token after ``SEC_I_COMPLETE_NEEDED`` (Digest); other packages need no call."""
    record = ctxt_record(phContext)
    with record.lock:
        _live(record)
        record.door = None  # the context may move on: the message fast path looks again
        params = tuple(b.buffer for b in pToken if b.kind == SecBufferType.PKG_PARAMS)
        try:
            record.context.complete_auth_token(params)
        except Exception as exc:
            raise _fail(record, exc, f"{record.context.info.name} CompleteAuthToken")  # noqa: B904
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
        try:
            _live(record).context.apply_control_token(buf.buffer)
        except Exception as exc:
            raise _fail(record, exc, f"{record.context.info.name} ApplyControlToken")  # noqa: B904
    return SecStatus.SEC_E_OK


def QueryContextAttributes(phContext: CtxtHandle, ulAttribute: int) -> object:  # noqa: N802, N803
    """One attribute of a context, as the ``SecPkgContext_*`` structure Windows returns.

    SIZES, STREAM_SIZES, NAMES, NATIVE_NAMES, LIFESPAN, SESSION_KEY, PACKAGE_INFO,
    NEGOTIATION_INFO and FLAGS are answered for every package (PACKAGE_INFO and NEGOTIATION_INFO
    name the package that really runs the context: Negotiate answers Kerberos or NTLM); others
    are the package's own.
    """
    record = ctxt_record(phContext)
    with record.lock:
        try:
            return _query(_live(record).context, ulAttribute)
        except Exception as exc:
            raise _fail(record, exc, f"{record.context.info.name} context attribute")  # noqa: B904


def SetContextAttributes(phContext: CtxtHandle, ulAttribute: int, pBuffer: object) -> SecStatus:  # noqa: N802, N803
    """Give the package an attribute value (Schannel: SECPKG_ATTR_KEYING_MATERIAL_INFO)."""
    record = ctxt_record(phContext)
    with record.lock:
        try:
            _live(record).context.set_attribute(int(ulAttribute), pBuffer)
        except Exception as exc:
            raise _fail(record, exc, f"{record.context.info.name} context attribute")  # noqa: B904
    return SecStatus.SEC_E_OK


# The attribute ids as plain ints: comparing with an IntEnum member costs a metaclass lookup.
_ATTR_SIZES = int(SecPkgAttr.SIZES)
_ATTR_STREAM_SIZES = int(SecPkgAttr.STREAM_SIZES)
_ATTR_PACKAGE_INFO = int(SecPkgAttr.PACKAGE_INFO)
_ATTR_FLAGS = int(SecPkgAttr.FLAGS)
_ATTR_NEGOTIATION_INFO = int(SecPkgAttr.NEGOTIATION_INFO)
_ATTR_LIFESPAN = int(SecPkgAttr.LIFESPAN)
_ATTR_NAMES = int(SecPkgAttr.NAMES)
_ATTR_NATIVE_NAMES = int(SecPkgAttr.NATIVE_NAMES)
_ATTR_SESSION_KEY = int(SecPkgAttr.SESSION_KEY)
_ATTR_NEED_COMPLETE = frozenset((_ATTR_NAMES, _ATTR_NATIVE_NAMES, _ATTR_SESSION_KEY))


def _query(ctx: SecurityContext, ulAttribute: int) -> object:  # noqa: N803
    if ulAttribute == _ATTR_SIZES:
        return ctx.sizes()
    if ulAttribute == _ATTR_STREAM_SIZES:
        return ctx.stream_sizes()
    if ulAttribute == _ATTR_PACKAGE_INFO:
        return ctx.negotiated_info
    if ulAttribute == _ATTR_FLAGS:
        return Flags(ctx.flags)
    if ulAttribute == _ATTR_NEGOTIATION_INFO:
        return NegotiationInfo(ctx.negotiated_info, ctx.negotiation_state)
    if ulAttribute == _ATTR_LIFESPAN:
        return Lifespan(None, ctx.expiry)
    if ulAttribute in _ATTR_NEED_COMPLETE:
        if not ctx.complete:
            raise UnsupportedFunction(
                f"{SecPkgAttr(ulAttribute).name} is available only once the handshake has "
                "completed."
            )
        if ulAttribute == _ATTR_NAMES:
            return Names(ctx.client_name or "")
        if ulAttribute == _ATTR_NATIVE_NAMES:
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


_SEC_E_OK = SecStatus.SEC_E_OK
_QOP_OK = QopResult(SecStatus.SEC_E_OK, 0)
_SIGN, _VERIFY, _ENCRYPT = MessageOp.SIGN, MessageOp.VERIFY, MessageOp.ENCRYPT


def _message_error(record: CtxtRecord, exc: Exception) -> SspiError:
    """What a message function raises for ``exc`` (see :func:`_message`)."""
    return _fail(record, exc, f"{record.context.info.name} message")


def _message(
    phContext: CtxtHandle, op: MessageOp, pMessage: SecBufferDesc, qop: int, seq: int  # noqa: N803
) -> QopResult:
    """One message function behind the error boundary: a malformed token is
    ``SEC_E_INVALID_TOKEN`` (the context stays usable); a bug is ``SEC_E_INTERNAL_ERROR`` and
    the context is dead, since its sequence and cipher state can no longer be trusted.

    The two-buffer GSS shapes go through the context's :class:`~opensspi.protection.GssDoor`
    (EncryptMessage and DecryptMessage take it before calling here); every other shape, and
    every context that is not yet usable, takes the general path, which gives the errors."""
    record = phContext._record if type(phContext) is CtxtHandle else None
    if record is None or record.dead or not record.context.complete:
        record = _complete_record(phContext)  # the checks, with their messages
    door = door_for(record) if type(pMessage) is SecBufferDesc and len(pMessage) == 2 else None
    with record.lock:
        try:
            if door is not None:
                if op is _SIGN:
                    if door.sign(pMessage, qop, seq):
                        return _QOP_OK
                elif op is _VERIFY:
                    got = door.verify(pMessage, seq)
                    if got is not None:
                        return QopResult(_SEC_E_OK, got) if got else _QOP_OK
                elif op is _ENCRYPT:
                    if door.encrypt(pMessage, qop):
                        return _QOP_OK
                else:
                    got = door.decrypt(pMessage)
                    if got is not None:
                        return QopResult(_SEC_E_OK, got) if got else _QOP_OK
            result = protect(record.context, op, pMessage, qop, seq)
        except Exception as exc:
            raise _message_error(record, exc)  # noqa: B904 - boundary_error chains exc
    return QopResult(result.status, result.qop)


def MakeSignature(  # noqa: N802
    phContext: CtxtHandle, fQOP: int, pMessage: SecBufferDesc, MessageSeqNo: int  # noqa: N803
) -> SecStatus:
    """Sign the DATA buffers of ``pMessage`` into its TOKEN buffer."""
    return _message(phContext, MessageOp.SIGN, pMessage, fQOP, MessageSeqNo).status


def VerifySignature(  # noqa: N802
    phContext: CtxtHandle, pMessage: SecBufferDesc, MessageSeqNo: int  # noqa: N803
) -> QopResult:
    """Check the signature in ``pMessage``; raises ``SEC_E_MESSAGE_ALTERED`` on mismatch."""
    return _message(phContext, MessageOp.VERIFY, pMessage, 0, MessageSeqNo)


def EncryptMessage(  # noqa: N802
    phContext: CtxtHandle, fQOP: int, pMessage: SecBufferDesc, MessageSeqNo: int  # noqa: N803
) -> SecStatus:
    """Seal the DATA buffers in place and write the security token (and padding), or one
    stream record (STREAM_HEADER + DATA + STREAM_TRAILER) for a stream package."""
    # The GSS [DATA, TOKEN] shape straight onto the package (see protection.GssDoor); any other
    # shape, or a context not ready for it, goes the general way, which also gives the errors.
    record = phContext._record if type(phContext) is CtxtHandle else None
    if record is not None and type(pMessage) is SecBufferDesc:
        door = door_for(record) if len(pMessage) == 2 else None
        if door is not None:
            lock = record.lock
            lock.acquire()  # as ``with``, at half the cost on this path
            try:
                done = door.encrypt(pMessage, fQOP)
            except Exception as exc:
                raise _message_error(record, exc)  # noqa: B904 - boundary_error chains exc
            finally:
                lock.release()
            if done:
                return _SEC_E_OK
    return _message(phContext, MessageOp.ENCRYPT, pMessage, fQOP, MessageSeqNo).status


def DecryptMessage(  # noqa: N802
    phContext: CtxtHandle, pMessage: SecBufferDesc, MessageSeqNo: int  # noqa: N803
) -> QopResult:
    """Unseal in place; returns the status and the QOP that was applied.

    The status is ``SEC_E_OK``, or for a stream package ``SEC_E_INCOMPLETE_MESSAGE`` (a
    SECBUFFER_MISSING buffer then says how many bytes are missing), ``SEC_I_CONTEXT_EXPIRED``
    (the peer closed the stream) or ``SEC_I_RENEGOTIATE`` (call InitializeSecurityContext or
    AcceptSecurityContext with the SECBUFFER_EXTRA bytes). Bytes beyond the record come back
    in a SECBUFFER_EXTRA buffer.
    """
    record = phContext._record if type(phContext) is CtxtHandle else None
    if record is not None and type(pMessage) is SecBufferDesc:
        door = door_for(record) if len(pMessage) == 2 else None
        if door is not None:
            lock = record.lock
            lock.acquire()
            try:
                qop = door.decrypt(pMessage)
            except Exception as exc:
                raise _message_error(record, exc)  # noqa: B904 - boundary_error chains exc
            finally:
                lock.release()
            if qop is not None:
                return QopResult(_SEC_E_OK, qop) if qop else _QOP_OK
    return _message(phContext, MessageOp.DECRYPT, pMessage, 0, MessageSeqNo)


def package_names() -> Sequence[str]:
    """The installed packages' names."""
    return registry.names()
