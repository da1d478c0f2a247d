"""Differential test: the guard against native PostgreSQL row-level security written by hand.

The oracle is the ``CREATE POLICY`` text below, written for the test policies by hand
(never produced by rls: ``export_native`` has its own tests). hypothesis generates
queries with joins, sub-queries, CTEs and set operations; a fixed list of writes
follows. For several users, including the anonymous one and one with claims, the rows
the guard lets through, and what a write does to a table, must be exactly what
PostgreSQL itself allows a plain role (neither superuser nor owner).

``RLS_ORACLE_EXAMPLES`` sets the number of generated queries (default: a CI slice).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rls import AuthUser, Guard, Policy
from rls.database import Database
from rls.errors import Denied, Refused
from rls.guard.connection import connect

TABLES = [
    "CREATE TABLE projects (id integer PRIMARY KEY, owner_id integer, org text)",
    "CREATE TABLE tasks (id integer PRIMARY KEY, project_id integer, owner_id integer, title text, public boolean)",
    "CREATE TABLE tags (id integer PRIMARY KEY, name text)",
    "CREATE TABLE members (org text, user_id integer)",
    "CREATE TABLE notes (id integer PRIMARY KEY, org text, body text)",
    "INSERT INTO projects VALUES (1, 1, 'acme'), (2, 2, 'acme'), (3, 2, 'beta'), (4, NULL, 'beta'), (5, 3, NULL)",
    "INSERT INTO tasks VALUES (1, 1, 1, 'a1', false), (2, 1, 2, 'b2', true), (3, 2, 2, 'c3', false),"
    " (4, 3, 1, 'd4', NULL), (5, 4, NULL, 'e5', true), (6, 5, 3, 'f6', false), (7, NULL, 2, 'g7', false)",
    "INSERT INTO tags VALUES (1, 'red'), (2, 'blue'), (3, 'green')",
    "INSERT INTO members VALUES ('acme', 1), ('beta', 1), ('acme', 3)",
    "INSERT INTO notes VALUES (1, 'acme', 'n1'), (2, 'beta', 'n2'), (3, NULL, 'n3'), (4, 'ACME', 'n4')",
]
POLICIES = [
    Policy("tasks", "read", "owner_id = auth_user.id OR public OR auth_user.is_admin"),
    Policy("tasks", "all", "owner_id = auth_user.id OR auth_user.is_admin"),
    Policy(
        "projects",
        "read",
        "owner_id = auth_user.id OR org IN (SELECT m.org FROM members m WHERE m.user_id = auth_user.id)",
    ),
    Policy("tags", "all", ""),
    Policy("members", "read", "user_id = auth_user.id OR auth_user.is_admin"),
    Policy("notes", "read", "auth_user.org = org"),
    Policy("notes", "read", "auth_user.is_admin"),  # two rows on one level: ORed
]

# -- the oracle: the same policies as native RLS, by hand ------------------------------------------

TABLE_NAMES = ("projects", "tasks", "tags", "members", "notes")

_ID = "NULLIF(current_setting('oracle.user_id', true), '')"
UID = f"CASE WHEN {_ID} ~ '^-?[0-9]{{1,9}}$' THEN {_ID}::integer END"  # a string id is no integer
ADMIN = f"({_ID} IS NOT NULL AND current_setting('oracle.is_admin', true) IS NOT DISTINCT FROM 'true')"
ORG = f"CASE WHEN {_ID} IS NOT NULL THEN NULLIF(current_setting('oracle.org', true), '') END"
OWN_TASK = f"(tasks.owner_id = {UID} OR {ADMIN})"
NATIVE = [
    *(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY" for t in TABLE_NAMES),
    *(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY" for t in TABLE_NAMES),
    f"CREATE POLICY tasks_read ON tasks FOR SELECT USING (tasks.owner_id = {UID} OR tasks.public OR {ADMIN})",
    f"CREATE POLICY tasks_insert ON tasks FOR INSERT WITH CHECK {OWN_TASK}",
    f"CREATE POLICY tasks_update ON tasks FOR UPDATE USING {OWN_TASK} WITH CHECK {OWN_TASK}",
    f"CREATE POLICY tasks_delete ON tasks FOR DELETE USING {OWN_TASK}",
    f"CREATE POLICY projects_read ON projects FOR SELECT USING (projects.owner_id = {UID}"
    f" OR projects.org IN (SELECT m.org FROM members m WHERE m.user_id = {UID}))",
    "CREATE POLICY tags_all ON tags USING (true) WITH CHECK (true)",
    f"CREATE POLICY members_read ON members FOR SELECT USING (members.user_id = {UID} OR {ADMIN})",
    f"CREATE POLICY notes_read ON notes FOR SELECT USING ({ORG} = notes.org OR {ADMIN})",
]
USERS = [
    AuthUser(),
    AuthUser(id=1),
    AuthUser(id=2),
    AuthUser(id=3, is_admin=True),
    AuthUser(id=4, claims={"org": "acme"}),
    AuthUser(id=1, claims={"org": "beta"}),
    AuthUser(is_admin=True, claims={"org": "acme"}),  # no id: anonymous, whatever else it says
]


class Oracle:
    def __init__(self, url: str):
        self.db = Database(url)
        self.args = self.db.dialect.connect_args(url)
        self.role = f"rls_oracle_{secrets.token_hex(4)}"
        schema = url.rsplit("search_path=", 1)[1]
        with self.connect() as conn:
            for statement in [*TABLES, *NATIVE]:
                conn.execute(statement)
            conn.execute(f"CREATE ROLE {self.role} NOLOGIN NOSUPERUSER NOBYPASSRLS")
            conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {self.role}')
            conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {self.role}')
        self.guard = Guard(POLICIES, dialect="postgres", schema=lambda: (self.db.schema_version, self.db.schema()))
        self.conn = self.connect()  # one connection for every comparison: connecting is the slow part

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.args, autocommit=True)

    def _as_role(self, conn: psycopg.Connection[Any], user: AuthUser) -> None:
        conn.execute(f"SET LOCAL ROLE {self.role}")
        org = user.claims.get("org")
        conn.execute(
            "SELECT set_config('oracle.user_id', %s, true), set_config('oracle.is_admin', %s, true),"
            " set_config('oracle.org', %s, true)",
            ("" if user.id is None else str(user.id), "true" if user.is_admin else "false", org or ""),
        )

    def native_rows(self, sql: str, user: AuthUser) -> list[tuple[Any, ...]]:
        conn = self.conn
        with conn.transaction(force_rollback=True):
            self._as_role(conn, user)
            return conn.execute(sql.replace("%", "%%")).fetchall()

    def guard_rows(self, sql: str, user: AuthUser) -> list[tuple[Any, ...]] | None:
        """The rows through the guard; None when the guard denies the statement."""
        try:
            statement = self.guard.rewrite(sql.replace("%", "%%"), user)
        except Denied:
            return None
        return self.conn.execute(statement.sql, statement.params).fetchall()

    def native_write(self, sql: str, table: str, user: AuthUser) -> list[tuple[Any, ...]]:
        """``table`` after ``sql`` ran natively as ``user`` (unchanged when it was refused)."""
        conn = self.conn
        with conn.transaction(force_rollback=True):
            try:
                with conn.transaction():
                    self._as_role(conn, user)
                    conn.execute(sql)
                    conn.execute("RESET ROLE")
            except psycopg.errors.InsufficientPrivilege:
                pass  # rolled back to the savepoint: nothing written
            return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()

    def guard_write(self, sql: str, table: str, user: AuthUser) -> list[tuple[Any, ...]]:
        """``table`` after ``sql`` ran through the guard as ``user`` (unchanged when denied)."""
        conn = self.conn
        with conn.transaction(force_rollback=True):
            try:
                with conn.transaction():
                    connect(conn, self.guard, user).execute(sql)
            except Denied:
                pass
            except Refused as exc:
                if "no policy" not in exc.message:  # a table without a policy for the action
                    raise
            except psycopg.Error as exc:
                if not isinstance(self.guard.error_for(exc, user), Denied):
                    raise
            return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()

    def close(self) -> None:
        self.conn.close()
        with self.connect() as conn:
            conn.execute(f"DROP OWNED BY {self.role}")
            conn.execute(f"DROP ROLE {self.role}")
        self.db.close()


@pytest.fixture(scope="module")
def oracle(make_database_url: Any) -> Iterator[Oracle]:
    o = Oracle(make_database_url("postgres"))
    yield o
    o.close()


def canonical(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in rows), key=repr)


def assert_same_rows(oracle: Oracle, sql: str, user: AuthUser) -> None:
    native = canonical(oracle.native_rows(sql, user))
    guarded = oracle.guard_rows(sql, user)
    if guarded is None:
        # rls denies a statement that reads a table the user may not read at all: right
        # only when native RLS shows the user no row of a table the statement reads.
        hidden = [
            t for t in TABLE_NAMES if re.search(rf"\b{t}\b", sql) and not oracle.native_rows(f"SELECT 1 FROM {t}", user)
        ]
        assert hidden, (sql, user, "guard denied")
    else:
        assert canonical(guarded) == native, (sql, user)


# -- a small grammar of queries ---------------------------------------------------------------

COLUMNS = {"tasks": ["id", "project_id", "owner_id"], "projects": ["id", "owner_id"], "tags": ["id"], "notes": ["id"]}
numbers = st.integers(min_value=0, max_value=6)


@st.composite
def conditions(draw: Any, alias: str, table: str) -> str:
    column = draw(st.sampled_from(COLUMNS[table]))
    kind = draw(st.sampled_from(["cmp", "null", "bool", "like", "text", "none"]))
    if kind == "cmp":
        return f"{alias}.{column} {draw(st.sampled_from(['=', '<', '>', '<>']))} {draw(numbers)}"
    if kind == "null":
        return f"{alias}.{column} IS {draw(st.sampled_from(['NULL', 'NOT NULL']))}"
    if kind == "bool" and table == "tasks":
        return f"{alias}.public IS {draw(st.sampled_from(['TRUE', 'NOT TRUE']))}"
    if kind == "like" and table == "tasks":
        return f"{alias}.title LIKE '{draw(st.sampled_from(['a', 'b', 'c', 'g']))}%'"
    if kind == "text" and table in ("projects", "notes"):
        return f"{alias}.org = '{draw(st.sampled_from(['acme', 'beta', 'ACME']))}'"
    return "1 = 1"


@st.composite
def single(draw: Any) -> str:
    """One column of ids from one relation, in one of several shapes."""
    table = draw(st.sampled_from(["tasks", "projects", "tags", "notes"]))
    where = draw(conditions("x", table))
    shape = draw(st.sampled_from(["plain", "derived", "cte", "in", "exists", "scalar", "join", "left", "agg"]))
    if shape == "plain":
        return f"SELECT x.id FROM {table} x WHERE {where}"
    if shape == "derived":
        return f"SELECT x.id FROM (SELECT * FROM {table}) AS x WHERE {where}"
    if shape == "cte":
        return f"WITH x AS (SELECT * FROM {table}) SELECT x.id FROM x WHERE {where}"
    if shape == "in":
        return f"SELECT x.id FROM projects x WHERE x.id IN (SELECT t.project_id FROM tasks t WHERE {draw(conditions('t', 'tasks'))})"
    if shape == "exists":
        negate = draw(st.sampled_from(["", "NOT "]))
        return f"SELECT x.id FROM projects x WHERE {negate}EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = x.id)"
    if shape == "scalar":
        return "SELECT (SELECT COUNT(*) FROM tasks t WHERE t.project_id = x.id) FROM projects x"
    if shape in ("join", "left"):
        join = "LEFT JOIN" if shape == "left" else "JOIN"
        return f"SELECT t.id FROM tasks t {join} projects x ON t.project_id = x.id WHERE {draw(conditions('x', 'projects'))} OR x.id IS NULL"
    return f"SELECT COUNT(*) FROM {table} x WHERE {where}"


@st.composite
def queries(draw: Any) -> str:
    first = draw(single())
    if draw(st.booleans()):
        return first
    operator = draw(st.sampled_from(["UNION", "UNION ALL", "INTERSECT", "EXCEPT"]))
    return f"({first}) {operator} ({draw(single())})"


@settings(
    max_examples=int(os.environ.get("RLS_ORACLE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sql=queries())
def test_guard_returns_exactly_what_native_rls_returns(oracle: Oracle, sql: str) -> None:
    for user in USERS:
        assert_same_rows(oracle, sql, user)


@pytest.mark.parametrize("table", ["tasks", "projects", "tags", "notes", "members"])
@pytest.mark.parametrize("user", USERS, ids=repr)
def test_every_table_reads_the_same(oracle: Oracle, table: str, user: AuthUser) -> None:
    assert_same_rows(oracle, f"SELECT * FROM {table}", user)


WRITES = [
    ("tasks", "UPDATE tasks SET title = 'x' WHERE id < 5"),
    ("tasks", "UPDATE tasks SET owner_id = 2 WHERE id = 1"),
    ("tasks", "UPDATE tasks SET public = NOT public"),
    ("tasks", "DELETE FROM tasks WHERE public"),
    ("tasks", "DELETE FROM tasks WHERE id IN (SELECT p.id FROM projects p)"),
    ("tasks", "INSERT INTO tasks (id, project_id, owner_id, title, public) VALUES (8, 1, 1, 'h8', false)"),
    ("tasks", "INSERT INTO tasks (id, project_id, owner_id, title, public) VALUES (8, 1, 2, 'h8', false)"),
    ("tasks", "INSERT INTO tasks (id, project_id, owner_id, title, public) VALUES (8, 1, NULL, 'h8', true)"),
    ("projects", "UPDATE projects SET org = 'x'"),
    ("projects", "DELETE FROM projects"),
    ("tags", "DELETE FROM tags WHERE id = 1"),
    ("notes", "INSERT INTO notes (id, org, body) VALUES (9, 'acme', 'n9')"),
]


@pytest.mark.parametrize(("table", "sql"), WRITES)
@pytest.mark.parametrize("user", USERS, ids=repr)
def test_a_write_does_what_native_rls_lets_it_do(oracle: Oracle, table: str, sql: str, user: AuthUser) -> None:
    assert oracle.guard_write(sql, table, user) == oracle.native_write(sql, table, user)


# -- the oracle is not vacuous ----------------------------------------------------------------


def test_the_oracle_really_filters(oracle: Oracle) -> None:
    """Native RLS shows user 2 exactly their own and the public tasks, not every row."""
    rows = oracle.native_rows("SELECT id FROM tasks ORDER BY id", AuthUser(id=2))
    assert rows == [(2,), (3,), (5,), (7,)]
    assert oracle.native_rows("SELECT id FROM notes ORDER BY id", AuthUser(id=4, claims={"org": "acme"})) == [(1,)]


def test_the_oracle_really_writes(oracle: Oracle) -> None:
    before = oracle.native_write("SELECT 1", "tasks", AuthUser(id=1))
    after = oracle.native_write("DELETE FROM tasks", "tasks", AuthUser(id=1))
    assert [r[0] for r in before] == [1, 2, 3, 4, 5, 6, 7]
    assert [r[0] for r in after] == [2, 3, 5, 6, 7]


def test_native_connection_is_not_a_superuser(oracle: Oracle) -> None:
    with oracle.conn.transaction(force_rollback=True):
        conn = oracle.conn
        conn.execute(f"SET LOCAL ROLE {oracle.role}")
        assert conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchall() == [
            (False, False)
        ]
