"""benchmarks/device_grid.sh in its CPU mode: training here and scoring
later gives the result files of `hngraph grid run`, bit for bit."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_device_grid_cpu_mode_equals_the_grid(data_root, tmp_path):
    cfg = {"out": str(tmp_path / "device"), "epochs": 2, "batch_size": 64,
           "hidden": 8, "layers": 2, "seeds": [0, 1], "datasets": ["MUTAG"],
           "repeats": 2,
           "cells": {"infograph": {"beta": 0, "tau_plus": 0},
                     "paper-b1": {"beta": 1, "tau_plus": 0.5}},
           "selections": {"pick": ["infograph", "paper-b1"]}}
    config = tmp_path / "grid.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OUT": str(tmp_path / "fetched"), "DEVICE": "cpu",
           "CONFIG": str(config), "DATASETS": "MUTAG", "OMP_NUM_THREADS": "1"}
    trained = subprocess.run(["bash", str(ROOT / "benchmarks" /
                                          "device_grid.sh")], env=env,
                             capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr
    assert "trained 4 of the 4 unfinished runs" in trained.stdout
    assert sorted(p.name for p in (tmp_path / "fetched").iterdir()) == [
        "MUTAG_seed0.npz", "MUTAG_seed1.npz", "runs.json"]
    score = subprocess.run([sys.executable, str(ROOT / "benchmarks" /
                                                "device_grid.py"), "score",
                            "--config", str(config), "--fetched",
                            str(tmp_path / "fetched")], env=env,
                           capture_output=True, text=True, timeout=600)
    assert score.returncode == 0, score.stderr
    assert score.stdout.count("wrote ") == 4
    # the same grid run the usual way, into another folder
    cfg["out"] = str(tmp_path / "usual")
    usual = tmp_path / "usual.yaml"
    usual.write_text(yaml.safe_dump(cfg))
    for grid in (config, usual):  # the selections, then everything
        done = subprocess.run([sys.executable, "-m", "hngraph.cli", "grid",
                               "run", str(grid), "--threads", "1",
                               "--device", "cpu"], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    for name in ("infograph_seed0", "paper-b1_seed1", "pick_seed1"):
        a, b = (json.loads((tmp_path / where / "MUTAG" / f"{name}.json")
                           .read_text()) for where in ("device", "usual"))
        for key in ("fold_accuracies", "best_C", "inner_accuracies",
                    "accuracy_mean"):
            assert a[key] == b[key], (name, key)
        if "loss_history" in a:
            assert a["loss_history"] == b["loss_history"]


@pytest.mark.slow
def test_device_check_cpu_mode_writes_at_most_8_files(data_root, tmp_path):
    cfg = {"out": str(tmp_path / "grid"), "epochs": 1, "batch_size": 64,
           "hidden": 8, "layers": 2, "seeds": [0, 1, 2], "datasets": ["MUTAG"],
           "cells": {"infograph": {"beta": 0, "tau_plus": 0}}}
    config = tmp_path / "grid.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OUT": str(tmp_path / "out"), "DEVICE": "cpu",
           "CONFIG": str(config), "DATASETS": "MUTAG", "SEEDS": "0 1",
           "SPEED_ARGS": "--datasets MUTAG --repeats 1 --batches 1 "
           "--fit-epochs 1 --fit-repeats 1"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" /
                                       "device_check.sh")], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    files = sorted(str(p.relative_to(tmp_path / "out"))
                   for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == ["grid/MUTAG_seed0.npz", "grid/MUTAG_seed1.npz",
                     "grid/runs.json", "speed/SPEED.md", "speed/floor.json",
                     "speed/throughput.json", "speed/views.json"]
    assert len(files) <= 8
