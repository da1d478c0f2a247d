"""A query-guard harness over a real database: tables, rows and policies of a test's own,
statements run through :func:`rls.connect` (or raw), tables read back directly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from dialects import dialect_for_url
from rls import AuthUser, Guard, Policy, connect, connect_async
from rls.database import Database


class GuardHarness:
    """``tables``: CREATE statements with ``{serial}``, ``{integer}``, ``{string}``,
    ``{table_options}`` … placeholders (the dialect's DDL types); ``rows``: table →
    (column list, rows)."""

    def __init__(
        self,
        url: str,
        tables: Sequence[str],
        rows: Mapping[str, tuple[str, list[tuple[Any, ...]]]],
        policies: Iterable[Policy],
    ):
        self.db = Database(url)
        self.dialect = self.db.dialect
        self.rows = rows
        self.p = self.dialect.PLACEHOLDER
        types = self.dialect.DDL_TYPES
        self.db.run(lambda s: [s.execute(t.format_map(types)) for t in tables], write=True)
        self.guard = Guard(
            list(policies), dialect=self.dialect, schema=lambda: (self.db.schema_version, self.db.schema())
        )

    def reset(self) -> GuardHarness:
        def work(session: Any) -> None:
            for table, (columns, rows) in self.rows.items():
                session.execute(f"DELETE FROM {table}")
                marks = ", ".join([self.p] * len(columns.split(",")))
                for row in rows:
                    session.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)

        self.db.run(work, write=True)
        return self

    asynchronous = False
    """Run statements through rls.connect_async on the asyncio driver (aiosqlite, psycopg's
    AsyncConnection, aiomysql) instead of rls.connect."""

    def run(self, sql: str, params: Any = None, user: AuthUser = AuthUser(id=2)) -> Any:
        """Execute through rls.connect (or rls.connect_async) in one transaction; the rows,
        or the row count."""
        sql = sql.replace("{p}", self.p)
        if self.asynchronous:
            return asyncio.run(self._run_async(sql, params, user))

        def work(session: Any) -> Any:
            cursor = connect(session.connection, self.guard, user).cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else cursor.rowcount
            cursor.close()
            return [tuple(r) for r in rows] if isinstance(rows, (list, tuple)) else rows

        return self.db.run(work, write=True)

    async def _run_async(self, sql: str, params: Any, user: AuthUser) -> Any:
        raw = await async_driver_connection(self.db.url)
        try:
            conn = await connect_async(raw, self.guard, user)
            cursor = await conn.cursor()
            await cursor.execute(sql, params)
            rows = await cursor.fetchall() if cursor.description else cursor.rowcount
            await cursor.close()
            await conn.commit()
        except BaseException:
            await raw.rollback()
            raise
        finally:
            closed = raw.close()
            if asyncio.iscoroutine(closed):
                await closed
        return [tuple(r) for r in rows] if isinstance(rows, (list, tuple)) else rows

    def run_raw(self, sql: str, params: Any = None, user: AuthUser = AuthUser(id=2)) -> BaseException | None:
        """Rewrite, then run ``stmt.sql`` alone in autocommit, on the driver itself (no
        rls.connect); the driver's exception, if it raised one."""
        statement = self.guard.rewrite(sql.replace("{p}", self.p), user, params)

        def work(session: Any) -> BaseException | None:
            cursor = session.connection.cursor()
            try:
                cursor.execute(statement.sql, statement.params)
            except Exception as exc:
                return exc
            finally:
                cursor.close()
            return None

        return self.db.run(work)

    def table(self, name: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(r) for r in self.db.run(lambda s: s.execute(f"SELECT * FROM {name}").rows))

    def close(self) -> None:
        self.db.close()


async def async_driver_connection(url: str) -> Any:
    """An asyncio driver connection to the test database ``url``, set up as rls sets up its
    own (MariaDB: rls's sql_mode, UPDATE counting matched rows)."""
    dialect = dialect_for_url(url)
    args = dialect.connect_args(url)
    if dialect.name == "sqlite":
        import aiosqlite

        return await aiosqlite.connect(args["path"])
    if dialect.name == "postgres":
        import psycopg

        return await psycopg.AsyncConnection.connect(**args)
    import aiomysql
    from pymysql.constants import CLIENT

    from dialects.mysql import SQL_MODE

    return await aiomysql.connect(
        host=args["host"], port=args["port"], user=args["user"], password=args["password"], db=args["database"],
        charset=args["charset"], client_flag=CLIENT.FOUND_ROWS, init_command=f"SET SESSION sql_mode = '{SQL_MODE}'",
    )  # fmt: skip


def ids(rows: Iterable[Sequence[Any]]) -> list[Any]:
    return sorted(r[0] for r in rows)


def harness_fixture(
    tables: Sequence[str],
    rows: Mapping[str, tuple[str, list[tuple[Any, ...]]]],
    policies: Iterable[Policy],
    *,
    others: Mapping[str, Iterable[Policy]] | None = None,
    reset: bool = True,
) -> Any:
    """A module-scoped ``harness_for`` fixture: ``harness_for(backend)`` — or
    ``harness_for(backend, name)`` for one of the ``others`` policy sets — is a harness built
    once per module and database, its rows put back (``reset``) before each use."""
    sets = {"default": list(policies), **{name: list(p) for name, p in (others or {}).items()}}

    @pytest.fixture(scope="module")
    def harness_for(make_database_url: Any) -> Iterator[Callable[..., GuardHarness]]:
        made: dict[tuple[str, str], GuardHarness] = {}

        def get(backend: str, policy_set: str = "default") -> GuardHarness:
            key = (backend, policy_set)
            if key not in made:
                made[key] = GuardHarness(make_database_url(backend), tables, rows, sets[policy_set])
            return made[key].reset() if reset else made[key]

        yield get
        for harness in made.values():
            harness.close()

    return harness_for
