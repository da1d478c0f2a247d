"""The verdict on one (statement, user, database): the guard's outcome against native
PostgreSQL RLS.

- ``match``: same status, same rows (as sorted multisets), same tables afterwards.
- ``match_denied``: the guard denied and native RLS returned no row and changed nothing
  (it filters silently where the guard refuses the whole statement), or the statement
  uses a (table, action) whose policy folds to FALSE for this user (deny by design).
- ``match_rejected``: both rejected the write, native RLS with a unique or not-null
  violation, the guard with that or a denial (which comes first depends on row order).
- ``known_difference``: the guard's two documented differences from native RLS on
  upserts (README, "The query guard"): a row ``ON CONFLICT DO UPDATE`` updates must pass
  the create policy on its final values too (the guard denies where PostgreSQL, which
  checks the proposed row, allows); ``DO NOTHING`` does not check a conflicting proposed
  row (the guard writes nothing and says so; PostgreSQL denies).
- ``refused``: the guard will not run the statement (not a mismatch; counted).
- ``timeout``: the guarded statement ran out of its time limit (counted, not compared).
- ``nonportable`` / ``invalid``: the statement itself behaves differently on this
  database than on PostgreSQL, or does not run on PostgreSQL (a generator limit).
- ``mismatch:<class>``: anything else — the test fails.
"""

from __future__ import annotations

from tests.fuzz.backends import Outcome
from tests.fuzz.generator import Case
from tests.fuzz.world import USERS, denied_by_design


def verdict(case: Case, native: Outcome, guard: Outcome, baseline: Outcome | None = None) -> str:
    """``baseline``: the native outcome's tables before the statement (unchanged state)."""
    if guard.status == "refused":
        return "refused"
    if guard.status == "timeout":  # slow, not wrong: counted and reported, not a mismatch
        return "timeout"
    if guard.same(native):
        return "match"
    rejected = ("conflict", "constraint")
    if (native.status in rejected and (guard.status in rejected or guard.status == "denied")) or (
        native.status == "denied" and guard.status in rejected
    ):
        # Both refused to write: which error comes first depends on the row order, and on
        # whether a row is judged before (native) or after (RETURNING) its key is checked.
        return "match_rejected"
    unchanged = native.tables is None or baseline is None or native.tables == baseline.tables
    if guard.status == "denied":
        if native.status == "denied" or (native.status == "ok" and not native.rows and unchanged):
            return "match_denied"
        if denied_by_design(USERS[case.user], case.uses):
            return "match_denied"
        if ("upsert_update" in case.features or "upsert_update_where" in case.features) and native.status == "ok":
            return "known_difference"
        return "mismatch:guard_denies_native_allows"
    if guard.status == "error":
        return "mismatch:guard_sql_fails"
    if guard.status != "ok" or native.status != "ok":
        if native.status == "denied" and guard.status == "ok" and "upsert_nothing" in case.features and unchanged:
            return "known_difference"
        if native.status == "denied" and guard.status == "ok":
            return "mismatch:guard_allows_native_denies"
        return f"mismatch:status_{guard.status}_vs_native_{native.status}"
    if guard.tables != native.tables:
        return "mismatch:tables_differ"
    g, n = set(guard.rows or ()), set(native.rows or ())
    if g - n:
        return "mismatch:guard_rows_extra"
    if n - g:
        return "mismatch:guard_rows_missing"
    return "mismatch:row_counts_differ"
