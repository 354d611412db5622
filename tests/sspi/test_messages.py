"""The buffer shapes of MakeSignature / VerifySignature / EncryptMessage / DecryptMessage, and
what happens to a context when a message is tampered with, replayed, skipped or malformed.

Windows' NTLM accepts TOKEN and DATA buffers in any order, several DATA buffers (one RC4 stream
and one MAC over all of them, MS-NLMP 3.4.6 GSS_WrapEx), an optional PADDING buffer (NTLM
writes none), a STREAM buffer (token || ciphertext) on DecryptMessage, and READONLY /
READONLY_WITH_CHECKSUM data buffers that are signed but left unencrypted.
"""

from __future__ import annotations

import struct

import pytest

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import (
    SECQOP_WRAP_NO_ENCRYPT,
    IscReq,
    SecBufferAttr,
    SecBufferType,
    SecStatus,
)
from opensspi.errors import (
    BufferTooSmall,
    InvalidToken,
    MessageAltered,
    OutOfSequence,
    SspiError,
)

TOKEN, DATA = SecBufferType.TOKEN, SecBufferType.DATA
PADDING, STREAM = SecBufferType.PADDING, SecBufferType.STREAM


def tok(size_or_data: int | bytes = 16) -> SecBuffer:
    return SecBuffer(TOKEN, size_or_data)


def data(payload: bytes, attrs: int = 0) -> SecBuffer:
    return SecBuffer(DATA | attrs, payload)


def seal(ctx: sspi.CtxtHandle, payload: bytes) -> tuple[bytes, bytes]:
    desc = SecBufferDesc([tok(), data(payload)])
    assert sspi.EncryptMessage(ctx, 0, desc, 0) == SecStatus.SEC_E_OK
    return desc[0].buffer, desc[1].buffer


def unseal(ctx: sspi.CtxtHandle, token: bytes, ciphertext: bytes) -> bytes:
    desc = SecBufferDesc([tok(token), data(ciphertext)])
    assert sspi.DecryptMessage(ctx, desc, 0).status == SecStatus.SEC_E_OK
    return desc[1].buffer


def sign(ctx: sspi.CtxtHandle, payload: bytes) -> bytes:
    desc = SecBufferDesc([tok(), data(payload)])
    assert sspi.MakeSignature(ctx, 0, desc, 0) == SecStatus.SEC_E_OK
    assert desc[1].buffer == payload
    return desc[0].buffer


def verify(ctx: sspi.CtxtHandle, payload: bytes, signature: bytes) -> int:
    return sspi.VerifySignature(ctx, SecBufferDesc([tok(signature), data(payload)]), 0).qop


def directions(pair) -> list[tuple[sspi.CtxtHandle, sspi.CtxtHandle]]:
    return [(pair.client, pair.server), (pair.server, pair.client)]


def seq_of(signature: bytes) -> int:
    return int(struct.unpack_from("<I", signature, 12)[0])


# -- shapes ---------------------------------------------------------------------------------


def test_sign_token_then_data_both_directions(pair) -> None:
    for a, b in directions(pair):
        for n in range(3):
            payload = b"message %d" % n
            signature = sign(a, payload)
            assert len(signature) == 16
            assert signature[:4] == b"\x01\x00\x00\x00"  # NTLMSSP_MESSAGE_SIGNATURE.Version
            assert seq_of(signature) == n
            assert verify(b, payload, signature) == 0


def test_sign_data_then_token(pair) -> None:
    desc = SecBufferDesc([data(b"payload"), tok()])
    sspi.MakeSignature(pair.client, 0, desc, 0)
    assert desc[0].buffer == b"payload"
    assert len(desc[1].buffer) == 16
    check = SecBufferDesc([data(b"payload"), tok(desc[1].buffer)])
    assert sspi.VerifySignature(pair.server, check, 0).status == SecStatus.SEC_E_OK


def test_encrypt_token_then_data_both_directions(pair) -> None:
    for a, b in directions(pair):
        for n in range(3):
            payload = b"confidential %d" % n
            token, ciphertext = seal(a, payload)
            assert len(token) == 16 and seq_of(token) == n
            assert len(ciphertext) == len(payload) and ciphertext != payload
            assert unseal(b, token, ciphertext) == payload


def test_encrypt_data_then_token(pair) -> None:
    desc = SecBufferDesc([data(b"secret"), tok()])
    sspi.EncryptMessage(pair.server, 0, desc, 0)
    assert desc[0].buffer != b"secret"
    back = SecBufferDesc([data(desc[0].buffer), tok(desc[1].buffer)])
    sspi.DecryptMessage(pair.client, back, 0)
    assert back[0].buffer == b"secret"


def test_padding_buffer_gets_zero_bytes(pair) -> None:
    desc = SecBufferDesc([tok(), data(b"padded?"), SecBuffer(PADDING, 8)])
    sspi.EncryptMessage(pair.client, 0, desc, 0)
    assert desc[2].buffer == b""
    assert desc[2].cbBuffer == 0
    stream = desc[0].buffer + desc[1].buffer + desc[2].buffer
    assert len(stream) == 16 + len(b"padded?")
    assert unseal(pair.server, desc[0].buffer, desc[1].buffer) == b"padded?"


def test_multiple_data_buffers(pair) -> None:
    parts = [b"first part", b"", b"second", b"third and last"]
    desc = SecBufferDesc([tok(), *(data(p) for p in parts)])
    sspi.EncryptMessage(pair.client, 0, desc, 0)
    sealed = [b.buffer for b in desc.buffers[1:]]
    assert [len(s) for s in sealed] == [len(p) for p in parts]
    assert all(s != p for s, p in zip(sealed, parts, strict=True) if p)
    back = SecBufferDesc([tok(desc[0].buffer), *(data(s) for s in sealed)])
    sspi.DecryptMessage(pair.server, back, 0)
    assert [b.buffer for b in back.buffers[1:]] == parts

    # One RC4 stream and one MAC over the concatenation: the peer may reassemble the parts.
    desc = SecBufferDesc([tok(), *(data(p) for p in parts)])
    sspi.EncryptMessage(pair.client, 0, desc, 0)
    whole = b"".join(b.buffer for b in desc.buffers[1:])
    assert unseal(pair.server, desc[0].buffer, whole) == b"".join(parts)

    desc = SecBufferDesc([data(b"ab"), tok(), data(b"cd")])
    sspi.MakeSignature(pair.server, 0, desc, 0)
    assert verify(pair.client, b"abcd", desc[1].buffer) == 0


def test_stream_and_data_decrypt_both_directions(pair) -> None:
    for a, b in directions(pair):
        token, ciphertext = seal(a, b"streamed message")
        desc = SecBufferDesc([SecBuffer(STREAM, token + ciphertext), SecBuffer(DATA, 0)])
        assert sspi.DecryptMessage(b, desc, 0).status == SecStatus.SEC_E_OK
        assert desc[1].buffer == b"streamed message"


@pytest.mark.parametrize(
    "attr", [SecBufferAttr.READONLY, SecBufferAttr.READONLY_WITH_CHECKSUM], ids=lambda a: a.name
)
def test_readonly_data_is_signed_but_not_sealed(pair, attr: SecBufferAttr) -> None:
    for a, b in directions(pair):
        header, body = b"header in clear", b"body to seal"
        desc = SecBufferDesc([data(header, attr), tok(), data(body)])
        sspi.EncryptMessage(a, 0, desc, 0)
        assert desc[0].buffer == header  # left unchanged
        assert desc[2].buffer != body
        back = SecBufferDesc([data(header, attr), tok(desc[1].buffer), data(desc[2].buffer)])
        sspi.DecryptMessage(b, back, 0)
        assert back[0].buffer == header
        assert back[2].buffer == body

        # The header is covered by the signature although it was not encrypted.
        desc = SecBufferDesc([data(header, attr), tok(), data(body)])
        sspi.EncryptMessage(a, 0, desc, 0)
        forged = SecBufferDesc([data(b"HEADER in clear", attr), tok(desc[1].buffer),
                                data(desc[2].buffer)])
        with pytest.raises(MessageAltered) as info:
            sspi.DecryptMessage(b, forged, 0)
        assert info.value.status == 0x8009030F
        assert unseal(b, *seal(a, b"next genuine message")) == b"next genuine message"


@pytest.mark.parametrize(
    "attr", [SecBufferAttr.READONLY, SecBufferAttr.READONLY_WITH_CHECKSUM], ids=lambda a: a.name
)
def test_readonly_data_in_make_signature(pair, attr: SecBufferAttr) -> None:
    desc = SecBufferDesc([tok(), data(b"ro", attr), data(b"rw")])
    sspi.MakeSignature(pair.client, 0, desc, 0)
    assert verify(pair.server, b"rorw", desc[0].buffer) == 0
    desc = SecBufferDesc([tok(), data(b"ro", attr), data(b"rw")])
    sspi.MakeSignature(pair.client, 0, desc, 0)
    with pytest.raises(MessageAltered):
        sspi.VerifySignature(pair.server, SecBufferDesc(
            [tok(desc[0].buffer), data(b"RO", attr), data(b"rw")]), 0)


def test_wrap_no_encrypt_on_an_integrity_only_context(ntlm) -> None:
    """Without NTLMSSP_NEGOTIATE_SEAL the message stays in clear; the token is a signature."""
    hs = ntlm.handshake(isc=IscReq.INTEGRITY | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT)
    for a, b in ((hs.client, hs.server), (hs.server, hs.client)):
        desc = SecBufferDesc([tok(), data(b"readable by anyone")])
        assert sspi.EncryptMessage(a, SECQOP_WRAP_NO_ENCRYPT, desc, 0) == SecStatus.SEC_E_OK
        assert desc[1].buffer == b"readable by anyone"
        assert verify(b, b"readable by anyone", desc[0].buffer) == 0

        desc = SecBufferDesc([tok(), data(b"readable by anyone")])
        sspi.EncryptMessage(a, SECQOP_WRAP_NO_ENCRYPT, desc, 0)
        with pytest.raises(MessageAltered):
            verify(b, b"readable by someone", desc[0].buffer)


def test_decrypt_message_on_an_integrity_only_context_reports_no_encrypt(ntlm) -> None:
    hs = ntlm.handshake(isc=IscReq.INTEGRITY | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT)
    desc = SecBufferDesc([tok(), data(b"clear")])
    sspi.EncryptMessage(hs.client, SECQOP_WRAP_NO_ENCRYPT, desc, 0)
    back = SecBufferDesc([tok(desc[0].buffer), data(desc[1].buffer)])
    result = sspi.DecryptMessage(hs.server, back, 0)
    assert back[1].buffer == b"clear"
    assert result.qop == SECQOP_WRAP_NO_ENCRYPT


def test_wrap_no_encrypt_on_a_sealing_context_still_decrypts_like_windows(pair) -> None:
    for a, b in directions(pair):
        desc = SecBufferDesc([tok(), data(b"what Windows does")])
        sspi.EncryptMessage(a, SECQOP_WRAP_NO_ENCRYPT, desc, 0)
        back = SecBufferDesc([SecBuffer(STREAM, desc[0].buffer + desc[1].buffer),
                              SecBuffer(DATA, 0)])
        sspi.DecryptMessage(b, back, 0)
        assert back[1].buffer == b"what Windows does"


# -- tampering, replay, reordering ----------------------------------------------------------


def _flip(blob: bytes, index: int) -> bytes:
    out = bytearray(blob)
    out[index] ^= 0x01
    return bytes(out)


SIGNATURE_BYTES_MAC = list(range(12))  # Version (0..3) and Checksum (4..11)
SIGNATURE_BYTES_SEQ = list(range(12, 16))  # SeqNum, in clear with ESS


@pytest.mark.parametrize("where", ["data", *(f"sig{i}" for i in SIGNATURE_BYTES_MAC)])
def test_tampered_byte_is_message_altered_and_the_context_goes_on(pair, where: str) -> None:
    for a, b in directions(pair):
        payload = b"integrity protected payload"
        signature = sign(a, payload)
        token, ciphertext = seal(a, payload)
        if where == "data":
            bad_sig, bad_payload = signature, _flip(payload, 5)
            bad_token, bad_ct = token, _flip(ciphertext, 5)
        else:
            i = int(where[3:])
            bad_sig, bad_payload = _flip(signature, i), payload
            bad_token, bad_ct = _flip(token, i), ciphertext
        with pytest.raises(MessageAltered) as info:
            verify(b, bad_payload, bad_sig)
        assert info.value.status == 0x8009030F
        with pytest.raises(MessageAltered) as info:
            unseal(b, bad_token, bad_ct)
        assert info.value.status == SecStatus.SEC_E_MESSAGE_ALTERED
        # The context is still good for the next genuine messages, both kinds.
        assert verify(b, b"after", sign(a, b"after")) == 0
        assert unseal(b, *seal(a, b"after, sealed")) == b"after, sealed"


@pytest.mark.parametrize("index", SIGNATURE_BYTES_SEQ)
def test_tampered_sequence_number_is_out_of_sequence(pair, index: int) -> None:
    """With ESS the SeqNum travels in clear; a changed one is reported as out of sequence and
    consumes nothing, so the genuine message still verifies afterwards."""
    signature = sign(pair.client, b"payload")
    with pytest.raises(OutOfSequence) as info:
        verify(pair.server, b"payload", _flip(signature, index))
    assert info.value.status == 0x80090310
    assert verify(pair.server, b"payload", signature) == 0
    token, ciphertext = seal(pair.client, b"sealed")
    with pytest.raises(OutOfSequence):
        unseal(pair.server, _flip(token, index), ciphertext)
    assert unseal(pair.server, token, ciphertext) == b"sealed"


def test_replayed_message_is_out_of_sequence(pair) -> None:
    for a, b in directions(pair):
        signature = sign(a, b"once")
        assert verify(b, b"once", signature) == 0
        with pytest.raises(OutOfSequence) as info:
            verify(b, b"once", signature)
        assert info.value.status == SecStatus.SEC_E_OUT_OF_SEQUENCE
        token, ciphertext = seal(a, b"sealed once")
        assert unseal(b, token, ciphertext) == b"sealed once"
        with pytest.raises(OutOfSequence):
            unseal(b, token, ciphertext)
        assert unseal(b, *seal(a, b"next")) == b"next"
        assert verify(b, b"next", sign(a, b"next")) == 0


def test_skipped_message_is_out_of_sequence_until_it_arrives(pair) -> None:
    for a, b in directions(pair):
        first, second = seal(a, b"first"), seal(a, b"second")
        with pytest.raises(OutOfSequence) as info:
            unseal(b, *second)
        assert info.value.status == 0x80090310
        assert unseal(b, *first) == b"first"
        assert unseal(b, *second) == b"second"

        sig1, sig2 = sign(a, b"one"), sign(a, b"two")
        with pytest.raises(OutOfSequence):
            verify(b, b"two", sig2)
        assert verify(b, b"one", sig1) == 0
        assert verify(b, b"two", sig2) == 0


# -- malformed calls ------------------------------------------------------------------------


def test_missing_token_buffer_is_invalid_token(pair) -> None:
    calls = [
        lambda: sspi.MakeSignature(pair.client, 0, SecBufferDesc([data(b"x")]), 0),
        lambda: sspi.VerifySignature(pair.server, SecBufferDesc([data(b"x")]), 0),
        lambda: sspi.EncryptMessage(pair.client, 0, SecBufferDesc([data(b"x")]), 0),
        lambda: sspi.DecryptMessage(pair.server, SecBufferDesc([data(b"x")]), 0),
    ]
    for call in calls:
        with pytest.raises(InvalidToken) as info:
            call()
        assert info.value.status == 0x80090308
        assert "SECBUFFER_TOKEN" in str(info.value)
    # Nothing was consumed: the next message is still number 0 on both sides.
    signature = sign(pair.client, b"first real message")
    assert seq_of(signature) == 0
    assert verify(pair.server, b"first real message", signature) == 0
    assert unseal(pair.server, *seal(pair.client, b"sealed")) == b"sealed"


def test_missing_data_buffer_is_invalid_token(pair) -> None:
    with pytest.raises(InvalidToken):
        sspi.MakeSignature(pair.client, 0, SecBufferDesc([tok()]), 0)
    with pytest.raises(InvalidToken):
        sspi.EncryptMessage(pair.client, 0, SecBufferDesc([tok()]), 0)
    with pytest.raises(InvalidToken):
        sspi.DecryptMessage(pair.server, SecBufferDesc([SecBuffer(STREAM, bytes(20))]), 0)
    assert verify(pair.server, b"x", sign(pair.client, b"x")) == 0


def test_short_signature_is_invalid_token(pair) -> None:
    signature = sign(pair.client, b"x")
    with pytest.raises(InvalidToken):
        verify(pair.server, b"x", signature[:15])
    with pytest.raises(InvalidToken):
        sspi.DecryptMessage(pair.server, SecBufferDesc([SecBuffer(STREAM, bytes(15)),
                                                        SecBuffer(DATA, 0)]), 0)
    assert verify(pair.server, b"x", signature) == 0


@pytest.mark.parametrize("call", ["MakeSignature", "EncryptMessage"])
def test_token_buffer_too_small_and_nothing_is_consumed(pair, call: str) -> None:
    function = getattr(sspi, call)
    desc = SecBufferDesc([tok(15), data(b"does not fit")])
    with pytest.raises(BufferTooSmall) as info:
        function(pair.client, 0, desc, 0)
    assert info.value.status == 0x80090321
    assert "15" in str(info.value) and "16" in str(info.value)
    assert desc[1].buffer == b"does not fit"  # not encrypted in place either
    # The failed call used no sequence number and no key stream: the peer still follows.
    signature = sign(pair.client, b"after")
    assert seq_of(signature) == 0
    assert verify(pair.server, b"after", signature) == 0
    assert unseal(pair.server, *seal(pair.client, b"sealed after")) == b"sealed after"


def test_message_functions_before_the_handshake_completes(ntlm) -> None:
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    out = ntlm.token_out()
    sspi.InitializeSecurityContext(ntlm.client_cred(), None, ntlm.target, ntlm.default_isc, 0,
                                   0, None, 0, client, out)
    chal = ntlm.token_out()
    sspi.AcceptSecurityContext(ntlm.server_cred(), None, ntlm.token_in(out[0].buffer),
                               ntlm.default_asc, 0, server, chal)
    for ctx in (client, server):
        for call in (
            lambda c=ctx: sspi.MakeSignature(c, 0, SecBufferDesc([tok(), data(b"x")]), 0),
            lambda c=ctx: sspi.EncryptMessage(c, 0, SecBufferDesc([tok(), data(b"x")]), 0),
            lambda c=ctx: sspi.VerifySignature(c, SecBufferDesc([tok(bytes(16)), data(b"x")]),
                                               0),
            lambda c=ctx: sspi.DecryptMessage(c, SecBufferDesc([tok(bytes(16)), data(b"x")]),
                                              0),
        ):
            with pytest.raises(SspiError) as info:
                call()
            assert info.value.status == SecStatus.SEC_E_UNSUPPORTED_FUNCTION
    # The refused calls did not disturb the handshake.
    auth = ntlm.token_out()
    r = sspi.InitializeSecurityContext(None, client, ntlm.target, ntlm.default_isc, 0, 0,
                                       ntlm.token_in(chal[0].buffer), 0, client, auth)
    assert r.status == SecStatus.SEC_E_OK
    r2 = sspi.AcceptSecurityContext(None, server, ntlm.token_in(auth[0].buffer),
                                    ntlm.default_asc, 0, server, ntlm.token_out())
    assert r2.status == SecStatus.SEC_E_OK
    assert unseal(server, *seal(client, b"now it works")) == b"now it works"
