r"""Mini-batches built on the training device with index operations.

PyG's :class:`~torch_geometric.loader.DataLoader` collates every mini-batch
on the host with :meth:`~torch_geometric.data.Batch.from_data_list`: a Python
loop over the graphs, then a copy to the device. :class:`DeviceGraphs` moves
a dataset's node features, edge lists and per-graph sizes to the device once;
:class:`DeviceLoader` then builds each shuffled mini-batch there by gathers.
For graph indices :math:`g_1, \dots, g_B` with :math:`n_b` nodes and
:math:`m_b` edges, and :math:`o_b = \sum_{b' < b} n_{b'}` (``ptr``):

.. math::
    x &= [X_{g_1} \,\|\, \dots \,\|\, X_{g_B}], \qquad
    \mathrm{batch} = [0^{n_1}, 1^{n_2}, \dots, (B-1)^{n_B}] \\
    \mathrm{edge\_index} &= [E_{g_1} + o_1 \,\|\, \dots \,\|\,
    E_{g_B} + o_B]

with :math:`E_g` a graph's own edge list (node ids from 0). That is what
``Batch.from_data_list`` builds for the same order of graphs. The batch sizes
(nodes and edges) are summed on the host from a host copy of the per-graph
sizes, and handed to the ops that would otherwise read them back from the
device, so building a batch never waits for the device.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from ..errors import InvalidTypeError, InvalidValueError


class DeviceGraphs:
    """A dataset's graphs as flat tensors on one device.

    Args:
        dataset: PyG in-memory dataset (or list of ``Data``) whose graphs have
            ``x``, ``edge_index`` and optionally ``y``.
        device: where the tensors live.

    Attributes:
        x: ``[N, F]`` node features of all graphs, graph after graph.
        edge_index: ``[2, E]`` every graph's own edge list (ids from 0).
        node_ptr, edge_ptr: ``[G + 1]`` where each graph's nodes and edges
            start, on the device; ``num_nodes``, ``num_edges`` (``[G]``) are
            the per-graph sizes on the host.
        y: ``[G, ...]`` graph labels, or ``None``.
    """

    def __init__(self, dataset, *, device: torch.device | str = "cpu"):
        graphs = check_data(dataset)
        device = torch.device(device)
        self.num_nodes = torch.tensor([g.num_nodes for g in graphs])
        self.num_edges = torch.tensor([g.edge_index.size(1) for g in graphs])
        self.x = torch.cat([g.x for g in graphs]).to(device)
        self.edge_index = torch.cat([g.edge_index for g in graphs],
                                    dim=1).to(device)
        self.node_ptr = _ptr(self.num_nodes).to(device)
        self.edge_ptr = _ptr(self.num_edges).to(device)
        self._node_counts = self.num_nodes.to(device)
        self._edge_counts = self.num_edges.to(device)
        labels = [getattr(g, "y", None) for g in graphs]
        self.y = None if any(v is None for v in labels) else \
            torch.cat(labels).to(device)
        self.device = device

    def __len__(self) -> int:
        return self.num_nodes.numel()

    def fingerprint(self) -> str:
        """A hash of the graphs' sizes, node features and edges (the same
        as :func:`fingerprint` of the graphs they were built from)."""
        return _hash(self.num_nodes, self.num_edges, self.x, self.edge_index)

    def batch(self, index: Tensor, on_device: Tensor | None = None) -> Batch:
        """The mini-batch of the graphs ``index`` (a host ``LongTensor``),
        in that order; equal to ``Batch.from_data_list`` of those graphs on
        ``x``, ``edge_index``, ``batch``, ``ptr`` and ``y``. ``on_device``
        is the same index already on the device, if the caller has it."""
        num_nodes = int(self.num_nodes[index].sum())
        num_edges = int(self.num_edges[index].sum())
        idx = index.to(self.device) if on_device is None else on_device
        node_batch, node_src, ptr = _segments(idx, self._node_counts,
                                              self.node_ptr, num_nodes)
        edge_batch, edge_src, _ = _segments(idx, self._edge_counts,
                                            self.edge_ptr, num_edges)
        edge_index = self.edge_index[:, edge_src] + ptr[edge_batch]
        batch = Batch(x=self.x[node_src], edge_index=edge_index,
                      batch=node_batch, ptr=ptr)
        if self.y is not None:
            batch.y = self.y[idx]
        batch._num_graphs = index.numel()
        return batch


def fingerprint(graphs: Sequence[Data]) -> str:
    """A hash (SHA-256, hex) of ``graphs``' sizes, node features ``x`` and
    edges, in order: what a training checkpoint records of the graphs it
    was trained on. The labels are not part of it."""
    return _hash(torch.tensor([g.num_nodes for g in graphs]),
                 torch.tensor([g.edge_index.size(1) for g in graphs]),
                 torch.cat([g.x for g in graphs]),
                 torch.cat([g.edge_index for g in graphs], dim=1))


def _hash(*tensors: Tensor) -> str:
    digest = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes()
                      if t.numel() else b"")
    return digest.hexdigest()


def check_data(dataset, name: str = "dataset") -> list[Data]:
    """The graphs of ``dataset`` (a PyG dataset or a sequence of ``Data``),
    each checked against the contract training and batching rely on: a
    ``Data`` with float node features ``x`` ``[n, F]``, the same ``F`` for
    all, and an integer ``edge_index`` ``[2, E]`` of node ids in
    ``[0, n)``. Errors name the argument ``name``."""
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise InvalidTypeError(f"{name} must be a PyG dataset or a list of "
                               f"Data, got {type(dataset).__name__}.")
    graphs = [dataset[i] for i in range(len(dataset))]
    if not graphs:
        raise InvalidValueError(f"{name} holds no graph.")
    width = None
    for i, g in enumerate(graphs):
        if not isinstance(g, Data):
            raise InvalidTypeError(f"{name}: graph {i} must be a torch_geometric Data, got "
                                   f"{type(g).__name__}; convert networkx graphs "
                                   "with torch_geometric.utils.from_networkx.")
        x, edges = getattr(g, "x", None), getattr(g, "edge_index", None)
        if not isinstance(x, Tensor) or x.dim() != 2 or \
                not x.is_floating_point():
            raise InvalidValueError(f"{name}: graph {i} needs float node features x "
                                    "[num_nodes, F]; build them with "
                                    "hngraph.load_tudataset or a feature recipe "
                                    "(hngraph.data.features).")
        if x.dtype != torch.float32:
            raise InvalidValueError(
                f"{name}: graph {i} has node features x of {x.dtype}, but "
                "hngraph's models compute in torch.float32; convert them "
                "(data.x = data.x.float()) before training.")
        width = x.size(1) if width is None else width
        if x.size(1) != width:
            raise InvalidValueError(f"{name}: graph {i} has {x.size(1)} node features, "
                                    f"graph 0 has {width}; every graph needs the "
                                    "same feature width.")
        if not isinstance(edges, Tensor) or edges.dim() != 2 or \
                edges.size(0) != 2 or edges.is_floating_point():
            raise InvalidValueError(f"{name}: graph {i} needs an integer edge_index "
                                    "[2, num_edges].")
        if edges.numel() and (edges.min() < 0 or edges.max() >= x.size(0)):
            raise InvalidValueError(f"{name}: graph {i} has edges to node ids outside "
                                    f"[0, {x.size(0)}).")
    return graphs


def _ptr(counts: Tensor) -> Tensor:
    """``[0, c_0, c_0 + c_1, ...]``: where each segment starts (``[n + 1]``)."""
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def _segments(idx: Tensor, counts: Tensor, starts: Tensor, total: int
              ) -> tuple[Tensor, Tensor, Tensor]:
    """For segments ``idx`` of a flat array: the segment of each gathered
    element (``[total]``, values in ``[0, len(idx))``), its position in the
    flat array, and where each segment starts in the gathered array
    (``[len(idx) + 1]``). ``total`` is the sum of the segments' sizes, given
    so that ``repeat_interleave`` need not read it back from the device."""
    sizes = counts[idx]
    offsets = _ptr(sizes)
    which = torch.repeat_interleave(
        torch.arange(idx.numel(), device=idx.device), sizes,
        output_size=total)
    local = torch.arange(total, device=idx.device) - offsets[which]
    return which, starts[idx][which] + local, offsets


class DeviceLoader:
    """Shuffled mini-batches of a :class:`DeviceGraphs`, in the order PyG's
    ``DataLoader(shuffle=True, generator=generator)`` would give.

    Each epoch draws ``torch.randperm(G, generator=generator)`` on the host
    and takes from ``generator`` what PyG's loader takes besides: one draw
    for its workers' base seed before, and the empty ``randperm`` with which
    torch's ``RandomSampler`` ends an epoch after. (Or it takes ``sampler``'s
    indices, for example a
    :class:`~torch.utils.data.DistributedSampler`) and yields batches of
    ``batch_size`` graphs; with ``drop_last`` the last, incomplete batch is
    dropped.

    Args:
        graphs: the dataset on its device.
        batch_size: graphs per batch.
        generator: host generator of the order (ignored with ``sampler``).
        sampler: an iterable of graph indices that replaces the shuffle.
        drop_last: drop the last incomplete batch.
        shuffle: ``False`` keeps the dataset's order (for embedding).
    """

    def __init__(self, graphs: DeviceGraphs, batch_size: int,
                 *, generator: torch.Generator | None = None,
                 sampler: Sequence[int] | None = None,
                 drop_last: bool = False, shuffle: bool = True):
        if not isinstance(graphs, DeviceGraphs):
            raise InvalidTypeError(f"graphs must be a DeviceGraphs, got "
                                   f"{type(graphs).__name__}; wrap the dataset "
                                   "first: DeviceGraphs(dataset, device).")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) \
                or batch_size < 1:
            raise InvalidValueError(f"batch_size must be an integer >= 1, got "
                                    f"{batch_size!r}.")
        self.graphs, self.batch_size = graphs, batch_size
        self.generator, self.sampler = generator, sampler
        self.drop_last, self.shuffle = drop_last, shuffle

    def order(self) -> Tensor:
        """The graph indices of one epoch."""
        if self.sampler is not None:
            return torch.as_tensor(list(self.sampler), dtype=torch.long)
        if not self.shuffle:
            return torch.arange(len(self.graphs))
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        order = torch.randperm(len(self.graphs), generator=self.generator)
        torch.randperm(len(self.graphs), generator=self.generator)
        return order

    def __iter__(self) -> Iterator[Batch]:
        order = self.order()
        on_device = order.to(self.graphs.device)  # one copy an epoch
        for start in range(0, order.numel(), self.batch_size):
            rows = slice(start, start + self.batch_size)
            if self.drop_last and order[rows].numel() < self.batch_size:
                return
            yield self.graphs.batch(order[rows], on_device[rows])

    def __len__(self) -> int:
        count = len(self.sampler) if self.sampler is not None \
            else len(self.graphs)
        full, rest = divmod(count, self.batch_size)
        return full + (rest > 0 and not self.drop_last)


#: The public names (the API reference lists these).
__all__ = ["DeviceGraphs", "DeviceLoader", "fingerprint"]
