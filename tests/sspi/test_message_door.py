"""The message functions' fast path (``protection.GssDoor``) follows the context it was made
for: a re-authentication gives the handle a new context and new keys, a refused handshake call
leaves the old one usable, and every later message uses whatever the handle holds then."""

from __future__ import annotations

import pytest

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import SecBufferType, SecStatus
from opensspi.errors import InvalidToken
from opensspi.protection import door_for

TOKEN, DATA = SecBufferType.TOKEN, SecBufferType.DATA


def round_trip(sender: sspi.CtxtHandle, receiver: sspi.CtxtHandle, payload: bytes) -> bytes:
    desc = SecBufferDesc([SecBuffer(DATA, payload), SecBuffer(TOKEN, 16)])
    assert sspi.EncryptMessage(sender, 0, desc, 0) == SecStatus.SEC_E_OK
    back = SecBufferDesc([SecBuffer(DATA, desc[0].buffer), SecBuffer(TOKEN, desc[1].buffer)])
    assert sspi.DecryptMessage(receiver, back, 0).status == SecStatus.SEC_E_OK
    return back[0].buffer


def test_reauthentication_gives_the_handle_a_new_fast_path(ntlm, pair) -> None:
    assert round_trip(pair.client, pair.server, b"first session") == b"first session"
    old = pair.client._record.context
    # ISC on the complete client context with no input token starts a new authentication,
    # answered by a new server context.
    pair.server = sspi.CtxtHandle()
    token = ntlm.initialize(pair, None)
    while True:
        token = ntlm.accept(pair, token)
        if pair.server_results[-1].status == SecStatus.SEC_E_OK:
            break
        token = ntlm.initialize(pair, token)
    record = pair.client._record
    assert record.context is not old
    door = door_for(record)
    assert door is not None and door.context is record.context
    # Sealed with the new session's keys, which only the new server context holds.
    assert round_trip(pair.client, pair.server, b"second session") == b"second session"
    assert round_trip(pair.server, pair.client, b"and back") == b"and back"


def test_a_refused_handshake_call_leaves_the_messages_in_step(ntlm, pair) -> None:
    assert round_trip(pair.client, pair.server, b"before") == b"before"
    with pytest.raises(InvalidToken):
        ntlm.initialize(pair, b"NTLMSSP\0\x02\0\0\0 not a real challenge")
    assert pair.client._record.door is None  # dropped by the handshake call, made again
    assert round_trip(pair.client, pair.server, b"after") == b"after"
    assert pair.client._record.door is not None


def test_a_context_that_is_not_complete_gets_no_fast_path(ntlm) -> None:
    hs = ntlm.handshake()
    half = sspi.CtxtHandle()
    out = ntlm.token_out()
    sspi.InitializeSecurityContext(hs.client_cred, None, ntlm.target, ntlm.default_isc, 0, 0,
                                   None, 0, half, out)
    assert door_for(half._record) is None
    assert door_for(hs.client._record) is not None
