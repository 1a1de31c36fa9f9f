"""Augmentations, the GraphCL-style model and embedding your own graphs."""
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import is_undirected

from hngraph import GraphCL, InfoGraph, embed, load_model, seed_everything
from hngraph.augment import (
    EdgePerturb,
    FeatureMask,
    NodeDrop,
    RandomWalkSubgraph,
    make_augmentation,
)
from hngraph.data import fit_feature_recipe

HNGRAPH = shutil.which("hngraph", path=str(Path(sys.executable).parent))


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


def test_graphcl_loss_trains():
    from torch_geometric.data import Batch
    seed_everything(0)
    graphs = [cycle(n) for n in (8, 10, 12, 9)]
    model = GraphCL(4, hidden=8, layers=2, beta=1.0, tau_plus=0.1,
                    aug1="node_drop", aug2="edge_perturb")
    loss = model.loss(Batch.from_data_list(graphs))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.encoder.parameters())


# ---------------------------------------------------------- your graphs

def trained_degree_model(tmp_path):
    graphs = [nx.gnm_random_graph(n, 2 * n, seed=n) for n in range(5, 25)]
    datas = [Data(edge_index=torch.tensor(list(g.to_directed().edges)).t(),
                  num_nodes=g.number_of_nodes()) for g in graphs]
    seed_everything(0)
    model = InfoGraph(fit_feature_recipe(datas, "degree")["dim"], hidden=8,
                      layers=2)
    model.feature_recipe = fit_feature_recipe(datas, "degree")
    model.save(tmp_path / "m.pt")
    return model, graphs, datas


def test_embed_networkx_data_and_checkpoint_agree(tmp_path):
    model, graphs, datas = trained_degree_model(tmp_path)
    from_nx = embed(model, graphs)
    from_data = embed(model, datas)
    from_ckpt = embed(tmp_path / "m.pt", graphs)
    assert from_nx.shape == (20, 16)
    assert np.allclose(from_nx, from_data, atol=1e-5)
    assert np.array_equal(from_nx, from_ckpt)
    # Relabelling the nodes of a graph does not change its embedding.
    relabelled = [nx.relabel_nodes(g, {v: f"n{v}" for v in g}) for g in graphs]
    assert np.allclose(embed(model, relabelled), from_nx, atol=1e-5)


def test_embed_with_node_attributes_needs_them(tmp_path):
    model = InfoGraph(3, hidden=8, layers=2)
    model.feature_recipe = {"kind": "labels", "dim": 3}
    g = nx.path_graph(4)
    with pytest.raises(ValueError, match="no common attributes"):
        embed(model, [g])
    for v in g:
        g.nodes[v]["x"] = [1.0, 0.0, float(v)]
    assert embed(model, [g]).shape == (1, 16)
    h = nx.path_graph(3)
    for v in h:
        h.nodes[v]["x"] = [1.0, 0.0]
    with pytest.raises(ValueError, match="expects 3 node features per node"):
        embed(model, [h])


def test_embed_cli_on_100_networkx_graphs(tmp_path):
    model, _, _ = trained_degree_model(tmp_path)
    graphs = [nx.gnm_random_graph(10 + i % 30, 40, seed=i) for i in range(100)]
    (tmp_path / "graphs.pkl").write_bytes(pickle.dumps(graphs))
    out = subprocess.run([HNGRAPH, "embed", "--checkpoint", str(tmp_path / "m.pt"),
                          "--input", str(tmp_path / "graphs.pkl"), "--out",
                          str(tmp_path / "emb.npy")], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "embedded 100 graphs (dim 16)" in out.stdout
    emb = np.load(tmp_path / "emb.npy")
    assert np.allclose(emb, embed(model, graphs), atol=1e-5)
    folder = tmp_path / "gml"
    folder.mkdir()
    for i, g in enumerate(graphs[:5]):
        nx.write_graphml(g, folder / f"g{i:02d}.graphml")
    out = subprocess.run([HNGRAPH, "embed", "--checkpoint", str(tmp_path / "m.pt"),
                          "--input", str(folder), "--out", str(tmp_path / "e2.npy")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert np.allclose(np.load(tmp_path / "e2.npy"), emb[:5], atol=1e-5)


def test_cli_infonce_trains_and_saves(data_root, tmp_path):
    out = subprocess.run([HNGRAPH, "train", "--dataset", "MUTAG", "--objective",
                          "infonce", "--beta", "1", "--tau-plus", "0.1",
                          "--epochs", "2", "--out", str(tmp_path), "--quiet"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    result = json.loads(next(tmp_path.glob("MUTAG_infonce-hard_*.json")).read_text())
    assert result["config"]["objective"] == "infonce"
    model = load_model(result["checkpoint"])
    assert isinstance(model, GraphCL) and model.feature_recipe["dim"] == 7
