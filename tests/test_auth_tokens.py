"""Tokens: what login issues, what verification accepts (HMAC with the secret, with exp,
with a valid user id) and refuses (everything else, as 401 invalid token, never a crash)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from rls.auth.authenticator import AdminCache, Authenticator
from rls.auth.principal import ANONYMOUS
from rls.auth.store import Standing
from rls.auth.tokens import Tokens
from rls.errors import InvalidToken, InvalidValue
from tests.authkit import SECRET

# pyjwt checks exp and iat against the real clock; the fake one starts there. Taken
# again at the start of every test: a value from import time goes stale in a long run.
NOW = int(time.time())


@pytest.fixture(autouse=True)
def now():
    global NOW
    NOW = int(time.time())
    return NOW


class Clock:
    def __init__(self, now: float | None = None):
        self.now = NOW if now is None else now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(now):
    return Clock(now)


@pytest.fixture
def tokens(clock):
    return Tokens(SECRET, leeway=30, clock=clock)


def sign(claims, secret=SECRET, algorithm="HS256", **kw):
    return jwt.encode(claims, secret, algorithm=algorithm, **kw)


def valid(**claims):
    return {"user_id": 7, "exp": NOW + 60, **claims}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_invalid(tokens, token):
    with pytest.raises(InvalidToken) as raised:
        tokens.verify(token)
    assert raised.value.status == 401 and raised.value.message == "invalid token"


# -- issuing --------------------------------------------------------------------------


def test_issued_token_is_hs256_with_the_originals_claims(tokens):
    token = tokens.issue(42, is_admin=True)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"user_id": 42, "is_admin": True, "iat": NOW, "exp": NOW + 14 * 24 * 3600}


def test_token_lifetime_is_configurable(clock):
    token = Tokens(SECRET, lifetime=60, clock=clock).issue(1, is_admin=False)
    assert jwt.decode(token, options={"verify_signature": False})["exp"] == NOW + 60


def test_issued_token_verifies(tokens):
    user = tokens.verify(tokens.issue(42, is_admin=False))
    assert (user.id, user.is_admin, user.is_authenticated) == (42, False, True)


# -- what verification accepts ----------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_hmac_algorithms_with_the_secret_are_accepted(clock, algorithm):
    long_secret = "s" * 64
    assert Tokens(long_secret, clock=clock).verify(sign(valid(), secret=long_secret, algorithm=algorithm)).id == 7


def test_hs512_needs_a_secret_of_64_bytes(clock):
    secret = "s" * 32
    tokens = Tokens(secret, clock=clock)
    assert tokens.algorithms == ["HS256"]
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):
        token = sign(valid(), secret=secret, algorithm="HS512")
    assert_invalid(tokens, token)


def test_string_user_id_is_accepted(tokens):
    uuid = "7f1c2a4e-0d1b-4c55-9a53-6f0e1e1f2b3c"
    assert tokens.verify(sign(valid(user_id=uuid))).id == uuid


def test_other_claims_are_kept_but_not_the_id_or_is_admin(tokens):
    user = tokens.verify(sign(valid(org="acme", is_admin=True, roles=["a"])))
    assert user.claims["org"] == "acme" and user.claims["roles"] == ["a"]
    assert "user_id" not in user.claims and "is_admin" not in user.claims


def test_user_id_claim_name_is_configurable(clock):
    tokens = Tokens(SECRET, user_id_claim="sub", clock=clock)
    assert tokens.verify(sign({"sub": "auth0|123", "exp": NOW + 60})).id == "auth0|123"
    assert tokens.verify(tokens.issue(5, is_admin=False)).id == 5


def test_expiry_within_the_leeway_is_accepted(tokens, clock):
    token = sign(valid(exp=NOW + 60))
    clock.now = NOW + 60 + 29
    assert tokens.verify(token).id == 7


def test_is_admin_is_true_only_for_the_json_true(tokens):
    assert tokens.verify(sign(valid(is_admin=True))).is_admin is True
    for claimed in (1, "true", "yes", [True], None):
        assert tokens.verify(sign(valid(is_admin=claimed))).is_admin is False


# -- what verification refuses --------------------------------------------------------------


def test_expired_token_is_invalid(tokens, clock):
    token = sign(valid(exp=NOW - 31))
    assert_invalid(tokens, token)


def test_token_expiring_after_it_was_cached_is_invalid(tokens, clock):
    token = sign(valid(exp=NOW + 10))
    assert tokens.verify(token).id == 7
    clock.now = NOW + 10 + 31
    assert_invalid(tokens, token)


def test_token_without_exp_is_invalid(tokens):
    assert_invalid(tokens, sign({"user_id": 7}))


def test_wrong_secret_is_invalid(tokens):
    assert_invalid(tokens, sign(valid(), secret="another-secret-" + "y" * 32))


def test_alg_none_is_invalid(tokens):
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(valid())}."
    assert_invalid(tokens, unsigned)
    assert_invalid(tokens, sign(valid(), secret=None, algorithm="none"))


def test_rs256_token_is_invalid(tokens):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_invalid(tokens, sign(valid(), secret=key, algorithm="RS256"))


def test_hs256_signed_with_a_public_key_text_is_invalid(tokens):
    # The key-confusion attack: an HMAC token keyed with something public.
    assert_invalid(tokens, sign(valid(), secret="-----BEGIN PUBLIC KEY-----" + "z" * 32))


@pytest.mark.parametrize(
    "user_id",
    [1.0, 7.5, True, False, None, [7], {"id": 7}, "", 2**63, -(2**63) - 1, "x" * 256],
    ids=repr,
)
def test_user_id_of_the_wrong_type_or_size_is_invalid(tokens, user_id):
    assert_invalid(tokens, sign(valid(user_id=user_id)))


def test_missing_user_id_is_invalid(tokens):
    assert_invalid(tokens, sign({"exp": NOW + 60}))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        "...",
        "é.é.é",
        "\x00.\x00.\x00",
        f"{b64({'alg': 'HS256'})}.W10.sig",  # payload is a JSON array
        f"{b64({'alg': 'HS256'})}.bnVsbA.sig",  # payload is null
        "x" * 10_000,
    ],
    ids=["empty", "word", "three-parts", "dots", "non-ascii", "nul", "array-payload", "null-payload", "huge"],
)
def test_non_numeric_garbage_is_invalid(tokens, token):
    assert_invalid(tokens, token)


@pytest.mark.parametrize("exp", ["soon", [1], {"a": 1}, None])
def test_exp_of_the_wrong_type_is_invalid(tokens, exp):
    assert_invalid(tokens, sign({"user_id": 7, "exp": exp}))


def test_no_secret_verifies_nothing(clock):
    tokens = Tokens("", clock=clock)
    assert not tokens.enabled
    assert_invalid(tokens, sign(valid()))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_user_or_invalid_token_never_a_crash(text):
    tokens = Tokens(SECRET)
    try:
        tokens.verify(text)
    except InvalidToken:
        pass


CLAIM_VALUES = st.one_of(
    st.integers(),
    st.integers(min_value=NOW, max_value=NOW + 10**6),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["user_id", "exp", "is_admin", "nbf", "iat", "aud", "sub"]), CLAIM_VALUES))
def test_any_signed_claims_are_a_user_or_invalid_token(claims):
    tokens = Tokens(SECRET)
    try:
        token = jwt.encode(claims, SECRET, algorithm="HS256")
    except (TypeError, ValueError):
        return
    try:
        user = tokens.verify(token)
    except InvalidToken:
        return
    assert isinstance(user.id, (int, str)) and not isinstance(user.id, bool)


# -- the cache ------------------------------------------------------------------------------


def test_verified_tokens_are_cached(tokens, monkeypatch):
    token = sign(valid())
    tokens.verify(token)
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: pytest.fail("decoded again"))
    assert tokens.verify(token).id == 7


def test_invalid_tokens_are_not_cached(tokens):
    token = sign(valid(), secret="another-secret-" + "y" * 32)
    assert_invalid(tokens, token)
    assert len(tokens.cache) == 0


def test_cache_is_bounded(clock):
    tokens = Tokens(SECRET, cache_size=3, clock=clock)
    for i in range(10):
        tokens.verify(sign(valid(user_id=i)))
    assert len(tokens.cache) == 3


def test_cache_can_be_turned_off(clock, monkeypatch):
    tokens = Tokens(SECRET, cache_size=0, clock=clock)
    token = sign(valid())
    tokens.verify(token)
    calls = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    tokens.verify(token)
    assert calls == [1]


# -- the Authorization header and is_admin ------------------------------------------------


class Lookups:
    """auth_users as the authenticator sees it: ``admins`` and ``members`` exist."""

    def __init__(self, admins=(), members=(2, 3)):
        self.admins = set(admins)
        self.members = set(members)
        self.accounts: dict[int, str] = {}
        self.calls: list[int] = []

    def __call__(self, user_id: int) -> Standing | None:
        self.calls.append(user_id)
        if user_id in self.admins:
            return Standing(True, self.accounts.get(user_id))
        return Standing(False, self.accounts.get(user_id)) if user_id in self.members else None


@pytest.fixture
def lookups():
    return Lookups(admins={1})


@pytest.fixture
def authenticator(tokens, lookups, clock):
    return Authenticator(tokens, AdminCache(lookups, ttl=2, clock=clock))


def test_a_token_names_its_account_not_only_its_id(authenticator, tokens, lookups, clock):
    """An id handed out again (SQLite without AUTOINCREMENT, a restore) names another
    account: a token rls issued to the one before is refused, even from the cache."""
    lookups.accounts[2] = "account-of-mallory"
    mallory = "Bearer " + tokens.issue(2, is_admin=False, account="account-of-mallory")
    assert authenticator.authenticate(mallory).id == 2
    lookups.accounts[2] = "account-of-carol"  # mallory deleted, carol got id 2
    carol = "Bearer " + tokens.issue(2, is_admin=False, account="account-of-carol")
    assert authenticator.authenticate(carol).id == 2  # the cached entry is read again
    with pytest.raises(InvalidToken):
        authenticator.authenticate(mallory)
    other_system = "Bearer " + tokens.issue(2, is_admin=False)  # no account key: checked by id
    assert authenticator.authenticate(other_system).id == 2
    assert "rls_account" not in authenticator.authenticate(carol).claims


def test_no_header_is_anonymous(authenticator):
    assert authenticator.authenticate(None) is ANONYMOUS


@pytest.mark.parametrize(
    "header",
    ["", "   ", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer a b", "bearer"],
    ids=["empty", "blank", "bearer-alone", "bearer-space", "basic", "other-scheme", "two-tokens", "lowercase-alone"],
)
def test_a_header_that_is_not_bearer_token_is_invalid(authenticator, header):
    with pytest.raises(InvalidToken):
        authenticator.authenticate(header)


def test_header_without_bearer_is_invalid(authenticator, tokens):
    with pytest.raises(InvalidToken):
        authenticator.authenticate(tokens.issue(3, is_admin=False))


def test_bearer_scheme_is_case_insensitive(authenticator, tokens):
    assert authenticator.authenticate(f"bearer {tokens.issue(3, is_admin=False)}").id == 3


def test_token_that_does_not_claim_admin_is_checked_against_auth_users(authenticator, tokens, lookups):
    user = authenticator.authenticate(f"Bearer {tokens.issue(1, is_admin=False)}")
    assert user.is_admin is False and lookups.calls == [1]


def test_token_of_a_user_who_does_not_exist_is_invalid(authenticator, tokens):
    with pytest.raises(InvalidToken, match="no longer exists"):
        authenticator.authenticate(f"Bearer {tokens.issue(4, is_admin=False)}")


def test_deleted_user_is_refused_once_the_cached_check_expires(authenticator, tokens, lookups, clock):
    header = f"Bearer {tokens.issue(3, is_admin=False)}"
    assert authenticator.authenticate(header).id == 3
    lookups.members.discard(3)  # deleted from auth_users
    assert authenticator.authenticate(header).id == 3  # within the interval
    clock.now += 2.5
    with pytest.raises(InvalidToken):
        authenticator.authenticate(header)


@pytest.mark.parametrize("user_id", ["a\x00b", "a\ud800b"], ids=["nul", "surrogate"])
def test_string_id_no_database_can_bind_is_400(authenticator, user_id):
    with pytest.raises(InvalidValue):
        authenticator.authenticate(f"Bearer {sign(valid(user_id=user_id))}")


def test_admin_claim_is_confirmed_by_auth_users(authenticator, tokens, lookups):
    assert authenticator.authenticate(f"Bearer {tokens.issue(1, is_admin=True)}").is_admin is True
    assert lookups.calls == [1]


def test_admin_claim_of_a_user_who_is_not_admin_is_dropped(authenticator, lookups):
    user = authenticator.authenticate(f"Bearer {sign(valid(user_id=2, is_admin=True))}")
    assert (user.id, user.is_admin) == (2, False)


def test_admin_claim_with_a_string_id_is_dropped_without_a_lookup(authenticator, lookups):
    user = authenticator.authenticate(f"Bearer {sign(valid(user_id='1', is_admin=True))}")
    assert user.is_admin is False and lookups.calls == []


def test_admin_lookup_is_cached_for_the_configured_time(authenticator, tokens, lookups, clock):
    header = f"Bearer {tokens.issue(1, is_admin=True)}"
    for _ in range(5):
        authenticator.authenticate(header)
    assert lookups.calls == [1]
    lookups.admins.clear()  # demoted in auth_users
    lookups.members.add(1)
    clock.now += 2.5
    assert authenticator.authenticate(header).is_admin is False
    assert lookups.calls == [1, 1]


def test_admin_cache_of_zero_seconds_looks_up_every_time(tokens, lookups):
    authenticator = Authenticator(tokens, AdminCache(lookups, ttl=0))
    header = f"Bearer {tokens.issue(1, is_admin=True)}"
    authenticator.authenticate(header)
    authenticator.authenticate(header)
    assert lookups.calls == [1, 1]
