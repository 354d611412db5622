"""opensspi's KDC exchanges against real KDCs: the MIT realm ``TEST.LOCAL`` and the Heimdal realm
``HEIMDAL.LOCAL`` (tests/interop/peers), driven with the blocking transport.

What is proven here: AS with pre-authentication (ASCII and non-ASCII passwords), TGS for every
enctype (rc4 only when allowed), the shared ticket cache (no KDC round trip the second time),
MIT ``kinit`` ccaches and ``kadmin ktadd`` keytabs used by us, our ccache read by MIT ``klist``
and ``kvno``, MIT-issued tickets opened by our acceptor helpers, and each error mapped to its
Windows status.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from interop.peers.heimdal_kdc import HeimdalRealm
from interop.peers.mit_kdc import ENCTYPE_SERVICES, MitRealm
from opensspi.constants import CredentialUse
from opensspi.errors import (
    LogonDenied,
    NoAuthenticatingAuthority,
    NoCredentials,
    TargetUnknown,
    TimeSkew,
)
from opensspi.packages.kerberos.acceptor import decrypt_ticket
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.credentials import (
    CredentialSource,
    KerberosAuthData,
    KerberosCredential,
    acquire_credentials,
)
from opensspi.packages.kerberos.kdc import (
    EtypeNotSupported,
    KdcLogonDenied,
    PasswordExpired,
    forwarded_tgt,
    get_tgt,
    run_exchange,
    service_ticket,
)
from opensspi.packages.kerberos.names import Principal, parse_target
from opensspi.packages.kerberos.tickets import ServiceTicket, TicketCache
from opensspi.provider import DEFAULT_ENVIRONMENT, AuthIdentity, Environment, KdcRequest
from opensspi.transport import send_to_kdc

pytestmark = pytest.mark.interop


class Counter:
    """The blocking transport, counting the requests it delivers."""

    def __init__(self) -> None:
        self.requests: list[KdcRequest] = []

    def __call__(self, request: KdcRequest) -> bytes:
        self.requests.append(request)
        return send_to_kdc(
            request.data, request.kdcs, timeout=request.timeout,
            max_retries=request.max_retries,
            udp_preference_limit=request.udp_preference_limit, realm=request.realm,
        )


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    TicketCache.forget_all()
    yield
    TicketCache.forget_all()


@pytest.fixture
def mit_config(mit_realm: MitRealm) -> Krb5Config:
    return Krb5Config.load([str(mit_realm.krb5_conf)])


def password_cred(
    realm: MitRealm | HeimdalRealm, config: Krb5Config, user: str = "alice",
    password: str | None = None, env: Environment = DEFAULT_ENVIRONMENT, **options: object,
) -> KerberosCredential:
    identity = AuthIdentity(user, realm.realm, password or realm.passwords[user])
    data = KerberosAuthData(identity=identity, config=config, **options)  # type: ignore[arg-type]
    return acquire_credentials(None, CredentialUse.OUTBOUND, data, env)


def ticket_for(
    cred: KerberosCredential, target: str, send: Counter | None = None,
    env: Environment = DEFAULT_ENVIRONMENT,
) -> ServiceTicket:
    server = parse_target(target, cred.config)
    result: ServiceTicket = run_exchange(service_ticket(cred, server, env), send or Counter())
    return result


def open_with_keytab(realm: MitRealm | HeimdalRealm, ticket: ServiceTicket) -> None:
    """Our acceptor helper opens the KDC-issued ticket with the realm's service keytab."""
    from opensspi.packages.kerberos.keytab import Keytab

    part, key = decrypt_ticket(
        Keytab.load(realm.keytab), ticket.ticket, allowed=ticket.server,
        now=datetime.now(timezone.utc), skew=timedelta(minutes=5),
    )
    assert key == ticket.session_key
    assert Principal(part.cname, part.crealm) == ticket.client


# ---------------------------------------------------------------------------------------------
# MIT: success paths
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["alice", "bob", "jürgen", "nopreauth"])
def test_as_with_password(mit_realm: MitRealm, mit_config: Krb5Config, user: str) -> None:
    send = Counter()
    cred = password_cred(mit_realm, mit_config, user)
    tgt = run_exchange(get_tgt(cred, DEFAULT_ENVIRONMENT), send)
    assert str(tgt.client) == f"{user}@TEST.LOCAL"
    assert str(tgt.server) == "krbtgt/TEST.LOCAL@TEST.LOCAL"
    assert len(send.requests) == (1 if user == "nopreauth" else 2)  # PREAUTH_REQUIRED round
    assert tgt.session_key.enctype == 18 and cred.expiry == tgt.endtime


@pytest.mark.parametrize("enctype", sorted(ENCTYPE_SERVICES))
def test_tgs_for_each_enctype(mit_realm: MitRealm, mit_config: Krb5Config, enctype: int) -> None:
    # The realm's krb5.conf says allow_rc4 = true, so rc4 is allowed here by configuration.
    cred = password_cred(mit_realm, mit_config)
    service = ENCTYPE_SERVICES[enctype]
    ticket = ticket_for(cred, service.replace("/", "@", 1))
    assert ticket.session_key.enctype == enctype and ticket.ticket.enc_part.etype == enctype
    assert str(ticket.server) == f"{service}@TEST.LOCAL"
    open_with_keytab(mit_realm, ticket)


def test_rc4_only_when_allowed(mit_realm: MitRealm, mit_config: Krb5Config) -> None:
    cred = password_cred(mit_realm, mit_config, allow_rc4=False)
    assert 23 not in cred.enctypes
    with pytest.raises(EtypeNotSupported) as info:
        ticket_for(cred, "HTTP@e23.test.local")
    assert info.value.status == 0x80090342 and info.value.krb_error == 14
    assert ticket_for(cred, "HTTP@e18.test.local").session_key.enctype == 18


def test_service_ticket_flags_and_acceptor(mit_realm: MitRealm, mit_config: Krb5Config) -> None:
    from opensspi.packages.kerberos.asn1 import TicketFlags

    cred = password_cred(mit_realm, mit_config)
    ticket = ticket_for(cred, "HTTP/server.test.local")
    assert ticket.flags & TicketFlags.OK_AS_DELEGATE and ticket.flags & TicketFlags.FORWARDABLE
    inbound = acquire_credentials(
        "HTTP/server.test.local", CredentialUse.INBOUND,
        KerberosAuthData(environ=mit_realm.env(), config=mit_config), DEFAULT_ENVIRONMENT,
    )
    part, _ = decrypt_ticket(
        inbound.keytab, ticket.ticket, allowed=inbound.acceptor_principal,
        now=datetime.now(timezone.utc), skew=timedelta(minutes=5),
    )
    assert part.cname.name_string == ("alice",)


def test_second_request_served_from_cache(mit_realm: MitRealm, mit_config: Krb5Config) -> None:
    send = Counter()
    cred = password_cred(mit_realm, mit_config)
    first = ticket_for(cred, "HTTP/server.test.local", send)
    assert len(send.requests) == 3  # AS-REQ, AS-REQ with PA-ENC-TIMESTAMP, TGS-REQ
    assert ticket_for(cred, "HTTP/server.test.local", send) is first
    # A new handle for the same identity (what pywin32's ClientAuth does per connection).
    again = password_cred(mit_realm, mit_config)
    assert ticket_for(again, "HTTP/server.test.local", send) is first
    assert len(send.requests) == 3
    ticket_for(again, "host/server.test.local", send)
    assert len(send.requests) == 4  # the TGT is shared too: one TGS-REQ, no AS


def test_forced_tcp(mit_realm: MitRealm) -> None:
    path = mit_realm.write_krb5_conf(mit_realm.directory / "krb5-tcp.conf", udp_preference_limit=1)
    config = Krb5Config.load([str(path)])
    send = Counter()
    cred = password_cred(mit_realm, config)
    ticket_for(cred, "HTTP/server.test.local", send)
    assert all(r.udp_preference_limit == 1 for r in send.requests)


def test_forwarded_tgt(mit_realm: MitRealm, mit_config: Krb5Config) -> None:
    from opensspi.packages.kerberos.asn1 import TicketFlags

    cred = password_cred(mit_realm, mit_config)
    fwd = run_exchange(forwarded_tgt(cred, DEFAULT_ENVIRONMENT), Counter())
    assert fwd.flags & TicketFlags.FORWARDED and fwd.is_tgt


def test_mit_kinit_ccache_used_by_us(mit_realm: MitRealm, mit_config: Krb5Config,
                                     tmp_path: Path) -> None:
    ccache = mit_realm.kinit("alice", ccache=tmp_path / "kinit-cc")
    send = Counter()
    cred = acquire_credentials(
        None, CredentialUse.OUTBOUND,
        KerberosAuthData(environ=mit_realm.env(ccache=ccache), config=mit_config),
        DEFAULT_ENVIRONMENT,
    )
    assert cred.source == CredentialSource.CCACHE and cred.principal_name == "alice@TEST.LOCAL"
    assert cred.expiry is not None
    ticket = ticket_for(cred, "HTTP@e19.test.local", send)
    assert len(send.requests) == 1 and ticket.session_key.enctype == 19  # TGS only, no AS
    open_with_keytab(mit_realm, ticket)


def test_ktadd_keytab_as_client_keytab(mit_realm: MitRealm, mit_config: Krb5Config,
                                       tmp_path: Path) -> None:
    keytab = mit_realm.keytab_for("bob", path=tmp_path / "bob.keytab")
    environ = mit_realm.env(ccache=tmp_path / "no-such-ccache")
    environ["KRB5_CLIENT_KTNAME"] = f"FILE:{keytab}"
    cred = acquire_credentials(
        "bob", CredentialUse.OUTBOUND, KerberosAuthData(environ=environ, config=mit_config),
        DEFAULT_ENVIRONMENT,
    )
    assert cred.source == CredentialSource.KEYTAB
    ticket = ticket_for(cred, "HTTP/server.test.local")
    assert str(ticket.client) == "bob@TEST.LOCAL"


def test_opt_in_ccache_write_read_by_mit(mit_realm: MitRealm, mit_config: Krb5Config,
                                         tmp_path: Path) -> None:
    path = tmp_path / "ours"
    cred = password_cred(mit_realm, mit_config, write_ccache=f"FILE:{path}")
    ticket_for(cred, "HTTP/server.test.local")
    env = mit_realm.env(ccache=path)
    klist = subprocess.run(
        ["klist", "-c", f"FILE:{path}"], capture_output=True, text=True,
        env={**os.environ, **env}, timeout=30, check=True,
    )
    assert "alice@TEST.LOCAL" in klist.stdout
    assert "krbtgt/TEST.LOCAL@TEST.LOCAL" in klist.stdout
    assert "HTTP/server.test.local@TEST.LOCAL" in klist.stdout
    # MIT uses our TGT for a TGS exchange of its own.
    assert "kvno = " in mit_realm.service_ticket("host/server.test.local", path)


# ---------------------------------------------------------------------------------------------
# MIT: errors
# ---------------------------------------------------------------------------------------------


def test_wrong_password(mit_realm: MitRealm, mit_config: Krb5Config) -> None:
    cred = password_cred(mit_realm, mit_config, password="not-her-password")
    with pytest.raises(LogonDenied) as info:
        ticket_for(cred, "HTTP/server.test.local")
    assert info.value.status == 0x8009030C and "not-her-password" not in str(info.value)


def test_unknown_user(mit_realm: MitRealm, mit_config: Krb5Config) -> None:
    cred = password_cred(mit_realm, mit_config, user="nosuchuser", password="x")
    with pytest.raises(LogonDenied, match=r"nosuchuser@TEST\.LOCAL") as info:
        ticket_for(cred, "HTTP/server.test.local")
    assert info.value.status == 0x8009030C and isinstance(info.value, KdcLogonDenied)
    assert info.value.krb_error == 6


def test_unknown_spn(mit_realm: MitRealm, mit_config: Krb5Config) -> None:
    cred = password_cred(mit_realm, mit_config)
    with pytest.raises(TargetUnknown, match=r"HTTP/nosuch\.test\.local@TEST\.LOCAL") as info:
        ticket_for(cred, "HTTP/nosuch.test.local")
    assert info.value.status == 0x80090303


def test_expired_and_disabled_users(mit_realm: MitRealm, mit_config: Krb5Config) -> None:
    with pytest.raises(PasswordExpired) as expired:
        ticket_for(password_cred(mit_realm, mit_config, "expired"), "HTTP/server.test.local")
    assert expired.value.status == 0x8009030C and expired.value.krb_error == 23
    with pytest.raises(LogonDenied) as disabled:
        ticket_for(password_cred(mit_realm, mit_config, "disabled"), "HTTP/server.test.local")
    assert disabled.value.status == 0x8009030C
    assert disabled.value.krb_error == 18  # type: ignore[attr-defined]


def test_skewed_clock(mit_realm: MitRealm, mit_config: Krb5Config) -> None:
    def ahead() -> datetime:
        return datetime.now(timezone.utc) + timedelta(hours=1)

    env = Environment(now=ahead)
    strict = dataclasses.replace(mit_config, kdc_timesync=False)
    cred = password_cred(mit_realm, strict, env=env)
    with pytest.raises(TimeSkew) as info:
        ticket_for(cred, "HTTP/server.test.local", env=env)
    assert info.value.status == 0x80090324
    assert cred.kdc_time_offset is not None
    assert abs(cred.kdc_time_offset + timedelta(hours=1)) < timedelta(minutes=1)
    # kdc_timesync (MIT's default): the same clock gets tickets, and keeps the offset.
    synced = password_cred(mit_realm, mit_config, env=env)
    assert ticket_for(synced, "HTTP/server.test.local", env=env) is not None
    assert synced.kdc_time_offset is not None
    assert abs(synced.kdc_time_offset + timedelta(hours=1)) < timedelta(minutes=1)


def test_no_kdc_listening(mit_realm: MitRealm, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on (TCP; UDP is refused too)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = mit_realm.write_krb5_conf(tmp_path / "dead.conf", kdc_timeout=1, max_retries=1)
    text = path.read_text().replace(f"127.0.0.1:{mit_realm.kdc_port}", f"127.0.0.1:{port}")
    path.write_text(text)
    config = Krb5Config.load([str(path)])
    cred = password_cred(mit_realm, config)
    start = time.monotonic()
    with pytest.raises(NoAuthenticatingAuthority) as info:
        ticket_for(cred, "HTTP/server.test.local")
    assert time.monotonic() - start < 5
    assert info.value.status == 0x80090311 and "TEST.LOCAL" in str(info.value)


def test_no_credentials_anywhere(mit_realm: MitRealm, mit_config: Krb5Config,
                                 tmp_path: Path) -> None:
    environ = mit_realm.env(ccache=tmp_path / "none")
    environ["KRB5_CLIENT_KTNAME"] = f"FILE:{tmp_path}/none.keytab"
    with pytest.raises(NoCredentials) as info:
        acquire_credentials(None, CredentialUse.OUTBOUND,
                            KerberosAuthData(environ=environ, config=mit_config),
                            DEFAULT_ENVIRONMENT)
    assert str(tmp_path / "none") in str(info.value) and info.value.status == 0x8009030E


# ---------------------------------------------------------------------------------------------
# Heimdal
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def heimdal_config(heimdal_realm: HeimdalRealm) -> Krb5Config:
    return Krb5Config.load([str(heimdal_realm.krb5_conf)])


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_heimdal_as_and_tgs(heimdal_realm: HeimdalRealm, heimdal_config: Krb5Config,
                            user: str) -> None:
    send = Counter()
    cred = password_cred(heimdal_realm, heimdal_config, user)
    ticket = ticket_for(cred, "HTTP/server.heimdal.local", send)
    assert len(send.requests) == 3
    assert str(ticket.client) == f"{user}@HEIMDAL.LOCAL"
    assert str(ticket.server) == "HTTP/server.heimdal.local@HEIMDAL.LOCAL"
    assert ticket.session_key.enctype in (17, 18)
    open_with_keytab(heimdal_realm, ticket)
    assert ticket_for(cred, "host@server.heimdal.local", send).server.components[0] == "host"
    assert len(send.requests) == 4


def test_heimdal_errors(heimdal_realm: HeimdalRealm, heimdal_config: Krb5Config) -> None:
    with pytest.raises(LogonDenied):
        ticket_for(password_cred(heimdal_realm, heimdal_config, password="wrong"),
                   "HTTP/server.heimdal.local")
    with pytest.raises(TargetUnknown):
        ticket_for(password_cred(heimdal_realm, heimdal_config), "HTTP/nosuch.heimdal.local")
