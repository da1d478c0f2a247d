"""The demo: tables, two users and an admin, policies of four kinds, and ready tokens.

Every step is idempotent, so ``make run`` may run again on the same database: what is
present is kept, what is missing is added. Nothing here comes from a request; the SQL
is fixed text with the dialect's type names and parameter marker filled in.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dialects import dialect_for_url
from rls.auth.passwords import Passwords
from rls.auth.setup import setup
from rls.auth.tokens import Tokens
from rls.auth.users import Users
from rls.config import Config, ConfigError
from rls.database import Database, Session
from rls.policy import admin
from rls.policy.model import Policy

DEMO_USERS = ("alice", "bob")
ADMIN = "rest_admin"

TABLES = (
    "CREATE TABLE teams (id {serial}, name {string} NOT NULL UNIQUE){table_options}",
    "CREATE TABLE team_members (id {serial}, team_id {integer} NOT NULL REFERENCES teams (id),"
    " user_id {integer} NOT NULL){table_options}",
    "CREATE TABLE projects (id {serial}, name {string} NOT NULL UNIQUE, user_id {integer},"
    " team_id {integer} REFERENCES teams (id)){table_options}",
    "CREATE TABLE todos (id {serial}, project_id {integer} REFERENCES projects (id), user_id {integer},"
    " title {string} NOT NULL, done {boolean} NOT NULL DEFAULT FALSE, due {date}, details {json}){table_options}",
    "CREATE TABLE notes (id {serial}, user_id {integer}, title {string} NOT NULL,"
    " published {boolean} NOT NULL DEFAULT FALSE){table_options}",
    "CREATE TABLE comments (id {serial}, todo_id {integer} NOT NULL REFERENCES todos (id),"
    " author_id {integer}, body {text} NOT NULL){table_options}",
)
TABLE_NAMES = ("teams", "team_members", "projects", "todos", "notes", "comments")

POLICIES = (
    Policy("todos", "all", "user_id = auth_user.id", "owner rows: each user sees and writes their own todos"),
    Policy("notes", "read", "published OR user_id = auth_user.id", "published notes, and your own drafts"),
    Policy("notes", "all", "user_id = auth_user.id", "writes: your own notes only"),
    Policy(
        "projects",
        "read",
        "team_id IN (SELECT m.team_id FROM team_members AS m WHERE m.user_id = auth_user.id)",
        "team membership: the projects of your teams",
    ),
    Policy("teams", "all", "auth_user.is_admin", "admin only"),
)
"""The demo's policies. ``comments`` deliberately has none that fits (the default
``all/all user_id = auth_user.id`` names a column it lacks): ``rest auth policy check``
warns about it, and every request on it is denied."""


@dataclass(frozen=True)
class DemoUser:
    name: str
    id: int
    is_admin: bool
    password: str | None
    """Set only when this run created the user: passwords are printed once."""


@dataclass(frozen=True)
class Demo:
    created_tables: bool
    users: tuple[DemoUser, ...]
    tokens: dict[str, str]
    secret_file: str
    """Where the signing secret is kept; empty when auth.secret was given directly."""


def default_secret_file(db_url: str) -> str:
    """``.rls-demo/secret`` beside a SQLite database file, else in the working directory.

    >>> default_secret_file("sqlite:///tmp/x/demo.db")
    '/tmp/x/.rls-demo/secret'
    >>> default_secret_file("sqlite://demo.db")
    '.rls-demo/secret'
    """
    dialect = dialect_for_url(db_url)
    directory = Path(str(dialect.connect_args(db_url)["path"])).parent if dialect.name == "sqlite" else Path()
    return str(directory / ".rls-demo" / "secret")


def ensure_secret(path: str) -> str:
    """The secret in ``path``, generated (32 random bytes, hex) if the file is absent.
    The directory is 0700 and the file 0600: only this user can read it."""
    file = Path(path)
    if file.exists():
        return file.read_text(encoding="utf-8").strip()
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


def install_demo(db: Database, config: Config, passwords: Passwords) -> Demo:
    """Set up auth, the demo users, tables, rows and policies (each unless present)."""
    tables_present = _demo_tables_present(db)  # refuses a partial demo before changing anything
    if config.auth_secret:  # given: from auth.secret_file, or directly (then no file is named)
        secret, secret_file = config.auth_secret, config.auth_secret_file
    else:
        secret_file = default_secret_file(config.db_url)
        secret = ensure_secret(secret_file)
    admin_password = None
    if "auth_users" not in db.refresh_schema():
        admin_password = setup(db, passwords)["Password"]
    created_passwords = _ensure_users(Users(db, passwords, min_password_length=config.password_min_length))
    if admin_password:
        created_passwords[ADMIN] = admin_password
    users = tuple(
        DemoUser(u.username, u.id, u.is_admin, created_passwords.get(u.username))
        for u in Users(db, passwords).list()
        if u.username in (ADMIN, *DEMO_USERS)
    )
    ids = {u.name: u.id for u in users}
    created = not tables_present and _create_tables(db, ids["alice"], ids["bob"])
    _ensure_policies(db)
    tokens = Tokens(secret, lifetime=config.token_lifetime, user_id_claim=config.user_id_claim)
    accounts = Users(db, passwords)
    minted = {}
    for u in users:
        # Each token names its account, as a login's does: a password change ends it.
        standing = accounts.standing(u.id)
        minted[u.name] = tokens.issue(u.id, is_admin=u.is_admin, account=standing.account if standing else None)
    return Demo(created, users, minted, secret_file)


def _ensure_users(users: Users) -> dict[str, str]:
    present = {u.username for u in users.list()}
    created = {}
    for name in DEMO_USERS:
        if name not in present:
            created[name] = secrets.token_urlsafe(12)
            users.add(name, created[name], is_admin=False)
    return created


def _demo_tables_present(db: Database) -> bool:
    """True when every demo table exists, False when none does; a part is refused."""
    present = [name for name in TABLE_NAMES if name in db.refresh_schema()]
    if present and len(present) < len(TABLE_NAMES):
        raise ConfigError(
            f"the database holds part of the demo ({', '.join(present)}), perhaps from an older version:"
            " remove it (make clean) or give another -db.url"
        )
    return bool(present)


def _create_tables(db: Database, alice: int, bob: int) -> bool:
    types = db.dialect.DDL_TYPES
    p = db.dialect.PLACEHOLDER

    def work(session: Session) -> None:
        for statement in TABLES:
            session.execute(statement.format_map(types))
        for sql, rows in _rows(p, alice, bob):
            for row in rows:
                session.execute(sql, row)

    db.run(work, write=True)
    db.refresh_schema()
    return True


def _rows(p: str, alice: int, bob: int) -> Sequence[tuple[str, Sequence[Sequence[object]]]]:
    """The demo rows; ids follow insertion order in the fresh tables (1, 2, …)."""
    return (
        (f"INSERT INTO teams (name) VALUES ({p})", [("red",), ("blue",)]),
        (f"INSERT INTO team_members (team_id, user_id) VALUES ({p}, {p})", [(1, alice), (2, bob)]),
        (
            f"INSERT INTO projects (name, user_id, team_id) VALUES ({p}, {p}, {p})",
            [("groceries", alice, 1), ("garden", bob, 2)],
        ),
        (
            f"INSERT INTO todos (project_id, user_id, title, done, due, details) VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
            [
                (1, alice, "buy milk", True, "2026-01-10", '{"qty": 2, "shop": "corner"}'),
                (1, alice, "buy eggs", False, "2026-01-11", None),
                (2, bob, "plant tulips", False, None, '{"qty": 40}'),
                (2, bob, "mow the lawn", True, "2026-02-01", None),
            ],
        ),
        (
            f"INSERT INTO notes (user_id, title, published) VALUES ({p}, {p}, {p})",
            [(alice, "pancake recipe", True), (alice, "birthday ideas", False), (bob, "shed plans", False)],
        ),
        (
            f"INSERT INTO comments (todo_id, author_id, body) VALUES ({p}, {p}, {p})",
            [(1, bob, "oat milk please"), (3, alice, "red ones")],
        ),
    )


def _ensure_policies(db: Database) -> None:
    present = {(p.table, p.action, p.expression) for p in admin.list_policies(db)}
    for policy in POLICIES:
        if (policy.table, policy.action, policy.expression) not in present:
            admin.add_policy(db, policy)
