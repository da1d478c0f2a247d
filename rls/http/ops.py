"""The operations endpoints: liveness, readiness and Prometheus metrics.

Each is always served under the reserved prefix ``/_rls/`` (``/_rls/health``,
``/_rls/ready``, ``/_rls/metrics``), and also at a short path (``ops.health_path`` …,
default ``/health``, ``/ready``, ``/metrics``) unless a table has the name of that
path's first segment: the original served every table at ``/<table>``, and such a table
keeps its route. None of them reads credentials; only the metrics may require a token.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable

from rls.auth.setup_gate import is_direct_loopback
from rls.config import Config
from rls.database import Database
from rls.errors import Denied, MethodNotAllowed, NotFound, RlsError, Unauthenticated, Unavailable
from rls.http.messages import Request, Response, json_response
from rls.metrics import Metrics
from rls.policy.store import POLICY_TABLE, PolicyStore

RESERVED_PREFIX = "_rls"
OpsHandler = Callable[[Request], Response]


class Readiness:
    """Whether this worker can serve: the database answers and (with auth) the policies load.

    At most one check runs at a time and its outcome is reused for ``reuse`` seconds,
    so a flood of unauthenticated ``/ready`` requests cannot become a flood of queries.
    """

    def __init__(self, db: Database, policies: PolicyStore | None, *, timeout: float, reuse: float = 1.0):
        self.db = db
        self.policies = policies
        self.timeout = timeout
        self.reuse = reuse
        self._lock = threading.Lock()
        self._outcome: str | None = None  # "" ready, else why not
        self._checked_at = 0.0
        self._running: threading.Event | None = None

    def check(self) -> None:
        """Return when ready; raise :class:`Unavailable` (503) saying why not."""
        with self._lock:
            fresh = self._outcome is not None and time.monotonic() - self._checked_at < self.reuse
            outcome = self._outcome if fresh else None
            if outcome is None:
                if self._running is None:
                    self._running = threading.Event()
                    # A daemon thread: a database that hangs holds it, not the request.
                    threading.Thread(target=self._run, args=(self._running,), daemon=True).start()
                running = self._running
        if outcome is None:
            if not running.wait(self.timeout):
                raise Unavailable(
                    f"not ready: the database did not answer within {self.timeout:g} s (ops.ready_timeout)"
                )
            outcome = self._outcome
        if outcome:
            raise Unavailable(f"not ready: {outcome}")

    def _run(self, done: threading.Event) -> None:
        outcome = self._probe()
        with self._lock:
            self._outcome, self._checked_at, self._running = outcome, time.monotonic(), None
        done.set()

    def _probe(self) -> str:
        try:
            self.db.run(lambda s: s.execute("SELECT 1"))
            if self.policies is not None and not self.policies.current().table_exists:
                return f"policies not loaded: table {POLICY_TABLE} does not exist (run rest auth setup)"
        except Unavailable as exc:
            return exc.message
        except RlsError as exc:
            return f"database error ({exc.code})"
        except Exception as exc:  # noqa: BLE001 - a driver's message may hold values: its type only
            return f"database unavailable ({type(exc).__name__})"
        return ""


class OpsRoutes:
    """The three endpoints and the paths they answer on."""

    def __init__(self, config: Config, db: Database, policies: PolicyStore | None, metrics: Metrics | None):
        self.db = db
        self.metrics = metrics
        self.metrics_token = config.metrics_token.encode("utf-8")
        self.readiness = Readiness(db, policies, timeout=config.ops_ready_timeout)
        endpoints: dict[str, OpsHandler] = {"health": self.health, "ready": self.ready, "metrics": self.serve_metrics}
        self.reserved = endpoints
        paths = {"health": config.ops_health_path, "ready": config.ops_ready_path}
        if metrics is not None:
            paths["metrics"] = config.ops_metrics_path
        self.aliases = {tuple(p.strip("/").split("/")): endpoints[name] for name, p in paths.items() if p}

    def match(self, method: str, segments: list[str]) -> OpsHandler | None:
        """The handler for this request if it is an ops request, else None.

        Raises:
            MethodNotAllowed: a method other than GET on a reserved path.
        """
        if len(segments) == 2 and segments[0] == RESERVED_PREFIX and segments[1] in self.reserved:
            if method != "GET":
                raise MethodNotAllowed(f"method not supported: {method}")
            return self.reserved[segments[1]]
        handler = self.aliases.get(tuple(segments))
        if handler is None or method != "GET" or self._is_table(segments[0]):
            return None
        return handler

    def _is_table(self, name: str) -> bool:
        """Whether a table is named ``name`` (reads the schema once if this worker has
        not yet; a database that cannot be reached has no table to serve)."""
        schema = self.db.cached_schema
        if schema is None:
            try:
                schema = self.db.schema()
            except RlsError:
                return False
        return name in schema

    def health(self, request: Request) -> Response:
        """Liveness: the process answers. Touches nothing else."""
        return json_response({"status": "ok"})

    def ready(self, request: Request) -> Response:
        """Readiness: 200 when the database answers and the policies load, else 503."""
        self.readiness.check()
        return json_response({"status": "ok"})

    def serve_metrics(self, request: Request) -> Response:
        if self.metrics is None:
            raise NotFound("metrics are disabled (ops.metrics_enabled)")
        if self.metrics_token and not self._has_token(request.header("Authorization") or ""):
            raise Unauthenticated(
                "metrics require the bearer token (ops.metrics_token)", headers={"WWW-Authenticate": "Bearer"}
            )
        if not self.metrics_token and not is_direct_loopback(request.environ):
            # Closed by default: the metrics name tables and count other users' denials.
            raise Denied("metrics are served to a client on this host, or with ops.metrics_token")
        body, content_type = self.metrics.render()
        return Response(200, body, [("Content-Type", content_type), ("Cache-Control", "no-store")])

    def _has_token(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode("utf-8"), self.metrics_token)
