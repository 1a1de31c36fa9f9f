"""Run the paper grid: hard negatives against InfoGraph on the TUDatasets.

Each finished run writes one JSON file,
``<out>/<DATASET>/<objective>_seed<k>.json`` (atomically: a temporary file,
then a rename), and runs that already have a file are skipped, so the grid
can be stopped at any time and resumed by running the same command again.

    python benchmarks/paper_table.py                       # the whole grid
    python benchmarks/paper_table.py --datasets MUTAG --seeds 0 1
    python benchmarks/paper_table.py --objectives infograph paper-b1 --jobs 2
    python benchmarks/paper_table.py --large               # DD, REDDIT-BINARY

``paper-best`` and ``reference-best`` (used for the large datasets) stand for
the ``beta`` with the highest mean accuracy over the finished small-dataset
runs of that mode: a choice made on test folds, which the report states.

A grid's ``selections`` (``name: [candidate objectives]``) are run like
objectives, once their candidates' runs of the same dataset and seed have
finished: :func:`hngraph.evaluation.select_embeddings` chooses among the
candidates' embeddings per outer fold without reading the test fold.
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

from hngraph.config import TrainConfig
from hngraph.results import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "paper_table.yaml"
GRID_KEYS = {"out", "epochs", "batch_size", "lr", "hidden", "layers",
             "features", "seeds", "datasets", "objectives", "large", "device",
             "selections", "baseline", "modes", "title", "columns", "pairs",
             "report", "published", "pools"}


def load_grid(path: Path) -> dict:
    grid = yaml.safe_load(Path(path).read_text())
    unknown = sorted(set(grid) - GRID_KEYS)
    if unknown:
        raise KeyError(f"{path}: unknown key(s) {unknown}; known keys: "
                       f"{sorted(GRID_KEYS)}.")
    return grid


def result_path(out: Path, dataset: str, objective: str, seed: int) -> Path:
    return Path(out) / dataset / f"{objective}_seed{seed}.json"


def embedding_path(out: Path, dataset: str, objective: str, seed: int
                   ) -> Path:
    """Where a run's graph embeddings are kept for model selection across
    runs (:func:`hngraph.evaluation.select_embeddings`); not committed."""
    return Path(out) / dataset / "embeddings" / f"{objective}_seed{seed}.npy"


def save_embeddings(model, config: TrainConfig, path: Path) -> None:
    """The trained model's graph embeddings, in the dataset's order
    (atomically: a temporary file, then a rename)."""
    import numpy as np
    from torch_geometric.loader import DataLoader

    from hngraph.data import load_tudataset

    dataset = load_tudataset(config.dataset, root=config.root,
                             features=config.features)
    emb, _ = model.embed(DataLoader(dataset, batch_size=512))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, emb)
    os.replace(tmp, path)


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
    return [(d, n, specs[n], s) for d in datasets for n in names
            for s in seeds]


def run_one(dataset: str, name: str, spec: dict, seed: int, grid: dict,
            out: str, device: str, threads: int) -> tuple[str, float]:
    """Train and evaluate one cell's seed; write its result file."""
    import torch

    from hngraph.experiment import run_experiment

    torch.set_num_threads(threads)
    config = TrainConfig.from_dict({
        "dataset": dataset, "seed": seed, "device": device, "out": out,
        **{k: grid[k] for k in ("epochs", "batch_size", "lr", "hidden",
                                "layers", "features") if k in grid},
        **spec}, source=f"objective {name}")
    result, model = run_experiment(config, progress=False)
    result["objective_name"] = name
    path = result_path(Path(out), dataset, name, seed)
    save_embeddings(model, config, embedding_path(Path(out), dataset, name,
                                                  seed))
    atomic_write_json(path, result)
    failure_path(Path(out), dataset, name, seed).unlink(missing_ok=True)
    return str(path), result["accuracy_mean"]


def run_selection(dataset: str, name: str, candidates: list[str], seed: int,
                  out: str) -> tuple[str, float]:
    """Nested selection among the candidates' embeddings of one seed; writes
    its result file, with the same metadata as a training run's."""
    from datetime import datetime, timezone

    import numpy as np

    from hngraph.data import load_tudataset
    from hngraph.evaluation import select_embeddings
    from hngraph.results import git_commit, machine_info, versions

    start = time.perf_counter()
    first = read_result(result_path(Path(out), dataset, candidates[0], seed))
    config = first["config"]
    graphs = load_tudataset(dataset, root=config["root"],
                            features=config["features"])
    embeddings = {c: np.load(embedding_path(Path(out), dataset, c, seed))
                  for c in candidates}
    chosen = select_embeddings(embeddings, graphs.y.numpy(),
                               folds=config["folds"], seed=seed)
    result = {"objective_name": name, "objective": "nested-selection",
              "seed": seed, "candidates": candidates,
              "config": {"dataset": dataset, "folds": config["folds"]},
              **chosen.to_dict(), "commit": git_commit(),
              "versions": versions(), "machine": machine_info("cpu"),
              "wall_time_s": time.perf_counter() - start,
              "finished": datetime.now(timezone.utc).isoformat(
                  timespec="seconds")}
    path = result_path(Path(out), dataset, name, seed)
    atomic_write_json(path, result)
    return str(path), result["accuracy_mean"]


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
    todo = [r for r in runs
            if read_result(result_path(out, r[0], r[1], r[3])) is None]
    waiting = [r for r in todo if "select" in r[2] and not all(
        read_result(result_path(out, r[0], c, r[3])) for c in r[2]["select"])]
    todo = [r for r in todo if r not in waiting]
    print(f"{len(runs)} runs in the grid: "
          f"{len(runs) - len(todo) - len(waiting)} finished (skipped), "
          f"{len(todo)} to do"
          + (f", {len(waiting)} selection(s) waiting for their candidates "
             "(run the command again once they have finished)"
             if waiting else "")
          + f"; {removed} partial file(s) removed.", flush=True)
    if args.dry_run:
        for d, n, _, s in todo:
            print(f"  {d} {n} seed {s}")
        return 0
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    start = time.perf_counter()
    failures = []
    bar = tqdm(total=len(todo), desc="runs", unit="run")
    # spawn: a forked child cannot use CUDA once the parent has touched it,
    # and a fresh interpreter per worker shares nothing by accident.
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing
                             .get_context("spawn")) as pool:
        futures = {
            (pool.submit(run_selection, d, n, spec["select"], s, str(out))
             if "select" in spec else
             pool.submit(run_one, d, n, spec, s, grid, str(out), device,
                         threads)): (d, n, s) for d, n, spec, s in todo}
        for future in as_completed(futures):
            d, n, s = futures[future]
            bar.update(1)
            try:
                path, acc = future.result()
            except Exception as err:  # recorded; the other runs go on
                failures.append(record_failure(out, d, n, s, err))
                bar.write(f"{d} {n} seed {s}: FAILED ({failures[-1]['error']})")
                continue
            bar.write(f"{d} {n} seed {s}: accuracy {acc:.4f} -> {path}")
    bar.close()
    print(f"done: {len(todo) - len(failures)} of {len(todo)} runs in "
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
