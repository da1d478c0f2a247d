"""The WSGI application: an app factory, one flat route list, one error boundary."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rls.auth.routes import AuthRoutes
from rls.auth.service import AuthService
from rls.auth.tables import AUTH_USERS, OWN_TABLES
from rls.config import Config, load_config, validate
from rls.database import Database, Session
from rls.errors import BadRequest, Denied, InvalidValue, MethodNotAllowed, NotFound, RlsError
from rls.http.accesslog import (
    AUTH_ACTIONS,
    INFO_KEY,
    REQUEST_ID_HEADER,
    RequestInfo,
    access_log_for,
    log_record,
    request_id_of,
    request_info,
    route_class,
    table_action,
)
from rls.http.messages import Request, Response, json_response, message
from rls.http.openapi import build_document, openapi_response, visible_resources, wants_openapi
from rls.http.ops import OpsRoutes
from rls.http.rpc import RpcRoutes, refuse_unapplied_headers
from rls.http.slowbody import BodyGate
from rls.http.tables import TableRoutes
from rls.metrics import Metrics
from rls.policy.admin import validate_policy_rows
from rls.policy.engine import PolicyEngine
from rls.policy.store import POLICY_TABLE, PolicyStore
from rls.rest.compiler import RestCompiler
from rls.rest.query import Limits
from rls.rest.resource import Paging, TableRules, TableService
from rls.rest.rpc import RpcService
from rls.schema import Table

log = logging.getLogger("rls.http")

Handler = Callable[[Request, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    """A path pattern (``<name>`` segments capture) and its handlers by method."""

    pattern: tuple[str, ...]
    handlers: Mapping[str, Handler]

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.pattern):
            return None
        params = {}
        for part, segment in zip(self.pattern, segments, strict=True):
            if part.startswith("<"):
                if not segment:
                    return None
                params[part[1:-1]] = segment
            elif part != segment:
                return None
        return params


class App:
    """The rls WSGI application. Build it with :func:`create_app`."""

    def __init__(self, config: Config, db: Database):
        self.config = config
        self.db = db
        self.auth = AuthService(config, db)
        self.auth_routes = AuthRoutes(self.auth)
        self.policies = PolicyStore(db, interval=config.policy_refresh_interval)
        self.tables = TableRoutes(
            self.build_table_service(), limits_of(config), max_response_bytes=config.max_response_bytes
        )
        self.rpc = RpcRoutes(
            RpcService(self.tables.service, config.rpc_functions), max_response_bytes=config.max_response_bytes
        )
        self.routes = self.build_routes()
        self.body_gate = BodyGate(config.body_readers)
        self.metrics = self.build_metrics() if config.metrics_enabled else None
        self.ops = OpsRoutes(config, db, self.policies if config.auth_enabled else None, self.metrics)
        self.access_log = access_log_for(config.access_log)

    def build_metrics(self) -> Metrics:
        metrics = Metrics()
        service = self.tables.service
        metrics.watch_cache("plan", service.compiler.cache)
        if service.engine is not None:
            metrics.watch_cache("policy", service.engine.cache)
        metrics.watch_pool(self.db.pool)
        return metrics

    def build_table_service(self) -> TableService:
        """The tables as REST resources: under policies when auth is enabled; the auth
        tables with their own rules (hashed, hidden passwords; validated policies)."""
        config, db = self.config, self.db
        engine = None
        if config.auth_enabled:
            engine = PolicyEngine(
                self.policies.current, lambda: (db.schema_version, db.schema()), db.dialect,
                cache_size=config.plan_cache_size,
            )  # fmt: skip
        rules = {
            AUTH_USERS: TableRules(hidden=frozenset({"password"}), before_write=self._hash_passwords),
            POLICY_TABLE: TableRules(before_write=self._validate_policies),
        }
        return TableService(
            db,
            RestCompiler(db.dialect, size=config.plan_cache_size),
            Paging(config.page_size, config.max_page_size),
            engine=engine,
            rules=rules,
            # Without auth nothing guards rls's own tables: auth_users holds password hashes,
            # and a policy written through an open server binds every server on the database.
            unserved=frozenset() if config.auth_enabled else OWN_TABLES,
        )

    def _hash_passwords(self, session: Session, table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            if "password" in row:
                if not isinstance(row["password"], str):
                    raise InvalidValue("invalid value for column password: expected a string")
                row["password"] = self.auth.users.hash_password(row["password"])
        return rows

    def _validate_policies(self, session: Session, table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        checked = validate_policy_rows(session, table, rows, self.db.refresh_schema())
        self.policies.invalidate()  # this worker applies the change on its next request
        return checked

    def build_routes(self) -> list[Route]:
        """The route list, most specific first; the first match wins."""
        t = self.tables
        table_methods: dict[str, Handler] = {
            "GET": t.get,
            "HEAD": t.head,
            "POST": t.post,
            "PUT": t.put,
            "PATCH": t.put,
            "DELETE": t.delete,
        }
        return [
            Route((), {"GET": self.root}),
            Route(("auth", "<action>"), {"POST": self.auth_routes.post}),
            Route(("rpc", "<function>"), {"GET": self.rpc.get, "POST": self.rpc.post}),
            Route(("<table>",), table_methods),
            Route(("<table>", "<pk>"), {m: h for m, h in table_methods.items() if m != "POST"}),
        ]

    def root(self, request: Request, params: dict[str, str]) -> Response:
        """The original's status message, or (``Accept: application/openapi+json``) the
        OpenAPI document of what the caller may do."""
        if not wants_openapi(request.header("Accept")):
            return _root(request, params)
        resources = visible_resources(self.tables.service, request.user)
        rpc = self.config.rpc_functions if self.db.dialect.SUPPORTS_RPC else ()
        return openapi_response(build_document(resources, auth_actions=self.auth_routes.actions, rpc_functions=rpc))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.perf_counter()
        info = environ[INFO_KEY] = RequestInfo(request_id_of(environ.get("HTTP_X_REQUEST_ID")))
        environ["wsgi.input"] = self.body_gate.wrap(environ["wsgi.input"])
        request = Request(environ, max_body=self.config.max_body_bytes, max_json_depth=self.config.max_json_depth)
        response = self.handle(request)
        if request.method == "HEAD":
            response.body = b""  # errors too: a HEAD response never has a body
        self.add_cors_headers(request, response)
        response.headers.append((REQUEST_ID_HEADER, info.request_id))
        self.record(request, response, info, time.perf_counter() - started)
        return response.wsgi(start_response)

    def record(self, request: Request, response: Response, info: RequestInfo, seconds: float) -> None:
        """The access log line and the metrics of one request; a failure to write them
        is logged, never turned into a failed request."""
        try:
            if self.metrics is not None:
                if info.denied and info.table:
                    self.metrics.denied(info.table, info.action)
                self.metrics.observe(info.route, request.method, response.status, seconds)
            if self.access_log is not None:
                self.access_log.write(log_record(info, request.method, response.status, seconds, len(response.body)))
        except Exception as exc:  # noqa: BLE001 - observability must not break serving
            log.error("cannot record request %s: %s", info.request_id, type(exc).__name__)

    def handle(self, request: Request) -> Response:
        """Dispatch ``request``; every failure becomes a JSON error here and only here."""
        try:
            if request.method == "OPTIONS" and self.config.cors_enabled:
                return Response(204)
            check_url_length(request, self.config.max_url_bytes)
            request.check_url()
            request.check_headers()
            return self.dispatch(request)
        except RlsError as exc:
            if isinstance(exc, Denied) and (info := request_info(request)) is not None:
                info.denied = True
            return json_response(exc.to_json(), exc.status, exc.headers)
        except Exception as exc:  # noqa: BLE001 - the boundary: nothing escapes as a traceback
            # The type and the stack, never the message: driver messages may hold values.
            info = request_info(request)
            log.error(
                "unhandled %s on %s %s (request %s)\n%s",
                type(exc).__name__,
                request.method,
                request.path,
                info.request_id if info else "-",
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            return json_response(RlsError().to_json(), 500)

    def authenticate(self, request: Request) -> None:
        """Set ``request.user`` from the request's credentials (anonymous without any).

        The ``/auth/…`` endpoints act for nobody, so their credentials are not read: a
        client holding an expired token can still log in.
        """
        segments = request.segments()
        if len(segments) == 2 and segments[0] == "auth":
            return
        request.user = self.auth.authenticator.authenticate(request.header("Authorization"))

    def dispatch(self, request: Request) -> Response:
        segments = request.segments()
        info = request_info(request) or RequestInfo("")
        # HEAD is GET without the body (dropped in __call__), on every route that has GET.
        read_method = "GET" if request.method == "HEAD" else request.method
        ops = self.ops.match(read_method, segments)  # before authentication: probes send no token
        if ops is not None:
            info.route = "ops"
            return ops(request)
        info.route = route_class(segments)
        self.authenticate(request)
        info.user_id = request.user.id
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            handler = route.handlers.get(request.method) or route.handlers.get(read_method)
            if handler is None:
                raise MethodNotAllowed(f"method not supported: {request.method}")
            if "table" not in params:
                info.action = params.get("action", "") if params.get("action") in AUTH_ACTIONS else ""
                if "action" in params:  # /auth/…: JSON, no preference applied (tx=rollback must not commit)
                    refuse_unapplied_headers(request)
                return handler(request, params)
            info.action = table_action(request)
            try:
                return handler(request, params)
            finally:
                # Logged only when it names a real table: never an arbitrary path segment.
                schema = self.db.cached_schema
                info.table = params["table"] if schema is not None and params["table"] in schema else ""
        raise NotFound("not found")

    def add_cors_headers(self, request: Request, response: Response) -> None:
        origin = request.header("Origin")
        if not self.config.cors_enabled or not origin:
            return
        allowed = self.config.cors_origins
        if "*" not in allowed and origin not in allowed:
            return
        response.headers += [
            ("Access-Control-Allow-Origin", "*" if "*" in allowed else origin),
            ("Vary", "Origin"),
            ("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            (
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type, Prefer, Range, Range-Unit, Accept, Accept-Profile, Content-Profile",
            ),
            ("Access-Control-Expose-Headers", f"Content-Range, Location, Preference-Applied, {REQUEST_ID_HEADER}"),
            ("Access-Control-Max-Age", "600"),
        ]


def limits_of(config: Config) -> Limits:
    """The query-string limits the settings set."""
    return Limits(config.max_filters, config.max_select_items, config.max_json_depth, config.max_json_path_steps)


def check_url_length(request: Request, limit: int) -> None:
    """Refuse a request whose path and query string are longer than ``limit`` bytes
    (counted as the server received them), before anything reads them."""
    if len(request.environ.get("PATH_INFO") or "") + len(request.query_string) > limit:
        raise BadRequest(f"URL too long: at most {limit} bytes (max_url_bytes)")


def _root(request: Request, params: dict[str, str]) -> Response:
    return message("rest server is up and running")


def create_app(config: Config | None = None, **overrides: Any) -> App:
    """Build the WSGI app. No database I/O happens here: connections open on first use.

    Raises:
        ConfigError: the configuration must not be served (e.g. auth without a secret).

    >>> app = create_app(Config(db_url="sqlite:///tmp/rls-doctest.db"))
    >>> app.db.dialect.name
    'sqlite'
    """
    config = config or load_config()
    if overrides:
        config = config.replace(**overrides)
    validate(config)
    db = Database(
        config.db_url,
        pool_size=config.pool_size,
        statement_timeout=config.statement_timeout or None,
        pool_queue=config.pool_queue,
    )
    return App(config, db)
