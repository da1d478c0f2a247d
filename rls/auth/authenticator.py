"""The ``Authorization`` header → the request's :class:`AuthUser`.

A token's ``is_admin`` claim alone never makes an admin (weakness 8 of the original):
the user must also be an admin in ``auth_users`` now. That lookup is cached per user id
for a few seconds, so an admin's requests do not each hit the database; tokens that do
not claim ``is_admin`` never cause a lookup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from rls.auth.principal import ANONYMOUS, AuthUser
from rls.auth.tokens import Tokens
from rls.cache import BoundedCache
from rls.errors import InvalidToken

AdminLookup = Callable[[int], bool]
"""Whether the user with this id is an admin in ``auth_users`` (False when absent)."""


class AdminCache:
    """``lookup`` results per user id, each reused for ``ttl`` seconds (0: never reused)."""

    def __init__(
        self, lookup: AdminLookup, *, ttl: float, size: int = 4096, clock: Callable[[], float] = time.monotonic
    ):
        self._lookup = lookup
        self.ttl = ttl
        self._clock = clock
        self._entries: BoundedCache[tuple[bool, float]] = BoundedCache(size)

    def is_admin(self, user_id: int) -> bool:
        now = self._clock()
        entry = self._entries.get(user_id)
        if entry is not None and entry[1] > now:
            return entry[0]
        admin = self._lookup(user_id)
        if self.ttl > 0:
            self._entries.put(user_id, (admin, now + self.ttl))
        return admin

    def clear(self) -> None:
        self._entries.clear()


class Authenticator:
    """Turn credentials into the principal of a request.

    No header: anonymous. ``Bearer <valid token>``: its user. Anything else — another
    scheme, an empty header, a bad token — is :class:`InvalidToken`, never anonymous.
    """

    def __init__(self, tokens: Tokens, admins: AdminCache):
        self.tokens = tokens
        self.admins = admins

    def authenticate(self, authorization: str | None) -> AuthUser:
        """The user named by an ``Authorization`` header value (None when absent)."""
        if authorization is None:
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise InvalidToken("invalid token")
        user = self.tokens.verify(token)
        if not user.is_admin:
            return user
        # Only ids that can be rows of auth_users (integers) are looked up; a string id
        # from another identity provider is never an admin here.
        if isinstance(user.id, int) and self.admins.is_admin(user.id):
            return user
        return replace(user, is_admin=False)
