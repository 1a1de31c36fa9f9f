import networkx as nx
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import is_undirected

from hngraph.augment import (
    EdgePerturb,
    FeatureMask,
    NodeDrop,
    RandomWalkSubgraph,
    make_augmentation,
)


def cycle(n=30, dim=4):
    g = nx.cycle_graph(n)
    g.add_edges_from((i, (i + 7) % n) for i in range(0, n, 3))
    data = Data(x=torch.arange(n * dim, dtype=torch.float).view(n, dim),
                edge_index=torch.tensor(list(g.to_directed().edges)).t())
    return data


@pytest.mark.parametrize("cls", [NodeDrop, EdgePerturb, FeatureMask,
                                 RandomWalkSubgraph])
def test_augmentations_are_seeded_and_leave_input_alone(cls):
    data = cycle()
    before = data.clone()
    a = cls(0.3, torch.Generator().manual_seed(1))(data)
    b = cls(0.3, torch.Generator().manual_seed(1))(data)
    c = cls(0.3, torch.Generator().manual_seed(2))(data)
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    assert not (torch.equal(a.x, c.x) and a.edge_index.shape == c.edge_index.shape
                and torch.equal(a.edge_index, c.edge_index))
    assert torch.equal(data.x, before.x)
    assert torch.equal(data.edge_index, before.edge_index)
    assert a.edge_index.numel() == 0 or a.edge_index.max() < a.num_nodes


def test_node_drop_and_subgraph_sizes():
    data = cycle(200)
    dropped = NodeDrop(0.25, torch.Generator().manual_seed(0))(data)
    assert 120 <= dropped.num_nodes <= 180
    # Kept nodes keep their own features (rows of the original x).
    rows = {tuple(r) for r in data.x.tolist()}
    assert all(tuple(r) in rows for r in dropped.x.tolist())
    sub = RandomWalkSubgraph(0.25, torch.Generator().manual_seed(0))(data)
    assert sub.num_nodes == 150  # 1 - ratio of a connected graph


def test_edge_perturb_and_feature_mask():
    data = cycle(100)
    pert = EdgePerturb(0.2, torch.Generator().manual_seed(0))(data)
    assert pert.num_nodes == 100 and is_undirected(pert.edge_index)
    old = {tuple(e) for e in data.edge_index.t().tolist()}
    new = {tuple(e) for e in pert.edge_index.t().tolist()}
    assert old - new and new - old  # some removed, some added
    masked = FeatureMask(0.3, torch.Generator().manual_seed(0))(data)
    zero_rows = int((masked.x.abs().sum(1) == 0).sum()) - 1  # row 0 is 0
    assert 15 <= zero_rows <= 45


def test_bad_augmentation_arguments():
    with pytest.raises(ValueError, match="unknown augmentation"):
        make_augmentation("rotate")
    with pytest.raises(ValueError, match=r"ratio must lie in \[0, 1\)"):
        NodeDrop(1.2)
