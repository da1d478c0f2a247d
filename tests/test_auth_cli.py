"""`rest auth setup` and `rest auth user …`, driven in-process on every database."""

from __future__ import annotations

import io
import sys

import pytest

from rls.auth.service import passwords_for
from rls.auth.users import Users
from rls.cli import main
from rls.config import Config
from rls.database import Database
from tests.authkit import FAST, FAST_ENV


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REST_AUTH_ENABLED", raising=False)
    monkeypatch.delenv("REST_AUTH_SECRET", raising=False)


def run(*argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def url(backend, make_database_url):
    return make_database_url(backend)


@pytest.fixture
def set_up(url):
    status, out, _ = run("-db.url", url, "auth", "setup")
    assert status == 0
    return dict(line.split(": ", 1) for line in out.splitlines()[1:])


def check(url, username, password):
    db = Database(url)
    try:
        return Users(db, passwords_for(Config(**FAST))).check_credentials(username, password)
    finally:
        db.close()


def test_setup_prints_the_admin_credentials_once(url):
    status, out, err = run("-db.url", url, "auth", "setup")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[1] == "Username: rest_admin"
    password = lines[2].removeprefix("Password: ")
    assert len(password) >= 16
    assert check(url, "rest_admin", password).is_admin


def test_second_setup_is_one_line_and_exit_1(url, set_up):
    assert run("-db.url", url, "auth", "setup") == (1, "", "rest: setup is already done before\n")


def test_user_list_is_aligned_and_shows_no_hashes(url, set_up):
    assert run("-db.url", url, "auth", "user", "add", "bo", "bo-password", "false")[0] == 0
    status, out, _ = run("-db.url", url, "auth", "user", "list")
    assert status == 0
    assert out.splitlines() == [
        "id  username    is_admin",
        "1   rest_admin  true",
        "2   bo          false",
    ]
    assert "$" not in out


@pytest.mark.parametrize(("flag", "expected"), [("true", True), ("1", True), ("FALSE", False), ("0", False)])
def test_user_add_reads_is_admin_as_the_original(url, set_up, flag, expected):
    status, out, err = run("-db.url", url, "auth", "user", "add", "carol", "carol-password", flag)
    assert (status, out, err) == (0, "user added: carol\n", "")
    assert check(url, "carol", "carol-password").is_admin is expected


def test_user_add_with_a_bad_is_admin_is_one_line_and_exit_1(url, set_up):
    status, out, err = run("-db.url", url, "auth", "user", "add", "carol", "carol-password", "yes")
    assert (status, out) == (1, "")
    assert err == "rest: is_admin must be true, false, 1 or 0, not 'yes'\n"


def test_user_add_duplicate_is_exit_1(url, set_up):
    status, _, err = run("-db.url", url, "auth", "user", "add", "rest_admin", "whatever-password", "0")
    assert (status, err) == (1, "rest: username already exists: rest_admin\n")


def test_user_add_short_password_is_exit_1(url, set_up):
    status, _, err = run("-db.url", url, "auth", "user", "add", "dave", "short", "0")
    assert (status, err) == (1, "rest: password must be at least 8 characters\n")


def test_user_add_reads_the_password_from_stdin_with_a_dash(url, set_up, monkeypatch):
    status, out, _ = run(
        "-db.url", url, "auth", "user", "add", "erin", "-", "0", stdin="erin-password\n", monkeypatch=monkeypatch
    )
    assert status == 0 and "erin-password" not in out
    assert check(url, "erin", "erin-password").username == "erin"


def test_user_delete(url, set_up):
    run("-db.url", url, "auth", "user", "add", "frank", "frank-password", "0")
    assert run("-db.url", url, "auth", "user", "delete", "frank") == (0, "user deleted: frank\n", "")
    assert "frank" not in run("-db.url", url, "auth", "user", "list")[1]


def test_user_delete_unknown_is_exit_1(url, set_up):
    assert run("-db.url", url, "auth", "user", "delete", "nobody") == (1, "", "rest: user not found: nobody\n")


def test_user_passwd_reads_stdin_and_never_echoes(url, set_up, monkeypatch):
    status, out, err = run(
        "-db.url", url, "auth", "user", "passwd", "rest_admin", stdin="brand-new-password\n", monkeypatch=monkeypatch
    )
    assert (status, out, err) == (0, "password changed: rest_admin\n", "")
    assert check(url, "rest_admin", "brand-new-password").is_admin


def test_user_passwd_prompts_twice_on_a_terminal(url, set_up, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    answers = iter(["typed-password", "typed-password"])
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert run("-db.url", url, "auth", "user", "passwd", "rest_admin")[0] == 0
    assert check(url, "rest_admin", "typed-password")


def test_user_passwd_with_mismatched_prompts_is_exit_1(url, set_up, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    answers = iter(["typed-password", "other-password"])
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert run("-db.url", url, "auth", "user", "passwd", "rest_admin") == (1, "", "rest: the passwords do not match\n")


def test_user_passwd_unknown_user_is_exit_1(url, set_up, monkeypatch):
    status, _, err = run(
        "-db.url", url, "auth", "user", "passwd", "nobody", stdin="brand-new-password\n", monkeypatch=monkeypatch
    )
    assert (status, err) == (1, "rest: user not found: nobody\n")


def test_user_commands_before_setup_say_so(url):
    status, _, err = run("-db.url", url, "auth", "user", "list")
    assert status == 1 and "auth is not set up" in err


# -- configuration -----------------------------------------------------------------------------


def test_serve_with_auth_enabled_and_no_secret_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("REST_AUTH_ENABLED", "true")
    status, out, err = run("-db.url", f"sqlite:///{tmp_path}/x.db", "serve")
    assert (status, out) == (2, "")
    assert err == "rest: auth.enabled requires auth.secret (REST_AUTH_SECRET) of at least 32 bytes\n"


def test_serve_with_a_short_secret_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("REST_AUTH_ENABLED", "true")
    monkeypatch.setenv("REST_AUTH_SECRET", "too-short")
    status, _, err = run("-db.url", f"sqlite:///{tmp_path}/x.db", "serve")
    assert status == 2 and "at least 32 bytes" in err and "too-short" not in err


def test_help_never_shows_the_secret(monkeypatch, capsys):
    monkeypatch.setenv("REST_AUTH_SECRET", "do-not-print-me-" + "q" * 32)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "do-not-print-me" not in capsys.readouterr().out


def test_config_repr_never_shows_the_secret():
    assert "do-not-print-me" not in repr(Config(auth_secret="do-not-print-me-" + "q" * 32))


def test_create_app_refuses_auth_without_a_secret(tmp_path):
    from rls.config import ConfigError
    from rls.http.app import create_app

    with pytest.raises(ConfigError, match="at least 32 bytes"):
        create_app(Config(db_url=f"sqlite:///{tmp_path}/x.db", auth_enabled=True, auth_secret="x" * 31))


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"REST_AUTH_TOKEN_LIFETIME": "0"}, "auth.token_lifetime"),
        ({"REST_AUTH_USER_ID_CLAIM": ""}, "auth.user_id_claim"),
        ({"REST_AUTH_LOGIN_MAX_FAILURES_USER": "0"}, "auth.login_max_failures_user"),
        ({"REST_AUTH_ARGON2_MEMORY_KIB": "4"}, "argon2"),
    ],
)
def test_bad_auth_settings_name_the_setting(env, fragment):
    from rls.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=fragment):
        load_config(environ=env)
