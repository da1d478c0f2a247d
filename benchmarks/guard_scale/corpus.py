"""A generated corpus of varied statements on the benchmark schema, for cold-rewrite timing.

Deterministic for a seed; every statement text distinct (each one is a cold rewrite). Shapes:
filters with nested AND/OR/NOT, aggregates with HAVING, inner/left/self joins, IN, EXISTS and
scalar sub-queries (nested up to three deep), derived tables, one and two chained CTEs,
UNION / UNION ALL, CASE, window functions; larger ones (joins of up to twelve tables, derived
tables nested five deep, six chained CTEs, unions of six selects, 40 ORed comparisons); INSERT (VALUES and SELECT), UPDATE, DELETE
with and without sub-queries. The SQL is portable across PostgreSQL, MariaDB and SQLite;
``%s`` marks a bound parameter and ``%%`` a literal ``%`` (pyformat, as psycopg and PyMySQL
take them); :func:`for_dialect` turns that into ``?`` and ``%`` for SQLite.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ORDERS = ("id", "user_id", "customer_id", "amount", "note", "created_at")


_PYFORMAT = re.compile(r"%%|%s")


def for_dialect(sql: str, dialect: str) -> str:
    """``sql`` in the parameter style of ``dialect``'s driver.

    >>> for_dialect("SELECT 1 WHERE a LIKE 'x%%' AND b = %s", "sqlite")
    "SELECT 1 WHERE a LIKE 'x%' AND b = ?"
    >>> for_dialect("SELECT 1 WHERE a LIKE 'x%%' AND b = %s", "postgres")
    "SELECT 1 WHERE a LIKE 'x%%' AND b = %s"
    """
    if dialect != "sqlite":
        return sql
    return _PYFORMAT.sub(lambda m: "%" if m.group() == "%%" else "?", sql)


@dataclass(frozen=True)
class Item:
    """One corpus statement: its shape, SQL (``%s`` placeholders) and parameters."""

    shape: str
    sql: str
    params: tuple[Any, ...]


class _Gen:
    def __init__(self, rng: random.Random):
        self.r = rng
        self.params: list[Any] = []

    def n(self, high: int = 1_000_000) -> int:
        return self.r.randint(1, high)

    def param(self, value: Any) -> str:
        self.params.append(value)
        return "%s"

    def order_pred(self, a: str) -> str:
        r, n = self.r, self.n
        choices: list[Callable[[], str]] = [
            lambda: f"{a}.id = {n()}",
            lambda: f"{a}.id > {n()}",
            lambda: f"{a}.id BETWEEN {(x := n(999_000))} AND {x + r.randint(1, 1000)}",
            lambda: f"{a}.id IN ({', '.join(str(n()) for _ in range(r.randint(2, 6)))})",
            lambda: f"{a}.customer_id = {self.param(n(100_000))}",
            lambda: f"{a}.amount > {r.randint(0, 99_999) / 100}",
            lambda: f"{a}.note LIKE 'Note {r.randint(0, 99)}%%'",
            lambda: f"lower({a}.note) = 'note {r.randint(0, 999)}'",
            lambda: f"{a}.note IS NOT NULL",
            lambda: f"{a}.created_at < '2026-01-{r.randint(2, 28):02d} 00:00:00'",
            lambda: f"{a}.amount * 2 + {r.randint(1, 9)} > {r.randint(10, 1000)}",
            lambda: f"{a}.id = {self.param(n())}",
        ]
        return r.choice(choices)()

    def customer_pred(self, a: str) -> str:
        r = self.r
        choices: list[Callable[[], str]] = [
            lambda: f"{a}.id = {self.n(100_000)}",
            lambda: f"{a}.id < {self.n(100_000)}",
            lambda: f"{a}.name LIKE 'customer {r.randint(1, 999)}%%'",
            lambda: f"{a}.name = {self.param(f'customer {self.n(100_000)}')}",
            lambda: f"{a}.id IN ({', '.join(str(self.n(100_000)) for _ in range(r.randint(2, 5)))})",
        ]
        return r.choice(choices)()

    def where(self, a: str, table: str = "orders", depth: int = 0) -> str:
        """A boolean of 1–4 comparisons, nested with AND / OR / NOT."""
        leaf = self.order_pred if table == "orders" else self.customer_pred
        if depth >= 2 or self.r.random() < 0.45:
            return leaf(a)
        op = self.r.choice(("AND", "AND", "OR"))
        left, right = self.where(a, table, depth + 1), self.where(a, table, depth + 1)
        expr = f"({left} {op} {right})"
        return f"NOT {expr}" if self.r.random() < 0.1 else expr

    def tail(self, column: str) -> str:
        r = self.r
        out = f" ORDER BY {column}{r.choice(('', ' DESC'))}" if r.random() < 0.6 else ""
        if out and r.random() < 0.7:
            out += f" LIMIT {r.randint(1, 100)}"
            if r.random() < 0.3:
                out += f" OFFSET {r.randint(1, 1000)}"
        return out

    def columns(self, a: str) -> str:
        picked = self.r.sample(ORDERS, self.r.randint(1, 4))
        return ", ".join(f"{a}.{c}" for c in picked)

    def subquery_in(self, a: str, depth: int) -> str:
        """``a.customer_id IN (SELECT … FROM customers …)``, nesting back into orders below."""
        inner = self.customer_pred("c" + str(depth))
        if depth < 3 and self.r.random() < 0.5:
            o = f"o{depth}"
            inner += f" AND c{depth}.id IN (SELECT {o}.customer_id FROM orders {o} WHERE {self.where(o)}"
            inner += f" AND {self.subquery_in(o, depth + 1)})" if self.r.random() < 0.4 else ")"
        return f"{a}.customer_id IN (SELECT c{depth}.id FROM customers c{depth} WHERE {inner})"


def _select_shapes(g: _Gen) -> dict[str, Callable[[], str]]:
    r = g.r
    return {
        "filter": lambda: f"SELECT {g.columns('o')} FROM orders o WHERE {g.where('o')}{g.tail('o.id')}",
        "aggregate": lambda: (
            f"SELECT o.customer_id, count(*) AS n, sum(o.amount) AS total FROM orders o WHERE {g.where('o')} "
            f"GROUP BY o.customer_id HAVING count(*) > {r.randint(0, 5)}{g.tail('o.customer_id')}"
        ),
        "join": lambda: (
            f"SELECT {g.columns('o')}, c.name FROM orders o {r.choice(('JOIN', 'LEFT JOIN'))} customers c "
            f"ON c.id = o.customer_id WHERE {g.where('o')} AND {g.where('c', 'customers')}{g.tail('o.id')}"
        ),
        "self-join": lambda: (
            f"SELECT o.id, o2.id AS other FROM orders o JOIN orders o2 ON o2.customer_id = o.customer_id "
            f"AND o2.id <> o.id WHERE o.id = {g.n()}{g.tail('o2.id')}"
        ),
        "in-subquery": lambda: f"SELECT {g.columns('o')} FROM orders o WHERE {g.subquery_in('o', 1)}{g.tail('o.id')}",
        "exists": lambda: (
            f"SELECT {g.columns('o')} FROM orders o WHERE {r.choice(('', 'NOT '))}EXISTS (SELECT 1 FROM customers c "
            f"WHERE c.id = o.customer_id AND {g.where('c', 'customers')}) AND {g.where('o')}{g.tail('o.id')}"
        ),
        "scalar-subquery": lambda: (
            f"SELECT o.id, (SELECT c.name FROM customers c WHERE c.id = o.customer_id) AS customer "
            f"FROM orders o WHERE {g.where('o')}{g.tail('o.id')}"
        ),
        "derived": lambda: (
            f"SELECT t.customer_id, t.n FROM (SELECT o.customer_id, count(*) AS n FROM orders o "
            f"WHERE {g.where('o')} GROUP BY o.customer_id) AS t WHERE t.n > {r.randint(0, 3)}{g.tail('t.customer_id')}"
        ),
        "cte": lambda: (
            f"WITH picked AS (SELECT o.id, o.customer_id FROM orders o WHERE {g.where('o')}) "
            f"SELECT p.id, c.name FROM picked p JOIN customers c ON c.id = p.customer_id{g.tail('p.id')}"
        ),
        "cte-chain": lambda: (
            f"WITH a AS (SELECT o.id, o.customer_id, o.amount FROM orders o WHERE {g.where('o')}), "
            f"b AS (SELECT a.customer_id, sum(a.amount) AS total FROM a GROUP BY a.customer_id) "
            f"SELECT b.customer_id, b.total, c.name FROM b JOIN customers c ON c.id = b.customer_id "
            f"WHERE b.total > {r.randint(0, 500)}{g.tail('b.customer_id')}"
        ),
        "union": lambda: (
            f"SELECT o.id FROM orders o WHERE {g.where('o')} {r.choice(('UNION', 'UNION ALL'))} "
            f"SELECT c.id FROM customers c WHERE {g.where('c', 'customers')}"
        ),
        "case": lambda: (
            f"SELECT o.id, CASE WHEN o.amount > {r.randint(1, 900)} THEN 'big' WHEN {g.where('o')} THEN 'match' "
            f"ELSE 'other' END AS kind FROM orders o WHERE {g.where('o')}{g.tail('o.id')}"
        ),
        "window": lambda: (
            f"SELECT o.id, row_number() OVER (PARTITION BY o.customer_id ORDER BY o.id) AS k "
            f"FROM orders o WHERE {g.where('o')}{g.tail('o.id')}"
        ),
    }


def _heavy_shapes(g: _Gen) -> dict[str, Callable[[], str]]:
    """Larger statements: where a rewrite's cost grows with the number of scopes and tables."""
    r = g.r

    def wide_join() -> str:
        n = r.randint(3, 6)
        sql = "SELECT o1.id, c1.name FROM orders o1 JOIN customers c1 ON c1.id = o1.customer_id"
        for k in range(2, n + 1):
            sql += (
                f" JOIN orders o{k} ON o{k}.customer_id = c{k - 1}.id JOIN customers c{k} ON c{k}.id = o{k}.customer_id"
            )
        return sql + f" WHERE o1.id = {g.n()} AND {g.where('o' + str(n))}{g.tail('o1.id')}"

    def deep_derived() -> str:
        sql = f"SELECT o.id, o.customer_id, o.amount FROM orders o WHERE {g.where('o')}"
        for k in range(r.randint(2, 5)):
            sql = f"SELECT d{k}.id, d{k}.customer_id, d{k}.amount FROM ({sql}) AS d{k} WHERE d{k}.amount > {r.randint(0, 50)}"
        return sql

    def many_ctes() -> str:
        n = r.randint(3, 6)
        ctes = [f"t1 AS (SELECT o.id, o.customer_id FROM orders o WHERE {g.where('o')})"]
        for k in range(2, n + 1):
            ctes.append(f"t{k} AS (SELECT t{k - 1}.id, t{k - 1}.customer_id FROM t{k - 1} JOIN customers c{k} "
                        f"ON c{k}.id = t{k - 1}.customer_id WHERE {g.where('c' + str(k), 'customers')})")  # fmt: skip
        return f"WITH {', '.join(ctes)} SELECT t{n}.id FROM t{n}{g.tail(f't{n}.id')}"

    def union_chain() -> str:
        parts = [f"SELECT o{k}.id FROM orders o{k} WHERE {g.where('o' + str(k))}" for k in range(r.randint(3, 6))]
        return f" {r.choice(('UNION', 'UNION ALL'))} ".join(parts)

    def long_or() -> str:
        preds = " OR ".join(g.order_pred("o") for _ in range(r.randint(10, 40)))
        return f"SELECT o.id, o.amount FROM orders o WHERE {preds}{g.tail('o.id')}"

    return {"wide-join": wide_join, "deep-derived": deep_derived, "many-ctes": many_ctes,
            "union-chain": union_chain, "long-or": long_or}  # fmt: skip


def _dml_shapes(g: _Gen) -> dict[str, Callable[[], str]]:
    r = g.r

    def row() -> str:
        return (f"({g.n(10**9) + 2_000_000}, 1, {g.n(100_000)}, {r.randint(0, 9999) / 100}, "
                f"'new {g.n()}', '2026-02-{r.randint(1, 28):02d} 00:00:00')")  # fmt: skip

    cols = "(id, user_id, customer_id, amount, note, created_at)"
    return {
        "insert-values": lambda: f"INSERT INTO orders {cols} VALUES {', '.join(row() for _ in range(r.randint(1, 3)))}",
        "insert-select": lambda: (
            f"INSERT INTO orders {cols} SELECT o.id + {g.n(10**9) + 2_000_000}, o.user_id, o.customer_id, "
            f"o.amount, o.note, o.created_at FROM orders o WHERE {g.where('o')}"
        ),
        "update": lambda: (
            f"UPDATE orders SET amount = amount + {r.randint(1, 9)}{r.choice(('', ', note = ' + repr('n' + str(g.n()))))} "
            f"WHERE {g.where('orders')}"
        ),
        "update-subquery": lambda: (
            f"UPDATE orders SET note = 'vip' WHERE customer_id IN (SELECT c.id FROM customers c "
            f"WHERE {g.where('c', 'customers')}) AND {g.where('orders')}"
        ),
        "delete": lambda: f"DELETE FROM orders WHERE {g.where('orders')}",
        "delete-exists": lambda: (
            f"DELETE FROM orders WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = orders.customer_id "
            f"AND {g.where('c', 'customers')})"
        ),
    }


def generate(count: int, seed: int = 9) -> list[Item]:
    """``count`` distinct statements, about three SELECTs to one write.

    >>> items = generate(300)
    >>> len(items), len({i.sql for i in items}), all(i.sql.count("%s") == len(i.params) for i in items)
    (300, 300, True)
    >>> sorted({i.shape for i in items}) == sorted(set(SHAPES))
    True
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Item] = []
    while len(out) < count:
        g = _Gen(rng)
        shapes = {**_select_shapes(g), **_heavy_shapes(g), **_dml_shapes(g)}
        shape = rng.choice(SHAPES)
        sql = shapes[shape]()
        if sql not in seen:
            seen.add(sql)
            out.append(Item(shape, sql, tuple(g.params)))
    return out


SHAPES = (
    "filter", "filter", "aggregate", "join", "join", "self-join", "in-subquery", "in-subquery", "exists",
    "scalar-subquery", "derived", "cte", "cte-chain", "union", "case", "window",
    "wide-join", "deep-derived", "many-ctes", "union-chain", "long-or",
    "insert-values", "insert-select", "update", "update-subquery", "delete", "delete-exists",
)  # fmt: skip
