"""The ``rest`` command: serve the REST API, install the demo, manage auth and policies.

Every setting is a flag (``-db.url``, ``--auth.secret-file``; see :mod:`rls.cli.flags`),
accepted before or after the sub-command: ``rest -db.url <url> auth setup``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rls.cli.auth_commands import register_user_commands
from rls.cli.completion import completion_script
from rls.cli.flags import extract_flags, settings_help
from rls.cli.parsing import add_command, add_subcommands, examples_epilog
from rls.cli.policy_commands import register_policy_commands
from rls.config import Config, ConfigError, load_config, merge_layers
from rls.database import Database
from rls.errors import RlsError

Command = Callable[[Config, argparse.Namespace, TextIO], int]

EXAMPLES = (
    "rest -db.url sqlite://demo.db demo                   # demo tables, users, policies, tokens",
    "rest -db.url sqlite://demo.db -auth.enabled -auth.secret-file .rls-demo/secret serve",
    "rest -config rest.yml serve",
    "REST_DB_URL=postgres://app@localhost/app rest auth policy check",
    "rest -db.url sqlite://demo.db auth policy explain todos read -user-id 2",
    "source <(rest completion bash)",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rest",
        description="A REST API with row-level security over PostgreSQL, MySQL/MariaDB and SQLite.",
        epilog=examples_epilog(EXAMPLES)
        + "\nflags (each setting; -name or --name, anywhere on the command line; a boolean alone is true,"
        "\n-name=false turns it off), environment variable, default:\n"
        + "  -config  (YAML file with the settings)\n"
        + settings_help()
        + "\n\nPrecedence, lowest first: defaults, the -config file, the environment, flags.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    commands = add_subcommands(parser, "command", required=False)
    serve = add_command(
        commands,
        "serve",
        "start the server (the default)",
        ("rest -db.url postgres://app@localhost/app -addr :8080 serve", "rest -config rest.yml serve -workers 4"),
    )
    serve.set_defaults(run=cmd_serve)
    demo = add_command(
        commands,
        "demo",
        "set up the demo: tables, rows, auth, alice, bob, policies; print ready requests",
        ("rest -db.url sqlite://demo.db demo", "rest -db.url sqlite://demo.db -auth.secret-file /run/demo-secret demo"),
    )
    demo.set_defaults(run=cmd_demo, prepare=prepare_demo)
    auth = add_command(
        commands,
        "auth",
        "set up auth; manage users and policies",
        ("rest auth setup", "rest auth user list", "rest auth policy check"),
    )
    auth_commands = add_subcommands(auth, "auth_command")
    register_user_commands(auth_commands)
    register_policy_commands(auth_commands)
    completion = add_command(
        commands,
        "completion",
        "print a shell completion script",
        ("source <(rest completion bash)      # in ~/.bashrc", "source <(rest completion zsh)       # in ~/.zshrc"),
    )
    completion.add_argument("shell", choices=("bash", "zsh"))
    completion.set_defaults(run=cmd_completion)
    parser.set_defaults(run=cmd_serve)
    return parser


def cmd_serve(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from rls.serve import serve

    # serve() announces the (redacted) database URL itself, after its start-up checks.
    serve(config, announce=lambda line: print(line, file=out, flush=True))
    return 0


def cmd_demo(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from rls.auth.service import passwords_for
    from rls.cli.demo_commands import print_demo
    from rls.demo import install_demo

    db = Database(config.db_url)
    try:
        demo = install_demo(db, config, passwords_for(config))
    finally:
        db.close()
    print_demo(demo, config, out)
    return 0


def prepare_demo(config_file: str | None, settings: dict[str, str]) -> None:
    """Before the settings are read: the demo creates the secret file it is told to use."""
    from rls.demo import ensure_secret

    path = merge_layers(config_file, environ=os.environ, overrides=settings).get("auth.secret_file")
    if path:
        ensure_secret(str(path))


def cmd_completion(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    out.write(completion_script(build_parser(), args.shell))
    return 0


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status. Errors are one line on ``err``."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        flags = extract_flags(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(f"rest: {exc}", file=err)
        return 2
    args = build_parser().parse_args(flags.rest)
    try:
        if prepare := getattr(args, "prepare", None):
            prepare(flags.config_file, flags.settings)
        config = load_config(flags.config_file, overrides=flags.settings)
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
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `rest … | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    raise SystemExit(status)
