"""The cache in front of REST compilation: one plan per request shape, never per value."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from dialects.base import Dialect
from rls.cache import BoundedCache
from rls.policy.compile import both
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
        limit: int | None = None,
    ) -> Plan:
        """A read's plan; ``tree`` holds its embedded resources, whose key (tables,
        relationships, every embedded table's policy decision key, embedded orders) joins
        the cache key, as does ``limit``, the page size the statement is written with."""
        using = decision.predicate if decision else None
        action = "count" if query.count else "read"
        key = (version, table.name, action, query.shape, decision and decision.key, tree and tree.key, limit)
        plan = self.cache.hit(key)
        if plan is not None:
            return plan
        if query.count:
            return self._plan(key, lambda: compile.compile_count(table, query, self.dialect, using, tree))
        return self._plan(key, lambda: compile.compile_read(table, query, self.dialect, using, tree, limit))

    def insert(
        self,
        version: int,
        table: Table,
        columns: tuple[str, ...],
        decision: Decision | None = None,
        *,
        returning: str | None = None,
        read: Decision | None = None,
        upsert: compile.Upsert | None = None,
        update: Decision | None = None,
        shown: Table | None = None,
    ) -> Plan:
        """``returning``: the select the rows written are handed back with (``*``: all
        columns; None: nothing handed back). The rows handed back must pass ``read`` and —
        an upsert's — ``update``, as PostgreSQL's RLS requires of INSERT … RETURNING and ON
        CONFLICT DO UPDATE: the statement aborts on a row that fails them. ``shown``: the
        table as the request sees it (hidden columns gone), which ``returning`` selects from."""
        create = decision.predicate if decision else None
        owners = create.owner_columns if create else None
        check = create
        if returning is not None:
            check = both(check, read.predicate if read else None)
        update_using = None
        if upsert is not None and upsert.merge:
            policy = update.predicate if update else None
            check = both(check, policy)
            update_using = both(policy, read.predicate if read else None)
        key = (version, table.name, "create", columns, decision and decision.key, returning, upsert,
               read and read.key, update and update.key)  # fmt: skip

        def build() -> Plan:
            returned = None if returning is None else compile.returned_items(shown or table, returning, self.dialect)
            return compile.compile_insert(
                table, columns, self.dialect, check, owners, returned, upsert, update_using, create
            )

        return self._plan(key, build)

    def update(
        self,
        version: int,
        table: Table,
        columns: tuple[str, ...],
        query: RestQuery,
        decision: Decision | None = None,
        read: Decision | None = None,
        returning: str | None = None,
        shown: Table | None = None,
    ) -> Plan:
        # PostgreSQL's rule for one policy expression: it is both USING and WITH CHECK. The
        # filters read the rows, so (as PostgreSQL does) the read policy chooses them too;
        # rows handed back must be readable in their new version.
        policy = decision.predicate if decision else None
        using = both(policy, read.predicate if read else None)
        check = policy if returning is None else both(policy, read.predicate if read else None)
        key = (version, table.name, "update", columns, query.shape, decision and decision.key, read and read.key,
               returning)  # fmt: skip

        def build() -> Plan:
            returned = None if returning is None else compile.returned_items(shown or table, returning, self.dialect)
            return compile.compile_update(table, columns, query, self.dialect, using, check, returned)

        return self._plan(key, build)

    def delete(
        self,
        version: int,
        table: Table,
        query: RestQuery,
        decision: Decision | None = None,
        read: Decision | None = None,
        returning: str | None = None,
    ) -> Plan:
        using = both(decision.predicate if decision else None, read.predicate if read else None)
        key = (version, table.name, "delete", query.shape, decision and decision.key, read and read.key, returning)

        def build() -> Plan:
            returned = None if returning is None else compile.returned_items(table, returning, self.dialect)
            return compile.compile_delete(table, query, self.dialect, using, returned)

        return self._plan(key, build)

    def locked_keys(
        self, version: int, table: Table, query: RestQuery, decision: Decision | None, read: Decision | None
    ) -> Plan:
        """The keys of the rows :meth:`update` (same arguments) will touch, locked."""
        using = both(decision.predicate if decision else None, read.predicate if read else None)
        key = (version, table.name, "locked_keys", query.shape, decision and decision.key, read and read.key)
        return self._plan(key, lambda: compile.compile_locked_keys(table, query, self.dialect, using))

    def read_back(self, version: int, table: Table, returning: str, keys: int, read: Decision | None) -> Plan:
        """Rows read back by ``keys`` primary keys, under the read policy."""
        key = (version, table.name, "read_back", returning, keys, read and read.key)

        def build() -> Plan:
            returned = compile.returned_items(table, returning, self.dialect)
            return compile.compile_read_back(table, returned, keys, self.dialect, read.predicate if read else None)

        return self._plan(key, build)
