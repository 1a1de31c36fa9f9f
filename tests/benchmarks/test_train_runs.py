"""benchmarks/train_runs.sh: every run it makes is a valid `hngraph train`
command line, one per result file of the folders it reproduces."""
import os
import subprocess
from pathlib import Path

from hngraph.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_train_runs_are_valid_commands_one_per_result_file(tmp_path):
    fake = tmp_path / "hngraph"  # prints its arguments instead of training
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "train_runs.sh")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}",
             "HNGRAPH_DATA": "x"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    results = ROOT / "benchmarks" / "results"
    folders = ["core", "ddp", "epochs", "features"]
    assert len(lines) == sum(len(list((results / f).rglob("*.json")))
                             for f in folders) == 46
    for line in lines:
        args = build_parser().parse_args(line.split())
        assert args.command == "train" and args.out.split("/")[2] in folders
