"""Embedded resources as SQL: one correlated sub-query per embedded table, each reading its
table through its own read policy, the JSON built by the dialect's hooks.

Every embedded table is read as a top-level read is: ``(SELECT * FROM t WHERE <policy>)``,
fenced with the leakproof filters inside when a filter can raise, so such a filter only
ever sees rows the policy allows. Children are reached only from the rows of their parent
the statement returns (the correlation refers to the parent's policy-filtered relation):
a hidden parent never reveals its children. ``!inner`` is an EXISTS over the same
policy-filtered sub-query, so it answers only for rows the caller may see.
"""

from __future__ import annotations

from sqlglot import exp

from dialects.base import Dialect
from rls.emit import placeholder
from rls.guard.inject import wrap_relation
from rls.policy.compile import Predicate
from rls.rest.embed import Embed
from rls.rest.terms import Converter, SelectItem, _native_nulls_first, build_condition, parse_order
from rls.schema import ForeignKey, Kind, Table

_PAGE_ALL = "18446744073709551615"  # an OFFSET without LIMIT inside MariaDB's JSON_ARRAYAGG


def qualify(node: exp.Expr, qualifier: str) -> exp.Expr:
    """A copy of ``node`` with every unqualified column qualified by ``qualifier``."""

    def visit(n: exp.Expr) -> exp.Expr:
        if isinstance(n, exp.Column) and not n.table:
            n.set("table", exp.to_identifier(qualifier, quoted=True))
        return n

    return node.copy().transform(visit, copy=False)


def _column(name: str, qualifier: str) -> exp.Column:
    return exp.column(name, table=qualifier, quoted=True)


def _join_on(key: ForeignKey, holder: str, referenced: str) -> list[exp.Expr]:
    """``holder.<key columns> = referenced.<referenced columns>``."""
    return [
        exp.EQ(this=_column(c, holder), expression=_column(r, referenced))
        for c, r in zip(key.columns, key.referenced_columns, strict=True)
    ]


class EmbedBuilder:
    """Builds the sub-queries of one statement's embedded resources; collects the converters
    of the values they bind, by value index."""

    def __init__(self, dialect: Dialect):
        self.dialect = dialect
        self.converters: dict[int, Converter] = {}
        self._conditions: dict[str, tuple[list[exp.Expr], list[exp.Expr]]] = {}

    # -- conditions ---------------------------------------------------------------------

    def conditions(self, e: Embed) -> tuple[list[exp.Expr], list[exp.Expr]]:
        """The embedded resource's filters, unqualified: (leakproof, may raise)."""
        found = self._conditions.get(e.sql_alias)
        if found is None:
            found = ([], [])
            for index, f in e.filters:
                condition = build_condition(f, e.table, self.dialect, index)
                found[0 if condition.leakproof else 1].append(condition.node)
                for i, convert in enumerate(condition.converters):
                    self.converters[index + i] = convert
            self._conditions[e.sql_alias] = found
        return found

    def _relation(
        self, table: Table, using: Predicate | None, alias: str, leakproof: list[exp.Expr], fence: bool
    ) -> tuple[exp.Expr, list[exp.Expr]]:
        """``table`` under ``alias`` read through its policy, and the leakproof conditions
        left for the caller's WHERE (inside a fenced policy sub-query, they go in it)."""
        node = exp.Table(
            this=exp.to_identifier(table.name, quoted=True),
            alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
        )
        outside = [qualify(c, alias) for c in leakproof]
        if using is None or using.node is None:
            return node, outside
        if not fence:
            return wrap_relation(node, using.condition(table.name)), outside
        inner = exp.and_(using.condition(table.name), *[qualify(c, table.name) for c in leakproof], copy=False)
        return wrap_relation(node, inner, self.dialect.build_fence()), []

    def _source(self, e: Embed, parent: str) -> tuple[exp.Select, list[exp.Expr]]:
        """``SELECT … FROM <e's relation> [JOIN <junction>]`` and its WHERE conditions: the
        correlation with ``parent``, the filters, the EXISTS of ``!inner`` children."""
        leakproof, other = self.conditions(e)
        raising = [qualify(c, e.sql_alias) for c in other]
        raising += [self.exists(child, e.sql_alias) for child in e.children() if child.inner]
        rel = e.relationship
        if rel.target_key is not None:  # many-to-many
            return self._junction_source(e, parent, leakproof, raising)
        # The correlation compares the key columns (one type): leakproof. Inside a fenced
        # policy sub-query it lets an index serve each parent row; MariaDB refuses outer
        # references there, and a parent of the same name would capture the columns.
        pairs = zip(rel.key.referenced_columns, rel.key.columns, strict=True)
        if rel.cardinality == "one_to_many":
            pairs = zip(rel.key.columns, rel.key.referenced_columns, strict=True)
        correlation: list[exp.Expr] = [
            exp.EQ(this=exp.column(mine, quoted=True), expression=_column(theirs, parent)) for mine, theirs in pairs
        ]
        inside = self.dialect.CORRELATED_DERIVED_TABLES and parent != e.table.name
        fence = bool(raising)
        relation, where = self._relation(
            e.table, e.using, e.sql_alias, leakproof + (correlation if inside else []), fence=fence
        )
        if not inside:
            where += [qualify(c, e.sql_alias) for c in correlation]
        return exp.Select().from_(relation, copy=False), where + raising

    def _junction_source(
        self, e: Embed, parent: str, leakproof: list[exp.Expr], raising: list[exp.Expr]
    ) -> tuple[exp.Select, list[exp.Expr]]:
        rel = e.relationship
        assert e.junction is not None and rel.target_key is not None
        relation, where = self._relation(e.table, e.using, e.sql_alias, leakproof, fence=bool(raising))
        j = f"{e.sql_alias}_j"
        # The junction is fenced too when a filter can raise: the join must not pair a
        # target row with a junction row its policy hides before that filter runs.
        junction, on = self._relation(e.junction, e.junction_using, j, [], fence=bool(raising))
        on += _join_on(rel.target_key, j, e.sql_alias)
        select = exp.Select().from_(relation, copy=False)
        select = select.join(junction, on=exp.and_(*on, copy=False), join_type="inner", copy=False)
        return select, where + _join_on(rel.key, j, parent) + raising

    # -- values -------------------------------------------------------------------------

    def exists(self, e: Embed, parent: str) -> exp.Expr:
        """``EXISTS (…)``: a row of ``e`` the caller may see relates to the parent row."""
        select, where = self._source(e, parent)
        select = select.select(exp.Literal.number(1), copy=False).where(*where, copy=False)
        return exp.Exists(this=select)

    def value(self, e: Embed, parent: str) -> exp.Expr:
        """The JSON value of ``e`` for one parent row: an object or NULL (to-one), an array
        (to-many, ``[]`` when none)."""
        select, where = self._source(e, parent)
        select = select.where(*where, copy=False) if where else select
        element = self.dialect.build_json_object(self._pairs(e))
        self._paging_converters(e)
        if e.relationship.to_one:
            return exp.Subquery(this=select.select(element, copy=False))
        if e.aggregate:  # PostgREST's [{"count": 3}]: one row of aggregates over the related rows
            return exp.Subquery(this=select.select(self.dialect.build_json_array([element]), copy=False))
        order = self._order(e)
        limit, offset = self._page(e)
        if self.dialect.EMBED_PAGES_IN_AGGREGATE:
            if limit is None and offset is None:
                agg = self.dialect.build_json_array_agg(element, order)
            else:
                page = limit if limit is not None else exp.Literal.number(_PAGE_ALL)
                agg = self.dialect.build_json_aggregate_page(element, order, page, offset)
            return exp.Subquery(this=select.select(agg, copy=False))
        # Ordered and paged in a derived table; the aggregate keeps that order.
        s = f"{e.sql_alias}_s"
        outputs = [exp.alias_(element, "j", quoted=True)]
        outputs += [exp.alias_(o.this.copy(), f"o{i}", quoted=True) for i, o in enumerate(order)]
        select = select.select(*outputs, copy=False)
        if order:
            select = select.order_by(*order, copy=False)
        if limit is not None:
            select = select.limit(limit, copy=False)
        if offset is not None:
            select.set("offset", exp.Offset(expression=offset))
        agg_order = [
            exp.Ordered(this=_column(f"o{i}", s), desc=o.args.get("desc"), nulls_first=o.args.get("nulls_first"))
            for i, o in enumerate(order)
        ]
        agg = self.dialect.build_json_array_agg(_column("j", s), agg_order)
        outer = exp.Select(expressions=[agg]).from_(
            exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(s, quoted=True))), copy=False
        )
        return exp.Subquery(this=outer)

    def _pairs(self, e: Embed) -> list[tuple[str, exp.Expr]]:
        pairs = []
        for item in e.items:
            if isinstance(item, SelectItem):
                value = self.dialect.build_json_value(qualify(item.node.unalias(), e.sql_alias), item.kind)
                pairs.append((item.name, value))
            else:
                pairs.append((item.name, self.dialect.build_json_value(self.value(item, e.sql_alias), Kind.JSON)))
        return pairs

    def _order(self, e: Embed) -> list[exp.Ordered]:
        option = e.options.get("order")
        items: list[exp.Ordered] = []
        if option is not None:
            parsed = parse_order(option[1].value, e.table, self.dialect)
            items = [qualify(o, e.sql_alias) for o in parsed]  # type: ignore[misc]
        # The primary key breaks ties: a page of an embedded array is the same on every database.
        ordered = {o.this.name for o in items if isinstance(o.this, exp.Column)}
        nulls_first = _native_nulls_first(self.dialect, False)
        keys = [k for k in e.table.primary_key if k not in ordered]
        return items + [exp.Ordered(this=_column(k, e.sql_alias), desc=False, nulls_first=nulls_first) for k in keys]

    def _page(self, e: Embed) -> tuple[exp.Expr | None, exp.Expr | None]:
        found = [e.options.get(name) for name in ("limit", "offset")]
        return tuple(None if o is None else placeholder(f"v{o[0]}") for o in found)  # type: ignore[return-value]

    def _paging_converters(self, e: Embed) -> None:
        for name in ("limit", "offset"):
            option = e.options.get(name)
            if option is not None:
                self.converters[option[0]] = int
