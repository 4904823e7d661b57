"""Where a comparison keeps its files: ``--out DIR``, or nowhere (``out=None`` from Python).

Every read and write of a comparison goes through :class:`Store`, so a comparison run
without a directory writes no file at all and, having nothing to resume from, computes
everything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adamlr.errors import UsageError
from adamlr.files import write_atomic


class Store:
    """JSON and text files under ``out`` (atomic writes); a silent no-op when ``out`` is None."""

    def __init__(self, out: Path | None) -> None:
        self.out = Path(out) if out is not None else None

    def read_json(self, name: str) -> Any | None:
        """The parsed file, or None when there is no directory, no such file, or it is unreadable."""
        if self.out is None or not (self.out / name).is_file():
            return None
        try:
            return json.loads((self.out / name).read_text())
        except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            return None

    def write_json(self, name: str, value: Any, indent: int | None = 1) -> None:
        self.write_text(name, json.dumps(value, indent=indent, default=str))

    def write_text(self, name: str, text: str) -> None:
        """Write ``out/name`` atomically.

        Raises:
            UsageError: ``out`` cannot be written (the first write, config.json, comes before any training).
        """
        if self.out is not None:
            try:
                write_atomic(self.out / name, text)
            except OSError as exc:
                raise UsageError(f"expected a writable directory at --out {str(self.out)!r}, found "
                                 f"{type(exc).__name__}: {exc.strerror or exc}") from exc

    def check_same(self, fingerprint: dict[str, Any], force: bool) -> None:
        """Refuse to mix runs of a different comparison into the directory (unless ``force``).

        Raises:
            UsageError: ``config.json`` there describes another comparison.
        """
        current = json.loads(json.dumps(fingerprint, default=str))
        saved = self.read_json("config.json")
        if isinstance(saved, dict) and not force:
            changed = sorted(k for k in current if saved.get(k) != current[k])
            if changed:
                raise UsageError(f"expected {self.out} to hold the same comparison to resume, found different "
                                 f"{', '.join(changed)}; use --force to start again or another --out")
        self.write_json("config.json", current)
