"""The benchmark's tables as Markdown text (readable in a terminal too); nothing is printed here."""

from __future__ import annotations

import math
from collections.abc import Sequence

from lrbench.result import BenchmarkResult
from lrbench.score import REGRET_LIMIT, WITHIN_FACTOR, RuleSummary


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return "diverged" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    return "\n".join(lines)


def ratio_table(result: BenchmarkResult) -> str:
    """Setup × rule: α_rule / α* (— for optimizers that set their own rate)."""
    rules = [r for r in result.rules if result.setups[0].score_of(r).rate is not None]
    rows = [[s.setup.name, _number(s.grid.best_rate)] + [_number(s.score_of(r).ratio) for r in rules]
            for s in result.setups]
    return _table(["setup", "α*"] + rules, rows)


def regret_table(result: BenchmarkResult) -> str:
    """Setup × rule: final-loss regret (final loss at the rule ÷ final loss at α*)."""
    rows = [[s.setup.name, _number(s.grid.best.final_loss)] + [_number(s.score_of(r).regret) for r in result.rules]
            for s in result.setups]
    return _table(["setup", "loss at α*"] + list(result.rules), rows)


def setup_table(result: BenchmarkResult) -> str:
    """Per setup: kind, split, horizon, α*, the paper's α and K̂, the stability limit and α* / limit."""
    rows = []
    for s in result.setups:
        paper, limit = s.rates.get("paper"), s.rates.get("stability")
        batch = str(s.setup.batch_size) if s.setup.batch_size else "full"
        rows.append([s.setup.name, s.setup.kind, s.setup.split, str(s.setup.epochs), batch, _number(s.grid.best_rate),
                     _number(paper.rate if paper else None), _number(paper.details.get("k_hat") if paper else None),
                     _number(limit.rate if limit else None), _number(s.best_over_lr_limit), f"{s.seconds:.0f}"])
    header = ["setup", "kind", "half", "T", "batch", "α*", "paper α", "K̂", "lr_limit", "α*/lr_limit", "seconds"]
    return _table(header, rows)


def _summary_row(s: RuleSummary) -> list[str]:
    within = "—" if s.within_3x is None else f"{s.within_3x}/{s.setups}"
    return [s.rule, _number(s.median_abs_log10_ratio, 2), within, f"{s.regret_ok}/{s.setups}",
            _number(s.median_regret), "yes" if s.reaches_target else "no"]


def summary_table(result: BenchmarkResult, group: str) -> str:
    """One row per rule over ``group`` (``all``, ``tune`` or ``holdout``)."""
    header = ["rule", "median abs log10(α/α*)", f"within {WITHIN_FACTOR:g}×", f"regret ≤ {REGRET_LIMIT:g}",
              "median regret", "target"]
    return _table(header, [_summary_row(s) for s in result.summaries.get(group, ())])


def fitted_lines(result: BenchmarkResult) -> str:
    """One line per fitted rule: its constant and the tune setups it came from."""
    if not result.fitted:
        return "no fitted rules (no tune setup with a paper α and a stability limit)"
    return "\n".join(f"{f.name}: c = {f.constant:.3g}, fitted on {', '.join(f.fitted_on)}" for f in result.fitted)


def report(result: BenchmarkResult) -> str:
    """Every table, titled, as one Markdown text."""
    parts = [("Setups", setup_table(result)), ("α_rule / α*", ratio_table(result)),
             ("Final-loss regret (loss at α_rule ÷ loss at α*)", regret_table(result)),
             ("Fitted constants (tune half only)", fitted_lines(result))]
    parts += [(f"Summary: {group} setups", summary_table(result, group)) for group in result.summaries]
    return "\n\n".join(f"### {title}\n\n{body}" for title, body in parts)
