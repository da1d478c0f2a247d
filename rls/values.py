"""Read request values (query-string text, JSON body values) as Python values of a column's kind.

A value that does not fit its column is refused here, with a message naming the
column, so every database sees the same typed parameters (the original bound
everything as text, and ``flag=eq.true`` matched nothing on SQLite).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import math
import sys
import uuid
from collections.abc import Callable
from typing import Any

from rls import jsonin
from rls.errors import InvalidValue
from rls.schema import Kind

_TRUE = frozenset({"true", "t", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "f", "0", "no", "n", "off"})


_INT64 = range(-(2**63), 2**63)


def _integer(text: str) -> int:
    if not text.strip().lstrip("+-").isdigit():
        raise ValueError(text)
    return _in_int64(int(text))


def _in_int64(value: int) -> int:
    # Wider than any database's integer column; drivers would fail on it, not refuse it.
    if value not in _INT64:
        raise ValueError(value)
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


# SQLite stores DECIMAL as a double: past this, it stores infinity and every later read
# of the row fails. The other databases' DECIMAL columns are narrower still.
_DECIMAL_LIMIT = decimal.Decimal("1e308")


def _decimal(text: str) -> decimal.Decimal:
    return _finite_decimal(decimal.Decimal(text))


def _finite_decimal(value: decimal.Decimal) -> decimal.Decimal:
    if not value.is_finite() or abs(value) >= _DECIMAL_LIMIT:
        raise ValueError(value)
    return value


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


# A timestamp is stored in UTC (PostgreSQL's timestamptz, MySQL's TIMESTAMP) and read
# back in the session's time zone: within a day of the ends of years 1–9999 it may become a
# year no driver can read (0001-01-01T00:00+05:00 is year 0 in UTC), so it is refused.
_EARLIEST = dt.datetime(1, 1, 2)
_LATEST = dt.datetime(9999, 12, 30, 23, 59, 59, 999999)


def _datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if not _EARLIEST <= value.replace(tzinfo=None) <= _LATEST:
        raise ValueError(text)
    return value


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _bytes(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


def _json(text: str) -> Any:
    # The depth limit (max_json_depth) is applied to the query string before this runs.
    return jsonin.loads(text, max_depth=sys.maxsize)


FROM_TEXT: dict[Kind, Callable[[str], Any]] = {
    Kind.INTEGER: _integer,
    Kind.FLOAT: _float,
    Kind.DECIMAL: _decimal,
    Kind.BOOLEAN: _boolean,
    Kind.DATE: dt.date.fromisoformat,
    Kind.DATETIME: _datetime,
    Kind.TIME: _time,
    Kind.BYTES: _bytes,
    Kind.UUID: _uuid,
    Kind.JSON: _json,
}
"""How to read query-string text for each kind; kinds not listed keep the text."""

EXPECTED = {
    Kind.INTEGER: "an integer",
    Kind.FLOAT: "a number",
    Kind.DECIMAL: "a finite number below 1e308",
    Kind.BOOLEAN: "true or false",
    Kind.DATE: "an ISO 8601 date",
    Kind.DATETIME: "an ISO 8601 date and time between 0001-01-02 and 9999-12-30",
    Kind.TIME: "an ISO 8601 time",
    Kind.BYTES: "base64 text",
    Kind.UUID: "a UUID",
    Kind.TEXT: "a string",
    Kind.JSON: "JSON",
}


def from_text(kind: Kind, text: str, column: str) -> Any:
    """The query-string ``text`` as a value for ``column`` of ``kind``.

    >>> from_text(Kind.BOOLEAN, "true", "done"), from_text(Kind.INTEGER, "7", "id")
    (True, 7)
    """
    read = FROM_TEXT.get(kind)
    if read is None:
        return text
    try:
        return read(text)
    except (ValueError, ArithmeticError, binascii.Error, RecursionError):
        raise InvalidValue(f"invalid value for column {column}: expected {EXPECTED[kind]}") from None


def from_json(kind: Kind, value: Any, column: str) -> Any:
    """A JSON body ``value`` as a value for ``column`` of ``kind`` (None stays None).

    >>> from_json(Kind.DECIMAL, 1.5, "price"), from_json(Kind.JSON, {"a": [1]}, "data")
    (Decimal('1.5'), {'a': [1]})
    """
    if value is None or kind is Kind.JSON:
        return value
    if isinstance(value, (dict, list)):
        raise InvalidValue(f"invalid value for column {column}: expected a scalar, not {type(value).__name__}")
    if kind is Kind.BOOLEAN and isinstance(value, bool):
        return value
    if isinstance(value, bool) or (kind is Kind.BOOLEAN and not isinstance(value, str)):
        raise InvalidValue(f"invalid value for column {column}: expected {EXPECTED.get(kind, 'a value')}")
    if kind is Kind.INTEGER and isinstance(value, int):
        return from_text(kind, str(value), column)
    if kind is Kind.FLOAT and isinstance(value, (int, float)):
        return from_text(kind, repr(value), column)
    if kind is Kind.DECIMAL and isinstance(value, (int, float)):
        try:
            return _finite_decimal(decimal.Decimal(repr(value)))
        except ValueError:
            raise InvalidValue(f"invalid value for column {column}: expected a finite number below 1e308") from None
    if isinstance(value, (int, float)) and kind in (Kind.TEXT, Kind.OTHER):
        return value if kind is Kind.OTHER else str(value)
    if not isinstance(value, str):
        raise InvalidValue(f"invalid value for column {column}: expected {EXPECTED.get(kind, 'a value')}")
    return from_text(kind, value, column)


def text_converter(kind: Kind, column: str, adapter: Callable[[Any, str | None], Any] | None) -> Callable[[Any], Any]:
    """``from_text`` then the dialect's adapter, resolved once (the per-request path).

    >>> text_converter(Kind.INTEGER, "id", None)("7")
    7
    """
    read = FROM_TEXT.get(kind)
    expected = EXPECTED.get(kind, "a value")

    def convert(text: Any) -> Any:
        if read is None:
            value = text
        else:
            try:
                value = read(text)
            except (ValueError, ArithmeticError, binascii.Error, RecursionError):
                raise InvalidValue(f"invalid value for column {column}: expected {expected}") from None
        return value if adapter is None or value is None else adapter(value, text)

    return convert


def storable_text(text: str) -> bool:
    """Text every database driver can store: encodable as UTF-8 (no lone surrogates, which
    JSON allows) and without NUL.

    >>> storable_text("ok"), storable_text("a\\x00b"), storable_text("\\ud800")
    (True, False, False)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def ends_in_escape(pattern: str, escape: str = "\\") -> bool:
    r"""Whether a LIKE ``pattern`` ends in its escape character with nothing to escape —
    PostgreSQL raises on it, and only on a row whose text matches the rest (the error
    would tell which rows match).

    >>> ends_in_escape("ab\\"), ends_in_escape("ab\\\\"), ends_in_escape("ab!", "!")
    (True, False, True)
    """
    return (len(pattern) - len(pattern.rstrip(escape))) % 2 == 1
