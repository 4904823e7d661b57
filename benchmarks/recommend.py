"""How close does each rule's rate come to the best constant Adam rate of a grid search?

For every setup of ``lrbench.setups``: 11 constant rates (1e-5 … 1, half-decades)
trained for T epochs from the same w0 give α*; each rule's rate, computed before training,
is trained the same way and scored by α_rule / α* and the final-loss regret. Prints the
tables, writes the JSON (``--out``) and the figure (``--figure``, needs matplotlib).

    OMP_NUM_THREADS=1 python benchmarks/recommend.py            # the full suite (docs/recommendation.md)
    python benchmarks/recommend.py --quick                      # 4 small setups, T = 20 (CI)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from lrbench import QUICK_EPOCHS, QUICK_SETUPS, RULES, run_benchmark, select_setups
from lrbench.figure import plot_benchmark
from lrbench.tables import report

FULL_OUT, QUICK_OUT = "benchmarks/results/recommend.json", "benchmarks/results/recommend-quick.json"
FULL_FIGURE, QUICK_FIGURE = "docs/figures/recommend.png", "docs/figures/recommend-quick.png"


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"setups {', '.join(QUICK_SETUPS)} at T = {QUICK_EPOCHS}")
    parser.add_argument("--setups", help="comma-separated setup names (default: all, or the quick ones)")
    parser.add_argument("--epochs", type=int, help="override every setup's horizon T")
    parser.add_argument("--rules", help=f"comma-separated rules among {', '.join(RULES)} (default: all)")
    parser.add_argument("--out", help=f"JSON results (default {FULL_OUT}; with --quick {QUICK_OUT})")
    parser.add_argument("--figure", help=f"PNG figure (default {FULL_FIGURE}; with --quick {QUICK_FIGURE})")
    parser.add_argument("--no-figure", action="store_true", help="skip the figure")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, print the tables, write the JSON and the figure; returns the exit code."""
    args = parse(argv)
    if args.quick:  # tiny models: one thread is as fast, and immune to oversubscription on a shared CI machine
        torch.set_num_threads(1)
    names = args.setups.split(",") if args.setups else (list(QUICK_SETUPS) if args.quick else None)
    setups = select_setups(names, epochs=args.epochs or (QUICK_EPOCHS if args.quick else None))
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", file=sys.stderr, flush=True)

    result = run_benchmark(setups, rules=args.rules.split(",") if args.rules else None, progress=progress)
    out = Path(args.out or (QUICK_OUT if args.quick else FULL_OUT))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_dict(), indent=1, allow_nan=False))
    print(report(result))
    print(f"\nwrote {out} ({result.seconds:.0f} s)")
    if not args.no_figure:
        try:
            print(f"wrote {plot_benchmark(result, args.figure or (QUICK_FIGURE if args.quick else FULL_FIGURE))}")
        except ModuleNotFoundError:
            print("no figure: matplotlib is not installed (pip install 'adamlr[plots]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
