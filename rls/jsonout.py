"""JSON out: database values (decimals, dates, bytes, UUIDs) as JSON, compactly.

Encoding never fails with a traceback: a value of a type not listed here is sent as its
text (``str``), and a number JSON cannot hold (a non-finite float, such as the SUM of large
doubles on SQLite, or a number past about 1.8e308) is an ``InvalidValue`` — a 400 "value
out of range", as PostgreSQL answers an overflowing aggregate.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import uuid
from typing import Any

from rls.errors import InvalidValue

# Python refuses to turn an integer of more digits than this into text (sys.int_info).
_INTEGER_DIGITS = 4000


class OutOfRange(InvalidValue):
    postgrest_code = "22003"


def _out_of_range() -> OutOfRange:
    return OutOfRange("value out of range: the result holds a number JSON cannot represent (not finite)")


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # Numbers stay numbers: integral decimals (SUM over integers on PostgreSQL and
        # MySQL) as integers, the rest as floats; none that is not a finite number.
        if not value.is_finite():
            raise _out_of_range()
        if value == value.to_integral_value() and value.adjusted() < _INTEGER_DIGITS:
            return int(value)
        number = float(value)
        if not math.isfinite(number):
            raise _out_of_range()
        return number
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    # A driver's object of a type rls has no kind for (an address, a range…): its text.
    return str(value)


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default, allow_nan=False)
_ascii_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=_default, allow_nan=False)


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON.

    >>> import decimal; dumps({"n": decimal.Decimal("6"), "d": None})
    b'{"n":6,"d":null}'
    >>> import ipaddress; dumps([ipaddress.ip_address("1.2.3.4")])
    b'["1.2.3.4"]'
    >>> dumps([float("inf")])
    Traceback (most recent call last):
    rls.jsonout.OutOfRange: value out of range: the result holds a number JSON cannot represent (not finite)
    """
    try:
        return _encode(_encoder, value).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a stored value from elsewhere, say): escaped, the text is
        # still valid JSON in valid UTF-8.
        return _encode(_ascii_encoder, value).encode("ascii")


def _encode(encoder: json.JSONEncoder, value: Any) -> str:
    try:
        return encoder.encode(value)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, UnicodeError):
            raise
        # A float that is not finite (allow_nan=False), an integer too long for text.
        raise _out_of_range() from None


def csv_field(value: Any) -> str:
    """One CSV field (RFC 4180): the value as the JSON answer gives it — text as is,
    numbers and booleans as JSON writes them, JSON values as compact JSON — empty for
    NULL; quoted when it holds a comma, a quote or a line break, or is the empty text
    (so ``""`` is not NULL), inner quotes doubled.

    >>> [csv_field(v) for v in (None, "", 'say "hi", then\\ngo', True, 1.5, {"a": [1]})]
    ['', '""', '"say ""hi"", then\\ngo"', 'true', '1.5', '"{""a"":[1]}"']
    """
    if value is None:
        return ""
    if not isinstance(value, (str, bool, int, float, dict, list)):
        value = _default(value)
    text = value if isinstance(value, str) else _encode(_encoder, value)
    if text == "" or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def dumps_csv(columns: list[str] | tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    """Rows as CSV: a header row of ``columns``, then one line per row, CRLF-terminated."""
    lines = [",".join(csv_field(c) for c in columns)]
    lines += [",".join(csv_field(row.get(c)) for c in columns) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace")
