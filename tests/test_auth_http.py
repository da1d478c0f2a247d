"""The auth endpoints over HTTP, end to end, on SQLite, PostgreSQL and MariaDB:
setup → register → login → token → authenticated request; logout; refusals."""

from __future__ import annotations

import json
import logging

import jwt
import pytest

from rls.auth import setup as auth_setup
from rls.auth.passwords import Passwords
from tests.authkit import SECRET, AddressedClient, login, make_app
from tests.client import Client


@pytest.fixture
def db_url(backend, make_database_url):
    return make_database_url(backend)


@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    yield app
    app.db.close()


@pytest.fixture
def client(app):
    return Client(app)


@pytest.fixture
def admin(client):
    """The admin credentials setup returned."""
    reply = client.post("/auth/setup")
    assert reply.status == 200, reply.body
    return reply.json


def rows(app, sql):
    return app.db.run(lambda s: s.execute(sql).rows)


def snapshot(app):
    return (
        rows(app, "SELECT id, username, password, is_admin FROM auth_users ORDER BY id"),
        rows(app, "SELECT id, description, table_name, action, expression FROM auth_policies ORDER BY id"),
    )


# -- setup -----------------------------------------------------------------------------------


def test_setup_returns_the_admin_as_the_original(client, admin):
    assert set(admin) == {"Username", "Password"}
    assert admin["Username"] == "rest_admin"
    assert len(admin["Password"]) >= 16


def test_setup_response_is_not_cached(client):
    assert client.post("/auth/setup").headers["Cache-Control"] == "no-store"


def test_setup_creates_the_default_policies(app, admin):
    policies = rows(app, "SELECT table_name, action, expression, description FROM auth_policies ORDER BY id")
    assert policies == [
        ("auth_users", "all", "auth_user.is_admin", "users operations are limited to admin user"),
        ("auth_policies", "all", "auth_user.is_admin", "policies operations are limited to admin user"),
        ("all", "all", "user_id = auth_user.id", "all tables/actions are limited to be filtered by user_id"),
    ]


def test_setup_creates_the_admin_with_an_argon2id_hash(app, admin):
    [(username, password, is_admin)] = rows(app, "SELECT username, password, is_admin FROM auth_users")
    assert (username, bool(is_admin)) == ("rest_admin", True)
    assert password.startswith("$argon2id$") and admin["Password"] not in password


def test_second_setup_is_refused_and_changes_nothing(app, client, admin):
    before = snapshot(app)
    reply = client.post("/auth/setup")
    assert (reply.status, reply.msg) == (409, "setup is already done before")
    assert snapshot(app) == before


def test_failed_setup_leaves_nothing_behind(app, client, monkeypatch):
    def fail(session, dialect):
        raise RuntimeError("a later setup step failed")

    monkeypatch.setattr(auth_setup, "SETUP_STEPS", [fail])
    assert client.post("/auth/setup").status == 500
    tables = set(app.db.refresh_schema().tables)
    assert not {"auth_users", "auth_policies"} & tables
    monkeypatch.setattr(auth_setup, "SETUP_STEPS", [])
    assert client.post("/auth/setup").status == 200


def test_setup_steps_run_inside_the_transaction(app, client, monkeypatch):
    seen = []

    def step(session, dialect):
        seen.append(session.execute("SELECT COUNT(*) FROM auth_users").rows[0][0])

    monkeypatch.setattr(auth_setup, "SETUP_STEPS", [step])
    assert client.post("/auth/setup").status == 200
    assert seen == [1]


# -- register, login, token, request ---------------------------------------------------------


def test_register_login_and_an_authenticated_request(app, client, admin):
    reply = client.post("/auth/register", {"username": "alice", "password": "wonderland"})
    assert (reply.status, reply.json) == (200, {"msg": "success"})
    token = login(client, "alice", "wonderland")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    [(alice_id,)] = rows(app, "SELECT id FROM auth_users WHERE username = 'alice'")
    assert claims["user_id"] == alice_id and claims["is_admin"] is False
    assert claims["exp"] - claims["iat"] == 14 * 24 * 3600
    me = client.get("/whoami", token=token).json
    assert (me["id"], me["is_admin"]) == (alice_id, False)


def test_login_response_is_not_cached(client, admin):
    reply = client.post("/auth/login", {"username": "rest_admin", "password": admin["Password"]})
    assert reply.headers["Cache-Control"] == "no-store"


def test_admin_login_gives_an_admin_user(client, admin):
    token = login(client, "rest_admin", admin["Password"])
    assert client.get("/whoami", token=token).json["is_admin"] is True


def test_no_token_is_anonymous(client, admin):
    assert client.get("/whoami").json == {"id": None, "is_admin": False, "claims": {}}


def test_register_never_creates_an_admin(app, client, admin):
    body = {"username": "mallory", "password": "letmein99", "is_admin": True}
    assert client.post("/auth/register", body).status == 200
    assert rows(app, "SELECT is_admin FROM auth_users WHERE username = 'mallory'") in ([(False,)], [(0,)])
    token = login(client, "mallory", "letmein99")
    assert client.get("/whoami", token=token).json["is_admin"] is False


def test_demoted_admin_loses_admin_with_the_same_token(db_url, admin, client):
    app = make_app(db_url, admin_cache_seconds=0)
    token = login(Client(app), "rest_admin", admin["Password"])
    app.db.run(lambda s: s.execute("UPDATE auth_users SET is_admin = FALSE"), write=True)
    assert Client(app).get("/whoami", token=token).json["is_admin"] is False
    app.db.close()


def test_duplicate_username_is_a_conflict(client, admin):
    body = {"username": "alice", "password": "wonderland"}
    assert client.post("/auth/register", body).status == 200
    reply = client.post("/auth/register", body)
    assert (reply.status, reply.msg) == (409, "username already exists: alice")


def test_usernames_are_case_sensitive(client, admin):
    assert client.post("/auth/register", {"username": "alice", "password": "wonderland"}).status == 200
    assert client.post("/auth/register", {"username": "Alice", "password": "looking-glass"}).status == 200
    assert client.post("/auth/login", {"username": "ALICE", "password": "wonderland"}).status == 401
    assert client.get("/whoami", token=login(client, "Alice", "looking-glass")).json["id"] is not None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"username": "", "password": "wonderland"}, "username must be 1 to 32 characters"),
        ({"username": "x" * 33, "password": "wonderland"}, "username must be 1 to 32 characters"),
        ({"username": "a\u0007b", "password": "wonderland"}, "username must be 1 to 32 characters"),
        ({"username": "alice", "password": "short"}, "password must be at least 8 characters"),
    ],
    ids=["empty-name", "long-name", "control-char", "short-password"],
)
def test_register_states_the_broken_rule(app, client, admin, body, fragment):
    before = snapshot(app)
    reply = client.post("/auth/register", body)
    assert reply.status == 400 and fragment in reply.msg
    assert snapshot(app) == before


@pytest.mark.parametrize("action", ["register", "login"])
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (None, "request body is empty"),
        (b"{nope", "not valid JSON"),
        ([], "body must be a JSON object"),
        ("alice", "body must be a JSON object"),
        ({"username": "alice"}, "username and password are required"),
        ({"username": 1, "password": "wonderland"}, "username and password are required"),
        ({"username": "alice", "password": ["wonderland"]}, "username and password are required"),
    ],
    ids=["no-body", "bad-json", "array", "string", "no-password", "number-name", "list-password"],
)
def test_bad_bodies_are_400_with_a_clear_message(client, admin, action, body, fragment):
    raw = body if isinstance(body, bytes) else None
    reply = client.request("POST", f"/auth/{action}", json=None if raw else body, body=raw)
    assert reply.status == 400 and fragment in reply.msg


def test_logout_succeeds(client):
    reply = client.post("/auth/logout")
    assert (reply.status, reply.json) == (200, {"msg": "success"})


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_on_auth_endpoints_are_405(client, method):
    reply = client.request(method, "/auth/login")
    assert (reply.status, reply.msg) == (405, f"method not supported: {method}")


def test_unknown_auth_action_is_400(client):
    reply = client.post("/auth/foo")
    assert reply.status == 400 and reply.msg.startswith("unknown auth action: foo")


def test_auth_endpoints_before_setup_say_so(client):
    reply = client.post("/auth/register", {"username": "alice", "password": "wonderland"})
    assert reply.status == 404 and "auth is not set up" in reply.msg


def test_login_without_a_secret_is_unavailable(db_url, admin):
    app = make_app(db_url, auth_secret="")
    reply = Client(app).post("/auth/login", {"username": "rest_admin", "password": admin["Password"]})
    assert reply.status == 503 and "auth.secret" in reply.msg
    app.db.close()


def test_login_ignores_a_stale_token(client, admin):
    expired = jwt.encode({"user_id": 1, "exp": 1}, SECRET, algorithm="HS256")
    reply = client.post("/auth/login", {"username": "rest_admin", "password": admin["Password"]}, token=expired)
    assert reply.status == 200


# -- tokens on ordinary requests -------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["Bearer garbage", "Bearer ", "Basic YWxpY2U6d29uZGVybGFuZA==", ""],
    ids=["garbage", "bearer-empty", "basic", "empty"],
)
def test_a_bad_authorization_header_is_401_on_a_table_request(client, header):
    reply = client.get("/nothing", headers={"Authorization": header})
    assert (reply.status, reply.json["msg"], reply.json["error"]) == (401, "invalid token", "invalid_token")


def test_expired_token_is_401(client):
    expired = jwt.encode({"user_id": 1, "exp": 1}, SECRET, algorithm="HS256")
    reply = client.get("/whoami", token=expired)
    assert (reply.status, reply.msg) == (401, "invalid token")


def test_a_token_from_another_system_is_accepted(client):
    token = jwt.encode({"user_id": "u-123", "exp": 4_000_000_000, "org": "acme"}, SECRET, algorithm="HS256")
    assert client.get("/whoami", token=token).json == {
        "id": "u-123",
        "is_admin": False,
        "claims": {"exp": 4_000_000_000, "org": "acme"},
    }


def test_admin_claim_from_another_system_is_not_trusted(client, admin):
    # A token signed elsewhere is still HS256 with our secret, so only the database
    # decides: an admin claim for a user who is not an admin is dropped.
    assert client.post("/auth/register", {"username": "carol", "password": "wonderland"}).status == 200
    carol = rows(client.app, "SELECT id FROM auth_users WHERE username = 'carol'")[0][0]
    token = jwt.encode({"user_id": carol, "is_admin": True, "exp": 4_000_000_000}, SECRET, algorithm="HS256")
    assert client.get("/whoami", token=token).json["is_admin"] is False


# -- failed logins ---------------------------------------------------------------------------


def test_unknown_user_and_wrong_password_get_the_same_answer(client, admin):
    unknown = client.post("/auth/login", {"username": "nobody", "password": "wonderland"})
    wrong = client.post("/auth/login", {"username": "rest_admin", "password": "wonderland"})
    assert (unknown.status, unknown.json) == (wrong.status, wrong.json)
    assert unknown.json == {
        "msg": "invalid username or password",
        "status": 401,
        "message": "invalid username or password",
        "code": "28P01",
        "details": None,
        "hint": None,
        "error": "invalid_credentials",
    }


def test_unknown_user_costs_a_password_verification(client, admin, monkeypatch):
    verified = []
    real = Passwords.verify
    monkeypatch.setattr(Passwords, "verify", lambda self, stored, pw: verified.append(stored) or real(self, stored, pw))
    client.post("/auth/login", {"username": "nobody", "password": "wonderland"})
    client.post("/auth/login", {"username": "rest_admin", "password": "wonderland"})
    assert len(verified) == 2
    assert all(stored.startswith("$argon2id$") for stored in verified)


def test_repeated_failures_for_a_username_are_throttled(client, admin):
    for _ in range(5):
        assert client.post("/auth/login", {"username": "rest_admin", "password": "wrong-one"}).status == 401
    reply = client.post("/auth/login", {"username": "rest_admin", "password": admin["Password"]})
    assert reply.status == 429 and reply.json["error"] == "too_many_requests"
    assert 1 <= int(reply.headers["Retry-After"]) <= 300


def test_repeated_failures_from_a_client_are_throttled(app, admin):
    attacker = AddressedClient(app, "203.0.113.9")
    for i in range(20):
        assert attacker.post("/auth/login", {"username": f"user{i}", "password": "wrong-one"}).status == 401
    assert attacker.post("/auth/login", {"username": "rest_admin", "password": admin["Password"]}).status == 429
    other = AddressedClient(app, "198.51.100.7")
    assert other.post("/auth/login", {"username": "rest_admin", "password": admin["Password"]}).status == 200


def test_throttle_thresholds_are_configurable(db_url, admin):
    app = make_app(db_url, login_max_failures_user=1)
    c = Client(app)
    assert c.post("/auth/login", {"username": "rest_admin", "password": "wrong-one"}).status == 401
    assert c.post("/auth/login", {"username": "rest_admin", "password": admin["Password"]}).status == 429
    app.db.close()


def test_a_successful_login_resets_the_usernames_failures(client, admin):
    for _ in range(4):
        client.post("/auth/login", {"username": "rest_admin", "password": "wrong-one"})
    login(client, "rest_admin", admin["Password"])
    for _ in range(4):
        assert client.post("/auth/login", {"username": "rest_admin", "password": "wrong-one"}).status == 401


# -- secrets ---------------------------------------------------------------------------------


def test_no_password_hash_or_token_is_logged(app, client, caplog):
    caplog.set_level(logging.DEBUG)
    admin = client.post("/auth/setup").json
    client.post("/auth/register", {"username": "alice", "password": "wonderland"})
    token = login(client, "alice", "wonderland")
    client.post("/auth/login", {"username": "alice", "password": "not-wonderland"})
    client.get("/whoami", token=token)
    hashes = [h for (h,) in rows(app, "SELECT password FROM auth_users")]
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (admin["Password"], "wonderland", "not-wonderland", token, SECRET, *hashes):
        assert secret not in logged


# -- auth_users through REST -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/auth_users"), ("GET", "/auth_users/1"), ("POST", "/auth_users"), ("DELETE", "/auth_users/1")],
)
def test_with_auth_disabled_auth_users_is_not_served(app, client, admin, method, path):
    before = snapshot(app)
    body = {"username": "x", "password": "plain-text"} if method == "POST" else None
    reply = client.request(method, path, "id=gt.0" if method == "DELETE" else "", json=body)
    assert (reply.status, reply.msg) == (404, "table does not exist: auth_users")
    assert b"argon2" not in reply.body
    assert snapshot(app) == before


def test_with_auth_disabled_auth_policies_is_not_served(client, admin):
    """An open server writing a policy would bind every server on the database."""
    reply = client.get("/auth_policies")
    assert (reply.status, reply.msg) == (404, "table does not exist: auth_policies")
    reply = client.post("/auth_policies", {"description": "x", "table_name": "all", "action": "all", "expression": ""})
    assert reply.status == 404


def test_token_with_an_id_beyond_the_column_range_is_refused(client, admin):
    token = jwt.encode({"user_id": 2**62, "is_admin": True, "exp": 4_000_000_000}, SECRET, algorithm="HS256")
    reply = client.get("/whoami", token=token)
    assert (reply.status, reply.json["error"]) == (401, "invalid_token")


@pytest.mark.parametrize("action", ["register", "login"])
@pytest.mark.parametrize(
    "body",
    [
        {"username": "a\x00b", "password": "wonderland"},
        {"username": "alice", "password": "wonder\x00land"},
        {"username": "a\ud800b", "password": "wonderland"},
        {"username": "alice", "password": "wonder\udfffland"},
    ],
    ids=["nul-name", "nul-password", "surrogate-name", "surrogate-password"],
)
def test_text_no_database_can_store_is_400_not_a_crash(client, admin, action, body):
    reply = client.request("POST", f"/auth/{action}", body=json.dumps(body).encode())
    assert reply.status == 400 and "valid Unicode text" in reply.msg


@pytest.mark.parametrize(
    "body",
    [
        {"username": "x" * 10_000, "password": "wonderland"},
        {"username": "rest_admin", "password": "p" * 100_000},
        {"username": "ünï©ødé 🎉", "password": "wonderland"},
    ],
    ids=["long-name", "long-password", "unicode-name"],
)
def test_unusual_login_is_a_plain_failure(client, admin, body):
    assert client.post("/auth/login", body).status == 401
