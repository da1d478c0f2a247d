"""Statements that carry no row data, recognised exactly and passed through unchanged.

ORMs and drivers send statements that read or write no table row: transaction control
(``BEGIN``, ``SAVEPOINT sa_savepoint_1``, ``ROLLBACK TO SAVEPOINT …``) and, at connect
time, a few session probes (``select pg_catalog.version()``, ``SELECT DATABASE()``,
``PRAGMA main.table_info("todos")``). The guard's SQL pipeline refuses them all, so an
application could not open a ``Session``. :func:`classify` accepts them — and only them:

* the text is split by a strict tokenizer (words, integers, quoted identifiers of the
  dialect, one string literal made of letters, digits and ``_``, ``(``, ``)``, ``,``, ``.``,
  ``=``, an optional trailing ``;``); anything else — a comment, a second statement, an
  escape, a character the tokenizer does not know — means "not a passthrough statement",
  and the guard's ordinary pipeline then parses (and refuses) it;
* the token sequence must equal one of the patterns below, keywords compared
  case-insensitively; an identifier slot (``IDENT``) takes a plain or quoted name.

Nothing here can change what the guard relies on: no ``SET`` of ``sql_mode``,
``standard_conforming_strings``, ``search_path``, ``role``, no ``PRAGMA`` that writes
(``case_sensitive_like``, ``writable_schema``), no ``SET TRANSACTION``-style statement that
names anything but an isolation level or access mode.

Session probes (always allowed; per dialect):

==========  ============================================================================
postgres    ``select pg_catalog.version()``, ``select version()``,
            ``select current_schema()``, ``show standard_conforming_strings``,
            ``show transaction isolation level``, ``show server_version``
mysql       ``SELECT DATABASE()``, ``SELECT VERSION()``,
            ``SHOW VARIABLES LIKE 'sql_mode'`` (and the other variable names in
            :data:`_MYSQL_VARIABLES`), ``SELECT @@sql_mode``, ``SELECT @@tx_isolation``,
            ``SELECT @@transaction_isolation``, ``SELECT @@lower_case_table_names``,
            ``SELECT @@session.transaction_read_only``, ``SET NAMES utf8mb4``,
            ``SET NAMES utf8mb4 COLLATE utf8mb4_general_ci|unicode_ci|bin``, ``SET autocommit=0|1``
sqlite      ``PRAGMA read_uncommitted``, ``PRAGMA foreign_keys`` (reads only)
==========  ============================================================================

Catalog reads (only with ``Guard(introspection=True)``; they return table, column, index
and key names and types, never a row of a table — though MySQL ``SHOW CREATE TABLE`` also
shows defaults, CHECK constraints and the ``AUTO_INCREMENT`` counter, which hints at how
many rows were ever inserted): SQLite ``PRAGMA [main.]table_info(x)``,
``table_xinfo``, ``index_list``, ``index_info``, ``foreign_key_list``; MySQL ``SHOW
[FULL] TABLES``, ``SHOW CREATE TABLE x``, ``DESCRIBE x``. PostgreSQL reflection runs
ordinary SELECTs on ``pg_catalog`` and is not covered (refused).
"""

from __future__ import annotations

import re
from enum import Enum

IDENT = object()  # a slot for one identifier
_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
_QUOTED = {"postgres": r'"[A-Za-z0-9_]{1,63}"', "sqlite": r'"[A-Za-z0-9_]{1,63}"', "mysql": r"`[A-Za-z0-9_]{1,63}`"}
_STRING = r"'[A-Za-z0-9_]{1,63}'"


class Passthrough(Enum):
    """Why a statement runs unchanged."""

    TRANSACTION = "transaction"
    SESSION = "session"
    CATALOG = "catalog"


def tokens(sql: str, dialect: str) -> list[str] | None:
    """The statement's tokens, or None when it holds anything the strict grammar lacks."""
    text = sql.strip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    quoted = _QUOTED.get(dialect, _QUOTED["postgres"])
    pattern = re.compile(rf"\s*({quoted}|{_STRING}|@@{_NAME}(?:\.{_NAME})?|{_NAME}|\d{{1,9}}|[(),.=])")
    out: list[str] = []
    position = 0
    while position < len(text):
        match = pattern.match(text, position)
        if match is None:
            return None
        out.append(match.group(1))
        position = match.end()
    return out


def _is_ident(token: str) -> bool:
    return bool(re.fullmatch(rf"{_NAME}|\"[A-Za-z0-9_]+\"|`[A-Za-z0-9_]+`", token))


def _matches(found: list[str], pattern: tuple[object, ...]) -> bool:
    if len(found) != len(pattern):
        return False
    for token, expected in zip(found, pattern, strict=True):
        if expected is IDENT:
            if not _is_ident(token):
                return False
        elif token.upper() != str(expected).upper() and token != expected:
            return False
    return True


def _words(*statements: str) -> list[tuple[object, ...]]:
    """Patterns written as text: ``IDENT`` marks an identifier slot."""
    out = []
    for statement in statements:
        found = tokens(statement, "postgres") or []
        out.append(tuple(IDENT if t == "IDENT" else t for t in found))
    return out


_ISOLATION = ("SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED", "READ UNCOMMITTED")
_MODES = ("", *(f" ISOLATION LEVEL {level}" for level in _ISOLATION), " READ ONLY", " READ WRITE")
_TRANSACTION = _words(
    *(f"BEGIN{w}" for w in ("", " TRANSACTION", " WORK", " DEFERRED", " IMMEDIATE", " EXCLUSIVE")),
    *(f"BEGIN {kind} TRANSACTION" for kind in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")),
    *(f"START TRANSACTION{mode}" for mode in _MODES),
    *(f"BEGIN{mode}" for mode in _MODES[1:]),
    *(f"{verb}{w}" for verb in ("COMMIT", "ROLLBACK", "END") for w in ("", " TRANSACTION", " WORK")),
    "SAVEPOINT IDENT",
    "RELEASE IDENT",
    "RELEASE SAVEPOINT IDENT",
    *(f"ROLLBACK{w} TO{s} IDENT" for w in ("", " TRANSACTION", " WORK") for s in ("", " SAVEPOINT")),
)

_MYSQL_VARIABLES = ("sql_mode", "lower_case_table_names", "character_set_client", "collation_server",
                    "character_set_connection", "autocommit")  # fmt: skip
_MYSQL_SELECTED = ("sql_mode", "tx_isolation", "transaction_isolation", "lower_case_table_names",
                   "session.transaction_read_only", "session.transaction_isolation",
                   "session.tx_isolation")  # fmt: skip
_CATALOG_PRAGMAS = ("table_info", "table_xinfo", "index_list", "index_info", "foreign_key_list")
_SESSION = {
    "postgres": _words(
        "select pg_catalog.version()",
        "select version()",
        "select current_schema()",
        "show standard_conforming_strings",
        "show transaction isolation level",
        "show server_version",
    ),
    "mysql": _words(
        "SELECT DATABASE()",
        "SELECT VERSION()",
        *(f"SELECT @@{v}" for v in _MYSQL_SELECTED),
        *(f"SHOW VARIABLES LIKE '{v}'" for v in _MYSQL_VARIABLES),
        "SET NAMES utf8mb4",
        *(f"SET NAMES utf8mb4 COLLATE {c}" for c in ("utf8mb4_general_ci", "utf8mb4_unicode_ci", "utf8mb4_bin")),
        "SET autocommit = 0",
        "SET autocommit = 1",
    ),
    "sqlite": _words("PRAGMA read_uncommitted", "PRAGMA foreign_keys"),
}
_CATALOG = {
    "sqlite": _words(
        *(f"PRAGMA {s}{p}(IDENT)" for s in ("", "main.") for p in _CATALOG_PRAGMAS),
    ),
    "mysql": _words("SHOW TABLES", "SHOW FULL TABLES", "SHOW CREATE TABLE IDENT", "DESCRIBE IDENT"),
    "postgres": [],
}


def classify(sql: str, dialect: str, *, introspection: bool = False) -> Passthrough | None:
    """Why ``sql`` may run unchanged, or None when the guard must parse and rewrite it."""
    found = tokens(sql, dialect)
    if not found or len(found) > 12:
        return None
    if any(_matches(found, p) for p in _TRANSACTION):
        return Passthrough.TRANSACTION
    if any(_matches(found, p) for p in _SESSION.get(dialect, [])):
        return Passthrough.SESSION
    if introspection and any(_matches(found, p) for p in _CATALOG.get(dialect, [])):
        return Passthrough.CATALOG
    return None
