"""The operations surface (issue 12): health, readiness, metrics, the access log, request
ids, start-up checks and graceful shutdown. In-process on every database, then the real
server in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rls.config import Config, ConfigError, validate
from rls.database import Database
from rls.http.accesslog import request_id_of
from tests.authkit import login, make_app
from tests.client import Client
from tests.test_availability import Server, _hold_lock
from tests.test_serve import free_port

PASSWORD = "correct-horse-battery"


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def db_url(backend, make_database_url):
    return make_database_url(backend)


@pytest.fixture
def make(db_url, tmp_path):
    """``make(**overrides)``: a client of a new auth-enabled app whose access log goes to a file."""
    apps = []

    def build(**overrides):
        app = make_app(db_url, **{"auth_enabled": True, "access_log": str(tmp_path / "access.log"), **overrides})
        apps.append(app)
        return Client(app)

    yield build
    for app in apps:
        app.db.close()


@pytest.fixture
def ready_client(make):
    """A client after auth setup, with a table ``todos``, a user ``alice`` and her token."""
    client = make()
    client.app.db.run(
        lambda s: s.execute(
            "CREATE TABLE todos (id INTEGER PRIMARY KEY, user_id INTEGER, title VARCHAR(50), done BOOLEAN)"
        )
    )
    assert client.post("/auth/setup").status == 200
    assert client.post("/auth/register", {"username": "alice", "password": PASSWORD}).status == 200
    client.token = login(client, "alice", PASSWORD)
    return client


def access_lines(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "access.log").read_text().splitlines()]


def metric(client: Client, name: str, **labels: str) -> float:
    """The value of one sample of ``GET /_rls/metrics`` (0 when absent)."""
    reply = client.get("/_rls/metrics", token="")
    assert reply.status == 200, reply.body
    # prometheus_client's own parser: the page must be valid exposition format.
    for family in text_string_to_metric_families(reply.body.decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


# -- health and readiness ---------------------------------------------------------------------


def test_ops_health_answers_without_reading_credentials(make):
    client = make()
    for path in ("/health", "/_rls/health"):
        reply = client.get(path, token="not-a-jwt")  # a bad token elsewhere is a 401
        assert (reply.status, reply.json) == (200, {"status": "ok"})
    assert client.get("/todos", token="not-a-jwt").status == 401


def test_ops_ready_needs_the_database_and_the_policies(make):
    client = make()
    reply = client.get("/ready")  # auth on, no auth_policies table yet: every request would be denied
    assert (reply.status, reply.json["error"]) == (503, "unavailable"), reply.body
    assert "auth_policies does not exist" in reply.json["msg"]
    assert client.post("/auth/setup").status == 200
    time.sleep(1.1)  # the outcome of a check is reused for a second
    assert (client.get("/ready").status, client.get("/_rls/ready").json) == (200, {"status": "ok"})


def test_ops_ready_is_503_when_the_database_is_unreachable():
    app = make_app(f"postgres://postgres:pw@127.0.0.1:{free_port()}/test", ops_ready_timeout=3.0)
    try:
        client = Client(app)
        reply = client.get("/ready")
        assert reply.status == 503
        assert (reply.json["msg"], reply.json["error"]) == ("not ready: database unavailable", "unavailable")
        assert client.get("/health").status == 200  # liveness does not depend on the database
    finally:
        app.db.close()


def test_ops_a_table_named_like_an_ops_path_keeps_its_route(make, db_url):
    db = Database(db_url)
    db.run(lambda s: s.execute("CREATE TABLE health (id INTEGER PRIMARY KEY, user_id INTEGER)"))
    db.run(lambda s: s.execute("INSERT INTO health (id, user_id) VALUES (1, NULL)"), write=True)
    db.close()
    client = make(auth_enabled=False)
    assert client.get("/health").json == [{"id": 1, "user_id": None}]  # the table, as the original
    assert client.get("/health/1").json == {"id": 1, "user_id": None}
    assert client.get("/_rls/health").json == {"status": "ok"}  # the endpoint, under the reserved prefix
    assert client.get("/ready").status == 200  # no table of that name: the endpoint
    reply = client.post("/_rls/health", {"id": 2})
    assert (reply.status, reply.json["msg"]) == (405, "method not supported: POST")


def test_ops_paths_are_configurable(make):
    client = make(ops_health_path="/-/live", ops_ready_path="", auth_enabled=False)
    assert client.get("/-/live").json == {"status": "ok"}
    assert client.get("/health").json["msg"] == "table does not exist: health"
    assert client.get("/ready").json["msg"] == "table does not exist: ready"
    assert client.get("/_rls/ready").status == 200


@pytest.mark.parametrize("path", ["health", "/a?b", "/", "/a//b", "/a%2f"])
def test_ops_config_refuses_a_malformed_path(path):
    with pytest.raises(ConfigError, match=r"ops\.health_path"):
        validate(Config(ops_health_path=path))


# -- metrics ----------------------------------------------------------------------------------


def test_ops_metrics_count_requests_by_route_class_method_and_status(ready_client):
    client = ready_client
    before = metric(client, "rls_http_requests_total", route="table", method="GET", status="200")
    client.get("/todos")
    client.get("/todos")
    client.get("/nosuch")
    assert metric(client, "rls_http_requests_total", route="table", method="GET", status="200") == before + 2
    assert metric(client, "rls_http_requests_total", route="table", method="GET", status="404") >= 1
    assert metric(client, "rls_http_requests_total", route="auth", method="POST", status="200") >= 3
    assert metric(client, "rls_http_request_duration_seconds_count", route="table", method="GET") >= before + 3
    client.request("BREW", "/todos")
    assert metric(client, "rls_http_requests_total", route="table", method="OTHER", status="405") == 1


def test_ops_metrics_count_cache_hits_and_misses(ready_client):
    client = ready_client
    client.get("/todos", "done=eq.true")
    hits = {c: metric(client, "rls_cache_hits_total", cache=c) for c in ("plan", "policy")}
    misses = metric(client, "rls_cache_misses_total", cache="plan")
    client.get("/todos", "done=eq.false")  # the same shape: a hit in both caches
    assert metric(client, "rls_cache_hits_total", cache="plan") == hits["plan"] + 1
    assert metric(client, "rls_cache_hits_total", cache="policy") == hits["policy"] + 1
    client.get("/todos", "title=like.*x*")  # a new shape: a plan miss
    assert metric(client, "rls_cache_misses_total", cache="plan") == misses + 1


def test_ops_metrics_count_denials_by_table_and_action_and_show_the_pool(ready_client):
    client = ready_client
    assert client.get("/auth_users").status == 403  # the default policy: admins only
    assert client.get("/auth_users", token="").status == 401
    assert client.delete("/auth_policies", "id=eq.1").status == 403
    assert metric(client, "rls_denials_total", table="auth_users", action="read") == 2
    assert metric(client, "rls_denials_total", table="auth_policies", action="delete") == 1
    assert metric(client, "rls_db_pool_connections", state="size") == 8
    assert metric(client, "rls_db_pool_connections", state="open") >= 1


def test_ops_metrics_hold_no_per_user_data(ready_client):
    client = ready_client
    client.get("/todos", "title=eq.secret-title-value")
    text = client.get("/metrics").body.decode()
    assert "rls_http_requests_total" in text
    for private in ("alice", PASSWORD, client.token, "secret-title-value", "user_id"):
        assert private not in text


def test_ops_metrics_may_require_a_token(make):
    client = make(metrics_token="m" * 24)
    assert client.get("/metrics").status == 401
    reply = client.get("/_rls/metrics", token="m" * 23 + "x")
    assert (reply.status, reply.headers.get("WWW-Authenticate")) == (401, "Bearer")
    reply = client.get("/metrics", token="m" * 24)
    assert reply.status == 200 and b"rls_http_requests_total" in reply.body
    with pytest.raises(ConfigError, match="metrics_token"):
        validate(Config(metrics_token="short"))


def test_ops_metrics_may_be_disabled(make):
    client = make(metrics_enabled=False, auth_enabled=False)
    assert client.get("/metrics").json["msg"] == "table does not exist: metrics"  # a table path again
    reply = client.get("/_rls/metrics")
    assert (reply.status, reply.json["msg"]) == (404, "metrics are disabled (ops.metrics_enabled)")


# -- access log and request ids ---------------------------------------------------------------


def test_ops_access_log_never_holds_tokens_passwords_query_values_or_bodies(ready_client, tmp_path):
    client = ready_client
    client.get("/todos", "title=eq.query-secret-value")
    client.post("/todos", {"title": "body-secret-value", "user_id": 1})
    client.post("/auth/login", {"username": "alice", "password": "wrong-" + PASSWORD}, token="")
    client.get(f"/{client.token}", token="")  # a token pasted as a table name
    text = (tmp_path / "access.log").read_text()
    lines = access_lines(tmp_path)
    assert len(lines) == 7  # setup, register, login, and the five above
    for secret in (client.token, PASSWORD, "query-secret-value", "body-secret-value", "alice", "Bearer"):
        assert secret not in text
    read = lines[3]
    assert set(read) == {"time", "request_id", "method", "route", "table", "action", "status", "duration_ms",
                         "user_id", "bytes", "pid"}  # fmt: skip
    assert (read["method"], read["route"], read["table"], read["action"], read["status"]) == (
        "GET", "table", "todos", "read", 200,
    )  # fmt: skip
    assert isinstance(read["user_id"], int) and read["bytes"] > 0 and read["duration_ms"] > 0
    assert (lines[5]["route"], lines[5]["action"], lines[5]["status"]) == ("auth", "login", 401)
    assert (lines[6]["table"], lines[6]["status"]) == (None, 404)


def test_ops_request_id_is_honoured_when_well_formed_else_generated(make, tmp_path):
    client = make()
    assert client.get("/", headers={"X-Request-Id": "req-42.a:b_c"}).headers["X-Request-Id"] == "req-42.a:b_c"
    for bad in ("a b", "x" * 129, "id\r\nSet-Cookie: a=b", "é"):
        echoed = client.get("/", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert echoed != bad and len(echoed) == 32
    errors = [client.get("/nosuch"), client.request("BREW", "/"), client.get("/todos", token="bad")]
    assert [r.status for r in errors] == [404, 405, 401]
    ids = [r.headers["X-Request-Id"] for r in errors]
    assert len(set(ids)) == 3
    assert [line["request_id"] for line in access_lines(tmp_path)[-3:]] == ids


def test_ops_request_id_of_bounds_length_and_charset():
    assert request_id_of("x" * 128) == "x" * 128
    assert request_id_of("x" * 129) != "x" * 129
    assert request_id_of(None) != request_id_of(None)


def test_ops_access_log_can_be_off(make, tmp_path):
    client = make(access_log="off")
    assert client.get("/").status == 200
    assert not (tmp_path / "access.log").exists()


# -- the real server --------------------------------------------------------------------------


def run_rest(*argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from rls.cli import entry; entry()", *argv],
        capture_output=True, text=True, timeout=timeout, env=os.environ.copy(),
    )  # fmt: skip


def test_serve_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_rest("-db.url", f"sqlite:///{tmp_path}/p.db", "-addr", f"127.0.0.1:{port}", "serve")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"rest: cannot listen on 127.0.0.1:{port}: address already in use\n"


def test_serve_port_taken_after_the_check_is_still_one_line_and_exit_1(tmp_path):
    """Another process binds between rls's own check and granian's bind: granian's
    failure is turned into the same line (the check is skipped here to force the race)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-c", "import rls.serve as s; s.check_listen = lambda *a: None; from rls.cli import entry; entry()",
             "-db.url", f"sqlite:///{tmp_path}/r.db", "-addr", f"127.0.0.1:{port}", "-workers", "1", "serve"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == f"rest: cannot listen on 127.0.0.1:{port}: address already in use"
    assert "Traceback" not in done.stderr and "backtrace" not in done.stderr


def test_serve_unreachable_database_is_one_line_and_a_nonzero_exit():
    url = f"postgres://postgres:s3cret@127.0.0.1:{free_port()}/test"
    done = run_rest("-db.url", url, "-addr", f"127.0.0.1:{free_port()}", "serve")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"rest: cannot reach the database {url.replace('s3cret', '***')}: database unavailable\n"


def test_serve_may_start_degraded(start):
    url = f"postgres://postgres@127.0.0.1:{free_port()}/test"
    server = start(url, env={"REST_SERVER_START_DEGRADED": "true"})
    assert server.request("GET", "/_rls/health")[:2] == (200, {"status": "ok"})
    status, body, _ = server.request("GET", "/ready", timeout=10)
    assert (status, body["error"]) == (503, "unavailable")
    assert any("starting degraded" in line for line in server.lines)


@pytest.fixture
def start():
    servers: list[Server] = []

    def make_server(db_url: str, **kwargs: object) -> Server:
        server = Server(db_url, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make_server
    for server in servers:
        server.stop()


def test_serve_sigterm_lets_a_request_in_flight_finish(start, tmp_path):
    url = f"sqlite:///{tmp_path}/slow.db"
    db = Database(url)
    db.run(lambda s: s.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
    db.run(lambda s: s.execute("INSERT INTO items (id, name) VALUES (1, 'a')"), write=True)
    db.close()
    server = start(url, env={"REST_DB_STATEMENT_TIMEOUT": "10"})
    server.request("GET", "/items")  # WAL mode and the schema before the lock
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=("sqlite", url, "items", release, held))
    holder.start()
    outcome: list[object] = []
    assert held.wait(10)
    writer = threading.Thread(
        target=lambda: outcome.append(server.request("PATCH", "/items?id=eq.1", {"name": "b"}, timeout=20))
    )
    writer.start()
    time.sleep(1.0)  # the PATCH waits for the lock
    server.proc.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    time.sleep(1.0)
    release.set()
    holder.join()
    writer.join(20)
    assert server.proc.wait(15) == 0
    assert time.monotonic() - stopped_at < 10
    assert outcome and outcome[0][:2] == (200, {"msg": "successfully updated 1 rows"}), outcome


def test_serve_metrics_add_up_the_counts_of_every_worker(start, tmp_path):
    server = start(f"sqlite:///{tmp_path}/m.db", workers=2)
    before = len(server.lines)
    for _ in range(40):
        assert server.request("GET", "/nosuch")[0] == 404  # each on a new connection
    time.sleep(0.3)
    logged = [json.loads(line) for line in server.lines[before:] if line.startswith("{")]
    pids = {entry["pid"] for entry in logged if entry["route"] == "table"}
    assert len(pids) == 2, "the requests should have been spread over both workers"
    for _ in range(4):  # whichever worker answers the scrape sees every worker's counts
        conn_text = _scrape(server.port)
        assert 'rls_http_requests_total{method="GET",route="table",status="404"} 40.0' in conn_text
    shared = _multiproc_dir(server.worker_pids()[0])
    assert shared.is_dir() and shared.stat().st_mode & 0o777 == 0o700
    assert any(shared.glob("counter_*.db"))
    server.stop()
    assert not shared.exists()  # removed on exit; a new run starts from an empty one


def _multiproc_dir(pid: int) -> Path:
    """The metrics directory a worker writes to (found by its counter file)."""
    (counter,) = Path(tempfile.gettempdir()).glob(f"rls-metrics-*/counter_{pid}.db")
    return counter.parent


def _scrape(port: int) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return reply.read().decode()
