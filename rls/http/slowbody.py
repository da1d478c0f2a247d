"""Request bodies read with a deadline, so a client that trickles its body cannot hold a
worker thread.

granian hands WSGI a body stream whose ``read`` blocks until the bytes arrive, with no
timeout of its own. The read runs on a helper thread instead and the request thread
waits at most ``timeout`` seconds; when it gives up, the request is answered 408 and
the server closes the connection (its body was not read), which ends the helper's read.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from rls.errors import RequestTimeout


class BodyReader:
    """Reads bodies for one worker on at most ``threads`` helper threads (started on
    demand); give it as many as the worker keeps connections, so a read never queues
    behind a slow client's."""

    def __init__(self, timeout: float, *, threads: int):
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rls-body")

    def wrap(self, stream: Any) -> TimedInput:
        """``stream`` (``wsgi.input``) with reads bounded by the timeout."""
        return TimedInput(stream, self)

    def read(self, stream: Any, size: int) -> bytes:
        future = self._pool.submit(stream.read, size)
        try:
            return bytes(future.result(self.timeout))
        except FutureTimeout:
            future.cancel()  # still queued: never read at all
            raise RequestTimeout(f"request body not received within {self.timeout:g} s (server.body_timeout)") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class TimedInput:
    """A ``wsgi.input`` whose ``read`` raises :class:`RequestTimeout` instead of waiting forever."""

    __slots__ = ("_reader", "_stream")

    def __init__(self, stream: Any, reader: BodyReader):
        self._stream = stream
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        return self._reader.read(self._stream, size)
