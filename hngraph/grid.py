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
(:func:`hngraph.evaluation.select_results`), as soon as those cells'
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

import dataclasses
import fcntl
import json
import multiprocessing
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

from .config import (
    Either,
    Interval,
    ListOf,
    MappingOf,
    OfType,
    Pattern,
    TrainConfig,
    check_field,
    read_yaml,
    setting,
)
from .distributed import die_with_parent
from .errors import DirtySourceError
from .results import SOURCE, Source, atomic_write_json, provenance

_NAME = Pattern(r"[A-Za-z0-9_.+\-]+", "a name of letters, digits and "
                "_.+-", "../x")
#: The settings the grid gives every run, and the key they come from.
GRID_OWNED = {"dataset": "datasets:", "seed": "seeds:", "out": "out:",
              "repeats": "repeats:"}
_SHARED = [f.name for f in fields(TrainConfig) if f.name not in GRID_OWNED]


@dataclass
class GridConfig:
    """A grid config, each key declared once (what it accepts and what it
    means). Relative paths in ``out`` are resolved against the current
    folder, and ``~`` is the home folder, for running and reporting alike.
    Every :class:`~hngraph.config.TrainConfig` setting but ``dataset``,
    ``seed`` and ``out`` may also be given at the top level, shared by every
    cell (``shared``)."""

    out: str = setting("", Pattern(r".+", "a folder path", ""),
                       "folder of the grid's result files")
    seeds: list = setting([], ListOf(Interval(int, 0), 1),
                          "training seeds (each also seeds the folds)")
    datasets: list = setting([], ListOf(_NAME, 1), "TU dataset names, run in "
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
    title: str = setting("", OfType(str), "the report's title")
    columns: str = setting("", OfType(str), "the report's column legend")
    report: str = setting("RESULTS", _NAME, "the report's file stem")
    shared: dict = dataclasses.field(default_factory=dict)
    source: str = "grid config"

    def __post_init__(self):
        for f in _declared():
            setattr(self, f.name, check_field(f, getattr(self, f.name),
                                              f"{self.source}: {f.name}"))
        for key in ("seeds", "datasets"):
            values = getattr(self, key)
            if len(set(values)) != len(values):
                raise ValueError(f"{self.source}: {key} lists "
                                 f"{sorted({v for v in values if values.count(v) > 1})} "
                                 "more than once; list each once.")
        names = [*self.cells, *self.selections]
        bad = [n for n in names if not _NAME.accepts(n)]
        if bad:
            raise ValueError(f"{self.source}: cell and selection names must "
                             f"be {_NAME}, got {bad}.")
        if isinstance(self.repeats, dict):
            unknown = sorted(set(self.repeats) - set(self.datasets))
            if unknown:
                raise ValueError(f"{self.source}: repeats names {unknown}, "
                                 "not datasets of this grid; its datasets "
                                 f"are {self.datasets}.")
        for name, settings in self.cells.items():
            owned = sorted(set(settings) & set(GRID_OWNED))
            if owned:
                raise ValueError(
                    f"{self.source}: cell {name!r} sets {owned}, which the "
                    "grid sets for every run (" + ", ".join(
                        f"{k} from {v}" for k, v in GRID_OWNED.items()
                        if k in owned) + "); remove it from the cell.")
            missing = [k for k in ("beta", "tau_plus") if k not in settings]
            if missing:
                raise ValueError(f"{self.source}: cell {name!r} must set "
                                 f"{' and '.join(missing)}; a grid never "
                                 "falls back to the defaults for them.")
            for d in self.datasets:
                self.train_config(d, name, self.seeds[0])
        known = set(self.cells)
        for key in ("selections", "pools", "modes"):
            for name, members in getattr(self, key).items():
                unknown = sorted(set(members) - known)
                if unknown:
                    raise ValueError(f"{self.source}: {key}[{name}] names "
                                     f"{unknown}, not cells of this grid; "
                                     f"its cells are {sorted(known)}.")
        every = known | set(self.selections) | set(self.pools)
        for cell, other in [(self.baseline, self.baseline), *self.pairs
                            .items()]:
            if other and (other not in every or cell not in every):
                raise ValueError(f"{self.source}: the report pairs {cell!r} "
                                 f"with {other!r}; both must be cells, "
                                 f"selections or pools ({sorted(every)}).")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> GridConfig:
        """Read and check a grid config file."""
        values = read_yaml(path)
        declared = {f.name for f in _declared()}
        unknown = sorted(set(values) - declared - set(_SHARED))
        if unknown:
            raise KeyError(f"{path}: unknown key(s) {unknown}; a grid takes "
                           f"{sorted(declared)} and the shared training "
                           f"settings {_SHARED}.")
        for key in ("out", "seeds", "datasets", "cells"):
            if key not in values:
                raise KeyError(f"{path}: the grid needs {key!r} "
                               f"({_help(key)}).")
        shared = {k: v for k, v in values.items() if k in _SHARED}
        return cls(**{k: v for k, v in values.items() if k in declared},
                   shared=shared, source=str(path))

    @property
    def out_path(self) -> Path:
        return Path(self.out).expanduser().absolute()

    def repeats_of(self, dataset: str) -> int:
        """The outer splits of ``dataset``."""
        if isinstance(self.repeats, dict):
            return self.repeats.get(dataset, 1)
        return self.repeats

    def train_config(self, dataset: str, cell: str, seed: int,
                     **overrides) -> TrainConfig:
        """The :class:`TrainConfig` of one run of the grid."""
        where = f"{self.source}: cell {cell!r}"
        try:
            return TrainConfig.from_dict({
                "repeats": self.repeats_of(dataset), **self.shared,
                **self.cells[cell], "dataset": dataset, "seed": seed,
                "out": str(self.out_path), **overrides}, source=where)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{where}: {err}") from err


def _declared() -> list[dataclasses.Field]:
    """The keys of a grid file: the fields of :class:`GridConfig` declared
    with :func:`~hngraph.config.setting` (not ``shared`` and ``source``)."""
    return [f for f in fields(GridConfig) if "constraint" in f.metadata]


def _help(name: str) -> str:
    return next(f.metadata["help"] for f in _declared() if f.name == name)


class Run(NamedTuple):
    """One run of a grid: a cell's (or a selection's) seed on a dataset."""

    dataset: str
    cell: str
    seed: int


def result_path(out: Path, run: Run) -> Path:
    return Path(out) / run.dataset / f"{run.cell}_seed{run.seed}.json"


def failure_path(out: Path, run: Run) -> Path:
    """Where a failed run's error is recorded (removed when it succeeds)."""
    return result_path(out, run).with_suffix(".failed")


def read_result(path: Path) -> dict | None:
    """A finished run's result, or ``None`` when there is no complete file."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and "accuracy_mean" in result \
        else None


def plan(grid: GridConfig, datasets=None, cells=None, seeds=None
         ) -> list[Run]:
    """Every wanted run, seed by seed within a dataset (so that the cells of
    a seed finish close together), selections last within a seed. Datasets,
    cells and seeds not in the grid are refused."""
    names = list(grid.cells) + list(grid.selections)
    for given, known, what in ((datasets, grid.datasets, "dataset"),
                               (cells, names, "cell"),
                               (seeds, grid.seeds, "seed")):
        if given is not None and not given:
            raise ValueError(f"an empty list of {what}s runs nothing; leave "
                             "the flag out to run the grid's own.")
        unknown = sorted(set(given or []) - set(known))
        if unknown:
            raise ValueError(f"unknown {what}(s) {unknown}; the grid has "
                             f"{known}.")
    return [Run(d, n, s) for d in datasets or grid.datasets
            for s in (seeds if seeds is not None else grid.seeds)
            for n in cells or names]


def finished(grid: GridConfig, run: Run) -> bool:
    """Whether a cell's run has a result file written with the settings the
    grid asks for now (every setting that changes the result)."""
    from .experiment import settings_key

    result = read_result(result_path(grid.out_path, run))
    try:
        recorded = TrainConfig.from_dict(result["config"])
    except (KeyError, TypeError, ValueError):
        return False
    return settings_key(recorded) == settings_key(
        grid.train_config(*run))


def selected(grid: GridConfig, run: Run, trained: set[Run]) -> bool:
    """Whether a selection has a result file made from its cells' current
    result files (each in ``trained``)."""
    members = [run._replace(cell=c) for c in grid.selections[run.cell]]
    result = read_result(result_path(grid.out_path, run))
    if result is None or not all(m in trained for m in members):
        return False
    return result.get("cells_finished") == {
        m.cell: read_result(result_path(grid.out_path, m))["finished"]
        for m in members}


def train_run(grid: GridConfig, run: Run, device: str | None,
              threads: int, source: Source, allow_dirty: bool = False
              ) -> tuple[str, float]:
    """Train and score one cell's seed; write its result file. ``source``
    is the runner's: a worker that imported other code refuses to run."""
    import torch

    from .experiment import run_experiment

    if SOURCE != source:
        raise RuntimeError(
            f"this worker imported hngraph at {SOURCE.label}, the runner at "
            f"{source.label}: the source changed while the grid ran; "
            "restart the runner (finished runs are kept).")
    torch.set_num_threads(threads)
    overrides = {"device": device} if device else {}
    result, _ = run_experiment(grid.train_config(*run, **overrides),
                               progress=False)
    result["cell"] = run.cell
    return _write(grid, run, result, allow_dirty)


def select_run(grid: GridConfig, run: Run, allow_dirty: bool = False
               ) -> tuple[str, float]:
    """Nested selection among a selection's cells, from their result files
    (:func:`hngraph.evaluation.select_results`); writes its result file."""
    from .evaluation import select_results

    start = time.perf_counter()
    members = grid.selections[run.cell]
    found = {c: read_result(result_path(grid.out_path, run._replace(cell=c)))
             for c in members}
    config = found[members[0]]["config"]
    result = {"cell": run.cell, "tag": "nested-selection", "seed": run.seed,
              "cells": members,
              "cells_finished": {c: r["finished"] for c, r in found.items()},
              "config": {"dataset": run.dataset, "folds": config["folds"],
                         "repeats": config["repeats"]},
              **select_results(found).to_dict(), **provenance("cpu"),
              "wall_time_s": time.perf_counter() - start}
    return _write(grid, run, result, allow_dirty)


def _write(grid: GridConfig, run: Run, result: dict, allow_dirty: bool
           ) -> tuple[str, float]:
    """Write a finished run's result file (and drop its failure record)."""
    result["allow_dirty"] = allow_dirty
    path = atomic_write_json(result_path(grid.out_path, run), result)
    failure_path(grid.out_path, run).unlink(missing_ok=True)
    return str(path), result["accuracy_mean"]


def record_failure(out: Path, run: Run, err: BaseException) -> dict:
    """Write what went wrong in a run beside its (missing) result file."""
    failure = {"dataset": run.dataset, "cell": run.cell, "seed": run.seed,
               "error": f"{type(err).__name__}: {err}",
               "traceback": "".join(traceback.format_exception(err))}
    atomic_write_json(failure_path(out, run), failure)
    return failure


class _OutLock:
    """An exclusive lock on ``<out>/.grid.lock`` for one runner at a time
    (released when the process ends, however it ends)."""

    def __init__(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / ".grid.lock"

    def __enter__(self):
        self.file = open(self.path, "a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "another process"
            self.file.close()
            raise RuntimeError(f"another grid runner ({holder}) writes into "
                               f"{self.path.parent}; wait for it or stop it "
                               "(it resumes where it stopped).") from None
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
        "source_diff", "unknown" if commit.endswith("-dirty") else None))


def counted(grid: GridConfig, done: set[Run], source: Source | None = None
            ) -> set[Run]:
    """Of the runs with current result files (``done``), those that count
    as finished, so that each dataset's results come from one commit: all of
    a dataset's when every run of the grid on it is done, from one clean
    commit; otherwise those of ``source`` alone, the others to be run
    again. ``source`` defaults to :data:`~hngraph.results.SOURCE`."""
    source = source or SOURCE
    kept = set()
    for d in {r.dataset for r in done}:
        mine = {r: origin(read_result(result_path(grid.out_path, r)))
                for r in done if r.dataset == d}
        commits = set(mine.values())
        if (len(mine) == len(plan(grid, [d])) and len(commits) == 1
                and commits.pop().clean):
            kept |= set(mine)
        else:
            kept |= {r for r, o in mine.items() if o == source}
    # a selection counts only with its cells
    return {r for r in kept if r.cell in grid.cells or all(
        r._replace(cell=c) in kept for c in grid.selections[r.cell])}


def check_source(allow_dirty: bool, source: Source | None = None) -> None:
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


def run_grid(grid: GridConfig, runs: list[Run], jobs: int = 1,
             threads: int | None = None, device: str | None = None,
             dry_run: bool = False, echo=print, allow_dirty: bool = False
             ) -> list[dict]:
    """Run what is not finished of ``runs`` (see :func:`plan`) in ``jobs``
    processes of ``threads`` torch threads; returns the failures (each also
    written beside its missing result file). A result file counts as
    finished as :func:`counted` says; the source must be clean unless
    ``allow_dirty`` (:func:`check_source`)."""
    from tqdm.auto import tqdm

    if not dry_run:
        check_source(allow_dirty)
    out = grid.out_path
    with _OutLock(out):
        removed = [] if dry_run else [p.unlink()
                                      for p in out.rglob(".*.tmp")]
        every = plan(grid, sorted({r.dataset for r in runs}))
        trained = {r for r in every if r.cell in grid.cells
                   and finished(grid, r)}
        done = counted(grid, trained | {
            r for r in every if r.cell in grid.selections
            and selected(grid, r, trained)})
        replaced = len([r for r in runs if r in trained and r not in done])
        trained &= done
        todo = [r for r in runs if r.cell in grid.cells and r not in done]
        waiting = [r for r in runs if r.cell in grid.selections
                   and r not in done]
        echo(f"{len(runs)} runs in the grid: "
             f"{len(runs) - len(todo) - len(waiting)} finished (skipped), "
             f"{len(todo) + len(waiting)} to do, of which {replaced} replace"
             f" results of another commit than {SOURCE.label[:10]}"
             + ("." if dry_run else
                f"; {len(removed)} partial file(s) removed."))
        if dry_run:
            for r in todo + waiting:
                echo(f"  {r.dataset} {r.cell} seed {r.seed}")
            return []
        threads = threads or max(1, (os.cpu_count() or 1) // jobs)
        # a bar on a terminal; in a log file, the line of each finished run
        bar = tqdm(total=len(todo) + len(waiting), desc="runs", unit="run",
                   disable=None)
        failures = _execute(grid, todo, waiting, trained, jobs, threads,
                            device, bar, allow_dirty)
        bar.close()
    return failures


def _start_worker() -> None:
    """A worker ends with the runner, however it ends, and imports all the
    code it runs at once (the code :data:`~hngraph.results.SOURCE`
    names)."""
    from . import experiment  # noqa: F401

    die_with_parent()


def _execute(grid, todo, waiting, trained, jobs, threads, device, bar,
             allow_dirty):
    """The pool's loop: training runs in plan order; each selection, which
    only reads its cells' result files, here, as soon as its cells have
    finished."""
    failures = []

    count = iter(range(1, bar.total + 1))

    def finish(r, call):
        bar.update(1)
        where = f"[{next(count)}/{bar.total}] {r.dataset} {r.cell} seed {r.seed}"
        try:
            path, acc = call()
        except Exception as err:  # recorded; the other runs go on
            failures.append(record_failure(grid.out_path, r, err))
            bar.write(f"{where}: FAILED ({failures[-1]['error']})")
            return
        trained.add(r)
        bar.write(f"{where}: accuracy {100 * acc:.2f} % -> {path}")

    def select_ready():
        for r in [r for r in waiting if all(
                r._replace(cell=c) in trained
                for c in grid.selections[r.cell])]:
            waiting.remove(r)
            finish(r, lambda r=r: select_run(grid, r, allow_dirty))

    select_ready()
    # spawn: a forked child cannot use CUDA once the parent has touched it,
    # and a fresh interpreter per worker shares nothing by accident; each
    # worker ends with the runner, however it ends.
    pool = ProcessPoolExecutor(jobs, multiprocessing.get_context("spawn"),
                               initializer=_start_worker)
    try:
        futures = {pool.submit(train_run, grid, r, device, threads, SOURCE,
                               allow_dirty): r for r in todo}
        for future in as_completed(futures):
            finish(futures[future], future.result)
            select_ready()
    except KeyboardInterrupt:
        # Ctrl-C: no queued run starts, and the runs in flight end now (a
        # worker that caught the signal would otherwise take the next run);
        # every finished file stays, and no partial one is ever renamed in.
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in multiprocessing.active_children():
            worker.terminate()
        raise
    pool.shutdown()
    for r in waiting:  # one of its cells failed
        failures.append(record_failure(grid.out_path, r, RuntimeError(
            "a cell of this selection failed; see its .failed file")))
    return failures


#: The public names (the API reference lists these).
__all__ = ["GridConfig", "Run", "plan", "run_grid", "result_path", "read_result",
           "counted", "check_source"]
