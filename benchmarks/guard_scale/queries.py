"""The timed queries and their three variants.

- (a) **hand-written**: the query with the policy written into it by hand (``AND user_id = 1``),
  run by the application's own connection (the floor: what a careful programmer writes);
- (b) **native RLS** (PostgreSQL only): the bare query, run as a non-owner role under FORCE ROW
  LEVEL SECURITY with the policy ``user_id = current_setting('rls.user_id')::int``;
- (c) **guard**: ``stmt = guard.rewrite(sql, AuthUser(id=1), params)``, then
  ``cursor.execute(stmt.sql, stmt.params)``. The rewrite is inside the timing: after the first
  call it is a cache hit, so what is timed is the cached rewrite plus the guarded statement.

Every variant reads all rows (``fetchall``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.guard_scale.corpus import for_dialect
from benchmarks.guard_scale.data import USER, Target
from rls import AuthUser, Guard, Policy
from rls.database import Database

POLICY = "user_id = auth_user.id"
VARIANTS = {"hand": "(a) hand-written", "native": "(b) native RLS", "guard": "(c) guard"}
Runner = Callable[[Sequence[Any]], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Query:
    """One timed query: the SQL an application sends, and the same with the policy by hand."""

    key: str
    label: str
    sql: str  # as the application writes it; %s placeholders (? on SQLite)
    hand: str  # the same with the policy written in
    target: float | None  # the bound on guard / native (or / hand-written without native RLS)
    params: Callable[[int, int], tuple[Any, ...]]  # (k, rows) -> the k-th parameters


def owned_alternating(k: int, rows: int) -> int:
    """The k-th id looked up: spread over the table, owned by user 1 for even k (even ids), not for odd k.

    >>> [owned_alternating(k, 1000) for k in range(4)], all(1 <= owned_alternating(k, 1000) <= 1000 for k in range(999))
    ([2, 815, 630, 443], True)
    """
    return 2 * ((k * 7907) % (rows // 2)) + (2 if k % 2 == 0 else 1)


QUERIES = (
    Query("pk", "PK lookup", "SELECT id, amount FROM orders WHERE id = %s",
          "SELECT id, amount FROM orders WHERE id = %s AND user_id = 1", 1.5,
          lambda k, rows: (owned_alternating(k, rows),)),
    Query("topn", "top-N by PK", "SELECT id, amount FROM orders ORDER BY id LIMIT 10",
          "SELECT id, amount FROM orders WHERE user_id = 1 ORDER BY id LIMIT 10", 1.5, lambda k, rows: ()),
    Query("join", "indexed join",
          "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = %s",
          "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id "
          "WHERE o.id = %s AND o.user_id = 1 AND c.user_id = 1", 1.5,
          lambda k, rows: (owned_alternating(k, rows),)),
    Query("nonleakproof", "PK lookup + non-leakproof predicate",
          "SELECT id, amount FROM orders WHERE id = %s AND lower(note) = %s",
          "SELECT id, amount FROM orders WHERE id = %s AND lower(note) = %s AND user_id = 1", None,
          lambda k, rows: (owned_alternating(k, rows), f"note {owned_alternating(k, rows) % 1000}")),
)  # fmt: skip


def placeholders(sql: str, target: Target) -> str:
    """``sql`` in the driver's parameter style (``?`` on SQLite)."""
    return for_dialect(sql, target.name)


def make_guard(target: Target) -> tuple[Guard, Database]:
    """A guard over ``target`` with ``user_id = auth_user.id`` on both tables and the live schema."""
    db = Database(target.url)
    policies = [Policy("orders", "all", POLICY), Policy("customers", "all", POLICY)]
    guard = Guard(policies, dialect=target.name, schema=lambda: (db.schema_version, db.schema()))
    return guard, db


def _statement_runner(conn: Any, sql: str) -> Runner:
    cur = conn.cursor()

    def run(params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cur.execute(sql, params)
        return list(cur.fetchall())

    return run


def _guard_runner(conn: Any, guard: Guard, sql: str) -> Runner:
    cur = conn.cursor()
    user = AuthUser(id=USER)

    def run(params: Sequence[Any]) -> list[tuple[Any, ...]]:
        stmt = guard.rewrite(sql, user, params)
        cur.execute(stmt.sql, stmt.params)
        return list(cur.fetchall())

    return run


def runners(query: Query, target: Target, guard: Guard, conns: dict[str, Any]) -> dict[str, Runner]:
    """The variants of ``query`` on ``target``, each on its own connection from ``conns``."""
    out = {
        "hand": _statement_runner(conns["hand"], placeholders(query.hand, target)),
        "guard": _guard_runner(conns["guard"], guard, placeholders(query.sql, target)),
    }
    if "native" in conns:
        out["native"] = _statement_runner(conns["native"], placeholders(query.sql, target))
    return {k: out[k] for k in VARIANTS if k in out}


def connections(target: Target) -> dict[str, Any]:
    """One connection per variant (native only where the database has native RLS)."""
    conns = {"hand": target.connect(), "guard": target.connect()}
    if target.native:
        conns["native"] = target.connect_native()
    return conns


def mismatches(runs: dict[str, Runner], params: list[tuple[Any, ...]]) -> list[str]:
    """Where a variant returns other rows than the hand-written one (row order ignored)."""
    out = []
    for p in params:
        expected = sorted(map(tuple, runs["hand"](p)))
        for key, run in runs.items():
            got = sorted(map(tuple, run(p)))
            if got != expected:
                out.append(
                    f"{key} with {p!r}: {got[:3]!r} (≠ hand-written {expected[:3]!r}, {len(got)} vs {len(expected)} rows)"
                )
    return out


def explain(target: Target, conn: Any, sql: str, params: Sequence[Any]) -> list[str]:
    """PostgreSQL's plan of ``sql`` as executed once (``EXPLAIN ANALYZE``, no costs or timings)."""
    cur = conn.cursor()
    cur.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}", params)
    return [str(row[0]) for row in cur.fetchall()]
