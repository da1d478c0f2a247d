"""`rest auth policy check` (what each class of user gets) and `explain -dialect all`, on
the demo's policies, on every database."""

from __future__ import annotations

import json

import pytest

from rls.demo import POLICIES
from tests.test_policy_cli import fast_hashing, run  # noqa: F401 - fast_hashing: an autouse fixture


@pytest.fixture
def demo_url(backend, make_database_url, tmp_path):
    url = make_database_url(backend)
    status, _, err = run("-db.url", url, "-auth.secret-file", str(tmp_path / "secret"), "demo")
    assert (status, err) == (0, "")
    return url


def rows(out: str) -> dict[tuple[str, str], list[str]]:
    """The report's table: (table, action) → [anonymous, user, admin, condition words…]."""
    lines = out.split("what each class of user gets", 1)[1].split("\nwarnings:", 1)[0].splitlines()[2:]
    return {(cells[0], cells[1]): cells[2:] for cells in (line.split() for line in lines if line.strip())}


def test_check_reports_each_class_per_table_and_action(demo_url):
    status, out, err = run("-db.url", demo_url, "auth", "policy", "check")
    assert (status, err) == (0, "") and out.startswith("every policy is valid\n")
    table = rows(out)
    assert table[("todos", "read")][:4] == ["denied", "filtered", "filtered", "user_id"]  # owner rows
    assert table[("notes", "read")][:4] == ["filtered", "filtered", "filtered", "published"]  # published or owner
    assert table[("notes", "delete")][:3] == ["denied", "filtered", "filtered"]
    assert table[("projects", "read")][3:5] == ["team_id", "IN"]  # team membership, a sub-query
    assert table[("teams", "update")] == ["denied", "denied", "allowed"]  # admin only
    assert table[("auth_users", "read")] == ["denied", "denied", "allowed"]
    assert table[("comments", "read")] == ["denied", "denied", "denied"]


def test_check_warns_about_a_table_no_policy_fits(demo_url):
    out = run("-db.url", demo_url, "auth", "policy", "check")[1]
    [warning] = [line for line in out.split("\nwarnings:\n", 1)[1].splitlines() if line.startswith("  comments")]
    assert "no policy fits (read, read_mine, create, update, delete)" in warning
    assert "'user_id = auth_user.id'" in warning and "every request is denied" in warning


def test_the_warning_goes_once_a_policy_fits(demo_url):
    run("-db.url", demo_url, "auth", "policy", "add", "comments", "all", "author_id = auth_user.id")
    out = run("-db.url", demo_url, "auth", "policy", "check")[1]
    assert "warnings:" not in out
    assert rows(out)[("comments", "read")][:3] == ["denied", "filtered", "filtered"]


def test_check_warns_about_a_table_no_policy_applies_to(demo_url):
    policies = json.loads(run("-db.url", demo_url, "auth", "policy", "check", "-json")[1])
    assert policies["warnings"] and all("no policy applies" not in w for w in policies["warnings"])
    listing = run("-db.url", demo_url, "auth", "policy", "list")[1]
    fallback = next(line.split()[0] for line in listing.splitlines() if " all " in line and "user_id" in line)
    assert run("-db.url", demo_url, "auth", "policy", "delete", fallback)[0] == 0
    warnings = json.loads(run("-db.url", demo_url, "auth", "policy", "check", "--json")[1])["warnings"]
    assert any(w.startswith("comments: no policy applies (read, read_mine, create, update, delete)") for w in warnings)
    assert any(w.startswith("team_members: no policy applies") for w in warnings)


def test_check_json(demo_url):
    status, out, _ = run("-db.url", demo_url, "auth", "policy", "check", "--json")
    report = json.loads(out)
    assert status == 0 and report["valid"] is True and report["invalid"] == []
    notes = next(d for d in report["decisions"] if (d["table"], d["action"]) == ("notes", "read"))
    assert notes["anonymous"] == notes["user"] == notes["admin"] == "filtered"
    assert notes["condition"] == "published OR user_id = auth_user.id"
    teams = next(d for d in report["decisions"] if (d["table"], d["action"]) == ("teams", "read"))
    assert (teams["anonymous"], teams["user"], teams["admin"], teams["condition"]) == (
        "denied",
        "denied",
        "allowed",
        None,
    )
    assert [w.split(":")[0] for w in report["warnings"]] == ["comments"]


def test_demo_installs_every_policy_kind(demo_url):
    listing = run("-db.url", demo_url, "auth", "policy", "list")[1]
    for policy in POLICIES:
        assert policy.expression in listing


def test_explain_every_dialect_says_what_the_policy_means(demo_url):
    status, out, _ = run(
        "-db.url", demo_url, "auth", "policy", "explain", "projects", "read", "-user-id", "3", "-dialect", "all"
    )
    lines = out.splitlines()
    assert status == 0 and lines[0].startswith("projects/read for user 3 (user): filtered by policy ")
    assert lines[0].endswith("team_id IN (SELECT m.team_id FROM team_members AS m WHERE m.user_id = auth_user.id)")
    assert "returns only the rows where it holds" in lines[1]
    assert [line for line in lines if line.startswith("-- ")] == ["-- sqlite", "-- postgres", "-- mysql"]
    assert '"team_members"' in out and "`team_members`" in out


def test_explain_every_dialect_for_a_denied_class(demo_url):
    out = run("-db.url", demo_url, "auth", "policy", "explain", "teams", "read", "--dialect", "all")[1]
    assert (
        out.splitlines()[0]
        == "teams/read for anonymous: denied (the policies never hold; 401 for anonymous, 403 otherwise)"
    )
    assert out.count("denied: login required") == 3


def test_explain_accepts_both_option_spellings(demo_url):
    single = run("-db.url", demo_url, "auth", "policy", "explain", "todos", "update", "-user-id", "2", "-admin")
    double = run("--db.url", demo_url, "auth", "policy", "explain", "todos", "update", "--user-id", "2", "--admin")
    assert single == double and single[0] == 0 and "UPDATE" in single[1]


@pytest.mark.parametrize("command", [("check",), ("list",), ("explain", "todos", "read")])
def test_policy_commands_before_setup_say_so(make_database_url, command):
    status, out, err = run("-db.url", make_database_url("sqlite"), "auth", "policy", *command)
    assert (status, out) == (1, "") and err == "rest: auth is not set up: run POST /auth/setup or rest auth setup\n"
