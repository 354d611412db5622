"""Digest takes header values as ``str`` or bytes at every entry point and returns bytes.

requests and httpx hand over ``WWW-Authenticate`` as ``str`` (decoded as ISO-8859-1); a socket
server has bytes. Both must give the same token, byte for byte.
"""

from __future__ import annotations

import pytest

import opensspi
from opensspi import Environment, IscReq
from opensspi.errors import InvalidParameter
from opensspi.packages.digest.messages import HttpResponse
from opensspi.packages.digest.text import header_bytes, header_text

# A user name with a non-ASCII letter: RFC 7616 §4 sends it as UTF-8 (charset=UTF-8), and an HTTP
# client shows those bytes to the program as ISO-8859-1 text.
CHALLENGE = (
    'Digest realm="example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", qop="auth", '
    'algorithm=MD5, charset=UTF-8'
)
FLAGS = IscReq.USE_HTTP_STYLE


def client() -> opensspi.Context:
    return opensspi.client("WDigest", user="jürgen", password="Secret", target="/dir/index.html",
                           flags=FLAGS, env=Environment(random=lambda n: b"\x07" * n))


def test_str_and_bytes_challenges_give_the_same_token() -> None:
    from_bytes = client().step(CHALLENGE.encode("latin-1"), params=[b"GET"])
    from_str = client().step(CHALLENGE, params=["GET"])
    assert isinstance(from_bytes, bytes) and from_str == from_bytes
    response = HttpResponse.parse(from_str)
    assert response.username == "jürgen" and response.nc == 1 and response.uri == "/dir/index.html"


def test_next_authorization_takes_str_or_bytes_and_returns_bytes() -> None:
    ctx = client()
    ctx.step(CHALLENGE, params=["GET"])
    digest = ctx.context
    by_str = digest.next_authorization("POST", "/dir/b.html", "body")  # type: ignore[attr-defined]
    by_bytes = digest.next_authorization(b"POST", b"/dir/b.html", b"body")  # type: ignore[attr-defined]
    assert isinstance(by_str, bytes) and isinstance(by_bytes, bytes)
    first, second = HttpResponse.parse(by_str), HttpResponse.parse(by_bytes)
    assert (first.nc, second.nc) == (2, 3)
    assert first.uri == second.uri == "/dir/b.html"


def test_header_value_rules() -> None:
    assert header_bytes("é") == b"\xe9"  # ISO-8859-1 restores the wire bytes
    assert header_bytes("€") == "€".encode()  # text beyond Latin-1: UTF-8
    assert header_bytes(memoryview(b"x")) == b"x"
    assert header_text(b"caf\xc3\xa9") == "café"
    with pytest.raises(InvalidParameter):
        header_bytes(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        header_text(b"\xff")
