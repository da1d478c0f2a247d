"""The ``rest`` command: serve the REST API, install the demo data, manage auth.

Flags go before the sub-command, as in the original: ``rest -db.url <url> auth setup``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rls.cli.auth_commands import register_user_commands
from rls.cli.policy_commands import register_policy_commands
from rls.config import SETTINGS, Config, ConfigError, load_config, split_addr
from rls.database import Database
from rls.errors import RlsError

Command = Callable[[Config, argparse.Namespace, TextIO], int]
_NAME_WIDTH = max(len(s.name) for s in SETTINGS)
_ENV_WIDTH = max(len(s.env or "") for s in SETTINGS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rest",
        description="A REST API with row-level security over PostgreSQL, MySQL/MariaDB and SQLite.",
        epilog="Settings (YAML name, environment variable, default):\n"
        + "\n".join(f"  {s.name:<{_NAME_WIDTH}} {s.env or '':<{_ENV_WIDTH}} {s.default!r}  {s.help}" for s in SETTINGS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Go-style single-dash flags as the original, and their double-dash spellings.
    parser.add_argument("-addr", "--addr", help="address to listen on (default :3000)")
    parser.add_argument("-db.url", "--db.url", dest="db_url", help="database URL")
    parser.add_argument("-config", "--config", help="YAML config file")
    parser.add_argument("-workers", "--workers", type=int, help="worker processes (default: one per CPU)")
    commands = parser.add_subparsers(dest="command", metavar="command")
    serve = commands.add_parser("serve", help="start the server (the default)")
    serve.set_defaults(run=cmd_serve)
    demo = commands.add_parser("demo", help="create the demo tables and rows (if absent)")
    demo.set_defaults(run=cmd_demo)
    auth = commands.add_parser("auth", help="set up auth; manage users and policies")
    auth_commands = auth.add_subparsers(dest="auth_command", metavar="command", required=True)
    register_user_commands(auth_commands)
    register_policy_commands(auth_commands)
    parser.set_defaults(run=cmd_serve)
    return parser


def cmd_serve(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from rls.serve import serve

    # serve() announces the (redacted) database URL itself, after its start-up checks.
    serve(config, announce=lambda line: print(line, file=out, flush=True))
    return 0


def cmd_demo(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from rls.demo import install_demo

    db = Database(config.db_url)
    try:
        created = install_demo(db)
    finally:
        db.close()
    print("demo tables created" if created else "demo tables already present", file=out)
    host, port = split_addr(config.addr)
    base = f"http://{'localhost' if host == '0.0.0.0' else host}:{port}"  # noqa: S104 - comparing, not binding
    for example in DEMO_EXAMPLES:
        print(f"  {example.format(base=base)}", file=out)
    return 0


DEMO_EXAMPLES = (
    "curl '{base}/todos'",
    "curl '{base}/todos?done=is.false&order=due.desc&select=id,title,due'",
    "curl '{base}/todos?title=like.*milk*&count'",
    "curl '{base}/todos/1'",
    'curl -X POST \'{base}/todos\' -d \'{{"title": "call mum", "project_id": 1, "user_id": 1}}\'',
    "curl -X PATCH '{base}/todos?id=eq.2' -d '{{\"done\": true}}'",
    "curl -X DELETE '{base}/comments?todo_id=eq.3'",
)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status. Errors are one line on ``err``."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, overrides={"addr": args.addr, "db.url": args.db_url, "workers": args.workers})
        status: int = args.run(config, args, out)
        return status
    except (ConfigError, ValueError) as exc:
        print(f"rest: {exc}", file=err)
        return 2
    except RlsError as exc:
        print(f"rest: {exc.message}", file=err)
        return 1
    except KeyboardInterrupt:
        return 130


def entry(*args: Any) -> None:  # pragma: no cover - console script shim
    raise SystemExit(main())
