"""Second adversarial round on the rewritten query guard (issue 9): attacks that succeed
on today's main, on real databases, as user 2. Each test states the behaviour the guard
must have and is marked ``xfail(strict=True)`` until the class is fixed: when a fix lands
the test passes, the strict marker fails it, and the marker comes off.

Every test asserts exact rows, the exact table afterwards, or the exact refusal.
"""

from __future__ import annotations

import pymysql
import pytest

from rls import AuthUser, Denied, Guard, Policy, Refused, connect
from rls.errors import LoginRequired
from tests.guardkit import GuardHarness, harness_fixture
from tests.test_guard_attacks import POLICIES, ROWS, TABLES
from tests.test_policy_http import World

ATTACKER = AuthUser(id=2)
GUARD_ERRORS = (Refused, Denied, LoginRequired)


harness_for = harness_fixture(TABLES, ROWS, POLICIES)


# -- A. MySQL: conditions called leakproof that convert a hidden value ------------------------
#
# A statement whose every condition is "leakproof" gets no fence, and MariaDB pushes its
# conditions into the policy's derived table, where they run before a sub-query policy
# (EXISTS) — on team 10's document, hidden from user 2. Two shapes pass the leakproof test
# yet make MariaDB convert the text column to a number row by row: a bare column used as a
# condition (``WHERE t.title``, ``NOT t.title``: a Column node counts as structure) and a
# text column compared with a *negated* string literal (``-'x'`` is a number; the check
# unwraps the minus and sees a string). In INSERT … SELECT and in UPDATE / DELETE strict
# mode turns the conversion warning into error 1292, which quotes the hidden value; through
# rls.connect the InvalidValue alone is a yes/no oracle (the round-1 class C, new shapes).
# A rule that would have made it impossible: a per-row condition is leakproof only if it is
# a comparison whose operands have the same kind — a bare column or a negated literal is
# not, and a unary minus makes a number whatever it negates.

HIDDEN_PROBES = {
    "bare_column": "INSERT INTO tags (name) SELECT t.title FROM team_docs t WHERE t.title",
    "not_column": "INSERT INTO tags (name) SELECT t.title FROM team_docs t WHERE NOT t.title",
    "negated_string": "INSERT INTO tags (name) SELECT t.title FROM team_docs t WHERE t.title = -'x'",
    "update_sub_query": "UPDATE tags SET name = 'x' WHERE EXISTS (SELECT 1 FROM team_docs t WHERE t.title)",
}


@pytest.mark.parametrize("shape", sorted(HIDDEN_PROBES))
def test_mysql_condition_that_converts_text_does_not_run_on_hidden_rows(harness_for, shape):
    h = harness_for("mysql")
    raised = h.run_raw(HIDDEN_PROBES[shape])
    # Team 10's 'ten' is hidden from user 2: it must never be converted (the error would quote
    # it). User 2's own 'twenty' may be — strict mode then refuses the statement over it.
    assert "'ten'" not in str(raised), raised
    assert h.table("tags") == [(1, "red"), (2, "blue")]


def test_mysql_negated_literal_is_no_oracle_through_connect(harness_for):
    h = harness_for("mysql")
    # Hidden row: id 1, title 'ten'. Today '>= tf' inserts nothing and '>= te' raises
    # InvalidValue: a binary search reads the hidden title through rls.connect.
    probe = (
        "INSERT INTO tags (name) SELECT t.title FROM team_docs t WHERE t.id = 1 AND t.title >= %s AND t.title = -'x'"
    )
    assert h.run(probe, ("tf",)) == 0
    assert h.run(probe, ("te",)) == 0


def test_mysql_bare_column_in_a_write_where_stays_behind_the_case_fence(harness_for):
    """Held: the write's own condition is evaluated only inside CASE WHEN <policy>."""
    h = harness_for("mysql")
    assert h.run("DELETE FROM notes WHERE body") == 0
    assert h.run("UPDATE team_docs SET id = id WHERE title") == 0
    assert [r[0] for r in h.table("notes")] == [1, 2, 3]


# -- B. WITH CHECK judged on the assigned expression, not on the value stored ----------------
#
# An UPDATE's check substitutes each SET expression into the policy and evaluates it in
# WHERE. The database then *converts* that expression to the column's type: PostgreSQL and
# MariaDB round 24.5 into an integer column as 25; MariaDB stores the number 1 into an
# ENUM column as its first member. The check saw 24.5 < 25 (true) or 1 <> 'admin' (true);
# the row stored fails the policy: a value the update policy forbids, written by the user
# (native RLS checks the stored row and refuses). INSERT is not affected: its check reads
# the stored row through RETURNING.
# A rule that would have made it impossible: judge the row as stored (UPDATE … RETURNING
# where the database has it), or make every new value carry the column's type first
# (CAST to the declared type) and refuse SET values whose kind differs from the column's.

LEVEL_POLICIES = [
    Policy("docs", "read", "owner_id = auth_user.id"),
    Policy("docs", "create", "owner_id = auth_user.id"),
    Policy("docs", "delete", "owner_id = auth_user.id"),
    Policy("docs", "update", "owner_id = auth_user.id AND secret < auth_user.level"),
]


@pytest.fixture
def levels(make_database_url, request):
    h = GuardHarness(make_database_url(request.param), TABLES[:1], {"docs": ROWS["docs"]}, LEVEL_POLICIES)
    yield h.reset()
    h.close()


@pytest.mark.parametrize("levels", ["postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("raw", [False, True], ids=["connect", "raw"])
def test_update_check_judges_the_value_the_column_stores(levels, raw):
    user = AuthUser(id=2, claims={"level": 25})
    sql = "UPDATE docs SET secret = 24.5 WHERE id = 3"
    try:
        levels.run_raw(sql, user=user) if raw else levels.run(sql, user=user)
    except GUARD_ERRORS:
        pass
    # secret must stay below 25; today the row holds 25.
    assert [r[3] for r in levels.table("docs")] == [999, 10, 20, 30]


@pytest.mark.parametrize("levels", ["postgres", "mysql"], indirect=True)
def test_update_check_refuses_the_stored_value_itself(levels):
    """Held (the reference for the test above): SET secret = 25 is denied."""
    with pytest.raises(Denied):
        levels.run("UPDATE docs SET secret = 25 WHERE id = 3", user=AuthUser(id=2, claims={"level": 25}))
    assert [r[3] for r in levels.table("docs")] == [999, 10, 20, 30]


ENUM_TABLE = (
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner_id INTEGER, role ENUM('admin', 'user')) ENGINE=InnoDB",
)
ENUM_POLICIES = [
    Policy("accounts", "read", "owner_id = auth_user.id"),
    Policy("accounts", "create", "owner_id = auth_user.id AND role <> 'admin'"),
    Policy("accounts", "update", "owner_id = auth_user.id AND role <> 'admin'"),
    Policy("accounts", "delete", "owner_id = auth_user.id"),
]


@pytest.fixture
def accounts(make_database_url):
    rows = {"accounts": ("id, owner_id, role", [(1, 1, "admin"), (2, 2, "user")])}
    h = GuardHarness(make_database_url("mysql"), ENUM_TABLE, rows, ENUM_POLICIES)
    yield h.reset()
    h.close()


@pytest.mark.parametrize("raw", [False, True], ids=["connect", "raw"])
def test_mysql_update_cannot_make_itself_admin_through_an_enum_index(accounts, raw):
    sql = "UPDATE accounts SET role = 1 WHERE id = 2"
    try:
        accounts.run_raw(sql) if raw else accounts.run(sql)
    except GUARD_ERRORS:
        pass
    assert accounts.table("accounts") == [(1, 1, "admin"), (2, 2, "user")]  # today: (2, 2, 'admin')


def test_mysql_insert_with_an_enum_index_is_judged_as_stored(accounts):
    """Held: INSERT's check reads the stored row (RETURNING)."""
    with pytest.raises(Denied):
        accounts.run("INSERT INTO accounts (id, owner_id, role) VALUES (3, 2, 1)")
    assert accounts.table("accounts") == [(1, 1, "admin"), (2, 2, "user")]


# -- C. A whole-row reference does not count as reading the target (PostgreSQL) -------------
#
# Round 1 made RETURNING * and ORDER BY count as reading the written table. A whole-row
# reference inside an expression still does not: the resolver records no column for
# ``notes.*`` / ``n.*``, so ``_mentions_target`` sees nothing, and PostgreSQL expands
# ``CONCAT(notes.*)`` into every column. The DELETE then runs under the delete policy only
# (author = user 2), not the read policy (team membership): the row count says whether the
# hidden note 1 — written by user 2, for a team user 2 has left — contains a guessed text.
# Native RLS applies the read policy to a DELETE whose WHERE reads the row: 0 and 0.
# A rule that would have made it impossible: every column reference, ``t.*`` included, is
# resolved to its source, and a reference to the target whose columns are not listed counts
# as reading all of them.


@pytest.mark.parametrize("alias", ["", " n"], ids=["table", "alias"])
def test_postgres_whole_row_reference_in_delete_where_applies_the_read_policy(harness_for, alias):
    h = harness_for("postgres")
    star = f"{alias.strip() or 'notes'}.*"
    # The readable note 2 ('mine') matches neither pattern.
    for pattern in ("%acquire%", "%zzz%"):
        sql = f"DELETE FROM notes{alias} WHERE CONCAT({star}) LIKE '{pattern}'"
        assert h.run(sql) == 0, pattern  # today: 1 for '%acquire%' (the hidden note 1)
    assert [r[0] for r in h.table("notes")] == [1, 2, 3]


def test_mysql_update_cannot_make_itself_admin_through_a_quoted_enum_index(accounts):
    try:
        accounts.run("UPDATE accounts SET role = '1' WHERE id = 2")
    except GUARD_ERRORS:
        pass
    assert accounts.table("accounts") == [(1, 1, "admin"), (2, 2, "user")]  # today: (2, 2, 'admin')


@pytest.fixture
def rest_accounts(make_database_url):
    world = World(make_database_url("mysql"))
    world.db.run(
        lambda s: s.execute(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, user_id INTEGER, role ENUM('admin', 'user')) ENGINE=InnoDB"
        ),
        write=True,
    )
    world.db.refresh_schema()
    world.reset("accounts", "id, user_id, role", [(1, world.alice_id, "admin"), (2, world.bob_id, "user")])
    world.set_policies(
        "accounts",
        ("read", "user_id = auth_user.id"),
        ("create", "user_id = auth_user.id AND role <> 'admin'"),
        ("update", "user_id = auth_user.id AND role <> 'admin'"),
    )
    yield world
    world.db.close()


def test_mysql_rest_patch_cannot_make_itself_admin_through_an_enum_index(rest_accounts):
    w = rest_accounts
    reply = w.bob.patch("/accounts", {"role": "1"}, query="id=eq.2")
    # Refused: an ENUM maps numbers to members, no cast computes what it stores (400).
    assert reply.status in (400, 403), reply.body
    assert sorted(w.sql("SELECT id, role FROM accounts")) == [(1, "admin"), (2, "user")]


def test_mysql_rest_post_with_an_enum_index_is_judged_as_stored(rest_accounts):
    """Held: POST checks the stored row (RETURNING)."""
    w = rest_accounts
    reply = w.bob.post("/accounts", {"id": 3, "user_id": w.bob_id, "role": "1"})
    assert reply.status == 403, reply.body
    assert sorted(w.sql("SELECT id, role FROM accounts")) == [(1, "admin"), (2, "user")]


# -- D. An aggregate's argument is "evaluated on filtered rows" — not when it is correlated ----
#
# The leakproof pass skips aggregate arguments everywhere (they run after the query's
# filters). Inside a sub-query that reads an OUTER column, though, the aggregate runs once
# per outer row, wherever the database puts the sub-query — and with no fence the outer
# policy (an EXISTS here, turned into a semi-join) runs after it: PostgreSQL places the
# user's sub-plan at the scan of team_docs, before the membership join. A division by zero
# (PostgreSQL, or MariaDB in a write) or a text-to-number conversion (MariaDB) then runs on
# team 10's hidden document; the error is an oracle through rls.connect and, raw, quotes it.
# A rule that would have made it impossible: only an aggregate's own query's columns are
# filtered; an aggregate (or window) argument that reads an outer query's column is a
# per-row condition of that outer query and must be leakproof, or the statement is fenced.

ZERO_ON_HIDDEN = "CASE WHEN t.team_id = 10 AND t.title >= %s THEN 0 ELSE 1 END"
CORRELATED = {
    "aggregate": f"SELECT COUNT(*) FROM team_docs t WHERE EXISTS (SELECT MAX(x.id / {ZERO_ON_HIDDEN}) FROM tags x)",
    "window": f"SELECT COUNT(*) FROM team_docs t WHERE EXISTS (SELECT SUM(x.id / {ZERO_ON_HIDDEN}) OVER () FROM tags x)",
    "order_by": f"SELECT COUNT(*) FROM team_docs t WHERE t.id IN "
    f"(SELECT x.id FROM tags x ORDER BY x.id / {ZERO_ON_HIDDEN} LIMIT 5)",
}


@pytest.mark.parametrize("shape", sorted(CORRELATED))
def test_postgres_correlated_post_filter_clause_is_no_oracle_on_hidden_rows(harness_for, shape):
    h = harness_for("postgres")
    # Team 10's hidden title is 'ten'; user 2 sees one document ('twenty'). Today '>= tf'
    # answers [(1,)] and '>= te' raises InvalidValue (division by zero on the hidden row).
    assert h.run(CORRELATED[shape], ("tf",)) == [(1,)]
    assert h.run(CORRELATED[shape], ("te",)) == [(1,)]


def test_mysql_correlated_aggregate_does_not_convert_a_hidden_value(harness_for):
    h = harness_for("mysql")
    sql = (
        "INSERT INTO tags (name) SELECT t.title FROM team_docs t WHERE EXISTS (SELECT MAX(x.id + t.title) FROM tags x)"
    )
    raised = h.run_raw(sql)
    assert "'ten'" not in str(raised)  # today: (1292, "Truncated incorrect DOUBLE value: 'ten'")


# -- E. Round 1's "a parameter compared with two kinds" fix holds in one order only (MySQL) -----
#
# The statement-wide analysis records the first kind a named parameter meets. With the
# INTEGER comparison first, an int value passes the bind-time type check, and each WHERE
# conjunct is then judged for push-down on its own (a fresh analysis per conjunct), so
# ``t.title = %(a)s`` is copied inside the fence next to the policy, where MariaDB runs it
# on the hidden row before the EXISTS: 'ten' converted to a number, quoted in error 1292.
# A rule that would have made it impossible: push-down decisions use the statement's own
# analysis (one kind per parameter, decided once), never a fresh one.


def test_mysql_named_parameter_with_two_kinds_is_not_pushed_in_either_order(harness_for):
    h = harness_for("mysql")
    sql = "INSERT INTO tags (name) SELECT t.title FROM team_docs t WHERE t.id = %(a)s AND t.title = %(a)s"
    raised = h.run_raw(sql, {"a": 1})
    assert "'ten'" not in str(raised)  # today: (1292, "Truncated incorrect DECIMAL value: 'ten'")
    assert h.table("tags") == [(1, "red"), (2, "blue")]


# -- F. An untyped schema (the README's ``schema={table: [columns]}``) compares ids by coercion --
#
# typed_value() binds a principal value as it is when the column's kind is unknown
# (Kind.OTHER): the database then converts. A string id "02" (or "2.0" on SQLite, " 2" on
# PostgreSQL) is another principal than the integer 2, yet owns user 2's rows — issue 9
# item 7 ("a string id never equals an integer column"), through the schema form the
# README shows. A rule that would have made it impossible: an untyped column compares a
# principal value only with one of a single, declared type — or the guard refuses an
# untyped schema for policies over principal attributes.

UNTYPED = {"docs": ["id", "owner_id", "title", "secret", "published"]}


@pytest.mark.parametrize(("backend_untyped", "impostor"), [("sqlite", "02"), ("sqlite", "2.0"), ("postgres", "02"),
                                                           ("postgres", " 2")])  # fmt: skip
def test_untyped_schema_does_not_coerce_a_string_principal_id(harness_for, backend_untyped, impostor):
    h = harness_for(backend_untyped)
    guard = Guard([Policy("docs", "read", "owner_id = auth_user.id")], dialect=h.dialect, schema=UNTYPED)

    def work(session):
        cursor = connect(session.connection, guard, AuthUser(id=impostor)).cursor()
        cursor.execute("SELECT id FROM docs")
        return sorted(r[0] for r in cursor.fetchall())

    assert h.db.run(work) == []  # today: [3, 4], user 2's documents


@pytest.fixture
def rest_budgets(make_database_url, request):
    world = World(make_database_url(request.param))
    types = world.db.dialect.DDL_TYPES
    world.db.run(
        lambda s: s.execute("CREATE TABLE budgets (id {serial}, user_id {integer}, amount {decimal}){table_options}"
                            .format_map(types)),
        write=True,
    )  # fmt: skip
    world.db.refresh_schema()
    world.reset("budgets", "id, user_id, amount", [(1, world.alice_id, 10), (2, world.bob_id, 20)])
    world.set_policies("budgets", ("all", "user_id = auth_user.id AND amount < 25"))
    yield world
    world.db.close()


@pytest.mark.parametrize("rest_budgets", ["postgres", "mysql"], indirect=True)
def test_rest_patch_check_judges_the_value_the_decimal_column_stores(rest_budgets):
    w = rest_budgets
    reply = w.bob.patch("/budgets", {"amount": 24.999}, query="id=eq.2")
    # Today: 200, and bob's budget holds 25.00, which the policy forbids.
    assert sorted(float(a) for (a,) in w.sql("SELECT amount FROM budgets")) == [10.0, 20.0]
    assert reply.status == 403, reply.body


# -- G. REST writes filter on columns the read policy hides (all databases) --------------------
#
# The guard applies the read policy to an UPDATE / DELETE whose condition reads the table
# (PostgreSQL's rule; README "The query guard", step 5). REST plans do not: DELETE and
# PATCH run under their own policy only, and their filters — LIKE included — run on rows
# the read policy hides. Bob wrote note 1 for team 10 and has left the team: he may still
# delete it (author), but not read it. ``DELETE /rnotes?body=like.*acquire*`` answers
# "successfully deleted 1 rows" exactly when the hidden body matches: its text, letter by
# letter (a LIKE prefix probe per request). A rule that would have made it impossible: one
# compiler of write plans for REST and the guard (REST builds the statement, the guard's
# write pass guards it), so the read-policy rule cannot exist in one and not the other.


@pytest.fixture
def rest_notes(make_database_url, request):
    world = World(make_database_url(request.param))
    types = world.db.dialect.DDL_TYPES
    ddl = (
        "CREATE TABLE rmembers (team_id {integer}, user_id {integer}){table_options}",
        "CREATE TABLE rnotes (id {serial}, user_id {integer}, team_id {integer}, body {string}){table_options}",
    )
    world.db.run(lambda s: [s.execute(t.format_map(types)) for t in ddl], write=True)
    world.db.refresh_schema()
    world.sql("INSERT INTO rmembers (team_id, user_id) VALUES (?, ?)", 20, world.bob_id)
    world.reset(
        "rnotes",
        "id, user_id, team_id, body",
        [(1, world.bob_id, 10, "team 10 plan: acquire X"), (2, world.bob_id, 20, "mine")],
    )
    world.set_policies("rmembers", ("read", "user_id = auth_user.id"))
    member = "EXISTS (SELECT 1 FROM rmembers m WHERE m.team_id = rnotes.team_id AND m.user_id = auth_user.id)"
    world.set_policies("rnotes", ("read", member), ("update", "user_id = auth_user.id"),
                       ("delete", "user_id = auth_user.id"))  # fmt: skip
    yield world
    world.db.close()


@pytest.mark.parametrize("rest_notes", ["sqlite", "postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("method", ["delete", "patch"])
def test_rest_write_filters_do_not_read_rows_the_read_policy_hides(rest_notes, method):
    w = rest_notes
    assert w.bob.get("/rnotes").json == [{"id": 2, "user_id": w.bob_id, "team_id": 20, "body": "mine"}]
    for pattern in ("*acquire*", "*nothing*"):
        if method == "delete":
            reply = w.bob.delete("/rnotes", query=f"body=like.{pattern}")
        else:
            reply = w.bob.patch("/rnotes", {"team_id": 10}, query=f"body=like.{pattern}")
        # Today: "successfully … 1 rows" for '*acquire*' (the hidden note 1), 0 for the other.
        assert reply.status == 200 and " 0 rows" in reply.json["msg"], (pattern, reply.body)
    assert sorted(r[0] for r in w.sql("SELECT id FROM rnotes")) == [1, 2]


# -- H. The session check is a deny-list of SQL modes (MariaDB) --------------------------------
#
# rls.connect refuses a session whose sql_mode would make MariaDB read the guarded SQL
# differently — but only the four modes it lists (NO_BACKSLASH_ESCAPES, ANSI_QUOTES, ANSI,
# PIPES_AS_CONCAT). SIMULTANEOUS_ASSIGNMENT (MariaDB ≥ 10.3) makes UPDATE assign every
# column from the old row, as PostgreSQL does, while the guard computes the WITH CHECK
# left to right: ``SET secret = 21, owner_id = secret - 19`` is judged as owner 2 (21 - 19)
# and stores owner 1 (20 - 19). Row 3 is given to user 1. (HIGH_NOT_PRECEDENCE changes how
# ``NOT a = b`` reads the same way.) A rule that would have made it impossible: an
# allow-list — the session's sql_mode must be exactly the modes the guard was written for
# (or the guard sets them), not "none of these".


def test_mysql_session_with_simultaneous_assignment_is_refused_or_judged_as_it_assigns(harness_for):
    h = harness_for("mysql")
    args = h.dialect.connect_args(h.db.url)
    raw = pymysql.connect(**args, autocommit=True,
                          init_command="SET SESSION sql_mode = 'STRICT_ALL_TABLES,SIMULTANEOUS_ASSIGNMENT'")  # fmt: skip
    try:
        try:
            connect(raw, h.guard, ATTACKER).cursor().execute(
                "UPDATE docs SET secret = 21, owner_id = secret - 19 WHERE id = 3"
            )
        except GUARD_ERRORS:
            pass
    finally:
        raw.close()
    assert [r[1] for r in h.table("docs")] == [1, 1, 2, 2]  # today: row 3 belongs to user 1


@pytest.mark.parametrize("levels", ["postgres"], indirect=True)
def test_upsert_check_judges_the_value_the_column_stores(levels):
    user = AuthUser(id=2, claims={"level": 25})
    sql = (
        "INSERT INTO docs (id, owner_id, title, secret, published) VALUES (3, 2, 'x', 1, FALSE) "
        "ON CONFLICT (id) DO UPDATE SET secret = 24.5"
    )
    try:
        levels.run(sql, user=user)
    except GUARD_ERRORS:
        pass
    assert [r[3] for r in levels.table("docs")] == [999, 10, 20, 30]  # today: row 3 holds 25


@pytest.fixture
def positive(make_database_url):
    policies = [
        Policy("docs", "read", "owner_id = auth_user.id"),
        Policy("docs", "update", "owner_id = auth_user.id AND secret > 0"),
    ]
    h = GuardHarness(make_database_url("sqlite"), TABLES[:1], {"docs": ROWS["docs"]}, policies)
    yield h.reset()
    h.close()


@pytest.mark.parametrize("raw", [False, True], ids=["connect", "raw"])
def test_sqlite_update_check_judges_the_value_after_column_affinity(positive, raw):
    # The check evaluates ('-5') > 0: text sorts after every number in SQLite, so it holds;
    # the INTEGER column's affinity then stores the number -5, which the policy forbids.
    sql = "UPDATE docs SET secret = '-5' WHERE id = 3"
    try:
        positive.run_raw(sql) if raw else positive.run(sql)
    except GUARD_ERRORS:
        pass
    assert [r[3] for r in positive.table("docs")] == [999, 10, 20, 30]  # today: row 3 holds -5
