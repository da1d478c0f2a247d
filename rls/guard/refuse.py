"""What the guard refuses before it rewrites anything: statement kinds, constructs and
functions outside the allow-lists, table-valued functions, qualified names, session
changes. Unknown means refused — sqlglot's lenient parse (``exp.Command``) included.
"""

from __future__ import annotations

from sqlglot import exp

from rls.errors import Refused

STATEMENTS: tuple[type[exp.Expr], ...] = (
    exp.Select,
    exp.SetOperation,
    exp.Subquery,
    exp.Insert,
    exp.Update,
    exp.Delete,
)

_STRUCTURE: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery, exp.From, exp.Join, exp.Where,
        exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Fetch, exp.Distinct,
        exp.With, exp.CTE, exp.TableAlias, exp.Table, exp.Column, exp.Identifier, exp.Star, exp.Alias,
        exp.Literal, exp.Boolean, exp.Null, exp.Placeholder, exp.Paren, exp.Tuple, exp.Window, exp.WindowSpec,
        exp.Values, exp.Insert, exp.Update, exp.Delete, exp.Schema, exp.Returning, exp.OnConflict, exp.Lateral,
        exp.Exists, exp.In, exp.Any, exp.All, exp.Between, exp.Is, exp.Like, exp.ILike, exp.Escape,
        exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
        exp.And, exp.Or, exp.Not, exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.DPipe,
        exp.Interval, exp.DataType, exp.DataTypeParam, exp.Var, exp.Collate, exp.Filter, exp.Bracket,
        exp.JSONPath, exp.JSONPathRoot, exp.JSONPathKey, exp.JSONPathSubscript, exp.Slice, exp.Kwarg,
        exp.Semicolon,
    }
)  # fmt: skip

FUNCTIONS: frozenset[type[exp.Expr]] = frozenset(
    {
        # aggregates
        exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.GroupConcat, exp.ArrayAgg, exp.Stddev, exp.Variance,
        # windows
        exp.RowNumber, exp.Rank, exp.DenseRank, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue,
        exp.Ntile, exp.PercentRank, exp.CumeDist,
        # conditionals and casts
        exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least, exp.Cast, exp.TryCast,
        # numbers
        exp.Abs, exp.Ceil, exp.Floor, exp.Round, exp.Sqrt, exp.Pow, exp.Sign, exp.Ln, exp.Exp,
        # text
        exp.Length, exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.Concat, exp.ConcatWs, exp.Left,
        exp.Right, exp.StrPosition, exp.Replace,
        # dates
        exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.Extract, exp.Date, exp.TsOrDsToDate,
        exp.DateTrunc, exp.TimestampTrunc, exp.DateAdd, exp.DateSub, exp.DateDiff,
        # JSON
        exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar,
    }
)  # fmt: skip
"""Functions statements may call; anything else — including every function sqlglot
does not know (``exp.Anonymous``: pg_sleep, set_config, load_file …) — is refused."""


def check_statement(root: exp.Expr) -> None:
    """Refuse ``root`` unless it is one allowed statement built from allowed parts."""
    if not isinstance(root, STATEMENTS):
        raise Refused(f"statement not allowed: {_name(root)}")
    for node in root.walk():
        _check_node(node)


def _name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    if isinstance(node, exp.Func):
        return node.sql_name()
    return type(node).__name__.upper()


def _check_node(node: exp.Expr) -> None:
    kind = type(node)
    if isinstance(node, exp.Func) and kind not in FUNCTIONS and kind not in _STRUCTURE:
        raise Refused(f"function not allowed: {_name(node)}")
    if kind not in _STRUCTURE and kind not in FUNCTIONS:
        raise Refused(f"construct not allowed: {_name(node)}")
    if isinstance(node, exp.Table):
        if node.args.get("db") or node.args.get("catalog"):
            raise Refused(f"qualified table names are not allowed: {node.sql()}")
        if not isinstance(node.this, exp.Identifier):
            raise Refused("table-valued functions are not allowed")
        if node.args.get("joins") or node.args.get("laterals"):
            raise Refused("multi-table UPDATE and DELETE are not allowed")
    elif isinstance(node, exp.Select):
        if node.args.get("into") or node.args.get("locks"):
            raise Refused("SELECT … INTO and locking clauses are not allowed")
    elif isinstance(node, exp.CTE) and not isinstance(node.this, (exp.Select, exp.SetOperation, exp.Subquery)):
        raise Refused("data-modifying WITH clauses are not allowed")
    elif isinstance(node, exp.Insert):
        _check_insert(node)
    elif isinstance(node, exp.Delete) and node.args.get("tables"):
        raise Refused("multi-table DELETE is not allowed")
    elif isinstance(node, exp.Lateral) and not isinstance(node.this, exp.Subquery):
        raise Refused("LATERAL is allowed over a sub-query only")
    elif isinstance(node, exp.Placeholder) and not node.name:
        raise Refused("anonymous placeholder in an unexpected place (the ? operator is not supported)")


def _check_insert(node: exp.Insert) -> None:
    if node.args.get("ignore") or node.args.get("alternative") or node.args.get("overwrite"):
        raise Refused("INSERT IGNORE / OR REPLACE / OVERWRITE are not allowed")
    if not isinstance(node.this, exp.Schema) or not node.this.expressions:
        raise Refused("INSERT needs an explicit column list")
    conflict = node.args.get("conflict")
    if conflict is None:
        return
    if conflict.args.get("duplicate"):
        raise Refused("ON DUPLICATE KEY UPDATE is not allowed; use ON CONFLICT or UPDATE")
    action = str(conflict.args.get("action") or "").upper()
    if "UPDATE" in action and (not conflict.args.get("conflict_keys") or not isinstance(node.expression, exp.Values)):
        raise Refused("ON CONFLICT DO UPDATE needs a conflict target (columns) and VALUES")
    if "UPDATE" not in action and "NOTHING" not in action:
        raise Refused("ON CONFLICT takes DO NOTHING or DO UPDATE")
