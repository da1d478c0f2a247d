"""``rls.connect``: a DB-API connection on which every statement goes through the guard.

The wrappers are allow-lists (DESIGN.md §4, rule 9): they offer exactly the names below,
whatever else the driver (sqlite3, psycopg 3, PyMySQL) has. Every method that runs SQL
rewrites it first, and whatever they return that could run SQL is a wrapper too.

``GuardedConnection``
    ``cursor()``                       a :class:`GuardedCursor`; any argument (psycopg
                                       ``name=`` server-side cursors, cursor classes and
                                       factories) is refused with :class:`Refused`
    ``execute``, ``executemany``       on a new guarded cursor, which they return
    ``commit``, ``rollback``, ``close``, ``with conn:`` (the driver's meaning), ``user``
    ``create_function``                sqlite3's, for SQLAlchemy's ``regexp`` and ``floor``
                                       only (:func:`_known_function` says why)
    ``info``                           psycopg's, reduced to ``transaction_status``,
                                       ``server_version``, ``encoding``
    read                               ``autocommit``, ``in_transaction``,
                                       ``isolation_level``, ``row_factory``, ``closed``,
                                       ``open``, the DB-API exception classes (``Error``, …),
                                       what SQLAlchemy's dialects read on connect
                                       (:data:`_DRIVER_READS`)
    set                                ``autocommit``, ``isolation_level``, ``row_factory``,
                                       ``read_only``, ``deferrable``
Every statement runs under rls's own time limit (``statement_timeout``, seconds, default
30; :mod:`rls.guard.timeout`): nothing offered here can change it (no
``set_progress_handler``, no ``SET`` through the guard).

The user is an :class:`AuthUser`, or a callable or ContextVar read at each statement (one
pooled connection then serves every user: ``create_engine(url, creator=lambda:
rls.connect(driver_connection(), guard, current_user))``).

``GuardedCursor``
    ``execute(sql, params)``           guarded; returns the cursor itself
    ``executemany(sql, seq)``          every row guarded; see :meth:`GuardedCursor.executemany`
    ``connection``                     the :class:`GuardedConnection`
    ``fetchone``, ``fetchmany``, ``fetchall``, iteration, ``close``, ``with cursor:``
    ``rowcount`` (summed over ``executemany``)
    read                               ``description``, ``lastrowid``, ``rownumber``,
                                       ``arraysize``, ``row_factory``
    set                                ``arraysize``, ``row_factory``

Any other name raises AttributeError ("… is not available through rls.connect"), among
them sqlite3 ``executescript``, ``create_aggregate``/``_collation``/``_window_function``,
``set_authorizer``, ``backup``, ``iterdump``, ``blobopen``, ``load_extension``; psycopg
``stream``, ``copy``, ``pipeline``, ``transaction`` (its object holds the raw connection),
``notifies``, ``adapters``, the full ``info`` (it holds the password); PyMySQL ``query``,
``select_db``, ``callproc``, ``mogrify``, ``ping`` (a reconnect starts a session
``check_session`` never saw), ``set_charset``, ``_execute_command``.

A driver error raised by a guarded statement becomes the rls error
:meth:`Guard.error_for` names (the denial when the write aborted itself on a WITH CHECK
policy; ``Conflict``, ``ConstraintViolation``, …), chained to the driver's exception.

The wrappers guard SQL; they do not sandbox Python: code that reaches for their private
attributes, or a ``row_factory`` (it is handed the driver's cursor), gets driver objects.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, ClassVar

from rls.auth.principal import ANONYMOUS, AuthUser
from rls.errors import Refused, RlsError, StatementTimeout
from rls.guard.guard import Guard, Statement
from rls.guard.passthrough import Passthrough, classify
from rls.guard.timeout import DEFAULT_STATEMENT_TIMEOUT, PROGRESS_STEPS, StatementClock, checked_timeout
from rls.guard.writes import written_key

Params = Sequence[Any] | Mapping[str, Any] | None
_EXCEPTIONS = frozenset(
    "Warning Error InterfaceError DatabaseError DataError OperationalError IntegrityError InternalError "
    "ProgrammingError NotSupportedError".split()
)


class _AllowList:
    """Offers its class's own attributes, reads the driver object's ``_READ`` names and
    writes its ``_WRITE`` names; any other name is an AttributeError."""

    __slots__ = ("_raw",)
    _READ: ClassVar[frozenset[str]] = frozenset()
    _WRITE: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, raw: Any):
        object.__setattr__(self, "_raw", raw)

    def __getattr__(self, name: str) -> Any:  # only called for names the class lacks
        if name in self._READ:
            return getattr(self._raw, name)
        raise AttributeError(f"{name} is not available through rls.connect")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._WRITE:
            raise AttributeError(f"{name} cannot be set through rls.connect")
        setattr(self._raw, name, value)


_DRIVER_READS = frozenset(
    {
        # psycopg: server notices go to a handler (SQLAlchemy logs them); no row data.
        "add_notice_handler", "read_only", "deferrable",
        # PyMySQL: reads of the session SQLAlchemy's dialect makes on connect.
        "character_set_name", "get_server_info", "get_autocommit", "server_version",
    }
)  # fmt: skip
"""Driver attributes SQLAlchemy's dialects use on connect; they run no SQL."""

UserSource = Callable[[], AuthUser | None] | ContextVar[AuthUser] | ContextVar[AuthUser | None]
"""Where the current user comes from: a callable, or a context variable (None or unset:
the anonymous user)."""


def user_source(user: AuthUser | UserSource) -> Callable[[], AuthUser]:
    """A function giving the current user, from a fixed user or a :data:`UserSource`."""
    if isinstance(user, AuthUser):
        fixed = user
        return lambda: fixed
    if isinstance(user, ContextVar):
        var = user
        return lambda: var.get(None) or ANONYMOUS
    if callable(user):
        func = user
        return lambda: func() or ANONYMOUS
    raise TypeError(f"user must be an AuthUser, a callable or a ContextVar, not {type(user).__name__}")


class _ConnectionInfo:
    """What SQLAlchemy reads of psycopg's ``connection.info``."""

    __slots__ = ("_info",)

    def __init__(self, info: Any):
        self._info = info

    @property
    def transaction_status(self) -> Any:
        return self._info.transaction_status

    @property
    def server_version(self) -> int:
        return int(self._info.server_version)

    @property
    def encoding(self) -> str:
        return str(self._info.encoding)


def _known_function(name: str, narg: int, func: Any) -> bool:
    """Whether ``func`` is one SQLAlchemy's pysqlite dialect registers: ``floor`` as
    :func:`math.floor`, ``regexp`` as its own ``re.search`` wrapper. Any other registration
    is refused: a Python function named like a built-in (``lower``, ``abs``, ``floor``) would
    replace it inside the policies' sub-queries — a different truth value for a policy, or
    a function that sees (and can record) every hidden row a policy examines."""
    if (name.lower(), narg) == ("floor", 1):
        return func is math.floor
    if (name.lower(), narg) == ("regexp", 2):
        return _is_sqlalchemys_regexp(func)
    return False


def _is_sqlalchemys_regexp(func: Any) -> bool:
    """SQLAlchemy makes a new ``regexp`` closure per dialect, so the test is by identity of
    what it is made of: its code object is the one compiled inside
    ``SQLiteDialect_pysqlite.on_connect``, run with that module's globals, nothing bound.
    Names (``__module__``, ``__qualname__``) are not asked: any function can copy them."""
    if type(func) is not types.FunctionType:
        return False
    try:
        from sqlalchemy.dialects.sqlite import pysqlite  # lazily: SQLAlchemy is optional
    except ImportError:  # pragma: no cover - then nothing registers SQLAlchemy's regexp
        return False
    on_connect = pysqlite.SQLiteDialect_pysqlite.on_connect.__code__
    own = [c for c in on_connect.co_consts if isinstance(c, types.CodeType) and c.co_name == "regexp"]
    return (
        len(own) == 1
        and func.__code__ is own[0]
        and func.__globals__ is vars(pysqlite)
        and func.__closure__ is None
        and func.__defaults__ is None
        and func.__kwdefaults__ is None
    )


class GuardedConnection(_AllowList):
    """A DB-API connection whose cursors are :class:`GuardedCursor` (see the module doc)."""

    __slots__ = ("_clock", "_guard", "_user")
    _guard: Guard
    _user: Callable[[], AuthUser]
    _clock: StatementClock
    _READ = frozenset({"autocommit", "in_transaction", "isolation_level", "row_factory", "closed", "open"})
    _READ |= _EXCEPTIONS | _DRIVER_READS
    _WRITE = frozenset({"autocommit", "isolation_level", "row_factory", "read_only", "deferrable"})

    def __init__(self, connection: Any, guard: Guard, user: AuthUser | UserSource, clock: StatementClock | None = None):
        super().__init__(connection)
        object.__setattr__(self, "_guard", guard)
        object.__setattr__(self, "_user", user_source(user))
        object.__setattr__(self, "_clock", clock or StatementClock(None))

    @property
    def user(self) -> AuthUser:
        """The user every statement runs as (read from the user source at each statement)."""
        return self._user()

    @property
    def info(self) -> _ConnectionInfo:
        """psycopg's ``connection.info``, reduced to what SQLAlchemy reads (no password, no
        DSN, no raw connection)."""
        return _ConnectionInfo(self._raw.info)

    def create_function(self, name: str, narg: int, func: Any, *, deterministic: bool = False) -> None:
        """sqlite3's ``create_function``, for the functions SQLAlchemy's SQLite dialect
        registers on connect only (``regexp``, ``floor``): see :func:`_known_function`."""
        if not _known_function(name, narg, func):
            raise Refused(
                f"create_function({name!r}) is not available through rls.connect: a Python function "
                "could shadow one a policy or the guard's allow-list relies on"
            )
        self._raw.create_function(name, narg, func, deterministic=deterministic)

    def cursor(self, *args: Any, **kwargs: Any) -> GuardedCursor:
        """A new guarded cursor. Arguments are refused: they make server-side cursors
        (psycopg ``name=``) or choose a driver cursor class."""
        if args or kwargs:
            raise Refused("cursor arguments are not available through rls.connect")
        return GuardedCursor(self._raw.cursor(), self)

    def execute(self, sql: str, params: Params = None) -> GuardedCursor:
        """A new guarded cursor, on which ``sql`` has run (as sqlite3 and psycopg offer)."""
        return self.cursor().execute(sql, params)

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> GuardedCursor:
        """A new guarded cursor, on which :meth:`GuardedCursor.executemany` has run."""
        return self.cursor().executemany(sql, seq_of_params)

    def commit(self) -> None:
        self._transaction_ended()
        self._raw.commit()

    def rollback(self) -> None:
        self._transaction_ended()
        self._raw.rollback()

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> GuardedConnection:
        self._raw.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        self._transaction_ended()
        return self._raw.__exit__(*exc)

    def _transaction_ended(self) -> None:
        # A SET the rollback undoes (PostgreSQL; COMMIT of a failed transaction rolls back).
        if self._guard.dialect.SESSION_LIMIT_UNDONE_BY_ROLLBACK:
            self._clock.asserted = False

    def _assert_limit(self) -> None:
        """Put rls's statement time limit in force on the session, where it is not."""
        clock = self._clock
        if clock.asserted or clock.seconds is None:
            return
        sql = self._guard.dialect.session_time_limit(self._raw, clock.seconds)
        if sql is not None:
            # rls's own fixed statement, on a driver cursor of the same session.
            probe = self._raw.cursor()
            try:
                probe.execute(sql)
            finally:
                probe.close()
        clock.asserted = True


class GuardedCursor(_AllowList):
    """A DB-API cursor that rewrites every statement with the guard (see the module doc)."""

    __slots__ = ("_connection", "_hidden", "_lastrowid", "_left", "_summed_rowcount")
    _connection: GuardedConnection
    _summed_rowcount: int | None
    _hidden: bool
    _lastrowid: int | None
    _left: float
    _READ = frozenset({"rownumber", "arraysize", "row_factory"})
    _WRITE = frozenset({"arraysize", "row_factory"})

    def __init__(self, cursor: Any, connection: GuardedConnection):
        super().__init__(cursor)
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_summed_rowcount", None)
        object.__setattr__(self, "_hidden", False)
        object.__setattr__(self, "_lastrowid", None)
        object.__setattr__(self, "_left", 0.0)  # seconds the statement has left (its fetches)

    @property
    def connection(self) -> GuardedConnection:
        return self._connection

    @property
    def lastrowid(self) -> Any:
        """The driver's, or — after an INSERT whose WITH CHECK rode in its own RETURNING
        column, where MariaDB's driver reports none — the first written row's primary key,
        which the same statement returned (never ``LAST_INSERT_ID()``: another statement,
        another user's on a shared connection, may have left it)."""
        if self._connection._guard.dialect.RETURNS_INSERT_KEY:
            return self._lastrowid  # the statement's own key, or None: never the connection's
        return getattr(self._raw, "lastrowid", None)

    @property
    def rowcount(self) -> int:
        return int(self._raw.rowcount if self._summed_rowcount is None else self._summed_rowcount)

    @property
    def description(self) -> Any:
        # A write whose only result set was rls's own check column has none for the caller.
        return None if self._hidden else self._raw.description

    def execute(self, sql: str, params: Params = None) -> GuardedCursor:
        """Rewrite ``sql`` for the connection's user and run it (it enforces its WITH CHECK
        policies itself; an abort becomes :class:`rls.Denied`)."""
        connection = self._connection
        statement = connection._guard.rewrite(sql, connection.user, params)
        written = self._run_guarded(statement)
        object.__setattr__(self, "_summed_rowcount", written if statement.hidden_columns else None)
        return self

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> GuardedCursor:
        """Run ``sql`` once per parameter set, each guarded, in order, on this cursor, in
        the caller's transaction. Every row is rewritten before any runs (the guard
        compiles the statement once per SQL text and user class; each row binds), so a
        refused row writes nothing; a row denied while running stops the batch — roll the
        transaction back (in autocommit mode the rows before it stay written)."""
        connection = self._connection
        statements = [connection._guard.rewrite(sql, connection.user, params) for params in seq_of_params]
        total = 0
        for statement in statements:
            count = self._run_guarded(statement)
            total = -1 if total < 0 or count < 0 else total + count
        object.__setattr__(self, "_summed_rowcount", total)
        return self

    def _run_guarded(self, statement: Statement) -> int:
        """Run one guarded statement, under rls's time limit; the number of rows it
        touched."""
        connection = self._connection
        guard, user, cursor, clock = connection._guard, connection.user, self._raw, connection._clock
        object.__setattr__(self, "_hidden", bool(statement.hidden_columns))
        object.__setattr__(self, "_lastrowid", None)
        # Transaction control ends what a rollback may undo (only asked where it can).
        control = (
            guard.dialect.SESSION_LIMIT_UNDONE_BY_ROLLBACK
            and clock.seconds is not None
            and classify(statement.sql, guard.dialect.name) is Passthrough.TRANSACTION
        )
        try:
            if not control:
                connection._assert_limit()
            clock.arm()
            try:
                cursor.execute(statement.sql, statement.params)
                if statement.hidden_columns:
                    # rls's own check column (and key): one row per row written, none asked for.
                    rows = cursor.fetchall()
                    object.__setattr__(self, "_lastrowid", written_key(rows, statement.hidden_columns))
                    return len(rows)
                return int(cursor.rowcount)
            finally:
                object.__setattr__(self, "_left", clock.disarm())
                if control:
                    connection._transaction_ended()
        except RlsError:
            raise
        except Exception as exc:
            error = guard.error_for(exc, user)
            if error is None:
                raise
            if isinstance(error, StatementTimeout):
                error = clock.error()
            raise error from exc

    def _fetch(self, fetch: Callable[..., Any], *args: Any) -> Any:
        # A driver fetch steps the statement (SQLite): on the budget the statement has left.
        clock = self._connection._clock
        clock.arm(self._left)
        try:
            return fetch(*args)
        except Exception as exc:
            error = self._connection._guard.error_for(exc, self._connection.user)
            if isinstance(error, StatementTimeout):
                raise clock.error() from exc
            raise
        finally:
            object.__setattr__(self, "_left", clock.disarm())

    def fetchone(self) -> Any:
        return None if self._hidden else self._fetch(self._raw.fetchone)

    def fetchmany(self, *size: int) -> Any:
        return [] if self._hidden else self._fetch(self._raw.fetchmany, *size)

    def fetchall(self) -> Any:
        return [] if self._hidden else self._fetch(self._raw.fetchall)

    def close(self) -> None:
        self._raw.close()

    def __iter__(self) -> Iterator[Any]:
        # Not iter(driver cursor): sqlite3's is the driver cursor itself.
        return iter(self.fetchone, None)

    def __enter__(self) -> GuardedCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._raw.close()


def connect(
    connection: Any,
    guard: Guard,
    user: AuthUser | UserSource,
    *,
    statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
) -> GuardedConnection:
    """Wrap a DB-API ``connection`` so every statement runs under ``guard`` as ``user``
    (an :class:`AuthUser`, or a callable or ContextVar read at each statement — the form
    for a pooled connection, e.g. ``create_engine(url, creator=lambda: rls.connect(
    psycopg.connect(dsn), guard, current_user))``).

    Every statement is limited to ``statement_timeout`` seconds (default 30; None: no
    limit of rls's) by rls itself (:mod:`rls.guard.timeout`); one that runs out raises
    :class:`rls.errors.StatementTimeout`.

    Every guarded write enforces its WITH CHECK policies itself: a denied write has
    written nothing, and the database's abort is raised as :class:`rls.Denied`. A session whose settings would make
    the database read the guarded SQL differently than the guard did (PostgreSQL with
    ``standard_conforming_strings`` off; MySQL with ``NO_BACKSLASH_ESCAPES`` or
    ``ANSI_QUOTES``) is refused.
    """
    clock = StatementClock(checked_timeout(statement_timeout))
    problem = guard.dialect.check_session(connection)
    if problem is not None:
        raise Refused(problem)
    for statement in guard.dialect.SESSION_SETUP:
        cursor = connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
    wrapped = GuardedConnection(connection, guard, user, clock)
    if clock.seconds is not None:
        if guard.dialect.session_time_limit(connection, clock.seconds) is None:
            # SQLite: rls's own progress handler (the wrapper offers no way to replace it).
            connection.set_progress_handler(clock.over, PROGRESS_STEPS)
        elif not guard.dialect.SESSION_LIMIT_UNDONE_BY_ROLLBACK:
            wrapped._assert_limit()  # MariaDB: a session variable no transaction undoes
    return wrapped
