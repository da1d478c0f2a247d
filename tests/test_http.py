"""The HTTP surface: routes, methods, the one JSON error shape, CORS, body limits."""

from __future__ import annotations

import pytest


def assert_error_shape(reply, status):
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json
    assert set(body) == {"msg", "status", "message", "code", "details", "hint", "error"}
    assert isinstance(body["msg"], str) and body["msg"]
    assert body["status"] == status


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FOO"])  # HEAD is served (test_postgrest_headers)
def test_unsupported_method_is_405_with_its_name(client, method):
    reply = client.request(method, "/todos")
    assert_error_shape(reply, 405)
    assert reply.msg == f"method not supported: {method}"


def test_options_without_cors_is_405(client):
    assert client.request("OPTIONS", "/todos").status == 405


def test_post_to_a_row_path_is_405(client):
    assert client.post("/todos/1", {"title": "x"}).status == 405


def test_deeper_paths_are_404(client):
    assert_error_shape(client.get("/todos/1/extra"), 404)


def test_root_only_answers_get(client):
    assert client.post("/", {}).status == 405


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "status"),
    [
        ("GET", "/nothing", "", None, 404),
        ("GET", "/todos", "nope=eq.1", None, 400),
        ("GET", "/todos", "id=eq.x", None, 400),
        ("GET", "/todos/99", "", None, 404),
        ("POST", "/todos", "", [], 400),
        ("POST", "/projects", "", {"name": "alpha"}, 409),
        ("PUT", "/todos", "", {"title": "x"}, 400),
        ("DELETE", "/todos", "", None, 400),
        ("DELETE", "/projects/1", "", None, 409),
        ("PATCH", "/nothing/1", "", {"a": 1}, 404),
    ],
)
def test_every_error_has_the_json_error_shape(client, method, path, query, body, status):
    assert_error_shape(client.request(method, path, query, json=body), status)


def test_body_over_the_limit_is_413_and_writes_nothing(make_client):
    c = make_client(max_body_bytes=100)
    reply = c.post("/todos", {"title": "x" * 200})
    assert_error_shape(reply, 413)
    assert c.get("/todos", "count").json == 7


def test_path_segments_are_url_decoded(client):
    assert client.get("/todos/%33").json["id"] == 3


def test_non_ascii_table_name_is_a_clean_404(client):
    reply = client.get("/tâble")
    assert_error_shape(reply, 404)
    assert reply.msg == "table does not exist: tâble"


def test_cors_allows_the_authorization_header(make_client):
    c = make_client(cors_enabled=True, cors_origins=("https://app.example",))
    reply = c.request("OPTIONS", "/todos", headers={"Origin": "https://app.example"})
    assert reply.status == 204
    assert reply.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Authorization" in reply.headers["Access-Control-Allow-Headers"]


def test_cors_ignores_other_origins(make_client):
    c = make_client(cors_enabled=True, cors_origins=("https://app.example",))
    reply = c.get("/todos", headers={"Origin": "https://evil.example"})
    assert reply.status == 200
    assert "Access-Control-Allow-Origin" not in reply.headers


def test_cors_wildcard_origin(make_client):
    c = make_client(cors_enabled=True)
    reply = c.get("/", headers={"Origin": "https://any.example"})
    assert reply.headers["Access-Control-Allow-Origin"] == "*"


def test_unexpected_failure_is_a_500_without_details(client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret detail: SELECT password FROM auth_users")

    monkeypatch.setattr(client.app.tables.service, "read", boom)
    reply = client.get("/todos")
    assert_error_shape(reply, 500)
    assert reply.json["msg"] == "internal server error"
    assert b"secret" not in reply.body
