"""krb5.conf parsing (MIT profile syntax) and the typed Krb5Config view."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from opensspi.constants import SecStatus
from opensspi.errors import SspiError
from opensspi.packages.kerberos.config import (
    DEFAULT_ENCTYPES,
    ConfigError,
    Krb5Config,
    Profile,
    config_paths,
    expand_path,
    parse_boolean,
    parse_duration,
    split_host_port,
)

MIT_STYLE = """\
# a comment before any section, and text that is not a section: ignored
this line is ignored too = because no section started yet
[libdefaults]
    default_realm = TEST.LOCAL
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    forwardable = true
    ticket_lifetime = 10h
    default_ccache_name = FILE:/tmp/t/ccache
    default_keytab_name = FILE:/tmp/t/service.keytab
    ; semicolon comment
    allow_rc4 = true
[realms]
    TEST.LOCAL = {
        kdc = 127.0.0.1:18888
        kdc = kdc2.test.local
        kdc = [::1]:750
        admin_server = 127.0.0.1:18889
        kpasswd_server = kpw.test.local:464
    }
    OTHER.REALM =
    {
        kdc = other.example
    }
[domain_realm]
    .test.local = TEST.LOCAL
    test.local = TEST.LOCAL
    crash.mit.edu = TEST.ATHENA.MIT.EDU
    .dev.mit.edu = TEST.ATHENA.MIT.EDU
    mit.edu = ATHENA.MIT.EDU
[capaths]
    TEST.LOCAL = {
        OTHER.REALM = .
        FAR.REALM = MID.REALM
        FAR.REALM = MID2.REALM
    }
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- syntax -------------------------------------------------------------------------------------


def test_mit_style_file() -> None:
    c = Krb5Config.from_string(MIT_STYLE)
    assert c.default_realm == "TEST.LOCAL"
    assert (c.dns_lookup_kdc, c.dns_lookup_realm, c.rdns) == (False, False, False)
    assert c.dns_canonicalize_hostname is False
    assert c.forwardable is True
    assert c.allow_rc4 is True
    assert c.ticket_lifetime == 36000
    assert c.default_ccache_name == "FILE:/tmp/t/ccache"
    assert c.default_keytab_name == "FILE:/tmp/t/service.keytab"
    realm = c.realm("TEST.LOCAL")
    assert realm.kdcs == ("127.0.0.1:18888", "kdc2.test.local", "[::1]:750")
    assert realm.admin_server == "127.0.0.1:18889"
    assert realm.kpasswd_server == "kpw.test.local:464"
    assert c.realm("OTHER.REALM").kdcs == ("other.example",)
    assert c.realms == ("TEST.LOCAL", "OTHER.REALM")
    assert c.capaths("TEST.LOCAL", "FAR.REALM") == ("MID.REALM", "MID2.REALM")
    assert c.capaths("TEST.LOCAL", "OTHER.REALM") == (".",)


def test_unknown_realm_is_empty() -> None:
    realm = Krb5Config.from_string(MIT_STYLE).realm("NOPE")
    assert realm.kdcs == () and realm.admin_server is None and realm.kpasswd_server is None


def test_comments_blank_lines_and_values_with_hashes() -> None:
    p = Profile.from_string(
        "[s]\n\n   # indented comment\n\t; tab comment\n a = b # not a comment\n"
        " c =   spaced value   \n"
    )
    assert p.get_value("s", "a") == "b # not a comment"
    assert p.get_value("s", "c") == "spaced value"


def test_quoted_value_escapes() -> None:
    p = Profile.from_string('[s]\n a = "x\\ty\\nz\\\\q\\"  rest"\n b = ""\n')
    assert p.get_value("s", "a") == 'x\ty\nz\\q"  rest'
    assert p.get_value("s", "b") == ""


def test_repeated_values_keep_order() -> None:
    p = Profile.from_string("[s]\n k = 1\n k = 2\n other = x\n k = 3\n")
    assert p.get_values("s", "k") == ("1", "2", "3")
    assert p.get_value("s", "k") == "1"


def test_repeated_sections_and_subsections_merge() -> None:
    p = Profile.from_string(
        "[realms]\n R = {\n kdc = a\n }\n[libdefaults]\n x = 1\n[realms]\n R = {\n kdc = b\n }\n"
    )
    assert p.get_values("realms", "R", "kdc") == ("a", "b")
    assert p.names("realms") == ("R",)


def test_nested_subsections() -> None:
    p = Profile.from_string(
        "[appdefaults]\n telnet = {\n  R = {\n   option1 = false\n  }\n  option1 = true\n }\n"
    )
    assert p.get_value("appdefaults", "telnet", "R", "option1") == "false"
    assert p.get_value("appdefaults", "telnet", "option1") == "true"
    assert p.has_section("appdefaults", "telnet", "R")
    assert not p.has_section("appdefaults", "telnet", "option1")


def test_crlf_and_space_after_section() -> None:
    p = Profile.from_string("[s]  \r\n a = b\r\n")
    assert p.get_value("s", "a") == "b"


def test_module_lines_are_ignored() -> None:
    p = Profile.from_string("module /usr/lib/x.so:residual\n[s]\n a = b\n")
    assert p.get_value("s", "a") == "b"


# -- several files, finals -------------------------------------------------------------------


def test_earlier_files_win_for_scalars_and_lists_concatenate(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a.conf", "[libdefaults]\n default_realm = A\n[realms]\n R = {\n kdc = a\n }\n"
    )
    b = write(
        tmp_path / "b.conf",
        "[libdefaults]\n default_realm = B\n clockskew = 60\n[realms]\n R = {\n kdc = b\n }\n",
    )
    c = Krb5Config.load([str(a), str(b)])
    assert c.default_realm == "A"
    assert c.clockskew == 60  # only b sets it
    assert c.realm("R").kdcs == ("a", "b")


def test_final_section_hides_later_files(tmp_path: Path) -> None:
    a = write(tmp_path / "a", "[libdefaults]*\n default_realm = A\n")
    b = write(tmp_path / "b", "[libdefaults]\n default_realm = B\n clockskew = 60\n")
    c = Krb5Config.load([str(a), str(b)])
    assert (c.default_realm, c.clockskew) == ("A", 300)


def test_final_relation_and_final_subsection(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a",
        "[realms]\n R = {\n kdc* = a\n }\n S* = {\n kdc = s1\n }\n T = {\n kdc = t1\n }*\n",
    )
    b = write(
        tmp_path / "b",
        "[realms]\n R = {\n kdc = b\n }\n S = {\n kdc = s2\n }\n T = {\n kdc = t2\n }\n"
        " U = {\n kdc = u2\n }\n",
    )
    c = Krb5Config.load([str(a), str(b)])
    assert c.realm("R").kdcs == ("a",)
    assert c.realm("S").kdcs == ("s1",)
    assert c.realm("T").kdcs == ("t1",)
    assert c.realm("U").kdcs == ("u2",)


def test_missing_files_are_skipped(tmp_path: Path) -> None:
    a = write(tmp_path / "a", "[libdefaults]\n default_realm = A\n")
    c = Krb5Config.load([str(tmp_path / "nope"), str(a)])
    assert c.default_realm == "A"
    assert c.profile.files == (str(a),)
    assert Krb5Config.load([str(tmp_path / "nope")]) == Krb5Config.load([str(tmp_path / "x")])


def test_krb5_config_env(tmp_path: Path) -> None:
    a = write(tmp_path / "a", "[libdefaults]\n default_realm = A\n")
    b = write(tmp_path / "b", "[libdefaults]\n default_realm = B\n")
    env = {"KRB5_CONFIG": f"{b}:{tmp_path / 'missing'}:{a}"}
    assert config_paths(env) == (str(b), str(tmp_path / "missing"), str(a))
    assert Krb5Config.load(environ=env).default_realm == "B"
    assert config_paths({}) == ("/etc/krb5.conf",)


def test_directory_in_krb5_config(tmp_path: Path) -> None:
    write(tmp_path / "d" / "10-realm", "[libdefaults]\n default_realm = D\n")
    write(tmp_path / "d" / "skip.bak", "[libdefaults]\n default_realm = BAK\n")
    assert Krb5Config.load([str(tmp_path / "d")]).default_realm == "D"


# -- include / includedir -----------------------------------------------------------------------


def test_include_and_includedir(tmp_path: Path) -> None:
    inc = write(tmp_path / "inc.conf", "[realms]\n R = {\n kdc = from-include\n }\n")
    d = tmp_path / "conf.d"
    write(d / "b_second", "[realms]\n R = {\n kdc = dir-b\n }\n")
    write(d / "a-first", "[realms]\n R = {\n kdc = dir-a\n }\n")
    write(d / "c.conf", "[realms]\n R = {\n kdc = dir-c\n }\n")
    write(d / ".hidden.conf", "[realms]\n R = {\n kdc = hidden\n }\n")
    write(d / "editor~", "[realms]\n R = {\n kdc = backup\n }\n")
    write(d / "x.rpmsave", "[realms]\n R = {\n kdc = rpmsave\n }\n")
    write(d / "dot.name", "[realms]\n R = {\n kdc = dotted\n }\n")
    (d / "subdir").mkdir()
    main = write(
        tmp_path / "krb5.conf",
        f"include {inc}\nincludedir {d}\n[realms]\n R = {{\n kdc = main\n }}\n",
    )
    c = Krb5Config.load([str(main)])
    assert c.realm("R").kdcs == ("from-include", "dir-a", "dir-b", "dir-c", "main")


def test_included_file_is_syntactically_independent(tmp_path: Path) -> None:
    # The included file starts without a section: its lines before one are comments.
    inc = write(tmp_path / "inc", "kdc = ignored\n[realms]\n R = {\n kdc = x\n }\n")
    main = write(tmp_path / "main", f"[libdefaults]\ninclude {inc}\n default_realm = R\n")
    c = Krb5Config.load([str(main)])
    assert c.realm("R").kdcs == ("x",)
    assert c.default_realm == "R"


def test_include_missing_file_names_the_line(tmp_path: Path) -> None:
    main = write(tmp_path / "main", "[libdefaults]\n x = 1\ninclude /nonexistent/krb5.inc\n")
    with pytest.raises(ConfigError) as info:
        Krb5Config.load([str(main)])
    assert info.value.filename == str(main) and info.value.line == 3
    assert f"{main}:3:" in str(info.value)
    assert "/nonexistent/krb5.inc" in str(info.value)


def test_includedir_missing(tmp_path: Path) -> None:
    main = write(tmp_path / "main", "includedir /nonexistent/dir\n")
    with pytest.raises(ConfigError, match=":1:"):
        Krb5Config.load([str(main)])


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    a = tmp_path / "a"
    write(a, f"include {a}\n")
    with pytest.raises(ConfigError, match="nested"):
        Krb5Config.load([str(a)])


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    inc = write(tmp_path / "inc", "[s]\n\n  bad line\n")
    main = write(tmp_path / "main", f"include {inc}\n")
    with pytest.raises(ConfigError) as info:
        Krb5Config.load([str(main)])
    assert (info.value.filename, info.value.line) == (str(inc), 3)


# -- malformed input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[s]\n a = b\n no equals here\n", 3, "expected 'name = value'"),
        ("[s]\n = value\n", 2, "without a name"),
        ("[s]\n two words = v\n", 2, "contains blanks"),
        ("[s]\n}\n", 2, "without a matching"),
        ("[s\n", 1, "without ']'"),
        ("[s] junk\n", 1, "unexpected text"),
        ("[s]\n r = {\n [t]\n", 3, "inside a { } group"),
        ("[s]\n r = {\n a = b\n", 2, "missing '}'"),
        ("[s]\n r =\n", 2, "without '{'"),
        ("[s]\n r =\n a = b\n", 3, "expected '{'"),
        ("[s]\n * = v\n", 2, "without a name"),
        ("[libdefaults]\n forwardable = perhaps\n", 2, "not a boolean"),
        ("[libdefaults]\n clockskew = soon\n", 2, "not a duration"),
        ("[libdefaults]\n udp_preference_limit = lots\n", 2, "not an integer"),
        ("[libdefaults]\n max_retries = 0\n", 2, "at least 1"),
        ("[libdefaults]\n permitted_enctypes = ,\n", 2, "empty"),
    ],
)
def test_malformed_names_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        Krb5Config.from_string(text, "/etc/krb5.conf")
    err = info.value
    assert isinstance(err, SspiError)
    assert err.status == SecStatus.SEC_E_INTERNAL_ERROR
    assert (err.filename, err.line) == ("/etc/krb5.conf", line)
    assert f"/etc/krb5.conf:{line}:" in str(err)
    assert words in str(err)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[]{}=*#;\"\\ \n\tabkdc.:0123")), max_size=200))
def test_fuzz_parser_raises_only_config_error(text: str) -> None:
    assume("include" not in text and "module" not in text)
    with contextlib.suppress(ConfigError):
        Krb5Config.from_string(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_parser_any_text(text: str) -> None:
    assume("include" not in text)
    with contextlib.suppress(ConfigError):
        Krb5Config.from_string(text)


# -- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300", 300),
        (" 300 ", 300),
        ("0", 0),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("8h30s", 8 * 3600 + 30),
        ("1d", 86400),
        ("10d 0h 0m 0s", 864000),
        ("2d3h4m5s", 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        ("36:00", 36 * 3600),
        ("1:02:03", 3723),
        ("1d 2:00", 86400 + 7200),
        ("2147483647", 2147483647),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "", "abc", "5x", "1:60", "1:00:60", "-5", "m", "5m1h", "2147483648", "1.5h",
        "\uff11\uff12", "\uff11h",
    ],
)
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_clockskew_durations_in_config() -> None:
    for text, seconds in (("300", 300), ("5m", 300), ("1h", 3600), ("0:10", 600)):
        assert Krb5Config.from_string(f"[libdefaults]\n clockskew = {text}\n").clockskew == seconds


@pytest.mark.parametrize("word", ["y", "yes", "TRUE", "t", "1", "on", " On "])
def test_true_words(word: str) -> None:
    assert parse_boolean(word) is True


@pytest.mark.parametrize("word", ["n", "no", "FALSE", "nil", "0", "off"])
def test_false_words(word: str) -> None:
    assert parse_boolean(word) is False


def test_defaults_follow_mit() -> None:
    c = Krb5Config.defaults()
    assert c.default_realm is None
    assert c.dns_lookup_kdc is True and c.dns_lookup_realm is False
    assert c.udp_preference_limit == 1465
    assert c.allow_rc4 is False
    assert c.clockskew == 300
    assert c.permitted_enctypes == DEFAULT_ENCTYPES
    assert c.default_tkt_enctypes == DEFAULT_ENCTYPES == c.default_tgs_enctypes
    assert c.forwardable is False and c.proxiable is False and c.canonicalize is False
    assert c.noaddresses is True and c.kdc_timesync is True
    assert c.ticket_lifetime == 86400 and c.renew_lifetime == 0
    assert c.kdc_timeout == 3.0 and c.max_retries == 3
    assert c.default_ccache_name == "FILE:/tmp/krb5cc_%{uid}"
    assert c.default_keytab_name == "FILE:/etc/krb5.keytab"
    assert c.default_client_keytab_name == "FILE:/etc/krb5/user/%{euid}/client.keytab"
    assert c.rdns is True and c.dns_canonicalize_hostname is True
    assert "profile" not in repr(c)


def test_enctype_lists() -> None:
    c = Krb5Config.from_string(
        "[libdefaults]\n permitted_enctypes = aes256-cts aes128-cts,rc4-hmac\n"
        " default_tkt_enctypes = DEFAULT -des3\n"
    )
    assert c.permitted_enctypes == ("aes256-cts", "aes128-cts", "rc4-hmac")
    assert c.default_tkt_enctypes == ("DEFAULT", "-des3")
    assert c.default_tgs_enctypes == c.permitted_enctypes  # MIT 1.18+: defaults to permitted


@pytest.mark.parametrize(
    ("value", "limit"), [("1", 1), ("0", 0), ("-5", 1465), ("100000", 32700), ("0x10", 16)]
)
def test_udp_preference_limit(value: str, limit: int) -> None:
    c = Krb5Config.from_string(f"[libdefaults]\n udp_preference_limit = {value}\n")
    assert c.udp_preference_limit == limit


def test_timeouts_and_canonicalize_fallback() -> None:
    c = Krb5Config.from_string(
        "[libdefaults]\n kdc_timeout = 5\n max_retries = 2\n dns_canonicalize_hostname = fallback\n"
    )
    assert (c.kdc_timeout, c.max_retries, c.dns_canonicalize_hostname) == (5.0, 2, "fallback")


def test_realm_specific_libdefault() -> None:
    c = Krb5Config.from_string(
        "[libdefaults]\n forwardable = false\n R = {\n  forwardable = true\n }\n"
    )
    assert c.libdefault("forwardable", "R") == "true"
    assert c.libdefault("forwardable", "S") == "false"
    assert c.libdefault("nothing") is None


@pytest.mark.parametrize(
    ("host", "realm"),
    [
        ("crash.mit.edu", "TEST.ATHENA.MIT.EDU"),
        ("CRASH.MIT.EDU.", "TEST.ATHENA.MIT.EDU"),
        ("a.dev.mit.edu", "TEST.ATHENA.MIT.EDU"),
        ("dev.mit.edu", "ATHENA.MIT.EDU"),  # ".dev.mit.edu" does not cover dev.mit.edu itself
        ("www.mit.edu", "ATHENA.MIT.EDU"),
        ("mit.edu", "ATHENA.MIT.EDU"),
        ("server.test.local", "TEST.LOCAL"),
        ("elsewhere.example", "TEST.LOCAL"),  # default_realm
    ],
)
def test_realm_of_host(host: str, realm: str) -> None:
    assert Krb5Config.from_string(MIT_STYLE).realm_of_host(host) == realm


def test_realm_of_host_without_default() -> None:
    assert Krb5Config.defaults().realm_of_host("x.example") is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("kdc.example.com", ("kdc.example.com", None)),
        ("kdc.example.com:750", ("kdc.example.com", 750)),
        ("127.0.0.1:88", ("127.0.0.1", 88)),
        ("[::1]", ("::1", None)),
        ("[::1]:750", ("::1", 750)),
        ("fe80::1", ("fe80::1", None)),
    ],
)
def test_split_host_port(spec: str, expected: tuple[str, int | None]) -> None:
    assert split_host_port(spec) == expected


@pytest.mark.parametrize("spec", ["", ":88", "[::1", "[::1]x", "h:0", "h:65536", "h:x", "h: 8"])
def test_split_host_port_errors(spec: str) -> None:
    with pytest.raises(ValueError):
        split_host_port(spec)


def test_expand_path() -> None:
    env = {"TMPDIR": "/var/tmp"}
    uid = str(os.getuid())
    assert expand_path("FILE:/tmp/krb5cc_%{uid}", env) == f"FILE:/tmp/krb5cc_{uid}"
    assert expand_path("%{euid}-%{USERID}", env) == f"{os.geteuid()}-{uid}"
    assert expand_path("%{TEMP}/x%{null}", env) == "/var/tmp/x"
    assert expand_path("%{TEMP}", {}) == "/tmp"
    assert expand_path("no tokens", env) == "no tokens"
    assert expand_path("%{username}", env)
    with pytest.raises(ConfigError, match="unknown parameter"):
        expand_path("%{APPDATA}\\x", env)
    with pytest.raises(ConfigError, match="unterminated"):
        expand_path("%{uid", env)
