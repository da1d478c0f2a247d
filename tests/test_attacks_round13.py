"""Round-13 attacks on the round-12 fixes (principal typing, rls.connect), on the three
real databases. Each test asserts the secure behaviour: it fails on main today and passes
once fixed. What held is listed at the end of the module.
"""

from __future__ import annotations

from typing import Any

import pytest

from rls import AuthUser, Guard, Policy, connect
from tests.test_guard_attacks import harness_for  # noqa: F401  (the fixture, reused)

# -- A. a type mismatch is FALSE, and NOT makes it TRUE (columns of unknown type) ----------
#
# For a column of unknown type (``Guard(schema={"docs": [...]})``, SQLite untyped columns)
# build_exact_comparison adds ``same_type(column, principal)``; a principal of another type
# makes that conjunct FALSE (not NULL), so the comparison is FALSE and any NOT around it —
# ``NOT (owner_id = auth_user.id)``, ``owner_id NOT IN (auth_user.id)``, ``NOT (a <> p)``,
# ``NOT (a > p)`` — is TRUE for every row. The same policy over a typed column binds the
# wrong-typed claim as NULL and grants nothing (the docs' rule: a claim of the wrong type
# grants nothing). A token whose id is the string "1" (an identity provider's subject) or
# "abc" reads every row through a deny-list policy; with 1.0 / TRUE the three databases
# answer three ways. Class: a two-valued guard (FALSE) inside three-valued logic.
# Rule: a type mismatch must be UNKNOWN, never FALSE — build the exact comparison as
# ``CASE WHEN same_type(a, p) THEN a <op> p END`` (TRUE or NULL), so negation cannot flip it.
UNTYPED = {"docs": ["id", "owner_id", "title", "secret", "published"]}


@pytest.mark.parametrize(
    "expression",
    [
        "NOT (owner_id = auth_user.id)",
        "owner_id NOT IN (auth_user.id)",
        "NOT (owner_id IN (auth_user.id))",
        "NOT (owner_id <> auth_user.id)",
        "NOT (owner_id > auth_user.id)",
        "NOT (auth_user.id IN (SELECT d.owner_id FROM docs d WHERE d.id = docs.id))",
        "NOT (title = auth_user.id)",
    ],
)
@pytest.mark.parametrize("principal", ["1", "abc", 1.0, True])
def test_negated_comparison_with_untyped_column_grants_no_wrong_type(harness_for, backend, expression, principal):  # noqa: F811
    h = harness_for(backend)
    typed = Guard(
        [Policy("docs", "read", expression)], dialect=h.dialect, schema=lambda: (h.db.schema_version, h.db.schema())
    )
    untyped = Guard([Policy("docs", "read", expression)], dialect=h.dialect, schema=UNTYPED)

    def read(guard: Guard, user: Any) -> Any:
        def work(session: Any) -> Any:
            cursor = connect(session.connection, guard, AuthUser(id=user)).cursor()
            cursor.execute("SELECT id FROM docs")
            return sorted(r[0] for r in cursor.fetchall())

        try:
            return h.db.run(work)
        except Exception as exc:  # a statement error is also a wrong answer
            return type(exc).__name__

    text_column = "title" in expression
    if text_column and isinstance(principal, str):
        # A string is the text column's own type: typed and untyped columns answer alike.
        assert read(untyped, principal) == read(typed, principal)
        return
    right = "x" if text_column else 1  # a principal of the column's own type
    assert read(untyped, right) == read(typed, right) != []  # the policy grants some rows
    # Nothing granted: no rows, or the whole policy refused (`NOT (auth_user.id IN (SELECT …))`
    # is: over an empty sub-query it is TRUE without the attribute) and the read denied.
    assert read(typed, principal) in ([], "Denied")  # typed: the wrong-typed claim binds NULL
    assert read(untyped, principal) in ([], "Denied")  # was [1, 2, 3, 4] ("1", "abc"); 1.0/TRUE differed


# -- B. growth by concatenating a value with itself across CTEs / derived tables -----------
#
# growth.py bounds a growth function's input and a *recursive* CTE's self-concatenation,
# but a chain of ordinary CTEs (or nested derived tables) that each concatenate the previous
# one's column with itself doubles a value per link: ``WITH c0 AS (SELECT 'xxxxxxxxxx' AS s),
# c1 AS (SELECT s || s AS s FROM c0), …, c24 …`` — no growth function at all. On SQLite,
# through rls.connect with the default 30 s budget, 24 links from a 10-byte literal ran
# 28.9 s and reached 6 GB resident memory (167 MB string); 10 links from printf('%100000s')
# built 102 MB in 0.6 s (745 MB RSS). PostgreSQL and MariaDB accept the same chains (CONCAT).
# Aggregates multiply too: GROUP_CONCAT / STRING_AGG of a 100 000-byte value over a counting
# recursive CTE of 1 000 rows built 100 MB in 0.15 s (10 000 rows: 1 GB).
# Class: size bounded per function, not per value (sizes still multiply through a
# concatenation of a value with itself and through aggregation).
# Rule: a concatenation (||, CONCAT, CONCAT_WS) or string aggregate may not take as input a
# value that was itself computed by a concatenation or growth function elsewhere in the
# statement (track "grown" columns through every CTE/derived table, not only growth
# functions), and a string aggregate's argument may not be a growth function's result.
def _start(backend: str) -> str:
    return "printf('%100000s', 'x')" if backend == "sqlite" else "REPEAT('x', 100000)"


def _chain(start: str, links: int, concat: str) -> str:
    ctes = [f"c0 AS (SELECT {start} AS s)"]
    ctes += [f"c{i} AS (SELECT {concat.format(a='s')} AS s FROM c{i - 1})" for i in range(1, links + 1)]
    return "WITH " + ", ".join(ctes) + f" SELECT LENGTH(s) FROM c{links}"


def _derived(start: str, links: int) -> str:
    query = f"SELECT {start} AS s"
    for i in range(links):
        query = f"SELECT CONCAT(t{i}.s, t{i}.s) AS s FROM ({query}) AS t{i}"
    return f"SELECT LENGTH(s) FROM ({query}) AS z"


def _growth_statements(backend: str) -> list[str]:
    start = _start(backend)
    pipe = "{a} || {a}" if backend != "mysql" else "CONCAT({a}, {a})"  # MariaDB reads || as OR
    counter = "WITH RECURSIVE q(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM q WHERE i < 100000) "
    aggregate = "STRING_AGG({v}, '')" if backend == "postgres" else "GROUP_CONCAT({v})"
    return [
        _chain(start, 14, pipe),
        _chain(start, 14, "CONCAT({a}, {a})"),
        _chain(start, 14, "CONCAT_WS('', {a}, {a})"),
        _chain("'xxxxxxxxxx'", 40, pipe),  # no growth function at all: 10 bytes * 2**40
        _derived(start, 14),
        counter + "SELECT LENGTH(" + aggregate.format(v=start) + ") FROM q",
    ]


@pytest.mark.parametrize("index", range(6))
def test_growth_through_self_concatenation_chains_is_refused(backend, index):
    from rls.errors import Refused

    guard = Guard([Policy("docs", "all", "")], dialect=backend, schema={"docs": ["id", "title"]})
    sql = _growth_statements(backend)[index]
    with pytest.raises(Refused):
        guard.rewrite(sql, AuthUser(id=1), None)  # today: accepted (up to 2**40 times the input)


# -- C. a boolean claim is the integer 1 for a column of unknown type (SQLite, MariaDB) ----
#
# build_same_type asks the database for the value's type: SQLite binds Python True as the
# integer 1 (TYPEOF 'integer'), MariaDB's JSON_TYPE of a bound TRUE is INTEGER. So a token
# whose claim is ``true`` owns the rows of owner / org 1 through an untyped column
# (``Guard(schema={"docs": [...]})``, SQLite columns declared without a type) on SQLite
# and MariaDB; PostgreSQL (JSONB_TYPEOF boolean vs number) and a typed INTEGER column
# (typed_value: a bool is no int) grant nothing. Class: a type test delegated to a driver
# that erases the type while binding. Rule: for a column of unknown type, typed_value
# decides the principal's type in Python — a bool binds NULL unless the comparison is with
# a boolean literal/condition (or bind booleans as a distinct, typed value the same-type
# test can tell from 1).
@pytest.mark.parametrize(
    "expression",
    [
        "owner_id = auth_user.org",
        "owner_id IN (auth_user.org, 7)",
        "auth_user.org IN (SELECT d.owner_id FROM docs d WHERE d.id = docs.id)",
        "EXISTS (SELECT 1 FROM docs d WHERE d.owner_id = auth_user.org AND d.id = docs.id)",
    ],
)
def test_boolean_claim_is_no_integer_for_an_untyped_column(harness_for, backend, expression):  # noqa: F811
    h = harness_for(backend)
    untyped = Guard([Policy("docs", "read", expression)], dialect=h.dialect, schema=UNTYPED)

    def read(org: Any) -> Any:
        def work(session: Any) -> Any:
            cursor = connect(session.connection, untyped, AuthUser(id=9, claims={"org": org})).cursor()
            cursor.execute("SELECT id FROM docs")
            return sorted(r[0] for r in cursor.fetchall())

        try:
            return h.db.run(work)
        except Exception as exc:  # a statement error is also a wrong answer
            return type(exc).__name__

    assert read(1) == [1, 2]  # the policy grants owner 1's rows to org 1
    assert read(True) == []  # today on SQLite and MariaDB: [1, 2]; PostgreSQL: [] or 400


# -- D. PostgreSQL: a claim of the wrong type is a statement error in IN (SELECT c …) -------
#
# ``auth_user.id IN (SELECT d.owner_id …)`` over a column of unknown type: the parameter is
# sent untyped and PostgreSQL converts it to the sub-query column's type before the
# same-type filter can drop the rows — 'abc', '1e0', '2024-01-01' answer 400 "invalid
# value for the column's type", TRUE answers 400 "operator or function not supported";
# SQLite and MariaDB answer no rows. A claim's value turns into a statement error (the
# round-12 rule: a claim is a value, never a statement error). Class: an untyped parameter
# typed by its context. Rule (fixed): on PostgreSQL both sides are compared as text, as
# build_comparison compares a column of unknown type, after the same-type filter.
@pytest.mark.parametrize("principal", ["abc", "1e0", "2024-01-01", True])
@pytest.mark.parametrize(
    "expression",
    [
        "auth_user.id IN (SELECT d.owner_id FROM docs d WHERE d.id = docs.id)",
        "auth_user.id IN (SELECT d.owner_id FROM docs d)",
    ],
)
def test_wrong_typed_claim_in_sub_query_is_no_statement_error(harness_for, backend, expression, principal):  # noqa: F811
    h = harness_for(backend)
    untyped = Guard([Policy("docs", "read", expression)], dialect=h.dialect, schema=UNTYPED)

    def work(session: Any) -> Any:
        cursor = connect(session.connection, untyped, AuthUser(id=principal)).cursor()
        cursor.execute("SELECT id FROM docs")
        return sorted(r[0] for r in cursor.fetchall())

    assert h.db.run(work) == []


@pytest.mark.parametrize(
    "expression",
    [
        "auth_user.id IN (SELECT d.owner_id FROM docs d WHERE d.id = docs.id)",
        "auth_user.id IN (SELECT d.owner_id FROM docs d WHERE d.id = docs.id AND d.owner_id = docs.owner_id)",
    ],
)
def test_right_typed_claim_in_sub_query_over_unknown_type_still_matches(harness_for, backend, expression):  # noqa: F811
    """The contrast of D: an integer id meets the integer column through the text forms."""
    h = harness_for(backend)
    typed = Guard(
        [Policy("docs", "read", expression)], dialect=h.dialect, schema=lambda: (h.db.schema_version, h.db.schema())
    )
    untyped = Guard([Policy("docs", "read", expression)], dialect=h.dialect, schema=UNTYPED)

    def read(guard: Guard) -> Any:
        def work(session: Any) -> Any:
            cursor = connect(session.connection, guard, AuthUser(id=1)).cursor()
            cursor.execute("SELECT id FROM docs")
            return sorted(r[0] for r in cursor.fetchall())

        return h.db.run(work)

    assert read(untyped) == read(typed) != []


# -- What held (round 13, all three databases unless named) --------------------------------
#
# - round-11/12 attack tests (tests/test_postgrest_attacks.py, tests/test_attacks_round12.py):
#   221 passed;
# - MariaDB text exactness, typed and untyped columns, claims "ALPHA" / "alpha " / "Alpha"
#   against 'alpha': =, >= AND <=, IN list, IN (SELECT c), IN (SELECT LOWER(c)), LOWER(c) =,
#   NOT (c <> p), NOT (c < p) AND NOT (c > p), correlated EXISTS, LIKE: no rows;
# - BETWEEN with a principal, ``… IS NOT TRUE``, ``NOT (…) IS TRUE``: the policy is refused
#   (denied), never granting;
# - typed columns: every NOT / <> / NOT IN form with a wrong-typed principal binds NULL and
#   grants nothing (A's contrast);
# - lastrowid: a RETURNING naming rls_key / rls_check is refused (reserved names); INSERT …
#   SELECT reports the statement's own first key and copies only rows the read policy shows;
# - SQLite budget: a second rls.connect over the same driver connection does not disarm the
#   first's limit; iterdump, backup, executescript, blobopen, set_progress_handler, setlimit,
#   create_* are not exposed; iteration goes through the budgeted fetchone;
# - growth: HEX, QUOTE, TO_BASE64, ZEROBLOB, RANDOMBLOB, LPAD, SPACE, JSON_ARRAY are not on
#   the allow-list; VALUES outside INSERT/IN refused; recursive CTEs growing their own columns
#   (REPLACE, CONCAT, ||, self-join, CASE, sub-query) refused (on MariaDB || is OR, no growth);
#   MariaDB's max_allowed_packet / group_concat_max_len cap B's chains and aggregates (NULL
#   or 1 MB), PostgreSQL and SQLite do not.
