"""Run the app under granian: one process per worker, the config handed over by environment."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from typing import Any

from rls.config import Config, split_addr
from rls.http.app import App, create_app

_CONFIG_ENV = "RLS_SERVE_CONFIG"


def load_app() -> App:
    """The app factory granian calls in each worker process."""
    raw = json.loads(os.environ[_CONFIG_ENV])
    raw["cors_origins"] = tuple(raw["cors_origins"])
    config = Config(**raw)
    configure_logging(config)
    return create_app(config)


def configure_logging(config: Config) -> None:
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve(config: Config, *, announce: Any = print) -> None:
    """Serve ``config`` until interrupted."""
    from granian import Granian

    host, port = split_addr(config.addr)
    workers = config.workers or os.cpu_count() or 1
    os.environ[_CONFIG_ENV] = json.dumps(asdict(config))
    announce(f"rest server listening on http://{host}:{port} with {workers} worker(s)")
    Granian("rls.serve:load_app", address=host, port=port, **granian_options(config, workers)).serve()


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
        "log_level": config.log_level.lower(),
    }
