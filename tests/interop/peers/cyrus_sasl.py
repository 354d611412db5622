"""Cyrus SASL DIGEST-MD5 (RFC 2831) peers driven through the sample programs.

``sasl-sample-server`` and ``sasl-sample-client`` (Debian package ``sasl2-bin``; the
DIGEST-MD5 plugin is in ``libsasl2-modules``) speak a line protocol on stdin/stdout:
every token is one line ``S: <base64>`` (server to client) or ``C: <base64>``.  No
sockets are involved.  After authentication each program runs exactly **one**
security-layer exchange through ``sasl_encode``/``sasl_decode``:

* the server sends ``sasl_encode("srv message 1\\0")`` (:data:`SERVER_MESSAGE`) and then
  decodes one client frame, prints ``recieved decoded message '<text>'`` and exits 0
  only if the text is ``client message 1`` (:data:`CLIENT_MESSAGE` without the NUL);
* the client decodes one server frame (it must be ``srv message 1``) and then sends
  ``sasl_encode("client message 1\\0")``.

So each direction can be checked once (sequence number 0), for every qop/cipher the
plugin offers.  Frames are exactly what ``sasl_encode`` emits: a 4-byte big-endian
length followed by the RFC 2831 frame (see :func:`add_length_prefix`); with qop=auth
there is no layer and the message passes through unchanged (no length either).

The offered/chosen qop and cipher are pinned with the SSF bounds ``-b min=N,max=N``
(see :func:`ssf_bounds`); this was checked to make the server offer exactly one
qop/cipher (e.g. ``min=55,max=55`` -> ``qop="auth-conf",cipher="des"``).

Known limitation (Debian 12, Cyrus 2.1.28 with OpenSSL 3): ``cipher="3des"`` fails
inside Cyrus itself when the client derives the layer keys ("internal error: failed
to init cipher '3des'", then "generic failure"), before any response is sent; the
server still offers it.  The harness test for it is a strict xfail, so it will say so
once Debian's Cyrus can do 3des.
"""

from __future__ import annotations

import base64
import contextlib
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

SASL_SERVER_BIN = "/usr/sbin/sasl-sample-server"
SASL_CLIENT_BIN = "/usr/bin/sasl-sample-client"
SASLPASSWD_BIN = "/usr/sbin/saslpasswd2"
STDBUF_BIN = "/usr/bin/stdbuf"
CYRUS_APT = "apt-get install -y sasl2-bin libsasl2-modules"

SASL_REALM = "opensspi-test"
SASL_SERVICE = "imap"
SASL_HOST = "localhost"
#: SASL users in the sasldb: name -> password (the second one is non-ASCII, UTF-8).
SASL_USERS: Mapping[str, str] = {
    "alice": "Passw0rd!",
    "j\u00fcrgen": "P\u00e4ssw\u00f6rd-\u00df",
}

#: What the sample server sends through the security layer (sasl_encode input).
SERVER_MESSAGE = b"srv message 1\x00"
#: What both sample programs expect the client to send (sasl_encode input).
CLIENT_MESSAGE = b"client message 1\x00"

Qop = Literal["auth", "auth-int", "auth-conf"]
Cipher = Literal["rc4", "rc4-56", "rc4-40", "des", "3des"]

#: Cyrus' SSF for each DIGEST-MD5 cipher (plugins/digestmd5.c).
CIPHER_SSF: Mapping[str, int] = {"rc4": 128, "3des": 112, "rc4-56": 56, "des": 55, "rc4-40": 40}
QOPS: tuple[Qop, ...] = ("auth", "auth-int", "auth-conf")
CIPHERS: tuple[Cipher, ...] = ("rc4", "rc4-56", "rc4-40", "des", "3des")

IO_TIMEOUT = 10.0
_EOF = object()


class CyrusError(RuntimeError):
    """The sample program failed or said something unexpected."""

    def __init__(self, message: str, *, returncode: int | None, stderr: str, stdout: str) -> None:
        super().__init__(
            f"{message} (exit={returncode})\n--- stderr ---\n{stderr[-3000:]}"
            f"\n--- stdout ---\n{stdout[-3000:]}"
        )
        self.returncode = returncode
        self.stderr = stderr
        self.stdout = stdout


class CyrusAuthError(CyrusError):
    """Cyrus rejected an authentication step (e.g. a wrong response or rspauth)."""


def ssf_bounds(qop: Qop | None, cipher: Cipher | None) -> tuple[int, int] | None:
    """The ``-b min=N,max=N`` that pins the qop (and cipher); None: Cyrus' defaults.

    auth -> 0,0; auth-int -> 1,1; auth-conf -> SSF of the cipher (or 2..max when no
    cipher is named, i.e. every cipher).  qop=None offers everything.
    """
    if qop is None:
        if cipher is not None:
            raise ValueError("a cipher needs qop='auth-conf'")
        return None
    if qop != "auth-conf" and cipher is not None:
        raise ValueError(f"cipher {cipher!r} needs qop='auth-conf', not {qop!r}")
    if qop == "auth":
        return (0, 0)
    if qop == "auth-int":
        return (1, 1)
    if cipher is None:
        return (2, max(CIPHER_SSF.values()))
    ssf = CIPHER_SSF[cipher]
    return (ssf, ssf)


def add_length_prefix(frame: bytes) -> bytes:
    """Prepend the 4-byte big-endian SASL length (what sasl_decode expects)."""
    return len(frame).to_bytes(4, "big") + frame


def strip_length_prefix(data: bytes) -> bytes:
    """Remove and check the 4-byte SASL length of one sasl_encode output."""
    if len(data) < 4 or int.from_bytes(data[:4], "big") != len(data) - 4:
        raise ValueError(f"not one length-prefixed SASL frame: {data.hex()}")
    return data[4:]


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data)


# --------------------------------------------------------------------------- process


class _LineProcess:
    """A child speaking the sample programs' line protocol, with bounded reads."""

    role = "cyrus"

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float
    ) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.transcript: list[str] = []  # every stdout line, for error messages
        self._stderr: list[bytes] = []
        self._lines: queue.Queue[object] = queue.Queue()
        self.username: str | None = None
        self.realm: str | None = None
        self.ssf: int | None = None
        self.complete = False
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            bufsize=0,
            start_new_session=True,  # no controlling tty: getpass() reads stdin
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._pump_out, args=(self.proc.stdout,), daemon=True).start()
        self._err_thread = threading.Thread(
            target=self._pump_err, args=(self.proc.stderr,), daemon=True
        )
        self._err_thread.start()

    # readers -----------------------------------------------------------------
    def _pump_out(self, stream: IO[bytes]) -> None:
        buf = b""
        while True:
            chunk = stream.read(4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._lines.put(line.decode("utf-8", "replace"))
        if buf:
            self._lines.put(buf.decode("utf-8", "replace"))
        self._lines.put(_EOF)

    def _pump_err(self, stream: IO[bytes]) -> None:
        while True:
            chunk = stream.read(4096)
            if not chunk:
                break
            self._stderr.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    @property
    def stdout(self) -> str:
        return "\n".join(self.transcript)

    def _error(self, message: str, cls: type[CyrusError] = CyrusError) -> CyrusError:
        rc = self.proc.poll()
        if rc is not None:
            self._err_thread.join(timeout=1.0)
        return cls(f"{self.role}: {message}", returncode=rc, stderr=self.stderr, stdout=self.stdout)

    def _next_line(self, deadline: float) -> str | None:
        """Next stdout line, None at EOF; CyrusError on timeout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._error(f"no output within {self.timeout} s")
        try:
            item = self._lines.get(timeout=remaining)
        except queue.Empty:
            raise self._error(f"no output within {self.timeout} s") from None
        if item is _EOF:
            self._lines.put(_EOF)  # keep reporting EOF
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=self.timeout)
            return None
        assert isinstance(item, str)
        self.transcript.append(item)
        self._note(item)
        return item

    def _note(self, line: str) -> None:
        if line == "Negotiation complete":
            self.complete = True
        elif line.startswith("Username: "):
            self.username = line[len("Username: ") :]
        elif line.startswith("Realm: "):
            self.realm = line[len("Realm: ") :]
        elif line.startswith("SSF: "):
            with contextlib.suppress(ValueError):
                self.ssf = int(line[len("SSF: ") :])

    def _read_token(
        self, prefix: str, *, stop_at: str | None = None, fail_cls: type[CyrusError] = CyrusError
    ) -> bytes | None:
        """Read until a ``prefix`` line (return its decoded token) or ``stop_at`` (None)."""
        deadline = time.monotonic() + self.timeout
        while True:
            line = self._next_line(deadline)
            if line is None:
                raise self._error(f"exited while waiting for {prefix!r}", fail_cls)
            if line.startswith(prefix):
                return base64.b64decode(line[len(prefix) :].strip())
            if stop_at is not None and line == stop_at:
                return None

    def _read_decoded(self) -> bytes:
        """Read the ``recieved decoded message '...'`` line (Cyrus' spelling)."""
        prefix = "recieved decoded message '"
        deadline = time.monotonic() + self.timeout
        while True:
            line = self._next_line(deadline)
            if line is None:
                raise self._error("exited without decoding the message (sasl_decode failed?)")
            if line.startswith(prefix):
                text = line[len(prefix) :]
                return text[:-1].encode() if text.endswith("'") else text.encode()

    def _send(self, prefix: bytes, token: bytes, extra: bytes = b"") -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(prefix + _b64(token) + b"\n" + extra)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise self._error(f"cannot write: {exc}") from exc

    # lifecycle ---------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> int:
        """Wait for the program to exit (bounded) and return its exit code."""
        try:
            return self.proc.wait(timeout=self.timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            raise self._error("did not exit") from None

    def close(self) -> None:
        """Stop the program if it still runs (its own process group only)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=3)


def _b_args(qop: Qop | None, cipher: Cipher | None) -> list[str]:
    bounds = ssf_bounds(qop, cipher)
    return [] if bounds is None else ["-b", f"min={bounds[0]},max={bounds[1]}"]


class CyrusServer(_LineProcess):
    """Cyrus DIGEST-MD5 server (one ``sasl-sample-server`` process = one exchange).

    The test plays the **client**::

        srv = CyrusServer.start(env, qop="auth-conf", cipher="rc4")
        chal = srv.challenge()             # digest-challenge (bytes)
        rspauth = srv.respond(response)    # b"rspauth=..."; CyrusAuthError if rejected
        assert srv.respond(b"") is None    # negotiation complete
        frame = srv.server_message()       # sasl_encode(SERVER_MESSAGE), length-prefixed
        decoded = srv.send_message(client_frame)   # what Cyrus decoded
        assert decoded == b"client message 1" and srv.wait() == 0
    """

    role = "sasl-sample-server"

    @classmethod
    def start(
        cls,
        env: CyrusSaslEnv,
        qop: Qop | None = "auth",
        cipher: Cipher | None = None,
        *,
        service: str = SASL_SERVICE,
        fqdn: str = SASL_HOST,
        timeout: float = IO_TIMEOUT,
    ) -> CyrusServer:
        """Start a server offering exactly ``qop`` (and ``cipher``); None = all."""
        argv = [
            STDBUF_BIN,
            "-oL",
            SASL_SERVER_BIN,
            "-m",
            "DIGEST-MD5",
            "-s",
            service,
            "-u",
            env.realm,
            "-d",
            fqdn,
            *_b_args(qop, cipher),
        ]
        srv = cls(argv, env.environ(), env.workdir, timeout)
        srv.qop, srv.cipher = qop, cipher
        env.register(srv)
        mechs = srv._read_token("S: ")
        if mechs != b"DIGEST-MD5":
            srv.close()
            raise srv._error(f"unexpected mechanism list {mechs!r}")
        return srv

    qop: Qop | None = None
    cipher: Cipher | None = None

    def challenge(self, initial: bytes = b"") -> bytes:
        """Select DIGEST-MD5 (with an optional initial response) and return the challenge.

        A non-empty ``initial`` (a subsequent-authentication response, RFC 2831 2.2) is
        passed to sasl_server_start; a fresh server process has no reauth cache, so
        Cyrus answers it with a full digest-challenge.
        """
        self._send(b"C: ", b"DIGEST-MD5" + (b"\x00" + initial if initial else b""))
        token = self._read_token("S: ")
        assert token is not None
        return token

    def respond(self, token: bytes) -> bytes | None:
        """Send a client token; the next server token, or None once Cyrus is done.

        After the digest-response Cyrus answers ``rspauth=<hex>``; after the client's
        (empty) answer to that it prints "Negotiation complete" and this returns None.
        A rejected step raises :class:`CyrusAuthError` (Cyrus' message in ``.stderr``).
        """
        return self._read_after_send(token)

    def _read_after_send(self, token: bytes) -> bytes | None:
        self._send(b"C: ", token)
        out = self._read_token("S: ", stop_at="Negotiation complete", fail_cls=CyrusAuthError)
        if out is None:  # Username/Realm/SSF follow at once; read them for the attributes
            deadline = time.monotonic() + self.timeout
            while self.ssf is None:
                if self._next_line(deadline) is None:
                    raise self._error("exited after negotiation")
        return out

    def server_message(self) -> bytes:
        """The server's ``sasl_encode(SERVER_MESSAGE)`` output (4-byte length + frame)."""
        token = self._read_token("S: ")
        assert token is not None
        return token

    def send_message(self, data: bytes) -> bytes:
        """Give Cyrus one client frame (with its 4-byte length); return what it decoded.

        The text is cut at the first NUL (Cyrus prints it with %s).  The server exits 0
        only when it equals ``client message 1``; a frame it cannot decode raises.
        """
        self._send(b"C: ", data)
        return self._read_decoded()


class CyrusClient(_LineProcess):
    """Cyrus DIGEST-MD5 client (``sasl-sample-client``); the test plays the **server**::

    cli = CyrusClient.start(env, "alice", "Passw0rd!", qop="auth-int")
    assert cli.initial() == b""        # DIGEST-MD5 is server-first: no initial response
    response = cli.step(challenge)     # digest-response
    assert cli.step(b"rspauth=...") == b""   # CyrusAuthError if rspauth is wrong
    decoded = cli.send_message(server_frame) # must be b"srv message 1"
    frame = cli.client_message()       # sasl_encode(CLIENT_MESSAGE), length-prefixed
    """

    role = "sasl-sample-client"
    _password_sent = False

    @classmethod
    def start(
        cls,
        env: CyrusSaslEnv,
        user: str = "alice",
        password: str | None = None,
        qop: Qop | None = None,
        cipher: Cipher | None = None,
        *,
        authzid: str | None = None,
        realm: str | None = None,
        service: str = SASL_SERVICE,
        fqdn: str = SASL_HOST,
        timeout: float = IO_TIMEOUT,
    ) -> CyrusClient:
        """Start a client that will accept only ``qop``/``cipher`` (None: best offered).

        ``authzid`` defaults to ``user`` (Cyrus then sends no authzid); ``password``
        defaults to the user's password in the env.
        """
        argv = [
            STDBUF_BIN,
            "-oL",
            SASL_CLIENT_BIN,
            "-m",
            "DIGEST-MD5",
            "-s",
            service,
            "-n",
            fqdn,
            "-a",
            user,
            "-u",
            authzid or user,
            *(["-r", realm] if realm is not None else []),
            *_b_args(qop, cipher),
        ]
        cli = cls(argv, env.environ(), env.workdir, timeout)
        cli.password = env.users[user] if password is None else password
        env.register(cli)
        cli._send(b"S: ", b"DIGEST-MD5")  # the mechanism list
        return cli

    password = ""

    def initial(self) -> bytes:
        """The client's mechanism selection: returns its initial response (empty)."""
        token = self._read_token("C: ")
        assert token is not None
        mech, _, initial = token.partition(b"\x00")
        if mech != b"DIGEST-MD5":
            raise self._error(f"client chose {mech!r}")
        return initial

    def step(self, token: bytes) -> bytes:
        """Send a server token; return the client's answer (b"" after a good rspauth)."""
        extra = b""
        if not self._password_sent:  # getpass() reads it from stdin on the first step
            extra = self.password.encode() + b"\n"
            self._password_sent = True
        self._send(b"S: ", token, extra)
        out = self._read_token("C: ", fail_cls=CyrusAuthError)
        assert out is not None
        return out

    def send_message(self, data: bytes) -> bytes:
        """Give the client one server frame (4-byte length + frame); return its decoding.

        The client exits with status 1 unless the text is ``srv message 1``.
        """
        self._send(b"S: ", data)
        return self._read_decoded()

    def client_message(self) -> bytes:
        """The client's ``sasl_encode(CLIENT_MESSAGE)`` output (4-byte length + frame)."""
        token = self._read_token("C: ")
        assert token is not None
        return token


# --------------------------------------------------------------------------- environment


class CyrusSaslEnv:
    """A private Cyrus configuration: ``sample.conf`` + sasldb in a temp dir.

    Nothing under /etc is read or written: ``SASL_CONF_PATH`` points at the temp dir
    (the sample programs' application name is ``sample``) and ``saslpasswd2 -f``
    writes the private sasldb.  Processes started through :meth:`server` /
    :meth:`client` are stopped by :meth:`close`.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        realm: str = SASL_REALM,
        users: Mapping[str, str] = SASL_USERS,
    ) -> None:
        self._own_dir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="opensspi-cyrus-")) if workdir is None else workdir
        )
        self.realm = realm
        self.users = dict(users)
        self._procs: list[_LineProcess] = []
        self.setup_seconds = 0.0

    @property
    def sasldb(self) -> Path:
        return self.workdir / "sasldb2"

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SASL")}
        env["SASL_CONF_PATH"] = str(self.workdir)
        env["LC_ALL"] = "C.UTF-8"
        return env

    def setup(self, timeout: float = IO_TIMEOUT) -> CyrusSaslEnv:
        """Write sample.conf and create the sasldb with :attr:`users`."""
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "sample.conf").write_text(
            f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
            f"sasldb_path: {self.sasldb}\nmech_list: DIGEST-MD5\n",
            encoding="utf-8",
        )
        for user, password in self.users.items():
            res = subprocess.run(
                [
                    SASLPASSWD_BIN,
                    "-f",
                    str(self.sasldb),
                    "-c",
                    "-p",
                    "-u",
                    self.realm,
                    "-a",
                    "sample",
                    user,
                ],
                input=password.encode(),
                capture_output=True,
                timeout=timeout,
                env=self.environ(),
                cwd=self.workdir,
                start_new_session=True,
            )
            if res.returncode != 0:
                raise CyrusError(
                    f"saslpasswd2 failed for {user!r}",
                    returncode=res.returncode,
                    stderr=res.stderr.decode(errors="replace"),
                    stdout=res.stdout.decode(errors="replace"),
                )
        self.setup_seconds = time.monotonic() - t0
        return self

    def register(self, proc: _LineProcess) -> None:
        self._procs.append(proc)

    def server(
        self, qop: Qop | None = "auth", cipher: Cipher | None = None, **kwargs: object
    ) -> CyrusServer:
        """Start a :class:`CyrusServer` (kwargs: service, fqdn, timeout)."""
        return CyrusServer.start(self, qop, cipher, **kwargs)  # type: ignore[arg-type]

    def client(
        self,
        user: str = "alice",
        password: str | None = None,
        qop: Qop | None = None,
        cipher: Cipher | None = None,
        **kwargs: object,
    ) -> CyrusClient:
        """Start a :class:`CyrusClient` (kwargs: authzid, realm, service, fqdn, timeout)."""
        return CyrusClient.start(self, user, password, qop, cipher, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        for proc in self._procs:
            proc.close()
        self._procs.clear()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> CyrusSaslEnv:
        return self.setup()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --------------------------------------------------------------------------- optional binding
