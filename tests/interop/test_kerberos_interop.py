"""opensspi's Kerberos contexts against MIT krb5: a real KDC and python-gssapi on both sides.

Our client gets its tickets from the MIT KDC (AS with preauth, TGS) and authenticates to MIT's
GSS acceptor; MIT's initiator authenticates to our acceptor (keytab from kadmin.local ktadd).
Each test moves messages both ways (Wrap sealed and integrity-only, MIC).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import opensspi
from interop.peers.gss import GssKrb5Factory
from interop.peers.mit_kdc import MitRealm
from opensspi import AscRet, Environment, IscReq, IscRet
from opensspi.errors import (
    LogonDenied,
    MessageAltered,
    NoAuthenticatingAuthority,
    OutOfSequence,
    SspiError,
    TargetUnknown,
    TimeSkew,
)
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import DEFAULT_ENVIRONMENT, AuthIdentity

pytestmark = pytest.mark.interop

FLAGS = (IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.REPLAY_DETECT
         | IscReq.SEQUENCE_DETECT)


@pytest.fixture
def config(mit_realm: MitRealm) -> Krb5Config:
    return Krb5Config.load([str(mit_realm.krb5_conf)])


@pytest.fixture(autouse=True)
def _fresh_ticket_caches() -> Iterator[None]:
    TicketCache.forget_all()
    yield
    TicketCache.forget_all()


def _alice(mit_realm: MitRealm, config: Krb5Config, **kw: Any) -> KerberosAuthData:
    identity = AuthIdentity("alice", mit_realm.realm, mit_realm.passwords["alice"])
    return KerberosAuthData(identity=identity, config=config, **kw)


def _pump(client: opensspi.Context, acceptor: Any) -> int:
    """Run our client against a GSS acceptor; return the number of legs."""
    token = client.step()
    legs = 0
    while token is not None:
        legs += 1
        reply = acceptor.step(token)
        if reply is None:
            break
        legs += 1
        token = client.step(reply)
    return legs


def _messages_both_ways(ours: opensspi.Context, peer: Any) -> None:
    for i in range(3):
        assert peer.unwrap(ours.wrap(b"to mit %d" % i)) == b"to mit %d" % i
        assert ours.unwrap(peer.wrap(b"from mit %d" % i, True)) == b"from mit %d" % i
    assert peer.unwrap(ours.wrap(b"integrity only", encrypt=False)) == b"integrity only"
    assert ours.unwrap(peer.wrap(b"clear from mit", False)) == b"clear from mit"
    peer.verify_mic(b"signed by us", ours.sign(b"signed by us"))
    ours.verify(b"signed by mit", peer.get_mic(b"signed by mit"))


def test_client_to_mit_acceptor_mutual(mit_realm: MitRealm, config: Krb5Config,
                                       gss_krb5: GssKrb5Factory) -> None:
    acceptor = gss_krb5("accept")
    client = opensspi.client("Kerberos", target="HTTP/server.test.local", flags=FLAGS,
                             auth_data=_alice(mit_realm, config))
    assert _pump(client, acceptor) == 2
    info = acceptor.info()
    assert info["initiator_name"] == "alice@TEST.LOCAL"
    assert info["session_key"] == client.session_key
    flags = IscRet(client.flags)
    assert flags & IscRet.MUTUAL_AUTH and flags & IscRet.CONFIDENTIALITY
    assert not flags & IscRet.DELEGATE
    assert client.expiry is not None
    _messages_both_ways(client, acceptor)


@pytest.mark.parametrize("enctype", [17, 18, 19, 20, 23])
def test_every_enctype(mit_realm: MitRealm, config: Krb5Config, gss_krb5: GssKrb5Factory,
                       enctype: int) -> None:
    acceptor = gss_krb5("accept")
    client = opensspi.client(
        "Kerberos", target=f"HTTP/e{enctype}.test.local", flags=FLAGS,
        auth_data=_alice(mit_realm, config, allow_rc4=enctype == 23))
    _pump(client, acceptor)
    info = acceptor.info()
    assert info["complete"] and info["session_key"] == client.session_key
    assert info["session_key_enctype"] == enctype
    _messages_both_ways(client, acceptor)


def test_rc4_service_refused_unless_allowed(mit_realm: MitRealm, config: Krb5Config) -> None:
    # The test realm's krb5.conf says allow_rc4 = true; the typed option overrides it.
    client = opensspi.client("Kerberos", target="HTTP/e23.test.local", flags=FLAGS,
                             auth_data=_alice(mit_realm, config, allow_rc4=False))
    with pytest.raises(SspiError) as info:
        client.step()
    assert info.value.status == 0x80090342


def test_without_mutual_one_leg(mit_realm: MitRealm, config: Krb5Config,
                                gss_krb5: GssKrb5Factory) -> None:
    acceptor = gss_krb5("accept", flags=("integ", "conf"))
    client = opensspi.client("Kerberos", target="HTTP/server.test.local",
                             flags=IscReq.CONFIDENTIALITY | IscReq.INTEGRITY,
                             auth_data=_alice(mit_realm, config))
    token = client.step()
    assert client.complete and client.status == opensspi.SecStatus.SEC_E_OK
    assert acceptor.step(token) is None
    assert not client.flags & IscRet.MUTUAL_AUTH
    _messages_both_ways(client, acceptor)


def test_delegation_gives_the_acceptor_a_usable_tgt(
    mit_realm: MitRealm, config: Krb5Config, gss_krb5: GssKrb5Factory
) -> None:
    acceptor = gss_krb5("accept", flags=("integ", "conf", "mutual", "deleg"))
    client = opensspi.client("Kerberos", target="HTTP/server.test.local",
                             flags=FLAGS | IscReq.DELEGATE, auth_data=_alice(mit_realm, config))
    _pump(client, acceptor)
    assert client.flags & IscRet.DELEGATE
    info = acceptor.info()
    assert info["delegated"] and info["delegated_name"] == "alice@TEST.LOCAL"
    used = acceptor.use_delegated("host@server.test.local")
    assert used["issued"] and used["accepted"]


def test_dce_style_three_legs(mit_realm: MitRealm, config: Krb5Config,
                              gss_krb5: GssKrb5Factory) -> None:
    acceptor = gss_krb5("accept", flags=("integ", "conf", "mutual", "dce"))
    client = opensspi.client("Kerberos", target="HTTP/server.test.local",
                             flags=FLAGS | IscReq.USE_DCE_STYLE,
                             auth_data=_alice(mit_realm, config))
    ap_req = client.step()
    assert ap_req is not None and ap_req[0] == 0x6E  # unframed AP-REQ (MS-KILE 3.4.5.1)
    ap_rep = acceptor.step(ap_req)
    assert ap_rep is not None
    third = client.step(ap_rep)
    assert third is not None and third[0] == 0x6F and client.complete
    assert acceptor.step(third) is None and acceptor.info()["complete"]
    assert client.flags & IscRet.USED_DCE_STYLE
    acceptor.verify_mic(b"dce", client.sign(b"dce"))
    client.verify(b"dce back", acceptor.get_mic(b"dce back"))


def test_mit_initiator_to_our_acceptor(mit_realm: MitRealm, config: Krb5Config,
                                       gss_krb5: GssKrb5Factory) -> None:
    initiator = gss_krb5("initiate", target="HTTP@server.test.local",
                         flags=("integ", "conf", "mutual", "replay", "sequence"))
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(mit_realm.keytab), config=config))
    token = initiator.step(None)
    while token is not None:
        reply = server.step(token)
        token = initiator.step(reply) if reply is not None else None
    assert server.complete and initiator.info()["complete"]
    assert server.client_name == "alice@TEST.LOCAL"
    assert initiator.info()["session_key"] == server.session_key
    assert server.flags & AscRet.MUTUAL_AUTH
    _messages_both_ways(server, initiator)
    # a replayed AP-REQ is refused by the replay cache
    replayer = gss_krb5("initiate", target="HTTP@server.test.local")
    first = replayer.step(None)
    opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(mit_realm.keytab), config=config)).step(first)
    with pytest.raises(OutOfSequence):
        opensspi.server("Kerberos", auth_data=KerberosAuthData(
            acceptor_keytab=str(mit_realm.keytab), config=config)).step(first)


def test_mit_delegates_to_our_acceptor_and_we_use_the_tgt(
    mit_realm: MitRealm, config: Krb5Config, gss_krb5: GssKrb5Factory
) -> None:
    initiator = gss_krb5("initiate", target="HTTP@server.test.local",
                         flags=("integ", "conf", "mutual", "deleg"))
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(mit_realm.keytab), config=config))
    reply = server.step(initiator.step(None))
    initiator.step(reply)
    assert server.flags & AscRet.DELEGATE
    delegated = server.context.delegated_credential  # type: ignore[attr-defined]
    assert delegated is not None
    onward = opensspi.client("Kerberos", target="host/server.test.local", flags=FLAGS,
                             credential=delegated)
    acceptor = gss_krb5("accept", acceptor_name="host@server.test.local")
    _pump(onward, acceptor)
    assert acceptor.info()["initiator_name"] == "alice@TEST.LOCAL"


def test_our_client_to_our_acceptor_with_mit_tickets(
    mit_realm: MitRealm, config: Krb5Config
) -> None:
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(mit_realm.keytab), config=config))
    client = opensspi.client("Kerberos", target="HTTP/server.test.local", flags=FLAGS,
                             auth_data=_alice(mit_realm, config))
    reply = server.step(client.step())
    assert client.step(reply) is None and client.complete and server.complete
    assert client.session_key == server.session_key
    for i in range(3):
        assert server.unwrap(client.wrap(b"x%d" % i)) == b"x%d" % i
        assert client.unwrap(server.wrap(b"y%d" % i)) == b"y%d" % i
    sealed = client.wrap(b"replay me")
    assert server.unwrap(sealed) == b"replay me"
    with pytest.raises(OutOfSequence):
        server.unwrap(sealed)
    tampered = bytearray(client.wrap(b"tamper"))
    tampered[-1] ^= 1
    with pytest.raises(MessageAltered):
        server.unwrap(bytes(tampered))


def test_kinit_ccache_and_client_keytab(mit_realm: MitRealm, config: Krb5Config,
                                        gss_krb5: GssKrb5Factory, tmp_path: Path) -> None:
    ccache = mit_realm.kinit("bob", ccache=tmp_path / "bob.ccache")
    acceptor = gss_krb5("accept")
    client = opensspi.client("Kerberos", target="HTTP/server.test.local", flags=FLAGS,
                             auth_data=KerberosAuthData(ccache=f"FILE:{ccache}", config=config))
    _pump(client, acceptor)
    assert acceptor.info()["initiator_name"] == "bob@TEST.LOCAL"
    keytab = mit_realm.keytab_for("alice", path=tmp_path / "alice.keytab")
    acceptor = gss_krb5("accept")
    client = opensspi.client("Kerberos", target="HTTP/server.test.local", flags=FLAGS,
                             auth_data=KerberosAuthData(client_keytab=str(keytab),
                                                        config=config))
    _pump(client, acceptor)
    assert acceptor.info()["initiator_name"] == "alice@TEST.LOCAL"


def test_second_context_makes_no_kdc_round_trip(
    mit_realm: MitRealm, config: Krb5Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opensspi.sspi as layer

    sent: list[str] = []
    real = layer.send_to_kdc

    def counting(data: bytes, *args: Any, **kw: Any) -> bytes:
        sent.append(kw.get("realm") or "")
        return real(data, *args, **kw)

    monkeypatch.setattr(layer, "send_to_kdc", counting)
    for _ in range(2):  # two credential handles for the same identity, as pywin32 code does
        cred = opensspi.credentials("Kerberos", auth_data=_alice(mit_realm, config))
        opensspi.client("Kerberos", target="HTTP/server.test.local", flags=FLAGS,
                        credential=cred).step()
        first = len(sent)
    assert first >= 3  # AS (preauth required, then with PA-ENC-TIMESTAMP) and TGS
    assert len(sent) == first  # the second handle reused the identity's tickets


def test_wrong_password_and_unknown_spn(mit_realm: MitRealm, config: Krb5Config) -> None:
    bad = KerberosAuthData(identity=AuthIdentity("alice", mit_realm.realm, "Wr0ng-Secret!"),
                           config=config)
    with pytest.raises(LogonDenied) as info:
        opensspi.client("Kerberos", target="HTTP/server.test.local", auth_data=bad).step()
    assert info.value.status == 0x8009030C and "Wr0ng-Secret!" not in str(info.value)
    with pytest.raises(TargetUnknown) as unknown:
        opensspi.client("Kerberos", target="HTTP/nowhere.test.local",
                        auth_data=_alice(mit_realm, config)).step()
    assert unknown.value.status == 0x80090303 and "nowhere.test.local" in str(unknown.value)


def test_no_kdc_listening(config: Krb5Config, mit_realm: MitRealm, tmp_path: Path) -> None:
    conf = tmp_path / "dead.conf"
    conf.write_text(
        "[libdefaults]\n default_realm = DEAD.LOCAL\n dns_lookup_kdc = false\n"
        " kdc_timeout = 1\n max_retries = 1\n"
        "[realms]\n DEAD.LOCAL = {\n  kdc = 127.0.0.1:9\n }\n")
    auth = KerberosAuthData(identity=AuthIdentity("alice", "DEAD.LOCAL", "x"),
                            config=Krb5Config.load([str(conf)]))
    start = time.monotonic()
    with pytest.raises(NoAuthenticatingAuthority) as info:
        opensspi.client("Kerberos", target="HTTP/server.dead.local", auth_data=auth).step()
    assert time.monotonic() - start < 15
    assert info.value.status == 0x80090311 and "DEAD.LOCAL" in str(info.value)


def test_skewed_clock(mit_realm: MitRealm, config: Krb5Config) -> None:
    skewed = Environment(now=lambda: DEFAULT_ENVIRONMENT.now() + timedelta(hours=1))
    strict = dataclasses.replace(config, kdc_timesync=False)
    with pytest.raises(TimeSkew) as info:
        opensspi.client("Kerberos", target="HTTP/server.test.local",
                        auth_data=_alice(mit_realm, strict), env=skewed).step()
    assert info.value.status == 0x80090324


def test_skewed_clock_with_kdc_timesync(mit_realm: MitRealm, config: Krb5Config) -> None:
    # MIT's default kdc_timesync: the AS exchange is retried with the KDC's time and every
    # later timestamp (the AP-REQ authenticator too) uses the offset, so an acceptor with a
    # correct clock accepts the client whose own clock is an hour ahead.
    assert config.kdc_timesync
    skewed = Environment(now=lambda: DEFAULT_ENVIRONMENT.now() + timedelta(hours=1))
    client = opensspi.client("Kerberos", target="HTTP/server.test.local",
                             auth_data=_alice(mit_realm, config), env=skewed)
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(mit_realm.keytab), config=config))
    token = client.step()
    assert token is not None
    server.step(token)
    assert server.complete and server.client_name == f"alice@{mit_realm.realm}"


def test_dce_style_mit_initiator_to_our_acceptor(
    mit_realm: MitRealm, config: Krb5Config, gss_krb5: GssKrb5Factory
) -> None:
    initiator = gss_krb5("initiate", target="HTTP@server.test.local",
                         flags=("integ", "conf", "mutual", "dce"))
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(mit_realm.keytab), config=config))
    ap_req = initiator.step(None)
    ap_rep = server.step(ap_req)
    assert ap_rep is not None and ap_rep[0] == 0x6F and not server.complete
    third = initiator.step(ap_rep)
    assert third is not None and server.step(third) is None and server.complete
    assert server.flags & AscRet.USED_DCE_STYLE
    server.verify(b"dce mic", initiator.get_mic(b"dce mic"))
    initiator.verify_mic(b"dce mic back", server.sign(b"dce mic back"))


def test_encrypt_message_layout_is_mit_wrap_iov(
    mit_realm: MitRealm, config: Krb5Config, gss_krb5: GssKrb5Factory
) -> None:
    """SSPI's TOKEN|DATA|PADDING is gss_wrap_iov(HEADER, DATA, PADDING), both directions."""
    from opensspi.constants import SECQOP_WRAP_NO_ENCRYPT
    from opensspi.provider import MessagePart

    acceptor = gss_krb5("accept")
    client = opensspi.client("Kerberos", target="HTTP/server.test.local", flags=FLAGS,
                             auth_data=_alice(mit_realm, config))
    _pump(client, acceptor)
    ctx = client.context
    sealed = ctx.encrypt((MessagePart(b"sealed in place"),), 0, None)
    assert len(sealed.token) == ctx.sizes().security_trailer == 60  # AES-SHA1: MS-KILE RRC 28
    assert sealed.parts[0] != b"sealed in place" and len(sealed.parts[0]) == 15
    assert acceptor.unwrap_iov(sealed.token, sealed.parts[0], sealed.padding) == (
        b"sealed in place", True)
    clear = ctx.encrypt((MessagePart(b"signed only"),), SECQOP_WRAP_NO_ENCRYPT, None)
    assert clear.parts[0] == b"signed only" and len(clear.token) == 28
    assert acceptor.unwrap_iov(clear.token, clear.parts[0], clear.padding) == (
        b"signed only", False)
    header, data, _ = acceptor.wrap_iov(b"from mit in place", True)
    opened = ctx.decrypt(header, (MessagePart(data),), None)
    assert opened.parts == (b"from mit in place",) and opened.qop == 0
    header, data, _ = acceptor.wrap_iov(b"mit integrity", False)
    opened = ctx.decrypt(header, (MessagePart(data),), None)
    assert opened.parts == (b"mit integrity",) and opened.qop == SECQOP_WRAP_NO_ENCRYPT


def test_attributes_through_the_windows_functions(mit_realm: MitRealm,
                                                  config: Krb5Config) -> None:
    from opensspi import sspi
    from opensspi.attributes import Flags, Lifespan, Names, NativeNames, SessionKey
    from opensspi.buffers import SecBuffer, SecBufferDesc
    from opensspi.constants import CredentialUse, SecBufferType, SecPkgAttr, SecStatus
    from opensspi.provider import PackageInfo, Sizes

    _, ccred, cred_expiry = sspi.AcquireCredentialsHandle(
        None, "Kerberos", CredentialUse.OUTBOUND, None, _alice(mit_realm, config))
    _, scred, _ = sspi.AcquireCredentialsHandle(
        None, "Kerberos", CredentialUse.INBOUND, None,
        KerberosAuthData(acceptor_keytab=str(mit_realm.keytab), config=config))
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48000)])
    isc = sspi.InitializeSecurityContext(ccred, None, "HTTP@server.test.local", FLAGS, 0, 0,
                                         None, 0, client, out)
    assert isc.status == SecStatus.SEC_I_CONTINUE_NEEDED and isc.expiry is not None
    reply = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48000)])
    asc = sspi.AcceptSecurityContext(scred, None, SecBufferDesc([out[0]]), 0, 0, server, reply)
    assert asc.status == SecStatus.SEC_E_OK
    isc = sspi.InitializeSecurityContext(ccred, client, "HTTP@server.test.local", FLAGS, 0, 0,
                                         SecBufferDesc([reply[0]]), 0, None, out)
    assert isc.status == SecStatus.SEC_E_OK
    assert IscRet(isc.context_attr) & IscRet.MUTUAL_AUTH
    sizes = sspi.QueryContextAttributes(client, SecPkgAttr.SIZES)
    assert sizes == Sizes(48000, 28, 1, 60)
    assert sspi.QueryContextAttributes(server, SecPkgAttr.NAMES) == Names("alice@TEST.LOCAL")
    native = sspi.QueryContextAttributes(client, SecPkgAttr.NATIVE_NAMES)
    assert isinstance(native, NativeNames)
    assert native.server_name == "HTTP/server.test.local@TEST.LOCAL"
    key_c = sspi.QueryContextAttributes(client, SecPkgAttr.SESSION_KEY)
    key_s = sspi.QueryContextAttributes(server, SecPkgAttr.SESSION_KEY)
    assert isinstance(key_c, SessionKey) and key_c == key_s and len(key_c.session_key) == 32
    life = sspi.QueryContextAttributes(client, SecPkgAttr.LIFESPAN)
    assert isinstance(life, Lifespan) and life.expiry == isc.expiry
    assert cred_expiry is None or cred_expiry >= isc.expiry  # credential outlives the ticket
    info = sspi.QueryContextAttributes(client, SecPkgAttr.PACKAGE_INFO)
    assert isinstance(info, PackageInfo) and info.name == "Kerberos" and info.rpcid == 16
    flags = sspi.QueryContextAttributes(client, SecPkgAttr.FLAGS)
    assert isinstance(flags, Flags) and flags.flags == int(isc.context_attr)


def test_asyncio_driver(mit_realm: MitRealm, config: Krb5Config) -> None:
    import asyncio

    async def handshake() -> tuple[opensspi.Context, opensspi.Context]:
        client = opensspi.client("Kerberos", target="HTTP/server.test.local", flags=FLAGS,
                                 auth_data=_alice(mit_realm, config))
        server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
            acceptor_keytab=str(mit_realm.keytab), config=config))
        token = await client.step_async()  # AS and TGS over the asyncio transport
        await client.step_async(await server.step_async(token))
        return client, server

    client, server = asyncio.run(handshake())
    assert client.complete and server.complete
    assert server.unwrap(client.wrap(b"async")) == b"async"


@pytest.mark.parametrize("target", ["HTTP/server.test.local", "HTTP@server.test.local",
                                    "HTTP/server.test.local@TEST.LOCAL"])
def test_spn_forms(mit_realm: MitRealm, config: Krb5Config, gss_krb5: GssKrb5Factory,
                   target: str) -> None:
    acceptor = gss_krb5("accept")
    client = opensspi.client("Kerberos", target=target, flags=FLAGS,
                             auth_data=_alice(mit_realm, config))
    _pump(client, acceptor)
    assert acceptor.info()["target_name"] == "HTTP/server.test.local@TEST.LOCAL"


def test_heimdal_tickets_to_mit_acceptor(heimdal_realm: Any,
                                         gss_krb5_heimdal: GssKrb5Factory) -> None:
    """A second, independent KDC: opensspi's AS/TGS against Heimdal, then MIT's acceptor."""
    heimdal_config = Krb5Config.load([str(heimdal_realm.krb5_conf)])
    acceptor = gss_krb5_heimdal("accept")
    auth = KerberosAuthData(identity=AuthIdentity("alice", heimdal_realm.realm,
                                                  heimdal_realm.passwords["alice"]),
                            config=heimdal_config)
    client = opensspi.client("Kerberos", target="HTTP/server.heimdal.local", flags=FLAGS,
                             auth_data=auth)
    _pump(client, acceptor)
    assert acceptor.info()["initiator_name"] == "alice@HEIMDAL.LOCAL"
    _messages_both_ways(client, acceptor)


def test_readme_examples(mit_realm: MitRealm, monkeypatch: pytest.MonkeyPatch,
                         tmp_path: Path) -> None:
    """The README's Kerberos snippets, as written: settings come from the environment."""
    for name, value in mit_realm.env(ccache=mit_realm.kinit("bob", ccache=tmp_path / "cc")).items():
        monkeypatch.setenv(name, value)
    server = opensspi.server("Kerberos")  # KRB5_KTNAME
    sso = opensspi.client("Kerberos", target="HTTP/server.test.local",
                          flags=IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY)  # KRB5CCNAME
    assert sso.step(server.step(sso.step())) is None
    assert server.client_name == "bob@TEST.LOCAL"
    server = opensspi.server("Kerberos")
    password = opensspi.client("Kerberos", user="alice", domain="TEST.LOCAL",
                               password=mit_realm.passwords["alice"],
                               target="HTTP/server.test.local")
    server.step(password.step())
    assert server.client_name == "alice@TEST.LOCAL"
