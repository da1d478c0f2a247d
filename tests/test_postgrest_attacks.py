"""Attacks on row-level security through the PostgREST-compatible surface (round 11).

Each test states the secure behaviour: it fails while the weakness is there and passes
once it is fixed. Attacks that held are listed in the attack report, not here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.authkit import login, make_app
from tests.client import Client
from tests.test_auth_idp import AUD, ISS, JWKS, claims, sign

TODOS = "CREATE TABLE todos (id {serial}, user_id {integer}, title {string}){table_options}"


class IdpWorld:
    """Local users (auth_users) and an identity provider's JWKS side by side, as the
    Supabase example of docs/postgrest-auth-openapi.md configures them, with an owner table."""

    def __init__(self, url: str, jwks_file: str):
        self.app = make_app(
            url,
            auth_enabled=True,
            policy_refresh_interval=0.0,
            jwks_file=jwks_file,
            audience=(AUD,),
            issuer=ISS,
            user_id_claim="sub",
        )
        anonymous = Client(self.app)
        assert anonymous.post("/auth/setup").status == 200
        assert anonymous.post("/auth/register", {"username": "alice", "password": "password-alice"}).status == 200
        self.alice = Client(self.app, login(anonymous, "alice", "password-alice"))
        self.alice_id = self.alice.get("/whoami").json["id"]
        dialect = self.app.db.dialect
        self.app.db.run(lambda s: s.execute(TODOS.format_map(dialect.DDL_TYPES)), write=True)
        self.app.db.refresh_schema()
        # The default all/all policy: user_id = auth_user.id.
        assert self.alice.post("/todos", {"title": "alice's secret"}).status == 200

    def owners(self) -> list[Any]:
        return [r[0] for r in self.app.db.run(lambda s: s.execute("SELECT user_id FROM todos ORDER BY id").rows)]


@pytest.fixture
def idp(backend, make_database_url, tmp_path) -> Iterator[IdpWorld]:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    world = IdpWorld(make_database_url(backend), str(path))
    try:
        yield world
    finally:
        world.app.db.close()


# Identity confusion across issuers: a principal from the identity provider whose integer
# `sub` equals a local auth_users id owns that local user's rows. Rule: principals of
# different issuers live in disjoint id namespaces (an external id is never comparable
# with, nor equal to, an auth_users id), so "borrows nothing from that row" holds for row
# ownership too, not only for the admin flag.
def test_idp_subject_equal_to_a_local_user_id_reads_none_of_its_rows(idp):
    stranger = Client(idp.app, sign(claims(sub=idp.alice_id)))  # another person at the provider
    reply = stranger.get("/todos")
    assert reply.status in (200, 401), reply.body
    titles = [r["title"] for r in reply.json] if reply.status == 200 else []
    assert "alice's secret" not in titles
    assert [r["title"] for r in idp.alice.get("/todos").json] == ["alice's secret"]  # the row is there


def test_idp_subject_equal_to_a_local_user_id_cannot_write_as_that_user(idp):
    stranger = Client(idp.app, sign(claims(sub=idp.alice_id)))
    reply = stranger.post("/todos", {"title": "planted"}, headers={"Prefer": "return=minimal"})
    assert reply.status in (201, 401, 403), reply.body
    planted = [t for t in idp.alice.get("/todos").json if t["title"] == "planted"]
    assert planted == []  # nothing appears among alice's rows
    assert idp.owners().count(idp.alice_id) == 1
