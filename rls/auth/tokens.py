"""JSON Web Tokens: issue HS256 tokens at login, verify tokens on every request.

Verification accepts HMAC tokens signed with the configured secret and, when a key set
of an identity provider is configured, RSA / EC / Ed25519 tokens signed by one of its
keys; each must carry an ``exp`` (and the configured ``aud`` / ``iss``). The algorithms
come from the configuration — the secret's length, each key's own algorithm — never from
the token. Everything else is :class:`~rls.errors.InvalidToken`. Verified tokens are kept
in a bounded cache until they expire, because verification is on every request's path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import jwt

from rls.auth.jwks import FAMILIES, JwksKeys
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


ACCOUNT_CLAIM = "rls_account"
"""The claim holding the account key of the user a token was issued to (rls's own tokens)."""


def _invalid() -> InvalidToken:
    # One message for every reason, so a client learns nothing from which check failed.
    return InvalidToken("invalid token")


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a valid token says: the user it names and when it stops being valid.

    ``external``: signed by an identity provider's key, so its user is no row of
    ``auth_users`` and its admin flag comes from ``auth.admin_claim`` alone.
    """

    user: AuthUser
    expires_at: float
    external: bool = False
    account: str | None = None
    """The account key (:func:`rls.auth.store.account_key`) of the user it was issued to;
    None in a token another system issued with the same secret."""


@dataclass(frozen=True, slots=True)
class AdminClaim:
    """Which claim and value make a token not backed by ``auth_users`` an admin
    (``role`` = ``service_role``; a list claim matches when it holds the value).
    An empty claim: such a token is never an admin.

    >>> rule = AdminClaim("roles", "admin")
    >>> rule.grants({"roles": ["editor", "admin"]}), rule.grants({"roles": "admins"}), AdminClaim().grants({})
    (True, False, False)
    """

    claim: str = ""
    value: str = ""

    def grants(self, claims: Mapping[str, Any]) -> bool:
        if not self.claim or not self.value:
            return False
        found = claims.get(self.claim)
        if isinstance(found, list):
            return any(isinstance(item, str) and item == self.value for item in found)
        if isinstance(found, bool):
            return str(found).lower() == self.value
        return isinstance(found, str) and found == self.value


class Tokens:
    """Issue and verify the tokens signed with one secret.

    Args:
        secret: the HMAC secret; empty means tokens can be neither issued nor verified.
        lifetime: seconds a token issued by :meth:`issue` is valid.
        leeway: seconds of clock skew tolerated when checking ``exp`` (and ``nbf``).
        user_id_claim: the claim holding the user id (``user_id`` as the original).
        cache_size: verified tokens kept; 0 turns the cache off.
        keys: an identity provider's public keys (None: HMAC tokens only).
        audience: when not empty, a token's ``aud`` must hold one of these.
        issuer: when set, a token's ``iss`` must be exactly this.
        admin: the claim that makes a token not backed by ``auth_users`` an admin.
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
        keys: JwksKeys | None = None,
        audience: Sequence[str] = (),
        issuer: str = "",
        admin: AdminClaim = AdminClaim(),
    ):
        self._secret = secret
        self.keys = keys
        self.audience = tuple(audience)
        self.issuer = issuer
        self.admin = admin
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

    def issue(self, user_id: int | str, *, is_admin: bool, account: str | None = None) -> str:
        """A token for ``user_id`` with ``is_admin``, ``iat`` and ``exp`` claims, and the
        key of the account it names (``rls_account``), which no later account with the
        same id has."""
        now = int(self._clock())
        claims: dict[str, Any] = {
            self.user_id_claim: user_id,
            "is_admin": is_admin,
            "iat": now,
            "exp": now + self.lifetime,
        }
        if account is not None:
            claims[ACCOUNT_CLAIM] = account
        # The server's own tokens pass its own audience and issuer checks.
        if self.audience:
            claims["aud"] = self.audience[0]
        if self.issuer:
            claims["iss"] = self.issuer
        return jwt.encode(claims, self._secret, algorithm=ISSUE_ALGORITHM)

    def verify(self, token: str) -> AuthUser:
        """The user a token names; ``is_admin`` is the token's claim, not yet checked.

        Raises:
            InvalidToken: malformed, wrongly signed, of another algorithm, without ``exp``,
                expired, of another audience or issuer, or without a valid user id.
            Unavailable: the token needs an identity provider's key and none can be had.
        """
        return self.verify_token(token).user

    def verify_token(self, token: str) -> VerifiedToken:
        """Like :meth:`verify`, with the expiry and whether an identity provider signed it."""
        cache = self.cache
        if cache is not None:
            hit = cache.get(token)
            if hit is not None:
                if hit.expires_at + self.leeway >= self._clock():
                    return hit
                raise _invalid()
        verified = self._decode(token)
        if cache is not None:
            cache.put(token, verified)
        return verified

    def _key(self, token: str) -> tuple[str, Any, bool]:
        """The algorithm, key and origin a token is verified with — chosen by the
        configuration: the token's ``alg`` only picks among what is configured."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid() from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or (kid is not None and not isinstance(kid, str)):
            raise _invalid()
        if algorithm in self.algorithms:
            return algorithm, self._secret, False
        if self.keys is not None and algorithm in FAMILIES:
            return algorithm, self.keys.key_for(kid, algorithm).key, True
        raise _invalid()

    def _decode(self, token: str) -> VerifiedToken:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise _invalid()
        algorithm, key, external = self._key(token)
        options: Any = {**_DECODE_OPTIONS, "verify_aud": bool(self.audience)}
        if self.audience:
            options["require"] = [*options["require"], "aud"]
        if self.issuer:
            options["require"] = [*options["require"], "iss"]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                options=options,
                leeway=self.leeway,
                audience=list(self.audience) or None,
                issuer=self.issuer or None,
            )
            # pyjwt compares exp against its own clock; check it against ours too so
            # the cached and the uncached path agree.
            expires_at = float(claims["exp"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError, OverflowError):
            raise _invalid() from None
        if expires_at + self.leeway < self._clock():
            raise _invalid()
        user = user_from_claims(claims, self.user_id_claim)
        if external and isinstance(user.id, int):
            # Another issuer's ids are another namespace: as text, an identity provider's
            # subject 2 never equals auth_users id 2 (nor owns that user's rows).
            user = replace(user, id=str(user.id))
        if external or not isinstance(user.id, int):
            # Not a row of auth_users: admin only by the configured claim.
            user = replace(user, is_admin=self.admin.grants(claims))
        account = claims.get(ACCOUNT_CLAIM)
        return VerifiedToken(user, expires_at, external, account if isinstance(account, str) and not external else None)


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
    rest = {k: v for k, v in claims.items() if k not in (user_id_claim, "is_admin", ACCOUNT_CLAIM)}
    return AuthUser(id=user_id, is_admin=claims.get("is_admin") is True, claims=MappingProxyType(rest))
