"""Map the Windows buffer shapes of the message functions onto a package's message calls.

Shapes accepted (as Windows' NTLM and Kerberos packages accept them):

- sign / verify: ``TOKEN`` + one or more ``DATA`` buffers, in any order; READONLY data is signed.
- encrypt: ``TOKEN`` + ``DATA``... (+ ``PADDING``); a ``DATA`` buffer marked
  ``SECBUFFER_READONLY`` or ``SECBUFFER_READONLY_WITH_CHECKSUM`` is signed but not sealed.
- decrypt: ``TOKEN`` + ``DATA``..., or ``STREAM`` + ``DATA`` where the STREAM buffer holds
  token‖ciphertext and the DATA buffer receives the plaintext.
- Digest's shapes, which have no TOKEN buffer: encrypt ``DATA`` + ``PADDING`` (or a second
  ``DATA``) that receives the trailer; decrypt the same pair, or one ``DATA`` holding the whole
  frame, which the package splits.

The token buffer's size is a limit: a token that does not fit gives ``SEC_E_BUFFER_TOO_SMALL``,
checked against the context's ``SECPKG_ATTR_SIZES`` before the package consumes a sequence
number, so the failed call leaves the context in step with its peer.
"""

from __future__ import annotations

from .buffers import SecBuffer, SecBufferDesc
from .constants import SECBUFFER_ATTRMASK, SecBufferType
from .errors import InvalidToken
from .provider import MessagePart, SecurityContext


def _token_buffer(desc: SecBufferDesc, call: str) -> SecBuffer:
    buf = desc.first(SecBufferType.TOKEN)
    if buf is None:
        raise InvalidToken(
            f"{call} needs a SECBUFFER_TOKEN buffer for the signature; add "
            "SecBuffer(SECBUFFER_TOKEN, sizes.cbSecurityTrailer) to the SecBufferDesc."
        )
    return buf


def _data_buffers(desc: SecBufferDesc, call: str) -> list[SecBuffer]:
    data = desc.all(SecBufferType.DATA)
    if not data:
        raise InvalidToken(f"{call} needs at least one SECBUFFER_DATA buffer.")
    return data


def _parts(buffers: list[SecBuffer], seal: bool) -> tuple[MessagePart, ...]:
    return tuple(
        MessagePart(
            b.buffer,
            sealed=seal and not (b.readonly or b.readonly_with_checksum),
            signed=True,
            attrs=b.BufferType & SECBUFFER_ATTRMASK,
        )
        for b in buffers
    )


def make_signature(ctx: SecurityContext, qop: int, desc: SecBufferDesc, seq: int) -> None:
    if ctx.sign_buffers(desc, qop, seq):
        return
    token = _token_buffer(desc, "MakeSignature")
    parts = _parts(_data_buffers(desc, "MakeSignature"), seal=False)
    # Checked before the package spends a sequence number and key stream on a lost signature.
    token.ensure_room(ctx.sizes().max_signature)
    token.fill(ctx.make_signature(parts, qop, seq), allocate=False)


def verify_signature(ctx: SecurityContext, desc: SecBufferDesc, seq: int) -> int:
    stream = desc.first(SecBufferType.STREAM)
    if stream is not None:
        signature, data = ctx.split_stream(stream.buffer)
        parts: tuple[MessagePart, ...] = (MessagePart(data, sealed=False),)
        qop = ctx.verify_signature(parts, signature, seq)
        out = desc.first(SecBufferType.DATA)
        if out is not None:
            out.buffer = data
        return qop
    token = _token_buffer(desc, "VerifySignature")
    parts = _parts(_data_buffers(desc, "VerifySignature"), seal=False)
    return ctx.verify_signature(parts, token.buffer, seq)


def _trailer_shape(desc: SecBufferDesc, call: str) -> tuple[SecBuffer, list[SecBuffer]] | None:
    """Digest's shape without a TOKEN buffer: DATA holds the message and the trailer goes to a
    PADDING buffer or a second DATA buffer ("Protecting Messages Using Microsoft Digest")."""
    if desc.first(SecBufferType.TOKEN) is not None or desc.first(SecBufferType.STREAM):
        return None
    data = _data_buffers(desc, call)
    padding = desc.first(SecBufferType.PADDING)
    if padding is not None:
        return padding, data
    if len(data) >= 2:
        return data[-1], data[:-1]
    return None


def encrypt_message(ctx: SecurityContext, qop: int, desc: SecBufferDesc, seq: int) -> None:
    shape = _trailer_shape(desc, "EncryptMessage")
    if shape is not None:
        trailer, data = shape
        sizes = ctx.sizes()
        trailer.ensure_room(sizes.max_signature + sizes.block_size)
        sealed = ctx.encrypt(_parts(data, seal=True), qop, seq)
        trailer.fill(sealed.token + sealed.padding, allocate=False)
        for buf, out in zip(data, sealed.parts, strict=True):
            if not (buf.readonly or buf.readonly_with_checksum):
                buf.buffer = out
        return
    token = _token_buffer(desc, "EncryptMessage")
    data = _data_buffers(desc, "EncryptMessage")
    token.ensure_room(ctx.sizes().security_trailer)
    sealed = ctx.encrypt(_parts(data, seal=True), qop, seq)
    padding = desc.first(SecBufferType.PADDING)
    if sealed.padding and padding is None:
        raise InvalidToken(
            "EncryptMessage produced padding but the SecBufferDesc has no SECBUFFER_PADDING "
            "buffer; add SecBuffer(SECBUFFER_PADDING, sizes.cbBlockSize)."
        )
    token.fill(sealed.token, allocate=False)
    for buf, out in zip(data, sealed.parts, strict=True):
        if not (buf.readonly or buf.readonly_with_checksum):
            buf.buffer = out
    if padding is not None:
        padding.fill(sealed.padding, allocate=False)


def decrypt_message(ctx: SecurityContext, desc: SecBufferDesc, seq: int) -> int:
    stream = desc.first(SecBufferType.STREAM)
    if stream is not None:
        out = desc.first(SecBufferType.DATA)
        if out is None:
            raise InvalidToken(
                "DecryptMessage with a SECBUFFER_STREAM needs an empty SECBUFFER_DATA buffer "
                "to receive the plaintext."
            )
        token_bytes, ciphertext = ctx.split_stream(stream.buffer)
        result = ctx.decrypt(token_bytes, (MessagePart(ciphertext),), seq)
        out.buffer = result.parts[0]
        return result.qop
    shape = _trailer_shape(desc, "DecryptMessage")
    if shape is not None:
        trailer, data = shape
        result = ctx.decrypt(trailer.buffer, _parts(data, seal=True), seq)
    elif desc.first(SecBufferType.TOKEN) is None and len(desc.all(SecBufferType.DATA)) == 1:
        # One DATA buffer holding the whole message (Digest): the package splits it.
        only = _data_buffers(desc, "DecryptMessage")[0]
        token_bytes, ciphertext = ctx.split_stream(only.buffer)
        result = ctx.decrypt(token_bytes, (MessagePart(ciphertext),), seq)
        only.buffer = result.parts[0]
        return result.qop
    else:
        data = _data_buffers(desc, "DecryptMessage")
        result = ctx.decrypt(
            _token_buffer(desc, "DecryptMessage").buffer, _parts(data, seal=True), seq
        )
    for buf, plain in zip(data, result.parts, strict=True):
        if not (buf.readonly or buf.readonly_with_checksum):
            buf.buffer = plain
    return result.qop
