"""Digest challenges and responses, HTTP (RFC 7616) and SASL DIGEST-MD5 (RFC 2831): every
directive by name, parsed by :mod:`opensspi.packages.digest.messages`.

The ``response``/``rspauth`` values are hashes that travel on the wire; no password or H(A1) is
ever derived here.
"""

from __future__ import annotations

import dataclasses
import re

from ..errors import DecodeError
from ..packages.digest import messages as m
from .model import Report

_HTTP_SCHEME = re.compile(r"^\s*digest\s", re.IGNORECASE)


def _fields(value: object) -> Report:
    """Every field of a Digest wire value by name: a frozen dataclass, or the named tuple
    :class:`~opensspi.packages.digest.messages.HttpChallenge` is."""
    if isinstance(value, m.HttpChallenge):
        names: tuple[str, ...] = value._fields
    else:
        names = tuple(f.name for f in dataclasses.fields(value))  # type: ignore[arg-type]
    out: Report = {}
    for name in names:
        item = getattr(value, name)
        out[name] = list(item) if isinstance(item, tuple) else item
    return out


def inspect_digest(data: bytes, header: str | None = None) -> Report:
    """Decode a Digest value: which one is chosen by the header name and the directives present.

    Raises:
        DecodeError: no Digest parser accepts it (the message of the most likely one is kept).
    """
    text = data.decode("utf-8", "replace")
    names = {n.lower() for n in re.findall(r"([A-Za-z][A-Za-z0-9_-]*)\*?\s*=", text)}
    http = bool(_HTTP_SCHEME.match(text)) or header is not None
    if header in ("authentication-info", "proxy-authentication-info") or (
        "rspauth" in names and "response" not in names
    ):
        if http:
            info = m.parse_http_server_token(data)
            if isinstance(info, m.AuthenticationInfo):
                return {"type": "HTTP Digest Authentication-Info (RFC 7616 3.5)",
                        **_fields(info)}
            raise DecodeError("An Authentication-Info value holds rspauth or nextnonce.")
        auth = m.ResponseAuth.parse(data)
        return {"type": "SASL DIGEST-MD5 response-auth (RFC 2831 2.1.3)", **_fields(auth)}
    if "response" in names:
        if "digest-uri" in names and not http:
            resp = m.SaslResponse.parse(data)
            return {"type": "SASL DIGEST-MD5 digest-response (RFC 2831 2.1.2)", **_fields(resp)}
        body = _HTTP_SCHEME.sub("", text, count=1).encode("utf-8")
        http_resp = m.HttpResponse.parse(body)
        return {"type": "HTTP Digest Authorization (RFC 7616 3.4)", **_fields(http_resp)}
    if "nonce" in names:
        if not http:
            try:
                chal = m.SaslChallenge.parse(data)
                return {"type": "SASL DIGEST-MD5 digest-challenge (RFC 2831 2.1.1)",
                        **_fields(chal)}
            except DecodeError:
                pass
        challenges = m.parse_http_challenges(data)
        if not challenges:
            raise DecodeError("The value holds no Digest challenge.")
        reports = [_fields(c) for c in challenges]
        if len(reports) == 1:
            return {"type": "HTTP Digest challenge (RFC 7616 3.3)", **reports[0]}
        return {"type": "HTTP Digest challenges (RFC 7616 3.3)", "challenges": reports}
    raise DecodeError("Not a Digest challenge or response: no nonce, response or rspauth "
                      "directive.")
