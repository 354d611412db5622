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
from typing import NamedTuple

from ...errors import DecodeError

MAX_CHALLENGE = 2048
"""A challenge must be shorter than this (RFC 2831 §2.1.1; Microsoft "Contents of a Digest
Challenge")."""

MAX_RESPONSE = 4096
"""A response must be shorter than this (RFC 2831 §2.1.2)."""

_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QPAIR_RE = re.compile(r"\\(.)", re.S)
_LIST_RE = re.compile(
    r"""
    [ \t\r\n,]*                                    # separators and empty list elements
    (?:
        ([!#$%&'*+\-.^_`|~0-9A-Za-z]+)              # 1: a directive's name, or a scheme
        (?:
            [ \t]*(=)[ \t]*                          # 2: auth-param: token BWS "=" BWS value
            (?:
                "([^"\\\x00-\x08\x0a-\x1f\x7f]*      # 3: the quoted-string's content
                  (?:\\[^\x00-\x08\x0a-\x1f\x7f][^"\\\x00-\x08\x0a-\x1f\x7f]*)*)"
              | ([^\s,"\\\x00-\x1f\x7f]+)             # 4: or a bare token
            )
            [ \t]*(?![^,\r\n])                       # then "," or a line break or the end
          | (?![^ \t,\r\n])                          # auth-scheme [ 1*SP token68 ]
            (?:[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*(?![^,\r\n]))?    # 5: token68
        )
      | $
    )
    | ([\s\S])                                      # 6: nothing above fits here
    """,
    re.X,
)
r"""One list element per match, so ``findall`` walks the whole list in one call.

Every position either starts an element or matches group 6, which ``findall`` therefore can
never skip over: the elements it returns are exactly the consecutive ``match`` calls a loop
would make, up to the first syntax error, which shows up as group 6. ``(?![^,\r\n])`` is
``(?=[,\r\n]|$)`` in one class test (a final newline is in the class).
"""
_PLAIN_RE = re.compile(
    r"""
    (?:,\ *|\A(?:([Dd][Ii][Gg][Ee][Ss][Tt])\ +)?)    # 1: the scheme word (first match only)
    ([!#$%&'*+\-.^_`|~0-9a-z]+)=                      # 2: a lower-case directive name
    (?:
        "([^"\\\x00-\x08\x0a-\x1f\x7f]*)"          # 3: a quoted-string without quoted-pairs
      | ([^\s,"\\\x00-\x1f\x7f=][^\s,"\\\x00-\x1f\x7f]*)   # 4: or a token (not "=...")
    )
    | [\s\S]                                         # anything else: one character, no group
    """,
    re.X,
)
"""The shape nearly every server sends: an optional ``Digest``, then ``name=value`` directives
with lower-case names joined by ``,`` and spaces, values as :data:`_LIST_RE` reads them minus
quoted-pairs (and minus a token starting with ``=``, which would make ``Digest a==`` a token68
there). A directive starts only at the beginning or at a comma, and any other character is a
match of its own with every group empty, so ``findall`` returns one tuple per directive when
the text is nothing but such directives (then :data:`_LIST_RE` would tokenize it the same way),
and a tuple with an empty name otherwise. The comma comes first: most directives start there."""
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_EXT_VALUE_RE = re.compile(
    r"([A-Za-z0-9!#$%&+\-^_`{}~]+)'([A-Za-z0-9\-]*)'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)"
)
_ATTR_CHARS = frozenset(
    b"!#$&+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

_Params = dict[str, str]
_new_tuple = tuple.__new__
_NO_REPEATS: frozenset[str] = frozenset()


# -- primitives --------------------------------------------------------------------------------


def quotable(text: str) -> bool:
    """True when ``text`` can travel in a quoted-string (no control characters but HTAB)."""
    # Printable text has no control character at all; only the rest needs the search.
    return text.isprintable() or _CTL_RE.search(text) is None


def quote(text: str) -> str:
    """``text`` as a quoted-string, RFC 7230 §3.2.6: ``\\`` and ``"`` become quoted-pairs."""
    return f'"{_escape(text)}"'


def _escape(text: str) -> str:
    """The inside of :func:`quote`'s quoted-string."""
    if "\\" in text or '"' in text:
        return text.replace("\\", "\\\\").replace('"', '\\"')
    return text


_NC_VALUES = tuple(f"{n:08x}" for n in range(256))


def nc_value(nc: int) -> str:
    """An ``nc-value``, RFC 7616 §3.4: ``nc-value = 8LHEX``.

    The first counts under a nonce come from a table, and ``%`` formats the rest: both are
    several times faster than an f-string's ``08x`` format spec on CPython 3.11.
    """
    return _NC_VALUES[nc] if 0 <= nc < 256 else "%08x" % nc  # noqa: UP031 - see above


_TOKENS = frozenset({
    "MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess",
    "md5", "md5-sess", "auth", "auth-int", "auth-conf",
})
"""Algorithm and qop spellings that are tokens: rendered as they are, without a check."""


def _token_or_quote(text: str) -> str:
    if text.isalnum() and text.isascii():  # "MD5", "auth": a token without the regex
        return text
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
    """One element of an authentication list: a scheme and its params (or token68).

    ``params`` maps each directive to its value; a directive the caller allowed to repeat
    (``realm`` in a SASL challenge) has every value, in order, in ``repeats`` once it repeats.
    """

    __slots__ = ("params", "repeats", "scheme", "token68")

    def __init__(
        self, scheme: str | None, token68: str | None = None, params: _Params | None = None
    ) -> None:
        self.scheme = scheme
        self.params: _Params = {} if params is None else params
        self.repeats: dict[str, list[str]] = {}
        self.token68 = token68

    def values(self, name: str) -> tuple[str, ...]:
        """Every value of ``name``, in order (empty when absent)."""
        many = self.repeats.get(name)
        if many is not None:
            return tuple(many)
        one = self.params.get(name)
        return () if one is None else (one,)


def _plain_list(text: str) -> tuple[str | None, _Params] | None:
    """The scheme word and directives of a :data:`_PLAIN_RE`-shaped list, else None.

    One ``findall`` gives ``(scheme, name, quoted, token)`` per directive; a character outside
    the shape gives a tuple with an empty name. A repeated name also returns None: the general
    path rejects or keeps it.
    """
    found = _PLAIN_RE.findall(text)
    if found:
        params: _Params = {}
        for _, name, quoted, token in found:  # a loop: a comprehension is a frame on 3.11
            params[name] = quoted or token  # a quoted value may be empty, a token never is
        if len(params) == len(found) and "" not in params:
            return found[0][0] or None, params
    return None


def _parse_list(text: str, *, schemes: bool, repeatable: frozenset[str]) -> list[_Item]:
    """Split an authentication list into items, RFC 7235 §4.1 / RFC 2831 ``1#directive``.

    ::

        challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
        auth-param  = token BWS "=" BWS ( token / quoted-string )
        token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="

    A list that starts with ``name=value`` is one challenge without its scheme word (what
    curl passes to the Digest SSP). With ``schemes=False`` (SASL) every element must be a
    directive. Line breaks separate elements like commas, so several header lines joined
    with CRLF parse as one list. One ``findall`` of :data:`_LIST_RE` tokenizes the list;
    the common plain shape (:data:`_PLAIN_RE`) is read by :func:`_plain_list` first.
    """
    plain = _plain_list(text)
    if plain is not None and (schemes or plain[0] is None):
        return [_Item(plain[0], None, plain[1])]
    items: list[_Item] = []
    cur: _Item | None = None
    params: _Params = {}
    for word, eq, quoted, token, token68, bad in _LIST_RE.findall(text):
        if eq:
            if cur is None:
                cur = _Item(None)
                params = cur.params
                items.append(cur)
            # The token alternative is never empty, so an empty one means a quoted-string.
            if token:
                value = token
            elif "\\" in quoted:
                value = _QPAIR_RE.sub(r"\1", quoted)
            else:
                value = quoted
            key = word.lower()
            if key not in params:
                params[key] = value
            elif key in repeatable:
                cur.repeats.setdefault(key, [params[key]]).append(value)
            else:
                raise DecodeError(f"The directive {key!r} appears more than once.")
        elif word:
            if not schemes:
                raise DecodeError(
                    f"Expected name=value at offset {_error_offset(text, scheme=True)}, "
                    f"found {word!r}."
                )
            cur = _Item(word, token68 or None)
            params = cur.params
            items.append(cur)
        elif bad:
            pos = _error_offset(text, scheme=False)
            raise DecodeError(
                f"Malformed directive list at offset {pos} (near {text[pos:pos + 12]!r}): a "
                "bad token, an unterminated quoted-string, a control character or a missing ','."
            )
    return items


def _error_offset(text: str, *, scheme: bool) -> int:
    """Where the first scheme word (or the first unparsable element) of ``text`` starts."""
    for m in _LIST_RE.finditer(text):
        if scheme and m.group(1) is not None and m.group(2) is None:
            return m.start(1)
        if not scheme and m.group(6) is not None:
            return m.start()
    return len(text)  # pragma: no cover - only called once the tokenizer found one


def _digest_items(text: str, what: str) -> list[_Item]:
    items = []
    for item in _parse_list(text, schemes=True, repeatable=_NO_REPEATS):
        scheme = item.scheme
        if scheme is None or scheme.lower() == "digest":
            if item.token68 is not None:
                raise DecodeError(f"A Digest {what} carries directives, not a token68 blob.")
            items.append(item)
    if not items:
        raise DecodeError(f"The {what} holds no Digest directives.")
    return items


def _need(params: _Params, name: str, what: str) -> str:
    value = params.get(name)
    if value is None:
        raise DecodeError(f"The Digest {what} lacks the required {name!r} directive.")
    return value


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


def _list(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if "," not in value:  # one option, as most servers send: no split, no generator
        one = value.strip().lower()
        return (one,) if one else ()
    return tuple([x.strip().lower() for x in value.split(",") if x.strip()])


_QOP_LISTS: dict[str, tuple[str, ...]] = {
    "auth": ("auth",), "auth-int": ("auth-int",), "auth,auth-int": ("auth", "auth-int"),
    "auth, auth-int": ("auth", "auth-int"),
}
""":func:`_list` of the qop values servers send, looked up rather than split."""


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
    # isascii: str.isdigit() is also true of "²" and other digits int() refuses (a fuzz finding).
    if not (value.isascii() and value.isdigit()) or len(value) > 8 or not 0 < int(value) < 1 << 24:
        raise DecodeError(f"maxbuf must be a number from 1 to 16777215, not {value!r}.")
    return int(value)


def _charset(value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() != "utf-8":
        raise DecodeError(f"charset may only be utf-8, not {value!r}.")
    return True


# -- HTTP (RFC 7616) ---------------------------------------------------------------------------


class HttpChallenge(NamedTuple):
    """One Digest challenge of a ``WWW-Authenticate`` header, RFC 7616 §3.3.

    ``qop`` holds the options in lower case (empty: an RFC 2069 challenge without qop);
    ``algorithm`` is the spelling sent (None: absent, which means MD5).

    Immutable like the other wire classes, but a named tuple rather than a frozen dataclass:
    an initiator parses one for every first response, and a frozen dataclass's ``__init__``
    (one ``object.__setattr__`` per field) cost more than the rest of the parse after the
    tokenizer (about 0.9 µs of 1.3 µs on CPython 3.11).
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
        get = params.get
        realm, nonce, qop_value = get("realm"), get("nonce"), get("qop")
        if realm is None or nonce is None:
            missing = "realm" if realm is None else "nonce"
            raise DecodeError(f"The Digest challenge lacks the required {missing!r} directive.")
        if qop_value is None:
            qop: tuple[str, ...] = ()
        else:
            qop = _QOP_LISTS.get(qop_value) or _list(qop_value)
            if not qop:
                raise DecodeError("The Digest challenge has an empty qop list.")
        algorithm, opaque = get("algorithm"), get("opaque")
        # tuple.__new__ directly: the same tuple the generated __new__ builds, without its frame.
        if len(params) == 2 + (qop_value is not None) + (algorithm is not None) + (
            opaque is not None
        ):  # nothing else was sent (what most servers send): no domain, stale, charset, userhash
            return _new_tuple(cls, (realm, nonce, qop, algorithm, opaque, None, False, False,
                                    False))
        stale, charset, userhash = get("stale"), get("charset"), get("userhash")
        return _new_tuple(cls, (
            realm, nonce, qop, algorithm, opaque, get("domain"),
            stale is not None and _flag(stale),
            charset is not None and _charset(charset),
            userhash is not None and _flag(userhash),
        ))

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
    return tuple([HttpChallenge._from(i.params) for i in _digest_items(text, "challenge")])


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
        plain, star = params.get("username"), params.get("username*")
        if plain is not None and star is not None:
            raise DecodeError("The response sends both username and username* (RFC 7616 §3.4).")
        if star is not None:
            username, username_star = decode_ext_value(star), True
        else:
            username, username_star = _need(params, "username", "response"), False
        qop, cnonce, nc = params.get("qop"), params.get("cnonce"), _nc(params.get("nc"))
        if (qop is None) != (cnonce is None) or (qop is None) != (nc is None):
            raise DecodeError("qop, cnonce and nc go together in a Digest response.")
        return cls(
            username=username,
            realm=_need(params, "realm", "response"),
            uri=_need(params, "uri", "response"),
            nonce=_need(params, "nonce", "response"),
            response=_hex(_need(params, "response", "response"), "response"),
            algorithm=params.get("algorithm"),
            cnonce=cnonce,
            nc=nc,
            qop=qop.lower() if qop is not None else None,
            opaque=params.get("opaque"),
            userhash=_flag(params.get("userhash")),
            username_star=username_star,
        )

    def build(self) -> str:
        """The credentials without the ``Digest`` scheme word, in RFC 7616 §3.9's order."""
        return render_authorization(
            username_directive(self.username, self.username_star), self.realm, self.uri,
            self.algorithm, self.nonce, None if self.nc is None else nc_value(self.nc),
            self.cnonce, self.qop, self.response, self.opaque, self.userhash,
        )


def username_directive(username: str, star: bool) -> str:
    """``username="..."``, or ``username*=UTF-8''...`` (RFC 7616 §3.4, RFC 5987)."""
    return f"username*={encode_ext_value(username)}" if star else f"username={quote(username)}"


def render_authorization(
    user: str, realm: str, uri: str, algorithm: str | None, nonce: str, nc: str | None,
    cnonce: str | None, qop: str | None, response: str, opaque: str | None, userhash: bool,
) -> str:
    """An Authorization value without the scheme word, RFC 7616 §3.4, in §3.9's order.

    The one definition of the directive order: :meth:`HttpResponse.build`, an initiator's
    first answer and :func:`authorization_pieces` all render through it. ``user`` is the
    rendered :func:`username_directive` (a credential keeps its own); ``nc`` the
    :func:`nc_value`, or None with no qop.
    """
    # One scan tells whether any quoted value needs quoted-pairs; nearly none does.
    if '"' in (joined := f"{realm}{uri}{nonce}{cnonce}{opaque}") or "\\" in joined:
        realm, uri, nonce = _escape(realm), _escape(uri), _escape(nonce)
        cnonce = None if cnonce is None else _escape(cnonce)
        opaque = None if opaque is None else _escape(opaque)
    if algorithm is None:
        alg = ""
    elif algorithm in _TOKENS:
        alg = f", algorithm={algorithm}"
    else:
        alg = f", algorithm={_token_or_quote(algorithm)}"
    count = "" if nc is None else f", nc={nc}"
    cnonce_part = "" if cnonce is None else f', cnonce="{cnonce}"'
    if qop is None:
        qop_part = ""
    elif qop in _TOKENS:
        qop_part = f", qop={qop}"
    else:
        qop_part = f", qop={_token_or_quote(qop)}"
    end = "" if opaque is None else f', opaque="{opaque}"'
    return (
        f'{user}, realm="{realm}", uri="{uri}"{alg}, nonce="{nonce}"{count}{cnonce_part}'
        f'{qop_part}, response="{response}"{end}{", userhash=true" if userhash else ""}'
    )


AuthorizationPieces = tuple[str, ...]
"""An Authorization value cut where ``uri``, ``nc`` (with a qop) and ``response`` go."""

_HOLE = "\0"


def authorization_pieces(
    user: str, realm: str, nonce: str, algorithm: str | None, cnonce: str | None,
    qop: str | None, opaque: str | None, userhash: bool,
) -> AuthorizationPieces:
    """The parts of :func:`render_authorization` that stay fixed under one nonce.

    The initiator authorizes many requests under one nonce (MakeSignature, nc + 1); only
    ``uri``, ``nc`` and ``response`` change, so the value is rendered once with a NUL in each
    of those places and cut there. Directive values cannot hold a NUL: parsed ones exclude
    control characters, and user names and fixed cnonces are checked before they get here.

    Raises:
        ValueError: a value holds a NUL after all.
    """
    nc = None if qop is None else _HOLE
    text = render_authorization(
        user, realm, _HOLE, algorithm, nonce, nc, cnonce, qop, _HOLE, opaque, userhash
    )
    pieces = tuple(text.split(_HOLE))
    if len(pieces) != (3 if nc is None else 4):
        raise ValueError("An Authorization directive value holds a NUL.")
    return pieces


def fill(pieces: AuthorizationPieces, uri: str, nc: str, response: str) -> str:
    """The Authorization value for one request from :func:`authorization_pieces`."""
    if '"' in uri or "\\" in uri:
        uri = _escape(uri)
    if len(pieces) == 4:
        head, middle, tail, end = pieces
        return f"{head}{uri}{middle}{nc}{tail}{response}{end}"
    head, middle, end = pieces
    return f"{head}{uri}{middle}{response}{end}"


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
        rspauth = params.get("rspauth")
        qop = params.get("qop")
        return cls(
            rspauth=_hex(rspauth, "rspauth") if rspauth is not None else None,
            cnonce=params.get("cnonce"),
            nc=_nc(params.get("nc")),
            qop=qop.lower() if qop is not None else None,
            nextnonce=params.get("nextnonce"),
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
    if len(data) < limit:  # _decode, inline: an initiator parses one for every request
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = _decode(data, limit, "server token")  # raises
    # _plain_list, inline: one list of directives, the scheme word Digest or none.
    found = _PLAIN_RE.findall(text)
    first: _Params = {}
    for _, name, quoted, token in found:
        first[name] = quoted or token
    if found and len(first) == len(found) and "" not in first:
        if found[0][0] or "nonce" in first:
            return (HttpChallenge._from(first),)
        scheme: str | None = None
        lists = [first]
    else:
        items = _digest_items(text, "server token")
        scheme, first = items[0].scheme, items[0].params
        lists = [i.params for i in items]
    if (
        len(lists) == 1
        and scheme is None
        and "nonce" not in first
        and ("rspauth" in first or "nextnonce" in first)
    ):
        return AuthenticationInfo._from(first)
    return tuple([HttpChallenge._from(params) for params in lists])


# -- SASL (RFC 2831) ---------------------------------------------------------------------------

_REALM_ONLY = frozenset({"realm"})


def _sasl_item(data: bytes, limit: int, what: str, repeatable: frozenset[str]) -> _Item:
    text = _decode(data, limit, what)
    items = _parse_list(text, schemes=False, repeatable=repeatable)
    if not items:
        raise DecodeError(f"The DIGEST-MD5 {what} is empty.")
    return items[0]


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
        item = _sasl_item(data, limit, "challenge", _REALM_ONLY)
        params = item.params
        qop_value = params.get("qop")
        qop = _list(qop_value) if qop_value is not None else ("auth",)
        if not qop:
            raise DecodeError("The DIGEST-MD5 challenge has an empty qop list.")
        return cls(
            nonce=_need(params, "nonce", "challenge"),
            realms=item.values("realm"),
            qop=qop,
            ciphers=_list(params.get("cipher")),
            maxbuf=_maxbuf(params.get("maxbuf")),
            stale=_flag(params.get("stale")),
            algorithm=_need(params, "algorithm", "challenge"),
            charset_utf8=_charset(params.get("charset")),
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
        params = _sasl_item(data, limit, "response", _NO_REPEATS).params
        nc = _nc_value(_need(params, "nc", "response"))
        cipher = params.get("cipher")
        return cls(
            username=_need(params, "username", "response"),
            nonce=_need(params, "nonce", "response"),
            cnonce=_need(params, "cnonce", "response"),
            nc=nc,
            digest_uri=_need(params, "digest-uri", "response"),
            response=_hex(_need(params, "response", "response"), "response", 32),
            realm=params.get("realm"),
            qop=(params.get("qop") or "auth").lower(),
            maxbuf=_maxbuf(params.get("maxbuf")),
            cipher=cipher.lower() if cipher is not None else None,
            authzid=params.get("authzid"),
            charset_utf8=_charset(params.get("charset")),
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
        params = _sasl_item(data, limit, "rspauth", _NO_REPEATS).params
        return cls(_hex(_need(params, "rspauth", "rspauth"), "rspauth", 32))

    def build(self) -> str:
        return f"rspauth={self.rspauth}"
