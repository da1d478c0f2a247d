"""The query guard: any application SQL plus the current user in, guarded SQL out.

::

    guard = Guard(policies=[Policy("todos", "all", "user_id = auth_user.id")],
                  dialect="sqlite", schema={"todos": ["id", "user_id", "title"]})
    stmt = guard.rewrite("SELECT * FROM todos t WHERE t.title LIKE ?", AuthUser(id=42), params=("a%",))
    cursor.execute(stmt.sql, stmt.params)

A repeated statement costs a dictionary lookup and the binding of its parameters; the
parse and rewrite happen once per (SQL text, class of user, policy and schema version).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify_columns import qualify_columns, validate_qualify_columns
from sqlglot.schema import MappingSchema

from dialects import dialect_for_url, get_dialect
from dialects.base import Dialect
from rls.auth.principal import ANONYMOUS, AuthUser
from rls.cache import BoundedCache
from rls.database import Database
from rls.emit import Emitted, emit, placeholder
from rls.errors import Denied, Refused, RlsError
from rls.guard.inject import is_cte_reference
from rls.guard.params import POSITIONAL, extract_params
from rls.guard.refuse import check_statement
from rls.guard.rewrite import rewrite_statement
from rls.policy.compile import CLAIM_PARAM_PREFIX, USER_ID_PARAM, Predicate, UserClass, claim_value
from rls.policy.engine import PolicyEngine, denial
from rls.policy.model import Policy
from rls.policy.store import PolicySet, PolicyStore
from rls.schema import Schema, Table


class Query(NamedTuple):
    """SQL for the driver and its parameters, in the driver's positional style."""

    sql: str
    params: tuple[Any, ...]


class Statement(NamedTuple):
    """The guarded statement. Run every query in ``checks`` first, in the same
    transaction: a row whose first column is not 0 means the write is denied
    (:func:`rls.connect` does this for you)."""

    sql: str
    params: tuple[Any, ...]
    checks: tuple[Query, ...] = ()


# Where each driver parameter comes from, resolved once per compiled statement.
_FROM_PARAMS, _USER_ID, _CLAIM = 0, 1, 2
Slot = tuple[int, Any]


def _slots(names: tuple[str, ...]) -> tuple[Slot, ...]:
    slots: list[Slot] = []
    for name in names:
        if name.startswith("u") and name[1:].isdigit():
            slots.append((_FROM_PARAMS, int(name[1:])))
        elif name.startswith("n_"):
            slots.append((_FROM_PARAMS, name[2:]))
        elif name == USER_ID_PARAM:
            slots.append((_USER_ID, None))
        elif name.startswith(CLAIM_PARAM_PREFIX):
            slots.append((_CLAIM, name[len(CLAIM_PARAM_PREFIX) :]))
        else:  # pragma: no cover - emit only produces the names above
            raise Refused(f"unknown parameter {name}")
    return tuple(slots)


def _bind(slots: tuple[Slot, ...], params: Any, user: AuthUser) -> tuple[Any, ...]:
    out = []
    for source, key in slots:
        if source == _FROM_PARAMS:
            out.append(params[key])
        elif source == _USER_ID:
            out.append(user.id)
        else:
            out.append(claim_value(user, key))
    return tuple(out)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    slots: tuple[Slot, ...]
    checks: tuple[tuple[str, tuple[Slot, ...]], ...]
    positional: int
    named: frozenset[str]


class Guard:
    """Rewrites statements under row-level security policies.

    Args:
        policies: the policy rows (as in auth_policies), or a callable returning the
            current :class:`PolicySet` (used by :meth:`from_url`).
        dialect: ``sqlite``, ``postgres`` or ``mysql``.
        schema: a :class:`Schema`, ``{"table": ["col", …]}``, or a callable returning
            ``(version, Schema)``.
        fence: keep the database from evaluating a statement's own conditions on rows a
            policy hides (see DESIGN.md §4.4). Turn off only if no condition can fail.
    """

    def __init__(
        self,
        policies: Iterable[Policy] | Callable[[], PolicySet] = (),
        *,
        dialect: str | Dialect = "sqlite",
        schema: Schema | Mapping[str, Iterable[str]] | Callable[[], tuple[int, Schema]] | None = None,
        fence: bool = True,
        cache_size: int = 4096,
    ):
        self.dialect = get_dialect(dialect) if isinstance(dialect, str) else dialect
        if callable(policies):
            policy_source = policies
        else:
            fixed = PolicySet(1, tuple(policies))
            policy_source = lambda: fixed  # noqa: E731
        if callable(schema):
            schema_source = schema
        else:
            fixed_schema = schema if isinstance(schema, Schema) else Schema.from_columns(schema or {})
            schema_source = lambda: (1, fixed_schema)  # noqa: E731
        self._schema = schema_source
        self.engine = PolicyEngine(policy_source, schema_source, self.dialect, cache_size=cache_size)
        self.fence = fence
        self._cache: BoundedCache[_Compiled] = BoundedCache(cache_size)
        self._database: Database | None = None
        self._sqlglot_schema: tuple[int, MappingSchema] | None = None

    @classmethod
    def from_url(cls, url: str, *, refresh_interval: float = 1.0, **options: Any) -> Guard:
        """A guard over the database at ``url``: policies from auth_policies (re-read at
        most every ``refresh_interval`` seconds) and the live schema."""
        db = Database(url)
        store = PolicyStore(db, interval=refresh_interval)
        guard = cls(
            store.current, dialect=dialect_for_url(url), schema=lambda: (db.schema_version, db.schema()), **options
        )
        guard._database = db
        return guard

    def close(self) -> None:
        if self._database is not None:
            self._database.close()

    def error_for(self, exc: BaseException, user: AuthUser = ANONYMOUS) -> RlsError | None:
        """The rls error for a driver exception raised while running a guarded statement:
        the denial when the statement aborted itself because a row failed a WITH CHECK
        policy, else the dialect's mapping (None when it is not a database error)."""
        if self.dialect.is_policy_violation(exc):
            return denial(user)
        return self.dialect.to_error(exc)

    # -- rewriting --------------------------------------------------------------------

    def rewrite(
        self, sql: str, user: AuthUser = ANONYMOUS, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> Statement:
        """Guard ``sql`` for ``user``; raises :class:`Refused` or :class:`Denied`."""
        user_class = UserClass.of(user)
        key = (sql, user_class.value, self.engine.version)  # .value: an enum hashes in Python
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = self._cache.get_or_build(key, lambda: self._compile(sql, user_class, user))
        values = _check_params(compiled, params)
        if not compiled.checks:
            return Statement(compiled.sql, _bind(compiled.slots, values, user))
        checks = tuple(Query(sql, _bind(slots, values, user)) for sql, slots in compiled.checks)
        return Statement(compiled.sql, _bind(compiled.slots, values, user), checks)

    def _compile(self, sql: str, user_class: UserClass, user: AuthUser) -> _Compiled:
        user_params = extract_params(sql, self.dialect)
        root = self._parse(user_params.text)
        check_statement(root)
        _rename_placeholders(root, user_params.positional, user_params.named)
        root = normalize_identifiers(root, dialect=self.dialect.SQLGLOT)
        for table in root.find_all(exp.Table):
            if not is_cte_reference(table, always_recursive=self.dialect.CTES_ALWAYS_RECURSIVE):
                self._lookup(table.name)  # unknown tables first: their columns cannot resolve
        self._check_columns(root)
        rewritten = rewrite_statement(
            root, self._lookup, lambda t, a: self._predicate(t, a, user_class, user), self.dialect, fence=self.fence
        )
        main = emit(rewritten.tree, self.dialect)
        _verify_reparse(rewritten.tree, main, self.dialect)
        checks = tuple((e.sql, _slots(e.names)) for e in (emit(c, self.dialect) for c in rewritten.checks))
        return _Compiled(main.sql, _slots(main.names), checks, user_params.positional, user_params.named)

    def _parse(self, text: str) -> exp.Expr:
        try:
            trees = [t for t in sqlglot.parse(text, read=self.dialect.SQLGLOT) if t is not None]
        except (ParseError, TokenError) as exc:
            raise Refused(f"statement does not parse: {str(exc).strip().splitlines()[0][:200]}") from None
        trees = [t for t in trees if not isinstance(t, exp.Semicolon)]
        if len(trees) != 1:
            raise Refused("exactly one statement is allowed")
        return trees[0]

    def _check_columns(self, root: exp.Expr) -> None:
        """Every column must resolve against the schema (checked on a copy: sqlglot's
        qualification rewrites the tree it works on)."""
        version, schema = self._schema()
        if self._sqlglot_schema is None or self._sqlglot_schema[0] != version:
            mapping: dict[str, object] = {
                t.name: {c.name: c.type or "unknown" for c in t.columns.values()} for t in schema.tables.values()
            }
            self._sqlglot_schema = (version, MappingSchema(mapping, dialect=self.dialect.SQLGLOT))
        try:
            qualified = qualify_columns(root.copy(), schema=self._sqlglot_schema[1], dialect=self.dialect.SQLGLOT)
            validate_qualify_columns(qualified)
        except OptimizeError as exc:
            raise Refused(str(exc).split(". Line")[0]) from None

    def _lookup(self, name: str) -> Table:
        schema = self._schema()[1]
        if name not in schema and self._database is not None:
            # A table created after the schema was read: re-read it (rate-limited).
            try:
                return self._database.table(name)
            except RlsError:
                schema = self._schema()[1]
        if name in schema:
            return schema.table(name)
        if self.dialect.CASE_INSENSITIVE_NAMES:
            for candidate in schema.tables.values():
                if candidate.name.lower() == name.lower():
                    return candidate
        raise Refused(f"unknown table: {name}")

    def _predicate(self, table: Table, action: str, user_class: UserClass, user: AuthUser) -> Predicate:
        if not self.engine.has_policy(table.name, action):
            raise Refused(f"no policy for {action} on {table.name}")
        predicate = self.engine.predicate(table, action, user_class).predicate
        if predicate.denied:
            raise denial(user)
        return predicate


def _rename_placeholders(root: exp.Expr, positional: int, named: frozenset[str]) -> None:
    seen: set[str] = set()
    for node in list(root.find_all(exp.Placeholder)):
        name = node.name
        if re.fullmatch(rf"{POSITIONAL}\d+", name) and int(name[len(POSITIONAL) :]) < positional:
            if name in seen:
                raise Refused("placeholder used twice")
            seen.add(name)
            node.replace(placeholder(f"u{name[len(POSITIONAL) :]}"))
        elif name in named:
            node.replace(placeholder(f"n_{name}"))
        else:
            raise Refused(f"unexpected placeholder in statement: {name or '?'}")
    if len(seen) != positional:
        raise Refused("a placeholder sits where the statement cannot take one (inside a string?)")


def _check_params(compiled: _Compiled, params: Sequence[Any] | Mapping[str, Any] | None) -> Any:
    if compiled.named:
        if not isinstance(params, Mapping) or not compiled.named <= params.keys():
            raise Refused(f"statement needs named parameters: {', '.join(sorted(compiled.named))}")
        return params
    values = () if params is None else params
    # tuple and list first: the isinstance check against Mapping costs more than the rest.
    if (type(values) not in (tuple, list) and isinstance(values, Mapping)) or len(values) != compiled.positional:
        raise Refused(
            f"statement has {compiled.positional} placeholders, got {0 if params is None else len(params)} parameters"
        )
    return values


_MARKERS = re.compile(r"%%|%s|\?")


def _verify_reparse(tree: exp.Expr, emitted: Emitted, dialect: Dialect) -> None:
    """Parse what will be sent and compare its table references with the guarded tree:
    a generator that dropped or added a relation would be caught here."""
    text = (
        _MARKERS.sub(lambda m: "%" if m.group() == "%%" else "NULL", emitted.sql)
        if dialect.ESCAPE_PERCENT
        else emitted.sql.replace("?", "NULL")
    )
    try:
        reparsed = sqlglot.parse_one(text, read=dialect.SQLGLOT)
    except (ParseError, TokenError):
        raise Refused("the guarded statement does not parse back (internal error)") from None
    before = sorted(t.name for t in tree.find_all(exp.Table))
    after = sorted(t.name for t in reparsed.find_all(exp.Table))
    if before != after or type(reparsed) is not type(tree):
        raise Refused("the guarded statement does not match its rewrite (internal error)")


__all__ = ["Denied", "Guard", "Query", "Refused", "Statement"]
