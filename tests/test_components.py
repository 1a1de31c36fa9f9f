"""Components of one's own named in a run's config by import path: an
encoder (the ``encoder`` setting) and a whole model (the ``objective``
setting) train from ``hngraph train`` and the API, are recorded with their
file's hash, and come back from the model file."""
import hashlib
import json

import numpy as np
import pytest
import torch

from hngraph.config import TrainConfig
from hngraph.errors import InvalidValueError
from hngraph.nn.models import load_model
from hngraph.runs.experiment import run_stem, train_stage

PARTS = '''
import torch
from torch_geometric.nn.models import GCN

from hngraph.nn.losses import JSDLocalGlobalLoss
from hngraph.nn.models import InfoGraph


class GCNEncoder(GCN):
    """PyG's GCN, built as hngraph builds an encoder."""

    def __init__(self, in_channels, *, hidden=32, layers=3):
        super().__init__(in_channels, hidden, layers)


class Fixed(torch.nn.Module):
    """An encoder with no hidden or layers to set."""

    out_channels = 4

    def __init__(self, in_channels):
        super().__init__()
        self.lin = torch.nn.Linear(in_channels, 4)

    def forward(self, x, edge_index):
        return self.lin(x)


class Broken(torch.nn.Module):
    def __init__(self, in_channels, *, hidden=32, layers=3):
        raise RuntimeError("no weights for you")


class SameAsInfoGraph(InfoGraph):
    """InfoGraph, under another name."""


class OwnLoss(InfoGraph):
    """InfoGraph on a loss of its own choosing (here, InfoGraph's)."""

    def __init__(self, encoder, *, hidden=32, layers=3):
        super().__init__(encoder, hidden=hidden, layers=layers,
                         loss=JSDLocalGlobalLoss(beta=0.0, tau_plus=0.0))


class NotAModel(torch.nn.Module):
    def __init__(self, encoder):
        super().__init__()
'''


@pytest.fixture
def parts(tmp_path, monkeypatch):
    """The module of components above, importable from the current folder
    under a name of this test's own."""
    name = f"parts_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(PARTS)
    monkeypatch.chdir(tmp_path)
    return name


def _config(tmp_path, **settings):
    return TrainConfig(dataset="MUTAG", epochs=1, folds=2, seed=0,
                       out=str(tmp_path / "out"), **settings)


def test_an_encoder_of_ones_own_trains_and_comes_back(data_root, tmp_path,
                                                      parts):
    config = _config(tmp_path, encoder=f"{parts}:GCNEncoder", hidden=16,
                     layers=2)
    trained, model = train_stage(config, progress=False)
    encoder = model.encoder
    assert type(encoder).__name__ == "GCNEncoder"
    assert (encoder.in_channels, encoder.hidden_channels,
            encoder.num_layers) == (7, 16, 2)  # MUTAG's 7 labels, the config
    assert trained.embeddings.shape == (188, 16)
    model.save(tmp_path / "m.pt")
    again = load_model(tmp_path / "m.pt")  # rebuilt from what the file says
    assert type(again.encoder) is type(encoder)
    for name, weight in encoder.state_dict().items():
        assert torch.equal(again.encoder.state_dict()[name], weight), name
    from hngraph.eval.embedding import embed
    from hngraph.runs.experiment import load_dataset
    graphs = list(load_dataset(config))
    assert np.allclose(embed(again, graphs), trained.embeddings, atol=1e-5)


def test_the_command_line_records_the_encoders_file(data_root, tmp_path,
                                                    parts, run_cli):
    done = run_cli("train", "--dataset", "MUTAG", "--epochs", "1",
                   "--folds", "2", "--encoder", f"{parts}:GCNEncoder",
                   "--out", tmp_path / "out", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [path] = (tmp_path / "out").glob("MUTAG_*.json")
    result = json.loads(path.read_text())
    assert result["config"]["encoder"] == f"{parts}:GCNEncoder"
    digest = hashlib.sha256((tmp_path / f"{parts}.py").read_bytes())
    assert result["plugins"]["encoder"]["sha256"] == digest.hexdigest()
    assert "objective" not in result["plugins"]


def test_a_model_of_ones_own_is_an_objective(data_root, tmp_path, parts):
    """A subclass of InfoGraph that changes nothing trains exactly as
    InfoGraph does, under its own name."""
    own = _config(tmp_path, objective=f"{parts}:SameAsInfoGraph")
    assert own.tag == "sameasinfograph" and own.tau_plus == 0.5
    trained, model = train_stage(own, progress=False)
    built_in, _ = train_stage(_config(tmp_path / "b"), progress=False)
    assert trained.record["history"]["loss"] == \
        built_in.record["history"]["loss"]
    assert np.array_equal(trained.embeddings, built_in.embeddings)
    model.save(tmp_path / "m.pt")
    assert type(load_model(tmp_path / "m.pt")).__name__ == "SameAsInfoGraph"
    assert set(own.plugins()) == {"objective"}
    ckpt = torch.load(tmp_path / "m.pt", weights_only=True)
    ckpt["class_path"] = f"{parts}:NotAModel"  # the user's code has changed
    torch.save(ckpt, tmp_path / "changed.pt")
    with pytest.raises(InvalidValueError, match=r"changed\.pt: its model "
                       "class .*NotAModel.*does not subclass "
                       "hngraph.nn.models.GraphModel: an objective of your "
                       "own must"):
        load_model(tmp_path / "changed.pt")


def test_a_loss_of_ones_own_comes_in_through_its_model(data_root, tmp_path,
                                                      parts):
    """A model that passes its own loss trains as the built-in model of the
    same loss does, and its record names the loss it was given."""
    own = _config(tmp_path, objective=f"{parts}:OwnLoss")
    assert own.tau_plus == 0.0  # OwnLoss takes no tau_plus
    assert own.replace(seed=1).tau_plus == 0.0  # as a grid makes its runs
    trained, model = train_stage(own, progress=False)
    infograph, _ = train_stage(_config(tmp_path / "b", beta=0, tau_plus=0),
                               progress=False)
    assert trained.record["history"]["loss"] == \
        infograph.record["history"]["loss"]
    assert model.config["loss"] == \
        "hngraph.nn.losses:JSDLocalGlobalLoss"


def test_the_gin_encoder_keeps_every_committed_key():
    config = TrainConfig(dataset="MUTAG", epochs=2, seed=0)
    assert config.encoder == "gin"
    assert run_stem(config) == "MUTAG_hard-paper_beta1_tau0.5_seed0_72e32692"


def test_a_component_that_does_not_fit_is_named(data_root, tmp_path, parts):
    with pytest.raises(InvalidValueError, match="config key 'objective'.*"
                       "NotAModel.*does not subclass "
                       "hngraph.nn.models.GraphModel"):
        _config(tmp_path, objective=f"{parts}:NotAModel")
    with pytest.raises(InvalidValueError, match="config key 'hidden' shapes "
                       "the encoder, but encoder .*Fixed' takes no hidden"):
        _config(tmp_path, encoder=f"{parts}:Fixed", hidden=16)
    _, model = train_stage(_config(tmp_path, encoder=f"{parts}:Fixed"),
                           progress=False)  # the defaults are not "set"
    assert model.encoder.out_channels == 4
    with pytest.raises(InvalidValueError, match=r"config key 'encoder': "
                       rf"{parts}:Broken\(int, hidden=\.\.\., layers=\.\.\.\) "
                       "failed \\(RuntimeError, raised in your code"):
        train_stage(_config(tmp_path, encoder=f"{parts}:Broken"),
                    progress=False)
