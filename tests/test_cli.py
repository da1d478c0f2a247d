"""The `rest` command, driven in-process."""

from __future__ import annotations

import io

from rls.cli import main


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_demo_creates_the_tables_once(tmp_path):
    url = f"sqlite:///{tmp_path}/demo.db"
    status, out, err = run("-db.url", url, "demo")
    assert (status, err) == (0, "")
    assert out.startswith("demo tables created\n") and "curl 'http://localhost:3000/todos'" in out
    assert run("--db.url", url, "demo")[1].startswith("demo tables already present\n")


def test_go_style_flag_with_equals(tmp_path):
    status, out, _ = run(f"-db.url=sqlite:///{tmp_path}/d.db", "demo")
    assert status == 0 and "created" in out


def test_bad_config_is_one_line_and_exit_2(tmp_path):
    status, out, err = run("-config", str(tmp_path / "missing.yml"), "demo")
    assert status == 2 and out == ""
    assert err.startswith("rest: cannot read config file") and err.count("\n") == 1


def test_unsupported_url_is_one_line_and_exit_2():
    status, _, err = run("-db.url", "oracle://x", "demo")
    assert status == 2 and "unsupported database URL" in err


def test_unreachable_database_is_one_line_and_exit_1():
    status, _, err = run("-db.url", "postgres://u:hunter2@127.0.0.1:1/x", "demo")
    assert status == 1 and err == "rest: database unavailable\n"
