"""KCM caches: the message layer byte for byte, scripted conversations, a fuzzed reply parser, and
a small fake KCM server for the round trip, collections and every kind of bad answer.

The real daemon (Heimdal's kcm, filled by MIT's kinit) is in tests/interop/test_kcm_keyring.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.constants import CredentialUse
from opensspi.errors import DecodeError, NoCredentials, SspiError
from opensspi.packages.kerberos import kcm
from opensspi.packages.kerberos.asn1 import EncryptedData, PrincipalName, Ticket
from opensspi.packages.kerberos.ccache import (
    Ccache,
    CcacheCredential,
    CcacheHeaderTag,
    CcacheName,
    CcachePrincipal,
    collection_caches,
    dump_credential,
    dump_principal,
    load_ccache,
    store_ccache,
)
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.credentials import KerberosAuthData, acquire_credentials
from opensspi.provider import Environment

ALICE = CcachePrincipal(1, ("alice",), "TEST.LOCAL")
BOB = CcachePrincipal(1, ("bob",), "TEST.LOCAL")
NOW = 1_800_000_000
WHEN = datetime.fromtimestamp(NOW, timezone.utc)


def tgt(client: CcachePrincipal) -> CcacheCredential:
    """A TGT record whose ticket is a well-formed DER Ticket (its enc-part is opaque here)."""
    krbtgt = CcachePrincipal(2, ("krbtgt", client.realm), client.realm)
    ticket = Ticket(realm=client.realm, sname=PrincipalName(2, ("krbtgt", client.realm)),
                    enc_part=EncryptedData(etype=18, kvno=1, cipher=b"\x00" * 40)).to_der()
    return CcacheCredential(
        client, krbtgt, 18, bytes(32), authtime=NOW - 10, starttime=NOW - 10,
        endtime=NOW + 36000, ticket_flags=0x40E10000, ticket=ticket,
    )


def answer(status: int = 0, payload: bytes = b"") -> bytes:
    reply = struct.pack(">i", status) + payload
    return struct.pack(">Ii", len(reply), 0) + reply


# -- a fake KCM server -------------------------------------------------------------------------


@dataclass
class FakeCache:
    principal: bytes | None = None
    creds: list[bytes] = field(default_factory=list)


class FakeKcm:
    """A KCM server on a Unix socket: enough of the protocol for MIT's client operations, plus
    ``misbehave(op, request) -> raw bytes to send | None`` to answer garbage instead (and hang
    up after it, so raw bytes ending early are a short frame); ``HANG`` never answers;
    ``CLOSE`` hangs up at once."""

    HANG = b"<hang>"
    CLOSE = b"<close>"

    def __init__(self, directory: Path) -> None:
        self.path = str(directory / "kcm.sock")
        self.caches: dict[str, FakeCache] = {}
        self.default = "0"
        self.misbehave: Callable[[int, bytes], bytes | None] = lambda op, body: None
        self.ops: list[int] = []
        self.trickle = False  # send answers one byte at a time
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(8)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            socket.socket(socket.AF_UNIX).connect(self.path)
        self._sock.close()
        self._accept.join(5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._client, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _client(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            while not self._stop.is_set():
                try:
                    head = conn.recv(4, socket.MSG_WAITALL)
                    if len(head) < 4:
                        return
                    body = conn.recv(struct.unpack(">I", head)[0], socket.MSG_WAITALL)
                except OSError:
                    return
                op = struct.unpack(">H", body[2:4])[0]
                self.ops.append(op)
                raw = self.misbehave(op, body[4:])
                if raw == self.HANG:
                    self._stop.wait(10)
                    return
                if raw == self.CLOSE:
                    return
                if raw is not None:
                    conn.sendall(raw)
                    return  # a misbehaving server hangs up after its answer
                reply = self._answer(op, body[4:])
                if self.trickle:
                    for i in range(len(reply)):
                        conn.sendall(reply[i : i + 1])
                else:
                    conn.sendall(reply)

    def _answer(self, op: int, params: bytes) -> bytes:
        def name_and_rest() -> tuple[str, bytes]:
            nul = params.index(b"\0")
            return params[:nul].decode(), params[nul + 1 :]

        if op == kcm.KcmOp.GET_DEFAULT_CACHE:
            return answer(0, self.default.encode() + b"\0")
        if op == kcm.KcmOp.GET_CACHE_UUID_LIST:
            return answer(0, b"".join(i.to_bytes(16, "big") for i in range(len(self.caches))))
        if op == kcm.KcmOp.GET_CACHE_BY_UUID:
            index = int.from_bytes(params, "big")
            return answer(0, list(self.caches)[index].encode() + b"\0")
        name, rest = name_and_rest()
        cache = self.caches.get(name)
        if op == kcm.KcmOp.INITIALIZE:
            self.caches[name] = FakeCache(rest)
            return answer()
        if cache is None or cache.principal is None:
            return answer(kcm.KRB5_FCC_NOFILE)
        if op == kcm.KcmOp.GET_PRINCIPAL:
            return answer(0, cache.principal)
        if op == kcm.KcmOp.GET_KDC_OFFSET:
            return answer(0, struct.pack(">i", 0))
        if op == kcm.KcmOp.GET_CRED_UUID_LIST:
            return answer(0, b"".join(i.to_bytes(16, "big") for i in range(len(cache.creds))))
        if op == kcm.KcmOp.GET_CRED_BY_UUID:
            return answer(0, cache.creds[int.from_bytes(rest, "big")])
        if op == kcm.KcmOp.STORE:
            cache.creds.append(rest)
            return answer()
        return answer(-1765328188)  # KRB5_FCC_INTERNAL: not implemented here

    def fill(self, name: str, ccache: Ccache) -> None:
        self.caches[name] = FakeCache(
            dump_principal(ccache.default_principal), [dump_credential(c) for c in ccache.entries]
        )


@pytest.fixture
def fake_kcm() -> Iterator[FakeKcm]:
    directory = Path(tempfile.mkdtemp(prefix="kcm", dir="/tmp"))  # AF_UNIX paths are short
    server = FakeKcm(directory)
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


def config_for(server: FakeKcm | str) -> Krb5Config:
    path = server.path if isinstance(server, FakeKcm) else server
    return Krb5Config.from_string(
        f"[libdefaults]\n default_realm = TEST.LOCAL\n kcm_socket = {path}\n"
    )


# -- the message layer ---------------------------------------------------------------------------


def test_requests_byte_for_byte() -> None:
    assert kcm.build_request(kcm.KcmOp.GET_DEFAULT_CACHE) == b"\x02\x00\x00\x14"
    assert kcm.build_request(kcm.KcmOp.GET_PRINCIPAL, "0:1") == b"\x02\x00\x00\x080:1\x00"
    uuid = bytes(range(16))
    assert kcm.build_request(kcm.KcmOp.GET_CRED_BY_UUID, "0", uuid) == (
        b"\x02\x00\x00\x0a0\x00" + uuid
    )
    assert kcm.frame_request(b"\x02\x00\x00\x14") == b"\x00\x00\x00\x04\x02\x00\x00\x14"
    with pytest.raises(DecodeError):
        kcm.build_request(kcm.KcmOp.GET_PRINCIPAL, "a\0b")


def test_reply_parsers() -> None:
    assert kcm.parse_answer_header(b"\x00\x00\x00\x06\x00\x00\x00\x00") == (6, 0)
    with pytest.raises(DecodeError, match="announces"):
        kcm.parse_answer_header(b"HTTP/1.1")
    with pytest.raises(DecodeError):
        kcm.parse_answer_header(b"\x00\x00")
    assert kcm.parse_reply(b"\x96\xc7\x3a\xc3") == kcm.KcmReply(kcm.KRB5_FCC_NOFILE, b"")
    with pytest.raises(DecodeError, match="no status"):
        kcm.parse_reply(b"\x00\x00")
    assert kcm.parse_name(b"0:1\x00") == "0:1"
    for bad in (b"", b"\x00", b"0:1", b"0\x001\x00"):
        with pytest.raises(DecodeError):
            kcm.parse_name(bad)
    assert kcm.parse_uuid_list(bytes(32)) == (bytes(16), bytes(16))
    with pytest.raises(DecodeError, match="multiple of 16"):
        kcm.parse_uuid_list(bytes(17))


def test_read_conversation_scripted() -> None:
    """The exact requests MIT's client sends for ``KCM:``, answered by hand."""
    cc = Ccache(ALICE, (tgt(ALICE),))
    proc = kcm.read_cache(None)
    assert next(proc) == b"\x02\x00\x00\x14"
    assert proc.send(b"\x00" * 4 + b"0\x00") == b"\x02\x00\x00\x080\x00"
    assert proc.send(b"\x00" * 4 + dump_principal(ALICE)) == b"\x02\x00\x00\x160\x00"
    assert proc.send(b"\x00" * 4 + struct.pack(">i", 0)) == b"\x02\x00\x00\x090\x00"
    uuid = b"U" * 16
    assert proc.send(b"\x00" * 4 + uuid) == b"\x02\x00\x00\x0a0\x00" + uuid
    with pytest.raises(StopIteration) as done:
        proc.send(b"\x00" * 4 + dump_credential(cc.entries[0]))
    assert done.value.value == ("0", cc)


replies = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda status, payload: struct.pack(">i", status) + payload,
              st.sampled_from([0, 0, 0, kcm.KRB5_CC_END, kcm.KRB5_FCC_NOFILE, 13, 0x7FFFFFFF]),
              st.one_of(st.binary(max_size=80), st.just(b"0\x00"), st.just(b"U" * 32),
                        st.just(dump_principal(ALICE)), st.just(dump_credential(tgt(ALICE))))),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(replies, max_size=8), st.sampled_from(["read", "list", "write"]))
def test_fuzzed_replies_end_in_a_result_or_a_documented_error(
    answers: list[bytes], which: str
) -> None:
    procedures = {
        "read": lambda: kcm.read_cache(None),
        "list": kcm.list_caches,
        "write": lambda: kcm.write_cache("", Ccache(ALICE, (tgt(ALICE),))),
    }
    proc = procedures[which]()
    try:
        request = next(proc)
        for body in answers:
            assert request[:2] == b"\x02\x00"
            request = proc.send(body)
    except StopIteration:
        return
    except (DecodeError, NoCredentials):
        return
    finally:
        proc.close()


# -- against the fake server ----------------------------------------------------------------------


def test_store_then_load_and_collection(fake_kcm: FakeKcm) -> None:
    conf = config_for(fake_kcm)
    cc = Ccache(ALICE, (tgt(ALICE),))
    assert store_ccache(cc, "KCM:", config=conf) == CcacheName("KCM", "0")
    assert load_ccache("KCM:", config=conf) == cc
    assert load_ccache("KCM:0", config=conf) == cc
    store_ccache(Ccache(BOB, (tgt(BOB),)), "KCM:0:bob", config=conf)
    assert load_ccache("KCM:0:bob", config=conf).default_principal == BOB
    assert collection_caches("KCM:", config=conf) == (
        CcacheName("KCM", "0"), CcacheName("KCM", "0:bob"),
    )
    assert collection_caches("KCM:0:bob", config=conf) == (CcacheName("KCM", "0:bob"),)


def test_acquire_picks_primary_or_the_cache_of_the_principal(fake_kcm: FakeKcm) -> None:
    conf = config_for(fake_kcm)
    fake_kcm.fill("0:alice", Ccache(ALICE, (tgt(ALICE),)))
    fake_kcm.fill("0:bob", Ccache(BOB, (tgt(BOB),)))
    fake_kcm.default = "0:bob"
    env = Environment(now=lambda: WHEN)
    data = KerberosAuthData(ccache="KCM:", config=conf)
    primary = acquire_credentials(None, CredentialUse.OUTBOUND, data, env)
    assert primary.principal_name == "bob@TEST.LOCAL" and primary.ccache_name == "KCM:"
    chosen = acquire_credentials("alice@TEST.LOCAL", CredentialUse.OUTBOUND, data, env)
    assert chosen.principal_name == "alice@TEST.LOCAL" and chosen.ccache_name == "KCM:0:alice"
    with pytest.raises(NoCredentials, match="carol"):
        acquire_credentials("carol@TEST.LOCAL", CredentialUse.OUTBOUND, data, env)


def _acquire_fails(conf: Krb5Config, name: str = "KCM:") -> SspiError:
    env = Environment(now=lambda: WHEN)
    with pytest.raises(SspiError) as info:
        acquire_credentials(None, CredentialUse.OUTBOUND, KerberosAuthData(ccache=name,
                                                                            config=conf), env)
    assert info.value.status == 0x8009030E  # SEC_E_NO_CREDENTIALS
    assert name in info.value.message
    return info.value


GARBAGE: dict[str, Callable[[int, bytes], bytes | None]] = {
    "http": lambda op, body: b"HTTP/1.1 400 Bad Request\r\n\r\n",
    "short frame": lambda op, body: struct.pack(">Ii", 100, 0) + b"\x00" * 10,
    "header only": lambda op, body: b"\x00\x00",
    "unknown status": lambda op, body: answer(0x12345678),
    "transport error": lambda op, body: struct.pack(">Ii", 4, 5) + b"\x00" * 4,
    "empty reply": lambda op, body: struct.pack(">Ii", 0, 0),
    "bad name": lambda op, body: answer(0, b"no terminator"),
    "bad principal": lambda op, body: answer(0, b"\x00\x00\x00\x01\xff\xff\xff\xff")
    if op == kcm.KcmOp.GET_PRINCIPAL else None,
    "bad credential": lambda op, body: answer(0, dump_credential(tgt(ALICE))[:-3])
    if op == kcm.KcmOp.GET_CRED_BY_UUID else None,
    "odd uuid list": lambda op, body: answer(0, b"x" * 20)
    if op == kcm.KcmOp.GET_CRED_UUID_LIST else None,
    "close": lambda op, body: FakeKcm.CLOSE,
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_bad_server_answers(fake_kcm: FakeKcm, kind: str) -> None:
    fake_kcm.fill("0", Ccache(ALICE, (tgt(ALICE),)))
    fake_kcm.misbehave = GARBAGE[kind]
    error = _acquire_fails(config_for(fake_kcm))
    assert fake_kcm.path in error.message or "KCM:" in error.message


def test_answers_one_byte_at_a_time(fake_kcm: FakeKcm) -> None:
    cc = Ccache(ALICE, (tgt(ALICE), tgt(ALICE)))
    fake_kcm.fill("0", cc)
    fake_kcm.trickle = True
    assert load_ccache("KCM:", config=config_for(fake_kcm)) == cc


def test_unknown_status_is_named(fake_kcm: FakeKcm) -> None:
    fake_kcm.misbehave = lambda op, body: answer(0x12345678)
    with pytest.raises(NoCredentials, match=r"KCM:.*unknown status 305419896"):
        load_ccache("KCM:", config=config_for(fake_kcm))


def test_a_silent_server_times_out(fake_kcm: FakeKcm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kcm, "DEFAULT_TIMEOUT", 0.3)
    fake_kcm.misbehave = lambda op, body: FakeKcm.HANG
    with pytest.raises(NoCredentials, match="no complete answer in time"):
        load_ccache("KCM:", config=config_for(fake_kcm))


def test_no_server_and_disabled(tmp_path: Path) -> None:
    error = _acquire_fails(config_for(str(tmp_path / "nothing")))
    assert f"Nothing listens at {tmp_path / 'nothing'}, so there is no KCM server for KCM:" in (
        error.message
    )
    with pytest.raises(NoCredentials, match="kcm_socket = -"):
        load_ccache("KCM:", config=config_for("-"))


def test_kdc_offset_round_trip(fake_kcm: FakeKcm) -> None:
    conf = config_for(fake_kcm)
    offsets: list[bytes] = []

    def remember(op: int, body: bytes) -> bytes | None:
        if op == kcm.KcmOp.SET_KDC_OFFSET:
            offsets.append(body)
        return None

    fake_kcm.misbehave = remember
    with_offset = Ccache(ALICE, (tgt(ALICE),), (CcacheHeaderTag(1, struct.pack(">ii", -42, 0)),))
    store_ccache(with_offset, "KCM:0", config=conf)
    assert offsets == [b"0\x00" + struct.pack(">i", -42)]


def test_macos_api_cache_says_how_to_get_a_file_cache() -> None:
    env = Environment(now=lambda: WHEN)
    with pytest.raises(SspiError) as info:
        acquire_credentials(None, CredentialUse.OUTBOUND, KerberosAuthData(
            config=Krb5Config.defaults(), environ={"KRB5CCNAME": "API:501"}), env)
    assert info.value.status == 0x8009030E
    assert "API:501 is a macOS API: cache" in info.value.message
    assert "kinit -c FILE:" in info.value.message and "KRB5CCNAME=FILE:" in info.value.message


def test_default_socket_path() -> None:
    assert Krb5Config.defaults().kcm_socket == "/var/run/.heim_org.h5l.kcm-socket"
    assert os.path.basename(Krb5Config.defaults().kcm_socket).startswith(".heim_org")
