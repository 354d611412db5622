"""Digest's pure spec functions: H, KD, A1/A2, userhash, response, rspauth, SASL keys, nonces.

Specifications:

- HTTP: RFC 7616 §3.4.1-§3.4.4 and §3.5 (https://www.rfc-editor.org/rfc/rfc7616#section-3.4),
  RFC 2617 §3.2.2 for the MD5 forms and the qop-less RFC 2069 digest.
- SASL: RFC 2831 §2.1.2.1 (response-value), §2.1.3 (rspauth), §2.3 and §2.4 (Kic, Kis, Kcc,
  Kcs) (https://www.rfc-editor.org/rfc/rfc2831#section-2.1.2.1).

Everything here is a function of its arguments: no state, no clock, no random source. Hex
digests are lower-case (``LHEX``). Secrets arrive as ``bytes`` already encoded by the caller
(:func:`sasl_octets`, :func:`http_octets`), because HTTP and SASL encode them differently.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import struct
import unicodedata
from collections.abc import Callable
from enum import Enum
from typing import Protocol

from .messages import nc_value

HexHash = Callable[[bytes], str]
"""An unkeyed hash returning lower-case hex: H of RFC 7616 §3.4."""


class HashObject(Protocol):
    """What a hashlib constructor returns, as far as Digest uses it."""

    def hexdigest(self) -> str: ...

    def digest(self) -> bytes: ...


def _md5_constructor() -> Callable[[bytes], HashObject]:
    """CPython's built-in MD5 where OpenSSL would also allow MD5, else ``hashlib.md5``.

    Digest hashes a few dozen bytes at a time, where OpenSSL 3's per-object EVP setup costs
    more than the hashing: the built-in ``_md5`` (HACL* since CPython 3.12) gives the same
    digest in about half the time. Where OpenSSL refuses MD5 (FIPS mode) hashlib's constructor
    stays, so Digest refuses it the same way it did.
    """
    try:
        hashlib.md5(b"")
        from _md5 import md5  # type: ignore[import-not-found]  # CPython's, not typed
    except (ValueError, ImportError):
        return hashlib.md5
    builtin: Callable[[bytes], HashObject] = md5
    return builtin


MD5 = _md5_constructor()
"""The MD5 constructor every Digest hash uses (HTTP and SASL)."""


def _hex_hash(new: Callable[[bytes], HashObject]) -> HexHash:
    def hex_hash(data: bytes) -> str:
        return new(data).hexdigest()

    return hex_hash


class Algorithm(Enum):
    """The ``algorithm`` directive of HTTP Digest (RFC 7616 §3.3), value = the wire spelling."""

    __hash__ = object.__hash__  # members are singletons; they key hot lookups

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA_256 = "SHA-256"
    SHA_256_SESS = "SHA-256-sess"
    SHA_512_256 = "SHA-512-256"
    SHA_512_256_SESS = "SHA-512-256-sess"

    @classmethod
    def from_wire(cls, name: str | None) -> Algorithm | None:
        """The algorithm a directive names (case-insensitive); absent means MD5; unknown None."""
        if name is None:
            return cls.MD5
        return _BY_NAME.get(name) or _BY_NAME.get(name.lower())

    # Each member's attributes below are fixed at import (after the class), so reading one in
    # a handshake is an attribute load rather than a property call on Enum.value.

    session: bool
    """True for the ``-sess`` variants, whose A1 mixes in the nonce and cnonce."""

    base: Algorithm
    """The hash family without ``-sess`` (what a stored HA1 was computed with)."""

    hex_length: int
    """Length of H(...) in hex digits."""

    strength: int
    """Rank used to choose among several challenges: higher is stronger."""

    hash: HexHash
    """The unkeyed hash function H, returning lower-case hex (set on each member below)."""

    new: Callable[[bytes], HashObject]
    """The hashlib constructor of H (set on each member below)."""


_BY_NAME = {alg.value.lower(): alg for alg in Algorithm}
_BY_NAME.update({alg.value: alg for alg in Algorithm})
_FAMILY_NEW: dict[str, Callable[[bytes], HashObject]] = {
    "MD5": MD5, "SHA-256": hashlib.sha256,
    "SHA-512-256": functools.partial(hashlib.new, "sha512_256"),
}
_FAMILY_STRENGTH = {"MD5": 1, "SHA-256": 2, "SHA-512-256": 3}
for _alg in Algorithm:
    _family = _alg.value.removesuffix("-sess")
    _alg.session = _alg.value.endswith("-sess")
    _alg.base = Algorithm(_family)
    _alg.hex_length = 32 if _family == "MD5" else 64
    _alg.strength = _FAMILY_STRENGTH[_family]
    _alg.new = _FAMILY_NEW[_family]
    _alg.hash = _hex_hash(_alg.new)


class Qop(Enum):
    """Quality of protection (RFC 7616 §3.3, RFC 2831 §2.1.1); declared weakest first."""

    __hash__ = object.__hash__  # members are singletons; they key hot lookups

    AUTH = "auth"
    AUTH_INT = "auth-int"
    AUTH_CONF = "auth-conf"

    @classmethod
    def from_wire(cls, name: str) -> Qop | None:
        """The qop a token names (case-insensitive), or None for an unknown extension."""
        return _QOP_BY_NAME.get(name.lower())

    wire: str
    """``value`` as a plain attribute (set on each member below): it goes into every response."""


_QOP_BY_NAME = {q.value: q for q in Qop}
for _qop in Qop:
    _qop.wire = _qop.value
_AUTH_INT = Qop.AUTH_INT  # a global: naming a member through its class is slow on 3.11


class Cipher(Enum):
    """SASL DIGEST-MD5 confidentiality ciphers (RFC 2831 §2.4), value = the wire name."""

    __hash__ = object.__hash__  # members are singletons; they key hot lookups

    RC4 = "rc4"
    TRIPLE_DES = "3des"
    RC4_56 = "rc4-56"
    RC4_40 = "rc4-40"
    DES = "des"

    @classmethod
    def from_wire(cls, name: str) -> Cipher | None:
        return _CIPHER_BY_NAME.get(name.lower())

    @property
    def key_prefix(self) -> int:
        """n: how many bytes of H(A1) feed Kcc/Kcs (RFC 2831 §2.4)."""
        return {Cipher.RC4_40: 5, Cipher.RC4_56: 7}.get(self, 16)

    @property
    def block_size(self) -> int:
        """8 for the CBC ciphers, 1 for RC4."""
        return 8 if self in (Cipher.DES, Cipher.TRIPLE_DES) else 1

    @property
    def strength(self) -> int:
        """Effective key bits; Microsoft's Digest client picks the strongest offered."""
        return {
            Cipher.RC4: 128, Cipher.TRIPLE_DES: 112, Cipher.RC4_56: 56,
            Cipher.DES: 55, Cipher.RC4_40: 40,
        }[self]


_CIPHER_BY_NAME = {c.value: c for c in Cipher}


def http_octets(text: str, utf8_charset: bool) -> bytes:
    """Encode a user name, realm or password for HTTP Digest hashing.

    RFC 7616 §4: with ``charset=UTF-8`` the server expects the strings in UTF-8, Unicode
    Normalization Form C.

    Deviation: without a ``charset`` directive RFC 7616 leaves the encoding open; we use
    UTF-8 (not NFC-normalized) as curl, requests and lighttpd do, so ASCII names behave the
    same everywhere.
    """
    if utf8_charset:
        text = unicodedata.normalize("NFC", text)
    return text.encode("utf-8")


def sasl_octets(text: str) -> bytes:
    """Encode a user name, realm or password for SASL DIGEST-MD5 hashing.

    RFC 2831 §2.1.2.1::

        If "charset=UTF-8" is present, and all the characters of either
        "username-value" or "passwd" are in the ISO 8859-1 character set,
        then it must be converted to ISO 8859-1 before being hashed.

    Cyrus SASL applies the rule to each of user name, realm and password separately; so do we.
    Without ``charset`` the strings are ISO 8859-1 already, which this also produces.
    """
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def h(alg: Algorithm, data: bytes) -> str:
    """H(data): the hex digest of ``data`` under ``alg``'s hash (RFC 7616 §3.4)."""
    return alg.new(data).hexdigest()


def kd(alg: Algorithm, secret: str, data: str) -> str:
    """KD(secret, data), RFC 7616 §3.4.

    ::

        KD(secret, data) = H(concat(secret, ":", data))
    """
    return alg.new(f"{secret}:{data}".encode()).hexdigest()


def secret_hash(alg: Algorithm, username: bytes, realm: bytes, password: bytes) -> str:
    """H(A1) for the plain algorithms, which is also what an htdigest file stores.

    RFC 7616 §3.4.2::

        A1 = unq(username) ":" unq(realm) ":" passwd
    """
    return alg.new(b"%s:%s:%s" % (username, realm, password)).hexdigest()


def ha1(alg: Algorithm, secret_hex: str, nonce: str, cnonce: str) -> str:
    """H(A1) from the stored secret hash, RFC 7616 §3.4.2.

    ::

        A1 = unq(username) ":" unq(realm) ":" passwd                     (plain)
        A1 = H( unq(username) ":" unq(realm) ":" passwd )
                ":" unq(nonce-prime) ":" unq(cnonce-prime)                 (-sess)

    Args:
        secret_hex: :func:`secret_hash` for ``alg``'s hash family.

    Returns:
        The hex H(A1). For the ``-sess`` variants the inner H is hex (RFC 7616 and RFC 2617's
        text), unlike SASL's binary form (:func:`sasl_ha1`).
    """
    if alg.session:
        return kd(alg, secret_hex, f"{nonce}:{cnonce}")
    return secret_hex


def ha2(alg: Algorithm, method: str, uri: str, qop: Qop | None, hentity: str) -> str:
    """H(A2) for a request, RFC 7616 §3.4.3.

    ::

        A2 = Method ":" request-uri                        (qop auth or absent)
        A2 = Method ":" request-uri ":" H(entity-body)     (qop auth-int)
    """
    if qop is _AUTH_INT:
        return alg.new(f"{method}:{uri}:{hentity}".encode()).hexdigest()
    return alg.new(f"{method}:{uri}".encode()).hexdigest()


def request_digest(
    alg: Algorithm, ha1_hex: str, nonce: str, nc: int, cnonce: str, qop: Qop | None, ha2_hex: str
) -> str:
    """The ``response`` directive, RFC 7616 §3.4.1 (RFC 2617 §3.2.2.1 without qop).

    ::

        response = KD ( H(A1), unq(nonce) ":" nc ":" unq(cnonce)
                                ":" unq(qop) ":" H(A2) )
        request-digest = KD ( H(A1), unq(nonce-value) ":" H(A2) )   (RFC 2069, no qop)

    KD's ``concat(secret, ":", data)`` is joined in the same f-string as the data.
    """
    if qop is None:
        return alg.new(f"{ha1_hex}:{nonce}:{ha2_hex}".encode()).hexdigest()
    data = f"{ha1_hex}:{nonce}:{nc_value(nc)}:{cnonce}:{qop.wire}:{ha2_hex}"
    return alg.new(data.encode()).hexdigest()


class RequestDigester:
    """:func:`ha2` and :func:`request_digest` for many requests under one nonce.

    The initiator answers every further request on a context with nc + 1 (Microsoft's HTTP
    MakeSignature); H(A1), the nonce, cnonce and qop stay fixed, so their part of the KD input
    is joined once, and H(A2) of ``auth`` requests is remembered per method and URI. Same
    values as the two functions, RFC 7616 §3.4.1 and §3.4.3::

        response = KD ( H(A1), unq(nonce) ":" nc ":" unq(cnonce) ":" unq(qop) ":" H(A2) )
        A2       = Method ":" request-uri [ ":" H(entity-body) ]
    """

    __slots__ = ("_ha2", "_hash", "_int", "_new", "_prefix", "_suffix")

    _CACHE = 64

    def __init__(
        self, alg: Algorithm, ha1_hex: str, nonce: str, cnonce: str, qop: Qop | None
    ) -> None:
        self._hash = alg.hash
        self._new = alg.new
        self._int = qop is _AUTH_INT
        self._prefix = f"{ha1_hex}:{nonce}:"
        self._suffix = None if qop is None else f":{cnonce}:{qop.wire}:"
        self._ha2: dict[tuple[str, str], str] = {}

    def __call__(self, method: str, uri: str, hentity: str, nc: str) -> str:
        """The ``response`` for the request whose nc-value (8 hex digits) is ``nc``."""
        if self._int:
            ha2 = self._hash(f"{method}:{uri}:{hentity}".encode())
        else:
            ha2 = self._ha2.get((method, uri)) or self._remember(method, uri)
        if self._suffix is None:
            return self._new(f"{self._prefix}{ha2}".encode()).hexdigest()
        return self._new(f"{self._prefix}{nc}{self._suffix}{ha2}".encode()).hexdigest()

    def _remember(self, method: str, uri: str) -> str:
        if len(self._ha2) >= self._CACHE:
            self._ha2.clear()
        ha2 = self._ha2[(method, uri)] = self._hash(f"{method}:{uri}".encode())
        return ha2


def response_auth(
    alg: Algorithm, ha1_hex: str, nonce: str, nc: int, cnonce: str, qop: Qop | None,
    uri: str, hentity: str,
) -> str:
    """``rspauth`` of Authentication-Info, RFC 7616 §3.5.

    ::

        rspauth is computed as the response, except that
        A2 = ":" request-uri                         (qop auth)
        A2 = ":" request-uri ":" H(entity-body)      (qop auth-int)
    """
    return request_digest(alg, ha1_hex, nonce, nc, cnonce, qop, ha2(alg, "", uri, qop, hentity))


def userhash(alg: Algorithm, username: bytes, realm: bytes) -> str:
    """The hashed user name sent when ``userhash=true``, RFC 7616 §3.4.4.

    ::

        username = H( unq(username) ":" unq(realm) )

    H(A1) is still computed from the plain user name; only the directive carries the hash
    (lighttpd reads §3.4.4 the same way).
    """
    return alg.hash(b"%s:%s" % (username, realm))


def hentity(alg: Algorithm, body_or_hash: bytes) -> str:
    """H(entity-body) from the SECBUFFER_PKG_PARAMS buffer Windows documents for auth-int.

    Windows documents the buffer as "the MD5 hash of the message's entity-body"; the acceptor
    page says "the hexadecimal representation of H(entity-body)". A buffer of exactly
    ``alg.hex_length`` hex digits is taken as that hash; anything else is the body itself and
    is hashed here.

    Deviation: a binary digest of the right length is treated as a body, because a 16-byte
    body and a binary MD5 cannot be told apart; pass the hash in hex.
    """
    if len(body_or_hash) == alg.hex_length:
        try:
            text = body_or_hash.decode("ascii")
            int(text, 16)
        except (UnicodeDecodeError, ValueError):
            pass
        else:
            return text.lower()
    return h(alg, body_or_hash)


# -- SASL DIGEST-MD5 (RFC 2831) ---------------------------------------------------------------

_SASL_INT_SUFFIX = ":00000000000000000000000000000000"


def sasl_secret(username: bytes, realm: bytes, password: bytes) -> bytes:
    """The binary inner hash of SASL's A1, RFC 2831 §2.1.2.1.

    ::

        H( { username-value, ":", realm-value, ":", passwd } )

    The same 16 bytes an htdigest file stores in hex for MD5.
    """
    return MD5(b"%s:%s:%s" % (username, realm, password)).digest()


def sasl_ha1(secret: bytes, nonce: str, cnonce: str, authzid: bytes | None) -> bytes:
    """H(A1) of SASL DIGEST-MD5 in binary (16 bytes), RFC 2831 §2.1.2.1.

    ::

        A1 = { H( { username-value, ":", realm-value, ":", passwd } ),
             ":", nonce-value, ":", cnonce-value, ":", authzid-value }

        If authzid is not specified, then A1 is

        A1 = { H( { username-value, ":", realm-value, ":", passwd } ),
             ":", nonce-value, ":", cnonce-value }

    Args:
        secret: the 16-byte binary H(username ":" realm ":" passwd).
    """
    a1 = secret + f":{nonce}:{cnonce}".encode()
    if authzid is not None:
        a1 += b":" + authzid
    return MD5(a1).digest()


def sasl_response(
    ha1_bin: bytes, nonce: str, nc: int, cnonce: str, qop: Qop, digest_uri: str, server: bool
) -> str:
    """The ``response`` (client) or ``rspauth`` (server) value, RFC 2831 §2.1.2.1 and §2.1.3.

    ::

        response-value  =
           HEX( KD ( HEX(H(A1)),
                   { nonce-value, ":" nc-value, ":",
                     cnonce-value, ":", qop-value, ":", HEX(H(A2)) }))

        A2       = { "AUTHENTICATE:", digest-uri-value }
        If the "qop" value is "auth-int" or "auth-conf" then A2 is:
        A2       = { "AUTHENTICATE:", digest-uri-value,
                 ":00000000000000000000000000000000" }

        rspauth: as response-value, except A2 = { ":", digest-uri-value } (with the same suffix)

    Args:
        server: compute rspauth (A2 without "AUTHENTICATE") instead of the client response.
    """
    a2 = (":" if server else "AUTHENTICATE:") + digest_uri
    if qop is not Qop.AUTH:
        a2 += _SASL_INT_SUFFIX
    ha2_hex = MD5(a2.encode()).hexdigest()
    data = f"{ha1_bin.hex()}:{nonce}:{nc:08x}:{cnonce}:{qop.value}:{ha2_hex}"
    return MD5(data.encode()).hexdigest()


_KIC_MAGIC = b"Digest session key to client-to-server signing key magic constant"
_KIS_MAGIC = b"Digest session key to server-to-client signing key magic constant"
_KCC_MAGIC = b"Digest H(A1) to client-to-server sealing key magic constant"
_KCS_MAGIC = b"Digest H(A1) to server-to-client sealing key magic constant"


def kic(ha1_bin: bytes) -> bytes:
    """Client-to-server integrity key, RFC 2831 §2.3.

    ::

        Kic = MD5({H(A1),
        "Digest session key to client-to-server signing key magic constant"})
    """
    return MD5(ha1_bin + _KIC_MAGIC).digest()


def kis(ha1_bin: bytes) -> bytes:
    """Server-to-client integrity key, RFC 2831 §2.3.

    ::

        Kis = MD5({H(A1),
        "Digest session key to server-to-client signing key magic constant"})
    """
    return MD5(ha1_bin + _KIS_MAGIC).digest()


def kcc(ha1_bin: bytes, n: int) -> bytes:
    """Client-to-server sealing key, RFC 2831 §2.4.

    ::

        Kcc = MD5({H(A1)[0..n],
        "Digest H(A1) to client-to-server sealing key magic constant"})

    ``[0..n]`` is the first n bytes (Cyrus SASL): 16 for rc4, des and 3des, 7 for rc4-56 and
    5 for rc4-40.
    """
    return MD5(ha1_bin[:n] + _KCC_MAGIC).digest()


def kcs(ha1_bin: bytes, n: int) -> bytes:
    """Server-to-client sealing key, RFC 2831 §2.4.

    ::

        Kcs = MD5({H(A1)[0..n],
        "Digest H(A1) to server-to-client sealing key magic constant"})
    """
    return MD5(ha1_bin[:n] + _KCS_MAGIC).digest()


def mac(ki: bytes, seq: int, msg: bytes) -> bytes:
    """The 16-byte message trailer of the integrity layer, RFC 2831 §2.3.

    ::

        MAC(Ki, SeqNum, msg) = (HMAC(Ki, {SeqNum, msg})[0..9], 0x0001, SeqNum)
    """
    seq_bytes = struct.pack(">I", seq)
    return hmac.digest(ki, seq_bytes + msg, "md5")[:10] + b"\x00\x01" + seq_bytes


def des_key(key7: bytes) -> bytes:
    """Spread a 56-bit key over 8 bytes with odd parity, as RFC 2831 §2.4 DES keys need.

    RFC 2831 §2.4 takes "the first 7 bytes of Kc" as the DES key; Cyrus SASL's ``slidebits``
    moves each 7-bit group into the top of a byte and then sets odd parity in the low bit::

        out[0] = in[0]
        out[i] = (in[i-1] << (8 - i)) | (in[i] >> i)     for i = 1..6
        out[7] = in[6] << 1
    """
    bits = int.from_bytes(key7, "big")
    out = bytearray()
    for i in range(8):
        seven = (bits >> (49 - 7 * i)) & 0x7F
        byte = seven << 1
        out.append(byte | (bin(byte).count("1") + 1) % 2)
    return bytes(out)


# -- server nonces ------------------------------------------------------------------------------

_NONCE_STRUCT = struct.Struct(">Q9s")
_NONCE_MAC_LEN = 16


def make_nonce(secret: bytes, issued: int, rand: bytes) -> str:
    """A self-validating server nonce: base64(issued ‖ random ‖ HMAC-SHA256(...)[:16]).

    RFC 7616 §3.3 suggests ``time-stamp H(time-stamp ":" ETag ":" secret-data)``; this is the
    same idea with an HMAC. Any acceptor context holding ``secret`` can verify the nonce, so an
    HTTP server need not keep the context that issued it.

    Args:
        issued: seconds since the epoch (from the Environment clock).
        rand: 9 random bytes (from the Environment random source).
    """
    body = _NONCE_STRUCT.pack(issued, rand)
    tag = hmac.digest(secret, body, "sha256")[:_NONCE_MAC_LEN]
    return base64.b64encode(body + tag).decode("ascii")


def check_nonce(secret: bytes, nonce: str) -> int | None:
    """When ``nonce`` (from :func:`make_nonce` with ``secret``) was issued; None if not ours."""
    if len(nonce) != 44:
        return None
    try:
        raw = base64.b64decode(nonce, validate=True)
    except ValueError:
        return None
    body, tag = raw[: _NONCE_STRUCT.size], raw[_NONCE_STRUCT.size :]
    if not hmac.compare_digest(hmac.digest(secret, body, "sha256")[:_NONCE_MAC_LEN], tag):
        return None
    issued, _ = _NONCE_STRUCT.unpack(body)
    return int(issued)
