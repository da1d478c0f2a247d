"""What the database holds: tables, their columns with a portable type kind, primary keys."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rls.errors import UnknownColumn, UnknownTable


class Kind(enum.Enum):
    """A column's type as far as rls cares: how to read a value for it and how to return it."""

    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    TEXT = "text"
    JSON = "json"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    BYTES = "bytes"
    UUID = "uuid"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Column:
    """One column: ``name`` as stored, ``kind`` for conversions, ``type`` as the database says."""

    name: str
    kind: Kind
    type: str = ""
    nullable: bool = True
    has_default: bool = False
    computed: bool = False
    """The database sets its value on a write besides what the statement assigns (a
    generated column, ``ON UPDATE CURRENT_TIMESTAMP``, a BEFORE UPDATE trigger of its
    table): a check judged before the write cannot know its new value."""


@dataclass(frozen=True, slots=True)
class Table:
    """A table or view with its columns in database order."""

    name: str
    columns: Mapping[str, Column]
    primary_key: tuple[str, ...] = ()
    is_view: bool = False
    write_hazard: str | None = None
    """Why a write that enforces its policy itself cannot be trusted here (a table without
    transactions keeps what an aborted statement wrote; a REPLACE conflict clause deletes
    rows the statement never names), or None."""

    @classmethod
    def build(
        cls,
        name: str,
        columns: Iterable[Column],
        primary_key: Iterable[str] = (),
        *,
        is_view: bool = False,
        write_hazard: str | None = None,
    ) -> Table:
        return cls(name, {c.name: c for c in columns}, tuple(primary_key), is_view, write_hazard)

    def column(self, name: str) -> Column:
        """The column called ``name``; :class:`UnknownColumn` when there is none."""
        try:
            return self.columns[name]
        except KeyError:
            raise UnknownColumn(f"unknown column: {name}") from None

    @property
    def single_primary_key(self) -> str | None:
        return self.primary_key[0] if len(self.primary_key) == 1 else None


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A foreign key constraint: ``table(columns)`` references ``referenced(referenced_columns)``.

    ``name`` is the constraint's name as the database reports it (SQLite has none: the
    name PostgreSQL would give it by default, ``<table>_<columns>_fkey``)."""

    name: str
    table: str
    columns: tuple[str, ...]
    referenced: str
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Schema:
    """Every table and view of one database (one PostgreSQL schema), by name, and the
    foreign keys between them (both ends in this schema)."""

    tables: Mapping[str, Table] = field(default_factory=dict)
    foreign_keys: tuple[ForeignKey, ...] = ()

    @classmethod
    def build(cls, tables: Iterable[Table], foreign_keys: Iterable[ForeignKey] = ()) -> Schema:
        built = {t.name: t for t in tables}
        # Only keys whose both ends (and columns) are known: anything else cannot be embedded.
        keys = tuple(
            sorted(
                (
                    k
                    for k in foreign_keys
                    if _known(built, k.table, k.columns) and _known(built, k.referenced, k.referenced_columns)
                ),
                key=lambda k: (k.table, k.name),
            )
        )
        return cls(built, keys)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Iterable[str]]) -> Schema:
        """A schema of untyped columns, for tests and for the guard used without a database.

        >>> Schema.from_columns({"todos": ["id", "user_id"]}).table("todos").primary_key
        ()
        """
        return cls.build(Table.build(t, (Column(c, Kind.OTHER) for c in cols)) for t, cols in columns.items())

    def table(self, name: str) -> Table:
        """The table called ``name``; :class:`UnknownTable` when there is none."""
        try:
            return self.tables[name]
        except KeyError:
            raise UnknownTable(f"table does not exist: {name}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.tables


def _known(tables: Mapping[str, Table], table: str, columns: tuple[str, ...]) -> bool:
    found = tables.get(table)
    return found is not None and bool(columns) and all(c in found.columns for c in columns)


def default_foreign_key_name(table: str, columns: Iterable[str]) -> str:
    """PostgreSQL's default name for a foreign key constraint.

    >>> default_foreign_key_name("todos", ["project_id"])
    'todos_project_id_fkey'
    """
    return "_".join((table, *columns, "fkey"))
