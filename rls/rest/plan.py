"""Compile a REST request shape into a :class:`Plan`: SQL text, a bind plan, a row reader.

Compilation is pure and runs once per shape; a plan is cached and reused for every
request of that shape, which then costs only the binding of its values.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlglot import exp

from dialects.base import Decoder, Dialect
from rls.emit import emit, placeholder
from rls.errors import BadRequest
from rls.guard.inject import wrap_relation
from rls.policy.compile import Predicate
from rls.rest.embed import SelectTree, refuse_embedded
from rls.rest.embed_sql import EmbedBuilder
from rls.rest.query import RestQuery
from rls.rest.terms import Converter, SelectItem, build_condition, parse_order, parse_select
from rls.schema import Kind, Table
from rls.values import from_json

ParamSource = int | str
"""Where a positional parameter's value comes from: an index into the request's values,
or the name of an attribute of the principal (the authenticated user)."""

_NO_PRINCIPAL: Mapping[str, Any] = {}


class Check(enum.Enum):
    """What a write returns for its WITH CHECK (the statement enforces it itself)."""

    NONE = "none"
    RETURNING = "returning"  # one row per row written (a violating row aborts the statement)


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled statement: SQL for the driver, how to bind it, how to read its rows."""

    sql: str
    params: tuple[ParamSource, ...]
    converters: tuple[Converter, ...]
    columns: tuple[str, ...] = ()
    decoders: tuple[tuple[int, Decoder], ...] = ()
    check_mode: Check = Check.NONE
    hidden: int = 0
    """Leading output columns that are rls's own (a write's WITH CHECK column), not
    handed back to the client."""

    def bind(self, values: Sequence[Any], principal: Mapping[str, Any] = _NO_PRINCIPAL) -> list[Any]:
        """The driver parameters for one request's raw ``values`` (converted here)."""
        if len(values) != len(self.converters):
            raise BadRequest("request values do not match the statement")  # a bug, never user input
        converted = [convert(value) for convert, value in zip(self.converters, values, strict=True)]
        return [converted[s] if isinstance(s, int) else principal[s] for s in self.params]

    def read_rows(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """Rows as dicts keyed by the output names, values decoded for JSON."""
        columns, hidden = self.columns, self.hidden
        if not self.decoders and not hidden:
            return [dict(zip(columns, row, strict=True)) for row in rows]
        out = []
        for row in rows:
            values = list(row)
            for i, decode in self.decoders:
                values[i] = decode(values[i])
            out.append(dict(zip(columns[hidden:], values[hidden:], strict=True)))
        return out


def table_node(table: Table) -> exp.Table:
    return exp.Table(this=exp.to_identifier(table.name, quoted=True))


def _emit(tree: exp.Expr, dialect: Dialect, converters: Sequence[Converter], columns: Sequence[str] = (),
          kinds: Sequence[Kind] = ()) -> Plan:  # fmt: skip
    emitted = emit(tree, dialect)
    params = tuple(int(n[1:]) if n.startswith("v") and n[1:].isdigit() else n for n in emitted.names)
    decoders = tuple((i, d) for i, kind in enumerate(kinds) if (d := dialect.decoder(kind)) is not None)
    return Plan(emitted.sql, params, tuple(converters), tuple(columns), decoders)


@dataclass
class _Filters:
    """The request's filters, split by whether they may run on rows a policy hides."""

    leakproof: list[exp.Expr]
    other: list[exp.Expr]
    converters: list[Converter]

    @property
    def all(self) -> list[exp.Expr]:
        return [*self.leakproof, *self.other]


def _filters(query: RestQuery, table: Table, dialect: Dialect, first_value: int, *, embedded: bool = False) -> _Filters:
    """The filters on ``table`` itself; those on embedded resources are refused unless
    ``embedded`` (a read whose select resolved them: see :mod:`rls.rest.embed`)."""
    out = _Filters([], [], [])
    if not embedded:
        refuse_embedded(query)
    for f in query.filters:
        if f.path:
            continue  # sorted after the table's own: their values bind after these
        condition = build_condition(f, table, dialect, first_value + len(out.converters))
        (out.leakproof if condition.leakproof else out.other).append(condition.node)
        out.converters.extend(condition.converters)
    return out


def _and(conditions: Sequence[exp.Expr]) -> exp.Expr | None:
    return exp.and_(*conditions, copy=False) if conditions else None


def _read_source(
    table: Table, using: Predicate | None, filters: _Filters, dialect: Dialect
) -> tuple[exp.Expr, exp.Expr | None]:
    """The relation a read selects from and the WHERE left for the statement itself.

    Without a policy, or when every filter is leakproof, the table itself with the policy as
    one more conjunct of the WHERE — the statement a person would write, so every database
    plans it as it plans theirs (a derived table costs MariaDB and SQLite a merge step, and
    nothing in the WHERE can raise or leak, so its order does not matter). Otherwise a fenced
    policy sub-query holding the leakproof filters, so indexes serve, while the others (LIKE,
    JSON paths: they can raise) run only on the rows it returns.
    """
    node = table_node(table)
    if using is None or using.node is None:
        return node, _and(filters.all)
    if not filters.other:
        return node, _and([using.condition(table.name), *filters.leakproof])
    inner = exp.and_(using.condition(table.name), *[c.copy() for c in filters.leakproof], copy=False)
    return wrap_relation(node, inner, dialect.build_fence()), _and(filters.other)


def _substitute(condition: exp.Expr, qualifier: str, values: Mapping[str, exp.Expr], *, others_null: bool) -> exp.Expr:
    """The condition on a row that does not exist yet: the table's columns replaced by the
    new values (the others by NULL when ``others_null``, or left as they are)."""

    def replace_column(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.table == qualifier:
            if node.name in values:
                return values[node.name].copy()
            if others_null:
                return exp.Null()
        return node

    return condition.transform(replace_column, copy=False)


# -- reads ------------------------------------------------------------------------------


def compile_read(
    table: Table,
    query: RestQuery,
    dialect: Dialect,
    using: Predicate | None = None,
    tree: SelectTree | None = None,
    limit: int | None = None,
) -> Plan:
    """``GET /<table>?…``: select, filters, order, paging; values bind as filter values
    (the table's, then the embedded resources'), the embedded limits and offsets, then
    OFFSET (see :func:`paging_values`).

    ``limit`` (the page size, a checked whole number) is written into the statement, as
    by hand: a page size is one of a few values, and a bound LIMIT gives PostgreSQL's
    generic plan for a prepared statement no row estimate to choose an ordered index scan
    by (2× slower paged reads at 1M rows). None: no LIMIT (a singular read has LIMIT 2)."""
    builder = EmbedBuilder(dialect)
    if tree is not None:
        nodes, names, kinds = [], [], []
        for item in tree.items:
            if isinstance(item, SelectItem):
                nodes.append(item.node)
                names.append(item.name)
                kinds.append(item.kind)
            else:
                nodes.append(exp.alias_(builder.value(item, table.name), item.name, quoted=True, copy=False))
                names.append(item.name)
                kinds.append(Kind.JSON)
        aggregate, group = False, []
    elif query.select:
        items = parse_select(query.select, table, dialect)
        nodes, names, kinds = [i.node for i in items], [i.name for i in items], [i.kind for i in items]
        aggregate = any(i.aggregate for i in items)
        group = [i.node.unalias() for i in items if not i.aggregate] if aggregate else []
    else:
        names = list(table.columns)
        nodes = [exp.column(n, quoted=True) for n in names]
        kinds = [c.kind for c in table.columns.values()]
        aggregate, group = False, []
    filters = _filters(query, table, dialect, 0, embedded=tree is not None)
    _add_inner(filters, tree, builder, table)
    source, where = _read_source(table, using, filters, dialect)
    converters = _all_converters(filters, builder, query, tree)
    tree_ = exp.Select(expressions=nodes).from_(source, copy=False)
    if where is not None:
        tree_ = tree_.where(where, copy=False)
    if group:
        tree_ = tree_.group_by(*(g.copy() for g in group), copy=False)
    if query.order:
        tree_ = tree_.order_by(*parse_order(query.order, table, dialect), copy=False)
    elif not aggregate and table.primary_key:
        # A stable default order, so pages do not overlap and every database agrees.
        tree_ = tree_.order_by(*(exp.column(k, quoted=True) for k in table.primary_key), copy=False)
    if query.singular:
        tree_ = tree_.limit(exp.Literal.number(2), copy=False)
    else:
        if limit is not None:
            tree_ = tree_.limit(exp.Literal.number(_to_int(limit)), copy=False)
        if _has_offset(query):
            converters.append(_to_int)
            tree_ = tree_.offset(placeholder(f"v{len(converters) - 1}"), copy=False)
    return _emit(tree_, dialect, converters, names, kinds)


def _add_inner(filters: _Filters, tree: SelectTree | None, builder: EmbedBuilder, table: Table) -> None:
    """``!inner`` embeds drop the rows they find nothing for: an EXISTS over the embedded
    table's policy sub-query. It runs filters that can raise, so it counts as one (the
    table's own policy is fenced before it)."""
    if tree is not None:
        filters.other.extend(builder.exists(e, table.name) for e in tree.children() if e.inner)


def _all_converters(
    filters: _Filters, builder: EmbedBuilder, query: RestQuery, tree: SelectTree | None, *, paging: bool = True
) -> list[Converter]:
    """The converters by value index: the table's filters, the embedded resources' filters,
    then (``paging``) the embedded limits and offsets."""
    converters = list(filters.converters)
    if tree is None:
        return converters
    total = len(query.values())
    if paging:
        total += sum(1 for o in query.embedded if o.name in ("limit", "offset"))
    # A value the statement does not use (a filter of an embed the count leaves out) still binds.
    converters += [builder.converters.get(i, _unused) for i in range(len(converters), total)]
    return converters


def _unused(value: Any) -> Any:
    return value


def compile_count(
    table: Table, query: RestQuery, dialect: Dialect, using: Predicate | None = None, tree: SelectTree | None = None
) -> Plan:
    """``GET /<table>?count``: the number of rows the filters (and ``!inner`` embeds) match."""
    builder = EmbedBuilder(dialect)
    filters = _filters(query, table, dialect, 0, embedded=tree is not None)
    _add_inner(filters, tree, builder, table)
    source, where = _read_source(table, using, filters, dialect)
    select = exp.Select(expressions=[exp.Count(this=exp.Star())]).from_(source, copy=False)
    if where is not None:
        select = select.where(where, copy=False)
    return _emit(
        select, dialect, _all_converters(filters, builder, query, tree, paging=False), ("count",), (Kind.INTEGER,)
    )


def _has_offset(query: RestQuery) -> bool:
    return query.offset is not None or query.page is not None


def paging_values(query: RestQuery, *, default_size: int, max_size: int, cap: bool = False) -> list[int]:
    """The page size (:func:`compile_read`'s ``limit``) and, when the query pages, the
    OFFSET it binds last; nothing for a singular read.

    ``cap`` (PostgREST requests): no default page, every row up to ``max_size`` — a larger
    limit is cut to ``max_size`` as PostgREST's ``db-max-rows`` cuts it (the response's
    ``Content-Range`` says which rows came back), where the original's requests get a 400.
    """
    if query.singular:
        return []
    if query.page is not None and query.offset is not None:
        raise BadRequest("use either page or offset, not both")
    size = query.limit if query.limit is not None else query.page_size
    if cap:
        size = max_size if size is None else min(size, max_size)
    size = default_size if size is None else size
    if size > max_size:
        raise BadRequest(f"page size too large: at most {max_size} rows per request")
    if not _has_offset(query):
        return [size]
    offset = query.offset if query.offset is not None else (query.page or 1) - 1
    if query.offset is None:
        offset *= size
    if offset > 2**53:
        raise BadRequest("offset too large")
    return [size, offset]


def _to_int(value: Any) -> int:
    return int(value)


# -- writes -----------------------------------------------------------------------------


def body_converter(table: Table, column: str, dialect: Dialect) -> Converter:
    """How a JSON body value for ``column`` becomes a driver parameter."""
    kind = table.column(column).kind

    def convert(value: Any) -> Any:
        return dialect.adapt(kind, from_json(kind, value, column), value if isinstance(value, str) else None)

    return convert


def _raise_unless(condition: exp.Expr, table: Table, dialect: Dialect) -> exp.Expr:
    """``CASE WHEN <condition> THEN 1 ELSE <raise> END``: 1, or the statement aborts itself
    with the dialect's WITH CHECK error (nothing written, in autocommit too)."""
    raised = dialect.build_raise(_witness(table))
    return exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))], default=raised)


def _witness(table: Table) -> exp.Expr:
    return exp.column(next(iter(table.columns)), table=table.name, quoted=True)


@dataclass(frozen=True, slots=True)
class Upsert:
    """``Prefer: resolution=…`` with ``on_conflict=<columns>``: what an INSERT does with a
    row whose ``columns`` (a unique key; the database refuses any other) match a stored one."""

    columns: tuple[str, ...]
    merge: bool  # merge-duplicates: update the stored row; ignore-duplicates: skip the new one


def returned_items(table: Table, select: str | None, dialect: Dialect) -> list[SelectItem]:
    """What a write hands back (``Prefer: return=representation``): ``select`` (None or
    ``*``: every column), evaluated by RETURNING on each row as stored. No aggregates: a
    write returns rows."""
    if select is None or select.strip() == "*":
        return [SelectItem(exp.column(c.name, quoted=True), c.name, c.kind, False) for c in table.columns.values()]
    items = parse_select(select, table, dialect)
    if any(i.aggregate for i in items):
        raise BadRequest("invalid select: a write returns rows, not aggregates")
    return items


def _returning(
    tree: exp.Expr, table: Table, dialect: Dialect, check: Predicate | None, returned: Sequence[SelectItem] | None
) -> tuple[list[str], list[Kind], int]:
    """Set ``RETURNING [<check> AS rls_check,] <returned items>``; the output names, kinds
    and the number of leading columns that are rls's own."""
    items: list[exp.Expr] = []
    names: list[str] = []
    kinds: list[Kind] = []
    hidden = 0
    if check is not None and check.node is not None:
        items.append(exp.alias_(_raise_unless(check.condition(table.name), table, dialect), "rls_check", quoted=True))
        names.append("rls_check")
        kinds.append(Kind.INTEGER)
        hidden = 1
    for item in returned or ():
        items.append(item.node.copy())
        names.append(item.name)
        kinds.append(item.kind)
    if items:
        tree.set("returning", exp.Returning(expressions=items))
    return names, kinds, hidden


def _returning_plan(tree: exp.Expr, table: Table, dialect: Dialect, converters: Sequence[Converter],
                    check: Predicate | None, returned: Sequence[SelectItem] | None) -> Plan:  # fmt: skip
    names, kinds, hidden = _returning(tree, table, dialect, check, returned)
    plan = _emit(tree, dialect, converters, names, kinds)
    return replace(plan, check_mode=Check.RETURNING, hidden=hidden) if names else plan


def compile_insert(
    table: Table,
    columns: Sequence[str],
    dialect: Dialect,
    check: Predicate | None = None,
    owners: Mapping[str, str] | None = None,
    returned: Sequence[SelectItem] | None = None,
    upsert: Upsert | None = None,
    update_using: Predicate | None = None,
    create: Predicate | None = None,
) -> Plan:
    """``POST /<table>``: one row's INSERT, executed once per row of the body.

    ``owners`` fills columns the body leaves out with principal attributes (the owner
    column of a ``user_id = auth_user.id`` policy); ``check`` is the create policy (and,
    for the rows handed back, the read policy; for an upsert, the update policy too),
    checked by the INSERT itself on the row as stored (RETURNING: defaults and conversions
    included) — never by reading a row back by a key it guesses. ``returned``: the items
    RETURNING hands back (``Prefer: return=representation``).

    ``upsert``: ``ON CONFLICT (<columns>) DO NOTHING``, or ``DO UPDATE SET <body columns>
    = EXCLUDED.…`` guarded as PostgreSQL's RLS guards it: the statement raises when the
    stored row fails ``update_using`` (update and read policies) or the proposed row fails
    ``create`` — a row the caller may not update is never changed, the request fails with
    403 as native RLS does — and the row as stored must pass ``check`` in RETURNING.
    """
    converters = [body_converter(table, c, dialect) for c in columns]
    values: dict[str, exp.Expr] = {c: placeholder(f"v{i}") for i, c in enumerate(columns)}
    values.update({c: placeholder(param) for c, param in (owners or {}).items() if c not in values})
    names = list(values)
    tree = exp.Insert(
        this=exp.Schema(this=table_node(table), expressions=[exp.to_identifier(c, quoted=True) for c in names]),
        expression=exp.Values(expressions=[exp.Tuple(expressions=[values[c].copy() for c in names])]),
    )
    if upsert is not None:
        if not dialect.SUPPORTS_ON_CONFLICT:
            raise BadRequest(f"upsert (Prefer: resolution=…) is not supported on {dialect.name}")
        tree.set("conflict", _on_conflict(table, columns, upsert, dialect, update_using, create))
    if (check is not None and check.node is not None) or returned:
        if not dialect.SUPPORTS_INSERT_RETURNING:
            raise BadRequest("writes under a create policy need INSERT … RETURNING on this database")
        return _returning_plan(tree, table, dialect, converters, check, returned)
    return _emit(tree, dialect, converters)


def _on_conflict(table: Table, columns: Sequence[str], upsert: Upsert, dialect: Dialect,
                 using: Predicate | None, create: Predicate | None) -> exp.OnConflict:  # fmt: skip
    keys = [exp.to_identifier(table.column(c).name, quoted=True) for c in upsert.columns]
    if not upsert.merge:
        return exp.OnConflict(action=exp.var("DO NOTHING"), conflict_keys=keys)
    assignments = [
        exp.EQ(this=exp.column(c, quoted=True), expression=exp.column(c, table="excluded", quoted=True))
        for c in columns
    ]
    conflict = exp.OnConflict(action=exp.var("DO UPDATE"), conflict_keys=keys, expressions=assignments)
    gate = [p.condition(table.name) for p in (using,) if p is not None and p.node is not None]
    if create is not None and create.node is not None:
        gate.append(create.condition("excluded"))  # the proposed row, as PostgreSQL checks it
    if gate:
        # The stored row is judged before anything else of the statement runs on it; a row
        # the caller may not update aborts the statement (native RLS raises too).
        hidden = exp.EQ(this=dialect.build_raise(_witness(table)), expression=exp.Literal.number(1))
        where = exp.Case(ifs=[exp.If(this=exp.and_(*gate, copy=False), true=exp.true())], default=hidden)
        conflict.set("where", exp.Where(this=where))
    return conflict


def _fenced_where(
    tree: exp.Expr, using: Predicate | None, filters: _Filters, table: Table, then: exp.Expr | None = None
) -> None:
    """The WHERE of an UPDATE or DELETE: ``<policy> AND <leakproof filters> AND CASE WHEN
    <policy> THEN (CASE WHEN <other filters> THEN <then> ELSE FALSE END) ELSE FALSE END``.
    Filters that can raise (LIKE, JSON paths) — and ``then``, the WITH CHECK — run only on
    rows the policy allows; the policy and the leakproof filters can use indexes."""
    inner: exp.Expr | None = then
    if filters.other:
        inner = exp.Case(
            ifs=[exp.If(this=exp.and_(*filters.other, copy=False), true=then if then is not None else exp.true())],
            default=exp.false(),
        )
    plain: list[exp.Expr] = list(filters.leakproof)
    if using is not None and using.node is not None:
        plain.insert(0, using.condition(table.name))
        if inner is not None:
            inner = exp.Case(ifs=[exp.If(this=using.condition(table.name), true=inner)], default=exp.false())
    elif inner is not None and not filters.other:
        plain.append(inner)
        inner = None
    conditions = plain + ([inner] if inner is not None else [])
    if conditions:
        tree.set("where", exp.Where(this=exp.and_(*conditions, copy=False)))


def compile_update(
    table: Table,
    columns: Sequence[str],
    query: RestQuery,
    dialect: Dialect,
    using: Predicate | None = None,
    check: Predicate | None = None,
    returned: Sequence[SelectItem] | None = None,
) -> Plan:
    """``PUT|PATCH /<table>?…``: values bind as the body's, then the filters'.

    Only rows ``using`` allows are touched; a changed row that fails ``check`` (judged on
    its new values, in the statement itself) aborts the statement. ``returned``: items
    RETURNING hands back, where the database has UPDATE … RETURNING (elsewhere the caller
    locks the keys first: :func:`compile_locked_keys`)."""
    converters = [body_converter(table, c, dialect) for c in columns]
    values = {c: placeholder(f"v{i}") for i, c in enumerate(columns)}
    tree = exp.Update(
        this=table_node(table),
        expressions=[exp.EQ(this=exp.column(c, quoted=True), expression=values[c].copy()) for c in columns],
    )
    filters = _filters(query, table, dialect, len(converters))
    converters.extend(filters.converters)
    if returned and dialect.SUPPORTS_UPDATE_RETURNING:
        _fenced_where(tree, using, filters, table)
        return _returning_plan(tree, table, dialect, converters, check, returned)
    if check is None or check.node is None:
        _fenced_where(tree, using, filters, table)
        return _emit(tree, dialect, converters)
    if dialect.SUPPORTS_UPDATE_RETURNING:  # judged on each row as stored
        _fenced_where(tree, using, filters, table)
        return _returning_plan(tree, table, dialect, converters, check, None)
    # Judged before the write, on each value as the column stores it — and the SET stores
    # that same cast, so what is judged is what is written. A column whose stored value
    # cannot be known here (no exact cast, or set by the database itself) may not be read.
    read = {c.name for c in check.condition(table.name).find_all(exp.Column)}
    for column in sorted(read):
        if column in table.columns and table.columns[column].computed:
            raise BadRequest(f"{column}: the update policy reads a column the database sets itself on a write")
    stored: dict[str, exp.Expr] = {}
    for assignment in tree.expressions:
        column = assignment.this.name
        cast = dialect.build_stored(assignment.expression.copy(), table.columns[column])
        if cast is None:
            if column in read:
                raise BadRequest(f"{column}: the update policy reads this column, and its type cannot be judged here")
            cast = assignment.expression.copy()
        else:
            assignment.set("expression", cast.copy())
        stored[column] = cast
    new_row = _substitute(check.condition(table.name), table.name, stored, others_null=False)
    then = exp.EQ(this=_raise_unless(new_row, table, dialect), expression=exp.Literal.number(1))
    _fenced_where(tree, using, filters, table, then)
    return _emit(tree, dialect, converters)


def compile_delete(
    table: Table,
    query: RestQuery,
    dialect: Dialect,
    using: Predicate | None = None,
    returned: Sequence[SelectItem] | None = None,
) -> Plan:
    """``DELETE /<table>?…``: only rows ``using`` allows (the read policy among them);
    filters that can raise run only on those. ``returned``: items RETURNING hands back."""
    tree = exp.Delete(this=table_node(table))
    filters = _filters(query, table, dialect, 0)
    _fenced_where(tree, using, filters, table)
    if returned:
        return _returning_plan(tree, table, dialect, filters.converters, None, returned)
    return _emit(tree, dialect, filters.converters)


def compile_locked_keys(table: Table, query: RestQuery, dialect: Dialect, using: Predicate | None = None) -> Plan:
    """``SELECT <primary key> … FOR UPDATE`` with exactly the WHERE of the UPDATE that
    follows (:func:`compile_update` without its check): the rows it will touch, locked,
    for a database without UPDATE … RETURNING to read them back by key afterwards."""
    if not table.primary_key:
        raise BadRequest(f"table {table.name} has no primary key: its updated rows cannot be returned here")
    tree = exp.Select(expressions=[exp.column(k, quoted=True) for k in table.primary_key]).from_(
        table_node(table), copy=False
    )
    filters = _filters(query, table, dialect, 0)
    _fenced_where(tree, using, filters, table)
    tree = tree.lock(update=True, copy=False)
    kinds = [table.columns[k].kind for k in table.primary_key]
    return _emit(tree, dialect, filters.converters, table.primary_key, kinds)


def compile_read_back(
    table: Table, returned: Sequence[SelectItem], keys: int, dialect: Dialect, using: Predicate | None = None
) -> Plan:
    """``SELECT <returned> FROM <table under using> WHERE <key> = … OR …``: ``keys`` rows
    read back by the primary keys :func:`compile_locked_keys` returned (never guessed),
    under the read policy. Values bind as the keys' columns, key by key."""
    pk = table.primary_key
    matches = [
        exp.and_(*(exp.EQ(this=exp.column(k, quoted=True), expression=placeholder(f"v{i * len(pk) + j}"))
                   for j, k in enumerate(pk)), copy=False)
        for i in range(keys)
    ]  # fmt: skip
    by_key: list[exp.Expr] = [exp.or_(*matches, copy=False) if matches else exp.false()]
    filters = _Filters(by_key, [], [_identity] * (keys * len(pk)))
    source, where = _read_source(table, using, filters, dialect)
    tree = exp.Select(expressions=[i.node.copy() for i in returned]).from_(source, copy=False)
    if where is not None:
        tree = tree.where(where, copy=False)
    tree = tree.order_by(*(exp.column(k, quoted=True) for k in pk), copy=False)
    return _emit(tree, dialect, filters.converters, [i.name for i in returned], [i.kind for i in returned])


def _identity(value: Any) -> Any:
    return value
