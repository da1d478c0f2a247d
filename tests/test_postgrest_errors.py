"""Errors in PostgREST's shape beside the original's (issue 11): every error body is
``{msg, status, message, code, details, hint, error}``, ``code`` is PostgREST's code for
the same fault and ``error`` rls's own name, on every database."""

from __future__ import annotations

import pytest

from rls.errors import BadRequest, RlsError, UnknownTable
from tests.test_policy_http import worlds_fixture

PARENTS = "CREATE TABLE parents (id INTEGER PRIMARY KEY)"
KIDS = (
    "CREATE TABLE kids (id INTEGER PRIMARY KEY, parent_id INTEGER, qty INTEGER NOT NULL, code VARCHAR(20),"
    " UNIQUE (code), CHECK (qty > 0), FOREIGN KEY (parent_id) REFERENCES parents (id))"
)
SECRETS = "CREATE TABLE secrets (id INTEGER PRIMARY KEY, body VARCHAR(20))"
SHAPE = {"msg", "status", "message", "code", "details", "hint", "error"}


def _tables(world):
    for ddl in (PARENTS, KIDS, SECRETS):
        world.db.run(lambda s, ddl=ddl: s.execute(ddl), write=True)
    world.db.refresh_schema()
    world.set_policies("parents", ("all", ""))
    world.set_policies("kids", ("all", ""))
    world.set_policies("secrets", ("all", "auth_user.is_admin"))


worlds = worlds_fixture(_tables)


@pytest.fixture
def w(worlds, backend):
    world = worlds(backend)
    world.sql("DELETE FROM kids")
    world.sql("DELETE FROM parents")
    world.sql("INSERT INTO parents (id) VALUES (1)")
    world.sql("INSERT INTO kids (id, parent_id, qty, code) VALUES (1, 1, 5, 'taken-code'), (2, 1, 6, 'other')")
    return world


def error(reply, status, code, name):
    body = reply.json
    assert set(body) == SHAPE, body
    assert (reply.status, body["status"], body["code"], body["error"]) == (status, status, code, name), body
    assert body["msg"] == body["message"] and isinstance(body["msg"], str)
    assert body["details"] is None or isinstance(body["details"], str)
    assert body["hint"] is None or isinstance(body["hint"], str)
    for leaked in ("taken-code", "SELECT", "INSERT", "kids_", "Failing row"):
        assert leaked not in body["msg"], body
    return body


KID = {"id": 9, "parent_id": 1, "qty": 1, "code": "new"}

WRITES = [
    ({**KID, "code": "taken-code"}, 409, "23505", "conflict"),
    ({**KID, "parent_id": 99}, 409, "23503", "conflict"),
    ({"id": 9, "parent_id": 1, "code": "new"}, 400, "23502", "constraint_violation"),
    ({**KID, "qty": 0}, 400, "23514", "constraint_violation"),
    ({**KID, "qty": "many"}, 400, "22P02", "invalid_value"),
    ({**KID, "nope": 1}, 400, "PGRST204", "unknown_column"),
]


@pytest.mark.parametrize(("body", "status", "code", "name"), WRITES)
def test_a_write_that_fails_answers_postgrests_code(w, body, status, code, name):
    error(w.admin.post("/kids", body), status, code, name)
    assert sorted(r[0] for r in w.sql("SELECT id FROM kids")) == [1, 2]  # nothing written


READS = [
    ("/kids", "nope=eq.1", 400, "42703", "unknown_column"),
    ("/kids", "select=nope", 400, "42703", "unknown_column"),
    ("/kids", "or=(id.eq.1", 400, "PGRST100", "bad_request"),
    ("/kids", "id=zz.1", 400, "PGRST100", "bad_request"),
    ("/kids", "qty=eq.many", 400, "22P02", "invalid_value"),
    ("/kids", "parents.id=eq.1", 400, "PGRST108", "bad_request"),
    ("/kids", "singular", 400, "PGRST116", "bad_request"),
    ("/kids", "singular&id=eq.99", 404, "PGRST116", "not_found"),
    ("/kids/99", "", 404, "PGRST116", "not_found"),
    ("/nothing", "", 404, "PGRST205", "unknown_table"),
    ("/kids/1/more", "", 404, "PGRST125", "not_found"),
]


@pytest.mark.parametrize(("path", "query", "status", "code", "name"), READS)
def test_a_read_that_fails_answers_postgrests_code(w, path, query, status, code, name):
    error(w.admin.get(path, query), status, code, name)


def test_a_match_on_a_database_without_regular_expressions_is_not_implemented(w):
    reply = w.admin.get("/kids", "code=match.^t")
    if w.db.dialect.name == "sqlite":
        error(reply, 400, "PGRST127", "unsupported")
    else:
        assert reply.status == 200 and [r["id"] for r in reply.json] == [1]


def test_denials_answer_42501_with_401_for_the_anonymous_and_403_for_others(w):
    error(w.anonymous.get("/secrets"), 401, "42501", "login_required")
    error(w.bob.get("/secrets"), 403, "42501", "unauthorized")
    assert w.admin.get("/secrets").status == 200


def test_token_problems_answer_pgrst301(w):
    error(w.anonymous.get("/kids", token="not-a-jwt"), 401, "PGRST301", "invalid_token")


def test_bodies_and_methods(w):
    error(w.admin.post("/kids", body=b"{nope"), 400, "PGRST102", "bad_request")
    error(w.admin.request("TRACE", "/kids"), 405, "PGRST117", "method_not_allowed")


def test_every_error_class_has_a_code_and_the_body_has_the_shape():
    for cls in _subclasses(RlsError):
        try:
            body = cls("m").to_json()
        except TypeError:  # classes with a fixed message (StatementTimeout, NotSetUp, …)
            body = cls().to_json()
        assert set(body) == SHAPE and body["code"] and body["status"] == cls.status, cls
    assert UnknownTable("m").to_json()["code"] == "PGRST205"
    detailed = BadRequest("m", postgrest_code="PGRST127", details="d", hint="h").to_json()
    assert (detailed["code"], detailed["details"], detailed["hint"], detailed["error"]) == (
        "PGRST127",
        "d",
        "h",
        "bad_request",
    )


def _subclasses(cls):
    return {cls} | {s for c in cls.__subclasses__() for s in _subclasses(c)}


def test_a_regular_expression_the_database_rejects_is_2201b(w):
    # Python's syntax knows no \m; PostgreSQL reads it (start of a word), MariaDB's PCRE does not.
    reply = w.admin.get("/kids", "code=match.%5Cmtaken")
    if w.db.dialect.name == "postgres":
        assert reply.status == 200 and [r["id"] for r in reply.json] == [1]
    elif w.db.dialect.name == "mysql":
        error(reply, 400, "2201B", "bad_request")
    else:
        error(reply, 400, "PGRST127", "unsupported")
    error(w.admin.get("/kids", "code=match.(unclosed"), 400, *_regex_refusal(w))


def _regex_refusal(w):
    return ("PGRST127", "unsupported") if w.db.dialect.name == "sqlite" else ("2201B", "bad_request")
