"""Policy compilation for one (table, action, class of user): first time against cached."""

from __future__ import annotations

from dialects import get_dialect
from rls.policy.compile import UserClass, compile_policies
from rls.policy.engine import PolicyEngine
from rls.policy.model import Policy, select_policies
from rls.policy.store import PolicySet
from rls.schema import Schema

SCHEMA = Schema.from_columns({"todos": ["id", "user_id", "team_id", "status"], "members": ["team_id", "user_id"]})
POLICIES = (
    Policy("all", "all", "user_id = auth_user.id"),
    Policy(
        "todos",
        "read",
        "status = 'public' OR team_id IN (SELECT m.team_id FROM members m WHERE m.user_id = auth_user.id)",
    ),
)
TODOS = SCHEMA.table("todos")


def test_policy_compile_first_time(benchmark):
    benchmark.group = "policy-compile"
    benchmark.extra_info["baseline"] = True
    dialect = get_dialect("postgres")
    selected = select_policies(POLICIES, "todos", "read")
    predicate = benchmark(lambda: compile_policies(selected, TODOS, SCHEMA, UserClass.USER, dialect))
    assert predicate.node is not None


def test_policy_compile_cached(benchmark):
    benchmark.group = "policy-compile"
    policy_set = PolicySet(1, POLICIES)
    engine = PolicyEngine(lambda: policy_set, lambda: (1, SCHEMA), get_dialect("postgres"))
    engine.predicate(TODOS, "read", UserClass.USER)
    decision = benchmark(lambda: engine.predicate(TODOS, "read", UserClass.USER))
    assert decision.predicate.node is not None
