"""Round-14 robustness attacks on the HTTP server, on the three real databases. Each test
asserts the contract — bad client input is a 4xx in the documented shape and changes
nothing; what is written can be read back; no database error becomes a 500 or a 503 — and
fails on main today. What held is listed at the end of the module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rls.config import Config
from rls.database import Database
from rls.http.app import create_app
from tests.client import Client, Reply

ERROR_KEYS = {"msg", "status", "message", "code", "details", "hint", "error"}


def assert_4xx(reply: Reply, *statuses: int) -> None:
    """A client error in the documented shape (any 4xx unless ``statuses`` narrows it)."""
    assert 400 <= reply.status < 500, (reply.status, reply.body[:300])
    if statuses:
        assert reply.status in statuses, (reply.status, reply.body[:300])
    body = reply.json
    assert set(body) == ERROR_KEYS and body["status"] == reply.status, body


@pytest.fixture
def world(make_database_url: Callable[[str], str]) -> Iterator[Callable[..., tuple[Client, Callable[..., Any]]]]:
    """``world(backend, [ddl...], **config)`` → (client, sql): an app on a fresh database
    holding the tables the DDL creates."""
    apps: list[Any] = []

    def make(backend: str, ddl: list[str], **overrides: Any) -> tuple[Client, Callable[..., Any]]:
        url = make_database_url(backend)
        db = Database(url)
        try:
            for statement in ddl:
                db.run(lambda s, st=statement: s.execute(st), write=True)
        finally:
            db.close()
        app = create_app(Config(db_url=url).replace(**overrides))
        apps.append(app)

        def sql(statement: str, *params: Any) -> list[tuple[Any, ...]]:
            return app.db.run(lambda s: s.execute(statement, params).rows, write=True)

        return Client(app), sql

    yield make
    for app in apps:
        app.db.close()


# -- A. PostgreSQL values psycopg loads as objects jsonout cannot encode (500 on every read) ---
#
# A column of type inet, cidr or a range (int4range, tstzrange, …) is writable through the
# API (the value is text, Kind.OTHER), but psycopg loads it as ipaddress.IPv4Address /
# IPv4Network / psycopg.types.range.Range, and rls/jsonout.py's _default raises TypeError:
# "unhandled TypeError … cannot encode IPv4Address as JSON" → 500 on *every* read of the
# table (GET, select=max(ip), a filter isdistinct, text/csv is fine), and on any RPC
# returning such a value. One row written by a client makes the table unreadable.
# Class: the output encoder is a deny-by-default list of Python types while the drivers'
# loaders produce an open set. Rule: load every value of a type rls has no Kind for as its
# text form (register psycopg text loaders for OTHER, as the CSV writer's str fallback
# already does), and let jsonout fall back to str() for any remaining driver type.
PG_OBJECT_TYPES = [
    ("inet", "1.2.3.4"),
    ("cidr", "10.0.0.0/8"),
    ("int4range", "[1,5)"),
    ("tstzrange", "[2024-01-01,2024-02-01)"),
    ("int4multirange", "{[1,2),[5,6)}"),
]


@pytest.mark.parametrize(("sqltype", "value"), PG_OBJECT_TYPES, ids=[t for t, _ in PG_OBJECT_TYPES])
def test_postgres_values_of_other_types_written_through_the_api_are_readable(world, sqltype, value):
    client, _ = world("postgres", [f"CREATE TABLE things (id serial PRIMARY KEY, v {sqltype})"])
    assert client.post("/things", {"v": value}).status == 200  # the write is accepted
    reply = client.get("/things", "select=id,v")
    assert reply.status == 200, reply.body[:300]  # today: 500 (TypeError in jsonout)
    assert len(reply.json) == 1
    assert client.get("/things", "select=max(id)").status == 200


def test_postgres_rpc_returning_an_inet_is_no_500(world):
    client, _ = world(
        "postgres",
        ["CREATE FUNCTION echo_ip(x inet) RETURNS inet LANGUAGE sql IMMUTABLE AS 'SELECT x'"],
        rpc_functions=("echo_ip",),
    )
    reply = client.post("/rpc/echo_ip", {"x": "1.2.3.4"})
    assert reply.status == 200, reply.body[:300]  # today: 500


# -- B. PostgreSQL SQLSTATE class 55 is a 503: a write to a non-updatable view -------------
#
# dialects/postgres.py maps the whole class "55" (object_not_in_prerequisite_state) to
# Unavailable. PostgreSQL raises 55000 for "cannot insert into view" / "cannot update
# view" / "cannot delete from view" (a view with an aggregate, DISTINCT, a join, …), so a
# POST/PATCH/DELETE on such a view — readable like a table, as the docs say — is answered
# 503 "database unavailable" (with monitoring counting an outage), not a 4xx. SQLite and
# MariaDB answer 400. Class: a status decided by SQLSTATE class when the class mixes the
# statement's fault with the server's. Rule: classes that mix both are mapped per exact
# code; 55000 (and any code the statement can cause) is a 4xx (405 like PostgREST, or 400).
VIEW_DDL = [
    "CREATE TABLE base (id serial PRIMARY KEY, n int)",
    "INSERT INTO base (n) VALUES (1), (2)",
    "CREATE VIEW totals AS SELECT count(*) AS c, max(n) AS m FROM base",
    "CREATE VIEW distinct_n AS SELECT DISTINCT n FROM base",
]


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("POST", "/totals", "", {"c": 1}),
        ("PATCH", "/totals", "c=eq.2", {"m": 5}),
        ("DELETE", "/totals", "c=eq.2", None),
        ("POST", "/distinct_n", "", {"n": 3}),
        ("DELETE", "/distinct_n", "n=eq.1", None),
    ],
)
def test_postgres_write_to_a_non_updatable_view_is_a_4xx_not_503(world, method, path, query, body):
    client, sql = world("postgres", VIEW_DDL)
    reply = client.request(method, path, query, json=body)
    assert_4xx(reply)  # today: 503 unavailable (SQLSTATE 55000 → class 55)
    assert sql("SELECT count(*) FROM base") == [(2,)]


# -- C. SQLite: an aggregate of finite doubles overflowing to infinity is a 500 -------------
#
# Every stored double is finite (values.py refuses inf/NaN), but SUM/AVG of three values
# of 9e307 (DOUBLE, REAL or DECIMAL, stored as a double) is +Inf on SQLite; the JSON
# encoder (allow_nan=False) raises ValueError → 500 "internal server error". Issue 13's fix covered integer SUM overflow only.
# (MariaDB answers 0.0 for the same SUM — a wrong answer from the database itself;
# PostgreSQL raises 22003 → 400.) Class: a computed value escaping the checks made on
# stored values. Rule: jsonout must never raise on a database value — a non-finite float
# from the database becomes a 400 "value out of range" (or the aggregate is computed with
# overflow checking) — and aggregates over FLOAT columns on SQLite are guarded like
# integer SUM.
@pytest.mark.parametrize("column", ["d double", "d decimal(10,2)", "d real"])
@pytest.mark.parametrize("select", ["sum(d)", "avg(d)", "s:sum(d),n:count(*)"])
def test_sqlite_float_aggregate_overflowing_to_infinity_is_400_not_500(world, column, select):
    client, _ = world("sqlite", [f"CREATE TABLE nums (id integer PRIMARY KEY, {column})"])
    assert client.post("/nums", [{"d": 9e307}] * 3).status == 200
    reply = client.get("/nums", f"select={select}")
    assert reply.status != 500, reply.body[:300]  # today: 500 (ValueError: Out of range float)
    if reply.status != 200:
        assert_4xx(reply, 400)


# -- D. PostgreSQL interval: accepted on write, unreadable afterwards ----------------------
#
# An interval column is Kind.OTHER: the text goes to PostgreSQL unchecked, which accepts
# up to ±178 000 000 years. psycopg loads an interval as datetime.timedelta, whose range
# is ±999 999 999 days (~2.7 M years): a row with '3000000 years' or '1000000000 days'
# is written (200), and then every read that selects the column fails with a DataError
# mapped to 400 "invalid value" — the table is unreadable for everyone (select=* too).
# Class: "values written must be readable back" checked for the kinds rls knows, not for
# OTHER. Rule: a write is only accepted for values the read path can load — load OTHER
# types as text (or check intervals against timedelta's range before binding).
@pytest.mark.parametrize("value", ["3000000 years", "-3000000 years", "1000000000 days"])
def test_postgres_interval_written_through_the_api_reads_back(world, value):
    client, sql = world("postgres", ["CREATE TABLE spans (id serial PRIMARY KEY, iv interval)"])
    written = client.post("/spans", {"iv": value})
    if written.status != 200:
        assert_4xx(written, 400)
        assert sql("SELECT count(*) FROM spans") == [(0,)]
        return
    reply = client.get("/spans", "")
    assert reply.status == 200, reply.body[:300]  # today: 400 on every read of the table


# -- E. MariaDB: a body under max_body_bytes whose statement exceeds max_allowed_packet ---
#
# PyMySQL interpolates values client-side: a 9 MB JSON body of apostrophes (under the
# 10 MiB max_body_bytes) becomes an 18 MB statement, past MariaDB's default
# max_allowed_packet (16 MiB). The server refuses it (1153, or drops the connection →
# 2013) and rls answers 503 "database unavailable" — a client's input reported as an
# outage (and a pooled connection killed per request). Class: a body limit checked in
# input bytes while the database limits statement bytes after escaping. Rule: bound the
# statement, not the body: refuse (413, naming max_body_bytes) before sending a statement
# longer than the server's max_allowed_packet (read once per connection), and map 1153 to
# 413.
def test_mysql_statement_past_max_allowed_packet_is_a_4xx_not_503(world):
    client, sql = world("mysql", ["CREATE TABLE notes (id int AUTO_INCREMENT PRIMARY KEY, body longtext)"])
    reply = client.post("/notes", {"body": "'" * 9_000_000})  # 9 MB body < max_body_bytes
    assert_4xx(reply, 400, 413)  # today: 503 database unavailable
    assert sql("SELECT count(*) FROM notes") == [(0,)]
    assert client.get("/notes", "").status == 200


# -- F. invalid UTF-8 in a percent-encoded query value is silently U+FFFD ------------------
#
# ``?title=eq.%FF`` is decoded with errors="replace": the filter value becomes "\ufffd"
# and matches (PATCH/DELETE: changes) rows whose text holds a real U+FFFD. A client's
# malformed URL writes; the same bytes in a JSON body are a 400. Class: lossy decoding of
# input. Rule: decode the query string strictly (UTF-8 with errors="strict") and answer
# 400 naming the parameter.
@pytest.mark.parametrize("backend_", ["sqlite", "postgres", "mysql"])
@pytest.mark.parametrize("encoded", ["%FF", "%C0%80", "%ED%A0%80"])
def test_invalid_utf8_in_a_query_value_is_400_and_deletes_nothing(world, backend_, encoded):
    ddl = {
        "sqlite": "CREATE TABLE t (id integer PRIMARY KEY, title text)",
        "postgres": "CREATE TABLE t (id serial PRIMARY KEY, title text)",
        "mysql": "CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY, title text)",
    }[backend_]
    client, sql = world(backend_, [ddl])
    replacement = "\ufffd" * (1 if encoded != "%ED%A0%80" else 3)
    assert client.post("/t", [{"title": replacement}, {"title": "\ufffd\ufffd"}, {"title": "x"}]).status == 200
    before = sql("SELECT count(*) FROM t")[0][0]
    reply = client.request("DELETE", "/t", f"title=eq.{encoded}")
    assert_4xx(reply, 400)  # today: 200 "successfully deleted 1 rows"
    assert sql("SELECT count(*) FROM t")[0][0] == before
    assert_4xx(client.get("/t", f"title=eq.{encoded}"), 400)


# -- G. PostgreSQL RPC: arguments reach the database unchecked, results break the encoder --
#
# A function argument is bound as text without the checks values.py applies to columns:
# numeric 'NaN' / 'Infinity' / '1e5000', float8 'NaN' / '-Infinity' and a jsonb '1e5000' are
# accepted by PostgreSQL and echoed back; psycopg loads Decimal('NaN') / float nan (jsonout:
# allow_nan=False → ValueError),
# Decimal('Infinity') (int() → OverflowError), a 5001-digit integer (past Python's
# 4300-digit str→int limit: ValueError while loading the jsonb). Each is "unhandled
# ValueError/OverflowError" → 500. Class: two input paths (columns, RPC arguments) with
# checks on one. Rule: RPC arguments go through the same Kind-typed conversion as column
# values (the function's argument types give the Kind), and jsonout never raises on a
# database value (see A, C).
RPC_DDL = [
    "CREATE FUNCTION echo_n(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT x'",
    "CREATE FUNCTION echo_j(x jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS 'SELECT x'",
    "CREATE FUNCTION echo_f(x double precision) RETURNS double precision LANGUAGE sql IMMUTABLE AS 'SELECT x'",
]


@pytest.mark.parametrize(
    ("function", "value"),
    [
        ("echo_n", "NaN"),
        ("echo_n", "Infinity"),
        ("echo_n", "1e5000"),
        ("echo_j", "1e5000"),
        ("echo_j", "[-1e5000]"),
        ("echo_f", "NaN"),
        ("echo_f", "-Infinity"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_postgres_rpc_argument_out_of_range_is_400_not_500(world, function, value, method):
    client, _ = world("postgres", RPC_DDL, rpc_functions=("echo_n", "echo_j", "echo_f"))
    if method == "GET":
        reply = client.get(f"/rpc/{function}", {"x": value})
    else:
        reply = client.post(f"/rpc/{function}", {"x": value})
    assert reply.status != 500, reply.body[:300]  # today: 500
    if reply.status != 200:
        assert_4xx(reply, 400)


# -- H. HEAD / is 405 while GET / is 200 --------------------------------------------------
#
# docs/postgrest-headers.md: HEAD answers "the status and headers of the same GET". The
# root (`GET /` → 200) answers HEAD with 405 method not allowed (tables answer HEAD).
# Class: HEAD wired per route instead of derived from GET. Rule: the router answers HEAD
# for every route that has GET, by running GET and dropping the body.
def test_head_on_the_root_answers_like_get(world):
    client, _ = world("sqlite", [])
    assert client.get("/").status == 200
    assert client.request("HEAD", "/").status == 200  # today: 405


# -- What held (round 14) ------------------------------------------------------------------
#
# Column types on all three databases, by POST body, PATCH body and every filter operator
# (eq gt in like ilike is cs cd fts match imatch ov sl adj isdistinct) with values of the
# wrong type: BOOLEAN ("maybe", 2), BIGINT ±2**63, SMALLINT/INT/UNSIGNED overflow,
# NUMERIC(5,2) overflow, REAL/DOUBLE 1e308/3.5e38/5e-324/underflow, DATE year 1/9999/
# 2024-02-30/ISO week, TIME 24:00/23:59:60/838:59:59/with zone, TIMETZ ±15:59, TIMESTAMP and
# MariaDB TIMESTAMP 1969/2038, YEAR, UUID forms, JSON/JSONB with \u0000 (22P05 → 400),
# BYTEA/BLOB bad base64, VARCHAR(5) too long (bytes vs characters), ENUM/SET, BIT, CHECK,
# NOT NULL, FK and unique violations, generated columns (write refused 400), point/tsvector/
# xml/arrays — all 4xx or read back. Bulk inserts of 10k×7 and 70k×1 rows (no parameter
# limit hit: PG 65535, SQLite 32766). limit/offset negative, huge, non-integer, Unicode
# digits; page/page_size extremes; Range header extremes and garbage; Prefer garbage and
# duplicates; arrays with mixed keys, non-objects, empty; duplicate JSON keys; or=/and=/
# not.or nested 2000 deep; 3000-wide or; in.() with 7000 items; order= with 199 keys;
# embeds 50 deep; casts; repeated query keys; percent-encoding of NUL / bad escapes; long
# and non-ASCII headers (Authorization, Accept, Prefer, Content-Type); methods TRACE/
# CONNECT/OPTIONS/lowercase; odd paths. Real server (granian): pipelining (3 answers in
# order), Content-Length short/long/duplicate/negative/huge, TE+CL, bad chunk size,
# Expect: 100-continue, raw 0xFF in URL/headers, 100 KB header, 5000 headers (431),
# 160 KB URL (414), HTTP/0.9, /2.0, bare LF, obs-fold, NUL in path — no 500, server alive.


# -- I. PostgreSQL arrays: element values bypass every scalar check -------------------------
#
# An array column (double precision[], date[], timestamp[], interval[], inet[], int4range[])
# is Kind.OTHER: its text goes to PostgreSQL unchecked. Elements the scalar kinds refuse
# are stored and break every later read of the table: '{NaN,Infinity}' in a float8[] →
# 500 (jsonout allow_nan=False: ValueError), '{infinity}' in date[]/timestamp[] and
# '{"3000000 years"}' in interval[] → 400 on every read (psycopg DataError while loading),
# '{1.2.3.4}' in inet[] / '{"[1,2)"}' in int4range[] → 500 (TypeError, see A).
# Class: "values written must be readable back" enforced per Kind, with containers (arrays)
# and unknown types exempt. Rule: an array of a known element type gets the element's
# Kind checks (or arrays and other types are loaded as text and never decoded by the
# driver), so nothing stored through the API fails to load.
PG_ARRAYS = [
    ("double precision[]", "{NaN,Infinity}"),
    ("double precision[]", "{-infinity}"),
    ("date[]", "{infinity}"),
    ("timestamp[]", "{-infinity}"),
    ("interval[]", '{"3000000 years"}'),
    ("inet[]", "{1.2.3.4}"),
    ("int4range[]", '{"[1,2)"}'),
]


@pytest.mark.parametrize(("sqltype", "value"), PG_ARRAYS, ids=[f"{t}={v}" for t, v in PG_ARRAYS])
def test_postgres_array_written_through_the_api_reads_back(world, sqltype, value):
    client, sql = world("postgres", [f"CREATE TABLE arrs (id serial PRIMARY KEY, v {sqltype})"])
    written = client.post("/arrs", {"v": value})
    if written.status != 200:
        assert_4xx(written, 400)
        assert sql("SELECT count(*) FROM arrs") == [(0,)]
        return
    reply = client.get("/arrs", "")
    assert reply.status == 200, reply.body[:300]  # today: 500 or 400 on every read


# -- J. SQLite: a column of unknown kind with NUMERIC affinity stores infinity -------------
#
# dialects/sqlite.py gives a declared type it does not recognise (MONEY, NUMBER, ANY, …)
# Kind.OTHER, so the text is bound unchecked; SQLite's NUMERIC affinity (every unknown
# type name without INT/CHAR/CLOB/TEXT/BLOB/REAL/FLOA/DOUB) converts the text '1e999' to
# the REAL +Inf. Every later read of the table is a 500 (jsonout: Out of range float).
# Class: the SQLite affinity rules decide the stored type, rls's Kind table does not.
# Rule: derive the Kind from SQLite's own affinity rules (NUMERIC affinity → DECIMAL checks
# on write), or check every value read back for finiteness and refuse the write.
@pytest.mark.parametrize("sqltype", ["MONEY", "NUMBER", "ANY"])
@pytest.mark.parametrize("value", ["1e999", "-1e999"])
def test_sqlite_numeric_affinity_column_of_unknown_kind_reads_back(world, sqltype, value):
    client, sql = world("sqlite", [f"CREATE TABLE prices (id integer PRIMARY KEY, amount {sqltype})"])
    written = client.post("/prices", {"amount": value})
    if written.status != 200:
        assert_4xx(written, 400)
        assert sql("SELECT count(*) FROM prices") == [(0,)]
        return
    reply = client.get("/prices", "")
    assert reply.status == 200, reply.body[:300]  # today: 500


# -- K. the real server blanks a header holding a non-ASCII byte: tx=rollback commits ------
#
# granian hands a header whose value is not visible ASCII (obs-text, which RFC 9110 still
# allows in a field value) to the WSGI app as the empty string ('HTTP_PREFER': ''). rls
# reads an empty Prefer as "no preferences", so ``Prefer: tx=rollback\x80`` commits the
# insert (201, row written), and ``Prefer: handling=strict, max-affected=1\x80`` updates
# every matching row; an Accept of ``application/vnd.pgrst.object+json\x80`` is answered
# as a JSON array. The docs (rls/http/prefer.py): "a tx=rollback that is not understood
# must not commit". (Range with such a byte is a 400: an empty Range fails to parse.)
# Class: a lossy transport layer turning a malformed safety-relevant header into an
# absent one. Rule: a header that is present but empty (how granian reports an undecodable
# value) is invalid for Prefer, Accept, Range, Content-Type and Authorization — answer 400
# — or read the raw header bytes and refuse non-ASCII values.
def _raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out
    finally:
        sock.close()


@pytest.fixture
def live_items(tmp_path):
    import sqlite3

    from tests.test_availability import Server

    path = tmp_path / "items.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)")
        conn.executemany("INSERT INTO items (name, qty) VALUES (?, ?)", [("a", 1), ("b", 1)])
    server = Server(f"sqlite:///{path}")

    def rows() -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT id, name, qty FROM items ORDER BY id").fetchall()

    yield server, rows
    server.stop()


@pytest.mark.parametrize("prefer", [b"tx=rollback\x80", b"tx=rollback, return=minimal\xff", b"\xe9tx=rollback"])
def test_live_prefer_with_a_non_ascii_byte_never_commits(live_items, prefer):
    server, rows = live_items
    before = rows()
    head = b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nPrefer: " + prefer + b"\r\n"
    reply = _raw_request(server.port, head, b'{"name": "c", "qty": 1}')
    assert rows() == before, reply[:200]  # today: 201 Created and the row committed


def test_live_max_affected_with_a_non_ascii_byte_never_updates_past_it(live_items):
    server, rows = live_items
    before = rows()
    head = (
        b"PATCH /items?qty=eq.1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Prefer: handling=strict, max-affected=1\x80\r\n"
    )
    reply = _raw_request(server.port, head, b'{"qty": 2}')
    assert rows() == before, reply[:200]  # today: 204 and both rows updated


def test_live_accept_object_with_a_non_ascii_byte_is_not_an_array(live_items):
    server, _ = live_items
    head = b"GET /items HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.pgrst.object+json\x80\r\n"
    reply = _raw_request(server.port, head)
    status = int(reply.split(b" ", 2)[1])
    assert status in (400, 406), reply[:200]  # today: 200 with the JSON array of every row


# -- L. response amplification: one stored value read back 199 times per row, no bound ----
#
# Nothing bounds the size of an answer. A client that may write one 1 MB text value reads
# it back under 199 aliases (``select=a0:v,a1:v,…``, within max_select_items) — a 199 MB
# JSON body built in memory (~0.9–1 GB resident in the worker, 1–2 s) from one GET of
# a few KB; at the default max_body_bytes (10 MiB) one request needs ~2 GB of body and ~10 GB
# of memory: the worker is OOM-killed. A to-one embed does the same across rows: every
# child row repeats its parent's value (``/child?select=id,p:parent(v)``), times the page
# size (1000). Class: limits on the request's parts (URL, body, select items, page size)
# whose product — the answer — is unbounded. Rule: bound the answer itself: count bytes
# while encoding rows (or stream them) and stop at a ``max_response_bytes`` with a 4xx/503
# naming the setting, checked before the whole body exists in memory.
RESPONSE_LIMIT = 32 * 1024 * 1024


def _text_table(backend: str, name: str, extra: str = "") -> str:
    key = {"sqlite": "integer PRIMARY KEY", "postgres": "serial PRIMARY KEY", "mysql": "int AUTO_INCREMENT PRIMARY KEY"}
    text = "longtext" if backend == "mysql" else "text"
    return f"CREATE TABLE {name} (id {key[backend]}, v {text}{extra})"


def _bounded(reply: Reply) -> None:
    if reply.status >= 400:
        assert_4xx(reply)
        assert "max_" in reply.json["msg"], reply.json  # names the setting
    else:
        assert len(reply.body) <= RESPONSE_LIMIT, f"{len(reply.body) / 1e6:.0f} MB answer"


@pytest.mark.parametrize("backend_", ["sqlite", "postgres", "mysql"])
def test_one_stored_value_under_many_aliases_gives_a_bounded_answer(world, backend_):
    client, _ = world(backend_, [_text_table(backend_, "big")])
    assert client.post("/big", {"v": "x" * 250_000}).status == 200
    reply = client.get("/big", "select=" + ",".join(f"a{i}:v" for i in range(199)))
    _bounded(reply)  # today: 200 with a 50 MB body (199 copies)


@pytest.mark.parametrize("backend_", ["sqlite", "postgres", "mysql"])
def test_a_to_one_embed_repeating_a_large_parent_gives_a_bounded_answer(world, backend_):
    parent = _text_table(backend_, "parent")
    fk = ", parent_id int, CONSTRAINT child_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES parent (id)"
    child = _text_table(backend_, "child", fk)
    client, _ = world(backend_, [parent, child])
    assert client.post("/parent", {"v": "x" * 50_000}).status == 200
    assert client.post("/child", [{"parent_id": 1}] * 1000).status == 200
    reply = client.get("/child", "select=id,parent(v)&limit=1000")
    _bounded(reply)  # today: 200 with a 50 MB body (one 50 KB value, 1000 times)


# -- M. SQLite stores a date or time as the client spelled it ------------------------------
#
# values.py parses a DATE/DATETIME value (so "20240101", "2024-W01-1", "2024-01-01T23:00:00
# -05:00", "…Z", "20240102T040000" are all accepted — Python's fromisoformat), but the SQLite
# adapter binds the client's *text* (``text if text is not None else value.isoformat()``).
# PostgreSQL and MariaDB store the value: the same date in three spellings is one date there.
# On SQLite ``dt=eq.2024-01-01`` finds one of the three rows, "20240101" in a DATE column
# (NUMERIC affinity) becomes the integer 20240101 and reads back as a JSON number, and
# timestamps with an offset or in basic format sort and compare as text (a -05:00 value is
# missing from ``ts=gt.…``, which PostgreSQL and MariaDB answer on the UTC instant).
# Class: storing input text instead of the parsed value (two representations of one value).
# Rule: bind the canonical form of the parsed value (UTC, "YYYY-MM-DD HH:MM:SS[.ffffff]"),
# the same form the filters bind, never the client's spelling.
SQLITE_DATES = "CREATE TABLE days (id integer PRIMARY KEY, dt date, ts datetime)"


def test_sqlite_dates_in_other_iso_spellings_are_one_date(world):
    client, _ = world("sqlite", [SQLITE_DATES])
    assert client.post("/days", [{"dt": v} for v in ("2024-01-01", "20240101", "2024-W01-1")]).status == 200
    assert client.get("/days", "select=dt&dt=not.is.null").json == [{"dt": "2024-01-01"}] * 3  # today: 20240101 …
    assert len(client.get("/days", "select=id&dt=eq.2024-01-01").json) == 3  # today: 1 (PostgreSQL, MariaDB: 3)


def test_sqlite_timestamps_with_offsets_compare_as_instants(world):
    client, _ = world("sqlite", [SQLITE_DATES])
    spellings = ["2024-01-01T23:00:00-05:00", "2024-01-02 03:00:00", "2024-01-02T04:00:00Z", "20240102T040000"]
    assert client.post("/days", [{"ts": v} for v in spellings]).status == 200
    later = client.get("/days", "select=id&ts=gt.2024-01-02T03:30:00").json
    assert sorted(r["id"] for r in later) == [1, 3, 4]  # today: [3, 4] (PostgreSQL, MariaDB: 1, 3, 4)


# -- N. the request's Content-Type is ignored: any body is read as JSON --------------------
#
# A write whose Content-Type is text/plain, application/x-www-form-urlencoded or
# multipart/form-data — the "simple" types a browser sends cross-site without a CORS
# preflight — is parsed as JSON and written (201/200), as is a text/csv body (which
# PostgREST reads as CSV) or an application/json body declared charset=utf-16. A cross-site
# form can therefore write wherever the anonymous role may; a CSV client gets a confusing
# "not valid JSON". Class: input accepted by sniffing rather than by declaration. Rule: an
# allow-list of request media types per route (application/json, with charset utf-8 or
# none; the PostgREST variants rls supports), anything else a 415 in the documented shape.
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/csv",
     "application/json; charset=utf-16"],
)  # fmt: skip
def test_a_body_of_another_media_type_is_refused_and_writes_nothing(world, content_type):
    client, sql = world("sqlite", ["CREATE TABLE notes (id integer PRIMARY KEY, body text)"])
    reply = client.request("POST", "/notes", body=b'{"body": "x"}', headers={"Content-Type": content_type})
    assert_4xx(reply)  # today: 200 "successfully inserted 1 rows"
    assert sql("SELECT count(*) FROM notes") == [(0,)]
