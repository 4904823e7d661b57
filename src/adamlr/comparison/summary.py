"""A comparison's results: per-arm summaries over seeds, ``results.json`` and ``results.csv``."""

from __future__ import annotations

import csv
import io
import statistics
from typing import Any

from adamlr.comparison.store import Store
from adamlr.comparison.training import RunResult


def _stat(values: list[float | None]) -> dict[str, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"mean": None, "std": None}
    return {"mean": statistics.fmean(vals), "std": statistics.pstdev(vals) if len(vals) > 1 else 0.0}


def summarize(runs: list[RunResult]) -> dict[str, Any]:
    """Mean and spread over seeds of the final and best metrics of one arm."""
    last = [r.records[-1] for r in runs]
    return {
        "final_grad_norm": _stat([x.grad_norm for x in last]),
        "min_grad_norm": _stat([min(e.grad_norm for e in r.records) for r in runs]),
        "final_train_loss": _stat([x.train_loss for x in last]),
        "final_test_accuracy": _stat([x.test_accuracy for x in last]),
        "diverged": sum(r.diverged for r in runs),
    }


def aggregate(header: dict[str, Any], runs: list[RunResult], store: Store) -> dict[str, Any]:
    """The results (``header`` keys first, then summary and runs), written to ``results.json`` and CSV."""
    by_arm: dict[str, list[RunResult]] = {}
    for r in runs:
        by_arm.setdefault(r.arm, []).append(r)
    summary = {arm: {"family": rs[0].family, **summarize(rs)} for arm, rs in by_arm.items()}
    results = {"schema_version": 1, **header, "summary": summary, "runs": [r.to_dict() for r in runs]}
    store.write_json("results.json", results)
    store.write_text("results.csv", _csv(runs))
    return results


def _csv(runs: list[RunResult]) -> str:
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(["arm", "family", "seed", "epoch", "lr", "grad_norm", "train_loss", "test_loss", "test_accuracy",
                "seconds"])
    for r in runs:
        for e in r.records:
            w.writerow([r.arm, r.family, r.seed, e.epoch, e.lr, e.grad_norm, e.train_loss, e.test_loss,
                        e.test_accuracy, f"{e.seconds:.3f}"])
    return text.getvalue()
