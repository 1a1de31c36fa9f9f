"""The documentation site's API reference lists every public name and only
public names: each subpackage and module is documented, each module declares
``__all__``, and every name that ``hngraph`` exports is in one of them."""
import importlib
import pkgutil
import re
from pathlib import Path

import hngraph

API = Path(__file__).resolve().parents[1] / "docs" / "api"
DOCUMENTED = {m for page in API.glob("*.md")
              for m in re.findall(r"^::: (hngraph\.[\w.]+)$",
                                  page.read_text(), re.MULTILINE)}
#: Modules that are not a library surface: the command line's entry point
#: and the exception classes (documented where they are raised).
NOT_API = {"hngraph.cli", "hngraph.errors"}


def test_every_module_is_in_the_api_reference_with_its_public_names():
    found = list(pkgutil.walk_packages(hngraph.__path__, "hngraph."))
    assert {m.name for m in found} - NOT_API == DOCUMENTED
    for name in {m.name for m in found if not m.ispkg} - NOT_API:
        module = importlib.import_module(name)
        assert module.__all__, name
        for public in module.__all__:
            assert hasattr(module, public), (name, public)


def test_every_exported_name_is_documented_where_it_lives():
    for name in hngraph.__all__:
        value = getattr(hngraph, name)
        home = value.__module__
        if home.startswith("torch_geometric"):  # re-exported seed_everything
            home = "hngraph.train.loop"
        assert name in importlib.import_module(home).__all__, (name, home)
