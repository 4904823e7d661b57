"""The benchmark's figure: final training loss against the constant rate, one panel per setup.

Needs matplotlib (``pip install adamlr[plots]``); :func:`plot_benchmark` raises
``ModuleNotFoundError`` without it, and the caller decides what to say.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lrbench.result import BenchmarkResult, SetupResult

COLUMNS = 4
LEGEND_INCHES = 0.7
LINE_STYLES = ("--", ":", "-.")


def _panel(ax: Any, s: SetupResult, rules: list[str], colors: dict[str, Any], styles: dict[str, str]) -> None:
    finite = [o for o in s.grid.runs if math.isfinite(o.final_loss)]
    top = max((o.final_loss for o in finite), default=1.0)
    ax.plot([o.rate for o in finite], [o.final_loss for o in finite], "o-", color="0.3", ms=3, lw=1, label="grid")
    diverged = [o.rate for o in s.grid.runs if not math.isfinite(o.final_loss)]
    ax.plot(diverged, [top] * len(diverged), "x", color="red", ms=6, label="diverged")
    ax.plot([s.grid.best_rate], [s.grid.best.final_loss], "*", color="gold", mec="k", ms=12, label="α*")
    for rule in rules:
        rate, run = s.rates[rule].rate, s.runs[rule]
        ax.axvline(rate, color=colors[rule], lw=1.2, ls=styles[rule], label=rule)
        if math.isfinite(run.final_loss):
            ax.plot([rate], [run.final_loss], "o", color=colors[rule], ms=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(f"{s.setup.name} (T={s.setup.epochs})", fontsize=9)
    ax.tick_params(labelsize=7)


def plot_benchmark(result: BenchmarkResult, path: str | Path) -> Path:
    """Save the figure to ``path`` (PNG); return the path.

    Raises:
        ModuleNotFoundError: matplotlib is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rules = [r for r in result.rules if r in result.setups[0].rates]
    palette = plt.get_cmap("tab10")
    colors = {rule: palette(i % 10) for i, rule in enumerate(rules)}
    styles = {rule: LINE_STYLES[i % len(LINE_STYLES)] for i, rule in enumerate(rules)}  # overlapping rates stay visible
    rows = math.ceil(len(result.setups) / COLUMNS)
    height = 3.2 * rows + LEGEND_INCHES
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(4 * COLUMNS, height), squeeze=False)
    for ax, s in zip(axes.flat, result.setups):
        _panel(ax, s, rules, colors, styles)
        ax.set_xlabel("constant Adam rate", fontsize=8)
    for ax in list(axes.flat)[len(result.setups):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7), fontsize=8)
    fig.supylabel("final training loss")
    fig.tight_layout(rect=(0, LEGEND_INCHES / height, 1, 1))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
