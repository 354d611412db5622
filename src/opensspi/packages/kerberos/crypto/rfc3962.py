"""AES with HMAC-SHA1 (RFC 3962): CBC with ciphertext stealing (§5) and the aes*-cts-hmac-sha1-96
profiles (§4, §6).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.ciphers.modes import CBC, ECB
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ....errors import DecodeError, InvalidParameter, MessageAltered
from .keys import (
    _BLOCK,
    _KERBEROS,
    _NAMES,
    _PRF,
    _SHA1,
    _ZERO_IV,
    _ZEROS,
    KC,
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
    dk,
)


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
    # The XORs on 128-bit integers, each block converted once.
    prev = int.from_bytes(data[cut - _BLOCK : cut], "big") if cut else 0
    d = (int.from_bytes(decryptor.update(en), "big") ^ prev).to_bytes(_BLOCK, "big")
    pn = (int.from_bytes(d[:last], "big") ^ int.from_bytes(cn, "big")).to_bytes(last, "big")
    pn1 = int.from_bytes(decryptor.update(cn + d[last:]), "big") ^ int.from_bytes(en, "big")
    return b"".join((head, (pn1 ^ prev).to_bytes(_BLOCK, "big"), pn))


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
