"""Shrink a mismatching case while it still mismatches the same way (cheap: a bounded
number of re-runs, one database, greedy). Parameters are inlined as literals first; a case
that stops mismatching without them is kept as it is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from tests.fuzz.backends import Backends, Outcome
from tests.fuzz.generator import Case
from tests.fuzz.oracle import verdict

SQLGLOT = {"postgres": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def inline(case: Case) -> Case:
    sql: dict[str, str | None] = {}
    for d, text in case.sql.items():
        if text is None:
            sql[d] = None
            continue
        parts = text.split("{p}")
        out = parts[0]
        for value, part in zip(case.params, parts[1:], strict=True):
            out += _literal(value) + part
        sql[d] = out
    return replace(case, sql=sql, params=(), named=False)


def judge(backends: Backends, case: Case, dialect: str) -> str:
    raw_pg = backends.raw("postgres", case)
    if raw_pg.status in ("error", "timeout"):
        return "invalid"
    if dialect != "postgres" and not backends.raw(dialect, case).same(raw_pg):
        return "nonportable"
    native = backends.native(case)
    if native.status in ("error", "timeout"):
        return "invalid"
    base = Outcome("ok", tables=backends.baseline["native"])
    return verdict(case, native, backends.guarded(dialect, case), base)


def _candidates(tree: exp.Expr) -> Iterator[Callable[[exp.Expr], None]]:
    """Edits, each applied to a copy of the tree (found again by position in a walk)."""
    nodes = list(tree.walk())
    recursive = any(w.args.get("recursive") for w in tree.find_all(exp.With))
    for i, node in enumerate(nodes):
        if recursive and node.find_ancestor(exp.CTE) is not None:
            continue  # a recursive CTE without its stop condition never ends
        if isinstance(node, (exp.Where, exp.Order, exp.Limit, exp.Offset, exp.Having, exp.Join, exp.Returning)):
            yield lambda t, i=i: _nth(t, i).pop()
        if isinstance(node, (exp.And, exp.Or)):
            yield lambda t, i=i: _nth(t, i).replace(_nth(t, i).left)
            yield lambda t, i=i: _nth(t, i).replace(_nth(t, i).right)
        if isinstance(node, exp.Not):
            yield lambda t, i=i: _nth(t, i).replace(_nth(t, i).this)
        if isinstance(node, exp.SetOperation):
            yield lambda t, i=i: _nth(t, i).replace(_nth(t, i).left)
            yield lambda t, i=i: _nth(t, i).replace(_nth(t, i).right)
        if isinstance(node, exp.Select) and len(node.expressions) > 1:
            for j in range(len(node.expressions)):
                yield lambda t, i=i, j=j: _nth(t, i).expressions[j].pop()
        if isinstance(node, exp.Values) and len(node.expressions) > 1:
            for j in range(len(node.expressions)):
                yield lambda t, i=i, j=j: _nth(t, i).expressions[j].pop()
        if isinstance(node, exp.CTE):
            yield lambda t, i=i: _nth(t, i).pop()


def _nth(tree: exp.Expr, i: int) -> Any:
    for k, node in enumerate(tree.walk()):
        if k == i:
            return node
    raise IndexError(i)


def minimise(backends: Backends, case: Case, dialect: str, target: str, budget: int = 80) -> Case | None:
    """The smallest variant found of ``case`` with verdict ``target`` on ``dialect``."""
    texts = {case.sql["postgres"], case.sql[dialect]}
    if len(texts) != 1:  # a per-database variant: shrink only the shared text
        return None
    current = inline(case)
    if judge(backends, current, dialect) != target:
        return None
    for _ in range(budget):
        try:
            tree = sqlglot.parse_one(current.sql["postgres"] or "", read="postgres")
        except SqlglotError:
            return current
        for edit in _candidates(tree):
            budget -= 1
            if budget <= 0:
                return current
            candidate_tree = tree.copy()
            try:
                edit(candidate_tree)
                pg = candidate_tree.sql(dialect="postgres")
                other = candidate_tree.sql(dialect=SQLGLOT[dialect])
            except (SqlglotError, IndexError, AttributeError):
                continue
            if len(pg) >= len(current.sql["postgres"] or ""):
                continue
            candidate = replace(current, sql={**current.sql, "postgres": pg, dialect: other})
            if judge(backends, candidate, dialect) == target:
                current = candidate
                break
        else:
            return current
    return current
