"""SPNEGO tokens: round trips, MS-SPNG NegTokenInit2, real MIT tokens re-encoded byte for byte,
and hostile input (DecodeError only)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi import der
from opensspi.errors import DecodeError
from opensspi.packages.negotiate import asn1 as n

MIT = Path(__file__).resolve().parents[2] / "vectors" / "peers" / "mit"
REAL: list[dict[str, Any]] = json.loads((MIT / "spnego.json").read_text())["entries"]

oids = st.sampled_from([n.KRB5_OID, n.MS_KRB5_OID, n.NTLMSSP_OID, n.NEGOEX_OID, "1.2.3.4.5"])
mech_lists = st.lists(oids, max_size=4).map(tuple)
octets = st.none() | st.binary(max_size=40)
req_flags = st.none() | st.integers(0, 0x7F)

inits = st.builds(
    n.NegTokenInit, mech_types=mech_lists, req_flags=req_flags, mech_token=octets,
    mech_list_mic=octets,
)  # fmt: skip
hints = st.none() | st.builds(n.NegHints, st.none() | st.text(max_size=20), octets)
inits2 = st.builds(
    n.NegTokenInit2, mech_types=mech_lists, req_flags=req_flags, mech_token=octets,
    neg_hints=hints, mech_list_mic=octets,
)  # fmt: skip
resps = st.builds(
    n.NegTokenResp, neg_state=st.none() | st.sampled_from(list(n.NegState)),
    supported_mech=st.none() | oids, response_token=octets, mech_list_mic=octets,
)  # fmt: skip


@given(inits)
def test_init_round_trip(token: n.NegTokenInit) -> None:
    assert n.NegTokenInit.parse(token.build()) == token
    assert n.NegTokenInit.from_token(token.to_token()) == token
    assert n.decode_token(token.to_token()) == token
    assert n.decode_token(token.build()).build() == token.build()
    assert token.mech_types_raw == der.encode_sequence_of(
        der.encode_oid(o) for o in token.mech_types
    )


@given(inits2)
def test_init2_round_trip(token: n.NegTokenInit2) -> None:
    assert n.NegTokenInit2.from_token(token.to_token()) == token
    decoded = n.decode_token(token.to_token())
    assert decoded.build() == token.build()


@given(resps)
def test_resp_round_trip(token: n.NegTokenResp) -> None:
    assert n.NegTokenResp.parse(token.build()) == token
    assert n.decode_token(token.build()) == token


def test_windows_style_init2() -> None:
    # The unsolicited NegTokenInit2 of an SMB server (MS-SPNG 2.2.1, 3.2.5.2).
    token = n.NegTokenInit2(
        mech_types=(n.MS_KRB5_OID, n.KRB5_OID, n.NTLMSSP_OID),
        neg_hints=n.NegHints(hint_name="not_defined_in_RFC4178@please_ignore"),
    )
    framed = token.to_token()
    decoded = n.decode_token(framed)
    assert isinstance(decoded, n.NegTokenInit2)
    assert decoded.neg_hints == token.neg_hints
    with pytest.raises(DecodeError, match="NegTokenInit2"):
        n.NegTokenInit.from_token(framed)
    with_mic = n.NegTokenInit2(mech_types=(n.KRB5_OID,), mech_list_mic=b"mic")
    assert isinstance(n.decode_token(with_mic.build()), n.NegTokenInit2)
    # A plain NegTokenInit without mechListMIC reads as either.
    plain = n.NegTokenInit(mech_types=(n.KRB5_OID,), mech_token=b"t")
    assert n.NegTokenInit2.parse(plain.build()).build() == plain.build()
    rfc_mic = n.NegTokenInit(mech_types=(n.KRB5_OID,), mech_list_mic=b"m")
    with pytest.raises(DecodeError, match="mechListMIC at"):
        n.NegTokenInit2.parse(rfc_mic.build())


def test_req_flags_are_named_bits() -> None:
    flags = n.ContextFlags.MUTUAL_FLAG | n.ContextFlags.INTEG_FLAG
    token = n.NegTokenInit(mech_types=(n.KRB5_OID,), req_flags=flags)
    assert bytes.fromhex("a10403020142") in token.build()
    assert n.NegTokenInit.parse(token.build()).req_flags == flags


def test_mech_types_raw_is_kept() -> None:
    (init,) = [e for e in REAL if e["type"] == "SPNEGO-init"]
    token = n.decode_token(bytes.fromhex(init["hex"]))
    assert isinstance(token, n.NegTokenInit)
    assert token.mech_types == (n.KRB5_OID,)
    assert token.mech_types_raw == bytes.fromhex("300b06092a864886f712010202")
    assert token.mech_token is not None and token.mech_token[:2] == b"\x60\x82"


@pytest.mark.parametrize("entry", REAL, ids=lambda e: e["name"])
def test_real_tokens_reencode_byte_exact(entry: dict[str, Any]) -> None:
    data = bytes.fromhex(entry["hex"])
    token = n.decode_token(data)
    if entry["type"] == "SPNEGO-init":
        assert isinstance(token, n.NegTokenInit)
        assert token.to_token() == data
    else:
        assert isinstance(token, n.NegTokenResp)
        assert token.build() == data
        assert token.neg_state == n.NegState.ACCEPT_COMPLETED
        assert token.mech_list_mic is None  # MIT omits it (reference B.7)
    for size in range(len(data)):
        with pytest.raises(DecodeError):
            n.decode_token(data[:size])


def test_windows_init_gets_ms_oid_back() -> None:
    (reply,) = [e for e in REAL if e["name"].startswith("spnego-windows-init")]
    token = n.NegTokenResp.parse(bytes.fromhex(reply["hex"]))
    assert token.supported_mech == n.MS_KRB5_OID


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x05\x00", "Not a SPNEGO token"),
        (der.encode_initial_context_token("1.2.840.113554.1.2.2", b"\xa0\x00"), "mechanism"),
        (der.encode_initial_context_token(n.SPNEGO_OID, b"\xa1\x02\x30\x00"), "inner token"),
        (b"\xa1\x04\x30\x00\x30\x00", "more than 1 element"),
        (b"\xa1\x02\x04\x00", "exactly one SEQUENCE"),
        (der.encode_tlv(0xA1, der.encode_fields(((0, der.encode_enumerated(4)),))), "negState"),
        (b"\xa0\x02\x30\x00", "mechTypes is missing"),
    ],
)
def test_strictness(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        n.decode_token(data)


@settings(max_examples=400)
@given(st.binary(max_size=100))
def test_random_bytes_only_decode_error(data: bytes) -> None:
    for prefix in (b"", b"\xa0", b"\xa1", b"\x60"):
        candidate = prefix + bytes([len(data)]) + data if prefix and len(data) < 128 else data
        for decode in (
            n.decode_token, n.NegTokenInit.parse, n.NegTokenInit.from_token,
            n.NegTokenInit2.parse, n.NegTokenResp.parse,
        ):  # fmt: skip
            with contextlib.suppress(DecodeError):
                decode(candidate)


@settings(max_examples=300)
@given(st.sampled_from(REAL), st.integers(0, 10_000), st.integers(0, 255))
def test_mutated_real_tokens_only_decode_error(
    entry: dict[str, Any], index: int, value: int
) -> None:
    data = bytearray.fromhex(entry["hex"])
    data[index % len(data)] = value
    with contextlib.suppress(DecodeError):
        n.decode_token(bytes(data))


def test_init_token_is_what_negtokeninit_builds() -> None:
    """The initiator's remembered first token: the same bytes and mechTypes DER as building
    NegTokenInit, for a small (NTLM) token, a large (Kerberos-sized) one and none at all."""
    for mech_token in (b"NTLMSSP\x00\x01" + bytes(30), bytes(range(256)) * 3, None):
        oids = (n.NTLMSSP_OID,) if mech_token is None or len(mech_token) < 100 else (
            n.MS_KRB5_OID, n.KRB5_OID, n.NTLMSSP_OID)
        built = n.NegTokenInit(mech_types=oids, mech_token=mech_token)
        for _ in range(2):
            assert n.init_token(oids, mech_token) == (built.to_token(), built.mech_types_raw)


def test_known_init_keeps_small_decoded_tokens_only() -> None:
    """An acceptor remembers a small init token it decoded, by its exact bytes; a large one
    (a Kerberos AP-REQ inside) and anything not bytes are not kept."""
    small = n.NegTokenInit(mech_types=(n.NTLMSSP_OID,), mech_token=b"NTLMSSP\x00\x01" + bytes(30))
    token = small.to_token()
    assert n.known_init(token) is None or n.known_init(token) == small
    n.remember_init(token, small)
    assert n.known_init(token) == small
    assert n.known_init(bytearray(token)) is None
    large = n.NegTokenInit(mech_types=(n.KRB5_OID,), mech_token=bytes(400))
    n.remember_init(large.to_token(), large)
    assert n.known_init(large.to_token()) is None
