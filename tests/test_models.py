import math

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from hngraph import GraphCL, InfoGraph, fit, load_tudataset, seed_everything
from hngraph.training import make_optimizer, train_step


def test_wrong_feature_size_for_checkpoint(tmp_path):
    model = InfoGraph(7, hidden=8, layers=2)
    model.save(tmp_path / "m.pt")
    loaded = InfoGraph.load(tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"expects \[num_nodes, 7\]"):
        loaded(torch.ones(4, 3), torch.zeros(2, 0, dtype=torch.long))


def test_saved_model_embeds_identically(data_root, tmp_path, small_model):
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
    with pytest.raises(ValueError, match="not an hngraph model file"):
        InfoGraph.load(tmp_path / "x.pt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        InfoGraph.load(tmp_path / "missing.pt")


def test_graphcl_loss_trains(cycle):
    # Shared optimisation steps (the step fit takes) on one batch of
    # augmented views lower the loss, and every encoder weight moves.
    from torch_geometric.data import Batch
    seed_everything(0)
    batch = Batch.from_data_list([cycle(n) for n in (8, 10, 12, 9, 11, 7)])
    model = GraphCL(4, hidden=8, layers=2, beta=1.0, tau_plus=0.1,
                    aug1="node_drop", aug2="edge_perturb")
    before = [p.detach().clone() for p in model.encoder.parameters()]
    optimizer = make_optimizer(model, lr=0.01)
    losses = [float(train_step(model.loss, batch, optimizer))
              for _ in range(40)]
    assert all(map(math.isfinite, losses))
    assert sum(losses[-5:]) < sum(losses[:5])
    assert all(not torch.equal(a, p) for a, p in
               zip(before, model.encoder.parameters(), strict=True))



@pytest.mark.parametrize("model", [InfoGraph, GraphCL])
def test_initialisation_xavier_or_default(model):
    """Xavier-uniform draws from +-sqrt(6 / (fan_in + fan_out)) with zero
    biases (the published codes); the default (PyTorch's Kaiming-uniform
    with a = sqrt 5) from +-1 / sqrt(fan_in), biases included."""
    for init in ("xavier", "default"):
        torch.manual_seed(0)
        layers = [m for m in model(7, hidden=32, init=init).modules()
                  if isinstance(m, torch.nn.Linear)]
        assert len(layers) >= 3
        for m in layers:
            fan_out, fan_in = m.weight.shape
            bound = (math.sqrt(6 / (fan_in + fan_out)) if init == "xavier"
                     else 1 / math.sqrt(fan_in))
            top = m.weight.abs().max().item()
            assert 0.9 * bound < top <= bound, (init, m)
            if init == "xavier":
                assert torch.count_nonzero(m.bias) == 0
            else:
                assert 0 < m.bias.abs().max().item() <= bound


def test_model_files_and_checkpoints_take_the_home_folder(data_root,
                                                         tmp_path,
                                                         monkeypatch):
    """`~` is the home folder for every path argument, and an empty path
    is an error naming the argument, not the current folder."""
    from hngraph import load_model
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home").mkdir()
    model = InfoGraph(3, hidden=4, layers=1)
    model.save("~/m.pt")
    assert (tmp_path / "home" / "m.pt").is_file()
    assert load_model("~/m.pt").config == model.config
    with pytest.raises(ValueError, match="the model file is an empty path"):
        model.save("")
    with pytest.raises(ValueError, match="the model file is an empty path"):
        load_model(" ")
    ds = load_tudataset("MUTAG")
    fit(InfoGraph(ds.num_features, hidden=4, layers=1), ds, epochs=1,
        progress=False, checkpoint="~/ck.pt", device="cpu")
    assert (tmp_path / "home" / "ck.pt").is_file()
    assert not (tmp_path / "~").exists()
