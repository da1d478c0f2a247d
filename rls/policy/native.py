"""Policies as native PostgreSQL row-level security: defence in depth, and an oracle.

The export enables and forces RLS on every table and creates one policy per command
from the same selection rules rls applies (the first non-empty level, ORed). The
user's attributes come from transaction-local settings, which the application sets
at the start of each transaction::

    SELECT set_config('rls.user_id', '42', true), set_config('rls.is_admin', 'false', true);

``rls.claim_<name>`` carries any other claim. An unset setting reads as NULL, so a
missing attribute cannot make a policy true — the same rule as rls's own.
"""

from __future__ import annotations

from sqlglot import exp

from rls.policy.expression import AUTH_USER, TARGET, parse_expression, resolve_columns
from rls.policy.model import Policy, select_policies
from rls.schema import Schema, Table

SETTING_PREFIX = "rls"
_COMMANDS = (("read", "SELECT"), ("create", "INSERT"), ("update", "UPDATE"), ("delete", "DELETE"))


def _setting(name: str) -> exp.Expr:
    """``NULLIF(current_setting('rls.<name>', true), '')``: NULL when unset."""
    current = exp.Anonymous(
        this="current_setting", expressions=[exp.Literal.string(f"{SETTING_PREFIX}.{name}"), exp.true()]
    )
    return exp.Nullif(this=current, expression=exp.Literal.string(""))


def _attribute(column: exp.Column) -> exp.Expr:
    name = column.name
    if name == "is_admin":
        return exp.EQ(this=exp.Coalesce(this=_setting("is_admin"), expressions=[exp.Literal.string("")]),
                      expression=exp.Literal.string("true"))  # fmt: skip
    if name == "is_authenticated":
        return exp.Not(this=exp.Is(this=_setting("user_id"), expression=exp.Null()))
    value = _setting("user_id" if name == "id" else f"claim_{name}")
    # Settings are text: compare them as the column they meet.
    other = _compared_column(column)
    if other is not None and other.meta.get("type"):
        return exp.Cast(this=value, to=exp.DataType.build(other.meta["type"], dialect="postgres"))
    return value


def _compared_column(column: exp.Column) -> exp.Column | None:
    parent = column.parent
    if isinstance(parent, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
        other = parent.expression if parent.this is column else parent.this
        return other if isinstance(other, exp.Column) else None
    return None


def native_expression(policies: list[Policy], table: Table, schema: Schema) -> str | None:
    """The SQL of one native policy for ``policies`` (ORed); None when there are none."""
    if not policies:
        return None
    parts = []
    for policy in policies:
        tree = parse_expression(policy.expression)
        if tree is None:
            return "true"
        tree = resolve_columns(tree, table, schema)

        for column in list(tree.find_all(exp.Column)):
            if column.table == AUTH_USER:
                column.replace(_attribute(column))
        for column in list(tree.find_all(exp.Column)):
            if column.table == TARGET:  # in CREATE POLICY the table's columns stand alone
                column.replace(exp.column(column.name, quoted=True))
        parts.append(exp.paren(tree, copy=False).sql("postgres"))
    return " OR ".join(parts)


def export_native(policies: list[Policy], schema: Schema) -> list[str]:
    """``ALTER TABLE … ENABLE/FORCE ROW LEVEL SECURITY`` and ``CREATE POLICY`` statements."""
    statements: list[str] = []
    for table in sorted((t for t in schema.tables.values() if not t.is_view), key=lambda t: t.name):
        name = exp.to_identifier(table.name, quoted=True).sql("postgres")
        statements += [f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY", f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY"]
        for action, command in _COMMANDS:
            policy_name = f"rls_{action}"
            statements.append(f"DROP POLICY IF EXISTS {policy_name} ON {name}")
            condition = native_expression(list(select_policies(policies, table.name, action)), table, schema)
            if condition is None:
                continue  # no policy: the command is denied, as rls denies it
            clauses = {
                "SELECT": f"USING ({condition})",
                "INSERT": f"WITH CHECK ({condition})",
                "UPDATE": f"USING ({condition}) WITH CHECK ({condition})",
                "DELETE": f"USING ({condition})",
            }[command]
            statements.append(f"CREATE POLICY {policy_name} ON {name} FOR {command} TO PUBLIC {clauses}")
    return statements
