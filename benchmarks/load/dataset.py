"""The benchmark's data: one ``items`` table of 10,000 rows on SQLite and on a fresh PostgreSQL database.

``items`` has 100 groups of 100 rows; the user :data:`OWNER` owns 10 rows of every group,
so ``group_id = N`` read by that user returns 10 rows whichever way it is asked: with the
policy ``user_id = auth_user.id`` or with an explicit ``user_id`` filter. POSTs write to
:data:`POST_GROUP`, a group no GET reads, and are deleted after every POST run.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROWS = 10_000
GROUPS = 100
OWNER = 42
POST_GROUP = 1_000_000
POLICY = "user_id = auth_user.id"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"

_CREATE = "CREATE TABLE items (id {pk}, user_id INTEGER NOT NULL, group_id INTEGER NOT NULL, name TEXT NOT NULL)"
_INDEX = "CREATE INDEX items_group_id ON items (group_id)"


def item_rows() -> Iterator[tuple[int, int, str]]:
    """``(user_id, group_id, name)`` for every row, in insertion (= id) order.

    >>> rows = list(item_rows())
    >>> len(rows), sum(1 for user, group, _ in rows if user == OWNER and group == 7)
    (10000, 10)
    """
    for i in range(ROWS):
        owner = OWNER if (i // GROUPS) % 10 == 0 else 1000 + i
        yield owner, i % GROUPS, f"item {i}"


def expected_rows(group: int) -> list[dict[str, object]]:
    """The rows every server must return for ``group`` read as :data:`OWNER`, in id order.

    >>> [row["id"] for row in expected_rows(5)][:3]
    [6, 1006, 2006]
    """
    return [
        {"id": i + 1, "user_id": user, "group_id": g, "name": name}
        for i, (user, g, name) in enumerate(item_rows())
        if user == OWNER and g == group
    ]


@dataclass(frozen=True)
class Target:
    """One database holding ``items``: its rls URL and what the floor app's driver needs."""

    name: str
    url: str
    sqlite_path: str | None = None

    def reset_posts(self) -> None:
        """Delete the rows POST runs wrote and tidy up after them (SQLite: empty the WAL;
        PostgreSQL: vacuum), so that every run starts from the same table.

        A server may still be writing when the load generator has gone (requests queued
        behind SQLite's write lock), so first wait until the count of posted rows holds.
        """
        count, deadline = -1, time.monotonic() + 30
        while (now := count_posts(self)) != count and time.monotonic() < deadline:
            count = now
            time.sleep(0.1)
        tidy = "PRAGMA wal_checkpoint(TRUNCATE)" if self.sqlite_path else "VACUUM items"
        run_sql(self, [f"DELETE FROM items WHERE group_id = {POST_GROUP}", tidy])


def count_posts(target: Target) -> int:
    """How many rows the POST runs wrote so far."""
    sql = f"SELECT count(*) FROM items WHERE group_id = {POST_GROUP}"
    if target.sqlite_path is not None:
        conn = sqlite3.connect(target.sqlite_path, timeout=30)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(target.url) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
        return int(row[0]) if row else 0


def run_sql(target: Target, statements: list[str]) -> None:
    """Run ``statements`` on ``target`` with the bare driver, committing each."""
    if target.sqlite_path is not None:
        conn = sqlite3.connect(target.sqlite_path, timeout=30, isolation_level=None)
        try:
            for statement in statements:
                conn.execute(statement).fetchall()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def create_sqlite(directory: Path) -> Target:
    """A new SQLite file ``items.db`` in ``directory`` holding ``items``."""
    path = directory / "items.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(_CREATE.format(pk="INTEGER PRIMARY KEY"))
        conn.executemany("INSERT INTO items (user_id, group_id, name) VALUES (?, ?, ?)", item_rows())
        conn.execute(_INDEX)
        conn.execute("ANALYZE")
    return Target("sqlite", f"sqlite:///{path}", sqlite_path=str(path))


def create_postgres(admin_url: str, name: str) -> Target:
    """A new database ``name`` next to the one at ``admin_url``, holding ``items``.

    Raises:
        psycopg.OperationalError: the server cannot be reached.
    """
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = _with_database(admin_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_CREATE.format(pk="BIGSERIAL PRIMARY KEY"))  # type: ignore[arg-type]
        with conn.cursor() as cur, cur.copy("COPY items (user_id, group_id, name) FROM STDIN") as copy:
            for row in item_rows():
                copy.write_row(row)
        conn.execute(_INDEX)
        conn.execute("VACUUM ANALYZE items")
    return Target("postgres", url)


def drop_postgres(admin_url: str, name: str) -> None:
    """Drop the benchmark database ``name``, closing whatever is still connected to it."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` (query string kept).

    >>> _with_database("postgres://u@h:5432/test?sslmode=disable", "b")
    'postgres://u@h:5432/b?sslmode=disable'
    """
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


def setup_auth(target: Target) -> None:
    """Create the auth tables with ``rest auth setup`` and govern ``items`` by :data:`POLICY`.

    Setup prints the admin's password: it is discarded, never shown.
    """
    rest = str(Path(sys.executable).with_name("rest"))
    env = {
        **os.environ,
        "REST_AUTH_ARGON2_MEMORY_KIB": "8",
        "REST_AUTH_ARGON2_TIME_COST": "1",
        "REST_AUTH_ARGON2_PARALLELISM": "1",
    }
    for args in (["auth", "setup"], ["auth", "policy", "add", "items", "all", POLICY, "benchmark: own rows"]):
        done = subprocess.run(
            [rest, "-db.url", target.url, *args], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"rest {' '.join(args[:3])} failed: {done.stderr.strip()}")
