"""Round-14 attacks on the HTTP server (rls/http, rls/rest, rls/auth), on the real
databases. Each test asserts the secure behaviour: it fails on main today and passes once
fixed. What held is listed at the end of the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_policy_http import World, worlds_fixture

# -- A. MariaDB UPDATE: WITH CHECK judged on a CAST that is not what the column stores --------
#
# MariaDB has no UPDATE … RETURNING, so compile_update judges the update policy (its WITH
# CHECK) before the write, on ``dialect.build_stored(<value>, column)`` substituted for the
# column. build_stored approximates the column's storage by the declared type's *base*
# name: FLOAT → CAST(? AS DOUBLE) (the column stores single precision: 99.9999999 is stored
# as 100), DOUBLE(5,2) → CAST(? AS DOUBLE) (the column rounds to 2 places: 0.999 is stored
# as 1.00), YEAR → CAST(? AS SIGNED) (the column maps 5 to 2005), CHAR(n) → CAST(? AS CHAR)
# (the column drops trailing spaces: 'admin ' is read back as 'admin'). The check passes
# on the approximation, the row as stored fails the policy: a user plants a row their
# update policy forbids (``role <> 'admin'`` → role 'admin'). INSERT is judged on RETURNING
# (the row as stored) and refuses the same values: only UPDATE is affected.
# Class: WITH CHECK evaluated on a model of the stored value instead of the stored value.
# Rule: judge an UPDATE's WITH CHECK on the row as the database stored it — e.g. lock the
# keys, UPDATE, then re-read the changed rows by key inside the transaction and roll back
# on any row failing the policy (as _read_back does for return=representation), or refuse
# (400) every column whose storage is not modelled *exactly* (an allow-list of declared
# types with no precision, range or padding conversion), never approximate by base name.


@pytest.fixture(scope="module")
def maria(make_database_url: Any) -> Iterator[World]:
    world = World(make_database_url("mysql"))
    world.sql(
        "CREATE TABLE stored (id INTEGER AUTO_INCREMENT PRIMARY KEY, user_id INTEGER, price FLOAT, "
        "ratio DOUBLE(5,2), era YEAR, role CHAR(10)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    )
    world.db.refresh_schema()
    yield world
    world.db.close()


STORED_CASES = [
    ("price < 100", {"price": 99.9999999}),  # FLOAT stores 100
    ("ratio < 1", {"ratio": 0.999}),  # DOUBLE(5,2) stores 1.00
    ("era < 2000", {"era": 5}),  # YEAR stores 2005
    ("role <> 'admin'", {"role": "admin "}),  # CHAR(10) reads back 'admin'
    ("role NOT IN ('admin', 'owner')", {"role": "admin "}),
]


@pytest.mark.parametrize(("condition", "body"), STORED_CASES)
def test_mariadb_update_cannot_store_a_row_its_policy_forbids(maria, condition, body):
    w = maria
    w.sql("DELETE FROM stored")
    w.sql("INSERT INTO stored (id, user_id, price, ratio, era, role) VALUES (1, ?, 1, 0.5, 1999, 'user')", w.bob_id)
    policy = f"user_id = auth_user.id AND {condition}"
    w.set_policies("stored", ("read", "user_id = auth_user.id"), ("create", policy), ("update", policy))
    reply = w.bob.request("PATCH", "/stored", "id=eq.1", json=body)
    holds = w.sql(f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END FROM stored WHERE id = 1")
    assert holds == [(1,)], f"row stored against the update policy ({reply.status} {reply.body!r})"
    # Refused: 400 where the column's stored value cannot be judged before the write.
    assert reply.status in (400, 403), reply.body
    # The same values through INSERT are refused (judged on RETURNING, the row as stored).
    assert w.bob.request("POST", "/stored", json={"id": 2, **body}).status == 403


# -- B. MariaDB UPDATE: columns the database changes besides the body's ------------------------
#
# The same pre-write judgement substitutes only the body's columns and leaves every other
# column as it is *before* the update. A STORED generated column (``total AS (qty * unit)``)
# and an ``ON UPDATE CURRENT_TIMESTAMP`` column change with the write: the policy is judged
# on their old values, the row as stored fails it (``total <= 100`` with total = 500).
# Class and rule: as A — judge the row the database stored, not a model of it.
@pytest.fixture(scope="module")
def maria_generated(make_database_url: Any) -> Iterator[World]:
    world = World(make_database_url("mysql"))
    world.sql(
        "CREATE TABLE orders (id INTEGER AUTO_INCREMENT PRIMARY KEY, user_id INTEGER, qty INTEGER, unit INTEGER, "
        "total INTEGER GENERATED ALWAYS AS (qty * unit) STORED, "
        "touched TIMESTAMP(6) NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP(6)) ENGINE=InnoDB"
    )
    world.db.refresh_schema()
    yield world
    world.db.close()


@pytest.mark.parametrize(("condition", "body"), [("total <= 100", {"qty": 50}), ("touched IS NULL", {"qty": 2})])
def test_mariadb_update_judges_columns_the_database_changes(maria_generated, condition, body):
    w = maria_generated
    w.sql("DELETE FROM orders")
    w.sql("INSERT INTO orders (id, user_id, qty, unit) VALUES (1, ?, 1, 10)", w.bob_id)
    policy = f"user_id = auth_user.id AND {condition}"
    w.set_policies("orders", ("read", "user_id = auth_user.id"), ("create", policy), ("update", policy))
    reply = w.bob.request("PATCH", "/orders", "id=eq.1", json=body)
    holds = w.sql(f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END FROM orders WHERE id = 1")
    assert holds == [(1,)], f"row stored against the update policy ({reply.status} {reply.body!r})"
    # Refused: 400 where the column's stored value cannot be judged before the write.
    assert reply.status in (400, 403), reply.body


# -- C. POST /auth/setup: "loopback" decided by a deny-list of proxy headers -------------------
#
# The setup gate lets a loopback client become the admin unless one of three headers
# (Forwarded, X-Forwarded-For, X-Real-IP) says a proxy relays another client. A reverse
# proxy on the same host that marks its requests any other way — ``Via`` (the header
# RFC 9110 §7.6.3 requires of every proxy), ``X-Forwarded-Proto``/``-Host`` alone (a common
# nginx config), CDN headers (``True-Client-IP``, ``CF-Connecting-IP``, ``Fastly-Client-IP``),
# ``X-Client-IP``, ``X-Original-Forwarded-For`` — relays the first remote caller as loopback:
# that caller runs setup and receives the admin password. (nginx's and HAProxy's default
# proxy_pass add no header at all, which no header test can catch.)
# Class: trust decided by a deny-list of headers that announce a relay.
# Rule: an allow-list — loopback setup only when the request carries *no* header a relay
# might add (any Forwarded/X-Forwarded-*/Via/*-Client-IP/X-Real-IP/X-Original-* …), or
# better: setup over HTTP only with a setup token (the CLI `rest auth setup` for the
# operator on the host), so no network position ever grants admin.
RELAY_HEADERS = [
    "Via",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "True-Client-IP",
    "CF-Connecting-IP",
    "Fastly-Client-IP",
    "X-Client-IP",
    "X-Original-Forwarded-For",
    "X-Cluster-Client-IP",
]


@pytest.mark.parametrize("header", RELAY_HEADERS)
def test_setup_relayed_by_a_local_proxy_is_not_loopback(make_database_url, header):
    from tests.authkit import AddressedClient, make_app

    app = make_app(make_database_url("sqlite"))
    try:
        value = "1.1 proxy" if header == "Via" else ("https" if header.endswith("Proto") else "203.0.113.7")
        reply = AddressedClient(app, "127.0.0.1").post("/auth/setup", headers={header: value})
        assert reply.status == 403, "a relayed remote client became the admin"
        assert "Password" not in reply.body.decode()
    finally:
        app.db.close()


# -- D. SQLite: a REPLACE conflict clause deletes another user's row through POST --------------
#
# A SQLite table declared with ``ON CONFLICT REPLACE`` (on its primary key or a UNIQUE
# constraint) turns an INSERT that collides with a stored row into DELETE + INSERT. rls
# knows this (Table.write_hazard) but (1) applies the hazard only when the write's *own*
# policy has a condition: with a create policy that is always true for the caller
# (``auth_user.is_authenticated``, the docs' "logged-in users" example) the POST runs, and
# the REPLACE deletes a row the delete policy (``user_id = auth_user.id``) protects and the
# caller could not even name in a DELETE; (2) finds the clause with a regular expression
# over the DDL text, so a comment inside it (``ON CONFLICT /* last write wins */ REPLACE``,
# ``ON CONFLICT -- …\nREPLACE``) hides it, and a POST under ``user_id = auth_user.id``
# replaces (deletes) alice's row — by primary key or by another unique column.
# Class: a write that deletes rows implicitly, judged by matching the table's text and
# only for some policies. Rule: make the statement itself refuse implicit deletes —
# emit ``INSERT OR ABORT`` / ``UPDATE OR ABORT`` on SQLite (a statement's conflict
# algorithm overrides the table's), for every write whatever its policy; if a hazard
# list stays, derive it from the parsed DDL (comments stripped by a tokenizer), not a regex.
@pytest.fixture(scope="module")
def replacing(make_database_url: Any) -> Iterator[World]:
    world = World(make_database_url("sqlite"))
    world.sql("CREATE TABLE guestbook (id INTEGER PRIMARY KEY ON CONFLICT REPLACE, user_id INTEGER, msg TEXT)")
    world.sql(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY ON CONFLICT /* last write wins */ REPLACE, "
        "user_id INTEGER, msg TEXT)"
    )
    world.sql(
        "CREATE TABLE pages (id INTEGER PRIMARY KEY, user_id INTEGER, msg TEXT, slug TEXT, "
        "UNIQUE (slug) ON CONFLICT -- newest page wins\n REPLACE)"
    )
    world.db.refresh_schema()
    yield world
    world.db.close()


@pytest.mark.parametrize(
    ("table", "create", "body"),
    [
        ("guestbook", "auth_user.is_authenticated", {"id": 1, "msg": "mine now"}),
        ("notes", "user_id = auth_user.id", {"id": 1, "msg": "mine now"}),
        ("pages", "user_id = auth_user.id", {"id": 2, "msg": "mine now", "slug": "home"}),
    ],
)
def test_sqlite_post_cannot_delete_a_row_through_a_replace_conflict(replacing, table, create, body):
    w = replacing
    w.sql(f"DELETE FROM {table}")
    if table == "pages":
        w.sql("INSERT INTO pages (id, user_id, msg, slug) VALUES (1, ?, 'alice''s page', 'home')", w.alice_id)
    else:
        w.sql(f"INSERT INTO {table} (id, user_id, msg) VALUES (1, ?, 'alice''s row')", w.alice_id)
    owner = "user_id = auth_user.id"
    w.set_policies(table, ("read", ""), ("create", create), ("update", owner), ("delete", owner))
    assert w.bob.request("DELETE", f"/{table}", "id=eq.1").json["msg"] == "successfully deleted 0 rows"
    reply = w.bob.request("POST", f"/{table}", json={"user_id": w.bob_id, **body})
    assert w.sql(f"SELECT id, user_id FROM {table} WHERE id = 1") == [(1, w.alice_id)], (
        f"alice's row deleted by bob's POST ({reply.status} {reply.body!r})"
    )


# -- E. SQLite: a deleted user's token names the next user registered (auth_users rls did not create)
#
# Round 13 fixed id reuse by creating auth_users with AUTOINCREMENT. rls also serves an
# auth_users it did not create (the original system's database, a restore, a hand-made
# table — test_auth_original_db serves one): declared ``id INTEGER PRIMARY KEY`` (no
# AUTOINCREMENT), SQLite gives the next user the largest deleted id. Mallory's token
# (user 1) stops working when mallory is deleted, and works again — as carol — once carol
# registers: mallory reads carol's rows. The same holds on every database whenever an id
# comes back (an admin's POST /auth_users with an explicit id, a sequence reset).
# Class: a token bound to a reusable number, not to the account. Rule: a token must name
# an account in a way no later account can match — bind it to a per-account value never
# reused (a random account key or creation stamp stored in auth_users, carried in the
# token and compared in the standing lookup); at the least, refuse to serve an auth_users
# whose ids can be reused (SQLite rowid alias without AUTOINCREMENT).
def test_sqlite_deleted_users_token_does_not_name_the_next_user(make_database_url):
    from tests.authkit import login, make_app
    from tests.client import Client

    app = make_app(make_database_url("sqlite"), auth_enabled=True, admin_cache_seconds=0)

    def tables(session: Any) -> None:
        session.execute(
            "CREATE TABLE auth_users (id INTEGER PRIMARY KEY, username VARCHAR(32) NOT NULL UNIQUE, "
            "password VARCHAR(255) NOT NULL, is_admin BOOLEAN NOT NULL DEFAULT FALSE)"
        )
        session.execute(
            "CREATE TABLE auth_policies (id INTEGER PRIMARY KEY, description VARCHAR(256) NOT NULL, "
            "table_name VARCHAR(128) NOT NULL, action VARCHAR(16) NOT NULL, expression VARCHAR(128) NOT NULL)"
        )
        session.execute(
            "INSERT INTO auth_policies (description, table_name, action, expression) "
            "VALUES ('default', 'all', 'all', 'user_id = auth_user.id')"
        )
        session.execute("CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER, title TEXT)")

    try:
        app.db.run(tables, write=True)
        app.db.refresh_schema()
        anonymous = Client(app)
        assert anonymous.post("/auth/register", {"username": "mallory", "password": "password-m"}).status == 200
        mallory = Client(app, login(anonymous, "mallory", "password-m"))
        app.auth.users.delete("mallory")
        assert mallory.get("/todos").status == 401  # the deleted user's token stops working
        assert anonymous.post("/auth/register", {"username": "carol", "password": "password-c"}).status == 200
        carol = Client(app, login(anonymous, "carol", "password-c"))
        assert carol.post("/todos", {"title": "carol's secret"}).status == 200
        reply = mallory.get("/todos")
        assert reply.status == 401, f"mallory's old token reads carol's rows: {reply.body!r}"
    finally:
        app.db.close()


# -- F. PostgreSQL: a LIKE pattern from a claim is an error oracle over hidden rows -----------
#
# Round 13 closed the LIKE-escape oracle for REST filters (``_like_pattern`` refuses a
# pattern ending in the escape character before the database sees it). A *policy* may
# use a claim as a LIKE pattern (``title LIKE auth_user.prefix``: docs/auth.md types such
# an attribute as text) and the policy runs on every row, hidden ones included. A claim
# ending in ``\`` makes PostgreSQL raise "LIKE pattern must not end with escape character"
# only on a row whose text starts with the rest of the pattern and goes on: the request
# is a 400 exactly when some hidden row starts with the prefix — a token whose claim the
# holder can influence (a display name, an org slug, a token from "another system")
# reads hidden text one character at a time while the read returns no row.
# Class: a value bound into an operation that can raise, evaluated on rows the caller
# cannot see. Rule: every principal value is validated by rls for the operation it feeds
# before it is bound (the same LIKE-pattern check as REST filters: a trailing escape binds
# NULL), so a policy is total — it can never raise, on any row, for any claim.
def test_postgres_like_pattern_claim_is_no_oracle(make_database_url):
    import time

    import jwt

    from tests.authkit import SECRET
    from tests.client import Client

    w = World(make_database_url("postgres"))
    try:
        w.reset("todos", "id, user_id, title", [(1, w.alice_id, "secret-plan"), (2, w.bob_id, "bob")])
        w.set_policies("todos", ("read", "title LIKE auth_user.prefix"))

        def read(prefix: str) -> tuple[int, bytes]:
            claims = {"user_id": "ext-1", "prefix": prefix, "exp": int(time.time()) + 600}
            reply = Client(w.app, jwt.encode(claims, SECRET, algorithm="HS256")).get("/todos")
            return reply.status, reply.body

        nothing = read("zzz\\")
        assert nothing == (200, b"[]")
        # The contrast: readable patterns match as written, escapes included.
        for pattern in ("secret%", "secret\\-plan", "s%"):
            status, body = read(pattern)
            assert status == 200 and b"secret-plan" in body, (pattern, status, body)
        assert read("sec\\") == nothing  # was 400 (22025): a hidden title starts with "sec"
        assert read("s\\") == nothing
    finally:
        w.db.close()


def test_sqlite_patch_cannot_delete_a_row_through_a_replace_conflict(replacing):
    # The same through UPDATE: bob moves his own row onto alice's key; the REPLACE clause
    # (hidden from the hazard regex by a comment) deletes alice's row.
    w = replacing
    w.sql("DELETE FROM notes")
    w.sql("INSERT INTO notes (id, user_id, msg) VALUES (1, ?, 'alice''s row')", w.alice_id)
    w.sql("INSERT INTO notes (id, user_id, msg) VALUES (3, ?, 'bob''s row')", w.bob_id)
    owner = "user_id = auth_user.id"
    w.set_policies("notes", ("read", owner), ("create", owner), ("update", owner), ("delete", owner))
    reply = w.bob.request("PATCH", "/notes", "id=eq.3", json={"id": 1})
    assert w.sql("SELECT user_id FROM notes WHERE id = 1") == [(w.alice_id,)], (
        f"alice's row deleted by bob's PATCH ({reply.status} {reply.body!r})"
    )


# -- G. A policy's arithmetic raises on a hidden row: error oracle and table-wide denial -------
#
# A policy runs on every row, hidden ones included, before anything else. docs/auth.md
# allows arithmetic and ``abs`` in policy expressions; on PostgreSQL they raise on some
# values — ``qty / price`` on price = 0 (division by zero), ``qty * price`` and
# ``qty + price`` past the column type (integer out of range), ``abs(qty)`` on the
# smallest integer. One such row, hidden from the caller, makes every read (and write) of
# the table by every other caller fail with a 400: the caller learns that a hidden row with
# such values exists (and, with comparisons in the policy, narrows them down), and any user
# who may create rows can plant one of their own to make the table unreadable for all.
# (MariaDB and SQLite answer NULL for division by zero, and 64-bit arithmetic does not overflow
# at these sizes: there, the same test passes.)
# Class: a policy that is not total — an operation that can raise, evaluated on rows the
# caller cannot see. Rule: admit in policies only operations that cannot raise on any
# stored value (compile ``a / b`` as ``CASE WHEN b = 0 THEN NULL ELSE a / b END``, do
# arithmetic in a type that cannot overflow — NUMERIC on PostgreSQL — or refuse arithmetic
# and abs), i.e. an allow-list of total operators per dialect, as for leakproof filters.
def _arithmetic_tables(world: World) -> None:
    world.sql("CREATE TABLE orderlines (id INTEGER PRIMARY KEY, user_id INTEGER, qty INTEGER, price INTEGER)")
    world.db.refresh_schema()


arithmetic = worlds_fixture(_arithmetic_tables)


@pytest.mark.parametrize(
    ("condition", "hidden"),
    [
        ("qty / price > 0", (5, 0)),
        ("qty * price < 1000000", (2000000000, 2000000000)),
        ("qty + price < 0", (2000000000, 2000000000)),
        ("abs(qty) < 5", (-2147483648, 0)),
    ],
)
def test_policy_arithmetic_on_hidden_rows_is_no_oracle(arithmetic, condition, hidden):
    w = arithmetic("postgres")  # MariaDB and SQLite pass these (NULL, no overflow at these sizes)
    w.sql("DELETE FROM orderlines")
    w.sql("INSERT INTO orderlines (id, user_id, qty, price) VALUES (1, ?, 1, 1)", w.bob_id)
    policy = f"user_id = auth_user.id OR {condition}"
    # Fixed by making policies total: arithmetic is refused when a policy is written …
    written = w.admin.post(
        "/auth_policies", {"description": "x", "table_name": "orderlines", "action": "read", "expression": policy}
    )
    assert written.status == 400, written.body
    # … and one stored past that check (by an older rls, by hand) is ignored: denied,
    # the same answer whatever the hidden rows hold.
    w.set_policies("orderlines", ("read", policy), ("update", "user_id = auth_user.id"))
    before = w.bob.get("/orderlines")
    w.sql("INSERT INTO orderlines (id, user_id, qty, price) VALUES (2, ?, ?, ?)", w.alice_id, *hidden)
    after = w.bob.get("/orderlines")
    assert (after.status, after.body) == (before.status, before.body)  # PostgreSQL: 400 (22012 / 22003)


# G, on every database: with 64-bit columns, ``abs`` of the smallest BIGINT raises on all
# three (PostgreSQL 22003, MariaDB 1690 "BIGINT value is out of range", SQLite "integer
# overflow"), and MariaDB raises 1690 for a BIGINT product past 64 bits too.
def _wide_tables(world: World) -> None:
    world.sql("CREATE TABLE ledger (id INTEGER PRIMARY KEY, user_id INTEGER, amount BIGINT, rate BIGINT)")
    world.db.refresh_schema()


wide = worlds_fixture(_wide_tables)


@pytest.mark.parametrize(
    ("condition", "hidden"),
    [("abs(amount) < 5", (-(2**63), 0)), ("amount * rate < 0", (10**10, 10**10))],
)
def test_policy_bigint_arithmetic_on_hidden_rows_is_no_oracle(wide, backend, condition, hidden):
    w = wide(backend)
    w.sql("DELETE FROM ledger")
    w.sql("INSERT INTO ledger (id, user_id, amount, rate) VALUES (1, ?, 1, 1)", w.bob_id)
    w.set_policies("ledger", ("read", f"user_id = auth_user.id OR {condition}"))
    before = w.bob.get("/ledger")  # the policy is ignored (arithmetic is refused): denied
    w.sql("INSERT INTO ledger (id, user_id, amount, rate) VALUES (2, ?, ?, ?)", w.alice_id, *hidden)
    after = w.bob.get("/ledger")
    assert (after.status, after.body) == (before.status, before.body)  # was 400 everywhere


# -- What held (tried on the three databases unless noted; no test needed) --------------------
#
# Reads, differential (the same request with a hidden row holding other values): JSON-path
# filters and orders (SQLite with malformed JSON in the hidden row), ``select=`` casts and
# aggregates (``data->a::int``, ``n.sum()``, ``count()``), out-of-range / malformed filter
# values (refused in Python before the database), ``fts``/``match``/``imatch``/``like`` with
# bad patterns, ``cs``/``cd``, ``or``/``not`` trees mixing leakproof and raising filters,
# ``count=exact|planned|estimated`` (all exact over the visible rows), ``Range`` + 416,
# HEAD, ``vnd.pgrst.object`` 406, CSV — identical answers.
# Embedding: to-one/to-many/many-to-many (junction under its own policy), ``!inner`` with
# and without ``count=exact``, ``items(count)``/``id.count()``, embedded filters with
# raising operators, embedded orders — identical answers; hidden parents embed as null.
# Writes: PATCH/DELETE on hidden ids (0 rows, same body), ``limit``/``order`` on writes,
# ``tx=rollback``, ``return=representation`` (read policy on RETURNING), POST with a body
# key differing in case or with a trailing space (400 on every database), INSERT on MariaDB
# of the same values as A (judged on RETURNING: 403). Unique / FK conflicts and
# ignore-/merge-duplicates on hidden keys answer like native RLS (documented existence).
# Auth: setup through Forwarded/X-Forwarded-For/X-Real-IP, setup tokens; JWT alg none /
# HS-vs-RS (algorithm chosen by configuration), kid only picks among configured keys;
# string ids never looked up in auth_users; identity-provider integer subjects become text.


# -- H. MariaDB: a view over a non-transactional table keeps a row its create policy refused ---
#
# A write whose WITH CHECK the statement enforces itself needs a table that undoes an
# aborted statement: _engine_hazard refuses writes under a policy on MyISAM/Aria/MEMORY
# tables — but decides by the *served object's* engine, and a view has none (NULL in
# information_schema.TABLES), so it counts as safe. POST through a view over a MyISAM
# table inserts the row, RETURNING judges it, the statement aborts (403) — and MyISAM
# keeps the row: bob plants a row owned by alice while his client sees "unauthorized".
# Class: a hazard allow-list keyed by the wrong object (the view, not the tables it
# writes). Rule: the write hazard of a view is that of every base table it can write
# (information_schema.VIEW_TABLE_USAGE, recursively); a served object whose storage rls
# cannot establish as transactional is refused for policed writes (unknown = unsafe).
def test_mariadb_view_over_myisam_keeps_no_refused_row(make_database_url):
    w = World(make_database_url("mysql"))
    try:
        w.sql(
            "CREATE TABLE raw_notes (id INTEGER AUTO_INCREMENT PRIMARY KEY, user_id INTEGER, title VARCHAR(50)) "
            "ENGINE=MyISAM"
        )
        w.sql("CREATE VIEW notes_view AS SELECT id, user_id, title FROM raw_notes")
        w.db.refresh_schema()
        owner = "user_id = auth_user.id"
        for table in ("raw_notes", "notes_view"):
            w.set_policies(table, ("read", owner), ("create", owner), ("update", owner), ("delete", owner))
        # The table itself is refused (400): the hazard is known there.
        assert w.bob.request("POST", "/raw_notes", json={"user_id": w.alice_id, "title": "x"}).status == 400
        reply = w.bob.request("POST", "/notes_view", json={"user_id": w.alice_id, "title": "planted"})
        assert reply.status in (400, 403), reply.body
        assert w.sql("SELECT user_id, title FROM raw_notes") == [], f"row kept after {reply.status}"
    finally:
        w.db.close()


def test_mariadb_view_hazard_is_that_of_its_tables(make_database_url):
    """The contrast of D: a view over InnoDB tables (through another view too) writes as its
    table does; one naming a MyISAM table anywhere in its definition is refused."""
    w = World(make_database_url("mysql"))
    try:
        w.sql("CREATE TABLE raw_log (id INTEGER AUTO_INCREMENT PRIMARY KEY, user_id INTEGER) ENGINE=MyISAM")
        w.sql("CREATE VIEW todos_view AS SELECT id, user_id, title FROM todos")
        w.sql("CREATE VIEW todos_view2 AS SELECT id, user_id, title FROM todos_view")
        w.sql("CREATE VIEW mixed_view AS SELECT t.id, t.user_id FROM todos t JOIN raw_log r ON r.id = t.id")
        w.db.refresh_schema()
        hazards = {name: w.db.table(name).write_hazard for name in ("todos_view", "todos_view2", "mixed_view")}
        assert hazards["todos_view"] is None and hazards["todos_view2"] is None
        assert "MyISAM" in (hazards["mixed_view"] or "")
    finally:
        w.db.close()


# -- I. auth_policies is served — writable by anyone — by a server with auth disabled ----------
#
# Without auth, auth_users is not served ("nothing guards it"), but auth_policies is: an
# anonymous caller of a server run with auth disabled on a database that has the auth
# tables (an internal instance beside the public one, a maintenance run, a rollback of the
# auth setting) inserts ``all/all/''`` — and every auth-enabled server on that database
# then makes every table public (or an attacker grants themselves anything) within
# ``policy.refresh_interval``. Class: rls's own security tables served by the generic
# table routes under a rule keyed by one name. Rule: rls's own tables (auth_users,
# auth_policies, and any later one) are never served without a policy engine to guard
# them — an allow-list of what auth-disabled serving may expose, not a deny-list of one.
def test_auth_disabled_server_does_not_serve_the_policy_table(make_database_url):
    from tests.authkit import make_app
    from tests.client import Client

    url = make_database_url("sqlite")
    guarded = make_app(url, auth_enabled=True)
    assert Client(guarded).post("/auth/setup").status == 200
    guarded.db.close()
    open_app = make_app(url, auth_enabled=False)
    try:
        anonymous = Client(open_app)
        reply = anonymous.post(
            "/auth_policies", {"description": "x", "table_name": "all", "action": "all", "expression": ""}
        )
        assert reply.status == 404, f"anonymous policy write accepted: {reply.status} {reply.body!r}"
        assert anonymous.get("/auth_policies").status == 404
    finally:
        open_app.db.close()


# -- J. (low) /metrics, public by default, names hidden tables and others' denials -----------
#
# ops.metrics_enabled defaults to true and ops.metrics_token to empty, on the API's own
# port, before authentication. ``rls_denials_total{table=…,action=…}`` and its
# ``_created`` timestamp tell an anonymous caller which tables exist that the OpenAPI
# document hides from them, and when and how often other users were refused on them — a
# timing-free side channel on other principals' activity. Class: observability output
# outside the policy model. Rule: what the metrics expose to a caller is public by
# construction (no table names, no per-principal-class counters) unless the endpoint is
# gated (token required, or loopback only) — default closed.
def test_anonymous_metrics_do_not_name_tables(make_database_url):
    from tests.client import Client

    w = World(make_database_url("sqlite"))
    try:
        w.sql("CREATE TABLE salaries (id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER)")
        w.db.refresh_schema()
        w.set_policies("salaries", ("read", "auth_user.is_admin"))
        assert w.alice.get("/salaries").status == 403
        remote = {"X-Forwarded-For": "203.0.113.9"}  # relayed: another host's client
        reply = Client(w.app).get("/metrics", headers=remote)
        assert reply.status in (401, 403, 404) or b"salaries" not in reply.body, "anonymous metrics name a table"
        assert Client(w.app).get("/metrics").status == 200  # a client on this host, talking to it directly
    finally:
        w.db.close()


# -- K. (integrity, not a leak) DELETE/PATCH ignore ``limit``: every matching row goes ----------
#
# PostgREST limits a DELETE/PATCH to ``limit`` rows (with ``order``); rls parses ``limit``
# on a write and drops it: ``DELETE /todos?id=gte.1&limit=1&order=id`` deletes all of the
# caller's matching rows and answers 200. Only rows the caller may delete are touched, but
# a client that trusted the limit loses data. Class: a query parameter accepted and
# silently not applied. Rule: every accepted parameter is applied or refused (400) — an
# allow-list of parameters per action.
def test_write_with_limit_touches_at_most_limit_rows(make_database_url, backend):
    w = World(make_database_url(backend))
    try:
        w.reset("todos", "id, user_id, title", [(1, w.bob_id, "a"), (2, w.bob_id, "b"), (3, w.bob_id, "c")])
        reply = w.bob.request("DELETE", "/todos", "id=gte.1&limit=1&order=id")
        left = w.sql("SELECT id FROM todos ORDER BY id")
        assert reply.status == 400 or len(left) == 2, f"{reply.status}: left {left}"
    finally:
        w.db.close()
