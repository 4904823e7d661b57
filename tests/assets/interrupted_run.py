"""Run an estimate that is stopped after two finished samples: by SIGKILL, a crash, or Ctrl-C.

    python tests/assets/interrupted_run.py MODE CACHE_DIR      (MODE: kill, crash, sigint, cli-sigint)
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adamlr import Progress, estimate  # noqa: E402
from adamlr.cache import Cache  # noqa: E402

MODE, CACHE = sys.argv[1], sys.argv[2]
# A process started in the background of a non-interactive shell inherits SIGINT as ignored, and
# Python then keeps it ignored: install the usual Ctrl-C handler so the simulated Ctrl-C is one.
signal.signal(signal.SIGINT, signal.default_int_handler)
ARGS = dict(epochs=5, samples=6, seed=3)


def stop() -> None:
    if MODE == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if MODE == "crash":
        raise RuntimeError("simulated crash")
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends


class StopAfterTwo(Progress):
    def __init__(self) -> None:
        self.finished = 0

    def sample_finished(self, sample) -> None:
        self.finished += 1
        if self.finished == 2:
            stop()


if MODE == "cli-sigint":
    import adamlr.rich_progress

    original = adamlr.rich_progress.RichProgress.sample_finished
    count = {"n": 0}

    def patched(self, sample):
        original(self, sample)
        count["n"] += 1
        if count["n"] == 2:
            stop()

    adamlr.rich_progress.RichProgress.sample_finished = patched
    from adamlr.cli import app

    app(["estimate", "-m", "tests.assets.factories:tiny_mlp", "-d", "tests.assets.factories:tiny_data", "--epochs", "5",
         "--samples", "6", "--seed", "3", "--cache-dir", CACHE], prog_name="adamlr")
else:
    estimate("tests.assets.factories:tiny_mlp", "tests.assets.factories:tiny_data", progress=StopAfterTwo(),
             cache=Cache(Path(CACHE)), **ARGS)
