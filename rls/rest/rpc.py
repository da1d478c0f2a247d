"""``/rpc/<function>``: call a stored function by name, deny by default.

A function's body runs with the server's database role: rls's policies cannot reach
inside it. So only the functions listed in ``rest.rpc_functions`` (in the schema tables
are served from) can be called; arguments are checked against the catalog's signature
and bound as parameters by name; a function returning rows of a table (``SETOF t``, or
``t``) has its result filtered by that table's read policy for the caller, exactly as a
read of the table; any other result is returned as the function computed it.

An argument's value gets the checks a column's value of the same type gets (values.py:
a finite number, an ISO date, JSON without non-finite numbers…), then is bound as text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from dialects.base import FunctionInfo
from rls import jsonin, values
from rls.auth.principal import AuthUser
from rls.cache import BoundedCache
from rls.database import Database, Session
from rls.emit import Emitted, emit, placeholder
from rls.errors import BadRequest, InvalidValue, MethodNotAllowed, NotFound
from rls.policy.compile import Predicate, principal_params
from rls.rest.resource import TableService
from rls.schema import Kind, Table

_READ_ONLY = "SET TRANSACTION READ ONLY"  # standard SQL; GET must not write, whatever the function calls
_JSON_TYPES = frozenset({"json", "jsonb"})

Answer = Callable[[Any], Any]
"""What the caller makes of a call's result, inside its transaction (see :meth:`RpcService.call`)."""


@dataclass(frozen=True)
class Call:
    """A checked call: the function, its argument names and their values as text."""

    function: FunctionInfo
    names: tuple[str, ...]
    values: tuple[str | None, ...]


class RpcService:
    """Calls the listed functions of one database for a caller, under its read policies."""

    def __init__(self, tables: TableService, allowed: tuple[str, ...], *, cache_size: int = 256):
        self.tables = tables
        self.db: Database = tables.db
        self.allowed = frozenset(allowed)
        self._cache: BoundedCache[Emitted] = BoundedCache(cache_size)

    def call(self, name: str, arguments: Any, user: AuthUser, *, read_only: bool, answer: Answer | None = None) -> Any:
        """The function's result as JSON-ready values; ``answer``, when given, is called
        with it inside the call's transaction (raising there rolls the call back) and its
        return value is returned instead (the web layer encodes the answer there, so one
        past ``max_response_bytes`` undoes what the function wrote).

        Raises:
            NotFound: no RPC on this database, the function is not listed or not there.
            MethodNotAllowed: ``read_only`` (GET) for a VOLATILE function.
            BadRequest: arguments that are not the function's.
        """
        dialect = self.db.dialect
        if not dialect.SUPPORTS_RPC:
            raise NotFound(f"/rpc is not available on {dialect.name}: only PostgreSQL has functions rls can call")
        if name not in self.allowed:
            raise NotFound(f"RPC is not enabled for function {name}: list it in rest.rpc_functions")
        function = self._function(name)
        if read_only and function.volatility == "volatile":
            raise MethodNotAllowed(f"function {name} is VOLATILE: call it with POST")
        call = check_arguments(function, arguments)
        table = self._result_table(function)
        if table is not None:
            return self._rows_of(call, table, user, read_only=read_only, answer=answer)
        return self._value_of(call, read_only=read_only, answer=answer)

    def _function(self, name: str) -> FunctionInfo:
        found = self.db.run(lambda s: self.db.dialect.describe_functions(s.connection, name))
        if not found:
            raise NotFound(f"function {name} does not exist in the served schema")
        if len(found) > 1:
            raise BadRequest(f"function {name} is overloaded: rls calls only functions with one signature")
        function = found[0]
        if function.variadic or any(not arg for arg, _ in function.arguments) or not all(function.output_columns):
            raise BadRequest(f"function {name} has variadic or unnamed arguments: rls calls by name only")
        return function

    def _result_table(self, function: FunctionInfo) -> Table | None:
        """The table whose rows the function returns (as a request may see it), or None."""
        if function.return_relation is None:
            return None
        return self.tables.table(function.return_relation)  # UnknownTable when it is not served

    def _rows_of(self, call: Call, table: Table, user: AuthUser, *, read_only: bool, answer: Answer | None) -> Any:
        engine = self.tables.engine
        decision = engine.decide(table, "read", user) if engine is not None else None
        predicate = decision.predicate if decision is not None else None
        key = ("rows", call.function, call.names, self.db.schema_version, table.name, decision and decision.key)
        emitted = self._emitted(key, lambda: build_rows_query(call, table, predicate))
        columns = list(table.columns)
        decoders = [(i, d) for i, c in enumerate(table.columns.values()) if (d := self.db.dialect.decoder(c.kind))]

        def shape(rows: list[Any]) -> Any:
            out = []
            for row in rows:
                values = list(row)
                for i, decode in decoders:
                    values[i] = decode(values[i])
                out.append(dict(zip(columns, values, strict=True)))
            if call.function.returns_set:
                return out
            return out[0] if out else None

        return self._run(emitted, call, principal_params(user), read_only=read_only, shape=shape, answer=answer)

    def _value_of(self, call: Call, *, read_only: bool, answer: Answer | None) -> Any:
        function = call.function
        emitted = self._emitted(("value", function, call.names), lambda: build_value_query(call))

        def shape(rows: list[Any]) -> Any:
            if function.output_columns:
                objects = [dict(zip(function.output_columns, row, strict=True)) for row in rows]
                return objects if function.returns_set else (objects[0] if objects else None)
            if function.returns_set:
                return [row[0] for row in rows]
            return rows[0][0] if rows else None

        return self._run(emitted, call, {}, read_only=read_only, shape=shape, answer=answer)

    def _emitted(self, key: Hashable, build: Callable[[], exp.Expr]) -> Emitted:
        # Keyed by the whole signature and the policy decision: a changed function or
        # policy is a new key, never a stale statement.
        return self._cache.get_or_build(key, lambda: emit(build(), self.db.dialect))

    def _run(
        self,
        emitted: Emitted,
        call: Call,
        principal: Mapping[str, Any],
        *,
        read_only: bool,
        shape: Callable[[list[Any]], Any],
        answer: Answer | None,
    ) -> Any:
        values = dict(zip((f"a{i}" for i in range(len(call.values))), call.values, strict=True))
        params = [values[n] if n in values else principal[n] for n in emitted.names]

        def work(session: Session) -> Any:
            if read_only:
                session.execute(_READ_ONLY)
            result = shape(session.execute(emitted.sql, params).rows)
            return result if answer is None else answer(result)

        return self.db.run(work, write=not read_only, transaction=True)


def build_rows_query(call: Call, table: Table, predicate: Predicate | None) -> exp.Expr:
    """``SELECT <columns> FROM (SELECT * FROM <call> AS t WHERE <read policy>) AS t``: the
    function's rows as the table's, under the table's read policy, as a read of it."""
    alias = exp.TableAlias(this=exp.to_identifier(table.name, quoted=True))
    inner = exp.Select(expressions=[exp.Star()]).from_(exp.Alias(this=call_node(call), alias=alias), copy=False)
    if predicate is not None and predicate.node is not None:
        inner = inner.where(predicate.condition(table.name), copy=False)
    relation = exp.Subquery(this=inner, alias=alias.copy())
    return exp.Select(expressions=[exp.column(c, quoted=True) for c in table.columns]).from_(relation, copy=False)


def build_value_query(call: Call) -> exp.Expr:
    """The call as a value (``SELECT f(…)``) or, for row and set results, as a relation."""
    function = call.function
    if not function.output_columns and not function.returns_set:
        return exp.Select(expressions=[call_node(call)])
    source = exp.Alias(this=call_node(call), alias=exp.TableAlias(this=exp.to_identifier("rls_rpc", quoted=True)))
    columns: list[exp.Expr] = [exp.column(c, quoted=True) for c in function.output_columns] or [exp.Star()]
    return exp.Select(expressions=columns).from_(source, copy=False)


def call_node(call: Call) -> exp.Expr:
    """``"schema"."function"("arg" => <param>, …)``: schema-qualified, so a function of
    the same name earlier on the search path (pg_catalog) can never be the one called."""
    arguments = [
        exp.Kwarg(this=exp.to_identifier(name, quoted=True), expression=placeholder(f"a{i}"))
        for i, name in enumerate(call.names)
    ]
    function = call.function
    node = exp.Anonymous(this=exp.to_identifier(function.name, quoted=True), expressions=arguments)
    return exp.Dot(this=exp.to_identifier(function.schema, quoted=True), expression=node)


def check_arguments(function: FunctionInfo, arguments: Any) -> Call:
    """The call of ``function`` with ``arguments`` (a JSON object or query pairs): every key
    one of its input arguments, every argument without a default given.

    >>> f = FunctionInfo("s", "f", (("a", "integer"), ("b", "text")), 1, "stable", False, None, (), False)
    >>> check_arguments(f, {"a": 1}).values
    ('1',)
    >>> check_arguments(f, {"c": 1})
    Traceback (most recent call last):
    rls.errors.BadRequest: unknown argument c for function f; its arguments: a, b
    """
    if not isinstance(arguments, Mapping):
        raise BadRequest(f"arguments of {function.name} must be a JSON object")
    types = dict(function.arguments)
    unknown = sorted(set(arguments) - set(types))
    if unknown:
        expected = ", ".join(types) or "none"
        raise BadRequest(
            f"unknown argument {', '.join(unknown)} for function {function.name}; its arguments: {expected}"
        )
    required = [name for name, _ in function.arguments[: len(function.arguments) - function.defaults]]
    missing = [name for name in required if name not in arguments]
    if missing:
        raise BadRequest(f"missing argument {', '.join(missing)} for function {function.name}")
    kinds = dict(zip(types, function.argument_kinds, strict=False))
    names = tuple(name for name, _ in function.arguments if name in arguments)
    texts = tuple(argument_text(name, arguments[name], types[name], kinds.get(name, Kind.OTHER)) for name in names)
    return Call(function, names, texts)


def argument_text(name: str, value: Any, type_name: str, kind: Kind = Kind.OTHER) -> str | None:
    """A JSON value as the text the database reads for an argument of ``type_name``
    (bound untyped, so the database converts it as it would a literal — or refuses it),
    once it passed the checks of a column value of the argument's ``kind``.

    >>> argument_text("a", True, "boolean"), argument_text("a", 2.5, "numeric"), argument_text("a", None, "text")
    ('true', '2.5', None)
    >>> argument_text("a", "NaN", "numeric", Kind.DECIMAL)
    Traceback (most recent call last):
    rls.errors.InvalidValue: invalid value for argument a: expected a finite number below 1e308
    """
    if value is None:
        return None
    check_argument(name, value, kind)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise BadRequest(f"invalid value for argument {name}: NUL characters are not allowed")
        return value
    if type_name in _JSON_TYPES:
        return json.dumps(value)
    raise BadRequest(f"invalid value for argument {name}: objects and arrays only for json and jsonb arguments")


def check_argument(name: str, value: Any, kind: Kind) -> None:
    """Refuse ``value`` for argument ``name`` unless a column of ``kind`` would take it:
    the same rules (values.py) on the one path into the database that is not a column.

    >>> check_argument("x", "1e5000", Kind.JSON)
    Traceback (most recent call last):
    rls.errors.InvalidValue: invalid value for argument x: numbers must be finite (at most about 1.8e308)
    """
    if kind in (Kind.TEXT, Kind.OTHER, Kind.BYTES):
        # bytea: bound as PostgreSQL's own text form (not base64, as a column's value is);
        # every bytea value reads back.
        return
    if kind is Kind.JSON:
        if isinstance(value, str):  # JSON text (objects and arrays came parsed, and checked)
            try:
                jsonin.loads(value, max_depth=sys.maxsize)
            except jsonin.JsonInputError as exc:
                raise InvalidValue(f"invalid value for argument {name}: {exc}") from None
        return
    if isinstance(value, (dict, list)):
        return  # refused by argument_text: objects and arrays are for JSON arguments
    try:
        values.from_json(kind, value, name)
    except InvalidValue:
        raise InvalidValue(
            f"invalid value for argument {name}: expected {values.EXPECTED.get(kind, 'a value')}"
        ) from None
