"""The connection pool on its own: bounded, lazy, broken connections replaced."""

from __future__ import annotations

import pytest

from rls.errors import Unavailable
from rls.pool import Pool


class FakeConnection:
    opened = 0

    def __init__(self):
        FakeConnection.opened += 1
        self.closed = False

    def close(self):
        self.closed = True


def test_no_connection_is_opened_before_use():
    FakeConnection.opened = 0
    Pool(FakeConnection, size=2)
    assert FakeConnection.opened == 0


def test_a_released_connection_is_reused():
    pool = Pool(FakeConnection, size=2)
    first = pool.acquire()
    pool.release(first)
    second = pool.acquire()
    assert second.conn is first.conn and second.reused


def test_a_broken_connection_is_closed_and_replaced():
    pool = Pool(FakeConnection, size=1)
    lease = pool.acquire()
    lease.broken = True
    pool.release(lease)
    assert lease.conn.closed
    replacement = pool.acquire()
    assert replacement.conn is not lease.conn and not replacement.reused


def test_the_pool_is_bounded():
    pool = Pool(FakeConnection, size=1, timeout=0.05)
    pool.acquire()
    with pytest.raises(Unavailable, match="busy"):
        pool.acquire()


def test_a_failed_connect_frees_its_slot():
    def broken():
        raise OSError("down")

    pool = Pool(broken, size=1, timeout=0.05)
    for _ in range(3):
        with pytest.raises(OSError):
            pool.acquire()


def test_callers_beyond_max_waiting_are_refused_at_once_with_retry_after():
    import threading
    import time

    pool = Pool(FakeConnection, size=1, timeout=5, max_waiting=1)
    held = pool.acquire()
    waiter_got = []
    waiter = threading.Thread(target=lambda: waiter_got.append(pool.acquire()))
    waiter.start()
    time.sleep(0.1)  # the waiter is waiting for the one connection
    began = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        pool.acquire()
    assert time.monotonic() - began < 0.5
    assert caught.value.headers == {"Retry-After": "1"}
    pool.release(held)
    waiter.join()
    assert waiter_got[0].conn is held.conn  # the waiter got the connection released
