"""A database behind a URL: its dialect, a connection pool, transactions and the cached schema."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from dialects import Dialect, dialect_for_url, redact_url
from rls.errors import RlsError, Unavailable, WithCheckViolation
from rls.pool import Pool
from rls.schema import Schema, Table

T = TypeVar("T")
log = logging.getLogger("rls.database")


@dataclass(frozen=True, slots=True)
class Result:
    """What a statement returned: rows (for queries) and the number of rows it touched."""

    rows: list[tuple[Any, ...]]
    rowcount: int


class Session:
    """One transaction on one connection; created by :meth:`Database.run`."""

    def __init__(self, conn: Any):
        self._conn = conn

    @property
    def connection(self) -> Any:
        """The DB-API connection, for dialect code that needs the driver itself."""
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        # Always pass a sequence, even empty: pyformat drivers then undo the %% escaping.
        cur = self._conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            rows = list(cur.fetchall()) if cur.description is not None else []
            return Result(rows, cur.rowcount)
        finally:
            cur.close()

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> int:
        cur = self._conn.cursor()
        try:
            cur.executemany(sql, [tuple(p) for p in params])
            return len(params) if cur.rowcount is None or cur.rowcount < 0 else int(cur.rowcount)
        finally:
            cur.close()


class Database:
    """The database at ``url``. No I/O happens until the first statement.

    Args:
        url: ``sqlite:///abs.db``, ``postgres://…``, ``mysql://…`` (see the README).
        pool_size: connections this process keeps open at most.
        schema_refresh_interval: a request naming an unknown table re-reads the schema at
            most this often (seconds), so tables created later appear without a restart.
        statement_timeout: seconds a statement may run or wait for a lock before it fails
            with :class:`~rls.errors.StatementTimeout`, and a request may wait for a pooled
            connection (None: no limit, and 30 s for a connection).
        pool_queue: callers that may wait for a connection at once; more are refused with
            :class:`~rls.errors.Unavailable` (None: no limit).
        schema_max_age: seconds a schema read serves :meth:`table` before it is read again
            (None: until a table is unknown or a restart). What rls decides from it — a
            table's triggers, storage, columns the database sets — must not go stale for long
            while a server runs through a migration.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        schema_refresh_interval: float = 1.0,
        statement_timeout: float | None = None,
        pool_queue: int | None = None,
        schema_max_age: float | None = 30.0,
    ):
        self.url = url
        self.dialect: Dialect = dialect_for_url(url)
        args = self.dialect.connect_args(url)
        if statement_timeout:
            args["statement_timeout"] = statement_timeout
        # Waiting for a connection counts like waiting for a lock: no longer than a statement may take.
        self.pool = Pool(
            lambda: self.dialect.connect(**args),
            size=pool_size,
            timeout=statement_timeout or 30.0,
            max_waiting=pool_queue,
        )
        self._schema: Schema | None = None
        self._schema_lock = threading.Lock()
        self._schema_read_at = 0.0
        self._refresh_interval = schema_refresh_interval
        self._max_age = schema_max_age
        self.schema_version = 0

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    # -- transactions -----------------------------------------------------------------

    def run(self, work: Callable[[Session], T], *, write: bool = False, transaction: bool | None = None) -> T:
        """Run ``work`` on a pooled connection.

        ``write`` (or ``transaction``): in one transaction — committed when ``work``
        returns, rolled back when it raises. Otherwise every statement commits on its
        own (connections are in autocommit mode): a read that is one statement needs no
        BEGIN and COMMIT, which are two round trips on PostgreSQL and MySQL.

        A pooled connection found dead before the commit is replaced and the work run
        again once: the failed attempt cannot have committed anything.
        """
        in_transaction = write if transaction is None else transaction
        for attempt in (1, 2):
            try:
                lease = self.pool.acquire()
                committing = False
                try:
                    try:
                        if in_transaction:
                            self.dialect.begin(lease.conn, write=write)
                        result = work(Session(lease.conn))
                        if in_transaction:
                            committing = True
                            lease.conn.commit()
                    except BaseException as exc:
                        lease.broken = self.dialect.is_disconnect(exc) or not self._rollback(lease.conn)
                        # A failed COMMIT may have committed: never run the work twice then.
                        retry = lease.broken and lease.reused and not committing and not isinstance(exc, RlsError)
                        if retry and attempt == 1:
                            continue
                        raise
                finally:
                    self.pool.release(lease)
                return result
            except RlsError:
                raise
            except Exception as exc:
                raise self._translate(exc) from exc
        raise Unavailable("database unavailable")  # pragma: no cover - loop always returns or raises

    def _rollback(self, conn: Any) -> bool:
        try:
            conn.rollback()
            return True
        except Exception:  # noqa: BLE001 - a connection that cannot roll back is discarded
            return False

    def _translate(self, exc: Exception) -> Exception:
        if self.dialect.is_policy_violation(exc):
            return WithCheckViolation("unauthorized")
        error = self.dialect.to_error(exc)
        if error is None:
            log.error("unexpected database error: %s", type(exc).__name__)
            return exc
        return error

    # -- schema -----------------------------------------------------------------------

    @property
    def cached_schema(self) -> Schema | None:
        """The schema if it was read already, else None (never does I/O)."""
        return self._schema

    def schema(self) -> Schema:
        """The schema, read on first use and cached."""
        return self._schema if self._schema is not None else self.refresh_schema()

    def refresh_schema(self) -> Schema:
        """Read the schema again; bumps ``schema_version`` when it changed."""
        with self._schema_lock:
            schema = self.run(lambda s: self.dialect.introspect(s.connection))
            if schema != self._schema:
                self._schema = schema
                self.schema_version += 1
            self._schema_read_at = time.monotonic()
            return schema

    def table(self, name: str) -> Table:
        """The table ``name``; re-reads the schema (rate-limited) before saying it is unknown,
        and once it is older than ``schema_max_age``. Called where a request starts, never
        inside a session (a re-read takes a connection of its own)."""
        schema = self.schema()
        age = time.monotonic() - self._schema_read_at
        stale = self._max_age is not None and age > self._max_age and not self._schema_lock.locked()
        if stale or (name not in schema and age >= self._refresh_interval):
            schema = self.refresh_schema()
        return schema.table(name)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
