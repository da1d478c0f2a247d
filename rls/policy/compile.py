"""Compile the policies of a (table, action) into one predicate per class of user.

Classes, not users: ``auth_user.is_admin`` and ``auth_user.is_authenticated`` fold to
constants for the anonymous user, a user and an admin; ``auth_user.id`` and claims stay
parameters (the anonymous user's are NULL and fold too). A predicate that folds to
FALSE or NULL denies the request; one that folds to TRUE adds no filter.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from dialects.base import Dialect
from rls.auth.principal import AuthUser
from rls.emit import placeholder, placeholder_name
from rls.policy.expression import AUTH_USER, TARGET, parse_expression, resolve_columns
from rls.policy.model import Policy, PolicyError
from rls.schema import Kind, Schema, Table

log = logging.getLogger("rls.policy")

USER_ID_PARAM = "rls_user_id"
CLAIM_PARAM_PREFIX = "rls_claim_"
RESERVED_PREFIX = "rls_"
"""Parameter names rls binds from the principal; user SQL may not use them."""


class UserClass(enum.Enum):
    """What a predicate may depend on besides parameters."""

    ANONYMOUS = "anonymous"
    USER = "user"
    ADMIN = "admin"

    @classmethod
    def of(cls, user: AuthUser) -> UserClass:
        if user.id is None:  # not authenticated
            return _ANONYMOUS
        return _ADMIN if user.is_admin else _USER


_ANONYMOUS, _USER, _ADMIN = UserClass.ANONYMOUS, UserClass.USER, UserClass.ADMIN


@dataclass(frozen=True)
class Predicate:
    """A compiled policy: ``node`` None lets every row through; ``denied`` refuses all."""

    node: exp.Expr | None
    denied: bool = False
    owner_columns: Mapping[str, str] = field(default_factory=dict)
    """Columns the create policy pins to a principal attribute (``user_id = auth_user.id``):
    a POST that omits one gets the principal's value."""

    def condition(self, qualifier: str) -> exp.Expr:
        """A fresh copy of the predicate with the table's columns qualified by ``qualifier``."""
        if self.node is None:
            return exp.true()
        node = self.node.copy()
        for column in node.find_all(exp.Column):
            if column.table == TARGET:
                column.set("table", exp.to_identifier(qualifier, quoted=True))
        return node


ALLOW = Predicate(None)
DENY = Predicate(None, denied=True)


def claim_value(user: AuthUser, claim: str) -> Any:
    """The value ``auth_user.<claim>`` binds: only scalars compare, anything else (and a
    missing claim) is NULL."""
    value = user.claims.get(claim)
    return value if isinstance(value, (str, int, float, bool)) else None


def principal_params(user: AuthUser) -> Mapping[str, Any]:
    """The values of the parameters a predicate binds for ``user``."""
    return _PrincipalParams(user)


class _PrincipalParams(Mapping[str, Any]):
    """Looked up lazily: only the attributes a statement uses are read."""

    __slots__ = ("_user",)

    def __init__(self, user: AuthUser):
        self._user = user

    def __getitem__(self, name: str) -> Any:
        if name == USER_ID_PARAM:
            return self._user.id
        if name.startswith(CLAIM_PARAM_PREFIX):
            return claim_value(self._user, name[len(CLAIM_PARAM_PREFIX) :])
        raise KeyError(name)

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


def compile_policies(
    policies: Sequence[Policy], table: Table, schema: Schema, user_class: UserClass, dialect: Dialect
) -> Predicate:
    """One predicate for ``policies`` (already selected for a table and action), ORed."""
    if not policies:
        return DENY
    trees: list[exp.Expr] = []
    for policy in policies:
        try:
            tree = parse_expression(policy.expression)
            if tree is None:
                return ALLOW  # an empty expression on the winning level makes the table public
            trees.append(resolve_columns(tree, table, schema))
        except PolicyError as exc:
            # A policy that no longer fits the schema grants nothing (fail closed).
            log.error("policy %s on %s/%s ignored: %s", policy.id, policy.table, policy.action, exc.message)
    if not trees:
        return DENY
    tree = exp.or_(*trees, copy=False) if len(trees) > 1 else trees[0]
    tree = fold(bind_user_class(tree, user_class))
    if constant(tree) is True:
        return ALLOW
    if never_true(tree):
        return DENY
    tree = apply_dialect(tree, dialect)
    return Predicate(tree, owner_columns=_owner_columns(tree))


def bind_user_class(tree: exp.Expr, user_class: UserClass) -> exp.Expr:
    """Replace auth_user attributes: flags by constants, the rest by parameters
    (NULL for the anonymous user, who has neither an id nor claims)."""
    anonymous = user_class is UserClass.ANONYMOUS
    flags = {"is_authenticated": not anonymous, "is_admin": user_class is UserClass.ADMIN}

    def replace(node: exp.Expr) -> exp.Expr:
        if not (isinstance(node, exp.Column) and node.table == AUTH_USER):
            return node
        name = node.name
        if name in flags:
            return exp.Boolean(this=flags[name])
        if anonymous:
            return exp.Null()
        return placeholder(USER_ID_PARAM if name == "id" else f"{CLAIM_PARAM_PREFIX}{name}")

    return tree.transform(replace, copy=False)


# -- constant folding (three-valued: TRUE, FALSE, NULL) -----------------------------------

_NOT_CONSTANT = object()
_NULL_PROPAGATING = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Lower, exp.Upper, exp.Length, exp.Trim, exp.Abs,
)  # fmt: skip


def constant(node: exp.Expr) -> Any:
    """True, False, None (NULL) for a constant condition, else a sentinel."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    return _NOT_CONSTANT


def never_true(node: exp.Expr) -> bool:
    """Whether a top-level condition can never be TRUE (so the request is denied, not
    filtered): FALSE, NULL, an AND with such a conjunct, an OR of such disjuncts.

    Only valid where the condition decides on its own, never under NOT.
    """
    while isinstance(node, exp.Paren):
        node = node.this
    value = constant(node)
    if value is not _NOT_CONSTANT:
        return value is not True
    if isinstance(node, exp.And):
        return never_true(node.this) or never_true(node.expression)
    if isinstance(node, exp.Or):
        return never_true(node.this) and never_true(node.expression)
    return False


def _const_node(value: bool | None) -> exp.Expr:
    return exp.Null() if value is None else exp.Boolean(this=value)


def fold(node: exp.Expr) -> exp.Expr:
    """Fold constants bottom-up with SQL's three-valued logic.

    >>> import sqlglot
    >>> fold(sqlglot.parse_one("(FALSE AND x = 1) OR (TRUE AND y = NULL)")).sql()
    'NULL'
    """
    for key, child in list(node.args.items()):
        if isinstance(child, exp.Expr):
            node.set(key, fold(child))
        elif isinstance(child, list):
            node.set(key, [fold(c) if isinstance(c, exp.Expr) else c for c in child])
    if isinstance(node, exp.Paren):
        return node.this if constant(node.this) is not _NOT_CONSTANT else node
    if isinstance(node, exp.Not):
        value = constant(node.this)
        return node if value is _NOT_CONSTANT else _const_node(None if value is None else not value)
    if isinstance(node, (exp.And, exp.Or)):
        return _fold_connective(node)
    if isinstance(node, (*_NULL_PROPAGATING, exp.In, exp.Between)):
        operands = [node.this] if isinstance(node, (exp.In, exp.Between)) else list(node.iter_expressions())
        if any(constant(o) is None for o in operands):
            return exp.Null()
        if isinstance(node, (exp.EQ, exp.NEQ)):
            left, right = constant(node.this), constant(node.expression)
            if left is not _NOT_CONSTANT and right is not _NOT_CONSTANT:
                return _const_node((left == right) if isinstance(node, exp.EQ) else (left != right))
    if isinstance(node, exp.Is):
        left, right = constant(node.this), constant(node.expression)
        if left is not _NOT_CONSTANT and right is not _NOT_CONSTANT:
            return _const_node(left is right)
    return node


def _fold_connective(node: exp.Expr) -> exp.Expr:
    is_and = isinstance(node, exp.And)
    absorbing = not is_and  # FALSE absorbs AND, TRUE absorbs OR
    left: exp.Expr = node.this
    right: exp.Expr = node.expression
    lv, rv = constant(left), constant(right)
    if lv is absorbing or rv is absorbing:
        return _const_node(absorbing)
    if lv is (not absorbing):
        return right
    if rv is (not absorbing):
        return left
    if lv is None and rv is None:
        return exp.Null()
    return node


# -- dialect rules and analysis -------------------------------------------------------------


def apply_dialect(tree: exp.Expr, dialect: Dialect) -> exp.Expr:
    """Comparisons and LIKE as the dialect builds them for REST filters, so a policy
    means the same on every database (case-sensitive text, ``\\`` as LIKE escape)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        kind = node.this.meta.get("kind") if isinstance(node.this, exp.Column) else None
        if isinstance(node, (exp.Like, exp.ILike)) and not isinstance(node.parent, exp.Escape):
            return dialect.build_like(node.this, node.expression, ignore_case=isinstance(node, exp.ILike))
        if kind is None:
            return node
        if isinstance(node, (exp.EQ, exp.NEQ)):
            return dialect.build_comparison(type(node), node.this, node.expression, kind)
        if isinstance(node, exp.In) and node.expressions and not node.args.get("query"):
            return dialect.build_in(node.this, list(node.expressions), kind)
        return node

    return tree.transform(rewrite, copy=False)


def _owner_columns(tree: exp.Expr) -> dict[str, str]:
    owners: dict[str, str] = {}
    for conjunct in _conjuncts(tree):
        if not isinstance(conjunct, exp.EQ):
            continue
        for column, value in ((conjunct.this, conjunct.expression), (conjunct.expression, conjunct.this)):
            if isinstance(column, exp.Column) and column.table == TARGET and isinstance(value, exp.Placeholder):
                name = placeholder_name(value)
                if name is not None:
                    owners[column.name] = name
    return owners


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return [*_conjuncts(node.this), *_conjuncts(node.expression)]
    return [node]


__all__ = ["ALLOW", "DENY", "Kind", "Predicate", "UserClass", "compile_policies", "principal_params"]
