"""A bounded cache, safe to share between threads, cheap on a hit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """At most ``size`` entries; when full, the oldest entry goes first.

    A hit is one dictionary lookup: keeping a recency order (an LRU) would cost a
    reordering per hit on the hot path, while the working sets here (request shapes,
    statements, tokens) are far smaller than the bound, so evictions are rare.

    >>> cache = BoundedCache[int](2)
    >>> cache.get_or_build("a", lambda: 1), cache.get_or_build("a", lambda: 2)
    (1, 1)
    """

    def __init__(self, size: int = 4096):
        self.size = size
        self._data: dict[Hashable, V] = {}
        self._lock = threading.Lock()
        # Counted for the metrics; plain ints (a lost increment under a race is harmless).
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        return self._data.get(key)

    def hit(self, key: Hashable) -> V | None:
        """The cached value, counted as a hit, or None (nothing counted: the caller builds
        it with :meth:`get_or_build`). For hot paths: a hit allocates no ``build`` closure."""
        value = self._data.get(key)
        if value is not None:
            self.hits += 1
        return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                del self._data[next(iter(self._data))]

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        """The cached value, or ``build()`` stored under ``key`` (exceptions are not cached)."""
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            value = build()
            self.put(key, value)
        else:
            self.hits += 1
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
