"""Lower precision for the early iterations: bfloat16 Lanczos first, then float32 from its Ritz vectors.

    python benchmarks/mixed_precision.py                 # the demo MLP on digits and the MLP 3×1000, 3 samples each
    python benchmarks/mixed_precision.py --cases mlp3 --samples 5

For each of adamlr's gaussian weight samples (the solver's own start vector), side by side in one process:

  float32  adamlr's default solve: Lanczos at tol 1e-3 on a cached float32 graph
  mixed    Lanczos on a cached bfloat16 graph (model and data cast) until its relative residual is below
           --rough (default 2e-2), then float32 Lanczos at tol 1e-3 from the sum of the bfloat16 run's two
           end Ritz vectors and an equal-norm random vector (so neither end, nor a hidden top, starts at 0)

It prints products (float32 and bfloat16), wall time including each graph's construction, |θ| and the
float32/mixed time ratio. Issue 12's "lower precision for early iterations" experiment; not adopted
(docs/benchmarks.md). bfloat16 matrix products are fast only where the hardware has them (here: AMX).
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from adamlr.problem import prepare
from adamlr.sampling import sample_seed, sample_weights
from adamlr.solvers import Lanczos

CASES = {
    "small": ("adamlr.zoo.nets:mlp_digits", "adamlr.zoo.data:digits"),
    "mlp3": ("adamlr.zoo.nets:mlp3_fashion", "adamlr.zoo.data:fashion_mini"),
}


def hessian_matvec(module: torch.nn.Module, weights: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                   dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ ∇²L(w)v on one cached graph in ``dtype`` (cross-entropy in float32); float32 vectors in and out."""
    leaves = {k: w.to(dtype).detach().requires_grad_() for k, w in weights.items()}
    out = torch.func.functional_call(copy.deepcopy(module).to(dtype), leaves, (x.to(dtype),))
    grads = torch.autograd.grad(F.cross_entropy(out.float(), y), list(leaves.values()), create_graph=True)
    shapes, numels = [w.shape for w in leaves.values()], [w.numel() for w in leaves.values()]

    def matvec(v: torch.Tensor) -> torch.Tensor:
        pieces = [c.view(s).to(dtype) for c, s in zip(torch.split(v, numels), shapes)]
        hv = torch.autograd.grad(grads, list(leaves.values()), pieces, retain_graph=True)
        return torch.cat([h.reshape(-1).float() for h in hv])

    return matvec


def lanczos(matvec: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor, tol: float) -> Lanczos:
    solver = Lanczos(start, tol, 100)
    while not solver.done:
        solver.step(matvec(solver.vector))
    return solver


def end_vectors(solver: Lanczos) -> torch.Tensor:
    """The sum of the unit Ritz vectors of the smallest and the largest Ritz value."""
    return solver.ritz_vector(0) + solver.ritz_vector(len(solver.alphas) - 1)


def report(case: str, samples: int, rough: float) -> None:
    problem = prepare(*CASES[case], "cross_entropy", device="cpu", dtype="float32", seed=0)
    x, y = next(iter(problem.objective.batches))
    module = problem.objective.module
    print(f"\n== {case}: {problem.n_params:,} parameters, {len(y)} examples, {samples} samples, rough {rough:g}")
    totals = {"float32": 0.0, "mixed": 0.0}
    for dtype in (torch.float32, torch.bfloat16):  # warm-up: first calls pay one-off costs
        hessian_matvec(module, problem.initial_params, x, y, dtype)(torch.ones(problem.n_params))
    for j in range(samples):
        weights = sample_weights("gaussian", problem.initial_params, scale=1.0, seed=sample_seed(0, j))
        gen = torch.Generator().manual_seed(sample_seed(0, j, stream=1))
        start = torch.randn(problem.n_params, generator=gen, dtype=torch.float64).float()
        began = time.perf_counter()
        plain = lanczos(hessian_matvec(module, weights, x, y, torch.float32), start, 1e-3)
        plain_s = time.perf_counter() - began
        began = time.perf_counter()
        early = lanczos(hessian_matvec(module, weights, x, y, torch.bfloat16), start, rough * 10)
        noise = torch.randn(problem.n_params, generator=gen)
        late = lanczos(hessian_matvec(module, weights, x, y, torch.float32), end_vectors(early) + noise / noise.norm(),
                       1e-3)
        mixed_s = time.perf_counter() - began
        totals["float32"] += plain_s
        totals["mixed"] += mixed_s
        print(f"   sample {j}: float32 {plain.iterations} products {plain_s:.1f} s |θ| {abs(plain.theta):.7g}; "
              f"mixed {early.iterations} bfloat16 + {late.iterations} float32 {mixed_s:.1f} s |θ| "
              f"{abs(late.theta):.7g} ({abs(late.theta) / abs(plain.theta) - 1:+.1e}), converged {late.converged}")
    print(f"   float32 / mixed time: {totals['float32']:.1f} s / {totals['mixed']:.1f} s = "
          f"{totals['float32'] / totals['mixed']:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="small,mlp3")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--rough", type=float, default=2e-2, help="bfloat16 phase's relative residual")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for case in args.cases.split(","):
        report(case, args.samples, args.rough)


if __name__ == "__main__":
    main()
