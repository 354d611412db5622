"""Spec functions that the published vectors do not reach on their own."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensspi.packages.digest import crypto as c
from opensspi.packages.digest.crypto import Algorithm, Cipher, Qop


def test_algorithm_names_and_families() -> None:
    assert Algorithm.from_wire(None) is Algorithm.MD5
    assert Algorithm.from_wire("sha-512-256-SESS") is Algorithm.SHA_512_256_SESS
    assert Algorithm.from_wire("SHA-1") is None
    assert Algorithm.SHA_256_SESS.base is Algorithm.SHA_256
    assert [a.hex_length for a in Algorithm] == [32, 32, 64, 64, 64, 64]
    assert Algorithm.SHA_512_256.strength > Algorithm.SHA_256.strength > Algorithm.MD5.strength
    assert c.h(Algorithm.SHA_512_256, b"abc") == hashlib.new("sha512_256", b"abc").hexdigest()


def test_sess_ha1_uses_the_hex_inner_hash() -> None:
    secret = c.secret_hash(Algorithm.MD5_SESS, b"u", b"r", b"p")
    expected = hashlib.md5(f"{secret}:n:cn".encode()).hexdigest()
    assert c.ha1(Algorithm.MD5_SESS, secret, "n", "cn") == expected
    assert c.ha1(Algorithm.MD5, secret, "n", "cn") == secret


def test_auth_int_and_rfc2069_forms() -> None:
    alg = Algorithm.MD5
    hentity = c.h(alg, b"body")
    expected = c.h(alg, f"POST:/x:{hentity}".encode())
    assert c.ha2(alg, "POST", "/x", Qop.AUTH_INT, hentity) == expected
    ha1, ha2 = "a" * 32, "b" * 32
    assert c.request_digest(alg, ha1, "n", 7, "cn", None, ha2) == c.kd(alg, ha1, f"n:{ha2}")
    assert c.request_digest(alg, ha1, "n", 7, "cn", Qop.AUTH, ha2) == c.kd(
        alg, ha1, f"n:00000007:cn:auth:{ha2}"
    )
    assert c.response_auth(alg, ha1, "n", 1, "cn", Qop.AUTH, "/x", "") == c.kd(
        alg, ha1, f"n:00000001:cn:auth:{c.h(alg, b':/x')}"
    )


def test_hentity_takes_hex_or_body() -> None:
    alg = Algorithm.SHA_256
    hashed = c.h(alg, b"payload")
    assert c.hentity(alg, hashed.encode()) == hashed
    assert c.hentity(alg, hashed.upper().encode()) == hashed
    assert c.hentity(alg, b"payload") == hashed
    assert c.hentity(alg, b"") == c.h(alg, b"")
    not_hex = b"z" * 64
    assert c.hentity(alg, not_hex) == c.h(alg, not_hex)


def test_encodings() -> None:
    assert c.sasl_octets("J\u00e4s") == "J\u00e4s".encode("latin-1")
    assert c.sasl_octets("\u20ac") == "\u20ac".encode("utf-8")
    decomposed = "a\u0308"
    assert c.http_octets(decomposed, True) == "\u00e4".encode()
    assert c.http_octets(decomposed, False) == decomposed.encode()


def test_cipher_properties() -> None:
    assert [x.key_prefix for x in Cipher] == [16, 16, 7, 5, 16]
    assert max(Cipher, key=lambda x: x.strength) is Cipher.RC4
    assert Cipher.from_wire("3DES") is Cipher.TRIPLE_DES


def _slidebits(key7: bytes) -> bytes:
    """Cyrus SASL's slidebits() followed by DES_set_odd_parity, written out independently."""
    i = key7
    out = [
        i[0], (i[0] << 7 | i[1] >> 1) & 0xFF, (i[1] << 6 | i[2] >> 2) & 0xFF,
        (i[2] << 5 | i[3] >> 3) & 0xFF, (i[3] << 4 | i[4] >> 4) & 0xFF,
        (i[4] << 3 | i[5] >> 5) & 0xFF, (i[5] << 2 | i[6] >> 6) & 0xFF, (i[6] << 1) & 0xFF,
    ]
    fixed = []
    for b in out:
        b &= 0xFE
        fixed.append(b | (bin(b).count("1") + 1) % 2)
    return bytes(fixed)


@given(st.binary(min_size=7, max_size=7))
def test_des_key_matches_cyrus_slidebits(key7: bytes) -> None:
    key = c.des_key(key7)
    assert key == _slidebits(key7)
    assert all(bin(b).count("1") % 2 == 1 for b in key)


def test_nonces_validate_themselves() -> None:
    secret = b"k" * 32
    nonce = c.make_nonce(secret, 1_700_000_000, b"r" * 9)
    assert len(nonce) == 44
    assert c.check_nonce(secret, nonce) == 1_700_000_000
    assert c.check_nonce(b"other" * 8, nonce) is None
    assert c.check_nonce(secret, nonce[:-2] + "AA") is None
    assert c.check_nonce(secret, "!" * 44) is None
    assert c.check_nonce(secret, "short") is None


@pytest.mark.parametrize("server", [False, True])
def test_sasl_auth_int_a2_suffix(server: bool) -> None:
    ha1 = bytes(16)
    plain = c.sasl_response(ha1, "n", 1, "c", Qop.AUTH, "imap/h", server)
    integ = c.sasl_response(ha1, "n", 1, "c", Qop.AUTH_INT, "imap/h", server)
    conf = c.sasl_response(ha1, "n", 1, "c", Qop.AUTH_CONF, "imap/h", server)
    assert len({plain, integ, conf}) == 3
    prefix = ":" if server else "AUTHENTICATE:"
    ha2 = hashlib.md5(f"{prefix}imap/h:{'0' * 32}".encode()).hexdigest()
    data = f"{ha1.hex()}:n:00000001:c:auth-int:{ha2}"
    assert integ == hashlib.md5(data.encode()).hexdigest()
