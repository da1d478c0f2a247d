"""The ``/auth/<action>`` endpoints: setup, register, login, logout (POST only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rls.auth.service import AuthService
from rls.errors import BadRequest
from rls.http.messages import Request, Response, json_response, message
from rls.values import storable_text

# Responses holding a password or a token must not be kept by any cache on the way.
_NO_STORE = {"Cache-Control": "no-store"}


class AuthRoutes:
    """HTTP in, :class:`AuthService` call, HTTP out."""

    def __init__(self, service: AuthService):
        self.service = service
        self.actions: dict[str, Callable[[Request], Response]] = {
            "setup": self.setup,
            "register": self.register,
            "login": self.login,
            "logout": self.logout,
        }

    def post(self, request: Request, params: dict[str, str]) -> Response:
        action = self.actions.get(params["action"])
        if action is None:
            raise BadRequest(f"unknown auth action: {params['action']}; expected one of {', '.join(self.actions)}")
        return action(request)

    def setup(self, request: Request) -> Response:
        # The caller becomes the admin: only from this host or with a setup token.
        self.service.setup_gate.check(request.environ)
        return json_response(self.service.setup(), headers=_NO_STORE)

    def register(self, request: Request) -> Response:
        username, password = credentials(request.json())
        self.service.users.register(username, password)
        return message("success")

    def login(self, request: Request) -> Response:
        username, password = credentials(request.json())
        client = str(request.environ.get("REMOTE_ADDR") or "unknown")
        token = self.service.login(username, password, client)
        return json_response({"token": token}, headers=_NO_STORE)

    def logout(self, request: Request) -> Response:
        # Tokens are stateless: the client forgets its token (as the original).
        return message("success")


def credentials(body: Any) -> tuple[str, str]:
    """``username`` and ``password`` from a register or login body; other keys are ignored.

    >>> credentials({"username": "alice", "password": "secret12", "is_admin": True})
    ('alice', 'secret12')
    """
    if not isinstance(body, dict):
        raise BadRequest('body must be a JSON object: {"username": "...", "password": "..."}')
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest("username and password are required, as strings")
    # JSON allows lone surrogates and NUL; no database driver stores them.
    if not storable_text(username) or not storable_text(password):
        raise BadRequest("username and password must be valid Unicode text without NUL characters")
    return username, password
