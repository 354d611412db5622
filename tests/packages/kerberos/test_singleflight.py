"""Single flight: concurrent contexts of one identity share one KDC exchange per ticket.

Counted at the KDC (opensspi.testing.kdc.MiniKdc over UDP on 127.0.0.1): 200 contexts started
at once with a cold ticket cache send one AS exchange and exactly one TGS request, with threads
(the blocking door) and with asyncio (``Context.step_async``); a leader's error reaches every
waiter without more requests; a driver that does not know the wait request still works.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import opensspi
from opensspi import AuthIdentity, Environment, IscReq
from opensspi.errors import LogonDenied
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.names import Principal
from opensspi.packages.kerberos.singleflight import SharedKdcRequest, shared_exchange
from opensspi.packages.kerberos.tickets import MAX_TICKETS, ServiceTicket, TicketCache
from opensspi.provider import KdcRequest
from opensspi.testing.kdc import MiniKdc

REALM = "EXAMPLE.TEST"
PASSWORD = "Al1ce-Passw0rd!"
WEB = "HTTP/web.example.test"
CONTEXTS = 200


class CountingKdc(MiniKdc):
    """A MiniKdc that counts the requests it answers by message type (AS-REQ 10, TGS-REQ 12)."""

    def __init__(self) -> None:
        super().__init__(REALM, env=Environment())
        self.counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def handle(self, request: bytes | bytearray | memoryview) -> bytes:
        kind = {0x6A: "AS", 0x6C: "TGS"}.get(bytes(request[:1])[0], "other")
        with self._count_lock:
            self.counts[kind] += 1
        return super().handle(request)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    TicketCache.forget_all()
    ReplayCache.shared().clear()
    yield
    TicketCache.forget_all()
    ReplayCache.shared().clear()


@pytest.fixture
def kdc() -> CountingKdc:
    kdc = CountingKdc()
    kdc.add_user("alice", PASSWORD)
    kdc.add_service(WEB)
    return kdc


def _client(kdc: MiniKdc, password: str = PASSWORD) -> opensspi.Context:
    # A credential handle per context, as a server handling separate requests acquires them;
    # they share the identity's ticket cache (same user and password).
    auth = KerberosAuthData(identity=AuthIdentity("alice", REALM, password),
                            config=kdc.krb5_config())
    return opensspi.client("Kerberos", target=WEB, flags=IscReq.MUTUAL_AUTH, auth_data=auth)


def _server(kdc: MiniKdc, tmp_path: Path) -> opensspi.Context:
    keytab = kdc.write_keytab(tmp_path / "web.keytab", WEB)
    auth = KerberosAuthData(acceptor_keytab=str(keytab), config=kdc.krb5_config())
    return opensspi.server("Kerberos", auth_data=auth)


def test_threads_share_one_tgs_request(kdc: CountingKdc, tmp_path: Path) -> None:
    with kdc.serve():
        clients = [_client(kdc) for _ in range(CONTEXTS)]
        tokens: list[bytes | None] = [None] * CONTEXTS
        errors: list[BaseException] = []
        start = threading.Barrier(CONTEXTS)

        def run(index: int) -> None:
            try:
                start.wait()
                tokens[index] = clients[index].step()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(CONTEXTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        assert kdc.counts["TGS"] == 1
        assert kdc.counts["AS"] == 2  # one AS exchange: PREAUTH_REQUIRED, then with PA-ENC-TS
        # every context got a usable AP-REQ with the one ticket
        assert all(token for token in tokens)
        for client, token in zip(clients[:3], tokens[:3], strict=True):
            server = _server(kdc, tmp_path)
            client.step(server.step(token))
            assert client.complete and server.complete
        assert clients[0].context._cred.cache.flights() == 0  # type: ignore[attr-defined]


def test_asyncio_shares_one_tgs_request(kdc: CountingKdc, tmp_path: Path) -> None:
    async def main() -> list[bytes | None]:
        clients = [_client(kdc) for _ in range(CONTEXTS)]
        return list(await asyncio.gather(*(client.step_async() for client in clients)))

    with kdc.serve():
        tokens = asyncio.run(main())
        assert kdc.counts["TGS"] == 1
        assert kdc.counts["AS"] == 2
        assert all(token for token in tokens)
        server = _server(kdc, tmp_path)
        assert server.step(tokens[-1]) is not None and server.complete


def test_a_leaders_error_reaches_every_waiter_without_more_requests(kdc: CountingKdc) -> None:
    with kdc.serve():
        clients = [_client(kdc, password="wrong") for _ in range(50)]
        errors: list[BaseException] = []
        start = threading.Barrier(len(clients))

        def run(client: opensspi.Context) -> None:
            start.wait()
            try:
                client.step()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(errors) == len(clients)
        assert all(isinstance(exc, LogonDenied) for exc in errors)
        assert len({str(exc) for exc in errors}) == 1  # the leader's message, once each
        assert len({id(exc) for exc in errors}) == len(errors)  # each waiter its own copy
        assert kdc.counts["AS"] == 2 and kdc.counts["TGS"] == 0


# -- shared_exchange on its own: scripted exchanges, no KDC -----------------------------------

T0 = datetime(2031, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
SPN = Principal.parse(f"{WEB}@{REALM}")


def _ticket(name: str = WEB, hours: int = 10) -> ServiceTicket:
    from opensspi.packages.kerberos import asn1 as k
    from opensspi.packages.kerberos.crypto import Key

    server = Principal.parse(f"{name}@{REALM}")
    ticket = k.Ticket(realm=REALM, sname=server.name,
                      enc_part=k.EncryptedData(etype=18, cipher=b"x" * 40))
    return ServiceTicket(client=Principal.parse(f"alice@{REALM}"), server=server, ticket=ticket,
                         session_key=Key(18, bytes(32)), flags=0, authtime=T0, starttime=None,
                         endtime=T0 + timedelta(hours=hours))


def _scripted(cache: TicketCache, result: ServiceTicket, log: list[bytes]):  # type: ignore[no-untyped-def]
    def fetch():  # type: ignore[no-untyped-def]
        reply = yield KdcRequest(REALM, b"own request")
        log.append(reply)
        cache.store(result)
        return result

    return fetch


def test_an_async_follower_waits_and_takes_the_leaders_ticket() -> None:
    cache = TicketCache(Principal.parse(f"alice@{REALM}"))
    ticket = _ticket()

    async def main() -> None:
        leader = shared_exchange(cache, SPN, _scripted(cache, ticket, []), 5.0)
        assert next(leader).data == b"own request"  # the leader's request is on the wire
        follower = shared_exchange(cache, SPN, _scripted(cache, ticket, []), 5.0)
        wait = next(follower)
        assert isinstance(wait, SharedKdcRequest) and wait.data == b"own request"
        waiting = asyncio.ensure_future(wait.wait_async())
        await asyncio.sleep(0)
        assert not waiting.done()
        with pytest.raises(StopIteration) as led:
            leader.send(b"reply")
        assert led.value.value is ticket
        await asyncio.wait_for(waiting, 1)
        with pytest.raises(StopIteration) as followed:
            follower.send(b"")  # what Context.step_async sends after the wait
        assert followed.value.value is ticket
        assert cache.flights() == 0

    asyncio.run(main())


def test_a_driver_that_ignores_the_wait_runs_the_followers_own_exchange() -> None:
    cache = TicketCache(Principal.parse(f"alice@{REALM}"))
    log: list[bytes] = []

    async def main() -> None:
        leader = shared_exchange(cache, SPN, _scripted(cache, _ticket(), []), 5.0)
        next(leader)
        own = _ticket(hours=5)
        follower = shared_exchange(cache, SPN, _scripted(cache, own, log), 5.0)
        assert next(follower).data == b"own request"
        # an unaware driver sends it as the KDC request it also is
        with pytest.raises(StopIteration) as done:
            follower.send(b"real reply")
        assert done.value.value is own and log == [b"real reply"]
        leader.close()

    asyncio.run(main())
    assert cache.flights() == 0


def test_a_dropped_leader_lets_a_waiter_lead() -> None:
    cache = TicketCache(Principal.parse(f"alice@{REALM}"))
    leader = shared_exchange(cache, SPN, _scripted(cache, _ticket(), []), 5.0)
    next(leader)
    flight, leads = cache.join_flight(SPN)
    assert not leads
    leader.close()  # the context was dropped mid-exchange
    assert flight.done and flight.ticket is None and flight.error is None
    assert cache.join_flight(SPN)[1]  # the next one leads


def test_the_ticket_cache_is_bounded_and_keeps_tgts() -> None:
    cache = TicketCache(Principal.parse(f"alice@{REALM}"))
    tgt = _ticket(f"krbtgt/{REALM}", hours=1)
    cache.store(tgt)
    for index in range(MAX_TICKETS + 10):
        cache.store(_ticket(f"HTTP/host{index}.example.test", hours=2 + index % 7))
    assert len(cache) <= MAX_TICKETS
    assert cache.tgt(REALM, T0) is tgt
    # expired tickets are evicted on lookup
    assert cache.get(SPN, T0 + timedelta(days=1)) is None
    assert len(cache) == 0


def test_a_follower_on_the_leaders_thread_does_not_wait() -> None:
    # Two contexts stepped by hand on one thread: the leader's request is not delivered until
    # this thread does it, so the follower must not block on it (it would only time out).
    cache = TicketCache(Principal.parse(f"alice@{REALM}"))
    leader = shared_exchange(cache, SPN, _scripted(cache, _ticket(), []), 30.0)
    next(leader)
    own = _ticket(hours=3)
    log: list[bytes] = []
    follower = shared_exchange(cache, SPN, _scripted(cache, own, log), 30.0)
    request = next(follower)  # returns at once
    assert not isinstance(request, SharedKdcRequest) and request.data == b"own request"
    with pytest.raises(StopIteration) as done:
        follower.send(b"its reply")
    assert done.value.value is own and log == [b"its reply"]
    leader.close()


def test_tgt_endtime_is_remembered_until_the_tickets_change() -> None:
    # A credential's expiry is asked at every acquisition; the answer is kept per realm and
    # forgotten by every change that could move it.
    cache = TicketCache(Principal.parse(f"alice@{REALM}"))
    tgt_name = f"krbtgt/{REALM}"
    assert cache.tgt_endtime(REALM) is None
    cache.store(_ticket(tgt_name, hours=10))
    assert cache.tgt_endtime(REALM) == T0 + timedelta(hours=10)
    cache.store(_ticket(WEB, hours=20))  # a service ticket: not a TGT, the answer stays
    assert cache.tgt_endtime(REALM) == T0 + timedelta(hours=10)
    assert cache.store_all([_ticket(tgt_name, hours=12)], T0) == 1
    assert cache.tgt_endtime(REALM) == T0 + timedelta(hours=12)
    cache.discard(Principal.parse(f"{tgt_name}@{REALM}"))
    assert cache.tgt_endtime(REALM) is None
    cache.store(_ticket(tgt_name, hours=1))
    assert cache.tgt_endtime(REALM) == T0 + timedelta(hours=1)
    assert cache.get(SPN, T0 + timedelta(hours=2)) is not None  # evicts the TGT
    assert cache.tgt_endtime(REALM) is None
    cache.store(_ticket(tgt_name, hours=3))
    cache.clear()
    assert cache.tgt_endtime(REALM) is None
