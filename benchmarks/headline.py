"""Write the README's headline, the answer so far, from the grids' result
files: the opening paragraph of each grid's report
(:func:`hngraph.runs.report.answer`), between the README's
``<!-- headline:start -->`` and ``<!-- headline:end -->`` lines.

    python benchmarks/headline.py            # rewrites README.md
    python benchmarks/headline.py --check    # exit 1 when it is stale
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from hngraph.runs.grid import GridConfig
from hngraph.runs.report import answer

ROOT = Path(__file__).resolve().parents[1]
#: The grids of the headline: config file, and how the README names them.
GRIDS = (("configs/verdict.yaml", "InfoGraph, the verdict grid"),
         ("configs/graphcl_table.yaml", "GraphCL, the two-view grid"))
BLOCK = re.compile(r"(<!-- headline:start -->\n).*?(<!-- headline:end -->)",
                   re.DOTALL)


def headline(root: Path = ROOT) -> str:
    """The headline's lines, one per grid, from the result files under
    ``root``."""
    lines = []
    for config, label in GRIDS:
        grid = GridConfig.from_yaml(root / config)
        grid.out = str(root / grid.out)
        lines.append(f"- **{label}.** {answer(grid)}")
    return "\n".join(lines) + "\n"


def written(readme: str) -> str:
    """The headline block of a README's text."""
    found = BLOCK.search(readme)
    if found is None:
        raise ValueError("README.md has no <!-- headline:start --> ... "
                         "<!-- headline:end --> block.")
    return found.group(0)[len(found.group(1)):-len(found.group(2))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare; exit 1 when the README is stale")
    args = parser.parse_args(argv)
    path = ROOT / "README.md"
    text, new = path.read_text(), headline()
    if args.check:
        stale = written(text) != new
        print("README headline is " + ("stale" if stale else "current"))
        return int(stale)
    path.write_text(BLOCK.sub(lambda m: m.group(1) + new + m.group(2), text))
    print(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
