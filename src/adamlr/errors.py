"""Exception types raised by the adamlr library, and :func:`call_user`, which turns the user's into one.

The library never prints and never exits: it raises one of these. Only the CLI
turns them into one line on stderr and the exit code carried by the class.

Exit codes:
    0: success.
    1: the user's input or code failed (:class:`InputError` and subclasses).
    2: usage: nonsense options or an invalid configuration (:class:`UsageError`).
    3: under ``--strict``: a weight sample did not converge (:class:`NotConvergedError`),
       or the probe's loss rose above L(w0) at the recommended rate (:class:`ProbeRoseError`).
    4: ``adamlr check``: the configured learning rate lies outside the band.
    130: interrupted (Ctrl-C) (:class:`Interrupted`).
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
MAX_PROBLEMS = 20  # problems a ConfigError's message lists; a message never grows with the size of the input


class AdamlrError(Exception):
    """Base class of every error adamlr raises on purpose."""

    exit_code: int = 1


class InputError(AdamlrError):
    """The user's model, data, loss or their code did not do what was expected."""

    exit_code = 1


class LoadError(InputError):
    """An import path did not resolve to an object."""


class UserCodeError(InputError):
    """A user-provided factory or function raised an exception."""


class ModelError(InputError):
    """The model factory returned something that is not usable as a model."""


class DataError(InputError):
    """The data is empty, malformed, or does not fit the model."""


class NumericalError(InputError):
    """A loss or a curvature value is NaN, infinite or otherwise unusable."""


class DistributedError(AdamlrError):
    """A process of a distributed run failed (see :mod:`adamlr.distributed`); carries that failure's exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(AdamlrError):
    """Options or configuration that make no sense."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file or a set of settings is invalid (the message lists the first :data:`MAX_PROBLEMS`).

    Attributes:
        problems: one human-readable line per offending field.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        if self.problems:
            more = len(self.problems) - MAX_PROBLEMS
            listed = "; ".join(self.problems[:MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
            message = f"{message}: {listed}"
        super().__init__(message)


class ResultError(AdamlrError):
    """An error that still carries a result worth reporting.

    Attributes:
        result: the estimate (complete, or partial after Ctrl-C; None if nothing finished).
    """

    def __init__(self, message: str, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result


class NotConvergedError(ResultError):
    """Raised (only under ``strict``) when a spectral-norm solve did not converge."""

    exit_code = 3


class ProbeRoseError(ResultError):
    """Raised (only under ``strict``) when the probe's loss rose above L(w0) at the recommended rate."""

    exit_code = 3


class Interrupted(ResultError):
    """Ctrl-C during an estimate; ``result`` is a partial result over the finished samples."""

    exit_code = 130


def call_user(fn: Callable[..., T], what: str, *args: Any) -> T:
    """Call user code, turning any exception it raises into one :class:`UserCodeError`.

    Args:
        fn: the user's callable.
        what: how to name it in the message, e.g. ``"model factory mypkg:make_net"``.
        *args: positional arguments for ``fn``.
    """
    try:
        return fn(*args)
    except AdamlrError:  # adamlr's own error from inside (e.g. a factory adamlr wrapped): already clear
        raise
    except Exception as exc:
        raise UserCodeError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def did_you_mean(word: object, choices: object) -> str:
    """``"; did you mean 'epochs'?"`` when ``word`` is a near miss of one of ``choices`` (difflib), else ``""``."""
    names = [str(c) for c in choices] if isinstance(choices, (list, tuple, set, frozenset, dict)) else []
    if not isinstance(word, str) or len(word) > 100:  # nobody mistypes a name that long, or a list for one
        return ""
    close = difflib.get_close_matches(word, [n for n in names if len(n) <= 100], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def not_one_of(value: object, choices: tuple[str, ...]) -> str:
    """What is wrong with ``value``, which is none of ``choices``: the choices, the value, its did-you-mean.

    >>> not_one_of("lanzcos", ("lanczos", "power"))
    "expected one of lanczos, power, found 'lanzcos'; did you mean 'lanczos'?"
    """
    return f"expected one of {', '.join(choices)}, found {shorten(value)}{did_you_mean(value, choices)}"


class _BoundedRepr(reprlib.Repr):
    """``reprlib`` limits everywhere; an int too long for ``repr`` (over 4300 digits) described instead."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxlevel, self.maxdict, self.maxlist, self.maxtuple, self.maxset = 3, 4, 6, 6, 6
        self.maxfrozenset, self.maxdeque, self.maxarray = 6, 6, 6
        self.maxstring = self.maxlong = self.maxother = limit

    def repr_str(self, x: str, level: int) -> str:
        return repr(x[: self.maxstring + 1])  # cut at the end, as shorten cuts the whole

    def repr_int(self, x: int, level: int) -> str:
        try:
            return super().repr_int(x, level)
        except ValueError:  # sys.get_int_max_str_digits()
            return f"<an integer of {x.bit_length()} bits>"


def shorten(value: object, limit: int = 80) -> str:
    """The repr of ``value`` in at most ``limit`` characters (``…`` marks a cut).

    Bounded in time and memory too: a huge string, a deeply nested value or one that shares
    its parts (a YAML alias bomb) is never expanded whole.

    >>> shorten("x" * 1000, limit=12)
    "'xxxxxxxxxx…"
    >>> shorten({"a": [1, 2]})
    "{'a': [1, 2]}"
    """
    text = _BoundedRepr(limit).repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name_of(key: object, limit: int = 60) -> str:
    """A key as written when it is a short printable string (``epoch``), else its :func:`shorten` repr."""
    if isinstance(key, str) and len(key) <= limit and key.isprintable() and key.strip() == key and key:
        return key
    return shorten(key, limit)


def one_line(message: str, limit: int = 2000) -> str:
    """``message`` on one line (line breaks become spaces), cut to ``limit`` characters with ``…``."""
    text = " ".join(message[: limit * 2].splitlines())
    return text if len(text) <= limit else text[: limit - 1] + "…"
