"""A small realistic application for the ORM conformance suites: users, projects, todos,
tags and a many-to-many link, its policies, its seed rows, and what each user may see."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from rls import Policy

POLICIES = [
    Policy("users", "read", ""),
    Policy("projects", "all", "owner_id = auth_user.id"),
    Policy("todos", "all", "user_id = auth_user.id"),
    Policy("tags", "all", ""),
    Policy(
        "todo_tags",
        "all",
        "EXISTS (SELECT 1 FROM todos t WHERE t.id = todo_tags.todo_id AND t.user_id = auth_user.id)",
    ),
]

SEED: dict[str, list[dict[str, Any]]] = {
    "users": [{"id": 1, "name": "alice"}, {"id": 2, "name": "bob"}],
    "projects": [{"id": 1, "owner_id": 1, "name": "home"}, {"id": 2, "owner_id": 2, "name": "work"}],
    "todos": [
        {"id": 1, "user_id": 1, "project_id": 1, "title": "buy milk", "priority": 2, "done": False},
        {"id": 2, "user_id": 1, "project_id": 1, "title": "BUY% bread", "priority": 5, "done": True},
        {"id": 3, "user_id": 2, "project_id": 2, "title": "write report", "priority": 9, "done": False},
        {"id": 4, "user_id": 2, "project_id": 2, "title": "call bank", "priority": 1, "done": False},
        {"id": 5, "user_id": 2, "project_id": 2, "title": "buy stamps", "priority": 3, "done": True},
    ],
    "tags": [{"id": 1, "name": "red"}, {"id": 2, "name": "blue"}],
    "todo_tags": [{"todo_id": 1, "tag_id": 1}, {"todo_id": 1, "tag_id": 2}, {"todo_id": 3, "tag_id": 1}],
}
ORDER = ("users", "projects", "tags", "todos", "todo_tags")


def visible(table: str, user_id: int) -> list[dict[str, Any]]:
    """The seed rows of ``table`` the policies show ``user_id`` — written out by hand."""
    rows = SEED[table]
    if table == "projects":
        return [r for r in rows if r["owner_id"] == user_id]
    if table == "todos":
        return [r for r in rows if r["user_id"] == user_id]
    if table == "todo_tags":
        mine = {r["id"] for r in visible("todos", user_id)}
        return [r for r in rows if r["todo_id"] in mine]
    return list(rows)


def sqlalchemy_url(url: str) -> tuple[str, dict[str, Any]]:
    """An rls test database URL as a SQLAlchemy URL and its ``connect_args``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return url, {}
    if parts.scheme.startswith("postgres"):
        query = parse_qs(parts.query)
        base = url.split("?", 1)[0].replace(f"{parts.scheme}://", "postgresql+psycopg://", 1)
        path = query.get("search_path", [None])[0]
        return base, ({"options": f"-csearch_path={path}"} if path else {})
    return url.replace(f"{parts.scheme}://", "mysql+pymysql://", 1) + "?charset=utf8mb4", {}


def driver_connection(url: str) -> Any:
    """A plain DB-API connection of the driver SQLAlchemy uses (sqlite3, psycopg, PyMySQL)
    to the rls test database ``url`` — what an application hands ``rls.connect``."""
    from dialects import dialect_for_url

    dialect = dialect_for_url(url)
    name, args = dialect.name, dialect.connect_args(url)
    if name == "sqlite":
        import sqlite3

        return sqlite3.connect(args["path"], check_same_thread=False)
    if name == "postgres":
        import psycopg

        return psycopg.connect(**args)
    import pymysql

    return pymysql.connect(**args)
