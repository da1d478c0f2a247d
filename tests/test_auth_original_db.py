"""A database set up by the original Go system works as is: its auth_users table
(password VARCHAR(72) with bcrypt hashes, is_admin a MySQL TINYINT) and its users."""

from __future__ import annotations

import bcrypt
import jwt
import pytest

from tests.authkit import SECRET, login, make_app
from tests.client import Client

# The original's shape: bcrypt fits in VARCHAR(72); an argon2id hash (~97 chars) does not.
ORIGINAL_USERS = (
    "CREATE TABLE auth_users (id {serial}, username VARCHAR(32) NOT NULL UNIQUE,"
    " password VARCHAR(72) NOT NULL, is_admin BOOLEAN NOT NULL DEFAULT FALSE){table_options}"
)
ORIGINAL_POLICIES = (
    "CREATE TABLE auth_policies (id {serial}, description VARCHAR(256) NOT NULL, table_name VARCHAR(128) NOT NULL,"
    " action VARCHAR(16) NOT NULL, expression VARCHAR(128) NOT NULL){table_options}"
)
# Same columns, a password column wide enough for an upgrade.
WIDE_USERS = ORIGINAL_USERS.replace("VARCHAR(72)", "VARCHAR(255)")


def go_bcrypt(password: str) -> str:
    """A hash as Go's x/crypto/bcrypt writes it ($2a$, cost 10 there; 4 here for speed)."""
    return "$2a$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()[4:]


def make_original_db(url, users_ddl=ORIGINAL_USERS):
    app = make_app(url)
    types = app.db.dialect.DDL_TYPES
    placeholder = app.db.dialect.PLACEHOLDER

    def work(session):
        session.execute(users_ddl.format_map(types))
        session.execute(ORIGINAL_POLICIES.format_map(types))
        insert = f"INSERT INTO auth_users (username, password, is_admin) VALUES ({', '.join([placeholder] * 3)})"
        session.execute(insert, ("admin", go_bcrypt("admin-password"), True))
        session.execute(insert, ("gopher", go_bcrypt("gopher-password"), False))

    app.db.run(work, write=True)
    app.db.refresh_schema()
    return app


@pytest.fixture
def url(backend, make_database_url):
    return make_database_url(backend)


def stored_hash(app, username):
    placeholder = app.db.dialect.PLACEHOLDER
    sql = f"SELECT password FROM auth_users WHERE username = {placeholder}"
    return app.db.run(lambda s: s.execute(sql, (username,)).rows)[0][0]


def test_bcrypt_user_logs_in_and_keeps_the_hash_the_narrow_column_holds(url):
    app = make_original_db(url)
    before = stored_hash(app, "gopher")
    token = login(Client(app), "gopher", "gopher-password")
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["is_admin"] is False
    assert stored_hash(app, "gopher") == before
    app.db.close()


def test_bcrypt_user_is_upgraded_to_argon2id_where_the_column_is_wide_enough(url):
    app = make_original_db(url, WIDE_USERS)
    login(Client(app), "gopher", "gopher-password")
    assert stored_hash(app, "gopher").startswith("$argon2id$")
    login(Client(app), "gopher", "gopher-password")
    assert Client(app).post("/auth/login", {"username": "gopher", "password": "wrong-password"}).status == 401
    app.db.close()


def test_original_admin_logs_in_as_admin(url):
    # On MariaDB is_admin comes back as an integer: the original crashed here.
    app = make_original_db(url)
    c = Client(app)
    token = login(c, "admin", "admin-password")
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["is_admin"] is True
    assert c.get("/whoami", token=token).json["is_admin"] is True
    app.db.close()


def test_register_on_the_original_table_stores_a_hash_that_fits(url):
    app = make_original_db(url)
    c = Client(app)
    assert c.post("/auth/register", {"username": "newbie", "password": "fresh-password"}).status == 200
    stored = stored_hash(app, "newbie")
    assert stored.startswith("$2b$") and len(stored) <= 72
    login(c, "newbie", "fresh-password")
    app.db.close()


def test_setup_on_the_original_database_is_refused(url):
    app = make_original_db(url)
    reply = Client(app).post("/auth/setup")
    assert (reply.status, reply.msg) == (409, "setup is already done before")
    app.db.close()


def test_upgrade_that_the_database_refuses_keeps_the_old_hash(url, monkeypatch):
    app = make_original_db(url)
    # Pretend the column is wide: the database then refuses the long hash itself.
    monkeypatch.setattr(type(app.auth.users), "_fits_argon2", lambda self: True)
    before = stored_hash(app, "gopher")
    login(Client(app), "gopher", "gopher-password")
    if app.db.dialect.name != "sqlite":  # SQLite does not enforce VARCHAR lengths
        assert stored_hash(app, "gopher") == before
    app.db.close()
