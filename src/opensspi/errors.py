"""The error hierarchy: every failure is an ``SspiError`` carrying a Windows ``SEC_E_*`` status.

Windows returns failure codes; the Pythonic layer raises them. Each subclass fixes ``status`` so a
caller can catch ``LogonDenied`` or test ``err.status == SecStatus.SEC_E_LOGON_DENIED``. Messages
say what went wrong and what to try; they never include a password, a key or a session key.

Parsers raise the internal :class:`DecodeError`. There is one error boundary (DESIGN.md, "The
core that carries all five packages"): the state machine driver (:mod:`opensspi.statemachine`)
and every door's entry point (:func:`boundary_error`) turn a ``DecodeError`` into
:class:`InvalidToken` and any other exception into :class:`InternalError` (the original
chained), so a caller only ever sees an ``SspiError``.

A failing call may still owe the peer a token — a TLS alert, a KRB-ERROR, an SPNEGO reject — which
travels in :attr:`SspiError.token`; the sspi layer delivers it to the caller's output buffer before
raising, as Windows does with ``ISC_REQ_EXTENDED_ERROR``.
"""

from __future__ import annotations

from typing import ClassVar

from .constants import SecStatus


class SspiError(Exception):
    """A failed SSPI call; ``status`` is the Windows ``SEC_E_*`` value."""

    default_status: ClassVar[SecStatus] = SecStatus.SEC_E_INTERNAL_ERROR

    def __init__(
        self, message: str, status: SecStatus | None = None, *, token: bytes = b"",
        token_type: int = 2,
    ) -> None:
        self.status: SecStatus = status if status is not None else self.default_status
        self.message = message
        #: Bytes the peer should still receive (alert, KRB-ERROR, SPNEGO reject); may be empty.
        self.token = token
        #: The SECBUFFER_* type the token belongs in (TOKEN = 2, ALERT = 17).
        self.token_type = token_type
        super().__init__(f"{message} ({self.status.name} {self.status.value:#010x})")

    @property
    def winerror(self) -> int:
        """The status as pywin32 reports it: a signed 32-bit HRESULT."""
        value = int(self.status)
        return value - (1 << 32) if value & 0x80000000 else value


class DecodeError(ValueError):
    """Internal: a wire structure could not be parsed; ``step()`` turns it into InvalidToken."""


class InvalidHandle(SspiError):
    """The handle was never issued, was deleted, or belongs to another kind of object."""

    default_status = SecStatus.SEC_E_INVALID_HANDLE


class UnsupportedFunction(SspiError):
    """The package cannot do what was asked (a request flag, an operation, a buffer shape)."""

    default_status = SecStatus.SEC_E_UNSUPPORTED_FUNCTION


class TargetUnknown(SspiError):
    """The target name could not be resolved to a principal."""

    default_status = SecStatus.SEC_E_TARGET_UNKNOWN


class InternalError(SspiError):
    """A bug or an impossible state inside the library."""

    default_status = SecStatus.SEC_E_INTERNAL_ERROR


class PackageNotFound(SspiError):
    """No security package of that name."""

    default_status = SecStatus.SEC_E_SECPKG_NOT_FOUND


class InvalidToken(SspiError):
    """A token is malformed, truncated, of the wrong type, or arrived in the wrong state."""

    default_status = SecStatus.SEC_E_INVALID_TOKEN


class QopNotSupported(SspiError):
    """The quality of protection asked for is not available on this context."""

    default_status = SecStatus.SEC_E_QOP_NOT_SUPPORTED


class NoImpersonation(SspiError):
    """The context cannot impersonate its client."""

    default_status = SecStatus.SEC_E_NO_IMPERSONATION


class LogonDenied(SspiError):
    """The credentials were rejected (wrong password, unknown user, or refused by policy)."""

    default_status = SecStatus.SEC_E_LOGON_DENIED


class UnknownCredentials(SspiError):
    """The credentials supplied to the package were not recognised."""

    default_status = SecStatus.SEC_E_UNKNOWN_CREDENTIALS


class NoCredentials(SspiError):
    """No credentials are available for this package."""

    default_status = SecStatus.SEC_E_NO_CREDENTIALS


class MessageAltered(SspiError):
    """A signature or integrity check failed: the message was changed or the key is wrong."""

    default_status = SecStatus.SEC_E_MESSAGE_ALTERED


class OutOfSequence(SspiError):
    """A message was replayed, lost or reordered."""

    default_status = SecStatus.SEC_E_OUT_OF_SEQUENCE


class NoAuthenticatingAuthority(SspiError):
    """No authority (domain controller, KDC) could be contacted."""

    default_status = SecStatus.SEC_E_NO_AUTHENTICATING_AUTHORITY


class ContextExpired(SspiError):
    """The context has expired or was torn down and can no longer be used."""

    default_status = SecStatus.SEC_E_CONTEXT_EXPIRED


class IncompleteMessage(SspiError):
    """More bytes are needed before the message can be processed."""

    default_status = SecStatus.SEC_E_INCOMPLETE_MESSAGE


class BufferTooSmall(SspiError):
    """A caller-supplied output buffer is smaller than what must be written to it."""

    default_status = SecStatus.SEC_E_BUFFER_TOO_SMALL


class WrongPrincipal(SspiError):
    """The peer is not the principal the caller named."""

    default_status = SecStatus.SEC_E_WRONG_PRINCIPAL


class TimeSkew(SspiError):
    """The clocks of the two parties differ by more than is allowed."""

    default_status = SecStatus.SEC_E_TIME_SKEW


class BadBindings(SspiError):
    """The channel bindings do not match."""

    default_status = SecStatus.SEC_E_BAD_BINDINGS


class InvalidParameter(SspiError):
    """An argument is of the wrong kind or value."""

    default_status = SecStatus.SEC_E_INVALID_PARAMETER


class AlgorithmMismatch(SspiError):
    """The two parties share no acceptable algorithm (or the one offered is disabled)."""

    default_status = SecStatus.SEC_E_ALGORITHM_MISMATCH


class MutualAuthFailed(SspiError):
    """The server could not prove its identity."""

    default_status = SecStatus.SEC_E_MUTUAL_AUTH_FAILED


class InsufficientBuffers(SspiError):
    """A required buffer is missing from the SecBufferDesc."""

    default_status = SecStatus.SEC_E_INSUFFICIENT_BUFFERS


class DecryptFailure(SspiError):
    """The message could not be decrypted."""

    default_status = SecStatus.SEC_E_DECRYPT_FAILURE


_BY_STATUS: dict[SecStatus, type[SspiError]] = {
    cls.default_status: cls
    for cls in (
        InvalidHandle, UnsupportedFunction, TargetUnknown, InternalError, PackageNotFound,
        InvalidToken, QopNotSupported, NoImpersonation, LogonDenied, UnknownCredentials,
        NoCredentials, MessageAltered, OutOfSequence, NoAuthenticatingAuthority, ContextExpired,
        IncompleteMessage, BufferTooSmall, WrongPrincipal, TimeSkew, BadBindings,
        InvalidParameter, AlgorithmMismatch, MutualAuthFailed, InsufficientBuffers,
        DecryptFailure,
    )
}


def boundary_error(exc: Exception, what: str) -> SspiError:
    """The one conversion at the error boundary: what a door raises for ``exc``.

    ``SspiError`` passes through; a parser's ``DecodeError`` becomes ``SEC_E_INVALID_TOKEN``; any
    other exception is a bug inside the library and becomes ``SEC_E_INTERNAL_ERROR`` naming only
    the exception type (its text could quote peer bytes), with ``exc`` kept as ``__cause__``.
    """
    if isinstance(exc, SspiError):
        return exc
    if isinstance(exc, DecodeError):
        err: SspiError = InvalidToken(f"Malformed {what}: {exc}")
    else:
        err = InternalError(
            f"Internal error in {what} ({type(exc).__name__}); the context cannot be trusted "
            "any more: delete it and start a new one, and please report this."
        )
    err.__cause__ = exc
    return err


def error_for(status: SecStatus, message: str) -> SspiError:
    """Build the most specific ``SspiError`` subclass for ``status``."""
    return _BY_STATUS.get(status, SspiError)(message, status)
