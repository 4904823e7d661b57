"""Typer's usage errors (a bad option value, an unknown option or command) said as adamlr's other errors are.

Typer draws one as a usage line, a hint and a boxed panel over several lines; after
:func:`one_line_usage_errors` it is one line, ``adamlr: error: <click's message> (see 'adamlr
estimate --help')``, with the same exit code (2).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from adamlr.errors import one_line


def one_line_usage_errors(console: Console) -> None:
    """Print Typer's usage errors on ``console`` as one ``adamlr: error: …`` line (idempotent)."""
    from typer import rich_utils

    if getattr(rich_utils.rich_format_error, "adamlr_patched", False):
        return

    def rich_format_error(self: Any) -> None:
        if type(self).__name__ == "NoArgsIsHelpError":  # `adamlr` alone prints the help, as Typer does
            return
        ctx = getattr(self, "ctx", None)
        see = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        console.print(f"adamlr: error: {one_line(self.format_message())}{see}", markup=False, highlight=False,
                      soft_wrap=True)

    rich_format_error.adamlr_patched = True  # type: ignore[attr-defined]
    rich_utils.rich_format_error = rich_format_error
