"""A throwaway Heimdal realm ``HEIMDAL.LOCAL`` on 127.0.0.1: a second, independent KDC.

Debian's ``heimdal-kdc`` conflicts with ``krb5-kdc``/``krb5-admin-server`` (and its
``heimdal-clients`` with ``krb5-user``), so it is not installed: ``scripts/setup.sh --peers``
downloads the Heimdal ``.deb`` files (KDC, admin tools and their ``-heimdal`` libraries) with
``apt-get download`` and unpacks them with ``dpkg -x`` into ``.peers/heimdal/`` at the root of
the repository. The binaries run from there with ``LD_LIBRARY_PATH`` set for them alone; MIT's
clients (kinit, python-gssapi) talk to the KDC and must never see that variable.

:class:`HeimdalRealm` has the shape of :class:`interop.peers.mit_kdc.MitRealm`: users ``alice``
and ``bob`` (non-ASCII password), services ``HTTP/server.heimdal.local`` and
``host/server.heimdal.local`` (``ok-as-delegate``) in :attr:`HeimdalRealm.keytab`,
pre-authentication required, keys aes256/aes128-sha1 and rc4 (Heimdal 7.8 has no aes-sha2).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from interop.peers.mit_kdc import (
    KdcStartError,
    RealmProcess,
    file_name,
    full_principal,
    kinit,
    run_tool,
)

REALM = "HEIMDAL.LOCAL"
DOMAIN = "heimdal.local"
REPO_ROOT = Path(__file__).resolve().parents[3]
#: Where ``scripts/setup.sh --peers`` unpacks Heimdal; ``OPENSSPI_HEIMDAL_ROOT`` overrides it.
DEFAULT_ROOT = REPO_ROOT / ".peers" / "heimdal"
INSTALL_HINT = "bash scripts/setup.sh --peers  (unpacks the Heimdal .debs into .peers/heimdal/)"

PASSWORDS: Mapping[str, str] = {
    "alice": "Al1ce-Heimdal!",
    "bob": "B\u00f6b-H\u00e9imd\u00e4l\u20ac2",
}
SERVICES: tuple[str, ...] = (f"HTTP/server.{DOMAIN}", f"host/server.{DOMAIN}")
DEFAULT_KEYS = (
    "aes256-cts-hmac-sha1-96:pw-salt aes128-cts-hmac-sha1-96:pw-salt arcfour-hmac-md5:pw-salt"
)


@dataclass(frozen=True)
class HeimdalInstall:
    """Paths of an unpacked (or installed) Heimdal: the KDC, ``kadmin`` and ``kstash``, and the
    directory of its shared libraries (None when they are on the default search path)."""

    root: Path
    kdc: Path
    kadmin: Path
    kstash: Path
    lib_dir: Path | None

    def env(self) -> dict[str, str]:
        """``LD_LIBRARY_PATH`` for the Heimdal binaries (only theirs)."""
        if self.lib_dir is None:
            return {}
        old = os.environ.get("LD_LIBRARY_PATH")
        return {"LD_LIBRARY_PATH": f"{self.lib_dir}:{old}" if old else str(self.lib_dir)}


def find_heimdal(root: Path | None = None) -> HeimdalInstall | None:
    """The Heimdal KDC under ``root`` (default ``$OPENSSPI_HEIMDAL_ROOT`` or ``.peers/heimdal``),
    else a system-wide ``heimdal-kdc``; None when neither has all three binaries."""
    candidates: list[Path] = []
    if root is not None:
        candidates.append(root)
    else:
        if os.environ.get("OPENSSPI_HEIMDAL_ROOT"):
            candidates.append(Path(os.environ["OPENSSPI_HEIMDAL_ROOT"]))
        candidates += [DEFAULT_ROOT, Path("/")]
    for base in candidates:
        kdc = base / "usr/lib/heimdal-servers/kdc"
        kadmin = base / "usr/bin/kadmin.heimdal"
        kstash = base / "usr/sbin/kstash"
        if all(os.access(p, os.X_OK) for p in (kdc, kadmin, kstash)):
            libs = sorted((base / "usr/lib").glob("*-linux-gnu/libkdc.so.*"))
            lib_dir = libs[0].parent if libs and base != Path("/") else None
            return HeimdalInstall(base, kdc, kadmin, kstash, lib_dir)
    return None


def heimdal_usable(install: HeimdalInstall | None) -> tuple[bool, str]:
    """Whether the Heimdal KDC binary runs (its libraries resolve); and why not."""
    if install is None:
        return False, "Heimdal KDC not found (.peers/heimdal/ or heimdal-kdc)"
    try:
        proc = subprocess.run(
            [str(install.kdc), "--version"],
            capture_output=True,
            env={**os.environ, **install.env()},
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{install.kdc}: {exc}"
    if proc.returncode != 0:
        return False, f"{install.kdc} --version: {proc.stderr.decode(errors='replace').strip()}"
    return True, ""


class HeimdalRealm(RealmProcess):
    """A private Heimdal realm with a running ``kdc``; a context manager.

    Same shape as :class:`~interop.peers.mit_kdc.MitRealm`: ``realm``, ``kdc_port``,
    ``directory``, ``krb5_conf`` (read by the Heimdal KDC and by MIT clients alike), ``keytab``,
    ``passwords``, ``timings``, :meth:`env`, :meth:`kinit` (MIT kinit), :meth:`keytab_for`,
    :meth:`add_principal`, :meth:`kvno`, :meth:`start`/:meth:`close`.
    """

    KDC_NAME = "Heimdal kdc"

    def __init__(
        self,
        install: HeimdalInstall,
        directory: Path | None = None,
        realm: str = REALM,
    ) -> None:
        self.install = install
        self._own_dir = directory is None
        self.directory = Path(
            tempfile.mkdtemp(prefix="opensspi-heimdal-") if directory is None else directory
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "rcache").mkdir(exist_ok=True)  # KRB5RCACHEDIR of env()
        self._realm = realm
        self._domain = DOMAIN if realm == REALM else realm.lower()
        self._port = 0
        self._passwords: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}
        self._ccache_counter = 0

    # ---------------------------------------------------------------- properties
    @property
    def services(self) -> tuple[str, ...]:
        return SERVICES

    def principal(self, name: str) -> str:
        return full_principal(name, self._realm)

    def env(
        self, ccache: Path | str | None = None, keytab: Path | str | None = None
    ) -> dict[str, str]:
        """Client variables (for MIT tools and python-gssapi): ``KRB5_CONFIG``, ``KRB5CCNAME``,
        ``KRB5_KTNAME``, ``KRB5_CLIENT_KTNAME``, ``KRB5RCACHEDIR``; ``KRB5_KDC_PROFILE`` points
        at the same file (there is no MIT KDC here)."""
        return {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.krb5_conf),
            "KRB5CCNAME": file_name(ccache if ccache is not None else self.default_ccache),
            "KRB5_KTNAME": file_name(keytab if keytab is not None else self.keytab),
            "KRB5_CLIENT_KTNAME": file_name(self.directory / "client.keytab"),
            "KRB5RCACHEDIR": str(self.directory / "rcache"),
        }

    # ---------------------------------------------------------------- files
    def _write_conf(self) -> None:
        d = self.directory
        self.krb5_conf.write_text(
            "[libdefaults]\n"
            f"    default_realm = {self._realm}\n"
            "    dns_lookup_kdc = false\n"
            "    dns_lookup_realm = false\n"
            "    dns_canonicalize_hostname = false\n"
            "    rdns = false\n"
            "    forwardable = true\n"
            "    allow_rc4 = true\n"
            f"    default_ccache_name = FILE:{self.default_ccache}\n"
            f"    default_keytab_name = FILE:{self.keytab}\n"
            "[realms]\n"
            f"    {self._realm} = {{\n"
            f"        kdc = 127.0.0.1:{self._port}\n"
            "    }\n"
            "[domain_realm]\n"
            f"    .{self._domain} = {self._realm}\n"
            f"    {self._domain} = {self._realm}\n"
            "[kdc]\n"
            "    database = {\n"
            f"        dbname = {d / 'heimdal'}\n"
            f"        realm = {self._realm}\n"
            f"        mkey_file = {d / 'm-key'}\n"
            f"        log_file = {d / 'iprop.log'}\n"
            f"        acl_file = {d / 'kadmind.acl'}\n"
            "    }\n"
            "    require-preauth = true\n"
            "    addresses = 127.0.0.1\n"
            f"    ports = {self._port}\n"
            "[kadmin]\n"
            f"    default_keys = {DEFAULT_KEYS}\n"
            "[logging]\n"
            f"    kdc = FILE:{self.log_path}\n"
            f"    default = FILE:{d / 'heimdal-default.log'}\n",
            encoding="utf-8",
        )

    # ---------------------------------------------------------------- admin
    def kadmin(self, *commands: str) -> str:
        """Run ``kadmin.heimdal -l`` commands, ASCII ones in one batch on stdin; raise on any
        complaint. Returns their stdout.

        Quirk: kadmin.heimdal's line reader mangles non-ASCII input (a UTF-8 password set that
        way does not match), so a command with non-ASCII text runs on its own, as argv."""
        batch = [c for c in commands if c.isascii()]
        runs: list[tuple[list[str], bytes]] = []
        if batch:
            runs.append(([], "".join(c + "\n" for c in batch).encode("ascii")))
        runs += [(shlex.split(c), b"") for c in commands if not c.isascii()]
        out = []
        for argv, script in runs:
            proc = run_tool(
                [str(self.install.kadmin), "-l", "-c", str(self.krb5_conf), *argv],
                {"KRB5_CONFIG": str(self.krb5_conf), **self.install.env()},
                stdin=script,
                cwd=self.directory,
            )
            err = proc.stderr.decode("utf-8", errors="replace").strip()
            if err:
                raise KdcStartError(f"kadmin.heimdal complained:\n{err}")
            out.append(proc.stdout.decode("utf-8", errors="replace"))
        return "".join(out)

    def _add_commands(self, name: str, password: str | None, attributes: str) -> list[str]:
        if password is not None:
            if any(c.isspace() or c in "\"'\\" for c in password):
                raise ValueError("kadmin cannot take a password with whitespace or quotes")
            self._passwords[name] = password
            key = f"--password={password}"
        else:
            key = "--random-key"
        attrs = f"--attributes={attributes}" if attributes else ""
        return [" ".join(filter(None, ("add", key, "--use-defaults", attrs, name)))]

    def add_principal(
        self,
        name: str,
        password: str | None = None,
        *,
        attributes: str = "",
        keytab: Path | None = None,
    ) -> str:
        """Add ``name`` (password or random key; Heimdal ``attributes`` such as
        ``"ok-as-delegate"``); export it to ``keytab`` if given. Returns ``name@REALM``."""
        self.kadmin(*self._add_commands(name, password, attributes))
        if keytab is not None:
            self.keytab_for(name, path=keytab)
        return self.principal(name)

    def keytab_for(self, *principals: str, path: Path | None = None) -> Path:
        """Export the current keys of ``principals`` (Heimdal's ext_keytab does not change
        them) to ``path`` (default: a new file in the realm directory)."""
        if not principals:
            raise ValueError("keytab_for needs at least one principal")
        if path is None:
            stem = "-".join(p.replace("/", "_").split("@")[0] for p in principals)[:80]
            path = self.directory / f"{stem}.keytab"
        self.kadmin(*(f"ext_keytab -k {path} {p}" for p in principals))
        return path

    def kvno(self, principal: str) -> int:
        """The key version number of ``principal`` in the database."""
        out = self.kadmin(f"get {principal}")
        for line in out.splitlines():
            key, _, value = line.strip().partition(":")
            if key == "Kvno":
                return int(value.strip())
        raise KdcStartError(f"no Kvno for {principal} in:\n{out}")

    # ---------------------------------------------------------------- clients
    def kinit(
        self,
        principal: str = "alice",
        password: str | None = None,
        ccache: Path | None = None,
        *,
        args: Sequence[str] = (),
        krb5_conf: Path | None = None,
    ) -> Path:
        """MIT ``kinit`` against the Heimdal KDC (see :meth:`MitRealm.kinit`)."""
        if password is None:
            password = self._passwords[principal.split("@")[0]]
        if ccache is None:
            self._ccache_counter += 1
            safe = principal.split("@")[0].replace("/", "_")
            ccache = self.directory / f"cc-{safe}-{self._ccache_counter}"
        env = self.env(ccache=ccache)
        if krb5_conf is not None:
            env["KRB5_CONFIG"] = str(krb5_conf)
        return kinit(principal, password, ccache, env, args=args)

    # ---------------------------------------------------------------- lifecycle
    def _create(self, users: Mapping[str, str], services: Iterable[str]) -> None:
        self._write_conf()
        (self.directory / "kadmind.acl").write_text("", encoding="utf-8")
        run_tool(
            [str(self.install.kstash), "--random-key", f"--key-file={self.directory / 'm-key'}"],
            {"KRB5_CONFIG": str(self.krb5_conf), **self.install.env()},
            cwd=self.directory,
        )
        cmds = [
            "init --realm-max-ticket-life=unlimited --realm-max-renewable-life=unlimited "
            + self._realm
        ]
        for user, password in users.items():
            cmds += self._add_commands(user, password, "")
        for svc in services:
            cmds += self._add_commands(svc, None, "ok-as-delegate")
        cmds += [f"ext_keytab -k {self.keytab} {svc}" for svc in services]
        self.kadmin(*cmds)

    def _prepare(self, t0: float) -> None:
        if not (self.directory / "m-key").exists():
            self._create(PASSWORDS, SERVICES)
            self.timings["create"] = time.monotonic() - t0
        else:
            self._write_conf()

    def _kdc_command(self) -> tuple[list[str], dict[str, str]]:
        argv = [str(self.install.kdc), f"--config-file={self.krb5_conf}"]
        return argv, {"KRB5_CONFIG": str(self.krb5_conf), **self.install.env()}
