"""The cache in front of REST compilation: one plan per request shape, never per value."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from sqlglot import exp

from dialects.base import Dialect
from rls.cache import BoundedCache
from rls.policy.compile import Predicate
from rls.policy.engine import Decision
from rls.rest import plan as compile
from rls.rest.embed import SelectTree
from rls.rest.plan import Plan
from rls.rest.query import RestQuery
from rls.schema import Table


class RestCompiler:
    """Compiles REST requests for one database and remembers the result per shape.

    The key holds the schema version, the table, the action, the query's shape (filter
    columns and operators, select, order, paging flags), the body's columns and the
    policy decision's key (policy set version, class of user) — never a value.
    """

    def __init__(self, dialect: Dialect, *, size: int = 4096):
        self.dialect = dialect
        self.cache: BoundedCache[Plan] = BoundedCache(size)

    def _plan(self, key: Hashable, build: Callable[[], Plan]) -> Plan:
        return self.cache.get_or_build(key, build)

    def read(
        self,
        version: int,
        table: Table,
        query: RestQuery,
        decision: Decision | None = None,
        tree: SelectTree | None = None,
    ) -> Plan:
        """A read's plan; ``tree`` holds its embedded resources, whose key (tables,
        relationships, every embedded table's policy decision key, embedded orders) joins
        the cache key."""
        using = decision.predicate if decision else None
        action = "count" if query.count else "read"
        key = (version, table.name, action, query.shape, decision and decision.key, tree and tree.key)
        if query.count:
            return self._plan(key, lambda: compile.compile_count(table, query, self.dialect, using, tree))
        return self._plan(key, lambda: compile.compile_read(table, query, self.dialect, using, tree))

    def insert(self, version: int, table: Table, columns: tuple[str, ...], decision: Decision | None = None) -> Plan:
        check = decision.predicate if decision else None
        owners = check.owner_columns if check else None
        key = (version, table.name, "create", columns, decision and decision.key)
        return self._plan(key, lambda: compile.compile_insert(table, columns, self.dialect, check, owners))

    def update(
        self,
        version: int,
        table: Table,
        columns: tuple[str, ...],
        query: RestQuery,
        decision: Decision | None = None,
        read: Decision | None = None,
    ) -> Plan:
        # PostgreSQL's rule for one policy expression: it is both USING and WITH CHECK. The
        # filters read the rows, so (as PostgreSQL does) the read policy chooses them too.
        policy = decision.predicate if decision else None
        using = both(policy, read.predicate if read else None)
        key = (version, table.name, "update", columns, query.shape, decision and decision.key, read and read.key)
        return self._plan(key, lambda: compile.compile_update(table, columns, query, self.dialect, using, policy))

    def delete(
        self,
        version: int,
        table: Table,
        query: RestQuery,
        decision: Decision | None = None,
        read: Decision | None = None,
    ) -> Plan:
        using = both(decision.predicate if decision else None, read.predicate if read else None)
        key = (version, table.name, "delete", query.shape, decision and decision.key, read and read.key)
        return self._plan(key, lambda: compile.compile_delete(table, query, self.dialect, using))


def both(first: Predicate | None, second: Predicate | None) -> Predicate | None:
    """Rows that pass both predicates (None or a predicate without a node lets all through)."""
    if first is None or first.node is None:
        return second
    if second is None or second.node is None or second.node.sql() == first.node.sql():
        return first
    return Predicate(exp.and_(first.node.copy(), second.node.copy(), copy=False))
