"""Guard rewrite of a 1-table and a 3-join statement: first call against cached call,
with a bare sqlglot parse + generate of the same text as the reference."""

from __future__ import annotations

import pytest
import sqlglot

from rls import AuthUser, Guard, Policy

SCHEMA = {
    "orders": ["id", "user_id", "customer_id", "product_id", "status", "created_at", "total"],
    "customers": ["id", "user_id", "name", "country"],
    "products": ["id", "name", "price"],
    "shipments": ["id", "order_id", "user_id", "shipped_at"],
    "docs": ["id", "user_id", "title", "status", "created_at"],
}
POLICIES = [Policy("all", "all", "user_id = auth_user.id"), Policy("products", "all", "")]
STATEMENTS = {
    "1-table": "SELECT id, title, created_at FROM docs WHERE user_id = 42 AND status = 'open' AND created_at > '2024-01-01'",
    "3-join": (
        "SELECT o.id, c.name, p.name, s.shipped_at FROM orders o JOIN customers c ON c.id = o.customer_id "
        "JOIN products p ON p.id = o.product_id JOIN shipments s ON s.order_id = o.id "
        "WHERE o.status = 'paid' AND c.country = 'NL' ORDER BY o.created_at DESC LIMIT 50"
    ),
}
USER = AuthUser(id=42)


@pytest.mark.parametrize("shape", list(STATEMENTS))
def test_bare_sqlglot_parse_and_generate(benchmark, shape):
    benchmark.group = f"guard-{shape}"
    benchmark.extra_info["baseline"] = True
    sql = STATEMENTS[shape]
    benchmark(lambda: sqlglot.parse_one(sql, read="postgres").sql("postgres"))


@pytest.mark.parametrize("shape", list(STATEMENTS))
def test_guard_first_call(benchmark, shape):
    benchmark.group = f"guard-{shape}"
    sql = STATEMENTS[shape]

    def first_call() -> object:
        return Guard(POLICIES, dialect="postgres", schema=SCHEMA).rewrite(sql, USER)

    benchmark(first_call)


@pytest.mark.parametrize("shape", list(STATEMENTS))
def test_guard_cached_call(benchmark, shape):
    benchmark.group = f"guard-{shape}"
    guard = Guard(POLICIES, dialect="postgres", schema=SCHEMA)
    sql = STATEMENTS[shape]
    guard.rewrite(sql, USER)
    statement = benchmark(lambda: guard.rewrite(sql, USER))
    assert "user_id" in statement.sql
