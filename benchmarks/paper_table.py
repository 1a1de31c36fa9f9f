"""Run the paper grid: hard negatives against InfoGraph on the TUDatasets.

Each finished run writes one JSON file,
``<out>/<DATASET>/<objective>_seed<k>.json`` (atomically: a temporary file,
then a rename), and runs that already have a file are skipped, so the grid
can be stopped at any time and resumed by running the same command again.

    python benchmarks/paper_table.py                       # the whole grid
    python benchmarks/paper_table.py --datasets MUTAG --seeds 0 1
    python benchmarks/paper_table.py --objectives infograph paper-b1 --jobs 2
    python benchmarks/paper_table.py --large               # DD, REDDIT-BINARY

``paper-best`` and ``hcl-code-best`` (used for the large datasets) stand for
the ``beta`` with the highest mean accuracy over the finished small-dataset
runs of that mode: a choice made on test folds, which the report states.

A grid's ``selections`` (``name: [candidate objectives]``) are run like
objectives, once their candidates' runs of the same dataset and seed have
finished: :func:`hngraph.evaluation.select_results` chooses among the
candidates per outer fold by their inner scores, without reading the test
fold.

A grid's ``repeats`` is the number of outer cross-validation splits, one
number for every dataset or ``{DATASET: K}`` (datasets it does not name get
1). A result file counts as finished only when it was written with the
settings the grid asks for now; any other is run again and replaced.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml
from tqdm.auto import tqdm

from hngraph.config import TrainConfig, check_setting
from hngraph.results import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "paper_table.yaml"
GRID_KEYS = {"out", "epochs", "batch_size", "lr", "hidden", "layers",
             "features", "seeds", "datasets", "objectives", "large", "device",
             "selections", "baseline", "modes", "title", "columns", "pairs",
             "report", "published", "pools", "repeats"}


def load_grid(path: Path) -> dict:
    grid = yaml.safe_load(Path(path).read_text())
    unknown = sorted(set(grid) - GRID_KEYS)
    if unknown:
        raise KeyError(f"{path}: unknown key(s) {unknown}; known keys: "
                       f"{sorted(GRID_KEYS)}.")
    repeats = grid.get("repeats", 1)
    for d, k in (repeats.items() if isinstance(repeats, dict)
                 else [(None, repeats)]):
        check_setting("repeats", k, f"{path}: repeats"
                      + (f"[{d}]" if d else ""))
    return grid


def repeats_of(grid: dict, dataset: str) -> int:
    """The grid's outer splits for ``dataset`` (see the module's text)."""
    repeats = grid.get("repeats", 1)
    return repeats.get(dataset, 1) if isinstance(repeats, dict) else repeats


def run_config(grid: dict, dataset: str, name: str, spec: dict, seed: int,
               out: str, device: str) -> TrainConfig:
    """The :class:`TrainConfig` of one training run of the grid."""
    return TrainConfig.from_dict({
        "dataset": dataset, "seed": seed, "device": device, "out": out,
        "repeats": repeats_of(grid, dataset),
        **{k: grid[k] for k in ("epochs", "batch_size", "lr", "hidden",
                                "layers", "features") if k in grid},
        **spec}, source=f"objective {name}")


def same_settings(result: dict, config: TrainConfig) -> bool:
    """Whether a result file was written with the settings of ``config``
    (every setting that changes the result, as the run's file key)."""
    from hngraph.experiment import settings_key

    try:
        recorded = TrainConfig.from_dict(result["config"])
    except (KeyError, TypeError, ValueError):
        return False
    return settings_key(recorded) == settings_key(config)


def result_path(out: Path, dataset: str, objective: str, seed: int) -> Path:
    return Path(out) / dataset / f"{objective}_seed{seed}.json"


def failure_path(out: Path, dataset: str, objective: str, seed: int) -> Path:
    """Where a failed run's error is recorded (removed when it succeeds)."""
    return Path(out) / dataset / f"{objective}_seed{seed}.failed"


def read_result(path: Path) -> dict | None:
    """A finished run's result, or ``None`` when there is no complete file."""
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if "accuracy_mean" in result else None


def best_beta(out: Path, grid: dict, mode: str) -> str:
    """The ``mode`` objective with the best mean accuracy over the finished
    runs of the small datasets (a choice on test folds).

    Candidates train with the grid's epochs and features (no ``epochs`` or
    ``features`` of their own) and must have runs on every small dataset
    that any candidate has runs on, so that a column run on a few datasets
    only (an extra ``tau_plus``) is not compared on easier datasets than the
    others.
    """
    accs = {}
    for name, spec in grid["objectives"].items():
        if spec.get("reweight", "paper") != mode or spec["beta"] == 0 \
                or "epochs" in spec or "features" in spec:
            continue
        for d in grid["datasets"]:
            found = [r["accuracy_mean"] for r in map(read_result, (
                Path(out) / d).glob(f"{name}_seed*.json")) if r]
            if found:
                accs.setdefault(name, {})[d] = found
    covered = set().union(*(set(v) for v in accs.values())) if accs else set()
    scores = {name: sum(sum(a) for a in v.values())
              / sum(len(a) for a in v.values())
              for name, v in accs.items() if set(v) == covered}
    if not scores:
        raise RuntimeError(f"no finished {mode} runs on the small datasets: "
                           "run them before the large ones.")
    return max(scores, key=scores.get)


def plan(grid: dict, args) -> list[tuple[str, str, dict, int]]:
    """(dataset, objective name, objective spec, seed) of every wanted run."""
    out = Path(args.out or grid["out"])
    if args.large:
        part = grid["large"]
        names = []
        for name in part["objectives"]:
            if name.endswith("-best"):
                name = best_beta(out, grid, name[:-len("-best")])
            names.append(name)
        datasets, seeds = part["datasets"], part["seeds"]
    else:
        names, datasets, seeds = (list(grid["objectives"]), grid["datasets"],
                                  grid["seeds"])
    datasets = args.datasets or datasets
    names = args.objectives or names
    seeds = args.seeds if args.seeds is not None else seeds
    if args.objectives is None and not args.large:
        names += list(grid.get("selections", {}))
    specs = {**grid["objectives"], **{n: {"select": c} for n, c in
                                      grid.get("selections", {}).items()}}
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise KeyError(f"unknown objective(s) {unknown}; the config defines "
                       f"{sorted(specs)}.")
    # Seed by seed, so that every cell of a seed finishes close together.
    return [(d, n, specs[n], s) for d in datasets for s in seeds
            for n in names]


def run_one(dataset: str, name: str, spec: dict, seed: int, grid: dict,
            out: str, device: str, threads: int) -> tuple[str, float]:
    """Train and evaluate one cell's seed; write its result file."""
    import torch

    from hngraph.experiment import run_experiment

    torch.set_num_threads(threads)
    config = run_config(grid, dataset, name, spec, seed, out, device)
    result, _ = run_experiment(config, progress=False)
    result["objective_name"] = name
    path = result_path(Path(out), dataset, name, seed)
    atomic_write_json(path, result)
    failure_path(Path(out), dataset, name, seed).unlink(missing_ok=True)
    return str(path), result["accuracy_mean"]


def run_selection(dataset: str, name: str, candidates: list[str], seed: int,
                  out: str) -> tuple[str, float]:
    """Nested selection among the candidates' finished runs of one seed
    (:func:`hngraph.evaluation.select_results`, from their result files);
    writes its result file, with the same metadata as a training run's."""
    from datetime import datetime, timezone

    from hngraph.evaluation import select_results
    from hngraph.results import git_commit, machine_info, versions

    start = time.perf_counter()
    found = {c: read_result(result_path(Path(out), dataset, c, seed))
             for c in candidates}
    config = found[candidates[0]]["config"]
    chosen = select_results(found)
    result = {"objective_name": name, "objective": "nested-selection",
              "seed": seed, "candidates": candidates,
              "candidate_finished": {c: r["finished"]
                                     for c, r in found.items()},
              "config": {"dataset": dataset, "folds": config["folds"],
                         "repeats": config["repeats"]},
              **chosen.to_dict(), "commit": git_commit(),
              "versions": versions(), "machine": machine_info("cpu"),
              "wall_time_s": time.perf_counter() - start,
              "finished": datetime.now(timezone.utc).isoformat(
                  timespec="seconds")}
    path = result_path(Path(out), dataset, name, seed)
    atomic_write_json(path, result)
    return str(path), result["accuracy_mean"]


def finished(out: Path, grid: dict, run: tuple, device: str) -> bool:
    """Whether the training run ``run`` (a :func:`plan` entry) has a result
    file written with the grid's current settings."""
    d, n, spec, s = run
    result = read_result(result_path(out, d, n, s))
    return result is not None and same_settings(
        result, run_config(grid, d, n, spec, s, str(out), device))


def selected(out: Path, run: tuple, trained: set) -> bool:
    """Whether the selection ``run`` has a result file made from its
    candidates' current result files (each in ``trained``)."""
    d, n, spec, s = run
    result = read_result(result_path(out, d, n, s))
    if result is None or not all((d, c, s) in trained
                                 for c in spec["select"]):
        return False
    return result.get("candidate_finished") == {
        c: read_result(result_path(out, d, c, s))["finished"]
        for c in spec["select"]}


def record_failure(out: Path, dataset: str, name: str, seed: int,
                   err: BaseException) -> dict:
    """Write what went wrong in a run beside its (missing) result file."""
    failure = {"dataset": dataset, "objective": name, "seed": seed,
               "error": f"{type(err).__name__}: {err}",
               "traceback": "".join(traceback.format_exception(err))}
    atomic_write_json(failure_path(out, dataset, name, seed), failure)
    return failure


def clean_partial(out: Path) -> int:
    """Remove temporary files left by a run killed while writing."""
    stale = list(Path(out).rglob(".*.tmp"))
    for path in stale:
        path.unlink()
    return len(stale)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--datasets", nargs="*")
    p.add_argument("--objectives", nargs="*")
    p.add_argument("--seeds", nargs="*", type=int)
    p.add_argument("--large", action="store_true",
                   help="run the large datasets' part of the grid")
    p.add_argument("--epochs", type=int, help="override the config's epochs")
    p.add_argument("--out", help="override the config's output folder")
    p.add_argument("--device", default=None, help="auto, cpu or cuda")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs in parallel, each in its own process")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default: cores / jobs)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs to do and exit")
    args = p.parse_args(argv)
    grid = load_grid(Path(args.config))
    if args.epochs:
        grid["epochs"] = args.epochs
    out = Path(args.out or grid["out"])
    device = args.device or grid.get("device", "auto")
    runs = plan(grid, args)
    removed = clean_partial(out)
    trained = {(d, n, s) for d, n, spec, s in runs
               if "select" not in spec and finished(out, grid, (d, n, spec, s),
                                                     device)}
    todo = [r for r in runs if "select" not in r[2]
            and (r[0], r[1], r[3]) not in trained]
    selections = [r for r in runs if "select" in r[2]
                  and not selected(out, r, trained)]
    print(f"{len(runs)} runs in the grid: "
          f"{len(runs) - len(todo) - len(selections)} finished (skipped), "
          f"{len(todo) + len(selections)} to do; {removed} partial file(s) "
          "removed.", flush=True)
    if args.dry_run:
        for d, n, _, s in todo + selections:
            print(f"  {d} {n} seed {s}")
        return 0
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    start = time.perf_counter()
    failures = []
    bar = tqdm(total=len(todo) + len(selections), desc="runs", unit="run")
    # spawn: a forked child cannot use CUDA once the parent has touched it,
    # and a fresh interpreter per worker shares nothing by accident.
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing
                             .get_context("spawn")) as pool:
        futures = {pool.submit(run_one, d, n, spec, s, grid, str(out), device,
                               threads): (d, n, s) for d, n, spec, s in todo}

        def submit_ready():
            """Selections whose candidates have all finished go next."""
            for r in [r for r in selections if all(
                    (r[0], c, r[3]) in trained for c in r[2]["select"])]:
                selections.remove(r)
                futures[pool.submit(run_selection, r[0], r[1], r[2]["select"],
                                    r[3], str(out))] = (r[0], r[1], r[3])

        submit_ready()
        while futures:
            future = next(as_completed(futures))
            d, n, s = futures.pop(future)
            bar.update(1)
            try:
                path, acc = future.result()
            except Exception as err:  # recorded; the other runs go on
                failures.append(record_failure(out, d, n, s, err))
                bar.write(f"{d} {n} seed {s}: FAILED ({failures[-1]['error']})")
                continue
            trained.add((d, n, s))
            submit_ready()
            bar.write(f"{d} {n} seed {s}: accuracy {acc:.4f} -> {path}")
    for d, n, _, s in selections:  # a candidate failed
        failures.append(record_failure(out, d, n, s, RuntimeError(
            "a candidate of this selection failed; see its .failed file")))
    bar.close()
    print(f"done: {bar.total - len(failures)} of {bar.total} runs in "
          f"{time.perf_counter() - start:.0f} s.")
    if failures:
        print(f"{len(failures)} run(s) failed (errors in "
              f"<out>/<DATASET>/*.failed):")
        for f in failures:
            print(f"  {f['dataset']} {f['objective']} seed {f['seed']}: "
                  f"{f['error']}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
