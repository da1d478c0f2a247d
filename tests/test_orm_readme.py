"""The README's embedding example and docs/embedding.md's examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_sqlalchemy_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- executed by tests/test_orm_readme.py -->\n```python\n(.*?)```", text, re.S)
    assert match is not None, "the README lost its embedding example"
    monkeypatch.chdir(tmp_path)  # the example writes app.db in the working directory
    exec(compile(match.group(1), "README.md", "exec"), {})  # our own README
    assert (tmp_path / "app.db").exists()


EMBEDDING = README.parent / "docs" / "embedding.md"
_EXAMPLE = re.compile(r"<!-- executed: ([\w-]+) -->\n```python\n(.*?)```", re.S)


def _examples() -> list[Any]:
    found = _EXAMPLE.findall(EMBEDDING.read_text(encoding="utf-8"))
    return [pytest.param(code, id=name) for name, code in found]


def test_the_embedding_page_has_its_examples() -> None:
    names = {p.id for p in _examples()}
    assert names == {"sqlalchemy", "creator", "connect", "statement-timeout", "asyncio", "django"}


@pytest.mark.parametrize("code", _examples())
def test_an_embedding_example_runs(tmp_path: Path, code: str) -> None:
    """Each example of docs/embedding.md, as written, in a fresh interpreter (Django's
    settings are process-wide) in an empty directory (the examples write app.db)."""
    env = {**os.environ, "PYTHONPATH": str(README.parent), "PYTHONWARNINGS": "error::ResourceWarning"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "app.db").exists()
