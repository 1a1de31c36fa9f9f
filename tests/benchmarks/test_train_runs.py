"""benchmarks/train_runs.sh and infonce_runs.sh: every committed result file
of the folders they make is one they would write now (by name, so by its
settings), each of their runs has its file, and infonce_runs.sh's skip rule
finds its own files."""
import os
import shutil
import subprocess
from pathlib import Path

from hngraph.cli import _train_config, build_parser
from hngraph.runs.experiment import run_stem

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def _dry_run(script: str, root: Path) -> list[str]:
    """The ``hngraph`` command lines of ``script``, run from a copy of
    the repository's layout under ``root`` with an ``hngraph`` that prints
    its arguments instead of running."""
    (root / "bin").mkdir()
    fake = root / "bin" / "hngraph"
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    (root / "benchmarks").mkdir(exist_ok=True)
    shutil.copy(ROOT / "benchmarks" / script, root / "benchmarks" / script)
    done = subprocess.run(
        ["bash", str(root / "benchmarks" / script)], capture_output=True,
        text=True, timeout=60, cwd=root,
        env={**os.environ, "PATH": f"{root / 'bin'}:{os.environ['PATH']}",
             "HNGRAPH_DATA": "x"})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _files(lines: list[str], root: Path) -> set[str]:
    """The result files the ``train`` lines write, relative to
    ``benchmarks/results``."""
    os.chdir(root)  # the output folders are created relative to it
    out = set()
    for line in lines:
        if not line.startswith("train "):
            continue
        args = build_parser().parse_args(line.split())
        config = _train_config(args)
        stem = run_stem(config, processes=args.nproc)
        out.add(str(Path(config.out).relative_to("benchmarks/results")
                    / f"{stem}.json"))
    return out


def _committed(*folders: str) -> set[str]:
    return {str(p.relative_to(RESULTS)) for f in folders
            for p in (RESULTS / f).rglob("*.json")}


def test_train_runs_write_exactly_the_committed_files(tmp_path,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = _dry_run("train_runs.sh", tmp_path)
    assert len(lines) == len(set(lines))  # no run made twice
    assert _files(lines, tmp_path) == _committed(
        "core", "ddp", "epochs", "features")


def test_infonce_runs_write_the_committed_files_and_skip_them(tmp_path,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert _files(_dry_run("infonce_runs.sh", fresh), fresh) == _committed(
        "infonce")
    again = tmp_path / "again"  # the committed files in place: all skipped
    shutil.copytree(RESULTS / "infonce", again / "benchmarks" / "results"
                    / "infonce")
    assert _files(_dry_run("infonce_runs.sh", again), again) == set()


def test_the_other_scripts_folders_hold_only_names_their_script_writes():
    """speed.py writes <part>.json (and skips a part whose file exists),
    molecules.py [un]trained_seed<k>.json, scaling.py
    throughput_<dataset>_<procs>x<threads>[...].json and collectives.json,
    executors.py executors.json: no committed file is one they would not
    write, nor one their skip rule would miss."""
    import re
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from speed import PARTS

    names = {
        "speed": rf"({'|'.join(PARTS)})",
        "molecules": r"(un)?trained_seed\d+",
        "scaling": r"(throughput_[\w-]+_\d+x\d+\w*|collectives)",
        "executors": r"executors",
    }
    for folder, pattern in names.items():
        found = [p.stem for p in (RESULTS / folder).glob("*.json")]
        assert found, folder
        assert all(re.fullmatch(pattern, n) for n in found), (folder, found)
