"""opensspi: the Windows Security Support Provider Interface, natively in Python.

Two ways in:

- :mod:`opensspi.sspi` — the Windows functions (``AcquireCredentialsHandle``,
  ``InitializeSecurityContext``, ``AcceptSecurityContext``, ``EncryptMessage``...) with Windows
  parameter order, ``SecBuffer``/``SecBufferDesc`` and the Windows constant values.
- :func:`client` / :func:`server` — the same packages stepped with plain ``bytes``.

pywin32 programs can use :mod:`opensspi.compat.pywin32` unchanged.
"""

from __future__ import annotations

from .api import Context, client, credentials, server
from .buffers import ChannelBindings, SecBuffer, SecBufferDesc
from .constants import (
    AscReq,
    AscRet,
    CredentialUse,
    IscReq,
    IscRet,
    SecBufferType,
    SecPkgAttr,
    SecStatus,
)
from .errors import SspiError
from .provider import AuthIdentity, Environment

__version__ = "0.1.0"

__all__ = [
    "AscReq",
    "AscRet",
    "AuthIdentity",
    "ChannelBindings",
    "Context",
    "CredentialUse",
    "Environment",
    "IscReq",
    "IscRet",
    "SecBuffer",
    "SecBufferDesc",
    "SecBufferType",
    "SecPkgAttr",
    "SecStatus",
    "SspiError",
    "client",
    "credentials",
    "server",
]
