"""The public operations by enctype: encrypt, decrypt (whole or over scattered buffers), checksums,
key derivation, string-to-key, random-to-key and PRF (RFC 3961 §3).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Sequence

from ....errors import AlgorithmMismatch, InvalidParameter, MessageAltered
from .enctypes import _CHECKSUM_ENCTYPE, _CHECKSUM_SIZES, _PROFILES
from .keys import KC, KE, KI, Cksumtype, Key, enctype_name
from .rfc3961 import IovPart, Profile, _AesProfile, _usage_label


def profile(enctype: int) -> Profile:
    """The RFC 3961 profile of an implemented enctype.

    Args:
        enctype: 17, 18, 19, 20 or 23.

    Returns:
        Its :class:`Profile`.

    Raises:
        AlgorithmMismatch: the enctype is not implemented (DES, 3DES, Camellia, unknown).
    """
    found = _PROFILES.get(enctype)
    if found is None:
        raise AlgorithmMismatch(
            f"Encryption type {int(enctype)} ({enctype_name(enctype)}) is not implemented; "
            "use aes256-cts-hmac-sha1-96 (18) or another of 17, 19, 20, 23."
        )
    return found


def checksum_size(cksumtype: int) -> int:
    """The length of a checksum of type ``cksumtype``.

    Raises:
        AlgorithmMismatch: a checksum type not implemented here.
    """
    try:
        return _CHECKSUM_SIZES[cksumtype]
    except KeyError:
        raise AlgorithmMismatch(f"Checksum type {cksumtype} is not implemented.") from None


def _confounder(prof: Profile, confounder: bytes | None) -> bytes:
    """``confounder``, checked against the enctype's size, or a random one when None."""
    if confounder is None:
        return os.urandom(prof.confounder_size)
    if len(confounder) != prof.confounder_size:
        raise InvalidParameter(
            f"A {prof.name} confounder is {prof.confounder_size} bytes, not {len(confounder)}."
        )
    return confounder


def encrypt(key: Key, usage: int, plaintext: bytes, confounder: bytes | None = None) -> bytes:
    """Encrypt ``plaintext`` with ``key`` for key usage ``usage`` (RFC 3961 ``encrypt``).

    Args:
        key: the key; its enctype chooses the cryptosystem.
        usage: the RFC 4120 / RFC 4121 key usage number.
        plaintext: the message.
        confounder: the random prefix (16 bytes for AES, 8 for rc4); random when ``None``.

    Returns:
        The ciphertext: ``E(conf | plaintext) | MAC`` in the enctype's layout.

    Raises:
        AlgorithmMismatch: the key's enctype is not implemented.
        InvalidParameter: a confounder of the wrong size or a usage out of range.
    """
    prof = profile(key.enctype)
    confounder = _confounder(prof, confounder)
    return prof.encrypt(key, usage, plaintext, confounder)


def decrypt(key: Key, usage: int, ciphertext: bytes) -> bytes:
    """Check and decrypt a ciphertext made by :func:`encrypt` (RFC 3961 ``decrypt``).

    Args:
        key: the key.
        usage: the key usage the sender used.
        ciphertext: the ciphertext.

    Returns:
        The plaintext.

    Raises:
        AlgorithmMismatch: the key's enctype is not implemented.
        DecodeError: the ciphertext is shorter than confounder and MAC.
        MessageAltered: the integrity check failed (changed message, wrong key or usage).
    """
    if not isinstance(ciphertext, bytes):
        ciphertext = bytes(ciphertext)
    return profile(key.enctype).decrypt(key, usage, ciphertext)


def encrypt_iov(
    key: Key, usage: int, parts: Sequence[IovPart], confounder: bytes | None = None
) -> tuple[bytes, list[bytes], bytes]:
    """Encrypt scattered buffers, some of them only signed (RFC 3961 ``encrypt`` on an iov).

    This is what MIT krb5's ``krb5_c_encrypt_iov`` does with KRB5_CRYPTO_TYPE_DATA and
    KRB5_CRYPTO_TYPE_SIGN_ONLY buffers, and what GSS-API Wrap with SIGN_ONLY buffers (SSPI's
    SECBUFFER_READONLY_WITH_CHECKSUM, MS-KILE 3.4.5.4.1) is built on. With every part encrypted
    the result is :func:`encrypt`'s ``C | H`` cut into pieces: ``header | parts... | trailer``.

    - AES-SHA1 (RFC 3961 section 5.3 / RFC 3962)::

        C = E(Ke, conf | DATA...)          the sign-only buffers are not encrypted
        H = HMAC(Ki, conf | every buffer in order, DATA as plaintext)[1..12]

    - AES-SHA2 (RFC 8009 section 5)::

        C = E(Ke, N | DATA..., IV)
        H = HMAC(Ki, IV | E(N) | every buffer in order, DATA as ciphertext)[1..h]

    Args:
        key: an AES key (17, 18, 19, 20).
        usage: the key usage.
        parts: ``(bytes, encrypted)`` per buffer, in buffer order; see :data:`IovPart`.
        confounder: the 16-byte confounder; random when ``None``.

    Returns:
        ``(header, parts, trailer)``: the encrypted confounder (16 bytes), each part (DATA
        encrypted, same length; SIGN_ONLY unchanged), and the MAC (12, 16 or 24 bytes).

    Raises:
        AlgorithmMismatch: rc4-hmac or an enctype not implemented.
        InvalidParameter: a confounder of the wrong size.
    """
    prof = profile(key.enctype)
    confounder = _confounder(prof, confounder)
    return prof.encrypt_iov(key, usage, [(bytes(d), bool(e)) for d, e in parts], confounder)


def decrypt_iov(
    key: Key, usage: int, header: bytes, parts: Sequence[IovPart], trailer: bytes
) -> list[bytes]:
    """Check and decrypt what :func:`encrypt_iov` made (RFC 3961 ``decrypt`` on an iov).

    Args:
        key: the key.
        usage: the key usage the sender used.
        header: the encrypted confounder (16 bytes).
        parts: ``(bytes, encrypted)`` per buffer in the sender's order: DATA as ciphertext,
            SIGN_ONLY as received.
        trailer: the MAC.

    Returns:
        Each part's plaintext (SIGN_ONLY parts unchanged).

    Raises:
        AlgorithmMismatch: rc4-hmac or an enctype not implemented.
        DecodeError: a header or trailer of the wrong size.
        MessageAltered: the integrity check failed (a DATA or sign-only buffer changed, wrong
            key or usage, or the buffers given in another order).
    """
    return profile(key.enctype).decrypt_iov(
        key, usage, bytes(header), [(bytes(d), bool(e)) for d, e in parts], bytes(trailer)
    )


def make_checksum(key: Key, usage: int, data: bytes) -> bytes:
    """Compute the mandatory checksum of the key's enctype (RFC 3961 ``get_mic``).

    Args:
        key: the key.
        usage: the key usage.
        data: the message.

    Returns:
        The checksum (12, 16 or 24 bytes); its type is ``profile(key.enctype).checksum_type``.

    Raises:
        AlgorithmMismatch: the key's enctype is not implemented.
    """
    return profile(key.enctype).checksum(key, usage, data)


def verify_checksum(
    key: Key, usage: int, data: bytes, checksum: bytes, cksumtype: int | None = None
) -> None:
    """Check a keyed checksum in constant time (RFC 3961 ``verify_mic``).

    Args:
        key: the key.
        usage: the key usage.
        data: the message.
        checksum: the checksum received.
        cksumtype: the checksum type received; ``None`` means the enctype's mandatory one.

    Raises:
        AlgorithmMismatch: the key's enctype is not implemented, the checksum type is
            unkeyed (RSA-MD5 proves nothing), unknown, or not one this key computes.
        MessageAltered: the checksum does not match.
    """
    prof = profile(key.enctype)
    if cksumtype is not None and cksumtype != prof.checksum_type:
        owner = _CHECKSUM_ENCTYPE.get(cksumtype)
        if cksumtype == Cksumtype.RSA_MD5:
            raise AlgorithmMismatch("RSA-MD5 (7) is unkeyed and cannot authenticate a message.")
        if owner is None:
            raise AlgorithmMismatch(f"Checksum type {cksumtype} is not implemented.")
        raise AlgorithmMismatch(
            f"Checksum type {cksumtype} is not made with {prof.name} keys "
            f"(expected {int(prof.checksum_type)})."
        )
    if not hmac.compare_digest(prof.checksum(key, usage, data), bytes(checksum)):
        raise MessageAltered(
            f"The {prof.name} checksum does not match (key usage {usage}): the message was "
            "changed, or the key or usage is wrong."
        )


def derive_key(key: Key, usage: int, kind: int) -> bytes:
    """The derived key Kc, Ke or Ki of an AES key for one usage (cached on the key).

    RFC 3961 section 5.3 (and RFC 8009 section 5 with KDF-HMAC-SHA2 for DK)::

        Kc = DK(base-key, usage | 0x99);
        Ke = DK(base-key, usage | 0xAA);
        Ki = DK(base-key, usage | 0x55);

    Args:
        key: an AES key (17, 18, 19 or 20).
        usage: the key usage.
        kind: :data:`KC` (0x99), :data:`KE` (0xAA) or :data:`KI` (0x55).

    Returns:
        The derived key bytes.

    Raises:
        AlgorithmMismatch: not an AES key.
        InvalidParameter: ``kind`` is not 0x99, 0xAA or 0x55.
    """
    prof = profile(key.enctype)
    if not isinstance(prof, _AesProfile):
        raise AlgorithmMismatch(f"{prof.name} keys have no RFC 3961 derived keys.")
    if kind not in (KC, KE, KI):
        raise InvalidParameter(f"A derived key kind is 0x99, 0xAA or 0x55, not {kind:#x}.")
    if kind == KE:
        return prof._derive(key.contents, _usage_label(usage, KE), KE)
    return prof._mac_key(key, usage, kind)


def string_to_key(
    enctype: int, password: str | bytes, salt: bytes, s2kparams: bytes | None = None
) -> Key:
    """Derive a long-term key from a password (RFC 3961 ``string-to-key``).

    Args:
        enctype: 17, 18, 19, 20 or 23.
        password: the password; ``str`` is encoded as UTF-8.
        salt: the salt, usually realm | principal name components (RFC 4120 section 4).
        s2kparams: ETYPE-INFO2 s2kparams: a 4-byte big-endian iteration count for AES
            (defaults 4096 and 32768); must be empty for rc4-hmac.

    Returns:
        The :class:`Key`.

    Raises:
        AlgorithmMismatch: the enctype is not implemented.
        DecodeError: malformed s2kparams, or an iteration count outside 1..2**24-1.
        InvalidParameter: a password that is not valid UTF-8 (bytes for rc4-hmac) or not
            encodable as UTF-8 (a str with a lone surrogate, for AES).
    """
    prof = profile(enctype)
    return Key(enctype, prof.string_to_key(password, bytes(salt), s2kparams))


def random_to_key(enctype: int, seed: bytes) -> Key:
    """Make a key from a key-generation seed (RFC 3961 ``random-to-key``; the identity here).

    Raises:
        AlgorithmMismatch: the enctype is not implemented.
        InvalidParameter: the seed is not the key length.
    """
    return Key(enctype, profile(enctype).random_to_key(seed))


def random_key(enctype: int, random: Callable[[int], bytes] = os.urandom) -> Key:
    """Make a fresh random key (a session key or subkey).

    Args:
        enctype: 17, 18, 19, 20 or 23.
        random: the random source, called with the number of bytes wanted.

    Returns:
        The :class:`Key`.

    Raises:
        AlgorithmMismatch: the enctype is not implemented.
    """
    prof = profile(enctype)
    return Key(enctype, prof.random_to_key(random(prof.key_size)))


def prf(key: Key, data: bytes) -> bytes:
    """The enctype's pseudo-random function (RFC 3961 section 3; RFC 4402 builds KRB-FX-CF2
    and the GSS PRF on it).

    Args:
        key: the key.
        data: the input octet string.

    Returns:
        16 bytes (AES-SHA1), 32 (19), 48 (20) or 20 (rc4-hmac).

    Raises:
        AlgorithmMismatch: the key's enctype is not implemented.
    """
    return profile(key.enctype).prf(key, data)
