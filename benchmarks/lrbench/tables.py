"""The benchmark's tables as Markdown (readable in a terminal too); nothing is printed here."""

from __future__ import annotations

import math
from collections.abc import Sequence

from lrbench.rules import EXACT_SEEDS
from lrbench.run import Benchmark
from lrbench.score import GOOD_ABSOLUTE, GOOD_RATIO, Summary

COLUMN_RULES = ("search", "paper", "paper_exact", "probe_halving", "torch_lr_finder", "lightning_lr_find",
                "best constant (tune)", "constant 0.001", "constant 0.003", "constant 0.01", "constant 0.03")


def number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return "diverged" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def setups_table(result: Benchmark) -> str:
    rows = []
    for m in result.measured:
        s = m.setup
        finals = m.finals()
        best = m.grid.best.final_loss
        floor = max(GOOD_RATIO * best, GOOD_ABSOLUTE * abs(m.prepared.initial_loss))
        goods = [r for r, x in finals.items() if math.isfinite(x) and x <= floor]
        band = f"{min(goods):.2g}–{max(goods):.2g}" if goods else "—"
        rows.append([s.name, s.dimension, s.split, str(m.prepared.steps), str(s.batch_size or "full"),
                     number(m.grid.best_rate), band, number(m.prepared.initial_loss), number(best),
                     f"{m.run_seconds:.2f}"])
    return table(["setup", "dimension", "half", "T (steps)", "batch", "α*", "good rates", "L(w0)", "loss at α*",
                  "s / run"], rows)


def _summary_row(s: Summary) -> list[str]:
    within = "—" if s.within_3x is None else f"{s.within_3x}/{s.setups}"
    cost = "—" if s.median_cost_runs is None else f"{s.median_cost_runs:.2g}"
    return [s.rule, within, f"{s.good}/{s.setups}", number(s.median_regret), number(s.median_abs_log10_ratio, 2), cost]


def summary_table(result: Benchmark, group: str) -> str:
    header = ["rule", "within 3× of α*", "good", "median regret", "median abs log10(rate/α*)",
              "cost (training runs, median)"]
    return table(header, [_summary_row(s) for s in result.summaries.get(group, ())])


def ratio_table(result: Benchmark) -> str:
    rules = [r for r in COLUMN_RULES if r in result.rules]
    rows = []
    for m in result.measured:
        cells = []
        for rule in rules:
            s = result.score(m.setup.name, rule)
            mark = ("" if s.within else "✗") + ("" if s.good else "!")
            cells.append(f"{number(s.ratio, 2)}{mark}")
        rows.append([m.setup.name, m.setup.split, number(m.grid.best_rate)] + cells)
    return table(["setup", "half", "α*"] + rules, rows)


def regret_table(result: Benchmark) -> str:
    rules = [r for r in result.rules if r not in ("constant 0.001", "constant 0.003", "constant 0.01", "constant 0.03")]
    rows = [[m.setup.name] + [number(result.score(m.setup.name, r).regret) for r in rules] for m in result.measured]
    return table(["setup"] + rules, rows)


def exact_table(result: Benchmark) -> str:
    """The paper's α at the default (sized to the answer) against --exact, per setup."""
    rows = []
    for m in result.measured:
        default, exact = m.rates.get("paper"), m.rates.get("paper_exact")
        if default is None or exact is None:
            continue
        seeds = exact.details.get("seed_rates") or [exact.rate]
        low, high = min(seeds), max(seeds)
        inside = "yes" if low * 0.999 <= default.rate <= high * 1.001 else "no"
        rows.append([m.setup.name, number(default.rate, 4), number(exact.rate, 4),
                     f"{default.rate / exact.rate - 1:+.1%}", f"{number(low, 3)}–{number(high, 3)} ({high / low:.2f}×)",
                     inside, f"{default.seconds:.1f}", f"{exact.seconds:.1f}"])
    return table(["setup", "α (default)", "α (--exact)", "difference", f"--exact's α over {EXACT_SEEDS} seeds",
                  "default inside it", "s (default, search included)", "s (--exact, no probes)"], rows)


def report(result: Benchmark) -> str:
    """Every table, titled, as one Markdown text."""
    parts = [("Summary: holdout setups", summary_table(result, "holdout")),
             ("Summary: tune setups", summary_table(result, "tune")),
             ("Summary: all setups", summary_table(result, "all")),
             ("Setups", setups_table(result)),
             ("Rate ÷ α* per setup (✗: not within 3×; !: not good)", ratio_table(result)),
             ("Final-loss regret (loss at the rule's rate ÷ loss at α*)", regret_table(result)),
             ("The paper's α: default against --exact", exact_table(result))]
    parts.insert(3, ("Best constant fitted on the tune half", f"{result.fitted:.3g}"))
    return "\n\n".join(f"### {title}\n\n{body}" for title, body in parts)
