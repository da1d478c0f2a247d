"""Helpers for the auth tests: a fast configuration, apps on fresh databases, a test route."""

from __future__ import annotations

from typing import Any

from rls.config import Config
from rls.http.app import App, Route, create_app
from rls.http.messages import Request, Response, json_response
from tests.client import Client

SECRET = "test-secret-" + "x" * 32
# Cheap argon2id parameters: the suite verifies many passwords.
FAST = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}
FAST_ENV = {"REST_AUTH_ARGON2_TIME_COST": "1", "REST_AUTH_ARGON2_MEMORY_KIB": "8", "REST_AUTH_ARGON2_PARALLELISM": "1"}


def fast_config(db_url: str, **overrides: Any) -> Config:
    return Config(db_url=db_url, **{"auth_secret": SECRET, **FAST, **overrides})


def _whoami(request: Request, params: dict[str, str]) -> Response:
    user = request.user
    return json_response({"id": user.id, "is_admin": user.is_admin, "claims": dict(user.claims)})


def make_app(db_url: str, **overrides: Any) -> App:
    """An app on ``db_url`` with a test-only ``GET /whoami`` showing ``request.user``."""
    app = create_app(fast_config(db_url, **overrides))
    app.routes.insert(0, Route(("whoami",), {"GET": _whoami}))
    return app


class AddressedClient(Client):
    """A client whose requests come from ``remote_addr``."""

    def __init__(self, app: Any, remote_addr: str):
        super().__init__(lambda environ, start: app({**environ, "REMOTE_ADDR": remote_addr}, start))


def login(client: Client, username: str, password: str) -> str:
    reply = client.post("/auth/login", {"username": username, "password": password})
    assert reply.status == 200, reply.body
    return str(reply.json["token"])
