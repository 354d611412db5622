"""The SASL DIGEST-MD5 security layer: integrity (``auth-int``) and confidentiality (``auth-conf``).

RFC 2831 §2.3 and §2.4 (https://www.rfc-editor.org/rfc/rfc2831#section-2.3), as Cyrus SASL
implements them (digest.md §A.5). A frame is::

    auth-int:   msg ‖ HMAC-MD5(Ki, SeqNum ‖ msg)[0..9] ‖ 0x0001 ‖ SeqNum
    auth-conf:  CIPHER(Kc, msg ‖ pad ‖ HMAC-MD5(Ki, SeqNum ‖ msg)[0..9]) ‖ 0x0001 ‖ SeqNum

SeqNum is a 4-byte big-endian counter per direction, starting at 0. The 4-byte SASL length
prefix of RFC 2222 belongs to the application and is not produced here.

Windows' Digest SSP shapes (Microsoft "MakeSignature (Digest)", "EncryptMessage (Digest)"):
MakeSignature puts the 16-byte trailer in a SECBUFFER_TOKEN beside the SECBUFFER_DATA;
EncryptMessage encrypts the DATA buffer in place and writes the rest of the frame (the
encrypted pad and MAC, then 0x0001 ‖ SeqNum) into a second buffer of type SECBUFFER_PADDING
or SECBUFFER_DATA. On the wire that second part *follows* the data, so the "token" of this
package is a trailer: ``frame = data ‖ token``.

A failed check after decryption leaves the cipher state (RC4 keystream, CBC chain) out of step
with the peer; the receiving direction is then dead and says so. A replayed or reordered frame
is caught from its clear-text SeqNum before anything is decrypted, so it leaves the layer usable.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import CipherContext, modes

from ...errors import (
    ContextExpired,
    InvalidParameter,
    InvalidToken,
    MessageAltered,
    OutOfSequence,
    QopNotSupported,
)
from .crypto import Cipher, Qop, des_key, kcc, kcs, kic, kis
from .legacy import legacy_cipher_context

TRAILER = 16
"""Bytes after the message in an auth-int frame: 10 MAC bytes, 0x0001 and the SeqNum."""

DEFAULT_MAXBUF = 65536
"""RFC 2831 §2.1.1: maxbuf when the directive is absent."""

MAX_MAXBUF = 16777215
"""RFC 2831 §2.1.1: the largest legal maxbuf."""

_VERSION = b"\x00\x01"
_SEQ = struct.Struct(">I")
_SEQ_LIMIT = 1 << 32


def cipher_context(cipher: Cipher, kc: bytes, encrypt: bool) -> CipherContext:
    """A running cipher context for one direction, RFC 2831 §2.4.

    ::

        rc4:  RC4 keyed with the 16-byte Kc
        3des: two-key triple DES (EDE) in CBC mode; k1 = Kc[0..6], k2 = Kc[7..13],
              each spread to 8 bytes with parity; IV = Kc[8..15]

    The legacy ciphers come from :mod:`.legacy`.
    """
    if cipher is Cipher.RC4:
        rc4 = _Cipher(ARC4(kc), mode=None)
        return rc4.encryptor() if encrypt else rc4.decryptor()
    if cipher is Cipher.TRIPLE_DES:
        k1, k2 = des_key(kc[:7]), des_key(kc[7:14])
        des3 = _Cipher(TripleDES(k1 + k2 + k1), modes.CBC(kc[8:16]))
        return des3.encryptor() if encrypt else des3.decryptor()
    return legacy_cipher_context(cipher, kc, encrypt)


@dataclass(frozen=True, slots=True)
class LayerKeys:
    """The four keys of one side, RFC 2831 §2.3-§2.4. Bytes are hidden from ``repr``."""

    send_integrity: bytes = field(repr=False)
    recv_integrity: bytes = field(repr=False)
    send_seal: bytes | None = field(default=None, repr=False)
    recv_seal: bytes | None = field(default=None, repr=False)

    @classmethod
    def derive(cls, ha1_bin: bytes, initiator: bool, cipher: Cipher | None) -> LayerKeys:
        """Kic/Kis and, with a cipher, Kcc/Kcs, oriented for the initiator or the acceptor."""
        ki_c, ki_s = kic(ha1_bin), kis(ha1_bin)
        kc_c = kc_s = None
        if cipher is not None:
            kc_c, kc_s = kcc(ha1_bin, cipher.key_prefix), kcs(ha1_bin, cipher.key_prefix)
        if initiator:
            return cls(ki_c, ki_s, kc_c, kc_s)
        return cls(ki_s, ki_c, kc_s, kc_c)


def max_message(qop: Qop, cipher: Cipher | None, maxbuf: int) -> int:
    """The largest message whose frame fits the peer's ``maxbuf``."""
    if qop is Qop.AUTH_CONF and cipher is not None and cipher.block_size == 8:
        return ((maxbuf - 6) // 8) * 8 - 11
    return maxbuf - TRAILER


class SecurityLayer:
    """One side's RFC 2831 security layer: keys, cipher states and both sequence numbers.

    Not thread-safe; the sspi layer serializes calls on one context.
    """

    __slots__ = (
        "_block", "_dead", "_decryptor", "_encryptor", "_limit", "_recv_ki", "_recv_seq",
        "_send_ki", "_send_seq", "cipher", "qop",
    )

    def __init__(self, qop: Qop, cipher: Cipher | None, keys: LayerKeys, peer_maxbuf: int) -> None:
        if qop is Qop.AUTH:
            raise ValueError("qop=auth has no security layer")
        if (qop is Qop.AUTH_CONF) != (cipher is not None):
            raise ValueError("a cipher goes with qop=auth-conf and only with it")
        self.qop = qop
        self.cipher = cipher
        self._send_ki = keys.send_integrity
        self._recv_ki = keys.recv_integrity
        self._send_seq = 0
        self._recv_seq = 0
        self._limit = max_message(qop, cipher, peer_maxbuf)
        self._dead: str | None = None
        self._block = 0
        self._encryptor: CipherContext | None = None
        self._decryptor: CipherContext | None = None
        if cipher is not None:
            assert keys.send_seal is not None and keys.recv_seal is not None
            self._block = cipher.block_size
            self._encryptor = cipher_context(cipher, keys.send_seal, True)
            self._decryptor = cipher_context(cipher, keys.recv_seal, False)

    def __repr__(self) -> str:
        cipher = self.cipher.value if self.cipher else "none"
        return f"SecurityLayer(qop={self.qop.value}, cipher={cipher})"

    @property
    def max_message(self) -> int:
        """The largest message the peer's maxbuf allows in one frame."""
        return self._limit

    @property
    def confidential(self) -> bool:
        return self._encryptor is not None

    # -- sending ---------------------------------------------------------------------------------

    def _next_send_seq(self, length: int) -> bytes:
        if length > self._limit:
            raise InvalidParameter(
                f"The message is {length} bytes but the peer's maxbuf allows {self._limit} per "
                "frame; split it into smaller messages."
            )
        seq = self._send_seq
        if seq >= _SEQ_LIMIT:
            raise ContextExpired(
                "The 32-bit Digest sequence number is exhausted; establish a new context."
            )
        self._send_seq = seq + 1
        return _SEQ.pack(seq)

    def sign(self, msg: bytes) -> bytes:
        """The 16-byte trailer that follows ``msg`` in an auth-int frame (RFC 2831 §2.3).

        ::

            MAC(Ki, SeqNum, msg) = (HMAC(Ki, {SeqNum, msg})[0..9], 0x0001, SeqNum)
        """
        seq = self._next_send_seq(len(msg))
        return hmac.digest(self._send_ki, seq + msg, "md5")[:10] + _VERSION + seq

    def seal(self, msg: bytes) -> bytes:
        """The auth-conf frame for ``msg`` (RFC 2831 §2.4); its first len(msg) bytes are msg's.

        ::

            SEAL(Ki, Kc, SeqNum, msg) =
                {CIPHER(Kc, {msg, pad, HMAC(Ki, {SeqNum, msg})[0..9])}), 0x0001, SeqNum}

        pad (des and 3des only) is 1-8 bytes, each holding the pad length, so that
        msg ‖ pad ‖ MAC fills whole 8-byte blocks.
        """
        if self._encryptor is None:
            raise QopNotSupported("Sealing needs qop=auth-conf with a cipher.")
        seq = self._next_send_seq(len(msg))
        mac10 = hmac.digest(self._send_ki, seq + msg, "md5")[:10]
        if self._block == 8:
            pad_len = 8 - (len(msg) + 10) % 8
            body = msg + bytes((pad_len,)) * pad_len + mac10
        else:
            body = msg + mac10
        return self._encryptor.update(body) + _VERSION + seq

    # -- receiving -------------------------------------------------------------------------------

    def _check_trailer(self, frame_tail: bytes) -> bytes:
        if self._dead is not None:
            raise ContextExpired(self._dead)
        if frame_tail[-6:-4] != _VERSION:
            raise MessageAltered(
                "The Digest message trailer does not carry version 0x0001; the message was "
                "altered or is not a DIGEST-MD5 frame."
            )
        seq = frame_tail[-4:]
        (number,) = _SEQ.unpack(seq)
        if number != self._recv_seq:
            raise OutOfSequence(
                f"Digest message number {number} arrived where {self._recv_seq} was expected: "
                "a message was replayed, lost or reordered."
            )
        return seq

    def verify(self, msg: bytes, trailer: bytes) -> None:
        """Check an auth-int trailer (RFC 2831 §2.3); the sequence number must be the next.

        Raises:
            InvalidToken: the trailer is not 16 bytes.
            OutOfSequence: replayed, lost or reordered.
            MessageAltered: the MAC does not match.
        """
        if len(trailer) != TRAILER:
            raise InvalidToken(
                f"A Digest signature is {TRAILER} bytes; this one has {len(trailer)}."
            )
        seq = self._check_trailer(trailer)
        expected = hmac.digest(self._recv_ki, seq + msg, "md5")[:10]
        if not hmac.compare_digest(expected, trailer[:10]):
            raise MessageAltered(
                "The Digest signature does not match the message: it was altered in transit "
                "or signed with another key."
            )
        self._recv_seq += 1

    def unseal(self, frame: bytes) -> bytes:
        """Decrypt and check an auth-conf frame (RFC 2831 §2.4) and return the message.

        Raises:
            InvalidToken: the frame is too short (or not whole blocks) to be a sealed message.
            OutOfSequence: replayed, lost or reordered (checked before decrypting).
            MessageAltered: bad padding or MAC; the receiving direction is then unusable.
        """
        if self._decryptor is None:
            raise QopNotSupported("Unsealing needs qop=auth-conf with a cipher.")
        size = len(frame) - 6
        if size < 10 + (self._block == 8) or (self._block == 8 and size % 8):
            raise InvalidToken(
                f"A {len(frame)}-byte frame cannot be a sealed Digest message "
                f"({self.cipher.value if self.cipher else ''})."
            )
        seq = self._check_trailer(frame)
        plain = self._decryptor.update(frame[:size])
        pad_len = 0
        if self._block == 8:
            pad_len = plain[-11]
            if not 1 <= pad_len <= 8 or plain[-10 - pad_len : -10] != bytes((pad_len,)) * pad_len:
                raise self._kill("padding")
        msg = plain[: size - 10 - pad_len]
        expected = hmac.digest(self._recv_ki, seq + msg, "md5")[:10]
        if not hmac.compare_digest(expected, plain[-10:]):
            raise self._kill("MAC")
        self._recv_seq += 1
        return msg

    def _kill(self, what: str) -> MessageAltered:
        self._dead = (
            "An earlier sealed Digest message failed its integrity check, so this context's "
            "decryption state no longer matches the peer; establish a new context."
        )
        return MessageAltered(
            f"The sealed Digest message has a bad {what}: it was altered in transit or sealed "
            "with another key. The receiving direction of this context is now unusable."
        )
