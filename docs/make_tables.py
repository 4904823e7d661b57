"""Print the ranking of an ``adamlr compare`` run as a Markdown table (for docs/results.md).

    python docs/make_tables.py runs/mlp3_full/results.json
"""

from __future__ import annotations

import json
import sys

from adamlr.compare.report import COLUMNS, best_arm


def fmt(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1%}" if key == "final_test_accuracy" else f"{value:.3g}"


def main(path: str) -> None:
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


if __name__ == "__main__":
    main(sys.argv[1])
