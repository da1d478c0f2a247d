"""What each class of user gets, per table and action, under the stored policies.

The same decision the engine makes (:func:`rls.policy.model.select_policies`, then
:func:`rls.policy.compile.compile_policies` per class of user): *allowed* (every row),
*filtered* (rows where a condition holds) or *denied* (401 for the anonymous user, 403
otherwise). A table whose winning policies all fail to fit it — the default
``all/all user_id = auth_user.id`` on a table without ``user_id`` — is denied for
everyone; that is legal, fail-closed, and almost always a mistake, so it is a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dialects.base import Dialect
from rls.errors import RlsError
from rls.policy.compile import UserClass, compile_policies
from rls.policy.expression import parse_expression, resolve_columns
from rls.policy.model import Policy, select_policies
from rls.schema import Schema, Table

REQUEST_ACTIONS = ("read", "read_mine", "create", "update", "delete")
CLASSES = tuple(UserClass)
ALLOWED, FILTERED, DENIED = "allowed", "filtered", "denied"


@dataclass(frozen=True)
class Decision:
    """What one (table, action) gives each class of user, and the policies behind it."""

    table: str
    action: str
    outcomes: dict[str, str]
    fitting: tuple[Policy, ...]
    unfit: tuple[tuple[Policy, str], ...] = ()
    """Selected policies that do not fit the table, with the reason; they grant nothing."""

    @property
    def condition(self) -> str:
        """The winning policies' expressions, ORed as the engine combines them."""
        if FILTERED not in self.outcomes.values():
            return ""
        return " OR ".join(f"({p.expression})" if len(self.fitting) > 1 else p.expression for p in self.fitting)

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "action": self.action,
            **self.outcomes,
            "condition": self.condition or None,
            "policies": [p.id for p in self.fitting],
            "ignored": [{"policy": p.id, "problem": reason} for p, reason in self.unfit],
        }


@dataclass
class Report:
    decisions: list[Decision] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def fit(policy: Policy, table: Table, schema: Schema) -> str | None:
    """Why ``policy`` cannot apply to ``table`` (unknown column, …), or None when it can."""
    try:
        tree = parse_expression(policy.expression)
        if tree is not None:
            resolve_columns(tree, table, schema)
    except RlsError as exc:
        return exc.message
    return None


def decide(policies: Sequence[Policy], table: Table, action: str, schema: Schema, dialect: Dialect) -> Decision:
    """The engine's decision for every class of user on (table, action)."""
    selected = select_policies(policies, table.name, action)
    problems = [(p, fit(p, table, schema)) for p in selected]
    fitting = tuple(p for p, problem in problems if problem is None)
    unfit = tuple((p, problem) for p, problem in problems if problem is not None)
    outcomes = {}
    for user_class in CLASSES:
        predicate = compile_policies(fitting, table, schema, user_class, dialect)
        outcomes[user_class.value] = DENIED if predicate.denied else ALLOWED if predicate.node is None else FILTERED
    return Decision(table.name, action, outcomes, fitting, unfit)


def policy_report(policies: Sequence[Policy], schema: Schema, dialect: Dialect) -> Report:
    """Every table of ``schema``, every request action, every class of user; and warnings."""
    report = Report()
    for name in sorted(schema.tables):
        table = schema.tables[name]
        decisions = [decide(policies, table, action, schema, dialect) for action in REQUEST_ACTIONS]
        report.decisions.extend(decisions)
        report.warnings.extend(_warnings(name, decisions))
    return report


def _warnings(table: str, decisions: Sequence[Decision]) -> list[str]:
    warnings = []
    unfitting = [d for d in decisions if d.unfit and not d.fitting]
    if unfitting:
        policy, reason = unfitting[0].unfit[0]
        actions = ", ".join(d.action for d in unfitting)
        warnings.append(
            f"{table}: no policy fits ({actions}): policy {policy.id} ({policy.table}/{policy.action}) "
            f"{policy.expression!r}: {reason}; every request is denied. "
            f"Add one: rest auth policy add {table} all '<condition>'"
        )
    unpoliced = [d.action for d in decisions if not d.unfit and not d.fitting]
    if unpoliced:
        warnings.append(f"{table}: no policy applies ({', '.join(unpoliced)}): every request is denied")
    for decision in decisions:
        if decision.unfit and decision.fitting:
            for policy, reason in decision.unfit:
                warnings.append(f"{table}/{decision.action}: policy {policy.id} is ignored here: {reason}")
    return warnings


_EFFECT = {
    "read": "returns only the rows where it holds; the others are invisible (not even counted)",
    "read_mine": "returns only the rows where it holds; the others are invisible (not even counted)",
    "create": "accepts a new row only if it holds for it (WITH CHECK); otherwise 403 and nothing is written",
    "update": "changes only rows where it holds, and each changed row must still satisfy it, or 403, nothing written",
    "delete": "deletes only the rows where it holds",
}


def meaning(decision: Decision, user_class: UserClass, user_id: object) -> str:
    """One paragraph: who, which policies, and what the request may do."""
    who = "anonymous" if user_class is UserClass.ANONYMOUS else f"user {user_id} ({user_class.value})"
    outcome = decision.outcomes[user_class.value]
    head = f"{decision.table}/{decision.action} for {who}: {outcome}"
    ids = ", ".join(str(p.id) for p in decision.fitting)
    if outcome == DENIED:
        reason = "no policy fits this table" if decision.unfit and not decision.fitting else "the policies never hold"
        return f"{head} ({reason}; 401 for anonymous, 403 otherwise)"
    if outcome == ALLOWED:
        return f"{head}: every row (policy {ids} holds for this class of user)"
    return f"{head} by policy {ids}: {decision.condition}\n  the request {_EFFECT[decision.action]}"
