"""Results cache and sample journal, keyed by a fingerprint of everything that changes K̂ and α.

Layout under the cache directory (``.adamlr-cache/`` by default, ``--cache-dir`` or
``$ADAMLR_CACHE_DIR`` to move it)::

    results/<key>.json      a finished estimate: {"key", "sha256", "result"}
    journal/<key>.jsonl     one line per finished weight sample of an unfinished run

Every write goes to a temporary file that is then renamed over the target (atomic on
POSIX); journal lines are appended and fsync'ed. An entry that fails to parse (binary
garbage, a torn or overlong line, valid JSON of the wrong shape), whose checksum or key
does not match, is reported and recomputed, never trusted. A directory that cannot be
written costs the cache, never the run (:attr:`Cache.notes`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from adamlr import json_shape
from adamlr.algorithm import START_EXAMPLES
from adamlr.errors import one_line
from adamlr.files import write_atomic
from adamlr.fingerprints import code_digest, data_digest, fingerprint, model_digest
from adamlr.samples import sample_from_dict

if TYPE_CHECKING:
    from adamlr.config import Settings
    from adamlr.problem import Problem

DEFAULT_DIR = ".adamlr-cache"
NOT_IN_KEY = ("strict", "parallel")  # settings that change no number (a distributed run shares the entry)
MAX_LINE_BYTES = 1 << 20  # a journal line longer than this is damage, not a sample
MAX_ENTRY_BYTES = 64 << 20  # a results entry larger than this is damage, not a result
SAMPLE_SCHEMA: dict[str, Any] = json_shape.schema("estimate.schema.json")["properties"]["samples"]["items"]
T = TypeVar("T")


def cache_dir(explicit: str | Path | None = None) -> Path:
    """``explicit``, else ``$ADAMLR_CACHE_DIR``, else ``.adamlr-cache`` in the working directory."""
    return Path(explicit or os.environ.get("ADAMLR_CACHE_DIR") or DEFAULT_DIR)


def _checksum(obj: Any) -> str:
    """sha256 of the canonical JSON (sorted keys) of a JSON-ready value."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class Cache:
    """Finished results and per-sample journals under one directory.

    Reads return what they found together with notes about damaged entries met on the
    way (for that call's report only). Writes never raise: the first one that fails (a
    read-only or full disk, a path that cannot be a directory) leaves one line in
    :attr:`notes`, and the cache writes nothing more for the rest of its life.

    Attributes:
        root: the cache directory.
        notes: what went wrong writing (for the caller's report).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.notes: list[str] = []

    @property
    def writable(self) -> bool:
        """False once a write has failed (nothing more is written)."""
        return not self.notes

    def result_path(self, key: str) -> Path:
        return self.root / "results" / f"{key}.json"

    def journal_path(self, key: str) -> Path:
        return self.root / "journal" / f"{key}.jsonl"

    def load(self, key: str, parse: Callable[[dict[str, Any]], T]) -> tuple[T | None, list[str]]:
        """The cached result, as ``parse`` makes it from the stored dictionary (or None: missing, or corrupted in
        any way, ``parse`` failing included), and notes on corruption."""
        path = self.result_path(key)
        try:
            if not path.is_file():
                return None, []
            with path.open("rb") as f:
                raw = f.read(MAX_ENTRY_BYTES + 1)
            if len(raw) > MAX_ENTRY_BYTES:
                raise ValueError(f"larger than {MAX_ENTRY_BYTES} bytes")
            entry = json.loads(raw)
            if not isinstance(entry, dict) or entry.get("key") != key or entry.get("sha256") != _checksum(
                    entry.get("result")):
                raise ValueError("checksum or key mismatch")
            result: dict[str, Any] = entry["result"]
            shape = json_shape.problem(result, json_shape.schema("estimate.schema.json"))
            if shape is not None:
                raise ValueError(f"not a result: {shape}")
            return parse(result), []  # a field the schema allows may still not parse
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            why = one_line(f"{type(exc).__name__}: {exc}", limit=200)
            return None, [f"cache entry {path} is corrupted ({why}); recomputed"]

    def store(self, key: str, result: dict[str, Any]) -> Path | None:
        """Store a finished result; its path, or None when it could not be written (see :attr:`notes`)."""
        canonical = json.loads(json.dumps(result))
        entry = {"key": key, "sha256": _checksum(canonical), "result": canonical}
        return self._write(lambda: write_atomic(self.result_path(key), json.dumps(entry)))

    def journal(self, key: str) -> tuple[list[dict[str, Any]], list[str]]:
        """The finished samples of an interrupted run, and notes.

        Each line stands alone (its own checksum): a torn, damaged, undecodable or overlong
        line is skipped and reported, and the intact lines around it are all kept.
        """
        path = self.journal_path(key)
        samples: list[dict[str, Any]] = []
        damaged = 0
        try:
            if not path.is_file():
                return [], []
            with path.open("rb") as f:
                for line in _lines(f):
                    sample = _journaled(line)
                    if sample is None:
                        damaged += 1
                    else:
                        samples.append(sample)
        except OSError as exc:
            return samples, [f"journal {path} could not be read ({type(exc).__name__}: {exc.strerror or exc}); "
                             f"kept the {len(samples)} samples read before"]
        if damaged:
            return samples, [f"journal {path} has {damaged} damaged line(s); kept its {len(samples)} intact samples"]
        return samples, []

    def append(self, key: str, sample: dict[str, Any]) -> None:
        """Append one finished sample to the journal, durably (fsync'ed before returning)."""
        canonical = json.loads(json.dumps(sample))
        line = json.dumps({"sample": canonical, "sha256": _checksum(canonical)})
        self._write(lambda: _append_line(self.journal_path(key), line))

    def finish(self, key: str) -> None:
        """Drop the journal of a run whose result is stored."""
        self._write(lambda: self.journal_path(key).unlink(missing_ok=True))

    def _write(self, action: Callable[[], T]) -> T | None:
        """``action()``, unless a write failed before; an OSError becomes the one note and stops all writing."""
        if not self.writable:
            return None
        try:
            return action()
        except OSError as exc:
            self.notes.append(
                f"cache directory {str(self.root)!r} is not writable ({type(exc).__name__}: {exc.strerror or exc}); "
                "this run's samples are not journaled and its result is not stored")
            return None


def _append_line(path: Path, line: str) -> None:
    """Append ``line`` to ``path`` on a line of its own (after a torn last line too), fsync'ed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as f:
        torn = f.tell() > 0 and _last_byte(path) != b"\n"
        f.write((b"\n" if torn else b"") + line.encode() + b"\n")
        f.flush()
        os.fsync(f.fileno())


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def _lines(f: BinaryIO) -> Iterator[bytes]:
    """The lines of a binary file; a line longer than :data:`MAX_LINE_BYTES` comes as ``b"?"`` (never read whole)."""
    while line := f.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES:
            while line and not line.endswith(b"\n"):  # skip the rest of it, a bounded piece at a time
                line = f.readline(MAX_LINE_BYTES)
            yield b"?"
        elif line.strip():
            yield line


def _journaled(line: bytes) -> dict[str, Any] | None:
    """The sample of one journal line, or None when the line is damaged (any way at all)."""
    try:
        record = json.loads(line.decode("utf-8"))
        sample = record["sample"]
        if record["sha256"] != _checksum(sample) or json_shape.problem(sample, SAMPLE_SCHEMA) is not None:
            return None
        sample_from_dict(sample)  # no unknown fields
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    return sample if isinstance(sample, dict) else None  # a dict: the schema said so


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
