"""Prometheus metrics: requests, latency, cache hits, pool use, denials — never per user.

Each app owns a registry. Under ``rest serve`` every granian worker is its own process:
``PROMETHEUS_MULTIPROC_DIR`` (a private directory ``rest serve`` creates) makes each one
write its values to files there, and whichever worker answers ``/metrics`` adds up the
files of all of them. ``prometheus_client`` is imported only here and only when an app
is built, so it reads that variable in the worker, after ``rest serve`` has set it.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rls.cache import BoundedCache
from rls.pool import Pool

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Bounded label values: an unknown method must not create a new time series per request.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Pool gauges are sampled at most this often per worker (each set is a file write in
# multi-process mode); a scrape always samples the worker that answers it.
POOL_SAMPLE_SECONDS = 0.5
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LIVE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")


def method_label(method: str) -> str:
    """The method as a label: one of :data:`METHODS`, else ``OTHER``.

    >>> method_label("GET"), method_label("BREW")
    ('GET', 'OTHER')
    """
    return method if method in METHODS else "OTHER"


class Metrics:
    """The server's metrics; :meth:`observe` once per request, :meth:`render` to scrape."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "rls_http_requests", "HTTP requests answered, by route class, method and status",
            ("route", "method", "status"), registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "rls_http_request_duration_seconds", "Time to answer a request, by route class and method",
            ("route", "method"), buckets=BUCKETS, registry=r,
        )  # fmt: skip
        self.cache_hits = Counter(
            "rls_cache_hits", "Cache hits (policy: compiled policies; plan: SQL)", ("cache",), registry=r
        )
        self.cache_misses = Counter("rls_cache_misses", "Cache misses (each one compiles)", ("cache",), registry=r)
        self.denials = Counter(
            "rls_denials", "Requests a policy denied, by table and action", ("table", "action"), registry=r
        )
        # livesum: the sum over the workers that are alive (dead ones are dropped at scrape).
        self.pool = Gauge(
            "rls_db_pool_connections", "Database connections by state (size = the bound), summed over workers",
            ("state",), multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        # Labelled children are looked up once: ``labels()`` costs microseconds per call.
        self._caches: list[tuple[BoundedCache[Any], Any, Any, list[int]]] = []
        self._pools: list[Pool] = []
        self._pool_gauges = {state: self.pool.labels(state) for state in ("size", "open", "in_use", "waiting")}
        self._by_request: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._pool_sampled_at = float("-inf")
        self._lock = threading.Lock()

    def watch_cache(self, name: str, cache: BoundedCache[Any]) -> None:
        """Report ``cache``'s hits and misses under ``cache="<name>"``."""
        self._caches.append((cache, self.cache_hits.labels(name), self.cache_misses.labels(name), [0, 0]))

    def watch_pool(self, pool: Pool) -> None:
        self._pools.append(pool)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request (and bring the cache and pool numbers up to date)."""
        key = (route, method, status)
        children = self._by_request.get(key)
        if children is None:
            label = method_label(method)
            children = (self.requests.labels(route, label, str(status)), self.latency.labels(route, label))
            if len(self._by_request) < 1024:  # bounded: route classes x methods x statuses
                self._by_request[key] = children
        children[0].inc()
        children[1].observe(seconds)
        self.sync(force=False)

    def denied(self, table: str, action: str) -> None:
        self.denials.labels(table, action).inc()

    def sync(self, *, force: bool = True) -> None:
        """Add what the caches counted since the last call; sample the pools (unless
        sampled less than :data:`POOL_SAMPLE_SECONDS` ago and not ``force``).

        The caches keep plain integers (a hit costs no lock); their growth is carried
        into the counters here, once per request.
        """
        with self._lock:
            for cache, hit_counter, miss_counter, seen in self._caches:
                hits, misses = cache.hits, cache.misses
                if hits > seen[0]:
                    hit_counter.inc(hits - seen[0])
                if misses > seen[1]:
                    miss_counter.inc(misses - seen[1])
                seen[0], seen[1] = hits, misses
            now = time.monotonic()
            if self._pools and (force or now - self._pool_sampled_at >= POOL_SAMPLE_SECONDS):
                self._pool_sampled_at = now
                stats = [pool.stats() for pool in self._pools]
                gauges = self._pool_gauges
                gauges["size"].set(sum(s.size for s in stats))
                gauges["open"].set(sum(s.open for s in stats))
                gauges["in_use"].set(sum(s.open - s.idle for s in stats))
                gauges["waiting"].set(sum(s.waiting for s in stats))

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type: every worker's values when shared."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        self.sync()
        if self.multiprocess_dir is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        _forget_dead_workers(self.multiprocess_dir, multiprocess.mark_process_dead)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _forget_dead_workers(directory: str, mark_dead: Callable[..., None]) -> None:
    # A worker killed and respawned by granian leaves its live gauges behind; counters
    # stay (their totals still count).
    for entry in Path(directory).glob("gauge_live*_*.db"):
        match = _LIVE_FILE.fullmatch(entry.name)
        if match and not _alive(int(match.group(1))):
            mark_dead(int(match.group(1)), directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
