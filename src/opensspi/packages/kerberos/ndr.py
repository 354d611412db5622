"""A reader for the NDR the PAC is written in: MS-RPCE type serialization version 1.

[MS-RPCE] 2.2.6 "Type Serialization Version 1" wraps one top-level NDR stream (transfer syntax
NDR 2.0, [C706] chapter 14) in a common header and a private header; MS-PAC 2.4 and 2.5 store
KERB_VALIDATION_INFO that way. Only what the PAC needs is here, read the way [C706] 14.3 lays
it out:

- primitive types little-endian (the common header must say so: Endianness 0x10), each aligned
  to its size from the start of the stream (14.2.2);
- ``[unique]`` embedded pointers (14.3.12.3): a 4-byte referent ID, non-zero when the pointee
  is present; the pointee itself follows the structure that holds the pointer ("deferred"), in
  the order the pointers appeared — the caller reads the fixed part, then the pointees;
- conformant arrays (14.3.3.2): the maximum count (4 bytes) precedes the elements; for a
  structure ending in one (``RPC_SID``) it is hoisted in front of the structure (14.3.7.1);
- conformant varying arrays (14.3.3.4): maximum count, offset, actual count, then the elements
  — how ``RPC_UNICODE_STRING.Buffer`` ([MS-DTYP] 2.3.10) is sent.

https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rpce/
https://pubs.opengroup.org/onlinepubs/9629399/chap14.htm

Rules of this module: it only reads; every length and count is checked against the bytes left
before anything is allocated; every failure is :class:`~opensspi.errors.DecodeError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import DecodeError

__all__ = ["NdrReader", "RpcUnicodeString", "format_sid", "parse_sid", "serialized_stream"]

_COMMON_HEADER = 8
_PRIVATE_HEADER = 8


def serialized_stream(data: bytes) -> bytes:
    """The NDR stream inside a type serialization version 1 buffer ([MS-RPCE] 2.2.6).

    [MS-RPCE] 2.2.6.1 Common Type Header::

        Version (1 byte) = 1 | Endianness (1 byte) = 0x10 little-endian |
        CommonHeaderLength (2 bytes) = 8 | Filler (4 bytes) = 0xcccccccc

    2.2.6.2 Private Header for Constructed Type::

        ObjectBufferLength (4 bytes) | Filler (4 bytes) = 0x00000000

    Deviation: the fillers are not checked (Windows and Samba write the values above; nothing
    depends on them).

    Raises:
        DecodeError: a short buffer, another version or byte order, or a length past the end.
    """
    if len(data) < _COMMON_HEADER + _PRIVATE_HEADER:
        raise DecodeError(f"An NDR type serialization needs 16 header bytes, not {len(data)}.")
    version, endianness, header_length = struct.unpack_from("<BBH", data, 0)
    if version != 1:
        raise DecodeError(f"NDR type serialization version {version} is not 1.")
    if endianness != 0x10:
        raise DecodeError(
            f"NDR endianness {endianness:#04x} is not little-endian (0x10); big-endian PACs "
            "do not exist."
        )
    if header_length != _COMMON_HEADER:
        raise DecodeError(f"NDR common header length {header_length} is not 8.")
    (length,) = struct.unpack_from("<I", data, _COMMON_HEADER)
    start = _COMMON_HEADER + _PRIVATE_HEADER
    if length > len(data) - start:
        raise DecodeError(
            f"The NDR object buffer claims {length} bytes; only {len(data) - start} follow."
        )
    return data[start : start + length]


@dataclass(frozen=True, slots=True)
class RpcUnicodeString:
    """[MS-DTYP] 2.3.10 RPC_UNICODE_STRING's fixed part: lengths in bytes, and the pointer."""

    length: int
    maximum_length: int
    present: bool


class NdrReader:
    """Reads NDR 2.0 (little-endian) from one stream; alignment counts from its start."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def align(self, size: int) -> None:
        self.pos += -self.pos % size
        if self.pos > len(self.data):
            raise DecodeError("The NDR stream ends inside alignment padding.")

    def take(self, count: int) -> bytes:
        if count < 0 or count > self.remaining():
            raise DecodeError(
                f"The NDR stream needs {count} more bytes at offset {self.pos}; "
                f"{self.remaining()} are left."
            )
        out = self.data[self.pos : self.pos + count]
        self.pos += count
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        self.align(2)
        value: int = struct.unpack("<H", self.take(2))[0]
        return value

    def u32(self) -> int:
        self.align(4)
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def filetime(self) -> int:
        """A FILETIME ([MS-DTYP] 2.3.3): two 4-byte halves, low first (alignment 4)."""
        low = self.u32()
        return low | (self.u32() << 32)

    def pointer(self) -> bool:
        """A ``[unique]`` embedded pointer's referent ID: whether a pointee follows later."""
        return self.u32() != 0

    def count(self, element_size: int, what: str) -> int:
        """A conformance (maximum count), checked against the bytes left for its elements."""
        value = self.u32()
        if value * element_size > self.remaining():
            raise DecodeError(
                f"{what} claims {value} elements of {element_size} bytes; only "
                f"{self.remaining()} bytes are left."
            )
        return value

    def unicode_string(self) -> RpcUnicodeString:
        """RPC_UNICODE_STRING's fixed part: Length, MaximumLength (bytes), Buffer pointer."""
        length = self.u16()
        maximum = self.u16()
        return RpcUnicodeString(length, maximum, self.pointer())

    def unicode_buffer(self, header: RpcUnicodeString, what: str) -> str:
        """The deferred ``Buffer`` of an RPC_UNICODE_STRING: a conformant varying WCHAR array.

        [MS-DTYP] 2.3.10: ``[size_is(MaximumLength/2), length_is(Length/2)] WCHAR* Buffer``.
        """
        if not header.present:
            return ""
        maximum = self.count(0, what)
        offset = self.u32()
        actual = self.count(2, what)
        if offset != 0 or actual > maximum:
            raise DecodeError(
                f"{what}: a varying array with offset {offset} and {actual} of {maximum} "
                "elements."
            )
        if header.length % 2 or header.length != actual * 2:
            raise DecodeError(
                f"{what}: Length {header.length} does not match the {actual} characters sent."
            )
        raw = self.take(actual * 2)
        self.align(4)
        try:
            return raw.decode("utf-16-le")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{what} is not valid UTF-16: {exc}") from None

    def sid(self, what: str) -> str:
        """A deferred RPC_SID ([MS-DTYP] 2.4.2.3), conformance hoisted in front: its text form.

        ::

            unsigned char Revision; unsigned char SubAuthorityCount;
            RPC_SID_IDENTIFIER_AUTHORITY IdentifierAuthority;   (6 bytes, big-endian)
            [size_is(SubAuthorityCount)] unsigned long SubAuthority[];
        """
        maximum = self.count(4, what)
        revision = self.u8()
        count = self.u8()
        if count != maximum or count > 15:
            raise DecodeError(
                f"{what}: SubAuthorityCount {count} (conformance {maximum}; at most 15)."
            )
        authority = int.from_bytes(self.take(6), "big")
        subs = [self.u32() for _ in range(count)]
        return format_sid(revision, authority, subs)


def format_sid(revision: int, authority: int, sub_authorities: list[int]) -> str:
    """``S-1-5-21-…``: the string form of [MS-DTYP] 2.4.2.1 (authority in hex from 2**32)."""
    auth = str(authority) if authority < 1 << 32 else f"0x{authority:012X}"
    return "-".join(["S", str(revision), auth, *map(str, sub_authorities)])


def parse_sid(data: bytes, what: str) -> str:
    """A SID in its binary form ([MS-DTYP] 2.4.2.2), which UPN_DNS_INFO uses; all of ``data``.

    Raises:
        DecodeError: short, a count over 15, or trailing bytes.
    """
    if len(data) < 8:
        raise DecodeError(f"{what}: a SID needs at least 8 bytes, not {len(data)}.")
    revision, count = data[0], data[1]
    if count > 15 or len(data) != 8 + 4 * count:
        raise DecodeError(
            f"{what}: {len(data)} bytes do not hold a SID of {count} sub-authorities."
        )
    authority = int.from_bytes(data[2:8], "big")
    subs = list(struct.unpack_from(f"<{count}I", data, 8))
    return format_sid(revision, authority, subs)
