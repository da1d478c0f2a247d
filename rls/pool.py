"""A per-process pool of database connections: lazy, bounded, dead connections replaced."""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    workers opens its connections in each worker. Every :meth:`acquire` must be paired
    with a :meth:`release` (in ``finally``); a lease marked ``broken`` is closed then.
    """

    def __init__(self, connect: Callable[[], Any], *, size: int = 8, timeout: float = 30.0):
        self._connect = connect
        self._idle: list[Any] = []
        self._open = 0
        self._size = size
        self._timeout = timeout
        self._available = threading.Condition(threading.Lock())

    def acquire(self) -> Lease:
        with self._available:
            while not self._idle and self._open >= self._size:
                if not self._available.wait(self._timeout):
                    raise Unavailable("all database connections are busy, retry later")
            if self._idle:
                return Lease(self._idle.pop(), reused=True)
            self._open += 1
        try:
            return Lease(self._connect(), reused=False)
        except BaseException:
            self._forget()
            raise

    def release(self, lease: Lease) -> None:
        if lease.broken:
            _close_quietly(lease.conn)
            self._forget()
            return
        with self._available:
            self._idle.append(lease.conn)
            self._available.notify()

    def _forget(self) -> None:
        with self._available:
            self._open -= 1
            self._available.notify()

    def close(self) -> None:
        """Close every idle connection (leased ones close when they come back broken)."""
        with self._available:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001, S110 - the connection is being thrown away
        pass
