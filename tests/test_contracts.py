"""The input contracts of the public functions, one violating input per
clause: each must stop with an error that names the argument and what was
expected (the config, grid and report contracts are in test_config.py,
test_grid.py and test_grid_report.py, the raw files' in test_data.py)."""
import ast
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import hngraph
from hngraph import (
    GraphCL,
    InfoGraph,
    embed,
    errors,
    fit,
    hard_infonce,
    jsd_local_global,
    load_model,
    svm_accuracy,
)
from hngraph.data.batching import DeviceGraphs, DeviceLoader
from hngraph.data.tudataset import load_tudataset
from hngraph.errors import InvalidValueError, PathError, RawFileError
from hngraph.eval.scoring import select_embeddings, select_results
from hngraph.nn.losses import negative_weights
from hngraph.results import atomic_write_json, atomic_write_text

N, G, D = torch.randn(5, 3), torch.randn(2, 3), torch.tensor([0, 0, 1, 1, 1])
X = np.random.default_rng(0).normal(size=(40, 3))
Y = [0, 1] * 20


def graph(n=3, dim=2):
    return Data(x=torch.ones(n, dim),
                edge_index=torch.tensor([[0, 1], [1, 0]]))


CLAUSES = [
    # the losses' tensors
    (lambda: jsd_local_global(N.long(), G, D), TypeError,
     "node_emb must be a floating-point tensor"),
    (lambda: jsd_local_global([[1.0]], G, D), TypeError,
     "node_emb must be a floating-point tensor, got list"),
    (lambda: jsd_local_global(N, G[0], D), ValueError,
     r"graph_emb must have 2 dimension\(s\)"),
    (lambda: jsd_local_global(N, G, D.float()), TypeError,
     "batch must be an integer tensor"),
    (lambda: jsd_local_global(N, G, torch.tensor([0, 0, 1, 1, 5])),
     ValueError, r"batch must hold graph indices in \[0, 2\)"),
    (lambda: jsd_local_global(N, G, torch.tensor([0, 0, 1, -1, 1])),
     ValueError, r"batch must hold graph indices in \[0, 2\)"),
    (lambda: jsd_local_global(N, G, D[:4]), ValueError,
     "batch has 4 entries, but node_emb has 5 rows"),
    (lambda: jsd_local_global(N, torch.randn(2, 4), D), ValueError,
     "must share D"),
    (lambda: jsd_local_global(N, G[:1], D * 0), ValueError,
     "needs at least 2"),
    (lambda: jsd_local_global(N * float("nan"), G, D), ValueError,
     "node_emb contains NaN"),
    (lambda: jsd_local_global(N, G, D, beta=-1.0), ValueError,
     "beta must be a finite number >= 0"),
    (lambda: hard_infonce(torch.ones(4, 3).long(), torch.ones(4, 3)),
     TypeError, "z1 must be a floating-point tensor"),
    (lambda: hard_infonce(torch.ones(4), torch.ones(4)), ValueError,
     "z1 must have 2 dimension"),
    (lambda: hard_infonce(torch.ones(4, 3), torch.ones(3, 3)), ValueError,
     "z1 and z2 must both be"),
    (lambda: hard_infonce(torch.ones(1, 3), torch.ones(1, 3)), ValueError,
     "at least 2 graphs"),
    (lambda: hard_infonce(torch.ones(4, 3), torch.ones(4, 3),
                          temperature=0.0), ValueError,
     "temperature must be a finite number >= 0.0001"),
    (lambda: negative_weights(torch.randn(3, 4), torch.ones(3, 4), beta=1.0),
     TypeError, "neg_mask must be a boolean tensor"),
    (lambda: negative_weights(torch.randn(3, 4),
                              torch.ones(3, 5, dtype=torch.bool), beta=1.0),
     ValueError, "neg_mask must have the shape of scores"),
    (lambda: negative_weights(torch.randn(3, 4),
                              torch.eye(3, 4, dtype=torch.bool) & False, beta=1.0),
     ValueError, r"at least one negative \(True\); rows \[0, 1, 2\]"),
    # the SVM stage
    (lambda: svm_accuracy(X, np.random.default_rng(0).random(40)),
     ValueError, "got continuous values"),
    (lambda: svm_accuracy(X, np.array([0, "a"] * 20, dtype=object)),
     TypeError, "labels must be all numbers or all strings, got a mix of "
     "int, str"),
    (lambda: svm_accuracy(X, np.zeros((40, 2))), ValueError,
     r"one class label per graph \(\[n\]\)"),
    (lambda: svm_accuracy(X, Y, c_grid=()), ValueError,
     "c_grid must be a non-empty list"),
    (lambda: svm_accuracy(X, Y, c_grid=[1.0, -1.0]), ValueError,
     "c_grid must be a non-empty list of finite numbers > 0"),
    (lambda: svm_accuracy(X * 1e200, Y), ValueError, "standardise them"),
    (lambda: svm_accuracy("x", Y), TypeError, "embeddings must be a numeric"),
    (lambda: svm_accuracy(X, Y, repeats=0), ValueError,
     r"repeats must be an integer in \[1, 1000\)"),
    (lambda: svm_accuracy(X, Y, method="libsvm"), ValueError,
     "method must be one of"),
    (lambda: select_embeddings([X, X], Y), ValueError,
     "candidates must be a non-empty mapping"),
    (lambda: select_results([]), ValueError,
     "candidates must be a non-empty mapping"),
    # fit and the batches
    (lambda: fit(InfoGraph(2), [graph()] * 4, epochs=-1, progress=False),
     ValueError, r"fit: epochs must be an integer in \[0, 1000000\)"),
    (lambda: fit(InfoGraph(2), [graph()] * 4, batch_size=1,
                 progress=False), ValueError,
     "fit: batch_size must be an integer >= 2"),
    (lambda: fit(InfoGraph(2), [graph()] * 4, lr=0.0, progress=False),
     ValueError, "fit: lr must be a finite number > 0"),
    (lambda: fit(InfoGraph(2), [graph()] * 4, seed=-1, progress=False),
     ValueError, "fit: seed must be an integer in"),
    (lambda: fit(InfoGraph(2), [graph()] * 4, batch_order="sorted",
                 progress=False), ValueError, "fit: batch_order must be"),
    (lambda: fit(InfoGraph(2), [1, 2], progress=False), TypeError,
     "graph 0 must be a torch_geometric Data"),
    (lambda: fit(InfoGraph(2), 7, progress=False), TypeError,
     "dataset must be a PyG dataset or a list of Data"),
    (lambda: DeviceGraphs([]), ValueError, "dataset holds no graph"),
    (lambda: DeviceGraphs([graph(), Data(edge_index=torch.zeros(2, 0).long(),
                                         num_nodes=2)]),
     ValueError, "graph 1 needs float node features"),
    (lambda: DeviceGraphs([graph(dim=2), graph(dim=3)]), ValueError,
     "graph 1 has 3 node features, graph 0 has 2"),
    (lambda: DeviceGraphs([Data(x=torch.ones(2, 2),
                                edge_index=torch.tensor([[0], [5]]))]),
     ValueError, r"outside \[0, 2\)"),
    (lambda: DeviceGraphs([Data(x=torch.ones(2, 2),
                                edge_index=torch.zeros(2, 1))]),
     ValueError, "integer edge_index"),
    (lambda: DeviceLoader([graph()], 2), TypeError,
     "graphs must be a DeviceGraphs"),
    (lambda: DeviceLoader(DeviceGraphs([graph()]), 0), ValueError,
     "batch_size must be an integer >= 1"),
    # embedding and model files
    (lambda: embed(InfoGraph(2), "graphs.pkl"), TypeError,
     "graphs must be a list of PyG Data or networkx graphs"),
    (lambda: embed(InfoGraph(2), [1, 2]), TypeError, "graph 0 is a int"),
    (lambda: embed(3, [graph()]), TypeError,
     "model must be an hngraph model, the path of its model file or an encoder"),
    # datasets: a name is a folder inside the data folder, never outside it
    (lambda: load_tudataset(".."), ValueError, "name must be a TU dataset "
     "name such as MUTAG"),
    (lambda: load_tudataset(""), ValueError, "name must be a TU dataset"),
]


@pytest.mark.parametrize("call,error,message", CLAUSES)
def test_every_clause_of_the_function_contracts(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_file_system_errors_are_translated_where_the_call_is_made(tmp_path):
    from hngraph.config import read_yaml
    from hngraph.runs.grid import GridConfig, run_grid

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    # a folder that is a file: each writer names the path and the fix
    for write in (lambda p: atomic_write_json(p, {}),
                  lambda p: GraphCL(2).save(p),
                  lambda p: atomic_write_text(p, "t")):
        with pytest.raises(PathError, match=r"a_file/x/y cannot be written "
                           r"\(Not a directory\); check"):
            write(blocker / "x" / "y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
    (tmp_path / "bad.yaml").write_bytes(b"epochs: 3\n# \xe9t\xe9\n")
    with pytest.raises(InvalidValueError, match="bad.yaml is not UTF-8 text"):
        read_yaml(tmp_path / "bad.yaml")
    grid = GridConfig(out=str(blocker / "out"), seeds=[0], datasets=["MUTAG"],
                      cells={"a": {"beta": 0, "tau_plus": 0}})
    with pytest.raises(PathError, match="out folder .*a_file/out cannot be "
                       "written"):
        run_grid(grid, [], allow_dirty=True)


def test_model_files_and_folders(tmp_path):
    model = GraphCL(2)
    with pytest.raises(IsADirectoryError, match="the model file .* is a "
                       "folder; give a file"):
        model.save(tmp_path)
    model.save(tmp_path / "g.pt")
    with pytest.raises(IsADirectoryError, match="the model file .* is a "
                       "folder; give a file"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="holds a GraphCL model, not a "
                       "InfoGraph"):
        InfoGraph.load(tmp_path / "g.pt")
    with pytest.raises(ValueError, match="cannot be read as an hngraph model"):
        (tmp_path / "r.json").write_text("{}")
        load_model(tmp_path / "r.json")


RAW = [  # (file, edit of its lines, message)
    ("A", lambda ls: ls[:5] + ["3, x"] + ls[6:], r"line 6 \('3, x'\)"),
    ("A", lambda ls: ls[:5] + ["3"] + ls[6:], r"line 6 \('3'\)"),
    ("A", lambda ls: ls + ["1, 3000"], "joins nodes of two different graphs"),
    ("graph_labels", lambda ls: ["1.5"] + ls[1:], r"line 1 \('1.5'\)"),
    ("node_labels", lambda ls: ls[:-1], "lines, but 3371 are expected"),
    ("graph_indicator", lambda ls: ls[:10] + ["x"] + ls[11:],
     r"line 11 \('x'\)"),
]


@pytest.mark.parametrize("kind,edit,message", RAW)
def test_every_clause_of_the_raw_file_contract(data_root, tmp_path, kind,
                                               edit, message):
    raw = tmp_path / "data" / "MUTAG" / "raw"
    shutil.copytree(data_root / "MUTAG" / "raw", raw)
    path = raw / f"MUTAG_{kind}.txt"
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(RawFileError, match=message):
        load_tudataset("MUTAG", root=tmp_path / "data",
                       cache=tmp_path / "cache")


# ------------------------------------------------ the command line's cases

@pytest.mark.parametrize("args,message", [
    (["--temperature", "0.2"], "'temperature' applies to objective "
     "'infonce' only"),
    (["--objective", "infonce", "--prior"], "'prior' applies to objective "
     "'jsd' only"),
    (["--out", ""], "out must be a folder path"),
    (["--objective", "infonce", "--aug-ratio", "1.5"],
     "--aug-ratio must be a finite number in"),
])
def test_cli_refuses_what_it_would_ignore(run_cli, tmp_path, args, message):
    out = run_cli("train", "--dataset", "MUTAG", "--epochs", "1", *args,
                  cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr
    assert not list(tmp_path.rglob("*.json"))


def test_cli_config_with_a_key_twice(run_cli, tmp_path):
    (tmp_path / "c.yaml").write_text("epochs: 1\nbeta: 1\nbeta: 2\n")
    out = run_cli("train", "--config", tmp_path / "c.yaml", "--dataset",
                  "MUTAG", cwd=tmp_path)
    assert out.returncode == 2 and "'beta' is given twice" in out.stderr


def test_cli_unscorable_run_stops_before_training(data_root, run_cli,
                                                  tmp_path):
    out = run_cli("train", "--dataset", "MUTAG", "--epochs", "50",
                  "--folds", "200", "--out", tmp_path, cwd=tmp_path)
    assert out.returncode == 1 and "fewer than folds=200" in out.stderr
    assert "train" not in out.stdout  # no epoch ran
    assert not list(tmp_path.glob("*.json"))


def test_cli_home_and_data_source_in_out_and_key(data_root, run_cli,
                                                 tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    copy = tmp_path / "copy"
    shutil.copytree(data_root / "MUTAG", copy / "MUTAG")
    names = []
    for root in ([], ["--root", str(copy)]):
        out = run_cli("train", "--dataset", "MUTAG", "--epochs", "1",
                      "--out", "~/res", "--quiet", *root, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        names.append(sorted(p.name for p in (tmp_path / "home" / "res")
                            .glob("*.json")))
    assert len(names[0]) == 1 and len(names[1]) == 2  # another key
    assert not (tmp_path / "~").exists()


def test_cli_embed_out(data_root, run_cli, tmp_path):
    model = InfoGraph(7)
    model.feature_recipe = {"kind": "labels", "dim": 7}
    model.save(tmp_path / "m.pt")
    import pickle
    ds = load_tudataset("MUTAG")
    (tmp_path / "g.pkl").write_bytes(pickle.dumps([ds[0], ds[1]]))
    args = ("embed", "--model", tmp_path / "m.pt", "--input",
            tmp_path / "g.pkl", "--out")
    folder = run_cli(*args, tmp_path, cwd=tmp_path)
    assert folder.returncode == 2 and "is a folder" in folder.stderr
    plain = run_cli(*args, tmp_path / "emb", cwd=tmp_path)
    assert plain.returncode == 0 and str(tmp_path / "emb.npy") in plain.stdout
    assert np.load(tmp_path / "emb.npy").shape[0] == 2


def _passes_text_on(node: ast.AST, name: str) -> bool:
    """Whether ``node`` puts the text of the exception bound to ``name`` in
    a message: ``f"...{err}"``, ``str(err)``, ``repr(err)`` or
    ``SomeError(err)``."""
    if isinstance(node, ast.FormattedValue):
        return isinstance(node.value, ast.Name) and node.value.id == name
    if isinstance(node, ast.Call) and node.args:
        first = node.args[0]
        called = ast.unparse(node.func)
        return isinstance(first, ast.Name) and first.id == name and (
            called in ("str", "repr") or called.endswith("Error"))
    return False


def test_only_the_boundary_passes_an_exceptions_text_on():
    # Read from the source: an except clause may put the caught error's text
    # in a message only when it catches hngraph's own errors, whose text is
    # written for users; other errors' text reaches users only through
    # hngraph.errors.describe, the boundary.
    own = {name for name, value in vars(errors).items()
           if isinstance(value, type) and issubclass(value,
                                                     errors.HngraphError)}
    own |= {"UsageError", "ExecutorUnavailable", "ResultFileError"}
    found = []
    for path in Path(hngraph.__file__).parent.rglob("*.py"):
        for handler in ast.walk(ast.parse(path.read_text())):
            if not isinstance(handler, ast.ExceptHandler) or not handler.name:
                continue
            caught = handler.type.elts if isinstance(handler.type, ast.Tuple) \
                else [handler.type]
            if {ast.unparse(t).split(".")[-1] for t in caught} <= own:
                continue
            found += [f"{path.name}:{node.lineno}" for node in ast.walk(handler)
                      if _passes_text_on(node, handler.name)]
    assert found == []
    # and the rule sees what it looks for
    bad = ast.parse("try:\n    f()\nexcept OSError as e:\n    g(f'{e}')\n")
    assert any(_passes_text_on(n, "e") for n in ast.walk(bad))
