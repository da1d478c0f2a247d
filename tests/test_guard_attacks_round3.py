"""Third adversarial round on the query guard (parenthesised joins, IN (VALUES …),
unaliased derived tables, rls.connect with a per-statement user, connect_async): attacks
that succeeded on main before this round's fixes, on real databases, as user 2. Each test
asserts the secure behaviour (and failed before); the tests after each attack pin the rule
that fixed its class (mutants in tests/mutation/mutants.py).

What held is listed at the end of the module.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from rls import AuthUser, Denied, Refused, connect, connect_async
from rls.errors import LoginRequired, RlsError, StatementTimeout
from tests.guardkit import async_driver_connection, harness_fixture
from tests.test_guard_attacks import POLICIES, ROWS, TABLES

GUARD_ERRORS = (Refused, Denied, LoginRequired)

harness_for = harness_fixture(TABLES, ROWS, POLICIES)


# -- A. MariaDB: lastrowid reports another statement's (another user's) generated id ----------
#
# After an INSERT whose WITH CHECK rides in rls's own RETURNING column, the wrapper answers
# ``lastrowid`` with ``SELECT LAST_INSERT_ID()``. That function keeps the last *generated*
# id of the session: an INSERT that generates none (an explicit id) leaves the previous
# one — on a pooled connection serving every user (the creator form, user read per
# statement), the id of the row another user inserted a moment ago, which user 2 cannot
# read. PyMySQL itself reports the explicit id (77) from the INSERT's own OK packet.
# Rule that would make it impossible: a wrapper reports only what the statement it ran
# produced (the id in the check column's own RETURNING, or the driver's per-statement
# value), never session state another statement left.


def test_mysql_lastrowid_never_reports_an_earlier_statements_id(harness_for):
    h = harness_for("mysql")
    current = {"user": AuthUser(id=1)}

    def work(session: Any) -> tuple[Any, Any]:
        conn = connect(session.connection, h.guard, lambda: current["user"])
        first = conn.execute("INSERT INTO docs (owner_id, title, secret, published) VALUES (1, 'hidden', 5, FALSE)")
        hidden_id = first.lastrowid  # user 1's unpublished row: user 2 cannot read it
        current["user"] = AuthUser(id=2)
        second = conn.execute(
            "INSERT INTO docs (id, owner_id, title, secret, published) VALUES (77, 2, 'mine', 5, FALSE)"
        )
        return hidden_id, second.lastrowid

    hidden_id, reported = h.db.run(work)
    assert hidden_id not in (None, 0, 77)
    # PyMySQL itself reports an explicit AUTO_INCREMENT id: the statement's own key.
    assert reported == 77, (reported, hidden_id)  # was: hidden_id, user 1's hidden row


def test_mysql_async_lastrowid_never_reports_an_earlier_statements_id(harness_for):
    """The same through rls.connect_async on aiomysql (its own LAST_INSERT_ID read)."""
    h = harness_for("mysql")
    current = {"user": AuthUser(id=1)}

    async def work() -> tuple[Any, Any]:
        raw = await async_driver_connection(h.db.url)
        try:
            conn = await connect_async(raw, h.guard, lambda: current["user"])
            first = await conn.execute(
                "INSERT INTO docs (owner_id, title, secret, published) VALUES (1, 'hidden', 5, FALSE)"
            )
            hidden_id = first.lastrowid
            current["user"] = AuthUser(id=2)
            second = await conn.execute(
                "INSERT INTO docs (id, owner_id, title, secret, published) VALUES (77, 2, 'mine', 5, FALSE)"
            )
            await conn.commit()
            return hidden_id, second.lastrowid
        finally:
            raw.close()

    hidden_id, reported = asyncio.run(work())
    assert hidden_id not in (None, 0, 77)
    assert reported == 77, (reported, hidden_id)  # was: hidden_id, user 1's hidden row


def test_mysql_sqlalchemy_lastrowid_is_the_statements_own(harness_for):
    """The same through rls.integrations.sqlalchemy (its own LAST_INSERT_ID read before):
    a Core INSERT learns its generated key, and one with an explicit id reports that id."""
    from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, create_engine, insert
    from sqlalchemy.pool import StaticPool

    from rls.integrations.sqlalchemy import install
    from tests.orm_app import sqlalchemy_url

    h = harness_for("mysql")
    current = {"user": AuthUser(id=1)}
    docs = Table(
        "docs", MetaData(), Column("id", Integer, primary_key=True), Column("owner_id", Integer),
        Column("title", String(50)), Column("secret", Integer), Column("published", Boolean),
    )  # fmt: skip
    sa_url, connect_args = sqlalchemy_url(h.db.url)
    engine = create_engine(sa_url, connect_args=connect_args, poolclass=StaticPool)  # one shared connection
    install(engine, h.guard, lambda: current["user"])
    try:
        with engine.begin() as conn:
            first = conn.execute(insert(docs).values(owner_id=1, title="hidden", secret=5, published=False))
            hidden_id = first.inserted_primary_key[0]
            current["user"] = AuthUser(id=2)
            explicit = hidden_id + 100  # (an explicit id moves AUTO_INCREMENT past it)
            second = conn.execute(insert(docs).values(id=explicit, owner_id=2, title="mine", secret=5, published=False))
            reported = second.lastrowid
    finally:
        engine.dispose()
    assert hidden_id not in (None, 0)
    assert hidden_id in [r[0] for r in h.table("docs") if r[2] == "hidden"]  # the ORM's key is right
    assert reported == explicit, (reported, hidden_id)


# -- B. Unbounded work: a recursive CTE without a bound runs forever ---------------------------
#
# ``WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r``
# is accepted and runs until it is killed on SQLite and PostgreSQL through rls.connect (the
# wrapper sets no statement timeout; MariaDB stops at cte_max_recursion_depth = 1000). One
# statement pins a connection and a CPU core for good.
# Rule that would make it impossible: the guard bounds the work of what it accepts — a
# recursive CTE gets a LIMIT/depth bound the guard adds (or is refused), or rls.connect
# runs every statement under a time limit it sets (statement_timeout, SQLite's progress
# handler).

ENDLESS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r"
# MariaDB stops the one above at cte_max_recursion_depth; a join of bounded ones is 10⁹ rows.
LONG = (
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000) SELECT COUNT(*) FROM r a, r b, r c"
)
BUDGET = 10.0


def _within_budget(h: Any, backend: str, work: Any, outcome: dict[str, Any]) -> float:
    """Run ``work(session)`` in a thread; stop its statement (``outcome["raw"]``) if it is
    still running after BUDGET seconds. The seconds it took."""
    thread = threading.Thread(target=lambda: h.db.run(work))
    started = time.monotonic()
    thread.start()
    thread.join(BUDGET)
    elapsed = time.monotonic() - started
    if thread.is_alive():  # stop it, so the test ends (the failure is reported by the caller)
        raw = outcome["raw"]
        if backend == "mysql":
            h.db.run(lambda s: s.execute(f"KILL QUERY {raw.thread_id()}"))
        else:
            raw.interrupt() if backend == "sqlite" else raw.cancel_safe()
        thread.join(30)
    return elapsed


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mysql"])
def test_recursive_cte_without_bound_is_refused_or_bounded(harness_for, backend):
    h = harness_for(backend)
    endless = LONG if backend == "mysql" else ENDLESS
    outcome: dict[str, Any] = {}

    def work(session: Any) -> None:
        raw = session.connection
        conn = connect(raw, h.guard, AuthUser(id=2), statement_timeout=2)
        outcome["raw"] = raw
        try:
            outcome["rows"] = conn.execute(endless).fetchall()
        except RlsError as exc:
            outcome["error"] = exc
            conn.rollback()  # the connection stays usable, and limited
            outcome["after"] = [tuple(r) for r in conn.execute("SELECT COUNT(*) FROM docs").fetchall()]
        except Exception as exc:  # the interrupt below ends it with the driver's error
            outcome["driver"] = exc

    elapsed = _within_budget(h, backend, work, outcome)
    assert elapsed < BUDGET, f"the guarded statement ran for {elapsed:.0f} s and was still running"
    assert isinstance(outcome.get("error"), StatementTimeout), outcome
    assert "statement_timeout" in str(outcome["error"])
    assert outcome["after"] == [(3,)]  # user 2's docs and the published one: still works


def test_postgres_limit_is_asserted_again_after_a_rollback(harness_for):
    """PostgreSQL undoes a SET made in a transaction that rolls back: the wrapper sets its
    limit again after every transaction end (here a ROLLBACK sent as SQL)."""
    h = harness_for("postgres")
    outcome: dict[str, Any] = {}

    def work(session: Any) -> None:
        raw = session.connection
        outcome["raw"] = raw
        conn = connect(raw, h.guard, AuthUser(id=2), statement_timeout=2)
        conn.execute("BEGIN")
        conn.execute("SELECT COUNT(*) FROM docs").fetchall()  # the limit is set in this transaction
        conn.execute("ROLLBACK")  # … and undone with it
        try:
            conn.execute(ENDLESS).fetchall()
        except RlsError as exc:
            outcome["error"] = exc
        except Exception as exc:  # the cancel in _within_budget
            outcome["driver"] = exc

    elapsed = _within_budget(h, "postgres", work, outcome)
    assert elapsed < BUDGET, f"the guarded statement ran for {elapsed:.0f} s and was still running"
    assert isinstance(outcome.get("error"), StatementTimeout), outcome


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mysql"])
def test_connect_async_bounds_every_statement(harness_for, backend):
    h = harness_for(backend)
    endless = LONG if backend == "mysql" else ENDLESS

    async def work() -> tuple[Any, Any]:
        raw = await async_driver_connection(h.db.url)
        try:
            conn = await connect_async(raw, h.guard, AuthUser(id=2), statement_timeout=1)
            try:
                await asyncio.wait_for(conn.execute(endless), BUDGET)
                error = None
            except RlsError as exc:
                error = exc
            await conn.rollback()
            cursor = await conn.execute("SELECT COUNT(*) FROM docs")
            return error, [tuple(r) for r in await cursor.fetchall()]
        finally:
            await raw.close() if backend != "mysql" else raw.close()

    error, after = asyncio.run(work())
    assert isinstance(error, StatementTimeout), error
    assert after == [(3,)]


PG_LIMIT_CHANGES = [
    "SET statement_timeout = 0",
    "SET SESSION statement_timeout TO 0",
    "SET LOCAL statement_timeout = 0",
    "RESET statement_timeout",
    "RESET ALL",
    "DISCARD ALL",
    "SELECT set_config('statement_timeout', '0', false)",
]
MYSQL_LIMIT_CHANGES = [
    "SET SESSION max_statement_time = 0",
    "SET max_statement_time = 0",
    "SET @@session.max_statement_time = 0",
    "SET STATEMENT max_statement_time = 0 FOR SELECT COUNT(*) FROM docs",
    "SET SESSION innodb_lock_wait_timeout = 100000",
]


@pytest.mark.parametrize(
    ("backend", "sql"),
    [("postgres", sql) for sql in PG_LIMIT_CHANGES] + [("mysql", sql) for sql in MYSQL_LIMIT_CHANGES],
)
def test_no_statement_changes_the_limit(harness_for, backend, sql):
    h = harness_for(backend)
    with pytest.raises(GUARD_ERRORS):
        h.guard.rewrite(sql, AuthUser(id=2))


def test_sqlite_progress_handler_is_not_reachable(harness_for):
    """The limit is rls's progress handler on the driver connection: the wrapper offers no
    way to replace or clear it."""
    h = harness_for("sqlite")

    def work(session: Any) -> None:
        conn = connect(session.connection, h.guard, AuthUser(id=2), statement_timeout=2)
        for name in ("set_progress_handler", "set_trace_callback", "interrupt", "setlimit"):
            with pytest.raises(AttributeError):
                getattr(conn, name)
        with pytest.raises(AttributeError):
            conn.set_progress_handler = None

    h.db.run(work)


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), "30", True])
def test_statement_timeout_must_be_positive_seconds_or_none(harness_for, value):
    h = harness_for("sqlite")
    with pytest.raises(ValueError, match="statement_timeout"):
        h.db.run(lambda s: connect(s.connection, h.guard, AuthUser(id=2), statement_timeout=value))


# -- C. Memory: size arguments are small literals --------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mysql"])
def test_size_arguments_are_bounded(harness_for, backend):
    """REPEAT's count and printf's widths allocate what they say before any timeout can
    stop them: they are integer literals up to MAX_GROWTH, and small ones still work."""
    h = harness_for(backend)
    huge = ["SELECT REPEAT('x', 900000000)", f"SELECT REPEAT('x', {h.p})"]
    if backend == "sqlite":
        huge += ["SELECT printf('%900000000d', 1)", "SELECT printf('%.900000000f', 1.5)",
                 "SELECT printf('%*d', 900000000, 1)", "SELECT printf(title, 1) FROM docs"]  # fmt: skip
    for sql in huge:
        with pytest.raises(Refused, match="literal"):
            h.guard.rewrite(sql, AuthUser(id=2), (3,) if h.p in sql else None)
    if backend != "sqlite":  # SQLite has no REPEAT
        assert h.run("SELECT REPEAT('ab', 3)") == [("ababab",)]
    else:
        assert h.run("SELECT printf('%5d|%-3s|', 42, 'x')") == [("   42|x  |",)]


# -- D. create_function: SQLAlchemy's regexp by identity, not by name --------------------------


def test_a_regexp_look_alike_is_refused(harness_for):
    """A function carrying the module and qualified name of SQLAlchemy's regexp — or its
    very code with other globals — is not SQLAlchemy's: refused; SQLAlchemy's own passes."""
    import types

    import sqlalchemy

    h = harness_for("sqlite")

    def regexp(a: str, b: str | None) -> bool:
        return True  # would make every REGEXP in a policy true

    regexp.__module__ = "sqlalchemy.dialects.sqlite.pysqlite"
    regexp.__qualname__ = "SQLiteDialect_pysqlite.on_connect.<locals>.regexp"
    registered: list[Any] = []

    class Recorder:
        def create_function(self, name: str, narg: int, func: Any, **kw: Any) -> None:
            registered.append(func)

    sqlalchemy.create_engine("sqlite://").dialect.on_connect()(Recorder())
    own = registered[0]
    copied = types.FunctionType(own.__code__, {"re": types.SimpleNamespace(search=lambda a, b: True)}, "regexp")

    def work(session: Any) -> None:
        conn = connect(session.connection, h.guard, AuthUser(id=2))
        for fake in (regexp, copied):
            with pytest.raises(Refused, match="create_function"):
                conn.create_function("regexp", 2, fake)
        conn.create_function("regexp", 2, own, deterministic=True)

    h.db.run(work)


# -- Held (attacks tried this round, all refused or correctly filtered on the three databases) --
#
# * Parenthesised joins: every relation inside filtered (``tags LEFT JOIN (docs d JOIN
#   members m ON TRUE) ON TRUE``, three levels deep, CROSS JOIN inside, comma joins with a
#   parenthesised join, derived tables inside, ``COUNT(*)`` over them, inside EXISTS / IN /
#   scalar sub-queries, in INSERT … SELECT / UPDATE / DELETE sub-queries).
# * Name capture: a CTE named like a table inside the parenthesised join, aliases swapping
#   table names (``docs AS members JOIN members AS docs``), a CTE that reads docs joined
#   with docs; the same table twice is refused.
# * NATURAL JOIN and USING inside parentheses refused; ``(docs)``/``(docs d)`` refused;
#   outer relations in an inner ON refused (unknown column).
# * Error oracles in an inner ON (1/(secret-999), CASE … CAST(title AS INTEGER), bare text
#   column, ``= -'x'`` on MariaDB) do not run on hidden rows.
# * IN (VALUES …) and row-value IN with sub-queries in the rows: filtered; MariaDB refuses
#   the syntax.
# * Unaliased derived tables (SQLite): filtered; PostgreSQL 15 and MariaDB reject them.
# * Recursive CTE joined to a table; set operations in a derived table: filtered.
# * psycopg errors raised through rls.connect carry no ``pgconn`` (raw connection).
# * Parenthesised joins in UPDATE … FROM / DELETE … USING / MySQL multi-table UPDATE and
#   DELETE: refused. Whole-row references (``CONCAT(notes.*)``) in a DELETE's WHERE, also
#   correlated from a parenthesised join's ON: the read policy applies (0 rows).
# * VALUES as a FROM item refused; INSERT … VALUES with sub-queries (also over a
#   parenthesised join) reads through the policies.
# * Recursive CTEs whose name shadows a table used inside a parenthesised join: the CTE.
# * Parameters of another type than their column (int, float, bool, Decimal, bytes, date,
#   tuple/list, NaN, 10**30) on all three databases: plan-time errors only, no row oracle.
# * SQLite REGEXP through a function registered with create_function: evaluated outside
#   the fence (a recording function saw only visible rows). ``_known_function`` identified
#   SQLAlchemy's regexp by ``__module__``/``__qualname__``, which any function can carry:
#   now by its code object and globals (test D).
# * Statements: DECLARE / FETCH / PREPARE / EXECUTE / COPY / ``ONLY`` / schema-qualified
#   tables / whole-row columns (``SELECT n FROM notes n``) refused.
# Memory, not time: SQLite ``printf('%900000000d', 1)`` and PostgreSQL ``REPEAT('x',
# 900000000)`` were accepted and allocated ~900 MB per row: refused now (test C).
