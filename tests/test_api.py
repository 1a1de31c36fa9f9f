"""The public API's shape: every public function and constructor takes its
settings by keyword, after its data arguments, so that neighbouring
settings (beta, tau_plus) cannot be swapped by position."""
import dataclasses
import importlib
import inspect
import pkgutil

import hngraph

#: Callables whose defaulted parameter is their data, or a declaration's
#: part, kept positional (as scikit-learn's Interval(type, left, right)):
#: (qualified name, parameter).
POSITIONAL = {
    ("resolve_device", "device"), ("provenance", "device"),
    ("machine_info", "device"), ("cache_dir", "path"),
    ("Interval", "high"), ("OfType", "text"), ("ListOf", "min_items"),
    ("MappingOf", "min_items"), ("check", "hint"),
    ("setting", "hint"),
    # executors call it with a tuple of arguments
    ("run_task", "trained")}
#: A drop-in for torch's BatchNorm1d keeps torch's signature.
TORCH_SIGNATURE = {"AllReduceBatchNorm"}


def _public():
    names = ["hngraph"] + [m.name for m in pkgutil.walk_packages(
        hngraph.__path__, "hngraph.")]
    seen = {}
    for module in map(importlib.import_module, names):
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if callable(obj) and not (inspect.isclass(obj) and issubclass(
                    obj, BaseException)):
                seen[id(obj)] = (name, obj)
    return list(seen.values())


def test_every_public_callable_takes_its_settings_by_keyword():
    found, checked = [], 0
    for name, obj in _public():
        target = obj.__init__ if inspect.isclass(obj) and not \
            dataclasses.is_dataclass(obj) else obj
        if target is object.__init__:
            continue
        try:
            parameters = inspect.signature(target).parameters.values()
        except (TypeError, ValueError):
            continue
        checked += 1
        found += [f"{name}({p.name})" for p in parameters
                  if p.default is not p.empty
                  and p.kind is p.POSITIONAL_OR_KEYWORD
                  and (name, p.name) not in POSITIONAL
                  and name not in TORCH_SIGNATURE]
    assert checked > 150
    assert found == []


def test_the_walk_finds_a_positional_setting():
    def bad(x, beta=1.0):
        return x
    parameters = inspect.signature(bad).parameters.values()
    assert [p.name for p in parameters if p.default is not p.empty
            and p.kind is p.POSITIONAL_OR_KEYWORD] == ["beta"]
