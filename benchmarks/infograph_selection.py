"""Diagnostic: our InfoGraph baseline under InfoGraph's own selection.

The published InfoGraph figures come from its training script, selected
afterwards: for each configuration (GIN layers, learning rate, 20 or 100
epochs), the mean over runs of each run's accuracy at its best logged epoch
(epoch 0, the untrained encoder, included), and then the best
configuration. **Every one of these choices is made on the test folds.**
The figure says whether our baseline can reach the published one under that
selection; it never replaces the main protocol (``configs/verdict.yaml``).

    hngraph grid run configs/infograph_selection.yaml   # the runs
    python benchmarks/infograph_selection.py            # SELECTION.md, selection.csv

(from the repository's root, as its paths are relative to it).

The runs are the grid's (``hngraph grid run``): each trained cell logs the
accuracy after the epochs its config lists, and the untrained cell of the
same layers gives epoch 0 (the same initial weights for the same seed). A
20-epoch configuration is the first 20 epochs of a 100-epoch run. The report
also holds the epoch diagnostic of ``benchmarks/results/epochs/``
(``bash benchmarks/train_runs.sh epochs``): InfoGraph at 200 epochs scored
at intermediate epochs.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from hngraph.results import read_result
from hngraph.runs.grid import GridConfig

#: The epoch budgets of InfoGraph's selection.
BUDGETS = (20, 100)


def accuracies(grid: GridConfig) -> dict:
    """``{dataset: {(layers, lr): [{epoch: accuracy %}, one per seed]}}``
    from the grid's result files, epoch 0 from the untrained cell of the
    same layers and seed."""
    trained, untrained = defaultdict(dict), {}
    for path in sorted(grid.out_path.glob("*/*_seed*.json")):
        r = read_result(path)
        c = r["config"]
        if c["epochs"] == 0:
            untrained[c["dataset"], c["layers"], r["seed"]] = \
                100 * r["accuracy_mean"]
            continue
        by_epoch = {int(e): 100 * h["accuracy_mean"]
                    for e, h in r["eval_history"].items()}
        trained[c["dataset"]].setdefault((c["layers"], c["lr"]), {})[
            r["seed"]] = by_epoch
    out = {}
    for dataset, configs in trained.items():
        out[dataset] = {}
        for (layers, lr), seeds in configs.items():
            runs = []
            for seed, by_epoch in sorted(seeds.items()):
                start = untrained.get((dataset, layers, seed))
                runs.append(by_epoch if start is None
                            else {0: start, **by_epoch})
            out[dataset][layers, lr] = runs
    return out


def selection(runs: list[dict]) -> dict:
    """``{budget: (mean, std, n)}``: over the runs, each run's best accuracy
    at a logged epoch up to the budget (std over runs, ddof 1)."""
    out = {}
    for budget in BUDGETS:
        best = [max(a for e, a in run.items() if e <= budget)
                for run in runs]
        out[budget] = (float(np.mean(best)),
                       float(np.std(best, ddof=1)) if len(best) > 1
                       else float("nan"), len(best))
    return out


def epoch_runs(folder: Path) -> dict:
    """``{dataset: (epochs, table)}`` of InfoGraph (beta 0, tau+ 0) scored
    after intermediate epochs: the runs of ``hngraph train --eval-epochs
    ...`` in ``folder``, one row of accuracies (%) per seed at the epochs
    every run logged."""
    runs = defaultdict(list)
    for path in sorted(folder.glob("*_seed*.json")):
        r = read_result(path)
        if (r["config"]["beta"], r["config"]["tau_plus"]) != (0, 0):
            continue
        accs = {int(e): 100 * h["accuracy_mean"]
                for e, h in r["eval_history"].items()}
        accs[r["epoch_evaluated"]] = 100 * r["accuracy_mean"]
        runs[r["config"]["dataset"]].append(accs)
    out = {}
    for d, accs in runs.items():
        epochs = sorted(set.intersection(*(set(a) for a in accs)))
        out[d] = epochs, np.array([[a[e] for e in epochs] for a in accs])
    return out


def epoch_diagnostic(folder: Path, published: dict) -> list[str]:
    """Markdown lines on :func:`epoch_runs`: per dataset, mean ± std over
    seeds (ddof 1) at every epoch, and the mean of each seed's best epoch,
    a choice on the test folds."""
    lines = []
    for d, (epochs, table) in epoch_runs(folder).items():
        best = table.max(axis=1)
        pub = published.get(d)
        lines.append(
            f"- {d} (n={len(table)}): " + ", ".join(
                f"epoch {e} {m:.2f} ± {sd:.2f}" for e, m, sd in
                zip(epochs, table.mean(0), table.std(0, ddof=1), strict=True))
            + f"; each seed's best epoch {best.mean():.2f} ± "
            f"{best.std(ddof=1):.2f}"
            + (f" ({best.mean() - pub:+.2f} against the published "
               f"{pub:.2f})" if pub is not None else ""))
    if not lines:
        return []
    return ["## Epoch selection at 200 epochs", "",
            f"InfoGraph (beta 0, tau+ 0) trained 200 epochs and scored after "
            f"intermediate epochs (`{folder}/`, "
            "`bash benchmarks/train_runs.sh epochs`). Picking each seed's "
            "best epoch is a choice made on the test folds.", ""] + lines


def best(configs: dict) -> tuple:
    """The best configuration of one dataset's ``configs`` (of
    :func:`accuracies`), by its mean best logged epoch:
    ``((layers, lr, budget), (mean, std, n))`` and every configuration's."""
    rows = {(layers, lr, budget): s for (layers, lr), runs in
            sorted(configs.items()) for budget, s in selection(runs).items()}
    return max(rows.items(), key=lambda kv: kv[1][0]), rows


def best_rows(grid: GridConfig, epochs_dir: Path) -> list[list]:
    """``selection.csv``'s rows, one per dataset: the best configuration's
    mean, std and runs, and how it was chosen; for a dataset without
    configurations, each seed's best epoch of :func:`epoch_runs`. The grid
    report shows them beside the published figures."""
    out = {}
    for d, (epochs, table) in epoch_runs(epochs_dir).items():
        best_epoch = table.max(axis=1)
        out[d] = [d, f"{best_epoch.mean():.2f}",
                  f"{best_epoch.std(ddof=1):.2f}", len(table),
                  f"each seed's best of epochs {epochs[0]} to {epochs[-1]} "
                  "on the test folds, default configuration"]
    for d, configs in accuracies(grid).items():
        ((layers, lr, budget), (mean, std, n)), _ = best(configs)
        out[d] = [d, f"{mean:.2f}", f"{std:.2f}", n,
                  "best logged epoch and configuration on the test folds "
                  f"({layers} layers, lr {lr:g}, {budget} epochs)"]
    return list(out.values())


def report(grid: GridConfig, config: str, epochs_dir: Path) -> str:
    published = grid.published.get("InfoGraph", {})
    lines = ["# Diagnostic: InfoGraph's own selection", "",
             f"Generated by `python benchmarks/infograph_selection.py` from "
             f"the result files of `hngraph grid run {config}` beside it. "
             "**Every figure here is chosen on the test folds**, as the "
             "published InfoGraph figures are: per configuration, the mean "
             "over seeds of each run's best logged epoch (epoch 0, the "
             "untrained encoder, included where its cell ran), then the best "
             "configuration. A diagnostic of whether our InfoGraph can reach "
             "the published figure, not a result: the main protocol's "
             "figures are in `benchmarks/results/verdict/RESULTS.md`.", ""]
    for d, configs in accuracies(grid).items():
        ((layers, lr, budget), (mean, std, n)), rows = best(configs)
        pub = published.get(d)
        gap = (f"{mean - pub:+.2f} points against the published {pub:.2f}"
               if pub is not None else "no published figure")
        with_zero = all(0 in run for runs in configs.values() for run in runs)
        lines += [f"## {d}", "",
                  f"Best configuration: {layers} layers, lr {lr:g}, "
                  f"{budget} epochs: **{mean:.2f} ± {std:.2f}** (n={n}); "
                  f"{gap}. Epoch 0 is "
                  + ("included" if with_zero else "missing for some runs")
                  + ".", "",
                  "| layers | lr | epochs | best logged epoch, mean ± std | "
                  "runs |", "|---|---|---|---|---|"]
        lines += [f"| {k[0]} | {k[1]:g} | {k[2]} | {v[0]:.2f} ± {v[1]:.2f} "
                  f"| {v[2]} |" for k, v in sorted(rows.items())]
        lines.append("")
    lines += epoch_diagnostic(epochs_dir, published)
    return "\n".join(lines) + "\n"


#: The columns of ``selection.csv``, one row per dataset (:func:`best_rows`).
CSV_HEADER = ["dataset", "accuracy", "std", "n", "how"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/infograph_selection.yaml",
                   help="the selection grid's config (default: %(default)s)")
    p.add_argument("--epochs-dir", type=Path,
                   default=Path("benchmarks/results/epochs"),
                   help="the runs of the epoch diagnostic (default: "
                   "%(default)s)")
    args = p.parse_args(argv)
    grid = GridConfig.from_yaml(args.config)
    out = grid.out_path / "SELECTION.md"
    out.write_text(report(grid, args.config, args.epochs_dir))
    table = grid.out_path / "selection.csv"
    with table.open("w", newline="") as f:
        csv.writer(f).writerows([CSV_HEADER,
                                 *best_rows(grid, args.epochs_dir)])
    print(f"wrote {out} and {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
