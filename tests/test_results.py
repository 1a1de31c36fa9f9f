"""What every result records: provenance that does not mislead."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hngraph import InfoGraph, fit, load_tudataset, seed_everything
from hngraph.config import TrainConfig
from hngraph.experiment import run_experiment

SOURCE = Path(__file__).resolve().parents[1] / "hngraph"


def test_result_records_versions_times_and_resumes(data_root, tmp_path):
    config = TrainConfig(dataset="MUTAG", epochs=2, hidden=8, layers=2,
                         checkpoint_every=1, out=str(tmp_path),
                         device="cpu")
    result, _ = run_experiment(config, progress=False)
    assert set(result["versions"]) >= {"hngraph", "torch", "torch_geometric",
                                       "scikit-learn"}
    assert result["finished"].endswith("+00:00")
    assert 0 < result["svm_time_s"] < result["wall_time_s"]
    assert result["resumed_at_epochs"] == []
    resumed, _ = run_experiment(config.replace(epochs=3), progress=False)
    # epochs are part of the run's name: a new run, not a resume ...
    assert resumed["resumed_at_epochs"] == []
    # ... while fit() on the same checkpoint resumes and says so.
    ds = load_tudataset("MUTAG")
    seed_everything(0)
    ckpt = tmp_path / "t.pt"
    fit(InfoGraph(ds.num_features), ds, epochs=1, device="cpu",
        progress=False, checkpoint=ckpt)
    h = fit(InfoGraph(ds.num_features), ds, epochs=3, device="cpu",
            progress=False, checkpoint=ckpt)
    assert h["resumed_at"] == [1] and len(h["loss"]) == 3


@pytest.mark.slow
def test_installed_copy_does_not_take_the_working_directory_commit(
        tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SOURCE, site / "hngraph",
                    ignore=shutil.ignore_patterns("__pycache__"))
    other = tmp_path / "other"
    other.mkdir()
    for cmd in (["init", "-q"], ["-c", "user.email=a@b", "-c", "user.name=a",
                                 "commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *cmd], cwd=other, check=True)
    out = subprocess.run(
        [sys.executable, "-c", "from hngraph.results import git_commit; "
         "print(git_commit())"], cwd=other, capture_output=True, text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, check=True)
    assert out.stdout.strip().startswith("hngraph ")




def test_atomic_files_have_normal_permissions(tmp_path):
    from hngraph.results import atomic_write_json
    path = atomic_write_json(tmp_path / "r.json", {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
