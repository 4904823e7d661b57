"""Figures in the paper's layout: gradient norm (log), training loss, test accuracy vs epoch.

One figure against the schedulers, one against the constant steps (the paper's figure
pairs); each line is an arm's mean over seeds. Needs matplotlib (``pip install adamlr[plots]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adamlr.errors import UsageError

STYLE = {"adamlr": dict(color="black", linewidth=2.4, zorder=10)}


def _mean_curve(runs: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]] | None:
    length = min(len(r["records"]) for r in runs)
    values = [[r["records"][i][key] for r in runs] for i in range(length)]
    if any(v is None for row in values for v in row):
        return None
    return list(range(length)), [sum(row) / len(row) for row in values]


def matplotlib_missing() -> str | None:
    """None when matplotlib imports, else the one-line warning to give (checked before any training)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "matplotlib is not installed: writing everything but the figures (pip install 'adamlr[plots]')"
    return None


def figure(results: dict[str, Any], families: tuple[str, ...], title: str, path: Path) -> Path:
    """Write one 3-panel PNG comparing adamlr with the arms of ``families``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise UsageError("expected matplotlib for figures (pip install 'adamlr[plots]'), found it missing") from exc
    by_arm: dict[str, list[dict[str, Any]]] = {}
    for run in results["runs"]:
        if run["family"] in ("adamlr",) + families:
            by_arm.setdefault(run["arm"], []).append(run)
    panels = [("grad_norm", "‖∇L(w)‖ over all training data", True), ("train_loss", "training loss", True),
              ("test_accuracy", "test accuracy", False)]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (key, label, log) in zip(axes, panels):
        for arm, runs in by_arm.items():
            curve = _mean_curve(runs, key)
            if curve is not None:
                ax.plot(*curve, label=arm, **STYLE.get(arm, dict(linewidth=1.2)))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figures(results: dict[str, Any], out: Path) -> list[Path]:
    """The paper's pair: adamlr vs schedulers, adamlr vs constant steps (and vs optional arms if any)."""
    batch = results.get("batching") or (f"mini-batch {results['batch_size']}" if results.get("batch_size")
                                        else "full batch")
    base = f"{results['model']} on {results['data']}, {batch}, seeds {results['seeds']}"
    paths = [figure(results, ("scheduler",), f"schedulers — {base}", out / "schedulers.png"),
             figure(results, ("constant",), f"constant steps — {base}", out / "constants.png")]
    if any(r["family"] == "optional" for r in results["runs"]):
        paths.append(figure(results, ("optional",), f"optional arms — {base}", out / "optional.png"))
    return paths
