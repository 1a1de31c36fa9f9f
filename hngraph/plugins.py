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
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would have it
    try:
        found = importlib.import_module(module)
    except ImportError as err:
        raise InvalidValueError(
            f"{label} {spec!r}: module {module!r} cannot be imported "
            f"({err}); install it, or run from the folder that holds it "
            "(or add that folder to PYTHONPATH).") from None
    for part in name.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise InvalidValueError(
                f"{label} {spec!r}: module {module!r} has no {name!r}; check "
                "the name after the colon.") from None
    return found


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
__all__ = ["load_object", "import_path"]
