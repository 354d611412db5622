"""Acceptor helpers: open a service ticket with the keytab, and remember authenticators.

RFC 4120 §3.2.3 "Receipt of KRB_AP_REQ Message" (https://www.rfc-editor.org/rfc/rfc4120#section-
3.2.3): the server finds its key by the ticket's ``sname``, ``kvno`` and ``etype``, decrypts the
ticket (key usage 2), refuses tickets that are not yet valid or have expired ("within allowable
clock skew"), and keeps a replay cache of authenticators for as long as their timestamps would
still be accepted.

Decisions (each documented where it is made):

- Key choice follows MIT's ``rd_req_decoded``: the key of the ticket's principal, enctype and
  kvno first; when no key has that kvno (keytab rotated, kvno wrapped at 255 in the 8-bit field),
  every key of that principal and enctype is tried.
- A ticket no key opens gives :class:`~opensspi.errors.LogonDenied` (``krb_error`` 31,
  KRB_AP_ERR_BAD_INTEGRITY, MIT's code for it): the client's ticket is useless to us, which for
  the caller is a refused logon, and the reference B.10 pairs SEC_E_LOGON_DENIED with
  BAD_INTEGRITY. A ticket for a principal the keytab (or the ``allowed`` restriction) does not
  hold is :class:`~opensspi.errors.WrongPrincipal` (KRB_AP_ERR_NOT_US, 35); a principal held
  but not in that enctype is ``AlgorithmMismatch``.
- Not yet valid is ``TimeSkew`` (KRB_AP_ERR_TKT_NYV, 33); expired is ``ContextExpired``
  (KRB_AP_ERR_TKT_EXPIRED, 32).
- :class:`OpenedTickets` (one per acceptor credential) keeps the keytab's :class:`Key` objects,
  so each key's schedules are derived once, and the tickets recently opened, so a client that
  reuses its service ticket (every HTTP connection of a browser does) costs no ticket
  decryption and its session key's derived keys are reused. Deviation: MIT decrypts every
  ticket again. The result is the same bytes-for-bytes (decryption is deterministic under an
  unchanged keytab); the time checks run on every use.
"""

from __future__ import annotations

import hashlib
import heapq
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar, TypeVar

from ...errors import DecodeError, InvalidParameter, InvalidToken, MessageAltered
from .asn1 import EncTicketPart, ErrorCode, Ticket, TicketFlags
from .crypto import Key, decrypt, enctype_name
from .kdc import (
    EtypeNotSupported,
    KdcLogonDenied,
    KdcTicketExpired,
    KdcTimeSkew,
    KdcWrongPrincipal,
    ReplayDetected,
)
from .keytab import Keytab, KeytabEntry
from .names import Principal

T = TypeVar("T")
_INVALID = int(TicketFlags.INVALID)  # a plain int: IntFlag arithmetic on every AP-REQ is slow

__all__ = ["OpenedTickets", "ReplayCache", "decrypt_ticket", "decrypt_ticket_keyed",
           "decrypt_u2u_ticket", "find_keys"]


def find_keys(keytab: Keytab, server: Principal, enctype: int, kvno: int | None) -> list[Key]:
    """The keys to try for a ticket to ``server`` (RFC 4120 §3.2.3), best first.

    Keys of ``kvno`` first, then — MIT's fallback — the other keys of that principal and enctype,
    newest first.

    Raises:
        KdcWrongPrincipal: the keytab has no key at all for ``server``.
        EtypeNotSupported: it has keys for ``server``, but none of ``enctype``.
    """
    wanted = server.to_ccache()
    mine = [e for e in keytab.entries if e.principal.same_name(wanted)]
    if not mine:
        raise KdcWrongPrincipal(
            f"The ticket is for {server}, which the acceptor keytab holds no key for; the client "
            "used the wrong target name, or the keytab is not this service's.",
            krb_error=ErrorCode.KRB_AP_ERR_NOT_US,
        )
    typed = [e for e in mine if e.enctype == enctype]
    if not typed:
        held = sorted({e.enctype for e in mine})
        raise EtypeNotSupported(
            f"The ticket for {server} is encrypted with {enctype_name(enctype)} ({enctype}); the "
            f"keytab holds only enctypes {held} for it. Re-export the keytab.",
            krb_error=ErrorCode.KDC_ERR_ETYPE_NOSUPP,
        )
    exact = [e for e in typed if kvno is not None and _kvno_matches(e, kvno)]
    others = sorted((e for e in typed if e not in exact), key=lambda e: e.kvno, reverse=True)
    keys = []
    for entry in (*exact, *others):
        try:
            keys.append(Key(entry.enctype, entry.key))
        except InvalidParameter:
            continue  # a damaged entry; another one may still work
    return keys


def _kvno_matches(entry: KeytabEntry, kvno: int) -> bool:
    # The keytab's 8-bit field wraps (MIT writes the 32-bit kvno when it can).
    return entry.kvno == kvno or (entry.kvno < 256 and entry.kvno == kvno & 0xFF)


def decrypt_ticket(
    keytab: Keytab,
    ticket: Ticket,
    *,
    allowed: Principal | None,
    now: datetime,
    skew: timedelta,
    opened: OpenedTickets | None = None,
) -> tuple[EncTicketPart, Key]:
    """Decrypt and check a service ticket: :func:`decrypt_ticket_keyed` without the key."""
    part, session, _key = decrypt_ticket_keyed(
        keytab, ticket, allowed=allowed, now=now, skew=skew, opened=opened
    )
    return part, session


def decrypt_ticket_keyed(
    keytab: Keytab,
    ticket: Ticket,
    *,
    allowed: Principal | None,
    now: datetime,
    skew: timedelta,
    opened: OpenedTickets | None = None,
) -> tuple[EncTicketPart, Key, Key]:
    """Decrypt and check a service ticket (RFC 4120 §3.2.3, key usage 2).

    Args:
        keytab: the acceptor's keys.
        ticket: the ticket from the AP-REQ.
        allowed: the only service principal to accept (the credential's restriction), or None
            for any principal in the keytab.
        now: the current time.
        skew: the allowed clock skew (krb5.conf ``clockskew``).
        opened: the credential's cache of keytab keys and opened tickets, if any.

    Returns:
        The decrypted EncTicketPart, its session key, and the keytab key that opened it (the
        PAC's server signature is made with that key, MS-PAC 2.8.1).

    Raises:
        KdcWrongPrincipal: the ticket is for another service (KRB_AP_ERR_NOT_US).
        EtypeNotSupported: no key of the ticket's enctype.
        KdcLogonDenied: no key opens it (KRB_AP_ERR_BAD_INTEGRITY).
        InvalidToken: it opens but does not parse, or carries an unusable session key.
        KdcTimeSkew: not yet valid, or marked invalid (KRB_AP_ERR_TKT_NYV).
        KdcTicketExpired: expired (KRB_AP_ERR_TKT_EXPIRED).
    """
    server = Principal(ticket.sname, ticket.realm)
    if allowed is not None and server != allowed:
        raise KdcWrongPrincipal(
            f"The ticket is for {server}, but this credential accepts only {allowed}.",
            krb_error=ErrorCode.KRB_AP_ERR_NOT_US,
        )
    if opened is not None:
        return opened.open(keytab, ticket, server, now, skew)
    found = _decrypt_part(
        keytab, ticket, server, find_keys(keytab, server, ticket.enc_part.etype,
                                          ticket.enc_part.kvno))
    _check_ticket_times(found[0], server, now, skew)
    return found


def _decrypt_part(
    keytab: Keytab, ticket: Ticket, server: Principal, keys: list[Key]
) -> tuple[EncTicketPart, Key, Key]:
    """Decrypt (usage 2) and parse a ticket's EncTicketPart with the first key that opens it;
    returns the part, its session key and that keytab key."""
    plaintext: bytes | None = None
    used: Key | None = None
    for key in keys:
        try:
            plaintext = decrypt(key, 2, ticket.enc_part.cipher)
            used = key
            break
        except MessageAltered:
            continue
        except DecodeError as exc:
            raise InvalidToken(f"The ticket for {server} is truncated: {exc}") from None
    if plaintext is None or used is None:
        kvno = ticket.enc_part.kvno
        raise KdcLogonDenied(
            f"No key in the keytab for {server} decrypts the ticket (kvno {kvno}, "
            f"{enctype_name(ticket.enc_part.etype)}): the keytab is out of date (re-export it "
            "with ktadd -norandkey) or the ticket was altered.",
            krb_error=ErrorCode.KRB_AP_ERR_BAD_INTEGRITY,
        )
    part, session = _parse_ticket_part(plaintext, server)
    return part, session, used


def decrypt_u2u_ticket(
    tgt_session_key: Key, ticket: Ticket, *, now: datetime, skew: timedelta
) -> tuple[EncTicketPart, Key]:
    """Decrypt and check a user-to-user ticket (RFC 4120 §2.9.2, §3.3.3, key usage 2).

    RFC 4120 §3.2.3: "If the USE-SESSION-KEY flag is set in the ap-options field, it indicates
    to the server that user-to-user authentication is in use, and that the ticket is encrypted
    in the session key from the server's TGT rather than in the server's secret key." The KDC
    encrypted it that way because the client sent our TGT in additional-tickets with
    ENC-TKT-IN-SKEY; only the holder of that TGT's session key can open it, so the key, not the
    ticket's sname (an SPN for Windows clients, our user name for MIT's KDC), proves it is ours.

    Args:
        tgt_session_key: the session key of the TGT this acceptor sent in its KRB_TGT_REP.
        ticket: the ticket from the AP-REQ.
        now, skew: the clock and the allowed skew.

    Returns:
        The decrypted EncTicketPart and its session key.

    Raises:
        EtypeNotSupported: the ticket is not encrypted with the TGT session key's enctype.
        KdcLogonDenied: it does not decrypt (KRB_AP_ERR_BAD_INTEGRITY): not issued for our TGT.
        InvalidToken, KdcTimeSkew, KdcTicketExpired: as :func:`decrypt_ticket`.
    """
    server = Principal(ticket.sname, ticket.realm)
    if ticket.enc_part.etype != tgt_session_key.enctype:
        raise EtypeNotSupported(
            f"The user-to-user ticket for {server} is encrypted with "
            f"{enctype_name(ticket.enc_part.etype)}, not with our TGT's session key "
            f"({enctype_name(tgt_session_key.enctype)}): it was issued for another TGT.",
            krb_error=ErrorCode.KRB_AP_ERR_BAD_INTEGRITY,
        )
    try:
        plaintext = decrypt(tgt_session_key, 2, ticket.enc_part.cipher)
    except MessageAltered:
        raise KdcLogonDenied(
            f"The user-to-user ticket for {server} does not decrypt with our TGT's session key: "
            "the KDC issued it for another TGT (the client sent it another server's TGT), or "
            "it was altered.",
            krb_error=ErrorCode.KRB_AP_ERR_BAD_INTEGRITY,
        ) from None
    except DecodeError as exc:
        raise InvalidToken(f"The user-to-user ticket for {server} is truncated: {exc}") from None
    return _open_ticket_part(plaintext, server, now, skew)


def _open_ticket_part(
    plaintext: bytes, server: Principal, now: datetime, skew: timedelta
) -> tuple[EncTicketPart, Key]:
    """Parse a decrypted EncTicketPart and check its times (RFC 4120 §3.2.3)."""
    part, session = _parse_ticket_part(plaintext, server)
    _check_ticket_times(part, server, now, skew)
    return part, session


def _parse_ticket_part(plaintext: bytes, server: Principal) -> tuple[EncTicketPart, Key]:
    try:
        part = EncTicketPart.parse(plaintext)
        session = Key(part.key.keytype, part.key.keyvalue)
    except DecodeError as exc:
        raise InvalidToken(f"The ticket for {server} decrypts but does not parse: {exc}") from None
    except InvalidParameter as exc:
        raise InvalidToken(
            f"The ticket for {server} has a bad session key: {exc.message}"
        ) from None
    return part, session


def _check_ticket_times(
    part: EncTicketPart, server: Principal, now: datetime, skew: timedelta
) -> None:
    """RFC 4120 §3.2.3: refuse a ticket not yet valid (or marked invalid), or expired."""
    start = part.starttime or part.authtime
    if int(part.flags) & _INVALID or start > now + skew:
        raise KdcTimeSkew(
            f"The ticket of {part.cname.to_text(part.crealm)} for {server} is not valid before "
            f"{start:%Y-%m-%d %H:%M:%S} UTC (now {now:%Y-%m-%d %H:%M:%S} UTC); check the clocks.",
            krb_error=ErrorCode.KRB_AP_ERR_TKT_NYV,
        )
    if now - skew > part.endtime:
        raise KdcTicketExpired(
            f"The ticket of {part.cname.to_text(part.crealm)} for {server} expired at "
            f"{part.endtime:%Y-%m-%d %H:%M:%S} UTC; the client must get a new one.",
            krb_error=ErrorCode.KRB_AP_ERR_TKT_EXPIRED,
        )


class OpenedTickets:
    """One acceptor credential's keytab keys and recently opened tickets (see the module notes).

    Keys: the :class:`Key` objects :func:`find_keys` chose, per (server, enctype, kvno), so the
    derived Ke/Ki of usage 2 are computed once per key, not once per AP-REQ. Tickets: by the
    ticket's enc-part (etype, kvno, ciphertext), its parsed EncTicketPart and session key; a
    client reusing its ticket is then accepted without decrypting it again, and its session
    key's derived keys (usages 11 and 12) are reused too. Both belong to one :class:`Keytab`
    object (immutable; a credential acquired again gets a new one), and start empty when
    another keytab is passed. At most ``max_tickets`` tickets are kept, least recently used
    first out; expired ones are dropped when met. Thread-safe.
    """

    __slots__ = ("_keys", "_keytab", "_lock", "_pacs", "_tickets", "known", "max_tickets")

    def __init__(self, max_tickets: int = 512) -> None:
        self.max_tickets = max_tickets
        self._lock = threading.Lock()
        self._keytab: Keytab | None = None
        self._keys: dict[tuple[Principal, int, int | None], list[Key]] = {}
        self._tickets: OrderedDict[
            tuple[int, int | None, bytes], tuple[EncTicketPart, Key, Key]
        ] = OrderedDict()
        self._pacs: OrderedDict[int, tuple[EncTicketPart, object]] = OrderedDict()
        self.known: dict[bytes, Ticket] = {}
        """The tickets opened, by their encoding: ``ApReq.parse(known=...)`` reuses them
        instead of decoding the same bytes again (at most ``max_tickets``)."""

    def __len__(self) -> int:
        return len(self._tickets)

    def verified_pac(self, part: EncTicketPart, verify: Callable[[], T]) -> T:
        """``verify()`` (the PAC check of ``part``), once per opened ticket: ``part`` is the
        object :meth:`open` keeps for it, and the check is a function of the ticket's bytes and
        the keytab key alone. Failures are not remembered (they are raised every time)."""
        with self._lock:
            held = self._pacs.get(id(part))
            if held is not None and held[0] is part:
                return held[1]  # type: ignore[return-value]
        value = verify()
        with self._lock:
            self._pacs[id(part)] = (part, value)  # the reference keeps the id unique
            while len(self._pacs) > self.max_tickets:
                self._pacs.popitem(last=False)
        return value

    _by_keytab: ClassVar[OrderedDict[int, tuple[Keytab, OpenedTickets]]] = OrderedDict()
    _by_keytab_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def for_keytab(cls, keytab: Keytab) -> OpenedTickets:
        """The one cache of ``keytab`` in this process: credential handles acquired from the
        same keytab file (unchanged, so the same parsed object; see ``parsed``) share it, as
        pywin32's ``ServerAuth`` acquires one handle per connection. At most 16 keytabs."""
        with cls._by_keytab_lock:
            held = cls._by_keytab.get(id(keytab))
            if held is not None and held[0] is keytab:
                cls._by_keytab.move_to_end(id(keytab))
                return held[1]
            opened = cls()
            cls._by_keytab[id(keytab)] = (keytab, opened)  # the reference keeps the id unique
            while len(cls._by_keytab) > 16:
                cls._by_keytab.popitem(last=False)
            return opened

    def open(
        self, keytab: Keytab, ticket: Ticket, server: Principal, now: datetime, skew: timedelta
    ) -> tuple[EncTicketPart, Key, Key]:
        """:func:`decrypt_ticket_keyed` after its principal check, through the caches."""
        enc = ticket.enc_part
        slot = (enc.etype, enc.kvno, enc.cipher)
        with self._lock:
            if self._keytab is not keytab:
                self._keytab = keytab
                self._keys.clear()
                self._tickets.clear()
                self._pacs.clear()
                self.known = {}
            found = self._tickets.get(slot)
            if found is not None:
                self._tickets.move_to_end(slot)
            keys = self._keys.get((server, enc.etype, enc.kvno))
        if found is None:
            if keys is None:
                keys = find_keys(keytab, server, enc.etype, enc.kvno)
                with self._lock:
                    if self._keytab is keytab:
                        self._keys[(server, enc.etype, enc.kvno)] = keys
            found = _decrypt_part(keytab, ticket, server, keys)
            with self._lock:
                if self._keytab is keytab:
                    self._tickets[slot] = found
                    while len(self._tickets) > self.max_tickets:
                        self._tickets.popitem(last=False)
                    if len(self.known) >= self.max_tickets:
                        self.known = {}
                    self.known[ticket.raw] = ticket
        try:
            _check_ticket_times(found[0], server, now, skew)
        except KdcTicketExpired:
            with self._lock:
                self._tickets.pop(slot, None)
                self.known.pop(ticket.raw, None)
            raise
        return found


DEFAULT_REPLAY_ENTRIES = 100_000
"""How many authenticators the process-wide replay cache holds before it evicts (about 20 MB)."""


class ReplayCache:
    """Authenticators seen recently (RFC 4120 §3.2.3), process-wide and thread-safe.

    An authenticator is identified by what its sender cannot change without the session key:
    the client principal (name and realm, as text, so name types do not matter), ``ctime``,
    ``cusec`` and a SHA-256 of the authenticator ciphertext. MIT's replay cache keys the same
    way (``k5_rc_tag_from_ciphertext``).

    Deviation: RFC 4120 §3.2.3 names "the server name" among the fields that identify an
    authenticator. The ticket's ``sname`` travels in clear text and is not covered by any
    checksum, and every service principal of an AD machine account (``host/``, ``HTTP/``,
    ``CIFS/``...) shares one key, so an attacker who rewrites ``sname`` made a replay look
    new; the server name is therefore left out of the key.

    An entry lives until its ``ctime`` leaves the skew window, after which the time check alone
    rejects a replay. The cache holds at most ``max_entries``; when it is full it evicts the
    authenticators that would expire first and from then on refuses every authenticator whose
    ``ctime`` is not later than the newest evicted one (``KRB_AP_ERR_SKEW``, as if it were out
    of the window), until that time leaves the window. Bounded memory never lets a replay in;
    under a flood the window merely narrows.
    """

    _shared: ClassVar[ReplayCache | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, max_entries: int = DEFAULT_REPLAY_ENTRIES) -> None:
        if max_entries < 1:
            raise InvalidParameter("A replay cache must hold at least one authenticator.")
        self._max = max_entries
        self._lock = threading.Lock()
        self._seen: dict[tuple[object, ...], datetime] = {}
        self._expiry: list[tuple[datetime, tuple[object, ...]]] = []
        """(expires, key) in a heap: plain tuples, compared in C (expiry first)."""
        self._floor: datetime | None = None
        """Authenticators made at or before this time are refused: their entries were evicted."""

    @classmethod
    def process_wide(cls) -> ReplayCache:
        """The replay cache every acceptor in this process shares."""
        shared = cls._shared
        if shared is not None:  # made once; reading the reference needs no lock
            return shared
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @classmethod
    def shared(cls) -> ReplayCache:
        """Another name for :meth:`process_wide`."""
        return cls.process_wide()

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def check(
        self,
        client: Principal | str,
        ctime: datetime,
        cusec: int,
        ciphertext: bytes,
        now: datetime,
        skew: timedelta,
    ) -> None:
        """Record an authenticator; raise if it is a replay or outside the skew window.

        Args:
            client: the ticket's client principal (or its text, ``name@REALM``).
            ctime, cusec: the authenticator's time stamp.
            ciphertext: the authenticator's ciphertext (hashed here).
            now, skew: the acceptor's clock and the allowed skew.

        Raises:
            KdcTimeSkew: ``ctime`` is more than ``skew`` from ``now`` (KRB_AP_ERR_SKEW, 37), or
                not later than an authenticator the full cache had to evict.
            ReplayDetected: the same authenticator was seen before (KRB_AP_ERR_REPEAT, 34).
        """
        if not now - skew <= ctime <= now + skew:
            raise KdcTimeSkew(
                f"The authenticator of {client} was made at {ctime:%Y-%m-%d %H:%M:%S} UTC, more "
                f"than {int(skew.total_seconds())} s from our clock ({now:%Y-%m-%d %H:%M:%S} "
                "UTC); synchronise the clocks.",
                krb_error=ErrorCode.KRB_AP_ERR_SKEW,
            )
        key: tuple[object, ...] = (str(client), ctime, cusec, hashlib.sha256(ciphertext).digest())
        with self._lock:
            self._purge(now, skew)
            if key in self._seen:
                raise ReplayDetected(
                    f"An authenticator of {client} was replayed (same time stamp and "
                    "ciphertext as one already accepted).",
                    krb_error=ErrorCode.KRB_AP_ERR_REPEAT,
                )
            if self._floor is not None and ctime <= self._floor:
                raise KdcTimeSkew(
                    f"The authenticator of {client} is older than the authenticators this "
                    "acceptor's full replay cache had to forget; it cannot be told from a "
                    "replay. Retry with a fresh authenticator.",
                    krb_error=ErrorCode.KRB_AP_ERR_SKEW,
                )
            while len(self._seen) >= self._max:
                self._evict_oldest()
            expires = ctime + skew
            self._seen[key] = expires
            heapq.heappush(self._expiry, (expires, key))

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            self._expiry.clear()
            self._floor = None

    def _evict_oldest(self) -> None:
        expires, key = heapq.heappop(self._expiry)
        if self._seen.get(key) == expires:
            del self._seen[key]
            made = key[1]
            assert isinstance(made, datetime)
            if self._floor is None or made > self._floor:
                self._floor = made

    def _purge(self, now: datetime, skew: timedelta) -> None:
        while self._expiry and self._expiry[0][0] < now:
            expires, key = heapq.heappop(self._expiry)
            if self._seen.get(key) == expires:
                del self._seen[key]
        if self._floor is not None and self._floor + skew < now:
            self._floor = None
