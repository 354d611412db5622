"""AES with HMAC-SHA2 (RFC 8009): KDF-HMAC-SHA2 (§3) and the aes*-cts-hmac-sha2 profiles (§4, §5).

"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ....errors import DecodeError, MessageAltered
from .keys import (
    _BLOCK,
    _KERBEROS,
    _NAMES,
    _PRF,
    _SHA256,
    _SHA384,
    _ZERO_IV,
    _ZEROS,
    KC,
    KE,
    KI,
    Cksumtype,
    Enctype,
    Key,
)
from .rfc3961 import (
    IovPart,
    _AesProfile,
    _check_iov_sizes,
    _parse_iterations,
    _password_bytes,
    _scatter,
)
from .rfc3962 import _cts_decrypt, _cts_encrypt_parts


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
