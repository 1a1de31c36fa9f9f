"""Grid configs and ``hngraph grid run`` flags fuzzed: a valid tiny grid
with one key, cell setting or flag replaced by a generated value (wrong
type, empty, huge, NaN, unicode, names with separators, YAML anchors), or
an unknown key added. Each either passes (a dry run, exit 0) or exits 2
with one line, ``hngraph: error: ...``, naming the key or flag; nothing is
written outside ``out``. ``HNGRAPH_FUZZ_EXAMPLES`` sets the examples
(CI: 40); with ``pytest -s`` it prints its outcomes."""
import math
import os
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hngraph.cli import main

EXAMPLES = int(os.environ.get("HNGRAPH_FUZZ_EXAMPLES", "40"))
BASE = {"epochs": 1, "batch_size": 64, "hidden": 8, "layers": 1,
        "seeds": [0, 1], "datasets": ["MUTAG"],
        "cells": {"infograph": {"beta": 0, "tau_plus": 0},
                  "paper-b1": {"beta": 1, "tau_plus": 0.5}},
        "selections": {"pick": ["infograph", "paper-b1"]},
        "baseline": "infograph"}
VALUES = st.sampled_from([
    None, "", " ", "x", "é/../x", "a b", "MUTAG", -1, 0, 1.5, 2 ** 70,
    -(2 ** 70), math.nan, math.inf, True, [], [0, 0], ["MUTAG", "MUTAG"],
    [None], {}, {"a": 1}, {"MUTAG": "5"}, "\u202e", "x" * 300, "a\x00b", "a\rb", "~nobody_here/x", "~",
    # import paths: a module that is not there, a name that is not a class,
    # a class of another kind, a base class itself
    "no_such_module_q:X", "os:path", "math:pi", "torch.nn:Linear",
    "hngraph.nn.models:GraphModel", "hngraph.nn.models:InfoGraph"]) | \
    st.text(max_size=12)
KEYS = ["epochs", "batch_size", "hidden", "layers", "seeds", "datasets",
        "cells", "selections", "baseline", "repeats", "pairs", "pools",
        "modes", "published", "title", "report", "slurm", "shares_out",
        "lr", "reweight", "no_such_key"]
CELL_KEYS = ["beta", "tau_plus", "reweight", "epochs", "dataset", "seed",
             "out", "temperature", "objective", "encoder", "aug1", "source",
             "no_such_setting"]
FLAGS = ["--jobs", "--threads", "--seeds", "--datasets", "--cells",
         "--stage", "--executor", "--device", "--out", "--address",
         "--slurm-partition", "--slurm-time-min", "--slurm-cpus-per-task",
         "--slurm-gpus-per-task", "--slurm-chunk", "--slurm-parallelism"]


def _named(message: str, key: str) -> bool:
    return key.lstrip("-").replace("-", "_") in message.replace("-", "_")


def test_fuzzed_grid_configs_and_flags(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a generated --out is relative to here
    outcomes = Counter()
    runs = iter(range(10 ** 9))

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              print_blob=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.data())
    def check(data):
        folder = tmp_path / f"run{next(runs)}"
        folder.mkdir()
        config = yaml.safe_load(yaml.safe_dump(BASE))
        config["out"] = str(folder / "out")
        where = data.draw(st.sampled_from(["key", "cell", "flag"]))
        flags = []
        if where == "key":
            named = data.draw(st.sampled_from(KEYS))
            config[named] = data.draw(VALUES)
        elif where == "cell":
            named = data.draw(st.sampled_from(CELL_KEYS))
            config["cells"]["paper-b1"][named] = data.draw(VALUES)
        else:
            named = data.draw(st.sampled_from(FLAGS))
            flags = [named, str(data.draw(VALUES))]
        path = folder / "grid.yaml"
        text = yaml.safe_dump(config, allow_unicode=True)
        if data.draw(st.booleans()):  # the same document through anchors
            text = text.replace("seeds:\n- 0\n- 1", "seeds: &s\n- 0\n- 1")
        path.write_text(text)
        capsys.readouterr()
        try:
            code = main(["grid", "run", str(path), "--dry-run",
                         "--allow-dirty", *flags])
        except SystemExit as done:  # argparse: a flag of the wrong type
            code = done.code
        err = capsys.readouterr().err
        written = {p.name for p in folder.iterdir()}
        assert written <= {"grid.yaml", "out"}, written
        if code == 0:
            outcomes["a valid grid: dry run"] += 1
            return
        lines = err.strip().splitlines()
        assert code == 2, (named, code, err)
        assert "internal error" not in err, err
        assert lines and lines[-1].startswith(("hngraph: error:",
                                               "hngraph grid run: error:",
                                               "usage:")), err
        if where != "flag" or not err.startswith("usage:"):
            assert _named(err, named) or named in ("cells", "selections"), \
                (named, err)
        outcomes["refused, exit 2, naming it"] += 1

    check()
    print(f"\ngrid configs and flags: {sum(outcomes.values())} examples, "
          f"{dict(outcomes)}")


@pytest.mark.parametrize("text,named", [
    ("epochs: 1\nepochs: 2\n", "epochs"),          # a key given twice
    ("epochs: [1\n", "line"),                      # not YAML
    ("- 1\n- 2\n", "mapping"),                     # not a mapping
])
def test_yaml_documents_that_are_not_grids(tmp_path, capsys, text, named):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    assert main(["grid", "run", str(path), "--dry-run"]) == 2
    assert named in capsys.readouterr().err


def _flags(command: str) -> list[str]:
    """The long flags of ``hngraph COMMAND``, read from its parser."""
    from hngraph.cli import build_parser
    sub = next(a for a in build_parser()._actions
               if a.dest == "command").choices[command]
    return sorted(o for a in sub._actions for o in a.option_strings
                  if o.startswith("--") and o != "--help")


def _one_flag_fuzz(tmp_path, capsys, command: str, base: list[str],
                   flags: list[str], stopped: str | None = None,
                   inputs: tuple[str, ...] = ()) -> Counter:
    """``hngraph COMMAND BASE FLAG VALUE`` for generated flags and values:
    each exits 0, stops at ``stopped`` (exit 1: a valid command line that
    meets the missing dataset it was given), fails on what one of
    the ``inputs`` flags names (exit 1, one line), or exits 2 with one
    line naming the flag; never an internal error, and nothing is written
    in the working folder (``tmp_path``) but what ``--out`` names."""
    outcomes = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              print_blob=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(flag=st.sampled_from(flags), value=VALUES)
    def check(flag, value):
        before = set(os.listdir("."))
        out = str(value) if flag == "--out" else base[base.index("--out") + 1]
        capsys.readouterr()
        try:
            code = main([command, *base, flag, str(value)])
        except SystemExit as done:  # argparse: a flag of the wrong type
            code = done.code
        err = capsys.readouterr().err
        assert "internal error" not in err, err
        new = set(os.listdir(".")) - before  # only out, or out's file
        where = Path(os.path.expanduser(out)).absolute()  # ~user: as is
        tops = {p.relative_to(tmp_path).parts[0] for p in (
            where, Path(os.path.normpath(where)))
            if p.is_relative_to(tmp_path) and p != tmp_path}
        assert all(n.startswith(tuple(tops)) for n in new), (out, new)
        if code == 0:
            outcomes["valid: ran"] += 1
        elif code == 1 and stopped and stopped in err:
            outcomes[f"valid: stopped at {stopped}"] += 1
        elif code == 1 and flag in inputs:
            assert err.startswith("hngraph: error:") and \
                len(err.strip().splitlines()) == 1, err
            outcomes["valid: its input refused, exit 1"] += 1
        else:
            assert code == 2, (flag, value, code, err)
            if not err.startswith("usage:"):
                assert len(err.strip().splitlines()) == 1, err
                assert _named(err, flag), (flag, err)
            outcomes["refused, exit 2, naming it"] += 1

    check()
    return outcomes


def test_fuzzed_train_flags(tmp_path, capsys, monkeypatch):
    # A dataset that is nowhere under an empty root: a valid command line
    # stops there, before any training or download.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "root").mkdir()
    flags = [f for f in _flags("train") if f not in ("--dataset", "--root")]
    outcomes = _one_flag_fuzz(
        tmp_path, capsys, "train",
        ["--dataset", "NO_SUCH", "--root", str(tmp_path / "root"), "--out",
         str(tmp_path / "out"), "--quiet"], flags, "'NO_SUCH' not found")
    print(f"\ntrain flags: {sum(outcomes.values())} examples, "
          f"{dict(outcomes)}")


def test_fuzzed_embed_flags(tmp_path, capsys, monkeypatch):
    import pickle

    import networkx as nx

    from hngraph import InfoGraph
    monkeypatch.chdir(tmp_path)
    model = InfoGraph(1, hidden=4, layers=1)
    model.feature_recipe = {"kind": "constant", "dim": 1}
    model.save(tmp_path / "m.pt")
    (tmp_path / "g.pkl").write_bytes(pickle.dumps([nx.cycle_graph(4)] * 3))
    outcomes = _one_flag_fuzz(
        tmp_path, capsys, "embed",
        ["--model", str(tmp_path / "m.pt"), "--input", str(tmp_path /
                                                           "g.pkl"),
         "--out", str(tmp_path / "e.npy"), "--overwrite"], _flags("embed"),
        inputs=("--model", "--input"))
    print(f"\nembed flags: {sum(outcomes.values())} examples, "
          f"{dict(outcomes)}")
