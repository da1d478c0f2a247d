"""The HTTP fuzzer's slice in the normal suite: a few hundred generated requests per
database, no server errors, every error in the documented shape, nothing written by an
error, no row shown against the policy. ``make fuzz-http`` runs 100,000 or more.

``FUZZ_REQUESTS`` (per database) and ``FUZZ_SEED`` (a random run instead of the fixed one)
come from the environment.
"""

from __future__ import annotations

import os

from rls.database import Database
from tests import dataset, fuzz_http


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
