"""What kind of value each ``auth_user.<attribute>`` of a policy is bound as.

A principal attribute comes from a token: its JSON type is whatever the issuer wrote
(an identity provider may send ``"lvl": "1"`` where a policy expects a number). Bound
untyped, each database would convert it its own way — SQLite ranks any text above any
number, MariaDB reads ``'5abc'`` as 5 and ``0 = 'blue'`` as true, PostgreSQL reads
``'yes'`` as TRUE — and a claim of the wrong type would grant rows. So every attribute
gets a kind from where it stands in the expression, and a value of another type binds
NULL (:func:`rls.policy.compile.typed_value`): the user then owns nothing there.

Where it stands decides (structure, never names):

- compared (``= <> < <= > >=``, ``IN``) with a column: the column's kind;
- compared with a literal: a string is text, a number a number, TRUE/FALSE a boolean;
- compared with LOWER/UPPER/TRIM (text), LENGTH (integer), ABS/ROUND/CEIL/FLOOR of
  something typed (its kind);
- ``IN (SELECT c …)``: the kind of ``c``;
- a LIKE pattern or operand: text;
- a condition of its own (``auth_user.vip``, under AND/OR/NOT, ``IS TRUE``): boolean;
- ``IS NULL``: no value is compared, any type will do.

Anywhere else (an argument of a function, arithmetic, compared with another attribute)
the type cannot be known and the policy is refused: :class:`PolicyError`.
"""

from __future__ import annotations

from sqlglot import exp

from rls.policy.expression import AUTH_USER, FLAGS
from rls.policy.model import PolicyError
from rls.schema import Kind

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_CONDITIONS = (exp.And, exp.Or, exp.Not, exp.Where)


class _Untyped:
    """The attribute stands where no value is compared (``IS NULL``)."""


ANY = _Untyped()


def attributes(tree: exp.Expr) -> list[exp.Column]:
    """The bound ``auth_user.<attribute>`` references of ``tree`` (not the flags)."""
    return [c for c in tree.find_all(exp.Column) if c.table == AUTH_USER and c.name not in FLAGS]


def check_principals(tree: exp.Expr) -> None:
    """Refuse a policy in which some attribute's type cannot be known (see the module)."""
    for column in attributes(tree):
        principal_kind(column)


def principal_kind(node: exp.Column) -> Kind | _Untyped | None:
    """The kind ``node`` (an ``auth_user`` attribute) binds as; :data:`ANY` where no value
    is compared; None when compared with a column whose kind is not known yet (a policy
    on ``all`` validated before a table is chosen).

    Raises:
        PolicyError: the attribute stands where its type cannot be known.
    """
    child, parent = _unparen(node)
    if parent is None or isinstance(parent, _CONDITIONS):
        return Kind.BOOLEAN
    if isinstance(parent, _COMPARISONS):
        return _operand_kind(parent.expression if parent.this is child else parent.this, node)
    if isinstance(parent, exp.In):
        if parent.this is not child:
            return _operand_kind(parent.this, node)
        query = parent.args.get("query")
        if query is not None:
            return _operand_kind(_selected(query, node), node)
        kinds = {_operand_kind(v, node) for v in parent.expressions}
        if len(kinds) == 1:
            return kinds.pop()
        raise _untypeable(node, "the IN list mixes types")
    if isinstance(parent, (exp.Like, exp.ILike)):
        return Kind.TEXT
    if isinstance(parent, exp.Is):
        return ANY if isinstance(parent.expression, exp.Null) else Kind.BOOLEAN
    raise _untypeable(node, f"it stands inside {parent.key.upper()}")


def _unparen(node: exp.Expr) -> tuple[exp.Expr, exp.Expr | None]:
    child, parent = node, node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    return child, parent


def _operand_kind(other: exp.Expr, node: exp.Column) -> Kind | None:
    while isinstance(other, exp.Paren):
        other = other.this
    if isinstance(other, exp.Column):
        if other.table == AUTH_USER:
            raise _untypeable(node, "it is compared with another auth_user attribute")
        kind = other.meta.get("kind")
        return kind if isinstance(kind, Kind) else None
    if isinstance(other, exp.Boolean):
        return Kind.BOOLEAN
    if isinstance(other, exp.Literal):
        return Kind.TEXT if other.is_string else Kind.DECIMAL
    if isinstance(other, exp.Neg) and isinstance(other.this, exp.Literal) and not other.this.is_string:
        return Kind.DECIMAL
    if isinstance(other, _TEXT_FUNCTIONS):
        return Kind.TEXT
    if isinstance(other, exp.Length):
        return Kind.INTEGER
    if isinstance(other, _SAME_KIND_FUNCTIONS):  # ABS(user_id): the kind of its argument
        return _operand_kind(other.this, node)
    raise _untypeable(node, f"it is compared with {other.key.upper()}")


_TEXT_FUNCTIONS = (exp.Lower, exp.Upper, exp.Trim)
_SAME_KIND_FUNCTIONS = (exp.Abs, exp.Round, exp.Ceil, exp.Floor)


def _selected(query: exp.Expr, node: exp.Column) -> exp.Expr:
    select = query.this if isinstance(query, exp.Subquery) else query
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        raise _untypeable(node, "IN needs a sub-query selecting one column")
    selected: exp.Expr = select.expressions[0].unalias()
    return selected


def _untypeable(node: exp.Column, why: str) -> PolicyError:
    return PolicyError(
        f"auth_user.{node.name}: its type cannot be known ({why}); compare it with a column, "
        "a literal or a sub-query's column, or use it as a condition"
    )
