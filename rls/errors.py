"""The error tree: every failure the product reports, each with its HTTP status.

::

    RlsError                      500 internal
     ├── BadRequest               400 bad_request
     │    ├── UnknownColumn       400 unknown_column
     │    ├── InvalidValue        400 invalid_value
     │    ├── ConstraintViolation 400 constraint_violation   (not-null, check)
     │    └── Refused             400 refused                (the guard will not run it)
     ├── Unauthenticated          401 login_required
     │    ├── InvalidToken        401 invalid_token
     │    └── InvalidCredentials  401 invalid_credentials  (login: unknown user or wrong password)
     ├── Denied                   403 unauthorized
     │    ├── WithCheckViolation  403 unauthorized           (a write aborted itself on WITH CHECK)
     │    └── LoginRequired       401 login_required         (denied to the anonymous user)
     ├── NotFound                 404 not_found
     │    └── UnknownTable        404 unknown_table
     ├── MethodNotAllowed         405 method_not_allowed
     ├── NotAcceptable            406 not_acceptable         (Accept; NotSingular: PGRST116)
     ├── Conflict                 409 conflict               (unique, foreign key)
     ├── PayloadTooLarge          413 payload_too_large
     ├── RangeNotSatisfiable      416 PGRST103
     ├── TooManyRequests          429 too_many_requests
     └── Unavailable              503 unavailable            (database unreachable)
          └── StatementTimeout    503 timeout                (db.statement_timeout or a lock wait ran out)

The web layer reads only ``status``, ``code``, ``message`` and ``headers``; nothing in
an error's message may contain SQL, a table definition or a secret.
"""

from __future__ import annotations

from typing import ClassVar


class RlsError(Exception):
    """Root of every error rls raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, message: str = "internal server error", *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def to_json(self) -> dict[str, object]:
        """The error as the body of a response: the original's ``msg`` plus code and status."""
        return {"msg": self.message, "code": self.code, "status": self.status}


class BadRequest(RlsError):
    status = 400
    code = "bad_request"


class UnknownColumn(BadRequest):
    code = "unknown_column"


class InvalidValue(BadRequest):
    code = "invalid_value"


class ConstraintViolation(BadRequest):
    code = "constraint_violation"


class Refused(BadRequest):
    """The guard will not run this statement (parse error, forbidden construct, …)."""

    code = "refused"


class Unauthenticated(RlsError):
    status = 401
    code = "login_required"


class InvalidToken(Unauthenticated):
    code = "invalid_token"


class InvalidCredentials(Unauthenticated):
    """Login failed; the same for an unknown user and a wrong password."""

    code = "invalid_credentials"


class Denied(RlsError):
    """The policy denies this action to this user."""

    status = 403
    code = "unauthorized"


class WithCheckViolation(Denied):
    """A write aborted itself: a row it would write fails a WITH CHECK policy (answered
    as the denial for the user who made the request)."""


class LoginRequired(Denied):
    """A policy denies this to the anonymous user: log in (a denial, answered with 401)."""

    status = 401
    code = "login_required"


class NotFound(RlsError):
    status = 404
    code = "not_found"


class UnknownTable(NotFound):
    code = "unknown_table"


class MethodNotAllowed(RlsError):
    status = 405
    code = "method_not_allowed"


class Conflict(RlsError):
    status = 409
    code = "conflict"


class PayloadTooLarge(RlsError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(RlsError):
    status = 429
    code = "too_many_requests"


class Unavailable(RlsError):
    status = 503
    code = "unavailable"


class StatementTimeout(Unavailable):
    """A statement ran, or waited for a lock, longer than ``db.statement_timeout``."""

    code = "timeout"

    def __init__(self, message: str = "the database did not answer in time (db.statement_timeout); retry later"):
        super().__init__(message, headers={"Retry-After": "1"})


class NotAcceptable(RlsError):
    """No response in a media type the request accepts (``Accept``), or — PostgREST's
    ``application/vnd.pgrst.object+json`` — not exactly one row to answer with."""

    status = 406
    code = "not_acceptable"


class NotSingular(NotAcceptable):
    """One object was asked for (``.single()``) and the result has another number of rows
    (PostgREST's PGRST116; a write is rolled back)."""

    code = "PGRST116"


class RangeNotSatisfiable(RlsError):
    """The requested range starts past the last row (PostgREST's PGRST103)."""

    status = 416
    code = "PGRST103"
