"""Setup: the auth tables, the default policies and the admin ``rest_admin``, all or nothing.

Later parts of rls add to setup through :data:`SETUP_TABLES` (tables created, and
dropped again if setup fails) and :data:`SETUP_STEPS` (run in the same transaction
after the tables and rows exist).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from dialects.base import Dialect
from rls.auth import store
from rls.auth.passwords import Passwords, random_password
from rls.auth.tables import AUTH_POLICIES, AUTH_USERS, POLICIES_TABLE, USERS_TABLE, TableDefinition
from rls.database import Database, Session
from rls.emit import emit
from rls.errors import Conflict, RlsError

log = logging.getLogger("rls.auth")

ADMIN_USERNAME = "rest_admin"

SetupStep = Callable[[Session, Dialect], None]

SETUP_TABLES: list[TableDefinition] = [USERS_TABLE, POLICIES_TABLE]
"""Tables setup creates, in order. Setup refuses to run when any of them exists."""

SETUP_STEPS: list[SetupStep] = []
"""Run inside setup's transaction after the tables, policies and admin are in place."""


@dataclass(frozen=True, slots=True)
class DefaultPolicy:
    table_name: str
    action: str
    expression: str
    description: str


DEFAULT_POLICIES = (
    DefaultPolicy(AUTH_USERS, "all", "auth_user.is_admin", "users operations are limited to admin user"),
    DefaultPolicy(AUTH_POLICIES, "all", "auth_user.is_admin", "policies operations are limited to admin user"),
    DefaultPolicy("all", "all", "user_id = auth_user.id", "all tables/actions are limited to be filtered by user_id"),
)
"""The original's default policies, with its descriptions."""


def setup(db: Database, passwords: Passwords) -> dict[str, str]:
    """Create the auth tables, the default policies and the admin, in one transaction.

    Returns:
        ``{"Username": "rest_admin", "Password": <random password>}`` as the original.

    Raises:
        Conflict: setup was done before (an auth table exists); nothing is changed.
    """
    if _existing(db):
        raise Conflict("setup is already done before")
    password = random_password()
    # Hash before the transaction: argon2 is slow on purpose and need not hold a lock.
    password_hash = passwords.hash(password)
    created: list[str] = []

    def work(session: Session) -> None:
        dialect = db.dialect
        for table in SETUP_TABLES:
            session.execute(table.create_statement(dialect.DDL_TYPES))
            created.append(table.name)
        for policy in DEFAULT_POLICIES:
            store.insert_policy(
                session,
                dialect,
                table_name=policy.table_name,
                action=policy.action,
                expression=policy.expression,
                description=policy.description,
            )
        store.insert_user(session, dialect, ADMIN_USERNAME, password_hash, admin=True)
        for step in SETUP_STEPS:
            step(session, dialect)

    try:
        db.run(work, write=True)
    except Exception as exc:
        if _clean_up(db, created):
            raise Conflict("setup is already done before") from exc  # a concurrent setup won
        raise
    db.refresh_schema()
    return {"Username": ADMIN_USERNAME, "Password": password}


def _existing(db: Database) -> list[str]:
    schema = db.refresh_schema()
    return [t.name for t in SETUP_TABLES if t.name in schema]


def _clean_up(db: Database, created: list[str]) -> bool:
    """After a failed setup, drop the tables it created if they survived the rollback
    (DDL commits on its own on MySQL). True when auth tables that setup did not create
    exist: a concurrent setup won.
    """
    try:
        survivors = set(db.refresh_schema().tables)
        names = [name for name in reversed(created) if name in survivors]

        def work(session: Session) -> None:
            for name in names:
                drop = exp.Drop(tables=[exp.Table(this=exp.to_identifier(name, quoted=True))], kind="TABLE")
                session.execute(emit(drop, db.dialect).sql)

        if names:
            db.run(work, write=True)
        return bool(_existing(db))
    except RlsError as exc:
        log.error("setup failed and could not clean up (%s); check for the tables %s", exc.code, ", ".join(created))
        return False
