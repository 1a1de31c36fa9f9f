r"""Devices and processes: the device a run asks for
(:func:`resolve_device`), and multi-process training with
``torch.distributed``: DDP, negatives gathered across processes,
synchronised batch norm, and a ``torchrun`` launcher.

Every process holds ``G_r`` graphs of the global batch of
:math:`G = \sum_r G_r`. The losses (``distributed=True``) gather the graph
embeddings of every process with :func:`gather_graphs`, so each local node or
view is contrasted against all ``G`` graphs; only ``[G_r, D]`` embeddings
travel, never node tensors. Each process returns its share of the global
mean, so that DDP's gradient average is the gradient of the global loss.
"""
from __future__ import annotations

import os
import signal
import sys
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

# torch's autograd-aware collectives (torch.distributed.nn.functional is
# deprecated in their favour).
import torch.distributed._functional_collectives as funcol
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .errors import InvalidValueError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise InvalidValueError(f"device {device!r} is not a torch device; use "
                                "'auto', 'cpu' or 'cuda'.") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidValueError("device 'cuda' was asked for, but torch sees no CUDA "
                                "GPU here. Use device='cpu' or 'auto'.")
    return device



def is_distributed() -> bool:
    """``True`` inside an initialised process group of two or more."""
    return (dist.is_available() and dist.is_initialized()
            and dist.get_world_size() > 1)


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 outside a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def launched_by_torchrun() -> bool:
    """``True`` in a worker started by ``torchrun`` (or ``--nproc``)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def die_with_parent() -> None:
    """On Linux, have the kernel end this process (SIGTERM) when the process
    that started it dies, so that a killed launcher leaves no worker
    training on its own. Elsewhere, nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the launcher died before the call above
        os._exit(1)


def init_from_env(device: torch.device) -> torch.device:
    """Join the process group that ``torchrun`` describes in the environment
    (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``): ``nccl`` on
    CUDA, ``gloo`` on the CPU. Returns this process's device (``cuda:LOCAL_RANK``
    on CUDA). The process ends when its launcher dies."""
    die_with_parent()
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        # Rank 0 alone runs the SVM evaluations; the others wait for it.
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=timedelta(hours=2))
    return device


def seed_stream(seed: int, rank: int, epoch: int) -> int:
    """An independent 63-bit seed for every ``(seed, rank, epoch)``, from
    NumPy's :class:`~numpy.random.SeedSequence`."""
    ss = np.random.SeedSequence(seed, spawn_key=(rank, epoch))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def all_sum(values: list[float]) -> list[float]:
    """Sum plain numbers over all processes (no gradient)."""
    t = torch.tensor(values, dtype=torch.float64)
    if is_distributed():
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.all_reduce(t)
    return t.tolist()


def gather_graphs(x: Tensor, local_count: int) -> tuple[Tensor, int, float]:
    """All-gather ``[G_r, *]`` rows from every process, with gradient.

    Processes may hold different numbers of rows. The backward pass sends
    each process the gradient that all processes' losses put on its rows
    (a reduce-scatter, from torch's autograd-aware functional collectives).

    Args:
        x: this process's rows, for example its graph embeddings.
        local_count: how many items the caller averages its loss over here
            (nodes, anchors); gathered in the same call as the row counts.

    Returns:
        ``(rows of all processes in rank order [G, *], offset of this
            process's first row, share)``, where ``share = W n_r / n`` for
            ``n_r = local_count`` and ``n`` its sum over the processes: a local
            mean times ``share``, averaged over the ``W`` processes (as DDP
            averages gradients), is the mean over all items.
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise InvalidValueError(
            "distributed=True gathers the graphs of every process, but no "
            "torch.distributed process group is initialised. Start the "
            "processes with torchrun (or `hngraph train --nproc N`) and call "
            "torch.distributed.init_process_group, or pass distributed=False.")
    world = dist.get_world_size()
    meta = torch.tensor([x.size(0), local_count], device=x.device)
    all_meta = [torch.zeros_like(meta) for _ in range(world)]
    dist.all_gather(all_meta, meta)
    sizes = [int(m[0]) for m in all_meta]
    total = sum(int(m[1]) for m in all_meta)
    largest = max(sizes)
    padded = x
    if x.size(0) < largest:
        padded = torch.cat([x, x.new_zeros(largest - x.size(0), *x.shape[1:])])
    parts = _all_gather(padded).split(largest)
    rows = torch.cat([p[:n] for p, n in zip(parts, sizes, strict=False)])
    return rows, sum(sizes[:dist.get_rank()]), world * local_count / total


def global_max(value: Tensor) -> Tensor:
    """Largest of a scalar over all processes, with gradient to its owner."""
    return _all_gather(value.reshape(1)).max()


def _all_gather(x: Tensor) -> Tensor:
    """``[n, *]`` from each process -> ``[W n, *]``, with gradient."""
    out = funcol.all_gather_single(x, 0, dist.group.WORLD)
    return funcol.wait_tensor(out) if isinstance(
        out, funcol.AsyncCollectiveTensor) else out


class AllReduceBatchNorm(nn.BatchNorm1d):
    r"""Batch norm whose batch statistics cover the nodes of all processes.

    Each process computes its count :math:`n_r`, mean :math:`\mu_r` and sum
    of squared deviations :math:`M_r`; one all-gather (with gradient) brings
    them together, and

    .. math:: n = \sum_r n_r, \quad \mu = \frac{1}{n}\sum_r n_r \mu_r,
              \quad \sigma^2 = \frac{1}{n}\sum_r \big(M_r + n_r
              (\mu_r - \mu)^2\big)

    (Chan et al.'s pairwise combination, stable in float32), so that ``W``
    processes normalise exactly as one process with their union would.
    :class:`torch.nn.SyncBatchNorm` does this on GPUs but refuses CPU
    tensors; this class is its CPU (``gloo``) counterpart and behaves as
    :class:`~torch.nn.BatchNorm1d` outside a process group or in eval mode.
    Shapes: ``[n, C] -> [n, C]``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        width = x.size(1)
        mean_r = x.sum(0) / max(x.size(0), 1)
        m2_r = ((x - mean_r) ** 2).sum(0)
        stats = _all_gather(torch.cat([x.new_tensor([x.size(0)]), mean_r,
                                       m2_r]).unsqueeze(0))  # [W, 1 + 2C]
        counts, means = stats[:, :1], stats[:, 1:width + 1]
        n = counts.sum()
        mean = (counts * means).sum(0) / n
        var = (stats[:, width + 1:].sum(0)
               + (counts * (means - mean) ** 2).sum(0)) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum
                if m is None:  # cumulative moving average
                    m = 1.0 / self.num_batches_tracked.item()
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * var * n / (n - 1))
        out = (x - mean) / torch.sqrt(var + self.eps)
        return out * self.weight + self.bias if self.affine else out


def swap_batchnorm(module: nn.Module, cls: type) -> nn.Module:
    """Replace every batch-norm layer of ``module`` by ``cls`` (for example
    :class:`AllReduceBatchNorm`, :class:`torch.nn.SyncBatchNorm` or back to
    :class:`~torch.nn.BatchNorm1d`), sharing its parameters and buffers."""
    for name, child in module.named_children():
        if isinstance(child, _BatchNorm) and type(child) is not cls:
            like = next(iter(child.state_dict().values()), torch.empty(0))
            new = cls(child.num_features, child.eps, child.momentum,
                      child.affine, child.track_running_stats,
                      dtype=like.dtype, device=like.device)
            new.load_state_dict(child.state_dict())
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            new.train(child.training)
            setattr(module, name, new)
        else:
            swap_batchnorm(child, cls)
    return module


class DDPLoss(nn.Module):
    """Wraps a model so that DDP's ``forward`` is its training loss:
    ``DDPLoss(model)(batch) == model.loss(batch)``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, data) -> Tensor:
        return self.model.loss(data)


def wrap(model: nn.Module, device: torch.device
         ) -> nn.parallel.DistributedDataParallel:
    """Prepare ``model`` for training in the current process group: batch
    norm synchronised over the processes, global negatives in its loss
    (``model.distributed = True``), and DDP around its loss. Undo with
    :func:`unwrap`."""
    swap_batchnorm(model, nn.SyncBatchNorm if device.type == "cuda"
                   else AllReduceBatchNorm)
    model.distributed = True
    model.to(device)
    # Buffers are the batch-norm statistics, identical on every process once
    # synchronised: no need to broadcast them each step.
    return nn.parallel.DistributedDataParallel(
        DDPLoss(model), device_ids=[device] if device.type == "cuda"
        else None, forward_sync_buffers=False)


def unwrap(model: nn.Module) -> nn.Module:
    """Undo :func:`wrap`: plain batch norm, in-batch negatives only."""
    swap_batchnorm(model, nn.BatchNorm1d)
    model.distributed = False
    return model


#: The public names (the API reference lists these).
__all__ = ["resolve_device", "wrap", "unwrap", "DDPLoss", "AllReduceBatchNorm", "gather_graphs",
           "is_distributed", "rank", "world_size"]
