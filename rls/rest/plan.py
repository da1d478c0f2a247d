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
from rls.guard.inject import restrict, wrap_relation
from rls.policy.compile import Predicate
from rls.rest.query import RestQuery
from rls.rest.terms import Converter, build_condition, parse_order, parse_select
from rls.schema import Kind, Table
from rls.values import from_json

ParamSource = int | str
"""Where a positional parameter's value comes from: an index into the request's values,
or the name of an attribute of the principal (the authenticated user)."""

_NO_PRINCIPAL: Mapping[str, Any] = {}


class Check(enum.Enum):
    """How a write proves that every new or changed row passes the policy (WITH CHECK)."""

    NONE = "none"
    RETURNING = "returning"  # the statement returns 1 per violating row
    BEFORE = "before"  # ``check`` runs first and returns 1 per row that would violate
    AFTER = "after"  # ``check`` runs after the statement, on the row it wrote


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled statement: SQL for the driver, how to bind it, how to read its rows."""

    sql: str
    params: tuple[ParamSource, ...]
    converters: tuple[Converter, ...]
    columns: tuple[str, ...] = ()
    decoders: tuple[tuple[int, Decoder], ...] = ()
    check_mode: Check = Check.NONE
    check: Plan | None = None

    def bind(self, values: Sequence[Any], principal: Mapping[str, Any] = _NO_PRINCIPAL) -> list[Any]:
        """The driver parameters for one request's raw ``values`` (converted here)."""
        if len(values) != len(self.converters):
            raise BadRequest("request values do not match the statement")  # a bug, never user input
        converted = [convert(value) for convert, value in zip(self.converters, values, strict=True)]
        return [converted[s] if isinstance(s, int) else principal[s] for s in self.params]

    def read_rows(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """Rows as dicts keyed by the output names, values decoded for JSON."""
        columns = self.columns
        if not self.decoders:
            return [dict(zip(columns, row, strict=True)) for row in rows]
        out = []
        for row in rows:
            values = list(row)
            for i, decode in self.decoders:
                values[i] = decode(values[i])
            out.append(dict(zip(columns, values, strict=True)))
        return out


def table_node(table: Table) -> exp.Table:
    return exp.Table(this=exp.to_identifier(table.name, quoted=True))


def _emit(tree: exp.Expr, dialect: Dialect, converters: Sequence[Converter], columns: Sequence[str] = (),
          kinds: Sequence[Kind] = ()) -> Plan:  # fmt: skip
    emitted = emit(tree, dialect)
    params = tuple(int(n[1:]) if n.startswith("v") and n[1:].isdigit() else n for n in emitted.names)
    decoders = tuple((i, d) for i, kind in enumerate(kinds) if (d := dialect.decoder(kind)) is not None)
    return Plan(emitted.sql, params, tuple(converters), tuple(columns), decoders)


def _where(
    query: RestQuery, table: Table, dialect: Dialect, first_value: int
) -> tuple[exp.Expr | None, list[Converter]]:
    conditions: list[exp.Expr] = []
    converters: list[Converter] = []
    for f in query.filters:
        condition = build_condition(f, table, dialect, first_value + len(converters))
        conditions.append(condition.node)
        converters.extend(condition.converters)
    return (exp.and_(*conditions, copy=False) if conditions else None), converters


def _source(table: Table, using: Predicate | None) -> exp.Expr:
    """The table, or — under a policy — the table wrapped to show only the rows it allows."""
    node = table_node(table)
    if using is None or using.node is None:
        return node
    return wrap_relation(node, using.condition(table.name))


def _violation(condition: exp.Expr) -> exp.Expr:
    """1 when ``condition`` is not TRUE (FALSE or NULL), else 0: the WITH CHECK test."""
    return exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(0))], default=exp.Literal.number(1))


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


def compile_read(table: Table, query: RestQuery, dialect: Dialect, using: Predicate | None = None) -> Plan:
    """``GET /<table>?…``: select, filters, order, paging; values bind as
    filter values, then LIMIT, then OFFSET (see :func:`paging_values`)."""
    if query.select:
        items = parse_select(query.select, table, dialect)
        nodes, names, kinds = [i.node for i in items], [i.name for i in items], [i.kind for i in items]
        aggregate = any(i.aggregate for i in items)
        group = [i.node.unalias() for i in items if not i.aggregate] if aggregate else []
    else:
        names = list(table.columns)
        nodes = [exp.column(n, quoted=True) for n in names]
        kinds = [c.kind for c in table.columns.values()]
        aggregate, group = False, []
    tree = exp.Select(expressions=nodes).from_(_source(table, using), copy=False)
    where, converters = _where(query, table, dialect, 0)
    if where is not None:
        tree = tree.where(where, copy=False)
    if group:
        tree = tree.group_by(*(g.copy() for g in group), copy=False)
    if query.order:
        tree = tree.order_by(*parse_order(query.order, table, dialect), copy=False)
    elif not aggregate and table.primary_key:
        # A stable default order, so pages do not overlap and every database agrees.
        tree = tree.order_by(*(exp.column(k, quoted=True) for k in table.primary_key), copy=False)
    if query.singular:
        tree = tree.limit(exp.Literal.number(2), copy=False)
    else:
        converters.append(_to_int)
        tree = tree.limit(placeholder(f"v{len(converters) - 1}"), copy=False)
        if _has_offset(query):
            converters.append(_to_int)
            tree = tree.offset(placeholder(f"v{len(converters) - 1}"), copy=False)
    return _emit(tree, dialect, converters, names, kinds)


def compile_count(table: Table, query: RestQuery, dialect: Dialect, using: Predicate | None = None) -> Plan:
    """``GET /<table>?count``: the number of rows the filters match."""
    tree = exp.Select(expressions=[exp.Count(this=exp.Star())]).from_(_source(table, using), copy=False)
    where, converters = _where(query, table, dialect, 0)
    if where is not None:
        tree = tree.where(where, copy=False)
    return _emit(tree, dialect, converters, ("count",), (Kind.INTEGER,))


def _has_offset(query: RestQuery) -> bool:
    return query.offset is not None or query.page is not None


def paging_values(query: RestQuery, *, default_size: int, max_size: int) -> list[int]:
    """LIMIT (and OFFSET) for a read, in the order :func:`compile_read` binds them."""
    if query.singular:
        return []
    if query.page is not None and query.offset is not None:
        raise BadRequest("use either page or offset, not both")
    size = query.limit if query.limit is not None else query.page_size
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


def compile_insert(
    table: Table,
    columns: Sequence[str],
    dialect: Dialect,
    check: Predicate | None = None,
    owners: Mapping[str, str] | None = None,
) -> Plan:
    """``POST /<table>``: one row's INSERT, executed once per row of the body.

    ``owners`` fills columns the body leaves out with principal attributes (the owner
    column of a ``user_id = auth_user.id`` policy); ``check`` is the create policy.
    """
    converters = [body_converter(table, c, dialect) for c in columns]
    values: dict[str, exp.Expr] = {c: placeholder(f"v{i}") for i, c in enumerate(columns)}
    values.update({c: placeholder(param) for c, param in (owners or {}).items() if c not in values})
    names = list(values)
    tree = exp.Insert(
        this=exp.Schema(this=table_node(table), expressions=[exp.to_identifier(c, quoted=True) for c in names]),
        expression=exp.Values(expressions=[exp.Tuple(expressions=[values[c].copy() for c in names])]),
    )
    if check is None or check.node is None:
        return _emit(tree, dialect, converters)
    if dialect.SUPPORTS_INSERT_RETURNING:
        tree.set("returning", exp.Returning(expressions=[_violation(check.condition(table.name))]))
        return replace(_emit(tree, dialect, converters), check_mode=Check.RETURNING)
    plan = _emit(tree, dialect, converters)
    key = _key_of_new_row(table, values, dialect)
    if key is not None:  # read the row back by its key, in the same transaction
        probe = exp.Select(expressions=[_violation(check.condition(table.name))]).from_(table_node(table), copy=False)
        probe = probe.where(
            exp.and_(*(exp.column(c, table=table.name, quoted=True).eq(v) for c, v in key.items())), copy=False
        )
        return replace(plan, check_mode=Check.AFTER, check=_emit(probe, dialect, converters))
    # No key to find the row by: judge the values; columns left to their defaults count as NULL.
    condition = _substitute(check.condition(table.name), table.name, values, others_null=True)
    return replace(
        plan, check_mode=Check.BEFORE, check=_emit(exp.Select(expressions=[_violation(condition)]), dialect, converters)
    )


def _key_of_new_row(table: Table, values: Mapping[str, exp.Expr], dialect: Dialect) -> dict[str, exp.Expr] | None:
    if not table.primary_key:
        return None
    if all(c in values for c in table.primary_key):
        return {c: values[c] for c in table.primary_key}
    generated = dialect.build_last_insert_id()
    pk = table.single_primary_key
    if pk is not None and generated is not None and table.columns[pk].has_default:
        return {pk: generated}
    return None


def compile_update(
    table: Table,
    columns: Sequence[str],
    query: RestQuery,
    dialect: Dialect,
    using: Predicate | None = None,
    check: Predicate | None = None,
) -> Plan:
    """``PUT|PATCH /<table>?…``: values bind as the body's, then the filters'.

    Only rows ``using`` allows are touched; every changed row must pass ``check``."""
    converters = [body_converter(table, c, dialect) for c in columns]
    values = {c: placeholder(f"v{i}") for i, c in enumerate(columns)}
    tree = exp.Update(
        this=table_node(table),
        expressions=[exp.EQ(this=exp.column(c, quoted=True), expression=values[c].copy()) for c in columns],
    )
    where, filter_converters = _where(query, table, dialect, len(converters))
    converters.extend(filter_converters)
    if where is not None:
        tree = tree.where(where, copy=False)
    if using is not None and using.node is not None:
        restrict(tree, using.condition(table.name))
    if check is None or check.node is None:
        return _emit(tree, dialect, converters)
    if dialect.SUPPORTS_UPDATE_RETURNING:
        tree.set("returning", exp.Returning(expressions=[_violation(check.condition(table.name))]))
        return replace(_emit(tree, dialect, converters), check_mode=Check.RETURNING)
    # Judge each row as it will be (its columns with the new values), locking the rows
    # the update will touch so nothing changes in between.
    probe = exp.Select(
        expressions=[_violation(_substitute(check.condition(table.name), table.name, values, others_null=False))]
    ).from_(table_node(table), copy=False)
    where = tree.args.get("where")
    if where is not None:
        probe.set("where", where.copy())
    probe = probe.lock(update=True, copy=False)
    return replace(_emit(tree, dialect, converters), check_mode=Check.BEFORE, check=_emit(probe, dialect, converters))


def compile_delete(table: Table, query: RestQuery, dialect: Dialect, using: Predicate | None = None) -> Plan:
    """``DELETE /<table>?…``: only rows ``using`` allows."""
    tree = exp.Delete(this=table_node(table))
    where, converters = _where(query, table, dialect, 0)
    if where is not None:
        tree = tree.where(where, copy=False)
    if using is not None and using.node is not None:
        restrict(tree, using.condition(table.name))
    return _emit(tree, dialect, converters)
