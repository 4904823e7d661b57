"""Many more degenerate problems than CI runs (issue 28): the property tests of tests/test_degenerate.py under a seed.

    python benchmarks/degenerate_fuzz.py                      # 2,000 problems, a fresh seed (printed)
    python benchmarks/degenerate_fuzz.py --seed 7 --examples 500
    python benchmarks/degenerate_fuzz.py --rounds 5           # five fresh seeds, one after the other

Each problem (a tiny model, its data, its loss and the settings of a short estimate, any of them
degenerate: a zero Hessian, a constant loss, 0 at w0, NaN or inf mid-solve or mid-probe, inputs
at scale 1e6 or 1e-6, frozen, tied, unused or detached parameters, mixed dtypes, integer inputs,
buffers changed in forward, one example, a batch larger than the data, a non-scalar or non-tensor
loss) must end in a result whose numbers and reports are usable, or in one adamlr error line with a
documented exit code, and leave the cache readable; a quarter as many go through the command line.
The seed is printed before the run, so that a failure reproduces:

    ADAMLR_DEGENERATE_SEED=<seed> ADAMLR_DEGENERATE_EXAMPLES=<n> python -m pytest tests/test_degenerate.py -k any_

Exit status: pytest's (0: no failure found).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(seed: int, examples: int) -> int:
    env = {**os.environ, "ADAMLR_DEGENERATE_SEED": str(seed), "ADAMLR_DEGENERATE_EXAMPLES": str(examples)}
    print(f"seed {seed}, {examples} problems through the API and {max(2, examples // 4)} through the CLI; "
          f"reproduce with: ADAMLR_DEGENERATE_SEED={seed} ADAMLR_DEGENERATE_EXAMPLES={examples} "
          "python -m pytest tests/test_degenerate.py -k any_", flush=True)
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "pytest", "tests/test_degenerate.py", "-k", "any_", "-q",
                            "-p", "no:cacheprovider", "--hypothesis-show-statistics"], cwd=ROOT, env=env)
    print(f"seed {seed}: {'no failure found' if code == 0 else 'FAILED (exit ' + str(code) + ')'} in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: a fresh one, printed)")
    parser.add_argument("--examples", type=int, default=2000, help="problems through the API (a quarter via the CLI)")
    parser.add_argument("--rounds", type=int, default=1, help="runs, each with a fresh seed (after --seed's)")
    a = parser.parse_args()
    seeds = [a.seed if a.seed is not None else random.SystemRandom().randrange(2**32)]
    seeds += [random.SystemRandom().randrange(2**32) for _ in range(a.rounds - 1)]
    failed = [s for s in seeds if run(s, a.examples)]
    print(f"{len(seeds) - len(failed)} of {len(seeds)} seeds without a failure" +
          (f"; failing seeds: {', '.join(map(str, failed))}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
