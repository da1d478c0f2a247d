"""Tables as REST resources: read, create, update, delete, each one transaction.

Request → policy decision → cached plan (→ AST → SQL on a miss) → bound parameters → rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rls.auth.principal import ANONYMOUS, AuthUser
from rls.database import Database, Session
from rls.errors import (
    BadRequest,
    Conflict,
    NotFound,
    NotSingular,
    RlsError,
    UnknownColumn,
    UnknownTable,
    WithCheckViolation,
)
from rls.policy.compile import Predicate, principal_params
from rls.policy.engine import Decision, PolicyEngine, denial
from rls.rest import embed
from rls.rest.compiler import RestCompiler
from rls.rest.plan import Check, Plan, Upsert, paging_values
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
class Paged:
    """A PostgREST read: answered as a :class:`Page`; ``total``: count the matching rows."""

    total: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """Rows from ``offset`` on and, when asked, how many rows match in all."""

    rows: list[dict[str, Any]]
    offset: int
    total: int | None = None
    columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a PostgREST write did: the rows it touched and those it hands back."""

    count: int
    rows: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Written:
    """How a PostgREST write runs and answers (from its ``Prefer`` header and query string).

    ``returning``: the select the written rows are handed back with (None: nothing);
    ``columns``: the body keys to insert (``?columns=``; others are ignored); a key absent
    from an object is NULL, or its default with ``missing_default``; ``rollback``: run,
    answer, roll back; ``max_affected``: more rows than this is an error (rolled back);
    ``single``: exactly one row or a 406 (rolled back); ``answer``: called with the rows
    handed back before the commit (the web layer encodes them there, so an answer past
    ``max_response_bytes`` rolls the write back)."""

    returning: str | None = None
    upsert: Upsert | None = None
    columns: tuple[str, ...] | None = None
    missing_default: bool = False
    rollback: bool = False
    max_affected: int | None = None
    single: bool = False
    answer: Callable[[list[dict[str, Any]]], object] | None = None

    def finish(self, count: int, rows: list[dict[str, Any]]) -> WriteResult:
        """Checked inside the write's transaction: raising rolls the write back."""
        if self.max_affected is not None and count > self.max_affected:
            raise BadRequest(f"Query result exceeds max-affected preference constraint: {count} rows (PGRST124)")
        if self.single and (len(rows) if self.returning is not None else count) != 1:
            raise NotSingular("JSON object requested, multiple (or no) rows returned")
        if self.answer is not None and self.returning is not None:
            self.answer(rows)
        return WriteResult(count, rows)


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

    def read(self, table: Table, query: RestQuery, user: AuthUser = ANONYMOUS, paged: Paged | None = None) -> Any:
        """Rows as a list; one row (``singular``); or the number of rows (``count``).

        ``paged`` (PostgREST requests): a :class:`Page` — no default page size but the
        ``max_size`` cap, and with ``paged.total`` the number of rows the filters and the
        read policy allow, counted by the same policied path (``compile_count``)."""
        decision = self._decide(table, "read_mine" if query.mine else "read", user, query)
        tree = self._embedded(table, query, user)
        values: list[Any] = list(query.values())
        paging: list[int] = []
        if not query.count:
            if tree is not None:
                values += embed.paging_values(query, max_size=self.paging.max_size)
            cap = paged is not None
            paging = paging_values(query, default_size=self.paging.default_size, max_size=self.paging.max_size, cap=cap)
            values += paging[1:]  # the OFFSET; the page size is part of the statement
        limit = paging[0] if paging else None
        plan = self.compiler.read(self.db.schema_version, table, query, decision, tree, limit)
        params = plan.bind(values, principal_params(user))
        if query.debug:
            return Debug(plan.sql, params)
        if paged is not None:
            offset = paging[1] if len(paging) == 2 else 0
            return self._page(table, query, plan, params, decision, user, paged, offset, tree)
        rows = self.db.run(lambda s: s.execute(plan.sql, params).rows)
        if query.count:
            return int(rows[0][0])
        result = plan.read_rows(rows)
        if query.singular:
            if not result:
                raise NotFound("data not found in database", postgrest_code="PGRST116")
            if len(result) > 1:
                raise BadRequest("more than one row matches a singular request", postgrest_code="PGRST116")
            return result[0]
        return result

    def _page(self, table: Table, query: RestQuery, plan: Plan, params: list[Any], decision: Decision | None,
              user: AuthUser, paged: Paged, offset: int, tree: embed.SelectTree | None) -> Page:  # fmt: skip
        counting = None
        if paged.total:
            counting = self.compiler.read(self.db.schema_version, table, with_count(query), decision, tree)
        count_params = counting.bind(list(query.values()), principal_params(user)) if counting else []

        def work(session: Session) -> tuple[list[Any], int | None]:
            rows = session.execute(plan.sql, params).rows
            total = int(session.execute(counting.sql, count_params).rows[0][0]) if counting else None
            return rows, total

        # One snapshot for the rows and their count where the database gives one.
        rows, total = self.db.run(work, transaction=counting is not None)
        return Page(plan.read_rows(rows), offset, total, plan.columns[plan.hidden :])

    def _embedded(self, table: Table, query: RestQuery, user: AuthUser) -> embed.SelectTree | None:
        """The select's embedded resources, each table as the caller may see it (unserved
        tables unknown, hidden columns gone) under its own read policy (a denial raises)."""

        def decide(embedded: Table) -> tuple[Any, Predicate | None]:
            decision = self._decide(embedded, "read", user)
            return (None, None) if decision is None else (decision.key, decision.predicate)

        schema = self.db.schema()
        return embed.resolve_select(query, table, schema, self.db.dialect, self.table, decide)

    # -- writes -----------------------------------------------------------------------

    def create(
        self, table: Table, body: Any, query: RestQuery, user: AuthUser = ANONYMOUS, options: Written | None = None
    ) -> Any:
        """Insert one object or an array of objects with the same keys; returns the count,
        or — with ``options`` (PostgREST requests, see :class:`Written`) — a :class:`WriteResult`."""
        if options is None:
            columns, rows = rows_of(body)
            shaped = [(columns, dict(row)) for row in rows]
        refuse_read_options(query, "insert")
        decision = self._decide(table, "create", user, query)
        if options is not None:
            owners = frozenset(decision.predicate.owner_columns) if decision else frozenset()
            shaped = shaped_rows(body, options.columns, missing_default=options.missing_default, filled=owners)
        full = self.db.table(table.name)
        _check_write_hazard(full, decision)
        read = update = None
        if options is not None and options.upsert is not None:
            for column in options.upsert.columns:
                full.column(column)
            if options.upsert.merge:
                update = self.engine.decide(table, "update", user) if self.engine else None
        if options is not None and (options.returning is not None or (options.upsert and options.upsert.merge)):
            read = self._reading(table, user)
        plans: dict[tuple[str, ...], Plan] = {}
        for columns, _ in shaped:
            if columns not in plans:
                for column in columns:
                    body_column(full, column)
                plans[columns] = self.compiler.insert(
                    self.db.schema_version, full, columns, decision,
                    returning=options.returning if options else None, read=read,
                    upsert=options.upsert if options else None, update=update, shown=table,
                )  # fmt: skip
        principal = principal_params(user)
        if query.debug:
            first = plans[shaped[0][0]]
            return Debug(first.sql, [plans[c].bind([row[k] for k in c], principal) for c, row in shaped])

        def work(session: Session) -> Any:
            written = self._before_write(session, full, [row for _, row in shaped])
            if options is None and len(plans) == 1 and plans[shaped[0][0]].check_mode is Check.NONE:
                columns = shaped[0][0]
                plan = plans[columns]
                return session.executemany(plan.sql, [plan.bind([r[c] for c in columns], principal) for r in written])
            total, out = 0, []
            for (columns, _), row in zip(shaped, written, strict=True):
                plan = plans[columns]
                count, rows = _run_checked(session, plan, plan.bind([row[c] for c in columns], principal))
                total += count
                out += rows
            return total if options is None else options.finish(total, out)

        return _as_denial(lambda: self._run_write(work, options), user)

    def update(
        self, table: Table, body: Any, query: RestQuery, user: AuthUser = ANONYMOUS, options: Written | None = None
    ) -> Any:
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
            body_column(full, column)
        read = self._reading(table, user)
        returning = options.returning if options else None
        version = self.db.schema_version
        plan = self.compiler.update(version, full, columns, query, decision, read, returning, shown=table)
        locked = None
        if returning is not None and not self.db.dialect.SUPPORTS_UPDATE_RETURNING:
            locked = self.compiler.locked_keys(version, full, query, decision, read)
        principal = principal_params(user)

        def values_of(row: Mapping[str, Any]) -> list[Any]:
            return [*(row[c] for c in columns), *query.values()]

        if query.debug:
            return Debug(plan.sql, plan.bind(values_of(body), principal))

        def work(session: Session) -> Any:
            row = self._before_write(session, full, [dict(body)])[0]
            keys = session.execute(locked.sql, locked.bind(query.values(), principal)).rows if locked else []
            count, rows = _run_checked(session, plan, plan.bind(values_of(row), principal))
            if options is None:
                return count
            if locked is not None and returning is not None:
                if count != len(keys):  # the locks make this impossible; never answer with other rows
                    raise Conflict("conflict: concurrent update, retry")
                rows = self._read_back(session, table, returning, _keys_after(full, keys, row), read, principal)
            return options.finish(count, rows)

        return _as_denial(lambda: self._run_write(work, options), user)

    def _read_back(self, session: Session, table: Table, returning: str, keys: list[tuple[Any, ...]],
                   read: Decision | None, principal: Mapping[str, Any]) -> list[dict[str, Any]]:  # fmt: skip
        """The rows an UPDATE changed, read back in its transaction by the keys it locked
        before, under the read policy; a changed row the caller may no longer read aborts
        the request as PostgreSQL's UPDATE … RETURNING does."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(keys), _READ_BACK_BATCH):
            batch = keys[start : start + _READ_BACK_BATCH]
            plan = self.compiler.read_back(self.db.schema_version, table, returning, len(batch), read)
            values = [value for key in batch for value in key]
            out += plan.read_rows(session.execute(plan.sql, plan.bind(values, principal)).rows)
        if len(out) != len(keys):
            raise WithCheckViolation("unauthorized")
        return out

    def delete(self, table: Table, query: RestQuery, user: AuthUser = ANONYMOUS, options: Written | None = None) -> Any:
        """Delete every row the filters (and the policy) allow; returns the count."""
        require_filter(query, "delete")
        decision = self._decide(table, "delete", user, query)
        returning = options.returning if options else None
        plan = self.compiler.delete(
            self.db.schema_version, table, query, decision, self._reading(table, user), returning
        )
        params = plan.bind(query.values(), principal_params(user))
        if query.debug:
            return Debug(plan.sql, params)
        if options is None:
            return self.db.run(lambda s: s.execute(plan.sql, params).rowcount, write=True)

        def work(session: Session) -> Any:
            return options.finish(*_run_checked(session, plan, params))

        return self._run_write(work, options)

    def _run_write(self, work: Callable[[Session], Any], options: Written | None) -> Any:
        """One transaction; ``tx=rollback`` runs it all and rolls it back."""
        if options is None or not options.rollback:
            return self.db.run(work, write=True)
        try:
            self.db.run(lambda s: _roll_back(work(s)), write=True)
        except _RolledBack as done:
            return done.result
        raise AssertionError("unreachable")  # pragma: no cover

    def _reading(self, table: Table, user: AuthUser) -> Decision | None:
        """The read policy for a write whose filters read the rows (an update or delete only
        touches rows the caller may read: no row count answers for a hidden row)."""
        return None if self.engine is None else self.engine.decide(table, "read", user)

    def _before_write(self, session: Session, table: Table, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        rules = self.rules.get(table.name)
        copies = [dict(r) for r in rows]
        return rules.before_write(session, table, copies) if rules and rules.before_write else copies


def _check_write_hazard(table: Table, decision: Decision | None) -> None:
    """A write under policies needs a table that undoes an aborted statement and deletes
    nothing on its own — whatever the write's own policy (a REPLACE conflict clause deletes
    a row only the delete policy may judge)."""
    if table.write_hazard and decision is not None:
        raise BadRequest(f"{table.name}: {table.write_hazard}")


def _keys_after(table: Table, keys: list[tuple[Any, ...]], assigned: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The primary keys of the rows an UPDATE changed, as they are after it: a key column
    the request sets has its new value (read back by the old one, the row is gone)."""
    if not any(k in assigned for k in table.primary_key):
        return keys
    return [tuple(assigned.get(k, old) for k, old in zip(table.primary_key, key, strict=True)) for key in keys]


def _run_checked(session: Session, plan: Plan, params: Sequence[Any]) -> tuple[int, list[dict[str, Any]]]:
    """Run a write; the number of rows it touched and the rows it returned. It enforces
    its WITH CHECK itself: a violating row aborts it (then the whole request's transaction
    rolls back)."""
    if plan.check_mode is Check.RETURNING:
        rows = session.execute(plan.sql, params).rows
        return len(rows), plan.read_rows(rows)
    return session.execute(plan.sql, params).rowcount, []


_READ_BACK_BATCH = 100


class _RolledBack(RlsError):
    """Carries a ``tx=rollback`` write's answer out of its (rolled back) transaction."""

    def __init__(self, result: Any):
        super().__init__("rolled back")
        self.result = result


def _roll_back(result: Any) -> Any:
    raise _RolledBack(result)


def _as_denial(write: Callable[[], Any], user: AuthUser) -> Any:
    """A write's own WITH CHECK abort, answered as the denial for ``user`` (401 for the
    anonymous user, 403 for everyone else)."""
    try:
        return write()
    except WithCheckViolation:
        raise denial(user) from None


def with_count(query: RestQuery) -> RestQuery:
    """The same filters, counted (``compile_count``: the read policy applies alike)."""
    return replace(query, count=True)


def shaped_rows(
    body: Any, columns: tuple[str, ...] | None, *, missing_default: bool, filled: frozenset[str] = frozenset()
) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """A PostgREST POST body as (the columns to insert, the row) pairs, in order.

    ``columns`` (``?columns=``) chooses the keys (others are ignored); without it every
    object must have the first one's keys. A chosen key an object lacks is NULL, or —
    ``missing_default`` — left out of that row's INSERT, so the column takes its default.
    Keys in ``filled`` (owner columns the create policy fills) an object lacks are left
    out too: the owner fill applies to each object as it does to a single one.
    """
    rows = [body] if isinstance(body, Mapping) else body
    if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
        raise BadRequest("body must be a JSON object or an array of objects")
    if not rows:
        raise BadRequest("body is an empty array: nothing to insert")
    if columns is None:
        columns = tuple(sorted(rows[0]))
        if not missing_default and any(tuple(sorted(row)) != columns for row in rows[1:]):
            raise BadRequest("all objects in the array must have the same keys (or use ?columns=)")
        if missing_default:
            columns = tuple(sorted({k for row in rows for k in row}))
    if not columns:
        raise BadRequest("body object has no columns")
    out = []
    for row in rows:
        if missing_default:
            present = tuple(c for c in columns if c in row)
            if not present:
                raise BadRequest("body object has no columns")
            out.append((present, {c: row[c] for c in present}))
        else:
            shape = tuple(c for c in columns if c in row or c not in filled)
            out.append((shape, {c: row.get(c) for c in shape}))
    return out


def by_primary_key(table: Table, query: RestQuery, key: str, *, singular: bool) -> RestQuery:
    """``/<table>/<pk>``: the query plus ``<pkcol>=eq.<pk>``."""
    column = table.single_primary_key
    if column is None:
        raise BadRequest(f"table {table.name} has no single-column primary key")
    return query.with_filter(Filter(column, "eq", (key,)), singular=singular)


def body_column(table: Table, column: str) -> None:
    """A body key names a column of ``table``; PostgREST's PGRST204 when it does not."""
    if column not in table.columns:
        raise UnknownColumn(f"unknown column: {column}", postgrest_code="PGRST204")


def check_filters(query: RestQuery, table: Table) -> None:
    """Every filter names a column the request may see (writes compile against the
    whole table, so hidden columns must be refused before)."""
    for f in query.leaves():
        parse_reference(f.key, table)


def require_filter(query: RestQuery, action: str) -> None:
    refuse_read_options(query, action)
    if not query.has_filter:
        raise BadRequest(f"{action} needs a filter; use 1=eq.1 to {action} every row")


def refuse_read_options(query: RestQuery, action: str) -> None:
    """A write applies every parameter it accepts: the paging and order of a read would
    be dropped (a client trusting ``limit=1`` on a DELETE would lose every matching row),
    so they are refused."""
    given = [
        name
        for name, value in (("order", query.order), ("limit", query.limit), ("offset", query.offset),
                            ("page", query.page), ("page_size", query.page_size))
        if value is not None
    ]  # fmt: skip
    if given or query.count or query.embedded:
        named = ", ".join(given or ["count" if query.count else "embedded options"])
        raise BadRequest(f"{action} does not take {named}: paging, order and counts apply to reads only")


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


__all__ = ["Debug", "Page", "Paged", "Paging", "TableRules", "TableService", "WriteResult", "Written"]
