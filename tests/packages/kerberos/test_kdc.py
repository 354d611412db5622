"""KDC exchanges driven byte for byte: a scripted KDC, the recorded MIT exchanges, the error
mapping, target names, the shared ticket cache, credential sources, the acceptor helpers, and
hostile replies (SspiError only).

The KDC is :class:`opensspi.testing.kdc.MiniKdc`, which checks what an RFC 4120 KDC checks
(PA-ENC-TIMESTAMP, the PA-TGS-REQ authenticator checksum over the exact req-body, ticket times)
and follows referrals between realms; :class:`ScriptedKdc` subclasses it to misbehave where a
test needs it (wrong nonce, wrong sname, forced errors, client referrals).
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensspi.constants import CredentialUse, SecStatus
from opensspi.errors import (
    AlgorithmMismatch,
    ContextExpired,
    InvalidParameter,
    InvalidToken,
    LogonDenied,
    MessageAltered,
    NoAuthenticatingAuthority,
    NoCredentials,
    OutOfSequence,
    SspiError,
    TargetUnknown,
    TimeSkew,
    WrongPrincipal,
)
from opensspi.packages.kerberos import asn1 as k
from opensspi.packages.kerberos import credentials as credentials_module
from opensspi.packages.kerberos import parsed
from opensspi.packages.kerberos.acceptor import ReplayCache, decrypt_ticket, find_keys
from opensspi.packages.kerberos.ccache import Ccache, CcachePrincipal, load_ccache, store_ccache
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.credentials import (
    CredentialSource,
    KerberosAuthData,
    KerberosCredential,
    acquire_credentials,
    delegated_credential,
    enctype_policy,
)
from opensspi.packages.kerberos.crypto import (
    Key,
    decrypt,
    string_to_key,
    verify_checksum,
)
from opensspi.packages.kerberos.kdc import (
    MAX_REFERRALS,
    EtypeNotSupported,
    KdcLogonDenied,
    KdcTargetUnknown,
    KdcTimeSkew,
    KerberosError,
    NotForwardable,
    PasswordExpired,
    ReplayDetected,
    UserToUserRequired,
    as_exchange,
    forwarded_tgt,
    get_tgt,
    krb_error_to_sspi,
    run_exchange,
    service_ticket,
    tgs_exchange,
    user_to_user,
)
from opensspi.packages.kerberos.keytab import Keytab, KeytabEntry
from opensspi.packages.kerberos.names import Principal, parse_target
from opensspi.packages.kerberos.tickets import ServiceTicket, TicketCache
from opensspi.provider import AuthIdentity, Environment, KdcRequest
from opensspi.testing.kdc import MiniKdc, PrincipalEntry
from opensspi.transport import KdcAddress

UTC = timezone.utc
T0 = datetime(2030, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
REALM = "EXAMPLE.COM"
OTHER = "OTHER.COM"
THIRD = "THIRD.COM"
PASSWORD = "S3cret-Passw0rd!"
MIT = Path(__file__).resolve().parents[2] / "vectors" / "peers" / "mit"

CONFIG_TEXT = f"""
[libdefaults]
    default_realm = {REALM}
    forwardable = true
    dns_lookup_kdc = false
    kdc_timeout = 2
    max_retries = 2
    udp_preference_limit = 1
    clockskew = 300
    ticket_lifetime = 10h
[realms]
    {REALM} = {{
        kdc = kdc.example.com
    }}
    {OTHER} = {{
        kdc = kdc.other.com:8888
    }}
[domain_realm]
    .example.com = {REALM}
    .other.com = {OTHER}
    .third.com = {THIRD}
"""
CONFIG = Krb5Config.from_string(CONFIG_TEXT)


# ---------------------------------------------------------------------------------------------
# Deterministic environment
# ---------------------------------------------------------------------------------------------


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_env(clock: Clock | None = None, seed: int = 1) -> Environment:
    rng = random.Random(seed)
    return Environment(now=clock or Clock(), random=rng.randbytes)


def locator(realm: str) -> tuple[KdcAddress, ...]:
    return (KdcAddress(f"kdc.{realm.lower()}", 88, "tcp"),)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    TicketCache.forget_all()
    ReplayCache.process_wide().clear()
    yield
    TicketCache.forget_all()


# ---------------------------------------------------------------------------------------------
# The KDC: opensspi.testing.kdc.MiniKdc, scripted to misbehave where a test needs it
# ---------------------------------------------------------------------------------------------


def tgs_name(realm: str) -> k.PrincipalName:
    return k.PrincipalName(2, ("krbtgt", realm))


class ScriptedKdc(MiniKdc):
    """MiniKdc driven with KdcRequests, recording them, with the misbehaviour a real KDC never
    shows: forced errors, client referrals, renamed clients, foreign session-key enctypes, a
    session-key-encrypted TGS-REP despite a subkey, and mutated replies."""

    def __init__(self, clock: Clock, seed: int = 99) -> None:
        self._clock = clock
        super().__init__(REALM, env=Environment(now=clock, random=random.Random(seed).randbytes))
        self.requests: list[KdcRequest] = []
        self.as_tag: int | None = None
        self.tgs_usage = 9
        self.session_etype: int | None = None
        self.wrong_realm: dict[str, str] = {}
        self.canonical: dict[str, str] = {}
        self.force_error: int | None = None
        self.mutate_part: Callable[[k.EncKdcRepPart], k.EncKdcRepPart] | None = None
        self.mutate_rep: Callable[[k.KdcRep], k.KdcRep] | None = None
        self.mutate_reply: Callable[[bytes], bytes] | None = None
        self.add_user("alice", PASSWORD)
        self.add_service("HTTP/web.example.com")
        self.add_service("host/web.example.com")

    @property
    def clock(self) -> Clock:
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        self.env = Environment(now=clock, random=self.env.random)

    def send(self, request: KdcRequest) -> bytes:
        """The ``send`` of run_exchange: one KdcRequest, answered by MiniKdc.handle."""
        self.requests.append(request)
        req = k.KdcReq.parse(request.data)
        body = req.req_body
        assert body.realm == request.realm
        if req.msg_type == k.MessageType.KRB_AS_REQ:
            pa = {p.padata_type: p.padata_value for p in req.padata or ()}
            assert k.PaPacRequest.parse(pa[128]) == k.PaPacRequest(True)
        if self.force_error is not None:
            return self.krb_error(self.force_error, realm=body.realm, sname=body.sname,
                                  cname=body.cname, e_text="scripted")
        if req.msg_type == k.MessageType.KRB_AS_REQ and body.realm in self.wrong_realm:
            return self.krb_error(68, realm=body.realm, sname=body.sname, cname=body.cname,
                                  crealm=self.wrong_realm[body.realm], e_text="scripted")
        reply = self.handle(request.data)
        return self.mutate_reply(reply) if self.mutate_reply else reply

    def handle(self, request: bytes | bytearray | memoryview | KdcRequest) -> bytes:
        """MiniKdc.handle, also taking a KdcRequest (then as :meth:`send`)."""
        if isinstance(request, KdcRequest):
            return self.send(request)
        return super().handle(request)

    def session_enctype(
        self, requested: Sequence[int], server: PrincipalEntry | None
    ) -> int | None:
        if self.session_etype is not None:
            return self.session_etype
        return super().session_enctype(requested, server)

    def tgs_reply_key(self, session: Key, subkey: Key | None) -> tuple[Key, int]:
        if self.tgs_usage == 8:
            return session, 8
        return super().tgs_reply_key(session, subkey)

    def finish_enc_part(self, part: k.EncKdcRepPart) -> k.EncKdcRepPart:
        if self.as_tag is not None and part.application_tag == 25:
            part = dataclasses.replace(part, application_tag=self.as_tag)
        return self.mutate_part(part) if self.mutate_part is not None else part

    def finish_reply(self, rep: k.KdcRep) -> k.KdcRep:
        canonical = self.canonical.get(rep.cname.to_text())
        if rep.msg_type == k.MessageType.KRB_AS_REP and canonical is not None:
            rep = dataclasses.replace(rep, cname=k.PrincipalName(1, (canonical,)))
        return self.mutate_rep(rep) if self.mutate_rep is not None else rep


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env(clock: Clock) -> Environment:
    return make_env(clock)


@pytest.fixture
def kdc(clock: Clock) -> ScriptedKdc:
    return ScriptedKdc(clock)


def password_cred(
    env: Environment, user: str = "alice", password: str = PASSWORD, realm: str = REALM,
    config: Krb5Config = CONFIG, **options: Any,
) -> KerberosCredential:
    data = KerberosAuthData(
        identity=AuthIdentity(user, realm, password), config=config, kdc_locator=locator,
        **options,
    )
    return acquire_credentials(None, CredentialUse.OUTBOUND, data, env)


def web(realm: str = REALM) -> Principal:
    return Principal.parse(f"HTTP/web.example.com@{realm}")


def drive(exchange: Any, kdc: ScriptedKdc) -> Any:
    return run_exchange(exchange, kdc.send)


def as_padata(request: KdcRequest) -> dict[int, bytes]:
    req = k.KdcReq.parse(request.data)
    return {p.padata_type: p.padata_value for p in req.padata or ()}


# ---------------------------------------------------------------------------------------------
# AS exchange
# ---------------------------------------------------------------------------------------------


def test_as_preauth_flow(kdc: ScriptedKdc, env: Environment) -> None:
    cred = password_cred(env)
    tgt = drive(as_exchange(cred, env), kdc)
    assert [k.KdcReq.parse(r.data).msg_type for r in kdc.requests] == [10, 10]
    first, second = (as_padata(r) for r in kdc.requests)
    assert set(first) == {128} and set(second) == {2, 128}
    ts = k.EncryptedData.parse(second[2])
    assert ts.etype == 18
    plain = k.PaEncTsEnc.parse(decrypt(kdc.key("alice"), 1, ts.cipher))
    assert plain.patimestamp == T0.replace(microsecond=0) and plain.pausec == 250000
    body = k.KdcReq.parse(kdc.requests[0].data).req_body
    assert body.kdc_options == k.KdcOptions.FORWARDABLE | k.KdcOptions.RENEWABLE_OK
    assert body.etype == (18, 17, 20, 19)
    assert body.cname == k.PrincipalName(1, ("alice",))
    assert body.till == T0.replace(microsecond=0) + timedelta(hours=10)
    assert tgt.server == Principal.tgs(REALM) and tgt.client == Principal.parse("alice@" + REALM)
    assert tgt.flags & k.TicketFlags.FORWARDABLE
    assert cred.expiry == tgt.endtime
    assert cred.cache is not None and cred.cache.tgt(REALM, T0) is tgt


def test_kdc_request_carries_config_limits(kdc: ScriptedKdc, env: Environment) -> None:
    cred = acquire_credentials(
        None, CredentialUse.OUTBOUND,
        KerberosAuthData(identity=AuthIdentity("alice", REALM, PASSWORD), config=CONFIG), env,
    )
    gen = as_exchange(cred, env)
    request = next(gen)
    assert request.realm == REALM
    assert request.kdcs == (
        KdcAddress("kdc.example.com", 88, "udp"), KdcAddress("kdc.example.com", 88, "tcp")
    )
    assert (request.timeout, request.max_retries, request.udp_preference_limit) == (2.0, 2, 1)
    gen.close()


def test_as_without_preauth_is_one_round_trip(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.require_preauth = False
    tgt = drive(as_exchange(password_cred(env), env), kdc)
    assert len(kdc.requests) == 1 and tgt.is_tgt


def test_password_keys_are_derived_once_per_salt(
    kdc: ScriptedKdc, env: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opensspi.packages.kerberos import credentials as module

    calls: list[bytes] = []
    real = string_to_key

    def counting(etype: int, password: str | bytes, salt: bytes, s2k: bytes | None = None) -> Key:
        calls.append(salt)
        return real(etype, password, salt, s2k)

    monkeypatch.setattr(module, "string_to_key", counting)
    cred = password_cred(env)
    drive(as_exchange(cred, env), kdc)
    drive(as_exchange(cred, env), kdc)
    assert calls == [b"EXAMPLE.COMalice"]


def test_salt_and_etype_come_from_etype_info2(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.add_user("alice", PASSWORD, enctypes=(17,), salt=b"EXAMPLE.COMAlice-Mixed-Case")
    cred = password_cred(env)
    drive(as_exchange(cred, env), kdc)
    assert k.EncryptedData.parse(as_padata(kdc.requests[1])[2]).etype == 17


def test_as_rep_enc_part_tag_25_and_26(kdc: ScriptedKdc, env: Environment) -> None:
    for tag in (25, 26):
        TicketCache.forget_all()
        kdc.as_tag = tag
        assert drive(as_exchange(password_cred(env), env), kdc).is_tgt


def test_wrong_password(kdc: ScriptedKdc, env: Environment) -> None:
    with pytest.raises(LogonDenied) as info:
        drive(as_exchange(password_cred(env, password="wrong-one"), env), kdc)
    err = info.value
    assert isinstance(err, KdcLogonDenied) and err.krb_error == 24
    assert err.status == 0x8009030C
    assert "alice@EXAMPLE.COM" in str(err) and "wrong-one" not in str(err)


def test_wrong_password_detected_on_as_rep(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.require_preauth = False
    with pytest.raises(KdcLogonDenied) as info:
        drive(as_exchange(password_cred(env, password="wrong-one"), env), kdc)
    assert info.value.krb_error == 31 and "wrong" in str(info.value)


def test_unknown_user(kdc: ScriptedKdc, env: Environment) -> None:
    with pytest.raises(LogonDenied, match=r"does not know the user bob@EXAMPLE\.COM") as info:
        drive(as_exchange(password_cred(env, user="bob"), env), kdc)
    assert info.value.status == 0x8009030C


def test_nonce_mismatch(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.mutate_part = lambda p: dataclasses.replace(p, nonce=p.nonce ^ 1)
    with pytest.raises(InvalidToken, match="nonce"):
        drive(as_exchange(password_cred(env), env), kdc)


def test_as_rep_for_another_server(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.mutate_part = lambda p: dataclasses.replace(p, sname=k.PrincipalName(2, ("krbtgt", "EVIL")))
    with pytest.raises(WrongPrincipal):
        drive(as_exchange(password_cred(env), env), kdc)


def test_ticket_sname_must_match_enc_part(kdc: ScriptedKdc, env: Environment) -> None:
    def swap(rep: k.KdcRep) -> k.KdcRep:
        ticket = dataclasses.replace(rep.ticket, sname=k.PrincipalName(2, ("krbtgt", "EVIL")))
        return dataclasses.replace(rep, ticket=ticket)

    kdc.mutate_rep = swap
    with pytest.raises(WrongPrincipal):
        drive(as_exchange(password_cred(env), env), kdc)


def test_client_canonicalization_needs_the_flag(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.canonical["alice"] = "Alice.Smith"
    with pytest.raises(WrongPrincipal, match="canonicalize"):
        drive(as_exchange(password_cred(env), env), kdc)
    config = Krb5Config.from_string(
        CONFIG_TEXT.replace("forwardable", "canonicalize = true\n    forwardable")
    )
    cred = password_cred(env, config=config)
    tgt = drive(as_exchange(cred, env), kdc)
    assert k.KdcReq.parse(kdc.requests[-1].data).req_body.kdc_options & k.KdcOptions.CANONICALIZE
    assert str(tgt.client) == "Alice.Smith@EXAMPLE.COM"


def test_session_key_enctype_policy(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.session_etype = 23
    with pytest.raises(EtypeNotSupported) as info:
        drive(as_exchange(password_cred(env), env), kdc)
    assert isinstance(info.value, AlgorithmMismatch)
    assert info.value.status == 0x80090342
    TicketCache.forget_all()
    tgt = drive(as_exchange(password_cred(env, allow_rc4=True), env), kdc)
    assert tgt.session_key.enctype == 23


def test_client_referral_wrong_realm(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.add_realm(OTHER)
    kdc.add_user("alice", PASSWORD, realm=OTHER)
    kdc.wrong_realm[REALM] = OTHER
    tgt = drive(as_exchange(password_cred(env), env), kdc)
    assert [r.realm for r in kdc.requests] == [REALM, OTHER, OTHER]
    assert tgt.server == Principal.tgs(OTHER)


def test_client_referral_is_bounded(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.add_realm(OTHER)
    kdc.wrong_realm[REALM] = OTHER
    kdc.wrong_realm[OTHER] = REALM
    with pytest.raises(NoAuthenticatingAuthority):
        drive(as_exchange(password_cred(env), env), kdc)
    assert len(kdc.requests) == MAX_REFERRALS + 1


NO_TIMESYNC = Krb5Config.from_string(
    CONFIG_TEXT.replace("[libdefaults]", "[libdefaults]\n    kdc_timesync = false")
)


def test_clock_skew_without_timesync(kdc: ScriptedKdc, clock: Clock) -> None:
    ahead = Clock(T0 + timedelta(hours=1))
    env = make_env(ahead)
    cred = password_cred(env, config=NO_TIMESYNC)
    with pytest.raises(TimeSkew) as info:
        drive(as_exchange(cred, env), kdc)
    assert info.value.status == 0x80090324 and isinstance(info.value, KdcTimeSkew)
    assert cred.kdc_time_offset == timedelta(hours=-1)
    assert len(kdc.requests) == 2


def test_kdc_timesync_retries_with_the_kdc_time_and_keeps_it(
    kdc: ScriptedKdc, clock: Clock
) -> None:
    # MIT's default (kdc_timesync = 1): KRB_AP_ERR_SKEW -> retry the AS exchange with the
    # KDC's time from the KRB-ERROR, and keep the offset for every later request.
    ahead = Clock(T0 + timedelta(minutes=10))
    env = make_env(ahead)
    cred = password_cred(env)
    tgt = drive(as_exchange(cred, env), kdc)
    assert cred.kdc_time_offset == timedelta(minutes=-10)
    assert len(kdc.requests) == 3  # no preauth, skewed timestamp, corrected timestamp
    stamp = k.PaEncTsEnc.parse(decrypt(
        kdc.key("alice"), 1, k.EncryptedData.parse(as_padata(kdc.requests[2])[2]).cipher))
    assert stamp.patimestamp == T0.replace(microsecond=0)
    assert cred.now(env) == T0
    # The TGS-REQ authenticator carries the corrected time too (the KDC checks it).
    ticket = drive(tgs_exchange(cred, web(), env, tgt=tgt), kdc)
    assert ticket.server == web()
    assert ahead.now - cred.now(env) == timedelta(minutes=10)


def test_kdc_timesync_offset_is_shared_with_the_tickets(kdc: ScriptedKdc, clock: Clock) -> None:
    # Code written for SSPI acquires a handle per connection; the second handle reuses the
    # first one's tickets (no AS exchange), so it must reuse the KDC offset too, or its
    # authenticators would carry the uncorrected time.
    env = make_env(Clock(T0 + timedelta(minutes=10)))
    first = password_cred(env)
    drive(service_ticket(first, web(), env), kdc)
    second = password_cred(env)
    assert second is not first and second.cache is first.cache
    assert second.kdc_time_offset == timedelta(minutes=-10) and second.now(env) == T0
    requests = len(kdc.requests)
    drive(service_ticket(second, web(), env), kdc)
    assert len(kdc.requests) == requests


def test_kdc_timesync_from_an_as_rep_without_preauth(kdc: ScriptedKdc, clock: Clock) -> None:
    kdc.require_preauth = False
    env = make_env(Clock(T0 + timedelta(hours=2)))
    cred = password_cred(env)
    tgt = drive(as_exchange(cred, env), kdc)
    assert tgt.is_tgt and cred.kdc_time_offset is not None
    assert abs(cred.now(env) - T0) < timedelta(seconds=1)


def test_reply_times_checked_against_our_clock(kdc: ScriptedKdc, clock: Clock) -> None:
    kdc.require_preauth = False
    env = make_env(Clock(T0 + timedelta(hours=2)))
    with pytest.raises(KdcTimeSkew):
        drive(as_exchange(password_cred(env, config=NO_TIMESYNC), env), kdc)


def test_as_req_offers_only_the_enctypes_of_an_nt_hash(kdc: ScriptedKdc, env: Environment) -> None:
    # An NT hash is an rc4-hmac key and nothing else: offering AES makes an AD KDC ask for AES
    # pre-authentication, which an NT hash cannot do (SEC_E_KDC_UNKNOWN_ETYPE before).
    kdc.add_user("bob", PASSWORD, enctypes=(18, 17, 23))
    nt_hash = kdc.key("bob", 23).contents
    data = KerberosAuthData(identity=AuthIdentity("bob", REALM, nt_hash=nt_hash), config=CONFIG,
                            kdc_locator=locator, allow_rc4=True)
    cred = acquire_credentials(None, CredentialUse.OUTBOUND, data, env)
    tgt = drive(as_exchange(cred, env), kdc)
    assert [k.KdcReq.parse(r.data).req_body.etype for r in kdc.requests] == [(23,), (23,)]
    assert tgt.session_key.enctype == 23
    # rc4 TGT session key + TGS authenticator subkey: the TGS-REP is keyed with usage 9.
    assert drive(tgs_exchange(cred, web(), env, tgt=tgt), kdc).server == web()


def test_as_req_offers_only_the_enctypes_of_a_client_keytab(
    kdc: ScriptedKdc, env: Environment, tmp_path: Path
) -> None:
    path = tmp_path / "client.keytab"
    user_keytab(kdc, etype=17).save(path)
    data = KerberosAuthData(client_keytab=f"FILE:{path}", ccache=f"FILE:{tmp_path}/none",
                            config=CONFIG, kdc_locator=locator)
    cred = acquire_credentials(None, CredentialUse.OUTBOUND, data, env)
    drive(as_exchange(cred, env), kdc)
    assert {k.KdcReq.parse(r.data).req_body.etype for r in kdc.requests} == {(17,)}


def test_enterprise_names_always_ask_for_canonicalization(env: Environment) -> None:
    assert not CONFIG.canonicalize
    data = KerberosAuthData(identity=AuthIdentity("alice@example.com", REALM, PASSWORD),
                            config=CONFIG, kdc_locator=locator)
    cred = acquire_credentials(None, CredentialUse.OUTBOUND, data, env)
    assert cred.client is not None and cred.client.name.name_type == k.NameType.NT_ENTERPRISE
    gen = as_exchange(cred, env)
    body = k.KdcReq.parse(next(gen).data).req_body
    gen.close()
    assert body.kdc_options & k.KdcOptions.CANONICALIZE
    assert body.cname == k.PrincipalName(10, ("alice@example.com",))
    plain = password_cred(env)
    gen = as_exchange(plain, env)
    assert not k.KdcReq.parse(next(gen).data).req_body.kdc_options & k.KdcOptions.CANONICALIZE
    gen.close()


def test_expired_password_and_revoked_account(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.force_error = 23
    with pytest.raises(PasswordExpired) as info:
        drive(as_exchange(password_cred(env), env), kdc)
    assert info.value.status == 0x8009030C and info.value.ntstatus == 0xC0000071


def test_ccache_only_credential_cannot_do_as(
    kdc: ScriptedKdc, env: Environment, tmp_path: Path, clock: Clock
) -> None:
    tgt = drive(get_tgt(password_cred(env), env), kdc)
    TicketCache.forget_all()
    cred = ccache_cred(env, tmp_path, [tgt])
    with pytest.raises(NoCredentials, match="kinit"):
        drive(as_exchange(cred, env), kdc)
    clock.advance(11 * 3600)  # the TGT expires while the handle lives
    with pytest.raises(NoCredentials, match="no valid TGT"):
        drive(service_ticket(cred, web(), env), kdc)


# ---------------------------------------------------------------------------------------------
# TGS exchange
# ---------------------------------------------------------------------------------------------


def test_tgs_checksum_subkey_and_acceptor(kdc: ScriptedKdc, env: Environment) -> None:
    cred = password_cred(env)
    ticket = drive(service_ticket(cred, web(), env), kdc)
    assert len(kdc.requests) == 3
    req = k.KdcReq.parse(kdc.requests[2].data)
    assert req.msg_type == 12 and req.req_body.sname == web().name
    assert req.req_body.kdc_options == k.KdcOptions.FORWARDABLE | k.KdcOptions.CANONICALIZE
    assert ticket.server == web() and ticket.client == Principal.parse("alice@EXAMPLE.COM")
    # The acceptor opens the ticket with the service key.
    keytab = service_keytab(kdc, "HTTP/web.example.com")
    part, session = decrypt_ticket(keytab, ticket.ticket, allowed=web(), now=T0,
                                   skew=timedelta(minutes=5))
    assert session == ticket.session_key and part.cname.name_string == ("alice",)


def test_opened_tickets_reuse_keys_and_tickets_and_stay_bounded(
    kdc: ScriptedKdc, env: Environment
) -> None:
    from opensspi.packages.kerberos.acceptor import OpenedTickets

    cred = password_cred(env)
    web_ticket = drive(service_ticket(cred, web(), env), kdc)
    host = Principal.parse(f"host/web.example.com@{REALM}")
    host_ticket = drive(service_ticket(cred, host, env), kdc)
    keytab = service_keytab(kdc, "HTTP/web.example.com", "host/web.example.com")
    skew = timedelta(minutes=5)
    opened = OpenedTickets(max_tickets=1)
    plain_part, plain_key = decrypt_ticket(keytab, web_ticket.ticket, allowed=None, now=T0,
                                           skew=skew)
    part, session = decrypt_ticket(keytab, web_ticket.ticket, allowed=None, now=T0, skew=skew,
                                   opened=opened)
    assert (part, session) == (plain_part, plain_key) == (part, web_ticket.session_key)
    again = decrypt_ticket(keytab, web_ticket.ticket, allowed=None, now=T0, skew=skew,
                           opened=opened)
    assert again[1] is session and len(opened) == 1  # the same Key: derived keys reused
    # the PAC check of an opened ticket runs once; a failure is raised again every time
    calls: list[int] = []
    assert opened.verified_pac(part, lambda: calls.append(1) or "pac") == "pac"
    assert opened.verified_pac(again[0], lambda: calls.append(1) or "other") == "pac"
    assert calls == [1]

    def refuse() -> str:
        raise LogonDenied("bad PAC")

    fresh = dataclasses.replace(part)
    for _ in range(2):
        with pytest.raises(LogonDenied):
            opened.verified_pac(fresh, refuse)
    # the cap: a second ticket pushes the first out
    assert decrypt_ticket(keytab, host_ticket.ticket, allowed=None, now=T0, skew=skew,
                          opened=opened)[1] == host_ticket.session_key
    assert len(opened) == 1
    assert decrypt_ticket(keytab, web_ticket.ticket, allowed=None, now=T0, skew=skew,
                          opened=opened)[1] is not session
    # the principal restriction and the time checks still run on every use
    with pytest.raises(WrongPrincipal):
        decrypt_ticket(keytab, web_ticket.ticket, allowed=host, now=T0, skew=skew,
                       opened=opened)
    with pytest.raises(ContextExpired):
        decrypt_ticket(keytab, web_ticket.ticket, allowed=None,
                       now=web_ticket.endtime + timedelta(hours=1), skew=skew, opened=opened)
    assert len(opened) == 0  # the expired ticket was dropped
    # another keytab (acquired again, keys rotated) starts the cache afresh
    rotated = service_keytab(kdc, "host/web.example.com")
    with pytest.raises(WrongPrincipal):
        decrypt_ticket(rotated, web_ticket.ticket, allowed=None, now=T0, skew=skew,
                       opened=opened)
    # a changed ticket is refused, not served from the cache
    cipher = bytearray(web_ticket.ticket.enc_part.cipher)
    cipher[-1] ^= 1
    bad = dataclasses.replace(web_ticket.ticket, enc_part=dataclasses.replace(
        web_ticket.ticket.enc_part, cipher=bytes(cipher)))
    with pytest.raises(LogonDenied):
        decrypt_ticket(keytab, bad, allowed=None, now=T0, skew=skew, opened=opened)


def test_opened_tickets_give_their_decoded_tickets_back_by_their_bytes(
    kdc: ScriptedKdc, env: Environment
) -> None:
    from opensspi.packages.kerberos.acceptor import OpenedTickets

    cred = password_cred(env)
    held = drive(service_ticket(cred, web(), env), kdc)
    ticket = held.ticket
    keytab = service_keytab(kdc, "HTTP/web.example.com")
    skew = timedelta(minutes=5)
    opened = OpenedTickets()
    req = k.ApReq(ticket=ticket, authenticator=k.EncryptedData(etype=18, cipher=bytes(40)))
    data = req.build()
    first = k.ApReq.parse(data, opened.known)
    assert first.ticket == ticket and not opened.known  # nothing opened yet: decoded
    decrypt_ticket(keytab, first.ticket, allowed=None, now=T0, skew=skew, opened=opened)
    again = k.ApReq.parse(data, opened.known)
    assert again.ticket is first.ticket  # the same bytes: the ticket decoded before
    # other bytes (one octet of the ciphertext changed) are decoded, never matched
    changed = bytearray(data)
    changed[data.index(ticket.enc_part.cipher) + 5] ^= 1
    other = k.ApReq.parse(bytes(changed), opened.known)
    assert other.ticket is not first.ticket
    assert other.ticket.enc_part.cipher != ticket.enc_part.cipher
    # an expired ticket leaves the memo with its opened part
    with pytest.raises(ContextExpired):
        decrypt_ticket(keytab, again.ticket, allowed=None,
                       now=held.endtime + timedelta(hours=1), skew=skew, opened=opened)
    assert not opened.known


def test_tgs_reply_with_session_key_usage_8(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.tgs_usage = 8
    assert drive(service_ticket(password_cred(env), web(), env), kdc).server == web()


def test_tgs_nonce_and_sname_mismatch(kdc: ScriptedKdc, env: Environment) -> None:
    cred = password_cred(env)
    drive(get_tgt(cred, env), kdc)
    kdc.mutate_part = lambda p: dataclasses.replace(p, nonce=p.nonce + 1)
    with pytest.raises(InvalidToken, match="nonce"):
        drive(service_ticket(cred, web(), env), kdc)

    def wrong(p: k.EncKdcRepPart) -> k.EncKdcRepPart:
        return dataclasses.replace(p, sname=k.PrincipalName(2, ("HTTP", "evil.example.com")))

    kdc.mutate_part = wrong
    evil = k.PrincipalName(2, ("HTTP", "evil.example.com"))
    kdc.mutate_rep = lambda r: dataclasses.replace(
        r, ticket=dataclasses.replace(r.ticket, sname=evil)
    )
    with pytest.raises(WrongPrincipal):
        drive(tgs_exchange(cred, web(), env, options=0), kdc)


def test_tgs_tampered_reply(kdc: ScriptedKdc, env: Environment) -> None:
    cred = password_cred(env)
    drive(get_tgt(cred, env), kdc)

    def flip(rep: k.KdcRep) -> k.KdcRep:
        cipher = bytearray(rep.enc_part.cipher)
        cipher[20] ^= 1
        enc_part = dataclasses.replace(rep.enc_part, cipher=bytes(cipher))
        return dataclasses.replace(rep, enc_part=enc_part)

    kdc.mutate_rep = flip
    with pytest.raises(MessageAltered):
        drive(service_ticket(cred, web(), env), kdc)


def test_unknown_service(kdc: ScriptedKdc, env: Environment) -> None:
    target = Principal.parse("HTTP/nosuch.example.com@EXAMPLE.COM")
    with pytest.raises(TargetUnknown) as info:
        drive(service_ticket(password_cred(env), target, env), kdc)
    assert info.value.status == 0x80090303 and isinstance(info.value, KdcTargetUnknown)
    assert "HTTP/nosuch.example.com@EXAMPLE.COM" in str(info.value)


def test_service_canonicalization(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.add_alias("HTTP/alias.example.com", "HTTP/web.example.com")
    cred = password_cred(env)
    alias = Principal.parse("HTTP/alias.example.com@EXAMPLE.COM")
    ticket = drive(service_ticket(cred, alias, env), kdc)
    assert ticket.server == web()
    count = len(kdc.requests)
    assert drive(service_ticket(cred, alias, env), kdc) is ticket
    assert drive(service_ticket(cred, web(), env), kdc) is ticket
    assert len(kdc.requests) == count


def test_second_request_served_from_cache(kdc: ScriptedKdc, env: Environment) -> None:
    cred = password_cred(env)
    first = drive(service_ticket(cred, web(), env), kdc)
    count = len(kdc.requests)
    gen = service_ticket(cred, web(), env)
    with pytest.raises(StopIteration) as done:
        next(gen)  # no KdcRequest is ever yielded
    assert done.value.value is first and len(kdc.requests) == count
    # Another handle for the same identity and password shares the tickets (DESIGN.md).
    again = password_cred(env)
    assert again.cache is cred.cache
    assert drive(service_ticket(again, web(), env), kdc) is first
    other = drive(service_ticket(again, Principal.parse("host/web.example.com@EXAMPLE.COM"), env),
                  kdc)
    assert len(kdc.requests) == count + 1 and other.server.components[0] == "host"


def test_wrong_password_handle_does_not_see_cached_tickets(
    kdc: ScriptedKdc, env: Environment
) -> None:
    drive(service_ticket(password_cred(env), web(), env), kdc)
    intruder = password_cred(env, password="not-the-password")
    with pytest.raises(LogonDenied):
        drive(service_ticket(intruder, web(), env), kdc)


def test_expired_entries_are_refetched(kdc: ScriptedKdc, clock: Clock, env: Environment) -> None:
    cred = password_cred(env)
    first = drive(service_ticket(cred, web(), env), kdc)
    clock.advance(11 * 3600)
    assert cred.cache is not None and cred.cache.get(web(), clock.now) is None
    second = drive(service_ticket(cred, web(), env), kdc)
    assert second is not first and len(kdc.requests) == 6  # AS x2, TGS, then AS x2, TGS again


def test_expired_tgt_at_kdc_triggers_new_as(
    kdc: ScriptedKdc, clock: Clock, env: Environment
) -> None:
    cred = password_cred(env)
    drive(get_tgt(cred, env), kdc)
    kdc.clock = Clock(T0 + timedelta(hours=10, minutes=1))  # the KDC's clock is ahead
    kdc.mutate_part = None
    kdc.force_error = None
    calls = {"n": 0}
    original = kdc.send

    def once_expired(request: KdcRequest) -> bytes:
        calls["n"] += 1
        if calls["n"] == 1:
            kdc.requests.append(request)
            body = k.KdcReq.parse(request.data).req_body
            return kdc.krb_error(32, realm=REALM, sname=body.sname, cname=body.cname)
        kdc.clock = Clock(T0)
        return original(request)

    ticket = run_exchange(service_ticket(cred, web(), env), once_expired)
    assert ticket.server == web()
    types = [k.KdcReq.parse(r.data).msg_type for r in kdc.requests]
    assert types == [10, 10, 12, 10, 10, 12]


def test_cross_realm_direct(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.add_realm(OTHER)
    kdc.add_trust(REALM, OTHER)
    kdc.add_service("HTTP/app.other.com", realm=OTHER)
    cred = password_cred(env)
    target = parse_target("HTTP/app.other.com", CONFIG)
    assert target.realm == OTHER
    ticket = drive(service_ticket(cred, target, env), kdc)
    assert [r.realm for r in kdc.requests] == [REALM, REALM, REALM, OTHER]
    assert k.KdcReq.parse(kdc.requests[2].data).req_body.sname == tgs_name(OTHER)
    assert ticket.server == target
    assert cred.cache is not None and cred.cache.tgt(OTHER, T0) is not None
    # The cross-realm TGT is cached: a second service there is one TGS-REQ.
    kdc.add_service("host/app.other.com", realm=OTHER)
    drive(service_ticket(cred, parse_target("host/app.other.com", CONFIG), env), kdc)
    assert [r.realm for r in kdc.requests[4:]] == [OTHER]


def test_cross_realm_referral_chain(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.add_realm(OTHER)
    kdc.add_realm(THIRD)
    kdc.add_trust(REALM, OTHER)
    kdc.add_trust(OTHER, THIRD)
    kdc.add_service("HTTP/svc.third.com", realm=THIRD)
    # The service's realm is guessed wrong (EXAMPLE.COM); the KDCs refer us along the path.
    kdc.add_referral("HTTP/svc.third.com", OTHER, realm=REALM)
    kdc.add_referral("HTTP/svc.third.com", THIRD, realm=OTHER)
    cred = password_cred(env)
    guessed = Principal.parse("HTTP/svc.third.com@EXAMPLE.COM")
    ticket = drive(service_ticket(cred, guessed, env), kdc)
    assert [r.realm for r in kdc.requests] == [REALM, REALM, REALM, OTHER, THIRD]
    assert ticket.server == Principal.parse("HTTP/svc.third.com@THIRD.COM")


def test_referral_loop(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.add_realm(OTHER)
    kdc.add_trust(REALM, OTHER)
    kdc.add_trust(OTHER, REALM)
    kdc.add_referral("HTTP/loop.example.com", OTHER, realm=REALM)
    kdc.add_referral("HTTP/loop.example.com", REALM, realm=OTHER)
    with pytest.raises(KerberosError) as info:
        drive(service_ticket(password_cred(env), Principal.parse("HTTP/loop.example.com"
                                                                  "@EXAMPLE.COM"), env), kdc)
    assert info.value.status == SecStatus.SEC_E_MAX_REFERRALS_EXCEEDED


def test_forwarded_tgt(kdc: ScriptedKdc, env: Environment) -> None:
    cred = password_cred(env)
    fwd = drive(forwarded_tgt(cred, env), kdc)
    body = k.KdcReq.parse(kdc.requests[-1].data).req_body
    assert body.kdc_options & k.KdcOptions.FORWARDED and body.sname == tgs_name(REALM)
    assert fwd.flags & k.TicketFlags.FORWARDED and fwd.is_tgt
    assert cred.cache is not None
    assert not cred.cache.tgt(REALM, T0).flags & k.TicketFlags.FORWARDED  # type: ignore[union-attr]


def test_forwarded_tgt_needs_forwardable(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.add_user("alice", PASSWORD, forwardable=False)
    with pytest.raises(NotForwardable, match="forwardable"):
        drive(forwarded_tgt(password_cred(env), env), kdc)


def test_user_to_user(kdc: ScriptedKdc, env: Environment) -> None:
    kdc.add_user("bob", "bob-pw")
    bob = password_cred(env, user="bob", password="bob-pw")
    bob_tgt = drive(get_tgt(bob, env), kdc)
    alice = password_cred(env)
    ticket = drive(user_to_user(alice, bob.client, bob_tgt.ticket, env), kdc)  # type: ignore[arg-type]
    body = k.KdcReq.parse(kdc.requests[-1].data).req_body
    assert body.kdc_options & k.KdcOptions.ENC_TKT_IN_SKEY and body.additional_tickets
    part = k.EncTicketPart.parse(decrypt(bob_tgt.session_key, 2, ticket.ticket.enc_part.cipher))
    assert part.cname.name_string == ("alice",)


def test_no_kdc_known_for_realm(env: Environment) -> None:
    config = Krb5Config.from_string("[libdefaults]\n default_realm = NOWHERE.TEST\n"
                                    " dns_lookup_kdc = false\n")
    cred = acquire_credentials(
        None, CredentialUse.OUTBOUND,
        KerberosAuthData(identity=AuthIdentity("alice", None, "pw"), config=config), env,
    )
    with pytest.raises(NoAuthenticatingAuthority, match=r"NOWHERE\.TEST") as info:
        next(as_exchange(cred, env))
    assert info.value.status == 0x80090311


# ---------------------------------------------------------------------------------------------
# Recorded MIT exchanges (tests/vectors/peers/mit/kdc.json, realm.json)
# ---------------------------------------------------------------------------------------------


def mit_entries() -> dict[str, dict[str, Any]]:
    data = json.loads((MIT / "kdc.json").read_text())
    return {e["name"]: e for e in data["entries"]}


def test_mit_recorded_as_exchange_replays() -> None:
    vectors = mit_entries()
    realm = json.loads((MIT / "realm.json").read_text())
    recorded = {e["etype"]: bytes.fromhex(e["hex"]) for e in realm["keys"]["alice"]}
    assert string_to_key(18, "alicepw", b"TEST.LOCALalice").contents == recorded[18]
    req0 = k.KdcReq.parse(bytes.fromhex(vectors["kinit #0 AS-REQ"]["hex"]))
    req1 = k.KdcReq.parse(bytes.fromhex(vectors["kinit #1 AS-REQ"]["hex"]))
    nonces = [req0.req_body.nonce, req1.req_body.nonce]
    rep = k.KdcRep.parse(bytes.fromhex(vectors["kinit #1 AS-REP"]["hex"]))
    part = k.EncKdcRepPart.parse(bytes.fromhex(vectors["kinit #1 AS-REP EncKDCRepPart"]["hex"]))

    def scripted(n: int) -> bytes:
        return nonces.pop(0).to_bytes(4, "big") if n == 4 else bytes(n)

    clock = Clock(part.authtime + timedelta(milliseconds=300))
    env = Environment(now=clock, random=scripted)
    config = Krb5Config.from_string(
        "[libdefaults]\n default_realm = TEST.LOCAL\n forwardable = true\n"
    )
    cred = acquire_credentials(
        None, CredentialUse.OUTBOUND,
        KerberosAuthData(identity=AuthIdentity("alice", "TEST.LOCAL", "alicepw"), config=config,
                         kdc_locator=locator), env,
    )
    replies = iter([
        bytes.fromhex(vectors["kinit #0 KRB-ERROR"]["hex"]),
        bytes.fromhex(vectors["kinit #1 AS-REP"]["hex"]),
    ])
    sent: list[k.KdcReq] = []

    def send(request: KdcRequest) -> bytes:
        sent.append(k.KdcReq.parse(request.data))
        return next(replies)

    tgt = run_exchange(as_exchange(cred, env), send)
    assert [r.req_body.nonce for r in sent] == [req0.req_body.nonce, req1.req_body.nonce]
    assert sent[0].req_body.kdc_options == req0.req_body.kdc_options  # forwardable|renewable-ok
    assert tgt.session_key.contents == part.key.keyvalue and tgt.ticket.raw == rep.ticket.raw
    assert str(tgt.server) == "krbtgt/TEST.LOCAL@TEST.LOCAL" and tgt.endtime == part.endtime
    # Our PA-ENC-TIMESTAMP opens with MIT's key for alice, as MIT's own did.
    ts = k.EncryptedData.parse({p.padata_type: p.padata_value for p in sent[1].padata or ()}[2])
    assert k.PaEncTsEnc.parse(decrypt(Key(18, recorded[18]), 1, ts.cipher)).pausec == 300000


def test_mit_tgs_req_checksum_covers_req_body() -> None:
    vectors = mit_entries()
    part = k.EncKdcRepPart.parse(bytes.fromhex(vectors["kinit #1 AS-REP EncKDCRepPart"]["hex"]))
    session = Key(part.key.keytype, part.key.keyvalue)
    req = k.KdcReq.parse(bytes.fromhex(vectors["krb5 #5 TGS-REQ"]["hex"]))
    ap_req = k.ApReq.parse(next(p.padata_value for p in req.padata or () if p.padata_type == 1))
    auth = k.Authenticator.parse(decrypt(session, 7, ap_req.authenticator.cipher))
    assert auth.cksum is not None
    verify_checksum(session, 6, req.req_body.raw, auth.cksum.checksum, auth.cksum.cksumtype)
    # MIT names host-based services NT-SRV-HST, as parse_target does for service@host.
    config = Krb5Config.from_string("[libdefaults]\n default_realm = TEST.LOCAL\n")
    ours = parse_target("host@server.test.local", config)
    assert req.req_body.sname == ours.name


@pytest.mark.parametrize(
    ("name", "cls", "status"),
    [
        ("kinit-wrong-password #3 KRB-ERROR", KdcLogonDenied, 0x8009030C),
        ("kinit-unknown-client #4 KRB-ERROR", KdcLogonDenied, 0x8009030C),
        ("unknown-service #7 KRB-ERROR", KdcTargetUnknown, 0x80090303),
    ],
)
def test_mit_recorded_errors_map(name: str, cls: type[SspiError], status: int) -> None:
    err = k.KrbError.parse(bytes.fromhex(mit_entries()[name]["hex"]))
    mapped = krb_error_to_sspi(err)
    assert isinstance(mapped, cls) and mapped.status == status
    assert mapped.krb_error == err.error_code and mapped.e_text == err.e_text


# ---------------------------------------------------------------------------------------------
# Error mapping (reference B.10)
# ---------------------------------------------------------------------------------------------


def krb_error(code: int, e_data: bytes | None = None) -> k.KrbError:
    return k.KrbError(
        stime=T0.replace(microsecond=0), susec=0, error_code=code, realm=REALM,
        sname=tgs_name(REALM), e_data=e_data,
    )


@pytest.mark.parametrize(
    ("code", "cls", "status"),
    [
        (6, LogonDenied, 0x8009030C),
        (7, TargetUnknown, 0x80090303),
        (8, KerberosError, SecStatus.SEC_E_MULTIPLE_ACCOUNTS),
        (12, LogonDenied, 0x8009030C),
        (13, KerberosError, SecStatus.SEC_E_KDC_INVALID_REQUEST),
        (14, AlgorithmMismatch, 0x80090342),
        (18, LogonDenied, 0x8009030C),
        (23, PasswordExpired, 0x8009030C),
        (24, LogonDenied, 0x8009030C),
        (25, LogonDenied, 0x8009030C),
        (27, UserToUserRequired, 0x8009030C),
        (29, NoAuthenticatingAuthority, 0x80090311),
        (31, LogonDenied, 0x8009030C),
        (32, ContextExpired, 0x80090317),
        (33, TimeSkew, 0x80090324),
        (35, WrongPrincipal, 0x80090322),
        (37, TimeSkew, 0x80090324),
        (41, LogonDenied, 0x8009030C),
        (50, KerberosError, SecStatus.SEC_E_KDC_INVALID_REQUEST),
        (60, KerberosError, SecStatus.SEC_E_KDC_INVALID_REQUEST),
        (68, NoAuthenticatingAuthority, 0x80090311),
        (77, KerberosError, SecStatus.SEC_E_INTERNAL_ERROR),
    ],
)
def test_error_mapping(code: int, cls: type[SspiError], status: int) -> None:
    client = Principal.parse("alice@EXAMPLE.COM")
    mapped = krb_error_to_sspi(krb_error(code), client=client, server=web(), realm=REALM)
    assert isinstance(mapped, cls) and isinstance(mapped, KerberosError)
    assert mapped.status == status and mapped.krb_error == code
    assert REALM in mapped.message


def test_error_mapping_reads_ntstatus() -> None:
    ext = k.KerbErrorData(3, k.KerbExtError(0xC0000234).build()).build()  # ACCOUNT_LOCKED_OUT
    mapped = krb_error_to_sspi(krb_error(18, ext), client="alice@EXAMPLE.COM")
    assert isinstance(mapped, LogonDenied) and mapped.ntstatus == 0xC0000234
    assert "0xc0000234" in mapped.message


# ---------------------------------------------------------------------------------------------
# Target names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "text", "name_type"),
    [
        ("HTTP/web.example.com", "HTTP/web.example.com@EXAMPLE.COM", 2),
        ("MSSQLSvc/db.other.com:1433", "MSSQLSvc/db.other.com:1433@OTHER.COM", 2),
        ("ldap/dc1.example.com/example.com", "ldap/dc1.example.com/example.com@EXAMPLE.COM", 2),
        ("HTTP/web.example.com@OTHER.COM", "HTTP/web.example.com@OTHER.COM", 2),
        ("HTTP@Web.Example.COM", "HTTP/web.example.com@EXAMPLE.COM", 3),
        ("host@unmapped.host", "host/unmapped.host@EXAMPLE.COM", 3),
        ("bob@OTHER.COM", "bob@OTHER.COM", 1),
        ("bob", "bob@EXAMPLE.COM", 1),
        ("bob\\@corp.example@EXAMPLE.COM", "bob\\@corp.example@EXAMPLE.COM", 10),
        ("HTTP/[::1]:8080", "HTTP/[::1]:8080@EXAMPLE.COM", 2),
    ],
)
def test_parse_target(target: str, text: str, name_type: int) -> None:
    principal = parse_target(target, CONFIG)
    assert str(principal) == text and principal.name.name_type == name_type


@pytest.mark.parametrize("target", ["", "  ", "HTTP//host", "HTTP/host@", "a@b@C"])
def test_parse_target_rejects(target: str) -> None:
    with pytest.raises(TargetUnknown):
        parse_target(target, CONFIG)


def test_parse_target_needs_a_realm() -> None:
    with pytest.raises(TargetUnknown, match="default_realm"):
        parse_target("HTTP/web.nowhere", Krb5Config.from_string("[libdefaults]\n"))


def test_principal_equality_ignores_name_type() -> None:
    a = Principal(k.PrincipalName(1, ("HTTP", "h")), "R")
    b = Principal(k.PrincipalName(3, ("HTTP", "h")), "R")
    assert a == b and hash(a) == hash(b) and a != Principal.parse("HTTP/h@S")
    assert Principal.parse("krbtgt/B@A").tgs_realm == "B" and Principal.tgs("A").is_tgs
    assert Principal.parse("a/b@R").default_salt == b"Rab"
    assert Principal.from_ccache(a.to_ccache()) == a


# ---------------------------------------------------------------------------------------------
# Tickets and the shared cache
# ---------------------------------------------------------------------------------------------


def sample_ticket(kdc: ScriptedKdc, env: Environment) -> ServiceTicket:
    return drive(service_ticket(password_cred(env), web(), env), kdc)  # type: ignore[no-any-return]


def test_ticket_ccache_roundtrip(kdc: ScriptedKdc, env: Environment) -> None:
    ticket = sample_ticket(kdc, env)
    back = ServiceTicket.from_ccache(ticket.to_ccache())
    assert back == ticket and back.ticket.raw == ticket.ticket.raw
    assert "bytes hidden" in repr(back.session_key)
    assert ticket.session_key.contents.hex() not in repr(back)


def test_valid_at(kdc: ScriptedKdc, env: Environment) -> None:
    ticket = sample_ticket(kdc, env)
    assert ticket.valid_at(T0) and not ticket.valid_at(ticket.endtime)
    assert not ticket.valid_at(T0 - timedelta(minutes=10))
    assert ticket.valid_at(T0 - timedelta(minutes=10), timedelta(minutes=11))
    invalid = dataclasses.replace(ticket, flags=k.TicketFlags.INVALID)
    assert not invalid.valid_at(T0)


def test_ticket_cache_registry_and_threads(kdc: ScriptedKdc, env: Environment) -> None:
    ticket = sample_ticket(kdc, env)
    alice = Principal.parse("alice@EXAMPLE.COM")
    cache = TicketCache.for_identity(alice)
    assert TicketCache.for_identity(Principal(k.PrincipalName(10, ("alice",)), REALM)) is cache
    assert TicketCache.for_identity(alice, partition=b"x") is not cache
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(200):
                name = Principal.parse(f"HTTP/h{n}-{i}@EXAMPLE.COM")
                cache.store(dataclasses.replace(ticket, server=name))
                assert cache.get(name, T0) is not None
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache.tickets()) == 1600
    assert cache.get(web(), ticket.endtime) is None and cache.tickets() == ()


# ---------------------------------------------------------------------------------------------
# Credential sources
# ---------------------------------------------------------------------------------------------


def ccache_cred(
    env: Environment, tmp_path: Path, tickets: list[ServiceTicket], **options: Any
) -> KerberosCredential:
    path = tmp_path / "ccache"
    default = CcachePrincipal(1, ("alice",), REALM)
    store_ccache(Ccache(default, tuple(t.to_ccache() for t in tickets)), f"FILE:{path}")
    data = KerberosAuthData(ccache=f"FILE:{path}", config=CONFIG, kdc_locator=locator, **options)
    return acquire_credentials(None, CredentialUse.OUTBOUND, data, env)


def test_ccache_source_seeds_the_cache(kdc: ScriptedKdc, env: Environment, tmp_path: Path) -> None:
    source = password_cred(env)
    tgt = drive(get_tgt(source, env), kdc)
    TicketCache.forget_all()
    cred = ccache_cred(env, tmp_path, [tgt])
    assert cred.source == CredentialSource.CCACHE and cred.principal_name == "alice@EXAMPLE.COM"
    assert cred.expiry == tgt.endtime
    count = len(kdc.requests)
    ticket = drive(service_ticket(cred, web(), env), kdc)
    assert len(kdc.requests) == count + 1 and ticket.server == web()
    # A ccache handle and another one for the same identity share the TGS result.
    again = ccache_cred(env, tmp_path, [tgt])
    assert drive(service_ticket(again, web(), env), kdc) is ticket


def test_ccache_with_expired_tgt(kdc: ScriptedKdc, env: Environment, tmp_path: Path,
                                 clock: Clock) -> None:
    tgt = drive(get_tgt(password_cred(env), env), kdc)
    clock.advance(11 * 3600)
    with pytest.raises(NoCredentials, match="expired") as info:
        ccache_cred(env, tmp_path, [tgt], client_keytab=f"FILE:{tmp_path}/none.keytab")
    assert "none.keytab" in str(info.value)


def test_explicit_identity_never_touches_ccache(kdc: ScriptedKdc, env: Environment,
                                                tmp_path: Path) -> None:
    path = tmp_path / "never"
    cred = password_cred(env, ccache=f"FILE:{path}")
    drive(service_ticket(cred, web(), env), kdc)
    assert not path.exists() and cred.source == CredentialSource.PASSWORD


def test_opt_in_ccache_write(kdc: ScriptedKdc, env: Environment, tmp_path: Path) -> None:
    path = tmp_path / "written"
    cred = password_cred(env, write_ccache=f"FILE:{path}")
    drive(service_ticket(cred, web(), env), kdc)
    cc = load_ccache(f"FILE:{path}")
    assert str(cc.default_principal) == "alice@EXAMPLE.COM"
    assert sorted(str(c.server) for c in cc.credentials) == [
        "HTTP/web.example.com@EXAMPLE.COM", "krbtgt/EXAMPLE.COM@EXAMPLE.COM"
    ]


def test_opt_in_ccache_write_keeps_the_kdc_offset(kdc: ScriptedKdc, tmp_path: Path) -> None:
    # As MIT's kinit with kdc_timesync: the header's KDC offset lets klist/kvno (and us, on
    # reading the cache back) correct the same clock.
    env = make_env(Clock(T0 + timedelta(minutes=10, microseconds=500000)))
    path = tmp_path / "written"
    cred = password_cred(env, write_ccache=f"FILE:{path}")
    drive(service_ticket(cred, web(), env), kdc)
    offset = load_ccache(f"FILE:{path}").kdc_offset
    assert offset is not None
    assert timedelta(seconds=offset[0], microseconds=offset[1]) == cred.kdc_time_offset
    assert cred.kdc_time_offset == timedelta(minutes=-10, microseconds=-500000)


def service_keytab(kdc: ScriptedKdc, *names: str, realm: str = REALM, kvno: int = 1) -> Keytab:
    entries = []
    for name in names:
        entries += [dataclasses.replace(e, kvno=kvno)
                    for e in kdc.keytab(name, realm=realm).entries]
    return Keytab(tuple(entries))


def user_keytab(kdc: ScriptedKdc, user: str = "alice", etype: int = 18) -> Keytab:
    key = kdc.key(user, etype)
    return Keytab((KeytabEntry(CcachePrincipal(1, (user,), REALM), 0, 1, etype, key.contents),))


def test_client_keytab_source(kdc: ScriptedKdc, env: Environment, tmp_path: Path) -> None:
    path = tmp_path / "client.keytab"
    user_keytab(kdc).save(path)
    data = KerberosAuthData(
        ccache=f"FILE:{tmp_path}/missing", client_keytab=f"FILE:{path}", config=CONFIG,
        kdc_locator=locator,
    )
    cred = acquire_credentials(None, CredentialUse.OUTBOUND, data, env)
    assert cred.source == CredentialSource.KEYTAB and str(cred.client) == "alice@EXAMPLE.COM"
    assert drive(service_ticket(cred, web(), env), kdc).server == web()


def test_no_credentials_names_every_place(env: Environment, tmp_path: Path) -> None:
    data = KerberosAuthData(
        ccache=f"FILE:{tmp_path}/cc", client_keytab=f"FILE:{tmp_path}/kt", config=CONFIG
    )
    with pytest.raises(NoCredentials) as info:
        acquire_credentials(None, CredentialUse.OUTBOUND, data, env)
    text = str(info.value)
    assert f"{tmp_path}/cc" in text and f"{tmp_path}/kt" in text and "password" in text
    assert info.value.status == 0x8009030E


def test_environment_variables_are_used(kdc: ScriptedKdc, env: Environment, tmp_path: Path) -> None:
    tgt = drive(get_tgt(password_cred(env), env), kdc)
    TicketCache.forget_all()
    store_ccache(Ccache(CcachePrincipal(1, ("alice",), REALM), (tgt.to_ccache(),)),
                 f"DIR:{tmp_path}/coll")
    environ = {"KRB5CCNAME": f"DIR:{tmp_path}/coll"}
    data = KerberosAuthData(config=CONFIG, environ=environ, kdc_locator=locator)
    cred = acquire_credentials("alice@EXAMPLE.COM", CredentialUse.OUTBOUND, data, env)
    assert cred.source == CredentialSource.CCACHE and cred.ccache_name is not None


def test_default_sources_are_taken_again_only_while_their_files_are_unchanged(
    kdc: ScriptedKdc, env: Environment, clock: Clock, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pywin32's ClientAuth/ServerAuth acquire without pAuthData for every connection: what the
    # environment's krb5.conf, ccache and keytab gave is taken again while they are unchanged.
    conf = tmp_path / "krb5.conf"
    conf.write_text("[libdefaults]\n default_realm = EXAMPLE.COM\n")
    ccache, keytab = tmp_path / "ccache", tmp_path / "service.keytab"
    monkeypatch.setenv("KRB5_CONFIG", str(conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{ccache}")
    monkeypatch.setenv("KRB5_KTNAME", f"FILE:{keytab}")
    tgt = drive(get_tgt(password_cred(env), env), kdc)
    TicketCache.forget_all()
    store_ccache(Ccache(CcachePrincipal(1, ("alice",), REALM), (tgt.to_ccache(),)),
                 f"FILE:{ccache}")
    service_keytab(kdc, "HTTP/web.example.com").save(keytab)
    real_time_ns = parsed.time.time_ns
    monkeypatch.setattr(parsed.time, "time_ns", lambda: real_time_ns() + 10 * parsed.RACY_NS)
    reads: list[str] = []
    real_ccache, real_keytab = credentials_module.load_ccache, credentials_module.load_keytab
    monkeypatch.setattr(credentials_module, "load_ccache",
                        lambda *a, **kw: reads.append("ccache") or real_ccache(*a, **kw))
    monkeypatch.setattr(credentials_module, "load_keytab",
                        lambda *a, **kw: reads.append("keytab") or real_keytab(*a, **kw))

    def outbound() -> KerberosCredential:
        return acquire_credentials(None, CredentialUse.OUTBOUND, None, env)

    def inbound() -> KerberosCredential:
        return acquire_credentials(None, CredentialUse.INBOUND, None, env)

    held = [outbound(), outbound(), inbound(), inbound()]
    reads.clear()
    cred, acceptor = outbound(), inbound()
    assert reads == []  # neither file was read again
    assert cred not in held and acceptor not in held
    assert cred.source == CredentialSource.CCACHE and cred.ccache_name == f"FILE:{ccache}"
    assert str(cred.client) == "alice@EXAMPLE.COM" and cred.expiry == tgt.endtime
    assert cred.cache is not None and cred.cache.tgt(REALM, T0) == tgt
    assert acceptor.acceptor_keytab is held[3].acceptor_keytab
    assert len(acceptor.keytab.entries) == len(service_keytab(kdc, "HTTP/web.example.com").entries)
    # From then on every handle refers to the same credentials, as a Windows logon session's
    # do: what one context learns (tickets, the KDC's clock) the next one has.
    assert outbound() is cred and inbound() is acceptor
    assert reads == []
    # "klist purge" for the process drops the identity's ticket cache: the next handle is a
    # new credential on the identity's new cache, refilled from the ccache.
    TicketCache.forget_all()
    purged = outbound()
    assert purged is not cred and purged.cache is TicketCache.for_identity(purged.client)
    assert purged.cache.tgt(REALM, T0) == tgt and outbound() is purged

    # A rewritten keytab, a ccache elsewhere, a ccache gone: each is seen at once.
    service_keytab(kdc, "HTTP/web.example.com", kvno=2).save(keytab)
    fresh_acceptor = inbound()
    assert {e.kvno for e in fresh_acceptor.keytab.entries} == {2}
    assert fresh_acceptor is not acceptor
    moved = tmp_path / "moved"
    ccache.rename(moved)
    with pytest.raises(NoCredentials, match="no credential cache"):
        outbound()
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{moved}")
    assert outbound().ccache_name == f"FILE:{moved}"
    # Another ccache named by the environment is another logon session.
    assert outbound() is not cred
    # Tickets expire even while the file stays the same, for a credential handed out before too.
    outbound()
    outbound()
    clock.advance(11 * 3600)
    with pytest.raises(NoCredentials, match="expired"):
        outbound()


def test_enctype_policy() -> None:
    assert enctype_policy(CONFIG)[:2] == ((18, 17, 20, 19), (18, 17, 20, 19))
    assert enctype_policy(CONFIG, allow_rc4=True)[0] == (18, 17, 20, 19, 23)
    rc4_conf = Krb5Config.from_string("[libdefaults]\n allow_rc4 = true\n"
                                      " default_tgs_enctypes = aes256-cts rc4-hmac\n")
    assert enctype_policy(rc4_conf)[1] == (18, 23)
    assert enctype_policy(rc4_conf, allow_rc4=False)[1] == (18,)
    with pytest.raises(InvalidParameter, match="allow_rc4"):
        enctype_policy(CONFIG, enctypes=(18, 23))
    with pytest.raises(InvalidParameter):
        enctype_policy(CONFIG, enctypes=(3,))
    assert enctype_policy(CONFIG, True, (23, 18))[0] == (23, 18)


def test_nt_hash_needs_rc4(env: Environment) -> None:
    identity = AuthIdentity("alice", REALM, nt_hash=bytes(16))
    with pytest.raises(InvalidParameter, match="rc4"):
        acquire_credentials(None, CredentialUse.OUTBOUND,
                            KerberosAuthData(identity=identity, config=CONFIG), env)
    cred = acquire_credentials(None, CredentialUse.OUTBOUND,
                               KerberosAuthData(identity=identity, config=CONFIG, allow_rc4=True),
                               env)
    assert cred.source == CredentialSource.NT_HASH and cred.key_enctypes() == (23,)
    assert cred.client_key(23, b"ignored") == Key(23, bytes(16))


def test_identity_forms(env: Environment) -> None:
    def principal(identity: AuthIdentity) -> str:
        data = KerberosAuthData(identity=identity, config=CONFIG)
        return acquire_credentials(None, CredentialUse.OUTBOUND, data, env).principal_name

    assert principal(AuthIdentity("alice", "example.com", "pw")) == "alice@EXAMPLE.COM"
    assert principal(AuthIdentity("alice", "EXAMPLE", "pw")) == "alice@EXAMPLE.COM"
    assert principal(AuthIdentity("alice@other.com", None, "pw")) == "alice@OTHER.COM"
    assert principal(AuthIdentity("alice", None, "pw")) == "alice@EXAMPLE.COM"
    assert principal(AuthIdentity("alice@corp.example", "EXAMPLE.COM", "pw")) == (
        "alice\\@corp.example@EXAMPLE.COM"
    )
    assert "pw" not in repr(acquire_credentials(
        None, CredentialUse.OUTBOUND,
        KerberosAuthData(identity=AuthIdentity("alice", REALM, "Secret-Value-7"), config=CONFIG),
        env))


def test_acceptor_credential(kdc: ScriptedKdc, env: Environment, tmp_path: Path) -> None:
    path = tmp_path / "service.keytab"
    service_keytab(kdc, "HTTP/web.example.com").save(path)
    data = KerberosAuthData(acceptor_keytab=f"FILE:{path}", config=CONFIG)
    cred = acquire_credentials("HTTP/web.example.com", CredentialUse.INBOUND, data, env)
    assert cred.acceptor_principal == web() and cred.keytab.entries
    assert cred.principal_name == "HTTP/web.example.com@EXAMPLE.COM"
    with pytest.raises(NoCredentials, match=r"no key for host/other\.example\.com"):
        acquire_credentials("host/other.example.com", CredentialUse.INBOUND, data, env)
    with pytest.raises(NoCredentials, match="KRB5_KTNAME"):
        acquire_credentials(None, CredentialUse.INBOUND,
                            KerberosAuthData(acceptor_keytab=f"FILE:{tmp_path}/x", config=CONFIG),
                            env)
    outbound = password_cred(env)
    with pytest.raises(NoCredentials, match="INBOUND"):
        outbound.keytab  # noqa: B018


def test_delegated_credential(kdc: ScriptedKdc, env: Environment) -> None:
    fwd = drive(forwarded_tgt(password_cred(env), env), kdc)
    info = k.KrbCredInfo(
        key=k.EncryptionKey(fwd.session_key.enctype, fwd.session_key.contents),
        prealm=fwd.client.realm, pname=fwd.client.name, flags=fwd.flags, authtime=fwd.authtime,
        endtime=fwd.endtime, srealm=fwd.server.realm, sname=fwd.server.name,
    )
    cred = delegated_credential(
        k.KrbCred(tickets=(fwd.ticket,), enc_part=k.EncryptedData(etype=0, cipher=b"")),
        k.EncKrbCredPart(ticket_info=(info,)), env, CONFIG,
    )
    object.__setattr__(cred, "_locator", locator)
    assert cred.source == CredentialSource.DELEGATED and cred.client == fwd.client
    count = len(kdc.requests)
    ticket = drive(service_ticket(cred, web(), env), kdc)
    assert ticket.server == web() and len(kdc.requests) == count + 1


# ---------------------------------------------------------------------------------------------
# Acceptor helpers
# ---------------------------------------------------------------------------------------------


def test_decrypt_ticket_checks(kdc: ScriptedKdc, env: Environment) -> None:
    ticket = sample_ticket(kdc, env)
    keytab = service_keytab(kdc, "HTTP/web.example.com", kvno=7)  # kvno mismatch: MIT fallback
    skew = timedelta(minutes=5)
    part, _ = decrypt_ticket(keytab, ticket.ticket, allowed=None, now=T0, skew=skew)
    assert part.crealm == REALM
    with pytest.raises(WrongPrincipal):
        decrypt_ticket(keytab, ticket.ticket, allowed=Principal.parse("host/x@EXAMPLE.COM"),
                       now=T0, skew=skew)
    with pytest.raises(TimeSkew):
        decrypt_ticket(keytab, ticket.ticket, allowed=None, now=T0 - timedelta(hours=1),
                       skew=skew)
    with pytest.raises(ContextExpired):
        decrypt_ticket(keytab, ticket.ticket, allowed=None, now=ticket.endtime + 2 * skew,
                       skew=skew)
    stale = Keytab((dataclasses.replace(keytab.entries[0], key=bytes(32)),))
    with pytest.raises(LogonDenied) as info:
        decrypt_ticket(stale, ticket.ticket, allowed=None, now=T0, skew=skew)
    assert info.value.krb_error == 31  # type: ignore[attr-defined]
    other = service_keytab(kdc, "host/web.example.com")
    with pytest.raises(WrongPrincipal):
        decrypt_ticket(other, ticket.ticket, allowed=None, now=T0, skew=skew)
    aes128 = Keytab((dataclasses.replace(keytab.entries[0], enctype=17, key=bytes(16)),))
    with pytest.raises(AlgorithmMismatch):
        find_keys(aes128, web(), 18, 1)


def test_replay_cache() -> None:
    cache = ReplayCache()
    skew = timedelta(minutes=5)
    args = dict(client=Principal.parse("alice@R"), ctime=T0, cusec=5, ciphertext=b"abc",
                skew=skew)
    cache.check(now=T0, **args)  # type: ignore[arg-type]
    with pytest.raises(OutOfSequence) as info:
        cache.check(now=T0, **args)  # type: ignore[arg-type]
    assert isinstance(info.value, ReplayDetected) and info.value.krb_error == 34
    cache.check(now=T0, **{**args, "cusec": 6})  # type: ignore[arg-type]
    with pytest.raises(TimeSkew):
        cache.check(now=T0 + timedelta(minutes=6), **args)  # type: ignore[arg-type]
    cache.check(now=T0 + timedelta(minutes=1), **{**args, "ctime": T0 + timedelta(minutes=1)})  # type: ignore[arg-type]
    assert len(cache) == 3
    cache.check(now=T0 + timedelta(minutes=5, seconds=59), **{  # type: ignore[arg-type]
        **args, "ctime": T0 + timedelta(minutes=2)})
    assert len(cache) == 2  # the two entries of T0 expired
    assert ReplayCache.process_wide() is ReplayCache.shared()


# ---------------------------------------------------------------------------------------------
# Hostile replies: SspiError only
# ---------------------------------------------------------------------------------------------


def _run_with_reply(make: Callable[[], Any], reply: bytes, step: int) -> None:
    gen = make()
    try:
        request = next(gen)
        for _ in range(step):
            request = gen.send(FUZZ_KDC.send(request))
        gen.send(reply)
    except StopIteration:
        pass
    except SspiError:
        pass
    finally:
        gen.close()


FUZZ_CLOCK = Clock()
FUZZ_KDC = ScriptedKdc(FUZZ_CLOCK)


def _as_genesis() -> Any:
    env = make_env(FUZZ_CLOCK, seed=5)
    return as_exchange(password_cred(env), env)


def _tgs_genesis() -> Any:
    env = make_env(FUZZ_CLOCK, seed=6)
    cred = password_cred(env)
    tgt = run_exchange(get_tgt(cred, env), FUZZ_KDC.send)
    return tgs_exchange(cred, web(), env, tgt=tgt, store=False)


def _real_replies() -> list[bytes]:
    clock = Clock()
    kdc = ScriptedKdc(clock)
    env = make_env(clock)
    replies: list[bytes] = []

    def record(request: KdcRequest) -> bytes:
        reply = kdc.send(request)
        replies.append(reply)
        return reply

    run_exchange(service_ticket(password_cred(env), web(), env), record)
    vectors = mit_entries()
    replies += [bytes.fromhex(vectors[n]["hex"]) for n in
                ("kinit #0 KRB-ERROR", "kinit #1 AS-REP", "krb5 #5 TGS-REP")]
    return replies


REAL_REPLIES = _real_replies()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from([0, 1]))
def test_garbage_replies_give_sspi_errors(reply: bytes, step: int) -> None:
    TicketCache.forget_all()
    _run_with_reply(_as_genesis, reply, step)
    _run_with_reply(_tgs_genesis, reply, 0)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REAL_REPLIES), st.data())
def test_mutated_replies_give_sspi_errors(base: bytes, data: st.DataObject) -> None:
    TicketCache.forget_all()
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
    for make, step in ((_as_genesis, 0), (_as_genesis, 1), (_tgs_genesis, 0)):
        _run_with_reply(make, bytes(mutated), step)
