"""Authorization: policies from auth_policies, compiled into predicates and injected."""
