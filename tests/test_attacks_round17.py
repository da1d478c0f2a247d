"""Round-17 attacks on the round-16 fixes (trigger/rule hazard, MariaDB subquery cache,
growth), on the real databases, as user 2 (``rls.connect``, tests/guardkit.py). Each test
asserts the secure behaviour: it fails on main today and passes once fixed.
"""

from __future__ import annotations

from typing import Any

import pytest

from rls import AuthUser, Policy
from rls.errors import Denied, Refused
from tests.guardkit import GuardHarness

OWNED = [Policy("gdocs", "all", "owner_id = auth_user.id")]
ROWS = {"gdocs": ("id, doc, owner_id, title", [(1, '{"owner": 1}', 1, "a"), (2, '{"owner": 2}', 2, "b")])}
GIVE_AWAY = [
    "UPDATE gdocs SET doc = '{\"owner\": 1}' WHERE id = 2",
    "INSERT INTO gdocs (id, doc, owner_id, title) VALUES (3, '{\"owner\": 1}', 2, 'c')",
]
OWNER_FROM_DOC = (
    "CREATE FUNCTION gdocs_owner() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "UPDATE gdocs SET owner_id = (NEW.doc::jsonb->>'owner')::int WHERE id = NEW.id "
    "AND owner_id IS DISTINCT FROM (NEW.doc::jsonb->>'owner')::int; RETURN NULL; END $$"
)


def _attempt(url: str, ddl: list[str], sql: str, rows: Any = ROWS, policies: list[Policy] = OWNED) -> GuardHarness:
    h = GuardHarness(url, ddl, rows, policies)
    h.reset()
    try:
        h.run(sql)
    except (Denied, Refused):
        pass
    return h


# -- A. PostgreSQL: a trigger on a partition or an inheritance child is not the table's ------
#
# Round 16 marks a table hazardous when pg_trigger has a (non-internal) trigger *on that
# relation*. A write to a partitioned table is routed to its partition and fires the
# partition's row triggers; an UPDATE of an inheritance parent also updates (and fires the
# triggers of) its children. A trigger created on one partition only (or on a child table)
# is not on the parent, so the parent has no hazard: user 2 writes their row through the
# parent, RETURNING shows owner 2, the partition's AFTER trigger stores owner 1 — the row is
# given to user 1 (round 15's I once more). Class: a hazard read from the written relation's
# own catalogue entry, not from every relation the write reaches. Rule: the hazard of a
# relation is the union over everything a write to it reaches — partitions (pg_inherits,
# recursively), inheritance children, views' tables — or writes to partitioned / inherited
# tables (relkind 'p', or any pg_inherits row) under a policy are refused.
PARTITIONED = [
    "CREATE TABLE gdocs (id INTEGER, doc TEXT, owner_id INTEGER, title TEXT) PARTITION BY RANGE (id)",
    "CREATE TABLE gdocs_all PARTITION OF gdocs FOR VALUES FROM (MINVALUE) TO (MAXVALUE)",
    OWNER_FROM_DOC,
    "CREATE TRIGGER gdocs_all_au AFTER INSERT OR UPDATE OF doc ON gdocs_all FOR EACH ROW EXECUTE FUNCTION gdocs_owner()",
]
INHERITED = [
    "CREATE TABLE gdocs (id INTEGER, doc TEXT, owner_id INTEGER, title TEXT)",
    "CREATE TABLE gdocs_archive () INHERITS (gdocs)",
    OWNER_FROM_DOC,
    "CREATE TRIGGER gdocs_archive_au AFTER UPDATE OF doc ON gdocs_archive FOR EACH ROW EXECUTE FUNCTION gdocs_owner()",
]


@pytest.mark.parametrize("sql", GIVE_AWAY, ids=["update", "insert"])
def test_postgres_a_partitions_trigger_cannot_give_a_row_away(make_database_url, sql):
    h = _attempt(make_database_url("postgres"), PARTITIONED, sql)
    try:
        assert [r[2] for r in h.table("gdocs")] in ([1, 2], [1, 2, 2])  # today: [1, 1] / [1, 1, 2]
    finally:
        h.close()


def test_postgres_an_inheritance_childs_trigger_cannot_give_a_row_away(make_database_url):
    rows = {"gdocs_archive": ROWS["gdocs"]}  # the rows live in the child; read through the parent
    h = _attempt(make_database_url("postgres"), INHERITED, GIVE_AWAY[0], rows=rows)
    try:
        assert [r[2] for r in h.table("gdocs")] == [1, 2]  # today: [1, 1]
    finally:
        h.close()
