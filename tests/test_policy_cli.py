"""`rest auth policy list|add|delete|check|explain|export`, in-process on every database."""

from __future__ import annotations

import io

import pytest

from rls.cli import main
from rls.database import Database
from tests.authkit import FAST_ENV


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def url(backend, make_database_url):
    url = make_database_url(backend)
    assert run("-db.url", url, "auth", "setup")[0] == 0
    db = Database(url)
    types = db.dialect.DDL_TYPES
    db.run(
        lambda s: s.execute(
            "CREATE TABLE todos (id {serial}, user_id {integer}, title {string}){table_options}".format_map(types)
        ),
        write=True,
    )
    db.close()
    return url


def test_list_shows_the_default_policies_as_aligned_columns(url):
    status, out, _ = run("-db.url", url, "auth", "policy", "list")
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == ["id", "table_name", "action", "expression", "description"]
    assert any("user_id = auth_user.id" in line for line in lines)
    row = next(line for line in lines if " auth_policies " in line)
    assert row.index("auth_policies") == lines[0].index("table_name")


def test_add_a_valid_policy(url):
    status, out, _ = run("-db.url", url, "auth", "policy", "add", "todos", "read", "", "public todos")
    assert (status, out) == (0, "policy added: todos / read\n")
    assert "public todos" in run("-db.url", url, "auth", "policy", "list")[1]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("todos", "fly", ""), "unknown policy action"),
        (("nowhere", "read", ""), "does not exist"),
        (("todos", "read", "nope = 1"), "unknown column"),
        (("todos", "read", "user_id ="), "does not parse"),
    ],
)
def test_add_an_invalid_policy_is_one_line_and_stores_nothing(url, args, fragment):
    before = run("-db.url", url, "auth", "policy", "list")[1]
    status, out, err = run("-db.url", url, "auth", "policy", "add", *args, "bad")
    assert status == 1 and out == "" and fragment in err and err.count("\n") == 1
    assert run("-db.url", url, "auth", "policy", "list")[1] == before


def test_delete_by_id(url):
    run("-db.url", url, "auth", "policy", "add", "todos", "read", "", "temp")
    listing = run("-db.url", url, "auth", "policy", "list")[1]
    policy_id = next(line.split()[0] for line in listing.splitlines() if "temp" in line)
    assert run("-db.url", url, "auth", "policy", "delete", policy_id)[0] == 0
    assert "temp" not in run("-db.url", url, "auth", "policy", "list")[1]
    assert run("-db.url", url, "auth", "policy", "delete", policy_id)[2].startswith("rest: no policy with id")


def test_check_lists_policies_broken_by_a_migration(url):
    run("-db.url", url, "auth", "policy", "add", "todos", "read", "title <> ''", "uses title")
    status, out, err = run("-db.url", url, "auth", "policy", "check")
    assert (status, err) == (0, "") and out.startswith("every policy is valid\n")  # then the per-class report
    db = Database(url)
    db.run(lambda s: s.execute("DROP TABLE todos"), write=True)
    db.close()
    status, out, _ = run("-db.url", url, "auth", "policy", "check")
    assert status == 1 and "todos" in out and "does not exist" in out


def test_explain_prints_the_sql_a_request_would_run(url):
    status, out, _ = run("-db.url", url, "auth", "policy", "explain", "todos", "read", "--user-id", "7")
    assert status == 0
    sql, params = out.splitlines()
    assert (
        "user_id" in sql and "todos" in sql and params == "params: [7]"
    )  # the policy's value; a read's page size is written into its SQL


def test_explain_for_the_anonymous_user_says_denied(url):
    assert run("-db.url", url, "auth", "policy", "explain", "todos", "delete")[1] == "denied: login required\n"


def test_explain_in_another_dialect(url):
    out = run("-db.url", url, "auth", "policy", "explain", "todos", "read", "--user-id", "7", "--dialect", "mysql")[1]
    assert "`todos`" in out


def test_export_native_on_postgres(make_database_url):
    url = make_database_url("postgres")
    run("-db.url", url, "auth", "setup")
    status, out, _ = run("-db.url", url, "auth", "policy", "export", "--native")
    assert status == 0
    assert 'ALTER TABLE "auth_users" FORCE ROW LEVEL SECURITY;' in out
    assert 'CREATE POLICY rls_read ON "auth_policies" FOR SELECT' in out


def test_export_native_elsewhere_is_refused(make_database_url):
    status, _, err = run("-db.url", make_database_url("sqlite"), "auth", "policy", "export", "--native")
    assert status == 2 and "PostgreSQL only" in err
