"""The RPC routes: ``POST /rpc/<function>`` (arguments in a JSON object) and
``GET /rpc/<function>?<argument>=<value>`` (STABLE and IMMUTABLE functions only)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from rls.errors import BadRequest, NotAcceptable
from rls.http import bounded
from rls.http.messages import Request, Response
from rls.http.prefer import Accept, negotiate
from rls.rest.rpc import RpcService


class RpcRoutes:
    """HTTP in, :class:`RpcService` call, HTTP out."""

    def __init__(self, service: RpcService, *, max_response_bytes: int = 32 << 20):
        self.service = service
        self.max_response = max_response_bytes

    def post(self, request: Request, params: dict[str, str]) -> Response:
        # A call without arguments may come without a body.
        empty = request.header("Content-Length") in (None, "", "0") and not request.header("Transfer-Encoding")
        arguments = {} if empty else request.json()
        return self._call(request, params["function"], arguments, read_only=False)

    def get(self, request: Request, params: dict[str, str]) -> Response:
        pairs = parse_qsl(request.query_string, keep_blank_values=True, errors="strict")  # checked: UTF-8
        arguments = dict(pairs)
        if len(arguments) != len(pairs):
            raise BadRequest("an argument is given more than once")
        return self._call(request, params["function"], arguments, read_only=True)

    def _call(self, request: Request, function: str, arguments: Any, *, read_only: bool) -> Response:
        refuse_unapplied_headers(request)
        # The answer is encoded inside the call's transaction: past max_response_bytes the
        # call is rolled back (a 400 never hides a committed write).
        body = self.service.call(
            function, arguments, request.user, read_only=read_only,
            answer=lambda result: bounded.dumps_json(result, self.max_response),
        )  # fmt: skip
        return Response(200, body, [("Content-Type", "application/json; charset=utf-8")])


def refuse_unapplied_headers(request: Request) -> None:
    """/rpc and /auth/… answer JSON and apply no preference and no range: a ``Prefer``
    (``tx=rollback`` above all: it must never commit), a ``Range`` or an ``Accept`` of
    another answer is refused rather than ignored."""
    wanted = negotiate(request.header, request.method)
    if wanted.prefer.given:
        raise BadRequest(f"invalid Prefer header: no preference applies here ({', '.join(wanted.prefer.given)})"[:200])
    if wanted.range is not None:
        raise BadRequest("invalid Range header: this answer is not paged")
    if wanted.accept != Accept():
        raise NotAcceptable("this answer is application/json only")
