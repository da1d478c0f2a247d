"""Answers of rows, bounded in size: ``max_response_bytes`` counted while rows are encoded.

The request's parts are bounded (URL, body, select items, page size), but their product is
not: one stored 1 MB value read back under 199 aliases, or a parent's value repeated by a
to-one embed on every row of a page, is an answer of hundreds of MB built from a request of
a few KB. The answer is bounded itself: rows are encoded one at a time and counted, and a
row whose values alone (a lower bound of its encoding) pass what is left is refused before
it is encoded — so at most the limit, plus one row, is ever built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rls import jsonout
from rls.errors import ResponseTooLarge

_WALK_BUDGET = 10_000
"""Most values looked at to find a lower bound of one row's size (past it, the row is
encoded and measured instead)."""


def too_large(limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"response too large: more than {limit} bytes (max_response_bytes); select fewer columns or rows",
        hint="select fewer or smaller columns, or ask for fewer rows (limit, Range)",
    )


def surely_longer(value: Any, budget: int) -> bool:
    """Whether the JSON encoding of ``value`` is surely longer than ``budget`` bytes: text
    is at least its length, binary at least its base64 length, keys their length.

    >>> surely_longer({"a": "x" * 10, "b": "y" * 10}, 20), surely_longer({"a": "x" * 10}, 20)
    (True, False)
    """
    size = 0
    stack = [value]
    seen = 0
    while stack and seen < _WALK_BUDGET:
        item = stack.pop()
        seen += 1
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, (bytes, bytearray, memoryview)):
            size += len(item) * 4 // 3
        elif isinstance(item, dict):  # {"k":v,"k":v}
            size += 1 + sum(len(k) + 4 for k in item if isinstance(k, str)) if item else 2
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):  # [v,v]
            size += 1 + len(item) if item else 2
            stack.extend(item)
        else:
            size += 1
        if size > budget:
            return True
    return False


def _csv_at_least(values: list[Any]) -> int:
    """A lower bound of the length of one CSV line: its text and base64 fields, the commas."""
    size = len(values) + 1  # commas and CRLF
    for value in values:
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            size += len(value) * 4 // 3
    return size


def dumps_json(value: Any, limit: int) -> bytes:
    """``jsonout.dumps(value)``, refused (:class:`ResponseTooLarge`) past ``limit`` bytes;
    a list (of rows) is encoded item by item, each checked before and after."""
    if not isinstance(value, list):
        if surely_longer(value, limit):
            raise too_large(limit)
        out = jsonout.dumps(value)
        if len(out) > limit:
            raise too_large(limit)
        return out
    parts: list[bytes] = []
    used = 2 + max(0, len(value) - 1)  # the brackets and commas
    for item in value:
        if surely_longer(item, limit - used):
            raise too_large(limit)
        encoded = jsonout.dumps(item)
        used += len(encoded)
        if used > limit:
            raise too_large(limit)
        parts.append(encoded)
    return b"[" + b",".join(parts) + b"]"


def dumps_csv(columns: Sequence[str], rows: list[dict[str, Any]], limit: int) -> bytes:
    """``jsonout.dumps_csv(columns, rows)``, refused past ``limit`` bytes, row by row."""
    lines = [",".join(jsonout.csv_field(c) for c in columns).encode("utf-8", "replace") + b"\r\n"]
    used = len(lines[0])
    for row in rows:
        values = [row.get(c) for c in columns]
        if _csv_at_least(values) > limit - used:
            raise too_large(limit)
        line = (",".join(jsonout.csv_field(v) for v in values) + "\r\n").encode("utf-8", "replace")
        used += len(line)
        if used > limit:
            raise too_large(limit)
        lines.append(line)
    return b"".join(lines)
