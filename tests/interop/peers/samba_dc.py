"""A throwaway Samba Active Directory domain controller ``SAMDOM.TEST`` on 127.0.0.1.

:class:`SambaDc` provisions a domain with ``samba-tool domain provision`` into its own directory
(no DNS server, ``interfaces = lo``, everything under that directory), adds the accounts below
offline (straight into ``sam.ldb``), and runs ``samba -i`` in the foreground as a child of the
test process, in a process group of its own, so that :meth:`SambaDc.close` stops it and every
helper it spawned by that group. Samba cannot be moved off the well-known ports: 88 (KDC), 389
(LDAP), 445 (SMB) and their siblings must be free, so :func:`ports_in_use` is checked first.

The DC's SPNs are built from its host name, so ``dc1.samdom.test`` must resolve: the fixture
appends one line to ``/etc/hosts`` and removes exactly that line when it stops (writing
/etc/hosts needs root, as do the ports).

Accounts (passwords in :data:`PASSWORDS`):

* ``alice``: a user, member of "Domain Users" (primary group) and of :data:`GROUP`;
* ``svc``: a service account holding ``HTTP/web.samdom.test`` with
  ``msDS-SupportedEncryptionTypes = 24`` (AES; without it AD issues rc4 tickets to user accounts)
  and its keytab exported with ``samba-tool domain exportkeytab`` (:attr:`SambaDc.keytab`);
* ``legacy``: a service account holding ``HTTP/legacy.samdom.test`` as AD leaves it (no
  ``msDS-SupportedEncryptionTypes``): rc4-hmac tickets, keytab :attr:`SambaDc.rc4_keytab`;
* the DC's own ``ldap/dc1.samdom.test`` SPN, which the ``dnsupdate`` service would add (not run
  here); without it LDAP GSSAPI binds fail with "Server not found".

Measured on a 2-core VM: provisioning 4.5 s (13 s while other jobs loaded the machine),
accounts 3-4 s, start until 88/389/445 listen 2-5 s; the accounts are added by two
samba-tool batches run in one interpreter each (:meth:`SambaDc.samba_tool_batch`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from interop.peers.mit_kdc import die_with_parent, tail

REALM = "SAMDOM.TEST"
DNS_DOMAIN = "samdom.test"
NETBIOS_DOMAIN = "SAMDOM"
HOST = "dc1"
FQDN = f"{HOST}.{DNS_DOMAIN}"
BASE_DN = "DC=samdom,DC=test"
SERVICE_SPN = f"HTTP/web.{DNS_DOMAIN}"
#: A service account left as AD makes it: no msDS-SupportedEncryptionTypes, so its tickets
#: and keytab are rc4-hmac (and its PAC server signature HMAC-MD5).
RC4_SERVICE_SPN = f"HTTP/legacy.{DNS_DOMAIN}"
GROUP = "OpenSSPI Testers"
PASSWORDS: Mapping[str, str] = {
    "Administrator": "Adm1n-Passw0rd!",
    "alice": "Al1ce-Passw0rd!",
    "svc": "Svc0-Passw0rd!2",
    "legacy": "L3gacy-Passw0rd!",
}
#: The ports ``samba -i`` binds with the services started here (KDC, kpasswd, LDAP, LDAPS,
#: global catalog, endpoint mapper, SMB).
PORTS: tuple[int, ...] = (88, 464, 389, 636, 3268, 3269, 135, 139, 445)
WAIT_PORTS: tuple[int, ...] = (88, 389, 445)
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
TOOL_TIMEOUT = 120.0
HOSTS_FILE = Path("/etc/hosts")
HOSTS_LINE = f"127.0.0.1 {FQDN} {HOST}  # opensspi samba-dc fixture"
INSTALL_HINT = (
    "apt-get install samba-ad-dc samba-dsdb-modules winbind ldb-tools krb5-user ldap-utils  "
    "(or: setup.sh --peers); the fixture needs root and ports 88/389/445 free"
)


# Runs samba-tool commands (JSON list of argv lists on stdin) in one interpreter, each output
# after a marker line; stops at the first failure.
_BATCH = """
import json, sys
from samba.netcmd.main import cmd_sambatool
for index, argv in enumerate(json.load(sys.stdin)):
    sys.stdout.write(f"\\n@@opensspi-command {index}@@\\n")
    sys.stdout.flush()
    try:
        code = cmd_sambatool()._run("samba-tool", argv[0], *argv[1:])
    except SystemExit as exc:
        code = exc.code
    except Exception as exc:
        sys.stdout.write(f"{type(exc).__name__}: {exc}\\n")
        code = 1
    sys.stdout.flush()
    if code not in (0, None):
        sys.exit(1)
"""


class SambaError(RuntimeError):
    """Provisioning, a samba-tool call or the DC itself failed; the message has the log tail."""


def have_samba() -> bool:
    """Whether ``samba``, ``samba-tool`` and ``ldbmodify`` are installed."""
    return all(shutil.which(tool) for tool in ("samba", "samba-tool", "ldbmodify"))


def ports_in_use(ports: Sequence[int] = PORTS) -> list[int]:
    """The ports of :data:`PORTS` something already listens on (TCP) on 127.0.0.1."""
    busy = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    return busy


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class SambaDc:
    """One Samba AD DC: :meth:`provision`, then :meth:`start`; :meth:`close` undoes both."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}
        self.sids: dict[str, str] = {}
        self._hosts_added = False

    # -- paths and settings ---------------------------------------------------------------

    @property
    def smb_conf(self) -> Path:
        return self.directory / "etc" / "smb.conf"

    @property
    def sam_ldb(self) -> Path:
        return self.directory / "private" / "sam.ldb"

    @property
    def keytab(self) -> Path:
        """The keytab of :data:`SERVICE_SPN`, exported with ``samba-tool domain exportkeytab``."""
        return self.directory / "svc.keytab"

    @property
    def rc4_keytab(self) -> Path:
        """The (rc4-hmac) keytab of :data:`RC4_SERVICE_SPN`."""
        return self.directory / "legacy.keytab"

    @property
    def krb5_conf(self) -> Path:
        return self.directory / "krb5.conf"

    @property
    def realm(self) -> str:
        return REALM

    def krb5_conf_text(self, **libdefaults: object) -> str:
        """A krb5.conf for clients of this DC: KDC on 127.0.0.1 (TCP first: AD tickets with a
        PAC rarely fit UDP), no DNS, no reverse lookups."""
        extra = "".join(f"    {key} = {value}\n" for key, value in libdefaults.items())
        return (
            "[libdefaults]\n"
            f"    default_realm = {REALM}\n"
            "    dns_lookup_kdc = false\n"
            "    dns_lookup_realm = false\n"
            "    dns_canonicalize_hostname = false\n"
            "    rdns = false\n"
            "    udp_preference_limit = 1\n"
            "    kdc_timeout = 5\n"
            "    max_retries = 2\n"
            f"{extra}"
            "[realms]\n"
            f"    {REALM} = {{\n"
            "        kdc = 127.0.0.1\n"
            "    }\n"
            "[domain_realm]\n"
            f"    .{DNS_DOMAIN} = {REALM}\n"
            f"    {DNS_DOMAIN} = {REALM}\n"
        )

    def env(self) -> dict[str, str]:
        """Environment for MIT tools against this DC (kinit, klist)."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5CCNAME": f"FILE:{self.directory}/cc"}

    # -- tools ------------------------------------------------------------------------------

    def _run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            list(argv),
            input=stdin if stdin is not None else b"",
            capture_output=True,
            env={**os.environ, **self.env()},
            cwd=self.directory,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
        if check and proc.returncode != 0:
            raise SambaError(
                f"{' '.join(argv)} failed (exit {proc.returncode}):\n"
                f"{proc.stdout.decode(errors='replace')[-3000:]}"
                f"{proc.stderr.decode(errors='replace')[-3000:]}"
            )
        return proc

    def samba_tool(self, *args: str) -> str:
        """``samba-tool ARGS -s smb.conf`` (offline: it opens sam.ldb directly); its stdout."""
        out = self._run(["samba-tool", *args, "-s", str(self.smb_conf)]).stdout
        return out.decode("utf-8", errors="replace")

    def samba_tool_batch(self, commands: Sequence[Sequence[str]]) -> list[str]:
        """Several ``samba-tool`` commands in one interpreter (each process costs ~0.3 s of
        Python start-up); the stdout of each, in order.

        Runs samba-tool's own entry point (``cmd_sambatool()._run``) once per command with the
        interpreter samba-tool's ``#!`` line names, each with ``-s smb.conf`` appended.
        """
        tool = shutil.which("samba-tool")
        assert tool is not None
        first = Path(tool).read_bytes().split(b"\n", 1)[0].decode()
        python = first[2:].strip().split()[0] if first.startswith("#!") else "python3"
        argvs = [[*argv, "-s", str(self.smb_conf)] for argv in commands]
        proc = self._run([python, "-c", _BATCH], stdin=json.dumps(argvs).encode(), check=False)
        text = proc.stdout.decode("utf-8", errors="replace")
        parts = re.split(r"^@@opensspi-command \d+@@$", text, flags=re.MULTILINE)[1:]
        if proc.returncode != 0 or len(parts) != len(argvs):
            raise SambaError(
                f"samba-tool batch failed (exit {proc.returncode}) at command {len(parts)} of "
                f"{len(argvs)} ({argvs[max(len(parts) - 1, 0)][:3]}):\n{text[-3000:]}"
                f"{proc.stderr.decode(errors='replace')[-3000:]}"
            )
        return [part.strip("\n") for part in parts]

    def _ldbmodify(self, ldif: str) -> None:
        self._run(["ldbmodify", "-H", str(self.sam_ldb)], stdin=ldif.encode("utf-8"))

    @staticmethod
    def _object_sid(text: str, name: str) -> str:
        match = re.search(r"^objectSid: (S-1-[0-9-]+)$", text, re.MULTILINE)
        if match is None:
            raise SambaError(f"samba-tool show {name} printed no objectSid:\n{text}")
        return match.group(1)

    # -- provisioning --------------------------------------------------------------------

    def provision(self) -> SambaDc:
        """Provision the domain and add the accounts (records ``timings``)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        self._run([
            "samba-tool", "domain", "provision",
            f"--targetdir={self.directory}", f"--realm={REALM}", f"--domain={NETBIOS_DOMAIN}",
            "--server-role=dc", "--dns-backend=NONE", f"--host-name={HOST}",
            "--host-ip=127.0.0.1", f"--adminpass={PASSWORDS['Administrator']}",
            "--option=interfaces=lo", "--option=bind interfaces only=yes",
            f"--option=pid directory={self.directory}/run",
            f"--option=log file={self.directory}/log.%m",
            "--option=server services=s3fs, rpc, ldap, cldap, kdc, winbindd",
        ])
        self.timings["provision"] = time.monotonic() - t0
        t1 = time.monotonic()
        self.krb5_conf.write_text(self.krb5_conf_text(), encoding="utf-8")
        self.samba_tool_batch([
            ("user", "create", "alice", PASSWORDS["alice"]),
            ("user", "setexpiry", "alice", "--noexpiry"),
            ("group", "add", GROUP),
            ("group", "addmembers", GROUP, "alice"),
            ("spn", "add", f"ldap/{FQDN}", f"{HOST.upper()}$"),
            ("user", "create", "svc", PASSWORDS["svc"]),
            ("user", "setexpiry", "svc", "--noexpiry"),
            ("spn", "add", SERVICE_SPN, "svc"),
            ("user", "create", "legacy", PASSWORDS["legacy"]),
            ("spn", "add", RC4_SERVICE_SPN, "legacy"),
        ])
        # AD issues rc4 tickets to user accounts without msDS-SupportedEncryptionTypes; ask for
        # AES (8 | 16) for svc, then set the password again so that the AES keys exist.
        self._ldbmodify(
            f"dn: CN=svc,CN=Users,{BASE_DN}\nchangetype: modify\n"
            "replace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24\n"
        )
        shown = self.samba_tool_batch([
            ("user", "setpassword", "svc", f"--newpassword={PASSWORDS['svc']}"),
            ("domain", "exportkeytab", str(self.keytab), f"--principal={SERVICE_SPN}"),
            ("domain", "exportkeytab", str(self.rc4_keytab), f"--principal={RC4_SERVICE_SPN}"),
            ("user", "show", "alice", "--attributes=objectSid"),
            ("user", "show", "svc", "--attributes=objectSid"),
            ("group", "show", GROUP, "--attributes=objectSid"),
        ])
        self.sids = {
            "alice": self._object_sid(shown[3], "alice"),
            "svc": self._object_sid(shown[4], "svc"),
            GROUP: self._object_sid(shown[5], GROUP),
        }
        self.timings["accounts"] = time.monotonic() - t1
        return self

    @property
    def domain_sid(self) -> str:
        """The domain SID (the user's SID without its RID)."""
        return self.sids["alice"].rsplit("-", 1)[0]

    # -- running -------------------------------------------------------------------------

    def _add_hosts_line(self) -> None:
        text = HOSTS_FILE.read_text(encoding="utf-8")
        if HOSTS_LINE not in text.splitlines():
            with HOSTS_FILE.open("a", encoding="utf-8") as hosts:
                hosts.write(("" if text.endswith("\n") or not text else "\n") + HOSTS_LINE + "\n")
        self._hosts_added = True

    def _remove_hosts_line(self) -> None:
        if not self._hosts_added:
            return
        with contextlib.suppress(OSError):
            lines = HOSTS_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if line.rstrip("\n") != HOSTS_LINE]
            if len(kept) != len(lines):
                HOSTS_FILE.write_text("".join(kept), encoding="utf-8")
        self._hosts_added = False

    def start(self, timeout: float = START_TIMEOUT) -> SambaDc:
        """Start ``samba -i`` in its own process group; wait until 88/389/445 accept."""
        self._add_hosts_line()
        t0 = time.monotonic()
        out = (self.directory / "samba.out").open("wb")
        try:
            self.proc = subprocess.Popen(
                ["samba", "-i", "-s", str(self.smb_conf)],
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env()},
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        finally:
            out.close()
        deadline = t0 + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if all(_listening(port) for port in WAIT_PORTS):
                self.timings["start"] = time.monotonic() - t0
                return self
            time.sleep(0.05)
        error = f"samba exit={self.proc.poll()}:\n{tail(self.directory / 'samba.out')}"
        self.close()
        raise SambaError(f"samba did not listen on {WAIT_PORTS} within {timeout} s: {error}")

    def _leftovers(self) -> list[int]:
        """Processes samba spawned that left its group (samba-dcerpcd re-parents to init):
        found by their command line naming our own smb.conf, so only ours."""
        mine = str(self.smb_conf).encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if mine in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
        return pids

    def close(self) -> None:
        """Stop samba by its process group (SIGTERM, then SIGKILL), its strays by pid, and
        take our line out of /etc/hosts."""
        proc = self.proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT)
            # The group may outlive its leader for a moment.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            self.proc = None
        for pid in self._leftovers():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self._remove_hosts_line()

    def kinit(self, principal: str, password: str, ccache: Path) -> Path:
        """MIT ``kinit`` against this DC into the FILE ccache ``ccache``."""
        self._run(
            ["kinit", "-c", f"FILE:{ccache}", principal],
            stdin=password.encode("utf-8") + b"\n",
        )
        return ccache
