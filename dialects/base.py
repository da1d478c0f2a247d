"""The base class every database dialect overrides: each variation point is listed here."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlglot import exp

from rls.errors import Conflict, ConstraintViolation, InvalidValue, RlsError, Unavailable
from rls.schema import Column, ForeignKey, Kind, Schema

Decoder = Callable[[Any], Any]
Adapter = Callable[[Any, "str | None"], Any]
"""(checked value, the client's text or None) → what the driver binds; never sees None."""


class Cursor(Protocol):
    """The part of a DB-API cursor rls uses."""

    description: Any
    rowcount: int

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Any, /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def close(self) -> None: ...


class Connection(Protocol):
    """The part of a DB-API connection rls uses."""

    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


def _json_text(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _boolean(value: Any) -> Any:
    return None if value is None else bool(value)


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """A stored function as its catalog describes it (for ``/rpc/<name>``)."""

    schema: str
    name: str
    arguments: tuple[tuple[str, str], ...]
    """The input arguments in order: (name, type); the name is empty when unnamed."""
    defaults: int
    """How many trailing input arguments have a default."""
    volatility: str
    """``immutable``, ``stable`` or ``volatile``."""
    returns_set: bool
    return_relation: str | None
    """The table or view (of the same schema) whose row type the function returns."""
    output_columns: tuple[str, ...]
    """The columns of a row result (composite type, OUT / TABLE arguments); () for a scalar."""
    variadic: bool
    argument_kinds: tuple[Kind, ...] = ()
    """The kind of each input argument, as a column of its type would have (its values get
    the same checks); () when the dialect does not say (every argument then Kind.OTHER)."""


def boolean_as_json_text(value: exp.Expr) -> exp.Expr:
    """A 0/1 boolean as the JSON text ``true``/``false`` (NULL stays NULL), for databases
    whose booleans are integers (MariaDB, SQLite) when they build JSON themselves."""
    return exp.Case(
        ifs=[
            exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()), true=exp.Null()),
            exp.If(this=value, true=exp.Literal.string("true")),
        ],
        default=exp.Literal.string("false"),
    )


TRIGGER_HAZARD = (
    "a trigger, a rule or a function in a default or constraint runs with writes to this table (or a "
    "table they reach) — code rls cannot judge (it may change a row after its policy check, or write other "
    "rows past theirs): writes under a policy are refused"
)


def trigger_hazard(name: str, triggered: set[str], reads: Mapping[str, set[str | None]]) -> str | None:
    """:data:`TRIGGER_HAZARD` when ``name`` has a trigger or rule, or is a view that reaches
    (through views, to a fixed point) a table that has one, or one rls cannot see (None in
    ``reads``: another schema); else None."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in triggered:
            return TRIGGER_HAZARD
        for table in reads.get(current, ()):
            if table is None:
                return TRIGGER_HAZARD
            todo.append(table)
    return None


class Dialect:
    """One database: how to connect, what SQL it takes, how it reports errors.

    Subclasses change data (flags, tables merged from the base) and override a few
    methods; the core never asks which database it talks to.
    """

    name: ClassVar[str] = ""
    """The name users and the CLI use (``sqlite``, ``postgres``, ``mysql``)."""

    SQLGLOT: ClassVar[str] = ""
    """The sqlglot dialect that reads and writes this database's SQL."""

    URL_SCHEMES: ClassVar[tuple[str, ...]] = ()
    """URL schemes that select this dialect."""

    PLACEHOLDER: ClassVar[str] = "%s"
    """The driver's positional parameter marker."""

    ESCAPE_PERCENT: ClassVar[bool] = True
    """The driver formats with ``%`` (pyformat: ``%s``, ``%(name)s``, ``%%``), so a
    literal ``%`` in SQL text must be doubled. Otherwise it takes ``?`` and ``:name``."""

    SUPPORTS_CONTAINS: ClassVar[bool] = False
    """The database has the ``@>`` / ``<@`` containment operators (filters ``cs`` / ``cd``)."""

    SUPPORTS_INSERT_RETURNING: ClassVar[bool] = True
    """INSERT … RETURNING exists with expressions and sub-queries (MariaDB ≥ 10.5, not
    MySQL 8): writes under a create policy check every row as stored there."""

    CTES_ALWAYS_RECURSIVE: ClassVar[bool] = False
    """A CTE may refer to itself without WITH RECURSIVE (its own name in its body is
    the CTE, not the table)."""

    CASE_INSENSITIVE_NAMES: ClassVar[bool] = False
    """Table names match regardless of case (quoted or not)."""

    CASE_INSENSITIVE_COLUMNS: ClassVar[bool] = False
    """Column names match regardless of case (``SET OWNER_ID = …`` writes ``owner_id``)."""

    SET_ASSIGNS_LEFT_TO_RIGHT: ClassVar[bool] = False
    """A single-table UPDATE assigns left to right (``SET a = 1, b = a`` gives b = 1);
    otherwise every SET expression reads the old row."""

    FENCE_WITH_WINDOWS: ClassVar[bool] = False
    """Fence every policy sub-query of a statement with a window function: the database
    merges them wrongly there (MariaDB 10.11 drops a NOT EXISTS over a merged derived
    table when the query has a window function — found by the differential fuzzer)."""

    UPDATE_SEES_ITS_OWN_WRITES: ClassVar[bool] = False
    """An UPDATE's SET sub-queries may read rows the same statement already changed
    (SQLite's two-pass UPDATE), so a WITH CHECK judged in WHERE could see other values."""

    CTE_FORWARD_REFERENCES: ClassVar[bool] = False
    """Under WITH RECURSIVE every CTE of the list is visible in every body (later ones too)."""

    ALIAS_CLAUSES: ClassVar[frozenset[str]] = frozenset({"order", "group"})
    """Clauses of a SELECT that may name its output aliases (``order``, ``group``,
    ``having``, ``where``): elsewhere such a name is a column, of an outer query too."""

    INSERT_ALIAS_IN_RETURNING: ClassVar[bool] = True
    """``INSERT INTO t AS a … RETURNING a.x`` works (the guard's checks use the alias)."""

    LEAKPROOF_LITERALS: ClassVar[dict[Kind, str]] = {}
    """Column kinds whose comparisons cannot raise or leak, and what they may be compared
    with besides a column of the same kind and a parameter: ``number``, ``string``,
    ``boolean`` literals, or ``any``. See :mod:`rls.guard.leakproof`."""

    PARAM_TYPES: ClassVar[dict[Kind, tuple[type, ...]] | None] = None
    """Python types a parameter compared with a column of each kind must have for the
    comparison to stay leakproof (None: any value; the database rejects a wrong type
    before it reads a row)."""

    GUARD_FUNCTIONS: ClassVar[dict[str, tuple[int, int]]] = {}
    """Functions sqlglot knows only by name that the guard allows: upper-case name →
    (fewest, most) arguments. Everything here is pure and side-effect free."""

    LOCK_INSIDE_POLICY_SUBQUERY: ClassVar[bool] = False
    """A locking clause does not reach the rows of a derived table (MariaDB): the guard
    copies it into each policy sub-query (rls/guard/locking.py)."""
    SUPPORTS_RPC: ClassVar[bool] = False
    """Stored functions can be called as ``/rpc/<name>`` (:meth:`describe_functions`)."""

    RETURNS_INSERT_KEY: ClassVar[bool] = False
    """The driver's ``lastrowid`` is the connection's last insert id, not the statement's
    (MariaDB ``LAST_INSERT_ID()``, SQLite ``last_insert_rowid()``): every guarded INSERT
    returns the row's single-column integer primary key in rls's own RETURNING column, and
    the wrappers report that as ``lastrowid`` — None when the statement returned none."""
    IMPLICIT_ROW_KEY: ClassVar[str | None] = None
    """The key column every table has when its schema names no primary key (SQLite's
    ``rowid``: a schema given as column names only): what ``lastrowid`` reports there."""
    SUPPORTS_UPDATE_RETURNING: ClassVar[bool] = True
    """UPDATE … RETURNING exists: an update's WITH CHECK judges each row as stored there."""

    SUPPORTS_ON_CONFLICT: ClassVar[bool] = True
    """``INSERT … ON CONFLICT (<key>) DO UPDATE … WHERE`` / ``DO NOTHING`` exists: REST
    upserts (``Prefer: resolution=…``) compile to it, guarded in the statement."""

    GUARD_UNSUPPORTED: ClassVar[frozenset[type[exp.Expr]]] = frozenset()
    """Constructs sqlglot prints in a form this database does not take (refused by the
    guard with a clear message rather than failing in the database)."""

    VIOLATION_MARKER: ClassVar[str] = "rls_with_check_violation:"
    """The text :meth:`build_raise` puts in the database's error message."""

    CASE_SENSITIVE_COLLATION: ClassVar[str | None] = None
    """A collation that makes LIKE case-sensitive where the default collation is not."""

    DECODERS: ClassVar[dict[Kind, Decoder]] = {}
    """Per column kind, how to turn what the driver returns into the JSON value to send."""

    ADAPTERS: ClassVar[dict[Kind, Adapter]] = {Kind.JSON: lambda value, text: json.dumps(value)}
    """Per column kind, how a checked value becomes what the driver binds (kinds not
    listed bind as they are)."""

    DDL_TYPES: ClassVar[dict[str, str]] = {
        "serial": "INTEGER PRIMARY KEY",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "text": "TEXT",
        "string": "VARCHAR(255)",
        "exact_string": "VARCHAR(255)",
        "boolean": "BOOLEAN",
        "json": "JSON",
        "date": "DATE",
        "datetime": "TIMESTAMP",
        "decimal": "DECIMAL(12, 2)",
        "float": "DOUBLE PRECISION",
        "table_options": "",
    }
    """Column types for the tables rls creates (auth tables, demo data), by portable name;
    ``serial`` is an auto-numbered primary key, ``exact_string`` compares and is unique
    case-sensitively (user names), ``table_options`` ends CREATE TABLE."""

    # -- connecting -------------------------------------------------------------------

    def connect_args(self, url: str) -> dict[str, Any]:
        """Parse a database URL into the keyword arguments of :meth:`connect`."""
        raise NotImplementedError

    def connect(self, **args: Any) -> Connection:
        """Open a connection and apply the session's safety settings."""
        raise NotImplementedError

    def check_session(self, conn: Connection) -> str | None:
        """Why statements emitted by sqlglot would be read differently on this session
        (string escaping, quoting modes), or None when the session is safe."""
        return None

    SESSION_LIMIT_UNDONE_BY_ROLLBACK: ClassVar[bool] = False
    """The statement of :meth:`session_time_limit` is undone when the transaction it ran in
    rolls back (PostgreSQL's SET): a wrapper asserts it again after each transaction."""

    SESSION_SETUP: ClassVar[tuple[str, ...]] = ()
    """Statements :func:`rls.connect` runs on a session before guarding it (fixed text): the
    settings the guard's rewriting relies on, where they cannot be taken for granted."""

    def session_time_limit(self, conn: Any, seconds: float) -> str | None:
        """The statement that limits every later statement of ``conn``'s session to
        ``seconds`` (``conn`` is only asked sync, cheap questions, such as the server's
        version), or None where :func:`rls.connect` interrupts statements itself (SQLite's
        progress handler)."""
        return None

    @staticmethod
    def fetch_value(conn: Connection, sql: str) -> Any:
        """The first column of the first row of ``sql`` (a session check, say)."""
        cur = conn.cursor()
        try:
            cur.execute(sql)
            row = cur.fetchone()
        finally:
            cur.close()
        return None if row is None else row[0]

    def begin(self, conn: Connection, *, write: bool) -> None:
        """Start a transaction on a connection that is in autocommit mode; ``write`` says
        whether it will write (SQLite takes the write lock up front then)."""
        cur = conn.cursor()
        try:
            cur.execute("BEGIN")
        finally:
            cur.close()

    def is_disconnect(self, exc: BaseException) -> bool:
        """True when ``exc`` means the connection is gone and must not be reused."""
        return False

    # -- schema -----------------------------------------------------------------------

    def introspect(self, conn: Connection) -> Schema:
        """Tables, views, columns (with kinds) and primary keys visible to ``conn``."""
        raise NotImplementedError

    def describe_functions(self, conn: Connection, name: str) -> list[FunctionInfo]:
        """The functions called ``name`` in the schema tables are served from (overloads
        give several); only where :attr:`SUPPORTS_RPC`."""
        raise NotImplementedError

    # -- foreign keys and JSON for embedded resources (rls/rest/embed.py) ---------------

    def introspect_foreign_keys(self, conn: Connection) -> list[ForeignKey]:
        """The foreign keys between tables visible to ``conn`` (both ends in its schema)."""
        return []

    CORRELATED_DERIVED_TABLES: ClassVar[bool] = True
    """A derived table (``FROM (SELECT …)``) may refer to a column of an outer query: an
    embedded resource's fenced policy sub-query then holds the correlation with its parent."""

    EMBED_PAGES_IN_AGGREGATE: ClassVar[bool] = False
    """The JSON array aggregate orders and pages its rows itself (MariaDB's
    ``JSON_ARRAYAGG(… ORDER BY … LIMIT …)``); otherwise a derived table that refers to the
    outer row orders and pages them (MariaDB refuses outer references there)."""

    def build_json_object(self, pairs: list[tuple[str, exp.Expr]]) -> exp.Expr:
        """A JSON object of (key, value) pairs; values from :meth:`build_json_value`."""
        return exp.JSONObject(
            expressions=[exp.JSONKeyValue(this=exp.Literal.string(k), expression=v) for k, v in pairs]
        )

    def build_json_value(self, value: exp.Expr, kind: Kind) -> exp.Expr:
        """``value`` of ``kind`` as it goes into a JSON object: typed as the top-level reader
        returns it (booleans as true/false, JSON as JSON, not a string holding it)."""
        return value

    def build_json_array_agg(self, element: exp.Expr, order: list[exp.Ordered]) -> exp.Expr:
        """The aggregate of ``element`` into a JSON array, in ``order``; ``[]`` for no rows."""
        agg = exp.JSONArrayAgg(this=exp.Order(this=element, expressions=order) if order else element)
        return exp.Coalesce(this=agg, expressions=[self.build_json_empty_array()])

    def build_json_array(self, elements: list[exp.Expr]) -> exp.Expr:
        """A JSON array of ``elements`` (JSON values)."""
        return exp.JSONArray(expressions=elements)

    def build_json_empty_array(self) -> exp.Expr:
        """An empty JSON array."""
        return exp.JSONArray(expressions=[])

    def build_json_aggregate_page(
        self, element: exp.Expr, order: list[exp.Ordered], limit: exp.Expr, offset: exp.Expr | None
    ) -> exp.Expr:
        """The aggregate of one page of rows (only with :attr:`EMBED_PAGES_IN_AGGREGATE`)."""
        raise NotImplementedError

    # -- SQL building -----------------------------------------------------------------

    def build_like(self, this: exp.Expr, pattern: exp.Expr, *, ignore_case: bool) -> exp.Expr:
        """``this LIKE pattern`` with ``\\`` as the escape character on every database."""
        like: exp.Expr
        if ignore_case:
            like = exp.ILike(this=this, expression=pattern)
        elif self.CASE_SENSITIVE_COLLATION:
            collated = exp.Collate(this=pattern, expression=exp.Var(this=self.CASE_SENSITIVE_COLLATION))
            like = exp.Like(this=this, expression=collated)
        else:
            like = exp.Like(this=this, expression=pattern)
        return exp.Escape(this=like, expression=exp.Literal.string("\\"))

    def build_comparison(self, node: type[exp.Expr], this: exp.Expr, value: exp.Expr, kind: Kind) -> exp.Expr:
        """``this <op> value`` for a column of ``kind`` (``node`` is exp.EQ, exp.GT, …).

        A column of unknown type (an untyped schema) is compared as text on both sides, so
        the database converts nothing: '02' is not 2."""
        if kind is Kind.OTHER and node in (exp.EQ, exp.NEQ):
            text = exp.DataType.build("TEXT")
            return node(this=exp.Cast(this=this, to=text), expression=exp.Cast(this=value, to=text.copy()))
        return node(this=this, expression=value)

    def build_exact_comparison(self, node: type[exp.Expr], this: exp.Expr, value: exp.Expr, kind: Kind) -> exp.Expr:
        """``this <op> value`` where one side is a policy's principal (any of the six
        operators): exact for ``kind`` — text byte for byte, and for a column of unknown
        type (``Kind.OTHER``) never across types: the text '2' never meets an integer 2
        (both sides compared only where :meth:`build_same_type` holds)."""
        compared = self.build_comparison(node, this, value, kind)
        if kind is not Kind.OTHER:
            return compared
        return self.when_same_type(compared, this, value)

    def when_same_type(self, compared: exp.Expr, this: exp.Expr, value: exp.Expr) -> exp.Expr:
        """``compared`` where ``this`` and ``value`` have the same type, else NULL — never
        FALSE: a mismatch must stay unknown under NOT, as a missing value does (``NOT (a =
        p)`` would otherwise admit every row to a principal of the wrong type)."""
        return exp.Case(ifs=[exp.If(this=self.build_same_type(this, value), true=compared)])

    def build_same_type(self, this: exp.Expr, value: exp.Expr) -> exp.Expr:
        """A condition true where ``this`` and ``value`` are values of the same type (a
        number and a number, a string and a string)."""
        raise NotImplementedError

    def build_shape(self, template: str, **values: exp.Expr) -> exp.Expr:
        """``template`` (SQL of this dialect) with each column named like a keyword of
        ``values`` replaced by a copy of it: built as the database's SQL parses back, so
        the guard's verifier reads it as it was built."""
        node = _parsed(template, self.SQLGLOT).copy()
        for column in list(node.find_all(exp.Column)):
            if column.name in values:
                column.replace(values[column.name].copy())
        return node

    def build_in(self, this: exp.Expr, values: list[exp.Expr], kind: Kind) -> exp.Expr:
        """``this IN (values…)`` for a column of ``kind``."""
        return exp.In(this=this, expressions=values)

    def build_in_query(self, node: exp.In, kind: Kind) -> exp.Expr:
        """``this IN (SELECT c …)`` (``node``) for a value of ``kind``, compared as
        :meth:`build_comparison` compares."""
        return node

    def build_fence(self) -> exp.Expr:
        """A LIMIT or OFFSET that changes nothing but keeps the optimiser from moving a
        statement's own conditions into a policy's sub-query (where they could be
        evaluated on rows the policy hides)."""
        return exp.Offset(expression=exp.Literal.number(0))

    def build_raise(self, witness: exp.Expr) -> exp.Expr:
        """An expression that raises a database error naming :attr:`VIOLATION_MARKER` when
        evaluated. ``witness`` is a column of the row being judged: depending on the row
        keeps the database from evaluating it ahead of time (constant folding). Its value
        must not reach the message (the row may be one the user cannot see): use none of
        its characters."""
        raise NotImplementedError

    def build_stored(self, value: exp.Expr, column: Column) -> exp.Expr | None:
        """``value`` as ``column`` stores it (where a WITH CHECK must judge an assignment
        before the row is written): a cast to the column's type, or None when no cast
        computes what the database stores. Databases with UPDATE … RETURNING judge the
        stored row instead and never ask."""
        return value

    def build_json_path(self, column: exp.Expr, steps: Iterable[str | int], *, as_text: bool) -> exp.Expr:
        """Extract ``steps`` (keys and array indexes) from a JSON column."""
        path = exp.JSONPath(expressions=[exp.JSONPathRoot(), *map(_json_path_step, steps)])
        node = exp.JSONExtractScalar if as_text else exp.JSONExtract
        return node(this=column, expression=path)

    # -- PostgREST filter operators (rls/rest/terms.py) ---------------------------------
    # match/imatch, isdistinct, fts/plfts/phfts/wfts, ov. Each database says what it has;
    # what it lacks is refused with a 400 naming the operator and the database.

    SUPPORTS_REGEX: ClassVar[bool] = True
    """The database matches POSIX-style regular expressions (filters ``match``, ``imatch``)."""

    SUPPORTS_FULL_TEXT: ClassVar[bool] = False
    """PostgreSQL's text search (``@@``, ``to_tsquery``): filters ``fts``, ``plfts``,
    ``phfts``, ``wfts``."""

    def build_regex(self, this: exp.Expr, pattern: exp.Expr, *, ignore_case: bool) -> exp.Expr:
        """``this`` matches the regular expression ``pattern``, case-sensitively unless
        ``ignore_case`` (whatever the column's collation)."""
        node = exp.RegexpILike if ignore_case else exp.RegexpLike
        return node(this=this, expression=pattern)

    def build_distinct(self, this: exp.Expr, value: exp.Expr, kind: Kind) -> exp.Expr:
        """``this IS DISTINCT FROM value``: not equal, NULL being a value like any other;
        text compared as :meth:`build_comparison` compares it."""
        if kind is Kind.OTHER:
            text = exp.DataType.build("TEXT")
            this, value = exp.Cast(this=this, to=text), exp.Cast(this=value, to=text.copy())
        return exp.NullSafeNEQ(this=this, expression=value)

    def build_full_text(self, this: exp.Expr, query: exp.Expr, *, function: str, language: str, kind: Kind) -> exp.Expr:
        """``this @@ <function>(language, query)``; ``language`` is an allow-listed text
        search configuration (or empty: the server's default)."""
        raise NotImplementedError

    # -- values -----------------------------------------------------------------------

    STORED_AS_TEXT: ClassVar[frozenset[Kind]] = frozenset()
    """Kinds this database stores as text in one canonical spelling (SQLite's dates): a
    policy's literal compared with such a column is written in that spelling too."""

    def stored_literal(self, kind: Kind, text: str) -> str | None:
        """A policy's string literal for a column of ``kind``, as this database stores
        such a value (its own text where it has the type); None when it is no such value."""
        if kind not in self.STORED_AS_TEXT:
            return text
        from rls.values import from_text  # values imports nothing of the dialects

        try:
            value = from_text(kind, text, "policy literal")
        except InvalidValue:
            return None
        return str(self.adapt(kind, value, text))

    def adapt(self, kind: Kind, value: Any, text: str | None = None) -> Any:
        """Turn a checked Python value into what the driver binds for a column of ``kind``.

        ``text`` is the value as the client wrote it, for databases that store it as is.
        """
        adapter = self.ADAPTERS.get(kind)
        return value if adapter is None or value is None else adapter(value, text)

    def decoder(self, kind: Kind) -> Decoder | None:
        """How to turn a driver value of this kind into the JSON value returned."""
        return self.DECODERS.get(kind)

    # -- errors -----------------------------------------------------------------------

    def to_error(self, exc: BaseException) -> RlsError | None:
        """The rls error for a driver exception, or None when it is not a database error."""
        return None

    def is_policy_violation(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the error a guarded write raises on itself when a row fails a
        WITH CHECK policy (see :meth:`build_raise`)."""
        return self.VIOLATION_MARKER in str(exc)


def _json_path_step(step: str | int) -> exp.Expr:
    return exp.JSONPathSubscript(this=step) if isinstance(step, int) else exp.JSONPathKey(this=step)


DECODE_JSON_TEXT: dict[Kind, Decoder] = {Kind.JSON: _json_text}
"""Drivers that return JSON columns as text."""

DECODE_BOOLEAN_INTEGERS: dict[Kind, Decoder] = {Kind.BOOLEAN: _boolean}
"""Databases that store booleans as 0 and 1."""

_USERINFO = re.compile(r"(?P<head>://[^:/@]*:)(?P<password>[^@]*)@")


def redact_url(url: str) -> str:
    """The URL with its password masked, for printing.

    >>> redact_url("postgres://app:s3cret@db:5432/app")
    'postgres://app:***@db:5432/app'
    """
    return _USERINFO.sub(lambda m: f"{m['head']}***@", url, count=1)


# The same message for the same violation on every database.


def unique_violation() -> RlsError:
    return Conflict("conflict: a row with the same unique key already exists")


def foreign_key_violation() -> RlsError:
    return Conflict("conflict: the row violates a foreign key constraint", postgrest_code="23503")


def not_null_violation(column: str | None) -> RlsError:
    text = f"missing value for required column: {column}" if column else "missing required value"
    return ConstraintViolation(text, postgrest_code="23502")


def check_violation() -> RlsError:
    return ConstraintViolation("the row violates a check constraint")


def invalid_value() -> RlsError:
    return InvalidValue("invalid value for the column's type")


def unavailable(reason: str = "database unavailable") -> RlsError:
    return Unavailable(reason)


@functools.lru_cache(maxsize=64)
def _parsed(template: str, dialect: str) -> exp.Expr:
    import sqlglot  # only the few templates of build_shape, once each

    return sqlglot.parse_one(template, read=dialect)
