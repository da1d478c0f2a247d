"""Locking clauses (``FOR UPDATE``, ``FOR SHARE``, ``FOR NO KEY UPDATE``, ``NOWAIT``,
``SKIP LOCKED``): a guarded statement locks only rows its policy sub-queries return.

* PostgreSQL applies a locking clause of a query to the rows of every sub-query in its
  FROM ("if a locking clause is applied to a view or sub-query, it affects all tables used
  in the view or sub-query"), so the clause stays where the application wrote it: it locks
  rows of ``(SELECT * FROM t AS rls_t WHERE <policy>)`` — never a hidden row. When the
  statement needs a fence (DESIGN.md §4.4) the sub-query is not merged into the query and
  every row the policy (and the statement's leakproof conditions) returns is locked.
* MariaDB ignores a locking clause for the rows of a derived table (measured: ``SELECT *
  FROM (SELECT * FROM t WHERE …) AS t FOR UPDATE`` locks nothing), so the clause is copied
  into each policy sub-query of the locking SELECT's FROM and JOINs
  (``Dialect.LOCK_INSIDE_POLICY_SUBQUERY``). Under REPEATABLE READ InnoDB keeps a lock on
  every row it scans, so rows the policy hides can be locked too (never returned) when the
  plan scans them; under READ COMMITTED it releases the rows the WHERE rejects — use READ
  COMMITTED for transactions that lock (tests/test_orm_sqlalchemy.py measures it).
* SQLite has no locking clauses: refused (sqlglot would silently drop them).
* MariaDB spells a shared lock ``LOCK IN SHARE MODE``; sqlglot prints MySQL 8's ``FOR
  SHARE``, which MariaDB rejects with a syntax error (nothing runs).

``FOR UPDATE OF <tables>`` and ``WAIT n`` are refused by the allow-list.
"""

from __future__ import annotations

from functools import cache

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect

from rls.errors import Refused


def check_locks(root: exp.Expr, sqlglot_dialect: str) -> None:
    """Refuse a locking clause the database does not have."""
    if root.find(exp.Lock) is None:
        return
    if not _locking_reads(sqlglot_dialect):
        raise Refused("locking clauses (FOR UPDATE / FOR SHARE) are not available on this database")


@cache
def _locking_reads(sqlglot_dialect: str) -> bool:
    return bool(SqlglotDialect.get_or_raise(sqlglot_dialect).generator().LOCKING_READS_SUPPORTED)


def push_locks(tree: exp.Expr, built: set[int]) -> None:
    """Copy each SELECT's locking clauses into the policy sub-queries rls built in its
    FROM and JOINs (for databases that do not lock the rows of a derived table)."""
    for select in list(tree.find_all(exp.Select)):
        locks = select.args.get("locks")
        if not locks:
            continue
        items = [select.args["from_"].this] if select.args.get("from_") else []
        items += [join.this for join in select.args.get("joins") or []]
        for source in (s for item in items for s in _relations(item)):
            if isinstance(source, exp.Subquery) and id(source) in built and isinstance(source.this, exp.Select):
                source.this.set("locks", [lock.copy() for lock in locks])


def _relations(item: exp.Expr) -> list[exp.Expr]:
    """A FROM item and, for a parenthesised join ``(a JOIN b …)``, every relation inside."""
    found = [item]
    if isinstance(item, exp.Subquery) and not item.args.get("alias"):
        inner = item.this
        if isinstance(inner, (exp.Table, exp.Subquery)) and inner.args.get("joins"):
            found += [inner, *(r for join in inner.args["joins"] for r in _relations(join.this))]
    return found
