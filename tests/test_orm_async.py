"""SQLAlchemy's asyncio engine with the guard (rls.integrations.sqlalchemy installed on an
AsyncEngine): psycopg's AsyncConnection, aiosqlite and aiomysql (MariaDB). Same guarantees as
the sync engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from rls import AuthUser, Denied, Guard
from rls.integrations.sqlalchemy import install
from tests.orm_app import POLICIES, sqlalchemy_url, visible
from tests.test_orm_sqlalchemy import ALICE, BOB, App, Todo, current_user

ASYNC_DRIVERS = {
    "sqlite": ("sqlite://", "sqlite+aiosqlite://"),
    "postgres": ("+psycopg://", "+psycopg_async://"),
    "mysql": ("+pymysql://", "+aiomysql://"),
}


@pytest.fixture(scope="module")
def apps(make_database_url: Any) -> Iterator[dict[str, App]]:
    made: dict[str, App] = {}
    yield made
    for app in made.values():
        app.engine.dispose()
        app.raw.dispose()
        app.db.close()


@pytest.fixture(params=sorted(ASYNC_DRIVERS))
def async_app(request: pytest.FixtureRequest, apps: dict[str, App], make_database_url: Any) -> Iterator[Any]:
    backend = request.param
    if backend not in apps:
        apps[backend] = App(make_database_url(backend))
    app = apps[backend]
    app.reset()
    url, connect_args = sqlalchemy_url(app.db.url)
    sync, asynchronous = ASYNC_DRIVERS[backend]
    # Each test runs its own event loop (asyncio.run): a pooled connection would outlive the
    # loop it belongs to (aiomysql then leaves its socket open), so none is pooled.
    engine = create_async_engine(url.replace(sync, asynchronous, 1), connect_args=connect_args, poolclass=NullPool)
    guard = Guard(POLICIES, dialect=app.db.dialect, schema=lambda: (1, app.db.schema()), owner_fill=True)
    install(engine, guard, current_user)
    yield app, engine
    asyncio.run(engine.dispose())


@pytest.mark.parametrize("user", [ALICE, BOB], ids=["alice", "bob"])
def test_async_session_reads_the_rows_the_policy_shows(async_app: Any, user: AuthUser) -> None:
    _, engine = async_app

    async def run() -> list[str]:
        current_user.set(user)
        async with AsyncSession(engine) as session:
            return list((await session.scalars(select(Todo.title).order_by(Todo.id))).all())

    assert asyncio.run(run()) == [r["title"] for r in visible("todos", user.id)]


def test_async_writes_nested_transactions_and_denials(async_app: Any) -> None:
    app, engine = async_app

    async def run() -> None:
        current_user.set(ALICE)
        async with AsyncSession(engine) as session:
            session.add(Todo(title="outer", project_id=1))
            inner = await session.begin_nested()
            session.add(Todo(title="inner", project_id=1))
            await session.flush()
            await inner.rollback()
            await session.commit()
        async with AsyncSession(engine) as session:
            session.add(Todo(title="forged", user_id=2))
            with pytest.raises(Denied):
                await session.commit()

    asyncio.run(run())
    assert [(r[1], r[3]) for r in app.table("todos") if r[0] > 5] == [(1, "outer")]


def test_concurrent_tasks_each_run_as_their_own_user(async_app: Any) -> None:
    _, engine = async_app

    async def titles(user: AuthUser) -> list[str]:
        current_user.set(user)  # each task has its own context
        async with AsyncSession(engine) as session:
            await asyncio.sleep(0)
            return list((await session.scalars(select(Todo.title).order_by(Todo.id))).all())

    async def both() -> list[list[str]]:
        return list(await asyncio.gather(*(titles(u) for u in (ALICE, BOB, ALICE, BOB))))

    expected = [[r["title"] for r in visible("todos", u.id)] for u in (ALICE, BOB, ALICE, BOB)]
    assert asyncio.run(both()) == expected
