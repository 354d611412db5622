"""GSS-API Kerberos per-message tokens and the authenticator checksum (RFC 4121, MS-KILE 3.4.5).

- MIC tokens (RFC 4121 §4.2.6.1) and Wrap tokens (§4.2.6.2) for the RFC 3961 enctypes, sealed or
  integrity-only, with any EC and RRC accepted on receipt (§4.2.4-4.2.5).
- The SSPI buffer layout: EncryptMessage's TOKEN|DATA|PADDING is MIT's
  ``gss_wrap_iov(HEADER, DATA, PADDING)``: the token holds the 16-byte header and the rotated
  trailer (RRC = 28 sealed / 12 integrity-only for AES-SHA1), DATA is encrypted in place.
- Sign-only buffers (SECBUFFER_READONLY_WITH_CHECKSUM, MS-KILE 3.4.5.4.1; MIT's
  GSS_IOV_BUFFER_TYPE_SIGN_ONLY): covered by the integrity check in buffer order, never
  encrypted and never carried in the token (:func:`wrap_iov`, :func:`unwrap_iov`).
- The 0x8003 authenticator checksum (§4.1.1) with channel bindings and delegation.

RC4-HMAC (RFC 4757 §7) tokens have their own framing and live in ``legacy``.
https://www.rfc-editor.org/rfc/rfc4121
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ...buffers import ChannelBindings
from ...errors import DecodeError, MessageAltered, OutOfSequence
from .crypto import IovPart, Key, decrypt_iov, encrypt_iov, make_checksum, profile, verify_checksum

TOK_MIC = b"\x04\x04"
TOK_WRAP = b"\x05\x04"
FLAG_SENT_BY_ACCEPTOR = 0x01
FLAG_SEALED = 0x02
FLAG_ACCEPTOR_SUBKEY = 0x04

# RFC 4121 §2: key usage numbers for per-message tokens.
KG_USAGE_ACCEPTOR_SEAL = 22
KG_USAGE_ACCEPTOR_SIGN = 23
KG_USAGE_INITIATOR_SEAL = 24
KG_USAGE_INITIATOR_SIGN = 25

HEADER_SIZE = 16
_MIC_HEADER = struct.Struct(">2sB5sQ")
_WRAP_HEADER = struct.Struct(">2sBBHHQ")
_FILLER5 = b"\xff" * 5

# RFC 4121 §4.1.1.1: the checksum type of the authenticator checksum.
GSS_CHECKSUM_TYPE = 0x8003
# RFC 4121 §4.1.1.2 (and RFC 4757 §7.1 for the Microsoft bits): the Flags field.
GSS_C_DELEG_FLAG = 1
GSS_C_MUTUAL_FLAG = 2
GSS_C_REPLAY_FLAG = 4
GSS_C_SEQUENCE_FLAG = 8
GSS_C_CONF_FLAG = 16
GSS_C_INTEG_FLAG = 32
GSS_C_DCE_STYLE = 0x1000
GSS_C_IDENTIFY_FLAG = 0x2000
GSS_C_EXTENDED_ERROR_FLAG = 0x4000


def rotate_right(data: bytes, count: int) -> bytes:
    """Rotate ``data`` right by ``count`` bytes (RFC 4121 §4.2.5)."""
    if not data:
        return data
    count %= len(data)
    return data[-count:] + data[:-count] if count else data


def rotate_left(data: bytes, count: int) -> bytes:
    """Undo :func:`rotate_right`."""
    if not data:
        return data
    count %= len(data)
    return data[count:] + data[:count] if count else data


@dataclass(frozen=True, slots=True)
class Direction:
    """Which side sends, and with which key; fixes the usage numbers and token flags."""

    acceptor: bool
    acceptor_subkey: bool

    @property
    def flags(self) -> int:
        return (FLAG_SENT_BY_ACCEPTOR if self.acceptor else 0) | (
            FLAG_ACCEPTOR_SUBKEY if self.acceptor_subkey else 0
        )

    @property
    def seal_usage(self) -> int:
        return KG_USAGE_ACCEPTOR_SEAL if self.acceptor else KG_USAGE_INITIATOR_SEAL

    @property
    def sign_usage(self) -> int:
        return KG_USAGE_ACCEPTOR_SIGN if self.acceptor else KG_USAGE_INITIATOR_SIGN


def get_mic(key: Key, direction: Direction, seq: int, message: bytes) -> bytes:
    """A MIC token over ``message``.

    RFC 4121 §4.2.6.1::

        Octet no   Name        Description
        0..1     TOK_ID     Identification field. Tokens emitted by GSS_GetMIC() contain
                            the hex value 04 04 expressed in big-endian order in this field.
        2        Flags      Attributes field, as described in section 4.2.2.
        3..7     Filler     Contains five octets of hex value FF.
        8..15    SND_SEQ    Sequence number field in clear text, expressed in big-endian order.
        16..last SGN_CKSUM  Checksum of the "to-be-signed" data and octet 0..15, as described
                            in section 4.2.4.

    Args:
        key: the context key (acceptor subkey, initiator subkey or ticket session key).
        direction: who sends.
        seq: the sender's sequence number.
        message: the concatenated data to sign.

    Returns:
        The token.
    """
    header = _MIC_HEADER.pack(TOK_MIC, direction.flags, _FILLER5, seq)
    return header + make_checksum(key, direction.sign_usage, message + header)


def verify_mic(key: Key, direction: Direction, token: bytes, message: bytes) -> int:
    """Check a MIC token from the peer and return its sequence number.

    Raises:
        DecodeError: not a MIC token.
        MessageAltered: the checksum does not match, or the flags claim the wrong sender.
    """
    if len(token) < HEADER_SIZE:
        raise DecodeError(f"A Kerberos MIC token is at least 16 bytes; got {len(token)}.")
    tok_id, flags, filler, seq = _MIC_HEADER.unpack_from(token)
    if tok_id != TOK_MIC or filler != _FILLER5:
        raise DecodeError("Not an RFC 4121 MIC token (TOK_ID 04 04, five FF filler bytes).")
    _check_flags(flags, direction, sealed_allowed=False)
    verify_checksum(key, direction.sign_usage, message + token[:HEADER_SIZE], token[HEADER_SIZE:])
    return int(seq)


def _check_flags(flags: int, direction: Direction, sealed_allowed: bool) -> None:
    if bool(flags & FLAG_SENT_BY_ACCEPTOR) != direction.acceptor:
        raise MessageAltered(
            "The token's SentByAcceptor flag names the wrong sender: it may be a reflection of "
            "our own message."
        )
    if bool(flags & FLAG_ACCEPTOR_SUBKEY) != direction.acceptor_subkey:
        raise MessageAltered("The token's AcceptorSubkey flag does not match this context.")
    if not sealed_allowed and flags & FLAG_SEALED:
        raise DecodeError("A MIC token must not have the Sealed flag.")


@dataclass(frozen=True, slots=True)
class WrapResult:
    """A Wrap token split the way SSPI's EncryptMessage returns it."""

    token: bytes  # header and the rotated trailer (TOKEN buffer)
    data: bytes  # the DATA buffers' bytes (encrypted when sealed), concatenated, same length


def wrap(
    key: Key, direction: Direction, seq: int, plaintext: bytes, *, seal: bool,
    checksum_size: int, confounder: bytes | None = None, dce_style: bool = False,
) -> WrapResult:
    """A Wrap token laid out as ``gss_wrap_iov(HEADER, DATA, PADDING)``: :func:`wrap_iov` with
    one DATA buffer."""
    return wrap_iov(key, direction, seq, ((plaintext, True),), seal=seal,
                    checksum_size=checksum_size, confounder=confounder, dce_style=dce_style)


def wrap_iov(
    key: Key, direction: Direction, seq: int, parts: Sequence[IovPart], *, seal: bool,
    checksum_size: int, confounder: bytes | None = None, dce_style: bool = False,
) -> WrapResult:
    """A Wrap token over DATA and SIGN_ONLY buffers, as ``gss_wrap_iov(HEADER, DATA...,
    SIGN_ONLY..., PADDING)`` makes it (RFC 4121 §4.2.4-4.2.5; MS-KILE 3.4.5.4.1).

    RFC 4121 §4.2.4: with confidentiality the token is
    ``header | E(Ke, plaintext | filler(EC) | header-with-RRC-0)``; without, it is
    ``header | plaintext | checksum(plaintext | header-with-EC-and-RRC-0)`` with EC set to the
    checksum size. The body is rotated right by RRC (§4.2.5) so that everything but the data
    travels in the token: the TOKEN buffer is ``header | E(filler | header copy) | MAC | E(conf)``
    and RRC is the length of the bytes that followed the data (EC + 16 + MAC).

    Sign-only buffers (SECBUFFER_READONLY_WITH_CHECKSUM; GSS_IOV_BUFFER_TYPE_SIGN_ONLY) are not
    sent in the token and not encrypted, but the integrity check covers them where they stand:
    sealed, the enctype's MAC runs over every buffer in order (:func:`crypto.encrypt_iov`,
    MIT's ``kg_translate_iov_v3``: confounder, the caller's buffers, then filler and header
    copy); integrity only, the checksum is over every DATA and SIGN_ONLY buffer in order, then
    the header (MIT's ``checksum_iov_v3``).

    Deviation: with ``dce_style`` (MS-KILE 3.4.5.4.1) EC is 16 for sealed tokens and the body is
    rotated by RRC + EC, as Windows does for DCE RPC.

    Args:
        parts: ``(bytes, encrypted)`` per buffer in order: True for DATA, False for SIGN_ONLY.
        checksum_size: kept for callers; the MAC size comes from the key's enctype.

    Returns:
        The TOKEN buffer and the DATA buffers' output concatenated (cut it back by their sizes).
    """
    data_parts = [data for data, encrypted in parts if encrypted]
    if seal:
        ec = 16 if dce_style else 0
        header0 = _WRAP_HEADER.pack(TOK_WRAP, direction.flags | FLAG_SEALED, 0xFF, ec, 0, seq)
        head, out, mac = encrypt_iov(
            key, direction.seal_usage, [*parts, (b"\xff" * ec + header0, True)], confounder
        )
        tail = out[-1]  # E(filler | header copy)
        trailer = len(tail) + len(mac)
        rrc = trailer - ec if dce_style else trailer
        header = _WRAP_HEADER.pack(TOK_WRAP, direction.flags | FLAG_SEALED, 0xFF, ec, rrc, seq)
        data = b"".join(o for o, (_, encrypted) in zip(out, parts, strict=False) if encrypted)
        return WrapResult(b"".join((header, tail, mac, head)), data)
    header0 = _WRAP_HEADER.pack(TOK_WRAP, direction.flags, 0xFF, 0, 0, seq)
    signed = b"".join(data for data, _ in parts)
    checksum = make_checksum(key, direction.seal_usage, signed + header0)
    header = _WRAP_HEADER.pack(TOK_WRAP, direction.flags, 0xFF, len(checksum), len(checksum), seq)
    return WrapResult(header + checksum, b"".join(data_parts))


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """What the peer wrapped: the plaintext, its sequence number, and whether it was sealed."""

    plaintext: bytes
    seq: int
    sealed: bool


def unwrap(key: Key, direction: Direction, token: bytes, data: bytes = b"",
           *, dce_style: bool = False) -> Unwrapped:
    """Open a Wrap token from the peer: :func:`unwrap_iov` with one DATA buffer (``data``, or
    the whole token in ``token``)."""
    return unwrap_iov(key, direction, token, ((data, True),), dce_style=dce_style)


def unwrap_iov(key: Key, direction: Direction, token: bytes, parts: Sequence[IovPart],
               *, dce_style: bool = False) -> Unwrapped:
    """Open a Wrap token from the peer, with any EC and RRC (RFC 4121 §4.2.4-4.2.5), over DATA
    and SIGN_ONLY buffers (see :func:`wrap_iov`).

    ``token`` is the TOKEN buffer; ``parts`` the message buffers in order, ``(bytes, True)``
    for DATA (ciphertext, or clear text when integrity-only) and ``(bytes, False)`` for
    SIGN_ONLY. The rotation applies to the token body followed by the DATA buffers; the
    sign-only buffers take part only in the integrity check.

    Returns:
        The DATA buffers' plaintext, concatenated.

    Raises:
        DecodeError: not a Wrap token, too short, or (with sign-only buffers) DATA buffers
            whose sizes do not add up to the data the token carries.
        MessageAltered: decryption, checksum or header-copy check failed (a DATA or sign-only
            buffer was changed).
    """
    if len(token) < HEADER_SIZE:
        raise DecodeError(f"A Kerberos Wrap token is at least 16 bytes; got {len(token)}.")
    tok_id, flags, filler, ec, rrc, seq = _WRAP_HEADER.unpack_from(token)
    if tok_id != TOK_WRAP or filler != 0xFF:
        raise DecodeError("Not an RFC 4121 Wrap token (TOK_ID 05 04, filler FF).")
    _check_flags(flags, direction, sealed_allowed=True)
    sealed = bool(flags & FLAG_SEALED)
    body = token[HEADER_SIZE:] + b"".join(data for data, encrypted in parts if encrypted)
    body = rotate_left(body, rrc + (ec if dce_style and sealed else 0))
    if sealed:
        prof = profile(key.enctype)
        conf, mac = prof.confounder_size, prof.checksum_size
        size = len(body) - conf - ec - HEADER_SIZE - mac
        if size < 0:
            raise DecodeError("The sealed Wrap token is shorter than its confounder, filler, "
                              "header copy and checksum.")
        stream = body[conf : conf + size]
        iov = [*_cut(stream, parts), (body[conf + size : len(body) - mac], True)]
        out = decrypt_iov(key, direction.seal_usage, body[:conf], iov, body[len(body) - mac :])
        copy = out[-1][-HEADER_SIZE:]
        expected = _WRAP_HEADER.pack(TOK_WRAP, flags, 0xFF, ec, 0, seq)
        if not hmac.compare_digest(copy, expected):
            raise MessageAltered("The Wrap token's encrypted header copy does not match.")
        plain = b"".join(o for o, (_, encrypted) in zip(out[:-1], iov, strict=False) if encrypted)
        return Unwrapped(plain, int(seq), True)
    if ec > len(body):
        raise DecodeError("The Wrap token's EC is larger than its body.")
    plaintext, checksum = body[: len(body) - ec], body[len(body) - ec :]
    header0 = _WRAP_HEADER.pack(TOK_WRAP, flags, 0xFF, 0, 0, seq)
    signed = b"".join(data for data, _ in _cut(plaintext, parts))
    verify_checksum(key, direction.seal_usage, signed + header0, checksum)
    return Unwrapped(plaintext, int(seq), False)


class SealedStream:
    """One context's sealed Wrap tokens in the STREAM layout, with the per-message work done
    once: what :func:`wrap` then joining TOKEN and DATA makes, and what :func:`unwrap` opens.

    For the AES enctypes a sealed token with one DATA buffer is RFC 3961 ``encrypt`` of
    ``plaintext | header-with-RRC-0`` (RFC 4121 §4.2.4, EC 0) rotated right by RRC = 16 + h
    (§4.2.5): ``header | C[-16:] | H | C[:-16]``, where ``C | H`` is the ciphertext. The
    profile, usages, flags and header layout are fixed per context, so they are looked up here
    once; the key schedule and keyed HMAC are cached on the key (``crypto``). The bytes are the
    same as the general path's (tests compare both with fixed confounders).

    Not for DCE style (EC 16, rotation by RRC + EC) or rc4-hmac: callers use the general
    functions for those, and for integrity-only tokens.
    """

    __slots__ = ("_key", "_overhead", "_prof", "_recv", "_recv_usage", "_rrc", "_send_flags",
                 "_send_usage", "confounder_size")

    def __init__(self, key: Key, send: Direction, recv: Direction) -> None:
        prof = profile(key.enctype)
        self._key = key
        self._prof = prof
        self.confounder_size = prof.confounder_size
        self._overhead = prof.confounder_size + HEADER_SIZE + prof.checksum_size
        self._rrc = HEADER_SIZE + prof.checksum_size
        self._send_flags = send.flags | FLAG_SEALED
        self._send_usage = send.seal_usage
        self._recv = recv
        self._recv_usage = recv.seal_usage

    def wrap(self, seq: int, plaintext: bytes, confounder: bytes) -> bytes:
        """The sealed token followed by the encrypted data (``wrap(...).token + .data``)."""
        flags, rrc = self._send_flags, self._rrc
        body = self._prof.encrypt(
            self._key, self._send_usage,
            plaintext + _WRAP_HEADER.pack(TOK_WRAP, flags, 0xFF, 0, 0, seq), confounder,
        )
        return b"".join((_WRAP_HEADER.pack(TOK_WRAP, flags, 0xFF, 0, rrc, seq),
                         body[-rrc:], body[:-rrc]))

    def wrap_parts(self, seq: int, plaintext: bytes, confounder: bytes) -> tuple[bytes, bytes]:
        """:meth:`wrap` cut as EncryptMessage returns it: the TOKEN buffer (header, rotated
        trailer, encrypted confounder) and the DATA buffer (the data encrypted in place)."""
        flags, rrc = self._send_flags, self._rrc
        body = self._prof.encrypt(
            self._key, self._send_usage,
            plaintext + _WRAP_HEADER.pack(TOK_WRAP, flags, 0xFF, 0, 0, seq), confounder,
        )
        token = b"".join((_WRAP_HEADER.pack(TOK_WRAP, flags, 0xFF, 0, rrc, seq),
                          body[-rrc:], body[:16]))
        return token, body[16:-rrc]

    def unwrap(self, message: bytes) -> tuple[bytes, int] | None:
        """Open a whole token from the peer: ``(plaintext, seq)``, or None when it is not
        sealed (the caller's general path handles integrity-only tokens).

        Raises:
            DecodeError: not a Wrap token, or too short.
            MessageAltered: wrong sender flags, failed integrity check, or header copy.
        """
        if len(message) < HEADER_SIZE:
            raise DecodeError(f"A Kerberos Wrap token is at least 16 bytes; got {len(message)}.")
        tok_id, flags, filler, ec, rrc, seq = _WRAP_HEADER.unpack_from(message)
        if tok_id != TOK_WRAP or filler != 0xFF:
            raise DecodeError("Not an RFC 4121 Wrap token (TOK_ID 05 04, filler FF).")
        _check_flags(flags, self._recv, sealed_allowed=True)
        if not flags & FLAG_SEALED:
            return None
        size = len(message) - HEADER_SIZE
        if size < self._overhead + ec:
            raise DecodeError("The sealed Wrap token is shorter than its confounder, filler, "
                              "header copy and checksum.")
        rrc %= size
        body = message[HEADER_SIZE + rrc :] + message[HEADER_SIZE : HEADER_SIZE + rrc]
        out = self._prof.decrypt(self._key, self._recv_usage, body)
        expected = _WRAP_HEADER.pack(TOK_WRAP, flags, 0xFF, ec, 0, seq)
        if not hmac.compare_digest(out[-HEADER_SIZE:], expected):
            raise MessageAltered("The Wrap token's encrypted header copy does not match.")
        return out[: len(out) - ec - HEADER_SIZE], seq


def _cut(stream: bytes, parts: Sequence[IovPart]) -> list[IovPart]:
    """The DATA bytes the token carries, cut to the DATA buffers' sizes between the sign-only
    buffers. Without sign-only buffers the order is irrelevant and the stream stays whole (its
    bytes may arrive partly in the TOKEN buffer, as with a whole token and no DATA buffer)."""
    if all(encrypted for _, encrypted in parts):
        return [(stream, True)]
    expected = sum(len(data) for data, encrypted in parts if encrypted)
    if expected != len(stream):
        raise DecodeError(
            f"The DATA buffers hold {expected} bytes but the Wrap token protects {len(stream)}; "
            "with sign-only buffers each DATA buffer must hold exactly its own bytes."
        )
    out: list[IovPart] = []
    pos = 0
    for data, encrypted in parts:
        if encrypted:
            out.append((stream[pos : pos + len(data)], True))
            pos += len(data)
        else:
            out.append((data, False))
    return out


class SequenceWindow:
    """Receive-side sequence checking (RFC 4121 §4.2.3 / RFC 2743 §1.2.3).

    With sequence detection every token must carry the next number; with replay detection
    alone, numbers already seen are refused. Checks happen before a token changes any state.
    """

    __slots__ = ("_expected", "_replay", "_seen", "_sequence")

    def __init__(self, initial: int, replay: bool, sequence: bool) -> None:
        self._expected = initial
        self._replay = replay
        self._sequence = sequence
        self._seen: set[int] = set()

    def check(self, seq: int) -> None:
        if self._sequence and seq != self._expected:
            kind = "replayed" if seq < self._expected else "arrived after a gap (lost message)"
            raise OutOfSequence(
                f"Message sequence number {seq} {kind}; {self._expected} was expected."
            )
        if self._replay and seq in self._seen:
            raise OutOfSequence(f"Message sequence number {seq} was already received (replay).")

    def accept(self, seq: int) -> None:
        # With sequence detection only the next number passes, so a replay cannot; the set of
        # seen numbers is kept only for replay detection alone (it costs memory per context).
        if self._replay and not self._sequence:
            self._seen.add(seq)
            if len(self._seen) > 4096:
                self._seen = {s for s in self._seen if s > seq - 2048}
        self._expected = (seq + 1) & 0xFFFFFFFFFFFFFFFF


# -- the authenticator checksum ---------------------------------------------------------------

_CKSUM = struct.Struct("<I16sI")


def bindings_hash(bindings: ChannelBindings | None) -> bytes:
    """Bnd: MD5 of the channel bindings (RFC 4121 §4.1.1.2), or 16 zero bytes without any."""
    if bindings is None:
        return bytes(16)
    return hashlib.md5(bindings.gss_encoding()).digest()


def build_authenticator_checksum(
    flags: int, bindings: ChannelBindings | None, krb_cred: bytes | None = None
) -> bytes:
    """The 0x8003 checksum value.

    RFC 4121 §4.1.1::

        Octet     Name      Description
        0..3      Lgth      Number of octets in Bnd field;  Represented
                            in little-endian order;  Currently contains
                            hex value 10 00 00 00 (16).
        4..19     Bnd       Channel binding information, as described in
                            section 4.1.1.2.
        20..23    Flags     Four-octet context-establishment flags in
                            little-endian order as described in section
                            4.1.1.1.
        24..25    DlgOpt    The delegation option identifier (=1) in
                            little-endian order [optional].  This field
                            and the next two fields are present if and
                            only if GSS_C_DELEG_FLAG is set as described
                            in section 4.1.1.1.
        26..27    Dlgth     The length of the Deleg field in little-endian
                            order [optional].
        28..(n-1) Deleg     A KRB_CRED message (n = Dlgth + 28) [optional].
    """
    value = _CKSUM.pack(16, bindings_hash(bindings), flags)
    if krb_cred is not None:
        value += struct.pack("<HH", 1, len(krb_cred)) + krb_cred
    return value


@dataclass(frozen=True, slots=True)
class AuthenticatorChecksum:
    """A parsed 0x8003 checksum."""

    bnd: bytes
    flags: int
    krb_cred: bytes | None


def parse_authenticator_checksum(value: bytes) -> AuthenticatorChecksum:
    """Parse the 0x8003 checksum value (RFC 4121 §4.1.1); extensions after Deleg are ignored.

    Raises:
        DecodeError: shorter than 24 bytes, Lgth is not 16, or a truncated delegation field.
    """
    if len(value) < _CKSUM.size:
        raise DecodeError(f"The 0x8003 checksum is {len(value)} bytes; at least 24 are needed.")
    length, bnd, flags = _CKSUM.unpack_from(value)
    if length != 16:
        raise DecodeError(f"The 0x8003 checksum's Lgth is {length}, not 16.")
    krb_cred = None
    if flags & GSS_C_DELEG_FLAG and len(value) >= 28:
        option, size = struct.unpack_from("<HH", value, 24)
        if option == 1:
            if 28 + size > len(value):
                raise DecodeError("The 0x8003 checksum's delegation field is truncated.")
            krb_cred = value[28 : 28 + size]
    return AuthenticatorChecksum(bnd, flags, krb_cred)
