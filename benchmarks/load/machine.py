"""What the numbers were measured on: CPU, memory, OS, and the versions that matter."""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("sqlglot", "sqlglotc", "granian", "psycopg", "pyjwt", "datasette", "uvicorn")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _first_match(path: str, pattern: str) -> str:
    try:
        match = re.search(pattern, Path(path).read_text(), re.MULTILINE)
    except OSError:
        return "unknown"
    return match.group(1).strip() if match else "unknown"


def _wrk_version() -> str:
    try:
        done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False, timeout=10)
    except OSError:
        return "not installed (Python generator used)"
    return " ".join(done.stdout.split()[:2])


def describe(postgres_version: str | None) -> dict[str, str]:
    """The machine and software as one flat mapping, for load.json and RESULTS.md."""
    mem_kib = _first_match("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    os_name = _first_match("/etc/os-release", r'^PRETTY_NAME="?([^"\n]+)')
    return {
        "cpu": _first_match("/proc/cpuinfo", r"^model name\s*:\s*(.+)$"),
        "cores": str(os.cpu_count()),
        "memory": f"{int(mem_kib) / 1024**2:.1f} GiB" if mem_kib.isdigit() else "unknown",
        "os": f"{os_name}, Linux {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        **{package: _version(package) for package in PACKAGES},
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version or "not measured",
        "wrk": _wrk_version(),
    }


def postgres_version(url: str) -> str:
    """``SHOW server_version`` of the server at ``url``."""
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def cpu_ticks() -> tuple[int, int]:
    """``(steal, total)`` CPU ticks of the whole machine so far, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])
