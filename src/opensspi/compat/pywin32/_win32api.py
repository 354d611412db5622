"""pywin32's ``win32api``: the part pywin32's SSPI demos use.

``GetUserName()`` and ``GetUserNameEx(format)`` report the calling thread's user: the
authenticated client while the thread impersonates one (``ImpersonateSecurityContext``), as on
Windows, else the login name of the process. ``error`` is ``pywintypes.error``.

Names, POSIX meaning:

- ``NameSamCompatible``: ``DOMAIN\\user``. An NTLM client is reported as it authenticated; a
  Kerberos ``user@REALM`` as ``REALM-FIRST-LABEL\\user`` (what a default Active Directory
  NetBIOS domain name is); the process's own user as ``HOST\\user``, as Windows names a local
  account.
- ``NameUserPrincipal``: ``user@REALM`` for a Kerberos client; ``ERROR_NONE_MAPPED`` otherwise,
  as Windows answers for an account without a UPN.
- Any other format: ``ERROR_NONE_MAPPED`` (1332).
"""

from __future__ import annotations

import getpass
import socket

from opensspi import impersonation
from opensspi.compat.pywin32._win32security import error

__all__ = [
    "GetComputerName",
    "GetUserName",
    "GetUserNameEx",
    "NameCanonical",
    "NameCanonicalEx",
    "NameDisplay",
    "NameDnsDomain",
    "NameFullyQualifiedDN",
    "NameSamCompatible",
    "NameServicePrincipal",
    "NameUniqueId",
    "NameUnknown",
    "NameUserPrincipal",
    "error",
]

# EXTENDED_NAME_FORMAT (secext.h), as pywin32's win32api exports it.
NameUnknown = 0
NameFullyQualifiedDN = 1
NameSamCompatible = 2
NameDisplay = 3
NameUniqueId = 6
NameCanonical = 7
NameUserPrincipal = 8
NameCanonicalEx = 9
NameServicePrincipal = 10
NameDnsDomain = 12

ERROR_NONE_MAPPED = 1332
_NONE_MAPPED_TEXT = "No mapping between account names and security IDs was done."


def GetComputerName() -> str:  # noqa: N802
    """The host's short name in upper case (NetBIOS style)."""
    return socket.gethostname().split(".", 1)[0].upper()


def _split(client: str) -> tuple[str, str, bool]:
    """``(domain, user, is_upn)`` of an authenticated client's name."""
    if "\\" in client:
        domain, user = client.split("\\", 1)
        return domain, user, False
    if "@" in client:
        user, realm = client.rsplit("@", 1)
        return realm, user, True
    return "", client, False


def GetUserName() -> str:  # noqa: N802
    """The calling thread's user name: the impersonated client's, else the login name."""
    client = impersonation.current()
    if client is not None:
        return _split(client.client_name)[1]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise error(ERROR_NONE_MAPPED, "GetUserName", _NONE_MAPPED_TEXT) from None


def GetUserNameEx(NameFormat: int) -> str:  # noqa: N802, N803
    """The calling thread's user in ``NameFormat`` (see the module docstring)."""
    client = impersonation.current()
    if client is None:
        if NameFormat == NameSamCompatible:
            return f"{GetComputerName()}\\{GetUserName()}"
        raise error(ERROR_NONE_MAPPED, "GetUserNameEx", _NONE_MAPPED_TEXT)
    domain, user, is_upn = _split(client.client_name)
    if NameFormat == NameSamCompatible:
        if is_upn:
            domain = domain.split(".", 1)[0].upper()
        return f"{domain}\\{user}" if domain else user
    if NameFormat == NameUserPrincipal and is_upn:
        return client.client_name
    raise error(ERROR_NONE_MAPPED, "GetUserNameEx", _NONE_MAPPED_TEXT)
