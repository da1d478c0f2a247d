"""The ``Authorization`` header → the request's :class:`AuthUser`.

A token signed with ``auth.secret`` names a user of ``auth_users`` by an integer id; that
user must still exist, and a token's ``is_admin`` claim alone never makes an admin
(weakness 8 of the original): the user must also be an admin in ``auth_users`` now. A
token of an identity provider (or one with a text id) is its own principal, built from its
claims; it is an admin only when ``auth.admin_claim`` says so. The lookup is cached per user id for
``auth.admin_cache_seconds``, so a deleted user's tokens stop working and a demoted admin
loses the rights within that interval, while a user's requests do not each hit the database.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import replace

from rls.auth.principal import ANONYMOUS, AuthUser
from rls.auth.store import Standing
from rls.auth.tokens import Tokens
from rls.cache import BoundedCache
from rls.errors import InvalidToken, InvalidValue
from rls.values import storable_text

StandingLookup = Callable[[int], "Standing | None"]
"""The user with this id as ``auth_users`` has it now; None when there is no such user."""


class AdminCache:
    """``lookup`` results per user id, each reused for ``ttl`` seconds (0: never reused)."""

    def __init__(
        self, lookup: StandingLookup, *, ttl: float, size: int = 4096, clock: Callable[[], float] = time.monotonic
    ):
        self._lookup = lookup
        self.ttl = ttl
        self._clock = clock
        self._entries: BoundedCache[tuple[Standing | None, float]] = BoundedCache(size)

    def standing(self, user_id: int, *, fresh: bool = False) -> Standing | None:
        """The user's admin flag and account now (None: no such user), at most ``ttl``
        seconds old (``fresh``: read now)."""
        now = self._clock()
        entry = None if fresh else self._entries.get(user_id)
        if entry is not None and entry[1] > now:
            return entry[0]
        standing = self._lookup(user_id)
        if self.ttl > 0:
            self._entries.put(user_id, (standing, now + self.ttl))
        return standing

    def is_admin(self, user_id: int) -> bool:
        found = self.standing(user_id)
        return found is not None and found.is_admin

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
        verified = self.tokens.verify_token(token)
        user = verified.user
        if verified.external or not isinstance(user.id, int):
            # A token of an identity provider, or a string id, names no row of
            # auth_users: Tokens set its admin flag from auth.admin_claim alone (an id
            # that happens to equal an auth_users id borrows nothing from that row).
            # Its id must be text every database can bind.
            if isinstance(user.id, str) and not storable_text(user.id):
                raise InvalidValue("invalid token: the user id must be text without NUL or lone surrogates")
            return user
        standing = self.admins.standing(user.id)
        if standing is not None and not _same_account(verified.account, standing):
            standing = self.admins.standing(user.id, fresh=True)  # the cached entry may be older
        if standing is None:
            raise InvalidToken("invalid token: the user no longer exists")
        if not _same_account(verified.account, standing):
            # The id names another account now (deleted and handed out again, restored):
            # the token was issued to the one before.
            raise InvalidToken("invalid token: the user no longer exists")
        return user if standing.is_admin or not user.is_admin else replace(user, is_admin=False)


def _same_account(account: str | None, standing: Standing) -> bool:
    """A token rls issued names its account; one from another system (no account key)
    can only be checked by id."""
    return account is None or standing.account is None or hmac.compare_digest(account, standing.account)
