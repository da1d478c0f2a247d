"""A query-guard harness over a real database: tables, rows and policies of a test's own,
statements run through :func:`rls.connect` (or raw), tables read back directly."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from rls import AuthUser, Guard, Policy, connect
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

    def run(self, sql: str, params: Any = None, user: AuthUser = AuthUser(id=2)) -> Any:
        """Execute through rls.connect in one transaction; the rows, or the row count."""
        sql = sql.replace("{p}", self.p)

        def work(session: Any) -> Any:
            cursor = connect(session.connection, self.guard, user).cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else cursor.rowcount
            cursor.close()
            return [tuple(r) for r in rows] if isinstance(rows, (list, tuple)) else rows

        return self.db.run(work, write=True)

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
