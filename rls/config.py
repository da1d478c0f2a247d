"""Settings as data: one table of (name, default, environment variable, help) feeds the
defaults, the YAML file, the environment, the CLI's ``--help`` and the README.

Precedence, lowest first: defaults, the YAML file, the environment, command-line flags.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


def _setting(name: str, default: Any, env: str | None, help: str, *, secret: bool = False) -> Any:
    # A secret stays out of repr(), so logging a Config cannot print it.
    return field(default=default, repr=not secret, metadata={"name": name, "env": env, "help": help, "secret": secret})


@dataclass(frozen=True)
class Config:
    """Every setting of the server and the CLI."""

    addr: str = _setting("addr", ":3000", "REST_ADDR", "address to listen on, [host]:port")
    db_url: str = _setting(
        "db.url", "sqlite://rest.db", "REST_DB_URL", "database URL (sqlite://, postgres://, mysql://)"
    )
    auth_enabled: bool = _setting("auth.enabled", False, "REST_AUTH_ENABLED", "enforce authentication and policies")
    auth_secret: str = _setting(
        "auth.secret", "", "REST_AUTH_SECRET", "JWT signing secret (at least 32 bytes)", secret=True
    )
    auth_secret_file: str = _setting(
        "auth.secret_file",
        "",
        "REST_AUTH_SECRET_FILE",
        "file holding auth.secret (kept out of process listings and the environment)",
    )
    token_lifetime: int = _setting(
        "auth.token_lifetime", 14 * 24 * 3600, "REST_AUTH_TOKEN_LIFETIME", "seconds a token from login stays valid"
    )
    token_leeway: int = _setting(
        "auth.token_leeway", 30, "REST_AUTH_TOKEN_LEEWAY", "seconds of clock skew allowed when checking exp"
    )
    user_id_claim: str = _setting(
        "auth.user_id_claim", "user_id", "REST_AUTH_USER_ID_CLAIM", "the token claim that holds the user id"
    )
    token_cache_size: int = _setting(
        "auth.token_cache_size", 10_000, "REST_AUTH_TOKEN_CACHE_SIZE", "verified tokens kept per worker"
    )
    admin_cache_seconds: int = _setting(
        "auth.admin_cache_seconds",
        1,
        "REST_AUTH_ADMIN_CACHE_SECONDS",
        "seconds a check of a token's user in auth_users (exists, is admin) is reused",
    )
    password_min_length: int = _setting(
        "auth.password_min_length", 8, "REST_AUTH_PASSWORD_MIN_LENGTH", "shortest password accepted"
    )
    login_max_failures_user: int = _setting(
        "auth.login_max_failures_user", 5, "REST_AUTH_LOGIN_MAX_FAILURES_USER", "failed logins per username per window"
    )
    login_max_failures_client: int = _setting(
        "auth.login_max_failures_client",
        20,
        "REST_AUTH_LOGIN_MAX_FAILURES_CLIENT",
        "failed logins per client address per window",
    )
    login_failure_window: int = _setting(
        "auth.login_failure_window", 300, "REST_AUTH_LOGIN_FAILURE_WINDOW", "seconds failed logins are counted"
    )
    argon2_time_cost: int = _setting("auth.argon2_time_cost", 3, "REST_AUTH_ARGON2_TIME_COST", "argon2id passes")
    argon2_memory_kib: int = _setting(
        "auth.argon2_memory_kib", 65536, "REST_AUTH_ARGON2_MEMORY_KIB", "argon2id memory in KiB"
    )
    argon2_parallelism: int = _setting("auth.argon2_parallelism", 4, "REST_AUTH_ARGON2_PARALLELISM", "argon2id lanes")
    cors_enabled: bool = _setting("cors.enabled", False, "REST_CORS_ENABLED", "answer cross-origin requests")
    cors_origins: tuple[str, ...] = _setting(
        "cors.origins", ("*",), "REST_CORS_ORIGINS", "allowed origins, comma-separated"
    )
    policy_refresh_interval: float = _setting(
        "policy.refresh_interval",
        1.0,
        "REST_POLICY_REFRESH_INTERVAL",
        "seconds a worker may serve a policy change late (changes made through any path)",
    )
    workers: int = _setting("workers", 0, "REST_WORKERS", "server worker processes (0 = one per CPU)")
    log_level: str = _setting("log.level", "info", "REST_LOG_LEVEL", "debug, info, warning or error")
    page_size: int = _setting("page_size", 100, "REST_PAGE_SIZE", "rows per page when a request does not say")
    max_page_size: int = _setting("max_page_size", 1000, "REST_MAX_PAGE_SIZE", "most rows one request may read")
    max_body_bytes: int = _setting("max_body_bytes", 10 * 1024 * 1024, "REST_MAX_BODY_BYTES", "largest request body")
    max_response_bytes: int = _setting(
        "max_response_bytes",
        32 * 1024 * 1024,
        "REST_MAX_RESPONSE_BYTES",
        "largest body of rows answered, counted as rows are encoded (past it: a 400)",
    )
    pool_size: int = _setting("db.pool_size", 8, "REST_DB_POOL_SIZE", "database connections per worker")
    plan_cache_size: int = _setting(
        "plan_cache_size", 4096, "REST_PLAN_CACHE_SIZE", "compiled statements kept per worker"
    )
    # -- availability under abuse (issue 13): connections, timeouts, hashing ------------
    backlog: int = _setting("server.backlog", 1024, "REST_SERVER_BACKLOG", "connections the OS queues before accept")
    max_connections: int = _setting(
        "server.max_connections",
        512,
        "REST_SERVER_MAX_CONNECTIONS",
        "open connections per worker, idle ones included (more wait in the backlog)",
    )
    header_timeout: float = _setting(
        "server.header_timeout",
        5.0,
        "REST_SERVER_HEADER_TIMEOUT",
        "seconds a client has to send a request's headers; also how long an idle connection is kept",
    )
    body_readers: int = _setting(
        "server.body_readers",
        8,
        "REST_SERVER_BODY_READERS",
        "requests per worker reading their body at once; more are answered 503 with Retry-After",
    )
    statement_timeout: float = _setting(
        "db.statement_timeout",
        5.0,
        "REST_DB_STATEMENT_TIMEOUT",
        "seconds a statement may run or wait for a lock before the request is answered 503 (0 = no limit)",
    )
    pool_queue: int = _setting(
        "db.pool_queue",
        32,
        "REST_DB_POOL_QUEUE",
        "requests per worker waiting for a database connection; more are answered 503 with Retry-After",
    )
    hash_concurrency: int = _setting(
        "auth.hash_concurrency", 2, "REST_AUTH_HASH_CONCURRENCY", "password hashes computed at once per worker"
    )
    hash_queue: int = _setting(
        "auth.hash_queue",
        8,
        "REST_AUTH_HASH_QUEUE",
        "requests waiting for a password hash per worker; more are answered 503 with Retry-After",
    )
    login_max_client: int = _setting(
        "auth.login_max_client",
        60,
        "REST_AUTH_LOGIN_MAX_CLIENT",
        "logins, successful or not, per client address per auth.login_failure_window",
    )
    max_url_bytes: int = _setting(
        "max_url_bytes", 16384, "REST_MAX_URL_BYTES", "longest request path plus query string"
    )
    max_filters: int = _setting("max_filters", 100, "REST_MAX_FILTERS", "most filters one request may have")
    max_select_items: int = _setting(
        "max_select_items", 200, "REST_MAX_SELECT_ITEMS", "most items in one select or order list"
    )
    max_json_depth: int = _setting(
        "max_json_depth", 100, "REST_MAX_JSON_DEPTH", "deepest nesting of a JSON body or JSON filter value"
    )
    max_json_path_steps: int = _setting(
        "max_json_path_steps", 32, "REST_MAX_JSON_PATH_STEPS", "most steps in one JSON path (data->a->b)"
    )
    setup_token: str = _setting(
        "auth.setup_token",
        "",
        "REST_AUTH_SETUP_TOKEN",
        "token POST /auth/setup requires of every caller once set "
        "(without one: loopback clients only; see rest auth setup-token)",
        secret=True,
    )

    # -- identity providers and RPC (issue 11): tokens signed elsewhere; functions -------
    audience: tuple[str, ...] = _setting(
        "auth.audience",
        (),
        "REST_AUTH_AUDIENCE",
        "token audiences (aud) accepted, comma-separated; when set a token must carry one (required with a JWKS)",
    )
    issuer: str = _setting(
        "auth.issuer", "", "REST_AUTH_ISSUER", "the only token issuer (iss) accepted; empty: iss is not checked"
    )
    jwks_file: str = _setting(
        "auth.jwks_file", "", "REST_AUTH_JWKS_FILE", "JSON Web Key Set file: public keys of an identity provider"
    )
    jwks_url: str = _setting(
        "auth.jwks_url", "", "REST_AUTH_JWKS_URL", "JSON Web Key Set URL (https) of an identity provider"
    )
    jwks_cache_seconds: int = _setting(
        "auth.jwks_cache_seconds", 300, "REST_AUTH_JWKS_CACHE_SECONDS", "seconds a fetched key set is used"
    )
    jwks_refetch_seconds: int = _setting(
        "auth.jwks_refetch_seconds",
        30,
        "REST_AUTH_JWKS_REFETCH_SECONDS",
        "least seconds between two fetches of the key set (a token with an unknown kid triggers one)",
    )
    jwks_timeout: float = _setting(
        "auth.jwks_timeout", 5.0, "REST_AUTH_JWKS_TIMEOUT", "seconds to wait for the key set URL"
    )
    jwks_max_bytes: int = _setting(
        "auth.jwks_max_bytes", 262_144, "REST_AUTH_JWKS_MAX_BYTES", "largest key set accepted"
    )
    admin_claim: str = _setting(
        "auth.admin_claim",
        "",
        "REST_AUTH_ADMIN_CLAIM",
        "claim that makes a token not issued by rls an admin (with auth.admin_claim_value); empty: never",
    )
    admin_claim_value: str = _setting(
        "auth.admin_claim_value",
        "",
        "REST_AUTH_ADMIN_CLAIM_VALUE",
        "the value (or list member) of auth.admin_claim that means admin",
    )
    rpc_functions: tuple[str, ...] = _setting(
        "rest.rpc_functions",
        (),
        "REST_RPC_FUNCTIONS",
        "PostgreSQL functions callable as /rpc/<name>, comma-separated; empty: none",
    )

    # -- operations (issue 12): health, readiness, metrics, access log, start-up -------
    ops_health_path: str = _setting(
        "ops.health_path",
        "/health",
        "REST_OPS_HEALTH_PATH",
        "liveness path, besides /_rls/health; a table of that name keeps its route (empty = none)",
    )
    ops_ready_path: str = _setting(
        "ops.ready_path",
        "/ready",
        "REST_OPS_READY_PATH",
        "readiness path, besides /_rls/ready; a table of that name keeps its route (empty = none)",
    )
    ops_metrics_path: str = _setting(
        "ops.metrics_path",
        "/metrics",
        "REST_OPS_METRICS_PATH",
        "Prometheus metrics path, besides /_rls/metrics; a table of that name keeps its route (empty = none)",
    )
    ops_ready_timeout: float = _setting(
        "ops.ready_timeout",
        2.0,
        "REST_OPS_READY_TIMEOUT",
        "seconds the readiness check (and the start-up check) waits for the database",
    )
    metrics_enabled: bool = _setting(
        "ops.metrics_enabled", True, "REST_OPS_METRICS_ENABLED", "serve Prometheus metrics"
    )
    metrics_token: str = _setting(
        "ops.metrics_token",
        "",
        "REST_OPS_METRICS_TOKEN",
        "bearer token the metrics endpoint requires (empty: only clients on this host)",
        secret=True,
    )
    access_log: str = _setting(
        "log.access", "stderr", "REST_LOG_ACCESS", "access log (JSON lines): stderr, off, or a file path"
    )
    start_degraded: bool = _setting(
        "server.start_degraded",
        False,
        "REST_SERVER_START_DEGRADED",
        "start even when the database cannot be reached (readiness answers 503 until it can)",
    )
    shutdown_timeout: int = _setting(
        "server.shutdown_timeout",
        30,
        "REST_SERVER_SHUTDOWN_TIMEOUT",
        "seconds in-flight requests get to finish after SIGTERM before workers are killed",
    )

    def replace(self, **changes: Any) -> Config:
        return replace(self, **changes)


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    attr: str
    name: str
    env: str | None
    help: str
    default: Any
    type: type


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, f.metadata["name"], f.metadata["env"], f.metadata["help"], f.default, type(f.default))
    for f in fields(Config)
)
_BY_NAME = {s.name: s for s in SETTINGS}


class ConfigError(ValueError):
    """A setting that cannot be read; the message says which and why."""


def parse_value(setting: Setting, raw: Any) -> Any:
    """Convert a raw value (YAML scalar or environment text) to the setting's type.

    >>> parse_value(_BY_NAME["auth.enabled"], "true"), parse_value(_BY_NAME["cors.origins"], "a, b")
    (True, ('a', 'b'))
    """
    kind = setting.type
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        if kind is tuple:
            items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
            return tuple(str(i).strip() for i in items if str(i).strip())
        return "" if raw is None else str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid value for {setting.name}: {raw!r}") from None


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and name not in _BY_NAME:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Settings from a YAML file, nested (``db: {url: …}``) or dotted (``db.url: …``)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    flat = _flatten(data)
    unknown = sorted(set(flat) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
    return flat


_SETTING_ENVS = frozenset(s.env for s in SETTINGS if s.env)


def env_value(setting: Setting, environ: Mapping[str, str]) -> str | None:
    """The setting's environment variable, or the content of the file ``<VAR>_FILE`` names
    (container secrets: the value stays out of the environment); the variable wins."""
    if not setting.env:
        return None
    if setting.env in environ:
        return environ[setting.env]
    file_variable = f"{setting.env}_FILE"
    if file_variable in _SETTING_ENVS:  # a setting of its own (REST_AUTH_SECRET_FILE is auth.secret_file)
        return None
    path = environ.get(file_variable)
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {setting.env}_FILE {path}: {exc.strerror}") from None


def load_config(
    config_file: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the configuration: defaults < YAML file < environment < ``overrides`` (flags).

    ``overrides`` is keyed by setting name (``db.url``); None values are ignored.
    """
    raw = merge_layers(config_file, environ=os.environ if environ is None else environ, overrides=overrides)
    values = {_BY_NAME[name].attr: parse_value(_BY_NAME[name], value) for name, value in raw.items()}
    config = read_secret_file(Config(**values))
    validate(config)
    return config


def merge_layers(
    config_file: str | None, *, environ: Mapping[str, str], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The raw (unconverted) value of every setting given, by name, from the highest layer
    that gives it: YAML file < environment < ``overrides``.

    >>> merge_layers(None, environ={"REST_ADDR": ":1", "REST_WORKERS": "2"}, overrides={"addr": ":2"})
    {'addr': ':2', 'workers': '2'}
    """
    raw: dict[str, Any] = {}
    if config_file:
        raw.update(read_yaml(config_file))
    for setting in SETTINGS:
        value = env_value(setting, environ)
        if value is not None:
            raw[setting.name] = value
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = sorted(set(raw) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    return raw


def read_secret_file(config: Config) -> Config:
    """``auth.secret`` from ``auth.secret_file`` (surrounding whitespace, such as the
    final newline, is not part of it). A different ``auth.secret`` given as well is
    refused: which one signs would otherwise be a guess."""
    if not config.auth_secret_file:
        return config
    try:
        secret = Path(config.auth_secret_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read auth.secret_file {config.auth_secret_file}: {reason}") from None
    if config.auth_secret and config.auth_secret != secret:
        raise ConfigError("auth.secret and auth.secret_file are both given and differ: give one")
    return config.replace(auth_secret=secret)


MIN_SECRET_BYTES = 32


def validate(config: Config) -> None:
    """Refuse a configuration the server must not run with; the message says which setting.

    >>> validate(Config(auth_enabled=True))
    Traceback (most recent call last):
    rls.config.ConfigError: auth.enabled requires auth.secret (REST_AUTH_SECRET) of at least 32 bytes
    """
    if config.page_size < 1 or config.max_page_size < config.page_size:
        raise ConfigError("page_size must be at least 1 and at most max_page_size")
    if config.pool_size < 1:
        raise ConfigError("db.pool_size must be at least 1")
    if config.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError("log.level must be debug, info, warning or error")
    limits: tuple[str, ...] = ("max_url_bytes", "max_filters", "max_select_items", "max_json_depth")
    limits += ("max_json_path_steps", "max_response_bytes")
    if min(getattr(config, name) for name in limits) < 1:
        raise ConfigError(f"{', '.join(limits)} must be at least 1")
    _validate_auth(config)
    _validate_limits(config)
    _validate_identity_provider(config)
    _validate_ops(config)


def _validate_limits(config: Config) -> None:
    if config.backlog < 128 or config.max_connections < 1:
        raise ConfigError("server.backlog must be at least 128 and server.max_connections at least 1")
    if not 0.001 <= config.header_timeout <= 60:
        raise ConfigError("server.header_timeout must be between 0.001 and 60 seconds")
    if config.body_readers < 1 or config.statement_timeout < 0 or config.pool_queue < 0:
        raise ConfigError("server.body_readers must be at least 1, db.statement_timeout and db.pool_queue ≥ 0")
    if config.hash_concurrency < 1 or config.hash_queue < 0 or config.login_max_client < 1:
        raise ConfigError("auth.hash_concurrency and auth.login_max_client must be at least 1, auth.hash_queue ≥ 0")


def _validate_ops(config: Config) -> None:
    for name in ("ops.health_path", "ops.ready_path", "ops.metrics_path"):
        path = getattr(config, _BY_NAME[name].attr)
        if path and (not path.startswith("/") or path == "/" or any(c in path for c in "?#%") or "//" in path):
            raise ConfigError(f"{name} must be empty or a path such as /health (no query, no encoding)")
    if not 0 < config.ops_ready_timeout <= 60 or config.shutdown_timeout < 1:
        raise ConfigError("ops.ready_timeout must be in (0, 60] seconds and server.shutdown_timeout at least 1")
    for name, token in (("ops.metrics_token", config.metrics_token), ("auth.setup_token", config.setup_token)):
        # One minimum for every bearer secret an operator configures (a short setup token on
        # a fresh server hands the admin account to whoever guesses it first).
        if token and len(token) < 16:
            raise ConfigError(f"{name} must be at least 16 characters")


def _validate_auth(config: Config) -> None:
    secret_bytes = len(config.auth_secret.encode("utf-8"))
    if config.auth_enabled and secret_bytes < MIN_SECRET_BYTES and not (config.jwks_file or config.jwks_url):
        raise ConfigError(f"auth.enabled requires auth.secret (REST_AUTH_SECRET) of at least {MIN_SECRET_BYTES} bytes")
    # A short secret is brute-forced offline from any token it signed; refuse it even
    # with auth disabled, where tokens are still issued and verified.
    if 0 < secret_bytes < MIN_SECRET_BYTES:
        raise ConfigError(f"auth.secret (REST_AUTH_SECRET) must be at least {MIN_SECRET_BYTES} bytes")
    if config.token_lifetime < 1 or config.token_leeway < 0 or config.admin_cache_seconds < 0:
        raise ConfigError("auth.token_lifetime must be positive; auth.token_leeway and auth.admin_cache_seconds ≥ 0")
    if not config.user_id_claim:
        raise ConfigError("auth.user_id_claim must not be empty")
    if config.password_min_length < 1 or config.token_cache_size < 0:
        raise ConfigError("auth.password_min_length must be at least 1 and auth.token_cache_size at least 0")
    if min(config.login_max_failures_user, config.login_max_failures_client, config.login_failure_window) < 1:
        raise ConfigError("auth.login_max_failures_user, auth.login_max_failures_client, auth.login_failure_window ≥ 1")
    if (
        config.argon2_time_cost < 1
        or config.argon2_parallelism < 1
        or config.argon2_memory_kib < 8 * config.argon2_parallelism
    ):
        raise ConfigError("argon2 settings: time cost ≥ 1, parallelism ≥ 1, memory ≥ 8 KiB per lane")


def _validate_identity_provider(config: Config) -> None:
    if config.jwks_file and config.jwks_url:
        raise ConfigError("set auth.jwks_file or auth.jwks_url, not both")
    if config.jwks_url and not _safe_key_url(config.jwks_url):
        raise ConfigError("auth.jwks_url must use https (http only to a loopback address)")
    # An identity provider signs tokens for every application it serves: without an
    # audience, a token minted for another application would be accepted here.
    if (config.jwks_file or config.jwks_url) and not config.audience:
        raise ConfigError("auth.jwks_file / auth.jwks_url require auth.audience (the aud your tokens carry)")
    if min(config.jwks_cache_seconds, config.jwks_refetch_seconds, config.jwks_max_bytes) < 1:
        raise ConfigError("auth.jwks_cache_seconds, auth.jwks_refetch_seconds and auth.jwks_max_bytes must be ≥ 1")
    if not 0 < config.jwks_timeout <= 60:
        raise ConfigError("auth.jwks_timeout must be between 0 and 60 seconds")
    if bool(config.admin_claim) != bool(config.admin_claim_value):
        raise ConfigError("auth.admin_claim and auth.admin_claim_value are set together")
    if config.admin_claim in (config.user_id_claim, "is_admin"):
        raise ConfigError("auth.admin_claim must not be the user id claim nor is_admin")


def _safe_key_url(url: str) -> bool:
    """https, or http to a loopback address: keys fetched over plain http could be
    replaced on the way.

    >>> _safe_key_url("https://x.supabase.co/auth/v1/.well-known/jwks.json"), _safe_key_url("http://idp.example/k")
    (True, False)
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return True
    if parts.scheme != "http":
        return False
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_addr(addr: str) -> tuple[str, int]:
    """``:3000`` → ("0.0.0.0", 3000); ``127.0.0.1:8080`` → ("127.0.0.1", 8080).

    >>> split_addr(":3000")
    ('0.0.0.0', 3000)
    """
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"invalid addr {addr!r}: expected [host]:port")
    return (host.strip("[]") or "0.0.0.0"), int(port)  # noqa: S104 - the original listens on all interfaces


def markdown_settings() -> str:
    """The settings table of the README, generated from :data:`SETTINGS` (a test keeps
    the README's rows equal to it): ``python -c 'import rls.config as c; print(c.markdown_settings())'``."""
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | `{s.env}` | {_markdown_default(s)} | {s.help} |" for s in SETTINGS]
    return "\n".join(rows)


def _markdown_default(setting: Setting) -> str:
    default = setting.default
    if setting.type is bool:
        return f"`{str(default).lower()}`"
    if setting.type is tuple:
        return f"`{','.join(default)}`" if default else "(none)"
    return f"`{default}`" if default != "" else "(none)"
