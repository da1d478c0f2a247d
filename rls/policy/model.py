"""Policies as data: one row of auth_policies, and which rows apply to a (table, action)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rls.errors import BadRequest

ACTIONS = ("create", "read", "update", "delete", "read_mine", "all")
"""What a policy row may name; ``all`` matches every action."""

ALL = "all"


class PolicyError(BadRequest):
    """A policy that cannot be stored or compiled; the message says what is wrong."""

    code = "invalid_policy"


@dataclass(frozen=True, slots=True)
class Policy:
    """One row of ``auth_policies``.

    >>> Policy("todos", "all", "user_id = auth_user.id").applies_to("todos", "read")
    True
    """

    table: str
    action: str
    expression: str = ""
    description: str = ""
    id: int | None = None

    def applies_to(self, table: str, action: str) -> bool:
        return self.table in (table, ALL) and self.action in (action, ALL)


def check_action(action: str) -> str:
    if action not in ACTIONS:
        raise PolicyError(f"unknown policy action {action!r}: use one of {', '.join(ACTIONS)}")
    return action


def select_policies(policies: Iterable[Policy], table: str, action: str) -> Sequence[Policy]:
    """The policies that decide (table, action): the first non-empty level of
    (table, action) → (table, all) → (all, action) → (all, all). Several rows on that
    level combine with OR; an empty result means deny.

    >>> rows = [Policy("all", "all", "user_id = auth_user.id"), Policy("posts", "read", "")]
    >>> [p.expression for p in select_policies(rows, "posts", "read")]
    ['']
    >>> [p.expression for p in select_policies(rows, "posts", "delete")]
    ['user_id = auth_user.id']
    """
    rows = list(policies)
    for level_table, level_action in ((table, action), (table, ALL), (ALL, action), (ALL, ALL)):
        level = [p for p in rows if p.table == level_table and p.action == level_action]
        if level:
            return level
    return []
