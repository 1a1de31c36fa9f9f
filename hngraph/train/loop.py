"""Training loop: seeded, with a device choice and a loss history, and
callbacks for the rest: a progress bar, checkpoints, logs, early stopping,
and SVM evaluation (:mod:`hngraph.eval.scoring`) at chosen epochs."""
from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch_geometric
from torch import Tensor
from torch.utils.data import DistributedSampler
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from .. import distributed as dist_utils
from ..config import check_eval_epochs, settings_diff, user_path
from ..constraints import (
    BATCH_ORDER,
    BATCH_SIZE,
    BATCHING,
    CHECKPOINT_EVERY,
    DEVICE,
    EPOCHS,
    FOLDS,
    LR,
    SEED,
    Either,
    Interval,
    OfType,
    check,
    validate_params,
)
from ..data.batching import (
    DeviceGraphs,
    DeviceLoader,
    check_data,
    fingerprint,
)
from ..errors import (
    DivergedError,
    InvalidTypeError,
    InvalidValueError,
    MissingExtraError,
    PathError,
)
from ..eval.scoring import evaluate
from ..results import atomic_torch_save, atomic_write_text

TRAINING_FORMAT = "hngraph-training-1"


def train_loader(dataset, batch_size: int, seed: int,
                 device: torch.device | str | None = None,
                 batch_order: str = "shuffle"):
    """A shuffling loader whose order depends on ``seed`` only.

    With ``device`` it is a :class:`~hngraph.data.batching.DeviceLoader` that
    builds the batches on that device (``dataset`` may then already be a
    :class:`~hngraph.data.batching.DeviceGraphs`); without, PyG's ``DataLoader``.
    Both give the same batches in the same order. ``batch_order="fixed"``
    shuffles once, with ``seed``, and gives the same batches every epoch
    (the published HCL graph code's loader).

    A last batch of a single graph cannot be contrasted against anything, so
    it is dropped when ``len(dataset) % batch_size == 1``. In a process group
    of ``W``, a :class:`~torch.utils.data.DistributedSampler` gives each
    process its ``1/W`` of every epoch (``batch_size`` is then per process,
    the global batch ``W * batch_size``); call ``loader.sampler.set_epoch``.
    """
    if len(dataset) < 2:
        raise InvalidValueError(f"the dataset holds {len(dataset)} graph(s); "
                                "contrastive training needs at least 2.")
    check(BATCH_ORDER, batch_order, "batch_order")
    distributed = dist_utils.is_distributed()
    if distributed and batch_order == "fixed":
        raise InvalidValueError("batch_order='fixed' runs in one process; use "
                                "batch_order='shuffle' with DDP.")
    sampler = DistributedSampler(dataset, shuffle=True, seed=seed) \
        if distributed else None
    gen = torch.Generator().manual_seed(seed)
    if batch_order == "fixed":
        sampler = torch.randperm(len(dataset), generator=gen).tolist()
    drop_last = not distributed and len(dataset) % batch_size == 1
    if device is not None:
        graphs = dataset if isinstance(dataset, DeviceGraphs) \
            else DeviceGraphs(dataset, device=device)
        return DeviceLoader(graphs, batch_size, generator=gen,
                            sampler=sampler, drop_last=drop_last)
    if sampler is not None:
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                          drop_last=drop_last)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True,
                      generator=gen, drop_last=drop_last)


def _rng_state(loader) -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
            "loader": None if loader.generator is None
            else loader.generator.get_state()}


def _set_rng_state(state: dict, loader) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos,
                         has_gauss, cached))
    if state["loader"] is not None:
        loader.generator.set_state(state["loader"])


def save_training_state(path, model, optimizer, loader, epoch: int,
                        history: dict, *, settings: dict | None = None,
                        callbacks: Sequence[Callback] = ()) -> None:
    """Everything needed to continue training after ``epoch`` (atomic): the
    ``settings`` it was trained with (checked on resume), and each of the
    ``callbacks``' own state (:meth:`Callback.state_dict`).

    In a process group, the random streams are not saved: :func:`fit`
    reseeds them from ``(seed, rank, epoch)`` at every epoch.
    """
    distributed = dist_utils.is_distributed()
    atomic_torch_save({"format": TRAINING_FORMAT, "epoch": epoch,
                       "model": model.state_dict(),
                       "optimizer": optimizer.state_dict(),
                       "history": history,
                       "processes": dist_utils.world_size(),
                       "settings": settings,
                       "callbacks": _callback_states(callbacks),
                       "rng": None if distributed else _rng_state(loader)},
                      path)


def load_training_state(path, model, optimizer, loader,
                        *, settings: dict | None = None,
                        callbacks: Sequence[Callback] = ()
                        ) -> tuple[int, dict]:
    """Restore a state written by :func:`save_training_state`, and the
    state of each of ``callbacks`` saved with it (matched by position and
    class); returns the last finished epoch and the history so far.
    ``settings`` must equal the saved ones: resuming under other settings
    is an error that shows the difference."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated or not a torch file
        raise InvalidValueError(
            f"{path} cannot be read as a training checkpoint "
            f"({type(err).__name__}: it is truncated or another kind of "
            "file). Delete it to train from the start, or pass restart=True "
            "(hngraph train --restart).") from err
    if not isinstance(state, dict) or state.get("format") != TRAINING_FORMAT:
        raise InvalidValueError(f"{path} is not an hngraph training checkpoint; "
                                "delete it or pass another checkpoint path.")
    processes = state.get("processes", 1)
    if processes != dist_utils.world_size():
        raise InvalidValueError(
            f"{path} was written by a run with {processes} process(es); "
            f"resume it with {processes} (--nproc {processes}), or delete it "
            "to start again.")
    saved = state.get("settings")
    if settings is not None and saved is not None and saved != settings:
        diff = ", ".join(settings_diff(saved, settings))
        raise InvalidValueError(
            f"{path} was trained with other settings ({diff}). Resume with "
            "the same settings, or start over with restart=True (hngraph "
            "train --restart), which replaces it.")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    saved = state.get("callbacks") or {}
    for key, c in _callback_keys(callbacks):
        if key in saved:
            c.load_state_dict(saved[key])
    if state["rng"] is not None:
        _set_rng_state(state["rng"], loader)
    return state["epoch"], state["history"]


def _callback_keys(callbacks: Sequence[Callback]):
    """Each callback with its key in a training state: its position and
    class, so that a resume with the same callbacks finds its own."""
    return [(f"{i}:{type(c).__qualname__}", c)
            for i, c in enumerate(callbacks)]


def _callback_states(callbacks: Sequence[Callback]) -> dict:
    return {key: c.state_dict() for key, c in _callback_keys(callbacks)}


class FitState:
    """What :func:`fit` shows its callbacks, and what they may change.

    Attributes:
        model: the model being trained.
        optimizer: its optimizer.
        loader: the training loader (its generator is the batch order's).
        graphs: the training graphs, as the model embeds them (a
            :class:`~hngraph.data.batching.DeviceGraphs` with device batching).
        seed: the run's seed.
        epochs: the last epoch asked for.
        epoch: the epoch under way, or just finished (before the first:
            the last finished one, 0 unless resumed).
        history: :func:`fit`'s history so far.
        settings: the settings a checkpoint records and a resume compares.
        lead: whether this process writes (rank 0 of a process group).
        stop: set to end training after the current epoch.
        callbacks: every callback of the run, in order.
    """

    def __init__(self, model, optimizer, loader, graphs, seed: int,
                 epochs: int, history: dict, settings: dict, lead: bool):
        self.model, self.optimizer, self.loader = model, optimizer, loader
        self.graphs, self.seed, self.epochs = graphs, seed, epochs
        self.history, self.settings, self.lead = history, settings, lead
        self.epoch, self.stop = 0, False
        self.callbacks: list[Callback] = []


class Callback:
    """A hook into :func:`fit`, called on every process in the order of
    ``callbacks``: override any of :meth:`on_fit_start`,
    :meth:`on_epoch_start`, :meth:`on_epoch_end`, :meth:`on_fit_end` and
    :meth:`on_exception`; a callback with a state of its own returns it
    from :meth:`state_dict`, which a :class:`Checkpoint` saves and restores
    (as Lightning's callbacks do). One that writes does so where
    ``state.lead``."""

    def on_fit_start(self, state: FitState) -> None:
        """Before the first epoch (a resume sets ``state.epoch`` here)."""

    def on_epoch_start(self, state: FitState) -> None:
        """Before epoch ``state.epoch``."""

    def on_epoch_end(self, state: FitState) -> None:
        """After epoch ``state.epoch``; its loss is
        ``state.history["loss"][-1]``."""

    def on_fit_end(self, state: FitState) -> None:
        """After the last epoch, or the one a callback stopped at."""

    def on_exception(self, state: FitState, error: BaseException) -> None:
        """When training raises ``error`` (Ctrl-C included), before it
        propagates: close what the callback opened."""

    def state_dict(self) -> dict:
        """The callback's own state, saved with the training state (a
        :class:`Checkpoint`); empty by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned, on resume."""


class ProgressBar(Callback):
    """A tqdm bar of the epochs with the last loss (on a terminal; none in
    a log file, and none on processes other than the lead)."""

    def on_epoch_start(self, state: FitState) -> None:
        if not hasattr(self, "bar"):
            self.bar = tqdm(desc="train", unit="epoch", total=state.epochs,
                            initial=state.epoch - 1,
                            disable=None if state.lead else True)

    def on_epoch_end(self, state: FitState) -> None:
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{state.history['loss'][-1]:.4f}")

    def on_fit_end(self, state: FitState) -> None:
        if hasattr(self, "bar"):
            self.bar.close()

    def on_exception(self, state: FitState, error: BaseException) -> None:
        self.on_fit_end(state)


class Checkpoint(Callback):
    """The training state (:func:`save_training_state`) in ``path``, written
    every ``every`` epochs and at the end; at the start, training resumes
    from it when it exists, unless ``restart``. On the CPU a resumed run
    gives the same result as an uninterrupted one.

    A resume needs the same settings and the same graphs (the checkpoint
    records a :func:`~hngraph.data.batching.fingerprint` of them), and at
    least as many epochs as the checkpoint holds; otherwise it is an error
    that says what differs. A run that :class:`EarlyStopping` ended is
    finished when resumed with early stopping again; without, it trains
    on.

    Args:
        path: the checkpoint file (``~`` is the home folder).
        every: epochs between two writes (0: at the end only).
        restart: train from the start over an existing file, which the
            first write replaces.
    """

    def __init__(self, path: str | os.PathLike, *, every: int = 1,
                 restart: bool = False):
        self.path = user_path(path, "checkpoint")
        self.every = check(CHECKPOINT_EVERY, every, "Checkpoint: every")
        self.restart = restart

    def on_fit_start(self, state: FitState) -> None:
        if self.restart or not self.path.exists():
            return
        done, history = load_training_state(self.path, state.model,
                                            state.optimizer, state.loader,
                                            settings=state.settings,
                                            callbacks=state.callbacks)
        if done > state.epochs:
            raise InvalidValueError(
                f"{self.path} holds {done} epochs of training, more than the "
                f"{state.epochs} asked for, and training cannot go back. Ask "
                f"for {done} epochs or more, or start over with restart=True "
                "(hngraph train --restart), which replaces it.")
        history["device"] = state.history["device"]
        history.setdefault("resumed_at", []).append(done)
        state.history, state.epoch = history, done
        if state.lead:
            print(f"resuming from epoch {done} of {self.path}",
                  file=sys.stderr)

    def on_epoch_end(self, state: FitState) -> None:
        if (self.every and state.epoch % self.every == 0) or \
                state.epoch == state.epochs:
            self._write(state)

    def on_fit_end(self, state: FitState) -> None:
        if state.stop:  # stopped early: the last epoch's state
            self._write(state)

    def _write(self, state: FitState) -> None:
        if state.lead:
            save_training_state(self.path, state.model, state.optimizer,
                                state.loader, state.epoch, state.history,
                                settings=state.settings,
                                callbacks=state.callbacks)


class CSVLogger(Callback):
    """One CSV row per epoch in ``path``: ``epoch``, ``loss``,
    ``train_time`` (seconds so far) and ``accuracy`` (the evaluation's, at
    the epochs evaluated before this callback in ``callbacks``). A run from
    the first epoch starts the file; a resumed run continues it, in place of
    any rows written after its checkpoint. Each write replaces the file
    whole (atomically), so a killed run leaves the rows of its finished
    epochs.

    Args:
        path: the CSV file (``~`` is the home folder).
    """

    COLUMNS = ("epoch", "loss", "train_time", "accuracy")

    def __init__(self, path: str | os.PathLike):
        self.path = user_path(path, "CSVLogger: path")

    def on_fit_start(self, state: FitState) -> None:
        self.lines = None  # read back once, at the first epoch's end

    def on_epoch_end(self, state: FitState) -> None:
        if not state.lead:
            return
        result = state.history["eval"].get(state.epoch, {})
        row = (state.epoch, state.history["loss"][-1],
               state.history["train_time"], result.get("accuracy_mean", ""))
        if self.lines is None:
            self.lines = self._earlier_rows(state.epoch) if (
                state.epoch > 1 and self.path.exists()) else [
                ",".join(self.COLUMNS)]
        self.lines.append(",".join(map(str, row)))
        atomic_write_text(self.path, "\n".join(self.lines) + "\n")

    def _earlier_rows(self, epoch: int) -> list[str]:
        """The header and the rows of the epochs before ``epoch`` in the
        file so far."""
        try:
            header, *rows = self.path.read_text().splitlines()
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise PathError(f"the training log {self.path} cannot be read "
                            "back to continue it; give CSVLogger another "
                            "path.") from err
        if header != ",".join(self.COLUMNS):
            raise InvalidValueError(
                f"{self.path} is not a training log of CSVLogger (its first "
                f"line is not {','.join(self.COLUMNS)!r}); give CSVLogger "
                "another path, or move the file away.")
        return [header] + [r for r in rows
                           if int(r.split(",", 1)[0]) < epoch]


class TensorBoardLogger(Callback):
    """The epoch's loss (``train/loss``) and any evaluation accuracy
    (``eval/accuracy``, from the callbacks before it) as TensorBoard
    scalars in ``log_dir``, flushed every epoch (the ``tensorboard`` extra:
    ``pip install "hngraph[tensorboard]"``).

    Args:
        log_dir: the event folder TensorBoard reads.
    """

    def __init__(self, log_dir: str | os.PathLike):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise MissingExtraError(
                "TensorBoardLogger needs the tensorboard package: pip "
                'install "hngraph[tensorboard]".') from err
        self.log_dir = user_path(log_dir, "TensorBoardLogger: log_dir")
        self.writer_class, self.writer = SummaryWriter, None

    def on_epoch_end(self, state: FitState) -> None:
        if not state.lead:
            return
        if self.writer is None:
            self.writer = self.writer_class(str(self.log_dir))
        self.writer.add_scalar("train/loss", state.history["loss"][-1],
                               state.epoch)
        result = state.history["eval"].get(state.epoch)
        if result is not None:
            self.writer.add_scalar("eval/accuracy", result["accuracy_mean"],
                                   state.epoch)
        self.writer.flush()  # a killed run keeps its finished epochs

    def on_fit_end(self, state: FitState) -> None:
        if self.writer is not None:
            self.writer.close()

    def on_exception(self, state: FitState, error: BaseException) -> None:
        self.on_fit_end(state)


class EarlyStopping(Callback):
    """Stop when for ``patience`` epochs no epoch loss has fallen below the
    best loss before them by more than ``min_delta`` (a plateau); the history records
    the epoch in ``stopped_at``. The loss is the same on every process, so
    they all stop together.

    Args:
        patience: epochs without improvement before stopping (>= 1).
        min_delta: the least fall that counts as an improvement (>= 0).
    """

    def __init__(self, *, patience: int = 10, min_delta: float = 0.0):
        self.patience = check(Interval(int, 1), patience,
                              "EarlyStopping: patience")
        self.min_delta = check(Interval(float, 0), min_delta,
                               "EarlyStopping: min_delta")

    def on_epoch_end(self, state: FitState) -> None:
        losses = state.history["loss"]
        best = min(losses[:-self.patience] or [math.inf])
        if len(losses) > self.patience and \
                min(losses[-self.patience:]) >= best - self.min_delta:
            state.stop = True
            state.history["stopped_at"] = state.epoch


class EvaluateAt(Callback):
    """The SVM evaluation (:func:`~hngraph.eval.scoring.evaluate`) after each
    of ``epochs`` (on the lead process), into ``history["eval"][epoch]``
    (the :class:`~hngraph.eval.scoring.SVMResult` as a dict), with the
    run's seed. The results are reported, never used to pick an epoch.

    Args:
        epochs: the epochs after which to evaluate.
        folds: outer folds of the evaluation.
    """

    def __init__(self, epochs: Iterable[int], *, folds: int = 10):
        self.given = list(epochs)
        self.folds = check(FOLDS, folds, "EvaluateAt: folds")

    def on_fit_start(self, state: FitState) -> None:
        self.epochs = check_eval_epochs(self.given, state.epochs,
                                        "EvaluateAt: epochs")

    def on_epoch_end(self, state: FitState) -> None:
        if state.lead and state.epoch in self.epochs:
            state.history["eval"][state.epoch] = evaluate(
                state.model, state.graphs, seed=state.seed,
                folds=self.folds).to_dict()


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (on every device) with
    ``seed``, an integer in ``[0, 2^32)`` (as
    ``torch_geometric.seed_everything``, with the seed checked)."""
    torch_geometric.seed_everything(check(SEED, seed, "seed"))


#: The parameters of :func:`fit`.
FIT_PARAMS = {"epochs": EPOCHS, "batch_size": BATCH_SIZE, "lr": LR,
              "seed": SEED, "device": Either(DEVICE, OfType(
                  torch.device, "a torch.device")), "folds": FOLDS,
              "progress": OfType(bool), "checkpoint_every": CHECKPOINT_EVERY,
              "batching": BATCHING, "restart": OfType(bool),
              "batch_order": BATCH_ORDER}


@validate_params(FIT_PARAMS, where="fit: ")
def fit(model, dataset, *, epochs: int = 200,
        batch_size: int = 128, lr: float = 0.001,
        seed: int = 0, device: str = 'auto',
        eval_epochs: Iterable[int] = (), folds: int = 10,
        progress: bool = True, checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 1, batching: str = 'auto',
        restart: bool = False,
        batch_order: str = 'shuffle',
        callbacks: Iterable[Callback] | Callback | None = ()) -> dict:
    """Train ``model`` with Adam: anything with ``loss(batch)`` (and, for the
    evaluation, ``embed(loader)``; see :mod:`hngraph.nn.models`).

    Args:
        model: for example :class:`~hngraph.nn.models.InfoGraph`.
        dataset: PyG dataset (or list of ``Data``) with node features, or a
            :class:`~hngraph.data.batching.DeviceGraphs` on ``device``. An
            hngraph dataset's ``feature_recipe`` is given to a model that
            has none, so that :func:`~hngraph.eval.embedding.embed` builds
            new graphs' features the same way.
        epochs, batch_size, lr: optimisation settings.
        seed: seeds the batch order and torch's global generator (used by
            the prior term). Call :func:`seed_everything` before building the
            model to seed its initial weights too.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        eval_epochs, folds: shorthand for
            :class:`EvaluateAt` ``(eval_epochs, folds)``:
            the SVM evaluation after those epochs, reported, never used to
            pick an epoch.
        progress: shorthand for :class:`ProgressBar`.
        checkpoint, checkpoint_every, restart: shorthand for
            :class:`Checkpoint` ``(checkpoint, checkpoint_every, restart)``.
        batching: ``"device"`` builds the mini-batches on ``device`` by index
            operations (:mod:`hngraph.data.batching`): the dataset is moved there
            once, and a step never waits for the device. ``"loader"`` uses
            PyG's ``DataLoader`` (datasets larger than device memory).
            ``"auto"`` (the default) is ``"device"``. Both give the same
            batches, and :class:`~hngraph.nn.models.GraphCL` draws its views on
            either (:func:`~hngraph.data.augment.augment_batch`).
        batch_order: ``"shuffle"`` (a new order every epoch) or ``"fixed"``
            (one shuffle per run, the same batches every epoch, as the
            published HCL graph code); see :func:`train_loader`.
        callbacks: more :class:`Callback` s (:class:`CSVLogger`,
            :class:`TensorBoardLogger`, :class:`EarlyStopping`, your own),
            called after the shorthands' (progress bar, evaluation,
            checkpoint), in order; one callback alone, or ``None`` for
            none, as Lightning's ``Trainer`` takes them.

    How a step, an epoch and DDP training run is in ``docs/method.md``
    ("The training loop").

    Returns:
        ``{"loss": [mean loss per epoch], "eval": {epoch: result},
            "train_time": seconds (all sessions of a resumed run), "device":
            str, "resumed_at": [epoch after which each resume started]}``,
            and ``stopped_at`` where :class:`EarlyStopping` ended it.
    """
    if not isinstance(model, torch.nn.Module) or not callable(
            getattr(model, "loss", None)):
        raise InvalidTypeError(
            f"fit: model must be a torch module with loss(batch) (see "
            f"hngraph.nn.models), got {type(model).__name__}.")
    device = str(device) if isinstance(device, torch.device) else device
    eval_epochs = check_eval_epochs(eval_epochs, epochs, "fit: eval_epochs")
    callbacks = [] if callbacks is None else [callbacks] if isinstance(
        callbacks, Callback) else callbacks
    try:
        callbacks = list(callbacks)
    except TypeError:
        callbacks = [callbacks]  # named below
    if not all(isinstance(c, Callback) for c in callbacks):
        raise InvalidTypeError(
            "fit: callbacks must be hngraph.train.loop.Callback objects (a "
            "list of them, one alone, or None), got "
            f"{[type(c).__name__ for c in callbacks]}.")
    shorthands = [ProgressBar()] if progress else []
    if eval_epochs:
        shorthands.append(EvaluateAt(eval_epochs, folds=folds))
    if checkpoint is not None:
        shorthands.append(Checkpoint(checkpoint, every=checkpoint_every,
                                     restart=restart))
    callbacks = shorthands + callbacks
    recipe = getattr(dataset, "feature_recipe", None)
    if recipe is not None and getattr(model, "feature_recipe", None) is None:
        model.feature_recipe = recipe  # how embed builds new graphs' features
    run = _setup(model, dataset, batch_size, lr, seed, device, batching,
                 batch_order)
    state = FitState(model, run.optimizer, run.loader,
                     run.loader.graphs if run.on_device else dataset, seed,
                     epochs, {"loss": [], "eval": {}, "device":
                              str(run.device), "train_time": 0.0,
                              "resumed_at": []}, run.settings, run.lead)
    state.callbacks = callbacks
    try:
        for c in callbacks:
            c.on_fit_start(state)
        _resumed_stop(state, callbacks)
        last = state.epoch if state.stop else epochs
        for epoch in range(state.epoch + 1, last + 1):
            state.epoch = epoch
            for c in callbacks:
                c.on_epoch_start(state)
            _train_epoch(model, run.step, run.loader, run.optimizer,
                         run.device, state.history, seed, epoch)
            for c in callbacks:
                c.on_epoch_end(state)
            if state.stop:
                break
        for c in callbacks:
            c.on_fit_end(state)
    except BaseException as err:
        for c in callbacks:
            c.on_exception(state, err)
        raise
    finally:
        if run.distributed:
            dist_utils.unwrap(model)
    return state.history


def _resumed_stop(state: FitState, callbacks: list[Callback]) -> None:
    """A resumed run that an :class:`EarlyStopping` ended: with early
    stopping again it is finished (a rerun does not move the model on);
    without, it trains on, and its history no longer says it stopped."""
    if "stopped_at" not in state.history:
        return
    if any(isinstance(c, EarlyStopping) for c in callbacks):
        state.stop = True
    else:
        del state.history["stopped_at"]


@dataclass
class _Run:
    """What :func:`fit` trains with: the device, the loader, the step (the
    model's loss, or its DDP wrapper), the optimizer, the settings a
    checkpoint records, and whether this process leads (rank 0)."""

    device: torch.device
    loader: object
    step: object
    optimizer: torch.optim.Optimizer
    settings: dict
    on_device: bool
    distributed: bool
    lead: bool


def _setup(model, dataset, batch_size, lr, seed, device, batching,
           batch_order) -> _Run:
    """Seed, place the model, and build the loader, step and optimizer."""
    device = dist_utils.resolve_device(device)
    distributed = dist_utils.is_distributed()
    if distributed and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    torch.manual_seed(seed)
    model.to(device)
    on_device = _batching(dataset, batching) == "device"
    if on_device and not isinstance(dataset, DeviceGraphs):
        dataset = DeviceGraphs(dataset, device=device)  # checks the graphs
    graphs = dataset.fingerprint() if on_device else \
        fingerprint(check_data(dataset))
    loader = train_loader(dataset, batch_size, seed,
                          device if on_device else None, batch_order)
    step = dist_utils.wrap(model, device) if distributed else model.loss
    settings = {"model": getattr(model, "config", None), "graphs": graphs,
                "batch_size": batch_size, "lr": lr, "seed": seed,
                "batch_order": batch_order}
    return _Run(device, loader, step, make_optimizer(model, lr), settings,
                on_device, distributed, dist_utils.rank() == 0)


def make_optimizer(model, lr: float) -> torch.optim.Adam:
    """Adam over ``model``'s parameters; fused (one kernel for all
    parameters, no read-back of the step count) where torch supports it for
    the parameters' device, else the multi-tensor ``foreach`` version."""
    params = list(model.parameters())
    device = params[0].device.type
    fused = device in ("cpu", "cuda")
    return torch.optim.Adam(params, lr=lr, fused=fused or None,
                            foreach=None if fused else True)


def _batching(dataset, batching: str) -> str:
    if batching == "auto":
        batching = "device"
    if batching == "loader" and isinstance(dataset, DeviceGraphs):
        raise InvalidValueError("batching='loader' needs the PyG dataset, not a "
                                "DeviceGraphs.")
    return batching


def train_step(step, data, optimizer) -> Tensor:
    """One optimisation step on ``data``: returns the detached loss, still on
    the device (reading it would wait for the step to finish)."""
    optimizer.zero_grad(set_to_none=True)
    loss = step(data)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _train_epoch(model, step, loader, optimizer, device, history: dict,
                 seed: int, epoch: int) -> None:
    """One epoch of :func:`fit`: appends the mean loss to ``history``."""
    distributed = dist_utils.is_distributed()
    if distributed:
        loader.sampler.set_epoch(epoch)
        stream = dist_utils.seed_stream(seed, dist_utils.rank(), epoch)
        torch.manual_seed(stream)
        random.seed(stream)
    on_device = isinstance(loader, DeviceLoader)
    start = time.perf_counter()
    model.train()
    total, count = torch.zeros((), device=device), 0
    for data in loader:
        if not on_device:
            data = data.to(device)
        total += train_step(step, data, optimizer) * data.num_graphs
        count += data.num_graphs
    total = total.item()  # the epoch's one wait for the device
    if distributed:  # the mean over the processes' shares: the global loss
        total, count = dist_utils.all_sum([total, count])
    history["train_time"] += time.perf_counter() - start
    epoch_loss = total / count
    if not np.isfinite(epoch_loss):
        raise DivergedError(
            f"the training loss became {epoch_loss} at epoch {epoch}. "
            "Lower the learning rate (lr) or beta, or check the features.")
    history["loss"].append(epoch_loss)


#: The public names (the API reference lists these).
__all__ = ["fit", "FitState", "Callback", "ProgressBar", "Checkpoint",
           "CSVLogger", "TensorBoardLogger", "EarlyStopping", "EvaluateAt",
           "seed_everything", "train_step", "make_optimizer",
           "save_training_state", "load_training_state"]
