"""Rewrite one parsed statement so that every relation it touches is filtered by policy.

Reads of every physical table, in every scope, become fenced policy sub-queries; the
table an UPDATE or DELETE writes gets the policy in its WHERE, with the statement's
own condition evaluated only on rows the policy allows; INSERT and UPDATE get WITH
CHECK queries that run first and return 1 for every row that would violate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from dialects.base import Dialect
from rls.errors import Refused
from rls.guard.inject import TRUSTED, dml_target, is_cte_reference, is_trusted, wrap_relation
from rls.policy.compile import Predicate
from rls.schema import Table

PredicateFor = Callable[[Table, str], Predicate]
"""The compiled policy of (table, action) for the current user; raises the denial."""

NEW_ROW = "rls_new"


@dataclass
class Rewritten:
    """The guarded statement and the WITH CHECK queries to run before it."""

    tree: exp.Expr
    checks: list[exp.Expr] = field(default_factory=list)


def rewrite_statement(
    root: exp.Expr, lookup: Callable[[str], Table], predicate_for: PredicateFor, dialect: Dialect, *, fence: bool = True
) -> Rewritten:
    """Inject policies into ``root`` (changed in place) — see the module docstring."""
    target = dml_target(root)
    recursive = dialect.CTES_ALWAYS_RECURSIVE
    for table in list(root.find_all(exp.Table)):
        if table is target or is_cte_reference(table, always_recursive=recursive):
            continue
        schema_table = lookup(table.name)
        predicate = predicate_for(schema_table, "read")
        if predicate.node is None:
            _name_table(table, schema_table)
            table.meta[TRUSTED] = True  # public: nothing to filter, nothing to fence
            continue
        _name_table(table, schema_table)
        fence_node = dialect.build_fence() if fence else None
        table.replace(wrap_relation(table, predicate.condition(schema_table.name), fence_node))
    result = Rewritten(root)
    if target is not None:
        _guard_target(result, target, lookup(target.name), predicate_for, dialect)
    verify(root, always_recursive=recursive)
    return result


def _name_table(table: exp.Table, schema_table: Table) -> None:
    alias = table.alias_or_name
    table.set("this", exp.to_identifier(schema_table.name, quoted=True))
    if alias != schema_table.name or table.args.get("alias"):
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))


def _guard_target(
    result: Rewritten, target: exp.Table, table: Table, predicate_for: PredicateFor, dialect: Dialect
) -> None:
    root = result.tree
    _name_table(target, table)
    qualifier = target.alias_or_name
    returning = root.args.get("returning") is not None
    if isinstance(root, (exp.Update, exp.Delete)):
        action = "update" if isinstance(root, exp.Update) else "delete"
        conditions = [predicate_for(table, action)]
        if returning:  # rows handed back must be readable too
            conditions.append(predicate_for(table, "read"))
        for predicate in conditions:
            if predicate.node is not None:
                restrict_fenced(root, predicate.condition(qualifier))
        if isinstance(root, exp.Update):
            check = predicate_for(table, "update")
            if check.node is not None:
                result.checks.append(_update_check(root, qualifier, check, dialect))
        return
    assert isinstance(root, exp.Insert)
    checks = [predicate_for(table, "create")]
    if returning:
        checks.append(predicate_for(table, "read"))
    for check in checks:
        if check.node is not None:
            result.checks.append(_insert_check(root, table, check))
    conflict = root.args.get("conflict")
    if conflict is not None and "UPDATE" in str(conflict.args.get("action")).upper():
        _guard_conflict_update(result, root, conflict, table, predicate_for(table, "update"), dialect)


def _guard_conflict_update(
    result: Rewritten, insert: exp.Insert, conflict: exp.Expr, table: Table, policy: Predicate, dialect: Dialect
) -> None:
    """``ON CONFLICT … DO UPDATE`` is an UPDATE of the existing row: it must pass the
    update policy (USING) and its new version the same policy (WITH CHECK). A query per
    VALUES row finds the row it would conflict with and checks both, before anything
    is written; the DO UPDATE also keeps the policy in its WHERE."""
    if policy.node is None:
        return
    qualifier = insert.this.this.alias_or_name
    own_where = conflict.args.get("where")
    using = policy.condition(qualifier)
    using.meta[TRUSTED] = True
    conflict.set("where", exp.Where(this=exp.and_(own_where.this, using, copy=False) if own_where else using))
    columns = [c.name for c in insert.this.expressions]
    keys = [k.this.name if isinstance(k, exp.Ordered) else k.name for k in conflict.args["conflict_keys"]]
    assignments = {a.this.name: a.expression for a in conflict.expressions if isinstance(a, exp.EQ)}
    probes = []
    for row in insert.expression.expressions:
        items = row.expressions if isinstance(row, exp.Tuple) else [row]
        proposed: dict[str, exp.Expr] = dict(zip(columns, items, strict=False))
        if any(k not in proposed for k in keys):
            raise Refused("ON CONFLICT columns must be among the inserted columns")

        def excluded(node: exp.Expr, proposed: dict[str, exp.Expr] = proposed) -> exp.Expr:
            if isinstance(node, exp.Column) and node.table.lower() == "excluded":
                value = proposed.get(node.name)
                return exp.paren(value.copy(), copy=False) if value is not None else exp.Null()
            return node

        new_values = {c: e.copy().transform(excluded, copy=False) for c, e in assignments.items()}
        allowed = exp.and_(
            policy.condition(qualifier),
            _replace_columns(policy.condition(qualifier), qualifier, new_values, others_null=False),
            copy=False,
        )
        violation: exp.Expr = _violation(allowed)
        if own_where is not None:  # rows the statement's own WHERE skips are not updated
            skip = own_where.this.copy().transform(excluded, copy=False)
            violation = exp.Case(ifs=[exp.If(this=skip, true=violation)], default=exp.Literal.number(0))
        match = exp.and_(
            *(exp.column(k, table=qualifier, quoted=True).eq(proposed[k].copy()) for k in keys), copy=False
        )
        probe = exp.Select(expressions=[violation]).from_(insert.this.this.copy(), copy=False).where(match, copy=False)
        if dialect.SUPPORTS_FOR_UPDATE:
            probe = probe.lock(update=True, copy=False)
        probes.append(probe)
    combined: exp.Expr = probes[0]
    for other in probes[1:]:
        combined = exp.union(combined, other, distinct=False, copy=False)
    combined.meta[TRUSTED] = True
    result.checks.append(combined)


def restrict_fenced(statement: exp.Expr, condition: exp.Expr) -> None:
    """``WHERE <policy> AND CASE WHEN <policy> THEN <own condition> ELSE FALSE END``:
    the statement's own condition (which may raise errors) is evaluated only on rows
    the policy allows, while the policy alone can still use an index."""
    condition.meta[TRUSTED] = True
    where = statement.args.get("where")
    if where is None:
        combined: exp.Expr = condition
    else:
        guard_copy = condition.copy()
        guard_copy.meta[TRUSTED] = True
        fenced = exp.Case(ifs=[exp.If(this=guard_copy, true=exp.paren(where.this, copy=False))], default=exp.false())
        combined = exp.and_(condition, fenced, copy=False)
    statement.set("where", exp.Where(this=combined))


def _violation(condition: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(0))], default=exp.Literal.number(1))


def _replace_columns(
    condition: exp.Expr, qualifier: str, values: dict[str, exp.Expr], *, others_null: bool
) -> exp.Expr:
    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and node.table == qualifier:
            if node.name in values:
                return exp.paren(values[node.name].copy(), copy=False)
            if others_null:
                return exp.Null()
        return node

    return condition.transform(replace, copy=False)


def _update_check(update: exp.Update, qualifier: str, check: Predicate, dialect: Dialect) -> exp.Expr:
    """``SELECT <violation of the new row> FROM <target> [FROM …] WHERE <update's WHERE>``."""
    values = {}
    for assignment in update.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise Refused("UPDATE … SET must assign columns")
        values[assignment.this.name] = assignment.expression
    condition = _replace_columns(check.condition(qualifier), qualifier, values, others_null=False)
    probe = exp.Select(expressions=[_violation(condition)]).from_(update.this.copy(), copy=False)
    extra = update.args.get("from_")
    if extra is not None:
        probe.set("joins", [exp.Join(this=extra.this.copy())])
    where = update.args.get("where")
    if where is not None:
        probe.set("where", where.copy())
    if dialect.SUPPORTS_FOR_UPDATE:
        probe = probe.lock(update=True, copy=False)
    probe.meta[TRUSTED] = True
    return probe


def _insert_check(insert: exp.Insert, table: Table, check: Predicate) -> exp.Expr:
    columns = [c.name for c in insert.this.expressions]
    for name in columns:
        if name not in table.columns:
            raise Refused(f"unknown column in INSERT: {name}")
    source = insert.expression
    condition_of = check.condition(table.name)
    if isinstance(source, exp.Values):
        probes: list[exp.Expr] = []
        for row in source.expressions:
            items = row.expressions if isinstance(row, exp.Tuple) else [row]
            if len(items) != len(columns):
                raise Refused("INSERT row does not match its column list")
            values = dict(zip(columns, items, strict=True))
            condition = _replace_columns(condition_of.copy(), table.name, values, others_null=True)
            probes.append(exp.Select(expressions=[_violation(condition)]))
        probe = probes[0]
        for other in probes[1:]:
            probe = exp.union(probe, other, distinct=False, copy=False)
    elif isinstance(source, exp.Select):
        projections = source.expressions
        if len(projections) != len(columns) or any(isinstance(p, exp.Star) for p in projections):
            raise Refused("INSERT … SELECT must select one named expression per inserted column")
        named = source.copy()
        named.set(
            "expressions",
            [exp.alias_(p.unalias().copy(), c, quoted=True) for p, c in zip(projections, columns, strict=True)],
        )
        new_row: dict[str, exp.Expr] = {c: exp.column(c, table=NEW_ROW, quoted=True) for c in columns}
        condition = _replace_columns(condition_of, table.name, new_row, others_null=True)
        probe = exp.Select(expressions=[_violation(condition)]).from_(
            exp.Subquery(this=named, alias=exp.TableAlias(this=exp.to_identifier(NEW_ROW, quoted=True))), copy=False
        )
    else:
        raise Refused("INSERT takes VALUES or a SELECT")
    probe.meta[TRUSTED] = True
    return probe


def verify(root: exp.Expr, *, always_recursive: bool = False) -> None:
    """Every table reference must be the written table, a CTE, or inside rls's own nodes."""
    target = dml_target(root)
    for table in root.find_all(exp.Table):
        if table is target or is_cte_reference(table, always_recursive=always_recursive) or is_trusted(table):
            continue
        raise Refused(f"table reference the guard could not account for: {table.name}")
