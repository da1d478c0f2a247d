"""Smoke test of the REST-at-scale benchmark: on 1,000 rows, the REST plan returns exactly the
hand-written query's rows (what the benchmark times must be the same work)."""

from __future__ import annotations

import secrets

import pytest

from benchmarks.guard_scale import data
from benchmarks.guard_scale.measure import Settings
from benchmarks.rest_scale import bench


@pytest.mark.parametrize("name", ["sqlite", "postgres", "mysql"])
def test_rest_reads_return_the_hand_written_rows(name):
    namespace, base = f"rls_bench_rest_t{secrets.token_hex(3)}", data.DEFAULT_URLS[name]
    try:
        target = data.prepare(name, base, namespace, 1000)
    except data.reachable_error() as exc:  # pragma: no cover - servers run in CI
        pytest.fail(f"{name} not reachable: {exc}")
    try:
        # bench() compares the rows of both variants before it times them (AssertionError).
        results = bench(target, Settings(rounds=2, min_rounds=1, query_seconds=0.2, turn_seconds=0.01, warmup=1))
    finally:
        data.drop(name, base, namespace)
    assert set(results) == {"pk", "page"}
    assert all(r["variants"]["rest"]["median_ms"] > 0 for r in results.values())
