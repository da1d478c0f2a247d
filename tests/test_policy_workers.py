"""Two server processes on one database: a policy changed through one — or with plain
SQL — is enforced by the other within the refresh interval (1 s by default)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import urllib.request

import pytest

from rls.cli import main
from rls.database import Database
from tests.authkit import FAST_ENV, SECRET
from tests.test_serve import start_server, wait_for

BOUND = 1.0  # the default policy.refresh_interval
SLACK = 0.5  # request and scheduling time on a busy machine


def call(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:  # urllib declares a form otherwise, which rls refuses (415)
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def two_servers(backend, make_database_url):
    url = make_database_url(backend)
    env = {**os.environ, **FAST_ENV, "REST_AUTH_ENABLED": "true", "REST_AUTH_SECRET": SECRET, "REST_DB_URL": url}
    out = io.StringIO()
    assert main(["-db.url", url, "auth", "setup"], out=out, err=io.StringIO()) == 0
    password = out.getvalue().split("Password: ")[1].strip()
    db = Database(url)
    types = db.dialect.DDL_TYPES
    db.run(
        lambda s: s.execute(
            "CREATE TABLE notes (id {serial}, user_id {integer}, body {string}){table_options}".format_map(types)
        ),
        write=True,
    )
    servers = [start_server(env=env, output=subprocess.DEVNULL) for _ in range(2)]
    procs, bases = [p for p, _ in servers], [b for _, b in servers]
    for proc, base in zip(procs, bases, strict=True):
        wait_for(f"{base}/", proc)
    yield db, bases, password
    for proc in procs:
        proc.terminate()
        proc.wait(10)
    db.close()


def wait_until(predicate, timeout):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def test_policy_change_reaches_the_other_server_within_the_bound(two_servers):
    db, (a, b), password = two_servers
    assert call("POST", f"{a}/auth/register", {"username": "alice", "password": "password-alice"})[0] == 200
    admin = call("POST", f"{a}/auth/login", {"username": "rest_admin", "password": password})[1]["token"]
    alice = call("POST", f"{b}/auth/login", {"username": "alice", "password": "password-alice"})[1]["token"]
    db.run(lambda s: s.execute("INSERT INTO notes (body, user_id) VALUES ('someone else''s', 999)"), write=True)
    assert call("GET", f"{b}/notes", token=alice) == (200, [])

    status, _ = call(
        "POST",
        f"{a}/auth_policies",
        {"table_name": "notes", "action": "read", "expression": "", "description": "open"},
        admin,
    )
    assert status == 200
    elapsed = wait_until(lambda: call("GET", f"{b}/notes", token=alice)[1] != [], BOUND + SLACK)
    assert elapsed is not None, "server B still enforces the old policy"

    # A change with plain SQL reaches both servers too.
    db.run(lambda s: s.execute("DELETE FROM auth_policies WHERE table_name = 'notes'"), write=True)
    for server in (a, b):
        elapsed = wait_until(lambda server=server: call("GET", f"{server}/notes", token=alice)[1] == [], BOUND + SLACK)
        assert elapsed is not None, f"{server} still enforces the deleted policy"
