"""TLS record framing: where whole records end, and how many bytes a partial one still needs.

RFC 8446 §5.1 / RFC 5246 §6.2.1 (``TLSPlaintext`` / ``TLSCiphertext``)::

    struct {
        ContentType type;                 /* 1 byte: 20..24 */
        ProtocolVersion legacy_record_version;   /* 2 bytes: 0x03 0x0N */
        uint16 length;
        opaque fragment[TLSPlaintext.length];
    } TLSPlaintext;

This is OUR framer, not the engine's: InitializeSecurityContext and DecryptMessage walk the
caller's bytes from offset 0 and hand the engine only whole records, so the engine never swallows
a partial record and the ``SECBUFFER_MISSING`` / ``SECBUFFER_EXTRA`` counts are exact (the
design Wine's schannel.c uses, reference schannel.md §D.3 item 1):

- fewer than 5 bytes: MISSING = ``5 - have`` (still inside the header);
- otherwise the record needs ``5 + length`` bytes: MISSING = ``5 + length - have``;
- bytes after the records a call consumed are EXTRA.

A header that cannot start a TLS record (an unknown content type, a major version other than 3,
a length beyond RFC 8446 §5.2's ``2^14 + 256`` / RFC 5246's ``2^14 + 2048``) raises
``DecodeError`` at once: waiting for more bytes would hang a caller fed garbage. The header size
is a parameter so DTLS (13 bytes, length at [11:13]) could reuse the walk.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from ...errors import DecodeError

HEADER_SIZE = 5
#: RFC 5246 §6.2.3: TLSCiphertext.length MUST NOT exceed 2^14 + 2048 (RFC 8446 lowers it to
#: 2^14 + 256; we accept the older bound so TLS 1.2 CBC records pass).
MAX_CIPHERTEXT = 2**14 + 2048
MAX_PLAINTEXT = 2**14


class ContentType(IntEnum):
    """RFC 8446 §5.1 ``ContentType`` (24 is RFC 6520's heartbeat)."""

    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23
    HEARTBEAT = 24


_TYPES = frozenset(int(t) for t in ContentType)


class Framing(NamedTuple):
    """How ``data`` divides into records.

    Attributes:
        ends: the offset just past each whole record, in order (empty when none is whole).
        missing: bytes the first incomplete record still needs (0 when ``data`` ends exactly on
            a record boundary).
    """

    ends: tuple[int, ...]
    missing: int

    @property
    def whole(self) -> int:
        """Bytes taken by whole records."""
        return self.ends[-1] if self.ends else 0


def check_header(data: bytes | memoryview, at: int = 0) -> int:
    """The total size (header + fragment) of the record starting at ``at``; the header must be
    complete (``len(data) - at >= 5``).

    Raises:
        DecodeError: the bytes cannot start a TLS record.
    """
    kind = data[at]
    if kind not in _TYPES:
        raise DecodeError(f"not a TLS record (content type {kind}); is the peer speaking TLS?")
    if data[at + 1] != 3:
        raise DecodeError(f"not a TLS record (record version {data[at + 1]}.{data[at + 2]})")
    length = (data[at + 3] << 8) | data[at + 4]
    if length > MAX_CIPHERTEXT:
        raise DecodeError(f"TLS record of {length} bytes exceeds 2^14 + 2048 (record_overflow)")
    return HEADER_SIZE + length


def frame(data: bytes | memoryview, limit: int | None = None) -> Framing:
    """Walk ``data`` from offset 0: the ends of up to ``limit`` whole records, and the MISSING
    count of the first partial one.

    Raises:
        DecodeError: a header is not a TLS record header (see :func:`check_header`).
    """
    ends: list[int] = []
    at = 0
    have = len(data)
    left = -1 if limit is None else limit
    types = _TYPES
    while left:
        if have - at < HEADER_SIZE:
            # Nothing left after whole records: complete. Nothing at all: a header is missing.
            done = have == at and bool(ends)
            return Framing(tuple(ends), 0 if done else HEADER_SIZE - (have - at))
        # check_header, inlined: this walk runs over every record of a bulk transfer.
        length = (data[at + 3] << 8) | data[at + 4]
        if data[at] not in types or data[at + 1] != 3 or length > MAX_CIPHERTEXT:
            check_header(data, at)  # raises, with the message saying what is wrong
        end = at + HEADER_SIZE + length
        if end > have:
            return Framing(tuple(ends), end - have)
        ends.append(end)
        at = end
        left -= 1
    return Framing(tuple(ends), 0)


def span(data: bytes | memoryview) -> tuple[int, int]:
    """``(whole, missing)``: the bytes the whole records at the start of ``data`` take, and what
    the first partial one still needs (0 when ``data`` ends on a record boundary) — the two
    numbers of :func:`frame` without the list of ends, for a handshake leg that feeds all whole
    records at once.

    Raises:
        DecodeError: a header is not a TLS record header (see :func:`check_header`).
    """
    at = 0
    have = len(data)
    types = _TYPES
    while have - at >= HEADER_SIZE:
        length = (data[at + 3] << 8) | data[at + 4]
        if data[at] not in types or data[at + 1] != 3 or length > MAX_CIPHERTEXT:
            check_header(data, at)  # raises, with the message saying what is wrong
        end = at + HEADER_SIZE + length
        if end > have:
            return at, end - have
        at = end
    if have == at and at:
        return at, 0
    return at, HEADER_SIZE - (have - at)


def first_record(data: bytes | memoryview) -> tuple[int, int]:
    """``(size, missing)`` of the record at the start of ``data``: ``size`` is 0 when it is not
    whole yet, and ``missing`` then says how many more bytes it needs.

    Raises:
        DecodeError: the header is not a TLS record header.
    """
    have = len(data)
    if have < HEADER_SIZE:
        return 0, HEADER_SIZE - have
    size = check_header(data, 0)
    if have < size:
        return 0, size - have
    return size, 0


def alert_record(level: int, description: int, version: bytes = b"\x03\x03") -> bytes:
    """A plaintext alert record (RFC 8446 §6): used only to describe alerts in tests/logs."""
    return bytes((ContentType.ALERT,)) + version + b"\x00\x02" + bytes((level, description))


__all__ = [
    "HEADER_SIZE",
    "MAX_CIPHERTEXT",
    "MAX_PLAINTEXT",
    "ContentType",
    "Framing",
    "alert_record",
    "check_header",
    "first_record",
    "frame",
    "span",
]
