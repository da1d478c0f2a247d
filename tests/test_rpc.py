"""``/rpc/<function>`` on PostgreSQL: deny by default (only rest.rpc_functions), arguments
checked against the catalog and bound by name, SETOF-table results filtered by the table's
read policy for the caller; a clear 404 on the databases without functions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.authkit import login, make_app
from tests.client import Client

FUNCTIONS = (
    "CREATE TABLE todos (id serial PRIMARY KEY, user_id integer, title text)",
    "CREATE TABLE secrets (id serial PRIMARY KEY, body text)",
    "CREATE FUNCTION all_todos() RETURNS SETOF todos LANGUAGE sql STABLE AS 'SELECT * FROM todos ORDER BY id'",
    "CREATE FUNCTION titled(pattern text) RETURNS SETOF todos LANGUAGE sql STABLE"
    " AS 'SELECT * FROM todos WHERE title LIKE pattern ORDER BY id'",
    "CREATE FUNCTION first_todo() RETURNS todos LANGUAGE sql STABLE AS 'SELECT * FROM todos ORDER BY id LIMIT 1'",
    "CREATE FUNCTION all_secrets() RETURNS SETOF secrets LANGUAGE sql STABLE AS 'SELECT * FROM secrets'",
    "CREATE FUNCTION add(a integer, b integer DEFAULT 10) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT a + b'",
    "CREATE FUNCTION todo_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM todos'",
    "CREATE FUNCTION touch(t text) RETURNS void LANGUAGE sql VOLATILE AS 'INSERT INTO secrets (body) VALUES (t)'",
    "CREATE FUNCTION sneaky() RETURNS integer LANGUAGE plpgsql STABLE"
    " AS $$ BEGIN PERFORM touch('sneaky'); RETURN 1; END $$",
    "CREATE FUNCTION pairs() RETURNS TABLE(k text, v integer) LANGUAGE sql IMMUTABLE"
    " AS $$ SELECT 'x', 1 UNION ALL SELECT 'y', 2 $$",
    "CREATE FUNCTION echo(j jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS 'SELECT j'",
    "CREATE FUNCTION over(a integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT a'",
    "CREATE FUNCTION over(a text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT a'",
    "CREATE FUNCTION unlisted() RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 1'",
    "CREATE FUNCTION now() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'the schema''s own' $$",
)
LISTED = ("all_todos", "titled", "first_todo", "all_secrets", "add", "todo_count", "touch", "sneaky", "pairs",
          "echo", "over", "version", "missing", "now")  # fmt: skip


class World:
    def __init__(self, url: str):
        self.app = make_app(url, auth_enabled=True, policy_refresh_interval=0.0, rpc_functions=LISTED)
        self.anonymous = Client(self.app)
        password = self.anonymous.post("/auth/setup").json["Password"]
        self.app.db.run(lambda s: [s.execute(statement) for statement in FUNCTIONS], write=True)
        self.app.db.refresh_schema()
        for name in ("alice", "bob"):
            assert (
                self.anonymous.post("/auth/register", {"username": name, "password": "password-" + name}).status == 200
            )
        self.admin = Client(self.app, login(self.anonymous, "rest_admin", password))
        self.alice = Client(self.app, login(self.anonymous, "alice", "password-alice"))
        self.bob = Client(self.app, login(self.anonymous, "bob", "password-bob"))
        ids = dict(self.sql("SELECT username, id FROM auth_users"))
        self.alice_id, self.bob_id = ids["alice"], ids["bob"]
        rows = [(self.alice_id, "a1"), (self.bob_id, "b1"), (self.alice_id, "a2"), (self.bob_id, "b2")]
        for user_id, title in rows:
            self.sql("INSERT INTO todos (user_id, title) VALUES (%s, %s)", user_id, title)
        self.sql("INSERT INTO secrets (body) VALUES ('classified')")

    def sql(self, statement: str, *params: object) -> list[tuple[object, ...]]:
        return self.app.db.run(lambda s: s.execute(statement, params).rows, write=True)


@pytest.fixture(scope="module")
def world(make_database_url) -> Iterator[World]:
    w = World(make_database_url("postgres"))
    yield w
    w.app.db.close()


def titles(reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [row["title"] for row in reply.json]


# -- SETOF <table>: the table's read policy filters the result ---------------------------


def test_rpc_setof_table_result_is_filtered_by_the_read_policy(world):
    assert titles(world.alice.post("/rpc/all_todos")) == ["a1", "a2"]
    assert titles(world.bob.post("/rpc/all_todos")) == ["b1", "b2"]


def test_rpc_setof_table_result_over_get_is_filtered_too(world):
    assert titles(world.alice.get("/rpc/titled", "pattern=%25")) == ["a1", "a2"]
    assert titles(world.bob.get("/rpc/titled", "pattern=b%25")) == ["b1", "b2"]


def test_rpc_setof_table_result_rows_carry_every_column(world):
    rows = world.alice.post("/rpc/titled", {"pattern": "a1"}).json
    assert rows == [{"id": rows[0]["id"], "user_id": world.alice_id, "title": "a1"}]


def test_rpc_argument_is_a_value_never_sql(world):
    assert titles(world.alice.post("/rpc/titled", {"pattern": "' OR 1=1 --"})) == []
    assert titles(world.alice.post("/rpc/titled", {"pattern": "a%"})) == ["a1", "a2"]


def test_rpc_single_row_result_hidden_by_the_policy_is_null(world):
    # The function returns the first row: alice's. Bob may not read it.
    assert world.alice.post("/rpc/first_todo").json["title"] == "a1"
    reply = world.bob.post("/rpc/first_todo")
    assert (reply.status, reply.json) == (200, None)


def test_rpc_table_result_denied_by_the_read_policy_is_refused(world):
    # secrets has no read policy for alice (the setup's user_id policy does not fit it).
    reply = world.alice.post("/rpc/all_secrets")
    assert reply.status == 403, reply.body
    assert world.anonymous.post("/rpc/all_todos").status == 401


# -- other results: the function's own, with the server's privileges ------------------


def test_rpc_scalar_result_with_named_and_default_arguments(world):
    assert world.alice.get("/rpc/add", "a=2").json == 12
    assert world.alice.post("/rpc/add", {"a": 2, "b": 3}).json == 5


def test_rpc_other_result_types_run_with_the_servers_privileges(world):
    # Documented: a scalar computed inside the function sees every row.
    assert world.bob.post("/rpc/todo_count").json == 4
    assert world.alice.post("/rpc/pairs").json == [{"k": "x", "v": 1}, {"k": "y", "v": 2}]
    assert world.alice.post("/rpc/echo", {"j": {"a": [1, 2]}}).json == {"a": [1, 2]}


def test_rpc_volatile_function_needs_post(world):
    before = world.sql("SELECT count(*) FROM secrets")[0][0]
    reply = world.alice.get("/rpc/touch", "t=x")
    assert reply.status == 405, reply.body
    assert world.sql("SELECT count(*) FROM secrets")[0][0] == before
    assert world.alice.post("/rpc/touch", {"t": "written"}).status == 200
    assert world.sql("SELECT count(*) FROM secrets")[0][0] == before + 1
    world.sql("DELETE FROM secrets WHERE body = 'written'")


def test_rpc_get_runs_read_only_even_when_a_stable_function_writes(world):
    reply = world.alice.get("/rpc/sneaky")
    assert reply.status == 400, reply.body
    assert "read-only" in reply.msg
    assert world.sql("SELECT count(*) FROM secrets WHERE body = 'sneaky'")[0][0] == 0


# -- refusals -------------------------------------------------------------------------


def test_rpc_function_not_listed_is_404_saying_so(world):
    reply = world.alice.post("/rpc/unlisted")
    assert reply.status == 404
    assert "not enabled" in reply.msg and "rest.rpc_functions" in reply.msg


def test_rpc_listed_function_must_be_in_the_served_schema(world):
    # version() exists in pg_catalog, missing() nowhere: neither is callable.
    for name in ("version", "missing"):
        reply = world.alice.post(f"/rpc/{name}")
        assert reply.status == 404, reply.body
        assert "does not exist" in reply.msg


def test_rpc_calls_the_function_of_the_served_schema_not_pg_catalogs(world):
    # pg_catalog comes first on the search path: an unqualified now() is the built-in.
    assert world.alice.post("/rpc/now").json == "the schema's own"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/rpc/add", {"a": 1, "c": 2}, "unknown argument c"),
        ("/rpc/add", {"b": 1}, "missing argument a"),
        ("/rpc/add", [1], "JSON object"),
        ("/rpc/add", {"a": [1]}, "objects and arrays"),
        ("/rpc/over", {"a": 1}, "overloaded"),
    ],
    ids=["unknown", "missing", "not-object", "array-for-integer", "overloaded"],
)
def test_rpc_bad_arguments_are_400(world, path, body, message):
    reply = world.alice.post(path, body)
    assert reply.status == 400, reply.body
    assert message in reply.msg


def test_rpc_argument_the_database_cannot_read_is_400(world):
    reply = world.alice.post("/rpc/add", {"a": "two"})
    assert reply.status == 400, reply.body


def test_rpc_get_argument_given_twice_is_400(world):
    assert world.alice.get("/rpc/add", "a=1&a=2").status == 400


def test_rpc_is_listed_in_the_openapi_document(world):
    paths = world.alice.get("/", headers={"Accept": "application/openapi+json"}).json["paths"]
    assert "/rpc/all_todos" in paths and "/rpc/unlisted" not in paths


@pytest.mark.parametrize("database", ["sqlite", "mysql"])
def test_rpc_is_404_on_databases_without_functions(make_database_url, database):
    app = make_app(make_database_url(database), rpc_functions=("f",))
    try:
        reply = Client(app).post("/rpc/f")
        assert reply.status == 404
        assert f"not available on {database}" in reply.msg
    finally:
        app.db.close()


def test_rpc_through_the_postgrest_client(world):
    import httpx
    from postgrest import SyncPostgrestClient

    http = httpx.Client(transport=httpx.WSGITransport(app=world.app), base_url="http://rls")
    client = SyncPostgrestClient("http://rls", http_client=http)
    client.auth(world.bob.token)
    assert [r["title"] for r in client.rpc("all_todos", {}).execute().data] == ["b1", "b2"]
    assert [r["title"] for r in client.rpc("titled", {"pattern": "%1"}, get=True).execute().data] == ["b1"]
    assert client.rpc("add", {"a": 1, "b": 2}).execute().data == 3
