"""One module per database; this registry finds the dialect for a name or a URL."""

from __future__ import annotations

from dialects.base import Dialect, redact_url
from dialects.mysql import MySQL
from dialects.postgres import Postgres
from dialects.sqlite import SQLite

DIALECTS: dict[str, type[Dialect]] = {d.name: d for d in (SQLite, Postgres, MySQL)}
_BY_SCHEME: dict[str, type[Dialect]] = {s: d for d in DIALECTS.values() for s in d.URL_SCHEMES}


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name`` (``sqlite``, ``postgres``, ``mysql``)."""
    try:
        return DIALECTS[name]()
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; expected one of {', '.join(DIALECTS)}") from None


def dialect_for_url(url: str) -> Dialect:
    """The dialect a database URL selects by its scheme.

    >>> dialect_for_url("sqlite:///tmp/x.db").name
    'sqlite'
    """
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _BY_SCHEME:
        raise ValueError(f"unsupported database URL {redact_url(url)!r}; expected sqlite://, postgres:// or mysql://")
    return _BY_SCHEME[scheme.lower()]()


__all__ = ["DIALECTS", "Dialect", "dialect_for_url", "get_dialect", "redact_url"]
