"""The README's first command, `make run`, on a clean copy: the real Makefile targets, the
real server, and the curl commands exactly as printed.

Nothing is reinstalled: the copy's ``.venv/bin/rest`` runs this interpreter on the copy's
sources, and ``make -o .venv/bin/rest`` treats the install as done.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rls.cli import main

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("curl") is None, reason="needs make, curl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_copy(target: Path) -> None:
    """The tracked and new files of this checkout, as a fresh clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    bin_dir = target / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    rest = bin_dir / "rest"
    rest.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(target)!r})\nfrom rls.cli import entry\nentry()\n",
        encoding="utf-8",
    )
    rest.chmod(0o755)
    os.utime(rest)  # newer than pyproject.toml: installed


def make(copy: Path, target: str, port: int) -> list[str]:
    return ["make", "-s", "-C", str(copy), "-o", ".venv/bin/rest", target, "VENV=.venv", f"ADDR=127.0.0.1:{port}"]


def make_env() -> dict[str, str]:
    """This environment without the variables of a make running this test (CI's VENV)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return {**env, "REST_WORKERS": "1"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, int]]:
    """The copy, the output of `make demo`, and the port of `make run`'s server."""
    copy = tmp_path_factory.mktemp("clone")
    clean_copy(copy)
    port = free_port()
    env = make_env()
    first = subprocess.run(make(copy, "demo", port), env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    # `make run` sets the demo up again (idempotent) and then serves it.
    server = subprocess.Popen(
        make(copy, "run", port),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: make, rest and granian stop together
    )
    try:
        wait_for(port, server)
        yield copy, first.stdout, port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.communicate()


def wait_for(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"make run stopped: {server.communicate()[0]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def printed(output: str) -> tuple[str, dict[str, str]]:
    """The token assignments (one shell prelude) and the curl commands by their comment."""
    prelude = "\n".join(line.strip() for line in output.splitlines() if re.match(r"\s+(ALICE|BOB|ADMIN)=", line))
    commands: dict[str, str] = {}
    comment = ""
    for line in output.splitlines():
        if line.startswith("# "):
            comment = line
        elif line.strip().startswith("curl "):
            commands[f"{comment} | {line.strip()}"] = line.strip()
    return prelude, commands


def run_curl(prelude: str, command: str) -> tuple[int, object]:
    """The printed command, as printed, with only the status code added after the body."""
    script = f"{prelude}\n{command} -s -w '\\n%{{http_code}}'"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30, check=True)
    body, _, status = result.stdout.rpartition("\n")
    data = json.loads(body)
    # An error is compared by its message (the body also carries a code and the status).
    return int(status), (data["msg"] if isinstance(data, dict) and "msg" in data else data)


def find(commands: dict[str, str], *words: str) -> str:
    [command] = [c for key, c in commands.items() if all(w in key for w in words)]
    return command


def test_demo_prints_the_real_binary_and_the_serve_command(demo):
    _, output, port = demo
    assert output.startswith("demo tables created\n")
    assert "alice: " in output and "bob: " in output  # new passwords, shown once
    serve = f".venv/bin/rest -db.url sqlite://demo.db -addr 127.0.0.1:{port} -auth.enabled"
    assert f"\n  {serve} -auth.secret-file .rls-demo/secret serve\n" in output
    assert "\n  .venv/bin/rest -db.url sqlite://demo.db auth policy check\n" in output


def test_the_secret_is_private_and_git_ignored(demo):
    copy, output, _ = demo
    secret = copy / ".rls-demo" / "secret"
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_text().strip()) == 64
    assert (copy / ".rls-demo").stat().st_mode & 0o777 == 0o700
    assert secret.read_text().strip() not in output  # tokens are printed, never the secret
    ignored = subprocess.run(["git", "check-ignore", "-q", ".rls-demo/secret"], cwd=ROOT)
    assert ignored.returncode == 0


def test_alice_and_bob_see_different_todos(demo):
    _, output, _ = demo
    prelude, commands = printed(output)
    alice = run_curl(prelude, find(commands, "different todos", "$ALICE"))
    bob = run_curl(prelude, find(commands, "different todos", "$BOB"))
    assert alice == (200, [{"id": 1, "title": "buy milk"}, {"id": 2, "title": "buy eggs"}])
    assert bob == (200, [{"id": 3, "title": "plant tulips"}, {"id": 4, "title": "mow the lawn"}])


def test_published_or_owner_and_team_membership(demo):
    _, output, _ = demo
    prelude, commands = printed(output)
    notes_alice = run_curl(prelude, find(commands, "published notes", "$ALICE"))
    notes_bob = run_curl(prelude, find(commands, "published notes", "$BOB"))
    assert notes_alice == (200, [{"title": "pancake recipe"}, {"title": "birthday ideas"}])
    assert notes_bob == (200, [{"title": "pancake recipe"}, {"title": "shed plans"}])
    assert run_curl(prelude, find(commands, "your teams", "$BOB")) == (200, [{"name": "garden"}])


def test_the_forged_write_is_refused_and_nothing_is_written(demo):
    copy, output, _ = demo
    prelude, commands = printed(output)
    forged = find(commands, "forged write")
    assert '"user_id": 2' in forged and "$BOB" in forged  # bob writes as alice (id 2)
    assert run_curl(prelude, forged) == (403, "unauthorized")
    with sqlite3.connect(copy / "demo.db") as db:
        assert db.execute("SELECT count(*) FROM todos WHERE title = 'forged'").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM todos").fetchone() == (4,)


def test_anonymous_gets_401(demo):
    _, output, port = demo
    prelude, commands = printed(output)
    anonymous = find(commands, "anonymous")
    assert anonymous == f"curl 'http://127.0.0.1:{port}/todos'"
    assert run_curl(prelude, anonymous) == (401, "login required")


def test_admin_only_table(demo):
    _, output, _ = demo
    prelude, commands = printed(output)
    assert run_curl(prelude, find(commands, "admin only")) == (
        200,
        [{"id": 1, "name": "red"}, {"id": 2, "name": "blue"}],
    )
    teams = find(commands, "admin only").replace("$ADMIN", "$ALICE")
    assert run_curl(prelude, teams) == (403, "unauthorized")


def test_a_second_run_keeps_everything(demo):
    copy, _, port = demo
    again = subprocess.run(make(copy, "demo", port), env=make_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("demo tables already present\n") and "shown once" not in again.stdout
    with sqlite3.connect(copy / "demo.db") as db:
        assert db.execute("SELECT count(*) FROM auth_users").fetchone() == (3,)
        assert db.execute("SELECT count(*) FROM auth_policies").fetchone() == (8,)


def test_the_readme_starts_with_the_two_commands_ci_and_this_test_run():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Run it", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in block.splitlines()] == ["make run", "make test"]
    assert "\nmake test " in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for target in ("run:", "demo:", "test:"):
        assert f"\n{target} " in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_the_readme_links_to_docs_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    owned = {"docs/cli.md", "docs/rest.md", "docs/auth.md", "docs/guard.md"}
    linked = set(re.findall(r"\]\((docs/[a-z-]+\.md)", readme))
    assert owned <= linked and all((ROOT / name).is_file() for name in owned)


def test_a_database_with_part_of_the_demo_is_one_line_and_changes_nothing(tmp_path):
    """An older demo.db (todos, no teams) is refused, not half-upgraded."""
    url = f"sqlite:///{tmp_path}/old.db"
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute("CREATE TABLE todos (id INTEGER PRIMARY KEY, user_id INTEGER, title TEXT)")
    out, err = io.StringIO(), io.StringIO()
    env = {"REST_AUTH_ARGON2_TIME_COST": "1", "REST_AUTH_ARGON2_MEMORY_KIB": "8", "REST_AUTH_ARGON2_PARALLELISM": "1"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        status = main(["-db.url", url, "demo"], out=out, err=err)
    assert status == 2 and err.getvalue().startswith("rest: the database holds part of the demo (todos)")
    with sqlite3.connect(tmp_path / "old.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"todos"}
