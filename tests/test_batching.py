"""Device batching equals PyG's DataLoader batches, and fit is the same on
both paths."""
import math

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from hngraph import InfoGraph, fit, load_tudataset, seed_everything
from hngraph.data.batching import DeviceGraphs, DeviceLoader
from hngraph.train.loop import train_loader

KEYS = ("x", "edge_index", "batch", "ptr", "y")


def _graphs(sizes):
    """Path graphs of the given node counts, with distinct features."""
    out, base = [], 0
    for i, n in enumerate(sizes):
        src = torch.arange(n - 1)
        ei = torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])
        x = torch.arange(base, base + n, dtype=torch.float).view(-1, 1)
        out.append(Data(x=x, edge_index=ei, y=torch.tensor([i % 3])))
        base += n
    return out


def _assert_same(a, b):
    for key in KEYS:
        assert torch.equal(getattr(a, key), getattr(b, key)), key
    assert a.num_graphs == b.num_graphs


def test_batch_of_a_tiny_set_by_hand():
    # Graph 0: 2 nodes (edge 0-1); graph 1: 3 nodes (path 0-1-2).
    graphs = DeviceGraphs(_graphs([2, 3]))
    b = graphs.batch(torch.tensor([1, 0]))
    assert b.x.view(-1).tolist() == [2, 3, 4, 0, 1]
    assert b.batch.tolist() == [0, 0, 0, 1, 1]
    assert b.ptr.tolist() == [0, 3, 5]
    assert b.edge_index.tolist() == [[0, 1, 1, 2, 3, 4], [1, 2, 0, 1, 4, 3]]
    assert b.y.tolist() == [1, 0] and b.num_graphs == 2


@pytest.mark.parametrize("batch_size", [4, 5, 7, 50])
def test_epochs_equal_pyg_dataloader(batch_size):
    # 21 graphs: batch 4 and 5 leave a last single graph (dropped by both),
    # 7 divides evenly, 50 is one incomplete batch; edgeless graphs included.
    data = _graphs([1, 3, 2, 5, 1, 4, 6, 2, 3, 1, 2, 7, 2, 3, 4, 1, 2, 2, 5,
                    3, 2])
    pyg, ours = (train_loader(data, batch_size, seed=3),
                 train_loader(data, batch_size, seed=3, device="cpu"))
    assert isinstance(ours, DeviceLoader)
    for _ in range(3):  # the order changes from epoch to epoch alike
        theirs, mine = list(pyg), list(ours)
        assert len(theirs) == len(mine) == len(ours)
        for a, b in zip(theirs, mine, strict=False):
            _assert_same(a, b)
    if len(data) % batch_size == 1:
        assert sum(b.num_graphs for b in mine) == len(data) - 1


def test_unshuffled_batches_equal_collation(data_root):
    ds = load_tudataset("PTC_MR")
    graphs = DeviceGraphs(ds)
    loader = DeviceLoader(graphs, 100, shuffle=False)
    for mine, theirs in zip(loader, DataLoader(ds, batch_size=100), strict=False):
        _assert_same(mine, theirs)
    order = torch.randperm(len(ds))[:64]
    _assert_same(graphs.batch(order),
                 Batch.from_data_list([ds[int(i)] for i in order]))


def test_fit_is_the_same_on_both_paths_and_reproducible(data_root):
    ds = load_tudataset("MUTAG")
    losses = []
    for batching in ("loader", "device", "device"):
        seed_everything(0)
        model = InfoGraph(ds.num_features, beta=1.0, tau_plus=0.5)
        losses.append(fit(model, ds, epochs=3, batch_size=64, seed=1,
                          device="cpu", progress=False,
                          batching=batching)["loss"])
    assert losses[0] == losses[1] == losses[2]  # bit for bit


def test_graphcl_trains_on_device_batches_by_default(data_root):
    # GraphCL draws its views on either path; "auto" is the device path, and
    # the same seed gives the same run, bit for bit, on the CPU.
    from hngraph import GraphCL
    ds = load_tudataset("MUTAG")
    runs = []
    for batching in ("auto", "device", "loader"):
        seed_everything(0)
        model = GraphCL(ds.num_features, hidden=16, layers=2, beta=1.0,
                        tau_plus=0.1, aug1="node_drop", aug2="subgraph")
        runs.append(fit(model, ds, epochs=2, batch_size=64, seed=1,
                        device="cpu", progress=False,
                        batching=batching)["loss"])
    assert runs[0] == runs[1]
    assert all(math.isfinite(v) for v in runs[2])


def test_nan_loss_names_its_epoch():
    model = InfoGraph(1)
    with torch.no_grad():
        model.encoder.convs[0].nn[0].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="at epoch 1"):
        fit(model, _graphs([3, 4, 5, 2]), epochs=2, batch_size=2,
            device="cpu", progress=False)
