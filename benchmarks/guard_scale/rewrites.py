"""What the guard's rewrite costs: cold (first time a text is seen) and cached (seen before).

**Cold**: every corpus statement is rewritten once by one guard whose policies and schema
are already loaded (a warm service meeting new SQL); each text is distinct, so each call
parses, checks, injects, emits and verifies. Baseline, timed right after each one: a bare
sqlglot parse and generate of the same text, the least any SQL-rewriting guard pays.

**Cached**: the same statement again. ``timeit`` of ``guard.rewrite`` over a sample of corpus
statements and the timed queries; the best of the repeats per statement, per call.
"""

from __future__ import annotations

import re
import time
import timeit
from collections.abc import Sequence
from typing import Any

import sqlglot

from benchmarks.guard_scale.corpus import Item, for_dialect
from benchmarks.guard_scale.data import USER
from benchmarks.guard_scale.measure import quantile
from rls import AuthUser, Guard, RlsError

_PLACEHOLDER = re.compile(r"%s|\?")


def _bare(sql: str, dialect: str) -> None:
    text = _PLACEHOLDER.sub("1", sql.replace("%%", "%"))
    sqlglot.parse_one(text, read=dialect).sql(dialect=dialect)


def _distribution(values_ms: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": quantile(values_ms, 0.5), "p90_ms": quantile(values_ms, 0.9),
            "p99_ms": quantile(values_ms, 0.99), "max_ms": float(max(values_ms)), "n": len(values_ms)}  # fmt: skip


def cold(guard: Guard, items: list[Item], dialect: str, slowest: int = 10) -> dict[str, Any]:
    """Cold rewrite times over ``items``; refusals counted (and timed) apart from rewrites."""
    user = AuthUser(id=USER)
    done: list[dict[str, Any]] = []
    refused: dict[str, int] = {}
    for item in items:
        sql = for_dialect(item.sql, dialect)
        start = time.perf_counter_ns()
        try:
            guard.rewrite(sql, user, item.params)
            outcome = None
        except RlsError as exc:
            outcome = f"{type(exc).__name__}: {str(exc)[:120]}"
        elapsed = (time.perf_counter_ns() - start) / 1e6
        start = time.perf_counter_ns()
        _bare(sql, dialect)
        bare = (time.perf_counter_ns() - start) / 1e6
        if outcome is not None:
            refused[outcome] = refused.get(outcome, 0) + 1
        done.append(
            {"shape": item.shape, "sql": sql, "params": item.params, "ms": elapsed, "bare_ms": bare, "refused": outcome}
        )
    accepted = [d for d in done if d["refused"] is None]
    by_shape: dict[str, list[float]] = {}
    for d in accepted:
        by_shape.setdefault(d["shape"], []).append(d["ms"])
    worst = sorted(done, key=lambda d: d["ms"], reverse=True)[:slowest]
    for d in worst:
        if d["refused"] is None:
            d["again_ms"] = min(_again(guard, d["sql"] + " " * k, d["params"]) for k in (1, 2, 3))
    return {
        "statements": len(done),
        "rewritten": _distribution([d["ms"] for d in accepted]) if accepted else None,
        "bare_sqlglot": _distribution([d["bare_ms"] for d in done]),
        "ratio_p50": (quantile([d["ms"] / d["bare_ms"] for d in accepted], 0.5) if accepted else None),
        "refused": refused,
        "by_shape": {
            k: {"p50_ms": quantile(v, 0.5), "max_ms": max(v), "n": len(v)} for k, v in sorted(by_shape.items())
        },
        "slowest": [{k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()} for d in worst],
    }


def _again(guard: Guard, sql: str, params: tuple[Any, ...]) -> float:
    """One more cold rewrite of ``sql`` (a text the cache has not seen), in ms."""
    start = time.perf_counter_ns()
    guard.rewrite(sql, AuthUser(id=USER), params)
    return (time.perf_counter_ns() - start) / 1e6


def cached(
    guard: Guard, statements: list[tuple[str, tuple[Any, ...]]], number: int = 500, repeat: int = 5
) -> dict[str, Any]:
    """Per-call time of a rewrite already in the cache, for each statement; their distribution."""
    user = AuthUser(id=USER)
    per_call_us = []
    for sql, params in statements:
        guard.rewrite(sql, user, params)  # into the cache (raises if refused: callers pass rewritable SQL)
        best = min(timeit.repeat(lambda s=sql, p=params: guard.rewrite(s, user, p), number=number, repeat=repeat))
        per_call_us.append(best / number * 1e6)
    return {"p50_us": quantile(per_call_us, 0.5), "p99_us": quantile(per_call_us, 0.99), "max_us": max(per_call_us),
            "n": len(per_call_us), "number": number, "repeat": repeat}  # fmt: skip
