"""KDC transport (opensspi.transport) against tiny UDP/TCP servers on 127.0.0.1, and KDC discovery.

Every behaviour is checked through both front ends: ``send_to_kdc`` (blocking) and
``send_to_kdc_async`` (asyncio), via the ``send`` fixture. The last tests talk to a real MIT KDC
whose UDP replies are capped so that it answers KRB_ERR_RESPONSE_TOO_BIG.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import re
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.errors import NoAuthenticatingAuthority
from opensspi.packages.kerberos import discovery
from opensspi.packages.kerberos.config import ConfigError, Krb5Config
from opensspi.packages.kerberos.discovery import (
    kdcs_from_config,
    locate_kdcs,
    locate_kdcs_async,
    order_srv,
)
from opensspi.transport import (
    DnsUnavailable,
    KdcAddress,
    SrvRecord,
    dns_srv_available,
    krb_error_code,
    send_to_kdc,
    send_to_kdc_async,
    srv_lookup,
    srv_lookup_async,
)
from support.require import in_ci, require_module, require_peer

# -- DER helpers for building test messages -----------------------------------------------------


def der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(raw))) + raw + body


def der_int(value: int) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8)
    return der(0x02, value.to_bytes(length, "big", signed=True))


def krb_error(code: int, *, with_ctime: bool = True) -> bytes:
    """A KRB-ERROR (RFC 4120 5.9.1) with the given error-code."""
    fields = der(0xA0, der_int(5)) + der(0xA1, der_int(30))
    if with_ctime:
        fields += der(0xA2, der(0x18, b"20260101000000Z")) + der(0xA3, der_int(0))
    fields += der(0xA4, der(0x18, b"20260101000000Z")) + der(0xA5, der_int(123456))
    fields += der(0xA6, der_int(code))
    fields += der(0xA9, der(0x1B, b"TEST.LOCAL"))
    names = der(0x30, der(0x1B, b"krbtgt") + der(0x1B, b"TEST.LOCAL"))
    sname = der(0x30, der(0xA0, der_int(2)) + der(0xA1, names))
    fields += der(0xAA, sname)
    return der(0x7E, der(0x30, fields))


def as_req(user: str, realm: str, padding: int = 0, nonce: int = 0x12345678) -> bytes:
    """A minimal AS-REQ (RFC 4120 5.4.1) for ``user@realm``, no pre-authentication."""

    def principal(name_type: int, *names: str) -> bytes:
        strings = b"".join(der(0x1B, n.encode()) for n in names)
        return der(0x30, der(0xA0, der_int(name_type)) + der(0xA1, der(0x30, strings)))

    body = der(0xA0, der(0x03, b"\x00\x00\x00\x00\x10"))  # kdc-options: renewable-ok
    body += der(0xA1, principal(1, user))
    body += der(0xA2, der(0x1B, realm.encode()))
    body += der(0xA3, principal(2, "krbtgt", realm))
    body += der(0xA5, der(0x18, b"20370913024805Z"))
    body += der(0xA7, der_int(nonce))
    body += der(0xA8, der(0x30, der_int(18) + der_int(17)))
    padata = b""
    if padding:
        # An unknown PA-DATA type (KDCs ignore it) that makes the request larger.
        pa = der(0x30, der(0xA1, der_int(1234)) + der(0xA2, der(0x04, bytes(padding))))
        padata = der(0xA3, der(0x30, pa))
    req = der(0xA1, der_int(5)) + der(0xA2, der_int(10)) + padata + der(0xA4, der(0x30, body))
    return der(0x6A, der(0x30, req))


# -- fake KDCs ---------------------------------------------------------------------------------

UdpHandler = Callable[[bytes], "bytes | None"]
TcpHandler = Callable[[bytes], "bytes | None"]


def echo(request: bytes) -> bytes:
    return b"REPLY:" + request


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


class FakeKdc:
    """A UDP and a TCP listener on the same 127.0.0.1 port, each with a handler.

    UDP handler: request -> reply datagram, or None for no answer.
    TCP handler: request -> raw bytes to send (length prefix included), or None to hold the
    connection open without answering; ``b""`` closes it at once.
    """

    def __init__(self, udp: UdpHandler | None = echo, tcp: TcpHandler | None = None) -> None:
        self.udp_handler = udp
        self.tcp_handler = tcp if tcp is not None else (lambda r: frame(echo(r)))
        self.udp_requests: list[bytes] = []
        self.tcp_requests: list[bytes] = []
        self.stop = threading.Event()
        for _ in range(20):
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.bind(("127.0.0.1", 0))
            self.port = self.tcp.getsockname()[1]
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self.udp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.tcp.close()
                self.udp.close()
        self.tcp.listen(8)
        self.tcp.settimeout(0.05)
        self.udp.settimeout(0.05)
        self.threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]
        self.held: list[socket.socket] = []
        for t in self.threads:
            t.start()

    def address(self, transport: str = "udp") -> KdcAddress:
        return KdcAddress("127.0.0.1", self.port, "udp" if transport == "udp" else "tcp")

    def both(self) -> list[KdcAddress]:
        return [self.address("udp"), self.address("tcp")]

    def _serve_udp(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.udp.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            self.udp_requests.append(data)
            if self.udp_handler is None:
                continue
            reply = self.udp_handler(data)
            if reply is not None:
                self.udp.sendto(reply, peer)

    def _serve_tcp(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            header = self._recv(conn, 4)
            request = self._recv(conn, struct.unpack(">I", header)[0])
        except (OSError, struct.error, ConnectionError):
            conn.close()
            return
        self.tcp_requests.append(request)
        reply = self.tcp_handler(request)
        if reply is None:
            self.held.append(conn)
            return
        try:
            for i in range(0, len(reply), 7):  # in small pieces: the client must reassemble
                conn.sendall(reply[i : i + 7])
        except OSError:
            pass
        conn.close()

    @staticmethod
    def _recv(conn: socket.socket, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = conn.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed")
            out += chunk
        return out

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(2)
        for s in (self.udp, self.tcp, *self.held):
            s.close()


@pytest.fixture
def kdc_factory() -> Iterator[Callable[..., FakeKdc]]:
    made: list[FakeKdc] = []

    def make(udp: UdpHandler | None = echo, tcp: TcpHandler | None = None) -> FakeKdc:
        k = FakeKdc(udp, tcp)
        made.append(k)
        return k

    yield make
    for k in made:
        k.close()


def closed_port() -> int:
    """A port nobody listens on (UDP and TCP) right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Send = Callable[..., bytes]


@pytest.fixture(params=["blocking", "asyncio"])
def send(request: pytest.FixtureRequest) -> Send:
    if request.param == "blocking":
        return send_to_kdc

    def run(*args: Any, **kwargs: Any) -> bytes:
        return asyncio.run(send_to_kdc_async(*args, **kwargs))

    return run


# -- the KRB-ERROR detector ---------------------------------------------------------------------


def test_krb_error_code() -> None:
    assert krb_error_code(krb_error(52)) == 52
    assert krb_error_code(krb_error(25, with_ctime=False)) == 25
    assert krb_error_code(krb_error(-1)) == -1
    assert krb_error_code(b"") is None
    assert krb_error_code(b"\x7e\x00") is None
    assert krb_error_code(krb_error(52)[:-5]) is None  # truncated
    assert krb_error_code(b"\x6b" + krb_error(52)[1:]) is None  # AS-REP tag, not KRB-ERROR
    assert krb_error_code(der(0x7E, der(0x30, der(0xA0, der_int(5))))) is None  # no [6]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_krb_error_code_never_raises(data: bytes) -> None:
    krb_error_code(data)
    krb_error_code(b"\x7e" + data)
    krb_error_code(krb_error(52)[: len(data)])


def test_kdc_address() -> None:
    assert str(KdcAddress("kdc.example", 88, "tcp")) == "tcp/kdc.example:88"
    assert str(KdcAddress("::1", 750)) == "udp/[::1]:750"
    with pytest.raises(ValueError):
        KdcAddress("h", 0)
    with pytest.raises(ValueError):
        KdcAddress("h", 88, "sctp")  # type: ignore[arg-type]


# -- exchanges ---------------------------------------------------------------------------------


def test_udp_answer(send: Send, kdc_factory: Callable[..., FakeKdc]) -> None:
    kdc = kdc_factory()
    assert send(b"hello", kdc.both(), timeout=2) == b"REPLY:hello"
    assert kdc.udp_requests == [b"hello"] and kdc.tcp_requests == []


def test_garbage_udp_answer_is_returned(send: Send, kdc_factory: Callable[..., FakeKdc]) -> None:
    kdc = kdc_factory(udp=lambda r: b"\xff\x00garbage")
    assert send(b"hello", [kdc.address()], timeout=2) == b"\xff\x00garbage"


def test_udp_preference_limit_one_forces_tcp(
    send: Send, kdc_factory: Callable[..., FakeKdc]
) -> None:
    kdc = kdc_factory()
    assert send(b"hello", kdc.both(), timeout=2, udp_preference_limit=1) == b"REPLY:hello"
    assert kdc.udp_requests == [] and kdc.tcp_requests == [b"hello"]


def test_large_request_goes_over_tcp_first(send: Send, kdc_factory: Callable[..., FakeKdc]) -> None:
    kdc = kdc_factory()
    big = bytes(2000)
    assert send(big, kdc.both(), timeout=2) == b"REPLY:" + big
    assert kdc.udp_requests == [] and kdc.tcp_requests == [big]


def test_too_big_retries_over_tcp(send: Send, kdc_factory: Callable[..., FakeKdc]) -> None:
    kdc = kdc_factory(udp=lambda r: krb_error(52), tcp=lambda r: frame(b"full reply over TCP"))
    # Only the UDP address is listed: the retry goes to the same host and port over TCP.
    assert send(b"req", [kdc.address("udp")], timeout=2) == b"full reply over TCP"
    assert kdc.udp_requests == [b"req"] and kdc.tcp_requests == [b"req"]


def test_other_krb_errors_over_udp_are_replies(
    send: Send, kdc_factory: Callable[..., FakeKdc]
) -> None:
    kdc = kdc_factory(udp=lambda r: krb_error(25))
    assert krb_error_code(send(b"req", kdc.both(), timeout=2)) == 25
    assert kdc.tcp_requests == []


def test_no_answer_raises_within_the_deadline(
    send: Send, kdc_factory: Callable[..., FakeKdc]
) -> None:
    kdc = kdc_factory(udp=None)
    timeout, retries = 0.2, 3
    t0 = time.monotonic()
    with pytest.raises(NoAuthenticatingAuthority) as info:
        send(b"req", [kdc.address()], timeout=timeout, max_retries=retries, realm="TEST.LOCAL")
    elapsed = time.monotonic() - t0
    assert elapsed < timeout * retries + 1.0  # a bound, not a speed test
    assert len(kdc.udp_requests) == retries
    message = str(info.value)
    assert "TEST.LOCAL" in message
    assert f"udp/127.0.0.1:{kdc.port}" in message and "no answer within 0.2 s" in message


def test_silent_tcp_respects_total_timeout(
    send: Send, kdc_factory: Callable[..., FakeKdc]
) -> None:
    kdcs = [kdc_factory(udp=None, tcp=lambda r: None) for _ in range(3)]
    addresses = [k.address(t) for k in kdcs for t in ("udp", "tcp")]
    t0 = time.monotonic()
    with pytest.raises(NoAuthenticatingAuthority, match=r"timed out after .*0\.5 s at most"):
        send(b"req", addresses, timeout=0.3, max_retries=5, total_timeout=0.5)
    assert time.monotonic() - t0 < 0.5 + 1.0


def test_fail_over_to_the_second_kdc(send: Send, kdc_factory: Callable[..., FakeKdc]) -> None:
    silent = kdc_factory(udp=None)
    good = kdc_factory()
    reply = send(b"req", [silent.address(), good.address()], timeout=0.2, max_retries=2)
    assert reply == b"REPLY:req"
    assert silent.udp_requests == [b"req"] and good.udp_requests == [b"req"]


def test_fail_over_after_connection_refused(
    send: Send, kdc_factory: Callable[..., FakeKdc]
) -> None:
    good = kdc_factory()
    dead = closed_port()
    t0 = time.monotonic()
    reply = send(
        b"req",
        [
            KdcAddress("127.0.0.1", dead, "tcp"),
            KdcAddress("127.0.0.1", dead, "udp"),
            good.address(),
        ],
        timeout=5,
    )
    assert reply == b"REPLY:req"
    assert time.monotonic() - t0 < 4  # refusals are immediate, not time-outs


def test_refusal_is_reported_as_a_refusal_with_the_time_spent(send: Send) -> None:
    # Before: "No KDC for realm TEST.LOCAL answered within 18 s" after refusals that took 1 ms.
    dead = closed_port()
    kdcs = [KdcAddress("127.0.0.1", dead, "udp"), KdcAddress("127.0.0.1", dead, "tcp")]
    with pytest.raises(NoAuthenticatingAuthority) as info:
        send(b"req", kdcs, timeout=3, max_retries=3, realm="TEST.LOCAL")
    message = str(info.value)
    assert message.startswith("Every KDC for realm TEST.LOCAL refused the connection")
    assert f"udp/127.0.0.1:{dead}: connection refused" in message
    assert f"tcp/127.0.0.1:{dead}: connection refused" in message
    assert "within" not in message and "18 s" not in message
    spent = re.search(r"gave up after ([0-9.]+) (ms|s)", message)
    assert spent is not None and (spent.group(2) == "ms" or float(spent.group(1)) < 3)


def test_tcp_length_with_high_bit_is_refused(
    send: Send, kdc_factory: Callable[..., FakeKdc]
) -> None:
    bad = kdc_factory(udp=None, tcp=lambda r: b"\x80\x00\x00\x05hello")
    with pytest.raises(NoAuthenticatingAuthority, match="reserved high bit"):
        send(b"req", [bad.address("tcp")], timeout=1, max_retries=3)
    assert len(bad.tcp_requests) == 1  # a KDC that broke framing is not asked again


def test_tcp_length_over_limit_is_refused(send: Send, kdc_factory: Callable[..., FakeKdc]) -> None:
    bad = kdc_factory(udp=None, tcp=lambda r: struct.pack(">I", 1 << 21) + b"x" * 10)
    with pytest.raises(NoAuthenticatingAuthority, match="over the 1048576-byte limit"):
        send(b"req", [bad.address("tcp")], timeout=1)
    small = kdc_factory(udp=None, tcp=lambda r: frame(b"x" * 200))
    with pytest.raises(NoAuthenticatingAuthority, match="over the 100-byte limit"):
        send(b"req", [small.address("tcp")], timeout=1, max_reply=100)


def test_bad_tcp_framing_fails_over(send: Send, kdc_factory: Callable[..., FakeKdc]) -> None:
    bad = kdc_factory(udp=None, tcp=lambda r: b"\xff\xff\xff\xff")
    good = kdc_factory()
    assert send(b"req", [bad.address("tcp"), good.address("tcp")], timeout=1) == b"REPLY:req"


def test_tcp_closed_before_the_reply_is_complete(
    send: Send, kdc_factory: Callable[..., FakeKdc]
) -> None:
    short = kdc_factory(udp=None, tcp=lambda r: struct.pack(">I", 100) + b"only part")
    with pytest.raises(NoAuthenticatingAuthority, match="closed the connection"):
        send(b"req", [short.address("tcp")], timeout=1, max_retries=1)
    empty = kdc_factory(udp=None, tcp=lambda r: b"")
    with pytest.raises(NoAuthenticatingAuthority):
        send(b"req", [empty.address("tcp")], timeout=1, max_retries=1)


def test_garbage_tcp_payload_is_returned(send: Send, kdc_factory: Callable[..., FakeKdc]) -> None:
    kdc = kdc_factory(udp=None, tcp=lambda r: frame(b"\x00not kerberos"))
    assert send(b"req", [kdc.address("tcp")], timeout=1) == b"\x00not kerberos"


def test_host_names_are_resolved(send: Send, kdc_factory: Callable[..., FakeKdc]) -> None:
    kdc = kdc_factory()
    assert send(b"req", [KdcAddress("localhost", kdc.port, "udp")], timeout=2) == b"REPLY:req"


def test_unresolvable_host_is_reported(send: Send) -> None:
    with pytest.raises(NoAuthenticatingAuthority, match="cannot resolve"):
        send(b"req", [KdcAddress("no-such-host.invalid", 88, "udp")], timeout=2, max_retries=1)


def test_no_kdcs(send: Send) -> None:
    with pytest.raises(NoAuthenticatingAuthority, match="No KDC is known for realm R"):
        send(b"req", [], realm="R")


def test_request_too_big_for_udp_and_no_tcp(send: Send) -> None:
    with pytest.raises(NoAuthenticatingAuthority, match="too large for UDP"):
        send(bytes(70000), [KdcAddress("127.0.0.1", 88, "udp")])


def test_bad_arguments(send: Send) -> None:
    with pytest.raises(ValueError):
        send(b"req", [KdcAddress("127.0.0.1")], timeout=0)
    with pytest.raises(ValueError):
        send(b"req", [KdcAddress("127.0.0.1")], max_retries=0)


# -- discovery ---------------------------------------------------------------------------------

CONF = """\
[libdefaults]
    default_realm = TEST.LOCAL
[realms]
    TEST.LOCAL = {
        kdc = kdc1.test.local
        kdc = 10.0.0.2:750
        kdc = [fd00::1]:88
        kdc = tcp/kdc4.test.local:8888
        kdc = udp/kdc5.test.local
        kdc = https://proxy.test.local/KdcProxy
    }
    PROXY.ONLY = {
        kdc = https://proxy.test.local/KdcProxy
    }
    BAD.REALM = {
        kdc = [oops
    }
"""


def test_kdcs_from_config() -> None:
    found = kdcs_from_config("TEST.LOCAL", Krb5Config.from_string(CONF))
    assert [str(k) for k in found] == [
        "udp/kdc1.test.local:88", "tcp/kdc1.test.local:88",
        "udp/10.0.0.2:750", "tcp/10.0.0.2:750",
        "udp/[fd00::1]:88", "tcp/[fd00::1]:88",
        "tcp/kdc4.test.local:8888",
        "udp/kdc5.test.local:88",
    ]


def test_bad_kdc_value_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"krb5.conf:16:"):
        locate_kdcs("BAD.REALM", Krb5Config.from_string(CONF, "krb5.conf"))


def test_config_wins_over_dns() -> None:
    def lookup(name: str) -> list[SrvRecord]:
        raise AssertionError("DNS must not be asked when krb5.conf lists KDCs")

    found = locate_kdcs("TEST.LOCAL", Krb5Config.from_string(CONF), lookup=lookup)
    assert found[0] == KdcAddress("kdc1.test.local", 88, "udp")


def test_https_only_realm() -> None:
    with pytest.raises(NoAuthenticatingAuthority, match="MS-KKDCP"):
        locate_kdcs("PROXY.ONLY", Krb5Config.from_string(CONF))


def test_dns_disabled() -> None:
    conf = Krb5Config.from_string("[libdefaults]\n dns_lookup_kdc = false\n")
    with pytest.raises(NoAuthenticatingAuthority, match="dns_lookup_kdc is false"):
        locate_kdcs("EXAMPLE.COM", conf)


def test_srv_lookup_injected() -> None:
    records = {
        "_kerberos._udp.EXAMPLE.COM": [
            SrvRecord(10, 0, 88, "b.example.com"),
            SrvRecord(0, 0, 88, "a.example.com"),
        ],
        "_kerberos._tcp.EXAMPLE.COM": [SrvRecord(0, 0, 8888, "t.example.com")],
    }
    asked: list[str] = []

    def lookup(name: str) -> list[SrvRecord]:
        asked.append(name)
        return records.get(name, [])

    found = locate_kdcs("EXAMPLE.COM", Krb5Config.defaults(), lookup=lookup)
    assert asked == ["_kerberos._udp.EXAMPLE.COM", "_kerberos._tcp.EXAMPLE.COM"]
    assert [str(k) for k in found] == [
        "udp/a.example.com:88", "udp/b.example.com:88", "tcp/t.example.com:8888"
    ]

    async def alookup(name: str) -> list[SrvRecord]:
        return records.get(name, [])

    again = asyncio.run(locate_kdcs_async("EXAMPLE.COM", Krb5Config.defaults(), lookup=alookup))
    assert again == found


def test_no_srv_records() -> None:
    with pytest.raises(NoAuthenticatingAuthority, match="no SRV records"):
        locate_kdcs("EXAMPLE.COM", Krb5Config.defaults(), lookup=lambda name: [])


def test_order_srv_rfc2782() -> None:
    recs = [
        SrvRecord(20, 0, 88, "last"),
        SrvRecord(10, 60, 88, "w60"),
        SrvRecord(10, 0, 88, "w0"),
        SrvRecord(10, 40, 88, "w40"),
        SrvRecord(5, 0, 88, "."),
    ]
    # randint always picks the top of the range: the last record of the running sum wins.
    top = order_srv(recs, lambda a, b: b)
    assert [r.target for r in top] == ["w40", "w60", "w0", "last"]
    # ... and the bottom: weight-0 records (placed first) win while any is left.
    bottom = order_srv(recs, lambda a, b: a)
    assert [r.target for r in bottom] == ["w0", "w60", "w40", "last"]
    middle = order_srv(recs, lambda a, b: min(b, 50))
    assert [r.target for r in middle] == ["w60", "w40", "w0", "last"]
    # An RNG out of range cannot hang the loop.
    assert len(order_srv(recs, lambda a, b: b + 1000)) == 4
    assert order_srv([SrvRecord(0, 0, 0, ".")]) == []


def test_order_srv_random_is_a_permutation() -> None:
    recs = [SrvRecord(p, w, 88, f"h{p}-{w}") for p in range(3) for w in (0, 1, 5, 50)]
    for _ in range(20):
        out = order_srv(recs)
        assert sorted(out, key=lambda r: r.target) == sorted(recs, key=lambda r: r.target)
        assert [r.priority for r in out] == sorted(r.priority for r in recs)


def test_dns_unavailable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> Any:
        if name.startswith("dns"):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    assert dns_srv_available() is False
    with pytest.raises(DnsUnavailable, match="dnspython") as info:
        locate_kdcs("EXAMPLE.COM", Krb5Config.defaults())
    assert isinstance(info.value, NoAuthenticatingAuthority)
    with pytest.raises(DnsUnavailable):
        asyncio.run(locate_kdcs_async("EXAMPLE.COM", Krb5Config.defaults()))


class FakeDns:
    """A one-zone DNS server on 127.0.0.1 (UDP) built with dnspython."""

    def __init__(self, zone: dict[str, list[SrvRecord]]) -> None:
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        self.zone = {k.lower().rstrip(".") + ".": v for k, v in zone.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()

        def serve() -> None:
            while not self.stop.is_set():
                try:
                    data, peer = self.sock.recvfrom(4096)
                except (TimeoutError, OSError):
                    continue
                query = dns.message.from_wire(data)
                response = dns.message.make_response(query)
                question = query.question[0]
                name = question.name.to_text().lower()
                if name not in self.zone:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                elif question.rdtype == dns.rdatatype.SRV:
                    texts = [
                        f"{r.priority} {r.weight} {r.port} {r.target}." for r in self.zone[name]
                    ]
                    response.answer.append(
                        dns.rrset.from_text(question.name, 60, "IN", "SRV", *texts)
                    )
                self.sock.sendto(response.to_wire(), peer)

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def fake_dns() -> Iterator[FakeDns]:
    require_module("dns.resolver", "pip install dnspython (it is in the test extra)")
    server = FakeDns(
        {
            "_kerberos._udp.EXAMPLE.COM": [
                SrvRecord(0, 100, 88, "kdc1.example.com"),
                SrvRecord(1, 0, 750, "kdc2.example.com"),
            ],
            "_kerberos._tcp.EXAMPLE.COM": [SrvRecord(0, 0, 88, "kdc1.example.com")],
        }
    )
    yield server
    server.close()


def test_srv_lookup_with_dnspython(fake_dns: FakeDns) -> None:
    kw: dict[str, Any] = {"nameservers": ["127.0.0.1"], "port": fake_dns.port, "timeout": 2}
    got = srv_lookup("_kerberos._udp.EXAMPLE.COM", **kw)
    assert sorted(got, key=lambda r: r.priority) == [
        SrvRecord(0, 100, 88, "kdc1.example.com"),
        SrvRecord(1, 0, 750, "kdc2.example.com"),
    ]
    assert srv_lookup("_kerberos._udp.NOPE.COM", **kw) == []
    assert asyncio.run(srv_lookup_async("_kerberos._tcp.EXAMPLE.COM", **kw)) == [
        SrvRecord(0, 0, 88, "kdc1.example.com")
    ]

    def lookup(name: str) -> list[SrvRecord]:
        return srv_lookup(name, **kw)

    found = locate_kdcs("EXAMPLE.COM", Krb5Config.defaults(), lookup=lookup)
    assert [str(k) for k in found] == [
        "udp/kdc1.example.com:88", "udp/kdc2.example.com:750", "tcp/kdc1.example.com:88"
    ]


def test_srv_lookup_dns_timeout() -> None:
    require_module("dns.resolver", "pip install dnspython (it is in the test extra)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(NoAuthenticatingAuthority, match="DNS SRV lookup"):
            srv_lookup("_kerberos._udp.X.COM", nameservers=["127.0.0.1"], port=port, timeout=0.3)
        assert time.monotonic() - t0 < 2


def test_discovery_module_sends_nothing_itself() -> None:
    # discovery.py is sans-I/O apart from the injected lookup: it imports no socket module.
    assert "socket" not in vars(discovery)


# -- a real MIT KDC that answers KRB_ERR_RESPONSE_TOO_BIG -------------------------------------




@pytest.fixture(scope="module")
def small_udp_realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from interop.peers.mit_kdc import INSTALL_HINT, MitRealm, have_mit_kdc

    require_peer(have_mit_kdc(), "MIT KDC (krb5kdc)", INSTALL_HINT)

    class SmallUdpRealm(MitRealm):
        def _write_kdc_conf(self) -> None:
            super()._write_kdc_conf()
            with self.kdc_conf.open("a", encoding="utf-8") as f:
                # A repeated section merges; replies over 100 bytes make the KDC send
                # KRB_ERR_RESPONSE_TOO_BIG over UDP.
                f.write("[kdcdefaults]\n    kdc_max_dgram_reply_size = 100\n")

    realm = SmallUdpRealm(tmp_path_factory.mktemp("small-udp-realm"))
    try:
        realm.start()
        yield realm
    finally:
        realm.close()


_NONCES = itertools.count(1000)


@pytest.mark.interop
def test_real_kdc_too_big_then_tcp(send: Send, small_udp_realm: Any) -> None:
    # Each exchange uses a new nonce: MIT krb5kdc 1.20.1 crashes (SIGSEGV) when a UDP request
    # that got RESPONSE_TOO_BIG is sent again byte for byte (its lookaside cache replays it).
    nonces = _NONCES
    port = small_udp_realm.kdc_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # the raw UDP answer
        s.settimeout(5)
        s.sendto(as_req("alice", "TEST.LOCAL", nonce=next(nonces)), ("127.0.0.1", port))
        assert krb_error_code(s.recv(65536)) == 52
    conf = Krb5Config.load([str(small_udp_realm.krb5_conf)])
    kdcs = locate_kdcs("TEST.LOCAL", conf)
    assert kdcs[0].transport == "udp"
    limit = conf.udp_preference_limit
    reply = send(as_req("alice", "TEST.LOCAL", nonce=next(nonces)), kdcs, timeout=5,
                 udp_preference_limit=limit)
    assert krb_error_code(reply) == 25  # KDC_ERR_PREAUTH_REQUIRED, over TCP, after the retry
    assert len(reply) > 100
    forced = send(as_req("alice", "TEST.LOCAL", nonce=next(nonces)), kdcs, timeout=5,
                  udp_preference_limit=1)
    assert krb_error_code(forced) == 25
    big = as_req("nobody", "TEST.LOCAL", padding=1600, nonce=next(nonces))
    assert len(big) > limit
    unknown = send(big, kdcs, timeout=5, udp_preference_limit=limit)
    assert krb_error_code(unknown) == 6  # KDC_ERR_C_PRINCIPAL_UNKNOWN; TCP first
    assert small_udp_realm.running


def test_interop_tools_present_under_ci() -> None:
    if in_ci():
        assert shutil.which("krb5kdc"), "CI=true: the MIT KDC must be installed"

