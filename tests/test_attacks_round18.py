"""Round-18 attacks on the HTTP server as it is after the round-14..17 fixes, on the real
databases. Each test asserts the secure behaviour: it fails on main today and passes once
fixed. What held is listed at the end of the module.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_policy_http import World, worlds_fixture


def _events(world: World) -> None:
    timestamp = "TIMESTAMP" if world.db.dialect.name == "postgres" else "DATETIME"
    world.sql(f"CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER, ts {timestamp})")
    world.sql("CREATE TABLE slots (id INTEGER PRIMARY KEY, user_id INTEGER, d DATE, t TIME)")
    world.db.refresh_schema()


worlds = worlds_fixture(_events)


@pytest.fixture
def ev(worlds: Any, backend: str) -> World:
    world = worlds(backend)
    world.sql("DELETE FROM events")
    return world


# -- A. SQLite: a policy's date-time literal is compared as text with the canonical form ------
#
# Since round 14 SQLite stores a DATETIME in one canonical text, 'YYYY-MM-DD HH:MM:SS' (UTC,
# a space between date and time), "so text order is time order" — and request filters bind
# the same form. A *policy's* literal is not canonicalised: the ISO 8601 spelling
# '2024-06-01T00:00:00' (a 'T', the form every API client and the docs' JSON bodies use) is
# compared as text with the stored '2024-06-01 12:00:00', and ' ' < 'T': every instant of
# June 1st is "before" the bound. ``ts < '2024-06-01T00:00:00'`` lets a user create (and
# read) rows of the whole next day; PostgreSQL and MariaDB compare instants and refuse
# them. The same for a literal with fractional seconds ('… 00:00:00.000': the stored
# '… 00:00:00' is shorter, so "less") or an offset/Z.
# Class: a policy constant compared with a column whose storage is a text *encoding* of
# another type, in the policy's spelling rather than the column's encoding.
# Rule: every literal compared with a column of a kind that has an encoding (DATE,
# DATETIME, TIME, UUID, DECIMAL on SQLite) is parsed at policy compile time and rewritten to
# that canonical encoding (as principal claims already are, typed_value/_PARSERS), or the
# policy is refused; or compare through the database's own date function on both sides.
CASES = [  # (the policy's bound, a value at or after it)
    ("2024-06-01T00:00:00", "2024-06-01T12:00:00"),
    ("2024-06-01 00:00:00.000", "2024-06-01T00:00:00"),
    ("2024-06-01T00:00:00Z", "2024-06-01T12:00:00"),
]


# A bound with an offset is each database's own reading: SQLite only.
BOUNDS = [
    pytest.param(b, bound, value, id=f"{b}-{bound}")
    for b in ("sqlite", "postgres", "mysql")
    for bound, value in CASES
    if b == "sqlite" or not bound.endswith("Z")
]


@pytest.mark.parametrize(("backend", "bound", "value"), BOUNDS)
def test_a_datetime_policy_bound_holds_on_create(ev, bound, value, backend):
    policy = f"user_id = auth_user.id AND ts < '{bound}'"
    ev.set_policies("events", ("read", policy), ("create", policy))
    reply = ev.alice.request("POST", "/events", json={"id": 1, "user_id": ev.alice_id, "ts": value})
    stored = ev.sql("SELECT id FROM events")
    assert reply.status == 403 and stored == [], f"{reply.status} {reply.body!r}: a row at {value} stored"


@pytest.mark.parametrize(("bound", "value"), CASES[:2])
def test_a_datetime_policy_bound_holds_on_read(ev, bound, value):
    ev.sql("INSERT INTO events (id, user_id, ts) VALUES (1, ?, '2024-05-31 12:00:00')", ev.alice_id)
    ev.sql("INSERT INTO events (id, user_id, ts) VALUES (2, ?, ?)", ev.alice_id, value.replace("T", " "))
    ev.set_policies("events", ("read", f"ts < '{bound}'"))
    reply = ev.alice.get("/events", "select=id&order=id")
    assert reply.status == 200, reply.body
    assert [row["id"] for row in reply.json] == [1], "a row after the policy's bound is shown"


# The same for DATE and TIME: SQLite stores value.isoformat() ('09:00:00', '2024-07-01');
# a policy literal in any other spelling PostgreSQL and MariaDB read as the same value
# ('9:00', '09:00', '2024-6-1', '09:00:00.000000') is compared as text: ``t < '9:00'``
# admits 10:00 ('1' < '9'), ``d < '2024-6-1'`` admits July, ``t <> '09:00'`` (everything
# but 9 o'clock) admits 9 o'clock.
SLOT_CASES = [
    ("t < '9:00'", {"t": "10:00:00"}),
    ("d < '2024-6-1'", {"d": "2024-07-01"}),
    ("t < '09:00:00.000000'", {"t": "09:00:00"}),
    ("t <> '09:00'", {"t": "09:00:00"}),
]


@pytest.mark.parametrize(("condition", "body"), SLOT_CASES)
def test_a_date_and_time_policy_literals_hold_on_create(ev, condition, body):
    ev.sql("DELETE FROM slots")
    policy = f"user_id = auth_user.id AND {condition}"
    ev.set_policies("slots", ("read", policy), ("create", policy))
    reply = ev.alice.request("POST", "/slots", json={"id": 1, "user_id": ev.alice_id, **body})
    stored = ev.sql("SELECT id FROM slots")
    # 403, or 400 where rls cannot read the literal as a value of the column (the policy is
    # invalid: nothing passes it).
    assert reply.status in (400, 403) and stored == [], (
        f"{reply.status} {reply.body!r}: {body} stored under {condition}"
    )


# -- B. A write's Range header is ignored: every matching row is changed ----------------------
#
# Round 14 made writes refuse the query parameters that narrow a read (limit, offset, order,
# count: "paging, order and counts apply to reads only"), and /rpc and /auth refuse a Range
# header ("the headers it would ignore"). A table write still takes ``Range: 0-0`` — the
# header form of ``limit=1`` — and ignores it: ``DELETE /events?user_id=eq.<me>`` with
# ``Range: 0-0`` deletes *all* the caller's rows and answers 204 (or, with
# return=representation, every row), where the client asked for one. PostgREST never
# applies Range to a mutation either; a client (or a proxy adding Range to "page" every
# request) written against the read semantics loses rows it never named.
# Class: a request part that narrows a statement accepted on one route and silently
# dropped there (a deny-list per route of what is refused).
# Rule: each route declares the headers and parameters it honours (an allow-list); any
# other narrowing header (Range, Range-Unit) or parameter present is a 400 before the
# statement runs — the same table for reads, writes, /rpc and /auth.
@pytest.mark.parametrize("method", ["DELETE", "PATCH"])
@pytest.mark.parametrize("prefer", [None, "return=representation"])
def test_b_a_write_does_not_ignore_a_range_header(ev, method, prefer):
    for i in (1, 2, 3):
        ev.sql("INSERT INTO events (id, user_id, ts) VALUES (?, ?, '2024-05-31 12:00:00')", i, ev.alice_id)
    ev.set_policies("events", ("all", "user_id = auth_user.id"))
    headers = {"Range": "0-0", **({"Prefer": prefer} if prefer else {})}
    body = {"ts": "2025-01-01T00:00:00"} if method == "PATCH" else None
    reply = ev.alice.request(method, "/events", f"user_id=eq.{ev.alice_id}", json=body, headers=headers)
    if method == "DELETE":
        untouched = len(ev.sql("SELECT id FROM events"))
    else:
        untouched = len(ev.sql("SELECT id FROM events WHERE ts < '2025-01-01'"))
    refused = 400 <= reply.status < 500 and untouched == 3
    assert refused or untouched == 2, f"{reply.status} {reply.body!r}: Range 0-0 changed {3 - untouched} rows"


# -- C. SQLite: a TIME with an offset is stored with it, not in the canonical form -----------
#
# The round-14 canonical form covers DATETIME (UTC, offset applied); a TIME is stored as
# ``value.isoformat()``, and ``dt.time.fromisoformat`` keeps an offset: '09:00:00+05:00'
# and '09:00:00Z' are stored as '09:00:00+05:00' / '09:00:00+00:00'. As text they differ
# from '09:00:00', so ``t <> '09:00:00'`` (every slot but nine) admits nine o'clock, and
# the filter ``t=eq.09:00:00`` no longer finds the row. PostgreSQL's and MariaDB's TIME
# columns drop the offset (the value is 09:00:00) and refuse the row.
# Class: a value's text encoding on SQLite chosen per spelling for some kinds (the
# canonicalisation an allow-list of kinds handled one by one).
# Rule: every kinded value bound to SQLite goes through one canonical encoder per kind
# (TIME: offset refused, or dropped as the other databases do; fractional seconds always
# 6 digits or never), with a test that each kind's encodings of equal values are equal.
@pytest.mark.parametrize("value", ["09:00:00+05:00", "09:00:00Z"])
def test_c_a_time_with_an_offset_is_not_another_time(ev, value):
    ev.sql("DELETE FROM slots")
    policy = "user_id = auth_user.id AND t <> '09:00:00'"
    ev.set_policies("slots", ("read", "user_id = auth_user.id"), ("create", policy))
    reply = ev.alice.request("POST", "/slots", json={"id": 1, "user_id": ev.alice_id, "t": value})
    stored = ev.sql("SELECT id FROM slots")
    if reply.status == 400:  # refused as a value: no row either
        assert stored == []
        return
    assert reply.status == 403 and stored == [], f"{reply.status} {reply.body!r}: {value} stored past t <> '09:00:00'"


# -- What held (round 18) ---------------------------------------------------------------------
# - max_response_bytes never counts hidden rows: a hidden to-one parent of 5 KB under a 2 KB
#   limit is null (JSON, CSV, count=exact, !inner, nested parent→kids) on all three.
# - JSON paths over hidden rows: ``title->a`` / ``->>`` filters, order, aggregates, PATCH and
#   DELETE with a hidden non-JSON row answer the same as without it (SQLite, MariaDB);
#   PostgreSQL refuses -> on text for any rows (42883, no oracle).
# - HEAD: object/CSV Accept, 406 for many rows, count=exact, /rpc, / — no 500, no body.
# - Range/offset: 5-2 is 416, 20-digit bounds and offsets are 400; limit=0 with count=exact 206.
# - Writes refuse limit/offset/order/count/page/page_size (400, nothing written); Accept
#   object with 0 rows on PATCH is 406 and rolled back; CSV of 0 written rows is a header line.
# - Accept q=nan / q=1e999, Accept-Profile of another schema: 406; aggregates with CSV fine.
# - Duplicate output names (select=a:id,a:title) refused before CSV/JSON encoding (400).
# - MariaDB/PostgreSQL policies on DATE/TIME/DATETIME literals in any spelling compare
#   values (every case of A and C refused there).
