"""Many contexts at once: 1,000 concurrent NTLM and Kerberos authentications.

Run from the repository root::

    python bench/scale.py                   # everything (a few seconds)
    python bench/scale.py --contexts 200    # fewer
    python bench/scale.py --run kerberos-threads 3   # one workload N times, for profiling:
    python -m cProfile -s tottime bench/scale.py --run kerberos-asyncio 1

What it does (everything in this process; the KDC is opensspi.testing.kdc.MiniKdc serving UDP
and TCP on 127.0.0.1, counting the requests it answers):

- ``ntlm-threads`` / ``ntlm-asyncio``: N client and N server contexts exist at once; every
  handshake (NEGOTIATE, CHALLENGE, AUTHENTICATE) runs on a thread pool, or as N asyncio tasks
  through ``Context.step_async``. One credential handle per side, as a server keeps its own.
- ``kerberos-threads`` / ``kerberos-asyncio``: N clients of one user to one SPN, each with its
  own credential handle (separate requests), all started together with the ticket cache cold
  (``TicketCache.forget_all()``); then every AP-REQ is accepted (one acceptor credential) and
  its AP-REP verified. The KDC requests made are printed: with the single flight, one AS
  exchange (two requests: pre-authentication) and one TGS request, however many contexts.
- memory: tracemalloc's growth for N established pairs kept alive (after one message each
  way), per pair and per context; the caches are warmed first so only contexts are counted.

Printed: handshakes per second (both sides, wall clock), KDC requests by type, bytes per
context. Not a test: nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

try:
    import opensspi
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import opensspi

from opensspi import AuthIdentity, CredentialUse, Environment, IscReq
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.testing.kdc import MiniKdc

REALM, USER, PASSWORD, SPN = "SCALE.TEST", "alice", "Sc4le-Passw0rd!", "HTTP/web.scale.test"
FLAGS = (IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY | IscReq.INTEGRITY
         | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT)
NTLM_FLAGS = IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.REPLAY_DETECT


class CountingKdc(MiniKdc):
    """MiniKdc counting the requests it answers: AS-REQ [APPLICATION 10], TGS-REQ [12]."""

    def __init__(self) -> None:
        super().__init__(REALM, env=Environment())
        self.counts: Counter[str] = Counter()
        self._counting = threading.Lock()

    def handle(self, request: bytes | bytearray | memoryview) -> bytes:
        kind = {0x6A: "AS", 0x6C: "TGS"}.get(bytes(request[:1])[0], "other")
        with self._counting:
            self.counts[kind] += 1
        return super().handle(request)


def run(fn: Callable[[], object], n: int) -> None:
    """Call ``fn`` ``n`` times: the plain loop to profile."""
    for _ in range(n):
        fn()


# -- NTLM ----------------------------------------------------------------------------------------


def _ntlm_creds() -> tuple[opensspi.Credential, opensspi.Credential]:
    client = opensspi.credentials("NTLM", user=USER, domain=REALM, password=PASSWORD)
    server = opensspi.credentials("NTLM", use=CredentialUse.INBOUND,
                                  auth_data={f"{REALM}\\{USER}": PASSWORD})
    return client, server


def _ntlm_pairs(n: int) -> list[tuple[opensspi.Context, opensspi.Context]]:
    cc, sc = _ntlm_creds()
    return [(opensspi.client("NTLM", credential=cc, target=SPN, flags=NTLM_FLAGS),
             opensspi.server("NTLM", credential=sc)) for _ in range(n)]


def _ntlm_handshake(pair: tuple[opensspi.Context, opensspi.Context]) -> None:
    client, server = pair
    server.step(client.step(server.step(client.step())))
    if not (client.complete and server.complete):
        raise SystemExit("an NTLM handshake did not complete")


async def _ntlm_handshake_async(pair: tuple[opensspi.Context, opensspi.Context]) -> None:
    client, server = pair
    token = await client.step_async()
    token = await server.step_async(token)
    token = await client.step_async(token)
    await server.step_async(token)
    if not (client.complete and server.complete):
        raise SystemExit("an NTLM handshake did not complete")


def ntlm_threads(n: int, workers: int) -> dict[str, float]:
    pairs = _ntlm_pairs(n)
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(_ntlm_handshake, pairs))
    return {"handshakes/s": n / (time.perf_counter() - start)}


def ntlm_asyncio(n: int) -> dict[str, float]:
    pairs = _ntlm_pairs(n)

    async def main() -> None:
        await asyncio.gather(*(_ntlm_handshake_async(pair) for pair in pairs))

    start = time.perf_counter()
    asyncio.run(main())
    return {"handshakes/s": n / (time.perf_counter() - start)}


# -- Kerberos ------------------------------------------------------------------------------------


class Realm:
    """A MiniKdc serving on 127.0.0.1 with alice and the web service, and the service keytab."""

    def __init__(self) -> None:
        self.kdc = CountingKdc()
        self.kdc.add_user(USER, PASSWORD)
        self.kdc.add_service(SPN)
        self._serving = self.kdc.serve()
        self._serving.__enter__()
        self.directory = Path(tempfile.mkdtemp(prefix="opensspi-bench-scale-"))
        self.keytab = self.kdc.write_keytab(self.directory / "web.keytab", SPN)
        self.config = self.kdc.krb5_config()
        self.server_cred = opensspi.credentials(
            "Kerberos", use=CredentialUse.INBOUND,
            auth_data=KerberosAuthData(acceptor_keytab=str(self.keytab), config=self.config))

    def close(self) -> None:
        self._serving.__exit__(None, None, None)

    def client(self) -> opensspi.Context:
        auth = KerberosAuthData(identity=AuthIdentity(USER, REALM, PASSWORD), config=self.config)
        return opensspi.client("Kerberos", target=SPN, flags=FLAGS, auth_data=auth)

    def server(self) -> opensspi.Context:
        return opensspi.server("Kerberos", credential=self.server_cred)

    def cold(self) -> None:
        TicketCache.forget_all()
        ReplayCache.shared().clear()
        self.kdc.counts.clear()


def _finish(realm: Realm, clients: list[opensspi.Context], tokens: list[bytes | None]) -> None:
    for client, token in zip(clients, tokens, strict=True):
        server = realm.server()
        client.step(server.step(token))
        if not (client.complete and server.complete):
            raise SystemExit("a Kerberos handshake did not complete")


def kerberos_threads(realm: Realm, n: int, workers: int) -> dict[str, float]:
    realm.cold()
    clients = [realm.client() for _ in range(n)]

    def first(client: opensspi.Context) -> bytes | None:
        return client.step()

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        tokens = list(pool.map(first, clients))

        def rest(index: int) -> None:
            _finish(realm, [clients[index]], [tokens[index]])

        list(pool.map(rest, range(n)))
    elapsed = time.perf_counter() - start
    return {"handshakes/s": n / elapsed, "AS": realm.kdc.counts["AS"],
            "TGS": realm.kdc.counts["TGS"]}


def kerberos_asyncio(realm: Realm, n: int) -> dict[str, float]:
    realm.cold()
    clients = [realm.client() for _ in range(n)]

    async def one(client: opensspi.Context) -> None:
        token = await client.step_async()
        server = realm.server()
        reply = await server.step_async(token)
        await client.step_async(reply)
        if not (client.complete and server.complete):
            raise SystemExit("a Kerberos handshake did not complete")

    async def main() -> None:
        await asyncio.gather(*(one(client) for client in clients))

    start = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - start
    return {"handshakes/s": n / elapsed, "AS": realm.kdc.counts["AS"],
            "TGS": realm.kdc.counts["TGS"]}


# -- memory --------------------------------------------------------------------------------------


def memory_per_pair(make: Callable[[], tuple[opensspi.Context, opensspi.Context]],
                    n: int) -> float:
    """tracemalloc growth per established pair (one message each way), ``n`` kept alive."""
    for _ in range(3):  # warm every cache (tickets, opened tickets, parsed files, key schedules)
        make()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [make() for _ in range(n)]
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del kept
    return grown / n


def _ntlm_established() -> Callable[[], tuple[opensspi.Context, opensspi.Context]]:
    cc, sc = _ntlm_creds()

    def make() -> tuple[opensspi.Context, opensspi.Context]:
        pair = (opensspi.client("NTLM", credential=cc, target=SPN, flags=NTLM_FLAGS),
                opensspi.server("NTLM", credential=sc))
        _ntlm_handshake(pair)
        pair[1].unwrap(pair[0].wrap(b"x"))
        pair[0].unwrap(pair[1].wrap(b"y"))
        return pair

    return make


def _kerberos_established(realm: Realm) -> Callable[[], tuple[opensspi.Context, opensspi.Context]]:
    auth = KerberosAuthData(identity=AuthIdentity(USER, REALM, PASSWORD), config=realm.config)
    cred = opensspi.credentials("Kerberos", auth_data=auth)

    def make() -> tuple[opensspi.Context, opensspi.Context]:
        client = opensspi.client("Kerberos", target=SPN, flags=FLAGS, credential=cred)
        server = realm.server()
        client.step(server.step(client.step()))
        server.unwrap(client.wrap(b"x"))
        client.unwrap(server.wrap(b"y"))
        return client, server

    return make


# -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=1000, help="concurrent contexts (1000)")
    parser.add_argument("--workers", type=int, default=100, help="threads in the pool (100)")
    parser.add_argument("--run", nargs=2, metavar=("WORKLOAD", "N"),
                        help="run one workload N times (for profiling)")
    args = parser.parse_args()
    n, workers = args.contexts, args.workers
    realm = Realm()
    try:
        loads: dict[str, Callable[[], object]] = {
            "ntlm-threads": lambda: ntlm_threads(n, workers),
            "ntlm-asyncio": lambda: ntlm_asyncio(n),
            "kerberos-threads": lambda: kerberos_threads(realm, n, workers),
            "kerberos-asyncio": lambda: kerberos_asyncio(realm, n),
        }
        if args.run:
            name, count = args.run
            if name not in loads:
                raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(loads)}")
            run(loads[name], int(count))
            return
        print(f"{n} concurrent contexts; threads: a pool of {workers}; KDC: MiniKdc on "
              f"127.0.0.1 (UDP); Python {sys.version.split()[0]}")
        for name, fn in loads.items():
            result = fn()
            assert isinstance(result, dict)
            kdc = (f"   KDC requests: AS {result['AS']:.0f}, TGS {result['TGS']:.0f}"
                   if "AS" in result else "")
            print(f"  {name:<18} {result['handshakes/s']:9,.0f} handshakes/s{kdc}")
        sample = min(n, 500)
        ntlm = memory_per_pair(_ntlm_established(), sample)
        krb = memory_per_pair(_kerberos_established(realm), sample)
        print(f"memory per established pair (tracemalloc, {sample} kept, after one message each "
              "way):")
        print(f"  NTLM      {ntlm:8,.0f} B per pair   {ntlm / 2:8,.0f} B per context")
        print(f"  Kerberos  {krb:8,.0f} B per pair   {krb / 2:8,.0f} B per context")
    finally:
        realm.close()


if __name__ == "__main__":
    main()
