"""benchmarks/infograph_selection.py: InfoGraph's selection on test folds,
worked out by hand for two seeds."""
import json

import pytest
from infograph_selection import accuracies, epoch_diagnostic, selection

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
