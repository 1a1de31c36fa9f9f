"""benchmarks/bayes_crosscheck.py: the samples it gives the model, and the
committed cross-checks cover the datasets the result files have finished."""
import json
from pathlib import Path

import pytest
from bayes_crosscheck import finished, seed_means

from hngraph.runs.grid import GridConfig

ROOT = Path(__file__).resolve().parents[2]


def test_seed_means_in_points_seed_after_seed():
    runs = {"a": {0: {"accuracy_mean": 0.5}, 1: {"accuracy_mean": 0.75},
                  2: {"accuracy_mean": 0.25}}}
    assert seed_means(runs, "a", [1, 0]).tolist() == [75.0, 50.0]


@pytest.mark.parametrize("config", ["verdict", "graphcl_table"])
def test_the_committed_crosscheck_is_current(config):
    grid = GridConfig.from_yaml(ROOT / "configs" / f"{config}.yaml")
    grid.out = str(ROOT / grid.out)
    done = finished(grid)[1]
    checked = json.loads((grid.out_path / "bayes.json").read_text())
    assert [c["datasets"] for c in checked["comparisons"]] == [
        done] * len(grid.selections), (
        f"BAYES.md is stale: run python benchmarks/bayes_crosscheck.py "
        f"configs/{config}.yaml")
