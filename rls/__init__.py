"""rls: row-level security for any SQL database, as a library, a REST server and a CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # typed re-exports for type checkers; at run time they load on first use
    from rls.auth.principal import AuthUser as AuthUser
    from rls.config import Config as Config
    from rls.config import load_config as load_config
    from rls.database import Database as Database
    from rls.errors import Denied as Denied
    from rls.errors import Refused as Refused
    from rls.errors import RlsError as RlsError
    from rls.guard.async_connection import connect_async as connect_async
    from rls.guard.connection import connect as connect
    from rls.guard.guard import Guard as Guard
    from rls.guard.guard import Statement as Statement
    from rls.http.app import create_app as create_app
    from rls.policy.model import Policy as Policy

# Public names resolve lazily, so `import rls.errors` (which dialects do) stays cheap and
# free of import cycles.
_EXPORTS = {
    "Guard": "rls.guard.guard",
    "Statement": "rls.guard.guard",
    "connect": "rls.guard.connection",
    "connect_async": "rls.guard.async_connection",
    "AuthUser": "rls.auth.principal",
    "Policy": "rls.policy.model",
    "create_app": "rls.http.app",
    "Config": "rls.config",
    "load_config": "rls.config",
    "Database": "rls.database",
    "RlsError": "rls.errors",
    "Refused": "rls.errors",
    "Denied": "rls.errors",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rls' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = sorted(_EXPORTS)
