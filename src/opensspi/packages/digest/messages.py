"""Digest directive lists on the wire: challenges, responses and rspauth, for HTTP and SASL.

Specifications:

- RFC 7616 §3.3 (WWW-Authenticate), §3.4 (Authorization), §3.5 (Authentication-Info):
  https://www.rfc-editor.org/rfc/rfc7616#section-3.3
- RFC 7235 §2.1 and §4.1: one header value may hold several challenges; ``token68``.
- RFC 7230 §3.2.6 (token, quoted-string, quoted-pair) and §7 (empty list elements).
- RFC 2831 §2.1.1 (digest-challenge), §2.1.2 (digest-response), §2.1.3 (response-auth):
  https://www.rfc-editor.org/rfc/rfc2831#section-2.1.1
- RFC 5987 §3.2 (``ext-value``, for ``username*``).

Every parser raises :class:`~opensspi.errors.DecodeError` and nothing else, for:

- a token at or above its size limit (RFC 2831 §2.1.1: a digest-challenge "MUST be less than
  2048 bytes"; §2.1.2: a digest-response "MUST be less than 4096 bytes");
- bad syntax: a control character, an unterminated quoted-string, a missing ``,``;
- a directive given twice (RFC 2831 §2.1.1: "if multiple instances are present, the client
  should abort"), except ``realm`` in a SASL challenge, which may repeat;
- a required directive missing or a value of the wrong form (``nc`` is 8 hex digits...).

Unknown directives are ignored, as both RFCs require of ``auth-param``. Wire classes are frozen;
``parse(build(m)) == m`` holds for every message the builders can express.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import DecodeError

MAX_CHALLENGE = 2048
"""A challenge must be shorter than this (RFC 2831 §2.1.1; Microsoft "Contents of a Digest
Challenge")."""

MAX_RESPONSE = 4096
"""A response must be shorter than this (RFC 2831 §2.1.2)."""

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
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
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_EXT_VALUE_RE = re.compile(
    r"([A-Za-z0-9!#$%&+\-^_`{}~]+)'([A-Za-z0-9\-]*)'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)"
)
_ATTR_CHARS = frozenset(
    b"!#$&+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

_Params = dict[str, list[str]]


# -- primitives --------------------------------------------------------------------------------


def quotable(text: str) -> bool:
    """True when ``text`` can travel in a quoted-string (no control characters but HTAB)."""
    return _CTL_RE.search(text) is None


def quote(text: str) -> str:
    """``text`` as a quoted-string, RFC 7230 §3.2.6: ``\\`` and ``"`` become quoted-pairs."""
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _token_or_quote(text: str) -> str:
    return text if _TOKEN_RE.fullmatch(text) else quote(text)


def encode_ext_value(text: str) -> str:
    """RFC 5987 §3.2 ``ext-value`` in UTF-8, as ``username*`` carries it.

    ::

        ext-value     = charset  "'" [ language ] "'" value-chars
        value-chars   = *( pct-encoded / attr-char )
        attr-char     = ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "."
                      / "^" / "_" / "`" / "|" / "~"
    """
    return "UTF-8''" + "".join(
        chr(b) if b in _ATTR_CHARS else f"%{b:02X}" for b in text.encode("utf-8")
    )


def decode_ext_value(value: str) -> str:
    """Parse an RFC 5987 ``ext-value`` (charset UTF-8 or ISO-8859-1).

    Raises:
        DecodeError: malformed, another charset, or bytes invalid in the charset.
    """
    m = _EXT_VALUE_RE.fullmatch(value)
    if m is None:
        raise DecodeError("username* is not an RFC 5987 ext-value (charset'lang'%XX...).")
    charset = m.group(1).lower()
    if charset not in ("utf-8", "iso-8859-1"):
        raise DecodeError(f"username* uses charset {m.group(1)!r}; only UTF-8 is supported.")
    raw = bytearray()
    chars = m.group(3)
    i = 0
    while i < len(chars):
        if chars[i] == "%":
            raw.append(int(chars[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.append(ord(chars[i]))
            i += 1
    try:
        return bytes(raw).decode(charset)
    except UnicodeDecodeError as exc:
        raise DecodeError("username* holds bytes that are not valid UTF-8.") from exc


def _decode(data: bytes, limit: int, what: str) -> str:
    if len(data) >= limit:
        raise DecodeError(
            f"The Digest {what} is {len(data)} bytes; it must be shorter than {limit}."
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class _Item:
    """One element of an authentication list: a scheme and its params (or token68)."""

    __slots__ = ("params", "scheme", "token68")

    def __init__(self, scheme: str | None) -> None:
        self.scheme = scheme
        self.params: _Params = {}
        self.token68: str | None = None

    @property
    def is_digest(self) -> bool:
        return self.scheme is None or self.scheme.lower() == "digest"


def _parse_list(text: str, *, schemes: bool, repeatable: frozenset[str]) -> list[_Item]:
    """Split an authentication list into items, RFC 7235 §4.1 / RFC 2831 ``1#directive``.

    ::

        challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
        auth-param  = token BWS "=" BWS ( token / quoted-string )
        token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="

    A list that starts with ``name=value`` is one challenge without its scheme word (what
    curl passes to the Digest SSP). With ``schemes=False`` (SASL) every element must be a
    directive. Line breaks separate elements like commas, so several header lines joined
    with CRLF parse as one list. Each element is one match of :data:`_ELEMENT_RE`.
    """
    items: list[_Item] = []
    cur: _Item | None = None
    pos, end = 0, len(text)
    match = _ELEMENT_RE.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            raise DecodeError(
                f"Malformed directive list at offset {pos} (near {text[pos:pos + 12]!r}): a "
                "bad token, an unterminated quoted-string, a control character or a missing ','."
            )
        pos = m.end()
        name, quoted, token, scheme, token68 = m.groups()
        if name is not None:
            if cur is None:
                cur = _Item(None)
                items.append(cur)
            if quoted is None:
                value = token
            elif "\\" in quoted:
                value = _QPAIR_RE.sub(r"\1", quoted)
            else:
                value = quoted
            key = name.lower()
            seen = cur.params.get(key)
            if seen is None:
                cur.params[key] = [value]
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
        cur = _Item(scheme)
        cur.token68 = token68
        items.append(cur)
    return items


def _digest_items(text: str, what: str) -> list[_Item]:
    items = [i for i in _parse_list(text, schemes=True, repeatable=frozenset()) if i.is_digest]
    if not items:
        raise DecodeError(f"The {what} holds no Digest directives.")
    for item in items:
        if item.token68 is not None:
            raise DecodeError(f"A Digest {what} carries directives, not a token68 blob.")
    return items


def _one(params: _Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _need(params: _Params, name: str, what: str) -> str:
    value = _one(params, name)
    if value is None:
        raise DecodeError(f"The Digest {what} lacks the required {name!r} directive.")
    return value


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


def _list(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(x.strip().lower() for x in value.split(",") if x.strip())


def _nc_value(value: str) -> int:
    if len(value) != 8 or not _HEX_RE.fullmatch(value):
        raise DecodeError(f"nc must be exactly 8 hex digits, not {value!r}.")
    return int(value, 16)


def _nc(value: str | None) -> int | None:
    return None if value is None else _nc_value(value)


def _hex(value: str, name: str, length: int | None = None) -> str:
    if not _HEX_RE.fullmatch(value) or (length is not None and len(value) != length):
        size = f"{length} " if length else ""
        raise DecodeError(f"{name} must be {size}hex digits.")
    return value.lower()


def _maxbuf(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 8 or not 0 < int(value) <= 16777215:
        raise DecodeError(f"maxbuf must be a number from 1 to 16777215, not {value!r}.")
    return int(value)


def _charset(value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() != "utf-8":
        raise DecodeError(f"charset may only be utf-8, not {value!r}.")
    return True


# -- HTTP (RFC 7616) ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpChallenge:
    """One Digest challenge of a ``WWW-Authenticate`` header, RFC 7616 §3.3.

    ``qop`` holds the options in lower case (empty: an RFC 2069 challenge without qop);
    ``algorithm`` is the spelling sent (None: absent, which means MD5).
    """

    realm: str
    nonce: str
    qop: tuple[str, ...] = ()
    algorithm: str | None = None
    opaque: str | None = None
    domain: str | None = None
    stale: bool = False
    charset_utf8: bool = False
    userhash: bool = False

    @classmethod
    def _from(cls, params: _Params) -> HttpChallenge:
        qop_value = _one(params, "qop")
        qop = _list(qop_value)
        if qop_value is not None and not qop:
            raise DecodeError("The Digest challenge has an empty qop list.")
        return cls(
            realm=_need(params, "realm", "challenge"),
            nonce=_need(params, "nonce", "challenge"),
            qop=qop,
            algorithm=_one(params, "algorithm"),
            opaque=_one(params, "opaque"),
            domain=_one(params, "domain"),
            stale=_flag(_one(params, "stale")),
            charset_utf8=_charset(_one(params, "charset")),
            userhash=_flag(_one(params, "userhash")),
        )

    def build(self) -> str:
        """The challenge without the ``Digest`` scheme word, in RFC 7616 §3.9's order."""
        parts = [f"realm={quote(self.realm)}"]
        if self.qop:
            parts.append(f"qop={quote(', '.join(self.qop))}")
        if self.algorithm is not None:
            parts.append(f"algorithm={_token_or_quote(self.algorithm)}")
        parts.append(f"nonce={quote(self.nonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        if self.domain is not None:
            parts.append(f"domain={quote(self.domain)}")
        if self.charset_utf8:
            parts.append("charset=UTF-8")
        if self.userhash:
            parts.append("userhash=true")
        if self.stale:
            parts.append("stale=true")
        return ", ".join(parts)


def parse_http_challenges(data: bytes, limit: int = MAX_CHALLENGE) -> tuple[HttpChallenge, ...]:
    """Every Digest challenge in a ``WWW-Authenticate`` value (other schemes are skipped).

    Accepts the value with or without the leading ``Digest``, several challenges in one
    value (RFC 7235 §4.1), and several header values joined by line breaks.
    """
    text = _decode(data, limit, "challenge")
    return tuple(HttpChallenge._from(i.params) for i in _digest_items(text, "challenge"))


def build_http_challenges(challenges: tuple[HttpChallenge, ...]) -> str:
    """Several challenges as one header value; the caller prefixes ``Digest `` as for one."""
    return ", Digest ".join(c.build() for c in challenges)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """The Digest credentials of an ``Authorization`` header, RFC 7616 §3.4.

    ``username_star`` records that the name travelled as ``username*`` (RFC 5987);
    ``username`` is then the decoded name. With ``userhash`` it is the hex hash.
    """

    username: str
    realm: str
    uri: str
    nonce: str
    response: str
    algorithm: str | None = None
    cnonce: str | None = None
    nc: int | None = None
    qop: str | None = None
    opaque: str | None = None
    userhash: bool = False
    username_star: bool = False

    @classmethod
    def parse(cls, data: bytes, limit: int = MAX_RESPONSE) -> HttpResponse:
        """Parse an ``Authorization`` value, with or without the ``Digest`` scheme word."""
        text = _decode(data, limit, "response")
        items = _digest_items(text, "response")
        if len(items) != 1:
            raise DecodeError("An Authorization header carries one set of Digest credentials.")
        params = items[0].params
        plain, star = _one(params, "username"), _one(params, "username*")
        if plain is not None and star is not None:
            raise DecodeError("The response sends both username and username* (RFC 7616 §3.4).")
        if star is not None:
            username, username_star = decode_ext_value(star), True
        else:
            username, username_star = _need(params, "username", "response"), False
        qop, cnonce, nc = _one(params, "qop"), _one(params, "cnonce"), _nc(_one(params, "nc"))
        if (qop is None) != (cnonce is None) or (qop is None) != (nc is None):
            raise DecodeError("qop, cnonce and nc go together in a Digest response.")
        return cls(
            username=username,
            realm=_need(params, "realm", "response"),
            uri=_need(params, "uri", "response"),
            nonce=_need(params, "nonce", "response"),
            response=_hex(_need(params, "response", "response"), "response"),
            algorithm=_one(params, "algorithm"),
            cnonce=cnonce,
            nc=nc,
            qop=qop.lower() if qop is not None else None,
            opaque=_one(params, "opaque"),
            userhash=_flag(_one(params, "userhash")),
            username_star=username_star,
        )

    def template(self) -> AuthorizationTemplate:
        """The parts of this value that stay fixed while one nonce is in use."""
        return AuthorizationTemplate(
            self.username, self.username_star, self.realm, self.nonce, self.algorithm,
            self.cnonce, self.qop, self.opaque, self.userhash, with_nc=self.nc is not None,
        )

    def build(self) -> str:
        """The credentials without the ``Digest`` scheme word, in RFC 7616 §3.9's order."""
        return self.template().fill(self.uri, self.nc or 0, self.response)


class AuthorizationTemplate:
    """An Authorization value with ``uri``, ``nc`` and ``response`` left open.

    The initiator authorizes many requests under one nonce (MakeSignature, nc + 1); only those
    three directives change, so the rest is rendered once. :meth:`HttpResponse.build` renders
    through this class too, so the directive order has one definition (RFC 7616 §3.9).
    """

    __slots__ = ("_end", "_head", "_middle", "_tail", "_with_nc")

    def __init__(
        self, username: str, username_star: bool, realm: str, nonce: str,
        algorithm: str | None, cnonce: str | None, qop: str | None, opaque: str | None,
        userhash: bool, *, with_nc: bool,
    ) -> None:
        user = (
            f"username*={encode_ext_value(username)}"
            if username_star
            else f"username={quote(username)}"
        )
        self._head = f"{user}, realm={quote(realm)}, uri="
        middle = ""
        if algorithm is not None:
            middle += f", algorithm={_token_or_quote(algorithm)}"
        middle += f", nonce={quote(nonce)}"
        if with_nc:
            middle += ", nc="
        self._middle = middle
        self._with_nc = with_nc
        tail = ""
        if cnonce is not None:
            tail += f", cnonce={quote(cnonce)}"
        if qop is not None:
            tail += f", qop={_token_or_quote(qop)}"
        self._tail = tail + ', response="'
        end = '"'
        if opaque is not None:
            end += f", opaque={quote(opaque)}"
        if userhash:
            end += ", userhash=true"
        self._end = end

    def fill(self, uri: str, nc: int, response: str) -> str:
        """The value for one request."""
        count = f"{nc:08x}" if self._with_nc else ""
        quoted = quote(uri) if "\\" in uri or '"' in uri else f'"{uri}"'
        return f"{self._head}{quoted}{self._middle}{count}{self._tail}{response}{self._end}"


@dataclass(frozen=True, slots=True)
class AuthenticationInfo:
    """The ``Authentication-Info`` header value, RFC 7616 §3.5."""

    rspauth: str | None = None
    cnonce: str | None = None
    nc: int | None = None
    qop: str | None = None
    nextnonce: str | None = None

    @classmethod
    def _from(cls, params: _Params) -> AuthenticationInfo:
        rspauth = _one(params, "rspauth")
        qop = _one(params, "qop")
        return cls(
            rspauth=_hex(rspauth, "rspauth") if rspauth is not None else None,
            cnonce=_one(params, "cnonce"),
            nc=_nc(_one(params, "nc")),
            qop=qop.lower() if qop is not None else None,
            nextnonce=_one(params, "nextnonce"),
        )

    def build(self) -> str:
        """The header value in the order Apache sends it."""
        parts = []
        if self.rspauth is not None:
            parts.append(f'rspauth="{self.rspauth}"')
        if self.cnonce is not None:
            parts.append(f"cnonce={quote(self.cnonce)}")
        if self.nc is not None:
            parts.append(f"nc={self.nc:08x}")
        if self.qop is not None:
            parts.append(f"qop={_token_or_quote(self.qop)}")
        if self.nextnonce is not None:
            parts.append(f"nextnonce={quote(self.nextnonce)}")
        return ", ".join(parts)


def parse_http_server_token(
    data: bytes, limit: int = MAX_CHALLENGE
) -> tuple[HttpChallenge, ...] | AuthenticationInfo:
    """What an HTTP server sent the client: challenges, or an ``Authentication-Info`` value.

    An Authentication-Info value is a bare directive list with ``rspauth`` or ``nextnonce``
    and no ``nonce``; anything else must be one or more Digest challenges.
    """
    text = _decode(data, limit, "server token")
    items = _digest_items(text, "server token")
    first = items[0].params
    if (
        len(items) == 1
        and items[0].scheme is None
        and "nonce" not in first
        and ("rspauth" in first or "nextnonce" in first)
    ):
        return AuthenticationInfo._from(first)
    return tuple(HttpChallenge._from(i.params) for i in items)


# -- SASL (RFC 2831) ---------------------------------------------------------------------------

_REALM_ONLY = frozenset({"realm"})


def _sasl_params(data: bytes, limit: int, what: str, repeatable: frozenset[str]) -> _Params:
    text = _decode(data, limit, what)
    items = _parse_list(text, schemes=False, repeatable=repeatable)
    if not items:
        raise DecodeError(f"The DIGEST-MD5 {what} is empty.")
    return items[0].params


@dataclass(frozen=True, slots=True)
class SaslChallenge:
    """A DIGEST-MD5 ``digest-challenge``, RFC 2831 §2.1.1.

    ``qop`` defaults to ``("auth",)`` as the RFC says; ``maxbuf`` None means the default 65536;
    ``ciphers`` is empty when no ``cipher`` directive was sent. Names are lower case.
    """

    nonce: str
    realms: tuple[str, ...] = ()
    qop: tuple[str, ...] = ("auth",)
    ciphers: tuple[str, ...] = ()
    maxbuf: int | None = None
    stale: bool = False
    algorithm: str = "md5-sess"
    charset_utf8: bool = False

    @classmethod
    def parse(cls, data: bytes, limit: int = MAX_CHALLENGE) -> SaslChallenge:
        params = _sasl_params(data, limit, "challenge", _REALM_ONLY)
        qop_value = _one(params, "qop")
        qop = _list(qop_value) if qop_value is not None else ("auth",)
        if not qop:
            raise DecodeError("The DIGEST-MD5 challenge has an empty qop list.")
        return cls(
            nonce=_need(params, "nonce", "challenge"),
            realms=tuple(params.get("realm", ())),
            qop=qop,
            ciphers=_list(_one(params, "cipher")),
            maxbuf=_maxbuf(_one(params, "maxbuf")),
            stale=_flag(_one(params, "stale")),
            algorithm=_need(params, "algorithm", "challenge"),
            charset_utf8=_charset(_one(params, "charset")),
        )

    def build(self) -> str:
        """The challenge in RFC 2831 §4's order (realm, nonce, qop, ..., algorithm, charset)."""
        parts = [f"realm={quote(r)}" for r in self.realms]
        parts.append(f"nonce={quote(self.nonce)}")
        parts.append(f"qop={quote(','.join(self.qop))}")
        if self.ciphers:
            parts.append(f"cipher={quote(','.join(self.ciphers))}")
        if self.maxbuf is not None:
            parts.append(f"maxbuf={self.maxbuf}")
        if self.stale:
            parts.append("stale=true")
        parts.append(f"algorithm={_token_or_quote(self.algorithm)}")
        if self.charset_utf8:
            parts.append("charset=utf-8")
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class SaslResponse:
    """A DIGEST-MD5 ``digest-response``, RFC 2831 §2.1.2 (``qop`` defaults to ``auth``)."""

    username: str
    nonce: str
    cnonce: str
    nc: int
    digest_uri: str
    response: str
    realm: str | None = None
    qop: str = "auth"
    maxbuf: int | None = None
    cipher: str | None = None
    authzid: str | None = None
    charset_utf8: bool = False

    @classmethod
    def parse(cls, data: bytes, limit: int = MAX_RESPONSE) -> SaslResponse:
        params = _sasl_params(data, limit, "response", frozenset())
        nc = _nc_value(_need(params, "nc", "response"))
        cipher = _one(params, "cipher")
        return cls(
            username=_need(params, "username", "response"),
            nonce=_need(params, "nonce", "response"),
            cnonce=_need(params, "cnonce", "response"),
            nc=nc,
            digest_uri=_need(params, "digest-uri", "response"),
            response=_hex(_need(params, "response", "response"), "response", 32),
            realm=_one(params, "realm"),
            qop=(_one(params, "qop") or "auth").lower(),
            maxbuf=_maxbuf(_one(params, "maxbuf")),
            cipher=cipher.lower() if cipher is not None else None,
            authzid=_one(params, "authzid"),
            charset_utf8=_charset(_one(params, "charset")),
        )

    def build(self) -> str:
        """The response in RFC 2831 §4's order, optional directives last."""
        parts = []
        if self.charset_utf8:
            parts.append("charset=utf-8")
        parts.append(f"username={quote(self.username)}")
        if self.realm is not None:
            parts.append(f"realm={quote(self.realm)}")
        parts += [
            f"nonce={quote(self.nonce)}",
            f"nc={self.nc:08x}",
            f"cnonce={quote(self.cnonce)}",
            f"digest-uri={quote(self.digest_uri)}",
            f"response={self.response}",
            f"qop={_token_or_quote(self.qop)}",
        ]
        if self.maxbuf is not None:
            parts.append(f"maxbuf={self.maxbuf}")
        if self.cipher is not None:
            parts.append(f"cipher={_token_or_quote(self.cipher)}")
        if self.authzid is not None:
            parts.append(f"authzid={quote(self.authzid)}")
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class ResponseAuth:
    """The server's third-leg ``response-auth``, RFC 2831 §2.1.3: ``rspauth=<32 hex>``."""

    rspauth: str

    @classmethod
    def parse(cls, data: bytes, limit: int = MAX_CHALLENGE) -> ResponseAuth:
        params = _sasl_params(data, limit, "rspauth", frozenset())
        return cls(_hex(_need(params, "rspauth", "rspauth"), "rspauth", 32))

    def build(self) -> str:
        return f"rspauth={self.rspauth}"
