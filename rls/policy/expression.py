"""Policy expressions: parse, check every construct against an allow-list, resolve columns.

An expression is a SQL condition over the policy table's columns (unqualified),
``auth_user.id``, ``auth_user.is_admin``, ``auth_user.is_authenticated`` and
``auth_user.<claim>``, with sub-queries over other tables. Anything not listed here is
refused when the policy is written, never discovered at request time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from rls.policy.model import PolicyError
from rls.schema import Schema, Table
from rls.values import ends_in_escape

AUTH_USER = "auth_user"
USER_ID = "id"
FLAGS = frozenset({"is_admin", "is_authenticated"})
"""Attributes that are never NULL: they fold to TRUE or FALSE per class of user."""

_CLAIM = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_ALLOWED: frozenset[type[exp.Expr]] = frozenset(
    {
        # logic and comparison
        exp.And, exp.Or, exp.Not, exp.Paren, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
        exp.Like, exp.ILike, exp.Escape, exp.In, exp.Is, exp.Between,
        # values
        exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Neg,
        # functions: none that can raise (no arithmetic: it overflows or divides by zero)
        exp.Lower, exp.Upper, exp.Length, exp.Trim, exp.Coalesce,
        exp.CurrentTimestamp, exp.CurrentDate,
        # sub-queries over other tables
        exp.Exists, exp.Subquery, exp.Select, exp.From, exp.Join, exp.Where, exp.Table, exp.TableAlias, exp.Star,
    }
)  # fmt: skip

_NULL_TESTS: tuple[type[exp.Expr], ...] = (exp.Is, exp.Coalesce)
"""Constructs that can turn a NULL into TRUE: no auth_user attribute may sit under them."""

_SELECT_ARGS = frozenset({"expressions", "from_", "joins", "where", "kind"})


def parse_expression(text: str) -> exp.Expr | None:
    """Parse a policy expression and check its constructs; None for ``""`` (public).

    >>> parse_expression("user_id = auth_user.id").sql()
    'user_id = auth_user.id'
    >>> parse_expression("  ") is None
    True
    """
    if not text.strip():
        return None
    if "\x00" in text:
        raise PolicyError("policy expression contains a NUL character")
    try:
        trees = [t for t in sqlglot.parse(text) if t is not None and not isinstance(t, exp.Semicolon)]
    except (ParseError, TokenError) as exc:
        raise PolicyError(f"policy expression does not parse: {_first_line(exc)}") from None
    if len(trees) != 1:
        raise PolicyError("policy expression must be one condition")
    tree = trees[0]
    if isinstance(tree, (exp.Query, exp.DML, exp.Command)) and not isinstance(tree, exp.Subquery):
        raise PolicyError("policy expression must be a condition, not a statement")
    for node in tree.walk():
        _check_node(node)
    return tree


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200]


def _check_node(node: exp.Expr) -> None:
    kind = type(node)
    if kind not in _ALLOWED:
        name = node.sql_name() if isinstance(node, exp.Func) else kind.__name__
        raise PolicyError(f"not allowed in a policy expression: {name}")
    if isinstance(node, exp.Select):
        _check_select(node)
    elif isinstance(node, exp.Subquery):
        _check_subquery(node)
    elif isinstance(node, (exp.Like, exp.ILike)):
        _check_pattern(node)
    elif isinstance(node, exp.Column):
        _check_column(node)
    elif isinstance(node, exp.Table):
        if node.args.get("db") or node.args.get("catalog") or not isinstance(node.this, exp.Identifier):
            raise PolicyError("tables in a policy expression are plain names")
    elif isinstance(node, exp.Join):
        if node.args.get("side") or node.args.get("kind") not in (None, "", "INNER") or not node.args.get("on"):
            raise PolicyError("policy sub-queries may only use inner joins with ON")
    elif isinstance(node, exp.TableAlias) and node.args.get("columns"):
        raise PolicyError("column aliases are not allowed in a policy sub-query")


# A policy runs on every row, hidden ones included: a construct that can raise on some row
# would answer "a hidden row like this exists" (the request fails exactly then) and lets
# anyone who can plant such a row make the table unreadable. So a policy is total: no
# arithmetic (above), no value that can fail (a scalar sub-query returning two rows), no
# LIKE pattern read from a row (PostgreSQL raises on one ending in the escape character).


def _check_subquery(subquery: exp.Subquery) -> None:
    parent = subquery.parent
    if isinstance(parent, exp.In) and parent.args.get("query") is subquery:
        return
    raise PolicyError(
        "not allowed in a policy expression: a sub-query as a value (it fails on a row where it returns two); "
        "use EXISTS (…) or IN (…)"
    )


def _check_pattern(like: exp.Like | exp.ILike) -> None:
    pattern = like.expression
    while isinstance(pattern, exp.Paren):
        pattern = pattern.this
    escape = "\\"
    if isinstance(like.parent, exp.Escape):
        given = like.parent.expression
        if not (isinstance(given, exp.Literal) and given.is_string and len(given.this) == 1):
            raise PolicyError("a LIKE escape in a policy is one character")
        escape = given.this
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        if ends_in_escape(pattern.this, escape):
            raise PolicyError("a LIKE pattern in a policy must not end with its escape character")
        return
    if isinstance(pattern, exp.Column) and pattern.table == AUTH_USER:
        # Bound by rls, which checks the value against the escape rls writes (\\): with an
        # ESCAPE of the policy's own, a claim ending in it would raise on matching rows.
        if isinstance(like.parent, exp.Escape):
            raise PolicyError("an auth_user attribute as a LIKE pattern takes no ESCAPE of its own")
        return
    raise PolicyError("a LIKE pattern in a policy is a string or an auth_user attribute, not a value from a row")


def _check_select(select: exp.Select) -> None:
    if not isinstance(select.parent, (exp.Subquery, exp.Exists)):
        raise PolicyError("a SELECT in a policy expression must be a sub-query")
    extra = sorted(k for k, v in select.args.items() if v and k not in _SELECT_ARGS)
    if extra or select.args.get("kind"):
        raise PolicyError(f"not allowed in a policy sub-query: {', '.join(extra) or select.args['kind']}")
    if not select.args.get("from_"):
        raise PolicyError("a policy sub-query needs FROM")


def _check_column(column: exp.Column) -> None:
    if column.args.get("db") or column.args.get("catalog"):
        raise PolicyError(f"column {column.sql()} has too many qualifiers")
    if column.table != AUTH_USER:
        return
    name = column.name
    if not _CLAIM.fullmatch(name):
        raise PolicyError(f"invalid auth_user attribute: {name!r}")
    if name in FLAGS:
        return
    # A missing claim (or the anonymous user's id) is NULL, and a policy must never become
    # true because of it: if it holds for a user lacking the attribute, it holds whatever
    # the attribute's value. SQL's AND/OR/NOT and comparisons keep that (NULL stays
    # unknown), but three things turn a NULL into a definite answer: NULL tests (IS,
    # COALESCE) and a sub-query's WHERE, which drops unknown rows — so EXISTS / IN over a
    # sub-query is false without the attribute and may become true with it. Under an odd
    # number of NOTs that flips: NOT EXISTS (… = auth_user.id) admits the anonymous user.
    negations = 0
    crossed = False
    parent = column.parent
    while parent is not None:
        if isinstance(parent, _NULL_TESTS):
            raise PolicyError(
                f"auth_user.{name} may only be compared, not tested for NULL; "
                "use auth_user.is_authenticated to ask whether a user is logged in"
            )
        if isinstance(parent, (exp.Select, exp.Subquery, exp.Exists, exp.Where, exp.From, exp.Join)) or (
            # `auth_user.x IN (SELECT …)` too: over an empty sub-query it is FALSE, with or
            # without the attribute, and NOT makes that TRUE.
            isinstance(parent, exp.In) and parent.args.get("query") is not None
        ):
            crossed = True
        elif crossed and isinstance(parent, exp.Not):
            negations += 1
        elif crossed and not isinstance(parent, (exp.And, exp.Or, exp.Paren)):
            # Above a sub-query only AND, OR and NOT may stand: `EXISTS (…) = FALSE`,
            # `<> TRUE`, `IN (FALSE)` … negate it just as NOT does.
            raise PolicyError(f"a sub-query that reads auth_user.{name} may only be combined with AND, OR and NOT")
        parent = parent.parent
    if negations % 2:
        raise PolicyError(
            f"auth_user.{name} is used under NOT EXISTS / NOT IN: without the attribute (an anonymous "
            "user, a missing claim) the sub-query is empty and the policy would be true; write the "
            "condition positively (e.g. EXISTS … AND NOT …) or test auth_user.is_authenticated"
        )


def user_attributes(tree: exp.Expr | None) -> Iterator[str]:
    """The auth_user attributes an expression reads."""
    if tree is None:
        return
    for column in tree.find_all(exp.Column):
        if column.table == AUTH_USER:
            yield column.name


# -- column resolution ------------------------------------------------------------------

TARGET = "\x00target\x00"
"""The qualifier given to the policy table's own columns until the predicate is placed."""


@dataclass
class _Scope:
    tables: dict[str, Table | None]  # alias → table (None: the policy table of table 'all')
    renamed: dict[str, str] | None = None  # alias as written → the rls-owned alias it gets


SUBQUERY_ALIAS = "rls_a"
"""Prefix of the aliases a policy's sub-query tables get: names no statement can use, so a
statement's own aliases never capture a policy's columns where the policy is placed."""


def resolve_columns(tree: exp.Expr, table: Table | None, schema: Schema) -> exp.Expr:
    """Qualify every column with the relation it belongs to (a copy of ``tree``).

    Columns of the policy table get the qualifier :data:`TARGET`; columns of sub-query
    tables their alias. Unqualified names resolve innermost scope first, as SQL does.
    ``table`` None (a policy on ``all``) accepts any outer column unchecked.
    Unknown tables and columns, and ambiguous names, are a :class:`PolicyError`.
    """
    tree = tree.copy()
    outer = _Scope({TARGET: table})
    counter = iter(range(1 << 30))
    if table is not None:
        outer.tables[table.name] = table
    _resolve(tree, [outer], schema, counter)
    return tree


def _resolve(node: exp.Expr, scopes: list[_Scope], schema: Schema, counter: Iterator[int]) -> None:
    if isinstance(node, exp.Select):
        scope = _Scope({}, {})
        for source in [node.args["from_"].this, *(j.this for j in node.args.get("joins") or [])]:
            if not isinstance(source, exp.Table):
                raise PolicyError("policy sub-queries read tables, not sub-queries")
            if source.name not in schema:
                raise PolicyError(f"unknown table in policy expression: {source.name}")
            alias = source.alias_or_name
            if alias in scope.tables:
                raise PolicyError(f"table alias used twice in a policy sub-query: {alias}")
            scope.tables[alias] = schema.table(source.name)
            assert scope.renamed is not None
            scope.renamed[alias] = f"{SUBQUERY_ALIAS}{next(counter)}"
            source.set("this", exp.to_identifier(source.name, quoted=True))
            source.set("alias", exp.TableAlias(this=exp.to_identifier(scope.renamed[alias], quoted=True)))
        scopes = [*scopes, scope]
    for child in list(node.iter_expressions()):
        _resolve(child, scopes, schema, counter)
    if isinstance(node, exp.Column) and node.table != AUTH_USER:
        _qualify(node, scopes)


def _qualify(column: exp.Column, scopes: list[_Scope]) -> None:
    wanted, qualifier = column.name, column.table
    found: list[tuple[str, str]] = []  # (alias, column name), one per scope that has it
    for depth, scope in enumerate(reversed(scopes)):
        outermost = depth == len(scopes) - 1
        if qualifier:
            candidates = [(qualifier, scope.tables[qualifier])] if qualifier in scope.tables else []
        else:
            candidates = list(scope.tables.items())
        matches: dict[str, str] = {}
        for alias, table in candidates:
            if table is None:  # policy on 'all': the outer column is checked per table later
                name = None if found else wanted
            else:
                name = _column_name(table, wanted, quoted=column.this.quoted)
            if name is not None:
                matches[TARGET if (outermost and (table is None or alias in (TARGET, table.name))) else alias] = name
        if len(matches) > 1:
            raise PolicyError(f"ambiguous column in policy expression: {wanted}")
        found.extend(matches.items())
        if qualifier and candidates and not matches:
            raise PolicyError(f"unknown column in policy expression: {qualifier}.{wanted}")
        if qualifier and matches:
            break
    if not found:
        raise PolicyError(f"unknown column in policy expression: {column.sql()}")
    if len(found) > 1:
        # SQL would take the innermost one; that is rarely what a policy author meant.
        raise PolicyError(
            f"column {wanted} exists in a sub-query table and in the policy table: qualify it "
            f"({', '.join(a for a, _ in found if a != TARGET)}.{wanted} or <table>.{wanted})"
        )
    alias, name = found[0]
    column.set("this", exp.to_identifier(name, quoted=True))
    owner = next((scope for scope in reversed(scopes) if alias in scope.tables), None)
    renamed = owner.renamed.get(alias, alias) if owner is not None and owner.renamed else alias
    column.set("table", exp.to_identifier(renamed, quoted=True))
    table = owner.tables[alias] if owner is not None else None
    if table is not None:
        # Kept for the dialect's comparison rules (MySQL compares text case-insensitively).
        column.meta["kind"] = table.columns[name].kind
        column.meta["type"] = table.columns[name].type


def _column_name(table: Table, wanted: str, *, quoted: bool) -> str | None:
    if wanted in table.columns:
        return wanted
    if quoted:
        return None
    # Unquoted names match regardless of case, as they do on the databases.
    folded = [c for c in table.columns if c.lower() == wanted.lower()]
    return folded[0] if len(folded) == 1 else None


def validate_expression(text: str, table: str, schema: Schema) -> exp.Expr | None:
    """Everything a write of a policy checks: parse, constructs, tables and columns."""
    from rls.policy.principals import check_principals  # principals builds on this module

    tree = parse_expression(text)
    if tree is not None:
        check_principals(resolve_columns(tree, None if table == "all" else schema.table(table), schema))
    return tree
