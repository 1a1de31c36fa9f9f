"""One run of the main job: load, train, embed, score, record."""
from __future__ import annotations

import time
from pathlib import Path

from .config import TrainConfig
from .data import load_tudataset
from .models import GraphCL, GraphModel, InfoGraph
from .results import git_commit, machine_info
from .training import evaluate, fit, seed_everything


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
                   ) -> tuple[dict, GraphModel]:
    """Train the model of ``config`` and score its embeddings.

    Returns ``(result, model)``; ``result`` is JSON-serialisable and records
    the config, commit, machine, accuracies, loss history and wall time.
    """
    start = time.perf_counter()
    dataset = load_tudataset(config.dataset, root=config.root,
                             features=config.features)
    seed_everything(config.seed)
    training_state = None
    if config.checkpoint_every:
        training_state = Path(config.out) / f"{run_stem(config)}.train.pt"
    model = build_model(config, dataset.num_features)
    model.feature_recipe = dataset.feature_recipe
    history = fit(model, dataset, epochs=config.epochs,
                  batch_size=config.batch_size, lr=config.lr,
                  seed=config.seed, device=config.device,
                  eval_epochs=config.eval_epochs, folds=config.folds,
                  progress=progress, checkpoint=training_state,
                  checkpoint_every=config.checkpoint_every or 1)
    final = evaluate(model, dataset, seed=config.seed, folds=config.folds)
    result = {
        "config": config.to_dict(),
        "objective": config.tag,
        "seed": config.seed,
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
