"""A generated HTTP fuzzer against the real WSGI app: random tables, filters, operators,
values, bodies, headers and methods, hostile values included (lone surrogates, NUL, huge
numbers, deep nesting, long strings).

Every answer is checked, and every breach recorded (the run goes on):

- ``crash``: the app raised instead of answering;
- ``server_error``: a status ≥ 500 (there are no injected faults here, so none is allowed);
- ``error_shape``: an error whose body is not ``{"msg", "status", "message", "code", "details", "hint", "error"}`` with the status;
- ``wrote_on_error``: a write answered with an error that changed the tables anyway;
- ``policy``: a user read a ``todos`` row whose ``user_id`` is not theirs (the default policy).

``tests/test_fuzz_http.py`` runs a slice in the normal suite; ``make fuzz-http`` the full run.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import jwt
from hypothesis import strategies as st

from rls.database import Database
from rls.http.app import App
from tests import dataset
from tests.authkit import SECRET, login, make_app
from tests.client import Client, Reply

TABLES = ("todos", "projects", "stock", "nokey", "open_todos", "order", "auth_users", "auth_policies", "nosuch")
COLUMNS = (
    "id", "project_id", "user_id", "title", "done", "score", "rating", "due", "created", "details", "note",
    "name", "owner_id", "sku", "qty", "a", "b", "group", "Value", "username", "password", "is_admin",
    "table_name", "action", "expression", "description", "nosuch", "ID", "details->qty", "details->shop->>name",
    "details->tags->0", "details->>qty", "title->a", "",
)  # fmt: skip
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is", "cs", "cd", "EQ", "xx", "")
FUNCTIONS = ("count", "sum", "avg", "max", "min", "abs", "ceil", "floor", "round", "length", "lower", "upper", "trim")
FUNCTIONS += ("date", "sleep", "COUNT")
METHODS = (
    ("GET",) * 12
    + ("POST",) * 8
    + ("PUT", "PUT", "PATCH", "PATCH", "DELETE", "DELETE", "DELETE", "OPTIONS", "HEAD", "PROPFIND")
)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

HOSTILE_TEXT = (
    "\x00", "a\x00b", "\ud800", "\udfff", "\U0001f600", "' OR 1=1 --", '"', "\\", "%", "_", "*", "*\\", "\\*",
    "1e400", "-1e400", "9" * 400, "-0", "NaN", "Infinity", "0x10", "2abc", "2e0", "true", "TRUE", "null",
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2026-13-45", "2026-01-10", "2026-01-01 08:00:00",
    "2026-01-01T08:00:00Z", "24:00:00", "AAAA", "====", "2e0f3c1a-0000-4000-8000-000000000001", "[" * 1000,
    "[" * 50 + "]" * 50, '{"qty": 2}', '["a"]', "(1,2)", '(1,"a,b")', "(", ")", "x" * 20_000, "ünïcödé ☃",
    " ", "", ",", ".", "->", "->>",
)  # fmt: skip


def _text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12), st.integers().map(str))


def _json_value() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        _text(),
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text(), inner, max_size=3), max_leaves=8
    )


def _filter_value() -> st.SearchStrategy[str]:
    return st.builds(lambda op, value: f"{op}.{value}" if op else value, st.sampled_from(OPERATORS), _text())


def _select_item() -> st.SearchStrategy[str]:
    column = st.sampled_from(COLUMNS)
    call = st.builds(lambda f, c: f"{f}({c})", st.sampled_from(FUNCTIONS), column | st.just("*"))
    item = column | call
    return st.builds(lambda alias, i: f"{alias}:{i}" if alias else i, st.sampled_from(("", "x", "1bad", "a b")), item)


def _order_item() -> st.SearchStrategy[str]:
    return st.builds(
        lambda c, m: c + m, st.sampled_from(COLUMNS), st.sampled_from(("", ".asc", ".desc", ".nullsfirst", ".x"))
    )


def _pair() -> st.SearchStrategy[tuple[str, str]]:
    return st.one_of(
        st.tuples(st.sampled_from(COLUMNS), _filter_value()),
        st.tuples(
            st.sampled_from(TODO_COLUMNS),
            st.builds(lambda op, v: f"{op}.{v}", st.sampled_from(OPERATORS[:10]), st.sampled_from(PLAUSIBLE).map(str)),
        ),
        st.tuples(st.just("select"), st.lists(_select_item(), min_size=1, max_size=4).map(",".join)),
        st.tuples(st.just("order"), st.lists(_order_item(), min_size=1, max_size=3).map(",".join)),
        st.tuples(st.sampled_from(("page", "page_size", "limit", "offset")), _text()),
        st.tuples(st.sampled_from(("count", "singular", "debug", "mine")), st.just("")),
        st.tuples(st.just("1"), st.just("eq.1")),
        st.tuples(_text(), _text()),
    )


def _query() -> st.SearchStrategy[str]:
    encode = st.sampled_from((True, True, False))
    pairs = st.lists(_pair(), max_size=5)
    many = st.integers(min_value=90, max_value=1100).map(lambda n: [("id", f"ne.{i}") for i in range(n)])
    deep_path = st.just([("details" + "->a" * 3000, "eq.1")])
    chosen = st.one_of(*[pairs] * 20, many, deep_path)  # the oversized ones are rare
    return st.builds(
        lambda ps, enc: (
            "&".join(
                f"{quote(k, safe='', errors='surrogatepass') if enc else k}={quote(v, safe='', errors='surrogatepass') if enc else v}"
                for k, v in ps
            )
            if enc
            else "&".join(f"{k}={v}" for k, v in ps).encode("utf-8", "surrogatepass").decode("latin-1")
        ),
        chosen,
        encode,
    )


TODO_COLUMNS = ("title", "user_id", "project_id", "done", "score", "rating", "due", "created", "details", "note")
PLAUSIBLE = (1, 2, 3, 0, -1, 2.5, "10.00", True, False, None, "2026-01-10", "2026-01-01T08:00:00+02:00", "08:00")


def _row() -> st.SearchStrategy[dict[str, Any]]:
    value = st.one_of(st.sampled_from(PLAUSIBLE), _json_value())
    # Mostly the columns of todos with a title (so many inserts get as far as the database).
    todo = st.fixed_dictionaries(
        {"title": st.one_of(st.just("fuzz"), _text())},
        optional={c: value for c in TODO_COLUMNS[1:]},
    )
    return st.one_of(todo, todo, todo, st.dictionaries(st.sampled_from(COLUMNS), _json_value(), min_size=1, max_size=4))


def _body() -> st.SearchStrategy[bytes | None]:
    as_json = st.one_of(_row(), st.lists(_row(), min_size=1, max_size=3), _json_value()).map(
        lambda v: json.dumps(v).encode("utf-8", "surrogatepass")
    )
    raw = st.sampled_from(
        (
            b'{"title": "\\ud800"}', b'{"\\ud800": 1}', b'{"title": "x", "score": 1e400}', b'{"title": 1e999}',
            b'{"title": "a\\u0000b"}', b"[" * 5000, b'{"details": ' + b"[" * 1000 + b"]" * 1000 + b"}", b"\xff\xfe",
            b'{"title": NaN}', b"", b"   ", b'{"title": "ok"', b'{"title": "t", "created": "0001-01-01T00:00:00+05:00"}',
            b'{"username": "u\\u0000", "password": "passwordpassword"}', b'{"title": "' + b"x" * 100_000 + b'"}',
        )
    )  # fmt: skip
    return st.one_of(st.none(), as_json, as_json, raw)


@dataclass
class Identities:
    """Bearer tokens the fuzzer sends: real users, and tokens no user should get far with."""

    tokens: dict[str, str | None]
    user_ids: dict[str, int]


def _forged(claims: dict[str, Any]) -> str:
    return jwt.encode({"exp": 4_000_000_000, **claims}, SECRET, algorithm="HS256")


def _identities(client: Client, admin_password: str, db: Database) -> Identities:
    for name in ("alice", "bob"):
        client.post("/auth/register", {"username": name, "password": "password-" + name})
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "admin": login(client, "rest_admin", admin_password),
        "alice": login(client, "alice", "password-alice"),
        "bob": login(client, "bob", "password-bob"),
        "garbage": "not.a.token",
        "string-id": _forged({"user_id": "2abc"}),
        "nul-id": _forged({"user_id": "a\x00b"}),
        "surrogate-id": _forged({"user_id": "\ud800"}),
        "huge-id": _forged({"user_id": 2**62}),
        "negative-id": _forged({"user_id": -1, "is_admin": True}),
        "ghost": _forged({"user_id": 999_999}),
    }
    ids = dict(db.run(lambda s: s.execute("SELECT username, id FROM auth_users").rows))
    return Identities(tokens, {name: int(ids[name]) for name in ("alice", "bob")})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    body: bytes | None
    headers: dict[str, str]
    identity: str
    auth: bool

    def short(self) -> str:
        body = (self.body or b"")[:120]
        return f"{self.method} {self.path[:80]}?{self.query[:160]} body={body!r} as {self.identity} auth={self.auth}"


def requests(identities: list[str]) -> st.SearchStrategy[Request]:
    """A strategy for one request."""
    path = st.one_of(
        st.just("/todos"),
        st.just("/todos"),
        st.sampled_from(TABLES).map(lambda t: "/" + t),
        st.tuples(st.sampled_from(TABLES), _text()).map(
            lambda tp: f"/{tp[0]}/{quote(tp[1], safe='', errors='surrogatepass')}"
        ),
        st.sampled_from(("/", "/auth/login", "/auth/register", "/auth/setup", "/auth/logout", "/auth/x", "//", "/..")),
    )
    headers = st.dictionaries(
        st.sampled_from(("Content-Type", "Content-Length", "Transfer-Encoding", "Prefer", "Origin", "X-Setup-Token")),
        st.sampled_from(("application/json", "text/plain", "abc", "-1", "99999999999", "chunked", "", "*")),
        max_size=2,
    )
    return st.builds(
        Request,
        st.sampled_from(METHODS),
        path,
        _query(),
        _body(),
        headers,
        st.sampled_from(identities),
        st.booleans(),
    )


@dataclass
class Report:
    """What a run saw: requests by status, and the breaches (kind → examples)."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: dict[str, list[str]] = field(default_factory=dict)

    def record(self, kind: str, request: Request, detail: str) -> None:
        examples = self.findings.setdefault(kind, [])
        if len(examples) < 20:
            examples.append(f"{request.short()} → {detail}")

    def summary(self) -> str:
        breaches = {kind: len(examples) for kind, examples in self.findings.items()}
        return f"{self.requests} requests, statuses {dict(sorted(self.statuses.items()))}, breaches {breaches}"


def fingerprint(db: Database) -> list[Any]:
    """Every row of every table a request may write, to prove an error wrote nothing."""
    names = ("todos", "projects", "stock", "nokey", dataset.quoted(db, "order"), "auth_users", "auth_policies")
    return db.run(lambda s: [sorted(map(repr, s.execute(f"SELECT * FROM {n}").rows)) for n in names])


class Fuzzer:
    """Sends generated requests to two apps on one database (auth on and off) and checks them."""

    def __init__(self, url: str):
        self.secured: App = make_app(url, auth_enabled=True, policy_refresh_interval=0.0, admin_cache_seconds=0)
        self.open: App = make_app(url)
        self.db = self.secured.db
        setup = Client(self.secured).post("/auth/setup")
        assert setup.status == 200, setup.body
        self.identities = _identities(Client(self.secured), setup.json["Password"], self.db)
        self.report = Report()

    def close(self) -> None:
        self.secured.db.close()
        self.open.db.close()

    def reset(self) -> None:
        dataset.reset_rows(self.db)

    def send(self, request: Request) -> None:
        app = self.secured if request.auth else self.open
        token = self.identities.tokens[request.identity]
        # The admin only reads: a fuzzed admin write could rewrite the policies the oracle assumes.
        if request.identity == "admin" and request.method != "GET":
            token = None
        before = fingerprint(self.db) if request.method in WRITES else None
        try:
            reply = Client(app, token).request(
                request.method, request.path, request.query, body=request.body or b"", headers=request.headers
            )
        except Exception as exc:  # the app let an exception escape: no response at all
            self.report.requests += 1
            self.report.record("crash", request, f"{type(exc).__name__}: {str(exc)[:200]}")
            return
        self.check(request, reply, before, token is not None and request.identity)

    def check(self, request: Request, reply: Reply, before: list[Any] | None, identity: str | bool) -> None:
        report = self.report
        report.requests += 1
        report.statuses[reply.status] += 1
        if reply.status >= 500:
            report.record("server_error", request, f"{reply.status} {reply.body[:200]!r}")
        if reply.status >= 400:
            try:
                if request.method == "HEAD" and reply.body == b"":
                    raise _Headless  # a HEAD answer never has a body: nothing to shape-check
                body = json.loads(reply.body)
                shaped = (
                    set(body) == {"msg", "status", "message", "code", "details", "hint", "error"}
                    and body["status"] == reply.status
                )
                shaped = shaped and isinstance(body["msg"], str) and isinstance(body["error"], str)
            except _Headless:
                shaped = True
            except ValueError:
                shaped = False
            if not shaped:
                report.record("error_shape", request, f"{reply.status} {reply.body[:200]!r}")
            if before is not None and fingerprint(self.db) != before:
                report.record("wrote_on_error", request, f"{reply.status} {reply.body[:200]!r}")
        elif request.auth and isinstance(identity, str) and identity in self.identities.user_ids:
            self.check_policy(request, reply, self.identities.user_ids[identity])

    def check_policy(self, request: Request, reply: Reply, user_id: int) -> None:
        if request.method != "GET" or not request.path.startswith("/todos") or "debug" in request.query:
            return
        try:
            value = json.loads(reply.body)
        except ValueError:
            return
        rows = value if isinstance(value, list) else [value]
        for row in rows:
            if (
                isinstance(row, dict)
                and "user_id" in row
                and row["user_id"] != user_id
                and "select" not in request.query
            ):
                self.report.record("policy", request, f"row of user {row['user_id']} shown to user {user_id}")


class _Headless(Exception):
    pass


def generate(identities: list[str], size: int, *, seed: int | None) -> list[Request]:
    """``size`` requests drawn by hypothesis (fixed unless ``seed`` is given)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed

    pool: list[Request] = []
    strategy = requests(identities)

    @settings(
        max_examples=size,
        deadline=None,
        database=None,
        derandomize=seed is None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(request: Request) -> None:
        pool.append(request)

    (with_seed(seed)(draw) if seed is not None else draw)()
    return pool


def crossed(pool: list[Request], rng: random.Random) -> Request:
    """A request whose parts come from different drawn requests: hypothesis draws ~5 ms a
    request, far too slow for 100,000; crossing a pool of its draws costs microseconds."""
    parts = [rng.choice(pool) for _ in range(5)]
    return replace(
        parts[0], path=parts[1].path, query=parts[2].query, body=parts[3].body, headers=parts[4].headers,
        identity=rng.choice(parts).identity, auth=rng.random() < 0.6,
    )  # fmt: skip


def run(url: str, count: int, *, seed: int | None = None, pool_size: int = 2000, reset_every: int = 200) -> Report:
    """Send ``count`` generated requests to fresh apps on the dataset at ``url``."""
    fuzzer = Fuzzer(url)
    try:
        # Real users most of the time; each hostile token now and then.
        names = [*fuzzer.identities.tokens, *["alice", "bob", "anonymous"] * 4, "admin", "admin"]
        pool = generate(names, min(pool_size, count), seed=seed)
        rng = random.Random(seed if seed is not None else 0)
        for i in range(count):
            if i % reset_every == 0:
                fuzzer.reset()
            fuzzer.send(pool[i] if i < len(pool) else crossed(pool, rng))
    finally:
        fuzzer.close()
    return fuzzer.report
