"""The tables and rows the behavioural suite runs on, the same on every database.

The rows are hostile on purpose: NULLs, values that differ only in case, LIKE
wildcards, backslashes, quotes and non-ASCII text.
"""

from __future__ import annotations

from sqlglot import exp

from rls.database import Database, Session

TABLES = {
    "projects": "CREATE TABLE projects (id {serial}, name {string} NOT NULL UNIQUE, owner_id {integer}){table_options}",
    "todos": (
        "CREATE TABLE todos (id {serial}, project_id {integer} REFERENCES projects (id), user_id {integer},"
        " title {string} NOT NULL, done {boolean} NOT NULL DEFAULT FALSE, score {decimal}, rating {float},"
        " due {date}, created {datetime}, details {json}, note {text}){table_options}"
    ),
    "stock": (
        "CREATE TABLE stock (id {serial}, sku {string} NOT NULL UNIQUE,"
        " qty {integer} NOT NULL CHECK (qty >= 0)){table_options}"
    ),
    "nokey": "CREATE TABLE nokey (a {integer}, b {string}){table_options}",
    "open_todos": "CREATE VIEW open_todos AS SELECT id, title FROM todos WHERE done = FALSE",
    # Reserved words and mixed case: every identifier must be quoted.
    "order": "CREATE TABLE {q_order} (id {serial}, {q_group} {string}, {q_Value} {integer}){table_options}",
}
DROP_ORDER = ("open_todos", "todos", "projects", "stock", "nokey", "order")
ORDER = [(1, "a", 10), (2, "b", 20)]

PROJECTS = [
    (1, "alpha", 1),
    (2, "beta", 2),
]
# id, project_id, user_id, title, done, score, rating, due, created, details, note
TODOS = [
    (
        1,
        1,
        1,
        "buy milk",
        True,
        "2.50",
        4.5,
        "2026-01-10",
        "2026-01-01 08:00:00",
        '{"qty": 2, "tags": ["a", "b"], "shop": {"name": "corner"}}',
        None,
    ),
    (2, 1, 1, "Buy Milk", False, "10.00", None, "2026-01-11", "2026-01-02 09:30:00", None, "case differs"),
    (3, 2, 2, "100% done", True, None, 1.0, None, "2026-01-03 10:00:00", '{"qty": 40}', "percent"),
    (4, 2, 2, "snake_case", False, "0.10", 2.25, "2026-02-01", None, '{"qty": 1, "shop": {"name": "mall"}}', None),
    (5, None, None, "back\\slash", False, "7.00", 3.0, "2026-03-01", "2026-01-05 12:00:00", None, "no owner"),
    (6, 1, 3, 'it\'s "quoted"', True, "1.00", None, "2026-01-10", "2026-01-06 00:00:00", '{"qty": 0}', None),
    (7, 2, 3, "ünïcödé ☃", False, None, 5.0, None, None, None, "unicode"),
]
STOCK = [(1, "apple", 5), (2, "pear", 0)]
NOKEY = [(1, "x"), (1, "y")]


def quoted(db: Database, name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(db.dialect.SQLGLOT)


def create_tables(db: Database) -> None:
    types = {**db.dialect.DDL_TYPES, **{f"q_{n}": quoted(db, n) for n in ("order", "group", "Value")}}

    def work(session: Session) -> None:
        for name in reversed(DROP_ORDER):
            session.execute(TABLES[name].format_map(types))

    db.run(work, write=True)


def _insert(session: Session, db: Database, table: str, columns: str, rows: list[tuple[object, ...]]) -> None:
    marks = ", ".join([db.dialect.PLACEHOLDER] * len(rows[0]))
    cur = session.connection.cursor()
    cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    cur.close()


def reset_rows(db: Database) -> None:
    """Put the rows back to :data:`TODOS` etc., whatever the last test did."""

    def work(session: Session) -> None:
        for table in ("todos", "projects", "stock", "nokey", quoted(db, "order")):
            session.execute(f"DELETE FROM {table}")
        _insert(session, db, "projects", "id, name, owner_id", PROJECTS)
        _insert(
            session,
            db,
            "todos",
            "id, project_id, user_id, title, done, score, rating, due, created, details, note",
            TODOS,
        )
        _insert(session, db, "stock", "id, sku, qty", STOCK)
        _insert(session, db, "nokey", "a, b", NOKEY)
        names = ", ".join(quoted(db, n) for n in ("id", "group", "Value"))
        _insert(session, db, quoted(db, "order"), names, ORDER)
        if db.dialect.name == "postgres":
            # Explicit ids do not advance identity sequences.
            for table in ("projects", "todos", "stock", "order"):
                session.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))"
                )

    db.run(work, write=True)
