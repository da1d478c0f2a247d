"""Requests and responses: a WSGI environ read once, a JSON response written once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from rls import jsonin, jsonout
from rls.auth.principal import ANONYMOUS, AuthUser
from rls.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from rls.http import bounded
from rls.rest.query import query_pairs

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
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Request:
    """The parts of a WSGI request rls reads. The body is read lazily, with a size cap."""

    __slots__ = (
        "_bad_path", "_max_body", "_max_depth", "_segments", "environ", "method", "path", "query_string", "user",
    )  # fmt: skip

    def __init__(self, environ: Mapping[str, Any], *, max_body: int, max_json_depth: int = jsonin.DEFAULT_MAX_DEPTH):
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        # WSGI hands the path over as latin-1 decoded bytes; URLs are UTF-8.
        raw_path = environ.get("PATH_INFO", "/") or "/"
        try:
            self.path: str = raw_path.encode("latin-1").decode("utf-8")
            self._bad_path = False
        except UnicodeError:  # refused by check_url (the path as logged keeps U+FFFD)
            self.path = raw_path.encode("latin-1", "replace").decode("utf-8", "replace")
            self._bad_path = True
        self.query_string: str = environ.get("QUERY_STRING", "")
        self._max_body = max_body
        self._max_depth = max_json_depth
        # Set by the app's authentication step before dispatch.
        self.user: AuthUser = ANONYMOUS
        self._segments: list[str] | None = None

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        return self.environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}")

    def check_url(self) -> None:
        """Refuse a path or query string that is not UTF-8 (raw or once percent-decoded):
        decoding it with replacement would let ``%FF`` match a stored U+FFFD."""
        if self._bad_path:
            raise BadRequest("invalid path: not valid UTF-8")
        self.segments()
        query_pairs(self.query_string)

    def check_headers(self) -> None:
        """Refuse a header rls interprets that is present but empty, holds anything but
        visible ASCII, or (a list) an empty element: granian hands a value with a
        non-ASCII byte over as the empty string, and joins repeated headers with commas,
        so an empty value or element is a header that was there and could not be read.
        Read as absent, ``Prefer: tx=rollback<0x80>`` would commit."""
        for name in INTERPRETED_HEADERS:
            value = self.header(name)
            if value is None:
                continue
            empty_element = name in LIST_HEADERS and any(not part.strip() for part in value.split(","))
            if not value.strip() or not _VISIBLE_ASCII.issuperset(value) or empty_element:
                raise BadRequest(f"invalid {name} header: empty, an empty list element, or not visible ASCII")

    def segments(self) -> list[str]:
        """The decoded path segments (computed once: authentication and routing both ask);
        a segment that is not UTF-8 once percent-decoded is a 400."""
        if self._segments is None:
            path = self.path.strip("/")
            try:
                self._segments = [unquote(s, errors="strict") for s in path.split("/")] if path else []
            except UnicodeDecodeError:
                raise BadRequest("invalid path: not valid UTF-8 once percent-decoded") from None
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
        """The body as JSON; a body declared as another media type is a 415; a missing or
        malformed body, or one no database can take (lone surrogates, non-finite numbers,
        nesting past ``max_json_depth``), is a 400."""
        check_json_media_type(self.header("Content-Type"))
        raw = self.body()
        if not raw.strip():
            raise BadRequest("request body is empty: a JSON body is required", postgrest_code="PGRST102")
        try:
            return jsonin.loads(raw, max_depth=self._max_depth)
        except jsonin.JsonInputError as exc:
            limit = " (max_json_depth)" if isinstance(exc, jsonin.JsonTooDeep) else ""
            raise BadRequest(f"request body is not valid JSON: {exc}{limit}", postgrest_code="PGRST102") from None


INTERPRETED_HEADERS = ("Prefer", "Accept", "Range", "Range-Unit", "Content-Type", "Accept-Profile", "Content-Profile")
"""The request headers whose value changes what rls does (``Authorization`` too: present
and empty or unreadable, it is already a 401 invalid token)."""
LIST_HEADERS = frozenset({"Prefer", "Accept"})
"""Those that are comma-separated lists (repeated headers arrive joined by commas)."""
_VISIBLE_ASCII = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\t"}

JSON_MEDIA_TYPES = frozenset({"application/json"})
"""The media types of a request body rls reads (as JSON, in UTF-8)."""


def check_json_media_type(content_type: str | None) -> None:
    """A body without ``Content-Type`` is read as JSON (as PostgREST does); one declared
    as anything but ``application/json`` (parameters: at most ``charset=utf-8``) is a 415:
    a form, ``text/plain`` or CSV is never sniffed into a write.

    >>> check_json_media_type("application/json; charset=UTF-8")
    >>> check_json_media_type("text/plain")
    Traceback (most recent call last):
    rls.errors.UnsupportedMediaType: unsupported Content-Type: text/plain (only application/json, in UTF-8)
    """
    if content_type is None:
        return
    media, *params = (part.strip() for part in content_type.split(";"))
    ok = media.lower() in JSON_MEDIA_TYPES
    for param in params:
        if not param:  # "application/json;"
            continue
        name, eq, value = (p.strip() for p in param.partition("="))
        ok = ok and name.lower() == "charset" and bool(eq) and value.strip('"').lower() in ("utf-8", "utf8")
    if not ok:
        shown = content_type if _VISIBLE_ASCII.issuperset(content_type) else "not visible ASCII"
        raise UnsupportedMediaType(
            f"unsupported Content-Type: {shown[:100]} (only application/json, in UTF-8)", postgrest_code="PGRST107"
        )


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


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None, *, limit: int | None = None
) -> Response:
    """``value`` as JSON; with ``limit`` (``max_response_bytes``: an answer of rows), a 400
    past that many bytes, counted as rows are encoded."""
    body = jsonout.dumps(value) if limit is None else bounded.dumps_json(value, limit)
    return Response(status, body, [("Content-Type", "application/json; charset=utf-8"), *(headers or {}).items()])


def message(text: str, status: int = 200) -> Response:
    """The original's ``{"msg": …}`` response."""
    return json_response({"msg": text}, status)
