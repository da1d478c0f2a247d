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
from rls.errors import Refused, RlsError
from rls.guard.connection import Params, UserSource, user_source
from rls.guard.guard import Guard, Statement


async def _maybe(value: Any) -> Any:
    """aiosqlite's and aiomysql's ``cursor()`` are coroutines; psycopg's is not."""
    return await value if inspect.isawaitable(value) else value


class AsyncGuardedConnection:
    """An asyncio DB-API-like connection whose cursors are :class:`AsyncGuardedCursor`."""

    __slots__ = ("_guard", "_raw", "_user")

    def __init__(self, connection: Any, guard: Guard, user: AuthUser | UserSource):
        self._raw = connection
        self._guard = guard
        self._user = user_source(user)

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
        await self._raw.commit()

    async def rollback(self) -> None:
        await self._raw.rollback()

    async def close(self) -> None:
        await _maybe(self._raw.close())


class AsyncGuardedCursor:
    """An asyncio cursor that rewrites every statement with the guard."""

    __slots__ = ("_connection", "_hidden", "_lastrowid", "_raw", "_rowcount")

    def __init__(self, cursor: Any, connection: AsyncGuardedConnection):
        self._raw = cursor
        self._connection = connection
        self._hidden = False
        self._rowcount: int | None = None
        self._lastrowid: Any = None

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
        return getattr(self._raw, "lastrowid", None) if self._lastrowid is None else self._lastrowid

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
        guard, raw = self._connection._guard, self._raw
        self._hidden, self._lastrowid = bool(statement.hidden_columns), None
        try:
            await raw.execute(statement.sql, statement.params)
            if not statement.hidden_columns:
                return int(raw.rowcount)
            written = len(await raw.fetchall())  # rls's own check column: none asked for
            last_id = guard.dialect.LAST_INSERT_ID
            if last_id is not None and written and statement.sql.startswith("INSERT"):
                self._lastrowid = await _fetch_value(self._connection._raw, last_id)
            return written
        except RlsError:
            raise
        except Exception as exc:
            error = guard.error_for(exc, self._connection.user)
            if error is None:
                raise
            raise error from exc

    async def fetchone(self) -> Any:
        return None if self._hidden else await self._raw.fetchone()

    async def fetchmany(self, *size: int) -> Any:
        return [] if self._hidden else await self._raw.fetchmany(*size)

    async def fetchall(self) -> Any:
        return [] if self._hidden else await self._raw.fetchall()

    async def close(self) -> None:
        await _maybe(self._raw.close())


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


async def connect_async(connection: Any, guard: Guard, user: AuthUser | UserSource) -> AsyncGuardedConnection:
    """Wrap an asyncio driver ``connection`` (psycopg ``AsyncConnection``, aiosqlite,
    aiomysql) so every statement runs under ``guard`` as ``user`` (a user, or a callable or
    ContextVar read per statement). A session the guarded SQL would be read differently on
    is refused, as by :func:`rls.connect`."""
    problem = await _check_session(guard, connection)
    if problem is not None:
        raise Refused(problem)
    return AsyncGuardedConnection(connection, guard, user)


__all__ = ["AsyncGuardedConnection", "AsyncGuardedCursor", "connect_async"]
