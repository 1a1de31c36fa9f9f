"""The paired report of a grid (hngraph.grid_report): intervals, tests,
verdicts and the variance decomposition against hand values, and the
contract of the result files it reads."""
import json
import math
import re

import pytest
import yaml

from hngraph.grid import GridConfig
from hngraph.grid_report import (
    add_pools,
    decomposition,
    paired,
    plan_repeats,
    seeds_needed,
    write_report,
)


def _runs(accs):
    return {s: {"accuracy_mean": a} for s, a in enumerate(accs)}


def test_paired_interval_by_hand():
    base = _runs([0.80, 0.80, 0.80, 0.80])
    cell = _runs([0.81, 0.82, 0.83, 0.84])  # differences 1, 2, 3, 4 points
    c = paired(cell, base)
    # mean 2.5, sample sd sqrt(5/3), t(0.975, 3) = 3.182446
    half = 3.182446 * (5 / 3) ** 0.5 / 2
    assert c["mean"] == pytest.approx(2.5)
    assert (c["low"], c["high"]) == pytest.approx((2.5 - half, 2.5 + half),
                                                   abs=1e-5)
    assert c["verdict"] == "better" and c["n"] == 4
    # Wilcoxon signed-rank, 4 positive differences: exact p = 2 / 2^4
    assert c["p"] == pytest.approx(0.125)
    assert paired(base, cell)["verdict"] == "worse"
    mixed = paired(_runs([0.81, 0.79, 0.82, 0.78]), base)
    assert mixed["verdict"] == "no detectable difference"
    assert paired(_runs([0.9]), _runs([0.8])) is None  # one seed: no interval


def test_seeds_needed_by_hand_and_at_once():
    # sd 1: t(0.975, 17) / sqrt(18) = 0.497 <= 0.5 < t(0.975, 16) / sqrt(17)
    assert seeds_needed(1.0) == 18
    assert seeds_needed(0.0) == 2
    # a spread 100 times larger (a file edited by hand) answers at once:
    # about (1.96 * 100 / 0.5)^2 = 153,664 seeds
    assert 153_000 < seeds_needed(100.0) < 154_500
    with pytest.raises(ValueError, match="finite"):
        seeds_needed(float("nan"))


def test_decomposition_by_hand():
    # Two seeds, K = 2 splits; the differences (points) are [1, 3] for
    # seed 0 and [2, 6] for seed 1: split variances 2 and 8 (mean 5), seed
    # means 2 and 4 (variance 2), training variance 2 - 5 / 2 < 0 -> 0.
    base = {s: {"repeat_means": [0.5, 0.5], "train_time_s": 10.0,
                "svm_time_s": 2.0} for s in (0, 1)}
    cell = {0: {"repeat_means": [0.51, 0.53], "train_time_s": 10.0,
                "svm_time_s": 2.0},
            1: {"repeat_means": [0.52, 0.56], "train_time_s": 10.0,
                "svm_time_s": 2.0}}
    c = decomposition(cell, base)
    assert (c["n"], c["k"]) == (2, 2)
    assert c["split_sd"] == pytest.approx(math.sqrt(5))
    assert c["seed_sd"] == pytest.approx(math.sqrt(2))
    assert c["training_sd"] == 0.0
    assert (c["train_s"], c["svm_s"]) == (10.0, 1.0)  # per split
    assert decomposition(_runs([0.5, 0.6]), _runs([0.5, 0.6])) is None


def test_plan_repeats_minimises_the_compute():
    # No split noise: one split is cheapest. Only split noise and a cheap
    # SVM: the most splits.
    assert plan_repeats(1.0, 0.0, 10.0, 1.0)["best_k"] == 1
    assert plan_repeats(0.0, 2.0, 100.0, 0.1)["best_k"] == 10
    # by hand: sd_t 1, sd_s 1.38, T 12, S 1.4 -> cost n(K) (12 + 1.4 K)
    best = plan_repeats(1.0, 1.38, 12.0, 1.4)
    costs = {k: seeds_needed(math.sqrt(1 + 1.38 ** 2 / k)) * (12 + 1.4 * k)
             for k in range(1, 11)}
    assert best["best_k"] == min(costs, key=costs.get)


def test_pools_average_cells_seed_by_seed(tmp_path):
    grid = _grid(tmp_path, pools={"ab": ["a", "b"]}, pairs={"b": "b0"},
                 baseline="a0")
    runs = {"D": {"a": _runs([0.1, 0.2]), "b": _runs([0.3, 0.4]),
                  "a0": _runs([0.0, 0.0]), "b0": _runs([0.1, 0.1])}}
    add_pools(grid, runs)
    assert runs["D"]["ab"][1]["accuracy_mean"] == pytest.approx(0.3)
    partners = runs["D"][grid.pairs["ab"]]  # a -> a0, b -> b0
    assert partners[1]["accuracy_mean"] == pytest.approx(0.05)


def _grid(tmp_path, **extra):
    cells = {n: {"beta": 0, "tau_plus": 0}
             for n in ("base", "hard", "a", "b", "a0", "b0")}
    cfg = {"out": str(tmp_path / "grid"), "seeds": [0, 1, 2],
           "datasets": ["D"], "cells": cells, "baseline": "base",
           "title": "T", "columns": "C", **extra}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return GridConfig.from_yaml(path)


def _write_runs(tmp_path, shifts):
    machine = {"device": "cpu", "host": "h", "cpu_count": 2}
    for name, shift in shifts.items():
        for seed in range(3):
            path = tmp_path / "grid" / "D" / f"{name}_seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            acc = 0.7 + shift + 0.001 * seed
            path.write_text(json.dumps({
                "cell": name, "seed": seed, "commit": "abc",
                "accuracy_mean": acc, "first_split_mean": acc,
                "repeat_means": [acc - 0.01, acc + 0.01], "repeats": 2,
                "train_time_s": 5.0, "svm_time_s": 1.0,
                "wall_time_s": 1.0, "machine": machine}))


def test_report_from_run_files(tmp_path):
    grid = _grid(tmp_path, selections={"pick": ["hard"]})
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": -0.03})
    (tmp_path / "grid" / "D" / "broken_seed0.json").write_text("{trunc")
    (tmp_path / "grid" / "D" / "other_seed0.json").write_text("[1, 2]")
    paths = write_report(grid, "cmd")
    text = paths[0].read_text()
    assert "| D | hard | base | +2.00 [+2.00, +2.00]" in text
    assert "- D: `pick` worse (-3.00 [-3.00, -3.00]" in text
    assert "The first split alone" in text and "| D | 70.10 ± 0.10" in text
    assert "| D | hard | 3 | 2 | 0.00 | 0.00 | 0.00 | 5 | 0.5 |" in text
    assert "broken_seed0.json (D): not readable JSON" in text
    assert "other_seed0.json (D): not a grid result file" in text
    assert paths[3].stat().st_size > 0
    assert paths[2].read_text().count("\n") == 3


@pytest.mark.parametrize("field,value,message", [
    ("accuracy_mean", 70.1, "accuracy_mean must be a fraction in [0, 1]"),
    ("accuracy_mean", float("nan"), "accuracy_mean must be a fraction"),
    ("first_split_mean", -0.1, "first_split_mean must be a fraction"),
    ("repeat_means", [0.5, 2.0], "repeat_means must hold fractions"),
    ("seed", "1", "seed must be the integer 1 of the file's name"),
    ("seed", 2, "seed must be the integer 1 of the file's name"),
])
def test_an_impossible_result_stops_the_report_naming_its_file(
        tmp_path, field, value, message):
    grid = _grid(tmp_path)
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02})
    path = tmp_path / "grid" / "D" / "hard_seed1.json"
    result = json.loads(path.read_text())
    result[field] = value
    path.write_text(json.dumps(result))
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        write_report(grid, "cmd")
    assert str(path) in str(err.value)
