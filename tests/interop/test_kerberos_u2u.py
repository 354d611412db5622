"""User-to-user Kerberos (ISC_REQ_USE_SESSION_KEY) through MIT krb5's KDC.

Two user principals of the MIT realm, alice (initiator) and bob (acceptor, with a password and no
keytab): KRB_TGT_REQ -> KRB_TGT_REP (bob's TGT, which bob's credential gets from the MIT KDC)
-> alice's TGS-REQ with ENC-TKT-IN-SKEY and bob's TGT in additional-tickets, which the MIT KDC
answers with a ticket encrypted in that TGT's session key (RFC 4120 §3.3.3; MIT checks that the
server asked for is the additional ticket's client) -> AP-REQ with use-session-key -> AP-REP.

MIT's GSS-API does not implement the user-to-user mechanism (1.2.840.113554.1.2.2.3): its
``gss_init_sec_context`` and ``gss_accept_sec_context`` answer GSS_S_BAD_MECH, and its krb5
acceptor opens tickets only with keytab keys. :func:`test_mit_gss_has_no_user_to_user_mechanism`
records exactly that, so the real-peer proof here is our initiator and our acceptor through MIT's
KDC, checked on the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import opensspi
from interop.peers.gss import GssKrb5Factory, GssPeerError
from interop.peers.mit_kdc import MitRealm
from opensspi import AscRet, IscReq, IscRet
from opensspi.constants import AscReq, CredentialUse, SecBufferAttr
from opensspi.errors import LogonDenied, NoCredentials, WrongPrincipal
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos import asn1 as k
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import AuthIdentity, MessagePart

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


@pytest.fixture
def kdc_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Every (request, reply) exchanged with the MIT KDC."""
    import opensspi.sspi as layer

    log: list[tuple[bytes, bytes]] = []
    real = layer.send_to_kdc

    def recording(data: bytes, *args: Any, **kw: Any) -> bytes:
        reply = real(data, *args, **kw)
        log.append((data, reply))
        return reply

    monkeypatch.setattr(layer, "send_to_kdc", recording)
    return log


def _user(mit_realm: MitRealm, config: Krb5Config, name: str, **kw: Any) -> KerberosAuthData:
    identity = AuthIdentity(name, mit_realm.realm, mit_realm.passwords[name])
    return KerberosAuthData(identity=identity, config=config, **kw)


def _bob_acceptor(mit_realm: MitRealm, config: Krb5Config,
                  flags: AscReq = AscReq(0)) -> opensspi.Context:  # noqa: B008
    # A user, not a service: its credential is a client one (password -> TGT), acquired for
    # both directions so that it can accept.
    cred = opensspi.credentials("Kerberos", use=CredentialUse.BOTH,
                                auth_data=_user(mit_realm, config, "bob"))
    return opensspi.server("Kerberos", credential=cred, flags=flags)


def _pump(client: opensspi.Context, server: opensspi.Context) -> list[bytes]:
    tokens: list[bytes] = []
    token = client.step()
    while token is not None:
        tokens.append(token)
        reply = server.step(token)
        if reply is None:
            break
        tokens.append(reply)
        token = client.step(reply)
    return tokens


@pytest.mark.parametrize("mutual", [True, False], ids=["mutual", "one-leg"])
def test_alice_to_bob_through_the_mit_kdc(mit_realm: MitRealm, config: Krb5Config,
                                          kdc_log: list[tuple[bytes, bytes]],
                                          mutual: bool) -> None:
    flags = (FLAGS if mutual else IscReq.CONFIDENTIALITY | IscReq.INTEGRITY)
    client = opensspi.client("Kerberos", target=f"bob@{mit_realm.realm}",
                             flags=flags | IscReq.USE_SESSION_KEY,
                             auth_data=_user(mit_realm, config, "alice"))
    server = _bob_acceptor(mit_realm, config)
    tokens = _pump(client, server)
    assert client.complete and server.complete and len(tokens) == (4 if mutual else 3)
    assert IscRet(client.flags) & IscRet.USE_SESSION_KEY
    assert AscRet(server.flags) & AscRet.USE_SESSION_KEY
    assert bool(client.flags & IscRet.MUTUAL_AUTH) == mutual
    assert server.client_name == f"alice@{mit_realm.realm}"
    assert client.session_key == server.session_key
    # The wire: the TGT in the TGT-REP is the additional ticket of the TGS-REQ the MIT KDC
    # answered, with ENC-TKT-IN-SKEY; the ticket it issued is in that TGT's session key.
    tgt = k.KerbTgtReply.parse(k.gss_unwrap_token(tokens[1])[2]).ticket
    assert tgt.sname.name_string == ("krbtgt", mit_realm.realm)
    u2u = [(k.KdcReq.parse(req), rep) for req, rep in kdc_log
           if req[:1] == b"\x6c"
           and k.KdcReq.parse(req).req_body.kdc_options & k.KdcOptions.ENC_TKT_IN_SKEY]
    assert len(u2u) == 1
    request, reply = u2u[0]
    assert request.req_body.additional_tickets is not None
    assert request.req_body.additional_tickets[0].raw == tgt.raw
    assert request.req_body.sname == k.PrincipalName(1, ("bob",))
    assert reply[:1] == b"\x6d"  # a TGS-REP, not a KRB-ERROR
    issued = k.KdcRep.parse(reply).ticket
    ap_req = k.ApReq.parse(k.gss_unwrap_token(tokens[2])[2])
    assert ap_req.ap_options & k.ApOptions.USE_SESSION_KEY and ap_req.ticket.raw == issued.raw
    assert issued.enc_part.kvno is None  # not a keytab key: a session key has no version
    # Per-message protection both ways, sign-only buffers included.
    for i in range(3):
        assert server.unwrap(client.wrap(b"to bob %d" % i)) == b"to bob %d" % i
        assert client.unwrap(server.wrap(b"to alice %d" % i)) == b"to alice %d" % i
    signed = MessagePart(b"header", sealed=False, attrs=SecBufferAttr.READONLY_WITH_CHECKSUM)
    sealed = client.context.encrypt((MessagePart(b"body"), signed), 0, None)
    opened = server.context.decrypt(sealed.token, (MessagePart(sealed.parts[0]), signed), None)
    assert opened.parts == (b"body", b"header")


def test_bob_requiring_user_to_user_refuses_an_ordinary_ticket(
    mit_realm: MitRealm, config: Krb5Config
) -> None:
    # bob's BOTH credential also finds the realm's service keytab (krb5.conf default_keytab_name)
    server = _bob_acceptor(mit_realm, config, AscReq.USE_SESSION_KEY)
    client = opensspi.client("Kerberos", target="HTTP/server.test.local", flags=FLAGS,
                             auth_data=_user(mit_realm, config, "alice"))
    with pytest.raises(LogonDenied) as info:
        server.step(client.step())
    assert info.value.krb_error == k.ErrorCode.KRB_AP_ERR_USER_TO_USER_REQUIRED  # type: ignore[attr-defined]


def test_keytab_only_acceptor_cannot_answer_tgt_req(mit_realm: MitRealm,
                                                    config: Krb5Config) -> None:
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=str(mit_realm.keytab), config=config))
    client = opensspi.client("Kerberos", target=f"bob@{mit_realm.realm}",
                             flags=FLAGS | IscReq.USE_SESSION_KEY,
                             auth_data=_user(mit_realm, config, "alice"))
    with pytest.raises(NoCredentials, match="own TGT"):
        server.step(client.step())


def test_mit_kdc_insists_on_the_tgt_owner_as_server(mit_realm: MitRealm,
                                                    config: Krb5Config) -> None:
    """MIT's KDC (check_tgs_u2u): with ENC-TKT-IN-SKEY the server asked for must be the
    additional TGT's client; a Windows-style SPN target gets KDC_ERR_SERVER_NOMATCH (26)."""
    client = opensspi.client("Kerberos", target="HTTP/server.test.local",
                             flags=FLAGS | IscReq.USE_SESSION_KEY,
                             auth_data=_user(mit_realm, config, "alice"))
    server = _bob_acceptor(mit_realm, config)
    tgt_rep = server.step(client.step())
    with pytest.raises(WrongPrincipal, match="user@REALM") as info:
        client.step(tgt_rep)
    assert info.value.krb_error == k.ErrorCode.KDC_ERR_SERVER_NOMATCH  # type: ignore[attr-defined]


def test_mit_gss_has_no_user_to_user_mechanism(mit_realm: MitRealm, config: Krb5Config,
                                               gss_krb5: GssKrb5Factory) -> None:
    """Why there is no MIT GSS peer in this file (MIT krb5 1.20, python-gssapi)."""
    initiator = gss_krb5("initiate", mech="u2u", target=f"bob@{mit_realm.realm}")
    with pytest.raises(GssPeerError) as info:
        initiator.step(None)
    assert info.value.major == 0x10000  # GSS_S_BAD_MECH: the mechanism is not there
    acceptor = gss_krb5("accept", mech="u2u")
    with pytest.raises(GssPeerError) as info:
        acceptor.step(b"\x60\x03\x06\x01\x00")
    assert info.value.major == 0x10000
    # MIT's krb5 acceptor, handed our AP-REQ (re-framed for krb5), looks for a keytab key and
    # cannot use a TGT session key for a use-session-key ticket.
    client = opensspi.client("Kerberos", target=f"bob@{mit_realm.realm}",
                             flags=FLAGS | IscReq.USE_SESSION_KEY,
                             auth_data=_user(mit_realm, config, "alice"))
    server = _bob_acceptor(mit_realm, config)
    ap_req = client.step(server.step(client.step()))
    assert ap_req is not None
    _, tok_id, body = k.gss_unwrap_token(ap_req)
    mit = gss_krb5("accept")
    with pytest.raises(GssPeerError, match="not found in keytab"):
        mit.step(k.gss_wrap_token(k.KRB5_OID, tok_id, body))
