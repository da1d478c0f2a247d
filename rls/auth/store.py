"""Every statement rls runs on the auth tables, built from sqlglot nodes once per dialect.

Values are always bound parameters; identifiers are always quoted. Usernames compare
case-sensitively on every database (MySQL's default collations would not).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlglot import exp

from dialects.base import Dialect
from rls.auth.tables import AUTH_POLICIES, AUTH_USERS
from rls.database import Session
from rls.emit import Emitted, emit, placeholder
from rls.schema import Kind


@dataclass(frozen=True, slots=True)
class UserRow:
    """One row of ``auth_users``. ``password`` is the stored hash and never leaves rls."""

    id: int
    username: str
    password: str
    is_admin: bool

    def __repr__(self) -> str:
        return f"UserRow(id={self.id!r}, username={self.username!r}, is_admin={self.is_admin!r})"


def _table(name: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(name, quoted=True))


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _username_is(dialect: Dialect) -> exp.Expr:
    return dialect.build_comparison(exp.EQ, _col("username"), placeholder("username"), Kind.TEXT)


def _id_is() -> exp.Expr:
    return exp.EQ(this=_col("id"), expression=placeholder("id"))


def _select(columns: tuple[str, ...], where: exp.Expr | None = None) -> exp.Select:
    select = exp.Select(expressions=[_col(c) for c in columns]).from_(_table(AUTH_USERS), copy=False)
    return select.where(where, copy=False) if where is not None else select


def _insert(table: str, columns: tuple[str, ...]) -> exp.Insert:
    return exp.Insert(
        this=exp.Schema(this=_table(table), expressions=[exp.to_identifier(c, quoted=True) for c in columns]),
        expression=exp.Values(expressions=[exp.Tuple(expressions=[placeholder(c) for c in columns])]),
    )


def _update_password(where: exp.Expr) -> exp.Update:
    return exp.Update(
        this=_table(AUTH_USERS),
        expressions=[exp.EQ(this=_col("password"), expression=placeholder("password"))],
        where=exp.Where(this=where),
    )


_USER_COLUMNS = ("id", "username", "password", "is_admin")

_BUILDERS: dict[str, Callable[[Dialect], exp.Expr]] = {
    "user_by_name": lambda d: _select(_USER_COLUMNS, _username_is(d)),
    "standing_by_id": lambda d: _select(("is_admin", "password"), _id_is()),
    "list_users": lambda d: _select(("id", "username", "is_admin")).order_by(_col("id"), copy=False),
    "insert_user": lambda d: _insert(AUTH_USERS, ("username", "password", "is_admin")),
    "insert_policy": lambda d: _insert(AUTH_POLICIES, ("description", "table_name", "action", "expression")),
    "set_password_by_name": lambda d: _update_password(_username_is(d)),
    # Compare-and-swap: a hash upgrade must not undo a password change made meanwhile.
    "upgrade_password": lambda d: _update_password(
        exp.and_(_id_is(), exp.EQ(this=_col("password"), expression=placeholder("old_password")))
    ),
    "delete_user": lambda d: exp.Delete(this=_table(AUTH_USERS), where=exp.Where(this=_username_is(d))),
}


@lru_cache(maxsize=256)
def statement(name: str, dialect: Dialect) -> Emitted:
    """The SQL of statement ``name`` for ``dialect``, with its parameter names in order."""
    return emit(_BUILDERS[name](dialect), dialect)


def run(session: Session, dialect: Dialect, name: str, **values: Any) -> Any:
    """Run statement ``name`` with ``values`` bound by name; returns its Result."""
    emitted = statement(name, dialect)
    return session.execute(emitted.sql, [values[n] for n in emitted.names])


def find_user(session: Session, dialect: Dialect, username: str) -> UserRow | None:
    rows = run(session, dialect, "user_by_name", username=username).rows
    if not rows:
        return None
    user_id, name, password, is_admin = rows[0]
    # MySQL returns is_admin as 0/1 (the original crashed on that).
    return UserRow(int(user_id), str(name), str(password), bool(is_admin))


def is_admin(session: Session, dialect: Dialect, user_id: int) -> bool:
    found = standing(session, dialect, user_id)
    return found is not None and found.is_admin


@dataclass(frozen=True, slots=True)
class Standing:
    """A user as a token is checked against: admin now, and the account's key (None when
    there is no ``auth_users`` to check against)."""

    is_admin: bool
    account: str | None


def account_key(password_hash: str) -> str:
    """A value that names one account and no later one with the same id: derived from its
    password hash (random salt per hash), so an id SQLite hands out again, or a restored
    id, names another account. Not secret, and useless to recover the hash from."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:24]


def standing(session: Session, dialect: Dialect, user_id: int) -> Standing | None:
    """The user's ``is_admin`` and account key; None when there is no such user."""
    rows = run(session, dialect, "standing_by_id", id=user_id).rows
    return Standing(bool(rows[0][0]), account_key(str(rows[0][1]))) if rows else None


def list_users(session: Session, dialect: Dialect) -> list[tuple[int, str, bool]]:
    return [(int(i), str(u), bool(a)) for i, u, a in run(session, dialect, "list_users").rows]


def insert_user(session: Session, dialect: Dialect, username: str, password_hash: str, *, admin: bool) -> None:
    run(session, dialect, "insert_user", username=username, password=password_hash, is_admin=admin)


def insert_policy(
    session: Session, dialect: Dialect, *, table_name: str, action: str, expression: str, description: str
) -> None:
    run(
        session,
        dialect,
        "insert_policy",
        description=description,
        table_name=table_name,
        action=action,
        expression=expression,
    )


def set_password(session: Session, dialect: Dialect, username: str, password_hash: str) -> int:
    """Replace a user's hash; returns the number of users changed (0 or 1)."""
    return int(run(session, dialect, "set_password_by_name", username=username, password=password_hash).rowcount)


def upgrade_password(session: Session, dialect: Dialect, user: UserRow, password_hash: str) -> int:
    """Replace ``user``'s hash unless it changed since it was read."""
    return int(
        run(
            session, dialect, "upgrade_password", id=user.id, old_password=user.password, password=password_hash
        ).rowcount
    )


def delete_user(session: Session, dialect: Dialect, username: str) -> int:
    return int(run(session, dialect, "delete_user", username=username).rowcount)
