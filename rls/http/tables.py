"""The table routes: ``/<table>`` and ``/<table>/<pk>`` for every method."""

from __future__ import annotations

from typing import Any

from rls.http.messages import Request, Response, json_response, message
from rls.rest.query import DEFAULT_LIMITS, Limits, RestQuery, parse_query
from rls.rest.resource import Debug, TableService, by_primary_key
from rls.schema import Table


class TableRoutes:
    """HTTP in, :class:`TableService` call, HTTP out."""

    def __init__(self, service: TableService, limits: Limits = DEFAULT_LIMITS):
        self.service = service
        self.limits = limits

    def _target(self, request: Request, params: dict[str, str], *, singular: bool) -> tuple[Table, RestQuery]:
        table = self.service.table(params["table"])
        query = parse_query(request.query_string, self.limits)
        if "pk" in params:
            query = by_primary_key(table, query, params["pk"], singular=singular)
        return table, query

    def get(self, request: Request, params: dict[str, str]) -> Response:
        table, query = self._target(request, params, singular=True)
        return _result(self.service.read(table, query, request.user))

    def post(self, request: Request, params: dict[str, str]) -> Response:
        table, query = self._target(request, params, singular=False)
        return _result(self.service.create(table, request.json(), query, request.user), "inserted")

    def put(self, request: Request, params: dict[str, str]) -> Response:
        table, query = self._target(request, params, singular=False)
        return _result(self.service.update(table, request.json(), query, request.user), "updated")

    def delete(self, request: Request, params: dict[str, str]) -> Response:
        table, query = self._target(request, params, singular=False)
        return _result(self.service.delete(table, query, request.user), "deleted")


def _result(result: Any, verb: str | None = None) -> Response:
    if isinstance(result, Debug):
        return json_response(result.to_json())
    if verb is None:
        return json_response(result)
    return message(f"successfully {verb} {result} rows")
