"""Kerberos cryptosystems: the RFC 3961 framework, AES-SHA1 (RFC 3962) and AES-SHA2 (RFC 8009).

RFC 3961 "Encryption and Checksum Specifications for Kerberos 5": section 3 (the profile of an
encryption type), 5.1 (n-fold, DR, DK), 5.3 (the simplified profile: Kc, Ke, Ki and
encrypt-then-HMAC of the plaintext) and 5.4 (its checksum). RFC 3962 "Advanced Encryption
Standard (AES) Encryption for Kerberos 5": sections 4 (PBKDF2-SHA1 string-to-key) and 5 (CBC
with ciphertext stealing). RFC 8009 "AES Encryption with HMAC-SHA2 for Kerberos 5": sections 3
(KDF-HMAC-SHA2), 4 (PBKDF2-SHA2 string-to-key) and 5 (encrypt-then-MAC, checksum, PRF).
https://www.rfc-editor.org/rfc/rfc3961, https://www.rfc-editor.org/rfc/rfc3962,
https://www.rfc-editor.org/rfc/rfc8009

:func:`encrypt_iov` / :func:`decrypt_iov` are the same encryption over scattered buffers, some
of them only signed (MIT krb5's ``krb5_c_encrypt_iov`` with KRB5_CRYPTO_TYPE_SIGN_ONLY), which is
what GSS Wrap with sign-only buffers needs.

Rules of this module: pure functions of keys and bytes; the only state is the per-:class:`Key`
cache of derived keys (Kc, Ke, Ki are fixed functions of key and usage, and a context encrypts
thousands of messages with one usage). Randomness is drawn only for a default confounder or
key. AES, HMAC, hashes and PBKDF2 come from ``cryptography``. rc4-hmac (enctype 23) lives in
``legacy.py``; this module dispatches to it, and the package decides whether 23 is allowed.
DES, 3DES and Camellia are not implemented.

CTS is built on whole-message AES-CBC calls (no per-block Python loop): encryption pads with
zeros, runs CBC once and swaps the last two blocks; decryption runs one CBC decryptor over the
message and recovers the stolen bytes from its output on the last two blocks.
"""

from __future__ import annotations

from .enctypes import (
    _CHECKSUM_ENCTYPE,
    _CHECKSUM_SIZES,
    _PROFILES,
    _Rc4HmacProfile,
    parse_enctypes,
)
from .keys import (
    _ALIASES,
    _BLOCK,
    _BY_NAME,
    _CBC_ZERO_IV,
    _FAMILIES,
    _KERBEROS,
    _MAX_ITERATIONS,
    _NAMES,
    _PRF,
    _SHA1,
    _SHA256,
    _SHA384,
    _TEMPLATE,
    _ZERO_IV,
    _ZEROS,
    CKSUMTYPE_GSSAPI,
    KC,
    KE,
    KEY_SIZES,
    KI,
    SUPPORTED,
    Cksumtype,
    Enctype,
    Key,
    _DerivedKeys,
    enctype_from_name,
    enctype_name,
)
from .operations import (
    checksum_size,
    decrypt,
    decrypt_iov,
    derive_key,
    encrypt,
    encrypt_iov,
    make_checksum,
    prf,
    profile,
    random_key,
    random_to_key,
    string_to_key,
    verify_checksum,
)
from .rfc3961 import (
    IovPart,
    Profile,
    _AesProfile,
    _check_iov_sizes,
    _nfold_128,
    _parse_iterations,
    _password_bytes,
    _scatter,
    _usage_label,
    dk,
    dr,
    nfold,
)
from .rfc3962 import (
    _AesSha1Profile,
    _cts_decrypt,
    _cts_encrypt_parts,
    _xor,
    cts_decrypt,
    cts_encrypt,
)
from .rfc8009 import (
    _AesSha2Profile,
    kdf_hmac_sha2,
)

__all__ = [
    "CKSUMTYPE_GSSAPI",
    "KC",
    "KE",
    "KEY_SIZES",
    "KI",
    "SUPPORTED",
    "_ALIASES",
    "_BLOCK",
    "_BY_NAME",
    "_CBC_ZERO_IV",
    "_CHECKSUM_ENCTYPE",
    "_CHECKSUM_SIZES",
    "_FAMILIES",
    "_KERBEROS",
    "_MAX_ITERATIONS",
    "_NAMES",
    "_PRF",
    "_PROFILES",
    "_SHA1",
    "_SHA256",
    "_SHA384",
    "_TEMPLATE",
    "_ZEROS",
    "_ZERO_IV",
    "Cksumtype",
    "Enctype",
    "IovPart",
    "Key",
    "Profile",
    "_AesProfile",
    "_AesSha1Profile",
    "_AesSha2Profile",
    "_DerivedKeys",
    "_Rc4HmacProfile",
    "_check_iov_sizes",
    "_cts_decrypt",
    "_cts_encrypt_parts",
    "_nfold_128",
    "_parse_iterations",
    "_password_bytes",
    "_scatter",
    "_usage_label",
    "_xor",
    "checksum_size",
    "cts_decrypt",
    "cts_encrypt",
    "decrypt",
    "decrypt_iov",
    "derive_key",
    "dk",
    "dr",
    "encrypt",
    "encrypt_iov",
    "enctype_from_name",
    "enctype_name",
    "kdf_hmac_sha2",
    "make_checksum",
    "nfold",
    "parse_enctypes",
    "prf",
    "profile",
    "random_key",
    "random_to_key",
    "string_to_key",
    "verify_checksum",
]
