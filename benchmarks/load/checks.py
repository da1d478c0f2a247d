"""Before a server is timed, its answers are checked: the same rows, the same written row."""

from __future__ import annotations

import http.client
import json
import sqlite3

from benchmarks.load import dataset
from benchmarks.load.servers import Server


def fetch(server: Server, method: str, path: str) -> tuple[int, bytes]:
    """One request with the server's headers (and its POST body); the status and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        headers = {**server.headers, "Content-Type": "application/json"}
        conn.request(method, path, body=server.post_body if method == "POST" else None, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def check_get(server: Server) -> None:
    """The server returns exactly the owner's 10 rows of a group, in id order, for a few groups."""
    for group in (0, 42, dataset.GROUPS - 1):
        status, body = fetch(server, "GET", server.get_path.format(group=group))
        rows = json.loads(body) if status == 200 else body
        if rows != dataset.expected_rows(group):
            raise AssertionError(f"{server.name}: GET group {group} answered {status} {str(rows)[:300]}")


def check_post(server: Server, target: dataset.Target) -> None:
    """One POST writes one row owned by the user (filled in by the policy for (a))."""
    target.reset_posts()
    status, body = fetch(server, "POST", "/items")
    if not 200 <= status < 300:
        raise AssertionError(f"{server.name}: POST answered {status} {body[:300]!r}")
    owners = post_owners(target)
    if owners != [dataset.OWNER]:
        raise AssertionError(f"{server.name}: POST wrote rows owned by {owners}")
    target.reset_posts()


def post_owners(target: dataset.Target) -> list[int]:
    """``user_id`` of every row in the POST group."""
    sql = f"SELECT user_id FROM items WHERE group_id = {dataset.POST_GROUP}"
    if target.sqlite_path is not None:
        with sqlite3.connect(target.sqlite_path) as conn:
            return [row[0] for row in conn.execute(sql)]
    import psycopg

    with psycopg.connect(target.url) as conn:
        return [row[0] for row in conn.execute(sql)]  # type: ignore[arg-type]
