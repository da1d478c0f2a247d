"""The CI slice of the differential fuzzer (``make fuzz`` runs 10,000 cases): generated
SELECT and DML statements, seven users, the guard on PostgreSQL, MariaDB and SQLite
against hand-written native PostgreSQL RLS (see tests/fuzz/). Any mismatch fails, with
every mismatching case in the message."""

from __future__ import annotations

import json

import pytest

from rls import Policy
from tests.fuzz.backends import Backends
from tests.fuzz.runner import run
from tests.fuzz.world import POLICIES

SLICE = 300


def fresh_urls(make_database_url):
    """Empty databases: two PostgreSQL schemas (guarded, native), MariaDB, SQLite."""
    return {
        "postgres": make_database_url("postgres"),
        "native": make_database_url("postgres"),
        "mysql": make_database_url("mysql"),
        "sqlite": make_database_url("sqlite"),
    }


@pytest.fixture(scope="module")
def backends(make_database_url):
    b = Backends(fresh_urls(make_database_url))
    yield b
    b.close()


def test_the_guard_agrees_with_native_rls_on_generated_statements(backends):
    tally = run(backends, SLICE, seed=20261202, minimise_seconds=0)
    pg = tally.verdicts["postgres"]
    # The slice really compares: most cases run on PostgreSQL, many return rows.
    assert pg["match"] + pg["match_denied"] + sum(n for k, n in pg.items() if k.startswith("mismatch")) > SLICE // 2
    assert tally.verdicts["mysql"]["match"] > SLICE // 3 and tally.verdicts["sqlite"]["match"] > SLICE // 3
    classes = tally.summary()["mismatch_classes"]
    assert not classes, f"{sum(c['count'] for c in classes)} mismatches:\n" + "\n".join(
        json.dumps(c, default=str) for c in classes
    )


def test_the_fuzzer_catches_a_guard_that_shows_hidden_rows(make_database_url):
    # The same world, but the guard reads docs under a policy that admits everyone.
    leaky = [p if (p.table, p.action) != ("docs", "read") else Policy("docs", "read", "") for p in POLICIES]
    b = Backends(fresh_urls(make_database_url), policies=leaky)
    try:
        tally = run(b, 40, seed=7, minimise_seconds=0)
    finally:
        b.close()
    assert ("postgres", "mismatch:guard_rows_extra") in {(d, c) for d, c, _ in tally.classes}
