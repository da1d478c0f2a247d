"""The guard's allow-list: a statement passes only if every node, every argument of every
node and every leaf is listed here. Unknown means refused.

Three layers, checked on the parsed tree before anything is rewritten:

* **node types** — statements, clauses, operators (:data:`NODES`) and functions
  (:data:`FUNCTIONS`, plus a per-dialect list of functions sqlglot only knows by name);
* **arguments** — each node type lists the arguments it may carry (:data:`ARGS`); any
  other non-empty argument is refused, so a clause sqlglot parses but we never reviewed
  (``INTO``, ``CONNECT BY``, sampling, ``OVERWRITE`` …) cannot slip through;
* **leaves** — text that sqlglot emits verbatim (``exp.Var``, type names and parameters,
  ``CHARACTER SET``) must come from closed sets: date parts, interval units, type names,
  numbers. Identifiers are quoted on output; a number literal must look like a number.

Nothing from the input is ever emitted as raw text; the structural verification after the
rewrite (:mod:`rls.guard.verify`) is the second line of defence, not the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sqlglot import exp

from rls.errors import Refused
from rls.guard.growth import check_growth

STATEMENTS: tuple[type[exp.Expr], ...] = (
    exp.Select,
    exp.SetOperation,
    exp.Subquery,
    exp.Insert,
    exp.Update,
    exp.Delete,
)

_E, _L, _F = "expr", "list", "flag"  # an expression child, a list of them, a boolean flag

ARGS: dict[type[exp.Expr], Mapping[str, str]] = {
    exp.Select: {"with_": _E, "expressions": _L, "distinct": _E, "from_": _E, "joins": _L, "where": _E,
                 "group": _E, "having": _E, "windows": _L, "order": _E, "limit": _E, "offset": _E,
                 "locks": _L},
    # FOR UPDATE / SHARE / NO KEY UPDATE / KEY SHARE, NOWAIT (wait=True), SKIP LOCKED
    # (wait=False): locking.py. No OF list, no WAIT n.
    exp.Lock: {"update": _F, "key": _F, "wait": _F},
    exp.Union: {"with_": _E, "this": _E, "expression": _E, "distinct": _F, "order": _E, "limit": _E, "offset": _E},
    exp.Subquery: {"this": _E, "alias": _E, "order": _E, "limit": _E, "offset": _E},
    exp.From: {"this": _E},
    exp.Join: {"this": _E, "on": _E, "side": "join_side", "kind": "join_kind", "using": _L},
    exp.Where: {"this": _E},
    exp.Group: {"expressions": _L},
    exp.Having: {"this": _E},
    exp.Order: {"expressions": _L},
    exp.Ordered: {"this": _E, "desc": _F, "nulls_first": _F},
    exp.Limit: {"expression": _E, "offset": _E},
    exp.Offset: {"expression": _E},
    exp.Fetch: {"direction": "fetch_direction", "count": _E, "limit_options": _E},
    exp.LimitOptions: {"rows": _F},
    exp.Distinct: {"expressions": _L, "on": _E},
    exp.With: {"expressions": _L, "recursive": _F},
    exp.CTE: {"this": _E, "alias": _E},
    exp.TableAlias: {"this": _E, "columns": _L},
    # "joins" on a table: the first table of a parenthesised join, ``(a JOIN b ON …)``
    # (sqlglot's reading of it); where it may stand: _shape_table.
    exp.Table: {"this": _E, "alias": _E, "joins": _L},
    exp.Column: {"this": _E, "table": _E},
    exp.Identifier: {"this": "identifier", "quoted": _F},
    exp.Star: {},
    exp.Alias: {"this": _E, "alias": _E},
    exp.Literal: {"this": "literal", "is_string": _F},
    exp.Boolean: {"this": _F},
    exp.Null: {},
    exp.Placeholder: {"this": "placeholder"},
    exp.Paren: {"this": _E},
    exp.Tuple: {"expressions": _L},
    exp.Window: {"this": _E, "partition_by": _L, "order": _E, "spec": _E, "alias": _E, "over": "over"},
    exp.WindowSpec: {"kind": "frame_kind", "start": "frame_bound", "start_side": "frame_side",
                     "end": "frame_bound", "end_side": "frame_side"},
    exp.Values: {"expressions": _L, "alias": _E},
    exp.Insert: {"with_": _E, "this": _E, "expression": _E, "conflict": _E, "returning": _E},
    exp.Update: {"with_": _E, "this": _E, "expressions": _L, "from_": _E, "where": _E, "returning": _E,
                 "order": _E, "limit": _E},
    exp.Delete: {"with_": _E, "this": _E, "using": _L, "where": _E, "returning": _E, "order": _E, "limit": _E},
    exp.Schema: {"this": _E, "expressions": _L},
    exp.Returning: {"expressions": _L},
    exp.OnConflict: {"expressions": _L, "action": "conflict_action", "conflict_keys": _L, "where": _E},
    exp.Lateral: {"this": _E, "alias": _E},
    exp.Exists: {"this": _E},
    exp.In: {"this": _E, "expressions": _L, "query": _E},
    exp.Any: {"this": _E},
    exp.All: {"this": _E},
    exp.Between: {"this": _E, "low": _E, "high": _E},
    exp.Is: {"this": _E, "expression": _E, "negate": _F},
    exp.Interval: {"this": _E, "unit": "interval_unit"},
    exp.Cast: {"this": _E, "to": "data_type"},
    exp.TryCast: {"this": _E, "to": "data_type"},
    exp.Extract: {"this": "date_part", "expression": _E},
    exp.Filter: {"this": _E, "expression": _E},
    exp.Array: {"expressions": _L, "bracket_notation": _F},
    exp.Bracket: {"this": _E, "expressions": _L},
    exp.Case: {"this": _E, "ifs": _L, "default": _E},
    exp.If: {"this": _E, "true": _E, "false": _E},
    exp.Count: {"this": _E, "expressions": _L, "big_int": _F},
    exp.Anonymous: {"this": "function_name", "expressions": _L},
    exp.JSONPath: {"expressions": _L},
    exp.JSONPathRoot: {},
    exp.JSONPathKey: {"this": "json_key", "quoted": _F},
    exp.JSONPathSubscript: {"this": "json_index"},
    exp.TimestampTrunc: {"this": _E, "unit": "date_part"},
    exp.DateTrunc: {"this": _E, "unit": "date_part"},
    exp.DateAdd: {"this": _E, "expression": _E, "unit": "interval_unit"},
    exp.DateSub: {"this": _E, "expression": _E, "unit": "interval_unit"},
    exp.DateDiff: {"this": _E, "expression": _E, "unit": "date_part"},
}  # fmt: skip
"""Per node type, its allowed arguments and how each is checked."""

for _setop in (exp.Intersect, exp.Except):
    ARGS[_setop] = ARGS[exp.Union]

_BINARY = {"this": _E, "expression": _E}
NODES_BINARY: tuple[type[exp.Expr], ...] = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.And, exp.Or,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.DPipe, exp.Like, exp.ILike, exp.Escape,
    exp.SimilarTo, exp.RegexpLike, exp.RegexpILike, exp.Kwarg,
)  # fmt: skip
for _node in NODES_BINARY:
    ARGS.setdefault(_node, _BINARY)
ARGS[exp.Not] = ARGS[exp.Neg] = {"this": _E}
ARGS[exp.Like] = ARGS[exp.ILike] = {**_BINARY, "negate": _F}
ARGS[exp.DPipe] = {**_BINARY, "safe": _F}
ARGS[exp.Div] = {**_BINARY, "typed": _F, "safe": _F}
ARGS[exp.JSONExtractScalar] = {"this": _E, "expression": _E, "only_json_types": _F, "scalar_only": _F,
                               "json_type": _F, "json_subtype": _F}  # fmt: skip
ARGS[exp.JSONExtract] = {"this": _E, "expression": _E, "only_json_types": _F}

FUNCTIONS: frozenset[type[exp.Func]] = frozenset(
    {
        # aggregates
        exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.GroupConcat, exp.ArrayAgg, exp.Stddev, exp.StddevPop,
        exp.StddevSamp, exp.Variance, exp.VariancePop, exp.LogicalAnd, exp.LogicalOr,
        # windows
        exp.RowNumber, exp.Rank, exp.DenseRank, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue,
        exp.Ntile, exp.PercentRank, exp.CumeDist,
        # conditionals and casts
        exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least, exp.Cast, exp.TryCast,
        # numbers
        exp.Abs, exp.Ceil, exp.Floor, exp.Round, exp.Trunc, exp.Sqrt, exp.Pow, exp.Sign, exp.Ln, exp.Log, exp.Exp,
        exp.Rand,
        # text
        exp.Length, exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.Concat, exp.ConcatWs, exp.Left, exp.Right,
        exp.StrPosition, exp.Replace, exp.Initcap, exp.Reverse, exp.Repeat, exp.MD5, exp.SHA2,
        # dates
        exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.Localtimestamp, exp.Extract, exp.Date,
        exp.TsOrDsToDate, exp.TsOrDsToTimestamp, exp.DateTrunc, exp.TimestampTrunc, exp.DateAdd, exp.DateSub,
        exp.DateDiff, exp.TimeToStr, exp.Year, exp.Month, exp.Day, exp.Hour,
        # JSON and arrays
        exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar, exp.JSONType, exp.Array,
    }
)  # fmt: skip
"""Function classes statements may call: pure, side-effect free, on every dialect where they
exist. Everything else sqlglot knows is refused, and so is every name it does not know
unless the dialect lists it (:attr:`dialects.base.Dialect.GUARD_FUNCTIONS`)."""

_STRUCTURE: frozenset[type[exp.Expr]] = frozenset(ARGS) - frozenset({exp.Anonymous})

VOLATILE: frozenset[type[exp.Expr]] = frozenset({exp.Rand})
"""Functions whose value changes between two evaluations in one statement."""

# -- closed sets of leaves ----------------------------------------------------------------

DATE_PARTS = frozenset(
    {"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DOW", "DOY", "HOUR", "MINUTE", "SECOND", "MILLISECOND",
     "MICROSECOND", "EPOCH", "DAYOFWEEK", "DAYOFYEAR", "ISODOW", "ISOYEAR", "DECADE", "CENTURY", "MILLENNIUM"}
)  # fmt: skip
INTERVAL_UNITS = DATE_PARTS | {p + "S" for p in DATE_PARTS}
TYPE_NAMES = frozenset(
    {"INT", "BIGINT", "SMALLINT", "TINYINT", "UBIGINT", "UINT", "DECIMAL", "DOUBLE", "FLOAT", "TEXT", "VARCHAR",
     "CHAR", "NCHAR", "NVARCHAR", "BOOLEAN", "DATE", "DATETIME", "TIMESTAMP", "TIMESTAMPTZ", "TIME", "UUID",
     "JSON", "JSONB", "BINARY", "VARBINARY", "BLOB", "INTERVAL"}
)  # fmt: skip
CHARSETS = frozenset({"UTF8MB4", "UTF8", "UTF8MB3", "BINARY", "LATIN1", "ASCII"})
JOIN_SIDES = frozenset({"LEFT", "RIGHT", "FULL"})
JOIN_KINDS = frozenset({"INNER", "OUTER", "CROSS"})
FRAME_KINDS = frozenset({"ROWS", "RANGE"})
FRAME_SIDES = frozenset({"PRECEDING", "FOLLOWING"})
FRAME_BOUNDS = frozenset({"UNBOUNDED", "CURRENT ROW"})
CONFLICT_ACTIONS = frozenset({"DO NOTHING", "DO UPDATE"})
RESERVED_PREFIX = "rls_"
"""Names rls gives to what it builds (CTEs, aliases, placeholders); input may not use them."""

_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_statement(
    root: exp.Expr,
    functions: Mapping[str, tuple[int, int]],
    placeholders: frozenset[str],
    unsupported: frozenset[type[exp.Expr]] = frozenset(),
) -> None:
    """Refuse ``root`` unless every node, argument and leaf is on the allow-list.

    ``functions`` maps upper-case names sqlglot does not know to their (min, max) arity;
    ``placeholders`` are the placeholder names the statement may hold; ``unsupported`` are
    node types this database cannot take as sqlglot prints them.
    """
    if not isinstance(root, STATEMENTS):
        raise Refused(f"statement not allowed: {_name(root)}")
    checked_leaves: set[int] = set()
    for node in root.walk():
        if id(node) in checked_leaves:
            continue
        if type(node) in unsupported:
            raise Refused(f"not supported on this database: {_name(node)}")
        _check_node(node, functions, placeholders, checked_leaves)
    check_growth(root)  # sizes compose: bound the value, not each argument


def _name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    if isinstance(node, exp.Func):
        return node.sql_name()
    return type(node).__name__.upper()


def _check_node(
    node: exp.Expr, functions: Mapping[str, tuple[int, int]], placeholders: frozenset[str], leaves: set[int]
) -> None:
    kind = type(node)
    spec = ARGS.get(kind)
    if kind is exp.Anonymous:
        _check_anonymous(node, functions)
    elif spec is None:
        if not (isinstance(node, exp.Func) and kind in FUNCTIONS):
            what = "function" if isinstance(node, exp.Func) else "construct"
            raise Refused(f"{what} not allowed: {_name(node)}")
        spec = _function_spec(kind)
    elif isinstance(node, exp.Func) and kind not in FUNCTIONS and kind not in _STRUCTURE:
        raise Refused(f"function not allowed: {_name(node)}")
    assert spec is not None
    for key, value in node.args.items():
        if value is None or value is False or value == [] or value == "":
            continue
        tag = spec.get(key)
        if tag is None:
            raise Refused(f"construct not allowed: {_name(node)} with {key.rstrip('_').upper()}")
        _check_arg(node, key, tag, value, placeholders, leaves)
    shape = _SHAPES.get(kind)
    if shape is not None:
        shape(node)


_ARG = "argument"


def _function_spec(kind: type[exp.Expr]) -> Mapping[str, str]:
    # A known function's arguments are expressions or lists of them (checked as nodes of
    # their own) or flags; a text-valued argument would be emitted verbatim: refused.
    return dict.fromkeys(kind.arg_types, _ARG)


def _check_anonymous(node: exp.Expr, functions: Mapping[str, tuple[int, int]]) -> None:
    name = str(node.this)
    arity = functions.get(name.upper()) if _FUNCTION_NAME.fullmatch(name) else None
    if arity is None:
        raise Refused(f"function not allowed: {name}")
    count = len(node.expressions)
    if not arity[0] <= count <= arity[1]:
        raise Refused(f"function {name} takes {arity[0]}..{arity[1]} arguments, not {count}")
    if name.upper() in ("PRINTF", "FORMAT"):
        _check_format(node)


def _check_arg(
    node: exp.Expr, key: str, tag: str, value: object, placeholders: frozenset[str], leaves: set[int]
) -> None:
    if tag == _E:
        if not isinstance(value, exp.Expr):
            raise Refused(f"construct not allowed: {_name(node)} {key}")
        if isinstance(value, (exp.Var, exp.DataType)):
            raise Refused(f"construct not allowed: {value.sql()[:40]} in {_name(node)}")
        return
    if tag == _L:
        if not isinstance(value, list) or not all(isinstance(v, exp.Expr) for v in value):
            raise Refused(f"construct not allowed: {_name(node)} {key}")
        if any(isinstance(v, (exp.Var, exp.DataType)) for v in value):
            raise Refused(f"construct not allowed: a bare word in {_name(node)}")
        return
    if tag == _F:
        if not isinstance(value, bool):
            raise Refused(f"construct not allowed: {_name(node)} {key}")
        return
    if tag == _ARG:
        _check_arg(node, key, _L if isinstance(value, list) else _F if isinstance(value, bool) else _E,
                   value, placeholders, leaves)  # fmt: skip
        return
    _LEAF_CHECKS[tag](value, placeholders, leaves)


LeafCheck = Callable[[object, frozenset[str], set[int]], None]


def _words(allowed: frozenset[str], what: str, *, or_expression: bool = False) -> LeafCheck:
    def check(value: object, placeholders: frozenset[str], leaves: set[int]) -> None:
        if or_expression and isinstance(value, exp.Expr) and not isinstance(value, (exp.Var, exp.DataType)):
            return  # an expression (a frame offset): checked as a node of its own
        text = value.name if isinstance(value, exp.Var) else value
        if not isinstance(text, str) or text.upper() not in allowed:
            raise Refused(f"{what} not allowed: {str(text)[:40]}")
        if isinstance(value, exp.Expr):
            leaves.add(id(value))

    return check


def _check_identifier(value: object, placeholders: frozenset[str], leaves: set[int]) -> None:
    if not isinstance(value, str) or "\x00" in value or not value:
        raise Refused("invalid identifier")
    if value.lower().startswith(RESERVED_PREFIX):
        raise Refused(f"names starting with {RESERVED_PREFIX} are reserved: {value[:40]}")


def _check_literal(value: object, placeholders: frozenset[str], leaves: set[int]) -> None:
    if not isinstance(value, str) or "\x00" in value:
        raise Refused("invalid literal")


def _check_placeholder(value: object, placeholders: frozenset[str], leaves: set[int]) -> None:
    if value not in placeholders:
        raise Refused(f"unexpected placeholder in statement: {str(value)[:40] or '?'}")


def _check_data_type(value: object, placeholders: frozenset[str], leaves: set[int]) -> None:
    if not isinstance(value, exp.DataType):
        raise Refused("invalid type")
    leaves.add(id(value))
    name = value.this.name if hasattr(value.this, "name") else str(value.this)
    extra = {k for k, v in value.args.items() if v and k not in ("this", "expressions", "nested", "kind")}
    if extra or value.args.get("nested"):
        raise Refused(f"type not allowed: {name}")
    kind = value.args.get("kind")
    if name == "CHARACTER_SET":
        if not isinstance(kind, exp.Var) or kind.name.upper() not in CHARSETS:
            raise Refused("character set not allowed")
        leaves.add(id(kind))
    elif name not in TYPE_NAMES or kind is not None:
        raise Refused(f"type not allowed: {name}")
    for param in value.expressions:
        leaves.add(id(param))
        number = param.this if isinstance(param, exp.DataTypeParam) else None
        if not (
            isinstance(number, exp.Literal)
            and not number.is_string
            and number.name.isdigit()
            and not param.args.get("expression")
        ):
            raise Refused("type parameters must be numbers")
        if int(number.name) > MAX_GROWTH:
            # CAST(x AS CHAR(10485760)) pads one character to 10 MB: a length is a size,
            # bounded as REPEAT's count is.
            raise Refused(f"type parameters are numbers up to {MAX_GROWTH}")
        leaves.add(id(number))


def _check_json_key(value: object, placeholders: frozenset[str], leaves: set[int]) -> None:
    if not isinstance(value, str) or "\x00" in value:
        raise Refused("invalid JSON path")


def _check_json_index(value: object, placeholders: frozenset[str], leaves: set[int]) -> None:
    if type(value) is not int:
        raise Refused("JSON path subscripts must be numbers")


def _check_function_name(value: object, placeholders: frozenset[str], leaves: set[int]) -> None:
    if not isinstance(value, str):
        raise Refused("invalid function")


def _check_over(value: object, placeholders: frozenset[str], leaves: set[int]) -> None:
    if value != "OVER":
        raise Refused("construct not allowed: window")


_LEAF_CHECKS: dict[str, LeafCheck] = {
    "identifier": _check_identifier,
    "literal": _check_literal,
    "placeholder": _check_placeholder,
    "data_type": _check_data_type,
    "json_key": _check_json_key,
    "json_index": _check_json_index,
    "function_name": _check_function_name,
    "over": _check_over,
    "date_part": _words(DATE_PARTS, "date part"),
    "interval_unit": _words(INTERVAL_UNITS, "interval unit"),
    "join_side": _words(JOIN_SIDES, "join"),
    "join_kind": _words(JOIN_KINDS, "join"),
    "frame_kind": _words(FRAME_KINDS, "window frame"),
    "frame_side": _words(FRAME_SIDES, "window frame"),
    "frame_bound": _words(FRAME_BOUNDS, "window frame", or_expression=True),
    "conflict_action": _words(CONFLICT_ACTIONS, "ON CONFLICT action"),
    "fetch_direction": _words(frozenset({"FIRST", "NEXT"}), "FETCH"),
}


def _shape_literal(node: exp.Expr) -> None:
    if not node.args.get("is_string") and not _NUMBER.fullmatch(node.name):
        raise Refused("invalid number")


def _shape_table(node: exp.Expr) -> None:
    if not isinstance(node.this, exp.Identifier):
        raise Refused("table-valued functions are not allowed")
    if node.args.get("joins"):
        # Only as ``(a JOIN b ON …)`` in a FROM or JOIN: a bare parenthesis (no alias, no
        # clause of its own) directly around the table, itself a FROM or JOIN item.
        paren = node.parent
        if not (
            isinstance(paren, exp.Subquery)
            and node.arg_key == "this"
            and all(not v for k, v in paren.args.items() if k != "this")
            and isinstance(paren.parent, (exp.From, exp.Join))
            and paren.arg_key == "this"
            # (a FROM's or JOIN's SELECT, or the table carrying an enclosing nested join)
            and isinstance(paren.parent.parent, (exp.Select, exp.Table))
        ):
            raise Refused("a parenthesised join is allowed as a FROM or JOIN item of a SELECT only")


def _shape_cte(node: exp.Expr) -> None:
    if not isinstance(node.this, (exp.Select, exp.SetOperation, exp.Subquery)):
        raise Refused("data-modifying WITH clauses are not allowed")


def _shape_insert(node: exp.Expr) -> None:
    if not isinstance(node.this, exp.Schema) or not node.this.expressions:
        raise Refused("INSERT needs an explicit column list")
    if not isinstance(node.expression, (exp.Values, exp.Select, exp.SetOperation)):
        raise Refused("INSERT takes VALUES or a SELECT")


def _shape_conflict(node: exp.Expr) -> None:
    if "UPDATE" in str(node.args.get("action")).upper() and not node.args.get("conflict_keys"):
        raise Refused("ON CONFLICT DO UPDATE needs a conflict target (columns)")


def _shape_lateral(node: exp.Expr) -> None:
    if not isinstance(node.this, exp.Subquery):
        raise Refused("LATERAL is allowed over a sub-query only")


def _shape_column(node: exp.Expr) -> None:
    if isinstance(node.this, exp.Star) and node.args.get("table") is None:
        raise Refused("invalid column")


def _shape_values(node: exp.Expr) -> None:
    parent = node.parent
    if isinstance(parent, exp.Insert):
        return
    # ``(a, b) IN (VALUES (…), …)`` (SQLAlchemy's tuple IN on SQLite): the only item of an
    # IN list, without an alias; its rows are expressions checked like any other.
    if isinstance(parent, exp.In) and node.arg_key == "expressions" and parent.expressions == [node]:
        if node.args.get("alias") is None:
            return
    raise Refused("VALUES is allowed as the rows of an INSERT or as an IN list only")


MAX_GROWTH = 100_000
"""The largest ``REPEAT`` count and ``printf``/``format`` width or precision: functions
whose result size is an argument take it as an integer literal up to this (a statement
timeout does not bound memory: ``REPEAT('x', 900000000)`` allocates 900 MB in a second)."""
_FORMAT_SPEC = re.compile(r"%[-+ 0#,!']*(\*|\d*)(?:\.(\*|\d*))?")


def _small_count(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and node.name.isdigit() and int(node.name) <= MAX_GROWTH


MAX_COPIES = 100
"""The largest ``REPEAT`` count of a value whose size rls does not know (a column, a
parameter: ``REPEAT(%s, 100000)`` of 10 kB is 1 GB); a string literal may be repeated up to
:data:`MAX_GROWTH` times."""


def _shape_repeat(node: exp.Expr) -> None:
    times = node.args.get("times")
    if times is None or not _small_count(times):
        raise Refused(f"REPEAT takes its count as an integer literal up to {MAX_GROWTH}")
    known = isinstance(node.this, exp.Literal) and node.this.is_string
    if not known and int(times.name) > MAX_COPIES:
        raise Refused(f"REPEAT of a value of unknown size takes a count up to {MAX_COPIES}")


def _check_format(node: exp.Expr) -> None:
    """``printf``/``format``: a literal format whose widths and precisions are literal and
    small (``%*d`` takes its width from an argument)."""
    first = node.expressions[0] if node.expressions else None
    if not (isinstance(first, exp.Literal) and first.is_string):
        raise Refused(f"{node.name} takes its format as a string literal")
    for match in _FORMAT_SPEC.finditer(first.name):
        for number in match.groups():
            if number == "*" or (number and int(number) > MAX_GROWTH):
                raise Refused(f"{node.name}: widths and precisions are literals up to {MAX_GROWTH}")


_SHAPES: dict[type[exp.Expr], Callable[[exp.Expr], None]] = {
    exp.Repeat: _shape_repeat,
    exp.Literal: _shape_literal,
    exp.Table: _shape_table,
    exp.CTE: _shape_cte,
    exp.Insert: _shape_insert,
    exp.OnConflict: _shape_conflict,
    exp.Lateral: _shape_lateral,
    exp.Column: _shape_column,
    exp.Values: _shape_values,
}
"""Rules about how allowed parts combine, per node type."""
