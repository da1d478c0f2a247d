"""Compile a REST request shape into a :class:`Plan`: SQL text, a bind plan, a row reader.

Compilation is pure and runs once per shape; a plan is cached and reused for every
request of that shape, which then costs only the binding of its values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from dialects.base import Decoder, Dialect
from rls.emit import emit, placeholder
from rls.errors import BadRequest
from rls.rest.query import RestQuery
from rls.rest.terms import Converter, build_condition, parse_order, parse_select
from rls.schema import Kind, Table
from rls.values import from_json

Transform = Callable[[exp.Expr], exp.Expr]
"""A pass over a statement AST before it is emitted (the policy guard plugs in here)."""

ParamSource = int | str
"""Where a positional parameter's value comes from: an index into the request's values,
or the name of an attribute of the principal (the authenticated user)."""

_NO_PRINCIPAL: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled statement: SQL for the driver, how to bind it, how to read its rows."""

    sql: str
    params: tuple[ParamSource, ...]
    converters: tuple[Converter, ...]
    columns: tuple[str, ...] = ()
    decoders: tuple[tuple[int, Decoder], ...] = ()

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


def _finish(
    tree: exp.Expr,
    dialect: Dialect,
    transforms: Sequence[Transform],
    converters: Sequence[Converter],
    columns: Sequence[str] = (),
    kinds: Sequence[Kind] = (),
) -> Plan:
    for transform in transforms:
        tree = transform(tree)
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
    return (exp.and_(*conditions) if conditions else None), converters


# -- reads ------------------------------------------------------------------------------


def compile_read(table: Table, query: RestQuery, dialect: Dialect, transforms: Sequence[Transform] = ()) -> Plan:
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
    tree = exp.Select(expressions=nodes).from_(table_node(table), copy=False)
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
    return _finish(tree, dialect, transforms, converters, names, kinds)


def compile_count(table: Table, query: RestQuery, dialect: Dialect, transforms: Sequence[Transform] = ()) -> Plan:
    """``GET /<table>?count``: the number of rows the filters match."""
    tree = exp.Select(expressions=[exp.Count(this=exp.Star())]).from_(table_node(table), copy=False)
    where, converters = _where(query, table, dialect, 0)
    if where is not None:
        tree = tree.where(where, copy=False)
    return _finish(tree, dialect, transforms, converters, ("count",), (Kind.INTEGER,))


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
    table: Table, columns: Sequence[str], dialect: Dialect, transforms: Sequence[Transform] = ()
) -> Plan:
    """``POST /<table>``: one row's INSERT, executed once per row of the body."""
    converters = [body_converter(table, c, dialect) for c in columns]
    tree = exp.Insert(
        this=exp.Schema(this=table_node(table), expressions=[exp.to_identifier(c, quoted=True) for c in columns]),
        expression=exp.Values(expressions=[exp.Tuple(expressions=[placeholder(f"v{i}") for i in range(len(columns))])]),
    )
    return _finish(tree, dialect, transforms, converters)


def compile_update(
    table: Table, columns: Sequence[str], query: RestQuery, dialect: Dialect, transforms: Sequence[Transform] = ()
) -> Plan:
    """``PUT|PATCH /<table>?…``: values bind as the body's, then the filters'."""
    converters = [body_converter(table, c, dialect) for c in columns]
    tree = exp.Update(
        this=table_node(table),
        expressions=[
            exp.EQ(this=exp.column(c, quoted=True), expression=placeholder(f"v{i}")) for i, c in enumerate(columns)
        ],
    )
    where, filter_converters = _where(query, table, dialect, len(converters))
    if where is not None:
        tree = tree.where(where, copy=False)
    return _finish(tree, dialect, transforms, [*converters, *filter_converters])


def compile_delete(table: Table, query: RestQuery, dialect: Dialect, transforms: Sequence[Transform] = ()) -> Plan:
    """``DELETE /<table>?…``."""
    tree = exp.Delete(this=table_node(table))
    where, converters = _where(query, table, dialect, 0)
    if where is not None:
        tree = tree.where(where, copy=False)
    return _finish(tree, dialect, transforms, converters)
