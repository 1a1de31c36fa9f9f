r"""Graph augmentations for two-view contrastive learning: the four views of
GraphCL (You et al., NeurIPS 2020, <https://arxiv.org/abs/2010.13902>).

For a graph of :math:`n` nodes and :math:`m` edge entries (both directions of
an undirected edge are two entries, as in PyG) and a ratio :math:`r \in [0,
1)`:

- ``node_drop``: :math:`n - \lfloor r n \rfloor` nodes are kept, drawn
  uniformly without replacement, with the edges between them; the kept nodes
  are renumbered in their order.
- ``subgraph``: a uniform start node, then, one node at a time, a uniform
  draw among the nodes not yet kept that neighbour a kept one, until
  :math:`n - \lfloor r n \rfloor` nodes are kept or no neighbour is left
  (the start node's component is smaller); the kept nodes are connected
  (the random-walk subgraph of GraphCL's code, which grows the same way).
- ``edge_perturb``: :math:`\lfloor r m \rfloor` edge entries are removed,
  drawn uniformly without replacement, and as many are added, each between
  two uniform nodes of the graph: the graph keeps :math:`m` entries.
- ``feature_mask``: :math:`\lfloor r n \rfloor` nodes, drawn uniformly
  without replacement, get an all-zero feature vector (GraphCL masks whole
  node attribute vectors).

Every graph keeps at least one node, since :math:`\lfloor r n \rfloor < n`.
:func:`augment_batch` draws a view of every graph of a mini-batch at once,
with index and mask operations over the whole batch (no loop over graphs),
on the batch's device; it serves the mini-batches of
:class:`~hngraph.data.batching.DeviceLoader` and of PyG's ``DataLoader`` alike.
The transforms :class:`NodeDrop`, :class:`RandomWalkSubgraph`,
:class:`EdgePerturb` and :class:`FeatureMask` (``aug(data) -> new Data``,
the input left unchanged) apply the same functions to one ``Data``, for
users' own pipelines. A :class:`torch.Generator` on the data's device (or
torch's default one) makes the draws reproducible.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import BaseTransform

from ..constraints import AUGMENTATION, RATIO, check, validate_params
from ..errors import InvalidTypeError, InvalidValueError
from ..registry import AUGMENTATIONS
from .batching import _ptr


def _rand(size: int, like: Tensor, generator) -> Tensor:
    """``size`` uniform draws in [0, 1), float64, on ``like``'s device."""
    return torch.rand(size, dtype=torch.float64, device=like.device,
                      generator=generator)


def _floor_ratio(counts: Tensor, ratio: float) -> Tensor:
    r""":math:`\lfloor r c \rfloor` per segment, as Python's ``int(c * r)``."""
    return torch.floor(counts.to(torch.float64) * ratio).long()


def _choose(segment: Tensor, k: Tensor, generator) -> Tensor:
    """A mask with exactly ``k[g]`` of the entries of each segment ``g``
    (``segment``: each entry's segment, ``[M]``) set, drawn uniformly
    without replacement: the ``k[g]`` smallest of uniform keys."""
    key = segment.to(torch.float64) + _rand(segment.numel(), segment,
                                            generator)
    order = key.argsort()
    counts = torch.bincount(segment, minlength=k.numel())
    first = counts.cumsum(0) - counts
    seg = segment[order]
    rank = torch.arange(segment.numel(), device=segment.device) - first[seg]
    chosen = torch.empty_like(segment, dtype=torch.bool)
    chosen[order] = rank < k[seg]
    return chosen


def node_drop_mask(batch: Tensor, num_graphs: int, ratio: float,
                   generator=None) -> Tensor:
    """The nodes ``node_drop`` keeps (``[N]`` bool), ``batch`` being each
    node's graph."""
    counts = torch.bincount(batch, minlength=num_graphs)
    return ~_choose(batch, _floor_ratio(counts, ratio), generator)


def feature_mask_rows(batch: Tensor, num_graphs: int, ratio: float,
                      generator=None) -> Tensor:
    """The nodes whose features ``feature_mask`` sets to 0 (``[N]`` bool)."""
    counts = torch.bincount(batch, minlength=num_graphs)
    return _choose(batch, _floor_ratio(counts, ratio), generator)


def subgraph_mask(edge_index: Tensor, batch: Tensor, num_graphs: int,
                  ratio: float, generator=None) -> Tensor:
    r"""The nodes ``subgraph`` keeps (``[N]`` bool), for every graph at once.

    The one-node-at-a-time growth is run in continuous time: each node
    :math:`v` draws :math:`E_v \sim \mathrm{Exp}(1)` and joins at
    :math:`T_v = E_v + \min_{u \sim v} T_u` (:math:`T = 0` at the start
    node), the first moment a neighbour has joined plus its own clock. The
    clocks being memoryless, the next node to join is at every moment a
    uniform draw among the nodes that neighbour the joined ones, so the
    order of joining is that of the one-at-a-time growth, and the kept nodes
    are the ``n - floor(r n)`` with the smallest :math:`T`: shortest paths
    with node weights, found by relaxing all edges at once until no
    :math:`T` changes."""
    counts = torch.bincount(batch, minlength=num_graphs)
    target = counts - _floor_ratio(counts, ratio)
    start = _ptr(counts)[:-1] + (_rand(num_graphs, batch, generator)
                                 * counts).long()
    clock = -torch.log1p(-_rand(batch.numel(), batch, generator))
    time = torch.full_like(clock, float("inf"))
    time[start] = 0.0
    src, dst = edge_index
    while True:
        before = time
        reached = torch.full_like(time, float("inf")).scatter_reduce(
            0, dst, time[src], "amin")
        time = torch.minimum(time, reached + clock)
        if torch.equal(time, before):
            break
    by_time = time.argsort(stable=True)
    order = by_time[batch[by_time].argsort(stable=True)]
    first = _ptr(counts)[:-1]
    rank = torch.arange(batch.numel(), device=batch.device) \
        - first[batch[order]]
    kept = torch.empty_like(batch, dtype=torch.bool)
    kept[order] = (rank < target[batch[order]]) & time[order].isfinite()
    return kept


def edge_perturb_edges(edge_index: Tensor, batch: Tensor, num_graphs: int,
                       ratio: float, generator=None) -> Tensor:
    """The edge entries after ``edge_perturb``: the kept ones, then the
    added ones (``[2, M]``), ``batch`` being each node's graph."""
    edge_graph = batch[edge_index[0]]
    per_graph = torch.bincount(edge_graph, minlength=num_graphs)
    changed = _floor_ratio(per_graph, ratio)
    kept = edge_index[:, ~_choose(edge_graph, changed, generator)]
    graph = torch.repeat_interleave(
        torch.arange(num_graphs, device=batch.device), changed)
    counts = torch.bincount(batch, minlength=num_graphs)
    first = _ptr(counts)[:-1]
    ends = (_rand(2 * graph.numel(), batch, generator).view(2, -1)
            * counts[graph]).long() + first[graph]
    return torch.cat([kept, ends], dim=1)


def _restrict(batch: Batch, keep: Tensor) -> Batch:
    """The mini-batch on the nodes ``keep``: the edges between kept nodes,
    renumbered."""
    new_id = keep.long().cumsum(0) - 1
    edges = batch.edge_index[:, keep[batch.edge_index[0]]
                             & keep[batch.edge_index[1]]]
    return _batch_like(batch, batch.x[keep], new_id[edges], batch.batch[keep])


def _batch_like(batch: Batch, x: Tensor, edge_index: Tensor,
                node_graph: Tensor) -> Batch:
    """A mini-batch of ``batch``'s graphs (and labels) on new tensors."""
    counts = torch.bincount(node_graph, minlength=batch.num_graphs)
    out = Batch(x=x, edge_index=edge_index, batch=node_graph,
                ptr=_ptr(counts))
    if getattr(batch, "y", None) is not None:
        out.y = batch.y
    out._num_graphs = batch.num_graphs
    return out


#: The parameters of :func:`augment_batch`.
AUGMENT_PARAMS = {"name": AUGMENTATION, "ratio": RATIO}


@validate_params(AUGMENT_PARAMS)
def augment_batch(name: str, batch: Batch, *, ratio: float = 0.2,
                  generator: torch.Generator | None = None) -> Batch:
    """A view of every graph of a mini-batch (``x``, ``edge_index``,
    ``batch``, ``num_graphs``), by the augmentation ``name`` (see the module's
    definitions), drawn on the batch's device from ``generator``.

    Shapes:
        ``[N, F]`` features and ``[2, E]`` edges in, ``[N', F]`` and
        ``[2, E']`` out, with ``N' = N`` for ``edge_perturb`` and
        ``feature_mask``, and ``E' = E`` for ``edge_perturb``.
    """
    if not isinstance(batch, Batch) or not all(
            isinstance(getattr(batch, k, None), torch.Tensor)
            for k in ("x", "edge_index", "batch")):
        raise InvalidTypeError(
            f"batch must be a PyG Batch with x, edge_index and batch, got "
            f"{type(batch).__name__} (make one with Batch.from_data_list).")
    return AUGMENTATIONS.load(name).on_batch(batch, ratio, generator)


class Augmentation(BaseTransform):
    """A transform drawing one view of a ``Data`` by the functions of the
    batch path (one graph: ``batch`` all zeros); :meth:`on_batch` draws a
    view of every graph of a mini-batch at once (:func:`augment_batch`).
    An augmentation of your own subclasses it and defines both
    ``on_batch(batch, ratio, generator)`` (training uses it) and
    ``augment(data, one)``, and a config names it by import path
    (``aug1: my_module:MyAugmentation``)."""

    @staticmethod
    def on_batch(batch: Batch, ratio: float,
                 generator: torch.Generator | None) -> Batch:
        raise NotImplementedError

    def __init__(self, *, ratio: float = 0.2,
                 generator: torch.Generator | None = None):
        if not 0.0 <= ratio < 1.0:
            raise InvalidValueError(f"{type(self).__name__}: ratio must lie in "
                                    f"[0, 1), got {ratio}.")
        self.ratio = ratio
        self.generator = generator

    def forward(self, data: Data) -> Data:
        one = torch.zeros(data.num_nodes, dtype=torch.long,
                          device=data.edge_index.device)
        return self.augment(data.clone(), one)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ratio={self.ratio})"


class NodeDrop(Augmentation):
    """GraphCL's node dropping (see the module's definitions)."""

    @staticmethod
    def on_batch(batch, ratio, generator):
        return _restrict(batch, node_drop_mask(batch.batch, batch.num_graphs,
                                               ratio, generator))

    def augment(self, data: Data, one: Tensor) -> Data:
        return data.subgraph(node_drop_mask(one, 1, self.ratio,
                                            self.generator))


class RandomWalkSubgraph(Augmentation):
    """GraphCL's subgraph view, grown from a random node through its
    neighbours (see the module's definitions)."""

    @staticmethod
    def on_batch(batch, ratio, generator):
        return _restrict(batch, subgraph_mask(
            batch.edge_index, batch.batch, batch.num_graphs, ratio,
            generator))

    def augment(self, data: Data, one: Tensor) -> Data:
        return data.subgraph(subgraph_mask(data.edge_index, one, 1,
                                           self.ratio, self.generator))


class EdgePerturb(Augmentation):
    """GraphCL's edge perturbation (see the module's definitions); edge
    attributes, no longer aligned with the edges, are dropped."""

    @staticmethod
    def on_batch(batch, ratio, generator):
        return _batch_like(batch, batch.x, edge_perturb_edges(
            batch.edge_index, batch.batch, batch.num_graphs, ratio,
            generator), batch.batch)

    def augment(self, data: Data, one: Tensor) -> Data:
        data.edge_index = edge_perturb_edges(data.edge_index, one, 1,
                                             self.ratio, self.generator)
        for key in ("edge_attr", "edge_weight"):
            if key in data:
                del data[key]
        return data


class FeatureMask(Augmentation):
    """GraphCL's attribute masking (see the module's definitions)."""

    @staticmethod
    def on_batch(batch, ratio, generator):
        rows = feature_mask_rows(batch.batch, batch.num_graphs, ratio,
                                 generator)
        return _batch_like(batch, batch.x.masked_fill(rows[:, None], 0),
                           batch.edge_index, batch.batch)

    def augment(self, data: Data, one: Tensor) -> Data:
        rows = feature_mask_rows(one, 1, self.ratio, self.generator)
        data.x = data.x.masked_fill(rows[:, None], 0)
        return data


def make_augmentation(name: str, *, ratio: float = 0.2,
                      generator: torch.Generator | None = None):
    """An augmentation transform by its name in
    :data:`hngraph.registry.AUGMENTATIONS`."""
    name = check(AUGMENTATION, name, "name")
    return AUGMENTATIONS.load(name)(ratio=ratio, generator=generator)


#: The public names (the API reference lists these).
__all__ = ["augment_batch", "Augmentation", "NodeDrop", "EdgePerturb", "FeatureMask",
           "RandomWalkSubgraph", "make_augmentation"]
