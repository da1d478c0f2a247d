"""Django 5 with the guard installed as an execute_wrapper (rls.integrations.django), on the
three databases: the ORM's statements run guarded and each user sees exactly the rows the
policies give them; raw SQL, ``extra()`` and ``RawSQL`` are still guarded."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import django
import pytest
from django.conf import settings


def _pymysql_as_mysqldb() -> None:
    """Django's MySQL backend imports MySQLdb; PyMySQL stands in. Its submodules are aliased
    too: otherwise ``import MySQLdb.constants`` would load PyMySQL's modules a second time
    under the new name and replace ``pymysql.err`` — every other test's ``except
    pymysql.err.MySQLError`` would stop matching."""
    import pymysql.constants.CLIENT
    import pymysql.constants.FIELD_TYPE
    import pymysql.constants.FLAG
    import pymysql.converters
    import pymysql.cursors
    import pymysql.err

    pymysql.install_as_MySQLdb()
    for name, module in list(sys.modules.items()):
        if name.startswith("pymysql."):
            sys.modules["MySQLdb." + name.removeprefix("pymysql.")] = module


_pymysql_as_mysqldb()
if not settings.configured:
    settings.configure(
        DATABASES={}, INSTALLED_APPS=["tests"], USE_TZ=True, DEFAULT_AUTO_FIELD="django.db.models.AutoField"
    )
    django.setup()

from django.db import connections, models, transaction  # noqa: E402
from django.db.models import Count, Max  # noqa: E402
from django.db.models.expressions import RawSQL  # noqa: E402

from rls import AuthUser, Denied, Guard, Refused  # noqa: E402
from rls.database import Database  # noqa: E402
from rls.integrations.django import RlsMiddleware, current_user, django_dialect, install, uninstall  # noqa: E402
from tests.orm_app import POLICIES, SEED, visible  # noqa: E402

ALICE, BOB = AuthUser(id=1), AuthUser(id=2)


class Project(models.Model):
    owner_id = models.IntegerField()
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "tests"
        db_table = "projects"


class Tag(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "tests"
        db_table = "tags"


class Todo(models.Model):
    user_id = models.IntegerField(null=True)
    project = models.ForeignKey(Project, null=True, on_delete=models.CASCADE, related_name="todos")
    title = models.CharField(max_length=100)
    priority = models.IntegerField(default=0)
    done = models.BooleanField(default=False)
    tags = models.ManyToManyField(Tag, db_table="todo_tags")

    class Meta:
        app_label = "tests"
        db_table = "todos"


class User(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "tests"
        db_table = "users"


MODELS = (User, Project, Tag, Todo)


def _django_settings(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path}
    common = {
        "HOST": parts.hostname,
        "PORT": parts.port,
        "USER": parts.username or "",
        "PASSWORD": parts.password or "",
    }
    if parts.scheme.startswith("postgres"):
        path = parse_qs(parts.query).get("search_path", ["public"])[0]
        return {"ENGINE": "django.db.backends.postgresql", "NAME": parts.path.lstrip("/"), **common,
                "OPTIONS": {"options": f"-c search_path={path}"}}  # fmt: skip
    return {"ENGINE": "django.db.backends.mysql", "NAME": parts.path.lstrip("/"), **common,
            "OPTIONS": {"charset": "utf8mb4"}}  # fmt: skip


class DjangoApp:
    def __init__(self, backend: str, url: str):
        self.alias = f"rls_{backend}"
        configured = connections.configure_settings({"default": {}, self.alias: _django_settings(url)})
        connections.settings[self.alias] = configured[self.alias]
        with connections[self.alias].schema_editor() as editor:
            for model in MODELS:
                editor.create_model(model)
        self.db = Database(url)
        self.backend = backend
        schema = self.db.schema()
        self.guard = Guard(POLICIES, dialect=django_dialect(backend), schema=schema, owner_fill=True)
        self.sent: list[str] = []

    def reset(self) -> None:
        uninstall(self.alias)
        with transaction.atomic(using=self.alias):
            Todo.tags.through.objects.using(self.alias).all().delete()
            for model in (Todo, Tag, Project, User):
                model.objects.using(self.alias).all().delete()
            User.objects.using(self.alias).bulk_create([User(**r) for r in SEED["users"]])
            Project.objects.using(self.alias).bulk_create([Project(**r) for r in SEED["projects"]])
            Tag.objects.using(self.alias).bulk_create([Tag(**r) for r in SEED["tags"]])
            Todo.objects.using(self.alias).bulk_create([Todo(**r) for r in SEED["todos"]])
            Todo.tags.through.objects.using(self.alias).bulk_create([Todo.tags.through(**r) for r in SEED["todo_tags"]])
        if self.backend == "postgres":
            with connections[self.alias].cursor() as cursor:
                for table in ("users", "projects", "tags", "todos", "todo_tags"):
                    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)")
        install(self.guard, using=self.alias)
        connections[self.alias].execute_wrappers.append(self._record)

    def _record(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.sent.append(sql)
        return execute(sql, params, many, context)

    def table(self, name: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(r) for r in self.db.run(lambda s: s.execute(f"SELECT * FROM {name}").rows))


@pytest.fixture(scope="module")
def app_for(make_database_url: Any) -> Iterator[Any]:
    made: dict[str, DjangoApp] = {}

    def get(backend: str) -> DjangoApp:
        if backend not in made:
            made[backend] = DjangoApp(backend, make_database_url(backend))
        connections[made[backend].alias].execute_wrappers.clear()
        made[backend].reset()
        return made[backend]

    yield get
    for app in made.values():
        connections[app.alias].execute_wrappers.clear()
        connections[app.alias].close()
        app.db.close()


@pytest.fixture
def app(app_for: Any, backend: str) -> Iterator[DjangoApp]:
    made = app_for(backend)
    token = current_user.set(ALICE)
    yield made
    current_user.reset(token)


def todos(app: DjangoApp) -> Any:
    return Todo.objects.using(app.alias)


@pytest.mark.parametrize("user", [ALICE, BOB], ids=["alice", "bob"])
def test_querysets_return_the_rows_the_policy_shows(app: DjangoApp, user: AuthUser) -> None:
    current_user.set(user)
    titles = list(todos(app).order_by("id").values_list("title", flat=True))
    projects = list(Project.objects.using(app.alias).values_list("name", flat=True))
    assert titles == [r["title"] for r in visible("todos", user.id)]
    assert projects == [r["name"] for r in visible("projects", user.id)]


def test_select_related_and_prefetch_related(app: DjangoApp) -> None:
    rows = todos(app).select_related("project").prefetch_related("tags").order_by("id")
    seen = [(t.title, t.project.name, [g.name for g in t.tags.order_by("id")]) for t in rows]
    assert seen == [("buy milk", "home", ["red", "blue"]), ("BUY% bread", "home", [])]


def test_aggregates_count_visible_rows_only(app: DjangoApp) -> None:
    current_user.set(BOB)
    grouped = todos(app).values("done").annotate(n=Count("id"), top=Max("priority")).order_by("done")
    assert [(g["done"], g["n"], g["top"]) for g in grouped] == [(False, 2, 9), (True, 1, 3)]
    assert todos(app).count() == 3


def test_create_update_delete(app: DjangoApp) -> None:
    new = todos(app).create(title="new", project_id=1)  # no owner: filled with alice's id
    assert todos(app).filter(done=False).update(priority=7) == 2
    assert todos(app).filter(title="BUY% bread").delete()[0] == 1
    assert todos(app).filter(id=3).update(title="x") == 0  # bob's row: not touched
    assert [(r[0], r[1], r[3], r[4]) for r in app.table("todos")] == [
        (1, 1, "buy milk", 7), (3, 2, "write report", 9), (4, 2, "call bank", 1), (5, 2, "buy stamps", 3),
        (new.id, 1, "new", 7),
    ]  # fmt: skip


def test_a_write_for_another_user_is_denied(app: DjangoApp) -> None:
    before = app.table("todos")
    with pytest.raises(Denied):
        todos(app).create(title="forged", user_id=2)
    assert app.table("todos") == before


def test_nested_atomic_blocks(app: DjangoApp) -> None:
    with transaction.atomic(using=app.alias):
        todos(app).create(title="outer")
        try:
            with transaction.atomic(using=app.alias):
                todos(app).create(title="inner")
                raise RuntimeError("roll the inner block back")
        except RuntimeError:
            pass
    assert [r[3] for r in app.table("todos") if r[0] > 5] == ["outer"]
    assert any("SAVEPOINT" in s.upper() for s in app.sent)


def test_select_for_update(app: DjangoApp) -> None:
    with transaction.atomic(using=app.alias):
        locked = list(todos(app).select_for_update().order_by("id").values_list("id", flat=True))
    assert locked == [1, 2]


def test_bulk_create(app: DjangoApp) -> None:
    todos(app).bulk_create([Todo(title=f"bulk {i}", user_id=1) for i in range(3)])
    assert not any("UNNEST" in s.upper() for s in app.sent)  # PostgreSQL: multi-row VALUES
    assert sorted(r[3] for r in app.table("todos") if r[0] > 5) == ["bulk 0", "bulk 1", "bulk 2"]


def test_raw_extra_and_rawsql_are_still_guarded(app: DjangoApp) -> None:
    current_user.set(BOB)
    raw = [t.id for t in todos(app).raw("SELECT * FROM todos ORDER BY id")]
    extra = list(todos(app).extra(where=["1=1) OR (1=1"]).order_by("id").values_list("id", flat=True))
    annotated = todos(app).annotate(n=RawSQL("SELECT COUNT(*) FROM todos", ())).values_list("n", flat=True)
    assert (raw, extra, set(annotated)) == ([3, 4, 5], [3, 4, 5], {3})
    with connections[app.alias].cursor() as cursor, pytest.raises(Refused):
        cursor.execute("DELETE FROM todos; DROP TABLE todos")
    assert len(app.table("todos")) == 5


def test_middleware_runs_the_request_as_its_user(app: DjangoApp) -> None:
    current_user.set(AuthUser())

    def view(request: Any) -> list[int]:
        return list(todos(app).order_by("id").values_list("id", flat=True))

    middleware = RlsMiddleware(view)
    bob = SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=2, is_superuser=False))
    anonymous = SimpleNamespace(user=SimpleNamespace(is_authenticated=False))
    assert middleware(bob) == [3, 4, 5]
    with pytest.raises(Exception):  # noqa: B017 - the anonymous user: denied or refused, never rows
        middleware(anonymous)
    assert current_user.get() == AuthUser()


@pytest.mark.parametrize("user", [ALICE, BOB], ids=["alice", "bob"])
def test_async_queries_go_through_the_same_wrapper(app: DjangoApp, user: AuthUser) -> None:
    """Django 5's async ORM (``async for``, ``acount``, ``acreate``) runs the sync ORM in a
    worker thread (asgiref's sync_to_async), whose context is copied from the awaiting
    task. The worker thread has a connection of its own, guarded by ``install``'s
    ``connection_created`` hook, and reads that task's user."""
    import asyncio

    async def view() -> tuple[list[str], int, Any]:
        current_user.set(user)
        titles = [t.title async for t in todos(app).order_by("id")]
        count = await todos(app).filter(done=False).acount()
        created = await todos(app).acreate(title="async", project_id=user.id)
        return titles, count, created.user_id

    titles, count, owner = asyncio.run(view())
    mine = visible("todos", user.id)
    assert titles == [r["title"] for r in mine]
    assert count == sum(1 for r in mine if not r["done"])
    assert owner in (user.id, None)  # owner fill happens in the database
    assert [(r[1], r[3]) for r in app.table("todos") if r[3] == "async"] == [(user.id, "async")]
