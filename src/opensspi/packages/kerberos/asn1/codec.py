"""Decoding and encoding helpers for the Kerberos types, over :mod:`opensspi.der`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from ....der import (
    SEQUENCE,
    Field,
    encode_integer,
    encode_kerberos_flags,
    encode_kerberos_string,
    encode_kerberos_time,
    encode_octet_string,
    encode_sequence_of,
    expect,
    get_integer,
    get_kerberos_string,
    get_kerberos_time,
    get_octet_string,
    read_sequence_of,
    tag_name,
    unwrap,
)
from ....errors import DecodeError


def _bytes(data: bytes) -> bytes:
    # Accept bytes-like input at the public edge; inside, everything is bytes.
    return data if type(data) is bytes else bytes(data)


def _seq(field: Field | None, what: str) -> tuple[int, int]:
    """The contents range of the SEQUENCE inside an explicit field."""
    if field is None:
        raise DecodeError(f"{what} is missing.")
    if field[0] != SEQUENCE:
        raise DecodeError(
            f"{what}: expected SEQUENCE at offset {field[1]}, found {tag_name(field[0])}."
        )
    return field[2], field[3]


def _app_body(data: bytes, tag: int, start: int, end: int, what: str) -> tuple[int, int]:
    """The contents of the SEQUENCE that must fill an ``[APPLICATION n]`` element exactly."""
    inner, stop = expect(data, start, end, SEQUENCE, what)
    if stop != end:
        raise DecodeError(f"{what}: bytes after the SEQUENCE inside {tag_name(tag)}.")
    return inner, stop


def _app(data: bytes, field: Field | None, tag: int, what: str) -> tuple[int, int]:
    """The SEQUENCE contents of an ``[APPLICATION n]`` element held in an explicit field."""
    if field is None:
        raise DecodeError(f"{what} is missing.")
    if field[0] != tag:
        raise DecodeError(
            f"{what}: expected {tag_name(tag)} at offset {field[1]}, found {tag_name(field[0])}."
        )
    return _app_body(data, tag, field[2], field[3], what)


def _exact(data: bytes, pos: int, end: int) -> int:
    """Where the contents start when the DER length octets at ``pos`` are minimal (short, or
    one or two octets long) and span exactly to ``end``; else -1 (the caller's slow path then
    names the fault)."""
    length = data[pos]
    if length < 0x80:
        return pos + 1 if pos + 1 + length == end else -1
    if length == 0x81 and pos + 1 < end:
        length = data[pos + 1]
        return pos + 2 if length >= 0x80 and pos + 2 + length == end else -1
    if length == 0x82 and pos + 2 < end:
        length = data[pos + 1] << 8 | data[pos + 2]
        return pos + 3 if length >= 0x100 and pos + 3 + length == end else -1
    return -1


def _top(data: bytes, tag: int, what: str) -> tuple[int, int]:
    """The SEQUENCE contents of a whole message ``[APPLICATION n] SEQUENCE {...}`` or SEQUENCE."""
    end = len(data)
    # Fast path, every message's first step: both headers well formed and exactly filling.
    if end >= 4 and data[0] == tag:
        start = _exact(data, 1, end)
        if start > 0:
            if tag == SEQUENCE:
                return start, end
            if start + 2 <= end and data[start] == SEQUENCE:
                inner = _exact(data, start + 1, end)
                if inner > 0:
                    return inner, end
    start, end = unwrap(data, tag, what)
    if tag == SEQUENCE:
        return start, end
    return _app_body(data, tag, start, end, what)


def _no_field0(fields: list[Field | None], what: str) -> None:
    # PA-DATA, KDC-REQ and KERB-ERROR-DATA number their fields from [1].
    if fields[0] is not None:
        raise DecodeError(f"{what}: unknown field [0] at offset {fields[0][1]}.")


def _check_int(value: int, expected: int, what: str) -> None:
    if value != expected:
        raise DecodeError(f"{what} is {value}; this message requires {expected}.")


def _opt_int(data: bytes, field: Field | None, what: str) -> int | None:
    return None if field is None else get_integer(data, field, what)


def _opt_str(data: bytes, field: Field | None, what: str) -> str | None:
    return None if field is None else get_kerberos_string(data, field, what)


def _opt_time(data: bytes, field: Field | None, what: str) -> datetime | None:
    return None if field is None else get_kerberos_time(data, field, what)


def _opt_octets(data: bytes, field: Field | None, what: str) -> bytes | None:
    return None if field is None else get_octet_string(data, field, what)


def _items(data: bytes, field: Field | None, what: str) -> list[Field]:
    """The elements of the SEQUENCE OF held in an explicit field, each required to be a SEQUENCE."""
    start, end = _seq(field, what)
    items = read_sequence_of(data, start, end, what)
    for item in items:
        if item[0] != SEQUENCE:
            raise DecodeError(
                f"{what}: expected SEQUENCE at offset {item[1]}, found {tag_name(item[0])}."
            )
    return items


def _int(value: int | None) -> bytes | None:
    return None if value is None else encode_integer(value)


def _str(value: str | None) -> bytes | None:
    return None if value is None else encode_kerberos_string(value)


def _time(value: datetime | None) -> bytes | None:
    return None if value is None else encode_kerberos_time(value)


def _octets(value: bytes | None) -> bytes | None:
    return None if value is None else encode_octet_string(value)


def _flags(value: int | None) -> bytes | None:
    return None if value is None else encode_kerberos_flags(int(value))


class _Encodable(Protocol):
    """Anything with ``build()``."""

    def build(self) -> bytes: ...


def _seq_of(items: Iterable[_Encodable] | None) -> bytes | None:
    return None if items is None else encode_sequence_of(item.build() for item in items)
