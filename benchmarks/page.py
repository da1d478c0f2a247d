"""Generated blocks of ``benchmarks/RESULTS.md``: each benchmark owns one block between
``<!-- keep:NAME -->`` and ``<!-- /keep:NAME -->`` and rewrites only that; ``make bench``
(which regenerates the rest of the page) carries every such block over."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "RESULTS.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- keep:{name} -->", f"<!-- /keep:{name} -->"


def write_block(name: str, body: str, page: Path = PAGE) -> None:
    """Replace block ``name`` on ``page`` with ``body`` (markers added), or insert it before
    ``## Machine`` (appended when the page has no such heading).

    >>> import tempfile; p = Path(tempfile.mkdtemp()) / "R.md"
    >>> _ = p.write_text("# R\\n\\n## Machine\\n")
    >>> write_block("x", "one", p); write_block("x", "two", p); print(p.read_text())
    # R
    <BLANKLINE>
    <!-- keep:x -->
    two
    <!-- /keep:x -->
    <BLANKLINE>
    ## Machine
    <BLANKLINE>
    """
    begin, end = markers(name)
    new = f"{begin}\n{body.strip()}\n{end}"
    text = page.read_text() if page.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: new, text, count=1)
    elif "\n## Machine" in text:
        text = text.replace("\n## Machine", f"\n{new}\n\n## Machine", 1)
    else:
        text = text.rstrip("\n") + f"\n\n{new}\n"
    page.write_text(text)
