"""The structures QueryContextAttributes and QueryCredentialsAttributes return.

Each mirrors a Windows ``SecPkgContext_*`` / ``SecPkgCredentials_*`` structure, with Pythonic
field names; ``Sizes`` and ``PackageInfo`` are the provider's own types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .constants import NegotiationState
from .provider import PackageInfo, Sizes


@dataclass(frozen=True, slots=True)
class Names:
    """``SecPkgContext_Names``: the authenticated client's name."""

    user_name: str


@dataclass(frozen=True, slots=True)
class NativeNames:
    """``SecPkgContext_NativeNames``: client and server names as the package knows them."""

    client_name: str
    server_name: str


@dataclass(frozen=True, slots=True)
class Lifespan:
    """``SecPkgContext_Lifespan``: None means unbounded."""

    start: datetime | None
    expiry: datetime | None


@dataclass(frozen=True, slots=True)
class SessionKey:
    """``SecPkgContext_SessionKey``; the key is hidden from repr."""

    session_key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class NegotiationInfo:
    """``SecPkgContext_NegotiationInfo``."""

    package_info: PackageInfo
    negotiation_state: NegotiationState


@dataclass(frozen=True, slots=True)
class Flags:
    """``SecPkgContext_Flags``: the ISC_RET_* / ASC_RET_* flags of the context."""

    flags: int


@dataclass(frozen=True, slots=True)
class CredentialNames:
    """``SecPkgCredentials_Names``."""

    user_name: str


__all__ = [
    "CredentialNames",
    "Flags",
    "Lifespan",
    "Names",
    "NativeNames",
    "NegotiationInfo",
    "PackageInfo",
    "SessionKey",
    "Sizes",
]
