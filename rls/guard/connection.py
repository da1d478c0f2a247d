"""A DB-API connection whose cursors send every statement through the guard."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rls.auth.principal import AuthUser
from rls.errors import Refused
from rls.guard.guard import Guard
from rls.policy.engine import denial


class GuardedCursor:
    """Wraps a DB-API cursor: ``execute`` rewrites, runs the WITH CHECK queries, then
    the statement. Everything else is the driver's cursor."""

    def __init__(self, cursor: Any, guard: Guard, user: AuthUser):
        self._cursor = cursor
        self._guard = guard
        self._user = user
        self._written: int | None = None  # rows of a statement whose result set was rls's own

    @property
    def description(self) -> Any:
        return None if self._written is not None else self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._written if self._written is not None else int(self._cursor.rowcount)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        statement = self._guard.rewrite(sql, self._user, params)
        try:
            for check in statement.checks:
                self._cursor.execute(check.sql, check.params)
                if any(row[0] for row in self._cursor.fetchall()):
                    raise denial(self._user)
            self._written = None
            self._cursor.execute(statement.sql, statement.params)
            if statement.hidden_columns:
                # rls's own check column: one row per row written, none asked for.
                self._written = len(self._cursor.fetchall())
        except Exception as exc:
            error = self._guard.error_for(exc, self._user)
            if error is None:
                raise
            raise error from exc
        return self

    def executemany(self, sql: str, seq_of_params: Iterable[Sequence[Any] | Mapping[str, Any]]) -> None:
        for params in seq_of_params:
            self.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __iter__(self) -> Any:
        return iter(self._cursor)

    def __enter__(self) -> GuardedCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cursor.close()


class GuardedConnection:
    """Wraps a DB-API connection; its cursors are :class:`GuardedCursor`."""

    def __init__(self, connection: Any, guard: Guard, user: AuthUser):
        self._connection = connection
        self._guard = guard
        self.user = user

    def cursor(self, *args: Any, **kwargs: Any) -> GuardedCursor:
        return GuardedCursor(self._connection.cursor(*args, **kwargs), self._guard, self.user)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> GuardedCursor:
        """sqlite3-style shortcut: a new cursor, executed."""
        cursor = self.cursor()
        cursor.execute(sql, params)
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __enter__(self) -> GuardedConnection:
        self._connection.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._connection.__exit__(*exc)


def connect(connection: Any, guard: Guard, user: AuthUser) -> GuardedConnection:
    """Wrap a DB-API ``connection`` so every statement runs under ``guard`` as ``user``.

    WITH CHECK queries run before each write on the same connection, so in the same
    transaction: a denied write has written nothing. A session whose settings would make
    the database read the guarded SQL differently than the guard did (PostgreSQL with
    ``standard_conforming_strings`` off; MySQL with ``NO_BACKSLASH_ESCAPES`` or
    ``ANSI_QUOTES``) is refused.
    """
    problem = guard.dialect.check_session(connection)
    if problem is not None:
        raise Refused(problem)
    return GuardedConnection(connection, guard, user)
