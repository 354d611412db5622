"""The inspector's report: nested dicts of named fields, and the few value kinds it prints.

A report is a ``dict[str, object]`` whose values are ``str``, ``int``, ``bool``, ``None``,
:class:`Named`, :class:`Flags`, :class:`Hex`, lists, or nested reports. :func:`to_json` turns
it into plain JSON values; :func:`render_text` into indented human text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, IntFlag

Report = dict[str, object]


class InspectError(ValueError):
    """The input is not a token the inspector can decode; the message says why (one line)."""


@dataclass(frozen=True, slots=True)
class Named:
    """A number with its specification name (``23`` -> ``RC4_HMAC``), or no name if unknown."""

    value: int
    name: str | None

    def text(self) -> str:
        return f"{self.value} ({self.name})" if self.name else f"{self.value} (unknown)"


@dataclass(frozen=True, slots=True)
class Flags:
    """A bit field with the names of its set bits; unnamed bits are listed as hex."""

    value: int
    names: tuple[str, ...]
    width: int = 8

    def text(self) -> str:
        names = " | ".join(self.names) if self.names else "none"
        return f"0x{self.value:0{self.width}x} ({names})"


@dataclass(frozen=True, slots=True)
class Hex:
    """Binary wire data shown as hex (never used for keys or passwords)."""

    data: bytes

    def text(self) -> str:
        return self.data.hex() if self.data else "(empty)"


def named(value: int, enum: type[IntEnum]) -> Named:
    """``value`` with its name in ``enum``, if it has one."""
    try:
        return Named(int(value), enum(value).name)
    except ValueError:
        return Named(int(value), None)


def flags(value: int, enum: type[IntFlag], width: int = 8) -> Flags:
    """``value`` with the names of the ``enum`` members it sets (and hex for the rest)."""
    names: list[str] = []
    rest = int(value)
    for member in enum:
        bit = int(member)
        if bit and bit & (bit - 1) == 0 and value & bit and member.name:
            names.append(member.name)
            rest &= ~bit
    if rest:
        names.append(f"0x{rest:x}")
    return Flags(int(value), tuple(names), width)


def when(value: datetime | None) -> str | None:
    """A time as ISO 8601 (UTC), or None."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def to_json(report: object) -> object:
    """``report`` as plain JSON values (Named -> {value, name}, Flags -> {value, names})."""
    if isinstance(report, dict):
        return {str(k): to_json(v) for k, v in report.items()}
    if isinstance(report, (list, tuple)):
        return [to_json(v) for v in report]
    if isinstance(report, Named):
        return {"value": report.value, "name": report.name}
    if isinstance(report, Flags):
        return {"value": report.value, "names": list(report.names)}
    if isinstance(report, Hex):
        return report.data.hex()
    if isinstance(report, (bytes, bytearray)):
        return bytes(report).hex()
    return report


def dumps(report: Report) -> str:
    """The JSON text of a report."""
    return json.dumps(to_json(report), indent=2, ensure_ascii=False)


def _scalar(value: object) -> str:
    if isinstance(value, (Named, Flags, Hex)):
        return value.text()
    if isinstance(value, str):
        return repr(value) if value == "" or value != value.strip() else value
    if value is None:
        return "(absent)"
    return str(value)


def render_text(report: Report) -> str:
    """Indented ``name: value`` lines; nested reports indent by two spaces."""
    return "\n".join(_lines(report, 0))


def _lines(report: Report, depth: int) -> Iterable[str]:
    pad = "  " * depth
    for key, value in report.items():
        if isinstance(value, dict):
            yield f"{pad}{key}:"
            yield from _lines(value, depth + 1)
        elif isinstance(value, (list, tuple)):
            if not value:
                yield f"{pad}{key}: (none)"
            elif all(not isinstance(v, (dict, list, tuple)) for v in value):
                yield f"{pad}{key}: {', '.join(_scalar(v) for v in value)}"
            else:
                yield f"{pad}{key}:"
                for item in value:
                    if isinstance(item, dict):
                        inner = list(_lines(item, depth + 2))
                        if inner:
                            yield f"{pad}  - {inner[0].lstrip()}"
                            yield from inner[1:]
                    else:
                        yield f"{pad}  - {_scalar(item)}"
        else:
            yield f"{pad}{key}: {_scalar(value)}"
