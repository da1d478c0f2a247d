"""The servers under load, each started in its own process group and always stopped.

(a) rls with auth and the policy, (b) rls without auth, (c) the hand-written floor app and
(d) datasette run under granian with the settings ``rest serve`` uses (WSGI; ASGI for
datasette), so they differ only in the application; (e) is datasette under its own CLI
(uvicorn, one process), as its users run it.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from benchmarks.load.dataset import OWNER, POST_GROUP, Target
from rls.config import Config
from rls.serve import granian_options

BIN = Path(sys.executable).parent
# The floor and datasette run under granian with the settings rls/serve.py gives `rest serve`.
GRANIAN = granian_options(Config(), 1)
BLOCKING_THREADS = int(GRANIAN["blocking_threads"])


@dataclass(frozen=True)
class Server:
    """How to start one server on ``port`` and how to ask it for the benchmark's rows.

    ``get_path`` is formatted with ``group``; ``post_body`` is None for a read-only server.
    """

    key: str
    name: str
    port: int
    argv: tuple[str, ...]
    get_path: str
    post_body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    note: str = ""


def _granian(target: str, port: int, workers: int, interface: str = "wsgi") -> tuple[str, ...]:
    """granian's command line with the settings of rls/serve.py (granian allows ASGI one blocking thread)."""
    threads = ("--blocking-threads", str(BLOCKING_THREADS)) if interface == "wsgi" else ()
    return (
        str(BIN / "granian"), "--interface", interface, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), *threads, "--backpressure", str(GRANIAN["backpressure"]), "--factory",
        "--http", "1", "--http1-header-read-timeout", str(GRANIAN["http1_settings"].header_read_timeout),
        "--log-level", "warning", target,
    )  # fmt: skip


def _rest(target: Target, port: int, workers: int) -> tuple[str, ...]:
    return (str(BIN / "rest"), "-db.url", target.url, "-addr", f"127.0.0.1:{port}", "-workers", str(workers), "serve")


def build_servers(target: Target, workers: int, *, secret: str, token: str) -> list[Server]:
    """The servers to compare on ``target``, each on a free port; datasette on SQLite only."""
    quiet = {"REST_LOG_LEVEL": "warning"}
    own_path = f"/items?group_id=eq.{{group}}&user_id=eq.{OWNER}"
    own_body = f'{{"group_id": {POST_GROUP}, "name": "posted", "user_id": {OWNER}}}'
    a, b, c, d, e = free_ports(5)
    servers = [
        Server("a", "rls, auth + policy", a, _rest(target, a, workers), "/items?group_id=eq.{group}",
               post_body=f'{{"group_id": {POST_GROUP}, "name": "posted"}}', headers={"Authorization": f"Bearer {token}"},
               env={**quiet, "REST_AUTH_ENABLED": "true", "REST_AUTH_SECRET": secret},
               note="policy `user_id = auth_user.id`; one token (verified once, then cached)"),
        Server("b", "rls, no auth", b, _rest(target, b, workers), own_path, post_body=own_body, env=quiet,
               note="the client filters on user_id itself"),
        Server("c", "floor (hand-written WSGI)", c, _granian("benchmarks.load.floor_app:create_app", c, workers),
               own_path, post_body=own_body, env={"RLS_BENCH_FLOOR_URL": target.url},
               note="same driver and connection settings, one statement in autocommit, no schema, no policy"),
    ]  # fmt: skip
    if target.sqlite_path is not None:
        path = f"/items/items.json?group_id={{group}}&user_id={OWNER}&_shape=array&_nocount=1&_nofacet=1"
        servers += [
            Server("d", "datasette (granian)", d, _granian("benchmarks.load.peer_app:create_app", d, workers, "asgi"),
                   path, env={"RLS_BENCH_DATASETTE_DB": target.sqlite_path},
                   note="datasette's ASGI app under granian with the same workers: its best showing here"),
            Server("e", "datasette serve", e,
                   (str(BIN / "datasette"), "serve", target.sqlite_path, "--host", "127.0.0.1", "--port", str(e)),
                   path, note="datasette's own CLI, as its users run it: uvicorn, one process (it has no worker option)"),
        ]  # fmt: skip
    return servers


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class ServerProcess:
    """``server`` running on ``port``; a context manager that waits for it and stops it.

    The server gets a new session, so it and every worker it forks share one process
    group, whose id is the server's pid: :meth:`stop` ends that group and nothing else.
    """

    def __init__(self, server: Server, log_path: Path):
        self.server = server
        self.port = server.port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.server.argv, env={**os.environ, **self.server.env}, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once the server answers HTTP; raise if it exits or stays silent."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.server.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.server.name} did not answer within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self) -> str:
        """The end of the server's output, for an error message."""
        try:
            return self.log_path.read_text(errors="replace")[-1500:].strip()
        except OSError:
            return "(no output)"

    def stop(self) -> None:
        """Stop the server: SIGTERM to it (granian and uvicorn then stop their workers),
        then SIGKILL to its process group for whatever is left after 10 s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()

    def rss_kib(self) -> int:
        """Resident memory of the server and all its descendants, in KiB."""
        return sum(_rss_kib(pid) for pid in _descendants(self.proc.pid)) if self.proc else 0


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
