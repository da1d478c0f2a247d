"""REST reads and writes under the guard's rules (issue 13, items 1, 2 and 4), through the
real app on every database: a user's filters never run on rows the policy hides, writes
check the row they write in the statement itself, and user ids compare by type."""

from __future__ import annotations

import pytest

from tests.client import Client
from tests.test_policy_http import worlds_fixture

TABLE = "CREATE TABLE notes (id {serial}, user_id {integer}, title {string}, meta {string}){table_options}"


def _tables(world):
    world.db.run(lambda s: s.execute(TABLE.format_map(world.db.dialect.DDL_TYPES)), write=True)
    world.db.refresh_schema()


worlds = worlds_fixture(_tables)


@pytest.fixture
def w(worlds, backend):
    world = worlds(backend)
    world.reset(
        "notes",
        "id, user_id, title, meta",
        [(1, world.alice_id, "secret-plan", "not json"), (2, world.bob_id, "bob's list", '{"a": 1}')],
    )
    world.set_policies("notes", ("all", "user_id = auth_user.id"))
    return world


def answer(reply):
    return reply.status, reply.json


@pytest.mark.parametrize("prefix", ["secret", "nothing-starts-so"])
def test_a_like_pattern_ending_in_the_escape_character_is_refused_before_any_row(w, prefix):
    # Alice's hidden title starts with "secret": the answer must not depend on it.
    reply = w.bob.get("/notes", query=f"title=like.{prefix}*%5C")
    assert reply.status == 400 and "escape character" in reply.json["msg"]


@pytest.mark.parametrize("path", ["/notes?title=like.secret*", "/notes?title=like.nothing*"])
def test_like_filters_see_only_visible_rows(w, path):
    table, _, query = path.partition("?")
    assert answer(w.bob.get(table, query=query)) == (200, [])


def test_count_and_delete_with_like_touch_only_visible_rows(w):
    assert w.bob.get("/notes", query="count&title=like.*").json == 1
    assert w.bob.delete("/notes", query="title=like.*").status == 200
    assert sorted(r[0] for r in w.sql("SELECT id FROM notes")) == [1]


def test_a_filter_that_can_fail_is_fenced_and_a_typed_one_is_not(w):
    fenced = w.admin.get("/notes", query="debug&title=like.b*")
    plain = w.admin.get("/notes", query="debug&id=eq.2")
    fence = w.db.dialect.build_fence().sql(w.db.dialect.SQLGLOT)
    assert fenced.status == 200 and fence in fenced.json["query"]
    assert plain.status == 200 and fence not in plain.json["query"]


@pytest.mark.parametrize("planted", [{"id": 0}, {"id": None}, {}])
def test_a_row_for_another_user_cannot_be_planted(w, planted):
    body = {**planted, "user_id": w.alice_id, "title": "planted", "meta": "{}"}
    reply = w.bob.post("/notes", body)
    # PostgreSQL refuses an explicit NULL for an identity column before any policy: 400.
    assert reply.status in ((400, 403) if planted == {"id": None} else (403,)), reply.body
    assert sorted(r[0] for r in w.sql("SELECT id FROM notes")) == [1, 2]


def test_an_update_cannot_move_a_row_to_another_user_and_writes_nothing(w):
    reply = w.bob.put("/notes", {"user_id": w.alice_id}, query="id=eq.2")
    assert reply.status == 403
    assert w.sql("SELECT user_id FROM notes WHERE id = 2") == [(w.bob_id,)]


def test_own_writes_still_work(w):
    assert w.bob.post("/notes", {"title": "mine", "meta": "{}"}).status in (200, 201)
    assert w.bob.put("/notes", {"title": "mine too"}, query="title=eq.mine").status == 200
    rows = w.sql("SELECT user_id, title FROM notes WHERE title = 'mine too'")
    assert rows == [(w.bob_id, "mine too")]


def test_an_anonymous_planted_row_is_login_required(w):
    w.set_policies("notes", ("all", "user_id = auth_user.id"), ("create", "user_id = auth_user.id OR user_id IS NULL"))
    anonymous = Client(w.app)
    assert anonymous.post("/notes", {"user_id": w.alice_id, "title": "x", "meta": "{}"}).status in (401, 403)
    assert sorted(r[0] for r in w.sql("SELECT id FROM notes")) == [1, 2]


@pytest.mark.parametrize("spelling", ["{}abc", "{}", " {}", "{}e0"])
def test_a_string_user_id_owns_nothing_on_an_integer_column(w, spelling):
    """Answered as for a user who owns nothing — not as bob, not as a 400."""
    from tests.test_policy_http import token_for

    assert ids(Client(w.app, token_for(w.bob_id, "bob")).get("/notes")) == [2]  # the same request owns a row
    reply = Client(w.app, token_for(spelling.format(w.bob_id), "imposter")).get("/notes")
    assert (reply.status, reply.json) == (200, [])


def ids(reply):
    assert reply.status == 200, reply.body
    return sorted(row["id"] for row in reply.json)
