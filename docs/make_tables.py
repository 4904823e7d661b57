"""Markdown tables for docs/results.md from ``adamlr compare`` runs.

    python docs/make_tables.py runs/mlp3_full/results.json             # one run's ranking
    python docs/make_tables.py --side-by-side mlp1_bn=runs/mlp1_bn_full lenet_bn=runs/lenet_bn_full
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from adamlr.comparison.report import COLUMNS, best_arm


def fmt(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1%}" if key == "final_test_accuracy" else f"{value:.3g}"


def ranking(path: str) -> None:
    res = json.load(open(path))
    summary = res["summary"]
    best = {key: best_arm(summary, key, lower) for key, _, lower in COLUMNS}
    order = sorted(summary, key=lambda a: summary[a]["final_grad_norm"]["mean"] or float("inf"))
    print("| arm | " + " | ".join(h for _, h, _ in COLUMNS) + " |")
    print("| --- | " + " | ".join("---:" for _ in COLUMNS) + " |")
    for arm in order:
        cells = []
        for key, _, _ in COLUMNS:
            text = fmt(key, summary[arm][key]["mean"])
            cells.append(f"**{text}** ★" if best[key] == arm else text)
        name = f"**{arm}**" if arm == "adamlr" else arm
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nadamlr α = {', '.join(f'{v:.4g} (seed {k})' for k, v in res['adamlr_lr'].items())}")


def _row(label: str, run_dir: Path) -> str:
    res: dict[str, Any] = json.loads((run_dir / "results.json").read_text())
    est = json.loads((run_dir / "estimate-seed0.json").read_text())
    summary = res["summary"]
    cells = [label, f"{est['lr']:.3g}", f"{est['k_hat']:.3g}", est.get("probe", {}).get("verdict", "–") if
             est.get("probe") else "–"]
    for key, _, lower in COLUMNS:
        others = {a: s for a, s in summary.items() if a != "adamlr"}
        best = best_arm(others, key, lower)
        mine = fmt(key, summary["adamlr"][key]["mean"])
        theirs = f"{fmt(key, others[best][key]['mean'])} ({best})" if best else "–"
        cells.append(f"{mine} vs {theirs}")
    cells.append(str(len(summary) - 1))
    return "| " + " | ".join(cells) + " |"


def side_by_side(pairs: list[str]) -> None:
    """adamlr's arm against the best other arm of each column, one row per run directory."""
    print("| setup | α | K̂ | probe at α | " + " | ".join(f"adamlr vs best other: {h}" for _, h, _ in COLUMNS)
          + " | other arms |")
    print("| --- | ---: | ---: | --- | " + " | ".join("---" for _ in COLUMNS) + " | ---: |")
    for pair in pairs:
        label, path = pair.split("=", 1)
        print(_row(label, Path(path)))


if __name__ == "__main__":
    if sys.argv[1] == "--side-by-side":
        side_by_side(sys.argv[2:])
    else:
        ranking(sys.argv[1])
