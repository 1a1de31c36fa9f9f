"""The committed results stay reproducible: two epochs on MUTAG, from seed 0
on one thread, give the loss history and the weights (bit for bit) that
hngraph gave at the commit the verdict grids ran from (``f3e4625``),
recorded in ``tests/data/golden_losses.json`` for InfoGraph, hard negatives
(both formulas) and the two-view objective."""
import hashlib
import json
from pathlib import Path

import pytest
import torch

from hngraph.config import TrainConfig
from hngraph.runs.experiment import train

GOLDEN = json.loads((Path(__file__).parent / "data" /
                     "golden_losses.json").read_text())


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_two_epochs_on_mutag_equal_the_verdicts_commit(name, data_root,
                                                       one_thread):
    want = GOLDEN[name]
    config = TrainConfig(dataset="MUTAG", epochs=2, seed=0,
                         **{k: want[k] for k in ("objective", "beta",
                                                 "tau_plus", "reweight")})
    _, model, history = train(config, progress=False)
    assert [x.hex() for x in history["loss"]] == want["loss_history"]
    digest = hashlib.sha256()
    state = model.state_dict()
    for key in sorted(state):
        digest.update(state[key].numpy().tobytes())
    assert digest.hexdigest() == want["weights_sha256"]
