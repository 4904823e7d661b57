import doctest
import math

import pytest

import adamlr.formula
from adamlr.errors import NumericalError, UsageError
from adamlr.formula import recommended_lr


def test_hand_computed_values():
    # sqrt(2 * 2.302585 / (0.5 * 100)) = sqrt(0.0921034) = 0.3034854...
    assert recommended_lr(2.302585, 0.5, 100) == pytest.approx(0.3034854, rel=1e-6)
    assert recommended_lr(1.0, 2.0, 1) == pytest.approx(1.0)
    assert recommended_lr(8.0, 1.0, 4) == pytest.approx(2.0)


def test_loss_floor_subtracts():
    assert recommended_lr(3.0, 1.0, 2, loss_floor=1.0) == pytest.approx(math.sqrt(2.0))


def test_epochs_and_steps_differ_only_by_t():
    per_epoch = recommended_lr(2.0, 3.0, 100)
    per_step = recommended_lr(2.0, 3.0, 100 * 40)
    assert per_epoch / per_step == pytest.approx(math.sqrt(40))


@pytest.mark.parametrize("t", [0, -5])
def test_non_positive_horizon(t):
    with pytest.raises(UsageError, match="T > 0"):
        recommended_lr(1.0, 1.0, t)


@pytest.mark.parametrize("k", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_k_hat(k):
    with pytest.raises(NumericalError, match="spectral norm"):
        recommended_lr(1.0, k, 10)


def test_floor_above_loss():
    with pytest.raises(NumericalError, match="above the loss floor"):
        recommended_lr(1.0, 1.0, 10, loss_floor=2.0)


def test_doctests():
    assert doctest.testmod(adamlr.formula).failed == 0
