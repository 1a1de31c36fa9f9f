import shutil
import stat

import pytest
import torch
from torch_geometric.data import Data

from hngraph.data import (
    DatasetNotFoundError,
    apply_feature_recipe,
    fit_feature_recipe,
    load_tudataset,
)


def test_mutag_from_shared_data(data_root, tmp_path):
    ds = load_tudataset("MUTAG", cache=tmp_path)
    assert len(ds) == 188 and ds.num_classes == 2
    assert ds.num_features == 7  # one-hot node labels
    assert ds.feature_recipe == {"kind": "labels", "dim": 7}
    assert sorted(torch.bincount(ds.y).tolist()) == [63, 125]
    assert ds.x.dtype == torch.float32


def test_never_writes_into_raw_folder(data_root, tmp_path):
    src = tmp_path / "data" / "MUTAG" / "raw"
    shutil.copytree(data_root / "MUTAG" / "raw", src)
    before = sorted(p.relative_to(tmp_path / "data") for p in
                    (tmp_path / "data").rglob("*"))
    for p in [src, src.parent, *src.iterdir()]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        ds = load_tudataset("MUTAG", root=tmp_path / "data",
                            cache=tmp_path / "cache")
    finally:
        for p in [src, src.parent, *src.iterdir()]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert len(ds) == 188
    after = sorted(p.relative_to(tmp_path / "data") for p in
                   (tmp_path / "data").rglob("*"))
    assert before == after
    assert any((tmp_path / "cache").rglob("*.pt"))


def test_degree_features_for_unlabelled_graphs(data_root, tmp_path):
    ds = load_tudataset("IMDB-BINARY", cache=tmp_path)
    assert ds.feature_recipe["kind"] == "onehot_degree"
    assert ds.num_features == ds.feature_recipe["max_degree"] + 1
    assert torch.all(ds.x.sum(1) == 1)
    const = load_tudataset("IMDB-BINARY", cache=tmp_path, features="constant")
    assert const.num_features == 1 and torch.all(const.x == 1)


def test_feature_recipes_by_hand():
    # A star with k leaves: the centre has degree k, the leaves degree 1.
    def star(k):
        leaves = torch.arange(1, k + 1)
        e = torch.stack([torch.zeros(k, dtype=torch.long), leaves])
        return Data(edge_index=torch.cat([e, e.flip(0)], 1), num_nodes=k + 1)

    small = fit_feature_recipe([star(3), star(2)], "auto")
    assert small == {"kind": "onehot_degree", "max_degree": 3, "dim": 4}
    x = apply_feature_recipe(star(5), small).x  # degree 5 clamps to bin 3
    assert x.tolist()[0] == [0, 0, 0, 1] and x.tolist()[1] == [0, 1, 0, 0]
    big = fit_feature_recipe([star(1000)], "degree")
    assert big["kind"] == "normalized_degree"
    degs = torch.tensor([1000.0] + [1.0] * 1000)
    assert big["mean"] == pytest.approx(degs.mean().item())
    assert big["std"] == pytest.approx(degs.std().item())


def test_nan_features_rejected():
    g = Data(x=torch.tensor([[1.0], [float("nan")]]),
             edge_index=torch.tensor([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        apply_feature_recipe(g, fit_feature_recipe([g], "labels"))


def test_unknown_dataset_error(data_root, tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_tudataset("MUTAGG", cache=tmp_path, download=False)
    msg = str(info.value)
    assert "MUTAGG" in msg and "MUTAG," in msg and "HNGRAPH_DATA" in msg
    assert str(data_root) in msg


def test_missing_files_without_network(tmp_path, monkeypatch):
    monkeypatch.delenv("HNGRAPH_DATA", raising=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="not found. Looked in"):
        load_tudataset("MUTAG", root=tmp_path / "empty",
                       cache=tmp_path / "cache", download=False)


def test_failed_download_leaves_no_empty_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("HNGRAPH_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match="Download failed"):
        load_tudataset("NO_SUCH_DATASET", cache=tmp_path)
    assert not (tmp_path / "TUDataset" / "NO_SUCH_DATASET").exists()
