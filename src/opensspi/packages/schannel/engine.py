"""The TLS engine behind the Schannel context: the standard library's ``ssl`` over memory BIOs.

Reference schannel.md §D.1 (what maps directly) and §D.3 (the hard parts). The context
(:mod:`.machine`) frames records itself (:mod:`.records`) and hands an engine only whole records,
so nothing stays hidden inside OpenSSL; the engine turns those records into handshake progress,
plaintext or failures, and queues the bytes to send.

An engine is any object with :class:`Engine`'s methods. :class:`StdlibEngine` is the default;
:mod:`.engine_pyopenssl` is the optional one for what the standard library cannot do (pausing
on a client-certificate request — ``SEC_I_INCOMPLETE_CREDENTIALS`` — and exporting keying
material). Where neither can do something, the call raises ``SEC_E_UNSUPPORTED_FUNCTION`` saying
so, rather than pretending.

Errors: an engine raises :class:`EngineError` with the Windows status chosen by
:func:`status_for` from OpenSSL's verify code or reason text (§D.1's table), never a bare
``ssl.SSLError``.
"""

from __future__ import annotations

import ssl
import threading
from abc import ABC, abstractmethod
from enum import Enum, auto

from ...constants import SchCred, SecStatus
from ...errors import AlgorithmMismatch, InvalidParameter, UnsupportedFunction
from .credentials import (
    CertContext,
    SchannelCredential,
    TlsPolicy,
    root_pem,
    write_private_files,
)

#: A TLS record carries at most 2^14 plaintext bytes (RFC 8446 §5.1), so one read of this many
#: returns a whole record's data.
READ_SIZE = 2**14 + 1024


class Progress(Enum):
    """What a handshake step reached."""

    DONE = auto()
    WANT_READ = auto()
    WANT_CERTIFICATE = auto()  # paused on a CertificateRequest (pyOpenSSL engine only)


class EngineError(Exception):
    """A TLS failure with the Windows status it maps to (no peer bytes in the message)."""

    def __init__(self, status: SecStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# OpenSSL X509_V_ERR_* codes (x509_vfy.h) -> Windows status (reference §D.1).
_VERIFY_STATUS = {
    2: SecStatus.SEC_E_UNTRUSTED_ROOT,  # unable to get issuer certificate
    3: SecStatus.CRYPT_E_NO_REVOCATION_CHECK,  # unable to get CRL
    7: SecStatus.SEC_E_CERT_UNKNOWN,  # certificate signature failure
    9: SecStatus.SEC_E_CERT_EXPIRED,  # not yet valid
    10: SecStatus.SEC_E_CERT_EXPIRED,
    11: SecStatus.CRYPT_E_REVOCATION_OFFLINE,  # CRL not yet valid
    12: SecStatus.CRYPT_E_REVOCATION_OFFLINE,  # CRL has expired
    18: SecStatus.SEC_E_UNTRUSTED_ROOT,  # self-signed leaf
    19: SecStatus.SEC_E_UNTRUSTED_ROOT,  # self-signed certificate in chain
    20: SecStatus.SEC_E_UNTRUSTED_ROOT,  # unable to get local issuer certificate
    21: SecStatus.SEC_E_UNTRUSTED_ROOT,  # unable to verify the first certificate
    23: SecStatus.CRYPT_E_REVOKED,
    24: SecStatus.SEC_E_UNTRUSTED_ROOT,  # invalid CA certificate
    26: SecStatus.SEC_E_CERT_WRONG_USAGE,  # unsupported certificate purpose
    27: SecStatus.SEC_E_UNTRUSTED_ROOT,  # certificate not trusted
    62: SecStatus.SEC_E_WRONG_PRINCIPAL,  # hostname mismatch
    64: SecStatus.SEC_E_WRONG_PRINCIPAL,  # IP address mismatch
}

# OpenSSL reason names -> Windows status; the first fragment found wins.
_REASON_STATUS = (
    ("NO_APPLICATION_PROTOCOL", SecStatus.SEC_E_APPLICATION_PROTOCOL_MISMATCH),
    ("CERTIFICATE_REQUIRED", SecStatus.SEC_E_CERT_UNKNOWN),
    ("PEER_DID_NOT_RETURN_A_CERTIFICATE", SecStatus.SEC_E_CERT_UNKNOWN),
    ("CERTIFICATE_EXPIRED", SecStatus.SEC_E_CERT_EXPIRED),
    ("UNKNOWN_CA", SecStatus.SEC_E_UNTRUSTED_ROOT),
    ("BAD_CERTIFICATE", SecStatus.SEC_E_CERT_UNKNOWN),
    ("UNSUPPORTED_CERTIFICATE", SecStatus.SEC_E_CERT_UNKNOWN),
    ("CERTIFICATE_UNKNOWN", SecStatus.SEC_E_CERT_UNKNOWN),
    ("BAD_RECORD_MAC", SecStatus.SEC_E_DECRYPT_FAILURE),
    ("DECRYPTION_FAILED", SecStatus.SEC_E_DECRYPT_FAILURE),
    ("DECRYPT_ERROR", SecStatus.SEC_E_DECRYPT_FAILURE),
    ("PROTOCOL_VERSION", SecStatus.SEC_E_UNSUPPORTED_FUNCTION),
    ("UNSUPPORTED_PROTOCOL", SecStatus.SEC_E_UNSUPPORTED_FUNCTION),
    ("WRONG_VERSION_NUMBER", SecStatus.SEC_E_ILLEGAL_MESSAGE),
    ("NO_PROTOCOLS_AVAILABLE", SecStatus.SEC_E_ALGORITHM_MISMATCH),
    ("NO_SHARED_CIPHER", SecStatus.SEC_E_ALGORITHM_MISMATCH),
    ("NO_CIPHERS_AVAILABLE", SecStatus.SEC_E_ALGORITHM_MISMATCH),
    ("NO_SUITABLE", SecStatus.SEC_E_ALGORITHM_MISMATCH),
    ("INSUFFICIENT_SECURITY", SecStatus.SEC_E_ALGORITHM_MISMATCH),
    ("HANDSHAKE_FAILURE", SecStatus.SEC_E_ALGORITHM_MISMATCH),
    ("UNEXPECTED_MESSAGE", SecStatus.SEC_E_ILLEGAL_MESSAGE),
)


def status_for(reason: str | None, verify_code: int | None) -> SecStatus:
    """The Windows status for an OpenSSL failure (verify code first, then the reason text)."""
    if verify_code is not None and verify_code in _VERIFY_STATUS:
        return _VERIFY_STATUS[verify_code]
    if verify_code:
        return SecStatus.SEC_E_CERT_UNKNOWN
    text = (reason or "").upper()
    for fragment, status in _REASON_STATUS:
        if fragment in text:
            return status
    return SecStatus.SEC_E_ILLEGAL_MESSAGE


class Engine(ABC):
    """What the Schannel context needs from a TLS implementation."""

    name: str
    server_side: bool
    #: DER distinguished names from the peer's CertificateRequest (ISSUER_LIST_EX).
    issuers: tuple[bytes, ...] = ()
    #: Whether the peer asked for a client certificate.
    certificate_requested: bool = False

    @abstractmethod
    def feed(self, records: bytes | memoryview) -> None:
        """Give the engine whole records received from the peer."""

    @abstractmethod
    def take(self) -> bytes:
        """The bytes the engine queued for the peer (and forget them)."""

    #: Whether :meth:`unread` can give back fed bytes the engine did not consume; then a
    #: handshake leg feeds all whole records at once instead of one at a time.
    reclaims_input: bool = False

    def unread(self) -> bytes:
        """Fed bytes the engine has not read (OpenSSL reads record by record, no read-ahead),
        removed from its input; they are the leg's SECBUFFER_EXTRA."""
        raise UnsupportedFunction(f"The {self.name} engine cannot give back unread input.")

    @abstractmethod
    def handshake(self) -> Progress:
        """Advance the handshake with what was fed; raises :class:`EngineError`."""

    @abstractmethod
    def read(self) -> bytes | None:
        """Process the fed record: its plaintext, ``b""`` on close_notify, or None when it
        carried nothing for the application (a post-handshake message)."""

    def read_all(self) -> tuple[list[bytes], bool]:
        """Process every fed record: the plaintext chunks in order, and whether a close_notify
        ended them (the records after it stay unread)."""
        chunks: list[bytes] = []
        while True:
            chunk = self.read()
            if chunk is None:
                return chunks, False
            if not chunk:
                return chunks, True
            chunks.append(chunk)

    def open_record(self, record: bytes | memoryview) -> bytes | None:
        """:meth:`feed` one whole record and :meth:`read` it (DecryptMessage's step)."""
        self.feed(record)
        return self.read()

    @abstractmethod
    def write(self, data: bytes | memoryview) -> None:
        """Encrypt ``data`` (≤ 2^14 bytes: one record) into the outgoing queue."""

    def write_record(self, data: bytes | memoryview, header: int) -> tuple[bytes, bytes, bytes]:
        """Encrypt ``data`` (≤ 2^14 bytes) as one record and take it, cut into the
        EncryptMessage buffers: the first ``header`` bytes, the ciphertext of ``data`` (as long
        as ``data``), and the trailer (the rest)."""
        self.write(data)
        record = self.take()
        end = header + len(data)
        return record[:header], record[header:end], record[end:]

    @abstractmethod
    def flush(self) -> None:
        """Queue whatever the engine owes the peer with no application data (a KeyUpdate
        answer)."""

    @abstractmethod
    def shutdown(self) -> None:
        """Queue a close_notify alert."""

    def supply_certificate(self, cert: CertContext | None) -> None:
        """Resume a handshake paused on a CertificateRequest (None: go on without)."""
        raise UnsupportedFunction(
            f"The {self.name} TLS engine cannot add a client certificate to a running "
            "handshake; acquire the credential with engine='pyopenssl' to get "
            "SEC_I_INCOMPLETE_CREDENTIALS, or put the certificate in paCred beforehand."
        )

    @abstractmethod
    def version(self) -> str | None: ...

    @abstractmethod
    def cipher(self) -> tuple[str, str, int] | None: ...

    @abstractmethod
    def peer_certificate(self) -> bytes | None: ...

    def peer_chain(self) -> tuple[bytes, ...]:
        """The peer's chain as sent (leaf first), where the engine can give it."""
        leaf = self.peer_certificate()
        return (leaf,) if leaf is not None else ()

    @abstractmethod
    def selected_alpn(self) -> bytes | None: ...

    @abstractmethod
    def session(self) -> object | None: ...

    @abstractmethod
    def session_reused(self) -> bool: ...

    @abstractmethod
    def session_id(self) -> bytes: ...

    @abstractmethod
    def tls_unique(self) -> bytes | None: ...

    def export_keying_material(self, label: bytes, length: int, context: bytes | None) -> bytes:
        raise UnsupportedFunction(
            f"The {self.name} TLS engine cannot export keying material (RFC 5705); acquire the "
            "credential with engine='pyopenssl'."
        )


# -- the standard library engine -------------------------------------------------------------


def _parse_ca_list(body: bytes, tls13: bool) -> tuple[bytes, ...]:
    """The DER names of a CertificateRequest body (RFC 5246 §7.4.4, RFC 8446 §4.3.2 and its
    certificate_authorities extension, §4.2.4). Malformed input gives an empty list."""
    try:
        at = 0
        if tls13:
            at = 1 + body[0]
            ext_end = at + 2 + int.from_bytes(body[at:at + 2], "big")
            at += 2
            while at < ext_end:
                kind = int.from_bytes(body[at:at + 2], "big")
                size = int.from_bytes(body[at + 2:at + 4], "big")
                if kind == 47:
                    return _names(body[at + 4:at + 4 + size])
                at += 4 + size
            return ()
        at = 1 + body[0]
        at += 2 + int.from_bytes(body[at:at + 2], "big")
        return _names(body[at:])
    except IndexError:
        return ()


def _names(data: bytes) -> tuple[bytes, ...]:
    end = 2 + int.from_bytes(data[:2], "big")
    at = 2
    names = []
    while at + 2 <= end:
        size = int.from_bytes(data[at:at + 2], "big")
        names.append(bytes(data[at + 2:at + 2 + size]))
        at += 2 + size
    return tuple(names)


class HandshakeWatch:
    """Read the peer's plaintext handshake messages (before its ChangeCipherSpec) to notice a
    TLS 1.2 CertificateRequest and keep its CA list for ISSUER_LIST_EX.

    Our framer sees every record anyway, so this costs nothing per data record — unlike
    OpenSSL's message callback, which takes Python's GIL for every record in both directions.
    Deviation: a TLS 1.3 CertificateRequest is encrypted and stays invisible to the standard
    library engine (use ``engine="pyopenssl"`` for its issuer list).
    """

    __slots__ = ("_pending", "done", "issuers", "requested")

    def __init__(self) -> None:
        self._pending = b""
        self.done = False
        self.requested = False
        self.issuers: tuple[bytes, ...] = ()

    def records(self, data: bytes | memoryview) -> None:
        at = 0
        have = len(data)
        while at + 5 <= have:
            kind = data[at]
            size = (data[at + 3] << 8) | data[at + 4]
            if kind == 20 or kind == 23:  # ChangeCipherSpec / encrypted: nothing more to see
                self.done = True
                return
            if kind == 22:
                self._messages(bytes(data[at + 5:at + 5 + size]))
            at += 5 + size

    def _messages(self, body: bytes) -> None:
        buf = self._pending + body if self._pending else body
        at = 0
        have = len(buf)
        while have - at >= 4:
            end = at + 4 + ((buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3])
            if end > have:
                break
            if buf[at] == 13:
                self.requested = True
                self.issuers = _parse_ca_list(buf[at + 4:end], False)
            at = end
        self._pending = buf[at:]


_CTX_LOCK = threading.Lock()


def stdlib_context(
    credential: SchannelCredential, server_side: bool, *, manual: bool, check_name: bool,
    mutual: bool, alpn: tuple[bytes, ...],
) -> ssl.SSLContext:
    """The credential's ``ssl.SSLContext`` for these settings, made once and reused (so TLS
    sessions and tickets stay valid across its connections)."""
    key = ("stdlib", server_side, manual, check_name, mutual, alpn)
    found = credential.engine_contexts.get(key)  # a dict read is atomic: no lock to find one
    if isinstance(found, ssl.SSLContext):
        return found
    with _CTX_LOCK:
        found = credential.engine_contexts.get(key)
        if isinstance(found, ssl.SSLContext):
            return found
        ctx = _new_context(credential.policy, server_side, manual, check_name, mutual, alpn)
        credential.engine_contexts[key] = ctx
        return ctx


def _new_context(policy: TlsPolicy, server_side: bool, manual: bool, check_name: bool,
                 mutual: bool, alpn: tuple[bytes, ...]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = policy.min_version
    ctx.maximum_version = policy.max_version
    suites = policy.tls13_suites
    if suites is not None and len(suites) < 3 and policy.max_version >= ssl.TLSVersion.TLSv1_3:
        if suites:
            raise UnsupportedFunction(
                "The standard library cannot restrict TLS 1.3 cipher suites; acquire the "
                "credential with engine='pyopenssl', or disable TLS 1.3."
            )
        if policy.min_version >= ssl.TLSVersion.TLSv1_3:
            raise AlgorithmMismatch("The cipher restrictions leave no TLS 1.3 suite.")
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ciphers = policy.ciphers
    if policy.min_version < ssl.TLSVersion.TLSv1_2:
        ciphers = (ciphers or "DEFAULT") + ":@SECLEVEL=0"
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise AlgorithmMismatch(
                "The cipher restrictions leave no cipher suite OpenSSL offers."
            ) from None
    verify = not manual if not server_side else mutual
    if server_side:
        ctx.verify_mode = ssl.CERT_OPTIONAL if mutual else ssl.CERT_NONE
    else:
        ctx.check_hostname = verify and check_name
        ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    if verify:
        cafile, cadata = root_pem(policy.roots)
        if cafile is None and cadata is None:
            ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH if server_side
                                   else ssl.Purpose.SERVER_AUTH)
        else:
            try:
                ctx.load_verify_locations(
                    cafile=cafile,
                    cadata=cadata.decode("ascii") if cadata and b"-----BEGIN" in cadata
                    else cadata)
            except (ssl.SSLError, OSError, UnicodeDecodeError) as exc:
                raise InvalidParameter(f"hRootStore could not be loaded ({exc}).") from None
        _load_crls(ctx, policy)
    if policy.certificate is not None:
        tmp, cert_path, key_path = write_private_files(policy.certificate)
        with tmp:
            ctx.load_cert_chain(cert_path, key_path)
    protocols = alpn or policy.alpn
    if protocols:
        ctx.set_alpn_protocols([p.decode("latin-1") for p in protocols])
    return ctx


def _load_crls(ctx: ssl.SSLContext, policy: TlsPolicy) -> None:
    """Honour SCH_CRED_REVOCATION_CHECK_* when CRLs were given (reference §D.3 item 8)."""
    if not policy.crls:
        return
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    pem = b""
    for crl in policy.crls:
        loaded = (x509.load_pem_x509_crl(crl) if b"-----BEGIN" in crl
                  else x509.load_der_x509_crl(crl))
        pem += loaded.public_bytes(Encoding.PEM)
    with tempfile.NamedTemporaryFile(suffix=".pem") as f:
        f.write(pem)
        f.flush()
        ctx.load_verify_locations(cafile=f.name)
    if policy.flags & (SchCred.REVOCATION_CHECK_CHAIN
                       | SchCred.REVOCATION_CHECK_CHAIN_EXCLUDE_ROOT):
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
    elif policy.flags & SchCred.REVOCATION_CHECK_END_CERT:
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF


_HOSTNAMES: dict[str, bytes] = {}


def _idna(hostname: str) -> bytes:
    """``hostname`` IDNA-encoded as ``ssl`` does it for SNI and the name check, remembered (at
    most 256): the codec is pure Python and runs for every client connection otherwise. Handing
    ``wrap_bio`` the ASCII bytes gives the same SSLObject."""
    found = _HOSTNAMES.get(hostname)
    if found is None:
        found = hostname.encode("idna")
        if len(_HOSTNAMES) >= 256:
            _HOSTNAMES.clear()
        _HOSTNAMES[hostname] = found
    return found


class StdlibEngine(Engine):
    """``ssl.SSLObject`` over two ``ssl.MemoryBIO``s."""

    name = "stdlib"

    def __init__(self, ctx: ssl.SSLContext, server_side: bool, hostname: str | None,
                 session: object | None) -> None:
        self.server_side = server_side
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(
            self._in, self._out, server_side=server_side,
            server_hostname=_idna(hostname) if hostname else hostname,
            session=session if type(session) is ssl.SSLSession else None)
        self._watch: HandshakeWatch | None = None if server_side else HandshakeWatch()

    def feed(self, records: bytes | memoryview) -> None:
        watch = self._watch
        if watch is not None:
            watch.records(records)
            if watch.done:
                self._watch = None
            if watch.requested:
                self.certificate_requested = True
                self.issuers = watch.issuers
        self._in.write(records)

    def take(self) -> bytes:
        return self._out.read() if self._out.pending else b""

    reclaims_input = True

    def unread(self) -> bytes:
        return self._in.read() if self._in.pending else b""

    def handshake(self) -> Progress:
        try:
            self._obj.do_handshake()
        except ssl.SSLWantReadError:
            return Progress.WANT_READ
        except ssl.SSLError as exc:
            raise self._error(exc) from None
        return Progress.DONE

    def _error(self, exc: ssl.SSLError) -> EngineError:
        code = getattr(exc, "verify_code", None)
        # Python's reason table lacks some OpenSSL 3 reasons (alert 120): fall back to the text.
        reason = getattr(exc, "reason", None) or str(exc).upper().replace(" ", "_")
        status = status_for(reason, code)
        detail = getattr(exc, "verify_message", None) or reason or type(exc).__name__
        if (status is SecStatus.SEC_E_ALGORITHM_MISMATCH and self.certificate_requested
                and not self.server_side):
            status = SecStatus.SEC_E_CERT_UNKNOWN
            detail += " (the server asked for a client certificate and none was sent)"
        return EngineError(status, f"TLS failed: {detail}")

    def read(self) -> bytes | None:
        try:
            return self._obj.read(READ_SIZE)
        except ssl.SSLWantReadError:
            return None
        except ssl.SSLZeroReturnError:
            return b""
        except ssl.SSLError as exc:
            raise self._error(exc) from None

    def open_record(self, record: bytes | memoryview) -> bytes | None:
        # feed() and read() in one call: this runs once per record of a DecryptMessage loop.
        if self._watch is not None:
            self.feed(record)
        else:
            self._in.write(record)
        return self.read()

    def read_all(self) -> tuple[list[bytes], bool]:
        # OpenSSL reads record by record without read-ahead, and READ_SIZE holds any record's
        # plaintext: while fed bytes remain, another record waits. Stopping there saves the
        # SSLWantReadError a last read() would raise on every batch.
        chunks: list[bytes] = []
        incoming = self._in
        read = self._obj.read
        try:
            while incoming.pending:
                chunk = read(READ_SIZE)
                if not chunk:  # close_notify (Python returns b"" for a clean one)
                    return chunks, True
                chunks.append(chunk)
        except ssl.SSLWantReadError:
            pass  # the last records carried no application data (a NewSessionTicket)
        except ssl.SSLZeroReturnError:
            return chunks, True
        except ssl.SSLError as exc:
            raise self._error(exc) from None
        return chunks, False

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._obj.write(data)
        except ssl.SSLError as exc:
            raise self._error(exc) from None

    def write_record(self, data: bytes | memoryview, header: int) -> tuple[bytes, bytes, bytes]:
        # Three reads out of the BIO instead of one read and three slices: the same cut, with
        # the 16 KiB body copied once instead of twice.
        try:
            self._obj.write(data)
        except ssl.SSLError as exc:
            raise self._error(exc) from None
        out = self._out
        return out.read(header), out.read(len(data)), out.read()

    def flush(self) -> None:
        try:
            self._obj.write(b"")
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        except ssl.SSLError as exc:
            raise self._error(exc) from None

    def shutdown(self) -> None:
        try:
            self._obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass  # close_notify is queued; the peer's answer is not awaited (Schannel doesn't)
        except ssl.SSLError as exc:
            raise self._error(exc) from None

    def version(self) -> str | None:
        return self._obj.version()

    def cipher(self) -> tuple[str, str, int] | None:
        return self._obj.cipher()

    def peer_certificate(self) -> bytes | None:
        try:
            return self._obj.getpeercert(binary_form=True)
        except ValueError:
            return None

    def peer_chain(self) -> tuple[bytes, ...]:
        getter = getattr(self._obj, "get_unverified_chain", None)  # Python 3.13+
        if getter is not None:
            chain = [c for c in getter() if isinstance(c, bytes)]  # DER, leaf first
            if chain:
                return tuple(chain)
        return super().peer_chain()

    def selected_alpn(self) -> bytes | None:
        chosen = self._obj.selected_alpn_protocol()
        return chosen.encode("latin-1") if chosen else None

    def session(self) -> object | None:
        return self._obj.session

    def session_reused(self) -> bool:
        return bool(self._obj.session_reused)

    def session_id(self) -> bytes:
        sess = self._obj.session
        return bytes(sess.id) if sess is not None else b""

    def tls_unique(self) -> bytes | None:
        return self._obj.get_channel_binding("tls-unique")


__all__ = [
    "READ_SIZE",
    "Engine",
    "EngineError",
    "Progress",
    "StdlibEngine",
    "status_for",
    "stdlib_context",
]
