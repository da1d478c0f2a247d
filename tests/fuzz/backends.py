"""The four ways a case runs: raw (as the owner, no policies) on each database, through the
guard on each database, and natively under PostgreSQL RLS as a non-owner role. Each run
is one transaction, rolled back; DML outcomes carry every table's rows afterwards."""

from __future__ import annotations

import datetime
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from rls import AuthUser, Denied, Guard, Policy, Refused, connect
from rls.database import Database
from rls.errors import Conflict, ConstraintViolation
from tests.fuzz.generator import Case
from tests.fuzz.world import NATIVE_SETUP, POLICIES, TABLES, USERS, ddl, native_settings

STATEMENT_SECONDS = 5


def _timed_out(exc: BaseException) -> bool:
    """The statement ran out of time (PostgreSQL 57014, MariaDB 1969, SQLite interrupt)."""
    if isinstance(exc, psycopg.Error):
        return exc.sqlstate == "57014"
    args = getattr(exc, "args", ())
    return (bool(args) and args[0] == 1969) or str(exc) == "interrupted"


@dataclass(frozen=True)
class Outcome:
    status: str  # ok, denied, refused, conflict, constraint, error, timeout
    rows: tuple[tuple[Any, ...], ...] | None = None
    tables: tuple[tuple[str, tuple[tuple[Any, ...], ...]], ...] | None = None
    detail: str = ""

    def same(self, other: Outcome) -> bool:
        return (self.status, self.rows, self.tables) == (other.status, other.rows, other.tables)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.rows is not None:
            out["rows"] = [list(r) for r in self.rows]
        if self.tables is not None:
            out["tables"] = {name: [list(r) for r in rows] for name, rows in self.tables}
        if self.detail:
            out["detail"] = self.detail
        return out


def _value(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, (Decimal, float)):
        f = float(v)
        return int(f) if f.is_integer() else round(f, 2)
    if isinstance(v, (bytes, bytearray)):
        return v.decode()
    return v


def normalise(rows: Any) -> tuple[tuple[Any, ...], ...]:
    """Rows as a sorted multiset of comparable values (the three drivers differ in types)."""
    return tuple(sorted((tuple(_value(v) for v in r) for r in rows), key=repr))


def bind(case: Case, dialect: str) -> tuple[str, Any]:
    """The driver's text and parameters for one database: ``?``/``:name`` for sqlite3,
    ``%s``/``%(name)s`` for psycopg and PyMySQL (and ``%%`` for a literal ``%``, only
    when there are parameters); None without parameters."""
    template = case.sql[dialect]
    assert template is not None
    if not case.params:
        return template, None
    if dialect != "sqlite":
        template = template.replace("%", "%%")
    if not case.named:
        return template.replace("{p}", "?" if dialect == "sqlite" else "%s"), case.params
    parts = template.split("{p}")
    text, named = parts[0], {}
    for i, part in enumerate(parts[1:]):
        text += (f":v{i}" if dialect == "sqlite" else f"%(v{i})s") + part
        named[f"v{i}"] = case.params[i]
    return text, named


class Backends:
    """Owns one connection per database (and one for the native schema)."""

    def __init__(self, urls: dict[str, str], policies: Sequence[Policy] = POLICIES):
        self.urls = urls
        self.dbs = {d: Database(urls[d]) for d in ("postgres", "mysql", "sqlite", "native")}
        self.role = f"rls_fuzz_{secrets.token_hex(4)}"
        self.native_schema = urls["native"].rsplit("search_path=", 1)[1]
        for d in ("postgres", "mysql", "sqlite", "native"):
            self._create(d)
        self.conns = {d: db.dialect.connect(**db.dialect.connect_args(self.urls[d])) for d, db in self.dbs.items()}
        self._limit_statement_time()
        self.guards = {
            d: Guard(policies, dialect=self.dbs[d].dialect, schema=self.dbs[d].refresh_schema())
            for d in ("postgres", "mysql", "sqlite")
        }
        self.baseline = {d: self.snapshot(d) for d in self.conns}

    def _create(self, d: str) -> None:
        dialect = "postgres" if d == "native" else d
        placeholder = self.dbs[d].dialect.PLACEHOLDER

        def work(session: Any) -> None:
            for statement in ddl(dialect):
                session.execute(statement)
            for table in TABLES:
                marks = ", ".join([placeholder] * len(table.cols))
                for row in table.rows:
                    session.execute(f"INSERT INTO {table.name} VALUES ({marks})", row)
            if d == "native":
                s = self.native_schema
                for statement in NATIVE_SETUP:
                    session.execute(statement.format(s=s))
                for table in TABLES:
                    session.execute(f"ALTER TABLE {s}.{table.name} ENABLE ROW LEVEL SECURITY")
                    session.execute(f"ALTER TABLE {s}.{table.name} FORCE ROW LEVEL SECURITY")
                session.execute(f"CREATE ROLE {self.role} NOLOGIN NOSUPERUSER NOBYPASSRLS")
                session.execute(f"GRANT USAGE ON SCHEMA {s} TO {self.role}")
                session.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {self.role}")

        self.dbs[d].run(work, write=True)

    def _limit_statement_time(self) -> None:
        """A generated (or shrunk) recursive CTE may not terminate: every statement gets
        a few seconds, then fails as an error outcome."""
        for d in ("postgres", "native"):
            self.conns[d].execute(f"SET statement_timeout = {STATEMENT_SECONDS * 1000}")
        self._tx("mysql", f"SET SESSION max_statement_time = {STATEMENT_SECONDS}")
        deadline = [0.0]
        self._sqlite_deadline = deadline

        def interrupt() -> int:
            return 1 if deadline[0] and time.monotonic() > deadline[0] else 0

        self.conns["sqlite"].set_progress_handler(interrupt, 10_000)

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
        self.dbs["native"].run(lambda s: s.execute(f"DROP OWNED BY {self.role}"), write=True)
        self.dbs["native"].run(lambda s: s.execute(f"DROP ROLE {self.role}"), write=True)
        for db in self.dbs.values():
            db.close()

    # -- running ------------------------------------------------------------------------

    def snapshot(self, d: str) -> tuple[tuple[str, tuple[tuple[Any, ...], ...]], ...]:
        cur = self.conns[d].cursor()
        out = []
        for table in TABLES:
            cur.execute(f"SELECT * FROM {table.name}")
            out.append((table.name, normalise(cur.fetchall())))
        cur.close()
        return tuple(out)

    def _tx(self, d: str, statement: str) -> None:
        cur = self.conns[d].cursor()
        cur.execute(statement)
        cur.close()

    def raw(self, d: str, case: Case) -> Outcome:
        """The statement as the owner, no policies (does it run here, and what does it do?)."""
        return self._run(d, case, None)

    def guarded(self, d: str, case: Case) -> Outcome:
        return self._run(d, case, USERS[case.user])

    def _run(self, d: str, case: Case, user: AuthUser | None) -> Outcome:
        sql, params = bind(case, d)
        conn = self.conns[d]
        self._sqlite_deadline[0] = time.monotonic() + STATEMENT_SECONDS
        self._tx(d, "BEGIN")
        try:
            if user is None:
                cur = conn.cursor()
                if params is None:
                    cur.execute(sql)
                else:
                    cur.execute(sql, params)
            else:
                cur = connect(conn, self.guards[d], user).cursor()
                cur.execute(sql, params)
            rows = normalise(cur.fetchall()) if cur.description else None
            cur.close()
            tables = self.snapshot(d) if case.kind == "dml" else None
            return Outcome("ok", rows, tables)
        except Refused as exc:
            return Outcome("refused", detail=str(exc))
        except Denied as exc:
            return Outcome("denied", detail=type(exc).__name__)
        except Conflict as exc:  # rls.connect raises the mapped error itself
            return Outcome("conflict", detail=str(exc))
        except ConstraintViolation as exc:
            return Outcome("constraint", detail=str(exc))
        except Exception as exc:
            return self._error(d, exc, user)
        finally:
            self._tx(d, "ROLLBACK")

    def _error(self, d: str, exc: Exception, user: AuthUser | None) -> Outcome:
        detail = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
        if _timed_out(exc):
            return Outcome("timeout", detail=detail)
        mapped = self.guards[d].error_for(exc, user) if user is not None else self.guards[d].dialect.to_error(exc)
        if isinstance(mapped, Denied):
            return Outcome("denied", detail=detail)
        if isinstance(mapped, Conflict):
            return Outcome("conflict", detail=detail)
        if isinstance(mapped, ConstraintViolation):
            return Outcome("constraint", detail=detail)
        return Outcome("error", detail=detail)

    def native(self, case: Case) -> Outcome:
        """The statement natively under PostgreSQL RLS, as a non-owner role."""
        sql, params = bind(case, "postgres")
        conn = self.conns["native"]
        user = USERS[case.user]
        self._tx("native", "BEGIN")
        try:
            conn.execute(f"SET LOCAL ROLE {self.role}")
            conn.execute(
                "SELECT set_config('rls.uid_int', %s, true), set_config('rls.uid_text', %s, true),"
                " set_config('rls.is_admin', %s, true), set_config('rls.org', %s, true)",
                native_settings(user),
            )
            cur = conn.execute(sql) if params is None else conn.execute(sql, params)
            rows = normalise(cur.fetchall()) if cur.description else None
            conn.execute("RESET ROLE")
            tables = self.snapshot("native") if case.kind == "dml" else None
            return Outcome("ok", rows, tables)
        except psycopg.Error as exc:
            state = exc.sqlstate or ""
            detail = f"{state}: {str(exc).strip().splitlines()[0][:300]}"
            if _timed_out(exc):
                return Outcome("timeout", detail=detail)
            if state == "42501" and "row-level security" in str(exc):
                return Outcome("denied", detail=detail)
            if state == "23505":
                return Outcome("conflict", detail=detail)
            if state in ("23502", "23514"):
                return Outcome("constraint", detail=detail)
            return Outcome("error", detail=detail)
        finally:
            self._tx("native", "ROLLBACK")
