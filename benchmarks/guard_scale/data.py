"""The benchmark's tables, loaded once per namespace and reused while their marker matches.

``orders(id, user_id, customer_id, amount, note, created_at)`` holds ``rows`` rows; user 1
owns every even id (half the table, spread over the ids), the odd ids belong to 97 other
users. ``customers(id, user_id, name)`` holds ``rows // 10`` rows (at least 10); user 1 owns
the ids ≡ 1 or 2 (mod 4). ``orders.customer_id = 1 + id * 7919 mod customers``, so an order
of user 1 points at a customer user 1 owns about half the time. ``note`` is ``'Note <id mod
1000>'``. Indexes: the primary keys, ``orders(user_id)``, ``orders(customer_id)``,
``customers(user_id)``.

Each database gets its own namespace (PostgreSQL schema, MariaDB database, SQLite file) named
``rls_bench_scale`` by default. A table ``rls_bench_marker`` records the row count and
:data:`VERSION` of the data; a run whose marker matches reuses the tables as they are.
On PostgreSQL the same namespace also gets native RLS: FORCE ROW LEVEL SECURITY, a policy
``user_id = current_setting('rls.user_id')::int`` on both tables, and a non-owner role
``<namespace>_reader`` that the native variant runs as.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rls.database import Database

VERSION = 1  # bump when the data or the DDL below changes: old namespaces are then reloaded
USER = 1
DEFAULT_URLS = {
    "postgres": os.environ.get("RLS_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("RLS_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
    "sqlite": os.environ.get("RLS_BENCH_SQLITE_DIR", tempfile.gettempdir()),
}


def customers_for(rows: int) -> int:
    """How many customers go with ``rows`` orders.

    >>> customers_for(1_000_000), customers_for(1000), customers_for(20)
    (100000, 100, 10)
    """
    return max(rows // 10, 10)


@dataclass(frozen=True)
class Target:
    """One database holding the benchmark tables: its rls URL and how to connect to it."""

    name: str  # sqlite, postgres or mysql
    base: str  # the server's URL (the directory for SQLite) the namespace lives in
    url: str
    namespace: str
    rows: int
    loaded_now: bool
    load_seconds: float

    @property
    def native(self) -> bool:
        """Whether this database has native RLS (a variant (b))."""
        return self.name == "postgres"

    @property
    def reader_role(self) -> str:
        return f"{self.namespace}_reader"

    def connect(self) -> Any:
        """A DB-API connection set up exactly as rls sets up its own (autocommit)."""
        dialect = Database(self.url).dialect
        return dialect.connect(**dialect.connect_args(self.url))

    def connect_native(self) -> Any:
        """A PostgreSQL connection running as the non-owner role, user :data:`USER` set."""
        conn = self.connect()
        conn.execute(f'SET ROLE "{self.reader_role}"')
        conn.execute(f"SET rls.user_id = '{USER}'")
        return conn


# -- DDL and data per database -----------------------------------------------------------

_OWNER = {"orders": "CASE WHEN {i} % 2 = 0 THEN 1 ELSE 2 + {i} % 97 END",
          "customers": "CASE WHEN {i} % 4 IN (1, 2) THEN 1 ELSE 2 + {i} % 97 END"}  # fmt: skip


def _statements(name: str, rows: int) -> list[str]:
    """The DDL and INSERTs that build both tables on ``name`` (indexes after the data)."""
    c = customers_for(rows)
    types = {
        "postgres": ("bigint", "integer", "numeric(12,2)", "text", "timestamp"),
        "mysql": ("BIGINT", "INT", "DECIMAL(12,2)", "TEXT", "DATETIME"),
        "sqlite": ("INTEGER", "INTEGER", "NUMERIC", "TEXT", "TIMESTAMP"),
    }[name]
    big, int_, dec, text, ts = types
    if name == "postgres":
        source, i = "generate_series(1::bigint, {n}) AS s(i)", "i"
        note, created = "'Note ' || (i % 1000)", "timestamp '2026-01-01' + i * interval '1 second'"
        cname = "'customer ' || i"
    elif name == "mysql":
        source, i = "seq_1_to_{n}", "seq"
        note, created = "CONCAT('Note ', seq % 1000)", "TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND"
        cname = "CONCAT('customer ', seq)"
    else:
        source, i = "s", "i"
        note, created = "'Note ' || (i % 1000)", "datetime('2026-01-01', '+' || i || ' seconds')"
        cname = "'customer ' || i"

    def insert(table: str, n: int, columns: str) -> str:
        series = (
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) " if name == "sqlite" else ""
        )
        return f"{series.format(n=n)}INSERT INTO {table} SELECT {columns} FROM {source.format(n=n)}"

    owner = {k: v.format(i=i) for k, v in _OWNER.items()}
    return [
        f"CREATE TABLE customers (id {int_} PRIMARY KEY, user_id {int_} NOT NULL, name {text} NOT NULL)",
        f"CREATE TABLE orders (id {big} PRIMARY KEY, user_id {int_} NOT NULL, customer_id {int_} NOT NULL, "
        f"amount {dec} NOT NULL, note {text} NOT NULL, created_at {ts} NOT NULL)",
        insert("customers", c, f"{i}, {owner['customers']}, {cname}"),
        insert(
            "orders", rows, f"{i}, {owner['orders']}, 1 + ({i} * 7919) % {c}, ({i} % 100000) / 100.0, {note}, {created}"
        ),
        "CREATE INDEX orders_user_id ON orders (user_id)",
        "CREATE INDEX orders_customer_id ON orders (customer_id)",
        "CREATE INDEX customers_user_id ON customers (user_id)",
        "CREATE TABLE rls_bench_marker (rows_loaded BIGINT NOT NULL, version INTEGER NOT NULL)",
        f"INSERT INTO rls_bench_marker VALUES ({rows}, {VERSION})",
    ]


def _native_statements(namespace: str, role: str) -> list[str]:
    """Native RLS on PostgreSQL: the policy of the guard, written by hand."""
    out = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
        f'THEN CREATE ROLE "{role}" NOLOGIN; END IF; END $$',
        f'GRANT USAGE ON SCHEMA "{namespace}" TO "{role}"',
    ]
    for table in ("orders", "customers"):
        out += [
            f'GRANT SELECT ON {table} TO "{role}"',
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"CREATE POLICY {table}_own ON {table} USING (user_id = current_setting('rls.user_id')::int)",
        ]
    return out


# -- namespaces ----------------------------------------------------------------------------


def _admin(name: str, base: str) -> Callable[[str], list[tuple[Any, ...]]]:
    """Run one statement in autocommit on the server at ``base`` (no namespace)."""
    db = Database(base)
    args = db.dialect.connect_args(base)
    if name == "mysql":
        args.pop("database", None)

    def run(statement: str) -> list[tuple[Any, ...]]:
        conn = db.dialect.connect(**args)
        try:
            cur = conn.cursor()
            cur.execute(statement)
            return list(cur.fetchall()) if cur.description is not None else []
        finally:
            conn.close()

    return run


def namespace_url(name: str, base: str, namespace: str) -> str:
    """The rls URL of ``namespace`` on the server (or directory, for SQLite) ``base``.

    >>> namespace_url("postgres", "postgres://u@h:5432/test", "ns")
    'postgres://u@h:5432/test?search_path=ns'
    >>> namespace_url("mysql", "mysql://root@127.0.0.1:3306/test", "ns"), namespace_url("sqlite", "/tmp", "ns")
    ('mysql://root@127.0.0.1:3306/ns', 'sqlite:////tmp/ns.db')
    """
    if name == "postgres":
        return f"{base}{'&' if '?' in base else '?'}search_path={namespace}"
    if name == "mysql":
        return f"{base.rpartition('/')[0]}/{namespace}"
    return f"sqlite:///{Path(base).resolve() / namespace}.db"


def _marker(target: Target) -> tuple[int, int] | None:
    """``(rows, version)`` of the loaded namespace, or None if it is missing or incomplete."""
    try:
        conn = target.connect()
    except Exception:  # no such namespace (MariaDB database): load it
        return None
    try:
        cur = conn.cursor()
        cur.execute("SELECT rows_loaded, version FROM rls_bench_marker")
        rows = list(cur.fetchall())
        cur.execute("SELECT count(*) FROM orders")
        count = list(cur.fetchall())
    except Exception:  # no marker table: load it
        return None
    finally:
        conn.close()
    if len(rows) != 1 or int(count[0][0]) != int(rows[0][0]):
        return None
    return int(rows[0][0]), int(rows[0][1])


def prepare(name: str, base: str, namespace: str, rows: int) -> Target:
    """The namespace loaded with ``rows`` orders: reused when its marker matches, else rebuilt.

    Raises whatever the driver raises when the server cannot be reached.
    """
    url = namespace_url(name, base, namespace)
    if name == "sqlite":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    else:
        _admin(name, base)("SELECT 1")  # reachable? (raises the driver's error if not)
    existing = Target(name, base, url, namespace, rows, loaded_now=False, load_seconds=0.0)
    if _marker(existing) == (rows, VERSION):
        return existing
    started = time.perf_counter()
    drop(name, base, namespace)
    _create(name, base, namespace)
    target = Target(name, base, url, namespace, rows, loaded_now=True, load_seconds=0.0)
    conn = target.connect()
    try:
        cur = conn.cursor()
        if name == "sqlite":
            cur.execute("BEGIN")
        statements = _statements(name, rows)
        if name == "postgres":
            statements += _native_statements(namespace, target.reader_role)
        for statement in statements:
            cur.execute(statement)
        if name == "sqlite":
            cur.execute("COMMIT")
        cur.execute({"postgres": "VACUUM ANALYZE orders, customers", "mysql": "ANALYZE TABLE orders, customers",
                     "sqlite": "ANALYZE"}[name])  # fmt: skip
        if name == "mysql":
            cur.fetchall()
    finally:
        conn.close()
    return Target(name, base, url, namespace, rows, loaded_now=True, load_seconds=time.perf_counter() - started)


def _create(name: str, base: str, namespace: str) -> None:
    if name == "postgres":
        _admin(name, base)(f'CREATE SCHEMA "{namespace}"')
    elif name == "mysql":
        _admin(name, base)(f"CREATE DATABASE `{namespace}` CHARACTER SET utf8mb4")


def empty_namespace(name: str, base: str, namespace: str, statements: list[str]) -> str:
    """A new namespace (an old one of that name dropped) holding what ``statements`` create; its URL."""
    drop(name, base, namespace)
    _create(name, base, namespace)
    url = namespace_url(name, base, namespace)
    dialect = Database(url).dialect
    conn = dialect.connect(**dialect.connect_args(url))
    try:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)
    finally:
        conn.close()
    return url


def drop(name: str, base: str, namespace: str) -> None:
    """Remove the namespace (and, on PostgreSQL, its reader role) if it exists."""
    if name == "sqlite":
        path = namespace_url(name, base, namespace).removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    admin = _admin(name, base)
    if name == "mysql":
        admin(f"DROP DATABASE IF EXISTS `{namespace}`")
        return
    admin(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE')
    role = f"{namespace}_reader"
    if admin(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'"):
        admin(f'DROP ROLE "{role}"')


def reachable_error() -> tuple[type[BaseException], ...]:
    """The driver errors that mean "server not reachable"."""
    import psycopg
    import pymysql

    return (psycopg.OperationalError, pymysql.err.OperationalError, sqlite3.OperationalError, OSError)
