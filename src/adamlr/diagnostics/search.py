"""The ``search`` rule: the best rate of short Adam runs from w0 on the user's own batches.

Starting from an anchor a (the paper's α = sqrt(2 L(w0) / (K̂ T)), which gets the scale right where
the targets or the inputs are large), it probes rates k steps each
(:func:`adamlr.diagnostics.probing.probe`) and reads the loss each ends with, L(w_k):

1. probe a, then (only if a's loss never went above L(w0): verdict ``descends``) a·√10; while the
   last probe ended lower than the one before, go on up, half a decade at a time;
2. if going up did not end lower, go down from a/√10 while each probe ends lower (or blows up,
   as the one before did);
3. probe a quarter-decade either side of the lowest probe (:data:`FINE`), and take the lowest;
4. through it and its two quarter-decade neighbours, a parabola in (log rate, log L(w_k)) gives
   the minimum, kept within an eighth of a decade;
5. for a horizon of T > k steps the rate is multiplied by (T/k)^(−γ), γ = :data:`HORIZON_EXPONENT`.

A probe whose loss became NaN or infinite ends at +inf. The search stops after
:data:`MAX_PROBES` probes or at the rate bounds. Its constants (k, the step, γ) were chosen on the
tune half of ``benchmarks/recommend.py``'s setups only; ``docs/recommendation.md`` has the
numbers. Cost: P probes × k steps of the training batch (P is 3–5 when the anchor is within a
decade or two of the optimum).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adamlr.diagnostics.probing import ProbeResult

PROBE_STEPS = 20
STEP = 10.0 ** 0.5
FINE = 10.0 ** 0.25
HORIZON_EXPONENT = 0.0  # γ: 0 placed the most tune setups within 3× of α* (0.1–0.3 fewer; docs/recommendation.md)
MAX_PROBES = 10
RATE_BOUNDS = (1e-7, 1e3)
REFINE_LIMIT = 10.0 ** 0.125

Prober = Callable[[float], ProbeResult]


@dataclass(frozen=True)
class SearchResult:
    """The outcome of :func:`search_rate`.

    Attributes:
        rate: the recommended rate.
        anchor: the rate the search started from (the paper's α, within the bounds).
        steps: k, Adam steps per probe.
        horizon: T in steps.
        best_probe: the probed rate whose run ended lowest.
        refined: the parabola's minimum around it.
        horizon_factor: (T/k)^(−γ) (1 when T ≤ k).
        probes: every probe, in the order run.
        seconds: wall time of the probes.
    """

    rate: float
    anchor: float
    steps: int
    horizon: int
    best_probe: float
    refined: float
    horizon_factor: float
    probes: tuple[ProbeResult, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "probes"}
        out["probes"] = [p.to_dict() for p in self.probes]
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> SearchResult:
        known = {k: d[k] for k in SearchResult.__dataclass_fields__ if k in d and k != "probes"}
        return SearchResult(probes=tuple(ProbeResult.from_dict(p) for p in d.get("probes", ())), **known)

    def probe_at(self, rate: float) -> ProbeResult | None:
        """The probe run at ``rate``, if there was one."""
        return next((p for p in self.probes if math.isclose(p.lr, rate, rel_tol=1e-9)), None)


def _score(result: ProbeResult) -> float:
    return result.final_loss if math.isfinite(result.final_loss) else math.inf


def _refine(scores: dict[float, float], best: float) -> float:
    """The minimum of a parabola through log L(w_k) at the best rate and its quarter-decade neighbours (log rates)."""
    lower = next((r for r in scores if math.isclose(r, best / FINE, rel_tol=1e-6)), None)
    upper = next((r for r in scores if math.isclose(r, best * FINE, rel_tol=1e-6)), None)
    if lower is None or upper is None:
        return best
    if not all(math.isfinite(scores[r]) and scores[r] > 0 for r in (lower, best, upper)):
        return best
    y0, y1, y2 = (math.log(scores[r]) for r in (lower, best, upper))
    if not y1 < (y0 + y2) / 2:  # not convex around the best: keep it
        return best
    x1, x2 = math.log(best), math.log(upper)
    vertex = x1 + 0.5 * (x2 - x1) * (y0 - y2) / (y0 - 2 * y1 + y2)
    limit = math.log(REFINE_LIMIT)
    return math.exp(min(max(vertex, x1 - limit), x1 + limit))


def search_rate(run_probe: Prober, anchor: float, *, steps: int, horizon: int,
                exponent: float = HORIZON_EXPONENT, max_probes: int = MAX_PROBES) -> SearchResult:
    """Search for the rate whose k-step probe ends lowest, from ``anchor`` (see the module docstring).

    Args:
        run_probe: runs one probe of ``steps`` Adam steps at a rate from w0.
        anchor: where to start (the paper's α).
        steps: k, the probes' steps.
        horizon: T in Adam steps.
        exponent: γ of the horizon factor (T/k)^(−γ).
        max_probes: the most probes.
    """
    started = time.perf_counter()
    low, high = RATE_BOUNDS
    start = min(max(anchor, low), high)
    probes: list[ProbeResult] = []
    scores: dict[float, float] = {}

    def tried(rate: float) -> float:
        probes.append(run_probe(rate))
        scores[rate] = _score(probes[-1])
        return scores[rate]

    tried(start)
    # Above an anchor whose loss rose (a blow-up, or a transient rise) the search only goes down: on the tune half
    # of benchmarks/recommend.py, walking up from a transient anchor found no better rate (docs/recommendation.md).
    directions = (STEP, 1 / STEP) if probes[0].verdict == "descends" else (1 / STEP,)
    for direction in directions:
        rate, previous = start, scores[start]
        while len(probes) < max_probes and low <= rate * direction <= high:
            rate *= direction
            score = tried(rate)
            still_diverging = direction < 1 and math.isinf(score)  # from a rate that blows up: on down
            if score >= previous and not still_diverging:
                break
            previous = score
        if min(scores, key=lambda r: (scores[r], r)) != start:
            break  # the way down is only taken when going up did not help
    best = min(scores, key=lambda r: (scores[r], r))
    for rate in (best / FINE, best * FINE):
        if len(probes) < max_probes + 2 and low <= rate <= high and not any(math.isclose(rate, r) for r in scores):
            tried(rate)
    best = min(scores, key=lambda r: (scores[r], r))
    refined = _refine(scores, best)
    factor = (horizon / steps) ** (-exponent) if horizon > steps else 1.0
    return SearchResult(refined * factor, start, steps, horizon, best, refined, factor, tuple(probes),
                        time.perf_counter() - started)
