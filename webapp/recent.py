"""A map that keeps only its most recently used entries, for per-process caches.

Each process keeps a few things it would otherwise remake on every request (a
JWKS member's public key, a token's decoded view, a rendered page); none may
grow with the number of visitors, so each is bounded, the least recently used
entry going first. Requests run in threads: every step holds a lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """At most ``size`` entries; a read or a write makes its entry the most recent."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key`` (replacing any), dropping the least recent
        entries beyond ``size``."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, key: K, value: V) -> None:
        """Drop ``key`` if it still holds ``value`` (a newer entry stays)."""
        with self._lock:
            if self._entries.get(key) is value:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
