"""``GET /`` with ``Accept: application/openapi+json``: a valid OpenAPI 3 document listing
exactly what the caller's policies let it read (and write), columns typed from the live
schema, the query grammar, the auth endpoints; every other Accept keeps the original."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from rls.http.openapi import build_document, schema_names, wants_openapi
from tests.authkit import login, make_app
from tests.client import Client

OPENAPI = {"Accept": "application/openapi+json"}


def document(client: Client) -> dict[str, Any]:
    reply = client.get("/", headers=OPENAPI)
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("application/openapi+json")
    validate(reply.json)
    return reply.json


def test_openapi_document_of_the_dataset_is_valid_and_typed(client):
    doc = document(client)
    assert {"/todos", "/projects", "/stock", "/nokey", "/open_todos", "/order", "/auth/login"} <= set(doc["paths"])
    todos = doc["components"]["schemas"]["todos"]["properties"]
    assert todos["id"]["type"] == "integer"
    assert todos["title"]["type"] == "string"
    assert "nullable" not in todos["title"]  # NOT NULL
    assert todos["done"]["type"] == "boolean"
    assert todos["rating"]["type"] == "number"
    assert todos["due"] == {**todos["due"], "type": "string", "format": "date"}
    assert todos["created"]["format"] == "date-time"
    assert set(doc["paths"]["/todos"]) == {"get", "post", "patch", "put", "delete"}


def test_openapi_read_lists_the_query_grammar_and_column_filters(client):
    get = document(client)["paths"]["/todos"]["get"]
    refs = {p["$ref"].rsplit("/", 1)[1] for p in get["parameters"] if "$ref" in p}
    assert {"select", "order", "limit", "offset", "range", "prefer", "count", "singular"} <= refs
    filters = {p["name"] for p in get["parameters"] if "name" in p}
    assert {"id", "title", "done", "user_id"} <= filters


def test_openapi_column_named_like_an_option_is_no_filter(client):
    # /order has a column "group" and "Value": fine; a column called "order" would be
    # read as the option, so it is never offered as a filter.
    doc = build_document([], auth_actions=())
    validate(doc)
    from rls.http.openapi import Resource, filter_parameters
    from rls.schema import Column, Kind, Table

    table = Table.build("t", [Column("order", Kind.TEXT), Column("limit", Kind.INTEGER), Column("x", Kind.TEXT)])
    assert [p["name"] for p in filter_parameters(table)] == ["x"]
    validate(build_document([Resource(table, ("read",))]))


@pytest.mark.parametrize(
    "accept", [None, "application/json", "*/*", "application/openapi+json;q=0", "text/html"], ids=repr
)
def test_openapi_other_accept_keeps_the_original_message(client, accept):
    reply = client.get("/", headers={"Accept": accept} if accept else None)
    assert (reply.status, reply.json) == (200, {"msg": "rest server is up and running"})


def test_openapi_accept_with_quality_and_other_types():
    assert wants_openapi("text/html, application/openapi+json;q=0.9")
    assert not wants_openapi("application/openapi+json;q=x")


def test_openapi_schema_names_never_replace_the_documents_own():
    assert schema_names(["Message", "Error", "a/b"]) == {"Message": "Message_2", "Error": "Error_2", "a/b": "a_b"}


# -- the caller's policies decide what is listed --------------------------------------

TABLES = (
    "CREATE TABLE notes (id {serial}, body {string}){table_options}",
    "CREATE TABLE mine (id {serial}, user_id {integer}, body {string}){table_options}",
    "CREATE TABLE secrets (id {serial}, body {string}){table_options}",
)
POLICIES = [
    ("notes", "read", ""),
    ("secrets", "read", "auth_user.is_admin"),
    ("mine", "read", "user_id = auth_user.id"),
    ("mine", "create", "user_id = auth_user.id"),
]


class Callers:
    def __init__(self, url: str):
        self.app = make_app(url, auth_enabled=True, policy_refresh_interval=0.0)
        self.anonymous = Client(self.app)
        password = self.anonymous.post("/auth/setup").json["Password"]
        types = self.app.db.dialect.DDL_TYPES
        self.app.db.run(lambda s: [s.execute(t.format_map(types)) for t in TABLES], write=True)
        self.app.db.refresh_schema()
        self.admin = Client(self.app, login(self.anonymous, "rest_admin", password))
        for table, action, expression in POLICIES:
            policy = {"table_name": table, "action": action, "expression": expression, "description": "t"}
            assert self.admin.post("/auth_policies", policy).status == 200
        assert self.anonymous.post("/auth/register", {"username": "alice", "password": "password-a"}).status == 200
        self.alice = Client(self.app, login(self.anonymous, "alice", "password-a"))


@pytest.fixture(scope="module")
def callers(backend, make_database_url) -> Iterator[Callers]:
    world = Callers(make_database_url(backend))
    yield world
    world.app.db.close()


def tables_of(client: Client) -> dict[str, set[str]]:
    paths = document(client)["paths"]
    return {p[1:]: set(ops) for p, ops in paths.items() if p != "/" and not p.startswith(("/auth/", "/rpc/"))}


def test_openapi_anonymous_sees_only_public_tables(callers):
    assert tables_of(callers.anonymous) == {"notes": {"get"}}


def test_openapi_user_sees_what_its_policies_allow(callers):
    # notes: read only; mine: everything by its owner (the setup's all/all policy);
    # secrets and the auth tables: admins only.
    assert tables_of(callers.alice) == {"notes": {"get"}, "mine": {"get", "post", "patch", "put", "delete"}}


def test_openapi_admin_sees_more_but_never_password_hashes(callers):
    tables = tables_of(callers.admin)
    assert {"notes", "secrets", "auth_users", "auth_policies"} <= set(tables)
    schemas = document(callers.admin)["components"]["schemas"]
    assert "password" not in schemas["auth_users"]["properties"]
    assert "username" in schemas["auth_users"]["properties"]


def test_openapi_lists_the_auth_endpoints(callers):
    paths = document(callers.anonymous)["paths"]
    assert {"/auth/setup", "/auth/register", "/auth/login", "/auth/logout"} <= set(paths)
    assert paths["/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "username",
        "password",
    ]
