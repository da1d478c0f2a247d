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
    if _canonical(tree, names, built=True) != _canonical(parsed[0], names, built=False):
        if DEBUG:
            _explain(_canonical(tree, names, built=True), _canonical(parsed[0], names, built=False))
        raise Refused(_MISMATCH)


def _canonical(node: Any, names: tuple[str, ...], *, built: bool) -> Any:
    """A comparable form of a tree: (type, ((arg, value), …)) with parentheses and empty
    arguments removed and placeholders replaced by their position in the text."""
    if isinstance(node, list):
        return tuple(_canonical(n, names, built=built) for n in node)
    if not isinstance(node, exp.Expr):
        return node
    while isinstance(node, (exp.Paren, *_CONVERSIONS)) or (isinstance(node, exp.Subquery) and _bare(node)):
        if isinstance(node, _CONVERSIONS) and not _bare(node):
            break
        node = node.this
    if isinstance(node, exp.Placeholder):
        if built:
            return ("?", placeholder_name(node))
        position = _parsed_position(node)
        return ("?", names[position] if position is not None and position < len(names) else None)
    if isinstance(node, exp.Identifier):
        return ("id", node.this, bool(node.args.get("quoted")))
    if isinstance(node, exp.Anonymous):
        # Printed upper-case: the name's case means nothing to any of the databases.
        return ("fn", str(node.this).upper(), _canonical(node.expressions, names, built=built))
    items = []
    for key, value in node.args.items():
        if value is None or value is False or value == [] or value == "":
            continue
        items.append((key, _canonical(value, names, built=built)))
    return (type(node).__name__, tuple(sorted(items, key=lambda kv: kv[0])))


_CONVERSIONS = (exp.TsOrDsToTimestamp, exp.TsOrDsToDate)
"""Wrappers sqlglot's MySQL reader adds around a date function's argument each time it reads
one (``DATE_FORMAT(NOW(), …)``): printing drops them, so they are not compared."""


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
