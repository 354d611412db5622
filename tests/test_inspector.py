"""``opensspi inspect`` and ``opensspi klist``: recorded tokens (MS-NLMP 4.2 vectors, MIT krb5
captures) and tokens made by opensspi's own contexts, field by field; checks with secrets; and
malformed input ending as one line on stderr with exit code 2.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opensspi
from opensspi import AuthIdentity, IscReq, cli
from opensspi.der import encode_initial_context_token
from opensspi.inspector import InspectError, decode_text, inspect_bytes, inspect_input, to_json
from opensspi.packages.digest.credentials import DigestAcceptorConfig
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.ccache import CcachePrincipal
from opensspi.packages.kerberos.keytab import Keytab, KeytabEntry
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.packages.negotiate import asn1 as spnego
from opensspi.packages.ntlm.crypto import ntowfv1
from opensspi.testing.kdc import MiniKdc

VECTORS = Path(__file__).parent / "vectors"


def vectors(path: str) -> dict[str, dict[str, Any]]:
    data = json.loads((VECTORS / path).read_text())
    return {e["name"]: e for e in data["entries"]}


def vector(path: str, name: str) -> bytes:
    return bytes.fromhex(vectors(path)[name]["hex"].replace(" ", ""))


NLMP = "ms-nlmp/ntlmv2.json"
MIT_KDC = "peers/mit/kdc.json"
MIT_AP = "peers/mit/ap.json"
MIT_SPNEGO = "peers/mit/spnego.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def inspect_json(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    rc, out, err = run(capsys, "inspect", "--json", *argv)
    assert rc == code, err
    return json.loads(out)


# -- NTLM -------------------------------------------------------------------------------------


def test_ms_nlmp_challenge_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    report = inspect_json(capsys, vector(NLMP, "CHALLENGE_MESSAGE").hex())
    assert report["type"].startswith("NTLM CHALLENGE_MESSAGE")
    assert report["server_challenge"] == "0123456789abcdef"
    assert report["target_name"] == "Server"
    assert report["negotiate_flags"]["value"] == 0xE28A8233
    assert "NTLMSSP_NEGOTIATE_KEY_EXCH" in report["negotiate_flags"]["names"]
    assert "NTLMSSP_TARGET_TYPE_SERVER" in report["negotiate_flags"]["names"]
    assert [(p["av_id"]["name"], p["value"]) for p in report["target_info"]] == [
        ("MsvAvNbDomainName", "Domain"), ("MsvAvNbComputerName", "Server")]
    assert report["version"] == {"product": "6.0.6000", "ntlm_revision": 15}


def test_ms_nlmp_authenticate_and_its_ntproofstr(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    challenge = tmp_path / "challenge.hex"
    challenge.write_text(vector(NLMP, "CHALLENGE_MESSAGE").hex())
    auth = base64.b64encode(vector(NLMP, "AUTHENTICATE_MESSAGE")).decode()
    report = inspect_json(capsys, f"Authorization: NTLM {auth}", "--password", "Password",
                          "--challenge", str(challenge))
    assert report["http"] == {"header": "authorization", "scheme": "NTLM"}
    assert (report["user_name"], report["domain_name"], report["workstation"]) == (
        "User", "Domain", "COMPUTER")
    nt = report["nt_challenge_response"]
    assert nt["nt_proof_str"] == "68cd0ab851e51c96aabc927bebef6a1c"
    assert nt["challenge_from_client"] == "aaaaaaaaaaaaaaaa"
    assert report["encrypted_random_session_key"] == "c5dad2544fc9799094ce1ce90bc9d03e"
    assert report["checks"]["nt_proof_str"] == "valid for user 'User' in domain 'Domain'"
    # The same with the NT hash, and the wrong password fails the check (exit code 1).
    nt_hash = ntowfv1("Password").hex()
    report = inspect_json(capsys, auth, "--nt-hash", nt_hash, "--challenge", str(challenge))
    assert report["checks"]["nt_proof_str"].startswith("valid")
    rc, out, err = run(capsys, "inspect", auth, "--password", "wrong", "--challenge",
                       str(challenge))
    assert rc == 1 and "nt_proof_str: INVALID" in out and "check failed" in err
    # The checks never print the keys they compute.
    assert nt_hash not in out


def ntlm_handshake(password: str = "Pa55-word") -> tuple[bytes, bytes, bytes]:
    client = opensspi.client("NTLM", user="CORP\\alice", password=password,
                             target="HTTP/web.corp.example")
    server = opensspi.server("NTLM", users={"CORP\\alice": password})
    negotiate = client.step()
    assert negotiate is not None
    challenge = server.step(negotiate)
    assert challenge is not None
    authenticate = client.step(challenge)
    assert authenticate is not None
    server.step(authenticate)
    assert server.complete
    return negotiate, challenge, authenticate


def test_our_own_ntlm_handshake_with_mic(capsys: pytest.CaptureFixture[str]) -> None:
    negotiate, challenge, authenticate = ntlm_handshake()
    report = inspect_json(capsys, base64.b64encode(challenge).decode())
    names = [p["av_id"]["name"] for p in report["target_info"]]
    assert "MsvAvTimestamp" in names and "MsvAvNbDomainName" in names
    report = inspect_json(
        capsys, authenticate.hex(), "--password", "Pa55-word",
        "--negotiate", "NTLM " + base64.b64encode(negotiate).decode(),
        "--challenge", "WWW-Authenticate: NTLM " + base64.b64encode(challenge).decode())
    assert report["user_name"] == "alice" and report["domain_name"] == "CORP"
    assert len(report["mic"]) == 32
    avs = {p["av_id"]["name"]: p["value"] for p in report["nt_challenge_response"]["av_pairs"]}
    assert "MIC_PROVIDED" in avs["MsvAvFlags"]["names"]
    assert avs["MsvAvTargetName"] == "HTTP/web.corp.example"
    assert report["checks"] == {"nt_proof_str": "valid for user 'alice' in domain 'CORP'",
                                "mic": "valid"}
    # A MIC over another handshake's NEGOTIATE does not verify.
    other, _, _ = ntlm_handshake()
    tampered = other[:-1] + bytes([other[-1] ^ 1])
    rc, out, _ = run(capsys, "inspect", authenticate.hex(), "--password", "Pa55-word",
                     "--negotiate", tampered.hex(), "--challenge", challenge.hex())
    assert rc == 1 and "mic: INVALID" in out


def test_text_output_names_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    negotiate, _, _ = ntlm_handshake()
    rc, out, _ = run(capsys, "inspect", "NTLM " + base64.b64encode(negotiate).decode())
    assert rc == 0
    assert "type: NTLM NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1)" in out
    assert re.search(r"negotiate_flags: 0x[0-9a-f]{8} \(.*NTLMSSP_NEGOTIATE_UNICODE", out)


# -- SPNEGO and Kerberos ------------------------------------------------------------------------


def test_mit_spnego_init_and_resp(capsys: pytest.CaptureFixture[str]) -> None:
    init = vector(MIT_SPNEGO, "spnego initiator #0")
    report = inspect_json(capsys, "Negotiate " + base64.b64encode(init).decode())
    assert report["mech"] == "1.3.6.1.5.5.2 (SPNEGO)"
    assert report["type"] == "SPNEGO NegTokenInit (RFC 4178 4.2.1)"
    assert report["mech_types"] == ["1.2.840.113554.1.2.2 (Kerberos 5)"]
    inner = report["mech_token"]
    assert inner["tok_id"] == "0100 (KRB_AP_REQ)" and inner["type"].startswith("Kerberos AP-REQ")
    assert inner["ticket"]["sname"] == {"name": "host/server.test.local",
                                        "name_type": {"value": 3, "name": "NT_SRV_HST"}}
    assert inner["ap_options"]["names"] == ["MUTUAL_REQUIRED"]
    resp = inspect_json(capsys, vector(MIT_SPNEGO, "spnego-windows-init acceptor #1").hex())
    assert resp["neg_state"] == {"value": 0, "name": "ACCEPT_COMPLETED"}
    assert resp["supported_mech"] == "1.2.840.48018.1.2.2 (Kerberos 5 (Microsoft OID))"
    assert resp["response_token"]["tok_id"] == "0200 (KRB_AP_REP)"
    assert resp["response_token"]["enc_part"]["etype"]["name"] == "aes256-cts-hmac-sha1-96"


def test_mit_kdc_exchange(capsys: pytest.CaptureFixture[str]) -> None:
    as_req = inspect_json(capsys, vector(MIT_KDC, "kinit #0 AS-REQ").hex())
    assert as_req["type"] == "Kerberos AS-REQ (RFC 4120 5.4.1)"
    body = as_req["req_body"]
    assert body["cname"]["name"] == "alice" and body["realm"] == "TEST.LOCAL"
    assert body["sname"]["name"] == "krbtgt/TEST.LOCAL"
    assert "aes256-cts-hmac-sha1-96" in [e["name"] for e in body["etype"]]
    assert "RENEWABLE_OK" in body["kdc_options"]["names"]
    error = inspect_json(capsys, vector(MIT_KDC, "kinit #0 KRB-ERROR").hex())
    assert error["error_code"] == {"value": 25, "name": "KDC_ERR_PREAUTH_REQUIRED"}
    (info2,) = [p for p in error["e_data_method_data"]
                if p["padata_type"]["name"] == "PA_ETYPE_INFO2"]
    assert info2["etype_info2"][0]["salt"] == "TEST.LOCALalice"
    with_ts = inspect_json(capsys, vector(MIT_KDC, "kinit #1 AS-REQ").hex())
    (ts,) = [p for p in with_ts["padata"] if p["padata_type"]["name"] == "PA_ENC_TIMESTAMP"]
    assert ts["enc_timestamp"]["etype"]["value"] == 18
    as_rep = inspect_json(capsys, vector(MIT_KDC, "kinit #1 AS-REP").hex())
    assert as_rep["cname"]["name"] == "alice@TEST.LOCAL"
    assert as_rep["ticket"]["sname"]["name"] == "krbtgt/TEST.LOCAL"
    tgs = inspect_json(capsys, vector(MIT_KDC, "krb5 #5 TGS-REQ").hex())
    (pa,) = [p for p in tgs["padata"] if p["padata_type"]["name"] == "PA_TGS_REQ"]
    assert pa["ap_req"]["ticket"]["sname"]["name"] == "krbtgt/TEST.LOCAL"
    unknown = inspect_json(capsys, vector(MIT_KDC, "unknown-service #7 KRB-ERROR").hex())
    assert unknown["error_code"]["name"] == "KDC_ERR_S_PRINCIPAL_UNKNOWN"


def _keytab_for(path: Path, service: str, realm: str, key_hex: str, kvno: int = 1) -> Path:
    entry = KeytabEntry(CcachePrincipal(1, tuple(service.split("/")), realm),
                        int(time.time()), kvno, 18, bytes.fromhex(key_hex))
    Keytab((entry,)).save(path)
    return path


def test_mit_ap_req_decrypted_with_a_keytab(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    entries = vectors(MIT_AP)
    token = bytes.fromhex(entries["gss krb5 initiator #0"]["hex"])
    key = entries["gss krb5 initiator #0 AP-REQ ticket EncTicketPart"]["key"]["hex"]
    keytab = _keytab_for(tmp_path / "server.keytab", "host/server.test.local", "TEST.LOCAL", key)
    rc, text, _ = run(capsys, "inspect", token.hex(), "--keytab", str(keytab))
    assert rc == 0
    report = inspect_json(capsys, token.hex(), "--keytab", str(keytab))
    ticket = report["decrypted"]["ticket"]
    assert ticket["cname"]["name"] == "alice@TEST.LOCAL" and ticket["crealm"] == "TEST.LOCAL"
    assert ticket["key"] == {"keytype": {"value": 18, "name": "aes256-cts-hmac-sha1-96"},
                             "length": 32}
    assert "PRE_AUTHENT" in ticket["flags"]["names"]
    auth = report["decrypted"]["authenticator"]
    assert auth["cname"]["name"] == "alice@TEST.LOCAL"
    assert auth["cksum"]["cksumtype"]["name"] == "GSSAPI"
    assert auth["cksum"]["flags"]["names"] == [
        "GSS_C_MUTUAL_FLAG", "GSS_C_REPLAY_FLAG", "GSS_C_SEQUENCE_FLAG", "GSS_C_CONF_FLAG",
        "GSS_C_INTEG_FLAG", "GSS_C_TRANS_FLAG"]
    assert auth["subkey"]["length"] == 32 and auth["seq_number"] is not None
    # No key reaches the output: the service key, nor the ticket's session key.
    session = entries["gss krb5 initiator #0 AP-REQ Authenticator"]["key"]["hex"]
    for secret in (key, session):
        assert secret not in text and secret not in json.dumps(report)
    # Another key: the check fails, exit code 1.
    wrong = _keytab_for(tmp_path / "wrong.keytab", "host/server.test.local", "TEST.LOCAL",
                        "00" * 32)
    rc, out, err = run(capsys, "inspect", token.hex(), "--keytab", str(wrong))
    assert rc == 1 and "decryption failed" in out and "decryption failed" in err


@pytest.fixture
def realm(tmp_path: Path) -> Iterator[tuple[MiniKdc, Path, Any]]:
    TicketCache.forget_all()
    ReplayCache.shared().clear()
    kdc = MiniKdc("EXAMPLE.TEST")
    kdc.add_user("alice", "Al1ce-pw")
    service = kdc.add_service("HTTP/web.example.test")
    with kdc.serve():
        keytab = kdc.write_keytab(tmp_path / "web.keytab", service)
        yield kdc, keytab, kdc.krb5_config()
    TicketCache.forget_all()
    ReplayCache.shared().clear()


def test_our_own_kerberos_tokens(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 realm: tuple[MiniKdc, Path, Any]) -> None:
    _, keytab, config = realm
    cache = tmp_path / "ccache"
    client = opensspi.client(
        "Kerberos", target="HTTP/web.example.test",
        flags=IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY | IscReq.INTEGRITY,
        auth_data=KerberosAuthData(identity=AuthIdentity("alice", "EXAMPLE.TEST", "Al1ce-pw"),
                                   config=config, write_ccache=f"FILE:{cache}"))
    server = opensspi.server(
        "Kerberos", auth_data=KerberosAuthData(acceptor_keytab=str(keytab), config=config))
    ap_req = client.step()
    assert ap_req is not None
    ap_rep = server.step(ap_req)
    assert ap_rep is not None
    client.step(ap_rep)
    report = inspect_json(capsys, ap_req.hex(), "--keytab", str(keytab))
    assert report["ticket"]["sname"]["name"] == "HTTP/web.example.test"
    decrypted = report["decrypted"]
    assert decrypted["ticket"]["cname"]["name"] == "alice@EXAMPLE.TEST"
    assert {"GSS_C_MUTUAL_FLAG", "GSS_C_CONF_FLAG", "GSS_C_INTEG_FLAG"} <= set(
        decrypted["authenticator"]["cksum"]["flags"]["names"])
    assert inspect_json(capsys, ap_rep.hex())["tok_id"] == "0200 (KRB_AP_REP)"
    # Per-message tokens: a Wrap token from the client, sealed, and a MIC.
    wrapped = client.wrap(b"hello")
    wrap = inspect_json(capsys, wrapped.hex())
    assert wrap["type"] == "GSS Wrap token (RFC 4121 4.2.6.2)"
    assert "Sealed" in wrap["flags"]["names"] and "SentByAcceptor" not in wrap["flags"]["names"]
    mic = inspect_json(capsys, server.sign(b"data").hex())
    assert mic["type"] == "GSS MIC token (RFC 4121 4.2.6.1)"
    assert "SentByAcceptor" in mic["flags"]["names"]

    # klist of the cache the client wrote: TGT and service ticket, flags and enctypes, in
    # MIT's layout (C locale dates).
    rc, out, err = run(capsys, "klist", "-f", "-e", "-c", f"FILE:{cache}")
    assert rc == 0, err
    date = r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d"
    etypes = "Etype (skey, tkt): aes256-cts-hmac-sha1-96, aes256-cts-hmac-sha1-96 "
    assert re.fullmatch(
        f"Ticket cache: FILE:{re.escape(str(cache))}\n"
        "Default principal: alice@EXAMPLE.TEST\n\n"
        "Valid starting     Expires            Service principal\n"
        f"{date}  {date}  krbtgt/EXAMPLE.TEST@EXAMPLE.TEST\n"
        f"\tFlags: FIA, {re.escape(etypes)}\n"
        f"{date}  {date}  HTTP/web.example.test@EXAMPLE.TEST\n"
        f"\tFlags: FA, {re.escape(etypes)}\n", out), out
    rc, _, err = run(capsys, "klist", "-c", f"FILE:{tmp_path / 'none'}")
    assert rc == 1 and err.startswith("opensspi klist: error: ") and err.count("\n") == 1


def test_spnego_wrapped_ntlm_and_checks_through_the_wrapping(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """NTLM inside SPNEGO, as Negotiate sends it: inspected recursively, and the CHALLENGE and
    NEGOTIATE for the checks may be SPNEGO-wrapped too."""
    negotiate, challenge, authenticate = ntlm_handshake()
    init = spnego.NegTokenInit(mech_types=(spnego.NTLMSSP_OID,), mech_token=negotiate).to_token()
    resp = spnego.NegTokenResp(neg_state=spnego.NegState.ACCEPT_INCOMPLETE,
                               supported_mech=spnego.NTLMSSP_OID,
                               response_token=challenge).to_der()
    final = spnego.NegTokenResp(response_token=authenticate).to_der()
    report = inspect_json(
        capsys, "Authorization: Negotiate " + base64.b64encode(final).decode(),
        "--password", "Pa55-word",
        "--negotiate", base64.b64encode(init).decode(),
        "--challenge", "WWW-Authenticate: Negotiate " + base64.b64encode(resp).decode())
    assert report["type"] == "SPNEGO NegTokenResp (RFC 4178 4.2.2)"
    inner = report["response_token"]
    assert inner["type"].startswith("NTLM AUTHENTICATE_MESSAGE")
    assert inner["checks"] == {"nt_proof_str": "valid for user 'alice' in domain 'CORP'",
                               "mic": "valid"}
    first = inspect_json(capsys, init.hex())
    assert first["mech_types"] == ["1.3.6.1.4.1.311.2.2.10 (NTLMSSP)"]
    assert first["mech_token"]["type"].startswith("NTLM NEGOTIATE_MESSAGE")
    second = inspect_json(capsys, resp.hex())
    assert second["neg_state"]["name"] == "ACCEPT_INCOMPLETE"
    assert second["response_token"]["server_challenge"] == challenge[24:32].hex()


def test_windows_style_neg_token_init2(capsys: pytest.CaptureFixture[str]) -> None:
    token = spnego.NegTokenInit2(
        mech_types=(spnego.MS_KRB5_OID, spnego.KRB5_OID, spnego.NEGOEX_OID, spnego.NTLMSSP_OID),
        neg_hints=spnego.NegHints(hint_name="not_defined_in_RFC4178@please_ignore"),
    ).to_token()
    report = inspect_json(capsys, "WWW-Authenticate: Negotiate " + base64.b64encode(token).decode())
    assert report["type"] == "SPNEGO NegTokenInit2 (MS-SPNG 2.2.1)"
    assert report["mech_types"] == [
        "1.2.840.48018.1.2.2 (Kerberos 5 (Microsoft OID))", "1.2.840.113554.1.2.2 (Kerberos 5)",
        "1.3.6.1.4.1.311.2.2.30 (NegoEx)", "1.3.6.1.4.1.311.2.2.10 (NTLMSSP)"]
    assert report["neg_hints"]["hint_name"] == "not_defined_in_RFC4178@please_ignore"
    assert report["mech_token"] is None


def test_kdc_tcp_framing_and_legacy_gss_token(capsys: pytest.CaptureFixture[str]) -> None:
    error = vector(MIT_KDC, "kinit #0 KRB-ERROR")
    framed = len(error).to_bytes(4, "big") + error
    report = inspect_json(capsys, framed.hex())
    assert report["framing"] == "TCP record marker (RFC 4120 7.2.2)"
    assert report["error_code"]["name"] == "KDC_ERR_PREAUTH_REQUIRED"
    # An RFC 4757 (RC4) MIC token: SGN_ALG 0x11 HMAC MD5, SEAL_ALG 0xffff, framed (RFC 1964 1.2).
    body = b"\x01\x01" + b"\x11\x00" + b"\xff\xff" + b"\xff\xff" + bytes(8) + bytes(8)
    legacy = encode_initial_context_token(spnego.KRB5_OID, body)
    report = inspect_json(capsys, legacy.hex())
    assert report["tok_id"] == "0101 (MIC (RFC 1964/4757))"
    assert report["sgn_alg"] == {"value": 0x11, "name": "HMAC MD5 (RC4)"}
    assert report["seal_alg"] == {"value": 0xFFFF, "name": "none"}


# -- Digest, TLS ---------------------------------------------------------------------------------


def test_digest_http_and_sasl(capsys: pytest.CaptureFixture[str]) -> None:
    server = opensspi.server("WDigest", flags=0x10000000,  # type: ignore[arg-type]
                             auth_data=DigestAcceptorConfig(realm="api@example.com",
                                                            passwords={"bob": "pw"}))
    client = opensspi.client("WDigest", user="bob", password="pw", target="/x",
                             flags=IscReq.USE_HTTP_STYLE)
    challenge = server.step()
    assert challenge is not None
    chal = inspect_json(capsys, "WWW-Authenticate: Digest " + challenge.decode())
    assert chal["type"] == "HTTP Digest challenges (RFC 7616 3.3)"
    sha256, md5 = chal["challenges"]
    assert (sha256["algorithm"], md5["algorithm"]) == ("SHA-256", "MD5")
    assert sha256["realm"] == "api@example.com" and sha256["qop"] == ["auth", "auth-int"]
    one = inspect_json(capsys, 'Digest realm="r", nonce="n1", qop="auth", opaque="o"')
    assert one["type"] == "HTTP Digest challenge (RFC 7616 3.3)"
    assert (one["realm"], one["nonce"], one["opaque"]) == ("r", "n1", "o")
    authorization = client.step(challenge, params=[b"GET"])
    assert authorization is not None
    resp = inspect_json(capsys, "Authorization: Digest " + authorization.decode())
    assert resp["type"] == "HTTP Digest Authorization (RFC 7616 3.4)"
    assert (resp["username"], resp["uri"], resp["realm"]) == ("bob", "/x", "api@example.com")
    assert re.fullmatch(r"[0-9a-f]{32,64}", resp["response"])

    info = inspect_json(capsys, 'Authentication-Info: rspauth="d3b07384d113edec49eaa6238ad5ff00",'
                                ' qop=auth, nc=00000001, cnonce="0a4f113b"')
    assert info["type"] == "HTTP Digest Authentication-Info (RFC 7616 3.5)"
    assert (info["rspauth"], info["nc"], info["qop"]) == (
        "d3b07384d113edec49eaa6238ad5ff00", 1, "auth")

    sasl_server = opensspi.server("WDigest", auth_data=DigestAcceptorConfig(
        realm="example.com", passwords={"bob": "pw"}))
    sasl_client = opensspi.client("WDigest", user="bob", password="pw",
                                  target="imap/mail.example.com")
    sasl_challenge = sasl_server.step()
    assert sasl_challenge is not None
    report = inspect_json(capsys, sasl_challenge.decode())
    assert report["type"].startswith("SASL DIGEST-MD5 digest-challenge")
    assert report["realms"] == ["example.com"] and report["algorithm"] == "md5-sess"
    sasl_response = sasl_client.step(sasl_challenge)
    assert sasl_response is not None
    report = inspect_json(capsys, sasl_response.decode())
    assert report["type"].startswith("SASL DIGEST-MD5 digest-response")
    assert report["digest_uri"] == "imap/mail.example.com" and report["nc"] == 1


def test_tls_client_hello(capsys: pytest.CaptureFixture[str]) -> None:
    context = ssl.create_default_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = context.wrap_bio(incoming, outgoing, server_hostname="web.example.test")
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    hello = outgoing.read()
    report = inspect_json(capsys, hello.hex())
    (record,) = report["records"]
    assert record["content_type"] == {"value": 22, "name": "handshake"}
    (message,) = record["messages"]
    assert message["msg_type"]["name"] == "client_hello"
    assert "TLS_AES_256_GCM_SHA384" in [s["name"] for s in message["cipher_suites"]]
    extensions = {e["type"]["name"]: e for e in message["extensions"]}
    assert extensions["server_name"]["server_names"] == ["web.example.test"]
    assert extensions["application_layer_protocol_negotiation"]["protocols"] == ["h2", "http/1.1"]
    assert {"value": 772, "name": "TLS 1.3"} in extensions["supported_versions"]["versions"]


# -- malformed input ---------------------------------------------------------------------------


GARBAGE = [
    "", "   ", "!!!not a token!!!", "NTLM", "Negotiate", "NTLM ####", "00", "zz",
    "Digest", "Digest realm", "WWW-Authenticate:", "4e544c4d5353500003000000",
    base64.b64encode(b"NTLMSSP\0\x02\0\0\0" + bytes(20)).decode(), "6082", "a1", "7e03300100",
    "16030100ff01", "0404", "0504ff",
]


@pytest.mark.parametrize("token", GARBAGE)
def test_garbage_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], token: str) -> None:
    rc, out, err = run(capsys, "inspect", token)
    assert rc == 2 and out == ""
    assert err.startswith("opensspi inspect: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def _recorded() -> list[bytes]:
    tokens = [vector(NLMP, "CHALLENGE_MESSAGE"), vector(NLMP, "AUTHENTICATE_MESSAGE"),
              vector(MIT_SPNEGO, "spnego initiator #0"), vector(MIT_KDC, "kinit #0 KRB-ERROR"),
              vector(MIT_KDC, "krb5 #5 TGS-REQ"), vector(MIT_KDC, "kinit #1 AS-REP"),
              vector(MIT_AP, "gss krb5 acceptor #1")]
    return tokens


@pytest.mark.parametrize("token", _recorded(), ids=lambda t: t[:4].hex())
def test_every_truncation_is_exit_2(capsys: pytest.CaptureFixture[str], token: bytes) -> None:
    assert cli.main(["inspect", token.hex()]) == 0
    capsys.readouterr()
    for cut in range(1, len(token), max(1, len(token) // 40)):
        rc, _, err = run(capsys, "inspect", token[:cut].hex())
        assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, (cut, err)


def test_stdin_raw_and_text(capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    for content in (vector(NLMP, "CHALLENGE_MESSAGE"),
                    b"WWW-Authenticate: NTLM "
                    + base64.b64encode(vector(NLMP, "CHALLENGE_MESSAGE")) + b"\r\n"):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(content)))
        assert inspect_json(capsys, "-")["server_challenge"] == "0123456789abcdef"


def test_bad_options_and_missing_keytab(capsys: pytest.CaptureFixture[str]) -> None:
    token = vector(NLMP, "AUTHENTICATE_MESSAGE").hex()
    rc, _, err = run(capsys, "inspect", token, "--nt-hash", "abcd")
    assert rc == 2 and "16 bytes" in err and err.count("\n") == 1
    rc, _, err = run(capsys, "inspect", token, "--nt-hash", "zz" * 16)
    assert rc == 2 and "16 bytes" in err
    rc, _, err = run(capsys, "inspect", token, "--password", "x", "--challenge", "a1 03 30 01")
    assert rc == 2 and err.startswith("opensspi inspect: error: --challenge: ")
    rc, _, err = run(capsys, "inspect", token, "--keytab", "/nonexistent/keytab")
    assert rc == 2 and err.startswith("opensspi inspect: error: ") and err.count("\n") == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bytes_raise_only_inspect_error(data: bytes) -> None:
    from opensspi.inspector import TokenInput

    try:
        report = inspect_input(TokenInput(data))
    except InspectError:
        return
    json.dumps(to_json(report))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_recorded()), st.integers(0, 10_000), st.integers(0, 255))
def test_fuzz_flipped_bytes(token: bytes, where: int, value: int) -> None:
    data = bytearray(token)
    data[where % len(data)] = value
    with contextlib.suppress(InspectError):
        inspect_input(decode_text(bytes(data).hex()))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.sampled_from(["Negotiate ", "NTLM ", "Digest ",
                                                 "WWW-Authenticate: ", "realm="]).flatmap(
    lambda head: st.text(max_size=120).map(lambda tail: head + tail)))
def test_fuzz_text_raises_only_inspect_error(text: str) -> None:
    try:
        report = inspect_input(decode_text(text))
    except InspectError:
        return
    json.dumps(to_json(report))


def test_inspect_bytes_api() -> None:
    report = inspect_bytes(vector(NLMP, "CHALLENGE_MESSAGE"))
    assert report["target_name"] == "Server"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert re.fullmatch(r"opensspi \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)
