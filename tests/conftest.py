import gzip
import os
from pathlib import Path
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from hngraph import InfoGraph, seed_everything

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def pytest_configure(config):
    # Subprocesses run in other folders: make a relative HNGRAPH_DATA absolute.
    if os.environ.get("HNGRAPH_DATA"):
        os.environ["HNGRAPH_DATA"] = str(Path(os.environ["HNGRAPH_DATA"]).resolve())
    # Keep processed caches out of the user's home and out of the data folder.
    if "HNGRAPH_CACHE" not in os.environ:
        cache = Path(config.rootpath) / ".pytest_cache" / "hngraph"
        os.environ["HNGRAPH_CACHE"] = str(cache)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared raw TU files, through $HNGRAPH_DATA."""
    root = os.environ.get("HNGRAPH_DATA")
    if not root or not (Path(root) / "MUTAG" / "raw").is_dir():
        pytest.skip("set HNGRAPH_DATA to the folder holding MUTAG/raw/ "
                    "(for example ../shared/data/TUDataset)")
    return Path(root)



@pytest.fixture
def run_cli(capsys, monkeypatch):
    """``hngraph ARGS`` in this process (through ``main(argv)``), in the
    folder ``cwd``: returns its exit status, stdout and stderr."""
    from hngraph.cli import main

    def run(*args, cwd="."):
        monkeypatch.chdir(cwd)
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out,
                               stderr=out.err)
    return run


# Builders shared by several test files, each handed out by a fixture of
# the same name (without the underscore).

def _cycle(n=30, dim=4):
    g = nx.cycle_graph(n)
    g.add_edges_from((i, (i + 7) % n) for i in range(0, n, 3))
    return _from_networkx(g, dim)


def _from_networkx(g, dim=4, start=0):
    """Features: column 0 is a node's id (``start`` + its number), so that
    a view's nodes say which nodes they were."""
    n = g.number_of_nodes()
    x = torch.ones(n, dim)
    x[:, 0] = torch.arange(start, start + n, dtype=torch.float)
    edges = torch.tensor(list(g.to_directed().edges), dtype=torch.long)
    return Data(x=x, edge_index=edges.t().reshape(2, -1))


def _tiny_molhiv(root, graphs=40):
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
    _write_csv(folder / "raw" / "edge.csv.gz", edges)
    _write_csv(folder / "raw" / "num-node-list.csv.gz", nodes)
    _write_csv(folder / "raw" / "num-edge-list.csv.gz", nedges)
    _write_csv(folder / "raw" / "node-feat.csv.gz", nfeat)
    _write_csv(folder / "raw" / "edge-feat.csv.gz", efeat)
    _write_csv(folder / "raw" / "graph-label.csv.gz", labels)
    order = np.arange(graphs)
    for part, idx in (("train", order[:24]), ("valid", order[24:32]),
                      ("test", order[32:])):
        _write_csv(folder / "split" / "scaffold" / f"{part}.csv.gz", idx)
    return root


def _write_csv(path, rows):
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(",".join(str(v) for v in np.atleast_1d(row)) + "\n")


def _small_model(ds, seed=0):
    seed_everything(seed)
    return InfoGraph(ds.num_features, hidden=8, layers=2, beta=1.0,
                     tau_plus=0.5, prior=True)


@pytest.fixture
def cycle():
    """``cycle(n=30, dim=4)``: a cycle with chords, as PyG ``Data`` whose
    feature column 0 is each node's id."""
    return _cycle


@pytest.fixture
def nx_data():
    """``nx_data(g, dim=4, start=0)``: a networkx graph as PyG ``Data``,
    feature column 0 the node ids from ``start``."""
    return _from_networkx


@pytest.fixture
def tiny_molhiv():
    """``tiny_molhiv(root, graphs=40)``: rings (label 1) and chains in
    ogbg-molhiv's raw layout under ``root``; returns ``root``."""
    return _tiny_molhiv


@pytest.fixture
def small_model():
    """``small_model(ds, seed=0)``: a small hard-negative InfoGraph for
    ``ds``, its weights drawn with ``seed``."""
    return _small_model
