"""Digest through the Windows functions, in the buffer shapes its documentation gives.

"Protecting Messages Using Microsoft Digest": EncryptMessage takes a DATA buffer with the
message and a PADDING (or second DATA) buffer that receives the trailer; DecryptMessage takes
the frame in one DATA buffer (or a STREAM). SASL auth-conf, our client against our acceptor.
"""

from __future__ import annotations

import pytest

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import (
    AscReq,
    CredentialUse,
    IscReq,
    IscRet,
    SecBufferType,
    SecPkgAttr,
    SecStatus,
)
from opensspi.errors import MessageAltered, OutOfSequence
from opensspi.packages.digest.credentials import DigestAcceptorConfig
from opensspi.provider import AuthIdentity, Sizes

T = SecBufferType


def _handshake() -> tuple[sspi.CtxtHandle, sspi.CtxtHandle]:
    _, ccred, _ = sspi.AcquireCredentialsHandle(
        None, "WDigest", CredentialUse.OUTBOUND, None, AuthIdentity("alice", None, "Passw0rd!"))
    _, scred, _ = sspi.AcquireCredentialsHandle(
        None, "Digest", CredentialUse.INBOUND, None,
        DigestAcceptorConfig(realm="example.com", passwords={"alice": "Passw0rd!"}))
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    req = IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.MUTUAL_AUTH
    token: bytes | None = None
    for _ in range(4):
        inp = SecBufferDesc([SecBuffer(T.TOKEN, token)]) if token is not None else None
        out = SecBufferDesc([SecBuffer(T.TOKEN, 4000)])
        isc = sspi.InitializeSecurityContext(
            ccred, client if client.is_valid else None, "imap/mail.example.com", req, 0, 0,
            inp, 0, client, out)
        if isc.status == SecStatus.SEC_E_OK:
            break
        out2 = SecBufferDesc([SecBuffer(T.TOKEN, 4000)])
        sspi.AcceptSecurityContext(
            scred, server if server.is_valid else None,
            SecBufferDesc([SecBuffer(T.TOKEN, out[0].buffer)]),
            AscReq.CONFIDENTIALITY | AscReq.INTEGRITY, 0, server, out2)
        token = out2[0].buffer
    assert isc.context_attr & IscRet.CONFIDENTIALITY and isc.context_attr & IscRet.MUTUAL_AUTH
    return client, server


def _encrypt(client: sspi.CtxtHandle, message: bytes, second_data: bool) -> bytes:
    sizes = sspi.QueryContextAttributes(client, SecPkgAttr.SIZES)
    assert isinstance(sizes, Sizes)
    trailer_type = T.DATA if second_data else T.PADDING
    desc = SecBufferDesc([SecBuffer(T.DATA, message),
                          SecBuffer(trailer_type, sizes.max_signature + sizes.block_size)])
    assert sspi.EncryptMessage(client, 0, desc, 0) == SecStatus.SEC_E_OK
    assert desc[0].buffer != message
    return desc[0].buffer + desc[1].buffer


@pytest.mark.parametrize("second_data", [False, True])
def test_encrypt_data_plus_trailer_decrypt_one_data_buffer(second_data: bool) -> None:
    client, server = _handshake()
    for i in range(3):
        message = b"message %d through the security layer" % i
        frame = _encrypt(client, message, second_data)
        desc = SecBufferDesc([SecBuffer(T.DATA, frame)])
        assert sspi.DecryptMessage(server, desc, 0).qop == 0
        assert desc[0].buffer == message


def test_decrypt_in_a_stream_buffer_and_data_trailer_pair() -> None:
    client, server = _handshake()
    frame = _encrypt(client, b"first", False)
    desc = SecBufferDesc([SecBuffer(T.STREAM, frame), SecBuffer(T.DATA, 0)])
    sspi.DecryptMessage(server, desc, 0)
    assert desc[1].buffer == b"first"
    frame = _encrypt(client, b"second", True)
    pair = SecBufferDesc([SecBuffer(T.DATA, frame[:6]), SecBuffer(T.DATA, frame[6:])])
    sspi.DecryptMessage(server, pair, 0)
    assert pair[0].buffer == b"second"


def test_tampered_and_replayed_frames() -> None:
    client, server = _handshake()
    frame = bytearray(_encrypt(client, b"genuine", False))
    replay = bytes(frame)
    sspi.DecryptMessage(server, SecBufferDesc([SecBuffer(T.DATA, replay)]), 0)
    with pytest.raises(OutOfSequence):
        sspi.DecryptMessage(server, SecBufferDesc([SecBuffer(T.DATA, replay)]), 0)
    bad = bytearray(_encrypt(client, b"altered", False))
    bad[0] ^= 1
    with pytest.raises(MessageAltered):
        sspi.DecryptMessage(server, SecBufferDesc([SecBuffer(T.DATA, bytes(bad))]), 0)
