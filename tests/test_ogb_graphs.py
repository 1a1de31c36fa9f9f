import gzip

import numpy as np
import pytest
import torch

from hngraph import InfoGraph, seed_everything
from hngraph.data import DatasetNotFoundError
from hngraph.evaluation import linear_probe
from hngraph.ogb_graphs import load_ogb


def tiny_molhiv(root, graphs=40):
    """Rings and chains in ogbg-molhiv's raw layout; label 1 for rings."""
    rng = np.random.default_rng(0)
    folder = root / "ogbg_molhiv"
    (folder / "raw").mkdir(parents=True)
    (folder / "split" / "scaffold").mkdir(parents=True)
    (folder / "RELEASE_v1.txt").write_text("tiny test copy\n")
    edges, nodes, nedges, nfeat, efeat, labels = [], [], [], [], [], []
    for i in range(graphs):
        n = int(rng.integers(4, 9))
        ring = i % 2
        e = [(k, k + 1) for k in range(n - 1)] + ([(n - 1, 0)] if ring else [])
        edges += e
        nodes.append(n)
        nedges.append(len(e))
        atom = 5 if ring else 7  # carbon-like vs nitrogen-like atom type
        nfeat += [[atom, 0, 4, 5, 0, 0, 2, int(ring), int(ring)]] * n
        efeat += [[0, 0, int(ring)]] * len(e)
        labels.append(ring)
    write_csv(folder / "raw" / "edge.csv.gz", edges)
    write_csv(folder / "raw" / "num-node-list.csv.gz", nodes)
    write_csv(folder / "raw" / "num-edge-list.csv.gz", nedges)
    write_csv(folder / "raw" / "node-feat.csv.gz", nfeat)
    write_csv(folder / "raw" / "edge-feat.csv.gz", efeat)
    write_csv(folder / "raw" / "graph-label.csv.gz", labels)
    order = np.arange(graphs)
    for part, idx in (("train", order[:24]), ("valid", order[24:32]),
                      ("test", order[32:])):
        write_csv(folder / "split" / "scaffold" / f"{part}.csv.gz", idx)
    return root


def write_csv(path, rows):
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(",".join(str(v) for v in np.atleast_1d(row)) + "\n")


def test_load_and_probe_tiny_molhiv(tmp_path):
    root = tiny_molhiv(tmp_path)
    ds = load_ogb("ogbg-molhiv", root=root)
    assert len(ds) == 40 and ds.ogb_name == "ogbg-molhiv"
    assert ds.feature_recipe["kind"] == "onehot_columns"
    assert ds.num_features == sum(ds.feature_recipe["sizes"])
    assert torch.all(ds.x.sum(1) == 9)  # one hot per atom column
    assert [len(ds.split_idx[k]) for k in ("train", "valid", "test")] == \
        [24, 8, 8]
    seed_everything(0)
    model = InfoGraph(ds.num_features, hidden=8, layers=2)
    scores = linear_probe(model, ds)
    # Rings and chains differ in their atom type: an untrained encoder
    # already separates them, and OGB's evaluator reports the ROC-AUC.
    assert scores["test"]["rocauc"] == pytest.approx(1.0)
    assert 0.0 <= scores["valid"]["rocauc"] <= 1.0


def test_absent_ogb_data_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="could not be downloaded"):
        load_ogb("ogbg-molhiv", root=tmp_path)
    assert not (tmp_path / "ogbg_molhiv").exists()  # no empty folder left


def test_folder_without_release_file(tmp_path):
    (tmp_path / "ogbg_molhiv").mkdir()
    with pytest.raises(DatasetNotFoundError, match="RELEASE_v"):
        load_ogb("ogbg-molhiv", root=tmp_path)
