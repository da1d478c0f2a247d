"""The README's embedding example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_sqlalchemy_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- executed by tests/test_orm_readme.py -->\n```python\n(.*?)```", text, re.S)
    assert match is not None, "the README lost its embedding example"
    monkeypatch.chdir(tmp_path)  # the example writes app.db in the working directory
    exec(compile(match.group(1), "README.md", "exec"), {})  # our own README
    assert (tmp_path / "app.db").exists()
