"""The application's placeholders, in the driver's own style, mapped before parsing.

Positional placeholders are numbered by their place in the text — the order the
driver binds them — not by their place in the AST, which differs (MySQL's LIMIT ?
parses before its WHERE). Each becomes ``:rls_u<i>``; named ones keep their name.
The ``rls_`` prefix is reserved: a statement that uses it is refused.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import TokenType

from dialects.base import Dialect
from rls.errors import Refused

POSITIONAL = "rls_u"
_PYFORMAT = re.compile(r"%(?:\((?P<name>[^)]*)\))?(?P<conv>.)?", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_]\w{0,62}")
_RESERVED = re.compile(r"(:|%\()\s*rls_", re.IGNORECASE)


@dataclass(frozen=True)
class UserParams:
    """The statement text ready to parse, and the placeholders it holds."""

    text: str
    positional: int
    named: frozenset[str]


def extract_params(sql: str, dialect: Dialect, *, has_params: bool = True) -> UserParams:
    """Rewrite the driver's placeholders in ``sql`` as named ones sqlglot reads alike.

    Without parameters the drivers do not read the text for placeholders at all (a ``%``
    is literal for psycopg and PyMySQL then), and neither does the guard.
    """
    if not isinstance(sql, str):
        raise Refused("the statement must be a string (render psycopg.sql objects first)")
    if _RESERVED.search(sql):
        raise Refused("placeholder names starting with rls_ are reserved")
    if "\x00" in sql:
        raise Refused("NUL characters are not allowed in SQL")
    if not has_params:
        return UserParams(sql, 0, frozenset())
    if dialect.ESCAPE_PERCENT:
        return _from_pyformat(sql)
    return _from_qmark(sql, dialect)


def parse_statement(text: str, dialect: Dialect) -> exp.Expr:
    """Exactly one statement, with every comment and every piece of node meta dropped:
    sqlglot copies ``/* sqlglot.meta … */`` comments into ``node.meta``, and nothing the
    input says may reach what rls decides or emits."""
    try:
        trees = [t for t in sqlglot.parse(text, read=dialect.SQLGLOT) if t is not None]
    except (ParseError, TokenError) as exc:
        raise Refused(f"statement does not parse: {str(exc).strip().splitlines()[0][:200]}") from None
    except RecursionError:
        raise
    except Exception:  # noqa: BLE001 - sqlglot's parser fails on some input with other errors
        raise Refused("statement does not parse") from None
    trees = [t for t in trees if not isinstance(t, exp.Semicolon)]
    if len(trees) != 1:
        raise Refused("exactly one statement is allowed")
    root = trees[0]
    for node in root.walk():
        node.comments = None
        node._meta = None
        if isinstance(node, exp.Placeholder) and isinstance(node.this, exp.Identifier):
            node.set("this", node.this.name)  # %(name)s reads as an identifier: one form only
    return root


def _from_pyformat(sql: str) -> UserParams:
    # The driver reads the whole text as a format string (literals included); so do we.
    count = 0
    named: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        name, conv = match["name"], match["conv"]
        if name is None and conv == "%":
            return "%"
        if conv != "s":
            raise Refused("only %s and %(name)s placeholders are supported (write a literal % as %%)")
        if name is None:
            count += 1
            return f" :{POSITIONAL}{count - 1} "
        if not _NAME.fullmatch(name):
            raise Refused(f"invalid placeholder name: {name!r}")
        named.add(name)
        return f" :{name} "

    text = _PYFORMAT.sub(replace, sql)
    if count and named:
        raise Refused("a statement may not mix %s and %(name)s placeholders")
    return UserParams(text, count, frozenset(named))


def _from_qmark(sql: str, dialect: Dialect) -> UserParams:
    tokens = SqlglotDialect.get_or_raise(dialect.SQLGLOT).tokenize(sql)
    marks = [t for t in tokens if t.token_type == TokenType.PLACEHOLDER]
    named = {nxt.text for tok, nxt in itertools.pairwise(tokens)
             if tok.token_type == TokenType.COLON and nxt.start == tok.end + 1}  # fmt: skip
    if marks and named:
        raise Refused("a statement may not mix ? and :name placeholders")
    text = sql
    for i, token in reversed(list(enumerate(marks))):
        if token.text != "?" or text[token.end + 1 : token.end + 2].isdigit():
            raise Refused("unsupported placeholder: use ? or :name")
        text = f"{text[: token.start]} :{POSITIONAL}{i} {text[token.end + 1 :]}"
    for name in named:
        if not _NAME.fullmatch(name):
            raise Refused(f"invalid placeholder name: {name!r}")
    return UserParams(text, len(marks), frozenset(named))
