"""The peer: datasette as an ASGI app, so granian can serve it like the others.

Served as ``benchmarks.load.peer_app:create_app`` (a factory) with the SQLite file in
``RLS_BENCH_DATASETTE_DB``, opened as ``datasette serve <file>`` opens it (mutable).
"""

from __future__ import annotations

import os
from typing import Any


def create_app() -> Any:
    """Datasette's ASGI app over the benchmark database (it runs its start-up on the first request)."""
    from datasette.app import Datasette

    return Datasette([os.environ["RLS_BENCH_DATASETTE_DB"]]).app()
