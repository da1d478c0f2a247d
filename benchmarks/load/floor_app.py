"""The floor: the benchmark's GET and POST hand-written on the bare driver, as a WSGI app.

It answers exactly what rls answers for ``GET /items?group_id=eq.N&user_id=eq.M`` and for
``POST /items`` of one object, with one statement per request in autocommit, the same
driver and the same connection settings, and nothing else: no schema, no plan, no policy.
Whatever rls spends above this is the price of being general and safe.

Served by granian as ``benchmarks.load.floor_app:create_app`` (a factory) with the
database URL in ``RLS_BENCH_FLOOR_URL``.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

COLUMNS = ("id", "user_id", "group_id", "name")
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Connections:
    """Idle connections for reuse; a thread that finds none opens one (granian's blocking
    threads bound how many exist)."""

    def __init__(self, connect: Callable[[], Any]):
        self._connect = connect
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    @contextmanager
    def get(self) -> Iterator[Any]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        yield conn
        self._idle.put(conn)


def connect_sqlite(path: str) -> sqlite3.Connection:
    """A connection with rls's SQLite settings (WAL, busy timeout), in autocommit."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def filters(query: str) -> tuple[int, int]:
    """``(group_id, user_id)`` from ``group_id=eq.N&user_id=eq.M``.

    >>> filters("group_id=eq.5&user_id=eq.42")
    (5, 42)
    """
    values = {key: value.removeprefix("eq.") for key, value in parse_qsl(query)}
    return int(values["group_id"]), int(values["user_id"])


def create_app() -> WsgiApp:
    """The WSGI app for the database in ``RLS_BENCH_FLOOR_URL``."""
    url = os.environ["RLS_BENCH_FLOOR_URL"]
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite://")
        pool = Connections(lambda: connect_sqlite(path))
        mark = "?"
    else:
        import psycopg

        pool = Connections(lambda: psycopg.connect(url, autocommit=True))
        mark = "%s"
    select = f"SELECT id, user_id, group_id, name FROM items WHERE group_id = {mark} AND user_id = {mark} ORDER BY id LIMIT 100"
    insert = f"INSERT INTO items (group_id, name, user_id) VALUES ({mark}, {mark}, {mark})"

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/items":
            return respond(start_response, "404 Not Found", b'{"msg":"not found"}')
        if environ["REQUEST_METHOD"] == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            row = json.loads(environ["wsgi.input"].read(size))
            with pool.get() as conn:
                conn.execute(insert, (row["group_id"], row["name"], row["user_id"]))
            return respond(start_response, "200 OK", b'{"msg":"successfully inserted 1 rows"}')
        with pool.get() as conn:
            rows = conn.execute(select, filters(environ.get("QUERY_STRING", ""))).fetchall()
        body = json.dumps([dict(zip(COLUMNS, row, strict=True)) for row in rows], separators=(",", ":"))
        return respond(start_response, "200 OK", body.encode())

    return app


def respond(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]
