"""One run of the main job (hngraph.runs.experiment): its key, its name, its
model and its result record."""
import pytest

from hngraph import GraphCL, InfoGraph
from hngraph.config import TrainConfig
from hngraph.runs.experiment import (
    build_model,
    run_experiment,
    run_stem,
    settings_key,
)


def test_the_key_holds_what_changes_the_result():
    base = TrainConfig(dataset="MUTAG", seed=1)
    key = settings_key(base)
    for same in ({"out": "elsewhere"}, {"device": "cpu"},
                 {"batching": "loader"}, {"checkpoint_every": 3}):
        assert settings_key(base.replace(**same)) == key, same
    for other in ({"beta": 2.0}, {"seed": 2}, {"repeats": 3}, {"epochs": 5},
                  {"root": "/data"}, {"reweight": "hcl-code"}):
        assert settings_key(base.replace(**other)) != key, other
    assert settings_key(base, processes=2) != key
    assert len(key) == 8 and int(key, 16) >= 0


def test_run_stem_reads_dataset_tag_beta_tau_seed_and_key():
    config = TrainConfig(dataset="PTC_MR", beta=2.0, tau_plus=0.1, seed=4)
    assert run_stem(config, processes=1) == (
        f"PTC_MR_hard-paper_beta2_tau0.1_seed4_{settings_key(config)}")


def test_build_model_follows_the_objective():
    jsd = build_model(TrainConfig(beta=0.5, tau_plus=0.2), 7)
    assert isinstance(jsd, InfoGraph) and jsd.config["beta"] == 0.5
    nce = build_model(TrainConfig(objective="infonce", temperature=0.2), 7)
    assert isinstance(nce, GraphCL) and nce.config["temperature"] == 0.2


def test_run_experiment_records_scores_and_provenance(data_root, tmp_path):
    config = TrainConfig(dataset="MUTAG", epochs=2, hidden=8, layers=2,
                         repeats=2, out=str(tmp_path), device="cpu")
    result, model = run_experiment(config, progress=False)
    assert result["config"] == config.to_dict()
    assert result["tag"] == "hard-paper" and result["seed"] == 0
    assert result["repeats"] == 2 and len(result["fold_accuracies"]) == 20
    assert result["accuracy_mean"] == pytest.approx(
        sum(result["repeat_means"]) / 2)
    assert len(result["loss_history"]) == 2
    assert result["dataset"] == {"name": "MUTAG", "graphs": 188,
                                 "classes": 2, "features": model
                                 .feature_recipe}
    for key in ("commit", "versions", "machine", "finished",
                "train_time_s", "svm_time_s", "wall_time_s"):
        assert key in result
    assert result["wall_time_s"] >= result["train_time_s"]
