"""benchmarks/device_check.sh in its CPU mode: at most 8 files, and the
train stage's files, scored here, finish the grid."""
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_device_check_cpu_mode_writes_at_most_8_files_scored_here(
        data_root, tmp_path):
    cfg = {"out": str(tmp_path / "grid"), "epochs": 1, "batch_size": 64,
           "hidden": 8, "layers": 2, "seeds": [0, 1, 2], "datasets": ["MUTAG"],
           "cells": {"infograph": {"beta": 0, "tau_plus": 0}}}
    config = tmp_path / "grid.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OUT": str(tmp_path / "out"), "DEVICE": "cpu",
           "CONFIG": str(config), "DATASETS": "MUTAG", "SEEDS": "0 1",
           "GRID_FLAGS": "--allow-dirty",
           "SPEED_ARGS": "--datasets MUTAG --repeats 1 --batches 1 "
           "--fit-epochs 1 --fit-repeats 1"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" /
                                       "device_check.sh")], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    files = sorted(str(p.relative_to(tmp_path / "out"))
                   for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == ["grid.tgz", "speed/SPEED.md", "speed/floor.json",
                     "speed/throughput.json", "speed/views.json"]
    with tarfile.open(tmp_path / "out" / "grid.tgz") as packed:
        packed.extractall(tmp_path / "grid", filter="data")
    score = subprocess.run([sys.executable, "-m", "hngraph.cli", "grid",
                            "run", str(config), "--stage", "score",
                            "--allow-dirty"], env=env, capture_output=True,
                           text=True, timeout=600)
    assert score.returncode == 0, score.stderr
    assert "3 runs in the grid: 0 finished (skipped), 2 to do in the score "\
        "stage" in score.stdout and "1 run(s) not trained yet" in score.stdout
    assert sorted(p.name for p in (tmp_path / "grid" / "MUTAG").glob(
        "*.json")) == ["infograph_seed0.json", "infograph_seed1.json"]
