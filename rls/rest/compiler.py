"""The cache in front of REST compilation: one plan per request shape, never per value."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from dialects.base import Dialect
from rls.cache import LRUCache
from rls.rest import plan as compile
from rls.rest.plan import Plan, Transform
from rls.rest.query import RestQuery
from rls.schema import Table


class RestCompiler:
    """Compiles REST requests for one database and remembers the result per shape.

    The key holds the schema version, the table, the action, the query's shape (filter
    columns and operators, select, order, paging flags), the body's columns, and the
    caller's ``policy_key``: the policy layer's description of what it injects.
    """

    def __init__(self, dialect: Dialect, *, size: int = 4096):
        self.dialect = dialect
        self.cache: LRUCache[Plan] = LRUCache(size)

    def _plan(self, key: Hashable, build: Callable[[], Plan]) -> Plan:
        return self.cache.get_or_build(key, build)

    def read(
        self,
        version: int,
        table: Table,
        query: RestQuery,
        policy_key: Hashable = None,
        transforms: Sequence[Transform] = (),
    ) -> Plan:
        key = (version, table.name, "count" if query.count else "read", query.shape, policy_key)
        if query.count:
            return self._plan(key, lambda: compile.compile_count(table, query, self.dialect, transforms))
        return self._plan(key, lambda: compile.compile_read(table, query, self.dialect, transforms))

    def insert(
        self,
        version: int,
        table: Table,
        columns: tuple[str, ...],
        policy_key: Hashable = None,
        transforms: Sequence[Transform] = (),
    ) -> Plan:
        key = (version, table.name, "create", columns, policy_key)
        return self._plan(key, lambda: compile.compile_insert(table, columns, self.dialect, transforms))

    def update(
        self,
        version: int,
        table: Table,
        columns: tuple[str, ...],
        query: RestQuery,
        policy_key: Hashable = None,
        transforms: Sequence[Transform] = (),
    ) -> Plan:
        key = (version, table.name, "update", columns, query.shape, policy_key)
        return self._plan(key, lambda: compile.compile_update(table, columns, query, self.dialect, transforms))

    def delete(
        self,
        version: int,
        table: Table,
        query: RestQuery,
        policy_key: Hashable = None,
        transforms: Sequence[Transform] = (),
    ) -> Plan:
        key = (version, table.name, "delete", query.shape, policy_key)
        return self._plan(key, lambda: compile.compile_delete(table, query, self.dialect, transforms))
