"""Policies enforced over HTTP on every database: the seed documentation's examples, the
original's selection cases, WITH CHECK, invisible rows, and a conformance corpus."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest

from rls.database import Database
from tests import policy_eval
from tests.authkit import SECRET, login, make_app
from tests.client import Client

TABLES = (
    "CREATE TABLE todos (id {serial}, user_id {integer}, title {string}){table_options}",
    "CREATE TABLE artists (id {serial}, name {string}, user_id {integer}, author_id {integer}){table_options}",
    "CREATE TABLE articles (id {serial}, author_id {integer}, title {string}){table_options}",
    "CREATE TABLE comments (id {serial}, article_id {integer}, user_id {integer}, body {string}){table_options}",
    "CREATE TABLE reviews (id {serial}, user_id {integer}, rating {integer}){table_options}",
    "CREATE TABLE corpus (id {serial}, owner_id {integer}, owner_name {string}, tag {string}){table_options}",
)
# Hostile rows: NULL owners, names differing only in case, LIKE wildcards, a backslash,
# quotes, non-ASCII text.
CORPUS = [
    (1, 1, "alice", "a_b"),
    (2, 1, "Alice", "aXb"),
    (3, 2, "bob", "%"),
    (4, None, None, None),
    (5, 2, "ALICE", "a\\b"),
    (6, None, "alice", "it's"),
    (7, 3, "zoë", "Ünïcode"),
    (8, 1, "alice ", "A_B"),
]
CORPUS_POLICIES = [
    "owner_id = auth_user.id",
    "owner_name = auth_user.name",
    "owner_name <> auth_user.name",
    "NOT (owner_id = auth_user.id)",
    "owner_id = auth_user.id OR tag IS NULL",
    "tag LIKE 'a_b'",
    "tag LIKE 'a\\_b'",
    "tag ILIKE 'a_b'",
    "tag IN ('%', 'a\\b', 'it''s')",
    "tag LIKE '%''%' OR owner_name LIKE 'zo%'",
    "auth_user.is_authenticated AND owner_id IS NULL",
    "owner_id > 1 AND owner_id < auth_user.id",
]


class World:
    """A database with the auth tables, three callers and the test tables."""

    def __init__(self, url: str):
        self.app = make_app(url, auth_enabled=True, policy_refresh_interval=0.0)
        self.db: Database = self.app.db
        self.anonymous = Client(self.app)
        reply = self.anonymous.post("/auth/setup")
        assert reply.status == 200, reply.body
        admin_password = reply.json["Password"]
        types = self.db.dialect.DDL_TYPES
        self.db.run(lambda s: [s.execute(t.format_map(types)) for t in TABLES], write=True)
        self.db.refresh_schema()
        for name in ("alice", "bob"):
            assert (
                self.anonymous.post("/auth/register", {"username": name, "password": "password-" + name}).status == 200
            )
        self.admin = Client(self.app, login(self.anonymous, "rest_admin", admin_password))
        self.alice = Client(self.app, login(self.anonymous, "alice", "password-alice"))
        self.bob = Client(self.app, login(self.anonymous, "bob", "password-bob"))
        ids = dict(self.db.run(lambda s: s.execute("SELECT username, id FROM auth_users").rows))
        self.alice_id, self.bob_id, self.admin_id = ids["alice"], ids["bob"], ids["rest_admin"]

    def sql(self, statement, *params):
        return self.db.run(
            lambda s: s.execute(statement.replace("?", self.db.dialect.PLACEHOLDER), params).rows, write=True
        )

    def reset(self, table, columns, rows):
        marks = ", ".join(["?"] * len(columns.split(",")))
        self.sql(f"DELETE FROM {table}")
        for row in rows:
            self.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})", *row)
        if self.db.dialect.name == "postgres" and rows:  # explicit ids do not advance the sequence
            self.sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")

    def set_policies(self, table, *rows):
        """Replace every policy naming ``table`` (default policies stay)."""
        self.sql("DELETE FROM auth_policies WHERE table_name = ?", table)
        for action, expression in rows:
            self.sql(
                "INSERT INTO auth_policies (description, table_name, action, expression) VALUES (?, ?, ?, ?)",
                "test",
                table,
                action,
                expression,
            )


def worlds_fixture(setup: Callable[[World], None] | None = None) -> Any:
    """A module-scoped fixture ``worlds``: ``worlds(backend)`` is that backend's World, made
    once (then ``setup(world)``: the module's tables and policies) and closed at the end."""

    @pytest.fixture(scope="module")
    def worlds(make_database_url: Any) -> Iterator[Callable[[str], World]]:
        made: dict[str, World] = {}

        def get(backend: str) -> World:
            if backend not in made:
                world = World(make_database_url(backend))
                if setup is not None:
                    setup(world)
                made[backend] = world
            return made[backend]

        yield get
        for world in made.values():
            world.db.close()

    return worlds


worlds = worlds_fixture()


@pytest.fixture
def w(worlds, backend):
    world = worlds(backend)
    world.reset(
        "todos", "id, user_id, title", [(1, world.alice_id, "a1"), (2, world.alice_id, "a2"), (3, world.bob_id, "b1")]
    )
    world.reset(
        "artists",
        "id, name, user_id, author_id",
        [(1, "x", world.alice_id, world.bob_id), (2, "y", world.bob_id, world.alice_id)],
    )
    world.reset("articles", "id, author_id, title", [(1, world.alice_id, "hello"), (2, world.bob_id, "world")])
    world.reset(
        "comments", "id, article_id, user_id, body", [(1, 1, world.bob_id, "nice"), (2, 2, world.alice_id, "hm")]
    )
    world.reset("reviews", "id, user_id, rating", [(1, world.alice_id, 5)])
    for table in ("artists", "articles", "comments", "reviews", "corpus"):
        world.set_policies(table)
    return world


def ids(reply):
    assert reply.status == 200, reply.body
    return sorted(row["id"] for row in reply.json)


# -- the seed documentation's examples ---------------------------------------------------------


def test_default_policy_filters_every_table_by_user_id(w):
    assert ids(w.alice.get("/todos")) == [1, 2]
    assert ids(w.bob.get("/todos")) == [3]


def test_default_policy_denies_the_anonymous_user(w):
    reply = w.anonymous.get("/todos")
    assert (reply.status, reply.msg) == (401, "login required")


def test_default_policies_limit_the_auth_tables_to_admins(w):
    assert w.alice.get("/auth_policies").status == 403
    assert w.alice.get("/auth_users").status == 403
    assert w.admin.get("/auth_policies").status == 200
    assert w.anonymous.get("/auth_users").status == 401


def test_auth_users_never_shows_password_hashes(w):
    rows = w.admin.get("/auth_users").json
    assert rows and all("password" not in row for row in rows)
    assert w.admin.get("/auth_users", "select=password").status == 400
    assert w.admin.get("/auth_users", "password=like.*").status == 400


def test_example_make_a_table_public(w):
    reply = w.admin.post(
        "/auth_policies",
        {"table_name": "artists", "action": "all", "expression": "", "description": "make artists public"},
    )
    assert reply.status == 200, reply.body
    assert ids(w.anonymous.get("/artists")) == [1, 2]
    assert w.anonymous.post("/artists", {"name": "z"}).status == 200


def test_example_public_but_read_mine_limited_to_the_user(w):
    w.set_policies("artists", ("all", ""), ("read_mine", "user_id = auth_user.id"))
    assert ids(w.alice.get("/artists")) == [1, 2]
    assert ids(w.alice.get("/artists", "mine")) == [1]
    assert w.anonymous.get("/artists", "mine").status == 401


def test_example_restrict_to_logged_in_users(w):
    w.set_policies("artists", ("all", "auth_user.is_authenticated"))
    assert w.anonymous.get("/artists").status == 401
    assert ids(w.bob.get("/artists")) == [1, 2]


def test_example_use_the_author_id_column(w):
    w.set_policies("artists", ("all", "author_id = auth_user.id"))
    assert ids(w.alice.get("/artists")) == [2]
    assert ids(w.bob.get("/artists")) == [1]


# -- the original's selection cases ------------------------------------------------------------


def test_table_level_policy_beats_the_all_level(w):
    w.set_policies("articles", ("read", ""), ("all", "author_id = auth_user.id"))
    assert ids(w.anonymous.get("/articles")) == [1, 2]
    assert w.anonymous.delete("/articles", "id=eq.1").status == 401
    assert w.bob.delete("/articles", "id=gt.0").msg == "successfully deleted 1 rows"


def test_authenticated_only_read_falls_back_to_all_all_for_writes(w):
    w.set_policies("comments", ("read", "auth_user.is_authenticated"))
    assert ids(w.alice.get("/comments")) == [1, 2]
    assert w.anonymous.get("/comments").status == 401
    assert w.alice.put("/comments", {"body": "edited"}, "1=eq.1").msg == "successfully updated 1 rows"


def test_admin_only_table(w):
    w.set_policies("reviews", ("all", "auth_user.is_admin"))
    assert w.alice.get("/reviews").status == 403
    assert w.anonymous.get("/reviews").status == 401
    assert ids(w.admin.get("/reviews")) == [1]


def test_admins_get_no_implicit_bypass(w):
    assert ids(w.admin.get("/todos")) == []


def test_rows_on_the_winning_level_combine_with_or(w):
    w.set_policies("articles", ("read", "author_id = auth_user.id"), ("read", "title = 'world'"))
    assert ids(w.alice.get("/articles")) == [1, 2]


def test_no_policy_at_all_denies(w):
    w.sql("DELETE FROM auth_policies WHERE table_name = 'all'")
    try:
        assert w.alice.get("/todos").status == 403
    finally:
        w.sql(
            "INSERT INTO auth_policies (description, table_name, action, expression) VALUES ('default', 'all', 'all', 'user_id = auth_user.id')"
        )


# -- invisible rows and writes -------------------------------------------------------------------


def test_invisible_row_is_404_not_403(w):
    reply = w.alice.get("/todos/3")
    assert (reply.status, reply.msg) == (404, "data not found in database")


def test_count_counts_only_visible_rows(w):
    assert w.alice.get("/todos", "count").json == 2


def test_update_and_delete_touch_only_visible_rows(w):
    assert w.alice.put("/todos", {"title": "mine"}, "1=eq.1").msg == "successfully updated 2 rows"
    assert w.alice.delete("/todos", "1=eq.1").msg == "successfully deleted 2 rows"
    assert w.sql("SELECT id, title FROM todos") == [(3, "b1")]


def test_update_moving_a_row_to_another_owner_is_refused(w):
    reply = w.alice.put("/todos/1", {"user_id": w.bob_id})
    assert (reply.status, reply.msg) == (403, "unauthorized")
    assert w.sql("SELECT user_id FROM todos WHERE id = 1") == [(w.alice_id,)]


def test_bulk_insert_with_one_foreign_row_writes_nothing(w):
    reply = w.alice.post("/todos", [{"title": "ok", "user_id": w.alice_id}, {"title": "foreign", "user_id": w.bob_id}])
    assert reply.status == 403
    assert len(w.sql("SELECT id FROM todos")) == 3


def test_insert_without_owner_column_is_filled_with_the_user(w):
    assert w.alice.post("/todos", {"title": "filled"}).status == 200
    assert w.sql("SELECT user_id FROM todos WHERE title = 'filled'") == [(w.alice_id,)]


def test_anonymous_insert_is_login_required(w):
    assert w.anonymous.post("/todos", {"title": "x"}).status == 401


def test_debug_is_for_admins_only(w):
    assert w.alice.get("/todos", "debug").status == 403
    assert w.admin.get("/todos", "debug").status == 200


# -- policy writes are validated ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"table_name": "todos", "action": "fly", "expression": ""}, "unknown policy action"),
        ({"table_name": "nowhere", "action": "read", "expression": ""}, "does not exist"),
        ({"table_name": "todos", "action": "read", "expression": "nope = 1"}, "unknown column"),
        ({"table_name": "todos", "action": "read", "expression": "user_id = "}, "does not parse"),
        ({"table_name": "todos", "action": "read", "expression": "pg_sleep(1) IS NULL"}, "not allowed"),
        ({"table_name": "todos", "action": "read", "expression": "auth_user.id IS NULL"}, "may only be compared"),
    ],
)
def test_invalid_policy_is_refused_and_nothing_is_stored(w, body, fragment):
    before = w.sql("SELECT COUNT(*) FROM auth_policies")
    reply = w.admin.post("/auth_policies", {**body, "description": "bad"})
    assert reply.status == 400 and fragment in reply.msg, reply.body
    assert w.sql("SELECT COUNT(*) FROM auth_policies") == before


def test_policy_change_through_rest_applies_at_once(w):
    assert w.anonymous.get("/articles").status == 401
    w.admin.post(
        "/auth_policies", {"table_name": "articles", "action": "read", "expression": "", "description": "open"}
    )
    assert ids(w.anonymous.get("/articles")) == [1, 2]


# -- conformance corpus --------------------------------------------------------------------------


def token_for(user_id, name):
    claims = {"user_id": user_id, "name": name, "exp": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)}
    return jwt.encode(claims, SECRET, algorithm="HS256")


CORPUS_USERS = {
    "anonymous": None,
    "alice(1)": (1, "alice"),
    "bob(2)": (2, "bob"),
    "nameless(3)": (3, None),
}


@pytest.mark.parametrize("expression", CORPUS_POLICIES)
def test_conformance_corpus(w, expression):
    w.reset("corpus", "id, owner_id, owner_name, tag", CORPUS)
    w.set_policies("corpus", ("read", expression))
    rows = [dict(zip(("id", "owner_id", "owner_name", "tag"), r, strict=True)) for r in CORPUS]
    for label, identity in CORPUS_USERS.items():
        user = {"id": None} if identity is None else {"id": identity[0], "name": identity[1]}
        expected = sorted(r["id"] for r in rows if policy_eval.evaluate(expression, r, user))
        client = Client(w.app, None if identity is None else token_for(*identity))
        reply = client.get("/corpus", "select=id")
        got = ids(reply) if reply.status == 200 else []
        assert reply.status in (200, 401), reply.body
        assert got == expected, (label, expression)


# -- auth_users through REST ---------------------------------------------------------------------


def stored_password(w, username):
    return w.sql("SELECT password FROM auth_users WHERE username = ?", username)[0][0]


def test_user_created_through_rest_gets_a_hashed_password(w):
    reply = w.admin.post("/auth_users", {"username": "carol", "password": "password-carol", "is_admin": False})
    assert reply.status == 200, reply.body
    try:
        assert stored_password(w, "carol").startswith("$argon2id$")
        assert w.anonymous.post("/auth/login", {"username": "carol", "password": "password-carol"}).status == 200
    finally:
        w.sql("DELETE FROM auth_users WHERE username = 'carol'")


def test_password_changed_through_rest_is_hashed(w):
    w.admin.post("/auth_users", {"username": "dave", "password": "password-dave", "is_admin": False})
    try:
        assert w.admin.put("/auth_users", {"password": "another-password"}, "username=eq.dave").status == 200
        assert stored_password(w, "dave").startswith("$argon2id$")
        assert w.anonymous.post("/auth/login", {"username": "dave", "password": "another-password"}).status == 200
    finally:
        w.sql("DELETE FROM auth_users WHERE username = 'dave'")


def test_password_rules_apply_to_rest_writes(w):
    reply = w.admin.post("/auth_users", {"username": "eve", "password": "short", "is_admin": False})
    assert reply.status == 400
    assert w.sql("SELECT COUNT(*) FROM auth_users WHERE username = 'eve'") == [(0,)]


def test_users_cannot_write_auth_users(w):
    assert w.alice.put("/auth_users", {"is_admin": True}, "username=eq.alice").status == 403
    assert w.sql("SELECT is_admin FROM auth_users WHERE username = 'alice'")[0][0] in (False, 0)
