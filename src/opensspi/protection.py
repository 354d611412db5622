"""Map the Windows buffers of the message functions onto a package's message model.

Each ``SecBuffer`` becomes one typed :class:`~opensspi.message.Part` (TOKEN, STREAM_HEADER, DATA,
DATA marked READONLY / READONLY_WITH_CHECKSUM, PADDING, STREAM_TRAILER, STREAM, PKG_PARAMS,
EMPTY); :func:`~opensspi.message.classify_layout` names the shape they form; the package, which
declares the layouts it takes, does the work and returns a :class:`~opensspi.message.MessageResult`.
This module then writes the result back in place — each write checked against its buffer's size
(``SEC_E_BUFFER_TOO_SMALL``) — and turns the caller's EMPTY buffers into SECBUFFER_EXTRA (the
real trailing bytes) and SECBUFFER_MISSING (the count) as Windows' stream packages do.

No package is special-cased here: Digest's trailer layouts and HTTP requests, and Schannel's
records, are the packages' own ``protect``.

The two-buffer GSS shapes most programs use (``[DATA, TOKEN]``; ``[STREAM, DATA]`` to open)
skip all of this: :class:`GssDoor` calls the context's per-message primitives directly, so
that the Windows functions and the pywin32 look-alikes cost little more than the Pythonic
``wrap``/``unwrap``.
"""

from __future__ import annotations

from .buffers import SecBuffer, SecBufferDesc
from .constants import SecBufferAttr, SecBufferType
from .errors import InvalidToken
from .handles import CtxtRecord
from .message import (
    Layout,
    MessageOp,
    MessagePart,
    MessageResult,
    Part,
    PartKind,
    call_name,
    classify_layout,
)
from .provider import SecurityContext

_KIND_OF: dict[int, PartKind] = {
    SecBufferType.TOKEN: PartKind.TOKEN,
    SecBufferType.STREAM_HEADER: PartKind.HEADER,
    SecBufferType.DATA: PartKind.DATA,
    SecBufferType.PADDING: PartKind.PADDING,
    SecBufferType.STREAM_TRAILER: PartKind.TRAILER,
    SecBufferType.STREAM: PartKind.STREAM,
    SecBufferType.PKG_PARAMS: PartKind.PARAM,
    SecBufferType.EMPTY: PartKind.EMPTY,
}
_IN_PLACE = frozenset((int(SecBufferType.DATA), int(SecBufferType.EMPTY)))
_WITH_CHECKSUM = int(SecBufferAttr.READONLY_WITH_CHECKSUM)
_READONLY = int(SecBufferAttr.READONLY)
_ATTRS = _WITH_CHECKSUM | _READONLY


def to_parts(desc: SecBufferDesc) -> list[Part]:
    """One :class:`Part` per buffer, in order."""
    parts = []
    for buf in desc.buffers:
        raw = buf.BufferType
        kind = _KIND_OF.get(raw & ~_ATTRS, PartKind.OTHER)
        if kind is PartKind.DATA and raw & _ATTRS:
            kind = PartKind.SIGN_ONLY if raw & _WITH_CHECKSUM else PartKind.READONLY
        parts.append(Part(kind, buf.buffer, buf._capacity, raw & _ATTRS))
    return parts


def apply(desc: SecBufferDesc, result: MessageResult) -> None:
    """Write ``result`` back into ``desc``: the parts' new bytes, then EXTRA and MISSING."""
    buffers = desc.buffers
    for write in result.writes:
        buf = buffers[write.part]
        if buf.kind in _IN_PLACE:
            # Data is transformed in place (the caller's DATA buffer may even be an empty
            # receiver for a STREAM's plaintext), and an EMPTY slot is pointed at part of the
            # message, as Windows' stream packages do: neither has a size to respect.
            buf.buffer = write.data
        else:
            buf.fill(write.data, write.allocate)
        if write.buffer_type is not None:
            buf.BufferType = write.buffer_type
    if result.extra or result.missing:
        written = {w.part for w in result.writes}
        fill_extra_missing(desc, result.extra, result.missing, skip=written)


def fill_extra_missing(
    desc: SecBufferDesc, extra: bytes, missing: int, skip: set[int] | None = None
) -> None:
    """Turn the first unused EMPTY buffer into SECBUFFER_EXTRA (holding the real trailing bytes)
    or SECBUFFER_MISSING (``cbBuffer`` = the count, no data), as Windows' stream packages do.
    Without an EMPTY buffer the information has nowhere to go, and the caller must have given
    one: SEC_E_INVALID_TOKEN says so."""
    for i, buf in enumerate(desc.buffers):
        if buf.kind == SecBufferType.EMPTY and (skip is None or i not in skip):
            if extra:
                buf.BufferType = SecBufferType.EXTRA
                buf.buffer = extra
            else:
                buf.BufferType = SecBufferType.MISSING
                buf.set_count(missing)
            return
    what = "SECBUFFER_EXTRA" if extra else "SECBUFFER_MISSING"
    raise InvalidToken(
        f"The call must report {what} but the SecBufferDesc has no SECBUFFER_EMPTY buffer to "
        "hold it; pass one more SecBuffer(SECBUFFER_EMPTY)."
    )


_TOKEN = int(SecBufferType.TOKEN)
_STREAM = int(SecBufferType.STREAM)
_DATA_T = int(SecBufferType.DATA)
_NO_PADDING = (
    "EncryptMessage produced padding but the SecBufferDesc has no SECBUFFER_PADDING buffer; "
    "add SecBuffer(SECBUFFER_PADDING, sizes.cbBlockSize)."
)


class GssDoor:
    """One complete context's per-message primitives, looked up once, for the two-buffer GSS
    shapes (TOKEN + DATA either way round; STREAM + DATA to verify or decrypt) of a package
    whose ``protect`` is the GSS default.

    This is what keeps the Windows functions and the pywin32 look-alikes thin over the same
    calls the Pythonic ``wrap``/``unwrap`` make: the buffer types are plain int comparisons,
    the package's ``seal_one``/``unseal_one`` are bound once, the context's sizes (fixed once
    the handshake is complete) are read once. The results, the checks and their order are
    those of the general path (:func:`protect`): the TOKEN buffer's room is checked before the
    package consumes a sequence number, every write honours the buffer's size.

    A door names the context it was made for: :func:`door_for` makes a new one when a
    re-authentication replaced the record's context. A context that hands its messages to
    another (Negotiate) gets the door of that one; ``gss`` is False for a context that handles
    its messages itself (Digest, Schannel): the general path serves it.
    """

    __slots__ = ("context", "gss", "messages", "seal", "signature", "trailer", "unseal")

    def __init__(self, ctx: SecurityContext) -> None:
        self.context = ctx
        # The context that does the work: ``ctx`` itself, or the one it hands its messages to
        # (Negotiate's mechanism), whose answers are then ``ctx``'s own.
        messages = self.messages = ctx.message_context
        self.gss = type(messages).protect is SecurityContext.protect
        self.seal = messages.seal_one
        self.unseal = messages.unseal_one
        if self.gss:
            sizes = messages.sizes()
            self.trailer = sizes.security_trailer
            self.signature = sizes.max_signature

    def encrypt(self, bufs: list[SecBuffer], qop: int) -> bool:
        """EncryptMessage on ``[DATA, TOKEN]`` or ``[TOKEN, DATA]`` in place; False (nothing
        done) for any other pair of buffers."""
        first, second = bufs
        kind = first.BufferType
        if kind == _DATA_T:
            if second.BufferType != _TOKEN:
                return False
            data, token = first, second
        elif kind == _TOKEN and second.BufferType == _DATA_T:
            token, data = first, second
        else:
            return False
        room = token._capacity
        if room is not None and self.trailer > room:
            token.ensure_room(self.trailer)
        sealed, out, padding = self.seal(data._data, qop)
        if padding:
            raise InvalidToken(_NO_PADDING)
        if room is not None and len(sealed) > room:
            token.ensure_room(len(sealed))
        token._data = sealed
        token._capacity = None
        token.allocated = False
        data._data = out if type(out) is bytes else bytes(out)
        data._capacity = None
        return True

    def decrypt(self, bufs: list[SecBuffer]) -> int | None:
        """DecryptMessage on ``[DATA, TOKEN]``, ``[TOKEN, DATA]`` or ``[STREAM, DATA]`` in
        place: the QOP applied, or None (nothing done) for any other pair of buffers."""
        first, second = bufs
        kind = first.BufferType
        if kind == _DATA_T:
            if second.BufferType != _TOKEN:
                return None
            out, qop = self.unseal(second._data, first._data)
            data = first
        elif second.BufferType != _DATA_T:
            return None
        elif kind == _TOKEN:
            out, qop = self.unseal(first._data, second._data)
            data = second
        elif kind == _STREAM:
            out, qop = self.unseal(*self.messages.split_stream(first._data))
            data = second
        else:
            return None
        data._data = out if type(out) is bytes else bytes(out)
        data._capacity = None
        return qop

    def sign(self, bufs: list[SecBuffer], qop: int, seq: int) -> bool:
        """MakeSignature on ``[DATA, TOKEN]`` or ``[TOKEN, DATA]``; False for other pairs."""
        first, second = bufs
        kind = first.BufferType
        if kind == _DATA_T and second.BufferType == _TOKEN:
            data, token = first, second
        elif kind == _TOKEN and second.BufferType == _DATA_T:
            token, data = first, second
        else:
            return False
        token.ensure_room(self.signature)
        signature = self.messages.make_signature(
            (MessagePart(data._data, sealed=False),), qop, seq)
        token.fill(signature, False)
        return True

    def verify(self, bufs: list[SecBuffer], seq: int) -> int | None:
        """VerifySignature on ``[DATA, TOKEN]``, ``[TOKEN, DATA]`` or ``[STREAM, DATA]`` (the
        data is then written to DATA): the QOP, or None for any other pair of buffers."""
        first, second = bufs
        kind = first.BufferType
        if kind == _DATA_T and second.BufferType == _TOKEN:
            data, token = first._data, second._data
        elif kind == _TOKEN and second.BufferType == _DATA_T:
            token, data = first._data, second._data
        elif kind == _STREAM and second.BufferType == _DATA_T:
            token, data = self.messages.split_stream(first._data)
            qop = self.messages.verify_signature((MessagePart(data, sealed=False),), token, seq)
            second.buffer = data
            return qop
        else:
            return None
        return self.messages.verify_signature((MessagePart(data, sealed=False),), token, seq)

    def seal_data(self, data: bytes) -> tuple[bytes, bytes]:
        """EncryptMessage(0) of ``[DATA(data), TOKEN(cbSecurityTrailer bytes)]``, without the
        buffers: the sealed data and the token (pywin32's ``encrypt``)."""
        sealed, out, padding = self.seal(data, 0)
        if padding:
            raise InvalidToken(_NO_PADDING)
        if len(sealed) > self.trailer:
            SecBuffer(_TOKEN, self.trailer).ensure_room(len(sealed))
        return (out if type(out) is bytes else bytes(out)), sealed

    def sign_data(self, data: bytes, seq: int) -> bytes:
        """MakeSignature(0) of ``[DATA(data), TOKEN(cbMaxSignature bytes)]``, without the
        buffers: the signature (pywin32's ``sign``)."""
        signature = self.messages.make_signature((MessagePart(data, sealed=False),), 0, seq)
        if len(signature) > self.signature:
            SecBuffer(_TOKEN, self.signature).ensure_room(len(signature))
        return signature

    def verify_data(self, data: bytes, signature: bytes, seq: int) -> int:
        """VerifySignature of ``[DATA(data), TOKEN(signature)]``, without the buffers: the
        QOP (pywin32's ``verify``)."""
        return self.messages.verify_signature((MessagePart(data, sealed=False),), signature, seq)

    def unseal_data(self, data: bytes, token: bytes) -> bytes:
        """DecryptMessage of ``[DATA(data), TOKEN(token)]``, without the buffers: the
        plaintext (pywin32's ``decrypt``)."""
        out = self.unseal(token, data)[0]
        return out if type(out) is bytes else bytes(out)


def door_for(record: CtxtRecord) -> GssDoor | None:
    """The record's :class:`GssDoor` when the two-buffer GSS shapes may take it now: the
    context is live, complete, and leaves its messages to the GSS default; else None (the
    general path then gives every answer, errors included).

    A door is made only for a complete context, and every handshake call on the record drops
    it (``sspi._handshake``), so while it names the record's context that context is still
    complete: the check costs no call into the package.
    """
    door = record.door
    if door is None or door.context is not record.context:
        ctx = record.context
        if record.dead or not ctx.complete:
            return None
        door = record.door = GssDoor(ctx)
    if door.gss and not record.dead:
        return door
    return None


def protect(
    ctx: SecurityContext, op: MessageOp, desc: SecBufferDesc, qop: int, seq: int
) -> MessageResult:
    """Run one message function on ``desc`` in place and return the package's result."""
    if len(desc) == 4 and ctx.stream_message is not None:
        # Schannel's one-record shapes: the package frames and fills the buffers itself.
        done = ctx.stream_message(op, desc)
        if done is not None:
            return done
    parts = to_parts(desc)
    layout = classify_layout(op, parts)
    if layout is None or layout not in ctx.layouts:
        raise InvalidToken(_no_layout(ctx, op, layout))
    result = ctx.protect(op, layout, parts, qop, seq)
    apply(desc, result)
    return result


def _no_layout(ctx: SecurityContext, op: MessageOp, layout: Layout | None) -> str:
    call = call_name(op)
    if layout is None and Layout.TOKEN_DATA in ctx.layouts:
        return f"{call} needs at least one SECBUFFER_DATA buffer."
    if layout in (Layout.DATA_ONLY, Layout.DATA_TRAILER) and Layout.TOKEN_DATA in ctx.layouts:
        return (
            f"{call} needs a SECBUFFER_TOKEN buffer for the signature; add "
            "SecBuffer(SECBUFFER_TOKEN, sizes.cbSecurityTrailer) to the SecBufferDesc."
        )
    shape = layout.name if layout is not None else "no recognisable"
    takes = ", ".join(sorted(lay.name for lay in ctx.layouts))
    return f"{call} got a {shape} buffer layout; the {ctx.info.name} package takes {takes}."


__all__ = ["GssDoor", "apply", "door_for", "fill_extra_missing", "protect", "to_parts"]
