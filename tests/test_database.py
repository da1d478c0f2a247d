"""Databases: URLs, schema introspection, pooled connections that survive a lost connection."""

from __future__ import annotations

import psycopg
import pymysql
import pytest

from dialects import dialect_for_url, get_dialect, redact_url
from rls.config import Config
from rls.database import Database
from rls.http.app import create_app
from rls.schema import Kind
from tests.client import Client


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///abs/path.db", {"path": "/abs/path.db", "busy_timeout_ms": 5000}),
        ("sqlite://relative.db", {"path": "relative.db", "busy_timeout_ms": 5000}),
        ("sqlite://rel.db?busy_timeout=100", {"path": "rel.db", "busy_timeout_ms": 100}),
    ],
)
def test_sqlite_urls(url, expected):
    assert dialect_for_url(url).connect_args(url) == expected


def test_postgres_url_with_search_path():
    args = get_dialect("postgres").connect_args(
        "postgres://u:p%40ss@db.example:6543/app?search_path=s1&sslmode=disable"
    )
    assert args["host"] == "db.example" and args["port"] == 6543 and args["dbname"] == "app"
    assert args["user"] == "u" and args["password"] == "p@ss"
    assert args["options"] == "-csearch_path=s1" and args["sslmode"] == "disable"


def test_postgresql_scheme_is_accepted():
    assert dialect_for_url("postgresql://u@h/db").name == "postgres"


@pytest.mark.parametrize(
    "url",
    ["mysql://u:pw@tcp(db.example:3307)/app", "mysql://u:pw@db.example:3307/app", "mariadb://u:pw@db.example:3307/app"],
)
def test_mysql_urls_go_style_and_plain(url):
    args = dialect_for_url(url).connect_args(url)
    assert (args["host"], args["port"], args["user"], args["password"], args["database"]) == (
        "db.example",
        3307,
        "u",
        "pw",
        "app",
    )


def test_unknown_url_scheme_is_a_clear_error():
    with pytest.raises(ValueError, match="unsupported database URL"):
        dialect_for_url("oracle://x")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgres://app:s3cret@db:5432/app", "postgres://app:***@db:5432/app"),
        ("mysql://root:pw@tcp(h:3306)/db", "mysql://root:***@tcp(h:3306)/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_redact_url_masks_the_password(url, shown):
    assert redact_url(url) == shown


def test_schema_kinds_primary_keys_and_views(shared_app):
    schema = shared_app.db.refresh_schema()
    todos = schema.table("todos")
    kinds = {name: column.kind for name, column in todos.columns.items()}
    assert kinds == {
        "id": Kind.INTEGER,
        "project_id": Kind.INTEGER,
        "user_id": Kind.INTEGER,
        "title": Kind.TEXT,
        "done": Kind.BOOLEAN,
        "score": Kind.DECIMAL,
        "rating": Kind.FLOAT,
        "due": Kind.DATE,
        "created": Kind.DATETIME,
        "details": Kind.JSON,
        "note": Kind.TEXT,
    }
    assert todos.primary_key == ("id",)
    assert todos.columns["title"].nullable is False and todos.columns["note"].nullable is True
    assert todos.columns["id"].has_default and todos.columns["done"].has_default
    assert schema.table("open_todos").is_view and not todos.is_view
    assert schema.table("nokey").primary_key == ()


def test_new_table_is_found_without_restart(make_database_url, backend):
    url = make_database_url(backend)
    app = create_app(Config(db_url=url))
    client = Client(app)
    assert client.get("/later").status == 404
    app.db.run(lambda s: s.execute("CREATE TABLE later (id INTEGER PRIMARY KEY)"), write=True)
    app.db._schema_read_at = 0.0  # the refresh interval has passed
    assert client.get("/later").json == []
    app.db.close()


def _backend_connection_id(db):
    query = {"postgres": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}[db.dialect.name]
    return db.run(lambda s: s.execute(query).rows[0][0])


def _kill(db, ident):
    args = db.dialect.connect_args(db.url)
    if db.dialect.name == "postgres":
        args.pop("options", None)
        with psycopg.connect(**args, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (ident,))
    else:
        admin = pymysql.connect(**args, autocommit=True)
        with admin.cursor() as cur:
            cur.execute(f"KILL {int(ident)}")
        admin.close()


@pytest.mark.parametrize("server", ["postgres", "mysql"])
def test_lost_connection_is_replaced_transparently(make_database_url, server):
    url = make_database_url(server)
    app = create_app(Config(db_url=url, pool_size=1))
    client = Client(app)
    assert client.get("/").status == 200
    first = _backend_connection_id(app.db)
    _kill(app.db, first)
    assert app.db.run(lambda s: s.execute("SELECT 1").rows) == [(1,)]
    assert _backend_connection_id(app.db) != first
    app.db.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgres://postgres@127.0.0.1:1/test",
        "mysql://root@127.0.0.1:1/test",
        "sqlite:///nonexistent-dir/for/sure/x.db",
    ],
    ids=["postgres", "mysql", "sqlite"],
)
def test_unreachable_database_is_503(url):
    app = create_app(Config(db_url=url))
    reply = Client(app).get("/todos")
    assert reply.status == 503
    assert reply.json["error"] == "unavailable"
    assert "127.0.0.1" not in reply.msg and "nonexistent" not in reply.msg


def test_failed_transaction_leaves_the_connection_usable(client):
    assert client.post("/projects", {"name": "alpha"}).status == 409
    assert client.get("/projects", "count").json == 2


def test_concurrent_requests_share_the_pool(shared_app):
    import concurrent.futures

    client = Client(shared_app)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: client.get("/todos", f"id=eq.{i % 7 + 1}").json, range(64)))
    assert [r[0]["id"] for r in replies] == [i % 7 + 1 for i in range(64)]


def test_postgres_uses_the_schema_from_search_path(make_database_url):
    url = make_database_url("postgres")
    name = url.rsplit("search_path=", 1)[1]
    db = Database(url)
    db.run(lambda s: s.execute(f'CREATE TABLE "twin_{name}" (mine INTEGER)'), write=True)
    args = db.dialect.connect_args(url)
    args.pop("options")
    with psycopg.connect(**args, autocommit=True) as admin:
        admin.execute(f'CREATE TABLE public."twin_{name}" (theirs INTEGER, other INTEGER)')
        try:
            assert list(db.refresh_schema().table(f"twin_{name}").columns) == ["mine"]
        finally:
            admin.execute(f'DROP TABLE public."twin_{name}"')
    db.close()


TRIGGERS = {
    "sqlite": ["CREATE TRIGGER notes_touch AFTER UPDATE ON notes BEGIN UPDATE notes SET body = body WHERE 0; END"],
    "postgres": [
        "CREATE FUNCTION notes_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION notes_touch()",
    ],
    "mysql": ["CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW SET NEW.body = NEW.body"],
}


def test_a_schema_older_than_its_max_age_is_read_again(backend, make_database_url):
    """A trigger added to a running server (a migration) counts within ``schema_max_age``:
    what rls decides from the schema — here, that writes under policies are refused — does
    not stay stale until a restart."""
    import time

    db = Database(make_database_url(backend), schema_max_age=0.2)
    try:
        db.run(lambda s: s.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"), write=True)
        assert db.table("notes").write_hazard is None
        for statement in TRIGGERS[backend]:
            db.run(lambda s, sql=statement: s.execute(sql), write=True)
        assert db.table("notes").write_hazard is None  # read 0.2 s ago: still the last reading
        time.sleep(0.3)
        assert "trigger" in (db.table("notes").write_hazard or "")
    finally:
        db.close()
