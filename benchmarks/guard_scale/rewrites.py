"""What the guard's rewrite costs: cold (first time a text is seen) and cached (seen before).

**Cold**: every corpus statement is rewritten by one guard whose policies and schema are
already loaded (a warm service meeting new SQL); each text is new to the cache, so each call
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
from functools import partial
from typing import Any, NamedTuple

import sqlglot

from benchmarks.guard_scale.corpus import Item, for_dialect
from benchmarks.guard_scale.data import USER
from benchmarks.guard_scale.measure import quantile
from rls import AuthUser, Guard, RlsError

_PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|\?|:v\d+")


def _bare(sql: str, dialect: str) -> None:
    text = _PLACEHOLDER.sub("1", sql.replace("%%", "%"))
    try:
        sqlglot.parse_one(text, read=dialect).sql(dialect=dialect)
    except sqlglot.errors.SqlglotError:
        pass  # timed all the same: what sqlglot spent before giving up


def _distribution(values_ms: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": quantile(values_ms, 0.5), "p90_ms": quantile(values_ms, 0.9),
            "p99_ms": quantile(values_ms, 0.99), "max_ms": float(max(values_ms)), "n": len(values_ms)}  # fmt: skip


class Statement(NamedTuple):
    """One statement to rewrite cold: its shape, the driver's text and parameters, and the user."""

    shape: str
    sql: str
    params: Any
    user: AuthUser


def own_corpus(items: list[Item], dialect: str) -> list[Statement]:
    """The generated corpus (:mod:`benchmarks.guard_scale.corpus`) for ``dialect``, as user 1."""
    return [Statement(i.shape, for_dialect(i.sql, dialect), i.params, AuthUser(id=USER)) for i in items]


def _one(guard: Guard, st: Statement, dialect: str, suffix: str) -> tuple[float, float, str | None]:
    """One cold rewrite of ``st`` (its text made new by ``suffix``) and, right after, the bare
    sqlglot round trip of the same text: (rewrite ms, bare ms, refusal or None)."""
    sql = st.sql + suffix
    start = time.perf_counter_ns()
    try:
        guard.rewrite(sql, st.user, st.params)
        outcome = None
    except RlsError as exc:
        outcome = f"{type(exc).__name__}: {str(exc)[:120]}"
    elapsed = (time.perf_counter_ns() - start) / 1e6
    start = time.perf_counter_ns()
    _bare(sql, dialect)
    return elapsed, (time.perf_counter_ns() - start) / 1e6, outcome


def cold(
    guards: dict[str, Guard], corpus: dict[str, list[Statement]], passes: int = 3, slowest: int = 10
) -> dict[str, dict[str, Any]]:
    """Cold rewrite times over each dialect's statements.

    Every statement is rewritten cold ``passes`` times, once per pass over the whole corpus,
    each time as a text the cache has not seen (trailing spaces). The first pass is what an
    application meets; the best of the passes is the rewrite's own cost, without the pauses
    a busy machine or the garbage collector add to one call. Within a pass the dialects take
    turns statement by statement, so drift of the machine hits them alike.
    """
    names = list(guards)
    runs: dict[str, list[list[tuple[float, float, str | None]]]] = {n: [[] for _ in corpus[n]] for n in names}
    for p in range(passes):
        for k in range(max(len(corpus[n]) for n in names)):
            for name in names[k % len(names) :] + names[: k % len(names)]:
                if k < len(corpus[name]):
                    runs[name][k].append(_one(guards[name], corpus[name][k], name, " " * p))
    out = {}
    for name in names:
        done = [
            {"shape": st.shape, "sql": st.sql, "ms_first": r[0][0],
             "ms": min(x[0] for x in r), "bare_ms": min(x[1] for x in r), "refused": r[0][2]}
            for st, r in zip(corpus[name], runs[name], strict=True)
        ]  # fmt: skip
        accepted = [r for r in runs[name] if r[0][2] is None]
        per_pass = [_distribution([r[p][0] for r in accepted]) for p in range(passes)] if accepted else []
        out[name] = {**_summarise(done, slowest), "passes": passes, "per_pass": per_pass}
    return out


def _summarise(done: list[dict[str, Any]], slowest: int) -> dict[str, Any]:
    accepted = [d for d in done if d["refused"] is None]
    refused: dict[str, int] = {}
    by_shape: dict[str, list[float]] = {}
    for d in done:
        if d["refused"] is not None:
            refused[d["refused"]] = refused.get(d["refused"], 0) + 1
        else:
            by_shape.setdefault(d["shape"], []).append(d["ms"])
    worst = sorted(accepted, key=lambda d: d["ms"], reverse=True)[:slowest]
    return {
        "statements": len(done),
        "rewritten": _distribution([d["ms"] for d in accepted]) if accepted else None,
        "first_pass": _distribution([d["ms_first"] for d in accepted]) if accepted else None,
        "bare_sqlglot": _distribution([d["bare_ms"] for d in done]),
        "ratio_p50": (quantile([d["ms"] / d["bare_ms"] for d in accepted], 0.5) if accepted else None),
        "refused": refused,
        "by_shape": {
            k: {"p50_ms": quantile(v, 0.5), "max_ms": max(v), "n": len(v)} for k, v in sorted(by_shape.items())
        },
        "slowest": [{k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()} for d in worst],
    }


def cached(
    guard: Guard, statements: list[tuple[str, tuple[Any, ...]]], number: int = 500, repeat: int = 5
) -> dict[str, Any]:
    """Per-call time of a rewrite already in the cache, for each statement; their distribution."""
    user = AuthUser(id=USER)
    per_call_us = []
    for sql, params in statements:
        guard.rewrite(sql, user, params)  # into the cache (raises if refused: callers pass rewritable SQL)
        best = min(timeit.repeat(partial(guard.rewrite, sql, user, params), number=number, repeat=repeat))
        per_call_us.append(best / number * 1e6)
    return {"p50_us": quantile(per_call_us, 0.5), "p99_us": quantile(per_call_us, 0.99), "max_us": max(per_call_us),
            "n": len(per_call_us), "number": number, "repeat": repeat}  # fmt: skip
