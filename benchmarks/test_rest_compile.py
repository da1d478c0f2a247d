"""REST request → SQL: the first compile of a shape, the cached compile (plan lookup), and
a whole cached request (parse the query string, look up, bind) — against a bare sqlglot
parse + generate of the same SQL text, the baseline."""

from __future__ import annotations

import pytest
import sqlglot

from dialects import get_dialect
from rls.rest.compiler import RestCompiler
from rls.rest.plan import compile_read, paging_values
from rls.rest.query import parse_query
from rls.schema import Column, Kind, Table

TODOS = Table.build(
    "todos",
    [Column("id", Kind.INTEGER), Column("user_id", Kind.INTEGER), Column("title", Kind.TEXT),
     Column("done", Kind.BOOLEAN), Column("details", Kind.JSON)],
    ["id"],
)  # fmt: skip
QUERY = "user_id=eq.42&done=is.false&title=like.*milk*&select=id,title,details->>qty&order=id.desc&page=2"
DIALECTS = ["postgres", "mysql", "sqlite"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_bare_sqlglot_parse_and_generate(benchmark, dialect):
    benchmark.group = f"rest-compile-{dialect}"
    benchmark.extra_info["baseline"] = True
    d = get_dialect(dialect)
    sql = compile_read(TODOS, parse_query(QUERY), d).sql.replace("%s", "1").replace("?", "1")
    benchmark(lambda: sqlglot.parse_one(sql, read=d.SQLGLOT).sql(d.SQLGLOT))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_compile_first_time(benchmark, dialect):
    benchmark.group = f"rest-compile-{dialect}"
    d = get_dialect(dialect)
    benchmark(lambda: compile_read(TODOS, parse_query(QUERY), d))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_compile_cached(benchmark, dialect):
    """The compile step on a hit: the plan for this shape from the cache."""
    benchmark.group = f"rest-compile-{dialect}"
    compiler = RestCompiler(get_dialect(dialect))
    query = parse_query(QUERY)
    compiler.read(1, TODOS, query)
    plan = benchmark(lambda: compiler.read(1, TODOS, query))
    assert plan is compiler.read(1, TODOS, query) and compiler.cache.misses == 1


@pytest.mark.parametrize("dialect", DIALECTS)
def test_request_cached(benchmark, dialect):
    """All a repeated request pays before the database: parse, look up, bind."""
    benchmark.group = f"rest-compile-{dialect}"
    compiler = RestCompiler(get_dialect(dialect))

    def request() -> list[object]:
        query = parse_query(QUERY)
        limit, *offset = paging_values(query, default_size=100, max_size=1000)
        plan = compiler.read(1, TODOS, query, limit=limit)
        return plan.bind([*query.values(), *offset])

    params = benchmark(request)
    # Values in the order of the SQL's placeholders (typed filters first; SQLite's LIKE
    # reads its pattern twice), then OFFSET (the page size is written into the SQL).
    assert params[-1:] == [100] and set(params[:-1]) == {"%milk%", 42}
    assert compiler.cache.misses == 1
