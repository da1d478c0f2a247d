"""Bounds on the size of a value a statement computes (a statement timeout does not bound
memory: a value of 10 GB is built in seconds).

:mod:`rls.guard.allow` bounds each size argument (a ``REPEAT`` count, a ``printf`` width)
by :data:`rls.guard.allow.MAX_GROWTH`; sizes multiply, so the rules here bound the value:

* a growth function's input that can be large — ``REPEAT``'s string, ``REPLACE``'s string
  and its replacement — is never itself computed by a growth function (``REPEAT``,
  ``printf``/``format``, ``REPLACE`` unless by a literal no longer than its literal
  pattern), directly or through any expression around it (a concatenation, ``UPPER``, a
  sub-query): ``REPEAT(REPEAT('x', 100000), 100000)`` and ``REPLACE(REPEAT('x', 100000),
  'x', REPEAT('y', 100000))`` are refused — so is one read from a column that a CTE or a
  derived table of the statement computes with a growth function (by name, conservatively);
* a recursive CTE's recursive member grows no value from the CTE's own columns: none of
  them is an input of a growth function, and no concatenation holds more than one of
  them (``s || s`` doubles a string per step: 2^40 bytes in 40 steps). Adding a bounded
  piece per step (``path || '/' || name``) stays allowed: its growth is linear in the
  steps, which the time limit bounds.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from rls.errors import Refused

_FORMATS = frozenset({"PRINTF", "FORMAT"})
_CONCATENATIONS = (exp.DPipe, exp.Concat, exp.ConcatWs)
# Values built from several values — each input copied in whole — grow like a
# concatenation: ``ARRAY[s, s, …]``, ``(s, s)::text``, ``JSONB_BUILD_OBJECT('a', s, 'b', s)``.
_CONSTRUCTORS = (
    exp.Array, exp.Tuple, exp.Struct, exp.JSONObject, exp.JSONArray, exp.ArrayConcat, exp.Map, exp.VarMap,
    exp.JSONArrayAgg, exp.JSONBObjectAgg,
)  # fmt: skip
_CONSTRUCTOR_NAMES = frozenset(
    {"ROW", "ARRAY", "JSON_BUILD_OBJECT", "JSONB_BUILD_OBJECT", "JSON_BUILD_ARRAY", "JSONB_BUILD_ARRAY",
     "JSON_ARRAY", "JSON_OBJECT", "JSON_ARRAYAGG", "JSON_OBJECTAGG", "JSON_GROUP_ARRAY", "JSON_GROUP_OBJECT"}
)  # fmt: skip
# Serialisers: their text escapes its input ('"' becomes '\"'), so even one column's value
# can double in size per link of a chain of CTEs.
_SERIALISERS = (exp.JSONFormat,) if hasattr(exp, "JSONFormat") else ()
_SERIALISER_NAMES = frozenset(
    {"TO_JSON", "TO_JSONB", "ROW_TO_JSON", "ARRAY_TO_JSON", "JSON_QUOTE", "QUOTE", "QUOTE_LITERAL", "QUOTE_IDENT",
     "QUOTE_NULLABLE", "JSONB_PRETTY", "JSON_ESCAPE"}
)  # fmt: skip


_AGGREGATES = (exp.GroupConcat, exp.ArrayAgg)


def _is_growth(node: exp.Expr) -> bool:
    """A function whose result can be many times larger than any of its inputs: also a
    concatenation of two or more column values (``s || s`` doubles ``s``; chained through
    CTEs it multiplies) and a string aggregate (one value of every row)."""
    if isinstance(node, exp.Replace):
        return not _shrinks(node)
    if isinstance(node, (exp.Repeat, exp.Format, exp.Pad, *_AGGREGATES)):
        return True
    if (
        isinstance(node, exp.ConcatWs)
        and node.expressions
        and any(True for _ in node.expressions[0].find_all(exp.Column))
    ):
        return True  # the separator, a column value, is copied once per other argument
    if isinstance(node, _CONCATENATIONS) and not isinstance(node.parent, exp.DPipe):
        return sum(1 for _ in node.find_all(exp.Column)) > 1
    if isinstance(node, exp.Cast) and _grows_in_cast(node.args.get("to")):
        return True
    if _is_constructor(node):
        # Anything that holds copies of column values, escaped or one per row: sizes add
        # per value and multiply through a chain of CTEs (each link holding the last one's
        # twice, or each of its characters escaped). A compared tuple holds nothing.
        return any(True for _ in node.find_all(exp.Column))
    if isinstance(node, exp.Anonymous) and str(node.this).upper() == "STRING_AGG":
        return True
    return isinstance(node, exp.Anonymous) and str(node.this).upper() in _FORMATS


_BINARY_TYPES = frozenset({"BYTEA", "BLOB", "BINARY", "VARBINARY", "LONGBLOB", "MEDIUMBLOB", "TINYBLOB"})
_PADDED_TYPES = frozenset({"CHAR", "NCHAR", "BPCHAR"})
_MAX_PADDED = 1000


def _grows_in_cast(to: object) -> bool:
    """A cast to a binary type (read back as text, its hex is twice the size) or to a
    fixed-length text type wider than a short code (``CHAR(100000)`` pads one character)."""
    if not isinstance(to, exp.DataType):
        return False
    name = to.this.name if hasattr(to.this, "name") else str(to.this)
    if name in _BINARY_TYPES:
        return True
    if name in _PADDED_TYPES:
        sizes = [p.this for p in to.expressions if isinstance(p, exp.DataTypeParam)]
        return any(isinstance(n, exp.Literal) and n.name.isdigit() and int(n.name) > _MAX_PADDED for n in sizes)
    return False


def _is_constructor(node: exp.Expr) -> bool:
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper() in _CONSTRUCTOR_NAMES | _SERIALISER_NAMES
    if isinstance(node, exp.Func) and node.sql_name().upper() in _SERIALISER_NAMES:
        return True
    if isinstance(node, exp.Tuple):
        # A tuple compared (``(a, b) IN …``, ``(a, b) = (1, 2)``) is no value that is kept.
        return not isinstance(node.parent, (exp.In, exp.Predicate, exp.Values))
    return isinstance(node, (*_CONSTRUCTORS, *_SERIALISERS))


def _shrinks(node: exp.Replace) -> bool:
    """``REPLACE(s, 'ab', 'c')``: a literal replacement no longer than a literal pattern
    makes nothing longer (escaping chains of such REPLACEs stay allowed)."""
    pattern, replacement = node.expression, node.args.get("replacement")
    return (
        isinstance(pattern, exp.Literal)
        and pattern.is_string
        and isinstance(replacement, exp.Literal)
        and replacement.is_string
        and len(replacement.name) <= len(pattern.name)
    )


def _large_inputs(node: exp.Expr) -> Iterator[exp.Expr]:
    """The inputs of growth function ``node`` whose size the result multiplies."""
    if isinstance(node, (exp.Repeat, exp.Cast)):
        yield node.this
    elif isinstance(node, (*_CONCATENATIONS, *_AGGREGATES)) or _is_constructor(node):
        yield from node.iter_expressions()
    elif isinstance(node, exp.Anonymous) and str(node.this).upper() == "STRING_AGG":
        yield from node.expressions[:1]
    elif isinstance(node, exp.Replace):
        yield node.this
        if node.args.get("replacement") is not None:
            yield node.args["replacement"]


def check_growth(root: exp.Expr) -> None:
    """Refuse ``root`` when a value it computes can grow beyond a single growth function's
    bound (see the module doc)."""
    grown = _grown_names(root)
    for node in root.walk():
        if isinstance(node, _AGGREGATES) or (
            isinstance(node, exp.Anonymous) and str(node.this).upper() == "STRING_AGG"
        ):
            values = list(_large_inputs(node))
            if any(isinstance(n, exp.Placeholder) for v in values for n in v.walk()):
                # One copy per row of a value whose size the caller chooses (100 kB × 10,000
                # rows of a recursive CTE: 1 GB); an application has no reason to send one.
                raise Refused(f"{_name(node)} of a parameter: its size would multiply by the rows")
        if _is_growth(node):
            for value in _large_inputs(node):
                # A concatenation adds its inputs' sizes: only a grown column (a CTE's or a
                # derived table's, below) makes it multiply.
                adds = isinstance(node, _CONCATENATIONS) or _is_constructor(node)
                if not adds and any(_is_growth(inner) for inner in value.walk()):
                    raise Refused(
                        f"{_name(node)} of a value computed by {_name(_first_growth(value))}: "
                        "sizes would multiply (a growth function's input is a column, a literal or a parameter)"
                    )
                if any(c.name.lower() in grown for c in value.find_all(exp.Column)):
                    raise Refused(
                        f"{_name(node)} of a column a growth function computes in the statement: sizes would multiply"
                    )
        elif isinstance(node, exp.With) and node.args.get("recursive"):
            for cte in node.expressions:
                _check_recursive(cte)


def _grown_names(root: exp.Expr) -> set[str]:
    """The names under which a statement's CTEs and derived tables (any SELECT of it)
    hand on a value a growth function computed: a column of that name is taken as grown
    wherever it is read (by name: conservative, a table column of the same name too)."""
    names: set[str] = set()
    for select in root.find_all(exp.Select):
        for position, item in enumerate(select.expressions):
            if not any(_is_growth(inner) for inner in item.walk()):
                continue
            if isinstance(item, exp.Alias):
                names.add(item.alias.lower())
            holder = select.parent
            while isinstance(holder, (exp.SetOperation, exp.Subquery)) and holder.args.get("alias") is None:
                holder = holder.parent
            alias = holder.args.get("alias") if isinstance(holder, (exp.CTE, exp.Subquery)) else None
            columns = alias.columns if isinstance(alias, exp.TableAlias) else []
            if position < len(columns):
                names.add(columns[position].name.lower())
    return names


def _first_growth(value: exp.Expr) -> exp.Expr:
    return next(inner for inner in value.walk() if _is_growth(inner))


def _name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper()
    return node.sql_name() if isinstance(node, exp.Func) else type(node).__name__.upper()


def _check_recursive(cte: exp.Expr) -> None:
    """The recursive members of one CTE of a ``WITH RECURSIVE`` grow none of its values."""
    body = cte.this
    if not isinstance(body, exp.SetOperation):
        return
    name = cte.alias_or_name.lower()
    members = _members(body)
    own = _cte_columns(cte, members[0])
    for member in members[1:]:
        aliases = _references(member, name)
        if not aliases:
            continue
        for node in member.walk():
            if _is_growth(node) and any(_is_own(c, aliases, own) for c in node.find_all(exp.Column)):
                raise Refused(f"a recursive CTE may not grow a value of its own columns step by step ({_name(node)})")
            if isinstance(node, _CONCATENATIONS) and not isinstance(node.parent, exp.DPipe):
                if sum(1 for c in node.find_all(exp.Column) if _is_own(c, aliases, own)) > 1:
                    raise Refused("a recursive CTE may not concatenate its own columns with each other step by step")


def _members(body: exp.Expr) -> list[exp.Expr]:
    """The SELECTs of a (possibly chained) UNION, left to right."""
    if isinstance(body, exp.SetOperation):
        return _members(body.this) + _members(body.expression)
    return [body]


def _cte_columns(cte: exp.Expr, anchor: exp.Expr) -> set[str]:
    alias = cte.args.get("alias")
    declared = alias.columns if isinstance(alias, exp.TableAlias) else []
    if declared:
        return {c.name.lower() for c in declared}
    selects = anchor.expressions if isinstance(anchor, exp.Select) else []
    return {s.alias_or_name.lower() for s in selects}


def _references(member: exp.Expr, name: str) -> set[str]:
    """The names (alias or table name) the member reads the CTE ``name`` under."""
    return {t.alias_or_name.lower() for t in member.find_all(exp.Table) if t.name.lower() == name}


def _is_own(column: exp.Column, aliases: set[str], own: set[str]) -> bool:
    """Whether ``column`` is a column of the CTE (qualified by its name, or unqualified and
    named like one of its columns)."""
    table = column.table.lower()
    return table in aliases if table else column.name.lower() in own
