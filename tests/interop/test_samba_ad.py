"""Our Kerberos (and raw NTLM) against a real Active Directory DC: Samba 4, started by the tests.

The DC (:mod:`interop.peers.samba_dc`, session fixture ``samba_dc``) is provisioned once. What is
proven here, each time by the DC itself accepting what we send:

- our Kerberos client gets AD tickets with a password, from a kinit ccache, from an NT hash
  (rc4-hmac only: the AS-REQ offers 23 alone, and the TGS-REP under an rc4 TGT and a subkey is
  keyed with usage 9), with its clock 10 minutes ahead or behind (kdc_timesync: the DC checks
  the AP-REQ authenticator time too), and with an enterprise name (``alice@samdom.test``);
  each proven by an LDAP SASL GSSAPI bind and a search sealed both ways that reads
  ``sAMAccountName`` back;
- raw NTLMSSP under the GSS-SPNEGO SASL mechanism, with a sealed search;
- our acceptor, with a keytab from ``samba-tool domain exportkeytab``, accepts AD tickets
  (aes256, and rc4-hmac for an account left without msDS-SupportedEncryptionTypes) and
  reports the PAC: the user's SID, "Domain Users" and the fixture's group, names and UPN, also
  through QueryContextAttributes; a PAC whose server signature was altered, or whose client
  info names someone else, is refused with SEC_E_LOGON_DENIED.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import opensspi
from interop.peers.ldap_client import LAYER_CONFIDENTIALITY, LdapClient, bind_and_search
from interop.peers.samba_dc import (
    BASE_DN,
    FQDN,
    GROUP,
    NETBIOS_DOMAIN,
    PASSWORDS,
    RC4_SERVICE_SPN,
    REALM,
    SERVICE_SPN,
    SambaDc,
)
from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import (
    SECPKG_ATTR_PAC_INFO,
    AscReq,
    CredentialUse,
    IscReq,
    SecBufferType,
    SecStatus,
)
from opensspi.crypto.md4 import md4
from opensspi.errors import InvalidToken, LogonDenied
from opensspi.packages.kerberos import asn1 as k
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.credentials import KerberosAuthData
from opensspi.packages.kerberos.crypto import Key, decrypt, encrypt, make_checksum
from opensspi.packages.kerberos.keytab import load_keytab
from opensspi.packages.kerberos.pac import (
    PAC_CLIENT_INFO,
    PAC_PRIVSVR_CHECKSUM,
    PAC_SERVER_CHECKSUM,
    PacInfo,
    parse_pac,
)
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import DEFAULT_ENVIRONMENT, AuthIdentity, Environment

FLAGS = (IscReq.MUTUAL_AUTH | IscReq.INTEGRITY | IscReq.CONFIDENTIALITY
         | IscReq.SEQUENCE_DETECT | IscReq.REPLAY_DETECT)
LDAP_SPN = f"ldap/{FQDN}"
#: The DC's address: the SPN comes from the target name, so our clients need no name lookup
#: (the fixture's /etc/hosts line is for Samba and for MIT/Cyrus tools).
ADDRESS = "127.0.0.1"
DOMAIN_USERS_RID = 513


@pytest.fixture(autouse=True)
def _fresh_ticket_caches() -> Iterator[None]:
    # Tickets are shared per identity in the process (as Windows shares them per logon
    # session); each test starts from the KDC.
    TicketCache.forget_all()
    yield
    TicketCache.forget_all()


def config(dc: SambaDc, **libdefaults: object) -> Krb5Config:
    return Krb5Config.from_string(dc.krb5_conf_text(**libdefaults))


def alice(dc: SambaDc, user: str = "alice", **options: object) -> KerberosAuthData:
    identity = AuthIdentity(user, REALM, PASSWORDS["alice"])
    return KerberosAuthData(identity=identity, config=config(dc), **options)  # type: ignore[arg-type]


def read_account_over_ldap(context: opensspi.Context, mechanism: str = "GSSAPI") -> str:
    """Bind with ``context``, then search sealed for alice; return sAMAccountName as read."""
    with LdapClient(ADDRESS) as ldap:
        result = ldap.sasl_bind(context, mechanism)
        assert result.layer == LAYER_CONFIDENTIALITY and ldap.sealed
        entries = ldap.search(BASE_DN, "sAMAccountName", "alice", ["sAMAccountName"])
    assert len(entries) == 1
    assert entries[0].dn.lower() == f"cn=alice,cn=users,{BASE_DN}".lower()
    return entries[0].attributes["sAMAccountName"][0].decode("utf-8")


def ldap_kerberos(dc: SambaDc, auth: KerberosAuthData,
                  env: Environment = DEFAULT_ENVIRONMENT) -> opensspi.Context:
    return opensspi.client("Kerberos", target=LDAP_SPN, flags=FLAGS, auth_data=auth, env=env)


# ---------------------------------------------------------------------------------------------
# Our Kerberos client against the AD KDC and LDAP server
# ---------------------------------------------------------------------------------------------


def test_provisioned_once(samba_dc: SambaDc) -> None:
    assert samba_dc.timings["provision"] > 0 and samba_dc.timings["start"] > 0
    assert samba_dc.sids["alice"].startswith("S-1-5-21-")
    assert samba_dc.keytab.is_file()


def test_password_gets_ad_tickets_and_seals_ldap(samba_dc: SambaDc) -> None:
    context = ldap_kerberos(samba_dc, alice(samba_dc))
    assert read_account_over_ldap(context) == "alice"
    assert context.client_name == f"alice@{REALM}"


def test_kinit_ccache(samba_dc: SambaDc, tmp_path: Path) -> None:
    ccache = samba_dc.kinit(f"alice@{REALM}", PASSWORDS["alice"], tmp_path / "cc")
    auth = KerberosAuthData(ccache=f"FILE:{ccache}", config=config(samba_dc))
    context = ldap_kerberos(samba_dc, auth)
    assert read_account_over_ldap(context) == "alice"


def test_nt_hash_uses_rc4_only(samba_dc: SambaDc) -> None:
    # Before: the AS-REQ offered AES too, the KDC asked for AES pre-authentication, and an NT
    # hash cannot make an AES key (SEC_E_KDC_UNKNOWN_ETYPE). After the TGT (rc4 session key),
    # the TGS-REP comes under our rc4 subkey with usage 9 (it was decrypted with 8 before).
    nt_hash = md4(PASSWORDS["alice"].encode("utf-16-le"))
    identity = AuthIdentity("alice", REALM, nt_hash=nt_hash)
    auth = KerberosAuthData(identity=identity, config=config(samba_dc), allow_rc4=True)
    cred = opensspi.credentials("Kerberos", auth_data=auth)
    context = opensspi.client("Kerberos", target=LDAP_SPN, flags=FLAGS, credential=cred)
    assert read_account_over_ldap(context) == "alice"
    tgt = next(t for t in cred.cache.tickets() if t.is_tgt)  # type: ignore[attr-defined]
    assert tgt.session_key.enctype == 23


@pytest.mark.parametrize("minutes", [10, -10])
def test_skewed_client_clock(samba_dc: SambaDc, minutes: int) -> None:
    # Our clock (only ours: the system clock is untouched) is 10 minutes off the DC's, beyond
    # the 5-minute skew; the AS exchange is retried with the DC's time and the offset kept.
    def skewed() -> datetime:
        return datetime.now(timezone.utc) + timedelta(minutes=minutes)

    auth = alice(samba_dc)
    cred = opensspi.credentials("Kerberos", auth_data=auth)
    context = opensspi.client("Kerberos", target=LDAP_SPN, flags=FLAGS, credential=cred,
                              env=Environment(now=skewed))
    assert read_account_over_ldap(context) == "alice"
    offset = cred.kdc_time_offset  # type: ignore[attr-defined]
    assert offset is not None and abs(offset + timedelta(minutes=minutes)) < timedelta(minutes=1)
    # A second handle of the same identity (pywin32's ClientAuth makes one per connection)
    # reuses the tickets without a KDC exchange, and the offset with them.
    again = opensspi.client("Kerberos", target=LDAP_SPN, flags=FLAGS, auth_data=auth,
                            env=Environment(now=skewed))
    assert read_account_over_ldap(again) == "alice"


def test_enterprise_name(samba_dc: SambaDc) -> None:
    auth = alice(samba_dc, user=f"alice@{samba_dc.realm.lower()}")
    context = ldap_kerberos(samba_dc, auth)
    assert read_account_over_ldap(context) == "alice"
    # Canonicalized by the KDC: the ticket names alice@SAMDOM.TEST, not the UPN.
    assert context.client_name == f"alice@{REALM}"


def test_raw_ntlm_over_gss_spnego(samba_dc: SambaDc) -> None:
    # The package is a parameter of the helper: the Negotiate tests call it with "Negotiate".
    result, entries = bind_and_search(
        ADDRESS, "NTLM", base=BASE_DN, attribute="sAMAccountName", value="alice",
        attributes=["sAMAccountName"], user="alice", domain=NETBIOS_DOMAIN,
        password=PASSWORDS["alice"], target=LDAP_SPN, flags=FLAGS,
    )
    assert result.legs == 2 and result.layer == LAYER_CONFIDENTIALITY
    assert [e.attributes["sAMAccountName"] for e in entries] == [[b"alice"]]


# ---------------------------------------------------------------------------------------------
# Our acceptor with the exported keytab, and the PAC
# ---------------------------------------------------------------------------------------------


def acceptor_auth(dc: SambaDc) -> KerberosAuthData:
    return KerberosAuthData(acceptor_keytab=f"FILE:{dc.keytab}", config=config(dc))


def ap_req_for_service(dc: SambaDc, auth: KerberosAuthData | None = None) -> bytes:
    client = opensspi.client("Kerberos", target=SERVICE_SPN, flags=FLAGS,
                             auth_data=auth or alice(dc))
    token = client.step()
    assert token is not None
    return token


def check_alice_pac(dc: SambaDc, pac: PacInfo | None) -> None:
    assert pac is not None
    assert pac.user_sid == dc.sids["alice"]
    assert f"{dc.domain_sid}-{DOMAIN_USERS_RID}" in pac.group_sids  # Domain Users
    assert dc.sids[GROUP] in pac.group_sids
    assert pac.domain_sid == dc.domain_sid
    assert pac.logon_name == "alice" and pac.client_name == "alice"
    assert pac.domain == NETBIOS_DOMAIN
    assert pac.upn == f"alice@{dc.realm.lower()}"
    assert pac.dns_domain is not None and pac.dns_domain.upper() == REALM


def test_acceptor_reports_the_pac(samba_dc: SambaDc) -> None:
    client = opensspi.client("Kerberos", target=SERVICE_SPN, flags=FLAGS,
                             auth_data=alice(samba_dc))
    server = opensspi.server("Kerberos", auth_data=acceptor_auth(samba_dc))
    reply = server.step(client.step())
    assert client.step(reply) is None and client.complete and server.complete
    assert server.client_name == f"alice@{REALM}"
    check_alice_pac(samba_dc, server.context.pac)  # type: ignore[attr-defined]
    assert server.unwrap(client.wrap(b"to the service")) == b"to the service"
    assert client.unwrap(server.wrap(b"to alice")) == b"to alice"


def test_rc4_ticket_and_hmac_md5_pac_signature(samba_dc: SambaDc) -> None:
    # A service account as AD leaves it gets rc4-hmac tickets; the PAC server signature is then
    # HMAC-MD5 (MS-PAC 2.8.1), checked with the rc4 key from its exported keytab.
    client = opensspi.client("Kerberos", target=RC4_SERVICE_SPN, flags=FLAGS,
                             auth_data=alice(samba_dc, allow_rc4=True))
    token = client.step()
    assert token is not None
    ticket = k.ApReq.from_der(k.gss_unwrap_token(token)[2]).ticket
    assert ticket.enc_part.etype == 23
    server = opensspi.server("Kerberos", auth_data=KerberosAuthData(
        acceptor_keytab=f"FILE:{samba_dc.rc4_keytab}", config=config(samba_dc), allow_rc4=True))
    assert client.step(server.step(token)) is None and server.complete
    check_alice_pac(samba_dc, server.context.pac)  # type: ignore[attr-defined]
    assert server.unwrap(client.wrap(b"rc4")) == b"rc4"


def test_pac_through_query_context_attributes(samba_dc: SambaDc) -> None:
    token = ap_req_for_service(samba_dc)
    cred = sspi.AcquireCredentialsHandle(
        None, "Kerberos", CredentialUse.INBOUND, None, acceptor_auth(samba_dc)
    ).credential
    context = sspi.CtxtHandle()
    out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48000)])
    result = sspi.AcceptSecurityContext(
        cred, None, SecBufferDesc([SecBuffer(SecBufferType.TOKEN, token)]),
        AscReq.CONFIDENTIALITY | AscReq.INTEGRITY, 0, context, out,
    )
    assert result.status == SecStatus.SEC_E_OK
    pac = sspi.QueryContextAttributes(context, SECPKG_ATTR_PAC_INFO)
    assert isinstance(pac, PacInfo)
    check_alice_pac(samba_dc, pac)
    sspi.DeleteSecurityContext(context)
    sspi.FreeCredentialsHandle(cred)


def test_enterprise_name_ticket_at_our_acceptor(samba_dc: SambaDc) -> None:
    token = ap_req_for_service(samba_dc, alice(samba_dc, user=f"alice@{samba_dc.realm.lower()}"))
    server = opensspi.server("Kerberos", auth_data=acceptor_auth(samba_dc))
    server.step(token)
    assert server.complete and server.client_name == f"alice@{REALM}"
    check_alice_pac(samba_dc, server.context.pac)  # type: ignore[attr-defined]


# -- tampering: we hold the service key, so we can open the ticket, change it and re-seal it --


def _service_key(dc: SambaDc, etype: int) -> Key:
    keytab = load_keytab(f"FILE:{dc.keytab}")
    entries = [e for e in keytab.entries if e.enctype == etype]
    best = max(entries, key=lambda e: e.kvno)
    return Key(best.enctype, best.key)


def _retouch_pac(dc: SambaDc, token: bytes, change: object) -> bytes:
    """The AP-REQ ``token`` with its ticket's PAC replaced by ``change(pac_bytes, key)``."""
    oid, tok_id, body = k.gss_unwrap_token(token)
    ap_req = k.ApReq.from_der(body)
    key = _service_key(dc, ap_req.ticket.enc_part.etype)
    part = k.EncTicketPart.from_der(decrypt(key, 2, ap_req.ticket.enc_part.cipher))
    assert part.authorization_data is not None
    entries = []
    for entry in part.authorization_data:
        if entry.ad_type == k.AdType.AD_IF_RELEVANT:
            inner = [
                k.AuthorizationDataEntry(e.ad_type, change(e.ad_data, key))  # type: ignore[operator]
                if e.ad_type == k.AdType.AD_WIN2K_PAC else e
                for e in k.decode_authorization_data(entry.ad_data)
            ]
            entry = k.AuthorizationDataEntry(entry.ad_type, k.encode_authorization_data(inner))
        entries.append(entry)
    part = dataclasses.replace(part, authorization_data=tuple(entries))
    sealed = dataclasses.replace(ap_req.ticket.enc_part, cipher=encrypt(key, 2, part.to_der()))
    ticket = dataclasses.replace(ap_req.ticket, enc_part=sealed)
    return k.gss_wrap_token(oid, tok_id, dataclasses.replace(ap_req, ticket=ticket).to_der())


def _resign(raw: bytes, key: Key) -> bytes:
    """Compute the server signature again over ``raw`` (as a KDC would, MS-PAC 2.8.1)."""
    pac = parse_pac(raw)
    server, kdc = pac.get(PAC_SERVER_CHECKSUM), pac.get(PAC_PRIVSVR_CHECKSUM)
    assert server is not None and kdc is not None
    size = len(make_checksum(key, 17, b""))
    zeroed = bytearray(raw)
    zeroed[server.offset + 4 : server.offset + 4 + size] = bytes(size)
    kdc_size = 16 if int.from_bytes(kdc.data[:4], "little", signed=True) == -138 else 12
    zeroed[kdc.offset + 4 : kdc.offset + 4 + kdc_size] = bytes(kdc_size)
    signature = make_checksum(key, 17, bytes(zeroed))
    out = bytearray(raw)
    out[server.offset + 4 : server.offset + 4 + size] = signature
    return bytes(out)


def test_untouched_retouch_is_accepted(samba_dc: SambaDc) -> None:
    # The tampering helper itself changes nothing when asked to change nothing.
    token = _retouch_pac(samba_dc, ap_req_for_service(samba_dc), lambda raw, key: raw)
    server = opensspi.server("Kerberos", auth_data=acceptor_auth(samba_dc))
    server.step(token)
    check_alice_pac(samba_dc, server.context.pac)  # type: ignore[attr-defined]


def test_altered_pac_signature_is_refused(samba_dc: SambaDc) -> None:
    def flip(raw: bytes, key: Key) -> bytes:
        server = parse_pac(raw).get(PAC_SERVER_CHECKSUM)
        assert server is not None
        out = bytearray(raw)
        out[server.offset + 4] ^= 0x01
        return bytes(out)

    token = _retouch_pac(samba_dc, ap_req_for_service(samba_dc), flip)
    server = opensspi.server("Kerberos", auth_data=acceptor_auth(samba_dc))
    with pytest.raises(LogonDenied) as info:
        server.step(token)
    assert info.value.status == SecStatus.SEC_E_LOGON_DENIED
    assert info.value.krb_error == k.ErrorCode.KRB_AP_ERR_MODIFIED  # type: ignore[attr-defined]
    assert "signature" in str(info.value)


def test_altered_group_without_a_new_signature_is_refused(samba_dc: SambaDc) -> None:
    from opensspi.packages.kerberos.pac import PAC_LOGON_INFO

    def add_group(raw: bytes, key: Key) -> bytes:
        logon = parse_pac(raw).get(PAC_LOGON_INFO)
        assert logon is not None
        out = bytearray(raw)
        out[logon.offset + 16 + 4 + 100 + 4] ^= 0x01  # PrimaryGroupId: 513 -> 512 (Domain Admins)
        return bytes(out)

    token = _retouch_pac(samba_dc, ap_req_for_service(samba_dc), add_group)
    with pytest.raises(LogonDenied):
        opensspi.server("Kerberos", auth_data=acceptor_auth(samba_dc)).step(token)


def test_client_info_of_another_user_is_refused(samba_dc: SambaDc) -> None:
    # Re-signed with the service key, so only the client-info check can catch it.
    def rename(raw: bytes, key: Key) -> bytes:
        info = parse_pac(raw).get(PAC_CLIENT_INFO)
        assert info is not None and info.data[10:20] == "alice".encode("utf-16-le")
        out = bytearray(raw)
        out[info.offset + 10 : info.offset + 20] = "mallo".encode("utf-16-le")
        return _resign(bytes(out), key)

    token = _retouch_pac(samba_dc, ap_req_for_service(samba_dc), rename)
    with pytest.raises(LogonDenied) as info:
        opensspi.server("Kerberos", auth_data=acceptor_auth(samba_dc)).step(token)
    assert "mallo" in str(info.value) and info.value.status == SecStatus.SEC_E_LOGON_DENIED


def test_client_info_of_another_logon_time_is_refused(samba_dc: SambaDc) -> None:
    def earlier(raw: bytes, key: Key) -> bytes:
        info = parse_pac(raw).get(PAC_CLIENT_INFO)
        assert info is not None
        out = bytearray(raw)
        out[info.offset + 1] ^= 0x10  # ClientId moves by 0.4 ms
        return _resign(bytes(out), key)

    token = _retouch_pac(samba_dc, ap_req_for_service(samba_dc), earlier)
    with pytest.raises(LogonDenied) as info:
        opensspi.server("Kerberos", auth_data=acceptor_auth(samba_dc)).step(token)
    assert "logon at" in str(info.value)


def test_truncated_pac_is_an_invalid_token(samba_dc: SambaDc) -> None:
    token = _retouch_pac(samba_dc, ap_req_for_service(samba_dc), lambda raw, key: raw[:40])
    with pytest.raises(InvalidToken) as info:
        opensspi.server("Kerberos", auth_data=acceptor_auth(samba_dc)).step(token)
    assert info.value.status == SecStatus.SEC_E_INVALID_TOKEN
