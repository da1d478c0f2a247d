"""MySQL and MariaDB through PyMySQL: strict SQL mode, JSON without ->> (MariaDB), errors by errno."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import ssl
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote

import pymysql
import pymysql.connections
import pymysql.constants.CLIENT
import sqlglot
import sqlglot.errors
from sqlglot import exp

from dialects.base import (
    DECODE_BOOLEAN_INTEGERS,
    DECODE_JSON_TEXT,
    TRIGGER_HAZARD,
    Adapter,
    Connection,
    Decoder,
    Dialect,
    boolean_as_json_text,
    check_violation,
    foreign_key_violation,
    invalid_value,
    not_null_violation,
    unavailable,
    unique_violation,
)
from rls.errors import (
    BadRequest,
    Conflict,
    Denied,
    PayloadTooLarge,
    RlsError,
    StatementTimeout,
    UnknownColumn,
    UnknownTable,
)
from rls.schema import Column, ForeignKey, Kind, Schema, Table

# Every session runs with the same, explicit mode: bad values fail instead of being
# truncated, and backslash escapes stay on because sqlglot's MySQL output relies on them.
SQL_MODE = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION"
_NO_SUBQUERY_CACHE = "SESSION optimizer_switch = 'subquery_cache=off'"
"""On every session rls guards (:attr:`MySQL.SESSION_SETUP`, and rls's own connections)."""

_STORED_TYPE = re.compile(r"(?P<base>[a-z]+)(?:\((?P<size>[0-9, ]+)\))?(?P<unsigned> unsigned)?")
_INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})

_SAFE_SQL_MODES = frozenset(
    {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "ERROR_FOR_DIVISION_BY_ZERO", "NO_ZERO_DATE", "NO_ZERO_IN_DATE",
     "NO_ENGINE_SUBSTITUTION", "NO_AUTO_CREATE_USER", "ONLY_FULL_GROUP_BY", "NO_AUTO_VALUE_ON_ZERO",
     "NO_UNSIGNED_SUBTRACTION", "NO_DIR_IN_CREATE", "IGNORE_BAD_TABLE_OPTIONS", "REAL_AS_FLOAT",
     "NO_FIELD_OPTIONS", "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "TIME_ROUND_FRACTIONAL"}
)  # fmt: skip
"""sql_mode flags under which the server reads and runs guarded SQL as the guard analysed it."""

_DATA_TYPE_KINDS = {
    **dict.fromkeys(("tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"), Kind.INTEGER),
    **dict.fromkeys(("float", "double", "real"), Kind.FLOAT),
    "decimal": Kind.DECIMAL,
    **dict.fromkeys(("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"), Kind.TEXT),
    "json": Kind.JSON,
    "date": Kind.DATE,
    **dict.fromkeys(("datetime", "timestamp"), Kind.DATETIME),
    "time": Kind.TIME,
    **dict.fromkeys(("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"), Kind.BYTES),
    "uuid": Kind.UUID,
}

# Text, and columns of unknown type (an untyped Guard schema): compared as bytes, exactly.
_TEXT_KINDS = frozenset({Kind.TEXT, Kind.OTHER})
_JSON_TYPE = "NULLIF(JSON_TYPE(JSON_EXTRACT(JSON_ARRAY({}), '$[0]')), 'NULL')"
"""The JSON type of a value (NULL for NULL): how MariaDB tells a number from a string."""

_DSN = re.compile(
    r"^(?:(?P<user>[^:@/]*)(?::(?P<password>[^@]*))?@)?"
    r"(?:tcp\((?P<tcp>[^)]*)\)|unix\((?P<unix>[^)]*)\)|(?P<addr>[^/?]*))"
    r"/(?P<db>[^?]*)(?:\?(?P<query>.*))?$"
)
_JSON_CHECK = re.compile(r"json_valid\(`(?P<column>(?:[^`]|``)+)`\)", re.IGNORECASE)
_QUOTED_NAME = re.compile(r"'([^']*)'")

_FOREIGN_KEYS = (
    "SELECT k.CONSTRAINT_NAME, k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME "
    "FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
    "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
    "AND r.TABLE_NAME = k.TABLE_NAME "
    "WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_SCHEMA = DATABASE() "
    "ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"
)


def _date_format(value: exp.Expr, fraction: str) -> exp.Expr:
    return exp.Anonymous(this="DATE_FORMAT", expressions=[value, exp.Literal.string("%Y-%m-%dT%H:%i:%s" + fraction)])


def _quoted_column(exc: Any) -> str | None:
    match = _QUOTED_NAME.search(str(exc.args[1]) if len(exc.args) > 1 else "")
    return match.group(1) if match else None


_DISCONNECTS = {1040, 1053, 1927, 2002, 2003, 2006, 2013, 2055, 4031}
# Server-side conditions that are not the statement's fault: the server is out of
# something, read-only, misconfigured for rls, or shutting down.
_SERVER = frozenset(
    {1021, 1030, 1036, 1037, 1038, 1041, 1043, 1045, 1046, 1049, 1081, 1114, 1129, 1130, 1135, 1184, 1203, 1226}
    | {1290, 1836, 1877, 1878, 1152, *range(1154, 1162)}
)
_PACKET_TOO_LARGE = 1153
"""ER_NET_PACKET_TOO_LARGE: the statement is longer than the server's max_allowed_packet —
the request's fault (its values, once escaped, make the statement), so a 413."""
_TIMEOUT = "query canceled: statement timeout"

_ERRORS: dict[int, Callable[[Any], RlsError]] = {
    **dict.fromkeys((1062, 1586), lambda _: unique_violation()),
    **dict.fromkeys((1216, 1217, 1451, 1452), lambda _: foreign_key_violation()),
    **dict.fromkeys((1048, 1364), lambda e: not_null_violation(_quoted_column(e))),
    **dict.fromkeys((3819, 4025), lambda _: check_violation()),
    **dict.fromkeys((1264, 1265, 1292, 1366, 1367, 1406, 1411, 1690, 3140, 4038), lambda _: invalid_value()),
    1054: lambda _: UnknownColumn("unknown column"),
    1146: lambda _: UnknownTable("table does not exist"),
    4079: lambda _: BadRequest("operator or function not supported for these types"),
    **dict.fromkeys((1044, 1142, 1143), lambda _: Denied("permission denied by the database")),
    **dict.fromkeys((1205, 1213), lambda _: Conflict("conflict: concurrent update, retry")),
    1064: lambda _: BadRequest("the database rejected the statement"),
    1139: lambda _: BadRequest("invalid regular expression", postgrest_code="2201B"),  # ER_REGEXP_ERROR (match)
    **dict.fromkeys((1317, 1969, 3024), lambda _: unavailable(_TIMEOUT)),  # interrupted, max_statement_time
    _PACKET_TOO_LARGE: lambda _: PayloadTooLarge(
        "request too large for the database: its statement, values escaped, is longer than the server's"
        " max_allowed_packet; send less (max_body_bytes)"
    ),
    **dict.fromkeys((*_DISCONNECTS, *_SERVER), lambda _: unavailable()),
}
"""By error number; numbers not listed go by range in :meth:`MySQL.to_error`: 1000–1999 and
3000–4999 are the server refusing a statement (400), 2000–2999 the client library losing
the connection (503)."""


def _calls_any(definition: str | None, functions: set[str]) -> bool:
    """Whether a view's definition calls one of ``functions`` (any word followed by "(" that
    names one, read from its tokens; a definition that does not tokenise: yes)."""
    if not functions:
        return False
    try:
        tokens = sqlglot.tokenize(definition or "", read="mysql")
    except sqlglot.errors.SqlglotError:
        return True
    return any(
        tokens[i].text.strip("`").lower() in functions and tokens[i + 1].text == "(" for i in range(len(tokens) - 1)
    )


def _base_tables(
    engines: dict[str, str | None], views: dict[str, str], schema: str
) -> dict[str, frozenset[str] | None]:
    """Per table or view, the base tables a write to it reaches: a table itself; a view,
    the tables its definition reads (through other views too); None when they cannot be
    told (another schema, a definition that does not parse, a cycle)."""

    def resolve(name: str, seen: frozenset[str]) -> frozenset[str] | None:
        if name not in views:
            return frozenset({name}) if name in engines else None
        if name in seen:
            return None
        try:
            read = list(sqlglot.parse_one(views[name] or "", read="mysql").find_all(exp.Table))
        except sqlglot.errors.SqlglotError:
            return None
        found: set[str] = set()
        for table in read:
            if table.args.get("catalog") or (table.db and table.db != schema):
                return None
            inner = resolve(table.name, seen | {name})
            if inner is None:
                return None
            found |= inner
        return frozenset(found)

    return {name: resolve(name, frozenset()) for name in engines}


def _write_hazards(engines: dict[str, str | None], bases: dict[str, frozenset[str] | None]) -> dict[str, str | None]:
    """Per table or view, why a write under policies cannot be trusted, or None. Only
    InnoDB undoes a statement that fails half-way: elsewhere a write aborted by its own
    WITH CHECK would keep what it wrote. A view has the hazard of the tables it reaches,
    and one whose tables cannot be told is refused."""
    out: dict[str, str | None] = {}
    for name, tables in bases.items():
        if tables is None:
            out[name] = f"view {name}: the storage of its tables cannot be told: writes under a policy are refused"
            continue
        engines_of = sorted({str(engines.get(t) or "unknown") for t in tables} - {"InnoDB", "innodb"})
        out[name] = (
            f"table engine {engines_of[0]} has no transactions: writes under a policy are refused"
            if engines_of
            else None
        )
    return out


# max_statement_time exceeded (MariaDB), max_execution_time exceeded (MySQL), lock wait
# timeout: checked before _ERRORS.
_TIMEOUTS = frozenset({1969, 3024, 1205})


class _Connection(pymysql.connections.Connection):  # type: ignore[type-arg]
    """PyMySQL's connection with its default TLS context made once per process.

    Without TLS options PyMySQL prefers TLS and builds a new default context for every
    connection, loading the system's CA bundle: ~90 ms of CPU under the GIL, which
    stalls the worker whenever connections are (re)opened, as after a database restart.
    """

    _default_context: ClassVar[ssl.SSLContext | None] = None
    server_max_packet: int | None = None
    """The server's max_allowed_packet, read once per connection (:meth:`MySQL.connect`)."""

    def query(self, sql: str | bytes, unbuffered: bool = False) -> int:
        """Send ``sql`` unless it is longer than the server's max_allowed_packet: the
        server would refuse it and drop the connection (a client's value reported as an
        outage). PyMySQL interpolates values client-side, so a body under max_body_bytes
        can make a statement twice its size (every quote escaped)."""
        data = sql.encode(self.encoding) if isinstance(sql, str) else sql
        limit = self.server_max_packet
        if limit is not None and len(data) + 1 > limit:  # +1: the command byte
            raise pymysql.err.OperationalError(_PACKET_TOO_LARGE, "statement longer than max_allowed_packet: not sent")
        return super().query(data, unbuffered)

    def _create_ssl_ctx(self, sslp: Any) -> Any:
        # A private method of PyMySQL (not in its stubs); TLS options from a caller still
        # get a context of their own.
        if sslp != {}:
            return super()._create_ssl_ctx(sslp)  # type: ignore[misc]
        cls = type(self)
        if cls._default_context is None:
            cls._default_context = super()._create_ssl_ctx(sslp)  # type: ignore[misc]
        return cls._default_context


def _statement_time_sql(conn: Any, seconds: float) -> str:
    # MariaDB's max_statement_time covers every statement, in seconds; MySQL's
    # max_execution_time only SELECTs, in milliseconds. Lock waits have their own limit,
    # in whole seconds. get_server_info() is PyMySQL's and aiomysql's (no query).
    mariadb = "mariadb" in conn.get_server_info().lower()
    if mariadb:
        limit = f"max_statement_time = {seconds:.3f}"
    else:
        limit = f"max_execution_time = {max(1, round(seconds * 1000))}"
    return f"SET SESSION {limit}, SESSION innodb_lock_wait_timeout = {max(1, math.ceil(seconds))}"


def _limit_statement_time(conn: Any, seconds: float) -> None:
    with conn.cursor() as cur:
        cur.execute(_statement_time_sql(conn, seconds))


def _without_zone(value: dt.datetime) -> dt.datetime:
    # DATETIME has no zone; store the instant in UTC.
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


class MySQL(Dialect):
    name = "mysql"
    SQLGLOT = "mysql"
    URL_SCHEMES = ("mysql", "mariadb")
    PLACEHOLDER = "%s"
    ESCAPE_PERCENT = True
    # The default collations compare case-insensitively; LIKE must not.
    CASE_SENSITIVE_COLLATION = "utf8mb4_bin"
    # MariaDB ≥ 10.5 has INSERT … RETURNING (MySQL 8 has none: not supported for writes
    # under a create policy); neither has UPDATE … RETURNING: an UPDATE checks its new rows
    # in its own WHERE, the values computed left to right as MySQL assigns them.
    CASE_INSENSITIVE_COLUMNS = True
    SUPPORTS_UPDATE_RETURNING = False
    # ON DUPLICATE KEY UPDATE fires on any unique key and INSERT IGNORE ignores more than
    # duplicates: REST upserts are refused rather than half-guarded.
    SUPPORTS_ON_CONFLICT = False
    SET_ASSIGNS_LEFT_TO_RIGHT = True
    FENCE_WITH_WINDOWS = True
    ALIAS_CLAUSES: ClassVar[frozenset[str]] = frozenset({"order", "group", "having"})
    # Comparisons never raise in a SELECT, but mixed types convert row by row (with
    # warnings that quote the row's value, and errors in strict writes): only same-type
    # comparisons are leakproof, and parameters are checked for their type when bound.
    LEAKPROOF_LITERALS: ClassVar[dict[Kind, str]] = {
        Kind.INTEGER: "number",
        Kind.FLOAT: "number",
        Kind.DECIMAL: "number",
        Kind.TEXT: "string",
    }
    PARAM_TYPES: ClassVar[dict[Kind, tuple[type, ...]] | None] = {
        Kind.INTEGER: (int,),
        Kind.FLOAT: (int, float, Decimal),
        Kind.DECIMAL: (int, float, Decimal),
        Kind.TEXT: (str,),
    }
    # sqlglot prints `a REGEXP b` as MySQL 8's REGEXP_LIKE(), which MariaDB does not have.
    LOCK_INSIDE_POLICY_SUBQUERY: ClassVar[bool] = True
    RETURNS_INSERT_KEY: ClassVar[bool] = True
    GUARD_UNSUPPORTED: ClassVar[frozenset[type[exp.Expr]]] = frozenset({exp.RegexpLike, exp.RegexpILike})
    GUARD_FUNCTIONS: ClassVar[dict[str, tuple[int, int]]] = {
        "NOW": (0, 1),
        "JSON_UNQUOTE": (1, 1),
        "UNIX_TIMESTAMP": (0, 1),
        "CHAR_LENGTH": (1, 1),
        "LTRIM": (1, 1),
        "RTRIM": (1, 1),
        "CURTIME": (0, 1),
        "UTC_TIMESTAMP": (0, 1),
    }
    DECODERS: ClassVar[dict[Kind, Decoder]] = {**DECODE_JSON_TEXT, **DECODE_BOOLEAN_INTEGERS}
    ADAPTERS: ClassVar[dict[Kind, Adapter]] = {
        **Dialect.ADAPTERS,
        Kind.DATETIME: lambda value, text: _without_zone(value),
        Kind.UUID: lambda value, text: str(value),
    }
    DDL_TYPES: ClassVar[dict[str, str]] = {
        **Dialect.DDL_TYPES,
        "serial": "INTEGER AUTO_INCREMENT PRIMARY KEY",
        "exact_string": "VARCHAR(255) COLLATE utf8mb4_bin",
        "datetime": "DATETIME(6)",
        "table_options": " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    }

    def connect_args(self, url: str) -> dict[str, Any]:
        """``mysql://user:pw@tcp(host:3306)/db`` (Go style) or ``mysql://user:pw@host:3306/db``."""
        match = _DSN.match(url.split("://", 1)[1])
        if not match:
            raise ValueError("mysql URL must look like mysql://user:pw@tcp(host:3306)/db")
        args: dict[str, Any] = {
            "user": unquote(match["user"] or "root"),
            "password": unquote(match["password"] or ""),
            "database": unquote(match["db"]) or None,
            "charset": "utf8mb4",
            "connect_timeout": 5,
        }
        if match["unix"]:
            args["unix_socket"] = match["unix"]
        else:
            host, _, port = (match["tcp"] or match["addr"] or "127.0.0.1").rpartition(":")
            args["host"], args["port"] = (host, int(port)) if host else (port or "127.0.0.1", 3306)
        options = dict(parse_qsl(match["query"] or ""))
        if "charset" in options:
            args["charset"] = options["charset"]
        return args

    def connect(self, *, statement_timeout: float | None = None, **args: Any) -> Connection:
        # FOUND_ROWS: UPDATE reports the rows it matched, as other databases do, not only
        # those whose values changed.
        conn = _Connection(
            **args,
            autocommit=True,  # rls issues BEGIN only where a request needs a transaction
            client_flag=pymysql.constants.CLIENT.FOUND_ROWS,
            init_command=f"SET SESSION sql_mode = '{SQL_MODE}', {_NO_SUBQUERY_CACHE}",
        )
        if statement_timeout:
            _limit_statement_time(conn, statement_timeout)
        conn.server_max_packet = int(self.fetch_value(conn, "SELECT @@SESSION.max_allowed_packet"))
        return conn  # type: ignore[no-any-return]

    # The subquery cache keys a correlated sub-query's result by the outer value under its
    # column's collation: 'SALES' reuses the answer for 'sales' (measured, MariaDB 10.11),
    # so a policy's exact byte comparison inside EXISTS could be answered for another row.
    SESSION_SETUP: ClassVar[tuple[str, ...]] = (f"SET {_NO_SUBQUERY_CACHE}",)

    def session_time_limit(self, conn: Any, seconds: float) -> str | None:
        return _statement_time_sql(conn, seconds)

    def check_session(self, conn: Connection) -> str | None:
        modes = set(str(self.fetch_value(conn, "SELECT @@SESSION.sql_mode") or "").upper().split(",")) - {""}
        # An allow-list: every other mode changes how the server reads or runs what the guard
        # analysed (string escapes, quotes, ||, NOT's precedence, SET's assignment order,
        # CHAR values read back padded …).
        unsafe = sorted(modes - _SAFE_SQL_MODES)
        if unsafe:
            return f"unsafe sql_mode for guarded SQL: {', '.join(unsafe)}"
        # And a required one: without strict mode a write stores a truncated or clamped
        # value where a check judged the value written ('approved!' in VARCHAR(8)).
        if not modes & {"STRICT_ALL_TABLES", "STRICT_TRANS_TABLES"}:
            return "sql_mode for guarded SQL must be strict (STRICT_ALL_TABLES or STRICT_TRANS_TABLES)"
        # Text is compared exactly as utf8mb4 bytes: the statement's text must be utf8mb4.
        charset = str(self.fetch_value(conn, "SELECT @@SESSION.character_set_connection") or "")
        client = str(self.fetch_value(conn, "SELECT @@SESSION.character_set_client") or "")
        if (charset.lower(), client.lower()) != ("utf8mb4", "utf8mb4"):
            return f"the connection's character set for guarded SQL must be utf8mb4, not {client}/{charset}"
        return None

    def is_disconnect(self, exc: BaseException) -> bool:
        if isinstance(exc, pymysql.err.InterfaceError):
            return True
        return isinstance(exc, pymysql.err.OperationalError) and bool(exc.args) and exc.args[0] in _DISCONNECTS

    def introspect(self, conn: Connection) -> Schema:
        cur = conn.cursor()
        cur.execute(
            "SELECT TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
        )
        tables = cur.fetchall()
        kinds = {t: kind for t, kind, _ in tables}
        engines = {t: engine for t, _, engine in tables}
        cur.execute(
            "SELECT TABLE_NAME, VIEW_DEFINITION, DATABASE() FROM information_schema.VIEWS "
            "WHERE TABLE_SCHEMA = DATABASE()"
        )
        views = cur.fetchall()
        # A view whose definition calls a stored function runs code rls cannot judge on every
        # read (a function that MODIFIES SQL DATA writes): such a view is not served.
        cur.execute(
            "SELECT LOWER(ROUTINE_NAME) FROM information_schema.ROUTINES "
            "WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'FUNCTION'"
        )
        stored_functions = {name for (name,) in cur.fetchall()}
        unserved = {v for v, definition, _ in views if _calls_any(definition, stored_functions)}
        bases = _base_tables(engines, {v: d for v, d, _ in views}, views[0][2] if views else "")
        hazards = _write_hazards(engines, bases)
        cur.execute(
            "SELECT DISTINCT EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
        )
        with_triggers = {t for (t,) in cur.fetchall()}
        for name, reached in bases.items():
            if hazards.get(name) is None and (reached is None or reached & with_triggers):
                hazards[name] = TRIGGER_HAZARD
        cur.execute(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE TABLE_SCHEMA = DATABASE() AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY TABLE_NAME, ORDINAL_POSITION"
        )
        keys: dict[str, list[str]] = {}
        for table, column in cur.fetchall():
            keys.setdefault(table, []).append(column)
        json_columns = self._json_checked_columns(cur)
        cur.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION"
        )
        rows = cur.fetchall()
        columns: dict[str, list[Column]] = {}
        for table, name, data_type, column_type, nullable, default, extra in rows:
            kind = _DATA_TYPE_KINDS.get(data_type.lower(), Kind.OTHER)
            if column_type.lower().startswith("tinyint(1)"):
                kind = Kind.BOOLEAN
            elif (table, name) in json_columns:
                kind = Kind.JSON
            has_default = default is not None or "auto_increment" in extra or "GENERATED" in extra.upper()
            # A trigger may set any column of its table (its writes are refused anyway).
            computed = table in with_triggers or "GENERATED" in extra.upper() or "ON UPDATE" in extra.upper()
            columns.setdefault(table, []).append(
                Column(name, kind, column_type, nullable == "YES", has_default, computed=computed)
            )
        for view in unserved:
            columns.pop(view, None)
        # A view's column is set by the database when any table the view writes has a
        # column the database sets (its columns are not traced to theirs: all of them, then).
        set_by_database = {t for t, cols in columns.items() if any(c.computed for c in cols)}
        for view, reached in bases.items():
            if view in set_by_database or reached == frozenset({view}):
                continue
            if reached is None or reached & set_by_database:
                columns[view] = [dataclasses.replace(c, computed=True) for c in columns.get(view, [])]
        return Schema.build(
            (
                Table.build(
                    t,
                    cols,
                    keys.get(t, ()),
                    is_view=kinds.get(t) == "VIEW",
                    write_hazard=hazards.get(t),
                )
                for t, cols in columns.items()
            ),
            self.introspect_foreign_keys(conn),
        )

    # -- foreign keys and JSON for embedded resources -----------------------------------

    EMBED_PAGES_IN_AGGREGATE = True
    CORRELATED_DERIVED_TABLES = False

    def introspect_foreign_keys(self, conn: Connection) -> list[ForeignKey]:
        cur = conn.cursor()
        cur.execute(_FOREIGN_KEYS)
        grouped: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for name, table, column, referenced, referenced_column in cur.fetchall():
            grouped.setdefault((table, name), []).append((column, referenced, referenced_column))
        return [
            ForeignKey(name, table, tuple(p[0] for p in parts), parts[0][1], tuple(p[2] for p in parts))
            for (table, name), parts in grouped.items()
        ]

    def build_json_value(self, value: exp.Expr, kind: Kind) -> exp.Expr:
        # JSON_OBJECT embeds a JSON value only when it comes from a JSON function (a JSON
        # column is LONGTEXT on MariaDB); booleans are 0 and 1; DATETIME as the top-level
        # reader returns it (ISO 8601, fraction only when there is one).
        if kind is Kind.BOOLEAN:
            value = boolean_as_json_text(value)
        elif kind is Kind.DATETIME:
            fraction = exp.Anonymous(this="MICROSECOND", expressions=[value.copy()])
            return exp.Case(
                ifs=[
                    exp.If(
                        this=exp.EQ(this=fraction, expression=exp.Literal.number(0)),
                        true=_date_format(value.copy(), ""),
                    )
                ],
                default=_date_format(value, ".%f"),
            )
        elif kind is not Kind.JSON:
            return value
        return exp.Anonymous(this="JSON_EXTRACT", expressions=[value, exp.Literal.string("$")])

    def build_json_aggregate_page(
        self, element: exp.Expr, order: list[exp.Ordered], limit: exp.Expr, offset: exp.Expr | None
    ) -> exp.Expr:
        # MariaDB ≥ 10.5: JSON_ARRAYAGG(… ORDER BY … LIMIT [offset,] n), as GROUP_CONCAT.
        page = exp.Limit(this=exp.Order(this=element, expressions=order), expression=limit, offset=offset)
        agg = exp.Anonymous(this="JSON_ARRAYAGG", expressions=[page])
        return exp.Coalesce(this=agg, expressions=[self.build_json_empty_array()])

    @staticmethod
    def _json_checked_columns(cur: Any) -> set[tuple[str, str]]:
        # MariaDB's JSON is LONGTEXT with a json_valid() check; MySQL 8 has a real type
        # and no TABLE_NAME in this view, hence the fallback.
        try:
            cur.execute(
                "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = DATABASE()"
            )
        except pymysql.err.MySQLError:
            return set()
        found = set()
        for table, clause in cur.fetchall():
            match = _JSON_CHECK.fullmatch(clause.strip())
            if match:
                found.add((table, match["column"].replace("``", "`")))
        return found

    # Text equality follows the column's collation here: the usual ones ignore case
    # ('Alice' = 'alice') and, like utf8mb4_bin, trailing spaces ('a ' = 'a'). Compare
    # the bytes, as every other database does, and keep a plain comparison beside it so
    # an index on the column still serves.

    @staticmethod
    def _bytes(value: exp.Expr) -> exp.Expr:
        # The value's utf8mb4 bytes: converted first, so a latin1 or utf16 column's text and
        # a utf8mb4 literal (or claim) compare as the same characters, byte for byte.
        utf8 = exp.Cast(this=value, to=exp.DataType(this=exp.DataType.Type.CHARACTER_SET, kind=exp.Var(this="utf8mb4")))
        return exp.Cast(this=utf8, to=exp.DataType.build("BINARY", dialect="mysql"))

    def build_comparison(self, node: type[exp.Expr], this: exp.Expr, value: exp.Expr, kind: Kind) -> exp.Expr:
        if kind not in _TEXT_KINDS:
            return super().build_comparison(node, this, value, kind)
        exact = node(this=self._bytes(this), expression=self._bytes(value))
        if node is not exp.EQ:
            # <> and the orderings by the bytes alone, not the collation (which ranks 'SALES',
            # 'sales ' and 'säles' with 'sales'); = keeps the collation's equality beside
            # them, which an index can serve.
            return exact
        return exp.paren(exp.and_(exp.EQ(this=this.copy(), expression=value.copy()), exact), copy=False)

    def build_exact_comparison(self, node: type[exp.Expr], this: exp.Expr, value: exp.Expr, kind: Kind) -> exp.Expr:
        # Every operator, not only = and <>: 'RED' >= 'red' AND 'RED' <= 'red' holds in the
        # collation. Ordering compares the bytes alone (no index, but exact both ways, NOT
        # included); a column of unknown type holding numbers compares them as numbers.
        if kind not in _TEXT_KINDS or node in (exp.EQ, exp.NEQ):
            return super().build_exact_comparison(node, this, value, kind)
        exact = node(this=self._bytes(this.copy()), expression=self._bytes(value.copy()))
        if kind is Kind.TEXT:
            return exact
        compared = self.build_shape(f"IF({_JSON_TYPE.format('a')} = 'STRING', e, c)", a=this, e=exact)
        compared.set("false", node(this=this.copy(), expression=value.copy()))
        return self.when_same_type(compared, this, value)

    def build_same_type(self, this: exp.Expr, value: exp.Expr) -> exp.Expr:
        # INTEGER, DOUBLE, STRING…: the type a value has, read without converting it.
        return self.build_shape(f"{_JSON_TYPE.format('a')} = {_JSON_TYPE.format('b')}", a=this, b=value)

    def build_in(self, this: exp.Expr, values: list[exp.Expr], kind: Kind) -> exp.Expr:
        if kind not in _TEXT_KINDS:
            return super().build_in(this, values, kind)
        exact = exp.In(this=self._bytes(this), expressions=[self._bytes(v) for v in values])
        return exp.paren(exp.and_(exp.In(this=this.copy(), expressions=[v.copy() for v in values]), exact), copy=False)

    def build_in_query(self, node: exp.In, kind: Kind) -> exp.Expr:
        query = node.args.get("query")
        select = query.this if isinstance(query, exp.Subquery) else query
        if kind not in _TEXT_KINDS or not isinstance(select, exp.Select) or len(select.expressions) != 1:
            return node
        exact = select.copy()
        exact.set("expressions", [self._bytes(select.expressions[0].unalias().copy())])
        bytes_in = exp.In(this=self._bytes(node.this.copy()), query=exp.Subquery(this=exact))
        return exp.paren(exp.and_(node, bytes_in), copy=False)

    # -- PostgREST filter operators ------------------------------------------------------

    def build_regex(self, this: exp.Expr, pattern: exp.Expr, *, ignore_case: bool) -> exp.Expr:
        # MariaDB has no REGEXP_LIKE, and REGEXP follows the column's collation (case-
        # insensitive by default): PCRE's own flag at the head of the pattern decides.
        flagged = exp.func("CONCAT", exp.Literal.string("(?i)" if ignore_case else "(?-i)"), pattern, dialect="mysql")
        found = exp.Anonymous(this="REGEXP_INSTR", expressions=[this, flagged])
        return exp.GT(this=found, expression=exp.Literal.number(0))

    def build_distinct(self, this: exp.Expr, value: exp.Expr, kind: Kind) -> exp.Expr:
        # NOT (a <=> b), parenthesised: NOT binds looser than <=> only without
        # HIGH_NOT_PRECEDENCE. Text compares its bytes, as eq does.
        if kind in _TEXT_KINDS:
            this, value = self._bytes(this), self._bytes(value)
        return exp.Not(this=exp.paren(exp.NullSafeEQ(this=this, expression=value), copy=False))

    def build_fence(self) -> exp.Expr:
        # MySQL has no OFFSET without LIMIT; a derived table with LIMIT is never merged.
        return exp.Limit(expression=exp.Literal.number(18446744073709551615))

    def build_stored(self, value: exp.Expr, column: Column) -> exp.Expr | None:
        # An UPDATE under a check is judged before the write (no UPDATE … RETURNING here), on
        # this cast — and stores the same cast (compile_update, the guard's writes), so
        # what is judged is what is stored. Only types whose cast a column of that type
        # stores unchanged: not FLOAT (single precision) nor DOUBLE(m,d) (rounded again),
        # CHAR(n) (trailing spaces dropped on reading), YEAR (5 is 2005), TIMESTAMP (the
        # session's time zone, its gaps), ENUM/SET/BIT/JSON, nor anything declared with
        # more than a type (ZEROFILL).
        match = _STORED_TYPE.fullmatch(column.type.lower())
        if match is None or column.computed:
            return None
        base, size, unsigned = match["base"], match["size"], bool(match["unsigned"])
        if base in _INTEGER_TYPES:
            target = "UNSIGNED" if unsigned else "SIGNED"
        elif base in ("decimal", "numeric"):
            target = f"DECIMAL({size})" if size else "DECIMAL"
        elif base in ("double", "real") and not size:
            target = "DOUBLE"
        elif base in ("varchar", "tinytext", "text", "mediumtext", "longtext"):
            target = "CHAR"
        elif base in ("date", "time", "datetime"):
            target = base.upper() + (f"({size})" if size else "")
        else:
            return None
        return exp.Cast(this=value, to=exp.DataType.build(target, dialect="mysql"))

    def build_raise(self, witness: exp.Expr) -> exp.Expr:
        # 18446744073709551615 + CHAR_LENGTH(CONCAT('rls_…:', COALESCE(<column>, ''))): error
        # 1690, out of range, whose message quotes the expression (and so the marker).
        empty = exp.Left(this=witness, expression=exp.Literal.number(0))
        text = exp.Coalesce(this=empty, expressions=[exp.Literal.string("")])
        message = exp.Concat(expressions=[exp.Literal.string(self.VIOLATION_MARKER), text], safe=True)
        return exp.Add(this=exp.Literal.number("18446744073709551615"), expression=exp.Length(this=message))

    def is_policy_violation(self, exc: BaseException) -> bool:
        args: tuple[Any, ...] = getattr(exc, "args", ())
        return bool(args) and args[0] == 1690 and super().is_policy_violation(exc)

    def build_json_path(self, column: exp.Expr, steps: Iterable[str | int], *, as_text: bool) -> exp.Expr:
        # MariaDB has no ->> operator; JSON_UNQUOTE(JSON_EXTRACT()) works on both, but
        # turns JSON null into 'null' where PostgreSQL's ->> gives NULL.
        extract = super().build_json_path(column, steps, as_text=False)
        if not as_text:
            return extract
        return exp.Case(
            this=exp.Anonymous(this="JSON_TYPE", expressions=[extract.copy()]),
            ifs=[exp.If(this=exp.Literal.string("NULL"), true=exp.Null())],
            default=exp.Anonymous(this="JSON_UNQUOTE", expressions=[extract]),
        )

    def to_error(self, exc: BaseException) -> RlsError | None:
        if isinstance(exc, pymysql.err.InterfaceError):
            return unavailable()
        if isinstance(exc, OverflowError):
            return invalid_value()  # a date PyMySQL cannot convert to the session's UTC
        if not isinstance(exc, pymysql.err.MySQLError):
            return None
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if code in _TIMEOUTS:
            return StatementTimeout()
        build = _ERRORS.get(code) if code is not None else None
        if build is not None:
            return build(exc)
        if code is not None and 2000 <= code < 3000:
            return unavailable()
        if code is not None or isinstance(exc, (pymysql.err.ProgrammingError, pymysql.err.DataError)):
            # Server errors 1000–1999 and 3000–4999 are about the statement; PyMySQL's own
            # (no number: "infinity can not be used with MySQL") about a value it cannot send.
            return BadRequest("the database rejected the statement")
        return unavailable()
