"""`rest auth policy list|add|delete|check|explain|export`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any, TextIO

from dialects import DIALECTS, redact_url
from rls.auth.principal import AuthUser
from rls.auth.users import NotSetUp
from rls.cli.parsing import add_command, add_option, add_subcommands
from rls.cli.policy_report import CLASSES, decide, meaning, policy_report
from rls.config import Config, ConfigError
from rls.database import Database
from rls.errors import UnknownTable
from rls.policy import admin
from rls.policy.compile import UserClass
from rls.policy.model import ACTIONS, Policy
from rls.policy.native import export_native
from rls.policy.store import POLICY_TABLE
from rls.rest.explain import Explanation, explain


def register_policy_commands(commands: Any) -> None:
    """Add ``policy`` to the ``rest auth`` sub-commands."""
    policy = add_command(
        commands,
        "policy",
        "list, add, delete, check, explain and export policies",
        ("rest auth policy list", "rest auth policy check", "rest auth policy explain todos read -user-id 2"),
    )
    sub = add_subcommands(policy, "policy_command")
    add_command(sub, "list", "list the policies", ("rest auth policy list",)).set_defaults(run=_run(cmd_list))
    add = add_command(
        sub,
        "add",
        "add a policy (validated against the schema)",
        (
            "rest auth policy add todos all 'user_id = auth_user.id' 'owner rows'",
            "rest auth policy add notes read 'published OR user_id = auth_user.id'",
            "rest auth policy add teams all auth_user.is_admin 'admin only'",
            "rest auth policy add news read '' 'public'",
        ),
    )
    add.add_argument("table_name", help="a table, or 'all'")
    add.add_argument("action", help=f"one of {', '.join(ACTIONS)}")
    add.add_argument("expression", help="SQL condition; '' makes the table public")
    add.add_argument("description", nargs="?", default="", help="what the policy is for")
    add.set_defaults(run=_run(cmd_add))
    delete = add_command(sub, "delete", "delete a policy by id", ("rest auth policy delete 4",))
    delete.add_argument("id", type=int)
    delete.set_defaults(run=_run(cmd_delete))
    check = add_command(
        sub,
        "check",
        "validate the policies against the live schema; show what anonymous, a user and an admin get per table "
        "and action (allowed, filtered, denied); warn about tables no policy fits",
        ("rest auth policy check", "rest auth policy check -json | jq '.warnings'"),
    )
    add_option(check, "json", action="store_true", help="print the report as JSON")
    check.set_defaults(run=_run(cmd_check))
    explain = add_command(
        sub,
        "explain",
        "print the SQL a request would run, per database, and what the policy means",
        (
            "rest auth policy explain todos read -user-id 2",
            "rest auth policy explain projects read -user-id 3 -dialect all",
            "rest auth policy explain todos delete              # anonymous: denied",
        ),
    )
    explain.add_argument("table_name")
    explain.add_argument("action", help="create, read, update, delete or read_mine")
    add_option(explain, "user-id", help="the user's id (default: anonymous)")
    add_option(explain, "admin", action="store_true", help="the user is an admin")
    add_option(
        explain, "dialect", choices=(*DIALECTS, "all"), help="SQL for another database, or all three with a summary"
    )
    explain.set_defaults(run=_run(cmd_explain))
    export = add_command(
        sub,
        "export",
        "print the policies as native PostgreSQL row-level security",
        ("rest -db.url postgres://app@localhost/app auth policy export native > rls.sql",),
    )
    export.add_argument("format", nargs="?", choices=("native",), default="native", help="native (the default)")
    add_option(export, "native", action="store_true", help="the same as the format argument native")
    export.set_defaults(run=_run(cmd_export))


def _run(command: Any) -> Any:
    """Open the database for one command and close it afterwards."""

    def run(config: Config, args: argparse.Namespace, out: TextIO) -> int:
        db = Database(config.db_url)
        try:
            status: int = command(db, args, out)
            return status
        except UnknownTable:
            if POLICY_TABLE not in db.refresh_schema():
                raise NotSetUp() from None  # say what to do, not which table is missing
            raise
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
    report = policy_report(admin.list_policies(db), db.refresh_schema(), db.dialect)
    if args.json:
        invalid = [{"policy": b.policy.id, "table_name": b.policy.table, "action": b.policy.action,
                    "problem": b.reason} for b in broken]  # fmt: skip
        document = {"valid": not broken, "invalid": invalid, "warnings": report.warnings,
                    "decisions": [d.as_json() for d in report.decisions]}  # fmt: skip
        print(json.dumps(document, indent=2), file=out)
        return 1 if broken else 0
    if broken:
        print_table(
            out,
            ("id", "table_name", "action", "problem"),
            [(b.policy.id, b.policy.table, b.policy.action, b.reason) for b in broken],
        )
    else:
        print("every policy is valid", file=out)
    classes = [c.value for c in CLASSES]
    print("\nwhat each class of user gets (allowed: every row; filtered: rows where the condition holds):", file=out)
    print_table(
        out,
        ("table", "action", *classes, "condition"),
        [(d.table, d.action, *(d.outcomes[c] for c in classes), d.condition) for d in report.decisions],
    )
    if report.warnings:
        print("\nwarnings:", file=out)
        for warning in report.warnings:
            print(f"  {warning}", file=out)
    return 1 if broken else 0


def cmd_explain(db: Database, args: argparse.Namespace, out: TextIO) -> int:
    user_id: int | str | None = args.user_id
    if isinstance(user_id, str) and user_id.lstrip("-").isdigit():
        user_id = int(user_id)
    user = AuthUser(id=user_id, is_admin=bool(args.admin and user_id is not None))
    if args.dialect != "all":
        return _print_explanation(explain(db, args.table_name, args.action, user, args.dialect), out)
    schema = db.refresh_schema()
    decision = decide(admin.list_policies(db), schema.table(args.table_name), args.action, schema, db.dialect)
    print(meaning(decision, UserClass.of(user), user_id), file=out)
    for name in DIALECTS:
        print(f"-- {name}", file=out)
        _print_explanation(explain(db, args.table_name, args.action, user, name), out)
    return 0


def _print_explanation(explanation: Explanation, out: TextIO) -> int:
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
