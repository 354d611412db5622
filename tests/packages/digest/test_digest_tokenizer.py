"""The one-pass directive tokenizer against the element-by-element parser it replaced.

``messages._parse_list`` walks a list with one ``findall``; the reference below is the earlier
loop of one ``match`` per element (kept here verbatim as the oracle). Both must agree on every
input: the same items, directives and values, or a DecodeError with the same message.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from opensspi.errors import DecodeError
from opensspi.packages.digest.messages import _parse_list

_QPAIR_RE = re.compile(r"\\(.)", re.S)
_ELEMENT_RE = re.compile(
    r"""
    [ \t\r\n,]*                                    # separators and empty list elements
    (?:
        (?P<name>[!#$%&'*+\-.^_`|~0-9A-Za-z]+)      # auth-param: token BWS "=" BWS value
        [ \t]*=[ \t]*
        (?:
            "(?P<quoted>[^"\\\x00-\x08\x0a-\x1f\x7f]*
                         (?:\\[^\x00-\x08\x0a-\x1f\x7f][^"\\\x00-\x08\x0a-\x1f\x7f]*)*)"
          | (?P<token>[^\s,"\\\x00-\x1f\x7f]+)
        )
        [ \t]*(?=[,\r\n]|$)
      | (?P<scheme>[!#$%&'*+\-.^_`|~0-9A-Za-z]+)    # auth-scheme [ 1*SP token68 ]
        (?=[ \t,\r\n]|$)
        (?:[ \t]+(?P<token68>[A-Za-z0-9\-._~+/]+=*)[ \t]*(?=[,\r\n]|$))?
      | $
    )
    """,
    re.X,
)

_Parsed = list[tuple[str | None, str | None, dict[str, list[str]]]]


def reference(text: str, *, schemes: bool, repeatable: frozenset[str]) -> _Parsed:
    """The element-by-element parser (one ``match`` per element) the tokenizer replaced."""
    items: _Parsed = []
    cur: dict[str, list[str]] | None = None
    pos, end = 0, len(text)
    while pos < end:
        m = _ELEMENT_RE.match(text, pos)
        if m is None:
            raise DecodeError(
                f"Malformed directive list at offset {pos} (near {text[pos:pos + 12]!r}): a "
                "bad token, an unterminated quoted-string, a control character or a missing ','."
            )
        pos = m.end()
        name, quoted, token, scheme, token68 = m.groups()
        if name is not None:
            if cur is None:
                cur = {}
                items.append((None, None, cur))
            if quoted is None:
                value = token
            elif "\\" in quoted:
                value = _QPAIR_RE.sub(r"\1", quoted)
            else:
                value = quoted
            key = name.lower()
            seen = cur.get(key)
            if seen is None:
                cur[key] = [value]
            elif key in repeatable:
                seen.append(value)
            else:
                raise DecodeError(f"The directive {key!r} appears more than once.")
            continue
        if scheme is None:
            break
        if not schemes:
            raise DecodeError(f"Expected name=value at offset {m.start('scheme')}, "
                              f"found {scheme!r}.")
        cur = {}
        items.append((scheme, token68, cur))
    return items


def tokenized(text: str, *, schemes: bool, repeatable: frozenset[str]) -> _Parsed:
    return [
        (i.scheme, i.token68, {k: list(i.values(k)) for k in i.params})
        for i in _parse_list(text, schemes=schemes, repeatable=repeatable)
    ]


def outcome(
    parse: object, text: str, schemes: bool, repeatable: frozenset[str]
) -> tuple[str, object]:
    assert callable(parse)
    try:
        return "ok", parse(text, schemes=schemes, repeatable=repeatable)
    except DecodeError as exc:
        return "error", str(exc)


_ALPHABET = st.sampled_from(
    list('"\\=,; \t\r\n\x00\x01\x0b\x7f\xa0\u2028/+*%\'~.aBcDigestrealm0123')
)
_PIECES = st.sampled_from([
    "Digest ", "Basic ", "NTLM abc+/==", "realm=", "REALM=", "nonce=", "qop=", '"', '\\"',
    "\\\\", '"a b"', '"x\\"y"', "tok", "a/b+=", ", ", ",", " ", "\t", "\r\n", "\n", "=",
    "realm", "x=1", "x=1 ", "\x01", "\xe9", "\u2028",
])
_names = st.sampled_from(["realm", "nonce", "qop", "x-y", "username*", "b", "Realm", "a!b"])
_plain_chars = st.sampled_from(list("ab09 =,/+.-~@\xe9"))
_odd_chars = st.sampled_from(list('"\\\t\x01\u2028'))
_values = st.one_of(
    st.text(_plain_chars, max_size=8).map(lambda v: f'"{v}"'),
    st.text(st.one_of(_plain_chars, _odd_chars), max_size=6).map(lambda v: f'"{v}"'),
    st.text(st.sampled_from(list("aZ09-/+.~%\xe9")), min_size=1, max_size=8),
    st.text(st.sampled_from(list('aZ09=, "\\\xa0')), min_size=1, max_size=4),
)
_plain_lists = st.tuples(
    st.sampled_from(["", "", "Digest ", "digest  ", "DIGEST\t", "Basic ", "Digest"]),
    st.lists(st.tuples(_names, _values), min_size=1, max_size=6),
    st.sampled_from([", ", ", ", ",", ",  ", " ,", ",\t", ",,"]),
    st.sampled_from(["", "", ",", " ", "\r\n"]),
).map(lambda t: t[0] + t[2].join(f"{n}={v}" for n, v in t[1]) + t[3])
"""Lists shaped like what servers send, with the variations the plain path must refuse."""
_clean_lists = st.tuples(
    st.sampled_from(["", "Digest ", "digest  "]),
    st.lists(st.tuples(
        st.sampled_from(["realm", "nonce", "qop", "x-y", "username*", "algorithm", "b"]),
        st.one_of(
            st.text(_plain_chars, max_size=8).map(lambda v: f'"{v}"'),
            st.text(st.sampled_from(list("aZ09-/+.~%=")), min_size=1, max_size=8),
        ),
    ), min_size=1, max_size=5),
    st.sampled_from([", ", ",", ",  "]),
).map(lambda t: t[0] + t[2].join(f"{n}={v}" for n, v in t[1]))
"""Lists the plain path reads itself (unless a name repeats or a token starts with "=")."""
_texts = st.one_of(
    _clean_lists,
    st.text(_ALPHABET, max_size=60),
    st.lists(_PIECES, max_size=16).map("".join),
    _plain_lists,
)


@pytest.mark.parametrize(("schemes", "repeatable"), [
    (True, frozenset()), (False, frozenset()), (False, frozenset({"realm"})),
])
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(text=_texts)
@example(text='Digest realm="a \\"b\\"", nonce=n, , Basic x, Digest nonce="z"\r\n')
@example(text='realm="a",realm="b",nonce="n"')
@example(text="NTLM TlRM==, Digest realm=x")
@example(text="a=b\n")
@example(text='realm="a" nonce="n"')
@example(text="DIGEST-MD5 nonce=a")
@example(text="realm=\"a\u0001\"")
def test_tokenizer_matches_the_element_loop(
    text: str, schemes: bool, repeatable: frozenset[str]
) -> None:
    expected = outcome(reference, text, schemes, repeatable)
    assert outcome(tokenized, text, schemes, repeatable) == expected



@pytest.mark.parametrize(("schemes", "repeatable"), [
    (True, frozenset()), (False, frozenset({"realm"})),
])
@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(_clean_lists, _plain_lists))
def test_plain_lists_match_the_element_loop(
    text: str, schemes: bool, repeatable: frozenset[str]
) -> None:
    expected = outcome(reference, text, schemes, repeatable)
    assert outcome(tokenized, text, schemes, repeatable) == expected
