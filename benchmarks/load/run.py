"""Run the HTTP load benchmark end to end and write ``load.json`` and ``RESULTS.md``.

For each database (SQLite, then a fresh PostgreSQL database dropped afterwards) every
server is started side by side, its answers checked and warmed up; then, per scenario
(GET, then POST) and concurrency level, the servers take turns in rounds (the order
rotating each round), so that drift on this small machine is shared by all of them
rather than landing on whichever ran last. A soak of (a) GET closes the SQLite part.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jwt

from benchmarks.load import dataset, machine, report
from benchmarks.load.checks import check_get, check_post
from benchmarks.load.loadgen import run_load
from benchmarks.load.measure import Cell, load_spec, soak
from benchmarks.load.servers import ServerProcess, build_servers

RESULTS = Path(__file__).resolve().parents[1] / "results"


@dataclass(frozen=True)
class Settings:
    """The knobs of one run (see ``--help``)."""

    rounds: int
    round_seconds: int
    warmup: int
    levels: tuple[int, ...]
    workers: int
    soak: int
    soak_connections: int
    generator: str
    databases: tuple[str, ...]
    postgres_url: str


def parse_args(argv: list[str] | None) -> tuple[Settings, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    p.add_argument("--rounds", type=int, default=6, help="turns each server gets per cell (default 6)")
    p.add_argument("--round-seconds", type=int, default=1, help="seconds per turn, whole (wrk's unit; default 1)")
    p.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per server and scenario (default 2)")
    p.add_argument("--levels", default="1,8,32", help="concurrency levels, comma-separated (default 1,8,32)")
    p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes per server (default: CPUs)"
    )
    p.add_argument("--soak", type=int, default=60, help="seconds of the (a) GET soak on SQLite; 0 skips it")
    p.add_argument("--soak-connections", type=int, default=8, help="concurrency of the soak (default 8)")
    p.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                   help="load generator: wrk when on PATH (auto), or the Python one")  # fmt: skip
    p.add_argument("--databases", default="sqlite,postgres", help="comma-separated (default sqlite,postgres)")
    p.add_argument("--postgres-url", default=os.environ.get("RLS_BENCH_POSTGRES_URL", dataset.DEFAULT_POSTGRES_URL),
                   help="an existing PostgreSQL database; the benchmark creates and drops its own next to it "
                   "(env RLS_BENCH_POSTGRES_URL)")  # fmt: skip
    p.add_argument("--out", type=Path, default=RESULTS, help="where load.json and load.png go")
    p.add_argument("--micro", type=Path, default=RESULTS / "micro.json", help="pytest-benchmark JSON to report")
    p.add_argument("--report", type=Path, default=RESULTS.parent / "RESULTS.md", help="the page to write")
    p.add_argument("--report-only", action="store_true", help="only rewrite the page from the existing JSON")
    args = p.parse_args(argv)
    settings = Settings(
        args.rounds, args.round_seconds, args.warmup, tuple(int(x) for x in args.levels.split(",")), args.workers,
        args.soak, args.soak_connections, args.generator, tuple(args.databases.split(",")), args.postgres_url,
    )  # fmt: skip
    return settings, args


def log(line: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


@contextmanager
def open_target(name: str, settings: Settings, tmp: Path) -> Iterator[dataset.Target]:
    """The database ``name`` with ``items`` and the auth tables; a PostgreSQL one is dropped after."""
    if name == "sqlite":
        target = dataset.create_sqlite(tmp)
        dataset.setup_auth(target)
        yield target
        return
    db_name = f"rls_bench_{os.getpid()}"
    try:
        target = dataset.create_postgres(settings.postgres_url, db_name)
        dataset.setup_auth(target)
        yield target
    finally:
        dataset.drop_postgres(settings.postgres_url, db_name)


def bench_database(target: dataset.Target, settings: Settings, tmp: Path, out: dict[str, Any]) -> None:
    """Every scenario, level and server on ``target``; cells appended to ``out["runs"]``."""
    secret = secrets.token_urlsafe(48)  # never printed; handed to server (a) in its environment
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    token = jwt.encode({"user_id": dataset.OWNER, "exp": expiry}, secret, algorithm="HS256")
    servers = build_servers(target, settings.workers, secret=secret, token=token)
    with ExitStack() as stack:
        procs = [stack.enter_context(ServerProcess(s, tmp / f"{target.name}-{s.key}.log")) for s in servers]
        for proc in procs:
            out["servers"][proc.server.key] = {"name": proc.server.name, "note": proc.server.note}
        for scenario in ("get", "post"):
            active = [p for p in procs if scenario == "get" or p.server.post_body is not None]
            for proc in active:
                check_get(proc.server) if scenario == "get" else check_post(proc.server, target)
                run_load(load_spec(proc.server, scenario, max(settings.levels), settings.warmup), settings.generator)
            for level in settings.levels:
                bench_level(target, scenario, level, active, settings, out)
            if scenario == "get" and target.name == "sqlite" and settings.soak > 0:
                log(f"sqlite GET soak of (a): {settings.soak:g} s at c={settings.soak_connections}")
                rls_with_policy = next(p for p in procs if p.server.key == "a")
                out["soak"] = {"database": target.name, **soak(rls_with_policy, "get", settings.soak_connections,
                                                                 settings.soak, settings.generator)}  # fmt: skip
                log(f"  {out['soak']['rps']:.0f} req/s, errors {out['soak']['errors']}, RSS "
                    f"{out['soak']['rss_start_kib']} → {out['soak']['rss_end_kib']} KiB")  # fmt: skip
        target.reset_posts()


def bench_level(target: dataset.Target, scenario: str, level: int, procs: list[ServerProcess],
                settings: Settings, out: dict[str, Any]) -> None:  # fmt: skip
    """One concurrency level: each server gets ``rounds`` turns, the order rotating every round."""
    cells = {p.server.key: Cell({"database": target.name, "scenario": scenario, "server": p.server.key,
                                 "server_name": p.server.name, "concurrency": level}) for p in procs}  # fmt: skip
    for n in range(settings.rounds):
        for proc in procs[n % len(procs) :] + procs[: n % len(procs)]:
            if scenario == "post":
                target.reset_posts()
            spec = load_spec(proc.server, scenario, level, settings.round_seconds)
            cells[proc.server.key].measure(proc, spec, settings.generator)
    for key, cell in cells.items():
        row = cell.record()
        out["runs"].append(row)
        log(f"{target.name} {scenario.upper()} c={level:<3} ({key}) {row['rps']:8.1f} req/s  p50 {row['p50_ms']:6.2f} ms"
            f"  p99 {row['p99_ms']:7.2f} ms  errors {row['errors']}  spread {row['spread']:.0%}")  # fmt: skip


def run(settings: Settings) -> dict[str, Any]:
    """Run every database and scenario; return what load.json holds."""
    started = time.monotonic()
    out: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "settings": asdict(settings),
                           "servers": {}, "runs": [], "soak": None, "skipped": {}}  # fmt: skip
    pg_version, ticks = None, machine.cpu_ticks()
    with tempfile.TemporaryDirectory(prefix="rls-load-") as tmp_name:
        for name in settings.databases:
            if name == "postgres":
                try:
                    pg_version = machine.postgres_version(settings.postgres_url)
                except Exception as exc:
                    out["skipped"]["postgres"] = f"server not reachable ({type(exc).__name__})"
                    log(f"postgres skipped: {out['skipped']['postgres']}")
                    continue
            with open_target(name, settings, Path(tmp_name)) as target:
                bench_database(target, settings, Path(tmp_name), out)
    steal, total = (now - then for now, then in zip(machine.cpu_ticks(), ticks, strict=True))
    out["steal_percent"] = round(100 * steal / total, 1) if total else None
    out["machine"] = machine.describe(pg_version)
    out["wall_seconds"] = round(time.monotonic() - started, 1)
    return out


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    # SIGTERM (and SIGINT even where a shell set it to be ignored) unwinds like Ctrl-C, so
    # every server is stopped and the PostgreSQL database dropped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    settings, args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    load_json = args.out / "load.json"
    if not args.report_only:
        results = run(settings)
        load_json.write_text(json.dumps(results, indent=1) + "\n")
        log(f"wrote {load_json} ({results['wall_seconds']:.0f} s)")
    report.write(load_json, args.micro, args.report, args.out)
    log(f"wrote {args.report}")
    return 0
