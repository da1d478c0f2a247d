"""The principal of a request: the authenticated user, or the anonymous one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AuthUser:
    """Who a request or statement runs as.

    ``id`` is None for the anonymous user. ``claims`` holds every other claim of the
    token (``auth_user.<claim>`` in policy expressions).

    >>> AuthUser(id=None).is_authenticated, AuthUser(id=42).is_authenticated
    (False, True)
    """

    id: int | str | None = None
    is_admin: bool = False
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_authenticated(self) -> bool:
        return self.id is not None


ANONYMOUS = AuthUser()
