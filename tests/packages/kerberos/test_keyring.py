"""KEYRING caches: names, the primary index, MIT's layout built by hand in an in-memory keyring
(round trip, collections, malformed keys, a kernel that forbids keyrings), and the real kernel
keyring for the process and persistent anchors.

MIT's own kinit and klist against the session keyring are in tests/interop/test_kcm_keyring.py.
"""

from __future__ import annotations

import errno
import os
import struct
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.constants import CredentialUse
from opensspi.errors import DecodeError, NoCredentials, SspiError, UnsupportedFunction
from opensspi.packages.kerberos import keyring
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
from support.require import require_peer

ALICE = CcachePrincipal(1, ("alice",), "TEST.LOCAL")
BOB = CcachePrincipal(1, ("bob",), "TEST.LOCAL")
NOW = 1_800_000_000
WHEN = datetime.fromtimestamp(NOW, timezone.utc)
CONF = Krb5Config.from_string("[libdefaults]\n default_realm = TEST.LOCAL\n")


def tgt(client: CcachePrincipal) -> CcacheCredential:
    krbtgt = CcachePrincipal(2, ("krbtgt", client.realm), client.realm)
    ticket = Ticket(realm=client.realm, sname=PrincipalName(2, ("krbtgt", client.realm)),
                    enc_part=EncryptedData(etype=18, kvno=1, cipher=b"\x00" * 40)).to_der()
    return CcacheCredential(
        client, krbtgt, 18, bytes(32), authtime=NOW - 10, starttime=NOW - 10,
        endtime=NOW + 36000, ticket_flags=0x40E10000, ticket=ticket,
    )


class FakeKeys:
    """An in-memory key service with the kernel's semantics that the layout relies on: special
    keyring ids, recursive search, add_key replacing a key of the same type and description,
    keyring payloads as arrays of native 32-bit serials."""

    SPECIAL: ClassVar[dict[int, str]] = {
        -1: "thread", -2: "process", -3: "session", -4: "user", -5: "user-session",
    }

    def __init__(self, fail: int | None = None) -> None:
        self.keys: dict[int, tuple[str, str, bytes | list[int]]] = {}
        self.fail = fail
        self.next = 1000
        self.anchor_ids: dict[int, int] = {}
        for special, desc in self.SPECIAL.items():
            self.anchor_ids[special] = self._new("keyring", desc, [])
        # the process has no session keyring of its own: session == user session
        self.anchor_ids[-3] = self.anchor_ids[-5]

    def _new(self, key_type: str, desc: str, payload: bytes | list[int]) -> int:
        self.next += 1
        self.keys[self.next] = (key_type, desc, payload)
        return self.next

    def _id(self, key: int) -> int:
        if self.fail is not None:
            raise OSError(self.fail, os.strerror(self.fail))
        key = self.anchor_ids.get(key, key)
        if key not in self.keys:
            raise OSError(errno.ENOKEY, "Required key not available")
        return key

    def _children(self, keyring: int) -> list[int]:
        payload = self.keys[self._id(keyring)][2]
        assert isinstance(payload, list)
        return payload

    def keyring_id(self, special: int, create: bool) -> int:
        return self._id(special)

    def search(self, keyring: int, key_type: str, description: str) -> int | None:
        for child in self._children(keyring):
            ctype, cdesc, _ = self.keys[child]
            if ctype == key_type and cdesc == description:
                return child
            if ctype == "keyring":
                found = self.search(child, key_type, description)
                if found is not None:
                    return found
        return None

    def read(self, key: int) -> bytes:
        payload = self.keys[self._id(key)][2]
        if isinstance(payload, list):
            return struct.pack(f"={len(payload)}i", *payload)
        return payload

    def describe(self, key: int) -> tuple[str, str]:
        ctype, desc, _ = self.keys[self._id(key)]
        return ctype, desc

    def add_key(self, key_type: str, description: str, payload: bytes, keyring: int) -> int:
        children = self._children(keyring)
        if key_type == "big_key":
            raise OSError(errno.ENODEV, "no big_key here")
        for child in children:
            ctype, cdesc, _ = self.keys[child]
            if ctype == key_type and cdesc == description:
                if ctype != "keyring":
                    self.keys[child] = (ctype, cdesc, payload)
                return child
        new = self._new(key_type, description, [] if key_type == "keyring" else payload)
        children.append(new)
        return new

    def clear(self, keyring: int) -> None:
        self._children(keyring).clear()

    def link(self, key: int, keyring: int) -> None:
        children = self._children(keyring)
        if key not in children:
            children.append(key)

    def persistent(self, uid: int, link_to: int) -> int:
        raise OSError(errno.EOPNOTSUPP, "no persistent keyrings")

    # -- hand-built MIT layouts --
    def mit_cache(self, collection: str, name: str, principal: bytes,
                  creds: dict[str, bytes], primary: bytes | None = None) -> int:
        session = self.anchor_ids[-3]
        coll = self.search(session, "keyring", f"_krb_{collection}")
        if coll is None:
            coll = self.add_key("keyring", f"_krb_{collection}", b"", session)
        if primary is not None:
            self.add_key("user", "krb_ccache:primary", primary, coll)
        cache = self.add_key("keyring", name, b"", coll)
        self.add_key("user", "__krb5_princ__", principal, cache)
        for desc, blob in creds.items():
            self.add_key("user", desc, blob, cache)
        return cache


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKeys:
    keys = FakeKeys()
    monkeypatch.setattr(keyring, "Keyctl", lambda: keys)
    return keys


def primary(name: str) -> bytes:
    return struct.pack(">II", 1, len(name)) + name.encode()


# -- names and the primary index ------------------------------------------------------------------


def test_names() -> None:
    parse = keyring.parse_keyring_name
    assert parse("session:work") == keyring.KeyringName("session", "work", None)
    assert parse("user:work:tkt2") == keyring.KeyringName("user", "work", "tkt2")
    assert parse("persistent:1000") == keyring.KeyringName("persistent", "1000", None)
    assert parse("persistent:") == keyring.KeyringName("persistent", "", None)
    assert parse("krb5cc") == keyring.KeyringName("legacy", "krb5cc", None)
    assert str(parse("thread:c:x")) == "KEYRING:thread:c:x"
    with pytest.raises(UnsupportedFunction, match="unknown anchor 'galaxy'"):
        parse("galaxy:x")
    with pytest.raises(UnsupportedFunction, match="takes a uid"):
        parse("persistent:alice")


def test_primary_index() -> None:
    assert keyring.parse_primary_index(primary("krb_ccache_AbCd1234")) == "krb_ccache_AbCd1234"
    assert keyring.dump_primary_index("tkt") == b"\x00\x00\x00\x01\x00\x00\x00\x03tkt"
    for bad, why in ((b"\x00\x00\x00\x01", "fewer than 8"),
                     (struct.pack(">II", 2, 0), "version 2"),
                     (struct.pack(">II", 1, 9) + b"short", "says 9 name bytes")):
        with pytest.raises(DecodeError, match=why):
            keyring.parse_primary_index(bad)


# -- MIT's layout, by hand ---------------------------------------------------------------------


def test_reads_a_hand_built_mit_cache(fake: FakeKeys) -> None:
    cred = tgt(ALICE)
    cache = fake.mit_cache("work", "krb_ccache_Xy12AbCd", dump_principal(ALICE),
                           {str(cred.server): dump_credential(cred)},
                           primary=primary("krb_ccache_Xy12AbCd"))
    fake.add_key("user", "__krb5_time_offsets__", struct.pack(">ii", -7, 250), cache)
    got = load_ccache("KEYRING:session:work")
    assert got == Ccache(ALICE, (cred,), (CcacheHeaderTag(1, struct.pack(">ii", -7, 250)),))
    assert got.kdc_offset == (-7, 250)
    assert load_ccache("KEYRING:session:work:krb_ccache_Xy12AbCd") == got
    # no primary key: the primary is the cache named after the collection
    fake.mit_cache("plain", "plain", dump_principal(BOB), {})
    assert load_ccache("KEYRING:session:plain").default_principal == BOB
    assert load_ccache("KEYRING:plain").default_principal == BOB  # legacy form


def test_store_round_trip_and_collection(fake: FakeKeys) -> None:
    cc = Ccache(ALICE, (tgt(ALICE),))
    assert store_ccache(cc, "KEYRING:session:c") == CcacheName("KEYRING", "session:c:c")
    assert load_ccache("KEYRING:session:c") == cc
    session = fake.anchor_ids[-5]
    coll = fake.search(session, "keyring", "_krb_c")
    assert coll is not None
    index = fake.search(coll, "user", "krb_ccache:primary")
    assert index is not None and fake.read(index) == primary("c")
    cache = fake.search(coll, "keyring", "c")
    assert cache is not None
    assert {fake.describe(k)[1] for k in fake._children(cache)} == {
        "__krb5_princ__", "krbtgt/TEST.LOCAL@TEST.LOCAL"
    }
    store_ccache(Ccache(BOB, (tgt(BOB),)), "KEYRING:session:c:bob")
    assert collection_caches("KEYRING:session:c") == (
        CcacheName("KEYRING", "session:c:c"), CcacheName("KEYRING", "session:c:bob"),
    )
    # a rewrite replaces the cache's contents
    store_ccache(Ccache(ALICE), "KEYRING:session:c")
    assert load_ccache("KEYRING:session:c") == Ccache(ALICE)


def test_acquire_finds_the_principal_in_the_collection(fake: FakeKeys) -> None:
    store_ccache(Ccache(ALICE, (tgt(ALICE),)), "KEYRING:user:team")
    store_ccache(Ccache(BOB, (tgt(BOB),)), "KEYRING:user:team:krb_ccache_bob")
    env = Environment(now=lambda: WHEN)
    data = KerberosAuthData(ccache="KEYRING:user:team", config=CONF)
    assert acquire_credentials(None, CredentialUse.OUTBOUND, data, env).principal_name == (
        "alice@TEST.LOCAL"
    )
    bob = acquire_credentials("bob@TEST.LOCAL", CredentialUse.OUTBOUND, data, env)
    assert bob.principal_name == "bob@TEST.LOCAL"
    assert bob.ccache_name == "KEYRING:user:team:krb_ccache_bob"


MALFORMED = {
    "principal": (b"\x00\x00\x00\x01\x00\x00\x00\x09", None, "'__krb5_princ__' is malformed"),
    "principal+trailing": (dump_principal(ALICE) + b"!", None, "1 bytes follow the principal"),
    "credential": (dump_principal(ALICE), dump_credential(tgt(ALICE))[:40],
                   "'krbtgt/TEST.LOCAL@TEST.LOCAL' is malformed"),
    "is_skey": (dump_principal(ALICE), None, "is_skey"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_keys_name_the_cache(fake: FakeKeys, kind: str) -> None:
    princ, cred_blob, why = MALFORMED[kind]
    cred = tgt(ALICE)
    blob = dump_credential(cred) if cred_blob is None else cred_blob
    if kind == "is_skey":
        # is_skey sits after client, server, keyblock and four times
        pos = len(dump_credential(cred)) - len(dump_credential(cred).split(cred.key, 1)[1]) + 16
        blob = blob[:pos] + b"\x07" + blob[pos + 1 :]
    fake.mit_cache("bad", "bad", princ, {str(cred.server): blob})
    with pytest.raises(DecodeError, match=why) as raw:
        load_ccache("KEYRING:session:bad")
    assert "KEYRING:session:bad:bad" in str(raw.value)
    with pytest.raises(SspiError) as info:
        acquire_credentials(None, CredentialUse.OUTBOUND,
                            KerberosAuthData(ccache="KEYRING:session:bad", config=CONF),
                            Environment(now=lambda: WHEN))
    assert info.value.status == 0x8009030E  # SEC_E_NO_CREDENTIALS
    assert "KEYRING:session:bad:bad" in info.value.message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.binary(max_size=300), st.binary(max_size=24),
       st.integers(0, 2))
def test_fuzzed_keys_end_in_a_cache_or_a_decode_error(
    princ: bytes, cred: bytes, index: bytes, which: int
) -> None:
    keys = FakeKeys()
    good_princ, good_cred = dump_principal(ALICE), dump_credential(tgt(ALICE))
    blobs = [(princ, good_cred, primary("f")), (good_princ, cred, primary("f")),
             (good_princ, good_cred, index)][which]
    keys.mit_cache("f", "f", blobs[0], {"krbtgt/TEST.LOCAL@TEST.LOCAL": blobs[1]},
                   primary=blobs[2])
    try:
        name, cc = keyring.load("session:f", keys)
    except DecodeError as exc:
        assert "KEYRING:session:f" in str(exc)
        return
    except NoCredentials as exc:  # a primary index naming another cache
        assert "KEYRING:session:f" in exc.message
        return
    assert name.startswith("KEYRING:session:f:") and isinstance(cc, Ccache)


def test_malformed_primary_and_offsets(fake: FakeKeys) -> None:
    fake.mit_cache("p", "p", dump_principal(ALICE), {}, primary=struct.pack(">II", 1, 99))
    with pytest.raises(DecodeError, match=r"KEYRING:session:p: krb_ccache:primary"):
        load_ccache("KEYRING:session:p")
    cache = fake.mit_cache("o", "o", dump_principal(ALICE), {})
    fake.add_key("user", "__krb5_time_offsets__", b"\x00" * 5, cache)
    with pytest.raises(DecodeError, match="holds 5 bytes, not 8"):
        load_ccache("KEYRING:session:o")


def test_missing_cache_and_forbidden_keyrings(fake: FakeKeys,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NoCredentials, match="No credential cache KEYRING:session:nothing"):
        load_ccache("KEYRING:session:nothing")
    assert collection_caches("KEYRING:session:nothing") == ()
    coll = fake.add_key("keyring", "_krb_noprinc", b"", fake.anchor_ids[-3])
    fake.add_key("keyring", "noprinc", b"", coll)  # a cache keyring without __krb5_princ__
    with pytest.raises(NoCredentials, match="No credential cache KEYRING:session:noprinc:noprinc"):
        load_ccache("KEYRING:session:noprinc")
    denied = FakeKeys(fail=errno.ENOSYS)
    monkeypatch.setattr(keyring, "Keyctl", lambda: denied)
    with pytest.raises(NoCredentials, match="forbids keyrings") as info:
        load_ccache("KEYRING:session:x")
    assert "KEYRING:session:x" in info.value.message
    with pytest.raises(NoCredentials, match="forbids keyrings"):
        store_ccache(Ccache(ALICE), "KEYRING:session:x")


def test_keyring_off_linux_is_a_clear_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.platform, "system", lambda: "Darwin")
    with pytest.raises(SspiError) as info:
        acquire_credentials(None, CredentialUse.OUTBOUND,
                            KerberosAuthData(ccache="KEYRING:session:x", config=CONF),
                            Environment(now=lambda: WHEN))
    assert info.value.status == 0x8009030E
    assert "need the Linux keyctl system call; this is Darwin" in info.value.message


# -- the real kernel ---------------------------------------------------------------------------


def _kernel_keyrings() -> tuple[bool, str]:
    try:
        keys = keyring.Keyctl()
        keys.keyring_id(keyring.KEY_SPEC_PROCESS_KEYRING, True)
    except (UnsupportedFunction, OSError) as exc:
        return False, f"{exc}"
    return True, ""


@pytest.fixture
def kernel() -> Iterator[keyring.Keyctl]:
    usable, why = _kernel_keyrings()
    require_peer(usable, f"Linux kernel keyrings (keyctl: {why})",
                 "a Linux kernel with CONFIG_KEYS and a sandbox that allows keyctl/add_key")
    yield keyring.Keyctl()


def test_kernel_process_and_thread_keyrings(kernel: keyring.Keyctl) -> None:
    name = f"opensspi-{uuid.uuid4().hex[:12]}"
    cc = Ccache(ALICE, (tgt(ALICE),))
    for anchor in ("process", "thread"):
        written = store_ccache(cc, f"KEYRING:{anchor}:{name}")
        assert written == CcacheName("KEYRING", f"{anchor}:{name}:{name}")
        assert load_ccache(f"KEYRING:{anchor}:{name}") == cc
    with pytest.raises(NoCredentials, match="No credential cache"):
        load_ccache(f"KEYRING:process:{name}-absent")


def test_kernel_persistent_keyring(kernel: keyring.Keyctl) -> None:
    sub = f"opensspi-{uuid.uuid4().hex[:12]}"
    name = f"KEYRING:persistent:{os.geteuid()}:{sub}"
    cc = Ccache(BOB, (tgt(BOB),))
    try:
        store_ccache(cc, name)
        assert load_ccache(name) == cc
    finally:
        persistent = kernel.persistent(os.geteuid(), keyring.KEY_SPEC_PROCESS_KEYRING)
        collection = kernel.search(persistent, "keyring", "_krb")
        cache = kernel.search(collection, "keyring", sub) if collection else None
        if collection and cache:
            kernel.unlink(cache, collection)
