import math
import re

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from hngraph import GraphCL, InfoGraph, fit, load_tudataset, seed_everything
from hngraph.train.loop import make_optimizer, train_step


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


def test_pyg_encoders_train_evaluate_embed_and_load(data_root, tmp_path):
    # Any encoder of the documented form: PyG's GCN and GAT through fit (with
    # the SVM evaluation), embed (model and bare encoder) and save/load.
    from torch_geometric.nn import global_add_pool
    from torch_geometric.nn.models import GAT, GCN

    from hngraph import embed

    ds = load_tudataset("MUTAG", root=data_root)[:60]
    seed_everything(0)
    gcn = GCN(ds.num_features, 16, num_layers=2)
    before = {k: v.clone() for k, v in gcn.state_dict().items()}
    model = InfoGraph(gcn)
    assert all(torch.equal(before[k], v)  # construction leaves it as given
               for k, v in gcn.state_dict().items())
    history = fit(model, ds, epochs=2, batch_size=32, eval_epochs=[2],
                  folds=3, progress=False)
    assert len(history["loss"]) == 2 and math.isfinite(history["loss"][-1])
    assert 0 <= history["eval"][2]["accuracy_mean"] <= 1
    model.feature_recipe = ds.feature_recipe
    graphs = [ds[i] for i in range(len(ds))]
    gcn.eval()
    with torch.no_grad():  # the sum pool of the encoder's node embeddings
        by_hand = torch.stack([global_add_pool(gcn(g.x, g.edge_index),
                                               None)[0] for g in graphs])
    assert np.allclose(embed(model, graphs), by_hand.numpy(), atol=1e-5)
    assert np.allclose(embed(gcn, graphs), by_hand.numpy(), atol=1e-5)
    model.save(tmp_path / "gcn.pt")
    with pytest.raises(ValueError, match="pass encoder=, a new GCN"):
        InfoGraph.load(tmp_path / "gcn.pt")
    loaded = InfoGraph.load(tmp_path / "gcn.pt",
                            encoder=GCN(ds.num_features, 16, num_layers=2))
    assert np.allclose(embed(loaded, graphs), by_hand.numpy(), atol=1e-5)
    gat = GAT(ds.num_features, 8, num_layers=2, out_channels=12)
    two_view = GraphCL(gat, aug_ratio=0.1)
    history = fit(two_view, ds, epochs=1, batch_size=32, progress=False)
    assert math.isfinite(history["loss"][0])
    assert embed(gat, graphs).shape == (60, 12)


def test_an_encoder_module_refuses_the_default_gins_shape():
    from torch_geometric.nn.models import GCN

    with pytest.raises(ValueError, match="hidden and layers shape the "
                       "default GIN encoder"):
        InfoGraph(GCN(3, 8, 2), hidden=64)
    with pytest.raises(ValueError, match="names no embedding width"):
        InfoGraph(torch.nn.Identity())


def test_a_pooled_encoder_saves_and_loads_and_an_unknown_class_is_refused(
        tmp_path):
    from torch_geometric.nn.models import GCN

    from hngraph.nn.models import CHECKPOINT_FORMAT, Pooled, load_model
    torch.manual_seed(0)
    x, edges = torch.randn(5, 3), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    pooled = Pooled(GCN(3, 8, num_layers=2)).eval()
    pooled.save(tmp_path / "p.pt")
    loaded = load_model(tmp_path / "p.pt", encoder=GCN(3, 8, num_layers=2))
    assert torch.equal(loaded(x, edges), pooled(x, edges))
    torch.save({"format": CHECKPOINT_FORMAT, "class": "Future"},
               tmp_path / "f.pt")
    with pytest.raises(ValueError, match="class 'Future', which this version"):
        load_model(tmp_path / "f.pt")


def test_a_model_file_with_nan_weights_is_refused(tmp_path):
    from hngraph.errors import InvalidValueError
    from hngraph.nn.models import load_model
    model = InfoGraph(3, hidden=4, layers=1)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    model.save(tmp_path / "m.pt")
    with pytest.raises(InvalidValueError, match=r"m\.pt holds weights that "
                       r"are not finite \(NaN or inf\) in \['encoder\."):
        load_model(tmp_path / "m.pt")


def test_an_encoder_that_breaks_its_contract_is_named_on_its_first_output():
    from torch_geometric.nn.models import GCN

    x, edges = torch.randn(5, 3), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])

    class Pair(GCN):  # returns (embeddings, something)
        def forward(self, x, edge_index):
            return super().forward(x, edge_index), None

    class Narrow(GCN):  # says 8 wide, returns 4 columns
        def forward(self, x, edge_index):
            return super().forward(x, edge_index)[:, :4]

    class Integers(GCN):
        def forward(self, x, edge_index):
            return super().forward(x, edge_index).long()

    for encoder, got in ((Pair(3, 8, num_layers=2), "returned a tuple"),
                         (Narrow(3, 8, num_layers=2), "returned a "
                          "torch.float32 tensor of shape [5, 4]"),
                         (Integers(3, 8, num_layers=2), "returned a "
                          "torch.int64 tensor of shape [5, 8]")):
        model, name = InfoGraph(encoder), type(encoder).__name__
        with pytest.raises(ValueError, match=rf"encoder {name} {re.escape(got)} for a "
                           r"batch of 5 nodes; an encoder must return .* "
                           r"\[5, 8\]"):
            model(x, edges)
    good = InfoGraph(GCN(3, 8, num_layers=2))
    assert good(x, edges).shape == (1, 8) and good._checked


def test_modules_print_their_settings_and_heads_reset():
    from hngraph.nn.losses import HardInfoNCELoss, JSDLocalGlobalLoss
    from hngraph.nn.models import GraphCL, PriorDiscriminator, ProjectionHead

    assert repr(JSDLocalGlobalLoss(beta=2.0, tau_plus=0.1)) == (
        "JSDLocalGlobalLoss(\n  chunk_size=None\n  (weighting): "
        "HardNegatives(beta=2, tau_plus=0.1)\n)")
    assert repr(HardInfoNCELoss(beta=1.0, reweight="hcl-code")) == (
        "HardInfoNCELoss(\n  temperature=0.5\n  (weighting): "
        "HCLCodeNegatives(beta=1, tau_plus=0.1)\n)")
    assert "beta=1, tau_plus=0.5" in repr(InfoGraph(3))
    assert "temperature=0.5" in repr(GraphCL(3))
    for head in (ProjectionHead(4), PriorDiscriminator(4)):
        assert repr(head).startswith(f"{type(head).__name__}(\n  dim=4")
        before = [p.clone() for p in head.parameters()]
        head.reset_parameters()
        assert all(not torch.equal(a, b)
                   for a, b in zip(before, head.parameters(), strict=True)
                   if a.dim() == 2)
    with pytest.raises(ValueError, match="reset_parameters: init must be "
                       "one of"):
        InfoGraph(3).reset_parameters("Xavier")


def test_a_loss_passed_in_is_the_models_loss(cycle, tmp_path):
    """InfoGraph(encoder, loss=L) trains by L: with L the default loss of
    the same settings, the loss equals the model's own, bit for bit; a loss
    of another weighting gives another value. The model file names the
    loss, and loads (with the default loss standing in) to the same
    embeddings."""
    from torch_geometric.data import Batch
    from torch_geometric.loader import DataLoader

    from hngraph.nn.losses import JSDLocalGlobalLoss
    from hngraph.nn.weighting import SemiHardNegatives

    batch = Batch.from_data_list([cycle(n) for n in (8, 10, 12, 9)])
    seed_everything(3)
    own = InfoGraph(4, hidden=8, layers=2, beta=2.0, tau_plus=0.1)
    seed_everything(3)
    passed = InfoGraph(4, hidden=8, layers=2, loss=JSDLocalGlobalLoss(
        beta=2.0, tau_plus=0.1))
    assert torch.equal(own.loss(batch), passed.loss(batch))
    seed_everything(3)
    band = InfoGraph(4, hidden=8, layers=2, loss=JSDLocalGlobalLoss(
        weighting=SemiHardNegatives(low=0.0, high=0.5)))
    assert not torch.equal(own.loss(batch), band.loss(batch))
    assert band.config["loss"] == "hngraph.nn.losses:JSDLocalGlobalLoss"
    assert "beta" not in band.config
    band.save(tmp_path / "band.pt")
    loaded = InfoGraph.load(tmp_path / "band.pt")
    loader = DataLoader([cycle(n) for n in (8, 10)], batch_size=2)
    assert np.array_equal(band.embed(loader)[0], loaded.embed(loader)[0])


def test_a_loss_passed_in_refuses_the_default_losss_settings():
    from hngraph.nn.losses import HardInfoNCELoss
    with pytest.raises(ValueError, match="leave beta out"):
        GraphCL(4, beta=2.0, loss=HardInfoNCELoss())
    with pytest.raises(TypeError, match="loss must be a torch module"):
        InfoGraph(4, loss="jsd")
    with pytest.raises(TypeError):
        InfoGraph(4, loss=16)             # the settings are keyword-only
