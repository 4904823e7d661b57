"""Results cache and sample journal, keyed by a fingerprint of everything that changes K̂ and α.

Layout under the cache directory (``.adamlr-cache/`` by default, ``--cache-dir`` or
``$ADAMLR_CACHE_DIR`` to move it)::

    results/<key>.json      a finished estimate: {"key", "sha256", "result"}
    journal/<key>.jsonl     one line per finished weight sample of an unfinished run

Every write goes to a temporary file that is then renamed over the target (atomic on
POSIX); journal lines are appended and fsync'ed. An entry that fails to parse, whose
checksum or key does not match, is reported and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adamlr.algorithm import START_EXAMPLES
from adamlr.files import write_atomic
from adamlr.fingerprints import code_digest, data_digest, fingerprint, model_digest

if TYPE_CHECKING:
    from adamlr.config import Settings
    from adamlr.problem import Problem

DEFAULT_DIR = ".adamlr-cache"
NOT_IN_KEY = ("strict", "parallel")  # settings that change no number (a distributed run shares the entry)


def cache_dir(explicit: str | Path | None = None) -> Path:
    """``explicit``, else ``$ADAMLR_CACHE_DIR``, else ``.adamlr-cache`` in the working directory."""
    return Path(explicit or os.environ.get("ADAMLR_CACHE_DIR") or DEFAULT_DIR)


def _checksum(obj: Any) -> str:
    """sha256 of the canonical JSON (sorted keys) of a JSON-ready value."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class Cache:
    """Finished results and per-sample journals under one directory.

    Reads return what they found together with notes about damaged entries met on the
    way (for that call's report only); the cache itself keeps no state between calls.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def result_path(self, key: str) -> Path:
        return self.root / "results" / f"{key}.json"

    def journal_path(self, key: str) -> Path:
        return self.root / "journal" / f"{key}.jsonl"

    def load(self, key: str) -> tuple[dict[str, Any] | None, list[str]]:
        """The cached result dictionary (or None: missing or corrupted), and notes on corruption."""
        path = self.result_path(key)
        if not path.is_file():
            return None, []
        try:
            entry = json.loads(path.read_text())
            if entry["key"] != key or entry["sha256"] != _checksum(entry["result"]):
                raise ValueError("checksum or key mismatch")
            result: dict[str, Any] = entry["result"]
            return result, []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return None, [f"cache entry {path} is corrupted ({type(exc).__name__}: {exc}); recomputed"]

    def store(self, key: str, result: dict[str, Any]) -> Path:
        canonical = json.loads(json.dumps(result))
        entry = {"key": key, "sha256": _checksum(canonical), "result": canonical}
        return write_atomic(self.result_path(key), json.dumps(entry))

    def journal(self, key: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Finished samples of an interrupted run (a torn or corrupted line ends them), and notes."""
        path = self.journal_path(key)
        if not path.is_file():
            return [], []
        samples: list[dict[str, Any]] = []
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
                if record["sha256"] != _checksum(record["sample"]):
                    raise ValueError("checksum mismatch")
            except (ValueError, KeyError, TypeError):
                return samples, [f"journal {path} has a damaged line after {len(samples)} samples; kept those"]
            samples.append(record["sample"])
        return samples, []

    def append(self, key: str, sample: dict[str, Any]) -> None:
        """Append one finished sample to the journal, durably (fsync'ed before returning)."""
        path = self.journal_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        canonical = json.loads(json.dumps(sample))
        line = json.dumps({"sample": canonical, "sha256": _checksum(canonical)})
        with path.open("a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def finish(self, key: str) -> None:
        """Drop the journal of a run whose result is stored."""
        self.journal_path(key).unlink(missing_ok=True)


def problem_key(problem: Problem, settings: Settings) -> str:
    """Fingerprint of a prepared problem, its code and its settings (streams the data once to hash it).

    The key covers the model's architecture, parameter shapes and initial weights; the source of the
    model's classes, the factory, the loss function and the data factory with its module
    (:func:`adamlr.fingerprints.code_digest`); the data's contents; the loss; every setting that
    changes a number; the device type; and the adamlr, torch and Python versions.
    """
    arch, weights = model_digest(problem.user_model)
    data, n = data_digest(problem.objective.batches)
    sources = problem.sources
    code = code_digest(problem.user_model, (sources.factory, sources.loss), sources.data)
    chosen = {k: v for k, v in settings.to_dict().items() if k not in NOT_IN_KEY}
    if chosen.get("subset") == "auto" and n < 2 * START_EXAMPLES:  # auto takes every example of data this small
        chosen["subset"] = "all"
    return fingerprint({"architecture": arch, "weights": weights, "code": code, "data": data, "examples": n,
                        "loss": problem.objective.loss_name, "settings": chosen, "device": problem.device.type})
