"""Run the app under granian: one process per worker, the config handed over by environment.

Start-up checks, in order, before anything is printed: the address can be listened on
(else exit 1), the database answers (else exit 1, unless ``server.start_degraded``).
SIGTERM: granian stops accepting, lets in-flight requests finish (at most
``server.shutdown_timeout`` seconds) and exits 0.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from dialects import redact_url
from rls.config import Config, split_addr
from rls.database import Database
from rls.errors import RlsError, Unavailable
from rls.http.app import App, create_app
from rls.metrics import MULTIPROC_ENV

_CONFIG_ENV = "RLS_SERVE_CONFIG"
log = logging.getLogger("rls.serve")


class ListenError(RlsError):
    """The address cannot be listened on (in use, not permitted, no such address): exit 1."""


def load_app() -> App:
    """The app factory granian calls in each worker process."""
    raw = json.loads(os.environ[_CONFIG_ENV])
    raw["cors_origins"] = tuple(raw["cors_origins"])
    config = Config(**raw)
    configure_logging(config)
    return create_app(config)


def configure_logging(config: Config) -> None:
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve(config: Config, *, announce: Callable[[str], Any] = print) -> None:
    """Serve ``config`` until SIGTERM or SIGINT.

    Raises:
        ListenError: the address is taken or cannot be bound.
        Unavailable: the database cannot be reached (and ``server.start_degraded`` is off).
    """
    from granian import Granian

    host, port = split_addr(config.addr)
    check_listen(host, port, config.addr)
    reachable = check_database(config)
    announce(f"database: {redact_url(config.db_url)}")
    if reachable is not None:
        announce(f"warning: {reachable}; starting degraded (server.start_degraded): /ready answers 503")
    workers = config.workers or os.cpu_count() or 1
    os.environ[_CONFIG_ENV] = json.dumps(asdict(config))
    metrics_dir = prepare_metrics_dir() if config.metrics_enabled else None
    try:
        announce(f"rest server listening on http://{host}:{port} with {workers} worker(s)")
        server = Granian("rls.serve:load_app", address=host, port=port, **granian_options(config, workers))
        try:
            server.serve()
        except BaseException as exc:
            # Another process took the port after our own check: granian raises a
            # RuntimeError carrying a Rust backtrace. One line instead.
            if is_address_in_use(exc):
                raise ListenError(f"cannot listen on {config.addr}: address already in use") from None
            raise
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)


def check_listen(host: str, port: int, addr: str) -> None:
    """Bind ``host:port`` once, as granian will, and let it go: a taken port is one clear
    line and exit 1 instead of granian's start-up banner and a Rust backtrace.

    SO_REUSEADDR as granian sets it: a port left in TIME_WAIT by a previous run is free.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc)).lower()
        raise ListenError(f"cannot listen on {addr}: {reason}") from None


def is_address_in_use(exc: BaseException) -> bool:
    """Whether granian failed to bind because the address is taken.

    >>> is_address_in_use(RuntimeError("Address already in use (os error 98)"))
    True
    """
    text = str(exc).split("\n", 1)[0]
    in_use = "Address already in use" in text or f"os error {errno.EADDRINUSE})" in text
    return in_use and (isinstance(exc, (RuntimeError, OSError)) or type(exc).__name__ == "PanicException")


def check_database(config: Config) -> str | None:
    """None when the database answers within ``ops.ready_timeout`` (at least the
    driver's connect timeout); else why not, which ends start-up unless degraded.

    Raises:
        Unavailable: unreachable and ``server.start_degraded`` is off.
    """
    db = Database(config.db_url, pool_size=1, statement_timeout=config.ops_ready_timeout)
    outcome: list[str] = []

    def probe() -> None:
        try:
            db.run(lambda s: s.execute("SELECT 1"))
            outcome.append("")
        except RlsError as exc:
            outcome.append(exc.message)
        except Exception as exc:  # noqa: BLE001 - a driver's message may hold values: its type only
            outcome.append(type(exc).__name__)
        finally:
            db.close()

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(max(config.ops_ready_timeout, 6.0))  # the drivers' connect timeout is 5 s
    reason = outcome[0] if outcome else "no answer in time"
    if not reason:
        return None
    problem = f"cannot reach the database {redact_url(config.db_url)}: {reason}"
    if config.start_degraded:
        return problem
    raise Unavailable(problem)


def prepare_metrics_dir() -> str:
    """A new private directory for the workers' metric files (``PROMETHEUS_MULTIPROC_DIR``).

    Always a fresh one: counts of an earlier run, or of another server, must not leak in.
    """
    path = tempfile.mkdtemp(prefix="rls-metrics-")  # mode 0700
    os.environ[MULTIPROC_ENV] = path
    return path


def granian_options(config: Config, workers: int) -> dict[str, Any]:
    """granian's settings for ``config``, chosen so idle and slow clients cannot starve others.

    - HTTP/1 only: with protocol detection (``auto``) granian waits for a silent
      connection's first bytes forever; over HTTP/1 the header read timeout closes it.
    - The header read timeout also ends idle keep-alive connections (granian has no
      separate idle timeout), so ``backpressure`` — granian's cap on *connections* per
      worker, idle ones included — is sized for connections, not for requests.
    - Request threads: one per pooled connection or request waiting for one, one per
      password hash running or queued, and two for requests that need neither (``GET /``,
      errors): waiters beyond ``db.pool_queue`` are refused, so threads stay free. Requests reading a body
      take at most ``server.body_readers`` of them (see :mod:`rls.http.slowbody`).
    - A worker that dies (a crash, ``kill -9``) is started again.
    - On SIGTERM workers finish their in-flight requests, for at most ``server.shutdown_timeout``.
    """
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    return {
        "interface": Interfaces.WSGI,
        "http": HTTPModes.http1,
        "workers": workers,
        "factory": True,
        "backlog": config.backlog,
        "backpressure": config.max_connections,
        "blocking_threads": config.pool_size + config.pool_queue + config.hash_concurrency + config.hash_queue + 2,
        "http1_settings": HTTP1Settings(header_read_timeout=max(1, round(config.header_timeout * 1000))),
        "respawn_failed_workers": True,
        "workers_kill_timeout": config.shutdown_timeout,
        "log_level": config.log_level.lower(),
    }
