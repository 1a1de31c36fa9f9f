"""Dataset sources: TU raw files, OGB and a folder of one's own graphs, each
trainable from the API, `hngraph train` and a grid config."""
import json
import pickle

import networkx as nx
import pytest
import torch
from torch_geometric.data import Data

from hngraph.config import TrainConfig
from hngraph.data.graphs import load_graph_folder
from hngraph.errors import DatasetNotFoundError, InvalidValueError
from hngraph.runs.experiment import load_dataset, run_stem


def _graphs(n=12):
    """Rings (label 1) and paths (label 0) of 5 to 8 nodes, each node with
    the attribute ``a``."""
    graphs = []
    for i in range(n):
        size = 5 + i % 4
        g = nx.cycle_graph(size) if i % 2 else nx.path_graph(size)
        nx.set_node_attributes(g, {v: float(v % 2) for v in g}, "a")
        g.graph["label"] = i % 2
        graphs.append(g)
    return graphs


def test_a_folder_of_graph_files_with_labels_txt(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    for i, g in enumerate(_graphs()):
        nx.write_graphml(g, folder / f"g{i:02d}.graphml")
    (folder / "labels.txt").write_text("\n".join(
        str(1 - i % 2) for i in range(12)))      # labels.txt wins
    ds = load_graph_folder("mine", root=tmp_path)
    assert len(ds) == 12 and ds.name == "mine"
    assert ds.y.tolist() == [1 - i % 2 for i in range(12)]
    # the node attribute `a` is every node's, so it is the features
    assert ds.feature_recipe == {"kind": "labels", "dim": 1}
    assert ds[1].x.view(-1).tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert ds[0].num_nodes == 5 and ds[0].edge_index.size(1) == 8


def test_a_pickle_of_networkx_graphs_or_data(tmp_path):
    with open(tmp_path / "nets.pkl", "wb") as f:
        pickle.dump(_graphs(), f)
    ds = load_graph_folder("nets", root=tmp_path, features="degree")
    assert ds.y.tolist() == [i % 2 for i in range(12)]
    assert ds.feature_recipe["kind"] == "onehot_degree"
    data = [Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2,
                 y=torch.tensor([k % 3])) for k in range(6)]
    with open(tmp_path / "pyg.pkl", "wb") as f:
        pickle.dump(data, f)
    ds = load_graph_folder("pyg", root=tmp_path)
    assert ds.y.tolist() == [0, 1, 2, 0, 1, 2]


def test_a_folder_source_names_what_is_missing(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="mine.pkl"):
        load_graph_folder("mine", root=tmp_path)
    folder = tmp_path / "mine"
    folder.mkdir()
    graphs = _graphs(3)
    del graphs[1].graph["label"]
    for i, g in enumerate(graphs):
        nx.write_graphml(g, folder / f"g{i}.graphml")
    with pytest.raises(InvalidValueError, match="graph 1 has no single "
                       "label .*labels.txt"):
        load_graph_folder("mine", root=tmp_path)
    (folder / "labels.txt").write_text("0\n1\n")
    with pytest.raises(InvalidValueError, match="2 label.*for 3 graph files"):
        load_graph_folder("mine", root=tmp_path)


def test_the_tu_source_keeps_every_committed_key(data_root):
    """A config that names no source reads TU files, and its file name (the
    settings key) is the one it had before sources existed."""
    config = TrainConfig(dataset="MUTAG", epochs=2, seed=0)
    assert config.source == "tu"
    assert run_stem(config) == \
        "MUTAG_hard-paper_beta1_tau0.5_seed0_72e32692"
    assert run_stem(config.replace(source="folder")) != run_stem(config)
    assert len(load_dataset(config)) == 188


def test_hngraph_train_on_a_folder_of_ones_own_graphs(tmp_path, run_cli):
    with open(tmp_path / "nets.pkl", "wb") as f:
        pickle.dump(_graphs(20), f)
    done = run_cli("train", "--source", "folder", "--root", tmp_path,
                   "--dataset", "nets", "--epochs", "1", "--batch-size", "8",
                   "--folds", "2", "--out", tmp_path / "out", "--quiet")
    assert done.returncode == 0, done.stderr
    [path] = (tmp_path / "out").glob("nets_*.json")
    result = json.loads(path.read_text())
    assert result["config"]["source"] == "folder"
    assert result["dataset"]["graphs"] == 20
    done = run_cli("train", "--source", "nowhere", "--dataset", "nets")
    assert done.returncode == 2 and "--source must be one of 'tu', 'ogb', " \
        "'folder' or an import path" in done.stderr


def test_a_grid_trains_from_a_source(tmp_path, run_cli):
    import yaml
    with open(tmp_path / "nets.pkl", "wb") as f:
        pickle.dump(_graphs(20), f)
    (tmp_path / "g.yaml").write_text(yaml.safe_dump({
        "out": str(tmp_path / "out"), "epochs": 1, "batch_size": 8,
        "folds": 2, "source": "folder", "root": str(tmp_path),
        "seeds": [0], "datasets": ["nets"],
        "cells": {"infograph": {"beta": 0, "tau_plus": 0}}}))
    done = run_cli("grid", "run", tmp_path / "g.yaml", "--threads", "1",
                   "--allow-dirty", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    [path] = (tmp_path / "out" / "nets").glob("infograph_seed0*.json")
    assert json.loads(path.read_text())["config"]["source"] == "folder"
