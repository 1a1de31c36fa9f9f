"""The four GraphCL views against their definitions (hngraph.data.augment): on
hand-made batches, in distribution against the one-graph transforms, and
their seeding."""
import math

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch

from hngraph.data.augment import (
    EdgePerturb,
    FeatureMask,
    NodeDrop,
    RandomWalkSubgraph,
    augment_batch,
    make_augmentation,
)
from hngraph.data.batching import DeviceGraphs, DeviceLoader

NAMES = ("node_drop", "subgraph", "edge_perturb", "feature_mask")


def hand_batch(nx_data):
    """A cycle, a path, a star, two disjoint triangles, a single node and a
    graph without edges, with node ids across the batch."""
    graphs = [nx.cycle_graph(12), nx.path_graph(9), nx.star_graph(7),
              nx.disjoint_union(nx.cycle_graph(3), nx.cycle_graph(3)),
              nx.empty_graph(1), nx.empty_graph(5)]
    data, start = [], 0
    for g in graphs:
        data.append(nx_data(g, start=start))
        start += g.number_of_nodes()
    return Batch.from_data_list(data), graphs


def nodes_of(view, graph):
    return view.x[view.batch == graph, 0].long().tolist()


def original_edges(batch):
    return {tuple(e) for e in batch.x[batch.edge_index, 0].long().t().tolist()}


@pytest.mark.parametrize("ratio", [0.2, 0.5, 0.99])
def test_node_drop_keeps_n_minus_floor_rn_and_their_edges(ratio, nx_data):
    batch, graphs = hand_batch(nx_data)
    edges = original_edges(batch)
    view = augment_batch("node_drop", batch, ratio=ratio,
                         generator=torch.Generator().manual_seed(3))
    kept = set(view.x[:, 0].long().tolist())
    for i, g in enumerate(graphs):
        n = g.number_of_nodes()
        assert len(nodes_of(view, i)) == n - math.floor(ratio * n) >= 1
    # renumbered: the view's edges are exactly the original edges between
    # kept nodes, read through the kept nodes' ids
    got = [tuple(e) for e in view.x[view.edge_index, 0].long().t().tolist()]
    assert sorted(got) == sorted(e for e in edges if set(e) <= kept)
    assert view.ptr.tolist() == [0, *torch.bincount(view.batch).cumsum(0)
                                 .tolist()]
    assert torch.equal(view.x[:, 1:], torch.ones(view.num_nodes, 3))


@pytest.mark.parametrize("seed", range(5))
def test_subgraph_grows_a_connected_set_from_one_node(seed, nx_data):
    batch, graphs = hand_batch(nx_data)
    ratio = 0.4
    view = augment_batch("subgraph", batch, ratio=ratio,
                         generator=torch.Generator().manual_seed(seed))
    offset = 0
    for i, g in enumerate(graphs):
        n = g.number_of_nodes()
        ids = [v - offset for v in nodes_of(view, i)]
        offset += n
        assert 1 <= len(ids) <= n - math.floor(ratio * n)
        component = nx.node_connected_component(g, ids[0])
        assert nx.is_connected(g.subgraph(ids))
        # the walk stops early only when the start's component is used up
        assert len(ids) == min(n - math.floor(ratio * n), len(component))
    kept = set(view.x[:, 0].long().tolist())
    got = [tuple(e) for e in view.x[view.edge_index, 0].long().t().tolist()]
    assert sorted(got) == sorted(e for e in original_edges(batch)
                                 if set(e) <= kept)


def test_subgraph_grows_by_uniform_frontier_draws(nx_data):
    # The continuous-time construction must give the distribution of the
    # one-node-at-a-time growth (a uniform start, then uniform draws among
    # the frontier): on a 5-node path, keeping 3 nodes, against the exact
    # distribution enumerated by hand below.
    g = nx.path_graph(5)
    data = nx_data(g)
    seen = {}
    gen = torch.Generator().manual_seed(0)
    batch = Batch.from_data_list([data] * 4000)
    view = augment_batch("subgraph", batch, ratio=0.4, generator=gen)
    for i in range(4000):
        ids = tuple(sorted(nodes_of(view, i)))
        seen[ids] = seen.get(ids, 0) + 1
    expected = _growth_distribution(g, 3)
    for ids, p in expected.items():
        assert seen.get(ids, 0) / 4000 == pytest.approx(p, abs=0.03)
    assert set(seen) == set(expected)


def _growth_distribution(g, k):
    """Exact distribution of the kept set of the one-at-a-time growth."""
    out = {}

    def grow(kept, p):
        if len(kept) == k:
            key = tuple(sorted(kept))
            out[key] = out.get(key, 0) + p
            return
        frontier = {u for v in kept for u in g[v]} - kept
        if not frontier:
            key = tuple(sorted(kept))
            out[key] = out.get(key, 0) + p
            return
        for u in frontier:
            grow(kept | {u}, p / len(frontier))

    for v in g:
        grow({v}, 1 / g.number_of_nodes())
    return out


@pytest.mark.parametrize("ratio", [0.2, 0.5])
def test_edge_perturb_keeps_each_graphs_edge_count(ratio, nx_data):
    batch, graphs = hand_batch(nx_data)
    view = augment_batch("edge_perturb", batch, ratio=ratio,
                         generator=torch.Generator().manual_seed(1))
    assert torch.equal(view.x, batch.x)
    before = torch.bincount(batch.batch[batch.edge_index[0]], minlength=6)
    after = torch.bincount(view.batch[view.edge_index[0]], minlength=6)
    assert torch.equal(before, after)
    # new edges stay inside their graph; floor(r m) entries were replaced
    assert torch.equal(view.batch[view.edge_index[0]],
                       view.batch[view.edge_index[1]])
    old = batch.edge_index.t().tolist()
    new = view.edge_index.t().tolist()
    kept = new[:len(old) - sum(math.floor(ratio * m) for m in
                               before.tolist())]
    assert all(e in old for e in kept)
    assert len(set(map(tuple, kept))) == len(kept)  # drawn without repeats


def test_feature_mask_zeroes_whole_rows(nx_data):
    batch, graphs = hand_batch(nx_data)
    view = augment_batch("feature_mask", batch, ratio=0.5,
                         generator=torch.Generator().manual_seed(2))
    assert torch.equal(view.edge_index, batch.edge_index)
    zero = (view.x == 0).all(1)
    assert torch.equal(view.x[~zero], batch.x[~zero])  # the others intact
    for i, g in enumerate(graphs):
        n = g.number_of_nodes()
        assert int(zero[batch.batch == i].sum()) == math.floor(0.5 * n)


@pytest.mark.parametrize("name", NAMES)
def test_same_generator_state_same_views(name, nx_data):
    batch, _ = hand_batch(nx_data)
    a = augment_batch(name, batch, ratio=0.3, generator=torch.Generator().manual_seed(7))
    b = augment_batch(name, batch, ratio=0.3, generator=torch.Generator().manual_seed(7))
    c = augment_batch(name, batch, ratio=0.3, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    assert not (torch.equal(a.x, c.x) and torch.equal(a.edge_index,
                                                      c.edge_index))


@pytest.mark.parametrize("name", NAMES)
def test_batch_and_transform_agree_in_distribution(name, data_root):
    """Kept nodes and edges per graph, over many draws: the batch path on
    MUTAG's device batches against the one-graph transform. Tolerance: the
    means within 4 standard errors of their difference plus 0.05, and the
    standard deviations within 25% (plus 0.05)."""
    from hngraph.data.tudataset import load_tudataset

    dataset = load_tudataset("MUTAG", root=str(data_root))
    graphs = [dataset[i] for i in range(12)]
    draws = 150
    device_graphs = DeviceGraphs(graphs)
    gen = torch.Generator().manual_seed(0)
    batch_counts = []
    loader = DeviceLoader(device_graphs, len(graphs), shuffle=False)
    for _ in range(draws):
        view = augment_batch(name, next(iter(loader)), ratio=0.3, generator=gen)
        batch_counts.append(_per_graph_counts(view, len(graphs)))
    aug = make_augmentation(name, ratio=0.3, generator=torch.Generator().manual_seed(1))
    host_counts = [_per_graph_counts(Batch.from_data_list(
        [aug(g) for g in graphs]), len(graphs)) for _ in range(draws)]
    a, b = torch.stack(batch_counts), torch.stack(host_counts)
    mean_a, mean_b = a.mean(0), b.mean(0)
    se = torch.sqrt(a.var(0) / draws + b.var(0) / draws)
    assert ((mean_a - mean_b).abs() <= 4 * se + 0.05).all()
    sd_a, sd_b = a.std(0), b.std(0)
    assert ((sd_a - sd_b).abs() <= 0.25 * torch.maximum(sd_a, sd_b)
            + 0.05).all()


def _per_graph_counts(view, graphs):
    """Per graph: kept nodes, kept edge entries, zeroed rows."""
    nodes = torch.bincount(view.batch, minlength=graphs)
    edges = torch.bincount(view.batch[view.edge_index[0]], minlength=graphs)
    zero = torch.bincount(view.batch[(view.x == 0).all(1)], minlength=graphs)
    return torch.stack([nodes, edges, zero], 1).double()


@pytest.mark.parametrize("cls", [NodeDrop, EdgePerturb, FeatureMask,
                                 RandomWalkSubgraph])
def test_transforms_are_seeded_and_leave_input_alone(cls, cycle):
    data = cycle()
    before = data.clone()
    a = cls(ratio=0.3, generator=torch.Generator().manual_seed(1))(data)
    b = cls(ratio=0.3, generator=torch.Generator().manual_seed(1))(data)
    c = cls(ratio=0.3, generator=torch.Generator().manual_seed(2))(data)
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    assert not (torch.equal(a.x, c.x) and a.edge_index.shape == c.edge_index.shape
                and torch.equal(a.edge_index, c.edge_index))
    assert torch.equal(data.x, before.x)
    assert torch.equal(data.edge_index, before.edge_index)
    assert a.edge_index.numel() == 0 or a.edge_index.max() < a.num_nodes


def test_transform_sizes(cycle):
    data = cycle(200)
    assert NodeDrop(ratio=0.25)(data).num_nodes == 150
    assert RandomWalkSubgraph(ratio=0.25)(data).num_nodes == 150  # connected
    pert = EdgePerturb(ratio=0.2)(data)
    assert pert.edge_index.shape == data.edge_index.shape
    masked = FeatureMask(ratio=0.3)(data)
    assert int((masked.x == 0).all(1).sum()) == 60


def test_bad_augmentation_arguments(nx_data):
    with pytest.raises(ValueError, match="^name must be one of .node_drop."):
        make_augmentation("rotate")
    with pytest.raises(ValueError, match=r"ratio must lie in \[0, 1\)"):
        NodeDrop(ratio=1.2)
    batch, _ = hand_batch(nx_data)
    with pytest.raises(ValueError, match="^name must be one of"):  # its own
        augment_batch("rotate", batch)
    with pytest.raises(ValueError, match=r"ratio must be a finite number in"):
        augment_batch("node_drop", batch, ratio=1.0)


def test_one_registry_by_name():
    """Each augmentation is built by its registered name, and the configs
    accept exactly those names; the batch path dispatches through it."""
    from hngraph.constraints import AUGMENTATION
    from hngraph.registry import AUGMENTATIONS
    assert AUGMENTATION.options[0].values == AUGMENTATIONS.names
    for name in AUGMENTATIONS.names:
        assert type(make_augmentation(name)) is AUGMENTATIONS.load(name)
