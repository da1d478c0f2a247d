"""``GET /`` with ``Accept: application/openapi+json``: an OpenAPI 3 document of what the
caller may do — the tables it may read (and the writes its policies allow), their columns
from the live schema, the query grammar, the auth endpoints and the RPC functions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from rls import __version__, jsonout
from rls.auth.principal import AuthUser
from rls.errors import RlsError
from rls.http.messages import Response
from rls.rest.query import _OPTIONS, FLAGS, OPERATORS  # the parser's own key sets, so they cannot drift
from rls.rest.resource import TableService
from rls.schema import Column, Kind, Table

MEDIA_TYPE = "application/openapi+json"

ACTIONS = ("read", "create", "update", "delete")
"""The policy actions a table path may offer, in the order its operations are listed."""

_TYPES: Mapping[Kind, dict[str, Any]] = {
    Kind.INTEGER: {"type": "integer", "format": "int64"},
    Kind.FLOAT: {"type": "number", "format": "double"},
    Kind.DECIMAL: {"type": "number"},
    Kind.BOOLEAN: {"type": "boolean"},
    Kind.TEXT: {"type": "string"},
    Kind.JSON: {},
    Kind.DATE: {"type": "string", "format": "date"},
    Kind.DATETIME: {"type": "string", "format": "date-time"},
    Kind.TIME: {"type": "string", "format": "time"},
    Kind.BYTES: {"type": "string"},
    Kind.UUID: {"type": "string", "format": "uuid"},
    Kind.OTHER: {},
}

_RESERVED_KEYS = _OPTIONS | FLAGS
"""Query keys that are options, never filters: a column of that name is not listed as one."""


def wants_openapi(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for the OpenAPI document (a media range with q > 0).

    >>> wants_openapi("application/openapi+json"), wants_openapi("application/json, */*")
    (True, False)
    >>> wants_openapi("application/openapi+json;q=0")
    False
    """
    for media_range in (accept or "").split(","):
        media, *params = (p.strip() for p in media_range.split(";"))
        if media.lower() != MEDIA_TYPE:
            continue
        quality = next((p.partition("=")[2] for p in params if p.lower().startswith("q=")), "1")
        try:
            return float(quality) > 0
        except ValueError:
            return False
    return False


@dataclass(frozen=True)
class Resource:
    """A table as one caller sees it: its visible columns and the actions it may take."""

    table: Table
    actions: tuple[str, ...]


def visible_resources(service: TableService, user: AuthUser) -> list[Resource]:
    """Every table ``user`` may read, with the actions its policies allow (all of them
    without auth); unserved tables and hidden columns stay out, as for a request."""
    resources = []
    for name in sorted(service.db.schema().tables):
        try:
            table = service.table(name)
        except RlsError:
            continue
        actions = tuple(a for a in ACTIONS if _allowed(service, table, a, user))
        if "read" in actions:
            resources.append(Resource(table, actions))
    return resources


def _allowed(service: TableService, table: Table, action: str, user: AuthUser) -> bool:
    if service.engine is None:
        return True
    try:
        service.engine.decide(table, action, user)
    except RlsError:
        return False
    return True


def openapi_response(document: Mapping[str, Any]) -> Response:
    return Response(200, jsonout.dumps(document), [("Content-Type", f"{MEDIA_TYPE}; charset=utf-8")])


# -- the document (pure) ------------------------------------------------------------------


def build_document(
    resources: Sequence[Resource], *, auth_actions: Iterable[str] = (), rpc_functions: Iterable[str] = ()
) -> dict[str, Any]:
    """The OpenAPI 3.0 document for ``resources``, the auth endpoints and RPC functions."""
    names = schema_names(r.table.name for r in resources)
    paths: dict[str, Any] = {"/": {"get": _root_operation()}}
    schemas: dict[str, Any] = {"Message": _MESSAGE, "Error": _ERROR}
    for resource in resources:
        key = names[resource.table.name]
        schemas[key] = table_schema(resource.table)
        paths[f"/{quote(resource.table.name, safe='')}"] = table_path(resource, key)
    for action in auth_actions:
        if action in _AUTH:
            paths[f"/auth/{action}"] = {"post": _AUTH[action]}
    for function in rpc_functions:
        paths[f"/rpc/{quote(function, safe='')}"] = rpc_path(function)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "rls REST API",
            "version": __version__,
            "description": "Tables under row-level security. Only what the caller may read is listed.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": _PARAMETERS,
            "responses": {
                "Error": {"description": "an error", "content": _json({"$ref": "#/components/schemas/Error"})}
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{}, {"bearer": []}],
    }


def schema_names(tables: Iterable[str]) -> dict[str, str]:
    """A component name per table (OpenAPI allows ``[A-Za-z0-9._-]``), unique.

    >>> schema_names(["todos", "my table", "my_table"])
    {'todos': 'todos', 'my table': 'my_table', 'my_table': 'my_table_2'}
    """
    names: dict[str, str] = {}
    used = {"Message", "Error"}  # the document's own schemas
    for table in tables:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", table) or "_"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        names[table] = name
    return names


def column_schema(column: Column) -> dict[str, Any]:
    """A column as a JSON schema: its JSON type, nullability and the database's type name.

    >>> column_schema(Column("id", Kind.INTEGER, "bigint", nullable=False))
    {'type': 'integer', 'format': 'int64', 'description': 'bigint'}
    """
    schema = dict(_TYPES[column.kind])
    if column.nullable and schema:
        schema["nullable"] = True
    if column.type:
        schema["description"] = column.type
    return schema


def table_schema(table: Table) -> dict[str, Any]:
    """A row of ``table`` (no ``required`` list: the same schema describes PATCH bodies)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {c.name: column_schema(c) for c in table.columns.values()},
    }
    if table.primary_key:
        schema["description"] = f"primary key: {', '.join(table.primary_key)}"
    return schema


def filter_parameters(table: Table) -> list[dict[str, Any]]:
    """One optional query parameter per column that can be filtered on."""
    operators = ", ".join(sorted(OPERATORS))
    return [
        {
            "name": c.name,
            "in": "query",
            "required": False,
            "description": f"filter: <operator>.<value>, operator one of {operators}",
            "schema": {"type": "string"},
        }
        for c in table.columns.values()
        if c.name not in _RESERVED_KEYS
    ]


def table_path(resource: Resource, schema_key: str) -> dict[str, Any]:
    """The operations of ``/<table>`` the caller's policies allow."""
    table, ref = resource.table, {"$ref": f"#/components/schemas/{schema_key}"}
    filters = filter_parameters(table)
    body = {"required": True, "content": _json({"oneOf": [ref, {"type": "array", "items": ref}]})}
    operations: dict[str, tuple[str, dict[str, Any]]] = {
        "read": (
            "get",
            {
                "summary": f"read rows of {table.name}",
                "parameters": [*(_param(p) for p in _READ_PARAMETERS), *filters],
                "responses": _responses({"type": "array", "items": ref}),
            },
        ),
        "create": (
            "post",
            {"summary": f"insert rows into {table.name}", "requestBody": body, "responses": _responses(_MESSAGE_REF)},
        ),
        "update": (
            "patch",
            {
                "summary": f"update the rows of {table.name} the filters match (a filter is required)",
                "parameters": [_param("prefer"), *filters],
                "requestBody": {"required": True, "content": _json(ref)},
                "responses": _responses(_MESSAGE_REF),
            },
        ),
        "delete": (
            "delete",
            {
                "summary": f"delete the rows of {table.name} the filters match (a filter is required)",
                "parameters": [_param("prefer"), *filters],
                "responses": _responses(_MESSAGE_REF),
            },
        ),
    }
    path: dict[str, Any] = {}
    for action in resource.actions:
        method, operation = operations[action]
        path[method] = {**operation, "tags": [table.name]}
    if "update" in resource.actions:
        path["put"] = {**path["patch"], "summary": path["patch"]["summary"] + "; as PATCH"}
    return path


def rpc_path(function: str) -> dict[str, Any]:
    """``/rpc/<function>``: named arguments as a JSON object (POST) or the query string."""
    return {
        "post": {
            "summary": f"call {function} with named arguments",
            "tags": ["rpc"],
            "requestBody": {"required": False, "content": _json({"type": "object"})},
            "responses": _responses({}),
        },
        "get": {
            "summary": f"call {function} (STABLE or IMMUTABLE functions only); arguments in the query string",
            "tags": ["rpc"],
            "responses": _responses({}),
        },
    }


def _json(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": dict(schema)}}


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _responses(ok: Mapping[str, Any]) -> dict[str, Any]:
    error = {"$ref": "#/components/responses/Error"}
    return {"200": {"description": "success", "content": _json(ok)}, "400": error, "401": error, "403": error}


def _root_operation() -> dict[str, Any]:
    return {
        "summary": "this document (Accept: application/openapi+json), or a status message",
        "responses": {
            "200": {
                "description": "the OpenAPI document or the server's status",
                "content": {MEDIA_TYPE: {"schema": {"type": "object"}}, **_json(_MESSAGE_REF)},
            }
        },
    }


_MESSAGE = {"type": "object", "properties": {"msg": {"type": "string"}}, "required": ["msg"]}
_MESSAGE_REF = {"$ref": "#/components/schemas/Message"}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ERROR = {
    "type": "object",
    "properties": {"msg": {"type": "string"}, "code": {"type": "string"}, "status": {"type": "integer"}},
    "required": ["msg"],
}


def _query(name: str, description: str, schema: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": dict(schema), **extra}


def _flag(name: str, description: str) -> dict[str, Any]:
    return _query(name, f"flag (present or absent): {description}", {"type": "string"}, allowEmptyValue=True)


_COUNT = {"type": "integer", "minimum": 0}
_PARAMETERS: dict[str, Any] = {
    "select": _query("select", "columns, aggregates and JSON paths to return: a,b,max(c),data->x", {"type": "string"}),
    "order": _query("order", "ordering: a.desc,b.asc", {"type": "string"}),
    "limit": _query("limit", "most rows to return", _COUNT),
    "offset": _query("offset", "rows to skip", _COUNT),
    "page": _query("page", "page number (from 1), with page_size", {"type": "integer", "minimum": 1}),
    "page_size": _query("page_size", "rows per page", {"type": "integer", "minimum": 1}),
    "count": _flag("count", "return the number of matching rows instead of the rows"),
    "singular": _flag("singular", "return one object; 404 when none matches, 400 when several do"),
    "mine": _flag("mine", "read under the read_mine policies"),
    "range": {
        "name": "Range",
        "in": "header",
        "required": False,
        "description": "rows to return, zero-based and inclusive: 0-24",
        "schema": {"type": "string"},
    },
    "prefer": {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": "preferences: return=representation|minimal, count=exact",
        "schema": {"type": "string"},
    },
}
_READ_PARAMETERS = ("select", "order", "limit", "offset", "page", "page_size", "count", "singular", "mine", "range",
                    "prefer")  # fmt: skip

_CREDENTIALS = {
    "required": True,
    "content": _json(
        {
            "type": "object",
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
            "required": ["username", "password"],
        }
    ),
}
_AUTH: Mapping[str, dict[str, Any]] = {
    "setup": {
        "summary": "create the auth tables and the admin (once; from the server's host or with a setup token)",
        "tags": ["auth"],
        "responses": _responses(
            {"type": "object", "properties": {"Username": {"type": "string"}, "Password": {"type": "string"}}}
        ),
    },
    "register": {
        "summary": "create a user",
        "tags": ["auth"],
        "requestBody": _CREDENTIALS,
        "responses": _responses(_MESSAGE_REF),
    },
    "login": {
        "summary": "a token for a user",
        "tags": ["auth"],
        "requestBody": _CREDENTIALS,
        "responses": _responses({"type": "object", "properties": {"token": {"type": "string"}}}),
    },
    "logout": {
        "summary": "forget the token (tokens are stateless)",
        "tags": ["auth"],
        "responses": _responses(_MESSAGE_REF),
    },
}
