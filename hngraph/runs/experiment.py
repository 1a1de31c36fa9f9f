"""One run of the main job in its three stages: train (load, train, embed),
score (the SVM protocol on the embeddings) and record (the result)."""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch.distributed as dist
from torch_geometric.loader import DataLoader

from .. import distributed as dist_utils
from ..config import TrainConfig
from ..distributed import resolve_device
from ..errors import HngraphError, InvalidValueError
from ..eval.scoring import SVMResult, check_labels, svm_accuracy
from ..nn.models import GraphModel
from ..registry import ENCODERS, OBJECTIVES, SOURCES
from ..results import (
    RunFiles,
    atomic_write_npz,
    git_commit,
    provenance,
    run_files,
)
from ..train.loop import fit, seed_everything

#: Config keys that never change a run's result: where it writes, on what
#: hardware, and how often it saves its state.
NOT_IN_KEY = ("out", "device", "batching", "checkpoint_every")


#: Settings at the values all runs had before the setting existed: left
#: out of :func:`settings_key`.
_KEY_OF_OLD = {"source": "tu", "encoder": "gin"}


def settings_key(config: TrainConfig, *, processes: int = 1) -> str:
    """8 hex digits of a hash of every setting that changes the result (the
    config less :data:`NOT_IN_KEY`, and the number of processes). The data
    source enters it when ``root`` names one (``root: null``, the raw files
    of ``$HNGRAPH_DATA``, is the usual source and keeps the key of a run
    that does not name one), ``source`` when it is not ``tu``, and
    ``encoder`` when it is not ``gin`` (so the keys of runs made before
    those settings existed stand)."""
    settings = {k: v for k, v in config.to_dict().items()
                if k not in NOT_IN_KEY and not (k == "root" and v is None)
                and not (k in _KEY_OF_OLD and _KEY_OF_OLD[k] == v)}
    settings["processes"] = processes
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def run_stem(config: TrainConfig, *, processes: int | None = None) -> str:
    """Name of a run: dataset, objective and seed to read, and the
    :func:`settings_key`, so that runs with other settings never share a
    file. ``processes`` defaults to the launch's world size."""
    if processes is None:
        processes = int(os.environ.get("WORLD_SIZE", "1"))
    return (f"{config.dataset}_{config.tag}_beta{config.beta:g}"
            f"_tau{config.tau_plus:g}_seed{config.seed}_"
            f"{settings_key(config, processes=processes)}")


def build_model(config: TrainConfig, in_dim: int) -> GraphModel:
    """The model ``config`` asks for: the class of its objective in
    :data:`hngraph.registry.OBJECTIVES` (:class:`~hngraph.nn.models.InfoGraph`
    for ``jsd``, :class:`~hngraph.nn.models.GraphCL` for ``infonce``, or a
    :class:`~hngraph.nn.models.GraphModel` of the user's own), given the
    settings its signature takes. With the ``gin`` encoder the model builds
    its own GIN of ``hidden`` x ``layers``; another encoder (a class of
    :data:`hngraph.registry.ENCODERS`) is built as ``Class(in_dim,
    hidden=..., layers=...)``, the settings it takes, and passed in."""
    model = OBJECTIVES.load(config.objective, "config key 'objective'")
    first, *takes = inspect.signature(model).parameters  # first: encoder
    settings = {k: v for k, v in config.to_dict().items() if k in takes}
    if config.encoder == "gin":
        return _built(model, "objective", config.objective, in_dim, settings)
    encoder = ENCODERS.load(config.encoder, "config key 'encoder'")
    shape = {k: settings.pop(k) for k in ("hidden", "layers")
             if k in settings}
    taken = {k: v for k, v in shape.items()
             if k in inspect.signature(encoder).parameters}
    built = _built(encoder, "encoder", config.encoder, in_dim, taken)
    model = _built(model, "objective", config.objective, built, settings)
    model.encoder_call = {"args": [in_dim], "kwargs": taken}
    return model


def _built(cls, key: str, name: str, first, settings: dict):
    """``cls(first, **settings)``; an error of a class of the user's own
    names its config key and import path."""
    try:
        return cls(first, **settings)
    except HngraphError:
        raise
    except Exception as err:
        if name in OBJECTIVES or name in ENCODERS:  # a bug of ours: its own trace
            raise
        raise InvalidValueError(
            f"config key {key!r}: {name}({type(first).__name__}, "
            f"{', '.join(f'{k}=...' for k in settings)}) failed "
            f"({type(err).__name__}, raised in your code: --debug shows "
            f"where); a {key} of your own must take these arguments "
            "(docs/extending.md).") from err


class Trained(NamedTuple):
    """The train stage's output, all the score stage needs (saved as one
    ``.emb.npz`` file, :attr:`hngraph.results.RunFiles.trained`)."""

    #: The graph embeddings [num_graphs, dim], in the dataset's order.
    embeddings: np.ndarray
    #: The graph labels [num_graphs].
    labels: np.ndarray
    #: The training record: ``config`` (the run's settings), ``dataset``
    #: (:func:`describe`), ``history`` (:func:`~hngraph.train.loop.fit`'s),
    #: ``train_wall_s`` (loading, training and embedding) and ``origin``
    #: (:func:`~hngraph.results.provenance` of the machine that trained).
    record: dict

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.record["config"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the three parts to ``path`` atomically."""
        return atomic_write_npz(path, embeddings=self.embeddings,
                                labels=self.labels,
                                record=np.array(json.dumps(self.record)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trained:
        """A train stage's output written by :meth:`save`."""
        return cls(*_read_npz(path, ("embeddings", "labels", "record")))

    @staticmethod
    def read_record(path: str | os.PathLike) -> dict:
        """The :attr:`record` of the output at ``path`` alone, without
        reading the arrays."""
        return _read_npz(path, ("record",))[0]


def _read_npz(path: str | os.PathLike, parts: tuple[str, ...]) -> list:
    """The ``parts`` of a train stage's output; ``record`` parsed."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as f:
            found = [json.loads(str(f[p])) if p == "record" else f[p]
                     for p in parts]
        if "record" in parts and not isinstance(
                found[parts.index("record")].get("config"), dict):
            raise ValueError("its record has no config")
        return found
    except (OSError, KeyError, ValueError, AttributeError, EOFError,
            zipfile.BadZipFile) as err:
        raise InvalidValueError(f"{path}: not a train stage's output readable "
                                f"here ({type(err).__name__}); train the run "
                                "again (`--stage train`).") from err


def train_stage(config: TrainConfig, *, progress: bool = True, device="cpu",
                restart: bool = False, files: RunFiles | None = None
                ) -> tuple[Trained | None, GraphModel]:
    """The train stage: load, train (:func:`train`) and embed every graph.

    ``files`` names the run's training state (``checkpoint_every``), by
    default ``run_files(config.out, run_stem(config))``. Returns
    ``(trained, model)``; on a DDP rank other than 0, ``(None, model)``.
    """
    start = time.perf_counter()
    files = files or run_files(config.out, run_stem(config))
    dataset, model, history = train(config, progress, device, restart,
                                    files.training_state)
    if dist_utils.rank() != 0:
        return None, model
    emb, labels = model.embed(DataLoader(dataset, batch_size=512))
    record = {"config": config.to_dict(), "dataset": describe(dataset),
              "labels": labels_hash(labels), "history": history,
              "train_wall_s": time.perf_counter() - start,
              "origin": provenance(history["device"])}
    if config.plugins():
        record["plugins"] = config.plugins()
    return Trained(emb, labels, record), model


def score_stage(trained: Trained) -> tuple[SVMResult, float]:
    """The score stage: the SVM protocol of the run's config on its
    embeddings (:func:`~hngraph.eval.scoring.svm_accuracy`). Returns the
    scores and the seconds it took."""
    config = trained.config
    recorded = trained.record.get("labels")
    if recorded is not None and recorded != labels_hash(trained.labels):
        raise InvalidValueError(
            "the train stage output's labels are not those it recorded "
            "from the dataset (their hash differs): the file was changed "
            "after training. Train the run again (`--stage train`).")
    start = time.perf_counter()
    scores = svm_accuracy(trained.embeddings, trained.labels,
                          folds=config.folds, seed=config.seed,
                          repeats=config.repeats)
    return scores, time.perf_counter() - start


def record_stage(trained: Trained, scores: SVMResult, svm_time: float
                 ) -> dict:
    """The record stage: the run's result (:func:`record`); when the run was
    scored by another commit or on another machine than it was trained,
    ``scored_on`` says where."""
    r = trained.record
    result = record(trained.config, r["dataset"], r["history"], scores,
                    svm_time, r["train_wall_s"] + svm_time, r["origin"])
    if "plugins" in r:
        result["plugins"] = r["plugins"]
    if (git_commit(), platform.node()) != (
            r["origin"]["commit"], r["origin"]["machine"]["host"]):
        result["scored_on"] = provenance("cpu")
    return result


def run_experiment(config: TrainConfig, *, progress: bool = True,
                   restart: bool = False, files: RunFiles | None = None
                   ) -> tuple[dict | None, GraphModel]:
    """Train the model of ``config`` and score its embeddings: the three
    stages, :func:`train_stage`, :func:`score_stage` and
    :func:`record_stage`, in one call.

    Returns ``(result, model)``; ``result`` is JSON-serialisable and records
    the config, commit, library versions, machine, processes, accuracies,
    loss history, the finishing time (UTC), and the seconds of training
    (over all sessions of a resumed run, whose resumes it lists), of the SVM
    stage and of the whole run. ``restart`` trains from the start over an
    existing training checkpoint (see :func:`fit`); ``files`` names it (see
    :func:`train_stage`).

    In a worker started by ``torchrun`` (or ``hngraph train --nproc N``), it
    joins the process group and trains with DDP (see :func:`fit`); rank 0
    alone evaluates, and the other ranks return ``(None, model)``.
    """
    device = resolve_device(config.device)
    joined = dist_utils.launched_by_torchrun() and not dist.is_initialized()
    if joined:
        device = dist_utils.init_from_env(device)
    try:
        trained, model = train_stage(config, progress=progress,
                                     device=device, restart=restart,
                                     files=files)
        if trained is None:
            return None, model
        return record_stage(trained, *score_stage(trained)), model
    finally:
        if joined:
            dist.destroy_process_group()


def train(config: TrainConfig, progress: bool = True, device="cpu",
          restart: bool = False, training_state: Path | None = None):
    """Load the dataset of ``config``, check that its labels can be scored,
    and train the model of ``config`` on ``device`` (see :func:`fit`),
    saving its state to ``training_state`` when ``checkpoint_every`` asks.

    Returns:
        ``(dataset, model, history)``.
    """
    lead = dist_utils.rank() == 0
    if dist_utils.is_distributed() and not lead:
        dist.barrier()  # rank 0 builds the processed cache first
    dataset = load_dataset(config)
    if dist_utils.is_distributed() and lead:
        dist.barrier()
    check_labels(dataset.y.numpy(), config.folds)  # before any training
    seed_everything(config.seed)
    model = build_model(config, dataset.num_features)
    model.feature_recipe = dataset.feature_recipe
    history = fit(model, dataset, epochs=config.epochs,
                  batch_size=config.batch_size, lr=config.lr,
                  seed=config.seed, device=device,
                  eval_epochs=config.eval_epochs, folds=config.folds,
                  progress=progress, checkpoint=training_state
                  if config.checkpoint_every else None,
                  checkpoint_every=config.checkpoint_every or 1,
                  batching=config.batching, restart=restart,
                  batch_order=config.batch_order)
    return dataset, model, history


def load_dataset(config: TrainConfig):
    """The dataset of ``config``: its ``dataset`` from its ``source``
    (:data:`hngraph.registry.SOURCES`), with ``root`` and ``features``."""
    load = SOURCES.load(config.source, "config key 'source'")
    return load(config.dataset, root=config.root, features=config.features)


def labels_hash(labels: np.ndarray) -> str:
    """The SHA-256 of a run's graph labels, in the dataset's order (as
    64-bit integers): what the train stage records and the score stage
    checks."""
    return hashlib.sha256(np.ascontiguousarray(
        labels, dtype=np.int64).tobytes()).hexdigest()


def describe(dataset) -> dict:
    """What a result records of its dataset."""
    return {"name": dataset.name, "graphs": len(dataset),
            "classes": dataset.num_classes,
            "features": dataset.feature_recipe}


def record(config: TrainConfig, dataset: dict, history: dict, scores,
           svm_time: float, wall_time: float, origin: dict) -> dict:
    """A run's result (JSON-serialisable): its config, tag, seed, processes,
    dataset (:func:`describe`), the scores (an
    :class:`~hngraph.eval.scoring.SVMResult`), the loss and evaluation
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


#: The public names (the API reference lists these).
__all__ = ["run_experiment", "train_stage", "score_stage", "record_stage",
           "Trained", "settings_key", "run_stem", "build_model"]
