"""Tickets a client holds, and the process-wide cache that shares them between credential handles.

A :class:`ServiceTicket` is what RFC 4120 §3.1.5 / §3.3.4 let a client keep from a KDC reply: the
ticket (opaque, forwarded byte for byte), the session key and the times and flags from the
EncKDCRepPart (§5.4.2). The same record serves for ticket-granting tickets (the server is
``krbtgt/REALM@REALM``) and for cross-realm ones (``krbtgt/OTHER@THIS``).

:class:`TicketCache` is the logon session of DESIGN.md: "tickets obtained for an identity serve
every credential handle of that identity in the process". ``TicketCache.for_identity(client)``
returns the one cache of that client; credential handles acquired later for the same identity get
the same object, so a second connection neither repeats the AS exchange nor asks again for a
service ticket it already holds.

Partitions: a credential built from an explicit password must not be served tickets another
handle obtained with a different (right) password — that would let a wrong password "log on".
Such credentials pass ``partition`` (a keyed digest of the password, see
:mod:`.credentials`), and only handles with the same identity *and* password share a cache.
Handles built from the user's ccache or client keytab use the default partition, the equivalent
of the Windows logon session.

Single flight: when many contexts of one identity want the same service ticket at once (a
server starting 1,000 requests to one SPN), one of them — the leader — does the KDC exchange
and the others wait for its result instead of sending a TGS request each.
:meth:`TicketCache.join_flight` hands out one :class:`Flight` per server name; the leader
ends it with the ticket or the error, the others wait on it (a ``threading.Event`` for
threads, an asyncio future per waiting event loop; see :mod:`.singleflight` for how a
sans-I/O context waits).

Rules: thread-safe (one lock per cache, one for the registry); expired tickets are evicted on
every lookup; at most :data:`MAX_TICKETS` tickets per identity (the soonest to end go first);
no clock is read here — callers pass ``now``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import ClassVar

from ...errors import DecodeError, InvalidParameter, InvalidToken
from .asn1 import EncKdcRepPart, Ticket, TicketFlags
from .ccache import CcacheCredential
from .crypto import Key
from .names import Principal

__all__ = ["MAX_TICKETS", "Flight", "ServiceTicket", "TicketCache"]

_INVALID = int(TicketFlags.INVALID)  # a plain int: checked on every cache lookup

MAX_TICKETS = 4096
"""Tickets one identity's cache holds at most; beyond it the soonest to end are dropped."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_U32_MAX = 0xFFFFFFFF


def _to_posix(value: datetime | None) -> int:
    if value is None:
        return 0
    seconds = int((value - _EPOCH).total_seconds())
    return min(max(seconds, 0), _U32_MAX)


def _from_posix(value: int) -> datetime | None:
    return None if value == 0 else _EPOCH + timedelta(seconds=value)


@dataclass(frozen=True, slots=True)
class ServiceTicket:
    """A ticket and what the client knows about it (RFC 4120 §5.4.2 EncKDCRepPart).

    Attributes:
        client: the ticket's client (canonical, as the KDC returned it).
        server: the ticket's server (``krbtgt/REALM@REALM`` for a TGT).
        ticket: the Ticket; ``ticket.raw`` is sent unchanged.
        session_key: the session key (hidden in ``repr``).
        flags: TicketFlags (``TicketFlags.FORWARDABLE`` ...).
        authtime, starttime, endtime, renew_till: aware UTC datetimes; ``starttime`` and
            ``renew_till`` may be None.
        key_expiration: from the AS-REP, when the client's password expires (None if unknown).
    """

    client: Principal
    server: Principal
    ticket: Ticket = field(repr=False)
    session_key: Key = field(repr=False)
    flags: int
    authtime: datetime
    starttime: datetime | None
    endtime: datetime
    renew_till: datetime | None = None
    key_expiration: datetime | None = None

    @property
    def is_tgt(self) -> bool:
        """True for a ticket-granting ticket, local or cross-realm."""
        return self.server.is_tgs

    @property
    def effective_starttime(self) -> datetime:
        """``starttime``, or ``authtime`` when absent (RFC 4120 §5.3)."""
        return self.starttime or self.authtime

    def valid_at(self, now: datetime, skew: timedelta = timedelta(0)) -> bool:
        """Whether the ticket may be used at ``now``: started (within ``skew``) and not ended.

        RFC 4120 §3.1.5 / §5.3: a ticket is valid from ``starttime`` (or ``authtime``) until
        ``endtime``; ``INVALID`` tickets (postdated, not yet validated) never are.
        """
        if int(self.flags) & _INVALID:
            return False
        return self.effective_starttime <= now + skew and now < self.endtime

    @classmethod
    def from_reply(
        cls, client: Principal, ticket: Ticket, part: EncKdcRepPart
    ) -> ServiceTicket:
        """The record for a checked KDC reply (the caller has verified nonce and names).

        Raises:
            InvalidToken: the session key does not fit its enctype.
        """
        try:
            key = Key(part.key.keytype, part.key.keyvalue)
        except InvalidParameter as exc:
            raise InvalidToken(f"The KDC sent an unusable session key: {exc.message}") from None
        return cls(
            client=client,
            server=Principal(part.sname, part.srealm),
            ticket=ticket,
            session_key=key,
            flags=part.flags,
            authtime=part.authtime,
            starttime=part.starttime,
            endtime=part.endtime,
            renew_till=part.renew_till,
            key_expiration=part.key_expiration,
        )

    def to_ccache(self) -> CcacheCredential:
        """This ticket as an MIT ccache credential (times as unsigned POSIX seconds)."""
        return CcacheCredential(
            client=self.client.to_ccache(),
            server=self.server.to_ccache(),
            enctype=int(self.session_key.enctype),
            key=self.session_key.contents,
            authtime=_to_posix(self.authtime),
            starttime=_to_posix(self.starttime),
            endtime=_to_posix(self.endtime),
            renew_till=_to_posix(self.renew_till),
            is_skey=False,
            ticket_flags=int(self.flags) & _U32_MAX,
            ticket=self.ticket.raw,
        )

    @classmethod
    def from_ccache(cls, credential: CcacheCredential) -> ServiceTicket:
        """A ccache credential as a ticket record.

        Raises:
            InvalidToken: the stored ticket does not parse or the key does not fit its enctype.
        """
        try:
            ticket = Ticket.parse(credential.ticket)
            key = Key(credential.enctype, credential.key)
        except DecodeError as exc:
            raise InvalidToken(
                f"The cached ticket for {credential.server} is not a Kerberos ticket: {exc}"
            ) from None
        except InvalidParameter as exc:
            raise InvalidToken(
                f"The cached ticket for {credential.server} has a bad key: {exc.message}"
            ) from None
        authtime = _from_posix(credential.authtime) or _EPOCH
        return cls(
            client=Principal.from_ccache(credential.client),
            server=Principal.from_ccache(credential.server),
            ticket=ticket,
            session_key=key,
            flags=credential.ticket_flags,
            authtime=authtime,
            starttime=_from_posix(credential.starttime),
            endtime=_from_posix(credential.endtime) or _EPOCH,
            renew_till=_from_posix(credential.renew_till),
        )


_RegistryKey = tuple[tuple[str, ...], str, bytes]


class Flight:
    """One KDC exchange in progress for a ticket, which other contexts wait on.

    Ended exactly once by the leader (:meth:`TicketCache.end_flight`): with the ticket, with
    the error every waiter should see too, or with neither when the leader gave up (its context
    was dropped mid-exchange): the waiters then try again, one of them leading.
    """

    __slots__ = ("_event", "_lock", "_waiters", "error", "owner", "ticket")

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        """The thread that started the exchange: a waiter on that thread must not block."""
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.ticket: ServiceTicket | None = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def finish(self, ticket: ServiceTicket | None, error: BaseException | None) -> None:
        """Record the outcome and wake every waiter, threads and event loops."""
        with self._lock:
            self.ticket, self.error = ticket, error
            self._event.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with suppress(RuntimeError):  # a closed event loop: nobody is waiting there
                loop.call_soon_threadsafe(_resolve, future)

    def wait(self, timeout: float) -> bool:
        """Block this thread until the flight ends; False on time-out."""
        return self._event.wait(timeout)

    async def wait_async(self, timeout: float) -> bool:
        """Wait without blocking the event loop (the leader may be running on it); False on
        time-out."""
        if self._event.is_set():
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._event.is_set():
                return True
            self._waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
            return self._event.is_set()
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class TicketCache:
    """The tickets of one client identity, shared by every credential handle of that identity.

    Get one with :meth:`for_identity`. Keys are server principals (components and realm, not name
    type); a service ticket obtained under a canonicalized name is also filed under the name that
    was asked for.
    """

    _registry: ClassVar[dict[_RegistryKey, TicketCache]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, client: Principal) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._tickets: dict[tuple[tuple[str, ...], str], ServiceTicket] = {}
        self._ends: dict[str, datetime | None] = {}
        """:meth:`tgt_endtime` by realm; emptied by every change to ``_tickets``."""
        self._flights: dict[tuple[tuple[str, ...], str], Flight] = {}
        self.kdc_time_offset: timedelta | None = None
        """KDC clock minus ours, as a credential of this identity last measured it
        (``kdc_timesync``). The tickets here run on the KDC's clock, so every handle that
        shares them must stamp its authenticators with the same correction (MIT keeps it in
        the ccache header, Windows in the logon session)."""

    def __repr__(self) -> str:
        with self._lock:
            count = len(self._tickets)
        return f"<TicketCache {self.client} {count} tickets>"

    # -- the process-wide registry --------------------------------------------------------------

    @classmethod
    def for_identity(cls, client: Principal, *, partition: bytes = b"") -> TicketCache:
        """The cache of ``client`` in this process (created on first use).

        Args:
            client: the identity (name type ignored).
            partition: separates credentials that must not share tickets (explicit passwords;
                see the module docstring). The default is the shared logon session.
        """
        key = (client.components, client.realm, bytes(partition))
        with cls._registry_lock:
            cache = cls._registry.get(key)
            if cache is None:
                cache = cls._registry[key] = cls(client)
            return cache

    @classmethod
    def forget_all(cls) -> None:
        """Drop every identity's cache (``klist purge`` for the process; tests use it)."""
        with cls._registry_lock:
            caches = list(cls._registry.values())
            cls._registry.clear()
        for cache in caches:
            cache.clear()

    # -- tickets --------------------------------------------------------------------------------

    def store(self, ticket: ServiceTicket, *, requested: Principal | None = None) -> None:
        """File ``ticket`` under its server (and under ``requested`` when that name differs)."""
        with self._lock:
            self._tickets[ticket.server.key] = ticket
            self._ends.clear()
            if requested is not None and requested != ticket.server:
                self._tickets[requested.key] = ticket
            if len(self._tickets) > MAX_TICKETS:
                self._shrink()

    def store_all(self, tickets: Iterable[ServiceTicket], now: datetime) -> int:
        """Add tickets (from a ccache) that are still valid and last longer than what is held.

        Returns:
            How many were taken.
        """
        taken = 0
        with self._lock:
            for ticket in tickets:
                if now >= ticket.endtime:
                    continue
                held = self._tickets.get(ticket.server.key)
                if held is None or held.endtime < ticket.endtime:
                    self._tickets[ticket.server.key] = ticket
                    self._ends.clear()
                    taken += 1
        return taken

    def get(
        self, server: Principal, now: datetime, skew: timedelta = timedelta(0)
    ) -> ServiceTicket | None:
        """The ticket for ``server`` valid at ``now``, or None (expired ones are dropped)."""
        with self._lock:
            self._evict(now)
            ticket = self._tickets.get(server.key)
        if ticket is not None and ticket.valid_at(now, skew):
            return ticket
        return None

    def tgt(
        self, realm: str, now: datetime, skew: timedelta = timedelta(0)
    ) -> ServiceTicket | None:
        """A ticket-granting ticket for the KDC of ``realm`` valid at ``now``, or None.

        The local ``krbtgt/realm@realm`` is preferred; otherwise a cross-realm
        ``krbtgt/realm@OTHER`` obtained through referrals.
        """
        with self._lock:
            self._evict(now)
            local = self._tickets.get((("krbtgt", realm), realm))
            candidates = [local] if local is not None else []
            candidates += [
                t for t in self._tickets.values()
                if t.server.tgs_realm == realm and t is not local
            ]
        for ticket in candidates:
            if ticket.valid_at(now, skew):
                return ticket
        return None

    def tgt_endtime(self, realm: str) -> datetime | None:
        """The latest end time of the TGTs held for the KDC of ``realm`` (a credential's
        expiry, asked at every acquisition), or None. Remembered until the tickets change."""
        with self._lock:
            memo = self._ends
            if realm in memo:
                return memo[realm]
            ends = [t.endtime for t in self._tickets.values() if t.server.tgs_realm == realm]
            found = memo[realm] = max(ends) if ends else None
        return found

    def discard(self, server: Principal) -> None:
        """Forget the ticket(s) for ``server`` (e.g. one the KDC called expired)."""
        with self._lock:
            dropped = self._tickets.pop(server.key, None)
            self._ends.clear()
            if dropped is not None:
                for key in [k for k, t in self._tickets.items() if t is dropped]:
                    del self._tickets[key]

    def tickets(self) -> tuple[ServiceTicket, ...]:
        """Every ticket held (without duplicates), TGTs first."""
        with self._lock:
            unique = list({id(t): t for t in self._tickets.values()}.values())
        return tuple(sorted(unique, key=lambda t: not t.is_tgt))

    def clear(self) -> None:
        with self._lock:
            self._tickets.clear()
            self._ends.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._tickets)

    # -- single flight --------------------------------------------------------------------------

    def join_flight(self, server: Principal) -> tuple[Flight, bool]:
        """The exchange in progress for ``server``: ``(flight, False)`` to wait on, or a new one
        and True when the caller is to lead it (and must end it with :meth:`end_flight`)."""
        with self._lock:
            flight = self._flights.get(server.key)
            if flight is not None and not flight.done:
                return flight, False
            flight = self._flights[server.key] = Flight()
            return flight, True

    def end_flight(
        self, server: Principal, flight: Flight, ticket: ServiceTicket | None = None,
        error: BaseException | None = None,
    ) -> None:
        """End the flight the caller leads (see :class:`Flight`) and wake its waiters."""
        with self._lock:
            if self._flights.get(server.key) is flight:
                del self._flights[server.key]
        flight.finish(ticket, error)

    def flights(self) -> int:
        """How many exchanges are in progress (diagnostics and tests)."""
        with self._lock:
            return len(self._flights)

    def _shrink(self) -> None:
        # Over MAX_TICKETS: drop service tickets soonest to end first (TGTs are kept: every
        # other ticket depends on them), down to 3/4 of the cap so this runs rarely.
        keep = MAX_TICKETS * 3 // 4
        order = sorted(
            (k for k, t in self._tickets.items() if not t.is_tgt),
            key=lambda k: self._tickets[k].endtime,
        )
        for key in order[: max(0, len(self._tickets) - keep)]:
            del self._tickets[key]
        self._ends.clear()

    def _evict(self, now: datetime) -> None:
        expired = [k for k, t in self._tickets.items() if now >= t.endtime]
        for key in expired:
            del self._tickets[key]
        if expired:
            self._ends.clear()

