"""KEYRING credential caches: MIT's layout in the Linux kernel key retention service.

Layout (MIT krb5 ``src/lib/krb5/ccache/cc_keyring.c``; ``keyctl(2)``, ``add_key(2)``)::

    anchor keyring (session, user, process, thread; or the persistent keyring of a uid)
      keyring "_krb_<collection>"            the collection ("_krb" in a persistent keyring)
        user "krb_ccache:primary"           version (32) = 1, length (32), primary cache name
        keyring "<cache name>"               one keyring per cache
          user "__krb5_princ__"             the default principal (ccache v4 encoding)
          user "__krb5_time_offsets__"      KDC time offset: seconds (32), microseconds (32)
          big_key or user "<server name>"   one key per credential (ccache v4 encoding)

Names (``KEYRING:`` + residual): ``anchor:collection:cache`` is one cache;
``anchor:collection`` is the collection, whose primary is named by ``krb_ccache:primary`` (or,
when that key is absent, the collection name itself; ``tkt`` for an empty one); a residual
without a colon is the legacy form, the collection of that name in the session keyring.
Anchors: ``session``, ``user``, ``process``, ``thread``, ``legacy`` (the session keyring) and
``persistent`` (the collection is a uid, empty for ours; MIT falls back to the user keyring when
the kernel has no persistent keyrings). Integers are big-endian.

Reading creates no keys (MIT's resolve creates the collection and primary key; we only look;
fetching a uid's persistent keyring links it to the process keyring, as MIT does). Writing, when
asked for, follows MIT: find or create the collection and cache keyrings, clear the cache
keyring, add ``__krb5_princ__`` and one key per credential (``big_key``, falling back to ``user``
where the kernel lacks it). Writes for the session anchor go to the user session keyring when
the process has no session keyring of its own, as MIT does, so other processes see them.

Deviation: the keys we write carry no expiry (MIT sets a credential key's timeout to the
ticket's end time, so the kernel drops it then); an expired ticket stays until it is replaced,
and readers skip it by its end time. The layout of MIT before 1.12 (a lone cache keyring linked
straight into the session keyring, no collection) is not read; MIT adopts such a cache into a
collection the first time it resolves the legacy name, so one ``klist`` with that name brings
it in.

The system calls go through the C library's ``syscall`` with ctypes (no new dependency). Where the
kernel or a sandbox forbids keyrings (``ENOSYS``, ``EPERM``, seccomp), the error says so.
:class:`KeyOps` is the seam the tests use to feed hand-built (and broken) keys.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ...errors import DecodeError, NoCredentials, UnsupportedFunction
from .ccache import (
    HEADER_KDC_OFFSET,
    Ccache,
    CcacheCredential,
    CcacheHeaderTag,
    dump_credential,
    dump_principal,
    parse_credential,
    parse_principal,
)

__all__ = [
    "COLLECTION_PRIMARY",
    "PRINCIPAL_KEY",
    "KeyOps",
    "Keyctl",
    "KeyringName",
    "dump_primary_index",
    "list_caches",
    "load",
    "parse_keyring_name",
    "parse_primary_index",
    "store",
]

KEY_SPEC_THREAD_KEYRING = -1
KEY_SPEC_PROCESS_KEYRING = -2
KEY_SPEC_SESSION_KEYRING = -3
KEY_SPEC_USER_KEYRING = -4
KEY_SPEC_USER_SESSION_KEYRING = -5

KEYCTL_GET_KEYRING_ID = 0
KEYCTL_DESCRIBE = 6
KEYCTL_CLEAR = 7
KEYCTL_LINK = 8
KEYCTL_UNLINK = 9
KEYCTL_SEARCH = 10
KEYCTL_READ = 11
KEYCTL_GET_PERSISTENT = 22

COLLECTION_PREFIX = "_krb_"
PERSISTENT_COLLECTION = "_krb"
COLLECTION_PRIMARY = "krb_ccache:primary"
PRINCIPAL_KEY = "__krb5_princ__"
TIME_OFFSETS_KEY = "__krb5_time_offsets__"
COLLECTION_VERSION = 1
R = TypeVar("R")
ANCHORS = ("session", "user", "process", "thread", "legacy", "persistent")

# (add_key, keyctl) system call numbers per machine (asm/unistd.h).
_SYSCALLS = {
    "x86_64": (248, 250),
    "amd64": (248, 250),
    "aarch64": (217, 219),
    "arm64": (217, 219),
    "riscv64": (217, 219),
    "i386": (286, 288),
    "i686": (286, 288),
    "armv7l": (309, 311),
    "ppc64le": (269, 271),
    "ppc64": (269, 271),
    "s390x": (278, 280),
}


class KeyOps(Protocol):
    """The key operations the layout needs; each raises OSError (with ``errno``) on failure."""

    def keyring_id(self, special: int, create: bool) -> int: ...
    def search(self, keyring: int, key_type: str, description: str) -> int | None: ...
    def read(self, key: int) -> bytes: ...
    def describe(self, key: int) -> tuple[str, str]: ...
    def add_key(self, key_type: str, description: str, payload: bytes, keyring: int) -> int: ...
    def clear(self, keyring: int) -> None: ...
    def link(self, key: int, keyring: int) -> None: ...
    def persistent(self, uid: int, link_to: int) -> int: ...


class Keyctl:
    """:class:`KeyOps` through the ``add_key`` and ``keyctl`` system calls (ctypes, libc).

    Raises:
        UnsupportedFunction: not Linux, or a machine whose system call numbers are not known.
    """

    def __init__(self) -> None:
        numbers = _SYSCALLS.get(platform.machine().lower())
        if not platform.system() == "Linux" or numbers is None:
            raise UnsupportedFunction(
                f"KEYRING: credential caches need the Linux keyctl system call; this is "
                f"{platform.system()} on {platform.machine()}. Use a FILE: cache."
            )
        self._add_key_nr, self._keyctl_nr = numbers
        libc = ctypes.CDLL(None, use_errno=True)
        self._syscall = libc.syscall
        self._syscall.restype = ctypes.c_long

    def _check(self, result: int) -> int:
        if result < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return result

    def _keyctl(self, *args: object) -> int:
        return self._check(self._syscall(self._keyctl_nr, *args))

    def keyring_id(self, special: int, create: bool) -> int:
        return self._keyctl(KEYCTL_GET_KEYRING_ID, ctypes.c_long(special), ctypes.c_long(create))

    def search(self, keyring: int, key_type: str, description: str) -> int | None:
        try:
            return self._keyctl(
                KEYCTL_SEARCH, ctypes.c_long(keyring), key_type.encode(),
                description.encode("utf-8", "surrogateescape"), ctypes.c_long(0),
            )
        except OSError as exc:
            if exc.errno in (errno.ENOKEY, errno.EKEYEXPIRED, errno.EKEYREVOKED):
                return None
            raise

    def read(self, key: int) -> bytes:
        size = 4096
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._keyctl(KEYCTL_READ, ctypes.c_long(key), buf, ctypes.c_long(size))
            if n <= size:
                return buf.raw[:n]
            size = n

    def describe(self, key: int) -> tuple[str, str]:
        size = 512
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._keyctl(KEYCTL_DESCRIBE, ctypes.c_long(key), buf, ctypes.c_long(size))
            if n <= size:
                break
            size = n
        text = buf.raw[: max(n - 1, 0)].decode("utf-8", "surrogateescape")
        parts = text.split(";", 4)
        if len(parts) != 5:
            raise OSError(errno.EINVAL, f"unexpected key description {text!r}")
        return parts[0], parts[4]

    def add_key(self, key_type: str, description: str, payload: bytes, keyring: int) -> int:
        return self._check(
            self._syscall(
                self._add_key_nr, key_type.encode(), description.encode("utf-8", "surrogateescape"),
                payload or None, ctypes.c_size_t(len(payload)), ctypes.c_long(keyring),
            )
        )

    def clear(self, keyring: int) -> None:
        self._keyctl(KEYCTL_CLEAR, ctypes.c_long(keyring))

    def link(self, key: int, keyring: int) -> None:
        self._keyctl(KEYCTL_LINK, ctypes.c_long(key), ctypes.c_long(keyring))

    def unlink(self, key: int, keyring: int) -> None:
        """Remove ``key`` from ``keyring`` (what ``kdestroy`` does to a cache keyring)."""
        self._keyctl(KEYCTL_UNLINK, ctypes.c_long(key), ctypes.c_long(keyring))

    def persistent(self, uid: int, link_to: int) -> int:
        return self._keyctl(KEYCTL_GET_PERSISTENT, ctypes.c_long(uid), ctypes.c_long(link_to))


# -- names -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyringName:
    """A KEYRING: residual split: anchor, collection, and the cache (None: the primary)."""

    anchor: str
    collection: str
    subsidiary: str | None

    def __str__(self) -> str:
        tail = f":{self.subsidiary}" if self.subsidiary is not None else ""
        return f"KEYRING:{self.anchor}:{self.collection}{tail}"

    def cache(self, subsidiary: str) -> KeyringName:
        return KeyringName(self.anchor, self.collection, subsidiary)


def parse_keyring_name(residual: str) -> KeyringName:
    """``anchor:collection[:cache]`` or a bare ``collection`` (legacy anchor).

    Raises:
        UnsupportedFunction: an anchor MIT does not know, or a persistent uid that is no number.
    """
    if ":" not in residual:
        return KeyringName("legacy", residual, None)
    anchor, rest = residual.split(":", 1)
    collection, sep, subsidiary = rest.partition(":")
    if anchor not in ANCHORS:
        raise UnsupportedFunction(
            f"KEYRING:{residual}: unknown anchor {anchor!r}; use one of {', '.join(ANCHORS)}."
        )
    if anchor == "persistent" and collection and not collection.isdigit():
        raise UnsupportedFunction(
            f"KEYRING:{residual}: the persistent anchor takes a uid, not {collection!r}."
        )
    return KeyringName(anchor, collection, subsidiary if sep else None)


def parse_primary_index(payload: bytes) -> str:
    """``krb_ccache:primary``: version (32) = 1, length (32), name.

    Raises:
        DecodeError: short, a length past the end, or another version.
    """
    if len(payload) < 8:
        raise DecodeError(f"the primary key holds {len(payload)} bytes, fewer than 8")
    version, length = struct.unpack(">II", payload[:8])
    if version != COLLECTION_VERSION:
        raise DecodeError(f"the primary key has collection version {version}, not 1")
    if length != len(payload) - 8:
        raise DecodeError(f"the primary key says {length} name bytes, {len(payload) - 8} follow")
    return payload[8:].decode("utf-8", "surrogateescape")


def dump_primary_index(name: str) -> bytes:
    raw = name.encode("utf-8", "surrogateescape")
    return struct.pack(">II", COLLECTION_VERSION, len(raw)) + raw


# -- lookups ---------------------------------------------------------------------------------------


def _ops(ops: KeyOps | None) -> KeyOps:
    return ops if ops is not None else Keyctl()


def _forbidden(name: object, exc: OSError) -> NoCredentials:
    if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP):
        return NoCredentials(
            f"Credential cache {name}: the kernel or sandbox forbids keyrings "
            f"({exc.strerror}); use a FILE: cache (kinit -c FILE:/tmp/krb5cc_$(id -u))."
        )
    return NoCredentials(f"Credential cache {name}: keyring error ({exc.strerror or exc}).")


def _session_write_anchor(ops: KeyOps) -> int:
    session = ops.keyring_id(KEY_SPEC_SESSION_KEYRING, False)
    user_session = ops.keyring_id(KEY_SPEC_USER_SESSION_KEYRING, False)
    return KEY_SPEC_USER_SESSION_KEYRING if session == user_session else KEY_SPEC_SESSION_KEYRING


def _anchor(ops: KeyOps, kn: KeyringName, create: bool) -> tuple[int, int, str]:
    """(anchor keyring, keyring to hold possession through or 0, collection keyring name)."""
    if kn.anchor == "persistent":
        uid = int(kn.collection) if kn.collection else os.geteuid()
        try:
            anchor = ops.persistent(uid, KEY_SPEC_PROCESS_KEYRING)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS) or uid != os.geteuid():
                raise
            anchor = KEY_SPEC_USER_KEYRING
        return anchor, KEY_SPEC_PROCESS_KEYRING, PERSISTENT_COLLECTION
    special = {
        "process": KEY_SPEC_PROCESS_KEYRING,
        "thread": KEY_SPEC_THREAD_KEYRING,
        "user": KEY_SPEC_USER_KEYRING,
    }.get(kn.anchor)
    if special is None:  # session, legacy
        special = _session_write_anchor(ops) if create else KEY_SPEC_SESSION_KEYRING
    possess = KEY_SPEC_PROCESS_KEYRING if kn.anchor == "user" else 0
    return special, possess, COLLECTION_PREFIX + kn.collection


def _find_collection(ops: KeyOps, kn: KeyringName) -> int | None:
    anchor, _possess, ckname = _anchor(ops, kn, create=False)
    if kn.anchor in ("process", "thread"):
        try:
            anchor = ops.keyring_id(anchor, False)
        except OSError as exc:
            if exc.errno == errno.ENOKEY:
                return None
            raise
    return ops.search(anchor, "keyring", ckname)


def _find_or_create(ops: KeyOps, parent: int, possess: int, name: str) -> int:
    found = ops.search(parent, "keyring", name)
    if found is not None:
        return found
    if possess:
        key = ops.add_key("keyring", name, b"", possess)
        ops.link(key, parent)
        return key
    return ops.add_key("keyring", name, b"", parent)


def _primary(ops: KeyOps, kn: KeyringName, collection: int) -> str:
    key = ops.search(collection, "user", COLLECTION_PRIMARY)
    if key is None:
        return kn.collection or "tkt"
    try:
        return parse_primary_index(ops.read(key))
    except DecodeError as exc:
        raise DecodeError(f"credential cache {kn}: {COLLECTION_PRIMARY}: {exc}") from None


def load(residual: str, ops: KeyOps | None = None) -> tuple[str, Ccache]:
    """Read the cache ``KEYRING:<residual>`` (a collection: its primary).

    Returns:
        The cache's full name (``KEYRING:anchor:collection:cache``) and its contents.

    Raises:
        NoCredentials: no such collection or cache, no principal key, or keyrings forbidden.
        DecodeError: a key that does not parse (the message names the cache and the key).
    """
    kn = parse_keyring_name(residual)
    try:
        kc = _ops(ops)
        collection = _find_collection(kc, kn)
        if collection is None:
            raise NoCredentials(f"No credential cache {kn}: run kinit, or set KRB5CCNAME.")
        if kn.subsidiary is None:
            kn = kn.cache(_primary(kc, kn, collection))
        cache = kc.search(collection, "keyring", kn.subsidiary or "")
        princ_key = kc.search(cache, "user", PRINCIPAL_KEY) if cache is not None else None
        if cache is None or princ_key is None:
            raise NoCredentials(f"No credential cache {kn}: run kinit, or set KRB5CCNAME.")
        principal = _parse(kn, PRINCIPAL_KEY, kc.read(princ_key), parse_principal)
        entries: list[CcacheCredential] = []
        tags: tuple[CcacheHeaderTag, ...] = ()
        for key in _serials(kn, kc.read(cache)):
            if key == princ_key:
                continue
            try:
                key_type, description = kc.describe(key)
                payload = kc.read(key)
            except OSError as exc:
                if exc.errno in (errno.ENOKEY, errno.EKEYEXPIRED, errno.EKEYREVOKED,
                                 errno.EACCES):
                    continue  # removed or expired since the list was read (as MIT skips)
                raise
            if description == TIME_OFFSETS_KEY:
                if len(payload) != 8:
                    raise DecodeError(
                        f"credential cache {kn}: key {TIME_OFFSETS_KEY} holds {len(payload)} "
                        "bytes, not 8"
                    )
                tags = (CcacheHeaderTag(HEADER_KDC_OFFSET, payload),)
                continue
            if key_type == "keyring":
                continue
            entries.append(_parse(kn, description, payload, parse_credential))
    except OSError as exc:
        raise _forbidden(kn, exc) from None
    return str(kn), Ccache(principal, tuple(entries), tags)


def _serials(kn: KeyringName, data: bytes) -> tuple[int, ...]:
    if len(data) % 4:
        raise DecodeError(f"credential cache {kn}: keyring list of {len(data)} bytes")
    return struct.unpack(f"={len(data) // 4}i", data)


def _parse(kn: KeyringName, key: str, payload: bytes, parser: Callable[[bytes], R]) -> R:
    try:
        return parser(payload)
    except DecodeError as exc:
        raise DecodeError(f"credential cache {kn}: key {key!r} is malformed: {exc}") from None


def list_caches(residual: str, ops: KeyOps | None = None) -> tuple[str, ...]:
    """The caches of the collection ``KEYRING:<residual>``, primary first (full names); one name
    when the residual already names a cache; empty when there is no collection."""
    kn = parse_keyring_name(residual)
    if kn.subsidiary is not None:
        return (str(kn),)
    try:
        kc = _ops(ops)
        collection = _find_collection(kc, kn)
        if collection is None:
            return ()
        primary = _primary(kc, kn, collection)
        names = [primary]
        for key in _serials(kn, kc.read(collection)):
            try:
                key_type, description = kc.describe(key)
            except OSError:
                continue
            if key_type == "keyring" and description not in names:
                names.append(description)
    except OSError as exc:
        raise _forbidden(kn, exc) from None
    return tuple(str(kn.cache(n)) for n in names)


def store(residual: str, ccache: Ccache, ops: KeyOps | None = None) -> str:
    """Replace the cache ``KEYRING:<residual>`` (a collection: its primary) with ``ccache``.

    Returns:
        The full name written.

    Raises:
        NoCredentials: keyrings forbidden, or a keyring operation failed.
    """
    kn = parse_keyring_name(residual)
    try:
        kc = _ops(ops)
        anchor, possess, ckname = _anchor(kc, kn, create=True)
        collection = _find_or_create(kc, anchor, possess, ckname)
        if kn.subsidiary is None:
            key = kc.search(collection, "user", COLLECTION_PRIMARY)
            if key is None:
                name = kn.collection or "tkt"
                kc.add_key("user", COLLECTION_PRIMARY, dump_primary_index(name), collection)
            else:
                name = _primary(kc, kn, collection)
            kn = kn.cache(name)
        cache = _find_or_create(kc, collection, 0, kn.subsidiary or "tkt")
        kc.clear(cache)
        kc.add_key("user", PRINCIPAL_KEY, dump_principal(ccache.default_principal), cache)
        offset = ccache.kdc_offset
        if offset is not None and kn.anchor != "legacy":
            kc.add_key("user", TIME_OFFSETS_KEY, struct.pack(">ii", *offset), cache)
        for cred in ccache.entries:
            _add_credential(kc, kn, cache, cred)
    except OSError as exc:
        raise _forbidden(kn, exc) from None
    return str(kn)


def _add_credential(kc: KeyOps, kn: KeyringName, cache: int, cred: CcacheCredential) -> None:
    payload = dump_credential(cred)
    name = str(cred.server)
    if kn.anchor != "legacy":
        try:
            kc.add_key("big_key", name, payload, cache)
            return
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENODEV):
                raise
    kc.add_key("user", name, payload, cache)
