"""Single flight for service tickets: concurrent contexts share one KDC exchange.

A server that opens 1,000 connections to one SPN at once, with a cold ticket cache, would
otherwise send 1,000 TGS requests (and, without a TGT, 1,000 AS requests). Here the first
context to miss the cache leads: it runs the exchange as before; every other context of the
same identity that wants the same server while it runs waits for the leader's ticket (or its
error) and takes it from the cache. Keyed by the identity's :class:`~.tickets.TicketCache`
(identity and password partition) and the server name.

How a sans-I/O context waits (contexts never block on I/O; the caller delivers requests):

- Threads (``opensspi.sspi`` and ``Context.step``, which step with the blocking transport):
  no event loop runs in the thread, so the follower's exchange blocks that thread on the
  flight's ``threading.Event`` inside ``step`` — what the thread would do anyway while its
  own request was on the wire. The leader runs in another thread and is unaffected.
- asyncio (``Context.step_async``): blocking would stop the event loop the leader needs, so
  the follower yields a :class:`SharedKdcRequest`. A driver that knows it awaits
  :meth:`SharedKdcRequest.wait_async` and steps again with an empty reply; the follower then
  takes the leader's ticket. A driver that does not know it sees an ordinary
  :class:`~opensspi.provider.KdcRequest`: the follower's own first request, so sending it and
  stepping with the reply just runs the follower's own exchange (correct, only not shared).

A follower on the thread that started the leader's exchange (contexts stepped by hand,
interleaved, on one thread) does not wait: the leader cannot progress until that thread
delivers its request, so the follower does its own exchange at once.

Bounds: a follower waits at most :func:`wait_limit` seconds (the longest a KDC exchange can
take with the credential's ``kdc_timeout`` and ``max_retries``), then does its own exchange.
A leader whose context is dropped mid-exchange ends its flight empty, and the waiters try
again (one of them leading). An error the leader gets (wrong password, unknown SPN) is
raised in every waiter: 1,000 contexts with a wrong password send one AS request, not 1,000.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass

from ...provider import KdcRequest
from .names import Principal
from .tickets import Flight, ServiceTicket, TicketCache

__all__ = ["SharedKdcRequest", "shared_exchange", "wait_limit"]

Exchange = Generator[KdcRequest, bytes, ServiceTicket]

WAIT_EXCHANGES = 4
"""A service ticket takes at most this many KDC round trips in the common case (AS twice with
pre-authentication, then TGS, or a referral): the follower's wait limit covers them all."""


def wait_limit(kdc_timeout: float, max_retries: int) -> float:
    """How long a follower waits for the leader before doing its own exchange (seconds)."""
    return max(1.0, kdc_timeout * max_retries * WAIT_EXCHANGES)


@dataclass(frozen=True, slots=True)
class SharedKdcRequest(KdcRequest):
    """A follower's request: wait for the leader, or (to a driver that does not know this
    class) send the follower's own first request. See the module notes."""

    flight: Flight | None = None
    limit: float = 30.0

    async def wait_async(self) -> None:
        """Wait (without blocking the loop) until the leader's exchange ends or the limit."""
        if self.flight is not None:
            await self.flight.wait_async(self.limit)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def shared_exchange(
    cache: TicketCache, server: Principal, fetch: Callable[[], Exchange], limit: float
) -> Exchange:
    """Get the ticket for ``server`` with ``fetch`` (a KDC exchange that files it in
    ``cache``), one exchange shared between concurrent callers (see the module notes)."""
    while True:
        flight, leader = cache.join_flight(server)
        if leader:
            try:
                ticket = yield from fetch()
            except GeneratorExit:
                cache.end_flight(server, flight)  # dropped mid-exchange: let another lead
                raise
            except Exception as exc:
                cache.end_flight(server, flight, error=exc)
                raise
            cache.end_flight(server, flight, ticket=ticket)
            return ticket
        if not _in_event_loop():
            if flight.owner == threading.get_ident():
                # The leader was started on this thread and waits for this thread to deliver
                # its request (contexts stepped by hand, interleaved): blocking would only
                # wait out the limit. Do our own exchange.
                break
            if not flight.wait(limit):
                break  # the leader is stuck: do our own exchange
        else:
            own = fetch()
            try:
                first = next(own)
            except StopIteration as done:  # it needed no KDC after all
                result: ServiceTicket = done.value
                return result
            reply = yield SharedKdcRequest(
                first.realm, first.data, first.kdcs, first.timeout, first.max_retries,
                first.udp_preference_limit, flight=flight, limit=limit,
            )
            if reply:
                # A driver that does not know SharedKdcRequest sent our own request.
                ticket = yield from _resume(own, reply)
                return ticket
            own.close()
            if not flight.done:
                # The wait timed out: send our own request after all.
                own = fetch()
                ticket = yield from own
                return ticket
        if flight.ticket is not None:
            return flight.ticket
        if flight.error is not None:
            raise _fresh(flight.error)
        # The leader gave up without a result: go round, one of the waiters leads now.
    ticket = yield from fetch()
    return ticket


def _fresh(error: BaseException) -> BaseException:
    """A copy of the leader's exception for one waiter: the same type, message and attributes
    (status, krb_error), its own traceback (waiters on many threads raise it at once)."""
    clone = BaseException.__new__(type(error))
    clone.args = error.args
    if hasattr(error, "__dict__"):
        clone.__dict__.update(error.__dict__)
    return clone


def _resume(exchange: Exchange, reply: bytes) -> Exchange:
    """Continue ``exchange`` after its first request was answered with ``reply``."""
    try:
        request = exchange.send(reply)
        while True:
            request = exchange.send((yield request))
    except StopIteration as done:
        result: ServiceTicket = done.value
        return result
