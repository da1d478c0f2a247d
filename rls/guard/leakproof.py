"""Which of a statement's conditions may run on rows a policy hides, as PostgreSQL decides
for native row-level security.

A condition is *leakproof* when evaluating it on any row can neither raise an error nor
reveal the row any other way: a column compared with a literal or parameter of its type,
or with another column of the same type, ``IS NULL``, ``IN`` lists and ``BETWEEN`` of
those, AND/OR/NOT of leakproof parts. Which column kinds qualify is the dialect's
(:attr:`dialects.base.Dialect.LEAKPROOF_LITERALS`): numeric comparisons raise nothing on
PostgreSQL but ``numeric`` is not marked leakproof there; MySQL warns on mixed types.

A statement whose every per-row condition is leakproof needs no fence at all: the
database may push conditions and use indexes exactly as it does without the guard. One
that is not gets a fence on every policy sub-query, and its leakproof conjuncts are
copied inside the fence so indexes still serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from rls.guard.scope import Resolution, Source
from rls.schema import Kind

_STRUCTURE = (
    exp.Paren, exp.Tuple, exp.Star, exp.Identifier, exp.Table, exp.TableAlias, exp.From, exp.Join, exp.Where,
    exp.Alias, exp.Exists, exp.With, exp.CTE, exp.Distinct, exp.And, exp.Or, exp.Not, exp.Null,
    exp.Boolean, exp.Column, exp.Literal, exp.Placeholder,
)  # fmt: skip
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_CONDITION_POSITIONS = (exp.Where, exp.Having, exp.And, exp.Or, exp.Not, exp.If, exp.Filter, exp.Join)
"""Where an expression is taken as a truth value."""
_POST_FILTER_ARGS = frozenset({"order", "group", "limit", "offset", "windows"})
"""Clauses evaluated only on rows that passed the query's filters."""


@dataclass
class Analysis:
    """The outcome for one statement: whether it is leakproof throughout, and the
    parameters whose values must have the compared column's type for that to hold."""

    leakproof: bool = True
    param_kinds: dict[str, Kind] = field(default_factory=dict)
    conflicted: set[str] = field(default_factory=set)
    """Parameters compared with columns of two kinds: leakproof nowhere."""


class Leakproof:
    """Decides leakproofness for one dialect's rules over one resolved statement."""

    def __init__(self, resolution: Resolution, literals: Mapping[Kind, str], *, trust_params: bool = True):
        self.resolution = resolution
        self.literals = literals
        self.trust_params = trust_params
        self.conflicted: set[str] = set()

    # -- whole statements ------------------------------------------------------------------

    def statement(self, root: exp.Expr) -> Analysis:
        """Leakproof unless some per-row condition (in any scope) is not."""
        analysis = Analysis()
        self._visit(root, analysis, root_query=True)
        # What one comparison learned about a parameter holds for every other (push-down
        # judges conjuncts one by one afterwards).
        self.conflicted = set(analysis.conflicted)
        if self.conflicted:
            analysis = Analysis(conflicted=analysis.conflicted)
            self._visit(root, analysis, root_query=True)
        return analysis

    def _visit(self, node: exp.Expr, analysis: Analysis, *, root_query: bool) -> None:
        if isinstance(node, (exp.Insert, exp.Update, exp.Delete)):
            for key, child in node.args.items():
                if key in ("where", "from_", "using", "with_"):
                    self._children(child, analysis)
                elif key == "expression" and isinstance(child, exp.Query):
                    self._visit(child, analysis, root_query=True)
                else:
                    self._free(child, analysis)
            return
        if isinstance(node, exp.Select):
            # Only the outermost query's clauses run after every filter: in a sub-query an
            # aggregate, window or ORDER BY may read the outer row and run per outer row.
            for key, child in node.args.items():
                if root_query and (key == "expressions" or key in _POST_FILTER_ARGS):
                    self._free(child, analysis)
                else:
                    self._children(child, analysis, root_query=root_query)
            return
        if isinstance(node, (exp.SetOperation, exp.Subquery)):
            for key, child in node.args.items():
                if isinstance(child, exp.Query):
                    self._visit(child, analysis, root_query=root_query)
                elif root_query and key in _POST_FILTER_ARGS:
                    self._free(child, analysis)
                else:
                    self._children(child, analysis)
            return
        self._children(node, analysis)

    def _children(self, value: object, analysis: Analysis, *, root_query: bool = False) -> None:
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, exp.Expr):
                self._filter(child, analysis, root_query=root_query)

    def _free(self, value: object, analysis: Analysis) -> None:
        """Evaluated after filtering: only the queries nested inside are examined."""
        for child in value if isinstance(value, list) else [value]:
            if not isinstance(child, exp.Expr):
                continue
            for query in _nested_queries(child):
                self._visit(query, analysis, root_query=False)

    def _filter(self, node: exp.Expr, analysis: Analysis, *, root_query: bool = False) -> None:
        """A per-row position: every node must be leakproof (in the outermost query,
        aggregates excepted: their arguments are evaluated on filtered rows)."""
        if isinstance(node, (exp.Select, exp.SetOperation)):
            self._visit(node, analysis, root_query=False)
            return
        if root_query and isinstance(node, (exp.AggFunc, exp.Window)):
            self._free(node, analysis)
            return
        if not self.node(node, analysis):
            analysis.leakproof = False
        for child in node.iter_expressions():
            self._filter(child, analysis, root_query=root_query)

    # -- single nodes ------------------------------------------------------------------------

    def node(self, node: exp.Expr, analysis: Analysis) -> bool:
        """Whether ``node`` itself (not its children) is leakproof."""
        if isinstance(node, _COMPARISONS):
            return self._comparable(node.this, node.expression, analysis)
        if isinstance(node, exp.Is):  # IS [NOT] NULL
            return isinstance(node.expression, exp.Null) and isinstance(node.this, exp.Column)
        if isinstance(node, exp.In):
            if node.args.get("query") is not None:
                return self._in_query(node)
            return all(self._comparable(node.this, v, analysis) for v in node.expressions)
        if isinstance(node, exp.Between):
            return self._comparable(node.this, node.args["low"], analysis) and self._comparable(
                node.this, node.args["high"], analysis
            )
        if isinstance(node, exp.Neg):
            return isinstance(node.this, exp.Literal) and not node.this.is_string
        if isinstance(node, exp.Subquery):
            # Rows, not a value: a derived table, or the operand of IN. As a value (a scalar
            # sub-query) it raises when it returns more than one row — and it would run on
            # rows a policy hides (an EXISTS policy turned into a semi-join).
            return (isinstance(node.parent, (exp.From, exp.Join, exp.Lateral)) and node.arg_key == "this") or (
                isinstance(node.parent, exp.In) and node.arg_key == "query"
            )
        if isinstance(node, exp.Join) and node.args.get("using"):
            return False  # USING compares columns the statement never names: kinds unknown here
        if isinstance(node, exp.Column):
            # A column read as an operand; as a condition of its own (`WHERE t.title`) the
            # database converts it to a truth value — row by row, with warnings or errors.
            parent = node.parent
            while isinstance(parent, exp.Paren):
                parent = parent.parent
            return not isinstance(parent, _CONDITION_POSITIONS)
        return isinstance(node, _STRUCTURE)

    def _kind(self, node: exp.Expr) -> Kind | None:
        ref = self.resolution.columns.get(id(node)) if isinstance(node, exp.Column) else None
        return ref.kind if ref is not None else None

    def _comparable(self, left: exp.Expr, right: exp.Expr, analysis: Analysis) -> bool:
        left_kind, right_kind = self._kind(left), self._kind(right)
        if left_kind is None and right_kind is None:
            # Neither side reads a row: whatever it does, it does the same on every row.
            return _constant(left) and _constant(right)
        if left_kind is not None and right_kind is not None:
            return left_kind == right_kind and left_kind in self.literals
        kind = left_kind if left_kind is not None else right_kind
        other = right if left_kind is not None else left
        assert kind is not None
        wanted = self.literals.get(kind)
        if wanted is None:
            return False
        if isinstance(other, exp.Neg):
            if not (isinstance(other.this, exp.Literal) and not other.this.is_string):
                return False  # -'x' is a number made of a string
            other = other.this
        if isinstance(other, exp.Null):
            return True
        if isinstance(other, exp.Placeholder):
            # Leakproof only if the value bound has the column's type (checked at bind time);
            # a parameter compared with columns of two kinds cannot have both.
            known = analysis.param_kinds.setdefault(other.name, kind)
            if known != kind:
                analysis.conflicted.add(other.name)
            return self.trust_params and known == kind and other.name not in self.conflicted
        if isinstance(other, exp.Literal):
            return wanted == "any" or (wanted == "string") == other.is_string
        if isinstance(other, exp.Boolean):
            return wanted in ("boolean", "any")
        return False

    def _in_query(self, node: exp.In) -> bool:
        query = node.args["query"]
        select = query.this if isinstance(query, exp.Subquery) else query
        if not isinstance(select, exp.Select) or len(select.expressions) != 1:
            return False
        inner = select.expressions[0]
        inner = inner.this if isinstance(inner, exp.Alias) else inner
        left, right = self._kind(node.this), self._kind(inner)
        return left is not None and left == right and left in self.literals

    # -- conjuncts for one source --------------------------------------------------------------

    def pushable(self, conjunct: exp.Expr, source: Source) -> bool:
        """Whether ``conjunct`` reads only ``source``'s columns and is leakproof (its
        parameter kinds are then recorded)."""
        analysis = Analysis()
        for node in conjunct.walk():
            if isinstance(node, (exp.Query, exp.Subquery, exp.AggFunc, exp.Window)):
                return False
            if isinstance(node, exp.Column):
                ref = self.resolution.columns.get(id(node))
                if ref is None or ref.source is not source:
                    return False
            elif not self.node(node, analysis):
                return False
        return not any(p.name in self.conflicted for p in conjunct.find_all(exp.Placeholder))


def _constant(node: exp.Expr) -> bool:
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, (exp.Literal, exp.Placeholder, exp.Null, exp.Boolean))


def _nested_queries(node: exp.Expr) -> list[exp.Expr]:
    found: list[exp.Expr] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (exp.Select, exp.SetOperation)):
            found.append(current)
            continue
        stack.extend(current.iter_expressions())
    return found


def conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    """The top-level AND terms of a condition."""
    if node is None:
        return []
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return [*conjuncts(node.this), *conjuncts(node.expression)]
    return [node]
