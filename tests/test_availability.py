"""The server keeps answering under abuse and faults (issue 13): silent and slow clients,
a killed worker, a burst of logins, a locked table. Each test runs the real server."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pymysql
import pytest

from rls.auth.service import passwords_for
from rls.auth.setup import setup
from rls.config import Config
from rls.database import Database
from tests.test_serve import free_port

SECRET = "availability-secret-" + "x" * 32


class Server:
    """``rest serve`` in a subprocess, its output collected line by line."""

    def __init__(self, db_url: str, *, workers: int = 1, env: dict[str, str] | None = None):
        self.port = free_port()
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from rls.cli import entry; entry()", "-db.url", db_url,
             "-addr", f"127.0.0.1:{self.port}", "-workers", str(workers), "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "REST_LOG_LEVEL": "info", **(env or {})},
        )  # fmt: skip
        threading.Thread(target=self._collect, daemon=True).start()
        self.wait_until_up()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_until_up(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited: {''.join(self.lines)}"
            try:
                if self.request("GET", "/", timeout=1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not answer in time")

    def request(self, method: str, path: str, body: object = None, timeout: float = 5.0) -> tuple[int, dict, dict]:
        """One request on a new connection: status, JSON body, headers."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = None if body is None else json.dumps(body)
            conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            reply = conn.getresponse()
            return reply.status, json.loads(reply.read() or b"null"), dict(reply.getheaders())
        finally:
            conn.close()

    def worker_pids(self) -> list[int]:
        """PIDs of the workers spawned so far, in order ("Spawning worker-N with PID: …")."""
        return [int(line.rsplit(":", 1)[1]) for line in list(self.lines) if "Spawning worker" in line]

    def rss_mib(self) -> float:
        """Resident memory of the server and all its processes."""
        return sum(_rss_kib(pid) for pid in _process_tree(self.proc.pid)) / 1024

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _process_tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1])


@pytest.fixture
def start():
    servers: list[Server] = []

    def make(db_url: str, **kwargs: object) -> Server:
        server = Server(db_url, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def items_url(tmp_path: Path) -> str:
    path = tmp_path / "items.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO items (name) VALUES (?)", [("a",), ("b",)])
    return f"sqlite:///{path}"


def _trickle(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
    """Send ``head`` at once, then one byte every 0.3 s until stopped or closed."""
    try:
        sock.sendall(head)
        while not stop.wait(0.3):
            sock.sendall(b"x")
    except OSError:
        pass


def test_silent_and_slow_clients_do_not_starve_another_client(start, items_url):
    server = start(items_url, env={"REST_SERVER_HEADER_TIMEOUT": "2"})
    stop = threading.Event()
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]  # silent
    heads = [b"GET /items HTTP/1.1\r\nHost: x\r\nX-Slow: "] * 20 + [
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ] * 20
    for head in heads:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sockets.append(sock)
        threading.Thread(target=_trickle, args=(sock, head, stop), daemon=True).start()
    try:
        answers = []
        deadline = time.monotonic() + 3.5  # past the header timeout: slow headers are dropped by then
        while time.monotonic() < deadline:
            began = time.monotonic()
            status, rows, _ = server.request("GET", "/items", timeout=3)
            answers.append((status, len(rows), round(time.monotonic() - began, 3)))
            time.sleep(0.1)
    finally:
        stop.set()
        for sock in sockets:
            sock.close()
    assert len(answers) >= 20
    assert [a for a in answers if a[:2] != (200, 2) or a[2] >= 1.0] == []


def test_an_idle_connection_is_closed_after_the_header_timeout(start, items_url):
    server = start(items_url, env={"REST_SERVER_HEADER_TIMEOUT": "1"})
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(5)
        began = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server, nothing sent
        assert 0.8 < time.monotonic() - began < 3


def test_a_killed_worker_is_respawned_while_the_other_keeps_answering(start, items_url):
    server = start(items_url, workers=2)
    victim = server.worker_pids()[0]
    outcomes: list[object] = []
    killed_at = time.monotonic() + 0.5
    deadline = killed_at + 3
    while time.monotonic() < deadline:
        if victim and time.monotonic() >= killed_at:
            os.kill(victim, signal.SIGKILL)
            victim = 0
        try:
            outcomes.append(server.request("GET", "/items", timeout=2)[0])
        except OSError as exc:  # only the request in flight on the killed worker may fail
            outcomes.append(type(exc).__name__)
        time.sleep(0.02)
    failures = [o for o in outcomes if o != 200]
    assert len(failures) <= 1, failures
    assert outcomes.count(200) > 20
    pids = server.worker_pids()
    assert len(pids) == 3, "".join(server.lines)  # two at start, one respawned
    os.kill(pids[2], 0)  # the new worker is alive
    assert server.proc.poll() is None


def test_a_burst_of_logins_keeps_memory_bounded_and_the_server_answering(start, make_database_url):
    url = make_database_url("sqlite")
    db = Database(url)
    admin = setup(db, passwords_for(Config()))  # a hash with the default (64 MiB) cost
    db.close()
    server = start(url, env={"REST_AUTH_ENABLED": "true", "REST_AUTH_SECRET": SECRET})
    credentials = {"username": admin["Username"], "password": admin["Password"]}
    baseline = server.rss_mib()
    peak, root_latencies, logins = [baseline], [], []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(server.rss_mib())
            began = time.monotonic()
            status = server.request("GET", "/", timeout=5)[0]
            root_latencies.append((status, time.monotonic() - began))
            done.wait(0.05)

    def log_in(barrier: threading.Barrier) -> None:
        barrier.wait()
        status, body, headers = server.request("POST", "/auth/login", credentials, timeout=30)
        logins.append((status, "token" in (body or {}), headers.get("retry-after")))

    barrier = threading.Barrier(32)
    threads = [threading.Thread(target=log_in, args=(barrier,)) for _ in range(32)]
    sampler = threading.Thread(target=sample)
    sampler.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    sampler.join()
    assert max(peak) < 600, (baseline, max(peak))
    assert max(latency for _, latency in root_latencies) < 1.0
    assert {status for status, _ in root_latencies} == {200}
    accepted = [entry for entry in logins if entry[0] == 200]
    assert accepted and all(has_token for _, has_token, _ in accepted)
    assert all(entry == (503, False, "1") for entry in logins if entry[0] != 200), logins


# -- a locked table -------------------------------------------------------------------


def _hold_lock(backend: str, url: str, table: str, release: threading.Event, held: threading.Event) -> None:
    """Lock ``table`` against writes from another connection until ``release`` is set."""
    args = Database(url).dialect.connect_args(url)
    if backend == "postgres":
        conn = psycopg.connect(**args)
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    elif backend == "mysql":
        conn = pymysql.connect(**args)
        conn.begin()
        conn.cursor().execute(f"SELECT * FROM {table} FOR UPDATE")
    else:
        conn = sqlite3.connect(args["path"], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # SQLite locks the whole database for writers
    held.set()
    release.wait(30)
    conn.rollback()
    conn.close()


def test_a_locked_table_answers_503_after_the_statement_timeout(start, backend, make_database_url):
    url = make_database_url(backend)
    db = Database(url)
    for table in ("locked", "free"):
        db.run(lambda s, t=table: s.execute(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, name VARCHAR(20))"))
        db.run(lambda s, t=table: s.execute(f"INSERT INTO {t} (id, name) VALUES (1, 'a')"), write=True)
    db.close()
    server = start(url, env={"REST_DB_STATEMENT_TIMEOUT": "1"})
    server.request("GET", "/locked")  # the schema is read before the lock is taken
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(backend, url, "locked", release, held))
    holder.start()
    try:
        assert held.wait(10)
        began = time.monotonic()
        status, body, headers = server.request("PATCH", "/locked?id=eq.1", {"name": "b"}, timeout=10)
        waited = time.monotonic() - began
        other = server.request("GET", "/free", timeout=2)
    finally:
        release.set()
        holder.join()
    # PostgreSQL and MariaDB: the lock wait ran out; SQLite: its busy timeout (set to the
    # statement timeout) ran out.
    assert (status, body["error"], headers.get("retry-after")) == (503, "timeout", "1"), body
    assert 0.9 < waited < 3
    assert other[:2] == (200, [{"id": 1, "name": "a"}])


def test_requests_piling_up_behind_a_lock_leave_threads_for_other_requests(start, items_url):
    server = start(items_url, env={"REST_DB_STATEMENT_TIMEOUT": "2"})
    server.request("GET", "/items")  # the database is in WAL mode before the lock is taken
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=("sqlite", items_url, "items", release, held))
    holder.start()
    stop = threading.Event()
    stuck: list[object] = []

    def hammer() -> None:  # writes wait for the lock, up to the statement timeout
        while not stop.is_set():
            try:
                stuck.append(server.request("PATCH", "/items?id=eq.1", {"name": "x"}, timeout=10)[0])
            except OSError as exc:
                stuck.append(type(exc).__name__)

    hammers = [threading.Thread(target=hammer) for _ in range(60)]  # more than the server has threads
    try:
        assert held.wait(10)
        for thread in hammers:
            thread.start()
        time.sleep(0.5)
        latencies = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            began = time.monotonic()
            status = server.request("GET", "/", timeout=5)[0]
            latencies.append((status, round(time.monotonic() - began, 3)))
            time.sleep(0.1)
        while_locked = list(stuck)
    finally:
        stop.set()
        release.set()
        for thread in hammers:
            thread.join()
        holder.join()
    assert [entry for entry in latencies if entry[0] != 200 or entry[1] >= 1.0] == []
    assert while_locked and set(while_locked) == {503}  # refused at once, or after the statement timeout
