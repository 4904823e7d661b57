"""How often a converged (or bounded) Lanczos answer is wrong, on seeded adversarial spectra.

    python benchmarks/adversarial_spectra.py               # 300 spectra × tol 1e-2, 1e-3, 1e-4
    python benchmarks/adversarial_spectra.py --seeds 60

Spectra: eigenvalues 1, −u, v with u, v ~ U[0.9, 1] (the top two within 10 %, of both
signs), plus 80 in U[−0.9, 0.9], in a random orthogonal basis; a Gaussian start vector.
It counts the solves that reported ``converged`` with |θ| farther than tol (relative) from
the true norm (numpy's eigvalsh), and the mean number of products; then it runs every
solve again with a ``ceiling`` (the running K̂ of Algorithm 2) just below the true norm,
where a ``bounded`` answer would be wrong, and above it, where it saves products.

``--rules`` adds the rules that benchmarks/stop_replay.py replays on real Hessians, replayed here
on each spectrum's recorded Lanczos coefficients: converged answers farther than tol from the truth
for the default stop, a residual margin of 1 and the ρ²/gap stop, and wrongly bounded answers under
the ceilings below the truth for bound margins of 10 (the default), 3 and 1.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from stop_replay import bound_margin_rule, default_rule, gap_rule, margin_one_rule
from stop_replay import solve as replay

from adamlr.solvers import Lanczos, spectral_norm


def symmetric(eigenvalues: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    return q @ np.diag(eigenvalues) @ q.T


def spectrum(seed: int, family: str = "close") -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    if family == "spread":  # a few eigenvalues spread over decades (the least-squares tests' kind): top often hidden
        n = int(rng.integers(4, 12))
        return np.concatenate([[1.0], 10.0 ** rng.uniform(-2, -0.05, n - 1) * rng.choice([-1, 1], n - 1)])
    return np.concatenate([[1.0, -rng.uniform(0.9, 1.0), rng.uniform(0.9, 1.0)], rng.uniform(-0.9, 0.9, 80)])


def solve(a: np.ndarray, tol: float, seed: int, ceiling: float | None = None):
    m = torch.from_numpy(a)
    start = torch.from_numpy(np.random.default_rng(seed).standard_normal(a.shape[0]))
    return spectral_norm(lambda v: m @ v, start, tol=tol, max_iter=a.shape[0], ceiling=ceiling)


BELOW = (0.9, 0.95, 0.98, 0.99, 0.999)  # ceilings below the true norm: a bounded answer there is wrong
ABOVE = (1.01, 1.05, 1.1, 1.2)  # ceilings above it: bounded is right, and saves products


def recorded(a: np.ndarray, seed: int) -> dict[str, list[float]]:
    """The whole Lanczos run on ``a`` from the benchmark's start vector (n products or an invariant subspace)."""
    m = torch.from_numpy(a)
    solver = Lanczos(torch.from_numpy(np.random.default_rng(seed).standard_normal(a.shape[0])), 1e-13, a.shape[0])
    while not solver.done:
        solver.step(m @ solver.vector)
    return {"alphas": solver.alphas, "betas": [*solver.betas, 0.0][: len(solver.alphas)]}


CONVERGED_RULES = {"default": default_rule, "margin 1": margin_one_rule, "gap": gap_rule}
BOUND_MARGINS = (10.0, 3.0, 1.0)


def replayed_rules(seeds: int, family: str) -> None:
    """Wrong converged and wrongly bounded answers per rule, replayed on recorded solves."""
    for tol in (1e-2, 1e-3, 1e-4):
        wrong = dict.fromkeys(CONVERGED_RULES, 0)
        bounded = dict.fromkeys(BOUND_MARGINS, 0)
        for seed in range(seeds):
            a = symmetric(spectrum(seed, family), seed)
            truth = float(np.max(np.abs(np.linalg.eigvalsh(a))))
            rec = recorded(a, seed)
            for name, rule in CONVERGED_RULES.items():
                _, norm, verdict = replay(rec, rule, None, tol)
                wrong[name] += verdict.converged and abs(norm - truth) > tol * truth
            for margin in BOUND_MARGINS:
                bounded[margin] += sum(replay(rec, bound_margin_rule(margin), c * truth, tol)[2].bounded for c in BELOW)
        print(f"replayed, tol {tol:.0e}: converged but farther than tol "
              + ", ".join(f"{name} {n}/{seeds}" for name, n in wrong.items())
              + "; wrongly bounded " + ", ".join(f"margin {m:g} {n}/{len(BELOW) * seeds}" for m, n in bounded.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--family", choices=("close", "spread"), default="close")
    parser.add_argument("--rules", action="store_true", help="also replay the rules not adopted (margins, ρ²/gap)")
    args = parser.parse_args()
    print(f"{args.seeds} spectra per tol, family {args.family}")
    for tol in (1e-2, 1e-3, 1e-4):
        wrong = unconverged = products = bounded_wrong = 0
        saved = {c: [0, 0] for c in ABOVE}  # bounded count, products
        for seed in range(args.seeds):
            a = symmetric(spectrum(seed, args.family), seed)
            truth = float(np.max(np.abs(np.linalg.eigvalsh(a))))
            r = solve(a, tol, seed)
            products += r.iterations
            unconverged += not r.converged
            wrong += r.converged and abs(r.spectral_norm - truth) > tol * truth
            bounded_wrong += sum(solve(a, tol, seed, ceiling=c * truth).bounded for c in BELOW)
            for c in ABOVE:
                b = solve(a, tol, seed, ceiling=c * truth)
                saved[c][0] += b.bounded
                saved[c][1] += b.iterations
        above = ", ".join(f"×{c}: {n} bounded, {p / args.seeds:.1f} products" for c, (n, p) in saved.items())
        print(f"tol {tol:.0e}: converged but farther than tol from the truth {wrong}/{args.seeds}, not converged "
              f"{unconverged}, {products / args.seeds:.1f} products per solve")
        print(f"   ceilings below the truth (×{', ×'.join(map(str, BELOW))}): bounded (wrongly) "
              f"{bounded_wrong}/{len(BELOW) * args.seeds}")
        print(f"   ceilings above the truth: {above}")
    if args.rules:
        replayed_rules(args.seeds, args.family)


if __name__ == "__main__":
    main()
