"""Authentication for one app: the users, the tokens, login throttling, the authenticator."""

from __future__ import annotations

from rls.auth.authenticator import AdminCache, Authenticator
from rls.auth.hashgate import HashGate
from rls.auth.jwks import keys_from_config
from rls.auth.passwords import Argon2Params, Passwords
from rls.auth.setup import setup
from rls.auth.setup_gate import SetupGate
from rls.auth.store import account_key
from rls.auth.throttle import LoginThrottle
from rls.auth.tokens import AdminClaim, Tokens
from rls.auth.users import Users
from rls.config import Config
from rls.database import Database
from rls.errors import InvalidCredentials, Unavailable


def passwords_for(config: Config) -> Passwords:
    """The password hasher with the configured argon2id parameters, bounded per worker."""
    return Passwords(
        Argon2Params(config.argon2_time_cost, config.argon2_memory_kib, config.argon2_parallelism),
        gate=HashGate(concurrency=config.hash_concurrency, queue=config.hash_queue),
    )


class AuthService:
    """Everything authentication needs, built from the configuration. No I/O here."""

    def __init__(self, config: Config, db: Database):
        self.db = db
        self.passwords = passwords_for(config)
        self.users = Users(db, self.passwords, min_password_length=config.password_min_length)
        self.tokens = Tokens(
            config.auth_secret,
            lifetime=config.token_lifetime,
            leeway=config.token_leeway,
            user_id_claim=config.user_id_claim,
            cache_size=config.token_cache_size,
            keys=keys_from_config(config),
            audience=config.audience,
            issuer=config.issuer,
            admin=AdminClaim(config.admin_claim, config.admin_claim_value),
        )
        self.throttle = LoginThrottle(
            max_per_user=config.login_max_failures_user,
            max_per_client=config.login_max_failures_client,
            max_attempts_client=config.login_max_client,
            window=config.login_failure_window,
        )
        self.setup_gate = SetupGate(config.setup_token, config.auth_secret)
        self.authenticator = Authenticator(self.tokens, AdminCache(self.users.standing, ttl=config.admin_cache_seconds))

    def setup(self) -> dict[str, str]:
        """See :func:`rls.auth.setup.setup`."""
        return setup(self.db, self.passwords)

    def login(self, username: str, password: str, client: str) -> str:
        """A token for ``username`` when ``password`` is theirs.

        Raises:
            TooManyRequests: too many recent failures for this username or client.
            InvalidCredentials: unknown user or wrong password (the same for both).
            Unavailable: no secret is configured, so no token can be signed.
        """
        if not self.tokens.enabled:
            raise Unavailable("login is not available: auth.secret is not configured")
        self.throttle.check(username, client)
        try:
            user = self.users.check_credentials(username, password)
        except InvalidCredentials:
            self.throttle.failed(username, client)
            raise
        self.throttle.succeeded(username)
        return self.tokens.issue(user.id, is_admin=user.is_admin, account=account_key(user.password))
