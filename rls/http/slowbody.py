"""A bound on the requests of one worker that are reading their body.

granian hands WSGI a body stream whose ``read`` blocks until the bytes arrive and has no
timeout (hyper's header read timeout ends at the headers). A client that sends its body
slowly, or never, holds the request thread that reads it for as long as it likes. Reading
on a helper thread with a deadline does not help: granian stalls the whole interpreter
when a request finishes while another thread is still reading its body (measured with
granian 2.8.9). So the number of requests reading a body at once is bounded instead;
any request beyond the bound is answered 503 with ``Retry-After`` at once, and the
remaining request threads keep serving requests without a body.
"""

from __future__ import annotations

import threading
from typing import Any

from rls.errors import Unavailable

BUSY_MESSAGE = "too many requests are sending a body, retry later"


class BodyGate:
    """At most ``readers`` body reads in progress at once in this worker."""

    def __init__(self, readers: int):
        self._slots = threading.BoundedSemaphore(readers)

    def wrap(self, stream: Any) -> GatedInput:
        """``stream`` (``wsgi.input``) with its reads counted against the bound."""
        return GatedInput(stream, self)

    def read(self, stream: Any, size: int) -> bytes:
        if not self._slots.acquire(blocking=False):
            raise Unavailable(BUSY_MESSAGE, headers={"Retry-After": "1"})
        try:
            return bytes(stream.read(size))
        finally:
            self._slots.release()


class GatedInput:
    """A ``wsgi.input`` whose ``read`` is refused (503) when too many are in progress."""

    __slots__ = ("_gate", "_stream")

    def __init__(self, stream: Any, gate: BodyGate):
        self._stream = stream
        self._gate = gate

    def read(self, size: int = -1) -> bytes:
        return self._gate.read(self._stream, size)
