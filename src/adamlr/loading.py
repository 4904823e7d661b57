"""Resolve ``"package.module:attr"`` or ``"path/to/file.py:attr"`` to a Python object.

Only this module imports user code by path. It never calls what it loads; callers
decide what to call and wrap the user's exceptions (see :func:`adamlr.errors.call_user`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adamlr.errors import LoadError, UserCodeError, did_you_mean, shorten
from adamlr.losses import LossFn, LossSpec, resolve_loss

MAX_SPEC = 1000  # characters: an import path longer than this is not one (and is not echoed whole)


def _split(spec: str) -> tuple[str, str]:
    if (not isinstance(spec, str) or spec.count(":") != 1 or spec.startswith(":") or spec.endswith(":")
            or len(spec) > MAX_SPEC):
        raise LoadError(
            f"expected an import path like 'package.module:attr' or 'path/file.py:attr', found {shorten(spec)}"
        )
    module, attr = spec.split(":")
    return module, attr


@contextmanager
def _on_sys_path(directory: str) -> Iterator[None]:
    """Put ``directory`` first on ``sys.path`` while importing, then restore it."""
    added = directory not in sys.path
    if added:
        sys.path.insert(0, directory)
    try:
        yield
    finally:
        if added and directory in sys.path:
            sys.path.remove(directory)


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name the system refuses (too long, …) too."""
    try:
        return path.is_file()
    except OSError:
        return False


def _import_file(path: Path) -> Any:
    if not _is_file(path):
        where = f" (relative to the working directory {os.getcwd()})" if not path.is_absolute() else ""
        raise LoadError(f"expected a Python file at {str(path)!r}, found no such file{where}")
    name = f"_adamlr_user_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"expected an importable Python file, found {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with _on_sys_path(str(path.resolve().parent)):
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's module raised while importing
            del sys.modules[name]
            raise UserCodeError(f"importing {str(path)!r} raised {type(exc).__name__}: {exc}") from exc
    return module


def _where_searched() -> str:
    """Where Python looked for a module, and how to make a project importable."""
    path = os.environ.get("PYTHONPATH")
    shown = f"PYTHONPATH={path!r}" if path else "PYTHONPATH is not set"
    return (f"(searched the working directory {os.getcwd()} and the Python path; {shown}): run adamlr from your "
            "project's root, add that directory to PYTHONPATH or pip install -e it, or name a file: "
            "path/to/file.py:attr")


def _import_module(name: str) -> Any:
    with _on_sys_path(os.getcwd()):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing and (name == missing or name.startswith(missing + ".")):
                raise LoadError(f"expected an importable module {name!r}, found no module named {missing!r} "
                                f"{_where_searched()}") from exc
            raise UserCodeError(f"importing {name!r} raised ModuleNotFoundError: {exc}") from exc
        except Exception as exc:
            raise UserCodeError(f"importing {name!r} raised {type(exc).__name__}: {exc}") from exc


def load_object(spec: str) -> Any:
    """Import the object an import path names.

    Args:
        spec: ``"package.module:attr"`` (dotted ``attr`` allowed) or ``"file.py:attr"``.

    Returns:
        The object found.

    Raises:
        LoadError: the module or attribute does not exist.
        UserCodeError: the module raised while being imported.
    """
    module_part, attr = _split(spec)
    if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
        module = _import_file(Path(module_part))
    else:
        module = _import_module(module_part)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise LoadError(f"expected an attribute {attr!r} in {module_part!r}, found none named {part!r}"
                            f"{did_you_mean(part, names)}")
        obj = getattr(obj, part)
    return obj


def describe(obj: Any) -> str:
    """A short name for an object, for messages: its import path when it has one."""
    if isinstance(obj, str):
        return obj
    if hasattr(obj, "adamlr_name"):
        return str(obj.adamlr_name)
    name = getattr(obj, "__qualname__", None) or type(obj).__name__
    module = getattr(obj, "__module__", None)
    return f"{module}:{name}" if module else name


def load_loss(loss: str | LossFn) -> tuple[LossSpec, str]:
    """The loss a setting names, and its display name: a built-in or own-loss name, a callable, or an import path.

    Names and callables are :func:`adamlr.losses.resolve_loss`'s; an import path ``"pkg.mod:fn"`` (or
    ``"file.py:fn"``) is imported here, the one module that imports user code by path.

    Raises:
        ConfigError: an unknown name (no ':' in it).
        LoadError: a path that names nothing callable.
    """
    if not isinstance(loss, str) or ":" not in loss:
        return resolve_loss(loss)
    fn = load_object(loss)
    if not callable(fn):
        raise LoadError(f"expected {shorten(loss)} to be a function fn(outputs, targets), found {type(fn).__name__}")
    return fn, loss
