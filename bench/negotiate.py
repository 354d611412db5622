"""Negotiate: SPNEGO(NTLM) full handshakes, opensspi against pyspnego in the same run.

Both sides negotiate over SPNEGO and end up with NTLM (no realm is configured, so Kerberos
cannot start for either library): NegTokenInit with the NTLM NEGOTIATE, the CHALLENGE, the
AUTHENTICATE with its mechListMIC, and the acceptor's accept-completed with its MIC.

Measured (each best of several rounds), handshakes per second:
- opensspi's Pythonic API, credential handles reused (the SSPI way), with the default package
  list (Kerberos first: the handle's first handshake finds no realm for the target and the
  handle remembers that, so later ones go straight to NTLM — pyspnego tries every time) and with
  ``package_list="ntlm"``;
- pywin32's ``sspi.ClientAuth``/``ServerAuth`` look-alikes (``opensspi.compat.pywin32``), which
  acquire both credentials for every connection, as pywin32 programs do; and, for reference,
  one pair kept and ``reset()`` per connection (pywin32's own way to keep the credentials);
- the Windows functions (``opensspi.sspi``, bench/doors.py's ``SspiPair``): Initialize/
  AcceptSecurityContext with SecBufferDesc tokens on credential handles acquired once;
- for reference, the Pythonic API acquiring both credentials for every connection, as
  ``ClientAuth``/``ServerAuth`` must: what the pywin32 row would be if its door cost nothing;
- pyspnego ``spnego.client``/``spnego.server`` with ``protocol="negotiate"`` and
  ``NegotiateOptions.use_negotiate`` (its own SPNEGO), NTLM users from ``NTLM_USER_FILE``.

Run: ``python bench/negotiate.py`` (``--quick`` for a short run). ``run(name, n)`` is the
plain "run N times" helper for profilers: ``python -m cProfile bench/negotiate.py --only api``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

USER, DOMAIN, PASSWORD = "alice", "BENCH", "Passw0rd!"
TARGET_HOST = "web.bench.invalid"


def _environment() -> None:
    """An NTLM user file and a krb5.conf with no realm: Kerberos cannot start, without DNS."""
    directory = tempfile.mkdtemp(prefix="opensspi-bench-nego-")
    users = os.path.join(directory, "users")
    with open(users, "w", encoding="utf-8") as f:
        f.write(f"{DOMAIN}:{USER}:{PASSWORD}\n")
    conf = os.path.join(directory, "krb5.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write("[libdefaults]\n dns_lookup_kdc = false\n dns_lookup_realm = false\n")
    os.environ["NTLM_USER_FILE"] = users
    os.environ["KRB5_CONFIG"] = conf
    os.environ["KRB5CCNAME"] = f"FILE:{os.path.join(directory, 'ccache')}"
    os.environ["KRB5_KTNAME"] = f"FILE:{os.path.join(directory, 'keytab')}"


def best_rates(fns: Sequence[Callable[[], object]], seconds: float = 0.4,
               rounds: int = 5) -> list[float]:
    """Calls per second of each of ``fns``, best of ``rounds``. The contenders take turns
    within each round, so that a machine whose load changes during the run treats them alike."""
    best = [0.0] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            n, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                fn()
                n += 1
            best[i] = max(best[i], n / elapsed)
    return best


# -- opensspi, Pythonic --------------------------------------------------------------------

def ours_creds(package_list: str | None = None) -> tuple[object, object]:
    import opensspi

    ident = opensspi.AuthIdentity(USER, DOMAIN, PASSWORD, package_list=package_list)
    client = opensspi.credentials("Negotiate", auth_data=ident)
    server = opensspi.credentials("Negotiate", use=opensspi.CredentialUse.INBOUND)
    return client, server


def ours_handshake(client_cred: object, server_cred: object) -> None:
    import opensspi

    client = opensspi.client("Negotiate", credential=client_cred,  # type: ignore[arg-type]
                             target=f"HTTP/{TARGET_HOST}")
    server = opensspi.server("Negotiate", credential=server_cred)  # type: ignore[arg-type]
    token = client.step()
    while token is not None:
        token = server.step(token)
        if token is None:
            break
        token = client.step(token)
    assert client.complete and server.complete


def ours_new_creds() -> None:
    """A handshake on credentials acquired for it (both sides), through the Pythonic API."""
    client, server = ours_creds()
    ours_handshake(client, server)


# -- opensspi, Windows functions --------------------------------------------------------------

def sspi_pair() -> Any:
    """bench/doors.py's SspiPair for Negotiate, with the flags pywin32's ClientAuth asks by
    default; its ``handshake()`` is one authentication on the handles it acquired."""
    from doors import SspiPair

    import opensspi

    isc = int(opensspi.IscReq.INTEGRITY | opensspi.IscReq.SEQUENCE_DETECT
              | opensspi.IscReq.REPLAY_DETECT | opensspi.IscReq.CONFIDENTIALITY)
    asc = int(opensspi.AscReq.INTEGRITY | opensspi.AscReq.SEQUENCE_DETECT
              | opensspi.AscReq.REPLAY_DETECT | opensspi.AscReq.CONFIDENTIALITY)
    return SspiPair("Negotiate", client_auth=opensspi.AuthIdentity(USER, DOMAIN, PASSWORD),
                    server_auth=None, target=f"HTTP/{TARGET_HOST}", isc=isc, asc=asc)


# -- opensspi, pywin32 look-alikes ----------------------------------------------------------

def pywin32_handshake() -> None:
    from opensspi.compat.pywin32 import sspi

    client = sspi.ClientAuth("Negotiate", auth_info=(USER, DOMAIN, PASSWORD),
                             targetspn=f"HTTP/{TARGET_HOST}")
    server = sspi.ServerAuth("Negotiate")
    pywin32_authorize(client, server)


def pywin32_kept() -> Callable[[], None]:
    """A handshake on one ClientAuth/ServerAuth pair, ``reset()`` before each."""
    from opensspi.compat.pywin32 import sspi

    client = sspi.ClientAuth("Negotiate", auth_info=(USER, DOMAIN, PASSWORD),
                             targetspn=f"HTTP/{TARGET_HOST}")
    server = sspi.ServerAuth("Negotiate")

    def handshake() -> None:
        client.reset()
        server.reset()
        pywin32_authorize(client, server)

    return handshake


def pywin32_authorize(client: Any, server: Any) -> None:
    err, buf = client.authorize(None)
    while True:
        err, buf = server.authorize(buf)
        if err == 0 and not buf[0].Buffer:
            break
        err, buf = client.authorize(buf)
        if err == 0:
            break
    assert client.authenticated and server.authenticated


# -- pyspnego --------------------------------------------------------------------------------

def spnego_handshake() -> None:
    import spnego

    options = spnego.NegotiateOptions.use_negotiate
    client = spnego.client(f"{DOMAIN}\\{USER}", PASSWORD, hostname=TARGET_HOST, service="HTTP",
                           protocol="negotiate", options=options)
    server = spnego.server(protocol="negotiate", options=options)
    token = client.step()
    while token is not None:
        token = server.step(token)
        if token is None:
            break
        token = client.step(token)
    assert client.complete and server.complete
    assert server.negotiated_protocol == "ntlm"


def run(name: str, n: int) -> None:
    """Run one measured operation ``n`` times, for profiling."""
    _environment()
    cc, sc = ours_creds()
    for _ in range(n):
        if name == "api":
            ours_handshake(cc, sc)
        elif name == "pywin32":
            pywin32_handshake()
        else:
            spnego_handshake()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter rounds")
    parser.add_argument("--only", help="run(NAME, 2000) for a profiler and exit (api, pywin32)")
    args = parser.parse_args()
    if args.only:
        run(args.only, 2000)
        return 0
    seconds = 0.15 if args.quick else 0.4
    _environment()
    import spnego  # noqa: F401  (import cost kept out of the timings)
    from doors import settle

    import opensspi.compat.pywin32.sspi  # noqa: F401

    cc, sc = ours_creds()
    nc, ns = ours_creds("ntlm")
    pair = sspi_pair()
    settle()  # the files _environment() wrote: time the steady state
    theirs, api, api_ntlm, windows, pywin32, kept, api_new = best_rates(
        [spnego_handshake, lambda: ours_handshake(cc, sc), lambda: ours_handshake(nc, ns),
         pair.handshake, pywin32_handshake, pywin32_kept(), ours_new_creds], seconds=seconds)
    rows = [
        ("Pythonic API, default package list", api, "target >= 10x"),
        ('Pythonic API, package_list="ntlm"', api_ntlm, ""),
        ("opensspi.sspi Initialize/AcceptSecurityContext", windows, ""),
        ("pywin32 ClientAuth/ServerAuth (new credentials each)", pywin32, "target >= 10x"),
        ("pywin32 ClientAuth/ServerAuth kept, reset() each", kept, "for reference"),
        ("Pythonic API, new credentials each (no pywin32 door)", api_new, "for reference"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'SPNEGO(NTLM) handshakes/s':<{width}}  {'opensspi':>10}  {'pyspnego':>10}  "
          f"{'ratio':>7}")
    for label, ours, note in rows:
        print(f"{label:<{width}}  {ours:>10,.1f}  {theirs:>10,.1f}  {ours / theirs:>6.2f}x  "
              f"{note}")
    from importlib.metadata import version

    print(f"pyspnego {version('pyspnego')} (protocol='negotiate', use_negotiate), "
          f"Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
