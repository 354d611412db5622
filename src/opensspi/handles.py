"""CredHandle and CtxtHandle: opaque handles to credentials and security contexts.

Windows handles are opaque pairs of pointers; here they are small objects that point at an
internal record. A handle that was freed/deleted, never filled, or of the wrong kind gives
``SEC_E_INVALID_HANDLE``. Each context record has a lock: one context used from two threads at
once is the caller's error (the Windows docs say so), and the lock makes sure it is serialized
rather than corrupted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .constants import CredentialUse
from .errors import InvalidHandle
from .provider import Credential, SecurityContext, SecurityPackage

if TYPE_CHECKING:
    from .protection import GssDoor


@dataclass(slots=True)
class CredRecord:
    """What a CredHandle points to."""

    package: SecurityPackage
    credential: Credential
    use: CredentialUse


@dataclass(slots=True)
class CtxtRecord:
    """What a CtxtHandle points to: the package context plus what re-authentication needs."""

    cred: CredRecord
    context: SecurityContext
    target: str | None
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Set when a call failed after the package had already moved on (its output could not be
    # delivered): the two sides are out of step, so every later call but Delete must fail.
    dead: bool = False
    # The message functions' fast path for this context (``protection.GssDoor``), made once the
    # handshake completes. Every handshake call on the record drops it, and it names the context
    # it was made for (a re-authentication replaces ``context``).
    door: GssDoor | None = field(default=None, repr=False, compare=False)


class CredHandle:
    """``CredHandle``: filled by AcquireCredentialsHandle, freed by FreeCredentialsHandle."""

    __slots__ = ("_record",)

    def __init__(self) -> None:
        self._record: CredRecord | None = None

    @property
    def is_valid(self) -> bool:
        return self._record is not None

    def _get(self) -> CredRecord:
        if self._record is None:
            raise InvalidHandle(
                "The credential handle is empty or was freed; call AcquireCredentialsHandle."
            )
        return self._record

    def __repr__(self) -> str:
        if self._record is None:
            return "CredHandle(<invalid>)"
        return f"CredHandle({self._record.package.info.name}, {self._record.use!r})"


class CtxtHandle:
    """``CtxtHandle``: filled by the first Initialize/AcceptSecurityContext call."""

    __slots__ = ("_record",)

    def __init__(self) -> None:
        self._record: CtxtRecord | None = None

    @property
    def is_valid(self) -> bool:
        return self._record is not None

    def _get(self) -> CtxtRecord:
        if self._record is None:
            raise InvalidHandle(
                "The context handle is empty or was deleted; start a new context with "
                "InitializeSecurityContext/AcceptSecurityContext and phContext=None."
            )
        return self._record

    def __repr__(self) -> str:
        if self._record is None:
            return "CtxtHandle(<invalid>)"
        ctx = self._record.context
        side = "client" if ctx.is_client else "server"
        state = "complete" if ctx.complete else "in progress"
        return f"CtxtHandle({ctx.info.name} {side}, {state})"


def cred_record(handle: object) -> CredRecord:
    """The record behind ``handle``, checking that it is a live CredHandle."""
    if not isinstance(handle, CredHandle):
        raise InvalidHandle(f"Expected a CredHandle, got {type(handle).__name__}.")
    return handle._get()


def ctxt_record(handle: object) -> CtxtRecord:
    """The record behind ``handle``, checking that it is a live CtxtHandle."""
    if not isinstance(handle, CtxtHandle):
        raise InvalidHandle(f"Expected a CtxtHandle, got {type(handle).__name__}.")
    return handle._get()
