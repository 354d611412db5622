"""What the Digest initiator and acceptor share: the machine, the mode, and the SASL message
functions (RFC 2831 §2.3/§2.4 integrity and confidentiality layers) in Microsoft's buffer shapes."""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import (
    InvalidToken,
    QopNotSupported,
    SspiError,
    UnsupportedFunction,
)
from ...message import (
    Layout,
    MessageOp,
    MessageResult,
    Part,
    PartKind,
    Write,
    data_indices,
    ensure_room,
    first,
    gss_protect,
    message_parts,
)
from ...provider import (
    Environment,
    MessagePart,
    Sealed,
    SecurityContext,
    Sizes,
    Step,
    StepInput,
    Unsealed,
)
from ...statemachine import Machine
from .crypto import Cipher, Qop
from .machine import _DONE, _HTTP, Input, Mode, State
from .security import TRAILER, SecurityLayer
from .session import _strip_length


class _DigestContext(SecurityContext):
    """What both sides share: the machine, the mode, and the SASL message functions."""

    _machine: Machine[State, Input, Step]
    _mode: Mode
    _env: Environment
    _layer: SecurityLayer | None
    _qop: Qop | None
    _ha1: bytes | None

    #: GSS's TOKEN + DATA and STREAM + DATA; the SASL frame as DATA + trailer or as one DATA
    #: ("Protecting Messages Using Microsoft Digest"); and HTTP's further-request shape.
    layouts = frozenset((Layout.TOKEN_DATA, Layout.STREAM_DATA, Layout.DATA_TRAILER,
                         Layout.DATA_ONLY, Layout.HTTP_REQUEST))

    def step(self, inp: StepInput) -> Step:
        """One InitializeSecurityContext / AcceptSecurityContext call: the handler for the
        event :meth:`_classify` names gets ``(self, payload, inp)``."""
        return self._machine.leg(self._classify, self, inp)

    def _classify(self, token: bytes | None) -> tuple[Input, object]:
        raise NotImplementedError

    def protect(
        self, op: MessageOp, layout: Layout, parts: list[Part], qop: int, seq: int | None
    ) -> MessageResult:
        """Digest's message shapes; the GSS ones go to :func:`~opensspi.message.gss_protect`.

        - HTTP: every MakeSignature authorizes a further request (:meth:`_authorize`).
        - SASL EncryptMessage/DecryptMessage: the RFC 2831 frame is the DATA buffer(s) followed
          by a trailer in a PADDING buffer (or a last DATA buffer); DecryptMessage also takes one
          DATA buffer holding the whole frame, which the package splits.
        """
        if self._mode is _HTTP and op is MessageOp.SIGN:
            return self._authorize(parts, qop)
        if layout is Layout.DATA_TRAILER and op in (MessageOp.ENCRYPT, MessageOp.DECRYPT):
            return self._trailer_frame(op, parts, qop, seq)
        if layout is Layout.DATA_ONLY and op is MessageOp.DECRYPT:
            only = data_indices(parts)[0]
            token, ciphertext = self.split_stream(parts[only].data)
            result = self.decrypt(token, (MessagePart(ciphertext),), seq)
            return MessageResult(qop=result.qop, writes=(Write(only, result.parts[0]),))
        return gss_protect(self, op, layout, parts, qop, seq)

    def _trailer_frame(
        self, op: MessageOp, parts: list[Part], qop: int, seq: int | None
    ) -> MessageResult:
        data = data_indices(parts)
        trailer = first(parts, PartKind.PADDING)
        if trailer is None:
            trailer, data = data[-1], data[:-1]
        if op is MessageOp.ENCRYPT:
            sizes = self.sizes()
            ensure_room(parts[trailer], sizes.max_signature + sizes.block_size)
            sealed = self.encrypt(message_parts(parts, data, True), qop, seq)
            writes = [Write(trailer, sealed.token + sealed.padding)]
            out = sealed.parts
        else:
            unsealed = self.decrypt(parts[trailer].data, message_parts(parts, data, True), seq)
            writes, out = [], unsealed.parts
        writes.extend(
            Write(i, b) for i, b in zip(data, out, strict=True) if parts[i].kind is PartKind.DATA
        )
        return MessageResult(writes=tuple(writes))

    def _authorize(self, parts: list[Part], qop: int) -> MessageResult:
        raise UnsupportedFunction(
            "This Digest context authorizes no HTTP requests; only an HTTP initiator does."
        )

    @property
    def state(self) -> State:
        """The machine's current state (read-only)."""
        return self._machine.state

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def complete(self) -> bool:
        return self._machine.state in _DONE

    @property
    def qop(self) -> Qop | None:
        """The negotiated quality of protection, once known."""
        return self._qop

    @property
    def cipher(self) -> Cipher | None:
        """The SASL cipher of an auth-conf context."""
        return self._layer.cipher if self._layer is not None else None

    @property
    def session_key(self) -> bytes | None:
        """SASL: the binary H(A1) every layer key derives from (RFC 2831 §2.3)."""
        return self._ha1 if self.complete else None

    @property
    def max_message(self) -> int:
        """The largest message one SASL frame may carry (the peer's maxbuf minus overhead)."""
        return self._require_layer().max_message

    def sizes(self) -> Sizes:
        """``SECPKG_ATTR_SIZES``: the 16-byte trailer; CBC ciphers add up to 8 bytes of pad."""
        layer = self._layer
        if layer is None:
            return Sizes(self.info.max_token, 0, 0, 0)
        block = layer.cipher.block_size if layer.cipher is not None else 0
        return Sizes(self.info.max_token, TRAILER, block, TRAILER + (block if block > 1 else 0))

    def _require_layer(self) -> SecurityLayer:
        if self._mode is Mode.HTTP:
            raise UnsupportedFunction(
                "Message protection is available in Digest's SASL mode only; an HTTP context "
                "authorizes requests (MakeSignature with the five HTTP buffers) instead."
            )
        if not self.complete:
            raise InvalidToken(
                "The Digest handshake is not complete; finish it before protecting messages."
            )
        if self._layer is None:
            raise QopNotSupported(
                "This context negotiated qop=auth, which has no security layer; request "
                "INTEGRITY (auth-int) or CONFIDENTIALITY (auth-conf) when initializing it."
            )
        return self._layer

    @staticmethod
    def _check_call(qop: int, seq: int | None) -> None:
        if qop:
            raise QopNotSupported(
                f"Digest takes fQOP 0 (got {qop:#x}); the qop was fixed by the handshake."
            )
        # MessageSeqNo is ignored: "the Digest SSP keeps its own sequence numbers" (Microsoft,
        # "MakeSignature (Digest)"); pywin32's sspi helper passes an increasing value.
        del seq

    def make_signature(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> bytes:
        """MakeSignature (Digest, SASL): the 16-byte trailer for the DATA buffers."""
        layer = self._require_layer()
        self._check_call(qop, seq)
        return layer.sign(b"".join(p.data for p in parts if p.signed))

    def verify_signature(
        self, parts: Sequence[MessagePart], signature: bytes, seq: int | None
    ) -> int:
        """VerifySignature (Digest, SASL); the sequence number must be the next expected."""
        layer = self._require_layer()
        self._check_call(0, seq)
        layer.verify(b"".join(p.data for p in parts if p.signed), signature)
        return 0

    def encrypt(self, parts: Sequence[MessagePart], qop: int, seq: int | None) -> Sealed:
        """EncryptMessage (Digest, SASL auth-conf): DATA encrypted in place, trailer separate.

        ``Sealed.token`` is the rest of the RFC 2831 frame (encrypted pad and MAC, 0x0001,
        SeqNum); Windows writes it to the SECBUFFER_PADDING (or second DATA) buffer, and on the
        wire it follows the data.
        """
        layer = self._require_layer()
        if not layer.confidential:
            raise QopNotSupported(
                "EncryptMessage needs qop=auth-conf; this context negotiated auth-int. Use "
                "MakeSignature, or request CONFIDENTIALITY."
            )
        self._check_call(qop, seq)
        for part in parts:
            if part.signed and not part.sealed:
                raise UnsupportedFunction(
                    "Digest cannot sign a buffer without encrypting it; pass it as DATA."
                )
        sealed = [i for i, p in enumerate(parts) if p.sealed]
        frame = layer.seal(b"".join(parts[i].data for i in sealed))
        out = [p.data for p in parts]
        offset = 0
        for i in sealed:
            size = len(parts[i].data)
            out[i] = frame[offset : offset + size]
            offset += size
        return Sealed(frame[offset:], tuple(out))

    def decrypt(self, token: bytes, parts: Sequence[MessagePart], seq: int | None) -> Unsealed:
        """DecryptMessage (Digest, SASL auth-conf): the frame is the DATA followed by ``token``.

        With an empty ``token`` the DATA buffer holds the whole frame, optionally with its
        four-byte SASL length prefix. The plaintext is returned in the first DATA part.
        """
        layer = self._require_layer()
        if not layer.confidential:
            raise QopNotSupported("DecryptMessage needs qop=auth-conf; use VerifySignature.")
        self._check_call(0, seq)
        sealed = [i for i, p in enumerate(parts) if p.sealed]
        frame = b"".join(parts[i].data for i in sealed) + token
        message = layer.unseal(frame if token else _strip_length(frame))
        out = [p.data for p in parts]
        for n, i in enumerate(sealed):
            out[i] = message if n == 0 else b""
        return Unsealed(tuple(out), 0)

    def split_stream(self, stream: bytes) -> tuple[bytes, bytes]:
        """Split a received frame into (trailer, data): the last 16 bytes follow the data.

        An RFC 2222 length prefix is removed first. For auth-conf the split is positional only;
        :meth:`decrypt` joins data and token back into the frame.
        """
        self._require_layer()
        frame = _strip_length(stream)
        if len(frame) < TRAILER:
            raise InvalidToken(
                f"A {len(frame)}-byte stream is shorter than the {TRAILER}-byte Digest trailer."
            )
        return frame[-TRAILER:], frame[:-TRAILER]

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        """One RFC 2831 frame for ``data`` (without the SASL length prefix).

        auth-conf contexts seal; auth-int contexts sign (``encrypt`` cannot add secrecy that
        was not negotiated). ``encrypt=False`` on an auth-conf context signs only.
        """
        layer = self._require_layer()
        if layer.confidential and encrypt:
            return layer.seal(data)
        return data + layer.sign(data)

    def unwrap(self, message: bytes) -> bytes:
        """Check (and decrypt) one frame from the peer, with or without its length prefix."""
        layer = self._require_layer()
        if layer.confidential:
            return layer.unseal(_strip_length(message))
        stripped = _strip_length(message)
        candidates = [stripped, message] if stripped is not message else [message]
        first: SspiError | None = None
        for frame in candidates:
            if len(frame) < TRAILER:
                continue
            try:
                layer.verify(frame[:-TRAILER], frame[-TRAILER:])
            except SspiError as exc:
                first = first or exc
                continue
            return frame[:-TRAILER]
        raise first or InvalidToken(
            f"A {len(message)}-byte message is shorter than the {TRAILER}-byte Digest trailer."
        )
