"""A missing attribute grants nothing, by construction (DESIGN.md §4 rule 10).

Property, over generated policies and a fixed set of rows: for every policy rls accepts,
if it holds for a user lacking the claim ``org``, it holds for that user with any value of
``org``. Policies are generated from atoms that compare, test for NULL, coalesce and negate
the claim, inside and outside sub-queries; the ones rls refuses must be refused when
written, and every accepted one is run by the guard on SQLite.
"""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rls import AuthUser, Denied, Guard, Policy
from rls.policy.expression import validate_expression
from rls.policy.model import PolicyError
from rls.schema import Column, Kind, Schema, Table

SCHEMA = Schema.build(
    [
        Table.build(
            "docs",
            [Column("id", Kind.INTEGER), Column("owner_id", Kind.INTEGER), Column("org", Kind.TEXT),
             Column("status", Kind.TEXT)],
            ["id"],
        ),
        Table.build("members", [Column("user_id", Kind.INTEGER), Column("org", Kind.TEXT)]),
    ]
)  # fmt: skip
ROWS = [(1, 5, "acme", "open"), (2, 6, "beta", None), (3, None, None, "acme"), (4, 5, "ACME", "x"), (5, 7, "x", "x")]
MEMBERS = [(5, "acme"), (6, "beta"), (7, None)]
ATOMS = [
    "org = auth_user.org",
    "auth_user.org = status",
    "status <> auth_user.org",
    "owner_id = auth_user.id",
    "status = 'open'",
    "status IS NULL",
    "org LIKE auth_user.org",
    "EXISTS (SELECT 1 FROM members m WHERE m.org = auth_user.org AND m.user_id = docs.owner_id)",
    "docs.org IN (SELECT m.org FROM members m WHERE m.org = auth_user.org)",
    "auth_user.org IS NULL",
    "COALESCE(auth_user.org, 'acme') = org",
    "auth_user.is_authenticated",
]


def _expressions() -> st.SearchStrategy[str]:
    atom = st.sampled_from(ATOMS)
    return st.recursive(
        atom,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda e: f"NOT ({e})"),
        ),
        max_leaves=4,
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = tmp_path_factory.mktemp("monotone") / "m.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, owner_id INTEGER, org TEXT, status TEXT)")
    conn.execute("CREATE TABLE members (user_id INTEGER, org TEXT)")
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", ROWS)
    conn.executemany("INSERT INTO members VALUES (?, ?)", MEMBERS)
    conn.commit()
    yield conn
    conn.close()


def visible(conn: sqlite3.Connection, guard: Guard, user: AuthUser) -> set[int]:
    try:
        statement = guard.rewrite("SELECT id FROM docs", user)
    except Denied:
        return set()
    return {row[0] for row in conn.execute(statement.sql, statement.params)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expression=_expressions())
def test_a_policy_true_without_the_claim_is_true_with_any_value(database, expression):
    try:
        validate_expression(expression, "docs", SCHEMA)
    except PolicyError:
        return  # refused when written: never enforced
    guard = Guard([Policy("docs", "read", expression), Policy("members", "read", "")], dialect="sqlite", schema=SCHEMA)
    lacking = visible(database, guard, AuthUser(id=5))
    for org in ("acme", "ACME", "beta", "x", ""):
        assert lacking <= visible(database, guard, AuthUser(id=5, claims={"org": org})), (expression, org)


@pytest.mark.parametrize(
    "expression",
    [
        "NOT (EXISTS (SELECT 1 FROM members m WHERE m.org = auth_user.org AND m.user_id = docs.owner_id))",
        "NOT (docs.org IN (SELECT m.org FROM members m WHERE m.org = auth_user.org))",
        "auth_user.org IS NULL",
        "COALESCE(auth_user.org, 'acme') = org",
    ],
)
def test_the_generator_reaches_the_refused_forms(expression):
    """The property above is only worth something if it meets what breaks it."""
    with pytest.raises(PolicyError):
        validate_expression(expression, "docs", SCHEMA)
