"""``python -m adamlr``: the same command line as ``adamlr``."""

from adamlr.cli import app

if __name__ == "__main__":
    app(prog_name="adamlr")
