"""What a REST request would run for a user: the SQL, its parameters, or the denial."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dialects import get_dialect
from dialects.base import Dialect
from rls.auth.principal import AuthUser
from rls.database import Database
from rls.policy.admin import list_policies
from rls.policy.compile import Predicate, UserClass, compile_policies, principal_params
from rls.policy.engine import denial
from rls.policy.model import ALL, PolicyError, check_action, select_policies
from rls.rest.plan import Plan, compile_delete, compile_insert, compile_read, compile_update
from rls.rest.query import RestQuery
from rls.schema import Table


@dataclass(frozen=True)
class Explanation:
    """The statement a request would run, its parameters, or why it is refused."""

    sql: str | None
    params: Sequence[Any]
    denied: str | None = None


def explain(db: Database, table_name: str, action: str, user: AuthUser, dialect_name: str | None = None) -> Explanation:
    """The SQL a REST request of ``action`` on ``table_name`` would run for ``user``."""
    check_action(action)
    if action == ALL:
        raise PolicyError("explain one action: create, read, update, delete or read_mine")
    schema = db.refresh_schema()
    table = schema.table(table_name)
    dialect: Dialect = get_dialect(dialect_name) if dialect_name else db.dialect
    predicate = compile_policies(
        select_policies(list_policies(db), table.name, action), table, schema, UserClass.of(user), dialect
    )
    if predicate.denied:
        return Explanation(None, (), denial(user).message)
    plan = _plan_for(table, action, dialect, predicate)
    principal: Mapping[str, Any] = principal_params(user)
    # Request values are shown as <v0>…; the principal's attributes as bound.
    params = [f"<v{p}>" if isinstance(p, int) else principal[p] for p in plan.params]
    return Explanation(plan.sql, params)


def _plan_for(table: Table, action: str, dialect: Dialect, predicate: Predicate) -> Plan:
    every_row = RestQuery(all_rows=True)
    columns = tuple(c for c in table.columns if c not in table.primary_key) or tuple(table.columns)
    if action in ("read", "read_mine"):
        return compile_read(table, RestQuery(), dialect, predicate)
    if action == "create":
        return compile_insert(table, columns, dialect, predicate, predicate.owner_columns)
    if action == "update":
        return compile_update(table, columns, every_row, dialect, predicate, predicate)
    return compile_delete(table, every_row, dialect, predicate)
