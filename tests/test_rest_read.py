"""GET /<table>: filters, select, order, paging, flags — the same results on every database."""

from __future__ import annotations

import pytest


def ids(reply):
    assert reply.status == 200, reply.body
    return [row["id"] for row in reply.json]


def test_root_says_the_server_is_up(client):
    reply = client.get("/")
    assert (reply.status, reply.json) == (200, {"msg": "rest server is up and running"})


def test_read_returns_every_column_in_table_order(client):
    row = client.get("/todos", "id=eq.1").json[0]
    assert list(row) == [
        "id",
        "project_id",
        "user_id",
        "title",
        "done",
        "score",
        "rating",
        "due",
        "created",
        "details",
        "note",
    ]


def test_read_returns_typed_json_values(client):
    row = client.get("/todos", "id=eq.1").json[0]
    assert row["id"] == 1 and row["done"] is True
    assert row["score"] == 2.5 and row["rating"] == 4.5
    assert row["due"] == "2026-01-10"
    assert row["created"].startswith("2026-01-01")
    assert row["details"] == {"qty": 2, "tags": ["a", "b"], "shop": {"name": "corner"}}
    assert row["note"] is None


def test_read_returns_null_for_null_not_a_zero_value(client):
    row = client.get("/todos", "id=eq.5").json[0]
    assert row["user_id"] is None and row["project_id"] is None and row["details"] is None


def test_read_orders_by_primary_key_by_default(client):
    assert ids(client.get("/todos")) == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("id=eq.3", [3]),
        ("id=ne.3", [1, 2, 4, 5, 6, 7]),
        ("id=gt.5", [6, 7]),
        ("id=gte.5", [5, 6, 7]),
        ("id=lt.3", [1, 2]),
        ("id=lte.2", [1, 2]),
        ("id=in.(2,4,99)", [2, 4]),
        ("user_id=is.null", [5]),
        ("done=is.true", [1, 3, 6]),
        ("done=is.false", [2, 4, 5, 7]),
        ("done=eq.true", [1, 3, 6]),
        ("done=eq.false", [2, 4, 5, 7]),
        ("score=gt.2", [1, 2, 5]),
        ("score=eq.2.50", [1]),
        ("rating=gte.3", [1, 5, 7]),
        ("due=lt.2026-01-11", [1, 6]),
        ("due=eq.2026-01-10", [1, 6]),
        ("title=eq.buy milk", [1]),
        ("title=in.(buy milk,snake_case)", [1, 4]),
    ],
)
def test_filter_operator(client, query, expected):
    assert ids(client.get("/todos", query)) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*milk", [1]),  # like is case-sensitive everywhere
        ("*Milk", [2]),
        ("100%*", [3]),  # % is a wildcard too
        ("snake_case", [4]),
        ("*\\\\*", [5]),  # an escaped backslash matches a backslash
        ("*\\%*", [3]),  # an escaped % matches only a percent sign
        ('*"quoted"', [6]),
        ("ünï*", [7]),
    ],
)
def test_filter_like(client, pattern, expected):
    assert ids(client.get("/todos", [("title", f"like.{pattern}")])) == expected


def test_filter_ilike_ignores_case(client):
    assert ids(client.get("/todos", "title=ilike.*MILK")) == [1, 2]


def test_filters_on_one_key_combine_with_and(client):
    assert ids(client.get("/todos", "id=gt.1&id=lt.4")) == [2, 3]


def test_filters_on_several_keys_combine_with_and(client):
    assert ids(client.get("/todos", "user_id=eq.1&done=is.false")) == [2]


def test_filter_value_keeps_its_dots(client):
    reply = client.get("/todos", [("title", "eq.a.b.c")])
    assert ids(reply) == []


def test_filter_in_list_takes_quoted_items_with_commas(client):
    assert ids(client.get("/todos", [("title", 'in.("buy milk","a,b")')])) == [1]


def test_filter_in_list_with_decimal_values(client):
    assert ids(client.get("/todos", "score=in.(2.5,0.1)")) == [1, 4]


def test_filter_on_json_path(client):
    assert ids(client.get("/todos", [("details->>qty", "eq.40")])) == [3]


def test_filter_on_nested_json_path(client):
    assert ids(client.get("/todos", [("details->shop->>name", "eq.mall")])) == [4]


def test_filter_on_json_array_index(client):
    assert ids(client.get("/todos", [("details->tags->>1", "eq.b")])) == [1]


def test_select_columns_in_the_order_asked(client):
    reply = client.get("/todos", "select=title,id&id=eq.1")
    assert reply.json == [{"title": "buy milk", "id": 1}]
    assert list(reply.json[0]) == ["title", "id"]


def test_select_json_path_returns_json_under_its_last_key(client):
    reply = client.get("/todos", [("select", "id,details->shop,details->>qty"), ("id", "eq.1")])
    assert reply.json == [{"id": 1, "shop": {"name": "corner"}, "qty": "2"}]


def test_select_aggregate_is_returned_under_the_function_name(client):
    reply = client.get("/todos", "select=max(id),min(id),count(*)")
    assert reply.json == [{"max": 7, "min": 1, "count": 7}]


def test_select_aggregate_with_alias(client):
    reply = client.get("/todos", "select=total:sum(score)&user_id=eq.1")
    assert reply.json == [{"total": 12.5}]


def test_select_mixed_columns_and_aggregates_groups_by_the_columns(client):
    reply = client.get(
        "/todos",
        "select=user_id,n:count(id)&user_id=not_null"
        if False
        else "select=user_id,n:count(id)&user_id=gt.0&order=user_id",
    )
    assert reply.json == [{"user_id": 1, "n": 2}, {"user_id": 2, "n": 2}, {"user_id": 3, "n": 2}]


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("length(title)", 10),
        ("upper(title)", "SNAKE_CASE"),
        ("lower(title)", "snake_case"),
        ("trim(title)", "snake_case"),
        ("abs(score)", 0.1),
        ("round(rating)", 2.0),
        ("floor(rating)", 2.0),
        ("ceil(rating)", 3.0),
        ("date(due)", "2026-02-01"),
    ],
)
def test_select_scalar_function(client, select, expected):
    reply = client.get("/todos", f"select=v:{select}&id=eq.4")
    assert reply.status == 200, reply.body
    assert reply.json[0]["v"] == expected


def test_select_same_name_twice_is_refused(client):
    reply = client.get("/todos", "select=max(id),max(user_id)")
    assert reply.status == 400 and "alias" in reply.msg


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("id.desc", [7, 6, 5, 4, 3, 2, 1]),
        ("user_id.asc,id.desc", [2, 1, 4, 3, 7, 6, 5]),
        ("user_id.desc,id", [5, 6, 7, 3, 4, 1, 2]),
        ("user_id.asc.nullsfirst,id", [5, 1, 2, 3, 4, 6, 7]),
        ("user_id.desc.nullslast,id", [6, 7, 3, 4, 1, 2, 5]),
    ],
)
def test_order(client, order, expected):
    assert ids(client.get("/todos", f"order={order}")) == expected


def test_order_by_json_path(client):
    reply = client.get("/todos", [("order", "details->>qty.desc.nullslast,id"), ("select", "id")])
    assert ids(reply) == [3, 1, 4, 6, 2, 5, 7]


def test_page_and_page_size(client):
    assert ids(client.get("/todos", "page=2&page_size=3")) == [4, 5, 6]
    assert ids(client.get("/todos", "page=3&page_size=3")) == [7]


def test_limit_and_offset(client):
    assert ids(client.get("/todos", "limit=2&offset=1")) == [2, 3]


def test_default_page_size_is_the_configured_one(make_client):
    assert ids(make_client(page_size=2, max_page_size=10).get("/todos")) == [1, 2]


def test_page_size_above_the_maximum_is_refused(make_client):
    reply = make_client(page_size=5, max_page_size=5).get("/todos", "page_size=6")
    assert reply.status == 400 and "at most 5" in reply.msg


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=-1", "limit=1.5", "offset=-2", "page=1&offset=1"])
def test_bad_paging_numbers_are_refused(client, query):
    assert client.get("/todos", query).status == 400


def test_count_returns_a_bare_number(client):
    reply = client.get("/todos", "count&done=is.true")
    assert (reply.status, reply.json) == (200, 3)


def test_singular_returns_one_object(client):
    reply = client.get("/todos", "id=eq.2&singular&select=id,title")
    assert reply.json == {"id": 2, "title": "Buy Milk"}


def test_singular_without_a_row_is_404(client):
    reply = client.get("/todos", "id=eq.99&singular")
    assert (reply.status, reply.msg) == (404, "data not found in database")


def test_singular_with_several_rows_is_400(client):
    assert client.get("/todos", "user_id=eq.1&singular").status == 400


def test_row_by_primary_key(client):
    reply = client.get("/todos/3", "select=id,title")
    assert reply.json == {"id": 3, "title": "100% done"}


def test_row_by_primary_key_not_found(client):
    reply = client.get("/todos/99")
    assert (reply.status, reply.msg) == (404, "data not found in database")


def test_row_by_primary_key_needs_a_single_column_key(client):
    reply = client.get("/nokey/1")
    assert reply.status == 400 and "primary key" in reply.msg


def test_row_by_primary_key_with_a_bad_key_is_400(client):
    assert client.get("/todos/abc").status == 400


def test_debug_returns_the_query_and_args_without_running_it(client):
    reply = client.get("/todos", "id=eq.1&debug&select=id")
    assert reply.status == 200
    assert set(reply.json) == {"query", "args"}
    assert reply.json["args"] == [1]  # the filter's value; the page size is written into the SQL
    assert "todos" in reply.json["query"] and "LIMIT 100" in reply.json["query"]


def test_views_are_readable(client):
    assert ids(client.get("/open_todos")) == [2, 4, 5, 7]


def test_table_without_primary_key_is_readable(client):
    assert client.get("/nokey", "order=b").json == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}]


def test_unknown_table_is_404(client):
    reply = client.get("/nothing")
    assert (reply.status, reply.msg) == (404, "table does not exist: nothing")


@pytest.mark.parametrize(
    ("query", "status", "fragment"),
    [
        ("nope=eq.1", 400, "unknown column: nope"),
        ("id=zz.1", 400, "unknown operator"),
        ("id=1", 400, "invalid filter"),
        ("id=eq.one", 400, "expected an integer"),
        ("done=eq.maybe", 400, "expected true or false"),
        ("due=eq.yesterday", 400, "ISO 8601 date"),
        ("id=in.1,2", 400, "in.("),
        ("id=is.maybe", 400, "null, true or false"),
        ("id=like.1*", 400, "text column"),
        ("select=nope", 400, "unknown column: nope"),
        ("select=sleep(id)", 400, "function not allowed"),
        ("order=nope", 400, "unknown column: nope"),
        ("order=id.sideways", 400, "invalid order"),
        ("details->a b=eq.1", 400, "invalid JSON path"),
    ],
)
def test_bad_query_is_400_with_a_message(client, query, status, fragment):
    reply = client.get("/todos", query)
    assert reply.status == status
    assert fragment in reply.msg


def test_same_filters_in_any_order_give_one_statement(client):
    a = client.get("/todos", "user_id=eq.1&done=is.false&debug").json["query"]
    b = client.get("/todos", "done=is.false&user_id=eq.1&debug").json["query"]
    assert a == b
