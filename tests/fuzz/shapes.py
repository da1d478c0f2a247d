"""One generated case: a user, a SELECT (:mod:`tests.fuzz.selects`) or a DML statement
(:mod:`tests.fuzz.writes`), its per-database variants and its parameters."""

from __future__ import annotations

import re

from tests.fuzz.generator import DIALECTS, Case
from tests.fuzz.selects import SelectShapes
from tests.fuzz.world import USERS
from tests.fuzz.writes import DmlShapes

_MARK = re.compile(r"\{p(\d+)\}")


class Statements(SelectShapes, DmlShapes):
    def case(self, index: int, user: str | None = None, dml: float = 0.35) -> Case:
        user = user or self.pick(USERS)
        self._reset(user)
        if self.chance(dml):
            kind, sql, target = "dml", *self.dml()
        else:
            kind, sql, target = "select", self.select(), None
        variants = sql if isinstance(sql, dict) else dict.fromkeys(DIALECTS, sql)
        # Number the placeholders in text order (the PostgreSQL text defines the order;
        # every variant uses the same placeholders in the same order).
        order = [int(m) for m in _MARK.findall(variants["postgres"] or "")]
        params = tuple(self.params[i] for i in order)
        for d, text in variants.items():
            if text is not None:
                if [int(m) for m in _MARK.findall(text)] != order:
                    variants[d] = None  # pragma: no cover - a variant that reorders: skip it
                else:
                    variants[d] = _MARK.sub("{p}", text)
        features = tuple(sorted(self.features))
        named = bool(params) and self.chance(0.2)
        if named:
            features = (*features, "named")
        return Case(index, user, kind, variants, params, frozenset(self.uses), features, target, self.shape, named)
