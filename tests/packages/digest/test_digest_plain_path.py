"""The plain-shape reader of a server token against the general tokenizer.

``parse_http_server_token`` reads the shape nearly every server sends with one ``findall`` of
``messages._PLAIN_RE`` (as ``_plain_list`` does) and hands anything else to the general list
parser. With the plain reader switched off, the general parser alone must give the same
challenges or Authentication-Info, or a DecodeError with the same message, for every input.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from opensspi.errors import DecodeError
from opensspi.packages.digest import messages

_names = st.sampled_from([
    "realm", "nonce", "qop", "algorithm", "opaque", "domain", "stale", "charset", "userhash",
    "rspauth", "nextnonce", "cnonce", "nc", "x-y", "Realm", "a!b", "username*",
])
_chars = st.sampled_from(list('ab09 =,/+.-~@\xe9"\\\t\x01\u2028'))
_values = st.one_of(
    st.sampled_from([
        '"auth"', '"auth,auth-int"', '"auth, auth-int"', "auth", '""', "MD5", "md5-sess",
        "SHA-256", "true", "FALSE", '"true"', "UTF-8", "utf-8", "00000001", '"0123abcd"',
        "=x", "a=", '"a\\"b"',
    ]),
    st.text(st.sampled_from(list("ab09 =,/+.-~@\xe9")), max_size=8).map(lambda v: f'"{v}"'),
    st.text(_chars, max_size=6).map(lambda v: f'"{v}"'),
    st.text(st.sampled_from(list("aZ09-/+.~%=\xe9")), min_size=1, max_size=8),
)
_lists = st.tuples(
    st.sampled_from(["", "", "Digest ", "digest  ", "DIGEST\t", "Basic ", "Digest", ", ",
                     " ", "Basic abc, Digest "]),
    st.lists(st.tuples(_names, _values), min_size=0, max_size=7),
    st.sampled_from([", ", ", ", ",", ",  ", " ,", ",\t", ",,", " "]),
    st.sampled_from(["", "", ",", " ", "\r\n", ", Digest realm=x, nonce=y"]),
).map(lambda t: t[0] + t[2].join(f"{n}={v}" for n, v in t[1]) + t[3])
_clean = st.tuples(
    st.sampled_from(["", "Digest ", "digest  ", "DIGEST "]),
    st.lists(st.tuples(
        st.sampled_from(["realm", "nonce", "qop", "algorithm", "opaque", "stale", "charset",
                         "userhash", "domain", "rspauth", "nextnonce", "nc", "cnonce", "x-y"]),
        st.one_of(
            st.sampled_from(['"auth"', '"auth, auth-int"', "MD5", "true", "UTF-8", "latin1",
                             "00000001", '"0123abcd"', '""', "zz", '"auth,,"', '"a\\b"',
                             '"x\\"y"', '"a\\\\b"', '"tab\there"', '"nul\x00"']),
            st.text(st.sampled_from(list("ab09 =,/+.-~@\xe9")), max_size=8).map(
                lambda v: f'"{v}"'),
            st.text(st.sampled_from(list("aZ09-/+.~%=")), min_size=1, max_size=8),
        ),
    ), min_size=1, max_size=7, unique_by=lambda d: d[0]),
    st.sampled_from([", ", ",", ",  "]),
).map(lambda t: t[0] + t[2].join(f"{n}={v}" for n, v in t[1]))
"""Lists the plain reader reads itself, unless a name repeats or a token starts with "="."""
_texts = st.one_of(
    _clean,
    _clean,
    _lists,
    st.text(st.sampled_from(list('"\\=,; \t\r\nDigestrealmnoce0\x01\xe9')), max_size=50),
)


_NEVER = re.compile(r"(?!)()()()()")
"""A plain-shape pattern that finds nothing: with it every list goes to the general parser."""


def _outcome(data: bytes) -> tuple[str, object]:
    try:
        return "ok", messages.parse_http_server_token(data)
    except DecodeError as exc:
        return "error", str(exc)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(text=_texts)
@example(text='Digest realm="a", qop="auth", algorithm=MD5, nonce="n", opaque="o"')
@example(text='realm="a", nonce="n", realm="b"')
@example(text="rspauth=\"0123abcd\", cnonce=\"c\", nc=00000001, qop=auth")
@example(text="nextnonce=\"n\"")
@example(text='Digest realm="a" nonce="n"')
@example(text='Digest realm="", nonce=""')
@example(text="Digest a==")
@example(text='realm="a",, nonce="n"')
@example(text="")
def test_plain_reader_agrees_with_the_general_parser(text: str) -> None:
    data = text.encode("utf-8")
    fast = _outcome(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(messages, "_PLAIN_RE", _NEVER)
        general = _outcome(data)
    assert fast == general
