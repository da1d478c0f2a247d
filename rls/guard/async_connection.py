"""``rls.connect_async``: the guard around an asyncio driver connection — psycopg's
``AsyncConnection``, aiosqlite and aiomysql — with the guarantees of :func:`rls.connect`.

::

    conn = await rls.connect_async(await psycopg.AsyncConnection.connect(dsn), guard, current_user)
    cursor = await conn.execute("SELECT * FROM todos WHERE done = %s", (False,))
    rows = await cursor.fetchall()
    await conn.commit()

The wrappers are allow-lists, as the sync ones (:mod:`rls.guard.connection`):

``AsyncGuardedConnection``
    ``await cursor()``, ``await execute(sql, params)``, ``await executemany(sql, seq)``,
    ``await commit()``, ``await rollback()``, ``await close()``, ``user``
``AsyncGuardedCursor``
    ``await execute``, ``await executemany``, ``await fetchone|fetchmany|fetchall``,
    ``await close()``, ``rowcount``, ``description``, ``lastrowid``, ``connection``

Nothing else of the driver is offered (no ``copy``, ``stream``, ``pipeline``, no cursor
classes, no ``create_function``). Each statement is rewritten for the user the user source
gives at that moment (a ContextVar is read in the awaiting task's context); a WITH CHECK
abort becomes :class:`rls.Denied`; the session is checked on connect as the sync wrapper
checks it (``standard_conforming_strings``, ``sql_mode``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from rls.auth.principal import AuthUser
from rls.errors import Refused, RlsError, StatementTimeout
from rls.guard.connection import Params, UserSource, user_source
from rls.guard.guard import Guard, Statement
from rls.guard.passthrough import Passthrough, classify
from rls.guard.timeout import DEFAULT_STATEMENT_TIMEOUT, PROGRESS_STEPS, StatementClock, checked_timeout
from rls.guard.writes import written_key


async def _maybe(value: Any) -> Any:
    """aiosqlite's and aiomysql's ``cursor()`` are coroutines; psycopg's is not."""
    return await value if inspect.isawaitable(value) else value


class AsyncGuardedConnection:
    """An asyncio DB-API-like connection whose cursors are :class:`AsyncGuardedCursor`."""

    __slots__ = ("_clock", "_guard", "_raw", "_user")

    def __init__(self, connection: Any, guard: Guard, user: AuthUser | UserSource, clock: StatementClock | None = None):
        self._raw = connection
        self._guard = guard
        self._user = user_source(user)
        self._clock = clock or StatementClock(None)

    @property
    def user(self) -> AuthUser:
        """The user the next statement runs as."""
        return self._user()

    async def cursor(self) -> AsyncGuardedCursor:
        return AsyncGuardedCursor(await _maybe(self._raw.cursor()), self)

    async def execute(self, sql: str, params: Params = None) -> AsyncGuardedCursor:
        return await (await self.cursor()).execute(sql, params)

    async def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> AsyncGuardedCursor:
        return await (await self.cursor()).executemany(sql, seq_of_params)

    async def commit(self) -> None:
        self._transaction_ended()
        await self._raw.commit()

    async def rollback(self) -> None:
        self._transaction_ended()
        await self._raw.rollback()

    def _transaction_ended(self) -> None:
        # A SET the rollback undoes (PostgreSQL; COMMIT of a failed transaction rolls back).
        if self._guard.dialect.SESSION_LIMIT_UNDONE_BY_ROLLBACK:
            self._clock.asserted = False

    async def _assert_limit(self) -> None:
        """Put rls's statement time limit in force on the session, where it is not."""
        clock = self._clock
        if clock.asserted or clock.seconds is None:
            return
        sql = self._guard.dialect.session_time_limit(self._raw, clock.seconds)
        if sql is not None:
            await _run_sql(self._raw, sql)
        clock.asserted = True

    async def close(self) -> None:
        await _maybe(self._raw.close())


class AsyncGuardedCursor:
    """An asyncio cursor that rewrites every statement with the guard."""

    __slots__ = ("_connection", "_hidden", "_lastrowid", "_left", "_raw", "_rowcount")

    def __init__(self, cursor: Any, connection: AsyncGuardedConnection):
        self._raw = cursor
        self._connection = connection
        self._hidden = False
        self._rowcount: int | None = None
        self._lastrowid: Any = None
        self._left = 0.0  # seconds the statement has left (its fetches)

    @property
    def connection(self) -> AsyncGuardedConnection:
        return self._connection

    @property
    def rowcount(self) -> int:
        return int(self._raw.rowcount if self._rowcount is None else self._rowcount)

    @property
    def description(self) -> Any:
        return None if self._hidden else self._raw.description

    @property
    def lastrowid(self) -> Any:
        """The driver's, or the first written row's key the guarded INSERT returned itself
        (MariaDB; see :attr:`rls.guard.connection.GuardedCursor.lastrowid`)."""
        if self._connection._guard.dialect.RETURNS_INSERT_KEY:
            return self._lastrowid  # the statement's own key, or None: never the connection's
        return getattr(self._raw, "lastrowid", None)

    async def execute(self, sql: str, params: Params = None) -> AsyncGuardedCursor:
        statement = self._connection._guard.rewrite(sql, self._connection.user, params)
        written = await self._run(statement)
        self._rowcount = written if statement.hidden_columns else None
        return self

    async def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> AsyncGuardedCursor:
        """Every row rewritten before any runs; then one guarded statement per row."""
        user = self._connection.user
        statements = [self._connection._guard.rewrite(sql, user, params) for params in seq_of_params]
        total = 0
        for statement in statements:
            count = await self._run(statement)
            total = -1 if total < 0 or count < 0 else total + count
        self._rowcount = total
        return self

    async def _run(self, statement: Statement) -> int:
        connection = self._connection
        guard, raw, clock = connection._guard, self._raw, connection._clock
        self._hidden, self._lastrowid = bool(statement.hidden_columns), None
        # Transaction control ends what a rollback may undo (only asked where it can).
        control = (
            guard.dialect.SESSION_LIMIT_UNDONE_BY_ROLLBACK
            and clock.seconds is not None
            and classify(statement.sql, guard.dialect.name) is Passthrough.TRANSACTION
        )
        try:
            if not control:
                await connection._assert_limit()
            clock.arm()
            try:
                await raw.execute(statement.sql, statement.params)
                if not statement.hidden_columns:
                    return int(raw.rowcount)
                rows = await raw.fetchall()  # rls's own check column (and key): none asked for
                self._lastrowid = written_key(rows, statement.hidden_columns)
                return len(rows)
            finally:
                self._left = clock.disarm()
                if control:
                    connection._transaction_ended()
        except RlsError:
            raise
        except Exception as exc:
            error = guard.error_for(exc, connection.user)
            if error is None:
                raise
            if isinstance(error, StatementTimeout):
                error = clock.error()
            raise error from exc

    async def _fetch(self, fetch: Any, *args: Any) -> Any:
        # A driver fetch steps the statement (aiosqlite): on the budget the statement has left.
        clock = self._connection._clock
        clock.arm(self._left)
        try:
            return await fetch(*args)
        except Exception as exc:
            if isinstance(self._connection._guard.error_for(exc, self._connection.user), StatementTimeout):
                raise clock.error() from exc
            raise
        finally:
            self._left = clock.disarm()

    async def fetchone(self) -> Any:
        return None if self._hidden else await self._fetch(self._raw.fetchone)

    async def fetchmany(self, *size: int) -> Any:
        return [] if self._hidden else await self._fetch(self._raw.fetchmany, *size)

    async def fetchall(self) -> Any:
        return [] if self._hidden else await self._fetch(self._raw.fetchall)

    async def close(self) -> None:
        await _maybe(self._raw.close())


async def _run_sql(connection: Any, sql: str) -> None:
    """Run rls's own fixed statement ``sql`` (never user SQL) on a driver cursor."""
    cursor = await _maybe(connection.cursor())
    try:
        await cursor.execute(sql)
    finally:
        await _maybe(cursor.close())


async def _fetch_value(connection: Any, sql: str) -> Any:
    """The first value of rls's own fixed query ``sql`` (never user SQL)."""
    cursor = await _maybe(connection.cursor())
    try:
        await cursor.execute(sql)
        row = await cursor.fetchone()
    finally:
        await _maybe(cursor.close())
    return None if row is None else row[0]


class _Probe(Exception):
    def __init__(self, sql: str):
        self.sql = sql


class _Replay:
    """A connection for a dialect's (synchronous) session check that answers the queries
    already fetched asynchronously and asks for the first one it has not."""

    def __init__(self, answers: dict[str, Any]):
        self.answers = answers
        self.sql = ""

    def cursor(self) -> _Replay:
        return self

    def execute(self, sql: str, *args: Any) -> None:
        if sql not in self.answers:
            raise _Probe(sql)
        self.sql = sql

    def fetchone(self) -> tuple[Any, ...] | None:
        value = self.answers[self.sql]
        return None if value is None else (value,)

    def close(self) -> None:
        pass

    def commit(self) -> None:  # a session check never commits
        raise Refused("a session check may only read")

    rollback = commit


async def _check_session(guard: Guard, connection: Any) -> str | None:
    """The dialect's own session check, its queries run on the asyncio connection."""
    answers: dict[str, Any] = {}
    for _ in range(8):  # a check runs a query or two; more means a loop
        try:
            return guard.dialect.check_session(_Replay(answers))
        except _Probe as probe:
            answers[probe.sql] = await _fetch_value(connection, probe.sql)
    raise Refused("the session check did not finish")  # pragma: no cover


async def connect_async(
    connection: Any,
    guard: Guard,
    user: AuthUser | UserSource,
    *,
    statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
) -> AsyncGuardedConnection:
    """Wrap an asyncio driver ``connection`` (psycopg ``AsyncConnection``, aiosqlite,
    aiomysql) so every statement runs under ``guard`` as ``user`` (a user, or a callable or
    ContextVar read per statement), each limited to ``statement_timeout`` seconds (default
    30; None: no limit of rls's; :mod:`rls.guard.timeout`). A session the guarded SQL would
    be read differently on is refused, as by :func:`rls.connect`."""
    clock = StatementClock(checked_timeout(statement_timeout))
    problem = await _check_session(guard, connection)
    if problem is not None:
        raise Refused(problem)
    for statement in guard.dialect.SESSION_SETUP:
        await _run_sql(connection, statement)
    wrapped = AsyncGuardedConnection(connection, guard, user, clock)
    if clock.seconds is not None:
        if guard.dialect.session_time_limit(connection, clock.seconds) is None:
            # aiosqlite: rls's own progress handler, run in its worker thread.
            await connection.set_progress_handler(clock.over, PROGRESS_STEPS)
        elif not guard.dialect.SESSION_LIMIT_UNDONE_BY_ROLLBACK:
            await wrapped._assert_limit()  # MariaDB: a session variable no transaction undoes
    return wrapped


__all__ = ["AsyncGuardedConnection", "AsyncGuardedCursor", "connect_async"]
