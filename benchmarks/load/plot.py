"""The plot on the results page: requests/s against concurrency, one panel per (database, scenario)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_load(load: dict[str, Any], path: Path) -> bool:
    """Requests/s against concurrency, one panel per (database, scenario); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    runs = load["runs"]
    panels = list(dict.fromkeys((r["database"], r["scenario"]) for r in runs))
    cols = min(2, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    for ax, (db, scenario) in zip(axes.flat, panels, strict=False):
        cell = [r for r in runs if (r["database"], r["scenario"]) == (db, scenario)]
        for key in dict.fromkeys(r["server"] for r in cell):
            points = [r for r in cell if r["server"] == key]
            ax.plot([p["concurrency"] for p in points], [p["rps"] for p in points], marker="o",
                    label=f"({key}) {points[0]['server_name']}")  # fmt: skip
        levels = sorted({r["concurrency"] for r in cell})
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_title(f"{db} {scenario.upper()}")
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel("requests/s")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
