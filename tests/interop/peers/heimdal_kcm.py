"""Heimdal's ``kcm`` credential cache daemon on a private socket, for the KCM real-peer tests.

The binary comes from the ``heimdal-kcm`` .deb that ``scripts/setup.sh --peers`` unpacks into
``.peers/heimdal`` with the rest of Heimdal (it conflicts with nothing, but its libraries are
Heimdal's). This build ignores ``--socket-path`` and always listens on
``/var/run/.heim_org.h5l.kcm-socket``, a path every process on the machine shares; so the daemon
runs in a mount namespace of its own (``unshare --mount``, which needs root or CAP_SYS_ADMIN)
where the run directory is a bind mount of a directory under the test's ``tmp_path``. The socket
it creates there is reachable from outside the namespace at ``<directory>/.heim_org.h5l.kcm-
socket``, which the tests put in krb5.conf as ``kcm_socket``.

The daemon runs in the foreground as a child of the test process (``PR_SET_PDEATHSIG``) and is
stopped with SIGTERM by :meth:`HeimdalKcm.close`.
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

__all__ = ["INSTALL_HINT", "SOCKET_NAME", "HeimdalKcm", "find_kcm", "kcm_usable"]

SOCKET_NAME = ".heim_org.h5l.kcm-socket"
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
    if shutil.which("unshare") is None:
        return False, "unshare (util-linux), to give kcm a private run directory"
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


class HeimdalKcm:
    """A running Heimdal ``kcm`` whose socket is :attr:`socket_path`; a context manager."""

    def __init__(self, directory: Path) -> None:
        found = find_kcm()
        if found is None:
            raise FileNotFoundError("Heimdal kcm not found; " + INSTALL_HINT)
        self.binary, self.lib_dir = found
        self.directory = directory
        self.run_dir = directory / "run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.run_dir / SOCKET_NAME

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                sock.connect(str(self.socket_path))
                return True
        except OSError:
            return False

    def start(self) -> HeimdalKcm:
        run_target = os.path.realpath("/var/run")
        script = f'mount --bind "$1" "{run_target}" && exec "$2"'
        log = (self.directory / "kcm.log").open("wb")
        try:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "kcm",
                 str(self.run_dir), str(self.binary)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **_env(self.lib_dir)},
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
            f"kcm did not start (exit {exit_code}):\n{tail(self.directory / 'kcm.log')}"
        )

    def close(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def __enter__(self) -> HeimdalKcm:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
