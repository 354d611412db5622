"""RC4 as MS-NLMP uses it: a keyed stream whose state carries over between calls.

The stream lives in one OpenSSL ``ARC4`` encryptor context from ``cryptography``'s decrepit
module; ``Rc4.update`` is that context's bound ``update`` method, so a call costs one C call and
no Python frame. Spec: MS-NLMP section 6 (``RC4``, ``RC4K``, ``RC4Init``),
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/26c42637-9549-46ae-be2e-90f6f1360193
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives.ciphers import Cipher

__all__ = ["Rc4", "rc4k"]


class Rc4:
    """A stateful RC4 stream (``RC4Init(Handle, Key)``); ``update`` encrypts and decrypts."""

    __slots__ = ("update",)

    update: Callable[[bytes | memoryview], bytes]

    def __init__(self, key: bytes) -> None:
        # The bound C method is stored on the instance: callers may keep ``rc4.update`` itself.
        self.update = Cipher(ARC4(key), mode=None).encryptor().update

    def __repr__(self) -> str:
        return "Rc4(<keyed>)"


def rc4k(key: bytes, data: bytes) -> bytes:
    """``RC4K(K, D)``: one-shot RC4 of ``data`` under a fresh stream keyed with ``key``."""
    return Cipher(ARC4(key), mode=None).encryptor().update(data)
