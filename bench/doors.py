"""The three doors into opensspi, set up the same way for every package's benchmark.

- Pythonic: ``opensspi.client`` / ``opensspi.server``, ``wrap`` / ``unwrap`` (the benchmark
  files build these themselves).
- Windows functions: :class:`SspiPair`, ``opensspi.sspi`` driven as a C program drives
  secur32.dll: AcquireCredentialsHandle once per side, InitializeSecurityContext /
  AcceptSecurityContext with SecBufferDesc tokens, SECPKG_ATTR_SIZES queried once per context
  (as SSPI programs do), then EncryptMessage with ``[DATA, TOKEN(trailer)]`` and
  DecryptMessage with the same two buffers.
- pywin32 look-alike: :func:`pywin32_sspi` imports pywin32's ``sspi`` module from
  ``opensspi.compat.pywin32.PATH``; ``ClientAuth`` / ``ServerAuth`` and their
  ``encrypt(data) -> (data, trailer)`` / ``decrypt(data, trailer)``, exactly as pywin32's own
  demo uses them (sizes queried per call, as pywin32 does).

:func:`door_rows` prints the ratio of each door to the peer and the cost each door adds over
the Pythonic call. Not a test: no assertions on time.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import CredentialUse, SecBufferType, SecPkgAttr, SecStatus

_MAX_TOKEN = 48000


def settle(names: tuple[str, ...] = ("KRB5_CONFIG", "KRB5CCNAME", "KRB5_KTNAME",
                                     "NTLM_USER_FILE")) -> None:
    """Wait until the files these variables name are older than opensspi's "racy" window:
    a file changed within it is read again on every acquisition (a same-size rewrite in the
    same clock tick could go unseen), and the setup just wrote them. The timings are then of
    the steady state a long-running program sees, not of its first two seconds."""
    import os

    from opensspi.packages.kerberos import parsed

    newest = 0
    for name in names:
        path = os.environ.get(name, "").removeprefix("FILE:")
        if path and os.path.isfile(path):
            st = os.stat(path)
            newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
    wait = (newest + parsed.RACY_NS - time.time_ns()) / 1e9
    if wait > 0:
        time.sleep(wait + 0.05)
_PYWIN32_MODULES = ("win32security", "sspi", "sspicon", "pywintypes")


def best_us(fn: Callable[[], object], rounds: int = 5, budget: float = 0.15) -> float:
    """Best-of-``rounds`` microseconds per call, each round about ``budget`` seconds."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(budget / once))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


def interleaved_us(fns: dict[str, Callable[[], object]], rounds: int = 5,
                   budget: float = 0.12) -> dict[str, float]:
    """:func:`best_us` of several functions, their rounds interleaved (fairer on a busy
    machine: a slow moment hits every workload, not just one)."""
    numbers = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        numbers[name] = max(1, int(budget / max(time.perf_counter() - start, 1e-7)))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            number = numbers[name]
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return {name: value * 1e6 for name, value in best.items()}


class SspiPair:
    """A client and a server context made and used through the Windows functions."""

    def __init__(self, package: str, *, client_auth: object, server_auth: object,
                 target: str, isc: int, asc: int, client_principal: str | None = None) -> None:
        self.package, self.target, self.isc, self.asc = package, target, isc, asc
        self.client_cred = sspi.AcquireCredentialsHandle(
            client_principal, package, CredentialUse.OUTBOUND, None, client_auth).credential
        self.server_cred = sspi.AcquireCredentialsHandle(
            None, package, CredentialUse.INBOUND, None, server_auth).credential
        self.client, self.server = self.handshake()
        sizes = sspi.QueryContextAttributes(self.client, SecPkgAttr.SIZES)
        self.trailer = int(sizes.security_trailer)  # type: ignore[attr-defined]

    def handshake(self) -> tuple[sspi.CtxtHandle, sspi.CtxtHandle]:
        """One authentication with the handles acquired in ``__init__``."""
        client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
        token: bytes | None = None
        first_client = first_server = True
        for _ in range(10):
            out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, _MAX_TOKEN)])
            given = (None if token is None
                     else SecBufferDesc([SecBuffer(SecBufferType.TOKEN, token)]))
            result = sspi.InitializeSecurityContext(
                self.client_cred if first_client else None, None if first_client else client,
                self.target, self.isc, 0, 0, given, 0, client, out)
            first_client = False
            token = out[0].buffer
            if not token:
                break
            out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, _MAX_TOKEN)])
            accepted = sspi.AcceptSecurityContext(
                self.server_cred if first_server else None, None if first_server else server,
                SecBufferDesc([SecBuffer(SecBufferType.TOKEN, token)]), self.asc, 0, server, out)
            first_server = False
            token = out[0].buffer
            if result.status == SecStatus.SEC_E_OK and (
                    accepted.status == SecStatus.SEC_E_OK and not token):
                break
            if not token:
                break
        return client, server

    def round_trip(self, data: bytes) -> bytes:
        """EncryptMessage on the client, DecryptMessage on the server: ``[DATA, TOKEN]``."""
        desc = SecBufferDesc([SecBuffer(SecBufferType.DATA, data),
                              SecBuffer(SecBufferType.TOKEN, self.trailer)])
        sspi.EncryptMessage(self.client, 0, desc, 0)
        back = SecBufferDesc([SecBuffer(SecBufferType.DATA, desc[0].buffer),
                              SecBuffer(SecBufferType.TOKEN, desc[1].buffer)])
        sspi.DecryptMessage(self.server, back, 0)
        return back[0].buffer


def pywin32_sspi() -> ModuleType:
    """pywin32's ``sspi`` module, imported by its pywin32 name from the look-alike folder
    (once: a program imports it once, so the timed loops do not pay for the import system)."""
    if _IMPORTED:
        return _IMPORTED[0]
    from opensspi.compat.pywin32 import PATH

    if PATH not in sys.path:
        sys.path.insert(0, PATH)
    for name in _PYWIN32_MODULES:
        importlib.import_module(name)
    _IMPORTED.append(sys.modules["sspi"])
    return _IMPORTED[0]


_IMPORTED: list[ModuleType] = []


def pywin32_pair(package: str, *, auth_info: Any = None, targetspn: str | None = None,
                 scflags: int | None = None, server_scflags: int | None = None) -> tuple[Any, Any]:
    """``ClientAuth`` / ``ServerAuth`` authenticated with pywin32's demo loop."""
    module = pywin32_sspi()
    client = module.ClientAuth(package, auth_info=auth_info, targetspn=targetspn,
                               scflags=scflags)
    server = module.ServerAuth(package, scflags=server_scflags)
    authorize(client, server)
    return client, server


def authorize(client: Any, server: Any) -> None:
    """pywin32's ``sspi.py`` demo loop."""
    sec_buffer = None
    for _ in range(10):
        err, sec_buffer = client.authorize(sec_buffer)
        if client.authenticated and not sec_buffer[0].Buffer:
            break
        err, sec_buffer = server.authorize(sec_buffer)
        if err == 0 and client.authenticated:
            break
    if not (client.authenticated and server.authenticated):
        raise SystemExit("pywin32 look-alike handshake did not complete")


def door_rows(title: str, times: dict[str, float], peer: str, doors: dict[str, str]) -> None:
    """Print, for one operation: each door's µs, its speed relative to the peer, and what it
    adds over the Pythonic door (``doors`` maps a door's label to its key in ``times``; the
    first is the Pythonic one)."""
    base = times[next(iter(doors.values()))]
    print(f"  {title}")
    print(f"    {'peer':<22} {times[peer]:9.2f} µs")
    for label, key in doors.items():
        value = times[key]
        added = (value - base) / base * 100
        extra = "" if key == next(iter(doors.values())) else f"   adds {added:+5.1f}% over Pythonic"
        print(f"    {label:<22} {value:9.2f} µs   ratio {times[peer] / value:5.2f}x{extra}")
