"""PostgreSQL through psycopg 3: errors by SQLSTATE, search_path from the URL, jsonb operators."""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
from psycopg.adapt import AdaptersMap, Buffer, Loader
from psycopg.pq import Format
from psycopg.types.string import TextLoader
from sqlglot import exp

from dialects.base import (
    Connection,
    Dialect,
    FunctionInfo,
    check_violation,
    foreign_key_violation,
    invalid_value,
    not_null_violation,
    trigger_hazard,
    unavailable,
    unique_violation,
)
from rls.errors import (
    BadRequest,
    Conflict,
    Denied,
    RlsError,
    StatementTimeout,
    Unavailable,
    UnknownColumn,
    UnknownTable,
)
from rls.schema import Column, ForeignKey, Kind, Schema, Table

_TYPE_KINDS = {
    **dict.fromkeys(("int2", "int4", "int8", "oid"), Kind.INTEGER),
    **dict.fromkeys(("float4", "float8"), Kind.FLOAT),
    "numeric": Kind.DECIMAL,
    "bool": Kind.BOOLEAN,
    **dict.fromkeys(("json", "jsonb"), Kind.JSON),
    "date": Kind.DATE,
    **dict.fromkeys(("timestamp", "timestamptz"), Kind.DATETIME),
    **dict.fromkeys(("time", "timetz"), Kind.TIME),
    "bytea": Kind.BYTES,
    "uuid": Kind.UUID,
}
_CATEGORY_KINDS = {"S": Kind.TEXT, "E": Kind.TEXT, "N": Kind.DECIMAL}


def kind_of(typname: str, category: str) -> Kind:
    """The kind of a value of the type named ``typname`` (pg_type.typname, typcategory).

    >>> kind_of("float8", "N"), kind_of("citext", "S"), kind_of("inet", "I")
    (<Kind.FLOAT: 'float'>, <Kind.TEXT: 'text'>, <Kind.OTHER: 'other'>)
    """
    return _TYPE_KINDS.get(typname) or _CATEGORY_KINDS.get(category, Kind.OTHER)


# -- how values are loaded ----------------------------------------------------------------
#
# Every value read must become JSON. psycopg loads an open set of types as Python objects
# (inet as IPv4Address, ranges as Range, interval as timedelta — which holds less than an
# interval can); rls encodes only the values of the kinds it knows. So, per connection:
# the types rls has a kind for keep psycopg's loader, wrapped so that a value Python cannot
# hold (a date 'infinity', a float 'NaN', a time '24:00:00', a BC timestamp) comes as
# PostgreSQL's text for it — as PostgreSQL's own to_json gives it — instead of failing;
# every other type the driver would decode is loaded as its text. Arrays stay arrays: their
# elements go through the same loaders.
_DECODED = frozenset(_TYPE_KINDS) | {"text", "varchar", "bpchar", "name", "char", '"char"'}
# Loaders that can fail on, or return a non-JSON value for, a value PostgreSQL holds.
_GUARDED = frozenset(
    {"float4", "float8", "numeric", "date", "timestamp", "timestamptz", "time", "timetz", "json", "jsonb"}
)


def _as_text(data: Buffer) -> str:
    return bytes(data).decode("utf-8", "replace")


@functools.cache
def _guarded(inner: type[Loader]) -> type[Loader]:
    """``inner``, but a value it cannot load, or loads as a non-finite number, as text."""

    class Guarded(Loader):
        def __init__(self, oid: int, context: Any = None):
            super().__init__(oid, context)
            self._inner = inner(oid, context)

        def load(self, data: Buffer) -> Any:
            try:
                value = self._inner.load(data)
            except (psycopg.DataError, ValueError, ArithmeticError, RecursionError):
                return _as_text(data)
            if (isinstance(value, float) and not math.isfinite(value)) or (
                isinstance(value, decimal.Decimal) and not value.is_finite()
            ):
                return _as_text(data)
            return value

    Guarded.__name__ = f"Guarded{inner.__name__}"
    return Guarded


def configure_loaders(adapters: AdaptersMap) -> None:
    """Load every type of ``adapters`` (a connection's) as described above (text format:
    the only one rls asks for)."""
    for info in adapters.types:
        loader = adapters.get_loader(info.oid, Format.TEXT)
        if loader is None:
            continue  # no loader: psycopg already returns the text
        if info.name not in _DECODED:
            adapters.register_loader(info.oid, TextLoader)
        elif info.name in _GUARDED:
            adapters.register_loader(info.oid, _guarded(loader))


_COLUMNS = """
SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
       t.typcategory, a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY c.relname, a.attnum
"""
# Tables with a trigger (any timing, level or event) or a rule of their own: code rls cannot
# judge runs with the write (it may change the row after its check, or write other rows past
# their policies, directly or through functions it calls). And which tables a view reads.
_TRIGGERED = """
SELECT c.relname
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT t.tgisinternal
UNION
SELECT c.relname
FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND r.rulename <> '_RETURN'
"""
_VIEW_TABLES = """
SELECT DISTINCT v.relname, t.relname, tn.nspname = current_schema()
FROM pg_rewrite r
JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE vn.nspname = current_schema()
UNION ALL
SELECT parent.relname, child.relname, cn.nspname = current_schema()
FROM pg_inherits i
JOIN pg_class parent ON parent.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = parent.relnamespace
JOIN pg_class child ON child.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = child.relnamespace
WHERE pn.nspname = current_schema()
"""
"""What a write to a table or view reaches besides itself: a view's tables, a table's
partitions and inheritance children (their triggers fire too). From the catalog's
dependencies, not information_schema.view_table_usage, which lists only tables the
current role owns (a view over another role's table would reach nothing)."""
# Tables whose defaults, generated columns or constraints call a function that is not the
# database's own (pg_catalog): code rls cannot judge runs with every write.
_USER_CODE_IN_COLUMNS = """
SELECT DISTINCT c.relname
FROM pg_depend d
JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
LEFT JOIN pg_constraint co ON d.classid = 'pg_constraint'::regclass AND d.objid = co.oid
JOIN pg_class c ON c.oid = coalesce(ad.adrelid, co.conrelid)
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND pn.nspname <> 'pg_catalog'
"""
# Views whose definition calls a function that is not the database's own: reading one runs
# code rls cannot judge (a volatile function may write): such a view is not served.
_VIEWS_CALLING_USER_CODE = """
SELECT DISTINCT v.relname
FROM pg_rewrite r
JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_proc'::regclass
JOIN pg_proc p ON p.oid = d.refobjid JOIN pg_namespace pn ON pn.oid = p.pronamespace
WHERE vn.nspname = current_schema() AND pn.nspname <> 'pg_catalog'
"""
_FUNCTIONS = """
SELECT n.nspname, p.proname, p.provolatile::text, p.proretset, format_type(p.prorettype, NULL),
       CASE WHEN rc.relkind IN ('r', 'v', 'm', 'p', 'f') AND rn.nspname = n.nspname THEN rc.relname END,
       coalesce(p.proargnames, ARRAY[]::text[]), coalesce(p.proargmodes::text[], ARRAY[]::text[]),
       ARRAY(SELECT format_type(a.t, NULL) FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, i) ORDER BY a.i),
       ARRAY(SELECT at.typname::text FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, i)
             JOIN pg_type at ON at.oid = a.t ORDER BY a.i),
       ARRAY(SELECT at.typcategory::text FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, i)
             JOIN pg_type at ON at.oid = a.t ORDER BY a.i),
       p.pronargdefaults, p.provariadic <> 0,
       ARRAY(SELECT att.attname::text FROM pg_attribute att
             WHERE att.attrelid = t.typrelid AND att.attnum > 0 AND NOT att.attisdropped ORDER BY att.attnum)
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_type t ON t.oid = p.prorettype
LEFT JOIN pg_class rc ON rc.oid = t.typrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE n.nspname = current_schema() AND p.proname = %s AND p.prokind = 'f'
"""
_VOLATILITY = {"i": "immutable", "s": "stable", "v": "volatile"}

_PRIMARY_KEYS = """
SELECT c.relname, a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
WHERE i.indisprimary AND n.nspname = current_schema()
ORDER BY c.relname, array_position(i.indkey::int2[], a.attnum)
"""

_FOREIGN_KEYS = """
SELECT con.conname, c.relname,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       f.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class f ON f.oid = con.confrelid
JOIN pg_namespace fn ON fn.oid = f.relnamespace
WHERE con.contype = 'f' AND n.nspname = current_schema() AND fn.nspname = current_schema()
ORDER BY c.relname, con.conname
"""


def _from_diag(build: Callable[[str | None], RlsError]) -> Callable[[Any], RlsError]:
    return lambda exc: build(exc.diag.column_name)


_STATEMENT = "the database rejected the statement"
_TIMEOUT = "query canceled: statement timeout"

# SQLSTATE → error, exact code first, then its two-character class. Every class is listed:
# what the statement or its values did wrong is a 400; what the server or the connection
# did, a 503.
_ERRORS: dict[str, Callable[[Any], RlsError]] = {
    "23505": lambda _: unique_violation(),
    "23503": lambda _: foreign_key_violation(),
    "23P01": lambda _: Conflict("conflict: the row violates an exclusion constraint"),
    "23502": _from_diag(not_null_violation),
    "23514": lambda _: check_violation(),
    "23": lambda _: check_violation(),
    "22": lambda _: invalid_value(),
    "42804": lambda _: invalid_value(),
    "42883": lambda _: BadRequest("operator or function not supported for these types"),
    "42703": lambda _: UnknownColumn("unknown column"),
    "42P01": lambda _: UnknownTable("table does not exist"),
    "42501": lambda _: Denied("permission denied by the database"),
    "42": lambda _: BadRequest(_STATEMENT),
    "44": lambda _: check_violation(),  # WITH CHECK OPTION of a view
    "54": lambda _: BadRequest("the statement is too large or too complex for the database"),
    **dict.fromkeys(("0A", "20", "21", "27", "2F", "38", "39", "P0", "HV"), lambda _: BadRequest(_STATEMENT)),
    "25006": lambda _: BadRequest("the statement tried to write in a read-only call (GET /rpc: use POST)"),
    "40": lambda _: Conflict("conflict: concurrent update, retry"),
    # Class 55 mixes the statement's fault with the server's: mapped per exact code.
    "55000": lambda _: BadRequest(  # object_not_in_prerequisite_state: a view that is not updatable, …
        "the database cannot run this statement on this object (a view that is not updatable, say)"
    ),
    "55006": lambda _: Conflict("conflict: the object is in use, retry"),  # object_in_use
    "55P02": lambda _: BadRequest(_STATEMENT),  # cant_change_runtime_param
    "55P03": lambda _: unavailable("database is busy, retry later"),  # lock_not_available
    "55P04": lambda _: BadRequest(_STATEMENT),  # unsafe_new_enum_value_usage
    "57014": lambda _: unavailable(_TIMEOUT),
    "25P03": lambda _: unavailable(_TIMEOUT),  # idle_in_transaction_session_timeout
    **dict.fromkeys(
        "08 53 57 58 XX F0 28 3D 3F 55 72 24 25 26 2B 2D 34 3B 0B 0F 0L 0P 0Z 09 03 02 01 00".split(),
        lambda _: unavailable(),
    ),
}

# psycopg's own errors (no SQLSTATE: raised before or instead of the server's), by class.
_CLIENT: tuple[tuple[type[psycopg.Error], Callable[[Any], RlsError]], ...] = (
    (psycopg.DataError, lambda _: invalid_value()),  # a text value with NUL, a value no type adapts
    (psycopg.ProgrammingError, lambda _: BadRequest(_STATEMENT)),
    (psycopg.NotSupportedError, lambda _: BadRequest(_STATEMENT)),
    (psycopg.IntegrityError, lambda _: check_violation()),
    (psycopg.Error, lambda _: unavailable()),
)


# query_canceled (statement_timeout) and lock_not_available (lock_timeout).
_TIMEOUTS = frozenset({"57014", "55P03"})


class Postgres(Dialect):
    name = "postgres"
    SQLGLOT = "postgres"
    URL_SCHEMES = ("postgres", "postgresql")
    PLACEHOLDER = "%s"
    ESCAPE_PERCENT = True
    SUPPORTS_CONTAINS = True
    SUPPORTS_RPC = True
    CTE_FORWARD_REFERENCES = True
    # The column kinds whose comparison operators PostgreSQL marks leakproof (pg_proc).
    LEAKPROOF_LITERALS: ClassVar[dict[Kind, str]] = {
        Kind.INTEGER: "number",
        Kind.FLOAT: "number",
        Kind.TEXT: "string",
        Kind.UUID: "string",
        Kind.DATE: "string",
        Kind.DATETIME: "string",
        Kind.BOOLEAN: "boolean",
    }
    GUARD_FUNCTIONS: ClassVar[dict[str, tuple[int, int]]] = {
        "AGE": (1, 2),
        "JSONB_BUILD_OBJECT": (0, 100),
        "JSON_BUILD_OBJECT": (0, 100),
        "CHAR_LENGTH": (1, 1),
        "CHARACTER_LENGTH": (1, 1),
        "OCTET_LENGTH": (1, 1),
        "BTRIM": (1, 2),
        "LTRIM": (1, 2),
        "RTRIM": (1, 2),
        "DATE_PART": (2, 2),
        "STRING_AGG": (2, 2),
    }
    DDL_TYPES: ClassVar[dict[str, str]] = {
        **Dialect.DDL_TYPES,
        "serial": "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "json": "JSONB",
        "datetime": "TIMESTAMPTZ",
    }

    def connect_args(self, url: str) -> dict[str, Any]:
        """``postgres://user:pw@host:5432/db?search_path=s&sslmode=…`` → psycopg keywords."""
        parts = urlsplit(url)
        args: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "dbname": unquote(parts.path.lstrip("/")) or "postgres",
            "connect_timeout": 5,
            "application_name": "rls",
        }
        if parts.username:
            args["user"] = unquote(parts.username)
        if parts.password:
            args["password"] = unquote(parts.password)
        options = dict(parse_qsl(parts.query))
        search_path = options.pop("search_path", None)
        if search_path:
            args["options"] = f"-csearch_path={search_path}"
        args.update(options)
        return args

    def connect(self, *, statement_timeout: float | None = None, **args: Any) -> Connection:
        if statement_timeout:
            # Set at connection start (no extra round trip): a statement running, or
            # waiting for a lock, longer than this fails with 57014 or 55P03.
            ms = max(1, round(statement_timeout * 1000))
            limits = f"-c statement_timeout={ms} -c lock_timeout={ms}"
            args["options"] = f"{args['options']} {limits}" if args.get("options") else limits
        # Autocommit: rls issues BEGIN only where a request needs a transaction.
        conn = psycopg.connect(**args, autocommit=True)
        configure_loaders(conn.adapters)
        # Literals are emitted with standard escaping; refuse a server that would read
        # backslashes inside them as escapes.
        conn.execute("SET standard_conforming_strings = on")
        problem = self.check_session(conn)
        if problem is not None:
            conn.close()
            raise psycopg.OperationalError(problem)
        return conn

    SESSION_LIMIT_UNDONE_BY_ROLLBACK = True

    def session_time_limit(self, conn: Any, seconds: float) -> str | None:
        # Lock waits count: statement_timeout is the statement's whole time.
        return f"SET statement_timeout = {max(1, round(seconds * 1000))}"

    def check_session(self, conn: Connection) -> str | None:
        if self.fetch_value(conn, "SHOW standard_conforming_strings") != "on":
            return "standard_conforming_strings is off: backslashes in literals would be read as escapes"
        return None

    def is_disconnect(self, exc: BaseException) -> bool:
        if isinstance(exc, psycopg.InterfaceError):
            return True
        state = getattr(exc, "sqlstate", None)
        return isinstance(exc, psycopg.OperationalError) and (
            state is None or state.startswith("08") or state.startswith("57P")
        )

    def introspect(self, conn: Connection) -> Schema:
        cur = conn.cursor()
        cur.execute(_PRIMARY_KEYS)
        keys: dict[str, list[str]] = {}
        for table, column in cur.fetchall():
            keys.setdefault(table, []).append(column)
        cur.execute(_COLUMNS)
        columns: dict[str, list[Column]] = {}
        kinds: dict[str, str] = {}
        for table, relkind, name, type_, typname, category, notnull, has_default in cur.fetchall():
            kind = kind_of(typname, category)
            columns.setdefault(table, []).append(Column(name, kind, type_, not notnull, has_default))
            kinds[table] = relkind
        cur.execute(_TRIGGERED)
        triggered = {name for (name,) in cur.fetchall()}
        cur.execute(_USER_CODE_IN_COLUMNS)
        triggered |= {name for (name,) in cur.fetchall()}
        cur.execute(_VIEWS_CALLING_USER_CODE)
        for (view,) in cur.fetchall():
            columns.pop(view, None)
        cur.execute(_VIEW_TABLES)
        reads: dict[str, set[str | None]] = {}
        for view, table, here in cur.fetchall():
            reads.setdefault(view, set()).add(table if here else None)
        hazards = {t: h for t in columns if (h := trigger_hazard(t, triggered, reads)) is not None}
        return Schema.build(
            (
                Table.build(t, cols, keys.get(t, ()), is_view=kinds[t] in ("v", "m"), write_hazard=hazards.get(t))
                for t, cols in columns.items()
            ),
            self.introspect_foreign_keys(conn),
        )

    def describe_functions(self, conn: Connection, name: str) -> list[FunctionInfo]:
        cur = conn.cursor()
        try:
            cur.execute(_FUNCTIONS, (name,))
            rows = cur.fetchall()
        finally:
            cur.close()
        return [_function_info(*row) for row in rows]

    # -- foreign keys and JSON for embedded resources -----------------------------------

    def introspect_foreign_keys(self, conn: Connection) -> list[ForeignKey]:
        cur = conn.cursor()
        cur.execute(_FOREIGN_KEYS)
        return [ForeignKey(n, t, tuple(c), r, tuple(rc)) for n, t, c, r, rc in cur.fetchall()]

    # A principal compared with a column of unknown type: as JSON values (to_jsonb), so a
    # number orders as a number and a string as a string, and only a number with a number,
    # a string with a string. COALESCE(p, NULL) types a string parameter (sent untyped) as
    # text instead of letting the column's type convert it ('2' into the integer 2).

    def build_exact_comparison(self, node: type[exp.Expr], this: exp.Expr, value: exp.Expr, kind: Kind) -> exp.Expr:
        if kind is not Kind.OTHER or node in (exp.EQ, exp.NEQ):
            return super().build_exact_comparison(node, this, value, kind)
        as_json = self.build_shape("TO_JSONB(COALESCE(a, NULL)) < TO_JSONB(COALESCE(b, NULL))", a=this, b=value)
        compared = node(this=as_json.this, expression=as_json.expression)
        return self.when_same_type(compared, this, value)

    def build_in_query(self, node: exp.In, kind: Kind) -> exp.Expr:
        # A column of unknown type: the parameter would take the sub-query column's type
        # and a claim of another type ('abc' against an integer) would be a statement
        # error. As text on both sides, as build_comparison compares them (the caller
        # keeps only the rows whose value has the principal's type).
        query = node.args.get("query")
        select = query.this if isinstance(query, exp.Subquery) else query
        if kind is not Kind.OTHER or not isinstance(select, exp.Select) or len(select.expressions) != 1:
            return node
        text = exp.DataType.build("TEXT")
        as_text = select.copy()
        as_text.set("expressions", [exp.Cast(this=select.expressions[0].unalias().copy(), to=text)])
        return exp.In(this=exp.Cast(this=node.this.copy(), to=text.copy()), query=exp.Subquery(this=as_text))

    def build_same_type(self, this: exp.Expr, value: exp.Expr) -> exp.Expr:
        return self.build_shape(
            "JSONB_TYPEOF(TO_JSONB(COALESCE(a, NULL))) = JSONB_TYPEOF(TO_JSONB(COALESCE(b, NULL)))", a=this, b=value
        )

    def build_json_object(self, pairs: list[tuple[str, exp.Expr]]) -> exp.Expr:
        args: list[exp.Expr] = []
        for key, value in pairs:
            args += [exp.Literal.string(key), value]
        return exp.Anonymous(this="JSON_BUILD_OBJECT", expressions=args)

    def build_json_array(self, elements: list[exp.Expr]) -> exp.Expr:
        return exp.Anonymous(this="JSON_BUILD_ARRAY", expressions=elements)

    def build_json_empty_array(self) -> exp.Expr:
        return exp.Cast(this=exp.Literal.string("[]"), to=exp.DataType.build("JSON"))

    def build_raise(self, witness: exp.Expr) -> exp.Expr:
        # CAST('rls_…:' || COALESCE(LEFT(<column>::text, 0), '') AS INT): invalid input syntax,
        # 22P02; the column adds no character to the message.
        empty = exp.Left(this=exp.Cast(this=witness, to=exp.DataType.build("TEXT")), expression=exp.Literal.number(0))
        text = exp.Coalesce(this=empty, expressions=[exp.Literal.string("")])
        message = exp.DPipe(this=exp.Literal.string(self.VIOLATION_MARKER), expression=text, safe=True)
        return exp.Cast(this=message, to=exp.DataType.build("INT"))

    def is_policy_violation(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) == "22P02" and super().is_policy_violation(exc)

    def build_json_path(self, column: exp.Expr, steps: Iterable[str | int], *, as_text: bool) -> exp.Expr:
        # The -> / ->> operators work on json and jsonb alike (json_extract_path does not).
        steps = list(steps)
        node = column
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            path = exp.JSONPath(
                expressions=[
                    exp.JSONPathRoot(),
                    exp.JSONPathSubscript(this=step) if isinstance(step, int) else exp.JSONPathKey(this=step),
                ]
            )
            cls = exp.JSONExtractScalar if (last and as_text) else exp.JSONExtract
            node = cls(this=node, expression=path, only_json_types=True)
        return node

    # -- PostgREST filter operators ------------------------------------------------------

    SUPPORTS_FULL_TEXT = True

    def build_full_text(self, this: exp.Expr, query: exp.Expr, *, function: str, language: str, kind: Kind) -> exp.Expr:
        config = [exp.Literal.string(language)] if language else []
        # A tsvector column is searched as it is; text and JSON are parsed on the fly.
        vector = this if kind is Kind.OTHER else exp.Anonymous(this="to_tsvector", expressions=[*config, this])
        tsquery = exp.Anonymous(this=function, expressions=[*(c.copy() for c in config), query])
        return exp.MatchAgainst(this=tsquery, expressions=[vector])

    def to_error(self, exc: BaseException) -> RlsError | None:
        if not isinstance(exc, psycopg.Error):
            return None
        state = getattr(exc, "sqlstate", None)
        if state in _TIMEOUTS:
            return StatementTimeout()
        build = (_ERRORS.get(state) or _ERRORS.get(state[:2])) if state else None
        if build is None:
            build = next(b for cls, b in _CLIENT if isinstance(exc, cls))
        error = build(exc)
        if state and not isinstance(error, Unavailable):
            error.postgrest_code = state  # PostgREST answers the server's own SQLSTATE
        return error


def _function_info(
    schema: str, name: str, volatility: str, returns_set: bool, return_type: str, relation: str | None,
    names: list[str], modes: list[str], types: list[str], typnames: list[str], categories: list[str],
    defaults: int, variadic: bool, attributes: list[str],
) -> FunctionInfo:  # fmt: skip
    # Without modes every argument is an input; with them, i(n), b (inout) and v(ariadic)
    # are inputs and o(ut), b and t(able) are result columns.
    modes = modes or ["i"] * len(types)
    names = names or [""] * len(modes)
    inputs = [n for n, m in zip(names, modes, strict=False) if m in ("i", "b", "v")]
    outputs = tuple(n for n, m in zip(names, modes, strict=False) if m in ("o", "b", "t"))
    columns = outputs if return_type == "record" else tuple(attributes)
    return FunctionInfo(
        schema, name, tuple(zip(inputs, types, strict=False)), defaults, _VOLATILITY.get(volatility, "volatile"),
        returns_set, relation, columns, variadic,
        tuple(kind_of(t, c) for t, c in zip(typnames, categories, strict=True)),
    )  # fmt: skip
