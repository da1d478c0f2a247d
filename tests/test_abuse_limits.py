"""The limits that keep one client from exhausting a worker (issue 13), in-process:
statement timeouts on every database, the password-hashing gate, the body-reader gate,
login throttling of successful logins. The real-server tests are in test_availability.py."""

from __future__ import annotations

import io
import threading
import time

import pytest

from rls.auth.hashgate import HashGate
from rls.config import ConfigError, load_config
from rls.database import Database
from rls.errors import StatementTimeout, TooManyRequests, Unavailable
from rls.http.slowbody import BodyGate
from tests.authkit import AddressedClient, make_app
from tests.client import Client

# A statement that runs for seconds on each database.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT count(*) FROM c",
    "postgres": "SELECT pg_sleep(5)",
    "mysql": "SELECT SLEEP(5)",
}


@pytest.fixture
def db_url(backend, make_database_url):
    return make_database_url(backend)


def test_a_statement_past_the_timeout_fails_as_a_timeout_and_the_connection_stays_usable(backend, db_url):
    db = Database(db_url, pool_size=1, statement_timeout=0.3)
    try:
        began = time.monotonic()
        with pytest.raises(StatementTimeout) as caught:
            db.run(lambda s: s.execute(SLOW[backend]))
        assert 0.25 < time.monotonic() - began < 2
        assert caught.value.status == 503 and caught.value.code == "timeout"
        assert caught.value.headers == {"Retry-After": "1"}
        assert db.run(lambda s: s.execute("SELECT 1").rows) == [(1,)]
    finally:
        db.close()


def test_without_a_statement_timeout_a_statement_runs_to_its_end(backend, db_url):
    quick = {"sqlite": SLOW["sqlite"].replace("1000000000", "200000"), "postgres": "SELECT pg_sleep(0.5)"}
    quick["mysql"] = "SELECT SLEEP(0.5)"
    db = Database(db_url, pool_size=1)
    try:
        assert len(db.run(lambda s: s.execute(quick[backend]).rows)) == 1
    finally:
        db.close()


def test_the_server_sets_the_statement_timeout_from_its_configuration(db_url, backend):
    app = make_app(db_url, statement_timeout=0.3)
    try:
        with pytest.raises(StatementTimeout):
            app.db.run(lambda s: s.execute(SLOW[backend]))
    finally:
        app.db.close()


def test_new_limits_refuse_nonsense_values():
    with pytest.raises(ConfigError, match=r"db\.statement_timeout"):
        load_config(environ={"REST_DB_STATEMENT_TIMEOUT": "-1"})
    with pytest.raises(ConfigError, match=r"auth\.hash_concurrency"):
        load_config(environ={"REST_AUTH_HASH_CONCURRENCY": "0"})
    with pytest.raises(ConfigError, match=r"server\.header_timeout"):
        load_config(environ={"REST_SERVER_HEADER_TIMEOUT": "0"})


# -- the password-hashing gate ----------------------------------------------------------


def _hold(gate: HashGate, entered: threading.Event, release: threading.Event) -> None:
    with gate.slot():
        entered.set()
        release.wait(5)


def test_the_hash_gate_queues_up_to_its_queue_and_refuses_the_rest_with_retry_after():
    gate = HashGate(concurrency=1, queue=1)
    entered, release = threading.Event(), threading.Event()
    running = threading.Thread(target=_hold, args=(gate, entered, release))
    running.start()
    assert entered.wait(5)
    queued_done = threading.Event()
    queued = threading.Thread(target=_hold, args=(gate, queued_done, release))
    queued.start()
    time.sleep(0.1)  # the second caller is waiting for the running one
    try:
        with pytest.raises(Unavailable) as caught, gate.slot():
            pass
        assert caught.value.status == 503 and caught.value.headers == {"Retry-After": "1"}
        assert not queued_done.is_set()
    finally:
        release.set()
        running.join()
        queued.join()
    assert queued_done.is_set()  # the queued caller ran once the slot was free
    with gate.slot():  # and the gate is empty again
        pass


def test_login_answers_503_with_retry_after_when_the_hash_queue_is_full(make_database_url):
    app = make_app(make_database_url("sqlite"), hash_concurrency=1, hash_queue=0)
    client = Client(app)
    admin = client.post("/auth/setup").json
    entered, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(app.auth.passwords._gate, entered, release))
    holder.start()
    try:
        assert entered.wait(5)
        reply = client.post("/auth/login", {"username": admin["Username"], "password": admin["Password"]})
    finally:
        release.set()
        holder.join()
    assert (reply.status, reply.json["error"], reply.headers.get("Retry-After")) == (503, "unavailable", "1")
    assert client.post("/auth/login", {"username": admin["Username"], "password": admin["Password"]}).status == 200
    app.db.close()


# -- login throttling of successful logins ----------------------------------------------


def test_successful_logins_from_one_client_are_throttled_too(make_database_url):
    app = make_app(make_database_url("sqlite"), login_max_client=3)
    admin = Client(app).post("/auth/setup").json
    credentials = {"username": admin["Username"], "password": admin["Password"]}
    client = AddressedClient(app, "203.0.113.9")
    assert [client.post("/auth/login", credentials).status for _ in range(3)] == [200, 200, 200]
    reply = client.post("/auth/login", credentials)
    assert reply.status == 429 and reply.json["msg"] == "too many logins from this client, retry later"
    assert 1 <= int(reply.headers["Retry-After"]) <= 300
    assert AddressedClient(app, "198.51.100.7").post("/auth/login", credentials).status == 200
    app.db.close()


def test_the_throttle_counts_every_login_attempt_per_client():
    from rls.auth.throttle import LoginThrottle

    throttle = LoginThrottle(max_per_user=100, max_per_client=100, max_attempts_client=2, window=60)
    throttle.check("alice", "10.0.0.1")
    throttle.check("bob", "10.0.0.1")
    with pytest.raises(TooManyRequests):
        throttle.check("carol", "10.0.0.1")
    throttle.check("carol", "10.0.0.2")


# -- the body-reader gate ---------------------------------------------------------------


class _BlockingStream:
    """A body that arrives only when ``arrive`` is set (a client sending it slowly)."""

    def __init__(self) -> None:
        self.arrive = threading.Event()
        self.reading = threading.Event()

    def read(self, size: int = -1) -> bytes:
        self.reading.set()
        self.arrive.wait(5)
        return b"{}"


def test_requests_beyond_the_body_readers_bound_are_answered_503_at_once():
    gate = BodyGate(1)
    slow = _BlockingStream()
    reader = threading.Thread(target=gate.wrap(slow).read, args=(10,))
    reader.start()
    assert slow.reading.wait(5)
    try:
        began = time.monotonic()
        with pytest.raises(Unavailable) as caught:
            gate.wrap(io.BytesIO(b"{}")).read(2)
        assert time.monotonic() - began < 0.5
        assert caught.value.headers == {"Retry-After": "1"}
    finally:
        slow.arrive.set()
        reader.join()
    assert gate.wrap(io.BytesIO(b"{}")).read(2) == b"{}"  # the slot is free again


def test_a_request_refused_by_the_body_gate_changes_nothing(make_database_url):
    app = make_app(make_database_url("sqlite"), body_readers=1)
    client = Client(app)
    client.post("/auth/setup")
    slow = _BlockingStream()
    reader = threading.Thread(target=app.body_gate.wrap(slow).read, args=(10,))
    reader.start()
    assert slow.reading.wait(5)
    try:
        reply = client.post("/auth/register", {"username": "mallory", "password": "long-enough-pw"})
    finally:
        slow.arrive.set()
        reader.join()
    assert (reply.status, reply.json["error"]) == (503, "unavailable")
    assert app.db.run(lambda s: s.execute("SELECT count(*) FROM auth_users WHERE username = 'mallory'").rows) == [(0,)]
    app.db.close()


def test_new_mariadb_connections_share_one_default_tls_context(make_database_url):
    # Building PyMySQL's default context loads the CA bundle (~90 ms of CPU, GIL held):
    # done once per process, not per connection as after a database restart.
    url = make_database_url("mysql")
    db = Database(url)
    args = db.dialect.connect_args(url)
    first, second = db.dialect.connect(**args), db.dialect.connect(**args)
    try:
        assert first.ctx is not None and first.ctx is second.ctx
    finally:
        first.close()
        second.close()
        db.close()
