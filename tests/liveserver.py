"""A WSGI app served over real HTTP in this process, for clients that speak HTTP (the
Supabase ``postgrest`` client): a threaded wsgiref server on a free local port."""

from __future__ import annotations

import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:  # no access log on the test's output
        pass


class LiveServer:
    """``app`` on ``http://127.0.0.1:<free port>`` until :meth:`close`."""

    def __init__(self, app: Any):
        self._server = make_server("127.0.0.1", 0, app, server_class=_Server, handler_class=_Quiet)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
