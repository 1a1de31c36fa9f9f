"""Bad input, interruption and reproducibility."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from hngraph import InfoGraph, fit, load_tudataset, seed_everything
from hngraph.data import RawFileError, check_graphs

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------- bad raw files

def copy_raw(data_root, tmp_path, name="MUTAG"):
    dst = tmp_path / "data" / name / "raw"
    shutil.copytree(data_root / name / "raw", dst)
    return dst


def truncate(path: Path, keep: int):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:keep]))


def test_truncated_graph_indicator(data_root, tmp_path):
    raw = copy_raw(data_root, tmp_path)
    truncate(raw / "MUTAG_graph_indicator.txt", 3000)
    with pytest.raises(RawFileError) as info:
        load_tudataset("MUTAG", root=tmp_path / "data", cache=tmp_path / "c")
    msg = str(info.value)
    assert "MUTAG_A.txt refers to node" in msg and "3000 lines" in msg
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


def test_wrong_feature_size_for_checkpoint(tmp_path):
    model = InfoGraph(7, hidden=8, layers=2)
    model.save(tmp_path / "m.pt")
    loaded = InfoGraph.load(tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"expects \[num_nodes, 7\]"):
        loaded(torch.ones(4, 3), torch.zeros(2, 0, dtype=torch.long))


def test_config_rejections():
    from hngraph import TrainConfig
    with pytest.raises(KeyError, match="unknown key"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(TypeError, match="'beta' must be float"):
        TrainConfig.from_dict({"beta": "high"})
    with pytest.raises(TypeError, match="'prior' must be bool"):
        TrainConfig.from_dict({"prior": 1})


# ------------------------------------------------------------ checkpoints

def small_model(ds, seed=0):
    seed_everything(seed)
    return InfoGraph(ds.num_features, hidden=8, layers=2, beta=1.0,
                     tau_plus=0.5, prior=True)


def test_resumed_training_matches_uninterrupted(data_root, tmp_path):
    ds = load_tudataset("MUTAG")
    full = small_model(ds)
    h_full = fit(full, ds, epochs=4, batch_size=64, seed=3, device="cpu",
                 progress=False)
    ckpt = tmp_path / "train.pt"
    part = small_model(ds)
    fit(part, ds, epochs=2, batch_size=64, seed=3, device="cpu",
        progress=False, checkpoint=ckpt)
    resumed = small_model(ds, seed=99)  # other weights: all must come back
    h_res = fit(resumed, ds, epochs=4, batch_size=64, seed=3, device="cpu",
                progress=False, checkpoint=ckpt)
    assert h_res["loss"] == h_full["loss"]
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=False):
        assert torch.equal(a, b)


def test_saved_model_embeds_identically(data_root, tmp_path):
    ds = load_tudataset("MUTAG")
    model = small_model(ds)
    fit(model, ds, epochs=1, batch_size=64, device="cpu", progress=False)
    model.feature_recipe = ds.feature_recipe
    model.save(tmp_path / "m.pt")
    loaded = InfoGraph.load(tmp_path / "m.pt")
    loader = DataLoader(ds, batch_size=50)
    a, _ = model.embed(loader)
    b, _ = loaded.embed(loader)
    assert np.array_equal(a, b)
    assert loaded.feature_recipe == ds.feature_recipe
    assert loaded.config == model.config


def test_bad_checkpoint_file(tmp_path):
    torch.save({"weights": 1}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not an hngraph model checkpoint"):
        InfoGraph.load(tmp_path / "x.pt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        InfoGraph.load(tmp_path / "missing.pt")


# -------------------------------------------------------- reproducibility

REPRO = """
import hashlib, sys, torch
from torch_geometric.loader import DataLoader
from hngraph import InfoGraph, fit, load_tudataset, seed_everything
ds = load_tudataset("MUTAG")
seed_everything(5)
m = InfoGraph(ds.num_features, hidden=16, layers=2, beta=1.0, tau_plus=0.5)
h = fit(m, ds, epochs=3, batch_size=32, seed=5, device="cpu", progress=False)
emb, _ = m.embed(DataLoader(ds, batch_size=64))
print([x.hex() for x in h["loss"]])
print(hashlib.sha256(emb.tobytes()).hexdigest())
"""


def test_same_seed_same_bits_in_two_processes(data_root, tmp_path):
    outs = [subprocess.run([sys.executable, "-c", REPRO], capture_output=True,
                           text=True, cwd=tmp_path, timeout=300)
            for _ in range(2)]
    for out in outs:
        assert out.returncode == 0, out.stderr
    assert outs[0].stdout == outs[1].stdout
    assert len(outs[0].stdout.splitlines()) == 2


# ------------------------------------------------------ kill and restart

def grid_config(tmp_path):
    cfg = {"out": str(tmp_path / "out"), "epochs": 2, "batch_size": 64,
           "hidden": 8, "layers": 2, "seeds": [0, 1, 2, 3],
           "datasets": ["MUTAG"],
           "objectives": {"infograph": {"beta": 0, "tau_plus": 0},
                          "paper-b1": {"beta": 1, "tau_plus": 0.5}}}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def snapshot(out: Path) -> dict:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(),
                     p.stat().st_mtime_ns) for p in out.rglob("*.json")}


def test_kill_mid_grid_and_restart(data_root, tmp_path):
    cfg = grid_config(tmp_path)
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "paper_table.py"),
           "--config", str(cfg), "--device", "cpu", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(out.rglob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = snapshot(out)
    assert 3 <= len(before) < 8, "kill the grid while it is running"
    for name in before:  # every finished file is complete JSON
        json.loads(next(out.rglob(name)).read_text())["accuracy_mean"]

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(before)} finished (skipped), {8 - len(before)} to do" \
        in done.stdout
    after = snapshot(out)
    assert len(after) == 8
    for name, stamp in before.items():  # finished runs were not redone
        assert after[name] == stamp
    assert not list(out.rglob("*.tmp"))

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert "8 finished (skipped), 0 to do" in again.stdout

    # The report turns the finished grid into a table, a CSV and a plot.
    rep = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"),
                          "--out", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert rep.returncode == 0, rep.stderr
    table = (out / "RESULTS.md").read_text()
    row = next(ln for ln in table.splitlines() if ln.startswith("| MUTAG"))
    assert row.count("(n=4)") == 2 and row.count("**") == 2
    assert "89.01 ± 1.13" in row  # the published InfoGraph figure
    csv_rows = (out / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 3 and csv_rows[1].startswith("MUTAG,")
    assert (out / "accuracy_vs_beta.png").stat().st_size > 10_000


def test_atomic_files_have_normal_permissions(tmp_path):
    from hngraph.results import atomic_write_json
    path = atomic_write_json(tmp_path / "r.json", {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_best_beta_compares_columns_on_the_same_datasets(tmp_path):
    """``paper-best`` for the large datasets: a column run on an easy
    dataset only, or with other epochs, is not picked over complete ones."""
    from paper_table import best_beta
    grid = {"datasets": ["EASY", "HARD"], "objectives": {
        "paper-b1": {"beta": 1, "tau_plus": 0.5},
        "paper-b2": {"beta": 2, "tau_plus": 0.5, "reweight": "paper"},
        "paper-b1-tau0.1": {"beta": 1, "tau_plus": 0.1},
        "paper-b1-20ep": {"beta": 1, "tau_plus": 0.5, "epochs": 20},
        "reference-b1": {"beta": 1, "tau_plus": 0.5, "reweight": "reference"},
        "infograph": {"beta": 0, "tau_plus": 0}}}
    accs = {("EASY", "paper-b1"): 0.9, ("HARD", "paper-b1"): 0.5,
            ("EASY", "paper-b2"): 0.8, ("HARD", "paper-b2"): 0.55,
            ("EASY", "paper-b1-tau0.1"): 0.95,
            ("EASY", "paper-b1-20ep"): 0.99, ("HARD", "paper-b1-20ep"): 0.99,
            ("EASY", "reference-b1"): 0.1, ("HARD", "reference-b1"): 0.1,
            ("EASY", "infograph"): 1.0, ("HARD", "infograph"): 1.0}
    for (d, name), acc in accs.items():
        (tmp_path / d).mkdir(exist_ok=True)
        (tmp_path / d / f"{name}_seed0.json").write_text(
            json.dumps({"accuracy_mean": acc}))
    assert best_beta(tmp_path, grid, "paper") == "paper-b1"
    assert best_beta(tmp_path, grid, "reference") == "reference-b1"


def test_epoch_selection_reports_each_seeds_best_epoch(tmp_path):
    """The diagnostic of RESULTS.md: per-epoch mean ± std over seeds, and the
    mean of each seed's best epoch, worked out by hand for two seeds."""
    from report import epoch_selection
    for seed, (a10, a200) in enumerate([(0.80, 0.90), (0.70, 0.60)]):
        (tmp_path / f"MUTAG_infograph_beta0_tau0_seed{seed}.json").write_text(
            json.dumps({"config": {"dataset": "MUTAG"}, "accuracy_mean": a200,
                        "epoch_evaluated": 200,
                        "eval_history": {"10": {"accuracy_mean": a10}}}))
    lines = epoch_selection(tmp_path)
    row = next(ln for ln in lines if ln.startswith("- MUTAG"))
    # epoch 10: mean 75, population std 5; epoch 200: 75 and 15; the best
    # epochs are 200 (90) and 10 (70): mean 80, std 10; 80 - 89.01 = -9.01.
    assert row == ("- MUTAG (n=2): epoch 10 75.00 ± 5.00, epoch 200 75.00 ± "
                   "15.00; each seed's best epoch 80.00 ± 10.00 (-9.01 against"
                   " the published 89.01)")
    assert epoch_selection(tmp_path / "none") == []


def test_questions_keep_feature_and_epoch_variants_out_of_question_1():
    """An InfoGraph variant (other node features) is a baseline for
    question 2, never a hard-negative cell of question 1, even when it is the
    best cell of the row."""
    from report import questions

    def cell(mean, std, beta, tau_plus, features="auto"):
        return {"mean": mean, "std": std, "n": 3, "beta": beta,
                "tau_plus": tau_plus, "epochs": 200, "features": features}
    table = {"REDDIT-BINARY": {
        "infograph": cell(78.0, 1.0, 0, 0),
        "infograph-constant": cell(83.0, 0.5, 0, 0, "constant"),
        "paper-b2": cell(79.5, 0.4, 2, 0.5),
        "reference-b10-constant": cell(90.0, 0.1, 10, 0.5, "constant")}}
    text = "\n".join(questions(table))
    assert "best hard cell paper-b2 +1.50 points (beats the std" in text
    assert "beats InfoGraph on 1 of 1 paper datasets" in text
    assert "REDDIT-BINARY (infograph): -4.50 points (outside 1.5)" in text
    assert "REDDIT-BINARY (infograph-constant): +0.50 points (within 1.5)" \
        in text


def test_resume_under_other_settings_is_an_error(data_root, tmp_path):
    ds = load_tudataset("MUTAG")
    ckpt = tmp_path / "train.pt"
    fit(small_model(ds), ds, epochs=2, batch_size=64, seed=3, device="cpu",
        progress=False, checkpoint=ckpt)
    with pytest.raises(ValueError, match=r"lr: 0\.001 there, 0\.01 now"):
        fit(small_model(ds), ds, epochs=4, batch_size=64, lr=0.01, seed=3,
            device="cpu", progress=False, checkpoint=ckpt)
    wider = InfoGraph(ds.num_features, hidden=16, layers=2)
    with pytest.raises(ValueError, match="'hidden': 16"):
        fit(wider, ds, epochs=4, batch_size=64, seed=3, device="cpu",
            progress=False, checkpoint=ckpt)
    # --restart: trains all epochs with the new settings, and replaces it.
    h = fit(small_model(ds), ds, epochs=3, batch_size=64, lr=0.01, seed=3,
            device="cpu", progress=False, checkpoint=ckpt, restart=True)
    assert len(h["loss"]) == 3
    assert torch.load(ckpt, weights_only=False)["settings"]["lr"] == 0.01


# ------------------------------------------------ errors that say what to do

def test_api_edges_name_their_argument(tmp_path):
    from hngraph.embedding import read_graphs
    from hngraph.losses import hard_infonce, jsd_local_global
    from hngraph.models import load_model
    with pytest.raises(TypeError, match="node_emb must be a torch.Tensor"):
        jsd_local_global(np.ones((3, 2)), torch.ones(2, 2),
                         torch.tensor([0, 1, 1]))
    with pytest.raises(TypeError, match="z2 must be a torch.Tensor"):
        hard_infonce(torch.ones(2, 2), np.ones((2, 2)))
    (tmp_path / "r.json").write_text('{"accuracy_mean": 0.9}')
    with pytest.raises(ValueError, match="r.json cannot be read as an "
                       "hngraph model"):
        load_model(tmp_path / "r.json")
    (tmp_path / "g.pkl").write_text("not a pickle")
    with pytest.raises(ValueError, match="g.pkl is not a pickle of graphs"):
        read_graphs(tmp_path / "g.pkl")
    folder = tmp_path / "graphs"
    folder.mkdir()
    (folder / "a.graphml").write_text("<graphml><broken")
    with pytest.raises(ValueError, match="a.graphml cannot be read"):
        read_graphs(folder)


def test_truncated_training_checkpoint(data_root, tmp_path):
    ds = load_tudataset("MUTAG")
    ckpt = tmp_path / "train.pt"
    fit(small_model(ds), ds, epochs=1, batch_size=64, device="cpu",
        progress=False, checkpoint=ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(ValueError, match="train.pt cannot be read as a "
                       "training checkpoint.*restart"):
        fit(small_model(ds), ds, epochs=2, batch_size=64, device="cpu",
            progress=False, checkpoint=ckpt)


def test_networkx_attributes_that_are_not_numbers():
    import networkx as nx

    from hngraph.embedding import as_data_list
    recipe = {"kind": "labels", "dim": 2}
    g = nx.path_graph(3)
    for v in g.nodes:
        g.nodes[v]["x"] = "red"
    with pytest.raises(ValueError, match="graph 0: the node attributes"):
        as_data_list([g], recipe)
    ragged = nx.path_graph(3)
    for v in ragged.nodes:
        ragged.nodes[v]["x"] = [1.0] * (v + 1)
    with pytest.raises(ValueError, match="lists of numbers of one length"):
        as_data_list([ragged], recipe)


def test_unreadable_raw_file_is_named(data_root, tmp_path, monkeypatch):
    import pandas as pd
    raw = tmp_path / "data" / "MUTAG" / "raw"
    shutil.copytree(data_root / "MUTAG" / "raw", raw)
    read_csv = pd.read_csv

    def refuse(path, *args, **kwargs):  # as chmod 0 does for a non-root user
        if str(path).endswith("MUTAG_A.txt"):
            raise PermissionError(13, "Permission denied")
        return read_csv(path, *args, **kwargs)
    monkeypatch.setattr(pd, "read_csv", refuse)
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
