"""The Supabase Python client (``postgrest``) against a served rls, auth on, under policies,
on every database — and the security rules of PostgREST's writes: the rows handed back,
upserts and counts never reach past the caller's policies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from postgrest import APIError, SyncPostgrestClient

from tests.liveserver import LiveServer
from tests.test_policy_http import World

MERGE = {"Prefer": "return=representation,resolution=merge-duplicates"}
REPRESENT = {"Prefer": "return=representation"}


class Served:
    """A world served over HTTP on a free port, with a Supabase client per user."""

    def __init__(self, world: World):
        self.world = world
        self.server = LiveServer(world.app)
        self.base = self.server.url

    def client(self, who: str) -> SyncPostgrestClient:
        token = getattr(self.world, who).token
        return SyncPostgrestClient(self.base, headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def served(make_database_url) -> Iterator[Any]:
    made: dict[str, Served] = {}

    def get(backend: str) -> Served:
        if backend not in made:
            made[backend] = Served(World(make_database_url(backend)))
        return made[backend]

    yield get
    for s in made.values():
        s.close()
        s.world.db.close()


@pytest.fixture
def s(served, backend) -> Served:
    srv = served(backend)
    w = srv.world
    w.reset("todos", "id, user_id, title", [(1, w.alice_id, "a1"), (2, w.alice_id, "a2"), (3, w.bob_id, "b1")])
    w.reset("reviews", "id, user_id, rating", [(1, w.alice_id, 5), (2, w.bob_id, 3)])
    w.set_policies("reviews")  # the default all/all owner policy
    return srv


def stored(s: Served, table: str = "todos") -> list[tuple[Any, ...]]:
    return [tuple(r) for r in s.world.sql(f"SELECT id, user_id FROM {table} ORDER BY id")]


# -- the Supabase client, under the default owner policy (user_id = auth_user.id) ---------------


def test_client_select_gives_only_own_rows(s):
    alice = s.client("alice")
    reply = alice.from_("todos").select("*", count="exact").execute()
    assert sorted(r["id"] for r in reply.data) == [1, 2]
    assert reply.count == 2  # bob's row is not counted


def test_client_range_limit_and_count(s):
    alice = s.client("alice")
    reply = alice.from_("todos").select("id", count="exact").order("id").range(0, 9).execute()
    assert ([r["id"] for r in reply.data], reply.count) == ([1, 2], 2)
    reply = alice.from_("todos").select("id", count="exact").order("id").range(1, 9).execute()
    assert ([r["id"] for r in reply.data], reply.count) == ([2], 2)
    reply = alice.from_("todos").select("id").order("id", desc=True).limit(1).execute()
    assert reply.data == [{"id": 2}]


def test_client_single_and_maybe_single(s):
    alice = s.client("alice")
    assert alice.from_("todos").select("id,title").eq("id", 1).single().execute().data == {"id": 1, "title": "a1"}
    with pytest.raises(APIError):
        alice.from_("todos").select("id").eq("id", 3).single().execute()  # bob's row: none for alice
    with pytest.raises(APIError):
        alice.from_("todos").select("id").single().execute()  # two rows
    assert alice.from_("todos").select("id").eq("id", 3).maybe_single().execute() is None
    assert alice.from_("todos").select("id").eq("id", 2).maybe_single().execute().data == {"id": 2}


def test_client_insert_returns_the_row_with_the_owner_filled(s):
    alice = s.client("alice")
    reply = alice.from_("todos").insert({"title": "new"}).execute()
    assert [(r["title"], r["user_id"]) for r in reply.data] == [("new", s.world.alice_id)]
    bulk = alice.from_("todos").insert([{"title": "x"}, {"title": "y", "user_id": s.world.alice_id}], count="exact")
    reply = bulk.execute()
    assert ([r["title"] for r in reply.data], reply.count) == (["x", "y"], 2)


def test_client_insert_for_another_user_is_refused(s):
    before = stored(s)
    with pytest.raises(APIError):
        s.client("alice").from_("todos").insert({"title": "planted", "user_id": s.world.bob_id}).execute()
    assert stored(s) == before


def test_client_update_and_delete_return_only_own_rows(s):
    alice = s.client("alice")
    reply = alice.from_("todos").update({"title": "z"}).in_("id", [1, 3]).execute()
    assert [r["id"] for r in reply.data] == [1]
    assert s.world.sql("SELECT title FROM todos WHERE id = 3")[0][0] == "b1"
    reply = alice.from_("todos").delete().in_("id", [2, 3]).execute()
    assert [r["id"] for r in reply.data] == [2]
    assert [r[0] for r in stored(s)] == [1, 3]


def test_client_upsert(s, backend):
    alice = s.client("alice")
    call = alice.from_("todos").upsert({"id": 1, "title": "merged", "user_id": s.world.alice_id})
    if backend == "mysql":
        with pytest.raises(APIError):
            call.execute()
        reply = s.world.alice.post("/todos", {"id": 1, "title": "merged"}, headers=MERGE)
        assert reply.status == 400 and "upsert" in reply.json["msg"]
        return
    assert [(r["id"], r["title"]) for r in call.execute().data] == [(1, "merged")]
    reply = alice.from_("todos").upsert({"id": 1, "title": "ignored"}, ignore_duplicates=True).execute()
    assert reply.data == []
    assert s.world.sql("SELECT title FROM todos WHERE id = 1")[0][0] == "merged"


# -- security: upserts ----------------------------------------------------------------------------


@pytest.mark.parametrize("owner", ["alice", "bob"])
def test_upsert_cannot_overwrite_another_users_row(s, backend, owner):
    """Bob's row 3 conflicts: 403 as native RLS raises (400 refused on MariaDB); unchanged."""
    w = s.world
    body = {"id": 3, "user_id": getattr(w, f"{owner}_id"), "title": "taken"}
    reply = w.alice.post("/todos", body, headers=MERGE)
    assert reply.status == (400 if backend == "mysql" else 403), reply.body
    assert w.sql("SELECT user_id, title FROM todos WHERE id = 3") == [(w.bob_id, "b1")]


def test_upsert_cannot_plant_a_row_for_another_user(s, backend):
    w = s.world
    before = stored(s)
    reply = w.alice.post("/todos", [{"id": 1, "user_id": w.alice_id, "title": "ok"},
                                    {"id": 60, "user_id": w.bob_id, "title": "planted"}], headers=MERGE)  # fmt: skip
    assert reply.status == (400 if backend == "mysql" else 403), reply.body
    assert stored(s) == before  # the first row's merge is rolled back too
    assert w.sql("SELECT title FROM todos WHERE id = 1")[0][0] == "a1"


def test_upsert_cannot_move_own_row_to_another_user(s, backend):
    w = s.world
    reply = w.alice.post("/todos", {"id": 1, "user_id": w.bob_id, "title": "gift"}, headers=MERGE)
    assert reply.status in ((400,) if backend == "mysql" else (403,)), reply.body
    assert w.sql("SELECT user_id FROM todos WHERE id = 1")[0][0] == w.alice_id


def test_upsert_ignore_does_not_touch_a_hidden_row(s, backend):
    w = s.world
    headers = {"Prefer": "return=representation,resolution=ignore-duplicates"}
    reply = w.alice.post("/todos", {"id": 3, "user_id": w.alice_id, "title": "taken"}, headers=headers)
    if backend == "mysql":
        assert reply.status == 400
    else:
        assert (reply.status, reply.json) == (201, [])  # as ON CONFLICT DO NOTHING under native RLS
    assert w.sql("SELECT user_id, title FROM todos WHERE id = 3") == [(w.bob_id, "b1")]


def test_upsert_merge_of_own_row(s, backend):
    w = s.world
    reply = w.alice.post("/todos", {"id": 2, "title": "re"}, "select=id,title,user_id", headers=MERGE)
    if backend == "mysql":  # upserts are refused on MariaDB, and nothing changes
        assert reply.status == 400
        assert w.sql("SELECT title FROM todos WHERE id = 2")[0][0] != "re"
    else:
        assert (reply.status, reply.json) == (201, [{"id": 2, "title": "re", "user_id": w.alice_id}])


def test_upsert_needs_the_update_policy(s, backend):
    """Create allowed to everyone logged in, update to nobody: a conflicting row is refused."""
    w = s.world
    w.set_policies(
        "reviews", ("create", "auth_user.is_authenticated"), ("read", "user_id = auth_user.id"), ("update", "false")
    )
    reply = w.alice.post("/reviews", {"id": 1, "user_id": w.alice_id, "rating": 1}, headers=MERGE)
    assert reply.status == 403  # the update policy denies before MariaDB's refusal of upserts
    assert w.sql("SELECT rating FROM reviews WHERE id = 1")[0][0] == 5
    reply = w.alice.post(
        "/reviews",
        {"id": 9, "user_id": w.alice_id, "rating": 1},
        headers={"Prefer": "return=minimal,resolution=merge-duplicates"},
    )
    assert reply.status == 403  # the inserted row must pass update's check too (documented)


# -- security: the rows handed back pass the read policy ------------------------------------------


def _write_only(w):
    w.set_policies(
        "reviews",
        ("create", "auth_user.is_authenticated"),
        ("update", "auth_user.is_authenticated"),
        ("delete", "auth_user.is_authenticated"),
        ("read", "user_id = auth_user.id"),
    )


def test_insert_representation_of_an_unreadable_row_is_refused(s):
    """PostgreSQL's INSERT … RETURNING under RLS: the new row must pass the read policy,
    else the statement fails — 403 here, nothing written. Without representation it is
    written."""
    w = s.world
    _write_only(w)
    reply = w.alice.post("/reviews", {"id": 7, "user_id": w.bob_id, "rating": 2}, headers=REPRESENT)
    assert reply.status == 403, reply.body
    assert w.sql("SELECT COUNT(*) FROM reviews WHERE id = 7")[0][0] == 0
    reply = w.alice.post("/reviews", {"id": 7, "user_id": w.bob_id, "rating": 2}, headers={"Prefer": "return=minimal"})
    assert reply.status == 201
    assert w.sql("SELECT user_id FROM reviews WHERE id = 7")[0][0] == w.bob_id


def test_headers_only_needs_the_row_readable_too(s):
    w = s.world
    _write_only(w)
    reply = w.alice.post(
        "/reviews", {"id": 8, "user_id": w.bob_id, "rating": 2}, headers={"Prefer": "return=headers-only"}
    )
    assert reply.status == 403 and "Location" not in reply.headers
    reply = w.alice.post(
        "/reviews", {"id": 8, "user_id": w.alice_id, "rating": 2}, headers={"Prefer": "return=headers-only"}
    )
    assert (reply.status, reply.headers["Location"]) == (201, "/reviews?id=eq.8")


def test_update_representation_of_a_row_made_unreadable_is_refused(s):
    """Alice hands her review to bob: allowed by update, but she could not read it back —
    refused and rolled back with representation (on MariaDB too, via the locked keys)."""
    w = s.world
    _write_only(w)
    reply = w.alice.patch("/reviews", {"user_id": w.bob_id}, "id=eq.1", headers=REPRESENT)
    assert reply.status == 403, reply.body
    assert w.sql("SELECT user_id FROM reviews WHERE id = 1")[0][0] == w.alice_id
    reply = w.alice.patch("/reviews", {"rating": 4}, "id=eq.1", headers=REPRESENT)
    assert (reply.status, [r["rating"] for r in reply.json]) == (200, [4])


def test_update_representation_follows_a_changed_primary_key(s):
    """A PATCH that sets the key hands back the row under its new key — on MariaDB too,
    where the changed rows are read back by key after the UPDATE."""
    w = s.world
    _write_only(w)
    reply = w.alice.patch("/reviews", {"id": 9, "rating": 4}, "id=eq.1", headers=REPRESENT)
    assert (reply.status, reply.json) == (200, [{"id": 9, "user_id": w.alice_id, "rating": 4}]), reply.body
    assert stored(s, "reviews") == [(2, w.bob_id), (9, w.alice_id)]
    reply = w.alice.patch("/reviews", {"id": 10, "user_id": w.bob_id}, "id=eq.9", headers=REPRESENT)
    assert reply.status == 403, reply.body  # handed away under a new key: still unreadable, rolled back
    assert stored(s, "reviews") == [(2, w.bob_id), (9, w.alice_id)]


def test_update_and_delete_never_return_hidden_rows(s):
    w = s.world
    _write_only(w)
    reply = w.alice.patch("/reviews", {"rating": 1}, "1=eq.1", headers=REPRESENT)
    assert [r["id"] for r in reply.json] == [1]
    assert w.sql("SELECT rating FROM reviews WHERE id = 2")[0][0] == 3
    reply = w.alice.delete("/reviews", "1=eq.1", headers=REPRESENT)
    assert [r["id"] for r in reply.json] == [1]
    assert stored(s, "reviews") == [(2, w.bob_id)]


# -- security: counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("prefer", ["count=exact", "count=planned", "count=estimated"])
def test_count_never_counts_hidden_rows(s, prefer):
    w = s.world
    reply = w.alice.get("/todos", "select=id", headers={"Prefer": prefer})
    assert (reply.status, reply.headers["Content-Range"]) == (200, "0-1/2")
    head = w.bob.request("HEAD", "/todos", "select=id&limit=0", headers={"Prefer": prefer})
    assert head.headers["Content-Range"] == "*/1"
    assert w.anonymous.get("/todos", "select=id", headers={"Prefer": prefer}).status == 401


def test_write_count_counts_only_rows_written(s):
    w = s.world
    reply = w.alice.patch("/todos", {"title": "t"}, "1=eq.1", headers={"Prefer": "count=exact"})
    assert reply.headers["Content-Range"] == "*/2"


def test_representation_never_returns_password_hashes(s):
    w = s.world
    body = {"username": "carol", "password": "password-carol-1", "is_admin": False}
    reply = w.admin.post("/auth_users", body, headers=REPRESENT)
    assert reply.status == 201, reply.body
    assert reply.json[0]["username"] == "carol" and "password" not in reply.json[0]
    reply = w.admin.patch("/auth_users", {"password": "password-carol-2"}, "username=eq.carol", headers=REPRESENT)
    assert reply.status == 200 and reply.json and "password" not in reply.json[0]
    assert w.admin.post("/auth_users", body, "select=password", headers=REPRESENT).status == 400
    reply = w.admin.delete("/auth_users", "username=eq.carol", headers=REPRESENT)
    assert reply.status == 200 and reply.json and "password" not in reply.json[0]
