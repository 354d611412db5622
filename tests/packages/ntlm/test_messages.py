"""NTLM wire structures: round trips, the MIC and VERSION rules, and hostile input.

Every ``unpack`` must return a message or raise ``DecodeError``: never IndexError, struct.error,
UnicodeDecodeError or ValueError. Every proper prefix of a valid message must be refused.
"""

from __future__ import annotations

import contextlib
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensspi.errors import DecodeError, InvalidParameter
from opensspi.packages.ntlm.messages import (
    MIC_OFFSET,
    SIGNATURE,
    AuthenticateMessage,
    AvFlags,
    AvId,
    ChallengeMessage,
    MessageType,
    NegotiateFlags,
    NegotiateMessage,
    NtlmV2ClientChallenge,
    TargetInfo,
    Version,
    message_type,
    parse_negotiate,
)

F = NegotiateFlags
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ms-nlmp"


def _vector_messages() -> list[bytes]:
    found = []
    for path in sorted(VECTORS.glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8"))["entries"]:
            if entry["name"].endswith("_MESSAGE"):
                found.append(bytes.fromhex(entry["hex"]))
    return found


# A Windows 10 NEGOTIATE_MESSAGE: 40 bytes, empty fields all zero, VERSION 10.0.19041.
WINDOWS_NEGOTIATE = bytes.fromhex(
    "4e544c4d53535000 01000000 978208e2 0000000000000000 0000000000000000 0a00614a0000000f"
)
VECTOR_MESSAGES = [*_vector_messages(), WINDOWS_NEGOTIATE]

UNPACKERS: list[Callable[[bytes], object]] = [
    NegotiateMessage.parse,
    ChallengeMessage.parse,
    AuthenticateMessage.parse,
    TargetInfo.parse,
    NtlmV2ClientChallenge.parse,
    Version.parse,
    message_type,
]
MESSAGE_UNPACKERS = {
    MessageType.NtLmNegotiate: NegotiateMessage.parse,
    MessageType.NtLmChallenge: ChallengeMessage.parse,
    MessageType.NtLmAuthenticate: AuthenticateMessage.parse,
}


def _parse_any(data: bytes) -> None:
    for unpack in UNPACKERS:
        with contextlib.suppress(DecodeError):
            unpack(data)


# Composite strategies with text are slow to warm up; that is not a property of the code.
_RELAXED = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- strategies ----------------------------------------------------------------------------------

flag_values = st.integers(0, 0xFFFFFFFF).map(NegotiateFlags)
versions = st.builds(
    Version, st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 255)
)
oem_text = st.binary(max_size=40).map(lambda raw: raw.decode("cp437"))
unicode_text = st.text(max_size=40)
_TEXT_IDS = [
    AvId.MsvAvNbComputerName,
    AvId.MsvAvNbDomainName,
    AvId.MsvAvDnsComputerName,
    AvId.MsvAvDnsDomainName,
    AvId.MsvAvDnsTreeName,
    AvId.MsvAvTargetName,
]


@st.composite
def av_value(draw: st.DrawFn, av_id: int) -> bytes:
    if av_id in _TEXT_IDS:
        return draw(unicode_text).encode("utf-16-le")
    sizes = {AvId.MsvAvFlags: 4, AvId.MsvAvTimestamp: 8, AvId.MsvAvChannelBindings: 16}
    size = sizes.get(av_id)  # type: ignore[call-overload]
    if size is not None:
        return draw(st.binary(min_size=size, max_size=size))
    return draw(st.binary(max_size=48))


@st.composite
def target_infos(draw: st.DrawFn, exclude: tuple[int, ...] = ()) -> TargetInfo:
    ids = draw(
        st.lists(
            st.one_of(st.sampled_from(list(AvId)[1:]), st.integers(0x0B, 0xFFFF)),
            unique=True,
            max_size=8,
        )
    )
    pairs = tuple((av_id, draw(av_value(av_id))) for av_id in ids if av_id not in exclude)
    return TargetInfo(pairs)


@st.composite
def negotiate_messages(draw: st.DrawFn) -> NegotiateMessage:
    flags = draw(flag_values)
    version = draw(versions) if flags & F.NTLMSSP_NEGOTIATE_VERSION else None
    return NegotiateMessage(flags, draw(oem_text), draw(oem_text), version)


@st.composite
def challenge_messages(draw: st.DrawFn) -> ChallengeMessage:
    flags = draw(flag_values)
    version = draw(versions) if flags & F.NTLMSSP_NEGOTIATE_VERSION else None
    name = draw(unicode_text if flags & F.NTLMSSP_NEGOTIATE_UNICODE else oem_text)
    info = draw(st.none() | target_infos())
    return ChallengeMessage(flags, draw(st.binary(min_size=8, max_size=8)), name, info, version)


@st.composite
def blobs(draw: st.DrawFn, mic: bool) -> NtlmV2ClientChallenge:
    info = draw(target_infos(exclude=(AvId.MsvAvFlags,)))
    flags = draw(st.integers(0, 0xFFFFFFFF))
    flags = flags | AvFlags.MIC_PROVIDED if mic else flags & ~AvFlags.MIC_PROVIDED
    if mic or draw(st.booleans()):
        info = info.with_flags(flags)
    return NtlmV2ClientChallenge(
        draw(st.integers(0, 2**64 - 1)), draw(st.binary(min_size=8, max_size=8)), info
    )


@st.composite
def authenticate_messages(draw: st.DrawFn) -> AuthenticateMessage:
    flags = draw(flag_values)
    version = draw(versions) if flags & F.NTLMSSP_NEGOTIATE_VERSION else None
    text = unicode_text if flags & F.NTLMSSP_NEGOTIATE_UNICODE else oem_text
    with_mic = draw(st.booleans())
    if with_mic or draw(st.booleans()):
        nt = draw(st.binary(min_size=16, max_size=16)) + draw(blobs(with_mic)).build()
    else:
        nt = draw(st.binary(max_size=24))
    return AuthenticateMessage(
        flags,
        draw(st.binary(max_size=24)),
        nt,
        draw(text),
        draw(text),
        draw(text),
        draw(st.binary(max_size=16)),
        version,
        draw(st.binary(min_size=16, max_size=16)) if with_mic else None,
    )


# -- round trips ---------------------------------------------------------------------------------


@_RELAXED
@given(negotiate_messages())
def test_negotiate_round_trip(message: NegotiateMessage) -> None:
    data = message.build()
    assert NegotiateMessage.parse(data) == message
    assert message_type(data) is MessageType.NtLmNegotiate


@_RELAXED
@given(negotiate_messages())
def test_parse_negotiate_remembers_only_what_parse_gives(message: NegotiateMessage) -> None:
    """The acceptor's memo of NEGOTIATE_MESSAGEs: the same value as ``parse``, the first time
    and again; ``max_size`` still applies to a remembered message; a truncated message is
    refused every time (a failure is never remembered)."""
    data = message.build()
    assert parse_negotiate(data) == NegotiateMessage.parse(data) == message
    assert parse_negotiate(data) == message
    with pytest.raises(DecodeError, match="limit"):
        parse_negotiate(data, len(data) - 1)
    for _ in range(2):
        with pytest.raises(DecodeError):
            parse_negotiate(data[:-1] if len(data) > 32 else data[:11])


@_RELAXED
@given(challenge_messages())
def test_challenge_round_trip(message: ChallengeMessage) -> None:
    assert ChallengeMessage.parse(message.build()) == message


@_RELAXED
@given(authenticate_messages())
def test_authenticate_round_trip(message: AuthenticateMessage) -> None:
    data = message.build()
    parsed = AuthenticateMessage.parse(data)
    assert parsed == message
    assert parsed.raw == data
    if message.mic is not None:
        assert parsed.mic_offset == MIC_OFFSET
        assert data[MIC_OFFSET : MIC_OFFSET + 16] == message.mic
        zeroed = parsed.zeroed_mic()
        assert zeroed == data[:MIC_OFFSET] + bytes(16) + data[MIC_OFFSET + 16 :]
        assert message.zeroed_mic() == zeroed


@_RELAXED
@given(target_infos())
def test_target_info_round_trip(info: TargetInfo) -> None:
    data = info.build()
    assert data.endswith(b"\x00\x00\x00\x00")
    assert TargetInfo.parse(data) == info


@_RELAXED
@given(blobs(mic=False))
def test_blob_round_trip(blob: NtlmV2ClientChallenge) -> None:
    data = blob.build()
    assert NtlmV2ClientChallenge.parse(data) == blob
    # Some clients omit the trailing Z(4); others the final MsvAvEOL as well.
    assert NtlmV2ClientChallenge.parse(data[:-4]) == blob
    assert NtlmV2ClientChallenge.parse(data[:-8]) == blob
    assert NtlmV2ClientChallenge.parse(data + bytes(8)) == blob


@given(versions)
def test_version_round_trip(version: Version) -> None:
    assert Version.parse(version.build()) == version


@pytest.mark.parametrize("data", VECTOR_MESSAGES, ids=lambda d: d[8:12].hex() + f"-{len(d)}")
def test_vector_messages_rebuild_exactly(data: bytes) -> None:
    message = MESSAGE_UNPACKERS[message_type(data)](data)
    assert message.build() == data  # type: ignore[attr-defined]


def test_windows_negotiate() -> None:
    message = NegotiateMessage.parse(WINDOWS_NEGOTIATE)
    assert message.version == Version(10, 0, 19041, 15)
    assert message.domain_name == message.workstation == ""
    assert message.negotiate_flags & F.NTLMSSP_NEGOTIATE_KEY_EXCH


# -- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", VECTOR_MESSAGES, ids=lambda d: d[8:12].hex() + f"-{len(d)}")
def test_every_prefix_is_refused(data: bytes) -> None:
    unpack = MESSAGE_UNPACKERS[message_type(data)]
    for end in range(len(data)):
        with pytest.raises(DecodeError):
            unpack(data[:end])


@settings(max_examples=100, suppress_health_check=list(HealthCheck))
@given(authenticate_messages())
def test_every_prefix_of_generated_authenticate_is_refused(message: AuthenticateMessage) -> None:
    data = message.build()
    for end in range(len(data)):
        with pytest.raises(DecodeError):
            AuthenticateMessage.parse(data[:end])


@settings(max_examples=1000)
@given(st.binary(max_size=200))
def test_garbage(data: bytes) -> None:
    _parse_any(data)


@settings(max_examples=1000)
@given(st.sampled_from([1, 2, 3, 4, 0]), st.binary(max_size=300))
def test_garbage_after_a_valid_prefix(kind: int, tail: bytes) -> None:
    _parse_any(SIGNATURE + struct.pack("<I", kind) + tail)


@settings(max_examples=2000)
@given(
    st.sampled_from(VECTOR_MESSAGES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_vectors(data: bytes, edits: list[tuple[int, int]]) -> None:
    mutable = bytearray(data)
    for position, value in edits:
        mutable[position % len(mutable)] = value
    _parse_any(bytes(mutable))


@settings(max_examples=500)
@given(st.binary(max_size=120))
def test_garbage_av_pairs_and_blobs(data: bytes) -> None:
    for unpack in (TargetInfo.parse, NtlmV2ClientChallenge.parse):
        with contextlib.suppress(DecodeError):
            unpack(data)
    with contextlib.suppress(DecodeError):
        NtlmV2ClientChallenge.parse(b"\x01\x01" + bytes(26) + data)


def _auth_with(**overrides: Any) -> bytes:
    base: dict[str, Any] = {
        "negotiate_flags": F.NTLMSSP_NEGOTIATE_UNICODE | F.NTLMSSP_NEGOTIATE_VERSION,
        "lm_challenge_response": bytes(24),
        "nt_challenge_response": bytes(24),
        "domain_name": "D",
        "user_name": "U",
        "workstation": "W",
        "version": Version(10, 0, 1),
    }
    base.update(overrides)
    return AuthenticateMessage(**base).build()


def _error(unpack: Callable[[bytes], object], data: bytes) -> str:
    with pytest.raises(DecodeError) as info:
        unpack(data)
    return str(info.value)


def test_errors_name_the_problem() -> None:
    challenge = _vector_messages()[-2]  # the NTLMv2 CHALLENGE_MESSAGE
    assert "NTLMSSP" in _error(ChallengeMessage.parse, b"NTLMSSQ\x00" + challenge[8:])
    assert "Expected an NTLM NtLmNegotiate" in _error(NegotiateMessage.parse, challenge)
    assert "Unknown NTLM MessageType" in _error(message_type, SIGNATURE + b"\x09\x00\x00\x00")
    assert "Truncated" in _error(ChallengeMessage.parse, challenge[:40])
    assert "runs past the end" in _error(ChallengeMessage.parse, challenge[:-1])
    assert "over the 64-byte limit" in _error(
        lambda d: ChallengeMessage.parse(d, max_size=64), challenge
    )
    # MS-NLMP 2.2.1.2: padding may follow the payload (gss-ntlmssp sends some).
    assert ChallengeMessage.parse(challenge + b"\x00\x00") == ChallengeMessage.parse(challenge)
    # TargetNameFields pointing inside the header.
    bad = challenge[:16] + struct.pack("<I", 20) + challenge[20:]
    assert "inside the 48-byte header" in _error(ChallengeMessage.parse, bad)
    # Odd UTF-16 length for TargetName (12 -> 11).
    odd = challenge[:12] + struct.pack("<HH", 11, 11) + challenge[16:]
    assert "odd length" in _error(ChallengeMessage.parse, odd)


def test_version_flag_without_room_is_refused() -> None:
    data = NegotiateMessage(F.NTLMSSP_NEGOTIATE_UNICODE).build()
    flagged = data[:12] + struct.pack("<I", F.NTLMSSP_NEGOTIATE_VERSION) + data[16:]
    assert "no room" in _error(NegotiateMessage.parse, flagged)


def test_authenticate_with_the_version_flag_but_no_version_as_curl_sends_it() -> None:
    # curl echoes NTLMSSP_NEGOTIATE_VERSION in AUTHENTICATE and starts the payload at 64.
    flags = F.NTLM_NEGOTIATE_OEM | F.NTLMSSP_NEGOTIATE_NTLM | F.NTLMSSP_NEGOTIATE_VERSION
    curl = AuthenticateMessage(flags, bytes(24), bytes(24), "CORP", "alice",
                               "WORKSTATION", b"", None, None)
    data = curl.build()
    assert struct.unpack_from("<I", data, 32)[0] == 64  # the first payload field's offset
    parsed = AuthenticateMessage.parse(data)
    assert parsed.version is None and parsed.negotiate_flags & F.NTLMSSP_NEGOTIATE_VERSION
    assert (parsed.domain_name, parsed.user_name) == ("CORP", "alice")
    # Every field empty leaves nothing to place the payload: then the Version must be there.
    empty = AuthenticateMessage(flags, b"", b"", "", "", "", b"", None, None).build()
    assert "no room" in _error(AuthenticateMessage.parse, empty)


def test_version_slot_without_the_flag_is_ignored() -> None:
    data = NegotiateMessage(F.NTLMSSP_NEGOTIATE_UNICODE).build() + bytes(8)
    assert NegotiateMessage.parse(data).version is None
    assert NegotiateMessage.parse(data + b"\x00").version is None  # payload padding


def test_version_invariant_is_enforced_when_building() -> None:
    with pytest.raises(InvalidParameter):
        NegotiateMessage(F.NTLMSSP_NEGOTIATE_VERSION)
    with pytest.raises(InvalidParameter):
        NegotiateMessage(F(0), version=Version(10, 0, 1))
    with pytest.raises(InvalidParameter):
        ChallengeMessage(F(0), b"short")
    with pytest.raises(InvalidParameter):
        Version(256, 0, 0).build()


def test_mic_flagged_but_missing_is_refused() -> None:
    info = TargetInfo().with_flags(AvFlags.MIC_PROVIDED)
    nt = bytes(16) + NtlmV2ClientChallenge(0, bytes(8), info).build()
    data = _auth_with(nt_challenge_response=nt)  # built without a MIC: payload starts at 72
    assert "MIC" in _error(AuthenticateMessage.parse, data)


def test_mic_without_version_flag_sits_at_72() -> None:
    info = TargetInfo().with_flags(AvFlags.MIC_PROVIDED)
    nt = bytes(16) + NtlmV2ClientChallenge(0, bytes(8), info).build()
    mic = bytes(range(16))
    data = _auth_with(
        negotiate_flags=F.NTLMSSP_NEGOTIATE_UNICODE, version=None, nt_challenge_response=nt, mic=mic
    )
    assert data[64:72] == bytes(8)
    assert data[MIC_OFFSET : MIC_OFFSET + 16] == mic
    parsed = AuthenticateMessage.parse(data)
    assert parsed.mic == mic
    assert parsed.version is None


def test_zeroed_mic_uses_the_bytes_as_received() -> None:
    info = TargetInfo().with_flags(AvFlags.MIC_PROVIDED)
    blob = NtlmV2ClientChallenge(0, bytes(8), info).build()[:-4]  # a client without Z(4)
    data = _auth_with(nt_challenge_response=bytes(16) + blob, mic=b"\xee" * 16)
    parsed = AuthenticateMessage.parse(data)
    zeroed = parsed.zeroed_mic()
    assert zeroed == data[:MIC_OFFSET] + bytes(16) + data[MIC_OFFSET + 16 :]
    with pytest.raises(InvalidParameter):
        AuthenticateMessage.parse(_auth_with()).zeroed_mic()


def test_malformed_ntlmv2_response_is_refused() -> None:
    data = _auth_with(nt_challenge_response=bytes(48))  # RespType 0
    assert "RespType" in _error(AuthenticateMessage.parse, data)


def test_oem_strings() -> None:
    message = AuthenticateMessage(F.NTLM_NEGOTIATE_OEM, user_name="Zoë", domain_name="DOM")
    data = message.build()
    assert b"Zo\x89" in data  # cp437
    assert AuthenticateMessage.parse(data) == message
    with pytest.raises(InvalidParameter):
        AuthenticateMessage(F.NTLM_NEGOTIATE_OEM, user_name="用户").build()


def test_field_too_long_for_the_wire() -> None:
    with pytest.raises(InvalidParameter):
        AuthenticateMessage(F(0), nt_challenge_response=bytes(0x10000)).build()


# -- AV pairs ------------------------------------------------------------------------------------


def test_av_pair_rules() -> None:
    eol = b"\x00\x00\x00\x00"
    name = struct.pack("<HH", 1, 2) + b"A\x00"
    assert "twice" in _error(TargetInfo.parse, name + name + eol)
    assert "MsvAvEOL" in _error(TargetInfo.parse, name)
    assert "follow MsvAvEOL" in _error(TargetInfo.parse, name + eol + b"\x00")
    assert "must be 4 bytes" in _error(TargetInfo.parse, struct.pack("<HH", 6, 2) + b"ab" + eol)
    assert "must be 8 bytes" in _error(TargetInfo.parse, struct.pack("<HH", 7, 4) + bytes(4) + eol)
    assert "odd length" in _error(TargetInfo.parse, struct.pack("<HH", 2, 1) + b"A" + eol)
    assert "length 0" in _error(TargetInfo.parse, struct.pack("<HH", 0, 2) + b"AB")
    assert "claims" in _error(TargetInfo.parse, struct.pack("<HH", 1, 10) + b"A\x00")
    with pytest.raises(InvalidParameter):
        TargetInfo(((AvId.MsvAvEOL, b""),))
    with pytest.raises(InvalidParameter):
        TargetInfo(((AvId.MsvAvFlags, b"\x00"),))


def test_av_pair_accessors_and_edits() -> None:
    info = TargetInfo.from_names(
        nb_computer_name="SERVER",
        nb_domain_name="DOMAIN",
        dns_computer_name="server.example.com",
        dns_domain_name="example.com",
        dns_tree_name="example.com",
        timestamp=0x01D0_0000_0000_0000,
    )
    assert [k for k, _ in info.pairs] == [
        AvId.MsvAvNbDomainName,
        AvId.MsvAvNbComputerName,
        AvId.MsvAvDnsDomainName,
        AvId.MsvAvDnsComputerName,
        AvId.MsvAvDnsTreeName,
        AvId.MsvAvTimestamp,
    ]
    assert info.nb_computer_name == "SERVER"
    assert info.nb_domain_name == "DOMAIN"
    assert info.dns_computer_name == "server.example.com"
    assert info.dns_domain_name == info.dns_tree_name == "example.com"
    assert info.timestamp == 0x01D0_0000_0000_0000
    assert info.flags is None and info.channel_bindings is None and info.target_name is None
    edited = (
        info.with_flags(AvFlags.MIC_PROVIDED)
        .with_text(AvId.MsvAvTargetName, "HTTP/server.example.com")
        .with_pair(AvId.MsvAvChannelBindings, bytes(range(16)))
        .with_flags(AvFlags.MIC_PROVIDED | AvFlags.CONSTRAINED_AUTHENTICATION)
    )
    assert edited.flags == AvFlags.MIC_PROVIDED | AvFlags.CONSTRAINED_AUTHENTICATION
    assert edited.target_name == "HTTP/server.example.com"
    assert edited.channel_bindings == bytes(range(16))
    assert [k for k, _ in edited.pairs][-3:] == [
        AvId.MsvAvFlags,
        AvId.MsvAvTargetName,
        AvId.MsvAvChannelBindings,
    ]
    assert AvId.MsvAvTimestamp in edited
    assert AvId.MsvAvTimestamp not in edited.without(AvId.MsvAvTimestamp)
    assert TargetInfo.parse(edited.build()) == edited
    assert edited.single_host is None


def test_unknown_av_ids_round_trip() -> None:
    data = struct.pack("<HH", 0x1234, 3) + b"xyz" + bytes(4)
    info = TargetInfo.parse(data)
    assert info.get(0x1234) == b"xyz"
    assert info.build() == data


def test_repr_hides_responses_and_keys() -> None:
    message = AuthenticateMessage(
        F(0),
        b"\x11" * 24,
        b"\x22" * 24,
        encrypted_random_session_key=b"\x33" * 16,
        mic=None,
    )
    text = repr(message)
    assert "\\x11" not in text and "\\x22" not in text and "\\x33" not in text
