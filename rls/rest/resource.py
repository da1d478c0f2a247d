"""Tables as REST resources: read, create, update, delete, each one transaction.

Request → policy decision → cached plan (→ AST → SQL on a miss) → bound parameters → rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rls.auth.principal import ANONYMOUS, AuthUser
from rls.database import Database, Session
from rls.errors import BadRequest, NotFound, UnknownTable, WithCheckViolation
from rls.policy.compile import Predicate, principal_params
from rls.policy.engine import Decision, PolicyEngine, denial
from rls.rest import embed
from rls.rest.compiler import RestCompiler
from rls.rest.plan import Check, Plan, paging_values
from rls.rest.query import Filter, RestQuery
from rls.rest.terms import parse_reference
from rls.schema import Table

RowHook = Callable[[Session, Table, list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass(frozen=True)
class TableRules:
    """What a table needs beyond policies: columns never shown or filtered on (password
    hashes), and a hook that checks or rewrites every row written (hash a password,
    validate a policy) inside the write's transaction."""

    hidden: frozenset[str] = frozenset()
    before_write: RowHook | None = None


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


@dataclass
class TableService:
    """The REST operations on the tables of one database.

    ``engine`` None means auth is disabled: no policy applies. ``unserved`` tables
    answer 404 as if they did not exist (``auth_users`` without auth).
    """

    db: Database
    compiler: RestCompiler
    paging: Paging = field(default_factory=Paging)
    engine: PolicyEngine | None = None
    rules: Mapping[str, TableRules] = field(default_factory=dict)
    unserved: frozenset[str] = frozenset()
    _visible: dict[tuple[int, str], Table] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        """The table as a request may see it: unserved tables unknown, hidden columns gone."""
        if name in self.unserved:
            raise UnknownTable(f"table does not exist: {name}")
        table = self.db.table(name)
        rules = self.rules.get(name)
        if rules is None or not rules.hidden:
            return table
        key = (self.db.schema_version, name)
        visible = self._visible.get(key)
        if visible is None:
            columns = [c for c in table.columns.values() if c.name not in rules.hidden]
            visible = self._visible[key] = Table.build(name, columns, table.primary_key, is_view=table.is_view)
        return visible

    def _decide(self, table: Table, action: str, user: AuthUser, query: RestQuery | None = None) -> Decision | None:
        if self.engine is None:
            return None
        if query is not None and query.debug and not user.is_admin:
            raise denial(user)
        return self.engine.decide(table, action, user)

    # -- reads ------------------------------------------------------------------------

    def read(self, table: Table, query: RestQuery, user: AuthUser = ANONYMOUS) -> Any:
        """Rows as a list; one row (``singular``); or the number of rows (``count``)."""
        decision = self._decide(table, "read_mine" if query.mine else "read", user, query)
        tree = self._embedded(table, query, user)
        plan = self.compiler.read(self.db.schema_version, table, query, decision, tree)
        values: list[Any] = list(query.values())
        if not query.count:
            if tree is not None:
                values += embed.paging_values(query, max_size=self.paging.max_size)
            values += paging_values(query, default_size=self.paging.default_size, max_size=self.paging.max_size)
        params = plan.bind(values, principal_params(user))
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

    def _embedded(self, table: Table, query: RestQuery, user: AuthUser) -> embed.SelectTree | None:
        """The select's embedded resources, each table as the caller may see it (unserved
        tables unknown, hidden columns gone) under its own read policy (a denial raises)."""

        def decide(embedded: Table) -> tuple[Any, Predicate | None]:
            decision = self._decide(embedded, "read", user)
            return (None, None) if decision is None else (decision.key, decision.predicate)

        schema = self.db.schema()
        return embed.resolve_select(query, table, schema, self.db.dialect, self.table, decide)

    # -- writes -----------------------------------------------------------------------

    def create(self, table: Table, body: Any, query: RestQuery, user: AuthUser = ANONYMOUS) -> int | Debug:
        """Insert one object or an array of objects with the same keys; returns the count."""
        columns, rows = rows_of(body)
        decision = self._decide(table, "create", user, query)
        full = self.db.table(table.name)
        _check_write_hazard(full, decision)
        for column in columns:
            full.column(column)
        plan = self.compiler.insert(self.db.schema_version, full, columns, decision)
        principal = principal_params(user)
        if query.debug:
            return Debug(plan.sql, [plan.bind([row[c] for c in columns], principal) for row in rows])

        def work(session: Session) -> int:
            written = self._before_write(session, full, rows)
            params = [plan.bind([row[c] for c in columns], principal) for row in written]
            if plan.check_mode is Check.NONE:
                return session.executemany(plan.sql, params)
            return sum(_run_checked(session, plan, row_params) for row_params in params)

        return _as_denial(lambda: self.db.run(work, write=True), user)

    def update(self, table: Table, body: Any, query: RestQuery, user: AuthUser = ANONYMOUS) -> int | Debug:
        """Set the body's columns on every row the filters (and the policy) allow."""
        require_filter(query, "update")
        if not isinstance(body, Mapping) or not body:
            raise BadRequest("update needs a JSON object with at least one column")
        decision = self._decide(table, "update", user, query)
        check_filters(query, table)
        full = self.db.table(table.name)
        _check_write_hazard(full, decision)
        columns = tuple(sorted(body))
        for column in columns:
            full.column(column)
        plan = self.compiler.update(self.db.schema_version, full, columns, query, decision, self._reading(table, user))
        principal = principal_params(user)

        def values_of(row: Mapping[str, Any]) -> list[Any]:
            return [*(row[c] for c in columns), *query.values()]

        if query.debug:
            return Debug(plan.sql, plan.bind(values_of(body), principal))

        def work(session: Session) -> int:
            row = self._before_write(session, full, [dict(body)])[0]
            return _run_checked(session, plan, plan.bind(values_of(row), principal))

        return _as_denial(lambda: self.db.run(work, write=True), user)

    def delete(self, table: Table, query: RestQuery, user: AuthUser = ANONYMOUS) -> int | Debug:
        """Delete every row the filters (and the policy) allow; returns the count."""
        require_filter(query, "delete")
        decision = self._decide(table, "delete", user, query)
        plan = self.compiler.delete(self.db.schema_version, table, query, decision, self._reading(table, user))
        params = plan.bind(query.values(), principal_params(user))
        if query.debug:
            return Debug(plan.sql, params)
        return self.db.run(lambda s: s.execute(plan.sql, params).rowcount, write=True)

    def _reading(self, table: Table, user: AuthUser) -> Decision | None:
        """The read policy for a write whose filters read the rows (an update or delete only
        touches rows the caller may read: no row count answers for a hidden row)."""
        return None if self.engine is None else self.engine.decide(table, "read", user)

    def _before_write(self, session: Session, table: Table, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        rules = self.rules.get(table.name)
        copies = [dict(r) for r in rows]
        return rules.before_write(session, table, copies) if rules and rules.before_write else copies


def _check_write_hazard(table: Table, decision: Decision | None) -> None:
    """A write whose policy the statement enforces itself needs a table that undoes an
    aborted statement and deletes nothing on its own."""
    if table.write_hazard and decision is not None and decision.predicate.node is not None:
        raise BadRequest(f"{table.name}: {table.write_hazard}")


def _run_checked(session: Session, plan: Plan, params: Sequence[Any]) -> int:
    """Run a write; the rows it touched. It enforces its WITH CHECK itself: a violating
    row aborts it (then the whole request's transaction rolls back)."""
    if plan.check_mode is Check.RETURNING:
        return len(session.execute(plan.sql, params).rows)
    return session.execute(plan.sql, params).rowcount


def _as_denial(write: Callable[[], int], user: AuthUser) -> int:
    """A write's own WITH CHECK abort, answered as the denial for ``user`` (401 for the
    anonymous user, 403 for everyone else)."""
    try:
        return write()
    except WithCheckViolation:
        raise denial(user) from None


def by_primary_key(table: Table, query: RestQuery, key: str, *, singular: bool) -> RestQuery:
    """``/<table>/<pk>``: the query plus ``<pkcol>=eq.<pk>``."""
    column = table.single_primary_key
    if column is None:
        raise BadRequest(f"table {table.name} has no single-column primary key")
    return query.with_filter(Filter(column, "eq", (key,)), singular=singular)


def check_filters(query: RestQuery, table: Table) -> None:
    """Every filter names a column the request may see (writes compile against the
    whole table, so hidden columns must be refused before)."""
    for f in query.filters:
        parse_reference(f.key, table)


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


__all__ = ["Debug", "Paging", "TableRules", "TableService"]
