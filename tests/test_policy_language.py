"""The policy language on its own: selection, allowed constructs, columns, folding per user class."""

from __future__ import annotations

import pytest

from dialects import get_dialect
from rls.policy.compile import UserClass, compile_policies, fold
from rls.policy.expression import parse_expression, resolve_columns, validate_expression
from rls.policy.model import Policy, PolicyError, select_policies
from rls.schema import Column, Kind, Schema, Table

SCHEMA = Schema.build(
    [
        Table.build(
            "todos",
            [
                Column("id", Kind.INTEGER),
                Column("user_id", Kind.INTEGER),
                Column("team_id", Kind.INTEGER),
                Column("status", Kind.TEXT),
                Column("title", Kind.TEXT),
            ],
            ["id"],
        ),
        Table.build(
            "members", [Column("team_id", Kind.INTEGER), Column("user_id", Kind.INTEGER), Column("org", Kind.TEXT)]
        ),
    ]
)
TODOS = SCHEMA.table("todos")


# -- selection ----------------------------------------------------------------------------

LEVELS = [
    Policy("all", "all", "a"),
    Policy("all", "read", "b"),
    Policy("todos", "all", "c"),
    Policy("todos", "read", "d"),
    Policy("todos", "read", "e"),
]


@pytest.mark.parametrize(
    ("rows", "table", "action", "expected"),
    [
        (LEVELS, "todos", "read", ["d", "e"]),
        (LEVELS, "todos", "delete", ["c"]),
        (LEVELS[:2], "todos", "read", ["b"]),
        (LEVELS[:2], "todos", "delete", ["a"]),
        (LEVELS[:1], "posts", "read_mine", ["a"]),
        ([Policy("posts", "read", "")], "todos", "read", []),
        ([], "todos", "read", []),
    ],
)
def test_selection_takes_the_first_non_empty_level(rows, table, action, expected):
    assert [p.expression for p in select_policies(rows, table, action)] == expected


# -- constructs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "user_id = auth_user.id",
        "auth_user.is_admin",
        "auth_user.is_authenticated",
        "status IN ('open', 'done') AND NOT title LIKE 'x%'",
        "user_id = auth_user.id OR status IS NULL",
        "title ILIKE auth_user.prefix",
        "team_id IN (SELECT m.team_id FROM members m WHERE m.user_id = auth_user.id)",
        "EXISTS (SELECT 1 FROM members m WHERE m.team_id = todos.team_id AND m.org = auth_user.org)",
        "id BETWEEN 1 AND 10 AND lower(status) <> 'hidden'",
        "auth_user.is_admin IS TRUE",
    ],
)
def test_expression_accepted(text):
    validate_expression(text, "todos", SCHEMA)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("user_id = ", "does not parse"),
        ("user_id = 1; DROP TABLE todos", "one condition"),
        ("SELECT * FROM todos", "not a statement"),
        ("pg_sleep(10) IS NULL", "not allowed"),
        ("user_id = (SELECT max(user_id) FROM members)", "not allowed"),
        ("CASE WHEN 1 = 1 THEN TRUE END", "not allowed"),
        ("CAST(user_id AS TEXT) = '1'", "not allowed"),
        ("nope = 1", "unknown column"),
        ("todos.nope = 1", "unknown column"),
        ("x.user_id = 1", "unknown column"),
        ("user_id IN (SELECT user_id FROM nowhere)", "unknown table"),
        ("user_id IN (SELECT m.user_id FROM members m LEFT JOIN todos t ON t.id = m.user_id)", "inner joins"),
        ("EXISTS (SELECT 1 FROM members m WHERE m.team_id = team_id)", "qualify it"),
        ("auth_user.id IS NULL", "may only be compared"),
        ("auth_user.org IS NOT NULL", "may only be compared"),
        ("COALESCE(auth_user.org, 'x') = 'x'", "may only be compared"),
        ("auth_user.`weird name` = 1", "does not parse"),
        ("public.todos.user_id = 1", "too many qualifiers"),
        ("user_id IN (SELECT m.user_id FROM members m GROUP BY m.user_id)", "not allowed in a policy sub-query"),
        # A policy is total: nothing in it can raise on a row (a hidden one included).
        ("qty / 2 > 1", "not allowed in a policy expression: Div"),
        ("user_id * 2 < 10 OR user_id + 1 > 3 OR user_id - 1 > 0", "not allowed in a policy expression"),
        ("ABS(user_id) < 5", "not allowed in a policy expression: ABS"),
        ("user_id = (SELECT m.user_id FROM members m)", "a sub-query as a value"),
        ("status LIKE title", "LIKE pattern in a policy"),
        ("status LIKE 'x!' ESCAPE '!'", "must not end with its escape character"),
        ("status LIKE auth_user.prefix ESCAPE '!'", "takes no ESCAPE of its own"),
        ("status LIKE 'x\\'", "must not end with its escape character"),
    ],
)
def test_expression_refused_with_a_reason(text, fragment):
    with pytest.raises(PolicyError, match=fragment):
        validate_expression(text, "todos", SCHEMA)


def test_empty_expression_is_public():
    assert parse_expression("") is None and parse_expression("   ") is None


def test_policy_on_all_checks_sub_query_tables_but_not_outer_columns():
    validate_expression("owner_id = auth_user.id", "all", SCHEMA)
    with pytest.raises(PolicyError, match="unknown table"):
        validate_expression("x IN (SELECT a FROM nowhere)", "all", SCHEMA)


def test_unquoted_columns_match_regardless_of_case():
    tree = resolve_columns(parse_expression("USER_ID = auth_user.id"), TODOS, SCHEMA)
    assert tree.this.name == "user_id"


# -- compilation per class of user ---------------------------------------------------------

DENIED, PUBLIC = "denied", "public"


def outcome(expression, user_class, *policies):
    rows = [Policy("todos", "read", expression), *policies]
    predicate = compile_policies(rows, TODOS, SCHEMA, user_class, get_dialect("postgres"))
    if predicate.denied:
        return DENIED
    if predicate.node is None:
        return PUBLIC
    return predicate.condition("t").sql("postgres").replace("\x00", "")


A, U, ADM = UserClass.ANONYMOUS, UserClass.USER, UserClass.ADMIN


@pytest.mark.parametrize(
    ("expression", "user_class", "expected"),
    [
        # The original's four forms keep their meaning.
        ("", A, PUBLIC),
        ("", U, PUBLIC),
        ("auth_user.is_admin", A, DENIED),
        ("auth_user.is_admin", U, DENIED),
        ("auth_user.is_admin", ADM, PUBLIC),
        ("auth_user.is_authenticated", A, DENIED),
        ("auth_user.is_authenticated", U, PUBLIC),
        ("user_id = auth_user.id", A, DENIED),
        ("user_id = auth_user.id", U, '"t"."user_id" = %(rls_user_id__integer)s'),
        ("user_id = auth_user.id", ADM, '"t"."user_id" = %(rls_user_id__integer)s'),  # no implicit admin bypass
        # Folding with three-valued logic.
        ("auth_user.is_admin OR user_id = auth_user.id", ADM, PUBLIC),
        ("auth_user.is_admin OR user_id = auth_user.id", U, '"t"."user_id" = %(rls_user_id__integer)s'),
        ("NOT auth_user.is_authenticated", A, PUBLIC),
        ("NOT auth_user.is_authenticated", U, DENIED),
        ("user_id = auth_user.id OR status = 'public'", A, 'NULL OR "t"."status" = \'public\''),
        ("status = 'x' AND user_id = auth_user.id", A, DENIED),
        ("NOT (user_id = auth_user.id)", A, DENIED),
        ("status = auth_user.org", U, '"t"."status" = %(rls_claim_org__text)s'),
    ],
)
def test_compiled_predicate(expression, user_class, expected):
    assert outcome(expression, user_class) == expected


def test_rows_on_one_level_combine_with_or():
    assert outcome("user_id = auth_user.id", U, Policy("todos", "read", "status = 'public'")) == (
        '"t"."user_id" = %(rls_user_id__integer)s OR "t"."status" = \'public\''
    )


def test_one_public_row_on_the_level_makes_the_table_public():
    assert outcome("user_id = auth_user.id", A, Policy("todos", "read", "")) == PUBLIC


def test_no_policy_denies():
    assert compile_policies([], TODOS, SCHEMA, UserClass.ADMIN, get_dialect("sqlite")).denied


def test_a_broken_policy_grants_nothing():
    rows = [Policy("todos", "read", "gone_column = 1")]
    assert compile_policies(rows, TODOS, SCHEMA, UserClass.ADMIN, get_dialect("sqlite")).denied


def test_owner_column_of_a_create_policy():
    rows = [Policy("todos", "create", "user_id = auth_user.id AND status = 'open'")]
    predicate = compile_policies(rows, TODOS, SCHEMA, UserClass.USER, get_dialect("sqlite"))
    assert dict(predicate.owner_columns) == {"user_id": "rls_user_id__integer"}


def test_fold_keeps_null_under_not():
    import sqlglot

    assert fold(sqlglot.parse_one("NOT (NULL OR x = 1)")).sql() == "NOT (NULL OR x = 1)"


# -- principal attributes are typed by where they stand (rls/policy/principals.py) ----------


def _principal_kinds(expression: str) -> set[str]:
    from sqlglot import exp

    from rls.emit import placeholder_name

    predicate = compile_policies(
        [Policy("todos", "read", expression)], TODOS, SCHEMA, UserClass.USER, get_dialect("postgres")
    )
    assert predicate.node is not None
    names = [placeholder_name(p) or "" for p in predicate.node.find_all(exp.Placeholder)]
    return {name.partition("__")[2] for name in names}


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("user_id = auth_user.id", "integer"),  # a column's kind
        ("auth_user.lvl > 3", "decimal"),  # a number literal
        ("auth_user.lvl = -3", "decimal"),
        ("auth_user.id = 1 OR auth_user.id > 1000000", "decimal"),
        ("auth_user.team = 'red'", "text"),  # a string literal
        ("auth_user.vip = TRUE", "boolean"),
        ("auth_user.vip", "boolean"),  # a condition of its own
        ("NOT (auth_user.vip) AND id > 0", "boolean"),
        ("auth_user.org IN (SELECT m.org FROM members m)", "text"),  # a sub-query's column
        ("auth_user.lvl IN (1, 2)", "decimal"),
        ("title LIKE auth_user.prefix", "like_pattern"),  # text LIKE can read (Pattern.LIKE)
    ],
)
def test_a_principal_is_typed_by_where_it_stands(expression, kind):
    # A claim of another JSON type than this then binds NULL (typed_value): a text "1"
    # never passes `auth_user.lvl > 3` on SQLite, a 1 never passes `auth_user.vip`.
    assert _principal_kinds(expression) == {kind}


@pytest.mark.parametrize(
    "expression",
    [
        "lower(auth_user.org) = status",  # a function's argument
        "auth_user.a = auth_user.b",  # another attribute
        "auth_user.lvl IN (1, 'x')",  # a list of mixed types
        "auth_user.lvl BETWEEN 1 AND id",
    ],
)
def test_a_principal_whose_type_cannot_be_known_is_refused(expression):
    with pytest.raises(PolicyError, match="its type cannot be known"):
        validate_expression(expression, "todos", SCHEMA)
    # ... and grants nothing where an earlier rls stored it: the policy is ignored (denied).
    assert compile_policies(
        [Policy("todos", "read", expression)], TODOS, SCHEMA, UserClass.USER, get_dialect("sqlite")
    ).denied


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("LOWER(title) = auth_user.name", "text"),
        ("LENGTH(title) > auth_user.n", "integer"),
    ],
)
def test_a_principal_compared_with_a_typed_function_takes_its_kind(expression, kind):
    assert _principal_kinds(expression) == {kind}


# -- a principal's value and its comparisons are exact (attack round 12) -------------------


@pytest.mark.parametrize(
    ("value", "kind", "bound"),
    [
        (float("nan"), Kind.DECIMAL, None),  # PostgreSQL orders NaN above every number
        (float("inf"), Kind.DECIMAL, None),
        (float("-inf"), Kind.FLOAT, None),
        (2**64, Kind.DECIMAL, None),  # SQLite binds no integer beyond 64 bits
        (2**63, Kind.INTEGER, None),
        (-(2**63) - 1, Kind.INTEGER, None),
        (2**63 - 1, Kind.INTEGER, 2**63 - 1),
        (-(2**63), Kind.DECIMAL, -(2**63)),
        (2.5, Kind.DECIMAL, 2.5),
        (float("nan"), Kind.OTHER, None),
        (2**64, Kind.OTHER, None),
        ("2", Kind.OTHER, "2"),  # a column of unknown type: compared only where types agree
        (2, Kind.OTHER, 2),
        ("a", Kind.DATE, None),  # MariaDB's zero date
        ("2024-01-01abc", Kind.DATE, None),  # MariaDB reads 2024-01-01 (a warning)
        ("2024-01-01", Kind.DATE, "2024-01-01"),
        ("20240101", Kind.DATE, "2024-01-01"),  # ISO 8601's basic form, bound canonical
        (20240101, Kind.DATE, None),
        ("2024-01-01T10:00:00", Kind.DATETIME, "2024-01-01 10:00:00"),
        ("2024-01-01 10:00", Kind.DATETIME, "2024-01-01 10:00:00"),
        ("2024-01-01 10:00:00x", Kind.DATETIME, None),
        ("2024-01-01T10:00:00+02:00", Kind.DATETIME, None),  # MariaDB drops the offset
        ("10:30", Kind.TIME, "10:30:00"),
        ("25:00", Kind.TIME, None),
        ("12345678-1234-5678-1234-56781234567A", Kind.UUID, "12345678-1234-5678-1234-56781234567a"),
        ("{12345678-1234-5678-1234-567812345678}", Kind.UUID, None),
        ("12345678123456781234567812345678", Kind.UUID, None),
        ("x", Kind.UUID, None),
    ],
)
def test_typed_value_binds_only_what_every_database_reads_alike(value, kind, bound):
    from rls.policy.compile import typed_value

    assert typed_value(value, kind) == bound
    assert type(typed_value(value, kind)) is type(bound)


def _compiled(expression: str, dialect: str, schema: Schema = SCHEMA, table: str = "todos") -> str:
    predicate = compile_policies(
        [Policy(table, "read", expression)], schema.table(table), schema, UserClass.USER, get_dialect(dialect)
    )
    assert predicate.node is not None
    return predicate.node.sql(get_dialect(dialect).SQLGLOT)


@pytest.mark.parametrize(
    ("parenthesised", "plain"),
    [
        ("(((auth_user.name))) = (title)", "auth_user.name = title"),
        ("(title) = (auth_user.name)", "title = auth_user.name"),
        ("(title) IN (auth_user.name)", "title IN (auth_user.name)"),
        ("(auth_user.name) IN ('a', 'b')", "auth_user.name IN ('a', 'b')"),
        ("(auth_user.name) IN (SELECT m.org FROM members m)", "auth_user.name IN (SELECT m.org FROM members m)"),
        ("(title) >= (auth_user.name)", "title >= auth_user.name"),
    ],
)
@pytest.mark.parametrize("dialect", ["sqlite", "postgres", "mysql"])
def test_parentheses_around_an_operand_change_nothing(parenthesised, plain, dialect):
    # The policy tree is normalised once, before typing and dialect rules: MariaDB's exact
    # (byte) comparison cannot be skipped by wrapping an operand.
    assert _compiled(parenthesised, dialect) == _compiled(plain, dialect)


@pytest.mark.parametrize("op", ["=", "<>", "<", "<=", ">", ">="])
@pytest.mark.parametrize("expression", ["title {op} auth_user.name", "auth_user.name {op} LOWER(title)"])
def test_every_comparison_of_a_text_principal_is_byte_exact_on_mariadb(op, expression):
    sql = _compiled(expression.format(op=op), "mysql")
    assert sql.count("AS BINARY") == 2, sql  # both operands compared as bytes, not by collation


UNTYPED = Schema.build(
    [
        Table.build("loose", [Column("id", Kind.OTHER), Column("owner", Kind.OTHER)], ["id"]),
        Table.build("links", [Column("owner", Kind.OTHER)]),
    ]
)


@pytest.mark.parametrize(
    ("dialect", "typeof"), [("sqlite", "TYPEOF("), ("postgres", "JSONB_TYPEOF("), ("mysql", "JSON_TYPE(")]
)
@pytest.mark.parametrize(
    "expression",
    [
        "owner = auth_user.id",
        "auth_user.id <> owner",
        "owner >= auth_user.id",
        "owner IN (auth_user.id, 3)",
        "auth_user.id IN (SELECT l.owner FROM links l)",
    ],
)
def test_a_principal_meets_a_column_of_unknown_type_only_where_types_agree(dialect, typeof, expression):
    # the text '2' of an identity provider never meets a stored integer 2 (nor 2 a '2')
    assert typeof in _compiled(expression, dialect, UNTYPED, "loose").upper()
