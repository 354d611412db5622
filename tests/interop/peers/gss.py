"""Drive a real GSSAPI peer (``gss_peer.py``) in a subprocess, with a private configuration.

:class:`GssNtlmFactory` writes the files MIT mechglue and gss-ntlmssp read (mech config, NTLM user
file, an offline krb5.conf) into a directory; :class:`GssKrb5Factory` does the same for MIT's
Kerberos mechanism (and SPNEGO over it) against a private realm (:mod:`interop.peers.mit_kdc`,
:mod:`interop.peers.heimdal_kdc`). :class:`GssPeer` runs one security context of
``gss_peer.py`` under that environment and speaks its JSON line protocol, with a timeout on
every read so that a hung peer fails the test instead of hanging it.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from interop.peers.mit_kdc import file_name

PEER_SCRIPT = Path(__file__).with_name("gss_peer.py")
NTLMSSP_OID = "1.3.6.1.4.1.311.2.2.10"
SPNEGO_OID = "1.3.6.1.5.5.2"
KRB5_OID = "1.2.840.113554.1.2.2"
MSKRB5_OID = "1.2.840.48018.1.2.2"
SO_GLOBS = (
    "/usr/lib/*/gssntlmssp/gssntlmssp.so",
    "/usr/lib64/gssntlmssp/gssntlmssp.so",
    "/usr/lib/gssntlmssp/gssntlmssp.so",
)
DEFAULT_TARGET = "host@server.test.local"
DEFAULT_FLAGS = ("integ", "conf", "replay", "sequence")
DEFAULT_TIMEOUT = 10.0
INSTALL_HINT = "apt-get install gss-ntlmssp libkrb5-dev && pip install gssapi"
KRB5_DEFAULT_FLAGS = ("mutual", "integ", "conf", "replay", "sequence")


@dataclass(frozen=True)
class NtlmUser:
    """One line of an ``NTLM_USER_FILE``: ``DOMAIN:USER:PASSWORD`` (the domain may be empty)."""

    domain: str
    user: str
    password: str = ""

    def line(self) -> str:
        return f"{self.domain}:{self.user}:{self.password}"

    def __repr__(self) -> str:  # keep passwords out of pytest's assertion output
        return f"NtlmUser(domain={self.domain!r}, user={self.user!r})"


ALICE = NtlmUser("TESTDOM", "alice", "Passw0rd!")
ALICE_NO_DOMAIN = NtlmUser("", "alice", "Passw0rd!")
JUERGEN = NtlmUser("TESTDOM", "jürgen", "Pässwörd€1")
DEFAULT_USERS = (ALICE, JUERGEN, ALICE_NO_DOMAIN)


class GssPeerError(Exception):
    """The peer's GSSAPI call failed; ``major``/``minor`` are the GSS status codes."""

    def __init__(self, major: int, minor: int, message: str) -> None:
        super().__init__(f"{message} (major={major:#x}, minor={minor:#x})")
        self.major = major
        self.minor = minor
        self.message = message


class PeerHarnessError(RuntimeError):
    """The peer process itself misbehaved: it timed out, died, or sent an unreadable line."""


def find_gssntlmssp_so() -> Path | None:
    """The installed gss-ntlmssp mechanism library, or None."""
    for pattern in SO_GLOBS:
        for hit in sorted(glob.glob(pattern)):
            return Path(hit)
    return None


def have_gssapi_module() -> bool:
    """Whether python-gssapi imports in this interpreter (the one that runs the peer)."""
    try:
        import gssapi  # noqa: F401
    except ImportError:
        return False
    return True


class GssNtlmFactory:
    """A directory of gss-ntlmssp configuration, the environment that points at it, and the
    peers started under it: ``factory(role, mech, **options) -> GssPeer``.

    Attributes: ``env`` (dict), ``directory``, ``mech_config``, ``user_file``, ``krb5_conf``,
    ``users``, ``peers``. :meth:`close_all` stops every peer it started.
    """

    def __init__(
        self,
        directory: Path,
        so_path: Path,
        users: Iterable[NtlmUser] = DEFAULT_USERS,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.so_path = so_path
        self.users = tuple(users)
        directory.mkdir(parents=True, exist_ok=True)
        self.mech_config = directory / "mech"
        self.user_file = directory / "users"
        self.krb5_conf = directory / "krb5.conf"
        # Same content as the package's /etc/gss/mech.d/mech.ntlmssp.conf.
        self.mech_config.write_text(f"gssntlmssp_v1 {NTLMSSP_OID} {so_path}\n", encoding="utf-8")
        self.user_file.write_text("".join(u.line() + "\n" for u in self.users), encoding="utf-8")
        # Offline krb5: SPNEGO also tries its krb5 element; make that fail fast, without DNS.
        self.krb5_conf.write_text(
            "[libdefaults]\n"
            "  default_realm = NONE.INVALID\n"
            "  dns_lookup_kdc = false\n"
            "  dns_lookup_realm = false\n",
            encoding="utf-8",
        )
        self.env: dict[str, str] = {
            "GSS_MECH_CONFIG": str(self.mech_config),
            "NTLM_USER_FILE": str(self.user_file),
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KTNAME": f"FILE:{directory / 'none.keytab'}",
            "KRB5_CLIENT_KTNAME": f"FILE:{directory / 'none.client.keytab'}",
            "KRB5CCNAME": f"FILE:{directory / 'none.ccache'}",
            "PYTHONUTF8": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if extra_env:
            self.env.update(extra_env)
        self.peers: list[GssPeer] = []

    def spawn(
        self,
        role: str = "accept",
        mech: str = "ntlmssp",
        *,
        user: str | None = None,
        domain: str | None = None,
        password: str | None = None,
        target: str = DEFAULT_TARGET,
        flags: Sequence[str] = DEFAULT_FLAGS,
        channel_bindings: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> GssPeer:
        """Start ``gss_peer.py`` with one context of ``role`` for ``mech``."""
        args = ["--mech", mech, "--role", role, "--target", target, "--flags", ",".join(flags)]
        if user is not None:
            args += ["--user", user]
        if domain is not None:
            args += ["--domain", domain]
        if password is not None:
            args += ["--password", password]
        if channel_bindings is not None:
            args += ["--channel-bindings", channel_bindings.hex()]
        full_env = {**os.environ, **self.env, **(env or {})}
        label = f"gss-{mech}-{role}-{len(self.peers)}"
        peer = GssPeer(args, full_env, self.directory, label=label, timeout=timeout)
        self.peers.append(peer)
        return peer

    __call__ = spawn

    def close_all(self) -> None:
        """Close every peer :meth:`spawn` started."""
        for peer in self.peers:
            peer.close()


class GssPeer:
    """One real GSSAPI security context in a subprocess, driven synchronously.

    Tokens are ``bytes``; a GSSAPI failure raises :class:`GssPeerError`, a hung or dead peer
    :class:`PeerHarnessError`.
    """

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        workdir: Path,
        *,
        label: str = "gss-peer",
        timeout: float = DEFAULT_TIMEOUT,
        script: Path = PEER_SCRIPT,
    ) -> None:
        self.label = label
        self.timeout = timeout
        self.complete = False
        self._stderr_path = workdir / f"{label}.stderr"
        self._stderr: IO[bytes] = self._stderr_path.open("wb")
        self._proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=dict(env),
            cwd=workdir,
        )
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(
            target=self._read_lines, name=f"{label}-reader", daemon=True
        )
        self._reader.start()

    def _read_lines(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def stderr_tail(self, limit: int = 2000) -> str:
        """The end of the peer's stderr, for failure messages."""
        try:
            self._stderr.flush()
            text = self._stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-limit:]

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and return the successful response's fields."""
        if self._proc.poll() is not None:
            raise PeerHarnessError(
                f"{self.label} exited with {self._proc.returncode}; stderr:\n{self.stderr_tail()}"
            )
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps({"op": op, **fields}).encode("ascii") + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise PeerHarnessError(
                f"{self.label} closed its input; stderr:\n{self.stderr_tail()}"
            ) from exc
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            self.kill()
            raise PeerHarnessError(
                f"{self.label} gave no answer to {op!r} within {self.timeout:g} s; "
                f"killed it. stderr:\n{self.stderr_tail()}"
            ) from None
        if line is None:
            self._proc.wait(timeout=self.timeout)
            raise PeerHarnessError(
                f"{self.label} died during {op!r} (exit {self._proc.returncode}); "
                f"stderr:\n{self.stderr_tail()}"
            )
        try:
            resp = json.loads(line)
        except ValueError as exc:
            raise PeerHarnessError(f"{self.label} sent a line that is not JSON: {line!r}") from exc
        if not resp.get("ok"):
            raise GssPeerError(
                int(resp.get("major", 0)), int(resp.get("minor", 0)), str(resp.get("error"))
            )
        return dict(resp)

    def step(self, token: bytes | None) -> bytes | None:
        """``gss_init_sec_context``/``gss_accept_sec_context``: the output token, or None."""
        resp = self.request("step", token=_b64(token))
        self.complete = bool(resp["complete"])
        return _unb64(resp["token"])

    def wrap(self, data: bytes, encrypt: bool = True) -> bytes:
        """``gss_wrap``; sealed when ``encrypt``."""
        token = _unb64(self.request("wrap", data=_b64(data), encrypt=encrypt)["token"])
        assert token is not None
        return token

    def unwrap(self, token: bytes) -> bytes:
        """``gss_unwrap``: the message inside ``token``."""
        return self.unwrap_ex(token)[0]

    def unwrap_ex(self, token: bytes) -> tuple[bytes, bool]:
        """``gss_unwrap`` returning ``(message, was_encrypted)``."""
        resp = self.request("unwrap", token=_b64(token))
        data = _unb64(resp["data"])
        assert data is not None
        return data, bool(resp["encrypted"])

    def get_mic(self, data: bytes) -> bytes:
        """``gss_get_mic``: the signature of ``data``."""
        mic = _unb64(self.request("get_mic", data=_b64(data))["mic"])
        assert mic is not None
        return mic

    def verify_mic(self, data: bytes, mic: bytes) -> None:
        """``gss_verify_mic``; raises :class:`GssPeerError` when the MIC does not verify."""
        self.request("verify_mic", data=_b64(data), mic=_b64(mic))

    def info(self) -> dict[str, Any]:
        """Context facts: complete, initiator_name, target_name (None on an NTLM acceptor),
        mech (dotted OID), flags (int), flag_names, locally_initiated, session_key (bytes, or
        None if not exportable; MIT's GSS_C_INQ_SSPI_SESSION_KEY, for krb5 the acceptor subkey),
        session_key_enctype (int or None), and on an acceptor delegated (bool) and
        delegated_name (the delegated credential's principal)."""
        resp = self.request("info")
        resp.pop("ok", None)
        if resp.get("session_key") is not None:
            resp["session_key"] = _unb64(resp["session_key"])
        return resp

    def wrap_iov(self, data: bytes, encrypt: bool = True) -> tuple[bytes, bytes, bytes]:
        """``gss_wrap_iov`` with HEADER | DATA | PADDING (SSPI's TOKEN | DATA | PADDING):
        ``(header, data, padding)``. Without a TRAILER buffer MIT puts the trailer into the
        header and rotates (RRC), exactly as Windows' Kerberos EncryptMessage does."""
        out, _ = self.wrap_iov_buffers(
            [("header", None), ("data", data), ("padding", None)], encrypt
        )
        return out[0][1], out[1][1], out[2][1]

    def unwrap_iov(self, header: bytes, data: bytes, padding: bytes = b"") -> tuple[bytes, bool]:
        """``gss_unwrap_iov`` of HEADER | DATA | PADDING: ``(message, was_encrypted)``."""
        out, encrypted = self.unwrap_iov_buffers(
            [("header", header), ("data", data), ("padding", padding)]
        )
        return out[1][1], encrypted

    def wrap_iov_buffers(
        self, buffers: Sequence[tuple[str, bytes | None]], encrypt: bool = True
    ) -> tuple[list[tuple[str, bytes]], bool]:
        """``gss_wrap_iov`` on any layout: ``buffers`` are ``(type, value)`` with type in
        header, data, padding, trailer, sign_only, empty; ``None`` = let GSSAPI allocate.
        Returns every buffer afterwards and whether it was sealed."""
        resp = self.request("wrap_iov", buffers=_iov_in(buffers), encrypt=encrypt)
        return _iov_back(resp["buffers"]), bool(resp["encrypted"])

    def unwrap_iov_buffers(
        self, buffers: Sequence[tuple[str, bytes | None]]
    ) -> tuple[list[tuple[str, bytes]], bool]:
        """``gss_unwrap_iov``; ``[("stream", token), ("data", None)]`` unwraps a whole token
        (SSPI's SECBUFFER_STREAM). Returns the buffers afterwards and whether it was sealed."""
        resp = self.request("unwrap_iov", buffers=_iov_in(buffers))
        return _iov_back(resp["buffers"]), bool(resp["encrypted"])

    def wrap_iov_length(
        self, buffers: Sequence[tuple[str, bytes | None]], encrypt: bool = True
    ) -> list[tuple[str, int]]:
        """``gss_wrap_iov_length``: the size GSSAPI wants for each buffer."""
        resp = self.request("wrap_iov_length", buffers=_iov_in(buffers), encrypt=encrypt)
        return [(kind, len(value)) for kind, value in _iov_back(resp["buffers"])]

    def use_delegated(self, target: str, accept: bool = True) -> dict[str, Any]:
        """Acceptor only: initiate a krb5 context to ``target`` (``service@host`` or a
        principal) with the credential the initiator delegated. Returns ``issued`` (the KDC
        issued the service ticket from the forwarded TGT), ``principal`` (of the delegated
        credential), ``token_len``, and with ``accept`` also ``accepted``/``accepted_initiator``
        (accepted in the peer with its keytab); ``error``/``major``/``minor`` when not issued."""
        resp = self.request("use_delegated", target=target, accept=accept)
        resp.pop("ok", None)
        return resp

    def kill(self) -> None:
        """Stop the process at once."""
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=self.timeout)

    def close(self) -> None:
        """Ask the peer to quit, then make sure it is gone. Safe to call twice."""
        if self._proc.poll() is None:
            with contextlib.suppress(PeerHarnessError, GssPeerError, OSError):
                old, self.timeout = self.timeout, min(self.timeout, 2.0)
                try:
                    self.request("quit")
                finally:
                    self.timeout = old
            try:
                self._proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.kill()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()

    def __enter__(self) -> GssPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<GssPeer {self.label} pid={self._proc.pid} complete={self.complete}>"


class Krb5Realm(Protocol):
    """What :class:`GssKrb5Factory` needs of a realm (``MitRealm``, ``HeimdalRealm``)."""

    @property
    def realm(self) -> str: ...

    @property
    def keytab(self) -> Path: ...

    @property
    def passwords(self) -> dict[str, str]: ...

    def env(
        self, ccache: Path | str | None = None, keytab: Path | str | None = None
    ) -> dict[str, str]: ...

    def kinit(
        self,
        principal: str = ...,
        password: str | None = ...,
        ccache: Path | None = ...,
        *,
        krb5_conf: Path | None = ...,
    ) -> Path: ...


class GssKrb5Factory:
    """MIT GSSAPI peers for the Kerberos mechanism (or SPNEGO over it) against one realm:
    ``factory(role, mech="krb5", **options) -> GssPeer``.

    The mech configuration is empty (``GSS_MECH_CONFIG``), so only MIT's built-in krb5 and
    SPNEGO are loaded, unless ``ntlm_so`` adds gss-ntlmssp. Acceptors use the realm's keytab
    (``KRB5_KTNAME``); initiators a ccache from MIT kinit (cached per principal), or
    ``gss_acquire_cred_with_password`` when given a password.

    Attributes: ``realm``, ``directory``, ``env``, ``peers``.
    """

    def __init__(
        self,
        directory: Path,
        realm: Krb5Realm,
        *,
        ntlm_so: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.realm = realm
        directory.mkdir(parents=True, exist_ok=True)
        self.mech_config = directory / "mech"
        self.mech_config.write_text(
            f"gssntlmssp_v1 {NTLMSSP_OID} {ntlm_so}\n" if ntlm_so else "", encoding="utf-8"
        )
        self.env: dict[str, str] = {
            **realm.env(ccache=directory / "none.ccache"),
            "GSS_MECH_CONFIG": str(self.mech_config),
            "PYTHONUTF8": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if extra_env:
            self.env.update(extra_env)
        self.peers: list[GssPeer] = []
        self._ccaches: dict[tuple[str, Path | None], Path] = {}

    def kinit(
        self, principal: str = "alice", password: str | None = None, krb5_conf: Path | None = None
    ) -> Path:
        """A ccache with a TGT for ``principal`` (MIT kinit, with ``krb5_conf`` if given),
        made once per factory and configuration."""
        key = (principal, krb5_conf)
        if key not in self._ccaches or password is not None:
            safe = principal.replace("/", "_").replace("@", "_")
            ccache = self.directory / f"ccache-{safe}-{len(self._ccaches)}"
            self._ccaches[key] = self.realm.kinit(principal, password, ccache, krb5_conf=krb5_conf)
        return self._ccaches[key]

    def spawn(
        self,
        role: str = "accept",
        mech: str = "krb5",
        *,
        user: str | None = None,
        password: str | None = None,
        ccache: Path | str | None = None,
        keytab: Path | str | None = None,
        target: str = DEFAULT_TARGET,
        flags: Sequence[str] = KRB5_DEFAULT_FLAGS,
        neg_mechs: Sequence[str] | None = None,
        acceptor_name: str | None = None,
        acceptor_mechs: Sequence[str] | str | None = None,
        krb5_conf: Path | None = None,
        channel_bindings: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> GssPeer:
        """Start ``gss_peer.py`` with one context of ``role`` for ``mech`` (krb5, mskrb5,
        spnego).

        Initiator credential, first match: ``password`` (with ``user``, default alice):
        acquire_cred_with_password; ``ccache``; else a kinit ccache for ``user`` (default
        alice). ``neg_mechs`` (SPNEGO initiator) defaults to ``("krb5",)``. Acceptor:
        ``keytab`` (default the realm's), ``acceptor_name`` (restrict to one principal),
        ``acceptor_mechs`` (default ``[mech]``; ``"default"`` = GSS_C_NO_CREDENTIAL).
        ``target`` is ``service@host`` or a principal name with a ``/``. ``krb5_conf`` swaps
        the peer's configuration, and the kinit's (e.g. ``MitRealm.krb5_conf_for_enctype(17)``)."""
        args = ["--mech", mech, "--role", role, "--target", target, "--flags", ",".join(flags)]
        peer_env: dict[str, str] = {}
        if role == "initiate":
            if password is not None:
                args += ["--user", user or "alice", "--password", password]
            else:
                cc = ccache if ccache is not None else self.kinit(user or "alice", None, krb5_conf)
                peer_env["KRB5CCNAME"] = file_name(cc)
            if mech == "spnego":
                args += ["--neg-mechs", ",".join(neg_mechs or ("krb5",))]
        else:
            peer_env["KRB5_KTNAME"] = file_name(
                keytab if keytab is not None else self.realm.keytab
            )
            if acceptor_name is not None:
                args += ["--acceptor-name", acceptor_name]
            if acceptor_mechs is not None:
                text = (
                    acceptor_mechs if isinstance(acceptor_mechs, str) else ",".join(acceptor_mechs)
                )
                args += ["--acceptor-mechs", text]
        if channel_bindings is not None:
            args += ["--channel-bindings", channel_bindings.hex()]
        if krb5_conf is not None:
            peer_env["KRB5_CONFIG"] = str(krb5_conf)
        full_env = {**os.environ, **self.env, **peer_env, **(env or {})}
        label = f"gss-{mech}-{role}-{len(self.peers)}"
        peer = GssPeer(args, full_env, self.directory, label=label, timeout=timeout)
        self.peers.append(peer)
        return peer

    __call__ = spawn

    def close_all(self) -> None:
        """Close every peer :meth:`spawn` started."""
        for peer in self.peers:
            peer.close()



def _iov_in(buffers: Sequence[tuple[str, bytes | None]]) -> list[list[str | None]]:
    return [[kind, _b64(value)] for kind, value in buffers]


def _iov_back(buffers: Sequence[Sequence[str]]) -> list[tuple[str, bytes]]:
    return [(str(kind), base64.b64decode(value or "")) for kind, value in buffers]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


Stepper = Callable[[bytes | None], bytes | None]


def handshake(initiator_step: Stepper, acceptor_step: Stepper, max_legs: int = 10) -> list[bytes]:
    """Pump tokens between two ``step(token) -> token | None`` callables until neither has
    anything more to send; return the tokens in order. Works for any mix of peers."""
    tokens: list[bytes] = []
    token = initiator_step(None)
    steppers = (acceptor_step, initiator_step)
    turn = 0
    while token is not None:
        tokens.append(token)
        if len(tokens) > max_legs:
            raise PeerHarnessError(f"handshake did not finish within {max_legs} tokens")
        token = steppers[turn % 2](token)
        turn += 1
    return tokens
