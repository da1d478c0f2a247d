"""A per-process pool of database connections: lazy, bounded, dead connections replaced."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rls.errors import Unavailable


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of a pool: its bound, connections open, idle among them, callers waiting."""

    size: int
    open: int
    idle: int
    waiting: int


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

    def __init__(
        self, connect: Callable[[], Any], *, size: int = 8, timeout: float = 30.0, max_waiting: int | None = None
    ):
        self._connect = connect
        self._idle: list[Any] = []
        self._open = 0
        self._size = size
        self._timeout = timeout
        # Callers waiting for a connection each hold a request thread; past this many a
        # caller is refused at once, so waiters cannot take every thread of the server.
        self._max_waiting = max_waiting
        self._waiting = 0
        self._available = threading.Condition(threading.Lock())

    def acquire(self) -> Lease:
        """A connection; waits at most ``timeout`` seconds for one.

        Raises:
            Unavailable: none came free in time, or ``max_waiting`` callers already wait
                (503 with ``Retry-After``).
        """
        with self._available:
            if not self._idle and self._open >= self._size:
                self._wait_for_connection()
            if self._idle:
                return Lease(self._idle.pop(), reused=True)
            self._open += 1
        try:
            return Lease(self._connect(), reused=False)
        except BaseException:
            self._forget()
            raise

    def _wait_for_connection(self) -> None:
        # Called holding the lock, with no idle connection and none left to open.
        if self._max_waiting is not None and self._waiting >= self._max_waiting:
            raise _busy()
        self._waiting += 1
        try:
            while not self._idle and self._open >= self._size:
                if not self._available.wait(self._timeout):
                    raise _busy()
        finally:
            self._waiting -= 1

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

    def stats(self) -> PoolStats:
        """How the pool is used right now (for the metrics)."""
        with self._available:
            return PoolStats(self._size, self._open, len(self._idle), self._waiting)

    def close(self) -> None:
        """Close every idle connection (leased ones close when they come back broken)."""
        with self._available:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            _close_quietly(conn)


def _busy() -> Unavailable:
    return Unavailable("all database connections are busy, retry later", headers={"Retry-After": "1"})


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001, S110 - the connection is being thrown away
        pass
