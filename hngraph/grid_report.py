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

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from .grid import GridConfig

#: The half-width that the paired intervals should reach, in points.
TARGET_HALF_WIDTH = 0.5


def load_runs(grid: GridConfig) -> tuple[dict, list[str]]:
    """``{dataset: {cell: {seed: result}}}`` of the finished runs, and the
    files skipped (with why)."""
    runs = defaultdict(lambda: defaultdict(dict))
    skipped = []
    for d in grid.datasets:
        for path in sorted((grid.out_path / d).glob("*_seed*.json")):
            try:
                result = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                skipped.append(f"{path.name} ({d}): not readable JSON "
                               f"({type(err).__name__})")
                continue
            if not isinstance(result, dict) or "cell" not in result \
                    or "accuracy_mean" not in result:
                skipped.append(f"{path.name} ({d}): not a grid result file")
                continue
            check_result(path, result)
            runs[d][result["cell"]][result["seed"]] = result
    return runs, skipped


def check_result(path: Path, result: dict) -> None:
    """The fields of a result file that the report reads: ``seed`` the
    integer of the file's name, accuracies in [0, 1]."""
    seed = path.stem.rsplit("_seed", 1)[1]
    if not isinstance(result.get("seed"), int) or str(result["seed"]) != seed:
        raise ValueError(f"{path}: seed must be the integer {seed} of the "
                         f"file's name, got {result.get('seed')!r}; rerun "
                         "the run or restore the file.")
    for key in ("accuracy_mean", "first_split_mean"):
        if not _fraction(value := result.get(key, 0.0)):
            raise ValueError(f"{path}: {key} must be a fraction in [0, 1], "
                             f"got {value!r}; rerun the run or restore the "
                             "file.")
    if not all(map(_fraction, values := result.get("repeat_means", []))):
        raise ValueError(f"{path}: repeat_means must hold fractions in "
                         f"[0, 1], got {values!r}.")


def _fraction(value) -> bool:
    """A number in [0, 1] (NaN is not)."""
    return isinstance(value, (int, float)) and 0 <= value <= 1


def add_pools(grid: GridConfig, runs: dict) -> None:
    """A grid's ``pools`` (``name: [cells]``) as cells of their own: per
    seed, the mean accuracy of the cells (on the seeds all of them have),
    paired with the pool of the cells' partners (``pairs``, else the
    baseline)."""
    for name, cells in grid.pools.items():
        partners = [grid.pairs.get(c, grid.baseline) for c in cells]
        grid.pairs[name] = f"{name} (partners)"
        for row in runs.values():
            for pool, members in ((name, cells), (grid.pairs[name],
                                                  partners)):
                if all(m in row for m in members):
                    seeds = set.intersection(*(set(row[m]) for m in members))
                    row[pool] = {s: {"accuracy_mean": float(np.mean(
                        [row[m][s]["accuracy_mean"] for m in members]))}
                        for s in seeds}


def paired(cell: dict, base: dict) -> dict | None:
    """The paired difference ``cell - base`` (points) over shared seeds."""
    seeds = sorted(set(cell) & set(base))
    if len(seeds) < 2:
        return None
    diff = np.array([cell[s]["accuracy_mean"] - base[s]["accuracy_mean"]
                     for s in seeds]) * 100
    n, mean, sd = len(diff), float(diff.mean()), float(diff.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))
    p = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    verdict = ("better" if mean - half > 0 else "worse" if mean + half < 0
               else "no detectable difference")
    return {"n": n, "mean": mean, "sd": sd, "low": mean - half,
            "high": mean + half, "half": half, "p": p, "verdict": verdict,
            "seeds_needed": seeds_needed(sd)}


def seeds_needed(sd: float) -> int:
    r"""The fewest seeds :math:`n \ge 2` whose t interval has a half-width
    of at most :data:`TARGET_HALF_WIDTH` at this standard deviation of
    differences: from the normal approximation
    :math:`n_0 = \lceil (1.96\, s / h)^2 \rceil`, which is never above the
    answer, up to the first :math:`n` that reaches it (a few steps)."""
    if not math.isfinite(sd) or sd < 0:
        raise ValueError(f"sd must be a finite number >= 0, got {sd!r}.")
    n = max(2, math.ceil((stats.norm.ppf(0.975) * sd / TARGET_HALF_WIDTH)
                         ** 2))
    while stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) > TARGET_HALF_WIDTH:
        n += 1
    return n


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
    accs = np.array([r[key] for r in runs.values()]) * 100
    return {"n": len(accs), "mean": float(accs.mean()),
            "std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0}


def best_by_mean(row: dict, names: list[str]) -> str | None:
    """The paper's criterion: the cell with the best mean accuracy (a choice
    made on the test folds)."""
    found = [n for n in names if n in row]
    return max(found, key=lambda n: cell_summary(row[n])["mean"]) \
        if found else None


def fmt_pair(c: dict) -> str:
    return (f"{c['mean']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}], "
            f"p={c['p']:.3f}, n={c['n']}")


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
            cells.append(f"{c['mean']:.2f} ± {c['std']:.2f}" + (
                "" if c["n"] == len(grid.seeds) else f" (n={c['n']})"))
            rows.append([d, n, c["n"], f"{c['mean']:.3f}", f"{c['std']:.3f}"])
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


def _pairs(grid: GridConfig, runs: dict, datasets: list[str]):
    """Every cell's paired comparison: table lines, CSV rows, and
    ``{dataset: {cell: comparison}}``."""
    lines = ["| dataset | cell | against | difference [95% CI] | verdict | "
             f"half-width | seeds for ±{TARGET_HALF_WIDTH} |",
             "|---|---|---|---|---|---|---|"]
    rows, found = [], defaultdict(dict)
    for d, n, other in _comparisons(grid, runs, datasets, _names(grid)):
        c = paired(runs[d][n], runs[d][other])
        if c is None:
            continue
        found[d][n] = c
        lines.append(f"| {d} | {n} | {other} | {fmt_pair(c)} | "
                     f"{c['verdict']} | {c['half']:.2f} | "
                     f"{c['seeds_needed']} |")
        rows.append([d, n, other, c["n"], f"{c['mean']:.3f}",
                     f"{c['low']:.3f}", f"{c['high']:.3f}",
                     f"{c['p']:.4f}", c["verdict"], c["seeds_needed"]])
    return lines, rows, found


def _verdicts(grid: GridConfig, runs: dict, datasets: list[str],
              found: dict) -> list[str]:
    """The verdict per dataset of the selections, and the paper's own
    criterion (labelled as a choice on test folds)."""
    lines = []
    if grid.selections:
        lines += ["", "## Verdict per dataset", "", "With beta chosen "
                  "without the test folds (nested selection within every "
                  "split, `hngraph.evaluation.select_results`):", ""]
        for d in datasets:
            parts = [f"`{n}` {found[d][n]['verdict']} ({fmt_pair(found[d][n])})"
                     for n in grid.selections if n in found[d]]
            if parts:
                lines.append(f"- {d}: " + "; ".join(parts))
    if grid.modes:
        lines += ["", "The paper's own criterion, **a choice made on the "
                  "test folds** (each mode's beta with the best mean "
                  "accuracy, then compared on the same folds):", ""]
        for d in datasets:
            parts = [f"{mode}: `{best}` {fmt_pair(found[d][best])}"
                     for mode, cands in grid.modes.items()
                     if (best := best_by_mean(runs[d], cands))
                     and best in found[d]]
            if parts:
                lines.append(f"- {d}: " + "; ".join(parts))
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
    for d, n, other in _comparisons(grid, runs, datasets, list(grid.cells)):
        c = decomposition(runs[d][n], runs[d][other])
        if c:
            lines.append(
                f"| {d} | {n} | {c['n']} | {c['k']} | {c['split_sd']:.2f}"
                f" | {c['training_sd']:.2f} | {c['seed_sd']:.2f} | "
                f"{c['train_s']:.0f} | {c['svm_s']:.1f} | {c['best_k']} | "
                f"{c['seeds_at_best_k']} | {c['cost_s'] / 3600:.1f} |")
    return lines


def _provenance(grid: GridConfig, runs: dict, datasets: list[str]
                ) -> list[str]:
    lines = ["", "## Runs", ""]
    names = set(grid.cells) | set(grid.selections)
    for d in datasets:
        results = [r for name, cell in runs[d].items() if name in names
                   for r in cell.values()]
        repeats = sorted({r.get("repeats", 1) for r in results})
        lines.append(
            f"- {d}: {len(results)} result files, repeats {repeats}, "
            f"{sum(r['wall_time_s'] for r in results) / 3600:.2f} h of "
            "wall time; " + ", ".join(sorted({_machine(r) for r in results}))
            + "; commits " + ", ".join(sorted({r["commit"][:10]
                                               for r in results})))
    return lines


def _machine(result: dict) -> str:
    m = result["machine"]
    return f"{m['device']} on {m['host']} ({m['cpu_count']} cores)"


def report(grid: GridConfig, runs: dict, skipped: list[str], command: str
           ) -> tuple[str, list, list, dict]:
    """The report's Markdown, the cells' and the pairs' CSV rows, and the
    comparisons to plot."""
    datasets = [d for d in grid.datasets if grid.baseline in runs.get(d, {})]
    names = _names(grid)
    done = [d for d in datasets if all(
        len(runs[d].get(n, {})) == len(grid.seeds) for n in names)]
    missing = [d for d in grid.datasets if d not in done]
    table, rows = _table(grid, runs, datasets, "accuracy_mean", True)
    first, _ = _table(grid, runs, datasets, "first_split_mean", True)
    pair_lines, pair_rows, found = _pairs(grid, runs, datasets)
    lines = [
        f"# {grid.title}", "", f"Generated by `{command}` from the run "
        "files in this folder (`hngraph grid run` writes them, skipping "
        "finished runs). Protocol of docs/method.md: the embeddings after "
        "the last epoch (no epoch chosen), RBF SVM, stratified 10-fold "
        "cross-validation with C chosen by an inner 5-fold search on the "
        "training part, repeated over K outer splits (K per dataset in the "
        "grid's config); mean ± std (over seeds) of the mean accuracy over "
        "all folds of all splits, in %.", "", grid.columns, "",
        f"Datasets with every cell at {len(grid.seeds)} seeds: "
        f"{', '.join(done) or 'none'}." + (
            f" Not finished: {', '.join(missing)} (cells with fewer seeds "
            "are shown with their n)." if missing else ""), "", *table, "",
        "### The first split alone", "", "The same runs scored on their "
        "first outer split only (a single 10-fold cross-validation, the "
        "figure comparable with published tables):", "", *first, "",
        f"## Paired differences against `{grid.baseline}`"
        + (", or the cell named in the table" if grid.pairs else ""), "",
        "Points of accuracy, cell minus baseline, over the seeds both have: "
        "mean [95% CI], Wilcoxon signed-rank p, seeds. Target half-width: "
        f"{TARGET_HALF_WIDTH} points; `seeds for ±{TARGET_HALF_WIDTH}` is "
        "how many seeds the interval would need at the observed spread.", "",
        *pair_lines, *_verdicts(grid, runs, datasets, found),
        *_decomposition(grid, runs, datasets),
        *_provenance(grid, runs, datasets)]
    if skipped:
        lines += ["", "Skipped files (not read): " + "; ".join(skipped)]
    lines += ["", f"![paired differences]({grid.report}.png)", ""]
    return "\n".join(lines), rows, pair_rows, found


def write_plot(path: Path, found: dict, order: list[str]) -> None:
    """One row per dataset: each cell's paired difference and its interval
    (the untrained floor among them)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(found)
    fig, axes = plt.subplots(len(datasets), 1, squeeze=False,
                             figsize=(7, 0.32 * len(order) * len(datasets)
                                      + 0.6 * len(datasets)))
    for ax, d in zip(axes[:, 0], datasets, strict=True):
        names = [n for n in order if n in found[d]]
        for n in names:
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
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(grid: GridConfig, command: str) -> list[Path]:
    """Write the report's files into the grid's ``out``; returns them."""
    runs, skipped = load_runs(grid)
    add_pools(grid, runs)
    if not any(grid.baseline in r for r in runs.values()):
        raise RuntimeError(f"no finished {grid.baseline!r} runs under "
                           f"{grid.out_path}; run `hngraph grid run` first.")
    text, rows, pair_rows, found = report(grid, runs, skipped, command)
    out, stem = grid.out_path, grid.report
    stems = ("results", "paired") if stem == "RESULTS" else (
        stem, f"{stem}_paired")
    paths = [out / f"{stem}.md", out / f"{stems[0]}.csv",
             out / f"{stems[1]}.csv", out / f"{stem}.png"]
    paths[0].write_text(text)
    for path, header, body in (
            (paths[1], ["dataset", "cell", "seeds", "mean_acc_pct",
                        "std_acc_pct"], rows),
            (paths[2], ["dataset", "cell", "against", "seeds",
                        "mean_diff_pts", "ci_low", "ci_high", "wilcoxon_p",
                        "verdict", "seeds_for_target"], pair_rows)):
        with path.open("w", newline="") as f:
            csv.writer(f).writerows([header, *body])
    names = _names(grid)
    write_plot(paths[3], found, [n for n in names if any(
        n in row for row in found.values())])
    return paths
