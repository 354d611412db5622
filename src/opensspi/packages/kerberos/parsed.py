"""Parsed files, reused while the files are unchanged: krb5.conf, keytabs, ccaches.

pywin32's ``sspi.ClientAuth`` / ``ServerAuth`` (and many SSPI programs) acquire credentials
for every connection, and each acquisition read and parsed krb5.conf, the keytab or the
ccache again: more than the whole Kerberos handshake. Two memos make that cheap:

- :func:`parsed`, by content: a file read again whose bytes hash (SHA-256) to what was parsed
  last gives the same immutable object, without parsing. The keytab's keys are not kept twice.
- :func:`unchanged`, by ``os.stat``: while a file's device, inode, size, modification and
  change times are what they were when it was read, it is not read at all. A file changed
  within :data:`RACY_NS` of being read could still show the same times to a later ``stat``
  (file times come from a coarse clock: a rewrite of the same size in the same tick changes
  none of them), so such an entry is not trusted: the file is read and hashed again each time
  (git's "racy clean" rule) until it is older. The change time cannot be set by programs, so a
  tool that restores an old modification time is still seen. A system clock stepped back by
  more than :data:`RACY_NS` could hide a rewrite of the same size; MIT reads every time.

At most :data:`LIMIT` entries per kind are kept, the oldest dropped first. Thread-safe.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from ...errors import NoCredentials

__all__ = ["LIMIT", "RACY_NS", "clear", "digest", "load_file", "parsed", "unchanged"]

T = TypeVar("T")
LIMIT = 16
RACY_NS = 2_000_000_000
"""A file modified this close (ns) before it was read is checked by content every time."""

_lock = threading.Lock()
_memo: OrderedDict[tuple[str, Hashable], object] = OrderedDict()
_stats: OrderedDict[tuple[str, Hashable], tuple[Hashable, object]] = OrderedDict()

Signature = tuple[tuple[int, int, int, int, int] | None, ...]
"""Per file: (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns), or None when it is missing."""


def _bounded(memo: OrderedDict[tuple[str, Hashable], T], kind: str) -> None:
    kinds = [k for k in memo if k[0] == kind]
    for old in kinds[: max(0, len(kinds) - LIMIT)]:
        del memo[old]


def parsed(kind: str, key: Hashable, parse: Callable[[], T]) -> T:
    """``parse()``'s result for ``(kind, key)``, from the memo when the same key was parsed."""
    slot = (kind, key)
    with _lock:
        found = _memo.get(slot)
        if found is not None:
            _memo.move_to_end(slot)
            return found  # type: ignore[return-value]
    value = parse()
    with _lock:
        _memo[slot] = value
        _bounded(_memo, kind)
    return value


def signature(paths: Sequence[str]) -> Signature | None:
    """The stat signature of ``paths``, or None when one is a directory or cannot be stat'ed
    for another reason than being missing (then there is nothing to trust)."""
    out: list[tuple[int, int, int, int, int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            out.append(None)
            continue
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


def unchanged(
    kind: str, paths: Sequence[str], load: Callable[[], tuple[T, bool]], name: Hashable = None
) -> T:
    """``load()``'s value for the files ``paths``, without calling it while their stat
    signature is the one recorded when it was last called (and that call was not racy).

    ``load`` reads the files itself (through :func:`parsed`, so a racy re-read still skips the
    parse) and returns ``(value, cacheable)``; ``cacheable`` is False when the value depends on
    more than ``paths`` (krb5.conf include directives). ``name`` tells apart loads of the same
    paths that differ otherwise (default: the paths).
    """
    slot = (kind, tuple(paths) if name is None else name)
    started = time.time_ns()
    sig = signature(paths)
    if sig is not None:
        with _lock:
            held = _stats.get(slot)
            if held is not None and held[0] == sig:
                _stats.move_to_end(slot)
                return held[1]  # type: ignore[return-value]
    value, cacheable = load()
    if sig is None or not cacheable:
        return value
    newest = max((max(s[3], s[4]) for s in sig if s is not None), default=0)
    with _lock:
        if newest < started - RACY_NS:
            _stats[slot] = (sig, value)
            _bounded(_stats, kind)
        else:
            _stats.pop(slot, None)  # racy: read it again next time
    return value


def load_file(
    kind: str, name: str, parse: Callable[[bytes], T], missing: str, what: str
) -> T:
    """``parse`` of the file ``name``'s bytes, read again only when its stat signature changed
    (:func:`unchanged`) and parsed again only when its bytes did (:func:`parsed`).

    Raises:
        NoCredentials: the file is missing (the message is ``missing``) or unreadable
            ("Cannot read ``what`` ``name``: why.").
        DecodeError: what ``parse`` raises.
    """

    def load() -> tuple[T, bool]:
        try:
            with open(name, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NoCredentials(missing) from None
        except OSError as exc:
            raise NoCredentials(f"Cannot read {what} {name}: {exc.strerror or exc}.") from None
        return parsed(kind, (name, digest(data)), lambda: parse(data)), True

    return unchanged(kind, (name,), load)


def digest(data: bytes) -> bytes:
    """The key for a file's bytes."""
    return hashlib.sha256(data).digest()


def clear() -> None:
    """Forget every parsed file (tests)."""
    with _lock:
        _memo.clear()
        _stats.clear()
