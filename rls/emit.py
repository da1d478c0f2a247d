"""Emit a statement AST as SQL text for one driver, with positional parameters in order.

Every value travels as a named ``exp.Placeholder``; the generator writes each one
as a marker that cannot occur elsewhere in the text (a NUL byte is refused in every
literal), so the order of names can be read back and the markers replaced by the
driver's own positional marker. sqlglot's placeholder output differs per dialect
and cannot be overridden when it is compiled (``sqlglotc``), hence the markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect

from dialects.base import Dialect
from rls.errors import Refused

_NUL = "\x00"


@dataclass(frozen=True, slots=True)
class Emitted:
    """SQL for the driver and the names of its positional parameters, in order."""

    sql: str
    names: tuple[str, ...]
    parsable: str = ""
    """The same text with ``:rls_p<i>`` for the i-th parameter, as sqlglot reads it back
    (what the guard's structural verification parses)."""


def placeholder(name: str) -> exp.Placeholder:
    """A named parameter in a statement AST.

    >>> placeholder_name(placeholder("v0"))
    'v0'
    """
    return exp.Placeholder(this=f"{_NUL}{name}{_NUL}")


def placeholder_name(node: exp.Placeholder) -> str | None:
    """The name given by :func:`placeholder`, or None for a placeholder rls did not make."""
    text = node.name
    return text[1:-1] if len(text) > 2 and text[0] == _NUL and text[-1] == _NUL else None


@cache
def _marker_pattern(sqlglot_dialect: str) -> re.Pattern[str]:
    # Learn how this sqlglot dialect writes a named placeholder, e.g. %(\0x\0)s or :\0x\0.
    probe = SqlglotDialect.get_or_raise(sqlglot_dialect).generate(placeholder("x"), copy=False)
    before, _, after = probe.partition(f"{_NUL}x{_NUL}")
    return re.compile(re.escape(before) + _NUL + r"(\w+)" + _NUL + re.escape(after))


def emit(tree: exp.Expr, dialect: Dialect, *, markers: bool = True) -> Emitted:
    """Generate ``tree`` (consumed: it is not copied) as SQL for ``dialect``'s driver.

    Comments are dropped, so nothing the database would execute from a comment survives.
    ``markers=False``: the text as sqlglot prints it, placeholders as they are.
    """
    text = SqlglotDialect.get_or_raise(dialect.SQLGLOT).generate(tree, copy=False, comments=False)
    if not markers:
        return Emitted(text, ())
    parts = _marker_pattern(dialect.SQLGLOT).split(text)
    literal_parts = parts[0::2]
    if any(_NUL in part for part in literal_parts):
        raise Refused("NUL characters are not allowed in SQL")
    names = tuple(parts[1::2])
    parsable = "".join(part + (f":rls_p{i}" if i < len(names) else "") for i, part in enumerate(literal_parts))
    if dialect.ESCAPE_PERCENT:
        literal_parts = [part.replace("%", "%%") for part in literal_parts]
    return Emitted(dialect.PLACEHOLDER.join(literal_parts), names, parsable)
