"""Inputs that were taken without a word, or refused with the wrong
reason: each is now refused naming the input and the fix, or taken as its
user means it."""
import json

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from hngraph import InfoGraph, fit
from hngraph.data.tu_files import RawFileError
from hngraph.data.tudataset import load_tudataset
from hngraph.errors import InvalidValueError
from hngraph.eval.scoring import svm_accuracy
from hngraph.train.loop import Callback


def _graph():
    return Data(x=torch.ones(3, 2), edge_index=torch.tensor([[0, 1, 1, 2],
                                                          [1, 0, 2, 1]]))


@pytest.mark.parametrize("out", ["-", "$HNGRAPH_DATA/x"])
def test_an_out_folder_that_is_no_folder_to_write_is_refused(
        out, tmp_path, run_cli, monkeypatch):
    data_root = tmp_path / "data"  # a stand-in: nothing may land there
    (data_root / "MUTAG" / "raw").mkdir(parents=True)
    monkeypatch.setenv("HNGRAPH_DATA", str(data_root))
    out = out.replace("$HNGRAPH_DATA", str(data_root))
    before = sorted(p.name for p in data_root.iterdir())
    done = run_cli("train", "--dataset", "MUTAG", "--epochs", "1", "--out",
                   out, "--quiet", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("hngraph: error: --out") and (
        "never to standard output" in done.stderr
        or "inside $HNGRAPH_DATA" in done.stderr)
    assert sorted(p.name for p in data_root.iterdir()) == before
    assert not (tmp_path / "-").exists()
    grid = tmp_path / "g.yaml"
    grid.write_text(json.dumps({"out": out, "seeds": [0], "datasets": [
        "MUTAG"], "epochs": 1, "cells": {"infograph": {"beta": 0,
                                                       "tau_plus": 0}}}))
    done = run_cli("grid", "run", grid, "--allow-dirty", cwd=tmp_path)
    assert done.returncode == 2 and "g.yaml: out" in done.stderr
    assert sorted(p.name for p in data_root.iterdir()) == before


def test_yaml_numbers_read_as_text_and_merge_keys(data_root, tmp_path,
                                                   run_cli):
    (tmp_path / "lr.yaml").write_text("dataset: MUTAG\nlr: 1e-3\n")
    done = run_cli("train", "--config", "lr.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "YAML reads 1e-3 as text" in done.stderr and \
        "1.0e-3 or 0.001" in done.stderr
    # a merge key gives its keys; a key written beside it wins, as in YAML
    (tmp_path / "m.yaml").write_text(
        "dataset: MUTAG\n<<: {epochs: 1, folds: 2}\nfolds: 3\n")
    done = run_cli("train", "--config", "m.yaml", "--out", "o", "--quiet",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [path] = (tmp_path / "o").glob("*.json")
    config = json.loads(path.read_text())["config"]
    assert (config["epochs"], config["folds"]) == (1, 3)
    (tmp_path / "twice.yaml").write_text("dataset: MUTAG\nepochs: 1\n"
                                         "epochs: 2\n")
    done = run_cli("train", "--config", "twice.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "'epochs' is given twice" in done.stderr


def test_callbacks_none_or_one_alone_as_lightning_takes_them():
    seen = []

    class Count(Callback):
        def on_epoch_end(self, state):
            seen.append(state.epoch)

    for callbacks in (None, Count(), [Count()]):
        fit(InfoGraph(2), [_graph()] * 4, epochs=2, progress=False,
            callbacks=callbacks)
    assert seen == [1, 2, 1, 2]
    with pytest.raises(TypeError, match="callbacks must be .*Callback "
                       r"objects .*got \['int'\]"):
        fit(InfoGraph(2), [_graph()] * 4, epochs=1, progress=False,
            callbacks=3)


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_a_graph_without_a_class_label_is_named(missing):
    labels = [0, 1] * 10
    labels[7] = missing
    with pytest.raises(InvalidValueError, match=r"labels\[7\] is "
                       f"{missing!r}: every graph needs a class label"):
        svm_accuracy(np.random.default_rng(0).random((20, 3)), labels,
                     folds=2)


def test_node_ids_that_start_at_0_are_named_as_such(tmp_path):
    raw = tmp_path / "Z" / "raw"
    raw.mkdir(parents=True)
    (raw / "Z_A.txt").write_text("0, 1\n1, 0\n1, 2\n2, 1\n3, 4\n4, 3\n")
    (raw / "Z_graph_indicator.txt").write_text("1\n1\n1\n2\n2\n2\n")
    (raw / "Z_graph_labels.txt").write_text("0\n1\n")
    with pytest.raises(RawFileError, match="Z_A.txt, line 1 refers to node "
                       "0, but TU files number nodes from 1.*Add 1 to every "
                       "node id"):
        load_tudataset("Z", root=tmp_path, download=False,
                       cache=tmp_path / "cache")


def test_float64_features_are_named_before_training():
    graph = _graph()
    graph.x = graph.x.double()
    with pytest.raises(InvalidValueError, match=r"graph 0 has node features "
                       r"x of torch.float64.*data.x = data.x.float\(\)"):
        fit(InfoGraph(2), [graph] * 4, epochs=1, progress=False)


def test_a_missing_labels_file_is_named_not_a_missing_dataset(tmp_path):
    raw = tmp_path / "Y" / "raw"
    raw.mkdir(parents=True)
    (raw / "Y_A.txt").write_text("1, 2\n2, 1\n")
    (raw / "Y_graph_indicator.txt").write_text("1\n1\n")
    with pytest.raises(RawFileError, match="holds dataset 'Y' without "
                       "Y_graph_labels.txt; a TU dataset needs"):
        load_tudataset("Y", root=tmp_path, download=False,
                       cache=tmp_path / "cache")
