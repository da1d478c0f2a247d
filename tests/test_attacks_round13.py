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
        pytest.skip("a string is the text column's own type")
    right = "x" if text_column else 1  # a principal of the column's own type
    assert read(untyped, right) == read(typed, right) != []  # the policy grants some rows
    assert read(typed, principal) == []  # typed: the wrong-typed claim binds NULL
    assert read(untyped, principal) == []  # today: [1, 2, 3, 4] ("1", "abc"); 1.0/TRUE differ per database
