"""Identity over HTTP on every database: user ids are never reused, and a token stops
working once its user is deleted."""

from __future__ import annotations

import jwt
import pytest

from tests.authkit import SECRET, login, make_app
from tests.client import Client


@pytest.fixture
def app(backend, make_database_url):
    # admin_cache_seconds=0: the deletion is seen at once (the interval itself is a unit test).
    app = make_app(make_database_url(backend), auth_enabled=True, admin_cache_seconds=0)
    assert Client(app).post("/auth/setup").status == 200
    yield app
    app.db.close()


def register(client: Client, name: str) -> str:
    assert client.post("/auth/register", {"username": name, "password": "password-" + name}).status == 200
    return login(client, name, "password-" + name)


def user_id(app, name: str) -> int:
    return int(app.db.run(lambda s: s.execute(f"SELECT id FROM auth_users WHERE username = '{name}'").rows)[0][0])


def test_id_of_a_deleted_user_is_not_given_to_the_next_user(app):
    client = Client(app)
    register(client, "dave")
    dave = user_id(app, "dave")
    app.auth.users.delete("dave")
    register(client, "erin")
    assert user_id(app, "erin") > dave


def test_token_of_a_deleted_user_is_refused(app):
    client = Client(app)
    token = register(client, "dave")
    assert client.get("/whoami", token=token).status == 200
    app.auth.users.delete("dave")
    reply = client.get("/whoami", token=token)
    assert (reply.status, reply.json["error"]) == (401, "invalid_token")


def test_token_of_a_deleted_user_does_not_act_for_the_next_user(app):
    client = Client(app)
    token = register(client, "dave")
    app.auth.users.delete("dave")
    register(client, "erin")
    reply = client.get("/whoami", token=token)
    assert (reply.status, reply.json["error"]) == (401, "invalid_token")


def test_token_of_a_user_who_never_existed_is_refused(app):

    token = jwt.encode({"user_id": 4242, "exp": 4_000_000_000}, SECRET, algorithm="HS256")
    reply = Client(app).get("/whoami", token=token)
    assert (reply.status, reply.json["error"]) == (401, "invalid_token")


@pytest.mark.parametrize("user_id", ["a\x00b", "a\ud800b"], ids=["nul", "surrogate"])
def test_string_user_id_no_database_can_bind_is_400(app, user_id):

    token = jwt.encode({"user_id": user_id, "exp": 4_000_000_000}, SECRET, algorithm="HS256")
    reply = Client(app).get("/whoami", token=token)
    assert (reply.status, reply.json["error"]) == (400, "invalid_value")
