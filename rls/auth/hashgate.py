"""A bound on password hashing per worker: argon2id takes ``auth.argon2_memory_kib``
(64 MiB by default) for every hash in flight, so unbounded concurrent logins exhaust memory
and stall the server.

At most ``concurrency`` hashes run at once; up to ``queue`` more requests wait for a
turn; any request beyond that is refused at once with 503 and ``Retry-After``, so waiting
logins never take every request thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rls.errors import Unavailable

BUSY_MESSAGE = "too many password checks in progress, retry later"


class HashGate:
    """``with gate.slot(): …`` around each hash or verification.

    >>> gate = HashGate(concurrency=1, queue=0)
    >>> with gate.slot():
    ...     with gate.slot():
    ...         pass
    Traceback (most recent call last):
    rls.errors.Unavailable: too many password checks in progress, retry later
    """

    def __init__(self, *, concurrency: int, queue: int, wait: float = 30.0, retry_after: int = 1):
        self._running = threading.BoundedSemaphore(concurrency)
        self._admitted = threading.BoundedSemaphore(concurrency + queue)
        self._wait = wait
        self._retry_after = retry_after

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._admitted.acquire(blocking=False):
            raise self._busy()
        try:
            if not self._running.acquire(timeout=self._wait):
                raise self._busy()
            try:
                yield
            finally:
                self._running.release()
        finally:
            self._admitted.release()

    def _busy(self) -> Unavailable:
        return Unavailable(BUSY_MESSAGE, headers={"Retry-After": str(self._retry_after)})
