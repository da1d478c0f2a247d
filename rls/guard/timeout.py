"""The time limit :func:`rls.connect` and :func:`rls.connect_async` put on every statement
they run (``statement_timeout``, seconds; :data:`DEFAULT_STATEMENT_TIMEOUT` unless given,
None for none).

The limit is rls's own, set on the session the wrapper was handed:

* PostgreSQL: ``SET statement_timeout`` before the first statement, and again after every
  transaction ends (a rolled-back transaction undoes a SET made in it);
* MariaDB / MySQL: ``SET SESSION max_statement_time`` (MySQL: ``max_execution_time``) when
  the connection is wrapped;
* SQLite: a progress handler on the driver connection that interrupts a statement once
  its deadline is past. A statement's deadline is set once, when it starts (execute); its
  fetches step it on the budget it has left: the clock pauses between driver calls (time
  the application spends between fetches does not count) and resumes at each fetch, never
  re-armed — a statement read row by row computes no longer than one read at once.

No statement the guard passes can change the limit (the guard refuses ``SET``, ``RESET``,
``DISCARD``, ``set_config``; the wrappers offer no ``set_progress_handler``). A statement
that runs out raises :class:`rls.errors.StatementTimeout`; the connection stays usable (on
PostgreSQL inside a transaction: after a rollback, as after any error).
"""

from __future__ import annotations

import math
import time
from typing import Any

from rls.errors import StatementTimeout

DEFAULT_STATEMENT_TIMEOUT = 30.0
"""Seconds a statement run through :func:`rls.connect` may take unless told otherwise."""

PROGRESS_STEPS = 10_000
"""SQLite virtual machine steps between two looks at the clock (~1 ms of work)."""


def checked_timeout(seconds: Any) -> float | None:
    """``statement_timeout`` as given: a positive number of seconds, or None (no limit)."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise ValueError("statement_timeout must be a positive number of seconds, or None for no limit")
    return float(seconds)


class StatementClock:
    """One wrapped connection's limit: the deadline SQLite's progress handler reads, and
    whether the server-side limit is in force on the session."""

    __slots__ = ("asserted", "deadline", "seconds")

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.deadline = math.inf
        self.asserted = seconds is None

    def arm(self, left: float | None = None) -> None:
        """Run a driver call of one statement: on its whole budget when it starts
        (execute), on what it had ``left`` when it is stepped again (a fetch) — never a new
        budget per fetch: that lets a statement read row by row compute without bound."""
        if self.seconds is not None:
            self.deadline = time.monotonic() + (self.seconds if left is None else left)

    def disarm(self) -> float:
        """Pause the clock after a driver call; the seconds the statement has left (kept by
        its cursor: two cursors' statements are timed apart)."""
        left = max(0.0, self.deadline - time.monotonic()) if self.deadline != math.inf else 0.0
        self.deadline = math.inf
        return left

    def over(self) -> int:
        """SQLite's progress handler: non-zero interrupts the running statement."""
        return 1 if time.monotonic() > self.deadline else 0

    def error(self) -> StatementTimeout:
        """The error a statement that ran out raises."""
        if self.seconds is None:  # the session's own limit (set by whoever opened it)
            return StatementTimeout()
        return StatementTimeout(f"the statement ran longer than rls.connect's statement_timeout ({self.seconds:g} s)")
