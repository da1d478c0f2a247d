"""The fuzzer's world: six tables, their rows, the users, and the same policies twice —
once as rls ``Policy`` rows for the guard, once written by hand as native PostgreSQL
``CREATE POLICY`` statements (never produced by rls code).

Users and attributes reach native PostgreSQL as transaction-local settings
(``set_config('rls.uid_int', …, true)`` and friends), read by small SQL functions. An
integer user id is a number and a string user id is text: an integer id never equals a
text column and a string id never equals an integer column (issue 9, "exact comparisons").
Sub-queries inside policies run unfiltered (DESIGN.md §3), natively through a
``SECURITY DEFINER`` function owned by the table owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rls import AuthUser, Policy


@dataclass(frozen=True)
class Col:
    name: str
    kind: str  # int, text, ts
    nullable: bool = False


@dataclass(frozen=True)
class TableDef:
    name: str
    cols: tuple[Col, ...]
    rows: tuple[tuple[Any, ...], ...]

    def col(self, name: str) -> Col:
        return next(c for c in self.cols if c.name == name)

    def of_kind(self, kind: str, *, nullable: bool | None = None) -> list[Col]:
        return [c for c in self.cols if c.kind == kind and (nullable is None or c.nullable == nullable)]


def _ts(day: int, hour: int = 9) -> str:
    return f"2024-{1 + day // 28:02d}-{1 + day % 28:02d} {hour:02d}:00:00"


TABLES: tuple[TableDef, ...] = (
    TableDef(
        "teams",
        (Col("id", "int"), Col("name", "text"), Col("org", "text")),
        ((1, "red", "acme"), (2, "blue", "acme"), (3, "green", "beta"), (4, "grey", "gamma")),
    ),
    TableDef(
        "team_members",
        (Col("id", "int"), Col("team_id", "int"), Col("user_id", "int"), Col("role", "text")),
        ((1, 1, 1, "editor"), (2, 1, 2, "viewer"), (3, 2, 2, "editor"), (4, 3, 3, "viewer"), (5, 2, 4, "viewer")),
    ),
    TableDef(
        "docs",
        (
            Col("id", "int"),
            Col("owner_id", "int"),
            Col("team_id", "int", True),
            Col("title", "text"),
            Col("status", "text"),
            Col("views", "int", True),
            Col("created_at", "ts"),
        ),
        (
            (1, 1, 1, "alpha", "published", 10, _ts(4)),
            (2, 1, None, "beta", "draft", 0, _ts(31, 10)),
            (3, 2, 1, "gamma", "draft", 5, _ts(12)),
            (4, 2, 2, "delta", "published", 7, _ts(40, 14)),
            (5, 3, 3, "epsilon", "draft", 3, _ts(50)),
            (6, 3, None, "zeta", "archived", None, _ts(2, 8)),
            (7, 4, 2, "eta", "draft", 1, _ts(60)),
            (8, 5, None, "theta", "published", 42, _ts(70, 18)),
            (9, 2, 3, "iota", "draft", 2, _ts(21)),
            (10, 1, 2, "kappa", "review", None, _ts(33)),
        ),
    ),
    TableDef(
        "notes",  # a text owner id: string user ids own notes
        (
            Col("id", "int"),
            Col("doc_id", "int", True),
            Col("author", "text"),
            Col("body", "text"),
            Col("rating", "int", True),
            Col("created_at", "ts"),
        ),
        (
            (1, 1, "u9", "first", 5, _ts(5)),
            (2, 1, "u8", "second", None, _ts(6)),
            (3, 3, "u9", "third", 3, _ts(13)),
            (4, 4, "1", "fourth", 4, _ts(41)),
            (5, 5, "u8", "fifth", 1, _ts(51)),
            (6, None, "u9", "sixth", None, _ts(52)),
            (7, 8, "2", "seventh", 2, _ts(71)),
        ),
    ),
    TableDef(
        "invoices",  # readable by claim, writable by nobody
        (
            Col("id", "int"),
            Col("org", "text", True),
            Col("amount", "int"),
            Col("status", "text"),
            Col("due_at", "ts"),
            Col("paid_at", "ts", True),
        ),
        (
            (1, "acme", 100, "open", _ts(60), None),
            (2, "acme", 250, "paid", _ts(30), _ts(32)),
            (3, "beta", 75, "open", _ts(65), None),
            (4, "beta", 300, "paid", _ts(20), _ts(25)),
            (5, "gamma", 20, "open", _ts(80), None),
            (6, None, 55, "void", _ts(10), None),
        ),
    ),
    TableDef("tags", (Col("id", "int"), Col("name", "text")), ((1, "red"), (2, "blue"), (3, "green"), (4, "urgent"))),
)
TABLE = {t.name: t for t in TABLES}

_ADMIN = "auth_user.is_admin"
_MEMBER = "EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = docs.team_id AND m.user_id = auth_user.id{extra})"
POLICIES: tuple[Policy, ...] = (
    Policy("teams", "read", ""),
    *(Policy("teams", action, _ADMIN) for action in ("create", "update", "delete")),
    Policy("team_members", "read", "user_id = auth_user.id OR auth_user.is_admin"),
    *(Policy("team_members", action, _ADMIN) for action in ("create", "update", "delete")),
    Policy("docs", "read", "owner_id = auth_user.id OR status = 'published' OR " + _MEMBER.format(extra="")),
    Policy("docs", "update", "owner_id = auth_user.id OR " + _MEMBER.format(extra=" AND m.role = 'editor'")),
    Policy("docs", "create", "owner_id = auth_user.id"),
    Policy("docs", "delete", "owner_id = auth_user.id"),
    Policy("notes", "all", "author = auth_user.id"),
    Policy("invoices", "read", "auth_user.org = org"),
    Policy("tags", "all", ""),
)

# The same policies, by hand. {s} is the native schema.
NATIVE_SETUP = (
    "CREATE FUNCTION {s}.uid() RETURNS integer LANGUAGE sql STABLE"
    " AS $$ SELECT NULLIF(current_setting('rls.uid_int', true), '')::integer $$",
    "CREATE FUNCTION {s}.uid_text() RETURNS text LANGUAGE sql STABLE"
    " AS $$ SELECT NULLIF(current_setting('rls.uid_text', true), '') $$",
    "CREATE FUNCTION {s}.is_admin() RETURNS boolean LANGUAGE sql STABLE"
    " AS $$ SELECT coalesce(current_setting('rls.is_admin', true) = 'true', false) $$",
    "CREATE FUNCTION {s}.claim_org() RETURNS text LANGUAGE sql STABLE"
    " AS $$ SELECT NULLIF(current_setting('rls.org', true), '') $$",
    # Policy sub-queries run unfiltered: SECURITY DEFINER, owned by the (superuser) owner.
    "CREATE FUNCTION {s}.in_team(team integer, editor boolean) RETURNS boolean LANGUAGE sql STABLE"
    " SECURITY DEFINER SET search_path = {s} AS $$ SELECT EXISTS (SELECT 1 FROM {s}.team_members m"
    " WHERE m.team_id = team AND m.user_id = {s}.uid() AND (NOT editor OR m.role = 'editor')) $$",
    "CREATE POLICY teams_read ON {s}.teams FOR SELECT USING (true)",
    "CREATE POLICY teams_create ON {s}.teams FOR INSERT WITH CHECK ({s}.is_admin())",
    "CREATE POLICY teams_update ON {s}.teams FOR UPDATE USING ({s}.is_admin()) WITH CHECK ({s}.is_admin())",
    "CREATE POLICY teams_delete ON {s}.teams FOR DELETE USING ({s}.is_admin())",
    "CREATE POLICY members_read ON {s}.team_members FOR SELECT USING (user_id = {s}.uid() OR {s}.is_admin())",
    "CREATE POLICY members_create ON {s}.team_members FOR INSERT WITH CHECK ({s}.is_admin())",
    "CREATE POLICY members_update ON {s}.team_members FOR UPDATE USING ({s}.is_admin()) WITH CHECK ({s}.is_admin())",
    "CREATE POLICY members_delete ON {s}.team_members FOR DELETE USING ({s}.is_admin())",
    "CREATE POLICY docs_read ON {s}.docs FOR SELECT"
    " USING (owner_id = {s}.uid() OR status = 'published' OR {s}.in_team(team_id, false))",
    "CREATE POLICY docs_update ON {s}.docs FOR UPDATE USING (owner_id = {s}.uid() OR {s}.in_team(team_id, true))"
    " WITH CHECK (owner_id = {s}.uid() OR {s}.in_team(team_id, true))",
    "CREATE POLICY docs_create ON {s}.docs FOR INSERT WITH CHECK (owner_id = {s}.uid())",
    "CREATE POLICY docs_delete ON {s}.docs FOR DELETE USING (owner_id = {s}.uid())",
    "CREATE POLICY notes_all ON {s}.notes FOR ALL USING (author = {s}.uid_text()) WITH CHECK (author = {s}.uid_text())",
    "CREATE POLICY invoices_read ON {s}.invoices FOR SELECT USING ({s}.claim_org() = org)",
    "CREATE POLICY tags_all ON {s}.tags FOR ALL USING (true) WITH CHECK (true)",
)

USERS: dict[str, AuthUser] = {
    "anonymous": AuthUser(),
    "alice": AuthUser(id=1, claims={"org": "acme"}),  # editor of team 1
    "bob": AuthUser(id=2),  # viewer of team 1, editor of team 2, no claims
    "carol": AuthUser(id=3, claims={"org": "beta"}),  # viewer of team 3
    "admin": AuthUser(id=4, is_admin=True, claims={"org": "acme"}),
    "svc": AuthUser(id="u9", claims={"org": "beta"}),  # a string id: owns notes
    "eve": AuthUser(id=7, claims={"org": "gamma"}),  # owns nothing, in no team
}


def native_settings(user: AuthUser) -> tuple[str, str, str, str]:
    """The values of rls.uid_int, rls.uid_text, rls.is_admin, rls.org for ``user``."""
    uid = user.id
    uid_int = str(uid) if isinstance(uid, int) and not isinstance(uid, bool) else ""
    uid_text = uid if isinstance(uid, str) else ""
    org = user.claims.get("org")
    return uid_int, uid_text, "true" if user.is_admin else "false", org if isinstance(org, str) else ""


# (table, action) pairs whose policy folds to constant FALSE for a class of user: there the
# guard denies the whole statement by design (DESIGN.md §3, "deny vs filter") even where
# native RLS would silently return an outer join's NULL side or an empty aggregate.
_DENIED = {
    "anonymous": {
        ("teams", "create"),
        ("teams", "update"),
        ("teams", "delete"),
        ("team_members", "read"),
        ("team_members", "create"),
        ("team_members", "update"),
        ("team_members", "delete"),
        ("docs", "create"),
        ("docs", "update"),
        ("docs", "delete"),
        ("notes", "read"),
        ("notes", "create"),
        ("notes", "update"),
        ("notes", "delete"),
        ("invoices", "read"),
    },
    "user": {
        ("teams", "create"),
        ("teams", "update"),
        ("teams", "delete"),
        ("team_members", "create"),
        ("team_members", "update"),
        ("team_members", "delete"),
    },
    "admin": set(),
}


def denied_by_design(user: AuthUser, uses: frozenset[tuple[str, str]]) -> bool:
    """Whether a statement using these (table, action) pairs may be denied outright."""
    kind = "admin" if user.is_admin else "user" if user.id is not None else "anonymous"
    return bool(uses & _DENIED[kind])


def ddl(dialect: str) -> list[str]:
    """CREATE TABLE statements for one database (no foreign keys: hidden rows stay hidden)."""
    types = {
        "postgres": {"int": "integer", "text": "text", "ts": "timestamp"},
        "mysql": {"int": "integer", "text": "varchar(100)", "ts": "datetime"},
        "sqlite": {"int": "INTEGER", "text": "TEXT", "ts": "TIMESTAMP"},
    }[dialect]
    out = []
    for table in TABLES:
        cols = ", ".join(
            f"{c.name} {types[c.kind]}{'' if c.nullable else ' NOT NULL'}{' PRIMARY KEY' if c.name == 'id' else ''}"
            for c in table.cols
        )
        suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if dialect == "mysql" else ""
        out.append(f"CREATE TABLE {table.name} ({cols}){suffix}")
    return out
