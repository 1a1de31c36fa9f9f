"""Grids of runs: every (dataset, cell, seed) of a grid config, trained in
parallel processes, one result file per finished run, resumable.

A *cell* is one entry of a grid: a name and the training settings that
differ from the grid's shared ones (``docs/grids.md`` describes the file).
Each finished run writes ``<out>/<DATASET>/<cell>_seed<k>.json``
atomically (a temporary file, then a rename). A run whose file was written
with the settings the grid asks for now is skipped, so a grid can be
stopped at any time and resumed by running it again; a file written with
other settings (another epoch count, other repeats) is run again and
replaced. A grid's ``selections`` (``name: [cells]``) choose among their
cells per outer fold by the inner cross-validation score
(:func:`hngraph.eval.scoring.select_results`), as soon as those cells'
runs of the same dataset and seed have finished. One runner at a time may
write into an ``out`` folder: a second one stops at once.

Every dataset's results come from one commit: a runner starts only from a
source tree without uncommitted changes (unless ``allow_dirty``, which its
result files record), and it keeps a dataset whose runs have all finished
at one clean commit as it is; otherwise it counts only the results of its
own commit and runs the others again.

    hngraph grid run configs/verdict.yaml --jobs 2 --threads 1
    hngraph grid report configs/verdict.yaml
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import json
import math
import os
import statistics
import time
import traceback
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

from ..config import (
    TrainConfig,
    check_declared,
    declared,
    output_folder,
    read_yaml,
    setting,
    settings_diff,
    unknown_keys,
)
from ..constraints import (
    DATASET,
    SEED_END,
    Either,
    Interval,
    ListOf,
    MappingOf,
    OfType,
    Pattern,
)
from ..errors import (
    ConfigKeyError,
    DirtySourceError,
    HngraphError,
    InvalidValueError,
    OutLockedError,
    OutTakenError,
    PathError,
    RunFailedError,
    describe,
)
from ..results import (
    SOURCE,
    ResultFileError,
    RunFiles,
    Source,
    atomic_write_json,
    provenance,
    read_result,
    run_files,
)
from .executors import STAGES, SlurmSettings

_NAME = Pattern(r"[A-Za-z0-9][A-Za-z0-9_.+\-]*", "a name of letters, "
                "digits and _.+-, starting with a letter or digit", "../x")
#: The settings the grid gives every run, and the key they come from.
GRID_OWNED = {"dataset": "datasets:", "seed": "seeds:", "out": "out:",
              "repeats": "repeats:"}
_SHARED = [f.name for f in fields(TrainConfig) if f.name not in GRID_OWNED]


@dataclass(kw_only=True)
class GridConfig:
    """A grid config, each key declared once (what it accepts and what it
    means). Relative paths in ``out`` are resolved against the current
    folder, and ``~`` is the home folder, for running and reporting alike.
    Every :class:`~hngraph.config.TrainConfig` setting but ``dataset``,
    ``seed`` and ``out`` may also be given at the top level, shared by every
    cell (``shared``)."""

    out: str = setting("", Pattern(r".+", "a folder path", ""),
                       "folder of the grid's result files")
    seeds: list = setting([], ListOf(Interval(int, 0, SEED_END), 1),
                          "training seeds (each also seeds the folds)")
    datasets: list = setting([], ListOf(DATASET, 1), "TU dataset names, run in "
                             "this order")
    cells: dict = setting({}, MappingOf(OfType(dict), 1),
                          "cell name -> its training settings", "Each cell "
                          "sets beta and tau_plus (and any other setting).")
    repeats: int | dict = setting(
        1, Either(Interval(int, 1), MappingOf(Interval(int, 1))),
        "outer cross-validation splits: one number, or DATASET: number "
        "(datasets left out get 1)")
    selections: dict = setting({}, MappingOf(ListOf(_NAME, 1)),
                               "name -> the cells it chooses among")
    baseline: str = setting("", OfType(str), "the cell every other one is "
                            "paired with in the report")
    pairs: dict = setting({}, MappingOf(OfType(str)), "cell -> the cell it "
                          "is paired with instead of the baseline")
    pools: dict = setting({}, MappingOf(ListOf(_NAME, 1)), "name -> cells "
                          "averaged seed by seed in the report")
    modes: dict = setting({}, MappingOf(ListOf(_NAME, 1)), "name -> cells "
                          "among which the report applies the paper's own "
                          "criterion (a choice on test folds)")
    published: dict = setting({}, MappingOf(MappingOf(Interval(float, 0))),
                              "label -> {dataset: published accuracy, %}")
    baseline_published: str = setting(
        "", OfType(str), "the label of published whose figures are the "
        "baseline's own (the report sets them side by side)")
    test_selected: str = setting(
        "", OfType(str), "a CSV file (dataset, accuracy, std, n, how) of the "
        "baseline chosen as its published figures were, on the test folds "
        "(relative paths as for out); the report shows it beside them")
    title: str = setting("", OfType(str), "the report's title")
    columns: str = setting("", OfType(str), "the report's column legend")
    report: str = setting("RESULTS", _NAME, "the report's file stem")
    slurm: dict = setting({}, OfType(dict), "the SLURM job array of "
                          "--executor slurm (docs/grids.md)")
    shares_out: list = setting([], ListOf(_NAME), "the grids whose out "
                               "folder this one shares on purpose (the "
                               "cells of the same name are the same runs)")
    preregistration: str = setting(
        "", OfType(str), "the file stating the grid's preregistered "
        "hypotheses (relative paths as for out); the report checks that its "
        "first commit is older than the data it tests")
    hypotheses: dict = setting(
        {}, MappingOf(OfType(dict)), "name -> a preregistered test the "
        "report decides: {cell, dataset, expect: better | worse} (the "
        "paired 95% interval) or {cell, datasets, expect: upward | "
        "downward} (the slope on log(graphs) over those datasets)")
    shared: dict = dataclasses.field(default_factory=dict)
    source: str = "grid config"

    def __post_init__(self):
        check_declared(self, f"{self.source}: ")
        for key in ("seeds", "datasets"):
            values = getattr(self, key)
            if len(set(values)) != len(values):
                raise InvalidValueError(f"{self.source}: {key} lists "
                                        f"{sorted({v for v in values if values.count(v) > 1})} "
                                        "more than once; list each once.")
        self.slurm_settings()
        names = [*self.cells, *self.selections]
        bad = [n for n in names if not _NAME.accepts(n)]
        if bad:
            raise InvalidValueError(f"{self.source}: cell and selection names must "
                                    f"be {_NAME}, got {bad}.")
        if isinstance(self.repeats, dict):
            unknown = sorted(set(self.repeats) - set(self.datasets))
            if unknown:
                raise InvalidValueError(f"{self.source}: repeats names {unknown}, "
                                        "not datasets of this grid; its datasets "
                                        f"are {self.datasets}.")
        for name, settings in self.cells.items():
            owned = sorted(set(settings) & set(GRID_OWNED))
            if owned:
                raise InvalidValueError(
                    f"{self.source}: cell {name!r} sets {owned}, which the "
                    "grid sets for every run (" + ", ".join(
                        f"{k} from {v}" for k, v in GRID_OWNED.items()
                        if k in owned) + "); remove it from the cell.")
            unknown_keys(settings, set(_SHARED), f"{self.source}: cell "
                         f"{name!r}")
            missing = [k for k in ("beta", "tau_plus") if k not in settings]
            if missing:
                raise InvalidValueError(f"{self.source}: cell {name!r} must set "
                                        f"{' and '.join(missing)}; a grid never "
                                        "falls back to the defaults for them.")
            for d in self.datasets:
                self.train_config(d, name, self.seeds[0])
        known = set(self.cells)
        for key in ("selections", "pools", "modes"):
            for name, members in getattr(self, key).items():
                unknown = sorted(set(members) - known)
                if unknown:
                    raise InvalidValueError(f"{self.source}: {key}[{name}] names "
                                            f"{unknown}, not cells of this grid; "
                                            f"its cells are {sorted(known)}.")
        every = known | set(self.selections) | set(self.pools)
        self._check_hypotheses(every)
        if self.baseline_published and \
                self.baseline_published not in self.published:
            raise InvalidValueError(
                f"{self.source}: baseline_published is "
                f"{self.baseline_published!r}, not a label of published "
                f"({sorted(self.published)}).")
        for cell, other in [(self.baseline, self.baseline), *self.pairs
                            .items()]:
            if other and (other not in every or cell not in every):
                raise InvalidValueError(
                    f"{self.source}: {'baseline' if cell == self.baseline else 'pairs'}"
                    f" has the report pair {cell!r} with {other!r}; both must "
                    f"be cells, selections or pools ({sorted(every)}).")

    def _check_hypotheses(self, every: set):
        """Each hypothesis names a cell of the grid and either one of its
        datasets with better/worse, or several with upward/downward."""
        if self.hypotheses and not self.preregistration:
            raise InvalidValueError(f"{self.source}: hypotheses need "
                                    "preregistration: the file that states "
                                    "them.")
        shapes = {"dataset": ("better", "worse"),
                  "datasets": ("upward", "downward")}
        for name, h in self.hypotheses.items():
            where = f"{self.source}: hypotheses[{name}]"
            shape = [k for k in shapes if k in h]
            if len(shape) != 1 or set(h) != {"cell", "expect", *shape}:
                raise InvalidValueError(
                    f"{where} must be {{cell, dataset, expect}} or {{cell, "
                    f"datasets, expect}}, got keys {sorted(h)}.")
            kind = shape[0]
            named = h[kind] if kind == "datasets" else [h[kind]]
            if not isinstance(named, list) or len(named) < (
                    3 if kind == "datasets" else 1):
                raise InvalidValueError(f"{where}: datasets must list 3 or "
                                        f"more datasets, got {named!r}.")
            unknown = sorted(set(map(str, named)) - set(self.datasets))
            if unknown:
                raise InvalidValueError(f"{where} names {unknown}, not "
                                        "datasets of this grid; its datasets "
                                        f"are {self.datasets}.")
            if h["cell"] not in every:
                raise InvalidValueError(f"{where}: cell {h['cell']!r} is not "
                                        f"a cell or selection of this grid "
                                        f"({sorted(every)}).")
            if h["expect"] not in shapes[kind]:
                raise InvalidValueError(f"{where}: expect must be one of "
                                        f"{shapes[kind]} with {kind}, got "
                                        f"{h['expect']!r}.")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> GridConfig:
        """Read and check a grid config file."""
        values = read_yaml(path)
        keys = {f.name for f in declared(cls)}
        unknown_keys(values, keys | set(_SHARED), str(path))
        for key in ("out", "seeds", "datasets", "cells"):
            if key not in values:
                raise ConfigKeyError(f"{path}: the grid needs {key!r} "
                                     f"({_help(key)}).")
        shared = {k: v for k, v in values.items() if k in _SHARED}
        return cls(**{k: v for k, v in values.items() if k in keys},
                   shared=shared, source=str(path))

    def slurm_settings(self, **flags) -> SlurmSettings:
        """The ``slurm`` section, with ``flags`` (those not ``None``) over
        it."""
        given = {**self.slurm, **{k: v for k, v in flags.items()
                                  if v is not None}}
        known = [f.name for f in declared(SlurmSettings)]
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise InvalidValueError(f"{self.source}: slurm: unknown key(s) "
                                    f"{unknown}; it takes {known}.")
        return SlurmSettings(**given, source=f"{self.source}: slurm")

    @property
    def name(self) -> str:
        """The grid's name: its config file's stem (``verdict`` for
        ``configs/verdict.yaml``)."""
        return Path(self.source).stem

    @property
    def out_path(self) -> Path:
        return output_folder(self.out, f"{self.source}: out").absolute()

    def repeats_of(self, dataset: str) -> int:
        """The outer splits of ``dataset``."""
        if isinstance(self.repeats, dict):
            return self.repeats.get(dataset, 1)
        return self.repeats

    def train_config(self, dataset: str, cell: str, seed: int,
                     **overrides) -> TrainConfig:
        """The :class:`TrainConfig` of one run of the grid."""
        where, out = f"{self.source}: cell {cell!r}", str(self.out_path)
        try:
            return TrainConfig.from_dict({
                "repeats": self.repeats_of(dataset), **self.shared,
                **self.cells[cell], "dataset": dataset, "seed": seed,
                "out": out, **overrides}, source=where)
        except HngraphError as err:  # the place named once
            text = str(err)
            raise type(err)(text if text.startswith(where)
                            else f"{where}: {text}") from err


def _help(name: str) -> str:
    return next(f.metadata["help"] for f in declared(GridConfig)
                if f.name == name)


class Run(NamedTuple):
    """One run of a grid: a cell's (or a selection's) seed on a dataset."""

    dataset: str
    cell: str
    seed: int

    def files(self, out: str | os.PathLike) -> RunFiles:
        """The run's files: ``<out>/<DATASET>/<cell>_seed<k>.*``."""
        return run_files(Path(out) / self.dataset, f"{self.cell}_seed{self.seed}")


def _result(grid: GridConfig, run: Run) -> dict | None:
    """A run's result, or ``None`` where there is no valid result file."""
    try:
        return read_result(run.files(grid.out_path).result)
    except (OSError, ResultFileError):
        return None


class ResultFiles(dict):
    """Each run's result, or ``None`` where there is no valid result file
    (:func:`~hngraph.results.read_result`), each file read once, when first
    asked for."""

    def __init__(self, grid: GridConfig):
        super().__init__()
        self.grid = grid

    def __missing__(self, run: Run) -> dict | None:
        self[run] = value = _result(self.grid, run)
        return value


def plan(grid: GridConfig, *, datasets=None, cells=None, seeds=None
         ) -> list[Run]:
    """Every wanted run, seed by seed within a dataset (so that the cells of
    a seed finish close together), selections last within a seed. Datasets,
    cells and seeds not in the grid are refused."""
    names = list(grid.cells) + list(grid.selections)
    for given, known, what in ((datasets, grid.datasets, "dataset"),
                               (cells, names, "cell"),
                               (seeds, grid.seeds, "seed")):
        if given is not None and not given:
            raise InvalidValueError(f"an empty list of {what}s runs nothing; leave "
                                    "the flag out to run the grid's own.")
        unknown = sorted(set(given or []) - set(known), key=str)
        if unknown:
            raise InvalidValueError(f"{what}s: unknown {what}(s) {unknown}; "
                                    f"the grid has {known}.")
    return [Run(d, n, s) for d in datasets or grid.datasets
            for s in (seeds if seeds is not None else grid.seeds)
            for n in cells or names]


def current(grid: GridConfig, run: Run, config: dict | None) -> bool:
    """Whether a run recorded with ``config`` ran under every setting that
    changes the result as the grid asks for now."""
    from .experiment import settings_key

    try:
        recorded = TrainConfig.from_dict(config)
    except (KeyError, TypeError, ValueError):
        return False
    return settings_key(recorded) == settings_key(grid.train_config(*run))


def finished(grid: GridConfig, run: Run, results: ResultFiles) -> bool:
    """Whether a cell's run has a result file written with the settings the
    grid asks for now (every setting that changes the result)."""
    result = results[run]
    return result is not None and current(grid, run, result.get("config"))


def trained_file(grid: GridConfig, run: Run) -> bool:
    """Whether a cell's run has a train stage output (``--stage train``)
    under the settings the grid asks for now, ready to be scored. Its result
    records the commit that trained it, and ``scored_on`` the one that
    scored it where they differ (:func:`~hngraph.runs.experiment.record_stage`)."""
    from .experiment import Trained

    try:
        record = Trained.read_record(run.files(grid.out_path).trained)
    except (OSError, ValueError):
        return False
    return current(grid, run, record["config"])


def selected(grid: GridConfig, run: Run, trained: set[Run],
             results: ResultFiles) -> bool:
    """Whether a selection has a result file made from its cells' current
    result files (each in ``trained``)."""
    members = [run._replace(cell=c) for c in grid.selections[run.cell]]
    result = results[run]
    if result is None or not all(m in trained for m in members):
        return False
    return result.get("cells_finished") == {
        m.cell: results[m]["finished"] for m in members}


def run_task(grid: GridConfig, run: Run, stage: str, device: str | None,
             threads: int, source: Source, trained=None):
    """One cell's run on an executor's worker, its stages as ``stage`` asks
    (:data:`STAGES`; for ``score``, ``trained`` is the train stage's
    output). Returns a result (``all``, ``score``) or ``(trained, model)``
    (``train``), for the driver to write. ``source`` is the driver's: a
    worker that imported other code refuses to run."""
    import torch

    from ..distributed import resolve_device
    from . import executors
    from .experiment import record_stage, score_stage, train_stage

    if SOURCE != source:
        raise RunFailedError(
            f"this worker imported hngraph at {SOURCE.label}, the driver at "
            f"{source.label}: the source changed while the grid ran; "
            "restart the driver (finished runs are kept).")
    if trained is None:
        torch.set_num_threads(threads)
        config = grid.train_config(*run, **({"device": device} if device
                                            else {}))
        where = resolve_device(config.device)
        if where.type == "cuda" and executors.WORKER_GPU is not None:
            where = torch.device("cuda", executors.WORKER_GPU)
        trained, model = train_stage(config, progress=False, device=where,
                                     files=run.files(grid.out_path))
        if stage == "train":
            return trained, model.cpu()
    result = record_stage(trained, *score_stage(trained))
    result["cell"] = run.cell
    return result


def select_run(grid: GridConfig, run: Run) -> dict:
    """Nested selection among a selection's cells, from their result files
    (:func:`hngraph.eval.scoring.select_results`); returns its result."""
    from ..eval.scoring import select_results

    start = time.perf_counter()
    members = grid.selections[run.cell]
    found = {c: _result(grid, run._replace(cell=c)) for c in members}
    config = found[members[0]]["config"]
    return {"cell": run.cell, "tag": "nested-selection", "seed": run.seed,
            "cells": members,
            "cells_finished": {c: r["finished"] for c, r in found.items()},
            "config": {"dataset": run.dataset, "folds": config["folds"],
                       "repeats": config["repeats"]},
            **select_results(found).to_dict(), **provenance("cpu"),
            "wall_time_s": time.perf_counter() - start}


def _write(grid: GridConfig, run: Run, result: dict, allow_dirty: bool
           ) -> Path:
    """Write a finished run's result file (and drop its failure record)."""
    result["allow_dirty"] = allow_dirty
    files = run.files(grid.out_path)
    path = atomic_write_json(files.result, result)
    files.failure.unlink(missing_ok=True)
    return path


def record_failure(out: Path, run: Run, err: BaseException) -> dict:
    """Write what went wrong in a run beside its (missing) result file."""
    from .executors import TaskError

    failure = {"dataset": run.dataset, "cell": run.cell, "seed": run.seed,
               "error": str(err) if isinstance(err, TaskError)
               else describe(err),
               "traceback": err.trace if isinstance(err, TaskError)
               else "".join(traceback.format_exception(err))}
    atomic_write_json(run.files(out).failure, failure)
    return failure


class _OutLock:
    """An exclusive lock on ``<out>/.grid.lock`` for one driver at a time
    (released when the process ends, however it ends)."""

    def __init__(self, out: Path):
        self.path = out / ".grid.lock"

    def __enter__(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "a+")
        except OSError as err:
            raise PathError(f"the grid's out folder {self.path.parent} "
                            f"cannot be written ({err.strerror}); give a "
                            "folder you can write to (its out key, or "
                            "--out DIR).") from err
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "another process"
            self.file.close()
            raise OutLockedError(
                f"another grid runner ({holder}) writes into "
                f"{self.path.parent}; wait for it or stop it (it resumes "
                "where it stopped).") from None
        self.file.truncate(0)
        self.file.write(f"pid {os.getpid()}")
        self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.close()


def origin(result: dict) -> Source:
    """The :class:`~hngraph.results.Source` a result file records."""
    commit = result.get("commit", "")
    return Source(commit.removesuffix("-dirty"), result.get(
        "source_diff", "unknown" if commit.endswith("-dirty") else None),
        result.get("source_files"))


def counted(grid: GridConfig, done: set[Run], results: ResultFiles,
            *, source: Source | None = None) -> set[Run]:
    """Of the runs with current result files (``done``), those that count
    as finished, so that each dataset's results come from one commit: all of
    a dataset's when every run of the grid on it is done, from one clean
    commit; otherwise those of ``source`` alone, the others to be run
    again. ``source`` defaults to :data:`~hngraph.results.SOURCE`."""
    source = source or SOURCE
    kept = set()
    for d in {r.dataset for r in done}:
        mine = {r: origin(results[r]) for r in done if r.dataset == d}
        commits = set(mine.values())
        if (len(mine) == len(plan(grid, datasets=[d])) and len(commits) == 1
                and commits.pop().clean):
            kept |= set(mine)
        else:
            kept |= {r for r, o in mine.items() if o == source}
    # a selection counts only with its cells
    return {r for r in kept if r.cell in grid.cells or all(
        r._replace(cell=c) in kept for c in grid.selections[r.cell])}


def claim_out(grid: GridConfig, *, share: bool = False,
              dry_run: bool = False) -> None:
    """Record in ``<out>/.grid.json`` which grids write into ``out`` (each
    one's :attr:`~GridConfig.name` and config file), and refuse a grid of
    another name, whose runs would replace those of the same cell names,
    unless it says so: its ``shares_out`` names one of them, or ``share``
    (``--share-out``). A dry run records nothing."""
    path = grid.out_path / ".grid.json"
    try:
        grids = dict(json.loads(path.read_text())["grids"])
    except (OSError, ValueError, KeyError, TypeError):
        grids = {}
    if grids and grid.name not in grids and not share and not (
            set(grid.shares_out) & set(grids)):
        raise OutTakenError(
            f"{grid.out_path} holds the runs of the grid(s) "
            + ", ".join(f"{n!r} ({c})" for n, c in sorted(grids.items()))
            + f", and this grid, {grid.name!r}, would replace those of the "
            "same cell names; give it its own folder (--out DIR, or its out "
            "key), or say that it shares the folder on purpose (shares_out: "
            f"[{next(iter(sorted(grids)))}] in its config, or --share-out).")
    if not dry_run and grids.get(grid.name) != grid.source:
        atomic_write_json(path, {"grids": {**grids,
                                           grid.name: grid.source}})


def check_settings(grid: GridConfig, runs: list[Run],
                   results: ResultFiles) -> None:
    """Refuse to run ``runs`` over result files written under other
    settings (by an earlier version of the config, or by another grid that
    shares the folder and a cell name), naming the files and the settings
    that differ: their result would be lost."""
    from .experiment import NOT_IN_KEY

    clashes = []
    for r in runs:
        result = results[r]
        if result is None or current(grid, r, result.get("config")):
            continue
        try:
            there = TrainConfig.from_dict(result["config"]).to_dict()
        except (KeyError, TypeError, ValueError, HngraphError):
            there = {}
        now = grid.train_config(*r).to_dict()
        diff = settings_diff(there, now, skip=NOT_IN_KEY) if there else [
            "settings that cannot be read"]
        clashes.append(f"{r.files(grid.out_path).result} ({'; '.join(diff)})")
    if clashes:
        raise OutTakenError(
            f"{len(clashes)} result file(s) in {grid.out_path} hold runs of "
            "other settings than this grid's, which running would replace: "
            + ", ".join(clashes[:3]) + (f", and {len(clashes) - 3} more"
                                        if len(clashes) > 3 else "")
            + ". Give this grid its own folder (--out DIR, or its out key), "
            "or pass --replace-other-settings to replace them.")


def check_source(allow_dirty: bool, *, source: Source | None = None) -> None:
    """Refuse to run a grid from code with uncommitted changes, which no
    commit can rebuild, unless ``allow_dirty``. ``source`` defaults to
    :data:`~hngraph.results.SOURCE`."""
    source = source or SOURCE
    if source.diff and not allow_dirty:
        raise DirtySourceError(
            f"the hngraph source ({source.commit[:10]}) has uncommitted "
            "changes (`git status`), so no commit could rebuild its results;"
            " commit them, or run from a worktree pinned at a clean commit "
            "(`git worktree add DIR COMMIT`), or pass --allow-dirty (which "
            "every result file then records).")


def estimate_words(seconds: float, unknown: int, total: int,
                   jobs: int = 1, scaled: int = 0) -> str:
    """The hours :func:`estimate` found for ``total`` runs, of which
    ``unknown`` had nothing to go by and ``scaled`` were scaled from other
    datasets: never a total that leaves runs out without saying so."""
    how = ("each run: the median wall time of the result files of its "
           "dataset and cell, or else of its dataset and epochs, or else "
           "the median seconds per node of its cell on the grid's other "
           "result files times its dataset's nodes")
    if unknown == total:
        return (f"No estimate of the time: none of the {total} run(s) has a "
                f"result file to go by ({how}).")
    hours = (f"{seconds / 3600:.1f} h of one process"
             + (f", {seconds / 3600 / jobs:.1f} h with --jobs {jobs}"
                if jobs > 1 else ""))
    rough = (f"; {scaled} of the runs are scaled from other datasets by "
             "their nodes, a rough estimate" if scaled else "")
    if unknown:
        return (f"At least {hours}: that is for the {total - unknown} "
                f"run(s) with result files to go by, and {unknown} more "
                f"have none ({how}{rough}).")
    return f"About {hours} ({how}{rough})."


def estimate(grid: GridConfig, runs: list[Run], done: set[Run],
             results: ResultFiles) -> tuple[float, int, int]:
    """The seconds ``runs`` would take one after another, each run's the
    median wall time of the runs with result files (``done``, of any commit)
    most like it: those of its dataset and cell, or else those of its
    dataset and kind (its epochs, or a selection); or else, for a dataset
    without result files, the median seconds per node of its cell (or kind)
    over the grid's result files of every dataset, times its dataset's nodes
    (:func:`~hngraph.data.tudataset.count_nodes`). Also how many runs have
    nothing to go by, and how many were scaled so."""
    from ..data.tudataset import count_nodes

    def kind(r: Run):
        return "selection" if r.cell in grid.selections else \
            grid.train_config(r.dataset, r.cell, r.seed).epochs

    @functools.cache
    def nodes(dataset: str) -> int | None:
        try:
            return count_nodes(dataset)
        except (OSError, HngraphError):
            return None

    times: dict[tuple, list[float]] = {}
    per_node: dict[tuple, list[float]] = {}
    for r in done:
        wall = (results[r] or {}).get("wall_time_s")
        if isinstance(wall, (int, float)) and math.isfinite(wall):
            for key in ((r.dataset, r.cell), (r.dataset, kind(r))):
                times.setdefault(key, []).append(wall)
    seconds, unknown, scaled = 0.0, 0, 0
    for r in runs:
        found = times.get((r.dataset, r.cell)) or times.get(
            (r.dataset, kind(r)))
        if found:
            seconds += statistics.median(found)
            continue
        if not per_node and nodes(r.dataset):
            for o in plan(grid):  # every dataset's result files, any commit
                wall = (results[o] or {}).get("wall_time_s")
                if isinstance(wall, (int, float)) and math.isfinite(wall) \
                        and nodes(o.dataset):
                    for key in (o.cell, kind(o)):
                        per_node.setdefault(key, []).append(
                            wall / nodes(o.dataset))
        rate = per_node.get(r.cell) or per_node.get(kind(r))
        if rate and nodes(r.dataset):
            seconds += statistics.median(rate) * nodes(r.dataset)
            scaled += 1
        else:
            unknown += 1
    return seconds, unknown, scaled


class StagePlan(NamedTuple):
    """What a runner has to do now, read from the grid's result files by
    :func:`stage_plan`."""

    #: The cells' runs to run, in plan order.
    todo: list
    #: The selections to make, each as soon as its cells have finished.
    waiting: list
    #: The cells' runs finished and counted (:func:`counted`).
    trained: set
    #: Every run with a result file, of any commit (what :func:`estimate`
    #: goes by).
    written: set
    #: How many of the runs asked for are finished.
    skipped: int
    #: How many of ``todo`` replace results of another commit.
    replaced: int
    #: The runs of ``todo`` whose train stage output waits to be scored
    #: (stages ``train`` and ``score``).
    ready: set
    #: In the ``score`` stage, the runs not trained yet.
    untrained: list
    #: The result files read.
    results: ResultFiles


def stage_plan(grid: GridConfig, runs: list[Run], *, stage: str = "all"
               ) -> StagePlan:
    """What is not finished of ``runs`` (see :func:`plan`) in the stage
    ``stage`` (:data:`STAGES`): a result file counts as finished as
    :func:`counted` says, and a selection waits for its cells (in the
    ``score`` stage, it is dropped while one of them is untrained). Reads
    the result files and writes nothing."""
    every = plan(grid, datasets=sorted({r.dataset for r in runs}))
    results = ResultFiles(grid)
    trained = {r for r in every if r.cell in grid.cells
               and finished(grid, r, results)}
    written = trained | {r for r in every if r.cell in grid.selections
                         and selected(grid, r, trained, results)}
    done = counted(grid, written, results)
    replaced = len([r for r in runs if r in trained and r not in done])
    trained &= done
    todo = [r for r in runs if r.cell in grid.cells and r not in done]
    ready = {r for r in todo if stage != "all" and trained_file(grid, r)}
    waiting = [] if stage == "train" else [
        r for r in runs if r.cell in grid.selections and r not in done]
    untrained = []
    if stage == "train":
        todo = [r for r in todo if r not in ready]
    elif stage == "score":
        untrained = [r for r in todo if r not in ready]
        todo = [r for r in todo if r in ready]
        waiting = [r for r in waiting if not any(
            r._replace(cell=c) in untrained
            for c in grid.selections[r.cell])]
    return StagePlan(todo, waiting, trained, written,
                     len([r for r in runs if r in done]), replaced, ready,
                     untrained, results)


def _say_plan(grid: GridConfig, runs: list[Run], work: StagePlan, *,
              stage: str, removed: int | None, jobs: int, echo) -> None:
    """The runner's opening lines: what it skips and does, and how long
    that would take (:func:`estimate`); ``removed`` is ``None`` in a dry
    run, which lists the runs too."""
    todo = work.todo + work.waiting
    echo(f"{len(runs)} runs in the grid: {work.skipped} finished (skipped), "
         f"{len(todo)} to do"
         + ("" if stage == "all" else f" in the {stage} stage")
         + f", of which {work.replaced} replace"
         f" results of another commit than {SOURCE.label[:10]}"
         + ("." if removed is None else
            f"; {removed} partial file(s) removed."))
    if stage == "train" and work.ready:
        echo(f"{len(work.ready)} run(s) trained already, waiting for "
             "--stage score.")
    if stage == "score" and work.untrained:
        echo(f"{len(work.untrained)} run(s) not trained yet (run --stage "
             "train first); their selections wait.")
    if removed is None:
        for r in todo:
            echo(f"  {r.dataset} {r.cell} seed {r.seed}")
    if todo:
        seconds, unknown, scaled = estimate(grid, todo, work.written,
                                            work.results)
        echo(estimate_words(seconds, unknown, len(todo), jobs, scaled))


def run_grid(grid: GridConfig, runs: list[Run], *, jobs: int = 1,
             threads: int | None = None, device: str | None = None,
             dry_run: bool = False, echo=print, allow_dirty: bool = False,
             stage: str = "all", executor=None, share_out: bool = False,
             replace_other_settings: bool = False) -> list[dict]:
    """Run what is not finished of ``runs`` (see :func:`plan`): the stages
    ``stage`` names (:data:`STAGES`), each run in a process of ``threads``
    torch threads, on ``executor`` (an :class:`~hngraph.runs.executors.Executor`;
    by default ``jobs`` processes here). The selections run here, as soon
    as their cells have finished. Returns the failures (each also written
    beside its missing result file).

    In three steps: the lock (one runner per out folder, which must be this
    grid's, :func:`claim_out`; the source must be clean unless
    ``allow_dirty``, :func:`check_source`), the plan (:func:`stage_plan`; a
    result file of other settings than the grid's is never replaced unless
    ``replace_other_settings``, :func:`check_settings`, whatever wrote it),
    said with how long it would take (:func:`estimate`), and the execution.
    A dry run lists the runs too, and writes nothing: it reads while a
    runner works."""
    if stage not in STAGES:
        raise InvalidValueError(f"stage must be one of {STAGES}, got {stage!r}.")
    if not dry_run:
        check_source(allow_dirty)
    out = grid.out_path
    with contextlib.nullcontext() if dry_run else _OutLock(out):
        claim_out(grid, share=share_out, dry_run=dry_run)
        removed = None if dry_run else len([p.unlink()
                                            for p in out.rglob(".*.tmp")])
        work = stage_plan(grid, runs, stage=stage)
        if not (dry_run or replace_other_settings):
            check_settings(grid, work.todo, work.results)
        _say_plan(grid, runs, work, stage=stage, removed=removed,
                  jobs=jobs if executor is None else 1, echo=echo)
        if dry_run:
            return []
        return _execute(grid, work, stage=stage, executor=executor,
                        jobs=jobs, threads=threads, device=device,
                        allow_dirty=allow_dirty)


def _gpus(device: str | None) -> int:
    """The GPUs the local workers share: those torch sees, on CUDA."""
    if device is None or not device.startswith(("cuda", "auto")):
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _execute(grid: GridConfig, work: StagePlan, *, stage: str, executor,
             jobs: int, threads: int | None, device: str | None,
             allow_dirty: bool) -> list[dict]:
    """The driver's loop: the runs of ``work`` in plan order on
    ``executor`` (by default ``jobs`` local processes), with a progress bar
    on a terminal and, in a log file, the line of each finished run; every
    file written here; each selection, which only reads its cells' result
    files, here too, as soon as its cells have finished."""
    from tqdm.auto import tqdm

    from .executors import LocalExecutor
    from .experiment import Trained

    todo, waiting, trained = work.todo, list(work.waiting), set(work.trained)
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    executor = executor or LocalExecutor(jobs=jobs, gpus=_gpus(device))
    bar = tqdm(total=len(todo) + len(waiting), desc="runs", unit="run",
               disable=None)
    failures = []
    count = iter(range(1, bar.total + 1))
    out = grid.out_path

    def finish(r, get):
        bar.update(1)
        where = f"[{next(count)}/{bar.total}] {r.dataset} {r.cell} seed {r.seed}"
        try:
            value = get()
            if isinstance(value, dict):
                path = _write(grid, r, value, allow_dirty)
                said = f"accuracy {100 * value['accuracy_mean']:.2f} %"
                trained.add(r)
            else:
                path = value[0].save(r.files(out).trained)
                value[1].save(r.files(out).model)
                r.files(out).failure.unlink(missing_ok=True)
                said = "trained"
        except Exception as err:  # recorded; the other runs go on
            failures.append(record_failure(out, r, err))
            bar.write(f"{where}: FAILED ({failures[-1]['error']})")
            return
        bar.write(f"{where}: {said} -> {path}")

    def select_ready():
        for r in [r for r in waiting if all(
                r._replace(cell=c) in trained
                for c in grid.selections[r.cell])]:
            waiting.remove(r)
            finish(r, lambda r=r: select_run(grid, r))

    def task(r):
        loaded = Trained.load(r.files(out).trained) if stage == "score" \
            else None
        return r, (grid, r, stage, device, threads, SOURCE, loaded)

    tasks = []
    for r in todo:
        try:
            tasks.append(task(r))
        except InvalidValueError as err:  # an unreadable train stage output
            def refused(err=err):
                raise err
            finish(r, refused)  # named and skipped; the rest are scored
    select_ready()
    try:
        for r, get in executor.results(run_task, tasks):
            finish(r, get)
            select_ready()
    except KeyboardInterrupt:
        # Ctrl-C: nothing queued starts, and what runs ends now; every
        # finished file stays, and no partial one is ever renamed in
        executor.cancel()
        raise
    finally:
        executor.close()
        bar.close()
    for r in waiting:  # one of its cells failed
        failed = sorted({f["cell"] for f in failures
                         if (f["dataset"], f["seed"]) == (r.dataset, r.seed)
                         and f["cell"] in grid.selections[r.cell]})
        failures.append(record_failure(out, r, RunFailedError(
            f"not made: its cell(s) {', '.join(failed) or 'unknown'} failed "
            "at this seed (see their .failed files); fix them and run the "
            "grid again, which makes it")))
    return failures


#: The public names (the API reference lists these).
__all__ = ["GridConfig", "Run", "plan", "StagePlan", "stage_plan", "run_grid", "run_task", "check_settings",
           "ResultFiles", "finished", "selected", "counted", "check_source", "claim_out"]
