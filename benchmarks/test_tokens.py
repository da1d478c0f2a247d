"""Token verification per request: a cold pyjwt decode against the verified-token cache.

Every authenticated request verifies its token; the cache turns a decode (base64, JSON,
HMAC, claim checks) into a dict lookup plus an expiry check.
"""

from __future__ import annotations

import jwt

from rls.auth.authenticator import AdminCache, Authenticator
from rls.auth.store import Standing
from rls.auth.tokens import Tokens

SECRET = "benchmark-secret-" + "x" * 32


def _token(tokens: Tokens) -> str:
    return tokens.issue(42, is_admin=False)


def test_verify_cold(benchmark):
    """pyjwt's decode on every request: what verification costs without the cache."""
    benchmark.group = "token-verify"
    benchmark.extra_info["baseline"] = True
    tokens = Tokens(SECRET, cache_size=0)
    token = _token(tokens)
    user = benchmark(tokens.verify, token)
    assert user.id == 42


def test_verify_raw_pyjwt_decode(benchmark):
    """pyjwt alone, for reference (no claim checks of ours)."""
    benchmark.group = "token-verify"
    token = _token(Tokens(SECRET))
    claims = benchmark(jwt.decode, token, SECRET, algorithms=["HS256"])
    assert claims["user_id"] == 42


def test_verify_cached(benchmark):
    """Every request after the first with the same token."""
    benchmark.group = "token-verify"
    tokens = Tokens(SECRET)
    token = _token(tokens)
    tokens.verify(token)
    user = benchmark(tokens.verify, token)
    assert user.id == 42 and len(tokens.cache) == 1


def test_authenticate_header_cached(benchmark):
    """The whole per-request step: parse the header, cached verify, no admin lookup."""
    benchmark.group = "token-verify"
    tokens = Tokens(SECRET)
    authenticator = Authenticator(tokens, AdminCache(lambda user_id: Standing(False, None), ttl=1))
    header = f"Bearer {_token(tokens)}"
    user = benchmark(authenticator.authenticate, header)
    assert user.id == 42


def test_authenticate_admin_cached(benchmark):
    """An admin's request: cached verify plus the cached auth_users check."""
    benchmark.group = "token-verify"
    tokens = Tokens(SECRET)
    authenticator = Authenticator(tokens, AdminCache(lambda user_id: Standing(True, None), ttl=60))
    header = f"Bearer {tokens.issue(1, is_admin=True)}"
    user = benchmark(authenticator.authenticate, header)
    assert user.is_admin
