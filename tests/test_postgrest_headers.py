"""PostgREST's headers over raw HTTP on every database: statuses, Content-Range, 206/416/406,
Location, Preference-Applied, CSV, HEAD — and the original's answers without them."""

from __future__ import annotations

import csv
import json

import pytest

from rls.errors import BadRequest, NotAcceptable, RangeNotSatisfiable
from rls.http.prefer import Media, Range, parse_accept, parse_prefer, parse_range

PG = {"Accept-Profile": "public"}  # what the Supabase client always sends
COUNT = {"Prefer": "count=exact"}


def todo_count(sql):
    return sql("SELECT COUNT(*) FROM todos")[0][0]


# -- parsing (pure) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "return=everything",
        "count=fuzzy",
        "tx=maybe",
        "frobnicate=1",
        "max-affected=-1",
        "return",
        "count=exact,count=planned",
    ],
)
def test_prefer_unknown_or_malformed_is_refused(header):
    with pytest.raises(BadRequest):
        parse_prefer([header])


def test_prefer_keeps_what_was_given_in_order():
    p = parse_prefer(["count=exact, return=minimal", "tx=rollback"])
    assert (p.count, p.return_, p.tx, p.given) == (
        "exact",
        "minimal",
        "rollback",
        ("count=exact", "return=minimal", "tx=rollback"),
    )
    assert p.applied("return", "tx") == "return=minimal, tx=rollback"


@pytest.mark.parametrize(
    ("header", "media"),
    [
        (None, Media.JSON),
        ("*/*", Media.JSON),
        ("application/json", Media.JSON),
        ("text/csv", Media.CSV),
        ("application/vnd.pgrst.object+json", Media.OBJECT),
        ("text/html, application/vnd.pgrst.object+json;q=0.5", Media.OBJECT),
        ("text/csv;q=0.2, application/json;q=0.9", Media.JSON),
    ],
)
def test_accept_picks_the_best_supported_type(header, media):
    assert parse_accept(header).media is media


@pytest.mark.parametrize("header", ["text/html", "application/xml", "application/json;q=0", "image/*"])
def test_accept_without_a_supported_type_is_406(header):
    with pytest.raises(NotAcceptable):
        parse_accept(header)


def test_range_parsing():
    assert parse_range("0-9", "items") == Range(0, 9)
    assert parse_range("5-", None) == Range(5, None)
    for bad in ("a-b", "-5", "1-2-3", "0-9,20-30"):
        with pytest.raises(BadRequest):
            parse_range(bad, None)
    with pytest.raises(BadRequest):
        parse_range("0-9", "bytes")
    with pytest.raises(RangeNotSatisfiable):
        parse_range("5-2", None)


# -- reads --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "headers", "status", "content_range", "ids"),
    [
        ("select=id", PG, 200, "0-6/*", [1, 2, 3, 4, 5, 6, 7]),
        ("select=id", {**PG, **COUNT}, 200, "0-6/7", [1, 2, 3, 4, 5, 6, 7]),
        ("select=id&limit=2", {**PG, **COUNT}, 206, "0-1/7", [1, 2]),
        ("select=id&limit=2&offset=3", COUNT, 206, "3-4/7", [4, 5]),
        ("select=id", {"Range": "1-2", "Range-Unit": "items", **COUNT}, 206, "1-2/7", [2, 3]),
        ("select=id&limit=3", {"Range": "1-9"}, 200, "1-2/*", [2, 3]),
        ("select=id&user_id=eq.1", {**PG, "Prefer": "count=planned"}, 200, "0-1/2", [1, 2]),
        ("select=id&user_id=eq.99", {**PG, "Prefer": "count=estimated"}, 200, "*/0", []),
        ("select=id&offset=7", COUNT, 206, "*/7", []),
        ("select=id&limit=0", COUNT, 206, "*/7", []),
        ("select=id&page=2&page_size=2", COUNT, 206, "2-3/7", [3, 4]),
    ],
)
def test_get_content_range_and_status(client, query, headers, status, content_range, ids):
    reply = client.get("/todos", query, headers=headers)
    assert reply.status == status, reply.body
    assert reply.headers["Content-Range"] == content_range
    assert [r["id"] for r in reply.json] == ids


def test_get_range_past_the_end_is_416(client):
    reply = client.get("/todos", "select=id&offset=8", headers=COUNT)
    assert reply.status == 416
    assert reply.headers["Content-Range"] == "*/7"
    assert "Requested range not satisfiable" in reply.json["msg"]


def test_get_inverted_range_is_416(client):
    assert client.get("/todos", "select=id", headers={"Range": "5-2"}).status == 416


def test_get_preference_applied_echoes_count(client):
    reply = client.get("/todos", "select=id", headers={"Prefer": "count=exact"})
    assert reply.headers["Preference-Applied"] == "count=exact"
    assert "Preference-Applied" not in client.get("/todos", "select=id", headers=PG).headers


def test_original_requests_keep_their_answers(client):
    """No PostgREST header: no Content-Range, the page size default, the bare count."""
    reply = client.get("/todos", "select=id&page_size=2")
    assert reply.status == 200 and "Content-Range" not in reply.headers
    assert [r["id"] for r in reply.json] == [1, 2]
    assert client.get("/todos", "count").json == 7
    post = client.post("/todos", {"title": "x"})
    assert (post.status, post.json) == (200, {"msg": "successfully inserted 1 rows"})


def test_postgrest_reads_have_no_default_page_but_a_hard_cap(make_client):
    client = make_client(page_size=2, max_page_size=5)
    original = client.get("/todos", "select=id")
    assert len(original.json) == 2  # the original's default page
    assert client.get("/todos", "select=id&limit=6").status == 400  # the original's bound
    reply = client.get("/todos", "select=id", headers={**PG, **COUNT})
    assert (reply.status, reply.headers["Content-Range"]) == (206, "0-4/7")  # capped, and said so
    assert len(reply.json) == 5
    reply = client.get("/todos", "select=id&limit=100", headers=PG)
    assert (reply.status, reply.headers["Content-Range"]) == (200, "0-4/*")


def test_get_one_object(client):
    headers = {"Accept": "application/vnd.pgrst.object+json"}
    reply = client.get("/todos", "select=id,title&id=eq.3", headers=headers)
    assert reply.status == 200 and reply.json == {"id": 3, "title": "100% done"}
    assert reply.headers["Content-Type"].startswith("application/vnd.pgrst.object+json")
    for query in ("select=id&user_id=eq.1", "select=id&id=eq.99"):
        reply = client.get("/todos", query, headers=headers)
        assert reply.status == 406 and reply.json["code"] == "PGRST116"


def test_get_unsupported_accept_is_406(client):
    reply = client.get("/todos", "select=id", headers={"Accept": "text/html"})
    assert reply.status == 406


def test_get_csv(client, sql):
    reply = client.get("/todos", "select=id,title,done,score,details&id=in.(1,5,6,7)", headers={"Accept": "text/csv"})
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/csv")
    lines = reply.body.decode().split("\r\n")
    assert lines[0] == "id,title,done,score,details"
    first = next(csv.reader([lines[1]]))  # JSON key order is the database's own (jsonb sorts)
    assert first[:4] == ["1", "buy milk", "true", "2.5"]
    assert json.loads(first[4]) == {"qty": 2, "tags": ["a", "b"], "shop": {"name": "corner"}}
    assert lines[2] == "5,back\\slash,false,7,"
    assert lines[3] == '6,"it\'s ""quoted""",true,1,"{""qty"":0}"'
    assert lines[4] == "7,ünïcödé ☃,false,,"
    assert lines[5] == ""


def test_get_csv_of_no_rows_has_the_header(client):
    reply = client.get("/todos", "select=id,title&id=eq.99", headers={"Accept": "text/csv"})
    assert reply.body == b"id,title\r\n"


def test_head_has_the_headers_of_get_and_no_body(client):
    get = client.get("/todos", "select=id&limit=2", headers=COUNT)
    head = client.request("HEAD", "/todos", "select=id&limit=2", headers=COUNT)
    assert (head.status, head.body) == (206, b"")
    assert head.headers["Content-Range"] == get.headers["Content-Range"] == "0-1/7"


def test_head_error_has_no_body(client):
    reply = client.request("HEAD", "/todos", "select=id&offset=9", headers=COUNT)
    assert (reply.status, reply.body) == (416, b"")


def test_unknown_profile_is_406(client):
    assert client.get("/todos", "select=id", headers={"Accept-Profile": "private"}).status == 406


# -- writes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefer", "status", "body"),
    [
        ("return=minimal", 201, b""),
        ("return=headers-only", 201, b""),
        ("return=representation", 201, None),
    ],
)
def test_post_statuses(client, prefer, status, body):
    reply = client.post("/todos", {"title": "new", "user_id": 8}, "select=title,user_id", headers={"Prefer": prefer})
    assert reply.status == status, reply.body
    if body is None:
        assert reply.json == [{"title": "new", "user_id": 8}]
    else:
        assert reply.body == body
    assert reply.headers["Preference-Applied"] == prefer


def test_post_headers_only_gives_the_location(client):
    reply = client.post("/todos", {"title": "new"}, headers={"Prefer": "return=headers-only"})
    new_id = client.get("/todos", "title=eq.new&select=id").json[0]["id"]
    assert reply.headers["Location"] == f"/todos?id=eq.{new_id}"


def test_post_representation_object(client):
    headers = {"Prefer": "return=representation", "Accept": "application/vnd.pgrst.object+json"}
    reply = client.post("/todos", {"title": "one"}, "select=title,done", headers=headers)
    assert (reply.status, reply.json) == (201, {"title": "one", "done": False})


def test_post_object_of_two_rows_is_406_and_rolled_back(client, sql):
    before = todo_count(sql)
    headers = {"Prefer": "return=representation", "Accept": "application/vnd.pgrst.object+json"}
    reply = client.post("/todos", [{"title": "a"}, {"title": "b"}], headers=headers)
    assert reply.status == 406
    assert todo_count(sql) == before


@pytest.mark.parametrize(
    ("method", "prefer", "status"),
    [
        ("PATCH", "return=minimal", 204),
        ("PATCH", "return=representation", 200),
        ("DELETE", "return=minimal", 204),
        ("DELETE", "return=representation", 200),
    ],
)
def test_update_delete_statuses(client, method, prefer, status):
    body = {"note": "n"} if method == "PATCH" else None
    reply = client.request(method, "/todos", "id=in.(1,2)&select=id", json=body, headers={"Prefer": prefer})
    assert reply.status == status, reply.body
    if status == 200:
        assert sorted(r["id"] for r in reply.json) == [1, 2]


def test_write_count_is_a_content_range(client):
    reply = client.patch("/todos", {"note": "n"}, "user_id=eq.2", headers={"Prefer": "count=exact"})
    assert (reply.status, reply.headers["Content-Range"]) == (204, "*/2")


def test_tx_rollback_answers_and_writes_nothing(client, sql):
    before = todo_count(sql)
    headers = {"Prefer": "return=representation,tx=rollback"}
    reply = client.post("/todos", {"title": "ghost"}, "select=title", headers=headers)
    assert (reply.status, reply.json) == (201, [{"title": "ghost"}])
    assert "tx=rollback" in reply.headers["Preference-Applied"]
    assert todo_count(sql) == before
    reply = client.delete("/todos", "id=eq.1", headers={"Prefer": "tx=rollback"})
    assert reply.status == 204 and sql("SELECT COUNT(*) FROM todos WHERE id = 1")[0][0] == 1


def test_max_affected_strict_refuses_and_rolls_back(client, sql):
    headers = {"Prefer": "handling=strict,max-affected=1"}
    reply = client.patch("/todos", {"note": "many"}, "user_id=eq.1", headers=headers)
    assert reply.status == 400 and "max-affected" in reply.json["msg"]
    assert sql("SELECT COUNT(*) FROM todos WHERE note = 'many'")[0][0] == 0
    assert client.patch("/todos", {"note": "one"}, "id=eq.1", headers=headers).status == 204


def test_missing_default_and_columns(client, sql):
    body = [{"title": "d1", "done": True, "ignored": 1}, {"title": "d2"}]
    headers = {"Prefer": "return=representation,missing=default"}
    reply = client.post("/todos", body, "columns=title,done&select=title,done", headers=headers)
    assert reply.status == 201, reply.body
    assert reply.json == [{"title": "d1", "done": True}, {"title": "d2", "done": False}]  # DEFAULT FALSE


def test_missing_key_without_default_is_null(client):
    body = [{"title": "n1", "note": "x"}, {"title": "n2"}]
    reply = client.post(
        "/todos", body, "columns=title,note&select=title,note", headers={"Prefer": "return=representation"}
    )
    assert reply.json == [{"title": "n1", "note": "x"}, {"title": "n2", "note": None}]


def test_columns_must_be_columns(client, sql):
    before = todo_count(sql)
    reply = client.post("/todos", {"title": "x"}, "columns=title,nope", headers={"Prefer": "return=minimal"})
    assert reply.status == 400
    assert todo_count(sql) == before


# -- upsert (no policy here; see test_postgrest_writes for policies) ----------------------------


def test_upsert_merge_on_primary_key(client, backend, sql):
    headers = {"Prefer": "return=representation,resolution=merge-duplicates"}
    reply = client.post("/stock", [{"id": 1, "sku": "apple", "qty": 9}, {"id": 3, "sku": "plum", "qty": 1}],
                        "select=id,qty", headers=headers)  # fmt: skip
    if backend == "mysql":
        assert reply.status == 400 and "upsert" in reply.json["msg"]
        assert sql("SELECT qty FROM stock WHERE id = 1")[0][0] == 5
        return
    assert reply.status == 201, reply.body
    assert reply.json == [{"id": 1, "qty": 9}, {"id": 3, "qty": 1}]
    assert reply.headers["Preference-Applied"] == "return=representation, resolution=merge-duplicates"


def test_upsert_on_a_unique_column(client, backend, sql):
    headers = {"Prefer": "return=representation,resolution=merge-duplicates"}
    reply = client.post("/stock", {"sku": "pear", "qty": 4}, "on_conflict=sku&select=id,sku,qty", headers=headers)
    if backend == "mysql":  # upserts are refused on MariaDB
        assert reply.status == 400
    else:
        assert (reply.status, reply.json) == (201, [{"id": 2, "sku": "pear", "qty": 4}])


def test_upsert_ignore_duplicates(client, backend, sql):
    headers = {"Prefer": "return=representation,resolution=ignore-duplicates"}
    reply = client.post("/stock", [{"id": 1, "sku": "apple", "qty": 9}, {"id": 4, "sku": "fig", "qty": 2}],
                        "select=id,qty", headers=headers)  # fmt: skip
    if backend == "mysql":  # upserts are refused on MariaDB: nothing is written
        assert reply.status == 400
        assert sql("SELECT COUNT(*) FROM stock WHERE id = 4")[0][0] == 0
    else:
        assert (reply.status, reply.json) == (201, [{"id": 4, "qty": 2}])
    assert sql("SELECT qty FROM stock WHERE id = 1")[0][0] == 5


def test_upsert_ignore_duplicates_still_fails_on_other_errors(client, backend, sql):
    headers = {"Prefer": "resolution=ignore-duplicates"}
    reply = client.post("/stock", {"id": 5, "sku": "bad", "qty": -1}, headers=headers)  # CHECK (qty >= 0)
    assert reply.status == 400  # on MariaDB every upsert is refused (400) before it runs
    assert sql("SELECT COUNT(*) FROM stock WHERE id = 5")[0][0] == 0


@pytest.mark.parametrize("on_conflict", ["nope", "qty"])
def test_upsert_on_conflict_must_be_a_unique_key(client, backend, sql, on_conflict):
    headers = {"Prefer": "resolution=merge-duplicates"}
    reply = client.post("/stock", {"id": 1, "sku": "apple", "qty": 9}, f"on_conflict={on_conflict}", headers=headers)
    assert reply.status == 400, reply.body
    assert sql("SELECT qty FROM stock WHERE id = 1")[0][0] == 5


def test_on_conflict_without_resolution_is_400(client):
    reply = client.post("/stock", {"sku": "kiwi", "qty": 1}, "on_conflict=sku", headers={"Prefer": "return=minimal"})
    assert reply.status == 400


def test_strip_nulls(client):
    headers = {"Accept": "application/vnd.pgrst.array+json;nulls=stripped"}
    reply = client.get("/todos", "select=id,note&id=in.(1,2)", headers=headers)
    assert reply.json == [{"id": 1}, {"id": 2, "note": "case differs"}]


def test_range_header_with_unit_prefix(client):
    reply = client.get("/todos", "select=id", headers={"Range": "items=2-3"})
    assert (reply.headers["Content-Range"], [r["id"] for r in reply.json]) == ("2-3/*", [3, 4])


def test_update_representation_needs_a_key_on_mariadb(client, backend, sql):
    """MariaDB has no UPDATE … RETURNING: rows are read back by primary key, so a table
    without one cannot hand back updated rows there (400, nothing written)."""
    reply = client.patch("/nokey", {"b": "z"}, "a=eq.1&select=b", headers={"Prefer": "return=representation"})
    if backend == "mysql":
        assert reply.status == 400
        assert sql("SELECT COUNT(*) FROM nokey WHERE b = 'z'")[0][0] == 0
    else:
        assert (reply.status, reply.json) == (200, [{"b": "z"}, {"b": "z"}])


def test_tx_rollback_of_an_upsert(client, backend, sql):
    headers = {"Prefer": "return=representation,resolution=merge-duplicates,tx=rollback"}
    reply = client.post("/stock", {"id": 1, "sku": "apple", "qty": 42}, "select=qty", headers=headers)
    if backend == "mysql":  # upserts are refused on MariaDB
        assert reply.status == 400
    else:
        assert (reply.status, reply.json) == (201, [{"qty": 42}])
    assert sql("SELECT qty FROM stock WHERE id = 1")[0][0] == 5
