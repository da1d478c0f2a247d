"""An independent evaluator of policy expressions over Python rows, with SQL's
three-valued logic and case-sensitive text — the conformance corpus's oracle."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp

UNKNOWN = None  # SQL NULL / UNKNOWN


def evaluate(expression: str, row: Mapping[str, Any], user: Mapping[str, Any]) -> bool:
    """Whether ``row`` passes ``expression`` for ``user`` (``{"id": …, "is_admin": …, claims…}``)."""
    if not expression.strip():
        return True
    return _eval(sqlglot.parse_one(expression), row, user) is True


def _like(value: Any, pattern: Any, *, ignore_case: bool) -> Any:
    if value is None or pattern is None:
        return UNKNOWN
    regex, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, str(value), flags) is not None


def _compare(op: type[exp.Expr], left: Any, right: Any) -> Any:
    if left is None or right is None:
        return UNKNOWN
    return {
        exp.EQ: left == right, exp.NEQ: left != right, exp.GT: left > right,
        exp.GTE: left >= right, exp.LT: left < right, exp.LTE: left <= right,
    }[op]  # fmt: skip


def _eval(node: exp.Expr, row: Mapping[str, Any], user: Mapping[str, Any]) -> Any:
    if isinstance(node, exp.Paren):
        return _eval(node.this, row, user)
    if isinstance(node, exp.Column):
        if node.table == "auth_user":
            if node.name == "is_authenticated":
                return user.get("id") is not None
            if node.name == "is_admin":
                return bool(user.get("is_admin"))
            return user.get(node.name)
        return row[node.name]
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else float(node.this) if "." in node.this else int(node.this)
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Not):
        value = _eval(node.this, row, user)
        return UNKNOWN if value is None else not value
    if isinstance(node, exp.And):
        a, b = _eval(node.this, row, user), _eval(node.expression, row, user)
        return False if a is False or b is False else UNKNOWN if a is None or b is None else True
    if isinstance(node, exp.Or):
        a, b = _eval(node.this, row, user), _eval(node.expression, row, user)
        return True if a is True or b is True else UNKNOWN if a is None or b is None else False
    if isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
        return _compare(type(node), _eval(node.this, row, user), _eval(node.expression, row, user))
    if isinstance(node, (exp.Like, exp.ILike)):
        return _like(
            _eval(node.this, row, user), _eval(node.expression, row, user), ignore_case=isinstance(node, exp.ILike)
        )
    if isinstance(node, exp.In):
        value = _eval(node.this, row, user)
        items = [_eval(i, row, user) for i in node.expressions]
        if value is None:
            return UNKNOWN
        if value in items:
            return True
        return UNKNOWN if None in items else False
    if isinstance(node, exp.Is):
        value = _eval(node.this, row, user)
        target = node.expression
        return value is None if isinstance(target, exp.Null) else value is target.this
    raise NotImplementedError(type(node).__name__)
