"""Differential test: the guard against native PostgreSQL row-level security.

The same policies are exported as CREATE POLICY statements (``rest auth policy export
--native``); hypothesis generates queries with joins, sub-queries, CTEs and set
operations; for several users, including the anonymous one, the rows the guard lets
through must be exactly the rows PostgreSQL itself lets through.
"""

from __future__ import annotations

import secrets

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rls import AuthUser, Guard, Policy
from rls.database import Database
from rls.policy.native import export_native

TABLES = [
    "CREATE TABLE projects (id integer PRIMARY KEY, owner_id integer, org text)",
    "CREATE TABLE tasks (id integer PRIMARY KEY, project_id integer, owner_id integer, title text, public boolean)",
    "CREATE TABLE tags (id integer PRIMARY KEY, name text)",
    "CREATE TABLE members (org text, user_id integer)",
    "INSERT INTO projects VALUES (1, 1, 'acme'), (2, 2, 'acme'), (3, 2, 'beta'), (4, NULL, 'beta'), (5, 3, NULL)",
    "INSERT INTO tasks VALUES (1, 1, 1, 'a1', false), (2, 1, 2, 'b2', true), (3, 2, 2, 'c3', false),"
    " (4, 3, 1, 'd4', NULL), (5, 4, NULL, 'e5', true), (6, 5, 3, 'f6', false), (7, NULL, 2, 'g7', false)",
    "INSERT INTO tags VALUES (1, 'red'), (2, 'blue'), (3, 'green')",
    "INSERT INTO members VALUES ('acme', 1), ('beta', 1), ('acme', 3)",
]
POLICIES = [
    Policy("tasks", "read", "owner_id = auth_user.id OR public OR auth_user.is_admin"),
    Policy(
        "projects",
        "read",
        "owner_id = auth_user.id OR org IN (SELECT m.org FROM members m WHERE m.user_id = auth_user.id)",
    ),
    Policy("tags", "all", ""),
    Policy("members", "read", "user_id = auth_user.id OR auth_user.is_admin"),
]
USERS = [AuthUser(), AuthUser(id=1), AuthUser(id=2), AuthUser(id=3, is_admin=True)]


class Oracle:
    def __init__(self, url: str):
        self.db = Database(url)
        self.role = f"rls_oracle_{secrets.token_hex(4)}"
        schema = url.rsplit("search_path=", 1)[1]

        def setup(session):
            for statement in TABLES:
                session.execute(statement)

        self.db.run(setup, write=True)
        native = export_native(POLICIES, self.db.refresh_schema())

        def install(session):
            for statement in native:
                session.execute(statement)
            session.execute(f"CREATE ROLE {self.role} NOLOGIN NOSUPERUSER NOBYPASSRLS")
            session.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {self.role}')
            session.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {self.role}')

        self.db.run(install, write=True)
        self.guard = Guard(POLICIES, dialect="postgres", schema=lambda: (self.db.schema_version, self.db.schema()))

    def native_rows(self, sql: str, user: AuthUser) -> list[tuple]:
        def work(session):
            session.execute(f"SET LOCAL ROLE {self.role}")
            session.execute(
                "SELECT set_config('rls.user_id', %s, true), set_config('rls.is_admin', %s, true)",
                ("" if user.id is None else str(user.id), "true" if user.is_admin else "false"),
            )
            rows = session.execute(sql.replace("%", "%%")).rows
            session.connection.rollback()
            return rows

        return self.db.run(work, transaction=True)

    def guard_rows(self, sql: str, user: AuthUser) -> list[tuple]:
        statement = self.guard.rewrite(sql.replace("%", "%%"), user)
        return self.db.run(lambda s: s.execute(statement.sql, statement.params).rows)

    def close(self):
        self.db.run(lambda s: s.execute(f"DROP OWNED BY {self.role}"), write=True)
        self.db.run(lambda s: s.execute(f"DROP ROLE {self.role}"), write=True)
        self.db.close()


@pytest.fixture(scope="module")
def oracle(make_database_url):
    o = Oracle(make_database_url("postgres"))
    yield o
    o.close()


# -- a small grammar of queries ---------------------------------------------------------------

COLUMNS = {"tasks": ["id", "project_id", "owner_id"], "projects": ["id", "owner_id"], "tags": ["id"]}
numbers = st.integers(min_value=0, max_value=6)


@st.composite
def conditions(draw, alias, table):
    column = draw(st.sampled_from(COLUMNS[table]))
    kind = draw(st.sampled_from(["cmp", "null", "bool", "like", "none"]))
    if kind == "cmp":
        return f"{alias}.{column} {draw(st.sampled_from(['=', '<', '>', '<>']))} {draw(numbers)}"
    if kind == "null":
        return f"{alias}.{column} IS {draw(st.sampled_from(['NULL', 'NOT NULL']))}"
    if kind == "bool" and table == "tasks":
        return f"{alias}.public IS {draw(st.sampled_from(['TRUE', 'NOT TRUE']))}"
    if kind == "like" and table == "tasks":
        return f"{alias}.title LIKE '{draw(st.sampled_from(['a', 'b', 'c', 'g']))}%'"
    return "1 = 1"


@st.composite
def single(draw):
    """One column of ids from one relation, in one of several shapes."""
    table = draw(st.sampled_from(["tasks", "projects", "tags"]))
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
def queries(draw):
    first = draw(single())
    if draw(st.booleans()):
        return first
    operator = draw(st.sampled_from(["UNION", "UNION ALL", "INTERSECT", "EXCEPT"]))
    return f"({first}) {operator} ({draw(single())})"


def canonical(rows):
    return sorted((tuple(r) for r in rows), key=repr)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sql=queries())
def test_guard_returns_exactly_what_native_rls_returns(oracle, sql):
    for user in USERS:
        assert canonical(oracle.guard_rows(sql, user)) == canonical(oracle.native_rows(sql, user)), (sql, user)


def test_the_oracle_really_filters(oracle):
    """Guard against a vacuous oracle: native RLS hides rows from user 2."""
    everything = oracle.db.run(lambda s: s.execute("SELECT id FROM tasks").rows)
    assert len(oracle.native_rows("SELECT id FROM tasks", AuthUser(id=2))) < len(everything)


def test_export_enables_and_forces_rls(oracle):
    forced = oracle.db.run(
        lambda s: s.execute("SELECT relname FROM pg_class WHERE relforcerowsecurity AND relname = 'tasks'").rows
    )
    assert forced == [("tasks",)]


def test_native_connection_is_not_a_superuser(oracle):
    def work(session):
        session.execute(f"SET LOCAL ROLE {oracle.role}")
        return session.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").rows

    assert oracle.db.run(work, transaction=True) == [(False, False)]


del psycopg
