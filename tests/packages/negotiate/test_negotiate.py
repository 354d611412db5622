"""The Negotiate package against itself: Kerberos chosen (opensspi's MiniKdc, in memory), the
NTLM fallbacks, the acceptor's choices, mechListMIC rules, and the SSPI surface."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

import opensspi
from opensspi import registry, sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.compat.pywin32 import sspicon
from opensspi.constants import (
    AscRet,
    CredentialUse,
    IscReq,
    IscRet,
    NegotiationState,
    SecBufferType,
    SecPkgAttr,
    SecPkgFlag,
    SecStatus,
)
from opensspi.errors import (
    InvalidParameter,
    InvalidToken,
    MessageAltered,
    NoAuthenticatingAuthority,
    NoCredentials,
    SspiError,
    TargetUnknown,
)
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.negotiate import NegotiateAuthData
from opensspi.packages.negotiate import asn1 as n
from opensspi.packages.negotiate.credentials import NegotiateCredential, parse_package_list
from opensspi.packages.negotiate.machine import HINT_NAME, raw_mechanism, target_is_ip
from opensspi.provider import AuthIdentity, Credential, StepInput
from support.negotiate import CLIENT_REQ, PASSWORD, REALM, SPN, USERS, Realm

NTLM_ONLY = (n.NTLMSSP_OID,)
ALL = (n.MS_KRB5_OID, n.KRB5_OID, n.NTLMSSP_OID)


def _init(token: bytes) -> n.NegTokenInit:
    message = n.decode_token(token)
    assert isinstance(message, n.NegTokenInit)
    return message


def _resp(token: bytes) -> n.NegTokenResp:
    message = n.decode_token(token)
    assert isinstance(message, n.NegTokenResp)
    return message


def _both_ways(client: object, server: object) -> None:
    from opensspi.provider import SecurityContext

    assert isinstance(client, SecurityContext) and isinstance(server, SecurityContext)
    for i in range(3):
        assert server.unwrap(client.wrap(b"to server %d" % i)) == b"to server %d" % i
        assert client.unwrap(server.wrap(b"to client %d" % i)) == b"to client %d" % i


# -- Kerberos first, as Windows -------------------------------------------------------------


def test_kerberos_chosen_with_optimistic_token(realm: Realm) -> None:
    client, server = realm.client(), realm.server()
    tokens = realm.handshake(client, server)
    init = _init(tokens[0])
    assert tokens[0][:1] == b"\x60"
    assert init.mech_types == ALL
    assert init.mech_token is not None and init.mech_token[:1] == b"\x60"
    assert b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01\x00" in init.mech_token  # AP-REQ
    reply = _resp(tokens[1])
    # MIT answers with the OID the initiator listed first; no MIC for an accepted first choice.
    assert reply.neg_state is n.NegState.ACCEPT_COMPLETED
    assert reply.supported_mech == n.MS_KRB5_OID
    assert reply.response_token is not None and reply.mech_list_mic is None
    assert len(tokens) == 2
    assert client.negotiated_info.name == server.negotiated_info.name == "Kerberos"
    assert client.flags & IscRet.MUTUAL_AUTH and client.flags & IscRet.CONFIDENTIALITY
    assert server.flags & AscRet.MUTUAL_AUTH
    assert server.client_name == f"alice@{REALM}"
    assert client.session_key == server.session_key is not None
    _both_ways(client, server)


def test_kerberos_mic_exchanged_when_the_acceptor_sends_one(realm: Realm) -> None:
    """A Windows acceptor adds a mechListMIC to its Kerberos accept-completed: the initiator
    verifies it (consuming the acceptor's sequence number) and completes without a reply."""
    client, server = realm.client(), realm.server()
    first = realm.drive(client, None).token
    reply = _resp(server.step(StepInput(token=first)).token)
    inner = server.mechanism_context  # type: ignore[attr-defined]
    mic = inner.mech_list_mic(_init(first).mech_types_raw)
    with_mic = n.NegTokenResp(neg_state=reply.neg_state, supported_mech=reply.supported_mech,
                              response_token=reply.response_token, mech_list_mic=mic)
    step = client.step(StepInput(token=with_mic.build()))
    assert step.status == SecStatus.SEC_E_OK and step.token == b"" and client.complete
    _both_ways(client, server)


# -- fallback to NTLM -----------------------------------------------------------------------


def _assert_ntlm_only(first: bytes) -> None:
    init = _init(first)
    assert init.mech_types == NTLM_ONLY
    assert init.mech_token is not None and init.mech_token.startswith(b"NTLMSSP\0\x01")


def test_unknown_spn_falls_back_to_ntlm(realm: Realm, caplog: pytest.LogCaptureFixture) -> None:
    client = realm.client(target="HTTP/nowhere.example.test")
    server = realm.server()
    with caplog.at_level(logging.INFO, logger="opensspi.negotiate"):
        tokens = realm.handshake(client, server)
    _assert_ntlm_only(tokens[0])
    assert any("SEC_E_TARGET_UNKNOWN" in r.getMessage() and r.levelno == logging.INFO
               for r in caplog.records)
    assert PASSWORD not in caplog.text
    assert client.negotiated_info.name == "NTLM"
    assert server.client_name == f"{REALM}\\alice"
    # NTLM after a first-choice NegTokenInit: four legs, both MICs (as gss-ntlmssp, A.2).
    assert [len(t) > 0 for t in tokens] == [True] * 4
    assert _resp(tokens[2]).mech_list_mic is not None
    assert _resp(tokens[3]).mech_list_mic is not None
    assert _resp(tokens[3]).neg_state is n.NegState.ACCEPT_COMPLETED
    _both_ways(client, server)


def _without_default_realm(realm: Realm) -> NegotiateAuthData:
    """alice's password, with a krb5.conf that has no default realm (and no [domain_realm])."""
    identity = AuthIdentity("alice", REALM, PASSWORD)
    no_default = dataclasses.replace(realm.config, default_realm=None)
    return NegotiateAuthData(
        identity=identity, kerberos=KerberosAuthData(identity=identity, config=no_default))


def _outbound(auth: NegotiateAuthData) -> NegotiateCredential:
    cred = registry.get("Negotiate").acquire_credentials(None, CredentialUse.OUTBOUND, auth)
    assert isinstance(cred, NegotiateCredential)
    return cred


def test_a_target_without_a_realm_is_remembered_per_handle(realm: Realm) -> None:
    """Kerberos cannot name a target whose host krb5.conf maps to no realm: the handle goes to
    NTLM for it, and its later contexts to that target skip the Kerberos attempt, while a
    target that names its realm still gets Kerberos from the same handle."""
    target = "HTTP/web.nowhere.invalid"
    pkg = registry.get("Negotiate")
    cred = _outbound(_without_default_realm(realm))
    for _ in range(2):
        client = pkg.client_context(cred, target, CLIENT_REQ)
        _assert_ntlm_only(realm.handshake(client, realm.server())[0])
        assert client.negotiated_info.name == "NTLM"
        why = cred.kerberos_unresolvable(target)
        assert why is not None and "SEC_E_TARGET_UNKNOWN" in why
    client = pkg.client_context(cred, f"{SPN}@{REALM}", CLIENT_REQ)
    realm.handshake(client, realm.server())
    assert client.negotiated_info.name == "Kerberos"


def test_a_new_handle_skips_kerberos_for_a_target_known_to_have_no_realm(realm: Realm) -> None:
    """pywin32's ClientAuth acquires a new credential for every connection. Once this process
    found that a target's host maps to no realm under a krb5.conf, a new handle reading the
    same krb5.conf goes to NTLM without acquiring its Kerberos credential at all; a target
    that names its realm still gets Kerberos from such a handle."""
    target = "HTTP/web.elsewhere.invalid"
    auth = _without_default_realm(realm)
    pkg = registry.get("Negotiate")
    first = _outbound(auth)
    _assert_ntlm_only(realm.handshake(pkg.client_context(first, target, CLIENT_REQ),
                                      realm.server())[0])
    cred = _outbound(auth)
    assert cred is not first
    acquired: list[object] = []
    deferred = cred._deferred
    assert deferred is not None
    cred._deferred = lambda: acquired.append(1) or deferred()
    client = pkg.client_context(cred, target, CLIENT_REQ)
    _assert_ntlm_only(realm.handshake(client, realm.server())[0])
    assert client.negotiated_info.name == "NTLM" and acquired == []
    why = cred.kerberos_unresolvable(target)
    assert why is not None and "SEC_E_TARGET_UNKNOWN" in why
    # Another krb5.conf (one with a default realm) is not answered from that finding.
    identity = AuthIdentity("alice", REALM, PASSWORD)
    other = _outbound(NegotiateAuthData(
        identity=identity, kerberos=KerberosAuthData(identity=identity, config=realm.config)))
    assert other.kerberos_unresolvable(target) is None
    client = pkg.client_context(cred, f"{SPN}@{REALM}", CLIENT_REQ)
    realm.handshake(client, realm.server())
    assert client.negotiated_info.name == "Kerberos" and acquired == [1]


def test_a_kdc_that_does_not_know_the_spn_is_asked_again(realm: Realm) -> None:
    """The KDC's answer can change (the SPN may be registered later): it is never kept."""
    pkg = registry.get("Negotiate")
    cred = pkg.acquire_credentials(None, CredentialUse.OUTBOUND, realm.client_auth())
    assert isinstance(cred, NegotiateCredential)
    target = "HTTP/nowhere.example.test"
    for _ in range(2):
        client = pkg.client_context(cred, target, CLIENT_REQ)
        _assert_ntlm_only(realm.handshake(client, realm.server())[0])
        assert cred.kerberos_unresolvable(target) is None


def test_no_tgt_or_password_means_ntlm_only(realm: Realm) -> None:
    client, server = realm.client(kerberos=False), realm.server()
    _assert_ntlm_only(realm.handshake(client, server)[0])


def test_ip_target_means_ntlm_only(realm: Realm) -> None:
    for target in ("HTTP/192.0.2.7", "HTTP/192.0.2.7:8080", "host@[2001:db8::1]", "192.0.2.7"):
        assert target_is_ip(target)
    assert not target_is_ip("HTTP/web.example.test") and not target_is_ip(None)
    client, server = realm.client(target="HTTP/192.0.2.7"), realm.server()
    _assert_ntlm_only(realm.handshake(client, server)[0])
    assert realm.kdc.principals()  # untouched: no request was made


def test_ip_target_leaves_the_kerberos_credential_unacquired(
    realm: Realm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IP target cannot use Kerberos, so the handle's deferred Kerberos credential (krb5.conf,
    ticket cache) is not acquired for it."""
    kerberos = registry.get("Kerberos")
    calls: list[CredentialUse] = []
    acquire = kerberos.acquire_credentials

    def counted(principal: str | None, use: CredentialUse, auth_data: object) -> Credential:
        calls.append(use)
        return acquire(principal, use, auth_data)

    monkeypatch.setattr(kerberos, "acquire_credentials", counted)
    pkg = registry.get("Negotiate")
    cred = pkg.acquire_credentials(None, CredentialUse.OUTBOUND, realm.client_auth())
    client = pkg.client_context(cred, "HTTP/192.0.2.7", CLIENT_REQ)
    _assert_ntlm_only(realm.handshake(client, realm.server())[0])
    assert calls == []
    client = pkg.client_context(cred, SPN, CLIENT_REQ)
    realm.handshake(client, realm.server())
    # Once for this handle (the acceptor's own handle acquires its keytab credential too).
    assert calls.count(CredentialUse.OUTBOUND) == 1
    assert client.negotiated_info.name == "Kerberos"


def test_no_kdc_answering_falls_back(realm: Realm) -> None:
    """The driver cannot reach a KDC: ``kdc_failed`` restarts the negotiation with NTLM."""
    client = realm.client()
    step = client.step(StepInput())
    assert step.kdc_request is not None and step.token == b""
    step = client.kdc_failed(NoAuthenticatingAuthority("No KDC of EXAMPLE.TEST answered."))
    _assert_ntlm_only(step.token)
    assert step.kdc_request is None


def test_no_kdc_answering_through_the_windows_functions(tmp_path: Path) -> None:
    from opensspi.packages.kerberos import KerberosAuthData
    from opensspi.packages.kerberos.config import Krb5Config
    from opensspi.packages.negotiate import NegotiateAuthData

    conf = Krb5Config.from_string(
        "[libdefaults]\n default_realm = DEAD.TEST\n dns_lookup_kdc = false\n kdc_timeout = 1\n"
        " max_retries = 1\n[realms]\n DEAD.TEST = {\n  kdc = 127.0.0.1:9\n }\n", "<dead>")
    ident = AuthIdentity("alice", "DEAD.TEST", PASSWORD)
    auth = NegotiateAuthData(identity=ident, kerberos=KerberosAuthData(identity=ident, config=conf))
    cred = sspi.AcquireCredentialsHandle(None, "Negotiate", CredentialUse.OUTBOUND, None, auth)
    out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48256)])
    ctx = sspi.CtxtHandle()
    result = sspi.InitializeSecurityContext(cred.credential, None, "HTTP/web.dead.test",
                                            int(CLIENT_REQ), 0, 0, None, 0, ctx, out)
    assert result.status == SecStatus.SEC_I_CONTINUE_NEEDED
    _assert_ntlm_only(out[0].buffer)


def test_kerberos_errors_after_the_ap_req_are_final(realm: Realm) -> None:
    """A Kerberos failure once the AP-REQ left is not a reason to fall back (B.7)."""
    client = realm.client()
    realm.drive(client, None)
    bogus_rep = n.NegTokenResp(neg_state=n.NegState.ACCEPT_COMPLETED,
                               supported_mech=n.MS_KRB5_OID, response_token=b"\x60\x03\x06\x01\x00")
    with pytest.raises(InvalidToken):
        client.step(StepInput(token=bogus_rep.build()))


# -- the package list (SEC_WINNT_AUTH_IDENTITY_EX.PackageList) --------------------------------


def test_package_list_parsing() -> None:
    assert parse_package_list(None) == ("kerberos", "ntlm")
    assert parse_package_list("!ntlm") == ("kerberos",)
    assert parse_package_list("NTLM") == ("ntlm",)
    assert parse_package_list("kerberos, ntlm") == ("kerberos", "ntlm")
    assert parse_package_list("!pku2u,negotiate") == ("kerberos", "ntlm")
    with pytest.raises(InvalidParameter):
        parse_package_list("kerberos,,ntlm")
    with pytest.raises(InvalidParameter):
        parse_package_list("!kerberos,!ntlm")


def test_package_list_forbids_ntlm_fallback(realm: Realm) -> None:
    client = realm.client(target="HTTP/nowhere.example.test", package_list="!ntlm")
    with pytest.raises(TargetUnknown):
        realm.drive(client, None)
    with pytest.raises(NoCredentials) as info:
        realm.client(kerberos=False, package_list="!ntlm")
    assert "kerberos" in info.value.message and "ntlm" in info.value.message
    assert PASSWORD not in str(info.value)


def test_package_list_ntlm_only_skips_kerberos(realm: Realm) -> None:
    client, server = realm.client(package_list="ntlm"), realm.server()
    _assert_ntlm_only(realm.handshake(client, server)[0])


# -- the acceptor's choices -----------------------------------------------------------------


def test_acceptor_without_keytab_selects_ntlm_and_the_initiator_switches(realm: Realm) -> None:
    client, server = realm.client(), realm.server(keytab=False)
    tokens = realm.handshake(client, server)
    assert _init(tokens[0]).mech_types == ALL
    first_reply = _resp(tokens[1])
    assert first_reply.supported_mech == n.NTLMSSP_OID
    assert first_reply.neg_state is n.NegState.ACCEPT_INCOMPLETE
    assert first_reply.response_token is None
    assert _resp(tokens[2]).response_token.startswith(b"NTLMSSP\0\x01")  # type: ignore[union-attr]
    assert _resp(tokens[4]).mech_list_mic is not None  # NTLM was not the first choice
    assert client.negotiated_info.name == "NTLM"
    _both_ways(client, server)


def test_acceptor_without_ntlm_database_takes_kerberos_only(realm: Realm) -> None:
    server = realm.server(users=False)
    client = realm.client()
    realm.handshake(client, server)
    assert server.negotiated_info.name == "Kerberos"
    ntlm_only = realm.server(users=False)
    first = realm.drive(realm.client(package_list="ntlm"), None).token
    with pytest.raises(InvalidToken) as info:
        ntlm_only.step(StepInput(token=first))
    assert _resp(info.value.token).neg_state is n.NegState.REJECT  # delivered to the peer


def test_acceptor_with_neither_credential_fails_at_acquire(realm: Realm) -> None:
    with pytest.raises(NoCredentials):
        realm.server(keytab=False, users=False)


def test_raw_ntlm_and_raw_kerberos_tokens_are_accepted(realm: Realm) -> None:
    ntlm = opensspi.client("NTLM", user="alice", domain=REALM, password=PASSWORD, target=SPN)
    server = realm.server()
    token = ntlm.step()
    while token is not None:
        token = server.step(StepInput(token=token)).token or None
        if token is not None:
            token = ntlm.step(token)
    assert server.complete and server.negotiated_info.name == "NTLM"
    assert server.unwrap(ntlm.wrap(b"raw")) == b"raw"

    from opensspi.packages.kerberos import KerberosAuthData

    krb = registry.get("Kerberos")
    cred = krb.acquire_credentials(None, CredentialUse.OUTBOUND, KerberosAuthData(
        identity=AuthIdentity("alice", REALM, PASSWORD), config=realm.config))
    inner = krb.client_context(cred, SPN, CLIENT_REQ)
    ap_req = realm.drive(inner, None).token
    assert raw_mechanism(ap_req) == "kerberos" and raw_mechanism(b"NTLMSSP\0xx") == "ntlm"
    server = realm.server()
    step = server.step(StepInput(token=ap_req))
    assert step.status == SecStatus.SEC_E_OK and server.negotiated_info.name == "Kerberos"
    assert step.token[:1] == b"\x60"  # the raw AP-REP, no SPNEGO around it
    inner.step(StepInput(token=step.token))
    assert server.unwrap(inner.wrap(b"raw krb")) == b"raw krb"


def test_negtokeninit2_from_the_server_is_parsed_and_its_hints_ignored(realm: Realm) -> None:
    server = realm.server()
    hint = server.step(StepInput()).token
    parsed = n.decode_token(hint)
    assert isinstance(parsed, n.NegTokenInit2)
    assert parsed.neg_hints is not None and parsed.neg_hints.hint_name == HINT_NAME
    assert parsed.mech_types == ALL
    client = realm.client()
    first = realm.drive(client, hint).token
    assert _init(first).mech_types == ALL
    token = server.step(StepInput(token=first)).token
    realm.drive(client, token)
    assert client.complete and server.complete


def test_server_hint_listing_only_ntlm_and_unknown_mechs(realm: Realm) -> None:
    """An SMB-style hint with NegoEx first and PKU2U: skipped, not fatal; Kerberos not listed,
    so not offered."""
    hint = n.NegTokenInit2(mech_types=(n.NEGOEX_OID, "1.3.6.1.5.2.7", n.NTLMSSP_OID),
                           neg_hints=n.NegHints(hint_name=HINT_NAME)).to_token()
    client = realm.client()
    _assert_ntlm_only(realm.drive(client, hint).token)


def test_unknown_mechanisms_in_the_initiators_list_are_skipped(realm: Realm) -> None:
    """[NegoEx, PKU2U, NTLM] with a NegoEx optimistic token: the acceptor picks NTLM, ignores
    that token, and requires the MIC (NTLM was not the first choice)."""
    inner = opensspi.client("NTLM", user="alice", domain=REALM, password=PASSWORD, target=SPN)
    offered = n.NegTokenInit(mech_types=(n.NEGOEX_OID, "1.3.6.1.5.2.7", n.NTLMSSP_OID),
                             mech_token=b"NEGOEXTS-opaque")
    server = realm.server()
    reply = _resp(server.step(StepInput(token=offered.to_token())).token)
    assert reply.supported_mech == n.NTLMSSP_OID and reply.response_token is None
    challenge = _resp(server.step(StepInput(
        token=n.NegTokenResp(response_token=inner.step()).build())).token)
    auth = inner.step(challenge.response_token)
    assert auth is not None
    mic = inner.context.mech_list_mic(offered.mech_types_raw)
    final = _resp(server.step(StepInput(
        token=n.NegTokenResp(response_token=auth, mech_list_mic=mic).build())).token)
    assert final.neg_state is n.NegState.ACCEPT_COMPLETED and server.complete
    assert final.mech_list_mic is not None
    inner.context.verify_mech_list_mic(offered.mech_types_raw, final.mech_list_mic)
    assert server.unwrap(inner.wrap(b"after the MICs")) == b"after the MICs"
    assert inner.unwrap(server.wrap(b"and back")) == b"and back"


# -- tampering: the documented SEC_E_* ------------------------------------------------------


def _ntlm_legs(realm: Realm) -> tuple[object, object, list[bytes]]:
    client, server = realm.client(package_list="ntlm"), realm.server()
    first = realm.drive(client, None).token
    challenge = server.step(StepInput(token=first)).token
    auth = realm.drive(client, challenge).token
    return client, server, [first, challenge, auth]


def test_altered_acceptor_mic_is_message_altered(realm: Realm) -> None:
    client, server, legs = _ntlm_legs(realm)
    from opensspi.provider import SecurityContext

    assert isinstance(client, SecurityContext) and isinstance(server, SecurityContext)
    final = _resp(server.step(StepInput(token=legs[2])).token)
    assert final.mech_list_mic is not None
    bad = bytearray(final.mech_list_mic)
    bad[6] ^= 0x01
    forged = n.NegTokenResp(neg_state=final.neg_state, mech_list_mic=bytes(bad))
    with pytest.raises(MessageAltered) as info:
        client.step(StepInput(token=forged.build()))
    assert info.value.status == SecStatus.SEC_E_MESSAGE_ALTERED


def test_stripped_acceptor_mic_is_invalid_token(realm: Realm) -> None:
    client, server, legs = _ntlm_legs(realm)
    from opensspi.provider import SecurityContext

    assert isinstance(client, SecurityContext) and isinstance(server, SecurityContext)
    server.step(StepInput(token=legs[2]))
    stripped = n.NegTokenResp(neg_state=n.NegState.ACCEPT_COMPLETED)
    with pytest.raises(InvalidToken) as info:
        client.step(StepInput(token=stripped.build()))
    assert info.value.status == SecStatus.SEC_E_INVALID_TOKEN


def test_stripped_initiator_mic_is_refused_by_the_acceptor(realm: Realm) -> None:
    _client, server, legs = _ntlm_legs(realm)
    from opensspi.provider import SecurityContext

    assert isinstance(server, SecurityContext)
    auth = _resp(legs[2])
    with pytest.raises(InvalidToken) as info:
        server.step(StepInput(token=n.NegTokenResp(response_token=auth.response_token).build()))
    assert _resp(info.value.token).neg_state is n.NegState.REJECT


def test_downgraded_mechanism_list_is_message_altered(realm: Realm) -> None:
    """A man in the middle removes Kerberos from the list (and its token) so that NTLM is
    chosen: the MIC over the list the initiator really sent does not verify."""
    client, server = realm.client(), realm.server()
    first = _init(realm.drive(client, None).token)
    assert first.mech_types == ALL
    downgraded = n.NegTokenInit(mech_types=NTLM_ONLY)
    reply = server.step(StepInput(token=downgraded.to_token())).token
    token = realm.drive(client, reply).token  # the client switches to NTLM
    token = server.step(StepInput(token=token)).token
    token = realm.drive(client, token).token  # AUTHENTICATE + MIC over ALL
    with pytest.raises(MessageAltered):
        server.step(StepInput(token=token))


def test_unexpected_mechanism_is_invalid_token(realm: Realm) -> None:
    for selected in (n.NEGOEX_OID, n.MS_KRB5_OID):
        client = realm.client(package_list="ntlm")
        realm.drive(client, None)
        reply = n.NegTokenResp(neg_state=n.NegState.ACCEPT_INCOMPLETE, supported_mech=selected)
        with pytest.raises(InvalidToken) as info:
            client.step(StepInput(token=reply.build()))
        assert selected in info.value.message


def test_first_reply_without_supported_mech_is_invalid_token(realm: Realm) -> None:
    client = realm.client(package_list="ntlm")
    realm.drive(client, None)
    with pytest.raises(InvalidToken):
        client.step(StepInput(token=n.NegTokenResp(
            neg_state=n.NegState.ACCEPT_INCOMPLETE).build()))


def test_wrong_oid_is_invalid_token(realm: Realm) -> None:
    from opensspi.der import encode_initial_context_token

    wrong = encode_initial_context_token("1.2.3.4", n.NegTokenInit(mech_types=ALL).build())
    with pytest.raises(InvalidToken) as info:
        realm.server().step(StepInput(token=wrong))
    assert "1.2.3.4" in info.value.message
    client = realm.client(package_list="ntlm")
    realm.drive(client, None)
    with pytest.raises(InvalidToken):
        client.step(StepInput(token=wrong))
    with pytest.raises(SspiError):
        client.step(StepInput(token=b"\xa1\x00"))  # the context failed: every call now fails


def test_reject_is_logon_denied(realm: Realm) -> None:
    client = realm.client(package_list="ntlm")
    realm.drive(client, None)
    with pytest.raises(SspiError) as info:
        client.step(StepInput(token=n.NegTokenResp(neg_state=n.NegState.REJECT).build()))
    assert info.value.status == SecStatus.SEC_E_LOGON_DENIED


# -- the SSPI surface ----------------------------------------------------------------------


def test_enumerate_lists_negotiate_first_with_windows_values() -> None:
    first = sspi.EnumerateSecurityPackages()[0]
    assert first.name == "Negotiate"
    assert int(first.capabilities) == 0x00083BB3
    assert first.max_token == 48256 and first.rpcid == 9 and first.version == 1
    assert first.capabilities & SecPkgFlag.NEGOTIABLE


def _windows_pair(realm: Realm, client_auth: object, server_auth: object,
                  target: str = SPN) -> tuple[sspi.CtxtHandle, sspi.CtxtHandle, list[int]]:
    _, ccred, _ = sspi.AcquireCredentialsHandle(None, "Negotiate", CredentialUse.OUTBOUND,
                                                 None, client_auth)
    _, scred, _ = sspi.AcquireCredentialsHandle(None, "Negotiate", CredentialUse.INBOUND,
                                                 None, server_auth)
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    token: bytes | None = None
    statuses: list[int] = []
    for turn in range(8):
        out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 65536)])
        inp = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, token)]) if token else None
        if turn % 2 == 0:
            res = sspi.InitializeSecurityContext(
                ccred, client if client.is_valid else None, target, int(CLIENT_REQ), 0, 0,
                inp, 0, client, out)
        else:
            res = sspi.AcceptSecurityContext(
                scred, server if server.is_valid else None, inp, 0x1001C, 0, server, out)
        statuses.append(int(res.status))
        token = out[0].buffer or None
        if token is None:
            break
    return client, server, statuses


def test_attributes_through_the_windows_functions(realm: Realm, tmp_path: Path) -> None:
    with realm.kdc.serve():
        from opensspi.packages.kerberos import KerberosAuthData
        from opensspi.packages.negotiate import NegotiateAuthData

        config = realm.kdc.krb5_config()
        ident = AuthIdentity("alice", REALM, PASSWORD)
        client, server, statuses = _windows_pair(
            realm,
            NegotiateAuthData(identity=ident,
                              kerberos=KerberosAuthData(identity=ident, config=config)),
            NegotiateAuthData(kerberos=KerberosAuthData(acceptor_keytab=str(realm.keytab),
                                                        config=config), ntlm=dict(USERS)))
    assert statuses == [SecStatus.SEC_I_CONTINUE_NEEDED, SecStatus.SEC_E_OK, SecStatus.SEC_E_OK]
    for handle, who in ((client, "client"), (server, "server")):
        info = sspi.QueryContextAttributes(handle, SecPkgAttr.NEGOTIATION_INFO)
        assert info.package_info.name == "Kerberos", who  # type: ignore[attr-defined]
        assert info.negotiation_state == NegotiationState.COMPLETE  # type: ignore[attr-defined]
        assert sspi.QueryContextAttributes(handle, SecPkgAttr.PACKAGE_INFO).name == "Kerberos"  # type: ignore[attr-defined]
    names = sspi.QueryContextAttributes(server, SecPkgAttr.NAMES)
    assert names.user_name == f"alice@{REALM}"  # type: ignore[attr-defined]
    native = sspi.QueryContextAttributes(client, SecPkgAttr.NATIVE_NAMES)
    assert native.server_name.startswith("HTTP/web.example.test")  # type: ignore[attr-defined]
    ckey = sspi.QueryContextAttributes(client, SecPkgAttr.SESSION_KEY)
    assert ckey == sspi.QueryContextAttributes(server, SecPkgAttr.SESSION_KEY)
    sizes = sspi.QueryContextAttributes(client, SecPkgAttr.SIZES)
    assert sizes.max_token == 48000 and sizes.security_trailer == 60  # type: ignore[attr-defined]
    flags = sspi.QueryContextAttributes(client, SecPkgAttr.FLAGS)
    assert flags.flags & IscRet.MUTUAL_AUTH  # type: ignore[attr-defined]
    data = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 60),
                          SecBuffer(SecBufferType.DATA, b"sealed through Negotiate"),
                          SecBuffer(SecBufferType.PADDING, 16)])
    sspi.EncryptMessage(client, 0, data, 0)
    assert sspi.DecryptMessage(server, data, 0).status == SecStatus.SEC_E_OK
    assert data[1].buffer == b"sealed through Negotiate"
    signed = SecBufferDesc([SecBuffer(SecBufferType.DATA, b"signed"),
                            SecBuffer(SecBufferType.TOKEN, 28)])
    sspi.MakeSignature(server, 0, signed, 0)
    assert sspi.VerifySignature(client, signed, 0).status == SecStatus.SEC_E_OK


def test_pywin32_negotiation_info_shape(realm: Realm, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "users"
    users.write_text(f"{REALM}:alice:{PASSWORD}\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    monkeypatch.setenv("KRB5_KTNAME", f"FILE:{tmp_path / 'none.keytab'}")
    monkeypatch.setenv("KRB5_CONFIG", str(tmp_path / "none.conf"))
    from opensspi.compat.pywin32 import sspi as pysspi

    client = pysspi.ClientAuth("Negotiate", auth_info=("alice", REALM, PASSWORD),
                               targetspn="HTTP/192.0.2.1")
    server = pysspi.ServerAuth("Negotiate")
    err, buf = client.authorize(None)
    while True:
        err, buf = server.authorize(buf)
        if err == 0 and not buf[0].Buffer:
            break
        err, buf = client.authorize(buf)
        if err == 0:
            break
    assert client.authenticated and server.authenticated
    for auth in (client, server):
        state, info = auth.ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_NEGOTIATION_INFO)
        assert state == 0 and info["Name"] == "NTLM"
    sealed = client.encrypt(b"pywin32 through Negotiate")
    assert server.decrypt(*sealed) == b"pywin32 through Negotiate"


def test_acceptor_choosing_a_later_kerberos_exchanges_mics_then_completes_silently(
    realm: Realm,
) -> None:
    """[NTLM, MS-KRB5] to an acceptor with only a keytab: Kerberos is chosen though not first,
    so both MICs are required; the acceptor sends its MIC with the AP-REP and completes on the
    initiator's MIC without answering (as MIT's SPNEGO does)."""
    from opensspi.packages.kerberos import KerberosAuthData

    krb = registry.get("Kerberos")
    cred = krb.acquire_credentials(None, CredentialUse.OUTBOUND, KerberosAuthData(
        identity=AuthIdentity("alice", REALM, PASSWORD), config=realm.config))
    inner = krb.client_context(cred, SPN, CLIENT_REQ | IscReq.MUTUAL_AUTH)
    offered = n.NegTokenInit(mech_types=(n.NTLMSSP_OID, n.MS_KRB5_OID))
    server = realm.server(users=False)
    reply = _resp(server.step(StepInput(token=offered.to_token())).token)
    assert reply.supported_mech == n.MS_KRB5_OID and reply.response_token is None
    ap_req = realm.drive(inner, None).token
    second = _resp(server.step(StepInput(
        token=n.NegTokenResp(response_token=ap_req).build())).token)
    assert second.neg_state is n.NegState.ACCEPT_INCOMPLETE and not server.complete
    assert second.response_token is not None and second.mech_list_mic is not None
    inner.step(StepInput(token=second.response_token))
    inner.verify_mech_list_mic(offered.mech_types_raw, second.mech_list_mic)
    mic = inner.mech_list_mic(offered.mech_types_raw)
    last = server.step(StepInput(token=n.NegTokenResp(mech_list_mic=mic).build()))
    assert last.status == SecStatus.SEC_E_OK and last.token == b"" and server.complete
    assert server.unwrap(inner.wrap(b"after both MICs")) == b"after both MICs"


def test_every_state_refuses_what_it_does_not_expect(realm: Realm) -> None:
    """Each (state, input) pair: a legal step, or SspiError and a context that stays failed."""
    from opensspi.provider import SecurityContext, Step

    ntlm = opensspi.client("NTLM", user="alice", domain=REALM, password=PASSWORD, target=SPN)
    inputs: dict[str, StepInput] = {
        "none": StepInput(),
        "init": StepInput(token=n.NegTokenInit(mech_types=NTLM_ONLY,
                                               mech_token=ntlm.step()).to_token()),
        "init2": StepInput(token=n.NegTokenInit2(mech_types=ALL).to_token()),
        "resp": StepInput(token=n.NegTokenResp(
            neg_state=n.NegState.ACCEPT_INCOMPLETE, supported_mech=n.NTLMSSP_OID).build()),
        "raw": StepInput(token=b"NTLMSSP\0\x01\0\0\0" + bytes(24)),
        "kdc": StepInput(kdc_reply=b"\x7e\x03\x02\x01\x00"),
        "junk": StepInput(token=b"\x30\x03\x02\x01\x00"),
    }

    def states() -> list[tuple[str, SecurityContext]]:
        made: list[tuple[str, SecurityContext]] = [("client-initial", realm.client())]
        waiting = realm.client()
        waiting.step(StepInput())
        made.append(("client-await-kdc", waiting))
        expecting = realm.client(package_list="ntlm")
        realm.drive(expecting, None)
        made.append(("client-expect-resp", expecting))
        made.append(("server-expect-init", realm.server()))
        negotiating = realm.server()
        negotiating.step(inputs["init"])
        made.append(("server-expect-neg-resp", negotiating))
        raw = realm.server()
        raw.step(inputs["raw"])
        made.append(("server-expect-raw", raw))
        return made

    for name in inputs:
        for label, ctx in states():
            try:
                result = ctx.step(inputs[name])
            except SspiError:
                with pytest.raises(SspiError):
                    ctx.step(StepInput(token=b"\xa1\x03\x30\x01\x00"))
                continue
            assert isinstance(result, Step), (label, name)


def test_reject_token_reaches_the_output_buffer(realm: Realm) -> None:
    """AcceptSecurityContext that fails still hands the caller the SPNEGO reject for the peer."""
    first = realm.drive(realm.client(package_list="ntlm"), None).token
    _, cred, _ = sspi.AcquireCredentialsHandle(None, "Negotiate", CredentialUse.INBOUND, None,
                                               realm.server_auth(users=False))
    out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 1024)])
    with pytest.raises(InvalidToken):
        sspi.AcceptSecurityContext(cred, None, SecBufferDesc(
            [SecBuffer(SecBufferType.TOKEN, first)]), 0, 0, sspi.CtxtHandle(), out)
    assert _resp(out[0].buffer).neg_state is n.NegState.REJECT


def test_request_mic_is_honoured(realm: Realm) -> None:
    """An acceptor answering negState request-mic (RFC 4178 §4.2.2) gets the initiator's MIC,
    and the initiator completes on the acceptor's accept-completed with its own MIC."""
    client, server = realm.client(), realm.server()
    first = realm.drive(client, None).token
    raw_types = _init(first).mech_types_raw
    done = _resp(server.step(StepInput(token=first)).token)
    asking = n.NegTokenResp(neg_state=n.NegState.REQUEST_MIC, supported_mech=done.supported_mech,
                            response_token=done.response_token)
    step = client.step(StepInput(token=asking.build()))
    assert step.status == SecStatus.SEC_I_CONTINUE_NEEDED and not client.complete
    mic = _resp(step.token).mech_list_mic
    assert mic is not None
    inner = server.mechanism_context  # type: ignore[attr-defined]
    inner.verify_mech_list_mic(raw_types, mic)
    final = n.NegTokenResp(neg_state=n.NegState.ACCEPT_COMPLETED,
                           mech_list_mic=inner.mech_list_mic(raw_types))
    step = client.step(StepInput(token=final.build()))
    assert step.status == SecStatus.SEC_E_OK and client.complete
    _both_ways(client, server)


def test_kerberos_mech_list_mic_is_a_plain_mic_that_consumes_a_sequence_number(
    realm: Realm,
) -> None:
    """As MIT's SPNEGO (gss_get_mic/gss_verify_mic): the same MIC again is a replay."""
    client, server = realm.client(), realm.server()
    realm.handshake(client, server)
    ours = client.mechanism_context  # type: ignore[attr-defined]
    theirs = server.mechanism_context  # type: ignore[attr-defined]
    mic = ours.mech_list_mic(b"\x30\x00")
    theirs.verify_mech_list_mic(b"\x30\x00", mic)
    with pytest.raises(SspiError) as info:
        theirs.verify_mech_list_mic(b"\x30\x00", mic)
    assert info.value.status == SecStatus.SEC_E_OUT_OF_SEQUENCE
    _both_ways(client, server)


def test_kerberos_without_mutual_auth_completes_optimistically(realm: Realm) -> None:
    """Windows' Negotiate completes on the first call when Kerberos needs no AP-REP
    (SECPKG_NEGOTIATION_OPTIMISTIC), which pywin32's socket_server demo relies on; the
    acceptor's accept-completed, if the application passes it, confirms it."""
    client = realm.client(req=CLIENT_REQ & ~IscReq.MUTUAL_AUTH)
    server = realm.server()
    step = realm.drive(client, None)
    assert step.status == SecStatus.SEC_E_OK and client.complete
    assert client.negotiation_state == NegotiationState.OPTIMISTIC
    assert not client.flags & IscRet.MUTUAL_AUTH
    answer = server.step(StepInput(token=step.token))
    assert answer.status == SecStatus.SEC_E_OK and server.complete
    reply = _resp(answer.token)
    assert reply.neg_state is n.NegState.ACCEPT_COMPLETED and reply.response_token is None
    _both_ways(client, server)
    confirmed = client.step(StepInput(token=answer.token))
    assert confirmed.status == SecStatus.SEC_E_OK and confirmed.token == b""
    assert client.negotiation_state == NegotiationState.COMPLETE
    with pytest.raises(InvalidToken):  # nothing more is expected
        client.step(StepInput(token=answer.token))


def test_optimistic_client_learns_of_a_reject(realm: Realm) -> None:
    client = realm.client(req=CLIENT_REQ & ~IscReq.MUTUAL_AUTH)
    realm.drive(client, None)
    with pytest.raises(SspiError) as info:
        client.step(StepInput(token=n.NegTokenResp(neg_state=n.NegState.REJECT).build()))
    assert info.value.status == SecStatus.SEC_E_LOGON_DENIED
