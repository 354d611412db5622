"""The packages that ship with opensspi, registered in Windows' enumeration order."""

from __future__ import annotations

from collections.abc import Callable

from ..provider import SecurityPackage

Register = Callable[..., None]


def register_all(register: Register) -> None:
    """Register every built-in package with the registry's ``register`` function."""
    from .digest import DigestPackage
    from .kerberos import KerberosPackage
    from .negotiate import NegotiatePackage
    from .ntlm import NtlmPackage
    from .schannel import SchannelPackage

    _factories: list[tuple[str, Callable[[], SecurityPackage], tuple[str, ...]]] = [
        ("Negotiate", NegotiatePackage, ()),
        ("Kerberos", KerberosPackage, ()),
        ("NTLM", NtlmPackage, ()),
        ("WDigest", DigestPackage, ("Digest",)),
        ("Microsoft Unified Security Protocol Provider", SchannelPackage,
         ("Schannel", "Default TLS SSP")),
    ]
    for name, factory, aliases in _factories:
        register(name, factory, *aliases)
