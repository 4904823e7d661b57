"""Time per Hessian-vector product and per estimate, 1 process vs 2 (torchrun, Gloo on CPU), side by side.

    python benchmarks/distributed.py                 # MLP 256-128-128-10 on 4096 synthetic examples
    python benchmarks/distributed.py --quick         # seconds: a smoke run (CI)
    python benchmarks/distributed.py --examples 8192 --hidden 256 --samples 4

Each configuration is launched with ``python -m torch.distributed.run --standalone
--nproc-per-node=W`` (W = 1 runs adamlr's one-process path under the same launcher) with
``OMP_NUM_THREADS=1`` per process, on the same model, data and seed:

  hvp            median seconds of one data-parallel product (cached graph), over --repeats
  in its all-reduce  of those, the seconds spent in the product's all-reduce, waiting for the slower
                 rank included
  all-reduce alone   the same all-reduce right after a barrier: the communication itself (its share
                 of a product is the communication share)
  estimate       one whole ``adamlr.estimate`` (N samples + the diagnostics), --parallel data and samples

and prints the times and the ratios 1 process / 2 processes. On a machine shared with
other jobs the absolute times are noisy; compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve()
SHAPE = {"examples": 4096, "inputs": 256, "hidden": 128, "classes": 10}


def make_model() -> nn.Module:
    """MLP inputs → hidden → hidden → classes (tanh), sized by $BENCH_SHAPE."""
    s = json.loads(os.environ.get("BENCH_SHAPE", json.dumps(SHAPE)))
    return nn.Sequential(nn.Linear(s["inputs"], s["hidden"]), nn.Tanh(), nn.Linear(s["hidden"], s["hidden"]),
                         nn.Tanh(), nn.Linear(s["hidden"], s["classes"]))


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic classification data, the same on every rank (seeded)."""
    s = json.loads(os.environ.get("BENCH_SHAPE", json.dumps(SHAPE)))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(s["examples"], s["inputs"], generator=g)
    return x, torch.randint(0, s["classes"], (s["examples"],), generator=g)


def _worker(args: argparse.Namespace) -> None:
    """Runs on every rank under torchrun; rank 0 writes the timings to --out."""
    from adamlr import estimate
    from adamlr.distributed import session
    from adamlr.hvp import HessianOperator
    from adamlr.problem import prepare
    from adamlr.sampling import sample_weights
    from adamlr.sharding import ShardedObjective, Sharder

    torch.set_num_threads(1)
    model, data = f"{HERE}:make_model", f"{HERE}:make_data"
    with session() as comm:
        settings_kw: dict[str, Any] = dict(epochs=10, samples=args.samples, max_iter=args.max_iter, seed=0,
                                           device="cpu", probe_steps=10, subset="all")  # data-parallel: all
        problem = prepare(model, data, "cross_entropy", device=comm.device_name("cpu"), dtype="float32", seed=0,
                          shard=Sharder(comm.rank, comm.size) if comm.size > 1 else None)
        objective = ShardedObjective.of(problem.objective, comm) if comm.size > 1 else problem.objective
        timed = _TimedCommunicator(comm)
        if isinstance(objective, ShardedObjective):
            objective.comm = timed
        params = sample_weights("gaussian", problem.initial_params, scale=1.0, seed=1)
        operator = HessianOperator(objective, params, "cached")
        v = torch.randn(operator.size, generator=torch.Generator().manual_seed(0))
        hvp, comm_s = [], []
        for _ in range(args.repeats + 1):
            timed.barrier()
            timed.seconds = 0.0
            start = time.perf_counter()
            operator.matvec(v)
            hvp.append(time.perf_counter() - start)
            comm_s.append(timed.seconds)
        operator.release()
        alone = []  # the same all-reduce with nobody late: the communication itself
        for _ in range(args.repeats + 1):
            timed.barrier()
            start = time.perf_counter()
            comm.all_reduce_sum(torch.zeros(operator.size + 1))
            alone.append(time.perf_counter() - start)
        runs = {}
        for parallel in ("data", "samples") if comm.size > 1 else ("data",):
            timed.barrier()
            start = time.perf_counter()
            result = estimate(model, data, parallel=parallel, **settings_kw)
            runs[parallel] = {"seconds": time.perf_counter() - start, "k_hat": result.k_hat, "lr": result.lr,
                              "hvps": sum(s.iterations for s in result.samples)}
        if comm.is_main:
            out = {"world": comm.size, "hvp": statistics.median(hvp[1:]), "allreduce": statistics.median(comm_s[1:]),
                   "allreduce_alone": statistics.median(alone[1:]),
                   "params": operator.size, "estimate": runs}
            Path(args.out).write_text(json.dumps(out))


class _TimedCommunicator:
    """Wraps a communicator, adding up the seconds spent in all_reduce_sum."""

    def __init__(self, comm: Any) -> None:
        self.comm, self.seconds = comm, 0.0
        self.rank, self.size = comm.rank, comm.size

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        out = self.comm.all_reduce_sum(tensor)
        self.seconds += time.perf_counter() - start
        return out

    def barrier(self) -> None:
        if self.size > 1:
            torch.distributed.barrier()


def _launch(world: int, args: argparse.Namespace, shape: dict[str, int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, OMP_NUM_THREADS="1", BENCH_SHAPE=json.dumps(shape),
                   PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]))
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}",
                   str(HERE), "--worker", "--out", str(out), "--samples", str(args.samples),
                   "--max-iter", str(args.max_iter), "--repeats", str(args.repeats)]
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"world {world} failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=SHAPE["examples"])
    parser.add_argument("--hidden", type=int, default=SHAPE["hidden"])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="512 examples, width 32, 2 samples")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args)
    shape = dict(SHAPE, examples=args.examples, hidden=args.hidden)
    if args.quick:
        shape.update(examples=512, hidden=32)
        args.samples, args.repeats, args.max_iter = 2, 3, 20
    one, two = _launch(1, args, shape), _launch(2, args, shape)
    print(f"MLP {shape['inputs']}-{shape['hidden']}-{shape['hidden']}-{shape['classes']} ({one['params']:,} "
          f"parameters), {shape['examples']:,} examples, float32, CPU, Gloo, 1 thread per process; "
          f"{args.samples} samples, max-iter {args.max_iter}")
    print(f"{'':28}{'1 process':>12}{'2 processes':>14}{'1p / 2p':>10}")
    print(f"{'hvp (cached graph)':28}{one['hvp'] * 1e3:>10.1f}ms{two['hvp'] * 1e3:>12.1f}ms"
          f"{one['hvp'] / two['hvp']:>9.2f}×")
    print(f"{'  in its all-reduce':28}{'-':>12}{two['allreduce'] * 1e3:>12.1f}ms"
          f"{'':>4}share {two['allreduce'] / two['hvp']:.1%} (waiting for the other rank included)")
    print(f"{'  all-reduce alone':28}{'-':>12}{two['allreduce_alone'] * 1e3:>12.2f}ms"
          f"{'':>4}share {two['allreduce_alone'] / two['hvp']:.1%} (after a barrier: communication only)")
    base = one["estimate"]["data"]["seconds"]
    for parallel in ("data", "samples"):
        t = two["estimate"][parallel]["seconds"]
        print(f"{'estimate, --parallel ' + parallel:28}{base:>11.2f}s{t:>13.2f}s{base / t:>9.2f}×")
    same = all(abs(two["estimate"][p]["k_hat"] - one["estimate"]["data"]["k_hat"])
               <= 1e-4 * one["estimate"]["data"]["k_hat"] for p in ("data", "samples"))
    print(f"K̂: 1 process {one['estimate']['data']['k_hat']:.6g}, 2 processes data "
          f"{two['estimate']['data']['k_hat']:.6g}, samples {two['estimate']['samples']['k_hat']:.6g} "
          f"({'equal' if same else 'DIFFERENT'} within 1e-4)")
    return None


if __name__ == "__main__":
    main()
