"""MIT credential caches: format v4/v3, cache names, atomic writes, and real MIT files.

The MIT tests make a realm with ``interop.peers.mit_kdc.MitRealm``, get tickets with ``kinit`` and
``kvno``, and compare what we parse with ``klist -e -f``; a cache we write must be listed by
``klist`` and its tickets used by ``kvno --cached-only``.
"""

from __future__ import annotations

import calendar
import contextlib
import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensspi.errors import DecodeError, InvalidParameter, NoCredentials, UnsupportedFunction
from opensspi.packages.kerberos.ccache import (
    CONFIG_REALM,
    Ccache,
    CcacheAddress,
    CcacheAuthData,
    CcacheCredential,
    CcacheHeaderTag,
    CcacheName,
    CcachePrincipal,
    TicketFlags,
    default_ccache_name,
    load_ccache,
    resolve_ccache_name,
    store_ccache,
)
from opensspi.packages.kerberos.config import Krb5Config
from support.require import require_peer

ALICE = CcachePrincipal(1, ("alice",), "TEST.LOCAL")
KRBTGT = CcachePrincipal(2, ("krbtgt", "TEST.LOCAL"), "TEST.LOCAL")
HTTP = CcachePrincipal(3, ("HTTP", "server.test.local"), "TEST.LOCAL")
SECRET = bytes(range(0xA0, 0xC0))


def conf_entry(
    key: str, value: bytes, principal: CcachePrincipal | None = None
) -> CcacheCredential:
    comps = ("krb5_ccache_conf_data", key) + ((str(principal),) if principal else ())
    return CcacheCredential(ALICE, CcachePrincipal(0, comps, CONFIG_REALM), 0, b"", ticket=value)


def sample(version: int = 4) -> Ccache:
    tgt = CcacheCredential(
        ALICE, KRBTGT, 18, SECRET, 1_700_000_000, 1_700_000_000, 1_700_036_000, 1_700_600_000,
        False, int(TicketFlags.FORWARDABLE | TicketFlags.INITIAL | TicketFlags.PRE_AUTHENT),
        ticket=b"\x61\x03\x02\x01\x05",
    )
    svc = CcacheCredential(
        ALICE, HTTP, -128, b"k" * 16, 1_700_000_000, 0, 1_700_030_000, 0, True, 0,
        addresses=(CcacheAddress(2, bytes([127, 0, 0, 1])), CcacheAddress(24, bytes(16))),
        authdata=(CcacheAuthData(1, b"\x30\x00"),),
        ticket=b"ticket", second_ticket=b"second",
    )
    tags = (CcacheHeaderTag(1, bytes.fromhex("fffffffe000186a0")), CcacheHeaderTag(99, b"xy"))
    return Ccache(
        ALICE,
        (conf_entry("fast_avail", b"yes", KRBTGT), tgt, conf_entry("pa_type", b"2", KRBTGT), svc),
        tags if version == 4 else (),
        version,
    )


# -- format ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 3])
def test_round_trip(version: int) -> None:
    cc = sample(version)
    data = cc.dump()
    assert data[:2] == bytes((5, version))
    again = Ccache.parse(data)
    assert again == cc
    assert again.dump() == data


def test_version_3_writes_the_enctype_twice() -> None:
    cc = Ccache(ALICE, (sample().credentials[0],), version=3)
    v4 = replace(cc, version=4).dump()
    v3 = cc.dump()
    assert len(v3) == len(v4) - 2 + 2  # v3: no 2-byte header length, but a second enctype
    assert b"\x00\x12\x00\x12\x00\x00\x00\x20" + SECRET in v3
    assert b"\x00\x12\x00\x00\x00\x20" + SECRET in v4


def test_config_entries_are_kept_but_not_listed() -> None:
    cc = sample()
    assert [c.server for c in cc.credentials] == [KRBTGT, HTTP]
    assert len(cc.config_entries) == 2 and len(cc.entries) == 4
    assert cc.config("fast_avail", KRBTGT) == b"yes"
    assert cc.config("pa_type", KRBTGT) == b"2"
    assert cc.config("pa_type") is None
    assert cc.config("refresh_time") is None


def test_header_kdc_offset() -> None:
    assert sample().kdc_offset == (-2, 100000)
    assert sample(3).kdc_offset is None


def test_fields() -> None:
    tgt = sample().credentials[0]
    assert tgt.flags == TicketFlags.FORWARDABLE | TicketFlags.INITIAL | TicketFlags.PRE_AUTHENT
    assert tgt.effective_starttime == 1_700_000_000
    svc = sample().credentials[1]
    assert svc.enctype == -128 and svc.is_skey and svc.effective_starttime == svc.authtime
    assert svc.addresses[0].address == b"\x7f\x00\x00\x01"


def test_key_is_not_in_repr() -> None:
    text = repr(sample())
    assert SECRET.hex() not in text and repr(SECRET) not in text and " key=" not in text


def test_find() -> None:
    cc = sample()
    assert cc.find(HTTP) == cc.credentials[1]
    assert cc.find("HTTP/server.test.local") == cc.credentials[1]
    assert cc.find("HTTP/server.test.local@TEST.LOCAL", client=ALICE) == cc.credentials[1]
    assert cc.find("HTTP/server.test.local", client=KRBTGT) is None
    assert cc.find("HTTP/server.test.local", now=1_700_030_000) is None
    assert cc.find("krbtgt/TEST.LOCAL", now=1_700_030_000) == cc.credentials[0]
    assert cc.find("krb5_ccache_conf_data/fast_avail@X-CACHECONF:") is None
    longer = replace(cc.credentials[1], endtime=1_800_000_000)
    assert cc.with_credential(longer).find(HTTP) == longer
    assert cc.with_credential(longer).entries[-1] == longer


def test_principal_names() -> None:
    assert str(HTTP) == "HTTP/server.test.local@TEST.LOCAL"
    p = CcachePrincipal.parse("a\\/b/c\\@d@RE@ALM")
    assert p.components == ("a/b", "c@d") and p.realm == "RE@ALM"
    assert CcachePrincipal.parse(str(p)) == p
    assert CcachePrincipal.parse("x\\n\\ty\\\\", "R").components == ("x\n\ty\\",)
    assert CcachePrincipal.parse("alice", "DEF").realm == "DEF"
    with pytest.raises(InvalidParameter, match="no @REALM"):
        CcachePrincipal.parse("alice")
    with pytest.raises(InvalidParameter, match="empty"):
        CcachePrincipal.parse("@REALM")
    assert p.same_name(replace(p, name_type=99))


def test_non_utf8_bytes_survive() -> None:
    raw = bytearray(Ccache(CcachePrincipal(1, ("abc",), "R")).dump())
    raw[raw.index(b"abc")] = 0xFF
    cc = Ccache.parse(bytes(raw))
    assert cc.dump() == bytes(raw)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "truncated"),
        (b"\x04\x04", "first byte"),
        (b"\x05\x02\x00\x00", "version 2"),
        (b"\x05\x01", "version 1"),
        (b"\x05\x05", "version 5"),
        (b"\x05\x04\x00\x10\x00\x01", "truncated"),
        (b"\x05\x04\x00\x00\x00\x00\x00\x01\xff\xff\xff\xff", "count"),
    ],
)
def test_malformed(data: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        Ccache.parse(data)


def test_bad_is_skey() -> None:
    cred = CcacheCredential(ALICE, HTTP, 18, b"k", ticket=b"t")
    plain, skey = (Ccache(ALICE, (replace(cred, is_skey=v),)).dump() for v in (False, True))
    pos = next(i for i in range(len(plain)) if plain[i] != skey[i])
    assert (plain[pos], skey[pos]) == (0, 1)
    for bad in (2, 0xFF):
        with pytest.raises(DecodeError, match="is_skey"):
            Ccache.parse(plain[:pos] + bytes((bad,)) + plain[pos + 1 :])


def test_every_truncation_is_a_decode_error_or_a_shorter_cache() -> None:
    data = sample().dump()
    boundaries = set()
    for n in range(len(data)):
        try:
            cc = Ccache.parse(data[:n])
        except DecodeError:
            continue
        boundaries.add(len(cc.entries))
        assert cc.dump() == data[:n]
    assert boundaries == {0, 1, 2, 3}  # only whole-credential prefixes parse


def test_dump_rejects_out_of_range_values() -> None:
    bad = replace(sample().credentials[0], endtime=1 << 32)
    with pytest.raises(InvalidParameter, match="does not fit"):
        Ccache(ALICE, (bad,)).dump()
    with pytest.raises(InvalidParameter):
        Ccache(ALICE, version=2)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    for blob in (data, b"\x05\x04" + data, b"\x05\x03" + data):
        with contextlib.suppress(DecodeError):
            Ccache.parse(blob)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fuzz_mutations(draw: st.DataObject) -> None:
    data = bytearray(sample().dump())
    for _ in range(draw.draw(st.integers(1, 8))):
        pos = draw.draw(st.integers(0, len(data) - 1))
        data[pos] = draw.draw(st.integers(0, 255))
    cut = draw.draw(st.integers(0, len(data)))
    try:
        cc = Ccache.parse(bytes(data[:cut]))
    except DecodeError:
        return
    assert Ccache.parse(cc.dump()) == cc


# -- names and files ------------------------------------------------------------------------------


def test_resolve_names() -> None:
    assert resolve_ccache_name("FILE:/tmp/x") == CcacheName("FILE", "/tmp/x")
    assert resolve_ccache_name("/tmp/x") == CcacheName("FILE", "/tmp/x")
    assert resolve_ccache_name("file:/tmp/x") == CcacheName("FILE", "/tmp/x")
    assert resolve_ccache_name("DIR:/run/user/1/krb5cc") == CcacheName("DIR", "/run/user/1/krb5cc")
    assert resolve_ccache_name("DIR::/d/tktAB").file_path() == "/d/tktAB"
    assert resolve_ccache_name("MEMORY:x") == CcacheName("MEMORY", "x")
    assert str(resolve_ccache_name("FILE:/tmp/x")) == "FILE:/tmp/x"
    assert resolve_ccache_name("KCM:") == CcacheName("KCM", "")
    assert resolve_ccache_name("KCM:1000:x") == CcacheName("KCM", "1000:x")
    assert resolve_ccache_name("KEYRING:persistent:1000") == CcacheName(
        "KEYRING", "persistent:1000"
    )
    with pytest.raises(UnsupportedFunction, match="kinit -c FILE:") as api:
        resolve_ccache_name("API:ABCD-1234")
    assert "macOS" in api.value.message and "API:ABCD-1234" in api.value.message
    with pytest.raises(UnsupportedFunction, match="not supported"):
        resolve_ccache_name("XCACHE:x")
    with pytest.raises(InvalidParameter):
        resolve_ccache_name("KEYRING:")
    with pytest.raises(InvalidParameter):
        resolve_ccache_name("FILE:")
    with pytest.raises(UnsupportedFunction):
        resolve_ccache_name("MEMORY:x").file_path()


def test_default_name() -> None:
    uid = os.getuid()
    assert default_ccache_name(environ={}) == f"FILE:/tmp/krb5cc_{uid}"
    assert default_ccache_name(environ={"KRB5CCNAME": "DIR:/x"}) == "DIR:/x"
    conf = Krb5Config.from_string("[libdefaults]\n default_ccache_name = FILE:/c/cc_%{uid}\n")
    assert default_ccache_name(conf, environ={}) == f"FILE:/c/cc_{uid}"
    assert default_ccache_name(conf, environ={"KRB5CCNAME": "FILE:/e"}) == "FILE:/e"
    assert resolve_ccache_name(config=conf, environ={}) == CcacheName("FILE", f"/c/cc_{uid}")


def test_save_is_atomic_and_private(tmp_path: Path) -> None:
    path = tmp_path / "cc"
    path.write_bytes(b"old contents")
    os.chmod(path, 0o644)
    sample().save(path)
    assert Ccache.load(path) == sample()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cc"]


def test_load_missing(tmp_path: Path) -> None:
    with pytest.raises(NoCredentials, match="run kinit"):
        Ccache.load(tmp_path / "nope")
    with pytest.raises(NoCredentials):
        load_ccache(f"FILE:{tmp_path / 'nope'}")
    with pytest.raises(NoCredentials):
        load_ccache("MEMORY:never-stored")


def test_store_and_load_by_name(tmp_path: Path) -> None:
    cc = sample()
    assert store_ccache(cc, f"FILE:{tmp_path / 'f'}") == CcacheName("FILE", str(tmp_path / "f"))
    assert load_ccache(f"FILE:{tmp_path / 'f'}") == cc
    assert load_ccache(environ={"KRB5CCNAME": str(tmp_path / "f")}) == cc
    store_ccache(cc, "MEMORY:test-store")
    assert load_ccache("MEMORY:test-store") is cc
    d = tmp_path / "collection"
    store_ccache(cc, f"DIR:{d}")
    assert (d / "primary").read_text() == "tkt\n"
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert load_ccache(f"DIR:{d}") == cc
    (d / "primary").write_text("tktOTHER\n")
    Ccache(ALICE).save(d / "tktOTHER")
    assert load_ccache(f"DIR:{d}") == Ccache(ALICE)
    assert load_ccache(f"DIR::{d / 'tkt'}") == cc


# -- real MIT files ------------------------------------------------------------------------------




@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from interop.peers.mit_kdc import INSTALL_HINT, MitRealm, have_mit_kdc

    require_peer(bool(have_mit_kdc() and shutil.which("klist") and shutil.which("kvno")),
                 "MIT krb5 (krb5kdc, klist, kvno)", INSTALL_HINT)
    r = MitRealm(tmp_path_factory.mktemp("ccache-realm"))
    try:
        r.start()
        yield r
    finally:
        r.close()


def mit(realm: Any, *argv: str, check: bool = True) -> str:
    env = {**os.environ, **realm.env(), "LC_ALL": "C", "TZ": "UTC"}
    proc = subprocess.run(list(argv), capture_output=True, env=env, timeout=30, check=False)
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}):\n{out}")
    return out


KLIST_FLAGS = [
    (TicketFlags.FORWARDABLE, "F"), (TicketFlags.FORWARDED, "f"), (TicketFlags.PROXIABLE, "P"),
    (TicketFlags.PROXY, "p"), (TicketFlags.MAY_POSTDATE, "D"), (TicketFlags.POSTDATED, "d"),
    (TicketFlags.INVALID, "i"), (TicketFlags.RENEWABLE, "R"), (TicketFlags.INITIAL, "I"),
    (TicketFlags.HW_AUTHENT, "H"), (TicketFlags.PRE_AUTHENT, "A"),
    (TicketFlags.TRANSITED_POLICY_CHECKED, "T"), (TicketFlags.OK_AS_DELEGATE, "O"),
    (TicketFlags.ANONYMOUS, "a"),
]
ENCTYPE_NAMES = {17: "aes128-cts-hmac-sha1-96", 18: "aes256-cts-hmac-sha1-96",
                 19: "aes128-cts-hmac-sha256-128", 20: "aes256-cts-hmac-sha384-192",
                 23: "arcfour-hmac"}
TS = r"(\d\d/\d\d/\d\d \d\d:\d\d:\d\d)"
KLIST_LINE = re.compile(
    rf"^{TS}\s+{TS}\s+(\S+)\n\s+(?:renew until {TS},\s*)?"
    r"Flags: (\w*)[,\s]+Etype \(skey, tkt\): ([\w-]+), ([\w-]+)",
    re.M,
)


def klist(realm: Any, name: str) -> tuple[str, list[tuple[str, ...]]]:
    out = mit(realm, "klist", "-e", "-f", "-c", name)
    principal = re.search(r"Default principal: (\S+)", out)
    assert principal is not None, out
    return principal.group(1), [m.groups() for m in KLIST_LINE.finditer(out)]


def utc(ts: int) -> str:
    return time.strftime("%m/%d/%y %H:%M:%S", time.gmtime(ts))


def letters(flags: int) -> str:
    return "".join(letter for flag, letter in KLIST_FLAGS if flags & flag)


def expected_listing(cc: Ccache) -> list[tuple[str, ...]]:
    rows = []
    for c in cc.credentials:
        rows.append((
            utc(c.effective_starttime), utc(c.endtime), str(c.server),
            utc(c.renew_till) if c.ticket_flags & TicketFlags.RENEWABLE else None,
            letters(c.ticket_flags), ENCTYPE_NAMES[c.enctype],
        ))
    return rows


@pytest.fixture(scope="module")
def tickets(realm: Any) -> tuple[Path, Path]:
    """(a cache with alice's TGT and an HTTP ticket, a cache with only a TGT)."""
    full = realm.kinit("alice", args=["-r", "2d"])
    realm.service_ticket("HTTP/server.test.local", full)
    tgt_only = realm.kinit("alice")
    return full, tgt_only


@pytest.mark.interop
def test_mit_cache_matches_klist(realm: Any, tickets: tuple[Path, Path]) -> None:
    full, _ = tickets
    data = full.read_bytes()
    cc = Ccache.parse(data)
    assert cc.version == 4
    assert cc.kdc_offset is not None
    principal, rows = klist(realm, f"FILE:{full}")
    assert principal == str(cc.default_principal) == "alice@TEST.LOCAL"
    assert [r[:6] for r in rows] == expected_listing(cc)
    assert [str(c.server) for c in cc.credentials] == [
        "krbtgt/TEST.LOCAL@TEST.LOCAL", "HTTP/server.test.local@TEST.LOCAL"
    ]
    assert cc.config_entries, "MIT kinit stores configuration entries (pa_type, ...)"
    assert cc.config("pa_type", cc.credentials[0].server) is not None
    assert all(c.client == cc.default_principal for c in cc.entries)
    assert cc.find("HTTP/server.test.local") is cc.credentials[1]
    assert cc.credentials[1].flags & TicketFlags.OK_AS_DELEGATE


@pytest.mark.interop
def test_mit_cache_redumps_byte_identically(tickets: tuple[Path, Path], tmp_path: Path) -> None:
    for path in tickets:
        data = path.read_bytes()
        assert Ccache.parse(data).dump() == data
        Ccache.parse(data).save(tmp_path / "copy")
        assert (tmp_path / "copy").read_bytes() == data


@pytest.mark.interop
def test_appended_credential_is_used_by_mit(
    realm: Any, tickets: tuple[Path, Path], tmp_path: Path
) -> None:
    full, tgt_only = tickets
    target = tmp_path / "cc"
    shutil.copy(tgt_only, target)
    http = Ccache.load(full).find("HTTP/server.test.local")
    assert http is not None
    cc = Ccache.load(target)
    assert cc.find("HTTP/server.test.local") is None
    store_ccache(cc.with_credential(http), f"FILE:{target}")
    principal, rows = klist(realm, f"FILE:{target}")
    assert principal == "alice@TEST.LOCAL"
    assert [r[2] for r in rows] == ["krbtgt/TEST.LOCAL@TEST.LOCAL", str(http.server)]
    assert rows[1][:6] == expected_listing(Ccache(http.client, (http,)))[0]
    # MIT uses the ticket we stored (no KDC round trip) and its keytab decrypts it.
    out = mit(
        realm, "kvno", "--cached-only", "-c", f"FILE:{target}", "-k", str(realm.keytab),
        "HTTP/server.test.local",
    )
    assert "keytab entry valid" in out, out


@pytest.mark.interop
@pytest.mark.parametrize("version", [4, 3])
def test_cache_written_from_scratch_is_listed(
    realm: Any, tickets: tuple[Path, Path], tmp_path: Path, version: int
) -> None:
    source = Ccache.load(tickets[0])
    fresh = Ccache(source.default_principal, source.credentials, version=version)
    path = tmp_path / f"v{version}"
    fresh.save(path)
    assert path.read_bytes()[:2] == bytes((5, version))
    principal, rows = klist(realm, f"FILE:{path}")
    assert principal == "alice@TEST.LOCAL"
    assert [r[:6] for r in rows] == expected_listing(source)


@pytest.mark.interop
def test_dir_collection_with_mit(realm: Any, tmp_path: Path) -> None:
    # MIT writes a DIR: collection; we read it ...
    d = tmp_path / "mitdir"
    d.mkdir(mode=0o700)
    subprocess.run(
        ["kinit", "-c", f"DIR:{d}", "alice"],
        input=(realm.passwords["alice"] + "\n").encode(), capture_output=True,
        env={**os.environ, **realm.env()}, timeout=30, check=True,
    )
    primary = (d / "primary").read_text().strip()
    assert primary.startswith("tkt")
    cc = load_ccache(f"DIR:{d}")
    assert str(cc.credentials[0].server) == "krbtgt/TEST.LOCAL@TEST.LOCAL"
    assert cc.dump() == (d / primary).read_bytes()
    # ... and a collection we write is read by MIT.
    ours = tmp_path / "ourdir"
    store_ccache(cc, f"DIR:{ours}")
    principal, rows = klist(realm, f"DIR:{ours}")
    assert principal == "alice@TEST.LOCAL" and rows[0][2] == "krbtgt/TEST.LOCAL@TEST.LOCAL"


def test_timegm_helper_is_utc() -> None:
    assert utc(calendar.timegm((2026, 1, 2, 3, 4, 5))) == "01/02/26 03:04:05"
