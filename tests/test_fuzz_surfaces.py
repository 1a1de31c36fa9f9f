"""The newer surfaces fuzzed: train stage outputs (``.emb.npz``), encoders
passed in that break their contract, callbacks, the out folder's registry
(``.grid.json``), and ``hngraph embed`` outputs that collide with its
inputs. Each generated case either works or is refused with hngraph's own
error naming the file, the encoder or the argument; nothing is lost and
nothing is an internal error. ``HNGRAPH_FUZZ_EXAMPLES`` sets the examples
(CI: 40)."""
import json
import os
import pickle

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hngraph.errors import HngraphError

EXAMPLES = int(os.environ.get("HNGRAPH_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
RECORD = {"config": {"dataset": "MUTAG"}, "dataset": {}, "history": {}}


@FUZZ
@given(parts=st.dictionaries(
    st.sampled_from(["embeddings", "labels", "record", "other"]),
    st.sampled_from(["ok", "empty", "text", "nan", "3d", "json-list",
                     "bad-json"]), max_size=4),
       bytes_instead=st.one_of(st.none(), st.binary(max_size=64)))
def test_fuzzed_train_stage_outputs_are_named_or_read(tmp_path_factory, parts,
                                                      bytes_instead):
    from hngraph.runs.experiment import Trained

    path = tmp_path_factory.mktemp("npz") / "r_seed0.emb.npz"
    values = {"ok": None, "empty": np.zeros(0), "text": np.array("x"),
              "nan": np.full((3, 2), np.nan), "3d": np.zeros((2, 2, 2)),
              "json-list": np.array(json.dumps([1, 2])),
              "bad-json": np.array("{not json")}
    if bytes_instead is not None:
        path.write_bytes(bytes_instead)
    else:
        good = {"embeddings": np.zeros((3, 2), np.float32),
                "labels": np.arange(3), "record": np.array(json.dumps(RECORD))}
        arrays = {k: good.get(k, np.zeros(1)) if v == "ok" else values[v]
                  for k, v in parts.items()}
        np.savez(path, **arrays)
    try:
        Trained.load(path)
    except HngraphError as err:
        assert str(path) in str(err) and "--stage train" in str(err)


class _Broken(torch.nn.Module):
    """An encoder that claims ``out_channels`` and returns ``made(x)``."""

    def __init__(self, made, width):
        super().__init__()
        self.lin = torch.nn.Linear(3, 4)
        self.out_channels, self.made = width, made

    def forward(self, x, edge_index):
        return self.made(self.lin(x))


OUTPUTS = {
    "right": lambda h: h,
    "tuple": lambda h: (h, h),
    "none": lambda h: None,
    "list": lambda h: [h],
    "long": lambda h: h.long(),
    "bool": lambda h: h > 0,
    "narrow": lambda h: h[:, :2],
    "one row": lambda h: h[:1],
    "flat": lambda h: h.reshape(-1),
    "numpy": lambda h: h.detach().numpy(),
    "double": lambda h: h.double(),
}


@FUZZ
@given(kind=st.sampled_from(sorted(OUTPUTS)),
       width=st.sampled_from([4, 2, 1]), nodes=st.integers(1, 6))
def test_fuzzed_encoders_that_break_their_contract_are_named(kind, width,
                                                             nodes):
    from hngraph import InfoGraph

    model = InfoGraph(_Broken(OUTPUTS[kind], width))
    x = torch.randn(nodes, 3)
    edges = torch.zeros(2, 0, dtype=torch.long)
    given = OUTPUTS[kind](torch.zeros(nodes, 4))
    fits = isinstance(given, torch.Tensor) and given.is_floating_point() \
        and tuple(given.shape) == (nodes, width)
    try:
        out = model(x, edges)
    except HngraphError as err:
        assert "encoder _Broken returned" in str(err) and not fits
        return
    assert fits and out.shape == (1, width)


@FUZZ
@given(stops=st.lists(st.integers(1, 4), max_size=3),
       other=st.sampled_from([None, "not a callback", 3, object()]))
def test_fuzzed_callbacks_stop_where_they_say_or_are_refused(stops, other):
    from torch_geometric.data import Data

    from hngraph import InfoGraph, fit
    from hngraph.errors import InvalidTypeError
    from hngraph.train.loop import Callback

    class StopAt(Callback):
        def __init__(self, epoch):
            self.epoch = epoch

        def on_epoch_end(self, state):
            if state.epoch == self.epoch:
                state.stop = True

    graphs = [Data(x=torch.ones(3, 1), edge_index=torch.tensor(
        [[0, 1, 1, 2], [1, 0, 2, 1]])) for _ in range(4)]
    callbacks = [StopAt(e) for e in stops]
    if other is not None:
        with pytest.raises(InvalidTypeError, match="callbacks must be "
                           "hngraph.train.loop.Callback objects"):
            fit(InfoGraph(1, hidden=4, layers=1), graphs, epochs=4,
                batch_size=4, progress=False, callbacks=[*callbacks, other])
        return
    history = fit(InfoGraph(1, hidden=4, layers=1), graphs, epochs=4,
                  batch_size=4, progress=False, callbacks=callbacks)
    assert len(history["loss"]) == min(stops, default=4)


@pytest.fixture(scope="module")
def other_grids_result(data_root, tmp_path_factory):
    """A result file of another grid (1 epoch) for the cell ``infograph``
    of MUTAG seed 0."""
    from hngraph.runs.grid import GridConfig, plan, run_grid

    folder = tmp_path_factory.mktemp("theirs")
    config = folder / "theirs.yaml"
    config.write_text(f"out: {folder / 'out'}\nepochs: 1\nhidden: 4\n"
                      "layers: 1\nseeds: [0]\ndatasets: [MUTAG]\ncells:\n"
                      "  infograph: {beta: 0, tau_plus: 0}\n")
    grid = GridConfig.from_yaml(config)
    assert run_grid(grid, plan(grid), allow_dirty=True,
                    echo=lambda *a: None) == []
    return (folder / "out" / "MUTAG" / "infograph_seed0.json").read_bytes()


@FUZZ
@given(content=st.one_of(st.binary(max_size=40), st.sampled_from([
    b"{}", b"[]", b"null", b'{"grids": 3}', b'{"grids": {"x": 1}}',
    b'{"grids": {"other": "o.yaml"}}', b'{"grids": []}'])))
def test_fuzzed_registry_files_never_open_the_door(tmp_path_factory,
                                                   other_grids_result,
                                                   content):
    """Whatever .grid.json holds, a grid whose result file was written by
    another grid under other settings is refused before anything runs, and
    the file stays."""
    from hngraph.errors import OutTakenError
    from hngraph.runs.grid import GridConfig, plan, run_grid

    folder = tmp_path_factory.mktemp("reg")
    out = folder / "out"
    (out / "MUTAG").mkdir(parents=True)
    config = folder / "g.yaml"
    config.write_text(f"out: {out}\nepochs: 2\nhidden: 4\nlayers: 1\n"
                      "seeds: [0]\ndatasets: [MUTAG]\ncells:\n"
                      "  infograph: {beta: 0, tau_plus: 0}\n")
    grid = GridConfig.from_yaml(config)
    result = out / "MUTAG" / "infograph_seed0.json"
    result.write_bytes(other_grids_result)
    (out / ".grid.json").write_bytes(content)
    with pytest.raises(OutTakenError, match="epochs: 1 there, 2 now"):
        run_grid(grid, plan(grid), allow_dirty=True, share_out=True,
                 echo=lambda *a: None)
    assert result.read_bytes() == other_grids_result


@FUZZ
@given(out=st.sampled_from(["m.pt", "./m.pt", "g.pkl", "g.pkl.npy",
                            "graphs", "graphs.rows.txt", "m", "g"]),
       folder=st.booleans())
def test_fuzzed_embed_outputs_never_replace_an_input(tmp_path_factory, out,
                                                     folder):
    from hngraph import InfoGraph
    from hngraph.cli import main

    where = tmp_path_factory.mktemp("embed")
    model = InfoGraph(1, hidden=4, layers=1)
    model.feature_recipe = {"kind": "constant", "dim": 1}
    model.save(where / "m.pt")
    (where / "g.pkl").write_bytes(pickle.dumps([nx.cycle_graph(4)] * 2))
    (where / "graphs").mkdir()
    nx.write_edgelist(nx.path_graph(3), where / "graphs" / "a.edgelist")
    inputs = {p: p.read_bytes() for p in (where / "m.pt", where / "g.pkl",
                                          where / "graphs" / "a.edgelist")}
    cwd = os.getcwd()
    os.chdir(where)
    try:
        code = main(["embed", "--model", "m.pt", "--input",
                     "graphs" if folder else "g.pkl", "--out", out])
    finally:
        os.chdir(cwd)
    assert code in (0, 2)
    assert all(p.read_bytes() == b for p, b in inputs.items())
