"""JSON out: database values (decimals, dates, bytes, UUIDs) as JSON, compactly."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # Numbers stay numbers: integral decimals (SUM over integers on PostgreSQL and
        # MySQL) as integers, the rest as floats.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default, allow_nan=False)
_ascii_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=_default, allow_nan=False)


def dumps(value: Any) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON.

    >>> import decimal; dumps({"n": decimal.Decimal("6"), "d": None})
    b'{"n":6,"d":null}'
    """
    try:
        return _encoder.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a stored value from elsewhere, say): escaped, the text is
        # still valid JSON in valid UTF-8.
        return _ascii_encoder.encode(value).encode("ascii")


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
    text = value if isinstance(value, str) else _encoder.encode(value)
    if text == "" or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def dumps_csv(columns: list[str] | tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    """Rows as CSV: a header row of ``columns``, then one line per row, CRLF-terminated."""
    lines = [",".join(csv_field(c) for c in columns)]
    lines += [",".join(csv_field(row.get(c)) for c in columns) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace")
