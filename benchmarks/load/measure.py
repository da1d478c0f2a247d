"""One measured cell (database, scenario, server, concurrency): rounds of load, memory read around them."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from benchmarks.load import dataset
from benchmarks.load.loadgen import LoadResult, LoadSpec, run_load
from benchmarks.load.servers import Server, ServerProcess


def load_spec(server: Server, scenario: str, connections: int, duration: float) -> LoadSpec:
    """GET cycles through the 100 groups; POST sends the server's one-row body."""
    if scenario == "get":
        paths = [server.get_path.format(group=g) for g in range(dataset.GROUPS)]
        return LoadSpec(server.port, paths, connections, duration, headers=dict(server.headers))
    return LoadSpec(server.port, ["/items"], connections, duration, "POST", server.post_body, dict(server.headers))


class RssSampler:
    """Reads the server's RSS at the start, every ``interval`` seconds, and at the end."""

    def __init__(self, proc: ServerProcess, interval: float):
        self.proc, self.interval = proc, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def _sample(self) -> None:
        self.samples.append((round(time.monotonic() - self._t0, 1), self.proc.rss_kib()))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


@dataclass
class Cell:
    """The rounds measured for one (database, scenario, server, concurrency)."""

    labels: dict[str, Any]
    rounds: list[LoadResult] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)

    def measure(self, proc: ServerProcess, spec: LoadSpec, generator: str) -> LoadResult:
        """Run one round and keep it, with the server's RSS before and after."""
        before = proc.rss_kib()
        result = run_load(spec, generator)
        self.rounds.append(result)
        self.rss_kib += [before, proc.rss_kib()]
        return result

    def record(self) -> dict[str, Any]:
        """The cell for load.json: requests/s over all rounds, the median round's p50 and p99.

        ``spread`` is (fastest - slowest round) / overall requests/s: this cell's noise.
        """
        rounds = self.rounds
        requests, seconds = sum(r.requests for r in rounds), sum(r.seconds for r in rounds)
        rps = requests / seconds if seconds else 0.0
        return {
            **self.labels, "rps": round(rps, 1), "p50_ms": round(statistics.median(r.p50_ms for r in rounds), 3),
            "p99_ms": round(statistics.median(r.p99_ms for r in rounds), 3), "errors": sum(r.errors for r in rounds),
            "status_errors": sum(r.status_errors for r in rounds), "socket_errors": sum(r.socket_errors for r in rounds),
            "timeouts": sum(r.timeouts for r in rounds), "requests": requests, "seconds": round(seconds, 2),
            "rounds": [round(r.rps, 1) for r in rounds],
            "spread": round((max(r.rps for r in rounds) - min(r.rps for r in rounds)) / rps, 3) if rps else 0.0,
            "generator": rounds[0].generator, "rss_start_kib": self.rss_kib[0], "rss_end_kib": self.rss_kib[-1],
        }  # fmt: skip


def soak(proc: ServerProcess, scenario: str, connections: int, seconds: float, generator: str) -> dict[str, Any]:
    """One long run with the server's RSS read every 5 s."""
    with RssSampler(proc, interval=5.0) as rss:
        result = run_load(load_spec(proc.server, scenario, connections, seconds), generator)
    return {
        "server": proc.server.key, "scenario": scenario, "concurrency": connections, "duration": seconds,
        "rps": round(result.rps, 1), "p50_ms": round(result.p50_ms, 3), "p99_ms": round(result.p99_ms, 3),
        "requests": result.requests, "errors": result.errors, "rss_samples_kib": rss.samples,
        "rss_start_kib": rss.samples[0][1], "rss_end_kib": rss.samples[-1][1],
    }  # fmt: skip
