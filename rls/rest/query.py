"""Parse a REST query string into a :class:`RestQuery`: filters, select, order, paging, flags.

Pure and schema-free: it only splits text. Whether a key names a column is decided
when the query is compiled against a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import NoReturn
from urllib.parse import unquote_plus

from rls.errors import BadRequest
from rls.jsonin import DEFAULT_MAX_DEPTH, deeper_than

COMPARISONS = frozenset({"eq", "ne", "neq", "gt", "gte", "lt", "lte"})
PATTERNS = frozenset({"like", "ilike", "match", "imatch"})
FULL_TEXT = frozenset({"fts", "plfts", "phfts", "wfts"})
OPERATORS = COMPARISONS | PATTERNS | FULL_TEXT | {"in", "is", "isdistinct", "cs", "cd", "ov"}
QUANTIFIED = frozenset({"eq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"})
"""Operators that take PostgREST's ``(any)`` / ``(all)`` modifier over a ``{a,b}`` list."""
LOGIC = frozenset({"and", "or"})
FLAGS = frozenset({"count", "singular", "debug", "mine"})
_OPTIONS = frozenset({"select", "order", "page", "page_size", "limit", "offset"})
IS_VALUES = frozenset({"null", "not_null", "true", "false", "unknown"})
ALL_ROWS = ("1", "eq", "1")
_MINIMUMS = (("page", 1), ("page_size", 1), ("limit", 0), ("offset", 0))
"""``1=eq.1``: the original's documented way to say "every row" to update or delete."""
_LANGUAGE = re.compile(r"[a-z_]{1,63}")
_OPERATOR = re.compile(r"(?:(not)\.)?([a-z]+)(?:\(([a-z_]*)\))?\.")
"""``[not.]<op>[(<modifier>)].``: the head of every filter value."""
_VALUE_END = re.compile(r"[,)]")


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one query string may ask for; each a setting of the same name (``max_…``)."""

    filters: int = 100
    select_items: int = 200
    json_depth: int = DEFAULT_MAX_DEPTH
    json_path_steps: int = 32
    logic_depth: int = 8
    """How deeply ``or=(…)`` / ``and(…)`` may nest (``max_logic_depth``, fixed for now);
    every condition inside them counts toward ``filters``."""


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Filter:
    """``key=[not.]op[(modifier)].value``; ``values`` holds the items of an ``in`` or
    ``{a,b}`` list, else the one value.

    ``path`` names the embedded resource the filter applies to (``projects.name=eq.x`` →
    path ``("projects",)``, key ``name``); empty for the requested table itself.
    ``modifier`` is ``any`` or ``all`` (``like(any).{a*,b*}``), or the language of a
    full-text operator (``fts(english).word``); empty otherwise.
    """

    key: str
    op: str
    values: tuple[str, ...]
    path: tuple[str, ...] = ()
    negated: bool = False
    modifier: str = ""

    @property
    def shape(self) -> tuple[object, ...]:
        """What the SQL depends on: key, operator, and the arity (or the ``is`` keyword)."""
        shape: tuple[object, ...] = (self.key, self.op, self.values[0] if self.op == "is" else len(self.values))
        if self.negated or self.modifier:
            shape = (*shape, self.negated, self.modifier)
        return (*shape, self.path) if self.path else shape

    def bound_values(self) -> tuple[str, ...]:
        """The values the compiled condition binds, in order (``is`` binds none)."""
        return () if self.op == "is" else self.values

    def leaves(self) -> tuple[Filter, ...]:
        return (self,)


@dataclass(frozen=True, slots=True)
class Logic:
    """``or=(a.eq.1,and(b.gt.2,c.is.null))``: conditions combined with AND or OR, in the
    order given; ``negated`` for ``not.or`` / ``not.and``. ``path`` as for :class:`Filter`
    (``projects.or=(…)``); the children carry no path of their own."""

    op: str  # "and" | "or"
    children: tuple[Filter | Logic, ...]
    negated: bool = False
    path: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Sorts logic filters after column filters of the same path (the order is stable)."""
        return "\uffff"

    @property
    def shape(self) -> tuple[object, ...]:
        return (self.op, self.negated, tuple(c.shape for c in self.children), self.path)

    def bound_values(self) -> tuple[str, ...]:
        return tuple(v for c in self.children for v in c.bound_values())

    def leaves(self) -> tuple[Filter, ...]:
        return tuple(leaf for c in self.children for leaf in c.leaves())


Node = Filter | Logic
"""One top-level filter: a condition on a column, or a logic tree of them."""


@dataclass(frozen=True, slots=True)
class EmbeddedOption:
    """``projects.order=name.desc``, ``projects.limit=2``: an option of an embedded resource."""

    path: tuple[str, ...]
    name: str  # one of EMBEDDED_OPTIONS
    value: str


EMBEDDED_OPTIONS = frozenset({"order", "limit", "offset"})


@dataclass(slots=True)
class RestQuery:
    """A parsed query string. Filters are sorted by key and operator (stable), so two
    requests that differ only in parameter order compile to the same SQL."""

    filters: tuple[Node, ...] = ()
    select: str | None = None
    order: str | None = None
    page: int | None = None
    page_size: int | None = None
    limit: int | None = None
    offset: int | None = None
    count: bool = False
    singular: bool = False
    debug: bool = False
    mine: bool = False
    all_rows: bool = False
    embedded: tuple[EmbeddedOption, ...] = ()

    shape: tuple[object, ...] = field(init=False, repr=False, compare=False)
    """Everything the emitted SQL depends on, and nothing it does not (no values);
    computed once, as it keys the plan cache on every request. Treat a query as
    immutable: derive a new one with :meth:`with_filter`."""

    def __post_init__(self) -> None:
        self.shape = (
            tuple(f.shape for f in self.filters),
            self.select,
            self.order,
            self.offset is not None or self.page is not None,
            self.count,
            self.singular,
            self.all_rows,
            tuple((o.path, o.name) for o in self.embedded),
        )

    @property
    def has_filter(self) -> bool:
        return bool(self.filters) or self.all_rows

    def values(self) -> list[str]:
        """The filter values in the order the compiled SQL binds them."""
        return [v for f in self.filters for v in f.bound_values()]

    def leaves(self) -> list[Filter]:
        """Every condition on a column, those inside logic trees included."""
        return [leaf for f in self.filters for leaf in f.leaves()]

    def with_filter(self, extra: Filter, *, singular: bool) -> RestQuery:
        """This query plus one more filter (``/<table>/<pk>`` addressing)."""
        filters = tuple(sorted((*self.filters, extra), key=_filter_order))
        return _replace(self, filters=filters, singular=self.singular or singular)


def _replace(query: RestQuery, **changes: object) -> RestQuery:
    return replace(query, **changes)  # type: ignore[arg-type]


def _filter_order(f: Node) -> tuple[tuple[str, ...], str, str]:
    return (f.path, f.key, f.op)


def parse_query(query_string: str, limits: Limits = DEFAULT_LIMITS) -> RestQuery:
    """Parse a URL query string, in time linear in its length; past ``limits`` is a 400
    naming the setting.

    >>> q = parse_query("title=like.*milk*&id=in.(1,2)&order=id.desc&page=2")
    >>> [(f.key, f.op, f.values) for f in q.filters], q.order, q.page
    ([('id', 'in', ('1', '2')), ('title', 'like', ('*milk*',))], 'id.desc', 2)
    """
    filters: list[Node] = []
    embedded: dict[tuple[tuple[str, ...], str], EmbeddedOption] = {}
    options: dict[str, str] = {}
    flags: set[str] = set()
    all_rows = False
    budget = _Budget(limits)
    for key, value in query_pairs(query_string):
        if key in FLAGS:
            flags.add(key)
        elif key in _OPTIONS:
            if key in options:
                raise BadRequest(f"parameter given twice: {key}")
            options[key] = value
        elif key == "1" and value == "eq.1":  # ALL_ROWS
            all_rows = True
        elif "." in key:
            *path, last = key.split(".")
            if not all(path) or not last:
                raise BadRequest(f"invalid parameter name: {key}")
            negated = last in LOGIC and path[-1] == "not"
            if negated:
                path.pop()
            if last in LOGIC:
                filters.append(parse_logic(last, value, tuple(path), negated=negated, budget=budget))
            elif last in EMBEDDED_OPTIONS:
                option = EmbeddedOption(tuple(path), last, value)
                if (option.path, last) in embedded:
                    raise BadRequest(f"parameter given twice: {key}")
                embedded[(option.path, last)] = option
            else:
                filters.append(budget.count(parse_filter(last, value, tuple(path))))
        elif key in LOGIC:
            filters.append(parse_logic(key, value, budget=budget))
        else:
            filters.append(budget.count(parse_filter(key, value)))
    check_limits(filters, options, limits)
    if len(filters) > 1:
        filters.sort(key=_filter_order)
    numbers = {name: _number(options, name, minimum=low) for name, low in _MINIMUMS if name in options}
    return RestQuery(
        tuple(filters),
        options.get("select") or None,
        options.get("order") or None,
        numbers.get("page"),
        numbers.get("page_size"),
        numbers.get("limit"),
        numbers.get("offset"),
        "count" in flags,
        "singular" in flags,
        "debug" in flags,
        "mine" in flags,
        all_rows,
        tuple(sorted(embedded.values(), key=lambda o: (o.path, o.name))),
    )


class _Budget:
    """Counts conditions as they are parsed, so an oversized ``or=(…)`` stops early."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.used = 0

    def count(self, f: Filter) -> Filter:
        self.used += 1
        if self.used > self.limits.filters:
            raise BadRequest(f"too many filters: at most {self.limits.filters} (max_filters)")
        return f

    def enter(self, depth: int) -> None:
        if depth > self.limits.logic_depth:
            raise BadRequest(f"logic filters nested too deeply: at most {self.limits.logic_depth} (max_logic_depth)")


def check_limits(filters: list[Node], options: dict[str, str], limits: Limits) -> None:
    """Refuse a query larger than the limits, before anything is compiled."""
    leaves = [leaf for f in filters for leaf in f.leaves()]
    if len(leaves) > limits.filters:
        raise BadRequest(f"too many filters: at most {limits.filters} (max_filters)")
    references = [f.key for f in leaves]
    for name in ("select", "order"):
        items = options.get(name, "").split(",")
        if len(items) > limits.select_items:
            raise BadRequest(f"too many {name} items: at most {limits.select_items} (max_select_items)")
        references += items
    if any(ref.count("->") > limits.json_path_steps for ref in references):
        raise BadRequest(f"JSON path too long: at most {limits.json_path_steps} steps (max_json_path_steps)")
    for f in leaves:
        for value in f.values:
            if value.count("[") + value.count("{") > limits.json_depth and deeper_than(value, limits.json_depth):
                raise BadRequest(f"filter {f.key}: JSON nested deeper than {limits.json_depth} (max_json_depth)")


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    """``a=1&b=x%20y`` → pairs, decoded as forms are (``+`` is a space). Blank values are
    kept (flags are bare keys); the common case skips decoding altogether.

    >>> query_pairs("count&title=like.a+b%2A")
    [('count', ''), ('title', 'like.a b*')]
    """
    pairs = []
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in key or "+" in key:
            key = _decoded(key, key)
        if "%" in value or "+" in value:
            value = _decoded(value, key)
        pairs.append((key, value))
    return pairs


def _decoded(text: str, key: str) -> str:
    """``text`` percent-decoded as UTF-8, strictly: bytes that are not UTF-8 (``%FF``, an
    overlong ``%C0%80``, a surrogate ``%ED%A0%80``) are a 400, never U+FFFD."""
    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        name = key if key.isascii() and key.isprintable() else "a parameter name"
        raise BadRequest(f"invalid query string: {name[:100]} is not valid UTF-8 once percent-decoded") from None


def parse_filter(key: str, text: str, path: tuple[str, ...] = ()) -> Filter:
    """``key`` and ``[not.]op[(modifier)].value``; the value is the rest of the text
    (``eq.a@b.com`` keeps its dots).

    >>> parse_filter("price", "eq.3.14")
    Filter(key='price', op='eq', values=('3.14',), path=(), negated=False, modifier='')
    >>> parse_filter("name", 'not.like(any).{a*,"b,c"}').values
    ('a*', 'b,c')
    """
    negated, op, modifier, start = _operator(key, text, 0)
    return Filter(key, op, _values(key, op, modifier, text[start:]), path, negated, modifier)


def _operator(key: str, text: str, i: int) -> tuple[bool, str, str, int]:
    """The ``[not.]op[(modifier)].`` at ``text[i:]``: (negated, op, modifier, value start)."""
    head = _OPERATOR.match(text, i)
    if head is None:
        if "." not in text[i:]:
            raise BadRequest(f"invalid filter {key}={text[i:]}: expected {key}=<operator>.<value>")
        raise BadRequest(f"unknown operator in filter {key}: {text[i:].partition('.')[0][:40]}")
    negated, op, modifier = head[1] is not None, head[2], head[3]
    if op not in OPERATORS:
        raise BadRequest(f"unknown operator in filter {key}: {op}")
    if modifier is None:
        modifier = ""
    elif op in FULL_TEXT:
        if not _LANGUAGE.fullmatch(modifier):
            raise BadRequest(f"invalid filter {key}: {op}(<language>) takes a text search configuration")
    elif modifier not in ("any", "all") or op not in QUANTIFIED:
        raise BadRequest(f"invalid filter {key}: {op}({modifier}) is not a modifier of {op}")
    return negated, "ne" if op == "neq" else op, modifier, head.end()


def _values(key: str, op: str, modifier: str, text: str) -> tuple[str, ...]:
    if op == "in":
        return parse_in_list(key, text)
    if modifier in ("any", "all"):
        return parse_brace_list(key, text)
    if op == "is":
        if text.lower() not in IS_VALUES:
            raise BadRequest(f"invalid filter {key}: is.<value> takes null, true or false (or not_null, unknown)")
        return (text.lower(),)
    return (text,)


def parse_logic(
    op: str, text: str, path: tuple[str, ...] = (), *, negated: bool = False, budget: _Budget | None = None
) -> Logic:
    """``or=(a.eq.1,and(b.gt.2,c.not.is.null))`` → a :class:`Logic` tree; one pass over the
    text. Values with ``,`` ``.`` ``:`` ``(`` ``)`` are written in double quotes
    (``\\"`` is a quote and ``\\\\`` a backslash inside them).

    >>> tree = parse_logic("or", '(a.eq.1,not.and(b.gt.2,c.eq."x,y"))')
    >>> [c.shape for c in tree.children]
    [('a', 'eq', 1), ('and', True, (('b', 'gt', 1), ('c', 'eq', 1)), ())]
    """
    parser = _LogicParser(text, budget or _Budget(DEFAULT_LIMITS), f"{'not.' if negated else ''}{op}")
    if not text.startswith("("):
        parser.fail("expected (<condition>,<condition>,...)")
    children, end = parser.conditions(1, 1)
    if end != len(text):
        parser.fail("unexpected text after the closing )")
    return Logic(op, children, negated, path)


_LOGIC_OPENERS = ("or(", "and(")


class _LogicParser:
    """A recursive-descent reader of a logic list; each character is read once."""

    def __init__(self, text: str, budget: _Budget, name: str):
        self.text = text
        self.budget = budget
        self.name = name

    def fail(self, reason: str) -> NoReturn:
        raise BadRequest(f"invalid logic filter {self.name}: {reason}")

    def conditions(self, i: int, depth: int) -> tuple[tuple[Node, ...], int]:
        """The items of the list opened just before ``i``, and the index after its ``)``."""
        self.budget.enter(depth)
        text, items = self.text, []
        while True:
            while i < len(text) and text[i] == " ":
                i += 1
            item, i = self.condition(i, depth)
            items.append(item)
            if i >= len(text):
                self.fail("missing )")
            if text[i] == ")":
                return tuple(items), i + 1
            if text[i] != ",":
                self.fail(f"expected , or ) at position {i}")
            i += 1

    def condition(self, i: int, depth: int) -> tuple[Node, int]:
        text = self.text
        negated = text.startswith("not.", i)
        start = i + 4 if negated else i
        if text.startswith(_LOGIC_OPENERS, start):
            op = "or" if text[start] == "o" else "and"
            children, end = self.conditions(start + len(op) + 1, depth + 1)
            return Logic(op, children, negated), end
        dot = text.find(".", i)
        key = text[i:dot]
        if dot <= i or any(ch in key for ch in ',()"'):
            self.fail(f"expected <column>.<operator>.<value> at position {i}")
        negated, op, modifier, i = _operator(key, text, dot + 1)
        if op == "in":
            end = _closing(text, i, "(", ")", self)
            values = parse_in_list(key, text[i:end])
        elif modifier in ("any", "all"):
            end = _closing(text, i, "{", "}", self)
            values = parse_brace_list(key, text[i:end])
        elif text.startswith('"', i):
            value, end = _quoted(text, i + 1, key)
            values = _values(key, op, modifier, value)
        else:
            found = _VALUE_END.search(text, i)
            end = len(text) if found is None else found.start()
            values = _values(key, op, modifier, text[i:end])
        return self.budget.count(Filter(key, op, values, (), negated, modifier)), end


def _closing(text: str, i: int, opening: str, closing: str, parser: _LogicParser) -> int:
    """The index after the ``closing`` that ends the list opened at ``text[i]``."""
    if not text.startswith(opening, i):
        parser.fail(f"expected {opening} at position {i}")
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            _, i = _quoted(text, i + 1, parser.name)
        elif ch == closing:
            return i + 1
        else:
            i += 1
    parser.fail(f"missing {closing}")


def parse_brace_list(key: str, text: str) -> tuple[str, ...]:
    """``{a*,"b,c"}`` → items, for the ``(any)`` and ``(all)`` modifiers.

    >>> parse_brace_list("name", '{a*, "b,c"}')
    ('a*', 'b,c')
    """
    if not (text.startswith("{") and text.endswith("}")):
        raise BadRequest(f"invalid filter {key}: (any)/(all) take a list {{<value>,<value>,...}}")
    return parse_in_list(key, f"({text[1:-1]})")


def parse_in_list(key: str, text: str) -> tuple[str, ...]:
    """``(1,2,"a,b")`` → items; double quotes keep commas, ``\\"`` is a quote inside them.

    >>> parse_in_list("id", '(1, "a,b" ,c)')
    ('1', 'a,b', 'c')
    """
    if not (text.startswith("(") and text.endswith(")")):
        raise BadRequest(f"invalid filter {key}: in.(<value>,<value>,...) expected")
    body = text[1:-1]
    items: list[str] = []
    i, n = 0, len(body)
    while i <= n:
        while i < n and body[i] == " ":
            i += 1
        if i < n and body[i] == '"':
            item, i = _quoted(body, i + 1, key)
            while i < n and body[i] == " ":
                i += 1
            if i < n and body[i] != ",":
                raise BadRequest(f"invalid filter {key}: unexpected text after a quoted value")
        else:
            end = body.find(",", i)
            end = n if end < 0 else end
            item, i = body[i:end].strip(), end
        items.append(item)
        i += 1
    if items == [""]:
        raise BadRequest(f"invalid filter {key}: in.() needs at least one value")
    return tuple(items)


def _quoted(body: str, i: int, key: str) -> tuple[str, int]:
    """The quoted value starting at ``body[i]`` (after its ``"``) and the index after its
    closing ``"``; ``\\x`` is ``x``. Each character is looked at once."""
    out: list[str] = []
    quote = body.find('"', i)
    while quote >= 0:
        escape = body.find("\\", i, quote)
        if escape < 0:
            out.append(body[i:quote])
            return "".join(out), quote + 1
        out.append(body[i:escape])
        out.append(body[escape + 1 : escape + 2])
        i = escape + 2
        if i > quote:  # the escaped character was the quote: look for the next one
            quote = body.find('"', i)
    raise BadRequest(f"invalid filter {key}: unterminated quote")


def _number(options: dict[str, str], name: str, *, minimum: int) -> int | None:
    text = options.get(name)
    if text is None or text == "":
        return None
    if not text.isascii() or not text.isdigit():
        raise BadRequest(f"invalid {name}: expected a whole number, got {text!r}")
    value = int(text)
    if value < minimum:
        raise BadRequest(f"invalid {name}: must be at least {minimum}")
    return value
