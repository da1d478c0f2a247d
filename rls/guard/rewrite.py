"""Rewrite one checked, resolved statement so that every relation it touches is filtered
by policy — the passes after resolution, each small and in this order:

1. :func:`rename_ctes` — every CTE of the statement gets an rls-owned name, so a name the
   statement defines can never capture a table a policy reads (policies bind to physical
   tables).
2. :func:`wrap_reads` — every physical table read, in every scope, becomes a policy
   sub-query; fenced only when some per-row condition of the statement is not leakproof
   (:mod:`rls.guard.leakproof`), with the leakproof conditions on that table inside.
3. :class:`rls.guard.writes.WriteGuard` — the written table: USING, CASE fence, WITH CHECK
   that aborts the statement itself.
4. :func:`account_tables` — every table reference left is the written table, an
   rls-renamed CTE, or inside something rls built (tracked by identity, outside the tree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from dialects.base import Dialect
from rls.errors import Refused
from rls.guard.inject import INNER_ALIAS, wrap_guarded
from rls.guard.leakproof import Leakproof, conjuncts
from rls.guard.scope import Resolution, Source
from rls.guard.writes import WriteGuard, rebuild
from rls.policy.compile import Predicate, both
from rls.schema import Kind, Table

PredicateFor = Callable[[Table, str], Predicate]
"""The compiled policy of (table, action) for the current user; raises the denial."""

CTE_PREFIX = "rls_cte_"


@dataclass
class Rewritten:
    """The guarded statement and what the guard knows about it."""

    tree: exp.Expr
    built: set[int] = field(default_factory=set)
    hidden_columns: int = 0
    param_kinds: dict[str, Kind] = field(default_factory=dict)
    fenced: bool = False


def rewrite_statement(
    root: exp.Expr,
    resolution: Resolution,
    predicate_for: PredicateFor,
    dialect: Dialect,
    *,
    fence: bool = True,
    trust_params: bool = True,
    owner_fill: bool = False,
) -> Rewritten:
    """Inject policies into ``root`` (changed in place) — see the module docstring."""
    leakproof = Leakproof(resolution, dialect.LEAKPROOF_LITERALS, trust_params=trust_params)
    analysis = leakproof.statement(root)
    needs_fence = not analysis.leakproof or (dialect.FENCE_WITH_WINDOWS and root.find(exp.Window) is not None)
    result = Rewritten(root, param_kinds=analysis.param_kinds, fenced=fence and needs_fence)
    rename_ctes(resolution)
    wrap_reads(resolution, predicate_for, dialect, leakproof, result)
    if resolution.target is not None:
        writes = WriteGuard(root, resolution, predicate_for, dialect, leakproof, result.built, owner_fill=owner_fill)
        writes.guard()
        result.hidden_columns = writes.hidden_columns
    account_tables(result.tree, resolution, result.built)
    return result


def rename_ctes(resolution: Resolution) -> None:
    """``WITH x AS (…) … FROM x`` → ``WITH rls_cte_0 AS (…) … FROM rls_cte_0 AS x``."""
    names = {id(cte): f"{CTE_PREFIX}{i}" for i, cte in enumerate(resolution.all_ctes)}
    for cte in resolution.all_ctes:
        alias = cte.args["alias"]
        alias.set("this", exp.to_identifier(names[id(cte)], quoted=True))
    for node, cte in resolution.cte_refs:
        original = node.alias_or_name
        node.set("this", exp.to_identifier(names[id(cte)], quoted=True))
        node.set("alias", exp.TableAlias(this=exp.to_identifier(original, quoted=True)))


def wrap_reads(
    resolution: Resolution, predicate_for: PredicateFor, dialect: Dialect, leakproof: Leakproof, result: Rewritten
) -> None:
    """Every physical table read becomes its policy sub-query (module docstring, step 2)."""
    target = resolution.target.node if resolution.target is not None else None
    for node, table in resolution.tables:
        if node is target:
            continue
        predicate = predicate_for(table, "read")
        if _locked(node):
            # A locking read (FOR UPDATE / FOR SHARE …) takes the rows it may update, as
            # PostgreSQL's RLS applies the UPDATE policy's USING to it: a reader must not
            # hold locks on rows only others may change.
            locking = both(predicate, predicate_for(table, "update"))
            assert locking is not None  # two predicates in, one out
            predicate = locking
        condition = predicate.condition(INNER_ALIAS) if predicate.node is not None else None
        if condition is not None:
            result.built.add(id(condition))
        pushed = _pushed(node, resolution, leakproof, result.built) if result.fenced else []
        fence_node = dialect.build_fence() if result.fenced and (condition is not None or pushed) else None
        if condition is None and not pushed:
            _name_public(node, table)
            result.built.add(id(node))  # public: read as it is, accounted for
            continue
        wrapped = wrap_guarded(node, table.name, condition, pushed, fence_node)
        result.built.add(id(wrapped))
        joins = node.args.get("joins")
        if joins:
            # The first table of a parenthesised join: its joins move to the sub-query
            # that replaces it (they stay the statement's own: see _inside_built).
            node.set("joins", None)
            wrapped.set("joins", joins)
        node.replace(wrapped)


def _locked(node: exp.Expr) -> bool:
    """Whether a locking clause covers ``node``: one on the SELECT that reads it, or on
    a SELECT reading that one as a FROM / JOIN / LATERAL item (PostgreSQL locks the tables of a
    sub-query in FROM; not those of a WITH query or a sub-query elsewhere)."""
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        parent = parent.parent
    if parent is None:
        return False
    if parent.args.get("locks"):
        return True
    holder = parent.parent
    while isinstance(holder, (exp.Subquery, exp.Lateral)) and isinstance(holder.parent, (exp.Subquery, exp.Lateral)):
        holder = holder.parent
    if isinstance(holder, (exp.Subquery, exp.Lateral)) and isinstance(holder.parent, (exp.From, exp.Join)):
        return _locked(holder)
    return False


def _name_public(node: exp.Table, table: Table) -> None:
    """A table every row of which this user may read is read as it is, by its exact name."""
    alias = node.alias_or_name
    node.set("this", exp.to_identifier(table.name, quoted=True))
    node.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))


def _pushed(node: exp.Table, resolution: Resolution, leakproof: Leakproof, built: set[int]) -> list[exp.Expr]:
    """Copies of the leakproof WHERE conjuncts of ``node``'s query that read only it,
    qualified for the inside of its policy sub-query."""
    source = resolution.sources.get(id(node))
    select = node.parent.parent if node.parent is not None else None
    if source is None or not isinstance(select, exp.Select) or _nullable(node, select):
        return []
    where = select.args.get("where")
    pushed = []
    for conjunct in conjuncts(where.this if where is not None else None):
        if leakproof.pushable(conjunct, source):
            pushed.append(_requalified(conjunct, source, resolution, built))
    return pushed


def _nullable(node: exp.Table, select: exp.Select) -> bool:
    """Whether an outer join can give ``node``'s columns as NULL: then a WHERE condition on
    them (``x.id IS NULL``) is about the join's result, not about the table's rows."""
    joins = select.args.get("joins") or []
    sides = [str(j.args.get("side") or "").upper() for j in joins]
    if isinstance(node.parent, exp.Join):
        side = str(node.parent.args.get("side") or "").upper()
        position = next(i for i, j in enumerate(joins) if j is node.parent)
        later = sides[position + 1 :]
        return side in ("LEFT", "FULL") or any(s in ("RIGHT", "FULL") for s in later)
    return any(s in ("RIGHT", "FULL") for s in sides)


def _requalified(conjunct: exp.Expr, source: Source, resolution: Resolution, built: set[int]) -> exp.Expr:
    def replace(node: exp.Expr) -> exp.Expr | None:
        ref = resolution.columns.get(id(node)) if isinstance(node, exp.Column) else None
        if ref is not None and ref.source is source:
            return exp.column(ref.name, table=INNER_ALIAS, quoted=True)
        return None

    return rebuild(conjunct, replace, built)


def account_tables(root: exp.Expr, resolution: Resolution, built: set[int]) -> None:
    """Every table reference must be the written table, a renamed CTE, or inside something
    rls built (a policy sub-query, a policy predicate)."""
    target = resolution.target.node if resolution.target is not None else None
    cte_refs = {id(node) for node, _ in resolution.cte_refs}
    for table in root.find_all(exp.Table):
        if table is target or id(table) in cte_refs or _inside_built(table, built):
            continue
        raise Refused(f"table reference the guard could not account for: {table.name}")


def _inside_built(node: exp.Expr, built: set[int]) -> bool:
    current: exp.Expr | None = node
    while current is not None:
        if isinstance(current, exp.Join) and current.parent is not None and id(current.parent) in built:
            # The joins of a parenthesised join's first relation hang on what rls built in
            # its place (a policy sub-query, a public table): they are the statement's own.
            current = current.parent.parent
            continue
        if id(current) in built:
            return True
        current = current.parent
    return False
