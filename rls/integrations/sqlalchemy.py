"""The guard on a SQLAlchemy 2 :class:`~sqlalchemy.engine.Engine`: every statement the
engine sends — ORM, Core, ``text()``, ``Session``, ``begin_nested()`` — is rewritten for the
current user before the driver sees it.

::

    from contextvars import ContextVar
    from rls.integrations.sqlalchemy import install

    current_user: ContextVar[AuthUser] = ContextVar("current_user", default=AuthUser())
    engine = create_engine("postgresql+psycopg://app@db/app")
    install(engine, Guard.from_url("postgres://app@db/app", owner_fill=True), current_user)

    current_user.set(AuthUser(id=42))       # e.g. in a web framework's middleware
    with Session(engine) as session:
        todos = session.scalars(select(Todo)).all()   # only user 42's rows

How: a ``before_cursor_execute`` listener (``retval=True``) returns the guarded SQL and its
positional parameters; transaction control (``SAVEPOINT sa_savepoint_1`` …) passes through
unchanged (:mod:`rls.guard.passthrough`). When the guard adds its own check column to an
INSERT (``Statement.hidden_columns``), an ``after_cursor_execute`` listener reads those
rows so the application sees none. A write a WITH CHECK policy denies raises
:class:`rls.Denied` (a ``handle_error`` listener) and has written nothing; a refused
statement raises :class:`rls.Refused` before it reaches the driver.

The guard's dialect must be the engine's (``sqlite`` for sqlite3 and aiosqlite, ``postgres``
for psycopg 3 sync and async, ``mysql`` for PyMySQL and aiomysql). Statements SQLAlchemy runs
while it first connects bypass engine events, so they need no allow-list. To guard below
SQLAlchemy instead, give the engine ``creator=lambda: rls.connect(driver_connection, guard,
current_user)`` (docs/embedding.md).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import ExecuteStyle

from rls.auth.principal import ANONYMOUS, AuthUser
from rls.guard.guard import Guard
from rls.guard.writes import written_key

UserSource = Callable[[], AuthUser | None] | ContextVar[AuthUser] | ContextVar[AuthUser | None]
_HIDDEN = "_rls_hidden_columns"


def _current(source: UserSource) -> Callable[[], AuthUser]:
    if isinstance(source, ContextVar):
        var = source

        def from_var() -> AuthUser:
            return var.get(None) or ANONYMOUS

        return from_var
    func = source
    return lambda: func() or ANONYMOUS


def install(engine: Engine | Any, guard: Guard, user: UserSource) -> Callable[[], None]:
    """Guard every statement ``engine`` executes, as the user ``user`` gives at that
    moment (a callable returning an :class:`AuthUser`, or a ContextVar; None or an unset
    variable is the anonymous user). An ``AsyncEngine`` is guarded through its
    ``sync_engine`` (the listeners run in the greenlet of the awaiting task, which sees
    the task's context variables). Returns a function that uninstalls the listeners."""
    engine = getattr(engine, "sync_engine", engine)
    current = _current(user)

    def before(conn: Any, cursor: Any, sql: Any, params: Any, context: Any, executemany: bool) -> tuple[str, Any]:
        who = current()
        # An "insertmanyvalues" batch is announced as executemany but runs as one execute.
        if executemany and not _batch(context):
            statements = [guard.rewrite(sql, who, p) for p in params]
            hidden = max(s.hidden_columns for s in statements) if statements else 0
            out: tuple[str, Any] = (statements[0].sql, [s.params for s in statements])
        else:
            statement = guard.rewrite(sql, who, params)
            hidden = statement.hidden_columns
            out = (statement.sql, statement.params)
        if context is not None:
            setattr(context, _HIDDEN, 0 if executemany and not _batch(context) else hidden)
        return out

    def after(conn: Any, cursor: Any, sql: str, params: Any, context: Any, executemany: bool) -> None:
        if context is None:
            return
        hidden = getattr(context, _HIDDEN, 0)
        value = None
        if hidden:
            # rls's own check column (and key): one row per row written, none asked for.
            value = written_key(cursor.fetchall(), hidden)
        if guard.dialect.RETURNS_INSERT_KEY:
            # The driver's insert id is the connection's (SQLite's last_insert_rowid(),
            # MariaDB's LAST_INSERT_ID() after RETURNING), which another statement —
            # another user's — may have left: the ORM and ``result.lastrowid`` get the key
            # the statement itself returned, or None.
            context.get_lastrowid = lambda: value

    def on_error(context: Any) -> BaseException | None:
        # Only the guard's own abort is translated; other database errors stay
        # SQLAlchemy's (applications catch IntegrityError and friends).
        if guard.dialect.is_policy_violation(context.original_exception):
            return guard.error_for(context.original_exception, current())
        return None

    # The "sorted" insertmanyvalues form reads a VALUES list as a derived table, which the
    # guard refuses (a VALUES list is allowed as an INSERT's rows only): ORM bulk inserts
    # then run one INSERT … RETURNING per row, each guarded.
    engine.dialect.use_insertmanyvalues = False
    event.listen(engine, "before_cursor_execute", before, retval=True)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", on_error)

    def uninstall() -> None:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        event.remove(engine, "handle_error", on_error)

    return uninstall


def _batch(context: Any) -> bool:
    return context is not None and context.execute_style is ExecuteStyle.INSERTMANYVALUES


__all__ = ["install"]
