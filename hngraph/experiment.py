"""One run of the main job: load, train, embed, score, record."""
from __future__ import annotations

import time
from pathlib import Path

from .config import TrainConfig
from .data import load_tudataset
from .models import InfoGraph
from .results import git_commit, machine_info
from .training import evaluate, fit, seed_everything


def result_name(config: TrainConfig) -> str:
    """File name that identifies a run by its dataset, objective and seed."""
    return (f"{config.dataset}_{config.objective}_beta{config.beta:g}"
            f"_tau{config.tau_plus:g}_seed{config.seed}.json")


def run_experiment(config: TrainConfig, progress: bool = True) -> tuple[dict,
                                                                        InfoGraph]:
    """Train InfoGraph with ``config``'s objective and score its embeddings.

    Returns ``(result, model)``; ``result`` is JSON-serialisable and records
    the config, commit, machine, accuracies, loss history and wall time.
    """
    start = time.perf_counter()
    dataset = load_tudataset(config.dataset, root=config.root,
                             features=config.features)
    seed_everything(config.seed)
    model = InfoGraph(dataset.num_features, config.hidden, config.layers,
                      beta=config.beta, tau_plus=config.tau_plus,
                      reweight=config.reweight, prior=config.prior,
                      chunk_size=config.chunk_size)
    history = fit(model, dataset, epochs=config.epochs,
                  batch_size=config.batch_size, lr=config.lr,
                  seed=config.seed, device=config.device,
                  eval_epochs=config.eval_epochs, folds=config.folds,
                  progress=progress)
    final = evaluate(model, dataset, seed=config.seed, folds=config.folds)
    result = {
        "config": config.to_dict(),
        "objective": config.objective,
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


def output_path(config: TrainConfig) -> Path:
    return Path(config.out) / result_name(config)
