"""A WSGI test client: requests go straight into the app, in-process."""

from __future__ import annotations

import io
import json as jsonlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def msg(self) -> str:
        return str(self.json["msg"])


class Client:
    """Calls a WSGI app. ``query`` may be a string (sent as is) or a list of pairs."""

    def __init__(self, app: Any, token: str | None = None):
        self.app = app
        self.token = token
        self.wrote = False

    def request(
        self,
        method: str,
        path: str,
        query: str | list[tuple[str, str]] | dict[str, str] = "",
        *,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Reply:
        if method in WRITE_METHODS:
            self.wrote = True
        raw = body if body is not None else (jsonlib.dumps(json).encode() if json is not None else b"")
        qs = query if isinstance(query, str) else urlencode(query)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": qs,
            "CONTENT_LENGTH": str(len(raw)),
            "CONTENT_TYPE": "application/json",
            "wsgi.input": io.BytesIO(raw),
            "REMOTE_ADDR": "127.0.0.1",  # a client on the server's own host
            "SERVER_NAME": "test",
            "SERVER_PORT": "80",
        }
        bearer = token if token is not None else self.token
        if bearer:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
        captured: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = dict(response_headers)

        out = b"".join(self.app(environ, start_response))
        return Reply(captured["status"], captured["headers"], out)

    def get(self, path: str, query: Any = "", **kw: Any) -> Reply:
        return self.request("GET", path, query, **kw)

    def post(self, path: str, json: Any = None, query: Any = "", **kw: Any) -> Reply:
        return self.request("POST", path, query, json=json, **kw)

    def put(self, path: str, json: Any = None, query: Any = "", **kw: Any) -> Reply:
        return self.request("PUT", path, query, json=json, **kw)

    def patch(self, path: str, json: Any = None, query: Any = "", **kw: Any) -> Reply:
        return self.request("PATCH", path, query, json=json, **kw)

    def delete(self, path: str, query: Any = "", **kw: Any) -> Reply:
        return self.request("DELETE", path, query, **kw)
