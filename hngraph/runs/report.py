r"""The paired report of a grid (``hngraph grid report CONFIG``).

Every cell is paired seed by seed with the grid's ``baseline`` (or the cell
its ``pairs`` names): the runs of one seed share the initial weights, the
batches and the outer splits, so the per-seed difference of their mean
accuracies removes what the two runs share. Over the seeds both have, the
mean difference :math:`\bar d` (points) gets Student's t interval
:math:`\bar d \pm t_{0.975, n-1}\, s_d / \sqrt n` and the Wilcoxon
signed-rank test. A cell is *better* when the interval lies above 0,
*worse* when below, and otherwise shows *no detectable difference*.

With repeated cross-validation (``repeats`` K > 1) the variance of a seed's
difference splits into a training part and a split part:
:math:`\mathrm{Var}(\bar d_s) = \sigma_t^2 + \sigma_s^2 / K`, with
:math:`\sigma_s^2` the mean over seeds of the variance of the difference
across the K splits, and :math:`\sigma_t^2` the rest of the variance of the
seed means (see ``docs/method.md``).

Writes ``<report>.md``, ``<report>.csv`` (one row per cell),
``<report>_paired.csv`` (``results.csv`` and ``paired.csv`` for the default
``RESULTS``) and ``<report>.png`` into the grid's ``out`` folder. Result
files that cannot be read, or that are not a grid's, are skipped and named
in the report; a result file with an impossible value stops the report
with the file's name.
"""
from __future__ import annotations

import copy
import csv
import io
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import RunFailedError
from ..results import ResultFileError, atomic_write_text, read_result
from .comparison import (
    MARGINS,
    TARGET_HALF_WIDTH,
    datasets_needed,
    format_bound,
    holm,
    paired,
    pool,
    seeds_for_pooled,
    seeds_needed,
    verdict,
)
from .grid import GridConfig, Run, current, origin


def load_runs(grid: GridConfig) -> tuple[pd.DataFrame, list[str]]:
    """The finished runs, one row per result file (``dataset``, ``cell``,
    ``seed``, ``accuracy_mean``, ``first_split_mean``, ``commit`` and the
    whole ``result``), and the files skipped (with why)."""
    rows, skipped = [], []
    for d in grid.datasets:
        for path in sorted((grid.out_path / d).glob("*_seed*.json")):
            try:
                result = read_result(path)
            except ResultFileError as err:
                if err.readable:
                    raise
                skipped.append(f"{path.name} ({d}): {err.why}")
                continue
            if "cell" not in result:
                skipped.append(f"{path.name} ({d}): not a grid result file")
                continue
            why = _left_out(grid, d, result)
            if why:
                skipped.append(f"{path.name} ({d}): {why}")
                continue
            rows.append({"dataset": d, "cell": result["cell"],
                         "seed": result["seed"],
                         "accuracy_mean": result["accuracy_mean"],
                         "first_split_mean": result.get("first_split_mean"),
                         "commit": result.get("commit"), "result": result})
    return pd.DataFrame(rows, columns=list(_FRAME)), skipped


def _left_out(grid: GridConfig, dataset: str, result: dict) -> str | None:
    """Why a grid's result file does not belong in its report now, if it
    does not: a cell or seed the grid does not have, or a run trained under
    other settings than the grid asks for (the runner would run it again)."""
    cell, seed = result["cell"], result["seed"]
    if cell not in grid.cells and cell not in grid.selections:
        return f"{cell!r} is not a cell or selection of this grid"
    if seed not in grid.seeds:
        return f"seed {seed} is not one of the grid's seeds"
    if cell in grid.cells and not current(grid, Run(dataset, cell, seed),
                                          result.get("config")):
        return ("trained under other settings than the grid's now "
                "(`hngraph grid run` runs it again)")
    return None


_FRAME = ("dataset", "cell", "seed", "accuracy_mean", "first_split_mean",
          "commit", "result")


def nested(frame: pd.DataFrame) -> dict:
    """``{dataset: {cell: {seed: result}}}`` of a :func:`load_runs` frame."""
    runs = defaultdict(lambda: defaultdict(dict))
    for d, c, s, r in frame[["dataset", "cell", "seed", "result"]] \
            .itertuples(index=False):
        runs[d][c][s] = r
    return runs


def fold_rows(frame: pd.DataFrame) -> list[list]:
    """One row per (dataset, cell, seed, split, fold): its test accuracy and
    the C chosen for it (``runs.csv``)."""
    rows = []
    for d, c, s, r in frame[["dataset", "cell", "seed", "result"]] \
            .itertuples(index=False):
        folds = r.get("config", {}).get("folds", 10)
        for i, (acc, C) in enumerate(zip(r.get("fold_accuracies", []),
                                         r.get("best_C", []), strict=False)):
            rows.append([d, c, s, i // folds, i % folds, acc, C])
    return rows


def add_pools(grid: GridConfig, runs: dict) -> GridConfig:
    """A grid's ``pools`` (``name: [cells]``) as cells of their own in
    ``runs``: per seed, the mean accuracy of the cells (on the seeds all of
    them have), paired with the pool of the cells' partners (``pairs``, else
    the baseline). Returns a copy of ``grid`` whose ``pairs`` pair each pool
    with its partners' pool; ``grid`` itself is left as it is."""
    grid = copy.copy(grid)
    grid.pairs = dict(grid.pairs)
    for name, cells in grid.pools.items():
        partners = [grid.pairs.get(c, grid.baseline) for c in cells]
        grid.pairs[name] = f"{name} (partners)"
        for row in runs.values():
            for target, members in ((name, cells), (grid.pairs[name],
                                                    partners)):
                if all(m in row for m in members):
                    seeds = set.intersection(*(set(row[m]) for m in members))
                    row[target] = {s: {"accuracy_mean": float(np.mean(
                        [row[m][s]["accuracy_mean"] for m in members]))}
                        for s in seeds}
    return grid


def decomposition(cell: dict, base: dict) -> dict | None:
    """The split and training parts of a paired difference's variance, from
    each seed's per-split means (``repeat_means``), in points; ``None``
    without 2 seeds of K >= 2 shared splits. Also the cost of a seed, train
    and per-split SVM seconds (medians over both cells' runs)."""
    seeds = sorted(s for s in set(cell) & set(base)
                   if len(cell[s].get("repeat_means", [])) >= 2
                   and len(cell[s]["repeat_means"])
                   == len(base[s].get("repeat_means", [])))
    if len(seeds) < 2:
        return None
    d = np.array([np.subtract(cell[s]["repeat_means"],
                              base[s]["repeat_means"]) for s in seeds]) * 100
    k = d.shape[1]
    split = float(d.var(axis=1, ddof=1).mean())
    seed_means = float(d.mean(axis=1).var(ddof=1))
    training = max(seed_means - split / k, 0.0)
    runs = [r[s] for r in (cell, base) for s in seeds]
    train_s = float(np.median([r["train_time_s"] for r in runs]))
    svm_s = float(np.median([r["svm_time_s"] for r in runs])) / k
    return {"n": len(seeds), "k": k, "split_sd": math.sqrt(split),
            "training_sd": math.sqrt(training),
            "seed_sd": math.sqrt(seed_means), "train_s": train_s,
            "svm_s": svm_s, **plan_repeats(math.sqrt(training),
                                           math.sqrt(split), train_s, svm_s)}


def plan_repeats(training_sd: float, split_sd: float, train_s: float,
                 svm_s: float, most: int = 10) -> dict:
    r"""The splits K (1 to ``most``) that reach the target half-width at the
    least compute, seeds times :math:`(T + K S)` with
    :math:`T` = ``train_s``, :math:`S` = ``svm_s`` and a seed's sd
    :math:`\sqrt{\sigma_t^2 + \sigma_s^2 / K}`; with the seeds that K needs
    and their hours."""
    best = None
    for k in range(1, most + 1):
        n = seeds_needed(math.sqrt(training_sd ** 2 + split_sd ** 2 / k))
        cost = n * (train_s + k * svm_s)
        if best is None or cost < best["cost_s"]:
            best = {"best_k": k, "seeds_at_best_k": n, "cost_s": cost}
    return best


def cell_summary(runs: dict, key: str = "accuracy_mean") -> dict:
    """The seeds' ``n``, mean and std (``None`` for one seed) of ``key``,
    in %."""
    accs = np.array([r[key] for r in runs.values()]) * 100
    return {"n": len(accs), "mean": float(accs.mean()),
            "std": float(accs.std(ddof=1)) if len(accs) > 1 else None}


def fmt_mean_std(c: dict, pm: str = "±") -> str:
    """A :func:`cell_summary` as ``mean ± std``; the mean alone for one
    seed, whose spread is unknown."""
    return f"{c['mean']:.2f}" + (
        "" if c["std"] is None else f" {pm} {c['std']:.2f}")


def best_by_mean(row: dict, names: list[str]) -> str | None:
    """The paper's criterion: the cell with the best mean accuracy (a choice
    made on the test folds)."""
    found = [n for n in names if n in row]
    return max(found, key=lambda n: cell_summary(row[n])["mean"]) \
        if found else None


#: The fewest seeds at which a Wilcoxon p-value is printed: below 6, even
#: differences all of one sign cannot reach p < 0.05 (2 / 2^5 = 0.0625).
WILCOXON_MIN_N = 6


def fmt_pair(c: dict) -> str:
    return (f"{c['mean']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}], "
            f"n={c['n']}")


def fmt_wilcoxon(c: dict) -> str:
    return f"{c['p']:.3f}" if c["n"] >= WILCOXON_MIN_N else "too few seeds"


def _names(grid: GridConfig) -> list[str]:
    return list(grid.cells) + list(grid.selections) + list(grid.pools)


def _table(grid: GridConfig, runs: dict, datasets: list[str], key: str,
           published: bool) -> tuple[list[str], list]:
    """Mean ± std over seeds of each cell's ``key``, one row per dataset."""
    names = _names(grid)
    pub = grid.published if published else {}
    header = ["dataset"] + names + [f"{k} (published)" for k in pub]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = []
    for d in datasets:
        cells = []
        for n in names:
            found = {s: r for s, r in runs[d].get(n, {}).items() if key in r}
            if not found:
                cells.append("")
                continue
            c = cell_summary(found, key)
            cells.append(fmt_mean_std(c) + (
                "" if c["n"] == len(grid.seeds) else f" (n={c['n']})"))
            rows.append([d, n, c["n"], f"{c['mean']:.3f}",
                         "" if c["std"] is None else f"{c['std']:.3f}"])
        cells += [f"{v[d]:.2f}" if d in v else "" for v in pub.values()]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    return lines, rows


def _comparisons(grid: GridConfig, runs: dict, datasets: list[str],
                 names: list[str]):
    """``(dataset, cell, the cell it is paired with)`` for every cell of
    ``names`` that has runs and a partner with runs; a cell that is only
    some other cell's partner is not compared itself."""
    partners = set(grid.pairs.values()) | {grid.baseline}
    for d in datasets:
        for n in names:
            other = grid.pairs.get(n, grid.baseline)
            if (n in partners and n not in grid.pairs) or n not in runs[d] \
                    or other not in runs[d]:
                continue
            yield d, n, other


def status(grid: GridConfig, runs: dict) -> dict:
    """Per dataset with runs, ``None`` when it is finished (every cell and
    selection at every seed of the grid, all from one clean commit),
    otherwise why it is not."""
    names = list(grid.cells) + list(grid.selections)
    out = {}
    for d, row in runs.items():
        results = [r for n in names for r in row.get(n, {}).values()]
        short = [n for n in names if len(row.get(n, {})) < len(grid.seeds)]
        commits = {origin(r) for r in results}
        if short:
            out[d] = (f"{len(short)} of {len(names)} cells below "
                      f"{len(grid.seeds)} seeds")
        elif len(commits) > 1:
            out[d] = f"results from {len(commits)} commits"
        elif not commits.pop().clean:
            out[d] = "results from a commit with uncommitted changes"
        else:
            out[d] = None
    return out


def finished_datasets(grid: GridConfig, finished: dict) -> list[str]:
    """The datasets a :func:`status` says are finished, in the grid's
    order."""
    return [d for d in grid.datasets if finished.get(d, "") is None]


def _pairs(grid: GridConfig, runs: dict, datasets: list[str],
           finished: dict):
    """Every cell's paired comparison: table lines, CSV rows, and
    ``{dataset: {cell: comparison}}``. Each comparison's ``verdict``: the
    selections' (primary) from their intervals; the other cells'
    (secondary) with Holm's correction of their t tests across the cells and
    finished datasets; none for an unfinished dataset."""
    found = defaultdict(dict)
    for d, n, other in _comparisons(grid, runs, datasets, _names(grid)):
        c = paired(runs[d][n], runs[d][other])
        if c is not None:
            found[d][n] = {**c, "against": other,
                           "primary": n in grid.selections}
    secondary = [c for d in found for c in found[d].values()
                 if not c["primary"] and finished[d] is None]
    for c, p in zip(secondary, holm([c["p_t"] for c in secondary]),
                    strict=True):
        c["p_holm"] = p
    for d in found:
        for c in found[d].values():
            c["verdict"] = (f"unfinished ({finished[d]})" if finished[d]
                            else verdict(c["low"], c["high"], c["bound"],
                                         c.get("p_holm", 0.0) < 0.05))
    lines = ["| dataset | cell | against | difference [95% CI] | "
             "equivalence bound | t-test p (Holm) | Wilcoxon p | verdict | "
             f"seeds for ±{TARGET_HALF_WIDTH} |", "|---" * 9 + "|"]
    rows = []
    for d in found:
        for n, c in found[d].items():
            holm_p = (" (primary)" if c["primary"] else
                      f" ({c['p_holm']:.3f})" if "p_holm" in c else "")
            lines.append(f"| {d} | {n} | {c['against']} | {fmt_pair(c)} | "
                         f"{format_bound(c['bound'])} | {c['p_t']:.3f}{holm_p} | "
                         f"{fmt_wilcoxon(c)} | {c['verdict']} | "
                         f"{c['seeds_needed']} |")
            rows.append([d, n, c["against"], c["n"], f"{c['mean']:.3f}",
                         f"{c['low']:.3f}", f"{c['high']:.3f}",
                         f"{c['bound']:.3f}", f"{c['p_t']:.4f}",
                         f"{c['p_holm']:.4f}" if "p_holm" in c else "",
                         f"{c['p']:.4f}", c["verdict"], c["seeds_needed"]])
    return lines, rows, found


def pooled(grid: GridConfig, found: dict, finished: dict) -> dict:
    """``{cell: pooled comparison}`` over the finished datasets that compare
    it (:func:`hngraph.runs.comparison.pool`, at least 2); each also records
    its ``datasets``, ``against`` and the per-dataset ``sds``."""
    out = {}
    for n in _names(grid):
        cs = {d: found[d][n] for d in found
              if n in found[d] and finished[d] is None}
        p = pool([c["mean"] for c in cs.values()],
                 [c["sd"] ** 2 / c["n"] for c in cs.values()])
        if p is not None:
            out[n] = {**p, "datasets": list(cs), "sds": [
                c["sd"] for c in cs.values()], "against": next(
                iter(cs.values()))["against"], "primary": n in grid.selections}
            if p["k"] >= 2 and out[n]["primary"]:
                out[n]["verdict"] = verdict(p["low"], p["high"], p["bound"])
    return out


def _pooled_lines(grid: GridConfig, pools: dict) -> tuple[list[str], list]:
    lines = ["", "## Pooled over the finished datasets", "",
             "Random effects (Paule-Mandel tau², Hartung-Knapp 95% interval; "
             "docs/method.md, \"Stating the verdict\"), points. The "
             "prediction interval is where a new dataset's difference would "
             "fall; the equivalence bound is the largest difference left in "
             "the 90% interval. Verdicts are given for the primary "
             "comparisons (the selections) only.", "",
             "| cell | against | datasets | estimate [95% CI] | tau² | I² | "
             "prediction interval | equivalence bound | verdict |",
             "|---" * 9 + "|"]
    rows = []
    for n, p in pools.items():
        pi = ("" if math.isnan(p["pi_low"]) else
              f"[{p['pi_low']:+.2f}, {p['pi_high']:+.2f}]")
        lines.append(f"| {n} | {p['against']} | {p['k']} | "
                     f"{p['estimate']:+.2f} [{p['low']:+.2f}, "
                     f"{p['high']:+.2f}] | {p['tau2']:.2f} | "
                     f"{100 * p['i2']:.0f}% | {pi} | {format_bound(p['bound'])} | "
                     f"{p.get('verdict', 'secondary')} |")
        rows.append([n, p["against"], " ".join(p["datasets"]),
                     f"{p['estimate']:.3f}", f"{p['low']:.3f}",
                     f"{p['high']:.3f}", f"{p['tau2']:.4f}",
                     f"{100 * p['i2']:.1f}", *("" if math.isnan(v) else
                                               f"{v:.3f}" for v in (
                         p["pi_low"], p["pi_high"])), f"{p['bound']:.3f}"])
    return lines, rows


def _answer(grid: GridConfig, pools: dict, finished: dict) -> list[str]:
    """The report's opening paragraph, from the pooled primary comparisons
    and the state of every dataset."""
    done = finished_datasets(grid, finished)
    open_ = [f"{d} ({finished[d]})" if d in finished else f"{d} (not run)"
             for d in grid.datasets if d not in done]
    text = []
    primary = {n: p for n, p in pools.items() if p["primary"]}
    if not primary:
        text.append(f"No answer yet: fewer than 2 datasets are finished "
                    f"({', '.join(done) or 'none'}), every cell at "
                    f"{len(grid.seeds)} seeds from one clean commit.")
    for n, p in primary.items():
        tau = math.sqrt(p["tau2"])
        text.append(
            f"**`{n}` against `{p['against']}`, pooled over "
            f"{p['k']} datasets ({', '.join(p['datasets'])}): "
            f"{p['estimate']:+.2f} points [{p['low']:+.2f}, "
            f"{p['high']:+.2f}], {p['verdict']}** (equivalence bound "
            f"{format_bound(p['bound'])}; tau {tau:.2f}, I² {100 * p['i2']:.0f}%).")
        if p["half"] > TARGET_HALF_WIDTH:
            seeds = seeds_for_pooled(p["tau2"], p["sds"])
            more = datasets_needed(p["tau2"], float(np.mean(
                np.square(p["sds"]) / len(grid.seeds))))
            text.append(
                f"Its half-width, {p['half']:.2f}, is above the target "
                f"{TARGET_HALF_WIDTH}: at tau {tau:.2f}, "
                + (f"{seeds} seeds per dataset on these datasets"
                   if seeds else "no number of seeds on these datasets "
                   "(the spread between them alone is too wide)")
                + " or " + (f"{more} datasets at {len(grid.seeds)} seeds"
                            if more else "more than 1000 datasets")
                + " would reach it.")
    if open_:
        text.append("Not finished, so without a verdict: "
                    + ", ".join(open_) + ".")
    return [" ".join(text)]


def answer(grid: GridConfig) -> str:
    """The report's opening paragraph (the pooled primary comparisons in
    words, and what is unfinished), from the grid's result files."""
    runs = nested(load_runs(grid)[0])
    grid = add_pools(grid, runs)
    finished = status(grid, runs)
    datasets = [d for d in grid.datasets if grid.baseline in runs.get(d, {})]
    found = _pairs(grid, runs, datasets, finished)[2]
    return _answer(grid, pooled(grid, found, finished), finished)[0]


def _floors(grid: GridConfig, runs: dict, datasets: list[str],
            finished: dict) -> list[str]:
    """Cells that differ from another cell in their initialisation only:
    both floors (or both trained cells) per dataset, and their paired
    difference."""
    def settings(n):
        return {k: v for k, v in grid.train_config(
            grid.datasets[0], n, grid.seeds[0]).to_dict().items()
            if k != "init"}
    pairs = [(a, b) for a in grid.cells for b in grid.cells
             if grid.cells[a].get("init", "xavier") == "default"
             and grid.cells[b].get("init", "xavier") == "xavier"
             and settings(a) == settings(b)]
    lines = []
    for a, b in pairs:
        lines += ["", f"## The initialisation: `{a}` against `{b}`", "",
                  f"The same settings but the initialisation: `{b}` starts "
                  "from Xavier-uniform weights (the InfoGraph and GraphCL "
                  f"codes), `{a}` from each layer's own (PyTorch's and "
                  "PyG's defaults). Mean accuracy over all splits, and the "
                  "first split alone (the figure of published tables), %; "
                  "the difference in points.", "",
                  f"| dataset | `{b}` | `{a}` | `{b}` first split | `{a}` "
                  "first split | difference [95% CI] | verdict |",
                  "|---" * 7 + "|"]
        for d in datasets:
            if a not in runs[d] or b not in runs[d]:
                continue
            c = paired(runs[d][a], runs[d][b])
            if c is None:
                continue
            words = (f"unfinished ({finished[d]})" if finished[d] else
                     verdict(c["low"], c["high"], c["bound"]))
            means = [cell_summary(runs[d][n], key)["mean"]
                     for key in ("accuracy_mean", "first_split_mean")
                     for n in (b, a)]
            lines.append(f"| {d} | " + " | ".join(f"{m:.2f}" for m in means)
                         + f" | {fmt_pair(c)} | {words} |")
    return lines


def _decomposition(grid: GridConfig, runs: dict, datasets: list[str]
                   ) -> list[str]:
    """The variance decomposition of every cell's paired difference."""
    lines = ["", "## Where the noise comes from", "", "Per cell against its "
             "baseline, over the seeds with K repeated splits: the std of "
             "the difference across splits of one seed (split), the std "
             "left to training once the split's share of a seed's mean is "
             "removed (training), and the std of the seed means. The last "
             "columns choose K and the seeds for a ±"
             f"{TARGET_HALF_WIDTH}-point interval at the least compute, from "
             "the measured training and per-split SVM seconds (the "
             "grid's config states the K it uses and why).", "",
             "| dataset | cell | seeds | K | split sd | training sd | seed "
             "sd | train s | SVM s per split | best K | seeds at best K | "
             "hours at best K |", "|---" * 12 + "|"]
    rows = [f"| {d} | {n} | {c['n']} | {c['k']} | {c['split_sd']:.2f}"
            f" | {c['training_sd']:.2f} | {c['seed_sd']:.2f} | "
            f"{c['train_s']:.0f} | {c['svm_s']:.1f} | {c['best_k']} | "
            f"{c['seeds_at_best_k']} | {c['cost_s'] / 3600:.1f} |"
            for d, n, other in _comparisons(grid, runs, datasets,
                                            list(grid.cells))
            if (c := decomposition(runs[d][n], runs[d][other]))]
    return lines + rows if rows else []  # no splits to decompose: no section


def mean_table(grid: GridConfig, runs: dict, datasets: list[str]
               ) -> pd.DataFrame:
    """Mean accuracy (%) over seeds, datasets by cells and selections."""
    names = list(grid.cells) + list(grid.selections)
    return pd.DataFrame(
        [[cell_summary(runs[d][n])["mean"] if runs[d].get(n) else np.nan
          for n in names] for d in datasets], index=datasets, columns=names)


def average_ranks(table: pd.DataFrame) -> pd.Series:
    """Each column's rank within each row (1 = the best accuracy, ties
    share the mean of their ranks), averaged over the rows; best first."""
    return table.rank(axis=1, ascending=False).mean().sort_values()


#: autorank's tests need this many datasets.
RANK_MIN_DATASETS = 5


def _ranks(grid: GridConfig, runs: dict, finished: dict
           ) -> tuple[list[str], pd.DataFrame]:
    """The average ranks over the finished datasets, and their table."""
    done = finished_datasets(grid, finished)
    table = mean_table(grid, runs, done).dropna(axis=1)
    if table.empty:
        return [], table
    ranks = average_ranks(table)
    lines = ["", "## Average ranks over the finished datasets", "",
             f"Each cell's rank by mean accuracy within each of the {len(done)}"
             f" finished datasets ({', '.join(done)}; 1 = best), averaged. "
             + (f"The Friedman test and the critical-difference diagram "
                f"(`ranks.png`, autorank) need {RANK_MIN_DATASETS} datasets "
                "or more." if len(done) < RANK_MIN_DATASETS else
                "The critical-difference diagram is `ranks.png` (autorank: "
                "Friedman test, then Nemenyi's critical difference)."), "",
             "| cell | average rank |", "|---|---|",
             *(f"| {n} | {r:.2f} |" for n, r in ranks.items())]
    return lines, table


def write_ranks(path: Path, table: pd.DataFrame) -> list[Path]:
    """The critical-difference diagram of ``table`` (datasets by cells,
    accuracy) by autorank, from :data:`RANK_MIN_DATASETS` datasets; else a
    plot of the average ranks alone. Nothing without a finished dataset."""
    if table.empty:
        return []
    plt = _pyplot()
    if len(table) >= RANK_MIN_DATASETS:
        from autorank import autorank, plot_stats

        result = autorank(table, alpha=0.05, verbose=False,
                          force_mode="nonparametric")
        fig = plot_stats(result, allow_insignificant=True).figure
    else:
        ranks = average_ranks(table)
        fig, ax = plt.subplots(figsize=(6, 0.35 * len(ranks) + 1.5))
        ax.plot(ranks.values, range(len(ranks)), "o", color="k")
        ax.set_yticks(range(len(ranks)), ranks.index)
        ax.set_ylim(len(ranks) - 0.5, -0.5)
        ax.set_xlabel(f"average rank over {len(table)} datasets (1 = best; "
                      f"no critical difference below {RANK_MIN_DATASETS})")
        fig.tight_layout()
    paths = _save(fig, path)
    plt.close(fig)
    return paths


def latex_table(grid: GridConfig, runs: dict, datasets: list[str]) -> str:
    """The main table as LaTeX (booktabs): mean ± std (%) per dataset and
    cell, the best mean of each dataset in bold, ``(n)`` after a cell with
    fewer seeds than the grid's."""
    def tex(text):
        for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"),
                     ("&", r"\&"), ("#", r"\#")):
            text = text.replace(a, b)
        return text
    table = mean_table(grid, runs, datasets)
    lines = [r"\begin{tabular}{l" + "r" * len(table.columns) + "}",
             r"\toprule",
             "Dataset & " + " & ".join(tex(n) for n in table.columns)
             + r" \\", r"\midrule"]
    for d in datasets:
        best = table.loc[d].max()
        cells = []
        for n in table.columns:
            if not runs[d].get(n):
                cells.append("--")
                continue
            c = cell_summary(runs[d][n])
            text = fmt_mean_std(c, r"$\pm$")
            if c["mean"] == best:
                text = rf"\textbf{{{text}}}"
            if c["n"] < len(grid.seeds):
                text += f" ({c['n']})"
            cells.append(text)
        lines.append(f"{tex(d)} & " + " & ".join(cells) + r" \\")
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}", ""])


def _paper_criterion(grid: GridConfig, runs: dict, datasets: list[str],
                     found: dict) -> list[str]:
    """The paper's own criterion, labelled as a choice on test folds."""
    if not grid.modes:
        return []
    lines = ["", "## The paper's criterion, a choice on the test folds", "",
             "Each mode's beta with the best mean accuracy, **chosen on the "
             "test folds**, then compared on the same folds (optimistic by "
             "construction; for comparison with published tables only):",
             ""]
    for d in datasets:
        parts = [f"{mode}: `{best}` {fmt_pair(found[d][best])}"
                 for mode, cands in grid.modes.items()
                 if (best := best_by_mean(runs[d], cands))
                 and best in found[d]]
        if parts:
            lines.append(f"- {d}: " + "; ".join(parts))
    return lines


def _provenance(grid: GridConfig, runs: dict, datasets: list[str]
                ) -> list[str]:
    lines = ["", "## Runs", "", "Per dataset: the result files, their "
             "repeats, wall time and machines, and the full commit of the "
             "code that ran them (one per dataset when it is finished; "
             "**dirty** marks uncommitted changes, which no commit can "
             "rebuild).", ""]
    names = set(grid.cells) | set(grid.selections)
    for d in datasets:
        results = [r for name, cell in runs[d].items() if name in names
                   for r in cell.values()]
        repeats = sorted({r.get("repeats", 1) for r in results})
        commits = defaultdict(int)
        for r in results:
            commits[origin(r)] += 1
        lines.append(
            f"- {d}: {len(results)} result files, repeats {repeats}, "
            f"{sum(r['wall_time_s'] for r in results) / 3600:.2f} h of "
            "wall time; " + ", ".join(sorted({_machine(r) for r in results}))
            + "; commits " + ", ".join(
                f"`{o.commit}`" + (" **dirty**" if o.diff else "")
                + f" ({k} files)" for o, k in sorted(commits.items(),
                                     key=lambda x: x[0].label)))
    return lines


def _left_out_lines(skipped: list[str]) -> list[str]:
    """The skipped files, one line per reason (at most 5 files named)."""
    reasons = defaultdict(list)
    for entry in skipped:
        name, why = entry.split(": ", 1)
        reasons[why].append(name)
    return [f"- {why}: {len(names)} file(s), "
            + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            for why, names in reasons.items()]


def _machine(result: dict) -> str:
    m = result["machine"]
    return f"{m['device']} on {m['host']} ({m['cpu_count']} cores)"


def report(grid: GridConfig, runs: dict, skipped: list[str], command: str
           ) -> tuple[str, list, list, dict, dict, list, pd.DataFrame]:
    """The report's Markdown, the cells' and the pairs' CSV rows, the
    comparisons to plot, the pooled comparisons and their CSV rows, and
    the finished datasets' mean accuracies (for the ranks)."""
    datasets = [d for d in grid.datasets if grid.baseline in runs.get(d, {})]
    finished = status(grid, runs)
    table, rows = _table(grid, runs, datasets, "accuracy_mean", True)
    first, _ = _table(grid, runs, datasets, "first_split_mean", True)
    pair_lines, pair_rows, found = _pairs(grid, runs, datasets, finished)
    pools = pooled(grid, found, finished)
    pool_lines, pool_rows = _pooled_lines(grid, pools)
    rank_lines, rank_table = _ranks(grid, runs, finished)
    stem = "forest" if grid.report == "RESULTS" else f"{grid.report}_forest"
    lines = [
        f"# {grid.title}", "", *_answer(grid, pools, finished), "",
        f"![forest plot]({stem}.png)", "", f"Generated by `{command}` from "
        "the run files in this folder (`hngraph grid run` writes them, "
        "skipping finished runs). Protocol of docs/method.md: the embeddings "
        "after the last epoch (no epoch chosen), RBF SVM, stratified 10-fold "
        "cross-validation with C chosen by an inner 5-fold search on the "
        "training part, repeated over K outer splits (K per dataset in the "
        "grid's config); mean ± std (over seeds) of the mean accuracy over "
        "all folds of all splits, in %. A dataset is finished when every "
        f"cell has its {len(grid.seeds)} seeds, all from one clean commit; "
        "only finished datasets get a verdict or enter the pooled "
        "estimate. `table.tex` is this table in LaTeX (booktabs), "
        "`runs.csv` every fold of every run.", "", grid.columns, "", *table,
        *(["", "### The first split alone", "", "The same runs scored on "
           "their first outer split only (a single 10-fold cross-validation, "
           "the figure comparable with published tables):", "", *first]
          if any(r.get("repeats", 1) > 1 for d in datasets
                 for cell in runs[d].values() for r in cell.values())
          else []), "",
        f"## Paired differences against `{grid.baseline}`"
        + (", or the cell named in the table" if grid.pairs else ""), "",
        "Points of accuracy, cell minus baseline, over the seeds both have: "
        "mean [95% CI]; the equivalence bound (the largest difference left "
        "in the 90% interval: TOST at level 0.05 declares equivalence "
        "within ±m exactly when it is below m); the paired t test's p, "
        "Holm-adjusted across the secondary cells and finished datasets "
        "(the selections are the primary comparisons, fixed before the "
        "data); the Wilcoxon signed-rank p from "
        f"{WILCOXON_MIN_N} seeds on. Verdicts: better or worse when the "
        "95% interval excludes 0 (and, for a secondary cell, the Holm p is "
        "below 0.05), else equivalent within ±"
        + " or ±".join(f"{m:g}" for m in MARGINS) + ", else inconclusive. "
        f"`seeds for ±{TARGET_HALF_WIDTH}`: the seeds a ±"
        f"{TARGET_HALF_WIDTH} interval would need at the observed spread.",
        "", *pair_lines, *pool_lines, *rank_lines,
        *_floors(grid, runs, datasets, finished),
        *_paper_criterion(grid, runs, datasets, found),
        *_decomposition(grid, runs, datasets),
        *_provenance(grid, runs, datasets)]
    if skipped:
        lines += ["", "## Files left out", "", *_left_out_lines(skipped)]
    lines += ["", f"![paired differences]({grid.report}.png)", ""]
    return ("\n".join(lines), rows, pair_rows, found, pools, pool_rows,
            rank_table)


#: The formats every figure is written in.
FIGURE_FORMATS = ("png", "svg", "pdf")


#: Per format, the metadata that would make the same figure differ from one
#: report to the next: left out, so an unchanged report rewrites the same
#: bytes (and a results commit changes only the figures whose data changed).
_NO_DATE = {"png": None, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


def _save(fig, path: Path) -> list[Path]:
    """Write ``fig`` as ``path`` with each of :data:`FIGURE_FORMATS`, the
    same bytes for the same figure."""
    import matplotlib
    paths = [path.with_suffix(f".{ext}") for ext in FIGURE_FORMATS]
    # a fixed salt for the ids an SVG's clip paths are named by
    with matplotlib.rc_context({"svg.hashsalt": "hngraph"}):
        for p in paths:
            fig.savefig(p, dpi=110, metadata=_NO_DATE[p.suffix[1:]])
    return paths


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def write_plot(path: Path, found: dict, order: list[str]) -> list[Path]:
    """One panel per dataset, on one x-axis: each cell's paired difference
    and its 95% interval (the untrained floor among them)."""
    plt = _pyplot()
    datasets = list(found)
    fig, axes = plt.subplots(len(datasets), 1, squeeze=False, sharex=True,
                             figsize=(7, 0.32 * len(order) * len(datasets)
                                      + 0.6 * len(datasets)))
    for ax, d in zip(axes[:, 0], datasets, strict=True):
        for n in [n for n in order if n in found[d]]:
            x = found[d][n]
            colour = {"better": "tab:green", "worse": "tab:red"}.get(
                x["verdict"], "tab:grey")
            ax.errorbar(x["mean"], order.index(n), fmt="o", color=colour,
                        capsize=3, xerr=[[x["mean"] - x["low"]],
                                         [x["high"] - x["mean"]]])
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(order)), order)
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_title(d, fontsize=10)
    axes[-1, 0].set_xlabel("paired difference against the baseline "
                           "(accuracy points, 95% CI)")
    fig.tight_layout()
    paths = _save(fig, path)
    plt.close(fig)
    return paths


def write_forest(path: Path, grid: GridConfig, found: dict, pools: dict,
                 finished: dict) -> list[Path]:
    """A forest plot per primary comparison (the selections): each
    dataset's 95% interval (grey when unfinished), the pooled estimate as a
    diamond with its prediction interval, and the equivalence margins."""
    plt = _pyplot()
    cells = list(grid.selections) or [n for n in _names(grid) if any(
        n in row for row in found.values())][:1]
    fig, axes = plt.subplots(1, len(cells), squeeze=False, sharex=True,
                             figsize=(6.5 * len(cells),
                                      1.2 + 0.4 * (len(grid.datasets) + 2)))
    for ax, n in zip(axes[0], cells, strict=True):
        rows = [d for d in grid.datasets if n in found.get(d, {})]
        for i, d in enumerate(rows):
            c = found[d][n]
            ax.errorbar(c["mean"], i, xerr=[[c["mean"] - c["low"]],
                                            [c["high"] - c["mean"]]],
                        fmt="s", capsize=3, color="k" if finished[d] is None
                        else "0.65")
        labels = [d if finished[d] is None else f"{d} (unfinished)"
                  for d in rows]
        p = pools.get(n)
        if p is not None:
            y = len(rows) + 0.5
            ax.fill([p["low"], p["estimate"], p["high"], p["estimate"]],
                    [y, y - 0.3, y, y + 0.3], color="tab:blue")
            if not math.isnan(p["pi_low"]):
                ax.plot([p["pi_low"], p["pi_high"]], [y, y], color="tab:blue",
                        lw=1, ls=":")
            labels.append(f"pooled ({p['k']} datasets)")
        ticks = list(range(len(rows))) + ([len(rows) + 0.5] if p else [])
        for m, shade in zip(sorted(MARGINS, reverse=True), ("0.93", "0.82"),
                            strict=True):  # the narrower margin on top
            ax.axvspan(-m, m, color=shade, zorder=0)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(ticks, labels)
        ax.set_ylim(max(ticks, default=0) + 0.8, -0.8)
        ax.set_title(f"{n} against {grid.pairs.get(n, grid.baseline)}",
                     fontsize=10)
        ax.set_xlabel("difference, accuracy points (95% CI)\nshaded: ±"
                      + " and ±".join(f"{m:g}" for m in MARGINS)
                      + "; dotted: prediction interval")
    fig.tight_layout()
    paths = _save(fig, path)
    plt.close(fig)
    return paths


def write_report(grid: GridConfig, command: str) -> list[Path]:
    """Write the report's files into the grid's ``out``; returns them."""
    frame, skipped = load_runs(grid)
    runs = nested(frame)
    grid = add_pools(grid, runs)
    if not any(grid.baseline in r for r in runs.values()):
        raise RunFailedError(f"no finished {grid.baseline!r} runs under "
                             f"{grid.out_path}; run `hngraph grid run` "
                             "first.")
    text, rows, pair_rows, found, pools, pool_rows, rank_table = report(
        grid, runs, skipped, command)
    out, stem = grid.out_path, grid.report
    names = ("results", "paired", "pooled", "forest", "runs", "table",
             "ranks")
    stems = dict(zip(names, names if stem == "RESULTS" else (
        f"{stem}_{n}" for n in names), strict=True))
    paths = [out / f"{stem}.md", *(out / f"{stems[n]}.csv" for n in (
        "results", "paired", "pooled", "runs")), out / f"{stems['table']}.tex"]
    atomic_write_text(paths[0], text)
    for path, header, body in (
            (paths[1], ["dataset", "cell", "seeds", "mean_acc_pct",
                        "std_acc_pct"], rows),
            (paths[2], ["dataset", "cell", "against", "seeds",
                        "mean_diff_pts", "ci_low", "ci_high",
                        "equivalence_bound", "t_p", "holm_p", "wilcoxon_p",
                        "verdict", "seeds_for_target"], pair_rows),
            (paths[3], ["cell", "against", "datasets", "estimate", "ci_low",
                        "ci_high", "tau2", "i2", "pi_low", "pi_high",
                        "equivalence_bound"], pool_rows),
            (paths[4], ["dataset", "cell", "seed", "split", "fold",
                        "accuracy", "C"], fold_rows(frame))):
        table = io.StringIO(newline="")
        csv.writer(table).writerows([header, *body])
        atomic_write_text(path, table.getvalue())
    datasets = [d for d in grid.datasets if grid.baseline in runs.get(d, {})]
    atomic_write_text(paths[5], latex_table(grid, runs, datasets))
    order = [n for n in _names(grid) if any(n in row for row in found.values())]
    if not order:  # no cell has a partner with runs: nothing to plot
        return paths
    paths += write_plot(out / f"{stem}.png", found, order)
    paths += write_forest(out / f"{stems['forest']}.png", grid, found, pools,
                          status(grid, runs))
    paths += write_ranks(out / f"{stems['ranks']}.png", rank_table)
    return paths


#: The public names (the API reference lists these).
__all__ = ["write_report", "load_runs", "nested", "answer", "status", "pooled",
           "fold_rows", "mean_table", "average_ranks", "latex_table",
           "write_forest", "write_ranks", "write_plot"]
