"""A seeded generator of SELECT and DML statements over the fuzzer's world.

Statements are written in the common subset of PostgreSQL, MariaDB and SQLite; the few
shapes that differ (upserts, ``UPDATE … FROM``, ``DELETE … USING``) carry a per-database
variant, or none where a database has no equivalent. Placeholders are written ``{pN}``
and numbered in text order when a case is finished. ``Case.uses`` lists the
(table, action) pairs a statement needs (for the guard's deny-by-design rule).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tests.fuzz.world import TABLE, USERS, TableDef

DIALECTS = ("postgres", "mysql", "sqlite")


@dataclass
class Case:
    index: int
    user: str
    kind: str  # select or dml
    sql: dict[str, str | None]  # per dialect; {p} marks a placeholder
    params: tuple[Any, ...]
    uses: frozenset[tuple[str, str]]
    features: tuple[str, ...]
    target: str | None = None
    shape: str = ""
    named: bool = False  # %(name)s / :name instead of %s / ?

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "user": self.user,
            "kind": self.kind,
            "sql": self.sql,
            "params": list(self.params),
            "named": self.named,
            "shape": self.shape,
            "features": list(self.features),
        }


# Columns that join: (table, column, table, column), used both ways.
LINKS = (
    ("docs", "team_id", "teams", "id"),
    ("team_members", "team_id", "teams", "id"),
    ("team_members", "user_id", "docs", "owner_id"),
    ("notes", "doc_id", "docs", "id"),
    ("invoices", "org", "teams", "org"),
    ("tags", "id", "docs", "id"),
    ("docs", "id", "invoices", "id"),
    ("tags", "name", "teams", "name"),
    ("team_members", "team_id", "docs", "team_id"),
    ("notes", "id", "team_members", "id"),
)
READ_WEIGHTS = {"docs": 6, "team_members": 2, "teams": 2, "notes": 2, "invoices": 2, "tags": 1}
WRITE_WEIGHTS = {"docs": 6, "notes": 3, "tags": 2, "teams": 1, "team_members": 1, "invoices": 1}
TEXT_VALUES = {
    "name": ["red", "blue", "grey", "pink"],
    "org": ["acme", "beta", "gamma", "zeta"],
    "role": ["editor", "viewer", "owner"],
    "title": ["alpha", "gamma", "kappa", "omega"],
    "status": ["published", "draft", "review", "archived"],
    "author": ["u9", "u8", "1", "2"],
    "body": ["first", "third", "none"],
}
TS_VALUES = ["2024-01-15 00:00:00", "2024-02-10 12:00:00", "2024-03-01 00:00:00", "2024-12-31 00:00:00"]


def _links(table: str) -> list[tuple[str, str, str]]:
    out = [(c1, t2, c2) for t1, c1, t2, c2 in LINKS if t1 == table]
    return out + [(c2, t1, c1) for t1, c1, t2, c2 in LINKS if t2 == table]


class Gen:
    """One statement per call of :meth:`case`; all randomness from one seeded Random."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self._alias = 0

    # -- bookkeeping --------------------------------------------------------------------

    def _reset(self, user: str) -> None:
        self.params: list[Any] = []
        self.uses: set[tuple[str, str]] = set()
        self.features: set[str] = set()
        self.user = USERS[user]
        self.shape = ""
        self._alias = 0

    def alias(self) -> str:
        self._alias += 1
        return f"a{self._alias}"

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"{{p{len(self.params) - 1}}}"

    def value(self, value: Any) -> str:
        """A literal, or (one time in four) a bound parameter."""
        if self.rng.random() < 0.25:
            self.features.add("param")
            return self.param(value)
        if isinstance(value, str):
            return "'" + value + "'"
        return "NULL" if value is None else str(value)

    def pick(self, seq: Any) -> Any:
        return self.rng.choice(list(seq))

    def table(self, weights: dict[str, int] = READ_WEIGHTS) -> TableDef:
        names = list(weights)
        return TABLE[self.rng.choices(names, [weights[n] for n in names])[0]]

    def read(self, table: str) -> str:
        self.uses.add((table, "read"))
        return table

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # -- expressions --------------------------------------------------------------------

    def literal_for(self, table: TableDef, col: str) -> Any:
        c = table.col(col)
        if c.kind == "int":
            return self.rng.randint(0, 11)
        if c.kind == "ts":
            return self.pick(TS_VALUES)
        return self.pick(TEXT_VALUES.get(col, ["x"]))

    def cond(self, a: str, t: TableDef, depth: int = 0) -> str:
        kinds = ["cmp", "cmp", "text", "null", "like", "ts", "between", "in", "coalesce", "case"]
        if depth < 2:
            kinds += ["bool", "bool", "in_sub", "exists", "scalar"]
        kind = self.pick(kinds)
        r = self.rng
        if kind == "cmp":
            c = self.pick(t.of_kind("int"))
            return f"{a}.{c.name} {self.pick(['=', '<', '>', '<=', '>=', '<>'])} {self.value(r.randint(0, 11))}"
        if kind == "text" and t.of_kind("text"):
            c = self.pick(t.of_kind("text"))
            return f"{a}.{c.name} {self.pick(['=', '<>'])} {self.value(self.literal_for(t, c.name))}"
        if kind == "null" and [c for c in t.cols if c.nullable]:
            c = self.pick([c for c in t.cols if c.nullable])
            return f"{a}.{c.name} IS {self.pick(['NULL', 'NOT NULL'])}"
        if kind == "like" and t.of_kind("text"):
            c = self.pick(t.of_kind("text"))
            word = self.literal_for(t, c.name)
            self.features.add("like")
            return f"{a}.{c.name} LIKE '{word[: r.randint(1, 2)]}%'"
        if kind == "ts" and t.of_kind("ts"):
            c = self.pick(t.of_kind("ts"))
            return f"{a}.{c.name} {self.pick(['<', '>='])} {self.value(self.pick(TS_VALUES))}"
        if kind == "between":
            c = self.pick(t.of_kind("int"))
            lo = r.randint(0, 6)
            return f"{a}.{c.name} BETWEEN {self.value(lo)} AND {self.value(lo + r.randint(0, 5))}"
        if kind == "in":
            c = self.pick(t.cols)
            values = ", ".join(self.value(self.literal_for(t, c.name)) for _ in range(r.randint(1, 3)))
            return f"{a}.{c.name} {self.pick(['IN', 'NOT IN'])} ({values})"
        if kind == "coalesce" and t.of_kind("int", nullable=True):
            c = self.pick(t.of_kind("int", nullable=True))
            return f"COALESCE({a}.{c.name}, {r.randint(-1, 3)}) {self.pick(['>', '<='])} {self.value(r.randint(0, 8))}"
        if kind == "case":
            c = self.pick(t.of_kind("int"))
            return f"CASE WHEN {a}.{c.name} > {r.randint(0, 8)} THEN 1 ELSE 0 END = {r.randint(0, 1)}"
        if kind == "bool":
            op = self.pick(["AND", "OR", "AND NOT", "OR NOT"])
            return f"({self.cond(a, t, depth + 1)} {op} {self.cond(a, t, depth + 1)})"
        if kind in ("in_sub", "exists", "scalar"):
            return self.sub_cond(kind, a, t, depth)
        return f"{a}.id {self.pick(['>', '<', '<>'])} {self.value(r.randint(0, 11))}"

    def sub_cond(self, kind: str, a: str, t: TableDef, depth: int) -> str:
        col, other, ocol = self.pick(_links(t.name))
        o = TABLE[other]
        b = self.alias()
        self.features.add(kind)
        inner = f" AND {self.cond(b, o, depth + 1)}" if self.chance(0.5) else ""
        if kind == "in_sub":
            neg = self.pick(["", "NOT "])
            # NOT IN over a nullable column is three-valued: keep it, all three databases agree.
            return f"{a}.{col} {neg}IN (SELECT {b}.{ocol} FROM {self.read(other)} {b} WHERE 1 = 1{inner})"
        if kind == "exists":
            neg = self.pick(["", "NOT "])
            return f"{neg}EXISTS (SELECT 1 FROM {self.read(other)} {b} WHERE {b}.{ocol} = {a}.{col}{inner})"
        ic = self.pick(o.of_kind("int"))
        agg = self.pick(["MIN", "MAX", "COUNT", "SUM"])
        correlated = f" AND {b}.{ocol} = {a}.{col}" if self.chance(0.5) else ""
        mine = self.pick(t.of_kind("int"))
        return (
            f"{a}.{mine.name} {self.pick(['<', '>=', '='])} "
            f"(SELECT {agg}({b}.{ic.name}) FROM {self.read(other)} {b} WHERE 1 = 1{correlated}{inner})"
        )

    def projection(self, a: str, t: TableDef, kind: str | None = None) -> tuple[str, str]:
        """One output expression (and its kind) of table alias ``a``."""
        options = [c for c in t.cols if kind is None or c.kind == kind]
        c = self.pick(options)
        roll = self.rng.random()
        if c.kind == "int" and roll < 0.15:
            return f"{a}.{c.name} + {self.rng.randint(1, 3)}", "int"
        if c.kind == "int" and c.nullable and roll < 0.3:
            return f"COALESCE({a}.{c.name}, -1)", "int"
        if c.kind == "int" and roll < 0.35:
            self.features.add("function")
            return self.pick([f"ABS({a}.{c.name} - 5)", f"NULLIF({a}.{c.name}, 1)"]), "int"
        if c.kind == "text" and roll < 0.15:
            self.features.add("function")
            return self.pick([f"UPPER({a}.{c.name})", f"LOWER({a}.{c.name})", f"TRIM({a}.{c.name})"]), "text"
        if c.kind == "text" and roll < 0.2 and kind is None:
            self.features.add("function")
            return f"LENGTH({a}.{c.name})", "int"
        if kind in (None, "int") and roll > 0.9:
            col, other, ocol = self.pick(_links(t.name))
            b = self.alias()
            self.features.add("scalar_select")
            if roll > 0.96:
                return (
                    f"CASE WHEN EXISTS (SELECT 1 FROM {self.read(other)} {b} WHERE {b}.{ocol} = {a}.{col}) THEN 1 ELSE 0 END",
                    "int",
                )
            return f"(SELECT COUNT(*) FROM {self.read(other)} {b} WHERE {b}.{ocol} = {a}.{col})", "int"
        return f"{a}.{c.name}", c.kind
