"""REST request → SQL: compiling a shape for the first time against a cached shape."""

from __future__ import annotations

import pytest

from dialects import get_dialect
from rls.rest.compiler import RestCompiler
from rls.rest.plan import compile_read, paging_values
from rls.rest.query import parse_query
from rls.schema import Column, Kind, Table

TODOS = Table.build(
    "todos",
    [
        Column("id", Kind.INTEGER),
        Column("user_id", Kind.INTEGER),
        Column("title", Kind.TEXT),
        Column("done", Kind.BOOLEAN),
        Column("details", Kind.JSON),
    ],
    ["id"],
)
QUERY = "user_id=eq.42&done=is.false&title=like.*milk*&select=id,title,details->>qty&order=id.desc&page=2"


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_compile_first_time(benchmark, dialect):
    benchmark.group = f"rest-compile-{dialect}"
    benchmark.extra_info["baseline"] = True
    d = get_dialect(dialect)
    benchmark(lambda: compile_read(TODOS, parse_query(QUERY), d))


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_compile_cached_shape(benchmark, dialect):
    """What every request after the first pays: parse the query string, look up, bind."""
    benchmark.group = f"rest-compile-{dialect}"
    compiler = RestCompiler(get_dialect(dialect))

    def request() -> list[object]:
        query = parse_query(QUERY)
        plan = compiler.read(1, TODOS, query)
        return plan.bind([*query.values(), *paging_values(query, default_size=100, max_size=1000)])

    params = benchmark(request)
    assert params == ["%milk%", 42, 100, 100]
    assert compiler.cache.misses == 1
