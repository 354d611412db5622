"""Negotiate against real SPNEGO peers started on 127.0.0.1:

- MIT's SPNEGO acceptor (python-gssapi, default acceptor credentials: the realm's keytab) with
  gss-ntlmssp registered behind it: our initiator gets Kerberos when the KDC knows the SPN and
  NTLM when it does not, with wrap and MIC both ways (NTLM's MS-SPNG RC4 reset included);
- MIT's SPNEGO initiator (krb5, and gss-ntlmssp) against our acceptor;
- pyspnego's own SPNEGO (``protocol="negotiate"``, ``NegotiateOptions.use_negotiate``) both ways.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import opensspi
from interop.peers.gss import (
    INSTALL_HINT,
    KRB5_OID,
    NTLMSSP_OID,
    GssKrb5Factory,
    GssNtlmFactory,
    find_gssntlmssp_so,
    have_gssapi_module,
)
from interop.peers.mit_kdc import MitRealm
from opensspi.constants import IscReq, IscRet
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.packages.negotiate import NegotiateAuthData
from opensspi.packages.negotiate import asn1 as n
from opensspi.provider import AuthIdentity
from support.require import require_peer

pytestmark = pytest.mark.interop

FLAGS = (IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.REPLAY_DETECT
         | IscReq.SEQUENCE_DETECT)


@pytest.fixture(autouse=True)
def _fresh_ticket_caches() -> Iterator[None]:
    TicketCache.forget_all()
    yield
    TicketCache.forget_all()


@pytest.fixture
def config(mit_realm: MitRealm) -> Krb5Config:
    return Krb5Config.load([str(mit_realm.krb5_conf)])


@pytest.fixture
def spnego_mit(mit_realm: MitRealm, tmp_path: Path) -> Iterator[GssKrb5Factory]:
    """MIT GSSAPI peers against the MIT realm, with gss-ntlmssp registered as a mechanism and an
    NTLM user file holding alice (TEST.LOCAL and any domain)."""
    so_path = find_gssntlmssp_so()
    require_peer(so_path is not None, "gss-ntlmssp (gssntlmssp.so)", INSTALL_HINT)
    require_peer(have_gssapi_module(), "python module 'gssapi'", INSTALL_HINT)
    password = mit_realm.passwords["alice"]
    users = tmp_path / "ntlm-users"
    users.write_text(f"{mit_realm.realm}:alice:{password}\n:alice:{password}\n", encoding="utf-8")
    factory = GssKrb5Factory(tmp_path / "gss-spnego", mit_realm, ntlm_so=so_path,
                             extra_env={"NTLM_USER_FILE": str(users)})
    try:
        yield factory
    finally:
        factory.close_all()


def _alice(mit_realm: MitRealm, config: Krb5Config, **kw: Any) -> NegotiateAuthData:
    identity = AuthIdentity("alice", mit_realm.realm, mit_realm.passwords["alice"], **kw)
    return NegotiateAuthData(identity=identity,
                             kerberos=KerberosAuthData(identity=identity, config=config))


def _pump(client: opensspi.Context, acceptor: Any) -> list[bytes]:
    """Our initiator against a GSS acceptor; return the tokens in order."""
    tokens: list[bytes] = []
    token = client.step()
    while token is not None:
        tokens.append(token)
        reply = acceptor.step(token)
        if reply is None:
            break
        tokens.append(reply)
        token = client.step(reply)
    assert client.complete
    return tokens


def _accept(server: opensspi.Context, initiator: Any) -> list[bytes]:
    """A GSS initiator against our acceptor; return the tokens in order."""
    tokens: list[bytes] = []
    token = initiator.step(None)
    while token is not None:
        tokens.append(token)
        reply = server.step(token)
        if reply is None:
            break
        tokens.append(reply)
        token = initiator.step(reply)
    assert server.complete
    return tokens


def _messages_both_ways(ours: opensspi.Context, peer: Any) -> None:
    for i in range(3):
        assert peer.unwrap(ours.wrap(b"to mit %d" % i)) == b"to mit %d" % i
        assert ours.unwrap(peer.wrap(b"from mit %d" % i, True)) == b"from mit %d" % i
    peer.verify_mic(b"signed by us", ours.sign(b"signed by us"))
    ours.verify(b"signed by mit", peer.get_mic(b"signed by mit"))


@pytest.mark.parametrize("mutual", [True, False], ids=["mutual", "optimistic"])
def test_our_initiator_gets_kerberos_from_mit_spnego(
    mit_realm: MitRealm, config: Krb5Config, spnego_mit: GssKrb5Factory, mutual: bool
) -> None:
    """With ISC_REQ_MUTUAL_AUTH the AP-REP comes back in MIT's accept-completed; without it
    our client completes on its first token (Windows' optimistic completion) and MIT's
    accept-completed, carrying no token, confirms it."""
    acceptor = spnego_mit("accept", mech="spnego", acceptor_mechs="default")
    flags = FLAGS | IscReq.MUTUAL_AUTH if mutual else FLAGS
    client = opensspi.client("Negotiate", target="HTTP/server.test.local", flags=flags,
                             auth_data=_alice(mit_realm, config))
    tokens = _pump(client, acceptor)
    first = n.decode_token(tokens[0])
    assert isinstance(first, n.NegTokenInit)
    assert first.mech_types == (n.MS_KRB5_OID, n.KRB5_OID, n.NTLMSSP_OID)
    reply = n.decode_token(tokens[1])
    assert isinstance(reply, n.NegTokenResp)
    assert reply.supported_mech == n.MS_KRB5_OID  # MIT answers with the OID listed first
    assert reply.neg_state is n.NegState.ACCEPT_COMPLETED
    assert (reply.response_token is not None) == mutual  # the AP-REP only when asked for
    info = acceptor.info()
    assert info["complete"] and info["initiator_name"] == "alice@TEST.LOCAL"
    assert info["mech"] in (KRB5_OID, n.MS_KRB5_OID)
    assert client.context.negotiated_info.name == "Kerberos"
    assert bool(IscRet(client.flags) & IscRet.MUTUAL_AUTH) == mutual
    assert info["session_key"] == client.session_key
    _messages_both_ways(client, acceptor)


def test_our_initiator_falls_back_to_ntlm_when_the_spn_is_unknown(
    mit_realm: MitRealm, config: Krb5Config, spnego_mit: GssKrb5Factory
) -> None:
    acceptor = spnego_mit("accept", mech="spnego", acceptor_mechs="default")
    client = opensspi.client("Negotiate", target="HTTP/nowhere.test.local", flags=FLAGS,
                             auth_data=_alice(mit_realm, config))
    tokens = _pump(client, acceptor)
    first = n.decode_token(tokens[0])
    assert isinstance(first, n.NegTokenInit) and first.mech_types == (n.NTLMSSP_OID,)
    # A.2: four legs; our AUTHENTICATE leg and MIT's accept-completed both carry a MIC.
    assert len(tokens) == 4
    auth, final = n.decode_token(tokens[2]), n.decode_token(tokens[3])
    assert isinstance(auth, n.NegTokenResp) and auth.mech_list_mic is not None
    assert isinstance(final, n.NegTokenResp) and final.mech_list_mic is not None
    assert final.neg_state is n.NegState.ACCEPT_COMPLETED
    assert acceptor.info()["mech"] == NTLMSSP_OID
    assert client.context.negotiated_info.name == "NTLM"
    _messages_both_ways(client, acceptor)


def test_package_list_without_ntlm_refuses_the_fallback(
    mit_realm: MitRealm, config: Krb5Config
) -> None:
    with pytest.raises(opensspi.SspiError) as info:
        opensspi.client("Negotiate", target="HTTP/nowhere.test.local", flags=FLAGS,
                        auth_data=_alice(mit_realm, config, package_list="!ntlm")).step()
    assert info.value.status == 0x80090303  # SEC_E_TARGET_UNKNOWN, as Kerberos reports it


def test_mit_spnego_initiator_to_our_acceptor_kerberos(
    mit_realm: MitRealm, config: Krb5Config, spnego_mit: GssKrb5Factory
) -> None:
    initiator = spnego_mit("initiate", mech="spnego", target="HTTP@server.test.local")
    server = opensspi.server("Negotiate", auth_data=NegotiateAuthData(
        kerberos=KerberosAuthData(acceptor_keytab=str(mit_realm.keytab), config=config),
        ntlm={"alice": mit_realm.passwords["alice"]}))
    tokens = _accept(server, initiator)
    first = n.decode_token(tokens[0])
    assert isinstance(first, n.NegTokenInit) and first.mech_types == (n.KRB5_OID,)
    assert server.context.negotiated_info.name == "Kerberos"
    assert server.client_name == "alice@TEST.LOCAL"
    assert initiator.info()["complete"]
    _messages_both_ways(server, initiator)


def test_mit_spnego_initiator_to_our_acceptor_ntlm(gss_ntlm: GssNtlmFactory) -> None:
    initiator = gss_ntlm("initiate", "spnego", user="alice", domain="TESTDOM",
                         password="Passw0rd!")
    server = opensspi.server("Negotiate", auth_data=NegotiateAuthData(
        kerberos=KerberosAuthData(acceptor_keytab="FILE:/nonexistent/keytab"),
        ntlm={"TESTDOM\\alice": "Passw0rd!"}))
    tokens = _accept(server, initiator)
    first = n.decode_token(tokens[0])
    assert isinstance(first, n.NegTokenInit) and first.mech_types[0] == n.NTLMSSP_OID
    assert server.context.negotiated_info.name == "NTLM"
    assert server.client_name == "TESTDOM\\alice"
    assert initiator.info()["complete"]
    _messages_both_ways(server, initiator)


def test_our_initiator_to_mit_spnego_with_ntlm_only(gss_ntlm: GssNtlmFactory) -> None:
    acceptor = gss_ntlm("accept", "spnego")
    client = opensspi.client("Negotiate", target="host/server.test.local", flags=FLAGS,
                             auth_data=AuthIdentity("alice", "TESTDOM", "Passw0rd!",
                                                    package_list="ntlm"))
    _pump(client, acceptor)
    assert acceptor.info()["mech"] == NTLMSSP_OID
    _messages_both_ways(client, acceptor)


# -- pyspnego's own SPNEGO ------------------------------------------------------------------


@pytest.fixture
def offline_krb5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No realm anywhere: Kerberos cannot start (for pyspnego and for us), without DNS."""
    conf = tmp_path / "offline-krb5.conf"
    conf.write_text("[libdefaults]\n default_realm = NONE.INVALID\n dns_lookup_kdc = false\n"
                    " dns_lookup_realm = false\n", encoding="utf-8")
    monkeypatch.setenv("KRB5_CONFIG", str(conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'none.ccache'}")
    monkeypatch.setenv("KRB5_KTNAME", f"FILE:{tmp_path / 'none.keytab'}")


def test_our_initiator_to_pyspnego_negotiate(
    pyspnego: ModuleType, ntlm_user_file: Path, offline_krb5: None
) -> None:
    server = pyspnego.server(protocol="negotiate",
                             options=pyspnego.NegotiateOptions.use_negotiate)
    client = opensspi.client("Negotiate", user="TESTDOM\\alice", password="Passw0rd!",
                             target="HTTP/server.test.local")
    token = client.step()
    while token is not None:
        token = server.step(token)
        if token is None:
            break
        token = client.step(token)
    assert client.complete and server.complete
    assert server.negotiated_protocol == "ntlm"
    assert client.context.negotiated_info.name == "NTLM"
    for i in range(3):
        assert server.unwrap(client.wrap(b"to pyspnego %d" % i)).data == b"to pyspnego %d" % i
        assert client.unwrap(server.wrap(b"from pyspnego %d" % i).data) == b"from pyspnego %d" % i
    server.verify(b"signed", client.sign(b"signed"))
    client.verify(b"signed back", server.sign(b"signed back"))


def test_pyspnego_negotiate_to_our_acceptor(
    pyspnego: ModuleType, ntlm_user_file: Path, offline_krb5: None
) -> None:
    client = pyspnego.client("TESTDOM\\alice", "Passw0rd!", hostname="server.test.local",
                             service="HTTP", protocol="negotiate",
                             options=pyspnego.NegotiateOptions.use_negotiate)
    server = opensspi.server("Negotiate")  # NTLM_USER_FILE; no keytab: NTLM only
    token = client.step()
    first = n.decode_token(token)
    assert isinstance(first, n.NegTokenInit)
    while token is not None:
        token = server.step(token)
        if token is None:
            break
        token = client.step(token)
    assert client.complete and server.complete
    assert server.client_name == "TESTDOM\\alice"
    for i in range(3):
        assert server.unwrap(client.wrap(b"to us %d" % i).data) == b"to us %d" % i
        assert client.unwrap(server.wrap(b"from us %d" % i)).data == b"from us %d" % i
    server.verify(b"signed", client.sign(b"signed"))
    client.verify(b"signed back", server.sign(b"signed back"))


def test_readme_snippets(mit_realm: MitRealm, tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Negotiate usage, with settings from the environment (KRB5_CONFIG,
    KRB5CCNAME, KRB5_KTNAME): a password identity, then no identity (the kinit ccache: Kerberos
    only, since NTLM has no single sign-on source), then a package list."""
    ccache = mit_realm.kinit("bob", ccache=tmp_path / "cc")
    for name, value in mit_realm.env(ccache=ccache).items():
        monkeypatch.setenv(name, value)
    password = mit_realm.passwords["alice"]
    client = opensspi.client("Negotiate", user="TEST.LOCAL\\alice", password=password,
                             target="HTTP/server.test.local")
    server = opensspi.server("Negotiate", users={"TEST.LOCAL\\alice": password})
    assert client.step(server.step(client.step())) is None
    assert server.client_name == "alice@TEST.LOCAL"
    assert client.context.negotiated_info.name == "Kerberos"

    sso = opensspi.client("Negotiate", target="HTTP/server.test.local")
    first = sso.step()
    assert first is not None
    init = n.decode_token(first)
    assert isinstance(init, n.NegTokenInit) and init.mech_types == (n.MS_KRB5_OID, n.KRB5_OID)
    server = opensspi.server("Negotiate")
    assert sso.step(server.step(first)) is None
    assert server.client_name == "bob@TEST.LOCAL"

    ident = AuthIdentity("alice", "TEST.LOCAL", password, package_list="!ntlm")
    strict = opensspi.client("Negotiate", auth_data=ident, target="HTTP/server.test.local")
    init = n.decode_token(strict.step() or b"")
    assert isinstance(init, n.NegTokenInit) and n.NTLMSSP_OID not in init.mech_types
