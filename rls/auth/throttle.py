"""Login throttling: too many failed logins for one username or one client, or too many
logins of any outcome from one client → 429.

Failures are counted in a sliding window, in this process's memory, for at most
``max_keys`` usernames and clients (the least recently failing are forgotten first).
With several worker processes each counts on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from rls.errors import TooManyRequests

_MAX_KEY_LENGTH = 256


class FailureCounter:
    """Failure times per key within the last ``window`` seconds, at most ``limit`` kept per key."""

    def __init__(self, limit: int, window: float, *, max_keys: int, clock: Callable[[], float]):
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it is not over its limit."""
        times = self._failures.get(key)
        if times is None:
            return 0.0
        now = self._clock()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0.0
        return times[0] + self.window - now if len(times) >= self.limit else 0.0

    def add(self, key: str) -> None:
        times = self._failures.get(key)
        if times is None:
            times = self._failures[key] = deque(maxlen=self.limit)
        times.append(self._clock())
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)


class LoginThrottle:
    """Refuse logins for a username or a client address after too many recent failures.

    >>> throttle = LoginThrottle(max_per_user=2, max_per_client=10, window=60)
    >>> throttle.failed("alice", "10.0.0.1"); throttle.failed("alice", "10.0.0.1")
    >>> throttle.check("alice", "10.0.0.2")
    Traceback (most recent call last):
    rls.errors.TooManyRequests: too many failed logins, retry later
    """

    def __init__(
        self,
        *,
        max_per_user: int = 5,
        max_per_client: int = 20,
        max_attempts_client: int = 60,
        window: float = 300,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._users = FailureCounter(max_per_user, window, max_keys=max_keys, clock=clock)
        self._clients = FailureCounter(max_per_client, window, max_keys=max_keys, clock=clock)
        # Successful logins cost a password hash too (64 MiB and ~0.1 s of CPU): one
        # client may not ask for them without limit either.
        self._attempts = FailureCounter(max_attempts_client, window, max_keys=max_keys, clock=clock)
        self._lock = threading.Lock()

    def check(self, username: str, client: str) -> None:
        """Raise :class:`TooManyRequests` (with ``Retry-After``) when the username or the
        client is throttled; otherwise count this attempt for the client."""
        user_key, client_key = _key(username), _key(client)
        with self._lock:
            wait = max(self._users.retry_after(user_key), self._clients.retry_after(client_key))
            message = "too many failed logins, retry later"
            if wait <= 0:
                wait = self._attempts.retry_after(client_key)
                message = "too many logins from this client, retry later"
            if wait <= 0:
                self._attempts.add(client_key)
        if wait > 0:
            raise TooManyRequests(message, headers={"Retry-After": str(max(1, math.ceil(wait)))})

    def failed(self, username: str, client: str) -> None:
        with self._lock:
            self._users.add(_key(username))
            self._clients.add(_key(client))

    def succeeded(self, username: str) -> None:
        """A successful login clears the username's failures (not the client's: one valid
        account must not reset a client that is guessing others)."""
        with self._lock:
            self._users.clear(_key(username))


def _key(text: str) -> str:
    # Bound the memory one key can take; longer usernames cannot exist anyway.
    return text[:_MAX_KEY_LENGTH]
