"""The micro benchmarks (pytest-benchmark's JSON) on the results page: per group, and against the targets."""

from __future__ import annotations

from typing import Any

MICRO_MAX_MEDIAN_S = 5e-6
MICRO_MIN_SPEEDUP = 100.0


def fmt_time(seconds: float) -> str:
    """A median for people: ns below a microsecond, µs below a millisecond, else ms.

    >>> fmt_time(4.2e-7), fmt_time(3.25e-6), fmt_time(0.0123)
    ('420 ns', '3.25 µs', '12.30 ms')
    """
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def _groups(micro: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None, list[dict[str, Any]]]]:
    """``(group, baseline, benchmarks)`` in name order; the baseline is flagged in extra_info."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for bench in micro["benchmarks"]:
        groups.setdefault(bench["group"] or "", []).append(bench)
    return [(g, next((b for b in bs if b["extra_info"].get("baseline")), None), bs) for g, bs in sorted(groups.items())]


def micro_targets(micro: dict[str, Any]) -> list[str]:
    """The cached guard and REST compile benchmarks against < 5 µs and ≥ 100× a bare sqlglot round trip."""
    lines = ["| target (cached compile) | benchmark | median | speed-up over the group's baseline | verdict |",
             "|---|---|---:|---:|---|"]  # fmt: skip
    for group, base, benches in _groups(micro):
        if base is None or not group.startswith(("guard", "rest")):
            continue
        for b in (b for b in benches if "cached" in b["name"]):
            median, speedup = b["stats"]["median"], base["stats"]["median"] / b["stats"]["median"]
            fast = "**met**" if median < MICRO_MAX_MEDIAN_S else "**missed**"
            verdict = f"{fast} (< {fmt_time(MICRO_MAX_MEDIAN_S)}); "
            if "bare_sqlglot" in base["name"]:
                verdict += "**met**" if speedup >= MICRO_MIN_SPEEDUP else "**missed**"
                verdict += f" (≥ {MICRO_MIN_SPEEDUP:.0f}× bare sqlglot)"
            else:
                verdict += f"100× not checkable: the baseline is `{base['name']}`, not a bare sqlglot parse + generate"
            lines.append(f"| {group} | `{b['name']}` | {fmt_time(median)} | {speedup:.1f}× | {verdict} |")
    return lines


def micro_tables(micro: dict[str, Any]) -> list[str]:
    """Per group: each benchmark's median and its time relative to the group's baseline."""
    lines: list[str] = []
    for group, base, benches in _groups(micro):
        base_median = base["stats"]["median"] if base else None
        lines += [f"**{group}**" + (f" — baseline `{base['name']}`" if base else ""), "",
                  "| benchmark | median | time / baseline |", "|---|---:|---:|"]  # fmt: skip
        for b in benches:
            median = b["stats"]["median"]
            lines.append(
                f"| `{b['name']}` | {fmt_time(median)} | {f'{median / base_median:.4f}' if base_median else ''} |"
            )
        lines.append("")
    return lines


def slim_micro(micro: dict[str, Any]) -> bool:
    """Drop pytest-benchmark's raw samples (tens of MB; the stats stay); True if there were any.

    >>> micro = {"benchmarks": [{"stats": {"median": 1.0, "data": [1.0, 1.0]}}]}
    >>> slim_micro(micro), micro
    (True, {'benchmarks': [{'stats': {'median': 1.0}}]})
    """
    found = False
    for bench in micro.get("benchmarks", []):
        found = bench.get("stats", {}).pop("data", None) is not None or found
    return found
