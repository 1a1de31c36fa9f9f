"""One registry per kind: every registered name builds its class, and no
other list of a registry's names exists in the package."""
import ast
import inspect
from pathlib import Path

import pytest

import hngraph
from hngraph import registry
from hngraph.errors import InvalidValueError
from hngraph.registry import Registry

PACKAGE = Path(hngraph.__file__).parent
REGISTRIES = {name: value for name, value in vars(registry).items()
              if isinstance(value, Registry)}


def test_the_registries_are_the_kinds_of_component():
    assert set(REGISTRIES) == {"WEIGHTINGS", "OBJECTIVES", "ENCODERS",
                               "AUGMENTATIONS", "EXECUTORS", "SOURCES"}


@pytest.mark.parametrize("name", sorted(REGISTRIES))
def test_every_entry_is_a_class(name):
    reg = REGISTRIES[name]
    for entry in reg.names:
        loaded = reg.load(entry)
        assert inspect.isclass(loaded) if reg.base else callable(loaded), \
            (name, entry)
    with pytest.raises(InvalidValueError, match="not one of"):
        reg.load("no-such-name")


def _string_collections(tree):
    """Every tuple, list or set literal, and every dict's keys, as the
    strings they hold, with the line."""
    for node in ast.walk(tree):
        items = node.keys if isinstance(node, ast.Dict) else getattr(
            node, "elts", None) if isinstance(
            node, (ast.Tuple, ast.List, ast.Set)) else None
        if items:
            yield node.lineno, {i.value for i in items
                                if isinstance(i, ast.Constant)
                                and isinstance(i.value, str)}


@pytest.mark.parametrize("name", sorted(REGISTRIES))
def test_no_other_list_of_a_registrys_names(name):
    names = set(REGISTRIES[name].names)
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "registry.py":
            continue
        tree = ast.parse(path.read_text())
        for line, strings in _string_collections(tree):
            if len(strings & names) >= 2:
                found.append(f"{path.relative_to(PACKAGE)}:{line}")
    assert not found, f"{name}'s names listed again at {found}"


def test_the_check_finds_a_list_where_there_is_one():
    tree = ast.parse('CHOICES = ("paper", "hcl-code")\nD = {"jsd": 1, '
                     '"infonce": 2}\n')
    assert [s for _, s in _string_collections(tree)] == [
        {"paper", "hcl-code"}, {"jsd", "infonce"}]
