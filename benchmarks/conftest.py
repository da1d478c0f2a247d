"""Benchmark reporting: every group is printed as ratios against its baseline.

A benchmark marks itself as its group's baseline with ``benchmark.extra_info["baseline"] = True``.
Ratios come from one run in one process, so machine noise affects both sides alike.
"""

from __future__ import annotations

from typing import Any


def _median(bench: Any) -> float | None:
    stats = getattr(bench, "stats", None)
    stats = getattr(stats, "stats", stats)
    return getattr(stats, "median", None)


def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or session.disabled:
        return
    groups: dict[str, list[Any]] = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group or "", []).append(bench)
    lines = []
    for group, benches in sorted(groups.items()):
        base = next((b for b in benches if b.extra_info.get("baseline")), None)
        base_median = _median(base) if base else None
        if not base_median:
            continue
        lines.append(f"{group}: baseline {base.name} = {base_median * 1e6:.1f} µs median")
        for bench in benches:
            median = _median(bench)
            if bench is base or not median:
                continue
            ratio = median / base_median
            verdict = f"{1 / ratio:.1f}x faster" if ratio < 1 else f"{ratio:.2f}x the time"
            lines.append(f"  {bench.name:<50} {median * 1e6:10.2f} µs  time/baseline {ratio:7.4f} ({verdict})")
    if lines:
        terminalreporter.write_sep("=", "ratios against the baseline of each group")
        for line in lines:
            terminalreporter.write_line(line)
