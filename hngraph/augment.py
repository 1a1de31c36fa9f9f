"""Graph augmentations for two-view contrastive learning (GraphCL).

Each augmentation is a PyG transform: ``aug(data) -> new Data`` (the input is
not modified). ``ratio`` is the fraction of nodes, edges or features
affected; ``generator`` (a :class:`torch.Generator`) makes the draws
reproducible. PyG's own utilities do the work where they exist
(:func:`~torch_geometric.utils.dropout_node`,
:func:`~torch_geometric.utils.dropout_edge`,
:func:`~torch_geometric.utils.add_random_edge`,
:func:`~torch_geometric.utils.mask_feature`, :meth:`Data.subgraph`).
"""
from __future__ import annotations

import random

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import (
    add_random_edge,
    dropout_edge,
    dropout_node,
    mask_feature,
)

from .config import AUGMENTATION_NAMES


class _Augmentation(BaseTransform):
    def __init__(self, ratio: float = 0.2,
                 generator: torch.Generator | None = None):
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"{type(self).__name__}: ratio must lie in "
                             f"[0, 1), got {ratio}.")
        self.ratio = ratio
        self.generator = generator

    def _seed(self) -> int:
        """A seed drawn from this augmentation's generator (or torch's)."""
        return int(torch.randint(2**62, (1,), generator=self.generator))

    def forward(self, data: Data) -> Data:
        # PyG's utilities draw from torch's global generator (and, for
        # negative sampling, Python's): run them on forked copies seeded from
        # ours, so that the caller's streams are left untouched.
        seed = self._seed()
        state = random.getstate()
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                random.seed(seed)
                return self.augment(data.clone())
        finally:
            random.setstate(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ratio={self.ratio})"


class NodeDrop(_Augmentation):
    """Drop each node with probability ``ratio`` (at least one node stays),
    with its edges; the remaining nodes are renumbered."""

    def augment(self, data: Data) -> Data:
        _, _, keep = dropout_node(data.edge_index, p=self.ratio,
                                  num_nodes=data.num_nodes)
        if not keep.any():
            keep[torch.randint(data.num_nodes, (1,))] = True
        return data.subgraph(keep)


class EdgePerturb(_Augmentation):
    """Remove each undirected edge with probability ``ratio``, then add
    random edges, ``ratio`` times the remaining count (GraphCL's edge
    perturbation)."""

    def augment(self, data: Data) -> Data:
        if data.edge_index.numel() == 0:
            return data
        edge_index, _ = dropout_edge(data.edge_index, p=self.ratio,
                                     force_undirected=True)
        if self.ratio > 0 and data.num_nodes > 1:
            edge_index, _ = add_random_edge(edge_index, p=self.ratio,
                                            force_undirected=True,
                                            num_nodes=data.num_nodes)
        data.edge_index = edge_index
        for key in ("edge_attr", "edge_weight"):
            if key in data:
                del data[key]  # no longer aligned with the edges
        return data


class FeatureMask(_Augmentation):
    """Set the features of a ``ratio`` of the nodes to 0 (attribute
    masking)."""

    def augment(self, data: Data) -> Data:
        data.x, _ = mask_feature(data.x, p=self.ratio, mode="row")
        return data


class RandomWalkSubgraph(_Augmentation):
    """Keep the connected subgraph explored by a random walk until ``1 -
    ratio`` of the nodes are visited (GraphCL's subgraph view).

    Each step moves from a visited node, picked at random, to one of its
    neighbours, so the kept nodes stay connected to the start node and grow
    by about one node per step; after ``max_steps_per_node * n`` steps (a
    component smaller than the target) the walk stops.
    """

    def __init__(self, ratio: float = 0.2,
                 generator: torch.Generator | None = None,
                 max_steps_per_node: int = 20):
        super().__init__(ratio, generator)
        self.max_steps = max_steps_per_node

    def augment(self, data: Data) -> Data:
        n = data.num_nodes
        target = max(1, int(round((1.0 - self.ratio) * n)))
        neighbours = [[] for _ in range(n)]
        for u, v in data.edge_index.t().tolist():
            neighbours[u].append(v)
        visited = [random.randrange(n)]
        keep = torch.zeros(n, dtype=torch.bool)
        keep[visited[0]] = True
        for _ in range(self.max_steps * n):
            if len(visited) >= target:
                break
            step = neighbours[random.choice(visited)]
            if step:
                node = random.choice(step)
                if not keep[node]:
                    keep[node] = True
                    visited.append(node)
        return data.subgraph(keep.to(data.edge_index.device))


AUGMENTATIONS = dict(zip(AUGMENTATION_NAMES, (NodeDrop, EdgePerturb,
                                               FeatureMask, RandomWalkSubgraph), strict=False))


def make_augmentation(name: str, ratio: float = 0.2,
                      generator: torch.Generator | None = None):
    """An augmentation by name: ``node_drop``, ``edge_perturb``,
    ``feature_mask`` or ``subgraph``."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose one of "
                         f"{sorted(AUGMENTATIONS)}.")
    return AUGMENTATIONS[name](ratio, generator)
