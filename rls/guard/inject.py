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


# -- resolving relation references ------------------------------------------------------


def dml_target(root: exp.Expr) -> exp.Table | None:
    """The table an INSERT, UPDATE or DELETE writes."""
    if isinstance(root, exp.Insert):
        target = root.this.this if isinstance(root.this, exp.Schema) else root.this
        return target if isinstance(target, exp.Table) else None
    if isinstance(root, (exp.Update, exp.Delete)) and isinstance(root.this, exp.Table):
        return root.this
    return None


def is_cte_reference(table: exp.Table, *, always_recursive: bool = False) -> bool:
    """Whether ``table`` names a CTE visible where it stands (not a physical table).

    A CTE is visible in the query that defines it and in the CTEs after it; in its own
    body only when the WITH is RECURSIVE (otherwise the name there is the real table).
    """
    name = table.name
    child: exp.Expr = table
    parent = table.parent
    while parent is not None:
        with_ = parent.args.get("with_") if not isinstance(parent, exp.With) else None
        if isinstance(with_, exp.With) and child is not with_:
            if any(cte.alias == name for cte in with_.expressions):
                return True
        if isinstance(parent, exp.With) and isinstance(child, exp.CTE):
            ctes = list(parent.expressions)
            position = next(i for i, c in enumerate(ctes) if c is child)
            recursive = always_recursive or parent.args.get("recursive")
            visible = ctes[: position + 1] if recursive else ctes[:position]
            if any(cte.alias == name for cte in visible):
                return True
            # Skip the WITH's owner: its other CTEs are not visible from here.
            child, parent = parent, parent.parent
            if parent is None:
                break
        child, parent = parent, parent.parent
    return False


def is_trusted(node: exp.Expr) -> bool:
    """Whether ``node`` sits inside something rls wrote (a wrapper or a policy predicate)."""
    current: exp.Expr | None = node
    while current is not None:
        if current.meta.get(TRUSTED):
            return True
        current = current.parent
    return False
