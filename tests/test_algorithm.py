"""The Algorithm 2 kernel on its own: no cache, no journal, no files; samples and K̂ against oracles;
the sizing to the answer (subset growth, the adaptive draw, identical samples) on closed forms."""

import os
from dataclasses import replace

import numpy as np
import pytest
import torch

from adamlr.algorithm import START_EXAMPLES, SolveSpec, draw_stop, k_hat_of, run_samples, settled, solve_sample, work
from adamlr.errors import NumericalError
from adamlr.problem import prepare
from adamlr.progress import Progress
from adamlr.rng import preserved_rng
from adamlr.sampling import reinitializer
from adamlr.subsets import Subsampler
from tests.assets import factories as f

A = "tests.assets.factories:"
TIGHT = SolveSpec(samples=3, tol=1e-8, max_iter=60)


def problem_of(model="linear_model", data="lsq_data", loss="mse", dtype="float64"):
    with preserved_rng():
        return prepare(A + model, A + data, loss, device="cpu", dtype=dtype, seed=0)


def lsq_top_eigenvalue(data=f.lsq_data):
    x, _ = data()
    return float(np.linalg.eigvalsh(2.0 / x.shape[0] * (x.double().T @ x.double()).numpy())[-1])


def run(problem, spec, finished=None, sink=None, progress=None):
    return run_samples(problem.objective, problem.initial_params, spec, finished=finished or {},
                       on_sample=sink or (lambda s: None), progress=progress or Progress(),
                       make_model=reinitializer(problem.factory, problem.user_model))


class Events(Progress):
    def __init__(self, log):
        self.log = log

    def sample_finished(self, sample):
        self.log.append(("progress", sample.index))


def test_kernel_k_hat_is_the_least_squares_hessian_norm_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    heard = []
    outcome = run(problem_of(), TIGHT, sink=heard.append)
    assert [s.index for s in outcome.samples] == [0, 1, 2] and heard == list(outcome.samples)
    assert k_hat_of(outcome.samples) == pytest.approx(lsq_top_eigenvalue(), rel=1e-8)
    assert outcome.stop == "all drawn" and outcome.examples == outcome.total_examples == 40
    assert os.listdir(tmp_path) == []  # no cache, no journal, no file of any kind


def test_finished_samples_are_reused_and_the_sink_hears_new_ones_before_progress():
    problem = problem_of()
    spec = SolveSpec(samples=4, tol=1e-8, max_iter=60)
    earlier, _ = solve_sample(problem.objective, problem.initial_params, spec, 1, Progress())
    log = []
    outcome = run(problem, spec, finished={1: earlier}, sink=lambda s: log.append(("sink", s.index)),
                  progress=Events(log))
    assert outcome.samples[1] is earlier
    assert log == [("sink", 0), ("progress", 0), ("progress", 1), ("sink", 2), ("progress", 2),
                   ("sink", 3), ("progress", 3)]


def test_a_sample_alone_equals_the_same_sample_in_a_run():
    problem = problem_of("tiny_mlp", "tiny_data", "cross_entropy")
    spec = SolveSpec(samples=3, tol=1e-6, early_stop=False)
    full = run(problem, spec)
    alone, _ = solve_sample(problem.objective, problem.initial_params, spec, 2, Progress())
    assert alone.spectral_norm == full.samples[2].spectral_norm and alone.history == full.samples[2].history


def test_interrupt_propagates_after_the_sink_heard_every_finished_sample():
    heard = []

    def sink(sample):
        heard.append(sample.index)
        if len(heard) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(problem_of(), SolveSpec(samples=5, tol=1e-8, max_iter=60), sink=sink)
    assert heard == [0, 1]


def test_zero_curvature_is_a_numerical_error():
    with preserved_rng():
        problem = prepare(A + "linear_model", A + "lsq_data", f.mean_output, device="cpu", dtype="float64", seed=0)
    outcome = run(problem, SolveSpec(samples=2, tol=1e-8, hvp="stream"))
    assert all(s.spectral_norm == 0.0 for s in outcome.samples)
    with pytest.raises(NumericalError, match="positive Hessian spectral norm"):
        k_hat_of(outcome.samples)


def test_samples_below_the_running_maximum_stop_bounded_and_k_hat_is_unchanged():
    problem = problem_of("tiny_mlp", "tiny_data", "cross_entropy")
    early = run(problem, SolveSpec(samples=10, tol=1e-6)).samples
    full = run(problem, SolveSpec(samples=10, tol=1e-6, early_stop=False)).samples
    assert [s for s in early if s.bounded], "expected some sample below the running maximum to stop early"
    assert k_hat_of(early) == k_hat_of(full)
    for e, f_ in zip(early, full):
        ceiling = max((s.spectral_norm for s in early[: e.index]), default=0.0)
        if e.bounded:  # stopped early, below what it could not exceed; fewer products, never converged
            assert not e.converged and e.iterations < f_.iterations
            assert e.spectral_norm <= f_.spectral_norm * (1 + 1e-9) and f_.spectral_norm < e.upper_bound < ceiling
        else:  # every other solve is the very same
            assert e.history == f_.history and e.converged


def test_solve_sample_without_a_ceiling_is_the_plain_solve():
    problem = problem_of("tiny_mlp", "tiny_data", "cross_entropy")
    spec = SolveSpec(samples=3, tol=1e-6)
    free, _ = solve_sample(problem.objective, problem.initial_params, spec, 2, Progress())
    capped, _ = solve_sample(problem.objective, problem.initial_params, spec, 2, Progress(),
                             ceiling=10 * free.spectral_norm)
    assert not free.bounded and free.converged
    assert capped.bounded and capped.iterations < free.iterations
    assert capped.history == free.history[: capped.iterations]


def test_samples_averaged_over_batches_are_never_bounded():
    problem = problem_of("tiny_mlp", "tiny_data", "cross_entropy")
    outcome = run(problem, SolveSpec(samples=4, tol=1e-6, batch_size=8, batches_per_sample=2))
    assert not any(s.bounded for s in outcome.samples)


# --- sized to the answer ----------------------------------------------------------------------------------


def test_the_settling_rule():
    assert settled([2.0, 1.9, 1.85], 0.1) and not settled([2.0, 1.9], 0.1)  # three at least
    assert not settled([2.0, 1.5, 1.9], 0.1)  # one sample 25 % below the maximum
    assert settled([1.0, 1.0, 1.0, 0.91], 0.1) and not settled([1.0, 1.0, 1.0, 0.89], 0.1)


def test_the_adaptive_draw_stops_when_the_samples_settle_and_its_k_hat_is_the_full_draws_within_accuracy():
    """Least squares: the Hessian is the same at every weight sample, so three samples settle it exactly."""
    problem = problem_of()
    adaptive = run(problem, SolveSpec(samples=10, adaptive=True, tol=1e-8, max_iter=60))
    assert adaptive.stop == "settled" and len(adaptive.samples) == 3
    assert k_hat_of(adaptive.samples) == pytest.approx(lsq_top_eigenvalue(), rel=1e-8)
    fixed = run(problem, SolveSpec(samples=10, adaptive=False, tol=1e-8, max_iter=60))
    assert fixed.stop == "all drawn" and len(fixed.samples) == 10


def test_samples_that_do_not_settle_are_all_drawn():
    problem = problem_of("tiny_mlp", "tiny_data", "cross_entropy")
    outcome = run(problem, SolveSpec(samples=6, adaptive=True, accuracy=1e-6, tol=1e-6))
    norms = [s.spectral_norm for s in outcome.samples]
    assert outcome.stop == "all drawn" and len(norms) == 6 and max(norms) - min(norms) > 1e-6 * max(norms)


def test_a_factory_of_fixed_weights_gives_one_sample_under_weights_init():
    problem = problem_of("fixed_weights_model", "tiny_data", "cross_entropy")
    outcome = run(problem, SolveSpec(samples=10, weights="init", tol=1e-6))
    assert outcome.stop == "identical" and len(outcome.samples) == 1
    gaussian = run(problem, SolveSpec(samples=3, weights="gaussian", tol=1e-6))
    assert gaussian.stop == "all drawn" and len(gaussian.samples) == 3


def test_subset_growth_stops_when_the_norm_settles_and_samples_use_that_subset():
    """6,000 least-squares rows: H_m = 2/m X_mᵀX_m on nested random subsets; the growth stops once two sizes
    agree within accuracy/2, every sample then uses that subset, and K̂ is that subset's exact norm."""
    problem = problem_of("wide_linear_model", "large_lsq_data")
    spec = SolveSpec(samples=3, subset="auto", accuracy=0.1, tol=1e-8, max_iter=60)
    outcome = run(problem, spec)
    sizes = [m for m, _ in outcome.growth]
    assert sizes[0] == START_EXAMPLES and all(b == 2 * a for a, b in zip(sizes, sizes[1:]))
    assert outcome.examples == sizes[-1]
    norms = [h for _, h in outcome.growth]
    assert abs(norms[-1] - norms[-2]) <= 0.05 * norms[-1]
    assert all(s.examples == outcome.examples for s in outcome.samples) and outcome.total_examples == 6000
    x, _ = f.large_lsq_data()
    index = Subsampler(problem.objective.batches, _subset_seed()).order[: outcome.examples]
    xs = x[index].double()
    exact = float(np.linalg.eigvalsh((2.0 / xs.shape[0] * xs.T @ xs).numpy())[-1])
    assert k_hat_of(outcome.samples) == pytest.approx(exact, rel=1e-7)
    assert k_hat_of(outcome.samples) == pytest.approx(lsq_top_eigenvalue(f.large_lsq_data), rel=0.1)


def _subset_seed():
    from adamlr.sampling import sample_seed

    return sample_seed(0, 0, stream=4)


def test_nested_subsets_keep_the_data_shape():
    problem = problem_of("wide_linear_model", "large_lsq_data")
    sub = Subsampler(problem.objective.batches, 7)
    small, large = sub.subset(512), sub.subset(1024)
    xs, xl = next(iter(small)).inputs, next(iter(large)).inputs
    assert small.n_batches == 1 and xs.shape == (512, 8) and torch.equal(xl[:512], xs)  # nested, one batch
    assert sub.subset(3001) is problem.objective.batches  # more than half: all of it
    parts = sub.parts(1024, 8)
    assert [p.n_examples for p in parts] == [128] * 8


def test_the_budget_caps_the_growth_and_lets_two_agreeing_samples_end_the_draw():
    """With a budget below the next doubling's projected work the subset stays small; two samples that agree within
    the accuracy then end the draw (``budget``), where without a budget it takes three."""
    problem = problem_of("wide_linear_model", "large_lsq_data")
    spec = SolveSpec(samples=10, adaptive=True, subset="auto", accuracy=0.1, tol=1e-8, max_iter=60, budget=1.0)
    outcome = run(problem, spec)
    assert [m for m, _ in outcome.growth] == [START_EXAMPLES] and outcome.examples == START_EXAMPLES
    assert outcome.stop == "budget" and len(outcome.samples) == 2
    free = run(problem, SolveSpec(samples=10, adaptive=True, subset="auto", accuracy=0.1, tol=1e-8, max_iter=60))
    assert free.stop == "settled" and len(free.samples) == 3 and free.examples > START_EXAMPLES


def test_the_draw_stop_reads_only_the_samples():
    from adamlr.samples import SampleResult

    def s(i, norm, examples=100, products=5):
        return SampleResult(i, norm, norm, products, True, 0.0, 0.0, 1.0, 1.0, examples=examples)

    spec = SolveSpec(samples=10, adaptive=True, accuracy=0.1, budget=2 * work(100, 5) + 1)
    assert draw_stop([s(0, 1.0)], spec) is None
    assert draw_stop([s(0, 1.0), s(1, 0.95)], spec) == "budget"  # a third sample would pass the budget
    assert draw_stop([s(0, 1.0), s(1, 0.5)], spec) is None  # two that disagree: a third, budget or not
    assert draw_stop([s(0, 1.0), s(1, 0.5), s(2, 0.7)], spec) == "budget"  # three: the budget ends the draw
    assert draw_stop([s(0, 1.0), s(1, 0.95), s(2, 0.97)], SolveSpec(samples=10, adaptive=True)) == "settled"
    assert draw_stop([s(0, 1.0), s(1, 0.95)], SolveSpec(samples=10, adaptive=False)) is None


def test_a_one_batch_solve_caches_its_graph_when_allowed_and_gives_the_streamed_norm(monkeypatch):
    """Streaming one batch holds that batch's gradient graph as caching does, and rebuilds it for every product:
    with ``cache_one_batch`` (the ``auto`` mode) a one-batch subset is solved cached, with the streamed K̂ to
    rounding; a subset of several batches streams, and so does every solve without the flag (``--hvp stream``)."""
    import adamlr.algorithm as algorithm

    real, used = algorithm.HessianOperator, []

    def spy(objective, params, mode):
        used.append((objective.batches.n_batches, mode))
        return real(objective, params, mode)

    monkeypatch.setattr(algorithm, "HessianOperator", spy)
    with preserved_rng():
        problem = prepare(A + "wide_linear_model", A + "large_lsq_data", "mse", device="cpu", dtype="float64", seed=0,
                          chunk_size=100)
    spec = SolveSpec(samples=2, subset=128, tol=1e-8, max_iter=60, hvp="stream")
    streamed = run(problem, spec)
    one_batch = run(problem, replace(spec, cache_one_batch=True))
    several = run(problem, replace(spec, subset=512, cache_one_batch=True))
    assert used == [(1, "stream")] * 2 + [(1, "cached")] * 2 + [(5, "stream")] * 2
    assert (streamed.hvp, one_batch.hvp, several.hvp) == ("stream", "cached", "stream")
    assert k_hat_of(one_batch.samples) == pytest.approx(k_hat_of(streamed.samples), rel=1e-10)
