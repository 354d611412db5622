"""MD4 against RFC 1320 appendix A.5, and against a plain second implementation at every
padding boundary and on random inputs: both the OpenSSL route and the pure-Python one."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.crypto import md4 as md4_module
from opensspi.crypto.md4 import md4, md4_python

#: every implementation this machine has: the Python one always, OpenSSL's when it is there
IMPLEMENTATIONS = [md4_python] + ([md4_module.md4_openssl] if md4_module._openssl_works() else [])

# RFC 1320 A.5 "Test suite".
RFC1320_A5 = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "043f8582f241db351ce627e153e7f0e4",
    ),
    (
        b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        "e33b4ddc9c38f2199c3e7b164fcc0536",
    ),
]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("message", "digest"), RFC1320_A5)
def test_rfc1320_a5(impl: object, message: bytes, digest: str) -> None:
    assert callable(impl)
    assert impl(message).hex() == digest
    assert md4(message).hex() == digest


def test_md4_is_openssl_when_it_works() -> None:
    # cryptography's wheels load OpenSSL's legacy provider: there md4 is the fast route.
    assert md4 is (md4_module.md4_openssl if md4_module._openssl_works() else md4_python)


def test_openssl_failure_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes) -> bytes:
        raise RuntimeError("no legacy provider")

    monkeypatch.setattr(md4_module, "md4_openssl", broken)
    assert md4_module._openssl_works() is False


def test_nt_hash_of_password() -> None:
    # MS-NLMP 4.2.2.1.2: NTOWFv1("Password").
    assert md4("Password".encode("utf-16-le")).hex() == "a4f49c406510bdcab6824ee7c30fd852"


def _reference_md4(data: bytes) -> bytes:
    """RFC 1320 section 3, as written: loops, helper functions and an explicit bit mask."""

    def rotl(x: int, s: int) -> int:
        x &= 0xFFFFFFFF
        return ((x << s) | (x >> (32 - s))) & 0xFFFFFFFF

    def f(x: int, y: int, z: int) -> int:
        return (x & y) | (~x & z)

    def g(x: int, y: int, z: int) -> int:
        return (x & y) | (x & z) | (y & z)

    def h(x: int, y: int, z: int) -> int:
        return x ^ y ^ z

    bits = len(data) * 8
    data += b"\x80"
    while len(data) % 64 != 56:
        data += b"\x00"
    data += struct.pack("<Q", bits & 0xFFFFFFFFFFFFFFFF)
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    rounds = (
        (f, 0, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), (3, 7, 11, 19)),
        (g, 0x5A827999, (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), (3, 5, 9, 13)),
        (h, 0x6ED9EBA1, (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15), (3, 9, 11, 15)),
    )
    for offset in range(0, len(data), 64):
        x = struct.unpack_from("<16I", data, offset)
        a, b, c, d = state
        for func, constant, order, shifts in rounds:
            for i, k in enumerate(order):
                s = shifts[i % 4]
                a = rotl(a + func(b, c, d) + x[k] + constant, s)
                a, b, c, d = d, a, b, c
        state = [(v + w) & 0xFFFFFFFF for v, w in zip(state, (a, b, c, d), strict=True)]
    return struct.pack("<4I", *state)


def test_reference_agrees_with_rfc() -> None:
    for message, digest in RFC1320_A5:
        assert _reference_md4(message).hex() == digest


@pytest.mark.parametrize("length", [0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000])
def test_padding_boundaries(length: int) -> None:
    data = bytes(range(256)) * 4
    for impl in IMPLEMENTATIONS:
        assert impl(data[:length]) == _reference_md4(data[:length])


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_inputs(data: bytes) -> None:
    for impl in IMPLEMENTATIONS:
        assert impl(data) == _reference_md4(data)
