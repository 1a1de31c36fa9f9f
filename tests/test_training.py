import subprocess
import sys

import pytest
import torch

from hngraph import InfoGraph, fit, load_tudataset

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

    from hngraph.training import train_loader
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
