import multiprocessing as mp
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

from hngraph.data.features import apply_feature_recipe, fit_feature_recipe
from hngraph.data.tudataset import check_graphs, load_tudataset
from hngraph.errors import (
    CacheError,
    DatasetNotFoundError,
    InvalidValueError,
    RawFileError,
)


def test_mutag_from_shared_data(data_root, tmp_path):
    ds = load_tudataset("MUTAG", cache=tmp_path)
    assert len(ds) == 188 and ds.num_classes == 2
    assert ds.num_features == 7  # one-hot node labels
    assert ds.feature_recipe == {"kind": "labels", "dim": 7,
                                 "vocab": list(range(7))}
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
    x = apply_feature_recipe(star(3), small).x
    assert x.tolist()[0] == [0, 0, 0, 1] and x.tolist()[1] == [0, 1, 0, 0]
    # degree 5 has no bin: the node is named, never put in the last bin
    with pytest.raises(ValueError, match=r"node 0 has degree 5, above the 3 "
                       "of the graphs the model was trained on"):
        apply_feature_recipe(star(5), small)
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


def test_recipes_are_pyg_transforms_that_round_trip():
    import torch_geometric.transforms as T

    from hngraph.data.features import FeatureTransform, feature_transform
    g = Data(edge_index=torch.tensor([[0, 0, 1, 2], [1, 2, 0, 0]]),
             num_nodes=3)
    for features in ("degree", "constant"):
        recipe = fit_feature_recipe([g], features)
        transform = feature_transform(recipe)
        assert isinstance(transform, FeatureTransform)
        assert transform.recipe == recipe  # what checkpoints store
        composed = T.Compose([transform])(g.clone())
        assert torch.equal(composed.x, apply_feature_recipe(g, recipe).x)
    # hand-computed: degrees 2, 1, 1 in 3 one-hot bins; constant ones
    assert apply_feature_recipe(g, {"kind": "onehot_degree", "max_degree": 2,
                                    "dim": 3}).x.tolist() == \
        [[0, 0, 1], [0, 1, 0], [0, 1, 0]]
    assert apply_feature_recipe(g, {"kind": "constant", "dim": 1}).x.tolist() \
        == [[1.0]] * 3
    with pytest.raises(ValueError, match="unknown feature recipe kind"):
        feature_transform({"kind": "eigenvectors"})


def copy_raw(data_root, tmp_path, name="MUTAG"):
    dst = tmp_path / "data" / name / "raw"
    shutil.copytree(data_root / name / "raw", dst)
    return dst


def truncate(path: Path, keep: int):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:keep]))


def _load(args):
    name, cache = args
    ds = load_tudataset(name, cache=cache)
    return len(ds), float(ds.x.sum()), int(ds.y.sum())


def test_truncated_graph_indicator(data_root, tmp_path):
    raw = copy_raw(data_root, tmp_path)
    truncate(raw / "MUTAG_graph_indicator.txt", 3000)
    with pytest.raises(RawFileError) as info:
        load_tudataset("MUTAG", root=tmp_path / "data", cache=tmp_path / "c")
    msg = str(info.value)
    assert "MUTAG_A.txt, line 6635 refers to node 3001" in msg
    assert "MUTAG_graph_indicator.txt has 3000 lines" in msg
    assert "truncated" in msg and "Restore" in msg


def test_labels_with_wrong_line_count(data_root, tmp_path):
    raw = copy_raw(data_root, tmp_path)
    truncate(raw / "MUTAG_graph_labels.txt", 150)
    with pytest.raises(RawFileError, match=r"has 150 lines, but 188 are "
                       r"expected \(one per graph\)"):
        load_tudataset("MUTAG", root=tmp_path / "data", cache=tmp_path / "c")


def test_empty_and_edgeless_graphs():
    ok = Data(x=torch.ones(2, 1), edge_index=torch.tensor([[0, 1], [1, 0]]))
    empty = Data(x=torch.ones(0, 1), edge_index=torch.zeros(2, 0,
                                                           dtype=torch.long))
    with pytest.raises(ValueError, match=r"1 graph\(s\) have no nodes "
                       r"\(indices \[1\]\)"):
        check_graphs([ok, empty])
    lonely = Data(x=torch.ones(3, 1), edge_index=torch.zeros(2, 0,
                                                            dtype=torch.long))
    with pytest.warns(UserWarning, match=r"have no edges \(indices \[1\]\)"):
        check_graphs([ok, lonely])


def test_unreadable_raw_file_is_named(data_root, tmp_path, monkeypatch):
    from hngraph.data import tu_files
    raw = tmp_path / "data" / "MUTAG" / "raw"
    shutil.copytree(data_root / "MUTAG" / "raw", raw)

    def refuse(path, *args, **kwargs):  # as chmod 0 does for a non-root user
        if str(path).endswith("MUTAG_A.txt"):
            raise PermissionError(13, "Permission denied")
        return open(path, *args, **kwargs)
    monkeypatch.setattr(tu_files, "open", refuse, raising=False)
    with pytest.raises(RawFileError, match="MUTAG_A.txt cannot be read "
                       r"\(Permission denied\)"):
        load_tudataset("MUTAG", root=tmp_path / "data", cache=tmp_path / "c")


def test_non_integer_raw_line_is_named(data_root, tmp_path):
    raw = tmp_path / "data" / "MUTAG" / "raw"
    shutil.copytree(data_root / "MUTAG" / "raw", raw)
    lines = (raw / "MUTAG_A.txt").read_text().splitlines()
    lines[4] = "12, x3"
    (raw / "MUTAG_A.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(RawFileError, match=r"MUTAG_A.txt, line 5 \('12, x3'\)"):
        load_tudataset("MUTAG", root=tmp_path / "data", cache=tmp_path / "c")


@pytest.mark.slow
def test_concurrent_first_loads_build_once(data_root, tmp_path):
    # Six processes on an empty cache: none may read a half-written file.
    with mp.get_context("spawn").Pool(6) as pool:
        out = pool.map(_load, [("PROTEINS", str(tmp_path))] * 6)
    assert len(set(out)) == 1 and out[0][0] == 1113
    built = list((tmp_path / "TUDataset" / "PROTEINS").glob("processed_*"))
    assert len(built) == 1
    assert not list(tmp_path.rglob("*.building-*"))


@pytest.mark.slow
def test_killed_build_leaves_a_cache_that_works(data_root, tmp_path):
    code = ("import sys; from hngraph.data.tudataset import load_tudataset; "
            "load_tudataset('NCI1', cache=sys.argv[1])")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)])
    time.sleep(3.0)  # mid-import or mid-processing: either must be safe
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ds = load_tudataset("NCI1", cache=tmp_path)
    assert len(ds) == 4110
    assert not list(tmp_path.rglob("*.building-*"))


@pytest.mark.parametrize("content", [b"", b"garbage", None])
def test_unreadable_cache_is_rebuilt_with_a_warning(data_root, tmp_path,
                                                    content):
    first = load_tudataset("MUTAG", cache=tmp_path)
    (path,) = (tmp_path / "TUDataset" / "MUTAG").glob("processed_*/data.pt")
    if content is None:  # truncated half-way
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    with pytest.warns(UserWarning, match="could not be read.*rebuilding") \
            as record:
        again = load_tudataset("MUTAG", cache=tmp_path)
    assert str(path.parent) in str(record[0].message)
    assert "\n" not in str(record[0].message)
    assert torch.equal(first.x, again.x) and torch.equal(first.y, again.y)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_cache_is_a_clear_error(data_root, tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(CacheError, match="HNGRAPH_CACHE"):
            load_tudataset("MUTAG", cache=tmp_path / "c")
    finally:
        tmp_path.chmod(0o700)


def test_cache_that_is_a_file_is_a_clear_error(data_root, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(InvalidValueError, match="cache .*file is a file; "
                       "give a folder"):
        load_tudataset("MUTAG", cache=tmp_path / "file")
    with pytest.raises(CacheError, match="cannot be written.*HNGRAPH_CACHE"):
        load_tudataset("MUTAG", cache=tmp_path / "file" / "sub")


def test_trailing_graphs_without_edges_are_kept(data_root, tmp_path):
    # PyG counts graphs from its edge slices: without care, a last graph
    # with no edges would be dropped (187 of MUTAG's 188 graphs).
    raw = tmp_path / "data" / "MUTAG" / "raw"
    shutil.copytree(data_root / "MUTAG" / "raw", raw)
    indicator = (raw / "MUTAG_graph_indicator.txt").read_text().split()
    last = {i + 1 for i, g in enumerate(indicator) if g == "188"}
    edges = (raw / "MUTAG_A.txt").read_text().splitlines()
    labels = (raw / "MUTAG_edge_labels.txt").read_text().splitlines()
    keep = [i for i, e in enumerate(edges)
            if int(e.split(",")[0]) not in last]
    (raw / "MUTAG_A.txt").write_text("\n".join(edges[i] for i in keep) + "\n")
    (raw / "MUTAG_edge_labels.txt").write_text(
        "\n".join(labels[i] for i in keep) + "\n")
    with pytest.warns(UserWarning, match=r"1 graph\(s\) have no edges "
                      r"\(indices \[187\]\)"):
        ds = load_tudataset("MUTAG", root=tmp_path / "data",
                            cache=tmp_path / "cache")
    assert len(ds) == 188 and ds[187].edge_index.numel() == 0
    assert ds[187].num_nodes == len(last)
    assert ds[186].edge_index.numel() > 0


def test_a_root_without_the_files_never_falls_back(data_root, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="a root was given") as err:
        load_tudataset("MUTAG", root=tmp_path / "empty",
                       cache=tmp_path / "cache")
    assert str(tmp_path / "empty") in str(err.value)


def test_feature_transforms_one_registry_with_typed_constructors():
    """A recipe's JSON form builds its kind's transform, which gives the
    same recipe back; a recipe with a key its kind does not take is named."""
    from hngraph.data.features import FEATURE_TRANSFORMS, feature_transform
    recipes = [{"kind": "labels", "dim": 3},
               {"kind": "labels", "dim": 3, "vocab": [1, 2, 3]},
               {"kind": "constant", "dim": 1},
               {"kind": "onehot_degree", "max_degree": 4, "dim": 5},
               {"kind": "normalized_degree", "mean": 2.0, "std": 1.5,
                "dim": 1},
               {"kind": "onehot_columns", "sizes": [2, 3], "dim": 5}]
    assert {r["kind"] for r in recipes} == set(FEATURE_TRANSFORMS)
    for recipe in recipes:
        transform = feature_transform(recipe)
        assert type(transform) is FEATURE_TRANSFORMS[recipe["kind"]]
        assert transform.recipe == recipe
    with pytest.raises(ValueError, match=r"a feature recipe of kind "
                       r"'onehot_degree' takes \['max_degree', 'dim'\], got "
                       r"\['dim', 'kind', 'max_deg'\]"):
        feature_transform({"kind": "onehot_degree", "max_deg": 4, "dim": 5})


def test_count_graphs_is_the_loaded_length(data_root):
    from hngraph.data.tudataset import count_graphs
    for name in ("MUTAG", "PTC_MR"):
        assert count_graphs(name) == len(load_tudataset(name))
    assert count_graphs("NCI109") == 4127  # the TU collection's figure
