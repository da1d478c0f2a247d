"""Every database error maps to a status: the statement's fault is a 4xx, the server's a 503;
nothing a driver raises is left unmapped (a 500) or taken for an outage (a 503)."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
import pymysql
import pytest

from dialects.mysql import _DISCONNECTS, _SERVER, MySQL
from dialects.postgres import Postgres
from dialects.sqlite import SQLite
from rls.config import Config
from rls.database import Database
from rls.http.app import create_app
from tests.client import Client

# -- MySQL / MariaDB: by error number --------------------------------------------------------------

MYSQL_TIMEOUTS = {1205, 1317, 1969, 3024}  # 1205: a lock wait timeout is a statement timeout (503)


@pytest.mark.parametrize("first", range(1000, 5000, 250))
def test_mysql_server_errors_are_400s_unless_the_server_is_at_fault(first):
    for code in range(first, first + 250):
        error = MySQL().to_error(pymysql.err.OperationalError(code, "message"))
        assert error is not None, code
        if code in _DISCONNECTS or code in _SERVER or code in MYSQL_TIMEOUTS or 2000 <= code < 3000:
            assert error.status == 503, code
        else:
            assert 400 <= error.status < 500, (code, error.status)


def test_mysql_error_4079_is_a_400_not_a_503():
    error = MySQL().to_error(pymysql.err.OperationalError(4079, "Illegal parameter data type uuid for 'sum'"))
    assert error is not None and error.status == 400


def test_pymysql_refusing_a_value_is_a_400():
    error = MySQL().to_error(pymysql.err.ProgrammingError("infinity can not be used with MySQL"))
    assert error is not None and error.status == 400


# -- PostgreSQL: by SQLSTATE -----------------------------------------------------------------------

PG_SERVER_CLASSES = {"08", "53", "57", "58", "XX", "F0", "28", "3D", "3F", "55", "72", "24", "25", "26"}
PG_SERVER_CLASSES |= {"2B", "2D", "34", "3B", "0B", "0F", "0L", "0P", "0Z", "09", "03", "02", "01", "00"}
PG_STATEMENT_STATES = {"25006"}  # read_only_sql_transaction: a GET /rpc whose function writes (400)
# Class 55 mixes both: a write to a view that is not updatable (55000), a parameter that
# cannot change now (55P02), an enum value added in the same transaction (55P04) and an
# object in use (55006, 409) are the statement's; only lock_not_available (55P03) is a 503.
PG_STATEMENT_STATES |= {"55000", "55006", "55P02", "55P04"}


def test_every_sqlstate_psycopg_knows_maps_to_a_status():
    states = [s for s in psycopg.errors._sqlcodes if len(s) == 5 and s.upper() == s and not s.isalpha()]
    assert len(states) > 200  # every SQLSTATE of the server psycopg was built for
    for state in states:
        error = Postgres().to_error(psycopg.errors.lookup(state)("message"))
        assert error is not None, state
        if state[:2] in PG_SERVER_CLASSES and state not in PG_STATEMENT_STATES:
            assert error.status == 503, state
        else:
            assert 400 <= error.status < 500, (state, error.status)


def test_psycopg_refusing_nul_in_text_is_a_400():
    error = Postgres().to_error(psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))
    assert error is not None and error.status == 400


def test_lost_postgres_connection_without_sqlstate_is_a_503():
    error = Postgres().to_error(psycopg.OperationalError("connection refused"))
    assert error is not None and error.status == 503


# -- SQLite: by result code name -------------------------------------------------------------------

SQLITE_STATEMENT = ("SQLITE_ERROR", "SQLITE_RANGE", "SQLITE_MISMATCH", "SQLITE_TOOBIG", "SQLITE_CONSTRAINT")
NOT_ERRORS = ("SQLITE_OK", "SQLITE_ROW", "SQLITE_DONE", "SQLITE_NOTICE", "SQLITE_WARNING")


def sqlite_error(name: str) -> sqlite3.Error:
    exc = sqlite3.OperationalError("message")
    exc.sqlite_errorname = name  # type: ignore[attr-defined]
    return exc


def test_every_sqlite_result_code_maps_to_a_status():
    names = [n for n in dir(sqlite3) if n.startswith("SQLITE_") and isinstance(getattr(sqlite3, n), int)]
    codes = [n for n in names if n.split("_")[1] in {c.split("_")[1] for c in (*SQLITE_STATEMENT, "SQLITE_IOERR")}]
    codes += [n for n in names if n in {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_NOMEM", "SQLITE_AUTH"}]
    assert len(codes) > 40
    for name in codes:
        error = SQLite().to_error(sqlite_error(name))
        assert error is not None, name
        statement = name.startswith(SQLITE_STATEMENT) or name.startswith("SQLITE_AUTH")
        assert (400 <= error.status < 500) if statement else error.status == 503, (name, error.status)


def test_sqlite_error_without_a_result_code_is_mapped():
    assert SQLite().to_error(sqlite3.ProgrammingError("Incorrect number of bindings")).status == 400  # type: ignore[union-attr]
    assert SQLite().to_error(sqlite3.InterfaceError("Error binding parameter 1")).status == 400  # type: ignore[union-attr]


# -- the real servers ------------------------------------------------------------------------------

SUM_OF_UUID = {"sqlite": 200, "postgres": 400, "mysql": 400}


def test_sum_of_a_uuid_column_is_answered_without_a_server_error(backend, make_database_url):
    url = make_database_url(backend)
    db = Database(url)
    db.run(lambda s: s.execute("CREATE TABLE tokens (id INTEGER PRIMARY KEY, token UUID)"), write=True)
    db.close()
    app = create_app(Config(db_url=url))
    try:
        client = Client(app)
        assert client.post("/tokens", {"id": 1, "token": "2e0f3c1a-0000-4000-8000-000000000001"}).status == 200
        reply = client.get("/tokens", "select=sum(token)")
        assert reply.status == SUM_OF_UUID[backend], reply.body
        if reply.status == 400:
            assert set(reply.json) == {"msg", "status", "message", "code", "details", "hint", "error"}
    finally:
        app.db.close()
