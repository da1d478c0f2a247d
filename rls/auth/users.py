"""User accounts in ``auth_users``: register, add, check credentials, change, delete, list.

Each write is one transaction. New passwords are hashed with argon2id, or with bcrypt on
a database set up by the original system whose ``password`` column (VARCHAR(72)) is too
narrow for an argon2id hash.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from rls.auth import store
from rls.auth.passwords import Passwords, check_password, check_username
from rls.auth.store import UserRow
from rls.auth.tables import AUTH_USERS, column_width
from rls.database import Database
from rls.errors import Conflict, InvalidCredentials, NotFound, RlsError, UnknownTable

log = logging.getLogger("rls.auth")

LOGIN_FAILED = "invalid username or password"


class NotSetUp(NotFound):
    """The auth tables do not exist yet."""

    code = "auth_not_set_up"

    def __init__(self) -> None:
        super().__init__("auth is not set up: run POST /auth/setup or rest auth setup")


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What may be shown of a user: never the password hash."""

    id: int
    username: str
    is_admin: bool


class Users:
    """The accounts of one database.

    Args:
        db: the database holding ``auth_users``.
        passwords: hashes and verifies passwords.
        min_password_length: shortest new password accepted.
    """

    def __init__(self, db: Database, passwords: Passwords, *, min_password_length: int = 8):
        self.db = db
        self.passwords = passwords
        self.min_password_length = min_password_length

    # -- writes -----------------------------------------------------------------------

    def register(self, username: str, password: str) -> None:
        """Create an ordinary user; registration never creates an admin."""
        self.add(username, password, is_admin=False)

    def add(self, username: str, password: str, *, is_admin: bool) -> None:
        """Create a user.

        Raises:
            InvalidValue: the username or the password breaks a rule (the message says which).
            Conflict: the username is taken.
        """
        check_username(username)
        password_hash = self.hash_password(password)
        try:
            self.db.run(
                lambda s: store.insert_user(s, self.db.dialect, username, password_hash, admin=is_admin), write=True
            )
        except Conflict:
            raise Conflict(f"username already exists: {username}") from None

    def set_password(self, username: str, password: str) -> None:
        """Replace the password of ``username``; :class:`NotFound` when there is no such user."""
        password_hash = self.hash_password(password)
        changed = self.db.run(lambda s: store.set_password(s, self.db.dialect, username, password_hash), write=True)
        if not changed:
            raise NotFound(f"user not found: {username}")

    def delete(self, username: str) -> None:
        """Delete ``username``; :class:`NotFound` when there is no such user."""
        self._require_table()
        if not self.db.run(lambda s: store.delete_user(s, self.db.dialect, username), write=True):
            raise NotFound(f"user not found: {username}")

    # -- reads ------------------------------------------------------------------------

    def list(self) -> list[UserInfo]:
        self._require_table()
        return [UserInfo(*row) for row in self.db.run(lambda s: store.list_users(s, self.db.dialect))]

    def is_admin(self, user_id: int) -> bool:
        """True when ``user_id`` is an admin now; False when absent (or auth not set up)."""
        found = self.standing(user_id)
        return found is not None and found.is_admin

    def standing(self, user_id: int) -> store.Standing | None:
        """Whether ``user_id`` is an admin now, and its account key; None when
        ``auth_users`` has no such user (deleted: its tokens must stop working). Not an
        admin, no account to compare, when auth is not set up: there is no table to check
        a token from another system against."""
        try:
            self.db.table(AUTH_USERS)
        except UnknownTable:
            return store.Standing(is_admin=False, account=None)
        return self.db.run(lambda s: store.standing(s, self.db.dialect, user_id))

    def check_credentials(self, username: str, password: str) -> UserRow:
        """The user ``username`` when ``password`` is theirs.

        An unknown user costs the same as a wrong password (a dummy hash is verified)
        and fails the same way. A hash from the original system (bcrypt) or with old
        argon2 parameters is replaced by a current one.

        Raises:
            InvalidCredentials: unknown user or wrong password.
        """
        self._require_table()
        user = self.db.run(lambda s: store.find_user(s, self.db.dialect, username))
        if user is None:
            self.passwords.verify_dummy(password)
            raise InvalidCredentials(LOGIN_FAILED)
        if not self.passwords.verify(user.password, password):
            raise InvalidCredentials(LOGIN_FAILED)
        if self.passwords.needs_rehash(user.password):
            return self._upgrade(user, password)
        return user

    # -- helpers ----------------------------------------------------------------------

    def _require_table(self) -> None:
        try:
            self.db.table(AUTH_USERS)
        except UnknownTable:
            raise NotSetUp() from None

    def _password_width(self) -> int | None:
        self._require_table()
        return column_width(self.db.table(AUTH_USERS).column("password").type)

    def _fits_argon2(self) -> bool:
        width = self._password_width()
        return width is None or width >= self.passwords.argon2_length

    def hash_password(self, password: str) -> str:
        """Check a new password against the rules and hash it for ``auth_users.password``.

        Every path that writes a password (register, the CLI, a REST write of
        ``auth_users``) goes through here, so no plain text is ever stored.
        """
        check_password(password, min_length=self.min_password_length)
        if self._fits_argon2():
            return self.passwords.hash(password)
        return self.passwords.hash_bcrypt(password)

    def _upgrade(self, user: UserRow, password: str) -> UserRow:
        """``user`` with its new hash stored (as stored: its account key is read from it),
        or unchanged when it cannot be."""
        if not self._fits_argon2():
            return user  # the original's VARCHAR(72): keep the bcrypt hash it can hold
        new_hash = self.passwords.hash(password)
        try:
            self.db.run(lambda s: store.upgrade_password(s, self.db.dialect, user, new_hash), write=True)
        except RlsError as exc:
            # The login itself succeeded; the old hash stays valid. Never log the hash.
            log.warning("could not upgrade the password hash of user %s: %s", user.id, exc.code)
            return user
        return dataclasses.replace(user, password=new_hash)
