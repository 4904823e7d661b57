"""The Algorithm 2 kernel on its own: no cache, no journal, no files; samples and K̂ against oracles."""

import math
import os

import numpy as np
import pytest
import torch

from adamlr.algorithm import RunFacts, build_result, k_hat_of, run_samples, solve_sample
from adamlr.config import Settings
from adamlr.errors import NumericalError
from adamlr.formula import recommended_lr
from adamlr.problem import prepare
from adamlr.progress import Progress
from adamlr.rng import preserved_rng
from tests.assets import factories as f

A = "tests.assets.factories:"
TIGHT = dict(tol=1e-8, max_iter=60, dtype="float64", device="cpu")


def lsq_problem(settings):
    with preserved_rng():
        return prepare(A + "linear_model", A + "lsq_data", settings.loss, device="cpu", dtype=settings.dtype,
                       seed=settings.seed)


def lsq_top_eigenvalue():
    x, _ = f.lsq_data()
    return float(np.linalg.eigvalsh(2.0 / x.shape[0] * (x.double().T @ x.double()).numpy())[-1])


class Events(Progress):
    def __init__(self, log):
        self.log = log

    def sample_finished(self, sample):
        self.log.append(("progress", sample.index))


def test_kernel_k_hat_is_the_least_squares_hessian_norm_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings(epochs=10, loss="mse", samples=3, **TIGHT)
    problem = lsq_problem(settings)
    heard = []
    samples = run_samples(problem, settings, "cached", finished={}, on_sample=heard.append, progress=Progress())
    assert [s.index for s in samples] == [0, 1, 2] and heard == list(samples)
    assert k_hat_of(samples) == pytest.approx(lsq_top_eigenvalue(), rel=1e-8)
    assert os.listdir(tmp_path) == []  # no cache, no journal, no file of any kind


def test_finished_samples_are_reused_and_the_sink_hears_new_ones_before_progress():
    settings = Settings(epochs=10, loss="mse", samples=4, **TIGHT)
    problem = lsq_problem(settings)
    earlier = solve_sample(problem, settings, 1, "cached", Progress())
    log = []
    samples = run_samples(problem, settings, "cached", finished={1: earlier},
                          on_sample=lambda s: log.append(("sink", s.index)), progress=Events(log))
    assert samples[1] is earlier
    assert log == [("sink", 0), ("progress", 0), ("progress", 1), ("sink", 2), ("progress", 2),
                   ("sink", 3), ("progress", 3)]


def test_a_sample_alone_equals_the_same_sample_in_a_run():
    settings = Settings(epochs=10, samples=3, device="cpu", dtype="float64", tol=1e-6)
    with preserved_rng():
        problem = prepare(A + "tiny_mlp", A + "tiny_data", settings.loss, device="cpu", dtype="float64", seed=0)
    full = run_samples(problem, settings, "cached", finished={}, on_sample=lambda s: None, progress=Progress())
    alone = solve_sample(problem, settings, 2, "cached", Progress())
    assert alone.spectral_norm == full[2].spectral_norm and alone.history == full[2].history


def test_interrupt_propagates_after_the_sink_heard_every_finished_sample():
    settings = Settings(epochs=10, loss="mse", samples=5, **TIGHT)
    problem = lsq_problem(settings)
    heard = []

    def sink(sample):
        heard.append(sample.index)
        if len(heard) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_samples(problem, settings, "cached", finished={}, on_sample=sink, progress=Progress())
    assert heard == [0, 1]


def test_build_result_is_pure_and_applies_the_formula():
    settings = Settings(epochs=10, loss="mse", samples=2, **TIGHT)
    problem = lsq_problem(settings)
    samples = run_samples(problem, settings, "cached", finished={}, on_sample=lambda s: None, progress=Progress())
    loss0 = problem.objective.value(problem.initial_params)
    facts = RunFacts(seconds=1.0, peak_memory_bytes=None, peak_memory_kind="n/a", notes=("a note",))
    first = build_result(problem, settings, loss0, samples, "cached", facts)
    second = build_result(problem, settings, loss0, samples, "cached", facts)
    assert first == second and first.cache is None and not first.partial
    assert first.lr == pytest.approx(recommended_lr(loss0, first.k_hat, 10), rel=1e-12)
    assert first.lr == pytest.approx(math.sqrt(2 * loss0 / (lsq_top_eigenvalue() * 10)), rel=1e-7)
    assert "a note" in first.warnings


def test_zero_curvature_is_a_numerical_error():
    settings = Settings(epochs=1, loss=f.mean_output, samples=2, **TIGHT)
    with preserved_rng():
        problem = prepare(A + "linear_model", A + "lsq_data", f.mean_output, device="cpu", dtype="float64", seed=0)
    samples = run_samples(problem, settings, "stream", finished={}, on_sample=lambda s: None, progress=Progress())
    assert all(s.spectral_norm == 0.0 for s in samples)
    with pytest.raises(NumericalError, match="positive Hessian spectral norm"):
        k_hat_of(samples)


def test_data_facts_are_known_once_the_source_exists():
    settings = Settings(epochs=1, loss="mse", samples=1, **TIGHT)
    problem = lsq_problem(settings)
    batches = problem.objective.batches
    x, _ = f.lsq_data()
    assert batches.n_examples == x.shape[0] and batches.n_batches == 1 and batches.random_access is not None
    weighted = list(problem.objective.weighted_losses(problem.initial_params))  # no value() needed first
    assert float(sum(weighted)) == pytest.approx(problem.objective.value(problem.initial_params), rel=1e-12)
    assert torch.is_tensor(weighted[0])


def tiny_problem(settings):
    with preserved_rng():
        return prepare(A + "tiny_mlp", A + "tiny_data", settings.loss, device="cpu", dtype="float64", seed=0)


def test_samples_below_the_running_maximum_stop_bounded_and_k_hat_is_unchanged():
    settings = Settings(epochs=10, samples=10, device="cpu", dtype="float64", tol=1e-6)
    problem = tiny_problem(settings)
    kw = dict(finished={}, on_sample=lambda s: None, progress=Progress())
    early = run_samples(problem, settings, "cached", **kw)
    full = run_samples(problem, settings, "cached", early_stop=False, **kw)
    bounded = [s for s in early if s.bounded]
    assert bounded, "expected some sample below the running maximum to stop early"
    assert k_hat_of(early) == k_hat_of(full)
    for e, f_ in zip(early, full):
        ceiling = max((s.spectral_norm for s in early[: e.index]), default=0.0)
        if e.bounded:  # stopped early, below what it could not exceed; fewer products, never converged
            assert not e.converged and e.iterations < f_.iterations
            assert e.spectral_norm <= f_.spectral_norm * (1 + 1e-9) and f_.spectral_norm < e.upper_bound < ceiling
        else:  # every other solve is the very same
            assert e.history == f_.history and e.converged
    assert not any(s.bounded for s in full)


def test_solve_sample_without_a_ceiling_is_todays_solve():
    settings = Settings(epochs=10, samples=3, device="cpu", dtype="float64", tol=1e-6)
    problem = tiny_problem(settings)
    free = solve_sample(problem, settings, 2, "cached", Progress())
    capped = solve_sample(problem, settings, 2, "cached", Progress(), ceiling=10 * free.spectral_norm)
    assert not free.bounded and free.converged
    assert capped.bounded and capped.iterations < free.iterations
    assert capped.history == free.history[: capped.iterations]


def test_samples_averaged_over_batches_are_never_bounded():
    settings = Settings(epochs=10, samples=4, device="cpu", dtype="float64", tol=1e-6, batch_size=8,
                        batches_per_sample=2)
    problem = tiny_problem(settings)
    samples = run_samples(problem, settings, "cached", finished={}, on_sample=lambda s: None, progress=Progress())
    assert not any(s.bounded for s in samples)
