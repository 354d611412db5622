"""Kerberos ASN.1 messages: round trips of generated messages, byte-exact re-encoding of real
MIT tokens (tests/vectors/peers/mit), strictness, and hostile input (DecodeError only)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import importlib.util
import json
import struct
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensspi import der
from opensspi.errors import DecodeError, InvalidParameter
from opensspi.packages.kerberos import asn1 as k

UTC = timezone.utc
MIT = Path(__file__).resolve().parents[2] / "vectors" / "peers" / "mit"


def load(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((MIT / name).read_text())["entries"]
    return entries


KDC = load("kdc.json")
AP = load("ap.json")
BY_NAME = {entry["name"]: entry for entry in KDC + AP}


def vector(name: str) -> bytes:
    return bytes.fromhex(BY_NAME[name]["hex"])


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

int32 = st.integers(-(2**31), 2**31 - 1)
uint32 = st.integers(0, 2**32 - 1)
usec = st.integers(0, 999_999)
flags = st.integers(0, 2**32 - 1)
octets = st.binary(max_size=40)
text = st.text(max_size=12)
times = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.just(UTC),
).map(lambda value: value.replace(microsecond=0))


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def seq_of(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(strategy, max_size=3).map(tuple)


names = st.builds(k.PrincipalName, int32, seq_of(text))
keys = st.builds(k.EncryptionKey, int32, octets)
enc_data = st.builds(k.EncryptedData, etype=int32, kvno=opt(uint32), cipher=octets)
checksums = st.builds(k.Checksum, int32, octets)
padata = st.builds(k.PAData, int32, octets)
addresses = st.builds(k.HostAddress, int32, octets)
authz = st.builds(k.AuthorizationDataEntry, int32, octets)
tickets = st.builds(k.Ticket, realm=text, sname=names, enc_part=enc_data)
last_req = st.builds(k.LastReqEntry, int32, times)
transited = st.builds(k.TransitedEncoding, int32, octets)

req_bodies = st.builds(
    k.KdcReqBody,
    kdc_options=flags,
    cname=opt(names),
    realm=text,
    sname=opt(names),
    from_=opt(times),
    till=times,
    rtime=opt(times),
    nonce=uint32,
    etype=seq_of(int32),
    addresses=opt(seq_of(addresses)),
    enc_authorization_data=opt(enc_data),
    additional_tickets=opt(seq_of(tickets)),
)
kdc_reqs = st.builds(
    k.KdcReq, msg_type=st.sampled_from([10, 12]), padata=opt(seq_of(padata)), req_body=req_bodies
)
kdc_reps = st.builds(
    k.KdcRep,
    msg_type=st.sampled_from([11, 13]),
    padata=opt(seq_of(padata)),
    crealm=text,
    cname=names,
    ticket=tickets,
    enc_part=enc_data,
)
enc_kdc_rep_parts = st.builds(
    k.EncKdcRepPart,
    key=keys,
    last_req=seq_of(last_req),
    nonce=uint32,
    key_expiration=opt(times),
    flags=flags,
    authtime=times,
    starttime=opt(times),
    endtime=times,
    renew_till=opt(times),
    srealm=text,
    sname=names,
    caddr=opt(seq_of(addresses)),
    encrypted_pa_data=opt(seq_of(padata)),
    application_tag=st.sampled_from([25, 26]),
)
enc_ticket_parts = st.builds(
    k.EncTicketPart,
    flags=flags,
    key=keys,
    crealm=text,
    cname=names,
    transited=transited,
    authtime=times,
    starttime=opt(times),
    endtime=times,
    renew_till=opt(times),
    caddr=opt(seq_of(addresses)),
    authorization_data=opt(seq_of(authz)),
)
ap_reqs = st.builds(k.ApReq, ap_options=flags, ticket=tickets, authenticator=enc_data)
authenticators = st.builds(
    k.Authenticator,
    crealm=text,
    cname=names,
    cksum=opt(checksums),
    cusec=usec,
    ctime=times,
    subkey=opt(keys),
    seq_number=opt(uint32),
    authorization_data=opt(seq_of(authz)),
)
ap_reps = st.builds(k.ApRep, enc_part=enc_data)
enc_ap_rep_parts = st.builds(
    k.EncApRepPart, ctime=times, cusec=usec, subkey=opt(keys), seq_number=opt(uint32)
)
krb_errors = st.builds(
    k.KrbError,
    ctime=opt(times),
    cusec=opt(usec),
    stime=times,
    susec=usec,
    error_code=int32,
    crealm=opt(text),
    cname=opt(names),
    realm=text,
    sname=names,
    e_text=opt(text),
    e_data=opt(octets),
)
krb_creds = st.builds(k.KrbCred, tickets=seq_of(tickets), enc_part=enc_data)
cred_infos = st.builds(
    k.KrbCredInfo,
    key=keys,
    prealm=opt(text),
    pname=opt(names),
    flags=opt(flags),
    authtime=opt(times),
    starttime=opt(times),
    endtime=opt(times),
    renew_till=opt(times),
    srealm=opt(text),
    sname=opt(names),
    caddr=opt(seq_of(addresses)),
)
enc_krb_cred_parts = st.builds(
    k.EncKrbCredPart,
    ticket_info=seq_of(cred_infos),
    nonce=opt(uint32),
    timestamp=opt(times),
    usec=opt(usec),
    s_address=opt(addresses),
    r_address=opt(addresses),
)
pa_enc_ts = st.builds(k.PaEncTsEnc, times, opt(usec))
etype_info2 = st.builds(k.EtypeInfo2Entry, int32, opt(octets), opt(octets))
pac_requests = st.builds(k.PaPacRequest, st.booleans())
error_datas = st.builds(k.KerbErrorData, int32, opt(octets))

ROUND_TRIPS: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (k.PrincipalName, names),
    (k.EncryptionKey, keys),
    (k.EncryptedData, enc_data),
    (k.Checksum, checksums),
    (k.PAData, padata),
    (k.HostAddress, addresses),
    (k.AuthorizationDataEntry, authz),
    (k.Ticket, tickets),
    (k.KdcReqBody, req_bodies),
    (k.KdcReq, kdc_reqs),
    (k.KdcRep, kdc_reps),
    (k.EncKdcRepPart, enc_kdc_rep_parts),
    (k.EncTicketPart, enc_ticket_parts),
    (k.ApReq, ap_reqs),
    (k.Authenticator, authenticators),
    (k.ApRep, ap_reps),
    (k.EncApRepPart, enc_ap_rep_parts),
    (k.KrbError, krb_errors),
    (k.KrbCred, krb_creds),
    (k.EncKrbCredPart, enc_krb_cred_parts),
    (k.PaEncTsEnc, pa_enc_ts),
    (k.EtypeInfo2Entry, etype_info2),
    (k.PaPacRequest, pac_requests),
    (k.KerbErrorData, error_datas),
]


@pytest.mark.parametrize(("cls", "strategy"), ROUND_TRIPS, ids=lambda v: getattr(v, "__name__", ""))
def test_round_trip(cls: type[Any], strategy: st.SearchStrategy[Any]) -> None:
    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def check(message: Any) -> None:
        encoded = message.build()
        decoded = cls.parse(encoded)
        assert decoded == message
        assert decoded.build() == encoded

    check()


@settings(max_examples=30)
@given(seq_of(padata), seq_of(etype_info2), seq_of(authz))
def test_sequence_of_helpers(
    methods: tuple[k.PAData, ...],
    infos: tuple[k.EtypeInfo2Entry, ...],
    entries: tuple[k.AuthorizationDataEntry, ...],
) -> None:
    assert k.decode_method_data(k.encode_method_data(methods)) == methods
    assert k.decode_authorization_data(k.encode_authorization_data(entries)) == entries
    if infos:
        assert k.decode_etype_info2(k.encode_etype_info2(infos)) == infos
    else:
        with pytest.raises(DecodeError, match="at least one"):
            k.decode_etype_info2(k.encode_etype_info2(infos))
    legacy = tuple(k.EtypeInfoEntry(info.etype, info.salt) for info in infos)
    assert k.decode_etype_info(k.encode_etype_info(legacy)) == legacy


# ---------------------------------------------------------------------------------------------
# Real MIT tokens: parse and re-encode byte for byte
# ---------------------------------------------------------------------------------------------

PARSERS: dict[str, Callable[[bytes], bytes]] = {
    "AS-REQ": lambda d: k.KdcReq.parse(d).build(),
    "TGS-REQ": lambda d: k.KdcReq.parse(d).build(),
    "AS-REP": lambda d: k.KdcRep.parse(d).build(),
    "TGS-REP": lambda d: k.KdcRep.parse(d).build(),
    "KRB-ERROR": lambda d: k.KrbError.parse(d).build(),
    "AP-REQ": lambda d: k.ApReq.parse(d).build(),
    "AP-REP": lambda d: k.ApRep.parse(d).build(),
    "KRB-CRED": lambda d: k.KrbCred.parse(d).build(),
    "EncTicketPart": lambda d: k.EncTicketPart.parse(d).build(),
    "EncKDCRepPart": lambda d: k.EncKdcRepPart.parse(d).build(),
    "Authenticator": lambda d: k.Authenticator.parse(d).build(),
    "EncAPRepPart": lambda d: k.EncApRepPart.parse(d).build(),
    "EncKrbCredPart": lambda d: k.EncKrbCredPart.parse(d).build(),
    "PA-ENC-TS-ENC": lambda d: k.PaEncTsEnc.parse(d).build(),
    "EncryptedData": lambda d: k.EncryptedData.parse(d).build(),
    "METHOD-DATA": lambda d: k.encode_method_data(k.decode_method_data(d)),
    "ETYPE-INFO2": lambda d: k.encode_etype_info2(k.decode_etype_info2(d)),
    "KERB-PA-PAC-REQUEST": lambda d: k.PaPacRequest.parse(d).build(),
    "GSS-token": lambda d: k.gss_wrap_token(*k.gss_unwrap_token(d)),
}
REAL = KDC + AP


def test_vectors_cover_every_message() -> None:
    kinds = {entry["type"] for entry in REAL}
    assert kinds <= set(PARSERS)
    expected = {
        "AS-REQ", "AS-REP", "TGS-REQ", "TGS-REP", "KRB-ERROR", "AP-REQ", "AP-REP", "KRB-CRED",
        "EncTicketPart", "EncKDCRepPart", "Authenticator", "EncAPRepPart", "EncKrbCredPart",
        "PA-ENC-TS-ENC", "METHOD-DATA", "ETYPE-INFO2", "GSS-token",
    }  # fmt: skip
    assert expected <= kinds
    assert all(entry["source"] for entry in REAL)


@pytest.mark.parametrize("entry", REAL, ids=lambda e: e["name"])
def test_real_token_reencodes_byte_exact(entry: dict[str, Any]) -> None:
    data = bytes.fromhex(entry["hex"])
    assert PARSERS[entry["type"]](data) == data


@pytest.mark.parametrize(
    "entry", [e for e in REAL if e["type"] == "AP-REQ"], ids=lambda e: e["name"]
)
def test_real_ap_req_every_prefix_refused(entry: dict[str, Any]) -> None:
    data = bytes.fromhex(entry["hex"])
    for size in range(len(data)):
        with pytest.raises(DecodeError):
            k.ApReq.parse(data[:size])
    with pytest.raises(DecodeError, match="trailing"):
        k.ApReq.parse(data + b"\x00")


def test_real_kinit_exchange() -> None:
    error = k.KrbError.parse(vector("kinit #0 KRB-ERROR"))
    assert error.error_code == k.ErrorCode.KDC_ERR_PREAUTH_REQUIRED
    assert error.realm == "TEST.LOCAL"
    assert error.sname == k.PrincipalName(k.NameType.NT_SRV_INST, ("krbtgt", "TEST.LOCAL"))
    (info,) = error.etype_info2() or ()
    assert info == k.EtypeInfo2Entry(k.EncryptionType.AES256_CTS_HMAC_SHA1_96, b"TEST.LOCALalice")
    methods = [padata.padata_type for padata in error.method_data() or ()]
    assert k.PaDataType.PA_ENC_TIMESTAMP in methods
    assert error.ntstatus() is None and error.error_data() is None

    request = k.KdcReq.parse(vector("kinit #1 AS-REQ"))
    assert request.msg_type == k.MessageType.KRB_AS_REQ
    body = request.req_body
    assert body.kdc_options == k.KdcOptions.FORWARDABLE | k.KdcOptions.RENEWABLE_OK
    assert body.kdc_options == 0x40000010
    assert body.cname == k.PrincipalName(1, ("alice",))
    reply = k.KdcRep.parse(vector("kinit #1 AS-REP"))
    assert reply.ticket.sname.to_text(reply.ticket.realm) == "krbtgt/TEST.LOCAL@TEST.LOCAL"
    part = k.EncKdcRepPart.parse(vector("kinit #1 AS-REP EncKDCRepPart"))
    assert part.application_tag == 26  # MIT sends EncTGSRepPart in an AS-REP (5.4.2)
    assert part.flags & k.TicketFlags.INITIAL and part.flags & k.TicketFlags.PRE_AUTHENT
    assert part.nonce == body.nonce
    ticket = k.EncTicketPart.parse(vector("kinit #1 AS-REP ticket EncTicketPart"))
    assert ticket.key == part.key


def test_real_errors() -> None:
    failed = k.KrbError.parse(vector("kinit-wrong-password #3 KRB-ERROR"))
    assert failed.error_code == k.ErrorCode.KDC_ERR_PREAUTH_FAILED
    unknown = k.KrbError.parse(vector("kinit-unknown-client #4 KRB-ERROR"))
    assert unknown.error_code == k.ErrorCode.KDC_ERR_C_PRINCIPAL_UNKNOWN
    assert unknown.e_data is None and unknown.method_data() is None
    service = k.KrbError.parse(vector("unknown-service #7 KRB-ERROR"))
    assert service.error_code == k.ErrorCode.KDC_ERR_S_PRINCIPAL_UNKNOWN


def _make_vectors() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mit_make_vectors", MIT / "make_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_req_body_raw_is_what_mit_checksummed() -> None:
    # RFC 4120 7.5.1 usage 6: the PA-TGS-REQ authenticator checksum covers the req-body as
    # sent. HMAC-SHA1-96 with Kc = DK(key, usage | 0x99) (RFC 3961 5.3, RFC 3962).
    scaffold = _make_vectors()
    for label in ("krb5 #5", "delegate #6"):
        request = k.KdcReq.parse(vector(f"{label} TGS-REQ"))
        entry = BY_NAME[f"{label} TGS-REQ PA-TGS-REQ Authenticator"]
        authenticator = k.Authenticator.parse(bytes.fromhex(entry["hex"]))
        assert authenticator.cksum is not None
        assert authenticator.cksum.cksumtype == k.ChecksumType.HMAC_SHA1_96_AES256
        kc = scaffold.derive(bytes.fromhex(entry["key"]["hex"]), struct.pack(">I", 6) + b"\x99")
        mac = hmac.new(kc, request.req_body.raw, hashlib.sha1).digest()[:12]
        assert mac == authenticator.cksum.checksum
        assert request.req_body.raw in vector(f"{label} TGS-REQ")


def test_real_ap_exchange_with_delegation() -> None:
    token = vector("gss delegate initiator #0")
    oid, tok_id, body = k.gss_unwrap_token(
        token, expect_oid=k.KRB5_OID, expect_tok_id=k.TOK_ID_AP_REQ
    )
    assert (oid, tok_id) == (k.KRB5_OID, k.TOK_ID_AP_REQ)
    request = k.ApReq.parse(body)
    assert request.ap_options == int(k.ApOptions.MUTUAL_REQUIRED) == 0x20000000
    assert request.ticket.raw in body
    assert request.ticket.sname.to_text() == "host/server.test.local"
    authenticator = k.Authenticator.parse(
        vector("gss delegate initiator #0 AP-REQ Authenticator")
    )
    assert authenticator.cksum is not None and authenticator.cksum.cksumtype == 0x8003
    assert authenticator.subkey is not None and authenticator.seq_number is not None
    cred = k.KrbCred.parse(vector("gss delegate initiator #0 AP-REQ delegated"))
    (forwarded,) = cred.tickets
    assert forwarded.sname.name_string == ("krbtgt", "TEST.LOCAL")
    info = k.EncKrbCredPart.parse(
        vector("gss delegate initiator #0 AP-REQ delegated EncKrbCredPart")
    ).ticket_info[0]
    assert info.flags is not None and info.flags & k.TicketFlags.FORWARDED
    reply = k.gss_unwrap_token(vector("gss delegate acceptor #1"), expect_tok_id=k.TOK_ID_AP_REP)
    assert k.ApRep.parse(reply[2]).enc_part.etype == 18
    part = k.EncApRepPart.parse(vector("gss delegate acceptor #1 AP-REP EncAPRepPart"))
    assert (part.ctime, part.cusec) == (authenticator.ctime, authenticator.cusec)
    assert part.subkey is not None  # MIT's acceptor always sends one (reference A.1)
    with pytest.raises(DecodeError, match="TOK_ID"):
        k.gss_unwrap_token(token, expect_tok_id=k.TOK_ID_AP_REP)
    with pytest.raises(DecodeError, match="mechanism"):
        k.gss_unwrap_token(token, expect_oid=k.MS_KRB5_OID)


def test_real_dce_style_is_unframed() -> None:
    assert vector("gss dce initiator #0 AP-REQ")[0] == 0x6E
    assert (
        k.EncApRepPart.parse(vector("gss dce initiator #2 AP-REP EncAPRepPart")).subkey is None
    )


# ---------------------------------------------------------------------------------------------
# Strictness and details
# ---------------------------------------------------------------------------------------------


def sample_ap_req() -> k.ApReq:
    return k.ApReq.parse(vector("gss krb5 initiator #0 AP-REQ"))


def test_flag_conventions() -> None:
    assert k.KdcOptions.FORWARDABLE == 1 << (31 - 1)
    assert k.KdcOptions.CANONICALIZE == 1 << (31 - 15)
    assert int(k.KdcOptions.VALIDATE) == 1
    assert k.TicketFlags.OK_AS_DELEGATE == 1 << (31 - 13)
    assert int(k.ApOptions.USE_SESSION_KEY) == 0x40000000
    encoded = k.ApReq(
        ap_options=k.ApOptions.MUTUAL_REQUIRED, ticket=sample_ap_req().ticket,
        authenticator=k.EncryptedData(etype=18, cipher=b""),
    ).build()  # fmt: skip
    assert bytes.fromhex("a20703050020000000") in encoded


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.replace(b"\xa0\x03\x02\x01\x05", b"\xa0\x03\x02\x01\x04", 1), "pvno"),
        (lambda b: b.replace(b"\xa1\x03\x02\x01\x0e", b"\xa1\x03\x02\x01\x0f", 1), "msg-type"),
        (lambda b: b"\x6f" + b[1:], r"expected \[APPLICATION 14\]"),
    ],
)
def test_ap_req_constraints(mutate: Callable[[bytes], bytes], message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        k.ApReq.parse(mutate(vector("gss krb5 initiator #0 AP-REQ")))


def test_kdc_req_application_tag_must_match_msg_type() -> None:
    data = bytearray(vector("kinit #0 AS-REQ"))
    data[0] = 0x6C  # TGS-REQ tag around an AS-REQ
    with pytest.raises(DecodeError, match="msg-type"):
        k.KdcReq.parse(bytes(data))
    data[0] = 0x6B
    with pytest.raises(DecodeError, match="expected"):
        k.KdcReq.parse(bytes(data))
    with pytest.raises(InvalidParameter):
        dataclasses.replace(k.KdcReq.parse(vector("kinit #0 AS-REQ")), msg_type=11).build()


def test_padata_fields_start_at_one() -> None:
    good = k.PAData(2, b"x").build()
    assert good == bytes.fromhex("300aa103020102a2030401 78".replace(" ", ""))
    bad = der.encode_fields(((0, der.encode_integer(2)), (2, der.encode_octet_string(b"x"))))
    with pytest.raises(DecodeError, match=r"unknown field \[0\]"):
        k.PAData.parse(bad)


def test_raw_is_kept_and_replace_reencodes() -> None:
    request = sample_ap_req()
    ticket = request.ticket
    assert ticket.build() == ticket.raw
    changed = dataclasses.replace(ticket, realm="OTHER.REALM")
    assert changed.raw != ticket.raw and b"OTHER.REALM" in changed.raw
    assert k.Ticket.parse(changed.raw) == changed
    body = k.KdcReq.parse(vector("krb5 #5 TGS-REQ")).req_body
    rebuilt = dataclasses.replace(body, nonce=body.nonce ^ 1)
    assert rebuilt.raw != body.raw
    assert k.KdcReqBody.parse(body.raw) == body


def test_secrets_not_in_repr() -> None:
    key = k.EncryptionKey(18, b"\x11" * 32)
    assert "11" not in repr(key) and "32 bytes" in repr(key)
    part = k.EncKdcRepPart.parse(vector("kinit #1 AS-REP EncKDCRepPart"))
    assert part.key.keyvalue.hex() not in repr(part)
    assert part.key.keyvalue not in repr(part).encode()


def test_enc_kdc_rep_part_tags() -> None:
    part = k.EncKdcRepPart.parse(vector("kinit #1 AS-REP EncKDCRepPart"))
    as_part = dataclasses.replace(part, application_tag=25)
    assert as_part.build()[0] == 0x79
    assert k.EncKdcRepPart.parse(as_part.build()) == as_part
    with pytest.raises(InvalidParameter):
        dataclasses.replace(part, application_tag=27).build()


def test_ntstatus_from_e_data() -> None:
    ext = k.KerbExtError(0xC0000234).build()  # STATUS_ACCOUNT_LOCKED_OUT
    assert ext == bytes.fromhex("340200c0 00000000 01000000".replace(" ", ""))
    base = k.KrbError.parse(vector("kinit-unknown-client #4 KRB-ERROR"))
    error_data = k.KerbErrorData(k.KerbErrorDataType.KERB_ERR_TYPE_EXTENDED, ext).build()
    extended = dataclasses.replace(base, e_data=error_data)
    assert k.KrbError.parse(extended.build()).ntstatus() == 0xC0000234
    in_pw_salt = k.encode_method_data([k.PAData(k.PaDataType.PA_PW_SALT, ext)])
    assert dataclasses.replace(base, e_data=in_pw_salt).ntstatus() == 0xC0000234
    not_valid = k.KerbExtError(0xC0000234, flags=0).build()
    invalid = k.KerbErrorData(3, not_valid).build()
    assert dataclasses.replace(base, e_data=invalid).ntstatus() is None
    assert dataclasses.replace(base, e_data=b"junk").ntstatus() is None
    skew = k.KerbErrorData(k.KerbErrorDataType.KERB_AP_ERR_TYPE_SKEW_RECOVERY).build()
    assert dataclasses.replace(base, e_data=skew).error_data() == k.KerbErrorData(2)
    with pytest.raises(DecodeError):
        k.KerbExtError.parse(b"\x00" * 11)


@pytest.mark.parametrize(
    ("text", "name", "realm"),
    [
        ("alice", k.PrincipalName(1, ("alice",)), None),
        ("alice@TEST.LOCAL", k.PrincipalName(1, ("alice",)), "TEST.LOCAL"),
        ("HTTP/h.test@TEST.LOCAL", k.PrincipalName(2, ("HTTP", "h.test")), "TEST.LOCAL"),
        ("a\\/b/c\\@d@R\\@S", k.PrincipalName(2, ("a/b", "c@d")), "R@S"),
        ("x\\ny\\tz\\0\\b\\\\", k.PrincipalName(1, ("x\ny\tz\0\b\\",)), None),
        ("user@", None, None),
        ("a@b@c", None, None),
        ("trailing\\", None, None),
        ("", None, None),
    ],
)  # fmt: skip
def test_parse_principal(text: str, name: k.PrincipalName | None, realm: str | None) -> None:
    if name is None:
        with pytest.raises(InvalidParameter):
            k.parse_principal(text)
        return
    assert k.parse_principal(text) == (name, realm)
    assert k.PrincipalName.from_text(text) == name
    assert k.parse_principal(name.to_text(realm)) == (name, realm)
    assert k.PrincipalName.from_text(text, k.NameType.NT_SRV_HST).name_type == 3


def test_str_of_principal() -> None:
    assert str(k.PrincipalName(2, ("host", "a/b"))) == "host/a\\/b"


def test_gss_framing() -> None:
    token = k.gss_wrap_token(k.KRB5_OID, k.TOK_ID_AP_REQ, b"\x6e\x00")
    assert token == bytes.fromhex("600f06092a864886f712010202 0100 6e00".replace(" ", ""))
    assert k.gss_unwrap_token(token) == (k.KRB5_OID, b"\x01\x00", b"\x6e\x00")
    with pytest.raises(InvalidParameter):
        k.gss_wrap_token(k.KRB5_OID, b"\x01", b"")
    with pytest.raises(DecodeError, match="TOK_ID"):
        k.gss_unwrap_token(der.encode_initial_context_token(k.KRB5_OID, b"\x01"))
    with pytest.raises(DecodeError):
        k.gss_unwrap_token(token + b"\x00")


# ---------------------------------------------------------------------------------------------
# Hostile input
# ---------------------------------------------------------------------------------------------

DECODERS: list[Callable[[bytes], object]] = [
    k.PrincipalName.parse, k.EncryptionKey.parse, k.EncryptedData.parse,
    k.Checksum.parse, k.PAData.parse, k.HostAddress.parse,
    k.AuthorizationDataEntry.parse, k.Ticket.parse, k.KdcReqBody.parse,
    k.KdcReq.parse, k.KdcRep.parse, k.EncKdcRepPart.parse, k.EncTicketPart.parse,
    k.ApReq.parse, k.Authenticator.parse, k.ApRep.parse, k.EncApRepPart.parse,
    k.KrbError.parse, k.KrbCred.parse, k.EncKrbCredPart.parse, k.PaEncTsEnc.parse,
    k.EtypeInfo2Entry.parse, k.PaPacRequest.parse, k.KerbErrorData.parse,
    k.decode_method_data, k.decode_etype_info2, k.decode_etype_info,
    k.decode_authorization_data, k.gss_unwrap_token,
]  # fmt: skip


def try_all(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(DecodeError):
            decode(data)


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_random_bytes_only_decode_error(data: bytes) -> None:
    try_all(data)
    try_all(b"\x30" + bytes([len(data)]) + data if len(data) < 128 else data)


@settings(max_examples=300)
@given(
    st.sampled_from([e for e in REAL if e["type"] != "GSS-token"]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3),
)
def test_mutated_real_tokens_only_decode_error(
    entry: dict[str, Any], changes: list[tuple[int, int]]
) -> None:
    data = bytearray.fromhex(entry["hex"])
    for index, value in changes:
        data[index % len(data)] = value
    try_all(bytes(data))


def test_bytes_like_input() -> None:
    data = vector("gss krb5 initiator #0 AP-REQ")
    assert k.ApReq.parse(bytearray(data)) == k.ApReq.parse(memoryview(data))  # type: ignore[arg-type]
