"""The table routes: ``/<table>`` and ``/<table>/<pk>`` for every method.

A request without PostgREST's headers (see :mod:`rls.http.prefer`) gets the original
server's answers; one with them gets PostgREST's: ``Content-Range``, 201/206/416,
``Location``, ``Preference-Applied``, the written rows, one object, CSV.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from rls import jsonout
from rls.errors import BadRequest, NotSingular, RangeNotSatisfiable
from rls.http import bounded
from rls.http.messages import Request, Response, json_response, message
from rls.http.prefer import Accept, Media, Negotiated, Range, negotiate
from rls.rest.plan import Upsert
from rls.rest.query import DEFAULT_LIMITS, Limits, RestQuery, parse_in_list, parse_query, query_pairs
from rls.rest.resource import Debug, Page, Paged, TableService, WriteResult, Written, by_primary_key
from rls.schema import Table

WRITE_OPTIONS = ("columns", "on_conflict")
"""Query parameters of a PostgREST insert (not filters)."""


class TableRoutes:
    """HTTP in, :class:`TableService` call, HTTP out."""

    def __init__(self, service: TableService, limits: Limits = DEFAULT_LIMITS, *, max_response_bytes: int = 32 << 20):
        self.service = service
        self.limits = limits
        self.max_response = max_response_bytes

    def _target(
        self, request: Request, params: dict[str, str], *, singular: bool, query_string: str | None = None
    ) -> tuple[Table, RestQuery]:
        table = self.service.table(params["table"])
        query = parse_query(request.query_string if query_string is None else query_string, self.limits)
        if query.select is not None and query.select.strip() == "*":
            query = query_with(query, select=None)  # every column, as without select
        if "pk" in params:
            query = by_primary_key(table, query, params["pk"], singular=singular)
        return table, query

    # -- reads ------------------------------------------------------------------------

    def get(self, request: Request, params: dict[str, str]) -> Response:
        wanted = negotiate(request.header, request.method)
        table, query = self._target(request, params, singular=True)
        if not wanted.postgrest or query.count or query.singular:
            return _result(self.service.read(table, query, request.user), limit=self.max_response)
        query = with_range(query, wanted.range)
        page = self.service.read(table, query, request.user, Paged(total=wanted.prefer.count is not None))
        if isinstance(page, Debug):
            return json_response(page.to_json())
        return _page_response(page, wanted, self.max_response)

    def head(self, request: Request, params: dict[str, str]) -> Response:
        """GET's status and headers (always answered the PostgREST way); the app drops
        the body of every HEAD response."""
        return self.get(request, params)

    # -- writes -----------------------------------------------------------------------

    def post(self, request: Request, params: dict[str, str]) -> Response:
        wanted = negotiate(request.header, request.method)
        if not wanted.postgrest:
            table, query = self._target(request, params, singular=False)
            return _result(self.service.create(table, request.json(), query, request.user), "inserted")
        extras, rest = split_write_options(request.query_string)
        table, query = self._target(request, params, singular=False, query_string=rest)
        options = write_options(wanted, query, table, extras, self.max_response)
        result = self.service.create(table, request.json(), query, request.user, options)
        return _write_response(result, wanted, table, created=True, limit=self.max_response)

    def put(self, request: Request, params: dict[str, str]) -> Response:
        wanted = negotiate(request.header, request.method)
        table, query = self._target(request, params, singular=False)
        if not wanted.postgrest:
            return _result(self.service.update(table, request.json(), query, request.user), "updated")
        options = write_options(wanted, query, table, {}, self.max_response)
        result = self.service.update(table, request.json(), query, request.user, options)
        return _write_response(result, wanted, table, created=False, limit=self.max_response)

    def delete(self, request: Request, params: dict[str, str]) -> Response:
        wanted = negotiate(request.header, request.method)
        table, query = self._target(request, params, singular=False)
        if not wanted.postgrest:
            return _result(self.service.delete(table, query, request.user), "deleted")
        options = write_options(wanted, query, table, {}, self.max_response)
        result = self.service.delete(table, query, request.user, options)
        return _write_response(result, wanted, table, created=False, limit=self.max_response)


def split_write_options(query_string: str) -> tuple[dict[str, str], str]:
    """``columns`` and ``on_conflict`` out of an insert's query string; the rest as is."""
    extras: dict[str, str] = {}
    rest = []
    for part in query_string.split("&"):
        key = part.partition("=")[0]
        if key in WRITE_OPTIONS:
            pairs = query_pairs(part)
            if key in extras:
                raise BadRequest(f"parameter given twice: {key}")
            extras[key] = pairs[0][1] if pairs else ""
        elif part:
            rest.append(part)
    return extras, "&".join(rest)


def column_list(text: str, table: Table, name: str) -> tuple[str, ...]:
    """``a,b,"c d"`` → column names, each a column of ``table`` (400 otherwise)."""
    names = parse_in_list(name, f"({text})")  # the in.(…) list syntax: "quoted, names" too
    if not all(names):
        raise BadRequest(f"invalid {name}: expected a comma-separated list of columns")
    for column in names:
        table.column(column)
    if len(set(names)) != len(names):
        raise BadRequest(f"invalid {name}: a column is named twice")
    return names


def write_options(
    wanted: Negotiated, query: RestQuery, table: Table, extras: dict[str, str], limit: int = 32 << 20
) -> Written:
    """How a PostgREST write runs, from its ``Prefer`` header and query string."""
    prefer = wanted.prefer
    returning = None
    if prefer.return_ == "representation":
        returning = query.select or "*"
    elif prefer.return_ == "headers-only" and table.primary_key:
        returning = ",".join(table.primary_key)
    upsert = None
    if prefer.resolution is not None:
        if "on_conflict" in extras:
            keys = column_list(extras["on_conflict"], table, "on_conflict")
        elif table.primary_key:
            keys = table.primary_key
        else:
            raise BadRequest(f"upsert needs on_conflict=<columns>: table {table.name} has no primary key")
        upsert = Upsert(keys, prefer.resolution == "merge-duplicates")
    elif "on_conflict" in extras:
        raise BadRequest("on_conflict needs Prefer: resolution=merge-duplicates or resolution=ignore-duplicates")
    columns = column_list(extras["columns"], table, "columns") if "columns" in extras else None
    return Written(
        returning=returning,
        upsert=upsert,
        columns=columns,
        missing_default=prefer.missing == "default",
        rollback=prefer.tx == "rollback",
        max_affected=prefer.max_affected,
        single=wanted.accept.media is Media.OBJECT,
        # The answer is encoded inside the transaction too: past max_response_bytes the
        # write is rolled back, never committed behind a 400.
        answer=lambda rows: _encoded(rows, tuple(rows[0]) if rows else (), wanted.accept, limit),
    )


def with_range(query: RestQuery, header: Range | None) -> RestQuery:
    """The query's ``limit``/``offset`` intersected with a ``Range`` header, as PostgREST
    does (rows in both)."""
    if header is None or query.page is not None or query.page_size is not None:
        return query
    first = query.offset or 0
    own = Range(first, None if query.limit is None else first + query.limit - 1)
    both = header.intersect(own)
    limit = both.limit
    return query_with(query, limit=limit, offset=both.first or None)


def query_with(query: RestQuery, **changes: Any) -> RestQuery:
    return replace(query, **changes)


def content_range(first: int, returned: int, total: int | None) -> str:
    """``0-9/123``; ``*`` for no rows or an unknown total (PostgREST's format).

    >>> content_range(0, 10, 123), content_range(5, 0, 3), content_range(0, 2, None)
    ('0-9/123', '*/3', '0-1/*')
    """
    span = f"{first}-{first + returned - 1}" if returned and total != 0 else "*"
    return f"{span}/{'*' if total is None else total}"


def _page_response(page: Page, wanted: Negotiated, limit: int) -> Response:
    first, returned, total = page.offset, len(page.rows), page.total
    headers = [("Content-Range", content_range(first, returned, total))]
    applied = wanted.prefer.applied("count")
    if applied:
        headers.append(("Preference-Applied", applied))
    status = 200
    if total is not None:
        if first > total:
            raise RangeNotSatisfiable(
                f"Requested range not satisfiable: an offset of {first} was requested, but there are only {total} rows",
                headers={"Content-Range": f"*/{total}"},
            )
        if returned < total:
            status = 206
    if wanted.accept.media is Media.OBJECT and returned != 1:
        raise NotSingular(f"JSON object requested, multiple (or no) rows returned: the result contains {returned} rows")
    return _body(page.rows, page.columns, wanted.accept, status, headers, limit)


def _write_response(result: Any, wanted: Negotiated, table: Table, *, created: bool, limit: int) -> Response:
    if isinstance(result, Debug):
        return json_response(result.to_json())
    assert isinstance(result, WriteResult)
    prefer = wanted.prefer
    headers: list[tuple[str, str]] = []
    if prefer.count is not None:
        headers.append(("Content-Range", f"*/{result.count}"))
    names = ("return", "count", "handling", "tx", "max-affected") + (("resolution", "missing") if created else ())
    applied = prefer.applied(*names)
    if applied:
        headers.append(("Preference-Applied", applied))
    if prefer.return_ == "representation":
        return _body(result.rows, tuple(result.rows[0]) if result.rows else (), wanted.accept,
                     201 if created else 200, headers, limit)  # fmt: skip
    if prefer.return_ == "headers-only" and created and result.rows:
        headers.append(("Location", location(table, result.rows[0])))
    return Response(201 if created else 204, b"", headers)


def location(table: Table, key: dict[str, Any]) -> str:
    """PostgREST's ``Location`` of an inserted row: ``/<table>?<pk>=eq.<value>…``."""
    filters = "&".join(f"{quote(c, safe='')}=eq.{quote(_text(key[c]), safe='')}" for c in table.primary_key)
    return f"/{quote(table.name, safe='')}?{filters}"


def _text(value: Any) -> str:
    field = jsonout.csv_field(value)
    return field[1:-1].replace('""', '"') if field.startswith('"') else field


def _body(
    rows: list[dict[str, Any]],
    columns: tuple[str, ...],
    accept: Accept,
    status: int,
    headers: list[tuple[str, str]],
    limit: int,
) -> Response:
    body, content_type = _encoded(rows, columns, accept, limit)
    return Response(status, body, [("Content-Type", content_type), *headers])


def _encoded(rows: list[dict[str, Any]], columns: tuple[str, ...], accept: Accept, limit: int) -> tuple[bytes, str]:
    """The rows as the request accepts them, at most ``limit`` bytes (max_response_bytes:
    a 400 past it, counted as rows are encoded); and their media type."""
    if accept.media is Media.CSV:
        return bounded.dumps_csv(columns, rows, limit), "text/csv; charset=utf-8"
    if accept.strip_nulls:
        rows = [{k: v for k, v in row.items() if v is not None} for row in rows]
    if accept.media is Media.OBJECT:
        return bounded.dumps_json(rows[0], limit), "application/vnd.pgrst.object+json; charset=utf-8"
    return bounded.dumps_json(rows, limit), "application/json; charset=utf-8"


def _result(result: Any, verb: str | None = None, *, limit: int | None = None) -> Response:
    if isinstance(result, Debug):
        return json_response(result.to_json())
    if verb is None:
        return json_response(result, limit=limit)
    return message(f"successfully {verb} {result} rows")
