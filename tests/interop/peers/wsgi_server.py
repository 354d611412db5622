"""A keep-alive WSGI server on 127.0.0.1 built on wsgiref, optionally over TLS, for the tests.

wsgiref's own server answers one request per connection (HTTP/1.0 style), which connection-based
authentication (NTLM, Negotiate) cannot work with; this handler loops over the requests of a
kept-alive HTTP/1.1 connection and reports ``REMOTE_PORT``, as production WSGI servers do.
Certificates for TLS are generated here with ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class _Handler11(ServerHandler):
    http_version = "1.1"


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # wsgiref writes the headers and the body apart; without this, Nagle's algorithm and the
        # client's delayed ACK hold every response for tens of milliseconds.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        self.close_connection = True
        self._one()
        while not self.close_connection:
            self._one()

    def _one(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        handler = _Handler11(self.rfile, self.wfile, self.get_stderr(), self.get_environ(),
                             multithread=True)
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]
        self.wfile.flush()

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["REMOTE_PORT"] = str(self.client_address[1])
        if isinstance(self.connection, ssl.SSLSocket):
            env["wsgi.url_scheme"] = "https"
            env["HTTPS"] = "on"
        return env

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class Tls:
    """A self-signed server certificate for 127.0.0.1/localhost (files and DER)."""

    cert_file: Path
    key_file: Path
    der: bytes


def make_certificate(directory: Path, hash_algorithm: hashes.HashAlgorithm | None = None,
                     ) -> Tls:
    """A self-signed EC certificate signed with ``hash_algorithm`` (default SHA-384)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hash_algorithm or hashes.SHA384())
    )
    cert_file = directory / "server.pem"
    key_file = directory / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return Tls(cert_file, key_file, cert.public_bytes(serialization.Encoding.DER))


@contextmanager
def serve_wsgi(app: Callable[..., Any], tls: Tls | None = None) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1; yields the base URL."""
    server = _Server(("127.0.0.1", 0), KeepAliveHandler)
    server.set_app(app)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def hello_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Answers ``hello <REMOTE_USER> via <AUTH_TYPE>``."""
    body = f"hello {environ.get('REMOTE_USER')} via {environ.get('AUTH_TYPE')}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
