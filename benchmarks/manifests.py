"""A manifest for every folder of ``benchmarks/results/`` and of its
``archive/`` (what is kept as it was reported): the command that makes
it, the commits its result files record, when they were made, and whether
they are what that command would write now.

    python benchmarks/manifests.py            # writes each MANIFEST.md
    python benchmarks/manifests.py --check    # exit 1 when one is stale

The commits and dates come from the result files (their ``commit`` and
``finished`` fields, else the date git last committed them); the command and
the state come from :data:`FOLDERS`, the one place they are written.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

#: The folder, under ``benchmarks/results/``, of what is kept as it was
#: reported: each of its folders has its own manifest.
ARCHIVE = "archive"
#: The state of a folder whose script has not been run again since.
NOT_RERUN = ("as its script wrote it at the commits below; not rerun "
             "since, so not checked against the script as it is now")
#: The state of a folder that its command wrote, from one clean commit, as
#: it would name and write them now (``tests/benchmarks`` checks the names).
CURRENT = "current"
#: Each folder: the command that makes it, and its state against that
#: command today (for a grid, current means the runner skips exactly
#: these files).
FOLDERS = {
    "core": ("bash benchmarks/train_runs.sh core", CURRENT),
    "ddp": ("bash benchmarks/train_runs.sh ddp", CURRENT),
    "epochs": ("bash benchmarks/train_runs.sh epochs", CURRENT),
    "executors": ("python benchmarks/executors.py", NOT_RERUN),
    "features": ("bash benchmarks/train_runs.sh features", CURRENT),
    "graphcl": ("hngraph grid run configs/graphcl_table.yaml, then hngraph "
                "grid report configs/graphcl_table.yaml", CURRENT),
    "infograph_selection": (
        "hngraph grid run configs/infograph_selection.yaml, then python "
        "benchmarks/infograph_selection.py", "current; its config was shrunk "
        "to the 6 runs its report uses (the config says why)"),
    "infonce": ("bash benchmarks/infonce_runs.sh", CURRENT),
    "molecules": ("python benchmarks/molecules.py", NOT_RERUN),
    "archive/paper": (
        "hngraph grid run configs/paper_table.yaml, then hngraph grid report "
        "configs/paper_table.yaml", "archived: superseded by the verdict grid "
        "(10 seeds, repeated splits, one commit per dataset); kept because "
        "its report is the earlier 5-seed table, cited as it was reported, "
        "and its 364 runs would take days to rerun here"),
    "scaling": ("python benchmarks/scaling.py", NOT_RERUN),
    "soak": ("python benchmarks/soak.py", CURRENT),
    "speed": ("python benchmarks/speed.py", NOT_RERUN),
    "verdict": ("hngraph grid run configs/verdict.yaml, then hngraph grid "
                "report configs/verdict.yaml; the cells hcl-code-b*-fixed: "
                "hngraph grid run configs/batch_order.yaml", CURRENT),
}


def _results(folder: Path) -> list[dict]:
    """The JSON objects of a folder's result files (hidden files aside)."""
    found = []
    for path in sorted(folder.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(folder)
               .parts):
            continue
        try:
            value = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _committed(folder: Path) -> str:
    """The date git last added or changed a result file of ``folder``,
    following each file through renames (so an archived folder keeps the
    date its files were made)."""
    dates = [subprocess.run(
        ["git", "log", "-1", "--follow", "--diff-filter=AM", "--format=%cs",
         "--", path.name], cwd=path.parent, capture_output=True,
        text=True).stdout.strip() for path in folder.rglob("*.json")]
    return max(filter(None, dates), default="not committed")


def manifest(name: str) -> str:
    """The Markdown manifest of ``benchmarks/results/<name>``."""
    command, state = FOLDERS[name]
    results = _results(RESULTS / name)
    commits = Counter(
        r["commit"][:10] + (" (uncommitted changes)" if r.get("source_diff")
                            or r.get("allow_dirty") else "")
        for r in results if isinstance(r.get("commit"), str))
    finished = sorted(r["finished"][:10] for r in results
                      if isinstance(r.get("finished"), str))
    made = (f"finished from {finished[0]} to {finished[-1]}" if finished
            else f"committed on {_committed(RESULTS / name)} (they record "
            "no finished time)")
    return "\n".join([
        f"# benchmarks/results/{name}", "",
        f"- Made by: `{command}` (from the repository's root).",
        f"- Result files: {len(results)}, {made}.",
        "- Commits: " + (", ".join(f"`{c}` ({n})" for c, n in
                                   sorted(commits.items()))
                         or "none recorded") + ".",
        f"- State: {state}.", "",
        "Generated by `python benchmarks/manifests.py`.", ""])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare; exit 1 when a manifest is stale")
    args = parser.parse_args(argv)
    folders = sorted(str(p.relative_to(RESULTS)) for p in
                     [*RESULTS.iterdir(), *RESULTS.glob(f"{ARCHIVE}/*")]
                     if p.is_dir() and p.name != ARCHIVE)
    missing = sorted(set(folders) - set(FOLDERS))
    if missing:
        print(f"no command known for {missing}: add them to FOLDERS")
        return 1
    stale = []
    for name in folders:
        path = RESULTS / name / "MANIFEST.md"
        text = manifest(name)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale manifests: {stale}; run python benchmarks/manifests.py")
        return 1
    print("checked" if args.check else "wrote", len(folders), "manifests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
