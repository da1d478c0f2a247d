"""`rest auth policy …`."""

from __future__ import annotations

from typing import Any


def register_policy_commands(commands: Any) -> None:
    """Add ``policy`` to the ``rest auth`` sub-commands."""
    del commands
