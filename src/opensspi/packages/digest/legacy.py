"""Legacy SASL DIGEST-MD5 ciphers: export-grade ``rc4-40`` and ``rc4-56``, and single ``des``.

RFC 2831 §2.4 (https://www.rfc-editor.org/rfc/rfc2831#section-2.4). These give 40, 56 and 56
bits of key and are broken by today's standards; RFC 6331 moved DIGEST-MD5 to Historic partly
because of them. They exist for old peers only (Cyrus SASL offers all five by default).

They are reachable only when a caller lists them by name: ``DigestClientOptions(ciphers=...)``
on the initiator, ``DigestAcceptorConfig(ciphers=...)`` on the acceptor. The defaults,
:data:`STRONG_CIPHERS`, never include them, and no environment variable changes that.
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import CipherContext, modes

from .crypto import Cipher, des_key

LEGACY_CIPHERS: tuple[Cipher, ...] = (Cipher.RC4_56, Cipher.RC4_40, Cipher.DES)
"""The weak ciphers, strongest first; pass them explicitly to enable them."""

STRONG_CIPHERS: tuple[Cipher, ...] = (Cipher.RC4, Cipher.TRIPLE_DES)
"""The ciphers enabled by default, strongest first (Microsoft's order)."""


def legacy_cipher_context(cipher: Cipher, kc: bytes, encrypt: bool) -> CipherContext:
    """A running cipher context for one direction of a legacy cipher, RFC 2831 §2.4.

    ::

        rc4-40, rc4-56: RC4 keyed with the 16-byte Kc (Kc itself came from 5 or 7 bytes of H(A1))
        des:            DES-CBC, key = the first 7 bytes of Kc, IV = the last 8 bytes of Kc

    The context keeps its state across messages: RC4 is never rekeyed and CBC chains the last
    ciphertext block into the next message, as Cyrus SASL does.

    Raises:
        ValueError: ``cipher`` is not a legacy cipher.
    """
    if cipher in (Cipher.RC4_40, Cipher.RC4_56):
        rc4 = _Cipher(ARC4(kc), mode=None)
        return rc4.encryptor() if encrypt else rc4.decryptor()
    if cipher is Cipher.DES:
        key = des_key(kc[:7])
        des = _Cipher(TripleDES(key * 3), modes.CBC(kc[8:16]))
        return des.encryptor() if encrypt else des.decryptor()
    raise ValueError(f"{cipher.value} is not a legacy cipher")
