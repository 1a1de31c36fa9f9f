import os
import pickle
import sys

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from hngraph import InfoGraph, embed, seed_everything
from hngraph.data.features import fit_feature_recipe


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


def test_api_edges_name_their_argument(tmp_path):
    from hngraph.data.graphs import read_graphs
    from hngraph.nn.losses import hard_infonce, jsd_local_global
    from hngraph.nn.models import load_model
    with pytest.raises(TypeError, match="node_emb must be a floating-point "
                       "tensor, got ndarray"):
        jsd_local_global(np.ones((3, 2)), torch.ones(2, 2),
                         torch.tensor([0, 1, 1]))
    with pytest.raises(TypeError, match="z2 must be a floating-point tensor"):
        hard_infonce(torch.ones(2, 2), np.ones((2, 2)))
    (tmp_path / "r.json").write_text('{"accuracy_mean": 0.9}')
    with pytest.raises(ValueError, match="r.json cannot be read as an "
                       "hngraph model"):
        load_model(tmp_path / "r.json")
    (tmp_path / "g.pkl").write_text("not a pickle")
    with pytest.raises(ValueError, match="g.pkl is not a pickle of graphs"):
        read_graphs(tmp_path / "g.pkl")
    folder = tmp_path / "graphs"
    folder.mkdir()
    (folder / "a.graphml").write_text("<graphml><broken")
    with pytest.raises(ValueError, match="a.graphml cannot be read"):
        read_graphs(folder)


def test_networkx_attributes_that_are_not_numbers():
    import networkx as nx

    from hngraph.eval.embedding import as_data_list
    recipe = {"kind": "labels", "dim": 2}
    g = nx.path_graph(3)
    for v in g.nodes:
        g.nodes[v]["x"] = "red"
    with pytest.raises(ValueError, match="graph 0: the node attributes"):
        as_data_list([g], recipe)
    ragged = nx.path_graph(3)
    for v in ragged.nodes:
        ragged.nodes[v]["x"] = [1.0] * (v + 1)
    with pytest.raises(ValueError, match="lists of numbers of one length"):
        as_data_list([ragged], recipe)


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


def test_embed_cli_on_100_networkx_graphs(tmp_path, run_cli):
    model, _, _ = trained_degree_model(tmp_path)
    graphs = [nx.gnm_random_graph(10 + i % 30, 40, seed=i) for i in range(100)]
    (tmp_path / "graphs.pkl").write_bytes(pickle.dumps(graphs))
    out = run_cli("embed", "--model", tmp_path / "m.pt", "--input",
                  tmp_path / "graphs.pkl", "--out", tmp_path / "emb.npy")
    assert out.returncode == 0, out.stderr
    assert "embedded 100 graphs (dim 16)" in out.stdout
    emb = np.load(tmp_path / "emb.npy")
    assert np.allclose(emb, embed(model, graphs), atol=1e-5)
    folder = tmp_path / "gml"
    folder.mkdir()
    for i, g in enumerate(graphs[:5]):
        nx.write_graphml(g, folder / f"g{i:02d}.graphml")
    out = run_cli("embed", "--model", tmp_path / "m.pt", "--input",
                  folder, "--out", tmp_path / "e2.npy")
    assert out.returncode == 0, out.stderr
    assert np.allclose(np.load(tmp_path / "e2.npy"), emb[:5], atol=1e-5)
    # a folder's rows are named by its files, in the rows' order
    assert (tmp_path / "e2.rows.txt").read_text().split() == [
        f"g{i:02d}.graphml" for i in range(5)]
    assert "row names -> " in out.stdout


def test_node_attrs_choose_the_features_and_their_order(tmp_path,
                                                        run_cli):
    """An extra attribute (a weight) is left out by node_attrs, and the
    chosen ones make x in the order given; a node without one is named."""
    seed_everything(0)
    model = InfoGraph(2, hidden=8, layers=2)
    model.feature_recipe = {"kind": "labels", "dim": 2}
    g = nx.cycle_graph(5)
    for v in g:
        g.nodes[v].update(a=float(v), b=1.0, weight=0.5)
    chosen = embed(model, [g], node_attrs=["a", "b"])
    plain = Data(x=torch.tensor([[float(v), 1.0] for v in g]),
                 edge_index=torch.tensor(list(g.to_directed().edges)).t())
    assert np.allclose(chosen, embed(model, [plain]), atol=1e-6)
    swapped = Data(x=plain.x[:, [1, 0]], edge_index=plain.edge_index)
    assert np.allclose(embed(model, [g], node_attrs=["b", "a"]),
                       embed(model, [swapped]), atol=1e-6)
    with pytest.raises(ValueError, match="expects 2 node features per "
                       "node, got 3"):
        embed(model, [g])  # every common attribute: a, b and weight
    del g.nodes[3]["b"]
    with pytest.raises(ValueError, match="node 3 has no attribute 'b' of "
                       r"node_attrs \['a', 'b'\]"):
        embed(model, [g], node_attrs=["a", "b"])
    with pytest.raises(TypeError, match="node_attrs must be a non-empty "
                       "list of attribute names, got 'a'"):
        embed(model, [g], node_attrs="a")
    g.nodes[3]["b"] = 1.0
    model.save(tmp_path / "m.pt")
    (tmp_path / "g.pkl").write_bytes(pickle.dumps([g]))
    done = run_cli("embed", "--model", tmp_path / "m.pt", "--input",
                   tmp_path / "g.pkl", "--out", tmp_path / "e.npy",
                   "--node-attrs", "a", "b")
    assert done.returncode == 0, done.stderr
    assert np.allclose(np.load(tmp_path / "e.npy"), chosen, atol=1e-6)


def test_integer_node_labels_are_encoded_by_the_saved_vocabulary(data_root):
    """A user's graph with a TU-style integer label per node embeds as the
    same graph with the one-hot rows of the dataset (ENZYMES: raw labels
    1..3, column 0 for label 1)."""
    from torch_geometric.utils import to_networkx

    from hngraph import load_tudataset
    ds = load_tudataset("ENZYMES")
    assert ds.feature_recipe["vocab"] == [1, 2, 3]
    seed_everything(0)
    model = InfoGraph(ds.num_features, hidden=8, layers=2)
    model.feature_recipe = ds.feature_recipe
    graphs = []
    for data in (ds[0], ds[1]):
        g = to_networkx(data, to_undirected=True)
        for v in g:
            g.nodes[v]["label"] = 1 + int(data.x[v].argmax())
        graphs.append(g)
    assert np.allclose(embed(model, graphs), embed(model, [ds[0], ds[1]]),
                       atol=1e-6)
    graphs[1].nodes[0]["label"] = 4
    with pytest.raises(ValueError, match=r"graph 1: node 0: label 4 was not "
                       r"among the labels at training time \(1..3\)"):
        embed(model, graphs)
    graphs[1].nodes[0]["label"] = 1.5
    with pytest.raises(ValueError, match="some are not integers"):
        embed(model, graphs)


def test_embed_after_fit_uses_the_recipe_fit_gave_the_model(data_root):
    """fit hands the dataset's feature recipe to a model without one, so
    embed(model, graphs) works as the guide says; the graphs' features
    built again from their node labels give the embeddings of the dataset's
    own features (an invariance)."""
    from hngraph import fit, load_tudataset
    ds = load_tudataset("MUTAG")
    seed_everything(0)
    model = InfoGraph(ds.num_features, hidden=8, layers=2)
    assert model.feature_recipe is None
    fit(model, ds[:32], epochs=1, batch_size=16, progress=False)
    assert model.feature_recipe == ds.feature_recipe
    bare = [Data(edge_index=g.edge_index, num_nodes=g.num_nodes,
                 node_labels=g.x.argmax(1)) for g in ds[:8]]
    graphs = []
    for g, data in zip(ds[:8], bare, strict=True):
        nxg = nx.Graph()
        nxg.add_nodes_from((i, {"label": ds.feature_recipe["vocab"][int(k)]})
                           for i, k in enumerate(data.node_labels))
        nxg.add_edges_from(g.edge_index.t().tolist())
        graphs.append(nxg)
    got = embed(model, graphs)
    expected = embed(model.encoder, list(ds[:8]))
    assert np.allclose(got, expected, atol=1e-5)


ENCODER_MODULE = '''
from torch_geometric.nn.models import GIN


class TinyGIN(GIN):
    def __init__(self):
        super().__init__(DIM, 8, num_layers=2)


def wide():
    return GIN(DIM, 16, num_layers=2)
'''


def test_embed_rebuilds_ones_own_encoder_by_its_import_path(tmp_path):
    """A model on the user's own encoder: the model file records the
    encoder's import path, and `hngraph embed` (the installed command, run
    from the folder holding the module) rebuilds it, or takes --encoder."""
    import subprocess
    import sys
    from pathlib import Path

    from hngraph.plugins import load_object
    _, graphs, datas = trained_degree_model(tmp_path)
    recipe = fit_feature_recipe(datas, "degree")
    name = f"own_encoders_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(ENCODER_MODULE.replace(
        "DIM", str(recipe["dim"])))
    sys.path.insert(0, str(tmp_path))
    try:
        encoder = load_object(f"{name}:TinyGIN", "test")()
    finally:
        sys.path.remove(str(tmp_path))
    seed_everything(0)
    model = InfoGraph(encoder)
    model.feature_recipe = recipe
    model.save(tmp_path / "own.pt")
    expected = embed(model, graphs)
    with open(tmp_path / "g.pkl", "wb") as f:
        pickle.dump(graphs, f)
    hngraph = Path(sys.executable).parent / "hngraph"

    def run(*flags):
        return subprocess.run([str(hngraph), "embed", "--model", "own.pt",
                               "--input", "g.pkl", *flags],
                              capture_output=True, text=True, cwd=tmp_path,
                              timeout=300)

    done = run("--out", "a.npy")  # the class the file records
    assert done.returncode == 0, done.stderr
    assert np.allclose(np.load(tmp_path / "a.npy"), expected, atol=1e-5)
    done = run("--out", "b.npy", "--encoder", f"{name}:wide")
    assert done.returncode == 1, done.stderr
    assert "its weights do not fit the TinyGIN encoder given" in done.stderr
    assert not (tmp_path / "b.npy").exists()


def test_encoder_flag_builds_the_encoder_and_names_a_bad_path(tmp_path,
                                                              run_cli):
    _, graphs, datas = trained_degree_model(tmp_path)
    recipe = fit_feature_recipe(datas, "degree")
    name = f"own_flag_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(ENCODER_MODULE.replace(
        "DIM", str(recipe["dim"])) + "\n\nNOT_A_MODULE = 3\n")
    from torch_geometric.nn.models import GIN
    seed_everything(0)
    model = InfoGraph(GIN(recipe["dim"], 8, num_layers=2))
    model.feature_recipe = recipe
    model.save(tmp_path / "own.pt")
    expected = embed(model, graphs)
    with open(tmp_path / "g.pkl", "wb") as f:
        pickle.dump(graphs, f)

    def run(*flags):
        return run_cli("embed", "--model", "own.pt", "--input", "g.pkl",
                       *flags, cwd=tmp_path)

    done = run("--out", "b.npy", "--encoder", f"{name}:TinyGIN")
    assert done.returncode == 0, done.stderr
    assert np.allclose(np.load(tmp_path / "b.npy"), expected, atol=1e-5)
    for spec, words in (
            (f"{name}.TinyGIN", "is not an import path: write module:name"),
            ("no_such_module_x:Y", "module 'no_such_module_x' cannot be "
             "imported"),
            (f"{name}:Nope", f"module {name!r} has no 'Nope'"),
            (f"{name}:NOT_A_MODULE", "cannot be called with no arguments")):
        done = run("--out", "d.npy", "--encoder", spec)
        assert done.returncode == 2, done.stderr
        assert f"--encoder {spec!r}" in done.stderr and words in done.stderr
    assert not (tmp_path / "d.npy").exists()


def test_embed_replaces_an_existing_output_only_when_asked(tmp_path,
                                                           run_cli):
    _, graphs, _ = trained_degree_model(tmp_path)
    folder = tmp_path / "graphs"
    folder.mkdir()
    for i, g in enumerate(graphs[:3]):
        nx.write_edgelist(g, folder / f"g{i}.edgelist", data=False)
    (tmp_path / "e.rows.txt").write_text("a file of the user's\n")
    args = ("embed", "--model", "m.pt", "--input", "graphs", "--out", "e")
    refused = run_cli(*args, cwd=tmp_path)
    assert refused.returncode == 2
    assert "would replace e.rows.txt, which exists" in \
        refused.stderr and "--overwrite" in refused.stderr
    assert (tmp_path / "e.rows.txt").read_text() == "a file of the user's\n"
    assert not (tmp_path / "e.npy").exists()
    assert run_cli(*args, "--overwrite", cwd=tmp_path).returncode == 0
    assert (tmp_path / "e.rows.txt").read_text().split() == [
        "g0.edgelist", "g1.edgelist", "g2.edgelist"]
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 2 and "e.npy, which exists" in again.stderr


def test_an_import_path_is_found_in_the_current_folder_and_sys_path_restored(
        tmp_path, monkeypatch):
    """A module in the current folder imports by its path (as `python -m`
    finds it), and the folder is not left on sys.path afterwards."""
    from hngraph.plugins import load_object

    name = f"here_{os.getpid()}"
    (tmp_path / f"{name}.py").write_text("VALUE = 41 + 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path
                                      if p not in ("", str(tmp_path))])
    before = list(sys.path)
    assert load_object(f"{name}:VALUE", "test") == 42
    assert sys.path == before
    sys.modules.pop(name, None)
