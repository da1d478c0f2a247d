"""The RPC routes: ``POST /rpc/<function>`` (arguments in a JSON object) and
``GET /rpc/<function>?<argument>=<value>`` (STABLE and IMMUTABLE functions only)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from rls.errors import BadRequest
from rls.http.messages import Request, Response, json_response
from rls.rest.rpc import RpcService


class RpcRoutes:
    """HTTP in, :class:`RpcService` call, HTTP out."""

    def __init__(self, service: RpcService):
        self.service = service

    def post(self, request: Request, params: dict[str, str]) -> Response:
        # A call without arguments may come without a body.
        empty = request.header("Content-Length") in (None, "", "0") and not request.header("Transfer-Encoding")
        arguments = {} if empty else request.json()
        return json_response(self.service.call(params["function"], arguments, request.user, read_only=False))

    def get(self, request: Request, params: dict[str, str]) -> Response:
        pairs = parse_qsl(request.query_string, keep_blank_values=True, errors="strict")  # checked: UTF-8
        arguments = dict(pairs)
        if len(arguments) != len(pairs):
            raise BadRequest("an argument is given more than once")
        return json_response(self.service.call(params["function"], arguments, request.user, read_only=True))
