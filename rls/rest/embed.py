"""Embedded resources (``select=*,projects(*)``): which foreign key relates two tables, and
the tree of embedded tables a select asks for, each with its own read policy.

Resolution needs the live schema and the caller's policies; it happens per request, before
the plan cache (it is cheap). What it decides goes into the cache key: every embedded
table, the relationship chosen, ``!inner``, and every policy decision's key — never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from dialects.base import Dialect
from rls.errors import BadRequest, RlsError, UnknownTable
from rls.policy.compile import Predicate
from rls.rest.query import EmbeddedOption, Filter, Node, RestQuery
from rls.rest.terms import EmbedSyntax, SelectItem, parse_embed, parse_select_list, split_select
from rls.schema import ForeignKey, Schema, Table

MAX_DEPTH = 4
"""Embedded resources nest at most this deep (``a(b(c(d(*))))``): each level is a
correlated sub-query per row of the level above."""

MAX_EMBEDS = 16
"""At most this many embedded resources in one request."""


class NoRelationship(BadRequest):
    """No foreign key relates the two tables (PostgREST's PGRST200)."""

    code = "no_relationship"
    postgrest_code = "PGRST200"


class AmbiguousRelationship(RlsError):
    """More than one foreign key relates the two tables (PostgREST's PGRST201): the client
    names one with ``!<constraint>`` or ``!<column>``."""

    status = 300
    code = "ambiguous_relationship"
    postgrest_code = "PGRST201"

    def __init__(self, message: str = "more than one relationship was found", candidates: Sequence[str] = ()):
        super().__init__(
            message, hint="Try changing the embedded resource to one of the candidates, as in table!constraint(…)"
        )
        self.candidates = tuple(candidates)

    def to_json(self) -> dict[str, object]:
        body = super().to_json()
        body["details"] = list(self.candidates)  # PostgREST lists the candidates here
        return body


@dataclass(frozen=True, slots=True)
class Relationship:
    """How an embedded table relates to its parent.

    ``key`` holds the foreign key between parent and child (on the child for one-to-many,
    on the parent for many-to-one); for many-to-many, ``key`` goes from ``junction`` to the
    parent and ``target_key`` from ``junction`` to the child.
    """

    cardinality: str  # "many_to_one", "one_to_many", "many_to_many"
    key: ForeignKey
    target_key: ForeignKey | None = None

    @property
    def junction(self) -> str | None:
        return self.key.table if self.target_key is not None else None

    @property
    def to_one(self) -> bool:
        return self.cardinality == "many_to_one"

    @property
    def label(self) -> str:
        """The constraint names, as PostgREST lists candidates."""
        return self.key.name if self.target_key is None else f"{self.key.name},{self.target_key.name}"


def find_relationship(schema: Schema, parent: str, child: str, hint: str | None) -> Relationship:
    """The one relationship between ``parent`` and ``child``; ``hint`` is a constraint name,
    a foreign key column, or a junction table.

    Raises :class:`NoRelationship` (400) or :class:`AmbiguousRelationship` (300).
    """
    candidates: list[Relationship] = []
    for key in schema.foreign_keys:
        if key.table == parent and key.referenced == child:
            candidates.append(Relationship("many_to_one", key))
        if key.table == child and key.referenced == parent:
            candidates.append(Relationship("one_to_many", key))
    for to_parent in schema.foreign_keys:
        if to_parent.referenced != parent or to_parent.table in (parent, child):
            continue
        for to_child in schema.foreign_keys:
            if to_child.table == to_parent.table and to_child.referenced == child and to_child != to_parent:
                candidates.append(Relationship("many_to_many", to_parent, to_child))
    if hint is not None:
        candidates = [r for r in candidates if _matches(r, hint)]
        if len(candidates) == 2 and candidates[0].key == candidates[1].key and parent == child:
            # A self-referencing key matches both ways: a column hint names the parent's own
            # column (its parent row, many-to-one), a constraint hint its children.
            wanted = "many_to_one" if (hint,) == candidates[0].key.columns else "one_to_many"
            candidates = [r for r in candidates if r.cardinality == wanted]
    if not candidates:
        hinted = f" using the hint '{hint}'" if hint else ""
        raise NoRelationship(
            f"Could not find a relationship between '{parent}' and '{child}'{hinted} in the schema cache"
        )
    if len(candidates) > 1:
        raise AmbiguousRelationship(
            f"Could not embed because more than one relationship was found for '{parent}' and '{child}'",
            [f"{r.cardinality}: {r.label}" for r in candidates],
        )
    return candidates[0]


def _matches(relationship: Relationship, hint: str) -> bool:
    keys = [relationship.key] if relationship.target_key is None else [relationship.key, relationship.target_key]
    if relationship.junction == hint:
        return True
    return any(hint == k.name or (hint,) == k.columns for k in keys)


# -- the tree ---------------------------------------------------------------------------


@dataclass
class Embed:
    """One embedded resource, resolved: its table as the caller may see it, how it relates
    to its parent, its read policy (and the junction table's), its select list."""

    name: str  # the output key (alias or table name)
    syntax: EmbedSyntax
    table: Table
    relationship: Relationship
    using: Predicate | None
    junction: Table | None
    junction_using: Predicate | None
    items: list[SelectItem | Embed]
    sql_alias: str
    filters: list[tuple[int, Node]] = field(default_factory=list)  # (first value index, filter)
    options: dict[str, tuple[int, EmbeddedOption]] = field(default_factory=dict)
    aggregate: bool = False  # its items are aggregates only: one object, in an array

    @property
    def inner(self) -> bool:
        return self.syntax.inner

    def children(self) -> list[Embed]:
        return [i for i in self.items if isinstance(i, Embed)]


@dataclass
class SelectTree:
    """A select list with its embedded resources resolved; ``key`` describes everything the
    SQL depends on beyond the query's own shape (tables, relationships, policy decisions)."""

    items: list[SelectItem | Embed]
    key: Hashable
    embeds: list[Embed]  # every embedded resource, in tree order

    def children(self) -> list[Embed]:
        return [i for i in self.items if isinstance(i, Embed)]


Lookup = Callable[[str], Table]
"""The table called ``name`` as the caller may see it (unserved tables unknown, hidden
columns removed)."""

Decide = Callable[[Table], tuple[Hashable, Predicate | None]]
"""The caller's read policy on a table: (decision key, predicate); raises the denial."""


@dataclass
class _Resolver:
    schema: Schema
    dialect: Dialect
    lookup: Lookup
    decide: Decide
    embeds: list[Embed] = field(default_factory=list)
    key: list[Hashable] = field(default_factory=list)

    def items(self, text: str, table: Table, depth: int) -> list[SelectItem | Embed]:
        out: list[SelectItem | Embed] = []
        for item in parse_select_list(text, table, self.dialect):
            out.append(self.embed(item, table, depth + 1) if isinstance(item, EmbedSyntax) else item)
        return out

    def embed(self, syntax: EmbedSyntax, parent: Table, depth: int) -> Embed:
        if depth > MAX_DEPTH:
            raise BadRequest(f"embedded resources nest at most {MAX_DEPTH} deep")
        if len(self.embeds) >= MAX_EMBEDS:
            raise BadRequest(f"at most {MAX_EMBEDS} embedded resources in one request")
        try:
            table = self.lookup(syntax.name)
        except UnknownTable:
            raise BadRequest(
                f"function not allowed: {syntax.name} (nor is there a table {syntax.name} to embed)"
            ) from None
        relationship = find_relationship(
            self.schema, parent.name, table.name, syntax.hints[0] if syntax.hints else None
        )
        key, using = self.decide(table)
        junction, junction_using, junction_key = None, None, None
        if relationship.junction is not None:
            try:
                junction = self.lookup(relationship.junction)
            except UnknownTable:  # a junction the server does not serve relates nothing
                raise NoRelationship(
                    f"Could not find a relationship between '{parent.name}' and '{table.name}'"
                ) from None
            junction_key, junction_using = self.decide(junction)
        _check_columns(relationship, parent, table, junction)
        embed = Embed(
            syntax.output_name, syntax, table, relationship, using, junction, junction_using, [],
            f"rls_e{len(self.embeds) + 1}",
        )  # fmt: skip
        self.embeds.append(embed)
        self.key.append((depth, syntax, relationship.label, relationship.cardinality, key, junction_key))
        embed.items = self.items(syntax.select, table, depth)
        aggregates = [isinstance(i, SelectItem) and i.aggregate for i in embed.items]
        if any(aggregates):
            # tasks(count), tasks(amount.sum(),count()): one object over the related rows.
            if not all(aggregates) or relationship.to_one:
                raise BadRequest(
                    f"{syntax.name}: aggregates inside an embedded resource stand alone (no columns, "
                    "no embedded resources) and need a to-many relationship"
                )
            embed.aggregate = True
        return embed


def _check_columns(relationship: Relationship, parent: Table, child: Table, junction: Table | None) -> None:
    """A foreign key over a column the caller may not see (a hidden column) cannot be used."""
    keys = [relationship.key] + ([relationship.target_key] if relationship.target_key else [])
    tables = {parent.name: parent, child.name: child}
    if junction is not None:
        tables[junction.name] = junction
    for key in keys:
        for table_name, columns in ((key.table, key.columns), (key.referenced, key.referenced_columns)):
            if any(c not in tables[table_name].columns for c in columns):
                raise NoRelationship(f"Could not find a relationship between '{parent.name}' and '{child.name}'")


def resolve_select(
    query: RestQuery, table: Table, schema: Schema, dialect: Dialect, lookup: Lookup, decide: Decide
) -> SelectTree | None:
    """The select list of ``query`` with every embedded resource resolved and its filters
    and options attached; None when it embeds nothing (and then nothing may address an
    embedded resource)."""
    if not query.select or not _embeds_something(query.select):
        refuse_embedded(query)
        return None
    resolver = _Resolver(schema, dialect, lookup, decide)
    items = resolver.items(query.select, table, 0)
    # The orders of embedded resources are compiled into the SQL (their limits and offsets bind).
    orders = tuple((o.path, o.value) for o in query.embedded if o.name == "order")
    tree = SelectTree(items, (tuple(resolver.key), orders), resolver.embeds)
    if any(isinstance(i, SelectItem) and i.aggregate for i in items):
        raise BadRequest("aggregates together with embedded resources are not supported")
    _attach(query, tree)
    return tree


def _embeds_something(select: str) -> bool:
    """Whether the select list names an embedded resource (a cheap look, before resolving)."""
    if "(" not in select:
        return False
    return any(parse_embed(p) is not None for p in split_select(select) if "(" in p and not p.endswith("()"))


def refuse_embedded(query: RestQuery) -> None:
    """Filters and options addressed to an embedded resource (``projects.name=eq.x``) need
    that resource in the request's ``select``; fail closed on anything else."""
    for f in query.filters:
        if f.path:
            raise BadRequest(
                f"filter on an embedded resource that is not selected: {_name(f)}", postgrest_code="PGRST108"
            )
    for o in query.embedded:
        name = ".".join((*o.path, o.name))
        raise BadRequest(f"option for an embedded resource that is not selected: {name}", postgrest_code="PGRST108")


def _name(f: Node) -> str:
    """``projects.name`` for a filter, ``projects.or`` for a logic tree."""
    return ".".join((*f.path, f.key if isinstance(f, Filter) else f.op))


def _attach(query: RestQuery, tree: SelectTree) -> None:
    """Each embedded filter and option to its resource; value indexes in the order
    :meth:`RestQuery.values` lists the filters, then the embedded limits and offsets."""
    index = 0
    for f in query.filters:
        if f.path:
            _find(tree, f.path, _name(f)).filters.append((index, f))
        index += len(f.bound_values())
    for option in query.embedded:
        embed = _find(tree, option.path, ".".join((*option.path, option.name)))
        embed.options[option.name] = (index, option)
        if option.name in PAGING_OPTIONS:
            index += 1


PAGING_OPTIONS = ("limit", "offset")


def _find(tree: SelectTree, path: tuple[str, ...], what: str) -> Embed:
    children = tree.children()
    found: Embed | None = None
    for step in path:
        matches = [e for e in children if e.name == step] or [e for e in children if e.table.name == step]
        if len(matches) != 1:
            problem = "is not selected" if not matches else "is ambiguous (name it by its alias)"
            raise BadRequest(
                f"filter or option on an embedded resource that {problem}: {what}", postgrest_code="PGRST108"
            )
        found = matches[0]
        children = found.children()
    assert found is not None  # path is never empty here
    return found


def paging_values(query: RestQuery, *, max_size: int) -> list[int]:
    """The embedded limits and offsets, in the order :func:`_attach` indexes them; checked
    whole numbers (they bind as parameters)."""
    values = []
    for option in query.embedded:
        if option.name not in PAGING_OPTIONS:
            continue
        text = option.value
        if not text.isascii() or not text.isdigit() or len(text) > 15:
            raise BadRequest(f"invalid {'.'.join((*option.path, option.name))}: expected a whole number")
        value = int(text)
        if option.name == "limit" and value > max_size:
            raise BadRequest(f"embedded page size too large: at most {max_size} rows")
        values.append(value)
    return values
