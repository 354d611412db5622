"""NTLM: opensspi against pyspnego's pure-Python NTLM, in the same run, with fixed inputs.

Measures (each best of several rounds):
- full handshake: client and server contexts, three legs, in one process. Reported twice for
  opensspi: reusing one credential handle per side (the SSPI way: AcquireCredentialsHandle once),
  and acquiring both credentials inside every handshake (what pyspnego does each time);
- 1 KiB wrap+unwrap round trips (seal by one side, unseal by the other);
- 1 MiB seal+unseal throughput, and the floor: raw RC4 + HMAC-MD5 from OpenSSL on the same data.

Every door (bench/doors.py), against pyspnego in the same run: the 1 KiB encrypt+decrypt round
trip and the full handshake through the Pythonic API, the Windows functions (``opensspi.sspi``
with SecBufferDesc) and the pywin32 look-alike (``sspi.ClientAuth``/``ServerAuth``, which
acquire credentials per connection), with each door's cost over the Pythonic call.

Run: ``python bench/ntlm.py`` (``--quick`` for a short run; ``--doors`` for the door table
only). ``run(name, n)`` is the plain "run N times" helper for profilers:
``python -m cProfile bench/ntlm.py --only handshake`` (also ``wrap``, ``sspi-wrap``,
``pywin32-wrap``, ``pywin32-handshake``).
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import opensspi
from opensspi import CredentialUse, IscReq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from doors import SspiPair, door_rows, interleaved_us, pywin32_pair

USER, DOMAIN, PASSWORD = "alice", "BENCH", "Passw0rd!"
KIB = bytes(range(256)) * 4
MIB = bytes(range(256)) * 4096


def _users_file() -> str:
    fd, path = tempfile.mkstemp(prefix="opensspi-bench-users-")
    os.write(fd, f"{DOMAIN}:{USER}:{PASSWORD}\n".encode())
    os.close(fd)
    return path


def best_rate(fn: Callable[[], object], per_call: int = 1, seconds: float = 0.4,
              rounds: int = 5) -> float:
    """Calls per second of ``fn`` (times ``per_call``), best of ``rounds``."""
    best = 0.0
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            fn()
            n += 1
        best = max(best, n * per_call / elapsed)
    return best


# -- opensspi ----------------------------------------------------------------------------

def ours_creds() -> tuple[object, object]:
    client_cred = opensspi.credentials("NTLM", user=USER, domain=DOMAIN, password=PASSWORD)
    server_cred = opensspi.credentials(
        "NTLM", use=CredentialUse.INBOUND, auth_data={f"{DOMAIN}\\{USER}": PASSWORD}
    )
    return client_cred, server_cred


def ours_handshake(client_cred: object, server_cred: object) -> tuple[opensspi.Context, ...]:
    client = opensspi.client("NTLM", credential=client_cred, target="HTTP/bench")  # type: ignore[arg-type]
    server = opensspi.server("NTLM", credential=server_cred)  # type: ignore[arg-type]
    server.step(client.step(server.step(client.step())))
    return client, server


def ours_handshake_fresh() -> object:
    return ours_handshake(*ours_creds())


# -- pyspnego ----------------------------------------------------------------------------

def spnego_handshake() -> tuple[object, object]:
    import spnego

    client = spnego.client(
        f"{DOMAIN}\\{USER}", PASSWORD, hostname="bench", service="HTTP", protocol="ntlm"
    )
    server = spnego.server(protocol="ntlm")
    server.step(client.step(server.step(client.step())))
    return client, server


def raw_rc4_hmac_md5_rate(data: bytes) -> float:
    """MB/s of the unavoidable work of seal+unseal: RC4 and HMAC-MD5, twice each."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
    from cryptography.hazmat.primitives.ciphers import Cipher

    a = Cipher(ARC4(b"k" * 16), mode=None).encryptor().update
    b = Cipher(ARC4(b"k" * 16), mode=None).encryptor().update
    key = b"s" * 16

    def once() -> None:
        sealed = a(data)
        hmac.new(key, b"\0\0\0\0", "md5").update(data)
        plain = b(sealed)
        hmac.new(key, b"\0\0\0\0", "md5").update(plain)

    return best_rate(once, len(data)) / 1e6


ISC = IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT


def sspi_pair() -> SspiPair:
    return SspiPair("NTLM", client_auth=(USER, DOMAIN, PASSWORD),
                    server_auth={f"{DOMAIN}\\{USER}": PASSWORD}, target="HTTP/bench",
                    isc=int(ISC), asc=int(ISC))


def pywin32_handshake() -> tuple[object, object]:
    return pywin32_pair("NTLM", auth_info=(USER, DOMAIN, PASSWORD), targetspn="HTTP/bench")


def door_workloads() -> dict[str, Callable[[], object]]:
    """Every door's 1 KiB round trip and handshake, and pyspnego's."""
    cc, sc = ours_creds()
    oc, os_ = ours_handshake(cc, sc)
    pair = sspi_pair()
    wc, ws = pywin32_handshake()
    pc, ps = spnego_handshake()
    assert os_.unwrap(oc.wrap(KIB)) == KIB and pair.round_trip(KIB) == KIB
    assert ws.decrypt(*wc.encrypt(KIB)) == KIB  # type: ignore[attr-defined]
    return {
        "wrap": lambda: os_.unwrap(oc.wrap(KIB)),
        "sspi-wrap": lambda: pair.round_trip(KIB),
        "pywin32-wrap": lambda: ws.decrypt(*wc.encrypt(KIB)),  # type: ignore[attr-defined]
        "pyspnego-wrap": lambda: ps.unwrap(pc.wrap(KIB).data),  # type: ignore[attr-defined]
        "handshake": lambda: ours_handshake(cc, sc),
        "handshake-fresh": ours_handshake_fresh,
        "sspi-handshake": pair.handshake,
        "pywin32-handshake": pywin32_handshake,
        "pyspnego-handshake": spnego_handshake,
    }


def report_doors(budget: float) -> None:
    loads = door_workloads()
    times = interleaved_us({k: v for k, v in loads.items() if "wrap" in k}, budget=budget)
    times.update(interleaved_us({k: v for k, v in loads.items() if "handshake" in k},
                                budget=budget))
    from importlib.metadata import version

    print(f"NTLM through every door, µs per operation; peer pyspnego {version('pyspnego')}")
    door_rows("1 KiB encrypt+decrypt round trip", times, "pyspnego-wrap",
              {"Pythonic wrap/unwrap": "wrap", "sspi Encrypt/Decrypt": "sspi-wrap",
               "pywin32 encrypt/decrypt": "pywin32-wrap"})
    door_rows("full handshake (client + server)", times, "pyspnego-handshake",
              {"Pythonic, handles kept": "handshake",
               "Pythonic, acquire each": "handshake-fresh",
               "sspi ISC/ASC, handles": "sspi-handshake",
               "pywin32 Client/ServerAuth": "pywin32-handshake"})


def run(name: str, n: int) -> None:
    """Run one measured operation ``n`` times, for profiling."""
    os.environ.setdefault("NTLM_USER_FILE", _users_file())
    loads = door_workloads()
    if name not in loads:
        raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(loads)}")
    fn = loads[name]
    for _ in range(n):
        fn()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter rounds")
    parser.add_argument("--only", help="run(NAME, 20000) for a profiler and exit")
    parser.add_argument("--doors", action="store_true", help="only the every-door table")
    args = parser.parse_args()
    if args.only:
        run(args.only, 20000)
        return 0
    seconds = 0.15 if args.quick else 0.4
    os.environ["NTLM_USER_FILE"] = _users_file()
    import spnego  # noqa: F401  (import cost kept out of the timings)

    report_doors(0.05 if args.quick else 0.12)
    if args.doors:
        return 0

    cc, sc = ours_creds()
    rows: list[tuple[str, float, float, str]] = []

    ours = best_rate(lambda: ours_handshake(cc, sc), seconds=seconds)
    fresh = best_rate(ours_handshake_fresh, seconds=seconds)
    theirs = best_rate(spnego_handshake, seconds=seconds)
    rows.append(("handshake/s (credential handles reused)", ours, theirs, "target >= 10x"))
    rows.append(("handshake/s (credentials acquired each time)", fresh, theirs, ""))

    oc, os_ = ours_handshake(cc, sc)
    pc, ps = spnego_handshake()
    ours = best_rate(lambda: os_.unwrap(oc.wrap(KIB)), seconds=seconds)
    theirs = best_rate(lambda: ps.unwrap(pc.wrap(KIB).data), seconds=seconds)  # type: ignore[attr-defined]
    rows.append(("1 KiB wrap+unwrap round trips/s", ours, theirs, "target >= 2x"))

    ours = best_rate(lambda: os_.unwrap(oc.wrap(MIB)), len(MIB), seconds=seconds) / 1e6
    theirs = best_rate(lambda: ps.unwrap(pc.wrap(MIB).data), len(MIB),  # type: ignore[attr-defined]
                       seconds=seconds) / 1e6
    floor = raw_rc4_hmac_md5_rate(MIB)
    rows.append(("1 MiB seal+unseal MB/s", ours, theirs, "target >= 1x"))
    rows.append(("1 MiB seal+unseal MB/s vs raw RC4+HMAC-MD5", ours, floor,
                 "target >= 0.9x (within 10%)"))

    width = max(len(r[0]) for r in rows)
    print(f"{'NTLM benchmark':<{width}}  {'opensspi':>12}  {'other':>12}  {'ratio':>7}")
    for label, a, b, note in rows:
        print(f"{label:<{width}}  {a:>12,.1f}  {b:>12,.1f}  {a / b:>6.2f}x  {note}")
    from importlib.metadata import version

    print(f"other = pyspnego {version('pyspnego')} (pure-Python NTLM), except the last row: "
          f"OpenSSL RC4 + HMAC-MD5. Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
