"""The public API an embedding application uses: typed, driver-free until a dialect needs
its driver, ``dialect=`` required, ``Guard`` and ``Database`` as context managers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import dialects
from rls import AuthUser, Database, Guard, Policy

ROOT = Path(__file__).resolve().parent.parent
DRIVERS = ("psycopg", "pymysql", "aiosqlite", "aiomysql", "sqlalchemy", "django")


def _modules_after(code: str) -> list[str]:
    """The driver and ORM modules a fresh interpreter has loaded after running ``code``."""
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {DRIVERS!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_and_using_a_sqlite_guard_loads_no_driver() -> None:
    code = (
        "from rls import Guard, Policy, AuthUser, connect, connect_async, Database\n"
        "g = Guard([Policy('t', 'all', 'a = auth_user.id')], dialect='sqlite', schema={'t': ['a']})\n"
        "assert 'rls_t' in g.rewrite('SELECT a FROM t', AuthUser(id=1)).sql"
    )
    assert _modules_after(code) == []


def test_a_postgres_guard_loads_psycopg_only() -> None:
    code = "from rls import Guard\nGuard([], dialect='postgres')"
    assert _modules_after(code) == ["psycopg"]


def test_dialect_is_required() -> None:
    with pytest.raises(TypeError, match="dialect"):
        Guard([Policy("t", "all", "")])  # type: ignore[call-arg]


def test_the_registry_knows_each_dialects_url_schemes() -> None:
    for name in dialects.DIALECTS:
        cls = dialects.dialect_class(name)
        assert cls.name == name
        for scheme in cls.URL_SCHEMES:
            assert dialects.dialect_for_url(f"{scheme}://x/y").name == name


def test_guard_and_database_are_context_managers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/api.db"
    with Database(url) as db:
        db.run(lambda s: s.execute("CREATE TABLE t (a INTEGER)"), write=True)
        with Guard([Policy("t", "all", "a = auth_user.id")], dialect=db.dialect, schema=db.schema()) as guard:
            assert guard.rewrite("SELECT a FROM t", AuthUser(id=1)).params == (1,)
    closed: list[Any] = []
    guard = Guard.from_url(url)
    database = guard._database
    assert database is not None
    real_close = database.close
    database.close = lambda: closed.append(real_close())  # type: ignore[method-assign]
    with guard:
        pass
    assert closed == [None]


def test_the_packages_are_marked_typed() -> None:
    assert (ROOT / "rls" / "py.typed").exists() and (ROOT / "dialects" / "py.typed").exists()
    package_data = (ROOT / "pyproject.toml").read_text()
    assert 'rls = ["py.typed"]' in package_data
