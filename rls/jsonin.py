"""JSON in: request bodies and JSON filter values, refused unless every database can take them.

JSON itself allows what no database stores: lone surrogates (``"\\ud800"``, as values or
keys), numbers that overflow to infinity (``1e400``) and unbounded nesting (which also
exhausts the parser's stack). Each is refused here, before any SQL is built.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

DEFAULT_MAX_DEPTH = 100

# A \uD800–\uDFFF escape: the only way a JSON text can produce a surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_STRICT = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


class JsonInputError(ValueError):
    """The text is not JSON every database accepts; the message says why."""


class JsonTooDeep(JsonInputError):
    """Nested deeper than the limit (``max_json_depth``)."""


def _reject_constant(name: str) -> Any:
    raise JsonInputError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonInputError("numbers must be finite (at most about 1.8e308)")
    return value


def loads(text: str | bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse ``text`` as JSON for a database.

    Raises:
        JsonInputError: not valid UTF-8 JSON, a non-finite number, nesting deeper than
            ``max_depth``, or a lone surrogate in a string or key.

    >>> loads('{"a": [1, 2.5]}')
    {'a': [1, 2.5]}
    >>> loads('[[[1]]]', max_depth=2)
    Traceback (most recent call last):
    rls.jsonin.JsonTooDeep: nested deeper than 2 levels
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonInputError("not valid UTF-8") from None
    # Cheap bound first: fewer brackets than the limit cannot nest deeper than it.
    if text.count("[") + text.count("{") > max_depth and deeper_than(text, max_depth):
        raise JsonTooDeep(f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except JsonInputError:
        raise
    except (ValueError, RecursionError):
        raise JsonInputError("not valid JSON") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            _STRICT.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            raise JsonInputError("strings must be valid Unicode text (no lone surrogates)") from None
    return value


def deeper_than(text: str, limit: int) -> bool:
    """Whether a JSON text nests ``[``/``{`` deeper than ``limit`` (brackets inside strings
    ignored); one pass without recursion, stopping as soon as the limit is passed.

    >>> deeper_than('[{"a": "]]]["}, [[]]]', 2), deeper_than('[{"a": "[[[["}]', 2)
    (True, False)
    """
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False
