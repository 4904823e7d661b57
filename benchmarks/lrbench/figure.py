"""The benchmark's figure: final training loss against the constant rate, one panel per setup, the rules marked.

Needs matplotlib; :func:`plot_benchmark` raises ``ModuleNotFoundError`` without it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lrbench.run import Benchmark, Measured

COLUMNS = 4
LEGEND_INCHES = 0.7
SHOWN = ("search", "paper", "torch_lr_finder", "best constant (tune)")
LINE_STYLES = ("-", "--", ":", "-.")


def _panel(ax: Any, m: Measured, result: Benchmark, colors: dict[str, Any]) -> None:
    finite = [o for o in m.grid.runs if math.isfinite(o.final_loss) and o.final_loss > 0]
    ax.plot([o.rate for o in finite], [o.final_loss for o in finite], "o-", color="0.35", ms=3, lw=1, label="grid")
    diverged = [o.rate for o in m.grid.runs if not math.isfinite(o.final_loss)]
    top = max((o.final_loss for o in finite), default=1.0)
    ax.plot(diverged, [top] * len(diverged), "x", color="red", ms=5, label="diverged")
    ax.plot([m.grid.best_rate], [max(m.grid.best.final_loss, 1e-30)], "*", color="gold", mec="k", ms=11, label="α*")
    for i, rule in enumerate(SHOWN):
        score = result.score(m.setup.name, rule)
        if score.rate:
            ax.axvline(score.rate, color=colors[rule], lw=1.3, ls=LINE_STYLES[i % len(LINE_STYLES)], label=rule)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(f"{m.setup.name} ({m.setup.split}, T={m.prepared.steps})", fontsize=9)
    ax.tick_params(labelsize=7)


def plot_benchmark(result: Benchmark, path: str | Path) -> Path:
    """Save the figure to ``path`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    palette = plt.get_cmap("tab10")
    colors = {rule: palette(i + 1) for i, rule in enumerate(SHOWN)}
    rows = math.ceil(len(result.measured) / COLUMNS)
    height = 3.0 * rows + LEGEND_INCHES
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(4 * COLUMNS, height), squeeze=False)
    for ax, m in zip(axes.flat, result.measured):
        _panel(ax, m, result, colors)
    for ax in list(axes.flat)[len(result.measured):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7), fontsize=8)
    fig.supxlabel("constant Adam rate", fontsize=9, y=(LEGEND_INCHES + 0.1) / height)
    fig.supylabel("final training loss")
    fig.tight_layout(rect=(0, (LEGEND_INCHES + 0.3) / height, 1, 1))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
