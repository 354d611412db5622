"""The neutral message model behind MakeSignature, VerifySignature, EncryptMessage, DecryptMessage.

A message is a list of typed :class:`Part` objects — token, stream header, data, sign-only data,
padding, stream trailer, whole stream, package parameters, empty slots — the way MIT's
``gss_wrap_iov`` sees a message as typed IOV buffers (RFC 4121 §4.2 and MIT's
``gss_wrap_iov``/``gss_unwrap_iov``). The sspi layer maps each ``SecBuffer`` to one part
(:mod:`opensspi.protection`); :func:`classify_layout` names the shape the parts form; a package
declares the layouts it accepts (:attr:`opensspi.provider.SecurityContext.layouts`) and answers
with a :class:`MessageResult`: a status (``SEC_E_OK``, ``SEC_E_INCOMPLETE_MESSAGE``,
``SEC_I_CONTEXT_EXPIRED``, ``SEC_I_RENEGOTIATE``), the QOP, the bytes written back into parts,
and the EXTRA bytes / MISSING count that the sspi layer puts into the caller's EMPTY buffers.

The GSS layouts NTLM and Kerberos share (``TOKEN`` + ``DATA``..., ``STREAM`` + ``DATA``) are
handled here once, by :func:`gss_protect`, on top of a package's four per-message primitives; a
package with other shapes (Digest's trailer layouts and HTTP requests, Schannel's records)
handles them in its own ``protect``. Nothing here knows any package.

Deviation from STYLE.md's frozen dataclasses: the values built on every message call
(:class:`MessagePart`, :class:`Sealed`, :class:`Unsealed`, :class:`Sizes`, :class:`MessageResult`)
are ``NamedTuple`` classes — as immutable and typed, but built in about a tenth of the time
(a frozen dataclass sets each field through ``object.__setattr__``), which is what keeps the
Windows-function door within a few per cent of the Pythonic one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, auto
from typing import NamedTuple, Protocol

from .constants import SecStatus
from .errors import BufferTooSmall, InvalidToken


class PartKind(IntEnum):
    """What one buffer of a message is, independent of any package."""

    TOKEN = auto()  # SECBUFFER_TOKEN: the package's security token (GSS: the header)
    HEADER = auto()  # SECBUFFER_STREAM_HEADER
    DATA = auto()  # SECBUFFER_DATA: sealed and signed
    SIGN_ONLY = auto()  # DATA | SECBUFFER_READONLY_WITH_CHECKSUM: signed, never sealed
    READONLY = auto()  # DATA | SECBUFFER_READONLY: never sealed; signed or not per package
    PADDING = auto()  # SECBUFFER_PADDING
    TRAILER = auto()  # SECBUFFER_STREAM_TRAILER
    STREAM = auto()  # SECBUFFER_STREAM: token and data in one buffer
    PARAM = auto()  # SECBUFFER_PKG_PARAMS
    EMPTY = auto()  # SECBUFFER_EMPTY: a slot for an output (EXTRA, MISSING, ...)
    OTHER = auto()  # anything else; packages ignore it


class MessageOp(IntEnum):
    """The four message functions."""

    SIGN = auto()
    VERIFY = auto()
    ENCRYPT = auto()
    DECRYPT = auto()


class Layout(IntEnum):
    """The shapes a message's parts can form (see :func:`classify_layout`)."""

    TOKEN_DATA = auto()  # TOKEN + DATA... (+ PADDING): GSS per-message tokens (NTLM, Kerberos)
    STREAM_DATA = auto()  # STREAM + DATA: token‖data in one buffer, plaintext out to DATA
    DATA_TRAILER = auto()  # DATA... + PADDING (or a last DATA) as the trailer, no TOKEN
    DATA_ONLY = auto()  # one DATA holding a whole frame or record (+ EMPTY slots)
    HTTP_REQUEST = auto()  # (TOKEN +) PKG_PARAMS... + PADDING: authorize a further request
    RECORD = auto()  # STREAM_HEADER + DATA + STREAM_TRAILER (+ EMPTY): a stream record


class Sizes(NamedTuple):
    """``SecPkgContext_Sizes``."""

    max_token: int
    max_signature: int
    block_size: int
    security_trailer: int


class StreamSizes(NamedTuple):
    """``SecPkgContext_StreamSizes``: the shape of one stream record (Schannel)."""

    header: int
    trailer: int
    max_message: int
    buffers: int
    block_size: int


@dataclass(slots=True)
class Part:
    """One buffer of a message: its kind, the bytes it holds, and the room it offers.

    ``room`` is how many bytes a call may write into it; None means any size (a buffer that
    holds data, or one the package allocates).
    """

    kind: PartKind
    data: bytes
    room: int | None = None
    attrs: int = 0


class MessagePart(NamedTuple):
    """One DATA buffer of a message: ``sealed`` parts are encrypted, all ``signed`` ones MAC'd.

    ``attrs`` keeps the buffer's SECBUFFER_READONLY / READONLY_WITH_CHECKSUM bits, because the
    packages treat them differently (NTLM signs READONLY data; Kerberos ignores it and only
    checksums READONLY_WITH_CHECKSUM data).
    """

    data: bytes
    sealed: bool = True
    signed: bool = True
    attrs: int = 0


class Sealed(NamedTuple):
    """EncryptMessage's output: the security token, the parts (encrypted or not), padding."""

    token: bytes
    parts: tuple[bytes, ...]
    padding: bytes = b""


class Unsealed(NamedTuple):
    """DecryptMessage's output: the plaintext parts and the QOP that was applied."""

    parts: tuple[bytes, ...]
    qop: int = 0


class Write(NamedTuple):
    """Bytes a message call leaves in ``part`` (an index), optionally retyping its buffer.

    ``allocate`` lets the write grow past the buffer's room (the package allocated it, as
    Digest does for an HTTP request's Authorization value under ``ISC_REQ_ALLOCATE_MEMORY``).
    """

    part: int
    data: bytes
    buffer_type: int | None = None
    allocate: bool = False


class MessageResult(NamedTuple):
    """What a message call produced.

    Attributes:
        status: ``SEC_E_OK``, or a status a stream package returns instead of raising
            (``SEC_E_INCOMPLETE_MESSAGE``, ``SEC_I_CONTEXT_EXPIRED``, ``SEC_I_RENEGOTIATE``).
        qop: the quality of protection that was applied (DecryptMessage/VerifySignature).
        writes: bytes to leave in the parts, in place.
        extra: input bytes beyond what this call consumed (the real bytes, for SECBUFFER_EXTRA).
        missing: how many more bytes a complete message needs (SECBUFFER_MISSING).
    """

    status: SecStatus = SecStatus.SEC_E_OK
    qop: int = 0
    writes: tuple[Write, ...] = ()
    extra: bytes = b""
    missing: int = 0


_OK = MessageResult()

_DATA_KINDS = frozenset((PartKind.DATA, PartKind.SIGN_ONLY, PartKind.READONLY))


def classify_layout(op: MessageOp, parts: Sequence[Part]) -> Layout | None:
    """Name the shape ``parts`` form for ``op``, or None when they form none we know."""
    kinds = {p.kind for p in parts}
    if PartKind.HEADER in kinds and PartKind.TRAILER in kinds:
        return Layout.RECORD
    if PartKind.PARAM in kinds and op is MessageOp.SIGN:
        return Layout.HTTP_REQUEST
    if PartKind.STREAM in kinds:
        return Layout.STREAM_DATA
    if PartKind.TOKEN in kinds:
        return Layout.TOKEN_DATA
    data = sum(1 for p in parts if p.kind in _DATA_KINDS)
    if data and (PartKind.PADDING in kinds or data >= 2):
        return Layout.DATA_TRAILER
    if data == 1:
        return Layout.DATA_ONLY
    return None


def ensure_room(part: Part, size: int) -> None:
    """Check, before any state changes, that ``size`` bytes fit into ``part``.

    Raises:
        BufferTooSmall: they do not.
    """
    if part.room is not None and size > part.room:
        raise BufferTooSmall(
            f"The output buffer holds {part.room} bytes but {size} are needed; pass a larger "
            "SecBuffer (see QueryContextAttributes(SECPKG_ATTR_SIZES)) or request "
            "ALLOCATE_MEMORY."
        )


def first(parts: Sequence[Part], kind: PartKind) -> int | None:
    """The index of the first part of ``kind``, or None."""
    for i, part in enumerate(parts):
        if part.kind is kind:
            return i
    return None


def data_indices(parts: Sequence[Part]) -> list[int]:
    """The indices of the data parts (DATA, SIGN_ONLY and READONLY), in order."""
    return [i for i, p in enumerate(parts) if p.kind in _DATA_KINDS]


def message_parts(parts: Sequence[Part], indices: Sequence[int], seal: bool) -> tuple[
        MessagePart, ...]:
    """The data parts at ``indices`` as :class:`MessagePart` values (READONLY kinds unsealed)."""
    return tuple(
        MessagePart(
            parts[i].data, sealed=seal and parts[i].kind is PartKind.DATA, attrs=parts[i].attrs
        )
        for i in indices
    )


class GssPrimitives(Protocol):
    """The per-message primitives :func:`gss_protect` builds the GSS layouts from."""

    def make_signature(
        self, parts: Sequence[MessagePart], qop: int, seq: int | None
    ) -> bytes: ...

    def verify_signature(
        self, parts: Sequence[MessagePart], signature: bytes, seq: int | None
    ) -> int: ...

    def encrypt(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> Sealed: ...

    def decrypt(
        self, token: bytes, parts: Sequence[MessagePart], seq: int | None
    ) -> Unsealed: ...

    def split_stream(self, stream: bytes) -> tuple[bytes, bytes]: ...

    def sizes(self) -> Sizes: ...


def _need(index: int | None, what: str) -> int:
    if index is None:
        raise InvalidToken(what)
    return index


def _data(parts: Sequence[Part], call: str) -> list[int]:
    indices = data_indices(parts)
    if not indices:
        raise InvalidToken(f"{call} needs at least one SECBUFFER_DATA buffer.")
    return indices


_NEED_TOKEN = (
    "{call} needs a SECBUFFER_TOKEN buffer for the signature; add "
    "SecBuffer(SECBUFFER_TOKEN, sizes.cbSecurityTrailer) to the SecBufferDesc."
)


def gss_protect(
    ctx: GssPrimitives, op: MessageOp, layout: Layout, parts: Sequence[Part], qop: int,
    seq: int | None,
) -> MessageResult:
    """The GSS layouts: TOKEN + DATA... (+ PADDING) for all four calls, and STREAM + DATA for
    VerifySignature and DecryptMessage (the STREAM holds token‖data; DATA receives the data).

    The TOKEN buffer's room is checked against the context's trailer size before the package
    consumes a sequence number, so a call that fails for room leaves the context in step.
    """
    if layout is Layout.STREAM_DATA and op in (MessageOp.VERIFY, MessageOp.DECRYPT):
        stream = _need(first(parts, PartKind.STREAM), "no STREAM buffer")
        out = first(parts, PartKind.DATA)
        token, data = ctx.split_stream(parts[stream].data)
        if op is MessageOp.VERIFY:
            qop_out = ctx.verify_signature((MessagePart(data, sealed=False),), token, seq)
            shown = (Write(out, data),) if out is not None else ()
            return MessageResult(qop=qop_out, writes=shown)
        if out is None:
            raise InvalidToken(
                "DecryptMessage with a SECBUFFER_STREAM needs an empty SECBUFFER_DATA buffer "
                "to receive the plaintext."
            )
        result = ctx.decrypt(token, (MessagePart(data),), seq)
        return MessageResult(qop=result.qop, writes=(Write(out, result.parts[0]),))
    if layout is not Layout.TOKEN_DATA:
        raise InvalidToken(f"This package does not take the {layout.name} buffer layout.")
    call = _CALL_NAMES[op]
    token_at = _need(first(parts, PartKind.TOKEN), _NEED_TOKEN.format(call=call))
    indices = _data(parts, call)
    if op is MessageOp.SIGN:
        ensure_room(parts[token_at], ctx.sizes().max_signature)
        signature = ctx.make_signature(message_parts(parts, indices, False), qop, seq)
        return MessageResult(writes=(Write(token_at, signature),))
    if op is MessageOp.VERIFY:
        return MessageResult(qop=ctx.verify_signature(
            message_parts(parts, indices, False), parts[token_at].data, seq))
    if op is MessageOp.ENCRYPT:
        ensure_room(parts[token_at], ctx.sizes().security_trailer)
        sealed = ctx.encrypt(message_parts(parts, indices, True), qop, seq)
        padding = first(parts, PartKind.PADDING)
        if sealed.padding and padding is None:
            raise InvalidToken(
                "EncryptMessage produced padding but the SecBufferDesc has no SECBUFFER_PADDING "
                "buffer; add SecBuffer(SECBUFFER_PADDING, sizes.cbBlockSize)."
            )
        writes = [Write(token_at, sealed.token)]
        writes.extend(
            Write(i, out) for i, out in zip(indices, sealed.parts, strict=True)
            if parts[i].kind is PartKind.DATA
        )
        if padding is not None:
            writes.append(Write(padding, sealed.padding))
        return MessageResult(writes=tuple(writes))
    unsealed = ctx.decrypt(parts[token_at].data, message_parts(parts, indices, True), seq)
    return MessageResult(qop=unsealed.qop, writes=tuple(
        Write(i, plain) for i, plain in zip(indices, unsealed.parts, strict=True)
        if parts[i].kind is PartKind.DATA
    ))


_CALL_NAMES = {
    MessageOp.SIGN: "MakeSignature",
    MessageOp.VERIFY: "VerifySignature",
    MessageOp.ENCRYPT: "EncryptMessage",
    MessageOp.DECRYPT: "DecryptMessage",
}


def call_name(op: MessageOp) -> str:
    """The Windows function name of ``op``, for messages."""
    return _CALL_NAMES[op]


__all__ = [
    "GssPrimitives",
    "Layout",
    "MessageOp",
    "MessagePart",
    "MessageResult",
    "Part",
    "PartKind",
    "Sealed",
    "Sizes",
    "StreamSizes",
    "Unsealed",
    "Write",
    "call_name",
    "classify_layout",
    "ensure_room",
    "gss_protect",
]
