"""The enctype table: which profile serves which enctype (rc4-hmac through legacy.py), and parsing
krb5.conf enctype lists.
"""

from __future__ import annotations

import functools
import re

from ....errors import DecodeError
from .. import legacy
from .keys import _FAMILIES, SUPPORTED, Cksumtype, Enctype, Key, enctype_from_name
from .rfc3961 import Profile
from .rfc3962 import _AesSha1Profile
from .rfc8009 import _AesSha2Profile


class _Rc4HmacProfile(Profile):
    """rc4-hmac (23), RFC 4757: every operation is in ``legacy.py``."""

    enctype = Enctype.RC4_HMAC
    name = "arcfour-hmac"
    key_size = legacy.KEY_SIZE
    block_size = 1
    confounder_size = legacy.CONFOUNDER_SIZE
    checksum_size = legacy.CHECKSUM_SIZE
    checksum_type = Cksumtype.HMAC_MD5
    prf_size = legacy.PRF_SIZE

    def encrypt(self, key: Key, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
        """RFC 4757 section 4; see :func:`legacy.rc4_hmac_encrypt`."""
        return legacy.rc4_hmac_encrypt(key.contents, usage, plaintext, confounder)

    def decrypt(self, key: Key, usage: int, ciphertext: bytes) -> bytes:
        """RFC 4757 section 4; see :func:`legacy.rc4_hmac_decrypt`."""
        return legacy.rc4_hmac_decrypt(key.contents, usage, ciphertext)

    def checksum(self, key: Key, usage: int, data: bytes) -> bytes:
        """RFC 4757 section 4 HMAC-MD5 (-138); see :func:`legacy.hmac_md5_checksum`."""
        return legacy.hmac_md5_checksum(key.contents, usage, data)

    def string_to_key(self, password: str | bytes, salt: bytes, s2kparams: bytes | None) -> bytes:
        """RFC 4757 section 4: MD4 of the UTF-16LE password; no salt, no parameters."""
        if s2kparams:
            raise DecodeError("rc4-hmac takes no string-to-key parameters.")
        return legacy.rc4_hmac_string_to_key(password)

    def prf(self, key: Key, data: bytes) -> bytes:
        """HMAC-SHA1 under the key; see :func:`legacy.rc4_hmac_prf`."""
        return legacy.rc4_hmac_prf(key.contents, data)


_PROFILES: dict[int, Profile] = {
    17: _AesSha1Profile(Enctype.AES128_CTS_HMAC_SHA1_96, 16, Cksumtype.HMAC_SHA1_96_AES128),
    18: _AesSha1Profile(Enctype.AES256_CTS_HMAC_SHA1_96, 32, Cksumtype.HMAC_SHA1_96_AES256),
    19: _AesSha2Profile(
        Enctype.AES128_CTS_HMAC_SHA256_128, 16, Cksumtype.HMAC_SHA256_128_AES128, sha384=False
    ),
    20: _AesSha2Profile(
        Enctype.AES256_CTS_HMAC_SHA384_192, 32, Cksumtype.HMAC_SHA384_192_AES256, sha384=True
    ),
    23: _Rc4HmacProfile(),
}
# The keyed checksum types and the enctype whose keys compute them.
_CHECKSUM_ENCTYPE: dict[int, int] = {
    Cksumtype.HMAC_SHA1_96_AES128: 17,
    Cksumtype.HMAC_SHA1_96_AES256: 18,
    Cksumtype.HMAC_SHA256_128_AES128: 19,
    Cksumtype.HMAC_SHA384_192_AES256: 20,
    Cksumtype.HMAC_MD5: 23,
}
_CHECKSUM_SIZES: dict[int, int] = {
    Cksumtype.RSA_MD5: 16,
    Cksumtype.HMAC_SHA1_96_AES128: 12,
    Cksumtype.HMAC_SHA1_96_AES256: 12,
    Cksumtype.HMAC_SHA256_128_AES128: 16,
    Cksumtype.HMAC_SHA384_192_AES256: 24,
    Cksumtype.HMAC_MD5: 16,
}


@functools.lru_cache(maxsize=64)  # pure; called at every AcquireCredentialsHandle
def parse_enctypes(value: str, default: tuple[int, ...] = SUPPORTED) -> tuple[int, ...]:
    """Parse an enctype list as krb5.conf writes it (``permitted_enctypes`` and friends).

    Follows MIT krb5's ``krb5int_parse_enctype_list``: names and aliases, the families
    ``aes``, ``rc4``, ``des3``, ``des`` and ``camellia``, ``DEFAULT`` for ``default``, and a
    leading ``+`` (add, the default) or ``-`` (remove); separated by spaces or commas.

    Deviation: enctypes this module does not implement (DES, 3DES, Camellia, export rc4) are
    dropped from the result, and an unknown name raises instead of being skipped, so that a
    typo does not silently weaken the list.

    Args:
        value: the configured text, e.g. ``"DEFAULT -rc4"`` or ``"aes256-sha2 aes"``.
        default: what ``DEFAULT`` stands for.

    Returns:
        The implemented enctypes in order, without duplicates.

    Raises:
        InvalidParameter: an unknown name.
    """
    result: list[int] = []
    for token in re.split(r"[\s,]+", value.strip()):
        if not token:
            continue
        remove = token[0] == "-"
        word = token[1:] if token[0] in "+-" else token
        lowered = word.lower()
        if lowered == "default":
            numbers: tuple[int, ...] = default
        elif lowered in _FAMILIES:
            numbers = _FAMILIES[lowered]
        else:
            numbers = (enctype_from_name(word),)
        for number in numbers:
            if remove:
                if number in result:
                    result.remove(number)
            elif number in _PROFILES and number not in result:
                result.append(number)
    return tuple(result)
