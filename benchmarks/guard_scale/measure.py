"""Timing in rounds: in every round each variant takes a turn (the order rotating), so a slow
stretch of this shared machine hits all variants of a query, not just one.

A turn runs the variant on the query's parameters in order, from the first, until the turn's
time is up or ``max_per_turn`` executions are done (at least one). Each execution is timed on
its own (``perf_counter_ns``), rows fetched included.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Runner = Callable[[Sequence[Any]], Any]


@dataclass(frozen=True)
class Settings:
    """Rounds run until ``rounds`` are done or, after ``min_rounds``, ``query_seconds`` are spent."""

    rounds: int = 15
    min_rounds: int = 5
    query_seconds: float = 25.0
    turn_seconds: float = 0.3
    max_per_turn: int = 5000
    warmup: int = 3


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``values``, linear between the closest ranks.

    >>> quantile([1, 2, 3, 4, 5], 0.5), quantile([1, 2, 3, 4, 5], 0.95), quantile([7], 0.99)
    (3.0, 4.8, 7.0)
    """
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (pos - low))


def summary(samples_ms: Sequence[float]) -> dict[str, float]:
    """Median, p95, min and max of latencies in ms, and how many there are."""
    return {
        "median_ms": quantile(samples_ms, 0.5),
        "p95_ms": quantile(samples_ms, 0.95),
        "min_ms": float(min(samples_ms)),
        "max_ms": float(max(samples_ms)),
        "n": len(samples_ms),
    }


def _turn(run: Runner, params: list[tuple[Any, ...]], settings: Settings) -> list[float]:
    out: list[float] = []
    deadline = time.perf_counter() + settings.turn_seconds
    for k in range(settings.max_per_turn):
        p = params[k % len(params)]
        start = time.perf_counter_ns()
        run(p)
        out.append((time.perf_counter_ns() - start) / 1e6)
        if time.perf_counter() >= deadline:
            break
    return out


def time_variants(runs: dict[str, Runner], params: list[tuple[Any, ...]], settings: Settings) -> dict[str, Any]:
    """Per variant: the latency summary over all turns and the median of each round's turn."""
    keys = list(runs)
    for key in keys:  # warm-up: plan caches, buffer pool (at most a turn's time for a slow variant)
        deadline = time.perf_counter() + settings.turn_seconds
        for k in range(settings.warmup):
            runs[key](params[k % len(params)])
            if time.perf_counter() >= deadline:
                break
    samples: dict[str, list[float]] = {k: [] for k in keys}
    rounds: dict[str, list[float]] = {k: [] for k in keys}
    started = time.perf_counter()
    for n in range(settings.rounds):
        if n >= settings.min_rounds and time.perf_counter() - started > settings.query_seconds:
            break
        for key in keys[n % len(keys) :] + keys[: n % len(keys)]:
            turn = _turn(runs[key], params, settings)
            samples[key] += turn
            rounds[key].append(statistics.median(turn))
    return {k: {**summary(samples[k]), "round_medians_ms": [round(x, 4) for x in rounds[k]]} for k in keys}


def ratio_band(top: dict[str, Any], bottom: dict[str, Any]) -> dict[str, float]:
    """``top``/``bottom`` per round (the two ran back to back in it): the median of those ratios
    and their quartiles (the band), so that a slow stretch of the machine does not skew the ratio.

    >>> ratio_band({"median_ms": 2.0, "round_medians_ms": [2, 2, 3, 2]}, {"median_ms": 1.0, "round_medians_ms": [1, 1, 1, 1]})
    {'ratio': 2.0, 'q1': 2.0, 'q3': 2.25}
    """
    pairs = [t / b for t, b in zip(top["round_medians_ms"], bottom["round_medians_ms"], strict=True) if b]
    if len(pairs) >= 2:
        q1, _, q3 = statistics.quantiles(pairs, n=4, method="inclusive")
    else:
        q1 = q3 = pairs[0] if pairs else 0.0
    middle = statistics.median(pairs) if pairs else top["median_ms"] / bottom["median_ms"]
    return {"ratio": round(middle, 4), "q1": round(q1, 4), "q3": round(q3, 4)}


def verdict(band: dict[str, float], bound: float) -> str:
    """met / missed when the ratio and the middle half of its rounds agree on ``ratio ≤ bound``.

    >>> verdict({"ratio": 1.2, "q1": 1.1, "q3": 1.4}, 1.5), verdict({"ratio": 40, "q1": 38, "q3": 45}, 1.5)
    ('met', 'missed')
    >>> verdict({"ratio": 1.4, "q1": 1.3, "q3": 1.7}, 1.5)
    'within noise'
    """
    if band["ratio"] <= bound and band["q3"] <= bound:
        return "met"
    if band["ratio"] > bound and band["q1"] > bound:
        return "missed"
    return "within noise"
