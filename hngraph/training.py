"""Training loop: seeded, with a progress bar, a device choice and a loss
history, and SVM evaluation at chosen epochs."""
from __future__ import annotations

import random
import time
from typing import Iterable

import numpy as np
import torch
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from .evaluation import svm_accuracy


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA "
                         "GPU here. Use device='cpu' or 'auto'.")
    return device


def train_loader(dataset, batch_size: int, seed: int) -> DataLoader:
    """A shuffling loader whose order depends on ``seed`` only.

    A last batch of a single graph cannot be contrasted against anything, so
    it is dropped when ``len(dataset) % batch_size == 1``.
    """
    if len(dataset) < 2:
        raise ValueError(f"the dataset holds {len(dataset)} graph(s); "
                         "contrastive training needs at least 2.")
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True,
                      generator=gen,
                      drop_last=len(dataset) % batch_size == 1)


def evaluate(model, dataset, seed: int = 0, folds: int = 10,
             batch_size: int = 512) -> dict:
    """Embed every graph (eval mode) and score it with :func:`svm_accuracy`."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    emb, labels = model.embed(loader)
    mean, std, details = svm_accuracy(emb, labels, folds=folds, seed=seed,
                                      return_folds=True)
    return {"accuracy_mean": mean, "accuracy_std": std, **details}


def fit(model, dataset, epochs: int = 20, batch_size: int = 128,
        lr: float = 1e-3, seed: int = 0, device: str = "auto",
        eval_epochs: Iterable[int] = (), folds: int = 10,
        progress: bool = True) -> dict:
    """Train ``model`` (anything with ``.loss(batch)``) with Adam.

    Args:
        model: for example :class:`~hngraph.InfoGraph`.
        dataset: PyG dataset (or list of ``Data``) with node features.
        epochs, batch_size, lr: optimisation settings.
        seed: seeds the batch order and torch's global generator (used by
            the prior term). Call :func:`seed_everything` before building the
            model to seed its initial weights too.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        eval_epochs: epochs after which to run the SVM evaluation; the
            results are reported, never used to pick an epoch.
        folds: outer folds of the evaluation.
        progress: show a tqdm progress bar.

    Returns:
        ``{"loss": [mean loss per epoch], "eval": {epoch: result},
        "train_time": seconds, "device": str}``.
    """
    device = resolve_device(device)
    torch.manual_seed(seed)
    model.to(device)
    loader = train_loader(dataset, batch_size, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    eval_epochs = set(int(e) for e in eval_epochs)
    history = {"loss": [], "eval": {}, "device": str(device)}
    train_time = 0.0
    bar = tqdm(range(1, epochs + 1), desc="train", unit="epoch",
               disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        for data in loader:
            data = data.to(device)
            optimizer.zero_grad()
            loss = model.loss(data)
            loss.backward()
            optimizer.step()
            total += loss.item() * data.num_graphs
            count += data.num_graphs
        train_time += time.perf_counter() - start
        epoch_loss = total / count
        if not np.isfinite(epoch_loss):
            raise FloatingPointError(
                f"the training loss became {epoch_loss} at epoch {epoch}. "
                "Lower the learning rate or beta, or check the features.")
        history["loss"].append(epoch_loss)
        bar.set_postfix(loss=f"{epoch_loss:.4f}")
        if epoch in eval_epochs:
            history["eval"][epoch] = evaluate(model, dataset, seed, folds)
    history["train_time"] = train_time
    return history
