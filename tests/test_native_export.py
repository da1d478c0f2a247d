"""The native export (``rest auth policy export --native``) on a real PostgreSQL server.

A corpus of policies is exported, the statements are applied to a real schema, and
for several users the rows PostgreSQL lets a plain role see (not a superuser, not the
owner: both bypass row-level security) are compared with rows written down by hand
here — never computed by rls.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
import pytest

from rls.auth.setup import DEFAULT_POLICIES
from rls.database import Database
from rls.policy.model import Policy
from rls.policy.native import export_native

TOKEN = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
TABLES = [
    "CREATE TABLE auth_users (id integer PRIMARY KEY, username text)",
    "CREATE TABLE auth_policies (id integer PRIMARY KEY, expression text)",
    "CREATE TABLE todos (id integer PRIMARY KEY, user_id integer, title text)",
    "CREATE TABLE posts (id integer PRIMARY KEY, author_id integer, published boolean)",
    "CREATE TABLE members (team_id integer, user_id integer)",
    "CREATE TABLE docs (id integer PRIMARY KEY, team_id integer)",
    "CREATE TABLE secrets (id integer PRIMARY KEY)",
    "CREATE TABLE orgdocs (id integer PRIMARY KEY, org text)",
    "CREATE TABLE orgnotes (id integer PRIMARY KEY, org varchar(10))",
    "CREATE TABLE grades (id integer PRIMARY KEY, level smallint)",
    "CREATE TABLE handles (id integer PRIMARY KEY, user_id text)",
    "CREATE TABLE lookup (id integer PRIMARY KEY)",
    "CREATE TABLE notes (id integer PRIMARY KEY, team_ref integer, team_id integer, user_id integer)",
    "CREATE TABLE board (id integer PRIMARY KEY)",
    "CREATE TABLE events (id integer PRIMARY KEY, day date, token uuid, flag boolean, score real, cap numeric(4, 1))",
]
ROWS = [
    "INSERT INTO auth_users VALUES (1, 'one'), (2, 'two'), (3, 'root')",
    "INSERT INTO auth_policies VALUES (1, 'user_id = auth_user.id')",
    "INSERT INTO todos VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c'), (4, NULL, 'd')",
    "INSERT INTO posts VALUES (1, 1, true), (2, 1, false), (3, 2, false), (4, NULL, true), (5, 2, NULL)",
    "INSERT INTO members VALUES (10, 1), (20, 2), (30, 2)",
    "INSERT INTO docs VALUES (1, 10), (2, 20), (3, 30), (4, NULL), (5, 40)",
    "INSERT INTO secrets VALUES (1), (2)",
    "INSERT INTO orgdocs VALUES (1, 'acme'), (2, 'beta'), (3, NULL), (4, 'ACME'), (5, 'acme ')",
    "INSERT INTO orgnotes VALUES (1, 'acme'), (2, 'beta'), (3, NULL), (4, 'ACME'), (5, 'abcdefghij')",
    "INSERT INTO grades VALUES (1, 1), (2, 2), (3, 3), (4, NULL)",
    "INSERT INTO handles VALUES (1, 'alice'), (2, '1'), (3, '2abc'), (4, NULL)",
    "INSERT INTO lookup VALUES (1), (2)",
    "INSERT INTO notes VALUES (1, 10, 20, 2), (2, 20, 10, 1), (3, NULL, 10, 1)",
    "INSERT INTO board VALUES (1), (2)",
    f"INSERT INTO events VALUES (1, '2024-01-01', '{TOKEN}', true, 1.5, 12.5), (2, '2024-01-02', NULL, false, 1e30, 1),"
    " (3, NULL, NULL, NULL, NULL, NULL)",
]
POLICIES = [
    # The defaults setup stores: admin-only auth tables, and `user_id = auth_user.id` on
    # `all`, which fits only the tables that have a user_id.
    *(Policy(p.table_name, p.action, p.expression) for p in DEFAULT_POLICIES),
    Policy("posts", "read", "published OR author_id = auth_user.id"),
    Policy("posts", "all", "author_id = auth_user.id"),
    # The outer column qualified by the table's name: `team_id` alone is ambiguous.
    Policy("docs", "read", "EXISTS (SELECT 1 FROM members m WHERE m.team_id = docs.team_id AND m.user_id = auth_user.id)"),
    Policy("secrets", "all", "auth_user.is_admin"),
    Policy("orgdocs", "read", "auth_user.org = org"),
    Policy("orgnotes", "read", "org = auth_user.org OR auth_user.is_admin"),
    Policy("grades", "read", "level <= auth_user.level"),
    # A sub-query table aliased as the policy table: the outer column must still bind
    # outside. (notes has team_id and user_id only because rls's resolve_columns raises
    # KeyError when the alias's column is missing from the policy table: reported.)
    Policy("notes", "read", "EXISTS (SELECT 1 FROM members notes WHERE notes.user_id = auth_user.id AND notes.team_id = team_ref)"),
    Policy("board", "read", "auth_user.is_authenticated"),
    Policy("board", "all", "auth_user.id IN (1, 3)"),
    Policy(
        "events",
        "read",
        "token = auth_user.token OR flag = auth_user.flag OR day = auth_user.day"
        " OR score > auth_user.score OR auth_user.cap = cap",
    ),
]  # fmt: skip

# Users as the application sets them: the settings of one transaction.
USERS: dict[str, dict[str, str]] = {
    "anonymous": {},
    "anonymous claiming admin and acme": {"rls.is_admin": "true", "rls.claim_org": "acme", "rls.claim_level": "3"},
    # What a local setting reads as once an earlier transaction on the connection set it.
    "empty id claiming admin and acme": {"rls.user_id": "", "rls.is_admin": "true", "rls.claim_org": "acme"},
    "user 1": {"rls.user_id": "1", "rls.is_admin": "false"},
    "user 2": {"rls.user_id": "2", "rls.is_admin": "false"},
    "admin 3": {"rls.user_id": "3", "rls.is_admin": "true"},
    "string id alice": {"rls.user_id": "alice"},
    "string id 2abc": {"rls.user_id": "2abc"},
    "user 2 with claims": {"rls.user_id": "2", "rls.claim_org": "acme", "rls.claim_level": "2"},
}

# Visible ids per user and table, worked out by hand from ROWS and POLICIES.
# A table not listed for a user shows nothing.
EXPECTED: dict[str, dict[str, list[int]]] = {
    "anonymous": {"posts": [1, 4]},
    "anonymous claiming admin and acme": {"posts": [1, 4]},
    "empty id claiming admin and acme": {"posts": [1, 4]},
    "user 1": {"todos": [1, 2], "posts": [1, 2, 4], "docs": [1], "handles": [2], "notes": [1], "board": [1, 2]},
    "user 2": {"todos": [3], "posts": [1, 3, 4, 5], "docs": [2, 3], "notes": [2], "board": [1, 2]},
    "admin 3": {
        "auth_users": [1, 2, 3],
        "auth_policies": [1],
        "posts": [1, 4],
        "secrets": [1, 2],
        "orgnotes": [1, 2, 3, 4, 5],
        "board": [1, 2],
    },
    "string id alice": {"posts": [1, 4], "handles": [1], "board": [1, 2]},
    "string id 2abc": {"posts": [1, 4], "handles": [3], "board": [1, 2]},
    "user 2 with claims": {
        "todos": [3],
        "posts": [1, 3, 4, 5],
        "docs": [2, 3],
        "orgdocs": [1],
        "orgnotes": [1],
        "grades": [1, 2],
        "notes": [2],
        "board": [1, 2],
    },
}
EXPECTED_MEMBERS = {"user 1": [(10, 1)], "user 2": [(20, 2), (30, 2)], "user 2 with claims": [(20, 2), (30, 2)]}
ID_TABLES = [t for t in (s.split()[2] for s in TABLES) if t != "members"]


class Native:
    """The exported policies applied to a fresh schema, and a plain role to query as."""

    def __init__(self, url: str):
        self.db = Database(url)
        self.args = self.db.dialect.connect_args(url)
        self.role = f"rls_native_{secrets.token_hex(4)}"
        try:
            self._install(url)
        except BaseException:
            self.db.close()
            raise
        self.conn = self.connect()

    def _install(self, url: str) -> None:
        with self.connect() as conn:
            for statement in [*TABLES, *ROWS]:
                conn.execute(statement)
        self.statements = export_native(POLICIES, self.db.refresh_schema())
        schema = url.rsplit("search_path=", 1)[1]
        with self.connect() as conn:
            for statement in self.statements:
                conn.execute(statement)
            conn.execute(f"CREATE ROLE {self.role} NOLOGIN NOSUPERUSER NOBYPASSRLS")
            conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {self.role}')
            conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {self.role}')

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.args, autocommit=True)

    def run(self, settings: Mapping[str, str], sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """``sql`` as the plain role with ``settings``, in a transaction rolled back after."""
        # One connection throughout, as an application pool would: settings of an earlier
        # transaction read as '' afterwards, which must mean "not set".
        conn = self.conn
        with conn.transaction(force_rollback=True):
            conn.execute(f"SET LOCAL ROLE {self.role}")
            for name, value in settings.items():
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            cur = conn.execute(sql, params)
            return list(cur.fetchall()) if cur.description else [("rowcount", cur.rowcount)]

    def close(self) -> None:
        self.conn.close()
        with self.connect() as conn:
            conn.execute(f"DROP OWNED BY {self.role}")
            conn.execute(f"DROP ROLE {self.role}")
        self.db.close()


@pytest.fixture(scope="module")
def native(make_database_url: Any) -> Iterator[Native]:
    n = Native(make_database_url("postgres"))
    yield n
    n.close()


@pytest.mark.parametrize("table", ID_TABLES)
@pytest.mark.parametrize("user", list(USERS))
def test_visible_rows_are_the_ones_written_by_hand(native: Native, user: str, table: str) -> None:
    rows = native.run(USERS[user], f'SELECT id FROM "{table}" ORDER BY id')
    assert [r[0] for r in rows] == EXPECTED[user].get(table, [])


@pytest.mark.parametrize("user", list(USERS))
def test_a_sub_query_table_shows_its_own_users_rows(native: Native, user: str) -> None:
    rows = native.run(USERS[user], "SELECT team_id, user_id FROM members ORDER BY team_id")
    assert rows == EXPECTED_MEMBERS.get(user, [])


def test_the_role_is_really_filtered(native: Native) -> None:
    """Not a vacuous oracle: the owner (a superuser here) sees every row, the role does not."""
    with native.connect() as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM secrets ORDER BY id")] == [1, 2]
    assert native.run({}, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user") == [
        (False, False)
    ]


@pytest.mark.parametrize(
    "value",
    ["", " ", "x", "1 ", " 1", "+1", "1.5", "1e3", "-", "--1", "NaN", "99999999999999999999999999999999999",
     "2147483648", "-2147483649", "32768", "0x10", "١", "1'; DROP TABLE todos; --", "true", "t"],
)  # fmt: skip
def test_no_setting_value_makes_a_cast_raise(native: Native, value: str) -> None:
    settings = {"rls.user_id": value, "rls.is_admin": value, "rls.claim_org": value, "rls.claim_level": value}
    for table in ID_TABLES:
        native.run(settings, f'SELECT id FROM "{table}"')  # raises on a cast error


@pytest.mark.parametrize(
    ("user_id", "visible"), [("2147483648", []), ("1", [1, 2]), ("01", [1, 2]), ("-1", []), ("1.0", [])]
)
def test_an_id_meets_an_integer_column_only_as_a_valid_integer(
    native: Native, user_id: str, visible: list[int]
) -> None:
    assert [r[0] for r in native.run({"rls.user_id": user_id}, "SELECT id FROM todos ORDER BY id")] == visible


@pytest.mark.parametrize(("org", "visible"), [("abcdefghij", [5]), ("abcdefghijk", []), ("abcdefghij ", [])])
def test_a_claim_meets_a_varchar_column_untruncated(native: Native, org: str, visible: list[int]) -> None:
    settings = {"rls.user_id": "1", "rls.claim_org": org}
    assert [r[0] for r in native.run(settings, "SELECT id FROM orgnotes ORDER BY id")] == visible


@pytest.mark.parametrize(
    ("level", "visible"), [("2", [1, 2]), ("40000", [1, 2, 3]), ("99999999999999999999", []), ("2.5", []), ("x", [])]
)
def test_a_claim_meets_a_smallint_column_as_any_integer_or_not_at_all(
    native: Native, level: str, visible: list[int]
) -> None:
    settings = {"rls.user_id": "1", "rls.claim_level": level}
    assert [r[0] for r in native.run(settings, "SELECT id FROM grades ORDER BY id")] == visible


@pytest.mark.parametrize(
    ("claim", "value", "visible"),
    [
        ("token", TOKEN, [1]),
        ("token", TOKEN.upper().replace("-", ""), [1]),
        ("token", TOKEN[:-1], []),
        ("flag", "true", [1]),
        ("flag", "f", [2]),
        ("flag", "maybe", []),
        ("day", "2024-01-01", []),  # no safe cast to date: matches nothing (the export says so)
        ("day", "2024-02-30", []),
        ("score", "1", [1, 2]),
        ("score", "2e1", [2]),
        ("score", "1e999", []),
        ("score", "-1e-400", []),
        ("score", "1,5", []),
        ("cap", "12.50", [1]),
        ("cap", "99999", []),  # beyond numeric(4, 1): no match, no overflow
        ("cap", "1e", []),
    ],
)
def test_uuid_boolean_date_and_number_claims(native: Native, claim: str, value: str, visible: list[int]) -> None:
    settings = {"rls.user_id": "1", f"rls.claim_{claim}": value}
    assert [r[0] for r in native.run(settings, "SELECT id FROM events ORDER BY id")] == visible


def test_an_attribute_without_a_safe_cast_is_commented(native: Native) -> None:
    lines = _statement(native, 'CREATE POLICY rls_read ON "events"').splitlines()
    assert lines[0] == "-- auth_user.day meets a date value: no safe cast natively, it matches nothing"


# -- writes -------------------------------------------------------------------------------------

ROLE_DENIED = "new row violates row-level security policy"


def test_insert_of_an_own_row_is_allowed(native: Native) -> None:
    sql = "INSERT INTO todos VALUES (10, 1, 'mine') RETURNING id"
    assert native.run(USERS["user 1"], sql) == [(10,)]


@pytest.mark.parametrize(
    ("user", "sql"),
    [
        ("user 1", "INSERT INTO todos VALUES (10, 2, 'for someone else')"),
        ("anonymous", "INSERT INTO todos VALUES (10, NULL, 'anonymous')"),
        ("string id 2abc", "INSERT INTO todos VALUES (10, 2, 'coerced?')"),
        ("admin 3", "INSERT INTO orgdocs VALUES (10, 'acme')"),  # no fitting policy: denied
        ("admin 3", "INSERT INTO lookup VALUES (10)"),
        ("user 1", "INSERT INTO secrets VALUES (10)"),
        ("anonymous claiming admin and acme", "INSERT INTO secrets VALUES (10)"),
        ("user 1", "UPDATE todos SET user_id = 2 WHERE id = 1"),
    ],
)
def test_writes_that_fail_the_policy_are_refused(native: Native, user: str, sql: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=ROLE_DENIED):
        native.run(USERS[user], sql)


@pytest.mark.parametrize(
    ("user", "sql", "count"),
    [
        ("user 1", "UPDATE todos SET title = 'x'", 2),
        ("user 2", "DELETE FROM todos", 1),
        ("user 1", "DELETE FROM secrets", 0),
        ("admin 3", "DELETE FROM secrets", 2),
        ("admin 3", "DELETE FROM lookup", 0),
        ("admin 3", "UPDATE orgnotes SET org = 'x'", 0),  # reads all of them, updates none
        ("user 2", "UPDATE posts SET published = true", 2),
        ("user 1", "DELETE FROM board", 2),
        ("user 2", "DELETE FROM board", 0),
        ("string id alice", "DELETE FROM board", 0),
    ],
)
def test_update_and_delete_touch_only_rows_the_policy_lets_through(
    native: Native, user: str, sql: str, count: int
) -> None:
    assert native.run(USERS[user], sql) == [("rowcount", count)]


# -- the statements themselves --------------------------------------------------------------------


def _statement(native: Native, start: str) -> str:
    return next(s for s in native.statements if s.splitlines()[-1].startswith(start))


def test_a_command_without_a_fitting_policy_gets_a_commented_deny_policy(native: Native) -> None:
    statement = _statement(native, 'CREATE POLICY rls_create ON "orgdocs"')
    assert statement.splitlines() == [
        "-- a policy on all/all ignored here, it grants nothing: unknown column in policy expression: user_id",
        "-- no policy fits orgdocs/create: denied",
        'CREATE POLICY rls_create ON "orgdocs" FOR INSERT TO PUBLIC WITH CHECK (false)',
    ]
    assert _statement(native, 'CREATE POLICY rls_update ON "lookup"').endswith("USING (false) WITH CHECK (false)")


def test_every_table_has_row_level_security_forced(native: Native) -> None:
    with native.connect() as conn:
        rows = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
            " AND relkind = 'r' AND NOT (relrowsecurity AND relforcerowsecurity)"
        ).fetchall()
    assert rows == []
