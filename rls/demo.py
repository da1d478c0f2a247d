"""A small demo data set: projects, their todos (owned through ``user_id``), comments."""

from __future__ import annotations

from rls.database import Database, Session

# Fixed text with the dialect's type names filled in; nothing here comes from a request.
TABLES = (
    "CREATE TABLE projects (id {serial}, name {string} NOT NULL UNIQUE, user_id {integer}){table_options}",
    "CREATE TABLE todos (id {serial}, project_id {integer} REFERENCES projects (id), user_id {integer},"
    " title {string} NOT NULL, done {boolean} NOT NULL DEFAULT FALSE, due {date}, details {json}){table_options}",
    "CREATE TABLE comments (id {serial}, todo_id {integer} NOT NULL REFERENCES todos (id),"
    " author_id {integer}, body {text} NOT NULL){table_options}",
)
ROWS = (
    "INSERT INTO projects (name, user_id) VALUES ('groceries', 1), ('garden', 2)",
    "INSERT INTO todos (project_id, user_id, title, done, due, details) VALUES"
    " (1, 1, 'buy milk', TRUE, '2026-01-10', '{\"qty\": 2, \"shop\": \"corner\"}'),"
    " (1, 1, 'buy eggs', FALSE, '2026-01-11', NULL),"
    " (2, 2, 'plant tulips', FALSE, NULL, '{\"qty\": 40}'),"
    " (2, 2, 'mow the lawn', TRUE, '2026-02-01', NULL)",
    "INSERT INTO comments (todo_id, author_id, body) VALUES (1, 2, 'oat milk please'), (3, 1, 'red ones')",
)


def install_demo(db: Database) -> bool:
    """Create and fill the demo tables unless they exist; True when it created them."""
    if "todos" in db.refresh_schema():
        return False
    types = db.dialect.DDL_TYPES

    def work(session: Session) -> None:
        for statement in TABLES:
            session.execute(statement.format_map(types))
        for statement in ROWS:
            session.execute(statement)

    db.run(work, write=True)
    db.refresh_schema()
    return True
