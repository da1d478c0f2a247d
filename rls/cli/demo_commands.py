"""What `rest demo` prints: the serve command and ready requests showing row-level security."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import NamedTuple, TextIO

from dialects import redact_url
from rls.config import Config, split_addr
from rls.demo import Demo


class Request(NamedTuple):
    token: str | None
    """The shell variable holding the token; None for the anonymous user."""
    method: str
    path: str
    body: str | None = None
    """A template: ``{alice}`` is alice's id."""


REQUESTS: tuple[tuple[str, tuple[Request, ...]], ...] = (
    (
        "alice and bob see different todos (todos/all: user_id = auth_user.id)",
        (
            Request("ALICE", "GET", "/todos?select=id,title&order=id"),
            Request("BOB", "GET", "/todos?select=id,title&order=id"),
        ),
    ),
    (
        "published notes and your own drafts (notes/read: published OR user_id = auth_user.id)",
        (
            Request("ALICE", "GET", "/notes?select=title&order=id"),
            Request("BOB", "GET", "/notes?select=title&order=id"),
        ),
    ),
    (
        "the projects of your teams (projects/read: a sub-query on team_members)",
        (Request("BOB", "GET", "/projects?select=name"),),
    ),
    (
        "a forged write: bob creates a todo owned by alice -> 403 unauthorized, nothing written",
        (Request("BOB", "POST", "/todos", '{{"title": "forged", "project_id": 1, "user_id": {alice}}}'),),
    ),
    ("anonymous -> 401 login required", (Request(None, "GET", "/todos"),)),
    ("admin only (teams/all: auth_user.is_admin)", (Request("ADMIN", "GET", "/teams"),)),
)
"""What the demo shows, each under its comment."""


def rest_binary(argv0: str | None = None) -> str:
    """How to run ``rest`` again from here: as it was invoked (``.venv/bin/rest`` under
    make), ``rest`` when that is the one on PATH, else the script beside this Python."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if Path(argv0).name == "rest":
        on_path = shutil.which("rest")
        same = on_path is not None and Path(on_path).resolve() == Path(argv0).resolve()
        return "rest" if same else argv0
    script = Path(sys.executable).parent / "rest"
    if not script.exists():
        return "rest"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def curl(base: str, variable: str | None, method: str, path: str, body: str | None) -> str:
    """One request as a curl command line (the token from a shell variable)."""
    parts = ["curl"]
    if method != "GET":
        parts += ["-X", method]
    if variable:
        parts += ["-H", f'"Authorization: Bearer ${variable}"']
    parts.append(f"'{base}{path}'")  # always quoted: the shell must not read & or ?
    if body is not None:  # curl -d alone declares a form: rls reads only JSON (else 415)
        parts += ["-H", '"Content-Type: application/json"', "-d", shlex.quote(body)]
    return " ".join(parts)


def print_demo(demo: Demo, config: Config, out: TextIO) -> None:
    """The demo's state, the command starting the server, and ready requests."""
    host, port = split_addr(config.addr)
    base = f"http://{'localhost' if host == '0.0.0.0' else host}:{port}"  # noqa: S104 - comparing, not binding
    rest = rest_binary()
    url = shlex.quote(redact_url(config.db_url))
    secret = f"-auth.secret-file {shlex.quote(demo.secret_file)}" if demo.secret_file else '-auth.secret "$SECRET"'
    ids = {u.name: u.id for u in demo.users}
    print("demo tables created" if demo.created_tables else "demo tables already present", file=out)
    users = ", ".join(f"{u.name} (id {u.id}{', admin' if u.is_admin else ''})" for u in demo.users)
    kept = f"in {demo.secret_file} (mode 0600)" if demo.secret_file else "as given (auth.secret)"
    print(f"users: {users}; signing secret {kept}", file=out)
    created = [u for u in demo.users if u.password]
    if created:
        print("passwords of the users just created (shown once):", file=out)
        for user in created:
            print(f"  {user.name}: {user.password}", file=out)
    print(f"\nstart the server with row-level security on (make run does this):\n  {rest} -db.url {url}"
          f" -addr {shlex.quote(config.addr)} -auth.enabled {secret} serve", file=out)  # fmt: skip
    print(f"\nthen, in another shell (tokens valid {config.token_lifetime // 86400} days):", file=out)
    for name, variable in (("alice", "ALICE"), ("bob", "BOB"), ("rest_admin", "ADMIN")):
        if name in demo.tokens:  # rest_admin may have been deleted or renamed since setup
            print(f"  {variable}={shlex.quote(demo.tokens[name])}", file=out)
    for comment, requests in REQUESTS:
        print(f"# {comment}", file=out)
        for r in requests:
            body = r.body.format(alice=ids["alice"]) if r.body is not None else None
            print(f"  {curl(base, r.token, r.method, r.path, body)}", file=out)
    print("# what each class of user gets, per table and action (it warns: comments has no fitting policy)", file=out)
    print(f"  {rest} -db.url {url} auth policy check", file=out)
    print("# the SQL the projects policy compiles to on each database, and what it means", file=out)
    print(f"  {rest} -db.url {url} auth policy explain projects read -user-id {ids['bob']} -dialect all", file=out)
