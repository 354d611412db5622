"""KDC message transport: RFC 4120 section 7.2, "Name of the TCP/UDP Transport".

https://www.rfc-editor.org/rfc/rfc4120#section-7.2

This is the I/O half of the sans-I/O design (DESIGN.md): the Kerberos state machine yields a
:class:`~opensspi.provider.KdcRequest`, and the driver hands its bytes to :func:`send_to_kdc`
(blocking) or :func:`send_to_kdc_async` (asyncio), then steps the machine with the reply.

- UDP (7.2.1): the request is one datagram and so is the reply. "If the response would be too
  large, the KDC returns KRB_ERR_RESPONSE_TOO_BIG (52) and the client MUST retry over TCP" — we
  recognise that KRB-ERROR with a tiny DER walk of its own (this module sits below the Kerberos
  package and must not import its ASN.1 code) and retry the same server over TCP.
- TCP (7.2.2): each message is "preceded by the length ... 4 octets in network byte order", and
  "the high bit of the length is reserved ... MUST be zero". A reply whose prefix has that bit
  set, or announces more than ``max_reply`` bytes (1 MiB), is refused.
- Order (MIT's ``udp_preference_limit``): a request longer than the limit goes over TCP first;
  either way both transports are tried before giving up. Servers are tried one at a time in the
  order given (fail-over), the whole list at most ``max_retries`` times, each attempt bounded by
  ``timeout`` and the whole call by ``total_timeout``: it never blocks past that.
- Whatever a KDC answers is returned as is; the caller's parser judges it. Only a broken TCP
  frame, or KRB_ERR_RESPONSE_TOO_BIG over TCP (an error §7.2.1 defines for UDP alone), counts
  as no answer.
- When nothing answers, the error says what happened and when: every KDC refused (a TCP RST or
  an ICMP port unreachable, which arrive at once), or no answer before the time-outs, with the
  time really spent — not the budget that would have been spent.

:class:`UnixStream` is the other blocking channel here: a Unix-domain stream socket with one
deadline for the whole conversation, for local daemons such as the KCM credential cache server.

DNS SRV lookups (RFC 4120 7.2.3.2, RFC 2782) are here too, since they are network I/O: they use
``dnspython`` when it is installed (``pip install opensspi[dns]``) and otherwise raise
:class:`DnsUnavailable` rather than silently finding nothing.
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import logs
from .errors import NoAuthenticatingAuthority

__all__ = [
    "DEFAULT_MAX_REPLY",
    "KDC_PORT",
    "KRB_ERR_RESPONSE_TOO_BIG",
    "DnsUnavailable",
    "KdcAddress",
    "SrvRecord",
    "UnixStream",
    "dns_srv_available",
    "krb_error_code",
    "send_to_kdc",
    "send_to_kdc_async",
    "srv_lookup",
    "srv_lookup_async",
]

KDC_PORT = 88
KRB_ERR_RESPONSE_TOO_BIG = 52
DEFAULT_MAX_REPLY = 1 << 20
"""The largest TCP reply accepted: 1 MiB, far above any real KDC reply (AD PACs stay < 64 KiB)."""

_MAX_UDP_PAYLOAD = 65507
_UDP_RECV_SIZE = 65536

Transport = Literal["udp", "tcp"]


@dataclass(frozen=True, slots=True)
class KdcAddress:
    """One way to reach a KDC: host name or IP literal (IPv6 without brackets), port, transport."""

    host: str
    port: int = KDC_PORT
    transport: Transport = "udp"

    def __post_init__(self) -> None:
        if self.transport not in ("udp", "tcp"):
            raise ValueError(f"transport must be 'udp' or 'tcp', not {self.transport!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be from 1 to 65535, not {self.port}")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}/{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One DNS SRV answer (RFC 2782): priority, weight, port, target host (no final dot)."""

    priority: int
    weight: int
    port: int
    target: str


class DnsUnavailable(NoAuthenticatingAuthority):
    """DNS SRV lookups cannot be made here: dnspython is missing or no resolver is configured."""


# -- KRB-ERROR detection (RFC 4120 5.9.1) ---------------------------------------------------------


def _der_header(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """Return (tag, content start, content end) of the DER element at ``pos``, or None."""
    if pos + 2 > len(data):
        return None
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            return None
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        return None
    return tag, pos, pos + length


def krb_error_code(message: bytes) -> int | None:
    """The ``error-code`` of a KRB-ERROR, or None when ``message`` is not one.

    RFC 4120 5.9.1::

        KRB-ERROR       ::= [APPLICATION 30] SEQUENCE {
                pvno            [0] INTEGER (5),
                msg-type        [1] INTEGER (30),
                ctime           [2] KerberosTime OPTIONAL,
                cusec           [3] Microseconds OPTIONAL,
                stime           [4] KerberosTime,
                susec           [5] Microseconds,
                error-code      [6] Int32,
                ...

    Only the outer tags and ``[6]`` are read; anything malformed gives None.
    """
    outer = _der_header(message, 0)
    if outer is None or outer[0] != 0x7E:
        return None
    seq = _der_header(message, outer[1])
    if seq is None or seq[0] != 0x30:
        return None
    pos, end = seq[1], seq[2]
    while pos < end:
        field = _der_header(message, pos)
        if field is None or field[2] > end:
            return None
        if field[0] == 0xA6:
            inner = _der_header(message, field[1])
            if inner is None or inner[0] != 0x02 or not 0 < inner[2] - inner[1] <= 4:
                return None
            return int.from_bytes(message[inner[1] : inner[2]], "big", signed=True)
        pos = field[2]
    return None


def _too_big(reply: bytes) -> bool:
    return krb_error_code(reply) == KRB_ERR_RESPONSE_TOO_BIG


# -- planning shared by both front ends -----------------------------------------------------------


class _FrameError(Exception):
    """A TCP reply's length prefix broke RFC 4120 7.2.2."""


def _reply_length(header: bytes, max_reply: int) -> int:
    length = int.from_bytes(header, "big")
    if length & 0x80000000:
        # RFC 4120 7.2.2: "the high bit of the length is reserved ... MUST be zero".
        raise _FrameError(f"sent a TCP length prefix with the reserved high bit set ({length:#x})")
    if length > max_reply:
        raise _FrameError(f"announced a {length}-byte TCP reply, over the {max_reply}-byte limit")
    if length == 0:
        raise _FrameError("sent an empty TCP reply")
    return length


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class _Plan:
    """The attempt order, the clock, and the record of what went wrong."""

    def __init__(
        self,
        request: bytes,
        kdcs: Sequence[KdcAddress],
        timeout: float,
        max_retries: int,
        udp_preference_limit: int,
        total_timeout: float | None,
        max_reply: int,
        realm: str | None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        if max_retries < 1:
            raise ValueError(f"max_retries must be at least 1, not {max_retries}")
        self.request = request
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_reply = max_reply
        self.realm = realm
        self.kdcs = tuple(kdcs)
        prefer: Transport = "tcp" if len(request) > udp_preference_limit else "udp"
        ordered = [k for k in self.kdcs if k.transport == prefer]
        ordered += [k for k in self.kdcs if k.transport != prefer]
        if len(request) > _MAX_UDP_PAYLOAD:
            ordered = [k for k in ordered if k.transport == "tcp"]
        self.ordered = ordered
        budget = total_timeout
        if budget is None:
            budget = timeout * max_retries * max(1, len(ordered))
        self.total = budget
        self.started = time.monotonic()
        self.deadline = self.started + budget
        self.failures: dict[str, str] = {}
        self.dead: set[tuple[str, object]] = set()
        self.resolved: dict[tuple[str, int, Transport], list[tuple[int, Any]]] = {}

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def attempt_budget(self) -> float:
        return min(self.timeout, self.remaining())

    def fail(self, kdc: KdcAddress, reason: str, sockaddr: object | None = None) -> None:
        label = str(kdc)
        if sockaddr is not None and not _is_ip_literal(kdc.host):
            label += f" ({_sockaddr_text(sockaddr)})"
        if reason == _CUT_SHORT and label in self.failures:
            return  # keep the more telling reason of an earlier pass
        self.failures[label] = reason
        logs.kdc_failover(self.realm, label, reason)

    def error(self) -> NoAuthenticatingAuthority:
        where = f"realm {self.realm}" if self.realm else "the realm"
        if not self.kdcs:
            return NoAuthenticatingAuthority(
                f"No KDC is known for {where}: add 'kdc = host' under [realms] in krb5.conf, "
                "or publish _kerberos._udp/_tcp SRV records and set dns_lookup_kdc = true."
            )
        if not self.ordered:
            return NoAuthenticatingAuthority(
                f"The {len(self.request)}-byte request for {where} is too large for UDP and "
                "no TCP KDC is listed; list the KDC without a udp/ prefix."
            )
        tried = "; ".join(f"{k}: {v}" for k, v in self.failures.items()) or "none reached"
        # Say what happened, with the time really spent: a refusal comes back at once (an
        # ICMP port unreachable for UDP, a RST for TCP), a silent KDC costs the whole budget.
        spent = _duration(time.monotonic() - self.started)
        reasons = set(self.failures.values())
        if reasons and reasons <= {_REFUSED}:
            return NoAuthenticatingAuthority(
                f"Every KDC for {where} refused the connection (gave up after {spent}, "
                f"{self.max_retries} passes). Tried {tried}. Nothing listens there: check that "
                "the KDC is running and the host and port in krb5.conf (or DNS SRV records)."
            )
        if reasons and all(r == _CUT_SHORT or r.startswith(_NO_ANSWER) for r in reasons):
            return NoAuthenticatingAuthority(
                f"No KDC for {where} answered: timed out after {spent} ({self.timeout:g} s per "
                f"attempt, {self.max_retries} passes, {self.total:g} s at most). Tried {tried}. "
                "Check the kdc entries in krb5.conf (or DNS SRV records), that the KDC is "
                "running, and firewalls."
            )
        return NoAuthenticatingAuthority(
            f"No KDC for {where} answered (gave up after {spent}; {self.timeout:g} s per "
            f"attempt, {self.max_retries} passes). Tried {tried}. Check the kdc entries in "
            "krb5.conf (or DNS SRV records), that the KDC is running, and firewalls."
        )


def _duration(seconds: float) -> str:
    """``3 ms`` / ``2.5 s``: an elapsed time as a person reads it."""
    if seconds < 1:
        return f"{max(seconds, 0) * 1000:.0f} ms"
    return f"{seconds:.1f} s"


def _sockaddr_text(sockaddr: object) -> str:
    """``host:port`` (``[v6]:port``) for a socket address tuple."""
    if isinstance(sockaddr, tuple) and len(sockaddr) >= 2:
        host = str(sockaddr[0])
        return f"[{host}]:{sockaddr[1]}" if ":" in host else f"{host}:{sockaddr[1]}"
    return str(sockaddr)


def _socktype(transport: Transport) -> int:
    return socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM


def _addresses(infos: Sequence[Any]) -> list[tuple[int, Any]]:
    seen: list[tuple[int, Any]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if (family, sockaddr) not in seen:
            seen.append((family, sockaddr))
    return seen


# -- blocking front end -----------------------------------------------------------------------


def _resolve_blocking(host: str, port: int, transport: Transport, timeout: float) -> list[Any]:
    flags = socket.AI_NUMERICHOST if _is_ip_literal(host) else 0
    if flags:
        return socket.getaddrinfo(host, port, 0, _socktype(transport), 0, flags)
    # getaddrinfo() cannot be interrupted; run it on a daemon thread so we never wait past
    # the deadline (a hung resolver thread dies with the process).
    result: list[Any] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.extend(socket.getaddrinfo(host, port, 0, _socktype(transport)))
        except BaseException as exc:  # handed to the caller below
            error.append(exc)

    worker = threading.Thread(target=run, name=f"opensspi-resolve-{host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"resolving {host} took longer than {timeout:g} s")
    if error:
        raise error[0]
    return result


def _udp_blocking(family: int, sockaddr: Any, request: bytes, budget: float) -> bytes:
    end = time.monotonic() + budget
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect(sockaddr)
        sock.send(request)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            reply = sock.recv(_UDP_RECV_SIZE)
            if reply:
                return reply


def _recv_exactly(sock: socket.socket, count: int, end: float) -> bytes:
    chunks: list[bytes] = []
    while count:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(min(count, 65536))
        if not chunk:
            raise ConnectionError("closed the connection before the reply was complete")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _tcp_blocking(
    family: int, sockaddr: Any, request: bytes, budget: float, max_reply: int
) -> bytes:
    end = time.monotonic() + budget
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(budget)
        sock.connect(sockaddr)
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        sock.sendall(struct.pack(">I", len(request)) + request)
        length = _reply_length(_recv_exactly(sock, 4, end), max_reply)
        return _tcp_reply(_recv_exactly(sock, length, end))


def _tcp_reply(reply: bytes) -> bytes:
    """A TCP reply, unless it is KRB_ERR_RESPONSE_TOO_BIG: RFC 4120 §7.2.1 defines that error
    for UDP only, so over TCP it is a broken KDC, failed over like a broken frame (else a KDC
    that says it endlessly would end the exchange with an unexplained KDC error)."""
    if _too_big(reply):
        raise _FrameError("answered KRB_ERR_RESPONSE_TOO_BIG over TCP")
    return reply


class UnixStream:
    """A blocking Unix-domain stream connection whose every call ends by one deadline.

    ``UnixStream(path, timeout)`` connects; :meth:`send` and :meth:`recv_exactly` raise
    :class:`TimeoutError` once ``timeout`` seconds have passed since the connection began (so a
    server that stops answering, or trickles bytes, cannot hold the caller longer), and
    :class:`ConnectionError` when the peer closes mid-message. Use it as a context manager.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self._end = time.monotonic() + timeout
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(max(timeout, 0.001))
            self._sock.connect(path)
        except BaseException:
            self._sock.close()
            raise

    def _arm(self) -> None:
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete answer in time")
        self._sock.settimeout(left)

    def send(self, data: bytes) -> None:
        self._arm()
        self._sock.sendall(data)

    def recv_exactly(self, count: int) -> bytes:
        chunks: list[bytes] = []
        while count:
            self._arm()
            chunk = self._sock.recv(min(count, 65536))
            if not chunk:
                raise ConnectionError("the server closed the connection mid-reply")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> UnixStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CUT_SHORT = "no answer before the overall time limit"
_NO_ANSWER = "no answer within"
_REFUSED = "connection refused"


def _reason(exc: BaseException, budget: float, timeout: float) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout, asyncio.TimeoutError)):
        if budget < timeout - 0.001:
            return _CUT_SHORT
        return f"{_NO_ANSWER} {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return _REFUSED
    if isinstance(exc, _FrameError):
        return str(exc)
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror or exc})"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


def send_to_kdc(
    request: bytes | bytearray | memoryview,
    kdcs: Sequence[KdcAddress],
    *,
    timeout: float = 3.0,
    max_retries: int = 3,
    udp_preference_limit: int = 1465,
    total_timeout: float | None = None,
    max_reply: int = DEFAULT_MAX_REPLY,
    realm: str | None = None,
) -> bytes:
    """Send a KDC request and return the first reply (blocking).

    Args:
        request: the encoded AS-REQ/TGS-REQ (or kpasswd message).
        kdcs: where to send it, tried in order (UDP ones first unless the request is larger
            than ``udp_preference_limit``, then TCP first).
        timeout: the wait for one attempt at one address, in seconds.
        max_retries: how many times the whole list is tried.
        udp_preference_limit: MIT's setting; 1 makes TCP always come first.
        total_timeout: the bound for the whole call; default ``timeout * max_retries * len(kdcs)``.
        max_reply: the largest TCP reply accepted.
        realm: named in the error message.

    Returns:
        The reply bytes, unparsed (a KRB-ERROR is a reply too).

    Raises:
        NoAuthenticatingAuthority: no KDC answered in time (the message lists each server and
            why it failed), or a TCP reply broke the framing rules and no other KDC answered.
    """
    plan = _Plan(
        bytes(request), kdcs, timeout, max_retries, udp_preference_limit, total_timeout,
        max_reply, realm,
    )
    for _ in range(max_retries):
        for kdc in plan.ordered:
            if plan.remaining() <= 0:
                raise plan.error()
            reply = _try_kdc_blocking(plan, kdc)
            if reply is not None:
                logs.kdc_exchange(plan.realm, kdc, plan.deadline - plan.total, reply)
                return reply
    raise plan.error()


def _try_kdc_blocking(plan: _Plan, kdc: KdcAddress) -> bytes | None:
    key = (kdc.host, kdc.port, kdc.transport)
    if key not in plan.resolved:
        budget = plan.attempt_budget()
        try:
            plan.resolved[key] = _addresses(
                _resolve_blocking(kdc.host, kdc.port, kdc.transport, budget)
            )
        except (OSError, UnicodeError) as exc:
            plan.fail(kdc, _reason(exc, budget, plan.timeout))
            if not isinstance(exc, TimeoutError):
                plan.resolved[key] = []
            return None
    for family, sockaddr in plan.resolved[key]:
        if (kdc.transport, sockaddr) in plan.dead:
            continue
        budget = plan.attempt_budget()
        if budget <= 0:
            return None
        try:
            if kdc.transport == "udp":
                reply = _udp_blocking(family, sockaddr, plan.request, budget)
                if not _too_big(reply):
                    return reply
                # RFC 4120 7.2.1: KRB_ERR_RESPONSE_TOO_BIG -> retry the same server over TCP.
                plan.fail(kdc, "reply too big for UDP; retried over TCP", sockaddr)
                tcp = KdcAddress(kdc.host, kdc.port, "tcp")
                budget = plan.attempt_budget()
                if budget <= 0:
                    return None
                try:
                    return _tcp_blocking(family, sockaddr, plan.request, budget, plan.max_reply)
                except _FrameError as exc:
                    plan.dead.add(("tcp", sockaddr))
                    plan.fail(tcp, _reason(exc, budget, plan.timeout), sockaddr)
                except OSError as exc:
                    plan.fail(tcp, _reason(exc, budget, plan.timeout), sockaddr)
            else:
                return _tcp_blocking(family, sockaddr, plan.request, budget, plan.max_reply)
        except _FrameError as exc:
            plan.dead.add((kdc.transport, sockaddr))
            plan.fail(kdc, _reason(exc, budget, plan.timeout), sockaddr)
        except OSError as exc:
            plan.fail(kdc, _reason(exc, budget, plan.timeout), sockaddr)
    return None


# -- asyncio front end ------------------------------------------------------------------------


class _UdpReply(asyncio.DatagramProtocol):
    def __init__(self, future: asyncio.Future[bytes]) -> None:
        self.future = future

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if data and not self.future.done():
            self.future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.future.done():
            self.future.set_exception(exc or ConnectionError("socket closed"))


async def _udp_async(family: int, sockaddr: Any, request: bytes, budget: float) -> bytes:
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    future: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(lambda: _UdpReply(future), sock=sock)
    try:
        transport.sendto(request)
        return await asyncio.wait_for(future, budget)
    finally:
        transport.close()
        if future.done() and not future.cancelled():
            future.exception()  # mark any exception retrieved


async def _tcp_async(
    family: int, sockaddr: Any, request: bytes, budget: float, max_reply: int
) -> bytes:
    async def exchange() -> bytes:
        loop = asyncio.get_running_loop()
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, sockaddr)
            await loop.sock_sendall(sock, struct.pack(">I", len(request)) + request)
            header = await _sock_recv_exactly(loop, sock, 4)
            reply = await _sock_recv_exactly(loop, sock, _reply_length(header, max_reply))
            return _tcp_reply(reply)

    return await asyncio.wait_for(exchange(), budget)


async def _sock_recv_exactly(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, count: int
) -> bytes:
    chunks: list[bytes] = []
    while count:
        chunk = await loop.sock_recv(sock, min(count, 65536))
        if not chunk:
            raise ConnectionError("closed the connection before the reply was complete")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


async def send_to_kdc_async(
    request: bytes | bytearray | memoryview,
    kdcs: Sequence[KdcAddress],
    *,
    timeout: float = 3.0,
    max_retries: int = 3,
    udp_preference_limit: int = 1465,
    total_timeout: float | None = None,
    max_reply: int = DEFAULT_MAX_REPLY,
    realm: str | None = None,
) -> bytes:
    """:func:`send_to_kdc` for asyncio: the same order, limits, retries and errors."""
    plan = _Plan(
        bytes(request), kdcs, timeout, max_retries, udp_preference_limit, total_timeout,
        max_reply, realm,
    )
    for _ in range(max_retries):
        for kdc in plan.ordered:
            if plan.remaining() <= 0:
                raise plan.error()
            reply = await _try_kdc_async(plan, kdc)
            if reply is not None:
                logs.kdc_exchange(plan.realm, kdc, plan.deadline - plan.total, reply)
                return reply
    raise plan.error()


async def _try_kdc_async(plan: _Plan, kdc: KdcAddress) -> bytes | None:
    loop = asyncio.get_running_loop()
    key = (kdc.host, kdc.port, kdc.transport)
    if key not in plan.resolved:
        budget = plan.attempt_budget()
        flags = socket.AI_NUMERICHOST if _is_ip_literal(kdc.host) else 0
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(
                    kdc.host, kdc.port, type=_socktype(kdc.transport), flags=flags
                ),
                budget,
            )
            plan.resolved[key] = _addresses(infos)
        except (OSError, UnicodeError, asyncio.TimeoutError) as exc:
            plan.fail(kdc, _reason(exc, budget, plan.timeout))
            if not isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
                plan.resolved[key] = []
            return None
    for family, sockaddr in plan.resolved[key]:
        if (kdc.transport, sockaddr) in plan.dead:
            continue
        budget = plan.attempt_budget()
        if budget <= 0:
            return None
        try:
            if kdc.transport == "udp":
                reply = await _udp_async(family, sockaddr, plan.request, budget)
                if not _too_big(reply):
                    return reply
                plan.fail(kdc, "reply too big for UDP; retried over TCP", sockaddr)
                tcp = KdcAddress(kdc.host, kdc.port, "tcp")
                budget = plan.attempt_budget()
                if budget <= 0:
                    return None
                try:
                    return await _tcp_async(
                        family, sockaddr, plan.request, budget, plan.max_reply
                    )
                except _FrameError as exc:
                    plan.dead.add(("tcp", sockaddr))
                    plan.fail(tcp, _reason(exc, budget, plan.timeout), sockaddr)
                except (OSError, asyncio.TimeoutError) as exc:
                    plan.fail(tcp, _reason(exc, budget, plan.timeout), sockaddr)
            else:
                return await _tcp_async(family, sockaddr, plan.request, budget, plan.max_reply)
        except _FrameError as exc:
            plan.dead.add((kdc.transport, sockaddr))
            plan.fail(kdc, _reason(exc, budget, plan.timeout), sockaddr)
        except (OSError, asyncio.TimeoutError) as exc:
            plan.fail(kdc, _reason(exc, budget, plan.timeout), sockaddr)
    return None


# -- DNS SRV (RFC 2782) -------------------------------------------------------------------------


def _dns_modules() -> tuple[Any, Any, Any]:
    try:
        resolver = importlib.import_module("dns.resolver")
        asyncresolver = importlib.import_module("dns.asyncresolver")
        exception = importlib.import_module("dns.exception")
    except ImportError:
        raise DnsUnavailable(
            "DNS SRV lookup of KDCs needs dnspython, which is not installed: "
            "pip install 'opensspi[dns]', or list the realm's KDCs in krb5.conf."
        ) from None
    return resolver, asyncresolver, exception


def dns_srv_available() -> bool:
    """True when dnspython is importable, so :func:`srv_lookup` can work."""
    try:
        _dns_modules()
    except DnsUnavailable:
        return False
    return True


def _configure(resolver: Any, nameservers: Sequence[str] | None, port: int, timeout: float) -> None:
    if nameservers is not None:
        resolver.nameservers = list(nameservers)
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = timeout


def _records(answer: Any) -> list[SrvRecord]:
    out = []
    for rdata in answer:
        target = str(rdata.target.to_text(omit_final_dot=True))
        out.append(SrvRecord(int(rdata.priority), int(rdata.weight), int(rdata.port), target))
    return out


def _make_resolver(module: Any, nameservers: Sequence[str] | None, exc_mod: Any) -> Any:
    try:
        return module.Resolver(configure=nameservers is None)
    except exc_mod.DNSException as exc:
        raise DnsUnavailable(
            f"No DNS resolver is configured ({exc}); list the realm's KDCs in krb5.conf."
        ) from None


def srv_lookup(
    name: str, *, timeout: float = 5.0, nameservers: Sequence[str] | None = None, port: int = 53
) -> list[SrvRecord]:
    """Query the SRV records of ``name`` (``_kerberos._udp.REALM``), unordered.

    Args:
        nameservers: servers to ask instead of /etc/resolv.conf's (tests use a local one).

    Returns:
        The records; empty when the name does not exist or has no SRV records.

    Raises:
        DnsUnavailable: dnspython is not installed or no resolver is configured.
        NoAuthenticatingAuthority: the DNS servers did not answer.
    """
    resolver_mod, _, exc_mod = _dns_modules()
    resolver = _make_resolver(resolver_mod, nameservers, exc_mod)
    _configure(resolver, nameservers, port, timeout)
    try:
        answer = resolver.resolve(name, "SRV", search=False)
    except (resolver_mod.NXDOMAIN, resolver_mod.NoAnswer):
        return []
    except exc_mod.DNSException as exc:
        raise NoAuthenticatingAuthority(
            f"DNS SRV lookup of {name} failed: {exc}. Check the DNS servers, or list the "
            "realm's KDCs in krb5.conf."
        ) from None
    return _records(answer)


async def srv_lookup_async(
    name: str, *, timeout: float = 5.0, nameservers: Sequence[str] | None = None, port: int = 53
) -> list[SrvRecord]:
    """:func:`srv_lookup` with dnspython's asyncio resolver."""
    resolver_mod, async_mod, exc_mod = _dns_modules()
    resolver = _make_resolver(async_mod, nameservers, exc_mod)
    _configure(resolver, nameservers, port, timeout)
    try:
        answer = await resolver.resolve(name, "SRV", search=False)
    except (resolver_mod.NXDOMAIN, resolver_mod.NoAnswer):
        return []
    except exc_mod.DNSException as exc:
        raise NoAuthenticatingAuthority(
            f"DNS SRV lookup of {name} failed: {exc}. Check the DNS servers, or list the "
            "realm's KDCs in krb5.conf."
        ) from None
    return _records(answer)

