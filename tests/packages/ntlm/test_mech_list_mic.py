"""NTLM's SPNEGO mechListMIC (MS-SPNG 3.1.5.1): an NTLM signature with the next sequence
number, after which only that direction's RC4 stream starts over (pyspnego's
``_reset_ntlm_crypto_state``, MIT SPNEGO's reset-crypto option to gss-ntlmssp)."""

from __future__ import annotations

import pytest

import opensspi
from opensspi.errors import MessageAltered
from opensspi.packages.ntlm.security import SessionSecurity

MECH_TYPES = bytes.fromhex("300c060a2b06010401823702020a")  # SEQUENCE { NTLMSSP OID }


def _pair() -> tuple[opensspi.Context, opensspi.Context]:
    client = opensspi.client("NTLM", user="alice", domain="CORP", password="Passw0rd!",
                             target="HTTP/web")
    server = opensspi.server("NTLM", users={"CORP\\alice": "Passw0rd!"})
    server.step(client.step(server.step(client.step())))
    assert client.complete and server.complete
    return client, server


def test_mic_uses_sequence_zero_and_the_next_message_a_fresh_rc4_stream() -> None:
    client, server = _pair()
    ctx = client.context
    assert ctx.requires_mech_list_mic and server.context.requires_mech_list_mic
    mic = ctx.mech_list_mic(MECH_TYPES)
    assert mic[:4] == b"\x01\x00\x00\x00" and mic[12:] == b"\x00\x00\x00\x00"  # SeqNum 0
    server.context.verify_mech_list_mic(MECH_TYPES, mic)
    sealed = client.wrap(b"first message")
    # What a context whose RC4 stream was never used produces for sequence number 1.
    fresh = SessionSecurity(int(ctx.negotiated_flags), ctx.session_key or b"", True)
    body, signature = fresh.seal(1, b"first message")
    assert sealed == signature + body
    assert server.unwrap(sealed) == b"first message"
    # The other direction is untouched by the client's MIC; its own MIC resets it likewise.
    back = server.context.mech_list_mic(MECH_TYPES)
    ctx.verify_mech_list_mic(MECH_TYPES, back)
    assert client.unwrap(server.wrap(b"reply")) == b"reply"


def test_altered_mic_or_list_is_message_altered() -> None:
    client, server = _pair()
    mic = bytearray(client.context.mech_list_mic(MECH_TYPES))
    with pytest.raises(MessageAltered):
        server.context.verify_mech_list_mic(MECH_TYPES + b"\x00", bytes(mic))
    client, server = _pair()
    mic = bytearray(client.context.mech_list_mic(MECH_TYPES))
    mic[12] = 5  # a sequence number the handshake did not give
    with pytest.raises(MessageAltered):
        server.context.verify_mech_list_mic(MECH_TYPES, bytes(mic))
