"""Inject row filters into statement ASTs — the one mechanism REST and the SQL guard share.

Reads: every physical table reference becomes ``(SELECT * FROM t WHERE <policy>) AS t``,
which is row-level security's meaning and stays correct under outer joins, windows
and LIMIT. DML targets get the policy ANDed into WHERE (``exp.and_`` parenthesises).
"""

from __future__ import annotations

from sqlglot import exp

TRUSTED = "rls_trusted"
"""Meta flag on subtrees rls wrote itself (wrappers, policy predicates): the output
verifier accepts the tables inside them."""


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
    wrapped = exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    wrapped.meta[TRUSTED] = True
    return wrapped


def restrict(statement: exp.Expr, condition: exp.Expr) -> exp.Expr:
    """AND ``condition`` into the WHERE of an UPDATE or DELETE (parenthesised)."""
    condition.meta[TRUSTED] = True
    where = statement.args.get("where")
    combined = exp.and_(where.this, condition, copy=False) if where is not None else condition
    statement.set("where", exp.Where(this=combined))
    return statement
