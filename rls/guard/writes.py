"""Writes that enforce their policies themselves.

The statement that writes is the statement that checks: a row that fails WITH CHECK makes
the statement raise a database error (the dialect's :meth:`build_raise`) while it runs, so
it writes nothing, atomically, in autocommit too — whoever runs ``stmt.sql``. No second
statement is computed from the first, so nothing can differ between them.

* UPDATE / DELETE touch only rows the USING policy allows (and, as PostgreSQL does, the read
  policy when the statement reads the table's columns); the statement's own condition is
  evaluated only on those rows (a CASE fence); an UPDATE raises for a row whose new
  version fails the update policy. New values are computed as the database computes them:
  all SET expressions from the old row (PostgreSQL, SQLite) or left to right (MySQL).
* INSERT checks every row as written (RETURNING: defaults, conversions and triggers
  included); ``ON CONFLICT DO UPDATE`` raises when the existing row is hidden from the
  update policy — before any expression of the statement runs on it — and when the
  updated row fails the update policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from dialects.base import Dialect
from rls.emit import placeholder
from rls.errors import Refused
from rls.guard.allow import VOLATILE
from rls.guard.leakproof import Leakproof, conjuncts
from rls.guard.scope import Resolution, Source
from rls.policy.compile import Predicate
from rls.schema import Kind, Table

PredicateFor = Callable[[Table, str], Predicate]
CHECK_COLUMN = "rls_check"
KEY_COLUMN = "rls_key"
"""The hidden column with the written row's primary key (:attr:`Dialect.RETURNS_INSERT_KEY`)."""


def written_key(rows: Sequence[Any], hidden_columns: int) -> Any:
    """The primary key of the first row a guarded INSERT wrote, from its hidden RETURNING
    columns (``rows`` as the driver fetched them: tuples or mappings), or None when the
    statement returned none (no single-column integer key, nothing written)."""
    if hidden_columns < 2 or not rows:
        return None
    first = rows[0]
    return first[KEY_COLUMN] if isinstance(first, Mapping) else first[-1]


@dataclass
class WriteGuard:
    """Guards the target of one INSERT, UPDATE or DELETE."""

    root: exp.Expr
    resolution: Resolution
    predicate_for: PredicateFor
    dialect: Dialect
    leakproof: Leakproof
    built: set[int]
    hidden_columns: int = 0
    reads_own_writes: set[str] = field(default_factory=set)
    """Assigned columns whose stored value a check cannot compute (see _judged): the value
    reads the written table where an UPDATE sees its own writes, or has no cast."""
    owner_fill: bool = False

    @property
    def target(self) -> Source:
        assert self.resolution.target is not None
        return self.resolution.target

    @property
    def table(self) -> Table:
        assert self.target.table is not None
        return self.target.table

    def guard(self) -> None:
        if self.table.write_hazard and not isinstance(self.root, exp.Delete):
            raise Refused(f"{self.table.name}: {self.table.write_hazard}")
        if isinstance(self.root, exp.Insert):
            self._insert(self.root)
        elif isinstance(self.root, exp.Update):
            self._update(self.root)
        elif isinstance(self.root, exp.Delete):
            self._delete(self.root)

    # -- shared pieces -----------------------------------------------------------------------

    def _own(self, node: exp.Expr) -> exp.Expr:
        self.built.add(id(node))
        return node

    def _copy(self, node: exp.Expr) -> exp.Expr:
        return rebuild(node, _keep, self.built)

    def _policy(self, action: str, qualifier: str) -> exp.Expr | None:
        predicate = self.predicate_for(self.table, action)
        return None if predicate.node is None else self._own(predicate.condition(qualifier))

    def _raise(self, qualifier: str | None) -> exp.Expr:
        column = next(iter(self.table.columns))
        return self._own(self.dialect.build_raise(exp.column(column, table=qualifier, quoted=True)))

    def _checked(self, condition: exp.Expr, qualifier: str | None) -> exp.Expr:
        """``CASE WHEN <condition> THEN 1 ELSE <raise> END``: 1, or the statement aborts."""
        return exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))], default=self._raise(qualifier))

    def _reads_target(self, root: exp.Expr) -> bool:
        """Whether the statement reads the target's columns (PostgreSQL then applies the
        read policy to the rows it touches, too). RETURNING (``*`` included) and ORDER BY
        read them whatever they name."""
        if root.args.get("returning") is not None or root.args.get("order") is not None:
            return True
        where = root.args.get("where")
        if where is not None and self._mentions_target(where):
            return True
        return any(self._mentions_target(a.expression) for a in root.expressions if isinstance(a, exp.EQ))

    def _mentions_target(self, node: exp.Expr) -> bool:
        columns = self.resolution.columns
        return any(
            (ref := columns.get(id(c))) is not None and ref.source is self.target for c in node.find_all(exp.Column)
        )

    def _using(self, root: exp.Expr, action: str) -> exp.Expr | None:
        qualifier = self.target.alias
        parts = [self._policy(action, qualifier)]
        if self._reads_target(root) and not self._same_policy(action, "read"):
            parts.append(self._policy("read", qualifier))
        present = [p for p in parts if p is not None]
        return exp.and_(*present, copy=False) if present else None

    def _same_policy(self, action: str, other: str) -> bool:
        first, second = self.predicate_for(self.table, action), self.predicate_for(self.table, other)
        if first.node is None or second.node is None:
            return first.node is second.node
        return bool(first.node.sql() == second.node.sql())

    def _restrict(self, root: exp.Expr, using: exp.Expr | None, then: exp.Expr | None) -> None:
        """``WHERE <using> AND <leakproof own conjuncts> AND CASE WHEN <using> THEN
        (CASE WHEN <own condition> THEN <then> ELSE FALSE END) ELSE FALSE END``: the
        statement's own condition — which may raise — and ``then`` run only on rows the
        policy allows; the policy and the leakproof conjuncts can still use indexes."""
        where = root.args.get("where")
        own = where.this if where is not None else None
        inner: exp.Expr | None = then
        if own is not None:
            guarded = exp.paren(own, copy=False)
            inner = exp.Case(ifs=[exp.If(this=guarded, true=then if then is not None else exp.true())],
                             default=exp.false())  # fmt: skip
        if using is None:
            combined = inner
        else:
            plain = [using]
            if own is not None:
                plain += [self._copy(c) for c in conjuncts(own) if self.leakproof.pushable(c, self.target)]
            fenced = (
                exp.Case(ifs=[exp.If(this=self._copy(using), true=inner)], default=exp.false())
                if inner is not None
                else None
            )
            combined = exp.and_(*plain, *([fenced] if fenced is not None else []), copy=False)
        if combined is not None:
            root.set("where", exp.Where(this=combined))

    # -- statements ----------------------------------------------------------------------------

    def _delete(self, root: exp.Delete) -> None:
        self._restrict(root, self._using(root, "delete"), None)

    def _update(self, root: exp.Update) -> None:
        qualifier = self.target.alias
        using = self._using(root, "update")
        check = self._policy("update", qualifier)
        parts = [c for c in (check, self._returned_read(root, qualifier)) if c is not None]
        if parts and self.dialect.SUPPORTS_UPDATE_RETURNING:
            # Judged on each row as stored, in RETURNING: what the database rounds, converts
            # or computes (affinity, triggers, a two-pass UPDATE) is what the check sees.
            if root.this.args.get("alias") is not None and not self.dialect.INSERT_ALIAS_IN_RETURNING:
                raise Refused("an UPDATE target alias is not supported on this database under a policy")
            self._restrict(root, using, None)
            self._return_check(root, exp.and_(*parts, copy=False), qualifier)
            return
        then: exp.Expr | None = None
        if parts:
            new = self._new_values(root.expressions)
            checked = exp.and_(*parts, copy=False)
            _judged(self, checked, qualifier)
            condition = _substitute(checked, qualifier, new, self.built)
            then = exp.EQ(this=self._checked(condition, qualifier), expression=exp.Literal.number(1))
        self._restrict(root, using, then)

    def _returned_read(self, root: exp.Expr, qualifier: str) -> exp.Expr | None:
        """Rows handed back by RETURNING must be readable in their new version."""
        if root.args.get("returning") is None or self._same_policy("update", "read"):
            return None
        return self._policy("read", qualifier)

    def _new_values(self, assignments: list[exp.Expr]) -> dict[str, exp.Expr]:
        """Each assigned column's new value as an expression over the old row, its columns
        qualified by their source so it means the same wherever it is placed."""
        new: dict[str, exp.Expr] = {}
        sources = self._own_sources()
        left_to_right = self.dialect.SET_ASSIGNS_LEFT_TO_RIGHT

        def replace(node: exp.Expr) -> exp.Expr | None:
            ref = self.resolution.columns.get(id(node)) if isinstance(node, exp.Column) else None
            if ref is None or ref.source is None or id(ref.source) not in sources:
                return None
            if left_to_right and ref.source is self.target and ref.name in new:
                return exp.paren(rebuild(new[ref.name], _keep, self.built), copy=False)
            return exp.column(ref.name, table=ref.source.alias, quoted=True)

        for assignment in assignments:
            targets, values = _pairs(assignment, self.built)
            for target, value in zip(targets, values, strict=True):
                if any(isinstance(n, tuple(VOLATILE)) for n in value.walk()):
                    raise Refused("a volatile function in SET is not allowed under a WITH CHECK policy")
                name = self._stored_name(target)
                if self.dialect.UPDATE_SEES_ITS_OWN_WRITES and self._reads_target_table(value):
                    self.reads_own_writes.add(name)
                # The value as the column stores it (rounded, converted); None: no such cast.
                # The SET stores that same cast, so what the check judges is what is written.
                column = self.table.columns[name]
                judged = rebuild(value, replace, self.built)
                stored = self.dialect.build_stored(judged, column)
                if stored is None:
                    self.reads_own_writes.add(name)
                    stored = judged
                elif stored is not judged:
                    if assignment.expression is not value:
                        raise Refused("on this database a row assignment (a, b) = … may not set a checked table")
                    assignment.set("expression", self.dialect.build_stored(value, column))
                new[name] = stored
        return new

    def _reads_target_table(self, value: exp.Expr) -> bool:
        name = self.table.name.lower()
        return any(table.name.lower() == name for table in value.find_all(exp.Table))

    def _own_sources(self) -> set[int]:
        """The sources of the statement's top scope (target, FROM / USING tables)."""
        sources = {id(self.target)}
        sources.update(id(s) for s in self.resolution.top_sources)
        return sources

    def _stored_name(self, column: exp.Expr) -> str:
        wanted = column.name
        if wanted in self.table.columns:
            return wanted
        folded = [c for c in self.table.columns if c.lower() == wanted.lower()]
        if len(folded) == 1 and self.dialect.CASE_INSENSITIVE_COLUMNS:
            return folded[0]
        raise Refused(f"unknown column: {wanted}")

    def _insert(self, root: exp.Insert) -> None:
        if self.owner_fill:
            self._fill_owner(root)
        qualifier = self.target.alias
        if root.this.this.args.get("alias") is not None and not self.dialect.INSERT_ALIAS_IN_RETURNING:
            raise Refused("an INSERT target alias is not supported on this database")
        for column in root.this.expressions:
            self._stored_name(column)  # every inserted column exists (case rules applied)
        conflict = root.args.get("conflict")
        if conflict is not None and "UPDATE" in str(conflict.args.get("action")).upper():
            self._conflict_update(conflict, qualifier)
        parts = [self._policy("create", qualifier)]
        returning = root.args.get("returning")
        if returning is not None and not self._same_policy("create", "read"):
            parts.append(self._policy("read", qualifier))
        if conflict is not None and "UPDATE" in str(conflict.args.get("action")).upper():
            if not self._same_policy("create", "update"):  # a row it updates, as stored
                parts.append(self._policy("update", qualifier))
        present = [p for p in parts if p is not None]
        if not present:
            if returning is None and self._written_key(root, qualifier) is not None:
                # No check to make, but the key the wrappers report as ``lastrowid`` is
                # still the statement's own (never the connection's last insert id).
                self._return_check(root, None, qualifier)
            return
        if not self.dialect.SUPPORTS_INSERT_RETURNING:
            raise Refused("INSERT under a create policy needs INSERT … RETURNING (MariaDB ≥ 10.5)")
        self._return_check(root, exp.and_(*present, copy=False), qualifier)

    def _return_check(self, root: exp.Expr, condition: exp.Expr | None, qualifier: str) -> None:
        """The check in RETURNING, on each row as stored (defaults, conversions, rounding and
        triggers included): fused into the caller's first returned value, or — when the
        statement returns nothing — one column of rls's own (``hidden_columns``), and a
        second with the row's key, the only ``lastrowid`` the wrappers report
        (:attr:`Dialect.RETURNS_INSERT_KEY`). No ``condition``: the check column is 1."""
        checked = exp.Literal.number(1) if condition is None else self._own(self._checked(condition, qualifier))
        returning = root.args.get("returning")
        if returning is None:
            hidden = [exp.alias_(checked, CHECK_COLUMN, quoted=True, copy=False)]
            key = self._written_key(root, qualifier)
            if key is not None:
                hidden.append(exp.alias_(key, KEY_COLUMN, quoted=True, copy=False))
            self.hidden_columns = len(hidden)
            root.set("returning", exp.Returning(expressions=hidden))
            return
        items = self._expand_stars(returning.expressions)
        first = items[0]
        name = first.alias_or_name
        value = first.this if isinstance(first, exp.Alias) else first
        fused = exp.Case(ifs=[exp.If(this=exp.EQ(this=checked, expression=exp.Literal.number(1)), true=value)])
        items[0] = exp.alias_(fused, name, quoted=True, copy=False) if name else fused
        returning.set("expressions", items)

    def _written_key(self, root: exp.Expr, qualifier: str) -> exp.Expr | None:
        """The row's single-column integer primary key, for a wrapper's ``lastrowid`` (the
        statement's own answer, never session state such as ``LAST_INSERT_ID()``)."""
        key = self.table.primary_key
        if not self.dialect.RETURNS_INSERT_KEY or not isinstance(root, exp.Insert):
            return None
        implicit = self.dialect.IMPLICIT_ROW_KEY
        if not key and implicit is not None:
            # No key known (a schema of column names only): SQLite's rowid, the key
            # sqlite3 itself reports (a declared INTEGER PRIMARY KEY is its alias).
            return self._own(exp.column(implicit, table=qualifier))
        if len(key) != 1:
            return None
        if self.table.columns[key[0]].kind is not Kind.INTEGER:
            return None
        return self._own(exp.column(key[0], table=qualifier, quoted=True))

    def _fill_owner(self, root: exp.Insert) -> None:
        """Owner fill: a column the create policy pins to the user (``user_id =
        auth_user.id``) that the INSERT leaves out gets the user's id; one it gives becomes
        ``COALESCE(<given>, <user's id>)`` (a NULL — literal or bound — is the user's).
        Only ``INSERT … (columns) VALUES …``; other forms are checked as written."""
        owners = self.predicate_for(self.table, "create").owner_columns
        rows = root.expression
        names = root.this.expressions if isinstance(root.this, exp.Schema) else []
        if not owners or not names or not isinstance(rows, exp.Values):
            return
        given = [self._stored_name(column) for column in names]
        for column, param in owners.items():
            if column not in self.table.columns:
                continue
            if column in given:
                index = given.index(column)
                for row in rows.expressions:
                    value = row.expressions[index]
                    filled = exp.func("COALESCE", value.copy(), placeholder(param))
                    value.replace(filled)
                continue
            names.append(exp.to_identifier(column, quoted=True))
            for row in rows.expressions:
                row.append("expressions", placeholder(param))

    def _expand_stars(self, items: list[exp.Expr]) -> list[exp.Expr]:
        out: list[exp.Expr] = []
        for item in items:
            if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
                out += [exp.column(c, quoted=True) for c in self.table.columns]
            else:
                out.append(item)
        return out

    def _conflict_update(self, conflict: exp.Expr, qualifier: str) -> None:
        """``DO UPDATE … WHERE CASE WHEN <update policy on the existing row> AND <create policy
        on the proposed row> THEN (CASE WHEN <own WHERE> THEN <check of the new row> ELSE
        FALSE END) ELSE <raise> END`` — PostgreSQL's order: the existing row and the proposed
        one are judged before the statement's own condition runs."""
        gate = [self._policy("update", qualifier)]
        if not self._same_policy("update", "read"):
            gate.append(self._policy("read", qualifier))
        gate.append(self._policy("create", "excluded"))  # the proposed row, as PostgreSQL checks it
        present = [p for p in gate if p is not None]
        check = self._policy("update", qualifier)
        own = conflict.args.get("where")
        then: exp.Expr = exp.true()
        if check is not None:
            new = self._new_values(conflict.expressions)
            _judged(self, check, qualifier)
            then = exp.EQ(
                this=self._checked(_substitute(check, qualifier, new, self.built), qualifier),
                expression=exp.Literal.number(1),
            )
        if own is not None:
            then = exp.Case(ifs=[exp.If(this=exp.paren(own.this, copy=False), true=then)], default=exp.false())
        if present:
            hidden = exp.EQ(this=self._raise(qualifier), expression=exp.Literal.number(1))
            then = exp.Case(ifs=[exp.If(this=exp.and_(*present, copy=False), true=then)], default=hidden)
        if check is None and own is None and not present:
            return
        conflict.set("where", exp.Where(this=then))


def _pairs(assignment: exp.Expr, built: set[int]) -> tuple[list[exp.Expr], list[exp.Expr]]:
    """(columns, values) of ``a = x`` and ``(a, b) = (x, y)`` / ``(a, b) = (SELECT x, y …)``."""
    if not isinstance(assignment, exp.EQ):
        raise Refused("SET must assign columns")
    left, right = assignment.this, assignment.expression
    if not isinstance(left, exp.Tuple):
        return [left], [right]
    targets = list(left.expressions)
    if isinstance(right, exp.Tuple):
        values = list(right.expressions)
    elif isinstance(right, exp.Subquery) and isinstance(right.this, exp.Select):
        select = right.this
        values = []
        for i in range(len(select.expressions)):
            one = rebuild(select, _keep, built)
            one.set("expressions", [one.expressions[i]])
            values.append(exp.Subquery(this=one))
    else:
        raise Refused("SET (…) = must be a row of values or a sub-query")
    if len(values) != len(targets):
        raise Refused("SET (…) = assigns a different number of columns")
    return targets, values


def _judged(guard: WriteGuard, condition: exp.Expr, qualifier: str) -> None:
    """Refuse a check that reads a column whose new value reads the written table where an
    UPDATE sees its own writes: the check runs in WHERE, before the statement's writes, and
    the SET would read rows it has already changed (SQLite's two-pass UPDATE)."""
    read = {c.name for c in condition.find_all(exp.Column) if c.table == qualifier}
    computed = sorted(c for c in read if c in guard.table.columns and guard.table.columns[c].computed)
    if computed:
        raise Refused(f"the policy reads {computed[0]}, which the database sets itself on a write")
    if read & guard.reads_own_writes:
        raise Refused(
            "on this database a SET that reads the table it updates may not assign a column the policy checks"
        )


def _substitute(condition: exp.Expr, qualifier: str, values: dict[str, exp.Expr], built: set[int]) -> exp.Expr:
    """A policy ``condition`` on the new row: its columns of the target (qualified by rls)
    replaced by their new values."""

    def replace(node: exp.Expr) -> exp.Expr | None:
        if isinstance(node, exp.Column) and node.table == qualifier and node.name in values:
            return exp.paren(rebuild(values[node.name], _keep, built), copy=False)
        return None

    return rebuild(condition, replace, built)


def rebuild(node: exp.Expr, replace: Callable[[exp.Expr], exp.Expr | None], built: set[int] | None = None) -> exp.Expr:
    """A copy of ``node`` with ``replace`` applied to the ORIGINAL nodes (so their identity,
    which the resolution is keyed by, is still known when deciding). Copies of nodes rls
    built are rls's too (``built``)."""
    replaced = replace(node)
    if replaced is not None:
        return replaced
    args: dict[str, object] = {}
    for key, value in node.args.items():
        if isinstance(value, exp.Expr):
            args[key] = rebuild(value, replace, built)
        elif isinstance(value, list):
            args[key] = [rebuild(v, replace, built) if isinstance(v, exp.Expr) else v for v in value]
        else:
            args[key] = value
    copy = type(node)(**args)
    if built is not None and id(node) in built:
        built.add(id(copy))
    return copy


def _keep(node: exp.Expr) -> exp.Expr | None:
    return None
