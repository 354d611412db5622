"""pywin32's ``sspi`` helper classes: ClientAuth and ServerAuth over win32security.

Behaviour follows pywin32's ``win32/Lib/sspi.py``: ``authorize()`` takes the peer's token (raw
bytes or a PySecBufferDescType) and returns ``(err, sec_buffer_out)``; the message helpers use
SECPKG_ATTR_SIZES for buffer sizes and one sequence number per call. ``wrap(msg, encrypt=False)``
and ``unwrap(token) -> (data, was_encrypted)`` keep pywin32's signatures and defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opensspi.compat.pywin32 import _win32security as win32security
from opensspi.compat.pywin32 import sspicon
from opensspi.handles import CtxtRecord
from opensspi.protection import GssDoor, door_for

__all__ = ["ClientAuth", "ServerAuth", "error"]

error = win32security.error


class _BaseAuth:
    ctxt: win32security.PyCtxtHandleType | None
    pkg_info: dict[str, Any]
    scflags: int
    datarep: int

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the context: the next authorize() starts a new handshake."""
        self.ctxt = None
        self.authenticated = False
        self.initiator_name: str | None = None
        self.service_name: str | None = None
        self.next_seq_num = 0
        self._sizes_of: tuple[object, dict[str, int]] | None = None

    def _get_next_seq_num(self) -> int:
        seq = self.next_seq_num
        self.next_seq_num += 1
        return seq

    def _context(self) -> win32security.PyCtxtHandleType:
        if not self.authenticated or self.ctxt is None:
            raise RuntimeError("Not authenticated: finish authorize() first")
        return self.ctxt

    def _sizes(self) -> dict[str, int]:
        """SECPKG_ATTR_SIZES of the established context. pywin32 asks on every message; the
        answer cannot change once the handshake is complete, so it is asked once per context."""
        ctxt = self._context()
        record = ctxt._handle._record
        current = record.context if record is not None else None
        cached = self._sizes_of
        if cached is not None and current is not None and cached[0] is current:
            return cached[1]
        sizes: dict[str, int] = ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_SIZES)
        self._sizes_of = (current, sizes)
        return sizes

    def _wrap_input(self, sec_buffer_in: Any) -> win32security.PySecBufferDescType | None:
        if sec_buffer_in is None or isinstance(sec_buffer_in, win32security.PySecBufferDescType):
            return sec_buffer_in
        if type(sec_buffer_in) is bytes:  # the usual case: what Buffer's setter would keep
            return win32security.token_desc(sec_buffer_in)
        desc = win32security.PySecBufferDescType()
        token = win32security.PySecBufferType(self.pkg_info["MaxToken"], sspicon.SECBUFFER_TOKEN)
        token.Buffer = sec_buffer_in  # raises TypeError for a str, as pywin32 does
        desc.append(token)
        return desc

    def _output(self) -> win32security.PySecBufferDescType:
        return win32security.token_desc(self.pkg_info["MaxToken"])

    def _names(self) -> None:
        """pywin32's ``_amend_ctx_name``: SECPKG_ATTR_NATIVE_NAMES of the completed context."""
        assert self.ctxt is not None
        try:
            names = win32security.native_names(self.ctxt)
            if names is None:
                names = self.ctxt.QueryContextAttributes(sspicon.SECPKG_ATTR_NATIVE_NAMES)
        except win32security.error:
            return
        client, server = names
        self.initiator_name = client or None
        self.service_name = server or None

    # -- message helpers (same shapes as pywin32) --------------------------------------------

    def _fast(self) -> tuple[CtxtRecord, GssDoor] | None:
        """The context's record and :class:`~opensspi.protection.GssDoor` when its messages
        take the fast path, which gives what the buffers below would without building them;
        else None: the buffers' way, which also gives pywin32's errors (not authenticated, a
        deleted context, a package with other shapes)."""
        ctxt = self.ctxt
        if self.authenticated and ctxt is not None:
            record = ctxt._handle._record
            if record is not None:
                door = door_for(record)
                if door is not None:
                    return record, door
        return None

    def encrypt(self, data: bytes) -> tuple[bytes, bytes]:
        """Seal ``data``; returns ``(encrypted_data, trailer)``."""
        ctxt = self.ctxt
        if self.authenticated and ctxt is not None and type(data) is bytes:
            record = ctxt._handle._record  # see _fast(), inlined on this hot path
            door = door_for(record) if record is not None else None
            if record is not None and door is not None:
                self.next_seq_num += 1
                return win32security.door_call(record, "EncryptMessage", door.seal_data, data)
        ctxt = self._context()
        desc = win32security.PySecBufferDescType()
        desc.append(win32security.PySecBufferType(len(data), sspicon.SECBUFFER_DATA))
        desc.append(
            win32security.PySecBufferType(self._sizes()["SecurityTrailer"], sspicon.SECBUFFER_TOKEN)
        )
        desc[0].Buffer = data
        ctxt.EncryptMessage(0, desc, self._get_next_seq_num())
        return desc[0].Buffer, desc[1].Buffer

    def decrypt(self, data: bytes, trailer: bytes) -> bytes:
        """Reverse :meth:`encrypt`."""
        ctxt = self.ctxt
        if self.authenticated and ctxt is not None and type(data) is bytes \
                and type(trailer) is bytes:
            record = ctxt._handle._record  # see _fast(), inlined on this hot path
            door = door_for(record) if record is not None else None
            if record is not None and door is not None:
                self.next_seq_num += 1
                return win32security.door_call(
                    record, "DecryptMessage", door.unseal_data, data, trailer)
        ctxt = self._context()
        desc = win32security.PySecBufferDescType()
        desc.append(win32security.PySecBufferType(len(data), sspicon.SECBUFFER_DATA))
        desc.append(win32security.PySecBufferType(len(trailer), sspicon.SECBUFFER_TOKEN))
        desc[0].Buffer = data
        desc[1].Buffer = trailer
        ctxt.DecryptMessage(desc, self._get_next_seq_num())
        return desc[0].Buffer

    def sign(self, data: bytes) -> bytes:
        """A signature over ``data``."""
        fast = self._fast() if type(data) is bytes else None
        if fast is not None:
            record, door = fast
            return win32security.door_call(
                record, "MakeSignature", door.sign_data, data, self._get_next_seq_num())
        ctxt = self._context()
        desc = win32security.PySecBufferDescType()
        desc.append(win32security.PySecBufferType(len(data), sspicon.SECBUFFER_DATA))
        desc.append(
            win32security.PySecBufferType(self._sizes()["MaxSignature"], sspicon.SECBUFFER_TOKEN)
        )
        desc[0].Buffer = data
        ctxt.MakeSignature(0, desc, self._get_next_seq_num())
        return desc[1].Buffer

    def verify(self, data: bytes, sig: bytes) -> None:
        """Raise ``win32security.error`` unless ``sig`` signs ``data``."""
        fast = self._fast() if type(data) is bytes and type(sig) is bytes else None
        if fast is not None:
            record, door = fast
            win32security.door_call(
                record, "VerifySignature", door.verify_data, data, sig, self._get_next_seq_num())
            return
        ctxt = self._context()
        desc = win32security.PySecBufferDescType()
        desc.append(win32security.PySecBufferType(len(data), sspicon.SECBUFFER_DATA))
        desc.append(win32security.PySecBufferType(len(sig), sspicon.SECBUFFER_TOKEN))
        desc[0].Buffer = data
        desc[1].Buffer = sig
        ctxt.VerifySignature(desc, self._get_next_seq_num())

    def wrap(self, msg: bytes, encrypt: bool = False) -> bytes:
        """GSSAPI wrap: token ‖ data ‖ padding, sealed only when ``encrypt`` (pywin32's default
        is False, which asks for SECQOP_WRAP_NO_ENCRYPT)."""
        ctxt = self._context()
        sizes = self._sizes()
        desc = win32security.PySecBufferDescType()
        trailer = sizes["SecurityTrailer"]
        desc.append(win32security.PySecBufferType(trailer, sspicon.SECBUFFER_TOKEN))
        desc.append(win32security.PySecBufferType(len(msg), sspicon.SECBUFFER_DATA))
        desc.append(win32security.PySecBufferType(sizes["BlockSize"], sspicon.SECBUFFER_PADDING))
        desc[1].Buffer = msg
        fqop = 0 if encrypt else sspicon.SECQOP_WRAP_NO_ENCRYPT
        ctxt.EncryptMessage(fqop, desc, self._get_next_seq_num())
        return desc[0].Buffer + desc[1].Buffer + desc[2].Buffer

    def unwrap(self, token: bytes) -> tuple[bytes, bool]:
        """GSSAPI unwrap (the STREAM + DATA buffer shape): ``(data, was_encrypted)``."""
        ctxt = self._context()
        desc = win32security.PySecBufferDescType()
        desc.append(win32security.PySecBufferType(len(token), sspicon.SECBUFFER_STREAM))
        desc.append(win32security.PySecBufferType(0, sspicon.SECBUFFER_DATA))
        desc[0].Buffer = token
        qop = ctxt.DecryptMessage(desc, self._get_next_seq_num())
        return desc[1].Buffer, qop != sspicon.SECQOP_WRAP_NO_ENCRYPT

    def _acquire(self, pkg_name: str, principal: str | None, use: int, auth_info: Any) -> None:
        self.pkg_info = win32security.QuerySecurityPackageInfo(pkg_name)
        self.credentials, self.credentials_expiry = win32security.AcquireCredentialsHandle(
            principal, self.pkg_info["Name"], use, None, auth_info
        )
        self.ctxt_attr = 0
        self.ctxt_expiry: datetime | None = None

    def _leg(
        self, sec_buffer_in: Any, client: bool, target: str | None,
    ) -> tuple[int, win32security.PySecBufferDescType]:
        """One InitializeSecurityContext (``client``) or AcceptSecurityContext leg, as both of
        pywin32's helpers run it."""
        desc_in = self._wrap_input(sec_buffer_in)
        desc_out = self._output()
        ctxt_in = self.ctxt
        ctxt = self.ctxt = ctxt_in if ctxt_in is not None else win32security.PyCtxtHandleType()
        err, attr, exp = win32security.handshake_leg(
            client, self.credentials, ctxt_in, target, self.scflags, self.datarep, desc_in, ctxt,
            desc_out)
        self.ctxt_attr = attr
        self.ctxt_expiry = exp
        if err in (sspicon.SEC_I_COMPLETE_NEEDED, sspicon.SEC_I_COMPLETE_AND_CONTINUE):
            ctxt.CompleteAuthToken(desc_out)
        self.authenticated = err == 0
        if self.authenticated:
            self._names()
        return err, desc_out


class ClientAuth(_BaseAuth):
    """The client side: ``authorize(server_token)`` until it returns ``err == 0``."""

    def __init__(
        self,
        pkg_name: str,
        client_name: str | None = None,
        auth_info: tuple[str | None, str | None, str | None] | None = None,
        targetspn: str | None = None,
        scflags: int | None = None,
        datarep: int = sspicon.SECURITY_NETWORK_DREP,
    ) -> None:
        if scflags is None:
            scflags = (
                sspicon.ISC_REQ_INTEGRITY | sspicon.ISC_REQ_SEQUENCE_DETECT
                | sspicon.ISC_REQ_REPLAY_DETECT | sspicon.ISC_REQ_CONFIDENTIALITY
            )
        self.scflags = scflags
        self.datarep = datarep
        self.targetspn = targetspn
        self._acquire(pkg_name, client_name, sspicon.SECPKG_CRED_OUTBOUND, auth_info)
        super().__init__()

    def authorize(self, sec_buffer_in: Any) -> tuple[int, win32security.PySecBufferDescType]:
        """One InitializeSecurityContext leg: ``(err, sec_buffer_out)``."""
        return self._leg(sec_buffer_in, True, self.targetspn)


class ServerAuth(_BaseAuth):
    """The server side: ``authorize(client_token)`` until it returns ``err == 0``."""

    def __init__(
        self,
        pkg_name: str,
        spn: str | None = None,
        scflags: int | None = None,
        datarep: int = sspicon.SECURITY_NETWORK_DREP,
    ) -> None:
        self.spn = spn
        self.datarep = datarep
        if scflags is None:
            scflags = (
                sspicon.ASC_REQ_INTEGRITY | sspicon.ASC_REQ_SEQUENCE_DETECT
                | sspicon.ASC_REQ_REPLAY_DETECT | sspicon.ASC_REQ_CONFIDENTIALITY
            )
        self.scflags = scflags
        self._acquire(pkg_name, spn, sspicon.SECPKG_CRED_INBOUND, None)
        super().__init__()

    def authorize(self, sec_buffer_in: Any) -> tuple[int, win32security.PySecBufferDescType]:
        """One AcceptSecurityContext leg: ``(err, sec_buffer_out)``."""
        return self._leg(sec_buffer_in, False, None)
