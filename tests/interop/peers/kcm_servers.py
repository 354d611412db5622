"""KCM servers on a private socket for the KCM real-peer tests: Heimdal's ``kcm`` and SSSD's
``sssd_kcm``.

Heimdal's binary comes from the ``heimdal-kcm`` .deb that ``scripts/setup.sh --peers`` unpacks into
``.peers/heimdal`` with the rest of Heimdal (it conflicts with nothing, but its libraries are
Heimdal's). This build ignores ``--socket-path`` and always listens on
``/var/run/.heim_org.h5l.kcm-socket``, a path every process on the machine shares; so the daemon
runs in a mount namespace of its own (``unshare --mount``, which needs root or CAP_SYS_ADMIN)
where the run directory is a bind mount of a directory of the test's own. The socket it creates
there is reachable from outside the namespace at ``<directory>/run/.heim_org.h5l.kcm-socket``,
which the tests put in krb5.conf as ``kcm_socket``.

``sssd_kcm`` (Debian ``sssd-kcm``) is normally started by systemd socket activation; without a
socket handed over it binds the same default path itself, so it runs the same way, with its
configuration database and secrets store also bind-mounted from the test's directory.

Each daemon runs in the foreground as a child of the test process (``PR_SET_PDEATHSIG``) and is
stopped with SIGTERM by :meth:`KcmDaemon.close`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from interop.peers.heimdal_kdc import DEFAULT_ROOT, INSTALL_HINT
from interop.peers.mit_kdc import die_with_parent, stop_process, tail

__all__ = [
    "INSTALL_HINT",
    "SOCKET_NAME",
    "SSSD_HINT",
    "HeimdalKcm",
    "KcmDaemon",
    "SssdKcm",
    "find_kcm",
    "kcm_usable",
    "sssd_kcm_usable",
]

SOCKET_NAME = ".heim_org.h5l.kcm-socket"
SSSD_KCM = "/usr/libexec/sssd/sssd_kcm"
SSSD_DB = "/var/lib/sss/db"
SSSD_SECRETS = "/var/lib/sss/secrets"
SSSD_HINT = "apt-get install sssd-kcm  (or: setup.sh --peers)"
START_TIMEOUT = 10.0


def find_kcm(root: Path | None = None) -> tuple[Path, Path | None] | None:
    """``(kcm binary, its library directory or None)`` under ``root`` (default
    ``$OPENSSPI_HEIMDAL_ROOT`` or ``.peers/heimdal``), else a system-wide ``heimdal-kcm``."""
    bases = [root] if root is not None else [
        *([Path(os.environ["OPENSSPI_HEIMDAL_ROOT"])] if os.environ.get("OPENSSPI_HEIMDAL_ROOT")
          else []),
        DEFAULT_ROOT,
        Path("/"),
    ]
    for base in bases:
        binary = base / "usr/sbin/kcm"
        if os.access(binary, os.X_OK):
            libs = sorted((base / "usr/lib").glob("*-linux-gnu/libkrb5.so.26*"))
            return binary, (libs[0].parent if libs and base != Path("/") else None)
    return None


def _env(lib_dir: Path | None) -> dict[str, str]:
    return {"LD_LIBRARY_PATH": str(lib_dir)} if lib_dir is not None else {}


def kcm_usable() -> tuple[bool, str]:
    """Whether Heimdal's kcm is there and a private mount namespace can be made; and why not."""
    found = find_kcm()
    if found is None:
        return False, "Heimdal kcm (heimdal-kcm, unpacked into .peers/heimdal/)"
    return _namespace_usable()


def _namespace_usable() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "root, to run a KCM server in a private mount namespace"
    if shutil.which("unshare") is None:
        return False, "unshare (util-linux), to give the KCM server a private run directory"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True, timeout=10, check=False,
    )
    if probe.returncode != 0:
        return False, (
            "a private mount namespace for kcm (unshare --mount failed: "
            f"{probe.stderr.decode(errors='replace').strip()}; needs root or CAP_SYS_ADMIN)"
        )
    return True, ""


class KcmDaemon:
    """A running KCM server whose socket is :attr:`socket_path`; a context manager.

    The daemon runs in a private mount namespace where the run directory (and whatever else
    :meth:`_mounts` lists) is a bind mount of a directory under ``directory``.
    """

    NAME = "kcm"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.run_dir = directory / "run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.run_dir / SOCKET_NAME

    def _mounts(self) -> list[tuple[Path, str]]:
        """(our directory, the path it hides inside the namespace)."""
        return [(self.run_dir, os.path.realpath("/var/run"))]

    def _command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                sock.connect(str(self.socket_path))
                return True
        except OSError:
            return False

    def start(self) -> KcmDaemon:
        argv, env = self._command()
        mounts = self._mounts()
        binds = " && ".join(
            f'mount --bind "${i + 1}" "{target}"' for i, (_src, target) in enumerate(mounts)
        )
        script = f'{binds} && shift {len(mounts)} && exec "$@"'
        log = (self.directory / f"{self.NAME}.log").open("wb")
        try:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                 self.NAME, *(str(src) for src, _ in mounts), *argv],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True, preexec_fn=die_with_parent,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self._answers():
                return self
            time.sleep(0.02)
        exit_code = self.proc.poll()
        self.close()
        raise RuntimeError(
            f"{self.NAME} did not start (exit {exit_code}):\n"
            f"{tail(self.directory / f'{self.NAME}.log')}"
        )

    def close(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def __enter__(self) -> KcmDaemon:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class HeimdalKcm(KcmDaemon):
    """Heimdal's ``kcm`` in the foreground (it ignores ``--socket-path``; see the module)."""

    NAME = "heimdal-kcm"

    def _command(self) -> tuple[list[str], dict[str, str]]:
        found = find_kcm()
        if found is None:
            raise FileNotFoundError("Heimdal kcm not found; " + INSTALL_HINT)
        binary, lib_dir = found
        return [str(binary)], _env(lib_dir)


class SssdKcm(KcmDaemon):
    """SSSD's ``sssd_kcm`` responder, run by hand as its systemd unit would (``--uid 0 --gid 0``)
    but without systemd: with no socket handed over it listens on the default KCM path itself.
    Its configuration database and its secrets store (``/var/lib/sss/db``,
    ``/var/lib/sss/secrets``) are private directories too, so no cache outlives the test."""

    NAME = "sssd-kcm"

    def _mounts(self) -> list[tuple[Path, str]]:
        mounts = super()._mounts()
        for sub, target in (("db", SSSD_DB), ("secrets", SSSD_SECRETS)):
            path = self.directory / sub
            path.mkdir(mode=0o700, exist_ok=True)
            mounts.append((path, target))
        return mounts

    def _command(self) -> tuple[list[str], dict[str, str]]:
        return [SSSD_KCM, "--uid", "0", "--gid", "0", "--logger=stderr"], {}


def sssd_kcm_usable() -> tuple[bool, str]:
    """Whether ``sssd_kcm`` is installed and can get a private mount namespace; and why not."""
    if not os.access(SSSD_KCM, os.X_OK):
        return False, f"sssd-kcm ({SSSD_KCM})"
    if not (os.path.isdir(SSSD_DB) and os.path.isdir(SSSD_SECRETS)):
        return False, f"sssd-kcm's state directories ({SSSD_DB}, {SSSD_SECRETS})"
    return _namespace_usable()
