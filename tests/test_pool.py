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
