"""rls: row-level security for any SQL database, as a library, a REST server and a CLI."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

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
