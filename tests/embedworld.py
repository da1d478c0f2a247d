"""A database for the embedding tests: related tables with a read policy on every one,
four callers, and the rows as Python data (so tests can compute what each caller may see).

Relationships: teams 1—n projects, teams 1—n members, projects 1—n tasks, projects n—m
tags through project_tags, projects 1—n secrets, and teams 1—n transfers twice (from and
to: an ambiguous pair). Constraint names follow PostgreSQL's default (``<table>_<column>_fkey``),
which is also the name rls gives SQLite's unnamed foreign keys.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rls.database import Database
from tests.authkit import login, make_app
from tests.client import Client


def _fk(table: str, column: str, target: str) -> str:
    return f"CONSTRAINT {table}_{column}_fkey FOREIGN KEY ({column}) REFERENCES {target} (id)"


TABLES = (
    "CREATE TABLE teams (id {integer} PRIMARY KEY, name {string} NOT NULL){table_options}",
    "CREATE TABLE members (id {integer} PRIMARY KEY, team_id {integer}, user_id {integer}, "
    + _fk("members", "team_id", "teams")
    + "){table_options}",
    "CREATE TABLE projects (id {integer} PRIMARY KEY, name {string} NOT NULL, owner_id {integer}, team_id {integer},"
    " published {boolean} NOT NULL, budget {decimal}, starts {date}, "
    + _fk("projects", "team_id", "teams")
    + "){table_options}",
    "CREATE TABLE tasks (id {integer} PRIMARY KEY, project_id {integer}, owner_id {integer}, title {string} NOT NULL,"
    " done {boolean} NOT NULL, details {json}, memo {text}, "
    + _fk("tasks", "project_id", "projects")
    + "){table_options}",
    "CREATE TABLE categories (id {integer} PRIMARY KEY, name {string} NOT NULL, parent_id {integer}, "
    + _fk("categories", "parent_id", "categories")
    + "){table_options}",
    "CREATE TABLE tags (id {integer} PRIMARY KEY, label {string} NOT NULL){table_options}",
    "CREATE TABLE project_tags (project_id {integer} NOT NULL, tag_id {integer} NOT NULL,"
    " PRIMARY KEY (project_id, tag_id), "
    + _fk("project_tags", "project_id", "projects")
    + ", "
    + _fk("project_tags", "tag_id", "tags")
    + "){table_options}",
    "CREATE TABLE secrets (id {integer} PRIMARY KEY, project_id {integer}, body {string}, "
    + _fk("secrets", "project_id", "projects")
    + "){table_options}",
    "CREATE TABLE transfers (id {integer} PRIMARY KEY, from_team {integer}, to_team {integer}, amount {decimal}, "
    + _fk("transfers", "from_team", "teams")
    + ", "
    + _fk("transfers", "to_team", "teams")
    + "){table_options}",
)

PROFILES = (
    "CREATE TABLE profiles (id {integer} PRIMARY KEY, user_id {integer}, bio {string}, "
    "CONSTRAINT profiles_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth_users (id)){table_options}"
)
"""A table referencing auth_users: embedding it keeps the auth tables' rules."""

USERS = ("alice", "bob", "carol")
CALLERS = ("anonymous", "alice", "bob", "carol", "admin")

POLICIES = {
    "teams": "auth_user.is_authenticated",
    "members": "user_id = auth_user.id",
    "projects": "published = TRUE OR owner_id = auth_user.id",
    "tasks": "owner_id = auth_user.id OR project_id IN (SELECT p.id FROM projects p WHERE p.team_id IN "
    "(SELECT m.team_id FROM members m WHERE m.user_id = auth_user.id))",
    "tags": "",
    "project_tags": "auth_user.is_authenticated AND tag_id <> 3",
    "secrets": "auth_user.is_admin",
    "transfers": "auth_user.is_authenticated",
    "profiles": "",
    "categories": "name <> 'hidden'",
}
"""The read policy of every table: denied to the anonymous user, owner rows, published or
owner, team membership through a sub-query, public, admin only."""

WORDS = ("apple", "banana", "cherry", "date", "elder", "fig", "grape")

Row = dict[str, Any]


@dataclass
class Rows:
    """Every table's rows, as the database holds them (user names stand for user ids)."""

    tables: dict[str, list[Row]]


def make_rows(seed: int = 7) -> dict[str, list[Row]]:
    """The rows: fixed teams and projects, generated tasks and tags (a fixed seed)."""
    rnd = random.Random(seed)
    owners = [*USERS, None]
    teams = [{"id": i, "name": n} for i, n in enumerate(("red", "blue", "green"), 1)]
    members = [
        {"id": 1, "team_id": 1, "user_id": "alice"},
        {"id": 2, "team_id": 2, "user_id": "bob"},
        {"id": 3, "team_id": 1, "user_id": "bob"},
        {"id": 4, "team_id": 3, "user_id": "carol"},
    ]
    projects = [
        {"id": i, "name": n, "owner_id": o, "team_id": t, "published": p, "budget": b, "starts": s}
        for i, n, o, t, p, b, s in (
            (1, "alpha", "alice", 1, False, "10.50", "2026-01-01"),
            (2, "beta", "bob", 2, True, "0.25", None),
            (3, "gamma", "carol", 3, False, None, "2026-03-15"),
            (4, "delta", "alice", 2, True, "100.00", "2026-02-01"),
            (5, "epsilon", None, 1, False, "7.00", None),
            (6, "zeta", "bob", None, False, None, None),
        )
    ]
    tasks = []
    for i in range(1, 25):
        details = rnd.choice([None, {"k": rnd.choice(WORDS)}, {"k": rnd.choice(WORDS), "n": i}])
        tasks.append(
            {
                "id": i,
                "project_id": rnd.choice([1, 2, 3, 4, 5, 6, None]),
                "owner_id": rnd.choice(owners),
                "title": f"{rnd.choice(WORDS)} {rnd.choice(WORDS)}",
                "done": rnd.random() < 0.4,
                "details": details,
            }
        )
    # memo holds JSON only on the rows carol may read: a JSON path over it raises (SQLite:
    # malformed JSON) on any other row, so a filter on it must never run on those.
    by_carol = {t["id"] for t in _tasks_for_carol(tasks, members, projects)}
    for task in tasks:
        task["memo"] = '{"a": "x"}' if task["id"] in by_carol else "not json"
    tags = [{"id": i, "label": w} for i, w in enumerate(("urgent", "later", "home", "work"), 1)]
    pairs = sorted({(rnd.randint(1, 6), rnd.randint(1, 4)) for _ in range(12)})
    project_tags = [{"project_id": p, "tag_id": t} for p, t in pairs]
    secrets = [{"id": i, "project_id": p, "body": f"secret {i}"} for i, p in ((1, 1), (2, 2), (3, 4))]
    transfers = [{"id": 1, "from_team": 1, "to_team": 2, "amount": "5.00"}]
    profiles = [{"id": 1, "user_id": "alice", "bio": "hi"}, {"id": 2, "user_id": "bob", "bio": None}]
    return {
        "teams": teams,
        "members": members,
        "projects": projects,
        "tasks": tasks,
        "tags": tags,
        "project_tags": project_tags,
        "secrets": secrets,
        "transfers": transfers,
        "profiles": profiles,
        "categories": [
            {"id": 1, "name": "root", "parent_id": None},
            {"id": 2, "name": "a", "parent_id": 1},
            {"id": 3, "name": "b", "parent_id": 1},
            {"id": 4, "name": "a1", "parent_id": 2},
            {"id": 5, "name": "hidden", "parent_id": 1},
        ],
    }


def _tasks_for_carol(tasks: list[Row], members: list[Row], projects: list[Row]) -> list[Row]:
    rows = {"tasks": tasks, "members": members, "projects": projects}
    return allowed(rows, "tasks", "carol") or []


class EmbedWorld:
    """The database, its rows, a client per caller."""

    def __init__(self, url: str):
        self.app = make_app(url, auth_enabled=True, policy_refresh_interval=0.0)
        self.db: Database = self.app.db
        anonymous = Client(self.app)
        reply = anonymous.post("/auth/setup")
        assert reply.status == 200, reply.body
        admin_password = reply.json["Password"]
        for name in USERS:
            assert anonymous.post("/auth/register", {"username": name, "password": "password-" + name}).status == 200
        self.clients: dict[str, Client] = {"anonymous": anonymous}
        self.clients["admin"] = Client(self.app, login(anonymous, "rest_admin", admin_password))
        for name in USERS:
            self.clients[name] = Client(self.app, login(anonymous, name, "password-" + name))
        self.ids: dict[str | None, Any] = dict(
            self.db.run(lambda s: s.execute("SELECT username, id FROM auth_users").rows)
        )
        self.ids[None] = None
        self.rows = make_rows()
        types = self.db.dialect.DDL_TYPES
        self.db.run(lambda s: [s.execute(t.format_map(types)) for t in (*TABLES, PROFILES)], write=True)
        self._insert()
        for table, expression in POLICIES.items():
            self.sql("DELETE FROM auth_policies WHERE table_name = ?", table)
            self.sql(
                "INSERT INTO auth_policies (description, table_name, action, expression) VALUES (?, ?, ?, ?)",
                "embed test",
                table,
                "read",
                expression,
            )
        self.db.refresh_schema()

    def user_id(self, caller: str) -> Any:
        return self.ids.get(caller) if caller in USERS else (self.ids["rest_admin"] if caller == "admin" else None)

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        marked = statement.replace("?", self.db.dialect.PLACEHOLDER)
        return self.db.run(lambda s: s.execute(marked, params).rows, write=True)

    def _insert(self) -> None:
        import json

        for table, rows in self.rows.items():
            for row in rows:
                values = []
                for column, value in row.items():
                    if column in ("owner_id", "user_id"):
                        value = self.ids[value]
                    elif column == "details" and value is not None:
                        value = json.dumps(value)
                    values.append(value)
                marks = ", ".join(["?"] * len(row))
                self.sql(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", *values)

    def get(self, caller: str, path: str, query: Any = "") -> Any:
        return self.clients[caller].get(path, query)


def world_fixture(make_database_url: Callable[[str], str]) -> Callable[[str], EmbedWorld]:
    """One world per database, made on first use (for a module-scoped fixture)."""
    made: dict[str, EmbedWorld] = {}

    def get(backend: str) -> EmbedWorld:
        if backend not in made:
            made[backend] = EmbedWorld(make_database_url(backend))
        return made[backend]

    get.made = made  # type: ignore[attr-defined]
    return get


def allowed(rows: dict[str, list[Row]], table: str, caller: str) -> list[Row] | None:
    """The rows of ``table`` the read policy lets ``caller`` see, computed here in Python
    (:data:`POLICIES` restated); None when the policy denies the caller outright."""
    user = caller if caller in USERS else None
    signed_in = caller != "anonymous"
    everything = rows[table]
    if table in ("teams", "transfers"):
        return everything if signed_in else None
    if table == "project_tags":
        return [r for r in everything if r["tag_id"] != 3] if signed_in else None
    if table == "secrets":
        return everything if caller == "admin" else None
    if table == "categories":
        return [r for r in everything if r["name"] != "hidden"]
    if table in ("tags", "profiles"):
        return everything
    if table == "members":
        if user is None and not signed_in:  # user_id = NULL: constant false, a denial
            return None
        return [r for r in everything if user is not None and r["user_id"] == user]
    if table == "projects":
        return [r for r in everything if r["published"] or (user is not None and r["owner_id"] == user)]
    assert table == "tasks"
    teams = {m["team_id"] for m in rows["members"] if user is not None and m["user_id"] == user}
    projects = {p["id"] for p in rows["projects"] if p["team_id"] in teams}
    return [r for r in everything if (user is not None and r["owner_id"] == user) or r["project_id"] in projects]
