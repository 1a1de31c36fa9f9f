
import pytest
import torch

from hngraph import InfoGraph, seed_everything
from hngraph.data.ogb_graphs import load_ogb
from hngraph.data.tudataset import DatasetNotFoundError
from hngraph.eval.scoring import linear_probe


def test_load_and_probe_tiny_molhiv(tmp_path, tiny_molhiv):
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


def test_the_linear_probe_names_a_task_it_does_not_score():
    class Ppa:  # a multi-class OGB dataset, scored by accuracy
        ogb_name = "ogbg-ppa"

    with pytest.raises(ValueError, match="ogbg-ppa is scored by acc"):
        linear_probe(None, Ppa())
