"""The WSGI front end: routing, JSON in and out, one error boundary."""

from rls.http.app import App, create_app

__all__ = ["App", "create_app"]
