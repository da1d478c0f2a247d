"""A differential fuzzer: the query guard against hand-written native PostgreSQL RLS.

``make fuzz`` (10,000 cases; ``FUZZ_CASES``/``FUZZ_SEED`` override) and the CI slice in
tests/test_guard_fuzz.py. Each case is one generated statement (SELECT or DML, in the
common subset of PostgreSQL, MariaDB and SQLite, with per-database variants where the
syntax differs) and one of seven users (anonymous, users in teams, an admin, users with
claims, a user with a string id). It runs

- natively on PostgreSQL under ``FORCE ROW LEVEL SECURITY`` as a non-owner role, with
  policies written by hand in :mod:`tests.fuzz.world` (the oracle);
- through ``rls.connect`` + the guard on PostgreSQL, MariaDB and SQLite (as the owner, no
  native policies);
- raw, as the owner, on every database: a statement that behaves differently raw on
  MariaDB or SQLite than on PostgreSQL is not portable and is not compared there.

Rows compare as sorted multisets; DML compares every table afterwards (each case runs in
a transaction that is rolled back). Verdicts: :mod:`tests.fuzz.oracle`. Mismatches go to
``fuzz-report.jsonl`` (statement, params, user, guarded SQL, both outcomes, database).

Deliberate differences allowed for (the guard is stricter):

- **Deny instead of filter.** A statement that uses a (table, action) whose policy folds
  to FALSE for the user's class (anonymous on an owner policy, a non-admin on an
  admin-only one) is denied as a whole (DESIGN.md §3), where native RLS returns the rows
  it can (an outer join's NULL side, ``COUNT(*) = 0``) or changes nothing.
- **Upsert on a hidden row.** ``INSERT … ON CONFLICT DO UPDATE … WHERE`` whose conflicting
  row the user's update policy hides is denied by the guard even when the DO UPDATE's own
  WHERE is false, where native PostgreSQL may skip it silently. (Measured on PostgreSQL
  15.20: native RLS checks the UPDATE policy's USING on the conflicting row *before* the
  WHERE and fails with "violates row-level security policy (USING expression)" even for
  ``WHERE false`` — so the allowance has not fired; a guard that answers OK there, i.e.
  evaluates the WHERE on the hidden row, is reported as a mismatch.)
- **No policy is a refusal.** A (table, action) with no policy at all is refused by the
  guard (``Refused``), where native RLS denies silently; refusals are counted, not
  compared.
"""
