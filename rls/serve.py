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
    from granian.constants import Interfaces

    host, port = split_addr(config.addr)
    workers = config.workers or os.cpu_count() or 1
    os.environ[_CONFIG_ENV] = json.dumps(asdict(config))
    announce(f"rest server listening on http://{host}:{port} with {workers} worker(s)")
    Granian(
        "rls.serve:load_app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        factory=True,
        blocking_threads=max(config.pool_size, 2),
        backpressure=max(config.pool_size, 2),
        log_level=config.log_level.lower(),  # type: ignore[arg-type]
    ).serve()
