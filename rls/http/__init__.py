"""The WSGI front end: routing, JSON in and out, one error boundary."""

from __future__ import annotations

from typing import Any

__all__ = ["App", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so modules the app imports (rls.auth.routes) may import rls.http.messages
    # without a cycle through rls.http.app.
    if name not in __all__:
        raise AttributeError(f"module 'rls.http' has no attribute {name!r}")
    from rls.http import app

    return getattr(app, name)
