"""Hostile peers against the Kerberos acceptor (issue 12): rewritten replays, rc4 downgrades.

Driven by the AP-REQs recorded from MIT krb5 (tests/vectors/peers/mit/), with a keytab built from
the recorded realm's keys and the clock set to the moment of capture, as in test_machine.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import opensspi
from opensspi import Environment, IscReq, SecStatus
from opensspi.errors import OutOfSequence, SspiError, TimeSkew
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.asn1 import (
    ApRep,
    ApReq,
    Authenticator,
    EncApRepPart,
    EncryptedData,
    EncryptionKey,
    PrincipalName,
    Ticket,
    gss_unwrap_token,
    gss_wrap_token,
)
from opensspi.packages.kerberos.ccache import CcachePrincipal
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.crypto import Key, decrypt, encrypt, random_key
from opensspi.packages.kerberos.keytab import Keytab, KeytabEntry
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import AuthIdentity
from opensspi.testing.kdc import MiniKdc

MIT = Path(__file__).resolve().parents[2] / "vectors" / "peers" / "mit"
AP = {e["name"]: e for e in json.loads((MIT / "ap.json").read_text())["entries"]}
REALM = json.loads((MIT / "realm.json").read_text())
CONFIG = Krb5Config.from_string(
    "[libdefaults]\n default_realm = TEST.LOCAL\n dns_lookup_kdc = false\n")
NAME = "gss krb5 initiator #0"


@pytest.fixture(autouse=True)
def _clean_replay_cache() -> Iterator[None]:
    ReplayCache.shared().clear()
    yield
    ReplayCache.shared().clear()


def _capture_time() -> datetime:
    return Authenticator.from_der(bytes.fromhex(AP[f"{NAME} AP-REQ Authenticator"]["hex"])).ctime


def _keytab(tmp_path: Path, *names: str) -> str:
    """A keytab in which every name in ``names`` holds host/server.test.local's keys: the
    machine-account keytab of an AD member, where HTTP/ and host/ share one key."""
    entries = [
        KeytabEntry(CcachePrincipal(1, tuple(name.split("/")), "TEST.LOCAL"), 0,
                    key["kvno"], key["etype"], bytes.fromhex(key["hex"]))
        for name in names
        for key in REALM["keys"]["host/server.test.local"]
    ]
    path = tmp_path / "machine.keytab"
    Keytab(tuple(entries)).save(path)
    return str(path)


def _server(keytab: str, at: datetime, **data: object) -> opensspi.Context:
    return opensspi.server("Kerberos", auth_data=KerberosAuthData(  # type: ignore[arg-type]
        acceptor_keytab=keytab, config=CONFIG, **data),  # type: ignore[arg-type]
        env=Environment(now=lambda: at + timedelta(seconds=1)))


def _with_sname(token: bytes, service: str) -> bytes:
    """The same AP-REQ with the ticket's clear-text sname rewritten (nothing else changes)."""
    oid, tok_id, body = gss_unwrap_token(token)
    ap_req = ApReq.from_der(body)
    old = ap_req.ticket
    ticket = Ticket(tkt_vno=old.tkt_vno, realm=old.realm,
                    sname=PrincipalName(old.sname.name_type, (service, "server.test.local")),
                    enc_part=old.enc_part)
    return gss_wrap_token(oid, tok_id, replace(ap_req, ticket=ticket).to_der())


def test_replay_with_a_rewritten_sname_is_refused(tmp_path: Path) -> None:
    """Defect 1: the replay cache must not key on the attacker-controlled ticket sname."""
    at = _capture_time()
    keytab = _keytab(tmp_path, "host/server.test.local", "HTTP/server.test.local")
    token = bytes.fromhex(AP[NAME]["hex"])
    first = _server(keytab, at)
    first.step(token)
    assert first.complete and first.client_name == "alice@TEST.LOCAL"
    rewritten = _with_sname(token, "HTTP")
    assert rewritten != token
    with pytest.raises(OutOfSequence) as exc:
        _server(keytab, at).step(rewritten)
    assert exc.value.status == SecStatus.SEC_E_OUT_OF_SEQUENCE


def test_the_rewritten_sname_alone_is_accepted(tmp_path: Path) -> None:
    """Control for the test above: the rewritten ticket opens (the keys are shared), so only
    the replay cache stands between the attacker and a second logon."""
    keytab = _keytab(tmp_path, "host/server.test.local", "HTTP/server.test.local")
    server = _server(keytab, _capture_time())
    server.step(_with_sname(bytes.fromhex(AP[NAME]["hex"]), "HTTP"))
    assert server.complete
    assert server.context.server_name == "HTTP/server.test.local@TEST.LOCAL"  # type: ignore[attr-defined]


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
SKEW = timedelta(seconds=300)


def test_replay_cache_under_1000_concurrent_authenticators() -> None:
    """1,000 threads each record one authenticator, then replay it: every first one passes,
    every replay is refused, and nothing is lost to a race."""
    cache = ReplayCache(max_entries=4096)
    barrier = threading.Barrier(50)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        if i < 50:
            barrier.wait()
        digest = i.to_bytes(4, "big")
        results = []
        for _ in range(2):
            try:
                cache.check("alice@TEST.LOCAL", NOW, i % 1000, digest, NOW, SKEW)
                results.append("ok")
            except OutOfSequence:
                results.append("replay")
        with lock:
            outcomes.append((i, ",".join(results)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o for _, o in outcomes) == ["ok,replay"] * 1000
    assert len(cache) == 1000


def test_replay_cache_is_bounded_and_fails_closed() -> None:
    """Past its cap the cache evicts the oldest authenticators and from then on refuses any
    authenticator not newer than the evicted ones (as too old: SEC_E_TIME_SKEW), so a bounded
    cache never lets a replay through."""
    cache = ReplayCache(max_entries=10)
    for i in range(25):
        cache.check("alice@TEST.LOCAL", NOW + timedelta(seconds=i), 0, b"a%d" % i, NOW, SKEW)
    assert len(cache) == 10
    # The evicted ones cannot come back ...
    for i in range(15):
        with pytest.raises(SspiError) as exc:
            cache.check("alice@TEST.LOCAL", NOW + timedelta(seconds=i), 0, b"a%d" % i, NOW, SKEW)
        assert exc.value.status in (SecStatus.SEC_E_TIME_SKEW, SecStatus.SEC_E_OUT_OF_SEQUENCE)
    # ... the kept ones are still replays, and newer authenticators still pass.
    with pytest.raises(OutOfSequence):
        cache.check("alice@TEST.LOCAL", NOW + timedelta(seconds=24), 0, b"a24", NOW, SKEW)
    cache.check("alice@TEST.LOCAL", NOW + timedelta(seconds=30), 0, b"new", NOW, SKEW)


def test_replay_cache_expires_past_the_skew_window() -> None:
    cache = ReplayCache(max_entries=10)
    cache.check("alice@TEST.LOCAL", NOW, 0, b"x", NOW, SKEW)
    later = NOW + SKEW + timedelta(seconds=1)
    cache.check("bob@TEST.LOCAL", later, 0, b"y", later, SKEW)
    assert len(cache) == 1
    with pytest.raises(TimeSkew):
        cache.check("alice@TEST.LOCAL", NOW, 0, b"x", later + SKEW, SKEW)




# -- defect 6: rc4-hmac tickets and subkeys ----------------------------------------------------

WEB = "HTTP/web.example.test"
FLAGS = IscReq.MUTUAL_AUTH | IscReq.INTEGRITY | IscReq.CONFIDENTIALITY


@pytest.fixture
def rc4_kdc() -> Iterator[MiniKdc]:
    """A KDC whose principals hold only rc4-hmac keys (a Windows account without AES keys)."""
    TicketCache.forget_all()
    kdc = MiniKdc("EXAMPLE.TEST", enctypes=(23,))
    kdc.add_user("alice", "Al1ce-Passw0rd!")
    kdc.add_service(WEB)
    with kdc.serve():
        yield kdc
    TicketCache.forget_all()


def _rc4_pair(kdc: MiniKdc, tmp_path: Path, conf_rc4: bool, acceptor_rc4: bool | None,
              ) -> tuple[opensspi.Context, opensspi.Context]:
    client = opensspi.client("Kerberos", target=WEB, flags=FLAGS, auth_data=KerberosAuthData(
        identity=AuthIdentity("alice", "EXAMPLE.TEST", "Al1ce-Passw0rd!"),
        config=kdc.krb5_config(), allow_rc4=True))
    keytab = kdc.write_keytab(tmp_path / "web.keytab", WEB)
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(keytab), config=kdc.krb5_config(libdefaults={"allow_rc4": conf_rc4}),
        allow_rc4=acceptor_rc4))
    return client, server


@pytest.mark.parametrize(("conf_rc4", "acceptor_rc4", "accepted"), [
    (False, None, False),   # krb5.conf's default (allow_rc4 = false): refused
    (True, None, True),     # allow_rc4 = true in krb5.conf: accepted
    (True, False, False),   # the acceptor's auth data forbids it whatever krb5.conf says
    (False, True, True),    # or allows it explicitly
])
def test_rc4_ticket_follows_allow_rc4(rc4_kdc: MiniKdc, tmp_path: Path, conf_rc4: bool,
                                      acceptor_rc4: bool | None, accepted: bool) -> None:
    client, server = _rc4_pair(rc4_kdc, tmp_path, conf_rc4, acceptor_rc4)
    token = client.step()
    assert token is not None
    if accepted:
        assert client.step(server.step(token)) is None
        assert server.complete and client.complete
        assert server.unwrap(client.wrap(b"rc4 allowed")) == b"rc4 allowed"
    else:
        with pytest.raises(SspiError) as exc:
            server.step(token)
        assert exc.value.status == SecStatus.SEC_E_ALGORITHM_MISMATCH


@pytest.fixture
def aes_kdc() -> Iterator[MiniKdc]:
    TicketCache.forget_all()
    kdc = MiniKdc("EXAMPLE.TEST")
    kdc.add_user("alice", "Al1ce-Passw0rd!")
    kdc.add_service(WEB)
    with kdc.serve():
        yield kdc
    TicketCache.forget_all()


def _aes_pair(kdc: MiniKdc, tmp_path: Path, allow_rc4: bool,
              ) -> tuple[opensspi.Context, opensspi.Context]:
    config = kdc.krb5_config()
    client = opensspi.client("Kerberos", target=WEB, flags=FLAGS, auth_data=KerberosAuthData(
        identity=AuthIdentity("alice", "EXAMPLE.TEST", "Al1ce-Passw0rd!"), config=config,
        allow_rc4=allow_rc4))
    keytab = kdc.write_keytab(tmp_path / "aes.keytab", WEB)
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(keytab), config=config, allow_rc4=allow_rc4))
    return client, server


def _rewrite_authenticator_subkey(token: bytes, session: Key, subkey: Key) -> bytes:
    oid, tok_id, body = gss_unwrap_token(token)
    ap_req = ApReq.from_der(body)
    auth = Authenticator.from_der(decrypt(session, 11, ap_req.authenticator.cipher))
    auth = replace(auth, subkey=EncryptionKey(subkey.enctype, subkey.contents))
    enc = EncryptedData(etype=session.enctype, cipher=encrypt(session, 11, auth.to_der()))
    return gss_wrap_token(oid, tok_id, replace(ap_req, authenticator=enc).to_der())


def _rewrite_ap_rep_subkey(token: bytes, session: Key, subkey: Key) -> bytes:
    oid, tok_id, body = gss_unwrap_token(token)
    rep = ApRep.from_der(body)
    part = EncApRepPart.from_der(decrypt(session, 12, rep.enc_part.cipher))
    part = replace(part, subkey=EncryptionKey(subkey.enctype, subkey.contents))
    enc = EncryptedData(etype=session.enctype, cipher=encrypt(session, 12, part.to_der()))
    return gss_wrap_token(oid, tok_id, replace(rep, enc_part=enc).to_der())


@pytest.mark.parametrize("allow_rc4", [False, True])
def test_rc4_authenticator_subkey_under_an_aes_ticket_is_refused(
    aes_kdc: MiniKdc, tmp_path: Path, allow_rc4: bool
) -> None:
    """Defect 6: an initiator (or a man in the middle holding the session key) may not trade
    the AES session key for an rc4 subkey, even where rc4 tickets are allowed."""
    client, server = _aes_pair(aes_kdc, tmp_path, allow_rc4)
    token = client.step()
    assert token is not None
    session = client.context._session_key  # type: ignore[attr-defined]
    forged = _rewrite_authenticator_subkey(token, session, random_key(23))
    with pytest.raises(SspiError) as exc:
        server.step(forged)
    assert exc.value.status == SecStatus.SEC_E_ALGORITHM_MISMATCH


def test_unknown_authenticator_subkey_enctype_is_invalid_token(
    aes_kdc: MiniKdc, tmp_path: Path
) -> None:
    client, server = _aes_pair(aes_kdc, tmp_path, False)
    token = client.step()
    assert token is not None
    session = client.context._session_key  # type: ignore[attr-defined]
    oid, tok_id, body = gss_unwrap_token(token)
    ap_req = ApReq.from_der(body)
    auth = Authenticator.from_der(decrypt(session, 11, ap_req.authenticator.cipher))
    auth = replace(auth, subkey=EncryptionKey(99, bytes(16)))
    enc = EncryptedData(etype=session.enctype, cipher=encrypt(session, 11, auth.to_der()))
    with pytest.raises(SspiError) as exc:
        server.step(gss_wrap_token(oid, tok_id, replace(ap_req, authenticator=enc).to_der()))
    assert exc.value.status == SecStatus.SEC_E_INVALID_TOKEN


@pytest.mark.parametrize("allow_rc4", [False, True])
def test_rc4_ap_rep_subkey_under_an_aes_ticket_is_refused(
    aes_kdc: MiniKdc, tmp_path: Path, allow_rc4: bool
) -> None:
    client, server = _aes_pair(aes_kdc, tmp_path, allow_rc4)
    reply = server.step(client.step())
    assert reply is not None
    session = client.context._session_key  # type: ignore[attr-defined]
    forged = _rewrite_ap_rep_subkey(reply, session, random_key(23))
    with pytest.raises(SspiError) as exc:
        client.step(forged)
    assert exc.value.status == SecStatus.SEC_E_ALGORITHM_MISMATCH


def _authenticator_variants(count: int) -> list[bytes]:
    """``count`` AP-REQs for one recorded ticket, each with its own authenticator (cusec)."""
    from opensspi.packages.kerberos.asn1 import EncTicketPart

    part = EncTicketPart.from_der(bytes.fromhex(AP[f"{NAME} AP-REQ ticket EncTicketPart"]["hex"]))
    session = Key(part.key.keytype, part.key.keyvalue)
    oid, tok_id, body = gss_unwrap_token(bytes.fromhex(AP[NAME]["hex"]))
    ap_req = ApReq.from_der(body)
    auth = Authenticator.from_der(bytes.fromhex(AP[f"{NAME} AP-REQ Authenticator"]["hex"]))
    out = []
    for i in range(count):
        variant = replace(auth, cusec=i)
        enc = EncryptedData(etype=session.enctype,
                            cipher=encrypt(session, 11, variant.to_der()))
        out.append(gss_wrap_token(oid, tok_id, replace(ap_req, authenticator=enc).to_der()))
    return out


def test_1000_concurrent_acceptors_share_one_replay_cache(tmp_path: Path) -> None:
    """1,000 acceptor contexts (each from its own credential handle) on 1,000 threads take
    1,000 distinct authenticators, then each one's replay: all first ones pass, all replays
    are refused, none is lost to a race."""
    at = _capture_time()
    keytab = _keytab(tmp_path, "host/server.test.local")
    tokens = _authenticator_variants(1000)
    results: list[str] = [""] * 1000
    barrier = threading.Barrier(100)

    def accept(i: int) -> None:
        if i < 100:
            barrier.wait()
        outcome = []
        for _ in range(2):
            try:
                _server(keytab, at).step(tokens[i])
                outcome.append("ok")
            except OutOfSequence:
                outcome.append("replay")
            except SspiError as exc:
                outcome.append(exc.status.name)
        results[i] = ",".join(outcome)

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["ok,replay"] * 1000
    assert len(ReplayCache.shared()) == 1000
