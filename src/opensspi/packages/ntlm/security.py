"""NTLM session security: MS-NLMP 3.4 "Session Security" (signing and sealing messages).

3.4.2 "Message Integrity", 3.4.3 "Message Confidentiality", 3.4.4 "Message Signature
Functions", 3.4.6 "GSS_WrapEx() Call" and 3.4.7 "GSS_UnwrapEx() Call".
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/

Rules of this module:

- :class:`SessionSecurity` holds the RC4 streams, so it is mutable and not thread-safe; one
  instance per context. The caller owns the sequence numbers and passes them in.
- Everything is computed at construction (keys, HMAC inner and outer states, RC4 contexts);
  a call only copies two MD5 states, feeds them and runs RC4, so a 1 KiB round trip is a few
  microseconds above the cost of OpenSSL's MD5 and RC4 themselves.
- Without extended session security the NTLMv1 signature (CRC32, one RC4 stream shared by both
  directions) comes from ``legacy.py`` and must be asked for with ``allow_legacy=True``.
- Verification raises :class:`~opensspi.errors.MessageAltered`; signatures are compared in
  constant time. The RC4 stream advances even when verification fails, as on Windows.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from ...crypto.rc4 import Rc4
from ...errors import InternalError, InvalidParameter, MessageAltered, UnsupportedFunction
from . import legacy
from .crypto import Mode, sealkey, signkey
from .messages import NegotiateFlags

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["SIGNATURE_SIZE", "SessionSecurity"]

SIGNATURE_SIZE = 16
"""Size of an NTLMSSP_MESSAGE_SIGNATURE (2.2.2.9), the only security trailer NTLM adds."""

_VERSION = b"\x01\x00\x00\x00"
_SEQ = struct.Struct("<I")
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_ESS = int(NegotiateFlags.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY)
_KEY_EXCH = int(NegotiateFlags.NTLMSSP_NEGOTIATE_KEY_EXCH)


def _hmac_md5_states(key: bytes) -> tuple[_Hash, _Hash]:
    """Return the MD5 states after HMAC's inner and outer key blocks (RFC 2104)."""
    block = key.ljust(64, b"\x00")  # SIGNKEY is 16 bytes, always shorter than MD5's block
    return hashlib.md5(block.translate(_IPAD)), hashlib.md5(block.translate(_OPAD))


def _pack_seq(seq_num: int) -> bytes:
    try:
        return _SEQ.pack(seq_num)
    except struct.error:
        raise InvalidParameter(
            f"An NTLM sequence number is an unsigned 32-bit value, not {seq_num!r}."
        ) from None


def _altered(seq_num: int) -> NoReturn:
    raise MessageAltered(
        f"The NTLM signature does not verify for sequence number {seq_num}: the message was "
        "altered, replayed or reordered, or the session keys differ."
    )


class SessionSecurity:
    """Signing and sealing for one established NTLM context (MS-NLMP 3.4).

    With NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY (ESS): HMAC-MD5 checksums with separate
    client and server signing and sealing keys (SIGNKEY, SEALKEY), each direction with its own
    RC4 stream; with NTLMSSP_NEGOTIATE_KEY_EXCH the checksum is also RC4-encrypted with the
    sealing stream. Without ESS (``allow_legacy=True`` only): the NTLMv1 CRC32 signature and one
    RC4 stream for both directions.

    Args:
        flags: the negotiated NegotiateFlags.
        exported_session_key: the 16-byte ExportedSessionKey.
        is_client: True on the initiator, whose outgoing keys are the client-to-server ones.
        allow_legacy: permit NTLMv1 session security when ESS is not negotiated.

    Raises:
        UnsupportedFunction: ESS is not negotiated and ``allow_legacy`` is False.
        InvalidParameter: the session key is not 16 bytes.
    """

    __slots__ = (
        "_ess",
        "_in_inner",
        "_in_outer",
        "_in_rc4",
        "_in_seal_key",
        "_is_client",
        "_key_exch",
        "_out_inner",
        "_out_outer",
        "_out_rc4",
        "_out_seal_key",
    )

    _in_rc4: Callable[[bytes | memoryview], bytes]
    _out_rc4: Callable[[bytes | memoryview], bytes]

    def __init__(
        self,
        flags: int,
        exported_session_key: bytes,
        is_client: bool,
        *,
        allow_legacy: bool = False,
    ) -> None:
        if len(exported_session_key) != 16:
            raise InvalidParameter(
                f"The ExportedSessionKey is 16 bytes, not {len(exported_session_key)}."
            )
        self._is_client = is_client
        self._ess = bool(flags & _ESS)
        self._key_exch = bool(flags & _KEY_EXCH)
        if self._ess:
            out_mode, in_mode = (
                (Mode.CLIENT, Mode.SERVER) if is_client else (Mode.SERVER, Mode.CLIENT)
            )
            out_sign = signkey(flags, exported_session_key, out_mode)
            in_sign = signkey(flags, exported_session_key, in_mode)
            if out_sign is None or in_sign is None:  # pragma: no cover - SIGNKEY with ESS
                raise InternalError("SIGNKEY returned no key although ESS is negotiated.")
            self._out_inner, self._out_outer = _hmac_md5_states(out_sign)
            self._in_inner, self._in_outer = _hmac_md5_states(in_sign)
            self._out_seal_key = sealkey(flags, exported_session_key, out_mode)
            self._in_seal_key = sealkey(flags, exported_session_key, in_mode)
        elif allow_legacy:
            # MS-NLMP 3.4: without ESS one key and one RC4 handle serve both directions.
            self._out_seal_key = self._in_seal_key = legacy.sealkey_v1(flags, exported_session_key)
        else:
            raise UnsupportedFunction(
                "NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY was not negotiated; NTLMv1 session "
                "security (CRC32, shared RC4) needs allow_legacy=True."
            )
        self.reset_rc4()

    def __repr__(self) -> str:
        side = "client" if self._is_client else "server"
        kind = "ESS" if self._ess else "NTLMv1"
        return f"SessionSecurity({side}, {kind}, key_exch={self._key_exch})"

    def reset_rc4(self, outgoing: bool | None = None) -> None:
        """Re-key RC4 from the sealing keys, as at context establishment: the outgoing stream
        (``outgoing=True``), the incoming one (``False``) or both (None).

        MS-SPNG 3.3.5.1 requires this after NTLM computed (outgoing) or verified (incoming) the
        SPNEGO mechListMIC; the sequence numbers are not reset. Without ESS one RC4 stream
        serves both directions, so either reset re-keys it.
        """
        if not self._ess:
            self._out_rc4 = self._in_rc4 = Rc4(self._out_seal_key).update
            return
        if outgoing is None or outgoing:
            self._out_rc4 = self._deferred(self._out_seal_key, True)
        if outgoing is None or not outgoing:
            self._in_rc4 = self._deferred(self._in_seal_key, False)

    def _deferred(self, key: bytes, outgoing: bool) -> Callable[[bytes | memoryview], bytes]:
        """An RC4 stream keyed on first use: a context that only authenticates (HTTP), or
        whose stream SPNEGO re-keys right after the mechListMIC, never pays for an unused
        key schedule. Every caller holding this function shares the one stream."""
        stream: Callable[[bytes | memoryview], bytes] | None = None

        def update(data: bytes | memoryview) -> bytes:
            nonlocal stream
            if stream is None:
                stream = Rc4(key).update
                if outgoing:
                    self._out_rc4 = stream
                else:
                    self._in_rc4 = stream
            return stream(data)

        return update

    def _mac(
        self,
        inner: _Hash,
        outer: _Hash,
        rc4: Callable[[bytes | memoryview], bytes],
        seq_num: int,
        parts: Sequence[bytes | memoryview],
    ) -> bytes:
        # MS-NLMP 3.4.4.2 "With Extended Session Security":
        #   Set NTLMSSP_MESSAGE_SIGNATURE.Version to 0x00000001
        #   if Key Exchange Key Negotiated
        #       Set NTLMSSP_MESSAGE_SIGNATURE.Checksum to RC4(Handle,
        #       HMAC_MD5(SigningKey, ConcatenationOf(SeqNum, Message))[0..7])
        #   else
        #       Set NTLMSSP_MESSAGE_SIGNATURE.Checksum to HMAC_MD5(SigningKey,
        #       ConcatenationOf(SeqNum, Message))[0..7]
        #   end
        #   Set NTLMSSP_MESSAGE_SIGNATURE.SeqNum to SeqNum
        seq = _pack_seq(seq_num)
        h = inner.copy()
        h.update(seq)
        for part in parts:
            h.update(part)
        o = outer.copy()
        o.update(h.digest())
        checksum = o.digest()[:8]
        if self._key_exch:
            checksum = rc4(checksum)
        return _VERSION + checksum + seq

    def _mac_v1(
        self, rc4: Callable[[bytes | memoryview], bytes], seq_num: int,
        parts: Sequence[bytes | memoryview],
    ) -> bytes:
        crc = 0
        for part in parts:
            crc = zlib.crc32(part, crc)
        _pack_seq(seq_num)
        return legacy.mac_v1(rc4, seq_num, crc)

    def _check(self, expected: bytes, signature: bytes, seq_num: int) -> None:
        if self._ess:
            ok = hmac.compare_digest(expected, signature)
        else:
            ok = legacy.compare_v1(expected, signature)
        if not ok:
            _altered(seq_num)

    def sign(self, seq_num: int, message: bytes) -> bytes:
        """Return the signature of ``message`` (MS-NLMP 3.4.2, GSS_GetMIC / MakeSignature).

        With KEY_EXCH (or without ESS) this advances the outgoing RC4 stream.

        Args:
            seq_num: this message's sequence number.
            message: the data to sign.

        Returns:
            The 16-byte NTLMSSP_MESSAGE_SIGNATURE.

        Raises:
            InvalidParameter: ``seq_num`` does not fit 32 bits.
        """
        if self._ess:
            return self._mac(self._out_inner, self._out_outer, self._out_rc4, seq_num, (message,))
        return self._mac_v1(self._out_rc4, seq_num, (message,))

    def verify(self, seq_num: int, message: bytes, signature: bytes) -> None:
        """Check ``signature`` over ``message`` (GSS_VerifyMIC / VerifySignature).

        Raises:
            MessageAltered: the signature does not match (tampering, wrong sequence number,
                wrong keys or a malformed signature).
            InvalidParameter: ``seq_num`` does not fit 32 bits.
        """
        if self._ess:
            expected = self._mac(self._in_inner, self._in_outer, self._in_rc4, seq_num, (message,))
        else:
            expected = self._mac_v1(self._in_rc4, seq_num, (message,))
        self._check(expected, signature, seq_num)

    def seal(self, seq_num: int, message: bytes) -> tuple[bytes, bytes]:
        """Encrypt and sign ``message`` (MS-NLMP 3.4.3, GSS_Wrap / EncryptMessage).

        MS-NLMP 3.4.3 "Message Confidentiality"::

            Define SEAL(Handle, SigningKey, SeqNum, Message) as
                Set Sealed message to RC4(Handle, Message)
                Set Signature to MAC(Handle, SigningKey, SeqNum, Message)
            EndDefine

        The message is RC4-encrypted first; the checksum, computed over the plaintext, is
        encrypted after it with the same stream.

        Returns:
            ``(sealed_message, signature)``.

        Raises:
            InvalidParameter: ``seq_num`` does not fit 32 bits.
        """
        rc4 = self._out_rc4
        sealed = rc4(message)
        if self._ess:
            return sealed, self._mac(self._out_inner, self._out_outer, rc4, seq_num, (message,))
        return sealed, self._mac_v1(rc4, seq_num, (message,))

    def unseal(self, seq_num: int, sealed: bytes | memoryview, signature: bytes) -> bytes:
        """Decrypt ``sealed`` and check its signature (GSS_Unwrap / DecryptMessage).

        Returns:
            The plaintext.

        Raises:
            MessageAltered: the signature does not match the decrypted message.
            InvalidParameter: ``seq_num`` does not fit 32 bits.
        """
        rc4 = self._in_rc4
        message = rc4(sealed)
        if self._ess:
            expected = self._mac(self._in_inner, self._in_outer, rc4, seq_num, (message,))
        else:
            expected = self._mac_v1(rc4, seq_num, (message,))
        self._check(expected, signature, seq_num)
        return message

    def seal_parts(
        self, seq_num: int, parts: Sequence[tuple[bytes, bool]]
    ) -> tuple[list[bytes], bytes]:
        """Seal a message made of several buffers (MS-NLMP 3.4.6 GSS_WrapEx).

        Each part is ``(data, encrypt)``. Parts with ``encrypt`` are RC4-encrypted in order with
        one stream; the others (SECBUFFER_READONLY_WITH_CHECKSUM) are left as they are. The
        signature covers every part, concatenated in order, as plaintext (3.4.6.1: "all of the
        input data buffers for NTLMv2, including the cleartext data buffers"). The checksum is
        encrypted after all the parts.

        Returns:
            The output parts (in input order) and the 16-byte signature.

        Raises:
            InvalidParameter: ``seq_num`` does not fit 32 bits.
        """
        rc4 = self._out_rc4
        out = [rc4(data) if encrypt else data for data, encrypt in parts]
        plain = [data for data, _ in parts]
        if self._ess:
            signature = self._mac(self._out_inner, self._out_outer, rc4, seq_num, plain)
        else:
            signature = self._mac_v1(rc4, seq_num, plain)
        return out, signature

    def unseal_parts(
        self, seq_num: int, parts: Sequence[tuple[bytes, bool]], signature: bytes
    ) -> list[bytes]:
        """Unseal what :meth:`seal_parts` produced (MS-NLMP 3.4.7 GSS_UnwrapEx).

        Each part is ``(data, encrypted)``; encrypted parts are decrypted in order.

        Returns:
            The plaintext parts, in input order.

        Raises:
            MessageAltered: the signature does not match.
            InvalidParameter: ``seq_num`` does not fit 32 bits.
        """
        rc4 = self._in_rc4
        plain = [rc4(data) if encrypted else data for data, encrypted in parts]
        if self._ess:
            expected = self._mac(self._in_inner, self._in_outer, rc4, seq_num, plain)
        else:
            expected = self._mac_v1(rc4, seq_num, plain)
        self._check(expected, signature, seq_num)
        return plain
