"""Run the CLI's estimate and SIGKILL it at a chosen point: between samples, or in the middle of a write.

    python tests/assets/faulty_run.py CACHE_DIR POINT N

POINT is ``sample`` (killed right after the N-th new sample of this run is journaled), ``journal``
(killed with half of the N-th journal line written, fsync'ed) or ``store`` (killed with half the
result's file written, before its rename). N counts from 1. Exits 0 when the run finished first.
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import adamlr.cache  # noqa: E402
import adamlr.files  # noqa: E402
from adamlr.cli import app  # noqa: E402

CACHE, POINT, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
ARGS = ["estimate", "-m", "tests.assets.factories:tiny_mlp", "-d", "tests.assets.factories:tiny_data", "--epochs", "5",
        "--samples", "5", "--seed", "2", "--probe-steps", "0", "--quiet", "--json", "--cache-dir", CACHE]
count = {"n": 0}


def kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def due() -> bool:
    count["n"] += 1
    return count["n"] == N


if POINT == "sample":
    original_line = adamlr.cache._append_line

    def append_whole_line(path, line):  # the N-th new sample journaled: killed before the next one starts
        original_line(path, line)
        if due():
            kill()

    adamlr.cache._append_line = append_whole_line
elif POINT == "journal":
    original_append = adamlr.cache._append_line

    def append_line(path, line):
        if due():  # what the real append writes (on a line of its own after a torn one), cut in the middle
            path.parent.mkdir(parents=True, exist_ok=True)
            torn = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
            whole = (b"\n" if torn else b"") + line.encode() + b"\n"
            with path.open("ab") as f:
                f.write(whole[: len(whole) // 2])
                f.flush()
                os.fsync(f.fileno())
            kill()
        original_append(path, line)

    adamlr.cache._append_line = append_line
elif POINT == "store":
    def write_atomic(path, text):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.with_name(f".{path.name}.{os.getpid()}.tmp").open("w") as f:
            f.write(text[: len(text) // 2])
            f.flush()
            os.fsync(f.fileno())
        kill()

    adamlr.cache.write_atomic = write_atomic

app(ARGS, prog_name="adamlr")
