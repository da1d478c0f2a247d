"""`rest auth policy list|add|delete|check|explain|export`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO

from dialects import redact_url
from rls.auth.principal import AuthUser
from rls.config import Config, ConfigError
from rls.database import Database
from rls.policy import admin
from rls.policy.model import ACTIONS, Policy
from rls.policy.native import export_native
from rls.rest.explain import explain


def register_policy_commands(commands: Any) -> None:
    """Add ``policy`` to the ``rest auth`` sub-commands."""
    policy = commands.add_parser("policy", help="list, add, delete, check and explain policies")
    sub = policy.add_subparsers(dest="policy_command", metavar="command", required=True)
    sub.add_parser("list", help="list the policies").set_defaults(run=_run(cmd_list))
    add = sub.add_parser("add", help="add a policy (validated against the schema)")
    add.add_argument("table_name", help="a table, or 'all'")
    add.add_argument("action", help=f"one of {', '.join(ACTIONS)}")
    add.add_argument("expression", help="SQL condition; '' makes the table public")
    add.add_argument("description", nargs="?", default="", help="what the policy is for")
    add.set_defaults(run=_run(cmd_add))
    delete = sub.add_parser("delete", help="delete a policy by id")
    delete.add_argument("id", type=int)
    delete.set_defaults(run=_run(cmd_delete))
    sub.add_parser("check", help="validate every stored policy against the live schema").set_defaults(
        run=_run(cmd_check)
    )
    explain = sub.add_parser("explain", help="print the SQL a request would run")
    explain.add_argument("table_name")
    explain.add_argument("action", help="create, read, update, delete or read_mine")
    explain.add_argument("--user-id", help="the user's id (default: anonymous)")
    explain.add_argument("--admin", action="store_true", help="the user is an admin")
    explain.add_argument("--dialect", choices=("sqlite", "postgres", "mysql"), help="SQL for another database")
    explain.set_defaults(run=_run(cmd_explain))
    export = sub.add_parser("export", help="print the policies as native PostgreSQL row-level security")
    export.add_argument("--native", action="store_true", required=True, help="CREATE POLICY statements")
    export.set_defaults(run=_run(cmd_export))


def _run(command: Any) -> Any:
    """Open the database for one command and close it afterwards."""

    def run(config: Config, args: argparse.Namespace, out: TextIO) -> int:
        db = Database(config.db_url)
        try:
            status: int = command(db, args, out)
            return status
        finally:
            db.close()

    return run


def print_table(out: TextIO, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Rows as aligned columns under a header."""
    cells = [list(header), *([("" if v is None else str(v)) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)


def cmd_list(db: Database, args: argparse.Namespace, out: TextIO) -> int:
    policies = admin.list_policies(db)
    print_table(
        out,
        ("id", "table_name", "action", "expression", "description"),
        [(p.id, p.table, p.action, p.expression, p.description) for p in policies],
    )
    return 0


def cmd_add(db: Database, args: argparse.Namespace, out: TextIO) -> int:
    admin.add_policy(db, Policy(args.table_name, args.action, args.expression, args.description))
    print(f"policy added: {args.table_name} / {args.action}", file=out)
    return 0


def cmd_delete(db: Database, args: argparse.Namespace, out: TextIO) -> int:
    admin.delete_policy(db, args.id)
    print(f"policy {args.id} deleted", file=out)
    return 0


def cmd_check(db: Database, args: argparse.Namespace, out: TextIO) -> int:
    broken = admin.check_policies(db)
    if not broken:
        print("every policy is valid", file=out)
        return 0
    print_table(
        out,
        ("id", "table_name", "action", "problem"),
        [(b.policy.id, b.policy.table, b.policy.action, b.reason) for b in broken],
    )
    return 1


def cmd_explain(db: Database, args: argparse.Namespace, out: TextIO) -> int:
    user_id: int | str | None = args.user_id
    if isinstance(user_id, str) and user_id.lstrip("-").isdigit():
        user_id = int(user_id)
    user = AuthUser(id=user_id, is_admin=bool(args.admin and user_id is not None))
    explanation = explain(db, args.table_name, args.action, user, args.dialect)
    if explanation.denied:
        print(f"denied: {explanation.denied}", file=out)
        return 0
    print(explanation.sql, file=out)
    print(f"params: {list(explanation.params)}", file=out)
    return 0


def cmd_export(db: Database, args: argparse.Namespace, out: TextIO) -> int:
    if db.dialect.name != "postgres":
        raise ConfigError("native policies exist on PostgreSQL only")
    print(f"-- row-level security for {redact_url(db.url)}; per transaction, set the user with", file=out)
    print("-- SELECT set_config('rls.user_id', '<id>', true), set_config('rls.is_admin', 'false', true);", file=out)
    for statement in export_native(list(admin.list_policies(db)), db.refresh_schema()):
        print(f"{statement};", file=out)
    return 0
