"""Tables as REST resources: read, create, update, delete, each one transaction.

Request → cached plan (→ AST → SQL on a miss) → bound parameters → rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rls.database import Database, Session
from rls.errors import BadRequest, NotFound
from rls.rest.compiler import RestCompiler
from rls.rest.plan import Plan, paging_values
from rls.rest.query import Filter, RestQuery
from rls.schema import Table


@dataclass(frozen=True, slots=True)
class Debug:
    """What a request would run, returned instead of running it (``?debug``)."""

    query: str
    args: Any

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "args": self.args}


@dataclass(frozen=True, slots=True)
class Paging:
    default_size: int = 100
    max_size: int = 1000


class TableService:
    """The REST operations on the tables of one database."""

    def __init__(self, db: Database, compiler: RestCompiler, paging: Paging = Paging()):
        self.db = db
        self.compiler = compiler
        self.paging = paging

    def table(self, name: str) -> Table:
        return self.db.table(name)

    # -- reads ------------------------------------------------------------------------

    def read(self, table: Table, query: RestQuery) -> Any:
        """Rows as a list; one row (``singular``); or the number of rows (``count``)."""
        plan = self.compiler.read(self.db.schema_version, table, query)
        values = (
            query.values()
            if query.count
            else [
                *query.values(),
                *paging_values(query, default_size=self.paging.default_size, max_size=self.paging.max_size),
            ]
        )
        params = plan.bind(values)
        if query.debug:
            return Debug(plan.sql, params)
        rows = self.db.run(lambda s: s.execute(plan.sql, params).rows)
        if query.count:
            return int(rows[0][0])
        result = plan.read_rows(rows)
        if query.singular:
            if not result:
                raise NotFound("data not found in database")
            if len(result) > 1:
                raise BadRequest("more than one row matches a singular request")
            return result[0]
        return result

    # -- writes -----------------------------------------------------------------------

    def create(self, table: Table, body: Any, query: RestQuery) -> int | Debug:
        """Insert one object or an array of objects with the same keys; returns the count."""
        columns, rows = rows_of(body)
        plan = self.compiler.insert(self.db.schema_version, table, columns)
        params = [plan.bind([row[c] for c in columns]) for row in rows]
        if query.debug:
            return Debug(plan.sql, params)
        return self.db.run(lambda s: s.executemany(plan.sql, params), write=True)

    def update(self, table: Table, body: Any, query: RestQuery) -> int | Debug:
        """Set the body's columns on every row the filters match; returns the count."""
        require_filter(query, "update")
        if not isinstance(body, Mapping) or not body:
            raise BadRequest("update needs a JSON object with at least one column")
        columns = tuple(sorted(body))
        plan = self.compiler.update(self.db.schema_version, table, columns, query)
        params = plan.bind([*(body[c] for c in columns), *query.values()])
        return self._write(plan, params, query)

    def delete(self, table: Table, query: RestQuery) -> int | Debug:
        """Delete every row the filters match; returns the count."""
        require_filter(query, "delete")
        plan = self.compiler.delete(self.db.schema_version, table, query)
        return self._write(plan, plan.bind(query.values()), query)

    def _write(self, plan: Plan, params: Sequence[Any], query: RestQuery) -> int | Debug:
        if query.debug:
            return Debug(plan.sql, list(params))

        def work(session: Session) -> int:
            return session.execute(plan.sql, params).rowcount

        return self.db.run(work, write=True)


def by_primary_key(table: Table, query: RestQuery, key: str, *, singular: bool) -> RestQuery:
    """``/<table>/<pk>``: the query plus ``<pkcol>=eq.<pk>``."""
    column = table.single_primary_key
    if column is None:
        raise BadRequest(f"table {table.name} has no single-column primary key")
    return query.with_filter(Filter(column, "eq", (key,)), singular=singular)


def require_filter(query: RestQuery, action: str) -> None:
    if not query.has_filter:
        raise BadRequest(f"{action} needs a filter; use 1=eq.1 to {action} every row")


def rows_of(body: Any) -> tuple[tuple[str, ...], list[Mapping[str, Any]]]:
    """The columns and rows of a POST body: one object or a non-empty array of objects
    that all have the same keys."""
    rows = [body] if isinstance(body, Mapping) else body
    if not isinstance(rows, list):
        raise BadRequest("body must be a JSON object or an array of objects")
    if not rows:
        raise BadRequest("body is an empty array: nothing to insert")
    if not all(isinstance(row, Mapping) for row in rows):
        raise BadRequest("body must be a JSON object or an array of objects")
    columns = tuple(sorted(rows[0]))
    if not columns:
        raise BadRequest("body object has no columns")
    if any(tuple(sorted(row)) != columns for row in rows[1:]):
        raise BadRequest("all objects in the array must have the same keys")
    return columns, rows
