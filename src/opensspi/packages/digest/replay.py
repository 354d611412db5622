"""The Digest acceptor's replay record: nonce -> highest nonce count, per nonce secret.

RFC 7616 §3.4 (https://www.rfc-editor.org/rfc/rfc7616#section-3.4): "The nc value is the
hexadecimal count of the number of requests (including the current request) that the client
has sent with the nonce value in this request. [...] The purpose of this directive is to allow
the server to detect request replays by maintaining its own copy of this count -- if the same
nc value is seen twice, then the request is a replay." RFC 2831 §2.1.2 says the same of
DIGEST-MD5's ``nc``.

Why process-wide (issue 12): the acceptor's nonces validate themselves (an HMAC under the
nonce secret, ``crypto.make_nonce``), so every credential handle holding the same secret
accepts every nonce any of them issued. Code written for pywin32 acquires a handle per request
(``sspi.ServerAuth``); a record kept per handle let a replayed response in through the next
handle. The record therefore belongs to the secret: one :class:`NonceCounts` per configured
``nonce_secret`` in the process (looked up by a keyed digest of the secret, never the secret
itself), and a private one for a secret drawn at random by one credential (no other handle can
validate its nonces).

Bounds: an entry lives until its nonce goes stale (issued + ``nonce_lifetime``), after which the
acceptor answers ``stale=true`` and never counts the nonce again. At most ``max_nonces``
entries are kept; when a fresh entry must be evicted, every nonce issued at or before it is
from then on treated as stale (the client is challenged again) until that time itself is
stale, so a full record never accepts a replay.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Final

__all__ = ["NonceCounts", "shared_counts"]

_MAX_SECRETS: Final = 256
"""How many distinct configured nonce secrets keep a record (least recently used evicted)."""


class NonceCounts:
    """nonce -> highest nc accepted, bounded and expiring; thread-safe."""

    __slots__ = ("_floor", "_lock", "_max", "_seen", "lifetime")

    def __init__(self, max_nonces: int, lifetime: int) -> None:
        self._max = max(1, max_nonces)
        self.lifetime = lifetime
        self._lock = threading.Lock()
        # nonce -> (highest nc, issued); insertion order is the order nonces were first used.
        self._seen: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._floor: int | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def forgotten(self, issued: int, now: int) -> bool:
        """Whether a nonce issued at ``issued`` may have had its entry evicted: treat as stale."""
        with self._lock:
            self._purge(now)
            return self._floor is not None and issued <= self._floor

    def accept(self, nonce: str, nc: int, issued: int, now: int) -> bool:
        """Record ``nc`` for ``nonce``; False when it is not above every count seen before
        (a replay), or when the nonce's entry may have been evicted."""
        with self._lock:
            self._purge(now)
            if self._floor is not None and issued <= self._floor:
                return False
            entry = self._seen.get(nonce)
            if entry is not None and nc <= entry[0]:
                return False
            self._seen[nonce] = (nc, issued)
            self._seen.move_to_end(nonce)
            while len(self._seen) > self._max:
                _, (_, old_issued) = self._seen.popitem(last=False)
                if old_issued + self.lifetime >= now and (
                    self._floor is None or old_issued > self._floor
                ):
                    self._floor = old_issued
            return True

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            self._floor = None

    def _purge(self, now: int) -> None:
        stale = now - self.lifetime
        while self._seen:
            nonce, (_, issued) = next(iter(self._seen.items()))
            if issued >= stale:
                break
            del self._seen[nonce]
        if self._floor is not None and self._floor < stale:
            self._floor = None


_registry: OrderedDict[bytes, NonceCounts] = OrderedDict()
_registry_lock = threading.Lock()
_registry_key: Final = b"opensspi digest replay record"


def shared_counts(secret: bytes, max_nonces: int, lifetime: int) -> NonceCounts:
    """The process-wide record of the nonces made with ``secret``.

    Handles configured with the same secret share one record; the first one's ``max_nonces``
    sizes it, and the longest ``nonce_lifetime`` asked for keeps its entries.
    """
    tag = hashlib.sha256(_registry_key + secret).digest()
    with _registry_lock:
        counts = _registry.get(tag)
        if counts is None:
            counts = _registry[tag] = NonceCounts(max_nonces, lifetime)
            while len(_registry) > _MAX_SECRETS:
                _registry.popitem(last=False)
        else:
            _registry.move_to_end(tag)
            counts.lifetime = max(counts.lifetime, lifetime)
        return counts
