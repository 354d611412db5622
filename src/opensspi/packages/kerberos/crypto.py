"""Kerberos cryptosystems: the RFC 3961 framework, AES-SHA1 (RFC 3962) and AES-SHA2 (RFC 8009).

RFC 3961 "Encryption and Checksum Specifications for Kerberos 5": section 3 (the profile of an
encryption type), 5.1 (n-fold, DR, DK), 5.3 (the simplified profile: Kc, Ke, Ki and
encrypt-then-HMAC of the plaintext) and 5.4 (its checksum). RFC 3962 "Advanced Encryption
Standard (AES) Encryption for Kerberos 5": sections 4 (PBKDF2-SHA1 string-to-key) and 5 (CBC
with ciphertext stealing). RFC 8009 "AES Encryption with HMAC-SHA2 for Kerberos 5": sections 3
(KDF-HMAC-SHA2), 4 (PBKDF2-SHA2 string-to-key) and 5 (encrypt-then-MAC, checksum, PRF).
https://www.rfc-editor.org/rfc/rfc3961, https://www.rfc-editor.org/rfc/rfc3962,
https://www.rfc-editor.org/rfc/rfc8009

:func:`encrypt_iov` / :func:`decrypt_iov` are the same encryption over scattered buffers, some
of them only signed (MIT krb5's ``krb5_c_encrypt_iov`` with KRB5_CRYPTO_TYPE_SIGN_ONLY), which is
what GSS Wrap with sign-only buffers needs.

Rules of this module: pure functions of keys and bytes; the only state is the per-:class:`Key`
cache of derived keys (Kc, Ke, Ki are fixed functions of key and usage, and a context encrypts
thousands of messages with one usage). Randomness is drawn only for a default confounder or
key. AES, HMAC, hashes and PBKDF2 come from ``cryptography``. rc4-hmac (enctype 23) lives in
``legacy.py``; this module dispatches to it, and the package decides whether 23 is allowed.
DES, 3DES and Camellia are not implemented.

CTS is built on whole-message AES-CBC calls (no per-block Python loop): encryption pads with
zeros, runs CBC once and swaps the last two blocks; decryption runs one CBC decryptor over the
message and recovers the stolen bytes from its output on the last two blocks.
"""

from __future__ import annotations

import functools
import hmac
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from math import gcd

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.ciphers.modes import CBC, ECB
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ...errors import AlgorithmMismatch, DecodeError, InvalidParameter, MessageAltered
from . import legacy

__all__ = [
    "CKSUMTYPE_GSSAPI",
    "KC",
    "KE",
    "KI",
    "SUPPORTED",
    "Cksumtype",
    "Enctype",
    "IovPart",
    "Key",
    "Profile",
    "checksum_size",
    "cts_decrypt",
    "cts_encrypt",
    "decrypt",
    "decrypt_iov",
    "derive_key",
    "dk",
    "dr",
    "encrypt",
    "encrypt_iov",
    "enctype_from_name",
    "enctype_name",
    "kdf_hmac_sha2",
    "make_checksum",
    "nfold",
    "parse_enctypes",
    "prf",
    "profile",
    "random_key",
    "random_to_key",
    "string_to_key",
    "verify_checksum",
]


class Enctype(IntEnum):
    """The encryption types implemented here (RFC 3961 section 8, RFC 3962, RFC 8009, RFC 4757)."""

    AES128_CTS_HMAC_SHA1_96 = 17
    AES256_CTS_HMAC_SHA1_96 = 18
    AES128_CTS_HMAC_SHA256_128 = 19
    AES256_CTS_HMAC_SHA384_192 = 20
    RC4_HMAC = 23


class Cksumtype(IntEnum):
    """Checksum types (RFC 3961 section 8, RFC 3962 section 7, RFC 8009 section 8, RFC 4757)."""

    RSA_MD5 = 7  # unkeyed (RFC 3961 section 6.1.3): named so it can be read, never verified
    HMAC_SHA1_96_AES128 = 15
    HMAC_SHA1_96_AES256 = 16
    HMAC_SHA256_128_AES128 = 19
    HMAC_SHA384_192_AES256 = 20
    HMAC_MD5 = -138  # RFC 4757 section 4, as MIT and Windows number it


#: RFC 4121 section 4.1.1: the authenticator checksum type that carries GSS-API data (channel
#: bindings, flags, delegation); it is a structure, not a checksum over anything.
CKSUMTYPE_GSSAPI = 0x8003

#: The enctypes this module implements, strongest first, in MIT krb5's default order.
SUPPORTED: tuple[int, ...] = (18, 17, 20, 19, 23)

#: RFC 3961 section 5.3: the last octet of the well-known constant for Kc, Ke and Ki.
KC = 0x99
KE = 0xAA
KI = 0x55

_BLOCK = 16
_ZERO_IV = bytes(_BLOCK)
_CBC_ZERO_IV = CBC(_ZERO_IV)  # modes are immutable: one object serves every key schedule
_TEMPLATE = 1 << 40  # _DerivedKeys slot flag: a keyed HMAC template, not key bytes
_ZEROS = bytes(_BLOCK)
_KERBEROS = b"kerberos"
_PRF = b"prf"
_MAX_ITERATIONS = 0xFFFFFF  # MIT krb5 refuses s2kparams of 2**24 and above
_SHA1 = hashes.SHA1()
_SHA256 = hashes.SHA256()
_SHA384 = hashes.SHA384()


class _DerivedKeys:
    """Cache of one key's derived keys, by ``usage << 8 | kind`` (kind 0x99, 0xAA or 0x55):
    for Ke the key schedule (a ``Cipher``); for Kc and Ki a keyed HMAC that each message copies
    (OpenSSL's context copy skips re-keying: the ipad/opad blocks are hashed once per key and
    usage, not once per message), under the slot plus :data:`_TEMPLATE`, and the derived key
    bytes when they were asked for. One dict: a server holds one of these per context key."""

    __slots__ = ("slots",)

    def __init__(self) -> None:
        self.slots: dict[int, object] = {}

    def __repr__(self) -> str:
        return "<derived keys>"

    def __reduce__(self) -> tuple[type[_DerivedKeys], tuple[()]]:
        # A pickled or copied Key starts with an empty cache: Cipher objects do not pickle.
        return (_DerivedKeys, ())


@dataclass(frozen=True, slots=True)
class Key:
    """A Kerberos key: an enctype number and the key bytes (RFC 4120 EncryptionKey).

    The bytes never appear in ``repr``. Keys of enctypes this module implements are checked for
    length; others (DES from an old keytab, say) are kept as they are but cannot be used.
    """

    enctype: int
    contents: bytes = field(repr=False)
    _derived: _DerivedKeys = field(
        default_factory=_DerivedKeys, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.contents, bytes):
            if not isinstance(self.contents, (bytearray, memoryview)):
                raise InvalidParameter("Key contents must be bytes.")
            object.__setattr__(self, "contents", bytes(self.contents))
        known = _PROFILES.get(self.enctype)
        if known is not None and len(self.contents) != known.key_size:
            raise InvalidParameter(
                f"A {known.name} key is {known.key_size} bytes, not {len(self.contents)}."
            )

    def __repr__(self) -> str:
        name = enctype_name(self.enctype)
        return f"Key(enctype={int(self.enctype)} {name}, <{len(self.contents)} bytes hidden>)"


# --- RFC 3961 section 5.1 -------------------------------------------------------------------------


def nfold(data: bytes, n: int) -> bytes:
    """Stretch or fold ``data`` to ``n`` bits, RFC 3961's n-fold.

    RFC 3961 section 5.1 "A Key Derivation Function"::

        We first define a primitive called n-folding, which takes a
        variable-length input block and produces a fixed-length output
        sequence.  The intent is to give each input bit approximately
        equal weight in determining the value of each output bit.

        To n-fold a number X, replicate the input value to a length that
        is the least common multiple of n and the length of X.  Before
        each repetition, the input is rotated to the right by 13 bit
        positions.  The successive n-bit chunks are added together using
        1's-complement addition (that is, with end-around carry) to yield
        a n-bit result.

    Args:
        data: the input, at least one byte.
        n: the output length in bits, a multiple of 8.

    Returns:
        ``n // 8`` bytes.

    Raises:
        InvalidParameter: empty input, or ``n`` not a positive multiple of 8.
    """
    if not data or n <= 0 or n % 8:
        raise InvalidParameter("n-fold needs a non-empty input and a positive multiple of 8 bits.")
    inbits = len(data) * 8
    lcm = inbits * n // gcd(inbits, n)
    x = int.from_bytes(data, "big")
    inmask = (1 << inbits) - 1
    buf = 0
    for i in range(lcm // inbits):
        r = (13 * i) % inbits
        buf = (buf << inbits) | (((x >> r) | (x << (inbits - r))) & inmask)
    outmask = (1 << n) - 1
    total = 0
    for _ in range(lcm // n):
        total += buf & outmask
        buf >>= n
    while total >> n:
        total = (total & outmask) + (total >> n)
    return total.to_bytes(n // 8, "big")


def dr(key: bytes, constant: bytes) -> bytes:
    """The derive-random function of RFC 3961, with the AES of RFC 3962 as ``E``.

    RFC 3961 section 5.1 "A Key Derivation Function"::

        DR(Key, Constant) = k-truncate(E(Key, Constant,
                                         initial-cipher-state))

        K1 = E(Key, n-fold(Constant), initial-cipher-state)
        K2 = E(Key, K1, initial-cipher-state)
        K3 = E(Key, K2, initial-cipher-state)
        K4 = ...

        DR(Key, Constant) = k-truncate(K1 | K2 | K3 | K4 ...)

    ``E`` of one block with a zero initial state is one AES block encryption; ``k`` is the
    key-generation seed length, the key length for AES.

    Args:
        key: a 16- or 32-byte AES key.
        constant: the well-known constant (n-folded to 128 bits unless already 16 bytes).

    Returns:
        ``len(key)`` pseudo-random bytes.
    """
    block = constant if len(constant) == _BLOCK else _nfold_128(constant)
    # K(i+1) = E(K(i)) is CBC with a zero IV over n-fold(Constant) and zero blocks: one call.
    blocks = -(-len(key) // _BLOCK)
    out = Cipher(AES(key), CBC(_ZERO_IV)).encryptor().update(block + _ZEROS[: (blocks - 1) * 16])
    return out[: len(key)]


@lru_cache(maxsize=512)
def _nfold_128(constant: bytes) -> bytes:
    # The constants are public (usage numbers, "kerberos", "prf"): caching them leaks nothing.
    return nfold(constant, 128)


def dk(key: bytes, constant: bytes) -> bytes:
    """The derive-key function of RFC 3961 for the AES-SHA1 enctypes (17, 18).

    RFC 3961 section 5.1 "A Key Derivation Function"::

        Derived Key = DK(Base Key, Well-Known Constant)

        DK(Key, Constant) = random-to-key(DR(Key, Constant))

    RFC 3962 section 6: random-to-key is the identity for AES.

    Args:
        key: a 16- or 32-byte AES key.
        constant: the well-known constant, e.g. ``usage(4, BE) | 0xAA`` or ``b"kerberos"``.

    Returns:
        The derived key, ``len(key)`` bytes.
    """
    return dr(key, constant)


# --- RFC 8009 section 3 ---------------------------------------------------------------------------


def kdf_hmac_sha2(
    key: bytes, label: bytes, k: int, context: bytes = b"", *, sha384: bool = False
) -> bytes:
    """KDF-HMAC-SHA2 of RFC 8009, the SP 800-108 counter-mode KDF with one HMAC block.

    RFC 8009 section 3 "Key Derivation Function"::

        KDF-HMAC-SHA2(key, label, [context,] k):

        k-truncate(K1)

        K1 = HMAC-SHA-256(key, 0x00000001 | label | 0x00 | k)
        K1 = HMAC-SHA-384(key, 0x00000001 | label | 0x00 | k)

    (SHA-256 for aes128-cts-hmac-sha256-128, SHA-384 for aes256-cts-hmac-sha384-192; the
    context, when given, goes between the 0x00 and ``k``, and ``k`` is 32-bit big-endian.)

    Args:
        key: the input key.
        label: the label, e.g. ``usage(4, BE) | 0x99`` or ``b"prf"``.
        k: the output length in bits (at most 256, or 384 with SHA-384).
        context: the optional context (the PRF input).
        sha384: use HMAC-SHA-384 (enctype 20) instead of HMAC-SHA-256 (enctype 19).

    Returns:
        ``k // 8`` bytes.
    """
    mac = HMAC(key, _SHA384 if sha384 else _SHA256)
    mac.update(b"".join((b"\x00\x00\x00\x01", label, b"\x00", context, k.to_bytes(4, "big"))))
    return mac.finalize()[: k // 8]


# --- RFC 3962 section 5 ---------------------------------------------------------------------------


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _cts_encrypt_parts(
    cipher: Cipher[CBC], padded: bytes, n: int
) -> tuple[bytes | memoryview, ...]:
    # ``padded`` is the n-byte plaintext plus zeros to a whole block; CBC with a zero IV runs
    # once over it, then the last two blocks swap and the stolen tail is dropped.
    ct = cipher.encryptor().update(padded)
    if n == _BLOCK:
        return (ct,)
    last = n - (len(padded) - _BLOCK)  # bytes of plaintext in the final block, 1..16
    return (memoryview(ct)[:-32], ct[-16:], ct[-32 : -32 + last])


def _cts_decrypt(cipher: Cipher[CBC], data: bytes | memoryview) -> bytes:
    # One CBC decryptor, three calls: the head C1..C(n-2) as it is; then E(n) (sent in the
    # second-to-last position), whose output XOR C(n-2) is D = P(n)|0.. XOR E(n-1); then the
    # rebuilt E(n-1) = C(n) | D[m:], whose output XOR E(n) XOR C(n-2) is P(n-1).
    n = len(data)
    decryptor = cipher.decryptor()
    if n == _BLOCK:
        return decryptor.update(data)
    if not n % _BLOCK:
        # Whole blocks: CTS is CBC with the last two blocks swapped; swap back, one CBC call.
        return decryptor.update(b"".join((data[:-32], data[-16:], data[-32:-16])))
    last = n % _BLOCK or _BLOCK
    cut = n - last - _BLOCK
    head = decryptor.update(data[:cut])
    en = bytes(data[cut : cut + _BLOCK])
    cn = bytes(data[cut + _BLOCK :])
    prev = bytes(data[cut - _BLOCK : cut]) if cut else _ZERO_IV
    d = _xor(decryptor.update(en), prev)
    pn = _xor(d[:last], cn)
    pn1 = _xor(_xor(decryptor.update(cn + d[last:]), en), prev)
    return b"".join((head, pn1, pn))


def cts_encrypt(key: bytes, plaintext: bytes) -> bytes:
    """AES in CBC mode with ciphertext stealing and a zero IV, as Kerberos uses it.

    RFC 3962 section 5 "Ciphertext Stealing" (its rule, summarised: the section is prose)::

        CBC with a zero initial vector over the plaintext padded with zeros to
        whole blocks; then the last two ciphertext blocks are swapped and the
        (new) last block is truncated to the length of the last plaintext
        block.  The two blocks are swapped even when the plaintext is a whole
        number of blocks; a single block is plain CBC.

    Args:
        key: a 16- or 32-byte AES key.
        plaintext: at least 16 bytes.

    Returns:
        The ciphertext, as long as the plaintext.

    Raises:
        InvalidParameter: a plaintext shorter than one block.
    """
    n = len(plaintext)
    if n < _BLOCK:
        raise InvalidParameter("CTS needs at least one 16-byte block.")
    padded = plaintext + _ZEROS[: -n % _BLOCK]
    return b"".join(_cts_encrypt_parts(Cipher(AES(key), CBC(_ZERO_IV)), padded, n))


def cts_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    """Undo :func:`cts_encrypt` (RFC 3962 section 5, zero IV).

    Args:
        key: a 16- or 32-byte AES key.
        ciphertext: at least 16 bytes.

    Returns:
        The plaintext.

    Raises:
        DecodeError: a ciphertext shorter than one block.
    """
    if len(ciphertext) < _BLOCK:
        raise DecodeError("A CTS ciphertext is at least one 16-byte block.")
    return _cts_decrypt(Cipher(AES(key), CBC(_ZERO_IV)), bytes(ciphertext))


# --- the profiles (RFC 3961 section 3) ------------------------------------------------------------


def _usage_label(usage: int, kind: int) -> bytes:
    if not 0 <= usage <= 0xFFFFFFFF:
        raise InvalidParameter(f"A key usage is an unsigned 32-bit number, not {usage}.")
    return usage.to_bytes(4, "big") + bytes((kind,))


def _parse_iterations(s2kparams: bytes | None, default: int) -> int:
    if s2kparams is None or len(s2kparams) == 0:
        return default
    if len(s2kparams) != 4:
        raise DecodeError(
            f"AES string-to-key parameters are a 4-byte iteration count, not {len(s2kparams)} "
            "bytes."
        )
    iterations = int.from_bytes(s2kparams, "big")
    if not 1 <= iterations <= _MAX_ITERATIONS:
        # Deviation: RFC 3962 section 4 reads 0 as 2**32; MIT krb5 refuses that and anything
        # from 2**24 up (a KDC could otherwise make the client spin for hours).
        raise DecodeError(
            f"String-to-key iteration count {iterations} is outside 1..{_MAX_ITERATIONS}."
        )
    return iterations


def _password_bytes(password: str | bytes) -> bytes:
    if not isinstance(password, str):
        return bytes(password)
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameter(
            "The password cannot be encoded as UTF-8 (it holds a lone surrogate)."
        ) from None


class Profile(ABC):
    """The RFC 3961 section 3 profile of one enctype: sizes and the operations on its keys.

    One subclass per family; get the instance for an enctype with :func:`profile`.
    """

    enctype: Enctype
    name: str
    key_size: int  # protocol key and key-generation seed length, in bytes
    block_size: int  # message block size m
    confounder_size: int  # c
    checksum_size: int  # h: the MAC bytes appended by encrypt, and the checksum length
    checksum_type: Cksumtype
    prf_size: int

    @abstractmethod
    def encrypt(self, key: Key, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
        """Encrypt ``plaintext`` under ``key`` for ``usage`` with the given confounder."""

    @abstractmethod
    def decrypt(self, key: Key, usage: int, ciphertext: bytes) -> bytes:
        """Check and decrypt; raise DecodeError (too short) or MessageAltered (bad MAC)."""

    @abstractmethod
    def checksum(self, key: Key, usage: int, data: bytes) -> bytes:
        """The enctype's mandatory checksum of ``data``."""

    @abstractmethod
    def string_to_key(self, password: str | bytes, salt: bytes, s2kparams: bytes | None) -> bytes:
        """The key bytes for a password (RFC 3961 section 3 "string-to-key")."""

    def random_to_key(self, seed: bytes) -> bytes:
        """The key bytes for a key-generation seed; the identity for all enctypes here."""
        if len(seed) != self.key_size:
            raise InvalidParameter(
                f"A {self.name} key-generation seed is {self.key_size} bytes, not {len(seed)}."
            )
        return bytes(seed)

    @abstractmethod
    def prf(self, key: Key, data: bytes) -> bytes:
        """The enctype's pseudo-random function."""

    def encrypt_iov(
        self, key: Key, usage: int, parts: Sequence[IovPart], confounder: bytes
    ) -> tuple[bytes, list[bytes], bytes]:
        """Encrypt scattered buffers, some only signed; see :func:`encrypt_iov`."""
        raise AlgorithmMismatch(
            f"{self.name} has no scattered-buffer (sign-only) encryption here; only the AES "
            "enctypes (17, 18, 19, 20) do."
        )

    def decrypt_iov(
        self, key: Key, usage: int, header: bytes, parts: Sequence[IovPart], trailer: bytes
    ) -> list[bytes]:
        """Check and decrypt scattered buffers; see :func:`decrypt_iov`."""
        raise AlgorithmMismatch(
            f"{self.name} has no scattered-buffer (sign-only) decryption here; only the AES "
            "enctypes (17, 18, 19, 20) do."
        )

    def __repr__(self) -> str:
        return f"<Profile {self.name} ({int(self.enctype)})>"


IovPart = tuple[bytes, bool]
"""One buffer of :func:`encrypt_iov` / :func:`decrypt_iov`: its bytes, and True when it is
encrypted (a DATA buffer) or False when it is only covered by the integrity check (a SIGN_ONLY
buffer, SSPI's SECBUFFER_READONLY_WITH_CHECKSUM)."""


def _scatter(stream: bytes, offset: int, parts: Sequence[IovPart]) -> list[bytes]:
    """Cut ``stream[offset:]`` into the encrypted parts' sizes; sign-only parts pass as they are."""
    out: list[bytes] = []
    pos = offset
    for data, encrypted in parts:
        if encrypted:
            out.append(stream[pos : pos + len(data)])
            pos += len(data)
        else:
            out.append(data)
    return out


def _check_iov_sizes(name: str, header: bytes, trailer: bytes, h: int) -> None:
    if len(header) != _BLOCK or len(trailer) != h:
        raise DecodeError(
            f"A {name} scattered ciphertext has a {_BLOCK}-byte header and a {h}-byte trailer; "
            f"got {len(header)} and {len(trailer)} bytes."
        )


class _AesProfile(Profile):
    """What the two AES families share: 16-byte blocks and confounders, CTS, derived keys."""

    block_size = _BLOCK
    confounder_size = _BLOCK

    @abstractmethod
    def _derive(self, base: bytes, label: bytes, kind: int) -> bytes:
        """DK of the family: RFC 3961 DK with AES, or RFC 8009 KDF-HMAC-SHA2."""

    def _ke(self, key: Key, usage: int) -> Cipher[CBC]:
        slots = key._derived.slots
        slot = usage << 8 | KE
        cipher = slots.get(slot)
        if cipher is None:
            ke = self._derive(key.contents, _usage_label(usage, KE), KE)
            cipher = slots[slot] = Cipher(AES(ke), _CBC_ZERO_IV)
        return cipher  # type: ignore[return-value]

    def _mac_key(self, key: Key, usage: int, kind: int) -> bytes:
        slots = key._derived.slots
        slot = usage << 8 | kind
        value = slots.get(slot)
        if value is None:
            value = slots[slot] = self._derive(key.contents, _usage_label(usage, kind), kind)
        return value  # type: ignore[return-value]

    def _mac(self, key: Key, usage: int, kind: int, algorithm: hashes.HashAlgorithm) -> HMAC:
        """A fresh HMAC keyed with the derived Kc or Ki: a copy of one cached keyed template."""
        slots = key._derived.slots
        slot = usage << 8 | kind | _TEMPLATE
        template = slots.get(slot)
        if template is None:
            derived = slots.get(slot ^ _TEMPLATE)
            if derived is None:
                derived = self._derive(key.contents, _usage_label(usage, kind), kind)
            template = slots[slot] = HMAC(derived, algorithm)  # type: ignore[arg-type]
        return template.copy()  # type: ignore[attr-defined,no-any-return]


class _AesSha1Profile(_AesProfile):
    """aes128-cts-hmac-sha1-96 (17) and aes256-cts-hmac-sha1-96 (18), RFC 3962."""

    checksum_size = 12
    prf_size = _BLOCK

    def __init__(self, enctype: Enctype, key_size: int, checksum_type: Cksumtype) -> None:
        self.enctype = enctype
        self.name = _NAMES[enctype]
        self.key_size = key_size
        self.checksum_type = checksum_type

    def _derive(self, base: bytes, label: bytes, kind: int) -> bytes:
        return dk(base, label)

    def encrypt(self, key: Key, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
        """RFC 3961 section 5.3 encryption with RFC 3962's CTS and HMAC-SHA1-96.

        RFC 3961 section 5.3 "A Simplified Profile for CBC Ciphers with Key Derivation"::

            encryption function       conf = Random string of length c
                                      pad = Shortest string to bring confounder
                                            and plaintext to a length that's a
                                            multiple of m.
                                      (C1, newIV) = E(Ke, conf | plaintext | pad,
                                                      oldstate.ivec)
                                      H1 = HMAC(Ki, conf | plaintext | pad)

                                      ciphertext =  C1 | H1[1..h]

        RFC 3962 section 6: m is 1 (CTS needs no padding), c is 16, h is 12.
        """
        padded = b"".join((confounder, plaintext, _ZEROS[: -(_BLOCK + len(plaintext)) % _BLOCK]))
        n = _BLOCK + len(plaintext)
        mac = self._mac(key, usage, KI, _SHA1)
        mac.update(memoryview(padded)[:n])
        parts = _cts_encrypt_parts(self._ke(key, usage), padded, n)
        return b"".join((*parts, mac.finalize()[:12]))

    def decrypt(self, key: Key, usage: int, ciphertext: bytes) -> bytes:
        """RFC 3961 section 5.3 decryption: decrypt, then compare HMAC-SHA1-96 of the plaintext.

        RFC 3961 section 5.3 "A Simplified Profile for CBC Ciphers with Key Derivation"::

            decryption function       (C1,H1) = ciphertext
                                      (P1, newIV) = D(Ke, C1, oldstate.ivec)
                                      if (H1 != HMAC(Ki, P1)[1..h])
                                         report error
                                      newstate.ivec = newIV
        """
        if len(ciphertext) < _BLOCK + 12:
            raise DecodeError(
                f"A {self.name} ciphertext is at least 28 bytes; this one has {len(ciphertext)}."
            )
        plain = _cts_decrypt(self._ke(key, usage), memoryview(ciphertext)[:-12])
        mac = self._mac(key, usage, KI, _SHA1)
        mac.update(plain)
        if not hmac.compare_digest(mac.finalize()[:12], ciphertext[-12:]):
            raise MessageAltered(
                f"The {self.name} integrity check failed (key usage {usage}): the message "
                "was changed, or the key or usage is wrong."
            )
        return plain[_BLOCK:]

    def encrypt_iov(
        self, key: Key, usage: int, parts: Sequence[IovPart], confounder: bytes
    ) -> tuple[bytes, list[bytes], bytes]:
        """RFC 3961 section 5.3 over scattered buffers, with sign-only ones (MIT's
        ``krb5int_dk_encrypt`` on an iov list).

        The simplified profile's ``E(Ke, conf | plaintext | pad)`` and ``HMAC(Ki, conf |
        plaintext | pad)``, where the cipher runs over the confounder and the DATA buffers and the
        HMAC over the confounder and *every* buffer, DATA and SIGN_ONLY, in buffer order (MIT's
        ``SIGN_IOV``: header, data, padding and sign-only buffers; ``ENCRYPT_IOV``: the same
        without sign-only).
        """
        enc = b"".join(data for data, encrypted in parts if encrypted)
        n = _BLOCK + len(enc)
        padded = b"".join((confounder, enc, _ZEROS[: -n % _BLOCK]))
        ct = b"".join(_cts_encrypt_parts(self._ke(key, usage), padded, n))
        mac = self._mac(key, usage, KI, _SHA1)
        mac.update(confounder)
        for data, _ in parts:
            mac.update(data)
        return ct[:_BLOCK], _scatter(ct, _BLOCK, parts), mac.finalize()[:12]

    def decrypt_iov(
        self, key: Key, usage: int, header: bytes, parts: Sequence[IovPart], trailer: bytes
    ) -> list[bytes]:
        """Undo :meth:`encrypt_iov`: decrypt, then compare the HMAC of confounder and every
        buffer in order."""
        _check_iov_sizes(self.name, header, trailer, 12)
        ct = header + b"".join(data for data, encrypted in parts if encrypted)
        plain = _cts_decrypt(self._ke(key, usage), ct)
        out = _scatter(plain, _BLOCK, parts)
        mac = self._mac(key, usage, KI, _SHA1)
        mac.update(plain[:_BLOCK])
        for data in out:
            mac.update(data)
        if not hmac.compare_digest(mac.finalize()[:12], bytes(trailer)):
            raise MessageAltered(
                f"The {self.name} integrity check failed (key usage {usage}): a DATA or "
                "sign-only buffer was changed, or the key or usage is wrong."
            )
        return out

    def checksum(self, key: Key, usage: int, data: bytes) -> bytes:
        """RFC 3961 section 5.4: ``HMAC(Kc, message)[1..h]`` with SHA-1 and h = 12.

        RFC 3961 section 5.4 "Checksum Profiles Based on Simplified Profile"::

            checksum = HMAC(Kc, message)[1..h]
        """
        mac = self._mac(key, usage, KC, _SHA1)
        mac.update(data)
        return mac.finalize()[:12]

    def string_to_key(self, password: str | bytes, salt: bytes, s2kparams: bytes | None) -> bytes:
        """RFC 3962 PBKDF2-HMAC-SHA1 string-to-key.

        RFC 3962 section 4 "Key Generation from Pass Phrases or Random Data"::

            tkey = random2key(PBKDF2(passphrase, salt, iter_count, keylength))
            key = DK(tkey, "kerberos")

        The iteration count is the 4-byte big-endian s2kparams, 4096 by default.
        """
        iterations = _parse_iterations(s2kparams, 4096)
        secret = _password_bytes(password)
        tkey = PBKDF2HMAC(_SHA1, self.key_size, salt, iterations).derive(secret)
        return dk(tkey, _KERBEROS)

    def prf(self, key: Key, data: bytes) -> bytes:
        """RFC 3961 section 5.3 pseudo-random function (RFC 3962: H = SHA-1, m = 16).

        RFC 3961 section 5.3 "A Simplified Profile for CBC Ciphers with Key Derivation"::

            pseudo-random function    tmp1 = H(octet-string)
                                      tmp2 = truncate tmp1 to multiple of m
                                      PRF = E(DK(protocol-key, prfconstant),
                                              tmp2, initial-cipher-state)

        prfconstant is the three octets "prf".
        """
        digest = hashes.Hash(_SHA1)
        digest.update(data)
        tmp2 = digest.finalize()[:_BLOCK]
        kprf = dk(key.contents, _PRF)
        return Cipher(AES(kprf), ECB()).encryptor().update(tmp2)


class _AesSha2Profile(_AesProfile):
    """aes128-cts-hmac-sha256-128 (19) and aes256-cts-hmac-sha384-192 (20), RFC 8009."""

    def __init__(
        self,
        enctype: Enctype,
        key_size: int,
        checksum_type: Cksumtype,
        *,
        sha384: bool,
    ) -> None:
        self.enctype = enctype
        self.name = _NAMES[enctype]
        self.key_size = key_size
        self.checksum_type = checksum_type
        self.sha384 = sha384
        self.hash = _SHA384 if sha384 else _SHA256
        self.checksum_size = 24 if sha384 else 16
        self.prf_size = 48 if sha384 else 32
        self._mac_bits = self.checksum_size * 8  # Kc and Ki: 192 or 128 bits
        self._enctype_name = _NAMES[enctype].encode("ascii")

    def _derive(self, base: bytes, label: bytes, kind: int) -> bytes:
        # RFC 8009 section 5: Ke is as long as the key; Kc and Ki are as long as the MAC.
        bits = self.key_size * 8 if kind == KE else self._mac_bits
        return kdf_hmac_sha2(base, label, bits, sha384=self.sha384)

    def encrypt(self, key: Key, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
        """RFC 8009 encrypt-then-MAC: CTS over confounder and plaintext, HMAC over IV and C.

        RFC 8009 section 5 "Encryption Mechanism"::

            encryption function:
               N = random nonce of length 128 bits
               IV = cipher state
               C = E(Ke, N | plaintext, IV)
               H = HMAC(Ki, IV | C)
               ciphertext = C | H[1..h]

        The cipher state here is always the zero IV.
        """
        n = _BLOCK + len(plaintext)
        padded = b"".join((confounder, plaintext, _ZEROS[: -n % _BLOCK]))
        parts = _cts_encrypt_parts(self._ke(key, usage), padded, n)
        mac = self._mac(key, usage, KI, self.hash)
        mac.update(_ZERO_IV)
        for part in parts:
            mac.update(part)
        return b"".join((*parts, mac.finalize()[: self.checksum_size]))

    def decrypt(self, key: Key, usage: int, ciphertext: bytes) -> bytes:
        """RFC 8009 decryption: check HMAC(Ki, IV | C) first, then decrypt.

        RFC 8009 section 5 "Encryption Mechanism"::

            decryption function:
               (C, H) = ciphertext
               IV = cipher state
               if H != HMAC(Ki, IV | C)[1..h]
                  stop, report error
               (N, P) = D(Ke, C, IV)
        """
        h = self.checksum_size
        if len(ciphertext) < _BLOCK + h:
            raise DecodeError(
                f"A {self.name} ciphertext is at least {_BLOCK + h} bytes; this one has "
                f"{len(ciphertext)}."
            )
        body = memoryview(ciphertext)[:-h]
        mac = self._mac(key, usage, KI, self.hash)
        mac.update(_ZERO_IV)
        mac.update(body)
        if not hmac.compare_digest(mac.finalize()[:h], ciphertext[-h:]):
            raise MessageAltered(
                f"The {self.name} integrity check failed (key usage {usage}): the message "
                "was changed, or the key or usage is wrong."
            )
        return _cts_decrypt(self._ke(key, usage), body)[_BLOCK:]

    def encrypt_iov(
        self, key: Key, usage: int, parts: Sequence[IovPart], confounder: bytes
    ) -> tuple[bytes, list[bytes], bytes]:
        """RFC 8009 encrypt-then-MAC over scattered buffers, with sign-only ones (MIT's
        ``krb5int_etm_encrypt`` on an iov list).

        ``C = E(Ke, N | plaintext, IV)`` over the confounder and the DATA buffers; then
        ``H = HMAC(Ki, IV | C)`` where the HMAC runs over the IV, the encrypted confounder and
        every buffer in buffer order: DATA buffers as ciphertext, SIGN_ONLY buffers as they are
        (MIT: "HMAC the IV, confounder, and ciphertext with sign-only data").
        """
        enc = b"".join(data for data, encrypted in parts if encrypted)
        n = _BLOCK + len(enc)
        padded = b"".join((confounder, enc, _ZEROS[: -n % _BLOCK]))
        ct = b"".join(_cts_encrypt_parts(self._ke(key, usage), padded, n))
        out = _scatter(ct, _BLOCK, parts)
        mac = self._mac(key, usage, KI, self.hash)
        mac.update(_ZERO_IV)
        mac.update(ct[:_BLOCK])
        for data in out:
            mac.update(data)
        return ct[:_BLOCK], out, mac.finalize()[: self.checksum_size]

    def decrypt_iov(
        self, key: Key, usage: int, header: bytes, parts: Sequence[IovPart], trailer: bytes
    ) -> list[bytes]:
        """Undo :meth:`encrypt_iov`: check ``HMAC(Ki, IV | C)`` with the sign-only buffers in
        place first, then decrypt."""
        h = self.checksum_size
        _check_iov_sizes(self.name, header, trailer, h)
        mac = self._mac(key, usage, KI, self.hash)
        mac.update(_ZERO_IV)
        mac.update(header)
        for data, _ in parts:
            mac.update(data)
        if not hmac.compare_digest(mac.finalize()[:h], bytes(trailer)):
            raise MessageAltered(
                f"The {self.name} integrity check failed (key usage {usage}): a DATA or "
                "sign-only buffer was changed, or the key or usage is wrong."
            )
        ct = header + b"".join(data for data, encrypted in parts if encrypted)
        return _scatter(_cts_decrypt(self._ke(key, usage), ct), _BLOCK, parts)

    def checksum(self, key: Key, usage: int, data: bytes) -> bytes:
        """RFC 8009 checksum: HMAC-SHA-256 or -384 under Kc, truncated to h.

        RFC 8009 section 5 "Encryption Mechanism" (the checksum, summarised)::

            checksum = HMAC(Kc, message)[1..h]
                       h = 128 bits (aes128-cts-hmac-sha256-128)
                           192 bits (aes256-cts-hmac-sha384-192)
        """
        mac = self._mac(key, usage, KC, self.hash)
        mac.update(data)
        return mac.finalize()[: self.checksum_size]

    def string_to_key(self, password: str | bytes, salt: bytes, s2kparams: bytes | None) -> bytes:
        """RFC 8009 PBKDF2-HMAC-SHA2 string-to-key with the enctype name in the salt.

        RFC 8009 section 4 "Key Generation from Pass Phrases"::

            saltp = enctype-name | 0x00 | salt
            tkey = random-to-key(PBKDF2(passphrase, saltp,
                                        iter_count, keylength))
            base-key = random-to-key(KDF-HMAC-SHA2(tkey, "kerberos",
                                                   keylength))

        PBKDF2 uses HMAC-SHA-256 (19) or HMAC-SHA-384 (20); the default iteration count is
        32768.
        """
        iterations = _parse_iterations(s2kparams, 32768)
        saltp = b"".join((self._enctype_name, b"\x00", salt))
        secret = _password_bytes(password)
        tkey = PBKDF2HMAC(self.hash, self.key_size, saltp, iterations).derive(secret)
        return kdf_hmac_sha2(tkey, _KERBEROS, self.key_size * 8, sha384=self.sha384)

    def prf(self, key: Key, data: bytes) -> bytes:
        """RFC 8009 pseudo-random function.

        RFC 8009 section 5 "Encryption Mechanism" (pseudo-random function)::

            PRF = KDF-HMAC-SHA2(input-key, "prf", octet-string, 256)
            PRF = KDF-HMAC-SHA2(input-key, "prf", octet-string, 384)
        """
        return kdf_hmac_sha2(key.contents, _PRF, self.prf_size * 8, data, sha384=self.sha384)


class _Rc4HmacProfile(Profile):
    """rc4-hmac (23), RFC 4757: every operation is in ``legacy.py``."""

    enctype = Enctype.RC4_HMAC
    name = "arcfour-hmac"
    key_size = legacy.KEY_SIZE
    block_size = 1
    confounder_size = legacy.CONFOUNDER_SIZE
    checksum_size = legacy.CHECKSUM_SIZE
    checksum_type = Cksumtype.HMAC_MD5
    prf_size = legacy.PRF_SIZE

    def encrypt(self, key: Key, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
        """RFC 4757 section 4; see :func:`legacy.rc4_hmac_encrypt`."""
        return legacy.rc4_hmac_encrypt(key.contents, usage, plaintext, confounder)

    def decrypt(self, key: Key, usage: int, ciphertext: bytes) -> bytes:
        """RFC 4757 section 4; see :func:`legacy.rc4_hmac_decrypt`."""
        return legacy.rc4_hmac_decrypt(key.contents, usage, ciphertext)

    def checksum(self, key: Key, usage: int, data: bytes) -> bytes:
        """RFC 4757 section 4 HMAC-MD5 (-138); see :func:`legacy.hmac_md5_checksum`."""
        return legacy.hmac_md5_checksum(key.contents, usage, data)

    def string_to_key(self, password: str | bytes, salt: bytes, s2kparams: bytes | None) -> bytes:
        """RFC 4757 section 4: MD4 of the UTF-16LE password; no salt, no parameters."""
        if s2kparams:
            raise DecodeError("rc4-hmac takes no string-to-key parameters.")
        return legacy.rc4_hmac_string_to_key(password)

    def prf(self, key: Key, data: bytes) -> bytes:
        """HMAC-SHA1 under the key; see :func:`legacy.rc4_hmac_prf`."""
        return legacy.rc4_hmac_prf(key.contents, data)


# --- names (MIT krb5's spellings, as krb5.conf writes them) ---------------------------------------

_NAMES: dict[int, str] = {
    1: "des-cbc-crc",
    2: "des-cbc-md4",
    3: "des-cbc-md5",
    4: "des-cbc-raw",
    6: "des3-cbc-raw",
    8: "des-hmac-sha1",
    16: "des3-cbc-sha1",
    17: "aes128-cts-hmac-sha1-96",
    18: "aes256-cts-hmac-sha1-96",
    19: "aes128-cts-hmac-sha256-128",
    20: "aes256-cts-hmac-sha384-192",
    23: "arcfour-hmac",
    24: "arcfour-hmac-exp",
    25: "camellia128-cts-cmac",
    26: "camellia256-cts-cmac",
}
_ALIASES: dict[str, int] = {
    "des": 3,
    "des3-hmac-sha1": 16,
    "des3-cbc-sha1-kd": 16,
    "aes128-cts": 17,
    "aes128-sha1": 17,
    "aes256-cts": 18,
    "aes256-sha1": 18,
    "aes128-sha2": 19,
    "aes256-sha2": 20,
    "rc4-hmac": 23,
    "arcfour-hmac-md5": 23,
    "rc4-hmac-exp": 24,
    "arcfour-hmac-md5-exp": 24,
    "camellia128-cts": 25,
    "camellia256-cts": 26,
}
# MIT krb5 (lib/krb5/krb/init_ctx.c) enctype families, in its order.
_FAMILIES: dict[str, tuple[int, ...]] = {
    "aes": (18, 17, 20, 19),
    "rc4": (23,),
    "des3": (16,),
    "des": (1, 3, 2),
    "camellia": (26, 25),
}
_BY_NAME: dict[str, int] = {name: number for number, name in _NAMES.items()} | _ALIASES

_PROFILES: dict[int, Profile] = {
    17: _AesSha1Profile(Enctype.AES128_CTS_HMAC_SHA1_96, 16, Cksumtype.HMAC_SHA1_96_AES128),
    18: _AesSha1Profile(Enctype.AES256_CTS_HMAC_SHA1_96, 32, Cksumtype.HMAC_SHA1_96_AES256),
    19: _AesSha2Profile(
        Enctype.AES128_CTS_HMAC_SHA256_128, 16, Cksumtype.HMAC_SHA256_128_AES128, sha384=False
    ),
    20: _AesSha2Profile(
        Enctype.AES256_CTS_HMAC_SHA384_192, 32, Cksumtype.HMAC_SHA384_192_AES256, sha384=True
    ),
    23: _Rc4HmacProfile(),
}
# The keyed checksum types and the enctype whose keys compute them.
_CHECKSUM_ENCTYPE: dict[int, int] = {
    Cksumtype.HMAC_SHA1_96_AES128: 17,
    Cksumtype.HMAC_SHA1_96_AES256: 18,
    Cksumtype.HMAC_SHA256_128_AES128: 19,
    Cksumtype.HMAC_SHA384_192_AES256: 20,
    Cksumtype.HMAC_MD5: 23,
}
_CHECKSUM_SIZES: dict[int, int] = {
    Cksumtype.RSA_MD5: 16,
    Cksumtype.HMAC_SHA1_96_AES128: 12,
    Cksumtype.HMAC_SHA1_96_AES256: 12,
    Cksumtype.HMAC_SHA256_128_AES128: 16,
    Cksumtype.HMAC_SHA384_192_AES256: 24,
    Cksumtype.HMAC_MD5: 16,
}


def enctype_name(enctype: int) -> str:
    """The canonical MIT name of an enctype number (``18`` -> ``"aes256-cts-hmac-sha1-96"``).

    Args:
        enctype: any enctype number.

    Returns:
        The name, or ``"enctype <n>"`` for a number with no name.
    """
    return _NAMES.get(enctype, f"enctype {int(enctype)}")


def enctype_from_name(name: str) -> int:
    """Look up one enctype name as krb5.conf writes it (case-insensitive, aliases accepted).

    Args:
        name: e.g. ``"aes256-cts-hmac-sha1-96"``, ``"aes256-cts"``, ``"aes256-sha2"``,
            ``"rc4-hmac"``, ``"arcfour-hmac"`` or a decimal number.

    Returns:
        The enctype number, implemented here or not (check it against :data:`SUPPORTED`).

    Raises:
        InvalidParameter: an unknown name.
    """
    key = name.strip().lower()
    if key.isascii() and key.isdigit():
        return int(key)
    try:
        return _BY_NAME[key]
    except KeyError:
        raise InvalidParameter(
            f"Unknown enctype name {name!r}; known names include "
            "aes256-cts-hmac-sha1-96, aes128-cts, aes256-sha2 and rc4-hmac."
        ) from None


@functools.lru_cache(maxsize=64)  # pure; called at every AcquireCredentialsHandle
def parse_enctypes(value: str, default: tuple[int, ...] = SUPPORTED) -> tuple[int, ...]:
    """Parse an enctype list as krb5.conf writes it (``permitted_enctypes`` and friends).

    Follows MIT krb5's ``krb5int_parse_enctype_list``: names and aliases, the families
    ``aes``, ``rc4``, ``des3``, ``des`` and ``camellia``, ``DEFAULT`` for ``default``, and a
    leading ``+`` (add, the default) or ``-`` (remove); separated by spaces or commas.

    Deviation: enctypes this module does not implement (DES, 3DES, Camellia, export rc4) are
    dropped from the result, and an unknown name raises instead of being skipped, so that a
    typo does not silently weaken the list.

    Args:
        value: the configured text, e.g. ``"DEFAULT -rc4"`` or ``"aes256-sha2 aes"``.
        default: what ``DEFAULT`` stands for.

    Returns:
        The implemented enctypes in order, without duplicates.

    Raises:
        InvalidParameter: an unknown name.
    """
    result: list[int] = []
    for token in re.split(r"[\s,]+", value.strip()):
        if not token:
            continue
        remove = token[0] == "-"
        word = token[1:] if token[0] in "+-" else token
        lowered = word.lower()
        if lowered == "default":
            numbers: tuple[int, ...] = default
        elif lowered in _FAMILIES:
            numbers = _FAMILIES[lowered]
        else:
            numbers = (enctype_from_name(word),)
        for number in numbers:
            if remove:
                if number in result:
                    result.remove(number)
            elif number in _PROFILES and number not in result:
                result.append(number)
    return tuple(result)


# --- the public operations ------------------------------------------------------------------------


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
    if confounder is None:
        confounder = os.urandom(prof.confounder_size)
    elif len(confounder) != prof.confounder_size:
        raise InvalidParameter(
            f"A {prof.name} confounder is {prof.confounder_size} bytes, not {len(confounder)}."
        )
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
    if confounder is None:
        confounder = os.urandom(prof.confounder_size)
    elif len(confounder) != prof.confounder_size:
        raise InvalidParameter(
            f"A {prof.name} confounder is {prof.confounder_size} bytes, not {len(confounder)}."
        )
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
