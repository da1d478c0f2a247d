"""The guard's security rules, each as a named removal: a small textual patch to the source
and the fast tests that must notice it (node ids, run with ``-x`` on the real databases).

A patch whose text no longer occurs exactly once is reported as an ERROR, never as killed:
when the guard changes, the list is updated with it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    rule: str
    path: str
    old: str | tuple[str, ...]
    new: str | tuple[str, ...]
    tests: tuple[str, ...]

    def patches(self) -> list[tuple[str, str]]:
        """(text, replacement) pairs: one, or several applied together."""
        if isinstance(self.old, str):
            assert isinstance(self.new, str)
            return [(self.old, self.new)]
        assert isinstance(self.new, tuple) and len(self.new) == len(self.old)
        return list(zip(self.old, self.new, strict=True))


CLASSES = "tests/test_guard_classes.py::"
BYPASS = "tests/test_guard_bypass.py::"
RULES = "tests/test_guard_rules.py::"
LANGUAGE = "tests/test_policy_language.py::"
ROUND3 = "tests/test_guard_attacks_round3.py::"
ROUND12 = "tests/test_attacks_round12.py::"
ROUND13 = "tests/test_attacks_round13.py::"
ROUND14 = "tests/test_attacks_round14_guard.py::"
ROUND14_REST = "tests/test_attacks_round14_rest.py::"
TOKENS = "tests/test_auth_tokens.py::"
ROUND15 = "tests/test_attacks_round15.py::"
ROUND16 = "tests/test_attacks_round16.py::"
ROUND17 = "tests/test_attacks_round17.py::"
ROUND18 = "tests/test_attacks_round18.py::"

MUTANTS: tuple[Mutant, ...] = (
    # -- the fence --------------------------------------------------------------------------------
    Mutant(
        "fence-none",
        "`build_fence` result dropped (no fence on any policy sub-query)",
        "rls/guard/rewrite.py",
        "fence_node = dialect.build_fence() if result.fenced and (condition is not None or pushed) else None",
        "fence_node = None",
        (CLASSES + "test_the_fence_keeps_a_failing_condition_off_hidden_rows", RULES + "test_the_fence_rule"),
    ),
    Mutant(
        "fenced-false",
        "`result.fenced` forced False",
        "rls/guard/rewrite.py",
        "fenced=fence and needs_fence)",
        "fenced=False)",
        (CLASSES + "test_the_fence_keeps_a_failing_condition_off_hidden_rows", RULES + "test_the_fence_rule"),
    ),
    # -- the structural verifier ------------------------------------------------------------------
    Mutant(
        "verify-noop",
        "`verify_emitted` a no-op",
        "rls/guard/verify.py",
        '    """Refuse unless ``emitted`` parses back to exactly ``tree``."""\n',
        '    """Refuse unless ``emitted`` parses back to exactly ``tree``."""\n    return\n',
        (CLASSES + "test_verifier_refuses_output_that_does_not_read_back_as_built",),
    ),
    Mutant(
        "verify-ignores-identifiers",
        "canonical form ignores identifiers",
        "rls/guard/verify.py",
        '            if b.this != p.this or bool(b.args.get("quoted")) != bool(p.args.get("quoted")):\n',
        '            if bool(b.args.get("quoted")) != bool(p.args.get("quoted")):\n',
        (CLASSES + "test_verifier_compares_identifiers_exactly", RULES + "test_the_verifier_rule"),
    ),
    Mutant(
        "verify-ignores-quoting",
        "canonical form ignores identifier quoting",
        "rls/guard/verify.py",
        '            if b.this != p.this or bool(b.args.get("quoted")) != bool(p.args.get("quoted")):\n',
        "            if b.this != p.this:\n",
        (RULES + "test_the_verifier_compares_quoting",),
    ),
    Mutant(
        "verify-ignores-literal-kind",
        "canonical form ignores whether a literal is a string",
        "rls/guard/verify.py",
        "        if isinstance(b, exp.Anonymous):\n",
        "        if isinstance(b, exp.Literal):\n            if b.this != p.this:\n                return False\n"
        "            continue\n        if isinstance(b, exp.Anonymous):\n",
        (RULES + "test_the_verifier_rule",),
    ),
    # -- table accounting, CTE renaming -----------------------------------------------------------
    Mutant(
        "account-tables-noop",
        "`account_tables` a no-op",
        "rls/guard/rewrite.py",
        '    rls built (a policy sub-query, a policy predicate)."""\n',
        '    rls built (a policy sub-query, a policy predicate)."""\n    return\n',
        (BYPASS + "test_verifier_refuses_a_table_the_rewrite_missed",),
    ),
    Mutant(
        "account-built-joins",
        "tables in the joins moved onto a policy sub-query (parenthesised join) counted as rls's own",
        "rls/guard/rewrite.py",
        "        if isinstance(current, exp.Join) and current.parent is not None and id(current.parent) in built:\n",
        "        if False:\n",
        (BYPASS + "test_the_joins_of_a_built_relation_are_the_statements_own",),
    ),
    Mutant(
        "nested-join-anywhere",
        "a parenthesised join accepted outside a SELECT's FROM/JOIN items",
        "rls/guard/allow.py",
        '    if node.args.get("joins"):\n        # Only as',
        "    if False:\n        # Only as",
        (BYPASS + "test_a_parenthesised_join_outside_a_select_item_is_refused",),
    ),
    Mutant(
        "create-function-any",
        "rls.connect's create_function takes any Python function (one may shadow a built-in a policy uses)",
        "rls/guard/connection.py",
        '    a function that sees (and can record) every hidden row a policy examines."""\n',
        '    a function that sees (and can record) every hidden row a policy examines."""\n    return True\n',
        ("tests/test_orm_guard.py::test_create_function_only_for_sqlalchemys_own",),
    ),
    Mutant(
        "rename-ctes-noop",
        "`rename_ctes` a no-op (a CTE may capture a policy's table)",
        "rls/guard/rewrite.py",
        '    """``WITH x AS (…) … FROM x`` → ``WITH rls_cte_0 AS (…) … FROM rls_cte_0 AS x``."""\n',
        '    """``WITH x AS (…) … FROM x`` → ``WITH rls_cte_0 AS (…) … FROM rls_cte_0 AS x``."""\n    return\n',
        (CLASSES + "test_a_cte_named_like_a_policy_table_does_not_capture_it",),
    ),
    # -- writes -----------------------------------------------------------------------------------
    Mutant(
        "dml-no-case-guard",
        "`_restrict` without the CASE: the own condition ANDed plainly beside the policy",
        "rls/guard/writes.py",
        "exp.Case(ifs=[exp.If(this=self._copy(using), true=inner)], default=exp.false())\n                if inner",
        "inner\n                if inner",
        (
            BYPASS + "test_failing_condition_in_delete_is_not_evaluated_on_hidden_rows",
            RULES + "test_the_dml_case_guard",
        ),
    ),
    Mutant(
        "check-condition-only",
        "`_checked` returns the condition only (no raise)",
        "rls/guard/writes.py",
        "        return exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))], "
        "default=self._raise(qualifier))",
        "        return condition",
        (CLASSES + "test_a_row_given_away_is_denied_and_nothing_is_written",),
    ),
    Mutant(
        "raise-constant",
        "the WITH CHECK raise replaced by a constant",
        "rls/guard/writes.py",
        "        return self._own(self.dialect.build_raise(exp.column(column, table=qualifier, quoted=True)))",
        "        return self._own(exp.Literal.number(0))",
        (CLASSES + "test_the_statement_alone_cannot_write_a_forbidden_row",),
    ),
    Mutant(
        "update-returning-unfiltered",
        "read policy not applied to UPDATE … RETURNING",
        "rls/guard/writes.py",
        '        if root.args.get("returning") is None or self._same_policy("update", "read"):\n'
        "            return None\n",
        "        return None\n",
        (RULES + "test_the_returning_read_filter",),
    ),
    Mutant(
        "insert-returning-unfiltered",
        "read policy not applied to INSERT … RETURNING",
        "rls/guard/writes.py",
        'if returning is not None and not self._same_policy("create", "read"):',
        "if False:",
        (RULES + "test_the_returning_read_filter",),
    ),
    Mutant(
        "touch-read-policy-dropped",
        "UPDATE/DELETE that read the target's columns not limited by the read policy",
        "rls/guard/writes.py",
        'if self._reads_target(root) and not self._same_policy(action, "read"):',
        "if False:",
        (RULES + "test_the_returning_read_filter",),
    ),
    Mutant(
        "set-right-to-left-on-mysql",
        "MySQL `SET_ASSIGNS_LEFT_TO_RIGHT = False`",
        "dialects/mysql.py",
        "    SET_ASSIGNS_LEFT_TO_RIGHT = True\n",
        "    SET_ASSIGNS_LEFT_TO_RIGHT = False\n",
        (CLASSES + "test_mysql_assigns_left_to_right_and_the_check_does_too",),
    ),
    Mutant(
        "set-column-case-sensitive",
        "case-insensitive column names for writes (`SET OWNER_ID = …` checked as another column)",
        "rls/guard/writes.py",
        "        wanted = column.name\n        if wanted in self.table.columns:\n            return wanted\n",
        "        wanted = column.name\n        return wanted\n",
        (CLASSES + "test_a_row_given_away_is_denied_and_nothing_is_written", RULES + "test_the_write_column_case_rule"),
    ),
    Mutant(
        "hidden-check-column-not-fetched",
        "the hidden check column is not fetched (`hidden_columns` 0)",
        "rls/guard/rewrite.py",
        "        result.hidden_columns = writes.hidden_columns\n",
        "        result.hidden_columns = 0\n",
        (CLASSES + "test_insert_under_a_create_policy_hides_rls_check_column", RULES + "test_the_hidden_check_column"),
    ),
    Mutant(
        "check-column-passed-through",
        "rls.connect hands rls's check column to the caller instead of reading it",
        "rls/guard/connection.py",
        "            if statement.hidden_columns:\n",
        "            if False:\n",
        (RULES + "test_the_hidden_check_column",),
    ),
    Mutant(
        "volatile-set-accepted",
        "a volatile function in SET accepted under WITH CHECK",
        "rls/guard/writes.py",
        "if any(isinstance(n, tuple(VOLATILE)) for n in value.walk()):",
        "if False:",
        (RULES + "test_a_volatile_set_is_refused_where_the_check_reads_a_copy",),
    ),
    # -- reserved names, comments and meta --------------------------------------------------------
    Mutant(
        "reserved-identifiers-allowed",
        "`rls_` identifier check removed",
        "rls/guard/allow.py",
        "    if value.lower().startswith(RESERVED_PREFIX):\n",
        "    if False:\n",
        (CLASSES + "test_an_alias_named_like_the_policy_inner_table_is_reserved", RULES + "test_the_reserved_names"),
    ),
    Mutant(
        "reserved-placeholders-allowed",
        "reserved placeholder check in rls/guard/params.py removed",
        "rls/guard/params.py",
        "    if _RESERVED.search(sql):\n",
        "    if False:\n",
        (RULES + "test_the_reserved_placeholder_names",),
    ),
    Mutant(
        "comments-kept",
        "input comments not stripped at parse",
        "rls/guard/params.py",
        "        node.comments = None\n",
        "",
        (CLASSES + "test_parse_strips_every_comment_and_meta",),
    ),
    Mutant(
        "meta-kept",
        "input `sqlglot.meta` not stripped at parse",
        "rls/guard/params.py",
        "        node._meta = None\n",
        "",
        (CLASSES + "test_parse_strips_every_comment_and_meta",),
    ),
    # -- the allow-list's leaves ------------------------------------------------------------------
    Mutant(
        "var-accepted",
        "`Var` accepted as an expression child (the argument check and the node list both let it in)",
        "rls/guard/allow.py",
        ("        if isinstance(value, (exp.Var, exp.DataType)):\n", "    exp.Star: {},\n"),
        ("        if isinstance(value, exp.DataType):\n", '    exp.Star: {},\n    exp.Var: {"this": "literal"},\n'),
        (RULES + "test_the_allow_list_leaves", RULES + "test_a_bare_word_is_refused_wherever_an_expression_goes"),
    ),
    Mutant(
        "var-in-expression-list",
        "`Var` accepted in an expression list (argument check and node list)",
        "rls/guard/allow.py",
        ("        if any(isinstance(v, (exp.Var, exp.DataType)) for v in value):\n", "    exp.Star: {},\n"),
        (
            "        if any(isinstance(v, exp.DataType) for v in value):\n",
            '    exp.Star: {},\n    exp.Var: {"this": "literal"},\n',
        ),
        (RULES + "test_a_bare_word_is_refused_wherever_an_expression_goes",),
    ),
    Mutant(
        "closed-words-unchecked",
        "date parts, interval units, join sides, frame words not checked against their closed sets",
        "rls/guard/allow.py",
        "        if not isinstance(text, str) or text.upper() not in allowed:\n",
        "        if not isinstance(text, str):\n",
        (RULES + "test_the_allow_list_leaves_refuse_words_outside_their_sets",),
    ),
    Mutant(
        "type-params-unchecked",
        "DataType parameters not checked",
        "rls/guard/allow.py",
        '            raise Refused("type parameters must be numbers")\n',
        "            pass\n",
        (
            RULES + "test_the_allow_list_leaves",
            CLASSES + "test_text_in_type_unit_or_charset_positions_never_reaches_the_output",
        ),
    ),
    Mutant(
        "type-names-unchecked",
        "type names not checked against the closed set",
        "rls/guard/allow.py",
        "    elif name not in TYPE_NAMES or kind is not None:\n",
        "    elif kind is not None:\n",
        (RULES + "test_the_allow_list_leaves",),
    ),
    Mutant(
        "unknown-functions-accepted",
        "unknown function names accepted",
        "rls/guard/allow.py",
        "    arity = functions.get(name.upper()) if _FUNCTION_NAME.fullmatch(name) else None\n",
        "    arity = functions.get(name.upper(), (0, 100))\n",
        (RULES + "test_the_allow_list_leaves", BYPASS + "test_refused_per_dialect"),
    ),
    Mutant(
        "known-functions-unlisted-accepted",
        "any function sqlglot knows accepted (FUNCTIONS not consulted)",
        "rls/guard/allow.py",
        "        if not (isinstance(node, exp.Func) and kind in FUNCTIONS):\n",
        "        if not isinstance(node, exp.Func):\n",
        (RULES + "test_the_allow_list_leaves", BYPASS + "test_refused_per_dialect"),
    ),
    Mutant(
        "unlisted-arguments-accepted",
        "arguments not on a node's list accepted",
        "rls/guard/allow.py",
        "        if tag is None:\n            raise Refused(",
        "        if tag is None:\n            continue\n            raise Refused(",
        (RULES + "test_the_allow_list_leaves", BYPASS + "test_refused"),
    ),
    Mutant(
        "schema-qualified-tables",
        "schema-qualified table names accepted (`db` allowed on exp.Table)",
        "rls/guard/allow.py",
        '    exp.Table: {"this": _E, "alias": _E, "joins": _L},',
        '    exp.Table: {"this": _E, "alias": _E, "joins": _L, "db": _E, "catalog": _E},',
        (RULES + "test_the_allow_list_leaves", BYPASS + "test_refused_per_dialect"),
    ),
    # -- leakproof rules ----------------------------------------------------------------------------
    Mutant(
        "any-comparison-leakproof",
        "any comparison considered leakproof",
        "rls/guard/leakproof.py",
        "            return self._comparable(node.this, node.expression, analysis)\n",
        "            return True\n",
        (RULES + "test_the_leakproof_rules",),
    ),
    Mutant(
        "any-node-leakproof",
        "any node considered leakproof (functions, arithmetic)",
        "rls/guard/leakproof.py",
        "        return isinstance(node, _STRUCTURE)\n",
        "        return True\n",
        (RULES + "test_the_fence_rule",),
    ),
    Mutant(
        "param-type-unchecked",
        "parameter type check skipped (MySQL: a string bound against an integer column stays unfenced)",
        "rls/guard/guard.py",
        "        if compiled.typed_params and not _typed(compiled, values):\n",
        "        if False:\n",
        (RULES + "test_the_leakproof_rules",),
    ),
    # -- the policy language and principal values -------------------------------------------------------
    Mutant(
        "negated-auth-user-accepted",
        "negation rule for auth_user attributes removed",
        "rls/policy/expression.py",
        "    if negations % 2:\n",
        "    if False:\n",
        (CLASSES + "test_policies_a_missing_attribute_would_satisfy_are_refused",),
    ),
    Mutant(
        "null-test-auth-user-accepted",
        "NULL tests (IS, COALESCE) over auth_user attributes accepted",
        "rls/policy/expression.py",
        "        if isinstance(parent, _NULL_TESTS):\n",
        "        if False:\n",
        (CLASSES + "test_policies_a_missing_attribute_would_satisfy_are_refused",),
    ),
    Mutant(
        "untyped-principal-values",
        "`typed_value` returns the value unchanged",
        "rls/policy/compile.py",
        "    if kind is Kind.INTEGER:  # the common case first: this runs once per request\n",
        "    return value\n    if kind is Kind.INTEGER:\n",
        (
            CLASSES + "test_a_user_id_of_another_type_owns_nothing",
            RULES + "test_a_principal_value_of_another_type_owns_nothing",
        ),
    ),
    Mutant(
        "text-principal-values-coerced",
        "an integer principal value bound as is against a text column (the database converts it)",
        "rls/policy/compile.py",
        "    if kind is Kind.TEXT:\n        return value if isinstance(value, str) else None\n",
        "    if kind is Kind.TEXT:\n        return value\n",
        (RULES + "test_a_principal_value_of_another_type_owns_nothing",),
    ),
    Mutant(
        "sqlite-like-case-insensitive",
        "SQLite `build_like` override removed (LIKE ignores case)",
        "dialects/sqlite.py",
        "    def build_like(self, this: exp.Expr, pattern: exp.Expr, *, ignore_case: bool) -> exp.Expr:\n",
        "    def _no_build_like(self, this: exp.Expr, pattern: exp.Expr, *, ignore_case: bool) -> exp.Expr:\n",
        (CLASSES + "test_policy_like_is_case_sensitive_on_any_sqlite_connection",),
    ),
    Mutant(
        "principal-literals-untyped",
        "a principal compared with a literal binds untyped (the database converts it)",
        "rls/policy/principals.py",
        "        return Kind.TEXT if other.is_string else Kind.DECIMAL\n",
        "        return None\n",
        (LANGUAGE + "test_a_principal_is_typed_by_where_it_stands",),
    ),
    Mutant(
        "principal-conditions-untyped",
        "a principal used as a condition binds untyped (1 or 'yes' is TRUE somewhere)",
        "rls/policy/principals.py",
        "    if parent is None or isinstance(parent, _CONDITIONS):\n        return Kind.BOOLEAN\n",
        "    if parent is None or isinstance(parent, _CONDITIONS):\n        return None\n",
        (LANGUAGE + "test_a_principal_is_typed_by_where_it_stands",),
    ),
    Mutant(
        "principal-contexts-unchecked",
        "a principal whose type cannot be known is bound untyped instead of refusing the policy",
        "rls/policy/principals.py",
        '    raise _untypeable(node, f"it stands inside {parent.key.upper()}")\n',
        "    return None\n",
        (LANGUAGE + "test_a_principal_whose_type_cannot_be_known_is_refused",),
    ),
    Mutant(
        "external-ids-share-local-namespace",
        "an identity provider's integer subject kept an integer (equal to an auth_users id)",
        "rls/auth/tokens.py",
        "        if external and isinstance(user.id, int):\n",
        "        if False:\n",
        ("tests/test_auth_idp.py::test_idp_token_with_an_id_of_an_auth_users_admin_is_not_admin",),
    ),
    # -- rls.connect: what a wrapper reports, how long a statement runs (round-3 attacks) ---------
    Mutant(
        "lastrowid-not-the-statements-key",
        "a MariaDB INSERT returns no key of its own: lastrowid is not what the statement wrote",
        "rls/guard/writes.py",
        "        if not self.dialect.RETURNS_INSERT_KEY or not isinstance(root, exp.Insert):\n            return None\n        implicit",
        "        if True:\n            return None\n        implicit",
        (
            ROUND3 + "test_mysql_lastrowid_never_reports_an_earlier_statements_id",
            ROUND3 + "test_mysql_sqlalchemy_lastrowid_is_the_statements_own",
        ),
    ),
    Mutant(
        "statement-timeout-sqlite-unarmed",
        "rls.connect's SQLite progress handler never interrupts (no statement time limit)",
        "rls/guard/timeout.py",
        "        return 1 if time.monotonic() > self.deadline else 0\n",
        "        return 0\n",
        (ROUND3 + "test_recursive_cte_without_bound_is_refused_or_bounded[sqlite]",),
    ),
    Mutant(
        "statement-timeout-session-unset",
        "rls.connect sets no session time limit (PostgreSQL statement_timeout, MariaDB max_statement_time)",
        "rls/guard/connection.py",
        "        if sql is not None:\n            # rls's own fixed statement, on a driver cursor of the same session.\n",
        "        if False:\n",
        (
            ROUND3 + "test_recursive_cte_without_bound_is_refused_or_bounded[postgres]",
            ROUND3 + "test_recursive_cte_without_bound_is_refused_or_bounded[mysql]",
        ),
    ),
    Mutant(
        "statement-timeout-not-reasserted",
        "the PostgreSQL time limit is not set again after a transaction ends (a rollback undid it)",
        "rls/guard/connection.py",
        "        if self._guard.dialect.SESSION_LIMIT_UNDONE_BY_ROLLBACK:\n            self._clock.asserted = False\n",
        "        pass\n",
        (ROUND3 + "test_postgres_limit_is_asserted_again_after_a_rollback",),
    ),
    Mutant(
        "size-arguments-unbounded",
        "REPEAT counts and printf widths/precisions not bounded (900 MB in one call)",
        "rls/guard/allow.py",
        (
            "    if times is None or not _small_count(times):\n",
            '            if number == "*" or (number and int(number) > MAX_GROWTH):\n',
        ),
        ("    if False:\n", "            if False:\n"),
        (ROUND3 + "test_size_arguments_are_bounded",),
    ),
    Mutant(
        "regexp-recognised-by-name",
        "rls.connect's create_function takes any function named like SQLAlchemy's regexp",
        "rls/guard/connection.py",
        "        and func.__code__ is own[0]\n        and func.__globals__ is vars(pysqlite)\n",
        '        and func.__code__.co_name == "regexp"\n',
        (ROUND3 + "test_a_regexp_look_alike_is_refused",),
    ),
    Mutant(
        "lastrowid-the-connections",
        "rls.connect's lastrowid falls back to the driver's (SQLite: the connection's last_insert_rowid())",
        "rls/guard/connection.py",
        "        if self._connection._guard.dialect.RETURNS_INSERT_KEY:\n            return self._lastrowid",
        "        if self._lastrowid is not None:\n            return self._lastrowid",
        (
            ROUND12 + "test_sqlite_lastrowid_never_reports_another_statements_id",
            ROUND12 + "test_sqlite_lastrowid_is_the_statements_own_key_on_any_table",
        ),
    ),
    Mutant(
        "statement-timeout-rearmed-per-fetch",
        "the SQLite deadline is set again at every fetch (a statement read row by row runs without bound)",
        "rls/guard/connection.py",
        "        clock.arm(self._left)\n",
        "        clock.arm()\n",
        (ROUND12 + "test_sqlite_limit_counts_a_statements_fetches_together",),
    ),
    Mutant(
        "growth-composes",
        "a growth function's input may be another growth function's output (REPEAT(REPEAT(…)))",
        "rls/guard/growth.py",
        "                if not adds and any(_is_growth(inner) for inner in value.walk()):\n",
        "                if False:\n",
        (ROUND12 + "test_growth_does_not_compose",),
    ),
    Mutant(
        "growth-through-derived-column",
        "a growth function may read a column a CTE or derived table computed with one",
        "rls/guard/growth.py",
        "                if any(c.name.lower() in grown for c in value.find_all(exp.Column)):\n",
        "                if False:\n",
        (ROUND12 + "test_growth_does_not_compose",),
    ),
    # -- exact principal comparisons (attack round 12) ---------------------------------------------
    Mutant(
        "policy-parentheses-kept",
        "the policy tree is not normalised: `(team) = (auth_user.team)` skips MariaDB's byte comparison",
        "rls/policy/compile.py",
        "            resolved = strip_operand_parens(resolve_columns(tree, table, schema))\n",
        "            resolved = resolve_columns(tree, table, schema)\n",
        (LANGUAGE + "test_parentheses_around_an_operand_change_nothing",),
    ),
    Mutant(
        "unknown-type-compared-across-types",
        "a principal compared with a column of unknown type as text on both sides ('2' meets 2)",
        "dialects/base.py",
        "        compared = self.build_comparison(node, this, value, kind)\n        if kind is not Kind.OTHER:\n",
        "        compared = self.build_comparison(node, this, value, kind)\n        if True:\n",
        (
            RULES + "test_the_same_type_rule_for_columns_of_unknown_type",
            LANGUAGE + "test_a_principal_meets_a_column_of_unknown_type_only_where_types_agree",
        ),
    ),
    Mutant(
        "unknown-type-in-across-types",
        "IN with a principal and a column of unknown type compared across types",
        "rls/policy/compile.py",
        "            if kind is Kind.OTHER and _has_principal(node):\n",
        "            if False:\n",
        (
            RULES + "test_the_same_type_rule_for_columns_of_unknown_type",
            LANGUAGE + "test_a_principal_meets_a_column_of_unknown_type_only_where_types_agree",
        ),
    ),
    Mutant(
        "claim-dates-unparsed",
        "date/time/UUID claims bound as written (MariaDB reads 'a' as the zero date)",
        "rls/policy/compile.py",
        "    parse = _PARSERS.get(kind)\n",
        "    parse = None\n",
        (LANGUAGE + "test_typed_value_binds_only_what_every_database_reads_alike",),
    ),
    Mutant(
        "claim-floats-not-finite",
        "NaN and ±Infinity claims bound as numbers (NaN > 3 on PostgreSQL)",
        "rls/policy/compile.py",
        "        return value if math.isfinite(value) else None\n",
        "        return value\n",
        (LANGUAGE + "test_typed_value_binds_only_what_every_database_reads_alike",),
    ),
    Mutant(
        "claim-integers-unbounded",
        "integer claims beyond signed 64 bits bound (a statement error on SQLite, compared elsewhere)",
        "rls/policy/compile.py",
        "        return value if type(value) is int and _INT64_MIN <= value <= _INT64_MAX else None\n",
        "        return value if type(value) is int else None\n",
        (LANGUAGE + "test_typed_value_binds_only_what_every_database_reads_alike",),
    ),
    # -- attack round 13 ------------------------------------------------------------------------
    Mutant(
        "type-mismatch-false",
        "a type mismatch on a column of unknown type is FALSE, not NULL (NOT turns it into TRUE)",
        "dialects/base.py",
        "        return exp.Case(ifs=[exp.If(this=self.build_same_type(this, value), true=compared)])\n",
        "        return exp.paren(exp.and_(compared, self.build_same_type(this, value), copy=False), copy=False)\n",
        (ROUND13 + "test_negated_comparison_with_untyped_column_grants_no_wrong_type",),
    ),
    Mutant(
        "principal-in-sub-query-under-not",
        "`NOT (auth_user.x IN (SELECT …))` accepted (over an empty sub-query it is TRUE without the attribute)",
        "rls/policy/expression.py",
        '            isinstance(parent, exp.In) and parent.args.get("query") is not None\n',
        "            False\n",
        (ROUND13 + "test_negated_comparison_with_untyped_column_grants_no_wrong_type",),
    ),
    Mutant(
        "growth-concatenation",
        "a concatenation of two column values is no growth (s || s doubles per CTE link)",
        "rls/guard/growth.py",
        "        return sum(1 for _ in node.find_all(exp.Column)) > 1\n",
        "        return False\n",
        (ROUND13 + "test_growth_through_self_concatenation_chains_is_refused",),
    ),
    Mutant(
        "unknown-type-any-scalar",
        "a bool or float principal bound against a column of unknown type (1 on SQLite/MariaDB, 1.0 = 1)",
        "rls/policy/compile.py",
        "        return _scalar(value) if type(value) in (int, str) else None\n",
        "        return _scalar(value)\n",
        (ROUND13 + "test_boolean_claim_is_no_integer_for_an_untyped_column",),
    ),
    Mutant(
        "unknown-type-in-query-typed-by-column",
        "PostgreSQL: `auth_user.x IN (SELECT c …)` over a column of unknown type not compared as text "
        "(the parameter takes the column's type: a claim of another type is a statement error)",
        "dialects/postgres.py",
        "        if kind is not Kind.OTHER or not isinstance(select, exp.Select) or len(select.expressions) != 1:\n"
        "            return node\n        text =",
        "        if True:\n            return node\n        text =",
        (ROUND13 + "test_wrong_typed_claim_in_sub_query_is_no_statement_error",),
    ),  # -- round 14 ---------------------------------------------------------------------------------
    Mutant(
        "scalar-sub-query-leakproof",
        "a scalar sub-query counted as leakproof structure (it raises on two rows, on hidden rows)",
        "rls/guard/leakproof.py",
        '            return (isinstance(node.parent, (exp.From, exp.Join, exp.Lateral)) and node.arg_key == "this") or (',
        "            return True or (",
        (ROUND14 + "test_scalar_sub_query_is_no_error_oracle_on_hidden_rows",),
    ),
    Mutant(
        "mariadb-stored-float-as-double",
        "MariaDB: FLOAT and DOUBLE(m,d) judged as DOUBLE (stored rounded again)",
        "dialects/mysql.py",
        '        elif base in ("double", "real") and not size:\n',
        '        elif base in ("float", "double", "real"):\n',
        (ROUND14 + "test_mysql_update_check_judges_the_value_as_stored",),
    ),
    Mutant(
        "computed-columns-judged-before-write",
        "a check reading a generated / ON UPDATE / trigger-set column judged on its old value",
        "rls/guard/writes.py",
        "    computed = sorted(c for c in read if c in guard.table.columns and guard.table.columns[c].computed)\n",
        "    computed: list[str] = []\n",
        (ROUND14 + "test_mysql_update_cannot_give_a_row_away_through_a_generated_column",),
    ),
    Mutant(
        "locking-read-without-update-policy",
        "a locking read (FOR UPDATE / SHARE) takes the rows the read policy allows only",
        "rls/guard/rewrite.py",
        "        if _locked(node):\n",
        "        if False:\n",
        (ROUND14 + "test_locking_read_locks_only_rows_the_update_policy_allows",),
    ),
    Mutant(
        "growth-constructors",
        "ARRAY / ROW / JSON builders of several column values are no growth",
        "rls/guard/growth.py",
        "    if _is_constructor(node):\n        # Anything",
        "    if False:\n        # Anything",
        (ROUND14 + "test_postgres_copies_of_a_value_count_as_growth",),
    ),
    Mutant(
        "sqlite-regexp-allowed",
        "SQLite REGEXP allowed (a Python function the time limit cannot stop)",
        "dialects/sqlite.py",
        "    GUARD_UNSUPPORTED: ClassVar[frozenset[type[exp.Expr]]] = frozenset({exp.RegexpLike, exp.RegexpILike})\n",
        "",
        (ROUND14 + "test_sqlite_regexp_obeys_the_statement_time_limit",),
    ),
    Mutant(
        "policy-arithmetic-allowed",
        "arithmetic and abs allowed in a policy (overflow, division by zero on hidden rows)",
        "rls/policy/expression.py",
        "        exp.Lower, exp.Upper, exp.Length, exp.Trim, exp.Coalesce,\n",
        "        exp.Lower, exp.Upper, exp.Length, exp.Trim, exp.Coalesce, exp.Add, exp.Sub, exp.Mul, exp.Div, "
        "exp.Mod, exp.Abs,\n",
        (LANGUAGE + "test_expression_refused_with_a_reason",),
    ),
    Mutant(
        "policy-scalar-sub-query",
        "a policy sub-query allowed as a value (fails on a hidden row where it returns two rows)",
        "rls/policy/expression.py",
        '    if isinstance(parent, exp.In) and parent.args.get("query") is subquery:\n        return\n',
        "    return\n",
        (LANGUAGE + "test_expression_refused_with_a_reason",),
    ),
    Mutant(
        "like-pattern-claim-unchecked",
        "a principal bound as a LIKE pattern is not checked (PostgreSQL raised on a trailing escape)",
        "rls/policy/compile.py",
        "        return value if isinstance(value, str) and not ends_in_escape(value) else None\n",
        "        return value if isinstance(value, str) else None\n",
        (ROUND14_REST + "test_postgres_like_pattern_claim_is_no_oracle",),
    ),
    Mutant(
        "token-account-unchecked",
        "a token's account key not compared (an id handed out again names the old token's holder)",
        "rls/auth/authenticator.py",
        "    return account is None or standing.account is None or hmac.compare_digest(account, standing.account)\n",
        "    return True\n",
        (TOKENS + "test_a_token_names_its_account_not_only_its_id",),
    ),
    Mutant(
        "sqlite-replace-clause-by-text",
        "SQLite REPLACE conflict clause not seen (writes may delete rows no policy judged)",
        "dialects/sqlite.py",
        '    return any(words[i : i + 3] == ["ON", "CONFLICT", "REPLACE"] for i in range(len(words) - 2))\n',
        "    return False\n",
        (ROUND14_REST + "test_sqlite_post_cannot_delete_a_row_through_a_replace_conflict",),
    ),  # -- round 15 ---------------------------------------------------------------------------------
    Mutant(
        "mariadb-bytes-in-column-charset",
        "MariaDB text compared as the column's own bytes (latin1 / utf16 against a utf8mb4 literal)",
        "dialects/mysql.py",
        '        utf8 = exp.Cast(this=value, to=exp.DataType(this=exp.DataType.Type.CHARACTER_SET, kind=exp.Var(this="utf8mb4")))\n',
        "        utf8 = value\n",
        (ROUND15 + "test_mysql_policy_text_comparison_holds_on_any_column_charset",),
    ),
    Mutant(
        "mariadb-session-not-strict",
        "a MariaDB session without a strict sql_mode accepted (a write stores what its check did not judge)",
        "dialects/mysql.py",
        '        if not modes & {"STRICT_ALL_TABLES", "STRICT_TRANS_TABLES"}:\n',
        "        if False:\n",
        (ROUND15 + "test_mysql_update_check_holds_on_a_non_strict_session",),
    ),
    Mutant(
        "mariadb-view-columns-not-computed",
        "a MariaDB view's columns not marked as set by the database when a table it reaches has such columns",
        "dialects/mysql.py",
        "            if reached is None or reached & set_by_database:\n",
        "            if False:\n",
        (ROUND15 + "test_mysql_update_through_a_view_cannot_give_a_row_away",),
    ),
    Mutant(
        "sqlite-triggers-ignored",
        "SQLite: a table with a trigger (or a view reaching one) written under policies",
        "dialects/sqlite.py",
        "        triggered = {name for (name,) in cur.fetchall()}\n",
        "        triggered: set[str] = set()\n",
        (ROUND15 + "test_after_trigger_cannot_give_a_row_away",),
    ),
    Mutant(
        "lock-through-lateral",
        "a locking clause does not cover LATERAL sub-queries",
        "rls/guard/rewrite.py",
        "    if isinstance(holder, (exp.Subquery, exp.Lateral)) and isinstance(holder.parent, (exp.From, exp.Join)):\n",
        "    if isinstance(holder, exp.Subquery) and isinstance(holder.parent, (exp.From, exp.Join)):\n",
        (ROUND15 + "test_postgres_locking_read_through_lateral_takes_only_updatable_rows",),
    ),
    Mutant(
        "growth-one-column-constructors",
        "a constructor or serialiser of one column value is no growth (escaping doubles per link)",
        "rls/guard/growth.py",
        "        return any(True for _ in node.find_all(exp.Column))\n",
        "        return sum(1 for _ in node.find_all(exp.Column)) > 1\n",
        (ROUND15 + "test_escaping_a_value_link_after_link_counts_as_growth",),
    ),
    Mutant(
        "type-length-unbounded",
        "type length parameters not bounded (CAST(x AS CHAR(10485760)) pads to 10 MB)",
        "rls/guard/allow.py",
        "        if int(number.name) > MAX_GROWTH:\n",
        "        if False:\n",
        (ROUND15 + "test_postgres_a_padded_cast_counts_as_growth",),
    ),
    Mutant(
        "setup-token-not-required-of-loopback",
        "a configured setup token not required of loopback callers (a header-less relay looks local)",
        "rls/auth/setup_gate.py",
        "        if not self._configured and is_direct_loopback(environ):\n",
        "        if is_direct_loopback(environ):\n",
        (ROUND15 + "test_setup_relayed_by_a_default_reverse_proxy_is_refused",),
    ),  # -- round 16 ---------------------------------------------------------------------------------
    Mutant(
        "postgres-triggers-ignored",
        "PostgreSQL: a table with a trigger or rule (or a view reaching one) written under policies",
        "dialects/postgres.py",
        "        hazards = {t: h for t in columns if (h := trigger_hazard(t, triggered, reads)) is not None}\n",
        "        hazards: dict[str, str] = {}\n",
        (
            ROUND16 + "test_a_trigger_that_writes_the_table_indirectly_cannot_give_a_row_away",
            ROUND16 + "test_postgres_a_rule_cannot_give_an_inserted_row_away",
        ),
    ),
    Mutant(
        "mariadb-subquery-cache-on",
        "MariaDB sessions keep the subquery cache (a correlated sub-query answered for a collation-equal row)",
        "dialects/mysql.py",
        '    SESSION_SETUP: ClassVar[tuple[str, ...]] = (f"SET {_NO_SUBQUERY_CACHE}",)\n',
        "",
        (ROUND16 + "test_rls_connect_turns_the_mysql_subquery_cache_off",),
    ),
    Mutant(
        "mariadb-text-ordering-by-collation",
        "MariaDB: orderings and BETWEEN of text in a policy by the collation",
        "dialects/mysql.py",
        "        if node is not exp.EQ:\n",
        "        if node not in (exp.EQ, exp.NEQ):\n            return node(this=this, expression=value)\n"
        "        if node is exp.NEQ:\n",
        (ROUND16 + "test_mysql_every_text_comparison_in_a_policy_is_exact",),
    ),
    Mutant(
        "growth-concat-ws-separator",
        "a column as CONCAT_WS's separator is no growth",
        "rls/guard/growth.py",
        "        return True  # the separator, a column value, is copied once per other argument\n",
        "        return False\n",
        (ROUND16 + "test_one_column_copied_by_a_function_outside_the_growth_list_is_refused",),
    ),
    Mutant(
        "growth-binary-cast",
        "a cast to a binary type is no growth (read back as text, its hex doubles)",
        "rls/guard/growth.py",
        "    if name in _BINARY_TYPES:\n        return True\n",
        "",
        (ROUND16 + "test_one_column_copied_by_a_function_outside_the_growth_list_is_refused",),
    ),
    Mutant(
        "repeat-of-unknown-size",
        "REPEAT of a column or parameter takes any count up to 100000",
        "rls/guard/allow.py",
        "    if not known and int(times.name) > MAX_COPIES:\n",
        "    if False:\n",
        (ROUND16 + "test_postgres_repeat_of_a_value_of_unknown_size_is_refused",),
    ),  # -- round 17 ---------------------------------------------------------------------------------
    Mutant(
        "postgres-partitions-not-reached",
        "PostgreSQL: a write to a parent does not reach its partitions' and children's triggers",
        "dialects/postgres.py",
        'WHERE pn.nspname = current_schema()\n"""\n"""What a write',
        'WHERE false\n"""\n"""What a write',
        (
            ROUND17 + "test_postgres_a_partitions_trigger_cannot_give_a_row_away",
            ROUND17 + "test_postgres_an_inheritance_childs_trigger_cannot_give_a_row_away",
        ),
    ),
    Mutant(
        "postgres-user-code-in-columns",
        "PostgreSQL: a default or constraint calling a user function is no hazard",
        "dialects/postgres.py",
        "        cur.execute(_USER_CODE_IN_COLUMNS)\n        triggered |= {name for (name,) in cur.fetchall()}\n",
        "",
        (ROUND17 + "test_postgres_a_function_called_by_a_default_or_check_cannot_write_another_users_row",),
    ),
    Mutant(
        "postgres-view-calling-user-code-served",
        "PostgreSQL: a view calling a user function is served (reading it runs that code)",
        "dialects/postgres.py",
        "        for (view,) in cur.fetchall():\n            columns.pop(view, None)\n",
        "        cur.fetchall()\n",
        (ROUND17 + "test_reading_a_view_cannot_run_a_function_that_writes_another_users_row",),
    ),
    Mutant(
        "mariadb-view-calling-stored-function-served",
        "MariaDB: a view calling a stored function is served",
        "dialects/mysql.py",
        "        for view in unserved:\n            columns.pop(view, None)\n",
        "",
        (ROUND17 + "test_reading_a_view_cannot_run_a_function_that_writes_another_users_row",),
    ),  # -- round 18 ---------------------------------------------------------------------------------
    Mutant(
        "policy-literal-in-its-own-spelling",
        "SQLite: a policy's date/time literal compared in the author's spelling, not the stored one",
        "rls/policy/compile.py",
        "    stored = dialect.stored_literal(kind, value.this)\n",
        "    stored = value.this\n",
        (ROUND18 + "test_a_datetime_policy_bound_holds_on_create",),
    ),
    Mutant(
        "write-range-ignored",
        "a Range header on a write is ignored (a DELETE with Range: 0-0 deletes every match)",
        "rls/http/prefer.py",
        '    elif header("Range") is not None or header("Range-Unit") is not None:\n',
        "    elif False:\n",
        (ROUND18 + "test_b_a_write_does_not_ignore_a_range_header",),
    ),
    Mutant(
        "principal-pattern-own-escape",
        "an auth_user attribute as a LIKE pattern with an ESCAPE of the policy's own (rls checks only \\)",
        "rls/policy/expression.py",
        '            raise PolicyError("an auth_user attribute as a LIKE pattern takes no ESCAPE of its own")\n',
        "            pass\n",
        (LANGUAGE + "test_expression_refused_with_a_reason",),
    ),
)
