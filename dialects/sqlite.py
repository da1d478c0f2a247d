"""SQLite through the standard library's sqlite3: WAL, busy timeout, case-sensitive LIKE."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import sqlglot
import sqlglot.errors
from sqlglot import exp

from dialects.base import (
    DECODE_BOOLEAN_INTEGERS,
    DECODE_JSON_TEXT,
    Adapter,
    Connection,
    Decoder,
    Dialect,
    boolean_as_json_text,
    check_violation,
    foreign_key_violation,
    invalid_value,
    not_null_violation,
    trigger_hazard,
    unavailable,
    unique_violation,
)
from rls.errors import BadRequest, Conflict, Denied, RlsError, StatementTimeout, UnknownColumn, UnknownTable
from rls.schema import Column, ForeignKey, Kind, Schema, Table, default_foreign_key_name

# Declared type fragments → kind, first match wins (SQLite's own affinity rules, refined).
_KINDS = (
    ("BOOL", Kind.BOOLEAN),
    ("JSON", Kind.JSON),
    ("DATETIME", Kind.DATETIME),
    ("TIMESTAMP", Kind.DATETIME),
    ("DATE", Kind.DATE),
    ("TIME", Kind.TIME),
    ("UUID", Kind.UUID),
    ("INT", Kind.INTEGER),
    ("CHAR", Kind.TEXT),
    ("CLOB", Kind.TEXT),
    ("TEXT", Kind.TEXT),
    ("BLOB", Kind.BYTES),
    ("REAL", Kind.FLOAT),
    ("FLOA", Kind.FLOAT),
    ("DOUB", Kind.FLOAT),
    ("NUMERIC", Kind.DECIMAL),
    ("DECIMAL", Kind.DECIMAL),
)

# Extended result code names (sqlite3.Error.sqlite_errorname) → error, exact name first,
# then by prefix (as psycopg maps SQLSTATEs). Every primary result code is listed: what the
# statement did wrong is a 400; what the database file or the process did, a 503.
_STATEMENT = "the database rejected the statement"
_ERRORS: dict[str, Callable[[str], RlsError]] = {
    "SQLITE_CONSTRAINT_UNIQUE": lambda _: unique_violation(),
    "SQLITE_CONSTRAINT_PRIMARYKEY": lambda _: unique_violation(),
    "SQLITE_CONSTRAINT_FOREIGNKEY": lambda _: foreign_key_violation(),
    "SQLITE_CONSTRAINT_NOTNULL": lambda text: not_null_violation(text.rpartition(".")[2] or None),
    "SQLITE_CONSTRAINT_CHECK": lambda _: check_violation(),
    "SQLITE_CONSTRAINT": lambda _: check_violation(),
    "SQLITE_MISMATCH": lambda _: invalid_value(),
    "SQLITE_TOOBIG": lambda _: invalid_value(),
    "SQLITE_RANGE": lambda _: BadRequest(_STATEMENT),
    "SQLITE_ERROR": lambda _: BadRequest(_STATEMENT),  # syntax, overflow, malformed JSON, too complex
    "SQLITE_AUTH": lambda _: Denied("permission denied by the database"),
    "SQLITE_PERM": lambda _: Denied("permission denied by the database"),
    "SQLITE_ABORT": lambda _: Conflict("conflict: concurrent update, retry"),
    "SQLITE_INTERRUPT": lambda _: unavailable("query canceled: statement timeout"),
    "SQLITE_BUSY": lambda _: unavailable("database is busy, retry later"),
    "SQLITE_LOCKED": lambda _: unavailable("database is busy, retry later"),
    "SQLITE_CANTOPEN": lambda _: unavailable(),
    "SQLITE_READONLY": lambda _: unavailable("database is read-only"),
    "SQLITE_FULL": lambda _: unavailable("database is full"),
    **dict.fromkeys(
        [
            f"SQLITE_{name}"
            for name in "IOERR CORRUPT NOTADB NOMEM PROTOCOL SCHEMA INTERNAL NOLFS MISUSE NOTFOUND EMPTY FORMAT".split()
        ],
        lambda _: unavailable(),
    ),
}
# Errors raised before SQLite saw the statement (binding a value) carry no result code.
_UNNAMED: tuple[tuple[type[sqlite3.Error], Callable[[str], RlsError]], ...] = (
    (sqlite3.IntegrityError, lambda _: check_violation()),
    (sqlite3.DataError, lambda _: invalid_value()),
    (sqlite3.InterfaceError, lambda _: invalid_value()),
    (sqlite3.ProgrammingError, lambda _: BadRequest(_STATEMENT)),
    (sqlite3.NotSupportedError, lambda _: BadRequest(_STATEMENT)),
    (sqlite3.Error, lambda _: unavailable()),
)


def _names_read(ddl: str | None, tables: Mapping[str, str | None]) -> set[str | None]:
    """The tables (lower-case) a view's definition names, read from its tokens: every
    word that is a table's name (conservative); ``{None}`` when it does not tokenise."""
    try:
        words = {t.text.lower() for t in sqlglot.tokenize(ddl or "", read="sqlite")}
    except sqlglot.errors.SqlglotError:
        return {None}
    return {w for w in words if w in tables}


def _hazard(
    name: str, own: Mapping[str, str | None], triggered: set[str], reads: Mapping[str, set[str | None]]
) -> str | None:
    """A table's own hazard (a REPLACE clause), a trigger's on it or on anything it reaches
    (a view's tables, through views), or a hazard of a table a view reaches."""
    if own.get(name):
        return own[name]
    found = trigger_hazard(name, triggered, reads)
    if found:
        return found
    seen, todo = set(), list(reads.get(name, ()))
    while todo:
        table = todo.pop()
        if table is None or table in seen:
            continue
        seen.add(table)
        if own.get(table):
            return f"a table it reaches: {own[table]}"
        todo.extend(reads.get(table, ()))
    return None


def _replaces_on_conflict(ddl: str | None) -> bool:
    """Whether a table's definition has an ``ON CONFLICT REPLACE`` clause (a write that
    meets a uniqueness conflict deletes the other row). Read from the definition's
    tokens, so no comment or line break between the words hides it; a definition that
    does not tokenise counts as having one."""
    try:
        words = [t.text.upper() for t in sqlglot.tokenize(ddl or "", read="sqlite")]
    except sqlglot.errors.SqlglotError:
        return True
    return any(words[i : i + 3] == ["ON", "CONFLICT", "REPLACE"] for i in range(len(words) - 2))


class _TimedConnection(sqlite3.Connection):
    """A connection whose statements are interrupted after a time limit.

    Every statement rls runs goes through a new cursor, so the clock starts at
    :meth:`cursor`; a progress handler, called every few thousand virtual machine
    steps, interrupts the statement once the limit is past (SQLITE_INTERRUPT).
    """

    _limit: float | None = None
    _deadline = math.inf

    def limit_statements(self, seconds: float) -> None:
        self._limit = seconds
        self.set_progress_handler(self._over_time, _PROGRESS_STEPS)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        if self._limit is not None:
            self._deadline = time.monotonic() + self._limit
        return super().cursor(*args, **kwargs)

    def _over_time(self) -> int:
        return 1 if time.monotonic() > self._deadline else 0


_PROGRESS_STEPS = 10_000

# Interrupted by the progress handler; the busy timeout ran out waiting for another
# connection's lock (the variants, such as SQLITE_BUSY_SNAPSHOT, come without a wait).
_TIMEOUTS = frozenset({"SQLITE_INTERRUPT", "SQLITE_BUSY"})


def canonical_datetime(value: dt.datetime) -> str:
    """A date and time as SQLite stores it: ``YYYY-MM-DD HH:MM:SS[.ffffff]`` in UTC (an
    offset applied, as PostgreSQL and MariaDB store the instant; a value without one is
    taken as UTC), the form of SQLite's own datetime(), so text order is time order.

    >>> canonical_datetime(dt.datetime.fromisoformat("2024-01-01T23:00:00-05:00"))
    '2024-01-02 04:00:00'
    """
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(" ")


def kind_of(declared: str) -> Kind:
    """The kind of a column from its declared type: SQLite's own affinity rules
    (https://www.sqlite.org/datatype3.html §3.1), refined for the names rls knows. A
    column declared without a type has BLOB affinity — values are stored as given — and
    stays of unknown kind; any other name (MONEY, NUMBER, STRING, ANY…) has NUMERIC
    affinity — SQLite converts text that reads as a number, '1e999' into infinity — and
    gets the checks of a DECIMAL.

    >>> kind_of("VARCHAR(20)"), kind_of("datetime"), kind_of(""), kind_of("MONEY")
    (<Kind.TEXT: 'text'>, <Kind.DATETIME: 'datetime'>, <Kind.OTHER: 'other'>, <Kind.DECIMAL: 'decimal'>)
    """
    upper = declared.upper()
    found = next((kind for fragment, kind in _KINDS if fragment in upper), None)
    if found is not None:
        return found
    return Kind.DECIMAL if upper.strip() else Kind.OTHER


class SQLite(Dialect):
    name = "sqlite"
    SQLGLOT = "sqlite"
    URL_SCHEMES = ("sqlite",)
    PLACEHOLDER = "?"
    ESCAPE_PERCENT = False
    CASE_INSENSITIVE_NAMES = True
    CTES_ALWAYS_RECURSIVE = True
    CASE_INSENSITIVE_COLUMNS = True
    UPDATE_SEES_ITS_OWN_WRITES = True
    # REGEXP calls a Python function the application registered (SQLAlchemy's re.search):
    # SQLite runs it as one step, so the statement time limit (a progress handler between
    # steps) cannot stop a pattern that backtracks exponentially, and the GIL stops the
    # whole process with it.
    GUARD_UNSUPPORTED: ClassVar[frozenset[type[exp.Expr]]] = frozenset({exp.RegexpLike, exp.RegexpILike})
    INSERT_ALIAS_IN_RETURNING = False
    RETURNS_INSERT_KEY = True  # sqlite3's lastrowid is the connection's last_insert_rowid()
    IMPLICIT_ROW_KEY = "rowid"
    # SQLite resolves a name its FROM does not have against the output aliases, even in WHERE.
    ALIAS_CLAUSES: ClassVar[frozenset[str]] = frozenset({"order", "group", "having", "where"})
    # Comparisons never raise here, whatever the types.
    LEAKPROOF_LITERALS: ClassVar[dict[Kind, str]] = dict.fromkeys(
        (Kind.INTEGER, Kind.FLOAT, Kind.DECIMAL, Kind.TEXT, Kind.DATE, Kind.DATETIME, Kind.TIME, Kind.BOOLEAN,
         Kind.UUID), "any"
    )  # fmt: skip
    GUARD_FUNCTIONS: ClassVar[dict[str, tuple[int, int]]] = {
        "JULIANDAY": (1, 10),
        "DATETIME": (1, 10),
        "TIME": (1, 10),
        "UNIXEPOCH": (1, 10),
        "PRINTF": (1, 100),
        "FORMAT": (1, 100),
        "TOTAL": (1, 1),
        "LTRIM": (1, 2),
        "RTRIM": (1, 2),
        "JSON_QUOTE": (1, 1),  # SQLAlchemy's JSON index on SQLite: JSON_QUOTE(JSON_EXTRACT(…))
    }
    DECODERS: ClassVar[dict[Kind, Decoder]] = {**DECODE_JSON_TEXT, **DECODE_BOOLEAN_INTEGERS}
    DDL_TYPES: ClassVar[dict[str, str]] = {
        **Dialect.DDL_TYPES,
        # Without AUTOINCREMENT SQLite reuses the largest deleted id: a deleted user's
        # token would name the next user registered.
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "datetime": "DATETIME",
    }
    STORED_AS_TEXT: ClassVar[frozenset[Kind]] = frozenset({Kind.DATE, Kind.DATETIME, Kind.TIME, Kind.UUID})
    ADAPTERS: ClassVar[dict[Kind, Adapter]] = {
        **Dialect.ADAPTERS,
        # SQLite has no date types: dates are stored, and compared, as text — one canonical
        # text per value, never the client's spelling (see canonical_datetime).
        Kind.DATE: lambda value, text: value.isoformat(),
        Kind.DATETIME: lambda value, text: canonical_datetime(value),
        # An offset is dropped, as PostgreSQL's time and MariaDB's TIME drop it.
        Kind.TIME: lambda value, text: value.replace(tzinfo=None).isoformat(),
        Kind.DECIMAL: lambda value, text: str(value),
        Kind.UUID: lambda value, text: str(value),
    }

    def connect_args(self, url: str) -> dict[str, Any]:
        """``sqlite:///abs/path.db``, ``sqlite://relative.db``; ``?busy_timeout=ms``."""
        rest = url.split("://", 1)[1]
        path, _, query = rest.partition("?")
        options = dict(parse_qsl(query))
        if not path:
            raise ValueError("sqlite URL needs a file path: sqlite:///abs/path.db or sqlite://relative.db")
        return {"path": path, "busy_timeout_ms": int(options.get("busy_timeout", "5000"))}

    def connect(  # type: ignore[override]
        self, *, path: str, busy_timeout_ms: int = 5000, statement_timeout: float | None = None
    ) -> Connection:
        if statement_timeout:
            # Waiting for another connection's lock counts against the same limit.
            busy_timeout_ms = min(busy_timeout_ms, max(1, round(statement_timeout * 1000)))
        # isolation_level=None (autocommit): rls issues BEGIN itself where a request needs a
        # transaction.
        conn = sqlite3.connect(
            path,
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
            factory=_TimedConnection,
        )
        if statement_timeout:
            conn.limit_statements(statement_timeout)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # LIKE is case-sensitive on PostgreSQL; make it so here (ilike lowers both sides).
        conn.execute("PRAGMA case_sensitive_like = ON")
        return conn

    def build_json_path(self, column: exp.Expr, steps: Iterable[str | int], *, as_text: bool) -> exp.Expr:
        # ->> returns SQL values (40, not '40'); PostgreSQL's ->> returns text: JSON text
        # for everything but strings, NULL for JSON null. Do the same.
        extract = super().build_json_path(column, steps, as_text=False)
        if not as_text:
            return extract
        path = extract.expression
        json_type = exp.Anonymous(this="json_type", expressions=[column.copy(), path.copy()])
        return exp.Case(
            this=json_type,
            ifs=[
                exp.If(
                    this=exp.Literal.string("text"),
                    true=exp.JSONExtractScalar(this=column.copy(), expression=path.copy()),
                ),
                exp.If(this=exp.Literal.string("null"), true=exp.Null()),
            ],
            default=extract,
        )

    def build_raise(self, witness: exp.Expr) -> exp.Expr:
        # json_set('{}', 'rls_…:' || COALESCE(SUBSTRING(<column>, 1, 0), ''), 1): "JSON path
        # error near …", the column adding no character to it.
        message = exp.DPipe(
            this=exp.Literal.string(self.VIOLATION_MARKER),
            expression=exp.Coalesce(
                this=exp.Substring(this=witness, start=exp.Literal.number(1), length=exp.Literal.number(0)),
                expressions=[exp.Literal.string("")],
            ),
            safe=True,
        )
        return exp.JSONSet(this=exp.Literal.string("{}"), expressions=[message, exp.Literal.number(1)])

    def build_same_type(self, this: exp.Expr, value: exp.Expr) -> exp.Expr:
        # Storage classes: a column declared without a type keeps '2' as text, 2 as integer.
        # NULLIF: a missing value leaves the condition NULL (never FALSE, true under NOT).
        return self.build_shape("NULLIF(TYPEOF(a), 'null') = NULLIF(TYPEOF(b), 'null')", a=this, b=value)

    def build_like(self, this: exp.Expr, pattern: exp.Expr, *, ignore_case: bool) -> exp.Expr:
        like = super().build_like(this, pattern, ignore_case=ignore_case)
        if ignore_case:
            return like
        # LIKE here ignores ASCII case unless the connection turned case_sensitive_like on,
        # and a guarded statement may run on any connection. The same pattern as a GLOB
        # (every wildcard looser: %→*, _→?, a literal * ? [ → ?, escapes dropped) adds
        # the case of every literal character; with the LIKE beside it the pair means
        # exactly a case-sensitive LIKE, up to an escaped backslash (then no match).
        glob = pattern.copy()
        for old, new in (("\\", ""), ("*", "?"), ("[", "?"), ("%", "*"), ("_", "?")):
            glob = exp.Replace(this=glob, expression=exp.Literal.string(old), replacement=exp.Literal.string(new))
        return exp.paren(exp.and_(like, exp.Glob(this=this.copy(), expression=glob), copy=False), copy=False)

    # -- PostgREST filter operators ------------------------------------------------------

    SUPPORTS_REGEX = False  # REGEXP exists only when the application defines the function

    def build_fence(self) -> exp.Expr:
        # A sub-query with LIMIT is not flattened into the outer query.
        return exp.Limit(expression=exp.Literal.number(-1))

    def begin(self, conn: Connection, *, write: bool) -> None:
        # Writers take the lock up front instead of failing on the upgrade from a read lock.
        conn.cursor().execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def introspect(self, conn: Connection) -> Schema:
        cur = conn.cursor()
        cur.execute(
            "SELECT name, type, sql FROM sqlite_schema WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        tables = []
        listed = cur.fetchall()
        for name, type_, ddl in listed:
            cur.execute('SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?)', (name,))
            rows = [r for r in cur.fetchall() if r[5] == 0]
            pk = [r[0] for r in sorted((r for r in rows if r[4]), key=lambda r: r[4])]
            rowid_alias = len(pk) == 1 and next(r[1] for r in rows if r[0] == pk[0]).upper() == "INTEGER"
            columns = [
                Column(
                    col,
                    kind_of(declared),
                    declared,
                    nullable=not notnull and not (pk_pos and rowid_alias),
                    has_default=default is not None or bool(pk_pos and rowid_alias),
                )
                for col, declared, notnull, default, pk_pos, _ in rows
            ]
            hazard = (
                "a REPLACE conflict clause in the table's definition deletes rows a write does not name: "
                "writes under a policy are refused"
                if _replaces_on_conflict(ddl)
                else None
            )
            tables.append(Table.build(name, columns, pk, is_view=type_ == "view", write_hazard=hazard))
        cur.execute("SELECT DISTINCT lower(tbl_name) FROM sqlite_schema WHERE type = 'trigger'")
        triggered = {name for (name,) in cur.fetchall()}
        own = {t.name.lower(): t.write_hazard for t in tables}
        reads = {name.lower(): _names_read(ddl, own) for name, type_, ddl in listed if type_ == "view"}
        tables = [dataclasses.replace(t, write_hazard=_hazard(t.name.lower(), own, triggered, reads)) for t in tables]
        return Schema.build(tables, self.introspect_foreign_keys(conn))

    # -- foreign keys and JSON for embedded resources -----------------------------------

    def introspect_foreign_keys(self, conn: Connection) -> list[ForeignKey]:
        cur = conn.cursor()
        cur.execute("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
        names = {name.lower(): name for (name,) in cur.fetchall()}
        keys = []
        for table in sorted(names.values()):
            cur.execute('SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq', (table,))
            grouped: dict[int, list[tuple[str, str, str | None]]] = {}
            for key_id, referenced, column, to in cur.fetchall():
                grouped.setdefault(key_id, []).append((referenced, column, to))
            for parts in grouped.values():
                referenced = names.get(parts[0][0].lower(), parts[0][0])
                columns = tuple(column for _, column, _ in parts)
                targets = [to for _, _, to in parts]
                if any(to is None for to in targets):  # REFERENCES t: its primary key
                    cur.execute("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (referenced,))
                    targets = [name for (name,) in cur.fetchall()]
                name = default_foreign_key_name(table, columns)
                keys.append(ForeignKey(name, table, columns, referenced, tuple(str(t) for t in targets)))
        return keys

    def build_json_value(self, value: exp.Expr, kind: Kind) -> exp.Expr:
        # Booleans are 0 and 1 here; JSON is text, and a value read through a sub-query
        # loses the JSON subtype json_object() needs to embed it as JSON, not as a string.
        if kind is Kind.BOOLEAN:
            value = boolean_as_json_text(value)
        elif kind is Kind.TEXT:
            # Text from a JSON path (->> of a number) may carry the JSON subtype; || drops it.
            return exp.DPipe(this=value, expression=exp.Literal.string(""), safe=True)
        elif kind is not Kind.JSON:
            return value
        return exp.Anonymous(this="json", expressions=[value])

    def build_json_array_agg(self, element: exp.Expr, order: list[exp.Ordered]) -> exp.Expr:
        # SQLite 3.40 has no ORDER BY inside an aggregate: the rows come ordered from the
        # derived table the caller builds (a sub-query with ORDER BY is never flattened
        # into an aggregate query).
        return exp.JSONArrayAgg(this=self.build_json_value(element, Kind.JSON))

    def to_error(self, exc: BaseException) -> RlsError | None:
        if isinstance(exc, OverflowError):
            return invalid_value()  # sqlite3 binds integers up to 64 bits only
        if not isinstance(exc, sqlite3.Error):
            return None
        text = str(exc)
        if text.startswith("no such column"):
            return UnknownColumn("unknown column")
        if text.startswith("no such table"):
            return UnknownTable("table does not exist")
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name in _TIMEOUTS:
            return StatementTimeout()
        build = _ERRORS.get(name) or next((b for n, b in _ERRORS.items() if name.startswith(n + "_")), None)
        if build is None:
            build = next(b for cls, b in _UNNAMED if isinstance(exc, cls))
        return build(text)
