import subprocess
import sys

import numpy as np
import pytest
import torch

from hngraph import InfoGraph, fit, load_tudataset, seed_everything

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


def test_resumed_training_matches_uninterrupted(data_root, tmp_path, small_model):
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


@pytest.mark.slow
def test_same_seed_same_bits_in_two_processes(data_root, tmp_path):
    outs = [subprocess.run([sys.executable, "-c", REPRO], capture_output=True,
                           text=True, cwd=tmp_path, timeout=300)
            for _ in range(2)]
    for out in outs:
        assert out.returncode == 0, out.stderr
    assert outs[0].stdout == outs[1].stdout
    assert len(outs[0].stdout.splitlines()) == 2


def test_resume_under_other_settings_is_an_error(data_root, tmp_path, small_model):
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


def test_truncated_training_checkpoint(data_root, tmp_path, small_model):
    ds = load_tudataset("MUTAG")
    ckpt = tmp_path / "train.pt"
    fit(small_model(ds), ds, epochs=1, batch_size=64, device="cpu",
        progress=False, checkpoint=ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(ValueError, match="train.pt cannot be read as a "
                       "training checkpoint.*restart"):
        fit(small_model(ds), ds, epochs=2, batch_size=64, device="cpu",
            progress=False, checkpoint=ckpt)


def test_fixed_batch_order_repeats_one_shuffle():
    # "fixed": one permutation drawn from the seed, the same batches every
    # epoch (the published HCL loader); "shuffle": a new order each epoch.
    import torch
    from torch_geometric.data import Data

    from hngraph.train.loop import train_loader
    graphs = [Data(x=torch.full((2, 1), float(i)),
                   edge_index=torch.tensor([[0, 1], [1, 0]]))
              for i in range(10)]

    def epoch(loader):
        return [b.x[::2, 0].long().tolist() for b in loader]
    fixed = train_loader(graphs, 4, seed=3, batch_order="fixed")
    first = epoch(fixed)
    expected = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    assert sum(first, []) == expected.tolist()
    assert epoch(fixed) == first == epoch(train_loader(
        graphs, 4, seed=3, device="cpu", batch_order="fixed"))
    shuffled = train_loader(graphs, 4, seed=3)
    assert epoch(shuffled) != epoch(shuffled)


def test_an_evaluation_epoch_training_never_reaches_is_an_error(data_root):
    from hngraph.config import TrainConfig
    ds = load_tudataset("MUTAG")
    with pytest.raises(ValueError, match=r"fit: eval_epochs lists \[5\], "
                       "outside the epochs 1 to 2"):
        fit(InfoGraph(ds.num_features), ds, epochs=2, eval_epochs=[5],
            progress=False)
    with pytest.raises(ValueError, match=r"config key 'eval_epochs' lists "
                       r"\[300\]"):
        TrainConfig(epochs=200, eval_epochs=[300, 10])


def test_callbacks_default_shorthands_bit_for_bit(data_root, tmp_path):
    # fit's arguments are shorthands for its default callbacks: the same
    # run, bit for bit, either way.
    from hngraph.train.loop import Checkpoint, EvaluateAt

    ds = load_tudataset("MUTAG")
    runs = []
    for how in ("shorthand", "callbacks"):
        seed_everything(0)
        model = InfoGraph(ds.num_features, hidden=8, layers=2)
        path = tmp_path / f"{how}.pt"
        if how == "shorthand":
            h = fit(model, ds, epochs=3, eval_epochs=[3], folds=3,
                    checkpoint=path, progress=False)
        else:
            h = fit(model, ds, epochs=3, progress=False,
                    callbacks=[EvaluateAt([3], folds=3), Checkpoint(path)])
        runs.append((h, model.state_dict(), torch.load(path,
                                                       weights_only=False)))
    (h1, w1, c1), (h2, w2, c2) = runs
    assert h1["loss"] == h2["loss"] and h1["eval"] == h2["eval"]
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert c1["epoch"] == c2["epoch"] == 3 and c1["history"]["loss"] == \
        h1["loss"]


class _Scripted(torch.nn.Module):
    """A model whose epoch losses follow ``script`` (one batch per epoch):
    the early-stopping rule checked against losses chosen by hand."""

    def __init__(self, script):
        super().__init__()
        self.w, self.script, self.calls = torch.nn.Parameter(
            torch.zeros(1)), list(script), 0

    def loss(self, batch):
        self.calls += 1
        return self.w.sum() * 0 + self.script[self.calls - 1]


@pytest.mark.parametrize("script,patience,min_delta,stopped", [
    ([5, 4, 4, 4, 4, 4], 2, 0.0, 4),      # no fall below 4 for 2 epochs
    ([5, 4, 3, 2, 1, 0], 2, 0.0, None),   # falls every epoch
    ([5, 4, 3.75, 3.5, 3.25, 3], 2, 0.5, 4),  # falls, by no more than 0.5
    ([5, 5, 4, 4, 3, 3], 2, 0.0, None),   # falls within every 2 epochs
])
def test_early_stopping_on_a_loss_plateau(data_root, script, patience,
                                          min_delta, stopped):
    from hngraph.train.loop import EarlyStopping

    ds = load_tudataset("MUTAG")
    graphs = [ds[i] for i in range(4)]
    h = fit(_Scripted(script), graphs, epochs=6, batch_size=4,
            progress=False,
            callbacks=[EarlyStopping(patience=patience, min_delta=min_delta)])
    assert h.get("stopped_at") == stopped
    assert h["loss"] == script[:stopped or 6]


def test_a_run_resumed_after_an_early_stop_does_not_keep_it(data_root,
                                                            tmp_path):
    from hngraph.train.loop import Checkpoint, EarlyStopping

    ds = load_tudataset("MUTAG")
    graphs = [ds[i] for i in range(4)]
    ckpt = tmp_path / "c.pt"
    first = fit(_Scripted([5, 4, 4, 4, 4, 4]), graphs, epochs=6,
                batch_size=4, progress=False,
                callbacks=[EarlyStopping(patience=2), Checkpoint(ckpt)])
    assert first["stopped_at"] == 4
    again = fit(_Scripted([3, 2]), graphs, epochs=6, batch_size=4,
                progress=False, callbacks=[Checkpoint(ckpt)])
    assert again["resumed_at"] == [4] and "stopped_at" not in again
    assert again["loss"] == [5, 4, 4, 4, 3, 2]


def test_a_rerun_with_early_stopping_does_not_move_the_model_on(data_root,
                                                               tmp_path):
    from hngraph.train.loop import Checkpoint, EarlyStopping

    ds = load_tudataset("MUTAG")
    graphs = [ds[i] for i in range(4)]
    ckpt = tmp_path / "c.pt"
    fit(_Scripted([5, 4, 4, 4]), graphs, epochs=6, batch_size=4,
        progress=False, callbacks=[EarlyStopping(patience=2), Checkpoint(ckpt)])
    saved = torch.load(ckpt, weights_only=False)
    model = _Scripted([1, 1])
    again = fit(model, graphs, epochs=6, batch_size=4, progress=False,
                callbacks=[EarlyStopping(patience=2), Checkpoint(ckpt)])
    assert model.calls == 0  # not one step more
    assert again["stopped_at"] == 4 and again["loss"] == [5, 4, 4, 4]
    assert torch.equal(model.w, saved["model"]["w"])


def test_a_checkpoint_of_other_graphs_or_more_epochs_is_refused(
        data_root, tmp_path, small_model):
    from hngraph.data.batching import DeviceGraphs, fingerprint

    ds = load_tudataset("MUTAG")
    ckpt = tmp_path / "train.pt"
    fit(small_model(ds), ds[:100], epochs=3, batch_size=64, seed=3,
        device="cpu", progress=False, checkpoint=ckpt)
    with pytest.raises(ValueError, match="graphs: '[0-9a-f]{64}' there"):
        fit(small_model(ds), ds[100:], epochs=4, batch_size=64, seed=3,
            device="cpu", progress=False, checkpoint=ckpt)
    with pytest.raises(ValueError, match="holds 3 epochs .* more than the 2 "
                       "asked for"):
        fit(small_model(ds), ds[:100], epochs=2, batch_size=64, seed=3,
            device="cpu", progress=False, checkpoint=ckpt)
    # the same graphs, whichever way they are held, have one fingerprint;
    # one changed feature gives another
    graphs = [ds[i] for i in range(100)]
    assert fingerprint(graphs) == DeviceGraphs(graphs).fingerprint()
    graphs[7].x = graphs[7].x.clone()
    graphs[7].x[0, 0] += 1
    assert fingerprint(graphs) != DeviceGraphs(ds[:100]).fingerprint()


def test_csv_and_tensorboard_logs_and_a_hook_of_ones_own(data_root,
                                                         tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    from hngraph.train.loop import (
        Callback,
        CSVLogger,
        EvaluateAt,
        TensorBoardLogger,
    )

    class Epochs(Callback):
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, state):
            self.seen.append((state.epoch, state.history["loss"][-1]))

    ds = load_tudataset("MUTAG")
    mine = Epochs()
    seed_everything(0)
    h = fit(InfoGraph(ds.num_features, hidden=8, layers=2), ds, epochs=3,
            progress=False, callbacks=[
                EvaluateAt([2], folds=3), CSVLogger(tmp_path / "log.csv"),
                TensorBoardLogger(tmp_path / "tb"), mine])
    assert mine.seen == list(zip([1, 2, 3], h["loss"], strict=True))
    rows = [line.split(",") for line in
            (tmp_path / "log.csv").read_text().splitlines()]
    assert rows[0] == ["epoch", "loss", "train_time", "accuracy"]
    assert [float(r[1]) for r in rows[1:]] == h["loss"]
    assert [r[3] for r in rows[1:]] == [
        "", str(h["eval"][2]["accuracy_mean"]), ""]
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    logged = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert [s for s, _ in logged] == [1, 2, 3]
    assert np.allclose([v for _, v in logged], h["loss"])
    assert events.Scalars("eval/accuracy")[0].step == 2


def test_a_resumed_csv_log_replaces_the_rows_after_its_checkpoint(tmp_path):
    """Killed after epoch 3 with a checkpoint at epoch 2, then resumed to 5:
    the log has each epoch once, with the losses of an uninterrupted run."""
    from hngraph.train.loop import Callback, Checkpoint, CSVLogger

    class KillAfter3(Callback):
        def on_epoch_end(self, state):
            if state.epoch == 3:
                raise KeyboardInterrupt

    from torch_geometric.data import Data
    gen = torch.Generator().manual_seed(0)
    graphs = [Data(x=torch.randn(4, 3, generator=gen),
                   edge_index=torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]))
              for _ in range(8)]

    def run(log, *extra, epochs=5):
        seed_everything(0)
        return fit(InfoGraph(3, hidden=4, layers=1), graphs, epochs=epochs,
                   batch_size=4, progress=False,
                   callbacks=[CSVLogger(log), *extra])

    whole = run(tmp_path / "whole.csv")["loss"]
    ckpt = tmp_path / "state.pt"
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "log.csv", Checkpoint(ckpt, every=2), KillAfter3())
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 1 + 3
    run(tmp_path / "log.csv", Checkpoint(ckpt, every=2))
    rows = [r.split(",") for r in
            (tmp_path / "log.csv").read_text().splitlines()[1:]]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
    assert [float(r[1]) for r in rows] == whole


def test_a_killed_run_keeps_the_tensorboard_scalars_of_its_epochs(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )
    from torch_geometric.data import Data

    from hngraph.train.loop import Callback, TensorBoardLogger

    class KillAfter2(Callback):
        def on_epoch_end(self, state):
            if state.epoch == 2:
                raise KeyboardInterrupt

    graphs = [Data(x=torch.ones(3, 2), edge_index=torch.tensor([[0, 1],
                                                                [1, 2]]))] * 4
    with pytest.raises(KeyboardInterrupt):
        fit(InfoGraph(2, hidden=4, layers=1), graphs, epochs=5, batch_size=2,
            progress=False,
            callbacks=[TensorBoardLogger(tmp_path), KillAfter2()])
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2]


def test_a_callbacks_state_is_saved_with_the_checkpoint_and_errors_reach_it(
        data_root, tmp_path):
    from hngraph.train.loop import Callback, Checkpoint

    class Counter(Callback):
        """Counts the epochs it saw, across resumes; notes an error."""

        def __init__(self):
            self.seen, self.error = 0, None

        def on_epoch_end(self, state):
            self.seen += 1

        def on_exception(self, state, error):
            self.error = error

        def state_dict(self):
            return {"seen": self.seen}

        def load_state_dict(self, state):
            self.seen = state["seen"]

    ds = load_tudataset("MUTAG")
    graphs = [ds[i] for i in range(4)]
    ckpt = tmp_path / "c.pt"
    first = Counter()
    fit(_Scripted([5, 4]), graphs, epochs=2, batch_size=4, progress=False,
        callbacks=[first, Checkpoint(ckpt)])
    again = Counter()
    fit(_Scripted([3, 2, 1]), graphs, epochs=5, batch_size=4,
        progress=False, callbacks=[again, Checkpoint(ckpt)])
    assert (first.seen, again.seen) == (2, 5)  # 2 restored, 3 more

    class Broken(_Scripted):
        def loss(self, batch):
            raise RuntimeError("broken loss")

    noted = Counter()
    with pytest.raises(RuntimeError, match="broken loss"):
        fit(Broken([1]), graphs, epochs=2, batch_size=4, progress=False,
            callbacks=[noted])
    assert isinstance(noted.error, RuntimeError) and noted.seen == 0
