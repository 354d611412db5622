"""Directive parsing and building: grammar, limits, round trips, invalid vectors, fuzzing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensspi.errors import DecodeError
from opensspi.packages.digest.messages import (
    MAX_CHALLENGE,
    AuthenticationInfo,
    HttpChallenge,
    HttpResponse,
    ResponseAuth,
    SaslChallenge,
    SaslResponse,
    build_http_challenges,
    decode_ext_value,
    encode_ext_value,
    parse_http_challenges,
    parse_http_server_token,
    quote,
)

from .conftest import load_vectors

INVALID = load_vectors("invalid.json")["cases"]

PARSERS: dict[str, Callable[[bytes], object]] = {
    "http-challenge": parse_http_server_token,
    "http-response": HttpResponse.parse,
    "sasl-challenge": SaslChallenge.parse,
    "sasl-response": SaslResponse.parse,
    "rspauth": ResponseAuth.parse,
}


def invalid_token(case: dict[str, Any]) -> bytes:
    return str(case["token"]).replace("{pad}", "x" * case.get("pad", 0)).encode("utf-8")


# -- grammar -----------------------------------------------------------------------------------


def test_challenge_with_and_without_scheme_word() -> None:
    bare = parse_http_challenges(b'realm="r", nonce="n", qop="auth"')
    assert bare == parse_http_challenges(b'Digest realm="r", nonce="n", qop="auth"')
    assert bare[0] == HttpChallenge("r", "n", ("auth",))


def test_several_challenges_other_schemes_and_token68_are_skipped() -> None:
    text = (
        b'Negotiate, NTLM TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=, Basic realm="b", '
        b'charset="UTF-8", Digest realm="x", nonce="1", algorithm=MD5,\r\n'
        b'Digest realm="x", nonce="2", algorithm=SHA-256, DIGEST realm="y", nonce="3"'
    )
    got = parse_http_challenges(text)
    assert [(c.realm, c.nonce, c.algorithm) for c in got] == [
        ("x", "1", "MD5"), ("x", "2", "SHA-256"), ("y", "3", None),
    ]


def test_quoted_pairs_case_insensitive_names_and_empty_elements() -> None:
    got = parse_http_challenges(
        b'Digest ,, REALM="a \\"b\\" \\\\c" ,\tNonce = "n" , , Stale=TRUE, foo=bar, x="y"'
    )
    assert got == (HttpChallenge('a "b" \\c', "n", stale=True),)


def test_lenient_unquoted_values_and_quoted_tokens() -> None:
    got = parse_http_challenges(b'realm=r, nonce=abc/def+=, algorithm="MD5-sess", qop=auth')
    assert got == (HttpChallenge("r", "abc/def+=", ("auth",), "MD5-sess"),)


def test_sasl_challenge_may_repeat_realm_only() -> None:
    got = SaslChallenge.parse(b'realm="a",realm="b",nonce="n",algorithm=md5-sess')
    assert got.realms == ("a", "b")
    assert got.qop == ("auth",)
    with pytest.raises(DecodeError, match="appears more than once"):
        SaslResponse.parse(
            b'username="u",realm="a",realm="b",nonce="n",cnonce="c",nc=00000001,'
            b'digest-uri="imap/h",response=d388dad90d4bbd760a152321f2143af7'
        )


def test_cyrus_challenge() -> None:
    text = (
        b'nonce="abc",realm="elwood.innosoft.com",qop="auth,auth-int,auth-conf",'
        b'cipher="rc4-40,rc4-56,rc4,des,3des",maxbuf=2048,charset=utf-8,algorithm=md5-sess'
    )
    got = SaslChallenge.parse(text)
    assert got.ciphers == ("rc4-40", "rc4-56", "rc4", "des", "3des")
    assert got.maxbuf == 2048 and got.charset_utf8 and got.qop[2] == "auth-conf"


def test_authentication_info_is_told_from_a_challenge() -> None:
    apache = b'rspauth="0123abcd", cnonce="c", nc=00000001, qop=auth'
    info = parse_http_server_token(apache)
    assert info == AuthenticationInfo("0123abcd", "c", 1, "auth")
    assert AuthenticationInfo.build(info).encode() == apache
    assert isinstance(parse_http_server_token(b'nextnonce="x"'), AuthenticationInfo)
    assert isinstance(parse_http_server_token(b'realm="r", nonce="n"'), tuple)


def test_username_star_round_trip_rfc5987() -> None:
    assert encode_ext_value("J\u00e4s\u00f8n Doe") == "UTF-8''J%C3%A4s%C3%B8n%20Doe"
    assert decode_ext_value("utf-8'en'J%C3%A4s%C3%B8n%20Doe") == "J\u00e4s\u00f8n Doe"
    assert decode_ext_value("ISO-8859-1''%E4") == "\u00e4"


def test_size_limit_is_less_than_2048() -> None:
    base = b'realm="r", nonce="'
    fill = MAX_CHALLENGE - len(base) - 1
    assert len(base + b"n" * (fill - 1) + b'"') == MAX_CHALLENGE - 1
    assert parse_http_challenges(base + b"n" * (fill - 1) + b'"')
    with pytest.raises(DecodeError, match="shorter than 2048"):
        parse_http_challenges(base + b"n" * fill + b'"')


def test_quote_escapes() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


@pytest.mark.parametrize("case", INVALID, ids=[c["source"] for c in INVALID])
def test_invalid_vectors_raise_decode_error(case: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        PARSERS[case["parser"]](invalid_token(case))


# -- round trips -----------------------------------------------------------------------------

_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x7f"), max_size=24
)
_word = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
_tokens = st.text("abcdefghijklmnopqrstuvwxyzABC0123456789-._~+!", min_size=1, max_size=12)
_hex = st.text("0123456789abcdef", min_size=1, max_size=64)
_nc = st.integers(0, 0xFFFFFFFF)


@given(st.builds(
    HttpChallenge, realm=_text, nonce=_text, qop=st.lists(_word, max_size=3).map(tuple),
    algorithm=st.none() | _tokens | _text, opaque=st.none() | _text,
    domain=st.none() | _text, stale=st.booleans(), charset_utf8=st.booleans(),
    userhash=st.booleans(),
))
def test_http_challenge_round_trip(m: HttpChallenge) -> None:
    assert parse_http_challenges(m.build().encode()) == (m,)
    assert parse_http_challenges(build_http_challenges((m, m)).encode()) == (m, m)


@given(st.builds(
    HttpResponse, username=_text, realm=_text, uri=_text, nonce=_text, response=_hex,
    algorithm=st.none() | _tokens, cnonce=_text, nc=_nc, qop=_word, opaque=st.none() | _text,
    userhash=st.booleans(), username_star=st.booleans(),
))
def test_http_response_round_trip(m: HttpResponse) -> None:
    assert HttpResponse.parse(m.build().encode()) == m
    assert HttpResponse.parse(b"Digest " + m.build().encode()) == m


@given(st.builds(
    AuthenticationInfo, rspauth=st.none() | _hex, cnonce=st.none() | _text,
    nc=st.none() | _nc, qop=st.none() | _word, nextnonce=_text,
))
def test_authentication_info_round_trip(m: AuthenticationInfo) -> None:
    assert parse_http_server_token(m.build().encode()) == m


@given(st.builds(
    SaslChallenge, nonce=_text, realms=st.lists(_text, max_size=3).map(tuple),
    qop=st.lists(_word, min_size=1, max_size=3).map(tuple),
    ciphers=st.lists(_word, max_size=5).map(tuple), maxbuf=st.none() | st.integers(1, 16777215),
    stale=st.booleans(), algorithm=_tokens, charset_utf8=st.booleans(),
))
def test_sasl_challenge_round_trip(m: SaslChallenge) -> None:
    assert SaslChallenge.parse(m.build().encode()) == m


@given(st.builds(
    SaslResponse, username=_text, nonce=_text, cnonce=_text, nc=_nc, digest_uri=_text,
    response=st.text("0123456789abcdef", min_size=32, max_size=32),
    realm=st.none() | _text, qop=_word, maxbuf=st.none() | st.integers(1, 16777215),
    cipher=st.none() | _word, authzid=st.none() | _text, charset_utf8=st.booleans(),
))
def test_sasl_response_round_trip(m: SaslResponse) -> None:
    assert SaslResponse.parse(m.build().encode()) == m


@given(st.text("0123456789abcdef", min_size=32, max_size=32))
def test_rspauth_round_trip(value: str) -> None:
    assert ResponseAuth.parse(ResponseAuth(value).build().encode()) == ResponseAuth(value)


# -- fuzzing: a message or DecodeError, nothing else ------------------------------------------

_VALID = {
    "http-challenge": b'Digest realm="http-auth@example.org", qop="auth, auth-int", '
    b'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    b'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", charset=UTF-8, userhash=true',
    "http-response": b'username*=UTF-8\'\'J%C3%A4s, realm="api@example.org", uri="/doe.json", '
    b'algorithm=SHA-512-256, nonce="5TsQ", nc=00000001, cnonce="NTg6", qop=auth, '
    b'response="3798d4131c277846", opaque="HRPC", userhash=false',
    "sasl-challenge": b'nonce="abc",realm="elwood.innosoft.com",qop="auth,auth-int,auth-conf",'
    b'cipher="rc4-40,rc4-56,rc4,des,3des",maxbuf=2048,charset=utf-8,algorithm=md5-sess',
    "sasl-response": b'charset=utf-8,username="chris",realm="elwood.innosoft.com",'
    b'nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",'
    b'digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,'
    b'qop=auth-conf,cipher=rc4,maxbuf=4096,authzid="a"',
    "rspauth": b"rspauth=ea40f60335c427b5527b84dbabcdfffd",
}


def _only_decode_error(parse: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        parse(data)


@pytest.mark.parametrize("name", list(PARSERS))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400))
def test_fuzz_random_bytes(name: str, data: bytes) -> None:
    _only_decode_error(PARSERS[name], data)


_ALPHABET = st.sampled_from(list(b'"\\=,; \t\r\n\x00\x01\x7f\xff/+*%\'abcDIGEST0123'))


@pytest.mark.parametrize("name", list(PARSERS))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_mutated_valid_tokens(name: str, data: st.DataObject) -> None:
    token = bytearray(_VALID[name])
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(token)))
        action = data.draw(st.sampled_from(("flip", "insert", "delete")))
        byte = data.draw(_ALPHABET)
        if action == "insert" or pos == len(token):
            token.insert(pos, byte)
        elif action == "flip":
            token[pos] = byte
        else:
            del token[pos]
    _only_decode_error(PARSERS[name], bytes(token))


@pytest.mark.parametrize("name", list(PARSERS))
def test_every_prefix_parses_or_fails_cleanly(name: str) -> None:
    token = _VALID[name]
    for end in range(len(token) + 1):
        _only_decode_error(PARSERS[name], token[:end])
    PARSERS[name](token)
