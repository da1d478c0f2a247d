"""The second line of defence: what will be sent is parsed back and must be, node for
node, the tree the guard built. A generator that emitted raw text, dropped a parenthesis
or a clause, or wrote something the parser reads differently is caught here.

The comparison is exact — node types, identifiers with their quoting, literals with their
kind, every argument, parameters in order — after removing only the differences sqlglot's
own printing makes on purpose (listed in :func:`_canonical`).
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from dialects.base import Dialect
from rls.emit import Emitted, placeholder_name
from rls.errors import Refused

DEBUG = False

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
        if DEBUG:
            _explain(_canonical(tree, names, built=True), _canonical(parsed[0], names, built=False))
        raise Refused(_MISMATCH)


def _unwrap(node: exp.Expr) -> exp.Expr:
    while isinstance(node, (exp.Paren, *_CONVERSIONS)) or (isinstance(node, exp.Subquery) and _bare(node)):
        if isinstance(node, _CONVERSIONS) and not _bare(node):
            break
        node = node.this
    return node


def _same(built: Any, parsed: Any, names: tuple[str, ...]) -> bool:
    """Whether a built tree and the parsed one are the same, node for node (see the module
    docstring for the differences that do not count)."""
    if isinstance(built, list):
        return (
            isinstance(parsed, list)
            and len(built) == len(parsed)
            and all(_same(b, p, names) for b, p in zip(built, parsed, strict=True))
        )
    if not isinstance(built, exp.Expr):
        return built == parsed and type(built) is type(parsed)
    if not isinstance(parsed, exp.Expr):
        return False
    built, parsed = _unwrap(built), _unwrap(parsed)
    if type(built) is not type(parsed):
        return False
    if isinstance(built, exp.Placeholder):
        position = _parsed_position(parsed)
        return position is not None and position < len(names) and names[position] == placeholder_name(built)
    if isinstance(built, exp.Anonymous):
        return str(built.this).upper() == str(parsed.this).upper() and _same(
            built.expressions, parsed.expressions, names
        )
    b_args = {k: v for k, v in built.args.items() if not _empty(v)}
    p_args = {k: v for k, v in parsed.args.items() if not _empty(v)}
    if b_args.keys() != p_args.keys():
        return False
    if isinstance(built, exp.Identifier):
        return built.this == parsed.this and bool(built.args.get("quoted")) == bool(parsed.args.get("quoted"))
    return all(_same(v, p_args[k], names) for k, v in b_args.items())


def _empty(value: Any) -> bool:
    return value is None or value is False or value == [] or value == ""


def _canonical(node: Any, names: tuple[str, ...], *, built: bool) -> Any:  # pragma: no cover - debugging
    """A printable form of what :func:`_same` compares."""
    if isinstance(node, list):
        return tuple(_canonical(n, names, built=built) for n in node)
    if not isinstance(node, exp.Expr):
        return node
    node = _unwrap(node)
    if isinstance(node, exp.Placeholder):
        position = None if built else _parsed_position(node)
        return ("?", placeholder_name(node) if built else (names[position] if position is not None else None))
    items = tuple(sorted((k, _canonical(v, names, built=built)) for k, v in node.args.items() if not _empty(v)))
    return (type(node).__name__, items)


def _bare(node: exp.Expr) -> bool:
    """A parenthesised query with nothing of its own (no alias, no clause)."""
    return all(not v for k, v in node.args.items() if k != "this")


def _parsed_position(node: exp.Placeholder) -> int | None:
    name = str(node.name)
    return int(name[len("rls_p") :]) if name.startswith("rls_p") and name[len("rls_p") :].isdigit() else None


def _explain(a: Any, b: Any, path: str = "") -> None:  # pragma: no cover - a debugging aid
    if a == b:
        return
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                _explain(x, y, f"{path}/{i}")
                return
    print("MISMATCH at", path, "\n  built: ", str(a)[:300], "\n  parsed:", str(b)[:300])
