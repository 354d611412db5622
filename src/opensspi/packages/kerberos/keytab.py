"""MIT keytab files: format version 2 (0x0502), and reading version 1 (0x0501).

Format: MIT krb5 ``doc/formats/keytab_file_format.rst``, "Keytab file format"
(https://web.mit.edu/kerberos/krb5-latest/doc/formats/keytab_file_format.html)::

    file      ::= 05 vv, { record length (signed 32), record }*
                  length > 0: an entry in the first length bytes (the rest is padding);
                  length < 0: a zero-filled hole of -length bytes; length 0 or EOF: the end
    entry     ::= principal, timestamp (32), key version (8), enctype (16),
                  key length (16), key, [key version (32)]
    principal ::= count (16) [includes the realm in version 1], realm (data),
                  component (data)*, name type (32) [absent in version 1]
    data      ::= length (16), bytes

Version 2 is big-endian; version 1 uses the writer's native byte order, read here as this host's
(as MIT does). The trailing 32-bit key version, when at least 4 bytes remain in the record and it
is not 0, replaces the 8-bit one (MIT writes it whenever the record has room). Every record keeps
its size, padding and trailing bytes, and holes are kept, so :meth:`Keytab.dump` reproduces the
file byte for byte.

Names: ``KRB5_KTNAME`` (else krb5.conf ``default_keytab_name``, else ``FILE:/etc/krb5.keytab``)
for acceptors, ``KRB5_CLIENT_KTNAME`` (else ``default_client_keytab_name``) for initiators.
``FILE:`` and ``WRFILE:`` (the same file, opened for writing) and bare paths are supported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from ...errors import DecodeError, InvalidParameter, UnsupportedFunction
from .ccache import CcachePrincipal, _atomic_write
from .config import (
    DEFAULT_CLIENT_KEYTAB_NAME,
    DEFAULT_KEYTAB_NAME,
    Krb5Config,
    expand_path,
)
from .parsed import load_file

__all__ = [
    "Keytab",
    "KeytabEntry",
    "KeytabHole",
    "KeytabName",
    "default_keytab_name",
    "load_keytab",
    "resolve_keytab_name",
]

_ENCODING = "utf-8"
_ERRORS = "surrogateescape"
_MAX_RECORD = 1 << 24


@dataclass(frozen=True, slots=True)
class KeytabEntry:
    """One key. ``key`` never appears in ``repr``.

    Attributes:
        kvno: the effective key version (the 32-bit one when present and not 0).
        tail: the record bytes after the key, as read (the 32-bit kvno and any padding); None
            for a new entry, which is written with a 32-bit kvno and no padding.
    """

    principal: CcachePrincipal
    timestamp: int
    kvno: int
    enctype: int
    key: bytes = field(repr=False)
    tail: bytes | None = field(default=None, repr=False, compare=False)

    def matches(self, principal: CcachePrincipal | str) -> bool:
        """True when the entry's principal has the same components and realm."""
        if isinstance(principal, str):
            principal = CcachePrincipal.parse(principal, self.principal.realm)
        return self.principal.same_name(principal)


@dataclass(frozen=True, slots=True)
class KeytabHole:
    """A deleted record: ``size`` zero bytes that MIT may reuse."""

    size: int


@dataclass(frozen=True, slots=True)
class Keytab:
    """A keytab: its records (entries and holes) in file order."""

    records: tuple[KeytabEntry | KeytabHole, ...] = ()
    version: int = 2
    _entries: tuple[KeytabEntry, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.version not in (1, 2):
            raise InvalidParameter(f"Keytab versions are 1 and 2, not {self.version}.")
        # Worked out once: every acquisition and every AP-REQ's key lookup asks for it.
        entries = tuple(r for r in self.records if isinstance(r, KeytabEntry))
        object.__setattr__(self, "_entries", entries)

    @property
    def entries(self) -> tuple[KeytabEntry, ...]:
        return self._entries

    def find(
        self,
        principal: CcachePrincipal | str,
        enctype: int | None = None,
        kvno: int | None = None,
    ) -> KeytabEntry | None:
        """The key for ``principal``: of ``enctype`` if given, of ``kvno`` if given, else the
        highest key version (the first such entry when several match, as MIT picks)."""
        best: KeytabEntry | None = None
        for entry in self.entries:
            if not entry.matches(principal):
                continue
            if enctype is not None and entry.enctype != enctype:
                continue
            if kvno is not None and entry.kvno != kvno:
                continue
            if best is None or entry.kvno > best.kvno:
                best = entry
        return best

    def with_entry(self, entry: KeytabEntry) -> Keytab:
        """A copy with ``entry`` appended."""
        return replace(self, records=(*self.records, entry))

    # -- wire ----------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> Keytab:
        """Decode a keytab file's bytes.

        Raises:
            DecodeError: a wrong magic or version, a record longer than the file, an entry
                longer than its record, or bytes after a zero record length that are not zero.
        """
        buf = bytes(data)
        if len(buf) < 2 or buf[0] != 5:
            raise DecodeError("not a keytab: the first byte must be 5")
        version = buf[1]
        if version not in (1, 2):
            raise DecodeError(f"keytab version {version} is not supported (only 1 and 2)")
        order: Literal["big", "little"] = "big" if version == 2 else sys.byteorder
        pos = 2
        records: list[KeytabEntry | KeytabHole] = []
        while pos < len(buf):
            if len(buf) - pos < 4:
                raise DecodeError("keytab truncated inside a record length")
            size = int.from_bytes(buf[pos : pos + 4], order, signed=True)
            pos += 4
            if size == 0:
                if any(buf[pos:]):
                    raise DecodeError("keytab has data after its end marker")
                break
            length = -size if size < 0 else size
            if length > len(buf) - pos:
                raise DecodeError(f"keytab record of {length} bytes runs past the end of the file")
            body = buf[pos : pos + length]
            pos += length
            records.append(KeytabHole(length) if size < 0 else _parse_entry(body, version, order))
        return cls(tuple(records), version)

    def dump(self) -> bytes:
        """Encode as a keytab file of :attr:`version`.

        Raises:
            InvalidParameter: a value that does not fit its field.
        """
        order: Literal["big", "little"] = "big" if self.version == 2 else sys.byteorder
        out = bytearray((5, self.version))
        for record in self.records:
            if isinstance(record, KeytabHole):
                out += _int(-record.size, 4, order, True, "hole size")
                out += bytes(record.size)
                continue
            body = _entry_bytes(record, self.version, order)
            out += _int(len(body), 4, order, True, "record size")
            out += body
        return bytes(out)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keytab:
        """Read and parse the keytab at ``path``.

        Raises:
            NoCredentials: the file does not exist or cannot be read.
            DecodeError: it is not a valid keytab.
        """
        name = os.fspath(path)
        return load_file(
            "keytab", name, cls.parse,
            f"No keytab at {name}: set KRB5_KTNAME (or KRB5_CLIENT_KTNAME) or export the keys "
            "with kadmin ktadd.",
            "the keytab",
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the keytab to ``path`` atomically, mode 0600."""
        _atomic_write(os.fspath(path), self.dump())


def _int(value: int, size: int, order: Literal["big", "little"], signed: bool, what: str) -> bytes:
    try:
        return value.to_bytes(size, order, signed=signed)
    except OverflowError:
        raise InvalidParameter(f"Keytab {what} {value} does not fit in {size * 8} bits.") from None


class _EntryReader:
    __slots__ = ("body", "order", "pos")

    def __init__(self, body: bytes, order: Literal["big", "little"]) -> None:
        self.body = body
        self.order: Literal["big", "little"] = order
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.body) - self.pos:
            raise DecodeError(f"keytab entry truncated: {what} runs past its record")
        out = self.body[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int, what: str, signed: bool = False) -> int:
        return int.from_bytes(self.take(size, what), self.order, signed=signed)

    def text(self, what: str) -> str:
        return self.take(self.uint(2, what), what).decode(_ENCODING, _ERRORS)


def _parse_entry(body: bytes, version: int, order: Literal["big", "little"]) -> KeytabEntry:
    r = _EntryReader(body, order)
    count = r.uint(2, "component count")
    if version == 1:
        if count == 0:
            raise DecodeError("keytab version 1 principal has no realm")
        count -= 1
    if count * 2 > len(body):
        raise DecodeError(f"keytab component count {count} is larger than its record")
    realm = r.text("realm")
    components = tuple(r.text("component") for _ in range(count))
    name_type = r.uint(4, "name type") if version == 2 else 0
    timestamp = r.uint(4, "timestamp")
    kvno = r.uint(1, "key version")
    enctype = r.uint(2, "enctype", signed=True)
    key = r.take(r.uint(2, "key length"), "key")
    tail = body[r.pos :]
    if len(tail) >= 4:
        kvno32 = int.from_bytes(tail[:4], order)
        if kvno32:
            kvno = kvno32
    return KeytabEntry(
        CcachePrincipal(name_type, components, realm), timestamp, kvno, enctype, key, tail
    )


def _entry_bytes(e: KeytabEntry, version: int, order: Literal["big", "little"]) -> bytes:
    p = e.principal
    out = bytearray()
    count = len(p.components) + (1 if version == 1 else 0)
    out += _int(count, 2, order, False, "component count")
    for text in (p.realm, *p.components):
        raw = text.encode(_ENCODING, _ERRORS)
        out += _int(len(raw), 2, order, False, "name length")
        out += raw
    if version == 2:
        out += _int(p.name_type, 4, order, False, "name type")
    out += _int(e.timestamp, 4, order, False, "timestamp")
    out += bytes((e.kvno & 0xFF,))
    out += _int(e.enctype, 2, order, e.enctype < 0, "enctype")
    out += _int(len(e.key), 2, order, False, "key length")
    out += e.key
    tail = e.tail
    if tail is not None and _tail_kvno(tail, order, e.kvno & 0xFF) != e.kvno:
        tail = None  # the entry's kvno was changed: write a fresh tail
    if tail is None:
        tail = _int(e.kvno, 4, order, False, "key version")
    out += tail
    if len(out) > _MAX_RECORD:
        raise InvalidParameter(f"A keytab entry of {len(out)} bytes is too large.")
    return bytes(out)


def _tail_kvno(tail: bytes, order: Literal["big", "little"], kvno8: int) -> int:
    if len(tail) >= 4:
        kvno32 = int.from_bytes(tail[:4], order)
        if kvno32:
            return kvno32
    return kvno8


# -- keytab names -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeytabName:
    """A resolved keytab name: ``FILE`` or ``WRFILE`` and the path."""

    type: Literal["FILE", "WRFILE"]
    path: str

    def __str__(self) -> str:
        return f"{self.type}:{self.path}"


def default_keytab_name(
    client: bool = False,
    config: Krb5Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The default keytab name, expanded.

    Acceptor: ``KRB5_KTNAME``, else ``default_keytab_name``, else ``FILE:/etc/krb5.keytab``.
    Initiator (``client=True``): ``KRB5_CLIENT_KTNAME``, else ``default_client_keytab_name``,
    else ``FILE:/etc/krb5/user/%{euid}/client.keytab``.
    """
    env = os.environ if environ is None else environ
    if client:
        name = env.get("KRB5_CLIENT_KTNAME") or (
            config.default_client_keytab_name if config else DEFAULT_CLIENT_KEYTAB_NAME
        )
    else:
        name = env.get("KRB5_KTNAME") or (
            config.default_keytab_name if config else DEFAULT_KEYTAB_NAME
        )
    return expand_path(name, env)


def resolve_keytab_name(
    name: str | None = None,
    *,
    client: bool = False,
    config: Krb5Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> KeytabName:
    """Split a keytab name; None means :func:`default_keytab_name`.

    Raises:
        UnsupportedFunction: a type other than FILE: and WRFILE: (MEMORY:, KDB:, ...).
    """
    text = default_keytab_name(client, config, environ) if name is None else name
    colon = text.find(":")
    if colon < 2:
        return KeytabName("FILE", text)
    prefix, residual = text[:colon].upper(), text[colon + 1 :]
    if prefix == "FILE":
        return KeytabName("FILE", residual)
    if prefix == "WRFILE":
        return KeytabName("WRFILE", residual)
    raise UnsupportedFunction(
        f"Keytab type {prefix}: is not supported (only FILE: and WRFILE:); set KRB5_KTNAME to "
        "a file path."
    )


def load_keytab(
    name: str | KeytabName | None = None,
    *,
    client: bool = False,
    config: Krb5Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> Keytab:
    """Load the keytab named ``name`` (default from the environment and krb5.conf).

    Raises:
        NoCredentials: the keytab does not exist.
        DecodeError: it is not a valid keytab.
    """
    kt = name if isinstance(name, KeytabName) else resolve_keytab_name(
        name, client=client, config=config, environ=environ
    )
    return Keytab.load(kt.path)
