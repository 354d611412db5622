"""RFC 4121 tokens against MIT krb5: every captured MIC/Wrap/wrap_iov token opens, and the
deterministic ones (MIC, integrity-only Wrap) are rebuilt byte for byte."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.errors import DecodeError, MessageAltered, OutOfSequence
from opensspi.packages.kerberos import gss
from opensspi.packages.kerberos.crypto import Key, profile

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "peers" / "mit"
ENCTYPES = (17, 18, 19, 20)


def _load(enctype: int) -> tuple[Key, list[dict[str, object]]]:
    data = json.loads((VECTORS / f"gss-{enctype}.json").read_text())
    return Key(enctype, bytes.fromhex(data["session_key"])), data["entries"]


def _direction(entry: dict[str, object], token: bytes) -> gss.Direction:
    return gss.Direction(acceptor=entry["sender"] == "acceptor",
                         acceptor_subkey=bool(token[2] & gss.FLAG_ACCEPTOR_SUBKEY))


def _entries(enctype: int, operation: str) -> list[dict[str, object]]:
    return [e for e in _load(enctype)[1] if e["operation"] == operation]


@pytest.mark.parametrize("enctype", ENCTYPES)
def test_mit_mics_verify_and_rebuild(enctype: int) -> None:
    key, _ = _load(enctype)
    for entry in _entries(enctype, "mic"):
        token = bytes.fromhex(str(entry["token"]))
        message = bytes.fromhex(str(entry["plaintext"]))
        direction = _direction(entry, token)
        seq = gss.verify_mic(key, direction, token, message)
        assert gss.get_mic(key, direction, seq, message) == token
        with pytest.raises(MessageAltered):
            gss.verify_mic(key, direction, token, message + b"x")


@pytest.mark.parametrize("enctype", ENCTYPES)
def test_mit_wraps_open_and_integrity_ones_rebuild(enctype: int) -> None:
    key, _ = _load(enctype)
    size = profile(enctype).checksum_size
    for entry in _entries(enctype, "wrap"):
        token = bytes.fromhex(str(entry["token"]))
        message = bytes.fromhex(str(entry["plaintext"]))
        direction = _direction(entry, token)
        opened = gss.unwrap(key, direction, token)
        assert opened.plaintext == message and opened.sealed == entry["conf"]
        if not entry["conf"]:
            # MIT's gss_wrap puts EC=checksum size and RRC=0; ours uses the iov layout (RRC=EC),
            # which MIT accepts too (receivers take any RRC). Compare after un-rotating.
            ours = gss.wrap(key, direction, opened.seq, message, seal=False, checksum_size=size)
            assert gss.unwrap(key, direction, ours.token, ours.data).plaintext == message
            assert ours.token[:4] == token[:4] and ours.token[8:16] == token[8:16]


@pytest.mark.parametrize("enctype", ENCTYPES)
def test_mit_wrap_iov_layout_is_sspi_layout(enctype: int) -> None:
    key, _ = _load(enctype)
    size = profile(enctype).checksum_size
    for entry in _entries(enctype, "wrap_iov"):
        header = bytes.fromhex(str(entry["header"]))
        data = bytes.fromhex(str(entry["data"]))
        message = bytes.fromhex(str(entry["plaintext"]))
        direction = _direction(entry, header)
        opened = gss.unwrap(key, direction, header, data)
        assert opened.plaintext == message
        if entry["conf"]:
            # our sealed token has MIT's exact shape: same header, same lengths
            ours = gss.wrap(key, direction, opened.seq, message, seal=True, checksum_size=size,
                            confounder=bytes(profile(enctype).confounder_size))
            assert ours.token[:16] == header[:16]
            assert len(ours.token) == len(header) and len(ours.data) == len(data)
        else:
            ours = gss.wrap(key, direction, opened.seq, message, seal=False, checksum_size=size)
            assert (ours.token, ours.data) == (header, data)  # byte for byte


@pytest.mark.parametrize("enctype", ENCTYPES)
@pytest.mark.parametrize("dce", [False, True])
def test_round_trip_and_tamper(enctype: int, dce: bool) -> None:
    key = Key(enctype, bytes(range(profile(enctype).key_size)))
    send = gss.Direction(acceptor=False, acceptor_subkey=True)
    size = profile(enctype).checksum_size
    for seal in (True, False):
        for message in (b"", b"x", bytes(range(200))):
            out = gss.wrap(key, send, 7, message, seal=seal, checksum_size=size, dce_style=dce)
            opened = gss.unwrap(key, send, out.token, out.data, dce_style=dce)
            assert (opened.plaintext, opened.seq, opened.sealed) == (message, 7, seal)
            whole = bytearray(out.token + out.data)
            whole[-1] ^= 1
            with pytest.raises(MessageAltered):
                gss.unwrap(key, send, bytes(whole[:16]), bytes(whole[16:]), dce_style=dce)
    if dce:
        sealed = gss.wrap(key, send, 1, b"abc", seal=True, checksum_size=size, dce_style=True)
        # MS-KILE 3.4.5.4.1: EC 16, and the token carries header + EC + RRC + confounder
        assert sealed.token[4:6] == b"\x00\x10"
        assert len(sealed.token) == 16 + 16 + 16 + profile(enctype).confounder_size + size


def test_reflected_token_is_refused() -> None:
    key = Key(18, bytes(32))
    mine = gss.Direction(acceptor=False, acceptor_subkey=True)
    token = gss.get_mic(key, mine, 1, b"m")
    theirs = gss.Direction(acceptor=True, acceptor_subkey=True)
    with pytest.raises(MessageAltered, match="reflection"):
        gss.verify_mic(key, theirs, token, b"m")


def test_sequence_window() -> None:
    window = gss.SequenceWindow(10, replay=True, sequence=True)
    window.check(10)
    window.accept(10)
    with pytest.raises(OutOfSequence, match="replayed"):
        window.check(10)
    with pytest.raises(OutOfSequence, match="gap"):
        window.check(12)
    loose = gss.SequenceWindow(0, replay=True, sequence=False)
    loose.accept(5)
    loose.check(3)
    with pytest.raises(OutOfSequence, match="replay"):
        loose.check(5)


def test_authenticator_checksum_round_trip() -> None:
    from opensspi import ChannelBindings

    cb = ChannelBindings.from_application_data(b"tls-server-end-point:abc")
    value = gss.build_authenticator_checksum(gss.GSS_C_DELEG_FLAG | 2, cb, b"KRBCRED")
    parsed = gss.parse_authenticator_checksum(value)
    assert parsed.flags == 3 and parsed.krb_cred == b"KRBCRED"
    assert parsed.bnd == gss.bindings_hash(cb) != bytes(16)
    assert gss.parse_authenticator_checksum(
        gss.build_authenticator_checksum(2, None)).bnd == bytes(16)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_garbage_tokens_only_raise_decode_or_altered(data: bytes) -> None:
    key = Key(17, bytes(16))
    direction = gss.Direction(acceptor=True, acceptor_subkey=False)
    for opener in (lambda: gss.unwrap(key, direction, data),
                   lambda: gss.verify_mic(key, direction, data, b"m"),
                   lambda: gss.parse_authenticator_checksum(data)):
        with contextlib.suppress(DecodeError, MessageAltered):
            opener()


# -- SealedStream: the precomputed whole-message path must make the general path's bytes ----


def _confounder(key: Key, usage: int, body: bytes) -> bytes:
    """The confounder inside an un-rotated AES ciphertext ``C | H`` (first CTS block)."""
    from opensspi.packages.kerberos.crypto import KE, cts_decrypt, derive_key

    mac = profile(key.enctype).checksum_size
    return cts_decrypt(derive_key(key, usage, KE), body[:-mac])[:16]


@pytest.mark.parametrize("enctype", ENCTYPES)
def test_sealed_stream_rebuilds_mit_wrap_iov_tokens_byte_for_byte(enctype: int) -> None:
    key, _ = _load(enctype)
    entries = [e for e in _entries(enctype, "wrap_iov") if e["conf"]]
    assert entries
    for entry in entries:
        message = bytes.fromhex(str(entry["header"])) + bytes.fromhex(str(entry["data"]))
        recv = _direction(entry, message)
        send = gss.Direction(acceptor=recv.acceptor, acceptor_subkey=recv.acceptor_subkey)
        stream = gss.SealedStream(key, send, recv)
        opened = stream.unwrap(message)
        assert opened is not None
        plaintext, seq = opened
        assert plaintext == bytes.fromhex(str(entry["plaintext"]))
        rrc = int.from_bytes(message[6:8], "big")
        body = message[16 + rrc :] + message[16 : 16 + rrc]
        confounder = _confounder(key, recv.seal_usage, body)
        assert stream.wrap(seq, plaintext, confounder) == message  # MIT's bytes exactly


@pytest.mark.parametrize("enctype", ENCTYPES)
def test_sealed_stream_opens_mit_gss_wrap_tokens(enctype: int) -> None:
    # gss_wrap (not _iov) seals with RRC 0; any RRC must open.
    key, _ = _load(enctype)
    for entry in _entries(enctype, "wrap"):
        token = bytes.fromhex(str(entry["token"]))
        recv = _direction(entry, token)
        opened = gss.SealedStream(key, recv, recv).unwrap(token)
        if entry["conf"]:
            assert opened is not None and opened[0] == bytes.fromhex(str(entry["plaintext"]))
        else:
            assert opened is None  # integrity-only: left to the general path


@pytest.mark.parametrize("enctype", ENCTYPES)
@pytest.mark.parametrize("acceptor", [False, True])
@pytest.mark.parametrize("subkey", [False, True])
def test_sealed_stream_equals_general_wrap(enctype: int, acceptor: bool, subkey: bool) -> None:
    key = Key(enctype, bytes(range(profile(enctype).key_size)))
    send = gss.Direction(acceptor=acceptor, acceptor_subkey=subkey)
    stream = gss.SealedStream(key, send, send)
    size = profile(enctype).checksum_size
    for length in (0, 1, 15, 16, 17, 31, 32, 100, 1024):
        message = bytes(range(256)) * 4
        message = message[:length]
        confounder = bytes(range(16, 32))
        general = gss.wrap(key, send, 2**40 + length, message, seal=True, checksum_size=size,
                           confounder=confounder)
        fast = stream.wrap(2**40 + length, message, confounder)
        assert fast == general.token + general.data
        assert stream.unwrap(fast) == (message, 2**40 + length)
        opened = gss.unwrap(key, send, fast[:16], fast[16:])
        assert (opened.plaintext, opened.sealed) == (message, True)


def test_sealed_stream_refuses_tampering_reflection_and_short_tokens() -> None:
    key = Key(18, bytes(32))
    mine = gss.Direction(acceptor=False, acceptor_subkey=True)
    theirs = gss.Direction(acceptor=True, acceptor_subkey=True)
    client = gss.SealedStream(key, mine, theirs)
    server = gss.SealedStream(key, theirs, mine)
    token = client.wrap(3, b"hello", bytes(16))
    assert server.unwrap(token) == (b"hello", 3)
    with pytest.raises(MessageAltered, match="reflection"):
        client.unwrap(token)
    for index in (16, 30, len(token) - 1):
        bad = bytearray(token)
        bad[index] ^= 1
        with pytest.raises(MessageAltered):
            server.unwrap(bytes(bad))
    with pytest.raises(DecodeError):
        server.unwrap(token[:15])
    with pytest.raises(DecodeError, match="shorter"):
        server.unwrap(token[:16 + 40])  # header + less than confounder, copy and MAC
    with pytest.raises(DecodeError):
        server.unwrap(b"\x04\x04" + token[2:])  # a MIC TOK_ID


@pytest.mark.parametrize("enctype", ENCTYPES)
def test_sealed_stream_parts_are_the_encrypt_message_buffers(enctype: int) -> None:
    key = Key(enctype, bytes(range(profile(enctype).key_size)))
    send = gss.Direction(acceptor=True, acceptor_subkey=True)
    stream = gss.SealedStream(key, send, send)
    size = profile(enctype).checksum_size
    for length in (0, 5, 16, 1024):
        message = bytes(range(256)) * 4
        message = message[:length]
        general = gss.wrap(key, send, 9, message, seal=True, checksum_size=size,
                           confounder=bytes(16))
        assert stream.wrap_parts(9, message, bytes(16)) == (general.token, general.data)
