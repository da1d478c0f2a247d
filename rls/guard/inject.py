"""Inject row filters into statement ASTs — the one mechanism REST and the SQL guard share.

Reads: every physical table reference becomes ``(SELECT * FROM t WHERE <policy>) AS t``,
which is row-level security's meaning and stays correct under outer joins, windows
and LIMIT. (Writes: :mod:`rls.guard.writes` for the guard, :mod:`rls.rest.plan` for REST.)
"""

from __future__ import annotations

from sqlglot import exp


def wrap_relation(table: exp.Table, condition: exp.Expr | None, fence: exp.Expr | None = None) -> exp.Subquery:
    """``(SELECT * FROM <table> WHERE <condition> [fence]) AS <alias>``.

    The alias is the reference's own (or the table's name), so the statement around it
    reads the same columns. ``fence`` stops the optimiser from pushing the statement's
    own conditions below the policy (a LIMIT/OFFSET that changes nothing).
    """
    alias = table.alias_or_name
    inner = exp.Table(this=exp.to_identifier(table.name, quoted=True))
    select = exp.Select(expressions=[exp.Star()]).from_(inner, copy=False)
    if condition is not None:
        select = select.where(condition, copy=False)
    if fence is not None:
        select.set("limit" if isinstance(fence, exp.Limit) else "offset", fence)
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))


INNER_ALIAS = "rls_t"
"""The alias of the table inside a guard's policy sub-query: a name no statement can use, so
the policy's columns can never be captured by a name of the statement."""


def wrap_guarded(
    table: exp.Table, name: str, condition: exp.Expr | None, pushed: list[exp.Expr], fence: exp.Expr | None
) -> exp.Subquery:
    """``(SELECT * FROM "<name>" AS rls_t WHERE <condition> AND <pushed…> [fence]) AS <alias>``:
    the guard's form of :func:`wrap_relation`, with the statement's leakproof conditions on
    this table (already qualified by :data:`INNER_ALIAS`) inside, next to the policy."""
    alias = table.alias_or_name
    inner = exp.Table(
        this=exp.to_identifier(name, quoted=True),
        alias=exp.TableAlias(this=exp.to_identifier(INNER_ALIAS, quoted=True)),
    )
    select = exp.Select(expressions=[exp.Star()]).from_(inner, copy=False)
    parts = ([condition] if condition is not None else []) + pushed
    if parts:
        select = select.where(exp.and_(*parts, copy=False), copy=False)
    if fence is not None:
        select.set("limit" if isinstance(fence, exp.Limit) else "offset", fence)
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))


def dml_target(root: exp.Expr) -> exp.Table | None:
    """The table an INSERT, UPDATE or DELETE writes."""
    if isinstance(root, exp.Insert):
        target = root.this.this if isinstance(root.this, exp.Schema) else root.this
        return target if isinstance(target, exp.Table) else None
    if isinstance(root, (exp.Update, exp.Delete)) and isinstance(root.this, exp.Table):
        return root.this
    return None
