"""rls.connect is an allow-list (DESIGN.md §4, rule 9), on the three real databases: every
way to run SQL through the wrapper is guarded or refused, and every object it hands back
is guarded too. The attacker is user 2; the tables are read directly afterwards."""

from __future__ import annotations

import contextlib
import re
import sqlite3

import pytest

from rls import AuthUser, Denied, Guard, Policy, Refused, connect
from rls.database import Database
from rls.errors import Conflict, RlsError
from rls.guard.connection import GuardedConnection, GuardedCursor

ATTACKER = AuthUser(id=2)
ROWS = [(1, 1, "alpha"), (2, 1, "beta"), (3, 2, "gamma"), (4, 2, "delta")]
ATTACKERS_ROWS = [r for r in ROWS if r[1] == 2]
OTHERS_ROWS = [r for r in ROWS if r[1] != 2]
NOT_AVAILABLE = re.escape("is not available through rls.connect")


class Harness:
    def __init__(self, url):
        self.db = Database(url)
        self.dialect = self.db.dialect
        self.guard = Guard(
            [Policy("docs", "all", "owner_id = auth_user.id")],
            dialect=self.dialect,
            schema=lambda: (self.db.schema_version, self.db.schema()),
        )
        self.p = self.dialect.PLACEHOLDER

    def reset(self):
        def work(session):
            session.execute("DELETE FROM docs")
            for row in ROWS:
                session.execute(f"INSERT INTO docs (id, owner_id, title) VALUES ({self.p}, {self.p}, {self.p})", row)

        self.db.run(work, write=True)

    def table(self):
        return sorted(tuple(r) for r in self.db.run(lambda s: s.execute("SELECT id, owner_id, title FROM docs").rows))

    def sql(self, text):
        return text.replace("{p}", self.p)


@pytest.fixture(scope="module")
def harness_for(make_database_url):
    made = {}

    def get(backend):
        if backend not in made:
            h = Harness(make_database_url(backend))
            ddl = "CREATE TABLE docs (id {serial}, owner_id {integer}, title {string}){table_options}"
            h.db.run(lambda s: s.execute(ddl.format_map(h.dialect.DDL_TYPES)), write=True)
            made[backend] = h
        return made[backend]

    yield get
    for h in made.values():
        h.db.close()


@pytest.fixture
def h(harness_for, backend):
    harness = harness_for(backend)
    harness.reset()
    return harness


@pytest.fixture
def raw(h):
    """A fresh driver connection (autocommit, as rls's dialects open them)."""
    conn = h.dialect.connect(**h.dialect.connect_args(h.db.url))
    yield conn
    with contextlib.suppress(Exception):  # a test may have closed it (``with conn:``)
        conn.close()


@pytest.fixture
def conn(h, raw):
    return connect(raw, h.guard, ATTACKER)


# -- whatever the wrapper returns is guarded --------------------------------------------------


def test_execute_returns_the_guarded_cursor(h, conn):
    cursor = conn.cursor().execute("SELECT id FROM docs").execute("DELETE FROM docs")
    assert isinstance(cursor, GuardedCursor)
    assert h.table() == OTHERS_ROWS


def test_connection_execute_is_guarded_and_returns_a_guarded_cursor(h, conn):
    rows = conn.execute("SELECT id, title FROM docs ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [(3, "gamma"), (4, "delta")]
    conn.execute("SELECT id FROM docs").execute("DELETE FROM docs")
    assert h.table() == OTHERS_ROWS


def test_cursor_connection_is_the_guarded_connection(h, conn):
    cursor = conn.cursor()
    assert cursor.connection is conn
    cursor.connection.cursor().execute("DELETE FROM docs")
    assert h.table() == OTHERS_ROWS


def test_context_managers_hand_back_the_wrappers(h, conn):
    with conn.cursor() as cursor:
        cursor.execute("DELETE FROM docs")
    with pytest.raises((conn.Error, RlsError)) as raised:  # closed by the with block
        cursor.execute("SELECT id FROM docs")
    assert "closed" in str(raised.value.__cause__ or raised.value)
    with conn as entered:  # closes the connection on psycopg and PyMySQL
        assert entered is conn
    assert h.table() == OTHERS_ROWS


def test_iterating_yields_visible_rows_and_no_driver_cursor(h, conn):
    cursor = conn.execute("SELECT id FROM docs ORDER BY id")
    iterator = iter(cursor)
    with pytest.raises(AttributeError):
        iterator.execute("DELETE FROM docs")  # sqlite3's own iterator is its cursor
    assert [r[0] for r in iterator] == [3, 4]
    assert h.table() == ROWS


def test_cursor_arguments_are_refused(h, conn):
    # psycopg: name= makes a server-side cursor; sqlite3 and PyMySQL: a cursor class.
    with pytest.raises(Refused, match="cursor arguments"):
        conn.cursor(name="c")
    with pytest.raises(Refused, match="cursor arguments"):
        conn.cursor(GuardedCursor)
    assert h.table() == ROWS


# -- executemany --------------------------------------------------------------------------------


def test_executemany_guards_every_row_and_sums_rowcount(h, conn):
    cursor = conn.cursor().executemany(
        h.sql("UPDATE docs SET title = {p} WHERE id = {p}"), [("x", 3), ("y", 1), ("z", 4)]
    )
    assert cursor.rowcount == 2
    assert h.table() == [(1, 1, "alpha"), (2, 1, "beta"), (3, 2, "x"), (4, 2, "z")]


def test_connection_executemany_is_guarded(h, conn):
    conn.executemany(h.sql("DELETE FROM docs WHERE id = {p}"), [(1,), (3,)])
    assert h.table() == [(1, 1, "alpha"), (2, 1, "beta"), (4, 2, "delta")]


INSERT = "INSERT INTO docs (id, owner_id, title) VALUES ({p}, {p}, {p})"
BATCH_WITH_A_FOREIGN_ROW = [(5, 2, "mine"), (6, 1, "given away"), (7, 2, "after")]


def test_executemany_with_a_foreign_row_is_denied_and_rolls_back_with_the_transaction(h, raw, conn):
    h.dialect.begin(raw, write=True)
    with pytest.raises(Denied):
        conn.executemany(h.sql(INSERT), BATCH_WITH_A_FOREIGN_ROW)
    conn.rollback()
    assert h.table() == ROWS


def test_executemany_runs_rows_in_order_and_stops_at_a_denied_row(h, conn):
    with pytest.raises(Denied):  # autocommit: the row before the denied one stays written
        conn.executemany(h.sql(INSERT), BATCH_WITH_A_FOREIGN_ROW)
    assert h.table() == [*ROWS, (5, 2, "mine")]


def test_executemany_rewrites_every_row_before_running_any(h, conn):
    with pytest.raises(Refused, match="placeholders"):
        conn.executemany(h.sql(INSERT), [(5, 2, "mine"), (6, 2)])
    assert h.table() == ROWS


# -- what passes through ------------------------------------------------------------------------


def test_transaction_control_passes_through(h, raw, conn):
    h.dialect.begin(raw, write=True)
    conn.execute("DELETE FROM docs")
    conn.rollback()
    assert h.table() == ROWS
    h.dialect.begin(raw, write=True)
    conn.execute("DELETE FROM docs")
    conn.commit()
    assert h.table() == OTHERS_ROWS


def test_result_attributes_pass_through(h, conn):
    cursor = conn.execute("SELECT id, title FROM docs ORDER BY id")
    assert [d[0] for d in cursor.description] == ["id", "title"]
    assert [tuple(r) for r in (cursor.fetchone(), *cursor.fetchmany(5))] == [(3, "gamma"), (4, "delta")]
    assert cursor.execute("UPDATE docs SET title = 'x'").rowcount == 2
    assert cursor.execute(h.sql(INSERT), (8, 2, "new")).rowcount == 1


def test_a_driver_error_becomes_the_rls_error_chained_to_it(h, conn):
    with pytest.raises(Conflict) as raised:
        conn.execute(h.sql(INSERT), (3, 2, "duplicate id"))
    assert isinstance(raised.value.__cause__, conn.Error)
    assert h.table() == ROWS


# -- everything else is refused -------------------------------------------------------------------


def _transaction(c):
    with c.transaction() as tx:
        tx.connection.execute("DELETE FROM docs")


def _copy_in(c):
    with c.copy("COPY docs (id, owner_id, title) FROM STDIN") as copy:
        copy.write_row((9, 1, "given away"))


DELETE = "DELETE FROM docs"
REFUSED = {
    "sqlite": [
        ("connection", "executescript", lambda c: c.executescript(DELETE)),
        ("cursor", "executescript", lambda c: c.executescript(DELETE)),
        ("connection", "create_aggregate", lambda c: c.create_aggregate("a", 1, object)),
        ("connection", "create_window_function", lambda c: c.create_window_function("w", 1, object)),
        ("connection", "create_collation", lambda c: c.create_collation("c", lambda a, b: 0)),
        ("connection", "set_authorizer", lambda c: c.set_authorizer(None)),
        ("connection", "set_progress_handler", lambda c: c.set_progress_handler(None, 1)),
        ("connection", "set_trace_callback", lambda c: c.set_trace_callback(None)),
        ("connection", "backup", lambda c: c.backup(sqlite3.connect(":memory:"))),
        ("connection", "iterdump", lambda c: list(c.iterdump())),
        ("connection", "blobopen", lambda c: c.blobopen("docs", "title", 1).write(b"x")),
        ("connection", "enable_load_extension", lambda c: c.enable_load_extension(True)),
        ("connection", "load_extension", lambda c: c.load_extension("x")),
        ("connection", "deserialize", lambda c: c.deserialize(b"")),
        ("connection", "serialize", lambda c: c.serialize()),
        ("connection", "setlimit", lambda c: c.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1)),
        ("connection", "text_factory", lambda c: c.text_factory),
    ],
    "postgres": [
        ("connection", "transaction", _transaction),
        ("connection", "pipeline", lambda c: c.pipeline()),
        ("connection", "pgconn", lambda c: c.pgconn.exec_(DELETE.encode())),
        ("connection", "adapters", lambda c: c.adapters),
        ("connection", "notifies", lambda c: list(c.notifies(timeout=0))),
        ("connection", "add_notify_handler", lambda c: c.add_notify_handler(print)),
        ("connection", "prepare_threshold", lambda c: c.prepare_threshold),
        ("connection", "cursor_factory", lambda c: c.cursor_factory),
        ("connection", "tpc_begin", lambda c: c.tpc_begin("x")),
        ("connection", "cancel", lambda c: c.cancel()),
        ("cursor", "stream", lambda c: list(c.stream(f"{DELETE} RETURNING id"))),
        ("cursor", "copy", _copy_in),
        ("cursor", "_conn", lambda c: c._conn.execute(DELETE)),
        ("cursor", "pgresult", lambda c: c.pgresult),
        ("cursor", "results", lambda c: list(c.results())),
        ("cursor", "nextset", lambda c: c.nextset()),
        ("cursor", "scroll", lambda c: c.scroll(0)),
    ],
    "mysql": [
        ("connection", "query", lambda c: c.query(DELETE)),
        ("connection", "_execute_command", lambda c: c._execute_command(3, DELETE)),
        ("connection", "select_db", lambda c: c.select_db("mysql")),
        ("connection", "ping", lambda c: c.ping(reconnect=True)),
        ("connection", "set_charset", lambda c: c.set_charset("gbk")),
        ("connection", "set_character_set", lambda c: c.set_character_set("gbk")),
        ("connection", "next_result", lambda c: c.next_result),  # a call blocks on the socket
        ("connection", "escape", lambda c: c.escape("x")),
        ("connection", "kill", lambda c: c.kill(0)),
        ("connection", "begin", lambda c: c.begin()),
        ("cursor", "callproc", lambda c: c.callproc("p")),
        ("cursor", "mogrify", lambda c: c.mogrify(DELETE)),
        ("cursor", "_query", lambda c: c._query(DELETE)),
        ("cursor", "_get_db", lambda c: c._get_db().query(DELETE)),
        ("cursor", "nextset", lambda c: c.nextset()),
        ("cursor", "scroll", lambda c: c.scroll(0)),
    ],
}
REFUSED_CASES = [
    pytest.param(backend, target, name, use, id=f"{backend}-{target}.{name}")
    for backend, cases in REFUSED.items()
    for target, name, use in cases
]


@pytest.mark.parametrize(("backend", "target", "name", "use"), REFUSED_CASES)
def test_refused_attribute_raises_and_changes_nothing(harness_for, backend, target, name, use):
    h = harness_for(backend)
    h.reset()
    raw = h.dialect.connect(**h.dialect.connect_args(h.db.url))
    try:
        conn = connect(raw, h.guard, ATTACKER)
        obj = conn if target == "connection" else conn.cursor()
        with pytest.raises(AttributeError, match=f"^{name} {NOT_AVAILABLE}$"):
            use(obj)
    finally:
        raw.close()
    assert h.table() == ROWS


ALLOWED = {
    GuardedConnection: {"cursor", "execute", "executemany", "commit", "rollback", "close", "user"}
    | {"info", "create_function"}  # reduced: tests/test_orm_guard.py, test_connection_info_is_reduced
    | GuardedConnection._READ,
    GuardedCursor: {"execute", "executemany", "connection", "fetchone", "fetchmany", "fetchall", "close", "rowcount"}
    | {"description", "lastrowid"}
    | GuardedCursor._READ,
}


def test_connection_info_is_reduced(harness_for):
    """psycopg's ``info`` holds the password and the DSN: the wrapper offers what
    SQLAlchemy reads of it only."""
    h = harness_for("postgres")
    raw = h.dialect.connect(**h.dialect.connect_args(h.db.url))
    try:
        info = connect(raw, h.guard, ATTACKER).info
        assert info.transaction_status == raw.info.transaction_status
        assert info.server_version == raw.info.server_version
        for name in ("password", "dsn", "get_parameters", "pgconn", "_pgconn"):
            with pytest.raises(AttributeError):
                getattr(info, name)
    finally:
        raw.close()


def test_every_other_driver_attribute_is_refused(h, backend, raw, conn):
    for target, wrapper, driver_object in (("connection", conn, raw), ("cursor", conn.cursor(), raw.cursor())):
        refused = {n for n in dir(driver_object) if not n.startswith("__")} - ALLOWED[type(wrapper)]
        listed = {name for t, name, _ in REFUSED[backend] if t == target and hasattr(driver_object, name)}
        assert listed <= refused
        for name in sorted(refused):
            with pytest.raises(AttributeError, match=f"^{name} {NOT_AVAILABLE}$"):
                getattr(wrapper, name)


@pytest.mark.parametrize("name", ["_raw", "_guard", "_user", "_connection", "user", "execute", "text_factory"])
def test_only_listed_attributes_can_be_set(h, conn, name):
    for wrapper in (conn, conn.cursor()):
        with pytest.raises(AttributeError, match=re.escape("cannot be set through rls.connect")):
            setattr(wrapper, name, None)
    conn.execute("DELETE FROM docs")
    assert h.table() == OTHERS_ROWS
