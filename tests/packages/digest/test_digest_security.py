"""The SASL security layer on its own: round trips, tampering, replay, limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.constants import SecStatus
from opensspi.errors import SspiError
from opensspi.packages.digest.crypto import Cipher, Qop
from opensspi.packages.digest.security import LayerKeys, SecurityLayer, max_message

HA1 = bytes.fromhex("a2549853149b0536f01f0b850c643c57")
MODES = [(Qop.AUTH_INT, None)] + [(Qop.AUTH_CONF, c) for c in Cipher]
IDS = ["auth-int"] + [c.value for c in Cipher]


def layers(qop: Qop, cipher: Cipher | None, maxbuf: int = 65536) -> tuple[SecurityLayer, ...]:
    client = SecurityLayer(qop, cipher, LayerKeys.derive(HA1, True, cipher), maxbuf)
    server = SecurityLayer(qop, cipher, LayerKeys.derive(HA1, False, cipher), maxbuf)
    return client, server


def send(layer: SecurityLayer, msg: bytes) -> bytes:
    return layer.seal(msg) if layer.confidential else msg + layer.sign(msg)


def receive(layer: SecurityLayer, frame: bytes) -> bytes:
    if layer.confidential:
        return layer.unseal(frame)
    layer.verify(frame[:-16], frame[-16:])
    return frame[:-16]


def status(exc: pytest.ExceptionInfo[SspiError]) -> SecStatus:
    return exc.value.status


@pytest.mark.parametrize(("qop", "cipher"), MODES, ids=IDS)
@settings(max_examples=25)
@given(messages=st.lists(st.binary(max_size=300), min_size=1, max_size=6))
def test_round_trip_both_directions(
    qop: Qop, cipher: Cipher | None, messages: list[bytes]
) -> None:
    client, server = layers(qop, cipher)
    for msg in messages:
        assert receive(server, send(client, msg)) == msg
        assert receive(client, send(server, msg)) == msg


@pytest.mark.parametrize(("qop", "cipher"), MODES, ids=IDS)
def test_frames_differ_by_direction_and_sequence(qop: Qop, cipher: Cipher | None) -> None:
    client, server = layers(qop, cipher)
    a, b = send(client, b"same"), send(client, b"same")
    assert a != b and a[-4:] == b"\x00\x00\x00\x00" and b[-4:] == b"\x00\x00\x00\x01"
    assert send(server, b"same") != a


@pytest.mark.parametrize(("qop", "cipher"), MODES, ids=IDS)
def test_tampered_fields_give_their_status(qop: Qop, cipher: Cipher | None) -> None:
    expectations = {
        0: SecStatus.SEC_E_MESSAGE_ALTERED,     # first data byte (ciphertext or plaintext)
        -7: SecStatus.SEC_E_MESSAGE_ALTERED,    # last MAC byte
        -6: SecStatus.SEC_E_MESSAGE_ALTERED,    # version 0x0001
        -5: SecStatus.SEC_E_MESSAGE_ALTERED,
        -1: SecStatus.SEC_E_OUT_OF_SEQUENCE,    # sequence number
    }
    for index, expected in expectations.items():
        client, server = layers(qop, cipher)
        frame = bytearray(send(client, b"attack at dawn"))
        frame[index] ^= 0x01
        with pytest.raises(SspiError) as exc:
            receive(server, bytes(frame))
        assert status(exc) == expected, index


@pytest.mark.parametrize(("qop", "cipher"), MODES, ids=IDS)
def test_replay_and_reorder_are_out_of_sequence_and_leave_the_layer_usable(
    qop: Qop, cipher: Cipher | None
) -> None:
    client, server = layers(qop, cipher)
    first, second = send(client, b"one"), send(client, b"two")
    with pytest.raises(SspiError) as exc:
        receive(server, second)
    assert status(exc) == SecStatus.SEC_E_OUT_OF_SEQUENCE
    assert receive(server, first) == b"one"
    with pytest.raises(SspiError) as exc:
        receive(server, first)
    assert status(exc) == SecStatus.SEC_E_OUT_OF_SEQUENCE
    assert receive(server, second) == b"two"


@pytest.mark.parametrize("cipher", list(Cipher), ids=[c.value for c in Cipher])
def test_altered_sealed_message_kills_the_receiving_direction(cipher: Cipher) -> None:
    client, server = layers(Qop.AUTH_CONF, cipher)
    frame = bytearray(client.seal(b"x" * 20))
    frame[3] ^= 0x80
    with pytest.raises(SspiError) as exc:
        server.unseal(bytes(frame))
    assert status(exc) == SecStatus.SEC_E_MESSAGE_ALTERED
    with pytest.raises(SspiError) as exc:
        server.unseal(client.seal(b"next"))
    assert status(exc) == SecStatus.SEC_E_CONTEXT_EXPIRED
    assert client.unseal(server.seal(b"other way still works")) == b"other way still works"


def test_altered_signed_message_leaves_the_layer_usable() -> None:
    client, server = layers(Qop.AUTH_INT, None)
    msg, trailer = b"payload", client.sign(b"payload")
    with pytest.raises(SspiError) as exc:
        server.verify(b"pAyload", trailer)
    assert status(exc) == SecStatus.SEC_E_MESSAGE_ALTERED
    server.verify(msg, trailer)


@pytest.mark.parametrize("cipher", list(Cipher), ids=[c.value for c in Cipher])
def test_short_or_misaligned_frames_are_invalid_tokens(cipher: Cipher) -> None:
    _, server = layers(Qop.AUTH_CONF, cipher)
    for frame in (b"", b"\x00\x01\x00\x00\x00\x00", bytes(15) + b"\x00\x01" + bytes(4)):
        if cipher.block_size == 1 and len(frame) - 6 >= 10:
            continue
        with pytest.raises(SspiError) as exc:
            server.unseal(frame)
        assert status(exc) == SecStatus.SEC_E_INVALID_TOKEN
    with pytest.raises(SspiError) as exc:
        server.verify(b"m", b"short")
    assert status(exc) == SecStatus.SEC_E_INVALID_TOKEN


@pytest.mark.parametrize("cipher", [Cipher.DES, Cipher.TRIPLE_DES])
def test_cbc_padding_is_checked(cipher: Cipher) -> None:
    client, server = layers(Qop.AUTH_CONF, cipher)
    for size in range(0, 20):
        frame = client.seal(bytes(size))
        assert (len(frame) - 6) % 8 == 0
        assert server.unseal(frame) == bytes(size)


@pytest.mark.parametrize(("qop", "cipher"), MODES, ids=IDS)
def test_peer_maxbuf_limits_the_message(qop: Qop, cipher: Cipher | None) -> None:
    client, _ = layers(qop, cipher, maxbuf=64)
    limit = max_message(qop, cipher, 64)
    assert client.max_message == limit
    assert len(send(client, bytes(limit))) <= 64
    with pytest.raises(SspiError) as exc:
        send(client, bytes(limit + 1))
    assert status(exc) == SecStatus.SEC_E_INVALID_PARAMETER


def test_sequence_number_exhaustion_expires_the_context() -> None:
    client, _ = layers(Qop.AUTH_INT, None)
    client._send_seq = 0xFFFFFFFF
    client.sign(b"last")
    with pytest.raises(SspiError) as exc:
        client.sign(b"one too many")
    assert status(exc) == SecStatus.SEC_E_CONTEXT_EXPIRED


def test_layer_misuse_and_repr_hide_keys() -> None:
    with pytest.raises(ValueError):
        SecurityLayer(Qop.AUTH, None, LayerKeys.derive(HA1, True, None), 65536)
    with pytest.raises(ValueError):
        SecurityLayer(Qop.AUTH_CONF, None, LayerKeys.derive(HA1, True, None), 65536)
    client, _ = layers(Qop.AUTH_INT, None)
    with pytest.raises(SspiError) as exc:
        client.seal(b"x")
    assert status(exc) == SecStatus.SEC_E_QOP_NOT_SUPPORTED
    keys = LayerKeys.derive(HA1, True, Cipher.RC4)
    assert keys.send_integrity.hex() not in repr(keys)
    assert "hex" not in repr(client) and repr(client) == "SecurityLayer(qop=auth-int, cipher=none)"
