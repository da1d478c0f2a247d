"""Passwords: argon2id hashes, the original system's bcrypt hashes, and the rules for new ones."""

from __future__ import annotations

import secrets
import string
import unicodedata
from dataclasses import dataclass

import argon2
import bcrypt

from rls.auth.hashgate import HashGate
from rls.errors import InvalidValue

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
"""bcrypt versions the original system (Go's x/crypto/bcrypt writes ``$2a$``) may have stored."""

BCRYPT_MAX_BYTES = 72
"""bcrypt reads at most this many bytes of a password; Go's implementation ignores the rest."""

BCRYPT_COST = 12
"""Work factor of the bcrypt hashes written to databases too narrow for argon2id."""

USERNAME_MAX_LENGTH = 32

ADMIN_PASSWORD_LENGTH = 24
_ADMIN_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost parameters; the defaults are argon2-cffi's (RFC 9106, low memory)."""

    time_cost: int = argon2.DEFAULT_TIME_COST
    memory_kib: int = argon2.DEFAULT_MEMORY_COST
    parallelism: int = argon2.DEFAULT_PARALLELISM


class Passwords:
    """Hash and verify passwords.

    New hashes are argon2id. bcrypt hashes from the original system still verify and
    are reported by :meth:`needs_rehash`, so a login can upgrade them.

    >>> p = Passwords(Argon2Params(time_cost=1, memory_kib=8, parallelism=1))
    >>> stored = p.hash("correct horse")
    >>> stored.startswith("$argon2id$"), p.verify(stored, "correct horse"), p.verify(stored, "wrong")
    (True, True, False)
    """

    def __init__(self, params: Argon2Params = Argon2Params(), *, gate: HashGate | None = None):
        self.params = params
        # Every hash and verification takes a slot of the gate (when there is one).
        self._gate = gate
        self._hasher = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=argon2.Type.ID,
        )
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        """An argon2id hash of ``password`` with the configured parameters.

        Raises:
            Unavailable: the gate's queue is full (503 with ``Retry-After``).
        """
        if self._gate is None:
            return self._hasher.hash(password)
        with self._gate.slot():
            return self._hasher.hash(password)

    def hash_bcrypt(self, password: str) -> str:
        """A bcrypt hash, for an ``auth_users.password`` column too narrow for argon2id.

        Raises:
            InvalidValue: the password is longer than bcrypt can hash.
        """
        raw = password.encode("utf-8")
        if len(raw) > BCRYPT_MAX_BYTES:
            raise InvalidValue(f"password must be at most {BCRYPT_MAX_BYTES} bytes on this database")
        if self._gate is None:
            return bcrypt.hashpw(raw, bcrypt.gensalt(BCRYPT_COST)).decode("ascii")
        with self._gate.slot():
            return bcrypt.hashpw(raw, bcrypt.gensalt(BCRYPT_COST)).decode("ascii")

    def verify(self, stored: str, password: str) -> bool:
        """True when ``password`` matches ``stored`` (argon2 or bcrypt).

        Raises:
            Unavailable: the gate's queue is full (503 with ``Retry-After``); nothing else.
        """
        if self._gate is None:
            return self._verify(stored, password)
        with self._gate.slot():
            return self._verify(stored, password)

    def _verify(self, stored: str, password: str) -> bool:
        if stored.startswith(BCRYPT_PREFIXES):
            return _verify_bcrypt(stored, password)
        try:
            return self._hasher.verify(stored, password)
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            # Not a hash at all (e.g. a plain-text password written by the original's
            # POST /auth_users): never compare it as text.
            return False

    def verify_dummy(self, password: str) -> bool:
        """Spend the time of a real verification when the user does not exist; always False.

        The same cost for an unknown user and a wrong password keeps login from telling
        which usernames exist.
        """
        self.verify(self._dummy_hash(), password)
        return False

    @property
    def argon2_length(self) -> int:
        """Characters in a hash from :meth:`hash` (a column must hold that many)."""
        return len(self._dummy_hash())

    def _dummy_hash(self) -> str:
        # Made on first use, with the current parameters, so it costs what a real one does.
        if self._dummy is None:
            self._dummy = self.hash(secrets.token_urlsafe(16))
        return self._dummy

    def needs_rehash(self, stored: str) -> bool:
        """True for bcrypt hashes and argon2 hashes made with other parameters."""
        if stored.startswith(BCRYPT_PREFIXES):
            return True
        try:
            return self._hasher.check_needs_rehash(stored)
        except (argon2.exceptions.InvalidHashError, ValueError):
            return True


def _verify_bcrypt(stored: str, password: str) -> bool:
    # Go's bcrypt ignores bytes past the 72nd; the bcrypt package refuses them. Cut them
    # so a password the original accepted still verifies here.
    raw = password.encode("utf-8")[:BCRYPT_MAX_BYTES]
    try:
        return bcrypt.checkpw(raw, stored.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


def check_username(username: str) -> None:
    """Refuse a username that is empty, longer than 32 characters, has control characters
    or begins or ends with white space.

    >>> check_username("alice")
    >>> check_username("a\\tb")
    Traceback (most recent call last):
    rls.errors.InvalidValue: username must be 1 to 32 characters without control characters or surrounding spaces
    """
    if (
        not 1 <= len(username) <= USERNAME_MAX_LENGTH
        or username != username.strip()
        or any(unicodedata.category(c).startswith("C") for c in username)
    ):
        raise InvalidValue(
            f"username must be 1 to {USERNAME_MAX_LENGTH} characters without control characters or surrounding spaces"
        )


def check_password(password: str, *, min_length: int) -> None:
    """Refuse a password shorter than ``min_length`` characters or holding a NUL.

    >>> check_password("short", min_length=8)
    Traceback (most recent call last):
    rls.errors.InvalidValue: password must be at least 8 characters
    """
    if len(password) < min_length:
        raise InvalidValue(f"password must be at least {min_length} characters")
    if "\x00" in password:
        raise InvalidValue("password must not contain NUL characters")


def random_password(length: int = ADMIN_PASSWORD_LENGTH) -> str:
    """A password of ``length`` letters and digits from the operating system's CSPRNG.

    >>> len(random_password()), random_password().isalnum()
    (24, True)
    """
    return "".join(secrets.choice(_ADMIN_ALPHABET) for _ in range(length))
