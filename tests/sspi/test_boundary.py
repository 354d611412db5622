"""The error boundary, through every door: tampered messages give their exact ``SEC_E_*``.

For every package (NTLM, Kerberos with the in-test KDC, Digest SASL auth-conf) and every message
function, a message made by the peer is truncated, padded with junk, or has one bit flipped at
each position of its security token; the receiver must answer with the status that the tampered
field calls for — never another exception type — through the Pythonic API, through
``opensspi.sspi`` (DecryptMessage on STREAM + DATA, VerifySignature on TOKEN + DATA) and through
the pywin32 look-alike (``win32security.error`` whose ``winerror`` is the status).

Expected status per field (each from the package's specification):

- NTLM signature (MS-NLMP 2.2.2.9.1): Version 0-3 and Checksum 4-11 -> MESSAGE_ALTERED; SeqNum
  12-15, in clear with extended session security -> OUT_OF_SEQUENCE; a token shorter than the
  16-byte signature -> INVALID_TOKEN.
- Kerberos (RFC 4121 §4.2.6): TOK_ID (0-1) and the Filler (3 in Wrap, 3-7 in MIC) -> INVALID_TOKEN;
  the Flags byte (2), EC/RRC and the sealed body -> MESSAGE_ALTERED, except EC's high byte (4),
  which makes the extra count larger than the token -> INVALID_TOKEN; a token shorter than its
  header and checksum -> INVALID_TOKEN.
- Digest (RFC 2831 §2.3/2.4): MAC (0-9) and message type (10-11) -> MESSAGE_ALTERED; SeqNum (12-15)
  -> OUT_OF_SEQUENCE; anything shorter than the 16-byte trailer -> INVALID_TOKEN.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import opensspi
from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.compat.pywin32 import _win32security as w32
from opensspi.constants import (
    AscReq,
    CredentialUse,
    IscReq,
    SecBufferType,
    SecPkgAttr,
    SecStatus,
)
from opensspi.errors import SspiError
from opensspi.packages.digest.credentials import DigestAcceptorConfig
from opensspi.packages.kerberos import KerberosAuthData
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import AuthIdentity, Sizes
from opensspi.testing.kdc import MiniKdc

S = SecStatus
ALTERED, SEQ, INVALID = S.SEC_E_MESSAGE_ALTERED, S.SEC_E_OUT_OF_SEQUENCE, S.SEC_E_INVALID_TOKEN
REALM, SERVICE, PASSWORD = "EXAMPLE.TEST", "HTTP/web.example.test", "Passw0rd!"
ISC = IscReq.CONFIDENTIALITY | IscReq.INTEGRITY | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT
ASC = AscReq.CONFIDENTIALITY | AscReq.INTEGRITY | AscReq.REPLAY_DETECT | AscReq.SEQUENCE_DETECT
MESSAGE = b"a message of some length, " * 4


def wrap_status(package: str, position: int, length: int) -> SecStatus:
    """The status a bit flip at ``position`` of a wrapped message must give."""
    if package == "NTLM":
        return SEQ if 12 <= position < 16 else ALTERED
    if package == "Kerberos":
        return INVALID if position in (0, 1, 3, 4) else ALTERED
    # Digest: the ciphertext comes first; the trailer's last four bytes are the SeqNum.
    return SEQ if position >= length - 4 else ALTERED


def sign_status(package: str, position: int) -> SecStatus:
    """The status a bit flip at ``position`` of a detached signature must give."""
    if package == "Kerberos":
        return INVALID if position in (0, 1, 3, 4, 5, 6, 7) else ALTERED
    return SEQ if 12 <= position < 16 else ALTERED


def truncation_status(package: str, kind: str, length: int) -> SecStatus:
    header = {"NTLM": 16, "Kerberos": 16, "WDigest": 16}[package]
    if package == "Kerberos" and kind == "wrap":
        # header, confounder, the sealed copy of the header and the checksum (AES256)
        header = 16 + 16 + 16 + 12
    return INVALID if length < header else ALTERED


# -- the in-test realm ---------------------------------------------------------------------------


@dataclass
class Realm:
    kdc: MiniKdc
    keytab: Path
    config: Any


@pytest.fixture
def realm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Realm]:
    TicketCache.forget_all()
    ReplayCache.process_wide().clear()
    kdc = MiniKdc(REALM)
    kdc.add_user("alice", PASSWORD)
    kdc.add_service(SERVICE)
    keytab = kdc.write_keytab(tmp_path / "service.keytab", SERVICE)
    config = kdc.krb5_config(kdc="kdc.invalid:88", domain_realm={".example.test": REALM})
    monkeypatch.setattr("opensspi.sspi.send_to_kdc", lambda data, kdcs, **kw: kdc.handle(data))
    yield Realm(kdc, keytab, config)
    TicketCache.forget_all()


def auth_data(package: str, realm: Realm, client: bool) -> object:
    if package == "NTLM":
        return AuthIdentity("alice", "CORP", PASSWORD) if client else {"CORP\\alice": PASSWORD}
    if package == "Kerberos":
        if client:
            return KerberosAuthData(identity=AuthIdentity("alice", REALM, PASSWORD),
                                    config=realm.config)
        return KerberosAuthData(acceptor_keytab=f"FILE:{realm.keytab}", config=realm.config)
    if client:
        return AuthIdentity("alice", None, PASSWORD)
    return DigestAcceptorConfig(realm="example.com", passwords={"alice": PASSWORD})


TARGETS = {"NTLM": "HTTP/web", "Kerberos": SERVICE, "WDigest": "imap/mail.example.com"}
PACKAGES = list(TARGETS)


# -- three doors onto the same four operations -----------------------------------------------------


class Side:
    """One established context, seen through one door."""

    def wrap(self, data: bytes) -> bytes:
        raise NotImplementedError

    def unwrap(self, message: bytes) -> bytes:
        raise NotImplementedError

    def sign(self, data: bytes) -> bytes:
        raise NotImplementedError

    def verify(self, data: bytes, signature: bytes) -> None:
        raise NotImplementedError


class PythonicSide(Side):
    def __init__(self, ctx: opensspi.Context) -> None:
        self.ctx = ctx

    def wrap(self, data: bytes) -> bytes:
        return self.ctx.wrap(data)

    def unwrap(self, message: bytes) -> bytes:
        return self.ctx.unwrap(message)

    def sign(self, data: bytes) -> bytes:
        return self.ctx.sign(data)

    def verify(self, data: bytes, signature: bytes) -> None:
        self.ctx.verify(data, signature)


class SspiSide(Side):
    def __init__(self, handle: sspi.CtxtHandle, trailer_last: bool) -> None:
        self.handle = handle
        self.trailer_last = trailer_last
        sizes = sspi.QueryContextAttributes(handle, SecPkgAttr.SIZES)
        assert isinstance(sizes, Sizes)
        self.sizes = sizes

    def wrap(self, data: bytes) -> bytes:
        desc = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, self.sizes.security_trailer),
                              SecBuffer(SecBufferType.DATA, data),
                              SecBuffer(SecBufferType.PADDING, self.sizes.block_size)])
        sspi.EncryptMessage(self.handle, 0, desc, 0)
        if self.trailer_last:  # Digest: the RFC 2831 frame is data, then the trailer
            return desc[1].buffer + desc[0].buffer + desc[2].buffer
        return desc[0].buffer + desc[1].buffer + desc[2].buffer

    def unwrap(self, message: bytes) -> bytes:
        desc = SecBufferDesc([SecBuffer(SecBufferType.STREAM, message),
                              SecBuffer(SecBufferType.DATA, 0)])
        sspi.DecryptMessage(self.handle, desc, 0)
        return desc[1].buffer

    def sign(self, data: bytes) -> bytes:
        desc = SecBufferDesc([SecBuffer(SecBufferType.DATA, data),
                              SecBuffer(SecBufferType.TOKEN, self.sizes.max_signature)])
        sspi.MakeSignature(self.handle, 0, desc, 0)
        return desc[1].buffer

    def verify(self, data: bytes, signature: bytes) -> None:
        sspi.VerifySignature(self.handle, SecBufferDesc([
            SecBuffer(SecBufferType.DATA, data), SecBuffer(SecBufferType.TOKEN, signature)]), 0)


class Pywin32Side(Side):
    """The shapes pywin32's ``sspi`` helper uses (encrypt=True for wrap)."""

    def __init__(self, handle: w32.PyCtxtHandleType, trailer_last: bool) -> None:
        self.handle = handle
        self.trailer_last = trailer_last
        self.sizes = handle.QueryContextAttributes(SecPkgAttr.SIZES)

    def _desc(self, *buffers: tuple[int, bytes | int]) -> w32.PySecBufferDescType:
        desc = w32.PySecBufferDescType()
        for kind, value in buffers:
            buf = w32.PySecBufferType(value if isinstance(value, int) else len(value), kind)
            if not isinstance(value, int):
                buf.Buffer = value
            desc.append(buf)
        return desc

    def wrap(self, data: bytes) -> bytes:
        desc = self._desc((SecBufferType.TOKEN, self.sizes["SecurityTrailer"]),
                          (SecBufferType.DATA, data),
                          (SecBufferType.PADDING, self.sizes["BlockSize"]))
        self.handle.EncryptMessage(0, desc, 0)
        if self.trailer_last:
            return desc[1].Buffer + desc[0].Buffer + desc[2].Buffer
        return desc[0].Buffer + desc[1].Buffer + desc[2].Buffer

    def unwrap(self, message: bytes) -> bytes:
        desc = self._desc((SecBufferType.STREAM, message), (SecBufferType.DATA, 0))
        self.handle.DecryptMessage(desc, 0)
        return desc[1].Buffer

    def sign(self, data: bytes) -> bytes:
        desc = self._desc((SecBufferType.DATA, data),
                          (SecBufferType.TOKEN, self.sizes["MaxSignature"]))
        self.handle.MakeSignature(0, desc, 0)
        return desc[1].Buffer

    def verify(self, data: bytes, signature: bytes) -> None:
        self.handle.VerifySignature(
            self._desc((SecBufferType.DATA, data), (SecBufferType.TOKEN, signature)), 0)


def pythonic_pair(package: str, realm: Realm) -> tuple[Side, Side]:
    client = opensspi.client(package, target=TARGETS[package], flags=ISC,
                             auth_data=auth_data(package, realm, True))
    server = opensspi.server(package, flags=ASC, auth_data=auth_data(package, realm, False))
    token = client.step()
    while not (client.complete and server.complete):
        reply = server.step(token)
        if client.complete:
            break
        token = client.step(reply)
    assert client.complete and server.complete
    return PythonicSide(client), PythonicSide(server)


def sspi_pair(package: str, realm: Realm) -> tuple[Side, Side]:
    ccred = sspi.AcquireCredentialsHandle(None, package, CredentialUse.OUTBOUND, None,
                                          auth_data(package, realm, True)).credential
    scred = sspi.AcquireCredentialsHandle(None, package, CredentialUse.INBOUND, None,
                                          auth_data(package, realm, False)).credential
    client, server = sspi.CtxtHandle(), sspi.CtxtHandle()
    token = b""
    for _ in range(6):
        out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48000)])
        inp = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, token)]) if token else None
        isc = sspi.InitializeSecurityContext(
            ccred, client if client.is_valid else None, TARGETS[package], ISC, 0, 0, inp, 0,
            client, out)
        if isc.status == S.SEC_E_OK and not out[0].buffer:
            break
        reply = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48000)])
        asc = sspi.AcceptSecurityContext(
            scred, server if server.is_valid else None,
            SecBufferDesc([SecBuffer(SecBufferType.TOKEN, out[0].buffer)]), ASC, 0, server, reply)
        token = reply[0].buffer
        if isc.status == S.SEC_E_OK and asc.status == S.SEC_E_OK and not token:
            break
    last = package == "WDigest"
    return SspiSide(client, last), SspiSide(server, last)


def pywin32_pair(package: str, realm: Realm) -> tuple[Side, Side]:
    ccred, _ = w32.AcquireCredentialsHandle(None, package, CredentialUse.OUTBOUND, None,
                                            auth_data(package, realm, True))
    scred, _ = w32.AcquireCredentialsHandle(None, package, CredentialUse.INBOUND, None,
                                            auth_data(package, realm, False))
    client, server = w32.PyCtxtHandleType(), w32.PyCtxtHandleType()
    token, started = b"", False
    for _ in range(6):
        out = w32.PySecBufferDescType()
        out.append(w32.PySecBufferType(48000, SecBufferType.TOKEN))
        inp = None
        if token:
            inp = w32.PySecBufferDescType()
            inp.append(w32.PySecBufferType(len(token), SecBufferType.TOKEN))
            inp[0].Buffer = token
        err, _, _ = w32.InitializeSecurityContext(
            ccred, client if started else None, TARGETS[package], ISC, 0, inp, client, out)
        client_done = err == 0
        if client_done and not out[0].Buffer:
            break
        reply = w32.PySecBufferDescType()
        reply.append(w32.PySecBufferType(48000, SecBufferType.TOKEN))
        sent = w32.PySecBufferDescType()
        sent.append(w32.PySecBufferType(len(out[0].Buffer), SecBufferType.TOKEN))
        sent[0].Buffer = out[0].Buffer
        err, _, _ = w32.AcceptSecurityContext(
            scred, server if started else None, sent, ASC, 0, server, reply)
        started = True
        token = reply[0].Buffer
        if client_done and err == 0 and not token:
            break
    last = package == "WDigest"
    return Pywin32Side(client, last), Pywin32Side(server, last)


DOORS: dict[str, Callable[[str, Realm], tuple[Side, Side]]] = {
    "pythonic": pythonic_pair, "sspi": sspi_pair, "pywin32": pywin32_pair,
}


def status_of(call: Callable[[], object]) -> SecStatus:
    """The status ``call`` fails with; any exception but the door's own error fails the test."""
    try:
        call()
    except SspiError as exc:
        return exc.status
    except w32.error as exc:
        return SecStatus(exc.winerror & 0xFFFFFFFF)
    raise AssertionError("the tampered message was accepted")


def _flip(data: bytes, position: int) -> bytes:
    out = bytearray(data)
    out[position] ^= 0x01
    return bytes(out)


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize("package", PACKAGES)
def test_round_trip_through_every_door(realm: Realm, door: str, package: str) -> None:
    client, server = DOORS[door](package, realm)
    assert server.unwrap(client.wrap(MESSAGE)) == MESSAGE
    assert client.unwrap(server.wrap(MESSAGE)) == MESSAGE
    server.verify(MESSAGE, client.sign(MESSAGE))


@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize("package", PACKAGES)
def test_every_flipped_bit_of_a_wrapped_message(realm: Realm, door: str, package: str) -> None:
    client, _ = DOORS[door](package, realm)
    length = len(client.wrap(MESSAGE))
    for position in [*range(32), length // 2, length - 1]:
        client, server = DOORS[door](package, realm)
        tampered = _flip(client.wrap(MESSAGE), position)
        got = status_of(lambda t=tampered, s=server: s.unwrap(t))  # type: ignore[misc]
        assert got == wrap_status(package, position, length), (position, got)


@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize("package", PACKAGES)
def test_every_flipped_bit_of_a_signature(realm: Realm, door: str, package: str) -> None:
    client, _ = DOORS[door](package, realm)
    for position in range(len(client.sign(MESSAGE))):
        client, server = DOORS[door](package, realm)
        signature = _flip(client.sign(MESSAGE), position)
        got = status_of(
            lambda sig=signature, s=server: s.verify(MESSAGE, sig))  # type: ignore[misc]
        assert got == sign_status(package, position), (position, got)


@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize("package", PACKAGES)
def test_truncated_oversized_and_garbage_messages(realm: Realm, door: str, package: str) -> None:
    client, _ = DOORS[door](package, realm)
    length = len(client.wrap(MESSAGE))
    for cut in (0, 1, 8, 15, 16, 31, 44, 59, 60, length - 1):
        client, server = DOORS[door](package, realm)
        message = client.wrap(MESSAGE)[:cut]
        got = status_of(lambda m=message, s=server: s.unwrap(m))  # type: ignore[misc]
        assert got == truncation_status(package, "wrap", cut), (cut, got)
    client, server = DOORS[door](package, realm)
    oversized = client.wrap(MESSAGE) + bytes(70000)
    assert status_of(lambda: server.unwrap(oversized)) in (ALTERED, INVALID)
    client, server = DOORS[door](package, realm)
    # Random bytes: NTLM and Digest read a (random) sequence number in clear before the MAC.
    garbage = random.Random(7).randbytes(200)
    assert status_of(lambda: server.unwrap(garbage)) in (ALTERED, INVALID, SEQ)
    for cut in (0, 1, 8, 15):
        client, server = DOORS[door](package, realm)
        signature = client.sign(MESSAGE)[:cut]
        got = status_of(lambda sig=signature, s=server: s.verify(MESSAGE, sig))  # type: ignore[misc]
        assert got == INVALID, (cut, got)


@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize("package", PACKAGES)
def test_a_rejected_message_leaves_the_context_usable(realm: Realm, door: str,
                                                      package: str) -> None:
    """A malformed token is SEC_E_INVALID_TOKEN and nothing more: the next genuine message of
    the peer, made after the rejected one, still goes through."""
    client, server = DOORS[door](package, realm)
    assert status_of(lambda: server.unwrap(b"\x05\x04junk")) == INVALID
    assert server.unwrap(client.wrap(MESSAGE)) == MESSAGE
