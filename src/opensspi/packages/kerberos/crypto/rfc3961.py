"""The RFC 3961 framework: n-fold, DR and DK (§5.1), and the profile of an encryption type (§3)
with the simplified profile the AES enctypes share (§5.3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from math import gcd

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.ciphers.modes import CBC
from cryptography.hazmat.primitives.hmac import HMAC

from ....errors import AlgorithmMismatch, DecodeError, InvalidParameter
from .keys import (
    _BLOCK,
    _CBC_ZERO_IV,
    _MAX_ITERATIONS,
    _TEMPLATE,
    _ZERO_IV,
    _ZEROS,
    KE,
    Cksumtype,
    Enctype,
    Key,
)


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
