"""Paired verdict of a grid: every cell against the baseline, seed by seed.

    python benchmarks/verdict.py [--config configs/verdict.yaml]

Reads the run files that ``paper_table.py`` writes for the grid of
``--config`` (``<out>/<DATASET>/<objective>_seed<k>.json``) and writes
``RESULTS.md``, ``results.csv`` (one row per cell), ``paired.csv`` (one row
per comparison) and ``differences.png`` into the grid's ``out`` folder (a
grid's ``published`` (``label: {dataset: accuracy}``) adds reference
columns of published figures; its ``report`` key names other files, ``<report>.md``, ``<report>.csv``,
``<report>_paired.csv`` and ``<report>.png``, for a diagnostic grid that
shares the folder). A grid's ``pools`` average cells seed by seed (see
:func:`add_pools`). A grid's ``pairs`` (``cell: its baseline``) pair a cell
with another cell than ``baseline``.

Each comparison pairs the runs of a cell and of the baseline that share a
seed, hence the same initial weights and the same outer folds: the
difference of their mean fold accuracies, in points, over those seeds. Its
95% confidence interval is Student's t interval of the mean difference; the
paired test is the Wilcoxon signed-rank test. A cell is *better* when the
interval lies above 0, *worse* when it lies below, and otherwise shows *no
detectable difference*.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "verdict.yaml"
#: The half-width that the paired intervals should reach, in points.
TARGET_HALF_WIDTH = 0.5


def load_runs(out: Path, datasets: list[str]) -> dict:
    """``{dataset: {objective: {seed: result}}}`` of the finished runs."""
    runs = defaultdict(lambda: defaultdict(dict))
    for d in datasets:
        for path in sorted((out / d).glob("*_seed*.json")):
            result = json.loads(path.read_text())
            if "accuracy_mean" in result:
                runs[d][result["objective_name"]][result["seed"]] = result
    return runs


def add_pools(grid: dict, runs: dict) -> None:
    """A grid's ``pools`` (``name: [cells]``) as cells of their own: per
    seed, the mean accuracy of the cells (on the seeds all of them have),
    paired with the pool of the cells' partners (``pairs``, else the
    baseline)."""
    pairs = grid.setdefault("pairs", {})
    for name, cells in grid.get("pools", {}).items():
        partners = [pairs.get(c, grid["baseline"]) for c in cells]
        pairs[name] = f"{name} (partners)"
        for row in runs.values():
            for pool, members in ((name, cells),
                                  (pairs[name], partners)):
                if all(m in row for m in members):
                    seeds = set.intersection(*(set(row[m]) for m in members))
                    row[pool] = {s: {"accuracy_mean": float(np.mean(
                        [row[m][s]["accuracy_mean"] for m in members]))}
                        for s in seeds}
        grid["objectives"] = {**grid["objectives"], name: {}}


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
    """The fewest seeds whose t interval has a half-width of at most
    :data:`TARGET_HALF_WIDTH` at this standard deviation of differences."""
    n = 2
    while stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) > TARGET_HALF_WIDTH:
        n += 1
    return n


def cell_summary(runs: dict) -> dict:
    accs = np.array([r["accuracy_mean"] for r in runs.values()]) * 100
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


def report(grid: dict, runs: dict) -> tuple[str, list, list]:
    base = grid["baseline"]
    pairs = grid.get("pairs", {})
    names = list(grid["objectives"]) + list(grid.get("selections", {}))
    datasets = [d for d in grid["datasets"] if base in runs.get(d, {})]
    seeds = grid["seeds"]
    modes = grid.get("modes", {})
    lines = [f"# {grid['title']}", "",
             "Generated by `python benchmarks/verdict.py --config "
             f"{grid['config_path']}` from the run files in this folder "
             "(`python benchmarks/paper_table.py --config "
             f"{grid['config_path']}` writes them, skipping finished runs). "
             "Protocol of docs/method.md: the embeddings after the last "
             "epoch (no epoch chosen), RBF SVM, 10-fold stratified CV with C "
             "chosen by an inner 5-fold search on the training part; mean ± "
             "std (over seeds) of the mean fold accuracy, in %.", "",
             grid["columns"], ""]
    done = [d for d in datasets
            if all(len(runs[d].get(n, {})) == len(seeds) for n in names)]
    missing = [d for d in grid["datasets"] if d not in done]
    lines += [f"Datasets with every cell at {len(seeds)} seeds: "
              f"{', '.join(done) or 'none'}."
              + (f" Not finished: {', '.join(missing)} (cells with fewer "
                 "seeds are shown with their n)." if missing else ""), ""]
    published = grid.get("published", {})
    header = ["dataset"] + names + [f"{k} (published)" for k in published]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    csv_rows = []
    for d in datasets:
        cells = []
        for n in names:
            if n not in runs[d]:
                cells.append("")
                continue
            s = cell_summary(runs[d][n])
            cells.append(f"{s['mean']:.2f} ± {s['std']:.2f}"
                         + ("" if s["n"] == len(seeds) else f" (n={s['n']})"))
            csv_rows.append([d, n, s["n"], f"{s['mean']:.3f}",
                             f"{s['std']:.3f}"])
        cells += [f"{v[d]:.2f}" if d in v else "" for v in published.values()]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")

    against = f"`{base}`" + (", or the cell named in the table" if pairs
                             else "")
    lines += ["", f"## Paired differences against {against}", "",
              "Points of accuracy, cell minus baseline, over the seeds both "
              "have: mean [95% CI], Wilcoxon signed-rank p, seeds. "
              f"Target half-width: {TARGET_HALF_WIDTH} points; `seeds for "
              f"±{TARGET_HALF_WIDTH}` is how many seeds the interval would "
              "need at the observed spread.", "",
              "| dataset | cell | against | difference [95% CI] | verdict | "
              f"half-width | seeds for ±{TARGET_HALF_WIDTH} |",
              "|---|---|---|---|---|---|---|"]
    pair_rows, plot = [], defaultdict(dict)
    for d in datasets:
        for n in names:
            other = pairs.get(n, base)
            if n in (base, *pairs.values()) and n not in pairs \
                    or n not in runs[d] or other not in runs[d]:
                continue
            c = paired(runs[d][n], runs[d][other])
            if c is None:
                continue
            plot[d][n] = c
            lines.append(f"| {d} | {n} | {other} | {fmt_pair(c)} | "
                         f"{c['verdict']} | {c['half']:.2f} | "
                         f"{c['seeds_needed']} |")
            pair_rows.append([d, n, other, c["n"], f"{c['mean']:.3f}",
                              f"{c['low']:.3f}", f"{c['high']:.3f}",
                              f"{c['p']:.4f}", c["verdict"],
                              c["seeds_needed"]])

    if grid.get("selections"):
        lines += ["", "## Verdict per dataset", "",
                  "With beta chosen without the test folds (nested "
                  "selection, `hngraph.evaluation.select_embeddings`):", ""]
    for d in datasets:
        parts = [f"`{n}` {plot[d][n]['verdict']} ({fmt_pair(plot[d][n])})"
                 for n in grid.get("selections", {}) if n in plot[d]]
        if parts:
            lines.append(f"- {d}: " + "; ".join(parts))
    if modes:
        lines += ["", "The paper's own criterion, **a choice made on the "
                  "test folds** (each mode's beta with the best mean "
                  "accuracy, then compared on the same folds):", ""]
        for d in datasets:
            parts = []
            for mode, cands in modes.items():
                best = best_by_mean(runs[d], cands)
                if best and best in plot[d]:
                    parts.append(f"{mode}: `{best}` {fmt_pair(plot[d][best])}")
            if parts:
                lines.append(f"- {d}: " + "; ".join(parts))

    lines += ["", "## Runs", ""]
    for d in datasets:
        results = [r for cell in runs[d].values() for r in cell.values()
                   if "commit" in r]  # not the pools' seed means
        lines.append(
            f"- {d}: {len(results)} result files in this folder (any grid "
            "that writes here), "
            f"{sum(r['wall_time_s'] for r in results) / 60:.0f} min; "
            + ", ".join(sorted({_machine(r) for r in results})) + "; commits "
            + ", ".join(sorted({r["commit"][:10] for r in results})))
    lines += ["", f"![paired differences]({grid['report']}.png)", ""]
    return "\n".join(lines), csv_rows, (pair_rows, plot)


def _machine(result: dict) -> str:
    m = result["machine"]
    return f"{m['device']} on {m['host']} ({m['cpu_count']} cores)"


def write_plot(path: Path, plot: dict, order: list[str]) -> None:
    """One row per dataset: each cell's paired difference and its interval."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(plot)
    fig, axes = plt.subplots(len(datasets), 1, squeeze=False,
                             figsize=(7, 0.32 * len(order) * len(datasets)
                                      + 0.6 * len(datasets)))
    for ax, d in zip(axes[:, 0], datasets, strict=True):
        names = [n for n in order if n in plot[d]]
        y = [order.index(n) for n in names]  # rows line up across datasets
        c = [plot[d][n] for n in names]
        colour = ["tab:green" if x["verdict"] == "better" else "tab:red"
                  if x["verdict"] == "worse" else "tab:grey" for x in c]
        for row, x, col in zip(y, c, colour, strict=True):
            ax.errorbar(x["mean"], row, fmt="o", color=col, capsize=3,
                        xerr=[[x["mean"] - x["low"]], [x["high"] - x["mean"]]])
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(order)), order)
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_title(d, fontsize=10)
    axes[-1, 0].set_xlabel("paired difference against the baseline "
                           "(accuracy points, 95% CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    args = p.parse_args(argv)
    grid = yaml.safe_load(Path(args.config).read_text())
    grid["config_path"] = str(Path(args.config).resolve().relative_to(ROOT)) \
        if Path(args.config).resolve().is_relative_to(ROOT) else args.config
    out = ROOT / grid["out"] if not Path(grid["out"]).is_absolute() \
        else Path(grid["out"])
    runs = load_runs(out, grid["datasets"])
    add_pools(grid, runs)
    if not any(grid["baseline"] in r for r in runs.values()):
        raise SystemExit(f"no finished {grid['baseline']} runs under {out}; "
                         "run benchmarks/paper_table.py first.")
    name = grid.setdefault("report", "RESULTS")
    text, rows, (pair_rows, plot) = report(grid, runs)
    (out / f"{name}.md").write_text(text)
    table = "results" if name == "RESULTS" else name
    paired_csv = "paired" if name == "RESULTS" else f"{name}_paired"
    with (out / f"{table}.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "objective", "seeds", "mean_acc_pct",
                    "std_acc_pct"])
        w.writerows(rows)
    with (out / f"{paired_csv}.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "objective", "against", "seeds",
                    "mean_diff_pts",
                    "ci_low", "ci_high", "wilcoxon_p", "verdict",
                    "seeds_for_target"])
        w.writerows(pair_rows)
    names = list(grid["objectives"]) + list(grid.get("selections", {}))
    write_plot(out / f"{name}.png", plot,
               [n for n in names if any(n in row for row in plot.values())])
    print(f"wrote {out / name}.md, {table}.csv, {paired_csv}.csv, "
          f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
