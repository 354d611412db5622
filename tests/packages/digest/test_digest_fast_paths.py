"""The shortcuts the per-request paths take give what the plain code paths give.

Each test pins one shortcut to its reference: the one-split directive lists to the general
parser, the single render of a first answer to the pieces an established context fills in,
the cached credential forms to ``http_octets``, the built-in MD5 to hashlib's, the session a
context builds only when it is used again to the first answer it gave.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensspi.constants import CredentialUse, IscReq, SecStatus
from opensspi.errors import DecodeError, SspiError
from opensspi.packages.digest import DigestPackage
from opensspi.packages.digest import crypto as c
from opensspi.packages.digest.client import DigestClientContext
from opensspi.packages.digest.crypto import Algorithm, Qop
from opensspi.packages.digest.messages import (
    HttpChallenge,
    HttpResponse,
    authorization_pieces,
    fill,
    nc_value,
    parse_http_server_token,
    quotable,
    render_authorization,
    username_directive,
)
from opensspi.provider import AuthIdentity, StepInput

from .conftest import Digest

PKG = DigestPackage()


# -- messages ----------------------------------------------------------------------------------


def test_quotable_with_and_without_the_printable_shortcut() -> None:
    assert quotable("/dir/index.html") and quotable("a\tb") and quotable("\u00e9\u2028")
    assert not quotable("a\r\nb") and not quotable("a\x00") and not quotable("\x7f")


def test_nc_value_table_and_beyond() -> None:
    for nc in (0, 1, 255, 256, 0xFFFFFFFF, 0x100000000):
        assert nc_value(nc) == f"{nc:08x}"


def test_plain_challenges_parse_as_the_general_path_does() -> None:
    """A challenge of the usual shape (read by one split) and the variants the plain path
    hands to the general tokenizer give the same result."""
    plain = b'realm="r, x=y", qop="auth,auth-int", algorithm=MD5-sess, nonce="n", opaque=""'
    variants = [
        plain, b"Digest " + plain, b"DIGEST  " + plain, b"Digest\t" + plain,
        plain.replace(b'", ', b'" ,\t'), plain.replace(b"realm", b"Realm"),
    ]
    expected = (HttpChallenge("r, x=y", "n", ("auth", "auth-int"), "MD5-sess", ""),)
    for text in variants:
        assert parse_http_server_token(text) == expected, text
    escaped = parse_http_server_token(plain.replace(b'opaque=""', b'opaque="\\""'))
    assert isinstance(escaped, tuple) and escaped[0].opaque == '"'
    with pytest.raises(DecodeError, match="appears more than once"):
        parse_http_server_token(plain + b', realm="again"')
    with pytest.raises(DecodeError, match="token68"):
        parse_http_server_token(b"Digest a==")


_field = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)


@given(
    user=_field.map(lambda u: username_directive(u, False)), realm=_field, uri=_field,
    nonce=_field, algorithm=st.none() | _field, cnonce=_field, qop=st.none() | _field,
    response=st.text("0123456789abcdef", max_size=64), opaque=st.none() | _field,
    userhash=st.booleans(), nc=st.integers(0, 2**33),
)
def test_pieces_fill_as_the_single_render(
    user: str, realm: str, uri: str, nonce: str, algorithm: str | None, cnonce: str,
    qop: str | None, response: str, opaque: str | None, userhash: bool, nc: int,
) -> None:
    """What an established context fills in is what a first answer renders in one go."""
    count = None if qop is None else nc_value(nc)
    with_cnonce = None if qop is None else cnonce
    pieces = authorization_pieces(user, realm, nonce, algorithm, with_cnonce, qop, opaque,
                                  userhash)
    assert fill(pieces, uri, count or "", response) == render_authorization(
        user, realm, uri, algorithm, nonce, count, with_cnonce, qop, response, opaque, userhash
    )


def test_pieces_refuse_a_nul_in_a_value() -> None:
    with pytest.raises(ValueError, match="NUL"):
        authorization_pieces('username="u"', "r\x00", "n", None, "c", "auth", None, False)


# -- crypto ------------------------------------------------------------------------------------


def test_member_attributes_and_exact_spellings() -> None:
    for alg in Algorithm:
        assert alg.session == alg.value.endswith("-sess")
        assert alg.base is Algorithm(alg.value.removesuffix("-sess"))
        assert Algorithm.from_wire(alg.value) is alg
        assert Algorithm.from_wire(alg.value.upper()) is alg
    assert [q.wire for q in Qop] == [q.value for q in Qop]


@given(st.binary(max_size=200))
def test_md5_constructor_is_md5(data: bytes) -> None:
    assert c.MD5(data).hexdigest() == hashlib.md5(data).hexdigest()
    assert c.MD5(data).digest() == hashlib.md5(data).digest()
    assert Algorithm.MD5_SESS.new(data).hexdigest() == hashlib.md5(data).hexdigest()


def test_request_digester_matches_the_spec_functions() -> None:
    alg, ha1, nonce, cnonce = Algorithm.SHA_256, "a" * 64, "n", "cn"
    for qop in (None, Qop.AUTH, Qop.AUTH_INT):
        digester = c.RequestDigester(alg, ha1, nonce, cnonce, qop)
        hentity = c.h(alg, b"body") if qop is Qop.AUTH_INT else ""
        for nc in (1, 2, 255, 256, 0x12345678):
            expected = c.request_digest(
                alg, ha1, nonce, nc, cnonce, qop, c.ha2(alg, "GET", "/x", qop, hentity)
            )
            assert digester("GET", "/x", hentity, f"{nc:08x}") == expected


# -- credentials -------------------------------------------------------------------------------


def test_client_secret_keeps_its_http_forms_out_of_repr() -> None:
    user, password = 'Jo\u0065\u0301 "x"', "pa\u0301ss"  # decomposed: NFC differs
    cred: Any = PKG.acquire_credentials(
        None, CredentialUse.OUTBOUND, AuthIdentity(user, None, password)
    )
    secret = cred.client
    assert secret.http_user == (c.http_octets(user, False), c.http_octets(user, True))
    assert secret.http_user[True] == 'Jo\u00e9 "x"'.encode()
    assert secret.http_password == (password.encode(), "p\u00e1ss".encode())
    assert secret.http_username == 'username="Jo\u0065\u0301 \\"x\\""'
    assert "pa" not in repr(secret) and "http_" not in repr(secret)
    assert secret == type(secret)(secret.user, None, secret.password)


# -- machine -----------------------------------------------------------------------------------


def test_first_answer_and_session_render_alike(digest: Digest) -> None:
    """A context answers its first challenge without building the session; one built later
    (here by a nextnonce naming the same nonce) renders the same value for nc 1."""
    client: Any = DigestClientContext(digest.package.info, digest.client_cred(),
                                      "/dir/index.html", IscReq.USE_HTTP_STYLE, digest.env,
                                      cnonce="f00d")
    challenge = (b'realm="r", qop="auth", algorithm=MD5, nonce="n1", opaque="o", '
                 b"charset=UTF-8")
    first = client.step(StepInput(challenge, params=(b"GET",))).token
    assert client._http is None and client.server_name == "r"
    client.step(StepInput(b'nextnonce="n1"'))
    assert client._http is not None
    assert client.next_authorization("GET") == first
    assert HttpResponse.parse(client.next_authorization("GET")).nc == 2


def test_fixed_cnonce_must_be_quotable(digest: Digest) -> None:
    with pytest.raises(SspiError) as exc:
        DigestClientContext(digest.package.info, digest.client_cred(), "/",
                            IscReq.USE_HTTP_STYLE, digest.env, cnonce="a\x00b")
    assert exc.value.status == SecStatus.SEC_E_INVALID_PARAMETER


# -- first-response shortcuts --------------------------------------------------------------------


@given(
    realm=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8),
    user=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8),
    password=st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
    alg=st.sampled_from(list(Algorithm)), utf8=st.booleans(), userhash=st.booleans(),
)
def test_remembered_http_secret_is_the_computed_one(
    realm: str, user: str, password: str, alg: Algorithm, utf8: bool, userhash: bool
) -> None:
    """The credential's memory of H(user:realm:password) gives what hashing again gives, and
    its ASCII shortcut the octets ``http_octets`` gives."""
    from opensspi.packages.digest import session

    cred: Any = PKG.acquire_credentials(
        None, CredentialUse.OUTBOUND, AuthIdentity(user, None, password)
    )
    secret = cred.client
    for text, pair in ((user, secret.http_user), (password, secret.http_password)):
        assert pair == (c.http_octets(text, False), c.http_octets(text, True))
    challenge = HttpChallenge(realm, "n", ("auth",), alg.value, charset_utf8=utf8,
                              userhash=userhash)
    expected = session._compute_http_secret(secret, challenge, alg)
    assert session._http_secret(secret, challenge, alg) == expected  # computed, remembered
    assert session._http_secret(secret, challenge, alg) == expected  # remembered


def test_remembered_http_secrets_are_bounded() -> None:
    from opensspi.packages.digest import session
    from opensspi.packages.digest.credentials import MAX_HTTP_SECRETS

    cred: Any = PKG.acquire_credentials(None, CredentialUse.OUTBOUND,
                                        AuthIdentity("u", None, "p"))
    for n in range(3 * MAX_HTTP_SECRETS):
        session._http_secret(cred.client, HttpChallenge(f"r{n}", "n"), Algorithm.MD5)
        assert len(cred.client.http_secrets) <= MAX_HTTP_SECRETS


@pytest.mark.parametrize("offer", [(), ("auth",), ("auth-int",), ("auth", "auth-int"), ("x",)])
@pytest.mark.parametrize("algorithm", [None, "MD5", "sha-256", "SHA-512-256-sess", "nope"])
@pytest.mark.parametrize("req", [IscReq.USE_HTTP_STYLE, IscReq.USE_HTTP_STYLE | IscReq.INTEGRITY])
def test_single_challenge_choice_is_the_ranking_loop(
    digest: Digest, offer: tuple[str, ...], algorithm: str | None, req: IscReq
) -> None:
    """The one-challenge shortcut chooses what the general loop chooses (run here through a
    second, ignored challenge in an unknown algorithm, which the loop skips)."""
    from opensspi.packages.digest.machine import _choose_http

    client: Any = DigestClientContext(digest.package.info, digest.client_cred(), "/", req,
                                      digest.env)
    challenge = HttpChallenge("r", "n", offer, algorithm)
    ignored = HttpChallenge("r", "n", offer, "unknown-algorithm")

    def choose(challenges: tuple[HttpChallenge, ...]) -> object:
        try:
            return _choose_http(client, challenges)
        except SspiError as exc:
            return type(exc), str(exc).replace(", unknown-algorithm", "")

    assert choose((challenge,)) == choose((challenge, ignored))


@pytest.mark.parametrize("qop", [None, "auth", "auth-int", "AUTH", "x y"])
@pytest.mark.parametrize("algorithm", [None, "MD5", "md5-sess", "SHA-256", "a b", 'q"'])
def test_known_spellings_render_as_checked_tokens(qop: str | None, algorithm: str | None) -> None:
    """Spellings rendered without the token check are tokens: the check leaves them alone."""
    from opensspi.packages.digest.messages import _TOKENS, _token_or_quote

    assert all(_token_or_quote(t) == t for t in _TOKENS)
    nc, cnonce = (None, None) if qop is None else ("00000001", "c")
    value = render_authorization('username="u"', "r", "/", algorithm, "n", nc, cnonce, qop, "0",
                                 None, False)
    parsed = HttpResponse.parse(value.encode())
    assert parsed.algorithm == algorithm
    assert parsed.qop == (None if qop is None else qop.lower())


def test_flags_are_the_intflag_sums(digest: Digest) -> None:
    """The plain-int flags are the IscRet values the IntFlag arithmetic gave."""
    from opensspi.constants import IscRet

    client: Any = DigestClientContext(digest.package.info, digest.client_cred(), "/",
                                      IscReq.USE_HTTP_STYLE, digest.env)
    assert client.flags == IscRet.USED_HTTP_STYLE and type(client.flags) is IscRet
    client._mutual, client._qop = True, Qop.AUTH_INT
    assert client.flags == IscRet.USED_HTTP_STYLE | IscRet.MUTUAL_AUTH | IscRet.INTEGRITY
