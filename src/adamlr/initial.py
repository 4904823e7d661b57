"""L(w0), the loss at the initial weights, on as many examples as the answer needs.

α ∝ L(w0)^½, so L(w0) to a few per cent is α to half that. On large data L(w0) is taken over a
random subset of :data:`EXAMPLES` examples (the prefix of the order :mod:`adamlr.subsets` draws),
with its standard error from eight equal parts of the subset. Its first :data:`EVALUATION_EXAMPLES`
are where mini-batch probes measure L(w_k), judged against L(w0) on the same examples (a probe's
evaluation is one forward pass over them, so they are kept few). With ``exact``, or on data of at
most twice :data:`EXAMPLES`, every example is used for both.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from adamlr.objective import Objective, Params, batch_statistics_layers
from adamlr.subsets import Subsampler

EXAMPLES = 4096
EVALUATION_EXAMPLES = 1024
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
        evaluation: where mini-batch probes measure L(w_k) (the first examples of the subset).
        evaluation_loss: L(w0) on those examples.
    """

    value: float
    examples: int
    total: int
    standard_error: float | None
    evaluation: Objective
    evaluation_loss: float


def measure_initial_loss(objective: Objective, w0: Params, *, subset_seed: int, whole: bool) -> InitialLoss:
    """L(w0) over all the data (``whole``, sharded data, or at most 2 × :data:`EXAMPLES` examples) or a subset.

    Raises:
        NumericalError: a non-finite loss.
    """
    total = objective.batches.n_examples
    if whole or objective.sharded or total <= 2 * EXAMPLES:
        whole_loss = objective.value(w0)
        return InitialLoss(whole_loss, total, total, None, objective, whole_loss)
    subsampler = Subsampler.of_run(objective.batches, subset_seed)
    subset = objective.on(subsampler.subset(EXAMPLES))
    evaluation = objective.on(subsampler.subset(EVALUATION_EXAMPLES))
    value: float | None = None
    error: float | None = None
    if not batch_statistics_layers(objective.module, "train"):  # the parts partition the subset: its loss is theirs
        parts = subsampler.parts(EXAMPLES, PARTS)
        losses = [subset.on(part).value(w0) for part in parts]
        value = sum(x * part.n_examples for x, part in zip(losses, parts)) / sum(part.n_examples for part in parts)
        error = statistics.stdev(losses) / math.sqrt(len(losses)) if len(losses) > 1 else None
    return InitialLoss(subset.value(w0) if value is None else value, subset.batches.n_examples, total, error,
                       evaluation, evaluation.value(w0))
