"""The ORM suite's reads and writes on PostgreSQL, through the guard and under native
row-level security: each user must get the same rows and the same row counts.

Native: the policies of :mod:`tests.orm_app` exported by :func:`rls.policy.native.export_native`,
run by a plain role (neither superuser nor owner) whose transaction sets ``rls.user_id``.
Guard: the SQLAlchemy engine of tests/test_orm_sqlalchemy.py, rls installed on it.
The same ORM code runs on both engines.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, event, func, select, text, tuple_, update
from sqlalchemy.orm import Session, joinedload, selectinload

from rls import AuthUser, Denied
from rls.policy.native import export_native
from tests.orm_app import POLICIES, sqlalchemy_url
from tests.test_orm_sqlalchemy import ALICE, BOB, App, Project, Tag, Todo, current_user, todo_tags

NOBODY = AuthUser(id=3)  # authenticated, owns nothing
USERS = [ALICE, BOB, NOBODY]


class Native:
    """The app's database with native RLS, an engine that runs as a plain role and the
    user of the moment (``rls.user_id`` set at the start of each transaction)."""

    def __init__(self, app: App):
        self.app = app
        self.role = f"rls_orm_{secrets.token_hex(4)}"
        schema = app.db.url.rsplit("search_path=", 1)[1]
        with app.raw.begin() as conn:
            for statement in export_native(POLICIES, app.db.schema()):
                conn.exec_driver_sql(statement.replace("%", "%%"))
            conn.exec_driver_sql(f"CREATE ROLE {self.role} NOLOGIN NOSUPERUSER NOBYPASSRLS")
            conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {self.role}')
            conn.exec_driver_sql(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {self.role}'
            )
            conn.exec_driver_sql(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {self.role}')
        sa_url, connect_args = sqlalchemy_url(app.db.url)
        self.engine = create_engine(sa_url, connect_args=connect_args)
        event.listen(self.engine, "begin", self._as_user)

    def _as_user(self, conn: Any) -> None:
        user = current_user.get(None) or AuthUser()
        conn.exec_driver_sql(f"SET LOCAL ROLE {self.role}")
        conn.exec_driver_sql(
            "SELECT set_config('rls.user_id', %(id)s, true), set_config('rls.is_admin', 'false', true)",
            {"id": "" if user.id is None else str(user.id)},
        )

    def close(self) -> None:
        self.engine.dispose()
        with self.app.raw.begin() as conn:
            for name in ("users", "projects", "todos", "tags", "todo_tags"):
                conn.exec_driver_sql(f'ALTER TABLE "{name}" DISABLE ROW LEVEL SECURITY')
            conn.exec_driver_sql(f"DROP OWNED BY {self.role}")
            conn.exec_driver_sql(f"DROP ROLE {self.role}")


@pytest.fixture(scope="module")
def both(make_database_url: Any) -> Iterator[tuple[App, Native]]:
    app = App(make_database_url("postgres"))
    app.reset()
    native = Native(app)
    yield app, native
    native.close()
    app.engine.dispose()
    app.raw.dispose()
    app.db.close()


Read = Callable[[Session], Any]
READS: dict[str, Read] = {
    "all todos": lambda s: [(t.id, t.user_id, t.title) for t in s.scalars(select(Todo).order_by(Todo.id))],
    "projects with their todos (selectin)": lambda s: [
        (p.name, [t.title for t in p.todos])
        for p in s.scalars(select(Project).options(selectinload(Project.todos)).order_by(Project.id))
    ],
    "todos with tags (joined, nested join)": lambda s: [
        (t.id, [g.name for g in t.tags])
        for t in s.scalars(select(Todo).options(joinedload(Todo.tags)).order_by(Todo.id)).unique()
    ],
    "todos with tags (lazy)": lambda s: [(t.id, [g.name for g in t.tags]) for t in s.scalars(select(Todo))],
    "join through the link table": lambda s: s.scalars(
        select(Todo.id).join(Todo.tags).where(Tag.name == "red").order_by(Todo.id)
    ).all(),
    "tags and link counts (outer join)": lambda s: s.execute(
        select(Tag.name, func.count(todo_tags.c.todo_id)).outerjoin(todo_tags).group_by(Tag.name)
    ).all(),
    "count and group by": lambda s: s.execute(
        select(Todo.done, func.count(), func.max(Todo.priority)).group_by(Todo.done).order_by(Todo.done)
    ).all(),
    "window": lambda s: s.execute(
        select(Todo.id, func.row_number().over(partition_by=Todo.project_id, order_by=Todo.priority.desc()))
    ).all(),
    "get by key": lambda s: [s.get(Todo, i) is not None for i in range(1, 6)],
    "empty and tuple IN": lambda s: (
        s.scalars(select(Todo.id).where(Todo.id.in_([]))).all(),
        s.scalars(select(Todo.id).where(tuple_(Todo.id, Todo.user_id).in_([(1, 1), (3, 2)]))).all(),
    ),
    "text union": lambda s: s.execute(
        text("SELECT todo_id FROM todo_tags UNION SELECT id FROM todos ORDER BY 1")
    ).all(),
    "users": lambda s: s.execute(text("SELECT id, name FROM users ORDER BY id")).all(),
    "exists sub-query": lambda s: s.scalars(
        select(Project.name).where(Project.todos.any(Todo.done.is_(True))).order_by(Project.id)
    ).all(),
}
WRITES: dict[str, Callable[[Session], int]] = {
    "update all": lambda s: s.execute(update(Todo).values(priority=Todo.priority + 1)).rowcount,
    "delete by key": lambda s: s.execute(delete(Todo).where(Todo.id.in_([2, 4]))).rowcount,
    "unlink": lambda s: s.execute(text("DELETE FROM todo_tags WHERE tag_id = 1")).rowcount,
}


def _normal(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return sorted((_normal(v) for v in value), key=repr)
    if hasattr(value, "_tuple"):
        return _normal(tuple(value))
    return value


def _read(engine: Any, read: Read) -> Any:
    with Session(engine) as session, session.begin():
        return _normal(read(session))


@pytest.mark.parametrize("user", USERS, ids=["alice", "bob", "nobody"])
@pytest.mark.parametrize("name", sorted(READS))
def test_orm_reads_match_native_rls(both: tuple[App, Native], name: str, user: AuthUser) -> None:
    app, native = both
    current_user.set(user)
    guarded, expected = _read(app.engine, READS[name]), _read(native.engine, READS[name])
    assert guarded == expected


def test_the_native_side_really_filters(both: tuple[App, Native]) -> None:
    """Native RLS is in force for the role (else the comparison above proves nothing)."""
    app, native = both
    current_user.set(BOB)
    expected = [(3, 2, "write report"), (4, 2, "call bank"), (5, 2, "buy stamps")]
    assert _read(native.engine, READS["all todos"]) == _normal(expected)
    with app.raw.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Todo)).scalar() == 5


@pytest.mark.parametrize("user", USERS, ids=["alice", "bob", "nobody"])
@pytest.mark.parametrize("name", sorted(WRITES))
def test_orm_writes_match_native_rls(both: tuple[App, Native], name: str, user: AuthUser) -> None:
    """The same write, rolled back: the same rows touched, the same table afterwards."""
    app, native = both
    current_user.set(user)
    outcomes = []
    for engine in (app.engine, native.engine):
        with Session(engine) as session:
            session.begin()
            try:
                count = WRITES[name](session)
                rows = sorted(tuple(r) for r in session.execute(text("SELECT id, priority FROM todos ORDER BY id")))
            except Denied:
                count, rows = -1, []
            session.rollback()
        outcomes.append((count, rows))
    assert outcomes[0] == outcomes[1]


def test_anonymous_is_denied_by_the_guard_and_sees_nothing_natively(both: tuple[App, Native]) -> None:
    """The one documented difference: the guard refuses a read no policy can pass for the
    anonymous user (401/403 in REST); native RLS returns no rows."""
    app, native = both
    current_user.set(AuthUser())
    assert _read(native.engine, READS["all todos"]) == []
    with pytest.raises(Denied):
        _read(app.engine, READS["all todos"])
