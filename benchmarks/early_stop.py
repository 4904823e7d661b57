"""Hessian-vector products of Algorithm 2 with and without early stops, side by side in one run.

    python benchmarks/early_stop.py                          # the demo (mlp_digits on digits)
    python benchmarks/early_stop.py --cases small,mlp3,lenet # + MLP 3×1000 and LeNet on mini Fashion-MNIST
    python benchmarks/early_stop.py --tight --warm            # + a --tol 1e-7 reference and the warm-start arm

Arms, all on the same weight samples (adamlr's defaults: 10 gaussian samples, Lanczos,
tol 1e-3, cached full-data graph, float32):

  before   every sample driven to tol, as before early stops (``run_samples(early_stop=False)``)
  after    samples that cannot raise the running K̂ stop early as ``bounded`` (the default)
  tight    ``--tight``: before, at tol 1e-7 (max 300 products), the reference for K̂
  warm     ``--warm``: after, but each start vector is the previous sample's top Ritz vector
           plus an equal-norm random vector (the "better starts" experiment; not adopted)

It prints per arm: total products, samples bounded, K̂, α (T = 100 epochs) and the
relative differences to ``before`` (and ``tight``), then the product ratio after/before.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from adamlr.algorithm import SolveSpec, run_samples
from adamlr.config import Settings
from adamlr.formula import recommended_lr
from adamlr.hvp import HessianOperator
from adamlr.problem import Problem, prepare
from adamlr.progress import Progress
from adamlr.rng import preserved_rng
from adamlr.samples import SampleResult
from adamlr.sampling import sample_seed, sample_weights
from adamlr.solvers import spectral_norm

CASES = {
    "small": ("adamlr.zoo.nets:mlp_digits", "adamlr.zoo.data:digits"),
    "mlp3": ("adamlr.zoo.nets:mlp3_fashion", "adamlr.zoo.data:fashion_mini"),
    "lenet": ("adamlr.zoo.nets:lenet_fashion", "adamlr.zoo.data:fashion_mini"),
}


def warm_run(problem: Problem, settings: Settings) -> tuple[SampleResult, ...]:
    """The kernel's loop with warm starts: previous top Ritz vector + an equal-norm random vector."""
    samples: list[SampleResult] = []
    previous: torch.Tensor | None = None
    for j in range(settings.samples):
        params = sample_weights("gaussian", problem.initial_params, scale=1.0, seed=sample_seed(settings.seed, j))
        op = HessianOperator(problem.objective, params, "cached")
        gen = torch.Generator().manual_seed(sample_seed(settings.seed, j, stream=1))
        start = torch.randn(op.size, generator=gen, dtype=torch.float64).float()
        if previous is not None:
            start = start / start.norm() + previous
        ceiling = max((s.spectral_norm for s in samples), default=None)
        eigen = spectral_norm(op.matvec, start, tol=settings.tol, max_iter=settings.max_iter, ceiling=ceiling,
                              keep_vector=True)
        previous = eigen.vector
        op.release()
        samples.append(SampleResult(j, eigen.spectral_norm, eigen.eigenvalue, eigen.iterations, eigen.converged,
                                    eigen.residual, 0.0, 0.0, 0.0, bounded=eigen.bounded))
    return tuple(samples)


def arm(problem: Problem, settings: Settings, initial_loss: float, name: str) -> dict[str, float]:
    started = time.perf_counter()
    if name == "warm":
        samples = warm_run(problem, settings)
    else:
        tight = name == "tight"
        s = dataclasses.replace(settings, tol=1e-7, max_iter=300) if tight else settings
        spec = SolveSpec(samples=s.sample_count, tol=s.solver_tol, max_iter=s.max_iter, seed=s.seed,
                         early_stop=name == "after")
        samples = run_samples(problem.objective, problem.initial_params, spec, finished={}, on_sample=lambda _: None,
                              progress=Progress()).samples
    k_hat = max(x.spectral_norm for x in samples)
    return {"hvps": sum(x.iterations for x in samples), "bounded": sum(x.bounded for x in samples),
            "k_hat": k_hat, "lr": recommended_lr(initial_loss, k_hat, 100),
            "seconds": time.perf_counter() - started, "per": [x.iterations for x in samples]}


def report(case: str, arms: list[str], samples: int) -> None:
    model, data = CASES[case]
    settings = Settings(epochs=100, samples=samples, device="cpu", tol=1e-3)  # --exact's tolerance
    with preserved_rng():
        problem = prepare(model, data, settings.loss, device="cpu", dtype="float32", seed=0)
    initial_loss = problem.objective.value(problem.initial_params)
    rows = {name: arm(problem, settings, initial_loss, name) for name in arms}
    print(f"\n== {case}: {model} on {data}, {problem.n_params:,} parameters, {samples} samples, "
          f"{torch.get_num_threads()} threads")
    print(f"   {'arm':<7} {'HVPs':>5} {'bounded':>7} {'K̂':>12} {'α':>12} {'ΔK̂/K̂ vs before':>16} "
          f"{'vs tight':>9} {'seconds':>8}  per sample")
    base, ref = rows["before"], rows.get("tight")
    for name, r in rows.items():
        vs_ref = f"{abs(r['k_hat'] - ref['k_hat']) / ref['k_hat']:.1e}" if ref else "-"
        print(f"   {name:<7} {r['hvps']:>5} {r['bounded']:>7} {r['k_hat']:>12.7g} {r['lr']:>12.7g} "
              f"{abs(r['k_hat'] - base['k_hat']) / base['k_hat']:>16.1e} {vs_ref:>9} {r['seconds']:>8.1f}  {r['per']}")
    after = rows["after"]
    print(f"   after/before: {after['hvps']}/{base['hvps']} = {after['hvps'] / base['hvps']:.2f} of the products, "
          f"α {after['lr']:.4g} vs {base['lr']:.4g}")
    if "warm" in rows:
        print(f"   warm/after: {rows['warm']['hvps']}/{after['hvps']} = {rows['warm']['hvps'] / after['hvps']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="small")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--tight", action="store_true", help="add the tol 1e-7 reference arm")
    parser.add_argument("--warm", action="store_true", help="add the warm-start arm")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arms = ["before", "after"] + (["tight"] if args.tight else []) + (["warm"] if args.warm else [])
    for case in args.cases.split(","):
        report(case, arms, args.samples)


if __name__ == "__main__":
    main()
