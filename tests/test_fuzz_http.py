"""The HTTP fuzzer's slice in the normal suite: a few hundred generated requests per
database, no server errors, every error in the documented shape, nothing written by an
error, no row shown against the policy. ``make fuzz-http`` runs 100,000 or more.

``FUZZ_REQUESTS`` (per database) and ``FUZZ_SEED`` (a random run instead of the fixed one)
come from the environment.
"""

from __future__ import annotations

import json
import os

from rls.database import Database
from tests import dataset, fuzz_http
from tests.client import Reply


def test_generated_requests_never_break_the_server(backend, make_database_url):
    url = make_database_url(backend)
    db = Database(url)
    try:
        dataset.create_tables(db)
        dataset.reset_rows(db)
    finally:
        db.close()
    count = int(os.environ.get("FUZZ_REQUESTS", "340"))
    seed = os.environ.get("FUZZ_SEED")
    report = fuzz_http.run(url, count, seed=int(seed) if seed else None)
    print(f"\nfuzz-http {backend}: {report.summary()}")
    for kind, examples in report.findings.items():
        print(f"  {kind}:")
        for example in examples:
            print(f"    {example}")
    assert report.requests >= count
    assert report.findings == {}


def test_the_fuzzer_notices_each_kind_of_breach(make_database_url):
    """Guard against a vacuous fuzzer: every check fires on a reply that breaks it."""
    url = make_database_url("sqlite")
    db = Database(url)
    dataset.create_tables(db)
    dataset.reset_rows(db)
    db.close()
    fuzzer = fuzz_http.Fuzzer(url)
    try:
        request = fuzz_http.Request("GET", "/todos", "", None, {}, "alice", True)
        alice = fuzzer.identities.user_ids["alice"]
        fuzzer.check(request, Reply(500, {}, b"oops"), None, "alice")
        before = fuzz_http.fingerprint(fuzzer.db)
        fuzzer.db.run(lambda s: s.execute("DELETE FROM stock WHERE id = 2"), write=True)
        fuzzer.check(request, Reply(400, {}, b'{"msg": "m", "code": "c", "status": 400}'), before, "alice")
        fuzzer.check(request, Reply(200, {}, json.dumps([{"id": 1, "user_id": alice + 1}]).encode()), None, "alice")
        assert set(fuzzer.report.findings) == {"server_error", "error_shape", "wrote_on_error", "policy"}
    finally:
        fuzzer.close()
