"""JSON Web Tokens: issue HS256 tokens at login, verify tokens on every request.

Verification accepts only HMAC tokens signed with the configured secret and carrying an
``exp``; everything else is :class:`~rls.errors.InvalidToken`. Verified tokens are kept
in a bounded cache until they expire, because verification is on every request's path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import jwt

from rls.auth.principal import AuthUser
from rls.cache import BoundedCache
from rls.errors import InvalidToken

ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}
"""The only algorithms accepted, each with the shortest secret (bytes) it may use (RFC 7518
§3.2): ``none``, RSA, EC … are rejected before any key is used, and HS384 / HS512 only
with a secret long enough for them."""

ISSUE_ALGORITHM = "HS256"

MAX_TOKEN_LENGTH = 8192
"""Longer tokens are refused unread."""

_INT64 = range(-(2**63), 2**63)

# pyjwt checks the type of sub and jti; a configured user-id claim may be either, and an
# integer user id is allowed there too. exp is required, and checked with the leeway.
_DECODE_OPTIONS: Any = {"require": ["exp"], "verify_sub": False, "verify_jti": False}


def _invalid() -> InvalidToken:
    # One message for every reason, so a client learns nothing from which check failed.
    return InvalidToken("invalid token")


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a valid token says: the user it names and when it stops being valid."""

    user: AuthUser
    expires_at: float


class Tokens:
    """Issue and verify the tokens signed with one secret.

    Args:
        secret: the HMAC secret; empty means tokens can be neither issued nor verified.
        lifetime: seconds a token issued by :meth:`issue` is valid.
        leeway: seconds of clock skew tolerated when checking ``exp`` (and ``nbf``).
        user_id_claim: the claim holding the user id (``user_id`` as the original).
        cache_size: verified tokens kept; 0 turns the cache off.
        clock: seconds since the epoch (tests pass a fake one).

    >>> tokens = Tokens("s" * 32)
    >>> user = tokens.verify(tokens.issue(42, is_admin=False))
    >>> user.id, user.is_admin
    (42, False)
    """

    def __init__(
        self,
        secret: str,
        *,
        lifetime: int = 14 * 24 * 3600,
        leeway: int = 30,
        user_id_claim: str = "user_id",
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ):
        self._secret = secret
        self.algorithms = [name for name, length in ALGORITHMS.items() if len(secret.encode("utf-8")) >= length]
        self.lifetime = lifetime
        self.leeway = leeway
        self.user_id_claim = user_id_claim
        self._clock = clock
        self.cache: BoundedCache[VerifiedToken] | None = BoundedCache(cache_size) if cache_size > 0 else None

    def __repr__(self) -> str:
        return f"Tokens(user_id_claim={self.user_id_claim!r}, lifetime={self.lifetime})"

    @property
    def enabled(self) -> bool:
        """True when a secret is configured."""
        return bool(self._secret)

    def issue(self, user_id: int | str, *, is_admin: bool) -> str:
        """A token for ``user_id`` with ``is_admin``, ``iat`` and ``exp`` claims."""
        now = int(self._clock())
        claims = {self.user_id_claim: user_id, "is_admin": is_admin, "iat": now, "exp": now + self.lifetime}
        return jwt.encode(claims, self._secret, algorithm=ISSUE_ALGORITHM)

    def verify(self, token: str) -> AuthUser:
        """The user a token names; ``is_admin`` is the token's claim, not yet checked.

        Raises:
            InvalidToken: malformed, wrongly signed, of another algorithm, without ``exp``,
                expired, or without a valid user id.
        """
        cache = self.cache
        if cache is not None:
            hit = cache.get(token)
            if hit is not None:
                if hit.expires_at + self.leeway >= self._clock():
                    return hit.user
                raise _invalid()
        verified = self._decode(token)
        if cache is not None:
            cache.put(token, verified)
        return verified.user

    def _decode(self, token: str) -> VerifiedToken:
        if not self.algorithms or not token or len(token) > MAX_TOKEN_LENGTH:
            raise _invalid()
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=self.algorithms,
                options=_DECODE_OPTIONS,
                leeway=self.leeway,
            )
            # pyjwt compares exp against its own clock; check it against ours too so
            # the cached and the uncached path agree.
            expires_at = float(claims["exp"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError, OverflowError):
            raise _invalid() from None
        if expires_at + self.leeway < self._clock():
            raise _invalid()
        return VerifiedToken(user_from_claims(claims, self.user_id_claim), expires_at)


def user_from_claims(claims: Mapping[str, Any], user_id_claim: str = "user_id") -> AuthUser:
    """The user named by verified ``claims``; every claim but the id and ``is_admin`` is kept.

    >>> user_from_claims({"user_id": "b1c4", "is_admin": True, "org": 7})
    AuthUser(id='b1c4', is_admin=True, claims=mappingproxy({'org': 7}))
    """
    user_id = claims.get(user_id_claim)
    # bool is an int in Python; a float, list, object or null is not an id.
    if isinstance(user_id, bool) or not isinstance(user_id, (int, str)):
        raise _invalid()
    if isinstance(user_id, int) and user_id not in _INT64:
        raise _invalid()
    if isinstance(user_id, str) and not 0 < len(user_id) <= 255:
        raise _invalid()
    rest = {k: v for k, v in claims.items() if k not in (user_id_claim, "is_admin")}
    return AuthUser(id=user_id, is_admin=claims.get("is_admin") is True, claims=MappingProxyType(rest))
