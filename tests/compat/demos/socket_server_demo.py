"""pywin32's ``win32/Demos/security/sspi/socket_server.py``, followed call by call.

Run as ``python socket_server_demo.py server|client --package P --port N [--target-spn S]``.
Written for the opensspi tests (not a copy): the same modules, calls and order as the demo, with
two changes forced by Python 3 and pywin32 itself — messages are bytes (pywin32's ``Buffer``
takes bytes-like values only) and the server handles one connection and exits. Lines the test
checks are printed with a ``DEMO:`` prefix.
"""

from __future__ import annotations

import argparse
import http.client
import socketserver
import struct
import sys

import opensspi.compat.pywin32

opensspi.compat.pywin32.install()

import sspicon  # noqa: E402, F401  (the demo imports it)
import win32api  # noqa: E402
import win32security  # noqa: E402, F401  (the demo imports it)

import sspi  # noqa: E402

options: argparse.Namespace


def get_user_name() -> str:
    try:
        return str(win32api.GetUserName())
    except win32api.error:
        return repr(win32api.GetUserNameEx(win32api.NameSamCompatible))


def send_msg(sock, message: bytes) -> None:  # type: ignore[no-untyped-def]
    sock.sendall(struct.pack("i", len(message)))
    sock.sendall(message)


def recv_exactly(sock, count: int) -> bytes:  # type: ignore[no-untyped-def]
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return data
        data += chunk
    return data


def get_msg(sock):  # type: ignore[no-untyped-def]
    size = recv_exactly(sock, struct.calcsize("i"))
    if len(size) < struct.calcsize("i"):
        return None
    return recv_exactly(sock, struct.unpack("i", size)[0])


class SSPISocketServer(socketserver.TCPServer):
    allow_reuse_address = True

    def __init__(self, *args, **kw) -> None:  # type: ignore[no-untyped-def]
        socketserver.TCPServer.__init__(self, *args, **kw)
        self.sa = sspi.ServerAuth(options.package)

    def verify_request(self, sock, ca) -> bool:  # type: ignore[no-untyped-def]
        self.sa.reset()
        while True:
            data = get_msg(sock)
            if data is None:
                return False
            try:
                err, sec_buffer = self.sa.authorize(data)
            except sspi.error as details:
                print("DEMO: FAILED to authorize client:", details, flush=True)
                return False
            if err == 0:
                break
            send_msg(sock, sec_buffer[0].Buffer)
        return True

    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        print("DEMO: server runs as", get_user_name(), flush=True)
        self.sa.ctxt.ImpersonateSecurityContext()
        try:
            print("DEMO: conversation as", get_user_name(), flush=True)
            print("DEMO: conversation as (SAM)",
                  win32api.GetUserNameEx(win32api.NameSamCompatible), flush=True)
            while True:
                data = get_msg(request)
                key = get_msg(request)
                if data is None or key is None:
                    break
                data = self.sa.decrypt(data, key)
                print("DEMO: client sent", repr(data), flush=True)
        finally:
            self.sa.ctxt.RevertSecurityContext()
        self.close_request(request)
        print("DEMO: server back to", get_user_name(), flush=True)


def serve() -> None:
    server = SSPISocketServer(("127.0.0.1", options.port), None)
    print("DEMO: listening", flush=True)
    server.handle_request()
    server.server_close()


def sspi_client() -> None:
    conn = http.client.HTTPConnection("127.0.0.1", options.port)
    conn.connect()
    ca = sspi.ClientAuth(options.package, targetspn=options.target_spn)
    data = None
    while True:
        err, out_buf = ca.authorize(data)
        send_msg(conn.sock, out_buf[0].Buffer)
        if err == 0:
            break
        data = get_msg(conn.sock)
    print("DEMO: auth dance complete", flush=True)
    try:
        ca.encrypt("Hello")
    except TypeError:
        print("DEMO: str refused as pywin32 does", flush=True)
    for word in b"Hello from the client".split():
        blob, key = ca.encrypt(word)
        send_msg(conn.sock, blob)
        send_msg(conn.sock, key)
    conn.sock.close()
    print("DEMO: client completed", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["client", "server"])
    parser.add_argument("--package", default="NTLM")
    parser.add_argument("--target-spn")
    parser.add_argument("--port", type=int, default=8181)
    options = parser.parse_args()
    if options.role == "client":
        sspi_client()
    else:
        serve()
    sys.exit(0)
