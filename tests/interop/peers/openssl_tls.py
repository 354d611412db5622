"""``openssl s_server`` / ``s_client`` as real TLS peers on 127.0.0.1, and Python's own
``ssl``-wrapped HTTP server.

``s_server`` reads commands from stdin: a line holding just ``K`` sends a KeyUpdate asking for
one back, ``R`` starts a renegotiation (TLS 1.2), ``Q`` sends close_notify and ends the
connection; any other line is sent to the client as application data. What the client sends
appears on its stdout. Readiness is its ``ACCEPT`` line (a probe connection would use up one
of ``-naccept``'s connections).
"""

from __future__ import annotations

import queue
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from interop.peers.apache import free_port

OPENSSL = shutil.which("openssl")
INSTALL_HINT = "apt-get install -y openssl"


class OpenSslProcess:
    """An ``openssl`` child with its stdout collected line by line."""

    def __init__(self, args: Sequence[str]) -> None:
        assert OPENSSL is not None
        self.args = [OPENSSL, *args]
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("latin-1").rstrip("\r\n"))

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        """The first output line containing ``text``; fails with the output so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{self.args[1]} never printed {text!r}; output:\n"
                             + "\n".join(self.seen[-40:]))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def command(self, letter: str) -> None:
        """An s_server command: it must arrive alone in one read of stdin (``i <= 2``)."""
        time.sleep(0.3)
        self.send(letter)
        time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> OpenSslProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def s_server(cert: Path, key: Path, *extra: str, port: int | None = None) -> tuple[
        OpenSslProcess, int]:
    """Start ``openssl s_server`` on 127.0.0.1 and wait until it accepts."""
    port = port or free_port()
    proc = OpenSslProcess(["s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert),
                           "-key", str(key), "-no_dhe", *extra])
    proc.wait_for("ACCEPT")
    return proc, port


def s_client(port: int, *extra: str) -> OpenSslProcess:
    return OpenSslProcess(["s_client", "-connect", f"127.0.0.1:{port}", *extra])


class HttpsServer:
    """Python's ``http.server`` behind ``ssl`` on 127.0.0.1: a real HTTPS server whose answer
    to ``GET /big`` spans several TLS records."""

    BODY = b"opensspi over TLS: hello\n"
    BIG = bytes(range(256)) * 160  # 40960 bytes: three records

    def __init__(self, cert: Path, key: Path, maximum: ssl.TLSVersion | None = None) -> None:
        body, big = self.BODY, self.BIG

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def do_GET(self) -> None:
                payload = big if self.path == "/big" else body
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        if maximum is not None:
            ctx.maximum_version = maximum
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a client that gave up must not hang the teardown
        # The handshake runs in the handler thread (not in accept), so a client that gives up
        # mid-handshake cannot stall the server loop.
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                            do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HttpsServer:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
