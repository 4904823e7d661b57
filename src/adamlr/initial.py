"""L(w0), the loss at the initial weights, on as many examples as the answer needs.

α ∝ L(w0)^½, so L(w0) to a few per cent is α to half that. On large data L(w0) is taken over a
random subset of :data:`EXAMPLES` examples (the prefix of the order :mod:`adamlr.subsets` draws),
with its standard error from eight equal parts of the subset; those examples are also where the
probes' L(w_k) is measured, so that a probe is judged against L(w0) on the same examples. With
``exact``, or on data of at most twice that size, every example is used.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from adamlr.objective import Objective, Params, batch_statistics_layers
from adamlr.sampling import sample_seed
from adamlr.subsets import Subsampler

EXAMPLES = 4096
PARTS = 8


@dataclass(frozen=True)
class InitialLoss:
    """L(w0) and where it was measured.

    Attributes:
        value: L(w0), the mean loss over ``examples`` examples.
        examples: how many examples (``total`` when all of them).
        total: the examples in the data.
        standard_error: the standard error of ``value`` from eight parts of a subset (None on all
            the data, or where BatchNorm with batch statistics makes parts a different loss).
        evaluation: the objective on those examples (the probes' L(w_k) is measured on it).
    """

    value: float
    examples: int
    total: int
    standard_error: float | None
    evaluation: Objective


def measure_initial_loss(objective: Objective, w0: Params, *, subset_seed: int, whole: bool) -> InitialLoss:
    """L(w0) over all the data (``whole``, sharded data, or at most 2 × :data:`EXAMPLES` examples) or a subset.

    Raises:
        NumericalError: a non-finite loss.
    """
    total = objective.batches.n_examples
    if whole or objective.local_examples != total or total <= 2 * EXAMPLES:
        return InitialLoss(objective.value(w0), total, total, None, objective)
    subsampler = Subsampler(objective.batches, sample_seed(subset_seed, 0, stream=4))
    evaluation = objective.on(subsampler.subset(EXAMPLES))
    error = None
    if not batch_statistics_layers(objective.module, "train"):
        parts = [evaluation.on(p).value(w0) for p in subsampler.parts(EXAMPLES, PARTS)]
        error = statistics.stdev(parts) / math.sqrt(len(parts)) if len(parts) > 1 else None
    return InitialLoss(evaluation.value(w0), evaluation.batches.n_examples, total, error, evaluation)
