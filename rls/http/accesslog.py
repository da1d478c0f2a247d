"""The access log: one JSON line per request, the request id that ties it to a client, and
the route class and action a request is counted under.

A line holds only what the server decided about a request — never a header value other
than a well-formed request id, a query value, a body, a token or a password.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rls.http.messages import Request
from rls.metrics import method_label

REQUEST_ID_HEADER = "X-Request-Id"
INFO_KEY = "rls.request_info"
# A client's id is echoed in a header and written to the log: a bounded, safe charset.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(incoming: str | None) -> str:
    """The client's request id when well-formed, else a new random one.

    >>> request_id_of("abc-123"), len(request_id_of("bad id\\r\\nX-Evil: 1"))
    ('abc-123', 32)
    """
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@dataclass(slots=True)
class RequestInfo:
    """What the app learns about a request while answering it; the access log's fields.

    ``table`` is set only for a table that exists (a path segment naming nothing real —
    possibly a pasted secret — is never logged).
    """

    request_id: str
    route: str = "other"
    table: str = ""
    action: str = ""
    user_id: int | str | None = None
    denied: bool = False


def log_record(info: RequestInfo, method: str, status: int, seconds: float, size: int) -> dict[str, Any]:
    """The access log line of one request, as a dict."""
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_id": info.request_id,
        "method": method_label(method),
        "route": info.route,
        "table": info.table or None,
        "action": info.action or None,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "user_id": info.user_id,
        "bytes": size,
        "pid": os.getpid(),
    }


class AccessLog:
    """Writes records as JSON lines to stderr or appends them to a file.

    The file opens on first write (no I/O in the constructor); each line is one
    ``write`` on an ``O_APPEND`` descriptor, so several worker processes can share it.
    """

    def __init__(self, destination: str):
        self.destination = destination
        self._fd: int | None = None
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=True, default=str) + "\n"
        with self._lock:
            if self.destination == "stderr":
                sys.stderr.write(line)
                sys.stderr.flush()
                return
            if self._fd is None:
                self._fd = os.open(self.destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            os.write(self._fd, line.encode("ascii"))


def access_log_for(destination: str) -> AccessLog | None:
    """The log ``log.access`` names; None for ``off``."""
    return None if destination.strip().lower() in ("off", "") else AccessLog(destination)


AUTH_ACTIONS = frozenset({"setup", "register", "login", "logout"})
_TABLE_ACTIONS = {"GET": "read", "POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def request_info(request: Request) -> RequestInfo | None:
    """What :meth:`App.__call__` records about ``request`` (None for a bare Request)."""
    info = request.environ.get(INFO_KEY)
    return info if isinstance(info, RequestInfo) else None


def route_class(segments: list[str]) -> str:
    """The route class of a path for the metrics and the log: root, auth, rpc or table.

    >>> route_class([]), route_class(["auth", "login"]), route_class(["todos", "1"])
    ('root', 'auth', 'table')
    """
    if not segments:
        return "root"
    if segments[0] in ("auth", "rpc") and len(segments) == 2:
        return segments[0]
    return "table" if len(segments) <= 2 else "other"


def table_action(request: Request) -> str:
    """The policy action of a table request (``read_mine`` for ``GET ?mine``)."""
    action = _TABLE_ACTIONS.get(request.method, "")
    if action == "read" and any(part.partition("=")[0] == "mine" for part in request.query_string.split("&")):
        return "read_mine"
    return action
