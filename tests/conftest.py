"""Fixtures: every database test runs on sqlite, postgres and mysql.

Each test session works in its own PostgreSQL schema and MariaDB database, dropped at
the end. Servers come from RLS_TEST_POSTGRES_URL / RLS_TEST_MYSQL_URL (defaults: the
local servers). A missing server skips its tests on a laptop and fails them when
CI=true.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import psycopg
import pymysql
import pytest

from rls.config import Config
from rls.database import Database
from rls.http.app import create_app
from tests import dataset
from tests.client import Client

POSTGRES_URL = os.environ.get("RLS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("RLS_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
BACKENDS = ("sqlite", "postgres", "mysql")


def _unavailable(name: str, error: Exception) -> None:
    message = f"{name} server not reachable ({type(error).__name__}: {error})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message}; CI requires every database", pytrace=False)
    pytest.skip(f"{message}; start it with ../shared/tools/dbs-up")


def _postgres_namespace(name: str) -> tuple[str, Callable[[], None]]:
    args = Database(POSTGRES_URL).dialect.connect_args(POSTGRES_URL)

    def admin(statement: str) -> None:
        # A short-lived connection each time: holding one per namespace would exhaust
        # the server's connection slots in a long run.
        with psycopg.connect(**args, autocommit=True) as conn:
            conn.execute(statement)

    try:
        admin(f'CREATE SCHEMA "{name}"')
    except psycopg.Error as exc:
        _unavailable("postgres", exc)
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}search_path={name}", lambda: admin(f'DROP SCHEMA "{name}" CASCADE')


def _mysql_namespace(name: str) -> tuple[str, Callable[[], None]]:
    args = Database(MYSQL_URL).dialect.connect_args(MYSQL_URL)
    args.pop("database", None)

    def admin(statement: str) -> None:
        conn = pymysql.connect(**args, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    try:
        admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    except pymysql.err.MySQLError as exc:
        _unavailable("mysql", exc)
    base, _, _ = MYSQL_URL.rpartition("/")
    return f"{base}/{name}", lambda: admin(f"DROP DATABASE `{name}`")


@pytest.fixture(scope="session")
def make_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """A factory of empty, isolated databases: ``make_database_url("postgres")`` → URL."""
    cleanups: list[Callable[[], None]] = []

    def make(backend: str) -> str:
        name = f"rls_t_{secrets.token_hex(4)}"
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp(name)}/test.db"
        url, drop = (_postgres_namespace if backend == "postgres" else _mysql_namespace)(name)
        cleanups.append(drop)
        return url

    yield make
    for cleanup in cleanups:
        cleanup()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database a test runs on: sqlite, postgres or mysql."""
    return str(request.param)


@pytest.fixture(scope="session")
def dataset_url(backend: str, make_database_url: Callable[[str], str]) -> str:
    """A database holding the tables of :mod:`tests.dataset`."""
    url = make_database_url(backend)
    db = Database(url)
    try:
        dataset.create_tables(db)
        dataset.reset_rows(db)
    finally:
        db.close()
    return url


class _State:
    dirty: ClassVar[dict[str, bool]] = {}


@pytest.fixture(scope="session")
def shared_app(dataset_url: str) -> Iterator[Any]:
    app = create_app(Config(db_url=dataset_url))
    yield app
    app.db.close()


@pytest.fixture
def client(shared_app: Any, dataset_url: str) -> Iterator[Client]:
    """A client of an app on the dataset; rows are reset after a test that wrote."""
    if _State.dirty.get(dataset_url):
        dataset.reset_rows(shared_app.db)
        _State.dirty[dataset_url] = False
    c = Client(shared_app)
    yield c
    if c.wrote:
        _State.dirty[dataset_url] = True


@pytest.fixture
def make_client(dataset_url: str) -> Iterator[Callable[..., Client]]:
    """``make_client(**config_overrides)``: a client of a new app on the dataset."""
    apps: list[Any] = []

    def make(**overrides: Any) -> Client:
        app = create_app(Config(db_url=dataset_url).replace(**overrides))
        apps.append(app)
        return Client(app)

    if _State.dirty.get(dataset_url):
        db = Database(dataset_url)
        dataset.reset_rows(db)
        db.close()
        _State.dirty[dataset_url] = False
    yield make
    _State.dirty[dataset_url] = True
    for app in apps:
        app.db.close()


@pytest.fixture
def sql(shared_app: Any) -> Callable[..., list[tuple[Any, ...]]]:
    """Run SQL directly on the dataset (to check what a request really changed)."""

    def run(statement: str, *params: Any) -> list[tuple[Any, ...]]:
        return shared_app.db.run(lambda s: s.execute(statement, params).rows)

    return run
