"""``benchmarks/RESULTS.md`` from ``load.json`` and pytest-benchmark's ``micro.json``, plus a plot.

Everything on the page is regenerated except the hand-written blocks between
``<!-- keep:NAME -->`` and ``<!-- /keep:NAME -->``, which are carried over from the existing page.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

from benchmarks.guard_scale.report import load_before, update_page
from benchmarks.load.micro import micro_tables, micro_targets, slim_micro
from benchmarks.load.plot import plot_load

# Hand-written blocks, carried over from the existing page: name -> placeholder.
KEPT = {
    "analysis": "_By hand: why the targets are met or missed, with the profile that shows it._",
    "before-after": "_By hand: the same tables before and after the hot-path work._",
}
# The targets of issue 6 for GET with auth and policy (a), as minimum ratios of requests/s.
LOAD_TARGETS = (("b", 0.90, "≥ 90 % of auth disabled (b)"), ("c", 0.75, "≥ 75 % of the floor (c)"),
                ("d", 1.0, "ahead of datasette (d)"), ("e", 1.0, "ahead of `datasette serve` (e)"))  # fmt: skip
RSS_TOLERANCE = 0.02  # a 1-minute RSS change within 2 % (allocator noise) counts as no growth


def kept_blocks(page: str) -> dict[str, str]:
    """The hand-written blocks ``<!-- keep:NAME -->…<!-- /keep:NAME -->`` of a page, markers included;
    a placeholder block for each name in :data:`KEPT` the page lacks.

    >>> kept_blocks("a\\n<!-- keep:analysis -->\\nmine\\n<!-- /keep:analysis -->\\nb")["analysis"]
    '<!-- keep:analysis -->\\nmine\\n<!-- /keep:analysis -->'
    """
    found = {
        m.group(1): m.group(0) for m in re.finditer(r"<!-- keep:([\w-]+) -->.*?<!-- /keep:\1 -->", page, re.DOTALL)
    }
    placeholders = {name: f"<!-- keep:{name} -->\n{text}\n<!-- /keep:{name} -->" for name, text in KEPT.items()}
    return {**placeholders, **found}


def _cell(runs: list[dict[str, Any]], db: str, scenario: str, level: int) -> dict[str, dict[str, Any]]:
    return {r["server"]: r for r in runs if (r["database"], r["scenario"], r["concurrency"]) == (db, scenario, level)}


def ratio(runs: list[dict[str, Any]], db: str, scenario: str, level: int, top: str, bottom: str) -> float | None:
    """requests/s of server ``top`` over server ``bottom`` in one cell; None if either is missing.

    >>> runs = [{"database": "s", "scenario": "get", "concurrency": 1, "server": k, "rps": v} for k, v in (("a", 90.0), ("b", 100.0))]
    >>> ratio(runs, "s", "get", 1, "a", "b"), ratio(runs, "s", "get", 1, "a", "c")
    (0.9, None)
    """
    cell = _cell(runs, db, scenario, level)
    if top not in cell or bottom not in cell or not cell[bottom]["rps"]:
        return None
    return float(cell[top]["rps"] / cell[bottom]["rps"])


def round_band(
    runs: list[dict[str, Any]], db: str, scenario: str, level: int, top: str, bottom: str
) -> tuple[float, float]:
    """The quartiles (q1, q3) of the per-round ratios ``top``/``bottom`` of one cell: in a round
    the two servers run one right after the other, so the band shows the ratio's own noise.

    >>> runs = [{"database": "s", "scenario": "get", "concurrency": 1, "server": "a", "rounds": [9, 9, 9, 8]},
    ...         {"database": "s", "scenario": "get", "concurrency": 1, "server": "b", "rounds": [10, 10, 10, 10]}]
    >>> round_band(runs, "s", "get", 1, "a", "b")
    (0.875, 0.9)
    """
    cell = _cell(runs, db, scenario, level)
    pairs = [t / b for t, b in zip(cell[top]["rounds"], cell[bottom]["rounds"], strict=True) if b]
    if len(pairs) < 2:
        return (pairs[0], pairs[0]) if pairs else (0.0, 0.0)
    q1, _, q3 = statistics.quantiles(pairs, n=4, method="inclusive")
    return round(q1, 3), round(q3, 3)


def verdict(value: float, band: tuple[float, float], minimum: float) -> str:
    """**met** / **missed** when the ratio and the middle half of its rounds agree; else within noise.

    >>> verdict(0.95, (0.91, 0.99), 0.9), verdict(0.85, (0.7, 0.88), 0.9), verdict(0.93, (0.85, 1.0), 0.9)
    ('met', 'missed', 'within noise')
    """
    if value >= minimum and band[0] >= minimum:
        return "met"
    if value < minimum and band[1] < minimum:
        return "missed"
    return "within noise"


def _cells(runs: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    seen: dict[tuple[str, str, int], None] = {}
    for r in runs:
        seen[(r["database"], r["scenario"], r["concurrency"])] = None
    return list(seen)


def _summary(verdicts: list[str], levels: list[int]) -> str:
    """One verdict for a target over all concurrency levels."""
    if all(v == "met" for v in verdicts):
        return "**met**"
    if any(v == "missed" for v in verdicts):
        missed = [str(c) for c, v in zip(levels, verdicts, strict=False) if v == "missed"]
        return f"**missed** (at c={', '.join(missed)})"
    unsure = [str(c) for c, v in zip(levels, verdicts, strict=False) if v != "met"]
    return f"**within noise** at c={', '.join(unsure)}, met elsewhere"


def load_targets(load: dict[str, Any]) -> list[str]:
    runs = load["runs"]
    lines = ["| target (GET, (a) rls with auth + policy) | database | ratio (middle half of the rounds) per concurrency | verdict |",
             "|---|---|---|---|"]  # fmt: skip
    for other, minimum, label in LOAD_TARGETS:
        for db in sorted({r["database"] for r in runs}):
            levels = [c for d, s, c in _cells(runs) if d == db and s == "get"]
            shown, verdicts = [], []
            for level in levels:
                value = ratio(runs, db, "get", level, "a", other)
                if value is None:
                    continue
                band = round_band(runs, db, "get", level, "a", other)
                verdicts.append(verdict(value, band, minimum))
                shown.append(f"c={level}: {value:.2f} ({band[0]:.2f}–{band[1]:.2f})")
            if shown:
                lines.append(f"| {label} | {db} | {', '.join(shown)} | {_summary(verdicts, levels)} |")
    soak = load.get("soak")
    if soak:
        start, end = soak["rss_start_kib"], soak["rss_end_kib"]
        growth = (end - start) / start if start else 0.0
        lines.append(f"| no error over {soak['duration']:g} s | {soak['database']} | {soak['errors']} errors in "
                     f"{soak['requests']} requests | {'**met**' if soak['errors'] == 0 else '**missed**'} |")  # fmt: skip
        lines.append(f"| no memory growth over {soak['duration']:g} s | {soak['database']} | RSS {start / 1024:.1f} → "
                     f"{end / 1024:.1f} MiB ({growth:+.1%}) | "
                     f"{'**met**' if growth <= RSS_TOLERANCE else '**missed**'} (within {RSS_TOLERANCE:.0%}) |")  # fmt: skip
    return lines


def load_tables(load: dict[str, Any]) -> list[str]:
    runs = load["runs"]
    lines = ["| database | scenario | server | concurrency | req/s | spread | p50 ms | p99 ms | errors | RSS start → end MiB |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for r in runs:
        lines.append(
            f"| {r['database']} | {r['scenario'].upper()} | ({r['server']}) {r['server_name']} | {r['concurrency']} "
            f"| {r['rps']:.0f} | {r['spread']:.0%} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} "
            f"| {r['rss_start_kib'] / 1024:.1f} → {r['rss_end_kib'] / 1024:.1f} |"
        )
    others = [k for k in "bcde" if any(r["server"] == k for r in runs)]
    lines += ["", "Ratios of requests/s, (a) over each other server:", "",
              "| database | scenario | concurrency | " + " | ".join(f"(a)/({k})" for k in others) + " |",
              "|---|---|---:|" + "---:|" * len(others)]  # fmt: skip
    for db, scenario, level in _cells(runs):
        values = [ratio(runs, db, scenario, level, "a", k) for k in others]
        lines.append(f"| {db} | {scenario.upper()} | {level} | "
                     + " | ".join("" if v is None else f"{v:.2f}" for v in values) + " |")  # fmt: skip
    return lines


def _setup(load: dict[str, Any]) -> list[str]:
    s = load["settings"]
    servers = "\n".join(f"- ({k}) **{v['name']}** — {v['note']}" for k, v in sorted(load["servers"].items()))
    skipped = "".join(f"\n\n**Skipped:** {db}: {why}." for db, why in load.get("skipped", {}).items())
    generator = sorted({r["generator"] for r in load["runs"]}) or ["none"]
    return [
        "Table `items`: 10,000 rows, 100 groups of 100, an index on `group_id`; user 42 owns 10 rows of "
        "every group. **GET** reads one group as user 42 (10 rows, the 100 groups in turn); **POST** inserts one "
        "row (into a group no GET reads; the rows are deleted before each run). Every server's answer was "
        "checked against the expected rows (and the POSTed row's owner) before it was timed.",
        "",
        servers,
        "",
        f"(a)–(d) run under granian, {s['workers']} worker processes each, with the settings `rest serve` uses "
        f"(HTTP/1, `server.max_connections` connections per worker, `db.pool_size` + password-hash slots + 2 request threads: see `granian_options` in `rls/serve.py`). All servers of a database run side by side and "
        f"take turns: per cell (database, scenario, concurrency) each server gets {s['rounds']} turns of "
        f"{s['round_seconds']} s, the order rotating every round, after a {s['warmup']:g} s warm-up per server "
        f"and scenario. req/s = all requests of the cell's turns / their time; **spread** = (fastest − slowest "
        f"turn) / req/s, the cell's own noise; p50 and p99 are the median turn's. Load generator: "
        f"{', '.join(generator)} (one thread, in its own process on the same 2 cores), keep-alive connections. "
        f"Errors = non-2xx answers (wrk: status ≥ 400) + socket errors + timeouts. RSS = the server process and "
        f"all its workers, before the cell's first turn and after its last. The run took "
        f"{load.get('wall_seconds', 0):.0f} s.{skipped}",
    ]


def render(load: dict[str, Any] | None, micro: dict[str, Any] | None, plotted: bool, kept: dict[str, str]) -> str:
    """The whole page as Markdown."""
    date = load["date"] if load else "(no load run)"
    lines = ["# Benchmark results", "",
             f"Generated by `make bench` (`benchmarks/load/report.py`) on {date}. Everything outside the "
             f"`<!-- keep:… -->` markers is rewritten on every run; raw numbers: `results/load.json`, "
             f"`results/micro.json`.", "", "## Targets (issue 6)", ""]  # fmt: skip
    if load:
        lines += load_targets(load)
    if micro:
        lines += ["", *micro_targets(micro)]
    lines += ["", "### Why", "", kept["analysis"], "", "## HTTP load", ""]
    if load:
        lines += [*_setup(load), "", *load_tables(load)]
        lines += ["", "![requests/s against concurrency](results/load.png)"] if plotted else []
        if load.get("soak"):
            soak = load["soak"]
            samples = ", ".join(f"{kib / 1024:.1f}" for _, kib in soak["rss_samples_kib"])
            lines += ["", f"**Soak**: (a) GET on {soak['database']}, c={soak['concurrency']}, {soak['duration']:g} s: "
                      f"{soak['rps']:.0f} req/s, p99 {soak['p99_ms']:.2f} ms, {soak['errors']} errors; RSS every 5 s "
                      f"(MiB): {samples}."]  # fmt: skip
    else:
        lines.append("_Not run._")
    lines += ["", "## Micro benchmarks (pytest-benchmark)", ""]
    lines += micro_tables(micro) if micro else ["_Not run._", ""]
    lines += ["## Before / after", "", kept["before-after"], ""]
    if "faults" in kept:  # written by `make bench-faults` (benchmarks/faults/report.py)
        lines += [kept["faults"], ""]
    if "orm-request" in kept:  # written by `make bench-orm` (benchmarks/orm_request.py)
        lines += [kept["orm-request"], ""]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in (load or {}).get("machine", {}).items()]
    lines += ["", "## How to reproduce", "", "```sh", REPRODUCE.strip(), "```", "", "## Noise", "", NOISE.strip()]
    if load and load.get("steal_percent") is not None:
        spreads = sorted(r["spread"] for r in load["runs"])
        lines += ["", f"In this run: steal time (CPU the hypervisor gave to others) {load['steal_percent']:.1f} % of "
                  f"the machine's CPU time; median spread of a cell {spreads[len(spreads) // 2]:.0%}, "
                  f"largest {spreads[-1]:.0%}."]  # fmt: skip
    lines.append("")
    return "\n".join(lines)


REPRODUCE = """
make bench          # micro benchmarks, then the HTTP load benchmark, then this page (< 10 minutes)
.venv/bin/python -m benchmarks.load --help                   # rounds, levels, workers, soak, generator
.venv/bin/python -m benchmarks.load --rounds 10 --soak 0     # longer cells, no soak
.venv/bin/python -m benchmarks.load --databases sqlite --generator python   # SQLite only, without wrk
.venv/bin/python -m benchmarks.load --report-only            # rewrite this page from the JSON files
# wrk is used when installed (apt-get install wrk), else a Python asyncio generator.
# PostgreSQL: RLS_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test); the benchmark
# creates its own database next to it and drops it afterwards. Skipped, and said so here, if unreachable.
"""
NOISE = """
Two cores run the servers' workers, the load generator and (for PostgreSQL) the database, so the
figures compare servers within one run; they are not a capacity figure. This machine is a small VM
whose speed drifts: a single-threaded CPU loop timed second by second here varies by up to 2×
(steal time). That is why servers take short turns in rotating order instead of one long run each:
a slow stretch then hits every server of a cell, not just one. The **spread** column shows what
remains; treat ratio differences smaller than the spreads of the two cells as noise. SQLite POST
p99 is dominated by SQLite's busy-wait: two worker processes contend for the write lock.
"""


def write(load_json: Path, micro_json: Path, page: Path, out_dir: Path) -> None:
    """Write ``page`` (and ``out_dir/load.png``) from whichever JSON files exist; slim ``micro_json``."""
    load = json.loads(load_json.read_text()) if load_json.exists() else None
    micro = json.loads(micro_json.read_text()) if micro_json.exists() else None
    if micro and slim_micro(micro):
        micro_json.write_text(json.dumps(micro, indent=1) + "\n")
    plotted = plot_load(load, out_dir / "load.png") if load and load["runs"] else False
    kept = kept_blocks(page.read_text() if page.exists() else "")
    page.write_text(render(load, micro, plotted, kept))
    guard_scale = out_dir / "guard_scale.json"
    if guard_scale.exists():  # `make bench-guard`'s section, regenerated from its own JSON
        update_page(page, json.loads(guard_scale.read_text()), load_before(out_dir))
