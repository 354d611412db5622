"""Our Negotiate client against a real Active Directory DC (Samba 4, session fixture
``samba_dc`` from :mod:`interop.peers.samba_dc`), where Negotiate lives.

An LDAP SASL ``GSS-SPNEGO`` bind (what Windows' LDAP client does), then a search sealed both
ways that reads ``sAMAccountName`` back, with:

- Kerberos: the NegTokenInit offers [MS-KRB5, KRB5, NTLM] with an optimistic AP-REQ for
  ``ldap/dc1.samdom.test``; AD's accept-completed carries the AP-REP and, its first choice
  having won, no mechListMIC;
- NTLM, with no ticket to be had (no ccache, no password for Kerberos): AD exchanges the
  MS-SPNG mechListMICs with NTLM's sequence and RC4 rules, then seals the search;
- NTLM, because the target is an IP address (no usable SPN, as Windows without TryIPSPN).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import opensspi
from interop.peers.ldap_client import LAYER_CONFIDENTIALITY, LdapClient
from interop.peers.samba_dc import BASE_DN, FQDN, NETBIOS_DOMAIN, PASSWORDS, REALM, SambaDc
from opensspi.constants import IscReq
from opensspi.errors import NoCredentials
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.packages.negotiate import NegotiateAuthData
from opensspi.packages.negotiate import asn1 as n
from opensspi.provider import AuthIdentity

pytestmark = pytest.mark.interop

FLAGS = (IscReq.MUTUAL_AUTH | IscReq.INTEGRITY | IscReq.CONFIDENTIALITY
         | IscReq.SEQUENCE_DETECT | IscReq.REPLAY_DETECT)
LDAP_SPN = f"ldap/{FQDN}"


@pytest.fixture(autouse=True)
def _fresh_ticket_caches() -> Iterator[None]:
    TicketCache.forget_all()
    yield
    TicketCache.forget_all()


class Recorder:
    """Wraps an opensspi Context for the LDAP client, keeping every token it sends."""

    def __init__(self, context: opensspi.Context) -> None:
        self.context = context
        self.sent: list[bytes] = []
        self.received: list[bytes] = []

    @property
    def complete(self) -> bool:
        return self.context.complete

    def step(self, token: bytes | None = None) -> bytes | None:
        if token is not None:
            self.received.append(token)
        out = self.context.step(token)
        if out is not None:
            self.sent.append(out)
        return out

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        return self.context.wrap(data, encrypt)

    def unwrap(self, message: bytes) -> bytes:
        return self.context.unwrap(message)


def _config(dc: SambaDc) -> Krb5Config:
    return Krb5Config.from_string(dc.krb5_conf_text())


def _bind_and_read(context: opensspi.Context) -> Recorder:
    recorder = Recorder(context)
    with LdapClient(FQDN) as ldap:
        result = ldap.sasl_bind(recorder, "GSS-SPNEGO")
        assert result.layer == LAYER_CONFIDENTIALITY and ldap.sealed
        entries = ldap.search(BASE_DN, "sAMAccountName", "alice", ["sAMAccountName"])
    assert [e.attributes["sAMAccountName"] for e in entries] == [[b"alice"]]
    assert context.complete
    return recorder


def _first(recorder: Recorder) -> n.NegTokenInit:
    init = n.decode_token(recorder.sent[0])
    assert isinstance(init, n.NegTokenInit)
    return init


def test_negotiate_kerberos_ldap_bind_and_sealed_search(samba_dc: SambaDc) -> None:
    identity = AuthIdentity("alice", REALM, PASSWORDS["alice"])
    auth = NegotiateAuthData(identity=identity, kerberos=KerberosAuthData(
        identity=identity, config=_config(samba_dc)))
    context = opensspi.client("Negotiate", target=LDAP_SPN, flags=FLAGS, auth_data=auth)
    recorder = _bind_and_read(context)
    init = _first(recorder)
    assert init.mech_types == (n.MS_KRB5_OID, n.KRB5_OID, n.NTLMSSP_OID)
    assert init.mech_token is not None and init.mech_token[:1] == b"\x60"
    assert context.context.negotiated_info.name == "Kerberos"
    assert context.client_name == f"alice@{REALM}"
    final = n.decode_token(recorder.received[-1])
    assert isinstance(final, n.NegTokenResp)
    assert final.neg_state is n.NegState.ACCEPT_COMPLETED
    assert final.supported_mech in (n.MS_KRB5_OID, n.KRB5_OID)
    # Samba, like MIT, sends no mechListMIC when the initiator's first choice won with its
    # optimistic token (RFC 4178 §5 makes it optional then).
    assert final.mech_list_mic is None


def test_negotiate_ntlm_without_a_ticket(samba_dc: SambaDc) -> None:
    identity = AuthIdentity("alice", NETBIOS_DOMAIN, PASSWORDS["alice"])
    # Kerberos has nothing to start from: no password for it, and an empty ticket cache.
    auth = NegotiateAuthData(identity=identity, kerberos=KerberosAuthData(
        ccache="FILE:/nonexistent/opensspi-no-ccache", config=_config(samba_dc)))
    context = opensspi.client("Negotiate", target=LDAP_SPN, flags=FLAGS, auth_data=auth)
    recorder = _bind_and_read(context)
    assert _first(recorder).mech_types == (n.NTLMSSP_OID,)
    assert context.context.negotiated_info.name == "NTLM"
    mics = [n.decode_token(t).mech_list_mic for t in recorder.sent[1:] + recorder.received[-1:]]
    assert all(m is not None for m in mics)  # MS-SPNG 3.1.5.1: MICs both ways with NTLM


def test_negotiate_ntlm_for_an_ip_target(samba_dc: SambaDc) -> None:
    identity = AuthIdentity("alice", REALM, PASSWORDS["alice"])
    auth = NegotiateAuthData(identity=identity, kerberos=KerberosAuthData(
        identity=identity, config=_config(samba_dc)))
    context = opensspi.client("Negotiate", target="ldap/127.0.0.1", flags=FLAGS, auth_data=auth)
    recorder = _bind_and_read(context)
    assert _first(recorder).mech_types == (n.NTLMSSP_OID,)
    assert context.context.negotiated_info.name == "NTLM"


def test_negotiate_without_ntlm_and_without_a_ticket_fails(samba_dc: SambaDc) -> None:
    identity = AuthIdentity("alice", NETBIOS_DOMAIN, PASSWORDS["alice"], package_list="!ntlm")
    auth = NegotiateAuthData(identity=identity, kerberos=KerberosAuthData(
        ccache="FILE:/nonexistent/opensspi-no-ccache", config=_config(samba_dc)))
    with pytest.raises(NoCredentials):
        opensspi.client("Negotiate", target=LDAP_SPN, flags=FLAGS, auth_data=auth)
