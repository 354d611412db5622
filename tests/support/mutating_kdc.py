"""A KDC that misbehaves on purpose: our own test peer for the KDC transport (RFC 4120 §7.2).

:class:`MutatingKdc` listens on 127.0.0.1, UDP and TCP on one port, asks a
:class:`~opensspi.testing.kdc.MiniKdc` for the honest reply to each request and then sends what
its :class:`Mode` says instead: truncated or oversized frames, wrong length prefixes, nothing at
all, endless KRB_ERR_RESPONSE_TOO_BIG, replies to another request (nonce), with another realm or
client name, duplicated or late datagrams. ``tests/interop/test_kdc_transport_hostile.py`` states
what the client must make of each.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import replace
from enum import Enum
from types import TracebackType

from opensspi.packages.kerberos.asn1 import KdcRep, KdcReq, PrincipalName, Ticket
from opensspi.testing.kdc import MiniKdc


class Mode(Enum):
    """What the KDC does with the honest reply."""

    HONEST = "honest"
    TRUNCATED = "truncated"  # half the reply (UDP datagram / TCP frame with a matching prefix)
    OVERSIZED = "oversized"  # UDP: 60000 junk bytes appended; TCP: a 2 MiB length prefix
    HIGH_BIT = "high_bit"  # TCP prefix with the reserved high bit; UDP says RESPONSE_TOO_BIG
    PREFIX_TOO_LONG = "prefix_too_long"  # TCP prefix announces 100 bytes more, then close
    PREFIX_TOO_SHORT = "prefix_too_short"  # TCP prefix announces 7 bytes fewer than sent
    SILENT = "silent"  # UDP: nothing; TCP: accepts, reads, never answers, keeps it open
    TOO_BIG = "too_big"  # KRB_ERR_RESPONSE_TOO_BIG over UDP and over TCP, forever
    OTHER_NONCE = "other_nonce"  # the honest reply to the same AS-REQ with another nonce
    OTHER_REALM = "other_realm"  # the reply's crealm rewritten
    OTHER_CLIENT = "other_client"  # the reply's cname rewritten
    OTHER_SERVICE = "other_service"  # the TGS-REP's ticket names another service (clear text)
    DUPLICATE = "duplicate"  # every UDP reply sent twice
    LATE = "late"  # every UDP reply sent after ``delay`` seconds; TCP never answers


def too_big_error() -> bytes:
    """A minimal KRB-ERROR with error-code 52 (KRB_ERR_RESPONSE_TOO_BIG), RFC 4120 §5.9.1."""
    from opensspi.der import encode_tlv

    def field(n: int, content: bytes) -> bytes:
        return encode_tlv(0xA0 | n, content)

    def integer(value: int) -> bytes:
        return encode_tlv(0x02, value.to_bytes(1, "big"))

    time_ = encode_tlv(0x18, b"20310304050607Z")
    body = (field(0, integer(5)) + field(1, integer(30)) + field(4, time_)
            + field(5, integer(0)) + field(6, integer(52))
            + field(9, encode_tlv(0x1B, b"EXAMPLE.TEST"))
            + field(10, encode_tlv(0x30, field(0, integer(2)) + field(1, encode_tlv(
                0x30, encode_tlv(0x1B, b"krbtgt") + encode_tlv(0x1B, b"EXAMPLE.TEST"))))))
    return encode_tlv(0x7E, encode_tlv(0x30, body))


class MutatingKdc:
    """UDP and TCP listeners on one 127.0.0.1 port, answering through ``mode``.

    Attributes:
        udp_requests, tcp_requests: how many requests each transport received.
    """

    def __init__(self, kdc: MiniKdc, mode: Mode, *, delay: float = 0.0) -> None:
        self.kdc = kdc
        self.mode = mode
        self.delay = delay
        self.udp_requests = 0
        self.tcp_requests = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._held: list[socket.socket] = []
        self._udp, self._tcp = self._bind()

    @property
    def port(self) -> int:
        return int(self._udp.getsockname()[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> MutatingKdc:
        for target in (self._serve_udp, self._serve_tcp):
            thread = threading.Thread(target=target, daemon=True, name=f"mutating-kdc-{target}")
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        for sock in (self._udp, self._tcp, *self._held):
            sock.close()
        for thread in self._threads:
            thread.join(5)

    @staticmethod
    def _bind() -> tuple[socket.socket, socket.socket]:
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            udp.settimeout(0.2)
            tcp.settimeout(0.2)
            return udp, tcp
        raise OSError("no free port for both UDP and TCP on 127.0.0.1")

    # -- the replies ------------------------------------------------------------------------

    def honest(self, request: bytes) -> bytes:
        return self.kdc.handle(request)

    def _rewritten(self, request: bytes) -> bytes:
        reply = self.honest(request)
        if reply[:1] not in (b"\x6b", b"\x6d"):  # not an AS-REP/TGS-REP: leave errors alone
            return reply
        rep = KdcRep.from_der(reply)
        if self.mode is Mode.OTHER_SERVICE:
            if reply[:1] != b"\x6d":
                return reply
            old = rep.ticket
            ticket = Ticket(tkt_vno=old.tkt_vno, realm=old.realm, enc_part=old.enc_part,
                            sname=PrincipalName(old.sname.name_type, ("host", "evil.test")))
            return replace(rep, ticket=ticket).to_der()
        if self.mode is Mode.OTHER_REALM:
            return replace(rep, crealm="EVIL.TEST").to_der()
        return replace(rep, cname=PrincipalName(rep.cname.name_type, ("mallory",))).to_der()

    def _other_nonce(self, request: bytes) -> bytes:
        if request[:1] != b"\x6a":  # only an AS-REQ can be re-sent with another nonce
            return self.honest(request)
        req = KdcReq.from_der(request)
        body = replace(req.req_body, nonce=(req.req_body.nonce + 1) & 0x7FFFFFFF)
        return self.honest(replace(req, req_body=body).to_der())

    def udp_datagrams(self, request: bytes) -> list[bytes]:
        mode = self.mode
        if mode in (Mode.SILENT,):
            return []
        if mode in (Mode.TOO_BIG, Mode.HIGH_BIT, Mode.PREFIX_TOO_LONG, Mode.PREFIX_TOO_SHORT):
            return [too_big_error()]  # push the client to TCP, where the framing is broken
        if mode is Mode.OTHER_NONCE:
            return [self._other_nonce(request)]
        if mode in (Mode.OTHER_REALM, Mode.OTHER_CLIENT, Mode.OTHER_SERVICE):
            return [self._rewritten(request)]
        reply = self.honest(request)
        if mode is Mode.TRUNCATED:
            return [reply[: len(reply) // 2]]
        if mode is Mode.OVERSIZED:
            return [reply + bytes(60000)]
        if mode is Mode.DUPLICATE:
            return [reply, reply]
        return [reply]

    def tcp_bytes(self, request: bytes) -> bytes | None:
        """What to write back over TCP (prefix included), or None to never answer."""
        mode = self.mode
        if mode in (Mode.SILENT, Mode.LATE):
            return None
        if mode is Mode.TOO_BIG:
            error = too_big_error()
            return struct.pack(">I", len(error)) + error
        if mode is Mode.OTHER_NONCE:
            reply = self._other_nonce(request)
        elif mode in (Mode.OTHER_REALM, Mode.OTHER_CLIENT, Mode.OTHER_SERVICE):
            reply = self._rewritten(request)
        else:
            reply = self.honest(request)
        if mode is Mode.TRUNCATED:
            half = reply[: len(reply) // 2]
            return struct.pack(">I", len(half)) + half
        if mode is Mode.OVERSIZED:
            return struct.pack(">I", 2 << 20) + reply
        if mode is Mode.HIGH_BIT:
            return struct.pack(">I", len(reply) | 0x80000000) + reply
        if mode is Mode.PREFIX_TOO_LONG:
            return struct.pack(">I", len(reply) + 100) + reply
        if mode is Mode.PREFIX_TOO_SHORT:
            return struct.pack(">I", len(reply) - 7) + reply
        return struct.pack(">I", len(reply)) + reply

    # -- the listeners ----------------------------------------------------------------------

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                request, peer = self._udp.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            self.udp_requests += 1
            datagrams = self.udp_datagrams(request)
            if self.mode is Mode.LATE:
                threading.Timer(self.delay, self._send_udp, (datagrams, peer)).start()
            else:
                self._send_udp(datagrams, peer)

    def _send_udp(self, datagrams: list[bytes], peer: object) -> None:
        for datagram in datagrams:
            try:
                self._udp.sendto(datagram, peer)
            except OSError:
                return

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._tcp.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            head = _read(conn, 4)
            request = _read(conn, struct.unpack(">I", head)[0])
        except (OSError, ValueError, struct.error):
            conn.close()
            return
        self.tcp_requests += 1
        answer = self.tcp_bytes(request)
        if answer is None:
            self._held.append(conn)  # accepted and read, never answered; closed at exit
            return
        try:
            conn.sendall(answer)
            if self.mode is not Mode.PREFIX_TOO_LONG:
                time.sleep(0.05)
        except OSError:
            pass
        finally:
            conn.close()


def _read(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise ValueError("closed early")
        data += chunk
    return data
