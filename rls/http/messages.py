"""Requests and responses: a WSGI environ read once, a JSON response written once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from rls import jsonin, jsonout
from rls.auth.principal import ANONYMOUS, AuthUser
from rls.errors import BadRequest, PayloadTooLarge

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    206: "Partial Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Payload Too Large",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Request:
    """The parts of a WSGI request rls reads. The body is read lazily, with a size cap."""

    __slots__ = ("_max_body", "_max_depth", "_segments", "environ", "method", "path", "query_string", "user")

    def __init__(self, environ: Mapping[str, Any], *, max_body: int, max_json_depth: int = jsonin.DEFAULT_MAX_DEPTH):
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        # WSGI hands the path over as latin-1 decoded bytes; URLs are UTF-8.
        raw_path = environ.get("PATH_INFO", "/") or "/"
        self.path: str = raw_path.encode("latin-1").decode("utf-8", "replace")
        self.query_string: str = environ.get("QUERY_STRING", "")
        self._max_body = max_body
        self._max_depth = max_json_depth
        # Set by the app's authentication step before dispatch.
        self.user: AuthUser = ANONYMOUS
        self._segments: list[str] | None = None

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        return self.environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}")

    def segments(self) -> list[str]:
        """The decoded path segments (computed once: authentication and routing both ask)."""
        if self._segments is None:
            path = self.path.strip("/")
            self._segments = [unquote(s) for s in path.split("/")] if path else []
        return self._segments

    def body(self) -> bytes:
        """The body, at most ``max_body`` bytes (413 beyond): ``Content-Length`` bytes, or
        — for a chunked body, which has none — what the server hands over up to its end."""
        length_text = self.environ.get("CONTENT_LENGTH") or ""
        if not length_text.strip() and self._unsized_body():
            data = bytes(self.environ["wsgi.input"].read(self._max_body + 1))
            if len(data) > self._max_body:
                raise PayloadTooLarge(f"request body too large: at most {self._max_body} bytes")
            return data
        try:
            length = int(length_text or "0")
        except ValueError:
            raise BadRequest("invalid Content-Length") from None
        if length > self._max_body:
            raise PayloadTooLarge(f"request body too large: at most {self._max_body} bytes")
        if length <= 0:
            return b""
        return bytes(self.environ["wsgi.input"].read(length))

    def _unsized_body(self) -> bool:
        # Reading past the body is only safe when the server ends the stream there
        # (wsgi.input_terminated: granian, gunicorn) — which it does for chunked bodies.
        chunked = "chunked" in (self.environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        return chunked or bool(self.environ.get("wsgi.input_terminated"))

    def json(self) -> Any:
        """The body as JSON; a missing or malformed body, or one no database can take
        (lone surrogates, non-finite numbers, nesting past ``max_json_depth``), is a 400."""
        raw = self.body()
        if not raw.strip():
            raise BadRequest("request body is empty: a JSON body is required", postgrest_code="PGRST102")
        try:
            return jsonin.loads(raw, max_depth=self._max_depth)
        except jsonin.JsonInputError as exc:
            limit = " (max_json_depth)" if isinstance(exc, jsonin.JsonTooDeep) else ""
            raise BadRequest(f"request body is not valid JSON: {exc}{limit}", postgrest_code="PGRST102") from None


@dataclass
class Response:
    """A status, headers and a body, ready for ``start_response``."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def wsgi(self, start_response: Any) -> Iterable[bytes]:
        headers = [*self.headers, ("Content-Length", str(len(self.body)))]
        start_response(f"{self.status} {_REASONS.get(self.status, 'Unknown')}", headers)
        return [self.body]


def json_response(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        status,
        jsonout.dumps(value),
        [("Content-Type", "application/json; charset=utf-8"), *(headers or {}).items()],
    )


def message(text: str, status: int = 200) -> Response:
    """The original's ``{"msg": …}`` response."""
    return json_response({"msg": text}, status)
