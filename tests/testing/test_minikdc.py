"""opensspi.testing.kdc.MiniKdc: the KDC core byte for byte, and opensspi's Kerberos client and
acceptor authenticating through it over real UDP and TCP sockets on 127.0.0.1.

MIT's kinit against the same KDC is in tests/interop/test_minikdc_kinit.py (a real peer).
"""

from __future__ import annotations

import dataclasses
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opensspi
from opensspi import AscRet, AuthIdentity, Environment, IscReq, IscRet
from opensspi.constants import CredentialUse
from opensspi.errors import InvalidParameter, LogonDenied, TargetUnknown
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos import asn1 as k
from opensspi.packages.kerberos.acceptor import ReplayCache, decrypt_ticket
from opensspi.packages.kerberos.credentials import KerberosCredential, acquire_credentials
from opensspi.packages.kerberos.crypto import Key, decrypt, encrypt, make_checksum, profile
from opensspi.packages.kerberos.kdc import (
    forwarded_tgt,
    get_tgt,
    run_exchange,
    service_ticket,
    user_to_user,
)
from opensspi.packages.kerberos.keytab import Keytab
from opensspi.packages.kerberos.names import Principal
from opensspi.packages.kerberos.tickets import ServiceTicket, TicketCache
from opensspi.provider import KdcRequest
from opensspi.testing.kdc import KdcServer, MiniKdc
from opensspi.transport import KdcAddress, send_to_kdc

UTC = timezone.utc
T0 = datetime(2031, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
REALM = "EXAMPLE.TEST"
PASSWORD = "Al1ce-Passw0rd!"
WEB = "HTTP/web.example.test"
DB = "host/db.example.test"
FLAGS = (
    IscReq.MUTUAL_AUTH | IscReq.INTEGRITY | IscReq.CONFIDENTIALITY | IscReq.REPLAY_DETECT
    | IscReq.SEQUENCE_DETECT
)
TRANSPORTS = {"udp": None, "tcp": {"udp_preference_limit": 1}}


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # Every test has a new KDC with new keys; tickets cached for alice by an earlier test
    # (process-wide, as Windows' logon session) would be encrypted in keys it never had.
    TicketCache.forget_all()
    ReplayCache.shared().clear()
    yield
    TicketCache.forget_all()
    ReplayCache.shared().clear()


def make_kdc(env: Environment | None = None) -> MiniKdc:
    kdc = MiniKdc(REALM, env=env or Environment())
    kdc.add_user("alice", PASSWORD)
    kdc.add_service(WEB, ok_as_delegate=True)
    kdc.add_service(DB)
    return kdc


@pytest.fixture
def kdc() -> MiniKdc:
    return make_kdc()


@pytest.fixture
def served(kdc: MiniKdc) -> Iterator[KdcServer]:
    with kdc.serve() as server:
        yield server


# ---------------------------------------------------------------------------------------------
# opensspi's client and acceptor through the server, over real sockets
# ---------------------------------------------------------------------------------------------


def make_pair(
    kdc: MiniKdc, tmp_path: Path, *, password: str = PASSWORD, target: str = WEB,
    flags: IscReq = FLAGS, transport: str = "udp",
) -> tuple[opensspi.Context, opensspi.Context]:
    config = kdc.krb5_config(libdefaults=TRANSPORTS[transport])
    service = WEB if target == WEB else DB
    keytab = kdc.write_keytab(tmp_path / "service.keytab", service)
    client = opensspi.client(
        "Kerberos", target=target, flags=flags,
        auth_data=KerberosAuthData(identity=AuthIdentity("alice", REALM, password), config=config),
    )
    server = opensspi.server(
        "Kerberos", auth_data=KerberosAuthData(acceptor_keytab=str(keytab), config=config)
    )
    return client, server


def handshake(client: opensspi.Context, server: opensspi.Context) -> None:
    token = client.step()
    while token is not None:
        reply = server.step(token)
        token = client.step(reply) if reply is not None else None
    assert client.complete and server.complete


def messages_both_ways(client: opensspi.Context, server: opensspi.Context) -> None:
    for i in range(3):
        assert server.unwrap(client.wrap(b"to the server %d" % i)) == b"to the server %d" % i
        assert client.unwrap(server.wrap(b"to the client %d" % i)) == b"to the client %d" % i
    assert server.unwrap(client.wrap(b"signed only", encrypt=False)) == b"signed only"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_client_and_acceptor_authenticate_through_the_server(
    kdc: MiniKdc, served: KdcServer, tmp_path: Path, transport: str
) -> None:
    client, server = make_pair(kdc, tmp_path, transport=transport)
    handshake(client, server)
    assert server.client_name == "alice@EXAMPLE.TEST"
    assert client.flags & IscRet.MUTUAL_AUTH and server.flags & AscRet.MUTUAL_AUTH
    assert client.session_key == server.session_key
    messages_both_ways(client, server)
    stats = served.stats
    # AS-REQ, AS-REQ with PA-ENC-TIMESTAMP, TGS-REQ: all over the transport asked for.
    assert (stats.udp, stats.tcp) == ((3, 0) if transport == "udp" else (0, 3))
    assert stats.errors == stats.timeouts == stats.too_long == 0


def test_delegation_gives_the_acceptor_a_usable_tgt(
    kdc: MiniKdc, served: KdcServer, tmp_path: Path
) -> None:
    client, server = make_pair(kdc, tmp_path, flags=FLAGS | IscReq.DELEGATE)
    handshake(client, server)
    assert client.flags & IscRet.DELEGATE and server.flags & AscRet.DELEGATE
    delegated = server.context.delegated_credential  # type: ignore[attr-defined]
    assert isinstance(delegated, KerberosCredential)
    assert delegated.principal_name == "alice@EXAMPLE.TEST"
    # The acceptor uses the forwarded TGT for a second service, through the same KDC.
    onward = opensspi.client("Kerberos", target=DB, flags=FLAGS, credential=delegated)
    db_keytab = kdc.write_keytab(tmp_path / "db.keytab", DB)
    db = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(db_keytab), config=kdc.krb5_config()))
    handshake(onward, db)
    assert db.client_name == "alice@EXAMPLE.TEST"
    messages_both_ways(onward, db)
    tickets = delegated.cache.tickets() if delegated.cache else ()
    tgt = next(t for t in tickets if t.is_tgt)
    assert tgt.flags & k.TicketFlags.FORWARDED and tgt.flags & k.TicketFlags.FORWARDABLE
    db_ticket = next(t for t in tickets if not t.is_tgt)
    # FORWARDED carries on into tickets got with a forwarded TGT (RFC 4120 §2.6).
    assert db_ticket.flags & k.TicketFlags.FORWARDED


def test_no_delegation_to_a_service_without_ok_as_delegate(
    kdc: MiniKdc, served: KdcServer, tmp_path: Path
) -> None:
    client, server = make_pair(kdc, tmp_path, target=DB, flags=FLAGS | IscReq.DELEGATE)
    handshake(client, server)
    assert not server.flags & AscRet.DELEGATE
    assert server.context.delegated_credential is None  # type: ignore[attr-defined]


def test_wrong_password_is_logon_denied(kdc: MiniKdc, served: KdcServer, tmp_path: Path) -> None:
    client, _ = make_pair(kdc, tmp_path, password="not-" + PASSWORD)
    with pytest.raises(LogonDenied) as info:
        client.step()
    assert info.value.status == 0x8009030C
    assert info.value.krb_error == 24  # type: ignore[attr-defined]


def test_unknown_spn_is_target_unknown(kdc: MiniKdc, served: KdcServer, tmp_path: Path) -> None:
    client, _ = make_pair(kdc, tmp_path, target="HTTP/nosuch.example.test")
    with pytest.raises(TargetUnknown) as info:
        client.step()
    assert info.value.status == 0x80090303
    assert "HTTP/nosuch.example.test@EXAMPLE.TEST" in str(info.value)


def test_big_udp_reply_sends_the_client_to_tcp(kdc: MiniKdc, tmp_path: Path) -> None:
    with kdc.serve(max_udp_reply=300) as server:
        client, acceptor = make_pair(kdc, tmp_path)
        handshake(client, acceptor)
    stats = server.stats
    # The PREAUTH_REQUIRED error fits in a datagram; the AS-REP and TGS-REP do not (§7.2.1).
    assert stats.too_big == 2 and stats.tcp == 2 and stats.udp == 3


# ---------------------------------------------------------------------------------------------
# The server: framing, bounds, time-outs, shutdown
# ---------------------------------------------------------------------------------------------


def test_concurrent_requests_over_both_transports(kdc: MiniKdc, served: KdcServer) -> None:
    kdc.require_preauth = False
    key = kdc.key("alice")
    addresses = [KdcAddress("127.0.0.1", served.port, t) for t in ("udp", "tcp")]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                nonce = n * 1000 + i
                reply = send_to_kdc(
                    as_req(nonce=nonce, till=datetime.now(UTC) + timedelta(hours=1)),
                    addresses, udp_preference_limit=1 if n % 2 else 1465, realm=REALM,
                )
                assert open_as_rep(reply, key)[1].nonce == nonce
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    stats = served.stats
    assert (stats.udp, stats.tcp, stats.errors) == (40, 40, 0)


def tcp_exchange(server: KdcServer, payload: bytes, *, timeout: float = 5.0) -> bytes:
    """Send raw bytes, return everything the server sends until it closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        out = b""
        try:
            sock.sendall(payload)
            while chunk := sock.recv(65536):
                out += chunk
        except ConnectionResetError:  # closed with our bytes unread: a reset, not a FIN
            pass
    return out


def framed_error(data: bytes) -> k.KrbError:
    (length,) = struct.unpack(">I", data[:4])
    assert len(data) == 4 + length
    return k.KrbError.parse(data[4:])


def test_tcp_reserved_length_bit_and_oversized_requests(kdc: MiniKdc) -> None:
    with kdc.serve(max_request=1000) as server:
        # §7.2.2: the high bit set: KRB_ERR_FIELD_TOOLONG, then the stream is closed.
        assert framed_error(tcp_exchange(server, b"\x80\x00\x00\x00")).error_code == 61
        assert framed_error(tcp_exchange(server, struct.pack(">I", 1001))).error_code == 61
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(5)
            udp.sendto(bytes(1001), ("127.0.0.1", server.port))
            assert k.KrbError.parse(udp.recv(65536)).error_code == 61
        assert server.stats.too_long == 3


def test_malformed_requests_get_krb_err_generic(kdc: MiniKdc, served: KdcServer) -> None:
    reply = tcp_exchange(served, struct.pack(">I", 5) + b"hello")
    err = framed_error(reply)
    assert err.error_code == 60 and err.e_text and "malformed" in err.e_text
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(b"\x6a\x03\x02\x01\x05", ("127.0.0.1", served.port))
        assert k.KrbError.parse(udp.recv(65536)).error_code == 60
    assert served.stats.errors == 0


def test_slow_clients_are_cut_off(kdc: MiniKdc) -> None:
    with kdc.serve(timeout=0.3) as server:
        started = time.monotonic()
        # Half a header, then nothing: the server hangs up after its time-out.
        assert tcp_exchange(server, b"\x00\x00") == b""
        assert time.monotonic() - started < 3
        assert tcp_exchange(server, struct.pack(">I", 100) + b"partial") == b""
        assert server.stats.timeouts == 2


def test_connection_limit(kdc: MiniKdc) -> None:
    with kdc.serve(max_connections=1, timeout=2) as server:
        hold = socket.create_connection(("127.0.0.1", server.port))
        try:
            deadline = time.monotonic() + 5
            refused = b"?"
            while time.monotonic() < deadline:  # until `hold` has been accepted
                refused = tcp_exchange(server, struct.pack(">I", 5) + b"hello")
                if server.stats.refused:
                    break
            assert refused == b"" and server.stats.refused >= 1
        finally:
            hold.close()


def test_serve_stops_cleanly(kdc: MiniKdc, tmp_path: Path) -> None:
    with kdc.serve() as server:
        port = server.port
        assert kdc.server is server and str(port) in kdc.krb5_conf_text()
        hold = socket.create_connection(("127.0.0.1", port))  # a connection in progress
    hold.close()
    assert kdc.server is None and "stopped" in repr(server)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(InvalidParameter, match="serve"):
        kdc.krb5_config()
    server.close()  # idempotent


def test_two_servers_and_explicit_kdc(kdc: MiniKdc) -> None:
    with kdc.serve() as outer, kdc.serve() as inner:
        assert outer.port != inner.port and kdc.server is inner
        assert kdc.krb5_config().realm(REALM).kdcs == (f"127.0.0.1:{inner.port}",)
    text = kdc.krb5_conf_text(kdc="kdc.example.test:88", domain_realm={".example.test": REALM})
    assert "kdc = kdc.example.test:88" in text and ".example.test = EXAMPLE.TEST" in text


# ---------------------------------------------------------------------------------------------
# The core: handle() byte for byte, with a settable clock
# ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env(clock: Clock) -> Environment:
    return Environment(now=clock, random=random.Random(7).randbytes)


@pytest.fixture
def core(env: Environment) -> MiniKdc:
    return make_kdc(Environment(now=env.now, random=random.Random(11).randbytes))


def send_to(kdc: MiniKdc, log: list[bytes] | None = None) -> Callable[[KdcRequest], bytes]:
    def send(request: KdcRequest) -> bytes:
        reply = kdc.handle(request.data)
        if log is not None:
            log.append(reply)
        return reply

    return send


def credential(kdc: MiniKdc, env: Environment, user: str = "alice",
               password: str = PASSWORD, **options: Any) -> KerberosCredential:
    data = KerberosAuthData(identity=AuthIdentity(user, REALM, password),
                            config=kdc.krb5_config(kdc="127.0.0.1:88"), **options)
    return acquire_credentials(None, CredentialUse.OUTBOUND, data, env)


def principal(text: str) -> Principal:
    return Principal.parse(text, REALM)


def as_req(*, cname: str = "alice", sname: str = f"krbtgt/{REALM}", realm: str = REALM,
           etypes: tuple[int, ...] = (18, 17), options: int = 0, nonce: int = 42,
           padata: tuple[k.PAData, ...] | None = None, till: datetime | None = None) -> bytes:
    body = k.KdcReqBody(
        kdc_options=options, cname=k.PrincipalName.from_text(cname), realm=realm,
        sname=k.PrincipalName.from_text(sname), till=till or T0 + timedelta(hours=20),
        nonce=nonce, etype=etypes,
    )
    return k.KdcReq(msg_type=10, padata=padata, req_body=body).build()


def timestamp(key: Key, when: datetime) -> k.PAData:
    plain = k.PaEncTsEnc(when.replace(microsecond=0), when.microsecond).build()
    enc = k.EncryptedData(etype=key.enctype, cipher=encrypt(key, 1, plain))
    return k.PAData(2, enc.build())


def error_of(reply: bytes) -> k.KrbError:
    assert reply[:1] == b"\x7e", k.KdcRep.parse(reply)
    return k.KrbError.parse(reply)


def open_as_rep(reply: bytes, key: Key) -> tuple[k.KdcRep, k.EncKdcRepPart]:
    rep = k.KdcRep.parse(reply)
    return rep, k.EncKdcRepPart.parse(decrypt(key, 3, rep.enc_part.cipher))


def tgs_req(
    tgt: ServiceTicket, sname: str | None, *, options: int = int(k.KdcOptions.CANONICALIZE),
    when: datetime = T0, checksum: bool = True, tamper: bool = False,
    additional: k.Ticket | None = None, nonce: int = 77, subkey: Key | None = None,
) -> bytes:
    """A TGS-REQ built by hand, so that each KDC check can be failed on purpose."""
    body = k.KdcReqBody(
        kdc_options=options, realm=REALM,
        sname=None if sname is None else k.PrincipalName.from_text(sname),
        till=T0 + timedelta(hours=20), nonce=nonce, etype=(18, 17),
        additional_tickets=None if additional is None else (additional,),
    )
    session = tgt.session_key
    covered = dataclasses.replace(body, nonce=nonce + 1).raw if tamper else body.raw
    cksum = k.Checksum(int(profile(session.enctype).checksum_type),
                       make_checksum(session, 6, covered))
    auth = k.Authenticator(
        crealm=tgt.client.realm, cname=tgt.client.name, cksum=cksum if checksum else None,
        cusec=when.microsecond, ctime=when.replace(microsecond=0),
        subkey=None if subkey is None else k.EncryptionKey(subkey.enctype, subkey.contents),
    )
    ap_req = k.ApReq(ticket=tgt.ticket, authenticator=k.EncryptedData(
        etype=session.enctype, cipher=encrypt(session, 7, auth.build())))
    return k.KdcReq(msg_type=12, padata=(k.PAData(1, ap_req.build()),), req_body=body).build()


def open_tgs_rep(reply: bytes, key: Key, usage: int = 8) -> tuple[k.KdcRep, k.EncKdcRepPart]:
    rep = k.KdcRep.parse(reply)
    return rep, k.EncKdcRepPart.parse(decrypt(key, usage, rep.enc_part.cipher))


def test_as_requires_preauth_with_etype_info2(core: MiniKdc) -> None:
    err = error_of(core.handle(as_req(etypes=(20, 17, 18))))
    assert err.error_code == 25 and err.e_text == "NEEDED_PREAUTH"
    assert err.cname == k.PrincipalName(1, ("alice",)) and err.crealm == REALM
    assert err.stime == T0.replace(microsecond=0) and err.susec == T0.microsecond
    # ETYPE-INFO2 names the first requested enctype alice has a key of, and her salt.
    assert err.etype_info2() == (k.EtypeInfo2Entry(17, b"EXAMPLE.TESTalice"),)
    assert [p.padata_type for p in err.method_data() or ()] == [19, 2]


def test_as_with_timestamp(core: MiniKdc) -> None:
    key = core.key("alice", 17)
    reply = core.handle(as_req(options=int(k.KdcOptions.FORWARDABLE), nonce=1234,
                               padata=(timestamp(key, T0),)))
    rep, part = open_as_rep(reply, key)
    assert part.nonce == 1234 and part.application_tag == 25
    flags = k.TicketFlags
    assert part.flags == flags.INITIAL | flags.PRE_AUTHENT | flags.FORWARDABLE
    assert part.authtime == T0.replace(microsecond=0)
    assert part.endtime == part.authtime + timedelta(hours=10)  # max_life caps till (20 h)
    assert part.key.keytype == 18  # the session key: first requested that krbtgt has
    assert (rep.crealm, rep.cname, part.sname) == (REALM, k.PrincipalName(1, ("alice",)),
                                                   k.PrincipalName(2, ("krbtgt", REALM)))
    assert rep.enc_part.etype == 17 and rep.enc_part.kvno == 1
    assert [p.padata_type for p in rep.padata or ()] == [19]
    tgt = k.EncTicketPart.parse(
        decrypt(core.key(f"krbtgt/{REALM}"), 2, rep.ticket.enc_part.cipher))
    assert tgt.key == part.key and tgt.cname == rep.cname and tgt.flags == part.flags


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        ({"cname": "nobody"}, 6, "CLIENT_NOT_FOUND"),
        ({"sname": "krbtgt/ELSEWHERE"}, 7, "SERVER_NOT_FOUND"),
        ({"realm": "ELSEWHERE.TEST"}, 68, "WRONG_REALM"),
        ({"etypes": (23,)}, 14, None),
        ({"options": int(k.KdcOptions.RENEW)}, 13, None),
        ({"till": datetime(2000, 1, 1, tzinfo=UTC)}, 11, None),
    ],
)
def test_as_errors(core: MiniKdc, change: dict[str, Any], code: int, text: str | None) -> None:
    key = core.key("alice")
    err = error_of(core.handle(as_req(padata=(timestamp(key, T0),), **change)))
    assert err.error_code == code
    if text is not None:
        assert err.e_text == text


def test_as_bad_preauth(core: MiniKdc) -> None:
    wrong = Key(18, bytes(32))
    err = error_of(core.handle(as_req(padata=(timestamp(wrong, T0),))))
    assert err.error_code == 24 and err.etype_info2() is not None
    late = timestamp(core.key("alice"), T0 + timedelta(minutes=6))
    assert error_of(core.handle(as_req(padata=(late,)))).error_code == 37
    garbage = k.PAData(2, b"\x30\x00")
    assert error_of(core.handle(as_req(padata=(garbage,)))).error_code == 24


def test_as_without_preauth_and_till_1970(core: MiniKdc) -> None:
    core.require_preauth = False
    key = core.key("alice")
    _, part = open_as_rep(core.handle(as_req(till=datetime(1970, 1, 1, tzinfo=UTC))), key)
    assert part.flags == k.TicketFlags.INITIAL  # no PRE-AUTHENT without a timestamp
    assert part.endtime == T0.replace(microsecond=0) + timedelta(hours=10)


def test_forwardable_needs_the_principals_consent(core: MiniKdc, env: Environment) -> None:
    core.add_user("carol", "carol-pw", forwardable=False)
    key = core.key("carol")
    reply = core.handle(as_req(cname="carol", options=int(k.KdcOptions.FORWARDABLE),
                               padata=(timestamp(key, T0),)))
    assert not open_as_rep(reply, key)[1].flags & k.TicketFlags.FORWARDABLE


def test_tgs_issues_service_tickets(core: MiniKdc, env: Environment) -> None:
    cred = credential(core, env)
    ticket = run_exchange(service_ticket(cred, principal(WEB), env), send_to(core))
    assert ticket.flags & k.TicketFlags.OK_AS_DELEGATE and ticket.flags & k.TicketFlags.FORWARDABLE
    assert ticket.flags & k.TicketFlags.PRE_AUTHENT and not ticket.flags & k.TicketFlags.INITIAL
    part, session = decrypt_ticket(core.keytab(WEB), ticket.ticket, allowed=principal(WEB),
                                   now=T0, skew=timedelta(minutes=5))
    assert session == ticket.session_key and part.cname == k.PrincipalName(1, ("alice",))
    assert ticket.ticket.enc_part.kvno == 1
    db = run_exchange(service_ticket(cred, principal(DB), env), send_to(core))
    assert not db.flags & k.TicketFlags.OK_AS_DELEGATE


def test_tgs_checks(core: MiniKdc, env: Environment, clock: Clock) -> None:
    tgt = run_exchange(get_tgt(credential(core, env), env), send_to(core))
    subkey = Key(18, bytes(range(32)))
    rep, part = open_tgs_rep(core.handle(tgs_req(tgt, WEB, nonce=99, subkey=subkey)), subkey, 9)
    assert part.nonce == 99 and part.application_tag == 26 and rep.enc_part.kvno is None
    _, part = open_tgs_rep(core.handle(tgs_req(tgt, WEB)), tgt.session_key, 8)
    assert part.sname.to_text() == WEB

    def code(request: bytes) -> int:
        return error_of(core.handle(request)).error_code

    assert code(tgs_req(tgt, "HTTP/nosuch.example.test")) == 7
    assert code(tgs_req(tgt, WEB, checksum=False)) == 50
    assert code(tgs_req(tgt, WEB, tamper=True)) == 41
    assert code(tgs_req(tgt, WEB, when=T0 + timedelta(minutes=6))) == 37
    assert code(tgs_req(tgt, WEB, options=int(k.KdcOptions.VALIDATE))) == 13
    assert code(tgs_req(tgt, WEB, options=int(k.KdcOptions.ENC_TKT_IN_SKEY))) == 13
    broken = dataclasses.replace(tgt, ticket=dataclasses.replace(
        tgt.ticket, enc_part=dataclasses.replace(tgt.ticket.enc_part,
                                                 cipher=bytes(len(tgt.ticket.enc_part.cipher)))))
    assert code(tgs_req(broken, WEB)) == 31
    not_a_tgt = run_exchange(service_ticket(credential(core, env), principal(WEB), env),
                             send_to(core))
    assert code(tgs_req(not_a_tgt, WEB)) == 35
    no_pa = k.KdcReq(msg_type=12, req_body=k.KdcReq.parse(tgs_req(tgt, WEB)).req_body)
    assert code(no_pa.build()) == 16
    clock.now = T0 + timedelta(hours=11)
    assert code(tgs_req(tgt, WEB, when=clock.now)) == 32


def test_ticket_end_is_bounded_by_the_tgt(core: MiniKdc, env: Environment, clock: Clock) -> None:
    cred = credential(core, env)
    tgt = run_exchange(get_tgt(cred, env), send_to(core))
    clock.now = T0 + timedelta(hours=4)
    ticket = run_exchange(service_ticket(cred, principal(WEB), env), send_to(core))
    assert ticket.endtime == tgt.endtime and ticket.authtime == tgt.authtime


def test_forwarded_tgt_and_not_forwardable(core: MiniKdc, env: Environment) -> None:
    cred = credential(core, env)
    fwd = run_exchange(forwarded_tgt(cred, env), send_to(core))
    assert fwd.flags & k.TicketFlags.FORWARDED and fwd.flags & k.TicketFlags.FORWARDABLE
    assert fwd.is_tgt
    # Without FORWARDABLE in the request, the forwarded TGT is not forwardable again.
    tgt = run_exchange(get_tgt(cred, env), send_to(core))
    _, part = open_tgs_rep(core.handle(tgs_req(
        tgt, f"krbtgt/{REALM}", options=int(k.KdcOptions.FORWARDED))), tgt.session_key)
    assert part.flags & k.TicketFlags.FORWARDED and not part.flags & k.TicketFlags.FORWARDABLE
    # §2.6: FORWARDED needs a forwardable TGT.
    core.add_user("carol", "carol-pw", forwardable=False)
    carol = credential(core, env, user="carol", password="carol-pw")
    carol_tgt = run_exchange(get_tgt(carol, env), send_to(core))
    assert not carol_tgt.flags & k.TicketFlags.FORWARDABLE
    err = error_of(core.handle(tgs_req(carol_tgt, f"krbtgt/{REALM}",
                                       options=int(k.KdcOptions.FORWARDED))))
    assert err.error_code == 13 and err.cname == k.PrincipalName(1, ("carol",))


def test_user_to_user_tickets(core: MiniKdc, env: Environment) -> None:
    core.add_user("bob", "bob-pw")
    bob = credential(core, env, user="bob", password="bob-pw")
    bob_tgt = run_exchange(get_tgt(bob, env), send_to(core))
    alice = credential(core, env)
    ticket = run_exchange(user_to_user(alice, principal("bob"), bob_tgt.ticket, env),
                          send_to(core))
    assert ticket.ticket.enc_part.kvno is None
    part = k.EncTicketPart.parse(
        decrypt(bob_tgt.session_key, 2, ticket.ticket.enc_part.cipher))
    assert part.cname == k.PrincipalName(1, ("alice",)) and part.key.keyvalue == (
        ticket.session_key.contents)
    # The additional ticket must be the TGT of the server asked for (§3.3.3).
    alice_tgt = run_exchange(get_tgt(alice, env), send_to(core))
    err = error_of(core.handle(tgs_req(alice_tgt, "carol", additional=bob_tgt.ticket,
                                       options=int(k.KdcOptions.ENC_TKT_IN_SKEY))))
    assert err.error_code == 26
    err = error_of(core.handle(tgs_req(alice_tgt, "bob", additional=ticket.ticket,
                                       options=int(k.KdcOptions.ENC_TKT_IN_SKEY))))
    assert err.error_code == 35
    _, part2 = open_tgs_rep(core.handle(tgs_req(
        alice_tgt, None, additional=bob_tgt.ticket, options=int(k.KdcOptions.ENC_TKT_IN_SKEY))),
        alice_tgt.session_key)
    assert part2.sname.name_string == ("bob",)  # no sname: the additional ticket's client


def test_aliases_and_canonicalization(core: MiniKdc, env: Environment) -> None:
    core.add_alias("HTTP/alias.example.test", WEB)
    tgt = run_exchange(get_tgt(credential(core, env), env), send_to(core))
    _, part = open_tgs_rep(core.handle(tgs_req(tgt, "HTTP/alias.example.test")),
                           tgt.session_key)
    assert part.sname.to_text() == WEB
    _, part = open_tgs_rep(core.handle(tgs_req(tgt, "HTTP/alias.example.test", options=0)),
                           tgt.session_key)
    assert part.sname.to_text() == "HTTP/alias.example.test"  # RFC 6806 §5: only if asked
    with pytest.raises(InvalidParameter):
        core.add_alias(WEB, DB)
    with pytest.raises(InvalidParameter):
        core.add_alias("HTTP/x.example.test", "HTTP/missing.example.test")


def test_cross_realm_referral(core: MiniKdc, env: Environment) -> None:
    core.add_realm("OTHER.TEST")
    core.add_trust(REALM, "OTHER.TEST")
    core.add_service("HTTP/app.other.test", realm="OTHER.TEST")
    core.add_referral("HTTP/app.other.test", "OTHER.TEST")
    cred = credential(core, env)
    ticket = run_exchange(service_ticket(cred, principal("HTTP/app.other.test"), env),
                          send_to(core))
    assert str(ticket.server) == "HTTP/app.other.test@OTHER.TEST"
    assert "OTHER.TEST = {" in core.krb5_conf_text(kdc="127.0.0.1:88")
    with pytest.raises(InvalidParameter, match="add_realm"):
        core.add_user("x", "y", realm="NOWHERE.TEST")


def test_database_helpers(core: MiniKdc, tmp_path: Path) -> None:
    entry = core.entry(WEB)
    assert [key.enctype for key in entry.keys] == [18, 17] and entry.ok_as_delegate
    assert entry.salt is None and core.entry("alice").salt == b"EXAMPLE.TESTalice"
    path = core.write_keytab(tmp_path / "both.keytab", WEB, f"{DB}@{REALM}")
    loaded = Keytab.load(path)
    assert [str(e.principal) for e in loaded.entries] == [
        f"{WEB}@{REALM}", f"{WEB}@{REALM}", f"{DB}@{REALM}", f"{DB}@{REALM}"]
    assert loaded.entries[0].key == core.key(WEB).contents and path.stat().st_mode & 0o077 == 0
    assert {str(p) for p in core.principals()} == {
        f"alice@{REALM}", f"{WEB}@{REALM}", f"{DB}@{REALM}", f"krbtgt/{REALM}@{REALM}"}
    for secret in (core.key("alice").contents.hex(), core.key(WEB).contents.hex()):
        assert secret not in repr(core) and secret not in repr(entry)
        assert secret not in repr(core.entry("alice")) and secret not in repr(core.keytab(WEB))
    with pytest.raises(InvalidParameter):
        core.entry("nobody")
    with pytest.raises(InvalidParameter):
        core.key("alice", 20)
    with pytest.raises(InvalidParameter):
        core.write_keytab(tmp_path / "empty.keytab")
    with pytest.raises(InvalidParameter):
        MiniKdc(enctypes=(3,))
    with pytest.raises(InvalidParameter):
        core.krb5_conf_text(kdc="x", libdefaults={"bad": "a\nb"})


def test_handle_is_deterministic(env: Environment) -> None:
    def run() -> list[bytes]:
        TicketCache.forget_all()
        clock = Clock()
        kdc = make_kdc(Environment(now=clock, random=random.Random(3).randbytes))
        client_env = Environment(now=clock, random=random.Random(4).randbytes)
        log: list[bytes] = []
        run_exchange(service_ticket(credential(kdc, client_env), principal(WEB), client_env),
                     send_to(kdc, log))
        return log

    assert run() == run()


# ---------------------------------------------------------------------------------------------
# handle() never raises: whatever arrives, the answer is a KDC-REP or a KRB-ERROR
# ---------------------------------------------------------------------------------------------


def _recorded_requests() -> list[bytes]:
    clock = Clock()
    kdc = make_kdc(Environment(now=clock, random=random.Random(5).randbytes))
    env = Environment(now=clock, random=random.Random(6).randbytes)
    requests: list[bytes] = []

    def record(request: KdcRequest) -> bytes:
        requests.append(request.data)
        return kdc.handle(request.data)

    TicketCache.forget_all()
    run_exchange(service_ticket(credential(kdc, env), principal(WEB), env), record)
    TicketCache.forget_all()
    return requests


FUZZ_CLOCK = Clock()
FUZZ_KDC = make_kdc(Environment(now=FUZZ_CLOCK, random=random.Random(5).randbytes))
RECORDED = _recorded_requests()


def _answers(reply: bytes) -> None:
    if reply[:1] == b"\x7e":
        k.KrbError.parse(reply)
    else:
        k.KdcRep.parse(reply)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_garbage_requests(data: bytes) -> None:
    _answers(FUZZ_KDC.handle(data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RECORDED), st.data())
def test_mutated_requests(base: bytes, data: st.DataObject) -> None:
    mutated = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if kind == "flip" and mutated:
            mutated[pos] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del mutated[pos:]
        else:
            mutated[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
    _answers(FUZZ_KDC.handle(bytes(mutated)))
