"""pywin32's ``win32security`` SSPI surface, on top of :mod:`opensspi.sspi`.

A program written for pywin32 runs unchanged after ``sys.path.insert(0, <this folder>)``:
``AcquireCredentialsHandle`` returns ``(credhandle, expiry)``, ``InitializeSecurityContext``
returns ``(rc, attrs, expiry)``, buffers are ``PySecBufferType``/``PySecBufferDescType``,
context handles carry the message methods, and failures raise :class:`error` whose
``winerror`` is pywin32's signed status value.

``ImpersonateSecurityContext``/``RevertSecurityContext``: POSIX has no Windows access tokens.
What opensspi can honour, it does (:mod:`opensspi.impersonation`): while the calling thread
impersonates, the authenticated client is the default identity of credentials acquired with no
explicit identity (its delegated Kerberos credential when it delegated one), and the
``win32api`` look-alike's ``GetUserName``/``GetUserNameEx`` report the client, as on Windows.
The process's operating-system identity (file access, ``os.getuid()``) does not change.

Buffers follow pywin32's C types (``win32security_sspi.cpp``): ``Buffer`` takes bytes-like
values only (a ``str`` raises TypeError, as pywin32 on Python 3 does), and the reprs are
``PySecBuffer(cbBuffer: 4 | BufferType: 1 | pvBuffer: 0x…)`` and
``PySecBufferDesc(ulVersion: 0 | cBuffers: 1 | pBuffers: 0x…)``; the pointer is the object's
identity, shown as 16 hex digits as pywin32's ``%p`` prints it on 64-bit Windows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any, TypeVar

from opensspi import sspi as _sspi
from opensspi.attributes import (
    CredentialNames,
    Flags,
    Lifespan,
    Names,
    NativeNames,
    NegotiationInfo,
    SessionKey,
)
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import SecPkgAttr, SecPkgCredAttr
from opensspi.errors import SspiError
from opensspi.handles import CtxtRecord
from opensspi.message import StreamSizes
from opensspi.packages.schannel.attributes import ConnectionInfo, IssuerListEx
from opensspi.provider import PackageInfo, Sizes

T = TypeVar("T")

__all__ = [
    "NEVER", "AcceptSecurityContext", "AcquireCredentialsHandle", "CompleteAuthToken",
    "DecryptMessage", "DeleteSecurityContext", "EncryptMessage", "EnumerateSecurityPackages",
    "FreeCredentialsHandle", "ImpersonateSecurityContext", "InitializeSecurityContext",
    "MakeSignature", "PyCredHandleType", "PyCtxtHandleType", "PySecBufferDescType",
    "PySecBufferType", "QueryContextAttributes", "QueryCredentialsAttributes",
    "QuerySecurityPackageInfo", "RevertSecurityContext", "VerifySignature", "error",
]

# Windows' "never expires" TimeStamp is 0x7FFFFFFFFFFFFFFF (year 30828), beyond what a Python
# datetime holds; the latest representable instant stands for it.
NEVER = datetime.max.replace(tzinfo=timezone.utc)


class error(Exception):  # noqa: N801 - pywin32's name
    """pywintypes.error: ``args == (winerror, funcname, strerror)``."""

    def __init__(self, winerror: int, funcname: str, strerror: str) -> None:
        super().__init__(winerror, funcname, strerror)
        self.winerror = winerror
        self.funcname = funcname
        self.strerror = strerror


def _call(funcname: str, fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except SspiError as exc:
        raise error(exc.winerror, funcname, exc.message) from exc


def door_call(record: CtxtRecord, funcname: str, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, a method of the record's fast path (a :class:`~opensspi.protection.
    GssDoor` from :func:`opensspi.protection.door_for`), under the record's lock as the Windows
    function ``funcname`` runs: its result, or :class:`error` as the method would raise it."""
    lock = record.lock
    lock.acquire()
    try:
        return call(*args)
    except Exception as exc:
        err = _sspi._message_error(record, exc)
    finally:
        lock.release()
    raise error(err.winerror, funcname, err.message) from err


def _expiry(value: datetime | None) -> datetime:
    return NEVER if value is None else value


def _package_dict(info: PackageInfo) -> dict[str, Any]:
    return {
        "Capabilities": int(info.capabilities),
        "Version": info.version,
        "RPCID": info.rpcid,
        "MaxToken": info.max_token,
        "Name": info.name,
        "Comment": info.comment,
    }


# -- buffers --------------------------------------------------------------------------------


class PySecBufferType:
    """A SecBuffer, ``PySecBufferType(size, type)``, with Buffer/BufferType/BufferSize."""

    __slots__ = ("_buf",)

    def __init__(self, size: int, buffer_type: int) -> None:
        self._buf = SecBuffer(buffer_type & 0xFFFFFFFF, size)

    @property
    def Buffer(self) -> bytes:  # noqa: N802
        return self._buf.buffer

    @Buffer.setter
    def Buffer(self, value: bytes | bytearray | memoryview) -> None:  # noqa: N802
        if not isinstance(value, (bytes, bytearray, memoryview)):
            # pywin32 reads the value through the buffer protocol, which str does not offer.
            raise TypeError(
                f"a bytes-like object is required, not '{type(value).__name__}'"
            )
        self._buf.buffer = bytes(value)

    @property
    def BufferType(self) -> int:  # noqa: N802
        value = self._buf.BufferType
        return value - (1 << 32) if value & 0x80000000 else value

    @BufferType.setter
    def BufferType(self, value: int) -> None:  # noqa: N802
        self._buf.BufferType = value & 0xFFFFFFFF

    @property
    def BufferSize(self) -> int:  # noqa: N802
        return self._buf.cbBuffer

    def Clear(self) -> None:  # noqa: N802
        self._buf.buffer = b""

    def __repr__(self) -> str:
        return (
            f"PySecBuffer(cbBuffer: {self._buf.cbBuffer} | BufferType: {self._buf.BufferType} "
            f"| pvBuffer: {_pointer(self)})"
        )


class PySecBufferDescType:
    """A SecBufferDesc holding PySecBufferType objects."""

    __slots__ = ("_items", "_sec", "ulVersion")

    def __init__(self, ulVersion: int = 0) -> None:  # noqa: N803
        self.ulVersion = ulVersion
        self._items: list[PySecBufferType] = []
        self._sec = SecBufferDesc()  # the same SecBuffers, as the sspi layer takes them

    def append(self, buffer: PySecBufferType) -> None:
        if not isinstance(buffer, PySecBufferType):
            raise TypeError("PySecBufferDescType holds PySecBufferType objects only")
        self._items.append(buffer)
        self._sec.buffers.append(buffer._buf)

    def __getitem__(self, index: int) -> PySecBufferType:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[PySecBufferType]:
        return iter(self._items)

    def Clear(self) -> None:  # noqa: N802
        self._items.clear()
        self._sec.buffers.clear()

    def _desc(self) -> SecBufferDesc:
        return self._sec

    def __repr__(self) -> str:
        return (
            f"PySecBufferDesc(ulVersion: {self.ulVersion} | cBuffers: {len(self._items)} "
            f"| pBuffers: {_pointer(self._items)})"
        )


def _pointer(obj: object) -> str:
    """An address-like value for a repr, formatted as pywin32's ``0x%p`` on 64-bit Windows."""
    return f"0x{id(obj) & 0xFFFFFFFFFFFFFFFF:016X}"


def _desc(value: PySecBufferDescType | None) -> SecBufferDesc | None:
    if value is None:
        return None
    if not isinstance(value, PySecBufferDescType):
        raise TypeError("expected a PySecBufferDescType or None")
    return value._desc()


_TOKEN = 2  # SECBUFFER_TOKEN


def token_desc(data_or_size: bytes | int) -> PySecBufferDescType:
    """``PySecBufferDescType`` holding one ``PySecBufferType(size, SECBUFFER_TOKEN)`` (or one
    whose Buffer was set to the bytes ``data_or_size``), as pywin32's ``sspi`` helper builds for
    every leg; made without repeating the checks its public constructors and setters make,
    since the values here are already of the right types."""
    buf = SecBuffer(_TOKEN, data_or_size)
    item = object.__new__(PySecBufferType)
    item._buf = buf
    desc = object.__new__(PySecBufferDescType)
    desc.ulVersion = 0
    desc._items = [item]
    desc._sec = SecBufferDesc((buf,))
    return desc


# -- handles --------------------------------------------------------------------------------


class PyCredHandleType:
    """A credential handle."""

    __slots__ = ("_handle",)

    def __init__(self) -> None:
        self._handle = _sspi.CredHandle()

    def QueryCredentialsAttributes(self, attribute: int) -> Any:  # noqa: N802
        result = _call(
            "QueryCredentialsAttributes", _sspi.QueryCredentialsAttributes, self._handle, attribute
        )
        if attribute == SecPkgCredAttr.NAMES and isinstance(result, CredentialNames):
            return result.user_name
        return result

    def FreeCredentialsHandle(self) -> None:  # noqa: N802
        _call("FreeCredentialsHandle", _sspi.FreeCredentialsHandle, self._handle)

    def Detach(self) -> PyCredHandleType:  # noqa: N802
        return self

    def __repr__(self) -> str:
        return f"<PyCredHandle {self._handle!r}>"


class PyCtxtHandleType:
    """A context handle with pywin32's message methods."""

    __slots__ = ("_handle",)

    def __init__(self) -> None:
        self._handle = _sspi.CtxtHandle()

    # The message methods call the sspi functions directly (no ``_call``): they run once per
    # message, and the error they raise is the same.

    def MakeSignature(self, fqop: int, message: PySecBufferDescType, seq: int) -> None:  # noqa: N802
        desc = message._sec if type(message) is PySecBufferDescType else _desc(message)
        try:
            _sspi.MakeSignature(self._handle, fqop & 0xFFFFFFFF, desc, seq)  # type: ignore[arg-type]
        except SspiError as exc:
            raise error(exc.winerror, "MakeSignature", exc.message) from exc

    def VerifySignature(self, message: PySecBufferDescType, seq: int) -> int:  # noqa: N802
        desc = message._sec if type(message) is PySecBufferDescType else _desc(message)
        try:
            qop = _sspi.VerifySignature(self._handle, desc, seq).qop  # type: ignore[arg-type]
        except SspiError as exc:
            raise error(exc.winerror, "VerifySignature", exc.message) from exc
        # a QOP, not a status: SecStatus(0x80000001) would raise ValueError
        return qop - (1 << 32) if qop & 0x80000000 else qop

    def EncryptMessage(self, fqop: int, message: PySecBufferDescType, seq: int) -> None:  # noqa: N802
        desc = message._sec if type(message) is PySecBufferDescType else _desc(message)
        try:
            _sspi.EncryptMessage(self._handle, fqop & 0xFFFFFFFF, desc, seq)  # type: ignore[arg-type]
        except SspiError as exc:
            raise error(exc.winerror, "EncryptMessage", exc.message) from exc

    def DecryptMessage(self, message: PySecBufferDescType, seq: int) -> int:  # noqa: N802
        desc = message._sec if type(message) is PySecBufferDescType else _desc(message)
        try:
            qop = _sspi.DecryptMessage(self._handle, desc, seq).qop  # type: ignore[arg-type]
        except SspiError as exc:
            raise error(exc.winerror, "DecryptMessage", exc.message) from exc
        return qop - (1 << 32) if qop & 0x80000000 else qop

    def QueryContextAttributes(self, attribute: int) -> Any:  # noqa: N802
        value = _call(
            "QueryContextAttributes", _sspi.QueryContextAttributes, self._handle, attribute
        )
        return _attribute_value(attribute, value)

    def CompleteAuthToken(self, token: PySecBufferDescType) -> None:  # noqa: N802
        desc = _desc(token)
        assert desc is not None
        _call("CompleteAuthToken", _sspi.CompleteAuthToken, self._handle, desc)

    def DeleteSecurityContext(self) -> None:  # noqa: N802
        _call("DeleteSecurityContext", _sspi.DeleteSecurityContext, self._handle)

    def ImpersonateSecurityContext(self) -> None:  # noqa: N802
        ImpersonateSecurityContext(self)

    def RevertSecurityContext(self) -> None:  # noqa: N802
        RevertSecurityContext(self)

    def Detach(self) -> PyCtxtHandleType:  # noqa: N802
        return self

    def __repr__(self) -> str:
        return f"<PyCtxtHandle {self._handle!r}>"


def native_names(context: PyCtxtHandleType) -> tuple[str, str] | None:
    """``QueryContextAttributes(SECPKG_ATTR_NATIVE_NAMES)`` of a live, complete context read
    straight off it (what the general query answers for every package), for pywin32's helper,
    which asks once per handshake; None when the query must go the general way, which also
    gives its errors (an incomplete, deleted or failed context)."""
    handle = context._handle
    record = handle._record if type(handle) is _sspi.CtxtHandle else None
    if record is None or record.dead:
        return None
    with record.lock:
        try:
            ctx = record.context
            if not ctx.complete:
                return None
            return (ctx.client_name or "", ctx.server_name or "")
        except Exception:
            return None


def _attribute_value(attribute: int, value: object) -> Any:
    """Shape an attribute the way pywin32 returns it."""
    if attribute == SecPkgAttr.SIZES and isinstance(value, Sizes):
        return {
            "MaxToken": value.max_token,
            "MaxSignature": value.max_signature,
            "BlockSize": value.block_size,
            "SecurityTrailer": value.security_trailer,
        }
    if isinstance(value, StreamSizes):
        # win32security_sspi.cpp: SECPKG_ATTR_STREAM_SIZES
        return {
            "Header": value.header,
            "Trailer": value.trailer,
            "MaximumMessage": value.max_message,
            "Buffers": value.buffers,
            "BlockSize": value.block_size,
        }
    if isinstance(value, ConnectionInfo):
        # win32security_sspi.cpp: SECPKG_ATTR_CONNECTION_INFO
        return {
            "Protocol": value.protocol,
            "Cipher": value.cipher,
            "CipherStrength": value.cipher_strength,
            "Hash": value.hash,
            "HashStrength": value.hash_strength,
            "Exch": value.exchange,
            "ExchStrength": value.exchange_strength,
        }
    if isinstance(value, IssuerListEx):
        # pywin32 returns (cIssuers, the first CERT_NAME_BLOB's bytes)
        return (len(value.issuers), value.issuers[0] if value.issuers else b"")
    if isinstance(value, Names):
        return value.user_name
    if isinstance(value, NativeNames):
        return (value.client_name, value.server_name)
    if isinstance(value, Lifespan):
        return (value.start or datetime(1601, 1, 1, tzinfo=timezone.utc), _expiry(value.expiry))
    if isinstance(value, SessionKey):
        return value.session_key
    if isinstance(value, PackageInfo):
        return _package_dict(value)
    if isinstance(value, NegotiationInfo):
        return (int(value.negotiation_state), _package_dict(value.package_info))
    if isinstance(value, Flags):
        return value.flags
    return value


# -- functions ------------------------------------------------------------------------------


def EnumerateSecurityPackages() -> tuple[dict[str, Any], ...]:  # noqa: N802
    return tuple(_package_dict(i) for i in _call(
        "EnumerateSecurityPackages", _sspi.EnumerateSecurityPackages))


def QuerySecurityPackageInfo(PackageName: str) -> dict[str, Any]:  # noqa: N802, N803
    return _package_dict(
        _call("QuerySecurityPackageInfo", _sspi.QuerySecurityPackageInfo, PackageName)
    )


def AcquireCredentialsHandle(  # noqa: N802
    Principal: str | None,  # noqa: N803
    Package: str,  # noqa: N803
    CredentialUse: int,  # noqa: N803
    LogonID: object = None,  # noqa: N803
    AuthData: object = None,  # noqa: N803
) -> tuple[PyCredHandleType, datetime]:
    """``(credhandle, expiry)``; AuthData may be ``(user, domain, password)``."""
    cred = PyCredHandleType()
    try:
        result = _sspi.AcquireCredentialsHandle(
            Principal, Package, CredentialUse, LogonID, AuthData, None, None, cred._handle)
    except SspiError as exc:
        raise error(exc.winerror, "AcquireCredentialsHandle", exc.message) from exc
    expiry = result.expiry
    return cred, NEVER if expiry is None else expiry


def handshake_leg(
    client: bool,
    credential: PyCredHandleType | None,
    context: PyCtxtHandleType | None,
    target: str | None,
    fcontextreq: int,
    datarep: int,
    pinput: PySecBufferDescType | None,
    pnewcontext: PyCtxtHandleType,
    poutput: PySecBufferDescType,
) -> tuple[int, int, datetime]:
    """One InitializeSecurityContext (``client``) or AcceptSecurityContext leg as pywin32 runs
    it: ``(rc, attrs, expiry)``, with ``pnewcontext`` and ``poutput`` filled in place.

    Both functions below and pywin32's ``sspi`` helper classes come here: one frame between
    them and the Windows function. A PySecBufferDescType's SecBufferDesc is passed as it is;
    anything else goes through :func:`_desc`, which raises TypeError as pywin32 does."""
    desc_in = pinput._sec if type(pinput) is PySecBufferDescType else _desc(pinput)
    desc_out = poutput._sec if type(poutput) is PySecBufferDescType else _desc(poutput)
    cred = credential._handle if credential is not None else None
    ctxt = context._handle if context is not None else None
    try:
        if client:
            result: _sspi.IscResult | _sspi.AscResult = _sspi.InitializeSecurityContext(
                cred, ctxt, target, fcontextreq & 0xFFFFFFFF, 0, datarep, desc_in, 0,
                pnewcontext._handle, desc_out)
        else:
            result = _sspi.AcceptSecurityContext(
                cred, ctxt, desc_in, fcontextreq & 0xFFFFFFFF, datarep, pnewcontext._handle,
                desc_out)
    except SspiError as exc:
        call = "InitializeSecurityContext" if client else "AcceptSecurityContext"
        raise error(exc.winerror, call, exc.message) from exc
    status = int(result.status)
    expiry = result.expiry
    return (status - (1 << 32) if status & 0x80000000 else status, int(result.context_attr),
            NEVER if expiry is None else expiry)


def InitializeSecurityContext(  # noqa: N802
    credentials: PyCredHandleType,
    context: PyCtxtHandleType | None,
    targetname: str | None,
    fcontextreq: int,
    datarep: int,
    pinput: PySecBufferDescType | None,
    pnewcontext: PyCtxtHandleType,
    poutput: PySecBufferDescType,
) -> tuple[int, int, datetime]:
    """``(rc, attrs, expiry)``; ``pnewcontext`` and ``poutput`` are filled in place."""
    return handshake_leg(True, credentials, context, targetname, fcontextreq, datarep, pinput,
                         pnewcontext, poutput)


def AcceptSecurityContext(  # noqa: N802
    credential: PyCredHandleType,
    context: PyCtxtHandleType | None,
    pinput: PySecBufferDescType | None,
    fcontextreq: int,
    targetdatarep: int,
    pnewcontext: PyCtxtHandleType,
    poutput: PySecBufferDescType,
) -> tuple[int, int, datetime]:
    """``(rc, attrs, expiry)``; ``pnewcontext`` and ``poutput`` are filled in place."""
    return handshake_leg(False, credential, context, None, fcontextreq, targetdatarep, pinput,
                         pnewcontext, poutput)


def CompleteAuthToken(context: PyCtxtHandleType, token: PySecBufferDescType) -> None:  # noqa: N802
    context.CompleteAuthToken(token)


def DeleteSecurityContext(context: PyCtxtHandleType) -> None:  # noqa: N802
    context.DeleteSecurityContext()


def FreeCredentialsHandle(credential: PyCredHandleType) -> None:  # noqa: N802
    credential.FreeCredentialsHandle()


def QueryContextAttributes(context: PyCtxtHandleType, attribute: int) -> Any:  # noqa: N802
    return context.QueryContextAttributes(attribute)


def QueryCredentialsAttributes(credential: PyCredHandleType, attribute: int) -> Any:  # noqa: N802
    return credential.QueryCredentialsAttributes(attribute)


def MakeSignature(context: PyCtxtHandleType, fqop: int, desc: PySecBufferDescType,  # noqa: N802
                  seq: int) -> None:
    context.MakeSignature(fqop, desc, seq)


def VerifySignature(context: PyCtxtHandleType, desc: PySecBufferDescType, seq: int) -> int:  # noqa: N802
    return context.VerifySignature(desc, seq)


def EncryptMessage(context: PyCtxtHandleType, fqop: int, desc: PySecBufferDescType,  # noqa: N802
                   seq: int) -> None:
    context.EncryptMessage(fqop, desc, seq)


def DecryptMessage(context: PyCtxtHandleType, desc: PySecBufferDescType, seq: int) -> int:  # noqa: N802
    return context.DecryptMessage(desc, seq)


def ImpersonateSecurityContext(context: PyCtxtHandleType) -> None:  # noqa: N802
    """Act as the context's client on this thread (see the module docstring for what that
    means here); ``error(SEC_E_NO_IMPERSONATION)`` for a client or incomplete context."""
    _call("ImpersonateSecurityContext", _sspi.ImpersonateSecurityContext, context._handle)


def RevertSecurityContext(context: PyCtxtHandleType) -> None:  # noqa: N802
    """End this thread's impersonation; a no-op when it impersonates nobody, as on Windows."""
    _call("RevertSecurityContext", _sspi.RevertSecurityContext, context._handle)
