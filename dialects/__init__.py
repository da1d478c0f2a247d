"""One module per database; this registry finds the dialect for a name or a URL.

A dialect's module (and so its driver: psycopg, PyMySQL) is imported when that dialect is
first asked for, never before: ``from rls import Guard`` with a SQLite guard loads neither
driver, and an installation without the ``rls[postgres]`` / ``rls[mysql]`` extras works
with the databases it has drivers for.
"""

from __future__ import annotations

import importlib

from dialects.base import Dialect, redact_url

_MODULES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # name: (module, class, URL schemes — the class's URL_SCHEMES, kept here so that
    # reading a URL does not import every driver)
    "sqlite": ("dialects.sqlite", "SQLite", ("sqlite",)),
    "postgres": ("dialects.postgres", "Postgres", ("postgres", "postgresql")),
    "mysql": ("dialects.mysql", "MySQL", ("mysql", "mariadb")),
}
DIALECTS = tuple(_MODULES)
"""The names of the dialects."""
_BY_SCHEME = {scheme: name for name, (_, _, schemes) in _MODULES.items() for scheme in schemes}
_EXTRAS = {"postgres": "rls[postgres] (psycopg)", "mysql": "rls[mysql] (PyMySQL)"}


def dialect_class(name: str) -> type[Dialect]:
    """The dialect class called ``name``, its module imported now."""
    try:
        module, cls, _ = _MODULES[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; expected one of {', '.join(_MODULES)}") from None
    try:
        dialect: type[Dialect] = getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        raise ImportError(f"the {name} dialect needs its driver: install {_EXTRAS.get(name, name)} ({exc})") from exc
    return dialect


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name`` (``sqlite``, ``postgres``, ``mysql``)."""
    return dialect_class(name)()


def dialect_for_url(url: str) -> Dialect:
    """The dialect a database URL selects by its scheme.

    >>> dialect_for_url("sqlite:///tmp/x.db").name
    'sqlite'
    """
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _BY_SCHEME:
        raise ValueError(f"unsupported database URL {redact_url(url)!r}; expected sqlite://, postgres:// or mysql://")
    return get_dialect(_BY_SCHEME[scheme.lower()])


__all__ = ["DIALECTS", "Dialect", "dialect_class", "dialect_for_url", "get_dialect", "redact_url"]
