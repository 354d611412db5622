"""MD4 message digest (RFC 1320): OpenSSL's where ``cryptography`` can reach it, else ours.

NTOWFv1 and NTOWFv2 (MS-NLMP 3.3) hash the password with MD4, which OpenSSL 3 moved to its
legacy provider: ``hashlib`` usually lacks it, and ``cryptography`` offers no ``MD4`` class.
``cryptography``'s own OpenSSL loads the legacy provider, though, and its ``Hash`` fetches a
digest by the algorithm's ``name``; an ``MD4`` :class:`HashAlgorithm` therefore reaches
OpenSSL's MD4 (about 1 µs for a password, against about 10 µs in Python — pywin32's
``ClientAuth`` hashes the password on every connection). At import the OpenSSL route is checked
against RFC 1320's vectors; if it is missing or answers wrongly (an OpenSSL without the legacy
provider, ``CRYPTOGRAPHY_OPENSSL_NO_LEGACY``), :func:`md4` is the pure-Python
:func:`md4_python` below.

:func:`md4_python` writes the 48 steps of RFC 1320 section 3.4 out one by one on local
variables: no loops, no table lookups and no function calls inside a block.
Spec: https://www.rfc-editor.org/rfc/rfc1320
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes

__all__ = ["md4", "md4_openssl", "md4_python"]

_BLOCK = struct.Struct("<16I")
_DIGEST = struct.Struct("<4I")
_MASK = 0xFFFFFFFF


def md4_python(data: bytes) -> bytes:
    """Return the 16-byte MD4 digest of ``data`` (RFC 1320), computed in Python.

    Args:
        data: the message, any length.

    Returns:
        The digest, as RFC 1320 section 3.5 orders it (A, B, C, D little-endian).
    """
    n = len(data)
    # RFC 1320 3.1-3.2: a 1 bit, zeros up to 56 mod 64, then the bit length as a u64le.
    message = b"".join(
        (data, b"\x80", bytes((55 - n) % 64), ((n << 3) & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"))
    )
    m = _MASK
    unpack = _BLOCK.unpack_from
    h0, h1, h2, h3 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for offset in range(0, len(message), 64):
        x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15 = unpack(
            message, offset
        )
        a, b, c, d = h0, h1, h2, h3

        # A rotated word keeps bits above 32 (at most 51 bits): every use masks the sum it enters,
        # and AND/OR/XOR of the low 32 bits ignore the high ones, so one mask per step suffices.

        # Round 1: F(X,Y,Z) = XY v not(X) Z, written as Z xor (X and (Y xor Z)).
        t = (a + (d ^ (b & (c ^ d))) + x0) & m
        a = (t << 3) | (t >> 29)
        t = (d + (c ^ (a & (b ^ c))) + x1) & m
        d = (t << 7) | (t >> 25)
        t = (c + (b ^ (d & (a ^ b))) + x2) & m
        c = (t << 11) | (t >> 21)
        t = (b + (a ^ (c & (d ^ a))) + x3) & m
        b = (t << 19) | (t >> 13)
        t = (a + (d ^ (b & (c ^ d))) + x4) & m
        a = (t << 3) | (t >> 29)
        t = (d + (c ^ (a & (b ^ c))) + x5) & m
        d = (t << 7) | (t >> 25)
        t = (c + (b ^ (d & (a ^ b))) + x6) & m
        c = (t << 11) | (t >> 21)
        t = (b + (a ^ (c & (d ^ a))) + x7) & m
        b = (t << 19) | (t >> 13)
        t = (a + (d ^ (b & (c ^ d))) + x8) & m
        a = (t << 3) | (t >> 29)
        t = (d + (c ^ (a & (b ^ c))) + x9) & m
        d = (t << 7) | (t >> 25)
        t = (c + (b ^ (d & (a ^ b))) + x10) & m
        c = (t << 11) | (t >> 21)
        t = (b + (a ^ (c & (d ^ a))) + x11) & m
        b = (t << 19) | (t >> 13)
        t = (a + (d ^ (b & (c ^ d))) + x12) & m
        a = (t << 3) | (t >> 29)
        t = (d + (c ^ (a & (b ^ c))) + x13) & m
        d = (t << 7) | (t >> 25)
        t = (c + (b ^ (d & (a ^ b))) + x14) & m
        c = (t << 11) | (t >> 21)
        t = (b + (a ^ (c & (d ^ a))) + x15) & m
        b = (t << 19) | (t >> 13)

        # Round 2: G(X,Y,Z) = XY v XZ v YZ, plus 0x5A827999.
        t = (a + ((b & c) | (d & (b | c))) + x0 + 0x5A827999) & m
        a = (t << 3) | (t >> 29)
        t = (d + ((a & b) | (c & (a | b))) + x4 + 0x5A827999) & m
        d = (t << 5) | (t >> 27)
        t = (c + ((d & a) | (b & (d | a))) + x8 + 0x5A827999) & m
        c = (t << 9) | (t >> 23)
        t = (b + ((c & d) | (a & (c | d))) + x12 + 0x5A827999) & m
        b = (t << 13) | (t >> 19)
        t = (a + ((b & c) | (d & (b | c))) + x1 + 0x5A827999) & m
        a = (t << 3) | (t >> 29)
        t = (d + ((a & b) | (c & (a | b))) + x5 + 0x5A827999) & m
        d = (t << 5) | (t >> 27)
        t = (c + ((d & a) | (b & (d | a))) + x9 + 0x5A827999) & m
        c = (t << 9) | (t >> 23)
        t = (b + ((c & d) | (a & (c | d))) + x13 + 0x5A827999) & m
        b = (t << 13) | (t >> 19)
        t = (a + ((b & c) | (d & (b | c))) + x2 + 0x5A827999) & m
        a = (t << 3) | (t >> 29)
        t = (d + ((a & b) | (c & (a | b))) + x6 + 0x5A827999) & m
        d = (t << 5) | (t >> 27)
        t = (c + ((d & a) | (b & (d | a))) + x10 + 0x5A827999) & m
        c = (t << 9) | (t >> 23)
        t = (b + ((c & d) | (a & (c | d))) + x14 + 0x5A827999) & m
        b = (t << 13) | (t >> 19)
        t = (a + ((b & c) | (d & (b | c))) + x3 + 0x5A827999) & m
        a = (t << 3) | (t >> 29)
        t = (d + ((a & b) | (c & (a | b))) + x7 + 0x5A827999) & m
        d = (t << 5) | (t >> 27)
        t = (c + ((d & a) | (b & (d | a))) + x11 + 0x5A827999) & m
        c = (t << 9) | (t >> 23)
        t = (b + ((c & d) | (a & (c | d))) + x15 + 0x5A827999) & m
        b = (t << 13) | (t >> 19)

        # Round 3: H(X,Y,Z) = X xor Y xor Z, plus 0x6ED9EBA1.
        t = (a + (b ^ c ^ d) + x0 + 0x6ED9EBA1) & m
        a = (t << 3) | (t >> 29)
        t = (d + (a ^ b ^ c) + x8 + 0x6ED9EBA1) & m
        d = (t << 9) | (t >> 23)
        t = (c + (d ^ a ^ b) + x4 + 0x6ED9EBA1) & m
        c = (t << 11) | (t >> 21)
        t = (b + (c ^ d ^ a) + x12 + 0x6ED9EBA1) & m
        b = (t << 15) | (t >> 17)
        t = (a + (b ^ c ^ d) + x2 + 0x6ED9EBA1) & m
        a = (t << 3) | (t >> 29)
        t = (d + (a ^ b ^ c) + x10 + 0x6ED9EBA1) & m
        d = (t << 9) | (t >> 23)
        t = (c + (d ^ a ^ b) + x6 + 0x6ED9EBA1) & m
        c = (t << 11) | (t >> 21)
        t = (b + (c ^ d ^ a) + x14 + 0x6ED9EBA1) & m
        b = (t << 15) | (t >> 17)
        t = (a + (b ^ c ^ d) + x1 + 0x6ED9EBA1) & m
        a = (t << 3) | (t >> 29)
        t = (d + (a ^ b ^ c) + x9 + 0x6ED9EBA1) & m
        d = (t << 9) | (t >> 23)
        t = (c + (d ^ a ^ b) + x5 + 0x6ED9EBA1) & m
        c = (t << 11) | (t >> 21)
        t = (b + (c ^ d ^ a) + x13 + 0x6ED9EBA1) & m
        b = (t << 15) | (t >> 17)
        t = (a + (b ^ c ^ d) + x3 + 0x6ED9EBA1) & m
        a = (t << 3) | (t >> 29)
        t = (d + (a ^ b ^ c) + x11 + 0x6ED9EBA1) & m
        d = (t << 9) | (t >> 23)
        t = (c + (d ^ a ^ b) + x7 + 0x6ED9EBA1) & m
        c = (t << 11) | (t >> 21)
        t = (b + (c ^ d ^ a) + x15 + 0x6ED9EBA1) & m
        b = (t << 15) | (t >> 17)

        h0 = (h0 + a) & m
        h1 = (h1 + b) & m
        h2 = (h2 + c) & m
        h3 = (h3 + d) & m
    return _DIGEST.pack(h0, h1, h2, h3)


class _MD4(hashes.HashAlgorithm):
    """RFC 1320's MD4 as ``cryptography`` names hash algorithms: OpenSSL fetches it by name."""

    name = "md4"
    digest_size = 16
    block_size = 64


_OPENSSL_MD4 = _MD4()


def md4_openssl(data: bytes) -> bytes:
    """The MD4 digest of ``data`` from OpenSSL's legacy provider, through ``cryptography``.

    Raises whatever ``cryptography`` raises when its OpenSSL has no MD4
    (``UnsupportedAlgorithm``): :func:`md4` uses this only after :func:`_openssl_works`.
    """
    digest = hashes.Hash(_OPENSSL_MD4)
    digest.update(data)
    return digest.finalize()


def _openssl_works() -> bool:
    """Whether :func:`md4_openssl` is present and gives RFC 1320's answers (appendix A.5)."""
    try:
        return (
            md4_openssl(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
            and md4_openssl(b"message digest").hex() == "d9130a8164549fe818874806e1c7014b"
        )
    except Exception:  # any failure means "not available here": use ours
        return False


md4: Callable[[bytes], bytes] = md4_openssl if _openssl_works() else md4_python
"""Return the 16-byte MD4 digest of ``data`` (RFC 1320): OpenSSL's when it works, else ours."""
