"""Managing auth_policies: validated writes (CLI and REST alike), checks, explanations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from rls.database import Database, Session
from rls.emit import emit, placeholder
from rls.errors import NotFound, RlsError
from rls.policy.expression import validate_expression
from rls.policy.model import ALL, Policy, PolicyError, check_action
from rls.policy.store import POLICY_TABLE, read_policies
from rls.schema import Schema, Table

POLICY_FIELDS = ("table_name", "action", "expression")


def validate_policy(policy: Policy, schema: Schema) -> None:
    """Everything a write of a policy must satisfy; :class:`PolicyError` says what not."""
    check_action(policy.action)
    if policy.table != ALL and policy.table not in schema:
        raise PolicyError(f"policy table does not exist: {policy.table!r} (use a table name or 'all')")
    validate_expression(policy.expression, policy.table, schema)


def validate_policy_rows(
    session: Session, table: Table, rows: list[dict[str, Any]], schema: Schema
) -> list[dict[str, Any]]:
    """The REST write hook of auth_policies: every row written must be a valid policy.

    A change of table, action or expression names all three, so the policy is checked
    whole; a description alone may change freely.
    """
    for row in rows:
        present = [f for f in POLICY_FIELDS if f in row]
        if present and len(present) != len(POLICY_FIELDS):
            raise PolicyError("a policy write needs table_name, action and expression together")
        if present:
            validate_policy(
                Policy(str(row["table_name"] or ""), str(row["action"] or ""), str(row["expression"] or "")), schema
            )
    return rows


def _table_node() -> exp.Table:
    return exp.Table(this=exp.to_identifier(POLICY_TABLE, quoted=True))


def add_policy(db: Database, policy: Policy) -> None:
    """Validate and store a policy."""
    validate_policy(policy, db.refresh_schema())
    columns = ("table_name", "action", "expression", "description")
    tree = exp.Insert(
        this=exp.Schema(this=_table_node(), expressions=[exp.to_identifier(c, quoted=True) for c in columns]),
        expression=exp.Values(expressions=[exp.Tuple(expressions=[placeholder(c) for c in columns])]),
    )
    emitted = emit(tree, db.dialect)
    values = {"table_name": policy.table, "action": policy.action, "expression": policy.expression,
              "description": policy.description}  # fmt: skip
    db.run(lambda s: s.execute(emitted.sql, [values[n] for n in emitted.names]), write=True)


def delete_policy(db: Database, policy_id: int) -> None:
    tree = exp.Delete(this=_table_node()).where(exp.column("id", quoted=True).eq(placeholder("id")), copy=False)
    emitted = emit(tree, db.dialect)
    if db.run(lambda s: s.execute(emitted.sql, [policy_id]).rowcount, write=True) == 0:
        raise NotFound(f"no policy with id {policy_id}")


def list_policies(db: Database) -> tuple[Policy, ...]:
    return db.run(read_policies)


@dataclass(frozen=True)
class Broken:
    policy: Policy
    reason: str


def check_policies(db: Database) -> list[Broken]:
    """Every stored policy checked against the live schema (after a migration, say)."""
    schema = db.refresh_schema()
    broken = []
    for policy in list_policies(db):
        try:
            validate_policy(policy, schema)
        except RlsError as exc:
            broken.append(Broken(policy, exc.message))
    return broken
