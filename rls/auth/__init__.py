"""Authentication: who is asking (users, passwords, tokens) — not what they may do."""
