"""Candidate rules replayed on the recorded grid runs: how the search rule's constants were chosen (tune half only).

Every grid run of ``benchmarks/recommend.py`` records the loss of each of its steps, so a probe of k
steps at a grid rate can be replayed without training: on a full-batch setup the loss after k steps
*is* L(w_k); on a mini-batch one it is approximated by the mean of the last quarter of the first k
batch losses (the library measures L(w_k) on held examples instead). Rates are the grid's quarter
decades, so a replayed search moves on them. The anchor is the paper's α of ``recommend.json``.

Candidates: the search with k ∈ {5, 10, 20, 40} probe steps, horizon exponents γ ∈ {0, 0.1, 0.2, 0.3}
(rate × (T/k)^−γ), with and without the quarter-decade fine probes; and the "edge" rule (the largest
rate whose k-step probe ends below L(w0), times c ∈ {0.1, 0.3, 0.5}). The library's constants
(k = 20, γ = 0, fine probes) are the candidate that put the most tune setups within 3× of α*, then
good; the holdout columns were read only after that choice.

    python benchmarks/rule_candidates.py      # needs benchmarks/results/recommend.json (and retrains no run it has)
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from lrbench.grid import RunStore, best_outcome, grid_search
from lrbench.score import good, within
from lrbench.setups import SETUPS, Setup
from lrbench.training import Prepared, RunOutcome, prepare

ROOT = Path(__file__).resolve().parents[1]
Rule = Callable[[Setup, dict[float, RunOutcome], float, float], float | None]


def scores_after(setup: Setup, runs: dict[float, RunOutcome], k: int, steps: int) -> dict[float, float]:
    """L(w_k) of every grid rate (the final loss when k ≥ T), +inf for a run that blew up before."""
    out = {}
    for rate, run in runs.items():
        if k >= steps:
            value = run.final_loss
        elif setup.batch_size is None:
            value = run.losses[k] if len(run.losses) > k else math.inf
        else:
            tail = run.losses[max(0, k - max(1, k // 4)):k]
            value = statistics.fmean(tail) if len(run.losses) >= k else math.inf
        out[rate] = value if math.isfinite(value) else math.inf
    return out


def search(k: int, gamma: float, fine: bool) -> Rule:
    """The search rule on the grid's quarter decades (half-decade walk = two grid steps)."""
    def rule(setup: Setup, runs: dict[float, RunOutcome], anchor: float, initial: float) -> float | None:
        steps = max(len(r.losses) for r in runs.values())
        kk = min(k, steps)
        sc = scores_after(setup, runs, kk, steps)
        grid = sorted(runs)
        start = min(range(len(grid)), key=lambda i: abs(math.log10(grid[i] / anchor)))
        tried: dict[int, float] = {start: sc[grid[start]]}
        blew = not tried[start] < initial
        for d in ((2, -2) if not blew else (-2,)):
            i, previous = start, tried[start]
            while 0 <= i + d < len(grid) and len(tried) < 10:
                i += d
                tried[i] = sc[grid[i]]
                if tried[i] >= previous and not (d < 0 and math.isinf(tried[i])):
                    break
                previous = tried[i]
            if min(tried, key=lambda j: (tried[j], j)) != start:
                break
        best = min(tried, key=lambda j: (tried[j], grid[j]))
        if fine:
            for j in (best - 1, best + 1):
                if 0 <= j < len(grid):
                    tried[j] = sc[grid[j]]
            best = min(tried, key=lambda j: (tried[j], grid[j]))
        x = math.log10(grid[best])
        lo, hi = best - (1 if fine else 2), best + (1 if fine else 2)
        if lo in tried and hi in tried and all(0 < tried[j] < math.inf for j in (lo, best, hi)):
            y0, y1, y2 = (math.log(tried[j]) for j in (lo, best, hi))
            h = (hi - best) / 4
            if y1 < (y0 + y2) / 2:
                x = min(max(x + h * (y0 - y2) / (2 * (y0 - 2 * y1 + y2)), x - h / 2), x + h / 2)
        return 10**x * ((steps / kk) ** -gamma if steps > kk else 1.0)
    return rule


def edge(k: int, c: float) -> Rule:
    """The largest grid rate whose k-step probe ends below L(w0), times c."""
    def rule(setup: Setup, runs: dict[float, RunOutcome], anchor: float, initial: float) -> float | None:
        steps = max(len(r.losses) for r in runs.values())
        sc = scores_after(setup, runs, min(k, steps), steps)
        below = [r for r, v in sc.items() if v < initial]
        return max(below) * c if below else None
    return rule


def candidates() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for k in (5, 10, 20, 40):
        for gamma in (0.0, 0.1, 0.2, 0.3):
            for fine in (False, True):
                out[f"search k={k} γ={gamma} {'fine' if fine else 'half-decade'}"] = search(k, gamma, fine)
    for k in (10, 20):
        for c in (0.1, 0.3, 0.5):
            out[f"edge k={k} c={c}"] = edge(k, c)
    return out


def main() -> int:
    anchors = {s["setup"]["name"]: s["rates"]["paper"]["rate"]
               for s in json.loads((ROOT / "benchmarks/results/recommend.json").read_text())["setups"]}
    recorded: list[tuple[Setup, Prepared, dict[float, RunOutcome]]] = []
    for setup in SETUPS:
        prepared = prepare(setup)
        grid = grid_search(RunStore(prepared, ROOT / "benchmarks/results/cache"))
        recorded.append((setup, prepared, {o.rate: o for o in grid.runs if o.rate is not None}))
    print("| candidate | tune: within 3× | tune: good | holdout: within 3× | holdout: good |")
    print("| --- | --- | --- | --- | --- |")
    for name, rule in candidates().items():
        cells = []
        for half in ("tune", "holdout"):
            near = ok = n = 0
            for setup, prepared, runs in recorded:
                if setup.split != half:
                    continue
                best = best_outcome(list(runs.values()))
                rate = rule(setup, runs, anchors[setup.name], prepared.initial_loss)
                n += 1
                if rate is None:
                    continue
                nearest = runs[min(runs, key=lambda r: abs(math.log10(r / rate)))]
                near += within(rate / (best.rate or 1.0))
                ok += good(nearest.final_loss, best.final_loss, prepared.initial_loss)
            cells += [f"{near}/{n}", f"{ok}/{n}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
