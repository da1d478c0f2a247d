"""Who may run ``POST /auth/setup`` (its caller becomes the admin): a client on the server's
own host, or one holding a setup token — from `rest auth setup-token` or `auth.setup_token`."""

from __future__ import annotations

import io

import pytest

from rls.auth.setup_gate import SetupGate, make_setup_token
from rls.cli import main
from rls.errors import Denied
from tests.authkit import FAST_ENV, SECRET, AddressedClient, make_app

REMOTE = "203.0.113.7"


@pytest.fixture
def make(backend, make_database_url):
    apps = []

    def build(**overrides):
        app = make_app(make_database_url(backend), **overrides)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.db.close()


def auth_tables(app):
    return sorted(t for t in app.db.refresh_schema().tables if t.startswith("auth_"))


def test_setup_from_a_remote_client_is_403_and_creates_nothing(make):
    app = make()
    reply = AddressedClient(app, REMOTE).post("/auth/setup")
    assert (reply.status, reply.json["error"]) == (403, "unauthorized")
    assert "setup token" in reply.json["msg"] and "Password" not in reply.json
    assert auth_tables(app) == []


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"])
def test_setup_from_loopback_is_allowed(make, address):
    app = make()
    reply = AddressedClient(app, address).post("/auth/setup")
    assert reply.status == 200 and reply.json["Username"] == "rest_admin"


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_setup_through_a_proxy_on_the_same_host_is_not_loopback(make, header):
    app = make()
    reply = AddressedClient(app, "127.0.0.1").post("/auth/setup", headers={header: REMOTE})
    assert reply.status == 403
    assert auth_tables(app) == []


def test_setup_with_the_configured_setup_token_is_allowed_from_anywhere(make):
    app = make(setup_token="a-long-random-setup-token-0123456789")
    client = AddressedClient(app, REMOTE)
    reply = client.post("/auth/setup", headers={"X-Setup-Token": "a-long-random-setup-token-0123456789"})
    assert reply.status == 200 and reply.json["Username"] == "rest_admin"


def test_setup_with_a_wrong_setup_token_is_403_and_creates_nothing(make):
    app = make(setup_token="a-long-random-setup-token-0123456789")
    reply = AddressedClient(app, "127.0.0.1").post("/auth/setup", headers={"X-Setup-Token": "guess"})
    assert reply.status == 403 and reply.json["msg"] == "invalid setup token"
    assert auth_tables(app) == []


def test_setup_token_printed_by_the_cli_is_accepted(make, monkeypatch):
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REST_AUTH_SECRET", SECRET)
    out, err = io.StringIO(), io.StringIO()
    assert main(["auth", "setup-token"], out=out, err=err) == 0, err.getvalue()
    token = out.getvalue().strip()
    app = make()
    reply = AddressedClient(app, REMOTE).post("/auth/setup", headers={"X-Setup-Token": token})
    assert reply.status == 200, reply.body
    again = AddressedClient(app, REMOTE).post("/auth/setup", headers={"X-Setup-Token": token})
    assert again.status == 409  # one setup per token: setup runs once


def test_setup_token_command_without_a_secret_says_so(monkeypatch):
    monkeypatch.delenv("REST_AUTH_SECRET", raising=False)
    monkeypatch.delenv("REST_AUTH_SETUP_TOKEN", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert main(["auth", "setup-token"], out=out, err=err) == 2  # a configuration error
    assert out.getvalue() == "" and "auth.secret" in err.getvalue()


def test_printed_setup_token_expires_after_an_hour():
    now = [1_000_000.0]
    gate = SetupGate("", SECRET, clock=lambda: now[0])
    token = make_setup_token("", SECRET, now=now[0])
    gate.check({"REMOTE_ADDR": REMOTE, "HTTP_X_SETUP_TOKEN": token})
    now[0] += 3601
    with pytest.raises(Denied):
        gate.check({"REMOTE_ADDR": REMOTE, "HTTP_X_SETUP_TOKEN": token})


def test_setup_token_signed_with_another_secret_is_refused():
    gate = SetupGate("", SECRET)
    with pytest.raises(Denied):
        gate.check({"REMOTE_ADDR": REMOTE, "HTTP_X_SETUP_TOKEN": make_setup_token("", "another-" + SECRET)})
