"""The paired verdict: intervals, tests and verdicts against hand values."""
import json

import pytest
import yaml
from verdict import add_pools, main, paired, seeds_needed


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


def test_seeds_needed_by_hand():
    # sd 1: t(0.975, 17) / sqrt(18) = 0.497 <= 0.5 < t(0.975, 16) / sqrt(17)
    assert seeds_needed(1.0) == 18


def test_report_from_run_files(tmp_path):
    out = tmp_path / "grid"
    machine = {"device": "cpu", "host": "h", "cpu_count": 2}
    for name, shift in (("base", 0.0), ("hard", 0.02), ("pick", -0.03)):
        for seed in range(3):
            path = out / "D" / f"{name}_seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({
                "objective_name": name, "seed": seed, "commit": "abc",
                "accuracy_mean": 0.7 + shift + 0.001 * seed,
                "wall_time_s": 1.0, "machine": machine}))
    config = tmp_path / "grid.yaml"
    config.write_text(yaml.safe_dump({
        "out": str(out), "seeds": [0, 1, 2], "datasets": ["D"],
        "objectives": {"base": {}, "hard": {}}, "selections": {"pick": []},
        "baseline": "base", "title": "T", "columns": "C"}))
    assert main(["--config", str(config)]) == 0
    text = (out / "RESULTS.md").read_text()
    assert "| D | hard | base | +2.00 [+2.00, +2.00]" in text
    assert "- D: `pick` worse (-3.00 [-3.00, -3.00]" in text
    assert (out / "RESULTS.png").stat().st_size > 0
    assert (out / "paired.csv").read_text().count("\n") == 3


def test_pools_average_cells_seed_by_seed():

    runs = {"D": {"a": _runs([0.1, 0.2]), "b": _runs([0.3, 0.4]),
                  "a0": _runs([0.0, 0.0]), "b0": _runs([0.1, 0.1])}}
    grid = {"baseline": "a0", "objectives": {}, "pairs": {"b": "b0"},
            "pools": {"ab": ["a", "b"]}}
    add_pools(grid, runs)
    assert runs["D"]["ab"][1]["accuracy_mean"] == pytest.approx(0.3)
    partners = runs["D"][grid["pairs"]["ab"]]  # a -> a0, b -> b0
    assert partners[1]["accuracy_mean"] == pytest.approx(0.05)
