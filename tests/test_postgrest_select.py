"""PostgREST's select grammar: *, table.*, aliases, casts, aggregate methods, JSON paths —
and the original grammar beside it, on every database."""

from __future__ import annotations

import pytest

from rls.rest.terms import EmbedSyntax, parse_embed, split_select


def ok(reply):
    assert reply.status == 200, reply.body
    return reply.json


def test_split_select_keeps_embedded_lists_whole():
    assert split_select("a, b:c(d,e(f)),g") == ["a", "b:c(d,e(f))", "g"]


@pytest.mark.parametrize("text", ["a(b", "a)b(", "x,(y))"])
def test_split_select_refuses_unbalanced_parentheses(text):
    from rls.errors import BadRequest

    with pytest.raises(BadRequest):
        split_select(text)


def test_parse_embed_reads_alias_hint_and_inner():
    assert parse_embed("p:projects!todos_project_id_fkey!inner(id,name)") == EmbedSyntax(
        "projects", "p", ("todos_project_id_fkey",), True, "id,name"
    )
    assert parse_embed("max(id)") is None  # the original grammar's function
    assert parse_embed("count!hint(*)") is not None  # a hint makes it a resource


def test_select_star(client):
    rows = ok(client.get("/todos", "select=*&id=eq.1"))
    assert list(rows[0])[:3] == ["id", "project_id", "user_id"]


def test_select_table_star_is_every_column(client):
    assert ok(client.get("/todos", "select=todos.*&id=eq.1")) == ok(client.get("/todos", "id=eq.1"))


def test_select_star_mixed_with_a_column_alias(client):
    row = ok(client.get("/todos", "select=*,t:title&id=eq.1"))[0]
    assert row["t"] == row["title"] == "buy milk" and "details" in row


def test_select_alias_renames_a_column(client):
    assert ok(client.get("/todos", "select=key:id,name:title&id=eq.4")) == [{"key": 4, "name": "snake_case"}]


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("score::text", {"mysql": "0.10", "postgres": "0.10", "sqlite": "0.1"}),
        ("rating::int", 2),
        ("v:title::text", "snake_case"),
        ("id::numeric", 4),
        ("rating::float8", 2.25),
    ],
)
def test_select_cast(client, backend, select, expected):
    row = ok(client.get("/todos", f"select={select}&id=eq.4"))[0]
    value = next(iter(row.values()))
    assert value == (expected[backend] if isinstance(expected, dict) else expected)


def test_select_cast_keeps_the_column_name(client):
    assert list(ok(client.get("/todos", "select=id::text&id=eq.4"))[0]) == ["id"]


@pytest.mark.parametrize("target", ["regclass", "pg_sleep", "text)--", "json"])
def test_select_cast_to_an_unlisted_type_is_400(client, target):
    reply = client.get("/todos", f"select=id::{target}")
    assert reply.status == 400, reply.body


def test_select_cast_that_fails_on_a_value_is_a_clean_error(client, backend):
    # 'buy milk'::int raises on PostgreSQL; MariaDB and SQLite convert what they can.
    reply = client.get("/todos", "select=title::int&id=eq.1")
    if backend == "postgres":
        assert reply.status == 400 and "msg" in reply.json
    else:
        assert reply.status == 200 and reply.json == [{"title": 0}]


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("id.max()", {"max": 7}),
        ("id.min()", {"min": 1}),
        ("count()", {"count": 7}),
        ("user_id.count()", {"count": 6}),
        ("total:score.sum()", {"total": 20.6}),
        ("n:id.count()::text", {"n": "7"}),
    ],
)
def test_select_aggregate_methods(client, select, expected):
    row = ok(client.get("/todos", f"select={select}"))[0]
    key = next(iter(expected))
    assert row[key] == pytest.approx(expected[key]) if isinstance(expected[key], float) else row == expected


def test_select_avg(client):
    assert ok(client.get("/todos", "select=rating.avg()&user_id=eq.2"))[0]["avg"] == pytest.approx(1.625)


def test_select_aggregate_groups_by_the_other_columns(client):
    rows = ok(client.get("/todos", "select=user_id,n:count(),top:id.max()&user_id=gt.0&order=user_id"))
    assert rows == [
        {"user_id": 1, "n": 2, "top": 2},
        {"user_id": 2, "n": 2, "top": 4},
        {"user_id": 3, "n": 2, "top": 7},
    ]


def test_select_aggregate_with_cast_before(client):
    rows = ok(client.get("/todos", "select=s:rating::int.sum()&id=in.(1,4)"))
    assert rows == [{"s": 7}] or rows == [{"s": 6}]  # 4.5 rounds to 4 or 5 by database


def test_select_unknown_aggregate_is_400(client):
    assert client.get("/todos", "select=id.sleep()").status == 400


def test_original_function_grammar_still_works(client):
    assert ok(client.get("/todos", "select=max(id),n:count(*)")) == [{"max": 7, "n": 7}]


def test_select_json_path_postgrest_style(client):
    rows = ok(client.get("/todos", [("select", "id,details->shop->>name,q:details->qty"), ("id", "eq.4")]))
    assert rows == [{"id": 4, "name": "mall", "q": 1}]


def test_select_unknown_function_is_still_refused(client):
    reply = client.get("/todos", "select=sleep(id)")
    assert reply.status == 400 and "function not allowed" in reply.msg


def test_select_same_output_name_twice_is_400(client):
    assert client.get("/todos", "select=id,id::text").status == 400
