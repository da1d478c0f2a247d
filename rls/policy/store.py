"""The policies of one database, kept current: every worker re-reads auth_policies at
most once per interval (default 1 s) and picks up changes made by any path — REST, the
CLI or plain SQL — with no per-request round trip and no trigger to install.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from rls.auth.tables import AUTH_POLICIES
from rls.database import Database, Session
from rls.errors import UnknownTable
from rls.policy.model import Policy

log = logging.getLogger("rls.policy")

POLICY_TABLE = AUTH_POLICIES
_SELECT = "SELECT id, table_name, action, expression, description FROM auth_policies ORDER BY id"


@dataclass(frozen=True)
class PolicySet:
    """The policies as read at one moment; ``version`` changes whenever they do."""

    version: int
    policies: tuple[Policy, ...]
    table_exists: bool = True


def read_policies(session: Session) -> tuple[Policy, ...]:
    """Every row of auth_policies (NULL text reads as empty)."""
    rows = session.execute(_SELECT).rows
    return tuple(
        Policy(str(table or ""), str(action or ""), str(expression or ""), str(description or ""), int(id_))
        for id_, table, action, expression, description in rows
    )


class PolicyStore:
    """Serves the current :class:`PolicySet`; reloads it when ``interval`` has passed.

    Only one thread reloads at a time; the others keep using the last set meanwhile. A
    missing auth_policies table is an empty set: every request is denied (fail closed).
    """

    def __init__(self, db: Database, *, interval: float = 1.0):
        self.db = db
        self.interval = interval
        self._current: PolicySet | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> PolicySet:
        current = self._current
        if current is not None and time.monotonic() - self._checked_at < self.interval:
            return current
        if current is not None and not self._lock.acquire(blocking=False):
            return current  # another thread is reloading
        if current is None:
            self._lock.acquire()
        try:
            return self._reload()
        finally:
            self._lock.release()

    def invalidate(self) -> None:
        """Re-read on next use (after a write through this process)."""
        self._checked_at = 0.0

    def _reload(self) -> PolicySet:
        if self._current is not None and time.monotonic() - self._checked_at < self.interval:
            return self._current  # reloaded by the thread we waited for
        try:
            policies = self.db.run(read_policies)
            exists = True
        except UnknownTable:
            policies, exists = (), False
        previous = self._current
        if previous is None or previous.policies != policies or previous.table_exists != exists:
            if not exists:
                log.warning("table %s does not exist: every request is denied until auth setup", POLICY_TABLE)
            self._current = PolicySet((previous.version + 1) if previous else 1, policies, exists)
        self._checked_at = time.monotonic()
        assert self._current is not None
        return self._current
