"""What every result records: provenance that does not mislead."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hngraph import InfoGraph, fit, load_tudataset, seed_everything
from hngraph.config import TrainConfig
from hngraph.runs.experiment import run_experiment

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
    code = ("from hngraph.results import SOURCE, installed_files_hash; "
            "print(SOURCE.commit.replace(' ', '_'), SOURCE.files, "
            "SOURCE.clean, installed_files_hash())")

    def source():
        return subprocess.run(
            [sys.executable, "-c", code], cwd=other, capture_output=True,
            text=True, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
            check=True).stdout.split()

    commit, files, clean, by_hand = source()
    assert commit.startswith("hngraph_") and clean == "True"
    assert files == by_hand and len(files) == 64
    # the same files give the same hash; an edited file, another
    assert source()[1] == files
    edited = site / "hngraph" / "cli.py"
    edited.write_text(edited.read_text() + "\n# edited\n")
    assert source()[1] != files


def test_a_release_counts_as_clean_only_with_its_files_hash():
    """The rule of docs/reproducibility.md: results of an installed release
    count as one clean source when they record the hash of its files."""
    from hngraph.runs.grid import origin

    release = {"commit": "hngraph 0.1.0", "source_diff": None,
               "source_files": "f" * 64}
    assert origin(release).clean
    bare = {**release, "source_files": None}
    assert not origin(bare).clean
    assert "recorded no hash of its files" in origin(bare).why_not_clean
    dirty = {"commit": "a" * 40 + "-dirty", "source_diff": "d" * 64}
    assert "uncommitted changes" in origin(dirty).why_not_clean
    assert origin({"commit": "a" * 40, "source_diff": None}).clean
    assert origin(release) != origin({**release, "source_files": "e" * 64})




def test_atomic_files_have_normal_permissions(tmp_path):
    from hngraph.results import atomic_write_json
    path = atomic_write_json(tmp_path / "r.json", {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def _git_repo(tmp_path) -> Path:
    """A git repository holding a copy of the hngraph package, committed."""
    repo = tmp_path / "repo"
    shutil.copytree(SOURCE, repo / "hngraph",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "benchmarks" / "results").mkdir(parents=True)
    (repo / "benchmarks" / "results" / "r.json").write_text("{}")
    _commit(repo, "init", "-q")
    _commit(repo, "add", "-A")
    _commit(repo, "commit", "-q", "-m", "x")
    return repo


def _commit(repo, *args):
    return subprocess.run(["git", "-c", "user.email=a@b", "-c",
                           "user.name=a", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()


def _python(repo, code):
    return subprocess.run([sys.executable, "-c", code], cwd=repo,
                          env={**os.environ, "PYTHONPATH": str(repo)},
                          capture_output=True, text=True, check=True
                          ).stdout.split()


@pytest.mark.slow
def test_the_commit_recorded_is_the_one_imported(tmp_path):
    repo = _git_repo(tmp_path)
    first = _commit(repo, "rev-parse", "HEAD")
    # a commit made after the import changes nothing the process records
    printed = _python(repo, (
        "import subprocess, hngraph.results as r; subprocess.run(['git', "
        "'-c', 'user.email=a@b', '-c', 'user.name=a', 'commit', '-q', "
        "'--allow-empty', '-m', 'later'], check=True); "
        "print(r.provenance()['commit'], r.provenance()['source_diff'], "
        "r.read_source().commit)"))
    assert printed[:2] == [first, "None"]
    assert printed[2] == _commit(repo, "rev-parse", "HEAD") != first
    # a result file changed is not a change of the code
    (repo / "benchmarks" / "results" / "r.json").write_text("[]")
    code = ("import hngraph.results as r; "
            "print(r.git_commit(), r.SOURCE.diff)")
    assert _python(repo, code)[1] == "None"
    # an edit of the code: -dirty, and the SHA-256 of `git diff HEAD`
    with open(repo / "hngraph" / "errors.py", "a") as f:
        f.write("# an edit\n")
    label, diff = _python(repo, code)
    assert label.endswith("-dirty") and len(diff) == 64
    patch = subprocess.run(["git", "diff", "HEAD", "--binary", "--", ":/",
                            ":!/benchmarks/results"], cwd=repo, check=True,
                           capture_output=True, text=True).stdout.strip()
    assert diff == hashlib.sha256(patch.encode()).hexdigest()
    with open(repo / "hngraph" / "errors.py", "a") as f:
        f.write("# another edit\n")
    assert _python(repo, code)[1] != diff


@pytest.mark.parametrize("text,why", [
    ("{trunc", "not readable JSON (JSONDecodeError)"),
    ("[1, 2]", "not a result file"),
    ('{"seed": 0}', "not a result file"),
    ('{"accuracy_mean": 0.5, "seed": "0"}', "seed must be the integer 3 of "
     "the file's name"),
    ('{"accuracy_mean": 0.5, "seed": 4}', "seed must be the integer 3"),
    ('{"accuracy_mean": 0.5, "seed": true}', "seed must be the integer 3"),
    ('{"accuracy_mean": 50, "seed": 3}', "accuracy_mean must be a fraction"),
    ('{"accuracy_mean": NaN, "seed": 3}', "accuracy_mean must be a fraction"),
    ('{"accuracy_mean": 0.5, "first_split_mean": -0.1, "seed": 3}',
     "first_split_mean must be a fraction"),
    ('{"accuracy_mean": 0.5, "fold_accuracies": [0.5, 1.5], "seed": 3}',
     "fold_accuracies must hold fractions"),
    ('{"accuracy_mean": 0.5, "repeat_means": 0.5, "seed": 3}',
     "repeat_means must hold fractions"),
])
def test_the_one_reader_names_the_file_and_the_broken_clause(tmp_path, text,
                                                             why):
    from hngraph.results import ResultFileError, read_result
    path = tmp_path / "cell_seed3.json"
    path.write_text(text)
    with pytest.raises(ResultFileError) as err:
        read_result(path)
    assert str(err.value).startswith(f"{path}: {why}")
    assert err.value.readable == (not why.startswith("not "))
    path.write_text('{"accuracy_mean": 0.5, "first_split_mean": 1, '
                    '"fold_accuracies": [0, 1], "seed": 3}')
    assert read_result(path)["seed"] == 3


def test_one_function_names_every_file_of_a_run(tmp_path):
    from hngraph.results import run_files
    from hngraph.runs.grid import Run
    files = run_files(tmp_path, "MUTAG_x_beta0.5_seed0")
    assert [p.name for p in (files.result, files.model, files.trained,
                             files.training_state, files.failure)] == [
        "MUTAG_x_beta0.5_seed0" + s for s in (".json", ".pt", ".emb.npz",
                                              ".train.pt", ".failed")]
    grid_run = Run("MUTAG", "paper-b1", 2).files(tmp_path)
    assert grid_run.result == tmp_path / "MUTAG" / "paper-b1_seed2.json"
    assert grid_run.training_state.name == "paper-b1_seed2.train.pt"


def test_the_train_stage_output_is_all_the_score_stage_needs(data_root,
                                                             tmp_path):
    """Saved and loaded, the train stage's output scores and records as the
    whole run does; its training state goes where its files say."""
    from hngraph.results import run_files
    from hngraph.runs.experiment import (
        Trained,
        record_stage,
        score_stage,
        train_stage,
    )
    config = TrainConfig(dataset="MUTAG", epochs=1, hidden=8, layers=2,
                         checkpoint_every=1, out=str(tmp_path), device="cpu")
    files = run_files(tmp_path / "MUTAG", "cell_seed0")
    trained, model = train_stage(config, progress=False, device="cpu", files=files)
    assert files.training_state.exists()
    trained.save(files.trained)
    loaded = Trained.load(files.trained)
    assert (loaded.embeddings == trained.embeddings).all()
    assert loaded.record == json.loads(json.dumps(trained.record))
    assert loaded.embeddings.shape == (188, 16)  # 2 layers of 8
    result = record_stage(loaded, *score_stage(loaded))
    whole, _ = run_experiment(config, progress=False,
                              files=run_files(tmp_path, "whole"))
    for key in ("fold_accuracies", "best_C", "accuracy_mean",
                "loss_history"):
        assert result[key] == whole[key], key
    files.trained.write_bytes(b"not npz")
    with pytest.raises(ValueError, match="not a train stage's output"):
        Trained.load(files.trained)


def test_a_train_stage_output_with_swapped_labels_is_refused():
    import numpy as np

    from hngraph.config import TrainConfig
    from hngraph.runs.experiment import Trained, labels_hash, score_stage

    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 10)
    config = TrainConfig(dataset="MUTAG", folds=2, repeats=1).to_dict()
    record = {"config": config, "labels": labels_hash(labels)}
    emb = rng.normal(size=(20, 3)).astype(np.float32)
    assert score_stage(Trained(emb, labels, record))[0].accuracy_mean >= 0
    swapped = labels.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    with pytest.raises(ValueError, match="labels are not those it recorded"):
        score_stage(Trained(emb, swapped, record))
    assert labels_hash(labels) == labels_hash(labels.astype(np.int32))
