"""Round-14 attacks on the query guard (``rls.connect`` / ``Guard.rewrite``), on the three
real databases, as user 2 of tests/test_guard_attacks.py's world. Each test asserts the
secure behaviour: it fails on main today and passes once fixed. What held is listed at the
end of the module.
"""

from __future__ import annotations

from typing import Any

import pytest

from rls import AuthUser, Guard, Policy
from rls.errors import Denied, InvalidValue, Refused
from tests.guardkit import GuardHarness
from tests.test_guard_attacks import harness_for  # noqa: F401  (the fixture, reused)

ATTACKER = AuthUser(id=2)


def outcome(h: GuardHarness, sql: str, user: AuthUser = ATTACKER) -> Any:
    """The rows through rls.connect, or the name of the error the statement raised."""
    try:
        return h.run(sql, user=user)
    except Exception as exc:  # an error is an answer the attacker sees
        return type(exc).__name__


# -- A. a scalar sub-query counts as leakproof "structure" ----------------------------------
#
# leakproof.py lists exp.Subquery in _STRUCTURE: a scalar sub-query standing as a condition
# (``WHERE (SELECT …)``), in a JOIN's ON, or as a column of a derived table tested with
# ``IS NULL`` is judged leakproof when its own parts are — so no policy sub-query is fenced.
# But a scalar sub-query raises when it returns more than one row (PostgreSQL: "more than one
# row returned by a subquery used as an expression", MariaDB 1242), and whether it does can
# depend on the outer row. Unfenced, the database evaluates it on rows the policy hides
# (PostgreSQL turns team_docs' EXISTS policy into a semi-join and filters by the user's
# condition first; MariaDB likewise): the error answers any question about a hidden row —
# here, that a team_docs row of team 10 exists (user 2 is no member) and what note 1 says —
# from a SELECT, a DELETE or an INSERT … SELECT alike. (Division by zero, casts and integer
# overflow in the same positions hold: they are not "structure", so the policy is fenced.)
# Native RLS (a security-barrier qual) never runs the sub-query on a hidden row.
# Class: an expression that can raise is allowed inside the leakproof set because its node
# type is "structure". Rule: leakproof is an allow-list of *operators over typed operands*;
# a sub-query is leakproof only as the operand of EXISTS / IN (which never raise on
# cardinality), never as a value.
SCALAR_ORACLES = [
    "SELECT id FROM team_docs WHERE (SELECT tg.id = 1 FROM tags tg WHERE team_docs.team_id = {v})",
    "SELECT s.id FROM (SELECT t.id, (SELECT tg.id FROM tags tg WHERE t.team_id = {v}) AS x FROM team_docs t) s "
    "WHERE s.x IS NULL",
    "SELECT t.id FROM team_docs t JOIN tags g ON (SELECT tg.id = 1 FROM tags tg WHERE t.team_id = {v})",
    "SELECT id FROM notes WHERE (SELECT tg.id = 1 FROM tags tg WHERE notes.body = 'team 10 plan: acquire X' AND {v} = 10)",
    "SELECT id FROM team_docs WHERE NOT (SELECT tg.id = 1 FROM tags tg WHERE team_docs.title = 'ten' AND {v} = 10)",
    "SELECT g.id FROM tags g WHERE EXISTS (SELECT 1 FROM team_docs x WHERE (SELECT tg.id = 1 FROM tags tg WHERE x.team_id = {v}))",
    "DELETE FROM notes WHERE EXISTS (SELECT 1 FROM team_docs x WHERE (SELECT tg.id = 1 FROM tags tg WHERE x.team_id = {v}))",
    "INSERT INTO tags (name) SELECT 'q' FROM team_docs x WHERE (SELECT tg.id = 1 FROM tags tg WHERE x.team_id = {v})",
]


@pytest.mark.parametrize("backend", ["postgres", "mysql"])  # SQLite: a scalar sub-query takes its first row
@pytest.mark.parametrize(
    "sql",
    SCALAR_ORACLES,
    ids=["where", "derived_is_null", "join_on", "hidden_text", "not", "exists", "delete", "insert_select"],
)
def test_scalar_sub_query_is_no_error_oracle_on_hidden_rows(harness_for, backend, sql):  # noqa: F811
    h = harness_for(backend)
    # 10: the team of a row user 2 may not read; 99: no row at all. The answers must agree.
    assert outcome(h, sql.format(v=10)) == outcome(h, sql.format(v=99))  # PG, MariaDB: BadRequest vs rows


# -- B. MariaDB UPDATE check recomputes the row instead of reading it: generated columns -------
#
# MariaDB has no UPDATE … RETURNING, so the guard judges an UPDATE's WITH CHECK in its WHERE,
# recomputing each *assigned* column (writes.py _new_values). A generated column the policy
# reads (here the owner, taken from a JSON document — a common way to index a document's
# tenant) is not assigned: the check reads its OLD value, while the row is stored with the
# new one. User 2 updates their own document so it names user 1 as owner: the row leaves
# user 2 and lands in user 1's data. Native PostgreSQL RLS (and the guard on PostgreSQL and
# SQLite, in RETURNING) judges the stored row and refuses.
# Class: a WITH CHECK that models the database's write instead of observing it — anything
# the database computes on write that the model omits (generated columns, ON UPDATE
# CURRENT_TIMESTAMP, triggers — the last one documented) escapes it. Rule: judge only what
# the model covers: refuse an UPDATE under a check policy on MariaDB when a column the
# policy reads is computed by the database on write (generated / ON UPDATE / trigger), as
# is done for ENUM and SET.
GENERATED_TABLES = (
    "CREATE TABLE gdocs (id INTEGER AUTO_INCREMENT PRIMARY KEY, doc VARCHAR(200), "
    "owner_id INTEGER AS (JSON_VALUE(doc, '$.owner')) STORED, title VARCHAR(50)) ENGINE=InnoDB",
)
GENERATED_ROWS = {"gdocs": ("id, doc, title", [(1, '{"owner": 1}', "a"), (2, '{"owner": 2}', "b")])}
GENERATED_POLICIES = [Policy("gdocs", "all", "owner_id = auth_user.id")]


@pytest.fixture
def generated(make_database_url):
    h = GuardHarness(make_database_url("mysql"), GENERATED_TABLES, GENERATED_ROWS, GENERATED_POLICIES)
    yield h.reset()
    h.close()


def test_mysql_update_cannot_give_a_row_away_through_a_generated_column(generated):
    h = generated
    try:
        h.run("UPDATE gdocs SET doc = '{\"owner\": 1}' WHERE id = 2")
    except (Denied, Refused):
        pass
    assert [r[2] for r in h.table("gdocs")] == [1, 2]  # today: [1, 1] — row 2 given to user 1


# The same model, a second way out: build_stored casts a CHAR column's value to CHAR, a
# FLOAT's to DOUBLE and a YEAR's to SIGNED, but MariaDB strips a CHAR's trailing spaces
# ('approved ' is stored as 'approved': a deny-list check such as "users cannot approve
# their own request", ``status <> 'approved'``, passes on 'approved ' and the row is stored
# approved), keeps FLOAT in single precision (99.999999 → 100.0) and stores a two-digit
# YEAR as 20xx (5 → 2005). INSERT, judged in RETURNING, is denied; the UPDATE stores a row
# its WITH CHECK rejects.
STORED_TYPES = {
    "char": (
        "CREATE TABLE scores (id INTEGER AUTO_INCREMENT PRIMARY KEY, owner_id INTEGER, v CHAR(10)) ENGINE=InnoDB",
        "draft",
        "v <> 'approved'",
        "'approved '",
    ),
    "float": (
        "CREATE TABLE scores (id INTEGER AUTO_INCREMENT PRIMARY KEY, owner_id INTEGER, v FLOAT) ENGINE=InnoDB",
        1.0,
        "v < 100",
        "99.999999",
    ),
    "year": (
        "CREATE TABLE scores (id INTEGER AUTO_INCREMENT PRIMARY KEY, owner_id INTEGER, v YEAR) ENGINE=InnoDB",
        1990,
        "v < 2000",
        "5",
    ),
}


@pytest.mark.parametrize("kind", sorted(STORED_TYPES))
def test_mysql_update_check_judges_the_value_as_stored(make_database_url, kind):
    ddl, start, check, value = STORED_TYPES[kind]
    policies = [
        Policy("scores", "read", "owner_id = auth_user.id"),
        Policy("scores", "update", f"owner_id = auth_user.id AND {check}"),
    ]
    h = GuardHarness(make_database_url("mysql"), (ddl,), {"scores": ("id, owner_id, v", [(1, 2, start)])}, policies)
    try:
        h.reset()
        try:
            h.run(f"UPDATE scores SET v = {value} WHERE id = 1")
        except (Denied, Refused):
            pass
        stored_ok = h.db.run(lambda s: s.execute(f"SELECT {check} FROM scores").rows[0][0])
        assert stored_ok == 1  # today: 0 — the stored row (100.0 / 2005) fails the update check
    finally:
        h.close()


@pytest.mark.parametrize(
    ("value", "stored"),
    [("'3.5'", None), ("'-2.5'", None), ("'1e3'", None), ("2.5e0", 2), ("3.4", 3), ("3", 3), ("7", None)],
)
def test_mysql_update_stores_the_value_its_check_judged(make_database_url, value, stored):
    """The contrast of B: on an integer column the SET stores the very cast the check
    judged (MariaDB would store '3.5' as 4; the cast of a string with a fraction is an
    error in strict mode) — what passes is what is kept, or nothing is written."""
    ddl = "CREATE TABLE scores (id INTEGER AUTO_INCREMENT PRIMARY KEY, owner_id INTEGER, v INTEGER) ENGINE=InnoDB"
    policies = [
        Policy("scores", "read", "owner_id = auth_user.id"),
        Policy("scores", "update", "owner_id = auth_user.id AND v < 4"),
    ]
    h = GuardHarness(make_database_url("mysql"), (ddl,), {"scores": ("id, owner_id, v", [(1, 2, 0)])}, policies)
    try:
        h.reset()
        try:
            h.run(f"UPDATE scores SET v = {value} WHERE id = 1")
        except (Denied, Refused, InvalidValue):
            assert stored is None
        kept = h.db.run(lambda s: s.execute("SELECT v FROM scores").rows[0][0])
        assert kept == (0 if stored is None else stored)
    finally:
        h.close()


# -- C. FOR UPDATE / FOR SHARE lock rows the user may read but not update ---------------------
#
# Native PostgreSQL RLS applies the UPDATE policy's USING as well as the SELECT policy to a
# ``SELECT … FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE`` (the docs' table
# "Policies Applied by Command Type"; measured: user 2 gets rows 3 and 4, not row 2). The
# guard applies the read policy only, so user 2 locks doc 2 — published, owned by user 1 —
# and holds user 1's own updates of it for as long as the transaction lasts (rows differ
# from native, and a reader can block every writer of every row they may read).
# Class: a statement form whose native policy set is larger than its verb suggests (the
# locking clause makes a SELECT an update-intent). Rule: derive the policies of each table
# reference from the full statement (locking clause included), per the native table.
LOCKS = [("postgres", lock) for lock in ("FOR UPDATE", "FOR NO KEY UPDATE", "FOR KEY SHARE", "FOR UPDATE NOWAIT")]
LOCKS += [("mysql", "FOR UPDATE"), ("mysql", "FOR UPDATE NOWAIT")]  # MariaDB has no KEY locks; SQLite none


@pytest.mark.parametrize(("backend", "lock"), LOCKS)
def test_locking_read_locks_only_rows_the_update_policy_allows(harness_for, backend, lock):  # noqa: F811
    h = harness_for(backend)
    try:
        rows = h.run(f"SELECT id FROM docs ORDER BY id {lock}")
    except (Denied, Refused):
        return
    assert rows == [(3,), (4,)]  # today: [(2,), (3,), (4,)] — doc 2 is user 1's


# -- D. values grow by copying a column into a row, an array or a JSON object ---------------
#
# growth.py bounds growth functions (REPEAT, printf, REPLACE, string aggregates) and the
# concatenation of two column values, but not the other constructors that hold several
# copies of their arguments: ``ARRAY[s, s, …]``, a row ``(s, s, …)`` cast to text, and
# ``JSONB_BUILD_OBJECT('a', s, 'b', s, …)`` (up to 100 arguments). Chained through CTEs each
# link multiplies the size: from REPEAT('x', 100000) (100 kB), 2 links of 10 copies give
# 10 MB in 0.1 s (measured); 3 links of 50 copies ask PostgreSQL for 12.5 GB — it stops at
# its 1 GB value limit, after allocating it, per row and per concurrent request.
# Class: "a value is at most as large as its inputs" assumed for every node not listed as
# growth (a deny-list). Rule: an allow-list of size-preserving nodes; any node with two or
# more inputs that can be large (columns, sub-queries, CTE columns) counts as growth,
# whatever its name.
def _chain(copies: str) -> str:
    link = "WITH c0 AS (SELECT REPEAT('x', 100000) AS s FROM tags WHERE id = 1)"
    for i in (1, 2, 3):
        link += f", c{i} AS (SELECT {copies.format(', '.join([f'c{i - 1}.s'] * 50))} AS s FROM c{i - 1})"
    return link + " SELECT LENGTH(s) FROM c3"


@pytest.mark.parametrize(
    "copies",
    [
        "CAST(ARRAY[{}] AS TEXT)",
        "CAST(({}) AS TEXT)",
        "CAST(JSONB_BUILD_OBJECT({}) AS TEXT)",
        "CAST(JSON_BUILD_OBJECT({}) AS TEXT)",
    ],
    ids=["array", "row", "jsonb_build_object", "json_build_object"],
)
def test_postgres_copies_of_a_value_count_as_growth(copies):
    guard = Guard([Policy("tags", "all", "")], dialect="postgres", schema={"tags": ["id", "name"]})
    with pytest.raises(Refused):
        guard.rewrite(_chain(copies), ATTACKER)  # today: allowed (12.5 GB asked for)


# -- E. SQLite REGEXP runs Python code the time limit cannot stop ------------------------------
#
# On SQLite the guard allows ``x REGEXP y`` (SQLAlchemy registers a ``regexp`` function on
# every pysqlite connection, and rls.connect lets exactly that one through). SQLite calls it
# as one VM step: rls's progress handler, which enforces statement_timeout between steps,
# never runs while Python's ``re`` backtracks — with the GIL held, the whole process stops.
# ``'a' * 24 REGEXP '(a|a)*b'`` takes ~4 s under a 0.3 s limit (measured 2.5 s); 40 characters
# take days. Class: a limit enforced between steps of the database while one step runs
# foreign code of unbounded cost. Rule: nothing that calls application code (Python
# functions registered on the connection) is on the allow-list — or only with a literal
# pattern from a linear-time subset.
def test_sqlite_regexp_obeys_the_statement_time_limit(tmp_path):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    import time

    from rls import connect
    from rls.errors import StatementTimeout

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 're.db'}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT)")
        c.exec_driver_sql("INSERT INTO tags VALUES (1, 'red')")
    raw = engine.raw_connection()  # SQLAlchemy's pysqlite on_connect registered ``regexp``
    try:
        guard = Guard([Policy("tags", "all", "")], dialect="sqlite", schema={"tags": ["id", "name"]})
        conn = connect(raw.driver_connection, guard, ATTACKER, statement_timeout=0.3)
        started = time.monotonic()
        try:
            conn.execute("SELECT id FROM tags WHERE ? REGEXP '(a|a)*b'", ("a" * 24,)).fetchall()
        except (Refused, StatementTimeout):
            pass
        assert time.monotonic() - started < 1.5  # today: ~2.5-4 s, and exponential in the length
    finally:
        raw.close()
        engine.dispose()


# -- F. the time limit bounds time, not disk: a sort of endless rows spills at disk speed -------
#
# A recursive CTE with no bound makes rows out of nothing (no table needed), each row may
# carry a 100 kB value (REPEAT's largest count) and ORDER BY makes the database keep them
# all: PostgreSQL spills the sort to temporary files at disk speed until statement_timeout
# fires — measured 1.76 GB in 4 s, so ~13 GB per statement under the default 30 s, times the
# concurrent requests (a full disk stops WAL writes: the server goes down for everyone).
# temp_file_limit cannot be set by a non-superuser session; MariaDB (on-disk temporary
# tables) and SQLite (the sorter's temp files) answer the same way.
# Class: work bounded by a time limit only, where the resource used per second is large
# (disk, like memory before it). Rule: bound row production, not only value size — refuse
# a recursive CTE whose recursion the guard cannot see terminate (or cap it: a LIMIT rls
# adds), and make rls's session limits include temporary space where the database has one.
@pytest.mark.xfail(
    run=False,
    reason="open (session note, round 14): the time limit bounds time, not the rows a recursive CTE "
    "produces; run by hand: it spills gigabytes / grows a backend by hundreds of MB",
)
def test_postgres_statement_cannot_fill_the_disk_within_its_time_limit(harness_for):  # noqa: F811
    import time

    import psycopg

    from rls import connect

    h = harness_for("postgres")
    sql = (
        "WITH RECURSIVE r(n) AS (SELECT 1 FROM tags WHERE id = 1 UNION ALL SELECT n + 1 FROM r) "
        "SELECT REPEAT('x', 100000) AS s, n FROM r ORDER BY s, n"
    )
    args = h.dialect.connect_args(h.db.url)

    def temp_bytes() -> int:
        with psycopg.connect(**args) as c:
            row = c.execute("SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()").fetchone()
            return int(row[0])

    def work(session: Any) -> None:
        conn = connect(session.connection, h.guard, ATTACKER, statement_timeout=3)
        try:
            conn.execute(sql).fetchall()
        except Exception:  # refused, or stopped by the time limit
            pass

    before = temp_bytes()
    h.db.run(work)
    time.sleep(1.5)  # statistics are flushed asynchronously
    assert temp_bytes() - before < 256 * 2**20  # today: ~1.3 GB in 3 s


# -- G. …nor memory: a recursive UNION keeps every distinct row in an in-memory hash table -------
#
# ``WITH RECURSIVE r(n, s) AS (SELECT 1, REPEAT('x', 10000) … UNION SELECT n + 1, s FROM r)``
# grows no value (growth.py allows it: ``s`` is copied, not concatenated), but UNION (not
# UNION ALL) makes PostgreSQL remember every row it produced in a hash table that does not
# spill to disk: the backend grew by ~390 MB in 0.5 s and ~530 MB in 1 s (measured), i.e.
# 10-15 GB before the default 30 s limit — the kernel's OOM killer ends the backend and the
# postmaster restarts every session. Same class as F (a resource used per second, bounded
# by time only); rule: bound the rows a statement can produce or hold (a recursive CTE's
# recursion), not only the size of each value.
@pytest.mark.xfail(
    run=False,
    reason="open (session note, round 14): the time limit bounds time, not the rows a recursive CTE "
    "produces; run by hand: it spills gigabytes / grows a backend by hundreds of MB",
)
def test_postgres_recursive_union_cannot_exhaust_memory_within_its_time_limit(make_database_url):
    import threading
    import time

    import psycopg

    from rls import connect
    from rls.database import Database

    url = make_database_url("postgres")
    db = Database(url)
    db.run(lambda s: s.execute("CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT)"), write=True)
    db.run(lambda s: s.execute("INSERT INTO tags VALUES (1, 'red')"), write=True)
    guard = Guard([Policy("tags", "all", "")], dialect="postgres", schema=lambda: (db.schema_version, db.schema()))
    sql = (
        "WITH RECURSIVE r(n, s) AS (SELECT 1, REPEAT('x', 10000) FROM tags WHERE id = 1 "
        "UNION SELECT n + 1, s FROM r) SELECT COUNT(*) FROM r"
    )
    raw = psycopg.connect(**db.dialect.connect_args(url), autocommit=True)
    try:
        pid = raw.execute("SELECT pg_backend_pid()").fetchone()[0]
        status = f"/proc/{pid}/status"
        try:
            open(status).close()
        except OSError:
            pytest.skip("the PostgreSQL server runs on another host: its memory cannot be watched")
        peak, done = [0], threading.Event()

        def watch() -> None:
            while not done.is_set():
                try:
                    with open(status) as f:
                        rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS")), 0)
                    peak[0] = max(peak[0], rss)
                except OSError:
                    pass
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            connect(raw, guard, ATTACKER, statement_timeout=1).execute(sql).fetchall()
        except Exception:  # refused, or stopped by the time limit
            pass
        finally:
            done.set()
            watcher.join()
        assert peak[0] < 256 * 1024  # kB; today: ~500 MB after 1 s
    finally:
        raw.close()
        db.close()


# -- What held (round 14, all three databases unless named) --------------------------------
#
# - literals and identifiers round-trip exactly (guard result == raw result): PostgreSQL
#   'a\' and doubled quotes (E'', U&'', $$ $$, B'', X'' refused); MariaDB \' \\ \% \_ \Z,
#   "…" strings, adjacent literals (X'', 0x, b'', _charset'', N'', \0 refused); SQLite [x],
#   `x`, "x" (a double-quoted unknown name — SQLite's string fallback — refused);
# - refused as they should be: FOR SYSTEM_TIME, PARTITION, index hints, STRAIGHT_JOIN,
#   WITH ROLLUP, @v :=, SELECT … INTO, SQL_CALC_FOUND_ROWS, NATURAL JOIN, ONLY, TABLESAMPLE,
#   whole-row references, ctid/xmin/rowid/oid, main./temp./public./db. prefixes,
#   sqlite_master, table-valued functions, OPERATOR(), COLLATE, ROW(), $1, GROUPING SETS,
#   WITH TIES, FOR UPDATE OF, ON CONFLICT … WHERE (index predicate), rls_ names;
# - placeholders: psycopg %b / %t, ? and :a on PostgreSQL and MariaDB, $1, ?1, a placeholder
#   inside a string: refused; a literal % behaves as the driver reads it with and without
#   parameters; PyMySQL refuses dict values itself, a list value becomes a row (no new
#   structure), a wrong-typed value for a leakproof comparison gets the fenced compile;
# - the fence: division by zero, integer overflow, failed casts and json_extract errors that
#   hit only a hidden row, in WHERE, ON, LEFT JOIN, EXISTS, IN, HAVING, derived tables,
#   CTEs, UNION branches, LATERAL, correlated sub-queries, UPDATE/DELETE/INSERT … SELECT:
#   never raised (SQLite's LIMIT -1 keeps the sub-query from being flattened);
# - differential against native PostgreSQL RLS (tests/test_native_oracle.py's world, scratch
#   run, not committed): 29 read shapes (correlated scalar sub-queries, windows, LATERAL,
#   recursive CTEs, INTERSECT/EXCEPT, NOT IN / NOT EXISTS, FULL/RIGHT joins, DISTINCT ON,
#   ANY/ALL) × 7 users and 16 writes (UPDATE … FROM, DELETE … USING, RETURNING, INSERT …
#   SELECT, ON CONFLICT DO UPDATE / DO NOTHING, SET (a, b) = (SELECT …)) agree; 450
#   error-placement probes against its policies agree;
# - ON CONFLICT DO UPDATE on a hidden row raises (as native), giving the row away through
#   SET or EXCLUDED is denied; a SQLite REPLACE conflict clause refuses writes (write_hazard);
# - MariaDB UPDATE check: integer, DECIMAL and string→number conversions, VARCHAR trailing
#   spaces and case are denied or rejected (conservative); DEFAULT / DEFAULT(col) refused;
#   generated columns on PostgreSQL and SQLite are judged as stored (RETURNING);
# - LIKE with many % is linear on all three; PostgreSQL regex obeys statement_timeout;
# - notes, no test: SQLite VIRTUAL generated columns are not introspected (PRAGMA
#   table_info hides them), so a policy naming one is ignored and access denied (fail
#   closed); identifier matching by str.lower() accepts `Kind` (Kelvin sign) for `kind`
#   where MariaDB does not, and the user's spelling is emitted — the database then errors,
#   no exploitable mis-resolution found, but emitting the resolved name would close it;
#   ``JOIN … USING`` compares columns the leakproof analysis never sees (MariaDB INT vs
#   VARCHAR: in INSERT … SELECT strict mode turns the conversion into error 1292 quoting
#   the value) — no leak reproduced (MariaDB ran the policy first in every plan tried), but
#   A's rule should cover it.
