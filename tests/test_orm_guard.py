"""What ORMs need from the guard itself, on the three databases: statements with no row data
pass through classified (and nothing near them does), owner fill, driver query objects,
locking clauses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from rls import AuthUser, Denied, Guard, Policy, Refused
from rls.guard.passthrough import Passthrough, classify
from tests.guardkit import GuardHarness, harness_fixture

ALICE, BOB = AuthUser(id=1), AuthUser(id=2)
TABLES = ("CREATE TABLE todos (id {serial}, user_id {integer}, title {string}){table_options}",)
# Ids far from 1: PostgreSQL's serial does not see explicitly inserted ids.
ROWS = {"todos": ("id, user_id, title", [(101, 1, "a"), (102, 2, "b")])}
SEEDED = [(1, "a"), (2, "b")]
POLICIES = [Policy("todos", "all", "user_id = auth_user.id")]

PASSING = [
    ("sqlite", "BEGIN", Passthrough.TRANSACTION),
    ("sqlite", "begin immediate transaction", Passthrough.TRANSACTION),
    ("postgres", "START TRANSACTION ISOLATION LEVEL REPEATABLE READ", Passthrough.TRANSACTION),
    ("mysql", "START TRANSACTION READ ONLY", Passthrough.TRANSACTION),
    ("postgres", "SAVEPOINT sa_savepoint_1", Passthrough.TRANSACTION),
    ("postgres", 'RELEASE SAVEPOINT "s1"', Passthrough.TRANSACTION),
    ("mysql", "ROLLBACK TO SAVEPOINT `s1`", Passthrough.TRANSACTION),
    ("sqlite", "ROLLBACK TO s1;", Passthrough.TRANSACTION),
    ("sqlite", "COMMIT", Passthrough.TRANSACTION),
    ("postgres", "select pg_catalog.version()", Passthrough.SESSION),
    ("postgres", "SELECT current_schema()", Passthrough.SESSION),
    ("postgres", "show standard_conforming_strings", Passthrough.SESSION),
    ("mysql", "SHOW VARIABLES LIKE 'sql_mode'", Passthrough.SESSION),
    ("mysql", "SELECT DATABASE()", Passthrough.SESSION),
    ("mysql", "SET NAMES utf8mb4", Passthrough.SESSION),
    ("mysql", "SELECT @@transaction_isolation", Passthrough.SESSION),
    ("sqlite", "PRAGMA read_uncommitted", Passthrough.SESSION),
]

NEAR_MISSES = [
    ("postgres", "BEGIN; DELETE FROM todos"),
    ("postgres", "SAVEPOINT s1 -- comment"),
    ("postgres", "SAVEPOINT 's1'"),
    ("postgres", 'SAVEPOINT "s""1"'),
    ("postgres", "SAVEPOINT s1, s2"),
    ("postgres", "COMMIT PREPARED 'x'"),
    ("postgres", "ROLLBACK PREPARED 'x'"),
    ("postgres", "select version() /* x */"),
    ("postgres", "SET standard_conforming_strings = off"),
    ("postgres", "SET search_path = other"),
    ("postgres", "SET ROLE postgres"),
    ("postgres", "SELECT * FROM pg_catalog.pg_tables"),
    ("mysql", "SET sql_mode = 'ANSI_QUOTES'"),
    ("mysql", "SET NAMES latin1"),
    ("mysql", "SET NAMES utf8mb4 COLLATE utf8mb4_0900_as_cs"),
    ("mysql", "SHOW VARIABLES"),
    ("mysql", "SHOW VARIABLES LIKE '%'"),
    ("mysql", "SELECT @@version"),
    ("mysql", "SHOW TABLES"),
    ("mysql", "BEGIN # comment"),
    ("sqlite", "PRAGMA case_sensitive_like = 1"),
    ("sqlite", "PRAGMA writable_schema = 1"),
    ("sqlite", "PRAGMA table_info(todos)"),
    ("sqlite", "ATTACH 'x.db' AS x"),
    ("sqlite", "BEGIN\x00"),
    ("sqlite", "SAVEPOINT é"),
]


@pytest.mark.parametrize(("dialect", "sql", "kind"), PASSING, ids=lambda v: str(v)[:40])
def test_statements_without_row_data_pass_through_unchanged(dialect: str, sql: str, kind: Passthrough) -> None:
    guard = Guard(POLICIES, dialect=dialect, schema={"todos": ["id", "user_id", "title"]})
    assert classify(sql, dialect) is kind
    assert guard.rewrite(sql, BOB, {}) == (sql, (), (), 0)


@pytest.mark.parametrize(("dialect", "sql"), NEAR_MISSES, ids=lambda v: str(v)[:40])
def test_near_misses_are_not_passed_through_and_are_refused(dialect: str, sql: str) -> None:
    guard = Guard(POLICIES, dialect=dialect, schema={"todos": ["id", "user_id", "title"]})
    assert classify(sql, dialect) is None
    with pytest.raises(Refused):
        guard.rewrite(sql, BOB)


def test_parameters_with_a_passthrough_statement_are_refused() -> None:
    guard = Guard(POLICIES, dialect="postgres", schema={"todos": ["id", "user_id", "title"]})
    with pytest.raises(Refused, match="0 placeholders"):
        guard.rewrite("COMMIT", BOB, (1,))


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [("sqlite", 'PRAGMA main.table_info("todos")'), ("sqlite", "PRAGMA index_list(todos)"),
     ("mysql", "SHOW FULL TABLES"), ("mysql", "SHOW CREATE TABLE `todos`")],
)  # fmt: skip
def test_catalog_reads_need_introspection(dialect: str, sql: str) -> None:
    schema = {"todos": ["id", "user_id", "title"]}
    with pytest.raises(Refused):
        Guard(POLICIES, dialect=dialect, schema=schema).rewrite(sql, BOB)
    guard = Guard(POLICIES, dialect=dialect, schema=schema, introspection=True)
    assert guard.rewrite(sql, BOB).sql == sql


harness_for = harness_fixture(TABLES, ROWS, POLICIES)


@pytest.fixture
def harness(harness_for: Any, backend: str) -> GuardHarness:
    return harness_for(backend)


def test_transaction_control_runs_through_rls_connect(harness: GuardHarness) -> None:
    p = harness.p

    def work(session: Any) -> list[Any]:
        import rls

        conn = rls.connect(session.connection, harness.guard, ALICE)
        conn.execute("SAVEPOINT s1")
        conn.execute(f"UPDATE todos SET title = {p} WHERE id = {p}", ("changed", 1))
        conn.execute("ROLLBACK TO SAVEPOINT s1")
        conn.execute("RELEASE SAVEPOINT s1")
        return [tuple(r) for r in conn.execute("SELECT id, title FROM todos").fetchall()]

    assert harness.db.run(work, write=True) == [(101, "a")]


@contextmanager
def owner_fill(harness: GuardHarness) -> Iterator[None]:
    """The harness's statements run under a guard like its own, with owner fill on."""
    plain = harness.guard
    harness.guard = Guard(POLICIES, dialect=harness.dialect, schema=lambda: (1, harness.db.schema()), owner_fill=True)
    try:
        yield
    finally:
        harness.guard = plain


def owners_and_titles(harness: GuardHarness) -> list[tuple[Any, ...]]:
    return sorted(r[1:] for r in harness.table("todos"))


@pytest.mark.parametrize(
    ("sql", "params"),
    [("INSERT INTO todos (title) VALUES ({p})", ("new",)),
     ("INSERT INTO todos (title, user_id) VALUES ({p}, {p})", ("new", None)),
     ("INSERT INTO todos (title, user_id) VALUES ({p}, NULL)", ("new",))],
    ids=["absent", "bound-null", "literal-null"],
)  # fmt: skip
def test_owner_fill_gives_an_absent_or_null_owner_the_users_id(harness: GuardHarness, sql: str, params: Any) -> None:
    with owner_fill(harness):
        harness.run(sql, params, user=BOB)
    assert owners_and_titles(harness) == [*SEEDED, (2, "new")]


def test_owner_fill_never_replaces_another_users_id(harness: GuardHarness) -> None:
    with owner_fill(harness), pytest.raises(Denied):
        harness.run("INSERT INTO todos (title, user_id) VALUES ({p}, {p})", ("forged", 1), user=BOB)
    assert owners_and_titles(harness) == SEEDED


def test_without_owner_fill_an_absent_owner_is_denied(harness: GuardHarness) -> None:
    with pytest.raises(Denied):
        harness.run("INSERT INTO todos (title) VALUES ({p})", ("new",), user=BOB)
    assert owners_and_titles(harness) == SEEDED


def test_locking_clauses_lock_rows_of_the_policy_sub_query(harness: GuardHarness) -> None:
    if harness.dialect.name == "sqlite":
        with pytest.raises(Refused, match="locking"):
            harness.run("SELECT id FROM todos FOR UPDATE", user=BOB)
        return
    assert harness.run("SELECT id FROM todos WHERE title = {p} FOR UPDATE", ("b",), user=BOB) == [(102,)]
    assert harness.run("SELECT id FROM todos FOR UPDATE NOWAIT", user=BOB) == [(102,)]
    with pytest.raises(Refused, match="EXPRESSIONS"):
        harness.run("SELECT id FROM todos FOR UPDATE OF todos", user=BOB)


def test_a_psycopg_composed_query_is_rendered_then_guarded(make_database_url: Any) -> None:
    from psycopg import sql

    guard = Guard(POLICIES, dialect="postgres", schema={"todos": ["id", "user_id", "title"]})
    query = sql.SQL("SELECT {} FROM {} WHERE {} = {}").format(
        sql.Identifier("title"), sql.Identifier("todos"), sql.Identifier("id"), sql.Placeholder()
    )
    assert guard.rewrite(query, BOB, (2,)) == guard.rewrite('SELECT "title" FROM "todos" WHERE "id" = %s', BOB, (2,))
    with pytest.raises(Refused, match="must be text"):
        guard.rewrite(object(), BOB)  # type: ignore[arg-type]


def test_lastrowid_after_an_insert_that_checks_itself(harness: GuardHarness) -> None:
    """The INSERT carries its WITH CHECK in RETURNING: MariaDB's driver then reports no
    insert id, so rls.connect asks the session for it (the ORM reads the new key there)."""

    def work(session: Any) -> tuple[Any, Any, list[Any]]:
        import rls

        cursor = rls.connect(session.connection, harness.guard, BOB).cursor()
        cursor.execute(f"INSERT INTO todos (user_id, title) VALUES ({harness.p}, {harness.p})", (2, "one"))
        first = cursor.lastrowid
        cursor.execute(f"INSERT INTO todos (user_id, title) VALUES ({harness.p}, {harness.p})", (2, "two"))
        second = cursor.lastrowid
        return first, second, cursor.execute("SELECT id, title FROM todos WHERE id <> 102 ORDER BY id").fetchall()

    first, second, rows = harness.db.run(work, write=True)
    if harness.dialect.name == "postgres":  # psycopg 3 cursors have no lastrowid (DB-API: None)
        assert (first, second) == (None, None)
        assert [r[1] for r in rows] == ["one", "two"]
        return
    assert [tuple(r) for r in rows] == [(first, "one"), (second, "two")]
    assert second > first


def test_create_function_only_for_sqlalchemys_own(tmp_path: Any) -> None:
    """sqlite3 create_function through rls.connect: a Python function named like a built-in
    replaces it inside the policies' sub-queries, where it sees every row a policy examines.
    Only SQLAlchemy's registrations (floor as math.floor, its regexp) are taken."""
    import math
    import sqlite3

    import rls

    raw = sqlite3.connect(str(tmp_path / "f.db"))
    raw.executescript(
        "CREATE TABLE todos (id INTEGER PRIMARY KEY, user_id INTEGER, title TEXT);"
        "INSERT INTO todos VALUES (1, 1, 'a'), (2, 2, 'b');"
    )
    policies = [Policy("todos", "all", "LENGTH(title) = 1 AND user_id = auth_user.id")]
    guard = Guard(policies, dialect="sqlite", schema={"todos": ["id", "user_id", "title"]})
    conn = rls.connect(raw, guard, BOB)
    seen: list[Any] = []

    def spy(value: Any) -> Any:
        seen.append(value)
        return 2

    for name in ("length", "LENGTH", "floor", "lower"):
        with pytest.raises(Refused, match="create_function"):
            conn.create_function(name, 1, spy)
    with pytest.raises(Refused, match="create_function"):
        conn.create_function("regexp", 2, lambda a, b: True)
    conn.create_function("floor", 1, math.floor, deterministic=True)
    assert conn.execute("SELECT id, FLOOR(id) FROM todos").fetchall() == [(2, 2)]
    assert seen == []
    raw.close()


def test_connect_async_executemany_lastrowid_and_denial(harness: GuardHarness) -> None:
    """rls.connect_async: a batch is rewritten row by row, a self-checking INSERT reports its
    id (MariaDB: from the session), a forbidden row aborts and the transaction writes nothing."""
    import asyncio

    import rls
    from tests.guardkit import async_driver_connection

    p = harness.p
    insert = f"INSERT INTO todos (user_id, title) VALUES ({p}, {p})"

    async def run() -> tuple[Any, int, list[Any]]:
        raw = await async_driver_connection(harness.db.url)
        try:
            conn = await rls.connect_async(raw, harness.guard, BOB)
            cursor = await conn.execute(insert, (2, "one"))
            new_id = cursor.lastrowid
            batch = await conn.executemany(insert, [(2, "two"), (2, "three")])
            await conn.commit()
            with pytest.raises(Denied):
                await conn.executemany(insert, [(2, "four"), (1, "forged")])
            await conn.rollback()
            rows = await (await conn.execute("SELECT id, title FROM todos ORDER BY id")).fetchall()
            return new_id, batch.rowcount, [tuple(r) for r in rows]
        finally:
            closed = raw.close()
            if asyncio.iscoroutine(closed):
                await closed

    new_id, count, rows = asyncio.run(run())
    assert count == 2
    assert sorted(r[1] for r in rows) == ["b", "one", "three", "two"]  # PostgreSQL ids start below 102
    if harness.dialect.name != "postgres":  # psycopg has no lastrowid
        assert (new_id, "one") in rows
