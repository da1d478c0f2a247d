"""SQLAlchemy 2 with the guard installed on the Engine (rls.integrations.sqlalchemy), on the
three databases: the ORM and Core statements of an ordinary application all run guarded —
none refused — and each user sees exactly the rows the policies give them."""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
    subqueryload,
)

from rls import AuthUser, Denied, Guard, Refused, connect
from rls.database import Database
from rls.integrations.sqlalchemy import install
from tests.orm_app import ORDER, POLICIES, SEED, driver_connection, sqlalchemy_url, visible

ALICE, BOB = AuthUser(id=1), AuthUser(id=2)


class Base(DeclarativeBase):
    pass


todo_tags = Table(
    "todo_tags",
    Base.metadata,
    Column("todo_id", ForeignKey("todos.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(50))
    todos: Mapped[list[Todo]] = relationship(back_populates="project", order_by="Todo.id")


class Todo(Base):
    __tablename__ = "todos"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    title: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    project: Mapped[Project | None] = relationship(back_populates="todos")
    owner: Mapped[User | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=todo_tags, order_by="Tag.id")


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


current_user: ContextVar[AuthUser] = ContextVar("current_user")


class App:
    """The application's guarded engine, an unguarded one for setup and checks, and every
    statement the driver received."""

    def __init__(self, url: str):
        sa_url, connect_args = sqlalchemy_url(url)
        self.raw = create_engine(sa_url, connect_args=connect_args)
        Base.metadata.create_all(self.raw)
        self.db = Database(url)
        self.backend = self.db.dialect.name
        self.guard = Guard(POLICIES, dialect=self.db.dialect, schema=lambda: (1, self.db.schema()), owner_fill=True)
        self.engine = create_engine(sa_url, connect_args=connect_args)
        self.sent: list[str] = []
        install(self.engine, self.guard, current_user)
        event.listen(self.engine, "after_cursor_execute", lambda *a: self.sent.append(a[2]))

    def reset(self) -> None:
        with self.raw.begin() as conn:
            for name in reversed(ORDER):
                conn.execute(Base.metadata.tables[name].delete())
            for name in ORDER:
                conn.execute(Base.metadata.tables[name].insert(), SEED[name])
            if self.backend == "postgres":
                for name in ("users", "projects", "todos", "tags"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 100)"))
        self.sent.clear()

    def table(self, name: str) -> list[tuple[Any, ...]]:
        with self.raw.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(Base.metadata.tables[name].select()))


@pytest.fixture(scope="module")
def app_for(make_database_url: Any) -> Iterator[Any]:
    made: dict[str, App] = {}

    def get(backend: str) -> App:
        if backend not in made:
            made[backend] = App(make_database_url(backend))
        made[backend].reset()
        return made[backend]

    yield get
    for app in made.values():
        app.engine.dispose()
        app.raw.dispose()
        app.db.close()


@pytest.fixture
def app(app_for: Any, backend: str) -> App:
    return app_for(backend)


def as_user(user: AuthUser) -> None:
    current_user.set(user)


def titles(user_id: int) -> list[str]:
    return [r["title"] for r in sorted(visible("todos", user_id), key=lambda r: r["id"])]


@pytest.mark.parametrize("user", [ALICE, BOB], ids=["alice", "bob"])
def test_session_query_returns_the_rows_the_policy_shows(app: App, user: AuthUser) -> None:
    as_user(user)
    with Session(app.engine) as session:
        todos = session.scalars(select(Todo).order_by(Todo.id)).all()
        projects = session.scalars(select(Project)).all()
    assert [t.title for t in todos] == titles(user.id)
    assert [p.name for p in projects] == [p["name"] for p in visible("projects", user.id)]
    assert app.sent


@pytest.mark.parametrize(
    "loader", [selectinload, joinedload, subqueryload, None], ids=lambda f: getattr(f, "__name__", "lazy")
)
def test_relationship_loaders_see_only_visible_children(app: App, loader: Any) -> None:
    as_user(ALICE)
    with Session(app.engine) as session:
        query = select(Project).order_by(Project.id)
        if loader is not None:
            query = query.options(loader(Project.todos).options(loader(Todo.tags), loader(Todo.owner)))
        projects = session.scalars(query).unique().all()
        seen = {p.name: [(t.title, t.owner.name, [g.name for g in t.tags]) for t in p.todos] for p in projects}
    assert seen == {"home": [("buy milk", "alice", ["red", "blue"]), ("BUY% bread", "alice", [])]}


@pytest.mark.parametrize("user", [ALICE, BOB], ids=["alice", "bob"])
def test_joined_eager_load_of_a_many_to_many(app: App, user: AuthUser) -> None:
    """SQLAlchemy nests the secondary join (``LEFT OUTER JOIN (todo_tags JOIN tags ON …)
    ON …``): both tables inside keep their policies."""
    as_user(user)
    with Session(app.engine) as session:
        todos = session.scalars(select(Todo).options(joinedload(Todo.tags)).order_by(Todo.id)).unique().all()
        seen = [(t.id, [g.name for g in t.tags]) for t in todos]
    links = {(r["todo_id"], r["tag_id"]) for r in visible("todo_tags", user.id)}
    names = {r["id"]: r["name"] for r in visible("tags", user.id)}
    expected = [
        (r["id"], [names[g] for g in sorted(g for i, g in links if i == r["id"])]) for r in visible("todos", user.id)
    ]
    assert seen == expected
    assert any(t for _, t in seen)  # some todo has tags: the nested join returned rows
    assert any("JOIN (" in s for s in app.sent)


@pytest.mark.parametrize("user", [ALICE, BOB], ids=["alice", "bob"])
def test_empty_and_tuple_in(app: App, user: AuthUser) -> None:
    """SQLAlchemy's empty IN (on SQLite an unaliased derived table) and tuple IN (on
    SQLite ``IN (VALUES …)``)."""
    from sqlalchemy import tuple_

    as_user(user)
    mine = [r["id"] for r in visible("todos", user.id)]
    with Session(app.engine) as session:
        none = session.scalars(select(Todo.id).where(Todo.id.in_([]))).all()
        not_none = session.scalars(select(Todo.id).where(Todo.id.not_in([])).order_by(Todo.id)).all()
        pairs = session.scalars(
            select(Todo.id).where(tuple_(Todo.id, Todo.user_id).in_([(1, 1), (3, 2), (4, 1)])).order_by(Todo.id)
        ).all()
    assert (none, not_none) == ([], mine)
    assert pairs == [i for i in (1, 3) if i in mine]


def test_many_to_many_hides_links_of_hidden_todos(app: App) -> None:
    as_user(BOB)
    with Session(app.engine) as session:
        red = session.scalars(select(Tag).where(Tag.name == "red")).one()
        linked = session.scalars(select(Todo).join(Todo.tags).where(Tag.id == red.id)).all()
    assert [t.id for t in linked] == [3]


def test_aggregates_and_group_by_count_visible_rows_only(app: App) -> None:
    as_user(BOB)
    with Session(app.engine) as session:
        total = session.scalar(select(func.count()).select_from(Todo))
        by_done = session.execute(
            select(Todo.done, func.count(Todo.id), func.max(Todo.priority)).group_by(Todo.done).order_by(Todo.done)
        ).all()
    mine = visible("todos", 2)
    assert total == len(mine)
    assert [tuple(r) for r in by_done] == [(False, 2, 9), (True, 1, 3)]


def test_add_without_owner_is_filled_with_the_user(app: App) -> None:
    as_user(ALICE)
    with Session(app.engine) as session:
        session.add(Todo(title="new", project_id=1))
        session.commit()
        ids = session.scalars(select(Todo.id).where(Todo.title == "new")).all()
    assert [r for r in app.table("todos") if r[3] == "new"] == [(ids[0], 1, 1, "new", 0, False)]


def test_update_and_delete_through_the_session(app: App) -> None:
    as_user(ALICE)
    with Session(app.engine) as session:
        todo = session.get(Todo, 1)
        assert todo is not None
        todo.done = True
        session.commit()
        session.delete(session.get(Todo, 2))
        session.commit()
        assert session.get(Todo, 3) is None  # bob's row: not found, not an error
    assert [(r[0], r[5]) for r in app.table("todos")] == [(1, True), (3, False), (4, False), (5, True)]


def test_core_update_and_delete_touch_only_visible_rows(app: App) -> None:
    as_user(ALICE)
    with app.engine.begin() as conn:
        updated = conn.execute(update(Todo).values(priority=0)).rowcount
        deleted = conn.execute(delete(Todo).where(Todo.title.like("call%"))).rowcount
    assert (updated, deleted) == (2, 0)
    assert [r[4] for r in app.table("todos")] == [0, 0, 9, 1, 3]


def test_bulk_inserts_orm_and_core(app: App) -> None:
    as_user(BOB)
    with Session(app.engine) as session:
        session.add_all([Todo(title=f"bulk {i}", project_id=2) for i in range(3)])
        session.commit()
    with app.engine.begin() as conn:
        conn.execute(insert(Todo), [{"title": f"core {i}", "user_id": 2, "priority": i} for i in range(3)])
    added = [r for r in app.table("todos") if r[0] > 5]
    assert sorted((r[1], r[3]) for r in added) == sorted(
        [(2, f"bulk {i}") for i in range(3)] + [(2, f"core {i}") for i in range(3)]
    )


def test_a_write_for_another_user_is_denied_and_writes_nothing(app: App) -> None:
    as_user(ALICE)
    before = app.table("todos")
    with Session(app.engine) as session:
        session.add(Todo(title="forged", user_id=2))
        with pytest.raises(Denied):
            session.commit()
    assert app.table("todos") == before


def test_nested_transactions_roll_back_the_inner_part(app: App) -> None:
    as_user(ALICE)
    with Session(app.engine) as session:
        session.add(Todo(title="outer", project_id=1))
        inner = session.begin_nested()
        session.add(Todo(title="inner", project_id=1))
        session.flush()
        inner.rollback()
        with session.begin_nested():
            session.add(Todo(title="kept", project_id=1))
        session.commit()
    assert sorted(r[3] for r in app.table("todos") if r[0] > 5) == ["kept", "outer"]
    assert any(s.upper().startswith("SAVEPOINT") for s in app.sent)


def test_text_with_literal_percent_and_no_parameters(app: App) -> None:
    as_user(ALICE)
    with app.engine.connect() as conn:
        rows = conn.execute(text("SELECT title FROM todos WHERE title LIKE 'BUY%' ORDER BY id")).all()
    assert [r[0] for r in rows] == (["BUY% bread"] if app.backend == "postgres" else ["buy milk", "BUY% bread"])


def test_text_reads_are_filtered(app: App) -> None:
    as_user(BOB)
    with app.engine.connect() as conn:
        rows = conn.execute(text("SELECT id FROM todos ORDER BY id")).all()
        union = conn.execute(text("SELECT todo_id FROM todo_tags UNION SELECT id FROM todos ORDER BY 1")).all()
    assert [r[0] for r in rows] == [3, 4, 5]
    assert [r[0] for r in union] == [3, 4, 5]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE todos",
        "SELECT * FROM todos; DELETE FROM todos",
        "SET sql_mode = 'ANSI_QUOTES'",
        "PRAGMA case_sensitive_like = 1",
        "SELECT * FROM users u, information_schema.tables t",
        "SAVEPOINT x; DELETE FROM todos",
        "COMMIT -- and more",
    ],
)
def test_text_attacks_are_refused(app: App, sql: str) -> None:
    as_user(BOB)
    with app.engine.connect() as conn, pytest.raises(Refused):
        conn.execute(text(sql))
    assert len(app.table("todos")) == 5


def _lock_free(app: App, todo_id: int) -> bool:
    """Whether another session can lock row ``todo_id`` right now (NOWAIT)."""
    other = app.raw.connect()
    try:
        other.execute(select(Todo.id).where(Todo.id == todo_id).with_for_update(nowait=True)).all()
        return True
    except OperationalError as exc:  # "could not obtain lock" (55P03) / lock wait timeout (1205)
        assert "lock" in str(exc.orig).lower(), exc
        return False
    finally:
        other.rollback()
        other.close()


def test_with_for_update_locks_only_rows_the_policy_shows(app: App) -> None:
    as_user(ALICE)
    # InnoDB locks every row it scans under REPEATABLE READ, the policy's hidden rows too
    # (whether it scans them depends on the plan); READ COMMITTED releases the rows the
    # WHERE rejects. PostgreSQL locks only the rows returned at any level.
    engine = app.engine.execution_options(isolation_level="READ COMMITTED") if app.backend == "mysql" else app.engine
    with Session(engine) as session:
        locked = session.scalars(select(Todo.id).where(Todo.id == 1).with_for_update(nowait=True)).all()
        skipped = session.scalars(select(Todo.id).order_by(Todo.id).with_for_update(skip_locked=True)).all()
        assert (locked, skipped) == ([1], [1, 2])
        if app.backend != "sqlite":  # SQLAlchemy prints no locking clause for SQLite
            assert any("FOR UPDATE" in s for s in app.sent)
            assert [_lock_free(app, i) for i in (1, 2, 3, 4, 5)] == [False, False, True, True, True]
    assert _lock_free(app, 1)


@pytest.fixture
def creator_engine(app: App) -> Iterator[Any]:
    """An engine whose every DB-API connection is ``rls.connect(driver connection, guard,
    current_user)`` — the guard below SQLAlchemy instead of in its events."""
    guard = Guard(POLICIES, dialect=app.db.dialect, schema=lambda: (1, app.db.schema()), owner_fill=True)
    sa_url = sqlalchemy_url(app.db.url)[0].split("://", 1)[0] + "://"
    # psycopg: SQLAlchemy looks the hstore type up with psycopg's TypeInfo, which needs the
    # driver's own connection class; an application without hstore turns that off.
    options = {"use_native_hstore": False} if app.backend == "postgres" else {}
    engine = create_engine(
        sa_url, creator=lambda: connect(driver_connection(app.db.url), guard, current_user), **options
    )
    yield engine
    engine.dispose()


@pytest.mark.parametrize("user", [ALICE, BOB], ids=["alice", "bob"])
def test_rls_connect_as_the_engines_creator(app: App, creator_engine: Any, user: AuthUser) -> None:
    """The drivers' and dialects' start-up work (sqlite3 create_function of SQLAlchemy's
    regexp and floor, psycopg's notice handler, PyMySQL's charset and server version) runs
    through the wrapper; every statement after it is guarded, the user read per statement."""
    as_user(user)
    with Session(creator_engine) as session:
        todos = session.scalars(select(Todo).options(joinedload(Todo.tags)).order_by(Todo.id)).unique().all()
        assert [t.title for t in todos] == titles(user.id)
        session.add(Todo(title="via creator", project_id=user.id))
        with session.begin_nested():
            session.add(Todo(title="nested", project_id=user.id))
        session.commit()
        session.add(Todo(title="forged", user_id=3 - user.id))
        with pytest.raises(Denied):
            session.commit()
    assert sorted((r[1], r[3]) for r in app.table("todos") if r[0] > 5) == [
        (user.id, "nested"),
        (user.id, "via creator"),
    ]
    as_user(BOB if user is ALICE else ALICE)  # the same pooled connection, the other user
    with creator_engine.connect() as conn:
        other = conn.execute(select(Todo.title).order_by(Todo.id)).scalars().all()
    assert other == titles(3 - user.id)
