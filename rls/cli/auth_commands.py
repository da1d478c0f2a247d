"""`rest auth setup`, `rest auth setup-token` and `rest auth user …`.

Setup prints the admin's password: the only place a password is ever printed. Other
passwords are read from a prompt (not echoed) or from standard input.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rls.auth.service import passwords_for
from rls.auth.setup import setup
from rls.auth.setup_gate import make_setup_token
from rls.auth.users import Users
from rls.cli.parsing import add_command, add_subcommands
from rls.config import Config
from rls.database import Database
from rls.errors import BadRequest

_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_ASK = "-"  # in place of a password argument: read it from a prompt or stdin


def register_user_commands(commands: Any) -> None:
    """Add ``setup``, ``setup-token`` and ``user`` to the ``rest auth`` sub-commands."""
    add_command(
        commands,
        "setup",
        "create the auth tables, default policies and the admin (prints its password once)",
        ("rest -db.url sqlite://app.db auth setup",),
    ).set_defaults(run=cmd_setup)
    add_command(
        commands,
        "setup-token",
        "print a token allowing POST /auth/setup from another host (valid one hour, or auth.setup_token)",
        ("rest -auth.secret-file /run/secrets/rest auth setup-token",),
    ).set_defaults(run=cmd_setup_token)
    user = add_command(
        commands,
        "user",
        "list, add, delete users; change a password",
        ("rest auth user list", "rest auth user add alice - false", "rest auth user passwd alice"),
    )
    user_commands = add_subcommands(user, "user_command")
    add_command(user_commands, "list", "list users (id, username, is_admin)", ("rest auth user list",)).set_defaults(
        run=cmd_user_list
    )
    add = add_command(
        user_commands,
        "add",
        "add a user",
        ("rest auth user add alice - false        # reads the password from a prompt or stdin",),
    )
    add.add_argument("username")
    add.add_argument("password", help="the password, or - to read it from a prompt or standard input")
    add.add_argument("is_admin", help="true, false, 1 or 0")
    add.set_defaults(run=cmd_user_add)
    delete = add_command(user_commands, "delete", "delete a user", ("rest auth user delete alice",))
    delete.add_argument("username")
    delete.set_defaults(run=cmd_user_delete)
    passwd = add_command(
        user_commands,
        "passwd",
        "change a password (read from a prompt or standard input)",
        ("rest auth user passwd alice", "printf '%s\\n' \"$PW\" | rest auth user passwd alice"),
    )
    passwd.add_argument("username")
    passwd.set_defaults(run=cmd_user_passwd)


def _with_users(config: Config, work: Callable[[Users], int]) -> int:
    db = Database(config.db_url)
    try:
        return work(Users(db, passwords_for(config), min_password_length=config.password_min_length))
    finally:
        db.close()


def cmd_setup(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    db = Database(config.db_url)
    try:
        admin = setup(db, passwords_for(config))
    finally:
        db.close()
    print("auth set up: tables auth_users and auth_policies, the default policies and an admin", file=out)
    print(f"Username: {admin['Username']}", file=out)
    print(f"Password: {admin['Password']}", file=out)
    return 0


def cmd_setup_token(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    """Print the setup token for ``X-Setup-Token``; it is a secret, so it goes to ``out`` only."""
    print(make_setup_token(config.setup_token, config.auth_secret), file=out)
    return 0


def cmd_user_list(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    def work(users: Users) -> int:
        rows = [(str(u.id), u.username, "true" if u.is_admin else "false") for u in users.list()]
        print_table(("id", "username", "is_admin"), rows, out)
        return 0

    return _with_users(config, work)


def cmd_user_add(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    is_admin = parse_bool(args.is_admin)
    password = read_password() if args.password == _ASK else args.password

    def work(users: Users) -> int:
        users.add(args.username, password, is_admin=is_admin)
        print(f"user added: {args.username}", file=out)
        return 0

    return _with_users(config, work)


def cmd_user_delete(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    def work(users: Users) -> int:
        users.delete(args.username)
        print(f"user deleted: {args.username}", file=out)
        return 0

    return _with_users(config, work)


def cmd_user_passwd(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    password = read_password()

    def work(users: Users) -> int:
        users.set_password(args.username, password)
        print(f"password changed: {args.username}", file=out)
        return 0

    return _with_users(config, work)


def parse_bool(text: str) -> bool:
    """``true``/``false``/``1``/``0`` (any case) as the original's ``<is_admin>``.

    >>> parse_bool("TRUE"), parse_bool("0")
    (True, False)
    """
    try:
        return _BOOLEANS[text.strip().lower()]
    except KeyError:
        raise BadRequest(f"is_admin must be true, false, 1 or 0, not {text!r}") from None


def read_password(stdin: TextIO | None = None) -> str:
    """A new password: typed twice at a prompt that does not echo, or one line of stdin."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        password = getpass.getpass("new password: ")
        if getpass.getpass("new password again: ") != password:
            raise BadRequest("the passwords do not match")
    else:
        password = stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise BadRequest("no password given")
    return password


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Print ``rows`` under ``header`` in columns aligned with spaces.

    >>> print_table(("id", "username"), [("1", "rest_admin"), ("12", "bo")], sys.stdout)
    id  username
    1   rest_admin
    12  bo
    """
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)
