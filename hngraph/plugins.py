"""Objects named by import path, ``module:qualname`` (as entry points spell
them): how a command line or a config names a user's own class or
function, and how a model file records the encoder it was built on."""
from __future__ import annotations

import importlib
import os
import sys

from .errors import InvalidValueError


def load_object(spec: str, label: str):
    """The object that ``spec``, ``"module:qualname"``, names: the module
    imported, then each dotted part of ``qualname`` looked up. ``label``
    (a flag or a config key) begins each error, which names the import path
    and what was expected."""
    module, colon, name = str(spec).partition(":")
    if not colon or not module or not name:
        raise InvalidValueError(
            f"{label} {spec!r} is not an import path: write module:name, "
            "for example my_package.encoders:MyEncoder (the module must be "
            "importable: installed, or in the current folder).")
    try:
        found = _import_here(module)
    except ImportError as err:
        missing = f"no module named {err.name!r}" if err.name else \
            type(err).__name__
        raise InvalidValueError(
            f"{label} {spec!r}: module {module!r} cannot be imported "
            f"({missing}); install it, or run from the folder that holds it "
            "(or add that folder to PYTHONPATH).") from None
    for part in name.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise InvalidValueError(
                f"{label} {spec!r}: module {module!r} has no {name!r}; check "
                "the name after the colon.") from None
    return found


def _import_here(module: str):
    """``module`` imported with the current folder searched first, as
    ``python -m`` searches it; ``sys.path`` is left as it was."""
    added = os.getcwd() not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module)
    finally:
        if added:
            sys.path.remove(os.getcwd())


def build_module(spec: str, label: str, *, args: list | tuple = (),
                 kwargs: dict | None = None):
    """A new torch module from the class or function ``spec`` names
    (:func:`load_object`), called with ``args`` and ``kwargs`` (none by
    default); the error names the import path and what it needs."""
    import inspect

    import torch

    maker = load_object(spec, label)
    kwargs = dict(kwargs or {})
    try:
        built = maker(*args, **kwargs)
    except TypeError:
        try:
            needs = [p.name for p in inspect.signature(
                maker).parameters.values() if p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        except (TypeError, ValueError):  # not callable, or no signature
            needs = []
        given = [repr(a) for a in args] + [f"{k}={v!r}"
                                           for k, v in kwargs.items()]
        raise InvalidValueError(
            f"{label} {spec!r} cannot be called with "
            + (f"({', '.join(given)})" if given else "no arguments")
            + (f" (it needs {', '.join(needs)})" if needs else "")
            + "; name a class or function that builds the module so (a "
            "function of your own can pass other arguments).") from None
    if not isinstance(built, torch.nn.Module):
        raise InvalidValueError(
            f"{label} {spec!r} built a {type(built).__name__}, not a torch "
            "module; name the module's class, or a function that returns "
            "one.")
    return built


def provenance(spec: str, label: str) -> dict:
    """What a result records of a class named by import path: the path,
    the file that defines it, and the SHA-256 of that file's content, so
    that a change to the plugin is seen as a change of code."""
    import hashlib
    import inspect

    found = load_object(spec, label)
    try:
        path = inspect.getsourcefile(found) or inspect.getfile(found)
    except TypeError:  # built in: no file
        return {"import_path": spec, "file": None, "sha256": None}
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"import_path": spec, "file": os.path.abspath(path),
            "sha256": digest}


def import_path(obj) -> str | None:
    """The ``module:qualname`` that imports ``obj`` (a class or function)
    again, or ``None`` where no import can reach it (an object defined in
    ``__main__`` or inside a function)."""
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None)
    if not module or not name or module == "__main__" or "<locals>" in name:
        return None
    return f"{module}:{name}"


#: The public names (the API reference lists these).
__all__ = ["load_object", "build_module", "import_path", "provenance"]
