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
"""Most values looked at to find a lower bound of one nested value's size (past it, the
value is encoded and measured instead)."""
_BATCH_BYTES = 1 << 20
"""Rows are encoded in batches of about this many bytes (by their lower bound): one call of
the C encoder per batch, not per row."""


def too_large(limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"response too large: more than {limit} bytes (max_response_bytes); select fewer columns or rows",
        hint="select fewer or smaller columns, or ask for fewer rows (limit, Range)",
    )


def at_least(value: Any, budget: int) -> int:
    """A lower bound of the length of ``value``'s JSON encoding — text at least its length
    and quotes, binary its base64 length, keys their length, anything else a byte — that
    stops counting once it passes ``budget``.

    >>> at_least({"a": "x" * 10, "b": None}, 100), len(b'{"a":"xxxxxxxxxx","b":null}')
    (24, 27)
    """
    if value.__class__ is not dict:
        return _walk(value, budget)
    size = 1 if value else 2  # {"k":v,"k":v}
    nested = []
    for key, item in value.items():
        size += len(key) + 4 if key.__class__ is str else 4
        cls = item.__class__
        if cls is str:
            size += len(item) + 2
        elif cls is dict or cls is list:
            nested.append(item)
        elif cls is bytes:
            size += len(item) * 4 // 3
        else:
            size += 1
    for item in nested:
        if size > budget:
            break
        size += _walk(item, budget - size)
    return size


def _walk(value: Any, budget: int) -> int:
    size = 0
    stack = [value]
    seen = 0
    while stack and seen < _WALK_BUDGET and size <= budget:
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
    return size


def dumps_json(value: Any, limit: int) -> bytes:
    """``jsonout.dumps(value)``, refused (:class:`ResponseTooLarge`) past ``limit`` bytes.
    A list (of rows) is encoded in batches: a row is refused before it is encoded when its
    lower bound alone passes what is left, and the total is checked after every batch."""
    if not isinstance(value, list):
        if at_least(value, limit) > limit:
            raise too_large(limit)
        out = jsonout.dumps(value)
        if len(out) > limit:
            raise too_large(limit)
        return out
    parts: list[bytes] = []
    used = 2  # the brackets
    batch: list[Any] = []
    pending = 0  # the batch's lower bound, commas included

    def flush() -> None:
        nonlocal used, pending
        inner = jsonout.dumps(batch)[1:-1]
        used += len(inner) + (1 if parts else 0)
        if used > limit:
            raise too_large(limit)
        parts.append(inner)
        batch.clear()
        pending = 0

    for item in value:
        pending += at_least(item, limit - used - pending) + (1 if parts or batch else 0)
        if used + pending > limit:
            raise too_large(limit)
        batch.append(item)
        if pending >= _BATCH_BYTES:
            flush()
    if batch:
        flush()
    if used > limit:  # no rows, and a limit under 2 bytes
        raise too_large(limit)
    return b"[" + b",".join(parts) + b"]"


def _csv_at_least(values: list[Any], budget: int) -> int:
    """A lower bound of the length of one CSV line: its fields (JSON values as their JSON
    text), the commas and the line end."""
    size = len(values) + 1
    for value in values:
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            size += len(value) * 4 // 3
        elif isinstance(value, (dict, list)):
            size += at_least(value, budget - size)
    return size


def dumps_csv(columns: Sequence[str], rows: list[dict[str, Any]], limit: int) -> bytes:
    """``jsonout.dumps_csv(columns, rows)``, refused past ``limit`` bytes, row by row."""
    lines = [",".join(jsonout.csv_field(c) for c in columns).encode("utf-8", "replace") + b"\r\n"]
    used = len(lines[0])
    if used > limit:
        raise too_large(limit)
    for row in rows:
        values = [row.get(c) for c in columns]
        if _csv_at_least(values, limit - used) > limit - used:
            raise too_large(limit)
        line = (",".join(jsonout.csv_field(v) for v in values) + "\r\n").encode("utf-8", "replace")
        used += len(line)
        if used > limit:
            raise too_large(limit)
        lines.append(line)
    return b"".join(lines)
