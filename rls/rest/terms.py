"""The REST grammar's terms as AST nodes: column references, JSON paths, select items,
order items and filter conditions. Every name is checked against the table and every
value becomes a placeholder; nothing from the request is pasted into SQL text.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect

from dialects.base import Dialect
from rls.emit import placeholder
from rls.errors import BadRequest, Unsupported
from rls.rest.query import Filter, Logic
from rls.schema import Kind, Table
from rls.values import ends_in_escape, text_converter

Converter = Callable[[Any], Any]

_JSON_KEY = re.compile(r"\w+")
_ALIAS = re.compile(r"[A-Za-z_]\w{0,62}")
_FUNCTION_CALL = re.compile(r"(?P<name>\w+)\((?P<arg>.*)\)")
_PATH_SPLIT = re.compile(r"(->>|->)")


@dataclass(frozen=True, slots=True)
class Reference:
    """A column, or a JSON path into one: ``data->a->>b`` (``->>`` yields text)."""

    column: str
    steps: tuple[str | int, ...] = ()
    as_text: bool = False

    @property
    def output_name(self) -> str:
        """The key a selected reference is returned under: the last path step, else the column."""
        return str(self.steps[-1]) if self.steps else self.column


def parse_reference(text: str, table: Table) -> Reference:
    """Parse and check a reference against ``table``; unknown names are a 400.

    >>> from rls.schema import Schema
    >>> t = Schema.from_columns({"t": ["data"]}).table("t")
    >>> parse_reference("data->a->1->>b", t)
    Reference(column='data', steps=('a', 1, 'b'), as_text=True)
    """
    parts = _PATH_SPLIT.split(text)
    column = parts[0]
    table.column(column)
    steps: list[str | int] = []
    as_text = False
    for arrow, key in zip(parts[1::2], parts[2::2], strict=True):
        if as_text:
            raise BadRequest(f"invalid JSON path {text}: ->> must be the last step")
        if not _JSON_KEY.fullmatch(key):
            raise BadRequest(f"invalid JSON path {text}: keys are letters, digits and _")
        steps.append(int(key) if key.isdigit() else key)
        as_text = arrow == "->>"
    return Reference(column, tuple(steps), as_text)


def reference_kind(ref: Reference, table: Table) -> Kind:
    """The kind of what a reference yields."""
    if not ref.steps:
        return table.columns[ref.column].kind
    return Kind.TEXT if ref.as_text else Kind.JSON


def build_reference(ref: Reference, dialect: Dialect, *, as_text: bool | None = None) -> exp.Expr:
    """The AST node for a reference; ``as_text`` overrides the last step's extraction."""
    column = exp.column(ref.column, quoted=True)
    if not ref.steps:
        return column
    return dialect.build_json_path(column, ref.steps, as_text=ref.as_text if as_text is None else as_text)


# -- select -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Function:
    """An allow-listed function of the ``select`` grammar."""

    build: Callable[[exp.Expr], exp.Expr]
    aggregate: bool
    kind: Kind | None  # None: the argument's kind
    star: bool = False  # accepts * as its argument


FUNCTIONS: dict[str, Function] = {
    "count": Function(lambda a: exp.Count(this=a), True, Kind.INTEGER, star=True),
    "sum": Function(lambda a: exp.Sum(this=a), True, Kind.DECIMAL),
    "avg": Function(lambda a: exp.Avg(this=a), True, Kind.DECIMAL),
    "max": Function(lambda a: exp.Max(this=a), True, None),
    "min": Function(lambda a: exp.Min(this=a), True, None),
    "abs": Function(lambda a: exp.Abs(this=a), False, None),
    "ceil": Function(lambda a: exp.Ceil(this=a), False, None),
    "floor": Function(lambda a: exp.Floor(this=a), False, None),
    "round": Function(lambda a: exp.Round(this=a), False, None),
    "length": Function(lambda a: exp.Length(this=a), False, Kind.INTEGER),
    "lower": Function(lambda a: exp.Lower(this=a), False, Kind.TEXT),
    "upper": Function(lambda a: exp.Upper(this=a), False, Kind.TEXT),
    "trim": Function(lambda a: exp.Trim(this=a), False, Kind.TEXT),
    "date": Function(lambda a: exp.TsOrDsToDate(this=a), False, Kind.DATE),
}
"""Functions ``select`` accepts, by lower-case name; arguments are references only."""

AGGREGATES = frozenset({"count", "sum", "avg", "max", "min"})
"""PostgREST's aggregate methods: ``amount.sum()``, ``count()``."""

CASTS: dict[str, tuple[str, Kind]] = {
    "text": ("TEXT", Kind.TEXT),
    "varchar": ("TEXT", Kind.TEXT),
    "int": ("BIGINT", Kind.INTEGER),
    "int4": ("BIGINT", Kind.INTEGER),
    "int8": ("BIGINT", Kind.INTEGER),
    "integer": ("BIGINT", Kind.INTEGER),
    "bigint": ("BIGINT", Kind.INTEGER),
    "numeric": ("DECIMAL(38, 10)", Kind.DECIMAL),
    "decimal": ("DECIMAL(38, 10)", Kind.DECIMAL),
    "float": ("DOUBLE", Kind.FLOAT),
    "float8": ("DOUBLE", Kind.FLOAT),
    "double": ("DOUBLE", Kind.FLOAT),
    "date": ("DATE", Kind.DATE),
}
"""Cast targets ``col::<type>`` accepts: a closed list, each a portable type sqlglot writes
per dialect (TEXT is CHAR on MySQL, BIGINT is SIGNED). A cast can raise on a value (PostgreSQL:
``'x'::int``): casts appear only in the select list, evaluated on the rows the statement
returns, never in a condition."""


@dataclass(frozen=True, slots=True)
class SelectItem:
    """One output column: its AST node, the key it is returned under, its kind."""

    node: exp.Expr
    name: str
    kind: Kind
    aggregate: bool


@dataclass(frozen=True, slots=True)
class EmbedSyntax:
    """``alias:name!hint!inner(select)``: an embedded resource as written (resolved against
    the schema's foreign keys by :mod:`rls.rest.embed`)."""

    name: str
    alias: str | None
    hints: tuple[str, ...]
    inner: bool
    select: str

    @property
    def output_name(self) -> str:
        return self.alias or self.name


_EMBED = re.compile(r"(?:(?P<alias>[A-Za-z_]\w{0,62}):)?(?P<name>\w+)(?P<hints>(?:!\w+)*)\((?P<select>.*)\)", re.DOTALL)
_ITEM = re.compile(
    r"(?P<ref>[^:()!.]+?)(?:::(?P<cast>\w+))?(?:\.(?P<agg>\w+)\(\))?(?:::(?P<cast_after>\w+))?",
    re.DOTALL,
)


def split_select(text: str) -> list[str]:
    """The items of a select list: commas inside parentheses belong to an embedded select.

    >>> split_select("id,projects(id,name),x")
    ['id', 'projects(id,name)', 'x']
    """
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest("invalid select: unbalanced parentheses")
        elif ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    if depth:
        raise BadRequest("invalid select: unbalanced parentheses")
    items.append(text[start:].strip())
    return items


def parse_embed(text: str) -> EmbedSyntax | None:
    """``alias:name!hint!inner(select)`` → :class:`EmbedSyntax`; None for anything else,
    including the original grammar's functions (``max(c)``: a name :data:`FUNCTIONS` has,
    without hints)."""
    match = _EMBED.fullmatch(text)
    if match is None:
        return None
    hints = tuple(h for h in match["hints"].split("!") if h)
    if not hints and match["name"].lower() in FUNCTIONS:
        return None
    inner = "inner" in hints
    named = tuple(h for h in hints if h not in ("inner", "left"))
    if len(named) > 1:
        raise BadRequest(f"invalid select: {text}: at most one hint besides !inner")
    return EmbedSyntax(match["name"], match["alias"], named, inner, match["select"])


def parse_select_list(text: str, table: Table, dialect: Dialect) -> list[SelectItem | EmbedSyntax]:
    """Select items and embedded resources in the order written (``*`` expands in place)."""
    items: list[SelectItem | EmbedSyntax] = []
    for part in split_select(text):
        if part in ("*", f"{table.name}.*"):
            items += [_column_item(name, table) for name in table.columns]
            continue
        embed = parse_embed(part) if "(" in part and not part.endswith("()") else None
        items.append(embed if embed is not None else _select_item(part, table, dialect))
    seen: set[str] = set()
    for item in items:
        name = item.output_name if isinstance(item, EmbedSyntax) else item.name
        if name in seen:
            raise BadRequest(f"invalid select: {name} is returned twice; name one with alias:{name}(…)")
        seen.add(name)
    return items


def parse_select(text: str, table: Table, dialect: Dialect) -> list[SelectItem]:
    """``a,b,max(c),data->x,total:sum(price),amount::text,n:amount.sum()`` → select items
    (``alias:`` is optional); embedded resources are refused here (see :mod:`rls.rest.embed`)."""
    items = parse_select_list(text, table, dialect)
    for item in items:
        if isinstance(item, EmbedSyntax):
            raise BadRequest(f"function not allowed: {item.name}")
    return items  # type: ignore[return-value]


def _column_item(name: str, table: Table) -> SelectItem:
    return SelectItem(exp.column(name, quoted=True), name, table.columns[name].kind, False)


def _select_item(text: str, table: Table, dialect: Dialect) -> SelectItem:
    alias, colon, body = text.partition(":")
    if not colon or body.startswith(":"):  # a cast, not an alias
        alias, body = "", text
    elif not _ALIAS.fullmatch(alias):
        raise BadRequest(f"invalid select alias: {alias!r}")
    if not body:
        raise BadRequest("invalid select: empty item")
    call = _FUNCTION_CALL.fullmatch(body)
    if call is not None and call["arg"].strip() != "":
        node, name, kind, aggregate = _function_item(call, table, dialect)
    else:
        node, name, kind, aggregate = _postgrest_item(body, table, dialect)
    name = alias or name
    return SelectItem(
        exp.alias_(node, name, quoted=True, copy=False) if node_needs_alias(node, name) else node, name, kind, aggregate
    )


def _function_item(call: re.Match[str], table: Table, dialect: Dialect) -> tuple[exp.Expr, str, Kind, bool]:
    """The original grammar: ``max(c)``, ``count(*)``, ``lower(title)``."""
    fn_name = call["name"].lower()
    fn = FUNCTIONS.get(fn_name)
    if fn is None:
        raise BadRequest(f"invalid select: function not allowed: {call['name']}")
    arg = call["arg"].strip()
    if arg == "*" and fn.star:
        return fn.build(exp.Star()), fn_name, fn.kind or Kind.INTEGER, fn.aggregate
    ref = parse_reference(arg, table)
    node = fn.build(build_reference(ref, dialect))
    return node, fn_name, fn.kind or reference_kind(ref, table), fn.aggregate


def _postgrest_item(body: str, table: Table, dialect: Dialect) -> tuple[exp.Expr, str, Kind, bool]:
    """PostgREST's grammar: ``ref[::cast][.agg()][::cast]`` and ``count()``."""
    if body == "count()" or (body == "count" and "count" not in table.columns):
        return exp.Count(this=exp.Star()), "count", Kind.INTEGER, True
    match = _ITEM.fullmatch(body)
    if match is None:
        raise BadRequest(f"invalid select item: {body!r}")
    ref = parse_reference(match["ref"], table)
    node, kind = build_reference(ref, dialect), reference_kind(ref, table)
    name, aggregate = ref.output_name, False
    if match["cast"]:
        node, kind = _cast(node, match["cast"])
    if match["agg"]:
        agg = match["agg"].lower()
        if agg not in AGGREGATES:
            raise BadRequest(f"invalid select: aggregate not allowed: {match['agg']}")
        fn = FUNCTIONS[agg]
        node, kind, name, aggregate = fn.build(node), fn.kind or kind, agg, True
    if match["cast_after"]:
        node, kind = _cast(node, match["cast_after"])
    return node, name, kind, aggregate


def _cast(node: exp.Expr, target: str) -> tuple[exp.Expr, Kind]:
    found = CASTS.get(target.lower())
    if found is None:
        raise BadRequest(f"invalid select: cast to {target} is not allowed (allowed: {', '.join(sorted(CASTS))})")
    type_name, kind = found
    return exp.Cast(this=node, to=exp.DataType.build(type_name)), kind


def node_needs_alias(node: exp.Expr, name: str) -> bool:
    """Plain columns keep their name; everything else is named explicitly."""
    return not (isinstance(node, exp.Column) and node.name == name)


# -- order ------------------------------------------------------------------------------

_DIRECTIONS = {"asc": False, "desc": True}
_NULLS = {"nullsfirst": True, "nullslast": False}


def parse_order(text: str, table: Table, dialect: Dialect) -> list[exp.Ordered]:
    """``a.desc,b,c.asc.nullsfirst`` → ORDER BY items.

    Nulls sort last ascending and first descending on every database (PostgreSQL's
    default), unless the item says otherwise.
    """
    items = []
    for part in text.split(","):
        ref_text, *modifiers = part.strip().split(".")
        ref = parse_reference(ref_text, table)
        desc, nulls_first = False, None
        for i, modifier in enumerate(modifiers):
            if modifier in _DIRECTIONS and i == 0:
                desc = _DIRECTIONS[modifier]
            elif modifier in _NULLS and nulls_first is None:
                nulls_first = _NULLS[modifier]
            else:
                raise BadRequest(
                    f"invalid order item {part.strip()!r}: use <column>[.asc|.desc][.nullsfirst|.nullslast]"
                )
        if nulls_first is None:
            nulls_first = desc
            if not ref.steps and not table.columns[ref.column].nullable:
                # No NULL to place: the database's own order, so no emulation (MySQL's
                # CASE WHEN … IS NULL) keeps an index from serving the ORDER BY.
                nulls_first = _native_nulls_first(dialect, desc)
        items.append(exp.Ordered(this=build_reference(ref, dialect), desc=desc, nulls_first=nulls_first))
    return items


def _native_nulls_first(dialect: Dialect, desc: bool) -> bool:
    ordering = SqlglotDialect.get_or_raise(dialect.SQLGLOT).NULL_ORDERING
    if ordering == "nulls_are_small":
        return not desc
    if ordering == "nulls_are_large":
        return desc
    return False  # nulls_are_last


# -- filters ----------------------------------------------------------------------------

_COMPARISONS: dict[str, type[exp.Expr]] = {
    "eq": exp.EQ,
    "ne": exp.NEQ,
    "gt": exp.GT,
    "gte": exp.GTE,
    "lt": exp.LT,
    "lte": exp.LTE,
}
_TEXT_KINDS = frozenset({Kind.TEXT, Kind.OTHER})
_FULL_TEXT_FUNCTIONS = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
FULL_TEXT_LANGUAGES = frozenset(
    {
        "simple", "arabic", "armenian", "basque", "catalan", "danish", "dutch", "english", "finnish", "french",
        "german", "greek", "hindi", "hungarian", "indonesian", "irish", "italian", "lithuanian", "nepali",
        "norwegian", "portuguese", "romanian", "russian", "serbian", "spanish", "swedish", "tamil", "turkish",
        "yiddish",
    }
)  # fmt: skip
"""Text search configurations ``fts(<language>)`` accepts: PostgreSQL's built-in ones."""


@dataclass(frozen=True, slots=True)
class Condition:
    """A filter's AST node and, per value it binds, the converter from request text.

    ``leakproof``: evaluating it on any row can neither raise nor reveal the row — a
    typed comparison of a plain column whose kind the dialect lists (the value is
    converted to the column's type before it is bound), ``is``, and NOT, AND, OR of
    those — so it may run next to the policy, on rows the policy hides, where an index
    can serve it. Anything else (patterns, regular expressions, text search, JSON paths,
    containment) runs only on rows the policy allows."""

    node: exp.Expr
    converters: tuple[Converter, ...]
    leakproof: bool = False


def build_condition(node: Filter | Logic, table: Table, dialect: Dialect, first_value: int) -> Condition:
    """The condition for one filter or logic tree on ``table``; its values bind as
    placeholders ``v<first_value>…`` in the order of :meth:`Filter.bound_values`.

    ``table`` is the table the node applies to: the requested one, or — for a node with
    a ``path`` — the embedded one (the path itself is not read here).
    """
    if isinstance(node, Logic):
        parts: list[Condition] = []
        for child in node.children:
            parts.append(build_condition(child, table, dialect, first_value + sum(len(p.converters) for p in parts)))
        combine = exp.or_ if node.op == "or" else exp.and_
        condition = Condition(
            exp.paren(combine(*(p.node for p in parts), copy=False), copy=False),
            tuple(c for p in parts for c in p.converters),
            all(p.leakproof for p in parts),
        )
    else:
        condition = _build_filter(node, table, dialect, first_value)
    if node.negated:
        # NOT of a condition that cannot raise cannot raise either.
        return Condition(exp.Not(this=exp.paren(condition.node, copy=False)), condition.converters, condition.leakproof)
    return condition


def _build_filter(f: Filter, table: Table, dialect: Dialect, first_value: int) -> Condition:
    ref = parse_reference(f.key, table)
    # Filters on JSON paths compare text: the last step is always extracted as text.
    kind = Kind.TEXT if ref.steps else table.columns[ref.column].kind
    this = build_reference(ref, dialect, as_text=True)
    slots = [placeholder(f"v{first_value + i}") for i in range(len(f.values))]
    convert = _converter(kind, ref.column, dialect)
    typed = not ref.steps and kind in dialect.LEAKPROOF_LITERALS
    if f.op in _COMPARISONS:
        nodes = [dialect.build_comparison(_COMPARISONS[f.op], this.copy(), slot, kind) for slot in slots]
        return Condition(_quantified(f, nodes), (convert,) * len(slots), typed)
    if f.op == "in":
        return Condition(dialect.build_in(this, list(slots), kind), (convert,) * len(slots), typed)
    if f.op == "isdistinct":
        return Condition(dialect.build_distinct(this, slots[0], kind), (convert,), typed)
    if f.op == "is":
        return Condition(_build_is(this, f.values[0], kind, f.key), (), not ref.steps)
    if f.op in ("like", "ilike"):
        _require_text(f, kind)
        nodes = [dialect.build_like(this.copy(), slot, ignore_case=f.op == "ilike") for slot in slots]
        return Condition(_quantified(f, nodes), (_like_pattern,) * len(slots))
    if f.op in ("match", "imatch"):
        if not dialect.SUPPORTS_REGEX:
            raise Unsupported(f"operator {f.op} is not supported on {dialect.name}: it has no regular expressions")
        _require_text(f, kind)
        nodes = [dialect.build_regex(this.copy(), slot, ignore_case=f.op == "imatch") for slot in slots]
        return Condition(_quantified(f, nodes), (_regex_pattern,) * len(slots))
    if f.op in _FULL_TEXT_FUNCTIONS:
        return _build_full_text(f, this, kind, slots[0], dialect)
    return _build_containment(f, this, kind, slots[0], dialect)


def _quantified(f: Filter, nodes: list[exp.Expr]) -> exp.Expr:
    """One node, or the nodes of ``op(any)`` / ``op(all)`` joined by OR / AND."""
    if len(nodes) == 1 and not f.modifier:
        return nodes[0]
    combine = exp.and_ if f.modifier == "all" else exp.or_
    return exp.paren(combine(*nodes, copy=False), copy=False)


def _require_text(f: Filter, kind: Kind) -> None:
    if kind not in _TEXT_KINDS:
        raise BadRequest(f"invalid filter {f.key}: {f.op} needs a text column")


def _build_is(this: exp.Expr, value: str, kind: Kind, key: str) -> exp.Expr:
    if value in ("null", "not_null"):
        node = exp.Is(this=this, expression=exp.Null())
        return node if value == "null" else exp.Not(this=node)
    if kind not in (Kind.BOOLEAN, Kind.OTHER):
        raise BadRequest(f"invalid filter {key}: is.{value} needs a boolean column")
    if value == "unknown":  # the third truth value of a boolean is NULL
        return exp.Is(this=this, expression=exp.Null())
    return exp.Is(this=this, expression=exp.Boolean(this=value == "true"))


def _build_full_text(f: Filter, this: exp.Expr, kind: Kind, slot: exp.Expr, dialect: Dialect) -> Condition:
    if not dialect.SUPPORTS_FULL_TEXT:
        raise Unsupported(
            f"operator {f.op} is not supported on {dialect.name}: full-text search is PostgreSQL's text search",
        )
    if f.modifier and f.modifier not in FULL_TEXT_LANGUAGES:
        raise BadRequest(f"invalid filter {f.key}: unknown text search configuration {f.modifier}")
    if kind not in (Kind.TEXT, Kind.JSON, Kind.OTHER):
        raise BadRequest(f"invalid filter {f.key}: {f.op} needs a text or tsvector column")
    function = _FULL_TEXT_FUNCTIONS[f.op]
    return Condition(dialect.build_full_text(this, slot, function=function, language=f.modifier, kind=kind), (str,))


def _build_containment(f: Filter, this: exp.Expr, kind: Kind, slot: exp.Expr, dialect: Dialect) -> Condition:
    if not dialect.SUPPORTS_CONTAINS:
        raise Unsupported(f"operator {f.op} is not supported on {dialect.name}")
    if f.op == "ov":
        if kind is not Kind.OTHER:
            raise BadRequest(f"invalid filter {f.key}: ov needs an array column")
        return Condition(exp.ArrayOverlaps(this=this, expression=slot), (_identity,))
    if kind not in (Kind.JSON, Kind.OTHER):
        raise BadRequest(f"invalid filter {f.key}: {f.op} needs a JSON or array column")
    node_type = exp.ArrayContainsAll if f.op == "cs" else exp.ArrayContainedBy
    return Condition(node_type(this=this, expression=slot), (_identity,))


def _converter(kind: Kind, column: str, dialect: Dialect) -> Converter:
    return text_converter(kind, column, dialect.ADAPTERS.get(kind))


def _like_pattern(text: Any) -> Any:
    # The original's wildcard: * means %. A pattern ending in the escape character is an
    # error the database would raise only on a row whose prefix matches: refused here.
    pattern = str(text).replace("*", "%")
    if ends_in_escape(pattern):
        raise BadRequest("invalid like pattern: it must not end with the escape character \\")
    return pattern


def _regex_pattern(text: Any) -> Any:
    """Refuse a regular expression that cannot compile, before any row is read.

    Python's syntax stands in for the database's: what it rejects is refused, except
    escapes it does not know (PostgreSQL's ``\\m``, ``\\y``), left to the database — the
    filter runs only on rows the policy allows, so its error reveals no hidden row."""
    pattern = str(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # [[:alpha:]] is valid POSIX: Python only warns
        try:
            re.compile(pattern)
        except re.error as exc:
            if not str(exc).startswith("bad escape"):
                raise BadRequest(f"invalid regular expression: {exc.msg}", postgrest_code="2201B") from None
        except RecursionError:
            raise BadRequest("invalid regular expression: nested too deeply", postgrest_code="2201B") from None
    return pattern


def _identity(value: Any) -> Any:
    return value
