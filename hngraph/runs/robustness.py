r"""How far a grid's answer holds (``docs/method.md``, "How far the verdict
holds").

- **Sensitivity.** Each pooled primary comparison is pooled again with each
  finished dataset left out, with DerSimonian and Laird's :math:`\tau^2`
  instead of Paule and Mandel's, as a fixed effect, and on the first outer
  split alone; a variant whose verdict differs is named beside the answer.
- **Optimism of test-fold selection.** The published protocol keeps, of
  several fixed betas, the one with the best mean test accuracy. Its gain
  over the baseline, beside the gain of the nested choice (made without the
  test folds), on the same runs; their paired difference is what choosing
  on the test folds adds.
- **Dataset size as a moderator.** The per-dataset effects regressed on
  :math:`\ln(\text{graphs})` (:func:`~hngraph.runs.comparison.meta_regression`).
- **Preregistered tests.** The grid's ``hypotheses``, decided by the rules
  of its ``preregistration`` file, after checking that the file was
  committed before the first result it tests.
"""
from __future__ import annotations

import functools
import math
import subprocess
from datetime import datetime
from pathlib import Path

from .comparison import (
    cell_summary,
    meta_regression,
    paired,
    pool_comparisons,
    sampling_variance,
    verdict,
)
from .grid import GridConfig

#: The sensitivity variants besides leaving a dataset out: name -> the
#: words that say when a verdict holds under it.
VARIANTS = {"DerSimonian-Laird": "under DerSimonian-Laird's tau²",
            "fixed effect": "under a fixed effect",
            "first split": "on the first split alone"}


def best_by_mean(row: dict, names: list[str]) -> str | None:
    """The published criterion: of ``names``, the cell of ``row``
    (``{cell: {seed: result}}``) with the best mean accuracy over its seeds,
    a choice made on the test folds."""
    found = [n for n in names if n in row]
    return max(found, key=lambda n: cell_summary(row[n])["mean"]) \
        if found else None


def sensitivity(runs: dict, found: dict, pools: dict) -> list[dict]:
    """Every pooled primary comparison of ``pools`` under each variant:
    ``cell``, ``against``, ``variant`` ("as reported", "without D", or a
    key of :data:`VARIANTS`), and the variant's pooled comparison with the
    ``verdict`` its intervals give (the words alone: no variant is held to
    the count of datasets a pooled verdict needs)."""
    out = []
    for n, p in pools.items():
        if not p["primary"]:
            continue
        cs = [found[d][n] for d in p["datasets"]]
        variants = {"as reported": p}
        for i, d in enumerate(p["datasets"]):
            variants[f"without {d}"] = pool_comparisons(cs[:i] + cs[i + 1:])
        variants["DerSimonian-Laird"] = pool_comparisons(cs, method="dl")
        variants["fixed effect"] = pool_comparisons(cs, method="fixed")
        first = [paired(runs[d][n], runs[d][p["against"]],
                        key="first_split_mean") for d in p["datasets"]
                 if all(r.get("first_split_mean") is not None
                        for cell in (n, p["against"])
                        for r in runs[d][cell].values())]
        if len(first) == len(cs):
            variants["first split"] = pool_comparisons(first)
        for name, v in variants.items():
            if v is not None:
                out.append({**v, "cell": n, "against": p["against"],
                            "variant": name, "verdict": verdict(
                                v["low"], v["high"], v["bound"])})
    return out


def fragility(rows: list[dict], cell: str) -> str:
    """The words that follow a pooled verdict: the variants of
    :func:`sensitivity` that would change it, grouped by their verdict, or
    that none does."""
    mine = [r for r in rows if r["cell"] == cell]
    main = next(r["verdict"] for r in mine if r["variant"] == "as reported")
    left_out = [r for r in mine if r["variant"].startswith("without ")]
    changed: dict[str, tuple[list, list]] = {}
    for r in mine:
        if r["verdict"] != main:
            names, others = changed.setdefault(r["verdict"], ([], []))
            if r in left_out:
                names.append(r["variant"].removeprefix("without "))
            else:
                others.append(VARIANTS[r["variant"]])
    if not changed:
        return (f"; no variant of the sensitivity analysis ({len(mine) - 1}"
                " of them) changes these words")
    parts = []
    for words, (names, others) in changed.items():
        if not names:
            when = []
        elif len(names) == len(left_out):
            when = ["when any one dataset is left out"]
        elif len(names) == 1:
            when = [f"when {names[0]} is left out"]
        else:
            when = [f"when any one of {_join(names, ' or ')} is left out"]
        parts.append(f"{words} " + _join(when + others, " or "))
    return ", but " + _join(parts, ", and ")


def _join(items: list[str], last: str = " and ") -> str:
    return items[0] if len(items) == 1 else (
        ", ".join(items[:-1]) + last + items[-1])


def optimism(grid: GridConfig, runs: dict, found: dict, done: list[str]
             ) -> list[dict]:
    """Per mode of ``grid.modes`` whose cells a selection also chooses
    among, and per finished dataset of ``done`` (then pooled): the cell
    with the best mean accuracy (chosen on the test folds) and its paired
    gain, the nested selection's gain, and their paired difference, the
    ``optimism``."""
    out = []
    for mode, cands in grid.modes.items():
        sel = next((s for s, m in grid.selections.items()
                    if set(m) == set(cands)), None)
        if sel is None:
            continue
        per = []
        for d in done:
            best = best_by_mean(runs[d], cands)
            if best is None or best not in found[d] or sel not in found[d]:
                continue
            extra = paired(runs[d][best], runs[d][sel])
            if extra is None:
                continue
            per.append({"dataset": d, "mode": mode, "selection": sel,
                        "chosen": best, "chosen_gain": found[d][best],
                        "nested_gain": found[d][sel], "optimism": extra})
        out += per
        if len(per) >= 2:
            out.append({"dataset": f"pooled ({len(per)} datasets)",
                        "mode": mode, "selection": sel, "chosen": "",
                        **{key: pool_comparisons([r[key] for r in per]) for key in
                           ("chosen_gain", "nested_gain", "optimism")}})
    return out


@functools.cache
def dataset_size(name: str) -> int:
    """The number of graphs of TU dataset ``name``, as hngraph loads it
    (:func:`~hngraph.data.tudataset.count_graphs`)."""
    from ..data.tudataset import count_graphs

    return count_graphs(name)


def moderator(grid: GridConfig, found: dict, done: list[str]) -> list[dict]:
    """The meta-regressions on :math:`\\ln(\\text{graphs})`: per primary
    comparison over the finished datasets of ``done`` ("all finished",
    descriptive); per moderator hypothesis over its own datasets once all
    are finished, and without its replication datasets beside it. Each has
    ``cell``, ``against``, ``analysis``, ``datasets``, ``graphs``, the
    per-dataset comparisons (``found``) and the fit; an analysis of fewer
    than 3 datasets is left out."""
    replications = {h["dataset"] for h in grid.hypotheses.values()
                    if "dataset" in h}
    plans = [(n, "all finished", [d for d in done if n in found[d]])
             for n in grid.selections]
    for name, h in grid.hypotheses.items():
        if "datasets" in h and set(h["datasets"]) <= set(done):
            plans.append((h["cell"], name, h["datasets"]))
            rest = [d for d in h["datasets"] if d not in replications]
            if rest != h["datasets"]:
                plans.append((h["cell"], f"{name}, without " + ", ".join(
                    sorted(replications & set(h["datasets"]))), rest))
    out = []
    for n, analysis, datasets in plans:
        cs = [found[d][n] for d in datasets if n in found[d]]
        if len(cs) < 3 or len(cs) < len(datasets):
            continue
        graphs = [dataset_size(d) for d in datasets]
        fit = meta_regression([c["mean"] for c in cs],
                              [sampling_variance(c) for c in cs],
                              [math.log(g) for g in graphs])
        if fit is None:  # datasets all of one size
            continue
        out.append({"cell": n, "against": cs[0]["against"],
                    "analysis": analysis, "datasets": datasets,
                    "graphs": graphs, "fit": fit,
                    "found": {d: found[d][n] for d in datasets}})
    return out


#: The words for a preregistered test's outcome.
OUTCOMES = ("confirmed", "not confirmed", "refuted")


def decide(grid: GridConfig, found: dict, finished: dict,
           fits: list[dict]) -> list[dict]:
    """Each of the grid's ``hypotheses`` decided by its preregistered rule:
    ``name``, ``hypothesis`` (the config's entry), ``outcome`` (one of
    :data:`OUTCOMES`, or ``None`` while its data are unfinished), ``why``,
    and the comparison or fit it rests on."""
    out = []
    for name, h in grid.hypotheses.items():
        up = h["expect"] in ("better", "upward")
        if "dataset" in h:
            d = h["dataset"]
            why = finished.get(d, "not run")
            c = found.get(d, {}).get(h["cell"]) if why is None else None
        else:
            c = next((f["fit"] for f in fits if f["analysis"] == name), None)
            why = None if c else "waiting for " + ", ".join(
                d for d in h["datasets"] if finished.get(d, "") is not None)
        if c is None:
            out.append({"name": name, "hypothesis": h, "outcome": None,
                        "why": why, "result": None})
            continue
        low, high = c["low"], c["high"]
        if (low > 0) if up else (high < 0):
            outcome = "confirmed"
        elif (high < 0) if up else (low > 0):
            outcome = "refuted"
        else:
            outcome = "not confirmed"
        out.append({"name": name, "hypothesis": h, "outcome": outcome,
                    "why": None, "result": c})
    return out


def registered_at(path: str | Path) -> datetime | None:
    """When the file at ``path`` was first committed (its git history's
    committer time); ``None`` when it is not in a git history."""
    path = Path(path).expanduser().resolve()
    try:
        stamp = subprocess.run(
            ["git", "log", "--diff-filter=A", "--follow", "--format=%cI",
             "--", path.name], cwd=path.parent, capture_output=True,
            text=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return datetime.fromisoformat(stamp[-1]) if stamp else None


def preregistration_check(grid: GridConfig, runs: dict) -> str:
    """A sentence: whether the grid's preregistration was committed before
    the first result of every dataset its hypotheses replicate on."""
    datasets = sorted({h["dataset"] for h in grid.hypotheses.values()
                       if "dataset" in h})
    results = [r for d in datasets for cell in runs.get(d, {}).values()
               for r in cell.values() if r.get("finished")]
    when = registered_at(grid.preregistration)
    if when is None:
        return (f"`{grid.preregistration}` is not in a git history here, so "
                "its time cannot be checked against the data.")
    if not results:
        return (f"`{grid.preregistration}` was committed at "
                f"{when.isoformat()}; no result of "
                f"{', '.join(datasets)} exists yet.")
    first = min(results, key=lambda r: r["finished"])
    ok = all(datetime.fromisoformat(r["finished"]) > when for r in results)
    return (f"`{grid.preregistration}` was committed at {when.isoformat()}, "
            + ("before" if ok else "**after**")
            + f" the first of the {len(results)} result files of "
            f"{', '.join(datasets)} finished ({first['finished']})"
            + ("." if ok else ": these results are not a preregistered "
               "test."))


#: The public names (the API reference lists these).
__all__ = ["sensitivity", "fragility", "optimism", "moderator", "decide",
           "preregistration_check", "registered_at", "best_by_mean",
           "dataset_size", "VARIANTS", "OUTCOMES"]
