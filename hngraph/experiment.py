"""One run of the main job: load, train, embed, score, record."""
from __future__ import annotations

import time
from pathlib import Path

import torch.distributed as dist

from . import distributed as dist_utils
from .config import TrainConfig
from .data import load_tudataset
from .models import GraphCL, GraphModel, InfoGraph
from .results import git_commit, machine_info
from .training import evaluate, fit, resolve_device, seed_everything


def run_stem(config: TrainConfig) -> str:
    """Name that identifies a run by its dataset, objective and seed."""
    return (f"{config.dataset}_{config.tag}_beta{config.beta:g}"
            f"_tau{config.tau_plus:g}_seed{config.seed}")


def build_model(config: TrainConfig, in_dim: int) -> GraphModel:
    """The model ``config`` asks for: :class:`InfoGraph` (``jsd``) or
    :class:`GraphCL` (``infonce``)."""
    if config.objective == "infonce":
        return GraphCL(in_dim, config.hidden, config.layers, beta=config.beta,
                       tau_plus=config.tau_plus,
                       temperature=config.temperature, aug1=config.aug1,
                       aug2=config.aug2, aug_ratio=config.aug_ratio)
    return InfoGraph(in_dim, config.hidden, config.layers, beta=config.beta,
                     tau_plus=config.tau_plus, reweight=config.reweight,
                     prior=config.prior, chunk_size=config.chunk_size)


def run_experiment(config: TrainConfig, progress: bool = True
                   ) -> tuple[dict | None, GraphModel]:
    """Train the model of ``config`` and score its embeddings.

    Returns ``(result, model)``; ``result`` is JSON-serialisable and records
    the config, commit, machine, processes, accuracies, loss history and
    wall time.

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
        return _run(config, progress, device, start)
    finally:
        if joined:
            dist.destroy_process_group()


def _run(config: TrainConfig, progress: bool, device, start: float
         ) -> tuple[dict | None, GraphModel]:
    lead = dist_utils.rank() == 0
    if dist_utils.is_distributed() and not lead:
        dist.barrier()  # rank 0 builds the processed cache first
    dataset = load_tudataset(config.dataset, root=config.root,
                             features=config.features)
    if dist_utils.is_distributed() and lead:
        dist.barrier()
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
                  batching=config.batching)
    if not lead:
        return None, model
    final = evaluate(model, dataset, seed=config.seed, folds=config.folds)
    result = {
        "config": config.to_dict(),
        "objective": config.tag,
        "seed": config.seed,
        "processes": dist_utils.world_size(),
        "dataset": {"name": config.dataset, "graphs": len(dataset),
                    "classes": dataset.num_classes,
                    "features": dataset.feature_recipe},
        "accuracy_mean": final["accuracy_mean"],
        "accuracy_std": final["accuracy_std"],
        "fold_accuracies": final["fold_accuracies"],
        "best_C": final["best_C"],
        "epoch_evaluated": config.epochs,
        "loss_history": history["loss"],
        "eval_history": {str(k): v for k, v in history["eval"].items()},
        "train_time_s": history["train_time"],
        "wall_time_s": time.perf_counter() - start,
        "commit": git_commit(),
        "machine": machine_info(history["device"]),
    }
    return result, model


def output_paths(config: TrainConfig) -> tuple[Path, Path]:
    """The JSON result and the model checkpoint of a run."""
    out, stem = Path(config.out), run_stem(config)
    return out / f"{stem}.json", out / f"{stem}.pt"
