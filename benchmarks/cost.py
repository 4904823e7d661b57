"""What an estimate costs, against one epoch and one whole run of the training it configures, side by side.

For each setup, each measurement runs in a fresh process at the same thread count (so its peak memory
is its own), and prints one JSON line:

  epoch      one epoch of Adam (1e-3) on the setup's own batches, after 5 warm-up steps
  default    ``adamlr.estimate`` at its defaults, from the library call to its result: data loading,
             the cache key (a fresh cache directory), L(w0), the samples and every probe
  reference  (``--reference``) the paper's α with the Hessian and L(w0) on 8,192 examples (32× the
             default's subset here), the default's tolerance and sample count: what more data changes.
             ``--exact`` itself (10 samples on the whole data at tol 1e-3) takes hours on these setups
             here; benchmarks/recommend.py compares it with the default on its 24 setups
  memory     the peak memory of the procedure before this change (the whole data, tol 1e-3: ``--exact``),
             cut to 2 products of 1 sample, against the default's
  full solve where that procedure streams its products batch by batch (its peak then grows with the
             Lanczos basis, not with the number of batches): one whole sample of it, at its own
             tolerance and product count, on the first :data:`STREAMED_BATCHES` batches, with the
             same cut-to-2 run on those batches beside it: what the whole data adds (the data set held,
             its L(w0)) is the difference of the two 2-product runs

Python's and torch's start-up are reported apart. One whole run is the epoch times the setup's epochs.
Where the search took more than :data:`FEWEST_PROBES` probes, a line says what the estimate would have
cost with that many (its measured seconds, the search's scaled down): the least any search whose
parabola needs three probed rates could cost, whatever its anchor. ``--hvp cached`` or ``stream``
forces the default's Hessian-vector products (``auto``: the library's choice).

    OMP_NUM_THREADS=1 python benchmarks/cost.py                    # the realistic setups (~17 min here)
    OMP_NUM_THREADS=1 python benchmarks/cost.py --setups char_lm,resnet18 --hvp cached   # the graph cached
    python benchmarks/cost.py --setups mlp60k --reference          # with the whole-data reference α
    python benchmarks/cost.py --quick                              # a small setup, seconds (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_EXAMPLES = 8192
STREAMED_BATCHES = 2
FEWEST_PROBES = 3  # a search's least: the best rate and its two neighbours, through which the parabola goes


@dataclass(frozen=True)
class CostSetup:
    """A model factory and a data factory (a DataLoader of the training batches) by import path, and T in epochs."""

    name: str
    kind: str
    model: str
    data: str
    epochs: int


R, LM, S = "sample_models.realistic:", "sample_models.language:", "sample_models.setups:"
SETUPS = {
    "mlp60k": CostSetup("mlp60k", "MLP 784-1024-1024-10, 60,000 Fashion-MNIST images, batches of 128",
                        R + "fashion_mlp", R + "fashion_loader", 10),
    "resnet18": CostSetup("resnet18", "torchvision ResNet-18, 10,000 synthetic 32×32 images, batches of 128",
                          R + "resnet18", R + "images_loader", 10),
    "char_lm": CostSetup("char_lm", "causal transformer LM (3 × 64), 16,384 windows of 32, batches of 64",
                         LM + "char_lm_large_model", LM + "char_lm_large_loader", 10),
    "quick": CostSetup("quick", "ReLU MLP, digits, full batch (CI's smoke run)", S + "relu_mlp_model",
                       S + "digits_data", 100),
}


def _peak_bytes() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _epoch(setup: CostSetup) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from adamlr.loading import load_object

    data = load_object(setup.data)()
    batches = [data] if isinstance(data, tuple) else data
    torch.manual_seed(0)
    model = load_object(setup.model)()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x: Any, y: Any) -> None:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    for i, (x, y) in enumerate(batches):  # warm-up
        step(x, y)
        if i == 4:
            break
    started = time.perf_counter()
    steps = 0
    for x, y in batches:
        step(x, y)
        steps += 1
    return {"epoch_seconds": time.perf_counter() - started, "steps_per_epoch": steps}


def _estimate(setup: CostSetup, **options: Any) -> dict[str, Any]:
    import adamlr
    from adamlr.cache import Cache

    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        data = options.pop("data", setup.data)
        r = adamlr.estimate(setup.model, data, epochs=setup.epochs, cache=Cache(Path(cache)), **options)
        seconds = time.perf_counter() - started
    a, c = r.accuracy, r.cost
    return {"seconds": seconds, "lr": r.lr, "recommended_lr": r.recommended_lr, "k_hat": r.k_hat,
            "samples": len(r.samples), "hvp": sum(s.iterations for s in r.samples),
            "hessian_examples": a.hessian_examples if a else None, "total_examples": a.total_examples if a else None,
            "growth": a.growth if a else None, "probe_steps": c.probe_steps if c else 0,
            "own_epochs": c.epochs if c else None, "stages": c.seconds if c else {}, "hvp_mode": r.hvp_mode,
            "rule_probes": len(r.search.probes) if r.search else 0}


def _first_batches(setup: CostSetup) -> Any:
    """The setup's first :data:`STREAMED_BATCHES` training batches, as a list (an iterable of batches)."""
    import itertools

    from adamlr.loading import load_object

    return list(itertools.islice(iter(load_object(setup.data)()), STREAMED_BATCHES))


def child(name: str, what: str) -> dict[str, Any]:
    """One measurement in this process (the parent reads the JSON line)."""
    import torch

    threads = int(os.environ.get("COST_THREADS", "1"))
    torch.set_num_threads(threads)
    setup = SETUPS[name]
    base = _peak_bytes()
    if what == "epoch":
        out = _epoch(setup)
    elif what == "default":
        out = _estimate(setup, hvp=os.environ.get("COST_HVP", "auto"))
    elif what == "reference":
        first = json.loads(os.environ["COST_SAMPLES"])
        out = _estimate(setup, subset=REFERENCE_EXAMPLES, samples=first, rule="paper", probe_steps=0)
    elif what == "memory":  # the whole-data procedure, cut short
        out = _estimate(setup, exact=True, samples=1, max_iter=2, probe_steps=0)
    else:  # "streamed_cut" or "streamed_full": that procedure on the first batches, streamed as on the whole data
        cut = {"max_iter": 2} if what == "streamed_cut" else {}
        out = _estimate(setup, data=_first_batches(setup), exact=True, samples=1, probe_steps=0, hvp="stream", **cut)
    return {"what": what, "setup": name, "peak_bytes": _peak_bytes(), "import_peak_bytes": base, **out}


def _spawn(name: str, what: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), **(extra or {}))
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", name, what], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{name} {what} failed: {out.stderr[-2000:]}")
    record: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    record["process_seconds"] = time.perf_counter() - started
    return record


def _startup() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, adamlr"], check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    return time.perf_counter() - started


def measure(name: str, reference: bool, memory: bool, hvp: str = "auto") -> dict[str, Any]:
    """Every measurement of one setup, each in its own process."""
    row: dict[str, Any] = {"setup": name, "epoch": _spawn(name, "epoch"),
                           "default": _spawn(name, "default", {"COST_HVP": hvp})}
    if memory:
        row["memory"] = _spawn(name, "memory")
        if row["memory"]["hvp_mode"] == "stream":
            row["streamed_cut"], row["streamed_full"] = _spawn(name, "streamed_cut"), _spawn(name, "streamed_full")
    if reference:
        row["reference"] = _spawn(name, "reference", {"COST_SAMPLES": str(row["default"]["samples"])})
    return row


def _line(row: dict[str, Any]) -> str:
    setup = SETUPS[row["setup"]]
    epoch, est = row["epoch"]["epoch_seconds"], row["default"]
    run = epoch * setup.epochs
    parts = [f"{setup.name}: one epoch {epoch:.1f} s ({row['epoch']['steps_per_epoch']} steps), one run "
             f"({setup.epochs} epochs) {run:.0f} s; default estimate {est['seconds']:.1f} s = "
             f"{est['seconds'] / epoch:.2f} epochs = {est['seconds'] / run:.3f} runs",
             f"   its own count: {est['own_epochs']:.2f} epochs; {est['samples']} samples, {est['hvp']} HVPs on "
             f"{est['hessian_examples']:,} of {est['total_examples']:,} examples (growth {est['growth']}), "
             f"{est['probe_steps']} probe steps; HVP {est['hvp_mode']}; stages (s): "
             + ", ".join(f"{k} {v:.1f}" for k, v in est["stages"].items()),
             f"   recommended {est['recommended_lr']:.4g}, paper's α {est['lr']:.4g}"]
    if est.get("rule_probes", 0) > FEWEST_PROBES:
        rule = est["stages"]["rule"]
        floor = est["seconds"] - rule * (1 - FEWEST_PROBES / est["rule_probes"])
        parts.append(f"   with {FEWEST_PROBES} of its {est['rule_probes']} search probes (the fewest a parabola "
                     f"needs, as if the walk had started at its answer): {floor / epoch:.2f} epochs")
    if "memory" in row:
        mine, old = est_peak(row["default"]), est_peak(row["memory"])
        parts.append(f"   peak memory above imports: default {mine / 2**20:.0f} MiB, whole-data procedure "
                     f"(2 products) {old / 2**20:.0f} MiB: {mine / old:.2f}×")
    if "streamed_full" in row:
        cut, full = est_peak(row["streamed_cut"]), est_peak(row["streamed_full"])
        parts.append(f"   that procedure streams: on its first {STREAMED_BATCHES} batches, 2 products "
                     f"{cut / 2**20:.0f} MiB, its whole solve ({row['streamed_full']['hvp']} products) "
                     f"{full / 2**20:.0f} MiB; the default's peak is {mine / full:.2f}× that, and "
                     f"{mine / (full + old - cut):.2f}× its whole solve on the whole data (its first batches' peak + "
                     f"what the whole data adds to the 2-product run)")
    if "reference" in row:
        ref = row["reference"]
        parts.append(f"   α on {REFERENCE_EXAMPLES:,} examples {ref['lr']:.4g} (same {ref['samples']} samples, "
                     f"{ref['seconds']:.0f} s): the default's differs by {est['lr'] / ref['lr'] - 1:+.1%}")
    return "\n".join(parts)


def est_peak(record: dict[str, Any]) -> int:
    return int(record["peak_bytes"] - record["import_peak_bytes"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--setups", default="mlp60k,char_lm,resnet18", help=f"among {', '.join(SETUPS)}")
    parser.add_argument("--quick", action="store_true", help="the small setup only")
    parser.add_argument("--reference", action="store_true", help=f"also α on {REFERENCE_EXAMPLES:,} examples (slow)")
    parser.add_argument("--no-memory", action="store_true", help="skip the whole-data memory run")
    parser.add_argument("--hvp", default="auto", choices=("auto", "cached", "stream"),
                        help="the default estimate's Hessian-vector products (auto: as the library chooses)")
    parser.add_argument("--out", help="write the JSON records here")
    parser.add_argument("--child", nargs=2, metavar=("SETUP", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    names = ["quick"] if args.quick else args.setups.split(",")
    print(f"python + torch + adamlr start-up: {_startup():.1f} s (apart from every figure below); threads "
          f"{os.environ.get('COST_THREADS', '1')}; HVP {args.hvp}", flush=True)
    rows = []
    for name in names:
        row = measure(name, args.reference, not args.no_memory, args.hvp)
        rows.append(row)
        print(_line(row), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
