"""Attacks on row-level security through the PostgREST-compatible surface (round 11).

Each test states the secure behaviour: it fails while the weakness is there and passes
once it is fixed. Attacks that held are listed in the attack report, not here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tests.authkit import SECRET, login, make_app
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


# -- claims compared with literals ----------------------------------------------------------

NOTES = "CREATE TABLE notes (id {serial}, team {string}, lvl {integer}, title {string}){table_options}"


class ClaimWorld:
    """A table readable under a policy over one claim; tokens not backed by auth_users
    (text ids, signed with auth.secret: the path identity-provider claims take too)."""

    def __init__(self, url: str):
        self.app = make_app(url, auth_enabled=True, policy_refresh_interval=0.0)
        anonymous = Client(self.app)
        password = anonymous.post("/auth/setup").json["Password"]
        self.admin = Client(self.app, login(anonymous, "rest_admin", password))
        types = self.app.db.dialect.DDL_TYPES
        insert = "INSERT INTO notes (team, lvl, title) VALUES ('red', 1, 'r1'), ('blue', 5, 'b1')"
        self.app.db.run(lambda s: [s.execute(NOTES.format_map(types)), s.execute(insert)], write=True)
        self.app.db.refresh_schema()

    def policy(self, expression: str) -> None:
        self.app.db.run(lambda s: s.execute("DELETE FROM auth_policies WHERE table_name = 'notes'"), write=True)
        policy = {"table_name": "notes", "action": "read", "expression": expression, "description": "claims"}
        assert self.admin.post("/auth_policies", policy).status == 200

    def titles(self, **claim: Any) -> list[str] | None:
        """The rows a token with ``claim`` reads; None when the request is refused."""
        now = int(time.time())
        token = jwt.encode({"user_id": "ext-1", "exp": now + 600, **claim}, SECRET, algorithm="HS256")
        return self.titles_as(Client(self.app, token))

    def titles_as(self, client: Client) -> list[str] | None:
        reply = client.get("/notes", "select=title&order=id")
        return [r["title"] for r in reply.json] if reply.status == 200 else None


@pytest.fixture(scope="module")
def claim_worlds(make_database_url) -> Iterator[Any]:
    made: dict[str, ClaimWorld] = {}

    def get(backend: str) -> ClaimWorld:
        if backend not in made:
            made[backend] = ClaimWorld(make_database_url(backend))
        return made[backend]

    yield get
    for world in made.values():
        world.app.db.close()


# Type confusion of principal attributes: a claim compared with a literal is bound
# untyped, so each database converts it its own way — on SQLite any text is greater
# than any number ("1" > 3 holds), on MariaDB "5abc" = 5 and "RED" = 'red', on
# PostgreSQL "yes" = TRUE, on SQLite and MariaDB 1 = TRUE. A token whose claim has the
# wrong JSON type gains rows (a Keycloak attribute mapper sends strings by default).
# Rule: typed_value applies to every comparison of auth_user.<claim>, with a literal as
# with a column — a claim of another JSON type than the literal (or, used as a condition,
# than a JSON boolean) binds NULL, and text compares exactly (binary, no padding), on
# every database.
@pytest.mark.parametrize(
    ("expression", "granted", "confused"),
    [
        ("auth_user.lvl > 3", {"lvl": 5}, {"lvl": "1"}),
        ("auth_user.lvl >= 3", {"lvl": 4}, {"lvl": "abc"}),
        ("auth_user.lvl = 5", {"lvl": 5}, {"lvl": "5abc"}),
        ("auth_user.vip = TRUE", {"vip": True}, {"vip": 1}),
        ("auth_user.vip", {"vip": True}, {"vip": "yes"}),
        ("auth_user.vip", {"vip": True}, {"vip": 1}),
        ("auth_user.team = 'red'", {"team": "red"}, {"team": "RED"}),
        # compared with a sub-query's column, the claim is untyped too: MariaDB reads 'blue' as 0
        ("auth_user.team IN (SELECT n.team FROM notes n WHERE n.lvl = 5)", {"team": "blue"}, {"team": 0}),
        ("auth_user.team IN (SELECT n.team FROM notes n WHERE n.lvl = 5)", {"team": "blue"}, {"team": "BLUE"}),
    ],
)
def test_claim_of_another_type_than_the_literal_grants_nothing(claim_worlds, backend, expression, granted, confused):
    world = claim_worlds(backend)
    world.policy(expression)
    assert world.titles(**granted) == ["r1", "b1"]  # the policy grants with the claim as written
    assert world.titles(**confused) in ([], None)


@pytest.mark.parametrize("confused", ["1", "1abc", "x"])
def test_text_user_id_never_equals_an_integer_literal(claim_worlds, backend, confused):
    # The same type confusion on auth_user.id: an allow-list by local id ("auth_user.id =
    # 1": the first admin) is met by a token whose text id the database converts to 1
    # (PostgreSQL reads '1' as 1, MariaDB '1abc' as 1; SQLite ranks any text above 1).
    world = claim_worlds(backend)
    world.policy("auth_user.id = 1 OR auth_user.id > 1000000")
    assert world.titles_as(world.admin) == ["r1", "b1"]  # the admin is user 1
    now = int(time.time())
    token = jwt.encode({"user_id": confused, "exp": now + 600}, SECRET, algorithm="HS256")
    assert world.titles_as(Client(world.app, token)) in ([], None)
