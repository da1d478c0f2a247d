"""The same GET with and without a policy, plans cached: what enforcement costs per request."""

from __future__ import annotations

import datetime as dt
import io

import jwt
import pytest

from rls.config import Config
from rls.database import Database
from rls.http.app import create_app

SECRET = "benchmark-secret-" + "x" * 32
ROWS = 2000  # 20 groups × 100 rows; one user owns 10 rows of each group


def build_database(path: str) -> str:
    url = f"sqlite:///{path}"
    db = Database(url)

    def work(session):
        session.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, user_id INTEGER, group_id INTEGER, name TEXT)")
        session.execute("CREATE INDEX items_group ON items (group_id, user_id)")
        session.connection.executemany(
            "INSERT INTO items (user_id, group_id, name) VALUES (?, ?, ?)",
            [(42 if (i // 20) % 10 == 0 else 1000 + i, i % 20, f"item {i}") for i in range(ROWS)],
        )
        session.execute(
            "CREATE TABLE auth_policies (id INTEGER PRIMARY KEY, description TEXT, table_name TEXT, action TEXT, expression TEXT)"
        )
        session.execute(
            "INSERT INTO auth_policies (description, table_name, action, expression) VALUES ('own', 'all', 'all', 'user_id = auth_user.id')"
        )

    db.run(work, write=True)
    db.close()
    return url


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    return build_database(str(tmp_path_factory.mktemp("bench") / "items.db"))


def request(app, query, headers):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/items", "QUERY_STRING": query,
               "wsgi.input": io.BytesIO(b""), **headers}  # fmt: skip
    status = []
    body = b"".join(app(environ, lambda s, h: status.append(s)))
    assert status == ["200 OK"], body
    return body


def test_get_without_policy(benchmark, url):
    """Auth disabled; the client filters by owner itself: the same rows come back."""
    benchmark.group = "policy-overhead"
    benchmark.extra_info["baseline"] = True
    app = create_app(Config(db_url=url))
    body = benchmark(lambda: request(app, "group_id=eq.5&user_id=eq.42", {}))
    assert body.count(b'"id"') == 10


def test_get_with_policy(benchmark, url):
    benchmark.group = "policy-overhead"
    app = create_app(Config(db_url=url, auth_enabled=True, auth_secret=SECRET))
    token = jwt.encode(
        {"user_id": 42, "exp": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)}, SECRET, algorithm="HS256"
    )
    body = benchmark(lambda: request(app, "group_id=eq.5", {"HTTP_AUTHORIZATION": f"Bearer {token}"}))
    assert body.count(b'"id"') == 10
