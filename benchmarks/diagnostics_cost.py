"""Cost of the stability diagnostics next to one estimate sample, measured side by side.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics_cost.py
    python benchmarks/diagnostics_cost.py --model adamlr.zoo.nets:mlp3_digits --repeats 1

On the full data, in one process, median of --repeats wall-clock seconds of:
  estimate sample   one weight sample (gaussian, scale 1) and its Hessian spectral-norm solve
                    at the estimate's defaults (Lanczos, tol 1e-3, at most 100 products, cached graph)
  probe             diagnostics.probe: 10 full-batch Adam steps from w0 (10 gradients + loss evaluations)
  stability         diagnostics.adam_stability: 10 warm-up steps + a Lanczos solve at w0 (defaults)
and each as a ratio to the estimate sample.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from adamlr.diagnostics import adam_stability, probe
from adamlr.hvp import HessianOperator
from adamlr.problem import prepare
from adamlr.sampling import sample_seed, sample_weights
from adamlr.solvers import spectral_norm


def median_seconds(fn: Callable[[], str], repeats: int) -> tuple[float, str]:
    times, detail = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        detail = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="adamlr.zoo.nets:mlp_digits")
    parser.add_argument("--data", default="adamlr.zoo.data:digits")
    parser.add_argument("--lr", type=float, default=1e-3, help="the rate probed and compared with the limit")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    problem = prepare(args.model, args.data, "cross_entropy", device="cpu", dtype="float32", seed=0)
    objective, w0 = problem.objective, problem.initial_params
    objective.value(w0)  # first pass: loads the data and fills in its size

    def estimate_sample() -> str:
        params = sample_weights("gaussian", w0, scale=1.0, seed=sample_seed(0, 0))
        operator = HessianOperator(objective, params, "cached")
        start = torch.randn(operator.size, generator=torch.Generator().manual_seed(0)).to(w0[operator.layout.names[0]])
        solved = spectral_norm(operator.matvec, start, method="lanczos", tol=1e-3, max_iter=100)
        operator.release()
        return f"{solved.iterations} products, norm {solved.spectral_norm:.4g}"

    def probe_run() -> str:
        result = probe(objective, w0, args.lr, steps=10)
        return f"verdict {result.verdict}, L(w0) {result.initial_loss:.4g} -> {result.losses[-1]:.4g}"

    def stability_run() -> str:
        result = adam_stability(objective, w0, args.lr)
        return f"{result.iterations} products, limit {result.lr_limit:.3g}, ratio {result.ratio:.3g}"

    rows = [(name, *median_seconds(fn, args.repeats))
            for name, fn in [("estimate sample", estimate_sample), ("probe (k=10)", probe_run),
                             ("stability", stability_run)]]
    print(f"{args.model} on {args.data} ({problem.n_params} weights), median of {args.repeats}")
    for name, seconds, detail in rows:
        print(f"  {name:<16} {seconds:8.3f} s  {seconds / rows[0][1]:6.2f}x   {detail}")


if __name__ == "__main__":
    main()
