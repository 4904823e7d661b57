"""The ``probe_halving`` rule: the paper's α halved until a short probe from w0 descends.

The probes step on the user's batches as every probe does (:mod:`adamlr.diagnose`; full batch
with ``--exact`` or on data given as tensors or a Dataset).

Kept for continuity with earlier reports; ``docs/recommendation.md`` measures it beside the
default ``search`` rule. It only ever lowers α, so it cannot help where α is too small.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from adamlr.diagnostics.probing import ProbeResult

HALVING_STEPS = 10
HALVING_FACTOR = 0.5
MAX_HALVINGS = 40


@dataclass(frozen=True)
class HalvingResult:
    """The outcome of :func:`halve_until_descends`.

    Attributes:
        rate: the first rate whose probe descended (or the last one tried).
        start: the rate it started from.
        halvings: how many times the rate was halved.
        descended: whether a probe held within ``MAX_HALVINGS`` halvings.
        seconds: wall-clock time of the probes it ran.
    """

    rate: float
    start: float
    halvings: int
    descended: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> HalvingResult:
        return HalvingResult(**{k: d[k] for k in HalvingResult.__dataclass_fields__})


def halve_until_descends(run_probe: Callable[[float], ProbeResult], start: float, *, factor: float = HALVING_FACTOR,
                         max_halvings: int = MAX_HALVINGS) -> HalvingResult:
    """Start at ``start`` and multiply by ``factor`` until a probe's loss never goes above L(w0) (``descends``).

    Args:
        run_probe: runs one probe at a rate from w0 (``HALVING_STEPS`` steps, as the rule was measured).
        start: the rate to start from (the paper's α).
        factor: the multiplier after a probe that rose.
        max_halvings: give up after this many.
    """
    started = time.perf_counter()
    rate = start
    for halvings in range(max_halvings + 1):
        if run_probe(rate).verdict == "descends":
            return HalvingResult(rate, start, halvings, True, time.perf_counter() - started)
        if halvings < max_halvings:
            rate *= factor
    return HalvingResult(rate, start, max_halvings, False, time.perf_counter() - started)
