"""PostgREST's request headers, parsed strictly: ``Prefer``, ``Range``, ``Accept``.

A request that carries any of them (or the Supabase client's ``Accept-Profile`` /
``Content-Profile``) is answered the PostgREST way (:attr:`Negotiated.postgrest`);
without them the original server's answers stay exactly as they were. Nothing unknown
passes: an unrecognised preference, a malformed range or an unsupported media type is a
4xx, never silently ignored (a ``tx=rollback`` that is not understood must not commit).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rls.errors import BadRequest, NotAcceptable, RangeNotSatisfiable


class Media(enum.Enum):
    """What a response body is."""

    JSON = "application/json"
    OBJECT = "application/vnd.pgrst.object+json"  # one row as an object (``.single()``)
    CSV = "text/csv"


_MEDIA = {
    "application/json": Media.JSON,
    "application/*": Media.JSON,
    "*/*": Media.JSON,
    "application/vnd.pgrst.array+json": Media.JSON,
    "application/vnd.pgrst.object+json": Media.OBJECT,
    "application/vnd.pgrst.object": Media.OBJECT,
    "text/csv": Media.CSV,
    "text/*": Media.CSV,
}
PROFILES = frozenset({"public"})
"""The one schema rls serves, under the name PostgREST clients use by default."""


@dataclass(frozen=True, slots=True)
class Accept:
    """The chosen media type; ``strip_nulls``: ``nulls=stripped`` (keys with null dropped)."""

    media: Media = Media.JSON
    strip_nulls: bool = False


@dataclass(frozen=True, slots=True)
class Preferences:
    """The ``Prefer`` header: each field None when not asked for."""

    return_: str | None = None  # minimal | headers-only | representation
    count: str | None = None  # exact | planned | estimated
    resolution: str | None = None  # merge-duplicates | ignore-duplicates
    missing: str | None = None  # default | null
    handling: str | None = None  # strict | lenient
    tx: str | None = None  # commit | rollback
    max_affected: int | None = None
    given: tuple[str, ...] = ()  # as written, in order (for Preference-Applied)

    def applied(self, *names: str) -> str | None:
        """``Preference-Applied``: the preferences among ``names`` that were given."""
        out = [g for g in self.given if g.partition("=")[0] in names]
        return ", ".join(out) if out else None


_CHOICES: Mapping[str, frozenset[str]] = {
    "return": frozenset({"minimal", "headers-only", "representation"}),
    "count": frozenset({"exact", "planned", "estimated"}),
    "resolution": frozenset({"merge-duplicates", "ignore-duplicates"}),
    "missing": frozenset({"default", "null"}),
    "handling": frozenset({"strict", "lenient"}),
    "tx": frozenset({"commit", "rollback"}),
}


def parse_prefer(values: list[str]) -> Preferences:
    """Every ``Prefer`` header value (comma-separated ``name=value`` tokens); an unknown
    name or value, or a preference given twice with different values, is a 400.

    >>> p = parse_prefer(["return=representation, count=exact"])
    >>> p.return_, p.count, p.given
    ('representation', 'exact', ('return=representation', 'count=exact'))
    """
    found: dict[str, str] = {}
    given: list[str] = []
    for value in values:
        for token in value.split(","):
            token = token.strip()
            if not token:
                continue
            name, eq, choice = (part.strip() for part in token.partition("="))
            _check_preference(name, eq, choice)
            if found.get(name, choice) != choice:
                raise BadRequest(f"invalid Prefer header: {name} given twice")
            if name not in found:
                given.append(f"{name}={choice}")
            found[name] = choice
    limit = found.get("max-affected")
    return Preferences(
        found.get("return"),
        found.get("count"),
        found.get("resolution"),
        found.get("missing"),
        found.get("handling"),
        found.get("tx"),
        int(limit) if limit is not None else None,
        tuple(given),
    )


def _check_preference(name: str, eq: str, choice: str) -> None:
    if name == "max-affected" and eq and choice.isascii() and choice.isdigit() and len(choice) <= 18:
        return
    if name in _CHOICES and eq and choice in _CHOICES[name]:
        return
    raise BadRequest(f"invalid Prefer header: unsupported preference {name}{eq}{choice}"[:200])


_RANGE = re.compile(r"(\d{1,18})-(\d{0,18})")


@dataclass(frozen=True, slots=True)
class Range:
    """Rows ``first`` … ``last`` (inclusive; ``last`` None: to the end)."""

    first: int
    last: int | None = None

    def intersect(self, other: Range) -> Range:
        last = [x for x in (self.last, other.last) if x is not None]
        return Range(max(self.first, other.first), min(last) if last else None)

    @property
    def limit(self) -> int | None:
        return None if self.last is None else max(0, self.last - self.first + 1)


def parse_range(value: str | None, unit: str | None) -> Range | None:
    """``Range: 0-9`` (with ``Range-Unit: items``, the only unit) → rows 0 … 9.

    >>> parse_range("5-", "items")
    Range(first=5, last=None)
    """
    if value is None:
        return None
    if unit is not None and unit.strip().lower() != "items":
        raise BadRequest("invalid Range-Unit: only items is supported")
    match = _RANGE.fullmatch(value.strip().removeprefix("items="))
    if match is None:
        raise BadRequest("invalid Range header: expected <first>-<last>, e.g. 0-9")
    first, last = int(match[1]), int(match[2]) if match[2] else None
    if last is not None and last < first:
        raise RangeNotSatisfiable("Requested range not satisfiable")
    return Range(first, last)


def parse_accept(value: str | None) -> Accept:
    """The best media type of an ``Accept`` header that rls can produce (406 if none).

    >>> parse_accept("text/csv;q=0.5, application/vnd.pgrst.object+json").media
    <Media.OBJECT: 'application/vnd.pgrst.object+json'>
    """
    if value is None or not value.strip():
        return Accept()
    offers: list[tuple[float, int, Accept]] = []
    for i, item in enumerate(value.split(",")):
        kind, *params = (p.strip() for p in item.split(";"))
        options = dict(p.partition("=")[::2] for p in params)
        media = _MEDIA.get(kind.lower())
        q = _quality(options.get("q", "1"))
        if media is None or q <= 0:
            continue
        strip = options.get("nulls") == "stripped" and media is not Media.CSV
        offers.append((-q, i, Accept(media, strip)))
    if not offers:
        raise NotAcceptable(f"None of these media types are available: {value.strip()[:200]}")
    return min(offers, key=lambda o: (o[0], o[1]))[2]


def _quality(text: str) -> float:
    try:
        q = float(text)
    except ValueError:
        return 0.0
    return q if 0 <= q <= 1 else 0.0


Header = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What a request asked for through its headers."""

    prefer: Preferences = field(default_factory=Preferences)
    accept: Accept = field(default_factory=Accept)
    range: Range | None = None
    postgrest: bool = False


_POSTGREST_SIGNALS = ("Prefer", "Range", "Accept-Profile", "Content-Profile")


def negotiate(header: Header, method: str) -> Negotiated:
    """Parse the PostgREST headers of a request (``header`` reads one by name)."""
    prefer_text = header("Prefer")
    prefer = parse_prefer([prefer_text]) if prefer_text else Preferences()
    accept = parse_accept(header("Accept"))
    for name in ("Accept-Profile", "Content-Profile"):
        profile = header(name)
        if profile is not None and profile.strip() not in PROFILES:
            raise NotAcceptable(f"The schema must be one of the following: {', '.join(sorted(PROFILES))}")
    # Range applies to reads only. PostgREST ignores it on a write; rls refuses it, as it
    # refuses limit and offset there: a client that meant `Range: 0-0` on a DELETE would
    # otherwise lose every matching row.
    if method in ("GET", "HEAD"):
        range_ = parse_range(header("Range"), header("Range-Unit"))
    elif header("Range") is not None or header("Range-Unit") is not None:
        raise BadRequest("a write takes no Range header: paging applies to reads only")
    else:
        range_ = None
    postgrest = (
        method == "HEAD"
        or accept.media is not Media.JSON
        or accept.strip_nulls
        or any(header(name) is not None for name in _POSTGREST_SIGNALS)
    )
    return Negotiated(prefer, accept, range_, postgrest)


__all__ = ["Accept", "Media", "Negotiated", "Preferences", "Range", "negotiate"]
