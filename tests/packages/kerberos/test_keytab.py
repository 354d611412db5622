"""MIT keytabs: format v2 (and reading v1), names, and real files from ktutil and kadmin.local."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.errors import DecodeError, InvalidParameter, NoCredentials, UnsupportedFunction
from opensspi.packages.kerberos.ccache import CcachePrincipal
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.keytab import (
    Keytab,
    KeytabEntry,
    KeytabHole,
    KeytabName,
    default_keytab_name,
    load_keytab,
    resolve_keytab_name,
)
from support.require import require_peer

HTTP = CcachePrincipal(3, ("HTTP", "server.test.local"), "TEST.LOCAL")
ALICE = CcachePrincipal(1, ("alice",), "TEST.LOCAL")
KEY = bytes(range(32))


def sample() -> Keytab:
    return Keytab(
        (
            KeytabEntry(HTTP, 1_700_000_000, 1, 18, KEY),
            KeytabHole(40),
            KeytabEntry(HTTP, 1_700_000_001, 2, 18, KEY[::-1]),
            KeytabEntry(HTTP, 1_700_000_001, 2, 17, KEY[:16]),
            KeytabEntry(ALICE, 1_700_000_002, 300, 23, KEY[:16]),
            KeytabEntry(ALICE, 1_700_000_003, 7, -128, b""),
        )
    )


# -- format ------------------------------------------------------------------------------------


def test_round_trip() -> None:
    kt = sample()
    data = kt.dump()
    assert data[:2] == b"\x05\x02"
    again = Keytab.parse(data)
    assert again == kt
    assert again.dump() == data
    assert len(again.entries) == 5
    assert again.records[1] == KeytabHole(40)


def test_known_bytes() -> None:
    entry = KeytabEntry(ALICE, 0x01020304, 300, 18, b"\xaa\xbb")
    body = (
        b"\x00\x01" + b"\x00\x0aTEST.LOCAL" + b"\x00\x05alice" + b"\x00\x00\x00\x01"
        + b"\x01\x02\x03\x04" + b"\x2c" + b"\x00\x12" + b"\x00\x02\xaa\xbb" + b"\x00\x00\x01\x2c"
    )
    expected = b"\x05\x02" + len(body).to_bytes(4, "big") + body
    assert Keytab((entry,)).dump() == expected
    assert Keytab.parse(expected).entries == (entry,)


def test_kvno_rules() -> None:
    body = bytearray(Keytab((KeytabEntry(ALICE, 0, 260, 18, b"k"),)).dump())
    assert Keytab.parse(bytes(body)).entries[0].kvno == 260
    # A zero 32-bit kvno means "use the 8-bit one" (260 & 0xff == 4).
    zeroed = bytes(body[:-4]) + bytes(4)
    entry = Keytab.parse(zeroed).entries[0]
    assert entry.kvno == 4
    assert Keytab.parse(zeroed).dump() == zeroed
    # No 32-bit kvno at all (old writers): record ends after the key.
    short = bytes(body[:2]) + (int.from_bytes(body[2:6], "big") - 4).to_bytes(4, "big") + bytes(
        body[6:-4]
    )
    assert Keytab.parse(short).entries[0].kvno == 4
    assert Keytab.parse(short).dump() == short
    # A changed kvno gets a fresh tail.
    changed = replace(Keytab.parse(short).entries[0], kvno=9)
    assert Keytab.parse(Keytab((changed,)).dump()).entries[0].kvno == 9


def test_padded_record_is_preserved() -> None:
    entry = Keytab((KeytabEntry(ALICE, 0, 3, 18, b"k"),)).dump()
    size = int.from_bytes(entry[2:6], "big")
    padded = b"\x05\x02" + (size + 10).to_bytes(4, "big") + entry[6:] + bytes(10)
    kt = Keytab.parse(padded)
    assert kt.entries[0].kvno == 3
    assert kt.dump() == padded


def test_end_marker() -> None:
    data = sample().dump()
    assert Keytab.parse(data + bytes(4)).entries == sample().entries
    assert Keytab.parse(data + bytes(12)).entries == sample().entries
    with pytest.raises(DecodeError, match="after its end marker"):
        Keytab.parse(data + bytes(4) + b"\x01")


def test_version_1_native_order() -> None:
    order = sys.byteorder

    def u16(v: int) -> bytes:
        return v.to_bytes(2, order)

    body = (
        u16(3) + u16(10) + b"TEST.LOCAL" + u16(4) + b"HTTP" + u16(17) + b"server.test.local"
        + (1234).to_bytes(4, order) + b"\x05" + u16(17) + u16(2) + b"\x01\x02"
    )
    data = b"\x05\x01" + len(body).to_bytes(4, order, signed=True) + body
    kt = Keytab.parse(data)
    assert kt.version == 1
    (entry,) = kt.entries
    assert entry.principal == CcachePrincipal(0, ("HTTP", "server.test.local"), "TEST.LOCAL")
    assert (entry.timestamp, entry.kvno, entry.enctype, entry.key) == (1234, 5, 17, b"\x01\x02")
    assert kt.dump() == data


def test_find() -> None:
    kt = sample()
    assert kt.find(HTTP).kvno == 2  # type: ignore[union-attr]
    assert kt.find(HTTP).enctype == 18  # type: ignore[union-attr]  (first of the highest kvno)
    assert kt.find(HTTP, enctype=17).key == KEY[:16]  # type: ignore[union-attr]
    assert kt.find(HTTP, kvno=1).key == KEY  # type: ignore[union-attr]
    assert kt.find(HTTP, enctype=17, kvno=1) is None
    assert kt.find("HTTP/server.test.local").kvno == 2  # type: ignore[union-attr]
    assert kt.find("alice@TEST.LOCAL").kvno == 300  # type: ignore[union-attr]
    assert kt.find("bob@TEST.LOCAL") is None
    assert kt.find(replace(HTTP, name_type=1)) is not None  # name type ignored


def test_with_entry_and_repr() -> None:
    kt = Keytab().with_entry(KeytabEntry(ALICE, 0, 1, 18, KEY))
    assert len(kt.entries) == 1
    assert KEY.hex() not in repr(kt) and repr(KEY) not in repr(kt)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "first byte"),
        (b"\x04\x02", "first byte"),
        (b"\x05\x03", "version 3"),
        (b"\x05\x02\x00\x00", "record length"),
        (b"\x05\x02\x00\x00\x00\x10\x00", "past the end"),
        (b"\x05\x02\xff\xff\xff\xf0\x00", "past the end"),
        (b"\x05\x02\x00\x00\x00\x02\x00\x01", "truncated"),
        (b"\x05\x02\x00\x00\x00\x04\xff\xff\x00\x00", "component count"),
        (b"\x05\x01" + (2).to_bytes(4, sys.byteorder) + b"\x00\x00", "no realm"),
    ],
)
def test_malformed(data: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        Keytab.parse(data)


def test_dump_rejects_out_of_range() -> None:
    with pytest.raises(InvalidParameter, match="does not fit"):
        Keytab((KeytabEntry(ALICE, 1 << 32, 1, 18, b"k"),)).dump()
    with pytest.raises(InvalidParameter):
        Keytab(version=3)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    for blob in (data, b"\x05\x02" + data, b"\x05\x01" + data):
        with contextlib.suppress(DecodeError):
            Keytab.parse(blob)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fuzz_mutations_and_truncations(draw: st.DataObject) -> None:
    data = bytearray(sample().dump())
    for _ in range(draw.draw(st.integers(0, 6))):
        pos = draw.draw(st.integers(0, len(data) - 1))
        data[pos] = draw.draw(st.integers(0, 255))
    cut = draw.draw(st.integers(0, len(data)))
    try:
        kt = Keytab.parse(bytes(data[:cut]))
    except DecodeError:
        return
    assert Keytab.parse(kt.dump()) == kt


# -- names -------------------------------------------------------------------------------------


def test_names() -> None:
    assert resolve_keytab_name("FILE:/k") == KeytabName("FILE", "/k")
    assert resolve_keytab_name("WRFILE:/k") == KeytabName("WRFILE", "/k")
    assert resolve_keytab_name("/k") == KeytabName("FILE", "/k")
    assert str(resolve_keytab_name("wrfile:/k")) == "WRFILE:/k"
    for bad in ("MEMORY:x", "KDB:", "KEYRING:x"):
        with pytest.raises(UnsupportedFunction, match="not supported"):
            resolve_keytab_name(bad)


def test_default_names() -> None:
    euid = os.geteuid()
    assert default_keytab_name(environ={}) == "FILE:/etc/krb5.keytab"
    assert default_keytab_name(environ={"KRB5_KTNAME": "FILE:/a"}) == "FILE:/a"
    assert default_keytab_name(True, environ={}) == f"FILE:/etc/krb5/user/{euid}/client.keytab"
    assert default_keytab_name(True, environ={"KRB5_CLIENT_KTNAME": "/c"}) == "/c"
    assert default_keytab_name(True, environ={"KRB5_KTNAME": "/a"}).endswith("client.keytab")
    conf = Krb5Config.from_string(
        "[libdefaults]\n default_keytab_name = FILE:/s/%{uid}.kt\n"
        " default_client_keytab_name = FILE:/c/%{euid}.kt\n"
    )
    assert default_keytab_name(config=conf, environ={}) == f"FILE:/s/{os.getuid()}.kt"
    assert default_keytab_name(True, conf, environ={}) == f"FILE:/c/{euid}.kt"
    assert resolve_keytab_name(client=True, config=conf, environ={}).path == f"/c/{euid}.kt"


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "kt"
    sample().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keytab(f"WRFILE:{path}") == sample()
    assert load_keytab(environ={"KRB5_KTNAME": f"FILE:{path}"}) == sample()
    assert load_keytab(client=True, environ={"KRB5_CLIENT_KTNAME": str(path)}) == sample()
    with pytest.raises(NoCredentials, match="No keytab"):
        load_keytab(f"FILE:{tmp_path / 'missing'}")


# -- real MIT files ------------------------------------------------------------------------------




def _require(tools: tuple[str, ...]) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    require_peer(not missing, f"MIT tools {missing}",
                 "apt-get install krb5-user krb5-kdc krb5-admin-server")


def run(argv: list[str], stdin: str = "", env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, **(env or {}), "LC_ALL": "C", "TZ": "UTC"}
    proc = subprocess.run(
        argv, input=stdin.encode(), capture_output=True, env=full_env, timeout=60, check=False
    )
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{out}"
    return out


ENCTYPE_NAMES = {17: "aes128-cts-hmac-sha1-96", 18: "aes256-cts-hmac-sha1-96",
                 19: "aes128-cts-hmac-sha256-128", 20: "aes256-cts-hmac-sha384-192",
                 23: "arcfour-hmac"}
KLIST_K = re.compile(
    r"^\s*(\d+) (\d\d/\d\d/\d\d \d\d:\d\d:\d\d) (\S+) "
    r"\((?:DEPRECATED:)?([\w-]+)\)\s+\(0x([0-9a-f]*)\)",
    re.M,
)


def klist_k(path: Path) -> list[tuple[str, ...]]:
    out = run(["klist", "-k", "-t", "-e", "-K", f"FILE:{path}"])
    return [m.groups() for m in KLIST_K.finditer(out)]


def expected(kt: Keytab) -> list[tuple[str, ...]]:
    return [
        (
            str(e.kvno), time.strftime("%m/%d/%y %H:%M:%S", time.gmtime(e.timestamp)),
            str(e.principal), ENCTYPE_NAMES[e.enctype], e.key.hex(),
        )
        for e in kt.entries
    ]


@pytest.fixture
def ktutil_keytab(tmp_path: Path) -> Path:
    _require(("ktutil", "klist"))
    path = tmp_path / "ktutil.keytab"
    script = "".join(
        f"addent -password -p {p} -k {k} -e {e}\n{pw}\n"
        for p, k, e, pw in [
            ("alice@TEST.LOCAL", 1, "aes256-cts-hmac-sha1-96", "Al1ce-Passw0rd!"),
            ("alice@TEST.LOCAL", 2, "aes128-cts-hmac-sha1-96", "n3w-Passw0rd"),
            ("HTTP/server.test.local@TEST.LOCAL", 300, "aes256-cts-hmac-sha384-192", "x"),
            ("HTTP/server.test.local@TEST.LOCAL", 3, "arcfour-hmac", "x"),
            ("j\u00fcrgen@TEST.LOCAL", 1, "aes128-cts-hmac-sha256-128", "P\u00e4ss"),
        ]
    ) + f"wkt {path}\nquit\n"
    run(["ktutil"], stdin=script)
    return path


@pytest.mark.interop
def test_ktutil_keytab_matches_klist(ktutil_keytab: Path) -> None:
    data = ktutil_keytab.read_bytes()
    kt = Keytab.parse(data)
    assert kt.version == 2 and len(kt.entries) == 5
    assert klist_k(ktutil_keytab) == expected(kt)
    assert kt.find("alice@TEST.LOCAL").kvno == 2  # type: ignore[union-attr]
    assert kt.find("HTTP/server.test.local@TEST.LOCAL").kvno == 300  # type: ignore[union-attr]
    assert kt.find("j\u00fcrgen@TEST.LOCAL") is not None
    assert kt.dump() == data


@pytest.mark.interop
def test_keytab_we_write_is_read_by_mit(ktutil_keytab: Path, tmp_path: Path) -> None:
    ours = Keytab(
        (
            KeytabEntry(HTTP, 1_800_000_000, 1, 18, os.urandom(32)),
            KeytabEntry(HTTP, 1_800_000_000, 260, 17, os.urandom(16)),
            KeytabEntry(ALICE, 1_800_000_001, 5, 20, os.urandom(32)),
        )
    )
    path = tmp_path / "ours.keytab"
    ours.save(path)
    assert klist_k(path) == expected(ours)
    # MIT ktutil reads ours and writes it back (restamping the timestamps), and appends to it.
    def keys(kt: Keytab) -> list[tuple[object, ...]]:
        return [(e.principal, e.kvno, e.enctype, e.key) for e in kt.entries]

    copy = tmp_path / "copy.keytab"
    run(["ktutil"], stdin=f"rkt {path}\nwkt {copy}\nquit\n")
    assert keys(Keytab.load(copy)) == keys(ours)
    merged = tmp_path / "merged.keytab"
    shutil.copy(path, merged)
    run(["ktutil"], stdin=f"rkt {ktutil_keytab}\nwkt {merged}\nquit\n")
    kt = Keytab.load(merged)
    assert kt.entries[:3] == ours.entries
    assert keys(kt)[3:] == keys(Keytab.load(ktutil_keytab))


@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from interop.peers.mit_kdc import MitRealm

    _require(("kdb5_util", "kadmin.local", "krb5kdc", "klist"))
    r = MitRealm(tmp_path_factory.mktemp("keytab-realm"))
    try:
        r.start()
        yield r
    finally:
        r.close()


@pytest.mark.interop
def test_kadmin_ktadd_and_ktremove_holes(realm: Any, tmp_path: Path) -> None:
    path = tmp_path / "kadmin.keytab"
    realm.kadmin(
        f"ktadd -k {path} -norandkey HTTP/server.test.local",
        f"ktadd -k {path} -norandkey host/server.test.local",
    )
    kt = Keytab.load(path)
    kvno = realm.kvno("HTTP/server.test.local")
    http = [e for e in kt.entries if e.principal.components[0] == "HTTP"]
    assert {e.kvno for e in http} == {kvno}
    assert {e.enctype for e in http} == {17, 18, 19, 20, 23}
    assert Keytab.parse(path.read_bytes()).dump() == path.read_bytes()
    run(["klist", "-k", str(path)], env=realm.env())  # sanity: MIT reads it
    # Removing entries leaves zero-filled holes (negative record lengths) in the file.
    realm.kadmin(f"ktremove -k {path} HTTP/server.test.local all")
    after = Keytab.load(path)
    holes = [r for r in after.records if isinstance(r, KeytabHole)]
    assert len(holes) == len(http)
    assert all(e.principal.components[0] == "host" for e in after.entries)
    assert after.find("HTTP/server.test.local") is None
    assert after.find("host/server.test.local", enctype=18) is not None
    assert after.dump() == path.read_bytes()
    rows = [(r[0], r[2], r[3], r[4]) for r in klist_k(path)]
    assert rows == [(a, c, d, e) for a, _, c, d, e in expected(after)]


@pytest.mark.interop
def test_realm_service_keytab(realm: Any) -> None:
    data = Path(realm.keytab).read_bytes()
    kt = Keytab.parse(data)
    assert kt.dump() == data
    for service in realm.services:
        assert kt.find(f"{service}@TEST.LOCAL") is not None
    assert [(r[0], r[2], r[3], r[4]) for r in klist_k(realm.keytab)] == [
        (a, c, d, e) for a, _, c, d, e in expected(kt)
    ]
