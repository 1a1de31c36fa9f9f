"""The paired report of a grid (hngraph.runs.report): intervals, tests,
verdicts and the variance decomposition against hand values, and the
contract of the result files it reads."""
import csv
import json
import math
import re

import pytest
import yaml

from hngraph.runs.comparison import seeds_needed
from hngraph.runs.grid import GridConfig
from hngraph.runs.report import (
    add_pools,
    decomposition,
    load_runs,
    plan_repeats,
    write_report,
)

#: The sizes of the made-up datasets of these tests, in graphs.
SIZES = {"D": 100, "E": 200, "F": 400, "G": 800, "H": 1600}


@pytest.fixture(autouse=True)
def _sizes(monkeypatch):
    monkeypatch.setattr("hngraph.runs.robustness.dataset_size", SIZES.get)


def _runs(accs):
    return {s: {"accuracy_mean": a} for s, a in enumerate(accs)}


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
    pooled = add_pools(grid, runs)
    assert grid.pairs == {"b": "b0"}  # the config given is left as it is
    assert runs["D"]["ab"][1]["accuracy_mean"] == pytest.approx(0.3)
    partners = runs["D"][pooled.pairs["ab"]]  # a -> a0, b -> b0
    assert partners[1]["accuracy_mean"] == pytest.approx(0.05)


def _grid(tmp_path, **extra):
    cells = {n: {"beta": 0, "tau_plus": 0}
             for n in ("base", "hard", "a", "b", "a0", "b0")}
    cfg = {"out": str(tmp_path / "grid"), "seeds": [0, 1, 2],
           "datasets": ["D"], "cells": cells, "baseline": "base",
           "title": "T", "columns": "C", "folds": 2, **extra}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return GridConfig.from_yaml(path)


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _write_runs(tmp_path, shifts, dataset="D", commit=COMMIT, seeds=3,
                repeats=2):
    """Result files of ``seeds`` seeds; ``shifts[cell]`` is one accuracy
    shift, or one per seed."""
    machine = {"device": "cpu", "host": "h", "cpu_count": 2}
    grid = GridConfig.from_yaml(tmp_path / "grid.yaml")
    for name, shift in shifts.items():
        for seed in range(seeds):
            path = tmp_path / "grid" / dataset / f"{name}_seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            acc = 0.7 + (shift[seed] if isinstance(shift, list) else shift) \
                + 0.001 * seed
            path.write_text(json.dumps({
                "cell": name, "seed": seed, "commit": commit,
                "accuracy_mean": acc, "first_split_mean": acc,
                "repeat_means": [acc - 0.01, acc + 0.01][:repeats],
                "repeats": repeats, "config": grid.train_config(
                    dataset, name, seed).to_dict() if name in grid.cells
                else {"folds": 2},
                "fold_accuracies": [acc] * 2 * repeats,
                "best_C": [1.0, 10.0] * repeats,
                "train_time_s": 5.0, "svm_time_s": 1.0,
                "wall_time_s": 1.0, "machine": machine}))


def _small_grid(tmp_path, datasets=("D",)):
    return _grid(tmp_path, cells={"base": {"beta": 0, "tau_plus": 0},
                                  "hard": {"beta": 1, "tau_plus": 0}},
                 selections={"pick": ["hard"]}, datasets=list(datasets))


def test_report_from_run_files(tmp_path):
    grid = _small_grid(tmp_path)
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": -0.03})
    (tmp_path / "grid" / "D" / "broken_seed0.json").write_text("{trunc")
    (tmp_path / "grid" / "D" / "other_seed0.json").write_text("[1, 2]")
    paths = write_report(grid, "cmd")
    text = paths[0].read_text()
    # a secondary cell: Holm over one test is the test itself
    assert "| D | hard | base | +2.00 [+2.00, +2.00], n=3 | 2.00 | 0.000 " \
        "(0.000) | too few seeds | better |" in text
    assert "| D | pick | base | -3.00 [-3.00, -3.00], n=3 | 3.00 | 0.000 " \
        "(0.000, primary) | too few seeds | worse |" in text
    assert "The first split alone" in text and "| D | 70.10 ± 0.10" in text
    assert "| D | hard | 3 | 2 | 0.00 | 0.00 | 0.00 | 5 | 0.5 |" in text
    assert "- not readable JSON (JSONDecodeError): 1 file(s), " \
        "broken_seed0.json (D)" in text
    assert "- not a result file (a JSON object with accuracy_mean): 1 "\
        "file(s), other_seed0.json (D)" in text
    assert f"commits `{COMMIT}` (9 files)" in text
    assert {p.name for p in paths} >= {"RESULTS.md", "forest.svg",
                                       "forest.pdf", "RESULTS.png",
                                       "pooled.csv"}
    assert all(p.stat().st_size > 0 for p in paths)
    assert paths[2].read_text().count("\n") == 3
    # the same files give the same report, byte for byte, figures included
    written = {p: p.read_bytes() for p in paths}
    assert write_report(grid, "cmd") == paths
    assert all(p.read_bytes() == data for p, data in written.items())


def test_a_plugin_whose_file_changed_between_runs_gets_no_verdict(tmp_path):
    """One commit of hngraph is not enough: a plugin's file must be one
    version across the dataset's runs (its recorded hash)."""
    grid = _small_grid(tmp_path, ("D",))
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": 0.01})
    for seed, digest in ((0, "a" * 64), (1, "a" * 64), (2, "b" * 64)):
        path = tmp_path / "grid" / "D" / f"hard_seed{seed}.json"
        result = json.loads(path.read_text())
        path.write_text(json.dumps({**result, "plugins": {"reweight": {
            "import_path": "mine:W", "file": "/x/mine.py",
            "sha256": digest}}}))
    text = write_report(grid, "cmd")[0].read_text()
    assert "unfinished (the file of plugin mine:W changed between its " \
        "runs (its hash differs))" in text


def test_only_finished_datasets_get_a_verdict(tmp_path):
    """Fewer seeds than the grid's, several commits or a dirty one: listed
    as unfinished, with no verdict and out of the pooled estimate."""
    grid = _small_grid(tmp_path, ("D", "E", "F", "G"))
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": 0.01})
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02}, "E")
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": 0.01}, "F")
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": 0.01}, "G",
                commit=COMMIT + "-dirty")
    path = tmp_path / "grid" / "F" / "hard_seed1.json"
    result = json.loads(path.read_text())
    path.write_text(json.dumps({**result, "commit": "f" * 40}))
    (tmp_path / "grid" / "D" / "pick_seed2.json").unlink()
    text = write_report(grid, "cmd")[0].read_text()
    assert "| D | hard | base | +2.00 [+2.00, +2.00], n=3 | 2.00 | 0.000 | " \
        "too few seeds | unfinished (1 of 3 cells below 3 seeds) |" in text
    assert "unfinished (results from 2 commits)" in text
    assert "unfinished (results from a commit with uncommitted changes)" \
        in text
    assert f"`{COMMIT}` **dirty** (9 files)" in text
    assert text.splitlines()[2].startswith("No answer yet")
    assert "E (1 of 3 cells below 3 seeds)" in text.splitlines()[2]
    assert (tmp_path / "grid" / "pooled.csv").read_text().count("\n") == 1


def _five_datasets(tmp_path, means=(0.0, 1.0, 2.0, 1.0, 1.0)):
    """Finished datasets D to H whose mean differences are ``means``
    (points), each with a squared standard error of 1 (differences
    m - sqrt 3, m + sqrt 3, m over 3 seeds)."""
    names = "DEFGH"[:len(means)]
    grid = _small_grid(tmp_path, tuple(names))
    r = math.sqrt(3)
    for d, m in zip(names, means, strict=True):
        shifts = [(m - r) / 100, (m + r) / 100, m / 100]
        _write_runs(tmp_path, {"base": 0.0, "hard": shifts, "pick": shifts},
                    d)
    return grid


def test_pooled_answer_and_csv_by_hand(tmp_path):
    """y = 0, 1, 2, 1, 1 with variances 1: Q = 2 < k - 1, so tau^2 = 0,
    mu = 1, se = 1 / sqrt 5 and q = 2 / 4; the modified Knapp-Hartung
    interval keeps se whole: 1 ± t(0.975, 4) / sqrt 5 (95%) and
    1 ± t(0.95, 4) / sqrt 5 (90%: bound 1.953, equivalent within ±2)."""
    grid = _five_datasets(tmp_path)
    text = write_report(grid, "cmd")[0].read_text()
    half, half90 = 2.776445 / math.sqrt(5), 2.131847 / math.sqrt(5)
    answer = text.splitlines()[2]
    assert answer.startswith(
        "**`pick` against `base`, pooled over 5 datasets (D, E, F, G, H): "
        f"+1.00 points, 95% [{1 - half:+.2f}, {1 + half:+.2f}], 90% "
        f"[{1 - half90:+.2f}, {1 + half90:+.2f}]: equivalent within ±2")
    # Fragility. Without D (0): y = 1, 2, 1, 1, mu = 1.25, q < 1, 90%
    # half-width t(0.95, 3) / 2 = 1.177: bound 2.43, inconclusive; the same
    # without E, G or H (mu = 1, bound 2.18); without F, bound 1.93. A fixed
    # effect: 1 ± 1.96 / sqrt 5 = [+0.12, +1.88], better.
    assert ", but inconclusive when any one of D, E, G or H is left out, " \
        "and better under a fixed effect** (" in answer
    # half-width 1.24 > 0.5. Seeds n: 2.776445 / sqrt(5 n / 3) <= 0.5 from
    # n = 19 (18: 0.507). Datasets k at 3 seeds (variance 1 each):
    # t(0.975, k - 1) / sqrt(k) is 0.514 at k = 17, 0.497 at k = 18.
    assert "19 seeds per dataset on these datasets or 18 datasets at 3 " \
        "seeds would reach it" in answer
    rows = list(csv.reader((tmp_path / "grid" / "pooled.csv").open()))
    assert rows[0] == ["cell", "against", "datasets", "estimate", "ci_low",
                       "ci_high", "ci90_low", "ci90_high", "tau2", "i2",
                       "pi_low", "pi_high", "equivalence_bound", "verdict"]
    pick = next(row for row in rows if row[0] == "pick")
    assert [float(v) for v in pick[3:8]] == pytest.approx(
        [1.0, 1 - half, 1 + half, 1 - half90, 1 + half90], abs=1e-3)
    assert pick[1:3] == ["base", "D E F G H"]
    assert pick[-1] == "equivalent within ±2"
    sens = list(csv.DictReader((tmp_path / "grid" / "sensitivity.csv")
                               .open()))
    assert [r["variant"] for r in sens] == [
        "as reported", *(f"without {d}" for d in "DEFGH"),
        "DerSimonian-Laird", "fixed effect", "first split"]
    assert float(next(r for r in sens if r["variant"] == "without D")[
        "equivalence_bound"]) == pytest.approx(1.25 + 2.353363 / 2, abs=1e-3)


def test_too_few_datasets_for_a_pooled_verdict(tmp_path):
    grid = _five_datasets(tmp_path, (0.0, 1.0, 2.0))
    answer = write_report(grid, "cmd")[0].read_text().splitlines()[2]
    assert ": too few datasets for a pooled verdict** (" in answer
    assert "would reach it" not in answer and ", but" not in answer


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


def _sections(text):
    """Each Markdown heading with the lines up to the next one."""
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            name = line
            out[name] = []
        elif name and line.strip():
            out[name].append(line)
    return out


def test_no_empty_section_and_no_wilcoxon_below_six_seeds(tmp_path):
    grid = _grid(tmp_path, cells={"base": {"beta": 0, "tau_plus": 0},
                                  "hard": {"beta": 1, "tau_plus": 0}},
                 seeds=list(range(6)))
    _write_runs(tmp_path, {"base": 0.0, "hard": [0.01, 0.02, 0.015, 0.03,
                                                 0.012, 0.022]},
                seeds=6, repeats=1)
    text = write_report(grid, "cmd")[0].read_text()
    sections = _sections(text)
    assert all(sections.values()), [k for k, v in sections.items() if not v]
    assert len(sections) == len(set(sections))
    # one split: no "first split" table, no decomposition
    assert "The first split alone" not in text
    assert "Where the noise comes from" not in text
    # 6 positive differences: exact Wilcoxon p = 2 / 2^6
    assert "| 0.031 | better |" in text
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.01}, seeds=5, repeats=1)
    for seed in (5,):
        (tmp_path / "grid" / "D" / f"hard_seed{seed}.json").unlink()
    assert "| too few seeds | " in write_report(grid, "cmd")[0].read_text()


def test_runs_csv_latex_table_and_ranks(tmp_path):
    grid = _small_grid(tmp_path, ("D", "E"))
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": -0.03})
    _write_runs(tmp_path, {"base": 0.01, "hard": 0.0, "pick": 0.02}, "E")
    paths = {p.name: p for p in write_report(grid, "cmd")}
    rows = list(csv.reader(paths["runs.csv"].open()))
    assert rows[0] == ["dataset", "cell", "seed", "split", "fold",
                       "accuracy", "C"]
    # 2 datasets x 3 cells x 3 seeds x 2 splits x 2 folds
    assert len(rows) - 1 == 72
    assert rows[1][:5] == ["D", "base", "0", "0", "0"]
    assert [r[3:5] for r in rows[1:5]] == [["0", "0"], ["0", "1"],
                                           ["1", "0"], ["1", "1"]]
    assert [r[6] for r in rows[1:5]] == ["1.0", "10.0", "1.0", "10.0"]
    tex = paths["table.tex"].read_text()
    assert tex.startswith("\\begin{tabular}{lrrr}\n\\toprule")
    # D: hard best (72.10); E: pick best (72.10)
    assert "D & 70.10 $\\pm$ 0.10 & \\textbf{72.10 $\\pm$ 0.10} & " \
        "67.10 $\\pm$ 0.10 \\\\" in tex
    assert "E & 71.10 $\\pm$ 0.10 & 70.10 $\\pm$ 0.10 & " \
        "\\textbf{72.10 $\\pm$ 0.10} \\\\" in tex
    # ranks: D hard 1, base 2, pick 3; E pick 1, base 2, hard 3
    text = paths["RESULTS.md"].read_text()
    assert "| base | 2.00 |" in text and "| hard | 2.00 |" in text
    assert "| pick | 2.00 |" in text
    assert {"ranks.png", "ranks.svg", "ranks.pdf"} <= set(paths)


def test_one_seed_has_a_mean_and_no_spread(tmp_path):
    grid = _small_grid(tmp_path)
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": -0.03},
                seeds=1)
    paths = {p.name: p for p in write_report(grid, "cmd")}
    assert "| D | 70.00 (n=1) | 72.00 (n=1) | 67.00 (n=1) |" in paths[
        "RESULTS.md"].read_text()
    assert ["D", "base", "1", "70.000", ""] in list(
        csv.reader(paths["results.csv"].open()))
    assert "D & 70.00 (1) & \\textbf{72.00} (1) & 67.00 (1) \\\\" in \
        paths["table.tex"].read_text()


def test_average_ranks_and_the_critical_difference_by_hand(tmp_path,
                                                          capsys):
    import pandas as pd

    from hngraph.runs.report import average_ranks, write_ranks
    table = pd.DataFrame([[80, 70, 70], [60, 65, 50], [1, 2, 3]],
                         columns=["a", "b", "c"])
    # ranks per row: (1, 2.5, 2.5), (2, 1, 3), (3, 2, 1)
    assert average_ranks(table).to_dict() == pytest.approx(
        {"a": 2.0, "b": 11 / 6, "c": 13 / 6})
    five = pd.DataFrame([[0.8 + 0.01 * i, 0.7 + 0.02 * i, 0.75]
                         for i in range(5)], columns=["a", "b", "c"])
    paths = write_ranks(tmp_path / "ranks.png", five)
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
    assert capsys.readouterr().out == ""  # autorank's own prints held back
    from autorank import autorank
    # Nemenyi: q(0.05, 3 cells) = 2.343, CD = q sqrt(k (k + 1) / (6 N))
    cd = autorank(five, force_mode="nonparametric", verbose=False).cd
    assert cd == pytest.approx(2.343 * math.sqrt(3 * 4 / 30), abs=1e-3)


def test_the_report_leaves_out_what_the_grid_would_not_keep(tmp_path):
    """A seed or a cell the grid does not have, and a run trained under
    other settings, are left out of the report and named."""
    grid = _small_grid(tmp_path)
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": 0.01})
    folder = tmp_path / "grid" / "D"
    result = json.loads((folder / "hard_seed0.json").read_text())
    (folder / "hard_seed7.json").write_text(json.dumps({**result, "seed": 7}))
    (folder / "gone_seed0.json").write_text(json.dumps({**result,
                                                        "cell": "gone"}))
    other = {**result["config"], "epochs": 300}
    (folder / "hard_seed1.json").write_text(json.dumps({
        **result, "seed": 1, "config": other, "accuracy_mean": 0.99,
        "fold_accuracies": [0.99] * len(result["fold_accuracies"])}))
    text = write_report(grid, "cmd")[0].read_text()
    assert "- seed 7 is not one of the grid's seeds: 1 file(s), " \
        "hard_seed7.json (D)" in text
    assert "- 'gone' is not a cell or selection of this grid: 1 file(s), " \
        "gone_seed0.json (D)" in text
    assert "- trained under other settings than the grid's now " \
        "(`hngraph grid run --replace-other-settings` runs it again): 1 " \
        "file(s), hard_seed1.json " \
        "(D)" in text
    assert "99.00" not in text and "| D | hard | base | +2.00 [" in text


def test_optimism_of_choosing_on_the_test_folds_by_hand(tmp_path):
    # Gains over the baseline per seed, points: b1 (+1, +3, +2), mean 2;
    # b2 (+3, +3, +3), mean 3, so the test folds choose b2; the nested
    # choice gained (+1, +2, +1). Optimism per seed: 2, 1, 2: mean 5/3,
    # sd sqrt(1/3), 95% half-width t(0.975, 2) sqrt(1/3) / sqrt 3.
    grid = _grid(tmp_path, cells={"base": {"beta": 0, "tau_plus": 0},
                                  "b1": {"beta": 1, "tau_plus": 0},
                                  "b2": {"beta": 2, "tau_plus": 0}},
                 selections={"pick": ["b1", "b2"]},
                 modes={"hard": ["b2", "b1"]})
    _write_runs(tmp_path, {"base": 0.0, "b1": [0.01, 0.03, 0.02],
                           "b2": [0.03, 0.03, 0.03],
                           "pick": [0.01, 0.02, 0.01]})
    paths = {p.name: p for p in write_report(grid, "cmd")}
    rows = list(csv.DictReader(paths["optimism.csv"].open()))
    assert len(rows) == 1  # one dataset: nothing to pool
    row = rows[0]
    assert (row["dataset"], row["mode"], row["selection"],
            row["chosen_on_test_folds"]) == ("D", "hard", "pick", "b2")
    half = 4.302653 * math.sqrt(1 / 3) / math.sqrt(3)
    assert [float(row[k]) for k in ("chosen_gain", "nested_gain", "optimism",
                                    "optimism_low", "optimism_high")] == \
        pytest.approx([3.0, 4 / 3, 5 / 3, 5 / 3 - half, 5 / 3 + half],
                      abs=1e-3)
    assert "## Chosen on the test folds (optimistic)" in paths[
        "RESULTS.md"].read_text()


def _git(folder, *args, when="2026-01-01T00:00:00+00:00"):
    import os
    import subprocess
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when,
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=folder, env=env, check=True,
                   capture_output=True)


@pytest.mark.parametrize("finished,words", [
    ("2026-01-02T00:00:00+00:00", ", before the first of the 9 result "
     "files of D finished (2026-01-02T00:00:00+00:00)."),
    ("2025-12-31T00:00:00+00:00", ", **after** the first of the 9 result "
     "files of D finished (2025-12-31T00:00:00+00:00): these results are "
     "not a preregistered test."),
])
def test_preregistration_is_checked_against_the_data(tmp_path, finished,
                                                     words):
    from hngraph.runs.robustness import preregistration_check
    (tmp_path / "PREREG.md").write_text("H1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "PREREG.md")
    _git(tmp_path, "commit", "-q", "-m", "prereg")
    grid = _small_grid(tmp_path)
    grid.preregistration = str(tmp_path / "PREREG.md")
    grid.hypotheses = {"H1": {"cell": "pick", "dataset": "D",
                              "expect": "better"}}
    runs = {"D": {c: {s: {"finished": finished} for s in range(3)}
                  for c in ("base", "hard", "pick")}}
    assert preregistration_check(grid, runs) == (
        f"`{grid.preregistration}` was committed at "
        "2026-01-01T00:00:00+00:00" + words)
    (tmp_path / "OTHER.md").write_text("not committed\n")
    grid.preregistration = str(tmp_path / "OTHER.md")
    assert "is not in a git history here" in preregistration_check(grid,
                                                                   runs)


def test_hypotheses_are_decided_by_their_rules(tmp_path):
    # The differences grow by 2 points per doubling of size (D: 100 graphs
    # to H: 1600): slope 2 / ln 2 = 2.885 per ln-unit, residuals 0 and
    # tau^2 0, so q = 0 and the floor keeps the weights' se,
    # 1 / (ln 2 sqrt 10) (variances 1); t(0.975, 3) = 3.182446.
    grid = _five_datasets(tmp_path, (0.0, 2.0, 4.0, 6.0, 8.0))
    grid.preregistration = "PREREG.md"
    grid.hypotheses = {
        "H1": {"cell": "pick", "dataset": "H", "expect": "better"},
        "H2": {"cell": "pick", "dataset": "H", "expect": "worse"},
        "H3": {"cell": "pick", "dataset": "D", "expect": "better"},
        "H4": {"cell": "pick", "datasets": list("DEFGH"), "expect": "upward"}}
    text = write_report(grid, "cmd")[0].read_text()
    assert "- **H1**, `pick` is better than its baseline on H: **confirmed**" \
        in text
    assert "- **H2**, `pick` is worse than its baseline on H: **refuted**" \
        in text
    assert "- **H3**, `pick` is better than its baseline on D: **not " \
        "confirmed**" in text
    slope, half = 2 / math.log(2), 3.182446 / (math.log(2) * math.sqrt(10))
    assert f"- **H4**, `pick`'s difference moves upward with ln(graphs) over " \
        f"5 datasets: **confirmed**: slope {slope:+.2f} [{slope - half:+.2f}, " \
        f"{slope + half:+.2f}]" in text
    rows = list(csv.DictReader((tmp_path / "grid" / "moderator.csv").open()))
    assert [r["analysis"] for r in rows] == ["all finished", "H4",
                                             "H4, without D, H"]
    assert float(rows[1]["slope"]) == pytest.approx(slope, abs=1e-3)


@pytest.mark.parametrize("entry,message", [
    ({"cell": "pick", "dataset": "D"}, "must be {cell, dataset, expect}"),
    ({"cell": "pick", "dataset": "X", "expect": "better"}, "names ['X']"),
    ({"cell": "nope", "dataset": "D", "expect": "better"},
     "cell 'nope' is not a cell or selection"),
    ({"cell": "pick", "dataset": "D", "expect": "upward"},
     "expect must be one of ('better', 'worse') with dataset"),
    ({"cell": "pick", "datasets": ["D"], "expect": "upward"},
     "datasets must list 3 or more datasets"),
])
def test_a_bad_hypothesis_is_named(tmp_path, entry, message):
    from hngraph.errors import InvalidValueError
    with pytest.raises(InvalidValueError, match=re.escape(message)):
        _grid(tmp_path, cells={"base": {"beta": 0, "tau_plus": 0},
                               "hard": {"beta": 1, "tau_plus": 0}},
              selections={"pick": ["hard"]}, preregistration="P.md",
              hypotheses={"H": entry})


def test_the_baseline_beside_its_published_and_test_selected_figures(
        tmp_path):
    grid = _small_grid(tmp_path)
    grid.published = {"Paper": {"D": 69.0}}
    grid.baseline_published = "Paper"
    grid.test_selected = str(tmp_path / "selection.csv")
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": 0.01})
    from hngraph.errors import RunFailedError
    with pytest.raises(RunFailedError, match="test_selected .* is not a "
                       "readable CSV file with the columns dataset"):
        write_report(grid, "cmd")
    (tmp_path / "selection.csv").write_text(
        "dataset,accuracy,std,n,how\nD,71.5,0.5,3,best epoch on test folds\n")
    text = write_report(grid, "cmd")[0].read_text()
    # base: 70.0, 70.1, 70.2 (all splits and first split), mean 70.10
    assert "| D | 70.10 | 70.10 | 69.00 | +1.10 | 71.50 ± 0.50 (n=3; best " \
        "epoch on test folds) |" in text


def test_grid_report_reads_and_writes_another_out_folder(tmp_path, run_cli):
    _small_grid(tmp_path)
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": 0.01})
    moved = tmp_path / "elsewhere"
    (tmp_path / "grid").rename(moved)
    done = run_cli("grid", "report", tmp_path / "grid.yaml", "--out", moved)
    assert done.returncode == 0, done.stderr
    assert (moved / "RESULTS.md").exists()
    assert "| D | hard | base | +2.00 [" in (moved / "RESULTS.md").read_text()
    assert not (tmp_path / "grid").exists()


def test_a_result_file_that_contradicts_itself_is_left_out(tmp_path):
    grid = _small_grid(tmp_path)
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": 0.01})
    folder = tmp_path / "grid" / "D"
    # a copy of hard's seed 0 under pick's name, and a mean that is not its
    # folds' mean
    (folder / "pick_seed0.json").write_text(
        (folder / "hard_seed0.json").read_text())
    result = json.loads((folder / "hard_seed1.json").read_text())
    (folder / "hard_seed1.json").write_text(json.dumps(
        {**result, "accuracy_mean": result["accuracy_mean"] + 0.05}))
    text = write_report(grid, "cmd")[0].read_text()
    assert "- its cell and seed ('hard', 0) are not its file name's: 1 " \
        "file(s), pick_seed0.json (D)" in text
    assert "- accuracy_mean 0.771000 is not the mean of its fold accuracies " \
        "(0.721000): 1 file(s), hard_seed1.json (D)" in text


def test_a_seed_copied_as_another_and_a_stale_selection_are_left_out(
        tmp_path):
    grid = _small_grid(tmp_path)
    _write_runs(tmp_path, {"base": 0.0, "hard": 0.02, "pick": 0.01})
    folder = tmp_path / "grid" / "D"
    copy = json.loads((folder / "base_seed2.json").read_text())
    (folder / "base_seed1.json").write_text(json.dumps({
        **copy, "seed": 1, "config": {**copy["config"], "seed": 1}}))
    hard = json.loads((folder / "hard_seed0.json").read_text())
    folds = hard["fold_accuracies"]
    (folder / "pick_seed0.json").write_text(json.dumps({
        **hard, "cell": "pick", "chosen": ["hard"] * len(folds)}))
    hard1 = json.loads((folder / "hard_seed1.json").read_text())
    folds = hard1["fold_accuracies"]
    moved = folds[:2] + [folds[2] + 0.01, folds[3] - 0.01]  # same mean
    (folder / "pick_seed1.json").write_text(json.dumps({
        **hard1, "cell": "pick", "fold_accuracies": moved,
        "chosen": ["hard"] * len(folds)}))
    frame, skipped = load_runs(grid)
    assert "base_seed1.json (D): the same fold accuracies as seed 2: a " \
        "copy, not a run of its own" in skipped
    assert "base_seed2.json (D): the same fold accuracies as seed 1: a " \
        "copy, not a run of its own" in skipped
    assert "pick_seed1.json (D): fold 2 is not its member 'hard''s as " \
        "that is now (a member changed after the selection ran): delete " \
        "it, and `hngraph grid run` selects again" in skipped
    kept = set(zip(frame["cell"], frame["seed"], strict=True))
    assert ("pick", 0) in kept and ("pick", 1) not in kept
    assert ("base", 1) not in kept and ("base", 0) in kept


def test_the_paired_plot_gives_each_panel_its_scale_and_a_legend(
        tmp_path, monkeypatch):
    """RESULTS.png: one panel per dataset with its own x range, the
    untrained floors hollow and last, and a legend for the colours."""
    from hngraph.runs import report as rep

    figures = []
    monkeypatch.setattr(rep, "_save", lambda fig, path: figures.append(fig)
                        or [path])

    def c(mean, verdict="inconclusive"):
        return {"mean": mean, "low": mean - 0.5, "high": mean + 0.5,
                "verdict": verdict}

    found = {"A": {"cell": c(0.2), "untrained": c(-8.0, "worse")},
             "B": {"cell": c(1.5, "better"), "untrained": c(0.1)}}
    rep.write_plot(tmp_path / "p.png", found, ["untrained", "cell"],
                   floors=frozenset({"untrained"}))
    fig = figures[0]
    a, b = [ax for ax in fig.axes if ax.get_visible()]
    assert a.get_xlim()[0] < -8 and b.get_xlim()[0] > -1  # own scales
    assert [t.get_text() for t in a.get_yticklabels()] == ["cell",
                                                           "untrained"]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "better", "worse", "neither (equivalent or inconclusive)",
        "untrained encoder"]
    hollow = [line for line in a.get_lines()
              if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and hollow[0].get_xdata()[0] == -8.0
