"""The second line of defence: what will be sent is parsed back and must be, node for
node, the tree the guard built. A generator that emitted raw text, dropped a parenthesis
or a clause, or wrote something the parser reads differently is caught here.

The comparison is exact — node types, identifiers with their quoting, literals with their
kind, every argument, parameters in order — after removing only the differences sqlglot's
own printing makes on purpose (listed in :func:`_same`).
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from dialects.base import Dialect
from rls.emit import Emitted, placeholder_name
from rls.errors import Refused

_TYPE_SPELLINGS = {"SIGNED": exp.DataType.Type.BIGINT, "UNSIGNED": exp.DataType.Type.UBIGINT}

_CONVERSIONS = (exp.TsOrDsToTimestamp, exp.TsOrDsToDate)
"""Wrappers sqlglot's MySQL reader adds around a date function's argument each time it reads
one (``DATE_FORMAT(NOW(), …)``): printing drops them, so they are not compared."""

_MISMATCH = "the guarded statement does not read back as it was built (internal error)"


def verify_emitted(tree: exp.Expr, emitted: Emitted, dialect: Dialect) -> None:
    """Refuse unless ``emitted`` parses back to exactly ``tree``."""
    try:
        parsed = [t for t in sqlglot.parse(emitted.parsable, read=dialect.SQLGLOT) if t is not None]
    except (ParseError, TokenError):
        raise Refused("the guarded statement does not parse back (internal error)") from None
    if len(parsed) != 1:
        raise Refused(_MISMATCH)
    names = emitted.names
    if not _same(tree, parsed[0], names):
        raise Refused(_MISMATCH)


def _unwrap(node: exp.Expr) -> exp.Expr:
    while isinstance(node, (exp.Paren, *_CONVERSIONS)) or (isinstance(node, exp.Subquery) and _bare(node)):
        if isinstance(node, _CONVERSIONS) and not _bare(node):
            break
        node = node.this
    return node


def _same(built: Any, parsed: Any, names: tuple[str, ...]) -> bool:
    """Whether a built tree and the parsed one are the same, node for node (see the module
    docstring for the differences that do not count). Iterative: trees can be deep."""
    stack: list[tuple[Any, Any]] = [(built, parsed)]
    push = stack.append
    while stack:
        b, p = stack.pop()
        if isinstance(b, list):
            if not isinstance(p, list) or len(b) != len(p):
                return False
            stack.extend(zip(b, p, strict=True))
            continue
        if not isinstance(b, exp.Expr):
            if b != p or type(b) is not type(p):
                return False
            continue
        if not isinstance(p, exp.Expr):
            return False
        b, p = _unwrap(b), _unwrap(p)
        if type(b) is not type(p):
            return False
        if isinstance(b, exp.Placeholder):
            position = _parsed_position(p)
            if position is None or position >= len(names) or names[position] != placeholder_name(b):
                return False
            continue
        if isinstance(b, exp.Anonymous):
            if str(b.this).upper() != str(p.this).upper():
                return False
            push((b.expressions, p.expressions))
            continue
        if isinstance(b, exp.DataType) and b.this != p.this:
            # MySQL's generator rewrites CAST(x AS BIGINT) as SIGNED in the tree it prints
            # (printing does not copy): the same type either way.
            if _TYPE_SPELLINGS.get(str(b.this), b.this) != p.this:
                return False
            push((b.expressions, p.expressions))
            continue
        if isinstance(b, exp.Identifier):
            if b.this != p.this or bool(b.args.get("quoted")) != bool(p.args.get("quoted")):
                return False
            continue
        p_args = p.args
        seen = 0
        for key, value in b.args.items():
            if _empty(value):
                continue
            other = p_args.get(key)
            if other is None or _empty(other):
                return False
            seen += 1
            push((value, other))
        if seen != sum(1 for v in p_args.values() if not _empty(v)):
            return False
    return True


def _empty(value: Any) -> bool:
    return value is None or value is False or value == [] or value == ""


def _bare(node: exp.Expr) -> bool:
    """A parenthesised query with nothing of its own (no alias, no clause)."""
    return all(not v for k, v in node.args.items() if k != "this")


def _parsed_position(node: exp.Expr) -> int | None:
    name = str(node.name)
    return int(name[len("rls_p") :]) if name.startswith("rls_p") and name[len("rls_p") :].isdigit() else None
