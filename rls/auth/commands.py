"""`rest auth setup` and `rest auth user …`."""

from __future__ import annotations

from typing import Any


def register_user_commands(commands: Any) -> None:
    """Add ``setup`` and ``user`` to the ``rest auth`` sub-commands."""
    del commands
