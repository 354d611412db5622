"""The optional pyOpenSSL engine: what the standard library's ``ssl`` cannot do.

Install with ``pip install opensspi[schannel]`` and acquire the credential with
``SCHANNEL_CRED(..., engine="pyopenssl")``. It adds (reference schannel.md §D.3 items 2 and 6,
experiment P1):

- pausing when the server asks for a client certificate the credential lacks:
  ``SSL_set_cert_cb`` returns -1, ``do_handshake`` raises ``WantX509LookupError``, and
  InitializeSecurityContext returns ``SEC_I_INCOMPLETE_CREDENTIALS`` with the server's CA list in
  ``SECPKG_ATTR_ISSUER_LIST_EX``; the next call adds the certificate (``use_certificate`` /
  ``use_privatekey``) or goes on without it (``ISC_REQ_USE_SUPPLIED_CREDS``);
- RFC 5705 keying-material export (``SECPKG_ATTR_KEYING_MATERIAL``);
- the peer's whole chain, and restricting TLS 1.3 suites.

``SSL_set_cert_cb`` and ``SSL_get0_param`` come from ``OpenSSL._util.lib`` — cryptography's cffi
binding, which pyOpenSSL calls semi-private; ``tests`` fail loudly if either disappears.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from typing import Any

from ...constants import AscReq, IscReq, SecStatus
from ...errors import UnsupportedFunction
from .credentials import CertContext, SchannelCredential, TlsPolicy, root_pem
from .engine import READ_SIZE, Engine, EngineError, Progress, status_for

try:
    from OpenSSL import SSL
    from OpenSSL._util import ffi as _ffi
    from OpenSSL._util import lib as _lib
except ImportError:  # pragma: no cover - exercised only without the extra
    SSL = None  # type: ignore[assignment]

_LOCK = threading.Lock()


class _AlpnMismatch(Exception):
    """Raised in the server's ALPN callback when nothing the client offers is acceptable."""


def _require() -> None:
    if SSL is None:
        raise UnsupportedFunction(
            "engine='pyopenssl' needs pyOpenSSL: pip install 'opensspi[schannel]'."
        )


def _context(credential: SchannelCredential, server_side: bool, manual: bool, mutual: bool,
             alpn: tuple[bytes, ...]) -> Any:
    key = f"pyopenssl:{server_side}:{manual}:{mutual}:{alpn!r}"
    with _LOCK:
        found = credential.engine_contexts.get(key)
        if found is not None:
            return found
        ctx = _new_context(credential.policy, server_side, manual, mutual, alpn)
        credential.engine_contexts[key] = ctx
        return ctx


def _new_context(policy: TlsPolicy, server_side: bool, manual: bool, mutual: bool,
                 alpn: tuple[bytes, ...]) -> Any:
    from cryptography import x509

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD if server_side else SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(int(policy.min_version))
    ctx.set_max_proto_version(int(policy.max_version))
    if policy.ciphers:
        ctx.set_cipher_list(policy.ciphers.encode())
    if policy.tls13_suites is not None:
        if policy.tls13_suites:
            ctx.set_tls13_ciphersuites(":".join(policy.tls13_suites).encode())
        else:
            ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    verify = mutual if server_side else not manual
    if verify:
        ctx.set_verify(SSL.VERIFY_PEER, None)
        cafile, cadata = root_pem(policy.roots)
        if cafile is not None:
            ctx.load_verify_locations(cafile.encode())
        elif cadata is not None:
            store = ctx.get_cert_store()
            roots = (x509.load_pem_x509_certificates(cadata) if b"-----BEGIN" in cadata
                     else [x509.load_der_x509_certificate(cadata)])
            for root in roots:
                if store is not None:
                    store.add_cert(_x509(root))
                if server_side:  # the CA names a CertificateRequest lists (ISSUER_LIST_EX)
                    ctx.add_client_ca(root)
        else:
            ctx.set_default_verify_paths()
    else:
        ctx.set_verify(SSL.VERIFY_NONE, None)
    cert = policy.certificate
    if cert is not None:
        _use(ctx, cert)
        for der in cert.chain:
            ctx.add_extra_chain_cert(x509.load_der_x509_certificate(der))
    if server_side and (alpn or policy.alpn):
        offered = list(alpn or policy.alpn)

        def select(conn: Any, protocols: list[bytes]) -> Any:
            for mine in offered:
                if mine in protocols:
                    return mine
            # RFC 7301 §3.2: "the server MUST respond with a fatal no_application_protocol
            # alert". An exception here makes OpenSSL send alert 120.
            raise _AlpnMismatch

        ctx.set_alpn_select_callback(select)
    return ctx


def _x509(cert: Any) -> Any:
    """pyOpenSSL ≥ 24.3 takes ``cryptography`` certificates directly (its own X509 objects are
    deprecated); the store's ``add_cert`` still wants its X509."""
    from OpenSSL import crypto

    return crypto.X509.from_cryptography(cert)


def _use(target: Any, cert: CertContext) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    target.use_certificate(cert.certificate)
    target.use_privatekey(load_pem_private_key(cert.key_pem(), None))


class PyOpenSslEngine(Engine):
    """``OpenSSL.SSL.Connection`` with memory BIOs (``Connection(ctx, None)``)."""

    name = "pyopenssl"

    def __init__(self, ctx: Any, server_side: bool, hostname: str | None, session: Any,
                 alpn: tuple[bytes, ...], pause: bool, check_name: bool) -> None:
        self.server_side = server_side
        self._conn = SSL.Connection(ctx, None)
        self._decided = not pause
        self._callback: Callable[..., int] | None = None
        if server_side:
            self._conn.set_accept_state()
        else:
            self._conn.set_connect_state()
            if hostname:
                self._conn.set_tlsext_host_name(hostname.encode("idna"))
                if check_name:
                    self._check_name(hostname)
            if alpn:
                self._conn.set_alpn_protos(list(alpn))
            if session is not None:
                self._conn.set_session(session)
            if pause:
                self._install_cert_cb()

    @classmethod
    def create(cls, credential: SchannelCredential, is_client: bool, request: int,
               target: str | None, alpn: tuple[bytes, ...],
               lookup: Callable[[int], object | None]) -> PyOpenSslEngine:
        _require()
        policy = credential.policy
        if not is_client:
            mutual = bool(request & AscReq.MUTUAL_AUTH)
            ctx = _context(credential, True, False, mutual, alpn)
            return cls(ctx, True, None, None, alpn, False, False)
        manual = policy.manual_validation or bool(request & IscReq.MANUAL_CRED_VALIDATION)
        check = (policy.check_name and target is not None
                 and not request & IscReq.UNVERIFIED_TARGET_NAME and not manual)
        ctx = _context(credential, False, manual, False, ())
        return cls(ctx, False, target, lookup(id(ctx)), alpn,
                   policy.certificate is None, check)

    def _check_name(self, hostname: str) -> None:
        param = _lib.SSL_get0_param(self._conn._ssl)
        try:
            ipaddress.ip_address(hostname)
            packed = ipaddress.ip_address(hostname).packed
            setter = getattr(_lib, "X509_VERIFY_PARAM_set1_ip", None)
            if setter is None or setter(param, packed, len(packed)) != 1:
                raise UnsupportedFunction(
                    "The pyOpenSSL engine cannot check an IP-address target here; use a host "
                    "name, the stdlib engine, or ISC_REQ_MANUAL_CRED_VALIDATION.")
        except ValueError:
            raw = hostname.encode("idna")
            if _lib.X509_VERIFY_PARAM_set1_host(param, raw, len(raw)) != 1:
                raise UnsupportedFunction("The target name cannot be checked.") from None

    def _install_cert_cb(self) -> None:
        def cert_cb(ssl: Any, arg: Any) -> int:
            if self._decided:
                return 1
            self.certificate_requested = True
            self.issuers = tuple(name.der() for name in self._conn.get_client_ca_list())
            return -1

        self._callback = _ffi.callback("int(SSL *, void *)", cert_cb)
        _lib.SSL_set_cert_cb(self._conn._ssl, self._callback, _ffi.NULL)

    def supply_certificate(self, cert: CertContext | None) -> None:
        if cert is not None:
            _use(self._conn, cert)
        self._decided = True

    # -- I/O ---------------------------------------------------------------------------------

    def feed(self, records: bytes | memoryview) -> None:
        self._conn.bio_write(records)

    def take(self) -> bytes:
        out = b""
        while True:
            try:
                chunk = self._conn.bio_read(65536)
            except SSL.WantReadError:
                return out
            if not chunk:
                return out
            out += chunk

    def _error(self, exc: Exception) -> EngineError:
        code = _lib.SSL_get_verify_result(self._conn._ssl)
        reasons = [str(r[2]) for r in getattr(exc, "args", [[]])[0] if isinstance(r, tuple)] \
            if exc.args and isinstance(exc.args[0], list) else [str(exc)]
        text = " ".join(reasons).upper().replace(" ", "_")
        status = status_for(text, code if code else None)
        if (status is SecStatus.SEC_E_ALGORITHM_MISMATCH and self.certificate_requested
                and not self.server_side):
            status = SecStatus.SEC_E_CERT_UNKNOWN
        return EngineError(status, f"TLS failed: {' '.join(reasons) or type(exc).__name__}")

    def handshake(self) -> Progress:
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            return Progress.WANT_READ
        except SSL.WantX509LookupError:
            return Progress.WANT_CERTIFICATE
        except _AlpnMismatch:
            raise EngineError(
                SecStatus.SEC_E_APPLICATION_PROTOCOL_MISMATCH,
                "TLS failed: the client offers no application protocol this server accepts "
                "(no_application_protocol alert sent)") from None
        except SSL.Error as exc:
            raise self._error(exc) from None
        return Progress.DONE

    def read(self) -> bytes | None:
        try:
            data: bytes = self._conn.recv(READ_SIZE)
        except SSL.WantReadError:
            return None
        except SSL.ZeroReturnError:
            return b""
        except SSL.Error as exc:
            raise self._error(exc) from None
        return data

    def write(self, data: bytes | memoryview) -> None:
        if not data:
            return
        try:
            self._conn.sendall(bytes(data))
        except SSL.Error as exc:
            raise self._error(exc) from None

    def flush(self) -> None:
        """pyOpenSSL refuses 0-byte writes; a pending KeyUpdate answer leaves with the next
        record instead (the engine still queues it in front of that record)."""

    def shutdown(self) -> None:
        try:
            self._conn.shutdown()
        except SSL.Error as exc:
            raise self._error(exc) from None

    # -- facts -------------------------------------------------------------------------------

    def version(self) -> str | None:
        name = self._conn.get_protocol_version_name()
        return str(name) if name else None

    def cipher(self) -> tuple[str, str, int] | None:
        name = self._conn.get_cipher_name()
        if name is None:
            return None
        return str(name), self.version() or "", int(self._conn.get_cipher_bits() or 0)

    def peer_certificate(self) -> bytes | None:
        from cryptography.hazmat.primitives.serialization import Encoding

        cert = self._conn.get_peer_certificate(as_cryptography=True)
        return cert.public_bytes(Encoding.DER) if cert is not None else None

    def peer_chain(self) -> tuple[bytes, ...]:
        from cryptography.hazmat.primitives.serialization import Encoding

        chain = self._conn.get_peer_cert_chain(as_cryptography=True) or []
        ders = tuple(c.public_bytes(Encoding.DER) for c in chain)
        if self.server_side:  # OpenSSL leaves the client's leaf out on the server
            leaf = self.peer_certificate()
            if leaf is not None and (not ders or ders[0] != leaf):
                ders = (leaf, *ders)
        return ders

    def selected_alpn(self) -> bytes | None:
        chosen = self._conn.get_alpn_proto_negotiated()
        return bytes(chosen) if chosen else None

    def session(self) -> object | None:
        return self._conn.get_session()

    def session_reused(self) -> bool:
        return bool(_lib.SSL_session_reused(self._conn._ssl))

    def session_id(self) -> bytes:
        sess = self._conn.get_session()
        if sess is None or not hasattr(_lib, "SSL_SESSION_get_id"):
            return b""  # cryptography's binding no longer exports SSL_SESSION_get_id
        size = _ffi.new("unsigned int *")
        raw = _lib.SSL_SESSION_get_id(sess._session, size)
        return bytes(_ffi.buffer(raw, size[0]))

    def tls_unique(self) -> bytes | None:
        """RFC 5929 §3.1: the first Finished of the latest handshake — the client's on a full
        handshake, the server's on a resumption."""
        client_first = not self.session_reused()
        mine = client_first != self.server_side
        value = self._conn.get_finished() if mine else self._conn.get_peer_finished()
        return bytes(value) if value is not None else None

    def export_keying_material(self, label: bytes, length: int, context: bytes | None) -> bytes:
        try:
            return bytes(self._conn.export_keying_material(label, length, context))
        except SSL.Error as exc:
            raise self._error(exc) from None


__all__ = ["PyOpenSslEngine"]
