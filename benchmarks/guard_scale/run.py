"""Run the guard-at-scale benchmark and write ``results/guard_scale.json`` and its RESULTS.md section.

Per database (PostgreSQL, MariaDB, SQLite): load (or reuse) the 1,000,000-row namespace,
then for every query check that all variants return the same rows and time them in rotating
rounds; on PostgreSQL also record ``EXPLAIN ANALYZE`` of the guarded and the native
statement. Then the rewrite costs with that database's dialect and schema: cold over the
generated corpus, cached for the timed queries and a sample of the corpus.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.guard_scale import corpus, data, fuzzcorpus, queries, report, rewrites
from benchmarks.guard_scale.measure import Settings, ratio_band, time_variants
from benchmarks.load import machine
from rls import AuthUser

RESULTS = Path(__file__).resolve().parents[1] / "results"
CHECKED_PARAMS = 4  # parameters per query checked for equal rows before timing (2 owned ids, 2 not)


def log(line: str) -> None:
    print(f"[guard-scale {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def bench_query(query: queries.Query, target: data.Target, guard: Any, conns: dict[str, Any],
                settings: Settings, checked: int) -> dict[str, Any]:  # fmt: skip
    """One query on one database: equal rows first, then the timings, ratios and plans."""
    runs = queries.runners(query, target, guard, conns)
    params = [query.params(k, target.rows) for k in range(64)]
    out: dict[str, Any] = {"label": query.label, "sql": queries.placeholders(query.sql, target),
                           "hand_sql": queries.placeholders(query.hand, target), "target": query.target}  # fmt: skip
    stmt = guard.rewrite(out["sql"], AuthUser(id=data.USER), params[0])
    out["guarded_sql"] = stmt.sql
    out["mismatches"] = queries.mismatches(runs, params[:checked])
    if out["mismatches"]:
        log(f"  {query.key}: variants disagree, not timed: {out['mismatches'][0]}")
        return out
    out["variants"] = time_variants(runs, params, settings)
    v = out["variants"]
    pairs = (("guard", "native"), ("guard", "hand"), ("native", "hand"))
    out["ratios"] = {f"{a}/{b}": ratio_band(v[a], v[b]) for a, b in pairs if a in v and b in v}
    if target.native:
        out["explain"] = {
            "guard": queries.explain(target, conns["hand"], stmt.sql, stmt.params),
            "native": queries.explain(target, conns["native"], out["sql"], params[0]),
        }
    shown = ", ".join(f"{k} {s['median_ms']:.3f} ms" for k, s in v.items())
    log(f"  {query.key}: {shown}")
    return out


def bench_queries(target: data.Target, settings: Settings, checked: int = CHECKED_PARAMS) -> dict[str, Any]:
    """Every query on one loaded database."""
    guard, db = queries.make_guard(target)
    conns = queries.connections(target)
    try:
        result: dict[str, Any] = {"rows": target.rows, "namespace": target.namespace,
                                  "server": _version(conns["hand"], target),
                                  "load": {"loaded_now": target.loaded_now, "seconds": round(target.load_seconds, 2)},
                                  "queries": {}}  # fmt: skip
        for query in queries.QUERIES:
            result["queries"][query.key] = _bench_retrying(query, target, guard, conns, settings, checked)
        return result
    finally:
        for conn in conns.values():
            conn.close()
        db.close()


def _bench_retrying(query: queries.Query, target: data.Target, guard: Any, conns: dict[str, Any],
                    settings: Settings, checked: int) -> dict[str, Any]:  # fmt: skip
    """:func:`bench_query`, once more on new connections after a database error (this shared
    machine's MariaDB has lost its temp files mid-query); the error recorded if it fails again."""
    for attempt in (1, 2):
        try:
            return bench_query(query, target, guard, conns, settings, checked)
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc)[:240]}"
            log(f"  {query.key}: failed{', once more' if attempt == 1 else ', not timed'}: {error}")
            for conn in conns.values():
                conn.close()
            conns.clear()
            conns.update(queries.connections(target))
    return {"label": query.label, "target": query.target, "error": error}


def bench_rewrites(
    targets: list[data.Target], corpus_size: int, cached_sample: int, passes: int = 3, fuzz: bool = True
) -> dict[str, dict[str, Any]]:
    """The rewrite costs per database (its dialect and schema): cold over the corpus, then cached."""
    made = {t.name: queries.make_guard(t) for t in targets}
    guards = {name: guard for name, (guard, _) in made.items()}
    try:
        for target in targets:  # policies compiled and schema read before the first cold rewrite
            guards[target.name].rewrite(queries.placeholders(queries.QUERIES[0].sql, target), AuthUser(id=data.USER),
                                        queries.QUERIES[0].params(0, target.rows))  # fmt: skip
        items = corpus.generate(corpus_size)
        cold = rewrites.cold(guards, {t.name: rewrites.own_corpus(items, t.name) for t in targets}, passes=passes)
        out = {}
        for target in targets:
            guard, c = guards[target.name], cold[target.name]
            if c["rewritten"]:
                log(f"{target.name}: cold rewrites p50 {c['rewritten']['p50_ms']:.2f} ms, p99 "
                    f"{c['rewritten']['p99_ms']:.2f} ms, max {c['rewritten']['max_ms']:.2f} ms ({c['statements']})")  # fmt: skip
            timed = [(queries.placeholders(q.sql, target), q.params(0, target.rows)) for q in queries.QUERIES]
            sample = [(corpus.for_dialect(i.sql, target.name), i.params) for i in items]
            step = max(len(sample) // max(cached_sample, 1), 1)
            sample = [s for s in sample[::step] if _accepted(guard, s)][:cached_sample]
            out[target.name] = {"cold": c, "cached_queries": rewrites.cached(guard, timed),
                                "cached_corpus": rewrites.cached(guard, sample, number=200)}  # fmt: skip
            log(f"{target.name}: cached rewrite, timed queries p50 {out[target.name]['cached_queries']['p50_us']:.2f} µs, "
                f"corpus p50 {out[target.name]['cached_corpus']['p50_us']:.2f} µs")  # fmt: skip
        if fuzz and fuzzcorpus.available():
            log(f"fuzz corpus: {corpus_size} statements of `make fuzz`'s generator, {passes} cold passes")
            with fuzzcorpus.guards(targets, f"{targets[0].namespace}_fuzz") as fuzz_guards:
                fuzz_cold = rewrites.cold(
                    fuzz_guards, {t.name: fuzzcorpus.statements(corpus_size, t.name) for t in targets}, passes=passes
                )
            for name, c in fuzz_cold.items():
                out[name]["cold_fuzz"] = c
                if c["rewritten"]:
                    log(f"{name}: fuzz corpus cold p50 {c['rewritten']['p50_ms']:.2f} ms, p99 "
                        f"{c['rewritten']['p99_ms']:.2f} ms, max {c['rewritten']['max_ms']:.2f} ms")  # fmt: skip
        return out
    finally:
        for _, db in made.values():
            db.close()


def _version(conn: Any, target: data.Target) -> str:
    cur = conn.cursor()
    cur.execute("SELECT sqlite_version()" if target.name == "sqlite" else "SELECT version()")
    return str(cur.fetchall()[0][0])


def _accepted(guard: Any, statement: tuple[str, tuple[Any, ...]]) -> bool:
    try:
        guard.rewrite(statement[0], AuthUser(id=data.USER), statement[1])
    except Exception:
        return False
    return True


def commit() -> str:
    """The checked-out commit of rls, ``+ local changes`` when rls/ or dialects/ differ from it."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            return ""
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{head} + local changes" if git("status", "--porcelain", "--", "rls", "dialects") else head


def steal_since(ticks: tuple[int, int]) -> float:
    """The steal time since ``ticks`` in percent of all CPU time."""
    steal, total = machine.cpu_ticks()
    return round(100.0 * (steal - ticks[0]) / (total - ticks[1]), 2) if total > ticks[1] else 0.0


def load_average() -> float:
    """The 1-minute load average (on 2 cores, above ~2 means other work competed with this run)."""
    return round(os.getloadavg()[0], 2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.guard_scale", description=__doc__)
    p.add_argument("--databases", default="postgres,mysql,sqlite", help="comma-separated (default all three)")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in orders (default 1,000,000)")
    p.add_argument("--namespace", default="rls_bench_scale", help="PG schema / MariaDB database / SQLite file name")
    p.add_argument("--rounds", type=int, default=15, help="rounds per query at most (default 15)")
    p.add_argument("--min-rounds", type=int, default=5, help="rounds per query at least (default 5)")
    p.add_argument("--query-seconds", type=float, default=25.0,
                   help="no new round once a query has taken this long, after --min-rounds (default 25)")  # fmt: skip
    p.add_argument("--turn-seconds", type=float, default=0.3, help="seconds per turn (default 0.3; ≥ 1 execution)")
    p.add_argument("--max-per-turn", type=int, default=5000, help="executions per turn at most (default 5000)")
    p.add_argument("--corpus", type=int, default=2000, help="statements in the cold-rewrite corpus (default 2000)")
    p.add_argument("--no-fuzz", action="store_true", help="skip the cold rewrites of `make fuzz`'s statements")
    p.add_argument("--passes", type=int, default=3, help="cold passes over the corpus (default 3)")
    p.add_argument("--cached-sample", type=int, default=200, help="corpus statements timed cached (default 200)")
    p.add_argument("--out", type=Path, default=RESULTS / "guard_scale.json")
    p.add_argument(
        "--report", type=Path, default=RESULTS.parent / "RESULTS.md", help="the page whose section is rewritten"
    )
    p.add_argument("--report-only", action="store_true", help="only rewrite the section from the existing JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        report.update_page(args.report, json.loads(args.out.read_text()), report.load_before(args.out.parent))
        return 0
    settings = Settings(rounds=args.rounds, min_rounds=args.min_rounds, query_seconds=args.query_seconds,
                        turn_seconds=args.turn_seconds, max_per_turn=args.max_per_turn)  # fmt: skip
    started = time.perf_counter()
    out: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "commit": commit(),
                           "settings": asdict(settings),
                           "corpus": args.corpus, "databases": {}, "skipped": {}}  # fmt: skip
    pg_version = None
    targets: list[data.Target] = []
    ticks, loads = machine.cpu_ticks(), [load_average()]
    for name in args.databases.split(","):
        log(f"{name}: preparing {args.rows:,} rows in {args.namespace}")
        try:
            target = data.prepare(name, data.DEFAULT_URLS[name], args.namespace, args.rows)
        except data.reachable_error() as exc:
            out["skipped"][name] = f"server not reachable ({type(exc).__name__})"
            log(f"{name}: skipped, {out['skipped'][name]}")
            continue
        log(f"{name}: " + (f"loaded in {target.load_seconds:.1f} s" if target.loaded_now else "reused"))
        if name == "postgres":
            pg_version = machine.postgres_version(target.url.split("?")[0])
        targets.append(target)
        out["databases"][name] = bench_queries(target, settings)
        loads.append(load_average())
    log(
        f"rewrites: {args.corpus} corpus statements, {args.passes} cold passes, on {', '.join(t.name for t in targets)} in turn"
    )
    for name, costs in bench_rewrites(
        targets, args.corpus, args.cached_sample, args.passes, fuzz=not args.no_fuzz
    ).items():
        out["databases"][name]["rewrites"] = costs
    out["steal_percent"], out["load_average"] = steal_since(ticks), [*loads, load_average()]
    out["wall_seconds"] = round(time.perf_counter() - started, 1)
    out["machine"] = machine.describe(pg_version)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=str) + "\n")
    report.update_page(args.report, out, report.load_before(args.out.parent))
    log(f"done in {out['wall_seconds']:.0f} s: {args.out.name}, {args.report.name}")
    return 0
