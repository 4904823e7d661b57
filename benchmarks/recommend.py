"""How close does each rule's rate come to the best constant Adam rate of a grid search, and at what cost?

For every setup of ``benchmarks/lrbench/setups.py`` (24, split tune/holdout in code): a
quarter-decade grid of constant Adam rates trained for T steps from the same w0 gives α*; every rule
(adamlr's search and paper rules, range tests as torch-lr-finder and Lightning suggest them, fixed
constants, the best constant fitted on the tune half) is computed before training, trained the same
way and scored; Prodigy, D-Adaptation Adam and Schedule-Free AdamW are trained once each.

    OMP_NUM_THREADS=1 python benchmarks/recommend.py               # the full suite: docs/recommendation.md
    python benchmarks/recommend.py --quick                         # 4 small setups (CI's smoke run)

Grid runs are kept in benchmarks/results/cache/ (ignored by git) so that a rerun that changes only a
rule retrains nothing; --fresh ignores them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from lrbench.figure import plot_benchmark
from lrbench.run import run_benchmark
from lrbench.setups import QUICK_SETUPS, select_setups
from lrbench.tables import report

ROOT = Path(__file__).resolve().parents[1]
FULL_OUT, QUICK_OUT = ROOT / "benchmarks/results/recommend.json", ROOT / "benchmarks/results/recommend-quick.json"
FIGURE = ROOT / "docs/figures/recommend.png"
STORE = ROOT / "benchmarks/results/cache"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"setups {', '.join(QUICK_SETUPS)} only")
    parser.add_argument("--setups", help="comma-separated setup names (default: all, or the quick ones)")
    parser.add_argument("--no-range-tests", action="store_true", help="skip torch-lr-finder and Lightning")
    parser.add_argument("--out", help=f"JSON results (default {FULL_OUT.name}; with --quick {QUICK_OUT.name})")
    parser.add_argument("--markdown", help="also write the tables to this Markdown file")
    parser.add_argument("--figure", help=f"PNG figure (default {FIGURE} for the full suite; none with --quick)")
    parser.add_argument("--fresh", action="store_true", help="retrain every grid run (ignore the stored ones)")
    return parser.parse_args(argv)


BEGIN = "<!-- tables: python benchmarks/recommend.py --markdown docs/recommendation.md -->"
END = "<!-- end of tables -->"


def write_tables(path: Path, text: str) -> None:
    """The tables between the page's markers (the rest of the page, its reading of them, is kept); else the tables."""
    page = path.read_text() if path.is_file() else ""
    if BEGIN in page and END in page:
        head, rest = page.split(BEGIN, 1)
        page = f"{head}{BEGIN}\n\n{text}\n\n{END}{rest.split(END, 1)[1]}"
    else:
        page = f"{BEGIN}\n\n{text}\n\n{END}\n"
    path.write_text(page)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(1)  # small models: one thread is as fast, and immune to a loaded machine
    names = args.setups.split(",") if args.setups else (list(QUICK_SETUPS) if args.quick else None)
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", file=sys.stderr, flush=True)

    result = run_benchmark(select_setups(names), None if args.fresh else STORE, say,
                           rules=[] if args.no_range_tests else None)
    out = Path(args.out) if args.out else (QUICK_OUT if args.quick else FULL_OUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_dict(), indent=1, allow_nan=False))
    text = report(result)
    print(text)
    if args.markdown:
        write_tables(Path(args.markdown), text)
    print(f"\nwrote {out} ({result.seconds:.0f} s)")
    figure = args.figure or (None if args.quick or names else FIGURE)
    if figure:
        try:
            print(f"wrote {plot_benchmark(result, figure)}")
        except ModuleNotFoundError:
            print("no figure: matplotlib is not installed (pip install 'adamlr[plots]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
