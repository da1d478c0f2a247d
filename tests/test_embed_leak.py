"""Embedding never shows, counts or infers a row a policy hides: generated embed trees
(depth ≤ 3, random filters, ``!inner``, orders, limits) answered for every caller and
compared with what the policies allow, computed independently in Python.

``RLS_EMBED_LEAK_EXAMPLES`` sets the number of generated trees per database (default 25).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.embedworld import CALLERS, EmbedWorld, Row, allowed, world_fixture

EXAMPLES = int(os.environ.get("RLS_EMBED_LEAK_EXAMPLES", "25"))

# (parent, child) → ("m2o", parent column) | ("o2m", child column) | ("m2m", junction, to parent, to child)
RELATIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("tasks", "projects"): ("m2o", "project_id"),
    ("projects", "teams"): ("m2o", "team_id"),
    ("members", "teams"): ("m2o", "team_id"),
    ("project_tags", "projects"): ("m2o", "project_id"),
    ("project_tags", "tags"): ("m2o", "tag_id"),
    ("secrets", "projects"): ("m2o", "project_id"),
    ("teams", "projects"): ("o2m", "team_id"),
    ("teams", "members"): ("o2m", "team_id"),
    ("projects", "tasks"): ("o2m", "project_id"),
    ("projects", "project_tags"): ("o2m", "project_id"),
    ("projects", "secrets"): ("o2m", "project_id"),
    ("tags", "project_tags"): ("o2m", "tag_id"),
    ("projects", "tags"): ("m2m", "project_tags", "project_id", "tag_id"),
    ("tags", "projects"): ("m2m", "project_tags", "tag_id", "project_id"),
}
COLUMNS = {
    "teams": ("id", "name"),
    "members": ("id", "team_id", "user_id"),
    "projects": ("id", "name", "published", "owner_id"),
    "tasks": ("id", "title", "done", "project_id", "owner_id"),
    "tags": ("id", "label"),
    "project_tags": ("project_id", "tag_id"),
    "secrets": ("id", "body"),
}
KEYS = {"project_tags": ("project_id", "tag_id")}
Predicate = Callable[[Row], bool]
FILTERS: dict[str, list[tuple[str, str, Predicate]]] = {
    "teams": [("name", "like.*e*", lambda r: "e" in r["name"]), ("id", "gt.1", lambda r: r["id"] > 1)],
    "members": [("team_id", "eq.1", lambda r: r["team_id"] == 1)],
    "projects": [
        ("published", "is.true", lambda r: r["published"]),
        ("name", "like.*ta*", lambda r: "ta" in r["name"]),
        ("id", "lt.4", lambda r: r["id"] < 4),
    ],
    "tasks": [
        ("done", "is.false", lambda r: not r["done"]),
        ("title", "like.*an*", lambda r: "an" in r["title"]),
        ("details->>k", "eq.apple", lambda r: (r["details"] or {}).get("k") == "apple"),
        ("id", "gt.12", lambda r: r["id"] > 12),
    ],
    "tags": [("label", "like.*r*", lambda r: "r" in r["label"])],
    "project_tags": [("tag_id", "eq.2", lambda r: r["tag_id"] == 2)],
    "secrets": [("body", "like.*1*", lambda r: "1" in r["body"])],
}


@dataclass
class Node:
    """One resource of a generated request."""

    table: str
    columns: tuple[str, ...]
    filter: tuple[str, str, Predicate] | None
    desc: bool
    inner: bool = False
    limit: int | None = None
    offset: int | None = None
    children: list[Node] = field(default_factory=list)
    alias: str = ""
    count: bool = False  # select=…,x:tasks(count): [{"count": n}]


def _key(table: str) -> tuple[str, ...]:
    return KEYS.get(table, ("id",))


@st.composite
def nodes(draw: st.DrawFn, table: str, depth: int, parent: str | None) -> Node:
    columns = tuple(c for c in COLUMNS[table] if draw(st.booleans())) or COLUMNS[table][:1]
    node = Node(
        table,
        columns,
        draw(st.none() | st.sampled_from(FILTERS[table])),
        draw(st.booleans()),
    )
    if parent is not None:
        node.inner = draw(st.booleans())
        if RELATIONS[(parent, table)][0] != "m2o" and draw(st.booleans()):
            node.limit = draw(st.integers(0, 2))
            node.offset = draw(st.none() | st.integers(0, 1))
    if depth < 3:
        options = [child for (p, child) in RELATIONS if p == table]
        for child in draw(st.lists(st.sampled_from(options), max_size=2)):
            node.children.append(draw(nodes(child, depth + 1, table)))
    if parent is not None and not node.children and RELATIONS[(parent, table)][0] != "m2o":
        node.count = draw(st.integers(0, 4)) == 0
    return node


@dataclass
class Request:
    table: str
    query: list[tuple[str, str]]
    root: Node
    count: bool


@st.composite
def requests(draw: st.DrawFn) -> Request:
    table = draw(st.sampled_from(["teams", "projects", "tasks", "tags", "members", "project_tags"]))
    root = draw(nodes(table, 0, None))
    counter = [0]
    query: list[tuple[str, str]] = []

    def select(node: Node, path: tuple[str, ...]) -> str:
        parts = ["count"] if node.count else list(node.columns)
        for child in node.children:
            counter[0] += 1
            child.alias = f"x{counter[0]}"
            child_path = (*path, child.alias)
            parts.append(f"{child.alias}:{child.table}{'!inner' if child.inner else ''}({select(child, child_path)})")
        prefix = ".".join(path) + "." if path else ""
        if node.filter is not None:
            query.append((prefix + node.filter[0], node.filter[1]))
        if path:
            key = _key(node.table)
            if node.desc:
                query.append((prefix + "order", ",".join(f"{k}.desc" for k in key)))
            if node.limit is not None:
                query.append((prefix + "limit", str(node.limit)))
            if node.offset is not None:
                query.append((prefix + "offset", str(node.offset)))
        return ",".join(parts)

    query.insert(0, ("select", select(root, ())))
    count = draw(st.booleans())
    if count:
        query.append(("count", ""))
    return Request(table, query, root, count)


# -- the oracle -------------------------------------------------------------------------


class Denied(Exception):
    pass


class Oracle:
    """What the policies let ``caller`` see, from the rows as Python data."""

    def __init__(self, world: EmbedWorld, caller: str):
        self.world, self.caller = world, caller

    def visible(self, table: str) -> list[Row]:
        rows = allowed(self.world.rows, table, self.caller)
        if rows is None:
            raise Denied(table)
        return rows

    def check_tables(self, node: Node, parent: str | None) -> None:
        self.visible(node.table)
        if parent is not None and RELATIONS[(parent, node.table)][0] == "m2m":
            self.visible(RELATIONS[(parent, node.table)][1])
        for child in node.children:
            self.check_tables(child, node.table)

    def related(self, node: Node, parent: str, row: Row) -> list[Row]:
        relation = RELATIONS[(parent, node.table)]
        visible = self.visible(node.table)
        if relation[0] == "m2o":
            found = [r for r in visible if r["id"] == row[relation[1]]]
        elif relation[0] == "o2m":
            found = [r for r in visible if r[relation[1]] == row["id"]]
        else:
            junction, to_parent, to_child = relation[1:]
            links = [j[to_child] for j in self.visible(junction) if j[to_parent] == row["id"]]
            found = [r for link in links for r in visible if r["id"] == link]
        return self.matching(node, found)

    def matching(self, node: Node, rows: list[Row]) -> list[Row]:
        out = [r for r in rows if node.filter is None or node.filter[2](r)]
        out = [r for r in out if all(self.related(c, node.table, r) for c in node.children if c.inner)]
        return sorted(out, key=lambda r: tuple(r[k] for k in _key(node.table)), reverse=node.desc)

    def value(self, node: Node, parent: str, row: Row) -> Any:
        rows = self.related(node, parent, row)
        if RELATIONS[(parent, node.table)][0] == "m2o":
            return self.obj(node, rows[0]) if rows else None
        if node.count:
            return [{"count": len(rows)}]
        start = node.offset or 0
        end = None if node.limit is None else start + node.limit
        return [self.obj(node, r) for r in rows[start:end]]

    def obj(self, node: Node, row: Row) -> dict[str, Any]:
        out = {c: self.world.ids[row[c]] if c in ("owner_id", "user_id") else row[c] for c in node.columns}
        for child in node.children:
            out[child.alias] = self.value(child, node.table, row)
        return out

    def answer(self, request: Request) -> tuple[int, Any]:
        try:
            self.check_tables(request.root, None)
        except Denied:
            return (401 if self.caller == "anonymous" else 403), None
        root = request.root
        rows = self.matching(root, self.visible(root.table))
        rows = sorted(rows, key=lambda r: tuple(r[k] for k in _key(root.table)))
        if request.count:
            return 200, len(rows)
        return 200, [self.obj(root, r) for r in rows]


# -- the test ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worlds(make_database_url):
    get = world_fixture(make_database_url)
    yield get
    for world in get.made.values():
        world.db.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("RLS_EMBED_LEAK_RANDOM") is None,
)
@given(request=requests())
def test_embedding_shows_exactly_what_the_policies_allow(worlds, backend, request):
    world = worlds(backend)
    for caller in CALLERS:
        status, expected = Oracle(world, caller).answer(request)
        reply = world.get(caller, f"/{request.table}", request.query)
        assert reply.status == status, (caller, request.query, reply.body)
        if status == 200:
            assert reply.json == expected, (caller, request.query)


def test_oracle_sees_hidden_rows_differ_per_caller(worlds, backend):
    # The generated comparisons mean something only if callers see different rows.
    world = worlds(backend)
    seen = {c: len(allowed(world.rows, "tasks", c) or []) for c in ("alice", "bob", "carol")}
    assert len(set(seen.values())) > 1 and 0 < min(seen.values()) < len(world.rows["tasks"])
