"""Resolve every relation and column of a statement, as the database will.

Each ``exp.Table`` becomes a physical table of the schema or a CTE of the statement (by
the dialect's visibility rules, recursive CTEs and forward references included); each
``exp.Column`` becomes a column of one source in scope (innermost first, then the
enclosing queries for correlated sub-queries), a SELECT alias where the dialect allows
one, or an unknown column — refused. The result is data about the tree, kept by rls
(:class:`Resolution`), never written into the nodes the input can shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from rls.errors import Refused
from rls.schema import Kind, Table

Columns = dict[str, Kind] | None
"""A source's columns by name (None: not known, e.g. a recursive CTE's own reference)."""


@dataclass(eq=False)
class Source:
    """One relation a query reads: a physical table, a CTE or a derived table."""

    alias: str
    node: exp.Expr
    columns: Columns
    table: Table | None = None
    cte: exp.CTE | None = None


@dataclass(eq=False)
class ColumnRef:
    """What a column reference names: a column of ``source`` (stored as ``name``)."""

    source: Source | None
    name: str
    kind: Kind


@dataclass
class Resolution:
    """Everything the rewrite needs to know about the statement's names."""

    tables: list[tuple[exp.Table, Table]] = field(default_factory=list)  # physical references
    cte_refs: list[tuple[exp.Table, exp.CTE]] = field(default_factory=list)  # references to CTEs
    sources: dict[int, Source] = field(default_factory=dict)  # id(exp.Table) → its source
    columns: dict[int, ColumnRef] = field(default_factory=dict)  # id(exp.Column) → what it names
    scopes: dict[int, dict[str, Source]] = field(default_factory=dict)  # id(query) → its sources
    target: Source | None = None
    top_sources: list[Source] = field(default_factory=list)  # a write's target and FROM/USING tables
    all_ctes: list[exp.CTE] = field(default_factory=list)


@dataclass(frozen=True)
class NameRules:
    """How a dialect matches names."""

    tables_case_insensitive: bool
    columns_case_insensitive: bool
    forward_ctes_in_recursive: bool
    ctes_always_recursive: bool
    alias_clauses: frozenset[str] = frozenset({"order"})
    """The clauses of a SELECT that may name its output aliases (ORDER BY everywhere)."""


@dataclass
class _Scope:
    sources: dict[str, Source]
    aliases: frozenset[str] = frozenset()
    using: frozenset[str] = frozenset()


class Resolver:
    """Resolves one statement; ``lookup`` finds a physical table (or raises Refused)."""

    def __init__(self, lookup: Callable[[str], Table], rules: NameRules):
        self.lookup = lookup
        self.rules = rules
        self.result = Resolution()
        self._cte_columns: dict[int, Columns] = {}

    # -- names ----------------------------------------------------------------------------

    def _same_table(self, a: str, b: str) -> bool:
        return a.lower() == b.lower() if self.rules.tables_case_insensitive else a == b

    def _column_name(self, columns: Columns, wanted: str) -> str | None:
        if columns is None:
            return wanted
        if wanted in columns:
            return wanted
        if self.rules.columns_case_insensitive:
            folded = [c for c in columns if c.lower() == wanted.lower()]
            return folded[0] if len(folded) == 1 else None
        return None

    # -- statements -----------------------------------------------------------------------

    def statement(self, root: exp.Expr) -> Resolution:
        if isinstance(root, exp.Insert):
            self._insert(root)
        elif isinstance(root, (exp.Update, exp.Delete)):
            self._update_or_delete(root)
        else:
            self.query(root, [], {})
        return self.result

    def query(self, node: exp.Expr, outer: list[_Scope], ctes: dict[str, exp.CTE]) -> list[tuple[str | None, Kind]]:
        """Resolve a query (SELECT, set operation, parenthesised query); its output columns."""
        ctes = self._with(node.args.get("with_"), outer, ctes)
        if isinstance(node, exp.Subquery):
            columns = self.query(node.this, outer, ctes)
            self._order(node, columns, outer, ctes)
            return columns
        if isinstance(node, exp.SetOperation):
            left = self.query(node.this, outer, ctes)
            right = self.query(node.expression, outer, ctes)
            self._order(node, left, outer, ctes)
            return _merged(left, right)
        if isinstance(node, exp.Select):
            return self._select(node, outer, ctes)
        raise Refused(f"construct not allowed: {type(node).__name__}")

    def _order(
        self, node: exp.Expr, columns: list[tuple[str | None, Kind]], outer: list[_Scope], ctes: dict[str, exp.CTE]
    ) -> None:
        names = frozenset(n for n, _ in columns if n)
        scope = _Scope({}, aliases=names)
        for key in ("order", "limit", "offset"):
            child = node.args.get(key)
            if child is not None:
                self.expression(child, [scope, *outer], ctes)

    def _with(self, with_: exp.With | None, outer: list[_Scope], ctes: dict[str, exp.CTE]) -> dict[str, exp.CTE]:
        if with_ is None:
            return ctes
        recursive = bool(with_.args.get("recursive")) or self.rules.ctes_always_recursive
        items: list[exp.CTE] = list(with_.expressions)
        visible = dict(ctes)
        for cte in items:
            self.result.all_ctes.append(cte)
            own = dict(visible)
            if recursive:
                own[cte.alias] = cte
                if self.rules.forward_ctes_in_recursive and with_.args.get("recursive"):
                    own.update({c.alias: c for c in items})
            self._cte_columns[id(cte)] = _declared(cte)
            body = cte.this
            if isinstance(body, exp.SetOperation) and recursive:
                # The anchor first: it gives the columns the recursive branch reads.
                anchor = self.query(body.this, outer, own)
                if self._cte_columns[id(cte)] is None:
                    self._cte_columns[id(cte)] = _names(anchor)
                self.query(body.expression, outer, own)
                self._order(body, anchor, outer, own)
                produced = anchor
            else:
                produced = self.query(body, outer, own)
            declared = _declared(cte)
            self._cte_columns[id(cte)] = declared if declared is not None else _names(produced)
            visible[cte.alias] = cte
        return visible

    def _select(
        self, select: exp.Select, outer: list[_Scope], ctes: dict[str, exp.CTE]
    ) -> list[tuple[str | None, Kind]]:
        scope = _Scope({})
        self.result.scopes[id(select)] = scope.sources
        from_ = select.args.get("from_")
        joins = select.args.get("joins") or []
        using: set[str] = set()
        for item in ([from_.this] if from_ else []) + [j.this for j in joins]:
            self._add_source(scope, item, outer, ctes)
        for join in joins:
            using.update(i.name for i in join.args.get("using") or [])
        scope.using = frozenset(using)
        scopes = [scope, *outer]
        for join in joins:
            if join.args.get("on") is not None:
                self.expression(join.args["on"], scopes, ctes)
            for ident in join.args.get("using") or []:
                if not any(self._column_name(s.columns, ident.name) for s in scope.sources.values()):
                    raise Refused(f"unknown column: {ident.name}")
        output = self._projections(select, scopes, ctes)
        aliases = frozenset(n for n, _ in output if n)
        for key in ("where", "group", "having", "distinct", "order", "limit", "offset"):
            child = select.args.get(key)
            if child is not None:
                # Output aliases are visible where the dialect lets them be — never a name
                # the database would resolve to an outer query's column instead.
                scope.aliases = aliases if key in self.rules.alias_clauses else frozenset()
                self.expression(child, scopes, ctes)
        scope.aliases = frozenset()
        for window in select.args.get("windows") or []:
            self.expression(window, scopes, ctes)
        return output

    def _projections(
        self, select: exp.Select, scopes: list[_Scope], ctes: dict[str, exp.CTE]
    ) -> list[tuple[str | None, Kind]]:
        output: list[tuple[str | None, Kind]] = []
        sources = scopes[0].sources
        for item in select.expressions:
            if isinstance(item, exp.Star):
                for source in sources.values():
                    output.extend(_star(source))
                continue
            if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                named = self._source_named(scopes[0], item.table)
                if named is None:
                    raise Refused(f"unknown table in {item.table}.*")
                output.extend(_star(named))
                continue
            self.expression(item, scopes, ctes)
            inner = item.this if isinstance(item, exp.Alias) else item
            kind = Kind.OTHER
            if isinstance(inner, exp.Column) and id(inner) in self.result.columns:
                kind = self.result.columns[id(inner)].kind
            output.append((item.alias_or_name or None, kind))
        return output

    def _source_named(self, scope: _Scope, name: str) -> Source | None:
        if name in scope.sources:
            return scope.sources[name]
        if self.rules.tables_case_insensitive:
            return next((s for a, s in scope.sources.items() if a.lower() == name.lower()), None)
        return None

    def _add_source(self, scope: _Scope, item: exp.Expr, outer: list[_Scope], ctes: dict[str, exp.CTE]) -> None:
        if nested_join(item) is not None:
            self._nested_join(scope, item, outer, ctes)
            return
        if isinstance(item, exp.Table):
            source = self.table(item, ctes)
        elif isinstance(item, exp.Subquery):
            columns = self.query(item.this, outer, ctes)
            source = Source(item.alias_or_name, item, _names(columns, item))
        elif isinstance(item, exp.Lateral):
            columns = self.query(item.this.this, [scope, *outer], ctes)
            source = Source(item.alias_or_name or item.this.alias_or_name, item, _names(columns, item.this))
        else:
            raise Refused(f"construct not allowed in FROM: {type(item).__name__}")
        if not source.alias:
            if not isinstance(item, exp.Subquery):
                raise Refused("a sub-query in FROM needs an alias")
            # SQLite names nothing for an unaliased derived table (SQLAlchemy's empty IN:
            # ``IN (SELECT 1 FROM (SELECT 1) WHERE 1!=1)``): its columns are reachable
            # unqualified only, under a key no statement can spell.
            source.alias = f"\x00{len(scope.sources)}"
        if self._source_named(scope, source.alias) is not None:
            raise Refused(f"table name used twice in one FROM: {source.alias}")
        scope.sources[source.alias] = source

    def _nested_join(self, scope: _Scope, item: exp.Expr, outer: list[_Scope], ctes: dict[str, exp.CTE]) -> None:
        """``(a JOIN b ON …)`` as a FROM item: every relation inside is a source of the
        enclosing query (visible by its own alias there); the ON conditions inside see only
        the relations of the parenthesised join and the enclosing queries' (correlation)."""
        first = nested_join(item)
        assert first is not None
        inner = _Scope({})
        source = self.table(first, ctes)
        inner.sources[source.alias] = source
        joins = first.args.get("joins") or []
        for join in joins:
            if join.args.get("using"):
                raise Refused("USING inside a parenthesised join is not supported")
            self._add_source(inner, join.this, outer, ctes)
        for join in joins:
            if join.args.get("on") is not None:
                self.expression(join.args["on"], [inner, *outer], ctes)
        for alias, source in inner.sources.items():
            if self._source_named(scope, alias) is not None:
                raise Refused(f"table name used twice in one FROM: {alias}")
            scope.sources[alias] = source

    def table(self, item: exp.Table, ctes: dict[str, exp.CTE]) -> Source:
        """Resolve a table reference to a CTE in scope or a physical table."""
        name = item.name
        cte = next((c for n, c in ctes.items() if self._same_table(n, name)), None)
        if cte is not None:
            self.result.cte_refs.append((item, cte))
            source = Source(item.alias_or_name, item, self._cte_columns.get(id(cte)), cte=cte)
        else:
            alias = item.args.get("alias")
            if isinstance(alias, exp.TableAlias) and alias.columns:
                raise Refused("column aliases on a table are not supported")
            table = self.lookup(name)
            self.result.tables.append((item, table))
            source = Source(item.alias_or_name, item, {c.name: c.kind for c in table.columns.values()}, table=table)
        self.result.sources[id(item)] = source
        return source

    # -- expressions ------------------------------------------------------------------------

    def expression(self, node: exp.Expr, scopes: list[_Scope], ctes: dict[str, exp.CTE]) -> None:
        """Resolve the columns of an expression and the queries nested in it."""
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, (exp.Select, exp.SetOperation)) or (
                isinstance(current, exp.Subquery) and current is not node
            ):
                self.query(current, scopes, ctes)
                continue
            if isinstance(current, exp.Column):
                self.column(current, scopes)
                continue
            stack.extend(current.iter_expressions())

    def column(self, column: exp.Column, scopes: list[_Scope]) -> None:
        """Resolve one column reference; unknown and ambiguous columns are refused."""
        if isinstance(column.this, exp.Star):
            # ``t.*`` (a whole row, anywhere): it reads every column of its source.
            source = next((s for scope in scopes if (s := self._source_named(scope, column.table))), None)
            if source is None:
                raise Refused(f"unknown table in {column.table}.*")
            self.result.columns[id(column)] = ColumnRef(source, "*", Kind.OTHER)
            return
        wanted, qualifier = column.name, column.table
        for scope in scopes:
            if qualifier:
                source = self._source_named(scope, qualifier)
                if source is None:
                    continue
                name = self._column_name(source.columns, wanted)
                if name is None:
                    raise Refused(f"unknown column: {qualifier}.{wanted}")
                self._record(column, source, name)
                return
            matches = [(s, n) for s in scope.sources.values() if (n := self._column_name(s.columns, wanted))]
            if len(matches) > 1 and wanted not in scope.using:
                raise Refused(f"ambiguous column: {wanted}")
            if matches:
                self._record(column, *matches[0])
                return
            if wanted in scope.aliases or wanted.lower() in {a.lower() for a in scope.aliases}:
                self.result.columns[id(column)] = ColumnRef(None, wanted, Kind.OTHER)
                return
        raise Refused(f"unknown column: {column.sql()[:60]}")

    def _record(self, column: exp.Column, source: Source, name: str) -> None:
        kind = (source.columns or {}).get(name, Kind.OTHER)
        self.result.columns[id(column)] = ColumnRef(source, name, kind)

    # -- writes -----------------------------------------------------------------------------

    def _target(self, table: exp.Table) -> tuple[Source, _Scope]:
        source = self.table(table, {})
        if source.table is None:
            raise Refused("a statement may write a table only")
        self.result.target = source
        return source, _Scope({source.alias: source})

    def target_column(self, ident: exp.Expr) -> str:
        """The stored name of a column the statement writes (case rules applied)."""
        assert self.result.target is not None
        name = self._column_name(self.result.target.columns, ident.name)
        if name is None:
            raise Refused(f"unknown column: {ident.name}")
        return name

    def _insert(self, insert: exp.Insert) -> None:
        ctes = self._with(insert.args.get("with_"), [], {})
        schema = insert.this
        table = schema.this
        source, scope = self._target(table)
        for ident in schema.expressions:
            self.target_column(ident)
        rows = insert.expression
        if isinstance(rows, exp.Values):
            for row in rows.expressions:
                self.expression(row, [], ctes)
        else:
            self.query(rows, [], ctes)
        conflict = insert.args.get("conflict")
        if conflict is not None:
            for key in conflict.args.get("conflict_keys") or []:
                self.target_column(key.this if isinstance(key, exp.Ordered) else key)
            excluded = Source("excluded", conflict, source.columns)
            both = _Scope({source.alias: source, "excluded": excluded})
            self.result.top_sources = [source, excluded]
            for assignment in conflict.expressions:
                self._assignment(assignment, [both], ctes)
            if conflict.args.get("where") is not None:
                self.expression(conflict.args["where"], [both], ctes)
        if insert.args.get("returning") is not None:
            self.expression(insert.args["returning"], [scope], ctes)

    def _update_or_delete(self, root: exp.Update | exp.Delete) -> None:
        ctes = self._with(root.args.get("with_"), [], {})
        if not isinstance(root.this, exp.Table):
            raise Refused("a statement may write a table only")
        _, scope = self._target(root.this)
        extra = root.args.get("from_") if isinstance(root, exp.Update) else None
        items = [extra.this] if extra is not None else list(root.args.get("using") or [])
        for item in items:
            self._add_source(scope, item, [], ctes)
        self.result.top_sources = list(scope.sources.values())
        if isinstance(root, exp.Update):
            for assignment in root.expressions:
                self._assignment(assignment, [scope], ctes)
        for key in ("where", "order", "limit"):
            if root.args.get(key) is not None:
                self.expression(root.args[key], [scope], ctes)
        if root.args.get("returning") is not None:
            self.expression(root.args["returning"], [scope], ctes)

    def _assignment(self, assignment: exp.Expr, scopes: list[_Scope], ctes: dict[str, exp.CTE]) -> None:
        if not isinstance(assignment, exp.EQ):
            raise Refused("SET must assign columns")
        targets = assignment.this.expressions if isinstance(assignment.this, exp.Tuple) else [assignment.this]
        for target in targets:
            if not isinstance(target, exp.Column):
                raise Refused("SET must assign columns")
            self.target_column(target.this)
        self.expression(assignment.expression, scopes, ctes)


def nested_join(item: exp.Expr) -> exp.Table | None:
    """The first table of a parenthesised join used as a FROM item — ``(a JOIN b ON …)``,
    which sqlglot reads as a bare sub-query around a table carrying the joins — or None."""
    if isinstance(item, exp.Subquery) and isinstance(item.this, exp.Table) and item.this.args.get("joins"):
        return item.this
    return None


def _merged(left: list[tuple[str | None, Kind]], right: list[tuple[str | None, Kind]]) -> list[tuple[str | None, Kind]]:
    """A set operation's columns: the first branch's names, a kind only where every branch
    agrees (a column that is text in one branch is not an integer column)."""
    kinds = [k for _, k in right] + [Kind.OTHER] * len(left)
    return [(name, kind if kind == kinds[i] else Kind.OTHER) for i, (name, kind) in enumerate(left)]


def _declared(cte: exp.CTE) -> Columns:
    alias = cte.args.get("alias")
    columns = alias.columns if isinstance(alias, exp.TableAlias) else []
    return {c.name: Kind.OTHER for c in columns} if columns else None


def _names(columns: list[tuple[str | None, Kind]], node: exp.Expr | None = None) -> Columns:
    alias = node.args.get("alias") if node is not None else None
    declared = alias.columns if isinstance(alias, exp.TableAlias) else []
    if declared:
        kinds = [k for _, k in columns] + [Kind.OTHER] * len(declared)
        return {c.name: kinds[i] for i, c in enumerate(declared)}
    return {n: k for n, k in columns if n}


def _star(source: Source) -> list[tuple[str | None, Kind]]:
    if source.columns is None:
        raise Refused(f"cannot expand * over {source.alias}")
    return list(source.columns.items())
