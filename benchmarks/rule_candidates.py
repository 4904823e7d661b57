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

Cheaper searches (issue 19): the walk's probes shorter than the fine stage's (k_walk ∈ {5, 10, 20},
k_fine ∈ {10, 20}), and no walk up from an anchor whose probe rose above L(w0) (``transient``), each
with its mean probe steps on the tune half. Only the last kept the tune scores (11/12, 11/12) and was
adopted (119 → 112 probe steps); every shorter walk lost three tune setups. Walks started below the
paper's α (× 10^−½, 10^−1, 10^−2) saved at most 8 more steps and were not adopted.

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


def walk(grid: list[float], scores: dict[float, float], start: int, *, up: bool) -> dict[int, float]:
    """The search's walk on the grid's quarter decades (half a decade = two steps): up first when ``up``, then down
    if going up found nothing lower; at most 10 probes. The grid indices probed, with their scores."""
    tried = {start: scores[grid[start]]}
    for d in ((2, -2) if up else (-2,)):
        i, previous = start, tried[start]
        while 0 <= i + d < len(grid) and len(tried) < 10:
            i += d
            tried[i] = scores[grid[i]]
            if tried[i] >= previous and not (d < 0 and math.isinf(tried[i])):
                break
            previous = tried[i]
        if min(tried, key=lambda j: (tried[j], j)) != start:
            break
    return tried


def nearest(grid: list[float], rate: float) -> int:
    """The index of the grid rate nearest ``rate`` in log scale."""
    return min(range(len(grid)), key=lambda i: abs(math.log10(grid[i] / rate)))


def refined(grid: list[float], scores: dict[int, float], best: int, spacing: int) -> float:
    """log10 of the rate: the minimum of a parabola in (log rate, log L) through ``best`` and the probes ``spacing``
    grid steps (quarter decades) either side, kept within half that spacing; ``best`` itself where they are missing,
    not finite or not convex around it."""
    x = math.log10(grid[best])
    lo, hi = best - spacing, best + spacing
    if lo in scores and hi in scores and all(0 < scores[j] < math.inf for j in (lo, best, hi)):
        y0, y1, y2 = (math.log(scores[j]) for j in (lo, best, hi))
        h = spacing / 4
        if y1 < (y0 + y2) / 2:
            x = min(max(x + h * (y0 - y2) / (2 * (y0 - 2 * y1 + y2)), x - h / 2), x + h / 2)
    return x


def search(k: int, gamma: float, fine: bool) -> Rule:
    """The search rule on the grid's quarter decades (half-decade walk = two grid steps)."""
    def rule(setup: Setup, runs: dict[float, RunOutcome], anchor: float, initial: float) -> float | None:
        steps = max(len(r.losses) for r in runs.values())
        kk = min(k, steps)
        sc = scores_after(setup, runs, kk, steps)
        grid = sorted(runs)
        start = nearest(grid, anchor)
        tried = walk(grid, sc, start, up=sc[grid[start]] < initial)
        best = min(tried, key=lambda j: (tried[j], grid[j]))
        if fine:
            for j in (best - 1, best + 1):
                if 0 <= j < len(grid):
                    tried[j] = sc[grid[j]]
            best = min(tried, key=lambda j: (tried[j], grid[j]))
        x = refined(grid, tried, best, 1 if fine else 2)
        return 10**x * ((steps / kk) ** -gamma if steps > kk else 1.0)
    return rule


def _transient(setup: Setup, run: RunOutcome, k: int, initial: float) -> bool:
    """The first k steps' (smoothed, on mini-batches) loss went above L(w0): the probe's ``transient`` or worse."""
    losses = run.losses[:k]
    window = 1 if setup.batch_size is None else 3
    smoothed = [statistics.fmean(losses[i:i + window]) for i in range(max(len(losses) - window + 1, 0))]
    return any(not x <= initial for x in smoothed)


def cheaper_search(walk_k: int, fine_k: int, up_after_transient: bool, anchor_factor: float = 1.0) -> Rule:
    """The search with its walk's probes ``walk_k`` steps long and the fine stage's (the best and its two
    quarter-decade neighbours, re-probed) ``fine_k``; without ``up_after_transient`` an anchor whose probe went above
    L(w0) is not walked up from; the walk starts at the paper's α × ``anchor_factor``. Its probe steps are counted in
    :data:`SPENT`."""
    def rule(setup: Setup, runs: dict[float, RunOutcome], anchor: float, initial: float) -> float | None:
        steps = max(len(r.losses) for r in runs.values())
        kw, kf = min(walk_k, steps), min(fine_k, steps)
        walked, fine = scores_after(setup, runs, kw, steps), scores_after(setup, runs, kf, steps)
        grid = sorted(runs)
        start = nearest(grid, anchor * anchor_factor)
        up = walked[grid[start]] < initial and (up_after_transient
                                                 or not _transient(setup, runs[grid[start]], kw, initial))
        tried = walk(grid, walked, start, up=up)
        spent = kw * len(tried)
        best = min(tried, key=lambda j: (tried[j], grid[j]))
        near = {j: fine[grid[j]] for j in (best - 1, best, best + 1) if 0 <= j < len(grid)}
        spent += kf * sum(1 for j in near if not (kf == kw and j in tried))
        SPENT[setup.name] = spent
        pool = {**(tried if kf == kw else {}), **near}  # probes of the fine stage's length
        best = min(pool, key=lambda j: (pool[j], grid[j]))
        return float(10 ** refined(grid, pool, best, 1))
    return rule


SPENT: dict[str, int] = {}


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
    for walk_k, fine_k in ((20, 20), (10, 20), (5, 20), (10, 10)):
        for up in (True, False):
            out[f"cheaper walk k={walk_k} fine k={fine_k}{'' if up else ' no up after transient'}"] = \
                cheaper_search(walk_k, fine_k, up)
    for factor, name in ((10 ** -0.5, "α/√10"), (0.1, "α/10"), (0.01, "α/100")):
        out[f"from {name}, no up after transient"] = cheaper_search(20, 20, False, factor)
    return out


def main() -> int:
    anchors = {s["setup"]["name"]: s["rates"]["paper"]["rate"]
               for s in json.loads((ROOT / "benchmarks/results/recommend.json").read_text())["setups"]}
    recorded: list[tuple[Setup, Prepared, dict[float, RunOutcome]]] = []
    for setup in SETUPS:
        prepared = prepare(setup)
        grid = grid_search(RunStore(prepared, ROOT / "benchmarks/results/cache"))
        recorded.append((setup, prepared, {o.rate: o for o in grid.runs if o.rate is not None}))
    print("| candidate | tune: within 3× | tune: good | holdout: within 3× | holdout: good | probe steps (tune mean) |")
    print("| --- | --- | --- | --- | --- | --- |")
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
                closest = runs[min(runs, key=lambda r: abs(math.log10(r / rate)))]
                near += within(rate / (best.rate or 1.0))
                ok += good(closest.final_loss, best.final_loss, prepared.initial_loss)
            cells += [f"{near}/{n}", f"{ok}/{n}"]
        spent = [SPENT[s.name] for s, _, _ in recorded if s.split == "tune" and s.name in SPENT]
        cells.append(f"{statistics.fmean(spent):.0f}" if spent else "")
        SPENT.clear()
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
