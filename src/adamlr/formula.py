"""The constant Adam step size of the paper (section 4.2).

With K the Lipschitz smoothness of the loss, T the training horizon and L* a lower
bound on the loss, Theorems 1-2 give α = sqrt(2 (L(w0) − L*) / (K δ² T)); the paper
drops δ² and takes L* = 0, so α ≈ sqrt(2 L(w0) / (K̂ T)).
"""

from __future__ import annotations

import math

from adamlr.errors import NumericalError, UsageError


def recommended_lr(initial_loss: float, k_hat: float, horizon: float, loss_floor: float = 0.0) -> float:
    """α = sqrt(2 (L(w0) − L*) / (K̂ T)).

    Args:
        initial_loss: L(w0), the loss at the initial weights.
        k_hat: K̂, the estimated Lipschitz smoothness (max Hessian spectral norm).
        horizon: T, epochs or optimizer steps (must be positive).
        loss_floor: L*, a known lower bound on the loss (0 for the paper's form).

    Raises:
        UsageError: T ≤ 0.
        NumericalError: K̂ ≤ 0 or not finite, or L(w0) ≤ L*.

    >>> recommended_lr(2.0, 4.0, 100)
    0.1
    >>> round(recommended_lr(2.3, 10.0, 100, loss_floor=0.3), 6)
    0.063246
    """
    if not horizon > 0:
        raise UsageError(f"expected a training horizon T > 0, found T = {horizon}")
    if not (math.isfinite(k_hat) and k_hat > 0):
        raise NumericalError(f"expected a positive finite Hessian spectral norm K̂, found {k_hat}")
    if not math.isfinite(initial_loss):
        raise NumericalError(f"expected a finite initial loss, found {initial_loss}")
    gap = initial_loss - loss_floor
    if not gap > 0:
        raise NumericalError(
            f"expected the initial loss {initial_loss:.6g} to lie above the loss floor {loss_floor:.6g}, found it "
            "at or below: nothing to descend at w0 (a model that already fits, a loss that is 0 or negative there, "
            "or --loss-floor too high)"
        )
    return math.sqrt(2.0 * gap / (k_hat * horizon))
