"""benchmarks/infograph_selection.py: InfoGraph's selection on test folds,
worked out by hand for two seeds."""
import json

import pytest
from infograph_selection import (
    accuracies,
    best_rows,
    epoch_diagnostic,
    selection,
)

from hngraph.runs.grid import GridConfig


def _result(path, dataset, layers, lr, seed, epochs, final, history):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "config": {"dataset": dataset, "layers": layers, "lr": lr,
                   "epochs": epochs, "beta": 0.0, "tau_plus": 0.0},
        "seed": seed, "accuracy_mean": final, "epoch_evaluated": epochs,
        "eval_history": {str(e): {"accuracy_mean": a}
                         for e, a in history.items()}}))


def test_each_seeds_best_epoch_within_each_budget(tmp_path):
    (tmp_path / "grid.yaml").write_text(
        f"out: {tmp_path}\nepochs: 100\nseeds: [0, 1]\ndatasets: [MUTAG]\n"
        "cells:\n  L3: {beta: 0, tau_plus: 0, layers: 3}\n"
        "  untrained-L3: {beta: 0, tau_plus: 0, layers: 3, epochs: 0}\n")
    grid = GridConfig.from_yaml(tmp_path / "grid.yaml")
    # seed 0: untrained 0.95, best trained 0.80 (epoch 20), 0.90 (epoch 50);
    # seed 1: untrained 0.50, 0.70 (epoch 10), 0.60 (epoch 100).
    for seed, start, history in [(0, 0.95, {10: 0.7, 20: 0.8, 50: 0.9}),
                                 (1, 0.50, {10: 0.7, 20: 0.5, 100: 0.6})]:
        _result(tmp_path / "MUTAG" / f"L3_seed{seed}.json", "MUTAG", 3,
                0.01, seed, 100, 0.6, history)
        _result(tmp_path / "MUTAG" / f"untrained-L3_seed{seed}.json",
                "MUTAG", 3, 0.001, seed, 0, start, {})
    runs = accuracies(grid)["MUTAG"][3, 0.01]
    assert runs[0] == pytest.approx({0: 95, 10: 70, 20: 80, 50: 90})
    # budget 20: best 95 and 70, mean 82.5, sd 17.68; budget 100: the same.
    got = selection(runs)
    assert got[20][:2] == pytest.approx((82.5, 17.677669529663685))
    assert got[100][2] == 2


def test_the_epoch_diagnostic_by_hand(tmp_path):
    for seed, (a10, a200) in enumerate([(0.80, 0.90), (0.70, 0.60)]):
        _result(tmp_path / f"MUTAG_infograph_beta0_tau0_seed{seed}.json",
                "MUTAG", 3, 0.001, seed, 200, a200, {10: a10})
    row = epoch_diagnostic(tmp_path, {"MUTAG": 89.01})[-1]
    # epoch 10: 80, 70 (mean 75, sd 7.07); epoch 200: 90, 60 (75, 21.21);
    # best epochs 90 and 70: mean 80, sd 14.14; 80 - 89.01 = -9.01.
    assert row == ("- MUTAG (n=2): epoch 10 75.00 ± 7.07, epoch 200 75.00 ± "
                   "21.21; each seed's best epoch 80.00 ± 14.14 (-9.01 against"
                   " the published 89.01)")
    assert epoch_diagnostic(tmp_path / "none", {}) == []


def test_selection_rows_prefer_the_configuration_study(tmp_path):
    """selection.csv: a dataset of the configuration grid gets its best
    configuration; one only in the epoch runs gets each seed's best epoch."""
    (tmp_path / "grid.yaml").write_text(
        f"out: {tmp_path / 'grid'}\nepochs: 100\nseeds: [0, 1]\n"
        "datasets: [MUTAG]\ncells:\n  L3: {beta: 0, tau_plus: 0, layers: 3}\n")
    grid = GridConfig.from_yaml(tmp_path / "grid.yaml")
    for seed, history in [(0, {20: 0.8, 100: 0.9}), (1, {20: 0.7, 100: 0.6})]:
        _result(tmp_path / "grid" / "MUTAG" / f"L3_seed{seed}.json", "MUTAG",
                3, 0.01, seed, 100, 0.6, history)
    epochs = tmp_path / "epochs"
    for d in ("MUTAG", "PTC_MR"):
        for seed, (a10, a200) in enumerate([(0.50, 0.60), (0.70, 0.40)]):
            _result(epochs / f"{d}_seed{seed}.json", d, 3, 0.001, seed, 200,
                    a200, {10: a10})
    rows = {r[0]: r for r in best_rows(grid, epochs)}
    # MUTAG: budget 100 gives best epochs 90 and 70 (mean 80, sd 14.14),
    # budget 20 gives 80 and 70 (75): 100 epochs wins.
    assert rows["MUTAG"][1:4] == ["80.00", "14.14", 2]
    assert "(3 layers, lr 0.01, 100 epochs)" in rows["MUTAG"][4]
    # PTC_MR: best epochs 60 and 70, mean 65, sd 7.07
    assert rows["PTC_MR"][1:4] == ["65.00", "7.07", 2]
    assert rows["PTC_MR"][4].startswith("each seed's best of epochs 10 to 200")
