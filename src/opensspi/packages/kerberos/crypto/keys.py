"""Kerberos enctype and checksum numbers, their names as krb5.conf writes them, and keys (RFC 3961
§3, MIT krb5's names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.modes import CBC

from ....errors import InvalidParameter


class Enctype(IntEnum):
    """The encryption types implemented here (RFC 3961 section 8, RFC 3962, RFC 8009, RFC 4757)."""

    AES128_CTS_HMAC_SHA1_96 = 17
    AES256_CTS_HMAC_SHA1_96 = 18
    AES128_CTS_HMAC_SHA256_128 = 19
    AES256_CTS_HMAC_SHA384_192 = 20
    RC4_HMAC = 23


class Cksumtype(IntEnum):
    """Checksum types (RFC 3961 section 8, RFC 3962 section 7, RFC 8009 section 8, RFC 4757)."""

    RSA_MD5 = 7  # unkeyed (RFC 3961 section 6.1.3): named so it can be read, never verified
    HMAC_SHA1_96_AES128 = 15
    HMAC_SHA1_96_AES256 = 16
    HMAC_SHA256_128_AES128 = 19
    HMAC_SHA384_192_AES256 = 20
    HMAC_MD5 = -138  # RFC 4757 section 4, as MIT and Windows number it


#: RFC 4121 section 4.1.1: the authenticator checksum type that carries GSS-API data (channel
#: bindings, flags, delegation); it is a structure, not a checksum over anything.
CKSUMTYPE_GSSAPI = 0x8003

#: The enctypes this module implements, strongest first, in MIT krb5's default order.
SUPPORTED: tuple[int, ...] = (18, 17, 20, 19, 23)
#: Key sizes of the implemented enctypes (their profiles' ``key_size``), for :class:`Key`.
KEY_SIZES: dict[int, int] = {17: 16, 18: 32, 19: 16, 20: 32, 23: 16}

#: RFC 3961 section 5.3: the last octet of the well-known constant for Kc, Ke and Ki.
KC = 0x99
KE = 0xAA
KI = 0x55

_BLOCK = 16
_ZERO_IV = bytes(_BLOCK)
_CBC_ZERO_IV = CBC(_ZERO_IV)  # modes are immutable: one object serves every key schedule
_TEMPLATE = 1 << 40  # _DerivedKeys slot flag: a keyed HMAC template, not key bytes
_ZEROS = bytes(_BLOCK)
_KERBEROS = b"kerberos"
_PRF = b"prf"
_MAX_ITERATIONS = 0xFFFFFF  # MIT krb5 refuses s2kparams of 2**24 and above
_SHA1 = hashes.SHA1()
_SHA256 = hashes.SHA256()
_SHA384 = hashes.SHA384()


class _DerivedKeys:
    """Cache of one key's derived keys, by ``usage << 8 | kind`` (kind 0x99, 0xAA or 0x55):
    for Ke the key schedule (a ``Cipher``); for Kc and Ki a keyed HMAC that each message copies
    (OpenSSL's context copy skips re-keying: the ipad/opad blocks are hashed once per key and
    usage, not once per message), under the slot plus :data:`_TEMPLATE`, and the derived key
    bytes when they were asked for. One dict: a server holds one of these per context key."""

    __slots__ = ("slots",)

    def __init__(self) -> None:
        self.slots: dict[int, object] = {}

    def __repr__(self) -> str:
        return "<derived keys>"

    def __reduce__(self) -> tuple[type[_DerivedKeys], tuple[()]]:
        # A pickled or copied Key starts with an empty cache: Cipher objects do not pickle.
        return (_DerivedKeys, ())


@dataclass(frozen=True, slots=True)
class Key:
    """A Kerberos key: an enctype number and the key bytes (RFC 4120 EncryptionKey).

    The bytes never appear in ``repr``. Keys of enctypes this module implements are checked for
    length; others (DES from an old keytab, say) are kept as they are but cannot be used.
    """

    enctype: int
    contents: bytes = field(repr=False)
    _derived: _DerivedKeys = field(
        default_factory=_DerivedKeys, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.contents, bytes):
            if not isinstance(self.contents, (bytearray, memoryview)):
                raise InvalidParameter("Key contents must be bytes.")
            object.__setattr__(self, "contents", bytes(self.contents))
        size = KEY_SIZES.get(self.enctype)
        if size is not None and len(self.contents) != size:
            raise InvalidParameter(
                f"A {enctype_name(self.enctype)} key is {size} bytes, not {len(self.contents)}."
            )

    def __repr__(self) -> str:
        name = enctype_name(self.enctype)
        return f"Key(enctype={int(self.enctype)} {name}, <{len(self.contents)} bytes hidden>)"


_NAMES: dict[int, str] = {
    1: "des-cbc-crc",
    2: "des-cbc-md4",
    3: "des-cbc-md5",
    4: "des-cbc-raw",
    6: "des3-cbc-raw",
    8: "des-hmac-sha1",
    16: "des3-cbc-sha1",
    17: "aes128-cts-hmac-sha1-96",
    18: "aes256-cts-hmac-sha1-96",
    19: "aes128-cts-hmac-sha256-128",
    20: "aes256-cts-hmac-sha384-192",
    23: "arcfour-hmac",
    24: "arcfour-hmac-exp",
    25: "camellia128-cts-cmac",
    26: "camellia256-cts-cmac",
}
_ALIASES: dict[str, int] = {
    "des": 3,
    "des3-hmac-sha1": 16,
    "des3-cbc-sha1-kd": 16,
    "aes128-cts": 17,
    "aes128-sha1": 17,
    "aes256-cts": 18,
    "aes256-sha1": 18,
    "aes128-sha2": 19,
    "aes256-sha2": 20,
    "rc4-hmac": 23,
    "arcfour-hmac-md5": 23,
    "rc4-hmac-exp": 24,
    "arcfour-hmac-md5-exp": 24,
    "camellia128-cts": 25,
    "camellia256-cts": 26,
}
# MIT krb5 (lib/krb5/krb/init_ctx.c) enctype families, in its order.
_FAMILIES: dict[str, tuple[int, ...]] = {
    "aes": (18, 17, 20, 19),
    "rc4": (23,),
    "des3": (16,),
    "des": (1, 3, 2),
    "camellia": (26, 25),
}
_BY_NAME: dict[str, int] = {name: number for number, name in _NAMES.items()} | _ALIASES


def enctype_name(enctype: int) -> str:
    """The canonical MIT name of an enctype number (``18`` -> ``"aes256-cts-hmac-sha1-96"``).

    Args:
        enctype: any enctype number.

    Returns:
        The name, or ``"enctype <n>"`` for a number with no name.
    """
    return _NAMES.get(enctype, f"enctype {int(enctype)}")


def enctype_from_name(name: str) -> int:
    """Look up one enctype name as krb5.conf writes it (case-insensitive, aliases accepted).

    Args:
        name: e.g. ``"aes256-cts-hmac-sha1-96"``, ``"aes256-cts"``, ``"aes256-sha2"``,
            ``"rc4-hmac"``, ``"arcfour-hmac"`` or a decimal number.

    Returns:
        The enctype number, implemented here or not (check it against :data:`SUPPORTED`).

    Raises:
        InvalidParameter: an unknown name.
    """
    key = name.strip().lower()
    if key.isascii() and key.isdigit():
        return int(key)
    try:
        return _BY_NAME[key]
    except KeyError:
        raise InvalidParameter(
            f"Unknown enctype name {name!r}; known names include "
            "aes256-cts-hmac-sha1-96, aes128-cts, aes256-sha2 and rc4-hmac."
        ) from None
