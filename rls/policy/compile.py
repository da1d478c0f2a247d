"""Compile the policies of a (table, action) into one predicate per class of user.

Classes, not users: ``auth_user.is_admin`` and ``auth_user.is_authenticated`` fold to
constants for the anonymous user, a user and an admin; ``auth_user.id`` and claims stay
parameters (the anonymous user's are NULL and fold too). A predicate that folds to
FALSE or NULL denies the request; one that folds to TRUE adds no filter.
"""

from __future__ import annotations

import datetime
import enum
import functools
import logging
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from dialects.base import Dialect
from rls.auth.principal import AuthUser
from rls.emit import placeholder, placeholder_name
from rls.policy.expression import AUTH_USER, TARGET, parse_expression, resolve_columns
from rls.policy.model import Policy, PolicyError
from rls.policy.principals import check_principals, principal_kind
from rls.schema import Kind, Schema, Table
from rls.values import ends_in_escape

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


def both(first: Predicate | None, second: Predicate | None) -> Predicate | None:
    """Rows that pass both predicates (None or a predicate without a node lets all through)."""
    if first is None or first.node is None:
        return second
    if second is None or second.node is None or second.node.sql() == first.node.sql():
        return first
    return Predicate(exp.and_(first.node.copy(), second.node.copy(), copy=False))


ALLOW = Predicate(None)
DENY = Predicate(None, denied=True)


def claim_value(user: AuthUser, claim: str) -> Any:
    """The value ``auth_user.<claim>`` binds: only scalars compare, anything else (and a
    missing claim) is NULL."""
    value = user.claims.get(claim)
    return value if isinstance(value, (str, int, float, bool)) else None


KIND_SEPARATOR = "__"


class Pattern(enum.Enum):
    """A principal bound where its text is read as a pattern (``title LIKE auth_user.p``):
    typed text, and only text the operation can read — a pattern that would make the
    database raise (PostgreSQL: a trailing escape character) binds NULL, so a policy never
    raises, on any row, for any claim (the raise would tell which hidden rows match)."""

    LIKE = "like_pattern"


def parameter_kind(suffix: str) -> Kind | Pattern | None:
    """The kind a principal parameter's name ends with (``__integer``, ``__like_pattern``)."""
    if not suffix:
        return None
    return Pattern.LIKE if suffix == Pattern.LIKE.value else Kind(suffix)


"""``rls_user_id__integer``: a principal parameter compared with a column of that kind."""


def typed_value(value: Any, kind: Kind | Pattern | None) -> Any:
    """A principal attribute as compared with a column of ``kind``: exactly, never by the
    database's own conversions. A value of another type binds NULL (the user owns
    nothing there): a string id never equals an integer column ('2abc' is not user 2),
    an integer id never equals a text column. A number is a finite int within signed 64
    bits or a finite float (NaN, ±Infinity and 2**64 bind NULL: each database would
    answer them its own way); a date, time, datetime or UUID is parsed here, strictly
    (ISO 8601, :class:`uuid.UUID`), and binds its canonical text.

    >>> typed_value("2abc", Kind.INTEGER), typed_value(2, Kind.INTEGER), typed_value(2, Kind.TEXT)
    (None, 2, None)
    >>> typed_value(float("nan"), Kind.DECIMAL), typed_value(2**64, Kind.INTEGER), typed_value("a", Kind.DATE)
    (None, None, None)
    """
    if kind is Kind.INTEGER:  # the common case first: this runs once per request
        return value if type(value) is int and _INT64_MIN <= value <= _INT64_MAX else None
    if kind is Pattern.LIKE:
        return value if isinstance(value, str) and not ends_in_escape(value) else None
    if value is None or kind is None:
        return None if value is None else _scalar(value)
    if kind is Kind.TEXT:
        return value if isinstance(value, str) else None
    if kind is Kind.OTHER:  # compared only where the column's value has the same type
        # (Dialect.build_exact_comparison). Only an integer or a string is a value there: a
        # bool binds as the integer 1 (SQLite, MariaDB), and a float 1.0 meets the integer 1
        # on PostgreSQL and MariaDB but not on SQLite.
        return _scalar(value) if type(value) in (int, str) else None
    if kind in (Kind.FLOAT, Kind.DECIMAL):
        return value if type(value) in (int, float) and _scalar(value) is not None else None
    if kind is Kind.BOOLEAN:
        return value if type(value) is bool else None
    if not isinstance(value, str):
        return None
    parse = _PARSERS.get(kind)
    if parse is None:  # JSON, BYTES: compared as the text the claim is
        return value
    try:
        return parse(value)
    except ValueError:
        return None


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _scalar(value: Any) -> Any:
    """``value`` if every database binds it alike: a string, a boolean, a signed 64-bit
    integer, a finite float; else None."""
    if type(value) is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    if type(value) is float:
        return value if math.isfinite(value) else None
    return value if isinstance(value, (str, bool)) else None


def _parse_uuid(text: str) -> str:
    if len(text) != 36:  # the canonical form only: uuid.UUID reads braces, 'urn:uuid:', no dashes
        raise ValueError(text)
    return str(uuid.UUID(text))


def _parse_datetime(text: str) -> str:
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is not None:  # MariaDB drops an offset, PostgreSQL applies it: no value
        raise ValueError(text)
    return parsed.isoformat(" ")


_PARSERS: Mapping[Kind, Callable[[str], str]] = {
    Kind.DATE: lambda text: datetime.date.fromisoformat(text).isoformat(),
    Kind.DATETIME: _parse_datetime,
    Kind.TIME: lambda text: datetime.time.fromisoformat(text).isoformat(),
    Kind.UUID: _parse_uuid,
}
"""Kinds whose text the database would convert its own way ('a' is MariaDB's zero date):
parsed here, strictly; what does not parse binds NULL."""


@functools.lru_cache(maxsize=1024)
def _parameter(name: str) -> tuple[str, Kind | Pattern | None]:
    """``rls_user_id__integer`` → (``rls_user_id``, Kind.INTEGER): parsed once per name, as
    every request binds the same few names."""
    base, _, kind_name = name.partition(KIND_SEPARATOR)
    return base, parameter_kind(kind_name)


def principal_value(user: AuthUser, name: str) -> Any:
    """The value of the principal parameter ``name`` (see :func:`bind_user_class`)."""
    base, kind = _parameter(name)
    if base == USER_ID_PARAM:
        return typed_value(user.id, kind)
    if base.startswith(CLAIM_PARAM_PREFIX):
        return typed_value(claim_value(user, base[len(CLAIM_PARAM_PREFIX) :]), kind)
    raise KeyError(name)


def principal_params(user: AuthUser) -> Mapping[str, Any]:
    """The values of the parameters a predicate binds for ``user``."""
    return _PrincipalParams(user)


class _PrincipalParams(Mapping[str, Any]):
    """Looked up lazily: only the attributes a statement uses are read."""

    __slots__ = ("_user",)

    def __init__(self, user: AuthUser):
        self._user = user

    def __getitem__(self, name: str) -> Any:
        return principal_value(self._user, name)

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
            resolved = strip_operand_parens(resolve_columns(tree, table, schema))
            check_principals(resolved)
            trees.append(resolved)
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
        param = USER_ID_PARAM if name == "id" else f"{CLAIM_PARAM_PREFIX}{name}"
        kind: object = principal_kind(node)  # where it stands: a value of another type binds NULL
        if kind is None:  # a column whose type is not known: compared only with its own type
            kind = Kind.OTHER
        if kind is Kind.TEXT and _is_like_pattern(node):
            kind = Pattern.LIKE
        return placeholder(f"{param}{KIND_SEPARATOR}{kind.value}" if isinstance(kind, (Kind, Pattern)) else param)

    return tree.transform(replace, copy=False)


def _is_like_pattern(node: exp.Expr) -> bool:
    """Whether ``node`` is the pattern of a LIKE / ILIKE (through parentheses)."""
    child, parent = node, node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    return isinstance(parent, (exp.Like, exp.ILike)) and parent.expression is child


def _principal_param_kind(node: exp.Expr) -> Kind | None:
    """The kind a principal parameter placeholder was typed with, if it is one."""
    if not isinstance(node, exp.Placeholder):
        return None
    name = placeholder_name(node)
    if name is None or not name.startswith((USER_ID_PARAM, CLAIM_PARAM_PREFIX)):
        return None
    kind = _parameter(name)[1]
    return Kind.TEXT if kind is Pattern.LIKE else kind


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


def strip_operand_parens(tree: exp.Expr) -> exp.Expr:
    """``(team) = (auth_user.team)`` as ``team = auth_user.team``: parentheses around a
    column, a placeholder or a literal removed, once, before typing and dialect rules, so
    that every rule sees an operand as what it is, never as its syntax."""

    def strip(node: exp.Expr) -> exp.Expr:
        while isinstance(node, exp.Paren) and isinstance(node.this, _ATOMS):
            node = node.this
        return node

    return tree.transform(strip, copy=False)


_ATOMS = (exp.Column, exp.Placeholder, exp.Literal, exp.Boolean, exp.Null, exp.Paren)
_ORDERED = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def apply_dialect(tree: exp.Expr, dialect: Dialect) -> exp.Expr:
    """Comparisons and LIKE as the dialect builds them, so a policy means the same on
    every database (case-sensitive text, ``\\`` as LIKE escape). A comparison with a
    principal — any of the six operators — is exact for its kind
    (:meth:`Dialect.build_exact_comparison`): bytes for text on MariaDB, no conversion
    across types for a column of unknown type."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        kind = node.this.meta.get("kind") if isinstance(node.this, exp.Column) else None
        if isinstance(node, (exp.Like, exp.ILike)) and not isinstance(node.parent, exp.Escape):
            return dialect.build_like(node.this, node.expression, ignore_case=isinstance(node, exp.ILike))
        if isinstance(node, _ORDERED):
            return _comparison(node, dialect)
        if isinstance(node, exp.Between):
            # Two comparisons, each built exactly as one written alone (MariaDB's collation
            # would take 'SALES' and 'sales ' between 'sales' and 'sales').
            low = exp.GTE(this=node.this.copy(), expression=node.args["low"])
            high = exp.LTE(this=node.this, expression=node.args["high"])
            return exp.paren(exp.and_(_comparison(low, dialect), _comparison(high, dialect), copy=False), copy=False)
        if isinstance(node, exp.In):
            kind = kind or _principal_param_kind(node.this)
            if kind is None:
                return node
            if kind is Kind.OTHER and _has_principal(node):
                return _in_of_unknown_type(node, dialect)
            if node.args.get("query") is not None:
                return dialect.build_in_query(node, kind)
            if node.expressions:
                name = node.this.name if isinstance(node.this, exp.Column) else ""
                values = [_stored_literal(v, kind, name, dialect) for v in node.expressions]
                return dialect.build_in(node.this, values, kind)
        return node

    return tree.transform(rewrite, copy=False)


def _has_principal(node: exp.In) -> bool:
    return any(_principal_param_kind(o) is not None for o in (node.this, *node.expressions))


def _in_of_unknown_type(node: exp.In, dialect: Dialect) -> exp.Expr:
    """``IN`` with a principal and a column of unknown type: each element an exact
    comparison (no conversion across types); ``p IN (SELECT c …)`` only over the rows
    whose ``c`` has the type of ``p``."""
    query = node.args.get("query")
    if query is None:
        equalities = [_comparison(exp.EQ(this=node.this.copy(), expression=v), dialect) for v in node.expressions]
        return exp.paren(exp.or_(*equalities, copy=False), copy=False)
    select = query.this if isinstance(query, exp.Subquery) else query
    selected = select.expressions[0].unalias()  # one column: principals.py checked it
    select.where(dialect.build_same_type(selected, node.this), copy=False)
    return dialect.build_in_query(node, Kind.OTHER)


def _stored_literal(value: exp.Expr, kind: Kind, column: str, dialect: Dialect) -> exp.Expr:
    """A string literal compared with a column, in the spelling the database stores (SQLite's
    canonical dates: ``'2024-06-01T00:00:00'`` would compare as text, 'T' after ' '); a
    literal that is no value of the column's kind makes the policy invalid."""
    if not (isinstance(value, exp.Literal) and value.is_string):
        return value
    stored = dialect.stored_literal(kind, value.this)
    if stored is None:
        raise PolicyError(f"{value.this!r} is no value of column {column}'s type")
    return value if stored == value.this else exp.Literal.string(stored)


def _comparison(node: exp.Expr, dialect: Dialect) -> exp.Expr:
    """One comparison, exact in both operand orders: ``auth_user.org = org`` as
    ``org = auth_user.org``; a principal compared with a literal or an expression as a
    column of its kind would be."""
    op = type(node)
    swapped = _SWAPPED[op]
    principal = any(_principal_param_kind(o) is not None for o in (node.this, node.expression))
    for column, other, built in ((node.this, node.expression, op), (node.expression, node.this, swapped)):
        if isinstance(column, exp.Column) and column.meta.get("kind") is not None:
            kind = column.meta["kind"]
            other = _stored_literal(other, kind, column.name, dialect)
            if principal:
                return dialect.build_exact_comparison(built, column, other, kind)
            return dialect.build_comparison(built, column, other, kind)
    for param, other, built in ((node.this, node.expression, op), (node.expression, node.this, swapped)):
        param_kind = _principal_param_kind(param)
        if param_kind is not None:
            return dialect.build_exact_comparison(built, param, other, param_kind)
    return node


_SWAPPED: Mapping[type[exp.Expr], type[exp.Expr]] = {
    exp.EQ: exp.EQ, exp.NEQ: exp.NEQ, exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE,
}  # fmt: skip


def _owner_columns(tree: exp.Expr) -> dict[str, str]:
    owners: dict[str, str] = {}
    for conjunct in _conjuncts(tree):
        ifs = conjunct.args.get("ifs") if isinstance(conjunct, exp.Case) else None
        if ifs and len(ifs) == 1 and conjunct.args.get("default") is None:
            # CASE WHEN <same type> THEN col = p END (a column of unknown type): filling
            # col with p makes both the same type, so the equality decides.
            conjunct = ifs[0].args["true"]
        if not isinstance(conjunct, exp.EQ):
            continue
        for column, value in ((conjunct.this, conjunct.expression), (conjunct.expression, conjunct.this)):
            column, value = _uncast(column), _uncast(value)  # an untyped column compares as text
            if isinstance(column, exp.Column) and column.table == TARGET and isinstance(value, exp.Placeholder):
                name = placeholder_name(value)
                if name is not None:
                    owners[column.name] = name
    return owners


def _uncast(node: exp.Expr) -> exp.Expr:
    return node.this if isinstance(node, exp.Cast) else node


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return [*_conjuncts(node.this), *_conjuncts(node.expression)]
    return [node]


__all__ = ["ALLOW", "DENY", "Kind", "Predicate", "UserClass", "compile_policies", "principal_params"]
