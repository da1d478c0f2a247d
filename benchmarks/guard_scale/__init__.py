"""The guard's cost at scale (issue 9): a 1,000,000-row ``orders`` table on PostgreSQL,
MariaDB and SQLite, each query timed hand-written, under native RLS (PostgreSQL) and through
the guard; and the guard's rewrite cost, cold over a generated corpus and cached.

``make bench-guard`` (``python -m benchmarks.guard_scale``) runs it, writes
``benchmarks/results/guard_scale.json`` and the "Guard at scale" section of
``benchmarks/RESULTS.md``.
"""
