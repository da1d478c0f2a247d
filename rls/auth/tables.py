"""The auth tables: ``auth_users`` and ``auth_policies``, as the original system named them."""

from __future__ import annotations

import re
from dataclasses import dataclass

AUTH_USERS = "auth_users"
AUTH_POLICIES = "auth_policies"
OWN_TABLES = frozenset({AUTH_USERS, AUTH_POLICIES})
"""rls's own tables: served only under policies (never by a server with auth disabled)."""


@dataclass(frozen=True, slots=True)
class TableDefinition:
    """A table setup creates: its name and CREATE TABLE text with ``{type}`` names from
    :attr:`dialects.base.Dialect.DDL_TYPES`."""

    name: str
    ddl: str

    def create_statement(self, ddl_types: dict[str, str]) -> str:
        return self.ddl.format_map(ddl_types)


# Fixed text; nothing here comes from a request. Column names and meaning are the
# original's, so its databases work as they are. The original's password column is
# VARCHAR(72) (bcrypt); ours fits argon2id. expression is TEXT, wider than its 128.
USERS_TABLE = TableDefinition(
    AUTH_USERS,
    "CREATE TABLE auth_users (id {serial}, username {exact_string} NOT NULL UNIQUE,"
    " password {string} NOT NULL, is_admin {boolean} NOT NULL DEFAULT FALSE){table_options}",
)
POLICIES_TABLE = TableDefinition(
    AUTH_POLICIES,
    "CREATE TABLE auth_policies (id {serial}, description VARCHAR(256) NOT NULL,"
    " table_name VARCHAR(128) NOT NULL, action VARCHAR(16) NOT NULL, expression {text} NOT NULL){table_options}",
)

_WIDTH = re.compile(r"\(\s*(\d+)\s*\)")


def column_width(column_type: str) -> int | None:
    """The declared maximum length of a character column; None when unbounded.

    >>> column_width("character varying(72)"), column_width("varchar(72)"), column_width("text")
    (72, 72, None)
    """
    match = _WIDTH.search(column_type)
    return int(match.group(1)) if match else None
