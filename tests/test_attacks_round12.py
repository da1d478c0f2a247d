"""Round-12 attacks on typed principal attributes (rls/policy/principals.py, compile.py
``apply_dialect``, the dialects' ``build_comparison``), on the three real databases through
REST, with tokens signed with the auth secret (the path identity-provider claims take too).
Each test asserts the secure behaviour: it fails on main today and passes once fixed.

What held is listed at the end of the module.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import pytest

from rls import AuthUser, Policy, Refused, connect, connect_async
from rls.errors import StatementTimeout
from tests.authkit import SECRET, login, make_app
from tests.client import Client
from tests.guardkit import async_driver_connection, harness_fixture
from tests.test_auth_idp import JWKS, claims, sign
from tests.test_guard_attacks import POLICIES, ROWS, TABLES
from tests.test_postgrest_attacks import IdpWorld, claim_worlds  # noqa: F401  (the fixture, reused)

harness_for = harness_fixture(TABLES, ROWS, POLICIES)

# ClaimWorld's notes: (team 'red', lvl 1, title 'r1'), (team 'blue', lvl 5, title 'b1').


def _reply(world: Any, claims: dict[str, Any]) -> tuple[int, Any]:
    token = jwt.encode({"user_id": "ext-1", "exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256")
    reply = Client(world.app, token).get("/notes", "select=title&order=id")
    return reply.status, reply.json


# -- A. MariaDB: a parenthesised operand skips the exact text comparison ------------------
#
# principal_kind looks through parentheses (the claim is typed TEXT), but apply_dialect
# recognises the column / the principal parameter only as the comparison's direct operand:
# ``(team) = auth_user.team`` or ``team = (auth_user.team)`` stays a plain ``=`` and MariaDB
# compares with the column's case- and pad-insensitive collation — a token whose team is
# "RED" or "red " reads team red's rows (docs/auth.md: "Text compares exactly on every
# database (MariaDB too: case and trailing spaces count)"). SQLite and PostgreSQL grant
# nothing. Class: a rule keyed on the syntactic shape of an operand, where the typing rule
# looks through parentheses. Rule that makes it impossible: normalise the policy tree once
# (strip redundant parentheses) before typing and before apply_dialect, so both see the
# same operands — or decide exactness from the operands' kinds, never their node type.
@pytest.mark.parametrize(
    "expression",
    [
        "(((auth_user.team))) = (team)",
        "(team) = (auth_user.team)",
        "(team) IN (auth_user.team)",
        "(auth_user.team) IN ('red', 'green')",
        "(auth_user.team) IN (SELECT n.team FROM notes n WHERE n.lvl = 1)",
        "EXISTS (SELECT 1 FROM notes n WHERE n.id = notes.id AND (n.team) = (auth_user.team))",
    ],
)
@pytest.mark.parametrize("confused", ["RED", "red ", "Red"])
def test_parenthesised_text_comparison_is_exact(claim_worlds, backend, expression, confused):  # noqa: F811
    world = claim_worlds(backend)
    world.policy(expression)
    assert "r1" in (world.titles(team="red") or [])  # the policy grants with the claim as written
    assert world.titles(team=confused) in ([], None)  # MariaDB: team red's rows


# -- B. MariaDB: < <= > >= with text follow the collation ----------------------------------
#
# build_comparison makes only = and <> exact on MariaDB; an ordering comparison of a
# principal with text keeps the column's collation, where 'RED' = 'red' and 'red ' =
# 'red'. A range written with AND (the BETWEEN form the language allows) is an equality:
# a token whose team differs in case or trailing spaces reads the rows of another team.
# SQLite and PostgreSQL grant nothing. Class: exactness applied per operator instead of per
# type. Rule: every comparison (= <> < <= > >=, IN, LIKE) of a text kind is built by one
# dialect hook that compares bytes (BINARY) on MariaDB, whatever the operator.
@pytest.mark.parametrize(
    "expression",
    [
        "team >= auth_user.team AND team <= auth_user.team",
        "auth_user.team <= team AND auth_user.team >= team",
        "LOWER(team) >= auth_user.team AND LOWER(team) <= auth_user.team",
        "EXISTS (SELECT 1 FROM notes n WHERE n.id = notes.id AND n.team >= auth_user.team AND n.team <= auth_user.team)",
    ],
)
@pytest.mark.parametrize("confused", ["RED", "red "])
def test_ordering_comparison_with_text_is_exact(claim_worlds, backend, expression, confused):  # noqa: F811
    world = claim_worlds(backend)
    world.policy(expression)
    assert world.titles(team="red") == ["r1"]
    assert world.titles(team=confused) in ([], None)  # MariaDB: ['r1']


# -- C. PostgreSQL: a NaN claim is greater than every number ------------------------------
#
# PyJWT decodes a payload with Python's json, which reads the non-JSON tokens NaN and
# Infinity as floats; typed_value lets any float through as a number. PostgreSQL orders
# NaN above every number, so ``auth_user.cap > 3`` holds for cap = NaN and a token grants
# itself every row; SQLite binds NaN as NULL (nothing) and MariaDB refuses the statement
# (400): three answers for one policy and one token. Class: a value that is no number
# accepted as a number. Rule: a number is a finite int/float (math.isfinite) within the
# database's range — anything else binds NULL (or the token is invalid: RFC 8259 JSON has
# no NaN/Infinity).
@pytest.mark.parametrize("expression", ["auth_user.cap > 3", "auth_user.cap >= 3 AND auth_user.cap > 4"])
def test_nan_claim_is_no_number(claim_worlds, backend, expression):  # noqa: F811
    world = claim_worlds(backend)
    world.policy(expression)
    assert world.titles(cap=5) == ["r1", "b1"]
    status, body = _reply(world, {"cap": float("nan")})
    assert status in (200, 401, 403), body
    assert status != 200 or body == []  # PostgreSQL: both rows


# -- D. the same policy and token answer differently: infinities and big integers -------
#
# ``auth_user.cap < 3`` with cap = -Infinity: PostgreSQL and SQLite return both rows,
# MariaDB answers 400 "the database rejected the statement" (PyMySQL writes the float as
# -inf, no SQL literal). With cap = 2**64: PostgreSQL and MariaDB compare it, SQLite
# answers 400 "invalid value for the column's type" (no 64-bit integer). The token is the
# same; the three databases differ, and a claim's value turns into a statement error.
# Same class and rule as C: bind as a number only a finite value within the range every
# database binds (signed 64-bit integers, finite doubles); anything else binds NULL.
@pytest.mark.parametrize(
    ("expression", "odd"),
    [
        ("auth_user.cap < 3", float("-inf")),
        ("auth_user.cap > 3", float("inf")),
        ("auth_user.cap > 3", 2**64),
        ("lvl < auth_user.cap", 2**64),
        ("auth_user.cap < 3", -(2**70)),
    ],
)
def test_out_of_range_number_claims_answer_alike(claim_worlds, backend, expression, odd):  # noqa: F811
    world = claim_worlds(backend)
    world.policy(expression)
    status, body = _reply(world, {"cap": odd})
    assert status == 200, body  # a claim is a value, never a statement error
    assert body == []  # out of range binds NULL everywhere: PostgreSQL grants both rows today


# -- E. SQLite: lastrowid reports another user's hidden row id ------------------------------
#
# Round 3 made MariaDB's lastrowid the statement's own (a hidden RETURNING key column); on
# SQLite the wrapper still answers with the driver's cursor.lastrowid, which is
# sqlite3_last_insert_rowid() — connection state, left by whatever INSERT ran last. On one
# connection serving every user (rls.connect with a per-statement user, a pool), user 1
# inserts an unpublished doc (invisible to user 2); user 2 then runs an INSERT … SELECT
# that writes nothing (or an UPDATE, or a SELECT) and reads user 1's new id from
# lastrowid. Class: session state reported as a statement's result. Rule: a wrapper's
# lastrowid is only what the statement itself returned (RETURNING key on every dialect
# that has it, SQLite included), None when it wrote no row or is no INSERT.
@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO docs (owner_id, title, secret, published) SELECT 2, 'x', 1, FALSE FROM docs WHERE 1 = 0",
        "INSERT INTO tags (name) SELECT name FROM tags WHERE 1 = 0",
        "UPDATE docs SET title = 'g' WHERE id = 3",
        "SELECT id FROM docs",
    ],
)
def test_sqlite_lastrowid_never_reports_another_statements_id(harness_for, sql):
    h = harness_for("sqlite")
    current = {"user": AuthUser(id=1)}

    def work(session: Any) -> tuple[Any, Any]:
        conn = connect(session.connection, h.guard, lambda: current["user"])
        first = conn.execute("INSERT INTO docs (owner_id, title, secret, published) VALUES (1, 'hidden', 5, FALSE)")
        hidden_id = first.lastrowid  # user 1's unpublished row: user 2 cannot read it
        current["user"] = AuthUser(id=2)
        return hidden_id, conn.execute(sql).lastrowid

    hidden_id, reported = h.db.run(work)
    assert hidden_id not in (None, 0)
    assert reported in (None, 0), (reported, hidden_id)  # was: hidden_id


def test_sqlite_async_lastrowid_never_reports_another_statements_id(harness_for):
    """The same through rls.connect_async on aiosqlite."""
    h = harness_for("sqlite")
    current = {"user": AuthUser(id=1)}

    async def work() -> tuple[Any, list[Any]]:
        raw = await async_driver_connection(h.db.url)
        try:
            conn = await connect_async(raw, h.guard, lambda: current["user"])
            first = await conn.execute(
                "INSERT INTO docs (owner_id, title, secret, published) VALUES (1, 'hidden', 5, FALSE)"
            )
            hidden_id = first.lastrowid
            current["user"] = AuthUser(id=2)
            reported = []
            for sql in ("INSERT INTO tags (name) SELECT name FROM tags WHERE 1 = 0", "SELECT id FROM docs"):
                cursor = await conn.execute(sql)
                await cursor.fetchall()
                reported.append(cursor.lastrowid)
            own = await conn.execute("INSERT INTO tags (id, name) VALUES (61, 'mine')")
            reported.append(own.lastrowid)
            await conn.rollback()
            return hidden_id, reported
        finally:
            await raw.close()

    hidden_id, reported = asyncio.run(work())
    assert hidden_id not in (None, 0)
    assert reported == [None, None, 61], (reported, hidden_id)  # the statement's own key, or None


# Tables whose INSERT leaves SQLite's last_insert_rowid() as it was (WITHOUT ROWID), or
# whose key is no integer: the wrapper reports the statement's own integer key or None.
KEYED_TABLES = (
    "CREATE TABLE docs (id {serial}, owner_id {integer}, title {string}, secret {integer}, "
    "published {boolean}){table_options}",
    "CREATE TABLE codes (code TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID",
    "CREATE TABLE counted (id INTEGER PRIMARY KEY, name TEXT) WITHOUT ROWID",
    "CREATE TABLE named (name TEXT PRIMARY KEY, n INTEGER)",
)
keyed_for = harness_fixture(
    KEYED_TABLES,
    {"docs": ROWS["docs"]},
    [Policy("docs", "all", "owner_id = auth_user.id"), *(Policy(t, "all", "") for t in ("codes", "counted", "named"))],
)


def test_sqlite_lastrowid_is_the_statements_own_key_on_any_table(keyed_for):
    h = keyed_for("sqlite")

    def work(session: Any) -> list[Any]:
        conn = connect(session.connection, h.guard, AuthUser(id=1))
        hidden = conn.execute("INSERT INTO docs (owner_id, title, secret, published) VALUES (1, 'hidden', 5, FALSE)")
        return [
            hidden.lastrowid,
            conn.execute("INSERT INTO codes (code, n) VALUES ('a', 1)").lastrowid,  # WITHOUT ROWID: unchanged
            conn.execute("INSERT INTO named (name, n) VALUES ('b', 2)").lastrowid,  # no integer key
            conn.execute("INSERT INTO counted (id, name) VALUES (41, 'c')").lastrowid,  # WITHOUT ROWID, integer key
            conn.execute("INSERT INTO codes (code, n) VALUES ('a', 1) ON CONFLICT (code) DO NOTHING").lastrowid,
        ]

    reported = h.db.run(work)
    assert reported[0] not in (None, 0)
    assert reported[1:] == [None, None, 41, None], reported


def test_sqlite_sqlalchemy_lastrowid_is_the_statements_own(harness_for):
    """rls.integrations.sqlalchemy: ``result.lastrowid`` of an UPDATE is no other
    statement's id, and a Core INSERT still learns its generated key."""
    from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, create_engine, insert, text
    from sqlalchemy.pool import StaticPool

    from rls.integrations.sqlalchemy import install
    from tests.orm_app import sqlalchemy_url

    h = harness_for("sqlite")
    current = {"user": AuthUser(id=1)}
    docs = Table(
        "docs", MetaData(), Column("id", Integer, primary_key=True), Column("owner_id", Integer),
        Column("title", String(50)), Column("secret", Integer), Column("published", Boolean),
        implicit_returning=False,  # the key from lastrowid, not from a RETURNING of the ORM's
    )  # fmt: skip
    sa_url, connect_args = sqlalchemy_url(h.db.url)
    engine = create_engine(sa_url, connect_args=connect_args, poolclass=StaticPool)  # one shared connection
    install(engine, h.guard, lambda: current["user"])
    try:
        with engine.begin() as conn:
            first = conn.execute(insert(docs).values(owner_id=1, title="hidden", secret=5, published=False))
            hidden_id = first.inserted_primary_key[0]
            current["user"] = AuthUser(id=2)
            reported = conn.execute(text("UPDATE docs SET title = 'g' WHERE id = 3")).lastrowid
    finally:
        engine.dispose()
    assert hidden_id not in (None, 0)
    assert hidden_id in [r[0] for r in h.table("docs") if r[2] == "hidden"]  # the ORM's key is right
    assert reported in (None, 0), (reported, hidden_id)


# -- F. Memory: size arguments multiply -------------------------------------------------
#
# allow.py bounds each REPEAT count and printf width by MAX_GROWTH (100 000) because "a
# statement timeout does not bound memory" — but sizes compose: REPEAT of a REPEAT, a
# REPLACE of every character by a REPEAT, a recursive CTE that doubles a string each step
# (bounded in steps by its own WHERE, so the round-3 recursion rule passes it) each ask
# for 10^10 bytes or 2^40 with no literal above the bound. Only the guard's verdict is
# asserted here (nothing is run). Class: a bound on each argument where the danger is the
# product. Rule: bound the size of a value, not of one argument — a growth function's
# input is itself a literal (or a column) and its output may not feed another growth
# function; a recursive CTE's recursive part may not grow a value (no concatenation of a
# CTE column with itself / string function over it).
GROWTH = {
    "all": [
        "SELECT REPEAT(REPEAT('x', 100000), 100000)",
        "SELECT LENGTH(REPEAT(REPEAT(REPEAT('x', 3000), 3000), 3000))",
        "SELECT REPLACE(REPEAT('x', 100000), 'x', REPEAT('y', 100000))",
        # through any expression around the inner growth function, sub-queries included
        "SELECT REPEAT(UPPER(CONCAT('a', REPEAT('x', 100000))), 100000)",
        "SELECT REPEAT((SELECT REPEAT('x', 100000)), 100000)",
        "SELECT REPLACE(title, 'x', REPEAT('y', 100000)) FROM docs",
        "SELECT REPLACE(REPLACE(title, 'a', 'aaaa'), 'a', 'aaaa') FROM docs",  # x4 per REPLACE
        # through a CTE's or a derived table's column
        "WITH c AS (SELECT REPEAT('x', 100000) AS s) SELECT REPEAT(s, 100000) FROM c",
        "WITH c(s) AS (SELECT REPEAT('x', 100000)) SELECT LENGTH(REPEAT(c.s, 100000)) FROM c",
        "SELECT REPLACE(d.s, 'x', 'yy') FROM (SELECT REPEAT('x', 100000) AS s) AS d",
        "WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, CONCAT(s, s) FROM r WHERE n < 40) "
        "SELECT LENGTH(s) FROM r",
        "WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL SELECT r.n + 1, REPEAT(r.s, 2) FROM r WHERE r.n < 40) "
        "SELECT LENGTH(s) FROM r",
        "WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, REPLACE(s, 'x', 'xx') FROM r WHERE n < 40) "
        "SELECT LENGTH(s) FROM r",
        "WITH RECURSIVE r(n, a, b) AS (SELECT 1, 'x', 'y' UNION ALL SELECT q.n + 1, CONCAT(q.a, q.b), q.a FROM r AS q "
        "WHERE q.n < 60) SELECT LENGTH(a) FROM r",
    ],
    "sqlite": [
        "SELECT REPLACE(printf('%100000d', 1), ' ', printf('%100000d', 1))",
        "WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, s || s FROM r WHERE n < 40) "
        "SELECT LENGTH(s) FROM r",
    ],
    "postgres": [
        "WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, s || s FROM r WHERE n < 40) "
        "SELECT LENGTH(s) FROM r",
    ],
    "mysql": [],
}


@pytest.mark.parametrize(
    ("backend", "sql"), [(b, sql) for b in ("sqlite", "postgres", "mysql") for sql in GROWTH["all"] + GROWTH[b]]
)
def test_growth_does_not_compose(harness_for, backend, sql):
    h = harness_for(backend)
    with pytest.raises(Refused):
        h.guard.rewrite(sql, AuthUser(id=2))  # accepted today


GROWTH_ALLOWED = {  # sizes that add up, or a bounded piece per recursive step (linear)
    "all": [
        "SELECT REPLACE(title, 'a', 'bb'), REPLACE(REPLACE(title, 'a', 'b'), 'c', 'd') FROM docs",
        "SELECT REPLACE(title, 'a', 'bb'), REPLACE(title, 'c', 'dd') AS t2 FROM docs",
    ],
    "sqlite": [
        "SELECT title || printf('%5d', id) || title FROM docs",
        "WITH RECURSIVE r(n, p) AS (SELECT 1, 'root' UNION ALL SELECT n + 1, p || '/' || 'x' FROM r WHERE n < 3) "
        "SELECT p FROM r",
    ],
    "postgres": [
        "SELECT CONCAT(REPEAT('x', 5), REPEAT('y', 5), title) FROM docs",
        "WITH RECURSIVE r(n, p) AS (SELECT 1, 'root' UNION ALL SELECT n + 1, p || '/' || 'x' FROM r WHERE n < 3) "
        "SELECT p FROM r",
    ],
    "mysql": ["SELECT CONCAT(REPEAT('x', 5), REPEAT('y', 5), title), REPEAT(title, 3) FROM docs"],
}


@pytest.mark.parametrize(
    ("backend", "sql"),
    [(b, sql) for b in ("sqlite", "postgres", "mysql") for sql in GROWTH_ALLOWED["all"] + GROWTH_ALLOWED[b]],
)
def test_growth_that_adds_up_is_allowed(harness_for, backend, sql):
    h = harness_for(backend)
    assert h.run(sql)


@pytest.mark.parametrize("backend", ["postgres", "mysql"])
def test_nested_repeat_exceeds_max_growth(harness_for, backend):
    # What the accepted shape does, at a size safe to run: 9 MB from counts of 3000.
    from rls.guard.allow import MAX_GROWTH

    h = harness_for(backend)
    try:
        rows = h.run("SELECT LENGTH(REPEAT(REPEAT('x', 3000), 3000))")
    except Refused:
        return  # the secure outcome
    assert rows[0][0] <= MAX_GROWTH, rows  # 9 000 000 today


# -- G. SQLite: one statement's time limit restarts at every fetch -----------------------
#
# The SQLite deadline is armed per driver call (execute, each fetch). A statement whose
# rows each take most of the limit to produce — an endless recursive CTE filtered to one
# row in a million — never runs out while the caller iterates it (``for row in cursor``,
# what ORMs and streaming code do): the statement computes without bound. On PostgreSQL
# and MariaDB the server's limit counts the statement's whole run. Class: a budget reset
# by an operation the attacker's statement paces. Rule: a statement's deadline is set
# once, when it starts, and fetches count against it (time between fetches may be excluded
# by pausing the clock, never by re-arming it).
SPARSE = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r WHERE n % 300000 = 0"


def test_sqlite_limit_counts_a_statements_fetches_together(harness_for):
    h = harness_for("sqlite")
    outcome: dict[str, Any] = {"busy": 0.0, "rows": 0}

    def work(session: Any) -> None:
        conn = connect(session.connection, h.guard, AuthUser(id=2), statement_timeout=1)
        cursor = conn.execute(SPARSE)
        started = time.monotonic()
        try:
            while time.monotonic() - started < 6:
                before = time.monotonic()
                cursor.fetchone()
                outcome["busy"] += time.monotonic() - before
                outcome["rows"] += 1
        except StatementTimeout as exc:
            outcome["error"] = exc

    h.db.run(work)
    # The statement computed for ``busy`` seconds under a 1-second limit.
    assert isinstance(outcome.get("error"), StatementTimeout), outcome
    assert outcome["busy"] < 2.5, outcome


def test_sqlite_async_limit_counts_a_statements_fetches_together(harness_for):
    """The same through rls.connect_async on aiosqlite; a second cursor's statement, run
    between two fetches of the first, gives the first no new budget either."""
    h = harness_for("sqlite")
    outcome: dict[str, Any] = {"busy": 0.0, "rows": 0}

    async def work() -> None:
        raw = await async_driver_connection(h.db.url)
        try:
            conn = await connect_async(raw, h.guard, AuthUser(id=2), statement_timeout=1)
            cursor = await conn.execute(SPARSE)
            started = time.monotonic()
            try:
                while time.monotonic() - started < 6:
                    before = time.monotonic()
                    await cursor.fetchone()
                    outcome["busy"] += time.monotonic() - before
                    outcome["rows"] += 1
                    await (await conn.execute("SELECT 1")).fetchall()  # another statement: its own budget
            except StatementTimeout as exc:
                outcome["error"] = exc
        finally:
            await raw.close()

    asyncio.run(work())
    assert isinstance(outcome.get("error"), StatementTimeout), outcome
    assert outcome["busy"] < 2.5, outcome


# -- H. a claim compared with a date column is converted by each database its own way ---
#
# typed_value passes any string for a DATE column, so the database parses it: MariaDB
# reads 'a' as the zero date (``d > 'a'`` holds for every row) and '2024-01-01abc' as
# 2024-01-01 (with a warning), PostgreSQL answers 400 "invalid value" to a token's value,
# SQLite compares the text. A token whose claim is no date reads rows on MariaDB.
# Class: the database's conversions decide a principal's value. Rule: typed_value parses
# a date/datetime/time claim itself (ISO 8601 only: date.fromisoformat) and binds the
# parsed value — anything else binds NULL — as it already does for numbers and booleans.
DATED = "CREATE TABLE things (id {serial}, d {date}, title {string}){table_options}"


@pytest.fixture(scope="module")
def dated_apps(make_database_url) -> Any:
    made: dict[str, Any] = {}

    def get(backend: str) -> Any:
        if backend not in made:
            app = make_app(make_database_url(backend), auth_enabled=True, policy_refresh_interval=0.0)
            anonymous = Client(app)
            admin = Client(app, login(anonymous, "rest_admin", anonymous.post("/auth/setup").json["Password"]))
            insert = "INSERT INTO things (d, title) VALUES ('2024-01-01', 't1')"
            app.db.run(lambda s: [s.execute(DATED.format_map(app.db.dialect.DDL_TYPES)), s.execute(insert)], write=True)
            app.db.refresh_schema()
            made[backend] = (app, admin)
        return made[backend]

    yield get
    for app, _ in made.values():
        app.db.close()


@pytest.mark.parametrize(
    ("expression", "claim"),
    [
        ("d > auth_user.day", "a"),
        ("d = auth_user.day", "2024-01-01abc"),
        ("d = auth_user.day", "garbage"),
        ("d > auth_user.day", "2024-01-01x"),
    ],
)
def test_a_claim_that_is_no_date_matches_no_date(dated_apps, backend, expression, claim):
    app, admin = dated_apps(backend)
    app.db.run(lambda s: s.execute("DELETE FROM auth_policies WHERE table_name = 'things'"), write=True)
    policy = {"table_name": "things", "action": "read", "expression": expression, "description": "dated"}
    assert admin.post("/auth_policies", policy).status == 200

    def read(day: Any) -> tuple[int, Any]:
        token = jwt.encode({"user_id": "ext-1", "exp": int(time.time()) + 600, "day": day}, SECRET, algorithm="HS256")
        reply = Client(app, token).get("/things", "select=title")
        return reply.status, reply.json

    assert read("2023-12-31" if ">" in expression else "2024-01-01") == (200, [{"title": "t1"}])
    assert read(claim) == (200, [])  # MariaDB: t1 for 'a' and '2024-01-01abc'; PostgreSQL: 400


# -- I. SQLite: an identity provider's subject owns a local user's rows through an
#    untyped owner column ---------------------------------------------------------------
#
# An identity provider's integer subject 2 becomes the text "2" so that it never equals
# auth_users id 2 — but a column declared without a type (SQLite allows it; Kind.OTHER) is
# compared "as text on both sides" (build_comparison casts both), and typed_value passes any
# value for OTHER: CAST(2 AS TEXT) = CAST('2' AS TEXT). A stranger at the provider whose
# `sub` equals alice's local id reads alice's rows in such a table under the default
# ``user_id = auth_user.id`` policy, and the rows it POSTs (owner filled with "2") appear
# among alice's. Class: a namespace kept apart by type, erased by a comparison that
# converts both sides to text. Rule: a principal compared with a column of unknown type
# keeps its own type (an integer id never equals text, a text id never an integer) — or
# binds NULL there.
def test_idp_subject_owns_nothing_through_an_untyped_owner_column(make_database_url, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    world = IdpWorld(make_database_url("sqlite"), str(path))
    try:
        create = "CREATE TABLE loose (id INTEGER PRIMARY KEY, user_id, title TEXT)"
        world.app.db.run(lambda s: s.execute(create), write=True)
        world.app.db.refresh_schema()
        assert world.alice.post("/loose", {"title": "alice's loose secret"}).status == 200
        stranger = Client(world.app, sign(claims(sub=world.alice_id)))
        reply = stranger.get("/loose")
        assert reply.status in (200, 401, 403), reply.body
        assert reply.status != 200 or reply.json == []  # today: alice's row
        stranger.post("/loose", {"title": "planted"})
        mine = [r["title"] for r in world.alice.get("/loose").json]
        assert mine == ["alice's loose secret"]  # today: + "planted"
    finally:
        world.app.db.close()


# -- What held (same worlds, all three databases) ------------------------------------------
#
# - one side parenthesised (`(team) = auth_user.team`, `team = (auth_user.team)`): the
#   other side is still recognised and the comparison is exact; both sides are needed (A);
# - claims of the wrong JSON type (bool/int/str/list/object) against text, integer,
#   boolean and number literals and columns, both operand orders: NULL, no rows;
# - LIKE / ILIKE with the claim as pattern or as operand: the claim is a pattern (a "%"
#   team matches every team, as a `like` filter would): the docs type it as text and
#   promise nothing more — a policy author who wants equality writes `=`; case is exact on
#   MariaDB for LIKE;
# - `team IS auth_user.x`, `NOT IN (SELECT … auth_user.x)`: refused when written;
# - IN lists, IN (SELECT LOWER(c) …), correlated EXISTS with `=`, UPPER/LOWER operands:
#   exact on MariaDB;
# - identity-provider tokens: an integer `sub` is text and meets no integer owner column;
#   local tokens' integer ids meet no text column; no second path builds a principal
#   (authenticator and tokens agree on `external`);
# - MariaDB lastrowid after a zero-row INSERT … SELECT, an UPDATE or a SELECT: None/0 (the
#   round-3 RETURNING key holds); an explicit duplicate id is a Conflict, no id reported.
