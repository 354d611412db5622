"""Parsed krb5.conf, keytab and ccache files are reused only while the files are unchanged."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from opensspi.packages.kerberos import config as config_module
from opensspi.packages.kerberos import parsed
from opensspi.packages.kerberos.ccache import CcachePrincipal
from opensspi.packages.kerberos.config import Krb5Config
from opensspi.packages.kerberos.keytab import Keytab, KeytabEntry, load_keytab

CONF = "[libdefaults]\n    default_realm = {realm}\n"


def test_an_unchanged_krb5_conf_is_parsed_once_and_a_changed_one_again(tmp_path: Path) -> None:
    path = tmp_path / "krb5.conf"
    path.write_text(CONF.format(realm="ONE.TEST"))
    first = Krb5Config.load([str(path)])
    assert Krb5Config.load([str(path)]) is first
    path.write_text(CONF.format(realm="TWO.TEST"))
    second = Krb5Config.load([str(path)])
    assert second.default_realm == "TWO.TEST" and second is not first


def test_a_krb5_conf_with_includes_is_always_read_again(tmp_path: Path) -> None:
    extra = tmp_path / "extra.conf"
    extra.write_text(CONF.format(realm="ONE.TEST"))
    main = tmp_path / "krb5.conf"
    main.write_text(f"include {extra}\n")
    assert Krb5Config.load([str(main)]).default_realm == "ONE.TEST"
    extra.write_text(CONF.format(realm="TWO.TEST"))  # only the included file changes
    assert Krb5Config.load([str(main)]).default_realm == "TWO.TEST"


def test_a_rewritten_keytab_is_parsed_again(tmp_path: Path) -> None:
    principal = CcachePrincipal.parse("HTTP/web.example.test@EXAMPLE.TEST")
    path = tmp_path / "web.keytab"
    Keytab((KeytabEntry(principal, 0, 1, 18, bytes(32)),)).save(path)
    first = load_keytab(f"FILE:{path}")
    assert load_keytab(f"FILE:{path}") is first
    Keytab((KeytabEntry(principal, 0, 2, 18, bytes(range(32))),)).save(path)
    again = load_keytab(f"FILE:{path}")
    assert again is not first and again.entries[0].kvno == 2


def _age(path: Path, seconds: int = 3600) -> None:
    """Date a file's modification time back (its change time becomes now)."""
    when = path.stat().st_mtime_ns - seconds * 1_000_000_000
    os.utime(path, ns=(when, when))


def test_a_file_unchanged_since_it_was_read_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "krb5.conf"
    path.write_text(CONF.format(realm="ONE.TEST"))
    _age(path)
    old = time.time_ns
    # Read "later", past the racy window of the change time that os.utime just set.
    monkeypatch.setattr(parsed.time, "time_ns", lambda: old() + 10 * parsed.RACY_NS)
    first = Krb5Config.load([str(path)])
    reads: list[str] = []
    monkeypatch.setattr(parsed, "digest", lambda data: reads.append("read") or b"")
    monkeypatch.setattr(config_module, "digest", parsed.digest)
    assert Krb5Config.load([str(path)]) is first
    assert reads == []  # the stat signature matched: no read, no hash


def test_a_same_size_rewrite_within_the_racy_window_is_seen(tmp_path: Path) -> None:
    # Same length, written at once: the stat times may not change (coarse file clock), so an
    # entry read this close to its last change is checked by content every time.
    path = tmp_path / "krb5.conf"
    path.write_text(CONF.format(realm="ONE.TEST"))
    assert Krb5Config.load([str(path)]).default_realm == "ONE.TEST"
    mtime = path.stat().st_mtime_ns
    path.write_text(CONF.format(realm="TWO.TEST"))
    os.utime(path, ns=(mtime, mtime))
    assert Krb5Config.load([str(path)]).default_realm == "TWO.TEST"


def test_a_rewrite_that_restores_the_old_modification_time_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal = CcachePrincipal.parse("HTTP/web.example.test@EXAMPLE.TEST")
    path = tmp_path / "web.keytab"
    Keytab((KeytabEntry(principal, 0, 1, 18, bytes(32)),)).save(path)
    _age(path)
    mtime = path.stat().st_mtime_ns
    old = time.time_ns
    monkeypatch.setattr(parsed.time, "time_ns", lambda: old() + 10 * parsed.RACY_NS)
    first = load_keytab(f"FILE:{path}")
    assert load_keytab(f"FILE:{path}") is first
    with open(path, "r+b") as f:  # same inode, same size, then the old mtime put back
        f.write(Keytab((KeytabEntry(principal, 0, 2, 18, bytes(32)),)).dump())
    os.utime(path, ns=(mtime, mtime))
    monkeypatch.setattr(parsed.time, "time_ns", old)
    again = load_keytab(f"FILE:{path}")  # the change time moved: read again
    assert again is not first and again.entries[0].kvno == 2
