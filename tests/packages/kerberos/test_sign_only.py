"""Sign-only buffers (SECBUFFER_READONLY_WITH_CHECKSUM) in Kerberos Wrap, without a real peer.

MS-KILE 3.4.5.4.1 and MIT's ``gss_wrap_iov`` with GSS_IOV_BUFFER_TYPE_SIGN_ONLY: a sign-only
buffer is covered by the integrity check where it stands among the DATA buffers but not
encrypted; a plain READONLY buffer is neither. The real-peer proof is
``tests/interop/test_kerberos_sign_only.py``; here the layers are checked one by one (crypto,
RFC 4121 tokens, RFC 4757 tokens) and then end to end through ``sspi.EncryptMessage`` /
``DecryptMessage`` with the in-test KDC.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi import sspi
from opensspi.buffers import SecBuffer, SecBufferDesc
from opensspi.constants import (
    SECQOP_WRAP_NO_ENCRYPT,
    AscReq,
    CredentialUse,
    IscReq,
    IscRet,
    SecBufferAttr,
    SecBufferType,
    SecStatus,
)
from opensspi.errors import AlgorithmMismatch, DecodeError, MessageAltered
from opensspi.packages.kerberos import KerberosAuthData, gss, legacy
from opensspi.packages.kerberos.acceptor import ReplayCache
from opensspi.packages.kerberos.crypto import (
    Key,
    decrypt,
    decrypt_iov,
    encrypt,
    encrypt_iov,
    profile,
    random_key,
)
from opensspi.packages.kerberos.tickets import TicketCache
from opensspi.provider import AuthIdentity, Environment
from opensspi.testing.kdc import MiniKdc, PrincipalEntry

AES = (17, 18, 19, 20)
RWC = SecBufferAttr.READONLY_WITH_CHECKSUM
READONLY = SecBufferAttr.READONLY
FIRST, SIGNED, SECOND = b"first DATA buffer", b"PDU header: signed, not sealed", b"second"


def _key(enctype: int) -> Key:
    return Key(enctype, bytes(range(profile(enctype).key_size)))


# -- crypto: RFC 3961 / RFC 8009 over scattered buffers ----------------------------------------


@pytest.mark.parametrize("enctype", AES)
def test_encrypt_iov_without_sign_only_is_encrypt(enctype: int) -> None:
    key, conf = _key(enctype), bytes(range(16))
    for a, b in ((b"", b""), (b"x", b"y" * 40), (bytes(range(33)), b"z")):
        head, parts, trailer = encrypt_iov(key, 24, [(a, True), (b, True)], conf)
        assert head + parts[0] + parts[1] + trailer == encrypt(key, 24, a + b, conf)
        assert decrypt(key, 24, head + parts[0] + parts[1] + trailer) == a + b


@pytest.mark.parametrize("enctype", AES)
def test_encrypt_iov_sign_only_is_covered_not_encrypted(enctype: int) -> None:
    key = _key(enctype)
    layout = [(FIRST, True), (SIGNED, False), (SECOND, True)]
    head, parts, trailer = encrypt_iov(key, 22, layout, bytes(16))
    assert parts[1] == SIGNED and parts[0] != FIRST and len(parts[2]) == len(SECOND)
    # The ciphertext is exactly encrypt()'s over the DATA buffers; only the MAC differs.
    whole = encrypt(key, 22, FIRST + SECOND, bytes(16))
    h = profile(enctype).checksum_size
    assert head + parts[0] + parts[2] == whole[:-h] and trailer != whole[-h:]
    opened = [(parts[0], True), (SIGNED, False), (parts[2], True)]
    assert decrypt_iov(key, 22, head, opened, trailer) == [FIRST, SIGNED, SECOND]
    for bad in ([(parts[0], True), (SIGNED[:-1] + b"!", False), (parts[2], True)],
                [(SIGNED, False), (parts[0], True), (parts[2], True)],  # order matters
                [(parts[0], True), (parts[2], True)]):  # dropped
        with pytest.raises(MessageAltered):
            decrypt_iov(key, 22, head, bad, trailer)
    with pytest.raises(MessageAltered):
        decrypt_iov(key, 24, head, opened, trailer)  # other usage
    with pytest.raises(DecodeError):
        decrypt_iov(key, 22, head[:-1], opened, trailer)


def test_encrypt_iov_refuses_rc4() -> None:
    with pytest.raises(AlgorithmMismatch, match="AES"):
        encrypt_iov(random_key(23), 13, [(b"x", True)])


# -- RFC 4121 Wrap tokens ------------------------------------------------------------------------


@pytest.mark.parametrize("dce", [False, True], ids=["plain", "dce"])
@pytest.mark.parametrize("seal", [True, False], ids=["sealed", "integrity"])
@pytest.mark.parametrize("enctype", AES)
def test_wrap_iov_round_trip_and_tamper(enctype: int, seal: bool, dce: bool) -> None:
    key = _key(enctype)
    send = gss.Direction(acceptor=True, acceptor_subkey=True)
    size = profile(enctype).checksum_size
    layout = [(FIRST, True), (SIGNED, False), (SECOND, True)]
    out = gss.wrap_iov(key, send, 9, layout, seal=seal, checksum_size=size, dce_style=dce)
    assert SIGNED not in out.token and len(out.data) == len(FIRST + SECOND)
    assert (out.data != FIRST + SECOND) == seal
    a, b = out.data[: len(FIRST)], out.data[len(FIRST) :]
    opened = gss.unwrap_iov(key, send, out.token, [(a, True), (SIGNED, False), (b, True)],
                            dce_style=dce)
    assert (opened.plaintext, opened.seq, opened.sealed) == (FIRST + SECOND, 9, seal)
    with pytest.raises(MessageAltered):
        gss.unwrap_iov(key, send, out.token, [(a, True), (b"x" + SIGNED[1:], False), (b, True)],
                       dce_style=dce)
    with pytest.raises(MessageAltered):  # a sign-only buffer cannot be dropped
        gss.unwrap_iov(key, send, out.token, [(a, True), (b, True)], dce_style=dce)
    with pytest.raises(DecodeError, match="DATA buffers hold"):  # data left in the TOKEN
        gss.unwrap_iov(key, send, out.token + a, [(SIGNED, False), (b, True)], dce_style=dce)


@pytest.mark.parametrize("enctype", AES)
def test_integrity_only_checksum_covers_sign_only_in_order(enctype: int) -> None:
    key = _key(enctype)
    send = gss.Direction(acceptor=False, acceptor_subkey=False)
    size = profile(enctype).checksum_size
    layout = [(FIRST, True), (SIGNED, False), (SECOND, True)]
    out = gss.wrap_iov(key, send, 3, layout, seal=False, checksum_size=size)
    # MIT's checksum_iov_v3: every DATA and SIGN_ONLY buffer in order, then the header.
    header0 = out.token[:4] + b"\x00\x00\x00\x00" + out.token[8:16]
    assert out.token[16:] == gss.make_checksum(key, 24, FIRST + SIGNED + SECOND + header0)
    assert out.data == FIRST + SECOND


def test_wrap_without_sign_only_is_unchanged() -> None:
    key = _key(18)
    send = gss.Direction(acceptor=False, acceptor_subkey=True)
    one = gss.wrap(key, send, 1, b"abc", seal=True, checksum_size=12, confounder=bytes(16))
    two = gss.wrap_iov(key, send, 1, [(b"a", True), (b"bc", True)], seal=True,
                       checksum_size=12, confounder=bytes(16))
    assert one == two
    assert len(one.token) == 16 + 16 + 12 + 16  # MS-KILE's 60-byte trailer, RRC 28


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=40), st.booleans()), max_size=5), st.booleans(),
       st.sampled_from(AES))
def test_any_layout_round_trips(layout: list[tuple[bytes, bool]], seal: bool,
                                enctype: int) -> None:
    key = _key(enctype)
    send = gss.Direction(acceptor=False, acceptor_subkey=False)
    out = gss.wrap_iov(key, send, 1, layout, seal=seal, checksum_size=0)
    pos, parts = 0, []
    for data, encrypted in layout:
        if encrypted:
            parts.append((out.data[pos : pos + len(data)], True))
            pos += len(data)
        else:
            parts.append((data, False))
    opened = gss.unwrap_iov(key, send, out.token, parts)
    assert opened.plaintext == b"".join(d for d, e in layout if e)


# -- RFC 4757 (rc4-hmac) Wrap tokens, as MIT's make_seal_token_v1_iov ---------------------------


@pytest.mark.parametrize("seal", [True, False], ids=["sealed", "integrity"])
def test_rc4_wrap_iov(seal: bool) -> None:
    key = random_key(23)
    plain = legacy.rc4_gss_wrap(key, 5, FIRST + SECOND, True, seal, bytes(8))
    head, parts, pad = legacy.rc4_gss_wrap_iov(key, 5, [(FIRST, True), (SECOND, True)], True,
                                               seal, bytes(8))
    assert head + parts[0] + parts[1] + pad == plain  # no sign-only: the classic token
    head, parts, pad = legacy.rc4_gss_wrap_iov(
        key, 5, [(FIRST, True), (SIGNED, False), (SECOND, True)], True, seal, bytes(8))
    assert parts[1] == SIGNED and len(pad) == 1
    assert head[1] == len(head) - 2 + len(FIRST + SECOND) + 1  # framing leaves SIGNED out
    layout = [(parts[0], True), (SIGNED, False), (parts[2] + pad, True)]
    assert legacy.rc4_gss_unwrap_iov(key, head, layout, True) == (FIRST + SECOND, 5, seal)
    with pytest.raises(MessageAltered):
        legacy.rc4_gss_unwrap_iov(key, head, [(parts[0], True), (SIGNED + b"!", False),
                                              (parts[2] + pad, True)], True)
    with pytest.raises(DecodeError):
        legacy.rc4_gss_unwrap_iov(key, head + parts[0], [(SIGNED, False), (parts[2] + pad, True)],
                                  True)


# -- end to end through the Windows functions, with opensspi's MiniKdc ----------------------------

REALM = "EXAMPLE.TEST"
PASSWORD = "S3cret-Passw0rd!"
SERVICE = "HTTP/web.example.test"
T0 = datetime(2031, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


class _ForcedSessionKdc(MiniKdc):
    """MiniKdc whose session keys (and so the contexts' keys) are of one enctype."""

    def __init__(self, enctype: int, env: Environment) -> None:
        super().__init__(REALM, env=env)
        self.forced = enctype

    def session_enctype(self, requested: Sequence[int], server: PrincipalEntry | None) -> int:
        return self.forced


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    TicketCache.forget_all()
    ReplayCache.process_wide().clear()
    yield
    TicketCache.forget_all()


class Pair:
    """Our client and acceptor through ``opensspi.sspi``, tickets from a :class:`MiniKdc`."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enctype: int,
                 isc: IscReq, asc: int = 0) -> None:
        self.env = Environment(now=lambda: T0, random=random.Random(enctype).randbytes)
        kdc = _ForcedSessionKdc(enctype, self.env)
        kdc.add_user("alice", PASSWORD)
        kdc.add_service(SERVICE)
        keytab = kdc.write_keytab(tmp_path / "service.keytab", SERVICE)
        config = kdc.krb5_config(kdc="kdc.invalid:88", domain_realm={".example.test": REALM})

        def send(data: bytes, kdcs: Any, **kw: Any) -> bytes:
            return kdc.handle(data)

        monkeypatch.setattr("opensspi.sspi.send_to_kdc", send)
        rc4 = enctype == 23
        client_data = KerberosAuthData(
            identity=AuthIdentity("alice", REALM, PASSWORD), config=config, allow_rc4=rc4)
        server_data = KerberosAuthData(acceptor_keytab=f"FILE:{keytab}", config=config,
                                       allow_rc4=rc4)
        ccred = sspi.AcquireCredentialsHandle(None, "Kerberos", CredentialUse.OUTBOUND, None,
                                              client_data).credential
        scred = sspi.AcquireCredentialsHandle(None, "Kerberos", CredentialUse.INBOUND, None,
                                              server_data).credential
        self.client, self.server = sspi.CtxtHandle(), sspi.CtxtHandle()
        out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48000)])
        isc_result = sspi.InitializeSecurityContext(
            ccred, None, SERVICE, isc, 0, 0, None, 0, self.client, out, env=self.env)
        first = True
        while True:
            reply = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48000)])
            asc_result = sspi.AcceptSecurityContext(
                scred if first else None, None if first else self.server,
                SecBufferDesc([out[0]]), asc, 0, self.server if first else None, reply,
                env=self.env)
            first = False
            if isc_result.status == SecStatus.SEC_E_OK:
                break
            out = SecBufferDesc([SecBuffer(SecBufferType.TOKEN, 48000)])
            isc_result = sspi.InitializeSecurityContext(
                ccred, self.client, SERVICE, isc, 0, 0, SecBufferDesc([reply[0]]), 0, None, out,
                env=self.env)
            if asc_result.status == SecStatus.SEC_E_OK and not out[0].buffer:
                break
        self.client_attrs = IscRet(isc_result.context_attr)
        assert isc_result.status == asc_result.status == SecStatus.SEC_E_OK

    def directions(self) -> list[tuple[sspi.CtxtHandle, sspi.CtxtHandle]]:
        return [(self.client, self.server), (self.server, self.client)]


def _message(ro: bytes = b"READONLY: not covered") -> SecBufferDesc:
    return SecBufferDesc([
        SecBuffer(SecBufferType.TOKEN, 128),
        SecBuffer(SecBufferType.DATA, FIRST),
        SecBuffer(SecBufferType.DATA | RWC, SIGNED),
        SecBuffer(SecBufferType.DATA | READONLY, ro),
        SecBuffer(SecBufferType.DATA, SECOND),
        SecBuffer(SecBufferType.PADDING, 16),
    ])


def _received(sent: SecBufferDesc, signed: bytes = SIGNED,
              ro: bytes = b"another READONLY buffer") -> SecBufferDesc:
    """The receiver's buffers; rc4's pad byte travels at the end of the last DATA buffer."""
    return SecBufferDesc([
        SecBuffer(SecBufferType.TOKEN, sent[0].buffer),
        SecBuffer(SecBufferType.DATA, sent[1].buffer),
        SecBuffer(SecBufferType.DATA | RWC, signed),
        SecBuffer(SecBufferType.DATA | READONLY, ro),
        SecBuffer(SecBufferType.DATA, sent[4].buffer + sent[5].buffer),
    ])


@pytest.mark.parametrize("qop", [0, SECQOP_WRAP_NO_ENCRYPT], ids=["sealed", "integrity"])
@pytest.mark.parametrize("enctype", [*AES, 23])
def test_encrypt_message_with_sign_only_buffers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                enctype: int, qop: int) -> None:
    pair = Pair(tmp_path, monkeypatch, enctype,
                IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY | IscReq.INTEGRITY
                | IscReq.REPLAY_DETECT | IscReq.SEQUENCE_DETECT)
    for sender, receiver in pair.directions():
        for _ in range(2):
            sent = _message()
            assert sspi.EncryptMessage(sender, qop, sent, 0) == SecStatus.SEC_E_OK
            assert sent[2].buffer == SIGNED and sent[3].buffer == b"READONLY: not covered"
            assert (sent[1].buffer != FIRST) == (qop == 0)
            # A changed sign-only buffer: SEC_E_MESSAGE_ALTERED, and nothing consumed.
            with pytest.raises(MessageAltered) as info:
                sspi.DecryptMessage(receiver, _received(sent, signed=SIGNED.upper()), 0)
            assert info.value.status == SecStatus.SEC_E_MESSAGE_ALTERED
            # A different READONLY buffer does not matter, and is left as it is.
            got = _received(sent)
            assert sspi.DecryptMessage(receiver, got, 0).qop == qop
            assert [b.buffer for b in list(got)[1:]] == [
                FIRST, SIGNED, b"another READONLY buffer", SECOND]


def test_dce_style_encrypt_message_with_sign_only(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pair = Pair(tmp_path, monkeypatch, 18,
                IscReq.MUTUAL_AUTH | IscReq.CONFIDENTIALITY | IscReq.INTEGRITY
                | IscReq.USE_DCE_STYLE, AscReq.USE_DCE_STYLE)
    assert pair.client_attrs & IscRet.USED_DCE_STYLE
    for sender, receiver in pair.directions():
        sent = _message()
        sspi.EncryptMessage(sender, 0, sent, 0)
        assert sent[0].buffer[4:6] == b"\x00\x10"  # EC 16, rotated by RRC + EC
        with pytest.raises(MessageAltered):
            sspi.DecryptMessage(receiver, _received(sent, signed=b""), 0)
        got = _received(sent)
        sspi.DecryptMessage(receiver, got, 0)
        assert got[1].buffer == FIRST and got[4].buffer == SECOND
