"""The pieces of a Digest exchange both contexts use: request URIs and text parameters, the HTTP
session that authorizes further requests (RFC 7616 §3.4, nonce counts), and a SASL exchange
awaiting its rspauth (RFC 2831 §2.1.3)."""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

from ...errors import (
    InvalidParameter,
)
from . import crypto
from .credentials import MAX_HTTP_SECRETS, ClientSecret
from .crypto import Algorithm, Cipher, Qop, http_octets
from .messages import (
    AuthorizationPieces,
    HttpChallenge,
    authorization_pieces,
    fill,
    nc_value,
    quotable,
    render_authorization,
    username_directive,
)

_ABSOLUTE_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_AUTH: Final = Qop.AUTH
_AUTH_INT: Final = Qop.AUTH_INT


def _same_text(a: str, b: str) -> bool:
    """Compare two peer strings in constant time.

    ``hmac.compare_digest`` raises TypeError on a str with non-ASCII characters, which a peer
    may send in any quoted directive (issue 12): compare the UTF-8 bytes instead
    (``surrogatepass``: a parser may have kept a lone surrogate).
    """
    if a.isascii() and b.isascii():  # the usual case, compared as it is
        return hmac.compare_digest(a, b)
    encoding = "utf-8"
    return hmac.compare_digest(
        a.encode(encoding, "surrogatepass"), b.encode(encoding, "surrogatepass")
    )


def _text_param(params: Sequence[bytes], index: int, what: str) -> str | None:
    """A PKG_PARAMS string (C callers may include the terminating NUL)."""
    if index >= len(params) or not params[index]:
        return None
    data = params[index]
    if data.isascii():
        text = data.decode("ascii")
        if text.isprintable():  # for ASCII: only 0x20-0x7e, the common case
            return text
    try:
        text = data.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter(f"The {what} buffer is not UTF-8 text.") from None
    if not quotable(text):
        raise InvalidParameter(f"The {what} buffer contains control characters.")
    return text or None


def _request_uri(target: str) -> str:
    """The ``uri`` directive for a target name.

    Deviation: Microsoft documents pszTargetName as "the target URL"; an absolute URL is
    reduced to its origin form (path and query), because servers such as Apache compare
    ``uri`` with the request line, which carries the origin form.
    """
    if not target.startswith("/") and _ABSOLUTE_URL.match(target):
        parts = urlsplit(target)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return target


def _utf8(text: str) -> bytes:
    """How the acceptor encodes HTTP names and passwords: it always sends charset=UTF-8."""
    return http_octets(text, True)


def _strip_length(frame: bytes) -> bytes:
    """Drop an RFC 2222 four-byte length prefix if the frame carries a consistent one."""
    if len(frame) >= 4 and int.from_bytes(frame[:4], "big") == len(frame) - 4:
        return frame[4:]
    return frame


class NextRequest:
    """A further HTTP request to authorize on an established context."""

    __slots__ = ("body", "method", "uri")

    def __init__(self, method: str, uri: str, body: bytes) -> None:
        self.method, self.uri, self.body = method, uri, body


def _http_secret(
    client: ClientSecret, challenge: HttpChallenge, algorithm: Algorithm
) -> tuple[str, str]:
    """H(user:realm:password) for ``challenge`` and the username directive to send with it.

    Remembered in the credential (:attr:`ClientSecret.http_secrets`): both depend only on the
    credential, the algorithm, the realm, ``charset`` and ``userhash``.
    """
    key = (algorithm, challenge.realm, challenge.charset_utf8, challenge.userhash)
    known = client.http_secrets.get(key)
    if known is not None:
        return known
    answer = _compute_http_secret(client, challenge, algorithm)
    secrets = client.http_secrets
    if len(secrets) >= MAX_HTTP_SECRETS:
        secrets.clear()
    secrets[key] = answer
    return answer


def _compute_http_secret(
    client: ClientSecret, challenge: HttpChallenge, algorithm: Algorithm
) -> tuple[str, str]:
    """:func:`_http_secret` without the credential's memory."""
    utf8 = challenge.charset_utf8
    user = client.http_user[utf8]
    realm = http_octets(challenge.realm, True) if utf8 else challenge.realm.encode()
    secret = crypto.secret_hash(algorithm, user, realm, client.http_password[utf8])
    if challenge.userhash:
        return secret, username_directive(crypto.userhash(algorithm, user, realm), False)
    if utf8 and not client.user.isascii():
        # RFC 7616 §3.4: username* "can be used" for names a quoted-string cannot hold.
        # Only servers that announce charset=UTF-8 speak RFC 7616; Apache (no charset)
        # expects the UTF-8 octets in the quoted string, as curl sends them.
        return secret, username_directive(client.user, True)
    return secret, client.http_username


def _http_pieces(
    user: str, challenge: HttpChallenge, nonce: str, cnonce: str, qop: Qop | None
) -> AuthorizationPieces:
    """The fixed parts of the Authorization values answering ``challenge`` under ``nonce``."""
    return authorization_pieces(
        user, challenge.realm, nonce, challenge.algorithm,
        None if qop is None else cnonce, None if qop is None else qop.wire,
        challenge.opaque, challenge.userhash,
    )


def _first_response(
    algorithm: Algorithm, ha1: str, nonce: str, cnonce: str, qop: Qop | None, method: str,
    uri: str, hentity: str,
) -> str:
    """The ``response`` of the first request under a nonce (nc 1), RFC 7616 §3.4.1.

    :func:`crypto.ha2` and :func:`crypto.request_digest` joined for the usual qop=auth: the
    same two hashes with their inputs formatted in place (nc-value ``00000001``).
    """
    if qop is _AUTH:
        new = algorithm.new
        ha2 = new(f"{method}:{uri}".encode()).hexdigest()
        return new(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
    ha2 = crypto.ha2(algorithm, method, uri, qop, hentity)
    return crypto.request_digest(algorithm, ha1, nonce, 1, cnonce, qop, ha2)


_FirstAnswer = tuple[HttpChallenge, Algorithm, Qop | None, str, tuple[str, str, str, int]]
"""What an initiator keeps of its first answer: challenge, algorithm, qop, cnonce and the
request (method, uri, H(entity), nc) for the Authentication-Info check."""


def _first_authorization(
    client: ClientSecret, challenge: HttpChallenge, algorithm: Algorithm, qop: Qop | None,
    cnonce: str, method: str, uri: str, body_or_hash: bytes,
) -> tuple[str, _FirstAnswer]:
    """The Authorization value answering ``challenge`` (nc 1), RFC 7616 §3.4, and what an
    :class:`_HttpSession` needs to carry on from it.

    The value is rendered once, without cutting it into :func:`authorization_pieces`: a
    context used for one request, as curl and most clients use them, never needs the pieces.
    """
    # _http_secret's remembered answer read in place; the call computes and keeps a new one.
    known = client.http_secrets.get(
        (algorithm, challenge.realm, challenge.charset_utf8, challenge.userhash)
    )
    secret, user = known if known is not None else _http_secret(client, challenge, algorithm)
    nonce = challenge.nonce
    ha1 = crypto.ha1(algorithm, secret, nonce, cnonce) if algorithm.session else secret
    if qop is _AUTH:  # _first_response's qop=auth case, inline
        new = algorithm.new
        hentity = ""
        ha2 = new(f"{method}:{uri}".encode()).hexdigest()
        response = new(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
    else:
        hentity = crypto.hentity(algorithm, body_or_hash) if qop is _AUTH_INT else ""
        response = _first_response(algorithm, ha1, nonce, cnonce, qop, method, uri, hentity)
    if qop is None:
        value = render_authorization(
            user, challenge.realm, uri, challenge.algorithm, nonce, None, None, None, response,
            challenge.opaque, challenge.userhash,
        )
    else:
        value = render_authorization(
            user, challenge.realm, uri, challenge.algorithm, nonce, "00000001", cnonce, qop.wire,
            response, challenge.opaque, challenge.userhash,
        )
    return value, (challenge, algorithm, qop, cnonce, (method, uri, hentity, 1))


class _HttpSession:
    """The initiator's state for one server nonce: algorithm, HA1, cnonce and the count.

    A context that answers one challenge and is then dropped (what curl and the benchmark do:
    one context per request) never builds one: the first answer keeps a :data:`_FirstAnswer`,
    and the session is built from it when the context is used again.
    """

    __slots__ = (
        "algorithm", "challenge", "cnonce", "digester", "ha1", "last", "nc", "nonce",
        "pieces", "qop", "secret", "user",
    )

    def __init__(self, first: _FirstAnswer, client: ClientSecret) -> None:
        challenge, algorithm, qop, cnonce, last = first
        self.challenge, self.algorithm, self.qop, self.cnonce = challenge, algorithm, qop, cnonce
        self.secret, self.user = _http_secret(client, challenge, algorithm)
        self.renonce(challenge.nonce)
        self.nc = last[3]
        self.last: tuple[str, str, str, int] = last

    def renonce(self, nonce: str) -> None:
        """Start over with a new server nonce (a stale challenge or a nextnonce)."""
        self.nonce = nonce
        self.nc = 0
        self.ha1 = crypto.ha1(self.algorithm, self.secret, nonce, self.cnonce)
        self.digester: crypto.RequestDigester | None = None
        self.pieces = _http_pieces(self.user, self.challenge, nonce, self.cnonce, self.qop)

    def authorize(self, method: str, uri: str, body_or_hash: bytes) -> str:
        """The next Authorization value (nc + 1), RFC 7616 §3.4."""
        self.nc = nc = self.nc + 1
        alg, qop = self.algorithm, self.qop
        hentity = crypto.hentity(alg, body_or_hash) if qop is _AUTH_INT else ""
        self.last = (method, uri, hentity, nc)
        if nc == 1:  # after a nextnonce
            response = _first_response(alg, self.ha1, self.nonce, self.cnonce, qop, method, uri,
                                       hentity)
            return fill(self.pieces, uri, "" if qop is None else nc_value(1), response)
        # The digester keeps the joined KD prefix and H(A2) per URI for the requests that follow
        # under this nonce; the nc-value is formatted once for it and for the header.
        digester = self.digester
        if digester is None:
            digester = self.digester = crypto.RequestDigester(
                alg, self.ha1, self.nonce, self.cnonce, qop
            )
        count = "" if qop is None else nc_value(nc)
        return fill(self.pieces, uri, count, digester(method, uri, hentity, count))


class _SaslPending:
    """What the SASL initiator needs to check rspauth and start the security layer."""

    __slots__ = ("cipher", "ha1", "peer_maxbuf", "qop", "rspauth")

    def __init__(
        self, ha1: bytes, qop: Qop, cipher: Cipher | None, peer_maxbuf: int, rspauth: str
    ) -> None:
        self.ha1, self.qop, self.cipher = ha1, qop, cipher
        self.peer_maxbuf, self.rspauth = peer_maxbuf, rspauth
