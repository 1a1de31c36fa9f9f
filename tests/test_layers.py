"""The package's layers (the README's "The package"): each module imports
only its own layer and those below it, read from the import statements,
lazy imports inside functions included."""
import ast
from pathlib import Path

import hngraph

PACKAGE = Path(hngraph.__file__).parent
#: Bottom to top; the modules at the top level of hngraph serve every
#: layer, but for the command line, above them all.
LAYERS = ["", "data", "nn", "eval", "train", "runs", "cli"]


def layer(module: str) -> int:
    """The layer of ``hngraph.<...>``'s dotted module path."""
    parts = module.split(".")[1:]
    if parts == ["cli"]:
        return LAYERS.index("cli")
    return LAYERS.index(parts[0]) if parts and parts[0] in LAYERS else 0


def imported(path: Path) -> set[str]:
    """The hngraph modules (or packages) that ``path`` imports."""
    here = ["hngraph", *path.relative_to(PACKAGE).with_suffix("").parts]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level]
                target = ".".join(base + ([node.module] if node.module
                                          else []))
            else:
                target = node.module or ""
            if target.startswith("hngraph"):
                found |= {f"{target}.{a.name}" if not node.module else target
                          for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names
                      if a.name.startswith("hngraph")}
    return found


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(["hngraph",
                         *path.relative_to(PACKAGE).with_suffix("").parts])
        name = name.removesuffix(".__init__")
        for target in imported(path):
            if layer(target) > layer(name):
                upward.append(f"{name} imports {target}")
    assert not upward


def test_the_layers_are_read_from_the_imports():
    # the check above can fail: the grid runner imports the training loop
    assert layer("hngraph.runs.grid") > layer("hngraph.train.loop")
    assert "hngraph.train.loop" in imported(PACKAGE / "runs" /
                                            "experiment.py")
    assert "hngraph.distributed" in imported(PACKAGE / "train" / "loop.py")
