"""krb5.conf: MIT's profile syntax, and a typed view of the settings the Kerberos package reads.

Format: MIT krb5.conf(5), https://web.mit.edu/kerberos/krb5-latest/doc/admin/conf_files/krb5_conf.html
(sections "Structure", "[libdefaults]", "[realms]", "[domain_realm]", "[capaths]", "Parameter
expansion") and "Supported date and time formats" for durations. Behaviour follows MIT's profile
library (``src/util/profile/prof_parse.c`` and ``prof_get.c``), described here in its own words:

- A file is a sequence of lines. Until the first line that *starts* with ``[`` every line is a
  comment. Lines whose first non-blank character is ``#`` or ``;`` are comments.
- ``[name]`` opens a top-level section; a section repeated in one file (or in a file it includes)
  is the same section. ``[name]*`` marks it *final*.
- ``tag = value`` is a relation; a value may repeat (several ``kdc =`` lines) and keeps its order.
  A value in double quotes may use the escapes ``\\n \\t \\b \\\\``. ``tag = {`` (or ``tag =`` with
  ``{`` on the next line) opens a subsection closed by ``}``. ``tag* = ...`` or ``}*`` marks a
  relation or subsection final.
- ``include FILE`` and ``includedir DIR`` at the start of a line read another file, or every file
  in DIR whose name is only letters, digits, ``-`` and ``_`` or ends in ``.conf`` (not starting with
  ``.``), in sorted order. An included file is syntactically independent (it starts with a section
  header) and adds to the same tree. ``module`` lines are ignored: loadable profile modules are C.
- ``KRB5_CONFIG`` is a colon-separated list of files (or directories); missing or unreadable ones
  are skipped. Each file is its own tree and the trees are searched in order: a single-valued
  lookup takes the first value found, so **earlier files win**; a multi-valued lookup (``kdc``)
  returns the values of every file in order, except that once a final section or relation on the
  path was seen in one file, later files are not consulted.

Deviation: MIT accepts a file that ends inside ``{ }`` or right after ``tag =``; we raise
:class:`ConfigError`, since that file is certainly not what its author meant. Relation values that
the typed view cannot read (``forwardable = perhaps``, ``clockskew = soon``) also raise, naming the
file and line, where MIT would silently use the default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeVar

from ...constants import SecStatus
from ...errors import SspiError
from .parsed import digest, parsed, unchanged

__all__ = [
    "DEFAULT_CCACHE_NAME",
    "DEFAULT_CLIENT_KEYTAB_NAME",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_ENCTYPES",
    "DEFAULT_KCM_SOCKET",
    "DEFAULT_KEYTAB_NAME",
    "ConfigError",
    "Krb5Config",
    "Profile",
    "RealmConfig",
    "config_paths",
    "expand_path",
    "parse_boolean",
    "parse_duration",
    "split_host_port",
]

DEFAULT_CONFIG_PATH = "/etc/krb5.conf"
"""Where the profile is read from when ``KRB5_CONFIG`` is not set (MIT's DEFAULT_PROFILE_PATH)."""

DEFAULT_CCACHE_NAME = "FILE:/tmp/krb5cc_%{uid}"
DEFAULT_KCM_SOCKET = "/var/run/.heim_org.h5l.kcm-socket"
DEFAULT_KEYTAB_NAME = "FILE:/etc/krb5.keytab"
DEFAULT_CLIENT_KEYTAB_NAME = "FILE:/etc/krb5/user/%{euid}/client.keytab"
"""The client keytab default of Debian's MIT build (upstream uses ``$localstatedir/kerberos``)."""

DEFAULT_ENCTYPES: tuple[str, ...] = (
    "aes256-cts-hmac-sha1-96",
    "aes128-cts-hmac-sha1-96",
    "aes256-cts-hmac-sha384-192",
    "aes128-cts-hmac-sha256-128",
    "des3-cbc-sha1",
    "arcfour-hmac-md5",
    "camellia256-cts-cmac",
    "camellia128-cts-cmac",
)
"""MIT 1.18+'s default ``permitted_enctypes``; rc4 and des3 are later filtered by ``allow_rc4``."""

_MAX_INCLUDE_DEPTH = 16
_MAX_DURATION = 2147483647
_HARD_UDP_LIMIT = 32700
_DEFAULT_UDP_PREFERENCE_LIMIT = 1465

_TRUE_WORDS = frozenset({"y", "yes", "true", "t", "1", "on"})
_FALSE_WORDS = frozenset({"n", "no", "false", "nil", "0", "off"})

_INCLUDEDIR_NAME = re.compile(r"[A-Za-z0-9_-]+")

_T = TypeVar("_T")


class ConfigError(SspiError):
    """krb5.conf could not be read: a syntax error or an unreadable value, located by file:line.

    Its status is ``SEC_E_INTERNAL_ERROR``: Windows has no status for a bad local configuration,
    and none of the specific codes (``SEC_E_INVALID_PARAMETER`` means a bad argument) fits.
    """

    default_status: ClassVar[SecStatus] = SecStatus.SEC_E_INTERNAL_ERROR

    def __init__(self, message: str, filename: str | None = None, line: int | None = None) -> None:
        self.filename = filename
        self.line = line
        where = ""
        if filename is not None:
            where = f"{filename}:{line}: " if line is not None else f"{filename}: "
        super().__init__(
            f"{where}{message} (fix the file, or point KRB5_CONFIG at another one)"
        )


# -- value syntax -------------------------------------------------------------------------------

_DURATION_UNITS = re.compile(
    r"\s*(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m)?\s*(?:(?P<s>\d+)\s*s)?\s*",
    re.ASCII,
)
_DURATION_CLOCK = re.compile(
    r"\s*(?:(?P<d>\d+)\s*d\s*)?(?P<h>\d+):(?P<m>\d+)(?::(?P<s>\d+))?\s*", re.ASCII
)


def parse_duration(text: str) -> int:
    """Parse an MIT duration ("deltat") into seconds.

    MIT "Supported date and time formats", Duration::

        h:m[:s]      36:00     36 hours
        NdNhNmNs     8h30s     8 hours 30 seconds
        N            3600      1 hour (seconds)

    The ``NdNhNmNs`` parts are each optional but keep that order and may be separated by blanks
    (``"10d 0h 0m 0s"``); ``"1d 2:30"`` (days then a clock) is accepted as MIT's grammar does.

    Raises:
        ValueError: the text is none of these forms, or exceeds 2147483647 seconds.
    """
    stripped = text.strip()
    if stripped.isdigit() and stripped.isascii():
        total = int(stripped)
    else:
        m = _DURATION_CLOCK.fullmatch(text)
        if m is not None:
            minutes, seconds = int(m["m"]), int(m["s"] or 0)
            if minutes > 59 or seconds > 59:
                raise ValueError(f"{text!r}: minutes and seconds in h:m:s must be below 60")
        else:
            m = _DURATION_UNITS.fullmatch(text)
            if m is None or not any(m.group(k) for k in "dhms"):
                raise ValueError(
                    f"{text!r} is not a duration; write seconds (300), h:m[:s] (0:05) or "
                    "NdNhNmNs (5m, 1h30m, 1d)"
                )
        total = (
            int(m["d"] or 0) * 86400 + int(m["h"] or 0) * 3600 + int(m["m"] or 0) * 60
            + int(m["s"] or 0)
        )
    if total > _MAX_DURATION:
        raise ValueError(f"{text!r} is longer than {_MAX_DURATION} seconds")
    return total


def parse_boolean(text: str) -> bool:
    """Parse a profile boolean as MIT's ``profile_parse_boolean`` does.

    True: ``y yes true t 1 on``; false: ``n no false nil 0 off`` (any case).

    Raises:
        ValueError: any other word.
    """
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} is not a boolean; write true or false")


def _parse_integer(text: str) -> int:
    # profile_get_integer uses strtol(base 0): decimal, 0x hex or 0 octal, optional sign.
    s = text.strip()
    sign = -1 if s.startswith("-") else 1
    body = s.lstrip("+-")
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", body):
        return sign * int(body, 16)
    if re.fullmatch(r"0[0-7]+", body):
        return sign * int(body, 8)
    if re.fullmatch(r"[0-9]+", body):
        return sign * int(body)
    raise ValueError(f"{text!r} is not an integer")


def expand_path(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Expand MIT's ``%{...}`` parameters (krb5.conf(5), "Parameter expansion").

    Supported: ``%{uid}`` ``%{USERID}`` (real uid), ``%{euid}``, ``%{username}`` (of the effective
    uid), ``%{TEMP}`` (``TMPDIR`` or ``/tmp``), ``%{null}``, ``%{LIBDIR}`` ``%{BINDIR}``
    ``%{SBINDIR}``. The Windows-only parameters are rejected, as MIT does off Windows.

    Raises:
        ConfigError: an unknown or unterminated ``%{`` parameter.
    """
    env = os.environ if environ is None else environ
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("%{", pos)
        if start < 0:
            out.append(text[pos:])
            return "".join(out)
        end = text.find("}", start)
        if end < 0:
            raise ConfigError(f"unterminated %{{ parameter in {text!r}")
        out.append(text[pos:start])
        out.append(_expand_token(text[start + 2 : end], env, text))
        pos = end + 1


def _expand_token(token: str, env: Mapping[str, str], text: str) -> str:
    if token in ("uid", "USERID"):
        return str(os.getuid()) if hasattr(os, "getuid") else "0"
    if token == "euid":
        return str(os.geteuid()) if hasattr(os, "geteuid") else "0"
    if token == "username":
        try:
            import pwd

            return pwd.getpwuid(os.geteuid()).pw_name
        except (ImportError, KeyError):
            return env.get("USER", "")
    if token == "TEMP":
        return env.get("TMPDIR") or "/tmp"
    if token == "null":
        return ""
    fixed = {"LIBDIR": "/usr/lib", "BINDIR": "/usr/bin", "SBINDIR": "/usr/sbin"}
    if token in fixed:
        return fixed[token]
    raise ConfigError(f"unknown parameter %{{{token}}} in {text!r}")


def split_host_port(spec: str, default_port: int | None = None) -> tuple[str, int | None]:
    """Split ``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` as a ``kdc =`` value is written.

    An address with more than one colon and no brackets is taken whole as an IPv6 address with
    no port, like MIT's ``k5_parse_host_string``.

    Raises:
        ValueError: an empty host, an unclosed bracket, or a port outside 1..65535.
    """
    s = spec.strip()
    port_text: str | None = None
    if s.startswith("["):
        close = s.find("]")
        if close < 0:
            raise ValueError(f"{spec!r}: '[' without ']'")
        host, rest = s[1:close], s[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{spec!r}: unexpected text after ']'")
            port_text = rest[1:]
    elif s.count(":") == 1:
        host, port_text = s.split(":")
    else:
        host = s
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"{spec!r}: no host name")
    if port_text is None:
        return host, default_port
    if not (port_text.isdigit() and port_text.isascii()) or not 0 < int(port_text) < 65536:
        raise ValueError(f"{spec!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def config_paths(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The profile files to read: ``KRB5_CONFIG`` split on ``:``, else ``/etc/krb5.conf``."""
    env = os.environ if environ is None else environ
    value = env.get("KRB5_CONFIG")
    if value is None:
        return (DEFAULT_CONFIG_PATH,)
    return tuple(p for p in value.split(":") if p)


# -- the profile tree -------------------------------------------------------------------------


@dataclass(slots=True)
class _Relation:
    name: str
    value: str
    filename: str
    line: int
    final: bool = False


@dataclass(slots=True)
class _Section:
    name: str
    filename: str
    line: int
    final: bool = False
    children: list[_Relation | _Section] = field(default_factory=list)

    def subsection(self, name: str) -> _Section | None:
        for child in self.children:
            if isinstance(child, _Section) and child.name == name:
                return child
        return None

    def add_subsection(self, name: str, filename: str, line: int) -> _Section:
        # Duplicate subsections of one section are merged, as MIT's profile_add_node does.
        existing = self.subsection(name)
        if existing is not None:
            return existing
        node = _Section(name, filename, line)
        self.children.append(node)
        return node


@dataclass(frozen=True, slots=True)
class ProfileValue:
    """One relation value, with where it was written (for error messages)."""

    value: str
    filename: str
    line: int


class _Parser:
    """MIT's line-by-line profile parser, filling one tree (one file plus what it includes)."""

    def __init__(self, root: _Section, depth: int = 0) -> None:
        self.root = root
        self.depth = depth

    def parse_file(self, path: str) -> None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        self.parse_text(data.decode("utf-8", "surrogateescape"), path)

    def parse_text(self, text: str, filename: str) -> None:
        started = False
        current: _Section | None = None
        parents: list[_Section] = []  # the enclosing sections of ``current`` inside { } groups
        want_brace: tuple[_Section, int] | None = None
        for lineno, raw in enumerate(text.split("\n"), start=1):
            line = raw.rstrip("\r")
            if self._directive(line, filename, lineno):
                continue
            stripped = line.strip()
            if want_brace is not None:
                if not stripped or stripped[0] in "#;":
                    continue
                if not stripped.startswith("{"):
                    raise ConfigError(
                        f"expected '{{' after {want_brace[0].name!r} =", filename, lineno
                    )
                assert current is not None
                parents.append(current)
                current = want_brace[0]
                want_brace = None
                continue
            if not started:
                # Before the first section header every line is a comment (STATE_INIT_COMMENT).
                if not line.startswith("["):
                    continue
                started = True
            if not stripped or stripped[0] in "#;":
                continue
            if stripped[0] == "[":
                if parents:
                    raise ConfigError(
                        "section header inside a { } group; close the group first",
                        filename, lineno,
                    )
                current = self._section_header(stripped, filename, lineno)
                continue
            if stripped[0] == "}":
                if not parents or current is None:
                    raise ConfigError("'}' without a matching '{'", filename, lineno)
                if stripped[1:2] == "*":
                    current.final = True
                current = parents.pop()
                continue
            assert current is not None
            opened = self._relation(current, stripped, filename, lineno)
            if opened is None:
                continue
            section, needs_brace_line = opened
            if needs_brace_line:
                want_brace = (section, lineno)
            else:
                parents.append(current)
                current = section
        if want_brace is not None:
            raise ConfigError(
                f"file ends after {want_brace[0].name!r} = without '{{'", filename, want_brace[1]
            )
        if parents and current is not None:
            raise ConfigError(
                f"file ends inside {current.name!r} = {{ ... (missing '}}')",
                filename, current.line,
            )

    def _directive(self, line: str, filename: str, lineno: int) -> bool:
        for word in ("includedir", "include", "module"):
            if line.startswith(word) and line[len(word) : len(word) + 1].isspace():
                arg = line[len(word) :].strip()
                if word == "module":
                    return True
                if not arg:
                    raise ConfigError(f"{word} without a path", filename, lineno)
                if self.depth >= _MAX_INCLUDE_DEPTH:
                    raise ConfigError(
                        f"includes nested more than {_MAX_INCLUDE_DEPTH} deep (a cycle?)",
                        filename, lineno,
                    )
                child = _Parser(self.root, self.depth + 1)
                if word == "include":
                    if not os.path.isfile(arg):
                        raise ConfigError(f"included file {arg} does not exist", filename, lineno)
                    child.parse_file(arg)
                else:
                    if not os.path.isdir(arg):
                        raise ConfigError(
                            f"included directory {arg} does not exist", filename, lineno
                        )
                    for path in _includedir_files(arg):
                        child.parse_file(path)
                return True
        return False

    def _section_header(self, stripped: str, filename: str, lineno: int) -> _Section:
        close = stripped.find("]")
        if close < 0:
            raise ConfigError("section header without ']'", filename, lineno)
        name = stripped[1:close]
        rest = stripped[close + 1 :]
        final = rest.startswith("*")
        if final:
            rest = rest[1:]
        if rest.strip():
            raise ConfigError(f"unexpected text after [{name}]", filename, lineno)
        section = self.root.add_subsection(name, filename, lineno)
        if final:
            section.final = True
        return section

    def _relation(
        self, current: _Section, stripped: str, filename: str, lineno: int
    ) -> tuple[_Section, bool] | None:
        eq = stripped.find("=")
        if eq < 0:
            raise ConfigError(
                f"expected 'name = value', '[section]' or '}}', not {stripped[:40]!r}",
                filename, lineno,
            )
        tag = stripped[:eq].strip()
        if not tag:
            raise ConfigError("relation without a name before '='", filename, lineno)
        if any(c.isspace() for c in tag):
            raise ConfigError(f"relation name {tag!r} contains blanks", filename, lineno)
        final = "*" in tag
        tag = tag.split("*", 1)[0]
        if not tag:
            raise ConfigError("relation without a name before '*'", filename, lineno)
        value = stripped[eq + 1 :].lstrip()
        if value.startswith('"'):
            value = _unquote(value[1:])
        elif not value or (value[0] == "{" and not value[1:].strip()):
            section = current.add_subsection(tag, filename, lineno)
            if final:
                section.final = True
            return section, not value
        else:
            value = value.rstrip()
        current.children.append(_Relation(tag, value, filename, lineno, final))
        return None


def _unquote(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text) and text[i] != '"':
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            i += 1
            ch = {"n": "\n", "t": "\t", "b": "\b"}.get(text[i], text[i])
        out.append(ch)
        i += 1
    return "".join(out)


def _includedir_files(dirname: str) -> list[str]:
    names = []
    for name in sorted(os.listdir(dirname)):
        if _INCLUDEDIR_NAME.fullmatch(name) or (name.endswith(".conf") and name[0] != "."):
            path = os.path.join(dirname, name)
            if os.path.isfile(path):
                names.append(path)
    return names


_INCLUDE_LINE = re.compile(rb"^[ \t]*(?:include|includedir|module)\b", re.MULTILINE)


def _content_key(paths: Sequence[str]) -> tuple[tuple[str, bytes | None], ...] | None:
    """What ``Profile.load(paths)`` depends on: each file's path and SHA-256 (None when it is
    missing), or None when it reads other files too (include directives, directories) or a
    file cannot be read (then ``Profile.load`` reports it)."""
    key: list[tuple[str, bytes | None]] = []
    for path in paths:
        if os.path.isdir(path):
            return None
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            key.append((path, None))
            continue
        except OSError:
            return None
        if _INCLUDE_LINE.search(data):
            return None
        key.append((path, digest(data)))
    return tuple(key)


class Profile:
    """A parsed profile: one tree per file, searched in order (MIT's ``profile_t``)."""

    __slots__ = ("_trees", "files")

    def __init__(self, trees: Sequence[_Section], files: Sequence[str]) -> None:
        self._trees = tuple(trees)
        self.files: tuple[str, ...] = tuple(files)

    @classmethod
    def load(cls, paths: Sequence[str] | None = None) -> Profile:
        """Read the files in ``paths`` (default :func:`config_paths`), skipping missing ones.

        A directory in the list contributes its files under the ``includedir`` name rule.

        Raises:
            ConfigError: a file that exists does not parse.
        """
        trees: list[_Section] = []
        files: list[str] = []
        for path in config_paths() if paths is None else paths:
            candidates = _includedir_files(path) if os.path.isdir(path) else [path]
            for candidate in candidates:
                root = _Section("(root)", candidate, 0)
                try:
                    with open(candidate, "rb") as f:
                        data = f.read()
                except (FileNotFoundError, PermissionError, NotADirectoryError):
                    continue
                except OSError as exc:
                    raise ConfigError(f"cannot read: {exc.strerror or exc}", candidate) from None
                _Parser(root).parse_text(data.decode("utf-8", "surrogateescape"), candidate)
                trees.append(root)
                files.append(candidate)
        return cls(trees, files)

    @classmethod
    def from_string(cls, text: str, filename: str = "<string>") -> Profile:
        """Parse one file's text (``include`` directives still read from disk)."""
        root = _Section("(root)", filename, 0)
        _Parser(root).parse_text(text, filename)
        return cls([root], [filename])

    def _matches(self, path: Sequence[str], sections: bool) -> Iterator[_Relation | _Section]:
        if not path:
            raise ValueError("a profile lookup needs at least a section name")
        for tree in self._trees:
            final = False
            node: _Section | None = tree
            for name in path[:-1]:
                assert node is not None
                node = node.subsection(name)
                if node is None:
                    break
                final = final or node.final
            if node is None:
                continue
            for child in node.children:
                if child.name == path[-1] and isinstance(child, _Section) == sections:
                    final = final or child.final
                    yield child
            if final:
                return

    def values(self, *path: str) -> tuple[ProfileValue, ...]:
        """Every value of the relation at ``path``, across files, with its location."""
        return tuple(
            ProfileValue(m.value, m.filename, m.line)
            for m in self._matches(path, sections=False)
            if isinstance(m, _Relation)
        )

    def get_values(self, *path: str) -> tuple[str, ...]:
        """Every value of the relation at ``path`` (``"realms", "R", "kdc"``), in order."""
        return tuple(v.value for v in self.values(*path))

    def get_value(self, *path: str) -> str | None:
        """The first value of the relation at ``path``, or None: earlier files win."""
        found = self.values(*path)
        return found[0].value if found else None

    def names(self, *path: str) -> tuple[str, ...]:
        """The names of the relations and subsections directly under the section at ``path``."""
        seen: dict[str, None] = {}
        for tree in self._trees:
            node: _Section | None = tree
            final = False
            for name in path:
                assert node is not None
                node = node.subsection(name)
                if node is None:
                    break
                final = final or node.final
            if node is None:
                continue
            for child in node.children:
                seen.setdefault(child.name, None)
            if final:
                break
        return tuple(seen)

    def has_section(self, *path: str) -> bool:
        """True when a subsection exists at ``path`` in any file."""
        return any(True for _ in self._matches(path, sections=True))


# -- the typed view ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RealmConfig:
    """One ``[realms]`` entry; server values as written: ``host``, ``host:port``, ``[v6]:port``."""

    name: str
    kdcs: tuple[str, ...] = ()
    admin_servers: tuple[str, ...] = ()
    kpasswd_servers: tuple[str, ...] = ()
    master_kdcs: tuple[str, ...] = ()

    @property
    def admin_server(self) -> str | None:
        return self.admin_servers[0] if self.admin_servers else None

    @property
    def kpasswd_server(self) -> str | None:
        return self.kpasswd_servers[0] if self.kpasswd_servers else None


DnsCanonicalize = Literal[True, False, "fallback"]


@dataclass(frozen=True, slots=True)
class Krb5Config:
    """The ``[libdefaults]`` settings the Kerberos package uses, with MIT's defaults.

    Defaults (MIT 1.20 unless noted):

    - ``dns_lookup_kdc`` True (MIT's build default), ``dns_lookup_realm`` False.
    - ``udp_preference_limit`` 1465; 1 forces TCP. Negative means the default and values above
      32700 are clamped, as in MIT.
    - ``allow_rc4`` False, ``clockskew`` 300 s, ``ticket_lifetime`` 1 day, ``renew_lifetime`` 0,
      ``forwardable``/``proxiable``/``canonicalize`` False, ``noaddresses`` True,
      ``kdc_timesync`` True, ``rdns`` True, ``dns_canonicalize_hostname`` True.
    - ``permitted_enctypes`` :data:`DEFAULT_ENCTYPES`; ``default_tkt_enctypes`` and
      ``default_tgs_enctypes`` default to ``permitted_enctypes`` (MIT 1.18+). Enctype lists are
      kept as the names written (``DEFAULT``, family names and ``-name`` included); mapping them
      to numbers is the crypto module's job.
    - ``kdc_timeout`` 3 s per attempt and ``max_retries`` 3 passes: these are Heimdal's relations
      and defaults. MIT has no such settings (it waits 1 s per server while still listening to the
      earlier ones, over 3 passes); our transport tries one address at a time, so a longer
      per-attempt wait is the closer equivalent.
    - ``default_ccache_name`` ``FILE:/tmp/krb5cc_%{uid}``, ``default_keytab_name``
      ``FILE:/etc/krb5.keytab``, ``default_client_keytab_name``
      ``FILE:/etc/krb5/user/%{euid}/client.keytab``, unexpanded (see :func:`expand_path`).
    - ``kcm_socket`` ``/var/run/.heim_org.h5l.kcm-socket`` (Heimdal's fixed path, which MIT and
      sssd-kcm share); ``-`` means no KCM server.
    """

    profile: Profile = field(repr=False, compare=False)
    default_realm: str | None = None
    dns_lookup_kdc: bool = True
    dns_lookup_realm: bool = False
    udp_preference_limit: int = _DEFAULT_UDP_PREFERENCE_LIMIT
    allow_rc4: bool = False
    clockskew: int = 300
    permitted_enctypes: tuple[str, ...] = DEFAULT_ENCTYPES
    default_tkt_enctypes: tuple[str, ...] = DEFAULT_ENCTYPES
    default_tgs_enctypes: tuple[str, ...] = DEFAULT_ENCTYPES
    forwardable: bool = False
    proxiable: bool = False
    canonicalize: bool = False
    noaddresses: bool = True
    kdc_timesync: bool = True
    ticket_lifetime: int = 86400
    renew_lifetime: int = 0
    kdc_timeout: float = 3.0
    max_retries: int = 3
    default_ccache_name: str = DEFAULT_CCACHE_NAME
    default_keytab_name: str = DEFAULT_KEYTAB_NAME
    default_client_keytab_name: str = DEFAULT_CLIENT_KEYTAB_NAME
    kcm_socket: str = DEFAULT_KCM_SOCKET
    rdns: bool = True
    dns_canonicalize_hostname: DnsCanonicalize = True

    @classmethod
    def load(
        cls, paths: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None
    ) -> Krb5Config:
        """Read the profile from ``paths``, else ``KRB5_CONFIG``, else ``/etc/krb5.conf``.

        Missing files give an empty profile and all defaults, as with MIT.

        Raises:
            ConfigError: a file does not parse, or a setting has an unreadable value.
        """
        chosen = tuple(config_paths(environ) if paths is None else paths)

        def load() -> tuple[Krb5Config, bool]:
            key = _content_key(chosen)
            if key is None:
                return cls.from_profile(Profile.load(chosen)), False
            # Unchanged files (same bytes, no include directives): the same immutable config.
            return parsed("krb5.conf", key, lambda: cls.from_profile(Profile.load(chosen))), True

        return unchanged("krb5.conf", chosen, load)

    @classmethod
    def from_string(cls, text: str, filename: str = "<string>") -> Krb5Config:
        """Build the view from one file's text."""
        return cls.from_profile(Profile.from_string(text, filename))

    @classmethod
    def from_profile(cls, profile: Profile) -> Krb5Config:
        """Read every typed setting out of ``profile``.

        Raises:
            ConfigError: a value that cannot be read, naming its file and line.
        """
        lib = _LibDefaults(profile)
        permitted = lib.enctypes("permitted_enctypes", DEFAULT_ENCTYPES)
        udp_limit = lib.integer("udp_preference_limit", _DEFAULT_UDP_PREFERENCE_LIMIT)
        if udp_limit < 0:
            udp_limit = _DEFAULT_UDP_PREFERENCE_LIMIT
        udp_limit = min(udp_limit, _HARD_UDP_LIMIT)
        canon_raw = lib.first("dns_canonicalize_hostname")
        canon: DnsCanonicalize = True
        if canon_raw is not None:
            if canon_raw.value.strip().lower() == "fallback":
                canon = "fallback"
            else:
                canon = lib.boolean("dns_canonicalize_hostname", True)
        max_retries = lib.integer("max_retries", 3)
        if max_retries < 1:
            raise ConfigError(
                "max_retries must be at least 1", *lib.where("max_retries")
            )
        realm = lib.first("default_realm")
        return cls(
            profile=profile,
            default_realm=realm.value if realm is not None and realm.value else None,
            dns_lookup_kdc=lib.boolean("dns_lookup_kdc", True),
            dns_lookup_realm=lib.boolean("dns_lookup_realm", False),
            udp_preference_limit=udp_limit,
            allow_rc4=lib.boolean("allow_rc4", False),
            clockskew=lib.duration("clockskew", 300),
            permitted_enctypes=permitted,
            default_tkt_enctypes=lib.enctypes("default_tkt_enctypes", permitted),
            default_tgs_enctypes=lib.enctypes("default_tgs_enctypes", permitted),
            forwardable=lib.boolean("forwardable", False),
            proxiable=lib.boolean("proxiable", False),
            canonicalize=lib.boolean("canonicalize", False),
            noaddresses=lib.boolean("noaddresses", True),
            kdc_timesync=lib.boolean("kdc_timesync", True),
            ticket_lifetime=lib.duration("ticket_lifetime", 86400),
            renew_lifetime=lib.duration("renew_lifetime", 0),
            kdc_timeout=float(lib.duration("kdc_timeout", 3)),
            max_retries=max_retries,
            default_ccache_name=lib.string("default_ccache_name", DEFAULT_CCACHE_NAME),
            default_keytab_name=lib.string("default_keytab_name", DEFAULT_KEYTAB_NAME),
            default_client_keytab_name=lib.string(
                "default_client_keytab_name", DEFAULT_CLIENT_KEYTAB_NAME
            ),
            kcm_socket=lib.string("kcm_socket", DEFAULT_KCM_SOCKET),
            rdns=lib.boolean("rdns", True),
            dns_canonicalize_hostname=canon,
        )

    @classmethod
    def defaults(cls) -> Krb5Config:
        """The view of an empty profile: every MIT default."""
        return cls.from_profile(Profile([], []))

    # -- other lookups -------------------------------------------------------------------------

    def libdefault(self, name: str, realm: str | None = None) -> str | None:
        """A ``[libdefaults]`` relation; with ``realm``, ``[libdefaults] REALM = {...}`` first."""
        if realm is not None:
            value = self.profile.get_value("libdefaults", realm, name)
            if value is not None:
                return value
        return self.profile.get_value("libdefaults", name)

    @property
    def realms(self) -> tuple[str, ...]:
        """The realm names under ``[realms]``."""
        return self.profile.names("realms")

    def realm(self, name: str) -> RealmConfig:
        """The ``[realms]`` entry for ``name`` (empty when the realm is not configured)."""
        return RealmConfig(
            name=name,
            kdcs=self.profile.get_values("realms", name, "kdc"),
            admin_servers=self.profile.get_values("realms", name, "admin_server"),
            kpasswd_servers=self.profile.get_values("realms", name, "kpasswd_server"),
            master_kdcs=self.profile.get_values("realms", name, "master_kdc"),
        )

    def realm_of_host(self, host: str) -> str | None:
        """The realm of ``host`` from ``[domain_realm]``, else the default realm.

        The host is lower-cased and its trailing dot dropped, then looked up as MIT's profile
        host-realm module does: the exact name, then each parent with and without a leading dot
        (``a.b.c``, ``.b.c``, ``b.c``, ``.c``, ``c``). Keys are compared in lower case.

        Deviation: when nothing matches, MIT returns the empty referral realm and later falls back
        to the host's domain in upper case; we return ``default_realm`` (what Windows does: ask
        our own KDC and follow its referrals). DNS TXT lookups (``dns_lookup_realm``) are not done.
        """
        name = host.strip().rstrip(".").lower()
        if name:
            mapping: dict[str, str] = {}
            for key in self.profile.names("domain_realm"):
                value = self.profile.get_value("domain_realm", key)
                if value is not None:
                    mapping.setdefault(key.lower(), value)
            candidate: str | None = name
            while candidate:
                if candidate in mapping:
                    return mapping[candidate]
                if candidate.startswith("."):
                    candidate = candidate[1:]
                else:
                    dot = candidate.find(".")
                    candidate = candidate[dot:] if dot >= 0 else None
        return self.default_realm

    def capaths(self, client_realm: str, server_realm: str) -> tuple[str, ...]:
        """The ``[capaths]`` intermediate realms from ``client_realm`` to ``server_realm``."""
        return self.profile.get_values("capaths", client_realm, server_realm)


class _LibDefaults:
    """Typed reads of ``[libdefaults]`` that report bad values with their file:line."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def first(self, name: str) -> ProfileValue | None:
        found = self.profile.values("libdefaults", name)
        return found[0] if found else None

    def where(self, name: str) -> tuple[str | None, int | None]:
        v = self.first(name)
        return (v.filename, v.line) if v is not None else (None, None)

    def string(self, name: str, default: str) -> str:
        v = self.first(name)
        return v.value if v is not None else default

    def _parsed(self, name: str, default: _T, parse: Callable[[str], _T]) -> _T:
        """The first value of ``name`` through ``parse``; a bad value names its file:line."""
        v = self.first(name)
        if v is None:
            return default
        try:
            return parse(v.value)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}", v.filename, v.line) from None

    def boolean(self, name: str, default: bool) -> bool:
        return self._parsed(name, default, parse_boolean)

    def integer(self, name: str, default: int) -> int:
        return self._parsed(name, default, _parse_integer)

    def duration(self, name: str, default: int) -> int:
        return self._parsed(name, default, parse_duration)

    def enctypes(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        v = self.first(name)
        if v is None:
            return default
        names = tuple(n for n in re.split(r"[\s,]+", v.value) if n)
        if not names:
            raise ConfigError(f"{name} is empty; remove it to use the default", v.filename, v.line)
        return names
