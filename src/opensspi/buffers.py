"""SecBuffer and SecBufferDesc: caller-owned buffers that SSPI functions read and fill in place.

Mirrors the Windows structures: ``SecBuffer{cbBuffer, BufferType, pvBuffer}`` and
``SecBufferDesc{ulVersion, cBuffers, pBuffers}``. ``BufferType`` keeps the attribute bits
(``SECBUFFER_READONLY``...) as Windows does; :attr:`SecBuffer.kind` gives the type alone.

An output buffer is created with a size (``SecBuffer(SECBUFFER_TOKEN, 12000)``); the call writes
the produced bytes into it and sets ``cbBuffer``. Writing more than the buffer can hold raises
:class:`~opensspi.errors.BufferTooSmall` unless the caller asked for ``*_REQ_ALLOCATE_MEMORY``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .constants import SECBUFFER_ATTRMASK, SECBUFFER_VERSION, SecBufferAttr, SecBufferType
from .errors import BufferTooSmall, InvalidParameter, InvalidToken


class SecBuffer:
    """One buffer: a type (with attribute bits) and a byte area that the call may fill."""

    __slots__ = ("BufferType", "_capacity", "_data", "allocated")

    def __init__(self, buffer_type: int, data_or_size: bytes | bytearray | memoryview | int = 0):
        self.BufferType = int(buffer_type)
        self.allocated = False
        if type(data_or_size) is bytes:  # the common input buffer, held as it is
            self._data: bytes = data_or_size
            self._capacity: int | None = None
            return
        if type(data_or_size) is int and data_or_size >= 0:  # the common output buffer
            self._capacity = data_or_size
            self._data = b""
            return
        if isinstance(data_or_size, int):
            if data_or_size < 0:
                raise InvalidParameter("A SecBuffer size cannot be negative.")
            self._capacity = data_or_size
            self._data = b""
        else:
            self._data = bytes(data_or_size)
            self._capacity = None

    @property
    def kind(self) -> int:
        """The buffer type without attribute bits (compare with ``SecBufferType``)."""
        return self.BufferType & ~SECBUFFER_ATTRMASK

    @property
    def readonly(self) -> bool:
        return bool(self.BufferType & SecBufferAttr.READONLY)

    @property
    def readonly_with_checksum(self) -> bool:
        return bool(self.BufferType & SecBufferAttr.READONLY_WITH_CHECKSUM)

    @property
    def buffer(self) -> bytes:
        """The bytes the buffer holds now (``pvBuffer[:cbBuffer]``)."""
        return self._data

    @buffer.setter
    def buffer(self, value: bytes) -> None:
        self._data = value if type(value) is bytes else bytes(value)
        self._capacity = None

    @property
    def cbBuffer(self) -> int:  # noqa: N802 - Windows field name
        return len(self._data) if self._capacity is None else self._capacity

    @property
    def capacity(self) -> int:
        """How many bytes a call may write into this buffer."""
        return len(self._data) if self._capacity is None else self._capacity

    def ensure_room(self, size: int, allocate: bool = False) -> None:
        """Check, before a call changes any state, that ``size`` bytes will fit.

        Raises:
            BufferTooSmall: they do not fit and the caller did not ask for allocation.
        """
        if not allocate and self._capacity is not None and size > self._capacity:
            raise BufferTooSmall(
                f"The output buffer holds {self._capacity} bytes but {size} are needed; "
                "pass a larger SecBuffer (see QuerySecurityPackageInfo().cbMaxToken or "
                "QueryContextAttributes(SECPKG_ATTR_SIZES)) or request ALLOCATE_MEMORY."
            )

    def fill(self, data: bytes, allocate: bool) -> None:
        """Write ``data`` as a call's output, honouring the buffer's size.

        Raises:
            BufferTooSmall: ``data`` does not fit and the caller did not ask for allocation.
        """
        if not allocate and self._capacity is not None and len(data) > self._capacity:
            self.ensure_room(len(data))  # raises BufferTooSmall
        self._data = data
        self._capacity = None
        self.allocated = allocate

    def set_count(self, count: int) -> None:
        """Hold no bytes but report ``cbBuffer`` = ``count`` (SECBUFFER_MISSING's shape)."""
        self._data = b""
        self._capacity = count

    def __repr__(self) -> str:
        kind = self.kind
        name = SecBufferType(kind).name if kind in SecBufferType._value2member_map_ else str(kind)
        attrs = ""
        if self.BufferType & SECBUFFER_ATTRMASK:
            attrs = f"|{SecBufferAttr(self.BufferType & SECBUFFER_ATTRMASK)!r}"
        return f"SecBuffer({name}{attrs}, {self.cbBuffer} bytes)"


class SecBufferDesc(list[SecBuffer]):
    """An ordered list of SecBuffers (``SecBufferDesc``).

    A ``list`` of :class:`SecBuffer`, so that building one and reading ``desc[i]`` — which a
    C-style program does for every message — cost no Python-level call. ``ulVersion`` is
    ``SECBUFFER_VERSION``, the only value Windows accepts. Descriptors compare and hash by
    identity, as the structures they stand for do.
    """

    __slots__ = ()
    ulVersion = SECBUFFER_VERSION  # noqa: N815 - Windows field name
    __hash__ = object.__hash__  # type: ignore[assignment]
    __eq__ = object.__eq__
    __ne__ = object.__ne__

    @property
    def buffers(self) -> list[SecBuffer]:
        """The buffers, in order (the descriptor itself)."""
        return self

    @property
    def cBuffers(self) -> int:  # noqa: N802 - Windows field name
        return len(self)

    def first(self, kind: int) -> SecBuffer | None:
        """The first buffer of type ``kind`` (attribute bits ignored), or None."""
        for buf in self:
            if buf.kind == kind:
                return buf
        return None

    def all(self, kind: int) -> list[SecBuffer]:
        return [buf for buf in self if buf.kind == kind]

    def __repr__(self) -> str:
        return f"SecBufferDesc({list.__repr__(self)})"


_CB_HEADER = struct.Struct("<8I")


@dataclass(frozen=True, slots=True)
class ChannelBindings:
    """``SEC_CHANNEL_BINDINGS`` / ``gss_channel_bindings_struct`` (RFC 2744 3.11)."""

    initiator_addrtype: int = 0
    initiator_address: bytes = b""
    acceptor_addrtype: int = 0
    acceptor_address: bytes = b""
    application_data: bytes = b""

    @classmethod
    def from_application_data(cls, data: bytes) -> ChannelBindings:
        """Bindings that carry only application data (``tls-server-end-point:...``)."""
        return cls(application_data=bytes(data))

    @classmethod
    def parse(cls, data: bytes) -> ChannelBindings:
        """Parse the 32-byte SEC_CHANNEL_BINDINGS header and the areas it points to.

        Raises:
            InvalidToken: the header is short or an offset points outside the buffer.
        """
        if len(data) < _CB_HEADER.size:
            raise InvalidToken(
                f"SECBUFFER_CHANNEL_BINDINGS holds {len(data)} bytes; a SEC_CHANNEL_BINDINGS "
                "structure needs at least 32."
            )
        (i_type, i_len, i_off, a_type, a_len, a_off, d_len, d_off) = _CB_HEADER.unpack_from(data)

        def area(length: int, offset: int, what: str) -> bytes:
            if length == 0:
                return b""
            if offset + length > len(data):
                raise InvalidToken(
                    f"SEC_CHANNEL_BINDINGS {what} ({length} bytes at offset {offset}) lies "
                    f"outside the {len(data)}-byte buffer."
                )
            return data[offset : offset + length]

        return cls(
            i_type,
            area(i_len, i_off, "initiator address"),
            a_type,
            area(a_len, a_off, "acceptor address"),
            area(d_len, d_off, "application data"),
        )

    def build(self) -> bytes:
        """Serialize as SEC_CHANNEL_BINDINGS (header then the three areas)."""
        off = _CB_HEADER.size
        i_off = off
        a_off = i_off + len(self.initiator_address)
        d_off = a_off + len(self.acceptor_address)
        header = _CB_HEADER.pack(
            self.initiator_addrtype, len(self.initiator_address), i_off,
            self.acceptor_addrtype, len(self.acceptor_address), a_off,
            len(self.application_data), d_off,
        )
        return header + self.initiator_address + self.acceptor_address + self.application_data

    def gss_encoding(self) -> bytes:
        """The flat encoding hashed by NTLM and Kerberos (RFC 4121 4.1.1.2 / MS-NLMP 3.1.5.1.2)."""
        return b"".join(
            (
                self.initiator_addrtype.to_bytes(4, "little"),
                len(self.initiator_address).to_bytes(4, "little"),
                self.initiator_address,
                self.acceptor_addrtype.to_bytes(4, "little"),
                len(self.acceptor_address).to_bytes(4, "little"),
                self.acceptor_address,
                len(self.application_data).to_bytes(4, "little"),
                self.application_data,
            )
        )
