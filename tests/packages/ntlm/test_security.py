"""NTLM session security: round trips in both directions, tampering, sequence numbers, parts."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.errors import InvalidParameter, MessageAltered, UnsupportedFunction
from opensspi.packages.ntlm.messages import NegotiateFlags
from opensspi.packages.ntlm.security import SIGNATURE_SIZE, SessionSecurity

F = NegotiateFlags
KEY = bytes(range(16))
BASE = F.NTLMSSP_NEGOTIATE_SIGN | F.NTLMSSP_NEGOTIATE_SEAL | F.NTLMSSP_NEGOTIATE_UNICODE
ESS = F.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY

FLAG_SETS = {
    "ess-128-keyexch": BASE | ESS | F.NTLMSSP_NEGOTIATE_128 | F.NTLMSSP_NEGOTIATE_KEY_EXCH,
    "ess-128": BASE | ESS | F.NTLMSSP_NEGOTIATE_128,
    "ess-56": BASE | ESS | F.NTLMSSP_NEGOTIATE_56,
    "ess-40-keyexch": BASE | ESS | F.NTLMSSP_NEGOTIATE_KEY_EXCH,
    "v1-128": BASE | F.NTLMSSP_NEGOTIATE_128 | F.NTLMSSP_NEGOTIATE_KEY_EXCH,
    "v1-lmkey-56": BASE | F.NTLMSSP_NEGOTIATE_LM_KEY | F.NTLMSSP_NEGOTIATE_56,
    "v1-lmkey-40": BASE | F.NTLMSSP_NEGOTIATE_LM_KEY,
    "v1-datagram": BASE | F.NTLMSSP_NEGOTIATE_DATAGRAM | F.NTLMSSP_NEGOTIATE_56,
}


def pair(flags: int) -> tuple[SessionSecurity, SessionSecurity]:
    legacy = not flags & ESS
    return (
        SessionSecurity(flags, KEY, True, allow_legacy=legacy),
        SessionSecurity(flags, KEY, False, allow_legacy=legacy),
    )


@pytest.fixture(params=sorted(FLAG_SETS))
def flags(request: pytest.FixtureRequest) -> int:
    return FLAG_SETS[request.param]


def test_round_trips_both_directions(flags: int) -> None:
    client, server = pair(flags)
    for seq in range(5):
        for sender, receiver in ((client, server), (server, client)):
            message = os.urandom(seq * 37)
            sealed, signature = sender.seal(seq, message)
            assert len(signature) == SIGNATURE_SIZE
            assert receiver.unseal(seq, sealed, signature) == message
            signature = sender.sign(seq, message)
            receiver.verify(seq, message, signature)


def test_sealing_encrypts(flags: int) -> None:
    client, _ = pair(flags)
    message = b"attack at dawn" * 4
    sealed, _ = client.seal(0, message)
    assert sealed != message and len(sealed) == len(message)


def test_directions_use_different_keys_with_ess() -> None:
    flags = FLAG_SETS["ess-128-keyexch"]
    client, server = pair(flags)
    message = b"the same message"
    assert client.seal(0, message) != server.seal(0, message)


@pytest.mark.parametrize("target", ["sealed", "signature"])
def test_every_tampered_byte_is_detected(flags: int, target: str) -> None:
    message = b"0123456789abcdef" * 2
    client, _ = pair(flags)
    sealed, signature = client.seal(7, message)
    data = sealed if target == "sealed" else signature
    for index in range(len(data)):
        if target == "signature" and not flags & ESS and 4 <= index < 8:
            continue  # NTLMv1's RandomPad is not authenticated (MS-NLMP 3.4.4.1 zeroes it)
        changed = bytearray(data)
        changed[index] ^= 0x01
        _, server = pair(flags)
        with pytest.raises(MessageAltered):
            if target == "sealed":
                server.unseal(7, bytes(changed), signature)
            else:
                server.unseal(7, sealed, bytes(changed))


def test_tampered_signed_message_is_detected(flags: int) -> None:
    client, server = pair(flags)
    signature = client.sign(3, b"hello")
    with pytest.raises(MessageAltered):
        server.verify(3, b"hellO", signature)


def test_wrong_sequence_number_is_detected(flags: int) -> None:
    client, server = pair(flags)
    sealed, signature = client.seal(1, b"payload")
    with pytest.raises(MessageAltered, match="sequence number 2"):
        server.unseal(2, sealed, signature)
    client, server = pair(flags)
    signature = client.sign(1, b"payload")
    with pytest.raises(MessageAltered):
        server.verify(0, b"payload", signature)


def test_short_or_long_signature_is_detected(flags: int) -> None:
    client, _ = pair(flags)
    sealed, signature = client.seal(0, b"payload")
    for bad in (signature[:-1], signature + b"\x00", b""):
        _, server = pair(flags)
        with pytest.raises(MessageAltered):
            server.unseal(0, sealed, bad)


def test_multi_part_with_read_only_parts(flags: int) -> None:
    client, server = pair(flags)
    parts = [(b"header-", False), (b"secret one", True), (b"-middle-", False), (b"two", True)]
    outputs, signature = client.seal_parts(4, parts)
    assert outputs[0] == b"header-" and outputs[2] == b"-middle-"
    assert outputs[1] != b"secret one" and outputs[3] != b"two"
    plain = server.unseal_parts(
        4, list(zip(outputs, [e for _, e in parts], strict=True)), signature
    )
    assert plain == [data for data, _ in parts]


def test_read_only_parts_are_authenticated(flags: int) -> None:
    client, server = pair(flags)
    parts = [(b"header", False), (b"secret", True)]
    outputs, signature = client.seal_parts(0, parts)
    with pytest.raises(MessageAltered):
        server.unseal_parts(0, [(b"HEADER", False), (outputs[1], True)], signature)


def test_multi_part_equals_concatenation_when_all_encrypted(flags: int) -> None:
    one, _ = pair(flags)
    many, _ = pair(flags)
    sealed, signature = one.seal(9, b"abcdefgh")
    outputs, signature2 = many.seal_parts(9, [(b"abc", True), (b"", True), (b"defgh", True)])
    assert b"".join(outputs) == sealed
    assert signature2 == signature


def test_multi_part_order_matters() -> None:
    client, server = pair(FLAG_SETS["ess-128-keyexch"])
    outputs, signature = client.seal_parts(0, [(b"first", False), (b"second", False)])
    with pytest.raises(MessageAltered):
        server.unseal_parts(0, [(outputs[1], False), (outputs[0], False)], signature)


def test_reset_rc4_restarts_the_streams(flags: int) -> None:
    client, _ = pair(flags)
    first = client.seal(0, b"message")
    client.sign(0, b"mechListMIC")
    client.reset_rc4()
    assert client.seal(0, b"message") == first


def test_stream_state_carries_over() -> None:
    client, _ = pair(FLAG_SETS["ess-128-keyexch"])
    assert client.seal(0, b"same") != client.seal(0, b"same")


def test_legacy_needs_explicit_opt_in() -> None:
    with pytest.raises(UnsupportedFunction, match="allow_legacy"):
        SessionSecurity(FLAG_SETS["v1-128"], KEY, True)


def test_legacy_accepts_a_zeroed_random_pad() -> None:
    client, server = pair(FLAG_SETS["v1-128"])
    sealed, signature = client.seal(0, b"payload")
    zeroed = signature[:4] + bytes(4) + signature[8:]
    assert server.unseal(0, sealed, zeroed) == b"payload"


def test_bad_arguments() -> None:
    with pytest.raises(InvalidParameter):
        SessionSecurity(FLAG_SETS["ess-128"], KEY[:8], True)
    client, _ = pair(FLAG_SETS["ess-128"])
    with pytest.raises(InvalidParameter):
        client.sign(2**32, b"x")
    with pytest.raises(InvalidParameter):
        client.seal(-1, b"x")
    legacy_client, _ = pair(FLAG_SETS["v1-128"])
    with pytest.raises(InvalidParameter):
        legacy_client.sign(2**32, b"x")


def test_repr_hides_keys() -> None:
    text = repr(SessionSecurity(FLAG_SETS["ess-128-keyexch"], KEY, True))
    assert text == "SessionSecurity(client, ESS, key_exch=True)"


@settings(max_examples=50)
@given(
    st.sampled_from(sorted(FLAG_SETS)),
    st.lists(
        st.tuples(st.booleans(), st.binary(max_size=64), st.booleans()), min_size=1, max_size=8
    ),
)
def test_interleaved_traffic(name: str, traffic: list[tuple[bool, bytes, bool]]) -> None:
    """Messages in both directions, sealed or signed, with each side's own counter."""
    client, server = pair(FLAG_SETS[name])
    counters = {True: 0, False: 0}
    for from_client, message, seal in traffic:
        sender, receiver = (client, server) if from_client else (server, client)
        seq = counters[from_client]
        counters[from_client] += 1
        if seal:
            sealed, signature = sender.seal(seq, message)
            assert receiver.unseal(seq, sealed, signature) == message
        else:
            receiver.verify(seq, message, sender.sign(seq, message))


@settings(max_examples=300, deadline=None)
@given(key=st.binary(max_size=200), data=st.binary(max_size=600))
def test_hmac_md5_is_the_standard_library_s(key: bytes, data: bytes) -> None:
    """The two-MD5 HMAC the NTLM functions use gives RFC 2104's bytes, as ``hmac`` does, for
    every key length (the longer-than-a-block rule included) and message."""
    import hmac

    from opensspi.packages.ntlm.crypto import _hmac_md5

    assert _hmac_md5(key, data) == hmac.digest(key, data, "md5")
