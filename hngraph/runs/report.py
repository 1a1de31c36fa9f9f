r"""The paired report of a grid (``hngraph grid report CONFIG``).

Every cell is paired seed by seed with the grid's ``baseline`` (or the cell
its ``pairs`` names): the runs of one seed share the initial weights, the
batches and the outer splits, so the per-seed difference of their mean
accuracies removes what the two runs share. Over the seeds both have, the
mean difference :math:`\bar d` (points) gets Student's t interval
:math:`\bar d \pm t_{0.975, n-1}\, s_d / \sqrt n`, the paired t test
(Holm-adjusted within its family) and, from 6 seeds, the Wilcoxon
signed-rank test. The words (better, worse, equivalent within ±m,
inconclusive) and the pooled estimate over the finished datasets are those
of :mod:`hngraph.runs.comparison`; how far they hold is
:mod:`hngraph.runs.robustness`.

With repeated cross-validation (``repeats`` K > 1) the variance of a seed's
difference splits into a training part and a split part:
:math:`\mathrm{Var}(\bar d_s) = \sigma_t^2 + \sigma_s^2 / K`, with
:math:`\sigma_s^2` the mean over seeds of the variance of the difference
across the K splits, and :math:`\sigma_t^2` the rest of the variance of the
seed means (see ``docs/method.md``).

Writes ``<report>.md``, the CSV files of :data:`CSV_HEADERS`, ``table.tex``
and the figures into the grid's ``out`` folder (``docs/grids.md``, "The
report", lists each; a report stem other than ``RESULTS`` prefixes them).
Result files that cannot be read, or that are not a grid's, are skipped and
named in the report; a result file with an impossible value stops the
report with the file's name.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import RunFailedError, describe
from ..results import ResultFileError, atomic_write_text, read_result
from .comparison import (
    MARGINS,
    MIN_POOLED_DATASETS,
    TARGET_HALF_WIDTH,
    cell_summary,
    datasets_needed,
    format_bound,
    holm,
    paired,
    pool_comparisons,
    pooled_verdict,
    sampling_variance,
    seeds_for_pooled,
    seeds_needed,
    verdict,
)
from .grid import GridConfig, Run, current, origin
from .robustness import (
    OUTCOMES,
    decide,
    fragility,
    moderator,
    optimism,
    preregistration_check,
    sensitivity,
)


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
            why = _inconsistent(path, result) or _left_out(grid, d, result)
            if why:
                skipped.append(f"{path.name} ({d}): {why}")
                continue
            rows.append({"dataset": d, "cell": result["cell"],
                         "seed": result["seed"],
                         "accuracy_mean": result["accuracy_mean"],
                         "first_split_mean": result.get("first_split_mean"),
                         "commit": result.get("commit"), "result": result,
                         "file": path.name})
    against = _contradicted(grid, rows)
    skipped += [f"{r['file']} ({r['dataset']}): {against[i]}"
                for i, r in enumerate(rows) if i in against]
    rows = [r for i, r in enumerate(rows) if i not in against]
    return pd.DataFrame(rows, columns=list(_FRAME)), skipped


def _contradicted(grid: GridConfig, rows: list[dict]) -> dict[int, str]:
    """The rows (by index) that the others contradict, with why: two seeds
    of a cell with the same fold accuracies (a file copied as another seed;
    independent runs never agree on every fold), and a selection whose
    folds are not its chosen members' as they are now (a member changed
    after it ran)."""
    out = {}
    seen = {}
    for i, r in enumerate(rows):
        key = (r["dataset"], r["cell"],
               tuple(r["result"].get("fold_accuracies") or ()))
        if key[2] and key in seen:
            first = rows[seen[key]]
            for j, other in ((i, first), (seen[key], r)):
                out[j] = (f"the same fold accuracies as seed "
                          f"{other['seed']}: a copy, not a run of its own")
        seen.setdefault(key, i)
    by_run = {(r["dataset"], r["cell"], r["seed"]): r["result"] for r in rows}
    for i, r in enumerate(rows):
        if r["cell"] not in grid.selections or i in out:
            continue
        folds, chosen = r["result"].get("fold_accuracies"), r["result"].get(
            "chosen")
        if not folds or not chosen or len(folds) != len(chosen):
            continue
        for k, (acc, member) in enumerate(zip(folds, chosen, strict=True)):
            theirs = by_run.get((r["dataset"], member, r["seed"]), {}).get(
                "fold_accuracies") or []
            if k >= len(theirs) or theirs[k] != acc:
                out[i] = (f"fold {k} is not its member {member!r}'s as that "
                          "is now (a member changed after the selection "
                          "ran): delete it, and `hngraph grid run` selects "
                          "again")
                break
    return out


def _inconsistent(path: Path, result: dict) -> str | None:
    """Why a grid result file contradicts itself, if it does: a cell or
    seed other than its file name's (a file copied under another name), or
    an ``accuracy_mean`` that is not the mean of its ``fold_accuracies``."""
    if path.name != f"{result['cell']}_seed{result['seed']}.json":
        return (f"its cell and seed ({result['cell']!r}, {result['seed']}) "
                "are not its file name's")
    folds = result.get("fold_accuracies")
    if folds and not math.isclose(float(np.mean(folds)),
                                  result["accuracy_mean"], abs_tol=1e-9):
        return (f"accuracy_mean {result['accuracy_mean']:.6f} is not the "
                f"mean of its fold accuracies ({float(np.mean(folds)):.6f})")
    return None


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
                "(`hngraph grid run --replace-other-settings` runs it "
                "again)")
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


def fmt_mean_std(c: dict, pm: str = "±") -> str:
    """A :func:`cell_summary` as ``mean ± std``; the mean alone for one
    seed, whose spread is unknown."""
    return f"{c['mean']:.2f}" + (
        "" if c["std"] is None else f" {pm} {c['std']:.2f}")


#: The fewest seeds at which a Wilcoxon p-value is printed: below 6, even
#: differences all of one sign cannot reach p < 0.05 (2 / 2^5 = 0.0625).
WILCOXON_MIN_N = 6


def fmt_pair(c: dict) -> str:
    """A paired comparison as ``mean [low, high], n=N``."""
    return f"{_ci(c)}, n={c['n']}"


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
            c = cell_summary(found, key=key)
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
        elif not (source := commits.pop()).clean:
            out[d] = source.why_not_clean
        elif changed := _changed_plugins(results):
            out[d] = (f"the file of plugin {changed[0]} changed between its "
                      "runs (its hash differs)")
        else:
            out[d] = None
    return out


def _changed_plugins(results: list[dict]) -> list[str]:
    """The import paths of the plugins whose file hash is not one across
    ``results``: one commit of hngraph, and one version of each plugin."""
    hashes: dict[str, set] = {}
    for r in results:
        for plugin in (r.get("plugins") or {}).values():
            hashes.setdefault(plugin["import_path"], set()).add(
                plugin.get("sha256"))
    return sorted(k for k, v in hashes.items() if len(v) > 1)


def finished_datasets(grid: GridConfig, finished: dict) -> list[str]:
    """The datasets a :func:`status` says are finished, in the grid's
    order."""
    return [d for d in grid.datasets if finished.get(d, "") is None]


def _pairs(grid: GridConfig, runs: dict, datasets: list[str],
           finished: dict):
    """Every cell's paired comparison: table lines, CSV rows, and
    ``{dataset: {cell: comparison}}``. Each comparison's ``verdict`` comes
    from its interval and its t test's p with Holm's correction within its
    family: the selections' (primary) across the finished datasets, the
    other cells' (secondary) across the cells and finished datasets; none
    for an unfinished dataset."""
    found = defaultdict(dict)
    for d, n, other in _comparisons(grid, runs, datasets, _names(grid)):
        c = paired(runs[d][n], runs[d][other])
        if c is not None:
            found[d][n] = {**c, "against": other,
                           "primary": n in grid.selections}
    for primary in (True, False):
        family = [c for d in found for c in found[d].values()
                  if c["primary"] == primary and finished[d] is None]
        for c, p in zip(family, holm([c["p_t"] for c in family]),
                        strict=True):
            c["p_holm"] = p
    for d in found:
        for c in found[d].values():
            c["verdict"] = (f"unfinished ({finished[d]})" if finished[d]
                            else verdict(c["low"], c["high"], c["bound"],
                                         significant=c["p_holm"] < 0.05))
    lines = ["| dataset | cell | against | difference [95% CI] | "
             "equivalence bound | t-test p (Holm) | Wilcoxon p | verdict | "
             f"seeds for ±{TARGET_HALF_WIDTH} |", "|---" * 9 + "|"]
    rows = []
    for d in found:
        for n, c in found[d].items():
            holm_p = (f" ({c['p_holm']:.3f}"
                      + (", primary)" if c["primary"] else ")")
                      if "p_holm" in c else "")
            lines.append(f"| {d} | {n} | {c['against']} | {fmt_pair(c)} | "
                         f"{format_bound(c['bound'])} | {c['p_t']:.3f}{holm_p} | "
                         f"{fmt_wilcoxon(c)} | {c['verdict']} | "
                         f"{c['seeds_needed']} |")
            rows.append([d, n, c["against"], c["n"], f"{c['mean']:.3f}",
                         f"{c['low']:.3f}", f"{c['high']:.3f}",
                         f"{c['bound']:.3f}", f"{c['p_t']:.4f}",
                         f"{c['p_holm']:.4f}" if "p_holm" in c else "",
                         ("primary" if c["primary"] else "secondary")
                         if "p_holm" in c else "",
                         f"{c['p']:.4f}" if c["n"] >= WILCOXON_MIN_N
                         else "", c["verdict"], c["seeds_needed"]])
    return lines, rows, found


def pooled(grid: GridConfig, found: dict, finished: dict) -> dict:
    """``{cell: pooled comparison}`` over the finished datasets that compare
    it (:func:`hngraph.runs.comparison.pool_comparisons`, at least 2); each also records
    its ``datasets``, ``against`` and the per-dataset ``sds``."""
    out = {}
    for n in _names(grid):
        cs = {d: found[d][n] for d in found
              if n in found[d] and finished[d] is None}
        p = pool_comparisons(list(cs.values()))
        if p is not None:
            out[n] = {**p, "datasets": list(cs), "sds": [
                c["sd"] for c in cs.values()], "against": next(
                iter(cs.values()))["against"], "primary": n in grid.selections}
            if out[n]["primary"]:
                out[n]["verdict"] = pooled_verdict(p)
    return out


def _pooled_lines(grid: GridConfig, pools: dict) -> tuple[list[str], list]:
    lines = ["", "## Pooled over the finished datasets", "",
             "Random effects (Paule-Mandel tau², the modified Knapp-Hartung "
             "95% and 90% intervals, never narrower than the fixed-effect "
             "interval; docs/method.md, \"Stating the verdict\"), points. "
             "The prediction interval is where a new dataset's difference "
             "would fall; the equivalence bound is the largest difference "
             "left in the 90% interval. Verdicts are given for the primary "
             f"comparisons (the selections) only, from {MIN_POOLED_DATASETS} "
             "finished datasets on.", "",
             "| cell | against | datasets | estimate [95% CI] | 90% CI | "
             "tau² | I² | prediction interval | equivalence bound | verdict |",
             "|---" * 10 + "|"]
    rows = []
    for n, p in pools.items():
        pi = ("" if math.isnan(p["pi_low"]) else
              f"[{p['pi_low']:+.2f}, {p['pi_high']:+.2f}]")
        lines.append(f"| {n} | {p['against']} | {p['k']} | "
                     f"{p['estimate']:+.2f} [{p['low']:+.2f}, "
                     f"{p['high']:+.2f}] | [{p['low90']:+.2f}, "
                     f"{p['high90']:+.2f}] | {p['tau2']:.2f} | "
                     f"{100 * p['i2']:.0f}% | {pi} | {format_bound(p['bound'])} | "
                     f"{p.get('verdict', 'secondary')} |")
        rows.append([n, p["against"], " ".join(p["datasets"]),
                     f"{p['estimate']:.3f}", f"{p['low']:.3f}",
                     f"{p['high']:.3f}", f"{p['low90']:.3f}",
                     f"{p['high90']:.3f}", f"{p['tau2']:.4f}",
                     f"{100 * p['i2']:.1f}", *("" if math.isnan(v) else
                                               f"{v:.3f}" for v in (
                         p["pi_low"], p["pi_high"])), f"{p['bound']:.3f}",
                     p.get("verdict", "secondary")])
    return lines, rows


def _answer(grid: GridConfig, pools: dict, finished: dict,
            sens: list[dict]) -> list[str]:
    """The report's opening paragraph, from the pooled primary comparisons,
    their sensitivity (:func:`~hngraph.runs.robustness.sensitivity`) and
    the state of every dataset."""
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
        enough = p["k"] >= MIN_POOLED_DATASETS
        text.append(
            f"**`{n}` against `{p['against']}`, pooled over "
            f"{p['k']} datasets ({', '.join(p['datasets'])}): "
            f"{p['estimate']:+.2f} points, 95% [{p['low']:+.2f}, "
            f"{p['high']:+.2f}], 90% [{p['low90']:+.2f}, "
            f"{p['high90']:+.2f}]: {p['verdict']}"
            + (fragility(sens, n) if enough else "") + "** (the call "
            "reads the 95% interval for better or worse and the 90% one for "
            f"equivalence; equivalence bound {format_bound(p['bound'])}; "
            f"tau {tau:.2f}, I² {100 * p['i2']:.0f}%).")
        if enough and p["half"] > TARGET_HALF_WIDTH:
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
    pools = pooled(grid, found, finished)
    return _answer(grid, pools, finished, sensitivity(runs, found, pools))[0]


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
                  "the difference in points; the t test's p with Holm's "
                  "correction across the finished datasets, which the "
                  "verdict uses beside the interval.", "",
                  f"| dataset | `{b}` | `{a}` | `{b}` first split | `{a}` "
                  "first split | difference [95% CI] | t-test p (Holm) | "
                  "verdict |", "|---" * 8 + "|"]
        found = {d: c for d in datasets if a in runs[d] and b in runs[d]
                 and (c := paired(runs[d][a], runs[d][b])) is not None}
        family = [d for d in found if finished[d] is None]
        adjusted = dict(zip(family, holm([found[d]["p_t"] for d in family]),
                            strict=True))
        for d, c in found.items():
            words = (f"unfinished ({finished[d]})" if finished[d] else
                     verdict(c["low"], c["high"], c["bound"],
                             significant=adjusted[d] < 0.05))
            means = [cell_summary(runs[d][n], key=key)["mean"]
                     for key in ("accuracy_mean", "first_split_mean")
                     for n in (b, a)]
            p = f"{c['p_t']:.3f}" + (f" ({adjusted[d]:.3f})"
                                     if d in adjusted else "")
            lines.append(f"| {d} | " + " | ".join(f"{m:.2f}" for m in means)
                         + f" | {fmt_pair(c)} | {p} | {words} |")
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

        with contextlib.redirect_stdout(io.StringIO()):  # autorank prints
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


def _mid(c: dict) -> float:
    """The centre of a paired (``mean``) or pooled (``estimate``)
    comparison."""
    return c["mean"] if "mean" in c else c["estimate"]


def _ci(c: dict) -> str:
    return f"{_mid(c):+.2f} [{c['low']:+.2f}, {c['high']:+.2f}]"


def _sensitivity_lines(sens: list[dict]) -> tuple[list[str], list]:
    """The sensitivity section and ``sensitivity.csv``'s rows."""
    if not sens:
        return [], []
    lines = ["", "## How far the answer holds", "",
             "Each pooled primary comparison again, with each finished "
             "dataset left out, with DerSimonian-Laird's tau² instead of "
             "Paule-Mandel's, as a fixed effect (tau² = 0, normal interval), "
             "and on the first outer split alone (`sensitivity.csv`); the "
             "opening paragraph names every variant that changes the words.",
             "", "| cell | variant | datasets | estimate [95% CI] | 90% CI | "
             "equivalence bound | verdict |", "|---" * 7 + "|"]
    rows = []
    for r in sens:
        lines.append(f"| {r['cell']} | {r['variant']} | {r['k']} | {_ci(r)}"
                     f" | [{r['low90']:+.2f}, {r['high90']:+.2f}] | "
                     f"{format_bound(r['bound'])} | {r['verdict']} |")
        rows.append([r["cell"], r["against"], r["variant"], r["k"],
                     *(f"{r[k]:.3f}" for k in ("estimate", "low", "high",
                                               "low90", "high90", "bound")),
                     r["verdict"]])
    return lines, rows


def _optimism_lines(opt: list[dict]) -> tuple[list[str], list]:
    """The section on choosing beta on the test folds and
    ``optimism.csv``'s rows."""
    if not opt:
        return [], []
    lines = ["", "## Chosen on the test folds (optimistic)", "",
             "The published protocol keeps the fixed beta with the best mean "
             "test accuracy. Per finished dataset: that beta (**chosen on "
             "the test folds**), its paired gain over the baseline, the gain "
             "of the nested choice on the same runs (chosen without the test "
             "folds), and the optimism, their paired difference (seed by "
             "seed); then each pooled (`optimism.csv`). Points, 95% "
             "intervals.", "",
             "| dataset | mode | chosen on the test folds | its gain | nested "
             "gain | optimism |", "|---" * 6 + "|"]
    rows = []
    for r in opt:
        lines.append(f"| {r['dataset']} | {r['mode']} | "
                     f"{r['chosen'] or '(per dataset)'} | "
                     f"{_ci(r['chosen_gain'])} | {_ci(r['nested_gain'])} | "
                     f"{_ci(r['optimism'])} |")
        rows.append([r["dataset"], r["mode"], r["selection"], r["chosen"],
                     *(f"{v:.3f}" for key in ("chosen_gain", "nested_gain",
                                               "optimism")
                       for v in (_mid(r[key]), r[key]["low"],
                                 r[key]["high"]))])
    return lines, rows


def _moderator_lines(fits: list[dict], stem: str) -> tuple[list[str], list]:
    """The section on dataset size and ``moderator.csv``'s rows."""
    if not fits:
        return [], []
    lines = ["", "## Dataset size as the moderator", "",
             "A random-effects meta-regression of each primary comparison's "
             "per-dataset difference on ln(number of graphs), the one "
             "moderator fixed in advance (REML tau², modified Knapp-Hartung "
             "95% interval of the slope; `moderator.csv`). The slope is in "
             "points per unit of ln(graphs), a factor of e in size; the "
             "share of tau² explained compares the residual tau² with the "
             "model's without the moderator. With one moderator and few "
             "datasets, size cannot be told apart from whatever else sets "
             "the largest datasets apart.", "",
             f"![difference against dataset size]({stem}.png)", "",
             "| cell | analysis | datasets | slope [95% CI] | p | residual "
             "tau² | tau² without it | share explained | largest |",
             "|---" * 9 + "|"]
    rows = []
    for r in fits:
        f = r["fit"]
        big = sorted(zip(r["graphs"], r["datasets"], strict=True))[-2:]
        lines.append(f"| {r['cell']} | {r['analysis']} | {f['k']} | "
                     f"{f['slope']:+.2f} [{f['low']:+.2f}, {f['high']:+.2f}]"
                     f" | {f['p']:.3f} | {f['tau2']:.2f} | "
                     f"{f['tau2_null']:.2f} | {100 * f['r2']:.0f}% | "
                     + ", ".join(f"{d} ({g})" for g, d in big) + " |")
        rows.append([r["cell"], r["against"], r["analysis"],
                     " ".join(r["datasets"]), f["k"],
                     *(f"{f[k]:.4f}" for k in ("intercept", "slope", "se",
                                               "low", "high", "p", "tau2",
                                               "tau2_null", "r2"))])
    return lines, rows


def _hypotheses_lines(grid: GridConfig, runs: dict,
                      decisions: list[dict]) -> list[str]:
    """The preregistered tests, each with its outcome and figures."""
    if not decisions:
        return []
    lines = ["", "## The preregistered tests", "",
             f"Stated in `{grid.preregistration}` before their data, and "
             f"decided by its rules ({', '.join(OUTCOMES)}). "
             + preregistration_check(grid, runs), ""]
    for r in decisions:
        h, res = r["hypothesis"], r["result"]
        if "dataset" in h:
            claim = (f"`{h['cell']}` is {h['expect']} than its baseline on "
                     f"{h['dataset']}")
            figures = (f"{_ci(res)} points (paired 95% interval, n="
                       f"{res['n']})" if res else "")
        else:
            claim = (f"`{h['cell']}`'s difference moves {h['expect']} with "
                     f"ln(graphs) over {len(h['datasets'])} datasets")
            figures = (f"slope {res['slope']:+.2f} [{res['low']:+.2f}, "
                       f"{res['high']:+.2f}] points per ln-unit" if res
                       else "")
        outcome = (f"**{r['outcome']}**: {figures}" if r["outcome"]
                   else f"not decided yet ({r['why']})")
        lines.append(f"- **{r['name']}**, {claim}: {outcome}.")
    return lines


def _test_selected(grid: GridConfig) -> dict:
    """``{dataset: text}`` of the grid's ``test_selected`` file: the
    accuracy, its std and runs, and how it was chosen; empty without one."""
    if not grid.test_selected:
        return {}
    path = Path(grid.test_selected).expanduser()
    try:
        rows = list(csv.DictReader(path.open(newline="")))
        return {r["dataset"]: f"{float(r['accuracy']):.2f} ± "
                f"{float(r['std']):.2f} (n={r['n']}; {r['how']})"
                for r in rows}
    except (OSError, KeyError, ValueError) as err:
        raise RunFailedError(
            f"{grid.source}: test_selected {str(path)!r} is not a readable "
            "CSV file with the columns dataset, accuracy, std, n and how "
            f"({describe(err)}); run the script that writes it "
            "(python benchmarks/infograph_selection.py) or remove the key."
        ) from err


def _published_lines(grid: GridConfig, runs: dict, found: dict,
                     done: list[str]) -> list[str]:
    """Why the baseline differs from its published figures, and where an
    untrained floor (a cell of 0 epochs) matches or beats it."""
    lines = []
    pub = grid.published.get(grid.baseline_published, {})
    gaps = [(d, cell_summary(runs[d][grid.baseline])["mean"],
             cell_summary(runs[d][grid.baseline],
                          key="first_split_mean")["mean"],
             pub[d]) for d in done if d in pub]
    chosen = _test_selected(grid)
    if gaps:
        lines += ["", f"## `{grid.baseline}` against its published figures",
                  "", f"{grid.baseline_published}'s published figures are "
                  "each the best epoch and configuration chosen on the test "
                  "folds (docs/method.md, \"How far the verdict holds\"); "
                  "ours are the last epoch of fixed settings, scored "
                  "without looking at the test folds. Difference, ours "
                  "minus published, in points"
                  + (f"; and ours chosen the published way, on the test "
                     f"folds (`{grid.test_selected}`)" if chosen else "")
                  + ":", "",
                  "| dataset | ours, all splits | ours, first split | "
                  "published | difference (first split) |"
                  + (" ours, chosen on the test folds |" if chosen else ""),
                  "|---" * (6 if chosen else 5) + "|",
                  *(f"| {d} | {m:.2f} | {f:.2f} | {p:.2f} | {f - p:+.2f} |"
                    + (f" {chosen[d]} |" if d in chosen else " |" if chosen
                       else "") for d, m, f, p in gaps)]
    floors = [n for n, cell in grid.cells.items() if cell.get("epochs") == 0]
    for n in floors:
        level = [(d, found[d][n]) for d in done if n in found.get(d, {})
                 and not found[d][n]["verdict"].startswith(
                     ("worse", "inconclusive"))]
        lines += ["", f"The untrained floor `{n}` against "
                  f"`{grid.baseline}`, where it is not worse: "
                  + ("; ".join(f"{c['verdict']} on {d} ({_ci(c)})"
                               for d, c in level) if level else
                     "worse on every finished dataset")
                  + " (the paired table above; Holm-adjusted verdicts)."]
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


@dataclass(kw_only=True)
class Report:
    """A grid report's parts, what each of :data:`WRITERS` writes from: the
    grid (its pools added, :func:`add_pools`), the runs (:func:`nested`),
    the datasets with baseline runs, their :func:`status`, the Markdown
    ``text``, the rows of each CSV file (by name, as in
    :data:`CSV_HEADERS`), the comparisons (``found``: ``{dataset: {cell:
    comparison}}``), the pooled ones (``pools``), the meta-regressions
    (``fits``) and the finished datasets' mean accuracies (``ranks``)."""

    grid: GridConfig
    runs: dict
    datasets: list
    finished: dict
    text: str
    csv: dict
    found: dict
    pools: dict
    fits: list
    ranks: pd.DataFrame

    @property
    def stems(self) -> dict:
        """The file stem of each output (:func:`_stems`)."""
        return _stems(self.grid)

    @property
    def plotted(self) -> list[str]:
        """The cells that have a comparison to plot, in the grid's order."""
        return [n for n in _names(self.grid)
                if any(n in row for row in self.found.values())]


#: Each CSV file of a report: its stem and header.
CSV_HEADERS = {
    "results": ["dataset", "cell", "seeds", "mean_acc_pct", "std_acc_pct"],
    "paired": ["dataset", "cell", "against", "seeds", "mean_diff_pts",
               "ci_low", "ci_high", "equivalence_bound", "t_p", "holm_p",
               "holm_family", "wilcoxon_p", "verdict", "seeds_for_target"],
    "pooled": ["cell", "against", "datasets", "estimate", "ci_low", "ci_high",
               "ci90_low", "ci90_high", "tau2", "i2", "pi_low", "pi_high",
               "equivalence_bound", "verdict"],
    "sensitivity": ["cell", "against", "variant", "datasets", "estimate",
                    "ci_low", "ci_high", "ci90_low", "ci90_high",
                    "equivalence_bound", "verdict"],
    "optimism": ["dataset", "mode", "selection", "chosen_on_test_folds",
                 "chosen_gain", "chosen_low", "chosen_high", "nested_gain",
                 "nested_low", "nested_high", "optimism", "optimism_low",
                 "optimism_high"],
    "moderator": ["cell", "against", "analysis", "datasets", "k",
                  "intercept", "slope", "slope_se", "ci_low", "ci_high", "p",
                  "tau2_residual", "tau2_without_moderator", "r2"],
    "runs": ["dataset", "cell", "seed", "split", "fold", "accuracy", "C"],
}


def _stems(grid: GridConfig) -> dict:
    """The file stem of each output of a report: its own name for the
    default ``RESULTS``, else prefixed by the report's name."""
    files = {**{n: n for n in CSV_HEADERS}, "forest": "forest",
             "table": "table", "ranks": "ranks",
             "moderator_plot": "moderator"}
    return {k: v if grid.report == "RESULTS" else f"{grid.report}_{v}"
            for k, v in files.items()}


def report(grid: GridConfig, frame: pd.DataFrame, skipped: list[str],
           command: str) -> Report:
    """The report of the runs of ``frame`` (:func:`load_runs`), with the
    ``skipped`` files named and ``command`` as the way to make it again."""
    runs = nested(frame)
    grid = add_pools(grid, runs)
    if not any(grid.baseline in r for r in runs.values()):
        raise RunFailedError(f"no finished {grid.baseline!r} runs under "
                             f"{grid.out_path}; run `hngraph grid run` "
                             "first.")
    datasets = [d for d in grid.datasets if grid.baseline in runs.get(d, {})]
    finished = status(grid, runs)
    done = finished_datasets(grid, finished)
    table, rows = _table(grid, runs, datasets, "accuracy_mean", True)
    first, _ = _table(grid, runs, datasets, "first_split_mean", True)
    pair_lines, pair_rows, found = _pairs(grid, runs, datasets, finished)
    pools = pooled(grid, found, finished)
    pool_lines, pool_rows = _pooled_lines(grid, pools)
    sens = sensitivity(runs, found, pools)
    sens_lines, sens_rows = _sensitivity_lines(sens)
    opt_lines, opt_rows = _optimism_lines(optimism(grid, runs, found, done))
    fits = moderator(grid, found, done)
    stems = _stems(grid)
    mod_lines, mod_rows = _moderator_lines(fits, stems["moderator_plot"])
    rank_lines, rank_table = _ranks(grid, runs, finished)
    lines = [
        f"# {grid.title}", "", *_answer(grid, pools, finished, sens), "",
        f"![forest plot]({stems['forest']}.png)", "",
        *([f"![difference against dataset size]"
           f"({stems['moderator_plot']}.png)", ""] if fits else []),
        f"Generated by `{command}` from "
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
        "`runs.csv` every fold of every run; docs/grids.md lists every "
        "file of a report.", "", grid.columns, "", *table,
        *(["", "### The first split alone", "", "The same runs scored on "
           "their first outer split only (a single 10-fold cross-validation, "
           "the figure comparable with published tables):", "", *first]
          if any(r.get("repeats", 1) > 1 for d in datasets
                 for cell in runs[d].values() for r in cell.values())
          else []),
        *_published_lines(grid, runs, found, done),
        *_hypotheses_lines(grid, runs, decide(grid, found, finished, fits)),
        "", f"## Paired differences against `{grid.baseline}`"
        + (", or the cell named in the table" if grid.pairs else ""), "",
        "Points of accuracy, cell minus baseline, over the seeds both have: "
        "mean [95% CI]; the equivalence bound (the largest difference left "
        "in the 90% interval: TOST at level 0.05 declares equivalence "
        "within ±m exactly when it is below m); the paired t test's p, "
        "Holm-adjusted within its family (`holm_family` in `paired.csv`): "
        "the primary comparisons (the selections, fixed before the data) "
        "across the finished datasets, the secondary cells across cells and "
        "finished datasets; the Wilcoxon signed-rank p from "
        f"{WILCOXON_MIN_N} seeds on. Verdicts: better or worse when the "
        "95% interval excludes 0 and the Holm p is below 0.05, else "
        "equivalent within ±" + " or ±".join(f"{m:g}" for m in MARGINS)
        + ", else inconclusive. "
        f"`seeds for ±{TARGET_HALF_WIDTH}`: the seeds a ±"
        f"{TARGET_HALF_WIDTH} interval would need at the observed spread.",
        "", *pair_lines, *pool_lines, *sens_lines, *mod_lines, *opt_lines,
        *rank_lines, *_floors(grid, runs, datasets, finished),
        *_decomposition(grid, runs, datasets),
        *_provenance(grid, runs, datasets)]
    if (grid.out_path / "BAYES.md").exists():
        lines += ["", "A Bayesian cross-check of the primary comparisons "
                  "(baycomp's hierarchical model) is in [BAYES.md](BAYES.md) "
                  "(`python benchmarks/bayes_crosscheck.py CONFIG`)."]
    if skipped:
        lines += ["", "## Files left out", "", *_left_out_lines(skipped)]
    lines += ["", f"![paired differences]({grid.report}.png)", ""]
    return Report(grid=grid, runs=runs, datasets=datasets, finished=finished,
                  text="\n".join(lines), csv={
        "results": rows, "paired": pair_rows, "pooled": pool_rows,
        "sensitivity": sens_rows, "optimism": opt_rows,
        "moderator": mod_rows, "runs": fold_rows(frame)}, found=found,
        pools=pools, fits=fits, ranks=rank_table)


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


#: The colour of each verdict in the figures (any other verdict: grey).
VERDICT_COLOURS = {"better": "tab:green", "worse": "tab:red"}


def write_plot(path: Path, found: dict, order: list[str],
               *, floors: frozenset = frozenset()) -> list[Path]:
    """One panel per dataset, up to 3 a row, each with its own x-axis:
    each cell's paired difference and its 95% interval, coloured by its
    verdict (a legend says how); the untrained ``floors`` hollow, below a
    dotted line, apart from the trained cells."""
    import math

    from matplotlib.lines import Line2D

    plt = _pyplot()
    datasets = list(found)
    order = [n for n in order if n not in floors] + [
        n for n in order if n in floors]
    cols = min(3, len(datasets))
    rows = math.ceil(len(datasets) / cols)
    fig, axes = plt.subplots(rows, cols, squeeze=False, sharey=True,
                             figsize=(4.2 * cols + 1.6,
                                      (0.3 * len(order) + 0.9) * rows + 0.6))
    for ax, d in zip(list(axes.flat)[:len(datasets)], datasets, strict=True):
        for n in [n for n in order if n in found[d]]:
            x = found[d][n]
            colour = VERDICT_COLOURS.get(x["verdict"], "tab:grey")
            ax.errorbar(x["mean"], order.index(n), fmt="o", color=colour,
                        mfc="white" if n in floors else colour, capsize=3,
                        xerr=[[x["mean"] - x["low"]],
                              [x["high"] - x["mean"]]])
        ax.axvline(0, color="k", lw=0.8)
        if floors and len(floors) < len(order):
            ax.axhline(len(order) - len(floors) - 0.5, color="0.5", lw=0.8,
                       ls=":")
        ax.set_yticks(range(len(order)), order)
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_title(d, fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(datasets):]:
        ax.set_visible(False)
    handles = [Line2D([], [], marker="o", ls="", color=c, label=words)
               for words, c in (("better", VERDICT_COLOURS["better"]),
                                ("worse", VERDICT_COLOURS["worse"]),
                                ("neither (equivalent or inconclusive)",
                                 "tab:grey"))]
    if floors:
        handles.append(Line2D([], [], marker="o", ls="", color="k",
                              mfc="white", label="untrained encoder"))
    fig.supxlabel("paired difference against the baseline (accuracy "
                  "points, 95% CI); each panel its own scale", fontsize=9)
    fig.legend(handles=handles, loc="upper center", ncol=len(handles),
               fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    paths = _save(fig, path)
    plt.close(fig)
    return paths


def write_forest(path: Path, grid: GridConfig, found: dict, pools: dict,
                 finished: dict) -> list[Path]:
    """A forest plot per primary comparison (the selections): each
    dataset's 90% interval (thick) inside its 95% interval (thin; grey when
    unfinished), the pooled estimate as a diamond over its 95% interval
    with its 90% interval as a bar beside it and its prediction interval,
    and the equivalence margins."""
    plt = _pyplot()
    cells = list(grid.selections) or [n for n in _names(grid) if any(
        n in row for row in found.values())][:1]
    fig, axes = plt.subplots(1, len(cells), squeeze=False, sharex=True,
                             figsize=(6.5 * len(cells),
                                      1.8 + 0.4 * (len(grid.datasets) + 3)))
    for ax, n in zip(axes[0], cells, strict=True):
        rows = [d for d in grid.datasets if n in found.get(d, {})]
        for i, d in enumerate(rows):
            c = found[d][n]
            colour = "k" if finished[d] is None else "0.65"
            ax.plot([c["low"], c["high"]], [i, i], color=colour, lw=1)
            ax.plot([c["low90"], c["high90"]], [i, i], color=colour, lw=4,
                    solid_capstyle="butt")
            ax.plot(c["mean"], i, "s", color="w", mec=colour, ms=5)
        labels = [d if finished[d] is None else f"{d} (unfinished)"
                  for d in rows]
        p = pools.get(n)
        if p is not None:
            y = len(rows) + 0.5
            ax.fill([p["low"], p["estimate"], p["high"], p["estimate"]],
                    [y, y - 0.3, y, y + 0.3], color="tab:blue")
            ax.plot([p["low90"], p["high90"]], [y + 0.7] * 2,
                    color="tab:blue", lw=4, solid_capstyle="butt")
            if not math.isnan(p["pi_low"]):
                ax.plot([p["pi_low"], p["pi_high"]], [y, y], color="tab:blue",
                        lw=1, ls=":")
            labels += [f"pooled ({p['k']} datasets), 95%", "pooled, 90%"]
        ticks = list(range(len(rows))) + ([len(rows) + 0.5, len(rows) + 1.2]
                                          if p else [])
        for m, shade in zip(sorted(MARGINS, reverse=True), ("0.93", "0.82"),
                            strict=True):  # the narrower margin on top
            ax.axvspan(-m, m, color=shade, zorder=0)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(ticks, labels)
        ax.set_ylim(max(ticks, default=0) + 0.8, -0.8)
        ax.set_title(f"{n} against {grid.pairs.get(n, grid.baseline)}",
                     fontsize=10)
        ax.set_xlabel("difference, accuracy points\nthick: 90% interval "
                      "(equivalence); thin: 95% (better or worse)\nshaded: ±"
                      + " and ±".join(f"{m:g}" for m in MARGINS)
                      + "; dotted: prediction interval")
    fig.tight_layout()
    paths = _save(fig, path)
    plt.close(fig)
    return paths


def write_moderator(path: Path, fits: list[dict]) -> list[Path]:
    """Per primary comparison, each finished dataset's difference against
    ln(graphs), a bubble whose area follows its random-effects weight, with
    its 95% interval; the fitted line over all finished datasets with its
    95% band (the slope's modified Knapp-Hartung adjustment)."""
    plt = _pyplot()
    fits = [f for f in fits if f["analysis"] == "all finished"]
    fig, axes = plt.subplots(1, len(fits), squeeze=False, sharey=True,
                             figsize=(5.5 * len(fits), 4.2))
    for ax, r in zip(axes[0], fits, strict=True):
        f, x = r["fit"], np.log(r["graphs"])
        ys = np.array([r["found"][d]["mean"] for d in r["datasets"]])
        lows = np.array([r["found"][d]["low"] for d in r["datasets"]])
        highs = np.array([r["found"][d]["high"] for d in r["datasets"]])
        w = 1 / (np.array([sampling_variance(r["found"][d])
                           for d in r["datasets"]]) + f["tau2"])
        ax.vlines(x, lows, highs, color="0.6", lw=1)
        ax.scatter(x, ys, s=400 * w / w.max(), color="tab:blue", alpha=0.6,
                   edgecolor="k", zorder=3)
        for xi, yi, d in zip(x, ys, r["datasets"], strict=True):
            ax.annotate(d, (xi, yi), xytext=(4, 4),
                        textcoords="offset points", fontsize=7)
        grid_x = np.linspace(x.min() - 0.2, x.max() + 0.2, 50)
        design = np.column_stack([np.ones_like(grid_x), grid_x])
        line = f["intercept"] + f["slope"] * grid_x
        se = np.sqrt(np.einsum("ij,jk,ik->i", design, np.array(f["cov"]),
                               design))
        crit = float(stats.t.ppf(0.975, f["k"] - 2))
        ax.plot(grid_x, line, color="tab:red")
        ax.fill_between(grid_x, line - crit * se, line + crit * se,
                        color="tab:red", alpha=0.15)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(f"{r['cell']} against {r['against']}: slope "
                     f"{f['slope']:+.2f} [{f['low']:+.2f}, {f['high']:+.2f}]",
                     fontsize=9)
        ax.set_xlabel("ln(number of graphs)")
    axes[0, 0].set_ylabel("paired difference, accuracy points (95% CI)")
    fig.tight_layout()
    paths = _save(fig, path)
    plt.close(fig)
    return paths


def _write_text(rep: Report) -> list[Path]:
    """``<report>.md``."""
    path = rep.grid.out_path / f"{rep.grid.report}.md"
    atomic_write_text(path, rep.text)
    return [path]


def _write_csv(rep: Report) -> list[Path]:
    """Each CSV file of :data:`CSV_HEADERS`."""
    paths = []
    for name, header in CSV_HEADERS.items():
        table = io.StringIO(newline="")
        csv.writer(table).writerows([header, *rep.csv[name]])
        paths.append(rep.grid.out_path / f"{rep.stems[name]}.csv")
        atomic_write_text(paths[-1], table.getvalue())
    return paths


def _write_latex(rep: Report) -> list[Path]:
    """``table.tex`` (:func:`latex_table`)."""
    path = rep.grid.out_path / f"{rep.stems['table']}.tex"
    atomic_write_text(path, latex_table(rep.grid, rep.runs, rep.datasets))
    return [path]


def _write_paired_plot(rep: Report) -> list[Path]:
    """``<report>.png`` and its formats (:func:`write_plot`)."""
    if not rep.plotted:
        return []
    grid = rep.grid
    floors = frozenset(n for n in grid.cells if grid.train_config(
        grid.datasets[0], n, grid.seeds[0]).epochs == 0)
    return write_plot(grid.out_path / f"{grid.report}.png", rep.found,
                      rep.plotted, floors=floors)


def _write_forest_plot(rep: Report) -> list[Path]:
    """The forest plot (:func:`write_forest`)."""
    if not rep.plotted:
        return []
    return write_forest(rep.grid.out_path / f"{rep.stems['forest']}.png",
                        rep.grid, rep.found, rep.pools, rep.finished)


def _write_moderator_plot(rep: Report) -> list[Path]:
    """The meta-regression's plot (:func:`write_moderator`), where there
    is one."""
    if not (rep.plotted and rep.fits):
        return []
    return write_moderator(
        rep.grid.out_path / f"{rep.stems['moderator_plot']}.png", rep.fits)


def _write_ranks_plot(rep: Report) -> list[Path]:
    """The critical-difference diagram (:func:`write_ranks`)."""
    if not rep.plotted:
        return []
    return write_ranks(rep.grid.out_path / f"{rep.stems['ranks']}.png",
                       rep.ranks)


#: The writers of a report's files, in order: each takes the
#: :class:`Report`, writes its files into the grid's ``out`` and returns
#: them. A new output is one function added here.
WRITERS = (_write_text, _write_csv, _write_latex, _write_paired_plot,
           _write_forest_plot, _write_moderator_plot, _write_ranks_plot)


def write_report(grid: GridConfig, command: str) -> list[Path]:
    """Write the report's files into the grid's ``out`` (each of
    :data:`WRITERS`); returns them."""
    frame, skipped = load_runs(grid)
    rep = report(grid, frame, skipped, command)
    return [path for writer in WRITERS for path in writer(rep)]


#: The public names (the API reference lists these).
__all__ = ["write_report", "load_runs", "nested", "answer", "status", "pooled",
           "fold_rows", "mean_table", "average_ranks", "latex_table",
           "write_forest", "write_ranks", "write_plot", "write_moderator",
           "report", "Report", "WRITERS", "CSV_HEADERS"]
