"""The ranking table of a comparison (Rich). Computes nothing beyond sorting and marking."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

COLUMNS = [  # (summary key, header, lower is better)
    ("final_grad_norm", "final ‖∇L‖", True),
    ("min_grad_norm", "min ‖∇L‖", True),
    ("final_train_loss", "final loss", True),
    ("final_test_accuracy", "test acc", False),
]


def best_arm(summary: dict[str, Any], key: str, lower: bool) -> str | None:
    """The arm with the best mean in column ``key`` among arms that did not diverge."""
    values = {arm: s[key]["mean"] for arm, s in summary.items() if s[key]["mean"] is not None and not s["diverged"]}
    if not values:
        return None
    return (min if lower else max)(values, key=values.__getitem__)


def _cell(stat: dict[str, float | None], key: str) -> str:
    mean, std = stat["mean"], stat["std"]
    if mean is None:
        return "–"
    text = f"{mean:.2%}" if key == "final_test_accuracy" else f"{mean:.3g}"
    return text + (f" ±{std:.2g}" if std else "")


def _old_batching(results: dict[str, Any]) -> str:
    """The batching of results written before ``batching`` was recorded."""
    return f"batch {results['batch_size']}" if results["batch_size"] else "full batch"


def ranking(results: dict[str, Any]) -> RenderableType:
    """Arms sorted by final gradient norm; the winner of each column in bold green with ★."""
    summary = results["summary"]
    best = {key: best_arm(summary, key, lower) for key, _, lower in COLUMNS}
    table = Table(header_style="bold", title=f"{results['model']} on {results['data']}, {results['epochs']} epochs, "
                  f"{results.get('batching') or _old_batching(results)}, "
                  f"seeds {results['seeds']}", title_justify="left")
    table.add_column("arm", no_wrap=True)
    table.add_column("family")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right")
    order = sorted(
        summary, key=lambda a: (summary[a]["diverged"] > 0, summary[a]["final_grad_norm"]["mean"] or float("inf"))
    )
    for arm in order:
        s = summary[arm]
        cells = []
        for key, _, _ in COLUMNS:
            text = _cell(s[key], key)
            cells.append(Text(text + " ★", style="bold green") if best[key] == arm else Text(text))
        name = Text(arm, style="bold" if arm == "adamlr" else "")
        if s["diverged"]:
            name.append(" (diverged)", style="red")
        table.add_row(name, s["family"], *cells)
    return Group(table, Text(_rates_line(results)))


def _rates_line(results: dict[str, Any]) -> str:
    """The adamlr arm's rate, named as every report names it (``recommended rate (search)``), and the paper's α.

    >>> _rates_line({"adamlr_lr": {"0": 0.5}, "adamlr_recommended_lr": {"0": 0.02}, "adamlr_rule": "search"})
    "adamlr arm: recommended rate (search) seed 0: 0.02; the paper's α seed 0: 0.5"
    """
    alphas = ", ".join(f"seed {k}: {v:.4g}" for k, v in results["adamlr_lr"].items())
    rule, rates = results.get("adamlr_rule"), results.get("adamlr_recommended_lr")
    if rule == "--lr":
        return f"adamlr arm: the rate given by --lr {alphas}"
    if not isinstance(rates, dict) or not isinstance(rule, str):  # results written before these keys
        return f"the paper's α {alphas}"
    return f"adamlr arm: recommended rate ({rule}) " + ", ".join(f"seed {k}: {v:.4g}" for k, v in rates.items()) + \
        f"; the paper's α {alphas}"
