"""Apache httpd (mod_auth_digest) as a real HTTP Digest peer on 127.0.0.1.

The server runs from its own ServerRoot in a temporary directory with a minimal
httpd.conf written here; the Debian configuration in /etc/apache2 is never read.
It runs in the foreground (``-DFOREGROUND``) as a child of the test process and is
stopped when the peer is stopped (context manager or :meth:`ApacheDigestPeer.stop`).

What Apache 2.4 mod_auth_digest supports (checked on Debian 12, Apache 2.4.x):

* ``AuthDigestAlgorithm MD5`` only; ``MD5-sess`` is rejected at config time.
* ``AuthDigestQop auth`` only; ``auth-int`` and ``none`` are rejected.
* On success it sends ``Authentication-Info: rspauth=..., cnonce=..., nc=..., qop=auth``.

This module also holds the small process helpers shared by the lighttpd peer.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

APACHE_BIN = "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
APACHE_APT = "apt-get install -y apache2"

REALM = "opensspi-test"
#: Users known to every HTTP Digest peer: name -> password.  The second one is
#: non-ASCII (sent and hashed as UTF-8).
USERS: Mapping[str, str] = {
    "alice": "Passw0rd!",
    "j\u00fcrgen": "P\u00e4ssw\u00f6rd-\u00df",
}

#: Body of the file served under every protected location.
PROTECTED_BODY = b"opensspi digest test: access granted\n"

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class PeerStartError(RuntimeError):
    """A peer process did not come up; the message carries its log tail."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    """True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, limit: int = 4000) -> str:
    """The last ``limit`` characters of a log file, or a note that it is missing."""
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError as exc:
        return f"<{path} unreadable: {exc}>"


def stop_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop a child started with ``start_new_session=True`` and its process group.

    SIGTERM to the group first, SIGKILL after ``timeout``.  Only the group led by
    our own child is signalled (its pgid is the child's pid).
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    # Workers that outlived the leader (same process group) get SIGKILL too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the server if the test process dies (Linux PR_SET_PDEATHSIG).

    Teardown stops the server normally; this only covers a killed pytest (e.g. a CI
    timeout), so that no daemon is left behind.
    """
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def htdigest_line(user: str, realm: str, password: str, algorithm: str = "md5") -> str:
    """One htdigest line ``user:realm:H(user:realm:password)`` (UTF-8 throughout).

    This is what ``htdigest`` writes for MD5; it only reads passwords from a tty, so
    the file is produced here instead.
    """
    ha1 = hashlib.new(algorithm, f"{user}:{realm}:{password}".encode()).hexdigest()
    return f"{user}:{realm}:{ha1}"


def make_world_readable(root: Path) -> None:
    """chmod a+rX below ``root``: Apache children run as ``nobody`` when started as root."""
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)


class ServerPeer:
    """A foreground server process listening on 127.0.0.1:port, in its own temp dir."""

    name = "server"

    def __init__(self, workdir: Path | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(
            tempfile.mkdtemp(prefix=f"opensspi-{self.name}-") if workdir is None else workdir
        )
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    # subclass hooks ----------------------------------------------------------
    def _prepare(self) -> None:
        """Write configuration and content for ``self.port``."""
        raise NotImplementedError

    def _command(self) -> Sequence[str]:
        raise NotImplementedError

    def _log_path(self) -> Path:
        raise NotImplementedError

    # public API --------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL for ``path`` (which starts with ``/``)."""
        return self.base_url + path

    def start(self, timeout: float = START_TIMEOUT) -> ServerPeer:
        """Start the server and wait (at most ``timeout`` s) until the port accepts."""
        t0 = time.monotonic()
        last_error = ""
        for _attempt in range(3):  # a new port if someone grabbed ours meanwhile
            self.port = free_port()
            self._prepare()
            out = (self.workdir / "stdout.log").open("wb")
            try:
                self.proc = subprocess.Popen(
                    list(self._command()),
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            finally:
                out.close()
            deadline = t0 + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_accepts(self.port):
                    self.startup_seconds = time.monotonic() - t0
                    return self
                time.sleep(0.02)
            last_error = (
                f"{self.name} exit={self.proc.poll()} port={self.port}\n"
                f"--- stdout/stderr ---\n{tail(self.workdir / 'stdout.log')}\n"
                f"--- log ---\n{tail(self._log_path())}"
            )
            stop_process(self.proc)
            self.proc = None
            if time.monotonic() >= deadline or "in use" not in last_error:
                break
        raise PeerStartError(f"{self.name} did not start within {timeout} s:\n{last_error}")

    def stop(self) -> None:
        """Stop the server; remove the temp dir if this object created it."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self) -> str:
        """The server's error log so far (useful in assertion messages)."""
        return tail(self._log_path(), 20000)

    def __enter__(self) -> ServerPeer:
        return self.start() if self.proc is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- Apache

#: Location -> (description). Every location serves ``index.html`` = PROTECTED_BODY.
APACHE_LOCATIONS: Mapping[str, str] = {
    "/protected/": "MD5, qop=auth, default nonce lifetime (300 s)",
    "/nccheck/": "as /protected/ plus AuthDigestNcCheck On (replayed nc -> 401)",
    "/shortnonce/": "as /protected/ with AuthDigestNonceLifetime 2 (then 401 stale=true)",
}

_APACHE_MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authn_file_module", "mod_authn_file.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_user_module", "mod_authz_user.so"),
    ("auth_digest_module", "mod_auth_digest.so"),
    ("dir_module", "mod_dir.so"),
)


class ApacheDigestPeer(ServerPeer):
    """Apache httpd with mod_auth_digest, realm ``opensspi-test``.

    Locations (all MD5 / qop=auth; see :data:`APACHE_LOCATIONS`): ``/protected/``,
    ``/nccheck/``, ``/shortnonce/``; each serves ``index.html`` with
    :data:`PROTECTED_BODY`.  ``/`` itself is public.
    """

    name = "apache"
    realm = REALM
    users = USERS
    locations = APACHE_LOCATIONS
    body = PROTECTED_BODY

    def _log_path(self) -> Path:
        return self.workdir / "logs" / "error.log"

    @property
    def conf_path(self) -> Path:
        return self.workdir / "httpd.conf"

    def _prepare(self) -> None:
        d = self.workdir
        for sub in ("logs", "run", "htdocs"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "htdocs" / "index.html").write_bytes(b"public\n")
        for loc in self.locations:
            (d / "htdocs" / loc.strip("/")).mkdir(exist_ok=True)
            (d / "htdocs" / loc.strip("/") / "index.html").write_bytes(self.body)
        lines = [htdigest_line(u, self.realm, p) for u, p in self.users.items()]
        (d / "htdigest").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.conf_path.write_text(self._config(), encoding="utf-8")
        make_world_readable(d)

    def _config(self) -> str:
        d = self.workdir
        loads = "\n".join(
            f"LoadModule {name} {APACHE_MODULES / so}" for name, so in _APACHE_MODULES
        )
        user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""

        def loc(path: str, extra: str = "") -> str:
            return f"""
<Location {path}>
  AuthType Digest
  AuthName "{self.realm}"
  AuthDigestDomain {path}
  AuthDigestProvider file
  AuthUserFile "{d}/htdigest"
  AuthDigestAlgorithm MD5
  AuthDigestQop auth
{extra}  Require valid-user
</Location>
"""

        protected = loc("/protected/")
        nccheck = loc("/nccheck/", "  AuthDigestNcCheck On\n")
        shortnonce = loc("/shortnonce/", "  AuthDigestNonceLifetime 2\n")
        return f"""# generated by opensspi tests/interop/peers/apache.py
ServerRoot "{d}"
DefaultRuntimeDir "{d}/run"
PidFile "{d}/run/httpd.pid"
Mutex file:{d}/run default
Listen 127.0.0.1:{self.port}
ServerName 127.0.0.1
{loads}
{user}ErrorLog "{d}/logs/error.log"
LogLevel warn auth_digest:debug
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MinSpareThreads 1
MaxSpareThreads 16
MaxRequestWorkers 16
KeepAlive On
DocumentRoot "{d}/htdocs"
DirectoryIndex index.html
<Directory "{d}/htdocs">
  Require all granted
</Directory>
AuthDigestShmemSize 65536
{protected}
{nccheck}
{shortnonce}
"""

    def _command(self) -> Sequence[str]:
        return [APACHE_BIN, "-f", str(self.conf_path), "-DFOREGROUND"]

    def start(self, timeout: float = START_TIMEOUT) -> ApacheDigestPeer:
        super().start(timeout)
        return self
