"""The error tree: every failure the product reports, each with its HTTP status.

::

    class                         status  error                  code (PostgREST's)
    RlsError                      500 internal                    PGRSTX00
     ├── BadRequest               400 bad_request                 PGRST100 (query string), PGRST102 (body), …
     │    ├── UnknownColumn       400 unknown_column              42703 (filter, select), PGRST204 (body)
     │    ├── InvalidValue        400 invalid_value               22P02
     │    ├── ConstraintViolation 400 constraint_violation        23502 (not null), 23514 (check)
     │    ├── Unsupported         400 unsupported                 PGRST127   (an operator this database lacks)
     │    ├── ResponseTooLarge    400 response_too_large          PGRST100   (past max_response_bytes)
     │    └── Refused             400 refused                     PGRST100   (the guard will not run it)
     ├── Unauthenticated          401 login_required              PGRST302
     │    ├── InvalidToken        401 invalid_token               PGRST301
     │    └── InvalidCredentials  401 invalid_credentials         28P01  (login: unknown user or wrong password)
     ├── Denied                   403 unauthorized                42501
     │    ├── WithCheckViolation  403 unauthorized                42501  (a write aborted itself on WITH CHECK)
     │    └── LoginRequired       401 login_required              42501  (denied to the anonymous user)
     ├── NotFound                 404 not_found                   PGRST125 (no such path), PGRST116 (singular)
     │    └── UnknownTable        404 unknown_table               PGRST205
     ├── MethodNotAllowed         405 method_not_allowed          PGRST117
     ├── NotAcceptable            406 not_acceptable              PGRST107 (Accept)
     │    └── NotSingular         406 not_singular                PGRST116 (an object asked for, not one row)
     ├── Conflict                 409 conflict                    23505 (unique), 23503 (foreign key)
     ├── PayloadTooLarge          413 payload_too_large           54000
     ├── UnsupportedMediaType     415 unsupported_media_type      PGRST107 (Content-Type of the body)
     ├── RangeNotSatisfiable      416 range_not_satisfiable       PGRST103
     ├── TooManyRequests          429 too_many_requests           53400
     └── Unavailable              503 unavailable                 PGRST000 (database unreachable)
          └── StatementTimeout    503 timeout                     57014  (db.statement_timeout or a lock wait ran out)

The web layer reads only ``status``, ``code``, ``postgrest_code``, ``message``,
``details``, ``hint`` and ``headers``; nothing in an error's message may contain SQL, a
table definition, a value from a row or a secret.

An error body has PostgREST's shape beside the original's ``msg`` (see :meth:`RlsError.to_json`):
``code`` is the code PostgREST answers for the same fault (a PostgreSQL SQLSTATE or a
``PGRST…`` code), ``error`` is rls's own symbolic name. Where PostgREST has no such
fault (413, 429) the closest SQLSTATE class is used.
"""

from __future__ import annotations

from typing import ClassVar


class RlsError(Exception):
    """Root of every error rls raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    """rls's symbolic name for the fault (the key ``error`` of the body)."""
    postgrest_code: str = "PGRSTX00"
    """PostgREST's code for the same fault (the key ``code``); an instance may refine it."""

    def __init__(
        self,
        message: str = "internal server error",
        *,
        headers: dict[str, str] | None = None,
        postgrest_code: str | None = None,
        details: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        if postgrest_code is not None:
            self.postgrest_code = postgrest_code
        self.details = details
        self.hint = hint

    def to_json(self) -> dict[str, object]:
        """The error as the body of a response: the original's ``msg`` and PostgREST's
        ``message``, ``code``, ``details``, ``hint``, with the status and rls's name.

        >>> UnknownTable("table does not exist: t").to_json()["code"]
        'PGRST205'
        """
        return {
            "msg": self.message,
            "status": self.status,
            "message": self.message,
            "code": self.postgrest_code,
            "details": self.details,
            "hint": self.hint,
            "error": self.code,
        }


class BadRequest(RlsError):
    status = 400
    code = "bad_request"
    postgrest_code = "PGRST100"


class UnknownColumn(BadRequest):
    code = "unknown_column"
    postgrest_code = "42703"


class InvalidValue(BadRequest):
    code = "invalid_value"
    postgrest_code = "22P02"


class ConstraintViolation(BadRequest):
    code = "constraint_violation"
    postgrest_code = "23514"


class Unsupported(BadRequest):
    """A request this database cannot answer (an operator it lacks); PostgREST's "not
    implemented"."""

    code = "unsupported"
    postgrest_code = "PGRST127"


class ResponseTooLarge(BadRequest):
    """The answer would be longer than ``max_response_bytes`` (counted as rows are encoded)."""

    code = "response_too_large"
    postgrest_code = "PGRST100"


class Refused(BadRequest):
    """The guard will not run this statement (parse error, forbidden construct, …)."""

    code = "refused"
    postgrest_code = "PGRST100"


class Unauthenticated(RlsError):
    status = 401
    code = "login_required"
    postgrest_code = "PGRST302"


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    postgrest_code = "PGRST301"


class InvalidCredentials(Unauthenticated):
    """Login failed; the same for an unknown user and a wrong password."""

    code = "invalid_credentials"
    postgrest_code = "28P01"


class Denied(RlsError):
    """The policy denies this action to this user."""

    status = 403
    code = "unauthorized"
    postgrest_code = "42501"


class WithCheckViolation(Denied):
    """A write aborted itself: a row it would write fails a WITH CHECK policy (answered
    as the denial for the user who made the request)."""


class LoginRequired(Denied):
    """A policy denies this to the anonymous user: log in (a denial, answered with 401)."""

    status = 401
    code = "login_required"
    postgrest_code = "42501"


class NotFound(RlsError):
    status = 404
    code = "not_found"
    postgrest_code = "PGRST125"


class UnknownTable(NotFound):
    code = "unknown_table"
    postgrest_code = "PGRST205"


class MethodNotAllowed(RlsError):
    status = 405
    code = "method_not_allowed"
    postgrest_code = "PGRST117"


class Conflict(RlsError):
    status = 409
    code = "conflict"
    postgrest_code = "23505"


class PayloadTooLarge(RlsError):
    status = 413
    code = "payload_too_large"
    postgrest_code = "54000"


class UnsupportedMediaType(RlsError):
    """A body declared (``Content-Type``) as something rls does not read: only JSON in
    UTF-8 is."""

    status = 415
    code = "unsupported_media_type"
    postgrest_code = "PGRST107"


class TooManyRequests(RlsError):
    status = 429
    code = "too_many_requests"
    postgrest_code = "53400"


class Unavailable(RlsError):
    status = 503
    code = "unavailable"
    postgrest_code = "PGRST000"


class StatementTimeout(Unavailable):
    """A statement ran, or waited for a lock, longer than ``db.statement_timeout``."""

    code = "timeout"
    postgrest_code = "57014"

    def __init__(self, message: str = "the database did not answer in time (db.statement_timeout); retry later"):
        super().__init__(message, headers={"Retry-After": "1"})


class NotAcceptable(RlsError):
    """No response in a media type the request accepts (``Accept``), or — PostgREST's
    ``application/vnd.pgrst.object+json`` — not exactly one row to answer with."""

    status = 406
    code = "not_acceptable"
    postgrest_code = "PGRST107"


class NotSingular(NotAcceptable):
    """One object was asked for (``.single()``) and the result has another number of rows
    (PostgREST's PGRST116; a write is rolled back)."""

    code = "not_singular"
    postgrest_code = "PGRST116"


class RangeNotSatisfiable(RlsError):
    """The requested range starts past the last row (PostgREST's PGRST103)."""

    status = 416
    code = "range_not_satisfiable"
    postgrest_code = "PGRST103"
