"""The differential fuzzer's statements (``make fuzz``, :mod:`tests.fuzz`) as a second cold-rewrite corpus.

Issue 9 states its cold-rewrite targets over the fuzz corpus: SELECT and DML on the fuzzer's
six tables, as its seven users, under its policies (team membership sub-queries, claims,
admin flags) — heavier policies than the benchmark's ``user_id = auth_user.id``. The tables are
created empty in their own namespace (``<namespace>_fuzz``) so that each guard reads a real
schema, and dropped after the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.guard_scale import data
from benchmarks.guard_scale.rewrites import Statement
from rls import Guard
from rls.database import Database


def available() -> bool:
    """Whether the fuzzer's package is importable (it lives in the test suite)."""
    try:
        import tests.fuzz.shapes  # noqa: F401
    except ImportError:
        return False
    return True


def statements(count: int, dialect: str, seed: int = 1) -> list[Statement]:
    """The first ``count`` fuzz cases of ``seed`` that have a variant for ``dialect``, bound as the
    fuzzer binds them, each with its user."""
    from tests.fuzz.backends import bind
    from tests.fuzz.shapes import Statements
    from tests.fuzz.world import USERS

    gen = Statements(seed)
    out: list[Statement] = []
    seen: set[str] = set()
    for index in range(count * 2):
        case = gen.case(index)
        if case.sql.get(dialect) is None:
            continue
        sql, params = bind(case, dialect)
        if sql in seen:
            continue
        seen.add(sql)
        out.append(Statement(f"fuzz-{case.kind}", sql, params, USERS[case.user]))
        if len(out) == count:
            break
    return out


@contextmanager
def guards(targets: list[data.Target], namespace: str) -> Iterator[dict[str, Guard]]:
    """A guard per database over the fuzzer's (empty) tables and policies."""
    from tests.fuzz.world import POLICIES, ddl

    made: dict[str, tuple[Guard, Database, data.Target]] = {}
    try:
        for t in targets:
            db = Database(data.empty_namespace(t.name, t.base, namespace, ddl(t.name)))
            made[t.name] = (Guard(POLICIES, dialect=t.name, schema=_schema(db)), db, t)
        yield {name: guard for name, (guard, _, _) in made.items()}
    finally:
        for name, (_, db, t) in made.items():
            db.close()
            data.drop(name, t.base, namespace)


def _schema(db: Database) -> Any:
    return lambda: (db.schema_version, db.schema())
