"""Round-14 HTTP fixes, beyond the attack tests (tests/test_attacks_round14_robust.py): the
same classes on the paths those tests do not take."""

from __future__ import annotations

from typing import Any

import pytest

from tests import test_attacks_round14_robust as robust
from tests.test_attacks_round14_robust import _raw_request, assert_4xx

world = robust.world  # the fixtures, shared
live_items = robust.live_items

LIMIT = 64 * 1024


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


# -- max_response_bytes -------------------------------------------------------------------


def test_a_write_answering_past_max_response_bytes_is_rolled_back(world):
    client, sql = world("sqlite", ["CREATE TABLE big (id integer PRIMARY KEY, v text)"], max_response_bytes=LIMIT)
    select = ",".join(f"a{i}:v" for i in range(20))
    reply = client.post("/big", {"v": "x" * 10_000}, f"select={select}", headers={"Prefer": "return=representation"})
    assert_4xx(reply, 400)
    assert reply.json["error"] == "response_too_large" and "max_response_bytes" in reply.json["msg"]
    assert sql("SELECT count(*) FROM big") == [(0,)]  # the write did not commit behind the 400
    reply = client.post("/big", {"v": "x" * 10_000}, "select=id,v", headers={"Prefer": "return=representation"})
    assert reply.status == 201 and sql("SELECT count(*) FROM big") == [(1,)]


@pytest.mark.parametrize("accept", ["application/json", "text/csv", "application/vnd.pgrst.object+json"])
def test_every_media_type_is_bounded(world, accept):
    client, _ = world("sqlite", ["CREATE TABLE big (id integer PRIMARY KEY, v text)"], max_response_bytes=LIMIT)
    assert client.post("/big", {"v": "x" * 10_000}).status == 200
    reply = client.get("/big", "select=" + ",".join(f"a{i}:v" for i in range(5)), headers={"Accept": accept})
    assert reply.status == 200 and LIMIT // 2 < len(reply.body) <= LIMIT  # 5 × 10 KB
    reply = client.get("/big", "select=" + ",".join(f"a{i}:v" for i in range(7)), headers={"Accept": accept})
    assert_4xx(reply, 400)
    assert "max_response_bytes" in reply.json["msg"]


def test_an_answer_exactly_at_the_limit_is_served(world):
    client, _ = world("sqlite", ["CREATE TABLE t (id integer PRIMARY KEY, v text)"])
    assert client.post("/t", [{"v": "é" * 100}] * 3).status == 200
    body = client.get("/t", "").body
    exact, _ = world("sqlite", ["CREATE TABLE t (id integer PRIMARY KEY, v text)"], max_response_bytes=len(body))
    assert exact.post("/t", [{"v": "é" * 100}] * 3).status == 200
    assert exact.get("/t", "").body == body
    short, _ = world("sqlite", ["CREATE TABLE t (id integer PRIMARY KEY, v text)"], max_response_bytes=len(body) - 1)
    assert short.post("/t", [{"v": "é" * 100}] * 3).status == 200
    assert_4xx(short.get("/t", ""), 400)


def test_an_rpc_answer_past_the_limit_rolls_the_call_back(world):
    client, sql = world(
        "postgres",
        [
            "CREATE TABLE log (id serial PRIMARY KEY, v text)",
            "CREATE FUNCTION shout(n int) RETURNS text LANGUAGE sql VOLATILE AS"
            " $$ INSERT INTO log (v) VALUES ('x'); SELECT repeat('x', n) $$",
        ],
        rpc_functions=("shout",),
        max_response_bytes=LIMIT,
    )
    reply = client.post("/rpc/shout", {"n": LIMIT})
    assert_4xx(reply, 400)
    assert sql("SELECT count(*) FROM log") == [(0,)]
    assert client.post("/rpc/shout", {"n": 10}).json == "x" * 10
    assert sql("SELECT count(*) FROM log") == [(1,)]


# -- headers granian blanked, Content-Type, URL decoding, HEAD ---------------------------


def test_live_a_blanked_prefer_joined_with_another_never_commits(live_items):
    """Repeated headers arrive joined by commas: a blanked one is an empty element."""
    server, rows = live_items
    before = rows()
    for first, second in ((b"tx=rollback\x80", b"return=minimal"), (b"return=minimal", b"tx=rollback\xff")):
        head = (
            b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Prefer: " + first + b"\r\nPrefer: " + second + b"\r\n"
        )
        reply = _raw_request(server.port, head, b'{"name": "c", "qty": 1}')
        assert _status(reply) == 400, reply[:200]
    assert rows() == before


def test_live_a_content_type_with_a_non_ascii_byte_writes_nothing(live_items):
    server, rows = live_items
    before = rows()
    head = b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\x80\r\n"
    reply = _raw_request(server.port, head, b'{"name": "c", "qty": 1}')
    assert _status(reply) == 400, reply[:200]
    assert rows() == before


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 200),
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ('Application/JSON;charset="UTF-8"', 200),
        ("application/json; charset=latin-1", 415),
        ("application/json; boundary=x", 415),
        ("application/jsonx", 415),
        ("", 400),
    ],
)
def test_content_type_allow_list(world, content_type, status):
    client, sql = world("sqlite", ["CREATE TABLE notes (id integer PRIMARY KEY, body text)"])
    if content_type is None:  # the test client always sends one: without it, by hand
        reply = _without_content_type(client)
    else:
        reply = client.request("POST", "/notes", body=b'{"body": "x"}', headers={"Content-Type": content_type})
    assert reply.status == status, reply.body[:200]
    if status != 200:
        assert_4xx(reply, status)
    assert sql("SELECT count(*) FROM notes") == [(1 if status == 200 else 0,)]


def _without_content_type(client: Any) -> Any:
    import io

    from tests.client import Reply

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/notes",
        "QUERY_STRING": "",
        "CONTENT_LENGTH": "13",
        "wsgi.input": io.BytesIO(b'{"body": "x"}'),
        "REMOTE_ADDR": "127.0.0.1",
    }
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])
        captured["headers"] = dict(headers)

    body = b"".join(client.app(environ, start_response))
    return Reply(captured["status"], captured["headers"], body)


NOTE_FUNCTION = [
    "CREATE TABLE log (id serial PRIMARY KEY, v text)",
    "CREATE FUNCTION note(v text) RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO log (v) VALUES (v) RETURNING id $$",
]
"""A PostgreSQL function with a side effect, for the RPC tests."""


def test_an_rpc_body_of_another_media_type_is_415(world):
    client, sql = world(
        "postgres",
        NOTE_FUNCTION,
        rpc_functions=("note",),
    )
    reply = client.request("POST", "/rpc/note", body=b'{"v": "x"}', headers={"Content-Type": "text/plain"})
    assert_4xx(reply, 415)
    assert sql("SELECT count(*) FROM log") == [(0,)]


@pytest.mark.parametrize("path", ["/t%FF", "/%C0%80", "/t/%ED%A0%80"])
def test_a_path_not_utf8_once_decoded_is_400(world, path):
    client, _ = world("sqlite", ["CREATE TABLE t (id integer PRIMARY KEY, title text)"])
    assert_4xx(client.request("DELETE", path, "id=eq.1"), 400)


def test_an_rpc_argument_not_utf8_is_400(world):
    client, _ = world(
        "postgres",
        ["CREATE FUNCTION echo_t(x text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT x'"],
        rpc_functions=("echo_t",),
    )
    assert_4xx(client.get("/rpc/echo_t", "x=%FF"), 400)
    assert client.get("/rpc/echo_t", "x=%C3%A9").json == "é"


def test_head_on_rpc_and_ops_answers_like_get(world):
    client, _ = world(
        "postgres",
        ["CREATE FUNCTION one() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1'"],
        rpc_functions=("one",),
    )
    for path in ("/rpc/one", "/_rls/health", "/health"):
        get, head = client.get(path), client.request("HEAD", path)
        assert get.status == head.status == 200, (path, head.status)
        assert head.body == b""


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Prefer": "tx=rollback"}, 400),
        ({"Prefer": "count=exact"}, 400),
        ({"Prefer": "bogus"}, 400),
        ({"Accept": "text/csv"}, 406),
        ({"Accept": "application/vnd.pgrst.object+json"}, 406),
        ({"Accept": "application/json"}, 200),
        ({"Accept-Profile": "public", "Content-Profile": "public"}, 200),
    ],
)
def test_rpc_refuses_the_headers_it_would_ignore(world, headers, status):
    """A ``Prefer: tx=rollback`` on /rpc was ignored: the function's writes committed."""
    client, sql = world(
        "postgres",
        NOTE_FUNCTION,
        rpc_functions=("note",),
    )
    reply = client.post("/rpc/note", {"v": "x"}, headers=headers)
    assert reply.status == status, reply.body[:200]
    if status != 200:
        assert_4xx(reply, status)
    assert sql("SELECT count(*) FROM log") == [(1 if status == 200 else 0,)]


def test_auth_refuses_a_preference_it_would_ignore(tmp_path):
    """``Prefer: tx=rollback`` on /auth/register was ignored: the user was created."""
    from tests.authkit import make_app
    from tests.client import Client

    app = make_app(f"sqlite:///{tmp_path / 'auth.db'}")
    try:
        client = Client(app)
        assert client.post("/auth/setup").status == 200
        body = {"username": "alice", "password": "wonderland"}
        reply = client.post("/auth/register", body, headers={"Prefer": "tx=rollback"})
        assert_4xx(reply, 400)
        assert app.db.run(lambda s: s.execute("SELECT count(*) FROM auth_users WHERE username = 'alice'").rows) == [
            (0,)
        ]
        assert_4xx(client.post("/auth/register", body, headers={"Content-Type": "text/plain"}), 415)
        assert client.post("/auth/register", body).status == 200
    finally:
        app.db.close()
