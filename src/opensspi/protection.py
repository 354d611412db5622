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
"""

from __future__ import annotations

from .buffers import SecBuffer, SecBufferDesc
from .constants import SecBufferAttr, SecBufferType
from .errors import InvalidToken
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
_OK = MessageResult()
_GSS_DEFAULT: dict[type, bool] = {}


def _uses_gss_default(ctx: SecurityContext) -> bool:
    cls = type(ctx)
    known = _GSS_DEFAULT.get(cls)
    if known is None:
        known = _GSS_DEFAULT[cls] = cls.protect is SecurityContext.protect
    return known


def _fast(ctx: SecurityContext, op: MessageOp, bufs: list[SecBuffer], qop: int,
          seq: int) -> MessageResult | None:
    """The two-buffer GSS shapes (TOKEN + DATA either way round, STREAM + DATA) straight onto
    the package's primitives, for packages whose ``protect`` is the GSS default: the same
    result as the general path, without building parts — the door stays thin."""
    first, second = bufs
    a, b = first.BufferType, second.BufferType
    if a == _DATA_T and b == _TOKEN:
        token, data = second, first
    elif a == _TOKEN and b == _DATA_T:
        token, data = first, second
    elif a == _STREAM and b == _DATA_T and op in (MessageOp.DECRYPT, MessageOp.VERIFY):
        sig, plain = ctx.split_stream(first._data)
        if op is MessageOp.VERIFY:
            qop = ctx.verify_signature((MessagePart(plain, sealed=False),), sig, seq)
            second.buffer = plain
            return MessageResult(qop=qop) if qop else _OK
        opened = ctx.unseal_one(sig, plain)
        second.buffer = opened.parts[0]
        return MessageResult(qop=opened.qop) if opened.qop else _OK
    else:
        return None
    if op is MessageOp.ENCRYPT:
        token.ensure_room(ctx.sizes().security_trailer)
        sealed = ctx.seal_one(data._data, qop)
        if sealed.padding:
            raise InvalidToken(
                "EncryptMessage produced padding but the SecBufferDesc has no SECBUFFER_PADDING "
                "buffer; add SecBuffer(SECBUFFER_PADDING, sizes.cbBlockSize)."
            )
        token.fill(sealed.token, False)
        data.buffer = sealed.parts[0]
        return _OK
    if op is MessageOp.DECRYPT:
        opened = ctx.unseal_one(token._data, data._data)
        data.buffer = opened.parts[0]
        return MessageResult(qop=opened.qop) if opened.qop else _OK
    if op is MessageOp.SIGN:
        token.ensure_room(ctx.sizes().max_signature)
        token.fill(ctx.make_signature((MessagePart(data._data, sealed=False),), qop, seq), False)
        return _OK
    qop = ctx.verify_signature((MessagePart(data._data, sealed=False),), token._data, seq)
    return MessageResult(qop=qop) if qop else _OK


def protect(
    ctx: SecurityContext, op: MessageOp, desc: SecBufferDesc, qop: int, seq: int
) -> MessageResult:
    """Run one message function on ``desc`` in place and return the package's result."""
    bufs = desc.buffers
    if len(bufs) == 2 and (_GSS_DEFAULT.get(type(ctx)) or _uses_gss_default(ctx)):
        done = _fast(ctx, op, bufs, qop, seq)
        if done is not None:
            return done
    elif len(bufs) == 4 and ctx.stream_message is not None:
        done = ctx.stream_message(op, bufs)
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


__all__ = ["apply", "fill_extra_missing", "protect", "to_parts"]
