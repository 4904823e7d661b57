"""Stop rules for Algorithm 2 replayed on recorded Lanczos coefficients: products, K̂ and α per rule.

    python benchmarks/stop_replay.py                            # the demo (mlp_digits on digits)
    python benchmarks/stop_replay.py --cases small,mlp3,lenet   # + MLP 3×1000 and LeNet on mini Fashion-MNIST
    python benchmarks/stop_replay.py --records runs/replay      # keep the recordings, reuse them next time

For each weight sample (adamlr's defaults: 10 gaussian samples, the solver's own start vector,
cached full-data graph, float32) it runs Lanczos once to a relative residual of 1e-8 (``--tol 1e-7``,
the tight reference) and keeps the coefficients α_1.., β_2... A solve stopped after k products would
have computed exactly the first k of them (same start, same products, same reorthogonalisation), so
every stop rule can be replayed on the recording with :func:`adamlr.stop_rules.lanczos_verdict`, the
code the solver itself runs. The ``check`` line runs the real kernel (``run_samples``) for the
default rule and must print the same products and K̂ as the ``after`` row.

Rules, each over all samples (tol 1e-3 unless said):

  before        every sample driven to tol (no ceilings)
  after         the default: sample j may stop ``bounded`` under the largest |θ| of samples 0..j−1
  racing        all samples advance one product per round; a sample's ceiling is the largest current
                |θ| of the others (a lower bound on K̂ at every moment); needs every sample's basis and
                graph at once
  ideal ceiling each sample bounded under the true K̂ from its first product on: the least any
                ceiling schedule can spend with this bound rule (not realisable)
  oracle        each sample stops at the first product after which |θ| stays within tol of its final
                value: the least any rule driving every sample to tol can spend (not realisable)
  margin 1      converged at a residual below tol instead of tol/10, with early stops
  gap           converged when ρ²/gap < tol (gap to the next Ritz value at the same end, less its
                residual), with early stops; the eigenvalue-error stop of issue 12's first item
  bound margin  early stops with |θ_e| + 3ρ_e or |θ_e| + ρ_e below the ceiling instead of + 10ρ_e

For each: total products, their ratio to ``before``, K̂'s relative difference to the recording
(``tight``), and whether α (T = 100 epochs) agrees with the tight α to 4 significant digits. The
adversarial-spectra checks that ``margin 1`` and ``gap`` fail are in benchmarks/adversarial_spectra.py.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

from adamlr.algorithm import SolveSpec, run_samples
from adamlr.formula import recommended_lr
from adamlr.hvp import HessianOperator
from adamlr.problem import prepare
from adamlr.progress import Progress
from adamlr.rng import preserved_rng
from adamlr.sampling import sample_seed, sample_weights
from adamlr.solvers import Lanczos
from adamlr.stop_rules import RESIDUAL_MARGIN, Verdict, bound, lanczos_verdict, ritz_pairs

CASES = {
    "small": ("adamlr.zoo.nets:mlp_digits", "adamlr.zoo.data:digits"),
    "mlp3": ("adamlr.zoo.nets:mlp3_fashion", "adamlr.zoo.data:fashion_mini"),
    "lenet": ("adamlr.zoo.nets:lenet_fashion", "adamlr.zoo.data:fashion_mini"),
}
TOL, SAMPLES, EPOCHS = 1e-3, 10, 100
Record = dict[str, list[float]]
Rule = Callable[[Record, int, float | None, float], Verdict]  # (recording, k, ceiling, tol)


def record(case: str, samples: int, max_iter: int) -> dict[str, object]:
    """Each sample's Lanczos to a relative residual of 1e-8 (``--tol 1e-7``) or max_iter, with its coefficients."""
    model, data = CASES[case]
    with preserved_rng():
        problem = prepare(model, data, "cross_entropy", device="cpu", dtype="float32", seed=0)
    records = []
    for j in range(samples):
        params = sample_weights("gaussian", problem.initial_params, scale=1.0, seed=sample_seed(0, j))
        op = HessianOperator(problem.objective, params, "cached")
        gen = torch.Generator().manual_seed(sample_seed(0, j, stream=1))
        solver = Lanczos(torch.randn(op.size, generator=gen, dtype=torch.float64).float(), 1e-7, max_iter)
        while not solver.done:
            solver.step(op.matvec(solver.vector))
        op.release()
        records.append({"alphas": solver.alphas, "betas": solver.betas})
        print(f"   recorded {case} sample {j}: {solver.iterations} products, |θ| {abs(solver.theta):.6g}", flush=True)
    return {"initial_loss": problem.objective.value(problem.initial_params), "params": problem.n_params,
            "records": records}


def default_rule(rec: Record, k: int, ceiling: float | None, tol: float = TOL) -> Verdict:
    return lanczos_verdict(rec["alphas"][:k], rec["betas"][:k], tol, "magnitude", ceiling)


def margin_one_rule(rec: Record, k: int, ceiling: float | None, tol: float = TOL) -> Verdict:
    return lanczos_verdict(rec["alphas"][:k], rec["betas"][:k], tol / RESIDUAL_MARGIN, "magnitude", ceiling)


def bound_margin_rule(margin: float) -> Rule:
    """The default, but bounded when both ends' |θ_e| + margin·ρ_e lie below the ceiling (default margin: 10)."""

    def rule(rec: Record, k: int, ceiling: float | None, tol: float = TOL) -> Verdict:
        verdict = default_rule(rec, k, None, tol)
        if verdict.converged:
            return verdict
        values, _, rho = ritz_pairs(rec["alphas"][:k], rec["betas"][:k])
        upper = bound(values, rho, verdict.residual, "magnitude", ceiling, margin)
        return Verdict(verdict.theta, verdict.residual, False, upper is not None, upper, verdict.index)

    return rule


def gap_rule(rec: Record, k: int, ceiling: float | None, tol: float = TOL) -> Verdict:
    """Converged once ρ²/gap < tol·|θ| at the dominant end and the other end is below it (or settled)."""
    verdict = default_rule(rec, k, ceiling, tol)
    if verdict.converged or verdict.bounded or k < 3:
        return verdict
    values, _, rho = ritz_pairs(rec["alphas"][:k], rec["betas"][:k])
    i = verdict.index
    inner = i - 1 if i == k - 1 else i + 1  # the next Ritz value at the same end
    gap = abs(values[i] - values[inner]) - rho[inner]
    j = k - 1 - i
    other_below = abs(values[j]) + rho[j] < abs(values[i])
    if gap > 0 and rho[i] ** 2 / gap < tol * abs(values[i]) and other_below:
        return Verdict(verdict.theta, verdict.residual, True, index=i)
    return verdict


def solve(rec: Record, rule: Rule, ceiling: float | None, tol: float = TOL) -> tuple[int, float, Verdict]:
    """Products and |θ| where ``rule`` stops this recorded solve (at the end of the recording at the latest)."""
    n = len(rec["alphas"])
    for k in range(1, n + 1):
        v = rule(rec, k, ceiling, tol)
        if v.converged or v.bounded:
            return k, abs(v.theta), v
    return n, abs(v.theta), v


def sequential(records: list[Record], rule: Rule, early: bool = True) -> tuple[int, float]:
    total, norms = 0, []
    for rec in records:
        k, norm, _ = solve(rec, rule, max(norms) if norms and early else None)
        total, norms = total + k, [*norms, norm]
    return total, max(norms)


def racing(records: list[Record]) -> tuple[int, float]:
    steps, norms, live, total = [0] * len(records), [0.0] * len(records), set(range(len(records))), 0
    while live:
        for i in sorted(live):
            steps[i] += 1
            total += 1
            others = max((norms[m] for m in range(len(records)) if m != i), default=0.0)
            v = default_rule(records[i], steps[i], others or None)
            norms[i] = abs(v.theta)
            if v.converged or v.bounded or steps[i] == len(records[i]["alphas"]):
                live.discard(i)
    return total, max(norms)


def ideal(records: list[Record], k_tight: float) -> tuple[int, float]:
    """Every sample with the true K̂ (a hair above it) as its ceiling from the first product on."""
    solves = [solve(rec, default_rule, k_tight * (1 + 1e-12)) for rec in records]
    return sum(k for k, _, _ in solves), max(norm for _, norm, _ in solves)


def oracle(records: list[Record], tight: list[float]) -> tuple[int, float]:
    total, found = 0, []
    for rec, final in zip(records, tight):
        thetas = [abs(default_rule(rec, k, None).theta) for k in range(1, len(rec["alphas"]) + 1)]
        close = [abs(t - final) <= TOL * final for t in thetas]
        k = next(k for k in range(len(close)) if all(close[k:])) + 1
        total, found = total + k, [*found, thetas[k - 1]]
    return total, max(found)


def report(case: str, data: dict, check: bool) -> None:
    records: list[Record] = data["records"]
    tight = [abs(default_rule(rec, len(rec["alphas"]), None).theta) for rec in records]
    k_tight = max(tight)

    def lr(k_hat: float) -> float:
        return recommended_lr(data["initial_loss"], k_hat, EPOCHS)

    rows = {
        "before": sequential(records, default_rule, early=False),
        "after": sequential(records, default_rule),
        "racing": racing(records),
        "ideal ceiling": ideal(records, k_tight),
        "oracle": oracle(records, tight),
        "margin 1": sequential(records, margin_one_rule),
        "gap": sequential(records, gap_rule),
        "bound margin 3": sequential(records, bound_margin_rule(3.0)),
        "bound margin 1": sequential(records, bound_margin_rule(1.0)),
    }
    base = rows["before"][0]
    print(f"\n== {case}: {CASES[case][0]}, {data['params']:,} parameters, {len(records)} samples, tol {TOL:g}")
    print(f"   tight (--tol 1e-7): {sum(len(r['alphas']) for r in records)} products, K̂ {k_tight:.7g}, "
          f"α {lr(k_tight):.4g}")
    print(f"   {'rule':<15} {'HVPs':>5} {'× before':>9} {'K̂ vs tight':>11} {'α to 4 digits':>14}")
    for name, (hvps, k_hat) in rows.items():
        same = f"{lr(k_hat):.4g}" == f"{lr(k_tight):.4g}"
        print(f"   {name:<15} {hvps:>5} {hvps / base:>9.2f} {abs(k_hat - k_tight) / k_tight:>11.1e} "
              f"{'same' if same else f'{lr(k_hat):.4g}':>14}")
    if check:
        model, spec = CASES[case]
        with preserved_rng():
            problem = prepare(model, spec, "cross_entropy", device="cpu", dtype="float32", seed=0)
        kernel = SolveSpec(samples=len(records), tol=1e-3)  # --exact's solve: the whole data, tol 1e-3, early stops
        real = run_samples(problem.objective, problem.initial_params, kernel, finished={}, on_sample=lambda _: None,
                           progress=Progress()).samples
        print(f"   check: the real kernel at defaults used {sum(s.iterations for s in real)} products, "
              f"K̂ {max(s.spectral_norm for s in real):.7g} (replayed 'after': {rows['after'][0]}, "
              f"{rows['after'][1]:.7g})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="small")
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--max-iter", type=int, default=120)
    parser.add_argument("--records", type=Path, help="directory to keep recordings in and reuse them from")
    parser.add_argument("--check", choices=("small", "all", "none"), default="small",
                        help="which cases also run the real kernel to confirm the replay (default: small)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for case in args.cases.split(","):
        path = args.records / f"{case}-{args.samples}.json" if args.records else None
        if path and path.exists():
            data = json.loads(path.read_text())
        else:
            started = time.perf_counter()
            data = record(case, args.samples, args.max_iter)
            print(f"   recording took {time.perf_counter() - started:.0f} s")
            if path:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(data))
        report(case, data, args.check == "all" or args.check == case)


if __name__ == "__main__":
    main()
