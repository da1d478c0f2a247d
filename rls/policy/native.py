"""Policies as native PostgreSQL row-level security: defence in depth.

The export enables and forces RLS on every table and creates one policy per command
from the same selection rules rls applies (the first non-empty level, ORed). The
user's attributes come from transaction-local settings, which the application sets
at the start of each transaction::

    SELECT set_config('rls.user_id', '42', true), set_config('rls.is_admin', 'false', true);

``rls.claim_<name>`` carries any other claim (setting names ignore case: claims that
differ only in case share one setting). The meaning is rls's own
(:func:`rls.policy.compile.bind_user_class`):

- an unset or empty ``rls.user_id`` is the anonymous user: ``is_authenticated`` and
  ``is_admin`` are false, the id and every claim are NULL;
- ``is_admin`` is true only for an authenticated user whose ``rls.is_admin`` is ``true``;
- a setting meets a column as a value of the column's type only when it is a valid
  literal of that type (``'2abc'`` never equals an integer column); otherwise it is
  NULL. No cast can raise, whatever the setting holds. An unset setting is NULL, so a
  missing attribute cannot make a policy true.

A policy that does not fit a table (a policy on ``all`` naming a column the table
lacks) grants nothing on that table, as in rls; a table and command with no fitting
policy gets an explicit deny policy. Each such decision is a comment on the statement.

Natively, a policy's sub-query over another table is itself filtered by that table's
policies (rls reads it unfiltered): keep the policies of tables read by sub-queries
compatible, e.g. membership rows visible to their own user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import sqlglot
from sqlglot import exp

from rls.policy.expression import AUTH_USER, TARGET, parse_expression, resolve_columns
from rls.policy.model import Policy, PolicyError, select_policies
from rls.schema import Kind, Schema, Table

SETTING_PREFIX = "rls"
_COMMANDS = (("read", "SELECT"), ("create", "INSERT"), ("update", "UPDATE"), ("delete", "DELETE"))
_CLAUSES = {
    "SELECT": "USING ({c})",
    "INSERT": "WITH CHECK ({c})",
    "UPDATE": "USING ({c}) WITH CHECK ({c})",
    "DELETE": "USING ({c})",
}

# -- attributes ---------------------------------------------------------------------------

_VALUE = "__rls_value__"
"""Stands for the setting in the templates below."""

_NUMBER = r"^[+-]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})([eE][+-]?[0-9]{1,3})?$"
_UUID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
_TYPE_NAME = re.compile(r"[a-z][a-z0-9_ ]*(\([0-9]+(,[0-9]+)?\))?( with(out)? time zone)?(\[\])*")
_BOOLEANS = "'true', 'false', 't', 'f', 'yes', 'no', 'on', 'off', '1', '0'"
# A CASE is evaluated lazily and current_setting() is not folded at plan time, so the
# inner cast only ever sees a value its guard accepted.
# Integers as bigint and floats as double precision, whatever the column's width: rls
# binds a Python int or float, which compares with a smallint column as a number, not
# as NULL when out of the column's range. Cross-type comparisons still use the index.
_INTEGER = f"CASE WHEN {_VALUE} ~ '^-?[0-9]{{1,30}}$' THEN CASE WHEN {_VALUE}::numeric BETWEEN -9223372036854775808 AND 9223372036854775807 THEN {_VALUE}::bigint END END"  # noqa: E501
_FLOAT = f"CASE WHEN {_VALUE} ~ '{_NUMBER}' THEN CASE WHEN {_VALUE}::numeric = 0 OR abs({_VALUE}::numeric) BETWEEN 1e-307 AND 1e308 THEN {_VALUE}::double precision END END"  # noqa: E501
_TEMPLATES = {
    Kind.INTEGER: _INTEGER,
    Kind.FLOAT: _FLOAT,
    Kind.DECIMAL: f"CASE WHEN {_VALUE} ~ '{_NUMBER}' THEN {_VALUE}::numeric END",
    Kind.BOOLEAN: f"CASE WHEN lower({_VALUE}) IN ({_BOOLEANS}) THEN {_VALUE}::boolean END",
    Kind.UUID: f"CASE WHEN {_VALUE} ~ '{_UUID}' THEN {_VALUE}::uuid END",
}


def _setting(name: str) -> exp.Expr:
    """``NULLIF(current_setting('rls.<name>', true), '')``: NULL when unset (a local
    setting reads as '' once its transaction is over)."""
    current = exp.Anonymous(
        this="current_setting", expressions=[exp.Literal.string(f"{SETTING_PREFIX}.{name}"), exp.true()]
    )
    return exp.Nullif(this=current, expression=exp.Literal.string(""))


def _authenticated() -> exp.Expr:
    return exp.Not(this=exp.Is(this=_setting("user_id"), expression=exp.Null()))


def _attribute(name: str, peer: tuple[Kind, str] | None) -> exp.Expr:
    """``auth_user.<name>`` as a native expression; ``peer`` is what it is compared with."""
    if name == "is_authenticated":
        return exp.paren(_authenticated())
    if name == "is_admin":  # never NULL, and false for the anonymous user, as in rls
        flag = exp.EQ(
            this=exp.Coalesce(this=_setting("is_admin"), expressions=[exp.Literal.string("")]),
            expression=exp.Literal.string("true"),
        )
        return exp.paren(exp.and_(_authenticated(), flag))
    value = _typed(_setting("user_id" if name == "id" else f"claim_{name}"), peer)
    if name == "id":
        return value
    # The anonymous user has no claims, whatever the settings say.
    return exp.Case(ifs=[exp.If(this=_authenticated(), true=value)])


def _typed(value: exp.Expr, peer: tuple[Kind, str] | None) -> exp.Expr:
    """The text ``value`` as a value of the peer's type, NULL when it is not one."""
    if peer is None:
        return value
    kind, type_ = peer
    if kind is Kind.TEXT:
        # Never cast to the column's own type: varchar(n) and char(n) casts truncate.
        return exp.cast(value, "bpchar", dialect="postgres") if type_.startswith("character(") else value
    template = _TEMPLATES.get(kind)
    if template is None:  # no safe cast (dates, JSON, …): the attribute matches nothing
        return _typed_null(type_) if type_ else exp.Null()
    tree = sqlglot.parse_one(template, dialect="postgres")
    return tree.transform(lambda n: value.copy() if isinstance(n, exp.Column) and n.name == _VALUE else n)


def _typed_null(type_: str) -> exp.Expr:
    """``CAST(NULL AS type_)``: a bare NULL in a CASE would be text, which a date cannot meet."""
    # The name comes from the catalog; still, only plain type names are written out.
    if not _TYPE_NAME.fullmatch(type_):
        raise PolicyError(f"no native type for {type_!r}")
    return exp.Cast(this=exp.Null(), to=exp.DataType.build(type_, dialect="postgres", udt=True))


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)


def _peer(node: exp.Expr) -> tuple[Kind, str] | None:
    """The kind and type of what the attribute ``node`` meets, if rls can tell."""
    while isinstance(node.parent, exp.Paren):
        node = node.parent
    parent = node.parent
    others: list[exp.Expr | None] = []
    if isinstance(parent, _COMPARISONS):
        others = [parent.expression if parent.this is node else parent.this]
    elif isinstance(parent, exp.In):
        query = parent.args.get("query")
        others = [query] if parent.this is node and query is not None else [parent.this, *parent.expressions]
    elif isinstance(parent, exp.Between):
        others = [parent.this, parent.args.get("low"), parent.args.get("high")]
    elif isinstance(parent, (exp.Like, exp.ILike, exp.Lower, exp.Upper, exp.Trim, exp.Length)):
        return (Kind.TEXT, "text")
    for other in others:
        found = _type_of(other) if other is not None and other is not node else None
        if found is not None:
            return found
    return None


def _type_of(node: exp.Expr) -> tuple[Kind, str] | None:
    while isinstance(node, (exp.Paren, exp.Subquery, exp.Neg)):
        node = node.this
    if isinstance(node, exp.Select) and node.expressions:
        return _type_of(node.expressions[0])
    if isinstance(node, exp.Column) and node.meta.get("kind") is not None:
        return node.meta["kind"], node.meta.get("type") or ""
    if isinstance(node, exp.Literal):
        return (Kind.TEXT, "text") if node.is_string else (Kind.DECIMAL, "numeric")
    if isinstance(node, exp.Boolean):
        return (Kind.BOOLEAN, "boolean")
    return None


# -- expressions ----------------------------------------------------------------------------


def _unshadow(tree: exp.Expr, table: Table) -> None:
    """Rename sub-query aliases equal to the policy table's name, so that the table's
    own columns, qualified by that name, cannot bind to a sub-query table."""
    tables = list(tree.find_all(exp.Table))
    clashing = [t for t in tables if t.alias_or_name == table.name]
    if not clashing:
        return
    taken = {t.alias_or_name for t in tables} | {t.name for t in tables}
    alias = next(f"{table.name}_{n}" for n in range(1, len(taken) + 2) if f"{table.name}_{n}" not in taken)
    for source in clashing:
        source.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    for column in tree.find_all(exp.Column):
        if column.table == table.name:
            column.set("table", exp.to_identifier(alias, quoted=True))


def native_expression(policy: Policy, table: Table, schema: Schema, notes: list[str] | None = None) -> str:
    """The native SQL of one policy on ``table``; comment lines on what differs from rls
    are appended to ``notes``.

    Raises:
        PolicyError: the policy does not fit the table; it grants nothing there.
    """
    tree = parse_expression(policy.expression)
    if tree is None:
        return "true"
    tree = resolve_columns(tree, table, schema)
    _unshadow(tree, table)
    peers = {id(c): _peer(c) for c in tree.find_all(exp.Column) if c.table == AUTH_USER}
    for column in tree.find_all(exp.Column):
        peer = peers.get(id(column))
        if peer is not None and peer[0] is not Kind.TEXT and peer[0] not in _TEMPLATES and notes is not None:
            what = peer[1] or peer[0].value
            notes.append(f"-- auth_user.{column.name} meets a {what} value: no safe cast natively, it matches nothing")

    def replace(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Column):
            return node
        if node.table == AUTH_USER:
            return _attribute(node.name, peers[id(node)])
        if node.table == TARGET:  # qualified: a bare name would bind to a sub-query table first
            return exp.column(node.name, table=table.name, quoted=True)
        return node

    # transform, not replace: the root itself may be an attribute (`auth_user.is_admin`).
    return tree.transform(replace, copy=False).sql("postgres")


def _condition(policies: list[Policy], table: Table, schema: Schema, what: str) -> tuple[str, list[str]]:
    """The ORed condition of ``policies`` and comment lines explaining what was left out."""
    parts: list[str] = []
    notes: list[str] = []
    for policy in policies:
        try:
            parts.append(f"({native_expression(policy, table, schema, notes)})")
        except PolicyError as exc:
            name = f"policy {policy.id}" if policy.id is not None else "a policy"
            notes.append(f"-- {name} on {policy.table}/{policy.action} ignored here, it grants nothing: {exc.message}")
    if "(true)" in parts:
        return "true", notes
    if not parts:
        notes.append(f"-- no policy fits {what}: denied")
        return "false", notes
    return " OR ".join(parts), notes


def _table_statements(policies: list[Policy], table: Table, schema: Schema) -> Iterator[str]:
    name = exp.to_identifier(table.name, quoted=True).sql("postgres")
    yield f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"
    yield f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY"
    for action, command in _COMMANDS:
        policy_name = f"rls_{action}"
        yield f"DROP POLICY IF EXISTS {policy_name} ON {name}"
        selected = list(select_policies(policies, table.name, action))
        condition, notes = _condition(selected, table, schema, f"{table.name}/{action}")
        clauses = _CLAUSES[command].format(c=condition)
        create = f"CREATE POLICY {policy_name} ON {name} FOR {command} TO PUBLIC {clauses}"
        yield "\n".join([*(n.replace("\n", " ") for n in notes), create])


def export_native(policies: list[Policy], schema: Schema) -> list[str]:
    """``ALTER TABLE … ENABLE/FORCE ROW LEVEL SECURITY``, ``DROP POLICY`` and ``CREATE
    POLICY`` statements for every table (views are left alone). A statement may start
    with comment lines saying which policies were left out and why."""
    statements: list[str] = []
    for table in sorted((t for t in schema.tables.values() if not t.is_view), key=lambda t: t.name):
        statements += _table_statements(policies, table, schema)
    return statements
