"""The policy engine: for a table, an action and a user, the compiled predicate or a denial."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from dialects.base import Dialect
from rls.auth.principal import AuthUser
from rls.cache import BoundedCache
from rls.errors import Denied, LoginRequired, RlsError
from rls.policy.compile import Predicate, UserClass, compile_policies
from rls.policy.model import Policy, select_policies
from rls.policy.store import PolicySet
from rls.schema import Schema, Table

log = logging.getLogger("rls.policy")


@dataclass(frozen=True)
class Decision:
    """What a request may do: ``predicate`` and the cache ``key`` describing it."""

    key: Hashable
    predicate: Predicate


def denial(user: AuthUser) -> RlsError:
    """The original's messages: 401 for the anonymous user, 403 for everyone else."""
    return Denied("unauthorized") if user.is_authenticated else LoginRequired("login required")


class PolicyEngine:
    """Compiles (table, action, class of user) once per policy set and schema version."""

    def __init__(
        self,
        policies: Callable[[], PolicySet],
        schema: Callable[[], tuple[int, Schema]],
        dialect: Dialect,
        *,
        cache_size: int = 4096,
    ):
        self._policies = policies
        self._schema = schema
        self.dialect = dialect
        self._cache: BoundedCache[Decision] = BoundedCache(cache_size)
        self._warned: set[tuple[str, str]] = set()

    def decide(self, table: Table, action: str, user: AuthUser) -> Decision:
        """The predicate for ``user`` doing ``action`` on ``table``; raises the denial."""
        decision = self.predicate(table, action, UserClass.of(user))
        if decision.predicate.denied:
            raise denial(user)
        return decision

    def predicate(self, table: Table, action: str, user_class: UserClass) -> Decision:
        """The compiled predicate (possibly a denial) and its cache key."""
        policy_set = self._policies()
        schema_version, schema = self._schema()
        key = (policy_set.version, schema_version, table.name, action, user_class.value)
        return self._cache.hit(key) or self._cache.get_or_build(
            key, lambda: Decision(key, self._compile(policy_set.policies, table, action, user_class, schema))
        )

    @property
    def cache(self) -> BoundedCache[Decision]:
        """The compiled predicates (its hit and miss counts feed the metrics)."""
        return self._cache

    def has_policy(self, table: str, action: str) -> bool:
        """Whether any policy row applies to (table, action) at all."""
        return bool(select_policies(self._policies().policies, table, action))

    @property
    def version(self) -> tuple[int, int]:
        """Changes whenever the policies or the schema do."""
        return self._policies().version, self._schema()[0]

    def _compile(
        self, policies: tuple[Policy, ...], table: Table, action: str, user_class: UserClass, schema: Schema
    ) -> Predicate:
        selected = select_policies(policies, table.name, action)
        if not selected and (table.name, action) not in self._warned:
            self._warned.add((table.name, action))
            log.warning("no policy for %s/%s: denied (add one with `rest auth policy add`)", table.name, action)
        return compile_policies(selected, table, schema, user_class, self.dialect)
