"""The guard in Django 5: every statement a database connection runs — ORM, ``raw()``,
``extra()``, ``RawSQL``, ``cursor.execute`` — goes through an ``execute_wrapper`` that
rewrites it for the current user.

::

    # settings.py
    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "rls.integrations.django.RlsMiddleware"]

    # apps.py, in AppConfig.ready()
    from rls.integrations.django import install
    install(Guard(policies, dialect="postgres", schema=..., owner_fill=True))

:class:`RlsMiddleware` sets :data:`current_user` from ``request.user`` for the duration of
the request (``AuthUser(id=user.pk, is_admin=user.is_superuser)``; anonymous when not
authenticated); outside a request, set it yourself (``current_user.set(...)``). A write a
WITH CHECK policy denies raises :class:`rls.Denied`; a refused statement raises
:class:`rls.Refused` before it reaches the database.

On SQLite Django writes ``%s`` placeholders (its cursor turns them into ``?``): the guard
reads and writes that form (:func:`django_dialect`). Transaction control Django sends
(``BEGIN``, ``SAVEPOINT "s…_x1"``) passes through (:mod:`rls.guard.passthrough`). On
PostgreSQL a guarded connection compiles with Django's generic SQL compiler, so
``bulk_create`` writes multi-row ``VALUES`` instead of ``UNNEST`` of array parameters (a
table-valued function the guard refuses).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created

from dialects import get_dialect
from dialects.base import Dialect
from rls.auth.principal import ANONYMOUS, AuthUser
from rls.guard.guard import Guard

current_user: ContextVar[AuthUser] = ContextVar("rls_current_user", default=ANONYMOUS)
"""The user the guarded connections run as (set by :class:`RlsMiddleware`)."""


def django_dialect(name: str) -> Dialect:
    """The rls dialect for a Django backend: SQLite's with Django's ``%s`` placeholders."""
    dialect = get_dialect(name)
    if dialect.ESCAPE_PERCENT:
        return dialect
    pyformat = type(f"Django{type(dialect).__name__}", (type(dialect),), {"PLACEHOLDER": "%s", "ESCAPE_PERCENT": True})
    return pyformat()  # type: ignore[no-any-return]


class _Wrapper:
    def __init__(self, guard: Guard, user: Callable[[], AuthUser]):
        self.guard, self.user = guard, user

    def __call__(self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any) -> Any:
        who = self.user()
        if many:
            statements = [self.guard.rewrite(sql, who, p) for p in params]
            if not statements:
                return execute(sql, params, many, context)
            sql, params, hidden = statements[0].sql, [s.params for s in statements], False
        else:
            statement = self.guard.rewrite(sql, who, params)
            sql, params, hidden = statement.sql, statement.params, bool(statement.hidden_columns)
        try:
            result = execute(sql, params, many, context)
        except Exception as exc:
            cause = exc.__cause__ or exc  # Django wraps the driver's error
            if self.guard.dialect.is_policy_violation(cause):
                raise self.guard.error_for(cause, who) from exc  # type: ignore[misc]
            raise
        if hidden:
            context["cursor"].fetchall()  # rls's own check column: none asked for
        return result


def install(guard: Guard, *, using: str | None = None, user: Callable[[], AuthUser] | None = None) -> None:
    """Guard every statement of the Django connection ``using`` (all when None), now and
    on every (re)connection, as the user ``user()`` gives (default: :data:`current_user`).
    The guard's dialect must match the backend (build it with :func:`django_dialect`)."""
    wrapper = _Wrapper(guard, user or current_user.get)

    def attach(connection: Any) -> None:
        if (using is None or connection.alias == using) and not any(
            isinstance(w, _Wrapper) for w in connection.execute_wrappers
        ):
            connection.execute_wrappers.append(wrapper)
            _plain_bulk_inserts(connection.ops)

    def on_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
        attach(connection)

    connection_created.connect(on_connect, weak=False, dispatch_uid=f"rls.integrations.django:{using}")
    for connection in connections.all(initialized_only=True):
        attach(connection)


_POSTGRES_COMPILER = "django.db.backends.postgresql.compiler"


def _plain_bulk_inserts(ops: Any) -> None:
    """Django's PostgreSQL compiler bulk-inserts through ``SELECT * FROM UNNEST(%s::integer[],
    …)``, a table-valued function the guard refuses; Django's generic compiler (which the
    PostgreSQL one extends by this alone, and a ``$`` check on aliases) writes multi-row
    ``VALUES``, which the guard guards."""
    if getattr(ops, "compiler_module", None) == _POSTGRES_COMPILER:
        ops.compiler_module = "django.db.models.sql.compiler"
        ops._cache = None


def uninstall(using: str | None = None) -> None:
    """Remove the guard from the connections of this thread (``using``: one alias)."""
    for connection in connections.all(initialized_only=True):
        if using is None or connection.alias == using:
            connection.execute_wrappers[:] = [w for w in connection.execute_wrappers if not isinstance(w, _Wrapper)]


def user_of(request: Any) -> AuthUser:
    """The rls user for a Django request: its authenticated user, else anonymous."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    return AuthUser(id=user.pk, is_admin=bool(getattr(user, "is_superuser", False)))


class RlsMiddleware:
    """Runs each request as its user (after Django's AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[Any], Any]):
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        token = current_user.set(user_of(request))
        try:
            return self.get_response(request)
        finally:
            current_user.reset(token)


__all__ = ["RlsMiddleware", "current_user", "django_dialect", "install", "uninstall", "user_of"]
