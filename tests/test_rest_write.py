"""POST, PUT, PATCH, DELETE: one transaction each, typed values, the same errors everywhere."""

from __future__ import annotations

import pytest


def titles(sql, where="1=1"):
    return [r[0] for r in sql(f"SELECT title FROM todos WHERE {where} ORDER BY id")]


def count(sql, table="todos"):
    return sql(f"SELECT COUNT(*) FROM {table}")[0][0]


def test_post_one_object(client, sql):
    reply = client.post("/todos", {"title": "new", "user_id": 9, "done": True, "details": {"k": [1, None]}})
    assert (reply.status, reply.msg) == (200, "successfully inserted 1 rows")
    row = client.get("/todos", "user_id=eq.9&select=title,done,details").json
    assert row == [{"title": "new", "done": True, "details": {"k": [1, None]}}]


def test_post_array_of_objects(client, sql):
    reply = client.post("/todos", [{"title": "a", "user_id": 9}, {"title": "b", "user_id": 9}])
    assert (reply.status, reply.msg) == (200, "successfully inserted 2 rows")
    assert titles(sql, "user_id = 9") == ["a", "b"]


def test_post_typed_values_round_trip(client):
    body = {
        "title": "t",
        "score": 12.34,
        "rating": 0.5,
        "due": "2026-05-06",
        "created": "2026-05-06T07:08:09",
        "user_id": 11,
        "done": False,
        "note": "x'y\"z\\",
    }
    assert client.post("/todos", body).status == 200
    row = client.get("/todos", "user_id=eq.11&singular").json
    assert row["score"] == 12.34 and row["rating"] == 0.5 and row["due"] == "2026-05-06"
    assert row["created"].replace("T", " ").startswith("2026-05-06 07:08:09")
    assert row["note"] == "x'y\"z\\"


def test_post_empty_array_is_400(client, sql):
    before = count(sql)
    reply = client.post("/todos", [])
    assert reply.status == 400 and "empty" in reply.msg
    assert count(sql) == before


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([{"title": "a"}, {"title": "b", "done": True}], "same keys"),
        ([{"title": "a"}, 3], "array of objects"),
        ("title", "JSON object"),
        ({}, "no columns"),
        ({"nope": 1}, "unknown column: nope"),
        ({"title": "x", "user_id": "abc"}, "expected an integer"),
        ({"title": "x", "done": "perhaps"}, "expected true or false"),
        ({"title": "x", "done": 1}, "expected true or false"),
        ({"title": "x", "due": "soon"}, "ISO 8601 date"),
        ({"title": ["x"]}, "expected a scalar"),
    ],
)
def test_post_bad_body_is_400_and_writes_nothing(client, sql, body, fragment):
    before = count(sql)
    reply = client.post("/todos", body)
    assert reply.status == 400, reply.body
    assert fragment in reply.msg
    assert count(sql) == before


@pytest.mark.parametrize("raw", [b"", b"{", b"[1,", b"NaN", b'{"title": Infinity}'])
def test_post_malformed_json_is_400(client, raw):
    reply = client.request("POST", "/todos", body=raw)
    assert reply.status == 400


def test_post_bulk_with_one_bad_row_writes_nothing(client, sql):
    before = count(sql)
    reply = client.post("/todos", [{"title": "ok"}, {"title": None}])
    assert reply.status == 400
    assert count(sql) == before


def test_post_not_null_violation_names_the_column(client):
    reply = client.post("/todos", {"user_id": 1})
    assert reply.status == 400
    assert reply.json["error"] == "constraint_violation"
    assert "title" in reply.msg


def test_post_unique_violation_is_409(client, sql):
    reply = client.post("/projects", {"name": "alpha"})
    assert reply.status == 409 and reply.json["error"] == "conflict"
    assert count(sql, "projects") == 2


def test_post_foreign_key_violation_is_409(client, sql):
    reply = client.post("/todos", {"title": "orphan", "project_id": 999})
    assert reply.status == 409
    assert "orphan" not in titles(sql)


def test_post_check_violation_is_400(client, sql):
    reply = client.post("/stock", {"sku": "plum", "qty": -1})
    assert reply.status == 400 and reply.json["error"] == "constraint_violation"
    assert count(sql, "stock") == 2


def test_post_value_out_of_range_is_400(client):
    assert client.post("/stock", {"sku": "plum", "qty": 2**70}).status == 400
    assert client.get("/stock", f"qty=eq.{2**70}").status == 400


def test_put_updates_matching_rows(client, sql):
    reply = client.put("/todos", {"done": True}, "user_id=eq.2")
    assert (reply.status, reply.msg) == (200, "successfully updated 2 rows")
    assert sql("SELECT COUNT(*) FROM todos WHERE user_id = 2 AND done = TRUE")[0][0] == 2


def test_patch_is_the_same_as_put(client):
    reply = client.patch("/todos", {"note": "patched"}, "id=eq.1")
    assert reply.msg == "successfully updated 1 rows"
    assert client.get("/todos/1", "select=note").json == {"note": "patched"}


def test_put_by_primary_key(client):
    assert client.put("/todos/2", {"title": "renamed"}).msg == "successfully updated 1 rows"
    assert client.get("/todos/2", "select=title").json == {"title": "renamed"}


def test_update_reports_zero_when_nothing_matches(client):
    assert client.put("/todos", {"done": True}, "id=eq.999").msg == "successfully updated 0 rows"


def test_update_without_filter_is_400_and_changes_nothing(client, sql):
    reply = client.put("/todos", {"title": "all"})
    assert reply.status == 400 and "1=eq.1" in reply.msg
    assert "all" not in titles(sql)


def test_update_with_all_rows_marker_updates_every_row(client, sql):
    assert client.put("/stock", {"qty": 3}, "1=eq.1").msg == "successfully updated 2 rows"
    assert list(sql("SELECT DISTINCT qty FROM stock")) == [(3,)]


@pytest.mark.parametrize("body", [[{"title": "x"}], {}, "x"])
def test_update_needs_one_object(client, body):
    assert client.put("/todos", body, "id=eq.1").status == 400


def test_update_with_a_failing_row_changes_nothing(client, sql):
    reply = client.put("/stock", {"qty": -5}, "1=eq.1")
    assert reply.status == 400
    assert sorted(r[0] for r in sql("SELECT qty FROM stock")) == [0, 5]


def test_update_to_a_duplicate_key_is_409(client):
    assert client.put("/projects/2", {"name": "alpha"}).status == 409


def test_delete_matching_rows(client, sql):
    reply = client.delete("/stock", "qty=eq.0")
    assert (reply.status, reply.msg) == (200, "successfully deleted 1 rows")
    assert count(sql, "stock") == 1


def test_delete_by_primary_key(client, sql):
    assert client.delete("/todos/7").msg == "successfully deleted 1 rows"
    assert count(sql) == 6


def test_delete_without_filter_is_400_and_deletes_nothing(client, sql):
    assert client.delete("/stock").status == 400
    assert count(sql, "stock") == 2


def test_delete_with_all_rows_marker(client, sql):
    assert client.delete("/stock", "1=eq.1").msg == "successfully deleted 2 rows"
    assert count(sql, "stock") == 0


def test_delete_referenced_row_is_409(client, sql):
    assert client.delete("/projects/1").status == 409
    assert count(sql, "projects") == 2


def test_write_debug_returns_the_statement_and_writes_nothing(client, sql):
    before = count(sql)
    reply = client.post("/todos", {"title": "dbg"}, "debug")
    assert reply.status == 200 and set(reply.json) == {"query", "args"}
    assert reply.json["args"] == [["dbg"]]
    assert count(sql) == before
    assert client.delete("/todos", "id=eq.1&debug").json["args"] == [1]
    assert count(sql) == before
