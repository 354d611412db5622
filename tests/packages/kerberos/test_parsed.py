"""Parsed krb5.conf, keytab and ccache files are reused only while their bytes are the same."""

from __future__ import annotations

from pathlib import Path

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
