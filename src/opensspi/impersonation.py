"""ImpersonateSecurityContext's POSIX meaning: a per-thread default identity.

Windows: ``ImpersonateSecurityContext`` gives the calling thread the client's access token, so
everything the thread does afterwards (opening files, and acquiring SSPI credentials with no
explicit identity) happens as the client; ``RevertSecurityContext`` gives the thread its own
token back. ("ImpersonateSecurityContext function", learn.microsoft.com,
``/windows/win32/api/sspi/nf-sspi-impersonatesecuritycontext``.)

POSIX has no access tokens, so opensspi keeps only the part it can honour: while a thread
impersonates, the authenticated client becomes the default identity of opensspi credentials that
thread acquires OUTBOUND with no principal and no ``pAuthData``. The package receives an
:class:`~opensspi.provider.Impersonation` and decides what acting as the client means:

- Kerberos uses the client's delegated credential (its forwarded TGT); without delegation there
  is nothing to act with and acquisition fails with ``SEC_E_NO_CREDENTIALS`` — Windows' own
  double-hop rule.
- NTLM looks the client up in ``NTLM_USER_FILE`` (an NTLM logon never carries a reusable
  secret); without an entry, ``SEC_E_NO_CREDENTIALS``.
- The pywin32 ``win32api`` look-alike's ``GetUserName``/``GetUserNameEx`` report the client.

Limits, stated plainly: the operating-system identity of the process does not change (file
access, ``os.getuid()``, subprocesses and other libraries still run as the server's user);
the state is per thread, so work handed to another thread or an asyncio task on another thread
does not impersonate; impersonation does not nest — a second Impersonate replaces the first and
one Revert ends it, as on Windows.
"""

from __future__ import annotations

import threading

from .constants import CredentialUse
from .provider import Impersonation

__all__ = ["current", "default_auth_data", "impersonate", "revert"]



class _State(threading.local):
    client: Impersonation | None = None


_state = _State()


def impersonate(client: Impersonation) -> None:
    """Make ``client`` the calling thread's default identity until :func:`revert`."""
    _state.client = client


def revert() -> None:
    """End the calling thread's impersonation (a no-op when it impersonates nobody)."""
    _state.client = None


def current() -> Impersonation | None:
    """The client the calling thread impersonates, or None."""
    return _state.client


def default_auth_data(principal: str | None, use: int, auth_data: object | None) -> object | None:
    """``auth_data`` as the package should see it: the impersonated client when the caller
    asked for the default OUTBOUND identity (no principal, no auth data), else unchanged."""
    if auth_data is None and principal is None and use & CredentialUse.OUTBOUND:
        client = current()
        if client is not None:
            return client
    return auth_data
