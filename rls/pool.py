"""A per-process pool of database connections: lazy, bounded, dead connections replaced."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rls.errors import Unavailable


@dataclass(slots=True)
class Lease:
    """A connection checked out of the pool; ``reused`` is False for a new connection."""

    conn: Any
    reused: bool
    broken: bool = False


class Pool:
    """Hands out at most ``size`` connections at once; opens them only when needed.

    No I/O happens in the constructor, so a pool built before a server forks its
    workers opens its connections in each worker.
    """

    def __init__(self, connect: Callable[[], Any], *, size: int = 8, timeout: float = 30.0):
        self._connect = connect
        self._idle: list[Any] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._timeout = timeout

    @contextmanager
    def lease(self) -> Iterator[Lease]:
        """Check a connection out; it goes back on exit unless marked ``broken``."""
        if not self._slots.acquire(timeout=self._timeout):
            raise Unavailable("all database connections are busy, retry later")
        lease: Lease | None = None
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            lease = Lease(conn, reused=True) if conn is not None else Lease(self._connect(), reused=False)
            yield lease
        finally:
            if lease is not None:
                if lease.broken:
                    _close_quietly(lease.conn)
                else:
                    with self._lock:
                        self._idle.append(lease.conn)
            self._slots.release()

    def close(self) -> None:
        """Close every idle connection (leased ones close when they come back broken)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001, S110 - the connection is being thrown away
        pass
