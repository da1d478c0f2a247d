"""The fault benchmark: a database restart (clean) and a crash under load, on PostgreSQL and
MariaDB, each a private instance this benchmark starts. ``make bench-faults`` runs it.

For each run: ``rest serve`` on the instance, client threads writing and reading rows
for ``warmup`` seconds, then the database is stopped (``restart``: a clean shutdown;
``crash``: PostgreSQL's immediate stop, SIGKILL for MariaDB), kept down for ``down``
seconds and started again; the load goes on for ``after`` seconds. Measured: the statuses
while the database was down, how long after it was back the first request succeeded,
errors other than 503, and whether every acknowledged write is in the table afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.faults.instances import Instance, PrivateMariaDB, PrivatePostgres, free_port
from rls.database import Database

RESULTS = Path(__file__).resolve().parent.parent / "results" / "faults.json"
INSTANCES = {"postgres": PrivatePostgres, "mariadb": PrivateMariaDB}


@dataclass
class Event:
    """One request: when it started and ended (seconds from the start), what it was, how it ended."""

    start: float
    end: float
    kind: str
    outcome: str  # the HTTP status, or the name of the client-side error
    row: int | None = None


@dataclass
class Load:
    """Client threads against one server; each writes a new row, then reads it back."""

    port: int
    clients: int
    t0: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)
    acknowledged: set[int] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def request(self, method: str, path: str, body: Any = None) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers={"Content-Type": "application/json"})  # fmt: skip
            reply = conn.getresponse()
            reply.read()
            return str(reply.status)
        except OSError as exc:
            return type(exc).__name__
        finally:
            conn.close()

    def client(self, number: int) -> None:
        sequence = 0
        while not self.stop.is_set():
            sequence += 1
            row = number * 1_000_000 + sequence
            began = self.now()
            outcome = self.request("POST", "/items", {"id": row, "client": number, "n": sequence})
            self.events.append(Event(began, self.now(), "write", outcome, row))
            if outcome.startswith("2"):
                self.acknowledged.add(row)
            began = self.now()
            outcome = self.request("GET", f"/items?id=eq.{row}")
            self.events.append(Event(began, self.now(), "read", outcome, row))

    def run_while(self, work: Any) -> Any:
        threads = [threading.Thread(target=self.client, args=(n,)) for n in range(1, self.clients + 1)]
        for thread in threads:
            thread.start()
        try:
            return work()
        finally:
            self.stop.set()
            for thread in threads:
                thread.join()


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-c", "from rls.cli import entry; entry()", "-db.url", url,
            "-addr", f"127.0.0.1:{port}", "-workers", "1", "serve"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "REST_LOG_LEVEL": "warning"}
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
        finally:
            conn.close()
    proc.kill()
    raise RuntimeError(f"rest serve did not start; see {log}")


def one_run(instance: Instance, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """One fault under load on a running instance; the measurements as a dict."""
    db = Database(instance.url)
    db.run(lambda s: s.execute("DROP TABLE IF EXISTS items"))
    db.run(lambda s: s.execute("CREATE TABLE items (id BIGINT PRIMARY KEY, client INTEGER, n INTEGER)"))
    port = free_port()
    server = start_server(instance.url, port, instance.dir / f"rest-{mode}.log")
    load = Load(port, args.clients)
    marks: dict[str, float] = {}

    def fault() -> None:
        time.sleep(args.warmup)
        marks["stop"] = load.now()
        instance.stop(mode)
        marks["down"] = load.now()
        time.sleep(args.down)
        marks["start"] = load.now()
        instance.start()
        marks["up"] = load.now()
        time.sleep(args.after)

    try:
        load.run_while(fault)
    finally:
        server.terminate()
        server.wait(15)
    present = {row for (row,) in db.run(lambda s: s.execute("SELECT id FROM items").rows)}
    db.close()
    return summarize(instance.name, mode, load.events, marks, load.acknowledged, present)


def summarize(database: str, mode: str, events: list[Event], marks: dict[str, float],
              acknowledged: set[int], present: set[int]) -> dict[str, Any]:  # fmt: skip
    """The measurements of one run.

    >>> events = [Event(0.0, 0.1, "write", "201", 1), Event(1.0, 1.1, "write", "503", 2),
    ...           Event(2.5, 2.6, "read", "200", 1)]
    >>> r = summarize("pg", "crash", events, {"stop": 0.5, "down": 0.6, "start": 2.0, "up": 2.4}, {1}, {1})
    >>> r["recovery_s"], r["while_down"], r["missing_acknowledged"], r["unexpected"]
    (0.2, {'503': 1}, 0, {})
    """
    after_up = [e for e in events if e.start >= marks["up"] and e.outcome.startswith("2")]
    first_ok = min((e.end for e in after_up), default=None)
    while_down = Counter(e.outcome for e in events if marks["down"] <= e.start < marks["start"])
    failures = [e for e in events if not e.outcome.startswith("2")]
    unexpected = Counter(e.outcome for e in failures if e.outcome != "503")
    down_latencies = sorted(e.end - e.start for e in events if marks["down"] <= e.start < marks["start"])
    return {
        "database": database,
        "mode": mode,
        "requests": len(events),
        "statuses": dict(Counter(e.outcome for e in events)),
        "while_down": dict(while_down),
        "max_latency_while_down_ms": round(down_latencies[-1] * 1000, 1) if down_latencies else None,
        "db_stop_s": round(marks["down"] - marks["stop"], 2),
        "db_start_s": round(marks["up"] - marks["start"], 2),
        "recovery_s": None if first_ok is None else round(first_ok - marks["up"], 2),
        "failed_after_up": sum(1 for e in failures if e.start >= marks["up"]),
        "unavailable_s": round(max(e.end for e in failures) - min(e.start for e in failures), 2) if failures else 0.0,
        "unexpected": dict(unexpected),
        "acknowledged_writes": len(acknowledged),
        "missing_acknowledged": len(acknowledged - present),
        "written_but_not_acknowledged": len(present - acknowledged),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="postgres,mariadb")
    parser.add_argument("--modes", default="restart,crash")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--down", type=float, default=2.0)
    parser.add_argument("--after", type=float, default=4.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    runs = []
    for name in args.databases.split(","):
        with INSTANCES[name]() as instance:
            for mode in args.modes.split(","):
                result = one_run(instance, mode, args)
                print(json.dumps(result), flush=True)
                runs.append(result)
    settings = {k: getattr(args, k) for k in ("clients", "warmup", "down", "after")}
    report = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "settings": settings, "runs": runs}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    from benchmarks.faults.report import write_section

    write_section(report)
    failed = [r for r in runs if r["missing_acknowledged"] or r["unexpected"] or r["recovery_s"] is None]
    return 1 if failed else 0
