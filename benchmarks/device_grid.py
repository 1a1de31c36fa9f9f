"""A grid's training on a GPU machine, its SVM stage here.

A GPU machine lent for a few minutes returns at most 8 files of 16 MiB. So
``train`` (run there by ``device_grid.sh``) trains the grid's unfinished
runs seed by seed, cell by cell, until its time budget would be passed, and
writes into ``--out``, after every run:

- ``<DATASET>_seed<k>.npz``: the graph embeddings (float32, compressed) of
  each trained cell of that seed, keyed by cell;
- ``runs.json``: each run's training record (config, dataset, loss history,
  training and wall seconds, the machine's provenance).

With two datasets, one file per (dataset, seed) and ``runs.json`` fit the 8
files for up to 3 seeds (a REDDIT-BINARY seed is about 7 MiB). ``score``
(run here on the fetched files) scores every run with the grid's protocol
and writes its result file, as ``hngraph grid run`` would, recording the GPU
machine as where it trained; ``hngraph grid run`` then makes the
selections.

    OUT=/tmp/out bash benchmarks/device_grid.sh            # on the GPU
    python benchmarks/device_grid.py score --config configs/verdict.yaml \\
        --fetched DIR                                        # here
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hngraph.grid import GridConfig, finished, plan, result_path
from hngraph.results import atomic_write_json, provenance


def train_runs(grid: GridConfig, runs, device: str, budget_s: float,
               out: Path) -> list[dict]:
    """Train ``runs`` in order while the next run is expected to end within
    ``budget_s`` (each run takes about as long as the longest so far)."""
    import torch
    from torch_geometric.loader import DataLoader

    from hngraph.experiment import describe, train

    start, longest, records = time.perf_counter(), 0.0, []
    out.mkdir(parents=True, exist_ok=True)
    for run in runs:
        if time.perf_counter() - start + longest > budget_s:
            break
        begun = time.perf_counter()
        config = grid.train_config(*run, device=device)
        dataset, model, history = train(config, progress=False,
                                        device=device)
        emb, _ = model.embed(DataLoader(dataset, batch_size=512),
                             history["device"])
        path = out / f"{run.dataset}_seed{run.seed}.npz"
        saved = dict(np.load(path)) if path.exists() else {}
        np.savez_compressed(path, **saved, **{run.cell: emb.astype(
            np.float32)})
        records.append({"dataset": run.dataset, "cell": run.cell,
                        "seed": run.seed, "config": config.to_dict(),
                        "described": describe(dataset), "history": history,
                        "wall_time_s": time.perf_counter() - begun,
                        "origin": provenance(history["device"])})
        atomic_write_json(out / "runs.json", records)
        longest = max(longest, time.perf_counter() - begun)
        print(f"{run.dataset} {run.cell} seed {run.seed}: "
              f"{time.perf_counter() - begun:.1f} s", flush=True)
        del model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return records


def score_runs(grid: GridConfig, fetched: Path) -> list[Path]:
    """Score every fetched run not finished yet; write its result file."""
    from hngraph.config import TrainConfig
    from hngraph.data import load_tudataset
    from hngraph.evaluation import svm_accuracy
    from hngraph.experiment import record
    from hngraph.grid import Run

    written, labels = [], {}
    for r in json.loads((fetched / "runs.json").read_text()):
        run = Run(r["dataset"], r["cell"], r["seed"])
        if finished(grid, run):
            continue
        config = TrainConfig.from_dict(r["config"])
        emb = np.load(fetched / f"{run.dataset}_seed{run.seed}.npz")[run.cell]
        source = (config.dataset, config.root)  # the labels: once a dataset
        if source not in labels:
            labels[source] = load_tudataset(config.dataset, root=config.root
                                            ).y.numpy()
        begun = time.perf_counter()
        scores = svm_accuracy(emb, labels[source], folds=config.folds,
                              seed=config.seed, repeats=config.repeats)
        svm_time = time.perf_counter() - begun
        result = record(config, r["described"], r["history"], scores,
                        svm_time, r["wall_time_s"] + svm_time, r["origin"])
        result.update(cell=run.cell, svm_machine=provenance("cpu"))
        written.append(atomic_write_json(result_path(grid.out_path, run),
                                         result))
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("train", "score"))
    p.add_argument("--config", default="configs/verdict.yaml")
    p.add_argument("--datasets", nargs="*")
    p.add_argument("--seeds", nargs="*", type=int)
    p.add_argument("--device", default="cuda")
    p.add_argument("--budget-s", type=float, default=480,
                   help="stop starting runs that would end after this")
    p.add_argument("--out", type=Path, help="train: where the files go")
    p.add_argument("--fetched", type=Path, help="score: the fetched files")
    args = p.parse_args(argv)
    grid = GridConfig.from_yaml(args.config)
    if args.mode == "score":
        for path in score_runs(grid, args.fetched):
            print(f"wrote {path}")
        return 0
    runs = [r for r in plan(grid, args.datasets, list(grid.cells),
                            args.seeds) if not finished(grid, r)]
    records = train_runs(grid, runs, args.device, args.budget_s, args.out)
    print(f"trained {len(records)} of the {len(runs)} unfinished runs; "
          f"files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
