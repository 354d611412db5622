"""A throwaway MIT Kerberos realm ``TEST.LOCAL`` on 127.0.0.1, for the real-peer tests.

:class:`MitRealm` writes its own ``krb5.conf`` and ``kdc.conf`` into a directory, creates the
database with ``kdb5_util``, adds the principals below with one batched ``kadmin.local``, exports
the service keytab, and runs ``krb5kdc -n`` (no fork) as a child of the test process on a free
port (UDP and TCP). Nothing under /etc is read or written: every tool gets ``KRB5_CONFIG`` and
``KRB5_KDC_PROFILE`` from :meth:`MitRealm.env`. The KDC dies with the test process
(``PR_SET_PDEATHSIG``) and is stopped by :meth:`MitRealm.close` (SIGTERM, then SIGKILL).

Principals (all ``@TEST.LOCAL``; preauth is required by default, as against AD):

* users with passwords (:data:`PASSWORDS`): ``alice`` (ASCII), ``bob`` (non-ASCII password),
  ``jürgen`` (non-ASCII name and password), ``nopreauth`` (``-requires_preauth``: the KDC
  answers the first AS-REQ with an AS-REP, no PREAUTH_REQUIRED round), ``expired`` (password
  expired: KDC_ERR_KEY_EXPIRED, 23) and ``disabled`` (``-allow_tix``: KDC_ERR_CLIENT_REVOKED, 18);
* services with random keys and ``ok_as_delegate``: ``host/server.test.local`` and
  ``HTTP/server.test.local`` (every supported enctype);
* one service per enctype, :data:`ENCTYPE_SERVICES`: ``HTTP/e<N>.test.local`` holds only a key of
  enctype N, and its ``session_enctypes`` string attribute makes the KDC pick N for the session
  key too, so a test forces an enctype by its choice of target (``HTTP@e17.test.local``).

All the services are in :attr:`MitRealm.keytab` (``KRB5_KTNAME``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

REALM = "TEST.LOCAL"
DOMAIN = "test.local"
MASTER_PASSWORD = "opensspi-master-Key!"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
TOOL_TIMEOUT = 30.0
INSTALL_HINT = "apt-get install krb5-kdc krb5-admin-server krb5-user  (or: setup.sh --peers)"

#: Password users: principal (without realm) -> password. No whitespace or quotes in passwords:
#: kadmin's command line splits on them.
PASSWORDS: Mapping[str, str] = {
    "alice": "Al1ce-Passw0rd!",
    "bob": "B\u00f6b-P\u00e4ssw\u00f6rd\u20ac1",
    "j\u00fcrgen": "P\u00e4ssw\u00f6rd\u20ac1",
    "nopreauth": "N0-Preauth!",
    "expired": "Exp1red-Passw0rd!",
    "disabled": "D1sabled-Passw0rd!",
}
#: Extra kadmin options for some of the users above.
USER_OPTIONS: Mapping[str, str] = {
    "nopreauth": "-requires_preauth",
    "expired": "-pwexpire yesterday",
    "disabled": "-allow_tix",
}
#: Services with every supported enctype (random keys, ok_as_delegate).
SERVICES: tuple[str, ...] = (f"host/server.{DOMAIN}", f"HTTP/server.{DOMAIN}")
#: RFC 3961 enctype number -> MIT name.
ENCTYPES: Mapping[int, str] = {
    17: "aes128-cts-hmac-sha1-96",
    18: "aes256-cts-hmac-sha1-96",
    19: "aes128-cts-hmac-sha256-128",
    20: "aes256-cts-hmac-sha384-192",
    23: "arcfour-hmac",
}
#: enctype number -> service principal holding only a key of that enctype.
ENCTYPE_SERVICES: Mapping[int, str] = {n: f"HTTP/e{n}.{DOMAIN}" for n in ENCTYPES}

KDC_BIN = "krb5kdc"
KDB5_UTIL = "kdb5_util"
KADMIN_LOCAL = "kadmin.local"
KINIT = "kinit"

# kadmin.local chatter on stderr that is not an error.
_BENIGN_KADMIN = (
    "No policy specified for",
    "Authenticating as principal",
    "WARNING: no policy specified",
)


class KdcStartError(RuntimeError):
    """A KDC (or a tool preparing its realm) failed; the message carries the log tail."""


class KinitError(RuntimeError):
    """``kinit`` failed. ``returncode``, ``stderr``; ``kdc_error`` is the KDC error text seen."""

    def __init__(self, principal: str, returncode: int, stderr: str) -> None:
        super().__init__(f"kinit {principal} failed (exit {returncode}): {stderr.strip()}")
        self.principal = principal
        self.returncode = returncode
        self.stderr = stderr


# --------------------------------------------------------------------------- process helpers
# (shared with heimdal_kdc.py)


def free_udp_tcp_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago for both UDP and TCP (a KDC wants both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise OSError("no free UDP+TCP port pair on 127.0.0.1")


def tcp_accepts(port: int, host: str = "127.0.0.1") -> bool:
    """True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, limit: int = 4000) -> str:
    """The last ``limit`` characters of a text file, or a note that it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError as exc:
        return f"<{path} unreadable: {exc}>"


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the test process dies (``PR_SET_PDEATHSIG``).

    Teardown stops the KDC properly; this only covers a killed pytest, so that no KDC is left.
    """
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def stop_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM ``proc`` (started with ``start_new_session=True``: its group too); SIGKILL after
    ``timeout``. Only our own child's group is signalled."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)


def run_tool(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    timeout: float = TOOL_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command-line tool with ``env`` (merged over os.environ); raise on failure."""
    proc = subprocess.run(
        list(argv),
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise KdcStartError(
            f"{' '.join(argv)} failed (exit {proc.returncode}):\n"
            f"{proc.stdout.decode(errors='replace')}{proc.stderr.decode(errors='replace')}"
        )
    return proc


def have_mit_kdc() -> bool:
    """Whether the MIT KDC and its tools (and kinit) are on PATH."""
    return all(shutil.which(t) for t in (KDC_BIN, KDB5_UTIL, KADMIN_LOCAL, KINIT))


def full_principal(principal: str, realm: str) -> str:
    """``principal`` with ``@realm`` appended unless it already names a realm."""
    return principal if "@" in principal else f"{principal}@{realm}"


def kinit(
    principal: str,
    password: str,
    ccache: Path,
    env: Mapping[str, str],
    *,
    args: Sequence[str] = (),
    timeout: float = TOOL_TIMEOUT,
) -> Path:
    """Run MIT ``kinit`` (password on stdin, UTF-8) into the FILE ccache ``ccache``."""
    proc = subprocess.run(
        [KINIT, *args, "-c", f"FILE:{ccache}", principal],
        input=password.encode("utf-8") + b"\n",
        capture_output=True,
        env={**os.environ, **env},
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise KinitError(principal, proc.returncode, proc.stderr.decode(errors="replace"))
    return ccache


# --------------------------------------------------------------------------- the realm


_R = TypeVar("_R", bound="RealmProcess")


class RealmProcess:
    """What every throwaway realm shares: start its KDC on a free port (a new port if another
    process took ours meanwhile), wait until it answers, stop it, remove its directory.

    Subclasses set ``directory``, ``proc``, ``timings``, ``_realm``, ``_port`` and ``_own_dir``,
    may override ``log_path``, and implement :meth:`_prepare` and :meth:`_kdc_command`.
    """

    KDC_NAME = "kdc"
    directory: Path
    proc: subprocess.Popen[bytes] | None
    timings: dict[str, float]
    _realm: str
    _port: int
    _own_dir: bool
    _passwords: dict[str, str]

    @property
    def realm(self) -> str:
        return self._realm

    @property
    def kdc_port(self) -> int:
        return self._port

    @property
    def krb5_conf(self) -> Path:
        return self.directory / "krb5.conf"

    @property
    def keytab(self) -> Path:
        """The keytab holding every service's keys."""
        return self.directory / "service.keytab"

    @property
    def default_ccache(self) -> Path:
        return self.directory / "ccache"

    @property
    def passwords(self) -> dict[str, str]:
        """Principal (without realm) -> password."""
        return dict(self._passwords)

    @property
    def log_path(self) -> Path:
        """Where the KDC logs (its configuration says so)."""
        return self.directory / "kdc.log"

    def _prepare(self, t0: float) -> None:
        """Create the realm on the first start (recording ``timings["create"]``), otherwise
        rewrite the configuration files for the new port."""
        raise NotImplementedError

    def _kdc_command(self) -> tuple[list[str], dict[str, str]]:
        """The KDC's argv, and the environment it needs beyond ``os.environ``."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self: _R, timeout: float = START_TIMEOUT) -> _R:
        """Create the realm (first call only) and start the KDC; wait until it answers."""
        if self.running:
            return self
        t0 = time.monotonic()
        last_error = ""
        for _attempt in range(3):  # a new port if another process took ours meanwhile
            self._port = free_udp_tcp_port()
            self._prepare(t0)
            argv, env = self._kdc_command()
            t1 = time.monotonic()
            out = (self.directory / "kdc.stdout").open("wb")
            try:
                self.proc = subprocess.Popen(
                    argv,
                    cwd=self.directory,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **env},
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            finally:
                out.close()
            deadline = t1 + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if tcp_accepts(self._port):
                    self.timings["start"] = time.monotonic() - t1
                    return self
                time.sleep(0.01)
            last_error = (
                f"{self.KDC_NAME} exit={self.proc.poll()} port={self._port}\n"
                f"--- stdout ---\n{tail(self.directory / 'kdc.stdout')}\n"
                f"--- kdc.log ---\n{tail(self.log_path)}"
            )
            stop_process(self.proc)
            self.proc = None
            if time.monotonic() >= deadline or "in use" not in last_error:
                break
        raise KdcStartError(f"{self.KDC_NAME} did not start within {timeout} s:\n{last_error}")

    def stop(self) -> None:
        """Stop the KDC (the realm's files stay)."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def close(self) -> None:
        """Stop the KDC and remove the directory if this object created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def log_text(self) -> str:
        """The KDC log so far (for assertion messages)."""
        return tail(self.log_path, 20000)

    def __enter__(self: _R) -> _R:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._realm} port={self._port} running={self.running}>"


def file_name(path: Path | str) -> str:
    """A ccache or keytab name: the path with ``FILE:`` unless it already names a type."""
    text = str(path)
    return text if ":" in text.split("/")[0] else f"FILE:{text}"


class MitRealm(RealmProcess):
    """A private MIT realm with a running ``krb5kdc``; a context manager.

    ``MitRealm(directory=None).start()`` -> the realm. Attributes and properties: ``realm``,
    ``kdc_port``, ``directory``, ``krb5_conf``, ``kdc_conf``, ``keytab`` (all services),
    ``passwords`` (principal -> password, the principals without realm), ``log_path``,
    ``timings`` (seconds: ``create`` = files + database + principals + keytab, ``start`` = KDC
    until the port answers).
    """

    KDC_NAME = "MIT krb5kdc"

    def __init__(
        self,
        directory: Path | None = None,
        realm: str = REALM,
        *,
        extra_libdefaults: Mapping[str, str] | None = None,
    ) -> None:
        self._own_dir = directory is None
        self.directory = Path(
            tempfile.mkdtemp(prefix="opensspi-mit-realm-") if directory is None else directory
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "rcache").mkdir(exist_ok=True)  # KRB5RCACHEDIR of env()
        self._realm = realm
        self._domain = DOMAIN if realm == REALM else realm.lower()
        self._port = 0
        self._passwords: dict[str, str] = {}
        self._extra_libdefaults = dict(extra_libdefaults or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}
        self._ccache_counter = 0

    # ---------------------------------------------------------------- properties
    @property
    def kdc_conf(self) -> Path:
        return self.directory / "kdc.conf"

    @property
    def services(self) -> tuple[str, ...]:
        """Every service principal (no realm) in :attr:`keytab`."""
        return (*SERVICES, *ENCTYPE_SERVICES.values())

    def principal(self, name: str) -> str:
        """``name@REALM`` (unchanged if it already has a realm)."""
        return full_principal(name, self._realm)

    # ---------------------------------------------------------------- environment
    def env(
        self, ccache: Path | str | None = None, keytab: Path | str | None = None
    ) -> dict[str, str]:
        """Variables that point MIT tools and libraries at this realm: ``KRB5_CONFIG``,
        ``KRB5_KDC_PROFILE``, ``KRB5CCNAME``, ``KRB5_KTNAME``, ``KRB5_CLIENT_KTNAME``,
        ``KRB5RCACHEDIR``. ``ccache`` and ``keytab`` default to :attr:`default_ccache` and
        :attr:`keytab`."""
        return {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.kdc_conf),
            "KRB5CCNAME": file_name(ccache if ccache is not None else self.default_ccache),
            "KRB5_KTNAME": file_name(keytab if keytab is not None else self.keytab),
            "KRB5_CLIENT_KTNAME": file_name(self.directory / "client.keytab"),
            "KRB5RCACHEDIR": str(self.directory / "rcache"),
        }

    # ---------------------------------------------------------------- files
    def write_krb5_conf(self, path: Path | None = None, **libdefaults: str | int | bool) -> Path:
        """Write a client ``krb5.conf`` for this realm; keyword arguments add or override
        ``[libdefaults]`` (e.g. ``udp_preference_limit=1`` to force TCP,
        ``default_tgs_enctypes="arcfour-hmac"``). Returns the path (default :attr:`krb5_conf`)."""
        values: dict[str, str] = {
            "default_realm": self._realm,
            "dns_lookup_kdc": "false",
            "dns_lookup_realm": "false",
            "dns_canonicalize_hostname": "false",
            "rdns": "false",
            "forwardable": "true",
            "ticket_lifetime": "10h",
            # MIT >= 1.20 refuses rc4 session keys unless allowed; the KDC reads this file too.
            "allow_rc4": "true",
            "default_ccache_name": file_name(self.default_ccache),
            "default_keytab_name": file_name(self.keytab),
            "default_client_keytab_name": file_name(self.directory / "client.keytab"),
            **self._extra_libdefaults,
        }
        for key, value in libdefaults.items():
            values[key] = str(value).lower() if isinstance(value, bool) else str(value)
        body = "".join(f"    {k} = {v}\n" for k, v in values.items())
        text = (
            f"[libdefaults]\n{body}"
            f"[realms]\n    {self._realm} = {{\n"
            f"        kdc = 127.0.0.1:{self._port}\n"
            f"    }}\n"
            f"[domain_realm]\n"
            f"    .{self._domain} = {self._realm}\n"
            f"    {self._domain} = {self._realm}\n"
            f"[logging]\n"
            f"    default = FILE:{self.directory / 'krb5lib.log'}\n"
        )
        target = path or self.krb5_conf
        target.write_text(text, encoding="utf-8")
        return target

    def krb5_conf_for_enctype(self, enctype: int | str) -> Path:
        """A client ``krb5.conf`` whose ``default_tkt_enctypes`` and ``default_tgs_enctypes``
        are just ``enctype`` (number or MIT name), written once; kinit with it too (MIT will
        not use a TGT whose session key is not in the TGS list).

        With the ticket's session key, this also pins the GSS context key: MIT's initiator
        lists its TGS enctypes in the authenticator (RFC 4537), and MIT's acceptor makes its
        subkey the strongest of them (aes256-sha1 with the default list, whatever the
        ticket's enctype)."""
        name = ENCTYPES[enctype] if isinstance(enctype, int) else enctype
        path = self.directory / f"krb5-{name}.conf"
        if not path.exists():
            self.write_krb5_conf(path, default_tkt_enctypes=name, default_tgs_enctypes=name)
        return path

    def _write_kdc_conf(self) -> None:
        enctypes = " ".join(f"{ENCTYPES[n]}:normal" for n in (18, 17, 20, 19, 23))
        d = self.directory
        self.kdc_conf.write_text(
            "[kdcdefaults]\n"
            f"    kdc_listen = 127.0.0.1:{self._port}\n"
            f"    kdc_tcp_listen = 127.0.0.1:{self._port}\n"
            "[realms]\n"
            f"    {self._realm} = {{\n"
            f"        database_name = {d / 'principal'}\n"
            f"        key_stash_file = {d / 'stash'}\n"
            f"        acl_file = {d / 'kadm5.acl'}\n"
            f"        dict_file = {d / 'no-dict'}\n"
            "        max_life = 10h\n"
            "        max_renewable_life = 7d\n"
            "        master_key_type = aes256-cts-hmac-sha1-96\n"
            "        default_principal_flags = +preauth\n"
            f"        supported_enctypes = {enctypes}\n"
            "    }\n"
            "[logging]\n"
            f"    kdc = FILE:{self.log_path}\n"
            f"    admin_server = FILE:{d / 'kadmin.log'}\n"
            f"    default = FILE:{d / 'kdc-default.log'}\n",
            encoding="utf-8",
        )
        (d / "kadm5.acl").write_text("", encoding="utf-8")
        (d / "no-dict").write_text("", encoding="utf-8")

    # ---------------------------------------------------------------- admin
    def kadmin(self, *commands: str) -> str:
        """Run ``kadmin.local`` commands in one batch (stdin); raise if any of them complains.
        Returns stdout (the echoed prompts and the commands' output)."""
        script = "".join(c + "\n" for c in commands).encode("utf-8")
        proc = run_tool([KADMIN_LOCAL, "-r", self._realm], self._admin_env(), stdin=script)
        errors = [
            line
            for line in proc.stderr.decode("utf-8", errors="replace").splitlines()
            if line.strip() and not line.startswith(_BENIGN_KADMIN)
        ]
        if errors:
            raise KdcStartError("kadmin.local complained:\n" + "\n".join(errors))
        return proc.stdout.decode("utf-8", errors="replace")

    def _admin_env(self) -> dict[str, str]:
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf)}

    def add_principal_commands(
        self,
        name: str,
        password: str | None = None,
        *,
        options: str = "",
        enctypes: Iterable[str] = (),
        session_enctypes: Iterable[str] = (),
    ) -> list[str]:
        """The kadmin commands :meth:`add_principal` runs (for batching)."""
        if password is not None:
            if any(c.isspace() or c in "\"'\\" for c in password):
                raise ValueError("kadmin cannot take a password with whitespace or quotes")
            self._passwords[name] = password
            key = f"-pw {password}"
        else:
            key = "-randkey"
        etypes = " ".join(f"{e}:normal" for e in enctypes)
        cmds = [
            " ".join(
                filter(None, ("addprinc", key, f"-e {etypes}" if etypes else "", options, name))
            )
        ]
        sess = ",".join(session_enctypes)
        if sess:
            cmds.append(f"setstr {name} session_enctypes {sess}")
        return cmds

    def add_principal(
        self,
        name: str,
        password: str | None = None,
        *,
        options: str = "",
        enctypes: Iterable[str] = (),
        session_enctypes: Iterable[str] = (),
        keytab: Path | None = None,
    ) -> str:
        """Add ``name`` (a password principal if ``password``, else ``-randkey``).

        ``options``: extra ``addprinc`` options (``"+ok_as_delegate"``, ``"-requires_preauth"``);
        ``enctypes``: restrict its keys (MIT names); ``session_enctypes``: the KDC's choice of
        session key for tickets to it; ``keytab``: also export its keys there. Works while the KDC
        runs. Returns ``name@REALM``."""
        self.kadmin(
            *self.add_principal_commands(
                name,
                password,
                options=options,
                enctypes=enctypes,
                session_enctypes=session_enctypes,
            )
        )
        if keytab is not None:
            self.keytab_for(name, path=keytab)
        return self.principal(name)

    def keytab_for(self, *principals: str, path: Path | None = None) -> Path:
        """Export the *current* keys (``ktadd -norandkey``: existing keytabs stay valid) of
        ``principals`` to ``path`` (default: a new file in the realm directory). Works for
        password principals too (a client keytab)."""
        if not principals:
            raise ValueError("keytab_for needs at least one principal")
        if path is None:
            stem = "-".join(p.replace("/", "_").split("@")[0] for p in principals)[:80]
            path = self.directory / f"{stem}.keytab"
        self.kadmin(f"ktadd -k {path} -norandkey {' '.join(principals)}")
        return path

    def kvno(self, principal: str) -> int:
        """The key version number of ``principal`` in the database."""
        out = self.kadmin(f"getprinc {principal}")
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("Key: vno "):
                return int(line.split()[2].rstrip(","))
        raise KdcStartError(f"no key version for {principal} in:\n{out}")

    def service_ticket(self, service: str, ccache: Path, *, enctype: str | None = None) -> str:
        """Run MIT ``kvno`` (a TGS-REQ) for ``service`` with the TGT in ``ccache``; return its
        output (``service@REALM: kvno = N``). Raises :class:`KdcStartError` on failure."""
        args = ["kvno", *(["-e", enctype] if enctype else []), service]
        proc = run_tool(args, self.env(ccache=ccache))
        return proc.stdout.decode("utf-8", errors="replace").strip()

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
        """MIT ``kinit`` for ``principal`` (password from :attr:`passwords` by default) into
        ``ccache`` (default: a new file in the realm directory). Returns the ccache path;
        raises :class:`KinitError` on failure. ``krb5_conf`` swaps the client configuration
        (see :meth:`write_krb5_conf`)."""
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
    def _create(self) -> None:
        self.write_krb5_conf()
        self._write_kdc_conf()
        run_tool(
            [KDB5_UTIL, "-r", self._realm, "-P", MASTER_PASSWORD, "create", "-s"],
            self._admin_env(),
        )
        cmds: list[str] = []
        for user, password in PASSWORDS.items():
            cmds += self.add_principal_commands(user, password, options=USER_OPTIONS.get(user, ""))
        for svc in SERVICES:
            cmds += self.add_principal_commands(svc, options="+ok_as_delegate")
        for number, svc in ENCTYPE_SERVICES.items():
            name = ENCTYPES[number]
            cmds += self.add_principal_commands(
                svc, options="+ok_as_delegate", enctypes=[name], session_enctypes=[name]
            )
        cmds.append(f"ktadd -k {self.keytab} -norandkey {' '.join(self.services)}")
        self.kadmin(*cmds)

    def _prepare(self, t0: float) -> None:
        if not (self.directory / "principal").exists():
            self._create()
            self.timings["create"] = time.monotonic() - t0
        else:
            self.write_krb5_conf()
            self._write_kdc_conf()

    def _kdc_command(self) -> tuple[list[str], dict[str, str]]:
        argv = [KDC_BIN, "-n", "-r", self._realm, "-P", str(self.directory / "kdc.pid")]
        return argv, self._admin_env()
