"""Parse a REST query string into a :class:`RestQuery`: filters, select, order, paging, flags.

Pure and schema-free: it only splits text. Whether a key names a column is decided
when the query is compiled against a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import unquote_plus

from rls.errors import BadRequest
from rls.jsonin import DEFAULT_MAX_DEPTH, deeper_than

OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is", "cs", "cd"})
FLAGS = frozenset({"count", "singular", "debug", "mine"})
_OPTIONS = frozenset({"select", "order", "page", "page_size", "limit", "offset"})
IS_VALUES = frozenset({"null", "true", "false"})
ALL_ROWS = ("1", "eq", "1")
_MINIMUMS = (("page", 1), ("page_size", 1), ("limit", 0), ("offset", 0))
"""``1=eq.1``: the original's documented way to say "every row" to update or delete."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one query string may ask for; each a setting of the same name (``max_…``)."""

    filters: int = 100
    select_items: int = 200
    json_depth: int = DEFAULT_MAX_DEPTH
    json_path_steps: int = 32


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Filter:
    """``key=op.value``; ``values`` holds the items of an ``in`` list, else the one value.

    ``path`` names the embedded resource the filter applies to (``projects.name=eq.x`` →
    path ``("projects",)``, key ``name``); empty for the requested table itself.
    """

    key: str
    op: str
    values: tuple[str, ...]
    path: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[object, ...]:
        """What the SQL depends on: key, operator, and the arity (or the ``is`` keyword)."""
        shape = (self.key, self.op, self.values[0] if self.op == "is" else len(self.values))
        return (*shape, self.path) if self.path else shape


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

    filters: tuple[Filter, ...] = ()
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
        return [v for f in self.filters if f.op != "is" for v in f.values]

    def with_filter(self, extra: Filter, *, singular: bool) -> RestQuery:
        """This query plus one more filter (``/<table>/<pk>`` addressing)."""
        filters = tuple(sorted((*self.filters, extra), key=_filter_order))
        return _replace(self, filters=filters, singular=self.singular or singular)


def _replace(query: RestQuery, **changes: object) -> RestQuery:
    return replace(query, **changes)  # type: ignore[arg-type]


def _filter_order(f: Filter) -> tuple[tuple[str, ...], str, str]:
    return (f.path, f.key, f.op)


def parse_query(query_string: str, limits: Limits = DEFAULT_LIMITS) -> RestQuery:
    """Parse a URL query string, in time linear in its length; past ``limits`` is a 400
    naming the setting.

    >>> q = parse_query("title=like.*milk*&id=in.(1,2)&order=id.desc&page=2")
    >>> [(f.key, f.op, f.values) for f in q.filters], q.order, q.page
    ([('id', 'in', ('1', '2')), ('title', 'like', ('*milk*',))], 'id.desc', 2)
    """
    filters: list[Filter] = []
    embedded: dict[tuple[tuple[str, ...], str], EmbeddedOption] = {}
    options: dict[str, str] = {}
    flags: set[str] = set()
    all_rows = False
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
            if last in EMBEDDED_OPTIONS:
                option = EmbeddedOption(tuple(path), last, value)
                if (option.path, last) in embedded:
                    raise BadRequest(f"parameter given twice: {key}")
                embedded[(option.path, last)] = option
            else:
                filters.append(parse_filter(last, value, tuple(path)))
        else:
            filters.append(parse_filter(key, value))
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


def check_limits(filters: list[Filter], options: dict[str, str], limits: Limits) -> None:
    """Refuse a query larger than the limits, before anything is compiled."""
    if len(filters) > limits.filters:
        raise BadRequest(f"too many filters: at most {limits.filters} (max_filters)")
    references = [f.key for f in filters]
    for name in ("select", "order"):
        items = options.get(name, "").split(",")
        if len(items) > limits.select_items:
            raise BadRequest(f"too many {name} items: at most {limits.select_items} (max_select_items)")
        references += items
    if any(ref.count("->") > limits.json_path_steps for ref in references):
        raise BadRequest(f"JSON path too long: at most {limits.json_path_steps} steps (max_json_path_steps)")
    for f in filters:
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
            key = unquote_plus(key)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        pairs.append((key, value))
    return pairs


def parse_filter(key: str, text: str, path: tuple[str, ...] = ()) -> Filter:
    """``key`` and ``op.value``, split on the first dot only (``eq.a@b.com`` keeps its dots).

    >>> parse_filter("price", "eq.3.14")
    Filter(key='price', op='eq', values=('3.14',), path=())
    """
    op, dot, value = text.partition(".")
    if not dot:
        raise BadRequest(f"invalid filter {key}={text}: expected {key}=<operator>.<value>")
    if op not in OPERATORS:
        raise BadRequest(f"unknown operator in filter {key}: {op}")
    if op == "in":
        return Filter(key, op, parse_in_list(key, value), path)
    if op == "is":
        if value.lower() not in IS_VALUES:
            raise BadRequest(f"invalid filter {key}: is.<value> takes null, true or false")
        return Filter(key, op, (value.lower(),), path)
    return Filter(key, op, (value,), path)


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
    out: list[str] = []
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise BadRequest(f"invalid filter {key}: unterminated quote in in.(…)")


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
