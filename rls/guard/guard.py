"""The query guard: any application SQL plus the current user in, guarded SQL out.

::

    guard = Guard(policies=[Policy("todos", "all", "user_id = auth_user.id")],
                  dialect="sqlite", schema={"todos": ["id", "user_id", "title"]})
    stmt = guard.rewrite("SELECT * FROM todos t WHERE t.title LIKE ?", AuthUser(id=42), params=("a%",))
    cursor.execute(stmt.sql, stmt.params)

The pipeline, each step a pass of its own module: parse (one statement, comments and meta
stripped) → check every node, argument and leaf against the allow-list
(:mod:`~rls.guard.allow`) → normalise identifiers → resolve every relation and column
(:mod:`~rls.guard.scope`) → rewrite: rename CTEs, wrap reads, guard the write
(:mod:`~rls.guard.rewrite`) → emit → parse the output back and compare it node for node
(:mod:`~rls.guard.verify`).

A repeated statement costs a dictionary lookup and the binding of its parameters; the
pipeline runs once per (SQL text, class of user, with or without parameters, policy and
schema version).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from dialects import dialect_for_url, get_dialect
from dialects.base import Dialect
from rls.auth.principal import ANONYMOUS, AuthUser
from rls.cache import BoundedCache
from rls.database import Database
from rls.emit import emit, placeholder
from rls.errors import Denied, Refused, RlsError
from rls.guard.allow import RESERVED_PREFIX, check_statement
from rls.guard.locking import check_locks, push_locks
from rls.guard.params import POSITIONAL, extract_params, parse_statement
from rls.guard.passthrough import classify
from rls.guard.rewrite import rewrite_statement
from rls.guard.scope import NameRules, Resolver
from rls.guard.verify import verify_emitted
from rls.policy.compile import (
    CLAIM_PARAM_PREFIX,
    KIND_SEPARATOR,
    USER_ID_PARAM,
    Pattern,
    Predicate,
    UserClass,
    claim_value,
    parameter_kind,
    typed_value,
)
from rls.policy.engine import PolicyEngine, denial
from rls.policy.model import Policy
from rls.policy.store import PolicySet, PolicyStore
from rls.schema import Kind, Schema, Table


class Query(NamedTuple):
    """SQL for the driver and its parameters, in the driver's positional style."""

    sql: str
    params: tuple[Any, ...]


class Statement(NamedTuple):
    """The guarded statement, ready for ``cursor.execute(stmt.sql, stmt.params)``.

    It enforces every policy itself: a row that fails a WITH CHECK policy makes the
    statement raise a database error and write nothing (:meth:`Guard.error_for` turns
    that error into :class:`rls.Denied`). ``hidden_columns`` is the number of RETURNING
    columns rls added that the caller did not ask for (an INSERT under a create policy: 1,
    the check; 2 on MariaDB, the check and the row's key, for ``lastrowid`` —
    :func:`rls.guard.writes.written_key`): each written row then comes back with them, last
    — read and drop those rows (:func:`rls.connect` does). ``checks`` is always empty; it
    stays for compatibility.
    """

    sql: str
    params: tuple[Any, ...]
    checks: tuple[Query, ...] = ()
    hidden_columns: int = 0


# Where each driver parameter comes from, resolved once per compiled statement:
# (source, key, kind) — a parameter of the statement by index or name, the user's id, or
# a claim by name; ``kind`` is the column kind a principal value is compared with.
_FROM_PARAMS, _USER_ID, _CLAIM = 0, 1, 2
Slot = tuple[int, Any, Kind | Pattern | None]


def _slots(names: tuple[str, ...]) -> tuple[Slot, ...]:
    slots: list[Slot] = []
    for name in names:
        if name.startswith("u") and name[1:].isdigit():
            slots.append((_FROM_PARAMS, int(name[1:]), None))
        elif name.startswith("n_"):
            slots.append((_FROM_PARAMS, name[2:], None))
        elif name.startswith(RESERVED_PREFIX):
            base, _, kind = name.partition(KIND_SEPARATOR)
            typed = parameter_kind(kind)
            if base == USER_ID_PARAM:
                slots.append((_USER_ID, None, typed))
            else:
                slots.append((_CLAIM, base[len(CLAIM_PARAM_PREFIX) :], typed))
        else:  # pragma: no cover - emit only produces the names above
            raise Refused(f"unknown parameter {name}")
    return tuple(slots)


def _bind(slots: tuple[Slot, ...], params: Any, user: AuthUser) -> tuple[Any, ...]:
    out = []
    for source, key, kind in slots:
        if source == _FROM_PARAMS:
            out.append(params[key])
        elif source == _USER_ID:
            out.append(typed_value(user.id, kind))
        else:
            out.append(typed_value(claim_value(user, key), kind))
    return tuple(out)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    slots: tuple[Slot, ...]
    positional: int
    named: frozenset[str]
    hidden_columns: int = 0
    typed_params: tuple[tuple[Any, tuple[type, ...]], ...] = ()
    """Parameters that keep the statement leakproof only with a value of these types."""


class Guard:
    """Rewrites statements under row-level security policies.

    Args:
        policies: the policy rows (as in auth_policies), or a callable returning the
            current :class:`PolicySet` (used by :meth:`from_url`).
        dialect: ``sqlite``, ``postgres`` or ``mysql`` (or a :class:`dialects.base.Dialect`);
            required — the same SQL text means different things on each database.
        schema: a :class:`Schema`, ``{"table": ["col", …]}``, or a callable returning
            ``(version, Schema)``.
        fence: keep the database from evaluating a statement's own conditions on rows a
            policy hides (see DESIGN.md §4.4). Turn off only if no condition can fail.
        max_sql_length, max_nodes: statements longer (characters) or larger (syntax tree
            nodes) are refused: a rewrite's cost grows with its statement, and a cold
            rewrite must stay well under 100 ms.
        introspection: let the catalog reads ORMs use for reflection run unchanged
            (names and types only; see :mod:`rls.guard.passthrough`). Off by default.
        owner_fill: an INSERT that leaves the owner column of a create policy
            ``col = auth_user.id`` out, or gives it as NULL, gets the user's id there.
    """

    def __init__(
        self,
        policies: Iterable[Policy] | Callable[[], PolicySet] = (),
        *,
        dialect: str | Dialect,
        schema: Schema | Mapping[str, Iterable[str]] | Callable[[], tuple[int, Schema]] | None = None,
        fence: bool = True,
        cache_size: int = 4096,
        max_sql_length: int = 65536,
        max_nodes: int = 1500,
        introspection: bool = False,
        owner_fill: bool = False,
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
        self.max_sql_length = max_sql_length
        self.max_nodes = max_nodes
        # Read-only after construction: compiled statements are cached without them.
        self._introspection = introspection
        self._owner_fill = owner_fill
        self._cache: BoundedCache[_Compiled] = BoundedCache(cache_size)
        self._database: Database | None = None

    @property
    def introspection(self) -> bool:
        """Whether catalog reads pass through (:mod:`rls.guard.passthrough`)."""
        return self._introspection

    @property
    def owner_fill(self) -> bool:
        """Whether an INSERT's absent or NULL owner column gets the user's id."""
        return self._owner_fill

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
        """Close the database a guard made by :meth:`from_url` reads its policies from."""
        if self._database is not None:
            self._database.close()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def error_for(self, exc: BaseException, user: AuthUser = ANONYMOUS) -> RlsError | None:
        """The rls error for a driver exception raised while running a guarded statement:
        the denial when the statement aborted itself because a row failed a WITH CHECK
        policy, else the dialect's mapping (None when it is not a database error)."""
        if self.dialect.is_policy_violation(exc):
            return denial(user)
        return self.dialect.to_error(exc)

    # -- rewriting --------------------------------------------------------------------

    def rewrite(
        self,
        sql: str | Any,
        user: AuthUser = ANONYMOUS,
        params: Sequence[Any] | Mapping[str, Any] | None = None,
        *,
        render: Callable[[Any], str] | None = None,
    ) -> Statement:
        """Guard ``sql`` for ``user``; raises :class:`Refused` or :class:`Denied`.

        ``params`` follow the driver: ``None``, ``()``, ``[]`` and ``{}`` mean no
        parameters, and then the text holds no placeholders (a ``%`` is literal).
        ``sql`` may be a query object the driver renders (``psycopg.sql.Composable``):
        ``render(sql)`` turns it into text first (by default its ``as_string(None)``).
        Transaction control and the session statements of
        :mod:`rls.guard.passthrough` come back unchanged.
        """
        if not isinstance(sql, str):
            sql = _render(sql, render)
        try:
            has_params = bool(params)
        except Exception:  # noqa: BLE001 - an object whose truth value fails is no parameter list
            raise Refused("parameters must be a sequence or a mapping") from None
        # The class of user as a plain int: an enum costs more to hash than the rest.
        user_class = 0 if user.id is None else 2 if user.is_admin else 1
        key = (sql, user_class, has_params, self.engine.version)
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = self._cache.get_or_build(key, lambda: self._compile(sql, user, has_params))
        values = _check_params(compiled, params)
        if compiled.typed_params and not _typed(compiled, values):
            # A value of another type than its column could raise on a hidden row: the
            # statement is compiled again without trusting any parameter.
            untrusted = (*key, "untrusted")
            compiled = self._cache.get_or_build(untrusted, lambda: self._compile(sql, user, has_params, trust=False))
        return Statement(compiled.sql, _bind(compiled.slots, values, user), (), compiled.hidden_columns)

    def _compile(self, sql: str, user: AuthUser, has_params: bool, *, trust: bool = True) -> _Compiled:
        if not isinstance(sql, str):
            raise Refused("the statement must be a string (render psycopg.sql objects first)")
        if len(sql) > self.max_sql_length:
            raise Refused(f"statement too long: {len(sql)} characters (limit {self.max_sql_length})")
        if classify(sql, self.dialect.name, introspection=self.introspection) is not None:
            # Carries no row data (transaction control, a session probe): runs as written.
            return _Compiled(sql, (), 0, frozenset())
        try:
            return self._compile_checked(sql, user, has_params, trust=trust)
        except RecursionError:
            raise Refused("statement nested too deeply") from None

    def _compile_checked(self, sql: str, user: AuthUser, has_params: bool, *, trust: bool) -> _Compiled:
        user_class = UserClass.of(user)
        user_params = extract_params(sql, self.dialect, has_params=has_params)
        root = parse_statement(user_params.text, self.dialect)
        size = sum(1 for _ in root.walk())
        if size > self.max_nodes:
            raise Refused(f"statement too large: {size} syntax nodes (limit {self.max_nodes})")
        names = frozenset({f"{POSITIONAL}{i}" for i in range(user_params.positional)} | user_params.named)
        check_statement(root, self.dialect.GUARD_FUNCTIONS, names, self.dialect.GUARD_UNSUPPORTED)
        check_locks(root, self.dialect.SQLGLOT)
        # Work on sqlglot's own reading of what it will print: the statement printed and
        # parsed once (checked again), so what the guard analyses, rewrites and verifies is
        # the form the database receives, not the input's spelling of it.
        root = parse_statement(emit(root, self.dialect, markers=False).sql, self.dialect)
        check_statement(root, self.dialect.GUARD_FUNCTIONS, names, self.dialect.GUARD_UNSUPPORTED)
        _rename_placeholders(root, user_params.positional, user_params.named)
        if not self.dialect.CASE_INSENSITIVE_NAMES:
            root = normalize_identifiers(root, dialect=self.dialect.SQLGLOT)
        resolution = Resolver(self._lookup, self._rules).statement(root)
        rewritten = rewrite_statement(
            root,
            resolution,
            lambda t, a: self._predicate(t, a, user_class, user),
            self.dialect,
            fence=self.fence,
            trust_params=trust,
            owner_fill=self.owner_fill,
        )
        if self.dialect.LOCK_INSIDE_POLICY_SUBQUERY:
            push_locks(rewritten.tree, rewritten.built)
        for identifier in rewritten.tree.find_all(exp.Identifier):
            # Every name is emitted quoted, exactly as resolved (PostgreSQL's folding
            # already applied above): the database cannot read it as a keyword or a function.
            identifier.set("quoted", True)
        emitted = emit(rewritten.tree, self.dialect)
        verify_emitted(rewritten.tree, emitted, self.dialect)
        return _Compiled(
            emitted.sql,
            _slots(emitted.names),
            user_params.positional,
            user_params.named,
            rewritten.hidden_columns,
            self._typed_params(rewritten.param_kinds) if trust else (),
        )

    def _typed_params(self, kinds: Mapping[str, Kind]) -> tuple[tuple[Any, tuple[type, ...]], ...]:
        accepted = self.dialect.PARAM_TYPES
        if accepted is None:
            return ()
        out = []
        for marker, kind in kinds.items():
            name = marker[1:-1] if len(marker) > 2 and marker[0] == marker[-1] == "\x00" else None
            if name is None or kind not in accepted:
                continue
            source, key, _ = _slots((name,))[0]
            if source == _FROM_PARAMS:
                out.append((key, accepted[kind]))
        return tuple(out)

    @property
    def _rules(self) -> NameRules:
        d = self.dialect
        return NameRules(d.CASE_INSENSITIVE_NAMES, d.CASE_INSENSITIVE_COLUMNS, d.CTE_FORWARD_REFERENCES,
                         d.CTES_ALWAYS_RECURSIVE, d.ALIAS_CLAUSES)  # fmt: skip

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
    """The application's placeholders become rls's own named ones (bound by slot)."""
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


def _render(sql: Any, render: Callable[[Any], str] | None) -> str:
    """The text of a driver query object (``psycopg.sql.Composable``), never a guess."""
    if render is not None:
        text = render(sql)
    elif callable(getattr(sql, "as_string", None)):
        text = sql.as_string(None)
    else:
        raise Refused(f"a statement must be text, not {type(sql).__name__}")
    if not isinstance(text, str):
        raise Refused("a rendered statement must be text")
    return text


def _check_params(compiled: _Compiled, params: Sequence[Any] | Mapping[str, Any] | None) -> Any:
    if params is not None and (not isinstance(params, (Sequence, Mapping)) or isinstance(params, (str, bytes))):
        raise Refused(f"parameters must be a sequence or a mapping, not {type(params).__name__}")
    if compiled.named:
        if not isinstance(params, Mapping) or not compiled.named <= params.keys():
            raise Refused(f"statement needs named parameters: {', '.join(sorted(compiled.named))}")
        return params
    values = () if params is None else params
    # tuple and list first: the isinstance check against Mapping costs more than the rest.
    if type(values) not in (tuple, list) and isinstance(values, Mapping):
        if values:
            raise Refused("this statement takes positional parameters")
        values = ()
    if len(values) != compiled.positional:
        raise Refused(f"statement has {compiled.positional} placeholders, got {len(values)} parameters")
    return values


def _typed(compiled: _Compiled, values: Any) -> bool:
    return all(values[key] is None or type(values[key]) in types for key, types in compiled.typed_params)


__all__ = ["Denied", "Guard", "Query", "Refused", "Statement"]
