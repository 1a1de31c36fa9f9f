"""One run of the main job: load, train, embed, score, record."""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
from pathlib import Path

import torch.distributed as dist

from . import distributed as dist_utils
from .config import TrainConfig
from .data import load_tudataset
from .evaluation import check_labels, evaluate
from .models import GraphCL, GraphModel, InfoGraph
from .results import provenance
from .training import fit, resolve_device, seed_everything

#: Config keys that never change a run's result: where it writes, on what
#: hardware, and how often it saves its state.
NOT_IN_KEY = ("out", "device", "batching", "checkpoint_every")


def settings_key(config: TrainConfig, processes: int = 1) -> str:
    """8 hex digits of a hash of every setting that changes the result (the
    config less :data:`NOT_IN_KEY`, and the number of processes). The data
    source enters it when ``root`` names one (``root: null``, the raw files
    of ``$HNGRAPH_DATA``, is the usual source and keeps the key of a run
    that does not name one)."""
    settings = {k: v for k, v in config.to_dict().items()
                if k not in NOT_IN_KEY and not (k == "root" and v is None)}
    settings["processes"] = processes
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def run_stem(config: TrainConfig, processes: int | None = None) -> str:
    """Name of a run: dataset, objective and seed to read, and the
    :func:`settings_key`, so that runs with other settings never share a
    file. ``processes`` defaults to the launch's world size."""
    if processes is None:
        processes = int(os.environ.get("WORLD_SIZE", "1"))
    return (f"{config.dataset}_{config.tag}_beta{config.beta:g}"
            f"_tau{config.tau_plus:g}_seed{config.seed}_"
            f"{settings_key(config, processes)}")


def build_model(config: TrainConfig, in_dim: int) -> GraphModel:
    """The model ``config`` asks for: :class:`InfoGraph` (``jsd``) or
    :class:`GraphCL` (``infonce``)."""
    model = GraphCL if config.objective == "infonce" else InfoGraph
    arguments = inspect.signature(model).parameters
    return model(in_dim, **{k: v for k, v in config.to_dict().items()
                            if k in arguments})


def run_experiment(config: TrainConfig, progress: bool = True,
                   restart: bool = False) -> tuple[dict | None, GraphModel]:
    """Train the model of ``config`` and score its embeddings.

    Returns ``(result, model)``; ``result`` is JSON-serialisable and records
    the config, commit, library versions, machine, processes, accuracies,
    loss history, the finishing time (UTC), and the seconds of training
    (over all sessions of a resumed run, whose resumes it lists), of the SVM
    stage and of this process. ``restart`` trains from the start over an
    existing training checkpoint (see :func:`fit`).

    In a worker started by ``torchrun`` (or ``hngraph train --nproc N``), it
    joins the process group and trains with DDP (see :func:`fit`); rank 0
    alone evaluates, and the other ranks return ``(None, model)``.
    """
    start = time.perf_counter()
    device = resolve_device(config.device)
    joined = dist_utils.launched_by_torchrun() and not dist.is_initialized()
    if joined:
        device = dist_utils.init_from_env(device)
    try:
        return _run(config, progress, device, start, restart)
    finally:
        if joined:
            dist.destroy_process_group()


def _run(config: TrainConfig, progress: bool, device, start: float,
         restart: bool) -> tuple[dict | None, GraphModel]:
    dataset, model, history = train(config, progress, device, restart)
    if dist_utils.rank() != 0:
        return None, model
    svm_start = time.perf_counter()
    final = evaluate(model, dataset, seed=config.seed, folds=config.folds,
                     repeats=config.repeats)
    svm_time = time.perf_counter() - svm_start
    result = record(config, describe(dataset), history, final, svm_time,
                    time.perf_counter() - start,
                    provenance(history["device"]))
    return result, model


def train(config: TrainConfig, progress: bool = True, device="cpu",
          restart: bool = False):
    """Load the dataset of ``config``, check that its labels can be scored,
    and train the model of ``config`` on ``device`` (see :func:`fit`).

    Returns:
        ``(dataset, model, history)``.
    """
    lead = dist_utils.rank() == 0
    if dist_utils.is_distributed() and not lead:
        dist.barrier()  # rank 0 builds the processed cache first
    dataset = load_tudataset(config.dataset, root=config.root,
                             features=config.features)
    if dist_utils.is_distributed() and lead:
        dist.barrier()
    check_labels(dataset.y.numpy(), config.folds)  # before any training
    seed_everything(config.seed)
    training_state = None
    if config.checkpoint_every:
        training_state = Path(config.out) / f"{run_stem(config)}.train.pt"
    model = build_model(config, dataset.num_features)
    model.feature_recipe = dataset.feature_recipe
    history = fit(model, dataset, epochs=config.epochs,
                  batch_size=config.batch_size, lr=config.lr,
                  seed=config.seed, device=device,
                  eval_epochs=config.eval_epochs, folds=config.folds,
                  progress=progress, checkpoint=training_state,
                  checkpoint_every=config.checkpoint_every or 1,
                  batching=config.batching, restart=restart,
                  batch_order=config.batch_order)
    return dataset, model, history


def describe(dataset) -> dict:
    """What a result records of its dataset."""
    return {"name": dataset.name, "graphs": len(dataset),
            "classes": dataset.num_classes,
            "features": dataset.feature_recipe}


def record(config: TrainConfig, dataset: dict, history: dict, scores,
           svm_time: float, wall_time: float, origin: dict) -> dict:
    """A run's result (JSON-serialisable): its config, tag, seed, processes,
    dataset (:func:`describe`), the scores (an
    :class:`~hngraph.evaluation.SVMResult`), the loss and evaluation
    history, the training, SVM and wall seconds, the resumes, and where it
    was trained (``origin``, :func:`hngraph.results.provenance`)."""
    return {
        "config": config.to_dict(),
        "tag": config.tag,
        "seed": config.seed,
        "processes": dist_utils.world_size(),
        "dataset": dataset,
        **scores.to_dict(),
        "epoch_evaluated": config.epochs,
        "loss_history": history["loss"],
        "eval_history": {str(k): v for k, v in history["eval"].items()},
        "train_time_s": history["train_time"],
        "svm_time_s": svm_time,
        "wall_time_s": wall_time,
        "resumed_at_epochs": history["resumed_at"],
        **origin,
    }


def output_paths(config: TrainConfig) -> tuple[Path, Path]:
    """The JSON result and the model checkpoint of a run."""
    out, stem = Path(config.out), run_stem(config)
    return out / f"{stem}.json", out / f"{stem}.pt"


#: The public names (the API reference lists these).
__all__ = ["run_experiment", "settings_key", "run_stem", "build_model"]
